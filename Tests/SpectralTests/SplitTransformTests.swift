import Foundation
import Testing
@testable import Spectral

/// The split transform (rows, then buffered column blocks; used for shapes of at least
/// `SplitTransform.minimumElements`): against the DFT sum, against FFTW's 2-D plan, bit-identical
/// whatever the thread count, and the fused entry points against the plain steps.
@Suite struct SplitTransformTests {
    func bitsOf(_ s: FFTHalfSpectrum<Double>) -> [UInt64] { s.withUnsafeMutableBufferPointer { $0.map(\.bitPattern) } }
    func bitsOf(_ r: FFTRealArray<Double>) -> [UInt64] { r.withUnsafeMutableBufferPointer { $0.map(\.bitPattern) } }
    func bitsOf(_ s: FFTHalfSpectrum<Float>) -> [UInt64] { s.withUnsafeMutableBufferPointer { $0.map { UInt64($0.bitPattern) } } }
    func bitsOf(_ r: FFTRealArray<Float>) -> [UInt64] { r.withUnsafeMutableBufferPointer { $0.map { UInt64($0.bitPattern) } } }

    /// Shapes with one block, several blocks and a narrower last block (8 Double / 16 Float
    /// lanes), odd and even widths, one and several rows per task.
    static let shapes: [(Int, Int)] = [(2, 2), (5, 6), (7, 4), (13, 3), (34, 9), (40, 20), (2, 33)]

    func directDFT<T: FFTScalar>(_: T.Type, width w: Int, height h: Int, tolerance: Double) {
        let g: Grid2D<T> = randomGrid(w, h, seed: UInt64(w * 977 + h))
        let plan = FFTPlan2D<T>(width: w, height: h, threads: 2, split: true)
        #expect(plan.split != nil)
        let spectrum = plan.forward(FFTRealArray(g.values, width: w, height: h))
        let worst = worstDFTError(spectrum, of: g, width: w, height: h)
        #expect(worst < tolerance, "\(T.self) \(w)x\(h): worst coefficient error \(worst)")
        let back = plan.inverse(spectrum).toArray()
        let err = zip(back, g.values).map { abs(Double($0) - Double($1)) }.max()!
        #expect(err < tolerance, "\(T.self) \(w)x\(h): round trip error \(err)")
    }

    @Test func matchesDirectDFT() {
        for (w, h) in Self.shapes {
            directDFT(Double.self, width: w, height: h, tolerance: 1e-12)
            directDFT(Float.self, width: w, height: h, tolerance: 1e-4)
        }
    }

    func againstTwoDimensionalPlan<T: FFTScalar>(_: T.Type, width w: Int, height h: Int, tolerance: Double) {
        let g: Grid2D<T> = randomGrid(w, h, seed: 31)
        let split = FFTPlan2D<T>(width: w, height: h, threads: 2, split: true)
        let plain = FFTPlan2D<T>(width: w, height: h, threads: 1, split: false)
        let a = split.forward(FFTRealArray(g.values, width: w, height: h))
        let b = plain.forward(FFTRealArray(g.values, width: w, height: h))
        let scale = Double(w * h)
        let sa = a.withUnsafeMutableBufferPointer { Array($0) }, sb = b.withUnsafeMutableBufferPointer { Array($0) }
        let worst = zip(sa, sb).map { abs(Double($0) - Double($1)) }.max()! / scale
        #expect(worst < tolerance, "\(T.self) \(w)x\(h): split vs 2-D plan \(worst)")
        let ra = split.inverse(a).toArray(), rb = plain.inverse(b).toArray()
        let back = zip(ra, rb).map { abs(Double($0) - Double($1)) }.max()!
        #expect(back < tolerance, "\(T.self) \(w)x\(h): inverse split vs 2-D plan \(back)")
    }

    @Test func matchesTwoDimensionalPlan() {
        for (w, h) in [(300, 257), (256, 256), (257, 300)] {
            againstTwoDimensionalPlan(Double.self, width: w, height: h, tolerance: 1e-14)
            againstTwoDimensionalPlan(Float.self, width: w, height: h, tolerance: 1e-6)
        }
    }

    /// Same bits for 1, 2 and 3 threads and for repeated runs, forward and inverse, both precisions.
    @Test func bitsDoNotDependOnThreadsOrRuns() {
        let (w, h) = (300, 257)
        let g: Grid2D<Double> = randomGrid(w, h, seed: 5)
        let gf: Grid2D<Float> = randomGrid(w, h, seed: 6)
        var outputs: [[UInt64]] = [], outputsF: [[UInt64]] = []
        for t in [1, 2, 3, 2] {
            let p = FFTPlan2D<Double>(width: w, height: h, threads: t)
            #expect(p.split != nil)
            let s = p.forward(FFTRealArray(g.values, width: w, height: h))
            outputs.append(bitsOf(s) + bitsOf(p.inverse(s)))
            let pf = FFTPlan2D<Float>(width: w, height: h, threads: t)
            let sf = pf.forward(FFTRealArray(gf.values, width: w, height: h))
            outputsF.append(bitsOf(sf) + bitsOf(pf.inverse(sf)))
        }
        for i in 1..<outputs.count {
            #expect(outputs[i] == outputs[0])
            #expect(outputsF[i] == outputsF[0])
        }
    }

    /// forward(topLeft:) equals padding then transforming; inverse(productOf:) equals
    /// multiplying then transforming back (values equal; only the sign of a zero may differ).
    @Test func fusedStepsMatchPlainSteps() {
        for split in [true, false] {
            let (w, h) = (96, 80)
            let a: Grid2D<Double> = randomGrid(40, 33, seed: 8), b: Grid2D<Double> = randomGrid(21, 30, seed: 9)
            let plan = FFTPlan2D<Double>(width: w, height: h, threads: 2, split: split)
            func padded(_ g: Grid2D<Double>, flip: Bool) -> FFTRealArray<Double> {
                let r = FFTRealArray<Double>(width: w, height: h)
                for y in 0..<g.height { for x in 0..<g.width {
                    r[x, y] = flip ? g[g.width - 1 - x, g.height - 1 - y] : g[x, y]
                } }
                return r
            }
            let fa = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
            let fb = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
            a.values.withUnsafeBufferPointer { plan.forward(topLeft: $0.baseAddress!, width: 40, height: 33, flipped: false, into: fa) }
            b.values.withUnsafeBufferPointer { plan.forward(topLeft: $0.baseAddress!, width: 21, height: 30, flipped: true, into: fb) }
            let pa = plan.forward(padded(a, flip: false)), pb = plan.forward(padded(b, flip: true))
            #expect(fa.withUnsafeMutableBufferPointer { Array($0) } == pa.withUnsafeMutableBufferPointer { Array($0) })
            #expect(fb.withUnsafeMutableBufferPointer { Array($0) } == pb.withUnsafeMutableBufferPointer { Array($0) })
            for conjugate in [false, true] {
                // Plain: the product spectrum, then the inverse.
                let product = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
                for v in 0..<h { for u in 0..<(w / 2 + 1) {
                    let x = pa[u, v], y = pb[u, v], yi = conjugate ? -y.im : y.im
                    product[u, v] = (x.re * y.re - x.im * yi, x.re * yi + x.im * y.re)
                } }
                let want = plan.inverse(product, normalize: false).toArray()
                var got = [Double](repeating: .nan, count: w * h)
                let work = FFTHalfSpectrum<Double>(uninitializedWidth: w, height: h)
                plan.inverse(productOf: fa, fb, conjugateB: conjugate, work: work, rows: 7..<61) { y, row in
                    for x in 0..<w { got[y * w + x] = row[x] }
                }
                for y in 7..<61 { #expect(Array(got[(y * w)..<((y + 1) * w)]) == Array(want[(y * w)..<((y + 1) * w)])) }
                #expect(got[0].isNaN && got[61 * w].isNaN, "rows outside the range are not handed over")
            }
            // fa and fb are unchanged by the fused inverse (work was separate).
            #expect(fa.withUnsafeMutableBufferPointer { Array($0) } == pa.withUnsafeMutableBufferPointer { Array($0) })
        }
    }
}
