import PeakKit
import Spectral

/// Double-precision FFT work for the correlation routines: padded real arrays, half spectra,
/// products of half spectra and windows of inverse transforms. Loops run on buffer pointers with
/// wrapping index arithmetic, split into row blocks over `Parallel.forEach` when large; each
/// element is computed the same way whichever thread runs it (results do not depend on threads).
/// Buffers are allocated uninitialised and every element is written once.
struct SpectralWork {
    let width: Int   // padded transform width P_x
    let height: Int  // padded transform height P_y
    let plan: FFTPlan2D<Double>

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        plan = FFTPlan2D<Double>(width: width, height: height)
    }

    /// Places `values` (w x h, row-major) at the top-left of a zero-padded array, optionally
    /// reversed along both axes, and returns its half spectrum.
    func spectrum(of values: UnsafeBufferPointer<Double>, width w: Int, height h: Int, flip: Bool,
                  scratch: FFTRealArray<Double>? = nil) -> FFTHalfSpectrum<Double> {
        let real = scratch ?? FFTRealArray<Double>(uninitializedWidth: width, height: height)
        real.withUnsafeMutableBufferPointer { d in
            guard let dst = d.baseAddress, let src = values.baseAddress else { return }
            let sd = SharedPointer(dst), ss = SharedPointer(src)
            let pw = width
            SpectralWork.rows(height, elements: width &* height) { y0, y1 in
                for y in y0..<y1 {
                    let row = sd.base + y &* pw
                    if y < h {
                        if flip {
                            let from = ss.base + (h &- 1 &- y) &* w
                            var x = 0
                            while x < w { row[x] = from[w &- 1 &- x]; x &+= 1 }
                        } else {
                            row.update(from: ss.base + y &* w, count: w)
                        }
                        (row + w).update(repeating: 0, count: pw &- w)
                    } else {
                        row.update(repeating: 0, count: pw)
                    }
                }
            }
        }
        return plan.forward(real)
    }

    /// `a * b` (or `a * conj(b)`) element by element, into a new spectrum.
    func product(_ a: FFTHalfSpectrum<Double>, _ b: FFTHalfSpectrum<Double>, conjugateB: Bool = false) -> FFTHalfSpectrum<Double> {
        let out = FFTHalfSpectrum<Double>(uninitializedWidth: width, height: height)
        multiply(a, b, into: out, conjugateB: conjugateB)
        return out
    }

    /// `out = a * b` (or `a * conj(b)`) element by element.
    func multiply(_ a: FFTHalfSpectrum<Double>, _ b: FFTHalfSpectrum<Double>, into out: FFTHalfSpectrum<Double>, conjugateB: Bool = false) {
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
    }

    /// Runs `body(start, end)` over blocks of `count` elements, in parallel when large.
    static func blocks(_ count: Int, _ body: (Int, Int) -> Void) {
        if count < 1 << 17 { body(0, count); return }
        let n = 16
        Parallel.forEach(n) { b in body(count * b / n, count * (b + 1) / n) }
    }

    /// Runs `body(rowStart, rowEnd)` over row blocks, in parallel when the work is large.
    static func rows(_ rows: Int, elements: Int, _ body: (Int, Int) -> Void) {
        if elements < 1 << 17 || rows < 2 { body(0, rows); return }
        let n = min(rows, 16)
        Parallel.forEach(n) { b in body(rows * b / n, rows * (b + 1) / n) }
    }

    /// Smallest transform length for the window [s, s + m) of a full linear correlation of
    /// lengths n and k (length n + k - 1): no alias of the window may land inside [0, L).
    static func transformLength(n: Int, k: Int, start s: Int, count m: Int) -> Int {
        nextFastSize(max(s + m, n + k - 1 - s, n, k))
    }
}
