// libhdf5, libcfitsio, libcairo and libtiff, loaded with dlopen on first use. Internal to peaks (hence
// the underscore in the module's name).
//
// Linked normally, the first three bring 50 more libraries (libcurl, GnuTLS, Kerberos, LDAP, X11,
// fontconfig, ...) into every process, and the dynamic loader spends about 9 ms mapping and
// relocating them before `main`, even for a PNG or NPY image that needs none of them; libtiff and
// its codecs (libwebp, libLerc, libjbig, libzstd, ...) cost 1.2-1.6 ms more. Instead, peaks
// defines each function it calls from them as a small trampoline (hdf5.c, cfitsio.c, cairo.c,
// tiff.c, written by scripts/gen-lazy-libraries): the first call of any of them loads the
// library (RTLD_NOW | RTLD_GLOBAL, so HDF5's filter plugins and dlsym(RTLD_DEFAULT, ...) still
// find it) and resolves every symbol peaks uses, once, under pthread_once; later calls are one
// indirect jump. Resolving everything at once also means that a fork()ed child (the HDF5 and
// FITS probes) never enters the dynamic loader.
//
// Callers check `peaks_lazy_load` before the first call, to turn a missing library into an error
// message; a trampoline called when its library cannot be loaded prints that message and aborts.
// The C shims (CHDF5, CFITSIO, CCairo, CTIFF) declare `peaks_lazy_load` themselves with the library's
// number, since their module maps cannot include this target's header.
#ifndef PEAKS_LAZY_LIBRARIES_H
#define PEAKS_LAZY_LIBRARIES_H

#include <stddef.h>

#define PEAKS_LIBRARY_HDF5 0
#define PEAKS_LIBRARY_CFITSIO 1
#define PEAKS_LIBRARY_CAIRO 2
#define PEAKS_LIBRARY_TIFF 3

/// Loads `library` (PEAKS_LIBRARY_*) if it is not loaded yet. Returns NULL when it is usable,
/// else a one-line reason (static storage, valid for the life of the process).
const char *peaks_lazy_load(int library);

/// The address of the `index`-th symbol of `library`'s table (loading it first).
void *peaks_lazy_symbol(int library, int index);

/// Trampolines are hidden: they must never interpose on the real library's own exports.
#define PEAKS_LAZY_STUB __attribute__((visibility("hidden")))

#endif
