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
    /// Peak memory: 8 bytes per valid pixel while sorting (16 up to `lsdLimit` pixels), 12 while
    /// copying out (20 up to `lsdLimit`: the indices are read from whichever buffer the last pass
    /// filled), 4 afterwards. Spread over the cores (each pass cut into fixed chunks, so the
    /// result does not depend on them; nested in another parallel loop it runs on one core).
    static func sortedDescending(_ values: UnsafeBufferPointer<Float>, valid: UnsafeBufferPointer<Bool>?) -> [UInt32] {
        let total = values.count
        if total == 0 { return [] }
        // Chunks of the raster: the valid pixels of each are counted, then written from where
        // the valid pixels of the chunks before it end, in raster order.
        let chunks = Parallel.chunkCount(total)
        var startOf = [Int](repeating: 0, count: chunks + 1)
        @inline(__always) func bounds(_ c: Int, of count: Int) -> Range<Int> { Parallel.chunk(c, of: chunks, count: count) }
        if let valid {
            let base = SharedPointer(valid.baseAddress!)
            startOf.withUnsafeMutableBufferPointer { starts in
                let s = SharedPointer(starts.baseAddress!)
                Parallel.forEach(chunks) { c in
                    var k = 0
                    for i in bounds(c, of: total) where base[i] { k &+= 1 }
                    s[c + 1] = k
                }
            }
            for c in 0..<chunks { startOf[c + 1] += startOf[c] }
        } else {
            for c in 0..<chunks { startOf[c + 1] = bounds(c, of: total).upperBound }
        }
        let n = startOf[chunks]
        if n == 0 { return [] }
        let words = LargeBuffer.allocate(UInt64.self, count: n)
        defer { LargeBuffer.free(words) }
        let w = SharedPointer(words), v = SharedPointer(values.baseAddress!)
        let flags = valid.map { SharedPointer($0.baseAddress!) }
        Parallel.forEach(chunks) { c in
            var k = startOf[c]
            for i in bounds(c, of: total) {
                if let flags, !flags[i] { continue }
                w[k] = UInt64(descendingKey(v[i])) << 32 | UInt64(i)
                k &+= 1
            }
        }
        // The sorted words: in `words`, or (LSD with an odd number of passes) in the LSD's second
        // buffer, read from there without copying them back.
        var sorted = words
        var other: UnsafeMutablePointer<UInt64>? = nil
        defer { if let other { LargeBuffer.free(other) } }
        if n <= lsdLimit {
            other = LargeBuffer.allocate(UInt64.self, count: n)
            sorted = sortByKeyLSD(words, n, other: other!)
        } else {
            sortInPlace(words, n, shift: 56)
        }
        let from = SharedPointer(sorted)
        return [UInt32](unsafeUninitializedCapacity: n) { out, count in
            let o = SharedPointer(out.baseAddress!), outChunks = Parallel.chunkCount(n)
            Parallel.forEach(outChunks) { c in
                for i in Parallel.chunk(c, of: outChunks, count: n) { o[i] = UInt32(truncatingIfNeeded: from[i]) }
            }
            count = n
        }
    }

    /// Up to this many pixels the words are sorted by `sortByKeyLSD` (8 more bytes per pixel,
    /// about 3x faster); above it by the in-place `sortInPlace`, to keep 8 bytes per pixel on
    /// huge images.
    static let lsdLimit = 1 << 24

    /// Sorts `a[0..<n]` ascending, given that the words are in ascending index order (the low
    /// 32 bits): a stable least-significant-digit radix sort on the 32-bit key alone (digits of
    /// 11, 11 and 10 bits, a pass skipped when its digit is the same for every word). Stability
    /// keeps equal keys in index order, so the result is the order of the full words, as
    /// `sortInPlace` gives it.
    ///
    /// Each pass is spread over the cores as a fixed number of chunks of the source: each chunk's
    /// histogram of the digit, then each chunk's words scattered from the offsets where the
    /// smaller digits and, for its own digit, the earlier chunks end. That is exactly where a
    /// single stable pass puts every word, so the result does not depend on the chunks.
    static func sortByKeyLSD(_ a: UnsafeMutablePointer<UInt64>, _ n: Int) {
        let other = LargeBuffer.allocate(UInt64.self, count: n)
        defer { LargeBuffer.free(other) }
        let sorted = sortByKeyLSD(a, n, other: other)
        if sorted != a {
            let (from, to) = (SharedPointer(sorted), SharedPointer(a))
            let chunks = Parallel.chunkCount(n)
            Parallel.forEach(chunks) { c in
                let r = Parallel.chunk(c, of: chunks, count: n)
                (to.base + r.lowerBound).update(from: from.base + r.lowerBound, count: r.count)
            }
        }
    }

    /// The same with the second buffer given (n words): returns the buffer that holds the sorted
    /// words, `a` or `other` (each pass moves them from one to the other).
    static func sortByKeyLSD(_ a: UnsafeMutablePointer<UInt64>, _ n: Int, other: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64> {
        let digits: [(shift: UInt64, size: Int)] = [(32, 2048), (43, 2048), (54, 1024)]
        let chunks = Parallel.chunkCount(n)
        @inline(__always) func bounds(_ c: Int) -> Range<Int> { Parallel.chunk(c, of: chunks, count: n) }
        // counts[c * 2048 + d]: words of chunk c with digit d, then where chunk c's next one goes.
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: chunks * 2048)
        defer { counts.deallocate() }
        var src = a, dst = other
        for digit in digits {
            let mask = UInt64(digit.size - 1)
            counts.initialize(repeating: 0, count: chunks * 2048)
            let (from, to, table) = (SharedPointer(src), SharedPointer(dst), SharedPointer(counts))
            Parallel.forEach(chunks) { c in
                let h = table.base + c * 2048
                for i in bounds(c) { h[Int((from[i] &>> digit.shift) & mask)] &+= 1 }
            }
            // The same digit in every word: nothing to move.
            let first = Int((src[0] &>> digit.shift) & mask)
            if (0..<chunks).reduce(0, { $0 + counts[$1 * 2048 + first] }) == n { continue }
            // Exclusive prefix sums, digit-major then chunk: where each chunk's words of each digit start.
            var total = 0
            for d in 0..<digit.size {
                for c in 0..<chunks { let k = counts[c * 2048 + d]; counts[c * 2048 + d] = total; total &+= k }
            }
            Parallel.forEach(chunks) { c in
                let next = table.base + c * 2048
                for i in bounds(c) {
                    let w = from[i]
                    let d = Int((w &>> digit.shift) & mask)
                    to[next[d]] = w
                    next[d] &+= 1
                }
            }
            swap(&src, &dst)
        }
        return src
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
