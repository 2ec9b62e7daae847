import Foundation
import Testing
import Harness
import PeakKit
@testable import Filters

/// Direct application of a kernel with border index mapping (Double).
private func directFilter(_ image: Image, _ k: Kernel2D, border: BorderMode) -> [Double] {
    let r = k.radius
    var out = [Double](repeating: 0, count: image.count)
    for y in 0..<image.height { for x in 0..<image.width {
        var s = 0.0
        for dy in -r...r { for dx in -r...r {
            let sx = GaussianFilter.borderIndex(x + dx, image.width, border), sy = GaussianFilter.borderIndex(y + dy, image.height, border)
            if sx < 0 || sy < 0 { continue }
            s += k[dx, dy] * Double(image[sx, sy])
        } }
        out[y * image.width + x] = s
    } }
    return out
}

@Suite struct LaplaceTests {
    @Test(arguments: [LaplaceFilter.Stencil.fivePoint, .ninePoint])
    func stencilsAnnihilateConstantsAndRampsAndMeasureCurvature(stencil: LaplaceFilter.Stencil) {
        let flat = LaplaceFilter.apply(Image(width: 12, height: 9, repeating: 3.5), stencil: stencil)
        #expect(flat.pixels.allSatisfy { abs($0) < 1e-5 })  // reflect: also zero on the border
        let ramp = LaplaceFilter.apply(Image(width: 12, height: 9) { x, y in Float(2 + 0.5 * Double(x) - 0.25 * Double(y)) }, stencil: stencil)
        for y in 1..<8 { for x in 1..<11 { #expect(abs(ramp[x, y]) < 1e-5) } }
        let bowl = LaplaceFilter.apply(Image(width: 12, height: 9) { x, y in Float(x * x + 3 * y * y) }, stencil: stencil)
        for y in 1..<8 { for x in 1..<11 { #expect(abs(bowl[x, y] - 8) < 1e-3) } }  // 2 + 6
    }

    @Test(arguments: [BorderMode.reflect, .nearest, .constant])
    func matchesDirectStencil(border: BorderMode) {
        var rng = SeededRandom(seed: 31)
        for (w, h) in [(13, 7), (1, 5), (2, 2), (6, 1)] {
            let image = Image(width: w, height: h) { _, _ in Float(rng.uniform(-3, 3)) }
            for stencil in LaplaceFilter.Stencil.allCases {
                let got = LaplaceFilter.apply(image, stencil: stencil, border: border)
                let want = directFilter(image, LaplaceFilter.kernel(stencil), border: border)
                for i in 0..<image.count { #expect(abs(Double(got.pixels[i]) - want[i]) < 1e-4) }
            }
        }
        #expect(LaplaceFilter.apply(Image(width: 0, height: 0)).isEmpty)
    }

    @Test func logKernelSumsToZero() {
        for sigma in [0.5, 0.8, 1.0, 1.7, 2.5, 4.0, 7.3] {
            for normalized in [false, true] {
                for truncate in [2.0, 3.0, 4.0] {
                    let k = LaplacianOfGaussian.kernel(sigma: sigma, truncate: truncate, scaleNormalized: normalized)
                    #expect(abs(k.sum) < 1e-12, "sigma \(sigma) sum \(k.sum)")
                    #expect(k.radius == max(1, Int(truncate * sigma + 0.5)))
                    #expect(k[0, 0] < 0)  // negative centre
                    #expect(k[1, 2] == k[-2, 1] && k[2, -1] == k[-1, -2])  // point and 90-degree symmetry
                }
            }
        }
        // Odd sigma: a zero kernel, no trap.
        for bad in [0.0, -1.0, .nan, .infinity] { #expect(LaplacianOfGaussian.kernel(sigma: bad).weights == [0]) }
        #expect(LaplacianOfGaussian.kernel(sigma: 1, truncate: 0).radius == 1)
    }

    @Test func logKernelMatchesFormulaBeforeCentring() {
        let sigma = 1.5
        let k = LaplacianOfGaussian.kernel(sigma: sigma)
        let f = { (q: Double) in (q - 2 * sigma * sigma) / (2 * Double.pi * pow(sigma, 6)) * exp(-q / (2 * sigma * sigma)) }
        let shift = f(0) - k[0, 0]  // the subtracted mean
        for (dx, dy) in [(1, 0), (2, 1), (3, 3), (6, 0)] {
            #expect(abs(k[dx, dy] + shift - f(Double(dx * dx + dy * dy))) < 1e-12)
        }
        #expect(abs(shift) < 1e-3)
    }

    @Test func logResponseToConstantAndRampIsZeroInside() {
        let sigma = 2.0
        let r = LaplacianOfGaussian.kernel(sigma: sigma).radius
        for border in BorderMode.allCases {
            let flat = LaplacianOfGaussian.apply(Image(width: 40, height: 30, repeating: 9), sigma: sigma, border: border)
            let ramp = LaplacianOfGaussian.apply(
                Image(width: 40, height: 30) { x, y in Float(3 + 0.5 * Double(x) - 0.25 * Double(y)) }, sigma: sigma, border: border)
            for y in r..<(30 - r) { for x in r..<(40 - r) {
                #expect(abs(flat[x, y]) < 1e-6)
                #expect(abs(ramp[x, y]) < 1e-6)
            } }
        }
    }

    @Test func logMatchesDirectConvolution() {
        var rng = SeededRandom(seed: 5)
        let image = Image(width: 15, height: 11) { _, _ in Float(rng.uniform(0, 10)) }
        let k = LaplacianOfGaussian.kernel(sigma: 1.2, scaleNormalized: true)
        for border in BorderMode.allCases {
            let got = Convolution2D.apply(image, kernel: k, border: border)
            let want = directFilter(image, k, border: border)
            for i in 0..<image.count { #expect(abs(Double(got.pixels[i]) - want[i]) < 1e-5) }
        }
    }

    @Test func logIsExtremalAtBlobCentreAndSelectsItsScale() {
        for s in [1.5, 2.0, 3.0] {
            var image = Image(width: 65, height: 65)
            SpotRenderer.add([Spot(x: 32, y: 32, amplitude: 100, sigma: s)], to: &image)
            let response = LaplacianOfGaussian.apply(image, sigma: s, scaleNormalized: true)
            let minIndex = response.pixels.indices.min { response.pixels[$0] < response.pixels[$1] }!
            #expect(minIndex % 65 == 32 && minIndex / 65 == 32)
            // Scale-normalised response at the centre over a range of sigmas: most negative near s.
            let sigmas = stride(from: 0.75, through: 5.0, by: 0.125).map { $0 }
            let centre = sigmas.map { Double(LaplacianOfGaussian.apply(image, sigma: $0, scaleNormalized: true)[32, 32]) }
            let best = sigmas[centre.indices.min { centre[$0] < centre[$1] }!]
            #expect(abs(best - s) <= 0.25, "blob sigma \(s): selected \(best)")
            // Lindeberg: sigma^2 LoG at the centre of A exp(-r^2/2s^2) is -2 A s^2 sigma^2/(s^2 + sigma^2)^2.
            let predicted = -2 * 100 * s * s * s * s / pow(2 * s * s, 2)
            #expect(abs(centre[sigmas.firstIndex(of: s)!] / predicted - 1) < 0.08)
        }
    }
}
