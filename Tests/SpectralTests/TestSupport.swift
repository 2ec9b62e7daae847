import Foundation
import Harness
@testable import Spectral

/// A random grid with entries uniform in [-1, 1) (deterministic for a seed).
func randomGrid<T: FFTScalar>(_ width: Int, _ height: Int, seed: UInt64, as _: T.Type = T.self) -> Grid2D<T> {
    var rng = SeededRandom(seed: seed)
    return Grid2D(width: width, height: height, values: (0..<(width * height)).map { _ in T(rng.uniform(-1, 1)) })
}

/// Direct full 2-D convolution in Double: out[y][x] = sum a[j][i] * b[y - j][x - i].
func naiveFullConvolution<T: FFTScalar>(_ a: Grid2D<T>, _ b: Grid2D<T>) -> Grid2D<Double> {
    let w = a.width + b.width - 1, h = a.height + b.height - 1
    var out = Grid2D<Double>(width: w, height: h)
    for j in 0..<a.height { for i in 0..<a.width {
        let av = Double(a[i, j])
        for q in 0..<b.height { for p in 0..<b.width {
            out[i + p, j + q] += av * Double(b[p, q])
        } }
    } }
    return out
}

/// Direct full 2-D correlation in Double, written from scipy's definition
/// z[k] = sum_l a[l] * b[l - k + (nb - 1)] per axis (not from the flip identity).
func naiveFullCorrelation<T: FFTScalar>(_ a: Grid2D<T>, _ b: Grid2D<T>) -> Grid2D<Double> {
    let w = a.width + b.width - 1, h = a.height + b.height - 1
    var out = Grid2D<Double>(width: w, height: h)
    for ky in 0..<h { for kx in 0..<w {
        var s = 0.0
        for ly in 0..<a.height {
            let by = ly - ky + b.height - 1
            if by < 0 || by >= b.height { continue }
            for lx in 0..<a.width {
                let bx = lx - kx + b.width - 1
                if bx < 0 || bx >= b.width { continue }
                s += Double(a[lx, ly]) * Double(b[bx, by])
            }
        }
        out[kx, ky] = s
    } }
    return out
}

/// scipy's `_centered` crop of a full result to a mode's shape.
func cropLikeScipy(_ full: Grid2D<Double>, input: (Int, Int), kernel: (Int, Int), mode: String) -> Grid2D<Double> {
    let w: Int, h: Int
    switch mode {
    case "full": return full
    case "same": (w, h) = (input.0, input.1)
    default: (w, h) = (max(input.0 - kernel.0 + 1, 0), max(input.1 - kernel.1 + 1, 0))
    }
    if w == 0 || h == 0 { return Grid2D(width: w, height: h) }
    let sx = (full.width - w) / 2, sy = (full.height - h) / 2
    var out = Grid2D<Double>(width: w, height: h)
    for y in 0..<h { for x in 0..<w { out[x, y] = full[sx + x, sy + y] } }
    return out
}

/// Max |got - want| divided by the data scale max|a| * sum|b| (a bound on any output's size).
func scaledError<T: FFTScalar>(_ got: Grid2D<T>, _ want: Grid2D<Double>, a: Grid2D<T>, b: Grid2D<T>) -> Double {
    let scale = a.values.map { abs(Double($0)) }.max()! * b.values.reduce(0.0) { $0 + abs(Double($1)) }
    var e = 0.0
    for (g, w) in zip(got.values, want.values) { e = max(e, abs(Double(g) - w)) }
    return e / max(scale, .leastNormalMagnitude)
}

func bits<T: FFTScalar>(_ g: Grid2D<T>) -> [UInt64] {
    g.values.map { v in
        if let f = v as? Float { return UInt64(f.bitPattern) }
        return (v as! Double).bitPattern
    }
}

/// The largest difference between `spectrum` and the DFT sum of `g`, over every half-spectrum
/// coefficient: X[v, u] = sum_{y, x} x[y, x] exp(-2 pi i (u x / W + v y / H)).
func worstDFTError<T: FFTScalar>(_ spectrum: FFTHalfSpectrum<T>, of g: Grid2D<T>, width w: Int, height h: Int) -> Double {
    var worst = 0.0
    for v in 0..<h { for u in 0..<(w / 2 + 1) {
        var re = 0.0, im = 0.0
        for y in 0..<h { for x in 0..<w {
            let phase = -2 * Double.pi * (Double(u * x) / Double(w) + Double(v * y) / Double(h))
            re += Double(g[x, y]) * cos(phase)
            im += Double(g[x, y]) * sin(phase)
        } }
        let c = spectrum[u, v]
        worst = max(worst, abs(Double(c.re) - re), abs(Double(c.im) - im))
    } }
    return worst
}
