#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// The classes of synthetic images `peaks generate` and `peaks evaluate` make. Each has a
/// documented generative model (`SyntheticGenerator`), the same on every run for a seed.
public enum SyntheticClass: String, Sendable, CaseIterable, Comparable {
    case symmetric
    case noisy
    case hdr
    case crowded
    case lowContrast = "low-contrast"

    /// Position in `allCases` (the order of reports).
    public var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (a: SyntheticClass, b: SyntheticClass) -> Bool { a.rank < b.rank }

    /// Parses a class name, with a one-line error listing the known ones.
    public static func named(_ name: String) throws -> SyntheticClass {
        guard let c = SyntheticClass(rawValue: name) else {
            throw PeaksError.invalidParameter(
                name: "class", reason: "unknown class '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return c
    }

    /// One line saying what the class tests.
    public var summary: String {
        switch self {
        case .symmetric: return "diffraction-like lattice of spots around a subpixel centre, very bright central beam, radial background, beam-stop mask, Poisson counts"
        case .noisy: return "isolated spots at signal-to-noise ratios 2-8 with Poisson counting noise and Gaussian read noise"
        case .hdr: return "spot amplitudes spanning four decades (50 to 5e5) on a sloped background, Poisson counts"
        case .crowded: return "close pairs of spots 1-3 FWHM apart, Gaussian noise"
        case .lowContrast: return "faint spots (0.3-1% of the level) on a bright, slowly varying background, Gaussian noise"
        }
    }
}

/// A peak of a generated image's ground truth (x = column, y = row, pixel (0, 0) centred at
/// (0.0, 0.0)). `amplitude` is the peak height above the background, `sigma` the Gaussian
/// standard deviation in pixels.
public struct TruthPeak: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var amplitude: Double?
    public var sigma: Double?
    public init(x: Double, y: Double, amplitude: Double? = nil, sigma: Double? = nil) {
        self.x = x; self.y = y; self.amplitude = amplitude; self.sigma = sigma
    }
    public init(_ spot: Spot) { self.init(x: spot.x, y: spot.y, amplitude: spot.amplitude, sigma: spot.sigma) }
}

/// A synthetic image with its ground truth.
public struct GeneratedImage: Sendable {
    public var synthClass: SyntheticClass
    public var size: Int
    public var seed: UInt64
    /// The pixel values (float32), before any 16-bit quantisation.
    public var image: Image
    /// Valid pixels; nil when every pixel is valid (only `symmetric` has a beam stop).
    public var mask: Mask?
    /// The peaks a detector should find: every spot that is visible (on a valid pixel).
    public var peaks: [TruthPeak]
    /// The pattern's centre (symmetric class), else nil.
    public var center: (x: Double, y: Double)?
    /// The model's parameters, in output order (written to truth.json as "generator").
    public var parameters: [(String, Value)]
    /// image.png holds round(value * pngScale + pngOffset) clipped to 0...65535, so
    /// value ~= (png - pngOffset) / pngScale (the exact values are in image.npy).
    public var pngScale: Double
    public var pngOffset: Double
}

/// The generative models. Every random number comes from `SeededRandom(seed:)` in a fixed order,
/// spots are integrated Gaussians (`SpotRenderer.add`), so the same class, size and seed give
/// the same pixels bit for bit.
///
/// Common conventions: the image is `size` x `size`; spot centres are uniform over
/// `[margin, size - 1 - margin]` with `margin = 4` px unless the model says otherwise; "U(a, b)"
/// is `SeededRandom.uniform(a, b)`, "N(0, 1)" `normal()`, "Poisson(m)" `poisson(m)`;
/// FWHM = 2 sqrt(2 ln 2) sigma ~= 2.355 sigma.
public enum SyntheticGenerator {
    public static let sizeRange = 32...4096

    /// Generates one image of a class.
    /// - Throws: `PeaksError.invalidParameter` when `size` is outside `sizeRange`.
    public static func generate(_ c: SyntheticClass, size: Int, seed: UInt64, beamStop: Bool = true) throws -> GeneratedImage {
        guard sizeRange.contains(size) else {
            throw PeaksError.invalidParameter(name: "size", reason: "\(size) is outside the allowed range \(sizeRange.lowerBound)...\(sizeRange.upperBound)")
        }
        var g: GeneratedImage
        switch c {
        case .symmetric: g = symmetric(size: size, seed: seed, beamStop: beamStop)
        case .noisy: g = noisy(size: size, seed: seed)
        case .hdr: g = hdr(size: size, seed: seed)
        case .crowded: g = crowded(size: size, seed: seed)
        case .lowContrast: g = lowContrast(size: size, seed: seed)
        }
        // 16-bit PNG: the finite range [min, max] onto [0, 65535].
        var lo = Float.infinity, hi = -Float.infinity
        for v in g.image.pixels where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        if hi > lo {
            g.pngScale = 65535 / (Double(hi) - Double(lo))
            g.pngOffset = -Double(lo) * g.pngScale
        }
        return g
    }

    static func blank(_ c: SyntheticClass, size: Int, seed: UInt64, image: Image) -> GeneratedImage {
        GeneratedImage(synthClass: c, size: size, seed: seed, image: image, mask: nil, peaks: [],
                       center: nil, parameters: [], pngScale: 1, pngOffset: 0)
    }

    /// Uniform positions at least `minSeparation` apart (rejection sampling: up to 50 tries per
    /// wanted point; points that do not fit are skipped, so crowded small images get fewer).
    static func scatter(
        count: Int, size: Int, margin: Double, minSeparation: Double, rng: inout SeededRandom
    ) -> [(x: Double, y: Double)] {
        var points: [(x: Double, y: Double)] = []
        let hi = Double(size - 1) - margin
        guard hi > margin else { return [] }
        for _ in 0..<count {
            for _ in 0..<50 {
                let x = rng.uniform(margin, hi), y = rng.uniform(margin, hi)
                if points.allSatisfy({ ($0.x - x) * ($0.x - x) + ($0.y - y) * ($0.y - y) >= minSeparation * minSeparation }) {
                    points.append((x, y))
                    break
                }
            }
        }
        return points
    }

    /// Spot count for a density of one spot per `area` square pixels (at least 3).
    static func count(size: Int, perArea area: Double) -> Int { max(3, Int((Double(size * size) / area).rounded())) }

    /// **symmetric**: a diffraction-like pattern.
    ///
    /// - centre c = ((S-1)/2 + U(-S/40, S/40), (S-1)/2 + U(-S/40, S/40)) (subpixel);
    /// - lattice vectors a = L (cos t, sin t) with L = S U(0.06, 0.09), t = U(0, pi), and
    ///   b = L U(0.8, 1.25) (cos u, sin u) with u = t + U(pi/3, 2 pi/3);
    /// - one spot width sigma = U(1.2, 2.0) px for all Bragg spots;
    /// - Bragg spots at c + i a + j b, (i, j) != (0, 0), centre at least 3 sigma + 2 px inside the
    ///   image; amplitude 2000 exp(-r / (0.3 S)) U(0.3, 1.5) (r = distance to c);
    /// - central beam: amplitude 2e5, sigma 3 sigma (a peak of the truth when not under the stop);
    /// - background 300 exp(-r / (0.2 S)) + 50; pixel = Poisson(mean);
    /// - beam stop (when `beamStop`): a disc of radius 4 sigma_beam around c plus an arm 0.03 S
    ///   wide from c to the right edge (angle 0); its pixels are invalid in the mask, read
    ///   Poisson(5) (dark counts), and spots under it are not in the truth.
    static func symmetric(size: Int, seed: UInt64, beamStop: Bool) -> GeneratedImage {
        var rng = SeededRandom(seed: seed)
        let s = Double(size)
        let c = (x: (s - 1) / 2 + rng.uniform(-s / 40, s / 40), y: (s - 1) / 2 + rng.uniform(-s / 40, s / 40))
        let length = s * rng.uniform(0.06, 0.09)
        let t = rng.uniform(0, .pi)
        let lengthB = length * rng.uniform(0.8, 1.25)
        let u = t + rng.uniform(.pi / 3, 2 * .pi / 3)
        let a = (x: length * cos(t), y: length * sin(t)), b = (x: lengthB * cos(u), y: lengthB * sin(u))
        let sigma = rng.uniform(1.2, 2.0)
        let beamSigma = 3 * sigma
        let margin = 3 * sigma + 2
        let reach = Int((s / min(length, lengthB) * 2).rounded(.up)) + 2
        var spots: [Spot] = []
        for i in -reach...reach {
            for j in -reach...reach where i != 0 || j != 0 {
                let x = c.x + Double(i) * a.x + Double(j) * b.x
                let y = c.y + Double(i) * a.y + Double(j) * b.y
                guard x >= margin, y >= margin, x <= s - 1 - margin, y <= s - 1 - margin else { continue }
                let r = ((x - c.x) * (x - c.x) + (y - c.y) * (y - c.y)).squareRoot()
                spots.append(Spot(x: x, y: y, amplitude: 2000 * exp(-r / (0.3 * s)) * rng.uniform(0.3, 1.5), sigma: sigma))
            }
        }
        let beam = Spot(x: c.x, y: c.y, amplitude: 2e5, sigma: beamSigma)
        var image = Image(width: size, height: size) { x, y in
            let dx = Double(x) - c.x, dy = Double(y) - c.y
            return Float(300 * exp(-(dx * dx + dy * dy).squareRoot() / (0.2 * s)) + 50)
        }
        SpotRenderer.add(spots + [beam], to: &image)
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        var mask: Mask? = nil
        let stopRadius = 4 * beamSigma, armHalf = 0.015 * s
        func underStop(_ x: Double, _ y: Double) -> Bool {
            let dx = x - c.x, dy = y - c.y
            return dx * dx + dy * dy <= stopRadius * stopRadius || (dx >= 0 && abs(dy) <= armHalf)
        }
        if beamStop {
            var m = Mask(width: size, height: size)
            for y in 0..<size { for x in 0..<size where underStop(Double(x), Double(y)) {
                m[x, y] = false
                image[x, y] = Float(rng.poisson(5))
            } }
            mask = m
        }
        var truth = spots.filter { !beamStop || !underStop($0.x, $0.y) }.map(TruthPeak.init)
        if !beamStop { truth.append(TruthPeak(beam)) }
        var g = blank(.symmetric, size: size, seed: seed, image: image)
        g.mask = mask
        g.peaks = truth
        g.center = c
        g.parameters = [
            ("lattice_a", .string("\(NumberFormat.string(a.x)), \(NumberFormat.string(a.y))")),
            ("lattice_b", .string("\(NumberFormat.string(b.x)), \(NumberFormat.string(b.y))")),
            ("spot_sigma", .number(sigma)), ("spot_amplitude", .number(2000)),
            ("beam_amplitude", .number(2e5)), ("beam_sigma", .number(beamSigma)),
            ("background", .string("300 exp(-r / (0.2 size)) + 50")),
            ("noise", .string("poisson")),
            ("beam_stop", .bool(beamStop)), ("beam_stop_radius", .number(stopRadius)),
            ("beam_stop_arm_width", .number(2 * armHalf)),
        ]
        return g
    }

    /// **noisy**: isolated spots at low signal-to-noise ratio.
    ///
    /// - n = S^2 / 2000 spots (at least 3), centres at least 8 px apart; sigma = U(1.2, 2.0);
    /// - background B = 100 photons, read noise r = 3 (gain 1); SNR = U(2, 8) per spot, where
    ///   SNR = A / sqrt(B + r^2) (peak height over the background noise, as in the ISBI 2012
    ///   particle tracking challenge), so A = SNR sqrt(B + r^2);
    /// - pixel = Poisson(B + spots) + r N(0, 1).
    static func noisy(size: Int, seed: UInt64) -> GeneratedImage {
        var rng = SeededRandom(seed: seed)
        let background = 100.0, read = 3.0
        let noise = (background + read * read).squareRoot()
        let centres = scatter(count: count(size: size, perArea: 2000), size: size, margin: 4, minSeparation: 8, rng: &rng)
        let spots = centres.map { p in
            Spot(x: p.x, y: p.y, amplitude: rng.uniform(2, 8) * noise, sigma: rng.uniform(1.2, 2.0))
        }
        var image = Image(width: size, height: size, repeating: Float(background))
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        SpotRenderer.addGaussianNoise(&image, sigma: read, rng: &rng)
        var g = blank(.noisy, size: size, seed: seed, image: image)
        g.peaks = spots.map(TruthPeak.init)
        g.parameters = [
            ("spots_per_pixel", .number(1.0 / 2000)), ("min_separation", .number(8)),
            ("sigma", .string("U(1.2, 2.0)")), ("snr", .string("U(2, 8)")),
            ("snr_definition", .string("A / sqrt(background + read_noise^2)")),
            ("background", .number(background)), ("read_noise", .number(read)), ("noise", .string("poisson + gaussian read noise")),
        ]
        return g
    }

    /// **hdr**: high dynamic range.
    ///
    /// - n = S^2 / 2500 spots, centres at least 10 px apart; sigma = U(1.2, 2.2);
    /// - amplitude 10^U(log10 50, log10 5e5): log-uniform over four decades;
    /// - sloped background 20 + 100 (x cos g + y sin g) / S + 100 max(0, -cos g) + 100 max(0, -sin g)
    ///   with g = U(0, 2 pi): a plane rising by 100 counts per image width in direction g, >= 20;
    /// - pixel = Poisson(mean) + 2 N(0, 1).
    static func hdr(size: Int, seed: UInt64) -> GeneratedImage {
        var rng = SeededRandom(seed: seed)
        let s = Double(size)
        let centres = scatter(count: count(size: size, perArea: 2500), size: size, margin: 4, minSeparation: 10, rng: &rng)
        let spots = centres.map { p in
            Spot(x: p.x, y: p.y, amplitude: pow(10, rng.uniform(log10(50), log10(5e5))), sigma: rng.uniform(1.2, 2.2))
        }
        let g0 = rng.uniform(0, 2 * .pi)
        let gx = cos(g0), gy = sin(g0)
        let base = 20 + 100 * max(0, -gx) + 100 * max(0, -gy)
        var image = Image(width: size, height: size) { x, y in
            Float(base + 100 * (Double(x) * gx + Double(y) * gy) / s)
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        var g = blank(.hdr, size: size, seed: seed, image: image)
        g.peaks = spots.map(TruthPeak.init)
        g.parameters = [
            ("spots_per_pixel", .number(1.0 / 2500)), ("min_separation", .number(10)),
            ("sigma", .string("U(1.2, 2.2)")), ("amplitude", .string("10^U(log10 50, log10 5e5)")),
            ("background_slope_direction", .number(g0)), ("background", .string("plane, 20 at its lowest corner, rising 100 per image width")),
            ("read_noise", .number(2)), ("noise", .string("poisson + gaussian read noise")),
        ]
        return g
    }

    /// **crowded**: close pairs.
    ///
    /// - n = S^2 / 5000 pairs; pair centres at least 30 px apart; one sigma = U(1.2, 1.8) per pair;
    /// - the two spots of a pair are d = U(1, 3) FWHM apart (FWHM = 2.355 sigma) along a direction
    ///   U(0, pi); amplitudes 400 and 400 U(0.5, 1);
    /// - background 100, Gaussian noise of sd 10 (SNR 20 to 40 for single spots).
    ///
    /// Two equal Gaussians closer than 2 sigma (0.85 FWHM) make one maximum, so every pair is
    /// resolvable in principle; at 1 FWHM the dip between them is shallow.
    static func crowded(size: Int, seed: UInt64) -> GeneratedImage {
        var rng = SeededRandom(seed: seed)
        let fwhm = 2 * (2 * log(2.0)).squareRoot()
        let centres = scatter(count: count(size: size, perArea: 5000), size: size, margin: 14, minSeparation: 30, rng: &rng)
        var spots: [Spot] = []
        for p in centres {
            let sigma = rng.uniform(1.2, 1.8)
            let d = rng.uniform(1, 3) * fwhm * sigma
            let angle = rng.uniform(0, .pi)
            let ox = d / 2 * cos(angle), oy = d / 2 * sin(angle)
            spots.append(Spot(x: p.x - ox, y: p.y - oy, amplitude: 400, sigma: sigma))
            spots.append(Spot(x: p.x + ox, y: p.y + oy, amplitude: 400 * rng.uniform(0.5, 1), sigma: sigma))
        }
        var image = Image(width: size, height: size, repeating: 100)
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 10, rng: &rng)
        var g = blank(.crowded, size: size, seed: seed, image: image)
        g.peaks = spots.map(TruthPeak.init)
        g.parameters = [
            ("pairs_per_pixel", .number(1.0 / 5000)), ("pair_min_separation", .number(30)),
            ("sigma", .string("U(1.2, 1.8)")), ("pair_distance", .string("U(1, 3) FWHM")),
            ("amplitude", .string("400 and 400 U(0.5, 1)")), ("background", .number(100)),
            ("noise_sigma", .number(10)), ("noise", .string("gaussian")),
        ]
        return g
    }

    /// **low-contrast**: faint spots on a bright, uneven background.
    ///
    /// - background 10000 + sum over 3 broad blobs of 2000 exp(-r^2 / (2 (S/5)^2)) at uniform
    ///   centres (a smooth variation of +-20%, far larger than any spot);
    /// - n = S^2 / 2500 spots, centres at least 10 px apart; sigma = U(1.5, 2.5);
    ///   amplitude = contrast x local background with contrast U(0.003, 0.01);
    /// - Gaussian noise of sd 5 (SNR 6 to 20: faint relative to the level, not to the noise).
    static func lowContrast(size: Int, seed: UInt64) -> GeneratedImage {
        var rng = SeededRandom(seed: seed)
        let s = Double(size)
        let blobs = (0..<3).map { _ in (x: rng.uniform(0, s - 1), y: rng.uniform(0, s - 1)) }
        let w = s / 5
        func level(_ x: Double, _ y: Double) -> Double {
            var v = 10000.0
            for b in blobs { v += 2000 * exp(-((x - b.x) * (x - b.x) + (y - b.y) * (y - b.y)) / (2 * w * w)) }
            return v
        }
        let centres = scatter(count: count(size: size, perArea: 2500), size: size, margin: 4, minSeparation: 10, rng: &rng)
        let spots = centres.map { p in
            Spot(x: p.x, y: p.y, amplitude: rng.uniform(0.003, 0.01) * level(p.x, p.y), sigma: rng.uniform(1.5, 2.5))
        }
        var image = Image(width: size, height: size) { x, y in Float(level(Double(x), Double(y))) }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 5, rng: &rng)
        var g = blank(.lowContrast, size: size, seed: seed, image: image)
        g.peaks = spots.map(TruthPeak.init)
        g.parameters = [
            ("background", .string("10000 + 3 Gaussian blobs of 2000, sd size/5")),
            ("spots_per_pixel", .number(1.0 / 2500)), ("min_separation", .number(10)),
            ("sigma", .string("U(1.5, 2.5)")), ("contrast", .string("U(0.003, 0.01) x local background")),
            ("noise_sigma", .number(5)), ("noise", .string("gaussian")),
        ]
        return g
    }
}
