import Foundation
import Testing
import Detectors
import PeakKit
import Rendering
@testable import Harness

/// A detector that reports exactly the pixels above a threshold that are strict local maxima
/// of their 3x3 neighbourhood, with prominence = value - threshold. Simple enough to check by hand.
struct MaximaDetector: PeakDetector {
    var name = "maxima"
    var summary = "3x3 local maxima above a threshold"
    struct Settings: DetectorSettings {
        var prominence = 5.0
        static let fields: [SettingField<Settings>] = [.real("prominence", \.prominence, range: 0...1e9, help: "threshold")]
    }
    func candidates(in image: Image, mask: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
        let t = settings.prominence
        var peaks: [Peak] = []
        for y in 1..<(image.height - 1) {
            for x in 1..<(image.width - 1) where image[x, y] > Float(t) {
                var isMax = true
                for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 { if image[x + dx, y + dy] >= image[x, y] { isMax = false } } }
                if isMax { peaks.append(Peak(x: Double(x), y: Double(y), value: Double(image[x, y]), strength: Double(image[x, y]) - t, attributes: ["prominence": Double(image[x, y])])) }
            }
        }
        return Detection(peaks: peaks, attributeNames: ["prominence"], strengthName: "prominence")
    }
}

@Suite struct EvaluationTests {
    /// Two hand-made cases: scores per case, per class, and the sweep against hand counts.
    @Test func scoresAndSweepOnHandMadeCases() throws {
        var a = Image(width: 20, height: 20)
        a[5, 5] = 10; a[14, 14] = 3; a[10, 3] = 8  // truth at (5,5) and (14,14); (10,3) is false
        let c1 = EvaluationCase(name: "a", className: "k", image: a, mask: nil,
                                truth: [TruthPeak(x: 5.5, y: 5), TruthPeak(x: 14, y: 14)])
        let r = try Evaluation.run(cases: [c1], detectors: [MaximaDetector()], settings: EvaluationSettings(tolerance: 1, sweepSteps: 4, threads: 1))
        let s = r.result(case: 0, algorithm: 0).scores
        // Default threshold 5: detections (5,5) and (10,3): 1 TP (0.5 px off), 1 FP, 1 FN.
        #expect(s.truePositives == 1 && s.falsePositives == 1 && s.falseNegatives == 1)
        #expect(s.rmse == 0.5 && s.biasX == -0.5 && s.biasY == 0)
        let sweep = try #require(r.sweeps.first)
        // Probe at 0 finds all three (prominences 10, 8, 3); ranks round(3^(k/3)) = 1, 1, 2, 3
        // give thresholds 8 (keeps the strongest) and 3 (keeps two); the value grid adds
        // 3 (10/3)^(k/3) = 3, 4.48, 6.69, 10; plus 0.
        let expected = [0, 3, 3 * pow(10.0 / 3, 1.0 / 3), 3 * pow(10.0 / 3, 2.0 / 3), 8, 10]
        #expect(sweep.points.count == expected.count)
        #expect(zip(sweep.points.map(\.threshold), expected).allSatisfy { abs($0 - $1) < 1e-9 })
        #expect(sweep.points.map(\.scores.truePositives) == [2, 1, 1, 1, 1, 0])
        #expect(sweep.points.map(\.scores.falsePositives) == [1, 1, 1, 1, 0, 0])
        // F1: 0.8 at 0, 0.5 at 3 to 6.69, 2/3 at 8, 0 at 10; the best is at threshold 0.
        #expect(sweep.best == 0 && abs(sweep.points[0].scores.f1 - 0.8) < 1e-12)
        #expect(sweep.defaultScores == s)
    }

    @Test func resultsAreIdenticalForOneThreadAndMany() throws {
        let cases = try SyntheticClass.allCases.flatMap { c in try (0..<2).map { try EvaluationCase.generated(c, index: $0, size: 64, seed: 4) } }
        let info = RunInfo(peaksVersion: "test", gitCommit: nil, arguments: [], settings: [("size", .integer(64))], command: "peaks evaluate", threads: 1)
        var outputs: [[String: [UInt8]]] = []
        for threads in [1, 4] {
            let r = try Evaluation.run(cases: cases, detectors: builtinDetectors.detectors, settings: EvaluationSettings(tolerance: 3, sweepSteps: 6, threads: threads))
            let files = try EvaluationReport.files(r, info: info, overlays: false)
            outputs.append(Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.bytes) }))
        }
        for name in ["results.json", "results.csv", "report.md", "report.html", "images/f1.png", "images/errors.png"] {
            #expect(outputs[0][name] != nil && outputs[0][name] == outputs[1][name], "\(name) differs between 1 and 4 threads")
        }
        #expect(outputs[0]["timings.csv"] != nil && outputs[0]["manifest.json"] != nil)
    }

    @Test func reportFilesAreComplete() throws {
        let cases = [try EvaluationCase.generated(.symmetric, index: 0, size: 64, seed: 1), try EvaluationCase.generated(.noisy, index: 0, size: 64, seed: 1)]
        let r = try Evaluation.run(cases: cases, detectors: builtinDetectors.detectors, settings: EvaluationSettings(sweepSteps: 4, threads: 2))
        let info = RunInfo(peaksVersion: "test", gitCommit: "0123456789abcdef0123456789abcdef01234567", arguments: ["peaks"], settings: [], command: "peaks evaluate", threads: 2)
        let files = try EvaluationReport.files(r, info: info)
        let paths = files.map(\.path)
        for p in ["results.json", "results.csv", "timings.csv", "report.md", "report.html", "manifest.json", "images/f1.png", "images/errors.png", "images/pr-symmetric.png", "images/pr-noisy.png"] {
            #expect(paths.contains(p), "missing \(p)")
        }
        for name in builtinDetectors.names { #expect(paths.contains("overlays/symmetric-000-\(name).png")) }
        // Every output but the manifest itself and the run-dependent timings is listed in the
        // manifest with its SHA-256.
        let manifest = String(decoding: try #require(files.last { $0.path == "manifest.json" }).bytes, as: UTF8.self)
        for f in files where f.path != "manifest.json" && f.path != "timings.csv" {
            #expect(manifest.contains(SHA256.hex(f.bytes)), "\(f.path) not hashed")
        }
        #expect(!manifest.contains("timings.csv"))
        for c in cases { for i in c.inputs { #expect(manifest.contains(i.sha256)) } }
        #expect(manifest.contains("\"cairo\"") && manifest.contains("\"libpng\"") && manifest.contains("\"fftw\""))
        // results.json parses and has one case row per case and algorithm.
        let json = try JSONSerialization.jsonObject(with: Data(try #require(files.first { $0.path == "results.json" }).bytes)) as? [String: Any]
        #expect(json?["schema"] as? String == "peaks.evaluation/1")
        #expect((json?["cases"] as? [Any])?.count == cases.count * builtinDetectors.detectors.count)
        // PNGs decode.
        for f in files where f.path.hasSuffix(".png") { _ = try RGBAImage.decodePNG(f.bytes) }
    }

    @Test func chartTicksAreNice() {
        #expect(Charts.niceTicks(0, 1, maxCount: 6) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(Charts.niceTicks(0, 135, maxCount: 6) == [0, 50, 100])
        #expect(Charts.niceTicks(0, 3, maxCount: 8) == [0, 0.5, 1, 1.5, 2, 2.5, 3])
        #expect(Charts.tickText(0.6000000000000001) == "0.6" && Charts.tickText(2.5) == "2.5" && Charts.tickText(100) == "100")
    }
}
