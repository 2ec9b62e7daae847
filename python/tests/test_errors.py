"""Every bad input raises ValueError with the CLI's one-line message; nothing crashes."""
import numpy as np
import pytest

import peaks

IMG = np.ones((32, 32), np.float32)


@pytest.mark.parametrize("call, message", [
    (lambda: peaks.detect(np.zeros((0, 5), np.float32)), "image: the image is empty (5x0)"),
    (lambda: peaks.detect(np.zeros((3, 0, 5), np.float32)), "image: the array is empty"),
    (lambda: peaks.detect(np.zeros(5)), "got a 1-D array of shape (5,)"),
    (lambda: peaks.detect(np.float32(3)), "got a 0-D array"),
    (lambda: peaks.detect(np.zeros((2, 2, 2, 4, 4))), "got a 5-D array"),
    (lambda: peaks.detect(IMG, algo="lg"), "parameter 'algo': unknown algorithm 'lg' (did you mean 'log'? known: persistence, log, high-symmetry, template)"),
    (lambda: peaks.detect(IMG, algo="nope"), "known: persistence, log, high-symmetry"),
    (lambda: peaks.detect(IMG, algo=3), "parameter 'algo': expected a string"),
    (lambda: peaks.detect(IMG, prominance=3), "parameter 'prominance': the persistence detector has no such parameter (did you mean 'prominence'?"),
    (lambda: peaks.detect(IMG, prominence=-1), "parameter 'prominence': -1"),
    (lambda: peaks.detect(IMG, prominence="lots"), "parameter 'prominence': 'lots' is not a number"),
    (lambda: peaks.detect(IMG, noise="pink"), "parameter 'noise': 'pink' is not one of auto, gaussian, poisson"),
    (lambda: peaks.detect(IMG, exclude_border=1.5), "parameter 'exclude_border': '1.5' is not a whole number"),
    (lambda: peaks.detect(IMG, min_dist=[1]), "parameter 'min_dist': expected a number"),
    (lambda: peaks.detect(IMG, algo="log", sigma=0.01), "parameter 'sigma'"),
    (lambda: peaks.detect(np.full((8, 8), np.nan)), "image: 64 pixel(s) are NaN or infinite, first at x=0, y=0 (nan)"),
    (lambda: peaks.detect(np.stack([IMG, np.full((32, 32), np.inf)])), "array: frame 1: image: 1024 pixel(s) are NaN or infinite"),
    (lambda: peaks.detect(IMG, nonfinite="ignore"), "parameter 'nonfinite'"),
    (lambda: peaks.detect(IMG, threads=-1), "parameter 'threads'"),
    (lambda: peaks.detect(IMG, mask=np.ones((3, 3))), "mask is 3x3 but the image is 32x32 (width x height)"),
    (lambda: peaks.detect(IMG, mask=np.ones((2, 32, 32))), "the mask must be 2-D"),
    (lambda: peaks.detect(IMG.astype(np.complex64)), "unsupported element type complex64"),
    (lambda: peaks.detect(np.broadcast_to(np.float32(1), (10**6, 10**6))),
     "image: a frame of 1000000x1000000 pixels needs more than the read limit"),
    (lambda: peaks.detect(np.array([["a"]])), "unsupported element type"),
    (lambda: peaks.detect([[1, 2], [3]]), "image: not an array"),
    (lambda: peaks.parameters("nope"), "unknown algorithm 'nope'"),
    (lambda: peaks.phase_cross_correlation(IMG, np.ones((16, 16))), "moving image is 16x16 but the image is 32x32"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG, upsample_factor=0), "parameter 'upsample_factor'"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG, upsample_factor=2.5), "parameter 'upsample_factor'"),
    (lambda: peaks.phase_cross_correlation(np.zeros((0, 4)), np.zeros((0, 4))), "the reference image is empty"),
    (lambda: peaks.phase_cross_correlation(np.zeros((2, 4, 4)), np.zeros((2, 4, 4))), "must be 2-D"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG * np.nan), "NaN or infinite pixel"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG, reference_mask=IMG > 0, upsample_factor=10), "parameter 'upsample_factor'"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG, space="fourier"), "parameter 'space'"),
    (lambda: peaks.phase_cross_correlation(IMG, IMG, normalization="wiener"), "parameter 'normalization'"),
    (lambda: peaks.center(IMG), "autocenter: the valid pixels are all equal"),
    (lambda: peaks.center(np.zeros((0, 3))), "image: the image is empty"),
    (lambda: peaks.center(np.zeros((3, 8, 8))), "the centre needs a 2-D image"),
    (lambda: peaks.center(np.eye(8), mask=np.ones((4, 4))), "mask is 4x4"),
])
def test_value_error(call, message):
    with pytest.raises(ValueError) as info:
        call()
    text = str(info.value)
    assert message in text
    assert "\n" not in text
