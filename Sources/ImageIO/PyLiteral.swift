/// A value of the small Python-literal subset used in NPY headers.
enum PyValue: Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyValue])
    case list([PyValue])
    case dict([(String, PyValue)])

    static func == (a: PyValue, b: PyValue) -> Bool { a.repr == b.repr }

    /// Python-like rendering for error messages: `(3, 4)`, `(5,)`, `'<f4'`.
    var repr: String {
        switch self {
        case let .string(s): return "'\(s)'"
        case let .int(n): return String(n)
        case let .bool(b): return b ? "True" : "False"
        case .none: return "None"
        case let .tuple(items):
            return items.count == 1 ? "(\(items[0].repr),)" : "(" + items.map(\.repr).joined(separator: ", ") + ")"
        case let .list(items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case let .dict(pairs): return "{" + pairs.map { "'\($0.0)': \($0.1.repr)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A tolerant recursive-descent parser for the Python literal in an NPY header: a dict with
/// string keys whose values are strings (single or double quotes), integers (an old `L` suffix
/// is accepted), True/False/None, tuples, lists and nested dicts. Whitespace anywhere and
/// trailing commas are accepted; trailing spaces, newlines and NULs after the dict are ignored.
struct PyLiteralParser {
    struct Failure: Error { let message: String }

    let bytes: [UInt8]
    var position: Int
    let end: Int
    var depth = 0

    init(bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    mutating func parseHeaderDict() throws(Failure) -> [String: PyValue] {
        skipSpace()
        guard peek == UInt8(ascii: "{") else { throw failure("expected '{' at the start of the header dict") }
        guard case let .dict(pairs) = try parseValue() else { throw failure("expected a dict") }
        skipSpace()
        while position < end, bytes[position] == 0 { position += 1 } // tolerate NUL padding
        skipSpace()
        guard position >= end else { throw failure("unexpected text after the header dict") }
        var result: [String: PyValue] = [:]
        for (k, v) in pairs { result[k] = v }
        return result
    }

    var peek: UInt8? { position < end ? bytes[position] : nil }

    func failure(_ message: String) -> Failure { Failure(message: message) }

    mutating func skipSpace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ c: Character) throws(Failure) {
        skipSpace()
        guard let p = peek, p == c.asciiValue else {
            throw failure(peek == nil ? "expected '\(c)' but the header ended" : "expected '\(c)'")
        }
        position += 1
    }

    mutating func parseValue() throws(Failure) -> PyValue {
        skipSpace()
        guard let c = peek else { throw failure("unexpected end of header") }
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "("): return .tuple(try parseSequence(close: ")"))
        case UInt8(ascii: "["): return .list(try parseSequence(close: "]"))
        case UInt8(ascii: "{"): return try parseDict()
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try parseInt())
        default:
            let word = parseWord()
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            case "": throw failure("unexpected character '\(String(decoding: [c], as: UTF8.self))'")
            default: throw failure("unexpected word '\(word)'")
            }
        }
    }

    mutating func parseWord() -> String {
        let start = position
        while let c = peek, (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_") {
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func parseString() throws(Failure) -> String {
        guard let quote = peek else { throw failure("expected a string") }
        position += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw failure("unterminated string") }
            position += 1
            if c == quote { break }
            if c == UInt8(ascii: "\\") {
                guard let next = peek else { throw failure("unterminated string") }
                position += 1
                out.append(next)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseInt() throws(Failure) -> Int {
        var negative = false
        if peek == UInt8(ascii: "-") { negative = true; position += 1 } else if peek == UInt8(ascii: "+") { position += 1 }
        var value = 0
        var digits = 0
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw failure("integer too large") }
            value = s
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw failure("expected a digit") }
        if let c = peek, c == UInt8(ascii: "L") || c == UInt8(ascii: "l") { position += 1 }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            throw failure("expected an integer, found a real number")
        }
        return negative ? -value : value
    }

    mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= 32 else { throw failure("nested too deeply") }
    }

    mutating func parseSequence(close: Character) throws(Failure) -> [PyValue] {
        try enter(); defer { depth -= 1 }
        position += 1 // opening bracket
        var items: [PyValue] = []
        while true {
            skipSpace()
            guard let c = peek else { throw failure("expected '\(close)' but the header ended") }
            if c == close.asciiValue { position += 1; return items }
            items.append(try parseValue())
            skipSpace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect(close)
            return items
        }
    }

    mutating func parseDict() throws(Failure) -> PyValue {
        try enter(); defer { depth -= 1 }
        position += 1 // "{"
        var pairs: [(String, PyValue)] = []
        while true {
            skipSpace()
            guard let c = peek else { throw failure("expected '}' but the header ended") }
            if c == UInt8(ascii: "}") { position += 1; return .dict(pairs) }
            guard c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") else { throw failure("expected a quoted key") }
            let key = try parseString()
            do {
                try expect(":")
            } catch {
                throw failure("expected ':' after key '\(key)'")
            }
            pairs.append((key, try parseValue()))
            skipSpace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            do {
                try expect("}")
            } catch {
                throw failure("expected ',' or '}' after the value of '\(key)'")
            }
            return .dict(pairs)
        }
    }
}
