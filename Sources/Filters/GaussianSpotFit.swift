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

/// Least-squares fit of spots: pixel-integrated isotropic Gaussians on a plane background, by
/// Levenberg-Marquardt, over square windows around first guesses. Spots close enough to overlap
/// are fitted together (one group, one background), as DAOPHOT's NSTAR and photutils' grouped
/// PSF photometry do, so a neighbour's light is modelled instead of pulling the fit.
///
/// The model of pixel (i, j) (pixel centres at integers, x = column i, y = row j) is
///
///     M(i, j) = B + b_x (i - c_x) + b_y (j - c_y) + sum_k A_k E(i; x_k, s_k) E(j; y_k, s_k)
///     E(i; x0, s) = s sqrt(2 pi) (Phi((i + 1/2 - x0) / s) - Phi((i - 1/2 - x0) / s))
///
/// so `A exp(-r^2 / 2 s^2)` is the continuous spot before the detector integrates it over each
/// pixel (A is its peak height, `2 pi s^2 A` its flux) and (c_x, c_y) is the pixel nearest the
/// guesses' mean. Unknowns: x, y, s, A per spot and B, b_x, b_y. The plane absorbs sloped
/// backgrounds and the wings of a bright feature nearby; being odd about the centre it barely
/// costs the precision of s and A. Pixel integration matters for small spots: a point-sampled
/// Gaussian fitted to an integrated one of s = 1 px reports s about 4% too large
/// (sqrt(1 + 1/12)).
///
/// Why fit at all: the estimates are unbiased and their scatter comes close to the Cramer-Rao
/// bound of this model on white noise (docs/algorithms/log.md has the table), which scale-space
/// interpolation (three scales a factor 1.41 apart) is not: it scatters 1.5-2x the bound.
///
/// Derivatives are analytic: with a = (i - 1/2 - x0) / s, b = (i + 1/2 - x0) / s and
/// g(t) = exp(-t^2 / 2), dE/dx0 = g(a) - g(b) and dE/ds = E / s - (b g(b) - a g(a)).
/// The normal equations are scaled to a unit diagonal before damping: the unknowns' units
/// (pixels, counts, counts per pixel) differ by many orders of magnitude.
public enum GaussianSpotFit {
    /// A first guess: centre, sigma, and optionally the peak height above the background.
    public struct Guess: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var sigma: Double
        public var amplitude: Double?
        /// Half-width of the square window around the guess's nearest pixel.
        public var halfWidth: Int
        public init(x: Double, y: Double, sigma: Double, amplitude: Double? = nil, halfWidth: Int) {
            self.x = x; self.y = y; self.sigma = sigma; self.amplitude = amplitude; self.halfWidth = halfWidth
        }
    }

    public struct Result: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var sigma: Double
        /// Peak height of the continuous Gaussian above the background (negative for a dip).
        public var amplitude: Double
        /// Background level at the fitted centre.
        public var background: Double
        /// Root mean square of the residuals over the fitted pixels (of the whole group).
        public var residualRMS: Double
        public var iterations: Int
        /// Pixels fitted (of the whole group).
        public var pixels: Int
    }

    /// The background under the spots: a plane B + b_x (i - c_x) + b_y (j - c_y) (the default),
    /// a constant B (b_x = b_y = 0: two unknowns fewer, for small windows around single spots,
    /// where the slopes trade off against the centre), or a quadratic surface, the plane plus
    /// b_xx (i - c_x)^2 + b_xy (i - c_x)(j - c_y) + b_yy (j - c_y)^2 (three unknowns more, for
    /// windows wide enough that a smooth background's curvature shows: a broad hump or halo under
    /// a faint spot bends by tens of counts over 20-30 px, which a plane leaves to the spot's
    /// sigma and amplitude to absorb).
    public enum Background: Sendable {
        case plane
        case constant
        case quadratic
    }

    /// One spot: `fit(_:spots:)` with a single guess.
    public static func fit(
        _ image: Image, x: Double, y: Double, sigma: Double, amplitude: Double? = nil,
        halfWidth: Int, background: Background = .plane, maxIterations: Int = 100, include: (Int, Int) -> Bool = { _, _ in true }
    ) -> Result? {
        fit(image, spots: [Guess(x: x, y: y, sigma: sigma, amplitude: amplitude, halfWidth: halfWidth)],
            background: background, maxIterations: maxIterations, include: include)?.first
    }

    /// Fits the spots of one group together over the union of their windows (clipped to the
    /// image). Pixels with `include(i, j) == false` (invalid, or the core of a spot outside the
    /// group) are left out. Returns one result per guess, in order, or nil when fewer than three
    /// pixels per unknown remain, the normal equations are singular, or the iteration leaves the
    /// sensible region (a sigma outside [0.2, 4 halfWidth + 4], a centre more than its
    /// halfWidth from its guess, non-finite numbers). The caller decides whether the answers are
    /// plausible.
    public static func fit(
        _ image: Image, spots guesses: [Guess], background model: Background = .plane, maxIterations: Int = 100,
        include: (Int, Int) -> Bool = { _, _ in true }
    ) -> [Result]? {
        let w = image.width, h = image.height
        let spots = guesses.count
        guard spots > 0, guesses.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.sigma.isFinite && $0.sigma > 0 && $0.halfWidth >= 1 }) else { return nil }
        let slopes = model != .constant, curved = model == .quadratic
        // Unknowns: (x, y, s, A) per spot, then B (and b_x, b_y; and b_xx, b_xy, b_yy).
        let n = 4 * spots + (curved ? 6 : slopes ? 3 : 1)
        let planeIndex = 4 * spots

        // The union of the windows, as a bounding box and a list of the pixels that take part.
        var bx0 = w, bx1 = -1, by0 = h, by1 = -1
        let centres = guesses.map { (Int($0.x.rounded()), Int($0.y.rounded())) }
        for (g, c) in zip(guesses, centres) {
            bx0 = min(bx0, max(0, c.0 - g.halfWidth)); bx1 = max(bx1, min(w - 1, c.0 + g.halfWidth))
            by0 = min(by0, max(0, c.1 - g.halfWidth)); by1 = max(by1, min(h - 1, c.1 + g.halfWidth))
        }
        guard bx0 <= bx1, by0 <= by1 else { return nil }
        let nx = bx1 - bx0 + 1, ny = by1 - by0 + 1
        // The pixels that take part (offsets in the box and values), in raw buffers: the hot loops
        // below read them without copy-on-write or bounds checks.
        let px = UnsafeMutablePointer<Int32>.allocate(capacity: nx * ny), py = UnsafeMutablePointer<Int32>.allocate(capacity: nx * ny)
        let pv = UnsafeMutablePointer<Double>.allocate(capacity: nx * ny)
        defer { px.deallocate(); py.deallocate(); pv.deallocate() }
        var count = 0
        var edge: [Float] = []
        var lowest = Double.infinity, highest = -Double.infinity
        image.pixels.withUnsafeBufferPointer { p in
            for j in 0..<ny {
                let y = by0 + j
                for i in 0..<nx {
                    let x = bx0 + i
                    var inWindow = false, onEdge = false
                    for (g, c) in zip(guesses, centres) where abs(x - c.0) <= g.halfWidth && abs(y - c.1) <= g.halfWidth {
                        inWindow = true
                        if abs(x - c.0) == g.halfWidth || abs(y - c.1) == g.halfWidth { onEdge = true }
                    }
                    guard inWindow else { continue }
                    let v = Double(p[y &* w &+ x])
                    guard v.isFinite, include(x, y) else { continue }
                    (px + count).initialize(to: Int32(i)); (py + count).initialize(to: Int32(j)); (pv + count).initialize(to: v)
                    count += 1
                    if onEdge { edge.append(Float(v)) }
                    lowest = min(lowest, v); highest = max(highest, v)
                }
            }
        }
        guard count >= 3 * n else { return nil }
        let cx = Int((guesses.map(\.x).reduce(0, +) / Double(spots)).rounded())
        let cy = Int((guesses.map(\.y).reduce(0, +) / Double(spots)).rounded())

        // Start: the guesses, the background at the median of the windows' edge pixels and each
        // amplitude at its centre pixel's height above it (negative for a dip).
        let background = edge.isEmpty ? 0.5 * (lowest + highest) : Double(Selection.median(&edge))
        var p = [Double](repeating: 0, count: n)
        for (k, g) in guesses.enumerated() {
            let c = centres[k]
            let inside = c.0 >= 0 && c.0 < w && c.1 >= 0 && c.1 < h
            let peak = inside ? Double(image.pixels[c.1 * w + c.0]) : highest
            p[4 * k] = g.x; p[4 * k + 1] = g.y; p[4 * k + 2] = g.sigma
            p[4 * k + 3] = g.amplitude ?? (peak - background)
            if !p[4 * k + 3].isFinite || p[4 * k + 3] == 0 { p[4 * k + 3] = peak.isFinite ? peak - background : 1 }
        }
        p[planeIndex] = background

        // Per spot, E and its derivatives along each axis of the bounding box.
        let tableCount = spots * (nx + ny)
        let tableStorage = UnsafeMutablePointer<Double>.allocate(capacity: 3 * tableCount)
        tableStorage.initialize(repeating: 0, count: 3 * tableCount)
        defer { tableStorage.deallocate() }
        let ex = tableStorage, exd = ex + spots * nx, exs = exd + spots * nx
        let ey = exs + spots * nx, eyd = ey + spots * ny, eys = eyd + spots * ny
        let root2pi = (2 * Double.pi).squareRoot()
        // Pixel t's upper edge is pixel t + 1's lower edge, so erf and exp are evaluated once per
        // edge (length + 1 of them) rather than twice per pixel: (c + 1) - 0.5 == c + 0.5 exactly
        // for these whole numbers, so every value is bit for bit what the per-pixel form gives.
        let edgeCapacity = max(nx, ny) + 1
        let edgeStorage = UnsafeMutablePointer<Double>.allocate(capacity: 3 * edgeCapacity)
        edgeStorage.initialize(repeating: 0, count: 3 * edgeCapacity)
        defer { edgeStorage.deallocate() }
        let edgeErf = edgeStorage, edgeGauss = edgeStorage + edgeCapacity, edgeRatio = edgeGauss + edgeCapacity
        func axis(_ first: Int, _ length: Int, _ centre: Double, _ s: Double, _ offset: Int,
                  _ e: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ ds: UnsafeMutablePointer<Double>) {
            let k = 1 / (s * 2.0.squareRoot())
            for t in 0...length {
                let lower = Double(first + t) - 0.5  // pixel t's lower edge
                let a = (lower - centre) / s
                edgeRatio[t] = a
                edgeGauss[t] = exp(-0.5 * a * a)
                edgeErf[t] = erf((lower - centre) * k)
            }
            for t in 0..<length {
                let a = edgeRatio[t], b = edgeRatio[t + 1]
                let ga = edgeGauss[t], gb = edgeGauss[t + 1]
                let value = s * root2pi * 0.5 * (edgeErf[t + 1] - edgeErf[t])
                e[offset + t] = value
                d[offset + t] = ga - gb
                ds[offset + t] = value / s - (b * gb - a * ga)
            }
        }
        func tables(_ q: [Double]) {
            for k in 0..<spots {
                axis(bx0, nx, q[4 * k], q[4 * k + 2], k * nx, ex, exd, exs)
                axis(by0, ny, q[4 * k + 1], q[4 * k + 2], k * ny, ey, eyd, eys)
            }
        }
        /// Sum of squared residuals at `q` (leaves the tables at q).
        func cost(_ q: [Double]) -> Double {
            tables(q)
            let b = q[planeIndex], gx = slopes ? q[planeIndex + 1] : 0, gy = slopes ? q[planeIndex + 2] : 0
            let gxx = curved ? q[planeIndex + 3] : 0, gxy = curved ? q[planeIndex + 4] : 0, gyy = curved ? q[planeIndex + 5] : 0
            let ox = bx0 &- cx, oy = by0 &- cy
            return q.withUnsafeBufferPointer { qb -> Double in
                var sum = 0.0
                if spots == 1 {
                    // One spot: the same sums in C (_PeaksVectorKernels), where the sum stays in
                    // a register (here it was stored and reloaded on each pixel's path).
                    if curved {
                        // q[planeIndex ..< planeIndex + 6] is (B, b_x, b_y, b_xx, b_xy, b_yy).
                        return peaks_spot_cost_quadratic(count, px, py, pv, qb.baseAddress! + planeIndex, ox, oy, qb[3], ex, ey)
                    }
                    return peaks_spot_cost(count, px, py, pv, b, gx, gy, ox, oy, qb[3], ex, ey)
                }
                for t in 0..<count {
                    let i = Int(px[t]), j = Int(py[t])
                    let u = Double(ox &+ i), v = Double(oy &+ j)
                    var m = b + gx * u + gy * v
                    if curved { m += gxx * u * u + gxy * u * v + gyy * v * v }
                    for k in 0..<spots { m += qb[4 &* k &+ 3] * ex[k &* nx &+ i] * ey[k &* ny &+ j] }
                    let r = pv[t] - m
                    sum += r * r
                }
                return sum
            }
        }
        func plausible(_ q: [Double]) -> Bool {
            for (k, g) in guesses.enumerated() {
                let s = q[4 * k + 2]
                guard s > 0.2, s < 4 * Double(g.halfWidth) + 4,
                      abs(q[4 * k] - g.x) <= Double(g.halfWidth), abs(q[4 * k + 1] - g.y) <= Double(g.halfWidth) else { return false }
            }
            return q.allSatisfy(\.isFinite)
        }

        var current = cost(p)
        guard current.isFinite else { return nil }
        var lambda = 1e-3
        var iterations = 0
        var jtj = [Double](repeating: 0, count: n * n), jtr = [Double](repeating: 0, count: n)
        // The normal equations are summed in C (_PeaksVectorKernels), as lines of 8-lane vectors:
        // for one spot (5, 7 or 10 unknowns) by `peaks_spot_normal_equations`, whose sums stay in
        // registers; for a group by `peaks_group_normal_equations`. Per pixel, n vector
        // multiply-adds instead of n (n + 1) / 2 scalar ones through memory (a group of 6 on a
        // plane: 27 unknowns, 378 products a pixel; the Swift loop that did them took half of
        // `log`'s time on the nuclei). Each element at and above the diagonal receives the
        // products of the pixel's Jacobian row in pixel order, with no fused multiply-add, so the
        // sums are those of the plain loop (VectorKernelTests holds it) on every instruction set;
        // the lanes below the diagonal are discarded (copied from above it).
        let laneStride = spots == 1 ? (n <= 8 ? 8 : 16) : (n + 7) / 8 * 8
        let lines = UnsafeMutablePointer<Double>.allocate(capacity: n * laneStride)
        defer { lines.deallocate() }
        let model: Int32 = curved ? 2 : slopes ? 1 : 0
        while iterations < maxIterations {
            iterations += 1
            // The tables hold p's values: the last cost() was of p (before the loop, or the
            // accepted trial, after which the trials stop).
            for k in 0..<(n * n) { jtj[k] = 0 }
            for k in 0..<n { jtr[k] = 0 }
            let ox = bx0 &- cx, oy = by0 &- cy
            lines.initialize(repeating: 0, count: n * laneStride)
            p.withUnsafeBufferPointer { pb in
                jtr.withUnsafeMutableBufferPointer { rb in
                    if spots == 1 {
                        peaks_spot_normal_equations(
                            count, px, py, pv, pb.baseAddress!, n, model, ox, oy, ex, exd, exs, ey, eyd, eys, rb.baseAddress!, lines)
                    } else {
                        peaks_group_normal_equations(
                            count, px, py, pv, pb.baseAddress!, spots, n, model, ox, oy, nx, ny, ex, exd, exs, ey, eyd, eys,
                            rb.baseAddress!, lines)
                    }
                }
            }
            for a in 0..<n { for b in a..<n { jtj[a * n + b] = lines[a * laneStride + b] } }
            for a in 0..<n { for b in 0..<a { jtj[a * n + b] = jtj[b * n + a] } }
            var unit = [Double](repeating: 0, count: n)
            for a in 0..<n { unit[a] = jtj[a * n + a].squareRoot() }
            guard unit.allSatisfy({ $0 > 0 && $0.isFinite }) else { break }
            var improved = false, converged = false
            for _ in 0..<12 {
                var damped = jtj
                for a in 0..<n { for b in 0..<n { damped[a * n + b] /= unit[a] * unit[b] } }
                for a in 0..<n { damped[a * n + a] = 1 + lambda }
                let rhs = (0..<n).map { jtr[$0] / unit[$0] }
                guard var step = LinearSystem.solve(damped, rhs) else { lambda *= 10; continue }
                for a in 0..<n { step[a] /= unit[a] }
                var q = p
                for a in 0..<n { q[a] += step[a] }
                guard plausible(q) else { lambda *= 10; continue }
                let c = cost(q)
                if c.isFinite && c <= current {
                    // Converged when centres and sigmas stop moving (far below any precision the
                    // data allow), or the cost stops falling while the steps are small.
                    var largest = 0.0
                    for k in 0..<spots {
                        largest = max(largest, abs(step[4 * k]), abs(step[4 * k + 1]), abs(step[4 * k + 2]) / q[4 * k + 2])
                    }
                    converged = largest < 1e-5 || (largest < 1e-3 && current - c <= 1e-9 * current)
                    p = q; current = c
                    lambda = max(1e-9, lambda * 0.1)
                    improved = true
                    break
                }
                lambda *= 10
            }
            if !improved || converged { break }
        }
        guard plausible(p) else { return nil }
        let rms = (current / Double(count)).squareRoot()
        return (0..<spots).map { k in
            let x = p[4 * k], y = p[4 * k + 1]
            let u = x - Double(cx), v = y - Double(cy)
            var level = p[planeIndex]
            if slopes { level += p[planeIndex + 1] * u + p[planeIndex + 2] * v }
            if curved { level += p[planeIndex + 3] * u * u + p[planeIndex + 4] * u * v + p[planeIndex + 5] * v * v }
            return Result(
                x: x, y: y, sigma: p[4 * k + 2], amplitude: p[4 * k + 3],
                background: level,
                residualRMS: rms, iterations: iterations, pixels: count)
        }
    }
}
