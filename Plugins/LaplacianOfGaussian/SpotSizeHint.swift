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
import PeakKit

extension LoGDetector {
    /// `--spot-size SIGMA_PX` (docs/algorithms/log.md, "Spot-size hint"): the scale range is
    /// centred on the hint, from sigma / 2 to 2 sigma in steps of `k`: `sigma` (the first scale)
    /// = hint / 2 (at least 0.3 px), `max_power` = the number of steps of `k` that reach 2 x hint
    /// (a tenth of a step short counts as reached). A spot within a factor 2 of the hint is then
    /// an interior maximum of the scale space, and the detection statistic (own scale and up to
    /// twice it) still sees two scales above the hint. A given `sigma` is the first scale as
    /// given (`max_power` then still reaches 2 x hint from it); a given `k` sets the step.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        let defaults = Settings()
        let k = given["k"]?.number ?? defaults.k
        let first = given["sigma"]?.number ?? max(0.3, sigma / 2)
        let top = 2 * sigma
        let steps = top > first ? Int((log(top / first) / log(k) - 0.1).rounded(.up)) : 0
        return ["sigma": .real(min(first, 1000)), "max_power": .integer(min(64, max(1, steps + 1)))]
    }
}
