"""ctypes bindings of libPeaksC.so (Sources/PeaksC/include/peaks.h)."""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["lib", "PeaksArray", "array_arg", "call", "PeaksNativeError"]


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
    "peaks_phase_cross_correlation": ([_ArrayP, _ArrayP, _ArrayP, _ArrayP, ctypes.c_int32, ctypes.c_int32,
                                       ctypes.c_double], _Result),
    "peaks_center": ([_ArrayP, _ArrayP], _Result),
    "peaks_result_status": ([_Result], ctypes.c_int32),
    "peaks_result_error": ([_Result], ctypes.c_char_p),
    "peaks_result_rows": ([_Result], ctypes.c_int64),
    "peaks_result_columns": ([_Result], ctypes.c_int32),
    "peaks_result_column_name": ([_Result, ctypes.c_int32], ctypes.c_char_p),
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


class PeaksNativeError(Exception):
    pass


def array_arg(a, what="image"):
    """(PeaksArray, keep-alive) for a numpy array: pointer, type code, shape and strides, no copy."""
    code = _CODES.get((a.dtype.kind, a.dtype.itemsize))
    if code is None:
        raise ValueError(f"{what}: unsupported element type {a.dtype} (use a real type: bool, integers, float16/32/64)")
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        code |= _BIG_ENDIAN
    ndim = a.ndim
    shape = (ctypes.c_int64 * max(ndim, 1))(*a.shape)
    strides = (ctypes.c_int64 * max(ndim, 1))(*a.strides)
    s = PeaksArray(a.ctypes.data if a.size else None, code, ndim, shape, strides)
    return s, (a, shape, strides)


def take(result):
    """Checks a result handle, returning (columns, rows ndarray (n, ncol) float64 copy, text); frees it."""
    if not result:
        raise MemoryError("peaks: the native library could not allocate a result")
    try:
        status = lib.peaks_result_status(result)
        if status != 0:
            message = (lib.peaks_result_error(result) or b"unknown error").decode("utf-8", "replace")
            if status in (1, 2):
                raise ValueError(message)
            raise RuntimeError(message)
        ncol = lib.peaks_result_columns(result)
        n = lib.peaks_result_rows(result)
        columns = [lib.peaks_result_column_name(result, i).decode() for i in range(ncol)]
        text = lib.peaks_result_text(result)
        if n * ncol:
            buf = (ctypes.c_double * (n * ncol)).from_address(lib.peaks_result_data(result))
            rows = np.frombuffer(buf, dtype=np.float64).reshape(n, ncol).copy()
        else:
            rows = np.empty((0, ncol), dtype=np.float64)
        return columns, rows, (text.decode() if text is not None else None)
    finally:
        lib.peaks_result_free(result)
