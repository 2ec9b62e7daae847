import PeakKit
import Spectral

/// Helpers of the correlation routines around Spectral's transforms: row-block loops and the
/// transform length for a window of a linear correlation. Loops run on buffer pointers with
/// wrapping index arithmetic, split into row blocks over `Parallel.forEach` when large; each
/// element is computed the same way whichever thread runs it (results do not depend on threads).
enum SpectralWork {
    /// Runs `body(rowStart, rowEnd)` over row blocks, in parallel when the work is large.
    static func rows(_ rows: Int, elements: Int, _ body: (Int, Int) -> Void) {
        if elements < 1 << 17 || rows < 2 { body(0, rows); return }
        let n = min(rows, 16)
        Parallel.forEach(n) { b in body(rows * b / n, rows * (b + 1) / n) }
    }

    /// Smallest transform length for the window [s, s + m) of a full linear correlation of
    /// lengths n and k (length n + k - 1): no alias of the window may land inside [0, L).
    static func transformLength(n: Int, k: Int, start s: Int, count m: Int) -> Int {
        nextFastSize(max(s + m, n + k - 1 - s, n, k))
    }
}
