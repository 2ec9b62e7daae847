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
    /// The centres of the exactly constant 5 x 5 patches of the image (nil when there are none).
    static func flatPatchCentres(_ image: Image) -> [Bool]? {
        let w = image.width, h = image.height
        guard w >= 5, h >= 5 else { return nil }
        // Row runs first: rowFlat[i] when p[i-2...i+2] on i's row all equal p[i] (four equal
        // neighbours in a row: IEEE equality is transitive except for NaN, which equals nothing
        // either way); a pixel is the centre of a flat patch when rows y-2...y+2 are row-flat
        // there with one value. Both passes are branch-free byte arithmetic (the compiler
        // vectorises them): 0 / 1 bytes, combined with &.
        var flat = [Bool](repeating: false, count: w * h)
        var any: UInt8 = 0
        image.pixels.withUnsafeBufferPointer { px in
            var rowFlat = [UInt8](repeating: 0, count: w * h)
            rowFlat.withUnsafeMutableBufferPointer { rf in
                let p = px.baseAddress!, r = rf.baseAddress!
                // Bool is one byte, 0 or 1: written as such.
                flat.withUnsafeMutableBytes { fb in
                    let f = fb.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    for y in 0..<h {
                        let row = p + y * w, out = r + y * w
                        for x in 2..<(w - 2) {
                            let e0: UInt8 = row[x - 2] == row[x - 1] ? 1 : 0, e1: UInt8 = row[x - 1] == row[x] ? 1 : 0
                            let e2: UInt8 = row[x] == row[x + 1] ? 1 : 0, e3: UInt8 = row[x + 1] == row[x + 2] ? 1 : 0
                            out[x] = e0 & e1 & e2 & e3
                        }
                    }
                    for y in 2..<(h - 2) {
                        let c = p + y * w, up2 = c - 2 * w, up1 = c - w, dn1 = c + w, dn2 = c + 2 * w
                        let rc = UnsafeRawPointer(r + y * w), out = f + y * w
                        let stride = w
                        var seen: UInt8 = 0
                        var x = 2
                        while x < w - 2 {
                            // Eight columns at a time where five rows are row-flat nowhere (the
                            // rule on most images): `flat` is already false there.
                            if x + 8 <= w - 2 {
                                let rows = rc.loadUnaligned(fromByteOffset: x - 2 * stride, as: UInt64.self)
                                    & rc.loadUnaligned(fromByteOffset: x - stride, as: UInt64.self)
                                    & rc.loadUnaligned(fromByteOffset: x, as: UInt64.self)
                                    & rc.loadUnaligned(fromByteOffset: x + stride, as: UInt64.self)
                                    & rc.loadUnaligned(fromByteOffset: x + 2 * stride, as: UInt64.self)
                                if rows == 0 { x += 8; continue }
                            }
                            let end = min(x + 8, w - 2)
                            for x in x..<end {
                                let v = c[x]
                                let rows = rc.load(fromByteOffset: x - 2 * stride, as: UInt8.self) & rc.load(fromByteOffset: x - stride, as: UInt8.self)
                                    & rc.load(fromByteOffset: x, as: UInt8.self) & rc.load(fromByteOffset: x + stride, as: UInt8.self)
                                    & rc.load(fromByteOffset: x + 2 * stride, as: UInt8.self)
                                let e0: UInt8 = up2[x] == v ? 1 : 0, e1: UInt8 = up1[x] == v ? 1 : 0
                                let e2: UInt8 = dn1[x] == v ? 1 : 0, e3: UInt8 = dn2[x] == v ? 1 : 0
                                let centre = rows & e0 & e1 & e2 & e3
                                out[x] = centre
                                seen |= centre
                            }
                            x = end
                        }
                        any |= seen
                    }
                }
            }
        }
        return any != 0 ? flat : nil
    }

    /// Where the noise can be measured: not at the centre of a 5 x 5 patch where the recorded
    /// image is exactly constant. Such patches are not measurements (the dead corners of a round
    /// detector, zero padding, a saturated core, a beam stop written as 0), and where they cover
    /// much of the frame the MAD is about 0 and every noise maximum of the live part passes
    /// (2,000-3,000 false peaks on the corner crops of the Laue image, 68% zeros). Real noise is
    /// never constant over 25 pixels; counting data at very low counts can be (all-zero patches),
    /// and then its noise is measured on the rest. When fewer than 64 valid pixels would be left,
    /// the mask is returned unchanged.
    public static func measurable(_ mask: Mask, in image: Image) -> Mask {
        constantAreas(mask, in: image, deadAreas: false).noise
    }

    /// Both from one scan of the image. `data`: `mask` without the image's dead areas (when
    /// `deadAreas`): every pixel of an exactly constant 5 x 5 patch whose value is the smallest
    /// valid value of the image (dead detector corners, padding, a beam stop written as 0); within
    /// 2 px of the frame's edge a patch is the square's part inside the frame.
    /// Treated as invalid, they no longer make a step at their edge that the band-pass turns into
    /// a ring of false maxima, nor a plateau that it lifts into a peak. Constant patches at any
    /// other level (a saturated core is the brightest) stay data. `noise`: `measurable` of `data`.
    /// When fewer than 64 valid pixels would be left, each mask is its input unchanged.
    public static func constantAreas(_ mask: Mask, in image: Image, deadAreas: Bool = true) -> (data: Mask, noise: Mask) {
        let flat = flatPatchCentres(image)
        guard flat != nil || deadAreas else { return (mask, mask) }
        let w = image.width, h = image.height
        var data = mask
        if deadAreas {
            var lowest = Float.infinity
            for i in 0..<image.count where mask.isValid[i] && image.pixels[i] < lowest { lowest = image.pixels[i] }
            var valid = mask.isValid
            var changed = false
            if let flat {
                for y in 2..<(h - 2) {
                    for x in 2..<(w - 2) where flat[y * w + x] && image.pixels[y * w + x] == lowest {
                        for dy in -2...2 { for dx in -2...2 { valid[(y + dy) * w + x + dx] = false } }
                        changed = true
                    }
                }
            }
            // Within 2 px of the frame's edge a patch is the part of the 5 x 5 square inside the
            // frame (3 x 3 to 5 x 4 pixels): a dead strip 3-4 px thick along the frame (a round
            // detector's circle cutting the frame's edge) holds no whole 5 x 5 patch, and its
            // step into the live area made false maxima along it (held-out Laue tiles).
            let edgeColumns = w <= 4 ? Array(0..<w) : [0, 1, w - 2, w - 1]
            for y in 0..<h {
                for x in (y < 2 || y >= h - 2) ? Array(0..<w) : edgeColumns where image.pixels[y * w + x] == lowest {
                    let ys = max(0, y - 2)...min(h - 1, y + 2), xs = max(0, x - 2)...min(w - 1, x + 2)
                    guard ys.count >= 3, xs.count >= 3,
                          ys.allSatisfy({ yy in xs.allSatisfy { image.pixels[yy * w + $0] == lowest } }) else { continue }
                    for yy in ys { for xx in xs { valid[yy * w + xx] = false } }
                    changed = true
                }
            }
            if changed, valid.reduce(0, { $0 + ($1 ? 1 : 0) }) >= 64 { data = Mask(width: w, height: h, isValid: valid) }
        }
        guard let flat else { return (data, data) }
        var valid = data.isValid
        var left = 0
        for i in 0..<valid.count {
            if flat[i] { valid[i] = false }
            if valid[i] { left += 1 }
        }
        return (data, left >= 64 ? Mask(width: w, height: h, isValid: valid) : data)
    }

    public static func sigma(_ image: Image, mask: Mask? = nil, maxSamples: Int = 1 << 20) -> Double {
        let w = image.width, h = image.height
        if w > 2, h > 2, (w - 2) * (h - 2) <= maxSamples, mask.map({ $0.isEverywhereValid }) ?? true {
            // Every interior pixel, in raster order (what `forEachSample` visits here), a row at a
            // time with the same arithmetic per pixel (the loop vectorises); the non-finite ones
            // are then left out, as below.
            let interior = w - 2
            var responses = [Float](unsafeUninitializedCapacity: interior * (h - 2)) { out, count in
                image.pixels.withUnsafeBufferPointer { p in
                    for y in 1..<(h - 1) {
                        let o = out.baseAddress! + (y - 1) * interior, row = y &* w
                        for x in 1..<(w - 1) { o[x &- 1] = immerkaerResponse(p, at: row &+ x, width: w) }
                    }
                }
                count = interior * (h - 2)
            }
            if !responses.allSatisfy({ $0.isFinite }) { responses.removeAll { !$0.isFinite } }
            guard !responses.isEmpty else { return 0 }
            return robustSpread(&responses) / 6
        }
        var responses: [Float] = []
        image.pixels.withUnsafeBufferPointer { p in
            forEachSample(image, radius: 1, mask: mask, maxSamples: maxSamples,
                          expecting: { responses.reserveCapacity($0) }) { i in
                let r = immerkaerResponse(p, at: i, width: w)
                if r.isFinite { responses.append(r) }
            }
        }
        guard !responses.isEmpty else { return 0 }
        return robustSpread(&responses) / 6
    }

    /// Calls `body` with the index of every pixel whose (2 radius + 1)^2 neighbourhood lies in
    /// the image and (with a mask that is not all valid) is all valid, taking every `stride`-th
    /// interior pixel in raster order, stride = max(1, interior / maxSamples), so that at most
    /// about `maxSamples` are visited; `expecting` is first told that bound (to reserve storage).
    @inline(__always)
    static func forEachSample(_ image: Image, radius r: Int, mask: Mask?, maxSamples: Int,
                              expecting: (Int) -> Void, _ body: (Int) -> Void) {
        let w = image.width, h = image.height
        guard w > 2 * r, h > 2 * r else { return }
        let mask = (mask?.isEverywhereValid ?? true) ? nil : mask
        let interior = (w - 2 * r) * (h - 2 * r)
        let stride = max(1, interior / maxSamples)
        expecting(interior / stride + 1)
        var counter = 0
        for y in r..<(h - r) {
            for x in r..<(w - r) {
                counter &+= 1
                if counter < stride { continue }
                counter = 0
                if let mask {
                    var ok = true
                    check: for dy in -r...r { for dx in -r...r where !mask[x + dx, y + dy] { ok = false; break check } }
                    if !ok { continue }
                }
                body(y &* w &+ x)
            }
        }
    }

    /// 1.4826 median |r| (the standard deviation of Gaussian responses), or, when more than half
    /// of the responses are 0 (flat, quantised data), Immerkær's mean form sqrt(pi/2) mean |r|.
    /// `r` holds absolute responses, summed in their order (the median's selection leaves it as is).
    static func robustSpread(_ r: inout [Float]) -> Double {
        let median = Double(Selection.median(&r))
        if median > 0 { return 1.482602218505602 * median }
        let mean = r.reduce(0.0) { $0 + Double($1) } / Double(r.count)
        return (Double.pi / 2).squareRoot() * mean
    }

    /// The grid the recorded values lie on: the greatest common divisor of the differences
    /// between the sampled valid pixels when they are all whole numbers (1 for ordinary integer
    /// data, 16 for 12-bit values shifted into 16 bits), 0 when they are not all whole numbers
    /// (continuous data: no quantisation is seen) or all equal. Samples every pixel up to
    /// `maxSamples`, then a fixed raster stride (a mask of wrong shape is not checked here).
    public static func quantisationStep(_ image: Image, mask: Mask? = nil, maxSamples: Int = 1 << 16) -> Double {
        var first: Float?
        var step: UInt64 = 0
        var whole = true
        image.pixels.withUnsafeBufferPointer { p in
            forEachSample(image, radius: 0, mask: mask, maxSamples: maxSamples, expecting: { _ in }) { i in
                guard whole else { return }
                let v = p[i]
                // Floats hold every whole number up to 2^24 exactly; larger magnitudes or
                // fractions are treated as continuous.
                guard v.isFinite, v == v.rounded(), abs(v) <= 16_777_216 else { whole = false; return }
                guard let f = first else { first = v; return }
                let d = UInt64(abs(Double(v) - Double(f)))
                if d > 0 { step = gcd(step, d) }
            }
        }
        return whole ? Double(step) : 0
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var a = a, b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    /// Smallest pixel noise, in quantisation steps, at which the noise counts as resolved by the
    /// data (`quantisationStep`). Rounding to a grid of step q adds white noise of q / sqrt(12)
    /// = 0.29 q whatever the scene; at 2 q it is 2% of the noise variance, at 1 q 8%, and at the
    /// 0.5-1 q of most 8-bit exports (525 of 539 DSB2018 images: 0.49-0.99 grey levels) the
    /// recorded noise is mostly the rounding, white by construction, and says nothing of the
    /// structure at a detection scale. Golden/real fluo-nuclei-stardist: 4.9 q.
    public static let resolvedNoiseSteps = 2.0

    /// Largest `whiteness` at which the pixel noise counts as white, so that its level after a
    /// linear filter is the pixel noise times the filter's L2 norm. At 1.1 (noise correlated over
    /// about 0.38 px) that propagation underestimates the filtered noise by at most about 1.2x,
    /// so a threshold of 6 noise sigmas stays at 5 or more true ones, which white noise allows.
    /// Golden/real: 1.02 and 1.05 on the two white cases, 1.42 and above on the rest.
    public static let whitenessLimit = 1.1

    /// How white the noise is at the pixel scale: rho = s2 / s1, where s1 is the spread of
    /// Immerkær's kernel N over the image (above) and s2 the spread of N2, the same kernel with
    /// its taps 2 px apart (a 5 x 5 kernel, zeros between the taps). Both kernels have gain 6 on
    /// white noise, so rho = 1 for white noise whatever its level. When neighbouring pixels are
    /// correlated (a point-spread function wider than a pixel, resampling, drizzling, a scan's
    /// smoothing), N, which sees only the highest frequencies, loses more of the noise than N2:
    /// for noise smoothed by a Gaussian of c px, rho = 1.00 (c <= 0.3), 1.05 (0.35), 1.13 (0.4),
    /// 1.27 (0.45), 1.48 (0.5). Content smooth on the pixel scale raises N2's response more
    /// than N's, so content can make white noise look correlated, never the other way round.
    ///
    /// Spreads are truncated root-mean-squares, robust to the sparse large responses at spots
    /// and edges and, unlike the median, not quantised by integer data: starting from
    /// 1.4826 median |r| (or sqrt(pi/2) mean |r| when the median is 0), four times
    /// s = sqrt(mean of r^2 over |r| < 3.5 s) / 0.99694 (0.99694 = the standard deviation of a
    /// unit Gaussian truncated at +-3.5). Only pixels whose 5 x 5 neighbourhood is valid take
    /// part, at a fixed raster stride above `maxSamples`. nil when fewer than 64 such pixels
    /// exist or the image is constant there.
    public static func whiteness(_ image: Image, mask: Mask? = nil, maxSamples: Int = 1 << 16) -> Double? {
        let w = image.width
        var r1: [Float] = [], r2: [Float] = []
        image.pixels.withUnsafeBufferPointer { p in
            forEachSample(image, radius: 2, mask: mask, maxSamples: maxSamples,
                          expecting: { r1.reserveCapacity($0); r2.reserveCapacity($0) }) { i in
                let a = immerkaerResponse(p, at: i, width: w)
                // N2: the taps of N at (+-2, +-2), (0, +-2), (+-2, 0).
                let up = i &- 2 &* w, dn = i &+ 2 &* w
                let corners = p[up &- 2] + p[up &+ 2] + p[dn &- 2] + p[dn &+ 2]
                let edges = p[up] + p[dn] + p[i &- 2] + p[i &+ 2]
                let b = abs(corners - 2 * edges + 4 * p[i])
                if a.isFinite && b.isFinite { r1.append(a); r2.append(b) }
            }
        }
        guard r1.count >= 64 else { return nil }
        let s1 = truncatedSpread(&r1), s2 = truncatedSpread(&r2)
        guard s1 > 0, s2.isFinite else { return nil }
        return s2 / s1
    }

    /// The truncated root-mean-square spread of absolute responses (see `whiteness`), starting
    /// from `robustSpread`; sums in `r`'s order.
    static func truncatedSpread(_ r: inout [Float]) -> Double {
        var s = robustSpread(&r)
        guard s > 0 else { return 0 }
        for _ in 0..<4 {
            let limit = 3.5 * s
            var sum = 0.0, n = 0
            for v in r where Double(v) < limit { sum += Double(v) * Double(v); n += 1 }
            guard n > 0 else { break }
            s = (sum / Double(n)).squareRoot() / 0.99694
        }
        return s
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
