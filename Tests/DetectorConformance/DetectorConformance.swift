import Foundation
import PeakKit

/// Properties every detector must have, checked on the same inputs for every plugin. Each check
/// returns a list of failures (empty = pass) so any test framework can assert on it; a detector's
/// test target calls `DetectorConformance.failures(of:)` and expects it empty.
public enum DetectorConformance {
    /// The test scene. Detectors built on an assumption about the pattern run the same checks on
    /// a scene that meets it.
    public enum Scene: Sendable {
        /// Seven Gaussian spots of different heights, placed without any symmetry (the default).
        case spots
        /// A centrosymmetric diffraction-like scene for detectors that need point symmetry
        /// (`high-symmetry`): a 2-D lattice of spots c + g around c = (47.6, 39.3), each Friedel
        /// pair (c + g, c - g) equally bright, every spot at least 6 px inside the image.
        case centrosymmetric
    }

    /// A deterministic test image: Gaussian spots on a smooth background with mild noise.
    public static func spotImage(width: Int = 96, height: Int = 80, offsetX: Int = 0, offsetY: Int = 0, seed: UInt64 = 3, scene: Scene = .spots) -> (Image, [(Double, Double)]) {
        // Noise from a hash of the position relative to the content (SplitMix64 finaliser), so a
        // shifted image holds exactly the shifted content; independent of the Harness module.
        func uniform(_ x: Int, _ y: Int) -> Double {
            var z = seed &+ UInt64(bitPattern: Int64(x - offsetX)) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: Int64(y - offsetY)) &* 0xD1B5_4A32_D192_ED03
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) * 0x1.0p-53
        }
        var base: [(Double, Double)] = [(20, 18), (45, 22), (70, 15), (25, 50), (55, 55), (75, 60), (40, 38)]
        var amplitudes: [Double] = [100, 80, 60, 120, 90, 70, 50]
        if scene == .centrosymmetric {
            let c = (47.6, 39.3), a = (12.3, 1.9), b = (-2.8, 11.6)
            base = []
            amplitudes = []
            for i in -6...6 {
                for j in -6...6 {
                    let g = (Double(i) * a.0 + Double(j) * b.0, Double(i) * a.1 + Double(j) * b.1)
                    let p = (c.0 + g.0, c.1 + g.1), q = (c.0 - g.0, c.1 - g.1)
                    guard min(p.0, q.0) >= 6, min(p.1, q.1) >= 6, max(p.0, q.0) <= 89, max(p.1, q.1) <= 73 else { continue }
                    base.append(p)
                    // Equal for g and -g: depends on |i| + |j| and |g| only.
                    amplitudes.append(100 * exp(-(g.0 * g.0 + g.1 * g.1).squareRoot() / 60) * (1 + 0.1 * Double((abs(i) + 2 * abs(j)) % 3)))
                }
            }
        }
        let centres = base.map { ($0.0 + Double(offsetX), $0.1 + Double(offsetY)) }
        let image = Image(width: width, height: height) { x, y in
            var v = 10.0 + 0.5 * uniform(x, y)
            for (k, c) in centres.enumerated() {
                let dx = Double(x) - c.0, dy = Double(y) - c.1
                v += amplitudes[k] * exp(-(dx * dx + dy * dy) / (2 * 2.0 * 2.0))
            }
            return Float(v)
        }
        return (image, centres)
    }

    /// - Parameters:
    ///   - detector: The detector under test.
    ///   - scene: The test scene.
    ///   - parameters: Settings every run uses (a template detector needs a template that fits
    ///     the scene's spots); the checks' own parameters are added to them.
    public static func failures(of detector: any PeakDetector, scene: Scene = .spots, parameters: [String: ParameterValue] = [:]) -> [String] {
        var f: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { f.append("\(detector.name): \(message())") } }
        func run(_ image: Image, mask: Mask? = nil, _ extra: [String: ParameterValue] = [:], nonFinite: NonFinitePolicy = .error, labels: Bool = false) -> Detection? {
            let given = parameters.merging(extra) { $1 }
            do { return try detector.detect(in: image, mask: mask, given, nonFinite: nonFinite, options: .init(wantsLabels: labels)) } catch {
                f.append("\(detector.name): unexpected error \(error)")
                return nil
            }
        }
        let (image, centres) = spotImage(scene: scene)

        // Finds the planted spots on a clean image with default parameters.
        if let d = run(image) {
            for c in centres {
                check(d.peaks.contains { abs($0.x - c.0) <= 1.5 && abs($0.y - c.1) <= 1.5 }, "missed the spot at \(c)")
            }
        }

        // Peaks inside the image and on valid pixels only.
        var mask = Mask(width: image.width, height: image.height)
        for y in 0..<image.height { for x in 0..<image.width where (x / 8 + y / 8) % 3 == 0 { mask[x, y] = false } }
        if let d = run(image, mask: mask) {
            for p in d.peaks {
                let (px, py) = p.pixel
                check(px >= 0 && py >= 0 && px < image.width && py < image.height, "peak outside the image at (\(p.x), \(p.y))")
                if px >= 0 && py >= 0 && px < image.width && py < image.height {
                    check(mask[px, py], "peak on an invalid pixel at (\(p.x), \(p.y))")
                }
            }
        }

        // Minimum distance honoured.
        for minDist in [3.0, 10.0, 30.0] {
            if let d = run(image, ["min_dist": .real(minDist)]) {
                for i in 0..<d.peaks.count {
                    for j in (i + 1)..<d.peaks.count {
                        let dx = d.peaks[i].x - d.peaks[j].x, dy = d.peaks[i].y - d.peaks[j].y
                        check((dx * dx + dy * dy).squareRoot() >= minDist, "peaks \(i), \(j) closer than min_dist \(minDist)")
                    }
                }
                check(!d.peaks.isEmpty, "min_dist \(minDist) removed every peak")
            }
        }

        // Border exclusion honoured.
        if let d = run(image, ["exclude_border": .integer(19)]) {
            for p in d.peaks {
                check(p.x >= 19 && p.y >= 19 && p.x <= Double(image.width - 20) && p.y <= Double(image.height - 20), "peak within exclude_border at (\(p.x), \(p.y))")
            }
        }

        // Deterministic, labels included; labels refer to peaks; each peak is in its own blob.
        if let a = run(image, labels: true), let b = run(image, labels: true) {
            check(a == b, "two runs on the same input differ")
            if let labels = a.labels {
                check(labels.width == image.width && labels.height == image.height, "label image has the wrong shape")
                check(labels.labels.allSatisfy { $0 >= 0 && Int($0) <= a.peaks.count }, "label out of range")
                for (k, p) in a.peaks.enumerated() {
                    let (px, py) = p.pixel
                    check(labels[px, py] == Int32(k + 1), "peak \(k) at (\(px), \(py)) is not inside its own blob")
                }
            } else {
                check(false, "no labels although asked for")
            }
        }

        // Ordered by strength, descending.
        if let d = run(image) {
            check(zip(d.peaks, d.peaks.dropFirst()).allSatisfy { $0.strength >= $1.strength }, "peaks not in descending strength order")
        }

        // Shifting the image shifts the peaks.
        let (shifted, _) = spotImage(width: 96 + 7, height: 80 + 4, offsetX: 7, offsetY: 4, scene: scene)
        if let a = run(image), let b = run(shifted) {
            let moved = a.peaks.filter { $0.x > 4 && $0.y > 4 && $0.x < 91 && $0.y < 75 }
            for p in moved {
                check(b.peaks.contains { abs($0.x - p.x - 7) < 0.05 && abs($0.y - p.y - 4) < 0.05 }, "peak at (\(p.x), \(p.y)) did not move by (7, 4)")
            }
        }

        // A constant image has no peaks.
        for value: Float in [0, 7.5, -3] {
            if let d = run(Image(width: 40, height: 30, repeating: value)) {
                check(d.peaks.isEmpty, "constant image \(value) gave \(d.peaks.count) peaks")
            }
        }

        // NaN pixels: an error by default, masked on request.
        var withNaN = image
        withNaN[20, 18] = .nan
        withNaN[3, 3] = .infinity
        do {
            _ = try detector.detect(in: withNaN, parameters)
            check(false, "NaN image accepted without --nonfinite mask")
        } catch let e as PeaksError {
            check(e.description.contains("NaN"), "NaN error does not say NaN: \(e)")
        } catch { check(false, "NaN image threw a non-PeaksError \(error)") }
        if let d = run(withNaN, nonFinite: .mask) {
            check(!d.peaks.contains { $0.pixel == (20, 18) || $0.pixel == (3, 3) }, "peak on a NaN pixel")
            check(d.peaks.allSatisfy { $0.value.isFinite && $0.strength.isFinite }, "non-finite numbers in the output")
        }

        // Empty image and mis-shaped mask are errors, not crashes.
        do { _ = try detector.detect(in: Image(width: 0, height: 0)); check(false, "empty image accepted") } catch {}
        do {
            _ = try detector.detect(in: image, mask: Mask(width: 5, height: 5))
            check(false, "mask of the wrong shape accepted")
        } catch let e as PeaksError {
            if case .shapeMismatch = e {} else { check(false, "wrong error for mask shape: \(e)") }
        } catch { check(false, "mask shape threw a non-PeaksError \(error)") }

        // Tiny images (1x1, 1xN, Nx1) do not crash: a result, or a one-line error when the
        // detector's settings cannot fit such a frame (a template larger than the image).
        for (w, h) in [(1, 1), (1, 7), (7, 1), (2, 2)] {
            do {
                _ = try detector.detect(in: Image(width: w, height: h) { x, y in Float(x * 3 + y) }, parameters)
            } catch let e as PeaksError {
                check(!e.description.contains("\n"), "tiny image error is not one line: \(e)")
            } catch { check(false, "tiny image threw a non-PeaksError \(error)") }
        }

        // Unknown parameters are rejected.
        do { _ = try detector.resolveParameters(["no_such_parameter": .real(1)]); check(false, "unknown parameter accepted") } catch {}
        return f
    }
}
