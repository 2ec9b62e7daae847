import PeakKit

/// Subpixel refinement of any detector's peaks (`peaks detect --refine METHOD`): each peak is
/// moved to `SubpixelRefinement.refine` of the image around its nearest pixel.
///
/// - Peaks with a negative `polarity` attribute (dark blobs of the `log` detector) are refined on
///   the negated image, so their minimum is located.
/// - A peak keeps its detector position (and is counted as a fallback) when the method falls
///   back (`SubpixelOutcome`), when its window holds an invalid pixel of the mask (`masked`), or
///   when the refined position's nearest pixel is invalid (`masked`).
/// - The detector's position is kept in the attributes `detector_x`, `detector_y`, and
///   `refined` is 1 for a refined peak and 0 for a fallback. Diagnostics gain `refine`,
///   `refine_size`, `refined` and `refine_fallbacks` (reasons with counts).
///
/// Refinement runs after the shared post-processing: `min_dist` and `exclude_border` were
/// applied to the detector's positions. Blob labels are left as the detector made them.
public enum PeakRefinement {
    public static func apply(
        to detection: Detection, image: Image, mask: Mask?, method: SubpixelMethod, size: Int = 3
    ) -> Detection {
        let w = image.width, h = image.height
        var negated: Image? = nil
        var out = detection
        var fallbacks: [String: Int] = [:]
        var refinedCount = 0
        let half = method == .com || method == .quadratic ? max(1, max(3, size) / 2) : 1
        for (k, p) in detection.peaks.enumerated() {
            var q = p
            q.attributes["detector_x"] = p.x
            q.attributes["detector_y"] = p.y
            q.attributes["refined"] = 0
            defer { out.peaks[k] = q }
            let (px, py) = p.pixel
            guard px >= 0, py >= 0, px < w, py < h else { fallbacks["outOfImage", default: 0] += 1; continue }
            if let mask {
                var clean = true
                for y in max(0, py - half)...min(h - 1, py + half) {
                    for x in max(0, px - half)...min(w - 1, px + half) where !mask[x, y] { clean = false }
                }
                if !clean { fallbacks["masked", default: 0] += 1; continue }
            }
            let source: Image
            if (p["polarity"] ?? 1) < 0 {
                if negated == nil { var n = image; n.pixels = image.pixels.map { -$0 }; negated = n }
                source = negated ?? image
            } else {
                source = image
            }
            let r = SubpixelRefinement.refine(image: source, x: px, y: py, method: method, size: size)
            guard !r.fellBack else { fallbacks[r.outcome.rawValue, default: 0] += 1; continue }
            let nx = Int(r.x.rounded()), ny = Int(r.y.rounded())
            guard nx >= 0, ny >= 0, nx < w, ny < h, mask.map({ $0[nx, ny] }) ?? true else {
                fallbacks["masked", default: 0] += 1; continue
            }
            q.x = r.x
            q.y = r.y
            q.attributes["refined"] = 1
            refinedCount += 1
        }
        for name in ["detector_x", "detector_y", "refined"] where !out.attributeNames.contains(name) {
            out.attributeNames.append(name)
        }
        let reasons = fallbacks.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        out.diagnostics += [
            ("refine", .string(method.rawValue)),
            ("refine_size", .integer(method == .com || method == .quadratic ? 2 * half + 1 : 3)),
            ("refined", .integer(refinedCount)),
            ("refine_fallbacks", .string(reasons)),
        ]
        return out
    }
}
