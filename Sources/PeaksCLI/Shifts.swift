import Filters
import ArgumentParser
import Correlation
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
import ImageIO
import PeakKit
import Rendering

/// `peaks shifts`: a field of local shifts between two images, window by window.
struct Shifts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shifts",
        abstract: "Measure local shifts between two images, window by window.",
        discussion: """
            Windows of W x W pixels of REFERENCE, every --step pixels (default W), are found in \
            MOVING by normalised cross-correlation over displacements up to --margin pixels, the \
            peak refined between pixels. Each vector (dx, dy) follows the convention of 'peaks \
            register': applied to MOVING it aligns it with REFERENCE there. The global shift is \
            the median (or mean) of the vectors whose peak correlation is at least --min-peak.

            Writes JSON (schema peaks.shifts/1) to standard output, or to -o FILE.json; with \
            -o FILE.npy the field as a float64 array of shape (rows, columns, 2) holding (dy, dx) \
            per window (NaN for flat windows), and the JSON still goes to standard output. \
            --plot draws the vectors as arrows over the reference image.

            Examples:
              peaks shifts before.png after.png --window 32 --margin 8
              peaks shifts a.npy b.npy --window 64 --margin 10 -o field.npy --plot field.png
            """)

    @Argument(help: "The reference image (PNG or NPY).")
    var reference: String

    @Argument(help: "The moving image, same shape (PNG or NPY).")
    var moving: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Window side in pixels.", valueName: "W"))
    var window: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Largest displacement searched, in pixels.", valueName: "M"))
    var margin: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Distance between windows in pixels (default: the window side).", valueName: "S"))
    var step: Int?

    @Option(help: ArgumentHelp("Global shift from the local ones: median or mean.", valueName: "median|mean"))
    var summary: ShiftField.Summary = .median

    @Option(name: .customLong("min-peak"), parsing: .unconditional, help: ArgumentHelp("Windows with a lower peak correlation are left out of the global shift.", valueName: "r"))
    var minPeak: Double = 0.5

    @Option(help: ArgumentHelp("Subpixel peak location: poly_fit, diff or none.", valueName: "method"))
    var subpixel: PeakFitMethod = .polyFit

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the field: .npy (array of (dy, dx)) or .json.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Write a PNG of the shift vectors as arrows over the reference.", valueName: "png"))
    var plot: String?

    @Option(name: .customLong("arrow-scale"), parsing: .unconditional, help: ArgumentHelp("Arrow length per pixel of shift (default: the longest arrow is 0.8 step).", valueName: "k"))
    var arrowScale: Double?

    func run() throws {
        if let output {
            let l = output.lowercased()
            guard l.hasSuffix(".npy") || l.hasSuffix(".json") else {
                throw PeaksError.file(path: output, reason: "the field file must end in .npy or .json")
            }
        }
        if let arrowScale, !(arrowScale > 0 && arrowScale.isFinite) {
            throw PeaksError.invalidParameter(name: "arrow-scale", reason: "must be a positive number, got \(arrowScale)")
        }
        guard minPeak.isFinite, minPeak >= -1, minPeak <= 1 else { throw PeaksError.invalidParameter(name: "min-peak", reason: "must be in -1...1, got \(minPeak)") }
        try CommandInput.checkOutputs([output, plot].compactMap { $0 }, inputs: [reference, moving])
        let ref = try CommandInput.image(reference)
        let mov = try CommandInput.image(moving)
        for (img, path) in [(ref, reference), (mov, moving)] {
            if let bad = img.firstNonFinitePixel() {
                throw PeaksError.file(path: path, reason: "pixel x=\(bad.x), y=\(bad.y) is NaN or infinite")
            }
        }
        let field = try ShiftField.local(reference: ref, moving: mov, window: window, margin: margin, step: step, subpixel: subpixel)
        let global = ShiftField.global(field, summary: summary, minimumPeak: minPeak)

        var doc = JSONDocument()
        doc.add("schema", .string("peaks.shifts/1"))
        doc.add("reference", object: CommandInput.describe(reference, ref))
        doc.add("moving", object: CommandInput.describe(moving, mov))
        doc.add("convention", .string("(dx, dy) applied to MOVING aligns it with REFERENCE: moving(x - dx, y - dy) ~ reference(x, y); (x, y) = window centre in REFERENCE"))
        doc.add("window", .integer(field.window))
        doc.add("margin", .integer(field.margin))
        doc.add("step", .integer(field.step))
        doc.add("columns", .integer(field.columns))
        doc.add("rows", .integer(field.rows))
        doc.add("global", object: [
            ("dx", global.map { .number($0.dx) } ?? .null), ("dy", global.map { .number($0.dy) } ?? .null),
            ("summary", .string(summary.rawValue)), ("min_peak", .number(minPeak)), ("windows_used", .integer(global?.count ?? 0)),
        ])
        doc.add("vectors", objects: field.vectors.map { v in
            [("x", .number(v.x)), ("y", .number(v.y)), ("dx", .number(v.dx)), ("dy", .number(v.dy)), ("peak", .number(v.peak))]
        })
        let text = doc.text

        var files: [(path: String, bytes: [UInt8])] = []
        var jsonFile: String? = nil
        if let output {
            if output.lowercased().hasSuffix(".npy") {
                var values: [Double] = []
                for v in field.vectors { values += [v.dy, v.dx] }
                files.append((output, NPY.encodeFloat64(shape: [field.rows, field.columns, 2], values: values)))
            } else {
                jsonFile = output
            }
        }
        if let plot {
            let longest = field.vectors.map { hypot($0.dx, $0.dy) }.filter(\.isFinite).max() ?? 0
            let scale = arrowScale ?? (longest > 0 ? 0.8 * Double(field.step) / longest : 1)
            let arrows = field.vectors.map { FieldArrow(x: $0.x, y: $0.y, dx: $0.dx, dy: $0.dy) }
            let g = global.map { "global dx \(String(cFormat: "%.3f", $0.dx)), dy \(String(cFormat: "%.3f", $0.dy))" } ?? "no global shift"
            let title = "shift to apply to moving, arrows x\(String(cFormat: "%.3g", scale)); \(g)"
            files.append((plot, try ShiftFieldPlot.png(image: ref, arrows: arrows, scale: scale, title: title)))
        }
        try CommandInput.finish(text: text, output: jsonFile, files: files)
    }
}
