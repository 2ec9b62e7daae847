import Foundation
import Testing
import Detectors
import Harness
import PeakKit
import Rendering

/// Golden regression for every registered algorithm on a small fixed set of generated cases:
/// each synthetic class at 128 x 128, seed 1 (`peaks generate --class C --size 128 --seed 1`).
///
/// Per class and algorithm, Golden/harness/ holds the peak list with default parameters
/// (`CLASS-ALGO.json`, compared exactly) and the match overlay (`CLASS-ALGO.png`: true positives,
/// false positives and misses at tolerance 3 px; compared like GoldenTests' overlay: a pixel differs
/// when a channel differs by more than `GoldenTests.overlayTolerance` levels, and at most
/// `GoldenTests.overlayMaxFraction` of the pixels may differ). The generated images themselves are
/// pinned by the SHA-256 of their image.npy in `images.sha256`.
///
/// On failure the actual files and a diff image go to `.golden-failures/harness/`. A newly
/// registered algorithm has no golden files until they are made with
///
///     PEAKS_UPDATE_GOLDEN=1 swift test --filter GoldenTests
@Suite(.serialized) struct HarnessGoldenTests {
    static let folder = GoldenTests.root.appendingPathComponent("Golden/harness")
    static let size = 128, seed: UInt64 = 1, tolerance = 3.0
    static var overlayOptions: OverlayOptions {
        var o = OverlayOptions()
        o.minimumWidth = 256
        return o
    }

    static func keep(_ name: String, _ bytes: [UInt8]) { GoldenTests.keepFailure("harness-" + name, bytes) }

    static func golden(_ name: String, actual: [UInt8]) throws -> [UInt8]? {
        let url = folder.appendingPathComponent(name)
        if GoldenTests.updating {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try AtomicFile.write(actual, to: url.path)
        }
        return (try? Data(contentsOf: url)).map { [UInt8]($0) }
    }

    @Test func generatedImagesArePinned() throws {
        let lines = try SyntheticClass.allCases.map { c -> String in
            let g = try SyntheticGenerator.generate(c, size: Self.size, seed: Self.seed)
            let npy = try #require(GeneratedFiles.render(g).first { $0.name == "image.npy" })
            return "\(SHA256.hex(npy.bytes))  \(c.rawValue)-\(Self.size)-seed\(Self.seed)/image.npy\n"
        }.joined()
        let expected = try Self.golden("images.sha256", actual: Array(lines.utf8))
        if expected != Array(lines.utf8) { Self.keep("images.sha256", Array(lines.utf8)) }
        #expect(expected == Array(lines.utf8), "generated images changed (Golden/harness/images.sha256); actual in .golden-failures/")
    }

    @Test(arguments: SyntheticClass.allCases)
    func everyAlgorithmMatchesItsGoldenFiles(_ c: SyntheticClass) throws {
        let g = try SyntheticGenerator.generate(c, size: Self.size, seed: Self.seed)
        for detector in builtinDetectors.detectors {
            let parameters = try detector.resolveParameters([:])
            let name = "\(c.rawValue)-\(detector.name)"
            let detection: Detection
            do {
                detection = try detector.detect(in: g.image, mask: g.mask, parameters: parameters)
            } catch let error as PeaksError {
                // high-symmetry refuses a pattern without usable point symmetry (min_symmetry):
                // the refusal is the golden output.
                let text = Array("error: \(error.description)\n".utf8)
                let expected = try Self.golden(name + ".json", actual: text)
                if expected != text { Self.keep(name + ".json", text) }
                #expect(expected == text, "\(name): error differs (actual in .golden-failures/)")
                continue
            }
            let list = PeakListFormat.json.render(
                detection, algorithm: detector.name, parameters: parameters,
                source: ImageSource(path: "\(c.rawValue)-\(Self.size)-seed\(Self.seed)/image.npy", width: g.image.width, height: g.image.height))
            let expectedList = try Self.golden(name + ".json", actual: Array(list.utf8))
            if expectedList != Array(list.utf8) { Self.keep(name + ".json", Array(list.utf8)) }
            #expect(expectedList != nil, "no Golden/harness/\(name).json: run PEAKS_UPDATE_GOLDEN=1 swift test --filter GoldenTests")
            #expect(expectedList == nil || expectedList == Array(list.utf8), "\(name): peak list differs (actual in .golden-failures/)")

            let points = detection.peaks.map { Point(x: $0.x, y: $0.y) }
            let match = Matching.match(detections: points, truth: g.peaks.map { Point(x: $0.x, y: $0.y) }, tolerance: Self.tolerance)
            let png = try MatchOverlay.png(
                image: g.image, mask: g.mask,
                truePositives: match.pairs.map { ((points[$0.detection].x, points[$0.detection].y), (g.peaks[$0.truth].x, g.peaks[$0.truth].y)) },
                falsePositives: match.unmatchedDetections.map { (points[$0].x, points[$0].y) },
                misses: match.unmatchedTruth.map { (g.peaks[$0].x, g.peaks[$0].y) },
                title: "\(detector.name) on \(c.rawValue): F1 \(String(format: "%.3f", Scores(match).f1))",
                options: Self.overlayOptions)
            guard let expectedPNG = try Self.golden(name + ".png", actual: png) else {
                Issue.record("no Golden/harness/\(name).png: run PEAKS_UPDATE_GOLDEN=1 swift test --filter GoldenTests")
                continue
            }
            let actual = try RGBAImage.decodePNG(png), expected = try RGBAImage.decodePNG(expectedPNG)
            let d = RGBAImage.compare(actual, expected, tolerance: GoldenTests.overlayTolerance)
            let fraction = Double(d.differingPixels) / Double(max(1, expected.width * expected.height))
            let ok = actual.width == expected.width && actual.height == expected.height && fraction <= GoldenTests.overlayMaxFraction
            if !ok {
                Self.keep(name + ".png", png)
                if let diff = try? d.diff.encodePNG() { Self.keep(name + "-diff.png", diff) }
            }
            #expect(ok, "\(name): overlay differs at \(d.differingPixels) pixels (\(fraction * 100)%); see .golden-failures/")
        }
    }
}
