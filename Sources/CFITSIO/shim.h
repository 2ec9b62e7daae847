// cfitsio for Swift: the short function names (ffdkopn, ffmahd, ffgpv, ...) import as they
// are; the long names of longnam.h are macros and do not. Nothing else is needed.
#ifndef PEAKS_CFITSIO_SHIM_H
#define PEAKS_CFITSIO_SHIM_H
#include <fitsio.h>

// libcfitsio is loaded on first use (Sources/_PeaksLazyLibraries).
extern const char *peaks_lazy_load(int library);
/// Loads libcfitsio: NULL when it is usable, else the reason (PEAKS_LIBRARY_* number 1).
static inline const char *cfits_load(void) { return peaks_lazy_load(1); }
#endif
