#!/usr/bin/env bash
# Phase-1 question of issue 16 item 1: is a request written by hand on a
# libcurl CONNECT_ONLY connection (bench/raw.c, signed-size request) cheaper
# than the libcurl keep-alive POST loop (bench/floor.c)?  Both against the
# benchmark's nginx, client and nginx on one CPU (BENCH_CPU, default 1),
# interleaved rounds; prints the medians per round and over all rounds.
#   bench/raw_floor.sh [ROUNDS] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
ncalls=${2:-2000}
WORK=$(mktemp -d /tmp/awl-rawfloor.XXXXXX)
PIN="taskset -c ${BENCH_CPU:-1}"
. bench/nginx.sh
make -s -C bench OUT="$WORK"
start_nginx
trap 'stop_nginx; rm -rf "$WORK"' EXIT
url="$static/2015-03-31/functions/lambdaTest/invocations"
med() { /usr/bin/python3 -c 'import statistics, sys; print(f"{statistics.median(float(l) for f in sys.argv[1:] for l in open(f) if l.strip()):.1f}")' "$@"; }
for r in $(seq "$rounds"); do
  $PIN "$WORK/floor" "$url" "$ncalls" "$WORK/floor.$r"
  $PIN "$WORK/raw" "$url" "$ncalls" "$WORK/raw.$r"
  echo "round $r: floor $(med "$WORK/floor.$r") us, raw $(med "$WORK/raw.$r") us"
done
f=$(med "$WORK"/floor.*); w=$(med "$WORK"/raw.*)
echo "all: floor $f us, raw $w us, raw/floor $(/usr/bin/python3 -c "print(f'{$w/$f:.2f}')")"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg))"
