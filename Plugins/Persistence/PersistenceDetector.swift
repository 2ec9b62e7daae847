import PeakKit
import Filters

public struct PersistenceDetector: PeakDetector {
    public init() {}
    public let name = "persistence"
    public let summary = "0-dim persistent homology of superlevel sets"
    public var parameterSpecs: [ParameterSpec] { [] }
    public func findPeaks(in image: Image, mask: Mask, parameters: ParameterSet) throws -> Detection {
        Detection(peaks: [], attributeNames: [], strengthName: "prominence")
    }
}
