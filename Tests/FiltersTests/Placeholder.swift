import Testing
@Test func placeholderFilters() { #expect(Bool(true)) }
