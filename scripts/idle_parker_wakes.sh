#!/bin/bash
# How often a reader parked on a ring made for one producer wakes while that producer, in another
# process, is idle between records (docs/ring.md "Exclusive producers", X7): a consumer waits on
# an exclusive ring while a producer publishes one 64 B record a second; printed: the consumer's
# voluntary context switches over the producer's life (about one per record, and one more, when
# the parker sleeps whole; about a thousand a second of the producer's idle time when it sleeps
# 1 ms slices).
#   scripts/idle_parker_wakes.sh [BUILD_DIR] [RECORDS]   (default build, 4)
set -euo pipefail
cd "$(dirname "$0")/.."  # (BUILD_DIR relative to the repository, as every script's)
build=${1:-build}
records=${2:-4}
demo="$build/tools/ring-demo"
[[ -x $demo ]] || { echo "no $demo: build first (scripts/build.sh or ninja -C $build)" >&2; exit 1; }
name="idle-parker-$$"
"$demo" create --name "$name" --exclusive >/dev/null
consumer=""
cleanup() {
  [[ -n $consumer ]] && kill "$consumer" 2>/dev/null || true
  "$demo" remove --name "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# (One record more than is published: the consumer still waits when the producer is done.)
"$demo" consume --name "$name" --count $((records + 1)) --timeout-ms 600000 >/dev/null &
consumer=$!
switches() {
  awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$consumer/status" 2>/dev/null ||
    { echo "the consumer ended early" >&2; exit 1; }
}
before=$(switches)
start=$(date +%s.%N)
"$demo" produce --name "$name" --count "$records" --size 64 --rate 1 >/dev/null
after=$(switches)
end=$(date +%s.%N)
echo "a parked consumer of an exclusive ring, its producer idle between $records records at 1/s:" \
  "$((after - before)) voluntary context switches in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') s"
