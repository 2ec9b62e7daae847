// Compiler intrinsics and C library settings Swift does not expose. Internal to peaks (hence
// the underscore).
#ifndef PEAKS_INTRINSICS_H
#define PEAKS_INTRINSICS_H

#if defined(__linux__)
#include <features.h>  // defines __GLIBC__ for glibc
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/// Hint that the cache line holding `address` will be read soon. Never faults, even for an
/// address outside any allocation, so callers may prefetch past an array's ends.
static inline void peaks_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// The same, for a line that will be written.
static inline void peaks_prefetch_write(const void *address) { __builtin_prefetch(address, 1, 3); }

/// glibc's malloc: serve allocations up to `mmap_threshold` bytes from the heap and keep up to
/// `trim_threshold` bytes of freed memory for reuse (no effect elsewhere). Returns 1 when set.
static inline int peaks_malloc_keep_freed(int mmap_threshold, int trim_threshold) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
#else
    (void)mmap_threshold; (void)trim_threshold;
    return 0;
#endif
}

int peaks_intrinsics_available(void);

#endif
