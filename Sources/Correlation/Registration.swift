import Filters
import PeakKit

/// The result of registering MOVING against REFERENCE.
///
/// Sign convention (everywhere in peaks): `dx`, `dy` are the shift that, applied to MOVING,
/// aligns it with REFERENCE: moving(x - dx, y - dy) ~ reference(x, y). A feature at (x, y) in the
/// reference is found at (x - dx, y - dy) in the moving image. `(row, col)` = (dy, dx).
public struct Registration: Sendable, Equatable {
    public var dx: Double
    public var dy: Double
    /// The whole-pixel shift the subpixel refinement started from.
    public var pixelDX: Int
    public var pixelDY: Int
    /// Masked NCC: the correlation at the (refined) peak, in [-1, 1]. Phase correlation: nil.
    public var peakCorrelation: Double?
    /// Phase correlation: the translation-invariant normalised RMS error
    /// sqrt(1 - |CC_max|^2 / (sum |F_ref|^2 sum |F_mov|^2)) of Guizar-Sicairos et al.; masked: nil.
    public var error: Double?
    /// Phase correlation: the global phase difference arg(CC_max) in radians (0 or pi for real
    /// images up to rounding); masked: nil.
    public var phaseDifference: Double?
    /// True when the subpixel fit fell back to the whole pixel.
    public var subpixelFellBack: Bool

    public init(dx: Double, dy: Double, pixelDX: Int, pixelDY: Int, peakCorrelation: Double? = nil,
                error: Double? = nil, phaseDifference: Double? = nil, subpixelFellBack: Bool = false) {
        self.dx = dx
        self.dy = dy
        self.pixelDX = pixelDX
        self.pixelDY = pixelDY
        self.peakCorrelation = peakCorrelation
        self.error = error
        self.phaseDifference = phaseDifference
        self.subpixelFellBack = subpixelFellBack
    }

    /// (row, col) = (dy, dx).
    public var rowCol: (row: Double, col: Double) { (dy, dx) }
}

extension MaskedNCC {
    /// Masked registration: the lag of the largest masked NCC (full mode), refined between pixels
    /// by `subpixel` on the 3 x 3 values around it (scikit-image stops at the whole pixel).
    /// The masked NCC's lag d (reference(x) ~ moving(x - d)) is directly the shift to apply to
    /// MOVING. Throws `PeaksError` as `correlate` does, and when no lag has enough overlap.
    public static func register(
        reference: Image, moving: Image, referenceMask: Mask? = nil, movingMask: Mask? = nil,
        overlapRatio: Double = 0.3, subpixel: PeakFitMethod = .polyFit
    ) throws -> Registration {
        let map = try correlate(fixed: reference, fixedMask: referenceMask, moving: moving, movingMask: movingMask,
                                mode: .full, overlapRatio: overlapRatio)
        guard let best = map.argmax(), best.value > 0 else {
            throw PeaksError.invalidImage(reason: "masked registration: no overlap with positive correlation (flat images or masks that do not overlap)")
        }
        let fit = SubpixelRefinement.surfacePeak(map.values, width: map.width, height: map.height, col: best.col, row: best.row, method: subpixel)
        return Registration(
            dx: fit.col + Double(map.originX), dy: fit.row + Double(map.originY),
            pixelDX: best.col + map.originX, pixelDY: best.row + map.originY,
            peakCorrelation: min(1, fit.value), subpixelFellBack: fit.fellBack)
    }
}
