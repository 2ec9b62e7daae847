# A transcription of scikit-image 0.22's cross_correlate_masked and phase_cross_correlation
# (upsampled DFT) on scipy.fft, to time the reference on this machine (skimage is not installed).
import numpy as np, scipy.fft as fft, time
from scipy.fft import next_fast_len
def _flip(arr, axes): return arr[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(arr.ndim))]
def ccm(arr1, arr2, m1, m2, mode='full', overlap_ratio=0.3):
    axes=(0,1)
    fixed_image = np.array(arr1, dtype=float); fixed_mask = np.array(m1, dtype=bool)
    moving_image = np.array(arr2, dtype=float); moving_mask = np.array(m2, dtype=bool)
    eps = np.finfo(float).eps
    fixed_image[np.logical_not(fixed_mask)] = 0.0
    moving_image[np.logical_not(moving_mask)] = 0.0
    rotated_moving_image = _flip(moving_image, axes); rotated_moving_mask = _flip(moving_mask, axes)
    fixed_shape = np.array(fixed_image.shape); rotated_moving_shape = np.array(rotated_moving_image.shape)
    final_shape = fixed_shape + rotated_moving_shape - 1
    fast_shape = tuple(next_fast_len(final_shape[ax]) for ax in axes)
    fftn = fft.fftn; ifftn = fft.ifftn
    fixed_fft = fftn(fixed_image, s=fast_shape, axes=axes)
    rotated_moving_fft = fftn(rotated_moving_image, s=fast_shape, axes=axes)
    fixed_mask_fft = fftn(fixed_mask.astype(float), s=fast_shape, axes=axes)
    rotated_moving_mask_fft = fftn(rotated_moving_mask.astype(float), s=fast_shape, axes=axes)
    number_overlap_masked_px = np.real(ifftn(rotated_moving_mask_fft * fixed_mask_fft, axes=axes))
    number_overlap_masked_px[:] = np.round(number_overlap_masked_px)
    number_overlap_masked_px[:] = np.fmax(number_overlap_masked_px, eps)
    masked_correlated_fixed_fft = ifftn(rotated_moving_mask_fft * fixed_fft, axes=axes)
    masked_correlated_rotated_moving_fft = ifftn(fixed_mask_fft * rotated_moving_fft, axes=axes)
    numerator = ifftn(rotated_moving_fft * fixed_fft, axes=axes)
    numerator -= masked_correlated_fixed_fft * masked_correlated_rotated_moving_fft / number_overlap_masked_px
    fixed_squared_fft = fftn(np.square(fixed_image), s=fast_shape, axes=axes)
    fixed_denom = ifftn(rotated_moving_mask_fft * fixed_squared_fft, axes=axes)
    fixed_denom -= np.square(masked_correlated_fixed_fft) / number_overlap_masked_px
    fixed_denom[:] = np.fmax(fixed_denom, 0.0)
    rotated_moving_squared_fft = fftn(np.square(rotated_moving_image), s=fast_shape, axes=axes)
    moving_denom = ifftn(fixed_mask_fft * rotated_moving_squared_fft, axes=axes)
    moving_denom -= np.square(masked_correlated_rotated_moving_fft) / number_overlap_masked_px
    moving_denom[:] = np.fmax(moving_denom, 0.0)
    denom = np.sqrt(fixed_denom * moving_denom)
    tol = 1e3 * eps * np.max(np.abs(denom), axis=axes, keepdims=True)
    nonzero_indices = denom > tol
    out = np.zeros_like(denom); out[nonzero_indices] = numerator[nonzero_indices] / denom[nonzero_indices]
    np.clip(out, a_min=-1, a_max=1, out=out)
    number_px_threshold = overlap_ratio * np.max(number_overlap_masked_px, axis=axes, keepdims=True)
    out[number_overlap_masked_px < number_px_threshold] = 0.0
    return out
def _upsampled_dft(data, upsampled_region_size, upsample_factor, axis_offsets):
    upsampled_region_size = [upsampled_region_size] * data.ndim
    im2pi = 1j * 2 * np.pi
    dim_properties = list(zip(data.shape, upsampled_region_size, axis_offsets))
    for (n_items, ups_size, ax_offset) in dim_properties[::-1]:
        kernel = ((np.arange(ups_size) - ax_offset)[:, None] * fft.fftfreq(n_items, upsample_factor))
        kernel = np.exp(-im2pi * kernel)
        data = np.tensordot(kernel, data, axes=(1, -1))
    return data
def pcc(reference_image, moving_image, upsample_factor=1):
    src_freq = fft.fftn(reference_image); target_freq = fft.fftn(moving_image)
    shape = src_freq.shape
    image_product = src_freq * target_freq.conj()
    eps = np.finfo(image_product.real.dtype).eps
    image_product /= np.maximum(np.abs(image_product), 100 * eps)
    cross_correlation = fft.ifftn(image_product)
    maxima = np.unravel_index(np.argmax(np.abs(cross_correlation)), cross_correlation.shape)
    midpoints = np.array([np.fix(axis_size / 2) for axis_size in shape])
    float_dtype = image_product.real.dtype
    shifts = np.stack(maxima).astype(float_dtype, copy=False)
    shifts[shifts > midpoints] -= np.array(shape)[shifts > midpoints]
    upsample_factor = np.array(upsample_factor, dtype=float_dtype)
    shifts = np.round(shifts * upsample_factor) / upsample_factor
    upsampled_region_size = np.ceil(upsample_factor * 1.5)
    dftshift = np.fix(upsampled_region_size / 2.0)
    sample_region_offset = dftshift - shifts * upsample_factor
    cross_correlation = _upsampled_dft(image_product.conj(), int(upsampled_region_size), upsample_factor, sample_region_offset).conj()
    maxima = np.unravel_index(np.argmax(np.abs(cross_correlation)), cross_correlation.shape)
    maxima = np.stack(maxima).astype(float_dtype, copy=False)
    maxima -= dftshift
    shifts += maxima / upsample_factor
    return shifts
rng = np.random.default_rng(1)
a = rng.random((1024,1024)); b = np.roll(a, (3, -5), axis=(0,1))
ma = rng.random((1024,1024)) > 0.1; mb = rng.random((1024,1024)) > 0.1
for name, f in [("masked NCC 1024 full", lambda: ccm(a, b, ma, mb)), ("masked NCC 1024 same", lambda: ccm(a, b, ma, mb, mode='full'))][:1]:
    ts=[]
    for _ in range(3):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    print(name, "best %.3f s" % min(ts))
a2 = rng.random((2048,2048)); b2 = np.roll(a2, (3, -5), axis=(0,1))
ts=[]
for _ in range(3):
    t=time.perf_counter(); s=pcc(a2, b2, 100); ts.append(time.perf_counter()-t)
print("phase correlation 2048 upsample 100 best %.3f s" % min(ts), s)
