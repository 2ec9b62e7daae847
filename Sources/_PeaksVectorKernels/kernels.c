#include "peaks_vector_kernels.h"

// Products and sums stay separate operations: a fused multiply-add rounds once instead of
// twice, which would make the results depend on the instruction set.
#pragma clang fp contract(off)

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define PEAKS_X86_64 1
#define PEAKS_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define PEAKS_X86_64 0
#define PEAKS_TARGET_AVX2
#endif

// 16 floats; the compiler splits them into the registers the target has (four SSE, two AVX2).
// The _loose type allows unaligned loads and stores.
typedef float v16 __attribute__((vector_size(64)));
typedef float v16_loose __attribute__((vector_size(64), aligned(4)));
#define LOAD16(p) (*(const v16_loose *)(p))
#define STORE16(p, v) (*(v16_loose *)(p) = (v))

// Tap m of output x at base[OFFSET + x] (OFFSET an expression of m). 64 outputs at a time keep
// four 16-wide sums in flight, so that one sum's latency hides behind the others; then 16 at a
// time; then one. Every output is summed in the same order whatever path computes it.
#define TAP_SUMS_BODY(OFFSET)                                                                 \
    long x = 0;                                                                               \
    for (; x + 64 <= count; x += 64) {                                                        \
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                           \
        for (long m = 0; m < taps; m++) {                                                     \
            const float *row = base + (OFFSET) + x;                                           \
            v16 km = (v16){0} + k[m];                                                         \
            v16 p0 = km * LOAD16(row), p1 = km * LOAD16(row + 16);                            \
            v16 p2 = km * LOAD16(row + 32), p3 = km * LOAD16(row + 48);                       \
            a0 = a0 + p0; a1 = a1 + p1; a2 = a2 + p2; a3 = a3 + p3;                           \
        }                                                                                     \
        STORE16(dst + x, a0); STORE16(dst + x + 16, a1);                                      \
        STORE16(dst + x + 32, a2); STORE16(dst + x + 48, a3);                                 \
    }                                                                                         \
    for (; x + 16 <= count; x += 16) {                                                        \
        v16 a = {0};                                                                          \
        for (long m = 0; m < taps; m++) {                                                     \
            v16 p = ((v16){0} + k[m]) * LOAD16(base + (OFFSET) + x);                          \
            a = a + p;                                                                        \
        }                                                                                     \
        STORE16(dst + x, a);                                                                  \
    }                                                                                         \
    for (; x < count; x++) {                                                                  \
        float s = 0;                                                                          \
        for (long m = 0; m < taps; m++) {                                                     \
            float p = k[m] * base[(OFFSET) + x];                                              \
            s = s + p;                                                                        \
        }                                                                                     \
        dst[x] = s;                                                                           \
    }

typedef double v8d __attribute__((vector_size(64)));
typedef double v8d_loose __attribute__((vector_size(64), aligned(8)));

// Per pixel, the Jacobian row of the single-spot model and the residual, each product and sum in
// the order GaussianSpotFit's Swift loop evaluates them (left to right), then the updates.
#define SPOT_NORMAL_BODY                                                                      \
    for (long t = 0; t < count; t++) {                                                        \
        long i = px[t], j = py[t];                                                            \
        double row[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                             \
        double m = p[4];                                                                      \
        double a = p[3], exv = ex[i], eyv = ey[j];                                            \
        row[0] = a * exd[i] * eyv;                                                            \
        row[1] = a * exv * eyd[j];                                                            \
        row[2] = a * (exs[i] * eyv + exv * eys[j]);                                           \
        row[3] = exv * eyv;                                                                   \
        m += a * exv * eyv;                                                                   \
        row[4] = 1;                                                                           \
        if (slopes) {                                                                         \
            row[5] = (double)(ox + i);                                                        \
            row[6] = (double)(oy + j);                                                        \
            m += p[5] * row[5] + p[6] * row[6];                                               \
        }                                                                                     \
        double r = pv[t] - m;                                                                 \
        v8d rv = *(const v8d_loose *)row;                                                     \
        for (long q = 0; q < n; q++) {                                                        \
            double rq = row[q];                                                               \
            double g = rq * r;                                                                \
            gradient[q] = gradient[q] + g;                                                    \
            v8d prod = ((v8d){0} + rq) * rv;                                                  \
            v8d_loose *line = (v8d_loose *)(lines + 8 * q);                                   \
            *line = *line + prod;                                                             \
        }                                                                                     \
    }

// One definition of every kernel per instruction set.
#define DEFINE_KERNELS(SUFFIX, ATTRIBUTES)                                                     \
    ATTRIBUTES static void tap_sums_strided_##SUFFIX(float *dst, long count, const float *base,  \
                                                     long stride, const float *k, long taps) { \
        TAP_SUMS_BODY(m * stride)                                                             \
    }                                                                                         \
    ATTRIBUTES static void tap_sums_offsets_##SUFFIX(float *dst, long count, const float *base,  \
                                                     const long *offsets, const float *k,     \
                                                     long taps) {                             \
        TAP_SUMS_BODY(offsets[m])                                                             \
    }                                                                                         \
    ATTRIBUTES static void spot_normal_equations_##SUFFIX(                                    \
        long count, const int *px, const int *py, const double *pv, const double *p, long n,  \
        int slopes, long ox, long oy, const double *ex, const double *exd, const double *exs, \
        const double *ey, const double *eyd, const double *eys, double *gradient,             \
        double *lines) {                                                                      \
        SPOT_NORMAL_BODY                                                                      \
    }

DEFINE_KERNELS(baseline, )
#if PEAKS_X86_64
DEFINE_KERNELS(avx2, PEAKS_TARGET_AVX2)
#endif

int peaks_vector_isa_supported(peaks_isa isa) {
    switch (isa) {
    case PEAKS_ISA_BASELINE: return 1;
    case PEAKS_ISA_AVX2:
#if PEAKS_X86_64
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
        return 0;
#endif
    }
    return 0;
}

// Decided once, when the library is loaded (before main and before any thread).
static peaks_isa chosen = PEAKS_ISA_BASELINE;
__attribute__((constructor)) static void choose_isa(void) {
    chosen = peaks_vector_isa_supported(PEAKS_ISA_AVX2) ? PEAKS_ISA_AVX2 : PEAKS_ISA_BASELINE;
}

peaks_isa peaks_vector_isa(void) { return chosen; }

void peaks_tap_sums_strided_isa(peaks_isa isa, float *dst, long count, const float *base, long stride, const float *k, long taps) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) { tap_sums_strided_avx2(dst, count, base, stride, k, taps); return; }
#endif
    (void)isa;
    tap_sums_strided_baseline(dst, count, base, stride, k, taps);
}

void peaks_tap_sums_offsets_isa(peaks_isa isa, float *dst, long count, const float *base, const long *offsets, const float *k, long taps) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) { tap_sums_offsets_avx2(dst, count, base, offsets, k, taps); return; }
#endif
    (void)isa;
    tap_sums_offsets_baseline(dst, count, base, offsets, k, taps);
}

void peaks_tap_sums_strided(float *dst, long count, const float *base, long stride, const float *k, long taps) {
    peaks_tap_sums_strided_isa(chosen, dst, count, base, stride, k, taps);
}

void peaks_tap_sums_offsets(float *dst, long count, const float *base, const long *offsets, const float *k, long taps) {
    peaks_tap_sums_offsets_isa(chosen, dst, count, base, offsets, k, taps);
}

void peaks_spot_normal_equations_isa(peaks_isa isa, long count, const int *px, const int *py, const double *pv, const double *p,
                                     long n, int slopes, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                     const double *ey, const double *eyd, const double *eys, double *gradient, double *lines) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) {
        spot_normal_equations_avx2(count, px, py, pv, p, n, slopes, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
        return;
    }
#endif
    (void)isa;
    spot_normal_equations_baseline(count, px, py, pv, p, n, slopes, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
}

void peaks_spot_normal_equations(long count, const int *px, const int *py, const double *pv, const double *p, long n,
                                 int slopes, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                 const double *ey, const double *eyd, const double *eys, double *gradient, double *lines) {
    peaks_spot_normal_equations_isa(chosen, count, px, py, pv, p, n, slopes, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
}
