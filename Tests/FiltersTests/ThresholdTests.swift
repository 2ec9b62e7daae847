import Foundation
import Testing
import Harness
import PeakKit
@testable import Filters

@Suite struct ThresholdTests {
    @Test func histogramBinning() {
        let image = Image(width: 5, height: 1, pixels: [0, 1, 2, 3, 4])
        let h = Histogram(image, bins: 4)
        #expect(h.counts == [1, 1, 1, 2])  // the last bin is closed
        #expect(h.lower == 0 && h.upper == 4 && h.binWidth == 1 && h.center(0) == 0.5)
        var mask = Mask(width: 5, height: 1)
        mask[4, 0] = false
        #expect(Histogram(image, bins: 3, mask: mask).counts == [1, 1, 2])
        #expect(Histogram(Image(width: 2, height: 1, pixels: [.nan, 3]), bins: 0).counts == [1])
    }

    @Test func triangleByHand() {
        // Peak at bin 0, tail to the right: mirrored [1, 1, 2, 4, 10]; lengths 10 b - 4 h_b are
        // -4, 6, 12, 14 for b = 0...3, so b = 3, i.e. original bin 1, centre 1.5.
        #expect(Threshold.triangle(Histogram(counts: [10, 4, 2, 1, 1], lower: 0, upper: 5)) == 1.5)
        // The same reversed: tail to the left, original bin 3.
        #expect(Threshold.triangle(Histogram(counts: [1, 1, 2, 4, 10], lower: 0, upper: 5)) == 3.5)
        // Counts scaled: same bin.
        #expect(Threshold.triangle(Histogram(counts: [1000, 400, 200, 100, 100], lower: 0, upper: 5)) == 1.5)
    }

    @Test func otsuByHand() {
        // Two equal clusters; every split in the gap has the same variance: the first wins.
        #expect(Threshold.otsu(Histogram(counts: [5, 5, 0, 0, 5, 5], lower: 0, upper: 6)) == 1.5)
        // Unequal: [4, 0, 1] -> split after bin 0 (w0 w1 d^2 = 4 * 1 * 4 = 16) vs after bin 1 (same) -> 0.5.
        #expect(Threshold.otsu(Histogram(counts: [4, 0, 1], lower: 0, upper: 3)) == 0.5)
    }

    @Test func otsuSplitsBimodalData() {
        var rng = SeededRandom(seed: 3)
        var values: [Float] = []
        for _ in 0..<6000 { values.append(Float(10 + rng.normal())) }
        for _ in 0..<3000 { values.append(Float(30 + 2 * rng.normal())) }
        let image = Image(width: 90, height: 100, pixels: values)
        let t = Threshold.otsu(image)
        // Between the modes, clear of both (sigma_B^2 is nearly flat across the gap, so the exact
        // spot leans to the narrow mode: ~14 here, as skimage gives on the same data).
        #expect(t > 13 && t < 24, "otsu \(t)")
        let misclassified = values.enumerated().filter { ($0.offset < 6000) == (Double($0.element) > t) }.count
        #expect(misclassified < 20)
        #expect(abs(Threshold.otsu(image, bins: 1024) - t) < 1)
    }

    @Test func triangleSitsOnTheLongTail() {
        var rng = SeededRandom(seed: 4)
        var values: [Float] = []
        for _ in 0..<20000 { values.append(Float(10 + rng.normal())) }
        for _ in 0..<4000 { values.append(Float(10 - 15 * log(1 - rng.uniform()))) }  // exponential tail up
        let image = Image(width: 240, height: 100, pixels: values)
        let t = Threshold.triangle(image)
        #expect(t > 11 && t < 60, "triangle \(t)")
        // Mirrored data: the tail points down, the threshold below the peak, at the mirror image.
        let mirrored = Image(width: 240, height: 100, pixels: values.map { -$0 })
        let tm = Threshold.triangle(mirrored)
        #expect(tm < -11 && abs(tm + t) < 1.5, "triangle \(tm) vs \(t)")
    }

    @Test func degenerateInputsDoNotTrap() {
        #expect(Threshold.otsu(Image(width: 4, height: 4, repeating: 2.5)) == 2.5)
        #expect(Threshold.triangle(Image(width: 4, height: 4, repeating: -1)) == -1)
        #expect(Threshold.otsu(Image(width: 0, height: 0)).isNaN)
        #expect(Threshold.triangle(Image(width: 3, height: 0)).isNaN)
        #expect(Threshold.otsu(Image(width: 2, height: 1, pixels: [.nan, .infinity])).isNaN)
        #expect(Threshold.triangle(Histogram(counts: [], lower: 0, upper: 1)).isNaN)
        #expect(Threshold.triangle(Histogram(counts: [0, 0, 0], lower: 0, upper: 1)).isNaN)
        #expect(Threshold.otsu(Histogram(counts: [0, 7, 0], lower: 0, upper: 3)) == 1.5)
        #expect(Threshold.triangle(Histogram(counts: [0, 7, 0], lower: 0, upper: 3)) == 1.5)
        let two = Image(width: 2, height: 1, pixels: [1, 2])
        #expect(Threshold.otsu(two, bins: 0).isFinite && Threshold.triangle(two, bins: -4).isFinite)
        #expect(Threshold.otsu(two, bins: 2) == 1.25)
    }
}
