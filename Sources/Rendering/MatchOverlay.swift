import CCairo
import PeakKit

/// An overlay that shows how detections matched the truth: true positives, false positives
/// and misses in distinct colours, with a legend bar under the picture.
public enum MatchOverlay {
    /// True positives: a green ring at the detection and a line to its truth peak.
    public static let truePositiveColour = Colour(red: 0.10, green: 0.85, blue: 0.25)
    /// False positives: a red-orange cross at the detection.
    public static let falsePositiveColour = Colour(red: 1.00, green: 0.25, blue: 0.10)
    /// Misses (false negatives): a cyan square at the truth peak.
    public static let missColour = Colour(red: 0.15, green: 0.75, blue: 1.00)
    public static let legendHeight = 26

    /// PNG bytes: the image as `Overlay.png` draws it (same layout, stretch, mask tint and
    /// title), the match markers, and a legend bar with the counts. Coordinates: x = column, y = row, pixel (0, 0)
    /// centred at (0.0, 0.0).
    public static func png(
        image: Image, mask: Mask?,
        truePositives: [(detection: (x: Double, y: Double), truth: (x: Double, y: Double))],
        falsePositives: [(x: Double, y: Double)], misses: [(x: Double, y: Double)],
        title: String, stretch: Stretch = .auto, options: OverlayOptions = .init()
    ) throws -> [UInt8] {
        let layout = try OverlayLayout(imageWidth: image.width, imageHeight: image.height, options: options)
        let (canvas, cr) = try Overlay.imageCanvas(
            image: image, mask: mask, stretch: stretch, layout: layout, options: options,
            extraHeight: legendHeight, "match overlay")
        defer { cairo_surface_destroy(canvas); cairo_destroy(cr) }
        if layout.titleBarHeight > 0 { Overlay.drawTitle(cr, title, layout: layout, options: options) }

        cairo_save(cr)
        cairo_rectangle(cr, Double(layout.originX), Double(layout.originY), Double(layout.scaledWidth), Double(layout.scaledHeight))
        cairo_clip(cr)
        let r = options.markerRadius
        func finite(_ p: (x: Double, y: Double)) -> Bool { p.x.isFinite && p.y.isFinite }
        for m in misses where finite(m) {
            let c = layout.screenPoint(x: m.x, y: m.y)
            outlined(cr, missColour) { cairo_rectangle(cr, c.x - r, c.y - r, 2 * r, 2 * r) }
        }
        for p in truePositives where finite(p.detection) && finite(p.truth) {
            let d = layout.screenPoint(x: p.detection.x, y: p.detection.y), t = layout.screenPoint(x: p.truth.x, y: p.truth.y)
            outlined(cr, truePositiveColour) {
                cairo_move_to(cr, d.x, d.y); cairo_line_to(cr, t.x, t.y)
                cairo_new_sub_path(cr); cairo_arc(cr, d.x, d.y, r, 0, 2 * .pi)
            }
        }
        for f in falsePositives where finite(f) {
            let c = layout.screenPoint(x: f.x, y: f.y)
            let k = r * 0.8
            outlined(cr, falsePositiveColour) {
                cairo_move_to(cr, c.x - k, c.y - k); cairo_line_to(cr, c.x + k, c.y + k)
                cairo_move_to(cr, c.x - k, c.y + k); cairo_line_to(cr, c.x + k, c.y - k)
            }
        }
        cairo_restore(cr)

        // Legend bar.
        Cairo.useTextFont(cr)
        let y = Double(layout.canvasHeight) + Double(legendHeight) / 2
        var x = 10.0
        let entries: [(String, Colour, Int)] = [
            ("true positive \(truePositives.count)", truePositiveColour, 0),
            ("false positive \(falsePositives.count)", falsePositiveColour, 1),
            ("miss \(misses.count)", missColour, 2),
        ]
        for (label, colour, kind) in entries {
            colour.set(on: cr)
            cairo_set_line_width(cr, 2)
            switch kind {
            case 0: cairo_new_path(cr); cairo_arc(cr, x + 6, y, 5, 0, 2 * .pi)
            case 1: cairo_move_to(cr, x + 2, y - 4); cairo_line_to(cr, x + 10, y + 4); cairo_move_to(cr, x + 2, y + 4); cairo_line_to(cr, x + 10, y - 4)
            default: cairo_rectangle(cr, x + 1, y - 5, 10, 10)
            }
            cairo_stroke(cr)
            options.titleColour.set(on: cr)
            Charts.text(cr, label, x: x + 18, y: y + 4, size: 12, align: .left)
            var ext = cairo_text_extents_t()
            cairo_text_extents(cr, label, &ext)
            x += 18 + ext.x_advance + 18
        }
        try Cairo.check(cairo_status(cr), "match overlay drawing")
        return try Cairo.pngBytes(canvas)
    }

    /// Strokes the path `path` draws in `colour` over a dark outline.
    static func outlined(_ cr: OpaquePointer, _ colour: Colour, _ path: () -> Void) {
        cairo_new_path(cr)
        path()
        Colour(red: 0, green: 0, blue: 0, alpha: 0.85).set(on: cr)
        cairo_set_line_width(cr, 3.6)
        cairo_stroke_preserve(cr)
        colour.set(on: cr)
        cairo_set_line_width(cr, 1.6)
        cairo_stroke(cr)
    }
}
