#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A parsed JSON document (RFC 8259), for the files peaks reads back: truth files, shard
/// manifests, corpus descriptions. Numbers are `Double`s (every number peaks writes is one, or an
/// integer below 2^53); `true`/`false` stay booleans, never numbers.
public indirect enum JSONValue: Equatable, Sendable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `bytes`; a number, string, `true`, `false` or `null` alone is a document too.
    /// - Throws: the decoder's error when the bytes are not JSON.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Bool before Double: the decoder refuses to read true as a number and 1 as a Bool.
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// The member `key` of an object; nil for a missing key or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    /// The value of a finite number; nil for anything else (booleans included).
    public var number: Double? { if case .number(let d) = self, d.isFinite { return d }; return nil }
    /// The value of a number that is a whole number representable as `Int`.
    public var wholeNumber: Int? { number.flatMap { Int(exactly: $0) } }

    /// The value for messages: a string without quotes, anything else as `canonical`.
    public var displayText: String { string ?? canonical }

    /// One-line JSON with object keys sorted: equal values give equal text.
    public var canonical: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return NumberFormat.json(d)
        case .string(let s): return JSONText.quote(s)
        case .array(let a): return "[" + a.map(\.canonical).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { JSONText.quote($0) + ":" + o[$0]!.canonical }.joined(separator: ",") + "}"
        }
    }
}
