import PeakKit

/// A row-major real 2-D array in FFTW-allocated (SIMD-aligned) memory, the input of forward and
/// the output of inverse transforms: element (x, y) is at `y * width + x`. Freed in `deinit`.
/// Not thread-safe for concurrent mutation (it is a reference type owning mutable memory).
public final class FFTRealArray<T: FFTScalar> {
    public let width: Int
    public let height: Int
    let raw: UnsafeMutableRawPointer
    let large: Bool
    var base: UnsafeMutablePointer<T> { raw.assumingMemoryBound(to: T.self) }

    /// An array (or spectrum) whose contents are undefined until written: for callers that
    /// overwrite every element (saves the zero fill of large buffers).
    public init(uninitializedWidth width: Int, height: Int) {
        precondition(width > 0 && height > 0, "FFTRealArray: empty shape \(width)x\(height)")
        FFTW.checkScalar(T.self)
        self.width = width
        self.height = height
        (raw, large) = FFTW.allocArray(T.fftPrecision, scalars: width * height)
        raw.bindMemory(to: T.self, capacity: width * height)
    }

    /// A zero-filled array (width and height at least 1).
    public convenience init(width: Int, height: Int) {
        self.init(uninitializedWidth: width, height: height)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<T>.stride)
    }

    /// A copy of row-major `values` (count must be width * height, both at least 1).
    public convenience init(_ values: [T], width: Int, height: Int) {
        precondition(values.count == width * height, "FFTRealArray: \(values.count) values for \(width)x\(height)")
        self.init(uninitializedWidth: width, height: height)
        values.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    deinit { FFTW.freeArray(T.fftPrecision, large: large, raw) }

    public var count: Int { width * height }

    public subscript(x: Int, y: Int) -> T {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "FFTRealArray: (\(x), \(y)) outside \(width)x\(height)")
            return base[y * width + x]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "FFTRealArray: (\(x), \(y)) outside \(width)x\(height)")
            base[y * width + x] = newValue
        }
    }

    /// The elements as a row-major Swift array.
    public func toArray() -> [T] {
        [T](unsafeUninitializedCapacity: count) { buf, n in
            UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: raw, byteCount: count * MemoryLayout<T>.stride)
            n = count
        }
    }

    /// Direct access to the row-major elements for the duration of `body`.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeMutableBufferPointer(start: base, count: count)) }
    }
}

/// The half spectrum of a real `width x height` array: `height` rows of `width / 2 + 1` complex
/// values (the rest follow from Hermitian symmetry), stored interleaved (re, im) in FFTW-allocated
/// memory: coefficient (u, v) has its real part at `2 * (v * spectrumWidth + u)`. Freed in `deinit`.
public final class FFTHalfSpectrum<T: FFTScalar> {
    /// Width and height of the real array this is the spectrum of.
    public let width: Int
    public let height: Int
    let raw: UnsafeMutableRawPointer
    let large: Bool
    var base: UnsafeMutablePointer<T> { raw.assumingMemoryBound(to: T.self) }

    /// An array (or spectrum) whose contents are undefined until written: for callers that
    /// overwrite every element (saves the zero fill of large buffers).
    public init(uninitializedWidth width: Int, height: Int) {
        precondition(width > 0 && height > 0, "FFTHalfSpectrum: empty shape \(width)x\(height)")
        FFTW.checkScalar(T.self)
        self.width = width
        self.height = height
        let n = height * (width / 2 + 1)
        (raw, large) = FFTW.allocArray(T.fftPrecision, scalars: 2 * n)
        raw.bindMemory(to: T.self, capacity: 2 * n)
    }

    /// A zero-filled spectrum for a `width x height` real array.
    public convenience init(width: Int, height: Int) {
        self.init(uninitializedWidth: width, height: height)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * complexCount * MemoryLayout<T>.stride)
    }

    deinit { FFTW.freeArray(T.fftPrecision, large: large, raw) }

    /// Complex values per row: width / 2 + 1.
    public var spectrumWidth: Int { width / 2 + 1 }
    /// Number of complex values: height * spectrumWidth.
    public var complexCount: Int { height * spectrumWidth }

    /// Coefficient (u, v): u = horizontal frequency 0...width/2, v = vertical frequency 0..<height.
    public subscript(u: Int, v: Int) -> (re: T, im: T) {
        get {
            precondition(u >= 0 && u < spectrumWidth && v >= 0 && v < height, "FFTHalfSpectrum: (\(u), \(v)) outside \(spectrumWidth)x\(height)")
            let i = 2 * (v * spectrumWidth + u)
            return (base[i], base[i + 1])
        }
        set {
            precondition(u >= 0 && u < spectrumWidth && v >= 0 && v < height, "FFTHalfSpectrum: (\(u), \(v)) outside \(spectrumWidth)x\(height)")
            let i = 2 * (v * spectrumWidth + u)
            base[i] = newValue.re
            base[i + 1] = newValue.im
        }
    }

    /// Direct access to the interleaved (re, im) scalars (2 * complexCount of them).
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafeMutableBufferPointer(start: base, count: 2 * complexCount)) }
    }
}

/// A row-major real 2-D array in ordinary Swift memory: the input and output of convolution.
/// Element (x, y) is `values[y * width + x]`. Shapes may be empty (a `valid` result can be).
public struct Grid2D<T: FFTScalar>: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var values: [T]

    public init(width: Int, height: Int, values: [T]) {
        precondition(width >= 0 && height >= 0, "Grid2D: negative shape \(width)x\(height)")
        precondition(values.count == width * height, "Grid2D: \(values.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.values = values
    }

    public init(width: Int, height: Int, repeating value: T = 0) {
        self.init(width: width, height: height, values: [T](repeating: value, count: width * height))
    }

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }

    public subscript(x: Int, y: Int) -> T {
        get { values[y * width + x] }
        set { values[y * width + x] = newValue }
    }
}

extension Grid2D where T == Float {
    /// The pixels of an image (no copy: arrays are copy-on-write).
    public init(_ image: Image) {
        self.init(width: image.width, height: image.height, values: image.pixels)
    }

    /// The grid as an image.
    public var image: Image { Image(width: width, height: height, pixels: values) }
}
