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

/// The images bundled with peaks (samples/), regenerated bit for bit from their description.
public enum SampleImages {
    /// The truth behind a generated sample.
    public struct Sample: Sendable {
        public var image: Image
        public var spots: [Spot]
        public var center: (x: Double, y: Double)
    }

    /// `samples/lattice.png`: a diffraction-like pattern of 16-bit counts, 320 x 320.
    ///
    /// Model: a 2-D lattice of Gaussian Bragg spots (sigma 1.6 px) at c + i a + j b, with c =
    /// (161.3, 158.7), a = (24.5, 3.1), b = (-9.2, 22.8), every (i, j) != (0, 0) whose spot lies
    /// at least 6 px inside the image; amplitudes 2000 exp(-r / 90) times a structure factor drawn
    /// uniformly from [0.3, 1.5]; a central beam of amplitude 2e5 and sigma 4 px; a diffuse
    /// radial background 300 exp(-r / 60) + 50. Pixel values are Poisson counts of that mean
    /// (seeded `SeededRandom(seed: 2026)`), clipped at 65535, so the beam's core is saturated.
    public static func lattice() -> Sample {
        let size = 320
        var rng = SeededRandom(seed: 2026)
        let c = (x: 161.3, y: 158.7)
        let a = (x: 24.5, y: 3.1), b = (x: -9.2, y: 22.8)
        var spots: [Spot] = []
        for i in -10...10 {
            for j in -10...10 where i != 0 || j != 0 {
                let x = c.x + Double(i) * a.x + Double(j) * b.x
                let y = c.y + Double(i) * a.y + Double(j) * b.y
                guard x >= 6, y >= 6, x <= Double(size - 7), y <= Double(size - 7) else { continue }
                let r = ((x - c.x) * (x - c.x) + (y - c.y) * (y - c.y)).squareRoot()
                let structure = rng.uniform(0.3, 1.5)
                spots.append(Spot(x: x, y: y, amplitude: 2000 * exp(-r / 90) * structure, sigma: 1.6))
            }
        }
        var image = Image(width: size, height: size) { x, y in
            let dx = Double(x) - c.x, dy = Double(y) - c.y
            return Float(300 * exp(-(dx * dx + dy * dy).squareRoot() / 60) + 50)
        }
        SpotRenderer.add(spots + [Spot(x: c.x, y: c.y, amplitude: 2e5, sigma: 4)], to: &image)
        SpotRenderer.applyPoissonNoise(&image, rng: &rng)
        for i in 0..<image.count { image.pixels[i] = min(image.pixels[i], 65535) }
        return Sample(image: image, spots: spots, center: c)
    }
}
