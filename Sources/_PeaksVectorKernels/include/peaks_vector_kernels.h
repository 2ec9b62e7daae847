// Hot loops of peaks in C, compiled for more than one instruction set and chosen at run time
// (internal to peaks, hence the underscore). README.md says why and how.
#ifndef PEAKS_VECTOR_KERNELS_H
#define PEAKS_VECTOR_KERNELS_H

/// The instruction sets the kernels are compiled for.
typedef enum {
    /// x86-64's baseline (SSE2, 128-bit registers), or whatever the compiler targets elsewhere.
    PEAKS_ISA_BASELINE = 0,
    /// x86-64 with AVX2 (256-bit registers).
    PEAKS_ISA_AVX2 = 1,
} peaks_isa;

/// The instruction set the kernels use on this machine: the best it supports.
peaks_isa peaks_vector_isa(void);

/// Whether this machine can run kernels compiled for `isa`.
int peaks_vector_isa_supported(peaks_isa isa);

/// dst[x] = sum over m < taps of k[m] * base[m * stride + x], for x < count: each output summed
/// from 0 in tap order, a product then a sum (never fused), so bit for bit the plain loop
/// `s = 0; for m { s += k[m] * base[m * stride + x] }` whatever the instruction set.
void peaks_tap_sums_strided(float *dst, long count, const float *base, long stride, const float *k, long taps);

/// The same with tap m at base[offsets[m] + x].
void peaks_tap_sums_offsets(float *dst, long count, const float *base, const long *offsets, const float *k, long taps);

/// Two rows of `peaks_tap_sums_strided` at once, the second one input row further:
/// dst[x] = sum over m of k[m] * base[m * stride + x] and dst[dstStride + x] = sum over m of
/// k[m] * base[(m + 1) * stride + x], for x < count (taps >= 1; the output rows must not overlap,
/// dstStride >= count), bit for bit two calls of it. Each input row is read once for both.
void peaks_tap_sums_two_rows(float *dst, long dstStride, long count, const float *base, long stride, const float *k, long taps);

/// The normal equations of one Levenberg-Marquardt step of a single-spot GaussianSpotFit,
/// summed over `count` pixels. `background` 0: n = 5 unknowns x, y, s, A, B; 1: n = 7, with the
/// background's slopes b_x, b_y; 2: n = 10, with its curvature b_xx, b_xy, b_yy too (any other n
/// stops the program). Pixel t is at box offsets (px[t], py[t]) with value pv[t]; p the n
/// parameters; ex, exd, exs (per box column) and ey, eyd, eys (per box row) the spot's E, dE/dx0
/// and dE/ds tables; (ox, oy) the box origin relative to the background's centre. Adds row_a * r
/// to gradient[a] and row_a * row to lines[stride a ...] for a < n, pixel by pixel in order, with
/// the arithmetic of GaussianSpotFit's Swift loop, so the sums are bit for bit its. A line has
/// stride = 8 lanes for n <= 8 and 16 for n = 10; the lanes at and above n receive zeros.
void peaks_spot_normal_equations(long count, const int *px, const int *py, const double *pv, const double *p, long n,
                                 int background, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                 const double *ey, const double *eyd, const double *eys, double *gradient, double *lines);

/// The normal equations of one Levenberg-Marquardt step of a GaussianSpotFit of `spots` spots
/// together (any number; n = 4 spots + 1, 3 or 6 unknowns for `background` 0, 1, 2, else the
/// program stops), summed over `count` pixels as `peaks_spot_normal_equations` does for one:
/// spot k's tables at ex[k nx ...], exd, exs (nx box columns) and ey[k ny ...], eyd, eys (ny box
/// rows). Adds row_a * r to gradient[a] and row_a * row to lines[stride a + b] for a < n and b
/// from a's 8-lane block on, stride = n rounded up to a multiple of 8 (the lanes at and above n
/// receive zeros; those of earlier blocks are not touched), pixel by pixel in order, with the
/// arithmetic of GaussianSpotFit's Swift loop: bit for bit its sums at and above the diagonal.
void peaks_group_normal_equations(long count, const int *px, const int *py, const double *pv, const double *p, long spots,
                                  long n, int background, long ox, long oy, long nx, long ny, const double *ex,
                                  const double *exd, const double *exs, const double *ey, const double *eyd,
                                  const double *eys, double *gradient, double *lines);

/// The sum of squared residuals of a single-spot GaussianSpotFit at parameters (x, y, s, a, b, gx,
/// gy) given through the spot's E tables: over pixels t, m = b + gx (ox + px[t]) + gy (oy + py[t]),
/// then m += a ex[px[t]] ey[py[t]], r = pv[t] - m, sum += r * r, in that order (GaussianSpotFit's
/// Swift loop, bit for bit; a plain loop: Swift kept its sum in memory).
double peaks_spot_cost(long count, const int *px, const int *py, const double *pv, double b, double gx, double gy,
                       long ox, long oy, double a, const double *ex, const double *ey);

/// The same on the quadratic background, background[0 ..< 6] = (b, gx, gy, gxx, gxy, gyy): with
/// u = ox + px[t], v = oy + py[t], m = b + gx u + gy v, then m += gxx u u + gxy u v + gyy v v,
/// then m += a ex[px[t]] ey[py[t]], r = pv[t] - m, sum += r * r (the Swift loop's order).
double peaks_spot_cost_quadratic(long count, const int *px, const int *py, const double *pv, const double *background,
                                 long ox, long oy, double a, const double *ex, const double *ey);

/// Whether every one of values[0 ..< n] is a whole number >= 0 (NaN is not); *positive: whether
/// one is > 0; *largest: the largest (0 if none is larger; meaningful when the answer is 1).
int peaks_whole_numbers(const float *values, long n, int *positive, float *largest);

/// For a tile x tile block at `corner` (rows `width` apart) of whole numbers in [0, 2^22]: the sum
/// of its values and the sum of the squared differences of its horizontally and vertically
/// adjacent pixels, as integers (exact, so equal to any order of Double additions), returned as
/// doubles (below 2^53 for tile <= 16).
void peaks_integer_tile_sums(const float *corner, long width, long tile, double *sum, double *squares);

/// Rearranges a[0 ..< n] (no NaN) so that a[k] is the value a sort would put there, everything
/// before it <= a[k] and everything after it >= a[k], and returns a[k]. Quickselect with a
/// median-of-three pivot and branch-free partitions (one for < pivot, one for == pivot, so that
/// ties always make progress); ranges still large after 64 rounds are sorted. 0 <= k < n.
float peaks_select(float *a, long n, long k);

/// One pass of a sampled-bracket selection over values[0 ..< n] (no NaN) with bounds lo <= hi
/// (either may be infinite): counts[0] = #{x < lo}, counts[1] = #{x <= lo}, counts[2] = #{x <= hi},
/// and the values with lo < x < hi copied, in order, to inside[0 ...]. Returns how many were
/// copied, or -1 (counts and inside then undefined) when they might not fit in `capacity`.
long peaks_bracket_pass(const float *values, long n, float lo, float hi, float *inside, long capacity, long *counts);

/// The indices i < n with values[i] > limit (no NaN among them matters: NaN is not above), in
/// ascending order, written to out[0 ..< n]; returns how many.
long peaks_indices_above(const float *values, long n, float limit, int *out);

/// The kernels above compiled for `isa` (which must be supported): for tests that compare the
/// instruction sets bit for bit.
void peaks_tap_sums_strided_isa(peaks_isa isa, float *dst, long count, const float *base, long stride, const float *k, long taps);
void peaks_tap_sums_two_rows_isa(peaks_isa isa, float *dst, long dstStride, long count, const float *base, long stride,
                                 const float *k, long taps);
void peaks_tap_sums_offsets_isa(peaks_isa isa, float *dst, long count, const float *base, const long *offsets, const float *k, long taps);
void peaks_spot_normal_equations_isa(peaks_isa isa, long count, const int *px, const int *py, const double *pv, const double *p,
                                     long n, int background, long ox, long oy, const double *ex, const double *exd, const double *exs,
                                     const double *ey, const double *eyd, const double *eys, double *gradient, double *lines);
void peaks_group_normal_equations_isa(peaks_isa isa, long count, const int *px, const int *py, const double *pv,
                                      const double *p, long spots, long n, int background, long ox, long oy, long nx,
                                      long ny, const double *ex, const double *exd, const double *exs, const double *ey,
                                      const double *eyd, const double *eys, double *gradient, double *lines);
long peaks_indices_above_isa(peaks_isa isa, const float *values, long n, float limit, int *out);
long peaks_bracket_pass_isa(peaks_isa isa, const float *values, long n, float lo, float hi, float *inside, long capacity, long *counts);

#endif
