// The FITS header probe: cfitsio 4.2 is not hardened against forged headers (divisions by a
// zero tile or block size, strcpy into fixed buffers: Fuzz/Known/FuzzFITS), and it parses every
// HDU's header as soon as the HDUs are counted. peaks refuses the forged values it knows of in
// front of cfitsio (FITS.checkTileKeywords); for the ones it does not know of yet, before the
// reader opens a file in-process, a fork()ed child makes the header calls the reader will make
// (open, count the HDUs, move to each, and for images: dimensions, sizes, types, addresses, the
// compression keywords) and exits. A child that dies on a signal, exits abnormally (a sanitizer
// report, _FORTIFY_SOURCE's abort) or runs past the timeout marks the file as corrupt; the parent
// then never parses it. A child that finishes proves the same calls survive in-process.
//
// The child runs only this C code, cfitsio and malloc. The process may have other threads (the
// pipeline's workers reading frames through their own fitsfile handles); after fork() only what
// the forking thread held is consistent. cfitsio's one global lock (Fitsio_Lock, recursive,
// taken by open, close and the driver table) is held by the parent across fork(), so no other
// thread is half-way through an open or a close when the child's copy of memory is taken; the
// child makes its copy anew (its thread cannot unlock the parent thread's hold) and leaves with
// _exit. glibc's fork handlers keep malloc usable.
#ifndef PEAKS_CFITSIO_PROBE_H
#define PEAKS_CFITSIO_PROBE_H
#include "shim.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    CFITS_PROBE_DONE = 0,      // the child finished the calls (whatever cfitsio's status codes)
    CFITS_PROBE_SIGNAL = 1,    // the child died on signal `detail`
    CFITS_PROBE_EXIT = 2,      // the child exited with status `detail` (a sanitizer report)
    CFITS_PROBE_TIMEOUT = 3,   // the child ran past the timeout and was killed
    CFITS_PROBE_FAILED = 4,    // no child: fork failed with errno `detail`
};

typedef struct cfits_probe_outcome { int state, detail; double seconds; } cfits_probe_outcome;

typedef void (*cfits_death_setter)(void (*)(void));
typedef struct cfits_probe_symbols { pthread_mutex_t *lock; cfits_death_setter death; } cfits_probe_symbols;

int fitsio_init_lock(void);  // cfitsio's (fitsio2.h): initialises Fitsio_Lock once

// Function-local statics, so that Swift imports none of them.
static inline cfits_probe_symbols *cfits_probe_symbols_storage(void) { static cfits_probe_symbols s; return &s; }
static inline pthread_mutex_t *cfits_probe_fork_mutex(void) { static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; return &m; }

static inline void cfits_probe_resolve(void) {
    cfits_probe_symbols *s = cfits_probe_symbols_storage();
    // A reentrant cfitsio has the lock; initialise it first, so that it is never initialised
    // while this probe holds it.
    if (fits_is_reentrant()) {
        fitsio_init_lock();
        s->lock = (pthread_mutex_t *)dlsym(RTLD_DEFAULT, "Fitsio_Lock");
    }
    s->death = (cfits_death_setter)dlsym(RTLD_DEFAULT, "__sanitizer_set_death_callback");
}

static inline cfits_probe_symbols *cfits_probe_symbols_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, cfits_probe_resolve);
    return cfits_probe_symbols_storage();
}

static inline double cfits_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// The header calls of FITSFrames.init (and RiceTiles) on every HDU. Errors are cfitsio's status
/// codes and end the walk; only a crash matters here.
static inline void cfits_probe_walk(fitsfile *f) {
    int status = 0, count = 0;
    ffthdu(f, &count, &status);
    if (status) return;
    if (count > 10000) count = 10000;
    for (int k = 1; k <= count; k++) {
        int type = 0;
        status = 0;
        ffmahd(f, k, &type, &status);
        if (status) return;
        if (type != IMAGE_HDU) continue;
        int naxis = 0;
        ffgidm(f, &naxis, &status);
        if (status || naxis < 0 || naxis > 999) continue;
        long sizes[999];
        if (naxis > 0) ffgisz(f, naxis, sizes, &status);
        int equivalent = 0, bitpix = 0, flag = 0;
        ffgiet(f, &equivalent, &status);
        LONGLONG head = 0, data = 0, end = 0;
        ffghadll(f, &head, &data, &end, &status);
        fits_is_compressed_image(f, &flag);
        status = 0;
        ffgidt(f, &bitpix, &status);
        status = 0;
        char text[FLEN_VALUE];
        LONGLONG v = 0;
        ffgkys(f, "ZCMPTYPE", text, NULL, &status); status = 0;
        ffgkyjj(f, "ZVAL1", &v, NULL, &status); status = 0;
        ffgkyjj(f, "ZVAL2", &v, NULL, &status); status = 0;
        for (int a = 1; a <= (naxis < 999 ? naxis : 999); a++) {
            char key[16];
            snprintf(key, sizeof key, "ZTILE%d", a);
            ffgkyjj(f, key, &v, NULL, &status); status = 0;
        }
        ffgkyjj(f, "BLANK", &v, NULL, &status); status = 0;
        ffcmsg();
    }
}

/// The child: default crash handling, no core file, silence, then open, walk, close, _exit(0).
static inline void cfits_probe_child(const char *path, const void *image, size_t image_size, int keep_stderr) {
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
    cfits_probe_symbols *symbols = cfits_probe_symbols_storage();
    if (symbols->death) symbols->death(NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (!keep_stderr) dup2(null, 2);
        if (null > 2) close(null);
    }
    fitsfile *f = NULL;
    int status = 0;
    void *memory = NULL;
    size_t memory_size = 0;
    if (image) {
        // As FITSHandle does: a zero-padded copy, a multiple of 2880 bytes long.
        memory_size = (image_size + 2879) / 2880 * 2880;
        if (memory_size == 0) memory_size = 2880;
        memory = calloc(memory_size, 1);
        if (!memory) _exit(3);
        memcpy(memory, image, image_size);
        ffomem(&f, "peaks-probe.fits", READONLY, &memory, &memory_size, 0, NULL, &status);
    } else {
        ffdkopn(&f, path, READONLY, &status);
    }
    if (status == 0 && f) {
        cfits_probe_walk(f);
        status = 0;
        ffclos(f, &status);
    }
    _exit(0);
}

/// Runs the header calls of opening `path` (on disk) or the in-memory file `image` in a child
/// process; waits at most `timeout` seconds for it.
static inline cfits_probe_outcome cfits_probe(const char *path, const void *image, size_t image_size,
                                              double timeout, int keep_stderr) {
    cfits_probe_outcome out;
    memset(&out, 0, sizeof out);
    cfits_probe_symbols *symbols = cfits_probe_symbols_get();
    double start = cfits_now();
    pthread_mutex_lock(cfits_probe_fork_mutex());
    if (symbols->lock) pthread_mutex_lock(symbols->lock);
    pid_t pid = fork();
    if (pid == 0) {
        // The child's copy of the lock is held by this thread's id in the parent (the child's
        // thread has another id, so it cannot unlock it): made anew, recursive as cfitsio makes
        // it. Holding it across fork() means no other thread was inside it.
        if (symbols->lock) {
            pthread_mutexattr_t recursive;
            pthread_mutexattr_init(&recursive);
            pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
            pthread_mutex_init(symbols->lock, &recursive);
            pthread_mutexattr_destroy(&recursive);
        }
        cfits_probe_child(path, image, image_size, keep_stderr);
        _exit(5);
    }
    int fork_errno = errno;
    if (symbols->lock) pthread_mutex_unlock(symbols->lock);
    pthread_mutex_unlock(cfits_probe_fork_mutex());
    if (pid < 0) {
        out.state = CFITS_PROBE_FAILED;
        out.detail = fork_errno;
        return out;
    }
    int status = 0;
    pid_t reaped = 0;
    double deadline = start + timeout;
    // Poll for the child's end: every 0.2 ms for the first 20 ms (a header walk takes about
    // 1 ms), then every 5 ms. The deadline is checked first, so a child still unreaped at the
    // deadline counts as past it even when this thread was descheduled meanwhile.
    for (;;) {
        double now = cfits_now();
        if (now >= deadline) {
            kill(pid, SIGKILL);
            do { reaped = waitpid(pid, &status, 0); } while (reaped < 0 && errno == EINTR);
            out.state = CFITS_PROBE_TIMEOUT;
            out.seconds = cfits_now() - start;
            return out;
        }
        reaped = waitpid(pid, &status, WNOHANG);
        if (reaped == pid) break;
        if (reaped < 0 && errno != EINTR) break;
        struct timespec pause = { 0, now - start < 0.02 ? 200000 : 5000000 };
        nanosleep(&pause, NULL);
    }
    out.seconds = cfits_now() - start;
    if (reaped < 0) {
        // Reaped by someone else (SIGCHLD ignored): nothing is known of how it ended.
        out.state = CFITS_PROBE_DONE;
        out.detail = -1;
    } else if (WIFSIGNALED(status)) {
        out.state = CFITS_PROBE_SIGNAL;
        out.detail = WTERMSIG(status);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        out.state = CFITS_PROBE_EXIT;
        out.detail = WEXITSTATUS(status);
    } else {
        out.state = CFITS_PROBE_DONE;
    }
    return out;
}

#endif
