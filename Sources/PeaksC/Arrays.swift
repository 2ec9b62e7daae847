import ImageIO
import PeakKit

/// A caller's array as described by a `peaks_array` (include/peaks.h): base pointer, element
/// type, shape and strides in bytes (any sign). Nothing is copied until a frame is read.
struct ArrayView: @unchecked Sendable {
    let base: UnsafeRawPointer
    let sample: SampleFormat
    let shape: [Int]
    let strides: [Int]

    /// The `peaks_array` layout: { const void *data; int32_t dtype; int32_t ndim;
    /// const int64_t *shape; const int64_t *strides; } (32 bytes on 64-bit platforms).
    static let dataOffset = 0, dtypeOffset = 8, ndimOffset = 12, shapeOffset = 16, stridesOffset = 24

    /// Reads and checks a `peaks_array`.
    ///
    /// - Parameters:
    ///   - raw: The struct (must not be NULL; callers pass NULL only for optional masks).
    ///   - what: How messages name the array ("image", "mask", "reference image").
    /// - Throws: `CallError` for a malformed description (bad type code, negative size, NULL
    ///   data with a non-empty shape); never reads the data.
    init(_ raw: UnsafeRawPointer, what: String) throws {
        let data = raw.load(fromByteOffset: Self.dataOffset, as: UnsafeRawPointer?.self)
        let code = raw.load(fromByteOffset: Self.dtypeOffset, as: Int32.self)
        let ndim = Int(raw.load(fromByteOffset: Self.ndimOffset, as: Int32.self))
        let shapePointer = raw.load(fromByteOffset: Self.shapeOffset, as: UnsafePointer<Int64>?.self)
        let stridesPointer = raw.load(fromByteOffset: Self.stridesOffset, as: UnsafePointer<Int64>?.self)
        guard let sample = Self.sampleFormat(code) else {
            throw CallError("\(what): unknown element type code \(code) (see PEAKS_DTYPE_* in peaks.h)")
        }
        guard ndim >= 0, ndim <= 32 else { throw CallError("\(what): ndim \(ndim) is out of range") }
        guard ndim == 0 || (shapePointer != nil && stridesPointer != nil) else {
            throw CallError("\(what): shape or strides is NULL")
        }
        var shape: [Int] = [], strides: [Int] = []
        var count = 1
        for i in 0..<ndim {
            let n = Int(shapePointer![i]), s = Int(stridesPointer![i])
            guard n >= 0 else { throw CallError("\(what): negative size \(n) in dimension \(i)") }
            let (c, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw CallError("\(what): the shape's element count overflows") }
            count = c
            shape.append(n)
            strides.append(s)
        }
        if count > 0 && data == nil { throw CallError("\(what): data is NULL") }
        // A frame larger than the readers allow (a broadcast view of 10^6 x 10^6) fails with
        // one line instead of exhausting memory.
        if ndim >= 2 { try ReadLimits.checkFrame(width: shape[ndim - 1], height: shape[ndim - 2], path: what) }
        self.base = data ?? UnsafeRawPointer(bitPattern: 1)!
        self.sample = sample
        self.shape = shape
        self.strides = strides
    }

    /// Type codes of peaks.h: PEAKS_DTYPE_BOOL = 0 ... PEAKS_DTYPE_FLOAT64 = 11, plus
    /// PEAKS_BIG_ENDIAN (0x100) for big-endian storage.
    static func sampleFormat(_ code: Int32) -> SampleFormat? {
        let big = code & 0x100 != 0
        switch code & ~0x100 {
        case 0: return SampleFormat(.bool, size: 1)
        case 1: return .int8
        case 2: return .uint8
        case 3: return .int16(bigEndian: big)
        case 4: return .uint16(bigEndian: big)
        case 5: return .int32(bigEndian: big)
        case 6: return .uint32(bigEndian: big)
        case 7: return SampleFormat(.signed, size: 8, bigEndian: big)
        case 8: return SampleFormat(.unsigned, size: 8, bigEndian: big)
        case 9: return SampleFormat(.float, size: 2, bigEndian: big)
        case 10: return .float32(bigEndian: big)
        case 11: return .float64(bigEndian: big)
        default: return nil
        }
    }

    /// The array's shape as numpy prints it: `(3, 64, 64)`.
    var shapeText: String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The last two dimensions (rows, columns) of the array.
    var height: Int { shape[shape.count - 2] }
    var width: Int { shape[shape.count - 1] }

    /// Reads the 2-D plane starting `offset` bytes from the base (rows and columns by the last
    /// two strides) into `out` as Floats, row-major.
    func readPlane(offset: Int, into out: UnsafeMutablePointer<Float>) {
        decodePlane(offset: offset, FloatSink(p: out))
    }

    /// Reads the plane as validity flags: non-zero and not NaN = valid.
    func readMaskPlane(offset: Int, into out: UnsafeMutablePointer<Bool>) {
        decodePlane(offset: offset, BoolSink(p: out))
    }

    /// The byte offset of frame `index` of a 3-D (frames, h, w) or 4-D (scan_y, scan_x, h, w) array.
    func frameOffset(_ index: Int) -> Int {
        switch shape.count {
        case 3: return index &* strides[0]
        case 4: return (index / shape[1]) &* strides[0] &+ (index % shape[1]) &* strides[1]
        default: return 0
        }
    }

    /// The whole 2-D array as an `Image` (the caller has checked ndim == 2).
    func image() -> Image {
        let n = width * height
        let pixels = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { readPlane(offset: 0, into: buffer.baseAddress!) }
            initialized = n
        }
        return Image(width: width, height: height, pixels: pixels)
    }

    /// The whole 2-D array as a `Mask`.
    func mask() -> Mask {
        let n = width * height
        let valid = [Bool](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { readMaskPlane(offset: 0, into: buffer.baseAddress!) }
            initialized = n
        }
        return Mask(width: width, height: height, isValid: valid)
    }

    private func decodePlane<S: Sink>(offset: Int, _ sink: S) {
        let rs = strides[strides.count - 2], cs = strides[strides.count - 1]
        let h = height, w = width
        let start = base + offset
        let swap = sample.size > 1 && sample.bigEndian == (1.littleEndian == 1)
        // Native, aligned float32 with contiguous rows: a copy per row.
        if sample.isNativeFloat32, cs == 4, rs % 4 == 0, Int(bitPattern: start) % 4 == 0, let p = sink.floats {
            for y in 0..<h { (p + y &* w).update(from: (start + y &* rs).assumingMemoryBound(to: Float.self), count: w) }
            return
        }
        @inline(__always) func each<T: FixedWidthInteger>(_: T.Type, _ f: (T) -> Void) {
            for y in 0..<h {
                let row = start + y &* rs
                for x in 0..<w {
                    let v = row.loadUnaligned(fromByteOffset: x &* cs, as: T.self)
                    f(swap ? v.byteSwapped : v)
                }
            }
        }
        var i = 0
        switch (sample.kind, sample.size) {
        case (.bool, _): each(UInt8.self) { sink.set(i, integer: $0 != 0 ? 1 : 0); i &+= 1 }
        case (.unsigned, 1): each(UInt8.self) { sink.set(i, integer: $0); i &+= 1 }
        case (.signed, 1): each(UInt8.self) { sink.set(i, integer: Int8(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 2): each(UInt16.self) { sink.set(i, integer: $0); i &+= 1 }
        case (.signed, 2): each(UInt16.self) { sink.set(i, integer: Int16(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 4): each(UInt32.self) { sink.set(i, integer: $0); i &+= 1 }
        case (.signed, 4): each(UInt32.self) { sink.set(i, integer: Int32(bitPattern: $0)); i &+= 1 }
        case (.unsigned, 8): each(UInt64.self) { sink.set(i, integer: $0); i &+= 1 }
        case (.signed, 8): each(UInt64.self) { sink.set(i, integer: Int64(bitPattern: $0)); i &+= 1 }
        case (.float, 2): each(UInt16.self) { sink.set(i, float: SampleFormat.halfToFloat($0)); i &+= 1 }
        case (.float, 4): each(UInt32.self) { sink.set(i, float: Float(bitPattern: $0)); i &+= 1 }
        case (.float, 8): each(UInt64.self) { sink.set(i, double: Double(bitPattern: $0)); i &+= 1 }
        default: break  // sampleFormat(_:) only makes the cases above
        }
    }
}

private protocol Sink {
    var floats: UnsafeMutablePointer<Float>? { get }
    func set<I: BinaryInteger>(_ i: Int, integer v: I)
    func set(_ i: Int, float v: Float)
    func set(_ i: Int, double v: Double)
}

private struct FloatSink: Sink {
    let p: UnsafeMutablePointer<Float>
    var floats: UnsafeMutablePointer<Float>? { p }
    @inline(__always) func set<I: BinaryInteger>(_ i: Int, integer v: I) { p[i] = Float(v) }
    @inline(__always) func set(_ i: Int, float v: Float) { p[i] = v }
    @inline(__always) func set(_ i: Int, double v: Double) { p[i] = Float(v) }
}

private struct BoolSink: Sink {
    let p: UnsafeMutablePointer<Bool>
    var floats: UnsafeMutablePointer<Float>? { nil }
    @inline(__always) func set<I: BinaryInteger>(_ i: Int, integer v: I) { p[i] = v != 0 }
    @inline(__always) func set(_ i: Int, float v: Float) { p[i] = v != 0 && !v.isNaN }
    @inline(__always) func set(_ i: Int, double v: Double) { p[i] = v != 0 && !v.isNaN }
}

/// The frames of a caller's 3-D or 4-D array, read through its strides, for `FrameDetection`.
final class ArrayFrames: FrameSource, @unchecked Sendable {
    let array: ArrayView
    let layout: FrameLayout
    var path: String { "array" }
    var formatName: String { "array" }

    init(_ array: ArrayView) {
        self.array = array
        let frames = array.shape.count == 4 ? array.shape[0] * array.shape[1] : array.shape[0]
        let scan = array.shape.count == 4 ? ScanShape(height: array.shape[0], width: array.shape[1]) : nil
        layout = FrameLayout(width: array.width, height: array.height, frameCount: frames, scan: scan, sampleType: array.sample.description)
    }

    func readFrame(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        array.readPlane(offset: array.frameOffset(index), into: buffer.baseAddress!)
    }
}

/// A malformed call (NULL pointer, unknown type code): status PEAKS_ERROR_CALL.
struct CallError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
