import Foundation
import Testing
import Harness
import ImageIO
import PeakKit
import Rendering

/// Golden-file regression tests on the bundled sample.
///
/// - The sample image must be what its generator (`SampleImages.lattice`) makes, bit for bit.
/// - `peaks detect` on it (the README's demo command) must give the committed peak list exactly,
///   the committed basin labels exactly, and the committed overlay within a per-channel tolerance
///   of `overlayTolerance` levels on at most `overlayMaxFraction` of the pixels (anti-aliasing
///   and font rasterisation may differ slightly between Cairo/FreeType builds).
///
/// On failure the actual outputs and a diff image are written to `.golden-failures/`.
/// After an intended change, refresh every golden file with:
///
///     PEAKS_UPDATE_GOLDEN=1 swift test --filter GoldenTests
@Suite(.serialized) struct GoldenTests {
    static let overlayTolerance: UInt8 = 8
    static let overlayMaxFraction = 0.01
    static let updating = ProcessInfo.processInfo.environment["PEAKS_UPDATE_GOLDEN"] == "1"
    static let root = PeaksExecutable.packageRoot
    static let failures = root.appendingPathComponent(".golden-failures")

    static func keepFailure(_ name: String, _ bytes: [UInt8]) {
        try? FileManager.default.createDirectory(at: failures, withIntermediateDirectories: true)
        try? Data(bytes).write(to: failures.appendingPathComponent(name))
    }

    @Test func sampleImageIsItsGeneratorsOutput() throws {
        let generated = SampleImages.lattice().image
        let path = Self.root.appendingPathComponent("samples/lattice.png")
        if Self.updating {
            let samples = generated.pixels.map { UInt16(max(0, min(65535, $0))) }
            try AtomicFile.write(try PNGEncoder.gray16(width: generated.width, height: generated.height, samples: samples), to: path.path)
        }
        let stored = try ImageFile.read(path.path)
        let differing = zip(stored.pixels, generated.pixels).filter { $0 != $1 }.count
        #expect(stored.width == generated.width && stored.height == generated.height && differing == 0,
                "samples/lattice.png differs from SampleImages.lattice() at \(differing) pixels")
    }

    @Test func demoCommandMatchesGoldenOutputs() throws {
        let dir = try temporaryFolder()
        let r = try PeaksExecutable.run([
            "detect", "samples/lattice.png", "--noise", "poisson",
            "-o", dir.appendingPathComponent("persistence.json").path,
            "--overlay", dir.appendingPathComponent("persistence-overlay.png").path,
            "--blobs", dir.appendingPathComponent("persistence-basins.png").path,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let golden = Self.root.appendingPathComponent("Golden/lattice")
        if Self.updating {
            try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
            for name in ["persistence.json", "persistence-overlay.png", "persistence-basins.png"] {
                let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
                try AtomicFile.write(bytes, to: golden.appendingPathComponent(name).path)
            }
        }

        // Peak list: exact.
        let actualList = try String(contentsOf: dir.appendingPathComponent("persistence.json"), encoding: .utf8)
        let expectedList = try String(contentsOf: golden.appendingPathComponent("persistence.json"), encoding: .utf8)
        if actualList != expectedList { Self.keepFailure("persistence.json", Array(actualList.utf8)) }
        #expect(actualList == expectedList, "peak list differs from Golden/lattice/persistence.json (actual in .golden-failures/)")

        // Basin labels: exact values.
        let actualBasins = try ImageFile.read(dir.appendingPathComponent("persistence-basins.png").path)
        let expectedBasins = try ImageFile.read(golden.appendingPathComponent("persistence-basins.png").path)
        if actualBasins != expectedBasins {
            Self.keepFailure("persistence-basins.png", try [UInt8](Data(contentsOf: dir.appendingPathComponent("persistence-basins.png"))))
        }
        let differing = zip(actualBasins.pixels, expectedBasins.pixels).filter { $0 != $1 }.count
        #expect(actualBasins.width == expectedBasins.width && actualBasins.height == expectedBasins.height && differing == 0,
                "basin labels differ from Golden/lattice/persistence-basins.png at \(differing) pixels (actual in .golden-failures/)")

        // Overlay: within tolerance.
        let actualPNG = try [UInt8](Data(contentsOf: dir.appendingPathComponent("persistence-overlay.png")))
        let actual = try RGBAImage.decodePNG(actualPNG)
        let expected = try RGBAImage.decodePNG([UInt8](Data(contentsOf: golden.appendingPathComponent("persistence-overlay.png"))))
        let difference = RGBAImage.compare(actual, expected, tolerance: Self.overlayTolerance)
        let fraction = Double(difference.differingPixels) / Double(max(1, expected.width * expected.height))
        let ok = actual.width == expected.width && actual.height == expected.height && fraction <= Self.overlayMaxFraction
        if !ok {
            Self.keepFailure("persistence-overlay.png", actualPNG)
            if let diff = try? difference.diff.encodePNG() { Self.keepFailure("persistence-overlay-diff.png", diff) }
        }
        #expect(ok, "overlay differs: \(difference.differingPixels) pixels beyond \(Self.overlayTolerance) levels (\(fraction * 100)%); see .golden-failures/")
    }
}
