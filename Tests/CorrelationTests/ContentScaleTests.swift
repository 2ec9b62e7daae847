@testable import Correlation
import Filters
import Foundation
import Harness
import PeakKit
import Testing

@Suite struct StackLatticeVote {
    /// Hand cases of `ContentScale.stackLattice`: v and -v are one vote, written with dx > 0 (or
    /// dx = 0, dy > 0); different vectors of one lattice still make the stack periodic; half or
    /// fewer samples with a lattice give none; ties go to the first in text order.
    @Test func handCases() {
        #expect(ContentScale.stackLattice([(12, 0), (-12, 0), (0, 12), nil]) == "12,0")
        #expect(ContentScale.stackLattice([(0, -12), (0, 12), (12, 0), (12, 0)]) == "0,12")  // 2 votes each: text order
        #expect(ContentScale.stackLattice([(-5, 3), (0, 7), nil]) == "0,7")  // (5,-3) and (0,7) tie: "0,7" < "5,-3"
        #expect(ContentScale.stackLattice([(12, 0), nil]) == "none")
        #expect(ContentScale.stackLattice([(12, 0), nil, nil]) == "none")
        #expect(ContentScale.stackLattice([nil, nil]) == "none")
        #expect(ContentScale.stackLattice([]) == "none")
        #expect(ContentScale.stackLattice([(0, -9)]) == "0,9")
    }
}

@Suite struct LatticeOnlyAnalysis {
    /// `analyse(spotScale: false)` (used when the spot scale is given) measures the same lattice
    /// vector and periodicity as the full analysis, with and without invalid pixels, on a
    /// lattice and on isolated spots, and reports no spot scale.
    @Test(arguments: [true, false])
    func sameLatticeWithoutTheScale(periodic: Bool) throws {
        var rng = SeededRandom(seed: 23)
        var image = Image(width: 160, height: 144, repeating: 50)
        var spots: [Spot] = []
        if periodic {
            for gy in Swift.stride(from: 6, to: 144, by: 12) { for gx in Swift.stride(from: 5, to: 160, by: 13) {
                spots.append(Spot(x: Double(gx), y: Double(gy), amplitude: 20, sigma: 2))
            } }
        } else {
            for _ in 0..<25 { spots.append(Spot(x: rng.uniform(5, 155), y: rng.uniform(5, 139), amplitude: 30, sigma: 1.5)) }
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        var holed = [Bool](repeating: true, count: image.count)
        for y in 40..<60 { for x in 70..<100 { holed[y * image.width + x] = false } }
        for mask in [Mask(width: 160, height: 144), Mask(width: 160, height: 144, isValid: holed)] {
            let full = try ContentScale.analyse(image, mask: mask)
            let latticeOnly = try ContentScale.analyse(image, mask: mask, spotScale: false)
            #expect(full.spotSigma != nil)
            #expect(latticeOnly.spotSigma == nil)
            #expect(latticeOnly.periodicity == full.periodicity)
            #expect(latticeOnly.lattice?.dx == full.lattice?.dx && latticeOnly.lattice?.dy == full.lattice?.dy)
            #expect((full.lattice != nil) == periodic, "periodicity \(full.periodicity)")
            let given = try ContentScale.analyse(image, mask: mask, lattice: .given(dx: 13, dy: 0), spotScale: false)
            #expect(given.lattice?.dx == 13 && given.lattice?.dy == 0 && given.periodicity == 1 && given.spotSigma == nil)
            let absent = try ContentScale.analyse(image, mask: mask, lattice: .absent, spotScale: false)
            #expect(absent.lattice == nil && absent.periodicity == 0 && absent.spotSigma == nil)
        }
    }
}

/// A scale-space maximum whose centre lobe (sqrt(2) x its scale) holds an invalid pixel does not
/// vote for the spot scale: beside a dead area its response measures the edge of the data (the
/// held-out Laue tiles: a detector's bright rim took the measured scale of a tile with 3 spots
/// of 0.8 px to 3.56 px). Eight spots of sigma 1 px, and the same image with eight broad bright
/// half-blobs (sigma 3 px) on the border of a dead left third: the same spot scale, and the
/// spots' own (1.12 px). Without the rule the rim carries the scale to 2.24 px.
@Suite struct ScaleVotesBesideInvalidPixels {
    @Test func theEdgeOfADeadAreaDoesNotVote() throws {
        let (w, h) = (192, 192)
        var valid = [Bool](repeating: true, count: w * h)
        for y in 0..<h { for x in 0..<64 { valid[y * w + x] = false } }
        let mask = Mask(width: w, height: h, isValid: valid)
        var rng = SeededRandom(seed: 5)
        let noise = (0..<(w * h)).map { _ in Float(2 * rng.normal()) }
        func scene(rim: Bool) -> Image {
            var image = Image(width: w, height: h, repeating: 40)
            SpotRenderer.add((0..<8).map { k in
                Spot(x: 96 + Double(k % 4) * 24 + 0.3, y: 40 + Double(k / 4) * 100 + 0.6, amplitude: 60, sigma: 1)
            }, to: &image)
            if rim {
                SpotRenderer.add((0..<8).map { k in Spot(x: 64, y: 12 + Double(k) * 24, amplitude: 80, sigma: 3) }, to: &image)
            }
            for i in 0..<(w * h) { image.pixels[i] = valid[i] ? image.pixels[i] + noise[i] : 0 }  // the dead area holds 0
            return image
        }
        let plain = try #require(try ContentScale.analyse(scene(rim: false), mask: mask).spotSigma)
        let rimmed = try #require(try ContentScale.analyse(scene(rim: true), mask: mask).spotSigma)
        #expect(plain < 1.5, "spots of sigma 1 px: \(plain)")
        #expect(rimmed == plain, "with the rim: \(rimmed) against \(plain)")
    }
}

/// Spots sharper than about 0.6 px have their scale-space maximum at the finest scale, so the
/// scale range reaches down to 0.4 px for 0.5 px to be an interior scale that can vote (the Laue
/// spots of Golden/real and of the held-out tiles, sigma 0.5-0.7 px, did not vote before, and a
/// few broad background bumps set the scale: 1.78-3.56 px on three held-out tiles). At 0.5 px a
/// maximum needs 20 noise units, not 5: the pixel-scale response inherits the pixel noise's
/// tails, here a grain of specks (sigma 0.55 px, about 10 noise units at 0.5 px, every 10 px),
/// which must not vote. At the Gaussian limit of 5 they take the scale from 2.24 to 0.56 px;
/// without the 0.4 px scale the sharp spots do not vote and the faint bumps read 2.83 px.
@Suite struct SharpSpotsVote {
    static let (w, h) = (160, 160)

    static func scene(spotSigma: Double, broadBumps: Bool, grain: Bool) -> Image {
        var rng = SeededRandom(seed: 31)
        var image = Image(width: w, height: h, repeating: 30)
        SpotRenderer.add((0..<12).map { k in
            Spot(x: 20 + Double(k % 4) * 38 + 0.2, y: 25 + Double(k / 4) * 50 + 0.4, amplitude: spotSigma < 1 ? 400 : 60, sigma: spotSigma)
        }, to: &image)
        if broadBumps {
            SpotRenderer.add((0..<4).map { k in Spot(x: 40 + Double(k) * 30, y: 50 + Double(k % 2) * 50, amplitude: 8, sigma: 3) }, to: &image)
        }
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        if grain {
            // Grain: specks of sigma 0.55 px, about 10 noise units at 0.5 px, every 10 px.
            var specks: [Spot] = []
            for y in Swift.stride(from: 4, to: h, by: 10) { for x in Swift.stride(from: 3, to: w, by: 10) {
                specks.append(Spot(x: Double(x) + 0.3, y: Double(y) - 0.2, amplitude: 30, sigma: 0.55))
            } }
            SpotRenderer.add(specks, to: &image)
        }
        return image
    }

    @Test func spotsSharperThanTheOldRangeSetTheScale() throws {
        let mask = Mask(width: Self.w, height: Self.h)
        let sharp = try #require(try ContentScale.analyse(Self.scene(spotSigma: 0.5, broadBumps: true, grain: false), mask: mask).spotSigma)
        #expect(sharp < 0.6, "spots of sigma 0.5 px beside four faint broad bumps: \(sharp)")
    }

    @Test func pixelScaleGrainDoesNotVote() throws {
        let mask = Mask(width: Self.w, height: Self.h)
        let clean = try #require(try ContentScale.analyse(Self.scene(spotSigma: 2, broadBumps: false, grain: false), mask: mask).spotSigma)
        let grainy = try #require(try ContentScale.analyse(Self.scene(spotSigma: 2, broadBumps: false, grain: true), mask: mask).spotSigma)
        #expect(clean > 1.5 && clean < 2.9, "spots of sigma 2 px: \(clean)")
        #expect(grainy == clean, "with the grain: \(grainy) against \(clean)")
    }
}

/// The noise along a lattice takes every step-th pixel of its region where the pixel and its two
/// lattice neighbours are valid; with every pixel valid it strides straight to them. Both against
/// the definition written out here, on noise with a lattice vector of each sign.
@Suite struct LatticeNoiseSamples {
    @Test(arguments: [(7, 3), (-5, 2), (0, 4), (6, 0)])
    func samplesAreEveryStepthValidTriple(_ l: (Int, Int)) {
        var rng = SeededRandom(seed: 47)
        let (w, h) = (97, 83)
        let image = Image(width: w, height: h, pixels: (0..<(w * h)).map { _ in Float(rng.normal()) })
        var holes = [Bool](repeating: true, count: w * h)
        for i in stride(from: 5, to: w * h, by: 37) { holes[i] = false }
        for (mask, samples) in [(Mask(width: w, height: h), 1000), (Mask(width: w, height: h, isValid: holes), 700)] {
            let step = max(1, image.count / samples), ax = abs(l.0), ay = abs(l.1)
            var d: [Float] = [], left = step
            for y in ay..<(h - ay) {
                for x in ax..<(w - ax) {
                    let i = y * w + x, p = (y + l.1) * w + x + l.0, m = (y - l.1) * w + x - l.0
                    guard mask.isValid[i], mask.isValid[p], mask.isValid[m] else { continue }
                    left -= 1
                    if left == 0 { d.append(image.pixels[i] - (image.pixels[p] + image.pixels[m]) / 2); left = step }
                }
            }
            let want = Selection.normalMAD(&d) / 1.5.squareRoot()
            let got = ContentScale.latticeNoise(of: image, mask: mask, lattice: (l.0, l.1), samples: samples)
            #expect(got == want, "lattice \(l), \(samples) samples: \(String(describing: got)) against \(want)")
        }
    }
}

/// The finest octave's wide blurs are made each from the one before (`blurChain` from the
/// scale `cascadeStart` picks), and the lattice search's background is sampled and interpolated
/// (`highPass`). Both against the direct filters they stand for, on spots over a gradient with
/// noise: what they change is the truncation and the rounding, far below what the scale votes
/// and the lattice search can resolve.
@Suite struct ContentScaleShortcuts {
    static func scene(_ w: Int, _ h: Int, seed: UInt64) -> Image {
        var rng = SeededRandom(seed: seed)
        var image = Image(width: w, height: h) { x, y in 40 + 0.2 * Float(x) - 0.1 * Float(y) }
        for _ in 0..<40 {
            let cx = Double(rng.next() % UInt64(w)), cy = Double(rng.next() % UInt64(h))
            let s = 1 + Double(rng.next() % 40) / 10, a = 50 + Double(rng.next() % 200)
            for y in 0..<h { for x in 0..<w {
                let r2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                image[x, y] += Float(a * exp(-r2 / (2 * s * s)))
            } }
        }
        for i in image.pixels.indices { image.pixels[i] += Float(5 * rng.normal()) }
        return image
    }

    @Test func cascadeStartsWhereTheIncrementReachesOnePixel() {
        let s = ContentScale.scales
        // s[0] = 0.4 px, s[7] = 2 px.
        let start = ContentScale.cascadeStart(s, first: 0, count: 12)
        #expect(start == 7)  // sqrt(2^2 - 1.59^2) = 1.22; sqrt(1.59^2 - 1.26^2) = 0.97
        for b in 1..<12 {
            let increment = (s[b] * s[b] - s[b - 1] * s[b - 1]).squareRoot()
            #expect((increment >= 1) == (b >= 7), "blur \(b): increment \(increment)")
        }
        #expect(ContentScale.cascadeStart(s, first: 0, count: 7) == nil)
        #expect(ContentScale.cascadeStart(s, first: 0, count: 2) == nil)
    }

    @Test func chainedBlursMatchTheDirectOnes() {
        let image = Self.scene(160, 120, seed: 3)
        let range = Double(image.pixels.max()! - image.pixels.min()!)
        let s = ContentScale.scales
        let chained = ContentScale.blurChain(GaussianFilter.apply(image, sigma: s[6]), from: s[6], through: Array(s[7...11]))
        for (n, b) in chained.enumerated() {
            let direct = GaussianFilter.apply(image, sigma: s[7 + n])
            var worst = 0.0
            for i in direct.pixels.indices { worst = max(worst, Double(abs(direct.pixels[i] - b.pixels[i]))) }
            #expect(worst <= 2e-4 * range, "sigma \(s[7 + n]): \(worst / range) of the range")
        }
    }

    @Test func highPassMatchesTheDirectBackground() {
        let image = Self.scene(256, 200, seed: 5)
        let range = Double(image.pixels.max()! - image.pixels.min()!)
        let got = ContentScale.highPass(image, sigma: 16, step: 4)
        let background = GaussianFilter.apply(image, sigma: 16)
        var d = [Double](repeating: 0, count: image.count), mean = 0.0
        for i in d.indices { d[i] = Double(image.pixels[i] - background.pixels[i]); mean += d[i] }
        mean /= Double(d.count)
        var worst = 0.0, worstInside = 0.0
        for y in 0..<image.height { for x in 0..<image.width {
            let i = y * image.width + x, e = abs(Double(got.pixels[i]) - (d[i] - mean))
            worst = max(worst, e)
            if min(x, y, image.width - 1 - x, image.height - 1 - y) >= 32 { worstInside = max(worstInside, e) }
        } }
        #expect(worstInside <= 2e-3 * range, "inside: \(worstInside / range) of the range")
        #expect(worst <= 4e-3 * range, "at the edges: \(worst / range) of the range")
        var total = 0.0
        for v in got.pixels { total += Double(v) }
        #expect(abs(total / Double(got.count)) <= 1e-5 * range)
    }
}
