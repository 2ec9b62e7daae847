// Cairo for Swift. libcairo is loaded on first use (Sources/_PeaksLazyLibraries).
#include <cairo/cairo.h>

extern const char *peaks_lazy_load(int library);
/// Loads libcairo: NULL when it is usable, else the reason (PEAKS_LIBRARY_* number 2).
static inline const char *ccairo_load(void) { return peaks_lazy_load(2); }
