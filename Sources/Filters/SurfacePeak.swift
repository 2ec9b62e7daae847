/// How to place a correlation peak between pixels, from the 3 x 3 values around the largest one.
///
/// - `diff`: one Newton step on the surface, with the gradient and Hessian from central finite
///   differences including the mixed term: g = ((f(1,0) - f(-1,0)) / 2, (f(0,1) - f(0,-1)) / 2),
///   H = [f(1,0) - 2 f0 + f(-1,0), m; m, f(0,1) - 2 f0 + f(0,-1)], m = (f(1,1) - f(1,-1) - f(-1,1) + f(-1,-1)) / 4;
///   offset = -H^-1 g.
/// - `polyFit`: the least-squares quadratic a + b u + c v + d u^2 + e u v + f v^2 through all nine
///   values (orthogonal on the 3 x 3 grid: b = sum u f / 6, c = sum v f / 6, e = sum u v f / 4,
///   d = sum (u^2 - 2/3) f / 2, f = sum (v^2 - 2/3) f / 2); offset = vertex, [2d e; e 2f] o = -(b, c).
/// - `none`: the whole pixel.
///
/// Both fall back to the whole pixel (and say so) at the map's border, with non-finite values, when
/// the Hessian is not negative definite, or when the vertex is more than one pixel away.
public enum PeakFitMethod: String, Sendable, CaseIterable {
    case diff
    case polyFit = "poly_fit"
    case none
}

/// A peak position between samples of a surface (`SubpixelRefinement.surfacePeak`).
public struct PeakFit: Sendable, Equatable {
    /// Subpixel position in map columns / rows.
    public var col: Double
    public var row: Double
    /// The fitted surface's value at the vertex (the map value when it fell back).
    public var value: Double
    /// True when the whole pixel was kept (border, not a maximum, flat, too far).
    public var fellBack: Bool

    public init(col: Double, row: Double, value: Double, fellBack: Bool) {
        self.col = col
        self.row = row
        self.value = value
        self.fellBack = fellBack
    }
}

extension SubpixelRefinement {
    /// Locates the peak near sample (col, row) of a row-major `width x height` surface of Doubles
    /// (a correlation map): the surface counterpart of `refine(image:x:y:method:size:)`, used for
    /// correlation peaks (registration, autocenter, normxcorr2, shift fields).
    ///
    /// - Parameters:
    ///   - values: The surface, row-major.
    ///   - col: Column of the largest sample.
    ///   - row: Row of the largest sample.
    ///   - method: `diff`, `polyFit` or `none` (see `PeakFitMethod`).
    /// - Returns: The vertex, or the whole sample with `fellBack` set.
    public static func surfacePeak(_ values: [Double], width: Int, height: Int, col: Int, row: Int, method: PeakFitMethod) -> PeakFit {
        let f0 = values[row * width + col]
        let whole = PeakFit(col: Double(col), row: Double(row), value: f0, fellBack: true)
        if method == .none { return PeakFit(col: Double(col), row: Double(row), value: f0, fellBack: false) }
        guard col >= 1, row >= 1, col + 1 < width, row + 1 < height else { return whole }
        var v = [[Double]](repeating: [0, 0, 0], count: 3)  // v[dv + 1][du + 1]
        for dv in -1...1 {
            for du in -1...1 {
                let x = values[(row + dv) * width + col + du]
                guard x.isFinite else { return whole }
                v[dv + 1][du + 1] = x
            }
        }
        let gx: Double, gy: Double, hxx: Double, hyy: Double, hxy: Double, c0: Double
        switch method {
        case .diff, .none:
            gx = (v[1][2] - v[1][0]) / 2
            gy = (v[2][1] - v[0][1]) / 2
            hxx = v[1][2] - 2 * v[1][1] + v[1][0]
            hyy = v[2][1] - 2 * v[1][1] + v[0][1]
            hxy = (v[2][2] - v[0][2] - v[2][0] + v[0][0]) / 4
            c0 = f0
        case .polyFit:
            var sU = 0.0, sV = 0.0, sUV = 0.0, sU2 = 0.0, sV2 = 0.0, s = 0.0
            for dv in -1...1 {
                for du in -1...1 {
                    let x = v[dv + 1][du + 1], u = Double(du), w = Double(dv)
                    sU += u * x; sV += w * x; sUV += u * w * x
                    sU2 += (u * u - 2.0 / 3) * x; sV2 += (w * w - 2.0 / 3) * x; s += x
                }
            }
            let d = sU2 / 2, fq = sV2 / 2
            gx = sU / 6
            gy = sV / 6
            hxx = 2 * d
            hyy = 2 * fq
            hxy = sUV / 4
            c0 = s / 9 - 2.0 / 3 * (d + fq)  // constant term a of the fit
        }
        let det = hxx * hyy - hxy * hxy
        guard hxx < 0, det > 0, det.isFinite else { return whole }
        let ox = -(hyy * gx - hxy * gy) / det
        let oy = -(hxx * gy - hxy * gx) / det
        guard ox.isFinite, oy.isFinite, abs(ox) <= 1, abs(oy) <= 1 else { return whole }
        let peak = c0 + gx * ox + gy * oy + 0.5 * (hxx * ox * ox + 2 * hxy * ox * oy + hyy * oy * oy)
        return PeakFit(col: Double(col) + ox, row: Double(row) + oy, value: peak, fellBack: false)
    }
}
