import Foundation

/// How peaks prints numbers, the same in JSON, CSV and messages: the shortest text that reads
/// back to the same value. Values that are exactly representable in single precision (pixel
/// values, prominences of Float images) print as their shortest Float text ("0.1", not
/// "0.10000000149011612"); others print as their shortest Double text.
public enum NumberFormat {
    public static func string(_ v: Double) -> String {
        if v == 0 { return "0.0" }  // also folds -0.0
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        let f = Float(v)
        if f.isFinite && Double(f) == v { return f.description }
        return v.description
    }

    /// The JSON form: like `string`, with `null` for NaN and infinities (JSON has no such numbers).
    public static func json(_ v: Double) -> String { v.isFinite ? string(v) : "null" }
}

/// A small deterministic JSON writer: keys in the order given, fixed spacing.
public enum JSONText {
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    public static func value(_ v: Value) -> String {
        switch v {
        case .number(let d): return NumberFormat.json(d)
        case .integer(let i): return String(i)
        case .string(let s): return quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    /// `{"a": 1, "b": 2}` on one line.
    public static func object(_ entries: [(String, Value)]) -> String {
        "{" + entries.map { "\(quote($0.0)): \(value($0.1))" }.joined(separator: ", ") + "}"
    }
}

/// Where an image came from, for the header of a peak list.
public struct ImageSource: Sendable, Equatable {
    public var path: String
    public var width: Int
    public var height: Int
    public init(path: String, width: Int, height: Int) {
        self.path = path
        self.width = width
        self.height = height
    }
}

/// Peak lists as JSON (schema "peaks.detection/1") and CSV. Both hold the same numbers, printed
/// by `NumberFormat`; identical inputs give identical bytes.
public enum PeakListFormat: String, Sendable, CaseIterable {
    case json, csv

    public static let schema = "peaks.detection/1"

    public func render(
        _ detection: Detection, algorithm: String, parameters: ParameterSet, source: ImageSource
    ) -> String {
        switch self {
        case .json: return Self.json(detection, algorithm: algorithm, parameters: parameters, source: source)
        case .csv: return Self.csv(detection)
        }
    }

    static func peakEntries(_ p: Peak, names: [String]) -> [(String, Value)] {
        var e: [(String, Value)] = [("x", .number(p.x)), ("y", .number(p.y)), ("value", .number(p.value))]
        for n in names { e.append((n, p.attributes[n].map { Value.number($0) } ?? .null)) }
        return e
    }

    static func json(_ d: Detection, algorithm: String, parameters: ParameterSet, source: ImageSource) -> String {
        var s = "{\n"
        s += "  \"schema\": \(JSONText.quote(schema)),\n"
        s += "  \"image\": \(JSONText.object([("path", .string(source.path)), ("width", .integer(source.width)), ("height", .integer(source.height))])),\n"
        s += "  \"algorithm\": \(JSONText.quote(algorithm)),\n"
        s += "  \"parameters\": \(JSONText.object(parameters.entries.map { ($0.0, $0.1.asValue) })),\n"
        s += "  \"diagnostics\": \(JSONText.object(d.diagnostics)),\n"
        s += "  \"count\": \(d.peaks.count),\n"
        if d.peaks.isEmpty {
            s += "  \"peaks\": []\n"
        } else {
            s += "  \"peaks\": [\n"
            s += d.peaks.map { "    " + JSONText.object(peakEntries($0, names: d.attributeNames)) }.joined(separator: ",\n")
            s += "\n  ]\n"
        }
        return s + "}\n"
    }

    static func csv(_ d: Detection) -> String {
        var s = (["x", "y", "value"] + d.attributeNames).joined(separator: ",") + "\n"
        for p in d.peaks {
            var row = [NumberFormat.string(p.x), NumberFormat.string(p.y), NumberFormat.string(p.value)]
            for n in d.attributeNames { row.append(p.attributes[n].map(NumberFormat.string) ?? "") }
            s += row.joined(separator: ",") + "\n"
        }
        return s
    }
}

/// Writes files so that a reader never sees a partial one: each file is written to a temporary
/// name in its own folder and renamed into place once complete. `writeAll` writes every
/// temporary first and renames only when all writes succeeded, so a failing run leaves no output.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try writeAll([(path, bytes)])
    }

    public static func writeAll(_ files: [(path: String, bytes: [UInt8])]) throws {
        var temporaries: [(tmp: String, final: String)] = []
        func cleanUp() { for t in temporaries { unlink(t.tmp) } }
        for (path, bytes) in files {
            let url = URL(fileURLWithPath: path)
            let dir = url.deletingLastPathComponent().path
            // Renaming over a device or a pipe (`-o /dev/null`, `-o /dev/stdout`) would replace
            // it with a regular file (as root, /dev/null itself): refuse anything that exists and
            // is not a regular file.
            var st = stat()
            if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
                cleanUp()
                throw PeaksError.file(path: path, reason: "cannot write: it exists and is not a regular file (leave out the output option to write to standard output)")
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                cleanUp()
                throw PeaksError.file(path: path, reason: "cannot write: folder '\(dir)' does not exist")
            }
            let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: tmp))
            } catch {
                unlink(tmp)
                cleanUp()
                throw PeaksError.file(path: path, reason: "cannot write: \(Self.reason(error))")
            }
            temporaries.append((tmp, path))
        }
        for t in temporaries {
            if rename(t.tmp, t.final) != 0 {
                let msg = String(cString: strerror(errno))
                cleanUp()
                throw PeaksError.file(path: t.final, reason: "cannot write: \(msg)")
            }
        }
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        return ns.localizedDescription
    }
}
