#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
        // Most strings (keys, numbers' names, rules) need no escape: then one concatenation.
        if !s.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) { return "\"" + s + "\"" }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
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


/// Where a stack came from, for the header of its peak table.
public struct StackSource: Sendable, Equatable {
    public var path: String
    public var width: Int
    public var height: Int
    /// Frames in the table.
    public var frames: Int
    /// The scan grid (rows, columns) of 4-D data, if any: adds `scan_y`, `scan_x` columns.
    public var scan: (height: Int, width: Int)?
    /// True for multi-file stacks: adds a `file` column.
    public var hasFiles: Bool

    public init(path: String, width: Int, height: Int, frames: Int, scan: (height: Int, width: Int)? = nil, hasFiles: Bool = false) {
        self.path = path
        self.width = width
        self.height = height
        self.frames = frames
        self.scan = scan
        self.hasFiles = hasFiles
    }

    /// The `image` object of a stack table's JSON header: path, frame size, frame count, scan.
    public var jsonEntries: [(String, Value)] {
        var image: [(String, Value)] = [
            ("path", .string(path)), ("width", .integer(width)), ("height", .integer(height)), ("frames", .integer(frames)),
        ]
        if let scan {
            image.append(("scan_height", .integer(scan.height)))
            image.append(("scan_width", .integer(scan.width)))
        }
        return image
    }

    public static func == (a: StackSource, b: StackSource) -> Bool {
        a.path == b.path && a.width == b.width && a.height == b.height && a.frames == b.frames
            && a.scan?.height == b.scan?.height && a.scan?.width == b.scan?.width && a.hasFiles == b.hasFiles
    }
}

/// One frame's place in a stack: its number in the file, its scan position, its file.
public struct FramePosition: Sendable, Equatable {
    public var frame: Int
    public var scanY: Int?
    public var scanX: Int?
    public var file: String?
    public init(frame: Int, scanY: Int? = nil, scanX: Int? = nil, file: String? = nil) {
        self.frame = frame
        self.scanY = scanY
        self.scanX = scanX
        self.file = file
    }
}

/// The peak table of a stack, written frame by frame as frames finish (so memory does not grow
/// with the frame count): CSV with `frame` (then `scan_y`, `scan_x` for scans, `file` for
/// multi-file stacks) before the usual columns, or JSON (schema "peaks.stack/1") with one entry
/// per frame. Each frame's rows are exactly that frame's peak list; the bytes depend only on the
/// frames' results, never on how they were computed.
public final class StackTableWriter {
    public static let schema = "peaks.stack/1"

    let format: PeakListFormat
    let source: StackSource
    let algorithm: String
    let parameters: [(String, Value)]
    let sink: (String) throws -> Void
    private var attributeNames: [String]?
    private var framesWritten = 0
    /// Bytes of the header (CSV: the column line; JSON: everything up to the frames array's
    /// first entry), once written.
    public private(set) var headerByteCount = 0
    /// Bytes of the footer (JSON: the closing brackets; CSV: none), once written.
    public private(set) var footerByteCount = 0
    /// Peak rows written so far (CSV lines after the header; JSON peak objects).
    public private(set) var rowCount = 0
    /// Frames written so far.
    public var frameCount: Int { framesWritten }
    /// The columns after the position columns (`x`, `y`, `value`, the detector's attributes),
    /// known once the header is written.
    public var valueColumns: [String]? { attributeNames.map { ["x", "y", "value"] + $0 } }

    /// What goes between the entries of two consecutive frames (JSON's comma); a table made of
    /// several blocks of frames is `header + block1 + separator + block2 + ... + footer`.
    public static func separator(_ format: PeakListFormat) -> String { format == .json ? ",\n" : "" }

    /// - Parameters:
    ///   - format: CSV or JSON.
    ///   - source: The stack (path, frame size, scan).
    ///   - algorithm: The detector's name.
    ///   - parameters: The resolved parameters (JSON header).
    ///   - sink: Receives the text in order (a file being written, standard output).
    public init(format: PeakListFormat, source: StackSource, algorithm: String, parameters: [(String, Value)], sink: @escaping (String) throws -> Void) {
        self.format = format
        self.source = source
        self.algorithm = algorithm
        self.parameters = parameters
        self.sink = sink
    }

    var positionColumns: [String] {
        ["frame"] + (source.scan != nil ? ["scan_y", "scan_x"] : []) + (source.hasFiles ? ["file"] : [])
    }

    /// Appends one frame's peaks (frames must come in output order).
    public func add(_ position: FramePosition, _ detection: Detection) throws {
        if attributeNames == nil {
            attributeNames = detection.attributeNames
            let text = header(detection.attributeNames)
            headerByteCount = text.utf8.count
            try sink(text)
        }
        rowCount += detection.peaks.count
        let names = attributeNames ?? []
        switch format {
        case .csv:
            var prefix = [String(position.frame)]
            if source.scan != nil { prefix += [String(position.scanY ?? 0), String(position.scanX ?? 0)] }
            if source.hasFiles { prefix.append(Self.csvField(position.file ?? "")) }
            var text = ""
            for p in detection.peaks {
                var row = prefix + [NumberFormat.string(p.x), NumberFormat.string(p.y), NumberFormat.string(p.value)]
                for n in names { row.append(p.attributes[n].map(NumberFormat.string) ?? "") }
                text += row.joined(separator: ",") + "\n"
            }
            try sink(text)
        case .json:
            var entries: [(String, Value)] = [("frame", .integer(position.frame))]
            if source.scan != nil {
                entries.append(("scan_y", .integer(position.scanY ?? 0)))
                entries.append(("scan_x", .integer(position.scanX ?? 0)))
            }
            if source.hasFiles { entries.append(("file", .string(position.file ?? ""))) }
            entries.append(("count", .integer(detection.peaks.count)))
            var text = framesWritten == 0 ? "" : Self.separator(.json)
            text += "    {" + entries.map { "\(JSONText.quote($0.0)): \(JSONText.value($0.1))" }.joined(separator: ", ")
            text += ", \"diagnostics\": \(JSONText.object(detection.diagnostics))"
            if detection.peaks.isEmpty {
                text += ", \"peaks\": []}"
            } else {
                text += ", \"peaks\": [\n"
                text += detection.peaks.map { "      " + JSONText.object(PeakListFormat.peakEntries($0, names: names)) }.joined(separator: ",\n")
                text += "\n    ]}"
            }
            try sink(text)
        }
        framesWritten += 1
    }

    /// Closes the table (JSON's brackets; a CSV header when no frame was written).
    public func finish() throws {
        if attributeNames == nil {
            attributeNames = []
            let text = header([])
            headerByteCount = text.utf8.count
            try sink(text)
        }
        if format == .json {
            let text = framesWritten == 0 ? "]\n}\n" : "\n  ]\n}\n"
            footerByteCount = text.utf8.count
            try sink(text)
        }
    }

    func header(_ names: [String]) -> String {
        switch format {
        case .csv:
            return (positionColumns + ["x", "y", "value"] + names).joined(separator: ",") + "\n"
        case .json:
            var s = "{\n"
            s += "  \"schema\": \(JSONText.quote(Self.schema)),\n"
            s += "  \"image\": \(JSONText.object(source.jsonEntries)),\n"
            s += "  \"algorithm\": \(JSONText.quote(algorithm)),\n"
            s += "  \"parameters\": \(JSONText.object(parameters)),\n"
            s += "  \"columns\": [" + (["x", "y", "value"] + names).map(JSONText.quote).joined(separator: ", ") + "],\n"
            s += "  \"frames\": [\n"
            return s
        }
    }

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacing("\"", with: "\"\"") + "\""
    }
}
