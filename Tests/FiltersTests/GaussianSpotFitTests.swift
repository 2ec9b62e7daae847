import Filters
import Foundation
import Harness
import PeakKit
import Testing

/// `GaussianSpotFit` against images rendered by `SpotRenderer` (independent code for the same
/// pixel-integrated model): exact recovery without noise, groups, masks, dips, refusals.
@Suite struct GaussianSpotFitTests {
    static func planeImage(_ w: Int, _ h: Int, _ b: Double, _ bx: Double, _ by: Double) -> Image {
        Image(width: w, height: h) { x, y in Float(b + bx * Double(x) + by * Double(y)) }
    }

    /// Random spots on random planes, started 0.4 px and 25% of sigma off: the fit lands on the
    /// truth (to Float rounding of the rendered image).
    @Test func recoversNoiseFreeSpots() throws {
        var rng = SeededRandom(seed: 31)
        for _ in 0..<40 {
            let s = rng.uniform(0.7, 5)
            let truth = Spot(x: 40 + rng.uniform(-0.5, 0.5), y: 37 + rng.uniform(-0.5, 0.5), amplitude: rng.uniform(50, 5000), sigma: s)
            let (b, bx, by) = (rng.uniform(10, 1000), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
            var image = Self.planeImage(80, 76, b, bx, by)
            SpotRenderer.add([truth], to: &image)
            let guess = (x: truth.x + 0.4, y: truth.y - 0.3, sigma: s * 1.25)
            let f = try #require(GaussianSpotFit.fit(image, x: guess.x, y: guess.y, sigma: guess.sigma, halfWidth: Int((3 * s).rounded(.up)) + 2))
            #expect(abs(f.x - truth.x) < 1e-4 && abs(f.y - truth.y) < 1e-4, "\(f) vs \(truth)")
            #expect(abs(f.sigma / s - 1) < 1e-4)
            #expect(abs(f.amplitude / truth.amplitude - 1) < 1e-4)
            #expect(abs(f.background - (b + bx * f.x + by * f.y)) < 1e-3 * truth.amplitude)
        }
    }

    /// One spot on an exactly quadratic background (noise-free, the single-spot C kernels): the
    /// fit lands on the truth and reports the surface's value under the spot.
    @Test func quadraticBackgroundIsExactOnQuadraticSurfaces() throws {
        var rng = SeededRandom(seed: 32)
        for _ in 0..<20 {
            let s = rng.uniform(0.8, 4)
            let (gxx, gxy, gyy) = (rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2))
            var image = Image(width: 70, height: 64) { x, y in
                let u = Double(x) - 33, v = Double(y) - 30
                return Float(500 + 0.3 * u - 0.5 * v + gxx * u * u + gxy * u * v + gyy * v * v)
            }
            let truth = Spot(x: 33 + rng.uniform(-0.5, 0.5), y: 30 + rng.uniform(-0.5, 0.5), amplitude: rng.uniform(100, 1000), sigma: s)
            SpotRenderer.add([truth], to: &image)
            let half = Int((3 * s).rounded(.up)) + 2
            let q = try #require(GaussianSpotFit.fit(image, x: truth.x + 0.3, y: truth.y - 0.3, sigma: s * 1.2, halfWidth: half, background: .quadratic))
            #expect(abs(q.x - truth.x) < 1e-4 && abs(q.y - truth.y) < 1e-4 && abs(q.sigma / s - 1) < 1e-4
                    && abs(q.amplitude / truth.amplitude - 1) < 1e-4, "\(q) vs \(truth)")
            let u = q.x - 33, v = q.y - 30
            #expect(abs(q.background - (500 + 0.3 * u - 0.5 * v + gxx * u * u + gxy * u * v + gyy * v * v)) < 1e-2)
        }
    }

    /// Faint spots (contrast 0.4-1.2%) on a broad Gaussian hump, as in the low-contrast scenes
    /// and under halos: over a window of 3 fitted sigmas the hump bends by about the spot's
    /// height. A quadratic does not describe a Gaussian hump exactly (its cubic and quartic
    /// terms remain), but it leaves a fraction of the plane's errors in sigma and amplitude.
    @Test func quadraticBackgroundAbsorbsMostOfAHump() throws {
        var rng = SeededRandom(seed: 33)
        var plane = (sigma: 0.0, amplitude: 0.0), quadratic = (sigma: 0.0, amplitude: 0.0)
        let trials = 20
        for _ in 0..<trials {
            let s = rng.uniform(1.5, 3.5)
            let hump = Spot(x: 60 + rng.uniform(-20, 20), y: 60 + rng.uniform(-20, 20), amplitude: 2000, sigma: 50)
            let truth = Spot(x: 60 + rng.uniform(-0.5, 0.5), y: 58 + rng.uniform(-0.5, 0.5), amplitude: rng.uniform(40, 120), sigma: s)
            var image = Self.planeImage(120, 120, 10000, 0, 0)
            SpotRenderer.add([hump, truth], to: &image)
            let half = Int((3 * s).rounded(.up)) + 2
            let q = try #require(GaussianSpotFit.fit(image, x: truth.x + 0.3, y: truth.y - 0.2, sigma: s * 1.2, halfWidth: half, background: .quadratic))
            let p = try #require(GaussianSpotFit.fit(image, x: truth.x + 0.3, y: truth.y - 0.2, sigma: s * 1.2, halfWidth: half))
            quadratic.sigma += abs(q.sigma / s - 1) / Double(trials)
            quadratic.amplitude += abs(q.amplitude / truth.amplitude - 1) / Double(trials)
            plane.sigma += abs(p.sigma / s - 1) / Double(trials)
            plane.amplitude += abs(p.amplitude / truth.amplitude - 1) / Double(trials)
        }
        print("hump: mean relative error of sigma plane \(plane.sigma) quadratic \(quadratic.sigma); amplitude plane \(plane.amplitude) quadratic \(quadratic.amplitude)")
        // Measured: sigma 105% (plane) against 0.9% (quadratic), amplitude 59% against 0.6%.
        #expect(quadratic.sigma < 0.03 && quadratic.amplitude < 0.03)
        #expect(quadratic.sigma < 0.1 * plane.sigma && quadratic.amplitude < 0.1 * plane.amplitude)
    }

    /// The quadratic surface itself: no spot of any height is invented on a pure quadratic
    /// background plus one spot, and a group of two spots (the Swift loop, 14 unknowns) gives
    /// what each gives alone when far apart.
    @Test func quadraticBackgroundInGroups() throws {
        var image = Image(width: 80, height: 60) { x, y in
            let u = Double(x) - 40, v = Double(y) - 30
            return Float(800 + 0.7 * u - 0.4 * v + 0.03 * u * u - 0.02 * u * v + 0.05 * v * v)
        }
        let a = Spot(x: 30.3, y: 29.6, amplitude: 300, sigma: 1.8), b = Spot(x: 37.8, y: 31.2, amplitude: 200, sigma: 2.1)
        SpotRenderer.add([a, b], to: &image)
        let fits = try #require(GaussianSpotFit.fit(image, spots: [
            .init(x: a.x + 0.3, y: a.y, sigma: 2.2, halfWidth: 9),
            .init(x: b.x - 0.2, y: b.y + 0.3, sigma: 2.5, halfWidth: 9),
        ], background: .quadratic))
        for (f, t) in zip(fits, [a, b]) {
            #expect(abs(f.x - t.x) < 1e-3 && abs(f.y - t.y) < 1e-3 && abs(f.sigma / t.sigma - 1) < 1e-3 && abs(f.amplitude / t.amplitude - 1) < 1e-3,
                    "\(f) vs \(t)")
        }
        // The background reported at the centre is the surface's value there.
        let u = fits[0].x - 40, v = fits[0].y - 30
        #expect(abs(fits[0].background - (800 + 0.7 * u - 0.4 * v + 0.03 * u * u - 0.02 * u * v + 0.05 * v * v)) < 0.05)
    }

    /// A dip (negative amplitude) is fitted like a spot.
    @Test func fitsDips() throws {
        var image = Self.planeImage(40, 40, 500, 0, 0)
        let truth = Spot(x: 19.3, y: 20.6, amplitude: -120, sigma: 2.2)
        SpotRenderer.add([truth], to: &image)
        let f = try #require(GaussianSpotFit.fit(image, x: 19, y: 21, sigma: 2.5, halfWidth: 9))
        #expect(abs(f.x - 19.3) < 1e-4 && abs(f.y - 20.6) < 1e-4 && abs(f.sigma - 2.2) < 1e-4 && abs(f.amplitude + 120) < 1e-2)
    }

    /// Two spots 1.5 FWHM apart: fitted together both are exact; fitted alone (the other in the
    /// window) the first is pulled towards the second.
    @Test func groupsFitNeighboursTogether() throws {
        var image = Self.planeImage(60, 50, 100, 0, 0)
        let s = 1.6, d = 1.5 * 2.3548 * s
        let a = Spot(x: 25.2, y: 24.7, amplitude: 400, sigma: s), b = Spot(x: 25.2 + d, y: 24.9, amplitude: 250, sigma: s)
        SpotRenderer.add([a, b], to: &image)
        let half = Int((3 * s).rounded(.up)) + 2
        let fits = try #require(GaussianSpotFit.fit(image, spots: [
            .init(x: a.x - 0.3, y: a.y + 0.2, sigma: 2, halfWidth: half),
            .init(x: b.x + 0.3, y: b.y, sigma: 2, halfWidth: half),
        ]))
        for (f, t) in zip(fits, [a, b]) {
            #expect(abs(f.x - t.x) < 1e-4 && abs(f.y - t.y) < 1e-4 && abs(f.sigma - s) < 1e-4 && abs(f.amplitude / t.amplitude - 1) < 1e-4)
        }
        let alone = try #require(GaussianSpotFit.fit(image, x: a.x, y: a.y, sigma: s, halfWidth: half))
        #expect(alone.x - a.x > 0.05, "the neighbour should pull a lone fit: \(alone.x - a.x)")
    }

    /// Pixels left out by `include` (a mask) do not matter, whatever they hold; NaN pixels are
    /// skipped.
    @Test func excludedPixelsAreIgnored() throws {
        var image = Self.planeImage(40, 40, 50, 0.1, 0)
        let truth = Spot(x: 20.4, y: 19.8, amplitude: 300, sigma: 1.8)
        SpotRenderer.add([truth], to: &image)
        for y in 10...30 { image[26, y] = 1e6 }
        image[14, 14] = .nan
        let f = try #require(GaussianSpotFit.fit(image, x: 20, y: 20, sigma: 2, halfWidth: 8, include: { x, _ in x != 26 }))
        #expect(abs(f.x - truth.x) < 1e-4 && abs(f.y - truth.y) < 1e-4 && abs(f.sigma - truth.sigma) < 1e-4)
        #expect(f.pixels == 17 * 17 - 17 - 1)
    }

    /// Refusals: too few pixels, a flat window (singular), non-finite guesses.
    @Test func refusesWhatCannotBeFitted() {
        let flat = Image(width: 30, height: 30, repeating: 7)
        #expect(GaussianSpotFit.fit(flat, x: 15, y: 15, sigma: 2, halfWidth: 8).map { _ in true } != true
                || GaussianSpotFit.fit(flat, x: 15, y: 15, sigma: 2, halfWidth: 8)?.amplitude == 0)
        let tiny = Image(width: 3, height: 3, repeating: 1)
        #expect(GaussianSpotFit.fit(tiny, x: 1, y: 1, sigma: 1, halfWidth: 1) == nil)
        #expect(GaussianSpotFit.fit(flat, x: .nan, y: 15, sigma: 2, halfWidth: 8) == nil)
        #expect(GaussianSpotFit.fit(flat, x: 15, y: 15, sigma: 0, halfWidth: 8) == nil)
    }
}
