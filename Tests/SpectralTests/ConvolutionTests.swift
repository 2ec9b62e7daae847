import Dispatch
import Foundation
import PeakKit
import Testing
@testable import Spectral

@Suite struct ConvolutionTests {
    /// (image width, height, kernel width, height): odd and even, kernel smaller, equal, larger, mixed.
    static let cases: [(Int, Int, Int, Int)] = [
        (8, 6, 3, 3), (7, 9, 4, 2), (5, 5, 8, 7), (1, 10, 1, 3), (10, 1, 3, 1), (6, 5, 6, 5),
        (4, 7, 9, 2), (16, 16, 5, 6), (1, 1, 1, 1), (3, 4, 1, 1), (13, 11, 12, 10), (20, 3, 2, 5),
    ]

    func checkAgainstDirect<T: FFTScalar>(_: T.Type, tolerance: Double) throws {
        for (n, (wa, ha, wb, hb)) in Self.cases.enumerated() {
            let a: Grid2D<T> = randomGrid(wa, ha, seed: UInt64(2 * n + 1))
            let b: Grid2D<T> = randomGrid(wb, hb, seed: UInt64(2 * n + 2))
            let fullConv = naiveFullConvolution(a, b), fullCorr = naiveFullCorrelation(a, b)
            for mode in ConvolutionMode.allCases {
                for (isCorrelation, full) in [(false, fullConv), (true, fullCorr)] {
                    let want = cropLikeScipy(full, input: (wa, ha), kernel: (wb, hb), mode: mode.rawValue)
                    let got = isCorrelation
                        ? try FFTConvolution.correlate(a, b, mode: mode)
                        : try FFTConvolution.convolve(a, b, mode: mode)
                    let label = "\(T.self) \(isCorrelation ? "correlate" : "convolve") \(mode) \(wa)x\(ha) * \(wb)x\(hb)"
                    #expect(got.width == want.width && got.height == want.height, "\(label): shape")
                    let err = scaledError(got, want, a: a, b: b)
                    #expect(err < tolerance, "\(label): scaled error \(err)")
                }
            }
        }
    }

    @Test func floatMatchesDirect() throws { try checkAgainstDirect(Float.self, tolerance: 1e-4) }

    /// The short-lag autocorrelation against the brute-force sum, on shapes whose padded
    /// transform is far smaller than the full correlation's (a wrap-around would show at the
    /// largest lags), odd and even sizes, lags up to the whole image.
    @Test func shortLagAutocorrelationMatchesDirectSums() throws {
        // (250 x 240: a padded transform of 2^16 elements or more, done by the split transform.)
        for (n, (w, h, lx, ly)) in [(40, 30, 10, 7), (33, 33, 8, 8), (17, 24, 16, 23), (9, 50, 2, 12), (64, 64, 16, 16), (250, 240, 9, 6)].enumerated() {
            let g: Grid2D<Float> = randomGrid(w, h, seed: UInt64(100 + n))
            let image = Image(width: w, height: h, pixels: g.values)
            let got = try FFTConvolution.autocorrelation(image, maxLag: (lx, ly))
            #expect(got.width == 2 * lx + 1 && got.height == 2 * ly + 1)
            var worst = 0.0, scale = 0.0
            for v in g.values { scale += Double(v) * Double(v) }
            for dy in -ly...ly {
                for dx in -lx...lx {
                    var sum = 0.0
                    for y in max(0, -dy)..<min(h, h - dy) {
                        for x in max(0, -dx)..<min(w, w - dx) { sum += Double(g.values[y * w + x]) * Double(g.values[(y + dy) * w + x + dx]) }
                    }
                    worst = max(worst, abs(Double(got[lx + dx, ly + dy]) - sum))
                }
            }
            #expect(worst / scale < 1e-5, "\(w)x\(h) lags \(lx),\(ly): error \(worst / scale) of lag 0")
            // R(-d) = R(d) exactly (both are read from the same transform value).
            #expect(got.pixels == Array(got.pixels.reversed()), "\(w)x\(h): not symmetric")
        }
    }
    @Test func doubleMatchesDirect() throws { try checkAgainstDirect(Double.self, tolerance: 1e-10) }

    func close(_ g: Grid2D<Double>, _ want: [Double]) -> Bool {
        g.values.count == want.count && zip(g.values, want).allSatisfy { abs($0 - $1) < 1e-12 }
    }

    /// [1, 2, 3] and [0, 1, 0.5] by hand (numpy.convolve / numpy.correlate give the same numbers).
    @Test func handComputedRow() throws {
        let a = Grid2D<Double>(width: 3, height: 1, values: [1, 2, 3])
        let b = Grid2D<Double>(width: 3, height: 1, values: [0, 1, 0.5])
        // convolve full: [1*0, 1*1 + 2*0, 1*0.5 + 2*1 + 3*0, 2*0.5 + 3*1, 3*0.5]
        let full = try FFTConvolution.convolve(a, b, mode: .full)
        #expect(full.width == 5 && full.height == 1)
        #expect(close(full, [0, 1, 2.5, 4, 1.5]))
        #expect(close(try FFTConvolution.convolve(a, b, mode: .same), [1, 2.5, 4]))
        #expect(close(try FFTConvolution.convolve(a, b, mode: .valid), [2.5]))
        // correlate = convolve with [0.5, 1, 0]
        #expect(close(try FFTConvolution.correlate(a, b, mode: .full), [0.5, 2, 3.5, 3, 0]))
        #expect(close(try FFTConvolution.correlate(a, b, mode: .same), [2, 3.5, 3]))
        #expect(close(try FFTConvolution.correlate(a, b, mode: .valid), [3.5]))
    }

    @Test func handComputedColumnAndEvenKernel() throws {
        let a = Grid2D<Double>(width: 1, height: 3, values: [1, 2, 3])
        let b = Grid2D<Double>(width: 1, height: 3, values: [0, 1, 0.5])
        let same = try FFTConvolution.convolve(a, b, mode: .same)
        #expect(same.width == 1 && same.height == 3 && close(same, [1, 2.5, 4]))
        // Even kernel [1, 1] on [1, 2, 3, 4]: full [1, 3, 5, 7, 4]; same starts at (2 - 1) / 2 = 0.
        let c = Grid2D<Double>(width: 4, height: 1, values: [1, 2, 3, 4])
        let k = Grid2D<Double>(width: 2, height: 1, values: [1, 1])
        #expect(close(try FFTConvolution.convolve(c, k, mode: .same), [1, 3, 5, 7]))
        #expect(close(try FFTConvolution.convolve(c, k, mode: .valid), [3, 5, 7]))
        // correlate with [1, 2]: full [2, 5, 8, 11, 4]; same [2, 5, 8, 11].
        let k2 = Grid2D<Double>(width: 2, height: 1, values: [1, 2])
        #expect(close(try FFTConvolution.correlate(c, k2, mode: .full), [2, 5, 8, 11, 4]))
        #expect(close(try FFTConvolution.correlate(c, k2, mode: .same), [2, 5, 8, 11]))
        #expect(close(try FFTConvolution.correlate(c, k2, mode: .valid), [5, 8, 11]))
    }

    @Test func validWithLargerKernelIsEmpty() throws {
        let a: Grid2D<Float> = randomGrid(5, 5, seed: 1)
        let b: Grid2D<Float> = randomGrid(7, 3, seed: 2)
        let v = try FFTConvolution.convolve(a, b, mode: .valid)
        #expect(v.width == 0 && v.height == 3 && v.values.isEmpty)
    }

    @Test func emptyInputsThrow() {
        let e = Grid2D<Float>(width: 0, height: 4)
        let k: Grid2D<Float> = randomGrid(3, 3, seed: 3)
        #expect(throws: PeaksError.self) { try FFTConvolution.convolve(e, k) }
        #expect(throws: PeaksError.self) { try FFTConvolution.correlate(k, e) }
        #expect(throws: PeaksError.self) { try FFTConvolver(image: e, kernelWidth: 3, kernelHeight: 3) }
        #expect(throws: PeaksError.self) { try FFTConvolver(image: k, kernelWidth: 0, kernelHeight: 3) }
    }

    @Test func imageOverloads() throws {
        let img = Image(width: 3, height: 1, pixels: [1, 2, 3])
        let ker = Image(width: 3, height: 1, pixels: [0, 1, 0.5])
        let out = try FFTConvolution.convolve(img, ker, mode: .same)
        #expect(out.width == 3 && out.height == 1)
        #expect(zip(out.pixels, [1, 2.5, 4] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })
        let c = try FFTConvolver(image: img, kernelWidth: 3, kernelHeight: 1)
        #expect(zip(try c.correlate(ker, mode: .same).pixels, [2, 3.5, 3] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func convolverMatchesOneShot() throws {
        let image: Grid2D<Double> = randomGrid(45, 38, seed: 11)
        let conv = try FFTConvolver(image: image, kernelWidth: 15, kernelHeight: 13)
        #expect(conv.transformWidth == nextFastSize(45 + 15 - 1) && conv.transformHeight == nextFastSize(38 + 13 - 1))
        for (i, (kw, kh)) in [(15, 13), (3, 3), (4, 6), (1, 1), (15, 1)].enumerated() {
            let k: Grid2D<Double> = randomGrid(kw, kh, seed: UInt64(20 + i))
            for mode in ConvolutionMode.allCases {
                let want = cropLikeScipy(naiveFullConvolution(image, k), input: (45, 38), kernel: (kw, kh), mode: mode.rawValue)
                #expect(scaledError(try conv.convolve(k, mode: mode), want, a: image, b: k) < 1e-10)
                let wantC = cropLikeScipy(naiveFullCorrelation(image, k), input: (45, 38), kernel: (kw, kh), mode: mode.rawValue)
                #expect(scaledError(try conv.correlate(k, mode: mode), wantC, a: image, b: k) < 1e-10)
            }
        }
        let tooBig: Grid2D<Double> = randomGrid(16, 3, seed: 5)
        #expect(throws: PeaksError.self) { try conv.convolve(tooBig) }
    }

    @Test func nextFastSizeKnownValues() {
        let known = [0: 1, 1: 1, 2: 2, 7: 7, 11: 12, 13: 14, 17: 18, 19: 20, 23: 24, 97: 98, 127: 128,
                     1031: 1050, 2078: 2100, 4097: 4116]
        for (n, m) in known { #expect(nextFastSize(n) == m, "nextFastSize(\(n))") }
        func smooth(_ x: Int) -> Bool {
            var r = x
            for p in [2, 3, 5, 7] { while r % p == 0 { r /= p } }
            return r == 1
        }
        for n in 1...3000 {
            let m = nextFastSize(n)
            #expect(m >= n && smooth(m) && !(n..<m).contains(where: smooth))
        }
    }

    @Test func transformSizeIsSmallestSafe() {
        // same mode with a 31-wide kernel needs only image + 15, not image + 30.
        #expect(ConvolutionMode.same.minimumTransformLength(input: 2048, kernel: 31) == 2063)
        #expect(ConvolutionMode.valid.minimumTransformLength(input: 2048, kernel: 31) == 2048)
        #expect(ConvolutionMode.full.minimumTransformLength(input: 2048, kernel: 31) == 2078)
        #expect(ConvolutionMode.same.minimumTransformLength(input: 1, kernel: 10) == 10)
    }
}

@Suite struct DeterminismTests {
    @Test func repeatedRunsAreBitIdentical() throws {
        let a: Grid2D<Float> = randomGrid(300, 290, seed: 5)
        let b: Grid2D<Float> = randomGrid(21, 17, seed: 6)
        let first = try FFTConvolution.convolve(a, b, mode: .same)
        let second = try FFTConvolution.convolve(a, b, mode: .same)
        #expect(bits(first) == bits(second))
        // A convolver pads for `full` mode, so it matches one-shot `full` bit for bit (one-shot
        // `same` may use a smaller transform and so differ in the last bits).
        let conv = try FFTConvolver(image: a, kernelWidth: 21, kernelHeight: 17)
        let viaConvolver = try conv.convolve(b, mode: .full)
        #expect(bits(viaConvolver) == bits(try FFTConvolution.convolve(a, b, mode: .full)))
        #expect(bits(viaConvolver) == bits(try conv.convolve(b, mode: .full)))
    }

    /// 16 convolutions at once, half of them on shapes never planned before (so planning runs
    /// concurrently), each compared bit for bit with a serial run.
    @Test func concurrentUseIsSafeAndIdentical() throws {
        let jobs: [(Grid2D<Double>, Grid2D<Double>, ConvolutionMode)] = (0..<16).map { i in
            let w = i % 2 == 0 ? 200 : 150 + 7 * i, h = i % 2 == 0 ? 180 : 120 + 5 * i
            return (randomGrid(w, h, seed: UInt64(300 + i)), randomGrid(3 + i, 2 + i, seed: UInt64(400 + i)),
                    ConvolutionMode.allCases[i % 3])
        }
        final class Results: @unchecked Sendable {
            var values = [Grid2D<Double>?](repeating: nil, count: 16)
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let (a, b, mode) = jobs[i]
            let r = i % 4 == 3 ? try? FFTConvolution.correlate(a, b, mode: mode) : try? FFTConvolution.convolve(a, b, mode: mode)
            results.values[i] = r  // distinct slots: no overlapping writes
        }
        for i in 0..<16 {
            let (a, b, mode) = jobs[i]
            let serial = i % 4 == 3 ? try FFTConvolution.correlate(a, b, mode: mode) : try FFTConvolution.convolve(a, b, mode: mode)
            #expect(results.values[i].map(bits) == bits(serial), "job \(i)")
        }
    }

    @Test func concurrentTasksShareOneConvolver() async throws {
        let image: Grid2D<Float> = randomGrid(256, 256, seed: 9)
        let conv = try FFTConvolver(image: image, kernelWidth: 9, kernelHeight: 9)
        let kernels: [Grid2D<Float>] = (0..<16).map { randomGrid(9, 9, seed: UInt64(500 + $0)) }
        let serial = try kernels.map { try conv.convolve($0, mode: .same) }
        let parallel = try await withThrowingTaskGroup(of: (Int, Grid2D<Float>).self) { group in
            for (i, k) in kernels.enumerated() { group.addTask { (i, try conv.convolve(k, mode: .same)) } }
            var out = [Grid2D<Float>?](repeating: nil, count: kernels.count)
            for try await (i, g) in group { out[i] = g }
            return out
        }
        for i in 0..<kernels.count { #expect(parallel[i].map(bits) == bits(serial[i])) }
    }
}
