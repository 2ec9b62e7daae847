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
    /// One scratch real array serves every forward transform and one scratch spectrum every
    /// product; the six inverse transforms stay in their padded arrays and the final pass reads
    /// the window from them directly (the transform size guarantees no wrap-around inside it).
    static func compute(_ f: MaskedInput, _ g: MaskedInput, inversion: Bool, fullX0: Int, fullY0: Int, w: Int, h: Int, overlapRatio: Double) -> CorrelationMap {
        let px = SpectralWork.transformLength(n: f.width, k: g.width, start: fullX0, count: w)
        let py = SpectralWork.transformLength(n: f.height, k: g.height, start: fullY0, count: h)
        let work = SpectralWork(width: px, height: py)
        let scratch = FFTRealArray<Double>(uninitializedWidth: px, height: py)
        let prod = FFTHalfSpectrum<Double>(uninitializedWidth: px, height: py)
        func spec(_ a: [Double], _ x: MaskedInput, flip: Bool) -> FFTHalfSpectrum<Double> {
            a.withUnsafeBufferPointer { work.spectrum(of: $0, width: x.width, height: x.height, flip: flip, scratch: scratch) }
        }
        func inverse(_ a: FFTHalfSpectrum<Double>, _ b: FFTHalfSpectrum<Double>) -> FFTRealArray<Double> {
            work.multiply(a, b, into: prod)
            let out = FFTRealArray<Double>(uninitializedWidth: px, height: py)
            work.plan.inverse(prod, into: out, normalize: false)
            return out
        }
        // Correlation = convolution with the moving image reversed. For the point inversion the
        // reversed moving image is the fixed image itself, so its spectra are reused.
        let fm = spec(f.mask, f, flip: false)
        let gm = inversion ? fm : spec(g.mask, g, flip: true)
        let overlap = inverse(fm, gm)
        let f1 = spec(f.values, f, flip: false)
        let sf = inverse(f1, gm)
        let g1 = inversion ? f1 : spec(g.values, g, flip: true)
        let sg = inversion ? sf : inverse(fm, g1)
        let num = inverse(f1, g1)
        let f2 = spec(f.squares, f, flip: false)
        let vf = inverse(f2, gm)
        let vg = inversion ? vf : inverse(fm, spec(g.squares, g, flip: true))

        let eps = Double.ulpOfOne
        let tolF = 1000 * eps * max(f.energy, Double.leastNormalMagnitude)
        let tolG = 1000 * eps * max(g.energy, Double.leastNormalMagnitude)
        let scale = 1 / (Double(px) * Double(py))
        let n = w * h
        var out = [Double](repeating: 0, count: n)
        withExtendedLifetime((overlap, sf, sg, num, vf, vg)) {
            overlap.withUnsafeMutableBufferPointer { bN in
            sf.withUnsafeMutableBufferPointer { bF in
            sg.withUnsafeMutableBufferPointer { bG in
            num.withUnsafeMutableBufferPointer { bFG in
            vf.withUnsafeMutableBufferPointer { bFF in
            vg.withUnsafeMutableBufferPointer { bGG in
            out.withUnsafeMutableBufferPointer { bO in
                guard let pN = bN.baseAddress, let pF = bF.baseAddress, let pG = bG.baseAddress, let pFG = bFG.baseAddress,
                      let pFF = bFF.baseAddress, let pGG = bGG.baseAddress, let pO = bO.baseAddress else { return }
                let sN = SharedPointer(pN), sF = SharedPointer(pF), sG = SharedPointer(pG), sFG = SharedPointer(pFG)
                let sFF = SharedPointer(pFF), sGG = SharedPointer(pGG), sO = SharedPointer(pO)
                // Pass 1: the largest overlap in the window (per-block maxima, then their maximum).
                let blocks = h >= 16 && n >= 1 << 17 ? 16 : 1
                var maxima = [Double](repeating: 0, count: blocks)
                maxima.withUnsafeMutableBufferPointer { bm in
                    guard let pm = bm.baseAddress else { return }
                    let sm = SharedPointer(pm)
                    Parallel.forEach(blocks) { b in
                        var m = 0.0
                        for y in (h * b / blocks)..<(h * (b + 1) / blocks) {
                            let base = (fullY0 &+ y) &* px &+ fullX0
                            var x = 0
                            while x < w { m = max(m, (sN[base &+ x] * scale).rounded()); x &+= 1 }
                        }
                        sm[b] = m
                    }
                }
                let minN = max(1, overlapRatio * (maxima.max() ?? 0))
                // Pass 2: the correlation.
                Parallel.forEach(blocks) { b in
                    for y in (h * b / blocks)..<(h * (b + 1) / blocks) {
                        let base = (fullY0 &+ y) &* px &+ fullX0, row = y &* w
                        var x = 0
                        while x < w {
                            let k = base &+ x
                            let nn = (sN[k] * scale).rounded()
                            var r = 0.0
                            if nn >= minN {
                                let a = sF[k] * scale, c = sG[k] * scale
                                let varF = sFF[k] * scale - a * a / nn
                                let varG = sGG[k] * scale - c * c / nn
                                if varF > tolF && varG > tolG {
                                    let q = (sFG[k] * scale - a * c / nn) / (varF * varG).squareRoot()
                                    r = q.isFinite ? min(1, max(-1, q)) : 0
                                }
                            }
                            sO[row &+ x] = r
                            x &+= 1
                        }
                    }
                }
            } } } } } } }
        }
        return CorrelationMap(width: w, height: h, values: out,
                              originX: fullX0 - (g.width - 1), originY: fullY0 - (g.height - 1))
    }
}
