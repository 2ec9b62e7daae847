import Testing
@Test func placeholderPeakKit() { #expect(Bool(true)) }
