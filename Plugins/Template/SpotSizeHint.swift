import PeakKit

extension TemplateDetector {
    /// `--spot-size SIGMA_PX` (docs/algorithms/template.md, "Spot-size hint"): the built-in
    /// templates are sized on the spot: `radius` = 2 x sigma (a disc holding 86% of a Gaussian
    /// spot's flux; also the smallest distance between two peaks and, doubled, the search
    /// window) and `sigma` = the hint (the Gaussian template is the spot itself; with the
    /// default `sigma = radius / 2` this is the same number). Given values win; a file template
    /// has its own size and ignores both.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        ["radius": .real(min(max(2 * sigma, 0.5), 100_000)), "sigma": .real(min(max(sigma, 0.1), 100_000))]
    }
}
