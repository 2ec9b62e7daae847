#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// The discrete Laplacian `d2f/dx2 + d2f/dy2` by a 3x3 stencil.
///
/// - `fivePoint`:  `[0 1 0; 1 -4 1; 0 1 0]`, i.e. `f(x-1,y) + f(x+1,y) + f(x,y-1) + f(x,y+1) - 4 f(x,y)`.
/// - `ninePoint`: `[1 4 1; 4 -20 4; 1 4 1] / 6`, the isotropic stencil (its error term is
///   `(h^2/12) * Laplacian(Laplacian f)`, the same in every direction, whereas the 5-point error
///   `(h^2/12)(f_xxxx + f_yyyy)` depends on the orientation).
///
/// Both give exactly 0 for a constant or a linear ramp and 2 for `f = x^2` (up to Float rounding).
/// Pixels beyond the edge follow `border` as in `GaussianFilter` (default `.reflect`, half-sample
/// symmetric). Bright blobs give negative responses. Rows run in parallel bands; each output
/// pixel's arithmetic is fixed, so results do not depend on the number of threads.
public enum LaplaceFilter {
    public enum Stencil: String, Sendable, CaseIterable {
        case fivePoint, ninePoint
    }

    /// The stencil as a 3x3 kernel (row-major, centre at index 4).
    public static func kernel(_ stencil: Stencil) -> Kernel2D {
        switch stencil {
        case .fivePoint: return Kernel2D(radius: 1, weights: [0, 1, 0, 1, -4, 1, 0, 1, 0])
        case .ninePoint: return Kernel2D(radius: 1, weights: [1, 4, 1, 4, -20, 4, 1, 4, 1].map { $0 / 6 })
        }
    }

    /// The Laplacian of `image`. An empty image is returned as it is.
    public static func apply(_ image: Image, stencil: Stencil = .fivePoint, border: BorderMode = .reflect) -> Image {
        let w = image.width, h = image.height
        if image.isEmpty { return image }
        var out = Image(width: w, height: h)
        let nine = stencil == .ninePoint
        let bandRows = 64
        let bands = (h + bandRows - 1) / bandRows
        image.pixels.withUnsafeBufferPointer { srcBuffer in
            out.pixels.withUnsafeMutableBufferPointer { dstBuffer in
                let src = SharedPointer(srcBuffer.baseAddress!), dst = SharedPointer(dstBuffer.baseAddress!)
                // Any pixel, with the border rule (slow path, used on the outermost ring only).
                @inline(__always) func at(_ x: Int, _ y: Int) -> Float {
                    let i = GaussianFilter.borderIndex(x, w, border), j = GaussianFilter.borderIndex(y, h, border)
                    return (i < 0 || j < 0) ? 0 : src[j &* w &+ i]
                }
                @inline(__always) func slow(_ x: Int, _ y: Int) -> Float {
                    let edges = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1)
                    if !nine { return edges - 4 * at(x, y) }
                    let corners = at(x - 1, y - 1) + at(x + 1, y - 1) + at(x - 1, y + 1) + at(x + 1, y + 1)
                    return (4 * edges + corners - 20 * at(x, y)) / 6
                }
                Parallel.forEach(bands) { band in
                    let y0 = band * bandRows, y1 = min(h, y0 + bandRows)
                    for y in y0..<y1 {
                        let row = y &* w
                        guard y > 0, y < h - 1, w > 2 else {
                            for x in 0..<w { dst[row &+ x] = slow(x, y) }
                            continue
                        }
                        dst[row] = slow(0, y)
                        dst[row &+ w &- 1] = slow(w - 1, y)
                        let c = src.base + row, up = c - w, dn = c + w
                        let o = dst.base + row
                        if nine {
                            for x in 1..<(w - 1) {
                                let edges = c[x &- 1] + c[x &+ 1] + up[x] + dn[x]
                                let corners = up[x &- 1] + up[x &+ 1] + dn[x &- 1] + dn[x &+ 1]
                                o[x] = (4 * edges + corners - 20 * c[x]) / 6
                            }
                        } else {
                            for x in 1..<(w - 1) {
                                o[x] = (c[x &- 1] + c[x &+ 1] + up[x] + dn[x]) - 4 * c[x]
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// A square 2-D kernel of odd side `2 radius + 1`, row-major: the weight for offset (dx, dy)
/// (dx along x = columns, dy along y = rows, both in -radius...radius) is
/// `weights[(dy + radius) * size + (dx + radius)]`.
public struct Kernel2D: Sendable, Equatable {
    public let radius: Int
    public var weights: [Double]

    public init(radius: Int, weights: [Double]) {
        precondition(radius >= 0 && weights.count == (2 * radius + 1) * (2 * radius + 1), "kernel size")
        self.radius = radius
        self.weights = weights
    }

    /// The side length, `2 radius + 1`.
    public var size: Int { 2 * radius + 1 }

    /// The weight at offset (dx, dy); 0 outside the support.
    public subscript(dx: Int, dy: Int) -> Double {
        guard abs(dx) <= radius, abs(dy) <= radius else { return 0 }
        return weights[(dy + radius) * size + (dx + radius)]
    }

    /// The sum of the weights (in Double, left to right).
    public var sum: Double { weights.reduce(0, +) }
}

/// Direct 2-D filtering with a `Kernel2D`.
public enum Convolution2D {
    /// `out(x, y) = sum_{dx,dy} K(dx, dy) * I(x + dx, y + dy)` (correlation; identical to
    /// convolution for the point-symmetric kernels peaks uses), accumulated in Double and rounded
    /// to Float once per pixel. Pixels beyond the edge follow `border` (as `GaussianFilter`).
    /// Cost O(N (2r+1)^2): meant for kernels up to a few dozen pixels wide. The image is first
    /// padded by r on every side, so the inner loop has no border tests. Deterministic.
    public static func apply(_ image: Image, kernel: Kernel2D, border: BorderMode = .reflect) -> Image {
        let w = image.width, h = image.height
        if image.isEmpty { return image }
        let r = kernel.radius, size = kernel.size
        let pw = w + 2 * r, ph = h + 2 * r
        // Padded copy: padded(i, j) = I(i - r, j - r) with the border rule.
        var padded = [Float](repeating: 0, count: pw * ph)
        let xIndex = (0..<pw).map { GaussianFilter.borderIndex($0 - r, w, border) }
        image.pixels.withUnsafeBufferPointer { src in
            padded.withUnsafeMutableBufferPointer { p in
                for j in 0..<ph {
                    let sy = GaussianFilter.borderIndex(j - r, h, border)
                    if sy < 0 { continue }
                    let row = sy &* w, prow = j &* pw
                    for i in 0..<pw {
                        let sx = xIndex[i]
                        if sx >= 0 { p[prow &+ i] = src[row &+ sx] }
                    }
                }
            }
        }
        var out = Image(width: w, height: h)
        let bandRows = 16
        let bands = (h + bandRows - 1) / bandRows
        padded.withUnsafeBufferPointer { pBuffer in
            kernel.weights.withUnsafeBufferPointer { kBuffer in
                out.pixels.withUnsafeMutableBufferPointer { oBuffer in
                    let p = SharedPointer(pBuffer.baseAddress!), k = SharedPointer(kBuffer.baseAddress!)
                    let o = SharedPointer(oBuffer.baseAddress!)
                    Parallel.forEach(bands) { band in
                        var acc = [Double](repeating: 0, count: w)
                        acc.withUnsafeMutableBufferPointer { a in
                            let y0 = band * bandRows, y1 = min(h, y0 + bandRows)
                            for y in y0..<y1 {
                                for x in 0..<w { a[x] = 0 }
                                for j in 0..<size {
                                    let prow = p.base + (y &+ j) &* pw
                                    for i in 0..<size {
                                        let kv = k[j &* size &+ i]
                                        if kv == 0 { continue }
                                        let s = prow + i
                                        for x in 0..<w { a[x] += kv * Double(s[x]) }
                                    }
                                }
                                let orow = o.base + y &* w
                                for x in 0..<w { orow[x] = Float(a[x]) }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Sampled Laplacian-of-Gaussian kernels and filtering.
///
/// The continuous kernel is the Laplacian of the unit-mass Gaussian
/// `G(x, y) = exp(-(x^2 + y^2) / (2 sigma^2)) / (2 pi sigma^2)`:
///
///     LoG(x, y) = (x^2 + y^2 - 2 sigma^2) / (2 pi sigma^6) * exp(-(x^2 + y^2) / (2 sigma^2))
///
/// sampled at integer offsets on a square of radius `r = max(1, Int(truncate * sigma + 0.5))`
/// (the radius rule of `GaussianFilter`). The scale-normalised kernel is `sigma^2 * LoG`
/// (Lindeberg, "Feature detection with automatic scale selection", IJCV 30(2), 1998): for a
/// Gaussian blob of standard deviation s the normalised response at the blob centre,
/// `-2 A s^2 sigma^2 / (s^2 + sigma^2)^2` for a blob of peak amplitude A, is extremal at sigma = s.
///
/// Zero sum: the continuous LoG integrates to 0 but the truncated, sampled one does not. The
/// kernel's mean is subtracted from every weight (twice, the second pass removing the rounding
/// left by the first), so the weights sum to 0 up to about 1e-16 relative. With the kernel's
/// point symmetry this makes the response to a constant or to a linear ramp `a + b x + c y` zero
/// up to rounding away from the borders (near them the border rule decides). The correction is
/// small: about `16 exp(-8) / sigma^2` in total for truncate = 4.
///
/// Sign: like scipy.ndimage.gaussian_laplace, a bright blob gives a negative response (a minimum).
public enum LaplacianOfGaussian {
    /// The zero-sum sampled kernel. `sigma` must be positive and finite; otherwise the 1x1 kernel
    /// [0] is returned (zero response). A non-positive or non-finite `truncate` gives radius 1.
    ///
    /// - Parameters:
    ///   - sigma: Gaussian standard deviation in pixels.
    ///   - truncate: half-width of the square support in units of sigma (default 4.0).
    ///   - scaleNormalized: multiply by sigma^2 (Lindeberg's gamma = 1 normalisation; default false).
    public static func kernel(sigma: Double, truncate: Double = 4.0, scaleNormalized: Bool = false) -> Kernel2D {
        guard sigma > 0, sigma.isFinite else { return Kernel2D(radius: 0, weights: [0]) }
        let t = (truncate > 0 && truncate.isFinite) ? truncate : 0
        let r = max(1, Int(min(t * sigma + 0.5, 1e4)))
        let size = 2 * r + 1
        let s2 = sigma * sigma
        let scale = (scaleNormalized ? s2 : 1) / (2 * Double.pi * s2 * s2 * s2)
        var w = [Double](repeating: 0, count: size * size)
        for dy in -r...r {
            for dx in -r...r {
                let q = Double(dx * dx + dy * dy)
                w[(dy + r) * size + (dx + r)] = scale * (q - 2 * s2) * exp(-q / (2 * s2))
            }
        }
        for _ in 0..<2 {
            let mean = w.reduce(0, +) / Double(w.count)
            for i in 0..<w.count { w[i] -= mean }
        }
        return Kernel2D(radius: r, weights: w)
    }

    /// Filters `image` with `kernel(sigma:truncate:scaleNormalized:)` by `Convolution2D.apply`
    /// (direct, O(N (2r+1)^2), Double accumulation), borders by `border` (default `.reflect`).
    public static func apply(
        _ image: Image, sigma: Double, truncate: Double = 4.0, scaleNormalized: Bool = false,
        border: BorderMode = .reflect
    ) -> Image {
        Convolution2D.apply(
            image, kernel: kernel(sigma: sigma, truncate: truncate, scaleNormalized: scaleNormalized), border: border)
    }
}
