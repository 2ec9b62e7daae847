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

/// How `SubpixelRefinement.refine` locates a peak between pixel centres.
public enum SubpixelMethod: String, Sendable, CaseIterable {
    /// Centre of mass of the size x size window after subtracting the window minimum.
    case com
    /// Separable 3-point parabola through (x-1, x, x+1) and through (y-1, y, y+1).
    case parabolic
    /// Least-squares 2-D quadratic over the size x size window, with the mixed xy term.
    case quadratic
    /// Separable 3-point parabola through the logarithms of the values (exact for a sampled Gaussian).
    case gaussian
}

/// Whether a refinement succeeded, and if not, why the integer position was returned instead.
public enum SubpixelOutcome: String, Sendable, CaseIterable {
    case refined
    /// (x, y) is not a pixel of the image (or the image is empty).
    case outOfImage
    /// The 3-point methods need both neighbours in x and in y; quadratic needs a clipped window of
    /// at least 3x3 pixels.
    case atBorder
    /// A NaN or infinite value in the pixels used.
    case nonFinite
    /// All pixels used are equal (nothing to locate).
    case flat
    /// The fitted curve or surface has no maximum (zero or positive curvature, or a saddle).
    case notAMaximum
    /// The fitted maximum lies more than 1 pixel (Euclidean) from (x, y).
    case movedTooFar
    /// `gaussian` only: a value used is <= 0, so its logarithm does not exist.
    case nonPositive

    public var fellBack: Bool { self != .refined }
}

/// The refined position and how it was obtained. On fallback `x` and `y` are the integer input.
public struct SubpixelResult: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var outcome: SubpixelOutcome
    public var fellBack: Bool { outcome.fellBack }
    public init(x: Double, y: Double, outcome: SubpixelOutcome) {
        self.x = x; self.y = y; self.outcome = outcome
    }
}

/// Subpixel location of a peak around a given integer maximum (x, y) (x = column, y = row, pixel
/// centres at integers). Every method returns the integer position with a reason when it cannot
/// refine (`SubpixelOutcome`); none traps, whatever the image, position or window.
///
/// Measured worst Euclidean errors on noise-free pixel-integrated Gaussian spots (Harness
/// SpotRenderer, amplitude 1000, background 0, true centres on a 21 x 21 grid of offsets over
/// [-0.5, 0.5]^2 around a pixel, refined from the brightest pixel; window 3 except com with
/// 2 ceil(3 sigma) + 1), in pixels (FiltersTests.SubpixelTests prints them):
///
///     sigma     com      parabolic  quadratic  gaussian
///     1.0     0.0065     0.0619     0.1640     0.00018
///     1.5     0.0031     0.0291     0.0773     0.00002
///     2.5     0.0063     0.0107     0.0282    < 0.00001
///
/// Quadratic windows of 5 x 5 give 0.162 / 0.077 / 0.028 and 7 x 7 0.072 at sigma 2.5: no better.
public enum SubpixelRefinement {
    /// Refines the integer peak (x, y) of `image`.
    ///
    /// - `com`: centre of mass `sum (I - m) (x, y) / sum (I - m)` over the `size x size` window
    ///   centred on (x, y), clipped to the image, where m is the window's minimum (removing a flat
    ///   background; it also gives the darkest pixel zero weight). Bias: towards the window centre
    ///   (pixel locking) when the window cuts off part of the spot or a background remains, and
    ///   towards the interior when the window is clipped by the border; with a window of
    ///   2 ceil(3 sigma) + 1 and zero background the error is below 0.007 px for sigma >= 1. Noise
    ///   in a large window adds variance. Never moves outside the window.
    /// - `parabolic`: per axis `delta = (f(-1) - f(+1)) / (2 (f(-1) - 2 f(0) + f(+1)))` from the 3
    ///   pixels through (x, y) (`size` is ignored). Bias: an S-shaped error against the true
    ///   offset, zero at 0 and +-0.5, pulling estimates towards the pixel centre (pixel locking),
    ///   0.062 / 0.029 / 0.011 px for integrated Gaussian spots of sigma 1 / 1.5 / 2.5 (shrinking as
    ///   1/sigma^2: ln f is a parabola, f only to second order).
    /// - `quadratic`: least-squares fit of `f = a + b u + c v + d u^2 + e u v + f v^2` (u = dx,
    ///   v = dy from (x, y)) over the `size x size` window clipped to the image (at least 3 x 3
    ///   pixels must remain), solved by the 6x6 normal equations in Double; the vertex solves
    ///   `[2d e; e 2f] (u, v) = -(b, c)`. Falls back unless the Hessian is negative definite
    ///   (`d < 0`, `4 d f - e^2 > 0`) and the vertex lies within 1 px. Bias: on a 3 x 3 window
    ///   without the xy term it would equal the parabolic estimate (for a separable spot the
    ///   row/column sums factor out); the fitted xy term, which a round spot shows away from its
    ///   peak (`d2f/dxdy = g'(x) h'(y) != 0`), drags the vertex on diagonal offsets, so the
    ///   pixel-locking error is larger: 0.164 / 0.077 / 0.028 px at sigma 1 / 1.5 / 2.5. Its use is
    ///   for elongated, rotated peaks and for noise (all window pixels take part).
    /// - `gaussian`: the parabolic formula applied to ln f (Gaussian fit through 3 points per
    ///   axis). Exact for a sampled Gaussian; for pixel-integrated Gaussians the residual bias is
    ///   below 0.0002 px for sigma >= 1 (more for non-Gaussian shapes). All 5 values must be > 0 (subtract the background first,
    ///   but keep it positive): otherwise falls back (`nonPositive`). Noise is amplified where the
    ///   values are small.
    ///
    /// Both 3-point methods fall back at the image border (`atBorder`), if the curvature along an
    /// axis is not negative (`notAMaximum`, or `flat` if the three values are equal), or if the
    /// vertex lies more than 1 px away (`movedTooFar`; cannot happen at a true local maximum,
    /// where |delta| <= 0.5).
    ///
    /// - Parameters:
    ///   - size: window side for `com` and `quadratic` (default 3); raised to the next odd number,
    ///     at least 3.
    public static func refine(
        image: Image, x: Int, y: Int, method: SubpixelMethod, size: Int = 3
    ) -> SubpixelResult {
        let w = image.width, h = image.height
        let fallback = { (o: SubpixelOutcome) in SubpixelResult(x: Double(x), y: Double(y), outcome: o) }
        guard x >= 0, y >= 0, x < w, y < h else { return fallback(.outOfImage) }
        let half = max(1, (size > 0 ? size : 3) / 2)  // size 3 -> 1, 4 or 5 -> 2
        switch method {
        case .com: return centreOfMass(image, x, y, half)
        case .quadratic: return quadraticFit(image, x, y, half)
        case .parabolic, .gaussian:
            guard x > 0, y > 0, x < w - 1, y < h - 1 else { return fallback(.atBorder) }
            // Centre, left, right, up, down.
            let v: [Double]
            switch threePointValues([image[x, y], image[x - 1, y], image[x + 1, y], image[x, y - 1], image[x, y + 1]], method) {
            case .failure(let o): return fallback(o.outcome)
            case .success(let t): v = t
            }
            let ox = vertex3(v[1], v[0], v[2]), oy = vertex3(v[3], v[0], v[4])
            if case .failure(let o) = ox { return fallback(o.outcome) }
            if case .failure(let o) = oy { return fallback(o.outcome) }
            guard case .success(let dx) = ox, case .success(let dy) = oy else { return fallback(.notAMaximum) }
            if dx * dx + dy * dy > 1 { return fallback(.movedTooFar) }
            return SubpixelResult(x: Double(x) + dx, y: Double(y) + dy, outcome: .refined)
        }
    }

    /// An image axis.
    public enum Axis: Sendable { case x, y }

    /// The 3-point refinement along one axis only (`parabolic` or `gaussian` through the pixel
    /// and its two neighbours along `axis`; `com` and `quadratic` are taken as `parabolic`), the
    /// other coordinate staying the pixel's: for a peak whose neighbours along the other axis are
    /// missing or not to be used. On the image's outermost row, say, `refine` says `atBorder`,
    /// but along the edge both neighbours are there: the peak's centre may lie outside the frame
    /// and no 3-point estimate of the coordinate across the edge exists, while the one along it
    /// does. Likewise next to masked pixels that hold no data. `atBorder` when a neighbour along
    /// `axis` is outside the image; other outcomes as for `refine` (`notAMaximum` when the three
    /// values have no maximum at (x, y), `movedTooFar` beyond 1 px).
    public static func refineAlong(_ axis: Axis, image: Image, x: Int, y: Int, method: SubpixelMethod) -> SubpixelResult {
        let w = image.width, h = image.height
        let fallback = { (o: SubpixelOutcome) in SubpixelResult(x: Double(x), y: Double(y), outcome: o) }
        guard x >= 0, y >= 0, x < w, y < h else { return fallback(.outOfImage) }
        let alongX = axis == .x
        guard alongX ? (x > 0 && x < w - 1) : (y > 0 && y < h - 1) else { return fallback(.atBorder) }
        let values = alongX ? [image[x - 1, y], image[x, y], image[x + 1, y]] : [image[x, y - 1], image[x, y], image[x, y + 1]]
        let v: [Double]
        switch threePointValues(values, method) {
        case .failure(let o): return fallback(o.outcome)
        case .success(let t): v = t
        }
        switch vertex3(v[0], v[1], v[2]) {
        case .failure(let o): return fallback(o.outcome)
        case .success(let delta):
            if abs(delta) > 1 { return fallback(.movedTooFar) }
            return alongX
                ? SubpixelResult(x: Double(x) + delta, y: Double(y), outcome: .refined)
                : SubpixelResult(x: Double(x), y: Double(y) + delta, outcome: .refined)
        }
    }

    /// The values a 3-point method fits, all checked before any is used: finite (else
    /// `nonFinite`), and for `gaussian` positive (else `nonPositive`) and then their logarithms.
    static func threePointValues(_ values: [Float], _ method: SubpixelMethod) -> Result<[Double], SubpixelOutcomeError> {
        if values.contains(where: { !$0.isFinite }) { return .failure(.init(.nonFinite)) }
        guard method == .gaussian else { return .success(values.map { Double($0) }) }
        if values.contains(where: { $0 <= 0 }) { return .failure(.init(.nonPositive)) }
        return .success(values.map { log(Double($0)) })
    }

    /// Vertex offset of the parabola through (-1, a), (0, b), (1, c), if it is a maximum.
    static func vertex3(_ a: Double, _ b: Double, _ c: Double) -> Result<Double, SubpixelOutcomeError> {
        let curvature = a - 2 * b + c
        if a == b && b == c { return .failure(.init(.flat)) }
        guard curvature < 0, curvature.isFinite else { return .failure(.init(.notAMaximum)) }
        let delta = (a - c) / (2 * curvature)
        guard delta.isFinite else { return .failure(.init(.notAMaximum)) }
        return .success(delta)
    }

    static func centreOfMass(_ image: Image, _ x: Int, _ y: Int, _ half: Int) -> SubpixelResult {
        let x0 = max(0, x - half), x1 = min(image.width - 1, x + half)
        let y0 = max(0, y - half), y1 = min(image.height - 1, y + half)
        var lowest = Float.infinity
        for j in y0...y1 { for i in x0...x1 {
            let v = image[i, j]
            if !v.isFinite { return SubpixelResult(x: Double(x), y: Double(y), outcome: .nonFinite) }
            if v < lowest { lowest = v }
        } }
        var s = 0.0, sx = 0.0, sy = 0.0
        for j in y0...y1 { for i in x0...x1 {
            let v = Double(image[i, j]) - Double(lowest)
            s += v; sx += v * Double(i - x); sy += v * Double(j - y)
        } }
        guard s > 0, s.isFinite else { return SubpixelResult(x: Double(x), y: Double(y), outcome: .flat) }
        return SubpixelResult(x: Double(x) + sx / s, y: Double(y) + sy / s, outcome: .refined)
    }

    static func quadraticFit(_ image: Image, _ x: Int, _ y: Int, _ half: Int) -> SubpixelResult {
        let fallback = { (o: SubpixelOutcome) in SubpixelResult(x: Double(x), y: Double(y), outcome: o) }
        let x0 = max(0, x - half), x1 = min(image.width - 1, x + half)
        let y0 = max(0, y - half), y1 = min(image.height - 1, y + half)
        guard x1 - x0 >= 2, y1 - y0 >= 2 else { return fallback(.atBorder) }
        // Normal equations A^T A p = A^T f with rows (1, u, v, u^2, uv, v^2).
        var m = [Double](repeating: 0, count: 36)
        var rhs = [Double](repeating: 0, count: 6)
        var first: Float? = nil, allEqual = true
        for j in y0...y1 { for i in x0...x1 {
            let value = image[i, j]
            if !value.isFinite { return fallback(.nonFinite) }
            if let f = first { if f != value { allEqual = false } } else { first = value }
            let u = Double(i - x), v = Double(j - y), f = Double(value)
            let row = [1, u, v, u * u, u * v, v * v]
            for a in 0..<6 {
                rhs[a] += row[a] * f
                for b in 0..<6 { m[a * 6 + b] += row[a] * row[b] }
            }
        } }
        if allEqual { return fallback(.flat) }
        guard let p = LinearSystem.solve(m, rhs) else { return fallback(.notAMaximum) }
        let b = p[1], c = p[2], d = p[3], e = p[4], f = p[5]
        let det = 4 * d * f - e * e
        guard d < 0, det > 0, det.isFinite else { return fallback(.notAMaximum) }
        // [2d e; e 2f] (u, v) = -(b, c)
        let u = (-2 * f * b + e * c) / det
        let v = (-2 * d * c + e * b) / det
        guard u.isFinite, v.isFinite else { return fallback(.notAMaximum) }
        if u * u + v * v > 1 { return fallback(.movedTooFar) }
        return SubpixelResult(x: Double(x) + u, y: Double(y) + v, outcome: .refined)
    }
}

/// The reason carried by a failed 3-point fit.
struct SubpixelOutcomeError: Error {
    let outcome: SubpixelOutcome
    init(_ outcome: SubpixelOutcome) { self.outcome = outcome }
}
