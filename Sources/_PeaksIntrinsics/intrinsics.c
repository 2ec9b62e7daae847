#include "peaks_intrinsics.h"

// A C target needs one source file; the functions callers use are the inline ones in the header.
int peaks_intrinsics_available(void) { return 1; }
