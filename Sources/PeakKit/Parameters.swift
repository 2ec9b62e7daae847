#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The type of a detector parameter.
public enum ParameterKind: Sendable, Equatable {
    case real
    case integer
    case boolean
    case choice([String])
    /// Free text (a file path, ...).
    case text

    /// The type's name in `peaks algorithms --format json`.
    public var name: String {
        switch self {
        case .real: return "real"
        case .integer: return "integer"
        case .boolean: return "boolean"
        case .choice: return "choice"
        case .text: return "text"
        }
    }
}

/// A parameter value as given by a user or a default.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case real(Double)
    case integer(Int)
    case boolean(Bool)
    case string(String)
    /// "Choose for me": the detector derives the value from the image (documented per parameter).
    case auto

    public var description: String {
        switch self {
        case .real(let v): return NumberFormat.string(v)
        case .integer(let v): return String(v)
        case .boolean(let v): return String(v)
        case .string(let s): return s
        case .auto: return "auto"
        }
    }

    public var asValue: Value {
        switch self {
        case .real(let v): return .number(v)
        case .integer(let v): return .integer(v)
        case .boolean(let v): return .bool(v)
        case .string(let s): return .string(s)
        case .auto: return .string("auto")
        }
    }
}

/// The description of one parameter: what it is called, its type, default, allowed range and help.
public struct ParameterSpec: Sendable, Equatable {
    /// snake_case name, used as the JSON key; the CLI flag is the kebab-case form.
    public let name: String
    public let kind: ParameterKind
    public let defaultValue: ParameterValue
    /// Inclusive range for numbers; nil = any finite value.
    public let range: ClosedRange<Double>?
    /// Whether `auto` is accepted (and what it means is said in `help`).
    public let allowsAuto: Bool
    /// The unit of the value ("px", "noise sigmas"; empty when it has none).
    public let unit: String
    public let help: String
    /// For text parameters with a syntax of their own: returns why a value is refused (nil =
    /// accepted). Not part of equality (two specs are equal when they describe the same thing).
    public let textCheck: (@Sendable (String) -> String?)?

    public init(
        name: String, kind: ParameterKind, defaultValue: ParameterValue,
        range: ClosedRange<Double>? = nil, allowsAuto: Bool = false, unit: String = "", help: String,
        textCheck: (@Sendable (String) -> String?)? = nil
    ) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.range = range
        self.allowsAuto = allowsAuto
        self.unit = unit
        self.help = help
        self.textCheck = textCheck
    }

    public static func == (a: ParameterSpec, b: ParameterSpec) -> Bool {
        a.name == b.name && a.kind == b.kind && a.defaultValue == b.defaultValue && a.range == b.range
            && a.allowsAuto == b.allowsAuto && a.unit == b.unit && a.help == b.help
    }

    /// What values are allowed, for messages and listings: `0...1e6`, `bright|dark|both`, ...
    public var allowedText: String {
        var text: String
        switch kind {
        case .real, .integer:
            text = range.map { "\(NumberFormat.string($0.lowerBound))...\(NumberFormat.string($0.upperBound))" } ?? "any finite number"
            if kind == .integer, let r = range { text = "\(Int(r.lowerBound))...\(Int(r.upperBound))" }
        case .boolean: text = "true|false"
        case .choice(let options): text = options.joined(separator: "|")
        case .text: text = "text"
        }
        return allowsAuto ? text + " or auto" : text
    }

    /// The kebab-case command-line spelling of the name.
    public var flag: String { name.replacing("_", with: "-") }

    /// Parses a textual value ("3.5", "auto", "true", a choice) into a checked value.
    public func parse(_ text: String) throws -> ParameterValue {
        let t = text.trimmingWhitespace()
        if allowsAuto && t.lowercased() == "auto" { return .auto }
        switch kind {
        case .real:
            guard let v = Double(t) else { throw PeaksError.invalidParameter(name: name, reason: "'\(text)' is not a number") }
            return try validate(.real(v))
        case .integer:
            guard let v = Int(t) else { throw PeaksError.invalidParameter(name: name, reason: "'\(text)' is not a whole number") }
            return try validate(.integer(v))
        case .boolean:
            switch t.lowercased() {
            case "true", "yes", "1", "on": return .boolean(true)
            case "false", "no", "0", "off": return .boolean(false)
            default: throw PeaksError.invalidParameter(name: name, reason: "'\(text)' is not true or false")
            }
        case .choice(let options):
            guard options.contains(t) else {
                throw PeaksError.invalidParameter(name: name, reason: "'\(text)' is not one of \(options.joined(separator: ", "))")
            }
            return .string(t)
        case .text:
            return try validate(.string(text))
        }
    }

    /// Checks type and range; returns the value (integers given for reals are widened).
    public func validate(_ value: ParameterValue) throws -> ParameterValue {
        func checkRange(_ v: Double) throws {
            guard v.isFinite else { throw PeaksError.invalidParameter(name: name, reason: "must be finite, got \(v)") }
            if let r = range, !r.contains(v) {
                throw PeaksError.invalidParameter(
                    name: name,
                    reason: "\(NumberFormat.string(v)) is outside the allowed range \(NumberFormat.string(r.lowerBound))...\(NumberFormat.string(r.upperBound))")
            }
        }
        switch (kind, value) {
        case (_, .auto):
            guard allowsAuto else { throw PeaksError.invalidParameter(name: name, reason: "'auto' is not accepted") }
            return .auto
        case (.real, .real(let v)): try checkRange(v); return value
        case (.real, .integer(let v)): try checkRange(Double(v)); return .real(Double(v))
        case (.integer, .integer(let v)): try checkRange(Double(v)); return value
        case (.boolean, .boolean): return value
        case (.text, .string(let s)):
            if let reason = textCheck?(s) { throw PeaksError.invalidParameter(name: name, reason: reason) }
            return value
        case (.choice(let options), .string(let s)):
            guard options.contains(s) else {
                throw PeaksError.invalidParameter(name: name, reason: "'\(s)' is not one of \(options.joined(separator: ", "))")
            }
            return value
        default:
            throw PeaksError.invalidParameter(name: name, reason: "value \(value) has the wrong type")
        }
    }
}

/// Parameter values by name, checked against a list of specs, with defaults filled in.
public struct ParameterSet: Sendable, Equatable {
    /// (name, value) in spec order: deterministic output order.
    public private(set) var entries: [(String, ParameterValue)]

    public static func == (a: ParameterSet, b: ParameterSet) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// Resolves `given` against `specs`: unknown names are an error, missing ones take defaults.
    public init(specs: [ParameterSpec], given: [String: ParameterValue] = [:], detectorName: String = "detector") throws {
        for name in given.keys.sorted() where !specs.contains(where: { $0.name == name }) {
            throw PeaksError.invalidParameter(name: name, reason: Self.unknownReason(name, specs: specs, detectorName: detectorName))
        }
        entries = try specs.map { spec in
            (spec.name, try spec.validate(given[spec.name] ?? spec.defaultValue))
        }
    }

    /// "log has no such parameter (did you mean 'sigma'? it has: ...)".
    public static func unknownReason(_ name: String, specs: [ParameterSpec], detectorName: String) -> String {
        let known = specs.map(\.name)
        let hint = closestName(to: name, in: known).map { "did you mean '\($0)'? " } ?? ""
        return "\(detectorName) has no such parameter (\(hint)it has: \(known.joined(separator: ", ")))"
    }

    public subscript(name: String) -> ParameterValue? {
        entries.first { $0.0 == name }?.1
    }

    /// The same set with some values replaced (names it does not hold are ignored). For values a
    /// caller resolved itself (a stack's measured settings); they are not re-validated.
    public func replacing(_ values: [(String, ParameterValue)]) -> ParameterSet {
        var copy = self
        for (name, value) in values {
            if let i = copy.entries.firstIndex(where: { $0.0 == name }) { copy.entries[i].1 = value }
        }
        return copy
    }

    /// Adds an entry after the specs' (a hint such as `spot_size`, reported with the parameters
    /// it set); replaces an entry of that name.
    public mutating func append(_ name: String, _ value: ParameterValue) {
        entries.removeAll { $0.0 == name }
        entries.append((name, value))
    }


}
