#!/usr/bin/env python3
"""Score a peak list against a Golden/real truth.json (the same code scores the peers).

Usage:
    python3 score_peaks.py DETECTIONS(.json|.csv) TRUTH.json [--tolerance PX] [--json]

DETECTIONS: a peaks JSON ({"peaks": [{"x": .., "y": .., ...}, ...]}, e.g. `peaks detect -o`)
or a CSV whose header has columns x and y. Coordinates: x = column, y = row, 0-based, centre of
pixel (0, 0) at (0.0, 0.0).

Scoring (the conventions of Sources/Harness/Matching.swift, plus "ignore" points):
1. Detections are matched one-to-one to the truth peaks within the tolerance (a pair is allowed
   when distance <= tolerance). Among all one-to-one matchings we take one that first maximises
   the number of pairs and then minimises the summed distance: Hungarian algorithm
   (scipy.optimize.linear_sum_assignment) on cost d - K for allowed pairs and 0 otherwise,
   K = tolerance * (min(n, m) + 1) + 1.
2. The detections left unmatched are matched one-to-one, the same way, to the "ignore" points;
   those matched to an ignore point are dropped (neither TP nor FP). Ignore points are never FN.
3. TP = pairs of step 1, FP = detections left after step 2, FN = truth peaks left unmatched;
   precision = TP/(TP+FP) (1 if no detection), recall = TP/(TP+FN) (1 if no truth),
   F1 = 2TP/(2TP+FP+FN) (1 if all are 0), RMSE = sqrt(mean squared distance of the TP pairs).
Needs numpy and scipy only.
"""
import argparse
import csv
import json
import math
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def match(det, truth, tol):
    """One-to-one matching; returns list of (i_det, j_truth, distance)."""
    det = np.asarray(det, dtype=float).reshape(-1, 2)
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    n, m = len(det), len(truth)
    if n == 0 or m == 0:
        return []
    d = np.hypot(det[:, None, 0] - truth[None, :, 0], det[:, None, 1] - truth[None, :, 1])
    allowed = d <= tol
    if not allowed.any():
        return []
    # Only rows/columns with at least one allowed pair take part (same optimum, smaller problem).
    rows = np.nonzero(allowed.any(axis=1))[0]
    cols = np.nonzero(allowed.any(axis=0))[0]
    sub = d[np.ix_(rows, cols)]
    suba = allowed[np.ix_(rows, cols)]
    k = tol * (min(len(rows), len(cols)) + 1) + 1
    cost = np.where(suba, sub - k, 0.0)
    r, c = linear_sum_assignment(cost)
    return [(int(rows[i]), int(cols[j]), float(sub[i, j])) for i, j in zip(r, c) if suba[i, j]]


def score(det, truth, ignore, tol):
    det = np.asarray(det, dtype=float).reshape(-1, 2)
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    ignore = np.asarray(ignore, dtype=float).reshape(-1, 2)
    pairs = match(det, truth, tol)
    used = np.zeros(len(det), bool)
    for i, _, _ in pairs:
        used[i] = True
    rest = np.nonzero(~used)[0]
    dropped = 0
    if len(rest) and len(ignore):
        dropped = len(match(det[rest], ignore, tol))
    tp = len(pairs)
    fp = len(det) - tp - dropped
    fn = len(truth) - tp
    precision = 1.0 if tp + fp == 0 else tp / (tp + fp)
    recall = 1.0 if tp + fn == 0 else tp / (tp + fn)
    f1 = 1.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    if tp:
        dd = np.array([p[2] for p in pairs])
        rmse = float(math.sqrt(np.mean(dd ** 2)))
        bx = float(np.mean([det[i, 0] - truth[j, 0] for i, j, _ in pairs]))
        by = float(np.mean([det[i, 1] - truth[j, 1] for i, j, _ in pairs]))
    else:
        rmse = bx = by = float("nan")
    return dict(tp=tp, fp=fp, fn=fn, ignored=dropped, precision=precision, recall=recall,
                f1=f1, rmse=rmse, bias_x=bx, bias_y=by)


def read_truth(path):
    with open(path) as f:
        t = json.load(f)
    pk = [(p["x"], p["y"]) for p in t.get("peaks", [])]
    ig = [(p["x"], p["y"]) for p in t.get("ignore", [])]
    return t, pk, ig


def read_detections(path):
    if path.lower().endswith(".csv"):
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
        head = [h.strip() for h in rows[0]]
        ix, iy = head.index("x"), head.index("y")
        return [(float(r[ix]), float(r[iy])) for r in rows[1:]]
    with open(path) as f:
        d = json.load(f)
    return [(p["x"], p["y"]) for p in d["peaks"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("detections")
    ap.add_argument("truth")
    ap.add_argument("--tolerance", type=float, default=None,
                    help="matching radius in px (default: the truth file's 'tolerance')")
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    a = ap.parse_args(argv)
    t, pk, ig = read_truth(a.truth)
    tol = a.tolerance if a.tolerance is not None else float(t.get("tolerance", 3.0))
    s = score(read_detections(a.detections), pk, ig, tol)
    s["tolerance"] = tol
    if a.json:
        print(json.dumps(s, indent=1))
    else:
        print("tp,fp,fn,precision,recall,f1,rmse")
        print(f"{s['tp']},{s['fp']},{s['fn']},{s['precision']:.4f},{s['recall']:.4f},"
              f"{s['f1']:.4f},{s['rmse']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
