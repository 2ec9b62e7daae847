// cfitsio for Swift: the short function names (ffdkopn, ffmahd, ffgpv, ...) import as they
// are; the long names of longnam.h are macros and do not. Nothing else is needed.
#ifndef PEAKS_CFITSIO_SHIM_H
#define PEAKS_CFITSIO_SHIM_H
#include <fitsio.h>
#endif
