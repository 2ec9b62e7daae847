import ArgumentParser
import Detectors
import Filters
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ImageIO
import PeakKit
import Pipeline
import Rendering

/// `peaks detect`: read an image (and mask), run one detector, write the peak list and pictures.
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        // As a subcommand of `peaks` this changes nothing; it spares `parsedDirectly` the
        // completion-script checks a root command makes (two more parsers, 0.3-0.5 ms a run).
        _superCommandName: "peaks",
        abstract: "Find the peaks of an image, or of every frame of a stack.",
        discussion: """
            Writes the peak list as JSON (schema peaks.detection/1) to standard output, or to -o FILE \
            (CSV when FILE ends in .csv or with --format csv). Outputs appear complete or not at all.
            A stack (3-D/4-D data, multi-page files, or --frames/--scan) gives one table in frame \
            order: CSV rows start with frame (and scan_y, scan_x), JSON has schema peaks.stack/1.

            Examples:
              peaks detect samples/lattice.png --noise poisson --overlay overlay.png
              peaks detect image.npy --mask valid.png --min-dist 5 --prominence 120 -o peaks.csv
              peaks detect image.png --smooth 1.5 --blobs basins.png --blobs-preview basins-colour.png
              peaks detect pattern.png --algo high-symmetry --mask beamstop.png --center 161.3,158.7
            """)

    @Argument(help: ArgumentHelp(
        "The image or stack: any format of 'peaks formats' (PNG, NPY, ...), chosen by the file's first bytes. Several files or a quoted glob ('night1/*.png', expanded by peaks, sorted) make a stack of single images with a file column.",
        valueName: "input"))
    var inputs: [String] = []

    @Flag(help: ArgumentHelp("Several files or a pattern: detect in each file on its own, as one run per file would (its own size and settings measured from it), and write one peak list per file into the folder -o DIR, named after the file (NAME.json, or NAME.csv with --format csv). A file that cannot be read or detected in is reported and skipped; the run then exits 1."))
    var each = false

    /// The input as output headers name it (the argument, the pattern, or the file range).
    var input: String { inputs.count == 1 ? inputs[0] : (try? FileList(inputs).label) ?? inputs.joined(separator: " ") }

    @OptionGroup(title: "Input")
    var source: InputOptions

    @OptionGroup(title: "Mask")
    var masking: MaskOptions

    @OptionGroup(title: "Output")
    var out: OutputOptions

    @OptionGroup(title: "Subpixel refinement")
    var refinement: RefinementOptions

    var mask: String? { masking.mask }
    var output: String? { out.output }
    var format: PeakListFormat? { out.format }
    var refine: RefineChoice { refinement.refine }
    func refinementWindow() throws -> Int { try refinement.refinementWindow() }

    @OptionGroup(title: "Cluster")
    var sharding: ShardOptions

    @OptionGroup(title: "Hints")
    var hints: HintOptions

    @Option(help: ArgumentHelp("The detector (see 'peaks algorithms').", valueName: "name"))
    var algo = "persistence"

    @Option(name: .customLong("min-dist"), parsing: .unconditional, help: ArgumentHelp("Minimum distance in pixels between peaks; the weaker of two closer peaks is dropped.", valueName: "px"))
    var minDist: String?

    @Option(name: .customLong("exclude-border"), parsing: .unconditional, help: ArgumentHelp("Drop peaks within this many pixels of the edge.", valueName: "px"))
    var excludeBorder: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep peaks whose prominence is strictly greater than this, in image units, or 'auto' (noise-based).", valueName: "value|auto"))
    var prominence: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Gaussian pre-smoothing sigma in pixels (0 = none).", valueName: "sigma"))
    var smooth: String?

    @Option(help: ArgumentHelp("Noise model for the automatic threshold: auto (poisson for counting data, else gaussian), gaussian or poisson.", valueName: "auto|gaussian|poisson"))
    var noise: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("high-symmetry: the pattern centre as x,y (column,row) instead of finding it (autocenter).", valueName: "x,y"))
    var center: String?

    @Option(name: [.customShort("p"), .customLong("param")], help: ArgumentHelp("Any detector parameter as NAME=VALUE (repeatable).", valueName: "name=value"))
    var params: [String] = []

    @Option(help: ArgumentHelp("Write a PNG of the image with a marker at every peak.", valueName: "png"))
    var overlay: String?

    @Option(help: ArgumentHelp("Overlay display scaling: auto, linear, log or asinh.", valueName: "auto|linear|log|asinh"))
    var stretch: Stretch = .auto

    @Option(help: ArgumentHelp("Write the blob label image: .png (16-bit, label k = k-th peak) or .npy (int32).", valueName: "png|npy"))
    var blobs: String?

    @Option(name: .customLong("blobs-preview"), help: ArgumentHelp("Write a colour PNG of the blobs for viewing.", valueName: "png"))
    var blobsPreview: String?

    @Option(help: ArgumentHelp("NaN or infinite pixels: error (refuse the image) or mask (treat them as invalid).", valueName: "error|mask"))
    var nonfinite: NonFinitePolicy = .error

    @Option(name: .customLong("shift-map"), help: ArgumentHelp("4-D stacks: write a PNG of the strongest peak's offset from the frame centre (x - width/2, y - height/2) over the scan, with a histogram of the subpixel fractions (e.g. with --algo template).", valueName: "png"))
    var shiftMap: String?

    @Flag(help: "Print read, detect, render and write times in milliseconds on standard error.")
    var timings = false

    /// `peaks detect ARGS` parsed as the command `detect` alone, or nil when that fails.
    static func parsedDirectly(_ arguments: [String]) -> ParsableCommand? {
        guard arguments.count > 2, arguments[1] == configuration.commandName else { return nil }
        return try? parseAsRoot(Array(arguments.dropFirst(2))) as? Detect
    }

    /// Checks every option before any file is read: a misspelt or out-of-range parameter is a
    /// usage error (exit 2) naming it.
    func validate() throws {
        do {
            guard !inputs.isEmpty else { throw UsageError("missing the input image, stack, files or pattern") }
            try source.check()
            if each { try checkEach() }
            if try sharding.spec() != nil && output == nil {
                throw UsageError("--shard writes a table and its manifest beside it: give -o FILE")
            }
            _ = try resolvedParameters()
            _ = try refinementWindow()
        } catch let error as UsageError {
            throw ValidationError(error.description)
        } catch let error as PeaksError {
            throw ValidationError(error.description)
        }
    }

    /// The detector and its parameters, checked; mistakes are usage errors.
    func resolvedParameters() throws -> (any PeakDetector, ParameterSet) {
        guard let detector = builtinDetectors.detector(named: algo) else {
            throw UsageError(builtinDetectors.unknownDetectorMessage(algo, spelledAs: "--algo"))
        }
        do {
            return (detector, try detector.resolveParameters(try givenParameters(for: detector)))
        } catch let error as PeaksError {
            throw UsageError(error.description)
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now

        let (detector, parameters) = try resolvedParameters()
        let windowSize = try refinementWindow()
        let list = try FileList(inputs)
        if each {
            Peaks.arenasForManyFrames()
            return try runEach(list, detector: detector, parameters: parameters, windowSize: windowSize)
        }
        try checkOutputPaths(inputs: list.files)

        // Read.
        let frames = try source.open(list)
        try HintOptions.check(parameters, width: frames.layout.width, height: frames.layout.height)
        Peaks.reserveHugePages(width: frames.layout.width, height: frames.layout.height)
        let validity = try mask.map { try ImageFile.readMask($0) }
        let wantsLabels = blobs != nil || blobsPreview != nil
        let job = FrameDetection(
            detector: detector, parameters: parameters, mask: validity, nonFinite: nonfinite,
            refine: refine.method, refineSize: windowSize, options: DetectionOptions(wantsLabels: wantsLabels))
        if frames.source.layout.isStack || source.selectsFrames || list.isList || sharding.shard != nil {
            Peaks.arenasForManyFrames()
            return try runStack(frames, list: list, job: job)
        }
        if shiftMap != nil { throw UsageError("--shift-map draws a 4-D scan; '\(input)' is a single image") }
        let image = try frames.frame(0)
        if let validity, let maskPath = mask { try validity.checkShape(matches: image, what: "mask '\(maskPath)'") }
        let afterRead = clock.now

        // Detect.
        let detection = try job.run(image, nanMeansInvalid: frames.nanMeansInvalid)
        let afterDetect = clock.now

        // Render every output in memory, then write them all or none.
        let listFormat = out.resolvedFormat
        let text = listFormat.render(
            detection, algorithm: detector.name, parameters: parameters,
            source: ImageSource(path: input, width: image.width, height: image.height))
        var files: [(path: String, bytes: [UInt8])] = []
        if let overlay {
            let radii = detection.attributeNames.contains("radius") ? detection.peaks.map { $0["radius"] ?? 0 } : nil
            let name = URL(fileURLWithPath: input).lastPathComponent
            let count = detection.peaks.count
            let title = "\(detector.name): \(count) peak\(count == 1 ? "" : "s") in \(name)"
            files.append((overlay, try Overlay.png(
                image: image, mask: validity, peaks: detection.peaks, radii: radii, title: title, stretch: stretch)))
        }
        if let labels = detection.labels {
            if let blobs { files.append((blobs, try BlobFile.encode(labels, path: blobs))) }
            if let blobsPreview { files.append((blobsPreview, try LabelPreview.png(labels: labels))) }
        }
        let afterRender = clock.now
        try CommandInput.finish(text: text, output: output, files: files)
        let end = clock.now

        if timings {
            StandardError.write("peaks: timings: read \(Self.milliseconds(afterRead - start)) ms, detect \(Self.milliseconds(afterDetect - afterRead)) ms, render \(Self.milliseconds(afterRender - afterDetect)) ms, write \(Self.milliseconds(end - afterRender)) ms\n")
        }
    }

    /// A stack: frames on all cores, the table streamed in frame order to a temporary file
    /// renamed into place at the end (or to standard output).
    func runStack(_ frames: SelectedFrames, list: FileList, job: FrameDetection) throws {
        // Settings measured from the data (auto) are measured once for the whole stack.
        let job = try job.resolved(forStack: frames)
        for (name, value) in [("--overlay", overlay), ("--blobs", blobs), ("--blobs-preview", blobsPreview)] where value != nil {
            throw UsageError("\(name) draws a single image; '\(input)' is a stack (\(frames.layout.frameCount) frames)")
        }
        let l = frames.layout
        if shiftMap != nil && l.scan == nil { throw UsageError("--shift-map needs a 4-D scan (or --scan WxH); '\(input)' has no scan grid") }
        if shiftMap != nil && sharding.shard != nil { throw UsageError("--shift-map draws the whole scan; leave it out with --shard") }
        var offsets: ([Double], [Double]) = ([], [])
        let listFormat = out.resolvedFormat
        let header = StackSource(
            path: list.label, width: l.width, height: l.height, frames: l.frameCount,
            scan: l.scan.map { ($0.height, $0.width) }, hasFiles: list.isList)
        let fileNames = (frames.source as? FileListFrames)?.files
        let shard = try sharding.spec()
        let range = try sharding.frames(of: l.frameCount)
        // A shard's identity is taken before any frame is read (a file changed meanwhile then
        // shows up as a foreign shard rather than going unnoticed).
        let identity = try shard.map { _ in try inputIdentity(list) }
        let out = try TableOutput(output: output, shard: shard)
        let writer = StackTableWriter(
            format: listFormat, source: header, algorithm: job.detector.name,
            parameters: job.parameters.entries.map { ($0.0, $0.1.asValue) },
            sink: { try out.write($0) })
        var progress = ProgressLine()
        do {
            try job.run(
                over: frames, range: range,
                deliver: { index, detection in
                    let scan = l.scan?.position(ofFrame: index)
                    let source = frames.sourceIndex(of: index)
                    try writer.add(
                        FramePosition(frame: source, scanY: scan?.y, scanX: scan?.x, file: fileNames?[source]), detection)
                    if shiftMap != nil {
                        let p = detection.peaks.first
                        offsets.0.append(p.map { $0.x - Double(l.width / 2) } ?? .nan)
                        offsets.1.append(p.map { $0.y - Double(l.height / 2) } ?? .nan)
                    }
                },
                progress: { progress.update($0) })
            try writer.finish()
            if let shiftMap, let scan = l.scan {
                try AtomicFile.writeAll([(shiftMap, try ShiftMap.png(
                    scanWidth: scan.width, scanHeight: scan.height, dx: offsets.0, dy: offsets.1,
                    title: "peaks detect --algo \(job.detector.name) \(URL(fileURLWithPath: input).lastPathComponent): strongest peak - (width/2, height/2)"))])
            }
            try out.commit { name, bytes, sha256 in
                ShardManifest(
                    peaksVersion: PeaksVersion.string, shard: shard!, frames: range, totalFrames: l.frameCount,
                    format: listFormat, tableName: name, tableBytes: bytes, tableSHA256: sha256,
                    headerBytes: writer.headerByteCount, footerBytes: writer.footerByteCount, rows: writer.rowCount,
                    input: identity ?? [], settings: shardSettings(job: job, format: listFormat))
            }
        } catch {
            out.abort()
            throw error
        }
    }

    /// The input's identity for a shard manifest (and the mask's, which decides the peaks too).
    func inputIdentity(_ list: FileList) throws -> [(String, Value)] {
        var entries = list.isList ? try InputIdentity.of(files: list.files, label: list.label) : try InputIdentity.of(file: list.files[0])
        if let mask {
            entries += try InputIdentity.of(file: mask).map { ("mask_" + $0.0, $0.1) }
        }
        return entries
    }

    /// Everything besides the input that decides a shard table's bytes.
    func shardSettings(job: FrameDetection, format: PeakListFormat) -> [(String, Value)] {
        var entries: [(String, Value)] = [("algorithm", .string(job.detector.name))]
        entries += job.parameters.entries.map { ("parameter " + $0.0, $0.1.asValue) }
        entries += source.settings
        entries += [
            ("nonfinite", .string(nonfinite.rawValue)), ("refine", .string(refine.rawValue)),
            ("refine_size", .integer(job.refineSize)), ("format", .string(format.rawValue)),
        ]
        return entries
    }

    /// The parameter values given on the command line, checked against the detector's specs.
    func givenParameters(for detector: any PeakDetector) throws -> [String: ParameterValue] {
        var texts: [(String, String, String)] = []  // (name, value, how it was given)
        if let minDist { texts.append(("min_dist", minDist, "--min-dist")) }
        if let excludeBorder { texts.append(("exclude_border", excludeBorder, "--exclude-border")) }
        if let prominence { texts.append(("prominence", prominence, "--prominence")) }
        if let smooth { texts.append(("smooth", smooth, "--smooth")) }
        if let noise { texts.append(("noise", noise, "--noise")) }
        texts += hints.given
        if let center {
            guard detector.allParameterSpecs.contains(where: { $0.name == "center_x" }) else {
                throw UsageError("--center: the \(detector.name) detector takes no centre (it is for --algo high-symmetry)")
            }
            let parts = center.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
            guard parts.count == 2, Double(parts[0]) != nil, Double(parts[1]) != nil else {
                throw PeaksError.invalidParameter(name: "center", reason: "expected x,y (two numbers separated by a comma), got '\(center)'")
            }
            texts.append(("center_x", parts[0], "--center"))
            texts.append(("center_y", parts[1], "--center"))
        }
        for p in params {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw UsageError("--param expects NAME=VALUE, got '\(p)'")
            }
            let name = String(p[..<eq]).replacing("-", with: "_")
            texts.append((name, String(p[p.index(after: eq)...]), "--param \(name)"))
        }
        var given: [String: ParameterValue] = [:]
        for (name, text, how) in texts {
            guard let spec = detector.acceptedParameterSpecs.first(where: { $0.name == name }) else {
                throw UsageError("\(how): " + ParameterSet.unknownReason(name, specs: detector.allParameterSpecs, detectorName: "the \(detector.name) detector"))
            }
            if given[name] != nil { throw UsageError("parameter '\(name)' given twice") }
            given[name] = try spec.parse(text)
        }
        return given
    }

    /// A duration as `--timings` prints it: milliseconds with one decimal.
    static func milliseconds(_ d: Duration) -> String {
        String(cFormat: "%.1f", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3)
    }

    /// `--each` writes peak lists only, one per file, into the folder -o DIR; the options of one
    /// picture, one stack or one shard have no meaning there.
    func checkEach() throws {
        guard let output else { throw UsageError("--each writes one peak list per file into the folder -o DIR: give -o") }
        // A peak-list name is a file the user expects, not a folder to be created under it.
        if PeakListFormat.allCases.contains(where: { output.lowercased().hasSuffix("." + $0.rawValue) }) {
            throw UsageError("--each writes one peak list per file into a folder; '-o \(output)' names a file (give a folder)")
        }
        let refused: [(given: Bool, name: String)] = [
            (overlay != nil, "--overlay"), (blobs != nil, "--blobs"), (blobsPreview != nil, "--blobs-preview"),
            (shiftMap != nil, "--shift-map"), (sharding.shard != nil, "--shard"), (source.frames != nil, "--frames"),
            (source.scan != nil, "--scan"),
        ]
        if let option = refused.first(where: \.given) {
            throw UsageError("\(option.name) is not available with --each (it writes one peak list per image)")
        }
    }

    /// The peak list of each file of an `--each` run: FOLDER/NAME.json (or .csv), NAME the
    /// file's name without its extension; two files of one name are a usage error.
    static func eachOutputs(_ files: [String], folder: String, format: PeakListFormat) throws -> [String] {
        var owner: [String: String] = [:]
        return try files.map { file in
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + "." + format.rawValue
            if let other = owner.updateValue(file, forKey: name) {
                throw UsageError("--each: '\(other)' and '\(file)' would both write '\(name)'")
            }
            return URL(fileURLWithPath: folder).appendingPathComponent(name).path
        }
    }

    /// `--each`: every file is its own image and its own detection, exactly as `peaks detect FILE
    /// -o FOLDER/NAME.json` would run it (the settings measured from that image), written
    /// atomically one by one. Start-up, argument parsing, the libraries and the FFT plans are paid
    /// once. A file that fails is reported on its own line and skipped; the run then exits 1.
    func runEach(_ list: FileList, detector: any PeakDetector, parameters: ParameterSet, windowSize: Int) throws {
        let folder = output!
        let format = out.format ?? .json
        let outputs = try Self.eachOutputs(list.files, folder: folder, format: format)
        try CommandInput.checkOutputs(outputs, inputs: list.files + [mask].compactMap { $0 })
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw PeaksError.file(path: folder, reason: "cannot create the output folder (\(PeaksError.systemReason(error)))")
        }
        let validity = try mask.map { try ImageFile.readMask($0) }
        let job = FrameDetection(
            detector: detector, parameters: parameters, mask: validity, nonFinite: nonfinite,
            refine: refine.method, refineSize: windowSize, options: DetectionOptions(wantsLabels: false))
        // The files as independent jobs, as many at a time as there are cores (`IndependentJobs`:
        // each detection's result does not depend on the threads); what each reports is printed
        // afterwards in file order.
        let files = list.files, openOptions = try source.openOptions(), maskPath = mask, timed = timings
        let reports = IndependentJobs.run(count: files.count) { i -> (failed: Bool, line: String?) in
            let file = files[i]
            let clock = ContinuousClock()
            let start = clock.now
            do {
                let frames = try SelectedFrames(try ImageFormat.open(file, options: openOptions))
                guard !frames.source.layout.isStack else {
                    throw PeaksError.file(path: file, reason: "holds a stack of \(frames.frames.count) frames; --each takes single images (detect a stack by itself)")
                }
                try HintOptions.check(parameters, width: frames.layout.width, height: frames.layout.height)
                let image = try frames.frame(0)
                if let validity, let maskPath { try validity.checkShape(matches: image, what: "mask '\(maskPath)'") }
                let detection = try job.run(image, nanMeansInvalid: frames.nanMeansInvalid)
                let text = format.render(
                    detection, algorithm: job.detector.name, parameters: parameters,
                    source: ImageSource(path: file, width: image.width, height: image.height))
                try CommandInput.finish(text: text, output: outputs[i], files: [])
                guard timed else { return (false, nil) }
                return (false, "peaks: timings: \(file): read, detect and write \(Self.milliseconds(clock.now - start)) ms\n")
            } catch {
                // One file's failure is its own: reported, skipped, the others go on.
                let text = (error as? PeaksError)?.description ?? (error as? UsageError)?.description ?? "\(error)"
                return (true, "peaks: error: \(text.hasPrefix(file) ? text : "\(file): \(text)")\n")
            }
        }
        for report in reports { if let line = report.line { StandardError.write(line) } }
        let failed = reports.filter(\.failed)
        if !failed.isEmpty {
            let written = list.files.count - failed.count
            throw PeaksError.file(path: folder, reason: "\(failed.count) of \(list.files.count) files failed (above); \(written) peak list\(written == 1 ? "" : "s") written")
        }
    }

    /// Outputs must not overwrite the inputs or each other, and must have a usable extension.
    func checkOutputPaths(inputs files: [String]) throws {
        var outputs = [output, overlay, blobs, blobsPreview, shiftMap].compactMap { $0 }
        if sharding.shard != nil, let output { outputs.append(ShardManifest.path(forTable: output)) }
        // Compare with the inputs of the same file name only (a list may hold many thousands).
        let names = Set(outputs.map { URL(fileURLWithPath: $0).lastPathComponent })
        let candidates = files.filter { names.contains(URL(fileURLWithPath: $0).lastPathComponent) }
        try CommandInput.checkOutputs(outputs, inputs: candidates + [mask].compactMap { $0 })
        if let blobs { _ = try BlobFile.kind(of: blobs) }
    }
}

/// A command-line mistake: reported with exit code 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--refine`: no refinement or one of the `SubpixelMethod`s.
enum RefineChoice: String, CaseIterable, ExpressibleByArgument {
    case none, com, parabolic, quadratic, gaussian

    var method: SubpixelMethod? { SubpixelMethod(rawValue: rawValue) }
}

extension PeakListFormat: ExpressibleByArgument {}
extension Stretch: ExpressibleByArgument {}
extension NonFinitePolicy: ExpressibleByArgument {}
