"""peaks.detect gives exactly the numbers of the command-line tool on the same arrays.

Needs the built `peaks` executable: set PEAKS_CLI to its path (scripts/python-test does)."""
import csv
import io
import os
import subprocess

import numpy as np
import pytest

import peaks
from conftest import spots

CLI = os.environ.get("PEAKS_CLI")
pytestmark = pytest.mark.skipif(not CLI or not os.access(CLI, os.X_OK),
                                reason="set PEAKS_CLI to the built peaks executable to compare with the CLI")


def cli_table(args):
    """(header, texts): the CSV of `peaks detect ARGS --format csv`."""
    out = subprocess.run([CLI, "detect", *args, "--format", "csv"], check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return rows[0], [r for r in rows[1:]]


def same_numbers(values, texts):
    """True when every value is the number its CSV text stands for. The CLI prints a number that
    is exactly a float32 as the shortest float32 text (NumberFormat), others as the shortest
    float64 text: a text may therefore stand for its float64 or its float32 reading."""
    if len(values) != len(texts):
        return False
    for v, t in zip(values, texts):
        if t == "" or t == "nan":
            ok = np.isnan(v)
        else:
            ok = v == float(t) or v == float(np.float32(t))
        if not ok:
            return False
    return True


@pytest.mark.parametrize("case", [
    ("float32 persistence", np.float32, [], {}, None),
    ("uint16 persistence auto", np.uint16, ["-p", "prominence=auto", "-p", "noise=poisson"], {"prominence": "auto", "noise": "poisson"}, None),
    ("float64 min_dist", np.float64, ["-p", "min_dist=6", "-p", "smooth=1.2"], {"min_dist": 6, "smooth": 1.2}, None),
    ("log", np.float32, ["--algo", "log"], {"algo": "log"}, None),
    ("mask", np.float32, ["-p", "prominence=2"], {"prominence": 2}, "mask"),
])
def test_same_as_cli(tmp_path, case):
    name, dtype, args, kwargs, with_mask = case
    img = spots(shape=(80, 96), n=9, seed=11)
    img = (np.clip(img, 0, None) * 100).astype(dtype) if dtype == np.uint16 else img.astype(dtype)
    path = tmp_path / "img.npy"
    np.save(path, img)
    mask = None
    if with_mask:
        mask = np.ones(img.shape, np.uint8)
        mask[30:50, 40:70] = 0
        np.save(tmp_path / "mask.npy", mask)
        args = args + ["--mask", str(tmp_path / "mask.npy")]
    header, rows = cli_table([str(path), *args])
    t = peaks.detect(img, mask=mask, **kwargs)
    assert list(t.dtype.names) == header
    assert len(t) == len(rows) and len(t) > 0
    for j, h in enumerate(header):
        assert same_numbers(t[h], [r[j] for r in rows]), h


def test_stack_same_as_cli(tmp_path):
    stack = np.stack([spots(seed=s) for s in range(4)])
    np.save(tmp_path / "stack.npy", stack)
    header, rows = cli_table([str(tmp_path / "stack.npy"), "-p", "prominence=3"])
    t = peaks.detect(stack, prominence=3)
    assert list(t.dtype.names) == header
    assert len(t) == len(rows) and len(t) > 4
    for j, h in enumerate(header):
        assert same_numbers(t[h].astype(np.float64), [r[j] for r in rows]), h
