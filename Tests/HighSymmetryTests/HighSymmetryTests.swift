import Foundation
import Testing
import Correlation
import DetectorConformance
import Harness
import PeakKit
@testable import HighSymmetry

@Suite struct HighSymmetryConformance {
    @Test func conformance() {
        let failures = DetectorConformance.failures(of: HighSymmetryDetector(), scene: .centrosymmetric)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// On the asymmetric default scene the detector's premise fails: say what it does there.
    /// Either the detector refuses the scene (no usable centre, one line), or the centre it
    /// reports carries a symmetry score below that of a truly centrosymmetric scene.
    @Test func asymmetricSceneGivesNoFalseCertainty() throws {
        let (symmetricImage, _) = DetectorConformance.spotImage(scene: .centrosymmetric)
        let reference = try #require(number(try HighSymmetryDetector().detect(in: symmetricImage), "center_symmetry"))
        let (image, _) = DetectorConformance.spotImage()
        do {
            let d = try HighSymmetryDetector().detect(in: image)
            let score = try #require(number(d, "center_symmetry"))
            #expect(score < reference, "asymmetric scene scored \(score), the centrosymmetric one \(reference)")
        } catch let error as PeaksError {
            #expect(!error.description.contains("\n"))
        }
    }
}

private func number(_ d: Detection, _ name: String) -> Double? {
    if case .number(let v)? = d.diagnostic(name) { return v }
    return nil
}

@Suite struct HighSymmetryAccuracy {
    /// The bundled sample (Poisson noise, saturated beam): centre and Bragg spots.
    @Test func bundledLattice() throws {
        let s = SampleImages.lattice()
        let d = try HighSymmetryDetector().detect(in: s.image)
        let cx = try #require(number(d, "center_x")), cy = try #require(number(d, "center_y"))
        #expect(abs(cx - s.center.x) < 0.1 && abs(cy - s.center.y) < 0.1, "centre \(cx), \(cy)")
        #expect(d.diagnostic("center_method") == .string("autocenter"))
        var found = 0, errors: [Double] = []
        for spot in s.spots {
            if let p = d.peaks.min(by: { hypot($0.x - spot.x, $0.y - spot.y) < hypot($1.x - spot.x, $1.y - spot.y) }),
               hypot(p.x - spot.x, p.y - spot.y) <= 1.5 {
                found += 1
                errors.append(hypot(p.x - spot.x, p.y - spot.y))
            }
        }
        let recall = Double(found) / Double(s.spots.count)
        let median = errors.sorted()[errors.count / 2]
        print("high-symmetry on samples/lattice: \(d.peaks.count) peaks, recall \(recall), median error \(median) px, centre error \(hypot(cx - s.center.x, cy - s.center.y))")
        #expect(recall > 0.8)
        #expect(median < 0.25)
    }

    @Test func beamStopAndDeadPixelsMasked() throws {
        let s = SampleImages.lattice()
        var mask = Mask(width: 320, height: 320)
        for y in 150...168 { for x in 0...165 { mask[x, y] = false } }   // a beam stop arm
        for k in 0..<60 { mask[(k * 37 + 11) % 320, (k * 91 + 5) % 320] = false }
        let d = try HighSymmetryDetector().detect(in: s.image, mask: mask, options: .init(wantsLabels: true))
        let cx = try #require(number(d, "center_x")), cy = try #require(number(d, "center_y"))
        #expect(abs(cx - s.center.x) < 0.1 && abs(cy - s.center.y) < 0.1, "centre \(cx), \(cy)")
        for p in d.peaks { #expect(mask[p.pixel.x, p.pixel.y]) }
        let labels = try #require(d.labels)
        for i in 0..<mask.isValid.count where !mask.isValid[i] { #expect(labels.labels[i] == 0) }
        #expect(d.peaks.count > 60)
    }

    @Test func givenCentreIsUsedAndReported() throws {
        let s = SampleImages.lattice()
        let d = try HighSymmetryDetector().detect(in: s.image, ["center_x": .real(161.3), "center_y": .real(158.7)])
        #expect(d.diagnostic("center_method") == .string("given"))
        #expect(number(d, "center_x") == 161.3 && number(d, "center_y") == 158.7)
        #expect(throws: PeaksError.self) { try HighSymmetryDetector().detect(in: s.image, ["center_x": .real(3)]) }
    }

    @Test func refinementConvergesOnASpot() {
        var img = Image(width: 21, height: 21, repeating: 5)
        SpotRenderer.add([Spot(x: 10.3, y: 9.6, amplitude: 100, sigma: 1.6)], to: &img)
        let c = HighSymmetryDetector.refine(img, mask: Mask(width: 21, height: 21), from: (9.4, 10.2), sigma: 1.5)
        #expect(abs(c.x - 10.3) < 0.02 && abs(c.y - 9.6) < 0.02, "\(c)")
    }
}

/// `LatticeCentre`: point symmetry fixes a lattice pattern's centre only up to half a lattice
/// vector; the class whose predicted spots are bright is chosen.
@Suite struct LatticeCentreChoice {
    /// Spots at p0 + h a + k b on a flat background of 1 (the background-normalised pattern),
    /// and the lattice vectors within half the frame (what the autocorrelation reaches), shortest
    /// first.
    static let a = (x: 23.0, y: 4.0), b = (x: -5.0, y: 19.0), p0 = (x: 61.3, y: 58.6)
    static func pattern() -> (image: Image, vectors: [(x: Double, y: Double)]) {
        var image = Image(width: 128, height: 120, repeating: 1)
        var spots: [Spot] = []
        var vectors: [(x: Double, y: Double)] = []
        for h in -8...8 {
            for k in -8...8 {
                let v = (x: Double(h) * a.x + Double(k) * b.x, y: Double(h) * a.y + Double(k) * b.y)
                let x = p0.x + v.x, y = p0.y + v.y
                if x > -5, y > -5, x < 133, y < 125 { spots.append(Spot(x: x, y: y, amplitude: 4, sigma: 1.8)) }
                if (h != 0 || k != 0), abs(v.x) < 64, abs(v.y) < 60 { vectors.append(v) }
            }
        }
        SpotRenderer.add(spots, to: &image)
        vectors.sort { ($0.x * $0.x + $0.y * $0.y, $0.x, $0.y) < ($1.x * $1.x + $1.y * $1.y, $1.x, $1.y) }
        return (image, vectors)
    }

    /// A start on a lattice point stays exactly where it is.
    @Test func aCentreOnTheSpotsStays() {
        let (image, vectors) = Self.pattern()
        let mask = Mask(width: image.width, height: image.height)
        let c = LatticeCentre.choose(from: (Self.p0.x, Self.p0.y), vectors: vectors, image: image, mask: mask)
        #expect(c.x == Self.p0.x && c.y == Self.p0.y)
    }

    /// From each of the three half-lattice classes (all centres of symmetry of the spots), the
    /// centre moves onto a lattice point: the one nearest the middle of the frame.
    @Test(arguments: [(0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (-1.5, 2.5)])
    func aHalfLatticeStartMovesOntoTheSpots(_ half: (Double, Double)) {
        let (image, vectors) = Self.pattern()
        let mask = Mask(width: image.width, height: image.height)
        let start = (Self.p0.x + half.0 * Self.a.x + half.1 * Self.b.x, Self.p0.y + half.0 * Self.a.y + half.1 * Self.b.y)
        let c = LatticeCentre.choose(from: start, vectors: vectors, image: image, mask: mask)
        // Lattice coordinates of c - p0 must be integers.
        let det = Self.a.x * Self.b.y - Self.a.y * Self.b.x
        let dx = c.x - Self.p0.x, dy = c.y - Self.p0.y
        let h = (dx * Self.b.y - dy * Self.b.x) / det, k = (Self.a.x * dy - Self.a.y * dx) / det
        #expect(abs(h - h.rounded()) < 1e-9 && abs(k - k.rounded()) < 1e-9, "from \(start): \(c), lattice coordinates \(h), \(k)")
        // The lattice point nearest the middle (63.5, 59.5) is p0 itself.
        #expect(abs(c.x - Self.p0.x) < 1e-9 && abs(c.y - Self.p0.y) < 1e-9, "\(c)")
    }

    /// The lattice vectors are read off the autocorrelation magnitude's regions: on a lattice
    /// of blobs centred on lag 0, the shortest ones found are a, b and their sums.
    @Test func latticeVectorsFromRegions() {
        var magnitude = Image(width: 129, height: 121, repeating: 0)
        var spots: [Spot] = []
        for h in -3...3 { for k in -3...3 {
            spots.append(Spot(x: 64 + Double(h) * Self.a.x + Double(k) * Self.b.x, y: 60 + Double(h) * Self.a.y + Double(k) * Self.b.y, amplitude: 1, sigma: 2))
        } }
        SpotRenderer.add(spots, to: &magnitude)
        let vectors = LatticeCentre.latticeVectors(of: magnitude, lagZero: (64, 60), erosionRadius: 2, maxRegionArea: 0.2 * 129 * 121)
        let expected = [Self.a, Self.b, (x: Self.a.x + Self.b.x, y: Self.a.y + Self.b.y), (x: Self.a.x - Self.b.x, y: Self.a.y - Self.b.y)]
        for e in expected {
            for sign in [1.0, -1.0] {
                #expect(vectors.prefix(8).contains { abs($0.x - sign * e.x) < 0.05 && abs($0.y - sign * e.y) < 0.05 }, "\(sign) \(e) not among \(vectors.prefix(8))")
            }
        }
        #expect(!vectors.contains { $0.x * $0.x + $0.y * $0.y < 4 })
    }
}

/// `high-symmetry` on the Golden/real cases (real images, truth built without peaks). The
/// diffraction pattern and the lattices it runs on have a regression floor; the star fields,
/// fluorescence and tracking images have no point symmetry and must be refused (one line).
@Suite("Golden/real corpus, high-symmetry")
struct HighSymmetryRealCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Golden/real")

    /// F1 with the defaults, rounded down to 0.01 (session 11). ed-merlin-spots was 0.000 before
    /// the lattice-class choice: autocenter found a half-lattice point (the beam is behind the
    /// beam stop at the left edge). stem-abf-srtio3 shows its columns dark on a bright
    /// background: the predicted spots are the bright gaps, F1 0 (left out; use persistence).
    /// stem-adf-srtio3 (bright columns) reports 26 peaks, mostly off the columns (F1 0.064): the
    /// magnitude |A| of a zero-mean lattice's autocorrelation has its negative lobes folded up
    /// into extra peaks. Both are real-space lattices, not the patterns the detector is for.
    static let floors: [String: Double] = ["ed-merlin-spots": 0.85, "stem-mos2-se": 0.89]
    static let refused = ["astro-dss", "astro-hubble", "astro-m13", "fluo-nuclei-stardist", "fluo-spots-hybiss",
                          "fluo-spots-terra", "track-telomeres-f0", "track-telomeres-f100",
                          "xray-laue-ge-a", "xray-laue-ge-b", "xray-laue-ge-c"]

    @Test(arguments: ["ed-merlin-spots", "stem-mos2-se"])
    func reachesItsFloor(_ name: String) throws {
        let c = try RealCorpusCase(name, root: Self.root)
        let d = try HighSymmetryDetector().detect(in: c.image)
        let s = c.score(d.peaks)
        print("high-symmetry on \(name): F1 \(s.f1) (TP \(s.truePositives), FP \(s.falsePositives), FN \(s.falseNegatives)), centre \(String(describing: d.diagnostic("center_x"))), \(String(describing: d.diagnostic("center_y")))")
        #expect(s.f1 >= Self.floors[name]!, "\(name): F1 \(s.f1)")
    }

    /// Merlin: the centre reported lies on the spot lattice (within 1 px of a true spot), and
    /// the diagnostics say it was moved off autocenter's symmetry centre.
    @Test func merlinCentreMovesOntoTheLattice() throws {
        let c = try RealCorpusCase("ed-merlin-spots", root: Self.root)
        let d = try HighSymmetryDetector().detect(in: c.image)
        #expect(d.diagnostic("center_method") == .string("autocenter+lattice"))
        let cx = try #require(number(d, "center_x")), cy = try #require(number(d, "center_y"))
        #expect(c.truth.contains { hypot($0.x - cx, $0.y - cy) < 1 }, "centre (\(cx), \(cy))")
    }

    /// The Merlin pattern with its beam stop masked (a rectangle over the dark arm, x < 27,
    /// y < 158, as a user would draw it): the halo's centre is then out of the envelope stage's
    /// reach (no positive correlation of the blurred crop with its inversion), autocenter takes
    /// the strongest symmetry peak instead of failing, and without the beam stop's edge in the
    /// normalised image the spot under the centre is found too (7 of 8, no false one).
    @Test func merlinWithTheBeamStopMasked() throws {
        let c = try RealCorpusCase("ed-merlin-spots", root: Self.root)
        var mask = Mask(width: c.image.width, height: c.image.height)
        for y in 0..<158 { for x in 0..<27 { mask[x, y] = false } }
        let d = try HighSymmetryDetector().detect(in: c.image, mask: mask)
        let s = c.score(d.peaks)
        print("high-symmetry on ed-merlin-spots, beam stop masked: F1 \(s.f1) (TP \(s.truePositives), FP \(s.falsePositives))")
        #expect(s.f1 >= 0.93, "F1 \(s.f1)")
    }

    @Test(arguments: HighSymmetryRealCorpusTests.refused)
    func noPointSymmetryIsRefused(_ name: String) throws {
        let c = try RealCorpusCase(name, root: Self.root)
        do {
            let d = try HighSymmetryDetector().detect(in: c.image)
            Issue.record("\(name): not refused, \(d.peaks.count) peaks, symmetry \(String(describing: d.diagnostic("center_symmetry")))")
        } catch let error as PeaksError {
            #expect(error.description.contains("point symmetry") && !error.description.contains("\n"), "\(error)")
        }
    }
}

/// Autocenter when the envelope gives no guide: a lattice of spots on a halo whose centre (the
/// direct beam) lies beyond the left edge of the frame, as on the Merlin pattern with its beam
/// stop masked. The blurred crop correlates nowhere positively with its inversion; the fine
/// stage's strongest peak is still a centre of symmetry of the spots (a half-lattice point
/// p0 + l / 2), and the detector then puts its spots on the lattice.
@Suite struct AutocenterWithoutEnvelope {
    static let a = (x: 23.0, y: 4.0), b = (x: -5.0, y: 19.0), p0 = (x: -31.3, y: 96.6)

    static func pattern() -> (Image, [Spot]) {
        var image = Image(width: 200, height: 200) { x, y in
            let dx = Double(x) - p0.x, dy = Double(y) - p0.y
            return Float(5 + 60 * exp(-(dx * dx + dy * dy) / (2 * 70 * 70)))
        }
        var spots: [Spot] = []
        for h in -20...20 {
            for k in -20...20 where h != 0 || k != 0 {
                let x = p0.x + Double(h) * a.x + Double(k) * b.x, y = p0.y + Double(h) * a.y + Double(k) * b.y
                if x > -4, y > -4, x < 203, y < 203 { spots.append(Spot(x: x, y: y, amplitude: 40, sigma: 1.6)) }
            }
        }
        SpotRenderer.add(spots, to: &image)
        return (image, spots.filter { $0.x >= 3 && $0.y >= 3 && $0.x <= 196 && $0.y <= 196 })
    }

    @Test func strongestSymmetryPeakIsAHalfLatticePoint() throws {
        let (image, _) = Self.pattern()
        let r = try Autocenter.find(image)
        #expect(!r.envelopeGuided, "the envelope guided the search: symmetry \(r.peak)")
        #expect(r.peak >= 0.25)
        // 2 (c - p0) must be a lattice vector: integer lattice coordinates.
        let det = Self.a.x * Self.b.y - Self.a.y * Self.b.x
        let dx = 2 * (r.x - Self.p0.x), dy = 2 * (r.y - Self.p0.y)
        let h = (dx * Self.b.y - dy * Self.b.x) / det, k = (Self.a.x * dy - Self.a.y * dx) / det
        #expect(abs(h - h.rounded()) < 0.01 && abs(k - k.rounded()) < 0.01, "centre (\(r.x), \(r.y)): lattice coordinates of 2(c - p0) \(h), \(k)")
    }

    @Test func detectorPutsItsSpotsOnTheLattice() throws {
        let (image, spots) = Self.pattern()
        let d = try HighSymmetryDetector().detect(in: image)
        var found = 0
        for s in spots where d.peaks.contains(where: { hypot($0.x - s.x, $0.y - s.y) < 1 }) { found += 1 }
        let onSpots = d.peaks.filter { p in spots.contains { hypot(p.x - $0.x, p.y - $0.y) < 1 } }.count
        print("high-symmetry without an envelope guide: \(found) of \(spots.count) spots, \(d.peaks.count) peaks, centre method \(String(describing: d.diagnostic("center_method")))")
        #expect(Double(found) >= 0.8 * Double(spots.count))
        #expect(Double(onSpots) >= 0.9 * Double(d.peaks.count))
    }
}
