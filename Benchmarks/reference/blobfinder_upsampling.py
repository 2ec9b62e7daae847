#!/usr/bin/env python3
"""LiberTEM-blobfinder on the data of its "Upsampling-based subpixel refinement" notebook.

Measures, for blobfinder's `process_frames_fast` (after a JIT warm-up):
  * RMS error (px, 2-D) of the refined disc centre against the known shifts, with CoM
    refinement (upsample=False) and DFT upsampling (upsample=20), on
      - the notebook's own dataset (12 x 45 frames of 64 x 64, radius-6 disc, Fourier-shifted),
      - the dataset `peaks generate --class disc-scan` writes (same recipe), if given;
  * frames/s on 64 x 64 scans (4,096 frames) of 64^2, 128^2 and 256^2 frames (one disc each),
    for `process_frames_fast` (crops of 2 search around the given position, the frame centre)
    and `process_frames_full` (the whole frame correlated, the maximum taken in the crop; with
    upsampling only 512 frames, it is slow), with the CPU time of the process over the same run
    (blobfinder runs on one core here). Best of 3 by wall time.

Usage (venv with libertem, libertem-blobfinder, numpy):
    python blobfinder_upsampling.py [PEAKS_DISC_SCAN_DIR] > blobfinder-upsampling.csv
    python blobfinder_upsampling.py [PEAKS_DISC_SCAN_DIR] --speed D64 D128 D256 > ...
The second form times the frames of `peaks generate --class disc-scan --scan 64x64 --size N`
folders (the files `peaks detect` reads in Benchmarks/reference/template_bench.sh), loaded into
memory first; the first form makes its own frames (one disc, random shifts of +-2 px).
"""
import csv
import os
import sys
import time

import numpy as np
from scipy.ndimage import fourier_shift
from libertem_blobfinder.base.utils import cbed_frame
from libertem_blobfinder.common.patterns import Circular
from libertem_blobfinder.common.correlation import process_frames_fast, process_frames_full


def notebook_dataset(nav_shape=(12, 45), sig_shape=(64, 64), radius=6):
    """The notebook's code, verbatim apart from the function wrapper."""
    ny, nx = nav_shape
    yshift, xshift = (-1, 1), (-3, 3)
    frame, _, _ = cbed_frame(*sig_shape, radius=radius, a=(100, 100), b=(100, 100))
    frame = frame[0]
    frame_fft = np.fft.fft2(frame.astype(np.float32))
    frames = np.zeros(nav_shape + sig_shape, dtype=np.float32)
    true_shifts = np.zeros(nav_shape + (2,))
    for yi, yd in enumerate(np.linspace(*yshift, num=ny, endpoint=True)):
        for xi, xd in enumerate(np.linspace(*xshift, num=nx, endpoint=True)):
            true_shifts[yi, xi] = (yd * (-1 * xi / nx), xd * (yi / ny))
            frames[yi, xi, ...] = np.fft.ifft2(fourier_shift(frame_fft, true_shifts[yi, xi])).real.astype(np.float32)
    centre = np.asarray(sig_shape) // 2
    truth = (true_shifts + centre).reshape(-1, 2)  # (y, x)
    return frames.reshape((-1,) + sig_shape), truth


def peaks_dataset(folder):
    data = np.load(os.path.join(folder, "data.npy"))
    rows = list(csv.DictReader(open(os.path.join(folder, "shifts.csv"))))
    truth = np.array([(float(r["y"]), float(r["x"])) for r in rows])
    return data.reshape((-1,) + data.shape[-2:]), truth


def run(frames, radius, upsample, full=False):
    size = frames.shape[-1]
    peaks = np.array([[size // 2, size // 2]], dtype=np.int32)
    f = process_frames_full if full else process_frames_fast
    return f(Circular(radius), frames, peaks, upsample=upsample)


def rms(frames, truth, radius, upsample):
    _, refineds, _, _ = run(frames, radius, upsample)
    err = refineds[:, 0, :] - truth
    return float(np.sqrt(np.mean(np.sum(err ** 2, axis=1))))


def speed_frames(size, count=4096, radius=6):
    rng = np.random.default_rng(1)
    frame, _, _ = cbed_frame(size, size, radius=radius, a=(1000, 1000), b=(1000, 1000))
    f = np.fft.fft2(frame[0].astype(np.float32))
    out = np.empty((count, size, size), dtype=np.float32)
    for i in range(count):
        out[i] = np.fft.ifft2(fourier_shift(f, rng.uniform(-2, 2, 2))).real
    return out


def main():
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["measure", "dataset", "frame_size", "frames", "refine", "value", "unit"])
    radius = 6
    args = sys.argv[1:]
    speed_dirs = []
    if "--speed" in args:
        k = args.index("--speed")
        speed_dirs = args[k + 1:]
        args = args[:k]
    warm = notebook_dataset()[0][:8]
    for full in (False, True):
        run(warm, radius, False, full)
        run(warm, radius, 20, full)  # JIT warm-up
    sets = [("notebook", *notebook_dataset())]
    if args:
        sets.append(("peaks-disc-scan", *peaks_dataset(args[0])))
    for name, frames, truth in sets:
        for label, up in (("com", False), ("upsample-20", 20), ("upsample-50", 50)):
            w.writerow(["rms_error", name, frames.shape[-1], len(frames), label, "%.4f" % rms(frames, truth, radius, up), "px"])
    sources = [(d, None) for d in speed_dirs] or [(None, size) for size in (64, 128, 256)]
    for folder, size in sources:
        if folder is not None:
            frames = np.ascontiguousarray(peaks_dataset(folder)[0], dtype=np.float32)
            dataset = "peaks disc-scan 64x64"
        else:
            frames = speed_frames(size)
            dataset = "64x64 scan"
        size = frames.shape[-1]
        for mode, full in (("fast", False), ("full", True)):
            for label, up in (("com", False), ("upsample-20", 20)):
                best, cpu = None, None
                # The full mode's upsampling is slow (a transform of the whole spectrum per
                # peak): 512 frames are timed there.
                part = frames[:512] if full and up else frames
                for _ in range(3):
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(part, radius, up, full)
                    dt, dc = time.perf_counter() - t0, time.process_time() - c0
                    if best is None or dt < best:
                        best, cpu = dt, dc
                w.writerow(["speed_" + mode, dataset, size, len(part), label, "%.0f" % (len(part) / best), "frames/s"])
                w.writerow(["cpu_" + mode, dataset, size, len(part), label, "%.3f" % cpu, "s"])
                sys.stdout.flush()


if __name__ == "__main__":
    main()
