/// A peak-finding algorithm. Conforming types live in their own module under Plugins/ and are
/// listed once in the `Detectors` module's registry.
///
/// A detector implements `findPeaks`; callers use `detect`, which checks the input and the
/// parameters and then applies the shared post-processing (`PostProcessing`) every detector gets:
/// dropping peaks on invalid pixels, border exclusion, minimum-distance suppression, and a stable
/// output order.
public protocol PeakDetector: Sendable {
    /// The name used on the command line (`--algo NAME`) and in output files.
    var name: String { get }
    /// One line saying what the detector finds and how.
    var summary: String { get }
    /// The detector's own parameters (the shared ones are in `SharedParameters.specs`).
    var parameterSpecs: [ParameterSpec] { get }
    /// The detector proper. `mask` has the image's shape; invalid pixels must be treated as
    /// absent. Peaks may be returned in any order and may include ones the shared
    /// post-processing removes; `parameters` hold every detector parameter, defaults filled in.
    /// Blob labels are only required when `options.wantsLabels` is true (they cost memory).
    func findPeaks(in image: Image, mask: Mask, parameters: ParameterSet, options: DetectionOptions) throws -> Detection

    /// True when, with these parameters, running at a higher `prominence` t gives exactly the
    /// peaks of this run whose `strength` is greater than t: the parameter is a final cut on
    /// strength, and everything after it (the shared post-processing, greedy by strength)
    /// commutes with such a cut. Threshold sweeps (`peaks evaluate`) then reuse one run instead
    /// of rerunning the detector per threshold. Default: false (always safe).
    func prominenceIsFinalFilter(_ parameters: ParameterSet) -> Bool
}

extension PeakDetector {
    public func prominenceIsFinalFilter(_ parameters: ParameterSet) -> Bool { false }
}

/// What a caller wants besides the peaks.
public struct DetectionOptions: Sendable, Equatable {
    /// Fill `Detection.labels` with the blobs (basins, regions, discs) of the reported peaks.
    public var wantsLabels: Bool
    public init(wantsLabels: Bool = false) { self.wantsLabels = wantsLabels }
}

/// Parameters every detector accepts, applied by `PostProcessing` after the detector runs.
public enum SharedParameters {
    public static let minDistance = ParameterSpec(
        name: "min_dist", kind: .real, defaultValue: .real(0), range: 0...1e6,
        help: "Minimum distance in pixels between reported peaks; of two closer peaks the weaker is dropped (0 = off).")
    public static let excludeBorder = ParameterSpec(
        name: "exclude_border", kind: .integer, defaultValue: .integer(0), range: 0...1e6,
        help: "Drop peaks closer than this many pixels to the image edge (0 = keep all).")
    public static let specs = [minDistance, excludeBorder]
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
    public var allParameterSpecs: [ParameterSpec] { parameterSpecs + SharedParameters.specs }

    /// Checks `given` against the detector's parameters, filling in defaults.
    public func resolveParameters(_ given: [String: ParameterValue]) throws -> ParameterSet {
        try ParameterSet(specs: allParameterSpecs, given: given, detectorName: name)
    }

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
        let raw = try findPeaks(in: image, mask: valid, parameters: parameters, options: options)
        return PostProcessing.apply(
            to: raw, mask: valid, width: image.width, height: image.height,
            minDistance: parameters.real(SharedParameters.minDistance.name) ?? 0,
            excludeBorder: parameters.integer(SharedParameters.excludeBorder.name) ?? 0)
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
