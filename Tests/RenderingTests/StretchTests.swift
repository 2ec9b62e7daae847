import Foundation
import PeakKit
import Testing
@testable import Rendering

/// A small deterministic pseudo-random generator (LCG) for test data.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() % (1 << 30)) / Double(1 << 30) }
}

/// numpy-style linear-interpolated percentile by full sort (the reference).
func referencePercentile(_ values: [Float], _ p: Double) -> Double {
    let s = values.sorted()
    let pos = p / 100 * Double(s.count - 1)
    let k = Int(pos.rounded(.down))
    let f = pos - Double(k)
    if k + 1 >= s.count { return Double(s[k]) }
    return Double(s[k]) + f * (Double(s[k + 1]) - Double(s[k]))
}

@Suite struct StretchTests {
    /// 101 pixels with values 0...100: p0.5 = 0.5, p99.5 = 99.5 (interpolated), median 50.
    @Test func linearEndpointsAndMidpoint() throws {
        let image = Image(width: 101, height: 1) { x, _ in Float(x) }
        let m = try DisplayMapping(image: image, stretch: .linear)
        #expect(m.stretch == .linear)
        #expect(abs(m.lo - 0.5) < 1e-9)
        #expect(abs(m.hi - 99.5) < 1e-9)
        #expect(m.median == 50)
        // MAD of 0...100 around 50 is 25 -> noise 1.4826 * 25.
        #expect(abs(m.noise - 1.4826 * 25) < 1e-9)
        let levels = m.levels(of: image)
        #expect(levels[0] == 0)
        #expect(levels[100] == 255)
        #expect(m.level(0.5) == 0)
        #expect(m.level(99.5) == 255)
        // (50 - 0.5) / 99 * 255 = 127.5 -> 128; (25 - 0.5) / 99 * 255 = 63.106 -> 63.
        #expect(levels[50] == 128)
        #expect(levels[25] == 63)
        // Monotonic non-decreasing along increasing values.
        for i in 1..<levels.count { #expect(levels[i] >= levels[i - 1]) }
    }

    @Test func asinhAndLogFormulas() throws {
        let image = Image(width: 101, height: 1) { x, _ in Float(x) }
        for stretch in [Stretch.asinh, .log] {
            let m = try DisplayMapping(image: image, stretch: stretch)
            #expect(m.stretch == stretch)
            #expect(m.hi == 100)  // the maximum, not p99.5
            #expect(abs(m.softening - 1.4826 * 25) < 1e-9)
            let s = m.softening
            let v = 30.0
            let expected: Double = stretch == .asinh
                ? asinh((v - 0.5) / s) / asinh(99.5 / s)
                : log1p((v - 0.5) / s) / log1p(99.5 / s)
            #expect(abs(m.fraction(v) - expected) < 1e-12)
            #expect(m.level(30) == UInt8((expected * 255).rounded()))
            #expect(m.level(0) == 0 && m.level(100) == 255)
            let levels = m.levels(of: image)
            for i in 1..<levels.count { #expect(levels[i] >= levels[i - 1]) }
        }
    }

    /// Noise background, two faint spots (20 and 30) and a 5x5 bright beam (10000):
    /// linear clips both faint spots to white; asinh and log keep them apart and below the beam.
    @Test func highDynamicRangeKeepsFaintSpotsDistinguishable() throws {
        var rng = TestRandom(seed: 7)
        var image = Image(width: 100, height: 100) { _, _ in 0 }
        for i in 0..<image.count { image.pixels[i] = Float(rng.uniform() * 10 - 5) }
        image[20, 20] = 20
        image[70, 30] = 30
        for y in 48..<53 { for x in 48..<53 { image[x, y] = 10000 } }

        let lin = try DisplayMapping(image: image, stretch: .linear)
        #expect(lin.level(20) == 255 && lin.level(30) == 255)

        for stretch in [Stretch.asinh, .log] {
            let m = try DisplayMapping(image: image, stretch: stretch)
            let bg = m.level(0), faint = m.level(20), brighter = m.level(30), beam = m.level(10000)
            #expect(bg < faint, "\(stretch): background \(bg) vs faint \(faint)")
            #expect(faint < brighter, "\(stretch): \(faint) vs \(brighter)")
            #expect(brighter < beam && beam == 255, "\(stretch): \(brighter) vs beam \(beam)")
            #expect(Int(brighter) - Int(bg) >= 20, "\(stretch): faint spot only \(Int(brighter) - Int(bg)) levels above background")
        }
        // p99.9 is in the beam, far above 50 x noise: auto picks asinh.
        let auto = try DisplayMapping(image: image, stretch: .auto)
        #expect(auto.requested == .auto && auto.stretch == .asinh)
        // Noise alone has a modest range: auto picks linear.
        var noiseOnly = image
        for i in 0..<noiseOnly.count { noiseOnly.pixels[i] = Float(rng.uniform()) }
        #expect(try DisplayMapping(image: noiseOnly, stretch: .auto).stretch == .linear)
    }

    @Test func degenerateImagesNeverGiveNaN() throws {
        let constant = Image(width: 8, height: 4, repeating: 7)
        for s in Stretch.allCases {
            let m = try DisplayMapping(image: constant, stretch: s)
            #expect(m.isDegenerate)
            #expect(m.levels(of: constant).allSatisfy { $0 == 128 })
            #expect(!m.fraction(7).isNaN)
        }
        let allNaN = Image(width: 8, height: 4, repeating: .nan)
        for s in Stretch.allCases {
            let m = try DisplayMapping(image: allNaN, stretch: s)
            #expect(m.sampleCount == 0)
            #expect(m.levels(of: allNaN).allSatisfy { $0 == 0 })
        }
        let ramp = Image(width: 8, height: 4) { x, y in Float(x + 8 * y) }
        let none = Mask(width: 8, height: 4, allValid: false)
        let m = try DisplayMapping(image: ramp, mask: none, stretch: .auto)
        #expect(m.sampleCount == 0 && m.levels(of: ramp).allSatisfy { $0 == 0 })

        // NaN and infinities among valid pixels: statistics use the finite ones only.
        var mixed = Image(width: 101, height: 1) { x, _ in Float(x) }
        mixed[3, 0] = .nan
        mixed[4, 0] = .infinity
        mixed[5, 0] = -.infinity
        let mm = try DisplayMapping(image: mixed, stretch: .linear)
        #expect(mm.sampleCount == 98)
        let lv = mm.levels(of: mixed)
        #expect(lv[3] == 0 && lv[4] == 255 && lv[5] == 0 && lv[100] == 255)
    }

    @Test func maskedPixelsAreLeftOutOfTheStatistics() throws {
        // Valid pixels 0...100, plus 50 masked pixels of 1e6 that would otherwise set hi.
        var pixels = (0...100).map(Float.init)
        pixels += [Float](repeating: 1e6, count: 50)
        let image = Image(width: 151, height: 1, pixels: pixels)
        let mask = Mask(width: 151, height: 1, isValid: (0..<151).map { $0 <= 100 })
        let m = try DisplayMapping(image: image, mask: mask, stretch: .linear)
        #expect(abs(m.hi - 99.5) < 1e-9 && m.sampleCount == 101)
        // A mask of the wrong shape is an error.
        #expect(throws: PeaksError.self) {
            try DisplayMapping(image: image, mask: Mask(width: 150, height: 1), stretch: .linear)
        }
    }

    @Test func selectionMatchesSortedPercentiles() {
        var rng = TestRandom(seed: 42)
        for n in [1, 2, 3, 10, 101, 1000, 4097] {
            for duplicates in [false, true] {
                let values: [Float] = (0..<n).map { _ in
                    duplicates ? Float(rng.next() % 5) : Float(rng.uniform() * 1000 - 500)
                }
                var sel = OrderStatistics(values: values)
                for p in [0.0, 0.5, 25, 50, 99.5, 99.9, 100] {
                    let got = sel.percentile(p)
                    let want = referencePercentile(values, p)
                    #expect(abs(got - want) <= 1e-4 * max(1, abs(want)), "n=\(n) p=\(p): \(got) vs \(want)")
                }
            }
        }
    }
}

