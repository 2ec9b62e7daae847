import PeakKit

/// How one stored element is laid out: kind, size in bytes and byte order. Every binary reader
/// (NPY, MRC, MIB, DM3/DM4, ...) turns its header's type code into one of these and decodes
/// pixels with `decode`, so the conversion rules are written once:
///
/// - integers become the nearest `Float` (exact up to 2^24; int32/64 and uint32/64 above that round);
/// - float64 rounds to the nearest `Float`; float16 is widened exactly;
/// - bool becomes 0 or 1.
public struct SampleFormat: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case bool, signed, unsigned, float }

    public let kind: Kind
    /// Bytes per element: 1, 2, 4 or 8 (2 for float16).
    public let size: Int
    public let bigEndian: Bool

    public init(_ kind: Kind, size: Int, bigEndian: Bool = false) {
        self.kind = kind
        self.size = size
        self.bigEndian = bigEndian
    }

    public static let uint8 = SampleFormat(.unsigned, size: 1)
    public static let int8 = SampleFormat(.signed, size: 1)
    public static func uint16(bigEndian: Bool = false) -> SampleFormat { .init(.unsigned, size: 2, bigEndian: bigEndian) }
    public static func int16(bigEndian: Bool = false) -> SampleFormat { .init(.signed, size: 2, bigEndian: bigEndian) }
    public static func uint32(bigEndian: Bool = false) -> SampleFormat { .init(.unsigned, size: 4, bigEndian: bigEndian) }
    public static func int32(bigEndian: Bool = false) -> SampleFormat { .init(.signed, size: 4, bigEndian: bigEndian) }
    public static func float32(bigEndian: Bool = false) -> SampleFormat { .init(.float, size: 4, bigEndian: bigEndian) }
    public static func float64(bigEndian: Bool = false) -> SampleFormat { .init(.float, size: 8, bigEndian: bigEndian) }

    /// `uint16`, `float32`, `bool`, ... (numpy's names).
    public var description: String {
        switch kind {
        case .bool: return "bool"
        case .signed: return "int\(size * 8)"
        case .unsigned: return "uint\(size * 8)"
        case .float: return "float\(size * 8)"
        }
    }

    /// True when the combination is one `decode` handles.
    public var isSupported: Bool {
        switch kind {
        case .bool: return size == 1
        case .signed, .unsigned: return [1, 2, 4, 8].contains(size)
        case .float: return [2, 4, 8].contains(size)
        }
    }

    var needsSwap: Bool { size > 1 && bigEndian == (1.littleEndian == 1) }

    /// True when the stored bytes already are this machine's `Float`s (decoding is a copy).
    public var isNativeFloat32: Bool { kind == .float && size == 4 && !needsSwap }

    /// Decodes `count` consecutive elements of `raw` into `out`.
    ///
    /// - Parameters:
    ///   - raw: At least `count * size` bytes.
    ///   - count: Elements to decode.
    ///   - out: Destination of `count` Floats.
    public func decode(_ raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        decode(raw, count: count, FloatOut(out))
    }

    /// Decodes `count` elements as validity flags: non-zero and not NaN = valid (on the stored
    /// value: a float64 of 1e-300 is valid although it rounds to a Float 0).
    public func decodeMask(_ raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Bool>) {
        decode(raw, count: count, BoolOut(out))
    }

    private func decode<O: SampleOut>(_ raw: UnsafeRawPointer, count: Int, _ o: O) {
        let swap = needsSwap
        @inline(__always) func each<T: FixedWidthInteger>(_: T.Type, _ f: (T) -> Void) {
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: i &* MemoryLayout<T>.size, as: T.self)
                f(swap ? v.byteSwapped : v)
            }
        }
        var i = 0
        switch (kind, size) {
        case (.bool, _): each(UInt8.self) { o.set(i, bool: $0); i &+= 1 }
        case (.unsigned, 1): each(UInt8.self) { o.set(i, $0); i &+= 1 }
        case (.signed, 1): each(UInt8.self) { o.set(i, Int8(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 2): each(UInt16.self) { o.set(i, $0); i &+= 1 }
        case (.signed, 2): each(UInt16.self) { o.set(i, Int16(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 4): each(UInt32.self) { o.set(i, $0); i &+= 1 }
        case (.signed, 4): each(UInt32.self) { o.set(i, Int32(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 8): each(UInt64.self) { o.set(i, $0); i &+= 1 }
        case (.signed, 8): each(UInt64.self) { o.set(i, Int64(bitPattern: $0)); i &+= 1 }
        case (.float, 2): each(UInt16.self) { o.set(i, Self.halfToFloat($0)); i &+= 1 }
        case (.float, 4): each(UInt32.self) { o.set(i, Float(bitPattern: $0)); i &+= 1 }
        case (.float, 8): each(UInt64.self) { o.set(i, Double(bitPattern: $0)); i &+= 1 }
        default: for k in 0..<count { o.set(k, bool: 0) }
        }
    }

    /// IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN included).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24.
            let v = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}

private protocol SampleOut {
    func set<I: BinaryInteger>(_ i: Int, _ v: I)
    func set(_ i: Int, _ v: Float)
    func set(_ i: Int, _ v: Double)
    func set(_ i: Int, bool: UInt8)
}

private struct FloatOut: SampleOut {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
    @inline(__always) func set<I: BinaryInteger>(_ i: Int, _ v: I) { p[i] = Float(v) }
    @inline(__always) func set(_ i: Int, _ v: Float) { p[i] = v }
    @inline(__always) func set(_ i: Int, _ v: Double) { p[i] = Float(v) }
    @inline(__always) func set(_ i: Int, bool: UInt8) { p[i] = bool != 0 ? 1 : 0 }
}

private struct BoolOut: SampleOut {
    let p: UnsafeMutablePointer<Bool>
    init(_ p: UnsafeMutablePointer<Bool>) { self.p = p }
    @inline(__always) func set<I: BinaryInteger>(_ i: Int, _ v: I) { p[i] = v != 0 }
    @inline(__always) func set(_ i: Int, _ v: Float) { p[i] = v != 0 && !v.isNaN }
    @inline(__always) func set(_ i: Int, _ v: Double) { p[i] = v != 0 && !v.isNaN }
    @inline(__always) func set(_ i: Int, bool: UInt8) { p[i] = bool != 0 }
}

/// A frame stored as one contiguous run of elements at a known offset: reading it is one `pread`
/// and one decode. Most binary formats (NPY, MRC, MIB, raw DM data, uncompressed TIFF strips laid
/// out back to back) reduce to this.
public struct ContiguousFrames: Sendable {
    public let file: InputFile
    public let sample: SampleFormat
    /// Byte offset of frame `i`: `firstOffset + i * frameStride`.
    public let firstOffset: Int
    public let frameStride: Int
    public let pixelsPerFrame: Int

    /// Checks that every frame lies inside the file before anything is read.
    ///
    /// - Throws: `PeaksError.file` when the declared frames need more bytes than the file holds.
    public init(file: InputFile, sample: SampleFormat, firstOffset: Int, frameStride: Int? = nil,
                pixelsPerFrame: Int, frameCount: Int, what: String = "the data") throws {
        self.file = file
        self.sample = sample
        self.firstOffset = firstOffset
        self.pixelsPerFrame = pixelsPerFrame
        let frameBytes = ReadLimits.product([pixelsPerFrame, sample.size])
        let stride = frameStride ?? frameBytes ?? Int.max
        self.frameStride = stride
        guard let frameBytes, frameCount >= 0,
              let span = ReadLimits.product([max(frameCount - 1, 0), stride]),
              firstOffset >= 0
        else {
            throw PeaksError.file(path: file.path, reason: "\(what) is too large to address (\(frameCount) frames of \(pixelsPerFrame) \(sample) pixels)")
        }
        let (end, o) = firstOffset.addingReportingOverflow(span)
        let (last, o2) = end.addingReportingOverflow(frameCount > 0 ? frameBytes : 0)
        guard !o, !o2, last <= file.size else {
            throw PeaksError.file(
                path: file.path,
                reason: "truncated: \(what) (\(frameCount) frame\(frameCount == 1 ? "" : "s") of \(pixelsPerFrame) \(sample) pixels from byte \(firstOffset)) needs \(o || o2 ? "more than \(Int.max)" : String(last)) bytes, the file has \(file.size)")
        }
    }

    /// Reads and decodes frame `index`.
    public func read(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let offset = firstOffset + index * frameStride
        let bytes = pixelsPerFrame * sample.size
        guard let out = buffer.baseAddress, pixelsPerFrame > 0 else { return }
        if sample.isNativeFloat32 {
            try file.read(into: UnsafeMutableRawPointer(out), count: bytes, at: offset, what: "frame \(index)")
            return
        }
        // Decode in blocks through a small buffer: the frame's raw bytes never exist whole twice.
        let block = 1 << 18
        let raw = UnsafeMutableRawPointer.allocate(byteCount: min(bytes, block * sample.size), alignment: 16)
        defer { raw.deallocate() }
        var done = 0
        while done < pixelsPerFrame {
            let n = min(block, pixelsPerFrame - done)
            try file.read(into: raw, count: n * sample.size, at: offset + done * sample.size, what: "frame \(index)")
            sample.decode(raw, count: n, into: out + done)
            done += n
        }
    }

    /// Reads frame `index` as validity flags (see `SampleFormat.decodeMask`).
    public func readMask(_ index: Int, into buffer: UnsafeMutableBufferPointer<Bool>) throws {
        let bytes = pixelsPerFrame * sample.size
        guard let out = buffer.baseAddress, pixelsPerFrame > 0 else { return }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        defer { raw.deallocate() }
        try file.read(into: raw, count: bytes, at: firstOffset + index * frameStride, what: "frame \(index)")
        sample.decodeMask(raw, count: pixelsPerFrame, into: out)
    }
}
