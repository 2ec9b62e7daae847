import Filters
import ArgumentParser
import Correlation
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Spectral

/// A JSON document written key by key, in order, two-space indented (deterministic bytes).
struct JSONDocument {
    private var entries: [(String, String)] = []

    mutating func add(_ key: String, _ value: Value) { entries.append((key, JSONText.value(value))) }
    mutating func add(_ key: String, object: [(String, Value)]) { entries.append((key, JSONText.object(object))) }
    mutating func add(_ key: String, numbers: [Double]) {
        entries.append((key, "[" + numbers.map(NumberFormat.json).joined(separator: ", ") + "]"))
    }
    mutating func add(_ key: String, objects: [[(String, Value)]]) {
        if objects.isEmpty { entries.append((key, "[]")); return }
        entries.append((key, "[\n" + objects.map { "    " + JSONText.object($0) }.joined(separator: ",\n") + "\n  ]"))
    }

    var text: String {
        "{\n" + entries.map { "  \(JSONText.quote($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}

/// Reading inputs the way every correlation command does.
enum CommandInput {
    static func image(_ path: String) throws -> Image { try ImageFile.read(path) }

    static func mask(_ path: String?, for image: Image, what: String) throws -> Mask? {
        guard let path else { return nil }
        let m = try ImageFile.readMask(path)
        guard m.width == image.width, m.height == image.height else {
            throw PeaksError.file(path: path, reason: "the \(what) is \(m.width)x\(m.height) but its image is \(image.width)x\(image.height) (width x height)")
        }
        return m
    }

    static func describe(_ path: String, _ image: Image) -> [(String, Value)] {
        [("path", .string(path)), ("width", .integer(image.width)), ("height", .integer(image.height))]
    }

    /// Outputs must differ from the inputs and from each other.
    static func checkOutputs(_ outputs: [String], inputs: [String]) throws {
        func canonical(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        let ins = Set(inputs.map(canonical))
        var seen = Set<String>()
        for o in outputs {
            let c = canonical(o)
            if ins.contains(c) { throw PeaksError.file(path: o, reason: "refusing to overwrite an input file") }
            if !seen.insert(c).inserted { throw UsageError("'\(o)' is given as two different outputs") }
        }
    }

    /// Writes `text` to `output` (atomically, with `files`) or, without `output`, writes `files`
    /// and then prints `text`.
    static func finish(text: String, output: String?, files: [(path: String, bytes: [UInt8])]) throws {
        var all = files
        if let output { all.insert((output, Array(text.utf8)), at: 0) }
        try AtomicFile.writeAll(all)
        if output == nil { try StandardOutput.write(text) }
    }
}

extension PeakFitMethod: ExpressibleByArgument {}
extension ConvolutionMode: ExpressibleByArgument {}
extension PhaseCorrelation.Normalization: ExpressibleByArgument {}
extension ShiftField.Summary: ExpressibleByArgument {}
