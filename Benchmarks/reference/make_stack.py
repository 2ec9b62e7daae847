"""Writes the stack used by the stack-path figures (docs/performance.md, "Stacks"): FRAMES frames
of 256 x 256 float32, integrated-Gaussian-like spots (sigma 2 px, amplitude 50, one every 32 px,
jittered) on a background of 100 with white Gaussian noise of sigma 3, as in the persistence
benchmark (noise makes a local maximum every ~9 pixels: the union-find's worst case in practice).

    python make_stack.py OUT.npy FRAMES [SEED]
"""
import sys

import numpy as np


def main():
    out, frames = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = np.random.default_rng(seed)
    h = w = 256
    yy, xx = np.mgrid[0:h, 0:w]
    stack = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(frames, h, w))
    centres = [(16 + 32 * i, 16 + 32 * j) for i in range(8) for j in range(8)]
    for f in range(frames):
        img = 100 + 3 * rng.standard_normal((h, w))
        for cy, cx in centres:
            dy, dx = rng.uniform(-4, 4, 2)
            img += 50 * np.exp(-((yy - cy - dy) ** 2 + (xx - cx - dx) ** 2) / (2 * 2.0**2))
        stack[f] = img.astype(np.float32)
    stack.flush()


if __name__ == "__main__":
    main()
