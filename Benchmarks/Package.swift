// swift-tools-version: 6.1
//
// Speed and memory benchmarks for peaks (ordo-one/benchmark). Kept in their own package so that
// `swift build` / `swift test` of peaks itself do not build the benchmark tooling.
//
//   cd Benchmarks && swift package benchmark                 # run all
//   cd Benchmarks && swift package benchmark --filter ".*2048.*"   # one size (regex, whole name)
//
// Figures and how to read them: docs/performance.md.
import Foundation
import PackageDescription

// A `path:` dependency is identified by its folder's name, which depends on where peaks was
// cloned; read it from this manifest's own location.
let peaksFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let peaksIdentity = peaksFolder.lastPathComponent.lowercased()

let package = Package(
    name: "peaks-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "PersistenceBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PeakKit", package: peaksIdentity),
                .product(name: "Detectors", package: peaksIdentity),
                .product(name: "Harness", package: peaksIdentity),
            ],
            path: "Benchmarks/PersistenceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "CorrelationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PeakKit", package: peaksIdentity),
                .product(name: "Correlation", package: peaksIdentity),
                .product(name: "Detectors", package: peaksIdentity),
                .product(name: "Harness", package: peaksIdentity),
            ],
            path: "Benchmarks/CorrelationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "LoGBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PeakKit", package: peaksIdentity),
                .product(name: "Detectors", package: peaksIdentity),
                .product(name: "Filters", package: peaksIdentity),
                .product(name: "Spectral", package: peaksIdentity),
                .product(name: "Harness", package: peaksIdentity),
            ],
            path: "Benchmarks/LoGBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "ReadBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PeakKit", package: peaksIdentity),
                .product(name: "ImageIO", package: peaksIdentity),
                .product(name: "Pipeline", package: peaksIdentity),
            ],
            path: "Benchmarks/ReadBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
