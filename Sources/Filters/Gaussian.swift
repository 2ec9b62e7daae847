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
import _PeaksVectorKernels

/// How a filter sees beyond the image edge.
public enum BorderMode: String, Sendable, CaseIterable {
    /// Half-sample symmetric: `d c b a | a b c d | d c b a` (scipy.ndimage "reflect").
    case reflect
    /// Repeat the edge pixel: `a a a a | a b c d | d d d d`.
    case nearest
    /// Zeros outside: `0 0 0 0 | a b c d | 0 0 0 0`.
    case constant
}

/// Separable Gaussian smoothing.
///
/// The 1-D kernel is the sampled Gaussian `w[k] = exp(-k^2 / (2 sigma^2))`, k = -r...r with radius
/// `r = Int(truncate * sigma + 0.5)` (as scipy.ndimage.gaussian_filter), normalised to sum 1. The
/// 2-D filter is a row pass then a column pass. Rows are processed in parallel bands; each output
/// pixel's arithmetic is fixed, so results are identical whatever the number of threads.
public enum GaussianFilter {
    /// The normalised 1-D kernel for `sigma` (a single 1 for sigma == 0).
    public static func kernel(sigma: Double, truncate: Double = 4.0) -> [Float] {
        precondition(sigma >= 0 && sigma.isFinite && truncate > 0)
        if sigma == 0 { return [1] }
        let r = max(1, Int(truncate * sigma + 0.5))
        var w = (-r...r).map { k in exp(-Double(k * k) / (2 * sigma * sigma)) }
        let s = w.reduce(0, +)
        w = w.map { $0 / s }
        return w.map { Float($0) }
    }

    /// The standard deviation of white noise of unit variance after filtering with `sigma`:
    /// the root of the sum of the squared 2-D kernel weights, `sum_k w[k]^2` for a separable kernel.
    public static func noiseGain(sigma: Double, truncate: Double = 4.0) -> Double {
        let w = kernel(sigma: sigma, truncate: truncate)
        return w.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    /// The standard deviation of white noise of unit variance after the band-pass
    /// G(sigma) * I - G(background) * I (both filters as `apply` makes them): the root of the sum
    /// of the squared weights of the 2-D kernel a(x) a(y) - b(x) b(y), which is
    /// (sum a^2)^2 + (sum b^2)^2 - 2 (sum a b)^2 with the 1-D kernels a and b centred together.
    public static func bandPassNoiseGain(sigma: Double, background: Double, truncate: Double = 4.0) -> Double {
        let a = kernel(sigma: sigma, truncate: truncate), b = kernel(sigma: background, truncate: truncate)
        let ra = a.count / 2, rb = b.count / 2
        var aa = 0.0, bb = 0.0, ab = 0.0
        for v in a { aa += Double(v) * Double(v) }
        for v in b { bb += Double(v) * Double(v) }
        for k in -min(ra, rb)...min(ra, rb) { ab += Double(a[ra + k]) * Double(b[rb + k]) }
        return max(0, aa * aa + bb * bb - 2 * ab * ab).squareRoot()
    }

    /// Smooths `image` with a Gaussian of standard deviation `sigma` pixels.
    public static func apply(_ image: Image, sigma: Double, truncate: Double = 4.0, border: BorderMode = .reflect) -> Image {
        if sigma == 0 || image.isEmpty { return image }
        let w = kernel(sigma: sigma, truncate: truncate)
        var out = image
        out.pixels = separable(image.pixels, width: image.width, height: image.height, kernel: w, border: border)
        return out
    }

    /// Normalised convolution for images with invalid pixels: `G*(I M) / G*M` where M is the mask.
    /// Invalid pixels neither contribute nor are smoothed into zero; a pixel keeps its validity.
    /// Pixels far from any valid one (weight below 1e-6) are set to 0 and should stay masked.
    public static func apply(_ image: Image, mask: Mask, sigma: Double, truncate: Double = 4.0) -> Image {
        if sigma == 0 || image.isEmpty { return image }
        if mask.isEverywhereValid { return apply(image, sigma: sigma, truncate: truncate, border: .reflect) }
        let w = kernel(sigma: sigma, truncate: truncate)
        var weighted = image.pixels
        var weights = [Float](repeating: 0, count: image.count)
        for i in 0..<image.count {
            if mask.isValid[i] { weights[i] = 1 } else { weighted[i] = 0 }
        }
        let num = separable(weighted, width: image.width, height: image.height, kernel: w, border: .reflect)
        let den = separable(weights, width: image.width, height: image.height, kernel: w, border: .reflect)
        var out = image
        for i in 0..<image.count {
            out.pixels[i] = den[i] > 1e-6 ? num[i] / den[i] : 0
        }
        return out
    }

    /// `apply(image, mask:, sigma:, truncate:)` at every `step`-th pixel only: element (x, y) of
    /// the result is the filtered value at (x * step, y * step), bit for bit (each sampled pixel
    /// is computed with the same arithmetic, in the same order, as by the full filter), and the
    /// result is ceil(width / step) x ceil(height / step). For a wide blur that is then
    /// subsampled, this skips the work of the pixels that are dropped: with sigma 64 on 1023^2
    /// and step 7, about 90 M multiply-adds instead of 1 G.
    public static func applySampled(_ image: Image, mask: Mask, sigma: Double, truncate: Double = 4.0, step: Int) -> Image {
        precondition(step >= 1, "GaussianFilter.applySampled: step must be at least 1, got \(step)")
        let sw = (image.width + step - 1) / step, sh = (image.height + step - 1) / step
        if image.isEmpty { return image }
        if sigma == 0 {
            return Image(width: sw, height: sh) { x, y in image[x * step, y * step] }
        }
        let w = kernel(sigma: sigma, truncate: truncate)
        if mask.isEverywhereValid {
            let p = separableSampled(image.pixels, width: image.width, height: image.height, kernel: w, border: .reflect, step: step)
            return Image(width: sw, height: sh, pixels: p)
        }
        var weighted = image.pixels
        var weights = [Float](repeating: 0, count: image.count)
        for i in 0..<image.count {
            if mask.isValid[i] { weights[i] = 1 } else { weighted[i] = 0 }
        }
        let num = separableSampled(weighted, width: image.width, height: image.height, kernel: w, border: .reflect, step: step)
        let den = separableSampled(weights, width: image.width, height: image.height, kernel: w, border: .reflect, step: step)
        var out = Image(width: sw, height: sh)
        for i in 0..<out.count {
            out.pixels[i] = den[i] > 1e-6 ? num[i] / den[i] : 0
        }
        return out
    }

    /// Index of sample `i` of a line of length `n` under the border rule (-1 = zero).
    @inline(__always)
    static func borderIndex(_ i: Int, _ n: Int, _ border: BorderMode) -> Int {
        if i >= 0 && i < n { return i }
        switch border {
        case .constant: return -1
        case .nearest: return i < 0 ? 0 : n - 1
        case .reflect:
            // period 2n: 0..n-1 forward, then n-1..0 backward
            let period = 2 * n
            var m = i % period
            if m < 0 { m += period }
            return m < n ? m : period - 1 - m
        }
    }

    /// The separable filter evaluated at every `step`-th pixel of every `step`-th row (step 1:
    /// every pixel): the row pass at the sampled columns of every row, each row through a padded
    /// line buffer (the column pass needs all rows), then the column pass at the sampled rows,
    /// a whole output row at a time: out[y] = sum_m k[m] * tmp[y + m - r] (at step 1 two interior
    /// rows at a time, `peaks_tap_sums_two_rows`).
    static func separableSampled(_ pixels: [Float], width: Int, height: Int, kernel w: [Float], border: BorderMode, step: Int) -> [Float] {
        let r = w.count / 2
        let sw = (width + step - 1) / step, sh = (height + step - 1) / step
        // Every element of both is written before it is read (the row pass fills every row of
        // tmp; the column pass writes or zeroes every output row first): no zero fill.
        var tmp = [Float](unsafeUninitializedCapacity: sw * height) { _, n in n = sw * height }
        var out = [Float](unsafeUninitializedCapacity: sw * sh) { _, n in n = sw * sh }
        let bandRows = 32
        let bands = (height + bandRows - 1) / bandRows
        pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                let tBase = t.baseAddress!
                w.withUnsafeBufferPointer { k in
                    Parallel.forEach(bands) { band in
                        var line = [Float](repeating: 0, count: width + 2 * r)
                        // step > 1: the line's phases (see below), each padded by 16 samples.
                        // Tap m of output sx is phases[offsets[m] + sx].
                        let phaseLength = (width + 2 * r + step - 1) / step + 16
                        var phaseStore = [Float](repeating: 0, count: step > 1 ? step * phaseLength : 0)
                        let tapOffsets = (0..<k.count).map { m in (m % step) * phaseLength + m / step }
                        tapOffsets.withUnsafeBufferPointer { offsets in
                        phaseStore.withUnsafeMutableBufferPointer { phases in
                        line.withUnsafeMutableBufferPointer { l in
                            let y0 = band * bandRows, y1 = min(height, y0 + bandRows)
                            for y in y0..<y1 {
                                let row = y &* width
                                // Sample i of the row's padded line: row[i - r] under the border rule.
                                @inline(__always) func padded(_ i: Int) -> Float {
                                    let j = borderIndex(i - r, width, border)
                                    return j < 0 ? 0 : src[row &+ j]
                                }
                                if step == 1 && width >= 4 * r {
                                    // Output x needs l[x ..< x + 2r + 1] = row[x - r ...]: the
                                    // outputs r ..< width - r read the row itself, the r at
                                    // each end the padded line (its first 3r and last 3r
                                    // samples), each output summed as from the whole line.
                                    let dst = tBase + y &* sw, line = l.baseAddress!
                                    tapSums(into: dst + r, count: width - 2 * r, base: src.baseAddress! + row, stride: 1, k)
                                    for i in 0..<(3 * r) { line[i] = padded(i) }
                                    tapSums(into: dst, count: r, base: line, stride: 1, k)
                                    for i in 0..<(3 * r) { line[i] = padded(width - r + i) }
                                    tapSums(into: dst + width - r, count: r, base: line, stride: 1, k)
                                    continue
                                }
                                // The row itself in one copy; the border rule only for the
                                // 2r padding samples.
                                (l.baseAddress! + r).update(from: src.baseAddress! + row, count: width)
                                for i in [0..<r, (width + r)..<(width + 2 * r)].joined() { l[i] = padded(i) }
                                let dst = tBase + y &* sw
                                if step == 1 {
                                    // Tap m is a constant stride: no table (12% faster).
                                    tapSums(into: dst, count: sw, base: l.baseAddress!, stride: 1, k)
                                    continue
                                }
                                // Output sx needs l[sx step + m]. Split the line into its `step`
                                // phases, phase q holding l[q], l[q + step], ...; tap m then reads
                                // phase m % step from sx + m / step on, so 16 consecutive outputs
                                // are 16 consecutive samples of a phase.
                                let p = phases.baseAddress!
                                for q in 0..<step {
                                    let phase = p + q &* phaseLength
                                    var i = q, j = 0
                                    while i < width + 2 * r { phase[j] = l[i]; i &+= step; j &+= 1 }
                                }
                                tapSums(into: dst, count: sw, base: p, offsets: offsets, k)
                            }
                        }
                        }
                        }
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                let oBase = o.baseAddress!
                w.withUnsafeBufferPointer { k in
                    func row(_ oy: Int) {
                        let y = oy &* step
                        let dst = oBase + oy &* sw
                        let first = y - r
                        if first >= 0 && first + k.count <= height {
                            // Interior row: every tap's row is in the image.
                            tapSums(into: dst, count: sw, base: t.baseAddress! + first &* sw, stride: sw, k)
                            return
                        }
                        for x in 0..<sw { dst[x] = 0 }
                        for m in 0..<k.count {
                            let sy = borderIndex(y + m - r, height, border)
                            if sy < 0 { continue }
                            let km = k[m]
                            let srcRow = t.baseAddress! + sy &* sw
                            for x in 0..<sw { dst[x] += km * srcRow[x] }
                        }
                    }
                    guard step == 1 else { Parallel.forEach(sh) { row($0) }; return }
                    // Every row: two interior rows at a time, each input row read once for both
                    // (the same sums, bit for bit).
                    Parallel.forEach((sh + 1) / 2) { pair in
                        let y = 2 &* pair, first = y - r
                        if y + 1 < sh && first >= 0 && first + k.count + 1 <= height {
                            peaks_tap_sums_two_rows(oBase + y &* sw, sw, sw, t.baseAddress! + first &* sw, sw, k.baseAddress!, k.count)
                            return
                        }
                        row(y)
                        if y + 1 < sh { row(y + 1) }
                    }
                }
            }
        }
        return out
    }

    /// dst[x] = sum_m k[m] * base[m * stride + x] for x in 0..<count, each summed from zero in
    /// tap order, a multiply then an add (no fused multiply-add): bit for bit the per-pixel loop,
    /// with AVX2 where the machine has it (_PeaksVectorKernels).
    @inline(__always)
    static func tapSums(into dst: UnsafeMutablePointer<Float>, count: Int, base: UnsafePointer<Float>,
                        stride: Int, _ k: UnsafeBufferPointer<Float>) {
        peaks_tap_sums_strided(dst, count, base, stride, k.baseAddress!, k.count)
    }

    /// The same with tap m at base[offsets[m] + x].
    @inline(__always)
    static func tapSums(into dst: UnsafeMutablePointer<Float>, count: Int, base: UnsafePointer<Float>,
                        offsets: UnsafeBufferPointer<Int>, _ k: UnsafeBufferPointer<Float>) {
        peaks_tap_sums_offsets(dst, count, base, offsets.baseAddress!, k.baseAddress!, k.count)
    }

    /// Row pass then column pass of a symmetric 1-D kernel: `separableSampled` at every pixel.
    static func separable(_ pixels: [Float], width: Int, height: Int, kernel w: [Float], border: BorderMode) -> [Float] {
        separableSampled(pixels, width: width, height: height, kernel: w, border: border, step: 1)
    }
}
