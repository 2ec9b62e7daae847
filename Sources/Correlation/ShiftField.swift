import Filters
import PeakKit
import Spectral
import Synchronization

/// Pearson correlation maps between two images and local shift fields built from them.
///
/// Sign convention as `Registration`: a shift (dx, dy) is what, applied to MOVING, aligns it with
/// REFERENCE: the content at (x, y) in the reference is at (x - dx, y - dy) in the moving image.
public enum ShiftField {
    /// The Pearson correlation between the reference's interior [margin, size - margin) and the
    /// moving image displaced by every (ex, ey) with |ex|, |ey| <= margin: element (col, row) is
    /// the displacement e = (col - margin, row - margin) with moving(x + e) compared to reference(x).
    /// (A `NormXCorr2` valid map; the compared regions always have the same size.) The shift to
    /// apply to MOVING is -e at the peak.
    public static func correlationMap(reference: Image, moving: Image, margin: Int) throws -> CorrelationMap {
        guard moving.width == reference.width, moving.height == reference.height else {
            throw PeaksError.shapeMismatch(what: "moving image", expected: (reference.width, reference.height), actual: (moving.width, moving.height))
        }
        guard margin >= 0, 2 * margin < reference.width, 2 * margin < reference.height else {
            throw PeaksError.invalidParameter(name: "margin", reason: "\(margin) leaves no interior in a \(reference.width)x\(reference.height) image")
        }
        let inner = NormXCorr2.crop(reference, x0: margin, y0: margin, w: reference.width - 2 * margin, h: reference.height - 2 * margin).image
        var map = try NormXCorr2.correlate(template: inner, image: moving, mode: .valid)
        map.originX -= margin
        map.originY -= margin
        return map
    }

    /// One window of a shift field.
    public struct Vector: Sendable, Equatable {
        /// The window's centre in reference coordinates.
        public var x: Double
        public var y: Double
        /// The shift to apply to MOVING there (NaN when the window is flat).
        public var dx: Double
        public var dy: Double
        /// The peak correlation (0 for a flat window).
        public var peak: Double
        /// True when the subpixel fit fell back to the whole pixel (or the window was flat).
        public var fellBack: Bool
    }

    /// A grid of local shifts.
    public struct Field: Sendable, Equatable {
        public var columns: Int
        public var rows: Int
        /// Row-major, `rows * columns` vectors.
        public var vectors: [Vector]
        public var window: Int
        public var margin: Int
        public var step: Int
    }

    /// Windows of `window x window` pixels every `step` pixels (default `window`), each compared
    /// with the moving image over displacements up to `margin`; windows whose search region would
    /// leave the image are not made. Throws for bad sizes.
    public static func local(reference: Image, moving: Image, window: Int, margin: Int, step: Int? = nil,
                             subpixel: PeakFitMethod = .polyFit) throws -> Field {
        guard moving.width == reference.width, moving.height == reference.height else {
            throw PeaksError.shapeMismatch(what: "moving image", expected: (reference.width, reference.height), actual: (moving.width, moving.height))
        }
        let step = step ?? window
        guard window >= 2 else { throw PeaksError.invalidParameter(name: "window", reason: "must be at least 2, got \(window)") }
        guard margin >= 1 else { throw PeaksError.invalidParameter(name: "margin", reason: "must be at least 1, got \(margin)") }
        guard step >= 1 else { throw PeaksError.invalidParameter(name: "step", reason: "must be at least 1, got \(step)") }
        let span = window + 2 * margin
        guard span <= reference.width, span <= reference.height else {
            throw PeaksError.invalidParameter(name: "window", reason: "window \(window) + 2 x margin \(margin) does not fit the \(reference.width)x\(reference.height) image")
        }
        let cols = (reference.width - span) / step + 1, rows = (reference.height - span) / step + 1
        var vectors = [Vector](repeating: Vector(x: 0, y: 0, dx: .nan, dy: .nan, peak: 0, fellBack: true), count: cols * rows)
        let failure = FirstError()
        vectors.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let out = SharedPointer(base)
            Parallel.forEach(rows) { r in
                for c in 0..<cols {
                    let x0 = margin + c * step, y0 = margin + r * step
                    let t = NormXCorr2.crop(reference, x0: x0, y0: y0, w: window, h: window).image
                    let s = NormXCorr2.crop(moving, x0: x0 - margin, y0: y0 - margin, w: span, h: span).image
                    var v = Vector(x: Double(x0) + Double(window - 1) / 2, y: Double(y0) + Double(window - 1) / 2,
                                   dx: .nan, dy: .nan, peak: 0, fellBack: true)
                    do {
                        let m = try NormXCorr2.match(template: t, image: s, mode: .valid, subpixel: subpixel)
                        if m.peak > 0 {
                            v.dx = -(m.dx - Double(margin))
                            v.dy = -(m.dy - Double(margin))
                            v.peak = m.peak
                            v.fellBack = m.subpixelFellBack
                        }
                    } catch let e as PeaksError {
                        // A flat window has no correlation: leave it NaN (not an error for the field).
                        if !e.description.contains("flat") { failure.record(e) }
                    } catch {}
                    out[r * cols + c] = v
                }
            }
        }
        if let e = failure.error { throw e }
        return Field(columns: cols, rows: rows, vectors: vectors, window: window, margin: margin, step: step)
    }

    public enum Summary: String, Sendable, CaseIterable { case median, mean }

    /// The global shift from the local ones with peak correlation >= `minimumPeak` (median or
    /// mean per component), with the number of windows used; nil when none qualifies.
    public static func global(_ field: Field, summary: Summary = .median, minimumPeak: Double = 0.5) -> (dx: Double, dy: Double, count: Int)? {
        let good = field.vectors.filter { $0.dx.isFinite && $0.dy.isFinite && $0.peak >= minimumPeak }
        guard !good.isEmpty else { return nil }
        func centre(_ v: [Double]) -> Double {
            switch summary {
            case .mean: return v.reduce(0, +) / Double(v.count)
            case .median:
                let s = v.sorted(), n = s.count
                return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
            }
        }
        return (centre(good.map(\.dx)), centre(good.map(\.dy)), good.count)
    }
}

/// The first error raised inside `Parallel.forEach` (later ones are dropped).
final class FirstError: Sendable {
    private let slot = Mutex<PeaksError?>(nil)
    func record(_ e: PeaksError) { slot.withLock { if $0 == nil { $0 = e } } }
    var error: PeaksError? { slot.withLock { $0 } }
}
