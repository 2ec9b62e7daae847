/// One detected peak. `x` is the column and `y` the row (0-based; pixel centres at integers),
/// `value` the image value there. Detectors add their own named quantities in `attributes`
/// (for example `prominence`, `saddle_x`, `sigma`), listed in order by `Detection.attributeNames`.
public struct Peak: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var value: Double
    /// The quantity a detector ranks its peaks by (prominence, LoG response, ...); the shared
    /// minimum-distance suppression keeps the peak with the larger strength.
    public var strength: Double
    /// Algorithm-specific quantities, by name.
    public var attributes: [String: Double]

    public init(x: Double, y: Double, value: Double, strength: Double, attributes: [String: Double] = [:]) {
        self.x = x
        self.y = y
        self.value = value
        self.strength = strength
        self.attributes = attributes
    }

    public subscript(_ name: String) -> Double? { attributes[name] }

    /// The pixel this peak lies on (nearest pixel centre).
    public var pixel: (x: Int, y: Int) { (Int((x).rounded()), Int((y).rounded())) }
}

/// A value in a detection's diagnostics or in a parameter listing.
public enum Value: Sendable, Equatable {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case null
}

/// The result of running a detector on an image.
public struct Detection: Sendable, Equatable {
    /// The peaks, in the detector's output order (strongest first, ties by row then column).
    public var peaks: [Peak]
    /// Names of the per-peak attributes, in output order (JSON keys after x, y, value; CSV columns).
    public var attributeNames: [String]
    /// The name of the attribute `Peak.strength` mirrors (for example "prominence").
    public var strengthName: String
    /// Optional blob / region image: label k >= 1 belongs to `peaks[k - 1]`.
    public var labels: LabelImage?
    /// Extra facts about the run (noise estimate, resolved thresholds, counts), in output order.
    public var diagnostics: [(String, Value)]
    /// Draws the blobs of the peaks that survive post-processing (given in output order), for
    /// detectors whose blobs depend on which peaks survive (a suppressed peak's basin joins its
    /// parent's). `PostProcessing` calls it once and clears it.
    public var labelling: (@Sendable (_ kept: [Peak]) -> LabelImage)?

    public init(
        peaks: [Peak], attributeNames: [String], strengthName: String,
        labels: LabelImage? = nil, diagnostics: [(String, Value)] = []
    ) {
        self.peaks = peaks
        self.attributeNames = attributeNames
        self.strengthName = strengthName
        self.labels = labels
        self.diagnostics = diagnostics
    }

    public static func == (a: Detection, b: Detection) -> Bool {
        a.peaks == b.peaks && a.attributeNames == b.attributeNames && a.strengthName == b.strengthName
            && a.labels == b.labels && a.diagnostics.count == b.diagnostics.count
            && zip(a.diagnostics, b.diagnostics).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// The value of one diagnostic, by name.
    public func diagnostic(_ name: String) -> Value? {
        diagnostics.first { $0.0 == name }?.1
    }
}
