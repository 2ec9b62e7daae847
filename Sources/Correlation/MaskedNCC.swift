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

    /// An image's valid mean and energy; the three arrays the transforms need (the 0/1 mask,
    /// the image centred on its valid mean and zero on invalid pixels, and its squares) are
    /// written row by row straight into the transforms' row buffers (`fillRow`), never stored.
    struct MaskedInput {
        enum Plane { case mask, values, squares }
        var width: Int, height: Int
        var pixels: [Float]
        var valid: [Bool]?      // nil: every pixel valid
        var mean: Double
        var energy: Double      // sum of squares of the centred valid values

        init(_ image: Image, _ mask: Mask?, what: String) throws {
            guard image.width > 0, image.height > 0 else {
                throw PeaksError.invalidImage(reason: "\(what) is empty (\(image.width)x\(image.height))")
            }
            if let mask { try mask.checkShape(matches: image, what: "\(what) mask") }
            width = image.width
            height = image.height
            pixels = image.pixels
            valid = mask?.isValid
            let n = image.count
            var sum = 0.0, count = 0.0, e = 0.0
            var bad = -1
            let all = [Bool]()
            image.pixels.withUnsafeBufferPointer { px in
                (mask?.isValid ?? all).withUnsafeBufferPointer { pv in
                    let masked = pv.count == n
                    for i in 0..<n where !masked || pv[i] {
                        let x = Double(px[i])
                        if !x.isFinite { bad = i; return }
                        sum += x
                        count += 1
                    }
                    let m = count > 0 ? sum / count : 0
                    for i in 0..<n where !masked || pv[i] {
                        let c = Double(px[i]) - m
                        e += c * c
                    }
                }
            }
            if bad >= 0 {
                throw PeaksError.invalidImage(reason: "\(what) has a NaN or infinite valid pixel at x=\(bad % image.width), y=\(bad / image.width); mask it")
            }
            mean = count > 0 ? sum / count : 0
            energy = e
        }

        /// Row `y` of a plane, reversed along both axes when `flip` (row y is then source row
        /// height - 1 - y, read right to left), into `dst` (`width` values).
        func fillRow(_ plane: Plane, _ y: Int, flip: Bool, into dst: UnsafeMutablePointer<Double>,
                     pixels px: UnsafePointer<Float>, valid pv: UnsafePointer<Bool>?) {
            let w = width, sy = flip ? height &- 1 &- y : y
            let row = px + sy &* w, ok = pv.map { $0 + sy &* w }
            let m = mean
            var x = 0
            while x < w {
                let sx = flip ? w &- 1 &- x : x
                let isValid = ok?[sx] ?? true
                var v = 0.0
                if isValid {
                    switch plane {
                    case .mask: v = 1
                    case .values: v = Double(row[sx]) - m
                    case .squares:
                        let c = Double(row[sx]) - m
                        v = c * c
                    }
                }
                dst[x] = v
                x &+= 1
            }
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
        // The padded planes are written into the transforms' row buffers (rows past the image
        // are zero and skipped).
        func spectrum(_ plane: MaskedInput.Plane, _ x: MaskedInput, flip: Bool, into reuse: FFTHalfSpectrum<Double>? = nil) -> FFTHalfSpectrum<Double> {
            let out = reuse ?? FFTHalfSpectrum<Double>(uninitializedWidth: px, height: py)
            x.pixels.withUnsafeBufferPointer { bp in
                (x.valid ?? []).withUnsafeBufferPointer { bv in
                    let sp = SharedPointer(bp.baseAddress!), sv = bv.baseAddress.map { SharedPointer($0) }
                    let xw = x.width, xh = x.height, pw = px
                    plan.forward(into: out) { y, row in
                        if y >= xh { return false }
                        x.fillRow(plane, y, flip: flip, into: row, pixels: sp.base, valid: sv?.base)
                        (row + xw).update(repeating: 0, count: pw &- xw)
                        return true
                    }
                }
            }
            return out
        }
        let eps = Double.ulpOfOne
        let tolF = 1000 * eps * max(f.energy, Double.leastNormalMagnitude)
        let tolG = 1000 * eps * max(g.energy, Double.leastNormalMagnitude)
        let scale = 1 / (Double(px) * Double(py))
        let n = w * h
        // Window-sized work arrays (every element written before it is read).
        let overlap = LargeBuffer.allocate(Double.self, count: n)      // N, rounded
        let sumF = LargeBuffer.allocate(Double.self, count: n)         // S_f
        let sumG = inversion ? sumF : LargeBuffer.allocate(Double.self, count: n)   // S_g
        let denominator = LargeBuffer.allocate(Double.self, count: n)  // var_f var_g, 0 if either is flat or N is small
        let rowMax = UnsafeMutablePointer<Double>.allocate(capacity: h)
        defer {
            LargeBuffer.free(overlap); LargeBuffer.free(sumF); LargeBuffer.free(denominator); rowMax.deallocate()
            if !inversion { LargeBuffer.free(sumG) }
        }
        let pN = SharedPointer(overlap), pF = SharedPointer(sumF), pG = SharedPointer(sumG)
        let pD = SharedPointer(denominator), pM = SharedPointer(rowMax)
        var out = [Double](repeating: 0, count: n)

        // Correlation = convolution with the moving image reversed. For the point inversion the
        // reversed moving image is the fixed image itself, so its spectra are reused.
        let fm = spectrum(.mask, f, flip: false)
        let gm = inversion ? fm : spectrum(.mask, g, flip: true)
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

        let f1 = spectrum(.values, f, flip: false)
        plan.inverse(productOf: f1, gm, work: work, rows: rows) { y, row in
            let o = (y &- fullY0) &* w, src = row + fullX0
            var x = 0
            while x < w { pF[o &+ x] = src[x] * scale; x &+= 1 }
        }
        // var_f = S_ff - S_f^2 / N where N passes the cut-off (elsewhere r = 0 and it is unused).
        let f2 = spectrum(.squares, f, flip: false, into: work)
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
            g1 = spectrum(.values, g, flip: true, into: gm)
            plan.inverse(productOf: fm, g1, work: f2, rows: rows) { y, row in
                let o = (y &- fullY0) &* w, src = row + fullX0
                var x = 0
                while x < w { pG[o &+ x] = src[x] * scale; x &+= 1 }
            }
            let g2 = spectrum(.squares, g, flip: true, into: f2)
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
