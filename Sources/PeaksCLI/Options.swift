import ArgumentParser
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
import Pipeline

/// Options shared by every command that reads an image or a stack.
struct InputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("HDF5: the dataset to read (default: the NeXus default signal, else the only image dataset).", valueName: "/path"))
    var dataset: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("FITS: the HDU to read, 0 = primary (default: the primary HDU, else the first image extension).", valueName: "n"))
    var hdu: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Stacks: the frames to process, Python slice style (e.g. 0:100, ::10, 5).", valueName: "start:stop[:step]"))
    var frames: String?

    @Option(help: ArgumentHelp("Stacks: read the frames as a scan of W columns and H rows (frame = scan_y x W + scan_x).", valueName: "WxH"))
    var scan: String?

    /// The format options, checked.
    func openOptions() throws -> OpenOptions {
        var hduNumber: Int?
        if let hdu {
            guard let n = Int(hdu.trimmingWhitespace()), n >= 0 else {
                throw UsageError("--hdu: expected a whole number >= 0, got '\(hdu)'")
            }
            hduNumber = n
        }
        return OpenOptions(dataset: dataset, hdu: hduNumber)
    }

    func frameRange() throws -> FrameRange? {
        do {
            return try frames.map { try FrameRange(parsing: $0) }
        } catch let error as PeaksError {
            throw UsageError("--frames: \(error.description)")
        }
    }

    func scanShape() throws -> ScanShape? {
        guard let scan else { return nil }
        let parts = scan.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
            throw UsageError("--scan: expected WxH with two positive whole numbers (e.g. 45x12), got '\(scan)'")
        }
        return ScanShape(height: h, width: w)
    }

    /// Checks the option texts (called from the commands' `validate`).
    func check() throws {
        _ = try openOptions()
        _ = try frameRange()
        _ = try scanShape()
    }

    /// Opens `path` with the frame selection and scan grid applied.
    func open(_ path: String) throws -> SelectedFrames {
        let source = try ImageFormat.open(path, options: try openOptions())
        return try SelectedFrames(source, selection: try frameRange(), scan: try scanShape())
    }

    /// Opens one file, or a multi-file stack (several paths, quoted glob patterns), with the
    /// frame selection and scan grid applied.
    func open(_ list: FileList) throws -> SelectedFrames {
        guard list.isList else { return try open(list.files[0]) }
        let source = try FileListFrames(files: list.files, label: list.label, options: try openOptions())
        return try SelectedFrames(source, selection: try frameRange(), scan: try scanShape())
    }

    /// The options that decide which frames are read and how (for shard manifests).
    var settings: [(String, Value)] {
        [("dataset", dataset.map { .string($0) } ?? .null), ("hdu", hdu.map { .string($0) } ?? .null),
         ("frames", frames.map { .string($0) } ?? .null), ("scan", scan.map { .string($0) } ?? .null)]
    }

    /// True when any stack option was given (such a run is a stack run even for one frame).
    var selectsFrames: Bool { frames != nil || scan != nil }
}

/// `--shard I/N`, shared by every command that processes stacks: the I-th of N contiguous, as
/// equal as possible blocks of the (selected) frames; I is 0-based so that a Slurm job array can
/// pass `$SLURM_ARRAY_TASK_ID` straight in. A command adds the option group and processes
/// `frames(of: frameCount)` instead of all frames (see docs/cluster.md).
struct ShardOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Stacks: process only the I-th of N equal contiguous blocks of frames (0 <= I < N) and write a manifest beside -o, for 'peaks merge' (see docs/cluster.md).",
        valueName: "I/N"))
    var shard: String?

    /// The shard, checked (a mistake is a usage error).
    func spec() throws -> Shard? {
        do {
            return try shard.map { try Shard(parsing: $0) }
        } catch let error as PeaksError {
            throw UsageError("--shard: \(error.description)")
        }
    }

    /// The frames to process out of `count` (all of them without --shard).
    func frames(of count: Int) throws -> Range<Int> {
        try spec()?.frames(of: count) ?? 0..<count
    }
}

/// A progress line on standard error while a stack runs, only when standard error is a terminal.
struct ProgressLine {
    let enabled = isatty(2) != 0
    private var lastPrint = -1.0

    mutating func update(_ p: FrameStream.Progress) {
        guard enabled, p.elapsed - lastPrint >= 0.2 || p.done == p.total else { return }
        lastPrint = p.elapsed
        let rate = p.elapsed > 0 ? Double(p.done) / p.elapsed : 0
        let left = rate > 0 ? Double(p.total - p.done) / rate : 0
        let text = "\rpeaks: \(p.done)/\(p.total) frames, \(String(cFormat: "%.1f", rate)) frames/s, \(Self.duration(left)) left "
        StandardError.write(text)
        if p.done == p.total { StandardError.write("\n") }
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : (t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s")
    }
}

/// `-o` and `--format`, shared by every command that writes a peak list or a table.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Peak list or table format: json or csv (default: from the -o extension, else json).", valueName: "json|csv"))
    var format: PeakListFormat?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the result to this file instead of standard output (all outputs are written or none).", valueName: "file"))
    var output: String?

    /// The format asked for, else CSV for a `.csv` output name, else JSON.
    var resolvedFormat: PeakListFormat {
        format ?? (output.map { $0.lowercased().hasSuffix(".csv") } == true ? .csv : .json)
    }
}

/// `--mask`, shared by the commands that take one validity mask for their input.
struct MaskOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Validity mask, any image format, of the image's (frame's) shape: non-zero = valid pixel.", valueName: "file"))
    var mask: String?
}

/// `--refine` and `--refine-size`: subpixel refinement of any detector's peaks.
struct RefinementOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Subpixel refinement of every peak: none, com, parabolic, quadratic or gaussian (see docs/cli.md).", valueName: "method"))
    var refine: RefineChoice = .none

    @Option(name: .customLong("refine-size"), parsing: .unconditional, help: ArgumentHelp("Window side in pixels for --refine com and quadratic (odd, 3...101; default 3).", valueName: "n"))
    var refineSize: String?

    /// The `--refine-size` value: an odd whole number in 3...101, only with a method that uses it.
    func refinementWindow() throws -> Int {
        guard let refineSize else { return 3 }
        guard let n = Int(refineSize.trimmingWhitespace()) else {
            throw PeaksError.invalidParameter(name: "refine-size", reason: "'\(refineSize)' is not a whole number")
        }
        guard n >= 3, n <= 101, n % 2 == 1 else {
            throw PeaksError.invalidParameter(name: "refine-size", reason: "must be an odd number in 3...101, got \(n)")
        }
        guard refine == .com || refine == .quadratic else {
            throw UsageError("--refine-size applies to --refine com or quadratic, not '\(refine.rawValue)'")
        }
        return n
    }
}

/// `--spot-size`, shared by the commands that run a detector: a hint every detector turns into
/// its own scale parameters (`DetectionHints`; the rules per detector in docs/cli.md).
struct HintOptions: ParsableArguments {
    @Option(name: .customLong("spot-size"), parsing: .unconditional, help: ArgumentHelp(
        "Hint: the Gaussian sigma in pixels of a typical spot. Every detector sets its scale parameters from it (persistence: smooth = sigma / sqrt 2; log: its scale range, sigma / k to 2 sigma; template: radius, sigma; high-symmetry: refine_sigma, erosion_radius), except those given explicitly; reported as spot_size in the output's parameters.",
        valueName: "sigma_px"))
    var spotSize: String?

    /// The hint as a parameter text: (name, value, how it was given).
    var given: [(String, String, String)] {
        spotSize.map { [(DetectionHints.spotSizeName, $0, "--spot-size")] } ?? []
    }

    /// Refuses a hint the image (or each frame) cannot hold, as a usage error. It reads the
    /// resolved parameters alone (they hold the hint as `spot_size`), so work that runs off the
    /// command's thread (`peaks detect --each`) can call it too.
    static func check(_ parameters: ParameterSet, width: Int, height: Int) throws {
        guard let s = DetectionHints.spotSize(in: parameters) else { return }
        do {
            try DetectionHints.checkSpotSize(s, width: width, height: height)
        } catch let error as PeaksError {
            throw UsageError("--spot-size: \(error.description)")
        }
    }
}
