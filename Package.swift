// swift-tools-version: 6.1
//
// peaks: find peaks in 2-D scientific images, register images, and measure accuracy.
//
// Layout (see docs/architecture.md):
//   C shims ......... CFFTW, CPNG, CCairo, CTIFF, CHDF5, CFITSIO (system libraries; CPNG holds a small C file)
//                     _PeaksLazyLibraries: HDF5, cfitsio, Cairo and libtiff loaded on first use
//   toolkit ......... PeakKit, ImageIO, Filters, Spectral, Rendering
//   detectors ....... Plugins/<Name>             (one module each; depend on the toolkit only)
//   registry ........ Detectors                  (the one list of built-in detectors)
//   executable ...... PeaksCLI -> `peaks`        (wiring only: no algorithm lives here)
import PackageDescription

let package = Package(
    name: "peaks",
    products: [
        .executable(name: "peaks", targets: ["PeaksCLI"]),
        .library(name: "PeakKit", targets: ["PeakKit"]),
        .library(name: "ImageIO", targets: ["ImageIO"]),
        .library(name: "Filters", targets: ["Filters"]),
        .library(name: "Spectral", targets: ["Spectral"]),
        .library(name: "Correlation", targets: ["Correlation"]),
        .library(name: "Rendering", targets: ["Rendering"]),
        .library(name: "Detectors", targets: ["Detectors"]),
        .library(name: "Harness", targets: ["Harness"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        // The C ABI (Sources/PeaksC/include/peaks.h) that the Python package in python/ loads.
        .library(name: "PeaksC", type: .dynamic, targets: ["PeaksC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: System libraries (Debian: libfftw3-dev, libpng-dev, libcairo2-dev)
        .systemLibrary(
            name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3",
            providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", providers: [.apt(["libcairo2-dev"])]),
        // libpng reports errors by longjmp, which Swift cannot catch: a small C file wraps the
        // full API behind setjmp and returns error codes (see Sources/CPNG/README.md).
        .target(
            name: "CPNG", path: "Sources/CPNG", exclude: ["README.md"],
            linkerSettings: [.linkedLibrary("png16")]),
        // TIFF, HDF5 and FITS readers (header-only static inline shims; see each folder's README).
        .systemLibrary(name: "CTIFF", path: "Sources/CTIFF", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5",
            providers: [.apt(["libhdf5-dev", "hdf5-filter-plugin", "bitshuffle"])]),
        .systemLibrary(name: "CFITSIO", path: "Sources/CFITSIO", providers: [.apt(["libcfitsio-dev"])]),
        // CCairo, CHDF5, CFITSIO and CTIFF are not linked: their functions are trampolines that
        // load the library on first use (the first three and their 50 dependencies cost ~9 ms at
        // every start, libtiff and its codecs 1.2-1.6 ms; Sources/_PeaksLazyLibraries/README.md).
        .target(name: "_PeaksLazyLibraries", exclude: ["README.md"]),
        // Compiler intrinsics (cache prefetch) for the union-find's random-access loop.
        .target(name: "_PeaksIntrinsics"),
        // Hot loops (the separable Gaussian's tap sums, a single spot fit's normal equations)
        // compiled for AVX2 and the baseline, chosen at run time, with the same results bit for bit.
        .target(name: "_PeaksVectorKernels", exclude: ["README.md"]),

        // MARK: Toolkit
        .target(name: "PeakKit", dependencies: ["_PeaksVectorKernels"], exclude: ["README.md"]),
        .target(
            name: "ImageIO", dependencies: ["PeakKit", "CPNG", "CTIFF", "CHDF5", "CFITSIO", "_PeaksLazyLibraries"], exclude: ["README.md"]),
        .target(name: "Filters", dependencies: ["PeakKit", "_PeaksVectorKernels"], exclude: ["README.md"]),
        .target(name: "Spectral", dependencies: ["CFFTW", "PeakKit", "_PeaksIntrinsics"], exclude: ["README.md"]),
        // Masked NCC, phase correlation with DFT upsampling, normxcorr2, shift fields, autocenter.
        .target(name: "Correlation", dependencies: ["PeakKit", "Spectral", "Filters", "_PeaksVectorKernels"], exclude: ["README.md"]),
        .target(name: "Rendering", dependencies: ["PeakKit", "CCairo", "_PeaksLazyLibraries"], exclude: ["README.md"]),
        // Synthetic images with ground truth, seeded generators (the evaluation harness).
        // Also matching, scores, evaluation runs, reports and run manifests.
        .target(
            name: "Harness", dependencies: ["PeakKit", "ImageIO", "Rendering", "Spectral"],
            exclude: ["README.md"]),

        // MARK: Detectors (plugins): each depends on the toolkit, never on another detector.
        .target(
            name: "Persistence", dependencies: ["PeakKit", "Filters", "Correlation", "_PeaksIntrinsics"],
            path: "Plugins/Persistence", exclude: ["README.md"]),
        .target(
            name: "HighSymmetry", dependencies: ["PeakKit", "Filters", "Correlation"],
            path: "Plugins/HighSymmetry", exclude: ["README.md"]),
        .target(
            name: "LaplacianOfGaussian", dependencies: ["PeakKit", "Filters", "Spectral", "Correlation"],
            path: "Plugins/LaplacianOfGaussian", exclude: ["README.md"]),
        .target(
            name: "Template", dependencies: ["PeakKit", "Filters", "Spectral", "Correlation", "ImageIO"],
            path: "Plugins/Template", exclude: ["README.md"]),

        // MARK: Registry, stack pipeline and executable
        .target(
            name: "Detectors", dependencies: ["PeakKit", "Persistence", "LaplacianOfGaussian", "HighSymmetry", "Template"],
            exclude: ["README.md"]),
        // Frames of a stack on all cores, results in frame order, bounded memory; the per-frame
        // detection job shared by the CLI and the C ABI.
        .target(name: "Pipeline", dependencies: ["PeakKit", "ImageIO", "Filters", "Correlation"], exclude: ["README.md"]),
        .target(
            name: "PeaksC", dependencies: ["PeakKit", "ImageIO", "Detectors", "Pipeline", "Correlation"],
            exclude: ["include", "README.md"]),
        .executableTarget(
            name: "PeaksCLI",
            dependencies: [
                "PeakKit", "ImageIO", "Filters", "Rendering", "Detectors", "Harness", "Correlation", "Spectral", "Pipeline", "_PeaksIntrinsics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"],
            // A position-dependent executable: the dynamic loader has no relative relocations
            // to apply (41,000 in a PIE build), which saves about 1 ms of every process's
            // start-up; docs/performance.md, "Session 24".
            linkerSettings: [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(platforms: [.linux]))]),

        // MARK: Tests
        .target(name: "DetectorConformance", dependencies: ["PeakKit"], path: "Tests/DetectorConformance"),
        .testTarget(name: "PeakKitTests", dependencies: ["PeakKit"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "PeakKit"], exclude: ["Fixtures"]),
        .testTarget(name: "FiltersTests", dependencies: ["Filters", "PeakKit", "Harness", "_PeaksVectorKernels"]),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "PeakKit", "ImageIO", "Rendering", "Detectors"]),
        .testTarget(name: "SpectralTests", dependencies: ["Spectral", "PeakKit", "Harness"]),
        .testTarget(name: "CorrelationTests", dependencies: ["Correlation", "Spectral", "Filters", "PeakKit", "Harness"]),
        .testTarget(name: "RenderingTests", dependencies: ["Rendering", "PeakKit"]),
        .testTarget(
            name: "PersistenceTests",
            dependencies: ["Persistence", "PeakKit", "Filters", "Harness", "DetectorConformance"]),
        .testTarget(
            name: "HighSymmetryTests",
            dependencies: ["HighSymmetry", "Correlation", "PeakKit", "Filters", "Harness", "DetectorConformance"]),
        .testTarget(
            name: "LaplacianOfGaussianTests",
            dependencies: ["LaplacianOfGaussian", "PeakKit", "Filters", "Spectral", "Harness", "DetectorConformance"]),
        .testTarget(
            name: "TemplateTests",
            dependencies: ["Template", "PeakKit", "Spectral", "Harness", "DetectorConformance"]),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "PeaksCLI", "Pipeline", "ImageIO", "PeakKit", "Filters", "Rendering", "Detectors", "Harness", "Correlation", "Spectral",
            ]),
    ]
)
