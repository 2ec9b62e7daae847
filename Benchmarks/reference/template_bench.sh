#!/usr/bin/env bash
# The `template` stack figures of docs/performance.md: `peaks detect SCAN --algo template` on
# 64 x 64 scans (4,096 frames) of 64^2, 128^2 and 256^2 frames, whole process, for the
# whole-frame search (the issue's command) and for the search near a given position
# (`-p positions=C,C`, C = size / 2: blobfinder's process_frames_fast), refine=com and
# refine=upsample (k = 20). Best of REPS runs by wall time; prints a Markdown table with
# frames/s, the CPU time (user + sys) and peak RSS of that run. Then, with a Python that has
# libertem-blobfinder, blobfinder_upsampling.py on the same files.
#
#   Benchmarks/reference/template_bench.sh PEAKS WORKDIR [VENV_PYTHON] [REPS]
# e.g. Benchmarks/reference/template_bench.sh .build/release/peaks /tmp/tm /work/venv-tmpl/bin/python 3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PEAKS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
W=$2
PY=${3:-}
REPS=${4:-3}
mkdir -p "$W"
cd "$W"
for s in 64 128 256; do
    [ -f d$s/data.npy ] || "$PEAKS" generate --class disc-scan --scan 64x64 --size $s --out d$s > /dev/null
    cat d$s/data.npy > /dev/null   # in the page cache for every run
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); CPUs: $(nproc)"
echo
echo "| frames | search | refine | wall s | frames/s | CPU s (user + sys) | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
for s in 64 128 256; do
    c=$((s / 2))
    for mode in frame near; do
        extra=()
        [ $mode = near ] && extra=(-p positions=$c,$c)
        for r in com upsample; do
            best=""
            for _ in $(seq "$REPS"); do
                /usr/bin/time -f "%e %U %S %M" -o time.txt "$PEAKS" detect d$s/data.npy --algo template -p radius=6 \
                    -p num_peaks=1 -p refine=$r -p upsample=20 "${extra[@]}" -o out-$s-$mode-$r.csv
                line=$(cat time.txt)
                if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] < y[1]) }'; then
                    best=$line
                fi
            done
            awk -v s=$s -v m=$mode -v r=$r -v l="$best" 'BEGIN {
                split(l, t, " ");
                printf "| 4,096 x %d^2 | %s | %s | %.2f | %.0f | %.2f | %.1f |\n", s, (m == "near" ? "near " s/2 "," s/2 : "whole frame"), r, t[1], 4096 / t[1], t[2] + t[3], t[4] / 1024 }'
        done
    done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$PY" ]; then
    "$PY" "$here/blobfinder_upsampling.py" --speed d64 d128 d256
fi
