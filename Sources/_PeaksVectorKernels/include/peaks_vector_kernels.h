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

/// The kernels above compiled for `isa` (which must be supported): for tests that compare the
/// instruction sets bit for bit.
void peaks_tap_sums_strided_isa(peaks_isa isa, float *dst, long count, const float *base, long stride, const float *k, long taps);
void peaks_tap_sums_offsets_isa(peaks_isa isa, float *dst, long count, const float *base, const long *offsets, const float *k, long taps);

#endif
