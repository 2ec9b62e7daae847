import Filters
import ArgumentParser
import Correlation
import Foundation
import PeakKit

/// `peaks center`: the centre of a centrosymmetric pattern (autocenter), as JSON.
struct Center: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the centre of a centrosymmetric pattern (a diffraction pattern's direct beam).",
        discussion: """
            Intensity-weighted rough centre, largest square crop around it, division by a wide \
            Gaussian background, masked NCC of the crop with its point inversion; the centre is the \
            rough centre plus half the refined lag (docs/algorithms/high-symmetry.md).

            Writes JSON (schema peaks.center/1) with "x" (column) and "y" (row), pixel centres at \
            integers, and the method's details. Outputs appear complete or not at all.

            Examples:
              peaks center samples/lattice.png
              peaks center frame.npy --mask valid.png -o centre.json
            """)

    @Argument(help: "The image: PNG or NPY.")
    var input: String

    @Option(help: ArgumentHelp("Validity mask of the image's shape: non-zero = valid (hide the beam stop and dead pixels).", valueName: "file"))
    var mask: String?

    @Option(help: ArgumentHelp("Subpixel peak location of the symmetry correlation: poly_fit, diff or none.", valueName: "method"))
    var subpixel: PeakFitMethod = .polyFit

    @Flag(name: .customLong("no-background"), help: "Do not divide by a wide Gaussian background before correlating.")
    var noBackground = false

    @Option(name: .customLong("max-lag"), help: ArgumentHelp("Largest lag searched, in pixels (default: a quarter of the crop).", valueName: "px"))
    var maxLag: Int?

    @Option(name: .customLong("min-symmetry"), help: ArgumentHelp("Refuse the image (exit 1) when the symmetry correlation at the centre found is below this (0...1; default 0.25): the pattern shows no usable point symmetry.", valueName: "c"))
    var minSymmetry: Double = Autocenter.defaultMinSymmetry

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the JSON to this file instead of standard output.", valueName: "file"))
    var output: String?

    func run() throws {
        if let maxLag, maxLag < 1 { throw PeaksError.invalidParameter(name: "max-lag", reason: "must be at least 1, got \(maxLag)") }
        try CommandInput.checkOutputs([output].compactMap { $0 }, inputs: [input, mask].compactMap { $0 })
        let image = try CommandInput.image(input)
        var valid = try CommandInput.mask(mask, for: image, what: "mask")
        if image.firstNonFinitePixel() != nil {
            valid = (valid ?? Mask(width: image.width, height: image.height)).intersection(Mask(finitePixelsOf: image))
        }
        guard (0...1).contains(minSymmetry) else { throw PeaksError.invalidParameter(name: "min-symmetry", reason: "must be in 0...1, got \(minSymmetry)") }
        let r = try Autocenter.find(image, mask: valid, normalizeBackground: !noBackground, maxLag: maxLag, subpixel: subpixel)
        guard r.peak >= minSymmetry else {
            throw PeaksError.invalidImage(
                reason: "\(input): the pattern shows no usable point symmetry (symmetry \(NumberFormat.string((r.peak * 1000).rounded() / 1000)) at the best centre, below --min-symmetry \(NumberFormat.string(minSymmetry)))")
        }
        var doc = JSONDocument()
        doc.add("schema", .string("peaks.center/1"))
        doc.add("image", object: CommandInput.describe(input, image))
        doc.add("x", .number(r.x))
        doc.add("y", .number(r.y))
        doc.add("method", .string("autocenter"))
        doc.add("rough", object: [("x", .number(r.roughX)), ("y", .number(r.roughY))])
        doc.add("crop", object: [("x", .integer(r.cropX)), ("y", .integer(r.cropY)), ("size", .integer(r.cropSize))])
        doc.add("lag", object: [("dx", .number(r.lagX)), ("dy", .number(r.lagY))])
        doc.add("symmetry", .number(r.peak))
        doc.add("min_symmetry", .number(minSymmetry))
        doc.add("background_normalized", .bool(!noBackground))
        doc.add("subpixel", .string(subpixel.rawValue))
        doc.add("subpixel_fell_back", .bool(r.fellBack))
        try CommandInput.finish(text: doc.text, output: output, files: [])
    }
}
