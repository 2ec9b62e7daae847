import Filters
import Correlation
import Filters
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit

/// A table with one row per frame (centres, shifts): CSV with `frame` (then `scan_y`, `scan_x`)
/// before the named columns, or JSON (`schema`, `image`, `parameters`, `columns`, then one
/// object per frame). Written as rows arrive (memory does not grow with the frame count); the
/// bytes depend only on the rows.
public final class FrameTableWriter {
    let format: PeakListFormat
    let schema: String
    let source: StackSource
    let parameters: [(String, Value)]
    let columns: [String]
    let sink: (String) throws -> Void
    private var rows = 0
    private var started = false
    /// Bytes of the header and of the footer once written, and rows written (for shard manifests).
    public private(set) var headerByteCount = 0
    public private(set) var footerByteCount = 0
    public var rowCount: Int { rows }

    /// - Parameters:
    ///   - columns: The value columns, in order (each row gives them in this order).
    ///   - sink: Receives the text in order.
    public init(format: PeakListFormat, schema: String, source: StackSource, parameters: [(String, Value)], columns: [String],
                sink: @escaping (String) throws -> Void) {
        self.format = format
        self.schema = schema
        self.source = source
        self.parameters = parameters
        self.columns = columns
        self.sink = sink
    }

    /// One frame's row: `values` in `columns` order; `extra` goes to JSON only (e.g. `shift_rc`).
    public func add(_ position: FramePosition, _ values: [Value], extra: [(String, [Double])] = []) throws {
        if !started { try writeHeader() }
        switch format {
        case .csv:
            var row = [String(position.frame)]
            if source.scan != nil { row += [String(position.scanY ?? 0), String(position.scanX ?? 0)] }
            for v in values {
                switch v {
                case .number(let d): row.append(NumberFormat.string(d))
                case .integer(let i): row.append(String(i))
                case .bool(let b): row.append(b ? "1" : "0")
                case .string(let s): row.append(s)
                case .null: row.append("")
                }
            }
            try sink(row.joined(separator: ",") + "\n")
        case .json:
            var entries: [(String, Value)] = [("frame", .integer(position.frame))]
            if source.scan != nil {
                entries.append(("scan_y", .integer(position.scanY ?? 0)))
                entries.append(("scan_x", .integer(position.scanX ?? 0)))
            }
            entries += zip(columns, values).map { ($0, $1) }
            var text = (rows == 0 ? "" : StackTableWriter.separator(.json)) + "    {"
            text += entries.map { "\(JSONText.quote($0.0)): \(JSONText.value($0.1))" }.joined(separator: ", ")
            for (name, numbers) in extra {
                text += ", \(JSONText.quote(name)): [" + numbers.map(NumberFormat.json).joined(separator: ", ") + "]"
            }
            try sink(text + "}")
        }
        rows += 1
    }

    /// Closes the table.
    public func finish() throws {
        if !started { try writeHeader() }
        if format == .json {
            let text = rows == 0 ? "]\n}\n" : "\n  ]\n}\n"
            footerByteCount = text.utf8.count
            try sink(text)
        }
    }

    private func writeHeader() throws {
        let text = header()
        headerByteCount = text.utf8.count
        started = true
        try sink(text)
    }

    func header() -> String {
        let position = ["frame"] + (source.scan != nil ? ["scan_y", "scan_x"] : [])
        switch format {
        case .csv:
            return (position + columns).joined(separator: ",") + "\n"
        case .json:
            var s = "{\n"
            s += "  \"schema\": \(JSONText.quote(schema)),\n"
            s += "  \"image\": \(JSONText.object(source.jsonEntries)),\n"
            s += "  \"parameters\": \(JSONText.object(parameters)),\n"
            s += "  \"columns\": [" + columns.map(JSONText.quote).joined(separator: ", ") + "],\n"
            s += "  \"frames\": [\n"
            return s
        }
    }
}

/// `peaks center STACK`: the centre of every frame (descan tracking), by `Autocenter` on each
/// frame exactly as for a single image.
public enum StackCenter {
    public static let schema = "peaks.center-stack/1"
    public static let columns = ["x", "y", "confidence", "rough_x", "rough_y", "subpixel_fell_back"]

    /// Centres frames `range` (default: all) of `frames` on all cores, delivered in frame order.
    ///
    /// - Parameters:
    ///   - frames: The selected frames (the `frame` column is `frames.sourceIndex`).
    ///   - range: Indices of `frames` to process (a shard), nil = all.
    ///   - mask: Valid pixels of every frame, or nil.
    ///   - deliver: (index in `frames`, row values in `columns` order).
    public static func run(
        _ frames: SelectedFrames, range: Range<Int>? = nil, mask: Mask?, normalizeBackground: Bool, maxLag: Int?,
        subpixel: PeakFitMethod, threads: Int = 0,
        deliver: (Int, [Value]) throws -> Void, progress: ((FrameStream.Progress) -> Void)? = nil
    ) throws {
        let path = frames.path
        try FrameStream.run(
            source: frames, range: range, threads: threads,
            work: { index, image in
                var valid = mask
                if image.firstNonFinitePixel() != nil {
                    valid = (mask ?? Mask(width: image.width, height: image.height)).intersection(Mask(finitePixelsOf: image))
                }
                do {
                    let r = try Autocenter.find(image, mask: valid, normalizeBackground: normalizeBackground, maxLag: maxLag, subpixel: subpixel)
                    return [Value.number(r.x), .number(r.y), .number(r.peak), .number(r.roughX), .number(r.roughY), .bool(r.fellBack)]
                } catch let e as PeaksError {
                    throw PeaksError.file(path: path, reason: "frame \(frames.sourceIndex(of: index)): \(e.description)")
                }
            },
            deliver: deliver, progress: progress)
    }
}

/// `peaks register STACK`: every frame's shift against a reference frame (phase correlation with
/// DFT upsampling), with the single-image command's sign convention.
public enum StackRegistration {
    public static let schema = "peaks.registration-stack/1"
    public static let columns = ["dx", "dy", "error", "phase_difference", "pixel_dx", "pixel_dy"]

    /// Which frame the others are registered against.
    public enum Reference: Sendable, Equatable {
        case first
        /// The mean of all selected frames (a first pass over the stack).
        case mean
        /// Frame `n` of the selection.
        case index(Int)

        /// Parses `first`, `mean` or a whole number.
        public init?(_ text: String) {
            switch text {
            case "first": self = .first
            case "mean": self = .mean
            default:
                guard let n = Int(text), n >= 0 else { return nil }
                self = .index(n)
            }
        }
    }

    /// The reference image. `mean` averages every selected frame (not only a shard's), in frame
    /// order in Double, so every shard registers against the same image.
    public static func reference(_ reference: Reference, frames: SelectedFrames, threads: Int = 0) throws -> Image {
        let l = frames.layout
        switch reference {
        case .first: return try frames.frame(0)
        case .index(let n):
            guard n < l.frameCount else {
                throw PeaksError.invalidParameter(name: "reference", reason: "frame \(n) does not exist (\(l.frameCount) frames selected)")
            }
            return try frames.frame(n)
        case .mean:
            var sum = [Double](repeating: 0, count: l.pixelsPerFrame)
            try FrameStream.run(
                source: frames, threads: threads,
                work: { _, image in image },
                deliver: { _, image in
                    for i in 0..<sum.count { sum[i] += Double(image.pixels[i]) }
                })
            let n = Double(l.frameCount)
            return Image(width: l.width, height: l.height, pixels: sum.map { Float($0 / n) })
        }
    }

    /// Registers frames `range` of `frames` against `reference`, delivered in frame order.
    public static func run(
        _ frames: SelectedFrames, range: Range<Int>? = nil, reference: Image, upsample: Int,
        normalization: PhaseCorrelation.Normalization, threads: Int = 0,
        deliver: (Int, Registration) throws -> Void, progress: ((FrameStream.Progress) -> Void)? = nil
    ) throws {
        let path = frames.path
        try FrameStream.run(
            source: frames, range: range, threads: threads,
            work: { index, image in
                do {
                    return try PhaseCorrelation.register(reference: reference, moving: image, upsample: upsample, normalization: normalization)
                } catch let e as PeaksError {
                    throw PeaksError.file(path: path, reason: "frame \(frames.sourceIndex(of: index)): \(e.description)")
                }
            },
            deliver: deliver, progress: progress)
    }

    /// A registration as row values in `columns` order.
    public static func values(_ r: Registration) -> [Value] {
        [.number(r.dx), .number(r.dy), r.error.map { .number($0) } ?? .null, r.phaseDifference.map { .number($0) } ?? .null,
         .integer(r.pixelDX), .integer(r.pixelDY)]
    }
}
