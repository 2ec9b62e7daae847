"""Writes the TIFF and HDF5 stacks of the read benchmarks (Benchmarks/Benchmarks/ReadBenchmarks):
FRAMES frames of H x W uint16, uncompressed, pseudo-random values below 4096 (the values do not
matter to reading; they differ from the Swift-written NPY/MIB stacks').

    python make_read_stacks.py FOLDER FRAMES H W

Writes FOLDER/stack.tif (one page per frame, one strip per page: tifffile's default layout),
FOLDER/contiguous.h5 and FOLDER/chunked.h5 (dataset "data", chunks of one frame). Needs numpy,
tifffile and h5py, e.g. in a venv:

    python3 -m venv /work/venv-rb && /work/venv-rb/bin/pip install numpy tifffile h5py
"""
import os
import sys

import h5py
import numpy as np
import tifffile


def main():
    folder, frames, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 4096, size=(h, w), dtype=np.uint16)
    batch = 64

    def blocks():
        for f in range(frames):
            yield frame ^ np.uint16(f & 0xFFF)

    tif = os.path.join(folder, "stack.tif")
    tifffile.imwrite(tif + ".part", blocks(), shape=(frames, h, w), dtype=np.uint16,
                     bigtiff=frames * h * w * 2 > 2**31, photometric="minisblack")
    os.replace(tif + ".part", tif)

    for name, chunks in (("contiguous.h5", None), ("chunked.h5", (1, h, w))):
        path = os.path.join(folder, name)
        with h5py.File(path + ".part", "w") as f:
            d = f.create_dataset("data", shape=(frames, h, w), dtype=np.uint16, chunks=chunks)
            for s in range(0, frames, batch):
                n = min(batch, frames - s)
                d[s:s + n] = np.stack([frame ^ np.uint16((s + k) & 0xFFF) for k in range(n)])
        os.replace(path + ".part", path)


if __name__ == "__main__":
    main()
