/// Order statistics in expected linear time, shared by every module that needs medians or
/// percentiles (noise estimates, display scaling).
///
/// Order statistics of finite Float values by quickselect (median-of-three pivots; if
/// partitioning keeps degenerating, the remaining range is sorted, so the worst case is
/// O(n log n)). Selections must come in ascending order of rank: after selecting rank k, the
/// values are partitioned around k and ranks below k are never searched again.
public struct OrderStatistics: Sendable {
    public private(set) var values: [Float]
    /// Everything below this index is <= everything at or above it.
    public private(set) var floor = 0

    public init(values: [Float]) { self.values = values }

    /// Linearly interpolated percentile p (0...100). Requires at least one value.
    public mutating func percentile(_ p: Double) -> Double {
        let n = values.count
        let pos = min(max(p / 100, 0), 1) * Double(n - 1)
        let k = Int(pos.rounded(.down))
        let frac = pos - Double(k)
        let a = Double(select(k))
        guard frac > 0, k + 1 < n else { return a }
        // The next order statistic is the minimum of the part above k.
        var b = Float.infinity
        values.withUnsafeBufferPointer { v in
            for i in (k + 1)..<n where v[i] < b { b = v[i] }
        }
        return a + frac * (Double(b) - a)
    }

    /// The k-th smallest value (0-based). Requires k >= the rank of any earlier selection.
    public mutating func select(_ k: Int) -> Float {
        precondition(k >= floor && k < values.count)
        var lo = floor, hi = values.count - 1
        var budget = 64
        let result: Float = values.withUnsafeMutableBufferPointer { a in
            while hi > lo {
                budget &-= 1
                if budget == 0 {
                    a[lo...hi].sort()
                    break
                }
                let mid = lo &+ (hi &- lo) / 2
                if a[mid] < a[lo] { a.swapAt(mid, lo) }
                if a[hi] < a[lo] { a.swapAt(hi, lo) }
                if a[hi] < a[mid] { a.swapAt(hi, mid) }
                let pivot = a[mid]
                // Hoare partition: afterwards a[lo...j] <= pivot <= a[i...hi], j < i, and any
                // index strictly between j and i holds the pivot value.
                var i = lo, j = hi
                while i <= j {
                    while a[i] < pivot { i &+= 1 }
                    while a[j] > pivot { j &-= 1 }
                    if i <= j {
                        a.swapAt(i, j)
                        i &+= 1
                        j &-= 1
                    }
                }
                if k <= j { hi = j } else if k >= i { lo = i } else { break }
            }
            return a[k]
        }
        floor = k
        return result
    }
}

/// One-shot order statistics on an array the caller no longer needs in order.
public enum Selection {
    /// The element that would be at index `k` if `values` were sorted ascending. Reorders `values`.
    public static func select(_ values: inout [Float], _ k: Int) -> Float {
        if values.count >= radixMinimum { return radixSelect(values, k) }
        var statistics = OrderStatistics(values: values)
        values = []
        let v = statistics.select(k)
        values = statistics.values
        return v
    }

    /// From this many values on, `select` uses `radixSelect`.
    static let radixMinimum = 4096

    /// The k-th smallest of `values` by radix selection on order-preserving 32-bit keys: a
    /// histogram of 11 key bits, then only the bucket holding rank k is kept, three times (bits
    /// 31-21, 20-10, 9-0); a bucket small enough goes to quickselect. Exact (the same value any
    /// selection returns), about two passes over the data and free of the mispredicted branches
    /// of partitioning random data. Values must not be NaN.
    static func radixSelect(_ values: [Float], _ k: Int) -> Float {
        precondition(k >= 0 && k < values.count)
        @inline(__always) func key(_ v: Float) -> UInt32 {
            let b = v.bitPattern
            return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        }
        var current = values
        var rank = k
        var counts = [Int](repeating: 0, count: 2048)
        for (shift, mask) in [(UInt32(21), UInt32(0x7FF)), (10, 0x7FF), (0, 0x3FF)] {
            if current.count < radixMinimum {
                var statistics = OrderStatistics(values: current)
                return statistics.select(rank)
            }
            for i in counts.indices { counts[i] = 0 }
            current.withUnsafeBufferPointer { v in
                counts.withUnsafeMutableBufferPointer { c in
                    for x in v { c[Int((key(x) >> shift) & mask)] &+= 1 }
                }
            }
            var bucket = 0, below = 0
            while below + counts[bucket] <= rank { below += counts[bucket]; bucket += 1 }
            var members: [Float] = []
            members.reserveCapacity(counts[bucket])
            let b = UInt32(bucket)
            for x in current where (key(x) >> shift) & mask == b { members.append(x) }
            current = members
            rank -= below
        }
        // Every key bit is now the same: all remaining values are equal.
        return current[rank]
    }

    /// The median (lower median for even counts). Reorders `values`.
    public static func median(_ values: inout [Float]) -> Float {
        select(&values, (values.count - 1) / 2)
    }
}
