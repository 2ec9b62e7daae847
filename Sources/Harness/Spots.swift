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

/// A spot of a synthetic image: a 2-D Gaussian of standard deviation `sigma` pixels centred at
/// (x, y) (x = column, y = row, pixel centres at integers) with peak amplitude `amplitude`.
public struct Spot: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var amplitude: Double
    public var sigma: Double
    public init(x: Double, y: Double, amplitude: Double, sigma: Double) {
        self.x = x; self.y = y; self.amplitude = amplitude; self.sigma = sigma
    }
}

/// Rendering of synthetic images with known truth.
public enum SpotRenderer {
    /// Adds Gaussian spots integrated over each pixel's area: the value of pixel (i, j) is
    /// `A * 2 pi sigma^2 * Ix * Iy`, where Ix = (Phi((i + 0.5 - x)/sigma) - Phi((i - 0.5 - x)/sigma))
    /// is the fraction of a unit 1-D Gaussian over the pixel (the product of the two, times
    /// 2 pi sigma^2, is the integral of exp(-r^2 / 2 sigma^2) over the pixel), so a spot's total flux is
    /// `A * 2 pi sigma^2` whatever its subpixel position. Each spot is drawn within 5 sigma.
    public static func add(_ spots: [Spot], to image: inout Image) {
        let w = image.width, h = image.height
        for s in spots {
            let r = Int((5 * s.sigma).rounded(.up)) + 1
            let x0 = max(0, Int(s.x.rounded()) - r), x1 = min(w - 1, Int(s.x.rounded()) + r)
            let y0 = max(0, Int(s.y.rounded()) - r), y1 = min(h - 1, Int(s.y.rounded()) + r)
            guard x0 <= x1, y0 <= y1 else { continue }
            let scale = s.sigma * (2 * Double.pi).squareRoot()  // 1-D integral of exp(-t^2 / 2 sigma^2)
            let ix = (x0...x1).map { i in fraction(Double(i), s.x, s.sigma) * scale }
            let iy = (y0...y1).map { j in fraction(Double(j), s.y, s.sigma) * scale }
            for (jj, j) in (y0...y1).enumerated() {
                for (ii, i) in (x0...x1).enumerated() {
                    image.pixels[j * w + i] += Float(s.amplitude * ix[ii] * iy[jj])
                }
            }
        }
    }

    /// Mass of a unit normal (mean mu, sd sigma) over [c - 0.5, c + 0.5].
    static func fraction(_ c: Double, _ mu: Double, _ sigma: Double) -> Double {
        let k = 1 / (sigma * 2.0.squareRoot())
        return 0.5 * (erf((c + 0.5 - mu) * k) - erf((c - 0.5 - mu) * k))
    }

    /// Adds independent Gaussian noise of standard deviation `sigma` to every pixel.
    public static func addGaussianNoise(_ image: inout Image, sigma: Double, rng: inout SeededRandom) {
        for i in 0..<image.count { image.pixels[i] += Float(sigma * rng.normal()) }
    }

    /// Replaces every pixel by a Poisson draw with that mean (counting noise; values >= 0).
    public static func applyPoissonNoise(_ image: inout Image, rng: inout SeededRandom) {
        for i in 0..<image.count { image.pixels[i] = Float(rng.poisson(Double(max(0, image.pixels[i])))) }
    }
}
