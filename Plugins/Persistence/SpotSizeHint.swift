import PeakKit

extension PersistenceDetector {
    /// `--spot-size SIGMA_PX` (docs/cli.md, docs/algorithms/persistence.md "Spot scale"): the
    /// smoothing scale `smooth = sigma / sqrt(2)` (capped at the parameter's 1000 px), in place of
    /// the scale `smooth=auto` measures from the image (ContentScale); a given `smooth` wins.
    ///
    /// Why not `smooth = sigma`, the matched filter of an isolated Gaussian spot (the rule until
    /// session 26): smoothing widens every spot to sqrt(sigma^2 + s^2), and two spots closer than
    /// twice that merge into one summit. At s = sigma they merge below 2.83 sigma, at sigma / sqrt(2)
    /// below 2.45 sigma, for 94% of the matched filter's signal-to-noise ratio (sigma^2 s /
    /// (sigma^2 + s^2), largest at s = sigma); the band-pass background, 4 s, comes to 2.83 sigma.
    /// Dense objects (atomic columns, nuclei) are where this decides: given the true sigma, the
    /// old rule found 118 of ABF's 221 columns (F1 0.69, 0.99 now) and 65 of the 112 nuclei
    /// (0.71, 0.81 now). Everything that follows the smoothing scale (the band-pass
    /// background 4 x smooth, the noise measured on the band-passed image, the refinement and the
    /// position fit) follows it, exactly as with `-p smooth=SIGMA_PX/sqrt(2)`. The price is in the
    /// positions of isolated spots, fitted in the narrower window max(2, ceil(2 smooth)): 0.05-0.2
    /// px further from the corpus's consensus truths (fitted in 2 sigma windows) than with the
    /// old rule; a fit at the hint's sigma pulled ABF's fits onto neighbouring columns.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        ["smooth": .real(min(sigma * Self.smoothPerSpotSigma, 1000))]
    }

    /// The smoothing scale per px of spot sigma that the spot-size hint sets: 1 / sqrt(2).
    public static let smoothPerSpotSigma = 0.5.squareRoot()
}
