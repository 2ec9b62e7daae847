// cfitsio for Swift: the short function names (ffdkopn, ffmahd, ffgpv, ...) import as they
// are; the long names of longnam.h are macros and do not. Nothing else is needed.
#ifndef PEAKS_CFITSIO_SHIM_H
#define PEAKS_CFITSIO_SHIM_H
#include <stddef.h>
#include <fitsio.h>

// libcfitsio is loaded on first use (Sources/_PeaksLazyLibraries).
extern int peaks_lazy_load(int library, char *message, size_t capacity);
/// Loads libcfitsio (0 and a reason in `message` when it cannot be loaded).
static inline int cfits_load(char *message, size_t capacity) { return peaks_lazy_load(1, message, capacity); }
#endif
