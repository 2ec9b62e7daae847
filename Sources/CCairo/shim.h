// Cairo for Swift. libcairo is loaded on first use (Sources/_PeaksLazyLibraries).
#include <stddef.h>
#include <cairo/cairo.h>

extern int peaks_lazy_load(int library, char *message, size_t capacity);
/// Loads libcairo (0 and a reason in `message` when it cannot be loaded).
static inline int ccairo_load(char *message, size_t capacity) { return peaks_lazy_load(2, message, capacity); }
