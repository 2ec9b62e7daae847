import PeakKit
import _PeaksIntrinsics

/// Transforms with the element pass around them folded in, for the correlation routines (which
/// live in their own module, hence `package`): padding folded into the forward transform, the
/// spectrum product into the inverse's column stage, and the use of each output row into its
/// row stage. On shapes the split transform handles, no padded real array, product spectrum or
/// full-size output is ever written, and zero padding rows are not transformed at all.
///
/// Results are the same as padding, multiplying (`a * b` computed as in `SpectralWork`) and
/// transforming one step after the other with the same plan, except possibly the sign of
/// zeros: a row of zero padding gets a spectrum row of +0 instead of whatever FFTW computes.
extension FFTPlan2D {
    /// The half spectrum of `source` (`sourceWidth x sourceHeight`, row-major) placed at the
    /// top-left of a zero `width x height` array, reversed along both axes when `flipped`
    /// (for correlation), into `output`.
    package func forward(topLeft source: UnsafePointer<T>, width sw: Int, height sh: Int, flipped: Bool,
                         into output: FFTHalfSpectrum<T>) {
        precondition(sw >= 1 && sh >= 1 && sw <= width && sh <= height,
                     "FFTPlan2D.forward(topLeft:): source \(sw)x\(sh) does not fit in \(width)x\(height)")
        let src = SharedRaw(UnsafeMutableRawPointer(mutating: source)), pw = width
        forward(into: output) { y, row in
            if y >= sh { return false }
            Kernels.padRow(src.raw, width: sw, height: sh, row: y, into: UnsafeMutableRawPointer(row), paddedWidth: pw,
                           flip: flipped, as: T.self)
            return true
        }
    }

    /// The half spectrum of the `width x height` real array whose rows `fill(y, row)` writes (all
    /// `width` values of row y into `row`), into `output`. `fill` returns false instead for a row
    /// that is all zero. Calls for different rows may run at the same time on different threads.
    package func forward(into output: FFTHalfSpectrum<T>, rows fill: (Int, UnsafeMutablePointer<T>) -> Bool) {
        precondition(output.width == width && output.height == height,
                     "FFTPlan2D.forward(into:rows:): output is for \(output.width)x\(output.height), plan is \(width)x\(height)")
        withExtendedLifetime(output) {
            if let split {
                split.forward(into: output.raw) { y, row in fill(y, row.assumingMemoryBound(to: T.self)) }
            } else {
                let real = FFTRealArray<T>(uninitializedWidth: width, height: height)
                withExtendedLifetime(real) {
                    for y in 0..<height {
                        let row = real.base + y * width
                        if !fill(y, row) { row.update(repeating: 0, count: width) }
                    }
                    executeForward(real.raw, output.raw)
                }
            }
        }
    }

    /// The unnormalised inverse transform of `input`, handed over row by row as by
    /// `inverse(productOf:...)`; `input` is left unchanged unless it is `work`.
    package func inverse(_ input: FFTHalfSpectrum<T>, work: FFTHalfSpectrum<T>, rows: Range<Int>,
                         rowOut: (Int, UnsafePointer<T>) -> Void) {
        inverse(productOf: input, nil, work: work, rows: rows, rowOut: rowOut)
    }

    /// The unnormalised inverse transform of `a * b` (or `a * conj(b)`), handed over row by row:
    /// `rowOut(y, values)` for each y in `rows`, with the `width` values of row y (valid only
    /// during the call; calls for different rows may run at the same time on different threads).
    /// `work` (a spectrum of this shape, overwritten) may be `a` or `b` when that one is no longer
    /// needed; otherwise `a` and `b` are left unchanged.
    package func inverse(productOf a: FFTHalfSpectrum<T>, _ b: FFTHalfSpectrum<T>?, conjugateB: Bool = false,
                         work: FFTHalfSpectrum<T>, rows: Range<Int>,
                         rowOut: (Int, UnsafePointer<T>) -> Void) {
        for s in [a, b ?? a, work] {
            precondition(s.width == width && s.height == height,
                         "FFTPlan2D.inverse(productOf:): spectrum for \(s.width)x\(s.height), plan is \(width)x\(height)")
        }
        precondition(rows.lowerBound >= 0 && rows.upperBound <= height, "FFTPlan2D.inverse(productOf:): rows \(rows) outside 0..<\(height)")
        withExtendedLifetime((a, b, work)) {
            let pa = SharedRaw(a.raw), pb = (b ?? a).raw, hw = spectrumWidth, product = b != nil
            let sb = SharedRaw(pb)
            if let split {
                let n = height, lanes = split.lanes
                split.columns(work.raw, plan: split.columnInverse) { x0, bw, buf in
                    Kernels.gatherProduct(pa.raw, product ? sb.raw : nil, conjugateB: conjugateB, spectrumWidth: hw, rows: n,
                                          x0: x0, count: bw, into: buf, lanes: lanes, as: T.self)
                }
                split.inverseRows(work.raw, outputRows: rows) { y, row in
                    rowOut(y, UnsafePointer(row.assumingMemoryBound(to: T.self)))
                }
            } else {
                if product || a !== work {
                    Kernels.gatherProduct(pa.raw, product ? sb.raw : nil, conjugateB: conjugateB, spectrumWidth: hw, rows: height,
                                          x0: 0, count: hw, into: work.raw, lanes: hw, as: T.self)
                }
                let real = FFTRealArray<T>(uninitializedWidth: width, height: height)
                withExtendedLifetime(real) {
                    executeInverse(work.raw, real.raw)
                    for y in rows { rowOut(y, UnsafePointer(real.base + y * width)) }
                }
            }
        }
    }
}

extension Kernels {
    /// Row `row` of the zero-padded (and, with `flip`, reversed) placement of a `width x height`
    /// source, written to `dst` (`paddedWidth` values); `row` must be below `height`.
    @inline(__always)
    static func padRow<T: FFTScalar>(_ src: UnsafeRawPointer, width: Int, height: Int, row: Int,
                                     into dst: UnsafeMutableRawPointer, paddedWidth: Int, flip: Bool, as _: T.Type) {
        switch T.fftPrecision {
        case .float:
            padRowImpl(src.assumingMemoryBound(to: Float.self), width, height, row, dst.assumingMemoryBound(to: Float.self), paddedWidth, flip)
        case .double:
            padRowImpl(src.assumingMemoryBound(to: Double.self), width, height, row, dst.assumingMemoryBound(to: Double.self), paddedWidth, flip)
        }
    }

    static func padRowImpl<S: BinaryFloatingPoint>(_ s: UnsafePointer<S>, _ w: Int, _ h: Int, _ y: Int,
                                                   _ row: UnsafeMutablePointer<S>, _ pw: Int, _ flip: Bool) {
        if flip {
            let from = s + (h &- 1 &- y) &* w
            var x = 0
            while x < w {
                row[x] = from[w &- 1 &- x]
                x &+= 1
            }
        } else {
            row.update(from: s + y &* w, count: w)
        }
        (row + w).update(repeating: 0, count: pw &- w)
    }

    /// Writes `a * b` (or `a * conj(b)`; `a` itself when `b` is nil) for spectrum columns `x0 ..< x0 + count` of every row
    /// into `dst`, row y's values at `y * lanes` (complex units): the column-block buffer of the
    /// split transform, or (lanes = spectrum width, x0 = 0) a whole spectrum.
    @inline(__always)
    static func gatherProduct<T: FFTScalar>(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer?, conjugateB: Bool,
                                            spectrumWidth: Int, rows: Int, x0: Int, count: Int,
                                            into dst: UnsafeMutableRawPointer, lanes: Int, as _: T.Type) {
        guard let b else {
            let cs = 2 &* MemoryLayout<T>.stride
            var y = 0
            while y < rows {
                let ahead = y &+ SplitTransform.prefetchRows
                if ahead < rows && lanes < spectrumWidth {
                    SplitTransform.prefetch(a + (ahead &* spectrumWidth &+ x0) &* cs, bytes: count &* cs, write: false)
                }
                (dst + y &* lanes &* cs).copyMemory(from: a + (y &* spectrumWidth &+ x0) &* cs, byteCount: count &* cs)
                y &+= 1
            }
            return
        }
        switch T.fftPrecision {
        case .float:
            gatherProductImpl(a.assumingMemoryBound(to: Float.self), b.assumingMemoryBound(to: Float.self), conjugateB,
                              spectrumWidth, rows, x0, count, dst.assumingMemoryBound(to: Float.self), lanes)
        case .double:
            gatherProductImpl(a.assumingMemoryBound(to: Double.self), b.assumingMemoryBound(to: Double.self), conjugateB,
                              spectrumWidth, rows, x0, count, dst.assumingMemoryBound(to: Double.self), lanes)
        }
    }

    static func gatherProductImpl<S: BinaryFloatingPoint>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ conj: Bool, _ hw: Int, _ rows: Int, _ x0: Int, _ count: Int,
        _ dst: UnsafeMutablePointer<S>, _ lanes: Int
    ) {
        let sign: S = conj ? -1 : 1
        let span = count &* 2 &* MemoryLayout<S>.stride
        var y = 0
        while y < rows {
            let ahead = y &+ SplitTransform.prefetchRows
            if ahead < rows && lanes < hw {
                let k = (ahead &* hw &+ x0) &* 2
                SplitTransform.prefetch(a + k, bytes: span, write: false)
                SplitTransform.prefetch(b + k, bytes: span, write: false)
            }
            var k = (y &* hw &+ x0) &* 2
            var o = y &* lanes &* 2
            let stop = o &+ count &* 2
            while o < stop {
                let ar = a[k], ai = a[k &+ 1], br = b[k], bi = sign * b[k &+ 1]
                dst[o] = ar * br - ai * bi
                dst[o &+ 1] = ar * bi + ai * br
                k &+= 2
                o &+= 2
            }
            y &+= 1
        }
    }
}
