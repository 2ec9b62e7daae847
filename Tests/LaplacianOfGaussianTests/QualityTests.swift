import Filters
import Foundation
import Harness
import LaplacianOfGaussian
import PeakKit
import Testing

/// The numbers of issue 3 on synthetic images with known truth (`QualityScene`): spots of sigma
/// 1 to 4 px at 5 to 20 local noise sigmas, a sloped background, a central beam 1000x the median
/// spot, Poisson noise. Each test prints what it measured.
@Suite struct LoGQuality {
    static func nearest(_ peaks: [Peak], _ s: Spot, within: Double = 2) -> Peak? {
        peaks.filter { abs($0.x - s.x) <= within && abs($0.y - s.y) <= within }
            .min { ($0.x - s.x) * ($0.x - s.x) + ($0.y - s.y) * ($0.y - s.y) < ($1.x - s.x) * ($1.x - s.x) + ($1.y - s.y) * ($1.y - s.y) }
    }

    /// Clean scene: every spot found, sigma within 10% (measured: 1.5%), position within 0.1 px
    /// (measured: 0.058 px), nothing else but the beam.
    @Test func cleanSpotsAreLocatedAndSized() throws {
        let scene = QualityScene.make(noisy: false)
        let d = try LoGDetector().detect(in: scene.clean)
        var worstPosition = 0.0, worstSigma = 0.0, worstSpot: Spot? = nil
        for s in scene.spots {
            guard let p = Self.nearest(d.peaks, s) else { Issue.record("missed clean spot \(s)"); continue }
            let error = ((p.x - s.x) * (p.x - s.x) + (p.y - s.y) * (p.y - s.y)).squareRoot()
            if error > worstPosition { worstPosition = error; worstSpot = s }
            worstSigma = max(worstSigma, abs((p["sigma"] ?? 0) / s.sigma - 1))
            #expect(abs((p["radius"] ?? 0) - 2.0.squareRoot() * (p["sigma"] ?? 0)) < 1e-12)
        }
        print("LoG clean scene: \(scene.spots.count) spots, \(d.peaks.count) peaks, worst position error \(worstPosition) px (\(worstSpot.map { "\($0)" } ?? "")), worst sigma error \(worstSigma * 100)%")
        #expect(worstPosition < 0.1)
        #expect(worstSigma < 0.1)
        #expect(d.peaks.count == scene.spots.count + 1, "expected the spots and the beam only")
        #expect(Self.nearest(d.peaks, scene.beam) != nil, "the beam is a blob too")
    }

    /// Clean single blobs across the scale range (sigma 1 to 11, subpixel positions).
    @Test func cleanBlobsAcrossScales() throws {
        var worstPosition = 0.0, worstSigma = 0.0
        for s in [1.0, 1.3, 1.7, 2.5, 3.6, 5.0, 7.0, 11.0] {
            for (fx, fy) in [(0.0, 0.0), (0.25, 0.4), (0.5, 0.1), (0.45, 0.45)] {
                var image = Image(width: 128, height: 128, repeating: 30)
                let spot = Spot(x: 63 + fx, y: 64 + fy, amplitude: 200, sigma: s)
                SpotRenderer.add([spot], to: &image)
                let d = try LoGDetector().detect(in: image)
                guard let p = Self.nearest(d.peaks, spot) else { Issue.record("missed \(spot)"); continue }
                worstPosition = max(worstPosition, ((p.x - spot.x) * (p.x - spot.x) + (p.y - spot.y) * (p.y - spot.y)).squareRoot())
                worstSigma = max(worstSigma, abs((p["sigma"] ?? 0) / s - 1))
                #expect(d.peaks.count == 1, "sigma \(s): \(d.peaks.count) peaks")
            }
        }
        print("LoG clean blobs sigma 1-11: worst position error \(worstPosition) px, worst sigma error \(worstSigma * 100)%")
        #expect(worstPosition < 0.1)
        #expect(worstSigma < 0.1)
    }

    /// Without the fit (`fit=none`) sigma is the scale-space interpolation. Blobs whose maximum
    /// lies on the first scale (sigma up to about 1.7 px from 1.41) are interpolated with the
    /// response one step finer (`LoGScaleSpace.responsePatch`); until session 14 they all
    /// reported 1.41 exactly (24% off at sigma 1.1). Clean pixel-integrated blobs, four subpixel
    /// offsets each, against the width of the pixel-integrated profile, sqrt(sigma^2 + 1/12)
    /// (the interpolation measures that, as the scale-space maximum of any blob): within 3%
    /// (measured: 1.1 px gives 1.113-1.168 for 1.137, 1.7 px 1.721-1.726 for 1.724; at most
    /// 2.7%), and never 1.41 exactly.
    @Test func firstScaleBlobsAreSizedWithoutTheFit() throws {
        var worst = 0.0
        for s in [1.1, 1.25, 1.4, 1.55, 1.7, 2.0] {
            let integrated = (s * s + 1.0 / 12).squareRoot()
            for (fx, fy) in [(0.0, 0.0), (0.25, 0.4), (0.5, 0.1), (0.45, 0.45)] {
                var image = Image(width: 64, height: 64, repeating: 30)
                let spot = Spot(x: 31 + fx, y: 32 + fy, amplitude: 200, sigma: s)
                SpotRenderer.add([spot], to: &image)
                let d = try LoGDetector().detect(in: image, ["fit": .string("none")])
                guard let p = Self.nearest(d.peaks, spot), let sigma = p["sigma"] else { Issue.record("missed \(spot)"); continue }
                worst = max(worst, abs(sigma / integrated - 1))
                #expect(abs(sigma / integrated - 1) < 0.03, "sigma \(s) at +(\(fx), \(fy)): \(sigma) for \(integrated)")
                #expect(sigma != 1.41)
            }
        }
        print("LoG fit=none, clean blobs of sigma 1.1-2.0: worst error against sqrt(sigma^2 + 1/12) \(worst * 100)%")
    }

    /// Noisy scenes (Poisson, slope, beam), defaults: every spot of >= 5 local noise sigmas and
    /// sigma >= 1.5 px is found, and of the sigma-1 spots at exactly 5 noise sigmas (the
    /// detection limit, see `faintSmallSpotsRecall`) at most one per scene is missed; the sigmas
    /// of the 10- and 20-sigma spots are within 10% where the Cramer-Rao bound allows it (3.5
    /// bounds below 10%, the rule of `accuracyNearTheCramerRaoBound`) and within 3.5 bounds
    /// elsewhere (sigma 1 px at 10 noise sigmas: bound 6.7%; until session 13 this asserted 10%
    /// for every such spot, which seed 2 then met and, with the scales from 1.41, misses by one
    /// spot at 12.1%, 1.8 bounds); at most 3 detections per scene are neither a spot nor the beam.
    @Test(arguments: [1, 2, 3] as [UInt64]) func noisySceneWithDefaults(seed: UInt64) throws {
        let scene = QualityScene.make(seed: seed)
        let d = try LoGDetector().detect(in: scene.image)
        var matched = Set<Int>()
        var missedFaintSmall = 0, sigmaErrors: [Double: [Double]] = [:]
        var beyondTheBound: [String] = []
        for (s, m) in zip(scene.spots, scene.snr) {
            guard let p = Self.nearest(d.peaks, s) else {
                if s.sigma < 1.5 && m < 7 { missedFaintSmall += 1 } else { Issue.record("seed \(seed): missed spot sigma \(s.sigma) at \(m) noise sigmas (\(s.x), \(s.y))") }
                continue
            }
            if let i = d.peaks.firstIndex(of: p) { matched.insert(i) }
            let error = abs((p["sigma"] ?? 0) / s.sigma - 1)
            sigmaErrors[m, default: []].append(error)
            if m >= 10 {
                let bound = Self.cramerRao(sigma: s.sigma, amplitude: m, halfWidth: Self.fitHalfWidth(sigma: s.sigma)).sigma
                if error >= max(0.1, 3.5 * bound) {
                    beyondTheBound.append("sigma \(s.sigma) at \(m) noise sigmas: error \(error), bound \(bound)")
                }
            }
        }
        if let b = Self.nearest(d.peaks, scene.beam), let i = d.peaks.firstIndex(of: b) { matched.insert(i) } else { Issue.record("beam not found") }
        let extra = d.peaks.count - matched.count
        var line = "LoG noisy scene seed \(seed): \(scene.spots.count) spots, \(d.peaks.count) peaks, \(extra) extra, missed sigma-1 5-sigma spots \(missedFaintSmall);"
        for (m, e) in sigmaErrors.sorted(by: { $0.key < $1.key }) {
            let sorted = e.sorted()
            line += " sigma error at \(Int(m)) noise sigmas: median \(String(format: "%.1f", 100 * sorted[sorted.count / 2]))% max \(String(format: "%.1f", 100 * (sorted.last ?? 0)))%;"
        }
        print(line)
        #expect(missedFaintSmall <= 1)
        #expect(extra <= 3)
        #expect(beyondTheBound.isEmpty, "seed \(seed): \(beyondTheBound)")
        #expect((sigmaErrors[20] ?? []).count + (sigmaErrors[10] ?? []).count > 40)
    }

    /// Faint spots (0.3-1% of the level) on broad humps: the low-contrast class, 256 px, seeds
    /// 1-6. The Gaussian fit confirms nearly every spot that the detection without the fit finds.
    /// A faint spot's scale-space sigma is often a scale step small; its first fit then asks for
    /// a wider window, over which the humps bend by about the spot's height. Refitted on a plane
    /// the fit ran off and the spot was dropped (21 of the 132 found, F1 0.83 on average); on a
    /// quadratic surface 6 are (F1 0.89). With `response_noise=auto` (the default since session
    /// 25: the noise there is white) 4 of 132 (F1 0.90), and one false blob over the six scenes.
    @Test func faintSpotsOnHumpsSurviveTheFit() throws {
        var kept = 0, foundWithoutFit = 0, falseBlobs = 0
        for seed in 1...6 as ClosedRange<UInt64> {
            let g = try SyntheticGenerator.generate(.lowContrast, size: 256, seed: seed)
            let truth = g.peaks.map { Point(x: $0.x, y: $0.y) }
            func match(_ parameters: [String: ParameterValue]) throws -> MatchResult {
                let d = try LoGDetector().detect(in: g.image, parameters)
                return Matching.match(detections: d.peaks.map { Point(x: $0.x, y: $0.y) }, truth: truth, tolerance: 3)
            }
            let fitted = try match([:]), unfitted = try match(["fit": .string("none")])
            print("low-contrast seed \(seed): \(truth.count) spots, found \(fitted.pairs.count) with the fit, \(unfitted.pairs.count) without; \(fitted.unmatchedDetections.count) false")
            kept += fitted.pairs.count
            foundWithoutFit += unfitted.pairs.count
            falseBlobs += fitted.unmatchedDetections.count
        }
        #expect(falseBlobs <= 1)
        #expect(kept >= foundWithoutFit - 8, "the fit keeps \(kept) of the \(foundWithoutFit) spots found without it")
    }

    /// Spots of sigma 1 at 5 noise sigmas (unit Gaussian noise), 384 of them, at random subpixel
    /// offsets. The detection statistic (the best response SNR over the spot's own and the next
    /// two scales, about 7-8 here against 6 at its own scale) passes the default threshold of 6
    /// for about 96% of them (measured 369 of 384 with the scales from 1.41, 355 from 1.0; 379 at the former default 5, which real images
    /// did not bear: docs/algorithms/log.md, "Where 6 comes from"; the own-scale test found 356
    /// at a 4.5 threshold). Spots of sigma 1.5 at 5 noise sigmas are all found.
    @Test func faintSmallSpotsRecall() throws {
        var found = 0, total = 0
        var foundLarger = 0
        for seed in 0..<6 {
            var rng = SeededRandom(seed: UInt64(100 + seed))
            for sigma in [1.0, 1.5] {
                var image = Image(width: 256, height: 256, repeating: 100)
                var spots: [Spot] = []
                for gy in Swift.stride(from: 16, to: 250, by: 32) {
                    for gx in Swift.stride(from: 16, to: 250, by: 32) {
                        spots.append(Spot(x: Double(gx) + rng.uniform(-0.5, 0.5), y: Double(gy) + rng.uniform(-0.5, 0.5), amplitude: 5, sigma: sigma))
                    }
                }
                SpotRenderer.add(spots, to: &image)
                SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
                let d = try LoGDetector().detect(in: image)
                for s in spots {
                    let hit = Self.nearest(d.peaks, s) != nil
                    if sigma == 1 { total += 1; if hit { found += 1 } } else if hit { foundLarger += 1 }
                }
            }
        }
        print("LoG spots at 5 noise sigmas: sigma 1: found \(found) of \(total); sigma 1.5: found \(foundLarger) of \(total)")
        #expect(Double(found) >= 0.95 * Double(total))
        #expect(foundLarger == total)
    }

    /// Starting the scales at 1.41 px instead of 1.0 costs a blob nothing in white noise when
    /// its sigma is >= 0.7 px: the response-to-noise ratio of a Gaussian blob of sigma b at scale
    /// s is proportional to s^3 b^2 / (s^2 + b^2)^2, largest at s = sqrt(3) b, so for b >= 0.68
    /// scale 1.41 already beats scale 1.0 and the detection statistic (the best ratio over the
    /// blob's scale and up to twice it) is no lower. Measured on spots of sigma 0.75-1.5 px
    /// (4 images of 36): at 10 noise sigmas every one is found both ways and the statistic from
    /// 1.41 is on average no lower than from 1.0 (on single noisy spots scale 1.0 sometimes gives
    /// the best ratio, or its maximum sits on a neighbouring pixel: none 15% lower); at 5.5 noise
    /// sigmas, near the threshold, where a loss would show, 1.41 finds at least as many.
    @Test func startingAt141LosesNoBlobOfSigmaAbove07() throws {
        let sigmas = [0.75, 0.9, 1.0, 1.2, 1.5]
        var ratios: [Double] = [], faint = (old: 0, now: 0, total: 0)
        for seed in 0..<4 {
            for amplitude in [10.0, 5.5] {
                var rng = SeededRandom(seed: UInt64(71 + seed))
                var image = Image(width: 256, height: 256, repeating: 100)
                var spots: [Spot] = []
                for (row, gy) in Swift.stride(from: 20, to: 240, by: 40).enumerated() {
                    for (col, gx) in Swift.stride(from: 20, to: 240, by: 40).enumerated() {
                        spots.append(Spot(x: Double(gx) + rng.uniform(-0.5, 0.5), y: Double(gy) + rng.uniform(-0.5, 0.5),
                                          amplitude: amplitude, sigma: sigmas[(row + col + seed) % sigmas.count]))
                    }
                }
                SpotRenderer.add(spots, to: &image)
                SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
                let now = try LoGDetector().detect(in: image)
                let old = try LoGDetector().detect(in: image, ["sigma": .real(1.0), "max_power": .integer(9)])
                for s in spots {
                    let o = Self.nearest(old.peaks, s), n = Self.nearest(now.peaks, s)
                    if amplitude < 10 {
                        faint.total += 1
                        if o != nil { faint.old += 1 }
                        if n != nil { faint.now += 1 }
                        continue
                    }
                    let a = try #require(o?.attributes["snr"], "spot of sigma \(s.sigma) not found from 1.0")
                    let b = try #require(n?.attributes["snr"], "spot of sigma \(s.sigma) at (\(s.x), \(s.y)) not found from 1.41")
                    ratios.append(b / a)
                }
            }
        }
        let mean = ratios.reduce(0, +) / Double(ratios.count)
        print("LoG scales from 1.41 against 1.0, spots of sigma 0.75-1.5: at 10 noise sigmas \(ratios.count) found both ways, statistic ratio mean \(mean), range \(ratios.min() ?? 0)-\(ratios.max() ?? 0); at 5.5 noise sigmas found \(faint.now) from 1.41, \(faint.old) from 1.0, of \(faint.total)")
        #expect(ratios.count == 144)
        #expect(mean >= 0.98)
        #expect(ratios.allSatisfy { $0 > 0.85 })
        #expect(faint.now >= faint.old)
    }

    /// Accuracy against the Cramer-Rao bound. For spots of sigma 1, 2 and 4 px at 5 and 20 noise
    /// sigmas (unit white noise, random subpixel centres), the scatter of the reported sigma and
    /// position is compared with the bound of the pixel-integrated Gaussian-on-a-plane model
    /// over the fit's window, computed here from finite differences of `SpotRenderer` (not from
    /// the fit's own derivatives). No unbiased estimator can beat the bound, and at 5 noise
    /// sigmas it is 13% in sigma for sigma = 1 px: "sigma within 10%" there is beyond the data.
    /// The test asserts RMS errors within 1.3x the bound, biases below 3%, and every sigma within
    /// 10% where 3.5 bounds are below 10%.
    @Test func accuracyNearTheCramerRaoBound() throws {
        var line = "LoG accuracy vs Cramer-Rao:"
        for s in [1.0, 2, 4] {
            for m in [5.0, 20] {
                var errors: [Double] = [], position2: [Double] = []
                var found = 0, total = 0
                for seed in 0..<4 {
                    var rng = SeededRandom(seed: UInt64(1000 + seed))
                    var image = Image(width: 320, height: 320, repeating: 100)
                    var spots: [Spot] = []
                    for gy in Swift.stride(from: 20, to: 300, by: 40) {
                        for gx in Swift.stride(from: 20, to: 300, by: 40) {
                            spots.append(Spot(x: Double(gx) + rng.uniform(-0.5, 0.5), y: Double(gy) + rng.uniform(-0.5, 0.5), amplitude: m, sigma: s))
                        }
                    }
                    SpotRenderer.add(spots, to: &image)
                    SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
                    let d = try LoGDetector().detect(in: image)
                    for sp in spots {
                        total += 1
                        guard let p = Self.nearest(d.peaks, sp) else { continue }
                        found += 1
                        errors.append((p["sigma"] ?? 0) / s - 1)
                        position2.append((p.x - sp.x) * (p.x - sp.x) + (p.y - sp.y) * (p.y - sp.y))
                    }
                }
                let bound = Self.cramerRao(sigma: s, amplitude: m, halfWidth: Self.fitHalfWidth(sigma: s))
                let rms = (errors.map { $0 * $0 }.reduce(0, +) / Double(errors.count)).squareRoot()
                let bias = errors.reduce(0, +) / Double(errors.count)
                let worst = errors.map { abs($0) }.max() ?? 0
                let positionRMS = (position2.reduce(0, +) / Double(position2.count)).squareRoot()
                line += String(format: " [s %.0f, %.0f sigmas: found %d/%d, sigma rms %.1f%% (bound %.1f%%) bias %+.1f%% max %.1f%%, position rms %.3f px (bound %.3f)]",
                               s, m, found, total, 100 * rms, 100 * bound.sigma, 100 * bias, 100 * worst, positionRMS, bound.position)
                #expect(Double(found) >= (s == 1 && m == 5 ? 0.92 : 1) * Double(total), "s \(s) m \(m): found \(found) of \(total)")
                #expect(rms <= 1.3 * bound.sigma, "s \(s) m \(m): sigma rms \(rms) against the bound \(bound.sigma)")
                #expect(abs(bias) < 0.03, "s \(s) m \(m): sigma bias \(bias)")
                #expect(positionRMS <= 1.3 * bound.position, "s \(s) m \(m): position rms \(positionRMS) against the bound \(bound.position)")
                if 3.5 * bound.sigma < 0.1 { #expect(worst < 0.1, "s \(s) m \(m): worst sigma error \(worst)") }
            }
        }
        print(line)
    }

    /// The half-width of the window over which the bound is computed for a spot of `sigma`
    /// (about the Gaussian fit's window: 3 sigma sqrt(1.41) + 2).
    static func fitHalfWidth(sigma: Double) -> Int { Int((3 * sigma * 1.41.squareRoot()).rounded(.up)) + 2 }

    /// The Cramer-Rao bound (unit white noise) for the relative sigma and the radial position of
    /// a pixel-integrated Gaussian of amplitude `amplitude` on a plane, over a square window:
    /// the inverse of the Fisher matrix J^T J, J by central differences of `SpotRenderer`'s model
    /// in (x, y, sigma, A, B, bx, by). Averaged over four subpixel centres.
    static func cramerRao(sigma: Double, amplitude: Double, halfWidth r: Int) -> (sigma: Double, position: Double) {
        var sigmaVariance = 0.0, positionVariance = 0.0
        let centres = [(0.0, 0.0), (0.25, 0.1), (0.5, 0.5), (0.1, 0.4)]
        for (fx, fy) in centres {
            let n = 2 * r + 1
            func model(_ q: [Double]) -> [Double] {
                var image = Image(width: n, height: n, repeating: 0)
                SpotRenderer.add([Spot(x: Double(r) + q[0], y: Double(r) + q[1], amplitude: q[3], sigma: q[2])], to: &image)
                var out = [Double](repeating: 0, count: n * n)
                for j in 0..<n { for i in 0..<n { out[j * n + i] = Double(image.pixels[j * n + i]) + q[4] + q[5] * Double(i - r) + q[6] * Double(j - r) } }
                return out
            }
            let p = [fx, fy, sigma, amplitude, 0, 0, 0]
            let steps = [1e-3, 1e-3, 1e-3 * sigma, 1e-3 * amplitude, 1e-2, 1e-3, 1e-3]
            var columns: [[Double]] = []
            for k in 0..<7 {
                var up = p, down = p
                up[k] += steps[k]; down[k] -= steps[k]
                let a = model(up), b = model(down)
                columns.append(zip(a, b).map { ($0 - $1) / (2 * steps[k]) })
            }
            var fisher = [Double](repeating: 0, count: 49)
            for a in 0..<7 { for b in 0..<7 { fisher[a * 7 + b] = zip(columns[a], columns[b]).map { $0 * $1 }.reduce(0, +) } }
            func inverseDiagonal(_ k: Int) -> Double {
                var e = [Double](repeating: 0, count: 7); e[k] = 1
                return LinearSystem.solve(fisher, e)?[k] ?? .infinity
            }
            sigmaVariance += inverseDiagonal(2) / (sigma * sigma)
            positionVariance += inverseDiagonal(0) + inverseDiagonal(1)
        }
        return ((sigmaVariance / Double(centres.count)).squareRoot(), (positionVariance / Double(centres.count)).squareRoot())
    }

    /// The threshold on pure white noise: blobs per megapixel by noise factor (the table in
    /// docs/algorithms/log.md), few at the default 5 and none from 6 up.
    @Test func noiseBlobRates() throws {
        var rng = SeededRandom(seed: 11)
        var image = Image(width: 1024, height: 1024, repeating: 100)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        var line = "LoG blobs in 1024^2 white noise by noise_factor:"
        var counts: [Double: Int] = [:]
        for t in [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0] {
            let local = try LoGDetector().detect(in: image, ["noise_factor": .real(t)]).peaks.count
            let global = try LoGDetector().detect(in: image, ["noise_factor": .real(t), "local_noise": .boolean(false)]).peaks.count
            counts[t] = local
            line += " \(t): \(local) (global \(global));"
        }
        print(line)
        #expect((counts[LoGDetector.defaultNoiseFactor] ?? 99) <= 8)
        #expect((counts[6] ?? 99) == 0)
    }

    /// Contrast and dynamic range: multiplying the image by 1000 and adding 5e4 finds the same
    /// blobs at the same places (the threshold follows the noise of the response).
    @Test func invariantToGainAndOffset() throws {
        let scene = QualityScene.make(size: 256, seed: 4)
        var scaled = scene.image
        scaled.pixels = scaled.pixels.map { $0 * 1000 + 5e4 }
        let a = try LoGDetector().detect(in: scene.image)
        let b = try LoGDetector().detect(in: scaled)
        #expect(a.peaks.count == b.peaks.count)
        for (p, q) in zip(a.peaks, b.peaks) {
            #expect(abs(p.x - q.x) < 1e-3 && abs(p.y - q.y) < 1e-3 && abs((p["sigma"] ?? 0) - (q["sigma"] ?? 0)) < 1e-3)
            #expect(abs((p["snr"] ?? 0) - (q["snr"] ?? 0)) < 1e-3 * (p["snr"] ?? 1))
        }
    }

    /// A sloped background with noise gives no blobs along the edges (the plane is removed
    /// before the reflective border extension).
    @Test func slopedNoiseGivesNoEdgeBlobs() throws {
        var rng = SeededRandom(seed: 5)
        var image = Image(width: 512, height: 512) { x, y in Float(100 + 0.5 * Double(x) + 0.3 * Double(y)) }
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let d = try LoGDetector().detect(in: image)
        #expect(d.peaks.count <= 4, "\(d.peaks.count) blobs on a noisy slope")
        #expect(d.peaks.allSatisfy { ($0["sigma"] ?? 0) < 3 }, "large blobs on a noisy slope: an edge artefact")
    }

    /// Bright and dark blobs, with the rings the LoG draws around each (13.5% of the blob's
    /// response, of the other sign) rejected by the edge test.
    @Test func polarity() throws {
        var image = Image(width: 96, height: 64, repeating: 100)
        var rng = SeededRandom(seed: 21)
        SpotRenderer.addGaussianNoise(&image, sigma: 0.5, rng: &rng)
        SpotRenderer.add([Spot(x: 20.3, y: 30.6, amplitude: 50, sigma: 2)], to: &image)
        SpotRenderer.add([Spot(x: 70.2, y: 25.1, amplitude: -40, sigma: 3)], to: &image)
        let bright = try LoGDetector().detect(in: image)
        let dark = try LoGDetector().detect(in: image, ["polarity": .string("dark")])
        let both = try LoGDetector().detect(in: image, ["polarity": .string("both")])
        #expect(bright.peaks.count == 1 && abs(bright.peaks[0].x - 20.3) < 0.1 && bright.peaks[0]["polarity"] == 1)
        #expect(dark.peaks.count == 1 && abs(dark.peaks[0].x - 70.2) < 0.1 && abs((dark.peaks[0]["sigma"] ?? 0) - 3) < 0.3 && dark.peaks[0]["polarity"] == -1)
        #expect(both.peaks.count == 2 && Set(both.peaks.compactMap { $0["polarity"] }) == [1, -1])
        #expect(both.peaks.allSatisfy { $0.strength > 0 })
    }

    /// `polarity=both` on the bundled sample: the 159 spots and the beam, and not the maxima the
    /// LoG leaves on the dark rings around them (310 before `BlobPruning.ringArtefacts`).
    @Test func bothPolaritiesOnTheSampleReportNoRings() throws {
        let sample = SampleImages.lattice()
        let d = try LoGDetector().detect(in: sample.image, ["polarity": .string("both")])
        let bright = d.peaks.filter { $0["polarity"] == 1 }, dark = d.peaks.filter { $0["polarity"] == -1 }
        #expect(bright.count == sample.spots.count + 1)
        #expect(dark.count <= 5, "\(dark.count) dark blobs")
        let brightOnly = try LoGDetector().detect(in: sample.image)
        #expect(brightOnly.peaks.map(\.x) == bright.map(\.x))
    }

    /// Masks: a blob next to a masked bright region is found where it is without the region; a
    /// blob whose centre lobe reaches invalid pixels is not reported; nothing appears along the
    /// mask's edge.
    @Test func masks() throws {
        var base = Image(width: 120, height: 90, repeating: 50)
        var rng = SeededRandom(seed: 8)
        SpotRenderer.addGaussianNoise(&base, sigma: 0.5, rng: &rng)
        let near = Spot(x: 70.4, y: 45.3, amplitude: 60, sigma: 2)
        let cut = Spot(x: 30.2, y: 20.2, amplitude: 60, sigma: 2)
        SpotRenderer.add([near, cut], to: &base)
        let reference = try LoGDetector().detect(in: base)
        var image = base
        var mask = Mask(width: 120, height: 90)
        for y in 30...60 { for x in 40...60 { image[x, y] = 60000; mask[x, y] = false } }  // a beam stop, 9 px from `near`
        for y in 0..<90 { for x in 0...30 { mask[x, y] = false } }  // cuts `cut` through its centre
        let d = try LoGDetector().detect(in: image, mask: mask)
        guard let r = Self.nearest(reference.peaks, near), let p = Self.nearest(d.peaks, near) else {
            Issue.record("blob next to the mask not found"); return
        }
        #expect(abs(p.x - r.x) < 0.05 && abs(p.y - r.y) < 0.05 && abs((p["sigma"] ?? 0) - (r["sigma"] ?? 0)) < 0.05)
        #expect(Self.nearest(d.peaks, cut, within: 4) == nil, "a blob cut by the mask was reported")
        #expect(d.peaks.count == 1, "\(d.peaks.map { ($0.x, $0.y, $0["sigma"] ?? 0) })")
    }
}


/// The automatic threshold on content that is not white Gaussian noise on a flat background
/// (issue 12): a lattice is not noise, and counting data is decided in Anscombe units.
@Suite struct LoGNoiseRules {
    static func numbers(_ d: Detection, _ name: String) -> [Double] {
        guard case .string(let s)? = d.diagnostic(name) else { return [] }
        return s.split(separator: " ").compactMap { Double(String($0)) }
    }

    /// A square lattice of columns (period 10 px, amplitude 200, sigma 1.8 px) in unit white
    /// noise: the columns fill the field, so the plain MAD of the response at their scales is
    /// the lattice's, 28-190x the noise (`lattice=none`). Along the lattice vector the second
    /// difference cancels the lattice: the response noise is then about that of the noise alone
    /// (measured 11-33% above it: the 32 px tiles of the local noise ratio see some of the
    /// lattice), the vector is one of the grid's, and every column is found with nothing else.
    /// (The real-image consequence, more columns found on ABF/ADF/MoS2: LoGRealCorpusTests.)
    @Test func theResponseNoiseIsMeasuredAlongTheLattice() throws {
        let n = 200, period = 10.0
        var rng = SeededRandom(seed: 31)
        var columns: [Spot] = []
        for j in 0..<20 {
            for i in 0..<20 {
                columns.append(Spot(x: 5 + period * Double(i), y: 5 + period * Double(j), amplitude: 200, sigma: 1.8))
            }
        }
        var noise = Image(width: n, height: n, repeating: 50)
        SpotRenderer.addGaussianNoise(&noise, sigma: 1, rng: &rng)
        var image = noise
        SpotRenderer.add(columns, to: &image)

        let auto = try LoGDetector().detect(in: image)
        let none = try LoGDetector().detect(in: image, ["lattice": .string("none")])
        let reference = try LoGDetector().detect(in: noise, ["lattice": .string("none")])
        guard case .string(let vector)? = auto.diagnostic("lattice") else { Issue.record("no lattice diagnostic"); return }
        let parts = vector.split(separator: ",").compactMap { Int(String($0)) }
        #expect(parts.count == 2 && parts.allSatisfy { $0 % 10 == 0 } && parts != [0, 0], "lattice \(vector) is not a vector of the 10 px grid")

        let scales = Self.numbers(auto, "scales"), along = Self.numbers(auto, "response_noise")
        let plain = Self.numbers(none, "response_noise"), alone = Self.numbers(reference, "response_noise")
        var line = "LoG lattice: vector \(vector);"
        for (i, s) in scales.enumerated() where s >= 1.4 && s <= 2.9 {
            line += " scale \(s): noise \(along[i]) (plain MAD \(plain[i]), noise alone \(alone[i]));"
            #expect(abs(along[i] / alone[i] - 1) < 0.4)
            #expect(plain[i] > 10 * alone[i], "the lattice should inflate the plain MAD")
        }
        let found = columns.filter { LoGQuality.nearest(auto.peaks, $0, within: 1) != nil }.count
        line += " columns found \(found) of \(columns.count), \(auto.peaks.count) blobs"
        print(line)
        #expect(found == columns.count)
        #expect(auto.peaks.count <= columns.count + 3)
    }

    /// On pure white noise a lattice vector (given) must not lower the response noise at any
    /// scale: where the response is correlated over the vector (scales near and above |L|) the
    /// second difference would cancel much of the noise too, so the lattice estimate is only
    /// used where its exact variance factor allows (`secondDifferenceVariance`). Measured: within
    /// 1-2% of `lattice=none` at every scale for 10,0 and 0,8, 3-11% below at sigma 4-8 px for
    /// 7,7 (a 200^2 image holds only ~600 independent samples of a sigma-8 response, so each MAD
    /// errs by ~5%, and the smaller of two such estimates is taken); with the uncorrelated factor
    /// 1.5 at every scale it fell to 0.29-0.52 of it at sigma 11-16 px for |L| = 10.
    @Test(arguments: ["10,0", "0,8", "7,7"]) func aLatticeVectorDoesNotLowerTheNoiseOfNoise(_ vector: String) throws {
        var rng = SeededRandom(seed: 61)
        var image = Image(width: 200, height: 200, repeating: 100)
        SpotRenderer.addGaussianNoise(&image, sigma: 1, rng: &rng)
        let given = try LoGDetector().detect(in: image, ["lattice": .string(vector)])
        let none = try LoGDetector().detect(in: image, ["lattice": .string("none")])
        let a = Self.numbers(given, "response_noise"), b = Self.numbers(none, "response_noise")
        #expect(a.count == b.count && !a.isEmpty)
        for (x, y) in zip(a, b) { #expect(abs(x / y - 1) < 0.15, "lattice \(vector): \(a) against \(b)") }
        #expect(given.peaks.count <= 1)
    }

    /// Counting data (Poisson counts on a background rising from 2 to 200 counts per pixel across
    /// the image) with spots of amplitude 6 sqrt(background) and sigma 1.5 px. The Poisson model
    /// is chosen and reported; in Anscombe units every spot stands about as far above its noise,
    /// and every spot is found with at most 2 other blobs. The fit still measures in counts, not
    /// in Anscombe units: the fitted amplitudes are the true ones (median error under 10%, worst
    /// under 35%; the Cramer-Rao bound at this SNR is about 10%). On this smooth gradient the
    /// gaussian model with the local noise ratio does as well (printed); the real counting image
    /// where it does not (a halo, sparse counts) is LoGRealCorpusTests.countingDataUsesThePoissonModel.
    @Test func countingDataIsDecidedInAnscombeUnits() throws {
        let w = 320, h = 160
        var rng = SeededRandom(seed: 41)
        func level(_ x: Double) -> Double { 2 + 198 * x / Double(w - 1) }
        var spots: [Spot] = []
        for j in 0..<3 {
            for i in 0..<12 {
                let x = 14 + 26 * Double(i) + rng.uniform(-0.5, 0.5), y = 30 + 50 * Double(j) + rng.uniform(-0.5, 0.5)
                spots.append(Spot(x: x, y: y, amplitude: 6 * level(x).squareRoot(), sigma: 1.5))
            }
        }
        var mean = Image(width: w, height: h) { x, _ in Float(level(Double(x))) }
        SpotRenderer.add(spots, to: &mean)
        var image = mean
        for i in 0..<image.count { image.pixels[i] = Float(rng.poisson(Double(mean.pixels[i]))) }

        let d = try LoGDetector().detect(in: image)
        let gaussian = try LoGDetector().detect(in: image, ["noise": .string("gaussian")])
        #expect(d.diagnostic("noise_model") == .string("poisson"))
        #expect(gaussian.diagnostic("noise_model") == .string("gaussian"))
        var missed = 0, amplitudeErrors: [Double] = []
        for s in spots {
            guard let p = LoGQuality.nearest(d.peaks, s) else { missed += 1; continue }
            amplitudeErrors.append(abs((p["amplitude"] ?? 0) / s.amplitude - 1))
        }
        amplitudeErrors.sort()
        let medianAmplitude = amplitudeErrors.isEmpty ? 1 : amplitudeErrors[amplitudeErrors.count / 2]
        let worstAmplitude = amplitudeErrors.last ?? 1
        let extra = d.peaks.count - (spots.count - missed)
        let extraGaussian = gaussian.peaks.count - spots.filter { LoGQuality.nearest(gaussian.peaks, $0) != nil }.count
        print("LoG counting data: \(spots.count) spots, missed \(missed), other blobs \(extra) (noise=gaussian: \(extraGaussian)), amplitude error median \(medianAmplitude * 100)%, worst \(worstAmplitude * 100)%")
        #expect(missed == 0)
        #expect(extra <= 2)
        #expect(medianAmplitude < 0.1)
        #expect(worstAmplitude < 0.35)
    }

    /// A stack's lattice and noise model are resolved once from sample frames: a lattice found in
    /// every sample is kept as its vector, counting frames (Poisson counts on a gradient) give
    /// poisson, and frames of white Gaussian noise on an offset give neither.
    @Test func aStackIsResolvedOnceFromItsSamples() throws {
        var rng = SeededRandom(seed: 51)
        func latticeFrame() -> Image {
            var image = Image(width: 120, height: 120, repeating: 100)
            var columns: [Spot] = []
            for j in 0..<10 { for i in 0..<10 { columns.append(Spot(x: 6 + 12 * Double(i), y: 6 + 12 * Double(j), amplitude: 80, sigma: 2)) } }
            SpotRenderer.add(columns, to: &image)
            SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
            return image
        }
        func countingFrame() -> Image {
            var image = Image(width: 120, height: 120) { x, _ in Float(5 + x) }
            SpotRenderer.applyPoissonNoise(&image, rng: &rng)
            return image
        }
        func noiseFrame() -> Image {
            var image = Image(width: 120, height: 120, repeating: 100)
            SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
            return image
        }
        let log = LoGDetector()
        let defaults = try log.resolveParameters([:])
        let periodic = try log.resolveParameters(forStack: defaults, samples: (0..<4).map { _ in latticeFrame() }, mask: nil)
        let counting = try log.resolveParameters(forStack: defaults, samples: (0..<4).map { _ in countingFrame() }, mask: nil)
        let plain = try log.resolveParameters(forStack: defaults, samples: (0..<4).map { _ in noiseFrame() }, mask: nil)
        guard case .string(let vector)? = periodic["lattice"] else { Issue.record("no lattice"); return }
        print("LoG stack: lattice \(vector)")
        let parts = vector.split(separator: ",").compactMap { Int(String($0)) }
        #expect(parts.count == 2 && parts.allSatisfy { $0 % 12 == 0 } && parts != [0, 0], "lattice \(vector) \(periodic)")
        #expect(periodic["noise"] == .string("gaussian"))
        #expect(counting["noise"] == .string("poisson"))
        #expect(counting["lattice"] == .string("none"))
        #expect(plain["lattice"] == .string("none"))
        #expect(plain["noise"] == .string("gaussian"))
    }
}
