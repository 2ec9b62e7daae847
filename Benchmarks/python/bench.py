"""Python-binding overhead and large-image speed (docs/performance.md, "Python").

    python/build/venv/bin/python Benchmarks/python/bench.py [--cli path/to/peaks] [--repeat N]

1. 64 x 64 float32: `peaks.detect` against the bare native call (`peaks_detect` through ctypes on
   prepared arguments, plus freeing the result): the difference is what the Python layer adds
   (argument checks, array description, settings, building the structured array).
2. 2048 x 2048 float32 (spots on noise, persistence with defaults): `peaks.detect` against the
   detect step that `peaks detect --timings` reports for the same array saved as .npy.
Timings interleave the contenders and report the median and the best; the machine is shared.
"""
import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import peaks
from peaks import _native


def spots(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    h, w = shape
    img = rng.normal(0, 1, size=shape).astype(np.float32)
    ys, xs = rng.uniform(4, h - 4, n), rng.uniform(4, w - 4, n)
    r = 6
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    for y, x, a in zip(ys, xs, rng.uniform(5, 30, n)):
        iy, ix = int(y), int(x)
        y0, y1, x0, x1 = max(iy - r, 0), min(iy + r + 1, h), max(ix - r, 0), min(ix + r + 1, w)
        g = a * np.exp(-((xx + iy - y) ** 2 + (yy + ix - x) ** 2) / (2 * 1.5**2))
        img[y0:y1, x0:x1] += g[y0 - iy + r:y1 - iy + r, x0 - ix + r:x1 - ix + r].astype(np.float32)
    return img


def native_call(img):
    """The bare C call on prepared arguments (what the Python layer wraps)."""
    arr, keep = _native.array_arg(img)
    keys = (ctypes.c_char_p * 1)()
    values = (ctypes.c_char_p * 1)()
    lib = _native.lib
    ref = ctypes.byref(arr)

    def call():
        r = lib.peaks_detect(ref, None, b"persistence", 0, keys, values, 0, 0)
        lib.peaks_result_free(r)
    return call, keep


def best_and_median(samples):
    return min(samples), statistics.median(samples)


def small(repeat):
    img = spots((64, 64), 8)
    call, keep = native_call(img)
    for _ in range(200):
        call()
        peaks.detect(img)
    # Alternate the two call by call, so that the machine's load drifts affect both alike.
    clock = time.perf_counter
    native, wrapped, diff = [], [], []
    for _ in range(repeat * 200):
        t0 = clock()
        call()
        t1 = clock()
        peaks.detect(img)
        t2 = clock()
        native.append(t1 - t0)
        wrapped.append(t2 - t1)
        diff.append((t2 - t1) - (t1 - t0))
    q = lambda v: (statistics.median(v) * 1e6, np.percentile(v, 10) * 1e6)
    print(f"64x64 float32, persistence defaults ({len(peaks.detect(img))} peaks), {len(diff)} calls each, alternating:")
    print("  native peaks_detect + free : median %7.1f us, 10th percentile %7.1f us" % q(native))
    print("  peaks.detect               : median %7.1f us, 10th percentile %7.1f us" % q(wrapped))
    print("  difference (paired)        : median %7.1f us, 10th percentile %7.1f us" % q(diff))


def large(cli, repeat):
    img = spots((2048, 2048), 3000, seed=1)
    peaks.detect(img)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "img.npy")
        np.save(path, img)
        py, cl = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            n = len(peaks.detect(img))
            py.append(time.perf_counter() - t)
            if cli:
                err = subprocess.run([cli, "detect", path, "--timings", "-o", os.path.join(d, "out.csv")],
                                     check=True, capture_output=True, text=True).stderr
                cl.append(float(re.search(r"detect ([0-9.]+) ms", err).group(1)) / 1e3)
    pb, pm = best_and_median(py)
    print(f"2048x2048 float32, persistence defaults ({n} peaks), {repeat} runs:")
    print(f"  peaks.detect               : median {pm * 1e3:7.1f} ms, best {pb * 1e3:7.1f} ms")
    if cl:
        cb, cm = best_and_median(cl)
        print(f"  peaks detect --timings     : median {cm * 1e3:7.1f} ms, best {cb * 1e3:7.1f} ms (detect step)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cli", default=os.environ.get("PEAKS_CLI"), help="the peaks executable (default: $PEAKS_CLI)")
    p.add_argument("--repeat", type=int, default=15)
    a = p.parse_args()
    print(f"peaks {peaks.__version__}, Python {sys.version.split()[0]}, numpy {np.__version__}, load {os.getloadavg()[0]:.1f}")
    small(a.repeat)
    large(a.cli, max(3, a.repeat // 2))


if __name__ == "__main__":
    main()
