import Correlation
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

/// `peaks detect --algo high-symmetry`: Bragg spots of a centrosymmetric diffraction pattern, as
/// scikit-ued's `bragg_peaks` (René de Cotret et al., Adv. Struct. Chem. Imaging 4:11, 2018), with
/// a subpixel centre (see docs/algorithms/high-symmetry.md).
///
/// 1. subtract the minimum of the valid pixels and divide by a wide Gaussian background
///    (`background_sigma`, default min(width, height) / 20, truncated at 2 sigma);
/// 2. the masked autocorrelation of that image (masked NCC with itself, mode same, |value|);
///    its lag-0 element sits at (width / 2, height / 2);
/// 3. shift it (bilinearly) so that lag 0 lands on the pattern centre: given by
///    `center_x`/`center_y`, or found by `Autocenter` and then moved, if need be, to the
///    half-lattice translate whose predicted spots are brightest (`LatticeCentre`: symmetry alone
///    fixes a lattice's centre only up to half a lattice vector); a lattice vector g of the
///    pattern then lies at centre + g, where the Bragg spots are;
/// 4. negative Laplacian (5-point), triangle threshold, AND the mask, binary erosion with a disc of
///    radius `erosion_radius`, 8-connected labelling;
/// 5. each region's intensity-weighted centroid (weights: the normalised image of step 1) is a peak;
///    regions whose convex area exceeds `max_region_fraction` of the image are dropped (the
///    background), as are regions whose centroid lies outside them;
/// 6. shared post-processing (mask, border, min_dist; strength = the region's summed normalised
///    intensity).
///
/// The centre used is reported in the diagnostics (`center_x`, `center_y`, `center_method`).
public struct HighSymmetryDetector: PeakDetector {
    public init() {}

    public let name = "high-symmetry"
    public let summary = "Bragg spots of a centrosymmetric pattern: masked autocorrelation recentred on the pattern centre (autocenter), -Laplacian, triangle threshold, region centroids."

    /// The high-symmetry detector's settings (defaults are the initial values).
    public struct Settings: DetectorSettings {
        public var centerX: Automatic<Double> = .auto
        public var centerY: Automatic<Double> = .auto
        public var backgroundSigma: Automatic<Double> = .auto
        public var erosionRadius = 2.0
        public var maxRegionFraction = 0.2
        public var refineSigma = 1.5
        public var overlapRatio = 0.3
        public var minSymmetry = Autocenter.defaultMinSymmetry

        public init() {}

        public static let fields: [SettingField<Settings>] = [
            .real("center_x", \.centerX, range: -1e6...1e6, unit: "px",
                  help: "Column of the pattern centre (pixel centres at integers); auto = found by autocenter. Give center_x and center_y together (CLI: --center x,y)."),
            .real("center_y", \.centerY, range: -1e6...1e6, unit: "px", help: "Row of the pattern centre; auto = found by autocenter."),
            .real("background_sigma", \.backgroundSigma, range: 0...1e6, unit: "px",
                  help: "Sigma in pixels of the Gaussian background the image is divided by (0 = no division); auto = min(width, height) / 20. At most the image's larger side."),
            .real("erosion_radius", \.erosionRadius, range: 0...100, unit: "px",
                  help: "Radius of the disc the thresholded regions are eroded with (removes noise specks)."),
            .real("max_region_fraction", \.maxRegionFraction, range: 0...1,
                  help: "Drop regions whose convex area exceeds this fraction of the image (the diffuse background)."),
            .real("refine_sigma", \.refineSigma, range: 0...100, unit: "px",
                  help: "Refine each region centroid by a Gaussian-windowed centroid of this sigma in pixels, iterated to its fixed point (0 = keep the region centroid)."),
            .real("overlap_ratio", \.overlapRatio, range: 0...1,
                  help: "Masked autocorrelation: lags whose overlap is below this fraction of the largest are set to 0."),
            .real("min_symmetry", \.minSymmetry, range: 0...1,
                  help: "With an automatic centre: refuse the image (exit 1) when the symmetry correlation at the centre found is below this (no usable point symmetry); give --center x,y to proceed."),
        ]
    }

    /// A background blur wider than the image is the image's mean (and its kernel would grow
    /// with sigma, not with the image: 1e5 px asked for more than a terabyte).
    public func check(_ settings: Settings, width: Int, height: Int) throws {
        if (settings.centerX.given == nil) != (settings.centerY.given == nil) {
            throw PeaksError.invalidParameter(
                name: settings.centerX.given == nil ? "center_x" : "center_y", reason: "give center_x and center_y together (or neither)")
        }
        let limit = Double(max(width, height))
        if let s = settings.backgroundSigma.given, s > limit {
            throw PeaksError.invalidParameter(
                name: "background_sigma", reason: "\(NumberFormat.string(s)) px is more than the \(width)x\(height) image's larger side (\(NumberFormat.string(limit)) px)")
        }
    }

    public func candidates(in image: Image, mask: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
        let w = image.width, h = image.height, n = image.count
        let attributeNames = ["area", "intensity"]
        var diagnostics: [(String, Value)] = []

        // Centre: given or automatic.
        let givenX = settings.centerX.given, givenY = settings.centerY.given
        var lo = Float.infinity, hi = -Float.infinity
        for i in 0..<n where mask.isValid[i] { lo = min(lo, image.pixels[i]); hi = max(hi, image.pixels[i]) }
        let empty = Detection(peaks: [], attributeNames: attributeNames, strengthName: "intensity", labels: options.wantsLabels ? LabelImage(width: w, height: h, labels: [Int32](repeating: 0, count: n)) : nil,
                              diagnostics: [("center_x", .null), ("center_y", .null), ("center_method", .string("none")), ("regions", .integer(0))])
        guard lo < hi else { return empty }  // no valid pixel, or a flat image: nothing to find

        var cx: Double, cy: Double
        var centreFound: Autocenter.Result? = nil
        if let gx = givenX, let gy = givenY {
            cx = gx; cy = gy
        } else {
            let c: Autocenter.Result
            do {
                c = try Autocenter.find(image, mask: mask)
            } catch {
                // No silent fallback to the image centre: the spots found around a wrong centre
                // would look plausible and be wrong.
                throw PeaksError.invalidImage(reason: "the pattern centre could not be found (\(error)); give it with --center x,y")
            }
            // Nor a centre the pattern does not support (a star field has a best "centre" too).
            guard c.peak >= settings.minSymmetry else {
                throw PeaksError.invalidImage(
                    reason: "the pattern shows no usable point symmetry (symmetry \(NumberFormat.string((c.peak * 1000).rounded() / 1000)) at the best centre, below min_symmetry \(NumberFormat.string(settings.minSymmetry))); give the centre with --center x,y")
            }
            cx = c.x; cy = c.y
            centreFound = c
        }

        // 1. Normalised image.
        var normalised = Image(width: w, height: h)
        for i in 0..<n where mask.isValid[i] { normalised.pixels[i] = image.pixels[i] - lo }
        let sigma = settings.backgroundSigma.given ?? Double(min(w, h)) / 20
        if sigma > 0 { normalised = try BackgroundNormalization.divide(normalised, mask: mask, sigma: sigma, truncate: 2) }

        // 2. Masked autocorrelation.
        let ratio = settings.overlapRatio
        let auto = try MaskedNCC.correlate(fixed: normalised, fixedMask: mask, moving: normalised, movingMask: mask, mode: .same, overlapRatio: ratio)
        // Lag 0 is 1 by definition (every pixel, noise included, matches itself): that one-pixel
        // spike would punch a hole in the -Laplacian of the direct beam's region, so it is replaced
        // by the even parabola a + b r^2 through the means of its neighbours at distance 1 and 2
        // along the axes: (4 m1 - m2) / 3.
        var autoValues = auto.values
        let lx = w - 1 - (w - 1) / 2, ly = h - 1 - (h - 1) / 2, l0 = ly * w + lx
        if lx >= 2, ly >= 2, lx + 2 < w, ly + 2 < h {
            let m1 = (autoValues[l0 - 1] + autoValues[l0 + 1] + autoValues[l0 - w] + autoValues[l0 + w]) / 4
            let m2 = (autoValues[l0 - 2] + autoValues[l0 + 2] + autoValues[l0 - 2 * w] + autoValues[l0 + 2 * w]) / 4
            autoValues[l0] = (4 * m1 - m2) / 3
        }
        let maxArea = settings.maxRegionFraction * Double(n)

        // The automatic centre is a centre of point symmetry, and a lattice of spots is
        // point-symmetric about every half-lattice point: symmetry alone fixes the centre only up
        // to half a lattice vector (autocenter's envelope stage pins it when the direct beam and
        // its halo are in view; on a pattern whose beam sits behind a beam stop at the edge it
        // found a half-lattice point, and every spot predicted at centre + g fell between the
        // real spots). Of the centre's half-lattice translates, keep the one whose predicted
        // spots are brightest (`LatticeCentre`).
        var shift = (x: 0.0, y: 0.0)
        if centreFound != nil {
            var magnitude = Image(width: w, height: h)
            for i in 0..<n { magnitude.pixels[i] = Float(abs(autoValues[i])) }
            let vectors = LatticeCentre.latticeVectors(
                of: magnitude, lagZero: (lx, ly), erosionRadius: settings.erosionRadius, maxRegionArea: maxArea)
            let chosen = LatticeCentre.choose(from: (cx, cy), vectors: vectors, image: normalised, mask: mask,
                                              startIsTheBeam: centreFound?.envelopeGuided ?? true)
            shift = (chosen.x - cx, chosen.y - cy)
            cx = chosen.x; cy = chosen.y
        }
        diagnostics.append(("center_x", .number(cx)))
        diagnostics.append(("center_y", .number(cy)))
        if let c = centreFound {
            diagnostics.append(("center_method", .string(shift == (0, 0) ? "autocenter" : "autocenter+lattice")))
            diagnostics.append(("center_envelope_guided", .bool(c.envelopeGuided)))
            diagnostics.append(("center_symmetry", .number(c.peak)))
            diagnostics.append(("center_lattice_shift_x", .number(shift.x)))
            diagnostics.append(("center_lattice_shift_y", .number(shift.y)))
        } else {
            diagnostics.append(("center_method", .string("given")))
        }
        diagnostics.append(("background_sigma", .number(sigma)))

        // 3. Recentre the autocorrelation on the pattern centre: shift by t = centre - lag-0
        //    position, bilinearly (the centre is subpixel).
        let recentred = Self.recentre(autoValues, width: w, height: h, lagZero: (lx, ly), on: (cx, cy))

        // 4. Regions.
        let (labels, count, threshold) = Self.regions(of: recentred, mask: mask, erosionRadius: settings.erosionRadius)
        diagnostics.append(("laplacian_threshold", .number(threshold)))
        diagnostics.append(("regions", .integer(count)))

        // 5. Centroids, weighted by the normalised intensity above the region's minimum (the
        //    local background), so the region's outline barely moves them.
        var minimum = [Float](repeating: .infinity, count: count + 1)
        for i in 0..<n where labels.labels[i] > 0 { let l = Int(labels.labels[i]); minimum[l] = min(minimum[l], normalised.pixels[i]) }
        var sums = [Double](repeating: 0, count: count + 1), sx = sums, sy = sums, area = [Int](repeating: 0, count: count + 1)
        for i in 0..<n where labels.labels[i] > 0 {
            let l = Int(labels.labels[i])
            let v = Double(normalised.pixels[i] - minimum[l])
            sums[l] += v; sx[l] += v * Double(i % w); sy[l] += v * Double(i / w); area[l] += 1
        }
        let props = try RegionProperties.measure(labels)
        let refineSigma = settings.refineSigma
        var peaks: [Peak] = []
        var labelOfRegion = [Int32](repeating: 0, count: count + 1)
        var dropped = 0
        for r in props where r.area > 0 {
            let l = r.label
            var c = sums[l] > 0 ? (x: sx[l] / sums[l], y: sy[l] / sums[l]) : (x: r.centroid.x, y: r.centroid.y)
            guard c.x.isFinite, c.y.isFinite, r.convexArea <= maxArea else { dropped += 1; continue }
            if refineSigma > 0 {
                c = Self.refine(image, mask: mask, from: c, sigma: refineSigma)
            }
            let px = Int(c.x.rounded()), py = Int(c.y.rounded())
            guard px >= 0, py >= 0, px < w, py < h, labels.labels[py * w + px] == Int32(l) else { dropped += 1; continue }
            peaks.append(Peak(x: c.x, y: c.y, value: Double(image.pixels[py * w + px]), strength: sums[l],
                              attributes: ["area": Double(area[l]), "intensity": sums[l]]))
            labelOfRegion[l] = Int32(peaks.count)
        }
        diagnostics.append(("regions_dropped", .integer(dropped)))
        var detection = Detection(peaks: peaks, attributeNames: attributeNames, strengthName: "intensity", diagnostics: diagnostics)
        if options.wantsLabels {
            detection.labels = LabelImage(width: w, height: h, labels: labels.labels.map { labelOfRegion[Int($0)] })
        }
        return detection
    }

    /// `|A|(x - t)` for t = centre - lag-0 position: the autocorrelation magnitude moved so that
    /// its lag 0 sits on `centre`, bilinearly; 0 beyond the autocorrelation's extent.
    static func recentre(_ autoValues: [Double], width w: Int, height h: Int, lagZero: (Int, Int), on centre: (Double, Double)) -> Image {
        let tx = centre.0 - Double(lagZero.0), ty = centre.1 - Double(lagZero.1)
        let fx = tx - tx.rounded(.down), fy = ty - ty.rounded(.down)
        let ix = Int(tx.rounded(.down)), iy = Int(ty.rounded(.down))
        var recentred = Image(width: w, height: h)
        autoValues.withUnsafeBufferPointer { a in
            func at(_ x: Int, _ y: Int) -> Double { x >= 0 && y >= 0 && x < w && y < h ? abs(a[y &* w &+ x]) : 0 }
            for y in 0..<h {
                for x in 0..<w {
                    let sx = x - ix, sy = y - iy
                    let v = (1 - fx) * (1 - fy) * at(sx, sy) + fx * (1 - fy) * at(sx - 1, sy)
                        + (1 - fx) * fy * at(sx, sy - 1) + fx * fy * at(sx - 1, sy - 1)
                    recentred.pixels[y &* w &+ x] = Float(v)
                }
            }
        }
        return recentred
    }

    /// Step 4: the negative 5-point Laplacian above its triangle threshold (and valid), opened
    /// with a disc of `erosionRadius` (the erosion removes specks thinner than the disc; the
    /// dilation gives surviving regions back their extent), 8-connected labels.
    static func regions(of map: Image, mask: Mask?, erosionRadius radius: Double) -> (labels: LabelImage, count: Int, threshold: Double) {
        let w = map.width, h = map.height, n = map.count
        var lap = LaplaceFilter.apply(map)
        lap.pixels = lap.pixels.map { -$0 }
        let threshold = Threshold.triangle(lap)
        var regions = [Bool](repeating: false, count: n)
        if threshold.isFinite { for i in 0..<n { regions[i] = (mask?.isValid[i] ?? true) && Double(lap.pixels[i]) > threshold } }
        if radius > 0 {
            let opened = Morphology.dilate(Morphology.erode(regions, width: w, height: h, radius: radius), width: w, height: h, radius: radius)
            for i in 0..<n { regions[i] = regions[i] && opened[i] }
        }
        let (labels, count) = ConnectedComponents.label(regions, width: w, height: h, connectivity: .eight)
        return (labels, count, threshold)
    }

    /// The Gaussian-windowed centroid iterated to its fixed point: weights
    /// max(I - m, 0) exp(-|x - c|^2 / (2 sigma^2)) over valid pixels within 3 sigma of c, m the
    /// minimum of I within 3 sigma of the start (the local background); at most 20 steps, stopping
    /// when c moves less than 1e-4 px. Unlike the region's own centroid, the result does not depend
    /// on where the region's outline happens to fall. Returns the start if the weights vanish.
    static func refine(_ image: Image, mask: Mask, from start: (x: Double, y: Double), sigma: Double) -> (x: Double, y: Double) {
        let w = image.width, h = image.height
        let r = Int((3 * sigma).rounded(.up))
        func window(_ c: (x: Double, y: Double)) -> (Int, Int, Int, Int) {
            let x0 = max(0, Int(c.x.rounded()) - r), x1 = min(w - 1, Int(c.x.rounded()) + r)
            let y0 = max(0, Int(c.y.rounded()) - r), y1 = min(h - 1, Int(c.y.rounded()) + r)
            return (x0, x1, y0, y1)
        }
        var m = Float.infinity
        let (a0, a1, b0, b1) = window(start)
        guard a0 <= a1, b0 <= b1 else { return start }
        for y in b0...b1 { for x in a0...a1 where mask[x, y] { m = min(m, image[x, y]) } }
        guard m.isFinite else { return start }
        var c = start
        let k = -1 / (2 * sigma * sigma)
        for _ in 0..<20 {
            let (x0, x1, y0, y1) = window(c)
            guard x0 <= x1, y0 <= y1 else { return start }
            var sw = 0.0, sx = 0.0, sy = 0.0
            for y in y0...y1 {
                let dy = Double(y) - c.y
                for x in x0...x1 where mask[x, y] {
                    let v = Double(image[x, y] - m)
                    guard v > 0 else { continue }
                    let dx = Double(x) - c.x
                    let wgt = v * exp(k * (dx * dx + dy * dy))
                    sw += wgt; sx += wgt * Double(x); sy += wgt * Double(y)
                }
            }
            guard sw > 0 else { return c }
            let next = (x: sx / sw, y: sy / sw)
            let moved = abs(next.x - c.x) + abs(next.y - c.y)
            c = next
            if moved < 1e-4 { break }
        }
        return c
    }
}
