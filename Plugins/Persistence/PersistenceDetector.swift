import Filters
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
    /// Chosen from the prominence distribution of maxima in white Gaussian noise: see
    /// docs/algorithms/persistence.md for the measured false-peak rates.
    public static let defaultNoiseFactor = 5.0

    /// Noise model of the automatic threshold.
    public enum NoiseModel: String, SettingChoice {
        /// The same noise everywhere.
        case gaussian
        /// Counting data: the test is made after the Anscombe transform.
        case poisson
    }

    /// The persistence detector's settings (defaults are the initial values).
    public struct Settings: DetectorSettings {
        public var prominence: Automatic<Double> = .auto
        public var noiseFactor = PersistenceDetector.defaultNoiseFactor
        public var noise = NoiseModel.gaussian
        public var smooth = 0.0

        public init() {}

        public static let fields: [SettingField<Settings>] = [
            .real("prominence", \.prominence, range: 0...1e38, unit: "image units",
                  help: "Report peaks whose prominence is strictly greater than this (image units). auto = noise_factor x the robust noise sigma of the (smoothed) image."),
            .real("noise_factor", \.noiseFactor, range: 0...1e6, unit: "noise sigmas",
                  help: "With prominence=auto: the threshold in units of the estimated noise sigma."),
            .choice("noise", \.noise,
                    help: "Noise model for prominence=auto: gaussian (same noise everywhere) or poisson (counting data; the test is made after the Anscombe transform)."),
            .real("smooth", \.smooth, range: 0...1000, unit: "px",
                  help: "Sigma in pixels of a Gaussian pre-smoothing (0 = none). Suppresses noise maxima and merges peaks closer than about 2 sigma."),
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

    public func check(_ settings: Settings, width: Int, height: Int) throws {
        // The smoothing kernel spans 4 sigma each side; wider than the image it is all border.
        let limit = Double(max(width, height))
        if settings.smooth > limit {
            throw PeaksError.invalidParameter(
                name: "smooth", reason: "\(NumberFormat.string(settings.smooth)) px is wider than the \(width)x\(height) image (at most \(NumberFormat.string(limit)))")
        }
    }

    public func candidates(in image: Image, mask: Mask, settings: Settings, options: DetectionOptions) throws -> Detection {
        guard image.count < Int(Int32.max) else {
            throw PeaksError.invalidImage(reason: "\(image.width)x\(image.height) has more than 2^31 pixels, the persistence detector's limit")
        }
        let smooth = settings.smooth
        let filtered = smooth > 0 ? GaussianFilter.apply(image, mask: mask, sigma: smooth) : image
        let poisson = settings.noise == .poisson
        let gain = smooth > 0 ? GaussianFilter.noiseGain(sigma: smooth) : 1
        let rawNoise = NoiseEstimate.sigma(poisson ? Anscombe.transform(image) : image, mask: mask)
        let noise = rawNoise * gain
        let factor = settings.noiseFactor
        let threshold = settings.prominence.given ?? factor * noise
        let auto = settings.prominence.isAuto

        let (diagram, tree) = SuperlevelPersistence.compute(filtered, mask: mask, recordMergeTree: options.wantsLabels)
        let significant: [PersistencePair]
        if auto && poisson {
            let limit = factor * noise
            significant = diagram.pairs.filter {
                $0.persistence > 0 && Anscombe.value(Double($0.birthLevel)) - Anscombe.value(Double($0.deathLevel)) > limit
            }
        } else {
            significant = diagram.pairs.filter { Double($0.persistence) > threshold }
        }

        var peaks: [Peak] = []
        var birthOfPixel: [Int: Int] = [:]
        peaks.reserveCapacity(significant.count)
        for pair in significant {
            let at = PlateauCentre.pixel(of: pair.birth, in: filtered, mask: mask)
            birthOfPixel[at] = pair.birth
            let x = at % image.width, y = at / image.width
            let sx = pair.death % image.width, sy = pair.death / image.width
            peaks.append(Peak(
                x: Double(x), y: Double(y), value: Double(image.pixels[at]),
                strength: Double(pair.persistence),
                attributes: [
                    "prominence": Double(pair.persistence),
                    "birth_level": Double(pair.birthLevel),
                    "saddle_x": Double(sx), "saddle_y": Double(sy),
                    "saddle_level": Double(pair.deathLevel),
                ]))
        }
        var detection = Detection(
            peaks: peaks,
            attributeNames: ["prominence", "birth_level", "saddle_x", "saddle_y", "saddle_level"],
            strengthName: "prominence",
            diagnostics: [
                ("noise_model", .string(poisson ? "poisson" : "gaussian")),
                ("noise_sigma", .number(rawNoise)),
                ("noise_sigma_filtered", .number(noise)),
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
                    let pixel = Int(p.y) * width + Int(p.x)
                    if let b = births[pixel] { labelOfBirth[b] = Int32(k + 1) }
                }
                return LabelImage(width: width, height: height, labels: tree.labels(labelOfBirth: labelOfBirth))
            }
        }
        return detection
    }
}

/// The Anscombe transform, which turns Poisson counts into values of roughly unit variance.
enum Anscombe {
    @inline(__always) static func value(_ v: Double) -> Double { 2 * (max(v, 0) + 0.375).squareRoot() }

    static func transform(_ image: Image) -> Image {
        var out = image
        out.pixels = image.pixels.map { Float(value(Double($0))) }
        return out
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
