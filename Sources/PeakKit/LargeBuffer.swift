#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raw memory for large per-pixel work arrays that are accessed in random order (union-find
/// records, radix-sort buffers). On Linux, buffers of 4 MiB and more are aligned to 2 MiB and
/// advised to use transparent huge pages (`madvise(MADV_HUGEPAGE)`), which removes most TLB
/// misses: on a 2048x2048 image this made the persistence filtration about twice as fast.
/// Release with `LargeBuffer.free`.
public enum LargeBuffer {
    static let hugePage = 2 << 20

    public static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        #if os(Linux)
        if bytes >= 2 * hugePage {
            var raw: UnsafeMutableRawPointer? = nil
            if posix_memalign(&raw, hugePage, bytes) == 0, let raw {
                _ = madvise(raw, bytes, MADV_HUGEPAGE)  // advice only: failure is harmless
                return raw.bindMemory(to: T.self, capacity: max(1, count))
            }
        }
        #endif
        guard let raw = malloc(bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    public static func free<T>(_ pointer: UnsafeMutablePointer<T>) {
        #if canImport(Glibc)
        Glibc.free(pointer)
        #else
        Darwin.free(pointer)
        #endif
    }
}
