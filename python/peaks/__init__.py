"""peaks: find peaks in scientific images, register images, find pattern centres.

Python bindings of the peaks Swift library through its C ABI (libPeaksC.so, ctypes). Native work
runs without the GIL, so several threads (or dask's threaded scheduler) run in parallel.

    >>> import numpy as np, peaks
    >>> img = np.zeros((64, 64), np.float32); img[20, 30] = 5
    >>> t = peaks.detect(img)                 # structured array: x, y, value, prominence, ...
    >>> float(t["x"][0]), float(t["y"][0])
    (30.0, 20.0)

Coordinates: x = column, y = row, 0-based, the centre of pixel (0, 0) is (0.0, 0.0).
Errors: bad input raises ValueError with the one-line message the command-line tool prints.
"""
import ctypes
import json
from collections import namedtuple

import numpy as np

from . import _native
from ._native import array_arg, lib, take_table, take_text

__all__ = ["__version__", "algorithms", "parameters", "detect", "resolve_settings", "stack_sample_indices",
           "phase_cross_correlation", "center", "Center"]

__version__ = lib.peaks_version().decode()

#: The result of `center`: the centre (x = column, y = row) and how symmetric the pattern is there.
Center = namedtuple("Center", ["x", "y", "confidence"])

def algorithms():
    """The names of the detectors, e.g. ['persistence', 'log', 'high-symmetry']."""
    text = take_text(lib.peaks_algorithms_json())
    return [a["name"] for a in json.loads(text)["algorithms"]]


def parameters(algo="persistence"):
    """The settings of detector `algo`: a list of dicts with name, type (real, integer, boolean,
    choice, text), default, min and max (numbers), choices, auto (whether "auto" is accepted),
    unit and help. Raises ValueError for an unknown detector (listing the known ones)."""
    text = take_text(lib.peaks_parameters_json(_text(algo, "algo")))
    return json.loads(text)["algorithms"][0]["parameters"]


def _text(value, what):
    if not isinstance(value, str):
        raise ValueError(f"parameter '{what}': expected a string, got {type(value).__name__}")
    return value.encode()


def _setting_text(name, value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    raise ValueError(f"parameter '{name}': expected a number, a boolean or a string, got {type(value).__name__}")


def _as_array(a, what):
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{what}: not an array ({e})") from None


def _mask_arg(mask, what="mask"):
    if mask is None:
        return None, None
    s, keep = array_arg(_as_array(mask, what), what)
    return ctypes.byref(s), (s, keep)


def detect(image, algo="persistence", mask=None, *, nonfinite="error", threads=0, **settings):
    """Finds the peaks of an image, a stack or a scan.

    Parameters
    ----------
    image : array_like, any real dtype, any memory layout (C, Fortran, strided views)
        2-D (rows, cols): one image. 3-D (frames, rows, cols): every frame.
        4-D (scan_y, scan_x, rows, cols): every frame of a scan. Not copied on the Python side.
    algo : str
        The detector (see `algorithms()`): "persistence", "log", "high-symmetry".
    mask : array_like, optional
        2-D, the frame's shape: non-zero = valid pixel. No peak is reported on invalid pixels.
    nonfinite : {"error", "mask"}
        NaN / infinite pixels: raise ValueError (default, as the CLI) or treat them as invalid.
    threads : int
        Worker threads for stacks (0 = one per core).
    **settings
        The detector's settings by name (see `parameters(algo)`), e.g. ``prominence="auto"``,
        ``min_dist=5``, ``smooth=1.5``. Checked as the CLI's ``-p NAME=VALUE``.

    Returns
    -------
    numpy structured array, one row per peak: fields x, y, value (float64) and the detector's
    extras (float64), preceded for a 3-D input by ``frame`` and for a 4-D input by ``frame``,
    ``scan_y``, ``scan_x`` (int64; frame = scan_y * n_scan_x + scan_x). Rows: frames in order,
    strongest peak first within a frame. The same numbers as ``peaks detect``'s CSV.
    """
    a = _as_array(image, "image")
    policy = {"error": 0, "mask": 1}.get(nonfinite)
    if policy is None:
        raise ValueError(f"parameter 'nonfinite': '{nonfinite}' is not one of error, mask")
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"parameter 'threads': expected a whole number >= 0, got {threads!r}")
    n, keys, values = _settings_args(settings)
    img, keep = array_arg(a, "image")
    mask_p, mask_keep = _mask_arg(mask) if mask is not None else (None, None)
    return take_table(lib.peaks_detect(ctypes.byref(img), mask_p, _text(algo, "algo"), n, keys, values,
                                       policy, int(threads)))


def _settings_args(settings):
    """(count, keys, values) C arrays for the settings given by keyword (None = left out)."""
    names = [k for k, v in settings.items() if v is not None]
    if not names:
        return 0, None, None
    keys = (ctypes.c_char_p * len(names))(*[k.encode() for k in names])
    values = (ctypes.c_char_p * len(names))(*[_setting_text(k, settings[k]).encode() for k in names])
    return len(names), keys, values


def stack_sample_indices(frame_count):
    """The frames a stack's measured settings are resolved from: up to 8, evenly spaced,
    first and last included (i_j = j (n - 1) // (k - 1), k = min(n, 8)), as ``peaks detect``."""
    n = int(frame_count)
    if n <= 0:
        return []
    k = min(n, 8)
    return [0] if k == 1 else [j * (n - 1) // (k - 1) for j in range(k)]


def resolve_settings(image, algo="persistence", mask=None, **settings):
    """The settings `detect` runs every frame of a stack with, as a dict: those given, plus those
    the detector measures from the data (``auto``, e.g. persistence's ``smooth`` and ``lattice``)
    resolved once from the frames `stack_sample_indices` picks (a 2-D image is a stack of one).

    A stack processed in pieces (dask blocks) gives exactly the whole stack's table when every
    piece is run with these settings: resolve them on ``stack[stack_sample_indices(n)]``, then
    ``detect(block, algo, mask, **resolved)``.
    """
    a = _as_array(image, "image")
    n, keys, values = _settings_args(settings)
    img, keep = array_arg(a, "image")
    mask_p, mask_keep = _mask_arg(mask) if mask is not None else (None, None)
    text = take_text(lib.peaks_resolve_settings(ctypes.byref(img), mask_p, _text(algo, "algo"), n, keys, values))
    return json.loads(text)


def phase_cross_correlation(reference_image, moving_image, *, upsample_factor=1, space="real",
                            disambiguate=False, reference_mask=None, moving_mask=None,
                            overlap_ratio=0.3, normalization="phase"):
    """The shift that registers MOVING to REFERENCE, as scikit-image's
    ``skimage.registration.phase_cross_correlation`` (2-D).

    Returns ``(shift, error, phasediff)``: shift = ndarray [row, col], the translation to apply
    to `moving_image` to align it with `reference_image` (scikit-image's sign), refined to
    1/`upsample_factor` pixel by DFT upsampling (Guizar-Sicairos et al. 2008).

    With `reference_mask` and/or `moving_mask` (non-zero = valid; one mask given is used for both
    images, as scikit-image does), masked normalised cross-correlation (Padfield 2012) refined by
    a quadratic fit; error and phasediff are then NaN, and `upsample_factor` must stay 1.
    Only ``space="real"`` and ``disambiguate=False`` are supported.
    """
    if space != "real":
        raise ValueError(f"parameter 'space': only 'real' is supported, got {space!r}")
    if disambiguate:
        raise ValueError("parameter 'disambiguate': not supported")
    if normalization == "phase":
        norm = 0
    elif normalization is None:
        norm = 1
    else:
        raise ValueError(f"parameter 'normalization': expected 'phase' or None, got {normalization!r}")
    if not isinstance(upsample_factor, (int, np.integer)) or isinstance(upsample_factor, bool):
        if isinstance(upsample_factor, (float, np.floating)) and float(upsample_factor).is_integer():
            upsample_factor = int(upsample_factor)
        else:
            raise ValueError(f"parameter 'upsample_factor': expected a whole number, got {upsample_factor!r}")
    if not 1 <= upsample_factor <= 10_000:
        raise ValueError(f"parameter 'upsample_factor': must be in 1...10000, got {upsample_factor}")
    if (reference_mask is None) != (moving_mask is None):
        reference_mask = moving_mask = reference_mask if reference_mask is not None else moving_mask
    ref, keep_r = array_arg(_as_array(reference_image, "reference image"), "reference image")
    mov, keep_m = array_arg(_as_array(moving_image, "moving image"), "moving image")
    rm_p, keep_rm = _mask_arg(reference_mask, "reference mask")
    mm_p, keep_mm = _mask_arg(moving_mask, "moving mask")
    row = take_table(lib.peaks_phase_cross_correlation(ctypes.byref(ref), ctypes.byref(mov), rm_p, mm_p,
                                                       int(upsample_factor), norm, float(overlap_ratio)))[0]
    shift_row, shift_col, error, phasediff = row["shift_row"], row["shift_col"], row["error"], row["phasediff"]
    return np.array([shift_row, shift_col]), float(error), float(phasediff)


def center(image, mask=None):
    """The centre of a centrosymmetric pattern (a diffraction pattern's direct beam), as
    ``peaks center``: ``Center(x, y, confidence)`` (x = column, y = row; confidence = the
    normalised cross-correlation of the pattern with its point inversion about the centre, 1 =
    perfectly symmetric). NaN / infinite pixels count as invalid."""
    img, keep = array_arg(_as_array(image, "image"), "image")
    mask_p, mask_keep = _mask_arg(mask)
    row = take_table(lib.peaks_center(ctypes.byref(img), mask_p))[0]
    x, y, confidence = row["x"], row["y"], row["confidence"]
    return Center(float(x), float(y), float(confidence))
