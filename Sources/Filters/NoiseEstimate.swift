import PeakKit

/// Robust estimate of the standard deviation of additive white noise in an image.
///
/// The image is filtered with Immerkær's 3x3 kernel (Immerkær, "Fast noise variance estimation",
/// CVIU 64(2), 1996)
///
///     N = [ 1 -2  1 ]
///         [-2  4 -2 ]
///         [ 1 -2  1 ]
///
/// which is the difference of two Laplacians, annihilates constant, linear and quadratic
/// backgrounds (up to the x^2 y^2 term) and multiplies white noise of standard deviation sigma by
/// sqrt(sum N^2) = 6. Immerkær averages |N * I|; peaks instead takes the median, which ignores the
/// sparse large responses at spots and edges: sigma = 1.4826 * median |N * I| / 6 (1.4826 = 1 /
/// Phi^-1(3/4) makes the median absolute value of a Gaussian its standard deviation). When more
/// than half of the responses are exactly zero (flat, quantised backgrounds) the median is 0 and
/// Immerkær's mean form sigma = sqrt(pi/2) * mean |N * I| / 6 is used instead.
///
/// Only pixels whose whole 3x3 neighbourhood is valid take part. Above `maxSamples` such pixels,
/// a fixed raster stride picks the samples, so the estimate stays O(N) time and small in memory.
/// Assumes the noise is roughly uniform; for Poisson noise it estimates a typical level.
public enum NoiseEstimate {
    public static func sigma(_ image: Image, mask: Mask? = nil, maxSamples: Int = 1 << 20) -> Double {
        let w = image.width, h = image.height
        guard w >= 3, h >= 3 else { return 0 }
        let mask = (mask?.isValid.allSatisfy { $0 } ?? true) ? nil : mask
        let interior = (w - 2) * (h - 2)
        let stride = max(1, interior / maxSamples)
        var responses: [Float] = []
        responses.reserveCapacity(interior / stride + 1)
        image.pixels.withUnsafeBufferPointer { p in
            var counter = 0
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) {
                    counter &+= 1
                    if counter < stride { continue }
                    counter = 0
                    if let mask {
                        var ok = true
                        check: for dy in -1...1 { for dx in -1...1 where !mask[x + dx, y + dy] { ok = false; break check } }
                        if !ok { continue }
                    }
                    let r = immerkaerResponse(p, at: y &* w &+ x, width: w)
                    if r.isFinite { responses.append(r) }
                }
            }
        }
        guard !responses.isEmpty else { return 0 }
        let median = Double(Selection.median(&responses))
        if median > 0 { return robustSigma(medianResponse: median) }
        let mean = responses.reduce(0.0) { $0 + Double($1) } / Double(responses.count)
        return (Double.pi / 2).squareRoot() * mean / 6
    }

    /// |N * I| at pixel `i` (not on the border) with Immerkær's kernel
    /// `N = [1 -2 1; -2 4 -2; 1 -2 1]`, which cancels constant, sloped and curved backgrounds.
    ///
    /// - Parameters:
    ///   - p: The image's pixels, row-major.
    ///   - i: The pixel's index (its 8 neighbours must exist).
    ///   - width: The image's width.
    @inline(__always)
    public static func immerkaerResponse(_ p: UnsafeBufferPointer<Float>, at i: Int, width w: Int) -> Float {
        let up = i &- w, dn = i &+ w
        let corners = p[up &- 1] + p[up &+ 1] + p[dn &- 1] + p[dn &+ 1]
        let edges = p[up] + p[dn] + p[i &- 1] + p[i &+ 1]
        return abs(corners - 2 * edges + 4 * p[i])
    }

    /// The noise sigma from the median of |N * I| over white Gaussian noise: 1.4826 median / 6
    /// (6 = sqrt(sum N^2), the kernel's gain on white noise).
    @inline(__always)
    public static func robustSigma(medianResponse m: Double) -> Double { 1.482602218505602 * m / 6 }
}
