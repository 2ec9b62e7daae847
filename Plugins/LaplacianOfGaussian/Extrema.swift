import Filters
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

/// A maximum of the scale space before refinement: pixel, scale index, response there.
struct GridMaximum: Sendable, Equatable {
    var x: Int32
    var y: Int32
    var value: Float
}

/// A refined scale-space maximum.
struct Blob: Sendable, Equatable {
    var x: Double
    var y: Double
    var sigma: Double
    /// The sign-corrected response at the refined position (interpolated).
    var response: Double
    /// The detection statistic: the largest response / response noise at the blob's pixel over
    /// its own scale and the next ones (`LoGDetector`, "Detection statistic"); with a fixed
    /// threshold, response / noise at its own scale.
    var snr: Double
    /// +1 bright, -1 dark.
    var polarity: Double
    var scaleIndex: Int
    /// The pixel of the scale-space maximum before refinement.
    var gridX: Int
    var gridY: Int
    /// The fitted peak height above the background (`GaussianSpotFit`), 0 when not fitted.
    var amplitude: Double = 0
    var fitted: Bool = false
}

/// The frame of the padded response arrays (`LoGScaleSpace`): image pixel (x, y) is element
/// `(y + pad) * stride + (x + pad)`.
struct ResponseFrame: Sendable {
    let width: Int
    let height: Int
    let pad: Int
    let stride: Int
    @inline(__always) func index(_ x: Int, _ y: Int) -> Int { (y &+ pad) &* stride &+ (x &+ pad) }
}

/// Local maxima in the 3x3x3 scale-space neighbourhood, and their quadratic refinement.
enum ScaleSpaceExtrema {
    /// The pixels of scale `cur` whose value `sign * cur` is above `threshold` and a maximum of
    /// its 3x3x3 neighbourhood (neighbours outside the image or beyond the first and last scale
    /// are ignored, like skimage's `peak_local_max` with `mode='nearest'` in scale). Ties: a pixel
    /// must be strictly greater than the neighbours that come before it in (scale, row, column)
    /// order and at least equal to the ones after, so a plateau gives exactly one maximum.
    /// Only pixels with `valid[y * width + x]` are considered. Rows run in parallel bands; the
    /// result is in raster order whatever the thread count.
    static func maxima(
        prev: [Float]?, cur: [Float], next: [Float]?, sign: Float, threshold: Float,
        frame f: ResponseFrame, valid: [Bool], noise: LocalNoise, gains: (x: [Float], y: [Float])
    ) -> [GridMaximum] {
        let w = f.width, h = f.height
        let bandRows = 64
        let bands = (h + bandRows - 1) / bandRows
        var results = [[GridMaximum]](repeating: [], count: bands)
        let empty: [Float] = []
        let hasPrev = prev != nil, hasNext = next != nil
        let prevArray = prev ?? empty, nextArray = next ?? empty
        results.withUnsafeMutableBufferPointer { resultBuffer in
            let out = SharedPointer(resultBuffer.baseAddress!)
            cur.withUnsafeBufferPointer { cb in
                prevArray.withUnsafeBufferPointer { pb in
                    nextArray.withUnsafeBufferPointer { nb in
                        valid.withUnsafeBufferPointer { vb in
                          noise.ratio.withUnsafeBufferPointer { rb in
                           gains.x.withUnsafeBufferPointer { gxb in
                            let ratio = SharedPointer(rb.baseAddress!)
                            let gx = SharedPointer(gxb.baseAddress!)
                            let quick = threshold * noise.minimum * (gains.x.min() ?? 1) * (gains.y.min() ?? 1)
                            let c = SharedPointer(cb.baseAddress!)
                            let p = hasPrev ? SharedPointer(pb.baseAddress!) : c
                            let n = hasNext ? SharedPointer(nb.baseAddress!) : c
                            let v = SharedPointer(vb.baseAddress!)
                            Parallel.forEach(bands) { band in
                                var found: [GridMaximum] = []
                                let y0 = band * bandRows, y1 = min(h, y0 + bandRows)
                                for y in y0..<y1 {
                                    let rowThreshold = threshold * gains.y[y]
                                    let up = y > 0, down = y < h - 1
                                    var i = f.index(0, y)
                                    let vrow = y &* w
                                    for x in 0..<w {
                                        defer { i &+= 1 }
                                        let value = sign * c[i]
                                        guard value > quick, value > rowThreshold * ratio[vrow &+ x] * gx[x], v[vrow &+ x] else { continue }
                                        let left = x > 0, right = x < w - 1
                                        if !isMaximum(value, c, i, f.stride, left, right, up, down, sign) { continue }
                                        if hasPrev && !isMaximumStrict(value, p, i, f.stride, left, right, up, down, sign) { continue }
                                        if hasNext && !isMaximumWeak(value, n, i, f.stride, left, right, up, down, sign) { continue }
                                        found.append(GridMaximum(x: Int32(x), y: Int32(y), value: value))
                                    }
                                }
                                out[band] = found
                            }
                           }
                          }
                        }
                    }
                }
            }
        }
        return results.flatMap { $0 }
    }

    /// Same scale: strictly greater than the earlier neighbours (previous row, left), at least
    /// equal to the later ones.
    @inline(__always)
    static func isMaximum(
        _ value: Float, _ a: SharedPointer<Float>, _ i: Int, _ s: Int,
        _ left: Bool, _ right: Bool, _ up: Bool, _ down: Bool, _ sign: Float
    ) -> Bool {
        if left && !(value > sign * a[i &- 1]) { return false }
        if right && !(value >= sign * a[i &+ 1]) { return false }
        if up {
            let u = i &- s
            if !(value > sign * a[u]) { return false }
            if left && !(value > sign * a[u &- 1]) { return false }
            if right && !(value > sign * a[u &+ 1]) { return false }
        }
        if down {
            let d = i &+ s
            if !(value >= sign * a[d]) { return false }
            if left && !(value >= sign * a[d &- 1]) { return false }
            if right && !(value >= sign * a[d &+ 1]) { return false }
        }
        return true
    }

    /// All nine neighbours at the previous scale: strictly greater.
    @inline(__always)
    static func isMaximumStrict(
        _ value: Float, _ a: SharedPointer<Float>, _ i: Int, _ s: Int,
        _ left: Bool, _ right: Bool, _ up: Bool, _ down: Bool, _ sign: Float
    ) -> Bool {
        @inline(__always) func row(_ r: Int) -> Bool {
            if !(value > sign * a[r]) { return false }
            if left && !(value > sign * a[r &- 1]) { return false }
            if right && !(value > sign * a[r &+ 1]) { return false }
            return true
        }
        if !row(i) { return false }
        if up && !row(i &- s) { return false }
        if down && !row(i &+ s) { return false }
        return true
    }

    /// All nine neighbours at the next scale: at least equal.
    @inline(__always)
    static func isMaximumWeak(
        _ value: Float, _ a: SharedPointer<Float>, _ i: Int, _ s: Int,
        _ left: Bool, _ right: Bool, _ up: Bool, _ down: Bool, _ sign: Float
    ) -> Bool {
        @inline(__always) func row(_ r: Int) -> Bool {
            if !(value >= sign * a[r]) { return false }
            if left && !(value >= sign * a[r &- 1]) { return false }
            if right && !(value >= sign * a[r &+ 1]) { return false }
            return true
        }
        if !row(i) { return false }
        if up && !row(i &- s) { return false }
        if down && !row(i &+ s) { return false }
        return true
    }

    /// Refines a grid maximum by quadratic fits in (x, y) and in the scale index (linear in
    /// log sigma: sigma_i = sigma_0 k^i):
    ///
    /// 1. space: the Newton step `o = -H^-1 g` of the 3x3 neighbourhood at the maximum's scale
    ///    (central differences, with the xy term); if H is not negative definite or an offset
    ///    exceeds 1, each axis falls back to its 3-point parabola (|offset| <= 0.5 at a maximum);
    /// 2. scale: the same quadratic surface fitted at each of the three scales is evaluated at
    ///    the refined (x, y), and a parabola through those three values gives the scale offset
    ///    (clamped to +-1) and the interpolated response.
    ///
    /// Space and scale are fitted separately on purpose: for a round blob the mixed derivatives
    /// d2R/dx ds and d2R/dy ds vanish at its centre (R is symmetric about the centre at every
    /// scale), and estimating them at a pixel off the centre pulled the full 3x3x3 Newton step by
    /// up to 0.13 px and sigma by 8% on clean blobs; evaluating the scale profile at the refined
    /// position rather than at the pixel removes the bias towards larger sigma off-centre.
    /// When every value used is positive the fits are made to ln R: the response around a blob is
    /// close to a Gaussian in x and y (ln quadratic) and to sech^2 in log sigma, so the log fit has
    /// less pixel-locking bias. Axes without both neighbours (image border, the last scale, the
    /// first scale unless `finer` is given) keep offset 0. Also returns Lowe's edge measure
    /// tr(H)^2 / det(H) of the spatial Hessian of R (4 for a round blob, infinity when det <= 0).
    ///
    /// At the first scale there is no `prev`; `finer` may give the response one scale step
    /// below it on the 3x3 pixels around the maximum (row-major, `LoGScaleSpace.responsePatch`).
    /// It then serves the scale parabola only: the scale offset (so sigma) is interpolated as
    /// at any other scale, while `value` stays the response at the first scale, the one the
    /// detection statistic's noise belongs to (there is no noise estimate for the finer scale),
    /// and the quadratic (dx, dy) is unchanged. Step 3 below (with `sigmas`) uses the blob's
    /// sigma, so it moves the position slightly (closer on clean blobs: up to 0.006 -> 0.0002 px).
    static func refine(
        _ m: GridMaximum, prev: [Float]?, cur: [Float], next: [Float]?, sign: Float, frame f: ResponseFrame,
        sigmas: (scale: Double, step: Double)? = nil, finer: [Float]? = nil
    ) -> (dx: Double, dy: Double, ds: Double, value: Double, edgeness: Double) {
        let x = Int(m.x), y = Int(m.y)
        let i = f.index(x, y), s = f.stride
        let ax = x > 0 && x < f.width - 1, ay = y > 0 && y < f.height - 1
        let bothScales = prev != nil && next != nil
        // The finer patch stands in for `prev` at the first scale only (with a next scale).
        let finerPatch = prev == nil && next != nil && finer?.count == 9 ? finer : nil
        func d(_ dx: Int, _ dy: Int, _ ds: Int) -> Double {
            let j = i + dy * s + dx
            switch ds {
            case -1:
                if let finerPatch { return Double(sign * finerPatch[(dy + 1) * 3 + dx + 1]) }
                return Double(sign * (prev?[j] ?? 0))
            case 1: return Double(sign * (next?[j] ?? 0))
            default: return Double(sign * cur[j])
            }
        }
        let c0 = Double(m.value)
        var edgeness = 4.0
        if ax && ay {
            let hxx = d(1, 0, 0) + d(-1, 0, 0) - 2 * c0, hyy = d(0, 1, 0) + d(0, -1, 0) - 2 * c0
            let hxy = (d(1, 1, 0) - d(1, -1, 0) - d(-1, 1, 0) + d(-1, -1, 0)) / 4
            let det = hxx * hyy - hxy * hxy
            edgeness = det > 0 ? (hxx + hyy) * (hxx + hyy) / det : .infinity
        }
        func positive(_ ds: Int) -> Bool {
            for dy in -1...1 where y + dy >= 0 && y + dy < f.height {
                for dx in -1...1 where x + dx >= 0 && x + dx < f.width && !(d(dx, dy, ds) > 0) { return false }
            }
            return true
        }
        // The finer patch takes no part in this choice, which at the first scale looks at that
        // scale alone as before, so the quadratic in (x, y) and the value are those without it;
        // the scale parabola uses it only where all three scales fit the chosen model (in the
        // log model every value must be positive).
        let useLog = (bothScales ? [-1, 0, 1] : [0]).allSatisfy(positive)
        let useFiner = finerPatch != nil && (!useLog || (positive(-1) && positive(1)))
        let asc = bothScales || useFiner
        func e(_ dx: Int, _ dy: Int, _ ds: Int) -> Double { useLog ? log(d(dx, dy, ds)) : d(dx, dy, ds) }
        /// Gradient and Hessian in (x, y) at scale ds (zero along a missing axis).
        func surface(_ ds: Int) -> (c: Double, gx: Double, gy: Double, hxx: Double, hyy: Double, hxy: Double) {
            let c = e(0, 0, ds)
            var gx = 0.0, gy = 0.0, hxx = 0.0, hyy = 0.0, hxy = 0.0
            if ax { let p = e(1, 0, ds), q = e(-1, 0, ds); gx = (p - q) / 2; hxx = p + q - 2 * c }
            if ay { let p = e(0, 1, ds), q = e(0, -1, ds); gy = (p - q) / 2; hyy = p + q - 2 * c }
            if ax && ay { hxy = (e(1, 1, ds) - e(1, -1, ds) - e(-1, 1, ds) + e(-1, -1, ds)) / 4 }
            return (c, gx, gy, hxx, hyy, hxy)
        }
        let q = surface(0)
        var dx = 0.0, dy = 0.0
        var solved = false
        if ax && ay, let o = solveNegativeDefinite([q.hxx, q.hxy, q.hxy, q.hyy], [q.gx, q.gy], 2),
           abs(o[0]) <= 1, abs(o[1]) <= 1 {
            dx = o[0]; dy = o[1]; solved = true
        }
        if !solved {
            if ax && q.hxx < 0 { dx = min(0.5, max(-0.5, -q.gx / q.hxx)) }
            if ay && q.hyy < 0 { dy = min(0.5, max(-0.5, -q.gy / q.hyy)) }
        }
        func at(_ p: (c: Double, gx: Double, gy: Double, hxx: Double, hyy: Double, hxy: Double)) -> Double {
            p.c + p.gx * dx + p.gy * dy + 0.5 * (p.hxx * dx * dx + 2 * p.hxy * dx * dy + p.hyy * dy * dy)
        }
        var value = at(q)
        var ds = 0.0
        if asc {
            let lower = at(surface(-1)), upper = at(surface(1))
            let curvature = lower + upper - 2 * value
            if curvature < 0 {
                ds = min(1, max(-1, (lower - upper) / (2 * curvature)))
                if !useFiner { value += 0.5 * (upper - lower) / 2 * ds }
            }
        }
        if useLog { value = exp(value) }
        // 3. the blob model's profile, given the scale and the blob's sigma (step 2).
        if let sigmas, ax && ay {
            let blob = sigmas.scale * pow(sigmas.step, ds)
            let S = (sigmas.scale * sigmas.scale + blob * blob).squareRoot()
            var values = [Double](repeating: 0, count: 9)
            for k in 0..<9 { values[k] = d(k % 3 - 1, k / 3 - 1, 0) }
            if let fit = modelFit(values, S: S, dx: dx, dy: dy) { dx = fit.dx; dy = fit.dy }
        }
        return (dx, dy, ds, value, edgeness)
    }

    /// Refines the position of a blob from the 3x3 responses `values` (row-major, offsets -1...1
    /// around the maximum's pixel) by fitting the response a Gaussian blob gives, by Gauss-Newton
    /// least squares, starting from (dx, dy):
    ///
    ///     R(x, y) = A (1 - q) exp(-q) + B,   q = ((x - dx)^2 + (y - dy)^2) / (2 S^2),
    ///
    /// the scale-normalised LoG of a Gaussian of variance s^2 at scale sigma, S^2 = sigma^2 + s^2,
    /// with S fixed from the scale and the blob's estimated sigma. The quadratic (even in log)
    /// fit of this sharper-than-Gaussian profile is biased towards the pixel centre by up to
    /// 0.08 px per axis when S is small (sigma 1 blobs); the model fit removes that. Returns nil
    /// when the fit does not converge or moves more than 1 px (the caller keeps the quadratic).
    static func modelFit(_ values: [Double], S: Double, dx: Double, dy: Double) -> (dx: Double, dy: Double)? {
        var p = [0.0, 0.0, dx, dy]  // A, B, x0, y0
        // Initial A, B by linear least squares at the starting position.
        func basis(_ u: Double, _ v: Double, _ x0: Double, _ y0: Double) -> (f: Double, dfx: Double, dfy: Double) {
            let q = ((u - x0) * (u - x0) + (v - y0) * (v - y0)) / (2 * S * S)
            let e = exp(-q)
            let common = (2 - q) * e / (S * S)
            return ((1 - q) * e, common * (u - x0), common * (v - y0))
        }
        var sff = 0.0, sf = 0.0, sfr = 0.0, sr = 0.0
        for k in 0..<9 {
            let b = basis(Double(k % 3 - 1), Double(k / 3 - 1), dx, dy)
            sff += b.f * b.f; sf += b.f; sfr += b.f * values[k]; sr += values[k]
        }
        let det = 9 * sff - sf * sf
        guard abs(det) > 1e-12 else { return nil }
        p[0] = (9 * sfr - sf * sr) / det
        p[1] = (sr - p[0] * sf) / 9
        for _ in 0..<8 {
            // Normal equations J^T J step = J^T r, rows accumulated in SIMD registers (no heap).
            var j0 = SIMD4<Double>(), j1 = SIMD4<Double>(), j2 = SIMD4<Double>(), j3 = SIMD4<Double>()
            var jr = SIMD4<Double>()
            for k in 0..<9 {
                let b = basis(Double(k % 3 - 1), Double(k / 3 - 1), p[2], p[3])
                let row = SIMD4<Double>(b.f, 1, p[0] * b.dfx, p[0] * b.dfy)
                let residual = values[k] - (p[0] * b.f + p[1])
                jr += row * residual
                j0 += row * row[0]; j1 += row * row[1]; j2 += row * row[2]; j3 += row * row[3]
            }
            let jtj = [j0[0], j0[1], j0[2], j0[3], j1[0], j1[1], j1[2], j1[3],
                       j2[0], j2[1], j2[2], j2[3], j3[0], j3[1], j3[2], j3[3]]
            guard let step = LinearSystem.solve(jtj, [jr[0], jr[1], jr[2], jr[3]]) else { return nil }
            for a in 0..<4 { p[a] += step[a] }
            guard p.allSatisfy(\.isFinite), abs(p[2]) <= 1, abs(p[3]) <= 1 else { return nil }
            if abs(step[2]) < 1e-7 && abs(step[3]) < 1e-7 { return (p[2], p[3]) }
        }
        return nil
    }

    /// Solves H o = -g when H (n x n, n <= 3) is negative definite (Cholesky of -H); nil otherwise.
    static func solveNegativeDefinite(_ h: [Double], _ g: [Double], _ n: Int) -> [Double]? {
        // A = -H must be positive definite; solve A o = g.
        var l = [Double](repeating: 0, count: n * n)
        for r in 0..<n {
            for c in 0...r {
                var sum = -h[r * n + c]
                for k in 0..<c { sum -= l[r * n + k] * l[c * n + k] }
                if r == c {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[r * n + r] = sum.squareRoot()
                } else {
                    l[r * n + c] = sum / l[c * n + c]
                }
            }
        }
        var z = [Double](repeating: 0, count: n)
        for r in 0..<n {
            var sum = g[r]
            for k in 0..<r { sum -= l[r * n + k] * z[k] }
            z[r] = sum / l[r * n + r]
        }
        var o = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var sum = z[r]
            for k in (r + 1)..<n { sum -= l[k * n + r] * o[k] }
            o[r] = sum / l[r * n + r]
        }
        return o.allSatisfy(\.isFinite) ? o : nil
    }
}
