import Foundation
import Harness
import Testing
@testable import Spectral

@Suite struct TransformTests {
    static let shapes: [(Int, Int)] = [
        (1, 1), (1, 7), (7, 1), (1, 16), (16, 1), (2, 2), (13, 17), (17, 13), (32, 32), (31, 64),
        (97, 3), (2, 101), (128, 127), (101, 103), (300, 257),
    ]

    func roundTrip<T: FFTScalar>(_: T.Type, tolerance: Double) {
        for (i, (w, h)) in Self.shapes.enumerated() {
            let g: Grid2D<T> = randomGrid(w, h, seed: UInt64(100 + i))
            let plan = FFTPlan2D<T>(width: w, height: h)
            let x = FFTRealArray(g.values, width: w, height: h)
            let spectrum = plan.forward(x)
            #expect(x.toArray() == g.values, "forward must not modify its input")
            let back = plan.inverse(spectrum).toArray()
            let maxAbs = g.values.map { abs(Double($0)) }.max()!
            let err = zip(back, g.values).map { abs(Double($0) - Double($1)) }.max()! / maxAbs
            #expect(err < tolerance, "\(T.self) \(w)x\(h): relative round-trip error \(err)")
        }
    }

    @Test func roundTripFloat() { roundTrip(Float.self, tolerance: 2e-6) }
    @Test func roundTripDouble() { roundTrip(Double.self, tolerance: 1e-12) }

    @Test func unnormalisedInverseIsScaledByCount() {
        let g: Grid2D<Double> = randomGrid(6, 5, seed: 9)
        let plan = FFTPlan2D<Double>(width: 6, height: 5)
        let back = plan.inverse(plan.forward(FFTRealArray(g.values, width: 6, height: 5)), normalize: false).toArray()
        for (b, v) in zip(back, g.values) { #expect(abs(b - 30 * v) < 1e-12) }
    }

    /// Every half-spectrum coefficient against the DFT sum
    /// X[v, u] = sum_{y, x} x[y, x] exp(-2 pi i (u x / W + v y / H)).
    func directDFT<T: FFTScalar>(_: T.Type, width w: Int, height h: Int, tolerance: Double) {
        let g: Grid2D<T> = randomGrid(w, h, seed: UInt64(w * 1000 + h))
        let spectrum = FFTPlan2D<T>(width: w, height: h).forward(FFTRealArray(g.values, width: w, height: h))
        #expect(spectrum.spectrumWidth == w / 2 + 1)
        let worst = worstDFTError(spectrum, of: g, width: w, height: h)
        #expect(worst < tolerance, "\(T.self) \(w)x\(h): worst coefficient error \(worst)")
    }

    @Test func matchesDirectDFT() {
        for (w, h) in [(1, 1), (5, 6), (7, 4), (8, 8), (1, 9), (11, 1), (13, 3)] {
            directDFT(Double.self, width: w, height: h, tolerance: 1e-12)
            directDFT(Float.self, width: w, height: h, tolerance: 1e-5)
        }
    }

    @Test func knownCoefficients() {
        // x = [[1, 2], [3, 4]]: X[0,0] = 10, X[u=1,v=0] = (1-2)+(3-4) = -2, X[u=0,v=1] = (1+2)-(3+4) = -4,
        // X[1,1] = 1 - 2 - 3 + 4 = 0.
        let plan = FFTPlan2D<Double>(width: 2, height: 2)
        let s = plan.forward(FFTRealArray([1, 2, 3, 4], width: 2, height: 2))
        #expect(s[0, 0] == (10, 0))
        #expect(s[1, 0] == (-2, 0))
        #expect(s[0, 1] == (-4, 0))
        #expect(s[1, 1] == (0, 0))
    }

    @Test func plansAreCachedAndShared() {
        let a = FFTPlan2D<Float>(width: 37, height: 41, threads: 1)
        let b = FFTPlan2D<Float>(width: 37, height: 41, threads: 1)
        #expect(a.forwardPlan === b.forwardPlan)
        #expect(a.inversePlan === b.inversePlan)
        let c = FFTPlan2D<Double>(width: 37, height: 41, threads: 1)
        #expect(c.forwardPlan !== a.forwardPlan)
        let d = FFTPlan2D<Float>(width: 37, height: 41, threads: 2)
        #expect(d.forwardPlan !== a.forwardPlan)
        #expect(FFTSettings.cachedPlanCount >= 6)

        // After emptying the cache, live plans keep working and a fresh plan gives the same bits.
        // (The only test that empties the cache, so other tests' identity checks are not disturbed.)
        let g: Grid2D<Float> = randomGrid(37, 41, seed: 12)
        let before = a.forward(FFTRealArray(g.values, width: 37, height: 41))
        FFTSettings.removeCachedPlans()
        let e = FFTPlan2D<Float>(width: 37, height: 41, threads: 1)
        #expect(e.forwardPlan !== a.forwardPlan)
        let after = e.forward(FFTRealArray(g.values, width: 37, height: 41))
        let again = a.forward(FFTRealArray(g.values, width: 37, height: 41))
        let bitsOf = { (s: FFTHalfSpectrum<Float>) in s.withUnsafeMutableBufferPointer { $0.map(\.bitPattern) } }
        #expect(bitsOf(before) == bitsOf(after))
        #expect(bitsOf(before) == bitsOf(again))
    }

    @Test func smallTransformsAreSingleThreaded() {
        #expect(FFTPlan2D<Float>(width: 16, height: 16).threads == 1)
        #expect(FFTSettings.threads(width: 8, height: 8) == 1)
        #expect(FFTSettings.threads(width: 1024, height: 1024) == min(FFTSettings.threadCount, 1024))
    }

    /// ESTIMATE plans give the same bits whatever the thread count (docs/platform.md).
    @Test func threadCountDoesNotChangeBits() {
        let (w, h) = (480, 512)
        let g: Grid2D<Double> = randomGrid(w, h, seed: 77)
        let gf: Grid2D<Float> = randomGrid(w, h, seed: 78)
        var outputs: [[Double]] = [], outputsF: [[Float]] = []
        for t in [1, 2, 3] {
            let p = FFTPlan2D<Double>(width: w, height: h, threads: t)
            let s = p.forward(FFTRealArray(g.values, width: w, height: h))
            outputs.append(s.withUnsafeMutableBufferPointer { Array($0) } + p.inverse(s).toArray())
            let pf = FFTPlan2D<Float>(width: w, height: h, threads: t)
            let sf = pf.forward(FFTRealArray(gf.values, width: w, height: h))
            outputsF.append(sf.withUnsafeMutableBufferPointer { Array($0) } + pf.inverse(sf).toArray())
        }
        #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern))
        #expect(outputs[0].map(\.bitPattern) == outputs[2].map(\.bitPattern))
        #expect(outputsF[0].map(\.bitPattern) == outputsF[1].map(\.bitPattern))
        #expect(outputsF[0].map(\.bitPattern) == outputsF[2].map(\.bitPattern))
    }

    @Test func buffersAreZeroedAndIndexable() {
        let r = FFTRealArray<Float>(width: 3, height: 2)
        #expect(r.toArray() == [0, 0, 0, 0, 0, 0])
        r[2, 1] = 5
        #expect(r.toArray()[5] == 5)
        let s = FFTHalfSpectrum<Double>(width: 4, height: 3)
        #expect(s.spectrumWidth == 3 && s.complexCount == 9)
        #expect(s.withUnsafeMutableBufferPointer { $0.allSatisfy { $0 == 0 } })
    }
}
