import Testing
import Harness
import PeakKit
@testable import Filters

private func bruteGrey(_ image: Image, radius: Double, max: Bool) -> [Float] {
    var out = [Float](repeating: 0, count: image.count)
    let offsets = Morphology.diskOffsets(radius: radius)
    for y in 0..<image.height { for x in 0..<image.width {
        var best: Float = max ? -.infinity : .infinity
        for (dx, dy) in offsets {
            let i = x + dx, j = y + dy
            guard i >= 0, j >= 0, i < image.width, j < image.height else { continue }
            best = max ? Swift.max(best, image[i, j]) : Swift.min(best, image[i, j])
        }
        out[y * image.width + x] = best
    } }
    return out
}

private func bruteBinary(_ v: [Bool], _ w: Int, _ h: Int, radius: Double, erode: Bool, outside: Bool) -> [Bool] {
    var out = [Bool](repeating: false, count: v.count)
    let offsets = Morphology.diskOffsets(radius: radius)
    for y in 0..<h { for x in 0..<w {
        var acc = erode
        for (dx, dy) in offsets {
            let i = x + dx, j = y + dy
            let value = (i >= 0 && j >= 0 && i < w && j < h) ? v[j * w + i] : outside
            if erode { acc = acc && value } else { acc = acc || value }
        }
        out[y * w + x] = acc
    } }
    return out
}

@Suite struct MorphologyTests {
    @Test func diskFootprints() {
        #expect(Morphology.diskOffsets(radius: 0).count == 1)
        #expect(Morphology.diskOffsets(radius: -3).count == 1)
        #expect(Morphology.diskOffsets(radius: .nan).count == 1)
        #expect(Morphology.diskOffsets(radius: 1).count == 5)
        #expect(Morphology.diskOffsets(radius: 1.5).count == 9)
        #expect(Morphology.diskOffsets(radius: 2).count == 13)
        #expect(Morphology.diskOffsets(radius: 5).count == 81)  // Gauss circle problem, N(5) = 81
        for r in [0.7, 1.0, 2.3, 3.0, 4.5, 6.0] {
            let offsets = Morphology.diskOffsets(radius: r)
            var want = 0
            for dy in -7...7 { for dx in -7...7 where Double(dx * dx + dy * dy) <= r * r { want += 1 } }
            #expect(offsets.count == want)
            #expect(offsets.allSatisfy { Double($0.dx * $0.dx + $0.dy * $0.dy) <= r * r })
        }
    }

    @Test func greyMatchesBruteForce() {
        var rng = SeededRandom(seed: 77)
        for (w, h) in [(23, 17), (5, 40), (1, 9), (9, 1), (3, 3)] {
            let image = Image(width: w, height: h) { _, _ in Float(rng.uniform(-10, 10)).rounded() }
            for r in [0.0, 1.0, 1.5, 2.0, 3.2, 5.0, 12.0, 1e9] {
                #expect(Morphology.erode(image, radius: r).pixels == bruteGrey(image, radius: min(r, 100), max: false))
                #expect(Morphology.dilate(image, radius: r).pixels == bruteGrey(image, radius: min(r, 100), max: true))
            }
        }
        #expect(Morphology.erode(Image(width: 0, height: 0), radius: 3).isEmpty)
        #expect(Morphology.dilate(Image(width: 0, height: 7), radius: 3).isEmpty)
    }

    @Test func binaryMatchesBruteForce() {
        var rng = SeededRandom(seed: 78)
        for (w, h) in [(31, 19), (4, 25), (1, 1), (7, 2)] {
            for density in [0.2, 0.6, 0.95] {
                let v = (0..<(w * h)).map { _ in rng.uniform() < density }
                for r in [0.0, 1.0, 1.5, 2.0, 2.9, 4.0] {
                    #expect(Morphology.dilate(v, width: w, height: h, radius: r) == bruteBinary(v, w, h, radius: r, erode: false, outside: false))
                    #expect(Morphology.erode(v, width: w, height: h, radius: r) == bruteBinary(v, w, h, radius: r, erode: true, outside: false))
                    #expect(Morphology.erode(v, width: w, height: h, radius: r, outsideIsTrue: true) == bruteBinary(v, w, h, radius: r, erode: true, outside: true))
                }
            }
        }
    }

    @Test func binaryBorderConvention() {
        // All-true mask: erosion with outside = false shrinks from the edge by floor(r); with
        // outside = true nothing changes.
        let mask = Mask(width: 10, height: 8)
        let eroded = Morphology.erode(mask, radius: 2)
        #expect(eroded.validCount == (10 - 4) * (8 - 4))
        #expect(!eroded[1, 4] && eroded[2, 4] && eroded[7, 5] && !eroded[8, 5])
        #expect(Morphology.erode(mask, radius: 2, outsideIsTrue: true) == mask)
        // A single pixel dilates to the disk and erodes to nothing.
        var dot = Mask(width: 9, height: 9, allValid: false)
        dot[4, 4] = true
        #expect(Morphology.dilate(dot, radius: 2).validCount == 13)
        #expect(Morphology.erode(dot, radius: 1, outsideIsTrue: true).validCount == 0)
        #expect(Morphology.erode(dot, radius: 0) == dot)
    }

    @Test func nanIsIgnored() {
        var image = Image(width: 5, height: 5, repeating: 2)
        image[2, 2] = .nan
        image[0, 0] = 1
        let e = Morphology.erode(image, radius: 1.5)
        #expect(e[2, 2] == 2 && e[1, 1] == 1 && e[3, 3] == 2)
        #expect(Morphology.dilate(image, radius: 1)[2, 2] == 2)
    }
}
