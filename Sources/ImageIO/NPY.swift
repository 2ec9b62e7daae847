import PeakKit

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0) holding 2-D numeric arrays.
///
/// Reading: dtypes bool (`|b1`), int8/16/32/64, uint8/16/32/64, float32 and float64 in either
/// byte order (`<`, `>`, `|`, `=`; `=`/`|`/none mean native, i.e. little-endian here), C or
/// Fortran order. The shape must be `(rows, columns)` = `(height, width)`; a 3-D shape whose
/// first or last axis is 1 is squeezed to 2-D. Values become `Float` by ordinary conversion
/// (float64, int32/64 and uint32/64 round to the nearest `Float`; bool becomes 0 or 1).
/// Zero-sized arrays (e.g. shape `(0, 5)`) decode to an empty image.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // "\x93NUMPY"

    // MARK: Decoding

    /// Decodes a 2-D array into an `Image` (row `r`, column `c` becomes pixel x = c, y = r).
    public static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        let (g, pixels) = try decodeSingle(bytes, path: path, fill: Float(0)) { $0.decode($1, count: $2, into: $3) }
        return Image(width: g.columns, height: g.rows, pixels: pixels)
    }

    /// Decodes a 2-D array as a mask: non-zero = valid, zero and NaN = invalid.
    public static func decodeMask(_ bytes: [UInt8], path: String) throws -> Mask {
        let (g, valid) = try decodeSingle(bytes, path: path, fill: false) { $0.decodeMask($1, count: $2, into: $3) }
        return Mask(width: g.columns, height: g.rows, isValid: valid)
    }

    /// The header of an NPY file: its element type, 2-D shape and where the data starts.
    public struct Header: Sendable, Equatable {
        public let version: (major: UInt8, minor: UInt8)
        public let descr: String
        public let fortranOrder: Bool
        /// The shape as written in the file (before squeezing).
        public let shape: [Int]
        public let rows: Int
        public let columns: Int
        public let dataOffset: Int

        public static func == (a: Header, b: Header) -> Bool {
            a.version == b.version && a.descr == b.descr && a.fortranOrder == b.fortranOrder
                && a.shape == b.shape && a.dataOffset == b.dataOffset
        }
    }

    /// Parses and validates the header (magic, version, dict, dtype, shape, data length).
    public static func header(_ bytes: [UInt8], path: String) throws -> Header {
        let a = try parse(bytes, path: path)
        return Header(version: a.version, descr: a.descr, fortranOrder: a.fortran,
                      shape: a.shape, rows: a.geometry.rows, columns: a.geometry.columns, dataOffset: a.dataOffset)
    }

    // MARK: Encoding

    /// A float32 array `'<f4'`, C order, shape `(height, width)`, format version 1.0, header
    /// padded with spaces and a final `'\n'` so the data starts at a multiple of 64 bytes.
    public static func encodeFloat32(_ image: Image) -> [UInt8] {
        var out = headerBytes(descr: "<f4", rows: image.height, columns: image.width)
        out.reserveCapacity(out.count + image.count * 4)
        image.pixels.withUnsafeBufferPointer { p in
            for v in p {
                let b = v.bitPattern.littleEndian
                out.append(UInt8(truncatingIfNeeded: b))
                out.append(UInt8(truncatingIfNeeded: b >> 8))
                out.append(UInt8(truncatingIfNeeded: b >> 16))
                out.append(UInt8(truncatingIfNeeded: b >> 24))
            }
        }
        return out
    }

    /// An int32 array `'<i4'`, C order, shape `(height, width)`; `values` are row-major and
    /// must number `width * height` (a programming error otherwise).
    public static func encodeInt32(width: Int, height: Int, values: [Int32]) -> [UInt8] {
        precondition(width >= 0 && height >= 0 && values.count == width * height,
                     "NPY.encodeInt32: \(values.count) values for \(width)x\(height)")
        var out = headerBytes(descr: "<i4", rows: height, columns: width)
        out.reserveCapacity(out.count + values.count * 4)
        for v in values {
            let b = UInt32(bitPattern: v)
            out.append(UInt8(truncatingIfNeeded: b))
            out.append(UInt8(truncatingIfNeeded: b >> 8))
            out.append(UInt8(truncatingIfNeeded: b >> 16))
            out.append(UInt8(truncatingIfNeeded: b >> 24))
        }
        return out
    }

    /// A float64 array `'<f8'`, C order, of any shape (for example a shift field of shape
    /// (rows, columns, 2)); `values` are in C order and must number the product of `shape`.
    public static func encodeFloat64(shape: [Int], values: [Double]) -> [UInt8] {
        precondition(shape.allSatisfy { $0 >= 0 } && values.count == shape.reduce(1, *),
                     "NPY.encodeFloat64: \(values.count) values for shape \(shape)")
        var out = headerBytes(descr: "<f8", shape: shape)
        out.reserveCapacity(out.count + values.count * 8)
        for v in values {
            let b = v.bitPattern.littleEndian
            for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: b >> (8 * k))) }
        }
        return out
    }

    /// The header of a float32 `'<f4'` C-order array of any shape (write the values after it,
    /// little-endian, e.g. frame by frame for a stack).
    public static func float32Header(shape: [Int]) -> [UInt8] { headerBytes(descr: "<f4", shape: shape) }

    static func headerBytes(descr: String, rows: Int, columns: Int) -> [UInt8] {
        headerBytes(descr: descr, shape: [rows, columns])
    }

    /// A float32 array `'<f4'`, C order, of any shape (a stack: (frames, h, w); a scan:
    /// (scan_y, scan_x, h, w)); `values` are in C order and must number the product of `shape`.
    public static func encodeFloat32(shape: [Int], values: [Float]) -> [UInt8] {
        precondition(shape.allSatisfy { $0 >= 0 } && values.count == shape.reduce(1, *),
                     "NPY.encodeFloat32: \(values.count) values for shape \(shape)")
        var out = headerBytes(descr: "<f4", shape: shape)
        out.reserveCapacity(out.count + values.count * 4)
        for v in values {
            let b = v.bitPattern.littleEndian
            for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: b >> (8 * k))) }
        }
        return out
    }

    /// Magic, version 1.0, header length and the padded header dict, as numpy writes them.
    public static func headerBytes(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        let prefix = magic.count + 2 + 2
        let unpadded = prefix + dict.utf8.count + 1 // + "\n"
        let padded = (unpadded + 63) / 64 * 64
        dict += String(repeating: " ", count: padded - unpadded) + "\n"
        let length = dict.utf8.count
        var out = magic
        out += [1, 0, UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8)]
        out += Array(dict.utf8)
        return out
    }

    // MARK: - Parsing

    /// The largest header peaks accepts (numpy writes a few hundred bytes; version 2/3 headers
    /// may declare up to 4 GiB, which must not be allocated on a forged file's word).
    static let maxHeaderBytes = 1 << 20

    struct Parsed {
        let version: (major: UInt8, minor: UInt8)
        let sample: SampleFormat
        let descr: String
        let fortran: Bool
        let shape: [Int]
        let dataOffset: Int
        /// Frames as peaks reads them: (frames, scan, rows, columns).
        let geometry: Geometry
    }

    /// How an N-D shape maps to frames: 2-D is one image, (n, h, w) a stack, (sy, sx, h, w) a scan.
    struct Geometry {
        let frames: Int
        let scan: ScanShape?
        let rows: Int
        let columns: Int
    }

    /// Header bytes needed to parse a file: the preamble's declared length (at most
    /// `maxHeaderBytes`), so a streaming reader reads just the header before anything else.
    static func headerLength(_ head: [UInt8], path: String) throws -> Int {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        guard head.count >= 8, Array(head[0..<6]) == magic else {
            throw fail("not an NPY file (bad magic: expected \\x93NUMPY)")
        }
        let major = head[6], minor = head[7]
        switch major {
        case 1:
            guard head.count >= 10 else { throw fail("truncated NPY header") }
            return 10 + (Int(head[8]) | Int(head[9]) << 8)
        case 2, 3:
            guard head.count >= 12 else { throw fail("truncated NPY header") }
            let n = Int(head[8]) | Int(head[9]) << 8 | Int(head[10]) << 16 | Int(head[11]) << 24
            guard n <= maxHeaderBytes else { throw fail("NPY header claims \(n) bytes (more than \(maxHeaderBytes); forged or corrupt)") }
            return 12 + n
        default:
            throw fail("unsupported NPY format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
    }

    /// Parses and checks a header: `bytes` hold at least the header; `fileSize` is the whole
    /// file's size, against which the data length the shape declares is checked.
    static func parse(_ bytes: [UInt8], fileSize: Int? = nil, path: String) throws -> Parsed {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        let dataOffset = try headerLength(bytes, path: path)
        let major = bytes[6], minor = bytes[7]
        let headerStart = major == 1 ? 10 : 12
        guard dataOffset <= bytes.count else {
            throw fail("truncated NPY header: it claims \(dataOffset - headerStart) bytes, the file has \(bytes.count - headerStart) after the preamble")
        }
        let dict: [String: PyValue]
        do {
            var parser = PyLiteralParser(bytes: bytes, start: headerStart, end: dataOffset)
            dict = try parser.parseHeaderDict()
        } catch {
            throw fail("malformed NPY header: \(error.message)")
        }

        guard let descrValue = dict["descr"] else { throw fail("malformed NPY header: no 'descr' key") }
        guard case let .string(descr) = descrValue else {
            throw fail("unsupported dtype \(descrValue.repr) (structured arrays are not supported)")
        }
        guard let sample = parseDType(descr) else {
            throw fail("unsupported dtype '\(descr)' (supported: bool, int8/16/32/64, uint8/16/32/64, float16, float32, float64)")
        }
        guard let orderValue = dict["fortran_order"] else { throw fail("malformed NPY header: no 'fortran_order' key") }
        guard case let .bool(fortran) = orderValue else {
            throw fail("malformed NPY header: 'fortran_order' is \(orderValue.repr), expected True or False")
        }
        guard let shapeValue = dict["shape"] else { throw fail("malformed NPY header: no 'shape' key") }
        var shape: [Int] = []
        switch shapeValue {
        case let .tuple(items), let .list(items):
            for item in items {
                guard case let .int(n) = item, n >= 0 else {
                    throw fail("malformed NPY header: 'shape' is \(shapeValue.repr), expected a tuple of non-negative integers")
                }
                shape.append(n)
            }
        default:
            throw fail("malformed NPY header: 'shape' is \(shapeValue.repr), expected a tuple")
        }
        let shapeText = PyValue.tuple(shape.map { .int($0) }).repr
        let geometry: Geometry
        switch shape.count {
        case 2:
            geometry = Geometry(frames: 1, scan: nil, rows: shape[0], columns: shape[1])
        case 3 where shape[2] == 1:
            // (rows, columns, 1): one image with a trailing channel axis.
            geometry = Geometry(frames: 1, scan: nil, rows: shape[0], columns: shape[1])
        case 3:
            geometry = Geometry(frames: shape[0], scan: nil, rows: shape[1], columns: shape[2])
        case 4:
            let scan = ScanShape(height: shape[0], width: shape[1])
            geometry = Geometry(frames: shape[0] &* shape[1], scan: scan, rows: shape[2], columns: shape[3])
        default:
            throw fail("expected a 2-D (rows, columns), 3-D (frames, rows, columns) or 4-D (scan_y, scan_x, rows, columns) array, got shape \(shapeText)")
        }
        guard let needed = ReadLimits.product(shape + [sample.size]) else {
            throw fail("array too large: shape \(shapeText)")
        }
        if fortran && geometry.frames > 1 {
            throw fail("Fortran-ordered stacks are not supported (shape \(shapeText)): frames are not contiguous; save with numpy.ascontiguousarray")
        }
        let available = (fileSize ?? bytes.count) - dataOffset
        guard available >= needed else {
            throw fail("truncated data: shape \(shapeText) of '\(descr)' needs \(needed) bytes, the file has \(available)")
        }
        return Parsed(version: (major, minor), sample: sample, descr: descr, fortran: fortran, shape: shape,
                      dataOffset: dataOffset, geometry: geometry)
    }

    /// `'<f4'`, `'>i2'`, `'|b1'`, `'=u8'`, `'f8'` ... -> element kind, size and byte order.
    static func parseDType(_ text: String) -> SampleFormat? {
        var chars = Array(text.utf8)
        var big = 1.littleEndian != 1
        if let first = chars.first {
            switch first {
            case UInt8(ascii: "<"): big = false; chars.removeFirst()
            case UInt8(ascii: ">"): big = true; chars.removeFirst()
            case UInt8(ascii: "|"), UInt8(ascii: "="): chars.removeFirst()
            default: break
            }
        }
        guard chars.count >= 2 else { return nil }
        guard let size = Int(String(decoding: chars[1...], as: UTF8.self)) else { return nil }
        let kind: SampleFormat.Kind
        switch chars[0] {
        case UInt8(ascii: "b"): kind = .bool
        case UInt8(ascii: "i"): kind = .signed
        case UInt8(ascii: "u"): kind = .unsigned
        case UInt8(ascii: "f"): kind = .float
        default: return nil
        }
        let format = SampleFormat(kind, size: size, bigEndian: big)
        return format.isSupported ? format : nil
    }

    // MARK: - Decoding in memory

    /// Decodes the single frame of an in-memory file, transposing Fortran order.
    static func decodeSingle<T>(
        _ bytes: [UInt8], path: String, fill: T,
        _ decode: (SampleFormat, UnsafeRawPointer, Int, UnsafeMutablePointer<T>) -> Void
    ) throws -> (Geometry, [T]) {
        let a = try parse(bytes, path: path)
        let g = a.geometry
        guard g.frames == 1, g.scan == nil else {
            throw PeaksError.file(path: path, reason: "expected one image, got a stack of shape \(PyValue.tuple(a.shape.map { .int($0) }).repr)")
        }
        let count = g.rows &* g.columns
        var out = [T](repeating: fill, count: count)
        guard count > 0 else { return (g, out) }
        bytes.withUnsafeBytes { raw in
            let data = raw.baseAddress! + a.dataOffset
            if !a.fortran {
                out.withUnsafeMutableBufferPointer { decode(a.sample, data, count, $0.baseAddress!) }
            } else {
                // Column-major: element (r, c) is the (c * rows + r)-th in the file.
                var column = [T](repeating: fill, count: count)
                column.withUnsafeMutableBufferPointer { decode(a.sample, data, count, $0.baseAddress!) }
                var i = 0
                for c in 0..<g.columns {
                    for r in 0..<g.rows {
                        out[r &* g.columns &+ c] = column[i]
                        i &+= 1
                    }
                }
            }
        }
        return (g, out)
    }
}

/// The frames of an NPY file, read with `pread` one frame at a time (C order; a Fortran-ordered
/// 2-D array is read whole and transposed).
final class NPYFrames: FrameSource {
    let path: String
    let formatName = "NPY"
    let layout: FrameLayout
    let frames: ContiguousFrames
    let fortran: Bool
    let rows: Int, columns: Int

    init(file: InputFile) throws {
        let head = try file.head(12)
        let length = try NPY.headerLength(head, path: file.path)
        let header = try file.bytes(at: 0, count: min(length, file.size), what: "the NPY header")
        let a = try NPY.parse(header, fileSize: file.size, path: file.path)
        let g = a.geometry
        try ReadLimits.checkFrame(width: g.columns, height: g.rows, path: file.path)
        path = file.path
        fortran = a.fortran
        rows = g.rows
        columns = g.columns
        layout = FrameLayout(width: g.columns, height: g.rows, frameCount: g.frames, scan: g.scan, sampleType: a.sample.description)
        frames = try ContiguousFrames(
            file: file, sample: a.sample, firstOffset: a.dataOffset, pixelsPerFrame: g.rows &* g.columns,
            frameCount: g.frames)
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkFrameIndex(index)
        guard fortran else { return try frames.read(index, into: buffer) }
        var column = [Float](repeating: 0, count: rows &* columns)
        try column.withUnsafeMutableBufferPointer { try frames.read(index, into: $0) }
        transpose(column, into: buffer)
    }

    func readMaskFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        try checkFrameIndex(index)
        guard fortran else { return try frames.readMask(index, into: buffer) }
        var column = [Bool](repeating: false, count: rows &* columns)
        try column.withUnsafeMutableBufferPointer { try frames.readMask(index, into: $0) }
        transpose(column, into: buffer)
    }

    private func transpose<T>(_ column: [T], into out: UnsafeMutableBufferPointer<T>) {
        // A zero-sized frame has nothing to move; without this guard a shape like
        // (0, 31111111111111) would spin through trillions of empty columns (found by FuzzNPY).
        guard rows > 0, columns > 0 else { return }
        var i = 0
        for c in 0..<columns {
            for r in 0..<rows {
                out[r &* columns &+ c] = column[i]
                i &+= 1
            }
        }
    }
}

extension ImageFormat {
    /// NumPy `.npy`, versions 1.0-3.0: 2-D images, 3-D stacks, 4-D scans.
    public static let npy = ImageFormat(
        name: "NPY",
        summary: "NumPy arrays: 2-D image, 3-D (frames, h, w) stack, 4-D (scan_y, scan_x, h, w) scan; bool, (u)int8-64, float16/32/64, either byte order; read frame by frame",
        extensions: ["npy"], readsStacks: true, writes: "float32",
        recognize: { head, _ in head.starts(with: NPY.magic) ? .strong : .no },
        open: { file, _ in try NPYFrames(file: file) },
        encode: { NPY.encodeFloat32($0) })
}
