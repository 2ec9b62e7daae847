#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// The synthetic scene of the LoG quality tests and docs/algorithms/log.md: Gaussian spots of several sizes (sigma 1 to 4 px)
/// at amplitudes of 5 to 20 local noise sigmas, on a sloped background, with a bright central
/// beam 1000 times the median spot amplitude, and Poisson counting noise. The local noise sigma
/// of a spot is sqrt(background + beam) at its centre (Poisson: variance = mean).
public struct QualityScene: Sendable {
    public var image: Image
    public var clean: Image
    public var spots: [Spot]
    /// Amplitude of each spot in local noise sigmas.
    public var snr: [Double]
    public var beam: Spot

    public static let sigmas: [Double] = [1, 1.5, 2, 3, 4]
    public static let multiples: [Double] = [5, 7, 10, 20]

    public static func make(size: Int = 512, seed: UInt64 = 7, noisy: Bool = true) -> QualityScene {
        var rng = SeededRandom(seed: seed)
        let centre = Double(size) / 2 - 0.3
        func background(_ x: Double, _ y: Double) -> Double { 200 + 0.3 * x + 0.2 * y }
        var spots: [Spot] = []
        var snr: [Double] = []
        let step = 40
        var k = 0
        for gy in Swift.stride(from: 24, to: size - 20, by: step) {
            for gx in Swift.stride(from: 24, to: size - 20, by: step) {
                let x = Double(gx) + rng.uniform(-0.5, 0.5), y = Double(gy) + rng.uniform(-0.5, 0.5)
                let dx = x - centre, dy = y - centre
                if (dx * dx + dy * dy).squareRoot() < 60 { continue }
                let s = sigmas[k % sigmas.count]
                let m = multiples[(k / sigmas.count) % multiples.count]
                k += 1
                let amplitude = m * background(x, y).squareRoot()
                spots.append(Spot(x: x, y: y, amplitude: amplitude, sigma: s))
                snr.append(m)
            }
        }
        let amplitudes = spots.map(\.amplitude).sorted()
        let beam = Spot(x: centre, y: centre, amplitude: 1000 * amplitudes[amplitudes.count / 2], sigma: 6)
        var clean = Image(width: size, height: size) { x, y in Float(background(Double(x), Double(y))) }
        SpotRenderer.add(spots + [beam], to: &clean)
        var image = clean
        if noisy { SpotRenderer.applyPoissonNoise(&image, rng: &rng) }
        return QualityScene(image: image, clean: clean, spots: spots, snr: snr, beam: beam)
    }
}
