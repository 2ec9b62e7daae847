#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Text helpers the standard library lacks. peaks links FoundationEssentials only (not Foundation,
// its ICU data and 1,800 more protocol conformances that every process start-up scans; see
// docs/performance.md, "Session 24"), so the few Foundation string methods it used live here.

extension StringProtocol {
    /// The text without leading and trailing white space: tabs and Unicode space separators
    /// (general category Zs), the set Foundation's `CharacterSet.whitespaces` names. Line breaks
    /// are kept.
    public func trimmingWhitespace() -> String {
        func isSpace(_ u: Unicode.Scalar) -> Bool { u == "\t" || u.properties.generalCategory == .spaceSeparator }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        var trimmed = ""
        trimmed.unicodeScalars.append(contentsOf: scalars[first...last])
        return trimmed
    }
}

extension String {
    /// C's `printf` formatting of numbers (`"%.3f"`, `"%09d"`, `"%.0e"`), as `snprintf` writes it
    /// in the C locale. Only for numeric and `%s`-free formats: arguments are `CVarArg` numbers.
    public init(cFormat format: String, _ arguments: CVarArg...) {
        func render(_ capacity: Int) -> (text: [CChar], needed: Int) {
            var text = [CChar](repeating: 0, count: capacity)
            let needed = text.withUnsafeMutableBufferPointer { out in
                withVaList(arguments) { vsnprintf(out.baseAddress, capacity, format, $0) }
            }
            return (text, Int(needed))
        }
        var (text, needed) = render(64)
        if needed >= 64 { text = render(needed + 1).text }
        self = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
