import ArgumentParser
import Correlation
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Pipeline
import Rendering

/// `peaks register`: the shift between two images (phase correlation, or masked NCC with masks).
struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Find the shift that aligns MOVING with REFERENCE.",
        discussion: """
            Sign convention: (dx, dy) is the shift that, applied to MOVING, aligns it with REFERENCE: \
            moving(x - dx, y - dy) ~ reference(x, y); a feature at (x, y) in REFERENCE is at \
            (x - dx, y - dy) in MOVING. Also given as "shift_rc": [row, col] = [dy, dx].

            Without masks: phase cross-correlation (images of the same shape, treated as periodic), \
            refined to 1/N pixel by a matrix-multiply DFT with --upsample N (Guizar-Sicairos et al. \
            2008); reports the error metric and the global phase difference. With a mask: masked \
            normalised cross-correlation (Padfield 2012) refined between pixels by a quadratic fit.

            A single stack (3-D/4-D data, or --frames/--scan) registers every frame against \
            --reference first|mean|INDEX (phase correlation, --upsample N) and writes a table: CSV \
            (frame, scan_y, scan_x, dx, dy, error, ...) or JSON (schema peaks.registration-stack/1, \
            with shift_rc per frame), frames on all cores in bounded memory (mean: a first pass \
            averages the selected frames). --shift-map draws dx and dy over a 4-D scan.

            Examples:
              peaks register frame1.png frame2.png --upsample 100
              peaks register a.npy b.npy --reference-mask va.png --moving-mask vb.png -o shift.json
              peaks register scan.npy --reference mean --upsample 20 -o shifts.csv --shift-map shifts.png
            """)

    @Argument(help: "The reference image, or a stack whose frames are registered against --reference.")
    var reference: String

    @Argument(help: "The moving image (omit for a stack).")
    var moving: String?

    @OptionGroup(title: "Input")
    var source: InputOptions

    @OptionGroup(title: "Cluster")
    var sharding: ShardOptions

    @OptionGroup(title: "Output")
    var out: OutputOptions

    var output: String? { out.output }
    var format: PeakListFormat? { out.format }

    @Option(name: .customLong("reference"), help: ArgumentHelp("Stacks: the reference frame: first, mean (of the selected frames) or a frame number of the selection (default first).", valueName: "first|mean|n"))
    var referenceFrame: String?

    @Option(name: .customLong("shift-map"), help: ArgumentHelp("4-D stacks: write a PNG of dx and dy over the scan, with a histogram of their subpixel fractions.", valueName: "png"))
    var shiftMap: String?

    @Option(name: .customLong("reference-mask"), help: ArgumentHelp("Validity mask of the reference (non-zero = valid); selects masked NCC.", valueName: "file"))
    var referenceMask: String?

    @Option(name: .customLong("moving-mask"), help: ArgumentHelp("Validity mask of the moving image; selects masked NCC.", valueName: "file"))
    var movingMask: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Phase correlation: refine to 1/N pixel (1 = whole pixels; at most 1000).", valueName: "N"))
    var upsample: Int = 1

    @Option(help: ArgumentHelp("Phase correlation: phase (whitened spectrum) or none (plain cross-correlation).", valueName: "phase|none"))
    var normalization: PhaseCorrelation.Normalization = .phase

    @Option(name: .customLong("overlap-ratio"), parsing: .unconditional, help: ArgumentHelp("Masked NCC: ignore shifts whose overlap is below this fraction of the largest.", valueName: "r"))
    var overlapRatio: Double = 0.3


    /// Upsampling costs O(N^2) memory and time in the factor (10000 on 64^2 took 18-30 s and
    /// 3.6 GB for 1/10000 px no data supports): refused beyond 1000.
    static let upsampleRange = 1...1000

    func validate() throws {
        do { try source.check() } catch let error as UsageError { throw ValidationError(error.description) }
        if let referenceFrame, StackRegistration.Reference(referenceFrame) == nil {
            throw ValidationError("--reference: expected first, mean or a frame number >= 0, got '\(referenceFrame)'")
        }
        if moving != nil {
            for (name, given) in [("--reference", referenceFrame != nil), ("--shift-map", shiftMap != nil), ("--format", format != nil),
                                  ("--shard", sharding.shard != nil)] where given {
                throw ValidationError("\(name) is for a stack registered against one of its frames (give one input, not two)")
            }
            if source.frames != nil || source.scan != nil { throw ValidationError("--frames and --scan are for a stack (give one input, not two)") }
        }
    }

    func run() throws {
        guard Self.upsampleRange.contains(upsample) else {
            throw PeaksError.invalidParameter(name: "upsample", reason: "must be in 1...1000, got \(upsample)")
        }
        guard overlapRatio >= 0, overlapRatio <= 1 else { throw PeaksError.invalidParameter(name: "overlap-ratio", reason: "must be in 0...1, got \(overlapRatio)") }
        guard let moving else { return try runStack() }
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

    /// One input: a stack, each frame registered against the reference frame (see
    /// `StackRegistration`), one row per frame streamed in frame order.
    func runStack() throws {
        if referenceMask != nil || movingMask != nil {
            throw UsageError("masks select the masked NCC of two images; a stack is registered by phase correlation (leave out the masks)")
        }
        try CommandInput.checkOutputs([output, shiftMap].compactMap { $0 }, inputs: [reference])
        let frames = try source.open(reference)
        let l = frames.layout
        guard l.isStack || source.selectsFrames else {
            throw UsageError("'\(reference)' is a single image: give a moving image, or a stack to register its frames")
        }
        if shiftMap != nil && sharding.shard != nil { throw UsageError("--shift-map draws the whole scan; leave it out with --shard") }
        if shiftMap != nil && l.scan == nil { throw UsageError("--shift-map needs a 4-D scan (or --scan WxH); '\(reference)' has no scan grid") }
        let choice = referenceFrame.flatMap { StackRegistration.Reference($0) } ?? .first
        let refImage = try StackRegistration.reference(choice, frames: frames)
        let refText: Value
        switch choice {
        case .first: refText = .string("first")
        case .mean: refText = .string("mean")
        case .index(let n): refText = .integer(n)
        }
        let parameters: [(String, Value)] = [
            ("method", .string("phase-correlation")), ("reference", refText), ("upsample", .integer(upsample)),
            ("normalization", .string(normalization.rawValue)),
            ("convention", .string("(dx, dy) applied to MOVING aligns it with REFERENCE: moving(x - dx, y - dy) ~ reference(x, y)")),
        ]
        var shifts: ([Double], [Double]) = ([], [])
        try StackOutput.write(
            frames, path: reference, output: output, format: format, schema: StackRegistration.schema, parameters: parameters,
            columns: StackRegistration.columns, shard: try sharding.spec(), inputs: [reference], settings: source.settings
        ) { add, progress, range in
            try StackRegistration.run(
                frames, range: range, reference: refImage, upsample: upsample, normalization: normalization,
                deliver: { index, r in
                    try add(index, StackRegistration.values(r), [("shift_rc", [r.dy, r.dx])])
                    if shiftMap != nil { shifts.0.append(r.dx); shifts.1.append(r.dy) }
                },
                progress: progress)
        } pictures: {
            guard let shiftMap, let scan = l.scan else { return [] }
            return [(shiftMap, try ShiftMap.png(
                scanWidth: scan.width, scanHeight: scan.height, dx: shifts.0, dy: shifts.1,
                title: "peaks register \(URL(fileURLWithPath: reference).lastPathComponent): shift to the reference"))]
        }
    }
}
