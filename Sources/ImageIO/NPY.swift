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
        let array = try parse(bytes, path: path)
        let pixels: [Float] = try bytes.withUnsafeBytes { raw in
            try convert(array, raw, path: path, FloatSink.self)
        }
        return Image(width: array.columns, height: array.rows, pixels: pixels)
    }

    /// Decodes a 2-D array as a mask: non-zero = valid, zero and NaN = invalid.
    public static func decodeMask(_ bytes: [UInt8], path: String) throws -> Mask {
        let array = try parse(bytes, path: path)
        let valid: [Bool] = try bytes.withUnsafeBytes { raw in
            try convert(array, raw, path: path, MaskSink.self)
        }
        return Mask(width: array.columns, height: array.rows, isValid: valid)
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
        return Header(version: a.version, descr: a.dtype.text, fortranOrder: a.fortran,
                      shape: a.shape, rows: a.rows, columns: a.columns, dataOffset: a.dataOffset)
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

    static func headerBytes(descr: String, rows: Int, columns: Int) -> [UInt8] {
        headerBytes(descr: descr, shape: [rows, columns])
    }

    /// Magic, version 1.0, header length and the padded header dict, as numpy writes them.
    static func headerBytes(descr: String, shape: [Int]) -> [UInt8] {
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

    enum Kind: Equatable { case bool, signed, unsigned, float }

    struct DType {
        let kind: Kind
        let size: Int
        let swap: Bool // stored in the opposite byte order to this machine's
        let text: String
    }

    struct Parsed {
        let version: (major: UInt8, minor: UInt8)
        let dtype: DType
        let fortran: Bool
        let shape: [Int]
        let rows: Int
        let columns: Int
        let dataOffset: Int
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Parsed {
        func fail(_ reason: String) -> PeaksError { PeaksError.file(path: path, reason: reason) }
        guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
            throw fail("not an NPY file (bad magic: expected \\x93NUMPY)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            guard bytes.count >= 10 else { throw fail("truncated NPY header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated NPY header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported NPY format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw fail("truncated NPY header: it claims \(headerLength) bytes, the file has \(bytes.count - headerStart) after the preamble")
        }
        let dataOffset = headerStart + headerLength
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
        guard let dtype = parseDType(descr) else {
            throw fail("unsupported dtype '\(descr)' (supported: bool, int8/16/32/64, uint8/16/32/64, float32, float64)")
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

        var dims = shape
        if dims.count == 3 {
            if dims[0] == 1 { dims.removeFirst() } else if dims[2] == 1 { dims.removeLast() }
        }
        guard dims.count == 2 else {
            throw fail("expected a 2-D array (rows, columns), got shape \(PyValue.tuple(shape.map { .int($0) }).repr)")
        }
        let rows = dims[0], columns = dims[1]
        let (count, o1) = rows.multipliedReportingOverflow(by: columns)
        let (needed, o2) = count.multipliedReportingOverflow(by: dtype.size)
        guard !o1, !o2 else {
            throw fail("array too large: shape \(PyValue.tuple(shape.map { .int($0) }).repr)")
        }
        let available = bytes.count - dataOffset
        guard available >= needed else {
            throw fail("truncated data: shape \(PyValue.tuple(shape.map { .int($0) }).repr) of '\(descr)' needs \(needed) bytes, the file has \(available)")
        }
        return Parsed(version: (major, minor), dtype: dtype, fortran: fortran, shape: shape,
                      rows: rows, columns: columns, dataOffset: dataOffset)
    }

    /// `'<f4'`, `'>i2'`, `'|b1'`, `'=u8'`, `'f8'` ... -> element kind, size and byte order.
    static func parseDType(_ text: String) -> DType? {
        var chars = Array(text.utf8)
        let hostLittle = 1.littleEndian == 1
        var little = hostLittle
        if let first = chars.first {
            switch first {
            case UInt8(ascii: "<"): little = true; chars.removeFirst()
            case UInt8(ascii: ">"): little = false; chars.removeFirst()
            case UInt8(ascii: "|"), UInt8(ascii: "="): chars.removeFirst()
            default: break
            }
        }
        guard chars.count >= 2 else { return nil }
        let code = chars[0]
        guard let size = Int(String(decoding: chars[1...], as: UTF8.self)) else { return nil }
        let kind: Kind
        switch (code, size) {
        case (UInt8(ascii: "b"), 1): kind = .bool
        case (UInt8(ascii: "i"), 1), (UInt8(ascii: "i"), 2), (UInt8(ascii: "i"), 4), (UInt8(ascii: "i"), 8): kind = .signed
        case (UInt8(ascii: "u"), 1), (UInt8(ascii: "u"), 2), (UInt8(ascii: "u"), 4), (UInt8(ascii: "u"), 8): kind = .unsigned
        case (UInt8(ascii: "f"), 4), (UInt8(ascii: "f"), 8): kind = .float
        default: return nil
        }
        return DType(kind: kind, size: size, swap: size > 1 && little != hostLittle, text: text)
    }

    // MARK: - Conversion

    /// Converts every element to `S.Out`, transposing Fortran-ordered data into row-major order.
    static func convert<S: NPYSink>(
        _ a: Parsed, _ raw: UnsafeRawBufferPointer, path: String, _ sink: S.Type
    ) throws -> [S.Out] {
        let count = a.rows &* a.columns
        guard count > 0 else { return [] }
        let data = UnsafeRawBufferPointer(rebasing: raw[a.dataOffset...])
        let swap = a.dtype.swap
        return [S.Out](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let out = buffer.baseAddress else { return }
            func fill(_ load: (UnsafeRawBufferPointer, Int) -> S.Out) {
                let size = a.dtype.size
                if !a.fortran {
                    for i in 0..<count { (out + i).initialize(to: load(data, i &* size)) }
                } else {
                    // Column-major: element (r, c) is the (c * rows + r)-th in the file.
                    var i = 0
                    let rows = a.rows, columns = a.columns
                    for c in 0..<columns {
                        for r in 0..<rows {
                            (out + (r &* columns &+ c)).initialize(to: load(data, i &* size))
                            i &+= 1
                        }
                    }
                }
            }
            switch (a.dtype.kind, a.dtype.size) {
            case (.bool, _): fill { p, o in S.from(bool: p[o]) }
            case (.signed, 1): fill { p, o in S.from(Int8(bitPattern: p[o])) }
            case (.unsigned, 1): fill { p, o in S.from(p[o]) }
            case (.signed, 2): fill { p, o in S.from(Int16(bitPattern: load(p, o, UInt16.self, swap))) }
            case (.unsigned, 2): fill { p, o in S.from(load(p, o, UInt16.self, swap)) }
            case (.signed, 4): fill { p, o in S.from(Int32(bitPattern: load(p, o, UInt32.self, swap))) }
            case (.unsigned, 4): fill { p, o in S.from(load(p, o, UInt32.self, swap)) }
            case (.signed, 8): fill { p, o in S.from(Int64(bitPattern: load(p, o, UInt64.self, swap))) }
            case (.unsigned, 8): fill { p, o in S.from(load(p, o, UInt64.self, swap)) }
            case (.float, 4): fill { p, o in S.from(Float(bitPattern: load(p, o, UInt32.self, swap))) }
            case (.float, 8): fill { p, o in S.from(Double(bitPattern: load(p, o, UInt64.self, swap))) }
            default: fill { _, _ in S.from(bool: 0) } // unreachable: parseDType accepts only the above
            }
            initialized = count
        }
    }

    @inline(__always)
    static func load<T: FixedWidthInteger & BitwiseCopyable>(
        _ p: UnsafeRawBufferPointer, _ offset: Int, _: T.Type, _ swap: Bool
    ) -> T {
        let v = p.loadUnaligned(fromByteOffset: offset, as: T.self)
        return swap ? v.byteSwapped : v
    }
}

/// What an NPY element becomes: a `Float` pixel or a mask flag.
protocol NPYSink {
    associatedtype Out
    static func from<I: BinaryInteger>(_ v: I) -> Out
    static func from(_ v: Float) -> Out
    static func from(_ v: Double) -> Out
    static func from(bool: UInt8) -> Out
}

enum FloatSink: NPYSink {
    @inline(__always) static func from<I: BinaryInteger>(_ v: I) -> Float { Float(v) }
    @inline(__always) static func from(_ v: Float) -> Float { v }
    @inline(__always) static func from(_ v: Double) -> Float { Float(v) }
    @inline(__always) static func from(bool: UInt8) -> Float { bool != 0 ? 1 : 0 }
}

/// Mask semantics: non-zero = valid; NaN = invalid. Evaluated on the stored value (a float64
/// of 1e-300 is valid even though it would round to 0 as a Float).
enum MaskSink: NPYSink {
    @inline(__always) static func from<I: BinaryInteger>(_ v: I) -> Bool { v != 0 }
    @inline(__always) static func from(_ v: Float) -> Bool { v != 0 && !v.isNaN }
    @inline(__always) static func from(_ v: Double) -> Bool { v != 0 && !v.isNaN }
    @inline(__always) static func from(bool: UInt8) -> Bool { bool != 0 }
}
