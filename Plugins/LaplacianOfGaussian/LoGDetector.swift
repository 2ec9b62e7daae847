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
import Correlation
import Filters
import PeakKit

/// `peaks detect --algo log`: blobs as maxima of the scale-normalised Laplacian of Gaussian in
/// scale space (Lindeberg 1998), as skimage's `blob_log` finds them, computed by FFT one scale at
/// a time (see docs/algorithms/log.md).
///
/// For scales sigma_i = sigma k^i, i = 0 ..< max_power, the response is
/// `R_i = -sigma_i^2 (LoG_sigma_i * I)` (bright blobs positive; `polarity=dark` uses -R_i).
/// A blob is a maximum of R over its 3x3x3 neighbourhood in (x, y, scale) whose value exceeds
/// the threshold of its scale; position and sigma are refined by a quadratic fit in
/// (x, y, log sigma), then (`fit=gaussian`) by a least-squares fit of pixel-integrated Gaussians
/// (`SpotFitting`). With `prominence=auto` a maximum is kept when its detection statistic, the
/// largest `R_j / (1.4826 MAD(R_j))` at its pixel over its own scale and up to twice it
/// (`detectionSpan`), exceeds `noise_factor`: the MAD is a robust estimate of the response's
/// noise at each scale, so neither contrast nor an offset nor the dynamic range of the image
/// changes which blobs are found. For periodic content the noise is also measured along the
/// lattice (`lattice`), and counting data is decided on its Anscombe transform (`noise`), as in
/// persistence. Overlapping blobs are pruned (the weaker of two blobs whose
/// discs of radius sqrt(2) sigma share more than `overlap` of the smaller disc's area is dropped).
public struct LoGDetector: PeakDetector {
    public init() {}

    public let name = "log"
    public let summary = "Blobs as scale-space maxima of the scale-normalised Laplacian of Gaussian (by FFT), with sigma and radius."

    /// Default multiple of the response noise for the automatic threshold, persistence's: see
    /// docs/algorithms/log.md ("Where 6 comes from": the false-blob rates on white noise, and
    /// why real images wanted more than the 5 white noise allows).
    public static let defaultNoiseFactor = 6.0

    /// Which blobs are reported.
    public enum Polarity: String, SettingChoice {
        /// Maxima of -LoG: bright blobs on a darker background.
        case bright
        /// Maxima of LoG: dark blobs.
        case dark
        /// Both.
        case both
    }

    /// How positions and sizes are refined.
    public enum Fit: String, SettingChoice {
        /// A least-squares fit of a pixel-integrated Gaussian on a plane (`SpotFitting`).
        case gaussian
        /// The scale-space interpolation only.
        case none
    }

    /// The LoG detector's settings (defaults are the initial values).
    public struct Settings: DetectorSettings {
        // Scales 1.41 to 15.6 px (reported sigmas from 1.41 / k = 1.0, the first scale being
        // interpolated with the response one step finer since session 14, to 15.6 k). The first
        // scale was 1.0 until session 13: docs/algorithms/log.md,
        // "Why the scales start at 1.41" (no white-noise loss for blobs of sigma >= 0.7 px; the
        // finest scale is where pixel artefacts made most false blobs on real images).
        public var sigma = 1.41
        public var k = 1.41
        public var maxPower = 8
        public var polarity = Polarity.bright
        public var prominence: Automatic<Double> = .auto
        public var noiseFactor = LoGDetector.defaultNoiseFactor
        public var localNoise = true
        public var noise = NoiseModel.auto
        public var responseNoise = PropagatedNoise.Choice.auto
        public var lattice = "auto"
        public var edgeRatio = 10.0
        public var overlap = 0.5
        public var fit = Fit.gaussian

        public init() {}

        public static let fields: [SettingField<Settings>] = [
            .real("sigma", \.sigma, range: 0.3...1000, unit: "px", help: "Smallest scale in pixels (the first Gaussian sigma). From 1.41 (the default) no blob of sigma >= 0.7 px loses detection power in white noise against a first scale of 1, and the pixel artefacts of that finest scale are not searched (docs/algorithms/log.md)."),
            .real("k", \.k, range: 1.05...10, help: "Ratio between consecutive scales: sigma_i = sigma * k^i."),
            .integer("max_power", \.maxPower, range: 1...64, help: "Number of scales (i = 0 ..< max_power)."),
            .choice("polarity", \.polarity, help: "Which blobs: bright (maxima of -LoG), dark (maxima of LoG) or both."),
            .real("prominence", \.prominence, range: 0...1e38, unit: "image units",
                  help: "Report blobs whose scale-normalised response is strictly greater than this (image units). auto = the detection statistic (best response / robust noise over the blob's scale and up to twice it) above noise_factor."),
            .real("noise_factor", \.noiseFactor, range: 0...1e6, unit: "noise sigmas",
                  help: "With prominence=auto: the threshold on the detection statistic, in units of the response noise."),
            .boolean("local_noise", \.localNoise,
                     help: "With prominence=auto: scale the threshold by the local pixel noise (tiles of 32 px, robust), for noise that varies across the image (counting data, bright regions)."),
            .choice("noise", \.noise,
                    help: "Noise model for prominence=auto: gaussian, poisson (counting data: the scale space and its threshold are computed on the Anscombe transform 2 sqrt(I + 3/8), where the noise is the same everywhere, so local_noise is not applied; positions, sigma and amplitude are still fitted on the image), or auto = poisson when the image is counting data (whole numbers >= 0 whose pixel variance/mean is in [0.5, 2] and follows the mean), else gaussian."),
            .choice("response_noise", \.responseNoise,
                    help: "With prominence=auto, the noise of each scale's response: mad (1.4826 MAD of the response, lattice-aware; right for correlated noise, too high where blobs fill much of the field), propagated (when the pixel noise is white: the pixel noise x the kernel's L2 norm, where below the MAD; for dense blobs such as nuclei in white noise), or auto (the default) = propagated when the pixel noise is white and at least 2 quantisation steps and no lattice is found (the along-lattice MAD already leaves a lattice out of the noise), else mad. See docs/algorithms/log.md, \"Dense blobs in white noise\"."),
            .text("lattice", \.lattice,
                  help: "Lattice vector of periodic content, used by prominence=auto's response noise (a lattice is not noise): auto = measured from the image (autocorrelation), none = not periodic, or DX,DY in px (e.g. 12,0).",
                  check: ContentScale.LatticeInput.reason),
            .real("edge_ratio", \.edgeRatio, range: 1...1e6,
                  help: "Drop maxima whose response is elongated: ratio of the principal curvatures above this (Lowe's edge test; rings around blobs of the other polarity, edges, ridges)."),
            .real("overlap", \.overlap, range: 0...1,
                  help: "Of two blobs whose discs (radius sqrt(2) sigma) share more than this fraction of the smaller disc, the weaker is dropped (1 = keep all)."),
            .choice("fit", \.fit,
                    help: "gaussian: refine x, y and sigma by a least-squares fit of a pixel-integrated Gaussian on a plane background around each blob (near the Cramer-Rao bound; adds the amplitude), and drop the blobs around which no plausible Gaussian fits (an edge, a rim or a broad structure); none: keep the scale-space interpolation and every blob."),
        ]
    }

    /// A stack is analysed once, on up to 8 sample frames (as persistence does): with
    /// `prominence=auto`, `lattice=auto` becomes a lattice vector when more than half of the
    /// samples show one (`ContentScale.stackLattice`; else `none`) and `noise=auto` poisson when more than half of the samples are counting
    /// data (else gaussian). Every frame is then decided the same way, and the per-frame cost of
    /// the two tests is saved.
    public func settingsForStack(_ settings: Settings, samples: [(image: Image, mask: Mask)]) throws -> Settings {
        guard settings.prominence.isAuto, !samples.isEmpty else { return settings }
        let needsLattice = (ContentScale.LatticeInput(settings.lattice) ?? .measured) == .measured
        let needsModel = settings.noise == .auto
        guard needsLattice || needsModel else { return settings }
        var lattices: [(dx: Int, dy: Int)?] = []
        var counting = 0
        for (image, given) in samples {
            let (mask, _) = NoiseEstimate.constantAreas(given, in: image)  // as `candidates` does
            if needsModel, CountingData.test(image, mask: mask).isCounting { counting += 1 }
            if needsLattice { lattices.append(try ContentScale.lattice(of: image, mask: mask).vector) }
        }
        var out = settings
        if needsModel { out.noise = 2 * counting > samples.count ? .poisson : .gaussian }
        if needsLattice { out.lattice = ContentScale.stackLattice(lattices) }
        return out
    }

    /// The smallest scale must fit the image (a kernel of sigma wider than the image is all
    /// border, and its FFT size grows with sigma, not the image: sigma = 100 on 64^2 took a
    /// minute and 7 GB). Larger scales beyond the image's larger side are skipped in `candidates`
    /// (reported as the diagnostic `scales_skipped`), so the work stays bounded by the image.
    public func check(_ settings: Settings, width: Int, height: Int) throws {
        let limit = Double(max(width, height))
        guard settings.sigma <= limit else {
            throw PeaksError.invalidParameter(
                name: "sigma",
                reason: "\(NumberFormat.string(settings.sigma)) px is more than the \(width)x\(height) image's larger side (\(NumberFormat.string(limit)) px)")
        }
    }

    /// The lattice-aware noise is used at a scale only when the second difference along the
    /// lattice keeps at least half of the variance it has for uncorrelated responses (0.75 of
    /// 1.5): at larger scales the response is correlated over the lattice spacing, the
    /// difference cancels most of the noise with the lattice, and its MAD says little (from about
    /// sigma = |L| for the LoG: the factor is 1.04 at 0.79 |L| and 0.43 at 1.11 |L|; between
    /// 0.3 and 0.6 |L| it exceeds 1.5, up to 1.9, from the kernel's negative lobes). The plain MAD
    /// is kept there, where the lattice has been averaged out anyway.
    static let minimumSecondDifferenceVariance = 0.75

    /// Gaussian truncation of the LoG kernels, in sigmas (scipy's and skimage's default).
    public static let truncate = 4.0

    /// Candidates are the scale-space maxima whose response at their own scale exceeds this
    /// fraction of the automatic threshold; the detection statistic then decides. A Gaussian spot's
    /// response / noise at its own scale is about 0.75 of its best over the next scales, so at
    /// half the threshold no spot the statistic would pass is lost before it is looked at.
    static let candidateFraction = 0.5

    /// A candidate whose statistic over its own and the next scale is below this fraction of the
    /// threshold is dropped before refinement (it saves most of the refinements of noise maxima:
    /// 0.3 s of 0.8 s on a noisy 2048^2 image).
    static let earlyFraction = 0.7

    /// How many scales beyond its own a maximum's detection statistic looks: round(log 2 / log k)
    /// (2 for k = 1.41). Why: the scale-normalised LoG peaks at t = s on a Gaussian spot of sigma
    /// s, which gives its position and size, but the response's signal-to-noise ratio on white
    /// noise peaks near t = 2 s (for s = 1 px: 6.25 at t = 1, 8.0 at t = 2, against 8.9 for the
    /// ideal matched filter). Testing the larger scales' SNR at the same pixel finds faint small
    /// spots the own-scale test misses, with the same false-blob budget (`defaultNoiseFactor`).
    static func detectionSpan(k: Double) -> Int {
        max(1, Int((log(2) / log(k)).rounded()))
    }

    public func candidates(in image: Image, mask given: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
        // Dead areas (constant patches at the image minimum: a round detector's corners, zero
        // padding) are not data, and no exactly constant patch is a noise sample: without this a
        // Laue crop 68% zeros had a response MAD of 0 and about 4,300 blobs (as in persistence,
        // NoiseEstimate.constantAreas).
        // With the automatic threshold the lattice is searched for (below); its transforms are
        // planned meanwhile.
        let latticeInput = ContentScale.LatticeInput(settings.lattice) ?? .measured
        let measureLattice = settings.prominence.isAuto && latticeInput == .measured
        if measureLattice { ContentScale.planLatticeSearchInBackground(width: image.width, height: image.height) }
        let (mask, noiseMask) = NoiseEstimate.constantAreas(given, in: image)
        let w = image.width, h = image.height
        let sigma0 = settings.sigma
        let k = settings.k
        let polarity = settings.polarity
        let factor = settings.noiseFactor
        let auto = settings.prominence.isAuto
        let fixedThreshold = settings.prominence.given ?? 0
        let overlap = settings.overlap
        let edgeRatio = settings.edgeRatio
        let edgeLimit = (edgeRatio + 1) * (edgeRatio + 1) / edgeRatio
        // Counting data (photons, electrons): the threshold is decided in the variance-stabilised
        // units of the Anscombe transform, as in persistence (`noise`).
        let counting = auto && settings.noise == .auto ? CountingData.test(image, mask: mask) : nil
        let poisson = auto && (settings.noise == .poisson || counting?.isCounting == true)
        // After the transform the noise is about the same everywhere: the local ratio would
        // measure again what the transform removed (and on sparse low counts its 32 px tiles are
        // themselves noisy: Golden/real ed-merlin-spots F1 0.615 with it, 0.889 without).
        let useLocalNoise = auto && settings.localNoise && !poisson
        let fitSpots = settings.fit == .gaussian
        // Scales wider than the image's larger side see only border: skipped (see `check`).
        let allSigmas = (0..<settings.maxPower).map { sigma0 * pow(k, Double($0)) }
        let sigmas = [allSigmas[0]] + allSigmas.dropFirst().filter { $0 <= Double(max(w, h)) }
        let scales = sigmas.count
        // The detection statistic looks this many scales beyond a maximum's own (about a factor
        // 2 in sigma): see `detectionSpan`.
        let span = auto ? Self.detectionSpan(k: k) : 0
        // Both signs are always searched: maxima of the unrequested polarity are only used to
        // recognise the rings the LoG draws around them (`BlobPruning.ringArtefacts`).
        let signs: [Float] = [1, -1]
        let wanted: Set<Float> = polarity == .both ? [1, -1] : (polarity == .dark ? [-1] : [1])
        let attributeNames = ["sigma", "radius", "response", "snr", "polarity", "amplitude", "fitted"]

        let validCount = mask.validCount
        guard validCount > 0 else {
            return Detection(peaks: [], attributeNames: attributeNames, strengthName: "response",
                             labels: options.wantsLabels ? LabelImage(width: w, height: h, labels: [Int32](repeating: 0, count: w * h)) : nil,
                             diagnostics: [("valid_pixels", .integer(0))])
        }
        let hasInvalid = validCount < image.count
        let source = poisson ? Anscombe.transform(image) : image
        let filled = hasInvalid ? MaskFill.fill(source, mask: mask, median: Self.median(of: source, mask: mask)) : source
        // The Gaussian fit measures the spots in image units.
        let filledImage = !poisson ? filled : (hasInvalid ? MaskFill.fill(image, mask: mask, median: Self.median(of: image, mask: mask)) : image)
        // Rounding floor scale: a float FFT convolution errs by ~1e-7 of max|I| sum|K|.
        var spread: Float = 0
        filled.pixels.withUnsafeBufferPointer { p in
            mask.isValid.withUnsafeBufferPointer { v in
                for i in 0..<p.count where v[i] { spread = max(spread, abs(p[i])) }
            }
        }
        // Periodic content (atomic columns, a crystal's spots) is not noise: with the automatic
        // threshold the response noise of each scale is also measured along the lattice
        // (`robustNoise`), as persistence measures its band-passed noise. The lattice search (an
        // autocorrelation, ~10 ms at 512^2) runs beside the plane fit, the local noise map and
        // the first scale's response, which do not need it.
        var lattice: (dx: Int, dy: Int)? = nil
        var periodicity: Double? = nil
        if auto, case .given(let dx, let dy) = latticeInput { lattice = (dx, dy) }
        // The lattice search runs on another thread (a `BackgroundTask`, not a task of a two-way
        // parallel loop, inside which the scale space's own parallel loops would run on one core).
        let search = measureLattice ? BackgroundTask { Result { try ContentScale.lattice(of: image, mask: mask) } } : nil
        let plane = BackgroundPlane.fit(filled, mask: mask)
        let local = useLocalNoise ? LocalNoise.estimate(filled, mask: noiseMask) : LocalNoise.uniform(width: w, height: h)
        let prepared = Result { () throws -> (LoGScaleSpace, [Float]) in
            let space = try LoGScaleSpace(image: filled, sigmas: sigmas, truncate: Self.truncate, plane: plane)
            return (space, try space.response(scale: 0))
        }
        if let search {
            let f = try search.wait().get()
            lattice = f.vector
            periodicity = f.periodicity
        }
        let (space, firstResponse) = try prepared.get()
        let frame = ResponseFrame(width: w, height: h, pad: space.pad, stride: space.stride)
        var noise = [Double](repeating: 0, count: scales)
        var thresholds = [Double](repeating: 0, count: scales)
        var candidateThresholds = [Double](repeating: 0, count: scales)
        // Per scale: how the reflective border raises the response noise near the edges (only
        // with the automatic threshold; a fixed threshold is taken as given).
        var gains = [(x: [Float], y: [Float])](repeating: ([], []), count: scales)
        // Dense blobs (nuclei filling the field) inflate the response's MAD at the scales of the
        // blobs; when the pixel noise is white the response noise is the pixel noise times the
        // kernel's L2 norm, which content does not touch (`PropagatedNoise`, the rule of
        // persistence's band_noise). Decided once, at the first scale where it is the lower.
        var pixelNoise: Double?
        var decision: PropagatedNoise.Decision?
        var noiseSources = [String](repeating: "mad", count: scales)
        func prepare(_ i: Int, _ response: [Float]) {
            gains[i] = auto ? space.borderGains(scale: i) : ([Float](repeating: 1, count: w), [Float](repeating: 1, count: h))
            // Along the lattice only where the second difference still sees the noise: at scales
            // near the lattice spacing the response is correlated over L, the difference cancels
            // much of the noise with the lattice, and its exact variance factor
            // (`secondDifferenceVariance`) is below half the uncorrelated 1.5.
            var along: (vector: (dx: Int, dy: Int), variance: Double)? = nil
            if let L = lattice {
                let v = space.secondDifferenceVariance(scale: i, lag: L)
                if v >= Self.minimumSecondDifferenceVariance { along = (L, v) }
            }
            noise[i] = Self.robustNoise(response, frame: frame, mask: noiseMask, local: local, gains: gains[i], lattice: along)
            if auto && settings.responseNoise != .mad {
                let pixel = pixelNoise ?? NoiseEstimate.sigma(filled, mask: noiseMask)
                pixelNoise = pixel
                let propagated = pixel * space.kernelNorms(scale: i).l2squared.squareRoot()
                if propagated > 0 && propagated < noise[i] {
                    var d = decision ?? PropagatedNoise.decide(
                        settings.responseNoise, source: filled, image: image, mask: noiseMask,
                        pixelNoise: poisson ? NoiseEstimate.sigma(image, mask: noiseMask) : pixel)
                    // Dense content inflates the MAD; a lattice is dense content that the
                    // along-lattice MAD already leaves out, while the propagated noise would
                    // also pass the structure between its columns (MoS2: 240 false blobs).
                    if settings.responseNoise == .auto, d.propagate, let L = lattice {
                        d.propagate = false
                        d.rule = "auto: a lattice (\(L.dx),\(L.dy)), whose along-lattice MAD leaves it out of the noise: mad"
                    }
                    decision = d
                    if d.propagate {
                        noise[i] = propagated
                        noiseSources[i] = "propagated"
                    }
                }
            }
            let floor = 1e-6 * Double(spread) * space.kernelNorms(scale: i).l1
            thresholds[i] = max(auto ? factor * noise[i] : fixedThreshold, floor)
            candidateThresholds[i] = max(auto ? Self.candidateFraction * factor * noise[i] : fixedThreshold, floor)
        }
        /// Response / its noise at image pixel (x, y) of scale j (the detection statistic's terms).
        func snr(_ response: [Float], scale j: Int, x: Int, y: Int, sign: Float, value: Double? = nil) -> Double {
            let unit = noise[j] * Double(local.ratio[y &* w &+ x] * gains[j].x[x] * gains[j].y[y])
            let r = value ?? Double(sign * response[frame.index(x, y)])
            return unit > 0 ? r / unit : .infinity
        }
        /// The statistic's term at a larger scale j: response / noise at the spatial maximum of
        /// scale j within one pixel of (x, y), or -infinity when none of those nine pixels is a
        /// maximum of its 3x3 neighbourhood. A blob stays a maximum as the scale grows; a point on
        /// the ring or flank of a larger structure does not, so it gains nothing from the larger
        /// scales' response there.
        func largerScaleSNR(_ response: [Float], scale j: Int, x: Int, y: Int, sign: Float) -> Double {
            var best = -Double.infinity
            for cy in max(0, y - 1)...min(h - 1, y + 1) {
                for cx in max(0, x - 1)...min(w - 1, x + 1) where mask.isValid[cy &* w &+ cx] {
                    let v = sign * response[frame.index(cx, cy)]
                    var isMaximum = true
                    check: for ny in max(0, cy - 1)...min(h - 1, cy + 1) {
                        for nx in max(0, cx - 1)...min(w - 1, cx + 1) where sign * response[frame.index(nx, ny)] > v {
                            isMaximum = false
                            break check
                        }
                    }
                    if isMaximum { best = max(best, snr(response, scale: j, x: cx, y: cy, sign: sign, value: Double(v))) }
                }
            }
            return best
        }

        var blobs: [Blob] = []
        var candidates = 0, rejectedByMask = 0, rejectedAsEdges = 0, belowThreshold = 0
        // The kernel one scale below the first, for the scale parabola of first-scale maxima
        // (`LoGScaleSpace.responsePatch`): made once, used for every such candidate.
        let finerKernel = space.kernel(sigma: sigmas[0] / k)
        var prev: [Float]? = nil
        var cur: [Float]? = firstResponse
        if let cur { prepare(0, cur) }
        for i in 0..<scales {
            guard let current = cur else { break }
            let next: [Float]? = i + 1 < scales ? try space.response(scale: i + 1) : nil
            if let next {
                prepare(i + 1, next)
                // Blobs of earlier scales whose statistic reaches this far look at scale i + 1.
                if span >= 2 {
                    for b in blobs.indices where blobs[b].scaleIndex < i && blobs[b].scaleIndex + span >= i + 1 {
                        let v = largerScaleSNR(next, scale: i + 1, x: blobs[b].gridX, y: blobs[b].gridY, sign: Float(blobs[b].polarity))
                        blobs[b].snr = max(blobs[b].snr, v)
                    }
                }
            }
            for sign in signs {
                let found = ScaleSpaceExtrema.maxima(
                    prev: prev, cur: current, next: next, sign: sign, threshold: Float(candidateThresholds[i]),
                    frame: frame, valid: mask.isValid, noise: local, gains: gains[i])
                if wanted.contains(sign) { candidates += found.count }
                for m in found {
                    // The statistic's terms at this scale and the next, before the costlier
                    // refinement: a candidate far below the threshold there cannot reach it one
                    // scale further (a spot's SNR grows by under 10% per step at those scales).
                    let gx = Int(m.x), gy = Int(m.y)
                    var nextTerm = -Double.infinity
                    if span >= 1, let next { nextTerm = largerScaleSNR(next, scale: i + 1, x: gx, y: gy, sign: sign) }
                    let early = max(snr(current, scale: i, x: gx, y: gy, sign: sign), nextTerm)
                    if auto && !(early > (span >= 2 ? Self.earlyFraction : 1) * factor) {
                        if wanted.contains(sign) { belowThreshold += 1 }
                        continue
                    }
                    // At the first scale, the response one step finer around the maximum, so
                    // that its sigma is interpolated too (else every blob whose maximum lies on
                    // the first scale reported sigma = sigma exactly without the fit).
                    let finer = prev == nil && next != nil ? space.responsePatch(finerKernel, x: gx, y: gy) : nil
                    let r = ScaleSpaceExtrema.refine(
                        m, prev: prev, cur: current, next: next, sign: sign, frame: frame, sigmas: (sigmas[i], k), finer: finer)
                    if !(r.edgeness <= edgeLimit) {
                        if wanted.contains(sign) { rejectedAsEdges += 1 }
                        continue
                    }
                    let s = sigma0 * pow(k, Double(i) + r.ds)
                    // No invalid pixel within the kernel's negative centre lobe (r < sqrt(2)
                    // sigma), the part of the support that measures the blob itself.
                    if hasInvalid && mask.hasInvalidPixel(within: 2.0.squareRoot() * s, ofX: Int(m.x), y: Int(m.y)) {
                        if wanted.contains(sign) { rejectedByMask += 1 }
                        continue
                    }
                    let statistic = max(snr(current, scale: i, x: gx, y: gy, sign: sign, value: r.value), nextTerm)
                    blobs.append(Blob(
                        x: Double(m.x) + r.dx, y: Double(m.y) + r.dy, sigma: s, response: r.value,
                        snr: statistic, polarity: Double(sign), scaleIndex: i, gridX: gx, gridY: gy))
                }
            }
            prev = current
            cur = next
        }

        // The detection statistic decides (with a fixed threshold the candidates are final).
        if auto {
            let before = blobs.filter { wanted.contains(Float($0.polarity)) }.count
            blobs.removeAll { !($0.snr > factor) }
            belowThreshold += before - blobs.filter { wanted.contains(Float($0.polarity)) }.count
        }
        let rings = BlobPruning.ringArtefacts(blobs)
        let requested = blobs.indices.filter { !rings.contains($0) && wanted.contains(Float(blobs[$0].polarity)) }.map { blobs[$0] }
        var kept = BlobPruning.prune(requested, overlap: overlap)
        let prunedByOverlap = requested.count - kept.count
        let fitIterations = fitSpots ? SpotFitting.refine(&kept, image: filledImage, mask: mask, gridSigmas: sigmas, k: k) : 0
        // The fit also confirms the blob: where no plausible Gaussian fits around it (none of its
        // polarity, a width beyond 3x its scale, a centre that runs away or off the valid
        // pixels) the response came from an edge, a rim or a broad structure, not a blob.
        let beforeCheck = kept.count
        if fitSpots { kept.removeAll { !$0.fitted && $0.snr >= SpotFitting.minimumSNR } }
        let rejectedByFit = beforeCheck - kept.count
        let peaks = kept.map { b -> Peak in
            let px = min(w - 1, max(0, Int(b.x.rounded()))), py = min(h - 1, max(0, Int(b.y.rounded())))
            return Peak(
                x: b.x, y: b.y, value: Double(image.pixels[py * w + px]), strength: b.response,
                attributes: [
                    "sigma": b.sigma, "radius": 2.0.squareRoot() * b.sigma, "response": b.response,
                    "snr": b.snr.isFinite ? b.snr : 0, "polarity": b.polarity,
                    "amplitude": b.amplitude, "fitted": b.fitted ? 1 : 0,
                ])
        }
        let periodicityValue: Value = periodicity.map { Value.number($0) } ?? .null
        func list(_ values: [Double]) -> Value { .string(values.map { NumberFormat.string($0) }.joined(separator: " ")) }
        var detection = Detection(
            peaks: peaks, attributeNames: attributeNames, strengthName: "response",
            diagnostics: [
                ("scales", list(sigmas)),
                ("response_noise", list(noise)),
                ("thresholds", list(thresholds)),
                ("candidate_thresholds", list(candidateThresholds)),
                ("threshold_rule", .string(auto ? "max over scales i ... i + \(span) of response / (1.4826 MAD of the response per scale\(useLocalNoise ? " x local noise ratio" : "")) > noise_factor" : "fixed")),
                ("noise_model", .string(poisson ? "poisson" : "gaussian")),
                ("response_noise_sources", .string(noiseSources.joined(separator: " "))),
                ("response_noise_rule", .string(!auto || settings.responseNoise == .mad ? "mad" : (decision?.rule ?? "\(settings.responseNoise.rawValue): MAD not above the propagated pixel noise at any scale: mad"))),
                ("noise_whiteness", decision?.whiteness.map { Value.number($0) } ?? .null),
                ("noise_quantisation_step", decision?.quantisationStep.map { Value.number($0) } ?? .null),
                ("noise_model_rule", .string(!auto ? "fixed threshold" : (counting?.rule ?? "given"))),
                ("lattice", .string(lattice.map { "\($0.dx),\($0.dy)" } ?? "none")),
                ("periodicity", periodicityValue),
                ("local_noise_range", .string(useLocalNoise ? "\(NumberFormat.string(Double(local.minimum))) \(NumberFormat.string(Double(local.ratio.max() ?? 1)))" : "off")),
                ("candidates", .integer(candidates)),
                ("below_detection_threshold", .integer(belowThreshold)),
                ("fitted", .integer(kept.filter(\.fitted).count)),
                ("fit_iterations", .integer(fitIterations)),
                ("rejected_by_fit", .integer(rejectedByFit)),
                ("rejected_near_mask", .integer(rejectedByMask)),
                ("rejected_as_edges", .integer(rejectedAsEdges)),
                ("rejected_as_rings", .integer(rings.filter { wanted.contains(Float(blobs[$0].polarity)) }.count)),
                ("pruned_by_overlap", .integer(prunedByOverlap)),
            ])
        if options.wantsLabels {
            // Discs are drawn for the blobs that survive the shared post-processing.
            detection.labelling = { kept in BlobPruning.discLabels(kept, width: w, height: h) }
        }
        return detection
    }

    /// The median of the valid pixels (sampled on a regular grid of at most ~2^20 pixels).
    static func median(of image: Image, mask: Mask) -> Float {
        let step = max(1, Int((Double(image.count) / Double(1 << 20)).squareRoot()))
        var values: [Float] = []
        for y in Swift.stride(from: 0, to: image.height, by: step) {
            for x in Swift.stride(from: 0, to: image.width, by: step) where mask.isValid[y * image.width + x] {
                values.append(image.pixels[y * image.width + x])
            }
        }
        if values.isEmpty {
            for i in 0..<image.count where mask.isValid[i] { values.append(image.pixels[i]) }
        }
        return values.isEmpty ? 0 : Selection.median(&values)
    }

    /// 1.4826 x the median absolute deviation from the median of the response over the valid
    /// pixels, sampled on a regular grid of at most ~2^18 pixels: the standard deviation of the
    /// response's noise for Gaussian noise, unmoved by the few pixels that blobs occupy.
    static func robustNoise(
        _ response: [Float], frame f: ResponseFrame, mask: Mask, local: LocalNoise, gains: (x: [Float], y: [Float]),
        lattice: (vector: (dx: Int, dy: Int), variance: Double)? = nil
    ) -> Double {
        let count = f.width * f.height
        // About 65k samples: the MAD then has ~0.4% relative error, far inside the threshold's margin,
        // and the two medians per scale stay cheap (they were a quarter of the time at 512^2).
        let step = max(1, Int((Double(count) / Double(1 << 16)).squareRoot()))
        var values: [Float] = []
        values.reserveCapacity(count / (step * step) + f.width + f.height)
        response.withUnsafeBufferPointer { r in
            mask.isValid.withUnsafeBufferPointer { v in
                for y in Swift.stride(from: 0, to: f.height, by: step) {
                    for x in Swift.stride(from: 0, to: f.width, by: step) where v[y &* f.width &+ x] {
                        values.append(r[f.index(x, y)] / (local.ratio[y &* f.width &+ x] * gains.x[x] * gains.y[y]))
                    }
                }
            }
        }
        guard !values.isEmpty else { return 0 }
        let mad = Selection.normalMAD(&values)
        guard let (L, variance) = lattice else { return mad }
        // Along a lattice vector L the content repeats: the second difference
        // r(x) - (r(x - L) + r(x + L)) / 2 cancels it (and a linear drift along L) and leaves the
        // noise, with `variance` times the variance of r (1.5 where r is uncorrelated at lag L;
        // the kernel's own correlation for white pixel noise). The smaller of the two estimates
        // (ContentScale.noise's rule).
        let ax = abs(L.dx), ay = abs(L.dy)
        guard f.width > 2 * ax + 1, f.height > 2 * ay + 1 else { return mad }
        var d: [Float] = []
        d.reserveCapacity(values.count)
        response.withUnsafeBufferPointer { r in
            mask.isValid.withUnsafeBufferPointer { v in
                func unit(_ x: Int, _ y: Int) -> Float {
                    r[f.index(x, y)] / (local.ratio[y &* f.width &+ x] * gains.x[x] * gains.y[y])
                }
                for y in Swift.stride(from: ay, to: f.height - ay, by: step) {
                    for x in Swift.stride(from: ax, to: f.width - ax, by: step) {
                        let p = (x + L.dx, y + L.dy), m = (x - L.dx, y - L.dy)
                        guard v[y &* f.width &+ x], v[p.1 &* f.width &+ p.0], v[m.1 &* f.width &+ m.0] else { continue }
                        d.append(unit(x, y) - (unit(p.0, p.1) + unit(m.0, m.1)) / 2)
                    }
                }
            }
        }
        guard d.count >= 64 else { return mad }
        return min(mad, Selection.normalMAD(&d) / variance.squareRoot())
    }
}
