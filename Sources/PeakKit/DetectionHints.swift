#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Hints a caller may give about the image, which every detector turns into its own settings:
/// today the spot size (`--spot-size SIGMA_PX`, the keyword / `-p` name `spot_size`), the
/// Gaussian sigma in pixels of a typical spot.
///
/// A hint is not a detector setting: each detector says, in
/// `PeakDetector.parameters(forSpotSize:given:)`, which of its own parameters a spot size sets
/// (persistence: `smooth`; log: its scale range; template: `radius` and `sigma`; high-symmetry:
/// its refinement and erosion windows). Only parameters the caller did not give are set, so an
/// explicit parameter always wins over the hint. The resolved values are what the detector runs
/// with and what the output's `parameters` show, followed by `spot_size` itself; rerunning with
/// those parameters gives the same peaks. The rules per detector: docs/cli.md ("--spot-size").
public enum DetectionHints {
    /// The name of the spot-size hint (`-p spot_size=`, Python `spot_size=`, JSON `parameters`).
    public static let spotSizeName = "spot_size"

    /// The hint's description: a real number of pixels; 0.25 px (a spot much smaller than a
    /// pixel has no scale to find) up to 1e5 px. Whether it fits the image is checked once the
    /// image is known (`checkSpotSize`).
    public static let spotSizeSpec = ParameterSpec(
        name: spotSizeName, kind: .real, defaultValue: .auto, range: 0.25...100_000, allowsAuto: true, unit: "px",
        help: "Hint: the Gaussian sigma in pixels of a typical spot. Every detector sets its own scale parameters from it (those not given); auto = no hint, the detector's defaults (measured from the image where they are auto).")

    /// The largest spot sigma an image of this size can hold: a spot's disc of radius 2 sigma
    /// (95% of a Gaussian's flux within 2.45 sigma, 86% within 2) must fit in half the smaller
    /// side, so sigma <= min(width, height) / 4.
    public static func largestSpotSize(width: Int, height: Int) -> Double {
        Double(min(width, height)) / 4
    }

    /// Refuses a spot size the image cannot hold (see `largestSpotSize`).
    public static func checkSpotSize(_ sigma: Double, width: Int, height: Int) throws {
        let limit = largestSpotSize(width: width, height: height)
        guard sigma <= limit else {
            throw PeaksError.invalidParameter(
                name: spotSizeName,
                reason: "\(NumberFormat.string(sigma)) px does not fit the \(width)x\(height) image (a spot of sigma s needs a disc of radius 2 s within half the smaller side: at most \(NumberFormat.string(limit)) px)")
        }
    }

    /// The spot-size hint of resolved parameters, if one was given.
    public static func spotSize(in parameters: ParameterSet) -> Double? {
        parameters[spotSizeName]?.number
    }
}

extension PeakDetector {
    /// Checks `given` against the detector's parameters, filling in defaults; a `spot_size` hint
    /// among them sets the parameters `parameters(forSpotSize:given:)` derives from it that
    /// `given` does not hold, and is kept as the last entry of the result.
    public func resolveParameters(_ given: [String: ParameterValue]) throws -> ParameterSet {
        var given = given
        let hint = try given.removeValue(forKey: DetectionHints.spotSizeName).map { try DetectionHints.spotSizeSpec.validate($0) }
        guard let hint, let sigma = hint.number else {
            return try ParameterSet(specs: allParameterSpecs, given: given, detectorName: name)
        }
        // Check the given values first: a mistake in them is reported as such, not as a
        // consequence of the hint.
        _ = try ParameterSet(specs: allParameterSpecs, given: given, detectorName: name)
        for (key, value) in parameters(forSpotSize: sigma, given: given) where given[key] == nil {
            given[key] = value
        }
        var set = try ParameterSet(specs: allParameterSpecs, given: given, detectorName: name)
        set.append(DetectionHints.spotSizeName, .real(sigma))
        return set
    }

    /// The parameter specs a caller may give by name: the detector's own, the shared
    /// post-processing ones, and the hints (`spot_size`).
    public var acceptedParameterSpecs: [ParameterSpec] { allParameterSpecs + [DetectionHints.spotSizeSpec] }
}
