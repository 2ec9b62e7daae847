import Benchmark
import Detectors
import Filters
import Foundation
import Harness
import PeakKit
import Spectral

/// The `log` detector and the filters under it, on the same noisy image as the persistence
/// benchmarks (`BenchmarkImages.noisySpots`).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .peakMemoryResidentDelta, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 10)

    guard let detector = builtinDetectors.detector(named: "log") else { fatalError("no log detector") }
    let image = BenchmarkImages.noisySpots(size: 2048)
    // 18 scales over the same sigma range (1 ... 15.6): the same kernels' sizes and padding, twice
    // the scales. Peak memory must be the same as with 9 (three responses in memory at a time).
    Benchmark("log 2048x2048 noisy, 18 scales (k 1.1746)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try detector.detect(in: image, ["k": .real(1.1746), "max_power": .integer(18)]))
        }
    }
    Benchmark("log 2048x2048 noisy, defaults (9 scales)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try detector.detect(in: image))
        }
    }
    Benchmark("log 2048x2048 noisy, 9 scales, blob labels") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try detector.detect(in: image, options: .init(wantsLabels: true)))
        }
    }
    let kernel = Image(width: 31, height: 31) { x, y in
        let dx = Double(x - 15), dy = Double(y - 15)
        return Float(exp(-(dx * dx + dy * dy) / 50))
    }
    Benchmark("fft convolution 2048x2048 * 31x31, same") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try FFTConvolution.convolve(image, kernel, mode: .same))
        }
    }
    for sigma in [2.0, 10.0] {
        Benchmark("gaussian filter 2048x2048 sigma \(Int(sigma))") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(GaussianFilter.apply(image, sigma: sigma))
            }
        }
    }
}
