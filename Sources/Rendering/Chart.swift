import CCairo
import PeakKit

/// One histogram of a `HistogramChart`: counts of equal bins over [lower, upper].
public struct HistogramPanel: Sendable, Equatable {
    public var title: String
    public var counts: [Double]
    public var lower: Double
    public var upper: Double
    /// A horizontal reference line (for example the count every bin would have if the values
    /// were uniform), drawn dashed; nil = none.
    public var reference: Double?

    public init(title: String, counts: [Double], lower: Double, upper: Double, reference: Double? = nil) {
        self.title = title
        self.counts = counts
        self.lower = lower
        self.upper = upper
        self.reference = reference
    }

    /// The histogram of `values` in `bins` equal bins over [lower, upper) (values outside are
    /// left out; `upper` itself goes into the last bin).
    public init(title: String, values: [Double], bins: Int, lower: Double, upper: Double, reference: Double? = nil) {
        var counts = [Double](repeating: 0, count: max(1, bins))
        let width = (upper - lower) / Double(counts.count)
        for v in values where v >= lower && v <= upper && width > 0 {
            counts[min(counts.count - 1, Int((v - lower) / width))] += 1
        }
        self.init(title: title, counts: counts, lower: lower, upper: upper, reference: reference)
    }
}

/// A minimal chart for the documentation: histograms side by side (in rows of `columns`), each
/// with its title, bars, an optional dashed reference line, the x range at the ends of its axis
/// and the largest count at the top. PNG bytes; same inputs give the same bytes.
public enum HistogramChart {
    public static func png(
        title: String, panels: [HistogramPanel], columns: Int = 3, panelWidth: Int = 300, panelHeight: Int = 200
    ) throws -> [UInt8] {
        guard !panels.isEmpty, columns >= 1, panelWidth >= 80, panelHeight >= 80 else {
            throw PeaksError.invalidParameter(name: "chart", reason: "needs at least one panel and panels of at least 80x80")
        }
        let titleHeight = 30
        let rows = (panels.count + columns - 1) / columns
        let width = columns * panelWidth, height = titleHeight + rows * panelHeight
        let surface = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: width, height: height, "chart")
        defer { cairo_surface_destroy(surface) }
        let cr = try Cairo.context(surface, "chart")
        defer { cairo_destroy(cr) }
        Cairo.useTextFont(cr)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        cairo_set_font_size(cr, 15)
        cairo_move_to(cr, 10, 20)
        cairo_show_text(cr, title)

        for (k, panel) in panels.enumerated() {
            let ox = Double((k % columns) * panelWidth), oy = Double(titleHeight + (k / columns) * panelHeight)
            let left = ox + 40, right = ox + Double(panelWidth) - 12
            let top = oy + 26, bottom = oy + Double(panelHeight) - 24
            let maximum = max(panel.counts.max() ?? 0, panel.reference ?? 0, 1) * 1.05
            let n = panel.counts.count
            let barWidth = (right - left) / Double(n)
            // Bars.
            cairo_set_source_rgb(cr, 0.27, 0.51, 0.71)
            for (i, c) in panel.counts.enumerated() where c > 0 && c.isFinite {
                let h = (bottom - top) * c / maximum
                cairo_rectangle(cr, left + Double(i) * barWidth + 0.5, bottom - h, max(0.5, barWidth - 1), h)
            }
            cairo_fill(cr)
            // Reference line.
            if let r = panel.reference, r.isFinite {
                let y = bottom - (bottom - top) * r / maximum
                cairo_set_source_rgb(cr, 0.8, 0.15, 0.15)
                cairo_set_line_width(cr, 1.5)
                var dashes: [Double] = [5, 4]
                cairo_set_dash(cr, &dashes, 2, 0)
                cairo_move_to(cr, left, y)
                cairo_line_to(cr, right, y)
                cairo_stroke(cr)
                cairo_set_dash(cr, nil, 0, 0)
            }
            // Axes.
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
            cairo_set_line_width(cr, 1)
            cairo_move_to(cr, left, top)
            cairo_line_to(cr, left, bottom)
            cairo_line_to(cr, right, bottom)
            cairo_stroke(cr)
            // Labels.
            cairo_set_font_size(cr, 13)
            cairo_move_to(cr, left, oy + 18)
            cairo_show_text(cr, panel.title)
            cairo_set_font_size(cr, 10)
            func label(_ text: String, x: Double, y: Double, centred: Bool) {
                var ext = cairo_text_extents_t()
                cairo_text_extents(cr, text, &ext)
                cairo_move_to(cr, centred ? x - ext.x_advance / 2 : x - ext.x_advance, y)
                cairo_show_text(cr, text)
            }
            label(NumberFormat.string(panel.lower), x: left, y: bottom + 14, centred: true)
            label(NumberFormat.string(panel.upper), x: right, y: bottom + 14, centred: true)
            label(NumberFormat.string((panel.lower + panel.upper) / 2), x: (left + right) / 2, y: bottom + 14, centred: true)
            label(String(Int((maximum / 1.05).rounded())), x: left - 4, y: top + 8, centred: false)
            label("0", x: left - 4, y: bottom, centred: false)
        }
        return try Cairo.pngBytes(surface)
    }
}
