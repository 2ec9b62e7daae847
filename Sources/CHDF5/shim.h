// HDF5 for Swift: the constants that are macros over H5open() globals, and the innermost
// message of the calling thread's error stack.
#ifndef PEAKS_CHDF5_SHIM_H
#define PEAKS_CHDF5_SHIM_H
#include <string.h>
// Debian's serial build lives in hdf5/serial/ (hdf5.h includes its neighbours with quotes).
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif

// libhdf5 is loaded on first use (Sources/_PeaksLazyLibraries): its data symbols are read
// through these accessors, never linked directly.
extern const void *peaks_lazy_hdf5_H5T_NATIVE_FLOAT_g(void);
extern const void *peaks_lazy_hdf5_H5T_NATIVE_DOUBLE_g(void);
extern const void *peaks_lazy_hdf5_H5T_C_S1_g(void);
extern const void *peaks_lazy_hdf5_H5P_CLS_FILE_ACCESS_ID_g(void);
extern const void *peaks_lazy_hdf5_H5P_CLS_DATASET_ACCESS_ID_g(void);
extern const void *peaks_lazy_hdf5_H5Z_DEFLATE(void);
extern const void *peaks_lazy_hdf5_H5Z_SHUFFLE(void);
extern const void *peaks_lazy_hdf5_H5Z_FLETCHER32(void);
extern const void *peaks_lazy_hdf5_H5Z_SZIP(void);
extern const void *peaks_lazy_hdf5_H5Z_NBIT(void);
extern const void *peaks_lazy_hdf5_H5Z_SCALEOFFSET(void);
extern const char *peaks_lazy_load(int library);

/// Loads libhdf5: NULL when it is usable, else the reason (PEAKS_LIBRARY_* number 0).
static inline const char *ch5_load(void) { return peaks_lazy_load(0); }

// The H5T_NATIVE_FLOAT, ... macros: H5open(), then the global it initialised.
static inline hid_t ch5_native_float(void) { H5open(); return *(const hid_t *)peaks_lazy_hdf5_H5T_NATIVE_FLOAT_g(); }
static inline hid_t ch5_native_double(void) { H5open(); return *(const hid_t *)peaks_lazy_hdf5_H5T_NATIVE_DOUBLE_g(); }
static inline hid_t ch5_c_s1(void) { H5open(); return *(const hid_t *)peaks_lazy_hdf5_H5T_C_S1_g(); }
static inline hid_t ch5_fapl_class(void) { H5open(); return *(const hid_t *)peaks_lazy_hdf5_H5P_CLS_FILE_ACCESS_ID_g(); }
static inline hid_t ch5_dapl_class(void) { H5open(); return *(const hid_t *)peaks_lazy_hdf5_H5P_CLS_DATASET_ACCESS_ID_g(); }
static inline unsigned ch5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t ch5_default(void) { return H5P_DEFAULT; }
static inline hid_t ch5_error_default(void) { return H5E_DEFAULT; }

/// Stops HDF5 printing its error stack for the calling thread (the setting is per thread in a
/// thread-safe build).
static inline void ch5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct ch5_message { char text[240]; int found; } ch5_message;

static inline herr_t ch5_walk_innermost(unsigned n, const H5E_error2_t *e, void *data) {
    ch5_message *m = (ch5_message *)data;
    if (!m->found && e != NULL && e->desc != NULL && e->desc[0] != 0) {
        strncpy(m->text, e->desc, sizeof m->text - 1);
        m->text[sizeof m->text - 1] = 0;
        m->found = 1;
    }
    (void)n;
    return 0;
}

/// The innermost (most specific) message of the calling thread's error stack ("" if none);
/// the stack is cleared.
static inline void ch5_last_error(ch5_message *m) {
    memset(m, 0, sizeof *m);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, ch5_walk_innermost, m);
    H5Eclear2(H5E_DEFAULT);
}

/// libhdf5's own filter classes (exported by the shared library, declared in its private
/// headers only): 0 deflate, 1 shuffle, 2 fletcher32, 3 szip, 4 nbit, 5 scaleoffset.
static inline const H5Z_class2_t *ch5_builtin_filter(int which) {
    switch (which) {
    case 0: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_DEFLATE();
    case 1: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_SHUFFLE();
    case 2: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_FLETCHER32();
    case 3: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_SZIP();
    case 4: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_NBIT();
    case 5: return (const H5Z_class2_t *)peaks_lazy_hdf5_H5Z_SCALEOFFSET();
    default: return NULL;
    }
}
static inline unsigned ch5_flag_reverse(void) { return H5Z_FLAG_REVERSE; }

#endif
