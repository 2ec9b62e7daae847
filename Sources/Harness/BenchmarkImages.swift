import PeakKit

/// Images the speed benchmarks (Benchmarks/) share, so that every detector is timed on the same
/// kind of input.
public enum BenchmarkImages {
    /// Integrated Gaussian spots (sigma 2 px, amplitude 50, every 32 px, jittered by up to half a
    /// pixel) on a flat background of 100 with white Gaussian noise of sigma 3, seeded by the
    /// size. The noise makes a local maximum every ~9 pixels: the union-find's worst case in
    /// practice, and a realistic load for the LoG's threshold and maxima search.
    public static func noisySpots(size: Int) -> Image {
        var rng = SeededRandom(seed: UInt64(size))
        var image = Image(width: size, height: size, repeating: 100)
        var spots: [Spot] = []
        let step = 32
        for gy in stride(from: step / 2, to: size, by: step) {
            for gx in stride(from: step / 2, to: size, by: step) {
                spots.append(Spot(x: Double(gx) + rng.uniform(-0.5, 0.5), y: Double(gy) + rng.uniform(-0.5, 0.5), amplitude: 50, sigma: 2))
            }
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 3, rng: &rng)
        return image
    }
}
