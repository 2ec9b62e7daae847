/// A peak-finding algorithm. Conforming types live in their own module under Plugins/ and are
/// listed once in the `Detectors` module's registry.
///
/// A detector declares its settings once (`Settings`, a `DetectorSettings` struct) and implements
/// `candidates`: the detector proper, which returns candidate peaks in any order. Callers use
/// `detect`, which checks the input, decodes the settings, runs the core, and then applies the
/// shared post-processing (`PostProcessing`: mask, border, minimum distance, order, blob labels)
/// exactly once.
public protocol PeakDetector: Sendable {
    associatedtype Settings: DetectorSettings

    /// The name used on the command line (`--algo NAME`) and in output files.
    var name: String { get }
    /// One line saying what the detector finds and how.
    var summary: String { get }

    /// The detector proper. `mask` has the image's shape; invalid pixels must be treated as
    /// absent. Candidates may come in any order and may include ones the shared post-processing
    /// removes. Blob labels are only required when `options.wantsLabels` is true (they cost
    /// memory); a detector whose labels depend on which peaks survive sets
    /// `Detection.labelling` instead of `labels`.
    ///
    /// - Parameters:
    ///   - image: The pixels (finite wherever `mask` is true).
    ///   - mask: Valid pixels.
    ///   - settings: The detector's settings, checked against their ranges.
    ///   - options: What the caller wants besides the peaks.
    func candidates(in image: Image, mask: Mask, settings: Settings, options: DetectionOptions) throws -> Detection

    /// True when, with these settings, running at a higher `prominence` t gives exactly the
    /// peaks of this run whose `strength` is greater than t: the parameter is a final cut on
    /// strength, and everything after it (the shared post-processing, greedy by strength)
    /// commutes with such a cut. Threshold sweeps (`peaks evaluate`) then reuse one run instead
    /// of rerunning the detector per threshold. Default: false (always safe).
    func prominenceIsFinalFilter(_ settings: Settings) -> Bool

    /// Checks settings against the image before any work: a scale the image cannot hold, a
    /// window wider than the frame. Throws `PeaksError.invalidParameter`. Default: nothing.
    func check(_ settings: Settings, width: Int, height: Int) throws

    /// Settings for every frame of a stack, resolved once from a sample of its frames: the
    /// values this detector would otherwise measure from each frame (`auto`) are measured on
    /// `samples` and fixed, so a stack is processed with one filter (results comparable from
    /// frame to frame) and pays the measurement once. A frame of the stack then gives exactly
    /// what it gives alone with the returned settings. Default: the settings unchanged.
    ///
    /// - Parameters:
    ///   - settings: The settings as given.
    ///   - samples: Frames of the stack (`StackSampling.indices`), each with its valid pixels.
    func settingsForStack(_ settings: Settings, samples: [(image: Image, mask: Mask)]) throws -> Settings

    /// The detector's parameters a spot-size hint sets (`--spot-size`, `spot_size`; see
    /// `DetectionHints`): the Gaussian sigma in px of a typical spot turned into this detector's
    /// scale settings. `given` holds the parameters the caller gave; values returned for them
    /// are ignored (an explicit parameter wins), and a value may depend on them (a range
    /// around the hint from a given ratio). Values must lie in the parameters' ranges. Default:
    /// none (a detector without a spot scale documents why).
    func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue]
}

/// Which frames of a stack its measured settings are resolved from: up to `maxSamples` frames
/// evenly spaced over the whole stack, first and last included. The choice depends only on the
/// frame count, so every shard of a stack (and every thread count) resolves the same settings.
public enum StackSampling {
    public static let maxSamples = 8

    /// i_j = floor(j (n - 1) / (k - 1)), j = 0 ..< k, k = min(n, 8) (k = 1: frame 0).
    public static func indices(frameCount n: Int) -> [Int] {
        guard n > 0 else { return [] }
        let k = min(n, maxSamples)
        guard k > 1 else { return [0] }
        return (0..<k).map { $0 * (n - 1) / (k - 1) }
    }
}

extension PeakDetector {
    public func prominenceIsFinalFilter(_ settings: Settings) -> Bool { false }
    public func check(_ settings: Settings, width: Int, height: Int) throws {}
    public func settingsForStack(_ settings: Settings, samples: [(image: Image, mask: Mask)]) throws -> Settings { settings }

    /// `parameters` with the values `settingsForStack` resolves from `samples` (invalid pixels:
    /// outside `mask`, and NaN/infinite ones).
    public func resolveParameters(forStack parameters: ParameterSet, samples: [Image], mask: Mask?) throws -> ParameterSet {
        let prepared: [(image: Image, mask: Mask)] = try samples.map { image in
            if let mask { try mask.checkShape(matches: image) }
            var valid = mask ?? Mask(width: image.width, height: image.height)
            if image.firstNonFinitePixel() != nil { valid = valid.intersection(Mask(finitePixelsOf: image)) }
            return (image, valid)
        }
        guard !prepared.isEmpty else { return parameters }
        let resolved = try settingsForStack(Settings(parameters), samples: prepared)
        return parameters.replacing(resolved.values)
    }

    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] { [:] }

    /// The detector's own parameters (the shared ones are in `PostProcessingSettings`).
    public var parameterSpecs: [ParameterSpec] { Settings.specs }

    /// Whether a resolved parameter set's prominence is a final cut (see the requirement).
    public func prominenceIsFinalFilter(_ parameters: ParameterSet) -> Bool {
        prominenceIsFinalFilter(Settings(parameters))
    }
}

/// What a caller wants besides the peaks.
public struct DetectionOptions: Sendable, Equatable {
    /// Fill `Detection.labels` with the blobs (basins, regions, discs) of the reported peaks.
    public var wantsLabels: Bool
    public init(wantsLabels: Bool = false) { self.wantsLabels = wantsLabels }
}

/// Settings every detector accepts, applied by `PostProcessing` after the detector's core.
public struct PostProcessingSettings: DetectorSettings {
    /// Minimum distance in pixels between reported peaks (0 = off).
    public var minDistance = 0.0
    /// Peaks closer than this to the edge are dropped.
    public var excludeBorder = 0

    public init() {}

    public static let fields: [SettingField<PostProcessingSettings>] = [
        .real("min_dist", \.minDistance, range: 0...1e6, unit: "px",
              help: "Minimum distance in pixels between reported peaks; of two closer peaks the weaker is dropped (0 = off)."),
        .integer("exclude_border", \.excludeBorder, range: 0...1_000_000, unit: "px",
                 help: "Drop peaks closer than this many pixels to the image edge (0 = keep all)."),
    ]
}

/// What to do with NaN and infinite pixels.
public enum NonFinitePolicy: String, Sendable, CaseIterable {
    /// Refuse the image with a clear error (the default: such pixels usually mean broken data).
    case error
    /// Treat them as invalid pixels, as if the mask said so.
    case mask
}

extension PeakDetector {
    /// All parameters this detector accepts: its own, then the shared ones.
    public var allParameterSpecs: [ParameterSpec] { Settings.specs + PostProcessingSettings.specs }

    /// Runs the detector with input checks and the shared post-processing.
    ///
    /// - Throws: `PeaksError` for an empty image, a mask of the wrong shape, non-finite pixels
    ///   (unless `nonFinite == .mask`), or bad parameter values.
    public func detect(
        in image: Image, mask: Mask? = nil, parameters: ParameterSet,
        nonFinite: NonFinitePolicy = .error, options: DetectionOptions = .init()
    ) throws -> Detection {
        guard image.width > 0 && image.height > 0 else {
            throw PeaksError.invalidImage(reason: "the image is empty (\(image.width)x\(image.height))")
        }
        if let mask { try mask.checkShape(matches: image) }
        var valid = mask ?? Mask(width: image.width, height: image.height)
        if let bad = image.firstNonFinitePixel() {
            switch nonFinite {
            case .error:
                throw PeaksError.invalidImage(
                    reason: "\(image.nonFiniteCount()) pixel(s) are NaN or infinite, first at x=\(bad.x), y=\(bad.y) (\(bad.value)); mask them or pass --nonfinite mask")
            case .mask:
                valid = valid.intersection(Mask(finitePixelsOf: image))
            }
        }
        if let spot = DetectionHints.spotSize(in: parameters) {
            try DetectionHints.checkSpotSize(spot, width: image.width, height: image.height)
        }
        let settings = Settings(parameters)
        try check(settings, width: image.width, height: image.height)
        let raw = try candidates(in: image, mask: valid, settings: settings, options: options)
        return PostProcessing.apply(to: raw, mask: valid, width: image.width, height: image.height,
                                    settings: PostProcessingSettings(parameters))
    }

    /// Convenience: resolve `given` and run.
    public func detect(
        in image: Image, mask: Mask? = nil, _ given: [String: ParameterValue] = [:],
        nonFinite: NonFinitePolicy = .error, options: DetectionOptions = .init()
    ) throws -> Detection {
        try detect(in: image, mask: mask, parameters: resolveParameters(given), nonFinite: nonFinite, options: options)
    }
}

/// The detectors known to a program, by name.
public struct DetectorRegistry: Sendable {
    public private(set) var detectors: [any PeakDetector]

    public init(_ detectors: [any PeakDetector] = []) {
        self.detectors = []
        for d in detectors { register(d) }
    }

    /// Adds a detector; a later one with the same name replaces the earlier.
    public mutating func register(_ detector: any PeakDetector) {
        detectors.removeAll { $0.name == detector.name }
        detectors.append(detector)
    }

    public var names: [String] { detectors.map(\.name) }

    public func detector(named name: String) -> (any PeakDetector)? {
        detectors.first { $0.name == name }
    }

    /// Like `detector(named:)` but throws a message listing the known names.
    public func require(_ name: String) throws -> any PeakDetector {
        guard let d = detector(named: name) else {
            throw PeaksError.invalidParameter(name: "algo", reason: "unknown detector '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return d
    }
}
