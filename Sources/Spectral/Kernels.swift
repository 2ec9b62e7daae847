import PeakKit

/// The element loops of Spectral. Each entry point is generic for callers but switches on the
/// precision once and runs a loop specialised for Float or Double (generic code called from
/// another module would otherwise run unspecialised, element by element through witness tables).
/// Loops run on buffer pointers with wrapping index arithmetic. Large loops are split into row
/// blocks over `Parallel.forEach`; every element is computed the same way whichever thread runs
/// it, so results do not depend on the thread count.
enum Kernels {
    /// Elements below which a loop runs on the calling thread only.
    static let parallelThreshold = 1 << 18

    // MARK: Dispatch

    static func scale<T: FFTScalar>(_ raw: UnsafeMutableRawPointer, count: Int, by factor: Double, as _: T.Type) {
        switch T.fftPrecision {
        case .float: scaleImpl(raw.assumingMemoryBound(to: Float.self), count, Float(factor))
        case .double: scaleImpl(raw.assumingMemoryBound(to: Double.self), count, factor)
        }
    }

    /// Copies a `width x height` row-major source into the top-left corner of a zeroed
    /// `paddedWidth x paddedHeight` destination; with `flip`, the source is reversed along both axes
    /// (for correlation).
    static func pad<T: FFTScalar>(
        _ src: UnsafeRawPointer, width: Int, height: Int,
        into dst: UnsafeMutableRawPointer, paddedWidth: Int, paddedHeight: Int, flip: Bool, as _: T.Type
    ) {
        switch T.fftPrecision {
        case .float:
            padImpl(src.assumingMemoryBound(to: Float.self), width, height,
                    dst.assumingMemoryBound(to: Float.self), paddedWidth, paddedHeight, flip)
        case .double:
            padImpl(src.assumingMemoryBound(to: Double.self), width, height,
                    dst.assumingMemoryBound(to: Double.self), paddedWidth, paddedHeight, flip)
        }
    }

    /// Copies `count` values from `src` to `dst`, multiplied by `scale` (converted to T first,
    /// as `scale(_:count:by:as:)` does) when given.
    @inline(__always)
    static func storeRow<T: FFTScalar>(_ src: UnsafeRawPointer, into dst: UnsafeMutableRawPointer, count: Int, scale: Double?, as _: T.Type) {
        guard let scale else {
            dst.copyMemory(from: src, byteCount: count &* MemoryLayout<T>.stride)
            return
        }
        switch T.fftPrecision {
        case .float: scaledCopy(src.assumingMemoryBound(to: Float.self), dst.assumingMemoryBound(to: Float.self), count, Float(scale))
        case .double: scaledCopy(src.assumingMemoryBound(to: Double.self), dst.assumingMemoryBound(to: Double.self), count, scale)
        }
    }

    static func scaledCopy<S: BinaryFloatingPoint>(_ src: UnsafePointer<S>, _ dst: UnsafeMutablePointer<S>, _ count: Int, _ f: S) {
        var i = 0
        while i < count {
            dst[i] = src[i] * f
            i &+= 1
        }
    }

    // MARK: Loops

    /// Runs `body(rowStart, rowEnd)` over row blocks, in parallel when the work is large.
    @inline(__always)
    static func rowBlocks(rows: Int, elements: Int, _ body: (Int, Int) -> Void) {
        if elements < parallelThreshold || rows < 2 {
            body(0, rows)
            return
        }
        let blocks = min(rows, 16)
        Parallel.forEach(blocks) { b in
            body(rows * b / blocks, rows * (b + 1) / blocks)
        }
    }

    static func scaleImpl<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, _ count: Int, _ f: S) {
        let sp = SharedPointer(p)
        let rows = max(1, count >> 12)
        rowBlocks(rows: rows, elements: count) { r0, r1 in
            let start = count * r0 / rows, end = count * r1 / rows
            var i = start
            while i < end {
                sp[i] = sp[i] * f
                i &+= 1
            }
        }
    }

    static func padImpl<S: BinaryFloatingPoint>(
        _ src: UnsafePointer<S>, _ w: Int, _ h: Int,
        _ dst: UnsafeMutablePointer<S>, _ pw: Int, _ ph: Int, _ flip: Bool
    ) {
        let s = SharedPointer(src), d = SharedPointer(dst)
        rowBlocks(rows: ph, elements: pw &* ph) { r0, r1 in
            var y = r0
            while y < r1 {
                let row = d.base + y &* pw
                if y < h {
                    if flip {
                        let from = s.base + (h &- 1 &- y) &* w
                        var x = 0
                        while x < w {
                            row[x] = from[w &- 1 &- x]
                            x &+= 1
                        }
                    } else {
                        row.update(from: s.base + y &* w, count: w)
                    }
                    (row + w).update(repeating: 0, count: pw &- w)
                } else {
                    row.update(repeating: 0, count: pw)
                }
                y &+= 1
            }
        }
    }
}
