import Filters
import Foundation
import Harness
@testable import LaplacianOfGaussian
import PeakKit
import Testing

/// The pieces of the detector against independent references: direct convolution, brute-force
/// maxima, exact quadratics, the lens-area formula and grid integration, a quadratic-time greedy.
@Suite struct LoGInternals {
    static func randomImage(_ w: Int, _ h: Int, seed: UInt64) -> Image {
        var rng = SeededRandom(seed: seed)
        return Image(width: w, height: h) { x, y in Float(50 + 0.3 * Double(x) - 0.2 * Double(y) + 10 * rng.uniform(-1, 1)) }
    }

    @Test func fftResponsesEqualDirectConvolution() throws {
        let image = Self.randomImage(61, 47, seed: 1)
        let sigmas = [1.0, 1.41, 2.3, 4.0]
        let plane = BackgroundPlane.fit(image, mask: Mask(width: 61, height: 47))
        let space = try LoGScaleSpace(image: image, sigmas: sigmas, truncate: 4, plane: plane)
        var residual = image
        for y in 0..<47 { for x in 0..<61 { residual[x, y] = Float(Double(image[x, y]) - plane.value(x, y)) } }
        for (i, s) in sigmas.enumerated() {
            let response = try space.response(scale: i)
            let direct = LaplacianOfGaussian.apply(residual, sigma: s, scaleNormalized: true, border: .reflect)
            var worst = 0.0
            for y in 0..<47 { for x in 0..<61 {
                worst = max(worst, abs(Double(response[(y + space.pad) * space.stride + x + space.pad]) + Double(direct[x, y])))
            } }
            #expect(worst < 1e-3, "scale \(s): FFT and direct responses differ by \(worst)")
        }
    }

    /// The border gains against the measured standard deviation of the response of white noise
    /// (400 images) at the edge, one pixel in, and in the interior.
    @Test func borderGainsMatchMeasuredNoise() throws {
        var rng = SeededRandom(seed: 12)
        let w = 48, h = 40, sigma = 2.0
        var sums = [Double](repeating: 0, count: w * h)
        var gains: (x: [Float], y: [Float]) = ([], [])
        let trials = 400
        for _ in 0..<trials {
            let image = Image(width: w, height: h) { _, _ in Float(rng.normal()) }
            let space = try LoGScaleSpace(image: image, sigmas: [sigma], truncate: 4, plane: .zero)
            gains = space.borderGains(scale: 0)
            let r = try space.response(scale: 0)
            for y in 0..<h { for x in 0..<w { let v = Double(r[(y + space.pad) * space.stride + x + space.pad]); sums[y * w + x] += v * v } }
        }
        func sd(_ x: Int, _ y: Int) -> Double { (sums[y * w + x] / Double(trials)).squareRoot() }
        // The interior level: the mean variance over every pixel further than the kernel radius
        // (8) from the edges.
        var interiorVariance = 0.0, count = 0
        for y in 9..<(h - 9) { for x in 9..<(w - 9) { interiorVariance += sums[y * w + x] / Double(trials); count += 1 } }
        let interior = (interiorVariance / Double(count)).squareRoot()
        // Along one edge the gain is exact (sampling error of 400 trials: ~5%); in a corner the
        // product of the two is an approximation.
        for (x, y, tolerance) in [(0, 20, 0.1), (1, 20, 0.1), (3, 20, 0.1), (24, 0, 0.1), (24, 2, 0.1), (0, 0, 0.25)] {
            let predicted = Double(gains.x[x] * gains.y[y])
            let measured = sd(x, y) / interior
            print("border gain at (\(x), \(y)): measured \(measured), predicted \(predicted)")
            #expect(abs(measured / predicted - 1) < tolerance, "(\(x), \(y)): measured \(measured), predicted \(predicted)")
        }
        #expect(gains.x[0] > 1.2 && gains.x[24] == 1)
    }

    @Test func planeFitIgnoresSpotsAndRecoversTheSlope() {
        var image = Image(width: 80, height: 60) { x, y in Float(20 + 0.5 * Double(x) - 0.25 * Double(y)) }
        SpotRenderer.add([Spot(x: 40, y: 30, amplitude: 5000, sigma: 3), Spot(x: 10, y: 50, amplitude: 800, sigma: 2)], to: &image)
        let p = BackgroundPlane.fit(image, mask: Mask(width: 80, height: 60))
        #expect(abs(p.a - 20) < 0.02 && abs(p.b - 0.5) < 1e-3 && abs(p.c + 0.25) < 1e-3, "\(p)")
    }

    @Test func constantsAndRampsGiveNoBlobs() throws {
        for image in [Image(width: 70, height: 50, repeating: 1234.5),
                      Image(width: 70, height: 50) { x, y in Float(100 + 3 * Double(x) + 7 * Double(y)) },
                      Image(width: 300, height: 200) { x, y in Float(1e4 - 20 * Double(x) + 0.1 * Double(y)) }] {
            let d = try LoGDetector().detect(in: image, ["polarity": .string("both")])
            #expect(d.peaks.isEmpty, "\(d.peaks.prefix(3))")
        }
    }

    /// Brute-force 3x3x3 maxima with the documented tie rule on quantised random data (many ties).
    @Test func maximaMatchBruteForce() {
        var rng = SeededRandom(seed: 9)
        let w = 23, h = 17, pad = 2, stride = w + 2 * pad, ph = h + 2 * pad
        let frame = ResponseFrame(width: w, height: h, pad: pad, stride: stride)
        for trial in 0..<20 {
            let scales = 1 + trial % 4
            let cube = (0..<scales).map { _ in (0..<(stride * ph)).map { _ in Float(Int(rng.uniform(0, 6))) } }
            var valid = [Bool](repeating: true, count: w * h)
            for i in 0..<valid.count where rng.uniform(0, 1) < 0.1 { valid[i] = false }
            let threshold: Float = 1
            for sign: Float in [1, -1] {
                for s in 0..<scales {
                    let fast = ScaleSpaceExtrema.maxima(
                        prev: s > 0 ? cube[s - 1] : nil, cur: cube[s], next: s + 1 < scales ? cube[s + 1] : nil,
                        sign: sign, threshold: sign > 0 ? threshold : -5, frame: frame, valid: valid,
                        noise: .uniform(width: w, height: h),
                        gains: ([Float](repeating: 1, count: w), [Float](repeating: 1, count: h)))
                    var slow: [GridMaximum] = []
                    for y in 0..<h { for x in 0..<w where valid[y * w + x] {
                        let v = sign * cube[s][frame.index(x, y)]
                        guard v > (sign > 0 ? threshold : -5) else { continue }
                        var isMax = true
                        for ds in -1...1 { for dy in -1...1 { for dx in -1...1 where ds != 0 || dy != 0 || dx != 0 {
                            let ss = s + ds, xx = x + dx, yy = y + dy
                            guard ss >= 0, ss < scales, xx >= 0, xx < w, yy >= 0, yy < h else { continue }
                            let u = sign * cube[ss][frame.index(xx, yy)]
                            let before = (ds, dy, dx) < (0, 0, 0)
                            if before ? !(v > u) : !(v >= u) { isMax = false }
                        } } }
                        if isMax { slow.append(GridMaximum(x: Int32(x), y: Int32(y), value: v)) }
                    } }
                    #expect(fast == slow, "trial \(trial) scale \(s) sign \(sign)")
                }
            }
        }
    }

    /// Separable peaks: exp(-(a (x - x0)^2 + b (y - y0)^2 + c (s - s0)^2)) (all values positive:
    /// the log fit) and a quadratic that crosses zero (the plain fit), with an xy term; the
    /// refinement recovers the vertex exactly (space and scale are fitted separately, which is
    /// exact when the space-scale mixed terms vanish, as they do at a round blob's centre).
    @Test(arguments: [true, false]) func refinementIsExact(logarithmic: Bool) {
        let w = 9, h = 9, pad = 1, stride = w + 2 * pad, ph = h + 2 * pad
        let frame = ResponseFrame(width: w, height: h, pad: pad, stride: stride)
        let (x0, y0, s0) = (4.3, 3.8, 0.2)
        func q(_ x: Double, _ y: Double, _ s: Double) -> Double {
            let u = x - x0, v = y - y0, t = s - s0
            return 2 * u * u + 3 * v * v + 1.5 * t * t + 0.8 * u * v
        }
        func f(_ x: Double, _ y: Double, _ s: Double) -> Float {
            logarithmic ? Float(100 * exp(-0.1 * q(x, y, s))) : Float(1 - q(x, y, s))
        }
        let cube = (-1...1).map { s in (0..<(stride * ph)).map { i in f(Double(i % stride - pad), Double(i / stride - pad), Double(s)) } }
        let m = GridMaximum(x: 4, y: 4, value: cube[1][frame.index(4, 4)])
        let r = ScaleSpaceExtrema.refine(m, prev: cube[0], cur: cube[1], next: cube[2], sign: 1, frame: frame)
        #expect(abs(4 + r.dx - x0) < 1e-4 && abs(4 + r.dy - y0) < 1e-4 && abs(r.ds - s0) < 1e-4, "\(r)")
        #expect(abs(r.value - (logarithmic ? 100 : 1)) < 1e-3)
        #expect(r.edgeness < 10)
        // At the first scale the scale axis is left alone and (x, y) still fit.
        let r2 = ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: cube[2], sign: 1, frame: frame)
        #expect(r2.ds == 0 && abs(4 + r2.dx - x0) < 1e-4 && abs(4 + r2.dy - y0) < 1e-4)
        // With the finer scale's 3x3 patch the scale offset is exact again, while the position
        // and the value stay those without it (the statistic's noise belongs to the first scale).
        let patch = (0..<9).map { k in cube[0][frame.index(4 + k % 3 - 1, 4 + k / 3 - 1)] }
        let r3 = ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: cube[2], sign: 1, frame: frame, finer: patch)
        #expect(abs(r3.ds - s0) < 1e-4, "\(r3)")
        #expect(r3.dx == r2.dx && r3.dy == r2.dy && r3.value == r2.value)
        // A non-positive value at the next scale: the first-scale choice of model (from that
        // scale alone) and so dx, dy and the value are as without the patch; in the log model
        // the patch is then left out of the scale parabola (it needs all three scales positive),
        // in the plain one it still serves.
        var next = cube[2]
        next[frame.index(5, 3)] = -1
        let r4 = ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: next, sign: 1, frame: frame, finer: patch)
        let r5 = ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: next, sign: 1, frame: frame)
        #expect(r4.dx == r5.dx && r4.dy == r5.dy && r4.value == r5.value && r4.value.isFinite && r4.ds.isFinite)
        #expect(!logarithmic || r4.ds == 0)
        // Without a next scale there is no parabola; a patch of the wrong size is ignored.
        #expect(ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: nil, sign: 1, frame: frame, finer: patch).ds == 0)
        #expect(ScaleSpaceExtrema.refine(m, prev: nil, cur: cube[1], next: cube[2], sign: 1, frame: frame, finer: [1, 2]).ds == 0)
    }

    /// The finer scale's patch (`responsePatch`) against the direct convolution of the
    /// plane-subtracted image with reflection, at a scale one step below the first, in the
    /// interior, at the edges and in the corners (neighbours outside the image are 0).
    @Test func responsePatchEqualsDirectConvolution() throws {
        let image = Self.randomImage(40, 33, seed: 5)
        let sigmas = [1.41, 1.99, 2.8]
        let plane = BackgroundPlane.fit(image, mask: Mask(width: 40, height: 33))
        let space = try LoGScaleSpace(image: image, sigmas: sigmas, truncate: 4, plane: plane)
        var residual = image
        for y in 0..<33 { for x in 0..<40 { residual[x, y] = Float(Double(image[x, y]) - plane.value(x, y)) } }
        for s in [1.0, 1.41] {
            let direct = LaplacianOfGaussian.apply(residual, sigma: s, scaleNormalized: true, border: .reflect)
            for (x, y) in [(20, 15), (0, 10), (39, 32), (0, 0), (7, 32)] {
                let patch = space.responsePatch(space.kernel(sigma: s), x: x, y: y)
                for k in 0..<9 {
                    let px = x + k % 3 - 1, py = y + k / 3 - 1
                    let expected = (px < 0 || py < 0 || px >= 40 || py >= 33) ? 0 : -Double(direct[px, py])
                    #expect(abs(Double(patch[k]) - expected) < 1e-3, "sigma \(s) at (\(px), \(py)): \(patch[k]) vs \(expected)")
                }
            }
        }
        // At the first scale itself it is the FFT response.
        let first = try space.response(scale: 0)
        let patch = space.responsePatch(space.kernel(sigma: 1.41), x: 12, y: 9)
        for k in 0..<9 {
            let v = first[(9 + k / 3 - 1 + space.pad) * space.stride + 12 + k % 3 - 1 + space.pad]
            #expect(abs(patch[k] - v) < 1e-3)
        }
    }

    /// A ridge (a ring segment) fails the edge test; a round peak passes.
    @Test func edgeTest() {
        let w = 9, h = 9, pad = 1, stride = w + 2 * pad, ph = h + 2 * pad
        let frame = ResponseFrame(width: w, height: h, pad: pad, stride: stride)
        let ridge = (0..<(stride * ph)).map { i -> Float in
            let x = Double(i % stride - pad), y = Double(i / stride - pad)
            return Float(10 - 2 * (y - 4) * (y - 4) - 0.05 * (x - 4) * (x - 4))
        }
        let m = GridMaximum(x: 4, y: 4, value: ridge[frame.index(4, 4)])
        let r = ScaleSpaceExtrema.refine(m, prev: nil, cur: ridge, next: nil, sign: 1, frame: frame)
        #expect(r.edgeness > 12.1)
    }

    @Test func overlapFractionAgainstGeometry() {
        #expect(BlobPruning.overlapFraction(d: 0, r1: 2, r2: 2) == 1)
        #expect(BlobPruning.overlapFraction(d: 1, r1: 5, r2: 2) == 1)
        #expect(BlobPruning.overlapFraction(d: 4, r1: 2, r2: 2) == 0)
        // Two equal discs at distance d: lens area 2 r^2 acos(d / 2r) - (d / 2) sqrt(4 r^2 - d^2).
        let r = 3.0, d = 2.5
        let lens = 2 * r * r * acos(d / (2 * r)) - d / 2 * (4 * r * r - d * d).squareRoot()
        #expect(abs(BlobPruning.overlapFraction(d: d, r1: r, r2: r) - lens / (Double.pi * r * r)) < 1e-12)
        // Unequal discs: midpoint-rule integration on a fine grid.
        for (dd, r1, r2) in [(3.0, 4.0, 2.0), (5.5, 4.0, 2.5), (1.2, 1.0, 0.7)] {
            let n = 1200
            let lo = -r1, hi = max(r1, dd + r2), step = (hi - lo) / Double(n)
            var inside = 0.0
            for i in 0..<n { for j in 0..<n {
                let x = lo + (Double(i) + 0.5) * step, y = -r1 + (Double(j) + 0.5) * (2 * r1 / Double(n))
                if x * x + y * y <= r1 * r1 && (x - dd) * (x - dd) + y * y <= r2 * r2 { inside += step * (2 * r1 / Double(n)) }
            } }
            let expected = inside / (Double.pi * min(r1, r2) * min(r1, r2))
            #expect(abs(BlobPruning.overlapFraction(d: dd, r1: r1, r2: r2) - expected) < 5e-3, "\(dd) \(r1) \(r2)")
        }
    }

    @Test func pruningMatchesQuadraticGreedy() {
        var rng = SeededRandom(seed: 4)
        for _ in 0..<10 {
            let blobs = (0..<150).map { i in
                Blob(x: rng.uniform(0, 100), y: rng.uniform(0, 100), sigma: rng.uniform(0.8, 8),
                     response: Double(Int(rng.uniform(0, 40))), snr: 1, polarity: 1, scaleIndex: i % 9, gridX: 0, gridY: 0)
            }
            for overlap in [0.0, 0.3, 0.5, 0.9] {
                let fast = BlobPruning.prune(blobs, overlap: overlap)
                let order = blobs.indices.sorted { i, j in
                    let a = blobs[i], b = blobs[j]
                    return (-a.response, a.y, a.x, a.sigma, i) < (-b.response, b.y, b.x, b.sigma, j)
                }
                var slow: [Blob] = []
                for i in order {
                    let b = blobs[i]
                    let clash = slow.contains { o in
                        let d = ((b.x - o.x) * (b.x - o.x) + (b.y - o.y) * (b.y - o.y)).squareRoot()
                        return BlobPruning.overlapFraction(d: d, r1: 2.0.squareRoot() * b.sigma, r2: 2.0.squareRoot() * o.sigma) > overlap
                    }
                    if !clash { slow.append(b) }
                }
                #expect(fast == slow, "overlap \(overlap)")
            }
        }
    }

    /// Ring artefacts against a brute-force statement of the rule on random blobs, and the two
    /// cases the rule separates: a weak blob of the other polarity on a blob's ring at a similar
    /// scale is a ring; a finer blob (scale below half the other's) at the same place is not
    /// (a faint spot on the flank of a broad hollow, session 25).
    @Test func ringArtefactsFollowTheRule() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<10 {
            let blobs = (0..<120).map { i in
                Blob(x: rng.uniform(0, 100), y: rng.uniform(0, 100), sigma: rng.uniform(0.8, 16),
                     response: rng.uniform(1, 100), snr: 1, polarity: rng.uniform() < 0.5 ? 1 : -1, scaleIndex: i % 9, gridX: 0, gridY: 0)
            }
            var want = Set<Int>()
            for (i, b) in blobs.enumerated() {
                for o in blobs where o.polarity != b.polarity && b.response < BlobPruning.ringRatio * o.response && b.sigma >= BlobPruning.ringScale * o.sigma {
                    let reach = BlobPruning.ringReach * (b.sigma * b.sigma + o.sigma * o.sigma).squareRoot()
                    if (b.x - o.x) * (b.x - o.x) + (b.y - o.y) * (b.y - o.y) < reach * reach { want.insert(i) }
                }
            }
            #expect(BlobPruning.ringArtefacts(blobs) == want)
        }
        func blob(_ x: Double, _ sigma: Double, _ response: Double, _ polarity: Double) -> Blob {
            Blob(x: x, y: 50, sigma: sigma, response: response, snr: 10, polarity: polarity, scaleIndex: 0, gridX: 0, gridY: 0)
        }
        let hollow = blob(50, 15.6, 260, -1)
        // At 2 S from a blob of sigma 3, a bright one of sigma 3 and 10% of its response: a ring.
        #expect(BlobPruning.ringArtefacts([blob(50, 3, 100, -1), blob(50 + 2 * 18.0.squareRoot(), 3, 10, 1)]) == [1])
        // A spot of sigma 2 with a fifth of the hollow's response, 1.8 S from it: its own blob.
        #expect(BlobPruning.ringArtefacts([hollow, blob(50 + 1.8 * (4 + 15.6 * 15.6).squareRoot(), 2, 52, 1)]).isEmpty)
        // At sigma 8 (above half the hollow's) the same place and ratio is taken for its ring.
        #expect(BlobPruning.ringArtefacts([hollow, blob(50 + 1.8 * (64 + 15.6 * 15.6).squareRoot(), 8, 52, 1)]) == [1])
    }

    @Test func discLabelsFollowTheRule() {
        let peaks = [
            Peak(x: 10.2, y: 10.7, value: 0, strength: 3, attributes: ["radius": 4]),
            Peak(x: 15.0, y: 12.0, value: 0, strength: 2, attributes: ["radius": 3]),
            Peak(x: 3.4, y: 2.1, value: 0, strength: 1, attributes: ["radius": 6]),
        ]
        let labels = BlobPruning.discLabels(peaks, width: 24, height: 20)
        for y in 0..<20 { for x in 0..<24 {
            var best = 0, bestQ = Double.infinity
            for (k, p) in peaks.enumerated() {
                let r = p["radius"]!
                let q = ((Double(x) - p.x) * (Double(x) - p.x) + (Double(y) - p.y) * (Double(y) - p.y)) / (r * r)
                if q <= 1 && q < bestQ { bestQ = q; best = k + 1 }
            }
            if let own = peaks.firstIndex(where: { $0.pixel == (x, y) }) { best = own + 1 }
            #expect(labels[x, y] == Int32(best), "(\(x), \(y))")
        } }
    }
}
