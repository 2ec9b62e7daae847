import PeakKit

/// How the pixel noise varies across the image, relative to its typical level: in counting data
/// (photons, electrons) the noise grows as the square root of the signal, so a sloped background
/// or a bright beam's wings are noisier than the dark parts, and one threshold per scale would
/// let noise through there (or miss faint spots in the dark parts).
///
/// The image is cut into tiles of 32 x 32 pixels; in each, the noise sigma is Immerkær's robust
/// estimate `1.4826 median |N * I| / 6` with `N = [1 -2 1; -2 4 -2; 1 -2 1]` (which cancels
/// constant, sloped and curved backgrounds), over the pixels whose 3x3 neighbourhood is valid.
/// The ratio of a tile's sigma to the median over tiles is interpolated bilinearly between tile
/// centres into a per-pixel map, clamped to [1/4, 64] (a tile with too few valid pixels takes 1).
/// A response at (x, y) is then compared with `threshold x ratio(x, y)`.
///
/// The median ignores the pixels spots occupy as long as they are fewer than half of a tile's;
/// where strong curvature fills a tile (the core of a bright beam) the ratio is inflated, which
/// suppresses noise maxima there at the price of sensitivity within about a tile of it.
public struct LocalNoise: Sendable {
    public static let tile = 32
    /// Per pixel, row-major (image layout).
    public let ratio: [Float]
    public let minimum: Float
    public let tileCount: Int

    public static func uniform(width: Int, height: Int) -> LocalNoise {
        LocalNoise(ratio: [Float](repeating: 1, count: width * height), minimum: 1, tileCount: 1)
    }

    public static func estimate(_ image: Image, mask: Mask) -> LocalNoise {
        let w = image.width, h = image.height, t = tile
        let tx = max(1, (w + t - 1) / t), ty = max(1, (h + t - 1) / t)
        var sigma = [Double](repeating: -1, count: tx * ty)
        // With every pixel valid the 3x3 validity test of each pixel is skipped.
        let allValid = mask.isEverywhereValid
        // Rows of tiles in parallel (each tile's sigma depends on its pixels only).
        sigma.withUnsafeMutableBufferPointer { sb in
            let tileSigma = SharedPointer(sb.baseAddress!)
            image.pixels.withUnsafeBufferPointer { p in
                mask.isValid.withUnsafeBufferPointer { v in
                    Parallel.forEach(ty) { j in
                        var samples: [Float] = []
                        samples.reserveCapacity(t * t)
                        for i in 0..<tx {
                            samples.removeAll(keepingCapacity: true)
                            let y0 = max(1, j * t), y1 = min(h - 1, (j + 1) * t)
                            let x0 = max(1, i * t), x1 = min(w - 1, (i + 1) * t)
                            guard y0 < y1, x0 < x1 else { continue }
                            for y in y0..<y1 {
                                for x in x0..<x1 {
                                    let c = y &* w &+ x, u = c &- w, d = c &+ w
                                    if !allValid {
                                        guard v[c], v[c &- 1], v[c &+ 1], v[u], v[u &- 1], v[u &+ 1], v[d], v[d &- 1], v[d &+ 1] else { continue }
                                    }
                                    // Finite responses only, as NoiseEstimate.sigma takes them
                                    // (values near Float's limit overflow the kernel's sums).
                                    let r = NoiseEstimate.immerkaerResponse(p, at: c, width: w)
                                    if r.isFinite { samples.append(r) }
                                }
                            }
                            if samples.count >= 64 {
                                tileSigma[j * tx + i] = NoiseEstimate.robustSigma(medianResponse: Double(Selection.median(&samples)))
                            }
                        }
                    }
                }
            }
        }
        var measured = sigma.filter { $0 >= 0 }.map { Float($0) }
        guard !measured.isEmpty else { return uniform(width: w, height: h) }
        let typical = Double(Selection.median(&measured))
        guard typical > 0 else { return uniform(width: w, height: h) }
        let tileRatio = sigma.map { s -> Float in s < 0 ? 1 : Float(min(64, max(0.25, s / typical))) }
        // Bilinear between tile centres ((i + 0.5) t - 0.5 in pixel coordinates), clamped.
        var ratio = [Float](repeating: 1, count: w * h)
        func axis(_ p: Int, _ n: Int) -> (Int, Int, Float) {
            let f = (Double(p) + 0.5) / Double(t) - 0.5
            if f <= 0 { return (0, 0, 0) }
            let i0 = Int(f)
            if i0 >= n - 1 { return (n - 1, n - 1, 0) }
            return (i0, i0 + 1, Float(f - Double(i0)))
        }
        let xs = (0..<w).map { axis($0, tx) }
        ratio.withUnsafeMutableBufferPointer { rb in
            let r = SharedPointer(rb.baseAddress!)
            // Bands of 32 rows in parallel.
            Parallel.forEach((h + t - 1) / t) { band in
                for y in (band * t)..<min(h, (band + 1) * t) {
                    let (j0, j1, fy) = axis(y, ty)
                    for x in 0..<w {
                        let (i0, i1, fx) = xs[x]
                        let top = tileRatio[j0 * tx + i0] * (1 - fx) + tileRatio[j0 * tx + i1] * fx
                        let bottom = tileRatio[j1 * tx + i0] * (1 - fx) + tileRatio[j1 * tx + i1] * fx
                        r[y &* w &+ x] = top * (1 - fy) + bottom * fy
                    }
                }
            }
        }
        return LocalNoise(ratio: ratio, minimum: tileRatio.min() ?? 1, tileCount: tx * ty)
    }
}
