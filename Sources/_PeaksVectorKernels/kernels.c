#include "peaks_vector_kernels.h"
#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Products and sums stay separate operations: a fused multiply-add rounds once instead of
// twice, which would make the results depend on the instruction set.
#pragma clang fp contract(off)

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define PEAKS_X86_64 1
#define PEAKS_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
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

// Two output rows at once: dst[x] = sum_m k[m] base[m stride + x] and dst[dstStride + x] =
// sum_m k[m] base[(m + 1) stride + x]. Input row j (0 ... taps) serves tap j of the first and tap
// j - 1 of the second, so each row is loaded once for both (the column pass of a wide Gaussian
// is bound by those loads: 27% faster at 47-181 taps); each output still sums its taps in order
// from zero, a product then a sum, bit for bit the one-row loop. 32 outputs of each row at a
// time (four 16-wide sums in flight), then 16, then one.
#define TAP_SUMS_TWO_ROWS_BODY                                                               \
    long x = 0;                                                                               \
    for (; x + 32 <= count; x += 32) {                                                        \
        const float *r = base + x;                                                            \
        v16 k0 = (v16){0} + k[0];                                                             \
        v16 a0 = (v16){0} + k0 * LOAD16(r), a1 = (v16){0} + k0 * LOAD16(r + 16);              \
        v16 b0 = {0}, b1 = {0};                                                               \
        for (long j = 1; j < taps; j++) {                                                     \
            r = base + j * stride + x;                                                        \
            v16 x0 = LOAD16(r), x1 = LOAD16(r + 16);                                          \
            v16 ka = (v16){0} + k[j], kb = (v16){0} + k[j - 1];                               \
            v16 p0 = ka * x0, p1 = ka * x1, q0 = kb * x0, q1 = kb * x1;                       \
            a0 = a0 + p0; a1 = a1 + p1; b0 = b0 + q0; b1 = b1 + q1;                           \
        }                                                                                     \
        r = base + taps * stride + x;                                                         \
        v16 kl = (v16){0} + k[taps - 1];                                                      \
        v16 q0 = kl * LOAD16(r), q1 = kl * LOAD16(r + 16);                                    \
        b0 = b0 + q0; b1 = b1 + q1;                                                           \
        STORE16(dst + x, a0); STORE16(dst + x + 16, a1);                                      \
        STORE16(dst + dstStride + x, b0); STORE16(dst + dstStride + x + 16, b1);              \
    }                                                                                         \
    for (; x + 16 <= count; x += 16) {                                                        \
        v16 a = (v16){0} + ((v16){0} + k[0]) * LOAD16(base + x), b = {0};                     \
        for (long j = 1; j < taps; j++) {                                                     \
            v16 v = LOAD16(base + j * stride + x);                                            \
            v16 p = ((v16){0} + k[j]) * v, q = ((v16){0} + k[j - 1]) * v;                     \
            a = a + p; b = b + q;                                                             \
        }                                                                                     \
        v16 q = ((v16){0} + k[taps - 1]) * LOAD16(base + taps * stride + x);                  \
        b = b + q;                                                                            \
        STORE16(dst + x, a); STORE16(dst + dstStride + x, b);                                 \
    }                                                                                         \
    for (; x < count; x++) {                                                                  \
        float s = 0, t = 0;                                                                   \
        for (long m = 0; m < taps; m++) {                                                     \
            float p = k[m] * base[m * stride + x];                                            \
            s = s + p;                                                                        \
            float q = k[m] * base[(m + 1) * stride + x];                                      \
            t = t + q;                                                                        \
        }                                                                                     \
        dst[x] = s;                                                                           \
        dst[dstStride + x] = t;                                                               \
    }

typedef double v8d __attribute__((vector_size(64)));
typedef double v8d_loose __attribute__((vector_size(64), aligned(8)));
typedef double v2d __attribute__((vector_size(16)));
typedef double v2d_loose __attribute__((vector_size(16), aligned(8)));

// Per pixel, the Jacobian row of the single-spot model and the residual, each product and sum in
// the order GaussianSpotFit's Swift loop evaluates them (left to right), then the updates. The
// sums are kept in local variables over the pixels (each receives the same additions in the same
// order as the caller's arrays would), and the row is built as a vector from the scalars in
// registers: stored as eight doubles and loaded back as one vector, it stalled every pixel on a
// failed store-to-load forwarding (46% of the kernel's time). N, the number of unknowns, is a
// constant in each instance, so that the loops over the unknowns unroll. With the quadratic
// background (N = 10) each row has 16 lanes: 8 in one vector, lanes 8 and 9 in a second one.
#define SPOT_NORMAL_LOOP(N)                                                                   \
    {                                                                                         \
        const long stride = N > 8 ? 16 : 8;                                                   \
        double grad[N];                                                                       \
        v8d acc[N];                                                                           \
        v2d high[N];                                                                          \
        for (long q = 0; q < N; q++) {                                                        \
            grad[q] = gradient[q];                                                            \
            acc[q] = *(const v8d_loose *)(lines + stride * q);                                \
            high[q] = N > 8 ? *(const v2d_loose *)(lines + stride * q + 8) : (v2d){0};        \
        }                                                                                     \
        for (long t = 0; t < count; t++) {                                                    \
            long i = px[t], j = py[t];                                                        \
            double m = p[4];                                                                  \
            double a = p[3], exv = ex[i], eyv = ey[j];                                        \
            double r0 = a * exd[i] * eyv;                                                     \
            double r1 = a * exv * eyd[j];                                                     \
            double r2 = a * (exs[i] * eyv + exv * eys[j]);                                    \
            double r3 = exv * eyv;                                                            \
            m += a * exv * eyv;                                                               \
            double r4 = 1, r5 = 0, r6 = 0, r7 = 0, r8 = 0, r9 = 0;                            \
            if (N >= 7) {                                                                     \
                r5 = (double)(ox + i);                                                        \
                r6 = (double)(oy + j);                                                        \
                m += p[5] * r5 + p[6] * r6;                                                   \
            }                                                                                 \
            if (N == 10) {                                                                    \
                r7 = r5 * r5;                                                                 \
                r8 = r5 * r6;                                                                 \
                r9 = r6 * r6;                                                                 \
                m += p[7] * r5 * r5 + p[8] * r5 * r6 + p[9] * r6 * r6;                        \
            }                                                                                 \
            double r = pv[t] - m;                                                             \
            const double row[10] = {r0, r1, r2, r3, r4, r5, r6, r7, r8, r9};                  \
            v8d rv = {r0, r1, r2, r3, r4, r5, r6, r7};                                        \
            v2d rh = {r8, r9};                                                                \
            for (long q = 0; q < N; q++) {                                                    \
                double rq = row[q];                                                           \
                double g = rq * r;                                                            \
                grad[q] = grad[q] + g;                                                        \
                v8d prod = ((v8d){0} + rq) * rv;                                              \
                acc[q] = acc[q] + prod;                                                       \
                if (N > 8) {                                                                  \
                    v2d ph = ((v2d){0} + rq) * rh;                                            \
                    high[q] = high[q] + ph;                                                   \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (long q = 0; q < N; q++) {                                                        \
            gradient[q] = grad[q];                                                            \
            *(v8d_loose *)(lines + stride * q) = acc[q];                                      \
            if (N > 8) *(v2d_loose *)(lines + stride * q + 8) = high[q];                      \
        }                                                                                     \
    }

// n = 5 (x, y, s, A, B; background 0), 7 (with the background's slopes; background 1) or 10
// (and its curvature; background 2).
#define SPOT_NORMAL_BODY                                                                      \
    /* the unrolled instances write exactly n sums */                                         \
    if (n != (background == 2 ? 10 : background == 1 ? 7 : 5)) abort();                       \
    if (background == 2) SPOT_NORMAL_LOOP(10)                                                 \
    else if (background == 1) SPOT_NORMAL_LOOP(7)                                             \
    else SPOT_NORMAL_LOOP(5)

// Several spots fitted together (n = 4 spots + 1, 3 or 6 unknowns): per pixel the Jacobian row
// and the model, each product and sum in the order of GaussianSpotFit's Swift loop; then
// row_a * r into gradient[a] and row_a * row into line a (`stride` lanes, a multiple of 8, the
// lanes from n on zero), eight lanes at a time. Pixels go four at a time: each line block is
// loaded once, receives the four pixels' products in pixel order and is stored once (the line
// updates are loads and stores of memory, n lines of up to 32 lanes). Each element receives the
// same products in the same order as the plain loop's, so the sums are bit for bit its (the
// lanes below the diagonal are discarded by the caller).
#define GROUP_PIXELS 4
#define GROUP_NORMAL_BODY                                                                     \
    long planeIndex = 4 * spots;                                                              \
    long stride = (n + 7) / 8 * 8;                                                            \
    double rows[GROUP_PIXELS][stride];                                                        \
    double res[GROUP_PIXELS];                                                                 \
    for (long q = 0; q < GROUP_PIXELS; q++)                                                   \
        for (long a = 0; a < stride; a++) rows[q][a] = 0;                                     \
    for (long t0 = 0; t0 < count; t0 += GROUP_PIXELS) {                                       \
        long np = count - t0 < GROUP_PIXELS ? count - t0 : GROUP_PIXELS;                      \
        for (long q = 0; q < np; q++) {                                                       \
            long t = t0 + q;                                                                  \
            double *row = rows[q];                                                            \
            long i = px[t], j = py[t];                                                        \
            double m = p[planeIndex];                                                         \
            for (long k = 0; k < spots; k++) {                                                \
                double a = p[4 * k + 3];                                                      \
                double exv = ex[k * nx + i], eyv = ey[k * ny + j];                            \
                row[4 * k] = a * exd[k * nx + i] * eyv;                                       \
                row[4 * k + 1] = a * exv * eyd[k * ny + j];                                   \
                row[4 * k + 2] = a * (exs[k * nx + i] * eyv + exv * eys[k * ny + j]);         \
                row[4 * k + 3] = exv * eyv;                                                   \
                m += a * exv * eyv;                                                           \
            }                                                                                 \
            row[planeIndex] = 1;                                                              \
            if (background >= 1) {                                                            \
                row[planeIndex + 1] = (double)(ox + i);                                       \
                row[planeIndex + 2] = (double)(oy + j);                                       \
                m += p[planeIndex + 1] * row[planeIndex + 1] + p[planeIndex + 2] * row[planeIndex + 2]; \
            }                                                                                 \
            if (background == 2) {                                                           \
                double u = (double)(ox + i), v = (double)(oy + j);                            \
                row[planeIndex + 3] = u * u;                                                  \
                row[planeIndex + 4] = u * v;                                                  \
                row[planeIndex + 5] = v * v;                                                  \
                m += p[planeIndex + 3] * u * u + p[planeIndex + 4] * u * v + p[planeIndex + 5] * v * v; \
            }                                                                                 \
            res[q] = pv[t] - m;                                                               \
        }                                                                                     \
        for (long a = 0; a < n; a++) {                                                        \
            double g = gradient[a];                                                           \
            for (long q = 0; q < np; q++) {                                                   \
                double gq = rows[q][a] * res[q];                                              \
                g = g + gq;                                                                   \
            }                                                                                 \
            gradient[a] = g;                                                                  \
            double *line = lines + a * stride;                                                \
            /* Lanes below a's 8-lane block are below the diagonal: skipped. */              \
            for (long b = a / 8 * 8; b < stride; b += 8) {                                    \
                v8d acc = *(const v8d_loose *)(line + b);                                     \
                for (long q = 0; q < np; q++) {                                               \
                    v8d prod = ((v8d){0} + rows[q][a]) * *(const v8d_loose *)(rows[q] + b);   \
                    acc = acc + prod;                                                         \
                }                                                                             \
                *(v8d_loose *)(line + b) = acc;                                               \
            }                                                                                 \
        }                                                                                     \
    }

// The sampled-bracket pass, one value at a time without branches: the value is stored at the
// next free slot whatever it is (one spare slot is kept) and only the count advances for a value
// strictly inside the bracket.
static long bracket_pass_baseline(const float *values, long n, float lo, float hi, float *inside, long capacity,
                                  long *counts) {
    long below_lo = 0, at_most_lo = 0, at_most_hi = 0, count = 0;
    if (n > 0 && capacity < 1) return -1;
    for (long i = 0; i < n; i++) {
        float x = values[i];
        long under = x < lo, not_above = x <= lo, in_hi = x <= hi, below_hi = x < hi;
        below_lo += under;
        at_most_lo += not_above;
        at_most_hi += in_hi;
        inside[count] = x;
        count += below_hi & (1 - not_above);
        if (count >= capacity - 1) return -1;
    }
    counts[0] = below_lo; counts[1] = at_most_lo; counts[2] = at_most_hi;
    return count;
}

#if PEAKS_X86_64
// pack[m], byte j: the lane of the j-th set bit of the 8-bit mask m (the rest 0): the permutation
// that moves the lanes m selects, in order, to the front of a vector ("left-packing"). Written out
// (generated) rather than filled at load time, so that no call can see it empty.
static const uint64_t pack[256] = {
    0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000001ULL, 0x0000000000000100ULL,
    0x0000000000000002ULL, 0x0000000000000200ULL, 0x0000000000000201ULL, 0x0000000000020100ULL,
    0x0000000000000003ULL, 0x0000000000000300ULL, 0x0000000000000301ULL, 0x0000000000030100ULL,
    0x0000000000000302ULL, 0x0000000000030200ULL, 0x0000000000030201ULL, 0x0000000003020100ULL,
    0x0000000000000004ULL, 0x0000000000000400ULL, 0x0000000000000401ULL, 0x0000000000040100ULL,
    0x0000000000000402ULL, 0x0000000000040200ULL, 0x0000000000040201ULL, 0x0000000004020100ULL,
    0x0000000000000403ULL, 0x0000000000040300ULL, 0x0000000000040301ULL, 0x0000000004030100ULL,
    0x0000000000040302ULL, 0x0000000004030200ULL, 0x0000000004030201ULL, 0x0000000403020100ULL,
    0x0000000000000005ULL, 0x0000000000000500ULL, 0x0000000000000501ULL, 0x0000000000050100ULL,
    0x0000000000000502ULL, 0x0000000000050200ULL, 0x0000000000050201ULL, 0x0000000005020100ULL,
    0x0000000000000503ULL, 0x0000000000050300ULL, 0x0000000000050301ULL, 0x0000000005030100ULL,
    0x0000000000050302ULL, 0x0000000005030200ULL, 0x0000000005030201ULL, 0x0000000503020100ULL,
    0x0000000000000504ULL, 0x0000000000050400ULL, 0x0000000000050401ULL, 0x0000000005040100ULL,
    0x0000000000050402ULL, 0x0000000005040200ULL, 0x0000000005040201ULL, 0x0000000504020100ULL,
    0x0000000000050403ULL, 0x0000000005040300ULL, 0x0000000005040301ULL, 0x0000000504030100ULL,
    0x0000000005040302ULL, 0x0000000504030200ULL, 0x0000000504030201ULL, 0x0000050403020100ULL,
    0x0000000000000006ULL, 0x0000000000000600ULL, 0x0000000000000601ULL, 0x0000000000060100ULL,
    0x0000000000000602ULL, 0x0000000000060200ULL, 0x0000000000060201ULL, 0x0000000006020100ULL,
    0x0000000000000603ULL, 0x0000000000060300ULL, 0x0000000000060301ULL, 0x0000000006030100ULL,
    0x0000000000060302ULL, 0x0000000006030200ULL, 0x0000000006030201ULL, 0x0000000603020100ULL,
    0x0000000000000604ULL, 0x0000000000060400ULL, 0x0000000000060401ULL, 0x0000000006040100ULL,
    0x0000000000060402ULL, 0x0000000006040200ULL, 0x0000000006040201ULL, 0x0000000604020100ULL,
    0x0000000000060403ULL, 0x0000000006040300ULL, 0x0000000006040301ULL, 0x0000000604030100ULL,
    0x0000000006040302ULL, 0x0000000604030200ULL, 0x0000000604030201ULL, 0x0000060403020100ULL,
    0x0000000000000605ULL, 0x0000000000060500ULL, 0x0000000000060501ULL, 0x0000000006050100ULL,
    0x0000000000060502ULL, 0x0000000006050200ULL, 0x0000000006050201ULL, 0x0000000605020100ULL,
    0x0000000000060503ULL, 0x0000000006050300ULL, 0x0000000006050301ULL, 0x0000000605030100ULL,
    0x0000000006050302ULL, 0x0000000605030200ULL, 0x0000000605030201ULL, 0x0000060503020100ULL,
    0x0000000000060504ULL, 0x0000000006050400ULL, 0x0000000006050401ULL, 0x0000000605040100ULL,
    0x0000000006050402ULL, 0x0000000605040200ULL, 0x0000000605040201ULL, 0x0000060504020100ULL,
    0x0000000006050403ULL, 0x0000000605040300ULL, 0x0000000605040301ULL, 0x0000060504030100ULL,
    0x0000000605040302ULL, 0x0000060504030200ULL, 0x0000060504030201ULL, 0x0006050403020100ULL,
    0x0000000000000007ULL, 0x0000000000000700ULL, 0x0000000000000701ULL, 0x0000000000070100ULL,
    0x0000000000000702ULL, 0x0000000000070200ULL, 0x0000000000070201ULL, 0x0000000007020100ULL,
    0x0000000000000703ULL, 0x0000000000070300ULL, 0x0000000000070301ULL, 0x0000000007030100ULL,
    0x0000000000070302ULL, 0x0000000007030200ULL, 0x0000000007030201ULL, 0x0000000703020100ULL,
    0x0000000000000704ULL, 0x0000000000070400ULL, 0x0000000000070401ULL, 0x0000000007040100ULL,
    0x0000000000070402ULL, 0x0000000007040200ULL, 0x0000000007040201ULL, 0x0000000704020100ULL,
    0x0000000000070403ULL, 0x0000000007040300ULL, 0x0000000007040301ULL, 0x0000000704030100ULL,
    0x0000000007040302ULL, 0x0000000704030200ULL, 0x0000000704030201ULL, 0x0000070403020100ULL,
    0x0000000000000705ULL, 0x0000000000070500ULL, 0x0000000000070501ULL, 0x0000000007050100ULL,
    0x0000000000070502ULL, 0x0000000007050200ULL, 0x0000000007050201ULL, 0x0000000705020100ULL,
    0x0000000000070503ULL, 0x0000000007050300ULL, 0x0000000007050301ULL, 0x0000000705030100ULL,
    0x0000000007050302ULL, 0x0000000705030200ULL, 0x0000000705030201ULL, 0x0000070503020100ULL,
    0x0000000000070504ULL, 0x0000000007050400ULL, 0x0000000007050401ULL, 0x0000000705040100ULL,
    0x0000000007050402ULL, 0x0000000705040200ULL, 0x0000000705040201ULL, 0x0000070504020100ULL,
    0x0000000007050403ULL, 0x0000000705040300ULL, 0x0000000705040301ULL, 0x0000070504030100ULL,
    0x0000000705040302ULL, 0x0000070504030200ULL, 0x0000070504030201ULL, 0x0007050403020100ULL,
    0x0000000000000706ULL, 0x0000000000070600ULL, 0x0000000000070601ULL, 0x0000000007060100ULL,
    0x0000000000070602ULL, 0x0000000007060200ULL, 0x0000000007060201ULL, 0x0000000706020100ULL,
    0x0000000000070603ULL, 0x0000000007060300ULL, 0x0000000007060301ULL, 0x0000000706030100ULL,
    0x0000000007060302ULL, 0x0000000706030200ULL, 0x0000000706030201ULL, 0x0000070603020100ULL,
    0x0000000000070604ULL, 0x0000000007060400ULL, 0x0000000007060401ULL, 0x0000000706040100ULL,
    0x0000000007060402ULL, 0x0000000706040200ULL, 0x0000000706040201ULL, 0x0000070604020100ULL,
    0x0000000007060403ULL, 0x0000000706040300ULL, 0x0000000706040301ULL, 0x0000070604030100ULL,
    0x0000000706040302ULL, 0x0000070604030200ULL, 0x0000070604030201ULL, 0x0007060403020100ULL,
    0x0000000000070605ULL, 0x0000000007060500ULL, 0x0000000007060501ULL, 0x0000000706050100ULL,
    0x0000000007060502ULL, 0x0000000706050200ULL, 0x0000000706050201ULL, 0x0000070605020100ULL,
    0x0000000007060503ULL, 0x0000000706050300ULL, 0x0000000706050301ULL, 0x0000070605030100ULL,
    0x0000000706050302ULL, 0x0000070605030200ULL, 0x0000070605030201ULL, 0x0007060503020100ULL,
    0x0000000007060504ULL, 0x0000000706050400ULL, 0x0000000706050401ULL, 0x0000070605040100ULL,
    0x0000000706050402ULL, 0x0000070605040200ULL, 0x0000070605040201ULL, 0x0007060504020100ULL,
    0x0000000706050403ULL, 0x0000070605040300ULL, 0x0000070605040301ULL, 0x0007060504030100ULL,
    0x0000070605040302ULL, 0x0007060504030200ULL, 0x0007060504030201ULL, 0x0706050403020100ULL
};

// Eight values at a time: the three counts accumulate in vector lanes (a true comparison is -1),
// and the values inside the bracket are left-packed with one permutation and stored as a whole
// vector at the next free slot (eight spare slots are kept), the count advancing by how many
// there were. The same counts and the same values in the same order as the baseline.
PEAKS_TARGET_AVX2 static long bracket_pass_avx2(const float *values, long n, float lo, float hi, float *inside,
                                                long capacity, long *counts) {
    if (capacity < 16) return bracket_pass_baseline(values, n, lo, hi, inside, capacity, counts);
    long below_lo = 0, at_most_lo = 0, at_most_hi = 0, count = 0, i = 0;
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    // Blocks while a whole vector can be stored (count + 8 <= capacity); the rest, and the last
    // few slots, one value at a time by the baseline's rule, so that the answer (-1 or not) is
    // the baseline's for every capacity.
    while (i + 8 <= n && count + 8 <= capacity) {
        // At most 2^20 blocks per round, so that no 32-bit lane count can overflow.
        long end = i + 8 * (1L << 20) < n ? i + 8 * (1L << 20) : n;
        __m256i under = _mm256_setzero_si256(), not_above = under, in_hi = under;
        for (; i + 8 <= end && count + 8 <= capacity; i += 8) {
            __m256 x = _mm256_loadu_ps(values + i);
            __m256 lt_lo = _mm256_cmp_ps(x, vlo, _CMP_LT_OQ), le_lo = _mm256_cmp_ps(x, vlo, _CMP_LE_OQ);
            __m256 le_hi = _mm256_cmp_ps(x, vhi, _CMP_LE_OQ), lt_hi = _mm256_cmp_ps(x, vhi, _CMP_LT_OQ);
            under = _mm256_sub_epi32(under, _mm256_castps_si256(lt_lo));
            not_above = _mm256_sub_epi32(not_above, _mm256_castps_si256(le_lo));
            in_hi = _mm256_sub_epi32(in_hi, _mm256_castps_si256(le_hi));
            int m = _mm256_movemask_ps(_mm256_andnot_ps(le_lo, lt_hi));
            __m256i lanes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)pack[m]));
            _mm256_storeu_ps(inside + count, _mm256_permutevar8x32_ps(x, lanes));
            count += __builtin_popcount((unsigned)m);
            // The baseline gives up once its count reaches capacity - 1 (the count only grows).
            if (count >= capacity - 1) return -1;
        }
        int32_t u[8], a[8], h[8];
        _mm256_storeu_si256((__m256i *)u, under);
        _mm256_storeu_si256((__m256i *)a, not_above);
        _mm256_storeu_si256((__m256i *)h, in_hi);
        for (int lane = 0; lane < 8; lane++) { below_lo += u[lane]; at_most_lo += a[lane]; at_most_hi += h[lane]; }
    }
    long tail[3];
    long more = bracket_pass_baseline(values + i, n - i, lo, hi, inside + count, capacity - count, tail);
    if (more < 0) return -1;
    counts[0] = below_lo + tail[0]; counts[1] = at_most_lo + tail[1]; counts[2] = at_most_hi + tail[2];
    return count + more;
}
#endif

static long indices_above_baseline(const float *values, long n, float limit, int *out) {
    long count = 0;
    for (long i = 0; i < n; i++) {
        out[count] = (int)i;
        count += values[i] > limit;
    }
    return count;
}

#if PEAKS_X86_64
// Eight values at a time: the lanes above the limit select, through the left-packing table, their
// indices from the vector (i, i + 1, ..., i + 7), stored as a whole vector at the next free slot.
PEAKS_TARGET_AVX2 static long indices_above_avx2(const float *values, long n, float limit, int *out) {
    long count = 0, i = 0;
    const __m256 vlimit = _mm256_set1_ps(limit);
    const __m256i step = _mm256_set1_epi32(8);
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(values + i);
        int m = _mm256_movemask_ps(_mm256_cmp_ps(x, vlimit, _CMP_GT_OQ));
        if (m) {
            __m256i lanes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)pack[m]));
            _mm256_storeu_si256((__m256i *)(out + count), _mm256_permutevar8x32_epi32(index, lanes));
            count += __builtin_popcount((unsigned)m);
        }
        index = _mm256_add_epi32(index, step);
    }
    for (; i < n; i++) {
        out[count] = (int)i;
        count += values[i] > limit;
    }
    return count;
}
#endif

// One definition of every kernel per instruction set.
#define DEFINE_KERNELS(SUFFIX, ATTRIBUTES)                                                     \
    ATTRIBUTES static void tap_sums_strided_##SUFFIX(float *dst, long count, const float *base,  \
                                                     long stride, const float *k, long taps) { \
        TAP_SUMS_BODY(m * stride)                                                             \
    }                                                                                         \
    ATTRIBUTES static void tap_sums_two_rows_##SUFFIX(float *dst, long dstStride, long count,    \
                                                      const float *base, long stride,         \
                                                      const float *k, long taps) {            \
        TAP_SUMS_TWO_ROWS_BODY                                                                \
    }                                                                                         \
    ATTRIBUTES static void tap_sums_offsets_##SUFFIX(float *dst, long count, const float *base,  \
                                                     const long *offsets, const float *k,     \
                                                     long taps) {                             \
        TAP_SUMS_BODY(offsets[m])                                                             \
    }                                                                                         \
    ATTRIBUTES static void spot_normal_equations_##SUFFIX(                                    \
        long count, const int *px, const int *py, const double *pv, const double *p, long n,  \
        int background, long ox, long oy, const double *ex, const double *exd, const double *exs, \
        const double *ey, const double *eyd, const double *eys, double *gradient,             \
        double *lines) {                                                                      \
        SPOT_NORMAL_BODY                                                                      \
    }                                                                                         \
    ATTRIBUTES static void group_normal_equations_##SUFFIX(                                   \
        long count, const int *px, const int *py, const double *pv, const double *p,          \
        long spots, long n, int background, long ox, long oy, long nx, long ny,              \
        const double *ex, const double *exd, const double *exs, const double *ey,             \
        const double *eyd, const double *eys, double *gradient, double *lines) {              \
        GROUP_NORMAL_BODY                                                                     \
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
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") ? 1 : 0;
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

void peaks_tap_sums_two_rows_isa(peaks_isa isa, float *dst, long dstStride, long count, const float *base, long stride,
                                 const float *k, long taps) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) { tap_sums_two_rows_avx2(dst, dstStride, count, base, stride, k, taps); return; }
#endif
    (void)isa;
    tap_sums_two_rows_baseline(dst, dstStride, count, base, stride, k, taps);
}

void peaks_tap_sums_two_rows(float *dst, long dstStride, long count, const float *base, long stride, const float *k, long taps) {
    peaks_tap_sums_two_rows_isa(chosen, dst, dstStride, count, base, stride, k, taps);
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
                                     long n, int background, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                     const double *ey, const double *eyd, const double *eys, double *gradient, double *lines) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) {
        spot_normal_equations_avx2(count, px, py, pv, p, n, background, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
        return;
    }
#endif
    (void)isa;
    spot_normal_equations_baseline(count, px, py, pv, p, n, background, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
}

void peaks_group_normal_equations_isa(peaks_isa isa, long count, const int *px, const int *py, const double *pv,
                                      const double *p, long spots, long n, int background, long ox, long oy, long nx,
                                      long ny, const double *ex, const double *exd, const double *exs, const double *ey,
                                      const double *eyd, const double *eys, double *gradient, double *lines) {
    if (n != 4 * spots + (background == 2 ? 6 : background == 1 ? 3 : 1)) abort();
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) {
        group_normal_equations_avx2(count, px, py, pv, p, spots, n, background, ox, oy, nx, ny, ex, exd, exs, ey, eyd, eys,
                                    gradient, lines);
        return;
    }
#endif
    (void)isa;
    group_normal_equations_baseline(count, px, py, pv, p, spots, n, background, ox, oy, nx, ny, ex, exd, exs, ey, eyd, eys,
                                    gradient, lines);
}

void peaks_group_normal_equations(long count, const int *px, const int *py, const double *pv, const double *p, long spots,
                                  long n, int background, long ox, long oy, long nx, long ny, const double *ex,
                                  const double *exd, const double *exs, const double *ey, const double *eyd,
                                  const double *eys, double *gradient, double *lines) {
    peaks_group_normal_equations_isa(chosen, count, px, py, pv, p, spots, n, background, ox, oy, nx, ny, ex, exd, exs, ey,
                                     eyd, eys, gradient, lines);
}

void peaks_spot_normal_equations(long count, const int *px, const int *py, const double *pv, const double *p, long n,
                                 int background, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                 const double *ey, const double *eyd, const double *eys, double *gradient, double *lines) {
    peaks_spot_normal_equations_isa(chosen, count, px, py, pv, p, n, background, ox, oy, ex, exd, exs, ey, eyd, eys, gradient, lines);
}

long peaks_bracket_pass_isa(peaks_isa isa, const float *values, long n, float lo, float hi, float *inside, long capacity,
                            long *counts) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) return bracket_pass_avx2(values, n, lo, hi, inside, capacity, counts);
#endif
    (void)isa;
    return bracket_pass_baseline(values, n, lo, hi, inside, capacity, counts);
}

long peaks_bracket_pass(const float *values, long n, float lo, float hi, float *inside, long capacity, long *counts) {
    return peaks_bracket_pass_isa(chosen, values, n, lo, hi, inside, capacity, counts);
}

typedef int v16i __attribute__((vector_size(64)));
typedef int v16i_loose __attribute__((vector_size(64), aligned(4)));

int peaks_whole_numbers(const float *values, long n, int *positive, float *largest) {
    // 16 at a time in vectors (lane flags are 0 or -1), then one at a time: a float >= 2^23 is
    // always whole; below, x is whole when converting it to int and back gives x (the
    // conversion is given only values in [0, 2^23), where it is exact). NaN fails x >= 0.
    v16i whole16 = (v16i){0} - 1, above16 = {0};
    v16 top16 = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 x = LOAD16(values + i);
        v16i nonNegative = x >= 0, big = x >= 8388608.0f;
        v16 small = (v16)((v16i)x & (nonNegative & ~big));
        v16 back = __builtin_convertvector(__builtin_convertvector(small, v16i), v16);
        whole16 &= nonNegative & (big | (back == x));
        above16 |= x > 0;
        v16i higher = x > top16;
        top16 = (v16)(((v16i)x & higher) | ((v16i)top16 & ~higher));
    }
    int whole = 1, above = 0;
    float top = 0;
    for (int l = 0; l < 16; l++) {
        whole &= whole16[l] != 0;
        above |= above16[l] != 0;
        top = top16[l] > top ? top16[l] : top;
    }
    for (; i < n; i++) {
        float x = values[i];
        float c = (x >= 0 && x < 8388608.0f) ? x : 0.0f;
        whole &= (x >= 0) & ((x >= 8388608.0f) | ((float)(int)c == x));
        above |= x > 0;
        top = x > top ? x : top;
    }
    *positive = above;
    *largest = top;
    return whole;
}

void peaks_integer_tile_sums(const float *corner, long width, long tile, double *sum, double *squares) {
    // Whole numbers in [0, 2^22]: (int) is exact, differences fit in 32 bits, squares in 64.
    long long total = 0, sq = 0;
    for (long y = 0; y < tile; y++) {
        const float *row = corner + y * width;
        for (long x = 0; x < tile; x++) total += (int)row[x];
        for (long x = 0; x + 1 < tile; x++) {
            long long d = (int)row[x] - (int)row[x + 1];
            sq += d * d;
        }
        if (y + 1 < tile) {
            const float *below = row + width;
            for (long x = 0; x < tile; x++) {
                long long d = (int)row[x] - (int)below[x];
                sq += d * d;
            }
        }
    }
    *sum = (double)total;
    *squares = (double)sq;
}

double peaks_spot_cost(long count, const int *px, const int *py, const double *pv, double b, double gx, double gy,
                       long ox, long oy, double a, const double *ex, const double *ey) {
    double sum = 0;
    for (long t = 0; t < count; t++) {
        long i = px[t], j = py[t];
        double m = b + gx * (double)(ox + i) + gy * (double)(oy + j);
        m += a * ex[i] * ey[j];
        double r = pv[t] - m;
        sum += r * r;
    }
    return sum;
}

double peaks_spot_cost_quadratic(long count, const int *px, const int *py, const double *pv, const double *background,
                                 long ox, long oy, double a, const double *ex, const double *ey) {
    double b = background[0], gx = background[1], gy = background[2];
    double gxx = background[3], gxy = background[4], gyy = background[5];
    double sum = 0;
    for (long t = 0; t < count; t++) {
        long i = px[t], j = py[t];
        double u = (double)(ox + i), v = (double)(oy + j);
        double m = b + gx * u + gy * v;
        m += gxx * u * u + gxy * u * v + gyy * v * v;
        m += a * ex[i] * ey[j];
        double r = pv[t] - m;
        sum += r * r;
    }
    return sum;
}

// A total order for qsort: NaN after every number (an inconsistent comparator is undefined
// behaviour for qsort).
static int compare_floats(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    if (a != a || b != b) return (a != a) - (b != b);
    return (a > b) - (a < b);
}

// Moves the values of a[lo ..< hi] that satisfy `below(x)` to its front, in one pass without
// branches (Lomuto's scheme: a[lo ..< first] satisfy it, a[first ..< i] do not; each value is
// swapped with the first that does not, and `first` advances when the value belongs in front).
// Returns `first`.
#define PARTITION(BELOW)                                                                      \
    {                                                                                         \
        long first = lo;                                                                      \
        for (long i = lo; i < hi; i++) {                                                      \
            float x = a[i];                                                                   \
            a[i] = a[first];                                                                  \
            a[first] = x;                                                                     \
            first += (BELOW);                                                                 \
        }                                                                                     \
        split = first;                                                                        \
    }

float peaks_select(float *a, long n, long k) {
    long lo = 0, hi = n;  // the answer's index is in [lo, hi)
    for (int round = 0; hi - lo > 1; round++) {
        if (round == 64) {
            qsort(a + lo, (size_t)(hi - lo), sizeof(float), compare_floats);
            break;
        }
        // Median of the first, middle and last values: a value of the range.
        float p0 = a[lo], p1 = a[lo + (hi - lo) / 2], p2 = a[hi - 1];
        float pivot = p0 < p1 ? (p1 < p2 ? p1 : (p0 < p2 ? p2 : p0)) : (p0 < p2 ? p0 : (p1 < p2 ? p2 : p1));
        long split;
        PARTITION(x < pivot)
        long less = split;  // a[lo ..< less] < pivot <= a[less ..< hi]
        if (k < less) { hi = less; continue; }
        if (less > lo) { lo = less; continue; }
        // Nothing below the pivot: split off the values equal to it (ties), which always makes
        // progress (the pivot is one of them).
        PARTITION(x <= pivot)
        long equal = split;  // a[lo ..< equal] == pivot < a[equal ..< hi], and equal > lo
        if (k < equal) return a[k];
        lo = equal;
    }
    return a[k];
}

long peaks_indices_above_isa(peaks_isa isa, const float *values, long n, float limit, int *out) {
#if PEAKS_X86_64
    if (isa == PEAKS_ISA_AVX2) return indices_above_avx2(values, n, limit, out);
#endif
    (void)isa;
    return indices_above_baseline(values, n, limit, out);
}

long peaks_indices_above(const float *values, long n, float limit, int *out) {
    return peaks_indices_above_isa(chosen, values, n, limit, out);
}
