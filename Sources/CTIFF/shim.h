// libtiff for Swift: typed wrappers for the variadic TIFFGetField/TIFFSetField, and an error
// handler that records libtiff's first message in a buffer instead of printing it. libtiff is
// loaded on first use (Sources/_PeaksLazyLibraries): call ctiff_load() before anything else.
#ifndef PEAKS_CTIFF_SHIM_H
#define PEAKS_CTIFF_SHIM_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>

// libtiff is loaded on first use (Sources/_PeaksLazyLibraries, library number 3).
extern const char *peaks_lazy_load(int library);
/// Loads libtiff: NULL when it is usable, else the reason.
static inline const char *ctiff_load(void) { return peaks_lazy_load(3); }

// The variadic TIFFGetField, TIFFGetFieldDefaulted and TIFFSetField, through their va_list forms
// (what libtiff's own variadic functions call; a lazily loaded library cannot be called
// variadically through a trampoline).
static inline int ctiff_get(TIFF *t, uint32_t tag, ...) {
    va_list ap;
    va_start(ap, tag);
    int ok = TIFFVGetField(t, tag, ap);
    va_end(ap);
    return ok;
}
static inline int ctiff_get_defaulted(TIFF *t, uint32_t tag, ...) {
    va_list ap;
    va_start(ap, tag);
    int ok = TIFFVGetFieldDefaulted(t, tag, ap);
    va_end(ap);
    return ok;
}
static inline int ctiff_set(TIFF *t, uint32_t tag, ...) {
    va_list ap;
    va_start(ap, tag);
    int ok = TIFFVSetField(t, tag, ap);
    va_end(ap);
    return ok;
}

/// Where a handle's messages go: the first error (and whether any came).
typedef struct ctiff_messages {
    int error_count;
    char error[240];
} ctiff_messages;

static inline int ctiff_record_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    ctiff_messages *m = (ctiff_messages *)user;
    if (m != NULL && m->error_count++ == 0) {
        int n = 0;
        if (module != NULL && module[0] != 0) n = snprintf(m->error, sizeof m->error, "%s: ", module);
        if (n < 0 || n >= (int)sizeof m->error) n = 0;
        vsnprintf(m->error + n, sizeof m->error - (size_t)n, fmt, ap);
    }
    return 1;  // handled: libtiff prints nothing
}

static inline int ctiff_ignore_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

/// Options for TIFFClientOpenExt: errors recorded in `messages`, warnings dropped, no single
/// allocation above `max_alloc` bytes.
static inline TIFFOpenOptions *ctiff_options(ctiff_messages *messages, tmsize_t max_alloc) {
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (o == NULL) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, ctiff_record_error, messages);
    TIFFOpenOptionsSetWarningHandlerExtR(o, ctiff_ignore_warning, NULL);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, max_alloc);
    return o;
}

/// Silences libtiff's process-wide handlers (messages raised before a handle exists).
static inline void ctiff_silence_global_handlers(void) {
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    TIFFSetErrorHandlerExt(NULL);
    TIFFSetWarningHandlerExt(NULL);
}

static inline int ctiff_get_u16(TIFF *t, uint32_t tag, uint16_t *v) { return ctiff_get(t, tag, v); }
static inline int ctiff_get_u32(TIFF *t, uint32_t tag, uint32_t *v) { return ctiff_get(t, tag, v); }
static inline int ctiff_get_u16_defaulted(TIFF *t, uint32_t tag, uint16_t *v) { return ctiff_get_defaulted(t, tag, v); }
static inline int ctiff_get_string(TIFF *t, uint32_t tag, const char **v) { return ctiff_get(t, tag, v); }
/// STRIPOFFSETS / STRIPBYTECOUNTS (and the TILE ones): one uint64 per strip or tile.
static inline int ctiff_get_u64_array(TIFF *t, uint32_t tag, const uint64_t **v) { return ctiff_get(t, tag, v); }
/// Extra samples: count and the array of their kinds.
static inline int ctiff_get_extrasamples(TIFF *t, uint16_t *count, const uint16_t **kinds) {
    return ctiff_get(t, TIFFTAG_EXTRASAMPLES, count, kinds);
}
/// The palette: three arrays of 2^bits 16-bit entries.
static inline int ctiff_get_colormap(TIFF *t, const uint16_t **r, const uint16_t **g, const uint16_t **b) {
    return ctiff_get(t, TIFFTAG_COLORMAP, r, g, b);
}
static inline int ctiff_set_u16(TIFF *t, uint32_t tag, uint16_t v) { return ctiff_set(t, tag, (int)v); }
static inline int ctiff_set_u32(TIFF *t, uint32_t tag, uint32_t v) { return ctiff_set(t, tag, v); }
static inline int ctiff_set_string(TIFF *t, uint32_t tag, const char *v) { return ctiff_set(t, tag, v); }

#endif
