import PeakKit

extension PersistenceDetector {
    /// `--spot-size SIGMA_PX` (docs/cli.md): the hint is the smoothing scale, `smooth = sigma`
    /// (capped at the parameter's 1000 px), in place of the scale `smooth=auto` measures from the
    /// image (ContentScale); a given `smooth` wins. Everything that follows the smoothing scale
    /// (the band-pass background 4 x smooth, the noise measured on the band-passed image, the
    /// refinement's uphill walk) follows the hint with it, exactly as with `-p smooth=SIGMA_PX`.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        ["smooth": .real(min(sigma, 1000))]
    }
}
