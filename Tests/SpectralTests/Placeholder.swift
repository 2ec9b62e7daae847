import Testing
@Test func placeholderSpectral() { #expect(Bool(true)) }
