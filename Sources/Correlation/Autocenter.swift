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
import Filters
import PeakKit
import Spectral

/// Dividing an image by a wide Gaussian blur of itself (flattens a smooth diffuse background so
/// that the Bragg spots of a diffraction pattern weigh alike wherever they are).
public enum BackgroundNormalization {
    /// `image / blur(image)` on valid pixels, blur = the normalised convolution
    /// G * (I M) / G * M with a Gaussian of `sigma` truncated at `truncate` sigma (zero outside the
    /// image, so borders are renormalised too); 0 where the blur is not positive or the pixel is
    /// invalid. Computed with FFT convolutions (a 2 sigma-wide kernel would cost O(N sigma) directly).
    public static func divide(_ image: Image, mask: Mask?, sigma: Double, truncate: Double = 2) throws -> Image {
        guard sigma > 0, sigma.isFinite else { return image }
        let r = max(1, Int(truncate * sigma + 0.5))
        var g1 = [Double](repeating: 0, count: 2 * r + 1)
        for k in -r...r { g1[k + r] = exp(-Double(k * k) / (2 * sigma * sigma)) }
        let s = g1.reduce(0, +)
        g1 = g1.map { $0 / s }
        let size = 2 * r + 1
        var k2 = [Double](repeating: 0, count: size * size)
        for y in 0..<size { for x in 0..<size { k2[y * size + x] = g1[x] * g1[y] } }
        let kernel = Grid2D(width: size, height: size, values: k2)
        let n = image.count
        var weighted = [Double](repeating: 0, count: n), m = [Double](repeating: 0, count: n)
        for i in 0..<n where mask?.isValid[i] ?? true {
            let v = Double(image.pixels[i])
            if v.isFinite { weighted[i] = v; m[i] = 1 }
        }
        let num = try FFTConvolution.convolve(Grid2D(width: image.width, height: image.height, values: weighted), kernel, mode: .same)
        let den = try FFTConvolution.convolve(Grid2D(width: image.width, height: image.height, values: m), kernel, mode: .same)
        var out = Image(width: image.width, height: image.height)
        for i in 0..<n where m[i] != 0 {
            let d = den.values[i]
            let blur = d > 1e-9 ? num.values[i] / d : 0
            if blur > 1e-12 * max(1, abs(num.values[i])) && blur > 0 {
                let q = weighted[i] / blur
                out.pixels[i] = q.isFinite ? Float(q) : 0
            }
        }
        return out
    }
}

/// Finding the centre of a centrosymmetric pattern (a diffraction pattern's direct beam), to a
/// fraction of a pixel, as in scikit-ued's `autocenter` (René de Cotret et al., Adv. Struct. Chem.
/// Imaging 4:11, 2018) but without its half-pixel grid:
///
/// 1. subtract the minimum; the rough centre is the intensity-weighted centroid of the valid pixels;
/// 2. crop the largest square of odd side S = 2 h + 1 centred on the rounded rough centre (rx, ry);
/// 3. optionally divide by a wide Gaussian background (sigma = S / 20, truncated at 2 sigma);
/// 4. masked NCC of the crop with its point inversion (the mask inverted too) over lags up to
///    `maxLag` (default S / 4); a pattern symmetric about c (crop coordinates) peaks at
///    d = 2 c - (S - 1) = 2 (c - h);
/// 5. refine the peak between pixels (`PeakFitMethod`), then centre = (rx, ry) + d / 2.
///
/// The inversion doubles the displacement, so an error e in the lag is e / 2 in the centre.
public enum Autocenter {
    public struct Result: Sendable, Equatable {
        /// The centre (x = column, y = row, pixel centres at integers).
        public var x: Double
        public var y: Double
        /// The intensity-weighted centroid the search started from.
        public var roughX: Double
        public var roughY: Double
        /// The square crop: top-left corner and side.
        public var cropX: Int
        public var cropY: Int
        public var cropSize: Int
        /// The refined lag of the inversion NCC peak (crop vs inverted crop).
        public var lagX: Double
        public var lagY: Double
        /// The NCC value at the peak (how symmetric the pattern is: 1 = perfectly).
        public var peak: Double
        /// True when the subpixel fit fell back to the whole lag (or no refinement was possible).
        public var fellBack: Bool
        /// False when the blurred envelope showed no point symmetry within reach and the fine
        /// stage took its strongest peak (no guide to the direct beam's lattice translate).
        public var envelopeGuided: Bool = true
    }

    public static func find(
        _ image: Image, mask: Mask? = nil, normalizeBackground: Bool = true,
        maxLag: Int? = nil, subpixel: PeakFitMethod = .polyFit
    ) throws -> Result {
        guard image.width > 0, image.height > 0 else { throw PeaksError.invalidImage(reason: "autocenter: the image is empty") }
        if let mask { try mask.checkShape(matches: image) }
        let n = image.count
        var valid = [Bool](repeating: true, count: n)
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0..<n {
            let v = Double(image.pixels[i])
            if !(mask?.isValid[i] ?? true) || !v.isFinite { valid[i] = false; continue }
            lo = min(lo, v); hi = max(hi, v)
        }
        guard lo < hi else {
            throw PeaksError.invalidImage(reason: lo.isFinite ? "autocenter: the valid pixels are all equal (no pattern to centre)" : "autocenter: no valid pixel")
        }
        var sw = 0.0, sx = 0.0, sy = 0.0
        for i in 0..<n where valid[i] {
            let w = Double(image.pixels[i]) - lo
            sw += w; sx += w * Double(i % image.width); sy += w * Double(i / image.width)
        }
        let cx = sx / sw, cy = sy / sw
        let rx = Int(cx.rounded()), ry = Int(cy.rounded())
        let h = min(rx, image.width - 1 - rx, ry, image.height - 1 - ry)
        guard h >= 2 else {
            // No 5 x 5 crop around the centroid fits the image: symmetry cannot be tested, and a
            // centroid reported as a centre (with symmetry 0) would look like an answer.
            throw PeaksError.invalidImage(
                reason: "autocenter: the \(image.width)x\(image.height) image leaves no room around the pattern's centroid (\(NumberFormat.string((cx * 100).rounded() / 100)), \(NumberFormat.string((cy * 100).rounded() / 100))) to test its symmetry")
        }
        let side = 2 * h + 1, x0 = rx - h, y0 = ry - h
        var crop = Image(width: side, height: side)
        var cropMask = Mask(width: side, height: side)
        for y in 0..<side {
            for x in 0..<side {
                let i = (y0 + y) * image.width + x0 + x
                crop[x, y] = valid[i] ? Float(Double(image.pixels[i]) - lo) : 0
                cropMask[x, y] = valid[i]
            }
        }
        let lag = maxLag ?? max(3, side / 4)
        // Stage 1, coarse: a lattice is point-symmetric about every lattice point, so the
        // inversion NCC of a lattice pattern has a peak at every lattice vector, and only the
        // pattern's envelope (beam halo, radial background) tells the centre from a lattice
        // translation. So the first search runs on a copy blurred well beyond the lattice
        // spacing (masked normalised convolution, sigma = side / 16), whose NCC has one broad
        // peak. (Measured: searching the background-divided crop directly locked onto lattice
        // translations, 40-80 px off, on 3 of 3 generated `symmetric` cases; searching the raw
        // crop failed when a beam stop hid half the beam.)
        // The blurred copy is smooth on the scale of side / 16, so it is searched on a grid of
        // every `step`-th pixel (step <= side / 64, far below the blur: no aliasing), which
        // makes this stage cheap; its lag is only needed to within half a lattice vector.
        // Only the sampled pixels of the blur are computed (the same values as blurring the
        // whole crop and subsampling, bit for bit, at a fraction of the cost).
        let step = max(1, side / 128)
        let small = (side + step - 1) / step
        let coarseImage = GaussianFilter.applySampled(crop, mask: cropMask, sigma: Double(side) / 16, step: step)
        var coarseMask = Mask(width: small, height: small)
        for y in 0..<small {
            for x in 0..<small {
                coarseMask[x, y] = cropMask[x * step, y * step]
            }
        }
        // Inverting the subsampled crop inverts about its own centre, (small - 1) / 2, which is
        // the full crop's centre h only when step divides 2h; a lag measured on the small grid
        // is converted back with that offset.
        let smallLag = max(2, lag / step)
        let coarseMap = try MaskedNCC.correlateWithInversion(coarseImage, mask: coarseMask, maxLag: smallLag)
        // lag_small (in small pixels) = 2 (c_small - centre_small); c = c_small * step; so the
        // full-resolution lag is 2 (c - h) = step * lag_small + 2 (step * centre_small - h).
        // An envelope with no point symmetry within reach (no positive correlation: a halo whose
        // centre lies near the edge of the frame, behind a masked beam stop) gives no guide; the
        // fine stage then takes its strongest peak, and the caller learns how symmetric that is.
        var coarseLag: (x: Double, y: Double)? = nil
        if let coarseSmall = coarseMap.argmax(), coarseSmall.value > 0 {
            let centreSmall = Double(small - 1) / 2
            coarseLag = (Double(step) * Double(coarseSmall.col + coarseMap.originX) + 2 * (Double(step) * centreSmall - Double(h)),
                         Double(step) * Double(coarseSmall.row + coarseMap.originY) + 2 * (Double(step) * centreSmall - Double(h)))
        }
        // Stage 2, fine: the (optionally background-divided) crop, whose sharp spots pin the
        // centre. Its NCC has a peak at the true lag and at lattice translations of it; take the
        // strong local maximum (at least half the largest) nearest to the coarse lag (the strongest
        // when the envelope gave no guide). The
        // envelope may be biased by a partly masked beam, but by less than half a lattice
        // vector, which is all this needs.
        let fineInput = normalizeBackground
            ? try BackgroundNormalization.divide(crop, mask: cropMask, sigma: Double(side) / 20, truncate: 2)
            : crop
        let map = try MaskedNCC.correlateWithInversion(fineInput, mask: cropMask, maxLag: lag)
        let strongest = map.values.reduce(-Double.infinity) { $1.isFinite ? max($0, $1) : $0 }
        var found: (col: Int, row: Int, value: Double)? = nil
        var nearest = Double.infinity
        for row in 0..<map.height {
            for col in 0..<map.width {
                let v = map[col, row]
                guard v.isFinite, v >= 0.5 * strongest, v > 0 else { continue }
                var isMaximum = true
                for dy in -1...1 {
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let c = col + dx, r = row + dy
                        if c >= 0, r >= 0, c < map.width, r < map.height, map[c, r] > v { isMaximum = false }
                    }
                }
                guard isMaximum else { continue }
                let d: Double
                if let coarseLag {
                    let ex = Double(col + map.originX) - coarseLag.x, ey = Double(row + map.originY) - coarseLag.y
                    d = ex * ex + ey * ey
                } else {
                    // No envelope guide: the strongest, preferring maxima inside the search window
                    // (on its border the NCC may still rise beyond it, and the 3 x 3 fit cannot
                    // refine it).
                    let onBorder = col == 0 || row == 0 || col == map.width - 1 || row == map.height - 1
                    d = (onBorder ? 2 : 0) - v
                }
                if d < nearest { nearest = d; found = (col, row, v) }
            }
        }
        guard let best = found, best.value > 0 else {
            throw PeaksError.invalidImage(reason: "autocenter: the pattern shows no point symmetry near its envelope's centre")
        }
        let fit = SubpixelRefinement.surfacePeak(map.values, width: map.width, height: map.height, col: best.col, row: best.row, method: subpixel)
        let dx = fit.col + Double(map.originX), dy = fit.row + Double(map.originY)
        return Result(x: Double(rx) + dx / 2, y: Double(ry) + dy / 2, roughX: cx, roughY: cy,
                      cropX: x0, cropY: y0, cropSize: side, lagX: dx, lagY: dy,
                      peak: min(1, fit.value), fellBack: fit.fellBack, envelopeGuided: coarseLag != nil)
    }
}

extension Autocenter {
    /// The smallest point-symmetry correlation (`Result.peak`, 1 = perfectly symmetric) at which
    /// a centre found automatically is trusted (`peaks center --min-symmetry`, the high-symmetry
    /// detector's `min_symmetry`). Golden/real: 0.07-0.13 on the eight star, fluorescence and
    /// tracking images (no point symmetry), 0.34-0.91 on diffraction patterns and lattices, 0.85
    /// on samples/lattice.png.
    public static let defaultMinSymmetry = 0.25
}
