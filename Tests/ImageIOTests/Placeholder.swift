import Testing
@Test func placeholderImageIO() { #expect(Bool(true)) }
