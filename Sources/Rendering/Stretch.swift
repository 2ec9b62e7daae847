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

/// How Float pixel values become 8-bit display levels. See `DisplayMapping` for the formulas.
public enum Stretch: String, CaseIterable, Sendable {
    /// `clip((v - lo) / (hi - lo))` with lo, hi = the 0.5th and 99.5th percentiles.
    case linear
    /// `log1p((v - lo) / s) / log1p((hi - lo) / s)` with hi = the maximum and s = softening.
    case log
    /// `asinh((v - lo) / s) / asinh((hi - lo) / s)` with hi = the maximum (Lupton et al. 1999).
    case asinh
    /// `linear` for a modest dynamic range, `asinh` for a high one (see `DisplayMapping`).
    case auto
}

/// The statistics of an image's valid pixels and the resolved display mapping derived from them.
///
/// Statistics use only pixels that are valid in the mask (if any) and finite. With `n` such
/// pixels sorted ascending, percentile p is interpolated linearly between the order statistics
/// around position `p / 100 * (n - 1)` (numpy's default "linear" method). Percentiles are found
/// by selection (quickselect, O(n) expected), never by comparing NaNs.
///
/// - `lo` = 0.5th percentile for every stretch.
/// - `hi` = 99.5th percentile for `linear`; the maximum for `log` and `asinh` (a bright central
///   beam then stays visible and does not wash out faint spots). If the linear window is empty
///   (p99.5 <= p0.5, e.g. a flat background with a few bright pixels), `hi` falls back to the
///   maximum.
/// - `noise` = 1.4826 x MAD (median absolute deviation from the median), a robust Gaussian sigma.
/// - softening `s` = max(noise, 1e-3 x (max - min)): tied to the background noise, floored so
///   that a noise-free background (MAD = 0) does not turn the curve into a step.
/// - `auto` resolves to `asinh` when (p99.9 - median) > 50 x s, otherwise to `linear`.
///
/// Degenerate inputs never produce NaN: if no pixel is valid and finite, every pixel maps to 0
/// (black); if all valid finite pixels have the same value, every finite pixel maps to 128
/// (mid-grey). NaN always maps to 0, +infinity to 255 and -infinity to 0. Pixels invalid in the
/// mask are mapped with the same curve as the valid ones (they are only left out of the
/// statistics), so the data under an overlay's mask tint stays visible.
public struct DisplayMapping: Sendable, Equatable {
    /// Percentile (in percent) used for `lo`.
    public static let lowPercentile = 0.5
    /// Percentile (in percent) used for `hi` by the linear stretch.
    public static let highPercentile = 99.5
    /// Percentile compared with the median by `auto`.
    public static let autoPercentile = 99.9
    /// `auto` chooses asinh when (p99.9 - median) exceeds this many softening units.
    public static let autoThreshold = 50.0
    /// Floor of the softening as a fraction of the full range (max - min).
    public static let softeningFloorFraction = 1e-3

    /// The stretch asked for (may be `.auto`).
    public let requested: Stretch
    /// The stretch applied (never `.auto`).
    public let stretch: Stretch
    /// Number of valid finite pixels the statistics were computed from.
    public let sampleCount: Int
    public let minimum: Double
    public let maximum: Double
    public let median: Double
    /// 1.4826 x MAD.
    public let noise: Double
    /// The softening `s` of the log and asinh curves (always > 0).
    public let softening: Double
    /// Values at or below `lo` map to 0, values at or above `hi` to 255.
    public let lo: Double
    public let hi: Double
    /// The 99.9th percentile (used by `auto`).
    public let p999: Double

    /// Computes the statistics of `image` (ignoring pixels invalid in `mask` and non-finite
    /// pixels) and resolves `stretch`.
    /// - Throws: `PeaksError.shapeMismatch` if the mask's shape differs from the image's.
    public init(image: Image, mask: Mask? = nil, stretch requested: Stretch = .auto) throws {
        if let mask { try mask.checkShape(matches: image) }
        var values: [Float] = []
        values.reserveCapacity(image.count)
        image.pixels.withUnsafeBufferPointer { p in
            if let mask {
                mask.isValid.withUnsafeBufferPointer { m in
                    for i in 0..<p.count where m[i] && p[i].isFinite { values.append(p[i]) }
                }
            } else {
                for v in p where v.isFinite { values.append(v) }
            }
        }
        self.init(finiteValues: values, stretch: requested)
    }

    /// Statistics from finite values.
    init(finiteValues values: [Float], stretch requested: Stretch) {
        self.requested = requested
        let n = values.count
        sampleCount = n
        guard n > 0 else {
            minimum = 0; maximum = 0; median = 0; noise = 0; softening = 1; lo = 0; hi = 0; p999 = 0
            stretch = requested == .auto ? .linear : requested
            return
        }
        var mn = values[0], mx = values[0]
        values.withUnsafeBufferPointer { p in
            for v in p {
                if v < mn { mn = v }
                if v > mx { mx = v }
            }
        }
        minimum = Double(mn)
        maximum = Double(mx)
        // Ascending percentiles over one buffer: each selection leaves the array partitioned, so
        // the next one only searches the part above the previous rank.
        var sel = OrderStatistics(values: values)
        let pLow = sel.percentile(Self.lowPercentile)
        let pMed = sel.percentile(50)
        let pHigh = sel.percentile(Self.highPercentile)
        let pTop = sel.percentile(Self.autoPercentile)
        median = pMed
        p999 = pTop
        // MAD: the median of |v - median| (in Double: no overflow for huge Float ranges).
        var deviations = [Float](repeating: 0, count: n)
        deviations.withUnsafeMutableBufferPointer { d in
            values.withUnsafeBufferPointer { v in
                for i in 0..<n { d[i] = Float(abs(Double(v[i]) - pMed)) }
            }
        }
        var dsel = OrderStatistics(values: deviations)
        let mad = dsel.percentile(50)
        noise = 1.4826 * mad
        let range = maximum - minimum
        let s = max(noise, Self.softeningFloorFraction * range)
        softening = s > 0 && s.isFinite ? s : 1
        var resolved = requested
        if requested == .auto {
            resolved = (pTop - pMed) > Self.autoThreshold * softening ? .asinh : .linear
        }
        stretch = resolved
        lo = pLow
        switch resolved {
        case .linear, .auto: hi = pHigh > pLow ? pHigh : maximum
        case .log, .asinh: hi = maximum
        }
    }

    /// True when there is nothing to stretch: no valid finite pixel, or all of them equal.
    public var isDegenerate: Bool { sampleCount == 0 || !(hi > lo) }

    /// The display level of one value as a fraction in 0...1 (never NaN).
    public func fraction(_ v: Double) -> Double {
        if v.isNaN || sampleCount == 0 { return 0 }
        if !(hi > lo) {
            // Constant valid data: mid-grey for finite values; infinities saturate.
            if v == .infinity { return 1 }
            if v == -.infinity { return 0 }
            return 128.0 / 255.0
        }
        if v <= lo { return 0 }
        if v >= hi { return 1 }
        let d = v - lo
        let t: Double
        switch stretch {
        case .linear, .auto: t = d / (hi - lo)
        case .log: t = log1p(d / softening) / log1p((hi - lo) / softening)
        case .asinh: t = asinh(d / softening) / asinh((hi - lo) / softening)
        }
        return t.isFinite ? min(max(t, 0), 1) : 0
    }

    /// The 8-bit display level of one value: `round(255 x fraction(v))`.
    public func level(_ v: Float) -> UInt8 {
        UInt8((fraction(Double(v)) * 255).rounded())
    }

    /// Display levels of every pixel of `image`, row-major (the layout of `image.pixels`).
    public func levels(of image: Image) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.count)
        out.withUnsafeMutableBufferPointer { o in
            image.pixels.withUnsafeBufferPointer { p in
                for i in 0..<p.count { o[i] = level(p[i]) }
            }
        }
        return out
    }

    /// Convenience: the 8-bit display levels of `image` under `stretch`, with statistics taken
    /// from the valid finite pixels.
    public static func displayLevels(image: Image, mask: Mask? = nil, stretch: Stretch = .auto) throws -> [UInt8] {
        try DisplayMapping(image: image, mask: mask, stretch: stretch).levels(of: image)
    }
}

