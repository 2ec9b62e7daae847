import _PeaksVectorKernels
/// Order statistics in expected linear time, shared by every module that needs medians or
/// percentiles (noise estimates, display scaling).
///
/// Order statistics of finite Float values by quickselect (median-of-three pivots, branch-free
/// partitions; if partitioning keeps degenerating, the remaining range is sorted, so the worst
/// case is O(n log n)). Selections must come in ascending order of rank: after selecting rank k, the
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
    /// Quickselect in C (`peaks_select`, _PeaksVectorKernels: branch-free partitions, about three
    /// times as fast as a branching one on noise-like data) over the values from `floor` on,
    /// which are the largest count - floor values.
    public mutating func select(_ k: Int) -> Float {
        precondition(k >= floor && k < values.count)
        let from = floor
        let result = values.withUnsafeMutableBufferPointer { a in
            peaks_select(a.baseAddress! + from, a.count - from, k - from)
        }
        floor = k
        return result
    }
}

/// One-shot order statistics of an array, which they leave as it is (`inout` only for the
/// callers written when selections reordered it; `normalMAD` still overwrites its values).
public enum Selection {
    /// The element that would be at index `k` if `values` were sorted ascending. `values` is left
    /// as it is (the selection works on a copy), so that what a caller computes from it afterwards
    /// (a sum in its order, say) does not depend on how a selection permutes values.
    public static func select(_ values: inout [Float], _ k: Int) -> Float {
        precondition(k >= 0 && k < values.count, "Selection.select: rank \(k) of \(values.count) values")
        if values.count >= radixMinimum { return radixSelect(values, k) }
        var copy = values
        return copy.withUnsafeMutableBufferPointer { peaks_select($0.baseAddress!, $0.count, k) }
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
        if let v = sampledBoundsSelect(values, k) { return v }
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

    /// Sample size of `sampledBoundsSelect`.
    static let boundsSample = 4096

    /// The k-th smallest of `values` by Floyd and Rivest's sampling idea (Floyd & Rivest 1975,
    /// "Expected time bounds for selection", CACM 18(3)): the order statistics of an evenly
    /// strided sample of 4096 values bracket rank k with high probability, between the sample's
    /// ranks k m / n -+ 2 sqrt(m) (the sample rank of the k-th value has a standard deviation of
    /// at most sqrt(m) / 2, so the bracket misses with probability below 1e-4). One pass counts the
    /// values below the bracket and at its bounds and gathers those strictly inside it (about 6%
    /// of them), and the k-th value is a bound or is selected among those. The answer is exact
    /// whatever the sample: nil (the caller's bucket selection then runs) when the bracket missed
    /// rank k or held more values than expected. One branch-free pass instead of the two to three
    /// passes of bucket selection, whose equal-width buckets also degrade on heavy-tailed data (a
    /// few bright spots stretch the range so that the noise falls into one bucket).
    static func sampledBoundsSelect(_ values: [Float], _ k: Int) -> Float? {
        let n = values.count, m = boundsSample
        guard n >= 4 * m else { return nil }
        var sample = [Float](repeating: 0, count: m)
        let stride = n / m
        values.withUnsafeBufferPointer { v in
            for i in 0..<m { sample[i] = v[i &* stride] }
        }
        let position = Int((Double(k) / Double(n - 1) * Double(m - 1)).rounded())
        let margin = 2 * Int(Double(m).squareRoot())
        // The two order statistics of the sample (ascending ranks: quickselect, no sort).
        var ordered = OrderStatistics(values: sample)
        let lo = position - margin < 0 ? -Float.infinity : ordered.select(position - margin)
        let hi = position + margin >= m ? Float.infinity : ordered.select(position + margin)
        // Expected inside: (2 margin / m) n; room for twice that.
        let capacity = Swift.min(n, 4 * margin * (n / m + 1) + 1024)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        // In order: x < lo (`belowLo`), x == lo, lo < x < hi (gathered), x == hi, x > hi. Ties
        // at the bounds are counted, not gathered, so integer data (long runs of equal values)
        // stays within the buffer. One pass in C, eight values at a time on AVX2
        // (_PeaksVectorKernels: the same counts and values on every instruction set).
        var counts = [0, 0, 0]
        let count = values.withUnsafeBufferPointer { v in
            peaks_bracket_pass(v.baseAddress, n, lo, hi, buffer, capacity, &counts)
        }
        let (belowLo, atMostLo, atMostHi) = (counts[0], counts[1], counts[2])
        guard count >= 0, k >= belowLo else { return nil }
        if k < atMostLo { return lo }
        if k < atMostLo + count {
            var inside = Array(UnsafeBufferPointer(start: buffer, count: count))
            return select(&inside, k - atMostLo)
        }
        if k < atMostHi { return hi }
        return nil
    }

    /// The median (lower median for even counts). Leaves `values` as it is.
    public static func median(_ values: inout [Float]) -> Float {
        select(&values, (values.count - 1) / 2)
    }

    /// 1.4826 x the median absolute deviation from the median: the standard deviation for
    /// Gaussian data, unmoved by a minority of outliers (spots, edges); 0 when `values` is empty.
    /// Overwrites `values` with the absolute deviations.
    public static func normalMAD(_ values: inout [Float]) -> Double {
        guard !values.isEmpty else { return 0 }
        let centre = median(&values)
        for i in values.indices { values[i] = abs(values[i] - centre) }
        return 1.482602218505602 * Double(median(&values))
    }
}
