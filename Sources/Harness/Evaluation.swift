import Synchronization
import Dispatch
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

/// A file an evaluation read (or, for generated cases, would write), with its checksum.
public struct InputRecord: Sendable, Equatable {
    /// The path as given, or for generated cases `<case>/image.npy` etc.
    public var path: String
    /// SHA-256 of the file's bytes, 64 hex digits.
    public var sha256: String
    public init(path: String, sha256: String) { self.path = path; self.sha256 = sha256 }
}

/// One image with ground truth to evaluate the detectors on.
public struct EvaluationCase: Sendable {
    /// Unique name: `<class>-<k>` (k = 000, 001, ...) for generated cases, the sub-folder for datasets.
    public var name: String
    /// The class (a `SyntheticClass` name, or "dataset").
    public var className: String
    public var image: Image
    public var mask: Mask?
    public var truth: [TruthPeak]
    /// How to reproduce the case (`peaks generate ...`), or nil for user data.
    public var command: String?
    public var inputs: [InputRecord]

    public init(name: String, className: String, image: Image, mask: Mask?, truth: [TruthPeak],
                command: String? = nil, inputs: [InputRecord] = []) {
        self.name = name; self.className = className; self.image = image; self.mask = mask
        self.truth = truth; self.command = command; self.inputs = inputs
    }

    /// Case `index` of a class: `SyntheticGenerator.generate(c, size:, seed: seed + index)`, so
    /// `peaks generate --class C --size S --seed (seed + index)` writes the same image.
    /// The inputs are the checksums of the image.npy and truth.json that command writes.
    public static func generated(_ c: SyntheticClass, index: Int, size: Int, seed: UInt64) throws -> EvaluationCase {
        let caseSeed = seed &+ UInt64(index)
        let g = try SyntheticGenerator.generate(c, size: size, seed: caseSeed)
        let name = "\(c.rawValue)-" + String(repeating: "0", count: max(0, 3 - String(index).count)) + String(index)
        let files = GeneratedFiles.render(g)
        return EvaluationCase(
            name: name, className: c.rawValue, image: g.image, mask: g.mask, truth: g.peaks,
            command: "peaks generate --class \(c.rawValue) --size \(size) --seed \(caseSeed)",
            inputs: files.map { InputRecord(path: "\(name)/\($0.name)", sha256: SHA256.hex($0.bytes)) })
    }
}

/// What to evaluate and how.
public struct EvaluationSettings: Sendable, Equatable {
    /// Pair distance limit in pixels (pair allowed when distance <= tolerance).
    public var tolerance: Double = 3
    /// Steps of each of the sweep's two threshold grids (see `Evaluation`); duplicates are dropped.
    public var sweepSteps: Int = 16
    /// Worker threads: nil = one per core, 1 = serial. Results do not depend on it.
    public var threads: Int? = nil
    public init(tolerance: Double = 3, sweepSteps: Int = 16, threads: Int? = nil) {
        self.tolerance = tolerance; self.sweepSteps = sweepSteps; self.threads = threads
    }
}

/// The result of one algorithm (with its default parameters) on one case.
public struct CaseResult: Sendable {
    public var caseIndex: Int
    public var algorithm: String
    /// Detected peak positions, in the detector's order.
    public var detections: [Point]
    public var match: MatchResult
    public var scores: Scores
    /// Wall-clock seconds of `detect` (timings only; never in results.json).
    public var seconds: Double
    /// The detector's error message, when it failed (then there are no detections).
    public var error: String?
}

/// One point of a threshold sweep: the scores summed over the class's cases.
public struct SweepPoint: Sendable, Equatable {
    public var threshold: Double
    public var scores: Scores
}

/// The precision-recall curve of one algorithm on one class over its `prominence` parameter.
public struct Sweep: Sendable {
    public var className: String
    public var algorithm: String
    public var parameter: String
    /// Ascending thresholds: 0, then `sweepSteps` log-spaced values (see `Evaluation`).
    public var points: [SweepPoint]
    /// The index of the best F1 (the lowest threshold among equal F1).
    public var best: Int
    /// The scores with the default parameters.
    public var defaultScores: Scores
}

/// Everything an evaluation found.
public struct EvaluationResult: Sendable {
    public var cases: [EvaluationCase]
    public var algorithms: [String]
    /// The default parameters of each algorithm (same order as `algorithms`).
    public var parameters: [ParameterSet]
    /// Index `caseIndex * algorithms.count + a`.
    public var results: [CaseResult]
    public var sweeps: [Sweep]
    public var settings: EvaluationSettings

    /// The class names in order of first appearance among the cases.
    public var classNames: [String] {
        var seen: [String] = []
        for c in cases where !seen.contains(c.className) { seen.append(c.className) }
        return seen
    }

    public func result(case i: Int, algorithm a: Int) -> CaseResult { results[i * algorithms.count + a] }

    /// Scores summed over the cases of `className` (nil = all cases) for algorithm `a`.
    public func summary(className: String?, algorithm a: Int) -> Scores {
        var s = Scores()
        for (i, c) in cases.enumerated() where className == nil || c.className == className {
            s = s + result(case: i, algorithm: a).scores
        }
        return s
    }
}

/// Runs detectors on cases with truth and scores them.
///
/// For every case and algorithm: `detect` with the default parameters (timed), then
/// `Matching.match` within `tolerance`, then `Scores`. For every class and algorithm whose
/// detector has a real parameter named `prominence`: a threshold sweep. A probe run at
/// prominence 0 (or the parameter's lower bound) on each case of the class gives the
/// prominences present (peak attribute `prominence`, else `strength`). Pooled over the class and
/// sorted into distinct values s_0 > s_1 > ... > s_(N-1), the thresholds are 0 and
/// `s_r` for the ranks `r_k = round(N^(k / (sweepSteps - 1)))`, k = 0..<sweepSteps (r < N),
/// so that the number of surviving peaks (prominence > s_r keeps the r strongest) is spread
/// log-uniformly from 1 to N, dense where the few strong peaks are; plus a value grid
/// `lo (hi / lo)^(k / (sweepSteps - 1))` with hi = s_0, lo = max(s_(N-1), 1e-6 hi), dense in
/// the values between noise and signal. At each threshold the
/// detector is run again and scored (scores summed over the class's cases). The best operating
/// point is the highest F1 (lowest threshold among ties).
///
/// Jobs run on `threads` workers; every result is stored at its own index and every sum is
/// taken in case order afterwards, so results do not depend on the thread count.
public enum Evaluation {
    public static let sweptParameter = "prominence"

    public static let sweepStepsRange = 2...200

    public static func run(
        cases: [EvaluationCase], detectors: [any PeakDetector], settings: EvaluationSettings,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> EvaluationResult {
        guard settings.tolerance.isFinite && settings.tolerance >= 0 && settings.tolerance <= 1e6 else {
            throw PeaksError.invalidParameter(name: "tolerance", reason: "must be a number in 0...1e6 (pixels)")
        }
        guard sweepStepsRange.contains(settings.sweepSteps) else {
            throw PeaksError.invalidParameter(name: "sweep-steps", reason: "\(settings.sweepSteps) is outside \(sweepStepsRange.lowerBound)...\(sweepStepsRange.upperBound)")
        }
        if let t = settings.threads, t < 1 {
            throw PeaksError.invalidParameter(name: "threads", reason: "must be at least 1")
        }
        let parameters = try detectors.map { try $0.resolveParameters([:]) }
        let nA = detectors.count
        // The probe threshold: 0, or the parameter's lower bound when 0 is not allowed.
        let probeThreshold: [Double?] = detectors.map { d in
            guard let spec = d.allParameterSpecs.first(where: { $0.name == sweptParameter && $0.kind == .real }) else { return nil }
            return max(0, spec.range?.lowerBound ?? 0)
        }
        var classes: [String] = []
        for c in cases where !classes.contains(c.className) { classes.append(c.className) }
        let tolerance = settings.tolerance
        let counter = ProgressCounter(total: cases.count * nA, report: progress)

        // 1. Default parameters, timed.
        let defaults = Slots<CaseResult>(cases.count * nA)
        forEachJob(cases.count * nA, threads: settings.threads) { slot in
            let ci = slot / nA, a = slot % nA
            let c = cases[ci], d = detectors[a]
            let clock = ContinuousClock()
            let start = clock.now
            var peaks: [Peak] = []
            var failure: String? = nil
            do {
                peaks = try d.detect(in: c.image, mask: c.mask, parameters: parameters[a], nonFinite: .mask).peaks
            } catch {
                failure = (error as? PeaksError)?.description ?? "\(error)"
            }
            let elapsed = clock.now - start
            let (points, scores, match) = score(peaks, c, tolerance)
            defaults.set(slot, CaseResult(
                caseIndex: ci, algorithm: d.name, detections: points, match: match, scores: scores,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18,
                error: failure))
            counter.step()
        }

        // 2. Probe runs at the lowest threshold, for the sweep's range.
        var jobList: [(ci: Int, a: Int)] = []
        for a in 0..<nA where probeThreshold[a] != nil { for ci in cases.indices { jobList.append((ci, a)) } }
        let sweepJobs = jobList
        counter.add(sweepJobs.count * (settings.sweepSteps + 1))
        // Detectors whose threshold is a final cut on strength (`prominenceIsFinalFilter`) keep
        // their probe peaks: each sweep point is then that run cut at the threshold, exactly what
        // a rerun would give, at a fraction of the cost.
        let cutsProbe: [Bool] = detectors.indices.map { a in
            guard let t = probeThreshold[a], let p = try? detectors[a].resolveParameters([sweptParameter: .real(t)]) else { return false }
            return detectors[a].prominenceIsFinalFilter(p)
        }
        let probes = Slots<(strengths: [Double], scores: Scores, peaks: [Peak])>(sweepJobs.count)
        forEachJob(sweepJobs.count, threads: settings.threads) { k in
            let (ci, a) = sweepJobs[k]
            let peaks = run(detectors[a], cases[ci], threshold: probeThreshold[a] ?? 0)
            let strengths = peaks.map { $0[sweptParameter] ?? $0.strength }.filter { $0.isFinite && $0 > 0 }
            probes.set(k, (strengths, score(peaks, cases[ci], tolerance).1, cutsProbe[a] ? peaks : []))
            counter.step()
        }
        let probeValues = probes.values

        // 3. Thresholds per (algorithm, class), then one run per threshold and case.
        var thresholdTable: [Int: [String: [Double]]] = [:]
        for a in 0..<nA where probeThreshold[a] != nil {
            for cls in classes {
                var pooled: [Double] = []
                for (k, job) in sweepJobs.enumerated() where job.a == a && cases[job.ci].className == cls {
                    pooled += probeValues[k].strengths
                }
                let base = probeThreshold[a] ?? 0
                // Distinct prominences, strongest first; threshold s[r] keeps the r strongest.
                var distinct: [Double] = []
                for v in pooled.sorted(by: >) where v > base && v != distinct.last { distinct.append(v) }
                var set = Set<Double>([base])
                let n = Double(distinct.count)
                for k in 0..<settings.sweepSteps where !distinct.isEmpty {
                    let r = Int(pow(n, Double(k) / Double(settings.sweepSteps - 1)).rounded())
                    if r < distinct.count { set.insert(distinct[r]) }
                }
                // And a value grid: log-spaced from the weakest to the strongest prominence.
                if let hi = distinct.first, let lowest = distinct.last {
                    let lo = max(lowest, hi * 1e-6)
                    for k in 0..<settings.sweepSteps where hi > lo {
                        set.insert(lo * pow(hi / lo, Double(k) / Double(settings.sweepSteps - 1)))
                    }
                }
                let list = set.sorted()
                thresholdTable[a, default: [:]][cls] = list
            }
        }
        let thresholds = thresholdTable
        var runList: [(job: Int, t: Int)] = []
        for (k, job) in sweepJobs.enumerated() {
            let list = thresholds[job.a]?[cases[job.ci].className] ?? []
            for t in list.indices.dropFirst() { runList.append((k, t)) }
        }
        let runs = runList
        counter.add(runs.count - sweepJobs.count * settings.sweepSteps)
        let runScores = Slots<Scores>(runs.count)
        forEachJob(runs.count, threads: settings.threads) { r in
            let (k, t) = runs[r]
            let (ci, a) = sweepJobs[k]
            let value = thresholds[a]?[cases[ci].className]?[t] ?? 0
            let peaks = cutsProbe[a]
                ? probeValues[k].peaks.filter { $0.strength > value }
                : run(detectors[a], cases[ci], threshold: value)
            runScores.set(r, score(peaks, cases[ci], tolerance).1)
            counter.step()
        }
        let runValues = runScores.values
        let defaultValues = defaults.values

        // Assemble the sweeps in algorithm, then class order; sums in case order.
        var sweeps: [Sweep] = []
        for a in 0..<nA where probeThreshold[a] != nil {
            for cls in classes {
                let list = thresholds[a]?[cls] ?? []
                var sums = [Scores](repeating: Scores(), count: list.count)
                for (k, job) in sweepJobs.enumerated() where job.a == a && cases[job.ci].className == cls {
                    sums[0] = sums[0] + probeValues[k].scores
                }
                for (r, run) in runs.enumerated() {
                    let job = sweepJobs[run.job]
                    if job.a == a && cases[job.ci].className == cls { sums[run.t] = sums[run.t] + runValues[r] }
                }
                var best = 0
                for i in sums.indices where sums[i].f1 > sums[best].f1 { best = i }
                var defaultScores = Scores()
                for (ci, c) in cases.enumerated() where c.className == cls {
                    defaultScores = defaultScores + defaultValues[ci * nA + a].scores
                }
                sweeps.append(Sweep(
                    className: cls, algorithm: detectors[a].name, parameter: sweptParameter,
                    points: zip(list, sums).map { SweepPoint(threshold: $0, scores: $1) },
                    best: best, defaultScores: defaultScores))
            }
        }
        return EvaluationResult(
            cases: cases, algorithms: detectors.map(\.name), parameters: parameters,
            results: defaultValues, sweeps: sweeps, settings: settings)
    }

    /// The peaks of `d` on a case with the swept parameter at `threshold` (none if it fails).
    static func run(_ d: any PeakDetector, _ c: EvaluationCase, threshold: Double) -> [Peak] {
        guard let p = try? d.resolveParameters([sweptParameter: .real(threshold)]) else { return [] }
        return (try? d.detect(in: c.image, mask: c.mask, parameters: p, nonFinite: .mask))?.peaks ?? []
    }

    /// Runs `body(0..<count)` on `threads` workers (nil = one per core; 1 = in order on this
    /// thread), handing out indices one at a time.
    public static func forEachJob(_ count: Int, threads: Int?, _ body: @Sendable (Int) -> Void) {
        let workers = min(count, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let next = JobCounter(count)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = next.take() { body(i) }
        }
    }

    /// Scores a peak list against a case's truth.
    static func score(_ peaks: [Peak], _ c: EvaluationCase, _ tolerance: Double) -> ([Point], Scores, MatchResult) {
        let points = peaks.map { Point(x: $0.x, y: $0.y) }
        let match = Matching.match(detections: points, truth: c.truth.map { Point(x: $0.x, y: $0.y) }, tolerance: tolerance)
        return (points, Scores(match), match)
    }
}

/// Results written by parallel jobs, each to its own index (checked by the compiler: all state
/// sits in a `Mutex`).
public final class Slots<T: Sendable>: Sendable {
    private let items: Mutex<[T?]>
    public init(_ count: Int) { items = Mutex([T?](repeating: nil, count: count)) }
    public func set(_ i: Int, _ value: T?) { items.withLock { $0[i] = value } }
    /// Every value, in index order (all jobs have run when this is read).
    public var values: [T] { items.withLock { $0.compactMap { $0 } } }
}

/// Hands out job indices 0..<count once each.
final class JobCounter: Sendable {
    private let nextIndex = Mutex(0)
    private let count: Int
    init(_ count: Int) { self.count = count }
    func take() -> Int? {
        nextIndex.withLock { n in
            guard n < count else { return nil }
            n += 1
            return n - 1
        }
    }
}

/// Counts finished jobs for a progress display.
final class ProgressCounter: Sendable {
    private let counts: Mutex<(done: Int, total: Int)>
    private let report: (@Sendable (Int, Int) -> Void)?
    init(total: Int, report: (@Sendable (Int, Int) -> Void)?) {
        counts = Mutex((0, total))
        self.report = report
    }
    func add(_ n: Int) { counts.withLock { $0.total += n } }
    func step() {
        let (d, t) = counts.withLock { c in
            c.done += 1
            return (c.done, c.total)
        }
        report?(d, t)
    }
}
