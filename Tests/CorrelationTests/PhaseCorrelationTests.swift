import Foundation
import Testing
import Harness
import PeakKit
import Spectral
@testable import Correlation

@Suite struct PhaseCorrelationTests {
    /// The upsampled DFT from a half spectrum agrees with a direct evaluation over the full
    /// spectrum (odd and even sizes).
    @Test(arguments: [(8, 6), (9, 7), (10, 5), (7, 8)])
    func upsampledDFTMatchesDirectSum(size: (Int, Int)) {
        let (w, h) = size
        var rng = SeededRandom(seed: UInt64(w * 31 + h))
        let a = (0..<(w * h)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(w * h)).map { _ in rng.uniform(-1, 1) }
        // Full complex DFTs by definition.
        func dft(_ x: [Double]) -> [(Double, Double)] {
            var out = [(Double, Double)](repeating: (0, 0), count: w * h)
            for v in 0..<h { for u in 0..<w {
                var re = 0.0, im = 0.0
                for y in 0..<h { for xx in 0..<w {
                    let ang = -2 * Double.pi * (Double(u * xx) / Double(w) + Double(v * y) / Double(h))
                    re += x[y * w + xx] * cos(ang); im += x[y * w + xx] * sin(ang)
                } }
                out[v * w + u] = (re, im)
            } }
            return out
        }
        let fa = dft(a), fb = dft(b)
        let full = zip(fa, fb).map { (p, q) in (p.0 * q.0 + p.1 * q.1, p.1 * q.0 - p.0 * q.1) }  // a conj(b)
        let sw = w / 2 + 1
        var half = [Double](repeating: 0, count: 2 * h * sw)
        for v in 0..<h { for u in 0..<sw { half[2 * (v * sw + u)] = full[v * w + u].0; half[2 * (v * sw + u) + 1] = full[v * w + u].1 } }
        let region = 5, k = 3.0, ox = 1.7, oy = -0.6
        let fast = half.withUnsafeBufferPointer {
            PhaseCorrelation.upsampledDFT($0, width: w, height: h, spectrumWidth: sw, region: region, factor: k, offsetX: ox, offsetY: oy)
        }
        func freq(_ i: Int, _ n: Int) -> Double { i <= (n - 1) / 2 ? Double(i) : Double(i - n) }
        var worst = 0.0
        for ry in 0..<region { for rx in 0..<region {
            var re = 0.0, im = 0.0
            for v in 0..<h { for u in 0..<w {
                let ang = 2 * Double.pi * ((Double(rx) - ox) * freq(u, w) / (Double(w) * k) + (Double(ry) - oy) * freq(v, h) / (Double(h) * k))
                let (pr, pi) = full[v * w + u]
                re += pr * cos(ang) - pi * sin(ang); im += pr * sin(ang) + pi * cos(ang)
            } }
            worst = max(worst, abs(re - fast.re[ry * region + rx]), abs(im - fast.im[ry * region + rx]))
        } }
        #expect(worst < 1e-9, "max difference \(worst)")
    }

    /// Circular whole-pixel shifts (phase correlation assumes periodic images; crops of a
    /// non-periodic scene need a window or the masked NCC).
    @Test(arguments: [(3, -5), (-17, 9), (0, 0), (31, -29), (20, 30)])
    func wholePixelShifts(shift: (Int, Int)) throws {
        let ref = texture(width: 64, height: 60, seed: 4, sigma: 1.2)
        // mov(x) = ref(x + s) circularly: the shift to apply to MOVING is s.
        let mov = Image(width: 64, height: 60) { x, y in ref[((x + shift.0) % 64 + 64) % 64, ((y + shift.1) % 60 + 60) % 60] }
        for n in PhaseCorrelation.Normalization.allCases {
            for up in [1, 7] {
                let r = try PhaseCorrelation.register(reference: ref, moving: mov, upsample: up, normalization: n)
                #expect(r.pixelDX == shift.0 && r.pixelDY == shift.1, "\(n): \(r.pixelDX), \(r.pixelDY)")
                #expect(r.dx == Double(shift.0) && r.dy == Double(shift.1), "\(n) upsample \(up): \(r.dx), \(r.dy)")
                #expect((r.error ?? 1) < 1e-6)
            }
        }
    }

    /// The accuracy figures: a disc shifted by subpixel amounts (Fourier shift theorem).
    @Test(arguments: [(100, 0.02), (20, 0.05)])
    func subpixelDiscShifts(upsample: Int, bound: Double) throws {
        let ref = disc(width: 128, height: 128, cx: 63.5, cy: 64.2, r: 22)
        var rng = SeededRandom(seed: 99)
        var sum = 0.0, n = 0.0
        for _ in 0..<12 {
            let sx = rng.uniform(-6, 6), sy = rng.uniform(-6, 6)
            let mov = fourierShift(ref, sx: sx, sy: sy)  // mov(x) = ref(x - s): shift to apply = -s
            let r = try PhaseCorrelation.register(reference: ref, moving: mov, upsample: upsample)
            let ex = r.dx + sx, ey = r.dy + sy
            sum += ex * ex + ey * ey
            n += 1
        }
        let rms = (sum / n).squareRoot()
        print("phase correlation, disc, upsample \(upsample): RMS error \(rms) px")
        #expect(rms < bound, "RMS \(rms) px at upsample \(upsample)")
    }

    @Test func identicalImagesHaveNoErrorAndNoPhase() throws {
        let t = texture(width: 50, height: 40, seed: 9)
        let r = try PhaseCorrelation.register(reference: t, moving: t, upsample: 10, normalization: .none)
        #expect(r.dx == 0 && r.dy == 0)
        #expect((r.error ?? 1) < 1e-6)
        #expect(abs(r.phaseDifference ?? 1) < 1e-9)
        let r1 = try PhaseCorrelation.register(reference: t, moving: t, upsample: 1, normalization: .none)
        #expect((r1.error ?? 1) < 1e-6)
    }

    @Test func badInputs() {
        let t = texture(width: 20, height: 20, seed: 1)
        #expect(throws: PeaksError.self) { try PhaseCorrelation.register(reference: t, moving: Image(width: 19, height: 20)) }
        #expect(throws: PeaksError.self) { try PhaseCorrelation.register(reference: t, moving: t, upsample: 0) }
        var n = t; n[3, 3] = .nan
        #expect(throws: PeaksError.self) { try PhaseCorrelation.register(reference: t, moving: n) }
    }
}
