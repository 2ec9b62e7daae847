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
import Spectral

/// Phase cross-correlation with subpixel refinement by the matrix-multiply DFT of Guizar-Sicairos,
/// Thurman and Fienup, "Efficient subpixel image registration algorithms", Opt. Lett. 33(2), 2008
/// (the algorithm of scikit-image's `phase_cross_correlation`).
///
/// 1. R = F_ref conj(F_mov) (2-D DFTs of the two images, same shape); with `.phase` normalisation
///    R / max(|R|, 100 eps). The inverse DFT of R is the circular cross-correlation
///    cc(d) = sum_x ref(x) mov(x - d): its peak is the whole-pixel shift d (wrapped to
///    -n/2 < d <= n/2 per axis), the shift that applied to MOVING aligns it with REFERENCE.
/// 2. With `upsample` k > 1 the shift is rounded to 1/k and cc is evaluated on a
///    ceil(1.5 k) x ceil(1.5 k) grid of spacing 1/k around it by a DFT written as two matrix
///    products (a partial inverse DFT at arbitrary points): cost O(k N) instead of the O(k^2 N log)
///    of zero-padding. The best grid point refines the shift to 1/k pixel.
/// 3. error = sqrt|1 - |CC_max|^2 / (sum|F_ref|^2 sum|F_mov|^2)| (with `.phase`, both sums are
///    sum |R| of the whitened spectrum), phase difference = arg(CC_max).
///
/// Real images have Hermitian spectra; only half spectra (FFTW r2c) are computed, and the
/// upsampled DFT sums each conjugate pair of columns once (half the work). Shifts along an axis of
/// length 1 are 0.
public enum PhaseCorrelation {
    public enum Normalization: String, Sendable, CaseIterable {
        /// Whiten the cross-power spectrum (classic phase correlation; sharp peak).
        case phase
        /// Plain cross-correlation (more robust to noise, broader peak).
        case none
    }

    public static func register(
        reference: Image, moving: Image, upsample: Int = 1, normalization: Normalization = .phase
    ) throws -> Registration {
        guard reference.width > 0, reference.height > 0 else {
            throw PeaksError.invalidImage(reason: "phase correlation: the reference image is empty")
        }
        guard moving.width == reference.width, moving.height == reference.height else {
            throw PeaksError.shapeMismatch(what: "moving image", expected: (reference.width, reference.height), actual: (moving.width, moving.height))
        }
        guard upsample >= 1, upsample <= 10_000 else {
            throw PeaksError.invalidParameter(name: "upsample", reason: "must be in 1...10000, got \(upsample)")
        }
        for (img, name) in [(reference, "reference"), (moving, "moving")] {
            if let bad = img.firstNonFinitePixel() {
                throw PeaksError.invalidImage(reason: "phase correlation: the \(name) image has a NaN or infinite pixel at x=\(bad.x), y=\(bad.y)")
            }
        }
        let w = reference.width, h = reference.height
        let plan = FFTPlan2D<Double>(width: w, height: h)
        // The Float pixels become Double as the transform reads each row (no padded copy).
        func spectrum(_ img: Image) -> FFTHalfSpectrum<Double> {
            let out = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
            img.pixels.withUnsafeBufferPointer { s in
                let src = SharedPointer(s.baseAddress!)
                plan.forward(into: out) { y, row in
                    let from = src.base + y &* w
                    var x = 0
                    while x < w { row[x] = Double(from[x]); x &+= 1 }
                    return true
                }
            }
            return out
        }
        let fa = spectrum(reference), fb = spectrum(moving)
        let sw = w / 2 + 1
        // One pass over spectrum rows: R = F_ref conj(F_mov) (into fa's memory), whitened with
        // `.phase`, and each row's share of the error's normalisation (sum |F|^2 of both images,
        // or sum |R| of the whitened spectrum), added up in row order afterwards.
        var rowEnergy = [Double](repeating: 0, count: 2 * h)
        let whiten = normalization == .phase
        fa.withUnsafeMutableBufferPointer { pa in
            fb.withUnsafeMutableBufferPointer { pb in
                rowEnergy.withUnsafeMutableBufferPointer { pe in
                    let sa = SharedPointer(pa.baseAddress!), sb = SharedPointer(pb.baseAddress!), se = SharedPointer(pe.baseAddress!)
                    let floor = 100 * Double.ulpOfOne
                    SpectralWork.rows(h, elements: w &* h) { v0, v1 in
                        for v in v0..<v1 {
                            var ea = 0.0, eb = 0.0
                            var u = 0
                            while u < sw {
                                let k = 2 &* (v &* sw &+ u)
                                let ar = sa[k], ai = sa[k &+ 1], br = sb[k], bi = -sb[k &+ 1]
                                var pr = ar * br - ai * bi, pi = ar * bi + ai * br
                                // Columns 1...(w-1)/2 stand for themselves and their conjugates.
                                let twice = !(u == 0 || (w % 2 == 0 && u == w / 2))
                                if whiten {
                                    let m = max((pr * pr + pi * pi).squareRoot(), floor)
                                    pr /= m
                                    pi /= m
                                    let q = (pr * pr + pi * pi).squareRoot()
                                    ea += twice ? 2 * q : q
                                } else {
                                    let qa = ar * ar + ai * ai, qb = br * br + bi * bi
                                    ea += twice ? 2 * qa : qa
                                    eb += twice ? 2 * qb : qb
                                }
                                sa[k] = pr
                                sa[k &+ 1] = pi
                                u &+= 1
                            }
                            se[2 &* v] = ea
                            se[2 &* v &+ 1] = eb
                        }
                    }
                }
            }
        }
        let product = fa
        var ampA = 0.0, ampB = 0.0
        for v in 0..<h { ampA += rowEnergy[2 * v]; ampB += rowEnergy[2 * v + 1] }
        if whiten { ampB = ampA }

        // Whole-pixel peak of the circular cross-correlation (n * cc): the first largest |value|
        // of each row, then over rows in order (the same element a scan in index order finds).
        var rowBest = [Int](repeating: 0, count: h), rowValue = [Double](repeating: 0, count: h)
        rowBest.withUnsafeMutableBufferPointer { pi in
            rowValue.withUnsafeMutableBufferPointer { pv in
                let si = SharedPointer(pi.baseAddress!), sv = SharedPointer(pv.baseAddress!)
                plan.inverse(product, work: fb, rows: 0..<h) { y, row in
                    var bi = 0, ba = -1.0
                    var x = 0
                    while x < w {
                        if abs(row[x]) > ba { ba = abs(row[x]); bi = x }
                        x &+= 1
                    }
                    si[y] = bi
                    sv[y] = row[bi]
                }
            }
        }
        var best = 0, bestAbs = -1.0, bestValue = 0.0
        for y in 0..<h where abs(rowValue[y]) > bestAbs {
            bestAbs = abs(rowValue[y])
            best = y * w + rowBest[y]
            bestValue = rowValue[y]
        }
        var sx = Double(best % w), sy = Double(best / w)
        if sx > Double(w / 2) { sx -= Double(w) }
        if sy > Double(h / 2) { sy -= Double(h) }
        let pixelDX = Int(sx), pixelDY = Int(sy)

        let ccMax: (re: Double, im: Double)
        let n = Double(w) * Double(h)
        var error: Double
        if upsample == 1 {
            ccMax = (bestValue / (Double(w) * Double(h)), 0)
            error = 1 - (ccMax.re * ccMax.re) / ((ampA / n) * (ampB / n))
        } else {
            let k = Double(upsample)
            sx = (sx * k).rounded() / k
            sy = (sy * k).rounded() / k
            let region = Int((k * 1.5).rounded(.up))
            let centre = Double(region / 2)
            let up = product.withUnsafeMutableBufferPointer { p in
                upsampledDFT(UnsafeBufferPointer(p), width: w, height: h, spectrumWidth: sw, region: region,
                             factor: k, offsetX: centre - sx * k, offsetY: centre - sy * k)
            }
            var bi = 0, bm = -1.0
            for i in 0..<(region * region) {
                let m = up.re[i] * up.re[i] + up.im[i] * up.im[i]
                if m > bm { bm = m; bi = i }
            }
            ccMax = (up.re[bi], up.im[bi])
            sx += (Double(bi % region) - centre) / k
            sy += (Double(bi / region) - centre) / k
            error = 1 - (ccMax.re * ccMax.re + ccMax.im * ccMax.im) / (ampA * ampB)
        }
        if !error.isFinite { error = 1 }
        if w == 1 { sx = 0 }
        if h == 1 { sy = 0 }
        return Registration(
            dx: sx == 0 ? 0 : sx, dy: sy == 0 ? 0 : sy, pixelDX: w == 1 ? 0 : pixelDX, pixelDY: h == 1 ? 0 : pixelDY,
            error: abs(error).squareRoot(), phaseDifference: atan2(ccMax.im, ccMax.re))
    }

    /// out(ry, rx) = sum over the full spectrum of R[v, u] exp(+2 pi i ((rx - ox) f_u / (w k) + (ry - oy) f_v / (h k))),
    /// f the signed (numpy fftfreq) frequencies: the unnormalised inverse DFT of R at the points
    /// ((rx - ox) / k, (ry - oy) / k). R is a half spectrum of a Hermitian full spectrum.
    static func upsampledDFT(
        _ r: UnsafeBufferPointer<Double>, width w: Int, height h: Int, spectrumWidth sw: Int,
        region: Int, factor k: Double, offsetX ox: Double, offsetY oy: Double
    ) -> (re: [Double], im: [Double]) {
        let pairs = (w - 1) / 2  // columns 1...pairs each stand for themselves and their conjugate
        let evenW = w % 2 == 0
        // Column kernel, structure of arrays: kx[rx * pairs + (u - 1)].
        var kxr = [Double](repeating: 0, count: max(1, region * pairs)), kxi = kxr
        for rx in 0..<region {
            let t = 2 * Double.pi * (Double(rx) - ox) / (Double(w) * k)
            for u in 1...max(1, pairs) where u <= pairs {
                let a = t * Double(u)
                kxr[rx * pairs + u - 1] = cos(a)
                kxi[rx * pairs + u - 1] = sin(a)
            }
        }
        // A[v, rx] = sum_{u=1}^{pairs} R[v, u] kx[rx, u]: the dominant cost (h * pairs * region
        // complex products). Rows are taken 8 at a time so that each kernel row (2 * pairs doubles)
        // is read from cache once per 8 dot products; 2-wide SIMD accumulators.
        var ar = [Double](repeating: 0, count: h * region), ai = ar
        guard let rBase = r.baseAddress else { return ([], []) }
        let rb = SharedPointer(rBase)
        let group = 8
        kxr.withUnsafeBufferPointer { pkr in
            kxi.withUnsafeBufferPointer { pki in
                ar.withUnsafeMutableBufferPointer { par in
                    ai.withUnsafeMutableBufferPointer { pai in
                        guard let kr0 = pkr.baseAddress, let ki0 = pki.baseAddress,
                              let ar0 = par.baseAddress, let ai0 = pai.baseAddress, pairs > 0 else { return }
                        let skr = SharedPointer(kr0), ski = SharedPointer(ki0)
                        let sar = SharedPointer(ar0), sai = SharedPointer(ai0)
                        let groups = (h + group - 1) / group
                        let blocks = min(groups, 32)
                        Parallel.forEach(blocks) { blk in
                            var re = [Double](repeating: 0, count: group * pairs), im = re
                            re.withUnsafeMutableBufferPointer { pre in
                                im.withUnsafeMutableBufferPointer { pim in
                                    guard let xr = pre.baseAddress, let xi = pim.baseAddress else { return }
                                    for g in (groups * blk / blocks)..<(groups * (blk + 1) / blocks) {
                                        let v0 = g &* group, rows = min(group, h &- v0)
                                        for b in 0..<rows {
                                            let row = (v0 &+ b) &* sw &* 2
                                            let dr = xr + b &* pairs, di = xi + b &* pairs
                                            var u = 0
                                            while u < pairs {
                                                dr[u] = rb[row &+ 2 &* (u &+ 1)]
                                                di[u] = rb[row &+ 2 &* (u &+ 1) &+ 1]
                                                u &+= 1
                                            }
                                        }
                                        // Two kernel rows per pass: each data load feeds four products.
                                        var rx = 0
                                        while rx < region {
                                            let two = rx &+ 1 < region
                                            let k0 = rx, k1 = two ? rx &+ 1 : rx
                                            let kr0 = UnsafeRawPointer(skr.base + k0 &* pairs), ki0 = UnsafeRawPointer(ski.base + k0 &* pairs)
                                            let kr1 = UnsafeRawPointer(skr.base + k1 &* pairs), ki1 = UnsafeRawPointer(ski.base + k1 &* pairs)
                                            for b in 0..<rows {
                                                let dr = UnsafeRawPointer(xr + b &* pairs), di = UnsafeRawPointer(xi + b &* pairs)
                                                var re0 = SIMD2<Double>(), im0 = SIMD2<Double>(), re1 = SIMD2<Double>(), im1 = SIMD2<Double>()
                                                var j = 0
                                                while j &+ 1 < pairs {
                                                    let off = j &* 8
                                                    let a = dr.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    let c = di.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    let p0 = kr0.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    let q0 = ki0.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    let p1 = kr1.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    let q1 = ki1.loadUnaligned(fromByteOffset: off, as: SIMD2<Double>.self)
                                                    re0 += a * p0 - c * q0
                                                    im0 += a * q0 + c * p0
                                                    re1 += a * p1 - c * q1
                                                    im1 += a * q1 + c * p1
                                                    j &+= 2
                                                }
                                                var s0 = (re0[0] + re0[1], im0[0] + im0[1]), s1 = (re1[0] + re1[1], im1[0] + im1[1])
                                                if j < pairs {
                                                    let x = (xr + b &* pairs)[j], y = (xi + b &* pairs)[j]
                                                    let p0 = skr[k0 &* pairs &+ j], q0 = ski[k0 &* pairs &+ j]
                                                    let p1 = skr[k1 &* pairs &+ j], q1 = ski[k1 &* pairs &+ j]
                                                    s0.0 += x * p0 - y * q0; s0.1 += x * q0 + y * p0
                                                    s1.0 += x * p1 - y * q1; s1.1 += x * q1 + y * p1
                                                }
                                                sar[(v0 &+ b) &* region &+ k0] = s0.0
                                                sai[(v0 &+ b) &* region &+ k0] = s0.1
                                                if two {
                                                    sar[(v0 &+ b) &* region &+ k1] = s1.0
                                                    sai[(v0 &+ b) &* region &+ k1] = s1.1
                                                }
                                            }
                                            rx &+= 2
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // T[v, rx] = R[v, 0] + [w even] R[v, w/2] exp(-i pi (rx - ox) / k) + A[v, rx] + conj(A[-v, rx])
        var nyqC = [Double](repeating: 0, count: region), nyqS = nyqC
        for rx in 0..<region {
            let a = -Double.pi * (Double(rx) - ox) / k
            nyqC[rx] = cos(a)
            nyqS[rx] = sin(a)
        }
        var tr = [Double](repeating: 0, count: h * region), ti = tr
        for v in 0..<h {
            let vb = (h - v) % h
            let r0 = r[2 * v * sw], i0 = r[2 * v * sw + 1]
            for rx in 0..<region {
                var re = r0 + ar[v * region + rx] + ar[vb * region + rx]
                var im = i0 + ai[v * region + rx] - ai[vb * region + rx]
                if evenW {
                    let nr = r[2 * (v * sw + w / 2)], ni = r[2 * (v * sw + w / 2) + 1]
                    let c = nyqC[rx], s = nyqS[rx]
                    re += nr * c - ni * s
                    im += nr * s + ni * c
                }
                tr[v * region + rx] = re
                ti[v * region + rx] = im
            }
        }
        // out[ry, rx] = sum_v ky(ry, v) T[v, rx]: output rows in parallel, each summed over v in
        // order (the same arithmetic whichever thread computes it).
        var outR = [Double](repeating: 0, count: region * region), outI = outR
        tr.withUnsafeBufferPointer { ptr in
            ti.withUnsafeBufferPointer { pti in
                outR.withUnsafeMutableBufferPointer { por in
                    outI.withUnsafeMutableBufferPointer { poi in
                        let str = SharedPointer(ptr.baseAddress!), sti = SharedPointer(pti.baseAddress!)
                        let sor = SharedPointer(por.baseAddress!), soi = SharedPointer(poi.baseAddress!)
                        let tasks = region * h >= 1 << 14 ? min(region, 16) : 1
                        Parallel.forEach(tasks) { task in
                            for ry in (region * task / tasks)..<(region * (task + 1) / tasks) {
                                let t = 2 * Double.pi * (Double(ry) - oy) / (Double(h) * k)
                                let oR = sor.base + ry &* region, oI = soi.base + ry &* region
                                for v in 0..<h {
                                    let fv = v <= (h - 1) / 2 ? Double(v) : Double(v - h)
                                    let c = cos(t * fv), s = sin(t * fv)
                                    let a = str.base + v &* region, b = sti.base + v &* region
                                    var rx = 0
                                    while rx < region {
                                        oR[rx] += a[rx] * c - b[rx] * s
                                        oI[rx] += a[rx] * s + b[rx] * c
                                        rx &+= 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (outR, outI)
    }
}
