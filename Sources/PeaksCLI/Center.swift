import Filters
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

/// `peaks center`: the centre of a centrosymmetric pattern (autocenter), as JSON.
struct Center: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "center",
        abstract: "Find the centre of a centrosymmetric pattern (a diffraction pattern's direct beam).",
        discussion: """
            Intensity-weighted rough centre, largest square crop around it, division by a wide \
            Gaussian background, masked NCC of the crop with its point inversion; the centre is the \
            rough centre plus half the refined lag (docs/algorithms/high-symmetry.md).

            Writes JSON (schema peaks.center/1) with "x" (column) and "y" (row), pixel centres at \
            integers, and the method's details. Outputs appear complete or not at all.

            A stack (3-D/4-D data, or --frames/--scan) gives the centre of every frame (descan \
            tracking) as a table: CSV (frame, scan_y, scan_x, x, y, confidence, ...) or JSON (schema \
            peaks.center-stack/1), frames on all cores in bounded memory; --shift-map draws the \
            centres' offsets from the frame centre over a 4-D scan.

            Examples:
              peaks center samples/lattice.png
              peaks center frame.npy --mask valid.png -o centre.json
              peaks center scan.npy -o centres.csv --shift-map descan.png
            """)

    @Argument(help: "The image or stack (any format of 'peaks formats').")
    var input: String

    @OptionGroup(title: "Input")
    var source: InputOptions

    @OptionGroup(title: "Cluster")
    var sharding: ShardOptions

    @OptionGroup(title: "Output")
    var out: OutputOptions

    @OptionGroup(title: "Mask")
    var masking: MaskOptions

    var mask: String? { masking.mask }
    var output: String? { out.output }
    var format: PeakListFormat? { out.format }

    @Option(name: .customLong("shift-map"), help: ArgumentHelp("4-D stacks: write a PNG of the X and Y offsets of the centres from the frame centre over the scan, with a histogram of their subpixel fractions.", valueName: "png"))
    var shiftMap: String?

    @Option(help: ArgumentHelp("Subpixel peak location of the symmetry correlation: poly_fit, diff or none.", valueName: "method"))
    var subpixel: PeakFitMethod = .polyFit

    @Flag(name: .customLong("no-background"), help: "Do not divide by a wide Gaussian background before correlating.")
    var noBackground = false

    @Option(name: .customLong("max-lag"), parsing: .unconditional, help: ArgumentHelp("Largest lag searched, in pixels (default: a quarter of the crop).", valueName: "px"))
    var maxLag: Int?

    @Option(name: .customLong("min-symmetry"), parsing: .unconditional, help: ArgumentHelp("Refuse the image (exit 1) when the symmetry correlation at the centre found is below this (0...1; default 0.25): the pattern shows no usable point symmetry.", valueName: "c"))
    var minSymmetry: Double = Autocenter.defaultMinSymmetry

    func validate() throws {
        do { try source.check() } catch let error as UsageError { throw ValidationError(error.description) }
    }

    func run() throws {
        if let maxLag, maxLag < 1 { throw PeaksError.invalidParameter(name: "max-lag", reason: "must be at least 1, got \(maxLag)") }
        try CommandInput.checkOutputs([output, shiftMap].compactMap { $0 }, inputs: [input, mask].compactMap { $0 })
        let frames = try source.open(input)
        if frames.layout.isStack || source.selectsFrames || sharding.shard != nil { return try runStack(frames) }
        if shiftMap != nil { throw UsageError("--shift-map draws a 4-D scan; '\(input)' is a single image") }
        let image = try CommandInput.image(input)
        try checkMaxLag(width: image.width, height: image.height)
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

    /// --max-lag beyond the image is refused rather than silently clamped.
    func checkMaxLag(width: Int, height: Int) throws {
        if let maxLag, maxLag > min(width, height) {
            throw PeaksError.invalidParameter(name: "max-lag", reason: "\(maxLag) px is larger than the \(width)x\(height) image (at most \(min(width, height)))")
        }
    }

    /// A stack: one row per frame, streamed in frame order (see `StackCenter`).
    func runStack(_ frames: SelectedFrames) throws {
        let l = frames.layout
        try checkMaxLag(width: l.width, height: l.height)
        if shiftMap != nil && sharding.shard != nil { throw UsageError("--shift-map draws the whole scan; leave it out with --shard") }
        if shiftMap != nil && l.scan == nil { throw UsageError("--shift-map needs a 4-D scan (or --scan WxH); '\(input)' has no scan grid") }
        let validity = try mask.map { try ImageFile.readMask($0) }
        if let validity, let mask, validity.width != l.width || validity.height != l.height {
            throw PeaksError.file(path: mask, reason: "the mask is \(validity.width)x\(validity.height) but the frames are \(l.width)x\(l.height) (width x height)")
        }
        let parameters: [(String, Value)] = [
            ("method", .string("autocenter")), ("subpixel", .string(subpixel.rawValue)), ("background_normalized", .bool(!noBackground)),
            ("max_lag", maxLag.map { .integer($0) } ?? .string("auto")), ("mask", mask.map { .string($0) } ?? .null),
        ]
        var offsets: ([Double], [Double]) = ([], [])
        try StackOutput.write(
            frames, path: input, output: output, format: format, schema: StackCenter.schema, parameters: parameters,
            columns: StackCenter.columns, shard: try sharding.spec(), inputs: [input] + [mask].compactMap { $0 }, settings: source.settings
        ) { add, progress, range in
            try StackCenter.run(
                frames, range: range, mask: validity, normalizeBackground: !noBackground, maxLag: maxLag, subpixel: subpixel,
                deliver: { index, values in
                    try add(index, values, [])
                    if shiftMap != nil, case .number(let x) = values[0], case .number(let y) = values[1] {
                        offsets.0.append(x - Double(l.width / 2))
                        offsets.1.append(y - Double(l.height / 2))
                    }
                },
                progress: progress)
        } pictures: {
            guard let shiftMap, let scan = l.scan else { return [] }
            return [(shiftMap, try ShiftMap.png(
                scanWidth: scan.width, scanHeight: scan.height, dx: offsets.0, dy: offsets.1,
                title: "peaks center \(URL(fileURLWithPath: input).lastPathComponent): centre - (width/2, height/2)"))]
        }
    }
}
