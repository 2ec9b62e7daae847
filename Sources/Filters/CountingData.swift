#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit
import _PeaksVectorKernels

/// `noise = auto`: is the image counting data (photons, electrons), whose noise the Poisson model
/// describes? (docs/algorithms/persistence.md, "noise = auto".)
///
/// Counting data when both hold:
/// 1. every valid pixel is a whole number >= 0 (and at least one is > 0): counts;
/// 2. the dispersion index D = variance / mean of the pixel noise is within
///    [`minDispersion`, `maxDispersion`] = [0.5, 2]: for Poisson counts D = 1 (D = g for a
///    detector gain g without offset, which the Anscombe test absorbs); a camera with an
///    offset (bias) or read noise, or data rescaled from counts, gives D far from 1.
///    D is measured in tiles of 16 x 16 valid pixels: mean m_t and the pixel noise variance
///    v_t = the mean of (I(p) - I(q))^2 / 2 over horizontally and vertically adjacent pairs (white
///    noise: exactly its variance; a smooth background adds little); D = the median over tiles
///    with m_t > 0 of v_t / m_t (a minority of tiles holding spots or edges cannot move it).
///    At least `minTiles` (8) tiles are needed; fewer is no evidence, and gaussian is kept.
/// 3. the variance grows in proportion to the mean across the image: over the tiles, sorted by
///    log m_t, the slope (median log v_t of the top third - that of the bottom third) /
///    (median log m_t of the top third - that of the bottom third) is within [0.5, 1.5]
///    (Poisson: 1; a noise that does not depend on the level: 0). It is measured only when the
///    tile means span at least a factor 2 (log m_t from the 10th to the 90th percentile >= log 2);
///    over a narrower span the noise is the same at every level present, the two models decide
///    alike, and gaussian is kept. Why this test besides D: a camera whose read noise happens to
///    equal its mean level passes test 2 at one level only (Golden/real fluo-nuclei-stardist:
///    D = 1.14 but slope 0.24 over a factor 3.3 of levels), while a counting detector's
///    variance follows its mean (ed-merlin-spots: D = 0.78, slope 1.03 over a factor 9).
/// Noise model of a detector's automatic threshold (`noise` setting of persistence and log).
public enum NoiseModel: String, SettingChoice {
    /// Poisson for counting data, else gaussian (`CountingData`).
    case auto
    /// The same noise everywhere.
    case gaussian
    /// Counting data: the test is made after the Anscombe transform.
    case poisson
}

public enum CountingData {
    public static let minDispersion = 0.5
    public static let maxDispersion = 2.0
    public static let tile = 16
    public static let minTiles = 8
    static let notCounts = "auto: not counts (a valid pixel is negative or not a whole number): gaussian"
    public static let slopeRange = 0.5...1.5
    public static let minLevelSpan = log(2.0)

    public struct Verdict: Sendable, Equatable {
        /// True when the Poisson model is chosen.
        public var isCounting: Bool
        /// The dispersion index D (nil when not measured).
        public var dispersion: Double?
        /// Why, in words (the `noise_model_rule` diagnostic).
        public var rule: String
    }

    /// The sum of a whole tile's values and of its squared differences between horizontally and
    /// vertically adjacent pixels, for whole numbers in [0, 2^22] (every pixel valid): integer
    /// sums in C (`peaks_integer_tile_sums`: Swift checks every Float-to-Int conversion, which
    /// keeps the loop scalar), exact, returned as Doubles.
    @inline(__always)
    static func integerTileSums(_ corner: UnsafePointer<Float>, width w: Int) -> (sum: Double, squares: Double) {
        var sum = 0.0, squares = 0.0
        peaks_integer_tile_sums(corner, w, tile, &sum, &squares)
        return (sum, squares)
    }

    public static func test(_ image: Image, mask: Mask) -> Verdict {
        let w = image.width, h = image.height
        guard image.count > 0 else {
            return Verdict(isCounting: false, dispersion: nil, rule: notCounts)  // no pixel is a count
        }
        // Whole numbers >= 0, one of them positive: checked in chunks over the cores (for x >= 0,
        // x == x.rounded(.towardZero) is "whole"). The largest value is kept for the integer
        // tile sums below.
        let chunks = Parallel.chunkCount(image.count)
        var chunkVerdicts = [(counts: Bool, positive: Bool, largest: Float)](repeating: (true, false, 0), count: chunks)
        let everywhereValid = mask.isEverywhereValid
        image.pixels.withUnsafeBufferPointer { p in
            mask.isValid.withUnsafeBufferPointer { v in
                chunkVerdicts.withUnsafeMutableBufferPointer { verdicts in
                    let (px, valid, out) = (SharedPointer(p.baseAddress!), SharedPointer(v.baseAddress!), SharedPointer(verdicts.baseAddress!))
                    let n = p.count
                    Parallel.forEach(chunks) { c in
                        var positive = false, largest: Float = 0
                        let range = Parallel.chunk(c, of: chunks, count: n)
                        if everywhereValid {
                            // Branch-free over the chunk, in C (vectorised).
                            var above: Int32 = 0
                            let whole = peaks_whole_numbers(px.base + range.lowerBound, range.count, &above, &largest)
                            out[c] = (whole != 0, above != 0, largest)
                            return
                        }
                        for i in range where valid[i] {
                            let x = px[i]
                            if !(x >= 0) || x != x.rounded(.towardZero) { out[c] = (false, positive, largest); return }
                            if x > 0 { positive = true }
                            largest = Swift.max(largest, x)
                        }
                        out[c] = (true, positive, largest)
                    }
                }
            }
        }
        let counts = chunkVerdicts.allSatisfy(\.counts), anyPositive = chunkVerdicts.contains { $0.positive }
        guard counts, anyPositive else {
            return Verdict(isCounting: false, dispersion: nil, rule: notCounts)
        }
        // Each tile's sums are whole numbers. With every pixel valid and no count above 2^22 they
        // stay below 2^53 (256 values; 480 squares of differences of at most 2^22, each below
        // 2^44), so a Double sums them exactly in any order: they are summed as integers in C,
        // with the same result as the pixel-by-pixel Double loop.
        let integerSums = everywhereValid && chunkVerdicts.allSatisfy { $0.largest <= 4_194_304 }
        // Each row of whole tiles measured on its own (over the cores), the rows' tiles then
        // listed in raster order.
        let tileRows = h / tile
        var rowRatios = [[Double]](repeating: [], count: tileRows)
        var rowLevels = [[(m: Double, v: Double)]](repeating: [], count: tileRows)
        image.pixels.withUnsafeBufferPointer { p in
            mask.isValid.withUnsafeBufferPointer { v in
                rowRatios.withUnsafeMutableBufferPointer { rr in
                    rowLevels.withUnsafeMutableBufferPointer { rl in
                        let (p, v) = (SharedPointer(p.baseAddress!), SharedPointer(v.baseAddress!))
                        let (ratiosOut, levelsOut) = (SharedPointer(rr.baseAddress!), SharedPointer(rl.baseAddress!))
                        Parallel.forEach(tileRows) { row in
                            let ty = row * tile
                            var ratios: [Double] = [], levels: [(m: Double, v: Double)] = []
                            var tx = 0
                            while tx + tile <= w {
                                var sum = 0.0, n = 0, sq = 0.0, pairs = 0
                                if integerSums {
                                    (sum, sq) = integerTileSums(UnsafePointer(p.base + (ty &* w &+ tx)), width: w)
                                    (n, pairs) = (tile * tile, 2 * tile * (tile - 1))
                                } else {
                                    for y in ty..<(ty + tile) {
                                        for x in tx..<(tx + tile) {
                                            let i = y &* w &+ x
                                            guard v[i] else { continue }
                                            let a = Double(p[i])
                                            sum += a; n += 1
                                            if x + 1 < tx + tile, v[i + 1] { let d = a - Double(p[i + 1]); sq += d * d; pairs += 1 }
                                            if y + 1 < ty + tile, v[i + w] { let d = a - Double(p[i + w]); sq += d * d; pairs += 1 }
                                        }
                                    }
                                }
                                if n == tile * tile, pairs > 0 {
                                    let m = sum / Double(n)
                                    let variance = sq / Double(2 * pairs)
                                    if m > 0 { ratios.append(variance / m) }
                                    if m > 0, variance > 0 { levels.append((log(m), log(variance))) }
                                }
                                tx += tile
                            }
                            ratiosOut[row] = ratios
                            levelsOut[row] = levels
                        }
                    }
                }
            }
        }
        var ratios = rowRatios.flatMap { $0 }
        var levels = rowLevels.flatMap { $0 }
        guard ratios.count >= minTiles else {
            return Verdict(isCounting: false, dispersion: nil, rule: "auto: counts, but fewer than \(minTiles) whole \(tile)x\(tile) tiles to measure the dispersion: gaussian")
        }
        ratios.sort()
        let d = ratios.count % 2 == 1 ? ratios[ratios.count / 2] : (ratios[ratios.count / 2 - 1] + ratios[ratios.count / 2]) / 2
        func r(_ x: Double) -> String { NumberFormat.string((x * 1000).rounded() / 1000) }
        guard d >= minDispersion && d <= maxDispersion else {
            return Verdict(isCounting: false, dispersion: d,
                           rule: "auto: counts, but variance/mean \(r(d)) outside [0.5, 2] (offset, read noise or scaled data): gaussian")
        }
        levels.sort { $0.m < $1.m }
        let n = levels.count
        guard n >= minTiles else {
            return Verdict(isCounting: false, dispersion: d, rule: "auto: counts, variance/mean \(r(d)), but too few tiles to see how the variance follows the level: gaussian")
        }
        let span = levels[(9 * (n - 1)) / 10].m - levels[(n - 1) / 10].m
        guard span >= minLevelSpan else {
            return Verdict(isCounting: false, dispersion: d,
                           rule: "auto: counts, variance/mean \(r(d)), but the levels span only a factor \(r(exp(span))) (< 2): the same noise everywhere: gaussian")
        }
        func median(_ xs: [Double]) -> Double {
            let s = xs.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        let third = n / 3
        let low = levels[0..<third], high = levels[(n - third)..<n]
        let dm = median(high.map(\.m)) - median(low.map(\.m))
        let slope = dm > 0 ? (median(high.map(\.v)) - median(low.map(\.v))) / dm : 0
        guard slopeRange.contains(slope) else {
            return Verdict(isCounting: false, dispersion: d,
                           rule: "auto: counts, variance/mean \(r(d)), but the variance does not follow the level (log-log slope \(r(slope)) outside [0.5, 1.5]): gaussian")
        }
        return Verdict(isCounting: true, dispersion: d,
                       rule: "auto: counts with variance/mean \(r(d)) in [0.5, 2], following the level (log-log slope \(r(slope))): poisson")
    }
}

/// The Anscombe transform T(v) = 2 sqrt(v + 3/8), which turns Poisson counts into values of
/// roughly unit variance (within 10% for means above ~2; Anscombe 1948).
public enum Anscombe {
    @inline(__always) public static func value(_ v: Double) -> Double { 2 * (max(v, 0) + 0.375).squareRoot() }

    public static func transform(_ image: Image) -> Image {
        var out = image
        out.pixels = image.pixels.map { Float(value(Double($0))) }
        return out
    }
}
