#!/usr/bin/env bash
# The stack-path figures of docs/performance.md ("Stacks"): frames/s of `peaks detect STACK`
# as one shard and as two concurrent shards (one CPU each) plus merge, CPU time / wall time,
# peak RSS for a stack and for one four times longer, and the in-process cripser loop
# (stack_cripser.py) over the same frames. Prints a Markdown table.
#
#   Benchmarks/reference/stack_bench.sh PEAKS VENV_PYTHON WORKDIR
# e.g. Benchmarks/reference/stack_bench.sh .build/release/peaks /work/venv-shards/bin/python /tmp/stk
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PEAKS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
PY=$2
W=$3
mkdir -p "$W"
cd "$W"
[ -f s512.npy ] || "$PY" "$here/make_stack.py" s512.npy 512
[ -f s2048.npy ] || "$PY" -c "
import numpy as np
a = np.load('s512.npy', mmap_mode='r')
b = np.lib.format.open_memmap('s2048.npy', mode='w+', dtype=np.float32, shape=(2048,) + a.shape[1:])
for k in range(4): b[k * 512:(k + 1) * 512] = a
b.flush()"
cat s512.npy s2048.npy > /dev/null   # in the page cache for every run

t() { /usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" "$@" > /dev/null; cat "$W/time.txt"; }
row() { # name frames "wall user sys rss"
    set -- "$1" "$2" $3
    awk -v n="$1" -v f="$2" -v w="$3" -v u="$4" -v s="$5" -v r="$6" \
        'BEGIN { printf "| %s | %d | %.2f | %.1f | %.2f | %.0f |\n", n, f, w, f / w, (u + s) / w, r / 1024 }'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); CPUs: $(nproc)"
echo
echo "| run | frames | wall s | frames/s | CPU / wall | peak RSS MB |"
echo "|---|---|---|---|---|---|"
# A 2-thread busy loop: how much of the two CPUs this machine gives right now.
cat > spin.c << 'C'
#include <pthread.h>
volatile double sink;
static void *f(void *a) { double s = 0; for (long i = 0; i < 300000000; i++) s += i * 1e-9; sink = s; return a; }
int main(void) { pthread_t t[2]; for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, f, 0); for (int i = 0; i < 2; i++) pthread_join(t[i], 0); return 0; }
C
gcc -O1 -pthread spin.c -o spin
row "control: 2-thread busy loop (not peaks)" 2 "$(t ./spin)"
for run in 1 2; do
    row "peaks detect, 1 shard, all CPUs (run $run)" 512 "$(t "$PEAKS" detect s512.npy --algo persistence -o one.csv)"
done
row "peaks detect, 1 shard, 1 CPU (taskset)" 512 "$(t taskset -c 0 "$PEAKS" detect s512.npy --algo persistence -o one1.csv)"
start=$(date +%s.%N)
taskset -c 0 "$PEAKS" detect s512.npy --algo persistence --shard 0/2 -o part-0.csv &
taskset -c 1 "$PEAKS" detect s512.npy --algo persistence --shard 1/2 -o part-1.csv &
wait
mid=$(date +%s.%N)
"$PEAKS" merge part-0.csv part-1.csv -o merged.csv
end=$(date +%s.%N)
cmp -s merged.csv one.csv && same=identical || same=DIFFERENT
awk -v s="$start" -v m="$mid" -v e="$end" -v same="$same" \
    'BEGIN { printf "| 2 shards at once (1 CPU each) + merge (%s to 1 shard) | 512 | %.2f | %.1f | | |\n", same, e - s, 512 / (e - s);
             printf "| of which merge (%d-row table) | | %.3f | | | |\n", 0, e - m }' | sed "s/(0-row/($(($(wc -l < merged.csv) - 1))-row/"
row "peaks detect, 4x longer stack" 2048 "$(t "$PEAKS" detect s2048.npy --algo persistence -o four.csv)"
row "peaks detect, 4x longer stack, 1 CPU" 2048 "$(t taskset -c 0 "$PEAKS" detect s2048.npy --algo persistence -o four1.csv)"
echo
echo "cripser (in-process Python loop, one CPU), same frames:"
"$PY" "$here/stack_cripser.py" s512.npy 128
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
