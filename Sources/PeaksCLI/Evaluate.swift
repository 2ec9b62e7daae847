import ArgumentParser
import Detectors
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
import Synchronization
import Harness
import PeakKit

/// `peaks evaluate`: score the registered detectors on images with known truth.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score the detectors on synthetic images (or your own data) with known truth.",
        discussion: """
            Generates --count images of each class (case k of class C is 'peaks generate --class C \
            --size S --seed SEED+k'), or reads --dataset DIR (one sub-folder per case: truth.json, \
            one image, optional mask.png). Every algorithm runs with its default parameters; \
            detections are matched one-to-one to the truth within --tolerance pixels (Hungarian \
            algorithm) and scored (TP, FP, FN, precision, recall, F1, Jaccard, RMSE, bias). \
            Detectors with a 'prominence' parameter also get a threshold sweep (precision-recall curve).

            Writes into --out: results.json (schema peaks.evaluation/1, byte-identical for the same \
            inputs), results.csv, timings.csv, manifest.json (versions, settings, SHA-256 of every \
            input and output), report.md, report.html, images/ (charts) and overlays/. The folder \
            appears complete or not at all; an earlier evaluation folder there is replaced.

            Examples:
              peaks evaluate
              peaks evaluate --classes noisy,hdr --count 5 --size 256 --seed 3 --out eval
              peaks evaluate --dataset my-cases --tolerance 2 --out my-eval
            """)

    @Option(help: ArgumentHelp("Comma-separated algorithms (default: every registered one).", valueName: "a,b"))
    var algos: String?

    @Option(help: ArgumentHelp("Comma-separated classes: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")) (default: all).", valueName: "c,d"))
    var classes: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Images per class (1...1000; default 3).", valueName: "n"))
    var count: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Image width and height (\(SyntheticGenerator.sizeRange.lowerBound)...\(SyntheticGenerator.sizeRange.upperBound); default 512).", valueName: "px"))
    var size: Int?

    @Option(help: ArgumentHelp("Seed of the first image of each class (default 1).", valueName: "n"))
    var seed: UInt64?

    @Option(parsing: .unconditional, help: ArgumentHelp("Matching distance in pixels: a pair is allowed at distance <= this (default 3).", valueName: "px"))
    var tolerance: Double = 3

    @Option(help: ArgumentHelp("Evaluate your own cases: a folder of sub-folders with truth.json, an image and optional mask.png.", valueName: "dir"))
    var dataset: String?

    @Option(help: ArgumentHelp("Output folder (default: evaluation).", valueName: "dir"))
    var out: String = "evaluation"

    @Option(parsing: .unconditional, help: ArgumentHelp("Worker threads (default: one per core). Results do not depend on it.", valueName: "n"))
    var threads: Int?

    @Option(name: .customLong("sweep-steps"), parsing: .unconditional, help: ArgumentHelp("Steps of each of the prominence sweep's two threshold grids (\(Evaluation.sweepStepsRange.lowerBound)...\(Evaluation.sweepStepsRange.upperBound); default 16).", valueName: "n"))
    var sweepSteps: Int = 16

    @Flag(name: .customLong("no-overlays"), help: "Do not draw an overlay per case and algorithm.")
    var noOverlays = false

    func run() throws {
        // Check everything before any work.
        let detectors: [any PeakDetector]
        if let algos {
            detectors = try Self.list(algos, "--algos").map { name in
                guard let d = builtinDetectors.detector(named: name) else {
                    throw UsageError("unknown algorithm '\(name)' in --algos (known: \(builtinDetectors.names.joined(separator: ", ")))")
                }
                return d
            }
        } else {
            detectors = builtinDetectors.detectors
        }
        guard tolerance.isFinite && tolerance > 0 && tolerance <= 1000 else {
            throw PeaksError.invalidParameter(name: "tolerance", reason: "\(tolerance) is outside the allowed range (0, 1000] pixels")
        }
        if let threads, !(1...1024).contains(threads) {
            throw PeaksError.invalidParameter(name: "threads", reason: "\(threads) is outside the allowed range 1...1024")
        }
        guard Evaluation.sweepStepsRange.contains(sweepSteps) else {
            throw PeaksError.invalidParameter(name: "sweep-steps", reason: "\(sweepSteps) is outside the allowed range \(Evaluation.sweepStepsRange.lowerBound)...\(Evaluation.sweepStepsRange.upperBound)")
        }
        let workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
        var settings: [(String, Value)] = []
        var command = ["peaks", "evaluate", "--algos", detectors.map(\.name).joined(separator: ",")]
        let cases: [EvaluationCase]
        if let dataset {
            if classes != nil || count != nil || size != nil || seed != nil {
                throw UsageError("--dataset cannot be combined with --classes, --count, --size or --seed")
            }
            let loaded = try Dataset.load(dataset)
            for note in loaded.notes { StandardError.write("peaks: note: \(note)\n") }
            cases = loaded.cases
            settings = [("source", .string("dataset")), ("dataset", .string(dataset))]
            command += ["--dataset", dataset]
        } else {
            let classList = try classes.map { text in
                try Self.list(text, "--classes").map { name in
                    guard let c = SyntheticClass(rawValue: name) else {
                        throw UsageError("unknown class '\(name)' in --classes (known: \(SyntheticClass.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return c
                }
            } ?? SyntheticClass.allCases
            let n = count ?? 3, s = size ?? 512, firstSeed = seed ?? 1
            guard (1...1000).contains(n) else {
                throw PeaksError.invalidParameter(name: "count", reason: "\(n) is outside the allowed range 1...1000")
            }
            guard SyntheticGenerator.sizeRange.contains(s) else {
                throw PeaksError.invalidParameter(name: "size", reason: "\(s) is outside the allowed range \(SyntheticGenerator.sizeRange.lowerBound)...\(SyntheticGenerator.sizeRange.upperBound)")
            }
            var jobs: [(SyntheticClass, Int)] = []
            for c in classList { for k in 0..<n { jobs.append((c, k)) } }
            let made = Slots<EvaluationCase>(jobs.count)
            let generationJobs = jobs
            Evaluation.forEachJob(jobs.count, threads: workers) { j in
                let (c, k) = generationJobs[j]
                made.set(j, try? EvaluationCase.generated(c, index: k, size: s, seed: firstSeed))
            }
            cases = made.values
            guard cases.count == jobs.count else { throw PeaksError.invalidImage(reason: "a synthetic image could not be generated") }
            settings = [("source", .string("generated")), ("classes", .string(classList.map(\.rawValue).joined(separator: ","))),
                        ("count", .integer(n)), ("size", .integer(s)), ("seed", .string(String(firstSeed)))]
            command += ["--classes", classList.map(\.rawValue).joined(separator: ","), "--count", String(n), "--size", String(s), "--seed", String(firstSeed)]
        }
        settings += [("algorithms", .string(detectors.map(\.name).joined(separator: ","))),
                     ("tolerance", .number(tolerance)), ("sweep_steps", .integer(sweepSteps)), ("overlays", .bool(!noOverlays))]
        command += ["--tolerance", NumberFormat.string(tolerance), "--sweep-steps", String(sweepSteps)]
        if noOverlays { command.append("--no-overlays") }
        command += ["--out", out]

        let bar = ProgressBar.forStandardError()
        var progress: (@Sendable (Int, Int) -> Void)? = nil
        if let bar { progress = { done, total in bar.update(done, total) } }
        let result = try Evaluation.run(
            cases: cases, detectors: detectors,
            settings: EvaluationSettings(tolerance: tolerance, sweepSteps: sweepSteps, threads: workers),
            progress: progress)
        bar?.finish()

        let info = RunInfo(
            peaksVersion: PeaksVersion.string, gitCommit: nil, arguments: CommandLine.arguments,
            settings: settings, command: command.joined(separator: " "), threads: workers)
        let files = try EvaluationReport.files(result, info: info, overlays: !noOverlays)
        try OutputFolder.write(files, to: out, what: "folder written by 'peaks evaluate'") { names in
            names.isEmpty || names.contains("manifest.json") && names.contains("results.json")
        }
        StandardError.write("peaks: wrote \(files.count) files to \(out) (report: \(out)/report.html)\n")
    }

    static func list(_ text: String, _ option: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard !items.isEmpty, items.allSatisfy({ !$0.isEmpty }) else { throw UsageError("\(option) expects a comma-separated list, got '\(text)'") }
        guard Set(items).count == items.count else { throw UsageError("\(option) names something twice: '\(text)'") }
        return items
    }
}

/// A one-line progress bar on standard error, only when standard error is a terminal.
final class ProgressBar: Sendable {
    private let lastDrawn = Mutex(-1)

    static func forStandardError() -> ProgressBar? { isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil }

    func update(_ done: Int, _ total: Int) {
        let width = 30
        let filled = total > 0 ? min(width, done * width / total) : width
        let percent = total > 0 ? min(100, done * 100 / total) : 100
        let changed = lastDrawn.withLock { last in
            defer { last = percent }
            return percent != last
        }
        guard changed else { return }
        let line = "\rpeaks evaluate [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] \(percent)% (\(done)/\(total) runs)"
        StandardError.write(line)
    }

    func finish() { StandardError.write("\n") }
}
