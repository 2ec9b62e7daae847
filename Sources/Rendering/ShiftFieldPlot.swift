import CCairo
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

/// One arrow of a vector-field picture: from (x, y) along (dx, dy), in image pixels.
public struct FieldArrow: Sendable, Equatable {
    public var x: Double, y: Double, dx: Double, dy: Double
    public init(x: Double, y: Double, dx: Double, dy: Double) {
        self.x = x; self.y = y; self.dx = dx; self.dy = dy
    }
}

/// A picture of a shift field: the image in grey (as `Overlay`), one arrow per vector, scaled by
/// `scale` (image pixels of arrow per pixel of shift), and a title. Arrows with non-finite parts
/// are drawn as a small cross. Same inputs give identical bytes.
public enum ShiftFieldPlot {
    public static func png(
        image: Image, arrows: [FieldArrow], scale: Double, title: String,
        stretch: Stretch = .auto, options: OverlayOptions = .init()
    ) throws -> [UInt8] {
        guard scale.isFinite, scale > 0 else {
            throw PeaksError.invalidParameter(name: "scale", reason: "must be a positive number, got \(scale)")
        }
        let layout = try OverlayLayout(imageWidth: image.width, imageHeight: image.height, options: options)
        let (canvas, cr) = try Overlay.imageCanvas(image: image, mask: nil, stretch: stretch, layout: layout, options: options, "shift field")
        defer { cairo_surface_destroy(canvas); cairo_destroy(cr) }

        cairo_save(cr)
        cairo_rectangle(cr, Double(layout.originX), Double(layout.originY), Double(layout.scaledWidth), Double(layout.scaledHeight))
        cairo_clip(cr)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND)
        for a in arrows where a.x.isFinite && a.y.isFinite {
            let p = layout.screenPoint(x: a.x, y: a.y)
            if a.dx.isFinite && a.dy.isFinite {
                let q = layout.screenPoint(x: a.x + a.dx * scale, y: a.y + a.dy * scale)
                for pass in 0..<2 {
                    (pass == 0 ? options.outlineColour : options.markerColour).set(on: cr)
                    cairo_set_line_width(cr, options.markerLineWidth + (pass == 0 ? 2 * options.outlineWidth : 0))
                    cairo_new_path(cr)
                    cairo_move_to(cr, p.x, p.y)
                    cairo_line_to(cr, q.x, q.y)
                    let len = hypot(q.x - p.x, q.y - p.y)
                    if len > 1 {
                        let ux = (q.x - p.x) / len, uy = (q.y - p.y) / len
                        let head = min(8, 0.4 * len)
                        cairo_move_to(cr, q.x - head * (ux - 0.5 * uy), q.y - head * (uy + 0.5 * ux))
                        cairo_line_to(cr, q.x, q.y)
                        cairo_line_to(cr, q.x - head * (ux + 0.5 * uy), q.y - head * (uy - 0.5 * ux))
                    }
                    cairo_stroke(cr)
                }
                cairo_arc(cr, p.x, p.y, options.centreDotRadius, 0, 2 * Double.pi)
                cairo_fill(cr)
            } else {
                Colour(red: 1, green: 0.2, blue: 0.2).set(on: cr)
                cairo_set_line_width(cr, options.markerLineWidth)
                cairo_move_to(cr, p.x - 3, p.y - 3); cairo_line_to(cr, p.x + 3, p.y + 3)
                cairo_move_to(cr, p.x - 3, p.y + 3); cairo_line_to(cr, p.x + 3, p.y - 3)
                cairo_stroke(cr)
            }
        }
        cairo_restore(cr)
        if layout.titleBarHeight > 0 { Overlay.drawTitle(cr, title, layout: layout, options: options) }
        try Cairo.check(cairo_status(cr), "shift field drawing")
        return try Cairo.pngBytes(canvas)
    }
}
