"""The in-process Python reference for the stack figures: 0-dimensional persistent homology of
the superlevel sets of every frame of a stack with cripser (Cubical Ripser), in a plain loop in
one Python process, as a user would write it. Prints frames/s and the mean number of
0-dimensional pairs per frame.

    python stack_cripser.py STACK.npy [FRAMES]

cripser computes sublevel-set persistence, so it is given -frame (superlevel sets of the frame:
the peaks). `maxdim=0` restricts it to connected components, the same homology `peaks detect
--algo persistence` computes; peaks also estimates the noise, thresholds, orders and writes the
table, which this loop does not.
"""
import sys
import time

import cripser
import numpy as np


def main():
    stack = np.load(sys.argv[1], mmap_mode="r")
    frames = int(sys.argv[2]) if len(sys.argv) > 2 else stack.shape[0]
    pairs = 0
    start = time.perf_counter()
    cpu = time.process_time()
    for f in range(frames):
        frame = -np.asarray(stack[f], dtype=np.float64)
        ph = cripser.computePH(frame, maxdim=0)
        pairs += len(ph)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    print(f"cripser {cripser.__version__ if hasattr(cripser, '__version__') else ''}: {frames} frames of "
          f"{stack.shape[2]}x{stack.shape[1]} in {elapsed:.2f} s: {frames / elapsed:.1f} frames/s, "
          f"{pairs / frames:.0f} pairs per frame; CPU {cpu:.2f} s = {frames / cpu:.1f} frames per CPU-second")


if __name__ == "__main__":
    main()
