#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Process-wide FFT settings. Reading or changing them takes the planner lock (cheap).
public enum FFTSettings {
    /// The most threads one transform may use. Default: the active processor count.
    /// Changing it affects plans made afterwards (plans are cached per thread count); results do
    /// not depend on it (FFTW_ESTIMATE plans are bit-identical across thread counts).
    public static var threadCount: Int {
        get { Planner.state.withLock { $0.threadCount } }
        set {
            precondition(newValue >= 1, "FFTSettings.threadCount must be at least 1, got \(newValue)")
            Planner.state.withLock { $0.threadCount = newValue }
        }
    }

    /// Transforms with fewer elements (width * height of the real array) than this run on one
    /// thread: below it thread start-up costs more than it saves. Default 65536 (256 x 256).
    public static var threadingThreshold: Int {
        get { Planner.state.withLock { $0.threadingThreshold } }
        set {
            precondition(newValue >= 0, "FFTSettings.threadingThreshold must not be negative, got \(newValue)")
            Planner.state.withLock { $0.threadingThreshold = newValue }
        }
    }

    /// The thread count a transform of this shape gets under the current settings.
    public static func threads(width: Int, height: Int) -> Int {
        Planner.state.withLock { $0.threads(elements: width &* height, rows: height) }
    }

    /// Starts FFTW's planner now (its threads and the registration of its solvers, about 1 ms
    /// for both precisions), which the first plan of a process would otherwise do, so that a
    /// caller can do it beside other work. Idempotent and thread-safe; the plans made afterwards
    /// are the same.
    public static func startPlanner() {
        Planner.state.withLock { $0.initialiseThreads() }
    }

    /// The number of FFTW plans in the cache (each shape, precision, direction and thread count
    /// has one).
    public static var cachedPlanCount: Int { Planner.state.withLock { $0.plans.count } }

    /// Empties the plan cache. Plans still held by live `FFTPlan2D`s or convolvers stay valid and
    /// are destroyed when the last holder goes.
    public static func removeCachedPlans() {
        // Take the dictionary out under the lock and release it outside: releasing a plan takes
        // the lock (fftw_destroy_plan is a planner call), and the lock is not recursive.
        // Swift may end a value's lifetime at its last use, so `old` is kept alive explicitly
        // until after the unlock: with `_ = old` an optimised build released the dictionary
        // inside withLock and crashed on the recursive lock (found by the tests in release).
        var old: [PlanKey: PlanHandle] = [:]
        Planner.state.withLock { s in swap(&old, &s.plans) }
        withExtendedLifetime(old) {}
    }
}

enum FFTDirection: Hashable, Sendable {
    case forward  // r2c
    case inverse  // c2r
    // The 1-D plans of a split transform (SplitTransform): a row r2c / c2r of length `cols`, and
    // a batched column transform of length `rows` over the lanes of one block.
    case rowForward, rowInverse, columnForward, columnInverse
}

/// The plan cache key. The thread count is part of it because `fftw_plan_with_nthreads` is baked
/// into a plan when it is made.
struct PlanKey: Hashable, Sendable {
    var rows: Int
    var cols: Int
    var precision: FFTPrecision
    var direction: FFTDirection
    var threads: Int
}

/// One FFTW plan. Immutable after creation; executing it is thread-safe. Destroyed (under the
/// planner lock) when the cache and every `FFTPlan2D` holding it have let go.
final class PlanHandle: @unchecked Sendable {
    // Safe: `raw` is immutable after creation, FFTW's execute is thread-safe, and destruction
    // happens once, under the planner lock, in deinit.
    let raw: OpaquePointer
    let key: PlanKey

    init(raw: OpaquePointer, key: PlanKey) {
        self.raw = raw
        self.key = key
    }

    deinit {
        let raw = raw, p = key.precision
        Planner.state.withLock { _ in FFTW.destroy(p, raw) }
    }
}

struct PlannerState {
    var plans: [PlanKey: PlanHandle] = [:]
    var threadsInitialised = false
    var threadCount: Int
    var threadingThreshold: Int

    func threads(elements: Int, rows: Int) -> Int {
        elements < threadingThreshold ? 1 : max(1, min(threadCount, rows))
    }
}

/// The one lock around all FFTW planner calls: fftw_init_threads, fftw_plan_with_nthreads (global
/// planner state), plan creation and destruction. Execution does not take it.
enum Planner {
    static let state = Mutex(PlannerState(
        threadCount: max(1, ProcessInfo.processInfo.activeProcessorCount),
        threadingThreshold: 1 << 16))

    /// The cached forward (r2c) and inverse (c2r) plans for `rows x cols` reals, made on first use.
    static func plans(rows: Int, cols: Int, precision: FFTPrecision, threads: Int) -> (forward: PlanHandle, inverse: PlanHandle) {
        precondition(rows > 0 && cols > 0, "Spectral: cannot plan an FFT of empty shape \(cols)x\(rows) (width x height)")
        precondition(rows <= Int(Int32.max) && cols <= Int(Int32.max), "Spectral: FFT shape \(cols)x\(rows) too large")
        let fk = PlanKey(rows: rows, cols: cols, precision: precision, direction: .forward, threads: threads)
        let ik = PlanKey(rows: rows, cols: cols, precision: precision, direction: .inverse, threads: threads)
        return state.withLock { s -> (forward: PlanHandle, inverse: PlanHandle) in
            if let f = s.plans[fk], let i = s.plans[ik] { return (f, i) }
            s.initialiseThreads()
            // Plan on scratch arrays from fftw_alloc: later executions use other fftw_alloc
            // arrays of the same shape, which have the same (SIMD) alignment.
            let realCount = rows * cols, complexCount = rows * (cols / 2 + 1)
            let r = FFTW.allocReal(precision, count: realCount)
            let c = FFTW.allocComplex(precision, count: complexCount)
            defer {
                FFTW.free(precision, r)
                FFTW.free(precision, c)
            }
            FFTW.setPlannerThreads(precision, threads)
            let f = s.plan(fk) { FFTW.planR2C(precision, rows: rows, cols: cols, input: r, output: c) }
            let i = s.plan(ik) { FFTW.planC2R(precision, rows: rows, cols: cols, input: c, output: r) }
            return (f, i)
        }
    }

    /// The split transform (rows, then buffered column blocks) of `rows x cols` reals. Its four
    /// 1-D plans are single-threaded FFTW plans, cached like the 2-D ones; `threads` only sets
    /// how many of our own tasks run them.
    static func split(rows: Int, cols: Int, precision: FFTPrecision, threads: Int) -> SplitTransform {
        precondition(rows > 0 && cols > 0, "Spectral: cannot plan an FFT of empty shape \(cols)x\(rows) (width x height)")
        precondition(rows <= Int(Int32.max) && cols <= Int(Int32.max), "Spectral: FFT shape \(cols)x\(rows) too large")
        let lanes = SplitTransform.lanes(for: precision)
        let keys = [
            PlanKey(rows: 1, cols: cols, precision: precision, direction: .rowForward, threads: 1),
            PlanKey(rows: 1, cols: cols, precision: precision, direction: .rowInverse, threads: 1),
            PlanKey(rows: rows, cols: lanes, precision: precision, direction: .columnForward, threads: 1),
            PlanKey(rows: rows, cols: lanes, precision: precision, direction: .columnInverse, threads: 1),
        ]
        let handles = state.withLock { s -> [PlanHandle] in
            let cached = keys.compactMap { s.plans[$0] }
            if cached.count == keys.count { return cached }
            // FFTW's threads are started before any plan, although these 1-D plans are
            // single-threaded: fftw_init_threads must come before the planner is first used
            // (its threaded solvers are registered then), or a later threaded 2-D plan would be
            // chosen from fewer solvers depending on what was planned before in the process.
            s.initialiseThreads()
            let r = FFTW.allocReal(precision, count: cols)
            let c = FFTW.allocComplex(precision, count: cols / 2 + 1)
            let b = FFTW.allocComplex(precision, count: rows * lanes)
            defer {
                FFTW.free(precision, r)
                FFTW.free(precision, c)
                FFTW.free(precision, b)
            }
            FFTW.setPlannerThreads(precision, 1)
            return [
                s.plan(keys[0]) { FFTW.planRowR2C(precision, n: cols, input: r, output: c) },
                s.plan(keys[1]) { FFTW.planRowC2R(precision, n: cols, input: c, output: r) },
                s.plan(keys[2]) { FFTW.planColumns(precision, n: rows, lanes: lanes, sign: -1, buffer: b) },
                s.plan(keys[3]) { FFTW.planColumns(precision, n: rows, lanes: lanes, sign: 1, buffer: b) },
            ]
        }
        return SplitTransform(rows: rows, cols: cols, precision: precision, threads: threads, plans: handles)
    }
}

extension PlannerState {
    /// fftw_init_threads for both precisions, once (lock held).
    mutating func initialiseThreads() {
        if !threadsInitialised {
            FFTW.initThreads()
            threadsInitialised = true
        }
    }

    /// The cached plan for `key`, or a new one from `make` (lock held; planner threads set).
    mutating func plan(_ key: PlanKey, _ make: () -> OpaquePointer?) -> PlanHandle {
        if let cached = plans[key] { return cached }
        guard let raw = make() else {
            fatalError("Spectral: FFTW could not plan \(key.direction) for \(key.cols)x\(key.rows) \(key.precision)")
        }
        let h = PlanHandle(raw: raw, key: key)
        plans[key] = h
        return h
    }
}

/// Forward (real to half-complex) and inverse 2-D transforms of one shape and precision.
///
/// Plans come from a process-wide cache, so making an `FFTPlan2D` for a shape already seen is
/// cheap. One plan serves any number of buffers of its shape, from any number of threads at once
/// (FFTW's new-array execute functions are thread-safe; only planning needs the lock).
///
/// Conventions are FFTW's and numpy's: `forward` computes
/// X[v, u] = sum_{y, x} x[y, x] exp(-2 pi i (v y / height + u x / width)) for u in 0...width/2;
/// `inverse` computes the inverse, divided by width * height unless `normalize` is false.
public final class FFTPlan2D<T: FFTScalar>: @unchecked Sendable {
    // Safe: every stored property is immutable after init; executing uses the new-array
    // functions on caller-owned buffers, which FFTW allows from any thread.
    /// Real-array width (columns, the fast axis) and height (rows).
    public let width: Int
    public let height: Int
    /// Threads each transform of this plan uses.
    public let threads: Int
    /// The 2-D FFTW plans (small shapes), or nil when `split` does the work.
    let forwardPlan: PlanHandle?
    let inversePlan: PlanHandle?
    /// Rows and buffered column blocks (shapes of at least `SplitTransform.minimumElements`).
    let split: SplitTransform?

    /// Plans for `width x height` real arrays. `threads` defaults to `FFTSettings.threads(...)`.
    /// Shapes must be at least 1x1 (a precondition: an empty shape is a programming error).
    public convenience init(width: Int, height: Int, threads: Int? = nil) {
        self.init(width: width, height: height, threads: threads, split: SplitTransform.applies(rows: height, cols: width))
    }

    /// `split` chooses the split transform or FFTW's 2-D plan regardless of the shape rule (for
    /// tests comparing the two on the same shapes).
    init(width: Int, height: Int, threads: Int?, split useSplit: Bool) {
        precondition(width > 0 && height > 0, "FFTPlan2D: empty shape \(width)x\(height) (width and height must be at least 1)")
        FFTW.checkScalar(T.self)
        let t = threads ?? FFTSettings.threads(width: width, height: height)
        precondition(t >= 1, "FFTPlan2D: threads must be at least 1, got \(t)")
        self.width = width
        self.height = height
        self.threads = t
        if useSplit {
            split = Planner.split(rows: height, cols: width, precision: T.fftPrecision, threads: t)
            forwardPlan = nil
            inversePlan = nil
        } else {
            split = nil
            (forwardPlan, inversePlan) = Planner.plans(rows: height, cols: width, precision: T.fftPrecision, threads: t)
        }
    }

    /// Width of the half spectrum: width / 2 + 1.
    public var spectrumWidth: Int { width / 2 + 1 }

    /// Real to half-complex transform; `input` is not modified.
    public func forward(_ input: FFTRealArray<T>, into output: FFTHalfSpectrum<T>) {
        precondition(input.width == width && input.height == height,
                     "FFTPlan2D.forward: input is \(input.width)x\(input.height), plan is \(width)x\(height)")
        precondition(output.width == width && output.height == height,
                     "FFTPlan2D.forward: output is for \(output.width)x\(output.height), plan is \(width)x\(height)")
        executeForward(input.raw, output.raw)
    }

    /// Real to half-complex transform into a new spectrum.
    public func forward(_ input: FFTRealArray<T>) -> FFTHalfSpectrum<T> {
        let out = FFTHalfSpectrum<T>(uninitializedWidth: width, height: height)
        forward(input, into: out)
        return out
    }

    /// Half-complex to real transform. **Destroys `input`** (FFTW's c2r transforms overwrite
    /// their input). Divides by width * height unless `normalize` is false.
    public func inverse(_ input: FFTHalfSpectrum<T>, into output: FFTRealArray<T>, normalize: Bool = true) {
        precondition(input.width == width && input.height == height,
                     "FFTPlan2D.inverse: input is for \(input.width)x\(input.height), plan is \(width)x\(height)")
        precondition(output.width == width && output.height == height,
                     "FFTPlan2D.inverse: output is \(output.width)x\(output.height), plan is \(width)x\(height)")
        let factor = 1 / (Double(width) * Double(height))
        if split != nil {
            // The scaling happens as each row is stored (no separate pass over the output).
            executeInverse(input.raw, output.raw, scale: normalize ? factor : nil)
        } else {
            executeInverse(input.raw, output.raw)
            if normalize { Kernels.scale(output.raw, count: width * height, by: factor, as: T.self) }
        }
    }

    /// Half-complex to real transform into a new array. **Destroys `input`.**
    public func inverse(_ input: FFTHalfSpectrum<T>, normalize: Bool = true) -> FFTRealArray<T> {
        let out = FFTRealArray<T>(uninitializedWidth: width, height: height)
        inverse(input, into: out, normalize: normalize)
        return out
    }

    // Raw execution on fftw_alloc'd buffers of this plan's shape (callers keep them alive).
    func executeForward(_ input: UnsafeMutableRawPointer, _ output: UnsafeMutableRawPointer) {
        if let split {
            let src = SharedRaw(input), rowBytes = width &* MemoryLayout<T>.stride
            split.forward(into: output) { y, row in
                row.copyMemory(from: src.raw + y &* rowBytes, byteCount: rowBytes)
                return true
            }
        } else {
            FFTW.executeR2C(T.fftPrecision, forwardPlan!.raw, input, output)
        }
    }

    /// The inverse transform of `input` (destroyed) into `output`; with `scale`, every output
    /// value is multiplied by it (in T, as `Kernels.scale` does).
    func executeInverse(_ input: UnsafeMutableRawPointer, _ output: UnsafeMutableRawPointer, scale: Double? = nil) {
        if let split {
            split.columns(input, plan: split.columnInverse, gather: nil)
            let dst = SharedRaw(output), w = width
            split.inverseRows(input, outputRows: 0..<height) { y, row in
                Kernels.storeRow(row, into: dst.raw + y &* w &* MemoryLayout<T>.stride, count: w, scale: scale, as: T.self)
            }
        } else {
            FFTW.executeC2R(T.fftPrecision, inversePlan!.raw, input, output)
            if let scale { Kernels.scale(output, count: width * height, by: scale, as: T.self) }
        }
    }
}
