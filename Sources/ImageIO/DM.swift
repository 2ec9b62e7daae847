#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// Gatan DigitalMicrograph `.dm3` / `.dm4` files.
///
/// The file is a tree of tags. Its header: version (3 or 4, big-endian), the root's length
/// (4 bytes in DM3, 8 in DM4) and a byte-order flag for the tag *data* (1 = little-endian); the
/// tree's own sizes and type codes are always big-endian, 4 bytes wide in DM3 and 8 in DM4.
///
/// The image is an entry of `ImageList`: the entries listed under `Thumbnails` are skipped, and of
/// the others the one with the most pixels is read (the first on a tie). Its `ImageData` gives
/// `DataType`, `Dimensions` (x = columns, y = rows, then frames; a 4th dimension makes a scan of
/// dimension 3 × dimension 4 positions) and `Calibrations` (per axis Scale, Origin, Units, and
/// Brightness for the intensity). The pixels are not loaded: only the data array's offset is kept
/// and each frame is read from it on demand.
///
/// Data types read: 1 int16, 2 float32, 6 uint8, 7 int32, 9 int8, 10 uint16, 11 uint32,
/// 12 float64, 14 binary (0/1), 8 and 23 RGB(A) (luminance 0.299 R + 0.587 G + 0.114 B).
/// Complex types (3, 5, 13, 27, 28) are refused, as are 1-D data (spectra) and more than 4-D.
public enum DM {
    /// One node of the tag tree (only what the reader needs is kept: numbers, where arrays are).
    indirect enum Node {
        case group([(name: String, node: Node)])
        case number(Double)
        /// An array: element type code (a simple type, or 15 struct, 18 string, 20 array), element
        /// count, byte offset in the file and total bytes.
        case array(type: Int, count: Int, offset: Int, bytes: Int)
        /// Strings, structs and nested arrays: skipped.
        case other

        subscript(_ name: String) -> Node? {
            guard case let .group(children) = self else { return nil }
            return children.first { $0.name == name }?.node
        }
        var children: [(name: String, node: Node)] {
            if case let .group(c) = self { return c }
            return []
        }
        var number: Double? {
            if case let .number(v) = self { return v }
            return nil
        }
    }

    /// Bytes of one element of a simple tag type (0 = not simple).
    static func simpleSize(_ type: Int) -> Int {
        switch type {
        case 2, 4: return 2
        case 3, 5, 6: return 4
        case 7, 11, 12: return 8
        case 8, 9, 10: return 1
        default: return 0
        }
    }

    static let maxDepth = 64

    /// The parsed tag tree and what the reader found in it.
    struct Parsed {
        let version: Int
        let littleEndian: Bool
        let root: Node
    }

    /// Reads the tag tree. Array data is skipped, never loaded.
    static func parse(_ file: InputFile) throws -> Parsed {
        var r = TagReader(file: file)
        let version = try r.bigEndian(4)
        guard version == 3 || version == 4 else {
            throw PeaksError.file(path: file.path, reason: "unsupported DigitalMicrograph version \(version) (supported: 3 and 4)")
        }
        r.wide = version == 4
        _ = try r.bigEndian(r.wide ? 8 : 4)  // root length
        let order = try r.bigEndian(4)
        r.little = order == 1
        let root = try r.group(depth: 0)
        return Parsed(version: version, littleEndian: r.little, root: root)
    }

    /// A cursor over the file with a small read-ahead window.
    struct TagReader {
        let file: InputFile
        var pos = 0
        var wide = false
        var little = true
        var window: [UInt8] = []
        var windowStart = 0

        init(file: InputFile) { self.file = file }

        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: file.path, reason: reason) }

        mutating func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, pos <= file.size, n <= file.size - pos else {
                throw fail("truncated: the DigitalMicrograph tag tree needs bytes \(pos)..<\(pos &+ n) but the file has \(file.size)")
            }
            if pos < windowStart || pos + n > windowStart + window.count {
                let count = min(max(n, 1 << 16), file.size - pos)
                window = try file.bytes(at: pos, count: count, what: "the DigitalMicrograph tag tree")
                windowStart = pos
            }
            let s = pos - windowStart
            pos += n
            return window[(window.startIndex + s)..<(window.startIndex + s + n)]
        }

        mutating func skip(_ n: Int) throws {
            guard n >= 0, pos <= file.size, n <= file.size - pos else {
                throw fail("truncated: a DigitalMicrograph tag at byte \(pos) declares \(n) bytes of data, the file has \(file.size - pos) left")
            }
            pos += n
        }

        mutating func bigEndian(_ n: Int) throws -> Int {
            var v: UInt64 = 0
            for b in try bytes(n) { v = v << 8 | UInt64(b) }
            guard v <= UInt64(Int.max) else { throw fail("corrupt DigitalMicrograph tag tree: a size of \(v) at byte \(pos - n)") }
            return Int(v)
        }

        /// A size or count field (4 bytes in DM3, 8 in DM4).
        mutating func field() throws -> Int { try bigEndian(wide ? 8 : 4) }

        /// A simple value in the data byte order.
        mutating func simple(_ type: Int) throws -> Double {
            let size = simpleSize(type)
            let raw = try bytes(size)
            var u: UInt64 = 0
            for (k, b) in raw.enumerated() { u |= UInt64(b) << UInt64(8 * (little ? k : size - 1 - k)) }
            switch type {
            case 2: return Double(Int16(truncatingIfNeeded: u))
            case 3: return Double(Int32(truncatingIfNeeded: u))
            case 4: return Double(UInt16(truncatingIfNeeded: u))
            case 5: return Double(UInt32(truncatingIfNeeded: u))
            case 6: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: u)))
            case 7: return Double(bitPattern: u)
            case 8, 10: return Double(UInt8(truncatingIfNeeded: u))
            case 9: return Double(Int8(truncatingIfNeeded: u))
            case 11: return Double(Int64(bitPattern: u))
            default: return Double(u)
            }
        }

        /// A tag group (after its tag header): sorted, open, count, then the tags.
        mutating func group(depth: Int) throws -> Node {
            guard depth <= maxDepth else { throw fail("corrupt DigitalMicrograph tag tree: groups nested deeper than \(maxDepth)") }
            _ = try bytes(2)  // sorted, open
            let count = try field()
            var children: [(String, Node)] = []
            var k = 0
            while k < count {
                let kind = try bigEndian(1)
                let nameLength = try bigEndian(2)
                let name = String(decoding: try bytes(nameLength), as: UTF8.self)
                if wide { _ = try field() }  // the tag's length in bytes (DM4)
                switch kind {
                case 20:
                    children.append((name, try group(depth: depth + 1)))
                case 21:
                    children.append((name, try data()))
                default:
                    throw fail("corrupt DigitalMicrograph tag tree: tag type \(kind) at byte \(pos - nameLength - 3) (expected 20 or 21)")
                }
                k += 1
            }
            return .group(children)
        }

        /// A data tag: "%%%%", the type description, the data.
        mutating func data() throws -> Node {
            let start = pos
            guard try bytes(4).elementsEqual("%%%%".utf8) else {
                throw fail("corrupt DigitalMicrograph tag tree: no '%%%%' marker at byte \(start)")
            }
            let n = try field()
            guard n >= 1, n <= 4096 else { throw fail("corrupt DigitalMicrograph tag tree: a type description of \(n) entries at byte \(start)") }
            var info: [Int] = []
            for _ in 0..<n { info.append(try field()) }
            if n == 1 {
                guard simpleSize(info[0]) > 0 else { throw fail("corrupt DigitalMicrograph tag tree: unknown data type \(info[0]) at byte \(start)") }
                return .number(try simple(info[0]))
            }
            var i = 0
            guard let size = DM.typeSize(info, &i, depth: 0) else {
                throw fail("corrupt DigitalMicrograph tag tree: unreadable type description \(info.prefix(8)) at byte \(start)")
            }
            let offset = pos
            try skip(size)
            if info[0] == 20, let count = info.last {
                return .array(type: info[1], count: count, offset: offset, bytes: size)
            }
            return .other
        }
    }

    /// Bytes of the type described from `info[i]` on (nil when malformed or too large).
    static func typeSize(_ info: [Int], _ i: inout Int, depth: Int) -> Int? {
        guard depth < 16, i < info.count else { return nil }
        let t = info[i]
        i += 1
        let simple = simpleSize(t)
        if simple > 0 { return simple }
        switch t {
        case 18:  // string: length
            guard i < info.count else { return nil }
            i += 1
            return info[i - 1]
        case 15:  // struct: name length, field count, (name length, type) per field
            guard i + 1 < info.count else { return nil }
            let fields = info[i + 1]
            i += 2
            var total = 0
            var f = 0
            while f < fields {
                i += 1
                guard let s = typeSize(info, &i, depth: depth + 1) else { return nil }
                let (sum, o) = total.addingReportingOverflow(s)
                guard !o else { return nil }
                total = sum
                f += 1
            }
            return total
        case 20:  // array: element type, count
            guard let element = typeSize(info, &i, depth: depth + 1), i < info.count else { return nil }
            let count = info[i]
            i += 1
            return ReadLimits.product([element, count])
        default:
            return nil
        }
    }

    /// Bytes per pixel of a DM image `DataType` and how it decodes (nil sample = RGB).
    static func pixelFormat(_ dataType: Int, littleEndian: Bool, path: String) throws -> (bytes: Int, sample: SampleFormat?, name: String) {
        let big = !littleEndian
        switch dataType {
        case 1: return (2, .int16(bigEndian: big), "int16")
        case 2: return (4, .float32(bigEndian: big), "float32")
        case 6: return (1, .uint8, "uint8")
        case 7: return (4, .int32(bigEndian: big), "int32")
        case 9: return (1, .int8, "int8")
        case 10: return (2, .uint16(bigEndian: big), "uint16")
        case 11: return (4, .uint32(bigEndian: big), "uint32")
        case 12: return (8, .float64(bigEndian: big), "float64")
        case 14: return (1, SampleFormat(.bool, size: 1), "bool")
        case 8, 23: return (4, nil, "rgba8")
        case 3, 13, 5, 27, 28:
            throw PeaksError.file(path: path, reason: "unsupported DigitalMicrograph data type \(dataType) (complex data, e.g. an FFT): peaks reads real images")
        default:
            throw PeaksError.file(path: path, reason: "unsupported DigitalMicrograph data type \(dataType) (supported: 1 int16, 2 float32, 6 uint8, 7 int32, 9 int8, 10 uint16, 11 uint32, 12 float64, 14 binary, 8/23 RGB)")
        }
    }
}

/// The frames of a DM3/DM4 image, read from the data array's offset on demand.
final class DMFrames: FrameSource {
    let path: String
    let formatName: String
    let layout: FrameLayout
    let file: InputFile
    let metadata: [(String, Value)]
    let frames: ContiguousFrames?
    /// RGB data: first offset of the pixels and byte order.
    let rgbOffset: Int
    let little: Bool

    init(file: InputFile) throws {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: file.path, reason: reason) }
        let parsed = try DM.parse(file)
        path = file.path
        self.file = file
        little = parsed.littleEndian
        formatName = "DM\(parsed.version)"
        guard let list = parsed.root["ImageList"], !list.children.isEmpty else {
            throw fail("no image in this DigitalMicrograph file (no ImageList)")
        }
        var thumbnails = Set<Int>()
        for (_, t) in parsed.root["Thumbnails"]?.children ?? [] {
            if let i = t["ImageIndex"]?.number, i >= 0, i < 1e9 { thumbnails.insert(Int(i)) }
        }
        // The candidate with the most pixels (first on ties), thumbnails skipped.
        var best: (index: Int, node: DM.Node, pixels: Int)?
        var candidates = 0
        for (k, entry) in list.children.enumerated() where !thumbnails.contains(k) {
            guard let data = entry.node["ImageData"], case .array = data["Data"] else { continue }
            candidates += 1
            let dims = data["Dimensions"]?.children.compactMap { $0.node.number } ?? []
            let pixels = dims.allSatisfy({ $0 >= 0 && $0 < 1e12 }) ? (ReadLimits.product(dims.map { Int($0) }) ?? Int.max) : Int.max
            if best == nil || pixels > best!.pixels { best = (k, entry.node, pixels) }
        }
        guard let best, let imageData = best.node["ImageData"], case let .array(_, _, arrayOffset, arrayBytes)? = imageData["Data"] else {
            throw fail("no image data in this DigitalMicrograph file (ImageList holds \(list.children.count) entr\(list.children.count == 1 ? "y" : "ies"), none with ImageData.Data outside the thumbnails)")
        }
        guard let typeCode = imageData["DataType"]?.number, typeCode >= 0, typeCode < 1000 else {
            throw fail("DigitalMicrograph image without a DataType tag")
        }
        let dataType = Int(typeCode)
        let dimValues = imageData["Dimensions"]?.children.compactMap { $0.node.number } ?? []
        guard dimValues.allSatisfy({ $0 >= 1 && $0 <= 1e9 && $0 == $0.rounded() }) else {
            throw fail("DigitalMicrograph image with invalid dimensions \(dimValues)")
        }
        let dims = dimValues.map { Int($0) }
        switch dims.count {
        case 0: throw fail("DigitalMicrograph image without Dimensions")
        case 1: throw fail("the DigitalMicrograph data is 1-D (\(dims[0]) values, a spectrum?), not an image")
        case 2, 3, 4: break
        default: throw fail("the DigitalMicrograph data is \(dims.count)-D \(dims); peaks reads 2-D images, 3-D stacks and 4-D scans")
        }
        let format = try DM.pixelFormat(dataType, littleEndian: parsed.littleEndian, path: file.path)
        let width = dims[0], height = dims[1]
        let frameCount = ReadLimits.product(Array(dims.dropFirst(2))) ?? Int.max
        let scan = dims.count == 4 ? ScanShape(height: dims[3], width: dims[2]) : nil
        try ReadLimits.checkFrame(width: width, height: height, path: file.path)
        // The array must hold every pixel of every frame.
        guard let needed = ReadLimits.product([width, height, frameCount, format.bytes]), arrayBytes >= needed
        else {
            throw fail("DigitalMicrograph image data is smaller than its dimensions \(dims.map(String.init).joined(separator: "x")) of \(format.name) need")
        }
        layout = FrameLayout(width: width, height: height, frameCount: frameCount, scan: scan, sampleType: format.name)
        rgbOffset = arrayOffset
        if let sample = format.sample {
            frames = try ContiguousFrames(
                file: file, sample: sample, firstOffset: arrayOffset, pixelsPerFrame: width &* height,
                frameCount: frameCount, what: "the DigitalMicrograph image data")
        } else {
            frames = nil
            _ = try ContiguousFrames(
                file: file, sample: .uint32(), firstOffset: arrayOffset, pixelsPerFrame: width &* height,
                frameCount: frameCount, what: "the DigitalMicrograph image data")
        }

        // Metadata: which image, calibrations per axis, intensity calibration.
        var meta: [(String, Value)] = [
            ("dm_version", .integer(parsed.version)),
            ("dm_data_type", .integer(dataType)),
            ("image_index", .integer(best.index)),
            ("images_in_file", .integer(candidates)),
        ]
        func string(_ node: DM.Node?) -> String? {
            guard case let .array(type, count, offset, _)? = node, count <= 1024 else { return nil }
            let size = DM.simpleSize(type)
            guard size == 1 || size == 2, let raw = try? file.bytes(at: offset, count: count * size, what: "a DigitalMicrograph string") else { return nil }
            var units: [UInt16] = []
            for k in 0..<count {
                units.append(size == 1 ? UInt16(raw[k]) : parsed.littleEndian ? UInt16(raw[2 * k]) | UInt16(raw[2 * k + 1]) << 8 : UInt16(raw[2 * k]) << 8 | UInt16(raw[2 * k + 1]))
            }
            return String(decoding: units, as: UTF16.self)
        }
        if let name = string(best.node["Name"]), !name.isEmpty { meta.append(("image_name", .string(name))) }
        let names = dims.count == 4 ? ["x", "y", "scan_x", "scan_y"] : ["x", "y", "frame"]
        let calibrations = imageData["Calibrations"]
        for (k, (_, c)) in (calibrations?["Dimension"]?.children ?? []).enumerated() where k < dims.count {
            if let s = c["Scale"]?.number { meta.append(("\(names[k])_scale", .number(s))) }
            if let o = c["Origin"]?.number { meta.append(("\(names[k])_origin", .number(o))) }
            if let u = string(c["Units"]) { meta.append(("\(names[k])_units", .string(u))) }
        }
        if let b = calibrations?["Brightness"] {
            if let s = b["Scale"]?.number { meta.append(("intensity_scale", .number(s))) }
            if let o = b["Origin"]?.number { meta.append(("intensity_origin", .number(o))) }
            if let u = string(b["Units"]) { meta.append(("intensity_units", .string(u))) }
        }
        metadata = meta
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        if let frames { return try frames.read(index, into: buffer) }
        // RGB(A): four bytes per pixel, B G R A in file order (little-endian files).
        let n = layout.pixelsPerFrame
        let raw = try file.bytes(at: rgbOffset + index * n * 4, count: n * 4, what: "frame \(index)")
        let (r, g, b) = little ? (2, 1, 0) : (1, 2, 3)
        for i in 0..<n {
            let lum = 0.299 * Double(raw[4 * i + r]) + 0.587 * Double(raw[4 * i + g]) + 0.114 * Double(raw[4 * i + b])
            buffer[i] = Float(lum)
        }
    }

    func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try checkFrameIndex(index)
        if let frames { return try frames.readMask(index, into: buffer) }
        let n = layout.pixelsPerFrame
        var values = [Float](repeating: 0, count: n)
        try values.withUnsafeMutableBufferPointer { try readFrame(index, into: $0) }
        for i in 0..<n { buffer[i] = values[i] != 0 }
    }
}

extension ImageFormat {
    /// Gatan DigitalMicrograph DM3/DM4: the main image of ImageList, read lazily.
    public static let dm = ImageFormat(
        name: "DM",
        summary: "Gatan DigitalMicrograph .dm3/.dm4: the main image (thumbnails skipped), int8-32, uint8-32, float32/64, binary, RGB (luminance); 2-D, 3-D stacks, 4-D scans; calibrations in metadata",
        extensions: ["dm3", "dm4"], readsStacks: true,
        recognize: { head, size in
            // Version 3 or 4 (big-endian), then a byte-order flag of 0 or 1.
            guard head.count >= 16, head[0] == 0, head[1] == 0, head[2] == 0, head[3] == 3 || head[3] == 4 else { return .no }
            let flag = head[3] == 3 ? Array(head[8..<12]) : Array(head[12..<16])
            guard flag == [0, 0, 0, 1] || flag == [0, 0, 0, 0] else { return .no }
            return .strong
        },
        open: { file, _ in try DMFrames(file: file) })
}
