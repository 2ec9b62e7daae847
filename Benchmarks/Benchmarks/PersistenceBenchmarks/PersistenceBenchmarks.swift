import Benchmark
import Detectors
import Harness
import PeakKit

/// The persistence detector with its defaults (automatic noise-based threshold, no smoothing) on
/// `BenchmarkImages.noisySpots`: Gaussian spots on a flat background with white Gaussian noise,
/// so the filtration meets the worst case for union-find work (a local maximum every few pixels).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .peakMemoryResidentDelta, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20)

    guard let detector = builtinDetectors.detector(named: "persistence") else { fatalError("no persistence detector") }
    for size in [512, 1024, 2048, 4096] {
        let image = BenchmarkImages.noisySpots(size: size)
        Benchmark("persistence \(size)x\(size) noisy, defaults", configuration: .init(maxIterations: size >= 4096 ? 5 : 20)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try detector.detect(in: image))
            }
        }
    }
    let image = BenchmarkImages.noisySpots(size: 2048)
    Benchmark("persistence 2048x2048 noisy, with basins") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try detector.detect(in: image, options: .init(wantsLabels: true)))
        }
    }
    Benchmark("persistence 2048x2048 noisy, smooth 1.5") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try detector.detect(in: image, ["smooth": .real(1.5)]))
        }
    }
}
