"""phase_cross_correlation agrees with scikit-image (shift within 0.02 px, same sign)."""
import numpy as np
import pytest

import peaks

skimage_registration = pytest.importorskip("skimage.registration")
ndimage = pytest.importorskip("scipy.ndimage")


def textured(shape=(128, 144), seed=1):
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    return img + 0.2 * ndimage.gaussian_filter(rng.normal(size=shape), 0.7)


def fourier_shifted(img, shift):
    return np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(img), shift)).real


@pytest.mark.parametrize("shift", [(3.37, -7.81), (-12.4, 0.26), (0.0, 0.0), (20.91, 15.13), (-0.44, -31.7)])
@pytest.mark.parametrize("upsample", [1, 10, 100])
def test_matches_skimage(shift, upsample):
    ref = textured()
    mov = fourier_shifted(ref, shift)
    s, err, phase = peaks.phase_cross_correlation(ref, mov, upsample_factor=upsample)
    k, kerr, kphase = skimage_registration.phase_cross_correlation(ref, mov, upsample_factor=upsample)
    assert s.shape == (2,)
    assert np.all(np.abs(s - k) <= 0.02), (s, k)
    # Moving is reference shifted by `shift`: the registering shift is its opposite.
    tol = max(0.5, 1.0 / upsample) if upsample == 1 else 1.0 / upsample + 0.01
    assert np.all(np.abs(s + np.array(shift)) <= tol), (s, shift)
    assert abs(phase - kphase) < 1e-3


def test_error_matches_skimage_without_normalization():
    ref = textured()
    mov = fourier_shifted(ref, (2.3, -4.6)) + 0.05 * np.random.default_rng(0).normal(size=ref.shape)
    s, err, _ = peaks.phase_cross_correlation(ref, mov, upsample_factor=20, normalization=None)
    k, kerr, _ = skimage_registration.phase_cross_correlation(ref, mov, upsample_factor=20, normalization=None)
    assert np.all(np.abs(s - k) <= 0.02)
    assert abs(err - kerr) < 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_dtypes_and_layouts(dtype):
    ref = textured()
    mov = fourier_shifted(ref, (5.2, -3.1))
    lo = min(ref.min(), mov.min())
    a, b = ((ref - lo) * 1000).astype(dtype), ((mov - lo) * 1000).astype(dtype)
    s, _, _ = peaks.phase_cross_correlation(np.asfortranarray(a), b[:, :], upsample_factor=50)
    k, _, _ = skimage_registration.phase_cross_correlation(a.astype(np.float64), b.astype(np.float64), upsample_factor=50)
    assert np.all(np.abs(s - k) <= 0.02)


def test_masked_close_to_skimage():
    ref = textured()
    mov = fourier_shifted(ref, (4.0, -6.0))
    mask = np.ones(ref.shape, bool)
    mask[40:70, 50:90] = False
    s, err, phase = peaks.phase_cross_correlation(ref, mov, reference_mask=mask)
    k = skimage_registration.phase_cross_correlation(ref, mov, reference_mask=mask)[0]
    # scikit-image stops at the whole pixel; peaks refines between pixels.
    assert np.all(np.abs(s - k) <= 0.5), (s, k)
    assert np.isnan(err) and np.isnan(phase)
    s2, _, _ = peaks.phase_cross_correlation(ref, mov, reference_mask=mask, moving_mask=mask)
    assert np.array_equal(s, s2)
