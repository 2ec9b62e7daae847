"""The Python API: version, catalogue, detection on every dtype and layout, stacks, masks."""
import math

import numpy as np
import pytest

import peaks
from conftest import spots


def test_version_and_catalogue():
    assert peaks.__version__.count(".") == 2
    names = peaks.algorithms()
    assert {"persistence", "log", "high-symmetry"} <= set(names)
    for name in names:
        ps = peaks.parameters(name)
        assert {"min_dist", "exclude_border"} <= {p["name"] for p in ps}
        for p in ps:
            assert {"name", "type", "default", "auto", "unit", "help"} <= set(p)
    prominence = {p["name"]: p for p in peaks.parameters("persistence")}["prominence"]
    assert prominence["auto"] is True and prominence["min"] == 0


def test_detect_fields(image):
    # refine="none": whole-pixel positions (the default refines to subpixel ones).
    t = peaks.detect(image, prominence=3, refine="none")
    assert t.dtype.names[:3] == ("x", "y", "value")
    assert "prominence" in t.dtype.names
    assert len(t) >= 3
    # Values are the image's at the peaks (persistence reports pixel positions).
    assert np.array_equal(t["value"], image[t["y"].astype(int), t["x"].astype(int)].astype(np.float64))
    assert np.all(np.diff(t["prominence"]) <= 0)


@pytest.mark.parametrize("dtype", ["float32", "float64", ">f4", ">f8", "float16", "uint8", "int8", "uint16",
                                   "int16", ">u2", "int32", "uint32", "int64", "uint64"])
def test_any_dtype_same_as_float32(dtype):
    base = np.clip(spots(seed=3) * 5 + 20, 0, 120).round()  # exact in every dtype
    ref = peaks.detect(base.astype(np.float32), prominence=10)
    assert len(ref) > 0
    t = peaks.detect(base.astype(dtype), prominence=10)
    assert np.array_equal(t, ref)


def test_bool_image():
    img = np.zeros((16, 16), bool)
    img[4, 5] = True
    t = peaks.detect(img, prominence=0.5)
    assert [(r["x"], r["y"]) for r in t] == [(5.0, 4.0)]


def test_layouts_same_result(image):
    ref = peaks.detect(image, prominence=3)
    fortran = np.asfortranarray(image)
    assert np.array_equal(peaks.detect(fortran, prominence=3), ref)
    big = np.zeros((image.shape[0] * 2, image.shape[1] * 3), np.float32)
    big[::2, ::3] = image
    view = big[::2, ::3]
    assert not view.flags.c_contiguous
    assert np.array_equal(peaks.detect(view, prominence=3), ref)
    flipped = image[::-1, ::-1]
    # Whole-pixel positions: a flip maps them exactly (subpixel fits need not be bit-symmetric).
    ref = peaks.detect(image, prominence=3, refine="none")
    t = peaks.detect(flipped, prominence=3, refine="none")
    h, w = image.shape
    back = np.sort(np.stack([w - 1 - t["x"], h - 1 - t["y"]], 1), axis=0)
    assert np.array_equal(back, np.sort(np.stack([ref["x"], ref["y"]], 1), axis=0))
    assert np.array_equal(peaks.detect(image.tolist(), prominence=3), peaks.detect(image.astype(np.float64), prominence=3))


def test_unaligned_and_readonly(image):
    raw = np.zeros(image.size * 4 + 1, np.uint8)[1:]
    unaligned = raw.view(np.float32).reshape(image.shape)
    unaligned[:] = image
    assert not unaligned.flags.aligned
    ref = peaks.detect(image, prominence=3)
    assert np.array_equal(peaks.detect(unaligned, prominence=3), ref)
    frozen = image.copy()
    frozen.flags.writeable = False
    assert np.array_equal(peaks.detect(frozen, prominence=3), ref)
    assert np.array_equal(image, frozen)  # the input is never written


def test_concurrent_calls_give_serial_results():
    import threading
    images = [spots(shape=(96, 96), n=8, seed=s) for s in range(6)]
    serial = [(peaks.detect(im, algo="log"), peaks.detect(im, prominence=2)) for im in images]
    results = [None] * len(images)

    def run(i):
        results[i] = (peaks.detect(images[i], algo="log"), peaks.detect(images[i], prominence=2))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), (c, d) in zip(results, serial):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_stack_equals_frames(stack):
    t = peaks.detect(stack, prominence=3)
    assert t.dtype.names[0] == "frame" and t.dtype["frame"] == np.int64
    resolved = peaks.resolve_settings(stack, prominence=3)
    for i, frame in enumerate(stack):
        one = peaks.detect(frame, **resolved)
        rows = t[t["frame"] == i]
        for name in one.dtype.names:
            assert np.array_equal(rows[name], one[name])
    assert np.all(np.diff(t["frame"]) >= 0)
    # Strided stack (every other frame, Fortran frames) and one thread give the same table.
    assert np.array_equal(peaks.detect(stack, prominence=3, threads=1), t)
    sub = peaks.detect(stack[::2], **resolved)
    assert np.array_equal(sub[sub["frame"] == 1]["x"], t[t["frame"] == 2]["x"])


def test_resolved_settings_are_the_stacks():
    """smooth=auto is measured once per stack: the lower median of the sampled frames' own
    spot scales, whatever the frames' order; given settings pass through unchanged."""
    frames = [spots(seed=1), spots(seed=2, sigma=3.0), spots(seed=3)]
    own = sorted(peaks.resolve_settings(f)["smooth"] for f in frames)
    assert own[0] < own[-1]
    stack = np.stack(frames)
    assert peaks.resolve_settings(stack)["smooth"] == own[1]
    assert peaks.resolve_settings(stack[::-1])["smooth"] == own[1]
    assert peaks.resolve_settings(stack, smooth=1.25)["smooth"] == 1.25
    assert peaks.stack_sample_indices(4096) == [0, 585, 1170, 1755, 2340, 2925, 3510, 4095]
    assert peaks.stack_sample_indices(3) == [0, 1, 2] and peaks.stack_sample_indices(0) == []
    with pytest.raises(ValueError, match="lattice"):
        peaks.resolve_settings(stack, lattice="1,2,3")


def test_scan_4d(stack):
    scan = np.stack([stack[:3], stack[2:]])  # (2, 3, h, w)
    t = peaks.detect(scan, prominence=3)
    assert t.dtype.names[:3] == ("frame", "scan_y", "scan_x")
    resolved = peaks.resolve_settings(scan, prominence=3)
    for sy in range(2):
        for sx in range(3):
            one = peaks.detect(scan[sy, sx], **resolved)
            rows = t[(t["scan_y"] == sy) & (t["scan_x"] == sx)]
            assert np.all(rows["frame"] == sy * 3 + sx)
            assert np.array_equal(rows["x"], one["x"]) and np.array_equal(rows["prominence"], one["prominence"])
    # A transposed scan (scan axes swapped, no copy).
    tt = peaks.detect(scan.transpose(1, 0, 2, 3), prominence=3)
    rows = tt[(tt["scan_y"] == 2) & (tt["scan_x"] == 1)]
    assert np.array_equal(rows["x"], peaks.detect(scan[1, 2], prominence=3)["x"])


def test_mask(image):
    ref = peaks.detect(image, prominence=3)
    mask = np.ones(image.shape, np.uint8)
    x0, y0 = int(ref["x"][0]), int(ref["y"][0])
    mask[y0 - 3:y0 + 4, x0 - 3:x0 + 4] = 0
    t = peaks.detect(image, mask=mask, prominence=3)
    assert not np.any((np.abs(t["x"] - x0) <= 3) & (np.abs(t["y"] - y0) <= 3))
    assert np.array_equal(peaks.detect(image, mask=mask.astype(bool), prominence=3), t)


def test_nonfinite_mask(image):
    img = image.copy()
    img[10, 10] = np.nan
    img[20, 30] = np.inf
    t = peaks.detect(img, nonfinite="mask", prominence=3)
    assert np.all(np.isfinite(t["value"]))
    mask = np.isfinite(img)
    assert np.array_equal(t, peaks.detect(np.nan_to_num(img, posinf=0), mask=mask, prominence=3))


def test_other_detectors(image):
    t = peaks.detect(image, algo="log")
    assert "sigma" in t.dtype.names and len(t) > 0
    t = peaks.detect(image, algo="persistence", prominence="auto", min_dist=5, exclude_border=2, smooth=1.0)
    assert np.all((t["x"] >= 2) & (t["x"] <= image.shape[1] - 3))


def test_empty_result():
    t = peaks.detect(np.zeros((16, 16), np.float32))
    assert len(t) == 0 and t.dtype.names[:3] == ("x", "y", "value")
    t = peaks.detect(np.zeros((3, 16, 16), np.float32))
    assert len(t) == 0 and t.dtype.names[0] == "frame"


def test_center():
    h, w = 81, 90
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = 47.3, 38.6
    img = np.zeros((h, w))
    for dx, dy in [(0, 0), (12, 3), (-12, -3), (4, 15), (-4, -15), (16, 18), (-16, -18)]:
        img += np.exp(-((xx - cx - dx) ** 2 + (yy - cy - dy) ** 2) / 4.0)
    c = peaks.center(img)
    assert abs(c.x - cx) < 0.1 and abs(c.y - cy) < 0.1
    assert 0.9 < c.confidence <= 1.0
    x, y, conf = c
    mask = np.ones(img.shape, bool)
    mask[:5] = False
    img2 = img.copy()
    img2[:5] = np.nan
    c2 = peaks.center(img2)
    assert abs(c2.x - cx) < 0.2 and abs(c2.y - cy) < 0.2
    c3 = peaks.center(img, mask=mask)
    assert (c3.x, c3.y) == (c2.x, c2.y)


def test_spot_size_hint_is_a_keyword_of_every_detector(image):
    # The hint sets persistence's smoothing to sigma / sqrt(2): the same peaks as that smooth
    # given explicitly.
    a = peaks.detect(image, spot_size=2)
    b = peaks.detect(image, smooth=2 * math.sqrt(0.5))
    assert np.array_equal(a, b)
    # Every detector accepts it (log: its scale range; template: radius and sigma).
    for algo in ("log", "template"):
        assert len(peaks.detect(image, algo, spot_size=2)) >= 1
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="spot_size"):
            peaks.detect(image, spot_size=bad)
