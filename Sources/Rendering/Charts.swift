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

/// One line of a line chart, with optional highlighted points.
public struct ChartLine: Sendable {
    public var name: String
    /// Points in data units, drawn in order.
    public var points: [(x: Double, y: Double)]
    /// Highlighted points: a filled circle (`filled`) or a ring, each with a short label.
    public var markers: [(x: Double, y: Double, label: String, filled: Bool)]
    public init(name: String, points: [(x: Double, y: Double)], markers: [(x: Double, y: Double, label: String, filled: Bool)] = []) {
        self.name = name; self.points = points; self.markers = markers
    }
}

/// Charts for evaluation reports, drawn with Cairo into PNG bytes: grouped bar charts, line
/// charts (precision-recall curves) and histograms. Every chart has a title, axes with ticks at
/// "nice" values (1, 2, 2.5 or 5 times a power of ten), tick labels, axis labels (with units)
/// and a legend; text is DejaVu Sans with fixed font options, so the same data give the same bytes.
public enum Charts {
    /// Series colours (Okabe & Ito 2008, colour-blind safe), cycled.
    public static let palette: [Colour] = [
        Colour(red: 0.00, green: 0.45, blue: 0.70), Colour(red: 0.90, green: 0.62, blue: 0.00),
        Colour(red: 0.00, green: 0.62, blue: 0.45), Colour(red: 0.80, green: 0.47, blue: 0.65),
        Colour(red: 0.34, green: 0.71, blue: 0.91), Colour(red: 0.84, green: 0.37, blue: 0.00),
        Colour(red: 0.94, green: 0.89, blue: 0.26), Colour(red: 0.3, green: 0.3, blue: 0.3),
    ]

    public static func colour(_ i: Int) -> Colour { palette[((i % palette.count) + palette.count) % palette.count] }

    /// Tick values covering [lo, hi]: multiples of a step 1, 2, 2.5 or 5 x 10^k chosen so that
    /// there are at most `maxCount` ticks (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990).
    public static func niceTicks(_ lo: Double, _ hi: Double, maxCount: Int = 8) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo, maxCount >= 2 else { return lo.isFinite ? [lo] : [] }
        let raw = (hi - lo) / Double(maxCount - 1)
        let p = pow(10, (log10(raw)).rounded(.down))
        var step = 10 * p
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where m * p >= raw { step = m * p; break }
        var ticks: [Double] = []
        var k = (lo / step - 1e-9).rounded(.up)
        while k * step <= hi + step * 1e-9 {
            let v = k * step
            ticks.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return ticks
    }

    /// Text of a tick value: no trailing zeros, at most 4 significant decimals.
    public static func tickText(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(cFormat: "%.0e", v) }
        var s = String(cFormat: "%.4f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    // MARK: Bar chart

    /// A grouped bar chart: one group per `groups` entry, one bar per series inside each group.
    /// `values[s][g]` is series s in group g (nil = no bar, shown as "n/a"). Values are written
    /// above their bars with `valueDecimals` decimals.
    public static func barChart(
        title: String, groups: [String], series: [String], values: [[Double?]],
        yLabel: String, yRange: ClosedRange<Double>, valueDecimals: Int = 2,
        width: Int = 760, height: Int = 420
    ) throws -> [UInt8] {
        guard values.count == series.count, values.allSatisfy({ $0.count == groups.count }) else {
            throw PeaksError.invalidParameter(name: "values", reason: "expected \(series.count) series of \(groups.count) values")
        }
        return try draw(width: width, height: height) { cr in
            let frame = Frame(width: width, height: height, legend: series.count > 1 || !series.isEmpty)
            frame.title(cr, title)
            let y = Scale(lo: yRange.lowerBound, hi: yRange.upperBound, from: frame.bottom, to: frame.top)
            frame.yAxis(cr, y, label: yLabel)
            frame.xAxisLine(cr)
            let groupWidth = (frame.right - frame.left) / Double(max(1, groups.count))
            let barWidth = groupWidth * 0.8 / Double(max(1, series.count))
            for (g, name) in groups.enumerated() {
                let x0 = frame.left + Double(g) * groupWidth + groupWidth * 0.1
                for s in series.indices {
                    let bx = x0 + Double(s) * barWidth
                    if let v = values[s][g], v.isFinite {
                        let top = y.map(min(max(v, yRange.lowerBound), yRange.upperBound))
                        colour(s).set(on: cr)
                        cairo_rectangle(cr, bx + 1, top, barWidth - 2, frame.bottom - top)
                        cairo_fill(cr)
                        text(cr, String(cFormat: "%.\(valueDecimals)f", v), x: bx + barWidth / 2, y: top - 3, size: 10, align: .centre)
                    } else {
                        text(cr, "n/a", x: bx + barWidth / 2, y: frame.bottom - 3, size: 10, align: .centre)
                    }
                }
                text(cr, name, x: x0 + groupWidth * 0.4, y: frame.bottom + 16, size: 12, align: .centre)
            }
            frame.legend(cr, series.enumerated().map { ($0.element, colour($0.offset), LegendKind.box) })
        }
    }

    // MARK: Line chart

    /// A line chart of `lines` over fixed ranges (points outside are clipped).
    public static func lineChart(
        title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
        lines: [ChartLine], width: Int = 560, height: Int = 440
    ) throws -> [UInt8] {
        try draw(width: width, height: height) { cr in
            let frame = Frame(width: width, height: height, legend: true)
            frame.title(cr, title)
            let x = Scale(lo: xRange.lowerBound, hi: xRange.upperBound, from: frame.left, to: frame.right)
            let y = Scale(lo: yRange.lowerBound, hi: yRange.upperBound, from: frame.bottom, to: frame.top)
            frame.yAxis(cr, y, label: yLabel)
            frame.xAxis(cr, x, label: xLabel)
            cairo_save(cr)
            cairo_rectangle(cr, frame.left, frame.top, frame.right - frame.left, frame.bottom - frame.top)
            cairo_clip(cr)
            for (i, line) in lines.enumerated() {
                colour(i).set(on: cr)
                cairo_set_line_width(cr, 2)
                cairo_new_path(cr)
                for (k, p) in line.points.enumerated() where p.x.isFinite && p.y.isFinite {
                    if k == 0 { cairo_move_to(cr, x.map(p.x), y.map(p.y)) } else { cairo_line_to(cr, x.map(p.x), y.map(p.y)) }
                }
                cairo_stroke(cr)
                for p in line.points where p.x.isFinite && p.y.isFinite {
                    cairo_arc(cr, x.map(p.x), y.map(p.y), 2, 0, 2 * .pi)
                    cairo_fill(cr)
                }
            }
            cairo_restore(cr)
            for (i, line) in lines.enumerated() {
                for m in line.markers where m.x.isFinite && m.y.isFinite {
                    let px = x.map(m.x), py = y.map(m.y)
                    cairo_new_path(cr)
                    cairo_arc(cr, px, py, 6, 0, 2 * .pi)
                    if m.filled {
                        colour(i).set(on: cr); cairo_fill_preserve(cr)
                        Colour(red: 0, green: 0, blue: 0).set(on: cr); cairo_set_line_width(cr, 1.2); cairo_stroke(cr)
                    } else {
                        Colour(red: 1, green: 1, blue: 1).set(on: cr); cairo_fill_preserve(cr)
                        colour(i).set(on: cr); cairo_set_line_width(cr, 2.5); cairo_stroke(cr)
                    }
                    Colour(red: 0.1, green: 0.1, blue: 0.1).set(on: cr)
                    // Filled markers are labelled above, rings below, so two nearby labels do not collide.
                    text(cr, m.label, x: px + 9, y: m.filled ? py - 7 : py + 16, size: 10, align: .left)
                }
            }
            frame.legend(cr, lines.enumerated().map { ($0.element.name, colour($0.offset), LegendKind.line) }
                + [("best F1 (filled)", Colour(red: 0.3, green: 0.3, blue: 0.3), .dot),
                   ("default (ring)", Colour(red: 0.3, green: 0.3, blue: 0.3), .ring)])
        }
    }

    // MARK: Histogram

    /// Histograms over shared bins `binEdges` (ascending, n + 1 edges for n bins); `series[s].counts`
    /// has n counts. Series are drawn side by side within each bin.
    public static func histogram(
        title: String, xLabel: String, yLabel: String, binEdges: [Double],
        series: [(name: String, counts: [Int])], width: Int = 760, height: Int = 420
    ) throws -> [UInt8] {
        let bins = binEdges.count - 1
        guard bins >= 1, series.allSatisfy({ $0.counts.count == bins }),
              let first = binEdges.first, let last = binEdges.last, last > first else {
            throw PeaksError.invalidParameter(name: "binEdges", reason: "need at least 2 ascending edges and one count per bin")
        }
        let top = Double(max(1, series.flatMap(\.counts).max() ?? 1))
        let yHi = top * 1.08
        return try draw(width: width, height: height) { cr in
            let frame = Frame(width: width, height: height, legend: true)
            frame.title(cr, title)
            let x = Scale(lo: first, hi: last, from: frame.left, to: frame.right)
            let y = Scale(lo: 0, hi: yHi, from: frame.bottom, to: frame.top)
            frame.yAxis(cr, y, label: yLabel, maxTicks: 6)
            frame.xAxis(cr, x, label: xLabel)
            for (s, entry) in series.enumerated() {
                colour(s).set(on: cr)
                for b in 0..<bins where entry.counts[b] > 0 {
                    let x0 = x.map(binEdges[b]), x1 = x.map(binEdges[b + 1])
                    let w = (x1 - x0) / Double(series.count)
                    let ty = y.map(Double(entry.counts[b]))
                    cairo_rectangle(cr, x0 + Double(s) * w + 0.5, ty, max(1, w - 1), frame.bottom - ty)
                    cairo_fill(cr)
                }
            }
            frame.legend(cr, series.enumerated().map { ($0.element.name, colour($0.offset), LegendKind.box) })
        }
    }

    // MARK: Drawing support

    /// A linear map from data to screen coordinates.
    struct Scale {
        let lo: Double, hi: Double, from: Double, to: Double
        func map(_ v: Double) -> Double { from + (v - lo) / (hi - lo) * (to - from) }
    }

    enum LegendKind { case box, line, dot, ring }
    enum Align { case left, centre, right }

    /// The plot area inside margins, with the legend on the right.
    struct Frame {
        let width: Int, height: Int
        let left: Double, right: Double, top: Double, bottom: Double
        init(width: Int, height: Int, legend: Bool) {
            self.width = width; self.height = height
            left = 72; top = 42; bottom = Double(height) - 56
            right = Double(width) - (legend ? 170 : 24)
        }

        func title(_ cr: OpaquePointer, _ t: String) {
            Colour(red: 0, green: 0, blue: 0).set(on: cr)
            Charts.text(cr, t, x: Double(width) / 2, y: 26, size: 15, align: .centre)
        }

        func xAxisLine(_ cr: OpaquePointer) {
            Colour(red: 0, green: 0, blue: 0).set(on: cr)
            cairo_set_line_width(cr, 1)
            cairo_move_to(cr, left, bottom + 0.5); cairo_line_to(cr, right, bottom + 0.5); cairo_stroke(cr)
        }

        func yAxis(_ cr: OpaquePointer, _ s: Scale, label: String, maxTicks: Int = 8) {
            cairo_set_line_width(cr, 1)
            for t in Charts.niceTicks(s.lo, s.hi, maxCount: maxTicks) {
                let py = s.map(t).rounded() + 0.5
                Colour(red: 0.88, green: 0.88, blue: 0.88).set(on: cr)
                cairo_move_to(cr, left, py); cairo_line_to(cr, right, py); cairo_stroke(cr)
                Colour(red: 0, green: 0, blue: 0).set(on: cr)
                cairo_move_to(cr, left - 5, py); cairo_line_to(cr, left, py); cairo_stroke(cr)
                Charts.text(cr, Charts.tickText(t), x: left - 8, y: py + 4, size: 11, align: .right)
            }
            Colour(red: 0, green: 0, blue: 0).set(on: cr)
            cairo_move_to(cr, left - 0.5, top); cairo_line_to(cr, left - 0.5, bottom); cairo_stroke(cr)
            cairo_save(cr)
            cairo_translate(cr, 18, (top + bottom) / 2)
            cairo_rotate(cr, -Double.pi / 2)
            Charts.text(cr, label, x: 0, y: 0, size: 12, align: .centre)
            cairo_restore(cr)
        }

        func xAxis(_ cr: OpaquePointer, _ s: Scale, label: String) {
            xAxisLine(cr)
            for t in Charts.niceTicks(s.lo, s.hi, maxCount: 8) {
                let px = s.map(t).rounded() + 0.5
                cairo_move_to(cr, px, bottom); cairo_line_to(cr, px, bottom + 5); cairo_stroke(cr)
                Charts.text(cr, Charts.tickText(t), x: px, y: bottom + 18, size: 11, align: .centre)
            }
            Charts.text(cr, label, x: (left + right) / 2, y: Double(height) - 12, size: 12, align: .centre)
        }

        func legend(_ cr: OpaquePointer, _ entries: [(String, Colour, LegendKind)]) {
            var y = top + 8
            let x = right + 16
            for (name, c, kind) in entries {
                c.set(on: cr)
                switch kind {
                case .box: cairo_rectangle(cr, x, y - 9, 12, 12); cairo_fill(cr)
                case .line: cairo_set_line_width(cr, 2.5); cairo_move_to(cr, x - 2, y - 3); cairo_line_to(cr, x + 14, y - 3); cairo_stroke(cr)
                case .dot: cairo_arc(cr, x + 6, y - 3, 5, 0, 2 * .pi); cairo_fill(cr)
                case .ring: cairo_new_path(cr); cairo_set_line_width(cr, 2); cairo_arc(cr, x + 6, y - 3, 5, 0, 2 * .pi); cairo_stroke(cr)
                }
                Colour(red: 0, green: 0, blue: 0).set(on: cr)
                Charts.text(cr, name, x: x + 20, y: y + 1, size: 11, align: .left)
                y += 20
            }
        }
    }

    /// Draws `t` with its baseline at y, aligned on x.
    static func text(_ cr: OpaquePointer, _ t: String, x: Double, y: Double, size: Double, align: Align) {
        cairo_set_font_size(cr, size)
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, t, &ext)
        let dx: Double
        switch align {
        case .left: dx = 0
        case .centre: dx = -ext.x_advance / 2
        case .right: dx = -ext.x_advance
        }
        cairo_move_to(cr, (x + dx).rounded(), y.rounded())
        cairo_show_text(cr, t)
    }

    /// A white RGB canvas with fixed font settings; `body` draws; returns PNG bytes.
    static func draw(width: Int, height: Int, _ body: (OpaquePointer) throws -> Void) throws -> [UInt8] {
        let surface = try Cairo.imageSurface(CAIRO_FORMAT_RGB24, width: width, height: height, "chart")
        defer { cairo_surface_destroy(surface) }
        let cr = try Cairo.context(surface, "chart")
        defer { cairo_destroy(cr) }
        Colour(red: 1, green: 1, blue: 1).set(on: cr)
        cairo_paint(cr)
        Cairo.useTextFont(cr)
        try body(cr)
        try Cairo.check(cairo_status(cr), "chart drawing")
        return try Cairo.pngBytes(surface)
    }
}

/// Library versions, for run manifests.
public enum CairoInfo {
    /// cairo's run-time version, e.g. "1.16.0".
    public static var version: String { cairo_version_string().map { String(cString: $0) } ?? "unknown" }
}
