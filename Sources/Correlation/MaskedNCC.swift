import PeakKit
import Spectral

/// Masked normalised cross-correlation in the Fourier domain (Padfield, "Masked object
/// registration in the Fourier domain", IEEE TIP 21(5), 2012), in Double.
///
/// For a lag d = (dx, dy) the value is the Pearson correlation of fixed(x) and moving(x - d) over
/// the pixels x where both are valid (the overlap, N(d) pixels):
///
///     r(d) = (S_fg - S_f S_g / N) / sqrt((S_ff - S_f^2 / N) (S_gg - S_g^2 / N))
///
/// with S_f = sum f, S_ff = sum f^2, S_fg = sum f g over the overlap. Each sum is a correlation of
/// (masked) images or masks, so six forward and six inverse FFTs give every lag at once.
///
/// Robustness: both images are first centred on their mean over valid pixels (the sums then
/// stay small, so the variance differences do not cancel catastrophically); a variance term at
/// or below 1000 eps times the total energy of its image (the FFT's rounding level) counts as zero
/// and gives r = 0 (flat overlap), as does an overlap N(d) < `overlapRatio` times the largest
/// overlap in the computed window; values are clipped to [-1, 1]. Never NaN.
///
/// Map layout: element (col, row) is the lag (col + originX, row + originY). `full` covers
/// every lag with overlap, dx in -(movingWidth - 1)...(fixedWidth - 1); `same` the fixedWidth x
/// fixedHeight lags centred like scipy (lag 0 at (movingWidth / 2, movingHeight / 2) for equal sizes).
public enum MaskedNCC {
    /// The masked NCC of `fixed` and `moving` (any sizes; masks default to all valid and must
    /// match their image). Throws `PeaksError` for empty images, mask shapes, non-finite valid pixels.
    public static func correlate(
        fixed: Image, fixedMask: Mask? = nil, moving: Image, movingMask: Mask? = nil,
        mode: CorrelationMode = .full, overlapRatio: Double = 0.3
    ) throws -> CorrelationMap {
        let f = try MaskedInput(fixed, fixedMask, what: "fixed image")
        let g = try MaskedInput(moving, movingMask, what: "moving image")
        try checkRatio(overlapRatio)
        let cm = mode.convolutionMode
        let sx = cm.fullOffset(input: f.width, kernel: g.width), sy = cm.fullOffset(input: f.height, kernel: g.height)
        let mx = cm.outputLength(input: f.width, kernel: g.width), my = cm.outputLength(input: f.height, kernel: g.height)
        return compute(f, g, inversion: false, fullX0: sx, fullY0: sy, w: mx, h: my, overlapRatio: overlapRatio)
    }

    /// The masked NCC of an image with its point inversion (the image rotated by 180 degrees, its
    /// mask too), for lags |dx|, |dy| <= maxLag around the centre. Lag d means
    /// image(x) ~ inverted(x - d); a pattern symmetric about c (crop coordinates) peaks at
    /// d = 2 c - (size - 1). Uses 3 forward and 4 inverse FFTs (the inverted image's spectra are the
    /// image's own), of the smallest size that holds the lag window without wrap-around.
    public static func correlateWithInversion(_ image: Image, mask: Mask? = nil, maxLag: Int, overlapRatio: Double = 0.3) throws -> CorrelationMap {
        let f = try MaskedInput(image, mask, what: "image")
        try checkRatio(overlapRatio)
        let lx = max(0, min(maxLag, f.width - 1)), ly = max(0, min(maxLag, f.height - 1))
        return compute(f, f, inversion: true, fullX0: f.width - 1 - lx, fullY0: f.height - 1 - ly,
                       w: 2 * lx + 1, h: 2 * ly + 1, overlapRatio: overlapRatio)
    }

    static func checkRatio(_ r: Double) throws {
        guard r.isFinite, r >= 0, r <= 1 else {
            throw PeaksError.invalidParameter(name: "overlap_ratio", reason: "must be in 0...1, got \(NumberFormat.string(r))")
        }
    }

    /// An image in Double, centred on its valid mean, zero on invalid pixels, with its 0/1 mask.
    struct MaskedInput {
        var width: Int, height: Int
        var values: [Double]    // (v - mean) * m
        var squares: [Double]   // values^2
        var mask: [Double]      // 1 valid, 0 invalid
        var energy: Double      // sum of squares

        init(_ image: Image, _ mask: Mask?, what: String) throws {
            guard image.width > 0, image.height > 0 else {
                throw PeaksError.invalidImage(reason: "\(what) is empty (\(image.width)x\(image.height))")
            }
            if let mask { try mask.checkShape(matches: image, what: "\(what) mask") }
            width = image.width
            height = image.height
            let n = image.count
            var m = [Double](repeating: 1, count: n)
            var v = [Double](repeating: 0, count: n), s = [Double](repeating: 0, count: n)
            var sum = 0.0, count = 0.0, e = 0.0
            var bad = -1
            image.pixels.withUnsafeBufferPointer { px in
                m.withUnsafeMutableBufferPointer { pm in
                    if let mask {
                        mask.isValid.withUnsafeBufferPointer { valid in
                            for i in 0..<n where !valid[i] { pm[i] = 0 }
                        }
                    }
                    for i in 0..<n where pm[i] != 0 {
                        let x = Double(px[i])
                        if !x.isFinite { bad = i; return }
                        sum += x
                        count += 1
                    }
                    let mean = count > 0 ? sum / count : 0
                    v.withUnsafeMutableBufferPointer { pv in
                        s.withUnsafeMutableBufferPointer { ps in
                            for i in 0..<n where pm[i] != 0 {
                                let c = Double(px[i]) - mean
                                pv[i] = c
                                ps[i] = c * c
                                e += c * c
                            }
                        }
                    }
                }
            }
            if bad >= 0 {
                throw PeaksError.invalidImage(reason: "\(what) has a NaN or infinite valid pixel at x=\(bad % image.width), y=\(bad / image.width); mask it")
            }
            values = v
            squares = s
            self.mask = m
            energy = e
        }
    }

    /// The window [fullX0, fullX0 + w) x [fullY0, fullY0 + h) of the full masked NCC.
    ///
    /// Each of the six sums is an inverse transform of a product of two spectra, but none is kept
    /// as a padded array: the inverses hand over their rows (only the window's rows are
    /// transformed) and each row is reduced at once to what the formula needs, in window-sized
    /// arrays: the overlap N (rounded), S_f and S_g (scaled), then the product of the two
    /// variance terms (S_ff's row gives var_f, S_gg's row multiplies it by var_g), and S_fg's
    /// rows give r directly. Spectra are dropped (or overwritten by the next one) after their
    /// last use, so at most four are alive. Arithmetic per element is the same as forming the
    /// six sums first: the order of operations in each formula is unchanged.
    static func compute(_ f: MaskedInput, _ g: MaskedInput, inversion: Bool, fullX0: Int, fullY0: Int, w: Int, h: Int, overlapRatio: Double) -> CorrelationMap {
        let px = SpectralWork.transformLength(n: f.width, k: g.width, start: fullX0, count: w)
        let py = SpectralWork.transformLength(n: f.height, k: g.height, start: fullY0, count: h)
        let plan = FFTPlan2D<Double>(width: px, height: py)
        let rows = fullY0..<(fullY0 + h)
        func spectrum(_ a: [Double], _ x: MaskedInput, flip: Bool, into reuse: FFTHalfSpectrum<Double>? = nil) -> FFTHalfSpectrum<Double> {
            let out = reuse ?? FFTHalfSpectrum<Double>(uninitializedWidth: px, height: py)
            a.withUnsafeBufferPointer { plan.forward(topLeft: $0.baseAddress!, width: x.width, height: x.height, flipped: flip, into: out) }
            return out
        }
        let eps = Double.ulpOfOne
        let tolF = 1000 * eps * max(f.energy, Double.leastNormalMagnitude)
        let tolG = 1000 * eps * max(g.energy, Double.leastNormalMagnitude)
        let scale = 1 / (Double(px) * Double(py))
        let n = w * h
        // Window-sized work arrays (every element written before it is read).
        let overlap = UnsafeMutablePointer<Double>.allocate(capacity: n)    // N, rounded
        let sumF = UnsafeMutablePointer<Double>.allocate(capacity: n)       // S_f
        let sumG = inversion ? sumF : UnsafeMutablePointer<Double>.allocate(capacity: n)   // S_g
        let denominator = UnsafeMutablePointer<Double>.allocate(capacity: n) // var_f var_g, 0 if either is flat or N is small
        let rowMax = UnsafeMutablePointer<Double>.allocate(capacity: h)
        defer {
            overlap.deallocate(); sumF.deallocate(); denominator.deallocate(); rowMax.deallocate()
            if !inversion { sumG.deallocate() }
        }
        let pN = SharedPointer(overlap), pF = SharedPointer(sumF), pG = SharedPointer(sumG)
        let pD = SharedPointer(denominator), pM = SharedPointer(rowMax)
        var out = [Double](repeating: 0, count: n)

        // Correlation = convolution with the moving image reversed. For the point inversion the
        // reversed moving image is the fixed image itself, so its spectra are reused.
        let fm = spectrum(f.mask, f, flip: false)
        let gm = inversion ? fm : spectrum(g.mask, g, flip: true)
        let work = FFTHalfSpectrum<Double>(uninitializedWidth: px, height: py)
        // N, and the largest N of each window row (for the overlap cut-off).
        plan.inverse(productOf: fm, gm, work: work, rows: rows) { y, row in
            let r = y &- fullY0, o = r &* w, src = row + fullX0
            var m = 0.0, x = 0
            while x < w {
                let v = (src[x] * scale).rounded()
                pN[o &+ x] = v
                m = max(m, v)
                x &+= 1
            }
            pM[r] = m
        }
        var largest = 0.0
        for r in 0..<h { largest = max(largest, rowMax[r]) }
        let minN = max(1, overlapRatio * largest)

        let f1 = spectrum(f.values, f, flip: false)
        plan.inverse(productOf: f1, gm, work: work, rows: rows) { y, row in
            let o = (y &- fullY0) &* w, src = row + fullX0
            var x = 0
            while x < w { pF[o &+ x] = src[x] * scale; x &+= 1 }
        }
        // var_f = S_ff - S_f^2 / N where N passes the cut-off (elsewhere r = 0 and it is unused).
        let f2 = spectrum(f.squares, f, flip: false, into: work)
        plan.inverse(productOf: f2, gm, work: f2, rows: rows) { y, row in
            let o = (y &- fullY0) &* w, src = row + fullX0
            var x = 0
            while x < w {
                let k = o &+ x, nn = pN[k]
                var d = 0.0
                if nn >= minN {
                    let a = pF[k]
                    let varF = src[x] * scale - a * a / nn
                    // For the inversion var_g is var_f at the same lag.
                    d = varF > tolF ? (inversion ? (varF > tolG ? varF * varF : 0) : varF) : 0
                }
                pD[k] = d
                x &+= 1
            }
        }
        let g1: FFTHalfSpectrum<Double>
        if inversion {
            g1 = f1
        } else {
            // gm is no longer needed: its memory takes the moving image's spectrum.
            g1 = spectrum(g.values, g, flip: true, into: gm)
            plan.inverse(productOf: fm, g1, work: f2, rows: rows) { y, row in
                let o = (y &- fullY0) &* w, src = row + fullX0
                var x = 0
                while x < w { pG[o &+ x] = src[x] * scale; x &+= 1 }
            }
            let g2 = spectrum(g.squares, g, flip: true, into: f2)
            plan.inverse(productOf: fm, g2, work: g2, rows: rows) { y, row in
                let o = (y &- fullY0) &* w, src = row + fullX0
                var x = 0
                while x < w {
                    let k = o &+ x, varF = pD[k]
                    if varF != 0 {
                        let nn = pN[k], c = pG[k]
                        let varG = src[x] * scale - c * c / nn
                        pD[k] = varG > tolG ? varF * varG : 0
                    }
                    x &+= 1
                }
            }
        }
        // r = (S_fg - S_f S_g / N) / sqrt(var_f var_g), straight into the map.
        out.withUnsafeMutableBufferPointer { bo in
            let pO = SharedPointer(bo.baseAddress!)
            plan.inverse(productOf: f1, g1, work: f1, rows: rows) { y, row in
                let o = (y &- fullY0) &* w, src = row + fullX0
                var x = 0
                while x < w {
                    let k = o &+ x, d = pD[k]
                    var r = 0.0
                    if d != 0 {
                        let nn = pN[k], a = pF[k], c = pG[k]
                        let q = (src[x] * scale - a * c / nn) / d.squareRoot()
                        r = q.isFinite ? min(1, max(-1, q)) : 0
                    }
                    pO[k] = r
                    x &+= 1
                }
            }
        }
        return CorrelationMap(width: w, height: h, values: out,
                              originX: fullX0 - (g.width - 1), originY: fullY0 - (g.height - 1))
    }
}
