import PeakKit

/// A histogram of `counts.count` equal bins over [lower, upper]: bin i covers
/// `[lower + i d, lower + (i + 1) d)` with `d = (upper - lower) / bins`, the last bin closed
/// (numpy.histogram's rule); its centre is `lower + (i + 0.5) d`.
public struct Histogram: Sendable, Equatable {
    public var counts: [Double]
    public var lower: Double
    public var upper: Double

    public init(counts: [Double], lower: Double, upper: Double) {
        self.counts = counts
        self.lower = lower
        self.upper = upper
    }

    /// The histogram of the finite pixels of `image` (and valid in `mask`, if given) with `bins`
    /// bins (at least 1) over [min, max] of those pixels (skimage's `source_range='image'`).
    /// No finite pixel: empty counts, lower = upper = NaN. Constant image: every count in one bin.
    /// A mask whose shape differs from the image's is ignored (every finite pixel counts).
    public init(_ image: Image, bins: Int = 256, mask: Mask? = nil) {
        self.init(values: image.pixels, valid: mask.flatMap { $0.width == image.width && $0.height == image.height ? $0.isValid : nil }, bins: bins)
    }

    /// The histogram of the finite `values` (those with `valid[i]`, if given).
    public init(values: [Float], valid: [Bool]? = nil, bins: Int = 256) {
        let nb = max(1, bins)
        var lo = Float.infinity, hi = -Float.infinity
        let use: (Int) -> Bool = { i in values[i].isFinite && (valid.map { $0[i] } ?? true) }
        for i in 0..<values.count where use(i) {
            if values[i] < lo { lo = values[i] }
            if values[i] > hi { hi = values[i] }
        }
        guard lo <= hi else {
            self.init(counts: [], lower: .nan, upper: .nan)
            return
        }
        var counts = [Double](repeating: 0, count: nb)
        let l = Double(lo), span = Double(hi) - Double(lo)
        for i in 0..<values.count where use(i) {
            let b = span > 0 ? Int((Double(values[i]) - l) / span * Double(nb)) : 0
            counts[min(nb - 1, max(0, b))] += 1
        }
        self.init(counts: counts, lower: l, upper: Double(hi))
    }

    public var bins: Int { counts.count }
    public var binWidth: Double { bins > 0 ? (upper - lower) / Double(bins) : 0 }
    public func center(_ bin: Int) -> Double { lower + (Double(bin) + 0.5) * binWidth }
}

/// Global grey-level thresholds from a histogram. Both return a bin centre t; the intended
/// segmentation is foreground = pixels > t (as in scikit-image).
///
/// Degenerate input never traps: a constant image returns its value (skimage does the same);
/// a histogram with a single non-empty bin returns that bin's centre; no data (empty image, all
/// pixels non-finite, empty histogram) returns NaN.
public enum Threshold {
    /// The triangle threshold (Zack, Rogers & Latt, "Automatic measurement of sister chromatid
    /// exchange frequency", J. Histochem. Cytochem. 25(7), 1977), as skimage's threshold_triangle:
    ///
    /// 1. p = the fullest bin (first of ties), lo / hi = the first / last non-empty bins;
    /// 2. the longer tail is the side with more bins: towards lo if `p - lo >= hi - p`, else
    ///    towards hi (the histogram is then mirrored so the tail is on the left);
    /// 3. the line runs from (lo, 0) to (p, h_p), in bin-index units (x) and counts (y);
    /// 4. the threshold is the centre of the tail bin b in [lo, p) that lies farthest below the
    ///    line, maximising `h_p (b - lo) - (p - lo) h_b` (first of ties).
    ///
    /// Half-bin conventions: the line starts at the centre of the last non-empty tail bin and at
    /// height 0 (some implementations, e.g. ImageJ, start one bin further out, at the first empty
    /// bin, and shift the result by one bin); the result is the centre of the chosen bin, not an
    /// edge. The argmax does not depend on how counts are scaled against bin widths, since the
    /// distance to a fixed line is proportional to the maximised expression.
    public static func triangle(_ histogram: Histogram) -> Double {
        let h = histogram.counts
        guard let lo = h.firstIndex(where: { $0 > 0 }), let hi = h.lastIndex(where: { $0 > 0 }) else { return .nan }
        if lo == hi { return histogram.center(lo) }
        var peak = lo
        for i in lo...hi where h[i] > h[peak] { peak = i }
        let n = h.count
        let flip = peak - lo < hi - peak
        // In the (possibly mirrored) frame the tail runs from `low` up to `top`.
        let low = flip ? n - 1 - hi : lo
        let top = flip ? n - 1 - peak : peak
        let height = h[peak]
        let width = Double(top - low)
        var best = low, bestLength = -Double.infinity
        for b in low..<top {
            let count = h[flip ? n - 1 - b : b]
            let length = height * Double(b - low) - width * count
            if length > bestLength { bestLength = length; best = b }
        }
        return histogram.center(flip ? n - 1 - best : best)
    }

    /// `triangle(Histogram(image, bins: bins))`, or the value of a constant image.
    public static func triangle(_ image: Image, bins: Int = 256, mask: Mask? = nil) -> Double {
        let hist = Histogram(image, bins: bins, mask: mask)
        if hist.lower == hist.upper { return hist.lower }
        return triangle(hist)
    }

    /// Otsu's threshold (Otsu, "A threshold selection method from gray-level histograms", IEEE
    /// Trans. SMC 9(1), 1979): the split maximising the between-class variance
    ///
    ///     sigma_B^2(t) = w0(t) w1(t) (mu0(t) - mu1(t))^2
    ///
    /// where class 0 is bins 0...t and class 1 bins t+1...end, w their counts and mu their mean bin
    /// centres. Returns the centre of bin t (first of ties), like skimage's threshold_otsu.
    /// Sums in Double; O(bins).
    public static func otsu(_ histogram: Histogram) -> Double {
        let h = histogram.counts
        guard let lo = h.firstIndex(where: { $0 > 0 }), let hi = h.lastIndex(where: { $0 > 0 }) else { return .nan }
        if lo == hi { return histogram.center(lo) }
        let total = h.reduce(0, +)
        var totalMoment = 0.0
        for i in 0..<h.count { totalMoment += h[i] * histogram.center(i) }
        var w0 = 0.0, m0 = 0.0
        var best = lo, bestVar = -Double.infinity
        for t in 0..<(h.count - 1) {
            w0 += h[t]
            m0 += h[t] * histogram.center(t)
            let w1 = total - w0
            if w0 <= 0 || w1 <= 0 { continue }
            let d = m0 / w0 - (totalMoment - m0) / w1
            let v = w0 * w1 * d * d
            if v > bestVar { bestVar = v; best = t }
        }
        return histogram.center(best)
    }

    /// `otsu(Histogram(image, bins: bins))`, or the value of a constant image.
    public static func otsu(_ image: Image, bins: Int = 256, mask: Mask? = nil) -> Double {
        let hist = Histogram(image, bins: bins, mask: mask)
        if hist.lower == hist.upper { return hist.lower }
        return otsu(hist)
    }
}
