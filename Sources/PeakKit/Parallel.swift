import Dispatch

/// A raw pointer that may cross into `Parallel.forEach` closures.
public struct SharedPointer<T>: @unchecked Sendable {
    // Safe only when the closures write disjoint elements and the memory outlives the call, as
    // in every use inside peaks (each use allocates, runs `Parallel.forEach`, then reads).
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    public init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
    @inline(__always) public subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

/// Work spread over the machine's cores. Each index is processed exactly once; results must not
/// depend on which thread runs which index (so outputs stay byte-identical).
///
/// Nesting: libdispatch gives a `concurrentPerform` inside another one about cores / (outer
/// iterations) threads, so a loop nested in a 2-way loop on 2 cores runs serially, and keeps
/// doing so after the other outer task has ended (docs/performance.md, "Session 15"). Independent
/// pieces of work that each parallelise internally are better run one after the other, or cut
/// into jobs of one flat loop (`ContentScale.scaleSpace`).
public enum Parallel {
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { b in
            let box = UncheckedBox(b)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    }

    /// How many chunks a pass over `count` items is cut into when its result must not depend on
    /// the cores (a radix sort's chunks, per-chunk verdicts): a fixed function of the count, at
    /// least 32,768 items a chunk, at most 8 chunks.
    public static func chunkCount(_ count: Int) -> Int { Swift.max(1, Swift.min(8, count / 32_768)) }

    /// The items of chunk `c` of `chunks` over `count` items: consecutive, in order, covering all.
    public static func chunk(_ c: Int, of chunks: Int, count: Int) -> Range<Int> {
        (c * count / chunks)..<((c + 1) * count / chunks)
    }

    /// `body` for consecutive bands of 16,384 of `count` items, the bands over the cores: for
    /// element-wise passes bound by memory traffic, whose result per item does not depend on the band.
    public static func forEachBand(_ count: Int, _ body: (Range<Int>) -> Void) {
        let band = 16_384
        forEach((count + band - 1) / band) { k in body((k * band)..<Swift.min(count, (k + 1) * band)) }
    }

    // Safe: `forEach` does not return before `concurrentPerform` has finished every index, so
    // the closure (and what it captures) outlives every use; callers' closures write disjoint
    // elements, which is what makes their captured state safe to share (documented above).
    private struct UncheckedBox<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }
}

/// Work started now on another thread and collected later with `wait()`: a piece of work that
/// the caller does not need until then (the lattice search beside log's scale space). Unlike a
/// task of a two-way `Parallel.forEach`, it does not make the caller's own parallel loops nested
/// (which would run them on one core). The result is the body's, whatever the timing.
public final class BackgroundTask<T: Sendable>: @unchecked Sendable {
    // Safe: `result` is written once by the body's thread before `group.leave()` and read only
    // after `group.wait()`, which orders the two.
    private let group = DispatchGroup()
    private var result: T?

    public init(_ body: @escaping @Sendable () -> T) {
        group.enter()
        // A queue of its own, not the shared global pool: the pool has one thread per core, and
        // when all of them wait in `wait()` (detections inside a parallel loop) a body queued
        // there would start only when libdispatch's monitor adds a thread, about a second later.
        // A private queue gets a thread when it needs one.
        DispatchQueue(label: "peaks.background-task").async {
            self.result = body()
            self.group.leave()
        }
    }

    /// Waits for the body to finish and returns its result.
    public func wait() -> T {
        group.wait()
        return result!
    }
}
