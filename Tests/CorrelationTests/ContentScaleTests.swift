import Correlation
import Harness
import PeakKit
import Testing

@Suite struct StackLatticeVote {
    /// Hand cases of `ContentScale.stackLattice`: v and -v are one vote, written with dx > 0 (or
    /// dx = 0, dy > 0); different vectors of one lattice still make the stack periodic; half or
    /// fewer samples with a lattice give none; ties go to the first in text order.
    @Test func handCases() {
        #expect(ContentScale.stackLattice([(12, 0), (-12, 0), (0, 12), nil]) == "12,0")
        #expect(ContentScale.stackLattice([(0, -12), (0, 12), (12, 0), (12, 0)]) == "0,12")  // 2 votes each: text order
        #expect(ContentScale.stackLattice([(-5, 3), (0, 7), nil]) == "0,7")  // (5,-3) and (0,7) tie: "0,7" < "5,-3"
        #expect(ContentScale.stackLattice([(12, 0), nil]) == "none")
        #expect(ContentScale.stackLattice([(12, 0), nil, nil]) == "none")
        #expect(ContentScale.stackLattice([nil, nil]) == "none")
        #expect(ContentScale.stackLattice([]) == "none")
        #expect(ContentScale.stackLattice([(0, -9)]) == "0,9")
    }
}

@Suite struct LatticeOnlyAnalysis {
    /// `analyse(spotScale: false)` (used when the spot scale is given) measures the same lattice
    /// vector and periodicity as the full analysis, with and without invalid pixels, on a
    /// lattice and on isolated spots, and reports no spot scale.
    @Test(arguments: [true, false])
    func sameLatticeWithoutTheScale(periodic: Bool) throws {
        var rng = SeededRandom(seed: 23)
        var image = Image(width: 160, height: 144, repeating: 50)
        var spots: [Spot] = []
        if periodic {
            for gy in Swift.stride(from: 6, to: 144, by: 12) { for gx in Swift.stride(from: 5, to: 160, by: 13) {
                spots.append(Spot(x: Double(gx), y: Double(gy), amplitude: 20, sigma: 2))
            } }
        } else {
            for _ in 0..<25 { spots.append(Spot(x: rng.uniform(5, 155), y: rng.uniform(5, 139), amplitude: 30, sigma: 1.5)) }
        }
        SpotRenderer.add(spots, to: &image)
        SpotRenderer.addGaussianNoise(&image, sigma: 2, rng: &rng)
        var holed = [Bool](repeating: true, count: image.count)
        for y in 40..<60 { for x in 70..<100 { holed[y * image.width + x] = false } }
        for mask in [Mask(width: 160, height: 144), Mask(width: 160, height: 144, isValid: holed)] {
            let full = try ContentScale.analyse(image, mask: mask)
            let latticeOnly = try ContentScale.analyse(image, mask: mask, spotScale: false)
            #expect(full.spotSigma != nil)
            #expect(latticeOnly.spotSigma == nil)
            #expect(latticeOnly.periodicity == full.periodicity)
            #expect(latticeOnly.lattice?.dx == full.lattice?.dx && latticeOnly.lattice?.dy == full.lattice?.dy)
            #expect((full.lattice != nil) == periodic, "periodicity \(full.periodicity)")
            let given = try ContentScale.analyse(image, mask: mask, lattice: .given(dx: 13, dy: 0), spotScale: false)
            #expect(given.lattice?.dx == 13 && given.lattice?.dy == 0 && given.periodicity == 1 && given.spotSigma == nil)
            let absent = try ContentScale.analyse(image, mask: mask, lattice: .absent, spotScale: false)
            #expect(absent.lattice == nil && absent.periodicity == 0 && absent.spotSigma == nil)
        }
    }
}
