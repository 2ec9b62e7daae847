"""ctypes bindings of libPeaksC.so (Sources/PeaksC/include/peaks.h)."""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["lib", "PeaksArray", "array_arg", "take_table", "take_text"]


def _load():
    path = os.environ.get("PEAKS_LIBRARY") or str(Path(__file__).resolve().parent / "libPeaksC.so")
    if not os.path.exists(path):
        raise ImportError(f"peaks: the native library is missing ({path}); reinstall with 'pip install ./python'")
    # CDLL (not PyDLL): the GIL is released during every call.
    return ctypes.CDLL(path)


lib = _load()


class PeaksArray(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
    ]


_Result = ctypes.c_void_p
_ArrayP = ctypes.POINTER(PeaksArray)
_StrArray = ctypes.POINTER(ctypes.c_char_p)

_signatures = {
    "peaks_version": ([], ctypes.c_char_p),
    "peaks_abi_version": ([], ctypes.c_int32),
    "peaks_algorithms_json": ([], _Result),
    "peaks_parameters_json": ([ctypes.c_char_p], _Result),
    "peaks_detect": ([_ArrayP, _ArrayP, ctypes.c_char_p, ctypes.c_int32, _StrArray, _StrArray,
                      ctypes.c_int32, ctypes.c_int32], _Result),
    "peaks_resolve_settings": ([_ArrayP, _ArrayP, ctypes.c_char_p, ctypes.c_int32, _StrArray, _StrArray], _Result),
    "peaks_phase_cross_correlation": ([_ArrayP, _ArrayP, _ArrayP, _ArrayP, ctypes.c_int32, ctypes.c_int32,
                                       ctypes.c_double], _Result),
    "peaks_center": ([_ArrayP, _ArrayP], _Result),
    "peaks_result_status": ([_Result], ctypes.c_int32),
    "peaks_result_error": ([_Result], ctypes.c_char_p),
    "peaks_result_rows": ([_Result], ctypes.c_int64),
    "peaks_result_columns": ([_Result], ctypes.c_int32),
    "peaks_result_column_name": ([_Result, ctypes.c_int32], ctypes.c_char_p),
    "peaks_result_header": ([_Result], ctypes.c_char_p),
    "peaks_result_data": ([_Result], ctypes.c_void_p),
    "peaks_result_text": ([_Result], ctypes.c_char_p),
    "peaks_result_free": ([_Result], None),
}
for _name, (_args, _res) in _signatures.items():
    _f = getattr(lib, _name)
    _f.argtypes = _args
    _f.restype = _res

if lib.peaks_abi_version() != 1:
    raise ImportError(f"peaks: libPeaksC.so has ABI version {lib.peaks_abi_version()}, this package expects 1")

# numpy kind + itemsize -> PEAKS_DTYPE_* (peaks.h).
_CODES = {
    ("b", 1): 0, ("i", 1): 1, ("u", 1): 2, ("i", 2): 3, ("u", 2): 4, ("i", 4): 5, ("u", 4): 6,
    ("i", 8): 7, ("u", 8): 8, ("f", 2): 9, ("f", 4): 10, ("f", 8): 11,
}
_BIG_ENDIAN = 0x100


_SHAPES = {n: ctypes.c_int64 * n for n in range(1, 33)}


def array_arg(a, what="image"):
    """(PeaksArray, keep-alive) for a numpy array: pointer, type code, shape and strides, no copy."""
    dt = a.dtype
    code = _CODES.get((dt.kind, dt.itemsize))
    if code is None:
        raise ValueError(f"{what}: unsupported element type {dt} (use a real type: bool, integers, float16/32/64)")
    if dt.byteorder == ">" or (dt.byteorder == "=" and sys.byteorder == "big"):
        code |= _BIG_ENDIAN
    ndim = a.ndim
    vector = _SHAPES.get(max(ndim, 1)) or (ctypes.c_int64 * ndim)
    shape = vector(*a.shape)
    strides = vector(*a.strides)
    data = a.__array_interface__["data"][0] if a.size else None
    return PeaksArray(data, code, ndim, shape, strides), (a, shape, strides)


_DTYPES = {}
_POSITION_COLUMNS = ("frame", "scan_y", "scan_x")


def _dtypes(header):
    """(dtype of the rows as stored: all float64, dtype returned: frame/scan_y/scan_x int64)."""
    d = _DTYPES.get(header)
    if d is None:
        columns = header.split(",") if header else []
        stored = np.dtype([(c, np.float64) for c in columns])
        final = np.dtype([(c, np.int64 if c in _POSITION_COLUMNS else np.float64) for c in columns])
        d = _DTYPES[header] = (stored, final)
    return d


def _check(result):
    if not result:
        raise MemoryError("peaks: the native library could not allocate a result")
    status = lib.peaks_result_status(result)
    if status != 0:
        message = (lib.peaks_result_error(result) or b"unknown error").decode("utf-8", "replace")
        lib.peaks_result_free(result)
        if status in (1, 2):
            raise ValueError(message)
        raise RuntimeError(message)


def take_table(result):
    """A result's table as a numpy structured array (frame/scan_y/scan_x int64, the rest
    float64), copied out of the native buffer; frees the result. Raises ValueError on failure."""
    _check(result)
    try:
        header = lib.peaks_result_header(result)
        stored, final = _dtypes(header.decode() if header else "")
        n = lib.peaks_result_rows(result)
        if n == 0:
            return np.empty(0, dtype=final)
        raw = (ctypes.c_char * (n * stored.itemsize)).from_address(lib.peaks_result_data(result))
        rows = np.frombuffer(raw, dtype=stored).copy()
        return rows if stored is final else rows.astype(final)
    finally:
        lib.peaks_result_free(result)


def take_text(result):
    """A result's text; frees the result. Raises ValueError on failure."""
    _check(result)
    try:
        return lib.peaks_result_text(result).decode()
    finally:
        lib.peaks_result_free(result)
