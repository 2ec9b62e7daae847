import CCairo
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PeakKit

/// Shift maps of a 4-D scan, as in LiberTEM-blobfinder's upsampling notebook: the X and Y shift
/// of every scan position as a picture over the scan (a diverging blue-white-red colour map,
/// symmetric about 0, with a colour bar), and a histogram of the positions' subpixel fractions
/// (x - round(x), y - round(y)): flat for unbiased subpixel estimates, piled up at 0 for
/// pixel-locked ones. Same inputs give identical bytes.
public enum ShiftMap {
    /// matplotlib's `bwr`: blue (-1) - white (0) - red (+1).
    static func bwr(_ t: Double) -> (Double, Double, Double) {
        let u = min(max(t, -1), 1)
        return u < 0 ? (1 + u, 1 + u, 1) : (1, 1 - u, 1 - u)
    }

    /// - Parameters:
    ///   - scanWidth, scanHeight: The scan grid; `dx`, `dy`, `x`, `y` hold scanWidth * scanHeight
    ///     values in frame order (NaN = no value: grey).
    ///   - dx, dy: The shifts shown in the two maps.
    ///   - x, y: The positions whose subpixel fractions are histogrammed (nil: of dx, dy).
    ///   - title: One line above the maps.
    public static func png(
        scanWidth sw: Int, scanHeight sh: Int, dx: [Double], dy: [Double], x: [Double]? = nil, y: [Double]? = nil, title: String
    ) throws -> [UInt8] {
        let n = sw * sh
        guard sw >= 1, sh >= 1, dx.count == n, dy.count == n, (x?.count ?? n) == n, (y?.count ?? n) == n else {
            throw PeaksError.invalidParameter(name: "shift-map", reason: "needs one shift per scan position (\(sw)x\(sh))")
        }
        // Cell size: maps at least 360 px wide, cells square, at most 24 px.
        let cell = max(1, min(24, 360 / sw, max(1, 240 / sh)))
        let mapW = sw * cell, mapH = sh * cell
        let margin = 12, titleH = 30, labelH = 20, barW = 16, barGap = 10, barLabels = 60
        let panelW = mapW + barGap + barW + barLabels
        let histH = 180
        let width = max(2 * panelW + 3 * margin, 2 * 300)
        let height = titleH + labelH + mapH + margin + labelH + histH + margin
        let surface = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: width, height: height, "shift map")
        defer { cairo_surface_destroy(surface) }
        let cr = try Cairo.context(surface, "shift map")
        defer { cairo_destroy(cr) }
        Cairo.useTextFont(cr)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        cairo_set_font_size(cr, 14)
        cairo_move_to(cr, 10, 20)
        cairo_show_text(cr, title)

        func text(_ s: String, _ px: Double, _ py: Double, size: Double = 11) {
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
            cairo_set_font_size(cr, size)
            cairo_move_to(cr, px, py)
            cairo_show_text(cr, s)
        }
        for (k, (name, values)) in [("X-shift (px)", dx), ("Y-shift (px)", dy)].enumerated() {
            let ox = Double(margin + k * (panelW + margin)), oy = Double(titleH + labelH)
            let finite = values.filter(\.isFinite)
            let limit = max(finite.map(abs).max() ?? 0, 1e-12)
            text(name + ", |max| " + NumberFormat.string((limit * 1000).rounded() / 1000), ox, oy - 6, size: 12)
            for i in 0..<n {
                let v = values[i]
                if v.isFinite {
                    let (r, g, b) = bwr(v / limit)
                    cairo_set_source_rgb(cr, r, g, b)
                } else {
                    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6)
                }
                cairo_rectangle(cr, ox + Double((i % sw) * cell), oy + Double((i / sw) * cell), Double(cell), Double(cell))
                cairo_fill(cr)
            }
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
            cairo_set_line_width(cr, 1)
            cairo_rectangle(cr, ox + 0.5, oy + 0.5, Double(mapW) - 1, Double(mapH) - 1)
            cairo_stroke(cr)
            // Colour bar: +limit at the top, -limit at the bottom.
            let bx = ox + Double(mapW + barGap)
            let steps = max(2, mapH)
            for j in 0..<steps {
                let t = 1 - 2 * (Double(j) + 0.5) / Double(steps)
                let (r, g, b) = bwr(t)
                cairo_set_source_rgb(cr, r, g, b)
                cairo_rectangle(cr, bx, oy + Double(j) * Double(mapH) / Double(steps), Double(barW), Double(mapH) / Double(steps) + 0.5)
                cairo_fill(cr)
            }
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
            cairo_rectangle(cr, bx + 0.5, oy + 0.5, Double(barW) - 1, Double(mapH) - 1)
            cairo_stroke(cr)
            let fmt = { (v: Double) in NumberFormat.string((v * 1000).rounded() / 1000) }
            text(fmt(limit), bx + Double(barW) + 4, oy + 10, size: 10)
            text("0", bx + Double(barW) + 4, oy + Double(mapH) / 2 + 4, size: 10)
            text(fmt(-limit), bx + Double(barW) + 4, oy + Double(mapH), size: 10)
        }

        // Histogram of subpixel fractions of x and y, 20 bins over [-0.5, 0.5).
        let bins = 20
        var counts = [[Double]](repeating: [Double](repeating: 0, count: bins), count: 2)
        for (k, values) in [x ?? dx, y ?? dy].enumerated() {
            for v in values where v.isFinite {
                var f = v - v.rounded()
                if f >= 0.5 { f -= 1 }
                let b = min(bins - 1, max(0, Int(((f + 0.5) * Double(bins)).rounded(.down))))
                counts[k][b] += 1
            }
        }
        let hx = Double(margin + 40), hy = Double(titleH + labelH + mapH + margin + labelH)
        let hw = Double(width - 2 * margin - 60), hh = Double(histH - 24)
        text("subpixel fractions (x: blue, y: orange): flat = no pixel locking", hx, hy - 6, size: 12)
        let top = max(counts[0].max() ?? 1, counts[1].max() ?? 1, 1) * 1.05
        let bw = hw / Double(bins)
        for (k, colour) in [(0, (0.27, 0.51, 0.71)), (1, (0.95, 0.55, 0.15))] {
            cairo_set_source_rgba(cr, colour.0, colour.1, colour.2, 0.75)
            for b in 0..<bins where counts[k][b] > 0 {
                let h = hh * counts[k][b] / top
                cairo_rectangle(cr, hx + Double(b) * bw + (k == 0 ? 1 : bw / 2), hy + hh - h, bw / 2 - 1, h)
            }
            cairo_fill(cr)
        }
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
        cairo_set_line_width(cr, 1)
        cairo_move_to(cr, hx, hy)
        cairo_line_to(cr, hx, hy + hh)
        cairo_line_to(cr, hx + hw, hy + hh)
        cairo_stroke(cr)
        text("-0.5", hx - 10, hy + hh + 14, size: 10)
        text("0", hx + hw / 2 - 3, hy + hh + 14, size: 10)
        text("0.5", hx + hw - 8, hy + hh + 14, size: 10)
        text(String(Int((top / 1.05).rounded())), hx - 34, hy + 10, size: 10)
        return try Cairo.pngBytes(surface)
    }
}
