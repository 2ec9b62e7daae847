import Testing
@Test func placeholderRendering() { #expect(Bool(true)) }
