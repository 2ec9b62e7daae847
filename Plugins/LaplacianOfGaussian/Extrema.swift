import Foundation
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
    /// Response / the noise estimate of its scale.
    var snr: Double
    /// +1 bright, -1 dark.
    var polarity: Double
    var scaleIndex: Int
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
        frame f: ResponseFrame, valid: [Bool]
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
                            let c = SharedPointer(cb.baseAddress!)
                            let p = hasPrev ? SharedPointer(pb.baseAddress!) : c
                            let n = hasNext ? SharedPointer(nb.baseAddress!) : c
                            let v = SharedPointer(vb.baseAddress!)
                            Parallel.forEach(bands) { band in
                                var found: [GridMaximum] = []
                                let y0 = band * bandRows, y1 = min(h, y0 + bandRows)
                                for y in y0..<y1 {
                                    let up = y > 0, down = y < h - 1
                                    var i = f.index(0, y)
                                    let vrow = y &* w
                                    for x in 0..<w {
                                        defer { i &+= 1 }
                                        let value = sign * c[i]
                                        guard value > threshold, v[vrow &+ x] else { continue }
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

    /// Refines a grid maximum by a quadratic fit in (x, y, scale index), the scale index being
    /// linear in log sigma (sigma_i = sigma_0 k^i): the Newton step `o = -H^-1 g` from central
    /// differences over the 3x3x3 neighbourhood (Brown & Lowe 2002), where g is the gradient and
    /// H the Hessian with its mixed terms. Axes without both neighbours (image border, first or
    /// last scale) are left at offset 0. If H is not negative definite or an offset exceeds 1,
    /// each axis falls back to the 3-point parabola (|offset| <= 0.5 at a maximum).
    /// Returns the offsets and the interpolated value.
    static func refine(
        _ m: GridMaximum, prev: [Float]?, cur: [Float], next: [Float]?, sign: Float, frame f: ResponseFrame
    ) -> (dx: Double, dy: Double, ds: Double, value: Double) {
        let x = Int(m.x), y = Int(m.y)
        let i = f.index(x, y), s = f.stride
        let ax = x > 0 && x < f.width - 1, ay = y > 0 && y < f.height - 1
        let asc = prev != nil && next != nil
        // D(dx, dy, ds), with ds = -1 prev, 0 cur, +1 next.
        func d(_ dx: Int, _ dy: Int, _ ds: Int) -> Double {
            let j = i + dy * s + dx
            switch ds {
            case -1: return Double(sign * (prev?[j] ?? 0))
            case 1: return Double(sign * (next?[j] ?? 0))
            default: return Double(sign * cur[j])
            }
        }
        let c = Double(m.value)
        var axes: [(Int, Int, Int)] = []
        if ax { axes.append((1, 0, 0)) }
        if ay { axes.append((0, 1, 0)) }
        if asc { axes.append((0, 0, 1)) }
        let n = axes.count
        if n == 0 { return (0, 0, 0, c) }
        var g = [Double](repeating: 0, count: n)
        var hm = [Double](repeating: 0, count: n * n)
        for (a, e) in axes.enumerated() {
            let plus = d(e.0, e.1, e.2), minus = d(-e.0, -e.1, -e.2)
            g[a] = (plus - minus) / 2
            hm[a * n + a] = plus + minus - 2 * c
            for b in (a + 1)..<n {
                let e2 = axes[b]
                let pp = d(e.0 + e2.0, e.1 + e2.1, e.2 + e2.2)
                let pm = d(e.0 - e2.0, e.1 - e2.1, e.2 - e2.2)
                let mp = d(-e.0 + e2.0, -e.1 + e2.1, -e.2 + e2.2)
                let mm = d(-e.0 - e2.0, -e.1 - e2.1, -e.2 - e2.2)
                let mixed = (pp - pm - mp + mm) / 4
                hm[a * n + b] = mixed
                hm[b * n + a] = mixed
            }
        }
        var offsets = [Double](repeating: 0, count: n)
        var newton = false
        if let o = solveNegativeDefinite(hm, g, n), o.allSatisfy({ abs($0) <= 1 }) {
            offsets = o
            newton = true
        }
        if !newton {
            for a in 0..<n {
                let curvature = hm[a * n + a]
                offsets[a] = curvature < 0 ? min(0.5, max(-0.5, -g[a] / curvature)) : 0
            }
        }
        var value = c
        for a in 0..<n { value += 0.5 * g[a] * offsets[a] }
        var dx = 0.0, dy = 0.0, ds = 0.0
        for (a, e) in axes.enumerated() {
            if e.0 != 0 { dx = offsets[a] } else if e.1 != 0 { dy = offsets[a] } else { ds = offsets[a] }
        }
        return (dx, dy, ds, value)
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
