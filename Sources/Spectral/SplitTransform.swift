import PeakKit
import _PeaksIntrinsics

/// A 2-D real transform done as 1-D transforms: every row by one 1-D r2c (or c2r) plan, every
/// column of the half spectrum by one batched 1-D complex plan on a small contiguous buffer.
///
/// Why: FFTW's 2-D ESTIMATE plan transforms the columns in place with a stride of a whole
/// spectrum row, which misses the cache on every element at large sizes; MEASURE finds the
/// faster "buffered" plans but picks them by timing, so its bits change between runs. Here the
/// buffering is done by hand: a block of `lanes` adjacent spectrum columns is copied into a
/// buffer of `height x lanes` complex values (each spectrum row contributes `lanes` contiguous
/// values), transformed there in cache, and copied back. Measured at 2048^2 Double, one thread:
/// forward 24 ms against 31 ms for the 2-D ESTIMATE plan; the work then goes to our own threads.
///
/// Determinism by construction: every row is transformed by the same row plan and every column
/// block by the same column plan, whichever thread runs it and however the rows and blocks are
/// shared out; the last block, if narrower, leaves unused lanes that never mix with used ones
/// (a batched transform keeps its lanes apart). Plans are ESTIMATE, made once per shape under the
/// planner lock. So results depend only on the shape and the input, never on the thread count.
///
/// Each task copies a row into an aligned row buffer before the row transform (and out again
/// after), so the new-array execute functions always see buffers from `fftw_alloc` with the
/// alignment the plans were made with, whatever the array's row length.
final class SplitTransform: @unchecked Sendable {
    // Safe: the plans and sizes are set in init and never change; FFTW's new-array execute
    // functions are thread-safe; each task works on its own buffers.
    let rows: Int
    let cols: Int
    let precision: FFTPrecision
    let threads: Int
    /// Columns of the half spectrum: cols / 2 + 1.
    let spectrumWidth: Int
    /// Spectrum columns per block (128 bytes of each spectrum row: 8 Double or 16 Float complex).
    let lanes: Int
    let rowForward: PlanHandle
    let rowInverse: PlanHandle
    let columnForward: PlanHandle
    let columnInverse: PlanHandle

    /// Shapes at or above this many elements (with at least 2 rows) use the split transform;
    /// smaller ones the 2-D ESTIMATE plan (their columns fit in cache). A rule on the shape only.
    static let minimumElements = 1 << 16

    static func applies(rows: Int, cols: Int) -> Bool {
        rows >= 2 && cols >= 2 && rows &* cols >= minimumElements
    }

    static func lanes(for precision: FFTPrecision) -> Int { precision == .double ? 8 : 16 }

    init(rows: Int, cols: Int, precision: FFTPrecision, threads: Int, plans: [PlanHandle]) {
        self.rows = rows
        self.cols = cols
        self.precision = precision
        self.threads = threads
        spectrumWidth = cols / 2 + 1
        lanes = SplitTransform.lanes(for: precision)
        rowForward = plans[0]
        rowInverse = plans[1]
        columnForward = plans[2]
        columnInverse = plans[3]
    }

    var scalarSize: Int { precision == .double ? 8 : 4 }
    var blockCount: Int { (spectrumWidth + lanes - 1) / lanes }

    /// Splits `count` items into tasks for the threads. More tasks than threads so that a thread
    /// slowed by the host (CPU steal) does not hold the others up; the split never changes what
    /// is computed for an item.
    func forEachRange(_ count: Int, _ body: (Int, Int) -> Void) {
        let tasks = threads <= 1 ? 1 : min(count, threads &* 4)
        if tasks <= 1 { body(0, count); return }
        Parallel.forEach(tasks) { t in body(count * t / tasks, count * (t + 1) / tasks) }
    }

    // MARK: Forward

    /// The half spectrum of a `rows x cols` real array whose row y is written by
    /// `fill(y, rowBuffer)` (all `cols` values); `fill` returns false for a row that is all zero
    /// (its spectrum row is zero, no transform needed).
    func forward(into spectrum: UnsafeMutableRawPointer, fill: (Int, UnsafeMutableRawPointer) -> Bool) {
        let p = precision, cs = 2 &* scalarSize, hw = spectrumWidth
        let out = SharedRaw(spectrum)
        forEachRange(rows) { y0, y1 in
            let r = FFTW.allocReal(p, count: cols), c = FFTW.allocComplex(p, count: hw)
            defer { FFTW.free(p, r); FFTW.free(p, c) }
            for y in y0..<y1 {
                let dst = out.raw + y &* hw &* cs
                if fill(y, r) {
                    FFTW.executeR2C(p, rowForward.raw, r, c)
                    dst.copyMemory(from: c, byteCount: hw &* cs)
                } else {
                    dst.initializeMemory(as: UInt8.self, repeating: 0, count: hw &* cs)
                }
            }
        }
        columns(spectrum, plan: columnForward, gather: nil)
    }

    /// The column stage on `spectrum` in place. `gather`, when given, writes the block's input
    /// itself (block start column, width, buffer) instead of a copy from `spectrum`.
    func columns(_ spectrum: UnsafeMutableRawPointer, plan: PlanHandle,
                 gather: ((Int, Int, UnsafeMutableRawPointer) -> Void)?) {
        if rows < 2 && gather == nil { return }
        let p = precision, cs = 2 &* scalarSize, hw = spectrumWidth, l = lanes, n = rows
        let spec = SharedRaw(spectrum)
        forEachRange(blockCount) { b0, b1 in
            let buf = FFTW.allocComplex(p, count: n &* l)
            // Lanes past a narrow last block are never read back; zero them once anyway.
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: n &* l &* cs)
            defer { FFTW.free(p, buf) }
            for b in b0..<b1 {
                let x0 = b &* l, bw = min(l, hw &- x0)
                let span = bw &* cs
                if let gather {
                    gather(x0, bw, buf)
                } else {
                    var y = 0
                    while y < n {
                        let ahead = y &+ SplitTransform.prefetchRows
                        if ahead < n { SplitTransform.prefetch(spec.raw + (ahead &* hw &+ x0) &* cs, bytes: span, write: false) }
                        (buf + y &* l &* cs).copyMemory(from: spec.raw + (y &* hw &+ x0) &* cs, byteCount: span)
                        y &+= 1
                    }
                }
                FFTW.executeDFT(p, plan.raw, buf)
                var y = 0
                while y < n {
                    let ahead = y &+ SplitTransform.prefetchRows
                    if ahead < n { SplitTransform.prefetch(spec.raw + (ahead &* hw &+ x0) &* cs, bytes: span, write: true) }
                    (spec.raw + (y &* hw &+ x0) &* cs).copyMemory(from: buf + y &* l &* cs, byteCount: span)
                    y &+= 1
                }
            }
        }
    }

    /// How many rows ahead the column-block copies prefetch. Consecutive rows of a block are a
    /// spectrum row apart (many kilobytes, a new page each time), a stride the hardware
    /// prefetchers do not follow, so without this every row waits for memory: measured at
    /// 2048^2 Double, the product gather of an inverse took 20 ms on its own.
    static let prefetchRows = 8

    /// Prefetches the cache lines of `bytes` bytes from `start` (at most 3 lines: a block row).
    @inline(__always)
    static func prefetch(_ start: UnsafeRawPointer, bytes: Int, write: Bool) {
        let last = start + (bytes &- 1)
        if write {
            peaks_prefetch_write(start); peaks_prefetch_write(start + 64); peaks_prefetch_write(last)
        } else {
            peaks_prefetch(start); peaks_prefetch(start + 64); peaks_prefetch(last)
        }
    }

    // MARK: Inverse

    /// The row stage of the inverse: spectrum rows `outputRows` (after the column stage) to real
    /// rows, each handed to `store(y, rowBuffer)`. Other rows are not computed.
    func inverseRows(_ spectrum: UnsafeMutableRawPointer, outputRows: Range<Int>,
                     store: (Int, UnsafeMutableRawPointer) -> Void) {
        let p = precision, cs = 2 &* scalarSize, hw = spectrumWidth
        let spec = SharedRaw(spectrum)
        let first = outputRows.lowerBound
        forEachRange(outputRows.count) { a, b in
            let r = FFTW.allocReal(p, count: cols), c = FFTW.allocComplex(p, count: hw)
            defer { FFTW.free(p, r); FFTW.free(p, c) }
            for y in (first &+ a)..<(first &+ b) {
                // The c2r transform overwrites its input: transform a copy of the row.
                c.copyMemory(from: spec.raw + y &* hw &* cs, byteCount: hw &* cs)
                FFTW.executeC2R(p, rowInverse.raw, c, r)
                store(y, r)
            }
        }
    }
}

/// A raw pointer that may cross into `Parallel.forEach` closures.
struct SharedRaw: @unchecked Sendable {
    // Safe: the tasks write disjoint parts, and the memory outlives the parallel call.
    let raw: UnsafeMutableRawPointer
    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }
}
