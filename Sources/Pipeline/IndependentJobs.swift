import Dispatch
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Independent jobs (the files of `peaks detect --each`, each a whole detection of its own) on
/// worker threads, one job per worker at a time, from start to end on that worker.
///
/// Why not one job after the other, each on all cores: a detection of a small or medium image
/// keeps about 1.6 of two cores busy (the parts between its parallel loops run on one), so two
/// at a time fill the machine better. Measured with two processes on two cores: 539 DSB2018
/// images 11.2 -> 8.0 s, the eight 512² Golden/real images 233 -> 204 ms (docs/performance.md,
/// "Session 20"). A job's own parallel loops then run nested, mostly on its worker's thread;
/// every detection's result is the same on any number of threads, so the outputs do not change.
/// Results come back in job order, whatever finished first. At most `workers` jobs are in memory
/// at once.
public enum IndependentJobs {
    /// Runs `job(i)` for every i in `0 ..< count` and returns the results in index order.
    ///
    /// - Parameters:
    ///   - count: How many jobs.
    ///   - threads: Worker threads (0 = one per core, at most `count`). With one worker the jobs
    ///     run on the calling thread, one after the other.
    ///   - job: One job; runs on a worker thread.
    public static func run<R: Sendable>(count: Int, threads: Int = 0, _ job: @escaping @Sendable (Int) -> R) -> [R] {
        guard count > 0 else { return [] }
        let workers = max(1, min(threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount, count))
        guard workers > 1 else { return (0..<count).map(job) }
        let state = JobState<R>(count: count)
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            DispatchQueue.global(qos: .userInitiated).async {
                defer { group.leave() }
                while let i = state.claim() { state.store(i, job(i)) }
            }
        }
        group.wait()
        return state.results()
    }
}

/// The next job to claim and the results so far, under one lock.
private final class JobState<R: Sendable>: Sendable {
    private struct Slots: ~Copyable {
        var next = 0
        var results: [R?]
    }
    private let slots: Mutex<Slots>

    init(count: Int) { slots = Mutex(Slots(results: [R?](repeating: nil, count: count))) }

    func claim() -> Int? {
        slots.withLock { s in
            guard s.next < s.results.count else { return nil }
            s.next += 1
            return s.next - 1
        }
    }

    func store(_ i: Int, _ result: R) {
        slots.withLock { $0.results[i] = result }
    }

    func results() -> [R] {
        slots.withLock { $0.results.map { $0! } }
    }
}
