import PeakKit

/// Sorting pixels by value for the filtration, in O(N) time and 8 bytes per pixel.
///
/// Each valid pixel becomes one 64-bit word `key << 32 | index`, where `key` is the pixel's Float
/// value mapped to a UInt32 whose unsigned order is the *descending* order of the floats (flip
/// the sign bit of positives, all bits of negatives, then complement). Sorting the words as
/// unsigned integers therefore gives "value descending, then raster index ascending": the total
/// order the union-find relies on to break ties. Because the index is part of the word, the sort
/// need not be stable, so an in-place most-significant-digit radix sort (American flag sort,
/// McIlroy, Bostic & McIlroy 1993) does it without a second buffer: byte by byte from the top,
/// permuting each bucket in place by cycles, recursing into buckets, finishing buckets of at most
/// 32 words by insertion sort. A byte that is the same for a whole bucket costs one counting pass.
enum PixelOrder {
    /// Maps a finite Float to a UInt32 that sorts ascending in the order of descending values.
    @inline(__always)
    static func descendingKey(_ v: Float) -> UInt32 {
        let bits = (v + 0).bitPattern  // + 0 folds -0.0 into +0.0
        let ascending = (bits & 0x8000_0000) != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }

    /// The raster indices of the valid pixels, sorted by value descending then index ascending.
    /// Peak memory: 8 bytes per valid pixel while sorting, 12 while copying out, 4 afterwards.
    static func sortedDescending(_ values: UnsafeBufferPointer<Float>, valid: UnsafeBufferPointer<Bool>?) -> [UInt32] {
        var n = 0
        if let valid { for b in valid where b { n &+= 1 } } else { n = values.count }
        if n == 0 { return [] }
        let words = LargeBuffer.allocate(UInt64.self, count: n)
        defer { LargeBuffer.free(words) }
        var k = 0
        for i in 0..<values.count {
            if let valid, !valid[i] { continue }
            words[k] = UInt64(descendingKey(values[i])) << 32 | UInt64(i)
            k &+= 1
        }
        if n <= lsdLimit {
            sortByKeyLSD(words, n)
        } else {
            sortInPlace(words, n, shift: 56)
        }
        return [UInt32](unsafeUninitializedCapacity: n) { out, count in
            for i in 0..<n { out[i] = UInt32(truncatingIfNeeded: words[i]) }
            count = n
        }
    }

    /// Up to this many pixels the words are sorted by `sortByKeyLSD` (8 more bytes per pixel,
    /// about 3x faster); above it by the in-place `sortInPlace`, to keep 8 bytes per pixel on
    /// huge images.
    static let lsdLimit = 1 << 24

    /// Sorts `a[0..<n]` ascending, given that the words are in ascending index order (the low
    /// 32 bits): a stable least-significant-digit radix sort on the 32-bit key alone (digits of
    /// 11, 11 and 10 bits, all three histograms from one pass, a pass skipped when its digit is
    /// the same for every word). Stability keeps equal keys in index order, so the result is the
    /// order of the full words, as `sortInPlace` gives it.
    static func sortByKeyLSD(_ a: UnsafeMutablePointer<UInt64>, _ n: Int) {
        let digits: [(shift: UInt64, size: Int)] = [(32, 2048), (43, 2048), (54, 1024)]
        let other = LargeBuffer.allocate(UInt64.self, count: n)
        defer { LargeBuffer.free(other) }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2048 * 3) { scratch in
            let counts = scratch.baseAddress!
            counts.initialize(repeating: 0, count: 2048 * 3)
            for i in 0..<n {
                let w = a[i]
                counts[Int((w &>> 32) & 0x7FF)] &+= 1
                counts[2048 + Int((w &>> 43) & 0x7FF)] &+= 1
                counts[4096 + Int((w &>> 54) & 0x3FF)] &+= 1
            }
            var src = a, dst = other
            for (p, digit) in digits.enumerated() {
                let c = counts + 2048 * p
                let mask = UInt64(digit.size - 1)
                if c[Int((src[0] &>> digit.shift) & mask)] == n { continue }
                // Exclusive prefix sums: where each digit's words start.
                var total = 0
                for d in 0..<digit.size { let k = c[d]; c[d] = total; total &+= k }
                for i in 0..<n {
                    let w = src[i]
                    let d = Int((w &>> digit.shift) & mask)
                    dst[c[d]] = w
                    c[d] &+= 1
                }
                swap(&src, &dst)
            }
            if src != a { a.update(from: src, count: n) }
        }
    }

    /// Sorts `a[0..<n]` ascending by the byte at `shift` and every byte below it (the words are
    /// already ordered by the bytes above). Recursion depth is at most 8.
    static func sortInPlace(_ a: UnsafeMutablePointer<UInt64>, _ n: Int, shift: Int) {
        if n <= 32 {
            insertionSort(a, n)
            return
        }
        let s = UInt64(shift)
        // Scratch on the stack: counts, bucket starts (257), next free slot per bucket.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 256 + 257 + 256) { scratch in
            let counts = scratch.baseAddress!, starts = counts + 256, next = starts + 257
            counts.initialize(repeating: 0, count: 256)
            for i in 0..<n { counts[Int((a[i] &>> s) & 0xFF)] &+= 1 }
            // One bucket holds everything: nothing to permute at this byte.
            if counts[Int((a[0] &>> s) & 0xFF)] == n {
                if shift > 0 { sortInPlace(a, n, shift: shift - 8) }
                return
            }
            starts[0] = 0
            for d in 0..<256 { starts[d + 1] = starts[d] &+ counts[d]; next[d] = starts[d] }
            // American flag permutation: each misplaced word is swapped into the next free slot
            // of its own bucket until the slot being filled receives a word that belongs there.
            for d in 0..<256 {
                let end = starts[d + 1]
                while next[d] < end {
                    var w = a[next[d]]
                    var digit = Int((w &>> s) & 0xFF)
                    while digit != d {
                        let slot = next[digit]
                        next[digit] &+= 1
                        let displaced = a[slot]
                        a[slot] = w
                        w = displaced
                        digit = Int((w &>> s) & 0xFF)
                    }
                    a[next[d]] = w
                    next[d] &+= 1
                }
            }
            if shift == 0 { return }
            for d in 0..<256 {
                let size = starts[d + 1] &- starts[d]
                if size > 1 { sortInPlace(a + starts[d], size, shift: shift - 8) }
            }
        }
    }

    @inline(__always)
    static func insertionSort(_ a: UnsafeMutablePointer<UInt64>, _ n: Int) {
        if n < 2 { return }
        for i in 1..<n {
            let w = a[i]
            var j = i
            while j > 0 && a[j - 1] > w { a[j] = a[j - 1]; j -= 1 }
            a[j] = w
        }
    }
}
