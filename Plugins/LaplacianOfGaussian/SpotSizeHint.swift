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
    /// taken around the hint, from one step of `k` below it to 2 x hint: `sigma` (the first scale)
    /// = hint / k, but never below the default first scale (1.41 px), and `max_power` = the
    /// number of steps of `k` that reach 2 x hint (a tenth of a step short counts as reached),
    /// plus one, and at least 3 (the detection statistic of a blob at the first scale looks up
    /// to two steps above it; a hint of 1 px gives 1.41, 1.99, 2.8). Above the floor the hint's
    /// own scale has a scale on each side (a spot of that sigma is an interior maximum of the
    /// scale space), and the detection statistic (own scale and up to twice it) still sees the
    /// scales above it. The floor is the default's, for the default's reason
    /// ("Why the scales start at 1.41"): below it pixel-level artefacts pass the factor, and for
    /// any spot of sigma >= 0.68 px the response-to-noise ratio is higher at 1.41. Until session
    /// 26 the range began at hint / 2 (at least 0.3 px), and the true sigma of the corpus's
    /// star fields put scales of 0.5-0.7 px in it: 34 false blobs on astro-dss (F1 0.60 against
    /// 1.00 without the hint). A given `sigma` is the first scale as given (`max_power` then still
    /// reaches 2 x hint from it); a given `k` sets the step.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        let defaults = Settings()
        let k = given["k"]?.number ?? defaults.k
        let first = given["sigma"]?.number ?? max(defaults.sigma, sigma / k)
        let top = 2 * sigma
        let steps = top > first ? Int((log(top / first) / log(k) - 0.1).rounded(.up)) : 0
        return ["sigma": .real(min(first, 1000)), "max_power": .integer(min(64, max(3, steps + 1)))]
    }
}
