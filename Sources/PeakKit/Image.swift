#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 2-D grid of `Float` pixels stored row-major: pixel (x, y) lives at `pixels[y * width + x]`.
///
/// Coordinates follow one convention everywhere in peaks: x is the column, y is the row, both
/// 0-based, and the centre of pixel (0, 0) is the point (0.0, 0.0).
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Float]

    /// Creates an image from row-major pixels; the count must be `width * height`.
    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(width >= 0 && height >= 0, "negative image size")
        precondition(pixels.count == width * height, "pixel count \(pixels.count) != \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one value.
    public init(width: Int, height: Int, repeating value: Float = 0) {
        self.init(width: width, height: height, pixels: [Float](repeating: value, count: width * height))
    }

    /// An image whose pixel (x, y) is `f(x, y)`.
    public init(width: Int, height: Int, _ f: (Int, Int) -> Float) {
        var pixels = [Float]()
        pixels.reserveCapacity(width * height)
        for y in 0..<height { for x in 0..<width { pixels.append(f(x, y)) } }
        self.init(width: width, height: height, pixels: pixels)
    }

    public var count: Int { pixels.count }
    public var isEmpty: Bool { pixels.isEmpty }

    /// Subtracts `other` pixel by pixel (same size), in bands over the cores.
    public mutating func subtract(_ other: Image) {
        subtract(other) { _, _ in }
    }

    /// `subtract(other)`, also returning the results at pixels step - 1, 2 step - 1, ... (every
    /// step-th pixel, in raster order: count / step of them), taken as they are written instead
    /// of in a second pass over the image.
    public mutating func subtract(_ other: Image, keepingEvery step: Int) -> [Float] {
        precondition(step >= 1, "Image.subtract: step must be at least 1, got \(step)")
        let kept = count / step
        if kept == 0 { subtract(other); return [] }
        var samples = [Float](repeating: 0, count: kept)
        samples.withUnsafeMutableBufferPointer { k in
            let keep = SharedPointer(k.baseAddress!)
            subtract(other) { band, out in
                // The kept pixels of this band: sample j is pixel (j + 1) step - 1, the first of
                // them at or after the band's start has j = lowerBound / step.
                var j = band.lowerBound / step, i = (j + 1) * step - 1
                while i < band.upperBound { keep[j] = out[i]; i += step; j += 1 }
            }
        }
        return samples
    }

    /// The subtraction in bands over the cores, `afterBand` called with each band and the result
    /// once the band is written.
    private mutating func subtract(_ other: Image, afterBand: (Range<Int>, SharedPointer<Float>) -> Void) {
        precondition(width == other.width && height == other.height, "subtracting a \(other.width)x\(other.height) image from a \(width)x\(height) one")
        let n = count
        if n == 0 { return }
        pixels.withUnsafeMutableBufferPointer { r in
            other.pixels.withUnsafeBufferPointer { o in
                let (out, from) = (SharedPointer(r.baseAddress!), SharedPointer(o.baseAddress!))
                Parallel.forEachBand(n) { band in
                    for i in band { out[i] -= from[i] }
                    afterBand(band, out)
                }
            }
        }
    }

    /// a - b pixel by pixel (same size), computed in bands over the cores.
    public static func difference(_ a: Image, _ b: Image) -> Image {
        precondition(a.width == b.width && a.height == b.height, "difference of a \(a.width)x\(a.height) and a \(b.width)x\(b.height) image")
        let n = a.count
        if n == 0 { return a }
        let pixels = [Float](unsafeUninitializedCapacity: n) { out, count in
            a.pixels.withUnsafeBufferPointer { pa in
                b.pixels.withUnsafeBufferPointer { pb in
                    let (o, x, y) = (SharedPointer(out.baseAddress!), SharedPointer(pa.baseAddress!), SharedPointer(pb.baseAddress!))
                    Parallel.forEachBand(n) { band in for i in band { o[i] = x[i] - y[i] } }
                }
            }
            count = n
        }
        return Image(width: a.width, height: a.height, pixels: pixels)
    }

    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// The first pixel that is NaN or infinite, if any.
    public func firstNonFinitePixel() -> (x: Int, y: Int, value: Float)? {
        pixels.withUnsafeBufferPointer { p in
            // Blocks of 64 are tested without branches (vectorised): a Float is NaN or infinite
            // when its exponent bits are all ones, i.e. when (bits & 0x7f800000) + 0x00800000
            // reaches the sign bit. Only a block that has one is searched pixel by pixel.
            let n = p.count
            var start = 0
            p.withMemoryRebound(to: UInt32.self) { bits in
                let b = bits.baseAddress!
                while start &+ 64 <= n {
                    var flag: UInt32 = 0
                    for k in start..<(start &+ 64) { flag |= ((b[k] & 0x7f80_0000) &+ 0x0080_0000) & 0x8000_0000 }
                    if flag != 0 { break }
                    start &+= 64
                }
            }
            for i in start..<n where !p[i].isFinite {
                return (i % width, i / width, p[i])
            }
            return nil
        }
    }

    /// The number of pixels that are NaN or infinite.
    public func nonFiniteCount() -> Int {
        pixels.withUnsafeBufferPointer { p in
            var n = 0
            for v in p where !v.isFinite { n &+= 1 }
            return n
        }
    }
}

/// Which pixels of an image hold valid data: `true` = valid. Peaks on invalid pixels are never
/// reported, and detectors treat invalid pixels as absent rather than as zeros.
public struct Mask: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var isValid: [Bool]

    public init(width: Int, height: Int, isValid: [Bool]) {
        precondition(isValid.count == width * height, "mask count \(isValid.count) != \(width)x\(height)")
        self.width = width
        self.height = height
        self.isValid = isValid
    }

    /// A mask with every pixel valid (or every pixel invalid).
    public init(width: Int, height: Int, allValid: Bool = true) {
        self.init(width: width, height: height, isValid: [Bool](repeating: allValid, count: width * height))
    }

    /// Whether every pixel is valid: one byte search (`memchr`), cheap enough to ask before a
    /// pass that can skip its per-pixel validity tests.
    public var isEverywhereValid: Bool {
        isValid.withUnsafeBufferPointer { $0.isEmpty || memchr($0.baseAddress!, 0, $0.count) == nil }
    }

    /// The mask of the finite pixels of an image (NaN and infinities are invalid).
    public init(finitePixelsOf image: Image) {
        self.init(width: image.width, height: image.height, isValid: image.pixels.map { $0.isFinite })
    }

    public subscript(x: Int, y: Int) -> Bool {
        get { isValid[y * width + x] }
        set { isValid[y * width + x] = newValue }
    }

    public var validCount: Int { isValid.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Whether an invalid pixel lies within `radius` of pixel (x, y) (on the disc of pixel
    /// centres at distance <= radius; pixels beyond the frame do not count).
    public func hasInvalidPixel(within radius: Double, ofX x: Int, y: Int) -> Bool {
        let r = Int(radius.rounded(.down))
        let r2 = radius * radius
        for dy in -r...r {
            let yy = y + dy
            guard yy >= 0, yy < height else { continue }
            for dx in -r...r where Double(dx * dx + dy * dy) <= r2 {
                let xx = x + dx
                guard xx >= 0, xx < width else { continue }
                if !isValid[yy * width + xx] { return true }
            }
        }
        return false
    }

    /// Pixel-wise AND of two masks of the same shape.
    public func intersection(_ other: Mask) -> Mask {
        precondition(width == other.width && height == other.height)
        return Mask(width: width, height: height, isValid: zip(isValid, other.isValid).map { $0 && $1 })
    }

    /// Throws unless the mask has the shape of `image`.
    public func checkShape(matches image: Image, what: String = "mask") throws {
        if width != image.width || height != image.height {
            throw PeaksError.shapeMismatch(
                what: what, expected: (image.width, image.height), actual: (width, height))
        }
    }
}

/// An integer label per pixel: 0 = background, k >= 1 = the k-th peak of a detection (1-based
/// index into `Detection.peaks`). Detectors use it for blobs (basins, regions, discs).
public struct LabelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var labels: [Int32]

    public init(width: Int, height: Int, labels: [Int32]) {
        precondition(labels.count == width * height)
        self.width = width
        self.height = height
        self.labels = labels
    }

    public subscript(x: Int, y: Int) -> Int32 {
        get { labels[y * width + x] }
        set { labels[y * width + x] = newValue }
    }

    /// The largest label present (the number of labels when they are 1...n).
    public var maxLabel: Int32 { labels.max() ?? 0 }
}
