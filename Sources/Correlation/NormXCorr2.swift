import Filters
import PeakKit
import Spectral

/// Normalised cross-correlation of a template over an image (MATLAB's `normxcorr2`), by Lewis'
/// fast method ("Fast normalized cross-correlation", Vision Interface 1995): the numerator is one
/// FFT correlation of the image with the zero-mean template, the local image sums and sums of
/// squares under every template placement come from running sums (summed-area tables).
///
/// For the template t (n pixels, mean t̄) placed with its top-left pixel at (u, v) of the image f:
///
///     gamma(u, v) = sum (f(x) - f̄_uv) (t(x - (u, v)) - t̄) / sqrt(sum (f - f̄_uv)^2 sum (t - t̄)^2)
///
/// sums over the n pixels under the template; outside the image f is 0 (MATLAB's padding).
/// Values lie in [-1, 1]; where the image under the template is flat (local variance at or
/// below the rounding level, 1000 eps times the largest local energy) gamma is 0, never NaN.
/// A flat template has no correlation and is an error. Work is in Double on the image minus its
/// mean (so the local variance sum f^2 - (sum f)^2 / n does not cancel catastrophically).
///
/// Modes (per axis, image n, template k): `full` (n + k - 1 placements, u from -(k - 1)),
/// `same` (n placements centred: u from -((k - 1) - (k - 1) / 2)), `valid` (n - k + 1, template
/// inside, u from 0). Map element (col, row) is the placement (col + originX, row + originY).
public enum NormXCorr2 {
    public static func correlate(template: Image, image: Image, mode: ConvolutionMode = .full) throws -> CorrelationMap {
        guard template.width > 0, template.height > 0 else { throw PeaksError.invalidImage(reason: "normxcorr2: the template is empty") }
        guard image.width > 0, image.height > 0 else { throw PeaksError.invalidImage(reason: "normxcorr2: the image is empty") }
        if let bad = template.firstNonFinitePixel() { throw PeaksError.invalidImage(reason: "normxcorr2: the template has a NaN or infinite pixel at x=\(bad.x), y=\(bad.y)") }
        if let bad = image.firstNonFinitePixel() { throw PeaksError.invalidImage(reason: "normxcorr2: the image has a NaN or infinite pixel at x=\(bad.x), y=\(bad.y)") }
        let tw = template.width, th = template.height, iw = image.width, ih = image.height
        let ow = mode.outputLength(input: iw, kernel: tw), oh = mode.outputLength(input: ih, kernel: th)
        let ox = mode.fullOffset(input: iw, kernel: tw) - (tw - 1), oy = mode.fullOffset(input: ih, kernel: th) - (th - 1)
        if ow == 0 || oh == 0 { return CorrelationMap(width: ow, height: oh, values: [], originX: ox, originY: oy) }

        // Zero-mean template.
        let n = tw * th
        let tMean = template.pixels.reduce(0.0) { $0 + Double($1) } / Double(n)
        let t0 = template.pixels.map { Double($0) - tMean }
        let tEnergy = t0.reduce(0) { $0 + $1 * $1 }
        let tScale = template.pixels.reduce(0.0) { max($0, abs(Double($1))) }
        guard tEnergy > Double(n) * 1e-20 * max(tScale * tScale, Double.leastNormalMagnitude) else {
            throw PeaksError.invalidImage(reason: "normxcorr2: the template is flat (all its values are equal)")
        }

        // The image region the placements see, minus the image mean, padded with -mean (raw 0).
        let iMean = image.pixels.reduce(0.0) { $0 + Double($1) } / Double(image.count)
        let zw = ow + tw - 1, zh = oh + th - 1
        var z = [Double](repeating: -iMean, count: zw * zh)
        image.pixels.withUnsafeBufferPointer { src in
            z.withUnsafeMutableBufferPointer { dst in
                for zy in 0..<zh {
                    let y = zy + oy
                    guard y >= 0, y < ih else { continue }
                    let x0 = max(0, ox), x1 = min(iw, zw + ox)
                    guard x0 < x1 else { continue }
                    var x = x0
                    while x < x1 {
                        dst[zy &* zw &+ (x &- ox)] = Double(src[y &* iw &+ x]) - iMean
                        x &+= 1
                    }
                }
            }
        }
        // Numerator: valid correlation of the padded region with the zero-mean template.
        let num = try FFTConvolution.correlate(Grid2D(width: zw, height: zh, values: z), Grid2D(width: tw, height: th, values: t0), mode: .valid)

        // Summed-area tables of z and z^2, (zw + 1) x (zh + 1).
        let sw = zw + 1
        var s1 = [Double](repeating: 0, count: sw * (zh + 1)), s2 = s1
        z.withUnsafeBufferPointer { pz in
            s1.withUnsafeMutableBufferPointer { p1 in
                s2.withUnsafeMutableBufferPointer { p2 in
                    for y in 0..<zh {
                        var r1 = 0.0, r2 = 0.0
                        let zrow = y &* zw, above = y &* sw, here = (y &+ 1) &* sw
                        var x = 0
                        while x < zw {
                            let v = pz[zrow &+ x]
                            r1 += v
                            r2 += v * v
                            p1[here &+ x &+ 1] = p1[above &+ x &+ 1] + r1
                            p2[here &+ x &+ 1] = p2[above &+ x &+ 1] + r2
                            x &+= 1
                        }
                    }
                }
            }
        }
        let total2 = s2[s2.count - 1]
        let tol = 1000 * Double.ulpOfOne * max(total2, Double.leastNormalMagnitude)
        var out = [Double](repeating: 0, count: ow * oh)
        let nd = Double(n)
        num.values.withUnsafeBufferPointer { pn in
            s1.withUnsafeBufferPointer { p1 in
                s2.withUnsafeBufferPointer { p2 in
                    out.withUnsafeMutableBufferPointer { po in
                        for r in 0..<oh {
                            let top = r &* sw, bottom = (r &+ th) &* sw
                            var c = 0
                            while c < ow {
                                let a = top &+ c, b = top &+ c &+ tw, d = bottom &+ c, e = bottom &+ c &+ tw
                                let sum1 = p1[e] - p1[b] - p1[d] + p1[a]
                                let sum2 = p2[e] - p2[b] - p2[d] + p2[a]
                                let localVar = sum2 - sum1 * sum1 / nd
                                if localVar > tol {
                                    let g = pn[r &* ow &+ c] / (localVar * tEnergy).squareRoot()
                                    po[r &* ow &+ c] = g.isFinite ? min(1, max(-1, g)) : 0
                                }
                                c &+= 1
                            }
                        }
                    }
                }
            }
        }
        return CorrelationMap(width: ow, height: oh, values: out, originX: ox, originY: oy)
    }

    /// Where the template fits the image best.
    public struct Match: Sendable, Equatable {
        /// Position of the template's top-left pixel in the image (subpixel), and (row, col) = (dy, dx):
        /// image(x + dx, y + dy) ~ template(x, y).
        public var dx: Double
        public var dy: Double
        public var pixelDX: Int
        public var pixelDY: Int
        /// The normalised correlation at the best placement (the fit quality, in [-1, 1]).
        public var peak: Double
        /// The fitted peak value (equals `peak` when the fit fell back).
        public var fittedPeak: Double
        public var subpixelFellBack: Bool
        /// The correlation map the peak was found in.
        public var map: CorrelationMap
    }

    /// The best placement of `template` over `image` in the given mode, refined by `subpixel`.
    /// Throws when no placement has a finite positive correlation.
    public static func match(template: Image, image: Image, mode: ConvolutionMode = .valid, subpixel: PeakFitMethod = .polyFit) throws -> Match {
        let map = try correlate(template: template, image: image, mode: mode)
        guard let best = map.argmax() else {
            throw PeaksError.invalidImage(reason: "normxcorr2: the template (\(template.width)x\(template.height)) has no \(mode.rawValue) placement in the image (\(image.width)x\(image.height))")
        }
        let fit = SubpixelRefinement.surfacePeak(map.values, width: map.width, height: map.height, col: best.col, row: best.row, method: subpixel)
        return Match(dx: fit.col + Double(map.originX), dy: fit.row + Double(map.originY),
                     pixelDX: best.col + map.originX, pixelDY: best.row + map.originY,
                     peak: best.value, fittedPeak: fit.value, subpixelFellBack: fit.fellBack, map: map)
    }

    /// Matching around points of interest: the (2 rt + 1)^2 template centred on `templateCentre`
    /// of `first` is searched in the (2 rs + 1)^2 region centred on `searchCentre` of `second`.
    /// Returns where the template's centre lands in `second` (subpixel) and the match; windows are
    /// clipped to the images.
    public static func matchAround(
        first: Image, templateCentre: (x: Int, y: Int), templateRadius rt: Int,
        second: Image, searchCentre: (x: Int, y: Int), searchRadius rs: Int,
        subpixel: PeakFitMethod = .polyFit
    ) throws -> (x: Double, y: Double, match: Match) {
        guard rt >= 1, rs >= rt else {
            throw PeaksError.invalidParameter(name: "radius", reason: "need template radius >= 1 and search radius >= template radius, got \(rt) and \(rs)")
        }
        let t = crop(first, x0: templateCentre.x - rt, y0: templateCentre.y - rt, w: 2 * rt + 1, h: 2 * rt + 1)
        let s = crop(second, x0: searchCentre.x - rs, y0: searchCentre.y - rs, w: 2 * rs + 1, h: 2 * rs + 1)
        guard t.image.count > 0, s.image.count > 0 else {
            throw PeaksError.invalidParameter(name: "centre", reason: "the template or search window lies outside its image")
        }
        let m = try match(template: t.image, image: s.image, mode: .valid, subpixel: subpixel)
        // template pixel (templateCentre - t.origin) sits at s.origin + m.d + that.
        let x = Double(s.x0) + m.dx + Double(templateCentre.x - t.x0)
        let y = Double(s.y0) + m.dy + Double(templateCentre.y - t.y0)
        return (x, y, m)
    }

    /// The part of `image` inside [x0, x0 + w) x [y0, y0 + h), clipped.
    static func crop(_ image: Image, x0: Int, y0: Int, w: Int, h: Int) -> (image: Image, x0: Int, y0: Int) {
        let a = max(0, x0), b = max(0, y0), c = min(image.width, x0 + w), d = min(image.height, y0 + h)
        guard a < c, b < d else { return (Image(width: 0, height: 0), a, b) }
        return (Image(width: c - a, height: d - b) { x, y in image[a + x, b + y] }, a, b)
    }
}
