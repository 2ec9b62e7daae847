#!/usr/bin/env python3
"""Time the peers and `peaks detect` on every Golden/real spot case, on one machine, interleaved.

    python3 Benchmarks/reference/real_times.py [--peaks .build/release/peaks] [--reps 7]
        [--only CASE,...] [--csv Benchmarks/reference/real-times.csv] [--before OTHER_PEAKS]
        [--batch N] [--each CSV] [--in-process LIB] [--give-spot-size]

Why a second timing script: Golden/real/peers.csv records one run of each peer (the run that was
scored), on the machine and day real_peers.py ran. A single run includes first-call costs, and a
figure from another machine cannot be set beside a `peaks` time measured here. This script
measures both sides the same way, in one session, in alternation:

  peer   in-process time of one call of the peer with the issue's rule (real_common.Peer.run at
         k = 3: the band-pass, the noise estimate and the detection, everything the peer computes
         for one image); a fresh Peer object per run, so nothing is cached between runs; imports
         and one warm-up call excluded.
  peaks  wall time of the whole process `peaks detect IMAGE -o OUT.json` (start-up, read, detect,
         write), default detector and settings, one warm-up run excluded.

--batch N also times one `peaks detect` process over a list of N copies of the image (symbolic
links with distinct names: `peaks detect 'DIR/*.npy'`, a multi-file stack), as tool
"peaks-batchN", and reports its wall time divided by N: the cost per image when many images are
detected at once, where start-up, argument parsing and FFTW planning are paid once and the
detector's image-measured settings (spot scale, lattice, noise model) are measured on up to 8
sample frames and then fixed (docs/cli.md, stacks). The script checks that frame 0 of that run
reports the same peaks as the single-image run. The copies are identical, so this is the cost of
the per-frame work plus a share of that measurement, as for a stack of similar frames; images
that need different settings are one process each.

--each CSV also times one `peaks detect --each` process over all the selected cases' images (a
list of different images, each detected on its own with its own measured settings, one peak list
per file; docs/cli.md), after the per-case loop, alternating with the sum of one process per
image and with the sum of each case's fastest peer (the peer found fastest in the per-case loop,
timed again here). It checks first that every list of the --each run is byte-identical to the
single run's, and writes the totals (min and median over --reps) to CSV.

--in-process LIB also times `peaks.detect(array)` of the Python package (python/peaks, loaded with
the native library LIB, e.g. python/build/venv/lib/python3.*/site-packages/peaks/libPeaksC.so after
scripts/python-test) on the array read from the case's .npy, as tool "peaks-in-process": the same
detection as the CLI's (the script checks that it lists the CLI run's peaks), measured as the
peers are, in-process after one warm-up call (so without process start-up, argument parsing or the
first FFTW plans, which the peers' figures do not include either). This is not the issue's target
(whole process against the peer in-process); it says how much of the gap is the process.

--give-spot-size also times `peaks detect IMAGE --spot-size SIGMA -o OUT` with the case's true spot
sigma, as tool "peaks-hint": the information the peers are given, with which peaks skips its
own scale measurement (a whole process still, against the peers in-process).

--before times a second `peaks` executable (say, a build of the previous commit) in the same
loop, as tool "peaks-before", so that a change is measured against the same slow spells of a
shared machine as the peers.

Reported: min and median over --reps runs (the min is the figure least disturbed by the other
load of a shared machine; the median says how stable it was). The peers are given the true spot
size (truth.json "spot_sigma"); `peaks` is given nothing.
Needs numpy, scipy, scikit-image, photutils, trackpy and cripser (as real_peers.py).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from real_common import PEERS, RULE_K, Peer  # noqa: E402


def peer_time(img, sigma, peer):
    P = Peer(img.astype(float), sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, dt = P.run(peer, RULE_K)
    return dt


def peaks_time(peaks, path, out, extra=()):
    t0 = time.perf_counter()
    subprocess.run([peaks, "detect", path, "-o", out, *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def load_package(lib):
    """The Python package from python/ with the native library `lib`."""
    os.environ["PEAKS_LIBRARY"] = os.path.abspath(lib)
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import peaks as package  # noqa: E402
    return package


def in_process_time(package, img):
    t0 = time.perf_counter()
    found = package.detect(img)
    return time.perf_counter() - t0, found


def cli_positions(single_json):
    """The (x, y) of the peaks a `peaks detect ... -o FILE.json` run listed, in order."""
    return [(p["x"], p["y"]) for p in json.load(open(single_json))["peaks"]]


def same_positions(one, other):
    """True when two peak lists hold the same positions in the same order (x, y to 1e-9 px)."""
    return len(one) == len(other) and all(abs(a - c) <= 1e-9 and abs(b - d) <= 1e-9 for (a, b), (c, d) in zip(one, other))


def same_as_cli(single_json, found):
    """True when the in-process table lists the CLI run's peaks."""
    return same_positions(cli_positions(single_json), [(float(r["x"]), float(r["y"])) for r in found])


def same_peaks(single_json, batch_csv):
    """True when frame 0 of the batch run lists the single run's peaks."""
    with open(batch_csv) as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f) if r["frame"] == "0"]
    return same_positions(cli_positions(single_json), rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(ROOT, "Golden", "real"))
    ap.add_argument("--peaks", default=os.path.join(ROOT, ".build", "release", "peaks"))
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--csv", default=os.path.join(HERE, "real-times.csv"))
    ap.add_argument("--before", default="", help="a second peaks executable, timed in the same loop")
    ap.add_argument("--batch", type=int, default=0, help="also time one process over N copies of each image (per image)")
    ap.add_argument("--each", default="", help="CSV: also time one --each process over all the cases' images")
    ap.add_argument("--in-process", default="", help="libPeaksC.so: also time peaks.detect(array) of the Python package")
    ap.add_argument("--give-spot-size", action="store_true",
                    help="also time `peaks detect IMAGE --spot-size SIGMA` (the peers' information) as peaks-hint")
    a = ap.parse_args()
    package = load_package(a.in_process) if a.in_process else None
    cases = sorted(d for d in os.listdir(a.dir) if os.path.isfile(os.path.join(a.dir, d, "truth.json")))
    if a.only:
        cases = [c for c in cases if c in a.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "peaks.json")
        for c in cases:
            t = json.load(open(os.path.join(a.dir, c, "truth.json")))
            if t.get("task") == "center":
                continue
            path = os.path.join(a.dir, c, "image.npy")
            img = np.load(path)
            sigma = float(t["spot_sigma"])
            batch_tool = f"peaks-batch{a.batch}"
            if a.batch > 0:
                folder = os.path.join(tmp, c)
                os.makedirs(folder, exist_ok=True)
                for i in range(a.batch):
                    os.symlink(os.path.abspath(path), os.path.join(folder, f"{c}-{i:04d}.npy"))
                pattern = os.path.join(folder, "*.npy")
                batch_out = os.path.join(tmp, "batch.csv")
            # Warm-up: imports, first calls, the page cache.
            peaks_time(a.peaks, path, out)
            if a.batch > 0:
                peaks_time(a.peaks, pattern, batch_out)
                if not same_peaks(out, batch_out):
                    sys.exit(f"{c}: frame 0 of the batch run does not list the single run's peaks")
            if package is not None and not same_as_cli(out, in_process_time(package, img)[1]):
                sys.exit(f"{c}: peaks.detect does not list the CLI run's peaks")
            if a.before:  # (overwrites `out`: the checks against the single run come first)
                peaks_time(a.before, path, out)
            for peer in PEERS:
                peer_time(img, sigma, peer)
            hint = ("--spot-size", repr(sigma))
            if a.give_spot_size:
                peaks_time(a.peaks, path, out, hint)
            mine_tools = (["peaks"] + (["peaks-hint"] if a.give_spot_size else [])
                          + (["peaks-before"] if a.before else []) + ([batch_tool] if a.batch > 0 else [])
                          + (["peaks-in-process"] if package is not None else []))
            times = {p: [] for p in mine_tools + PEERS}
            for _ in range(a.reps):  # alternate, so slow spells of the machine hit every tool
                times["peaks"].append(peaks_time(a.peaks, path, out))
                if a.give_spot_size:
                    times["peaks-hint"].append(peaks_time(a.peaks, path, out, hint))
                if a.before:
                    times["peaks-before"].append(peaks_time(a.before, path, out))
                if a.batch > 0:
                    times[batch_tool].append(peaks_time(a.peaks, pattern, batch_out) / a.batch)
                if package is not None:
                    times["peaks-in-process"].append(in_process_time(package, img)[0])
                for peer in PEERS:
                    times[peer].append(peer_time(img, sigma, peer))
            for tool, ts in times.items():
                ts.sort()
                rows.append(dict(case=c, shape=f"{img.shape[1]}x{img.shape[0]}", tool=tool,
                                 min_ms=1e3 * ts[0], median_ms=1e3 * ts[len(ts) // 2], reps=a.reps))
            fastest = min((r for r in rows if r["case"] == c and r["tool"] in PEERS), key=lambda r: r["min_ms"])
            mine = next(r for r in rows if r["case"] == c and r["tool"] == "peaks")
            before = next((r for r in rows if r["case"] == c and r["tool"] == "peaks-before"), None)
            was = f"  (before {before['min_ms']:6.1f} ms, ratio {before['min_ms'] / fastest['min_ms']:.2f})" if before else ""
            batch = next((r for r in rows if r["case"] == c and r["tool"] == batch_tool), None)
            if batch:
                was += f"  (per image of {a.batch}: {batch['min_ms']:6.1f} ms, ratio {batch['min_ms'] / fastest['min_ms']:.2f})"
            hinted = next((r for r in rows if r["case"] == c and r["tool"] == "peaks-hint"), None)
            if hinted:
                was += f"  (--spot-size: {hinted['min_ms']:6.1f} ms, ratio {hinted['min_ms'] / fastest['min_ms']:.2f})"
            inside = next((r for r in rows if r["case"] == c and r["tool"] == "peaks-in-process"), None)
            if inside:
                was += f"  (in-process: {inside['min_ms']:6.1f} ms, ratio {inside['min_ms'] / fastest['min_ms']:.2f})"
            print(f"{c:22s} peaks {mine['min_ms']:6.1f} ms  fastest peer {fastest['tool']:8s} "
                  f"{fastest['min_ms']:6.1f} ms  ratio {mine['min_ms'] / fastest['min_ms']:.2f}{was}", flush=True)
        if a.each:
            each_times(a, cases, rows, tmp)
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["case", "shape", "tool", "min_ms", "median_ms", "reps"])
        for r in rows:
            w.writerow([r["case"], r["shape"], r["tool"], f"{r['min_ms']:.1f}", f"{r['median_ms']:.1f}", r["reps"]])
    print(f"wrote {a.csv}")


def each_times(a, cases, rows, tmp):
    """One `peaks detect --each` process over every case's image against one process per image
    and against each case's fastest peer, alternating; totals over the cases to a.each."""
    folder = os.path.join(tmp, "each-in")
    os.makedirs(folder)
    items = []
    for c in cases:
        t = json.load(open(os.path.join(a.dir, c, "truth.json")))
        if t.get("task") == "center":
            continue
        link = os.path.join(folder, f"{c}.npy")
        os.symlink(os.path.abspath(os.path.join(a.dir, c, "image.npy")), link)
        fastest = min((r for r in rows if r["case"] == c and r["tool"] in PEERS), key=lambda r: r["min_ms"])["tool"]
        items.append((c, link, np.load(link), float(t["spot_sigma"]), fastest))
    outdir = os.path.join(tmp, "each-out")
    one = os.path.join(tmp, "one.json")

    def each_run():
        t0 = time.perf_counter()
        subprocess.run([a.peaks, "detect", "--each", *[i[1] for i in items], "-o", outdir], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    each_run()  # warm-up, then the check: every list as the file's own run writes it
    for c, link, *_ in items:
        peaks_time(a.peaks, link, one)
        if open(one, "rb").read() != open(os.path.join(outdir, f"{c}.json"), "rb").read():
            sys.exit(f"{c}: the --each list differs from the single run's")
    totals = {"peaks --each (one process)": [], "peaks (one process per image)": [], "fastest peer per image": []}
    for _ in range(a.reps):
        totals["peaks --each (one process)"].append(each_run())
        totals["peaks (one process per image)"].append(sum(peaks_time(a.peaks, i[1], one) for i in items))
        totals["fastest peer per image"].append(sum(peer_time(i[2], i[3], i[4]) for i in items))
    with open(a.each, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["cases", "images", "tool", "total_min_ms", "total_median_ms", "per_image_min_ms", "reps"])
        for tool, ts in totals.items():
            ts.sort()
            w.writerow([" ".join(i[0] for i in items), len(items), tool, f"{1e3 * ts[0]:.1f}",
                        f"{1e3 * ts[len(ts) // 2]:.1f}", f"{1e3 * ts[0] / len(items):.1f}", a.reps])
            print(f"{tool:32s} total {1e3 * ts[0]:7.1f} ms (median {1e3 * ts[len(ts) // 2]:7.1f}), "
                  f"per image {1e3 * ts[0] / len(items):5.1f} ms", flush=True)
    print(f"wrote {a.each}")


if __name__ == "__main__":
    main()
