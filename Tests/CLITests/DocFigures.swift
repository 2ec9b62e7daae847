import Detectors
import Filters
import Foundation
import Harness
import PeakKit
import Rendering
import Testing

/// The pictures in docs/ that are computed, each with a check of what it shows. They are
/// rewritten with the golden files: `PEAKS_UPDATE_GOLDEN=1 swift test --filter DocFigures`.
@Suite(.serialized) struct DocFigures {
    static let images = PeaksExecutable.packageRoot.appendingPathComponent("docs/images")

    /// 3600 spots of sigma 1 px (amplitude 200 over a background of 10, Gaussian noise of 0.5) at
    /// uniformly random subpixel positions, each refined from its brightest pixel by every
    /// `--refine` method, and located by the `log` detector. The histogram of the fractional
    /// parts (x - round(x), y - round(y)) is flat for an unbiased estimator; pixel locking piles
    /// estimates up near 0 (the pixel centre).
    @Test func pixelLockingHistogram() throws {
        var rng = SeededRandom(seed: 77)
        let grid = 60, step = 16
        var image = Image(width: grid * step, height: grid * step, repeating: 10)
        var spots: [Spot] = []
        for j in 0..<grid { for i in 0..<grid {
            spots.append(Spot(x: Double(i * step + step / 2) + rng.uniform(-0.5, 0.5),
                              y: Double(j * step + step / 2) + rng.uniform(-0.5, 0.5), amplitude: 200, sigma: 1))
        } }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 0.5, rng: &rng)

        func frac(_ v: Double) -> Double { v - v.rounded() }
        var panels: [HistogramPanel] = []
        var spread: [String: Double] = [:]
        let methods: [(String, SubpixelMethod, Int)] = [("com 7x7", .com, 7), ("parabolic", .parabolic, 3), ("quadratic 3x3", .quadratic, 3), ("gaussian", .gaussian, 3)]
        let bins = 25
        let reference = Double(2 * spots.count) / Double(bins)
        func record(_ name: String, _ values: [Double]) {
            let panel = HistogramPanel(title: name, values: values, bins: bins, lower: -0.5, upper: 0.5, reference: reference)
            panels.append(panel)
            // Largest relative departure of a bin from the uniform count.
            spread[name] = panel.counts.map { abs($0 / reference - 1) }.max() ?? 0
        }
        for (name, method, size) in methods {
            var values: [Double] = []
            for s in spots {
                var best = (Int(s.x.rounded()), Int(s.y.rounded()))
                for dy in -1...1 { for dx in -1...1 where image[best.0 + dx, best.1 + dy] > image[best.0, best.1] {
                    best = (best.0 + dx, best.1 + dy)
                } }
                let r = SubpixelRefinement.refine(image: image, x: best.0, y: best.1, method: method, size: size)
                values += [frac(r.x), frac(r.y)]
            }
            record(name, values)
        }
        let detector = try builtinDetectors.require("log")
        let found = try detector.detect(in: image).peaks
        var cells: [Int: Peak] = [:]
        for p in found { cells[Int(p.y) / step * grid + Int(p.x) / step] = p }
        var logValues: [Double] = []
        for (k, s) in spots.enumerated() {
            if let p = cells[k], abs(p.x - s.x) < 1, abs(p.y - s.y) < 1 { logValues += [frac(p.x), frac(p.y)] }
        }
        #expect(logValues.count > 2 * spots.count * 99 / 100)
        record("log detector", logValues)
        let truth = spots.flatMap { [frac($0.x), frac($0.y)] }
        record("true positions", truth)

        print("pixel locking, largest bin departure from uniform: " + spread.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
        // Parabolic and quadratic lock visibly; the Gaussian fit and the LoG's model fit hardly
        // differ from the true positions' own sampling spread.
        let truthSpread = spread["true positions"] ?? 1
        #expect((spread["parabolic"] ?? 0) > 2 * truthSpread)
        #expect((spread["quadratic 3x3"] ?? 0) > 2 * truthSpread)
        #expect((spread["gaussian"] ?? 9) < 2 * truthSpread)
        #expect((spread["log detector"] ?? 9) < 2 * truthSpread)

        let png = try HistogramChart.png(
            title: "Fractional part of x and y: 3600 spots, sigma 1 px, amplitude 200, noise 0.5 (dashed: uniform)",
            panels: panels, columns: 3)
        if GoldenTests.updating { try AtomicFile.write(png, to: Self.images.appendingPathComponent("pixel-locking.png").path) }
    }

    /// docs/images/log-lattice-overlay.png is a copy of the golden overlay of `log` on the sample.
    @Test func logSampleOverlayIsTheGoldenOne() throws {
        let golden = PeaksExecutable.packageRoot.appendingPathComponent("Golden/lattice/log-overlay.png")
        let copy = Self.images.appendingPathComponent("log-lattice-overlay.png")
        if GoldenTests.updating { try AtomicFile.write([UInt8](Data(contentsOf: golden)), to: copy.path) }
        #expect(try Data(contentsOf: golden) == Data(contentsOf: copy), "refresh with PEAKS_UPDATE_GOLDEN=1")
    }

    /// The overlay of `log` on the quality scene (circles of radius sqrt(2) sigma).
    @Test func logSceneOverlay() throws {
        let scene = QualityScene.make()
        let detection = try builtinDetectors.require("log").detect(in: scene.image)
        #expect(detection.peaks.count >= scene.spots.count)
        let png = try Overlay.png(
            image: scene.image, mask: nil, peaks: detection.peaks, radii: detection.peaks.map { $0["radius"] ?? 0 },
            title: "log: \(detection.peaks.count) blobs in QualityScene (sigma 1-4, 5-20 noise sigmas, beam, slope)")
        if GoldenTests.updating { try AtomicFile.write(png, to: Self.images.appendingPathComponent("log-quality-scene.png").path) }
    }
}
