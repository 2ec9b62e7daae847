import Filters
import PeakKit
import Spectral

/// The scale-normalised Laplacian-of-Gaussian responses of one image, computed one scale at a
/// time by FFT: the image is reflect-padded, transformed once (`FFTConvolver`), and each scale
/// costs one kernel transform and one inverse transform.
///
/// Sign: `response = -sigma^2 (LoG_sigma * I)`, so a bright blob gives a positive response (the
/// "sign-corrected" response; negate it for dark blobs). Kernels are
/// `LaplacianOfGaussian.kernel(sigma:truncate:scaleNormalized: true)`, whose coefficients sum to
/// zero after truncation: a constant gives exactly no response and a linear ramp none away from
/// the borders.
///
/// Layout: a response is kept in the padded frame, `(width + 2 pad) x (height + 2 pad)` values,
/// image pixel (x, y) at `(y + pad) * stride + (x + pad)`, so that no crop copy is needed.
final class LoGScaleSpace {
    let width: Int
    let height: Int
    let sigmas: [Double]
    let truncate: Double
    /// Reflection padding on every side: the radius of the largest kernel.
    let pad: Int
    let stride: Int
    let paddedHeight: Int
    /// The plane subtracted from the image before padding and transforming (`BackgroundPlane`).
    let plane: BackgroundPlane
    private let convolver: FFTConvolver<Float>
    /// The image the responses are computed from (for `responsePatch`; the caller's copy, not
    /// a new buffer).
    private let image: Image

    /// `image` must hold finite values everywhere (invalid pixels already filled).
    init(image: Image, sigmas: [Double], truncate: Double, plane: BackgroundPlane) throws {
        precondition(!sigmas.isEmpty)
        width = image.width
        height = image.height
        self.sigmas = sigmas
        self.truncate = truncate
        self.plane = plane
        let radius = sigmas.map { LaplacianOfGaussian.kernel(sigma: $0, truncate: truncate).radius }.max() ?? 1
        pad = radius
        stride = width + 2 * pad
        paddedHeight = height + 2 * pad
        self.image = image
        let padded = Self.reflectPadded(image, pad: pad, plane: plane)
        convolver = try FFTConvolver(image: padded, kernelWidth: 2 * radius + 1, kernelHeight: 2 * radius + 1)
    }

    /// The sign-corrected response to `k` (from `kernel(sigma:)`) on the 3x3 pixels around image
    /// pixel (x, y), row-major, by direct sums over the same residual (image - plane, extended by
    /// the same reflection) as `response(scale:)`: they agree to float rounding.
    /// Neighbours outside the image are 0 (refinement does not use them). For the scale one step
    /// below the first, where a blob whose maximum lies on the first scale is interpolated in
    /// scale (`ScaleSpaceExtrema.refine`). The residual is read from the image through the
    /// reflection rather than kept padded (that copy would be (w + 2 pad)(h + 2 pad) floats,
    /// 19 MB at 2048^2, for a few thousand 3x3 patches).
    func responsePatch(_ k: Kernel2D, x: Int, y: Int) -> [Float] {
        let r = k.radius
        var out = [Float](repeating: 0, count: 9)
        image.pixels.withUnsafeBufferPointer { pixels in
            k.weights.withUnsafeBufferPointer { weights in
                for dy in -1...1 {
                    for dx in -1...1 {
                        let px = x + dx, py = y + dy
                        guard px >= 0, py >= 0, px < width, py < height else { continue }
                        // Kernel weights are in Double: accumulate in Double; each residual value
                        // is rounded to Float as `reflectPadded` stores it.
                        var sum = 0.0
                        for v in -r...r {
                            let sy = Self.reflect(py + v, height)
                            let rowLevel = plane.a + plane.c * Double(sy)
                            let wrow = (v + r) * k.size + r
                            for u in -r...r {
                                let sx = Self.reflect(px + u, width)
                                let residual = Float(Double(pixels[sy * width + sx]) - (rowLevel + plane.b * Double(sx)))
                                sum += weights[wrow + u] * Double(residual)
                            }
                        }
                        out[(dy + 1) * 3 + dx + 1] = Float(-sum)
                    }
                }
            }
        }
        return out
    }

    /// The scale-normalised LoG kernel of `sigma` with this space's truncation (the kernel of
    /// every response; negated, it gives the sign-corrected one).
    func kernel(sigma: Double) -> Kernel2D {
        LaplacianOfGaussian.kernel(sigma: sigma, truncate: truncate, scaleNormalized: true)
    }

    /// The sign-corrected response at scale `i`, in the padded layout.
    func response(scale i: Int) throws -> [Float] {
        let k = kernel(sigma: sigmas[i])
        let negated = Grid2D<Float>(width: k.size, height: k.size, values: k.weights.map { Float(-$0) })
        return try convolver.convolve(negated, mode: .same).values
    }

    /// Sum of |kernel| and of kernel^2 at scale `i` (for the rounding floor and noise gains).
    func kernelNorms(scale i: Int) -> (l1: Double, l2squared: Double) {
        let k = kernel(sigma: sigmas[i])
        var l1 = 0.0, l2 = 0.0
        for w in k.weights { l1 += abs(w); l2 += w * w }
        return (l1, l2)
    }

    /// The variance of the second difference r(x) - (r(x - L) + r(x + L)) / 2 of the response to
    /// unit-variance white noise at scale `i`, relative to the response's own variance:
    /// 1.5 - 2 rho(L) + rho(2 L) / 2, with rho the kernel's normalised autocorrelation
    /// sum_u K(u) K(u + L) / sum K^2. It is 1.5 when the response is uncorrelated at lag L, up to
    /// 1.9 where the kernel's negative lobe reaches L (sigma 0.3-0.6 |L|), and falls towards 0 as
    /// the scale grows past |L| (the response then barely changes over L).
    func secondDifferenceVariance(scale i: Int, lag L: (dx: Int, dy: Int)) -> Double {
        let k = kernel(sigma: sigmas[i])
        let r = k.radius, size = k.size
        func correlation(_ dx: Int, _ dy: Int) -> Double {
            var sum = 0.0
            // Both u and u + d within the kernel (|d| <= 2 r, so the ranges are not empty).
            for y in max(-r, -r - dy)...min(r, r - dy) {
                for x in max(-r, -r - dx)...min(r, r - dx) {
                    sum += k.weights[(y + r) * size + x + r] * k.weights[(y + dy + r) * size + x + dx + r]
                }
            }
            return sum
        }
        let zero = correlation(0, 0)
        guard zero > 0 else { return 1.5 }
        func rho(_ dx: Int, _ dy: Int) -> Double { abs(dx) > 2 * r || abs(dy) > 2 * r ? 0 : correlation(dx, dy) / zero }
        return 1.5 - 2 * rho(L.dx, L.dy) + rho(2 * L.dx, 2 * L.dy) / 2
    }

    /// How much the reflective border raises the response's noise at scale `i`, per column and
    /// per row: near the edge a mirrored pixel enters the kernel twice, so white noise of unit
    /// variance gives a response variance `sum_m (sum_{j -> m} K_j)^2` instead of `sum K^2`.
    /// `x[c]` is the ratio of standard deviations for column c with the reflection in x alone
    /// (rows likewise, with the same kernel turned); 1 further than the kernel radius from both
    /// edges. A corner uses the product. Exact for white noise along one edge.
    func borderGains(scale i: Int) -> (x: [Float], y: [Float]) {
        let k = kernel(sigma: sigmas[i])
        let r = k.radius, size = k.size
        let norm = k.weights.reduce(0) { $0 + $1 * $1 }
        func gains(_ n: Int) -> [Float] {
            var out = [Float](repeating: 1, count: n)
            guard norm > 0 else { return out }
            var folded = [Double](repeating: 0, count: n)
            var touched: [Int] = []
            touched.reserveCapacity(size)
            for c in 0..<n where c < r || c >= n - r {
                var variance = 0.0
                for dy in 0..<size {
                    for dx in 0..<size {
                        let m = Self.reflect(c + dx - r, n)
                        if folded[m] == 0 { touched.append(m) }
                        folded[m] += k.weights[dy * size + dx]
                    }
                    for m in touched {
                        variance += folded[m] * folded[m]
                        folded[m] = 0
                    }
                    touched.removeAll(keepingCapacity: true)
                }
                out[c] = Float((variance / norm).squareRoot())
            }
            return out
        }
        let gx = gains(width)
        return (gx, height == width ? gx : gains(height))
    }

    /// Half-sample symmetric index (scipy "reflect"), periodic for any offset.
    @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int {
        if i >= 0 && i < n { return i }
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }

    /// The residual `image - plane`, extended by `pad` pixels on every side by half-sample
    /// symmetric reflection. Removing the plane first means that a sloped background is
    /// continued without the kink an even reflection of a ramp would make at the border (which
    /// the LoG answers as a ridge of false blobs along the edge).
    static func reflectPadded(_ image: Image, pad: Int, plane: BackgroundPlane) -> Grid2D<Float> {
        let w = image.width, h = image.height
        let pw = w + 2 * pad, ph = h + 2 * pad
        let xs = (0..<pw).map { reflect($0 - pad, w) }
        var out = [Float](repeating: 0, count: pw * ph)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                xs.withUnsafeBufferPointer { xi in
                    for j in 0..<ph {
                        let sy = reflect(j - pad, h)
                        let row = sy &* w
                        let drow = j &* pw
                        let rowLevel = plane.a + plane.c * Double(sy)
                        for i in 0..<pw {
                            let sx = xi[i]
                            dst[drow &+ i] = Float(Double(src[row &+ sx]) - (rowLevel + plane.b * Double(sx)))
                        }
                    }
                }
            }
        }
        return Grid2D(width: pw, height: ph, values: out)
    }
}

/// Invalid pixels are replaced by a local estimate before filtering, so that they create no
/// step the LoG would answer to: the normalised convolution `G_s * (I M) / G_s * M` with s = 2,
/// then s = 8 for pixels further from valid data, then the median of the valid pixels for what
/// is left (inside holes wider than about 60 pixels). Maxima whose centre lobe reaches an invalid
/// pixel are rejected separately (`LoGDetector`).
enum MaskFill {
    static func fill(_ image: Image, mask: Mask, median: Float) -> Image {
        let n = image.count
        var out = image
        var done = mask.isValid
        if done.allSatisfy({ $0 }) { return image }
        var weighted = Image(width: image.width, height: image.height)
        var weights = Image(width: image.width, height: image.height)
        for i in 0..<n where mask.isValid[i] {
            weighted.pixels[i] = image.pixels[i]
            weights.pixels[i] = 1
        }
        for s in [2.0, 8.0] {
            if done.allSatisfy({ $0 }) { break }
            let num = GaussianFilter.apply(weighted, sigma: s)
            let den = GaussianFilter.apply(weights, sigma: s)
            var filled: [Int] = []
            for i in 0..<n where !done[i] && den.pixels[i] > 1e-3 {
                out.pixels[i] = num.pixels[i] / den.pixels[i]
                filled.append(i)
            }
            for i in filled { done[i] = true }
        }
        for i in 0..<n where !done[i] { out.pixels[i] = median }
        return out
    }
}

/// A background plane `a + b x + c y`, fitted robustly to the valid pixels: least squares on a
/// regular sample of at most ~2^16 pixels, then twice again on the pixels whose residual is
/// within 3 robust sigmas (1.4826 MAD), so spots and a bright beam do not tilt it. Subtracting
/// it changes no response away from the borders (the kernels sum to zero and are point
/// symmetric); it only serves the border extension and float precision.
struct BackgroundPlane: Sendable, Equatable {
    var a: Double
    var b: Double
    var c: Double

    static let zero = BackgroundPlane(a: 0, b: 0, c: 0)

    @inline(__always) func value(_ x: Int, _ y: Int) -> Double { a + b * Double(x) + c * Double(y) }

    static func fit(_ image: Image, mask: Mask) -> BackgroundPlane {
        let w = image.width, h = image.height
        let step = max(1, Int((Double(image.count) / Double(1 << 16)).squareRoot()))
        var points: [(x: Double, y: Double, v: Double)] = []
        for y in Swift.stride(from: 0, to: h, by: step) {
            for x in Swift.stride(from: 0, to: w, by: step) where mask.isValid[y * w + x] {
                points.append((Double(x), Double(y), Double(image.pixels[y * w + x])))
            }
        }
        if points.isEmpty { return .zero }
        var values = points.map { Float($0.v) }
        var plane = BackgroundPlane(a: Double(Selection.median(&values)), b: 0, c: 0)
        for _ in 0..<10 {
            var residuals = points.map { Float(abs($0.v - (plane.a + plane.b * $0.x + plane.c * $0.y))) }
            let limit = 3 * 1.4826 * Double(Selection.median(&residuals))
            // Normal equations of the least-squares plane over the inliers.
            var m = [Double](repeating: 0, count: 9), r = [Double](repeating: 0, count: 3)
            for p in points where abs(p.v - (plane.a + plane.b * p.x + plane.c * p.y)) <= limit {
                let row = [1, p.x, p.y]
                for i in 0..<3 {
                    r[i] += row[i] * p.v
                    for j in 0..<3 { m[i * 3 + j] += row[i] * row[j] }
                }
            }
            guard let solution = solve3(m, r) else { break }
            let next = BackgroundPlane(a: solution[0], b: solution[1], c: solution[2])
            if next == plane { break }
            plane = next
        }
        return plane
    }

    /// Cramer's rule; nil when the system is singular (all inliers on one line, too few points).
    static func solve3(_ m: [Double], _ r: [Double]) -> [Double]? {
        func det(_ a: [Double]) -> Double {
            a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
        }
        let d = det(m)
        let scale = m.map(abs).max() ?? 0
        guard d.isFinite, abs(d) > 1e-12 * scale * scale * scale else { return nil }
        var out = [Double](repeating: 0, count: 3)
        for k in 0..<3 {
            var mk = m
            for i in 0..<3 { mk[i * 3 + k] = r[i] }
            out[k] = det(mk) / d
        }
        return out.allSatisfy(\.isFinite) ? out : nil
    }
}
