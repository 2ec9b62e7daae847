import ArgumentParser
import Correlation
import Foundation
import PeakKit

/// `peaks register`: the shift between two images (phase correlation, or masked NCC with masks).
struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the shift that aligns MOVING with REFERENCE.",
        discussion: """
            Sign convention: (dx, dy) is the shift that, applied to MOVING, aligns it with REFERENCE: \
            moving(x - dx, y - dy) ~ reference(x, y); a feature at (x, y) in REFERENCE is at \
            (x - dx, y - dy) in MOVING. Also given as "shift_rc": [row, col] = [dy, dx].

            Without masks: phase cross-correlation (images of the same shape, treated as periodic), \
            refined to 1/N pixel by a matrix-multiply DFT with --upsample N (Guizar-Sicairos et al. \
            2008); reports the error metric and the global phase difference. With a mask: masked \
            normalised cross-correlation (Padfield 2012) refined between pixels by a quadratic fit.

            Examples:
              peaks register frame1.png frame2.png --upsample 100
              peaks register a.npy b.npy --reference-mask va.png --moving-mask vb.png -o shift.json
            """)

    @Argument(help: "The reference image (PNG or NPY).")
    var reference: String

    @Argument(help: "The moving image (PNG or NPY).")
    var moving: String

    @Option(name: .customLong("reference-mask"), help: ArgumentHelp("Validity mask of the reference (non-zero = valid); selects masked NCC.", valueName: "file"))
    var referenceMask: String?

    @Option(name: .customLong("moving-mask"), help: ArgumentHelp("Validity mask of the moving image; selects masked NCC.", valueName: "file"))
    var movingMask: String?

    @Option(help: ArgumentHelp("Phase correlation: refine to 1/N pixel (1 = whole pixels).", valueName: "N"))
    var upsample: Int = 1

    @Option(help: ArgumentHelp("Phase correlation: phase (whitened spectrum) or none (plain cross-correlation).", valueName: "phase|none"))
    var normalization: PhaseCorrelation.Normalization = .phase

    @Option(name: .customLong("overlap-ratio"), help: ArgumentHelp("Masked NCC: ignore shifts whose overlap is below this fraction of the largest.", valueName: "r"))
    var overlapRatio: Double = 0.3

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the JSON to this file instead of standard output.", valueName: "file"))
    var output: String?

    func run() throws {
        guard upsample >= 1, upsample <= 10_000 else { throw PeaksError.invalidParameter(name: "upsample", reason: "must be in 1...10000, got \(upsample)") }
        guard overlapRatio >= 0, overlapRatio <= 1 else { throw PeaksError.invalidParameter(name: "overlap-ratio", reason: "must be in 0...1, got \(overlapRatio)") }
        try CommandInput.checkOutputs([output].compactMap { $0 }, inputs: [reference, moving, referenceMask, movingMask].compactMap { $0 })
        let ref = try CommandInput.image(reference)
        let mov = try CommandInput.image(moving)
        let rm = try CommandInput.mask(referenceMask, for: ref, what: "reference mask")
        let mm = try CommandInput.mask(movingMask, for: mov, what: "moving mask")
        let masked = rm != nil || mm != nil
        if masked && upsample != 1 {
            throw UsageError("--upsample is for phase correlation; with a mask the masked NCC peak is refined by a quadratic fit (leave out --upsample)")
        }
        let r: Registration
        if masked {
            r = try MaskedNCC.register(reference: ref, moving: mov, referenceMask: rm, movingMask: mm, overlapRatio: overlapRatio)
        } else {
            r = try PhaseCorrelation.register(reference: ref, moving: mov, upsample: upsample, normalization: normalization)
        }
        var doc = JSONDocument()
        doc.add("schema", .string("peaks.registration/1"))
        doc.add("reference", object: CommandInput.describe(reference, ref))
        doc.add("moving", object: CommandInput.describe(moving, mov))
        doc.add("method", .string(masked ? "masked-ncc" : "phase-correlation"))
        doc.add("convention", .string("(dx, dy) applied to MOVING aligns it with REFERENCE: moving(x - dx, y - dy) ~ reference(x, y)"))
        doc.add("dx", .number(r.dx))
        doc.add("dy", .number(r.dy))
        doc.add("shift_rc", numbers: [r.dy, r.dx])
        doc.add("pixel_dx", .integer(r.pixelDX))
        doc.add("pixel_dy", .integer(r.pixelDY))
        if masked {
            doc.add("peak_correlation", r.peakCorrelation.map { .number($0) } ?? .null)
            doc.add("overlap_ratio", .number(overlapRatio))
            doc.add("subpixel", .string("poly_fit"))
            doc.add("subpixel_fell_back", .bool(r.subpixelFellBack))
        } else {
            doc.add("error", r.error.map { .number($0) } ?? .null)
            doc.add("phase_difference", r.phaseDifference.map { .number($0) } ?? .null)
            doc.add("upsample", .integer(upsample))
            doc.add("normalization", .string(normalization.rawValue))
        }
        try CommandInput.finish(text: doc.text, output: output, files: [])
    }
}
