import Correlation
import Filters
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// `peaks detect --algo persistence`: peaks as the persistent maxima of the superlevel-set
/// filtration (see docs/algorithms/persistence.md).
///
/// A peak's prominence is its persistence: the height of its summit above the highest saddle
/// through which it connects to a higher peak. Peaks with prominence strictly greater than the
/// `prominence` parameter are reported. By default (`auto`) that threshold is `noise_factor`
/// times the noise standard deviation of the image the filtration runs on, estimated robustly
/// (`NoiseEstimate`); with `smooth > 0` the image is first smoothed with a Gaussian of that sigma
/// and the noise estimate is scaled by the filter's noise gain.
///
/// With `noise = poisson` (counting data: photons, electrons) the automatic test is made in the
/// variance-stabilised units of the Anscombe transform T(v) = 2 sqrt(v + 3/8), where the noise is
/// about the same everywhere: a pair is kept when (T(birth) - T(saddle)) / sigma_T > noise_factor,
/// sigma_T being the robust noise estimate of T(image). The pairing itself does not change: a
/// strictly increasing transform leaves the superlevel sets, hence every birth and saddle pixel,
/// as they are. Prominences are still reported in image units.
public struct PersistenceDetector: PeakDetector {
    public init() {}

    public let name = "persistence"
    public let summary = "Persistent maxima of the superlevel sets (topological prominence), by union-find."

    /// Default multiple of the noise standard deviation for the automatic prominence threshold.
    /// White Gaussian noise allows 5 or 6 (no noise peak per megapixel either way); real noise has
    /// heavier tails, and 6 is the factor inside the most Golden/real cases' F1-optimal ranges
    /// (11 of 15, against 9 for 5): docs/algorithms/persistence.md, "Threshold".
    public static let defaultNoiseFactor = 6.0

    /// Subpixel refinement of the summits.
    public enum Refinement: String, SettingChoice {
        case fit
        case gaussian
        case none
    }

    /// Noise model of the automatic threshold (shared with `log`; Filters/CountingData.swift).
    public typealias NoiseModel = Filters.NoiseModel

    /// How the auto threshold measures the noise of the band-passed image.
    public typealias BandNoise = PropagatedNoise.Choice

    /// The persistence detector's settings (defaults are the initial values).
    public struct Settings: DetectorSettings {
        public var prominence: Automatic<Double> = .auto
        public var noiseFactor = PersistenceDetector.defaultNoiseFactor
        public var noise = NoiseModel.auto
        public var smooth: Automatic<Double> = .auto
        public var bandPass = true
        public var refine = Refinement.fit
        public var lattice = "auto"
        public var bandNoise = BandNoise.auto

        public init() {}

        public static let fields: [SettingField<Settings>] = [
            .real("prominence", \.prominence, range: 0...1e38, unit: "image units",
                  help: "Report peaks whose prominence is strictly greater than this (image units). auto = noise_factor x the robust noise sigma of the (smoothed) image."),
            .real("noise_factor", \.noiseFactor, range: 0...1e6, unit: "noise sigmas",
                  help: "With prominence=auto: the threshold in units of the estimated noise sigma."),
            .choice("noise", \.noise,
                    help: "Noise model for prominence=auto: gaussian (same noise everywhere), poisson (counting data; the test is made after the Anscombe transform), or auto = poisson when the image is counting data (whole numbers >= 0 whose pixel variance/mean is in [0.5, 2]), else gaussian."),
            .real("smooth", \.smooth, range: 0...1000, unit: "px",
                  help: "Sigma in pixels of a Gaussian pre-smoothing (0 = none). auto = the spot scale measured from the image (ContentScale). Suppresses noise maxima and merges peaks closer than about 2 sigma."),
            .boolean("band_pass", \.bandPass,
                     help: "With smooth > 0: subtract a Gaussian background of 4 x smooth (local background: gradients, halos) before the filtration; the auto threshold then uses the robust noise of that band-passed image (periodic content aware)."),
            .choice("refine", \.refine,
                    help: "Subpixel position of each peak: fit (a least-squares fit of a Gaussian plus a constant to the image over a window of half-width max(2, ceil(2 smooth)) around the log-parabola position, kept when it ends on a bright spot within max(1, smooth) px of it, on a valid pixel, with a sigma in [0.3, 3] x smooth; else, and with smooth=0, the log-parabola position; a peak whose fit ends on a bright spot farther away is dropped: it sits on a ridge, a rim or a brighter neighbour's flank), gaussian (log-parabola through the 3x3 cross of the filtered image, parabolic where values are not positive; on the outermost row or column along the edge only) or none (the summit pixel)."),
            .text("lattice", \.lattice,
                  help: "Lattice vector of periodic content, used by the band-passed noise estimate of prominence=auto (a lattice is not noise): auto = measured from the image (autocorrelation), none = not periodic, or DX,DY in px (e.g. 12,0).",
                  check: ContentScale.LatticeInput.reason),
            .choice("band_noise", \.bandNoise,
                    help: "With band_pass and prominence=auto, the noise of the band-passed image: mad (1.4826 MAD of it, lattice-aware; right for correlated noise, too high where objects fill much of the field), propagated (when the pixel noise is white: the pixel noise x the band-pass gain x the local noise ratio, where below the MAD; for dense objects such as nuclei in white noise), or auto = propagated when the pixel noise is white and at least 2 quantisation steps (not 8-bit exports at the rounding floor), else mad."),
        ]
    }

    /// A fixed prominence keeps the pairs with persistence > t (strength = prominence); plateau
    /// placement does not depend on t, and the shared post-processing (mask, border, greedy
    /// min-distance strongest first) keeps the same decisions for every peak above t. So a run at
    /// a higher t is this run cut at t. Not with `auto` (the cut is then in Anscombe units for
    /// `noise=poisson`).
    public func prominenceIsFinalFilter(_ settings: Settings) -> Bool {
        !settings.prominence.isAuto
    }

    /// A stack is analysed once (`ContentScale` and `CountingData` on up to 8 sample frames):
    /// `smooth=auto` becomes the lower median of the samples' spot scales (0 when no sample shows
    /// significant structure), `lattice=auto` (when the band-passed auto threshold needs it) a
    /// lattice vector when more than half of the samples show one (`ContentScale.stackLattice`),
    /// else `none`, and `noise=auto` poisson when
    /// more than half of the samples are counting data, else gaussian. Per frame only the noise
    /// level (hence the auto threshold) is measured.
    public func settingsForStack(_ settings: Settings, samples: [(image: Image, mask: Mask)]) throws -> Settings {
        let latticeInput = ContentScale.LatticeInput(settings.lattice) ?? .measured
        let needsScale = settings.smooth.isAuto
        let needsLattice = latticeInput == .measured && settings.bandPass && settings.smooth != .value(0) && settings.prominence.isAuto
        let needsModel = settings.noise == .auto
        guard needsScale || needsLattice || needsModel, !samples.isEmpty else { return settings }
        var sigmas: [Double] = []
        var lattices: [(dx: Int, dy: Int)?] = []
        var counting = 0
        for (image, given) in samples {
            let (mask, noiseMask) = NoiseEstimate.constantAreas(given, in: image)  // as `candidates` does
            if needsModel, CountingData.test(image, mask: mask).isCounting { counting += 1 }
            guard needsScale || needsLattice else { continue }
            let r = try ContentScale.analyse(image, mask: mask, lattice: latticeInput, noiseMask: noiseMask, spotScale: needsScale)
            if let s = r.spotSigma { sigmas.append(s) }
            lattices.append(r.lattice)
        }
        var out = settings
        if needsModel { out.noise = 2 * counting > samples.count ? .poisson : .gaussian }
        if needsScale {
            sigmas.sort()
            out.smooth = .value(sigmas.isEmpty ? 0 : sigmas[(sigmas.count - 1) / 2])
        }
        if needsLattice { out.lattice = ContentScale.stackLattice(lattices) }
        return out
    }

    public func check(_ settings: Settings, width: Int, height: Int) throws {
        // The smoothing kernel spans 4 sigma each side; wider than the image it is all border.
        let limit = Double(max(width, height))
        if let smooth = settings.smooth.given, smooth > limit {
            throw PeaksError.invalidParameter(
                name: "smooth", reason: "\(NumberFormat.string(smooth)) px is wider than the \(width)x\(height) image (at most \(NumberFormat.string(limit)))")
        }
    }

    public func candidates(in image: Image, mask given: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
        guard image.count < Int(Int32.max) else {
            throw PeaksError.invalidImage(reason: "\(image.width)x\(image.height) has more than 2^31 pixels, the persistence detector's limit")
        }
        // The spot scale and the lattice (if any) are measured from the image when needed; the
        // lattice search's transforms are planned meanwhile.
        let wantsBand = settings.bandPass && settings.smooth != .value(0)
        let latticeInput = ContentScale.LatticeInput(settings.lattice) ?? .measured
        let analyses = settings.smooth.isAuto || (wantsBand && settings.prominence.isAuto && latticeInput == .measured)
        if analyses && latticeInput == .measured {
            ContentScale.planLatticeSearchInBackground(width: image.width, height: image.height)
        }
        // Dead areas (constant patches at the image minimum) are not data, and no constant patch
        // is a noise sample (NoiseEstimate.constantAreas).
        let (mask, noiseMask) = NoiseEstimate.constantAreas(given, in: image)
        let counting = settings.noise == .auto ? CountingData.test(image, mask: mask) : nil
        let poisson = settings.noise == .poisson || counting?.isCounting == true
        let source = poisson ? Anscombe.transform(image) : image
        var diagnostics: [(String, Value)] = []
        var content: ContentScale.Result?
        if analyses {
            // Geometry (spot scale, lattice) is measured on the image itself, whatever the noise
            // model: the same scale for noise=gaussian and poisson.
            // A given smooth (or --spot-size) needs the lattice only.
            content = try ContentScale.analyse(image, mask: mask, lattice: latticeInput, noiseMask: noiseMask,
                                               spotScale: settings.smooth.isAuto)
        }
        let lattice: (dx: Int, dy: Int)?
        switch latticeInput {
        case .measured: lattice = content?.lattice
        case .absent: lattice = nil
        case .given(let dx, let dy): lattice = (dx, dy)
        }
        let smooth = settings.smooth.given ?? content?.spotSigma ?? 0
        let band = wantsBand && smooth > 0
        let filtered = smooth > 0 ? GaussianFilter.apply(source, mask: mask, sigma: smooth) : source
        // The band-passed image G(s) * I - G(4 s) * I: the background (gradients, halos)
        // removed, the noise as it is after the smoothing. The filtration runs on it and the
        // noise is measured on it; positions are then taken on G(s) * I (`refine`), because
        // next to a saturated beam the subtracted blur moves the summits by 1-2 px.
        var bandPassed = filtered
        let backgroundSigma = min(4 * smooth, Double(max(image.width, image.height)))
        if band {
            let background = GaussianFilter.apply(source, mask: mask, sigma: backgroundSigma)
            bandPassed = Image.difference(filtered, background)
        }
        let factor = settings.noiseFactor
        let auto = settings.prominence.isAuto
        // The filtration does not depend on the noise (the threshold is applied to its pairs
        // afterwards), so the two are computed at once.
        let filtration = (poisson && smooth == 0) ? image : bandPassed
        var persistence: (diagram: PersistenceDiagram, tree: MergeTree?)?
        var measuredNoise: NoiseMeasurement?
        // The pixel order first, on all cores (inside the two-way loop its passes would run on one).
        let order = SuperlevelPersistence.order(of: filtration, mask: mask)
        Parallel.forEach(2) { task in
            if task == 0 {
                persistence = SuperlevelPersistence.compute(filtration, mask: mask, recordMergeTree: options.wantsLabels, order: order)
            } else {
                measuredNoise = measureNoise()
            }
        }
        let (diagram, tree) = persistence!
        let (rawNoise, noise) = (measuredNoise!.rawNoise, measuredNoise!.noise)
        // The maps of the propagated noise are drawn after the filtration, where their own
        // parallel loops get the cores (inside the two-way loop above they would run serially).
        let propagation: (local: LocalNoise, edges: BandPassNoise)? = measuredNoise!.propagates
            ? (LocalNoise.estimate(source, mask: noiseMask),
               BandPassNoise(width: image.width, height: image.height, mask: mask, sigma: smooth, background: backgroundSigma))
            : nil
        let (noiseRule, bandNoiseRule) = (measuredNoise!.noiseRule, measuredNoise!.bandNoiseRule)
        let (whiteness, bandMAD, quantisationStep) = (measuredNoise!.whiteness, measuredNoise!.bandMAD, measuredNoise!.quantisationStep)

        /// The noise the threshold is in units of, and how it was measured.
        func measureNoise() -> NoiseMeasurement {
            let rawNoise: Double, noise: Double
            var noiseRule: String
            var whiteness: Double?, bandMAD: Double?, quantisationStep: Double?
            var bandNoiseRule = "mad"
            // With the propagated noise, the local pixel-noise map and the band-pass's own gain map
            // scale the threshold at each summit (drawn by the caller).
            var propagates = false
            if band {
                // The noise of the image the filtration runs on, measured on it (correlated noise is
                // measured as it is after the filter; a lattice is not noise).
                let measured = ContentScale.noise(of: bandPassed, mask: noiseMask, lattice: lattice)
                rawNoise = NoiseEstimate.sigma(source, mask: noiseMask)
                noiseRule = "band-passed image (MAD)"
                bandMAD = measured
                var n = measured
                if auto && settings.bandNoise != .mad {
                    // Dense content (objects covering much of the field, each with the band-pass's
                    // negative surround) inflates that MAD, and no part of the band-passed image is
                    // then pure noise. When the pixel noise is white its level after the band-pass
                    // is known exactly: the pixel noise times the filter's gain, which content does
                    // not touch. It is used when it is the lower of the two, scaled at each summit
                    // by the local pixel noise (shot noise is white but not uniform).
                    // `auto` asks also that the pixel noise be resolved by the data: on 539 DSB2018
                    // nuclei images, 8-bit exports with the noise at the rounding floor (0.5-1.2
                    // grey levels), propagation lowered F1 on 288 and raised it on 53, since the
                    // rounding is white by construction and says nothing of the structure at the
                    // detection scale (docs/algorithms/persistence.md, "Dense objects").
                    let propagated = rawNoise * GaussianFilter.bandPassNoiseGain(sigma: smooth, background: backgroundSigma)
                    // Nothing to decide (and the whiteness is not measured) when the MAD is already
                    // the lower. 2^14 samples measure the whiteness to about 1% (1 ms at 512^2).
                    if propagated > 0 && propagated < measured {
                        // In the image's own units (for noise=poisson the source is transformed).
                        let pixelNoise = poisson ? NoiseEstimate.sigma(image, mask: noiseMask) : rawNoise
                        let decision = PropagatedNoise.decide(settings.bandNoise, source: source, image: image, mask: noiseMask, pixelNoise: pixelNoise)
                        whiteness = decision.whiteness
                        quantisationStep = decision.quantisationStep
                        bandNoiseRule = decision.rule
                        if decision.propagate {
                            n = propagated
                            noiseRule = "white pixel noise x band-pass gain"
                            propagates = true
                        }
                    } else {
                        bandNoiseRule = "\(settings.bandNoise.rawValue): band MAD not above the propagated pixel noise: mad"
                    }
                }
                noise = n
            } else {
                noiseRule = "pixel noise x smoothing gain (no band-pass)"
                let gain = smooth > 0 ? GaussianFilter.noiseGain(sigma: smooth) : 1
                rawNoise = NoiseEstimate.sigma(source, mask: noiseMask)
                noise = rawNoise * gain
            }
            return NoiseMeasurement(rawNoise: rawNoise, noise: noise, noiseRule: noiseRule, whiteness: whiteness, bandMAD: bandMAD,
                                    quantisationStep: quantisationStep, bandNoiseRule: bandNoiseRule, propagates: propagates)
        }
        let threshold = settings.prominence.given ?? factor * noise
        diagnostics.append(("smooth", .number(smooth)))
        diagnostics.append(("smooth_rule", .string(settings.smooth.isAuto ? (content?.spotSigma != nil ? "spot scale (auto)" : "no significant structure: 0") : "given")))
        diagnostics.append(("band_pass_background_sigma", band ? .number(backgroundSigma) : .null))
        if let content, latticeInput == .measured {
            diagnostics.append(("periodicity", .number(content.periodicity)))
        }
        if let l = lattice {
            diagnostics.append(("lattice_vector", .string("\(l.dx),\(l.dy)")))
        }

        // Positions are measured on G(s) * I in image units: the Anscombe transform is for the
        // threshold test only (its square root flattens a spot's summit and biases the
        // log-parabola).
        let positionSurface = (poisson && smooth > 0 && settings.refine != .none)
            ? GaussianFilter.apply(image, mask: mask, sigma: smooth) : filtered
        var significant: [PersistencePair]
        if auto && poisson && smooth == 0 {
            // Without smoothing the filtration runs on the image itself (the pairing is the same
            // after the Anscombe transform, which is increasing).
            let limit = factor * noise
            significant = diagram.pairs.filter {
                $0.persistence > 0 && Anscombe.value(Double($0.birthLevel)) - Anscombe.value(Double($0.deathLevel)) > limit
            }
        } else if let (local, edges) = propagation {
            // Propagated noise: the threshold scaled at the summit by the local pixel noise and by
            // the band-pass's own gain there relative to the interior's (higher within a kernel
            // radius of the edges and of invalid pixels: BandPassNoise; its lowest is 0.86-0.90 in
            // the tests, so pairs below half the local limit are not looked at).
            let w = image.width
            significant = diagram.pairs.filter { pair in
                let limit = threshold * Double(local.ratio[pair.birth]), p = Double(pair.persistence)
                return p > 0.5 * limit && p > limit * edges.ratio(x: pair.birth % w, y: pair.birth / w)
            }
        } else {
            significant = diagram.pairs.filter { Double($0.persistence) > threshold }
        }

        var summits: [(at: Int, x: Double, y: Double)] = []
        summits.reserveCapacity(significant.count)
        for pair in significant {
            let at = PlateauCentre.pixel(of: pair.birth, in: filtration, mask: mask)
            let px = at % image.width, py = at / image.width
            var x = Double(px), y = Double(py)
            if settings.refine != .none {
                // The summit of G(s) * I nearest the band-passed summit (uphill, at most
                // ceil(s) + 1 steps), then a log-parabola through its 3x3 cross (parabola where
                // values are not positive).
                let surface = positionSurface
                var cx = px, cy = py
                if band {
                    for _ in 0...Int(smooth.rounded(.up)) {
                        var bx = cx, by = cy, bv = surface[cx, cy]
                        for dy in -1...1 { for dx in -1...1 {
                            let nx = cx + dx, ny = cy + dy
                            guard nx >= 0, ny >= 0, nx < image.width, ny < image.height, mask[nx, ny] else { continue }
                            if surface[nx, ny] > bv { bv = surface[nx, ny]; bx = nx; by = ny }
                        } }
                        if bx == cx && by == cy { break }
                        cx = bx; cy = by
                    }
                }
                // Along each axis with both neighbours usable: inside the frame (a summit on
                // the outermost row or column is refined along the edge only, the coordinate
                // across it staying the pixel's: the centre may be outside) and, when the
                // surface is the image itself (smooth = 0), valid (masked pixels hold no data
                // there; G(s) * I fills them by normalised convolution).
                func usable(_ nx: Int, _ ny: Int) -> Bool {
                    nx >= 0 && ny >= 0 && nx < image.width && ny < image.height && (smooth > 0 || mask[nx, ny])
                }
                let alongX = usable(cx - 1, cy) && usable(cx + 1, cy), alongY = usable(cx, cy - 1) && usable(cx, cy + 1)
                var r = SubpixelResult(x: Double(cx), y: Double(cy), outcome: .atBorder)
                for method in [SubpixelMethod.gaussian, .parabolic] where r.outcome != .refined {
                    if alongX && alongY {
                        r = SubpixelRefinement.refine(image: surface, x: cx, y: cy, method: method)
                    } else if alongX || alongY {
                        r = SubpixelRefinement.refineAlong(alongX ? .x : .y, image: surface, x: cx, y: cy, method: method)
                    }
                }
                if r.outcome == .refined { x = r.x; y = r.y } else { x = Double(cx); y = Double(cy) }
            }
            summits.append((at, x, y))
        }
        // refine=fit: a Gaussian fit of the image itself from the log-parabola position.
        var fitted = [Bool](repeating: false, count: summits.count)
        if settings.refine == .fit {
            // Without smoothing there is no spot scale to fit with: every position stays the
            // log-parabola's (fitted 0).
            var iterations = 0, ranAway = 0
            if smooth > 0 {
                let fits = SpotPositionFit.refine(summits.map { ($0.x, $0.y) }, in: image, mask: mask, sigma: smooth)
                for (k, f) in fits.positions.enumerated() {
                    if let f { summits[k].x = f.x; summits[k].y = f.y; fitted[k] = true }
                }
                iterations = fits.iterations
                // A summit whose fit runs away (the best Gaussian's centre beyond max(1, s) px of
                // it) is not a spot: the fit slid along a ridge or a rim, or the light there
                // belongs to a brighter neighbour. It is dropped (docs/algorithms/persistence.md,
                // "Positions").
                let keep = summits.indices.filter { !fits.ranAway[$0] }
                ranAway = summits.count - keep.count
                if ranAway > 0 {
                    summits = keep.map { summits[$0] }; fitted = keep.map { fitted[$0] }; significant = keep.map { significant[$0] }
                }
            }
            // Counted over the candidates, before the shared post-processing (mask, border,
            // min_dist) drops any.
            diagnostics.append(("fitted", .integer(fitted.filter { $0 }.count)))
            diagnostics.append(("fit_iterations", .integer(iterations)))
            diagnostics.append(("rejected_by_fit", .integer(ranAway)))
        }

        var peaks: [Peak] = []
        var birthOfPixel: [PeakKey: Int] = [:]
        peaks.reserveCapacity(significant.count)
        for (k, pair) in significant.enumerated() {
            let (at, x, y) = summits[k]
            birthOfPixel[PeakKey(x: x, y: y)] = pair.birth
            let sx = pair.death % image.width, sy = pair.death / image.width
            peaks.append(Peak(
                x: x, y: y, value: Double(image.pixels[at]),
                strength: Double(pair.persistence),
                attributes: [
                    "prominence": Double(pair.persistence),
                    "birth_level": Double(pair.birthLevel),
                    "saddle_x": Double(sx), "saddle_y": Double(sy),
                    "saddle_level": Double(pair.deathLevel),
                ].merging(settings.refine == .fit ? ["fitted": fitted[k] ? 1 : 0] : [:]) { a, _ in a }))
        }
        var detection = Detection(
            peaks: peaks,
            attributeNames: ["prominence", "birth_level", "saddle_x", "saddle_y", "saddle_level"] + (settings.refine == .fit ? ["fitted"] : []),
            strengthName: "prominence",
            diagnostics: diagnostics + [
                ("noise_model", .string(poisson ? "poisson" : "gaussian")),
                ("noise_model_rule", .string(counting?.rule ?? "given")),
                ("noise_dispersion", counting?.dispersion.map { .number($0) } ?? .null),
                ("noise_sigma", .number(rawNoise)),
                ("noise_sigma_filtered", .number(noise)),
            ] + (band && auto && settings.bandNoise != .mad ? [
                ("noise_sigma_filtered_rule", .string(noiseRule)),
                ("noise_sigma_band_mad", bandMAD.map { .number($0) } ?? .null),
                ("noise_whiteness", whiteness.map { .number($0) } ?? .null),
                ("noise_quantisation_step", quantisationStep.map { .number($0) } ?? .null),
                ("band_noise_rule", .string(bandNoiseRule)),
                ("local_noise_range", propagation.map(\.local).map { .string("\(NumberFormat.string(Double($0.minimum))) \(NumberFormat.string(Double($0.ratio.max() ?? 1)))") } ?? .null),
            ] : []) + [
                (auto && poisson ? "anscombe_threshold" : "prominence_threshold", .number(threshold)),
                ("maxima", .integer(diagram.pairs.count)),
                ("above_threshold", .integer(significant.count)),
                ("domain_components", .integer(diagram.componentCount)),
            ])

        if let tree {
            // Basins are drawn for the peaks that survive the shared post-processing, so a
            // suppressed peak's basin belongs to its parent rather than to nobody.
            let width = image.width, height = image.height
            let births = birthOfPixel
            detection.labelling = { kept in
                var labelOfBirth: [Int: Int32] = [:]
                for (k, p) in kept.enumerated() {
                    if let b = births[PeakKey(x: p.x, y: p.y)] { labelOfBirth[b] = Int32(k + 1) }
                }
                return LabelImage(width: width, height: height, labels: tree.labels(labelOfBirth: labelOfBirth))
            }
        }
        return detection
    }
}

/// Where to place a peak whose summit is a flat plateau: the plateau pixel nearest the plateau's
/// centroid (ties: lowest raster index). A plateau is the 8-connected set of valid pixels with
/// exactly the summit's value.
enum PlateauCentre {
    static func pixel(of start: Int, in image: Image, mask: Mask) -> Int {
        let w = image.width, h = image.height
        let v = image.pixels[start]
        let sx = start % w, sy = start / w
        // Fast path: an isolated summit pixel.
        var hasEqualNeighbour = false
        for dy in -1...1 {
            for dx in -1...1 where dx != 0 || dy != 0 {
                let x = sx + dx, y = sy + dy
                if x >= 0, y >= 0, x < w, y < h, mask.isValid[y * w + x], image.pixels[y * w + x] == v {
                    hasEqualNeighbour = true
                }
            }
        }
        if !hasEqualNeighbour { return start }
        var members: [Int] = [start]
        var seen: Set<Int> = [start]
        var head = 0
        while head < members.count {
            let p = members[head]; head += 1
            let px = p % w, py = p / w
            for dy in -1...1 {
                for dx in -1...1 where dx != 0 || dy != 0 {
                    let x = px + dx, y = py + dy
                    guard x >= 0, y >= 0, x < w, y < h else { continue }
                    let q = y * w + x
                    if mask.isValid[q], image.pixels[q] == v, !seen.contains(q) {
                        seen.insert(q); members.append(q)
                    }
                }
            }
        }
        var cx = 0.0, cy = 0.0
        for p in members { cx += Double(p % w); cy += Double(p / w) }
        cx /= Double(members.count); cy /= Double(members.count)
        var best = start, bestD = Double.infinity
        for p in members.sorted() {
            let dx = Double(p % w) - cx, dy = Double(p / w) - cy
            let d = dx * dx + dy * dy
            if d < bestD { bestD = d; best = p }
        }
        return best
    }
}

/// A reported peak's exact position, to find its birth pixel again after refinement.
struct PeakKey: Hashable {
    let x: UInt64, y: UInt64
    init(x: Double, y: Double) { self.x = x.bitPattern; self.y = y.bitPattern }
}

/// What `PersistenceDetector.candidates` measures of the noise: the pixel noise, the noise of the
/// filtered image the threshold is in units of, and the diagnostics of how.
struct NoiseMeasurement {
    var rawNoise: Double
    var noise: Double
    var noiseRule: String
    var whiteness: Double?
    var bandMAD: Double?
    var quantisationStep: Double?
    var bandNoiseRule: String
    /// Whether the threshold is the propagated noise, scaled at each summit by the local
    /// pixel-noise map and the band-pass's own gain map.
    var propagates: Bool
}
