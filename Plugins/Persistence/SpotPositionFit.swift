import Filters
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// `refine=fit`: each peak's position from a least-squares fit of the image itself.
///
/// The log-parabola through the 3 x 3 cross of G(s) * I is fast, but it interpolates a smoothed
/// image between pixels, and on Golden/real it sat 0.02-0.3 px from the truths' Gaussian fits
/// (telomeres 0.12 px against photutils' 0.07). A fit of the raw pixels is the standard
/// localisation of a spot (Thompson, Larson & Webb, Biophys. J. 82:2775, 2002; Mortensen et al.,
/// Nat. Methods 7:377, 2010) and comes close to the Cramer-Rao bound on white noise
/// (docs/algorithms/log.md). Model: `GaussianSpotFit`, a pixel-integrated isotropic Gaussian on a
/// plane (x, y, sigma, amplitude, background and its two slopes), by Levenberg-Marquardt.
///
/// Each peak is fitted alone over the square window of half-width max(2, ceil(2 s)) around its
/// log-parabola position (s = the detector's smoothing sigma, the measured spot scale; it is also
/// the first guess of the spot's sigma), masked pixels left out. The fit is kept when it ends on a
/// bright spot (amplitude > 0) within max(1, s) px of the start along each axis, with a sigma in
/// [0.3 s, 3 s], and its centre's pixel is in the frame and valid; otherwise (the window holds no
/// spot shape, fewer than 15 usable pixels, the iteration fails) the log-parabola position stays.
/// A fit that ends on a bright spot farther than max(1, s) px from the start along an axis *ran
/// away* (reported in `ranAway`): the summit is then on a ridge, a rim or a brighter neighbour's
/// flank, not on a spot of its own, and the detector drops it. The acceptance rules are those of
/// the Gaussian fits that built the Golden/real truths (Benchmarks/reference/real_common.py);
/// their model differs in two details: it samples the Gaussian at pixel centres (ours integrates
/// it over each pixel) and asks for at least 9 pixels (ours 3 per unknown, 15).
enum SpotPositionFit {
    /// The fitted positions, one per start (nil where the fit was not kept), whether each fit ran
    /// away, and the iterations spent, computed in parallel (each fit reads only the image: the
    /// result does not depend on the thread count).
    static func refine(_ starts: [(x: Double, y: Double)], in image: Image, mask: Mask, sigma s: Double) -> (positions: [(x: Double, y: Double)?], ranAway: [Bool], iterations: Int) {
        guard s > 0, s.isFinite, !starts.isEmpty else { return (starts.map { _ in nil }, starts.map { _ in false }, 0) }
        let halfWidth = max(2, Int((2 * s).rounded(.up)))
        let reach = max(1, s)
        var out = [(x: Double, y: Double)?](repeating: nil, count: starts.count)
        var iterations = [Int](repeating: 0, count: starts.count)
        var away = [Bool](repeating: false, count: starts.count)
        let w = image.width, h = image.height
        out.withUnsafeMutableBufferPointer { results in iterations.withUnsafeMutableBufferPointer { counts in away.withUnsafeMutableBufferPointer { awayBuffer in
            let shared = SharedPointer(results.baseAddress!), steps = SharedPointer(counts.baseAddress!)
            let ran = SharedPointer(awayBuffer.baseAddress!)
            Parallel.forEach(starts.count) { k in
                let start = starts[k]
                guard let f = GaussianSpotFit.fit(image, x: start.x, y: start.y, sigma: s, halfWidth: halfWidth, background: .constant,
                                                  include: { x, y in x >= 0 && y >= 0 && x < w && y < h && mask[x, y] }) else { return }
                steps[k] = f.iterations
                guard f.x.isFinite, f.y.isFinite, f.amplitude > 0 else { return }
                guard abs(f.x - start.x) <= reach, abs(f.y - start.y) <= reach else { ran[k] = true; return }
                guard f.sigma >= 0.3 * s, f.sigma <= 3 * s else { return }
                // A centre beyond the frame or on a masked pixel would be dropped by the shared
                // post-processing (which keeps peaks whose pixel is valid): the spot would be lost
                // for the sake of a position. The log-parabola position stays instead.
                let px = Int(f.x.rounded()), py = Int(f.y.rounded())
                guard px >= 0, py >= 0, px < w, py < h, mask[px, py] else { return }
                shared[k] = (f.x, f.y)
            }
        } } }
        return (out, away, iterations.reduce(0, +))
    }
}
