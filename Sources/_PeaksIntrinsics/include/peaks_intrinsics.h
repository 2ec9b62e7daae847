// Compiler intrinsics and C library settings Swift does not expose. Internal to peaks (hence
// the underscore).
#ifndef PEAKS_INTRINSICS_H
#define PEAKS_INTRINSICS_H

#if defined(__linux__)
#include <features.h>  // defines __GLIBC__ for glibc
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
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

#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
/// Advises the whole 2 MiB pages of the heap from `from` to the current break to transparent
/// huge pages. Returns 1 when advised.
static inline int peaks_advise_heap_huge_pages(uintptr_t from) {
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = (from + huge - 1) & ~(huge - 1);
    uintptr_t end = (uintptr_t)sbrk(0) & ~(huge - 1);
    return end > start && madvise((void *)start, end - start, MADV_HUGEPAGE) == 0;
}
#endif

/// glibc's malloc: one arena for every thread, its heap grown by at least `pad` bytes now, and
/// that heap advised to transparent huge pages (`MADV_HUGEPAGE`), so that the first touch of
/// fresh heap memory costs one page fault per 2 MiB instead of one per 4 KiB. Call after
/// `peaks_malloc_keep_freed` (the probe allocation must come from the heap). Nothing is touched
/// here: pages are still faulted in only when used. With transparent huge pages set to `never`
/// the advice is ignored; with `always` it changes nothing. Returns 1 when the advice was given.
static inline int peaks_heap_huge_pages(size_t pad) {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
    if (pad > (size_t)INT32_MAX || !mallopt(M_ARENA_MAX, 1) || !mallopt(M_TOP_PAD, (int)pad)) return 0;
    void *probe = malloc(1 << 20);  // from the heap's top: grows it by `pad` and more
    if (probe == NULL) return 0;
    int advised = peaks_advise_heap_huge_pages((uintptr_t)probe);
    free(probe);
    return advised;
#else
    (void)pad;
    return 0;
#endif
}

/// After `peaks_heap_huge_pages`: grows the heap until at least `bytes` (at most 384 MiB, below
/// the trim threshold, so that the memory stays) lie beyond the break as it was, by allocating
/// and freeing 16 MiB blocks from it, and advises that new part to huge pages too (the kernel
/// does not carry the advice over to a heap grown later). For inputs whose detection needs more
/// than the first call's pad. Nothing is touched but the blocks' headers. Returns 1 when advised.
static inline int peaks_heap_extend_huge_pages(size_t bytes) {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
    const size_t block = (size_t)16 << 20, most = (size_t)384 << 20;
    if (bytes > most) bytes = most;
    void *blocks[32];
    int count = 0;
    uintptr_t before = (uintptr_t)sbrk(0);
    while (count < 32 && (uintptr_t)sbrk(0) - before < bytes) {
        void *b = malloc(block);
        if (b == NULL) break;
        blocks[count++] = b;
    }
    int advised = peaks_advise_heap_huge_pages(before);
    while (count > 0) free(blocks[--count]);
    return advised;
#else
    (void)bytes;
    return 0;
#endif
}

/// glibc's malloc: allow `arenas` arenas again (after `peaks_heap_huge_pages` set one), so that
/// threads created from now on may take their own. Returns 1 when set.
static inline int peaks_malloc_arenas(int arenas) {
#if defined(__GLIBC__)
    return arenas > 0 && mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
    return 0;
#endif
}

int peaks_intrinsics_available(void);

#endif
