import Foundation
import Testing
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
