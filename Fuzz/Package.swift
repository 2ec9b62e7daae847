// swift-tools-version: 6.1
//
// libFuzzer targets for peaks' file readers, one executable per reader. Kept in their own package
// so that `swift build` / `swift test` of peaks never build with sanitizers.
//
//   scripts/fuzz [SECONDS_PER_TARGET]        # build and run every target (default 20 s each)
//
// Build by hand (in Fuzz/): swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
// Seeds: Fuzz/Corpus/<Target>/ (FuzzHDF5: Fuzz/Templates too). Figures, what is and is not
// fuzzed: docs/testing.md.
import Foundation
import PackageDescription

// A `path:` dependency is identified by its folder's name, which depends on where peaks was
// cloned; read it from this manifest's own location.
let peaksFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let peaksIdentity = peaksFolder.lastPathComponent.lowercased()

let readers = ["NPY", "PNG", "MRC", "MIB", "DM", "TIFF", "HDF5", "FITS"]

let package = Package(
    name: "peaks-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "ImageIO", package: peaksIdentity)]),
    ] + readers.map { reader in
        .executableTarget(
            name: "Fuzz\(reader)",
            dependencies: ["FuzzSupport", .product(name: "ImageIO", package: peaksIdentity)])
    }
)
