import Foundation
import Testing
import Harness
import PeakKit
@testable import Filters

/// Direct 2-D convolution with the separable kernel's outer product, borders by index mapping.
private func directGaussian(_ image: Image, sigma: Double, border: BorderMode) -> [Double] {
    let k = GaussianFilter.kernel(sigma: sigma).map(Double.init)
    let r = k.count / 2
    var out = [Double](repeating: 0, count: image.count)
    for y in 0..<image.height { for x in 0..<image.width {
        var s = 0.0
        for j in -r...r { for i in -r...r {
            let sx = GaussianFilter.borderIndex(x + i, image.width, border), sy = GaussianFilter.borderIndex(y + j, image.height, border)
            if sx < 0 || sy < 0 { continue }
            s += k[i + r] * k[j + r] * Double(image[sx, sy])
        } }
        out[y * image.width + x] = s
    } }
    return out
}

@Suite struct GaussianTests {
    @Test func kernelMatchesDefinition() {
        let k = GaussianFilter.kernel(sigma: 1)
        #expect(k.count == 9)  // radius Int(4 * 1 + 0.5) = 4
        let raw = (-4...4).map { exp(-Double($0 * $0) / 2) }
        let total = raw.reduce(0, +)
        for (a, b) in zip(k, raw) { #expect(abs(Double(a) - b / total) < 1e-7) }
        #expect(abs(k.reduce(0, +) - 1) < 1e-6)
        #expect(GaussianFilter.kernel(sigma: 0) == [1])
    }

    @Test(arguments: [BorderMode.reflect, .nearest, .constant])
    func separableMatchesDirect(border: BorderMode) {
        var rng = SeededRandom(seed: 4)
        for (w, h, sigma) in [(17, 9, 1.3), (8, 21, 2.0), (5, 4, 3.0)] {
            let image = Image(width: w, height: h) { _, _ in Float(rng.uniform(-5, 5)) }
            let got = GaussianFilter.apply(image, sigma: sigma, border: border)
            let want = directGaussian(image, sigma: sigma, border: border)
            for i in 0..<image.count { #expect(abs(Double(got.pixels[i]) - want[i]) < 1e-4) }
        }
    }

    /// The vectorised passes (16 outputs summed in registers, the phases of a sampled line, a
    /// row's interior read in place and its ends from a padded line, two column outputs at a
    /// time) give the plain per-pixel loops' values bit for bit: row pass, then column pass,
    /// each output summing k[0] x[0], k[1] x[1], ... from zero in Float, in that order. Widths
    /// below, at and above 4 r, where the row pass changes path.
    @Test(arguments: [BorderMode.reflect, .nearest, .constant])
    func separablePassesEqualThePerPixelLoops(border: BorderMode) {
        var rng = SeededRandom(seed: 8)
        for (w, h, sigma, step) in [(100, 37, 1.7, 1), (70, 90, 3.0, 1), (28, 9, 1.7, 1), (20, 15, 3.0, 1), (131, 45, 5.0, 2), (97, 64, 16.0, 4), (64, 33, 2.2, 3), (33, 20, 1.0, 5)] {
            let image = Image(width: w, height: h) { _, _ in Float(rng.uniform(-50, 50)) }
            let k = GaussianFilter.kernel(sigma: sigma)
            let r = k.count / 2
            let sw = (w + step - 1) / step, sh = (h + step - 1) / step
            // One output: sum_m k[m] * line[at + m - r] from zero, in tap order (a zero-border tap
            // is skipped, which adds nothing).
            func tapSum(_ at: Int, _ n: Int, _ line: (Int) -> Float) -> Float {
                var s: Float = 0
                for m in 0..<k.count {
                    let j = GaussianFilter.borderIndex(at + m - r, n, border)
                    if j >= 0 { s += k[m] * line(j) }
                }
                return s
            }
            var rows = [Float](repeating: 0, count: sw * h)
            for y in 0..<h { for sx in 0..<sw { rows[y * sw + sx] = tapSum(sx * step, w) { image[$0, y] } } }
            var want = [Float](repeating: 0, count: sw * sh)
            for sy in 0..<sh { for x in 0..<sw { want[sy * sw + x] = tapSum(sy * step, h) { rows[$0 * sw + x] } } }
            let got = GaussianFilter.separableSampled(image.pixels, width: w, height: h, kernel: k, border: border, step: step)
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(w)x\(h) sigma \(sigma) step \(step)")
        }
    }

    @Test func reflectIndexIsHalfSampleSymmetric() {
        // d c b a | a b c d | d c b a
        #expect((-4..<8).map { GaussianFilter.borderIndex($0, 4, .reflect) } == [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
        #expect(GaussianFilter.borderIndex(-9, 4, .reflect) == 0)  // period 8: -9 is -1
    }

    @Test func preservesConstantsAndFlux() {
        let flat = GaussianFilter.apply(Image(width: 20, height: 10, repeating: 7), sigma: 2.5)
        #expect(flat.pixels.allSatisfy { abs($0 - 7) < 1e-4 })
        var spot = Image(width: 64, height: 64)
        spot[32, 32] = 100
        let smoothed = GaussianFilter.apply(spot, sigma: 2)
        #expect(abs(smoothed.pixels.reduce(0, +) - 100) < 1e-3)
    }

    @Test func noiseGainMatchesMeasuredNoise() {
        var rng = SeededRandom(seed: 8)
        var image = Image(width: 256, height: 256)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let smoothed = GaussianFilter.apply(image, sigma: 1.5)
        let mean = smoothed.pixels.reduce(0.0) { $0 + Double($1) } / Double(smoothed.count)
        let sd = (smoothed.pixels.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(smoothed.count)).squareRoot()
        #expect(abs(sd / GaussianFilter.noiseGain(sigma: 1.5) - 1) < 0.05)
        // Continuous limit 1 / (2 sqrt(pi) sigma).
        #expect(abs(GaussianFilter.noiseGain(sigma: 3) - 1 / (2 * Double.pi.squareRoot() * 3)) < 1e-3)
    }

    /// The band-pass gain is the root sum of squares of the filter's response to an impulse,
    /// made with `apply` itself (far from the borders), for small and large sigmas.
    @Test func bandPassNoiseGainIsTheImpulseResponseNorm() {
        for sigma in [0.6, 1.41, 3.0, 5.66] {
            let n = 2 * Int(16 * sigma + 0.5) + 1, c = n / 2
            var impulse = Image(width: n, height: n)
            impulse[c, c] = 1
            let narrow = GaussianFilter.apply(impulse, sigma: sigma), wide = GaussianFilter.apply(impulse, sigma: 4 * sigma)
            var sum = 0.0
            for i in 0..<impulse.count { let d = Double(narrow.pixels[i]) - Double(wide.pixels[i]); sum += d * d }
            let gain = GaussianFilter.bandPassNoiseGain(sigma: sigma, background: 4 * sigma)
            #expect(abs(gain / sum.squareRoot() - 1) < 1e-4, "sigma \(sigma): \(gain) vs \(sum.squareRoot())")
        }
        #expect(GaussianFilter.bandPassNoiseGain(sigma: 2, background: 2) == 0)
    }

    /// `BandPassNoise` against brute force: the variance of the band-passed value at (x, y)
    /// under unit white noise is the sum over the valid pixels u of the squared response at
    /// (x, y) to an impulse at u, each computed by `GaussianFilter.apply` itself (reflected
    /// borders; normalised convolution under a mask), so the folding and the mask are checked
    /// independently of how `BandPassNoise` computes them. Also: the interior value is
    /// `bandPassNoiseGain`, the ratio to it is above 0.5 everywhere (the detector looks no
    /// further below), and the edges are noisier than the interior.
    @Test(arguments: [(1.0, false), (1.5, true), (0.8, true)])
    func bandPassNoiseMatchesImpulseResponses(sigma: Double, masked: Bool) {
        let w = 23, h = 19, background = 4 * sigma
        var mask = Mask(width: w, height: h)
        if masked {
            for y in 6..<10 { for x in 9..<15 { mask[x, y] = false } }
            mask[0, 0] = false
            mask[22, 3] = false
        }
        var variance = [Double](repeating: 0, count: w * h)
        for u in 0..<(w * h) where mask.isValid[u] {
            var impulse = Image(width: w, height: h)
            impulse.pixels[u] = 1
            let narrow = GaussianFilter.apply(impulse, mask: mask, sigma: sigma)
            let wide = GaussianFilter.apply(impulse, mask: mask, sigma: background)
            for i in 0..<(w * h) {
                let d = Double(narrow.pixels[i]) - Double(wide.pixels[i])
                variance[i] += d * d
            }
        }
        let noise = BandPassNoise(width: w, height: h, mask: masked ? mask : nil, sigma: sigma, background: background)
        #expect(noise.interior == GaussianFilter.bandPassNoiseGain(sigma: sigma, background: background))
        var lowest = Double.infinity
        for y in 0..<h { for x in 0..<w where mask[x, y] {
            let truth = variance[y * w + x].squareRoot(), gain = noise.gain(x: x, y: y)
            #expect(abs(gain - truth) <= 2e-4 * truth + 1e-6, "(\(x), \(y)): \(gain) vs \(truth)")
            lowest = min(lowest, noise.ratio(x: x, y: y))
        } }
        #expect(lowest > 0.5, "lowest ratio \(lowest)")
        #expect(noise.ratio(x: 0, y: h - 1) > 1.2, "corner ratio \(noise.ratio(x: 0, y: h - 1))")
    }

    /// The sampled filter (autocenter's coarse stage) is the full filter's values at the
    /// sampled pixels, bit for bit, with and without invalid pixels, for steps that do and do
    /// not divide the size.
    @Test func sampledFilterEqualsFullFilterAtSamples() {
        var rng = SeededRandom(seed: 21)
        let image = Image(width: 53, height: 41) { _, _ in Float(rng.uniform(0, 100)) }
        var mask = Mask(width: 53, height: 41)
        for y in 5..<15 { for x in 20..<31 { mask[x, y] = false } }
        for m in [Mask(width: 53, height: 41), mask] {
            let full = GaussianFilter.apply(image, mask: m, sigma: 6)
            for step in [1, 3, 4] {
                let sampled = GaussianFilter.applySampled(image, mask: m, sigma: 6, step: step)
                #expect(sampled.width == (53 + step - 1) / step && sampled.height == (41 + step - 1) / step)
                for y in 0..<sampled.height {
                    for x in 0..<sampled.width {
                        #expect(sampled[x, y].bitPattern == full[x * step, y * step].bitPattern)
                    }
                }
            }
        }
    }

    @Test func maskedSmoothingIgnoresInvalidPixels() {
        // Invalid pixels hold garbage; the normalised convolution must not see it.
        var image = Image(width: 30, height: 30, repeating: 5)
        var mask = Mask(width: 30, height: 30)
        for y in 10..<20 { for x in 10..<20 { image[x, y] = 1e6; mask[x, y] = false } }
        let out = GaussianFilter.apply(image, mask: mask, sigma: 2)
        for y in 0..<30 { for x in 0..<30 where mask[x, y] { #expect(abs(out[x, y] - 5) < 1e-3) } }
    }
}

@Suite struct NoiseEstimateTests {
    /// `measurable`: exactly the centres of constant 5 x 5 patches leave the mask; pixels the
    /// given mask excludes stay excluded; an image where fewer than 64 pixels would be left keeps
    /// its mask.
    @Test func measurableExcludesTheCentresOfConstantPatches() {
        // Left half constant (7), right half never equal to a horizontal neighbour.
        let big = Image(width: 64, height: 64) { x, y in (x < 32) ? 7 : Float((x * 31 + y * 17) % 23) }
        var given = Mask(width: 64, height: 64)
        given.isValid[40 * 64 + 50] = false
        let m = NoiseEstimate.measurable(given, in: big)
        for y in 0..<64 { for x in 0..<64 {
            let flatCentre = x >= 2 && x <= 29 && y >= 2 && y <= 61
            let expected = !flatCentre && !(x == 50 && y == 40)
            #expect(m.isValid[y * 64 + x] == expected, "(\(x), \(y))")
        } }
        // 8 x 8 constant but for pixel (0, 0): 15 flat centres, 49 left (< 64): unchanged.
        var small = Image(width: 8, height: 8, repeating: 3)
        small.pixels[0] = 4
        #expect(NoiseEstimate.measurable(Mask(width: 8, height: 8), in: small) == Mask(width: 8, height: 8))
    }

    /// `sigma` with every pixel valid (rows of responses at once) against the definition: the
    /// Immerkaer responses of every interior pixel in raster order, the non-finite ones left out,
    /// then `robustSpread` / 6. Bit for bit, on noise, on flat quantised data (the median is 0
    /// and the order of the mean's sum matters) and with NaN pixels.
    @Test func sigmaOfEveryPixelMatchesTheDefinition() {
        var rng = SeededRandom(seed: 46)
        for (w, h, kind) in [(3, 3, 0), (17, 9, 0), (64, 48, 0), (64, 48, 1), (40, 31, 2)] {
            let image = Image(width: w, height: h) { _, _ in
                switch kind {
                case 0: return Float(rng.normal() * 3 + 10)
                case 1: return rng.uniform(0, 1) < 0.8 ? 5 : 6  // mostly flat: median response 0
                default: return rng.uniform(0, 1) < 0.05 ? .nan : Float(rng.normal())
                }
            }
            var responses: [Float] = []
            image.pixels.withUnsafeBufferPointer { p in
                for y in 1..<(h - 1) { for x in 1..<(w - 1) {
                    let r = NoiseEstimate.immerkaerResponse(p, at: y * w + x, width: w)
                    if r.isFinite { responses.append(r) }
                } }
            }
            let want = responses.isEmpty ? 0 : NoiseEstimate.robustSpread(&responses) / 6
            for mask in [nil, Mask(width: w, height: h)] {
                let got = NoiseEstimate.sigma(image, mask: mask)
                #expect(got.bitPattern == want.bitPattern, "\(w)x\(h), kind \(kind): \(got) against \(want)")
            }
        }
    }

    /// `CountingData`'s integer tile sums against the pixel-by-pixel Double loop they replace
    /// (every pixel valid, whole numbers up to 2^22): equal bit for bit, at the bound too.
    @Test func integerTileSumsEqualTheDoubleLoop() {
        var rng = SeededRandom(seed: 44)
        let tile = CountingData.tile, w = 3 * tile + 5
        for top in [3.0, 40.0, 65_535.0, 4_194_304.0] {
            var pixels = (0..<(w * tile)).map { _ in Float((rng.uniform(0, 1) * top).rounded(.down)) }
            // A tile of zeros and the largest value next to each other (the largest differences).
            for y in 0..<tile { for x in 0..<tile { pixels[y * w + tile + x] = (x + y) % 2 == 0 ? 0 : Float(top) } }
            for tx in [0, tile, 2 * tile, w - tile] {
                var sum = 0.0, sq = 0.0
                for y in 0..<tile { for x in tx..<(tx + tile) {
                    let i = y * w + x, a = Double(pixels[i])
                    sum += a
                    if x + 1 < tx + tile { let d = a - Double(pixels[i + 1]); sq += d * d }
                    if y + 1 < tile { let d = a - Double(pixels[i + w]); sq += d * d }
                } }
                let got = pixels.withUnsafeBufferPointer { CountingData.integerTileSums($0.baseAddress! + tx, width: w) }
                #expect(got.sum.bitPattern == sum.bitPattern && got.squares.bitPattern == sq.bitPattern, "top \(top), tile at \(tx)")
            }
        }
    }

    /// `flatPatchCentres` (the eight-column skips, the byte arithmetic) against the rule written
    /// out per pixel: on images of few levels, so that flat 5 x 5 patches occur by chance, with
    /// NaN (equal to nothing), signed zeros (equal) and widths that are not multiples of eight.
    @Test func flatPatchCentresMatchTheRulePerPixel() {
        var rng = SeededRandom(seed: 41)
        for (w, h) in [(5, 5), (9, 7), (13, 11), (37, 29), (64, 40), (101, 67)] {
            for levels in [1, 2, 3] {
                let image = Image(width: w, height: h) { _, _ in
                    let u = Int(rng.next() % 1000)
                    if u < 3 { return .nan }
                    if u < 10 { return -0.0 }
                    return u % 7 == 0 ? Float(u % levels) : 0
                }
                var expected = [Bool](repeating: false, count: w * h)
                for y in 2..<(h - 2) { for x in 2..<(w - 2) {
                    let v = image[x, y]
                    var all = true
                    for dy in -2...2 { for dx in -2...2 where image[x + dx, y + dy] != v { all = false } }
                    expected[y * w + x] = all
                } }
                let found = NoiseEstimate.flatPatchCentres(image)
                if expected.contains(true) {
                    #expect(found == expected, "\(w)x\(h), \(levels) levels")
                } else {
                    #expect(found == nil, "\(w)x\(h), \(levels) levels")
                }
            }
        }
    }

    /// `constantAreas`' dead pixels against the rule written out per pixel: every pixel of a
    /// patch whose pixels all hold the image's lowest valid value, the patch being the 5 x 5
    /// square around a centre, clipped to the frame within 2 px of its edge (3 x 3 to 5 x 4
    /// pixels there: a dead strip 3-4 px thick along the frame has no whole square). Random
    /// images of few levels (so that such patches occur by chance, at the edges too), and a
    /// 3-row zero strip along the top of noise: those rows leave the data mask, a 2-row strip
    /// does not.
    @Test func deadAreasMatchTheRulePerPixelToTheFrameEdge() {
        var rng = SeededRandom(seed: 52)
        for (w, h) in [(9, 9), (13, 11), (37, 29), (64, 40)] {
            for density in [2, 3] {
                let image = Image(width: w, height: h) { _, _ in Int(rng.next() % UInt64(density + 2)) == 0 ? 1 : 0 }
                let lowest = image.pixels.min()!
                var expected = [Bool](repeating: true, count: w * h)
                for y in 0..<h { for x in 0..<w {
                    let ys = max(0, y - 2)...min(h - 1, y + 2), xs = max(0, x - 2)...min(w - 1, x + 2)
                    guard ys.count >= 3, xs.count >= 3 else { continue }
                    if ys.allSatisfy({ yy in xs.allSatisfy { image[$0, yy] == lowest } }) {
                        for yy in ys { for xx in xs { expected[yy * w + xx] = false } }
                    }
                } }
                let data = NoiseEstimate.constantAreas(Mask(width: w, height: h), in: image).data
                let left = expected.filter { $0 }.count
                #expect(data.isValid == (left >= 64 ? expected : [Bool](repeating: true, count: w * h)), "\(w)x\(h), density \(density)")
            }
        }
        for rows in [2, 3, 4] {
            var noise = SeededRandom(seed: 9)
            let image = Image(width: 40, height: 30) { _, y in y < rows ? 0 : Float(20 + noise.normal()) }
            let data = NoiseEstimate.constantAreas(Mask(width: 40, height: 30), in: image).data
            for y in 0..<30 { for x in 0..<40 {
                #expect(data[x, y] == (rows < 3 || y >= rows), "\(rows)-row strip: (\(x), \(y))")
            } }
        }
    }

    @Test(arguments: [0.5, 2.0, 10.0])
    func recoversWhiteNoiseSigmaUnderStructure(sigma: Double) {
        var rng = SeededRandom(seed: 21)
        // A sloped, curved background plus bright spots: none of it should bias the estimate much.
        var image = Image(width: 300, height: 300) { x, y in
            let slope: Double = 0.3 * Double(x)
            let curve: Double = 0.001 * Double(y * y)
            return Float(50 + slope + curve)
        }
        var spots: [Spot] = []
        for i in 0..<40 {
            let x = Double(15 + (i % 8) * 35), y = Double(20 + (i / 8) * 55)
            spots.append(Spot(x: x, y: y, amplitude: 200 * sigma, sigma: 1.5))
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: sigma, rng: &rng)
        let estimate = NoiseEstimate.sigma(image)
        #expect(abs(estimate / sigma - 1) < 0.06, "estimate \(estimate) for sigma \(sigma)")
    }

    /// `quantisationStep` is the gcd of the differences of the whole-number values: hand-made
    /// grids, 12-bit data shifted into 16 bits with an offset, continuous data (0), a constant
    /// image (0), and a mask that hides the one pixel off the grid.
    @Test func quantisationStepIsTheGridOfTheValues() {
        func image(_ values: [Float], width: Int = 4) -> Image {
            Image(width: width, height: values.count / width, pixels: values)
        }
        #expect(NoiseEstimate.quantisationStep(image([3, 7, 11, 19, 7, 3, 15, 23])) == 4)
        #expect(NoiseEstimate.quantisationStep(image([-5, 1, 7, 13, 1, -5, 7, 19])) == 6)
        #expect(NoiseEstimate.quantisationStep(image([0, 1, 2, 3, 4, 5, 6, 7])) == 1)
        var rng = SeededRandom(seed: 5)
        let twelveBit = (0..<4096).map { _ in Float(32768 + 16 * Int(rng.uniform(0, 4095))) }
        #expect(NoiseEstimate.quantisationStep(image(twelveBit, width: 64)) == 16)
        #expect(NoiseEstimate.quantisationStep(image([1, 2.5, 3, 4, 5, 6, 7, 8])) == 0)
        #expect(NoiseEstimate.quantisationStep(image([9, 9, 9, 9, 9, 9, 9, 9])) == 0)
        #expect(NoiseEstimate.quantisationStep(image([1e9, 0, 2, 4, 6, 8, 10, 12])) == 0)
        var offGrid = twelveBit
        offGrid[100] += 3
        #expect(NoiseEstimate.quantisationStep(image(offGrid, width: 64)) == 1)
        var valid = [Bool](repeating: true, count: 4096)
        valid[100] = false
        #expect(NoiseEstimate.quantisationStep(image(offGrid, width: 64), mask: Mask(width: 64, height: 64, isValid: valid)) == 16)
        // Sampled: on 2^20 pixels with maxSamples 2^16, a grid of 8 is still found.
        let big = (0..<(1 << 20)).map { _ in Float(8 * Int(rng.uniform(0, 1000))) }
        #expect(NoiseEstimate.quantisationStep(image(big, width: 1024)) == 8)
    }

    /// `whiteness` is 1 on white noise at any level, quantised to integers or not, with a
    /// background and sparse spots on top; it rises steeply once neighbouring pixels are
    /// correlated (the figures of its doc comment, within sampling error); nil without samples.
    @Test func whitenessSeparatesWhiteFromCorrelatedNoise() {
        var rng = SeededRandom(seed: 31)
        func noise(_ sigma: Double, smoothedBy c: Double = 0) -> Image {
            var image = Image(width: 384, height: 384)
            SpotRenderer.addGaussianNoise(&image, sigma: sigma, rng: &rng)
            return c > 0 ? GaussianFilter.apply(image, sigma: c) : image
        }
        for sigma in [0.8, 3.0, 40.0] {
            let rho = NoiseEstimate.whiteness(noise(sigma))!
            #expect(abs(rho - 1) < 0.02, "white sigma \(sigma): rho \(rho)")
            // Integer data (sigma 0.8 is coarsely quantised).
            var q = noise(sigma)
            for i in 0..<q.count { q.pixels[i] = (q.pixels[i] + 100).rounded() }
            let rq = NoiseEstimate.whiteness(q)!
            #expect(abs(rq - 1) < 0.03, "quantised sigma \(sigma): rho \(rq)")
        }
        var scene = noise(2)
        var spots: [Spot] = []
        for i in 0..<30 { spots.append(Spot(x: Double(20 + (i % 6) * 60), y: Double(25 + (i / 6) * 70), amplitude: 300, sigma: 1.5)) }
        SpotRenderer.add(spots, to: &scene)
        for i in 0..<scene.count { scene.pixels[i] += Float(0.05 * Double(i % 384)) }
        let withContent = NoiseEstimate.whiteness(scene)!
        #expect(withContent >= 0.98 && withContent < 1.06, "sparse spots and a slope: rho \(withContent)")
        for (c, low, high) in [(0.4, 1.08, 1.2), (0.5, 1.38, 1.6), (1.0, 4.0, 9.0)] {
            let rho = NoiseEstimate.whiteness(noise(5, smoothedBy: c))!
            #expect(rho > low && rho < high, "correlated over \(c) px: rho \(rho)")
        }
        #expect(NoiseEstimate.whiteness(Image(width: 40, height: 40, repeating: 2)) == nil)
        #expect(NoiseEstimate.whiteness(Image(width: 4, height: 400, repeating: 2)) == nil)
        #expect(NoiseEstimate.whiteness(noise(1), mask: Mask(width: 384, height: 384, allValid: false)) == nil)
    }

    @Test func flatAndTinyImages() {
        #expect(NoiseEstimate.sigma(Image(width: 10, height: 10, repeating: 3)) == 0)
        #expect(NoiseEstimate.sigma(Image(width: 2, height: 50, repeating: 3)) == 0)
        // Masked-out everywhere: no samples, no crash.
        #expect(NoiseEstimate.sigma(Image(width: 10, height: 10, repeating: 3), mask: Mask(width: 10, height: 10, allValid: false)) == 0)
    }

    @Test func selectionMatchesSorting() {
        var rng = SeededRandom(seed: 2)
        for n in [1, 2, 3, 10, 101, 1000] {
            let values = (0..<n).map { _ in Float(Int(rng.uniform(0, 20))) }
            let sorted = values.sorted()
            for k in Set([0, n / 2, n - 1, (n - 1) / 3]) {
                var copy = values
                #expect(Selection.select(&copy, k) == sorted[k])
            }
        }
    }
}
