// The loader behind the trampolines of hdf5.c, cfitsio.c, cairo.c and tiff.c.
#include "peaks_lazy_libraries.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

extern const char *const peaks_lazy_hdf5_names[], *const peaks_lazy_cfitsio_names[], *const peaks_lazy_cairo_names[],
    *const peaks_lazy_tiff_names[];
extern void *peaks_lazy_hdf5_table[], *peaks_lazy_cfitsio_table[], *peaks_lazy_cairo_table[], *peaks_lazy_tiff_table[];

typedef struct lazy_library {
    const char *label;
    // Debian 12's sonames first; the unversioned names of the -dev packages as a fallback.
    const char *sonames[4];
    const char *const *names;
    void **table;
    pthread_once_t once;
    int loaded;
    char message[320];
} lazy_library;

static lazy_library libraries[4] = {
    { "libhdf5", { "libhdf5_serial.so.103", "libhdf5_serial.so", "libhdf5.so", 0 },
      peaks_lazy_hdf5_names, peaks_lazy_hdf5_table, PTHREAD_ONCE_INIT, 0, "" },
    { "libcfitsio", { "libcfitsio.so.10", "libcfitsio.so", 0, 0 },
      peaks_lazy_cfitsio_names, peaks_lazy_cfitsio_table, PTHREAD_ONCE_INIT, 0, "" },
    { "libcairo", { "libcairo.so.2", "libcairo.so", 0, 0 },
      peaks_lazy_cairo_names, peaks_lazy_cairo_table, PTHREAD_ONCE_INIT, 0, "" },
    { "libtiff", { "libtiff.so.6", "libtiff.so", 0, 0 },
      peaks_lazy_tiff_names, peaks_lazy_tiff_table, PTHREAD_ONCE_INIT, 0, "" },
};

static void load(lazy_library *l) {
    void *handle = NULL;
    // The first name's error, copied at once: the next dlopen reuses dlerror()'s buffer.
    char why[200] = "not found";
    for (int i = 0; i < 4 && l->sonames[i] && !handle; i++) {
        handle = dlopen(l->sonames[i], RTLD_NOW | RTLD_GLOBAL);
        const char *e = handle ? NULL : dlerror();
        if (i == 0 && e) snprintf(why, sizeof why, "%s", e);
    }
    if (!handle) {
        snprintf(l->message, sizeof l->message, "cannot load %s (%s)", l->label, why);
        return;
    }
    for (int i = 0; l->names[i]; i++) {
        void *p = dlsym(handle, l->names[i]);
        if (!p) {
            snprintf(l->message, sizeof l->message, "%s has no symbol %s (an older version?)", l->label, l->names[i]);
            return;
        }
        l->table[i] = p;
    }
    __atomic_store_n(&l->loaded, 1, __ATOMIC_RELEASE);
}

static void load_hdf5(void) { load(&libraries[PEAKS_LIBRARY_HDF5]); }
static void load_cfitsio(void) { load(&libraries[PEAKS_LIBRARY_CFITSIO]); }
static void load_cairo(void) { load(&libraries[PEAKS_LIBRARY_CAIRO]); }
static void load_tiff(void) { load(&libraries[PEAKS_LIBRARY_TIFF]); }

const char *peaks_lazy_load(int library) {
    if (library < 0 || library > 3) return "no such library";
    lazy_library *l = &libraries[library];
    if (__atomic_load_n(&l->loaded, __ATOMIC_ACQUIRE)) return NULL;
    static void (*const loaders[4])(void) = { load_hdf5, load_cfitsio, load_cairo, load_tiff };
    pthread_once(&l->once, loaders[library]);
    // After pthread_once the message is final: written before `once` completed, never again.
    return __atomic_load_n(&l->loaded, __ATOMIC_ACQUIRE) ? NULL : l->message;
}

void *peaks_lazy_symbol(int library, int index) {
    lazy_library *l = &libraries[library];
    if (__builtin_expect(!__atomic_load_n(&l->loaded, __ATOMIC_ACQUIRE), 0) && peaks_lazy_load(library)) {
        fprintf(stderr, "peaks: %s\n", l->message);
        abort();
    }
    return l->table[index];
}
