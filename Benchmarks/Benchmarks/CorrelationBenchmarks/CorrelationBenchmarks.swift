import Benchmark
import Correlation
import Detectors
import Foundation
import Harness
import PeakKit

/// A smooth random texture (noise, two 3-tap box blurs per axis), values about 0...100.
func texture(size: Int, seed: UInt64) -> Image {
    var rng = SeededRandom(seed: seed)
    var a = (0..<(size * size)).map { _ in Float(rng.uniform(0, 100)) }
    for _ in 0..<2 {
        var b = a
        for y in 0..<size { for x in 1..<(size - 1) { b[y * size + x] = (a[y * size + x - 1] + a[y * size + x] + a[y * size + x + 1]) / 3 } }
        a = b
        for y in 1..<(size - 1) { for x in 0..<size { a[y * size + x] = (b[(y - 1) * size + x] + b[y * size + x] + b[(y + 1) * size + x]) / 3 } }
    }
    return Image(width: size, height: size, pixels: a)
}

/// A centrosymmetric lattice pattern of `size`^2 centred at a subpixel position, with Poisson noise.
func pattern(size: Int) -> Image {
    var rng = SeededRandom(seed: 5)
    let c = (x: Double(size) / 2 + 0.37, y: Double(size) / 2 - 0.21)
    let a = (x: 31.3, y: 4.1), b = (x: -9.7, y: 28.9)
    var spots: [Spot] = []
    let n = size / 20
    for i in -n...n {
        for j in 0...n where j > 0 || i > 0 {
            let ox = Double(i) * a.x + Double(j) * b.x, oy = Double(i) * a.y + Double(j) * b.y
            let amp = 800 * exp(-(ox * ox + oy * oy).squareRoot() / Double(size / 3)) * rng.uniform(0.3, 1.5)
            for s in [1.0, -1.0] {
                let x = c.x + s * ox, y = c.y + s * oy
                if x > 4, y > 4, x < Double(size - 5), y < Double(size - 5) { spots.append(Spot(x: x, y: y, amplitude: amp, sigma: 1.8)) }
            }
        }
    }
    var image = Image(width: size, height: size) { x, y in
        let dx = Double(x) - c.x, dy = Double(y) - c.y
        return Float(200 * exp(-(dx * dx + dy * dy).squareRoot() / Double(size / 6)) + 20)
    }
    SpotRenderer.add(spots + [Spot(x: c.x, y: c.y, amplitude: 5000, sigma: 4)], to: &image)
    SpotRenderer.applyPoissonNoise(&image, rng: &rng)
    return image
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident],
        warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 10)

    let big = texture(size: 1100, seed: 1)
    func crop(_ x0: Int, _ y0: Int, _ s: Int) -> Image { Image(width: s, height: s) { x, y in big[x0 + x, y0 + y] } }
    let ref = crop(20, 20, 1024), mov = crop(27, 15, 1024)
    var rng = SeededRandom(seed: 9)
    let maskA = Mask(width: 1024, height: 1024, isValid: (0..<(1024 * 1024)).map { _ in rng.uniform() > 0.1 })
    let maskB = Mask(width: 1024, height: 1024, isValid: (0..<(1024 * 1024)).map { _ in rng.uniform() > 0.1 })
    Benchmark("masked NCC 1024x1024 full (register)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try MaskedNCC.register(reference: ref, moving: mov, referenceMask: maskA, movingMask: maskB))
        }
    }
    Benchmark("masked NCC 1024x1024 same") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try MaskedNCC.correlate(fixed: ref, fixedMask: maskA, moving: mov, movingMask: maskB, mode: .same))
        }
    }

    let p = pattern(size: 1024)
    Benchmark("autocenter 1024x1024") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try Autocenter.find(p)) }
    }
    if let detector = builtinDetectors.detector(named: "high-symmetry") {
        Benchmark("high-symmetry detect 1024x1024") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try detector.detect(in: p)) }
        }
    }

    let template = crop(500, 400, 64)
    Benchmark("normxcorr2 64x64 over 1024x1024 valid") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try NormXCorr2.correlate(template: template, image: ref, mode: .valid)) }
    }

    let big2 = texture(size: 2100, seed: 2)
    let r2 = Image(width: 2048, height: 2048) { x, y in big2[10 + x, 10 + y] }
    let m2 = Image(width: 2048, height: 2048) { x, y in big2[13 + x, 6 + y] }
    Benchmark("phase correlation 2048x2048 upsample 100") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try PhaseCorrelation.register(reference: r2, moving: m2, upsample: 100)) }
    }
}
