import Foundation
import Testing
import Harness
import ImageIO
import PeakKit
import Rendering

/// Golden-file regression tests on the bundled sample.
///
/// - The sample image must be what its generator (`SampleImages.lattice`) makes, bit for bit.
/// - `peaks detect` on it (the README's demo command, and `--algo log`) must give the committed
///   peak lists exactly, the committed blob labels (basins, discs) exactly, and the committed overlay within a per-channel tolerance
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
        try checkGolden(prefix: "persistence", arguments: ["--noise", "poisson"], blobs: "basins")
    }

    /// The LoG detector with its defaults on the sample: peak list, disc blobs and overlay (circles
    /// of the blob radius).
    @Test func logDetectorMatchesGoldenOutputs() throws {
        try checkGolden(prefix: "log", arguments: ["--algo", "log"], blobs: "blobs")
    }

    /// Runs `peaks detect samples/lattice.png ARGUMENTS` and compares the peak list (exactly), the
    /// blob labels (exactly) and the overlay (within tolerance) with Golden/lattice/PREFIX*.
    func checkGolden(prefix: String, arguments: [String], blobs: String) throws {
        let dir = try temporaryFolder()
        let list = "\(prefix).json", overlay = "\(prefix)-overlay.png", labels = "\(prefix)-\(blobs).png"
        let r = try PeaksExecutable.run(["detect", "samples/lattice.png"] + arguments + [
            "-o", dir.appendingPathComponent(list).path,
            "--overlay", dir.appendingPathComponent(overlay).path,
            "--blobs", dir.appendingPathComponent(labels).path,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let golden = Self.root.appendingPathComponent("Golden/lattice")
        if Self.updating {
            try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
            for name in [list, overlay, labels] {
                let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
                try AtomicFile.write(bytes, to: golden.appendingPathComponent(name).path)
            }
        }

        // Peak list: exact.
        let actualList = try String(contentsOf: dir.appendingPathComponent(list), encoding: .utf8)
        let expectedList = try String(contentsOf: golden.appendingPathComponent(list), encoding: .utf8)
        if actualList != expectedList { Self.keepFailure(list, Array(actualList.utf8)) }
        #expect(actualList == expectedList, "peak list differs from Golden/lattice/\(list) (actual in .golden-failures/)")

        // Blob labels: exact values.
        let actualBlobs = try ImageFile.read(dir.appendingPathComponent(labels).path)
        let expectedBlobs = try ImageFile.read(golden.appendingPathComponent(labels).path)
        if actualBlobs != expectedBlobs {
            Self.keepFailure(labels, try [UInt8](Data(contentsOf: dir.appendingPathComponent(labels))))
        }
        let differing = zip(actualBlobs.pixels, expectedBlobs.pixels).filter { $0 != $1 }.count
        #expect(actualBlobs.width == expectedBlobs.width && actualBlobs.height == expectedBlobs.height && differing == 0,
                "blob labels differ from Golden/lattice/\(labels) at \(differing) pixels (actual in .golden-failures/)")

        // Overlay: within tolerance.
        let actualPNG = try [UInt8](Data(contentsOf: dir.appendingPathComponent(overlay)))
        let actual = try RGBAImage.decodePNG(actualPNG)
        let expected = try RGBAImage.decodePNG([UInt8](Data(contentsOf: golden.appendingPathComponent(overlay))))
        let difference = RGBAImage.compare(actual, expected, tolerance: Self.overlayTolerance)
        let fraction = Double(difference.differingPixels) / Double(max(1, expected.width * expected.height))
        let ok = actual.width == expected.width && actual.height == expected.height && fraction <= Self.overlayMaxFraction
        if !ok {
            Self.keepFailure(overlay, actualPNG)
            if let diff = try? difference.diff.encodePNG() { Self.keepFailure("\(prefix)-overlay-diff.png", diff) }
        }
        #expect(ok, "overlay differs: \(difference.differingPixels) pixels beyond \(Self.overlayTolerance) levels (\(fraction * 100)%); see .golden-failures/")
    }
}
