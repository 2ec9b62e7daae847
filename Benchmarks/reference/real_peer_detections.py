#!/usr/bin/env python3
"""Write the best rule-based peer's detections for every Golden/real spot case.

    python3 Benchmarks/reference/real_peer_detections.py [--dir Golden/real]

For each case the peer is the one whose "rule k=3" row in peers.csv is best (highest F1, then
lowest RMSE: the peer the floors of Tests/PersistenceTests/RealCorpusTests come from). It is run
again with the same call (real_common.Peer.run at k = 3) and its detections are written to
Golden/real/CASE/best-peer.csv (columns x, y: column and row, 0-based, pixel centres at whole
numbers), so that the tests can compare positions object by object without Python: on the
objects that both peaks and the peer find, whose RMSE is lower? (The RMSE over all matches
favours the tool that finds fewer, easier objects.) The script checks that the run reproduces
the F1 and RMSE recorded in peers.csv before writing.
Needs the peers (as real_peers.py).
"""
import argparse
import csv
import json
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from real_common import RULE_K, Peer  # noqa: E402
from run_peaks_real import peers  # noqa: E402  (the best peer per case, as the floors choose it)
from score_peaks import score  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(ROOT, "Golden", "real"))
    a = ap.parse_args()
    best = {case: v for (case, kind), v in peers(a.dir).items() if kind == "rule"}
    for case in sorted(best):
        f1, rmse, peer, _ = best[case]
        t = json.load(open(os.path.join(a.dir, case, "truth.json")))
        img = np.load(os.path.join(a.dir, case, "image.npy"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xy, _ = Peer(img.astype(float), float(t["spot_sigma"])).run(peer, RULE_K)
        s = score(xy, [(p["x"], p["y"]) for p in t["peaks"]], [(p["x"], p["y"]) for p in t["ignore"]],
                  float(t["tolerance"]))
        if abs(s["f1"] - f1) > 1e-3 or (s["tp"] and abs(s["rmse"] - rmse) > 1e-3):
            sys.exit(f"{case}: {peer} gives F1 {s['f1']:.4f} RMSE {s['rmse']:.4f}, peers.csv says {f1:.4f} {rmse:.4f}")
        out = os.path.join(a.dir, case, "best-peer.csv")
        with open(out + ".tmp", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["x", "y"])
            for x, y in xy:
                w.writerow([f"{x:.4f}", f"{y:.4f}"])
        os.replace(out + ".tmp", out)
        print(f"{case:22s} {peer:8s} F1 {s['f1']:.3f} RMSE {s['rmse']:.3f} ({len(xy)} detections) -> {out}")


if __name__ == "__main__":
    main()
