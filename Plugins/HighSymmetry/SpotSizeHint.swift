import PeakKit

extension HighSymmetryDetector {
    /// `--spot-size SIGMA_PX` (docs/algorithms/high-symmetry.md, "Spot-size hint"): the spot
    /// scale sets the two windows that act on single spots: `refine_sigma` = the hint (the
    /// Gaussian-windowed centroid's window matched to the spot, capped at 100 px), and
    /// `erosion_radius` = min(its default 2 px, the hint): the opening removes specks narrower
    /// than the spots but never a spot itself (a spot's region above half its peak has a radius
    /// of about 1.18 sigma). The background division (`background_sigma`) and the centre search
    /// are pattern scales, not spot scales, and do not change.
    public func parameters(forSpotSize sigma: Double, given: [String: ParameterValue]) -> [String: ParameterValue] {
        ["refine_sigma": .real(min(sigma, 100)), "erosion_radius": .real(min(Settings().erosionRadius, sigma))]
    }
}
