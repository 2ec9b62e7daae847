// Compiler intrinsics Swift does not expose. Internal to peaks (hence the underscore).
#ifndef PEAKS_INTRINSICS_H
#define PEAKS_INTRINSICS_H

/// Hint that the cache line holding `address` will be read soon. Never faults, even for an
/// address outside any allocation, so callers may prefetch past an array's ends.
static inline void peaks_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// The same, for a line that will be written.
static inline void peaks_prefetch_write(const void *address) { __builtin_prefetch(address, 1, 3); }

int peaks_intrinsics_available(void);

#endif
