import Detectors
import Foundation
import ImageIO
import PeakKit
import Testing

/// `--spot-size SIGMA_PX` / `spot_size`: a hint every detector turns into its own scale
/// parameters (DetectionHints; docs/cli.md).
@Suite struct SpotSizeHint {
    static let real = PeaksExecutable.packageRoot.appendingPathComponent("Golden/real")

    func detector(_ name: String) throws -> any PeakDetector { try #require(builtinDetectors.detector(named: name)) }

    /// Bright Gaussian spots of sigma `s` on a grid, on a constant background with deterministic noise.
    static func spots(sigma s: Double, size: Int = 160, spacing: Int = 40) -> Image {
        var state: UInt64 = 12345
        func noise() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(state >> 11) / Double(1 << 53) - 0.5)
        }
        return Image(width: size, height: size) { x, y in
            var v = 10.0
            for cy in stride(from: spacing / 2, to: size, by: spacing) {
                for cx in stride(from: spacing / 2, to: size, by: spacing) {
                    let dx = Double(x - cx), dy = Double(y - cy)
                    v += 100 * exp(-(dx * dx + dy * dy) / (2 * s * s))
                }
            }
            return Float(v) + noise()
        }
    }

    /// The hint sets persistence's smoothing to sigma / sqrt 2 (session 26; sigma until then).
    @Test func persistenceWithTheHintIsPersistenceWithThatSmoothing() throws {
        let image = try ImageFile.read(Self.real.appendingPathComponent("stem-adf-srtio3/image.npy").path)
        let d = try detector("persistence")
        let hinted = try d.detect(in: image, parameters: d.resolveParameters(["spot_size": .real(3)]))
        let given = try d.detect(in: image, parameters: d.resolveParameters(["smooth": .real(3 * 0.5.squareRoot())]))
        #expect(hinted.peaks.count > 100)
        #expect(hinted.peaks == given.peaks)
        // Without either, smooth=auto measures a different scale from this image.
        let auto = try d.detect(in: image, parameters: d.resolveParameters([:]))
        #expect(auto.peaks != hinted.peaks)
    }

    @Test func resolvedParametersShowTheHintAndWhatItSet() throws {
        let p = try detector("persistence").resolveParameters(["spot_size": .real(2.5)])
        #expect(p["smooth"] == .real(2.5 * 0.5.squareRoot()))
        #expect(p.entries.last?.0 == "spot_size" && p["spot_size"] == .real(2.5))
        // An explicit parameter wins over the hint.
        let q = try detector("persistence").resolveParameters(["spot_size": .real(2.5), "smooth": .real(1)])
        #expect(q["smooth"] == .real(1))
        // Without a hint nothing is added.
        #expect(try detector("persistence").resolveParameters([:])["spot_size"] == nil)

        let t = try detector("template").resolveParameters(["spot_size": .real(3)])
        #expect(t["radius"] == .real(6) && t["sigma"] == .real(3))
        let h = try detector("high-symmetry").resolveParameters(["spot_size": .real(1)])
        #expect(h["refine_sigma"] == .real(1) && h["erosion_radius"] == .real(1))
        let h4 = try detector("high-symmetry").resolveParameters(["spot_size": .real(4)])
        #expect(h4["refine_sigma"] == .real(4) && h4["erosion_radius"] == .real(2))
    }

    @Test func logScaleRangeIsAroundTheHint() throws {
        let log = try detector("log")
        let p = try log.resolveParameters(["spot_size": .real(3)])
        // sigma / k ... 2 sigma in steps of k = 1.41: 2.13, 3.0, 4.2, 6.0 (5.96: a tenth of a
        // step short counts as reached).
        #expect(p["sigma"] == .real(3 / 1.41) && p["max_power"] == .integer(4))
        let k2 = try log.resolveParameters(["spot_size": .real(3), "k": .real(2)])
        #expect(k2["sigma"] == .real(1.5) && k2["max_power"] == .integer(3))
        let first = try log.resolveParameters(["spot_size": .real(3), "sigma": .real(1)])
        #expect(first["sigma"] == .real(1) && first["max_power"] == .integer(7))  // 1 ... 1.41^6 = 7.9 >= 6
        // Never below the default first scale, 1.41 px: a hint of 1 px gives 1.41 ... 2.8.
        let small = try log.resolveParameters(["spot_size": .real(1)])
        #expect(small["sigma"] == .real(1.41) && small["max_power"] == .integer(3))

        // The scales searched move with the hint: spots of sigma 6 are found at about 6 with a
        // hint of 6, and no blob is larger than the range's top (1.41 x 1.41^3 = 3.95 with a
        // hint of 1.5, plus the refinement's half step).
        let image = Self.spots(sigma: 6)
        let wide = try log.detect(in: image, parameters: log.resolveParameters(["spot_size": .real(6), "fit": .string("none")]))
        #expect(wide.peaks.count == 16)
        for b in wide.peaks { #expect(abs((b["sigma"] ?? 0) - 6) < 1, "\(b)") }
        let narrow = try log.detect(in: image, parameters: log.resolveParameters(["spot_size": .real(1.5), "fit": .string("none")]))
        for b in narrow.peaks { #expect((b["sigma"] ?? 99) <= 1.41 * pow(1.41, 3) * 1.41.squareRoot() + 1e-9, "\(b)") }
    }

    @Test func cliReportsTheHintAndEqualsGivenSmooth() throws {
        let image = "Golden/real/track-telomeres-f0/image.npy"
        let a = try PeaksExecutable.run(["detect", image, "--spot-size", "2", "--format", "csv"])
        let b = try PeaksExecutable.run(["detect", image, "-p", "smooth=\(2 * 0.5.squareRoot())", "--format", "csv"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout == b.stdout)
        let j = try PeaksExecutable.run(["detect", image, "--spot-size", "2", "--algo", "log"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let parameters = try #require(doc["parameters"] as? [String: Any])
        // (Foundation's JSON reader may round the last bit of 2 / 1.41 = 1.4184397163120568.)
        let first = try #require(parameters["sigma"] as? Double)
        #expect(parameters["spot_size"] as? Double == 2 && abs(first - 2 / 1.41) < 1e-12 && parameters["max_power"] as? Int == 4)
        // The keyword spelling works too (the C ABI and Python pass settings by name).
        let k = try PeaksExecutable.run(["detect", image, "-p", "spot_size=2", "--format", "csv"])
        #expect(k.status == 0 && k.stdout == a.stdout)
    }

    @Test(arguments: ["0", "-1", "nan", "inf", "abc", "1000"])
    func badHintsAreUsageErrors(_ value: String) throws {
        let r = try PeaksExecutable.run(["detect", "Golden/real/track-telomeres-f0/image.npy", "--spot-size", value])
        #expect(r.status == 2, "\(value): \(r.stderr)")
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("spot_size") || lines[0].contains("spot-size"), "\(r.stderr)")
    }
}
