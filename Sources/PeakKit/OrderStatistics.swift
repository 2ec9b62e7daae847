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

    /// The k-th smallest of `values` by bucket selection: 2048 buckets of equal width between
    /// the smallest and the largest value, a histogram, then only the bucket holding rank k is
    /// kept, until few enough values remain for quickselect. The bucket of a value is a
    /// non-decreasing function of it (a difference and a product by a positive number, rounded,
    /// then truncated), so the result is exact (the value any selection returns); the smallest
    /// and largest values fall in the first and last bucket, so every round shrinks the set.
    /// Equal-width buckets spread noise-like data over hundreds of counters (bits of the float
    /// would put an octave in four). About two passes, free of the mispredicted branches of
    /// partitioning random data. Values must not be NaN.
    static func radixSelect(_ values: [Float], _ k: Int) -> Float {
        precondition(k >= 0 && k < values.count)
        let buckets = 2048
        var current = values
        var rank = k
        var counts = [Int](repeating: 0, count: buckets)
        while current.count >= radixMinimum {
            var lo = current[0], hi = current[0]
            for x in current { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
            if !(lo < hi) { return lo }
            let base = Double(lo), scale = Double(buckets) / (Double(hi) - Double(lo))
            let last = buckets - 1
            @inline(__always) func bucket(_ x: Float) -> Int { Swift.min(last, Int((Double(x) - base) * scale)) }
            for i in counts.indices { counts[i] = 0 }
            current.withUnsafeBufferPointer { v in
                counts.withUnsafeMutableBufferPointer { c in
                    for x in v { c[bucket(x)] &+= 1 }
                }
            }
            var b = 0, below = 0
            while below + counts[b] <= rank { below += counts[b]; b += 1 }
            var members: [Float] = []
            members.reserveCapacity(counts[b])
            for x in current where bucket(x) == b { members.append(x) }
            current = members
            rank -= below
        }
        var statistics = OrderStatistics(values: current)
        return statistics.select(rank)
    }

    /// The median (lower median for even counts). Reorders `values`.
    public static func median(_ values: inout [Float]) -> Float {
        select(&values, (values.count - 1) / 2)
    }
}
