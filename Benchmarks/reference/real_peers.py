#!/usr/bin/env python3
"""Run the peer tools on every Golden/real case and write Golden/real/peers.csv and peers.md.

    python3 Benchmarks/reference/real_peers.py [--dir Golden/real]

One parameter rule for every peer and case (see real_common.py for each peer's call): the peer
is given the case's true spot size (truth.json "spot_sigma") and a threshold of k robust noise
units (1.4826 MAD of the quantity that peer thresholds).
  rule    k = 3 for every peer and case (the figure to beat);
  oracle  the best F1 over k in 24 log-spaced values from 0.5 to 30 (ties: lower RMSE), i.e. a
          per-case, per-peer threshold chosen with the truth: an upper bound, not a usable setting.
Scores: score_peaks.score (one-to-one Hungarian matching within the case tolerance, pair allowed
when distance <= tolerance; detections matched to "ignore" points are neither TP nor FP).
Centre cases ("task": "center"): scikit-ued autocenter(image, mask) against the ring-fit centre
(error in px). seconds = wall time of one run (the rule's, or the oracle's best k), 2-core machine.
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_common import PEERS, RULE_K, Peer  # noqa: E402
from score_peaks import score  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWEEP = np.geomspace(0.5, 30, 24)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(ROOT, "Golden", "real"))
    a = ap.parse_args()
    cases = sorted(d for d in os.listdir(a.dir) if os.path.isfile(os.path.join(a.dir, d, "truth.json")))
    rows, centres = [], []
    for c in cases:
        t = json.load(open(os.path.join(a.dir, c, "truth.json")))
        img = np.load(os.path.join(a.dir, c, "image.npy"))
        if t.get("task") == "center":
            import skued
            mp = os.path.join(a.dir, c, "mask.npy")
            mask = np.load(mp).astype(bool) if os.path.exists(mp) else None
            t0 = time.perf_counter()
            r, col = skued.autocenter(img.astype(float), mask=mask)
            dt = time.perf_counter() - t0
            err = float(np.hypot(col - t["center"]["x"], r - t["center"]["y"]))
            centres.append(dict(case=c, peer="skued.autocenter", x=col, y=r, truth_x=t["center"]["x"],
                                truth_y=t["center"]["y"], error=err, seconds=dt))
            print(f"{c}: autocenter ({col:.3f}, {r:.3f}) error {err:.3f} px", flush=True)
            continue
        truth = [(p["x"], p["y"]) for p in t["peaks"]]
        ig = [(p["x"], p["y"]) for p in t["ignore"]]
        tol = float(t["tolerance"])
        P = Peer(img.astype(float), float(t["spot_sigma"]))
        for peer in PEERS:
            xy, dt = P.run(peer, RULE_K)
            s = score(xy, truth, ig, tol)
            rows.append(dict(case=c, peer=peer, rule=f"rule k={RULE_K:g}", seconds=dt, **s))
            best = None
            for k in SWEEP:
                xy, dt = P.run(peer, k)
                s = score(xy, truth, ig, tol)
                key = (s["f1"], -(s["rmse"] if s["tp"] else 1e9))
                if best is None or key > best[0]:
                    best = (key, k, s, dt)
            rows.append(dict(case=c, peer=peer, rule=f"oracle k={best[1]:.3g}", seconds=best[3], **best[2]))
            print(f"{c:22s} {peer:8s} rule F1 {rows[-2]['f1']:.3f}  oracle F1 {best[2]['f1']:.3f} (k={best[1]:.3g})",
                  flush=True)
    cols = ["case", "peer", "rule", "tp", "fp", "fn", "precision", "recall", "f1", "rmse", "seconds"]
    with open(os.path.join(a.dir, "peers.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([r["case"], r["peer"], r["rule"], r["tp"], r["fp"], r["fn"], f"{r['precision']:.4f}",
                        f"{r['recall']:.4f}", f"{r['f1']:.4f}", "" if not r["tp"] else f"{r['rmse']:.4f}",
                        f"{r['seconds']:.4f}"])
    with open(os.path.join(a.dir, "peers_center.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["case", "peer", "x", "y", "truth_x", "truth_y", "error", "seconds"])
        for r in centres:
            w.writerow([r["case"], r["peer"], f"{r['x']:.4f}", f"{r['y']:.4f}", r["truth_x"], r["truth_y"],
                        f"{r['error']:.4f}", f"{r['seconds']:.4f}"])
    # markdown summary
    md = ["# Peer figures on Golden/real", "",
          "Written by `Benchmarks/reference/real_peers.py` (see its header for the rule). "
          "F1 at the case tolerance; **rule** = every peer at k = 3 noise units given the true spot sigma; "
          "**oracle** = best F1 over a threshold sweep chosen with the truth (an upper bound). "
          "RMSE in px over matched pairs. Full counts in peers.csv.", ""]
    cs = sorted({r["case"] for r in rows})
    md.append("| case | " + " | ".join(PEERS) + " | best rule F1 (peer, RMSE) | best oracle F1 (peer, RMSE) |")
    md.append("|---" * (len(PEERS) + 3) + "|")
    for c in cs:
        cells = []
        for p in PEERS:
            rr = [r for r in rows if r["case"] == c and r["peer"] == p]
            cells.append(f"{rr[0]['f1']:.3f} / {rr[1]['f1']:.3f}")
        ru = max((r for r in rows if r["case"] == c and r["rule"].startswith("rule")),
                 key=lambda r: (r["f1"], -(r["rmse"] if r["tp"] else 1e9)))
        orc = max((r for r in rows if r["case"] == c and r["rule"].startswith("oracle")),
                  key=lambda r: (r["f1"], -(r["rmse"] if r["tp"] else 1e9)))
        md.append(f"| {c} | " + " | ".join(cells) +
                  f" | {ru['f1']:.3f} ({ru['peer']}, {ru['rmse']:.3f}) | {orc['f1']:.3f} ({orc['peer']}, {orc['rmse']:.3f}) |")
    md += ["", "Cells: rule F1 / oracle F1.", ""]
    if centres:
        md += ["## Centres", "", "| case | peer | centre (x, y) | ring-fit truth | error px |", "|---|---|---|---|---|"]
        for r in centres:
            md.append(f"| {r['case']} | {r['peer']} | ({r['x']:.3f}, {r['y']:.3f}) | "
                      f"({r['truth_x']}, {r['truth_y']}) | {r['error']:.3f} |")
        md.append("")
    with open(os.path.join(a.dir, "peers.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
