/// A detector's settings, declared once: a struct with one stored property per parameter (its
/// default is the property's initial value) and one `SettingField` per property saying its name,
/// range or choices, unit and help. Everything else derives from that declaration: `-p NAME=VALUE`
/// parsing and validation, `peaks algorithms` (text and JSON), the `parameters` object of the
/// outputs, evaluation manifests, and the Python keywords.
///
/// ```swift
/// public struct Settings: DetectorSettings {
///     public var sigma = 1.0
///     public init() {}
///     public static let fields: [SettingField<Settings>] = [
///         .real("sigma", \.sigma, range: 0.3...1000, unit: "px", help: "Smallest scale."),
///     ]
/// }
/// ```
public protocol DetectorSettings: Sendable {
    /// The defaults.
    init()
    /// One field per stored property, in the order they are listed and written.
    static var fields: [SettingField<Self>] { get }
}

/// A value that may be left for the detector to choose from the image (`auto`).
public enum Automatic<Value: Sendable & Equatable>: Sendable, Equatable {
    case auto
    case value(Value)

    /// The given value, or nil for `auto`.
    public var given: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
    public var isAuto: Bool { self == .auto }
}

/// A setting whose value is one of a few words (`polarity = bright|dark|both`).
public protocol SettingChoice: RawRepresentable, CaseIterable, Sendable, Equatable where RawValue == String {}

/// One parameter of a `DetectorSettings` struct: its description (`spec`, with the default read
/// from `S()`) and how to read and write it in the struct.
public struct SettingField<S: DetectorSettings>: Sendable {
    public let spec: ParameterSpec
    let read: @Sendable (S) -> ParameterValue
    let write: @Sendable (inout S, ParameterValue) -> Void

    public var name: String { spec.name }

    /// A real number in `range` (inclusive).
    ///
    /// - Parameters:
    ///   - name: snake_case name (`-p name=...`, JSON key).
    ///   - keyPath: The property holding it.
    ///   - range: Allowed values.
    ///   - unit: Unit for help and docs ("px", "noise sigmas", "" for none).
    ///   - help: One sentence.
    public static func real(
        _ name: String, _ keyPath: WritableKeyPath<S, Double> & Sendable, range: ClosedRange<Double>,
        unit: String = "", help: String
    ) -> SettingField {
        SettingField(
            spec: ParameterSpec(name: name, kind: .real, defaultValue: .real(S()[keyPath: keyPath]), range: range, unit: unit, help: help),
            read: { .real($0[keyPath: keyPath]) },
            write: { s, v in if let d = v.number { s[keyPath: keyPath] = d } })
    }

    /// A real number in `range`, or `auto`.
    public static func real(
        _ name: String, _ keyPath: WritableKeyPath<S, Automatic<Double>> & Sendable, range: ClosedRange<Double>,
        unit: String = "", help: String
    ) -> SettingField {
        let d: ParameterValue = S()[keyPath: keyPath].given.map { .real($0) } ?? .auto
        return SettingField(
            spec: ParameterSpec(name: name, kind: .real, defaultValue: d, range: range, allowsAuto: true, unit: unit, help: help),
            read: { $0[keyPath: keyPath].given.map { .real($0) } ?? .auto },
            write: { s, v in s[keyPath: keyPath] = v == .auto ? .auto : .value(v.number ?? 0) })
    }

    /// A whole number in `range`.
    public static func integer(
        _ name: String, _ keyPath: WritableKeyPath<S, Int> & Sendable, range: ClosedRange<Int>,
        unit: String = "", help: String
    ) -> SettingField {
        SettingField(
            spec: ParameterSpec(
                name: name, kind: .integer, defaultValue: .integer(S()[keyPath: keyPath]),
                range: Double(range.lowerBound)...Double(range.upperBound), unit: unit, help: help),
            read: { .integer($0[keyPath: keyPath]) },
            write: { s, v in if case .integer(let i) = v { s[keyPath: keyPath] = i } })
    }

    /// A whole number in `range`, or `auto`.
    public static func integer(
        _ name: String, _ keyPath: WritableKeyPath<S, Automatic<Int>> & Sendable, range: ClosedRange<Int>,
        unit: String = "", help: String
    ) -> SettingField {
        let d: ParameterValue = S()[keyPath: keyPath].given.map { .integer($0) } ?? .auto
        return SettingField(
            spec: ParameterSpec(
                name: name, kind: .integer, defaultValue: d, range: Double(range.lowerBound)...Double(range.upperBound),
                allowsAuto: true, unit: unit, help: help),
            read: { $0[keyPath: keyPath].given.map { .integer($0) } ?? .auto },
            write: { s, v in
                if case .integer(let i) = v { s[keyPath: keyPath] = .value(i) } else { s[keyPath: keyPath] = .auto }
            })
    }

    /// true or false.
    public static func boolean(
        _ name: String, _ keyPath: WritableKeyPath<S, Bool> & Sendable, help: String
    ) -> SettingField {
        SettingField(
            spec: ParameterSpec(name: name, kind: .boolean, defaultValue: .boolean(S()[keyPath: keyPath]), help: help),
            read: { .boolean($0[keyPath: keyPath]) },
            write: { s, v in if case .boolean(let b) = v { s[keyPath: keyPath] = b } })
    }

    /// One of the cases of a `SettingChoice` enum.
    public static func choice<C: SettingChoice>(
        _ name: String, _ keyPath: WritableKeyPath<S, C> & Sendable, help: String
    ) -> SettingField {
        SettingField(
            spec: ParameterSpec(
                name: name, kind: .choice(C.allCases.map(\.rawValue)), defaultValue: .string(S()[keyPath: keyPath].rawValue), help: help),
            read: { .string($0[keyPath: keyPath].rawValue) },
            write: { s, v in if case .string(let t) = v, let c = C(rawValue: t) { s[keyPath: keyPath] = c } })
    }

    /// A free text (e.g. a template file's path), with a default.
    /// `check` returns why a value is refused (nil = accepted); it runs when the value is given.
    public static func text(
        _ name: String, _ keyPath: WritableKeyPath<S, String> & Sendable, help: String,
        check: (@Sendable (String) -> String?)? = nil
    ) -> SettingField {
        SettingField(
            spec: ParameterSpec(name: name, kind: .text, defaultValue: .string(S()[keyPath: keyPath]), help: help, textCheck: check),
            read: { .string($0[keyPath: keyPath]) },
            write: { s, v in if case .string(let t) = v { s[keyPath: keyPath] = t } })
    }
}

extension ParameterValue {
    /// The value as a Double when it is a number.
    public var number: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
}

extension DetectorSettings {
    /// The parameter descriptions, in declaration order.
    public static var specs: [ParameterSpec] { fields.map(\.spec) }

    /// The settings with the values of a resolved parameter set (names it lacks keep defaults).
    ///
    /// - Parameter parameters: Checked values (`ParameterSet` validates them against `specs`).
    public init(_ parameters: ParameterSet) {
        self.init()
        for field in Self.fields {
            if let v = parameters[field.name] { field.write(&self, v) }
        }
    }

    /// These settings as (name, value) pairs in declaration order.
    public var values: [(String, ParameterValue)] {
        Self.fields.map { ($0.name, $0.read(self)) }
    }
}

/// The closest of `candidates` to `word` by edit distance (for "did you mean"), when close enough
/// to be a plausible typo: at most a third of the word's length, and at least 1.
public func closestName(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
    let w = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(w, Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(1, (w.count + 2) / 3) ? best.0 : nil
}
