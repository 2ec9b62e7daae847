"""The docs/python.md recipe: detection over a chunked 4-D dask array, gathered into one table."""
import numpy as np
import pytest

import peaks
from conftest import spots

da = pytest.importorskip("dask.array")


# --- the recipe of docs/python.md (keep the two in step) ---
def detect_dask(stack, algo="persistence", mask=None, **settings):
    """Peaks of every frame of a dask array (scan_y, scan_x, h, w), as one table in frame order."""
    stack = stack.rechunk({2: -1, 3: -1})  # whole frames in every block
    scan_x_size = stack.shape[1]
    # Settings measured from the data (auto) are resolved once for the whole stack, from the
    # frames peaks samples, so that every block runs with the same settings.
    frames = stack.reshape((-1,) + stack.shape[2:])
    sample = np.asarray(frames[peaks.stack_sample_indices(frames.shape[0])].compute())
    settings = peaks.resolve_settings(sample, algo, mask, **settings)

    def block_peaks(block, block_info=None):
        (y0, _), (x0, _) = block_info[0]["array-location"][:2]
        t = peaks.detect(block, algo, mask, threads=1, **settings)
        t["scan_y"] += y0
        t["scan_x"] += x0
        t["frame"] = t["scan_y"] * scan_x_size + t["scan_x"]
        out = np.empty((1, 1), dtype=object)
        out[0, 0] = t
        return out

    tables = stack.map_blocks(
        block_peaks, dtype=object, drop_axis=[2, 3],
        chunks=((1,) * len(stack.chunks[0]), (1,) * len(stack.chunks[1])),
    ).compute()
    table = np.concatenate(tables.ravel().tolist())
    return table[np.argsort(table["frame"], kind="stable")]
# --- end of recipe ---


def test_dask_table_equals_frame_by_frame():
    sy, sx = 4, 6
    frames = np.stack([spots(shape=(40, 48), n=5, seed=s) for s in range(sy * sx)]).reshape(sy, sx, 40, 48)
    lazy = da.from_array(frames, chunks=(3, 4, 20, 48))  # uneven scan chunks, split frames
    table = detect_dask(lazy, prominence=3)
    assert table.dtype.names[:3] == ("frame", "scan_y", "scan_x")
    # Frame by frame with the settings the stack resolves (smooth=auto measured once).
    resolved = peaks.resolve_settings(frames, prominence=3)
    assert isinstance(resolved["smooth"], float) and resolved["prominence"] == 3
    expected = []
    for y in range(sy):
        for x in range(sx):
            t = peaks.detect(frames[y, x], **resolved)
            rows = np.empty(len(t), dtype=table.dtype)
            rows["frame"], rows["scan_y"], rows["scan_x"] = y * sx + x, y, x
            for name in t.dtype.names:
                rows[name] = t[name]
            expected.append(rows)
    expected = np.concatenate(expected)
    assert len(table) == len(expected) > sy * sx
    assert np.array_equal(table, expected)
    # And the same as one call on the whole in-memory array.
    assert np.array_equal(table, peaks.detect(frames, prominence=3))
