import PeakKit
import Spectral

/// Double-precision FFT work for the correlation routines: padded real arrays, half spectra,
/// products of half spectra and windows of inverse transforms. Loops run on buffer pointers with
/// wrapping index arithmetic; large ones are split into row blocks over `Parallel.forEach`, each
/// element computed the same way whichever thread runs it (results do not depend on threads).
struct SpectralWork {
    let width: Int   // padded transform width P_x
    let height: Int  // padded transform height P_y
    let plan: FFTPlan2D<Double>

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        plan = FFTPlan2D<Double>(width: width, height: height)
    }

    /// Places `values` (w x h, row-major) at the top-left of a zeroed padded array, optionally
    /// reversed along both axes, and returns its half spectrum.
    func spectrum(of values: UnsafeBufferPointer<Double>, width w: Int, height h: Int, flip: Bool) -> FFTHalfSpectrum<Double> {
        let real = FFTRealArray<Double>(width: width, height: height)
        real.withUnsafeMutableBufferPointer { d in
            guard let dst = d.baseAddress, let src = values.baseAddress else { return }
            let pw = width
            for y in 0..<h {
                let row = dst + y &* pw
                if flip {
                    let from = src + (h &- 1 &- y) &* w
                    var x = 0
                    while x < w { row[x] = from[w &- 1 &- x]; x &+= 1 }
                } else {
                    row.update(from: src + y &* w, count: w)
                }
            }
        }
        return plan.forward(real)
    }

    /// `a * b` (or `a * conj(b)`) element by element, into a new spectrum.
    func product(_ a: FFTHalfSpectrum<Double>, _ b: FFTHalfSpectrum<Double>, conjugateB: Bool = false) -> FFTHalfSpectrum<Double> {
        let out = FFTHalfSpectrum<Double>(width: width, height: height)
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    guard let ab = pa.baseAddress, let bb = pb.baseAddress, let ob = po.baseAddress else { return }
                    let sa = SharedPointer(ab), sb = SharedPointer(bb), so = SharedPointer(ob)
                    let count = po.count / 2
                    let sign: Double = conjugateB ? -1 : 1
                    SpectralWork.blocks(count) { start, end in
                        var k = start &* 2
                        let stop = end &* 2
                        while k < stop {
                            let ar = sa[k], ai = sa[k &+ 1], br = sb[k], bi = sign * sb[k &+ 1]
                            so[k] = ar * br - ai * bi
                            so[k &+ 1] = ar * bi + ai * br
                            k &+= 2
                        }
                    }
                }
            }
        }
        return out
    }

    /// The inverse transform of `spectrum` (destroyed), scaled by 1 / (width * height), cropped to
    /// the window [x0, x0 + w) x [y0, y0 + h) of the circular result (indices taken modulo the
    /// transform size).
    func inverseWindow(_ spectrum: FFTHalfSpectrum<Double>, x0: Int, y0: Int, w: Int, h: Int) -> [Double] {
        let real = plan.inverse(spectrum, normalize: false)
        let scale = 1 / (Double(width) * Double(height))
        let pw = width, ph = height
        return real.withUnsafeMutableBufferPointer { r -> [Double] in
            [Double](unsafeUninitializedCapacity: w * h) { buf, n in
                if let src = r.baseAddress, let dst = buf.baseAddress {
                    for y in 0..<h {
                        var sy = (y0 &+ y) % ph
                        if sy < 0 { sy &+= ph }
                        let srow = src + sy &* pw, drow = dst + y &* w
                        var x = 0
                        while x < w {
                            var sx = (x0 &+ x) % pw
                            if sx < 0 { sx &+= pw }
                            drow[x] = srow[sx] * scale
                            x &+= 1
                        }
                    }
                }
                n = w * h
            }
        }
    }

    /// Runs `body(start, end)` over blocks of `count` elements, in parallel when large.
    static func blocks(_ count: Int, _ body: (Int, Int) -> Void) {
        if count < 1 << 17 { body(0, count); return }
        let n = 16
        Parallel.forEach(n) { b in body(count * b / n, count * (b + 1) / n) }
    }

    /// Smallest transform length for the window [s, s + m) of a full linear correlation of
    /// lengths n and k (length n + k - 1): no alias of the window may land inside [0, L).
    static func transformLength(n: Int, k: Int, start s: Int, count m: Int) -> Int {
        nextFastSize(max(s + m, n + k - 1 - s, n, k))
    }
}
