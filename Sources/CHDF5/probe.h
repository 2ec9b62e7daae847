// The HDF5 metadata probe: libhdf5 1.10 is not hardened against forged metadata (heap overflows,
// huge allocations, endless loops inside H5Fopen, H5Oopen, H5Aexists, H5HG_read: Fuzz/Known), so
// before the reader opens a file in-process, a fork()ed child makes the libhdf5 calls the reader
// will make on it (open, dataset choice, dataset queries, the chunk index) and reports what it
// found through a pipe. A child that dies on a signal, exits abnormally (a sanitizer report) or
// runs past the timeout marks the file as corrupt; the parent never parses it.
//
// The child runs only this C code, libhdf5 and malloc: the process may have other threads (Swift
// tasks, the pipeline's workers), and after fork() only async-signal-safe work is safe in general.
// Two things make libhdf5 safe to call there: glibc's fork handlers keep malloc usable, and the
// parent holds libhdf5's global API lock (and the mutex inside it) across fork(), so no other
// thread is half-way through libhdf5 when the child's copy of memory is taken; the child keeps
// the lock (its API calls nest inside it) and leaves with _exit.
//
// The report: records "<tag><text>\0", in order:
//   E<message>         H5Fopen failed (libhdf5's innermost message)
//   M<path>            --dataset names nothing;  G<path>  --dataset names a group
//   C<d0,d1,..> <path> a dataset of the file (listed when the choice needs them; at most 10000)
//   D<path>            the chosen dataset;  R<rule>  how it was chosen
//   X                  the report is complete
#ifndef PEAKS_CHDF5_PROBE_H
#define PEAKS_CHDF5_PROBE_H
#include "shim.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// MARK: The report

typedef struct ch5_text { char *bytes; size_t count, capacity; int failed; } ch5_text;

static inline void ch5_text_append(ch5_text *t, const char *s, size_t n) {
    if (t->failed) return;
    if (t->count + n + 1 > t->capacity) {
        size_t want = t->capacity ? t->capacity : 4096;
        while (want < t->count + n + 1) want *= 2;
        char *grown = (char *)realloc(t->bytes, want);
        if (grown == NULL) { t->failed = 1; return; }
        t->bytes = grown;
        t->capacity = want;
    }
    memcpy(t->bytes + t->count, s, n);
    t->count += n;
}

static inline void ch5_text_record(ch5_text *t, char tag, const char *s) {
    ch5_text_append(t, &tag, 1);
    if (s) ch5_text_append(t, s, strlen(s));
    ch5_text_append(t, "", 1);
}

static inline void ch5_free(void *p) { free(p); }

// MARK: Paths and attributes (what HDF5.swift did before the probe; same calls, same order)

/// `group` + "/" + `name` (no doubled slash); malloc'd.
static inline char *ch5_join(const char *group, const char *name) {
    size_t g = strlen(group), n = strlen(name);
    int slash = g > 0 && group[g - 1] == '/';
    char *out = (char *)malloc(g + n + 2);
    if (!out) return NULL;
    memcpy(out, group, g);
    if (!slash) out[g++] = '/';
    memcpy(out + g, name, n + 1);
    return out;
}

/// A scalar (or the first element of a) string attribute, fixed or variable length, trailing
/// spaces of a fixed-length one removed; malloc'd, NULL when absent or not a string.
static inline char *ch5_string_attribute(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) return NULL;
    char *result = NULL;
    hid_t type = H5Aget_type(attr);
    if (type >= 0) {
        if (H5Tget_class(type) == H5T_STRING) {
            hid_t space = H5Aget_space(attr);
            if (space >= 0) {
                hssize_t n = H5Sget_simple_extent_npoints(space);
                if (n >= 1 && n <= 4096) {
                    if (H5Tis_variable_str(type) > 0) {
                        hid_t mem = H5Tcopy(ch5_c_s1());
                        if (mem >= 0) {
                            char **pointers = (char **)calloc((size_t)n, sizeof(char *));
                            if (pointers && H5Tset_size(mem, H5T_VARIABLE) >= 0 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0
                                && H5Aread(attr, mem, pointers) >= 0) {
                                if (pointers[0]) result = strdup(pointers[0]);
                                for (hssize_t i = 0; i < n; i++) if (pointers[i]) H5free_memory(pointers[i]);
                            }
                            free(pointers);
                            H5Tclose(mem);
                        }
                    } else {
                        size_t size = H5Tget_size(type);
                        if (size >= 1 && size <= (1 << 16)) {
                            unsigned char *bytes = (unsigned char *)calloc((size_t)n, size);
                            if (bytes && H5Aread(attr, type, bytes) >= 0) {
                                size_t len = 0;
                                while (len < size && bytes[len] != 0) len++;
                                while (len > 0 && bytes[len - 1] == ' ') len--;
                                result = (char *)malloc(len + 1);
                                if (result) { memcpy(result, bytes, len); result[len] = 0; }
                            }
                            free(bytes);
                        }
                    }
                }
                H5Sclose(space);
            }
        }
        H5Tclose(type);
    }
    H5Aclose(attr);
    return result;
}

/// The object type at `path`, checking each link on the way first (so a missing one is not an
/// error inside libhdf5); H5I_BADID when there is none.
static inline H5I_type_t ch5_object_type(hid_t file, const char *path) {
    size_t n = strlen(path);
    char *partial = (char *)malloc(n + 2);
    if (!partial) return H5I_BADID;
    size_t used = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        partial[used++] = '/';
        memcpy(partial + used, p, len);
        used += len;
        partial[used] = 0;
        p += len;
        if (H5Lexists(file, partial, H5P_DEFAULT) <= 0) { free(partial); return H5I_BADID; }
    }
    free(partial);
    hid_t o = H5Oopen(file, path, H5P_DEFAULT);
    if (o < 0) return H5I_BADID;
    H5I_type_t type = H5Iget_type(o);
    H5Oclose(o);
    return type;
}

/// The NeXus default signal, when the file declares one that exists: root `@default` → the
/// entry's `@default` → an NXdata group's `@signal` (without a root `@default`, `/entry@default`);
/// malloc'd, or NULL.
static inline char *ch5_nexus_default(hid_t file) {
    char *group = strdup("/");
    char *found = NULL;
    for (int step = 0; step < 8 && group; step++) {
        hid_t g = H5Oopen(file, group, H5P_DEFAULT);
        if (g < 0) break;
        int stop = 1;
        if (H5Iget_type(g) == H5I_GROUP) {
            char *signal = ch5_string_attribute(g, "signal");
            if (signal) {
                char *target = ch5_join(group, signal);
                if (target && ch5_object_type(file, target) == H5I_DATASET) found = target; else free(target);
                free(signal);
            } else {
                char *next = ch5_string_attribute(g, "default");
                if (next) {
                    char *joined = next[0] == '/' ? strdup(next) : ch5_join(group, next);
                    free(group);
                    group = joined;
                    free(next);
                    stop = 0;
                } else if (strcmp(group, "/") == 0 && ch5_object_type(file, "/entry") == H5I_GROUP) {
                    free(group);
                    group = strdup("/entry");
                    hid_t e = group ? H5Oopen(file, group, H5P_DEFAULT) : -1;
                    if (e >= 0) {
                        stop = H5Aexists(e, "default") <= 0;
                        H5Oclose(e);
                    }
                }
            }
        }
        H5Oclose(g);
        if (stop || found) break;
    }
    free(group);
    H5Eclear2(H5E_DEFAULT);
    return found;
}

typedef struct ch5_candidates { ch5_text *text; int count, images; char *image; } ch5_candidates;

static inline void ch5_text_u64(ch5_text *t, unsigned long long v) {
    char digits[24];
    int n = 0;
    do { digits[sizeof digits - 1 - n++] = (char)('0' + v % 10); v /= 10; } while (v);
    ch5_text_append(t, digits + sizeof digits - n, (size_t)n);
}

static inline herr_t ch5_visit_candidate(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    ch5_candidates *c = (ch5_candidates *)data;
    (void)info;
    if (!name) return 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) { H5Eclear2(H5E_DEFAULT); return 0; }
    if (H5Iget_type(obj) == H5I_DATASET) {
        hid_t space = H5Dget_space(obj);
        if (space >= 0) {
            int rank = H5Sget_simple_extent_ndims(space);
            hsize_t dims[H5S_MAX_RANK];
            memset(dims, 0, sizeof dims);
            if (rank > 0 && rank <= H5S_MAX_RANK) (void)H5Sget_simple_extent_dims(space, dims, NULL);
            H5Sclose(space);
            ch5_text_append(c->text, "C", 1);
            for (int k = 0; k < rank && k < H5S_MAX_RANK; k++) {
                if (k) ch5_text_append(c->text, ",", 1);
                ch5_text_u64(c->text, (unsigned long long)dims[k]);
            }
            ch5_text_append(c->text, " /", 2);
            ch5_text_append(c->text, name, strlen(name) + 1);
            if (rank >= 2 && rank <= 4) {
                c->images++;
                if (c->images == 1) c->image = ch5_join("/", name);
            }
            c->count++;
        }
    }
    H5Oclose(obj);
    return c->count >= 10000 ? 1 : 0;
}

/// Every dataset in the file (links followed where they resolve), at most 10000, as C records;
/// returns the only one with 2 to 4 dimensions (malloc'd) when there is exactly one.
static inline char *ch5_list_candidates(hid_t file, ch5_text *t) {
    ch5_candidates c = { t, 0, 0, NULL };
    (void)H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, ch5_visit_candidate, &c);
    H5Eclear2(H5E_DEFAULT);
    if (c.images != 1) { free(c.image); return NULL; }
    return c.image;
}

// MARK: The dataset and its chunk index

/// Chunk coordinates looked up one by one (as the reader does per frame) at most; the whole
/// index is walked anyway (H5Dget_num_chunks, H5Dget_chunk_info).
#define CH5_PROBE_MAX_LOOKUPS 4096

/// The calls HDF5Frames makes on the chosen dataset when it opens it and reads frames, minus
/// H5Dread (the raw data and the filters, guarded in-process by HDF5Filters): type, shape,
/// creation and access properties, storage size, filters, and every chunk's location.
static inline void ch5_probe_dataset(hid_t file, const char *path) {
    hid_t did = H5Dopen2(file, path, H5P_DEFAULT);
    if (did < 0) return;
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
    int rank = -1;
    hid_t space = H5Dget_space(did);
    if (space >= 0) {
        rank = H5Sget_simple_extent_ndims(space);
        if (rank < 1 || rank > H5S_MAX_RANK || H5Sget_simple_extent_dims(space, dims, NULL) != rank) rank = -1;
        H5Sclose(space);
    }
    hid_t type = H5Dget_type(did);
    if (type >= 0) {
        (void)H5Tget_class(type);
        (void)H5Tget_size(type);
        (void)H5Tget_sign(type);
        H5Tclose(type);
    }
    int chunked = 0;
    hid_t plist = H5Dget_create_plist(did);
    if (plist >= 0) {
        H5D_layout_t layout = H5Pget_layout(plist);
        if (layout == H5D_COMPACT || layout == H5D_CONTIGUOUS) (void)H5Dget_storage_size(did);
        int nf = H5Pget_nfilters(plist);
        if (layout == H5D_CHUNKED && rank > 0 && H5Pget_chunk(plist, rank, chunk) == rank) {
            chunked = 1;
            for (int k = 0; k < rank; k++) if (chunk[k] == 0) chunked = 0;
            if (nf > 0) {
                unsigned flags = 0, config = 0;
                size_t nelmts = 0;
                char name[64];
                (void)H5Pget_filter2(plist, 0, &flags, &nelmts, NULL, sizeof name, name, &config);
            }
        }
        H5Pclose(plist);
    }
    hsize_t size = 0;
    (void)H5Fget_filesize(file, &size);
    hid_t dapl = H5Dget_access_plist(did);
    if (dapl >= 0) {
        if (H5Pset_chunk_cache(dapl, 10007, 1 << 20, 1.0) >= 0) {
            hid_t again = H5Dopen2(file, path, dapl);
            if (again >= 0) H5Dclose(again);
        }
        H5Pclose(dapl);
    }
    if (chunked && rank >= 2 && rank <= 4) {
        // The whole index: H5Dget_num_chunks iterates over every chunk record (every node of a
        // B-tree, every block of an extensible or fixed array), H5Dget_chunk_info of the last
        // one again through the lookup of a chunk's address and size.
        hsize_t n = 0;
        unsigned mask = 0;
        haddr_t addr = 0;
        hsize_t bytes = 0, offset[H5S_MAX_RANK];
        if (H5Dget_num_chunks(did, H5S_ALL, &n) >= 0 && n > 0) {
            (void)H5Dget_chunk_info(did, H5S_ALL, 0, offset, &mask, &addr, &bytes);
            (void)H5Dget_chunk_info(did, H5S_ALL, n - 1, offset, &mask, &addr, &bytes);
        }
        // Then chunk by chunk by coordinates, in frame order, as HDF5Frames checks them.
        hsize_t at[H5S_MAX_RANK], grid[H5S_MAX_RANK];
        for (int k = 0; k < rank; k++) { at[k] = 0; grid[k] = (dims[k] + chunk[k] - 1) / chunk[k]; }
        int empty = 0;
        for (int k = 0; k < rank; k++) if (grid[k] == 0) empty = 1;
        for (int visited = 0; !empty && visited < CH5_PROBE_MAX_LOOKUPS; visited++) {
            for (int k = 0; k < rank; k++) offset[k] = at[k] * chunk[k];
            (void)H5Dget_chunk_info_by_coord(did, offset, &mask, &addr, &bytes);
            int k = rank - 1;
            while (k >= 0) {
                if (++at[k] < grid[k]) break;
                at[k] = 0;
                k--;
            }
            if (k < 0) break;
        }
    }
    H5Dclose(did);
    H5Eclear2(H5E_DEFAULT);
}

/// The dataset choice of HDF5Frames, as report records: `wanted` (--dataset, with its leading
/// slash) when given, else the NeXus default, else the only dataset with 2 to 4 dimensions
/// (listing the datasets when there is no unique choice). With `deep`, the chosen dataset is
/// then queried as the reader will (ch5_probe_dataset).
static inline void ch5_inspect(hid_t file, const char *wanted, int deep, ch5_text *t) {
    char *chosen = NULL;
    const char *rule = NULL;
    if (wanted) {
        hid_t obj = H5Oopen(file, wanted, H5P_DEFAULT);
        if (obj < 0) {
            H5Eclear2(H5E_DEFAULT);
            ch5_text_record(t, 'M', wanted);
            (void)ch5_list_candidates(file, t);
        } else {
            H5I_type_t type = H5Iget_type(obj);
            H5Oclose(obj);
            if (type != H5I_DATASET) {
                ch5_text_record(t, 'G', wanted);
                free(ch5_list_candidates(file, t));
            } else {
                chosen = strdup(wanted);
                rule = "--dataset";
            }
        }
    } else if ((chosen = ch5_nexus_default(file)) != NULL) {
        rule = "NeXus default";
    } else if ((chosen = ch5_list_candidates(file, t)) != NULL) {
        rule = "the only image dataset";
    }
    if (chosen) {
        ch5_text_record(t, 'D', chosen);
        ch5_text_record(t, 'R', rule);
        if (deep) ch5_probe_dataset(file, chosen);
        free(chosen);
    }
    H5Eclear2(H5E_DEFAULT);
}

/// Opens a file read-only: by path, or (image != NULL) a file image through the core driver
/// under `name` (the core driver tells images apart by name).
static inline hid_t ch5_open(const char *name, const void *image, size_t image_size) {
    if (!image) return H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t fapl = H5Pcreate(ch5_fapl_class());
    if (fapl < 0) return -1;
    hid_t fid = -1;
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_file_image(fapl, (void *)image, image_size) >= 0)
        fid = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return fid;
}

/// Opens and inspects in the calling process (no probe): the report, or failed = 1.
static inline ch5_text ch5_inspect_here(const char *name, const void *image, size_t image_size, const char *wanted) {
    ch5_text t = { NULL, 0, 0, 0 };
    ch5_silence();
    hid_t fid = ch5_open(name, image, image_size);
    if (fid < 0) {
        ch5_message m;
        ch5_last_error(&m);
        ch5_text_record(&t, 'E', m.text);
    } else {
        ch5_inspect(fid, wanted, 0, &t);
        H5Fclose(fid);
    }
    ch5_text_record(&t, 'X', NULL);
    return t;
}

// MARK: The child process

enum {
    CH5_PROBE_DONE = 0,      // the child finished: the report holds its findings
    CH5_PROBE_SIGNAL = 1,    // the child died on signal `detail`
    CH5_PROBE_EXIT = 2,      // the child exited with status `detail` (a sanitizer report)
    CH5_PROBE_TIMEOUT = 3,   // the child ran past the timeout and was killed
    CH5_PROBE_FAILED = 4,    // no child: pipe or fork failed with errno `detail`
};

typedef struct ch5_probe_outcome {
    int state, detail;
    ch5_text report;   // the child's report (free with ch5_free(report.bytes))
    double seconds;    // fork to reaped child
} ch5_probe_outcome;

typedef int (*ch5_lock_fn)(void *);
typedef void (*ch5_death_setter)(void (*)(void));
/// libhdf5 1.10's global API lock (H5_g.init_lock, a recursive H5TS_mutex_t: owner thread, the
/// pthread mutex that guards it at byte 8, a condition variable, a count) and the sanitizer
/// runtime's death-callback setter, when the process has them. Resolved once, in the parent.
typedef struct ch5_probe_symbols { void *api_lock; ch5_lock_fn lock, unlock; ch5_death_setter death; } ch5_probe_symbols;

// Function-local statics, so that Swift imports none of them (use ch5_probe from one Swift file).
static inline ch5_probe_symbols *ch5_probe_symbols_storage(void) { static ch5_probe_symbols s; return &s; }
static inline pthread_mutex_t *ch5_probe_fork_mutex(void) { static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; return &m; }

static inline void ch5_probe_resolve(void) {
    ch5_probe_symbols *s = ch5_probe_symbols_storage();
    void *lock = dlsym(RTLD_DEFAULT, "H5TS_mutex_lock"), *unlock = dlsym(RTLD_DEFAULT, "H5TS_mutex_unlock");
    void *g = dlsym(RTLD_DEFAULT, "H5_g");
    hbool_t safe = 0;
    if (lock && unlock && g && H5is_library_threadsafe(&safe) >= 0 && safe) {
        s->api_lock = g;
        s->lock = (ch5_lock_fn)lock;
        s->unlock = (ch5_lock_fn)unlock;
    }
    s->death = (ch5_death_setter)dlsym(RTLD_DEFAULT, "__sanitizer_set_death_callback");
}

static inline ch5_probe_symbols *ch5_probe_symbols_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ch5_probe_resolve);
    return ch5_probe_symbols_storage();
}

static inline double ch5_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// The child: silence, default crash handling, no core file, then open, inspect, report, _exit.
static inline void ch5_probe_child(int fd, const char *name, const void *image, size_t image_size,
                                   const char *wanted, int keep_stderr) {
    // A crash kills the child with its signal: no Swift backtracer, no libFuzzer crash handler
    // (which would save the input as a crash of the fuzz target), no core file.
    static const int crashes[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGPIPE };
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++) sigaction(crashes[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    struct rlimit zero = { 0, 0 };
    setrlimit(RLIMIT_CORE, &zero);
    // Under a sanitizer, an error report ends the child with the sanitizer's exit code (not
    // through libFuzzer's death callback, which would save the input as a crash).
    ch5_probe_symbols *symbols = ch5_probe_symbols_storage();
    if (symbols->death) symbols->death(NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (!keep_stderr) dup2(null, 2);
        if (null > 2) close(null);
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ch5_text t = { NULL, 0, 0, 0 };
    hid_t fid = ch5_open(name, image, image_size);
    if (fid < 0) {
        ch5_message m;
        ch5_last_error(&m);
        ch5_text_record(&t, 'E', m.text);
    } else {
        ch5_inspect(fid, wanted, 1, &t);
        H5Fclose(fid);
    }
    ch5_text_record(&t, 'X', NULL);
    if (t.failed) _exit(3);
    size_t done = 0;
    while (done < t.count) {
        ssize_t n = write(fd, t.bytes + done, t.count - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(4);
        done += (size_t)n;
    }
    _exit(0);
}

/// Runs the libhdf5 calls of opening `name` (a path, or the name of the file image `image`) with
/// `wanted` (--dataset or NULL) in a child process; waits at most `timeout` seconds for it.
static inline ch5_probe_outcome ch5_probe(const char *name, const void *image, size_t image_size,
                                          const char *wanted, double timeout, int keep_stderr) {
    ch5_probe_outcome out;
    memset(&out, 0, sizeof out);
    ch5_probe_symbols *symbols = ch5_probe_symbols_get();
    double start = ch5_now();
    // One probe forks at a time, so no child inherits another probe's pipe.
    pthread_mutex_lock(ch5_probe_fork_mutex());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        out.state = CH5_PROBE_FAILED;
        out.detail = errno;
        pthread_mutex_unlock(ch5_probe_fork_mutex());
        return out;
    }
    void *lock = symbols->api_lock;
    pthread_mutex_t *inner = lock ? (pthread_mutex_t *)((char *)lock + 8) : NULL;
    if (lock) {
        symbols->lock(lock);
        pthread_mutex_lock(inner);
    }
    pid_t pid = fork();
    if (pid == 0) {
        // The child owns libhdf5's API lock (count 1): its calls nest inside it.
        if (inner) pthread_mutex_unlock(inner);
        close(fds[0]);
        ch5_probe_child(fds[1], name, image, image_size, wanted, keep_stderr);
        _exit(5);
    }
    int fork_errno = errno;
    if (lock) {
        pthread_mutex_unlock(inner);
        symbols->unlock(lock);
    }
    close(fds[1]);
    pthread_mutex_unlock(ch5_probe_fork_mutex());
    if (pid < 0) {
        close(fds[0]);
        out.state = CH5_PROBE_FAILED;
        out.detail = fork_errno;
        return out;
    }
    // Read the report until the child closes the pipe (it exits) or the time is up.
    double deadline = start + timeout;
    int timed_out = 0;
    char buffer[16384];
    for (;;) {
        double left = deadline - ch5_now();
        if (left <= 0) { timed_out = 1; break; }
        struct pollfd p = { fds[0], POLLIN, 0 };
        int ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (r == 0) continue;  // the deadline is checked above
        ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;  // end of file: the child is exiting
        ch5_text_append(&out.report, buffer, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    pid_t reaped;
    if (timed_out) {
        kill(pid, SIGKILL);
        do { reaped = waitpid(pid, &status, 0); } while (reaped < 0 && errno == EINTR);
        out.state = CH5_PROBE_TIMEOUT;
        out.seconds = ch5_now() - start;
        return out;
    }
    do { reaped = waitpid(pid, &status, 0); } while (reaped < 0 && errno == EINTR);
    out.seconds = ch5_now() - start;
    if (reaped < 0) {
        // Reaped by someone else (SIGCHLD ignored): a complete report is the only evidence.
        out.state = out.report.count >= 2 && out.report.bytes[out.report.count - 2] == 'X' ? CH5_PROBE_DONE : CH5_PROBE_EXIT;
        out.detail = -1;
    } else if (WIFSIGNALED(status)) {
        out.state = CH5_PROBE_SIGNAL;
        out.detail = WTERMSIG(status);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        out.state = CH5_PROBE_EXIT;
        out.detail = WEXITSTATUS(status);
    } else {
        out.state = CH5_PROBE_DONE;
    }
    return out;
}

#endif
