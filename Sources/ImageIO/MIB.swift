#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// Quantum Detectors Merlin `.mib` files (Medipix3): one or many frames, each behind its own
/// ASCII header `MQ1,<seq>,<header bytes>,<chips>,<width>,<height>,<pixel type>,<layout>,...`.
///
/// - Pixel types U08, U16, U32, U64: big-endian unsigned counts, `width × height` per frame
///   (a 2x2 quad is already assembled into 512 × 512 by the Merlin software).
/// - R64 (raw readout): counter depth 1 (bit-packed), 6 (one byte each) or 12 (big-endian 16-bit),
///   stored in 64-bit words whose elements run from the least significant end; a 2x2 quad's raw
///   frame holds the four chips' rows side by side (`[4 | 3 | 2 | 1]`, chips 3 and 4 rotated by
///   180°) and is assembled here. Raw 24-bit and raw data of other multi-chip layouts are refused.
/// - Every frame has the same header size and data size: frame i is at `i × (header + data)`.
///   Its header is checked to start with `MQ1` when the frame is read. A file that ends inside a
///   frame is refused when opened.
/// - Rows are returned bottom-up relative to the file (the file's last row first), as
///   rosettasciio and pyxem read MIB data, so images have the detector's orientation.
/// - The scan grid comes from the `.hdr` acquisition header beside the file (same name, `.hdr`):
///   `ScanX`/`ScanY` when present, else `Frames per Trigger` (scan width) and `Frames in
///   Acquisition`, when they account for exactly the frames in the file.
public enum MIB {
    /// The first frame's header, parsed and checked.
    public struct Header: Sendable, Equatable {
        public let headerBytes: Int
        public let chips: Int
        /// Size of the stored frame as the header gives it (raw quad: the chips side by side).
        public let storedWidth: Int
        public let storedHeight: Int
        /// Size of the decoded frame.
        public let width: Int
        public let height: Int
        public let pixelType: String
        public let layout: String
        public let counterDepth: Int?
        public let shutterSeconds: Double?
        /// Bytes of pixel data per frame.
        public let dataBytes: Int

        public var isRaw: Bool { pixelType == "R64" }
        public var isQuad: Bool { layout == "2x2" && chips == 4 }
    }

    static let maxHeaderBytes = 1 << 16

    /// Parses the header at the start of `head` (which holds at least the declared header size
    /// when the file does).
    public static func header(_ head: [UInt8], path: String) throws -> Header {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        guard head.has("MQ1,", at: 0) else { throw fail("not a Merlin MIB file (a frame header starts with 'MQ1,')") }
        // Fields up to the header size, which is the third field.
        let text = String(decoding: head.prefix(64).map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        var fields = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard fields.count > 2, let headerBytes = Int(fields[2]), headerBytes >= 64, headerBytes <= maxHeaderBytes else {
            throw fail("malformed MIB header: the header size (third field) is missing or not a number from 64 to \(maxHeaderBytes)")
        }
        guard head.count >= headerBytes else {
            throw fail("truncated: the first MIB header claims \(headerBytes) bytes, the file has \(head.count)")
        }
        fields = String(decoding: head.prefix(headerBytes).map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            .split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard fields.count > 8 else { throw fail("malformed MIB header: \(fields.count) fields, expected at least 9") }
        guard let chips = Int(fields[3]), let w = Int(fields[4]), let h = Int(fields[5]), chips >= 1, w >= 1, h >= 1,
              w <= 1 << 20, h <= 1 << 20
        else {
            throw fail("malformed MIB header: chips, width and height ('\(fields[3])', '\(fields[4])', '\(fields[5])') must be positive whole numbers")
        }
        let type = fields[6].uppercased()
        let layout = fields[7].uppercased().replacing("G", with: "").lowercased()
        // Counter depth: the third field after "MQ1A" (after the extended time stamp and the
        // exposure in ns), else the last numeric field.
        var depth: Int?
        if let a = fields.firstIndex(of: "MQ1A"), a + 3 < fields.count { depth = Int(fields[a + 3]) }
        if depth == nil { depth = fields.reversed().lazy.compactMap { Int($0) }.first }
        let shutter = Double(fields.count > 10 ? fields[10] : "")

        var width = w, height = h
        let bits: Int
        switch type {
        case "U08": bits = 8
        case "U16": bits = 16
        case "U32": bits = 32
        case "U64": bits = 64
        case "R64":
            switch depth {
            case 1: bits = 1
            case 6: bits = 8
            case 12: bits = 16
            case 24: throw fail("unsupported MIB data: raw (R64) 24-bit frames; save the data in processed form (U32) in the Merlin software")
            default: throw fail("unsupported MIB data: raw (R64) frames with counter depth \(depth.map(String.init) ?? "unknown") (supported: 1, 6, 12)")
            }
            if chips > 1 {
                guard layout == "2x2", chips == 4 else {
                    throw fail("unsupported MIB data: raw (R64) frames of a \(chips)-chip '\(fields[7])' layout (raw multi-chip data is read for the 2x2 quad only)")
                }
                guard w % 4 == 0, (w / 4) * bits % 64 == 0 else {
                    throw fail("malformed MIB header: a raw 2x2 frame \(w) wide cannot hold four chips' rows")
                }
                width = w / 2
                height = h * 2
            }
        case "U01":
            throw fail("unsupported MIB pixel type U01 (1-bit processed data): supported are U08, U16, U32, U64 and raw R64")
        default:
            throw fail("unsupported MIB pixel type '\(fields[6])' (supported: U08, U16, U32, U64, R64)")
        }
        guard let totalBits = ReadLimits.product([w, h, bits]), totalBits % 64 == 0 || type != "R64" else {
            throw fail("malformed MIB header: a \(w)x\(h) \(type) frame is not a whole number of 64-bit words")
        }
        return Header(
            headerBytes: headerBytes, chips: chips, storedWidth: w, storedHeight: h, width: width, height: height,
            pixelType: type, layout: layout, counterDepth: depth, shutterSeconds: shutter, dataBytes: totalBits / 8)
    }

    /// `key → value` of a Merlin `.hdr` acquisition header (lines `Key (unit):<TAB>value`).
    public static func parseAcquisitionHeader(_ bytes: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(whereSeparator: { $0.isNewline }) {
            guard let tab = line.firstIndex(of: "\t") else { continue }
            var key = line[..<tab].trimmingWhitespace()
            if key.hasSuffix(":") { key.removeLast() }
            out[key] = line[line.index(after: tab)...].trimmingWhitespace()
        }
        return out
    }

    /// The scan grid an acquisition header gives for `frames` frames (nil when it does not
    /// account for exactly these frames).
    public static func scan(fromAcquisitionHeader hdr: [String: String], frames: Int) -> ScanShape? {
        func int(_ key: String) -> Int? { hdr[key].flatMap { Int($0) } }
        if let x = int("ScanX"), let y = int("ScanY"), x > 0, y > 0, ReadLimits.product([x, y]) == frames {
            return ScanShape(height: y, width: x)
        }
        if let perTrigger = int("Frames per Trigger (Number)"), let total = int("Frames in Acquisition (Number)"),
           perTrigger > 1, total == frames, total % perTrigger == 0 {
            return ScanShape(height: total / perTrigger, width: perTrigger)
        }
        return nil
    }

    /// The `.hdr` file beside `path` (same name with `.hdr` for `.mib`), nil when there is none.
    static func acquisitionHeaderPath(_ path: String) -> String? {
        guard path.lowercased().hasSuffix(".mib") else { return nil }
        return String(path.dropLast(4)) + (path.hasSuffix(".MIB") ? ".HDR" : ".hdr")
    }
}

/// The frames of a MIB file, each read with one `pread` of its header and data.
final class MIBFrames: FrameSource {
    let path: String
    let formatName = "MIB"
    let layout: FrameLayout
    let header: MIB.Header
    let file: InputFile
    let stride: Int
    let metadata: [(String, Value)]

    init(file: InputFile) throws {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: file.path, reason: reason) }
        // The header size is the third field, within the first 64 bytes.
        let first = try file.head(64)
        let parts = first.split(separator: UInt8(ascii: ","), maxSplits: 3, omittingEmptySubsequences: false)
        let declared = parts.count > 3 ? Int(String(decoding: parts[2], as: UTF8.self).trimmingWhitespace()) ?? MIB.maxHeaderBytes : MIB.maxHeaderBytes
        let head = try file.head(min(max(declared, 64), MIB.maxHeaderBytes))
        let h = try MIB.header(head, path: file.path)
        try ReadLimits.checkFrame(width: h.width, height: h.height, path: file.path)
        let (stride, o) = h.headerBytes.addingReportingOverflow(h.dataBytes)
        guard !o, stride > 0 else { throw fail("MIB frames too large to address") }
        let frames = file.size / stride
        let rest = file.size % stride
        guard frames >= 1 else {
            throw fail("truncated: the first MIB frame needs \(stride) bytes (\(h.headerBytes) header + \(h.dataBytes) data), the file has \(file.size)")
        }
        guard rest == 0 else {
            throw fail("truncated: \(frames) whole MIB frame\(frames == 1 ? "" : "s") of \(stride) bytes and \(rest) bytes of a cut frame (the file should be a multiple of \(stride) bytes)")
        }
        var scan: ScanShape?
        var meta: [(String, Value)] = [
            ("mib_pixel_type", .string(h.pixelType)),
            ("detector_layout", .string(h.layout)),
            ("chips", .integer(h.chips)),
        ]
        if let d = h.counterDepth { meta.append(("counter_depth", .integer(d))) }
        if let s = h.shutterSeconds { meta.append(("exposure_s", .number(s))) }
        if file.isOnDisk, let hdrPath = MIB.acquisitionHeaderPath(file.path), let hdrFile = try? InputFile(hdrPath),
           let bytes = try? hdrFile.head(1 << 16) {
            let hdr = MIB.parseAcquisitionHeader(bytes)
            scan = MIB.scan(fromAcquisitionHeader: hdr, frames: frames)
            meta.append(("scan_source", .string(scan == nil ? "none (the .hdr file does not match the \(frames) frames)" : "hdr")))
        }
        path = file.path
        header = h
        self.file = file
        self.stride = stride
        layout = FrameLayout(width: h.width, height: h.height, frameCount: frames, scan: scan,
                             sampleType: h.isRaw ? "raw\(h.counterDepth ?? 0)-bit" : "uint\(8 * h.dataBytes / (h.width * h.height))")
        metadata = meta
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        let h = header
        let offset = index &* stride
        // Uninitialised scratch (no zero fill): `readFrame` may run on several threads at once.
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 16)
        defer { raw.deallocate() }
        try file.read(into: raw.baseAddress!, count: stride, at: offset, what: "MIB frame \(index)")
        guard raw.starts(with: "MQ1".utf8) else {
            throw PeaksError.file(path: path, reason: "MIB frame \(index) at byte \(offset) does not start with 'MQ1' (corrupt file, or frames of different sizes)")
        }
        let w = h.width, ht = h.height
        guard buffer.count >= w &* ht else { return }
        let data = UnsafeRawBufferPointer(rebasing: raw[h.headerBytes...])
        if !h.isRaw {
            // Bottom-up, as rosettasciio and pyxem read MIB frames: stored row y is row ht-1-y.
            let sample = SampleFormat(.unsigned, size: h.dataBytes / (w * ht), bigEndian: true)
            let rowBytes = w &* sample.size
            for y in 0..<ht {
                sample.decode(data.baseAddress! + y &* rowBytes, count: w, into: buffer.baseAddress! + (ht - 1 - y) &* w)
            }
            return
        }
        decodeRaw(data, into: buffer)
        // Bottom-up, as rosettasciio and pyxem read MIB frames.
        for y in 0..<(ht / 2) {
            let a = y * w, b = (ht - 1 - y) * w
            for x in 0..<w { buffer.swapAt(a + x, b + x) }
        }
    }

    /// Raw (R64) data: 64-bit big-endian words, elements from the least significant end.
    private func decodeRaw(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        let h = header
        let bits = h.counterDepth == 1 ? 1 : h.counterDepth == 6 ? 8 : 16
        let perWord = 64 / bits
        let mask: UInt64 = (1 << UInt64(bits)) &- 1
        let n = h.storedWidth * h.storedHeight
        // Stored-order pixels first (raw quad: rows of the four chips side by side).
        var stored = [Float](repeating: 0, count: n)
        let words = n / perWord
        for k in 0..<words {
            let word = UInt64(bigEndian: data.loadUnaligned(fromByteOffset: k * 8, as: UInt64.self))
            for e in 0..<perWord {
                stored[k * perWord + e] = Float((word >> UInt64(e * bits)) & mask)
            }
        }
        if !h.isQuad {
            for i in 0..<n { out[i] = stored[i] }
            return
        }
        // 2x2 quad: stored row r = [chip 4 | chip 3 | chip 2 | chip 1], each `cw` wide.
        let cw = h.storedWidth / 4, rows = h.storedHeight, w = h.width
        for r in 0..<rows {
            let s = r * h.storedWidth
            for x in 0..<cw {
                out[r * w + x] = stored[s + 3 * cw + x]              // chip 1: top left
                out[r * w + cw + x] = stored[s + 2 * cw + x]         // chip 2: top right
                let y = 2 * rows - 1 - r                             // chips 3, 4: rotated by 180°
                out[y * w + x] = stored[s + cw + (cw - 1 - x)]       // chip 3: bottom left
                out[y * w + cw + x] = stored[s + (cw - 1 - x)]       // chip 4: bottom right
            }
        }
    }
}

extension ImageFormat {
    /// Merlin MIB: U08/U16/U32/U64 and raw 1/6/12-bit frames, single chip or 2x2 quad.
    public static let mib = ImageFormat(
        name: "MIB",
        summary: "Quantum Detectors Merlin (Medipix3) .mib: U08/U16/U32/U64 and raw (R64) 1/6/12-bit frames, single chip or 2x2 quad; scan grid from the .hdr file beside it",
        extensions: ["mib"], readsStacks: true,
        recognize: { head, _ in head.has("MQ1,", at: 0) ? .strong : .no },
        open: { file, _ in try MIBFrames(file: file) })
}
