#!/usr/bin/env python3
"""Run `peaks detect` on every Golden/real case (each detector with its defaults, and with no
--algo) and print F1 / RMSE / wall time next to the peers' best (peers.csv).

    python3 Benchmarks/reference/run_peaks_real.py [--peaks .build/release/peaks] [--csv out.csv]
        [--algos default,persistence,log,high-symmetry] [--extra "ARGS"] [--only CASE,...]

"default" runs `peaks detect IMAGE` without --algo. Scores: score_peaks.score (the peers' scorer).
Times: wall time of the whole process (read + detect + write JSON), median of 3 runs.
Needs numpy and scipy.
"""
import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score_peaks import score  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def peers(dirpath):
    best = {}
    with open(os.path.join(dirpath, "peers.csv")) as f:
        for r in csv.DictReader(f):
            kind = "rule" if r["rule"].startswith("rule") else "oracle"
            key = (r["case"], kind)
            f1 = float(r["f1"])
            rmse = float(r["rmse"]) if r["rmse"] else float("nan")
            cur = best.get(key)
            if cur is None or (f1, -rmse) > (cur[0], -cur[1]):
                best[key] = (f1, rmse, r["peer"], float(r["seconds"]))
    return best


def run(peaks, image, algo, extra, reps):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "p.json")
        cmd = [peaks, "detect", image, "-o", out]
        if algo != "default":
            cmd += ["--algo", algo]
        cmd += extra
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if p.returncode != 0:
                return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}", 0
        with open(out) as f:
            d = json.load(f)
        times.sort()
        return d, None, times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peaks", default=os.path.join(ROOT, ".build", "release", "peaks"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "Golden", "real"))
    ap.add_argument("--algos", default="default,persistence,log,high-symmetry")
    ap.add_argument("--extra", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--csv", default="")
    ap.add_argument("--diag", action="store_true", help="print the default run's diagnostics")
    a = ap.parse_args()
    best = peers(a.dir)
    cases = sorted(c for c in os.listdir(a.dir) if os.path.isfile(os.path.join(a.dir, c, "truth.json")))
    if a.only:
        cases = [c for c in cases if c in a.only.split(",")]
    algos = a.algos.split(",")
    extra = shlex.split(a.extra)
    rows = []
    head = f"{'case':22s} {'peer rule':>16s} {'oracle':>6s} | " + " | ".join(f"{x[:13]:>22s}" for x in algos)
    print(head)
    for c in cases:
        t = json.load(open(os.path.join(a.dir, c, "truth.json")))
        if t.get("task") == "center":
            continue
        img = os.path.join(a.dir, c, "image.npy")
        truth = [(p["x"], p["y"]) for p in t["peaks"]]
        ig = [(p["x"], p["y"]) for p in t["ignore"]]
        tol = float(t["tolerance"])
        pr, po = best[(c, "rule")], best[(c, "oracle")]
        cells = []
        for algo in algos:
            d, err, dt = run(a.peaks, img, algo, extra, a.reps)
            if d is None:
                cells.append(f"{'ERR':>22s}")
                rows.append(dict(case=c, algo=algo, error=err))
                continue
            xy = [(p["x"], p["y"]) for p in d["peaks"]]
            s = score(xy, truth, ig, tol)
            cells.append(f"{s['f1']:.3f} {s['rmse']:.3f} {s['fp']:3d}/{s['fn']:3d} {dt:4.2f}s")
            rows.append(dict(case=c, algo=algo, chosen=d.get("algorithm"), seconds=dt, **s,
                             peer_rule_f1=pr[0], peer_rule_rmse=pr[1], peer_oracle_f1=po[0]))
            if a.diag and algo == algos[0]:
                print("   ", d.get("algorithm"), json.dumps(d.get("diagnostics"))[:400])
        print(f"{c:22s} {pr[0]:.3f} {pr[2]:>7s} {pr[1]:.2f} {po[0]:6.3f} | " + " | ".join(cells), flush=True)
    if a.csv:
        keys = ["case", "algo", "chosen", "tp", "fp", "fn", "precision", "recall", "f1", "rmse", "seconds",
                "peer_rule_f1", "peer_rule_rmse", "peer_oracle_f1", "error"]
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, keys, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow(r)


if __name__ == "__main__":
    main()
