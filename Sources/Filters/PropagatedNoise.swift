#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// When the noise of a filtered image may be taken as the pixel noise times the filter's gain
/// (its L2 norm) instead of the robust spread (1.4826 MAD) of the filtered image itself.
///
/// Dense content (objects covering much of the field) inflates the MAD of a filtered image, and
/// no part of it is then pure noise. When the pixel noise is white its level after a linear
/// filter is known exactly and content does not touch it. Used by persistence (`band_noise`, the
/// band-passed image) and log (`response_noise`, each scale's response); both take the
/// propagated value only where it is the lower of the two. The rule
/// (docs/algorithms/persistence.md, "Dense objects: band_noise"):
/// - the pixel noise is white: `NoiseEstimate.whiteness` <= `NoiseEstimate.whitenessLimit`
///   (1.1) on 2^14 samples (about 1% precision, 1 ms at 512^2);
/// - with `auto`, also resolved by the data: at least `NoiseEstimate.resolvedNoiseSteps` (2)
///   quantisation steps (`NoiseEstimate.quantisationStep`), so not an 8-bit export whose
///   recorded noise is mostly the (white by construction) rounding.
public enum PropagatedNoise {
    /// Which noise of a filtered image the automatic threshold uses (a detector setting).
    public enum Choice: String, SettingChoice {
        /// `propagated` when the pixel noise is white and resolved by the data (at least
        /// `NoiseEstimate.resolvedNoiseSteps` quantisation steps), else `mad`.
        case auto
        /// 1.4826 MAD of the filtered image (lattice-aware): right for correlated noise,
        /// inflated where objects cover much of the field.
        case mad
        /// When the pixel noise is white (`NoiseEstimate.whiteness`): the pixel noise times the
        /// filter's gain, scaled by the local pixel noise, where that is below the MAD; else the
        /// MAD. For dense extended objects in white noise (fluorescence nuclei).
        case propagated
    }

    /// The decision and what it measured (for the diagnostics).
    public struct Decision: Sendable, Equatable {
        /// True when the propagated noise may be used.
        public var propagate: Bool
        public var whiteness: Double?
        public var quantisationStep: Double?
        /// Why, in words.
        public var rule: String
    }

    /// Decides for `choice` (not `.mad`, which needs no decision).
    ///
    /// - Parameters:
    ///   - source: The image the filter sees (for noise=poisson the Anscombe transform).
    ///   - image: The image as recorded (its quantisation grid).
    ///   - pixelNoise: The pixel noise of `image` in its own units.
    public static func decide(_ choice: Choice, source: Image, image: Image, mask: Mask, pixelNoise: Double) -> Decision {
        let whiteness = NoiseEstimate.whiteness(source, mask: mask, maxSamples: 1 << 14)
        let white = (whiteness ?? .infinity) <= NoiseEstimate.whitenessLimit
        switch choice {
        case .mad:
            return Decision(propagate: false, whiteness: whiteness, quantisationStep: nil, rule: "mad")
        case .propagated:
            return Decision(propagate: white, whiteness: whiteness, quantisationStep: nil,
                            rule: white ? "propagated (given)" : "propagated (given), pixel noise not white: mad")
        case .auto:
            guard white else {
                return Decision(propagate: false, whiteness: whiteness, quantisationStep: nil, rule: "auto: pixel noise not white: mad")
            }
            let step = NoiseEstimate.quantisationStep(image, mask: mask)
            let steps = step > 0 ? pixelNoise / step : .infinity
            let resolved = steps >= NoiseEstimate.resolvedNoiseSteps
            let said = step > 0 ? "\(NumberFormat.string((steps * 10).rounded() / 10)) quantisation steps" : "continuous values"
            return Decision(propagate: resolved, whiteness: whiteness, quantisationStep: step,
                            rule: resolved ? "auto: white pixel noise, resolved (\(said)): propagated"
                                : "auto: white, but the pixel noise is \(said) (< \(NumberFormat.string(NoiseEstimate.resolvedNoiseSteps))): mad")
        }
    }
}
