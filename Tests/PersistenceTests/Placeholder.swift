import Testing
@Test func placeholderPersistence() { #expect(Bool(true)) }
