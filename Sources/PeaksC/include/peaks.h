/*
 * peaks.h: the C ABI of peaks (library product PeaksC, libPeaksC.so).
 *
 * Build:  swift build -c release -Xswiftc -static-stdlib --product PeaksC
 *         (self-contained .so: needs only libc, libm, libstdc++, libgcc_s; see PLATFORM.md §4).
 *
 * Conventions
 *  - Every computing function returns a result handle (never NULL unless memory is exhausted).
 *    Check peaks_result_status(); on failure peaks_result_error() is a one-line message, the
 *    same the command-line tool prints after "peaks: error: ". Free every handle with
 *    peaks_result_free(), on success and on failure alike. Nothing exits, aborts on bad input,
 *    or writes to standard output/error.
 *  - Results are tables: peaks_result_columns() names, peaks_result_rows() rows, and
 *    peaks_result_data() rows x columns doubles, ROW-MAJOR (row i, column j at data[i*ncol + j]).
 *    Pointers returned by peaks_result_* stay valid until peaks_result_free().
 *  - Coordinates: x = column, y = row, 0-based, the centre of pixel (0, 0) is (0.0, 0.0).
 *  - Arrays are described by peaks_array: any real element type, any strides in bytes
 *    (C order, Fortran order, views with negative or gapped strides). The data are read, never
 *    written, and only during the call. Values are converted to float (32-bit) for detection.
 *  - Functions are thread-safe and may run concurrently on different threads. Detection over a
 *    3-D/4-D array uses `threads` worker threads (0 = one per core) and returns rows in frame
 *    order; the results do not depend on the thread count.
 */
#ifndef PEAKS_H
#define PEAKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element type codes (peaks_array.dtype). OR with PEAKS_BIG_ENDIAN for big-endian storage. */
enum {
    PEAKS_DTYPE_BOOL = 0,     /* 1 byte, 0 = false */
    PEAKS_DTYPE_INT8 = 1,
    PEAKS_DTYPE_UINT8 = 2,
    PEAKS_DTYPE_INT16 = 3,
    PEAKS_DTYPE_UINT16 = 4,
    PEAKS_DTYPE_INT32 = 5,
    PEAKS_DTYPE_UINT32 = 6,
    PEAKS_DTYPE_INT64 = 7,
    PEAKS_DTYPE_UINT64 = 8,
    PEAKS_DTYPE_FLOAT16 = 9,  /* IEEE binary16 */
    PEAKS_DTYPE_FLOAT32 = 10,
    PEAKS_DTYPE_FLOAT64 = 11,
    PEAKS_BIG_ENDIAN = 0x100
};

/* Status codes (peaks_result_status). */
enum {
    PEAKS_OK = 0,
    PEAKS_ERROR_INPUT = 1,     /* bad input: empty image, NaN pixels, unknown algorithm or setting,
                                  bad setting value, shape mismatch (the CLI's message) */
    PEAKS_ERROR_CALL = 2,      /* malformed call: NULL pointer, unknown dtype code, negative size */
    PEAKS_ERROR_INTERNAL = 3
};

/* An n-dimensional array owned by the caller. For an image: ndim 2, shape {rows, columns}. */
typedef struct peaks_array {
    const void *data;          /* address of element [0, 0, ...]; may be NULL if the array is empty */
    int32_t dtype;             /* PEAKS_DTYPE_* (| PEAKS_BIG_ENDIAN) */
    int32_t ndim;
    const int64_t *shape;      /* ndim sizes */
    const int64_t *strides;    /* ndim strides in BYTES (may be negative) */
} peaks_array;

typedef struct peaks_result peaks_result;

/* The version of peaks, e.g. "0.1.0" (static storage; do not free). */
const char *peaks_version(void);

/* The version of this ABI (1). Incremented when a signature or a struct changes. */
int32_t peaks_abi_version(void);

/* Every detector with its settings (name, type, default, min/max, choices, auto, unit, help) as
 * JSON text, schema "peaks.algorithms/1": the output of `peaks algorithms --format json`.
 * Read it with peaks_result_text(). */
peaks_result *peaks_algorithms_json(void);

/* One detector's entry of peaks_algorithms_json (same schema, a list of one), or
 * PEAKS_ERROR_INPUT naming the known detectors when `algorithm` is not one of them. */
peaks_result *peaks_parameters_json(const char *algorithm);

/* Finds peaks.
 *  image      2-D (rows, columns): one image. 3-D (frames, rows, columns): every frame.
 *             4-D (scan_y, scan_x, rows, columns): every frame, frame = scan_y * scan_x_size + scan_x.
 *  mask       NULL, or a 2-D array of the frame's shape: non-zero (and not NaN) = valid pixel.
 *             Peaks are never reported on invalid pixels; detectors treat them as absent.
 *  algorithm  a detector name (see peaks_algorithms_json), e.g. "persistence".
 *  nsettings, keys, values
 *             the detector's settings as text, e.g. {"prominence"} = {"auto"}: validated exactly
 *             as `peaks detect -p NAME=VALUE` (unknown names and bad values are PEAKS_ERROR_INPUT).
 *             Missing settings take their defaults. '-' in a name is read as '_'.
 *  nonfinite  0: NaN/infinite pixels are an error (the CLI's default); 1: they are invalid pixels.
 *  threads    worker threads for 3-D/4-D arrays (0 = one per core); ignored for 2-D.
 * Result columns: [frame, [scan_y, scan_x,]] x, y, value, then the detector's extras (for
 * persistence: prominence, saddle_x, ...), the same columns and numbers as `peaks detect`'s CSV.
 * Rows: strongest first within a frame; frames in order. */
peaks_result *peaks_detect(const peaks_array *image, const peaks_array *mask, const char *algorithm,
                           int32_t nsettings, const char *const *keys, const char *const *values,
                           int32_t nonfinite, int32_t threads);

/* Registers MOVING against REFERENCE (2-D arrays of the same shape).
 * Without masks: phase cross-correlation (Guizar-Sicairos et al. 2008, as scikit-image's
 * phase_cross_correlation) refined to 1/upsample_factor pixel (1...10000); normalization 0 =
 * "phase" (whitened), 1 = none. With a mask (either may be NULL = all valid): masked normalised
 * cross-correlation (Padfield 2012) refined by a quadratic fit; upsample_factor must be 1 and
 * overlap_ratio (0...1; 0.3 is usual) drops lags of small overlap.
 * Result: one row, columns shift_row, shift_col, error, phasediff, peak_correlation.
 * shift = (row, col) to apply to MOVING to align it with REFERENCE (scikit-image's sign):
 * moving(r - shift_row, c - shift_col) ~ reference(r, c). error and phasediff are NaN with masks,
 * peak_correlation is NaN without. */
/* The settings peaks_detect runs every frame of a stack (3-D/4-D image) with: those given,
 * plus those the detector measures from the data ("auto") resolved once from up to 8 evenly
 * spaced frames (a 2-D image is a stack of one). A JSON object {name: value}, read with
 * peaks_result_text(). Passing them to peaks_detect for every block of a stack processed in
 * pieces gives exactly the whole stack's table. */
peaks_result *peaks_resolve_settings(const peaks_array *image, const peaks_array *mask, const char *algorithm,
                                     int32_t nsettings, const char *const *keys, const char *const *values);

peaks_result *peaks_phase_cross_correlation(const peaks_array *reference, const peaks_array *moving,
                                            const peaks_array *reference_mask, const peaks_array *moving_mask,
                                            int32_t upsample_factor, int32_t normalization, double overlap_ratio);

/* The centre of a centrosymmetric pattern (autocenter, as `peaks center`): 2-D image, optional
 * mask (NaN/infinite pixels are treated as invalid). Result: one row, columns x, y, confidence
 * (the normalised cross-correlation of the pattern with its point inversion at the centre, in
 * [-1, 1]; 1 = perfectly symmetric). */
peaks_result *peaks_center(const peaks_array *image, const peaks_array *mask);

/* Result accessors. All accept NULL (then: PEAKS_ERROR_CALL, NULL or 0). */
int32_t peaks_result_status(const peaks_result *r);
const char *peaks_result_error(const peaks_result *r);          /* NULL on success */
int64_t peaks_result_rows(const peaks_result *r);
int32_t peaks_result_columns(const peaks_result *r);
const char *peaks_result_column_name(const peaks_result *r, int32_t i);  /* NULL if out of range */
const char *peaks_result_header(const peaks_result *r);          /* the column names joined by ',' (NULL if
                                                                    the result has no table) */
const double *peaks_result_data(const peaks_result *r);          /* rows x columns, row-major */
const char *peaks_result_text(const peaks_result *r);            /* NULL unless the call returns text */
void peaks_result_free(peaks_result *r);                         /* NULL is allowed */

#ifdef __cplusplus
}
#endif

#endif /* PEAKS_H */
