#!/usr/bin/env bash
# scripts/bench-many-cores.sh OUT_DIR: the measurements that need a machine with many cores (16
# or more), in one run of eleven minutes at most (every part at its limit; where one command may
# take only ten, E2E_TIMEOUT=240), from binaries already built:
#   1. the machine (CPUs, model, kernel, /dev/shm, descriptor limit);
#   2. shm_ring_bench over every CPU with many producer and reader processes
#      (--shapes: 1p1r, 1p4r, 1p15r, 2p2r, 4p4r, 8p8r, 4p12r, 15p1r) and its baselines;
#   2b. the shapes with several producers again, through one shared ring and through a ring per
#      producer (RingSetReader readers), back to back: docs/ring-per-worker.md's question;
#   3. scripts/bench_ring_targets.sh --runs=TARGET_RUNS (default 10): issue 14's ratios (1P -> 1R
#      against moodycamel, one-way latency against the cache-line ping-pong) as back-to-back pairs;
#   4. bench/e2e --quick --only-scaling: fan-out knees of shmio and of Node's cluster adapter on
#      1, 2, 4, 8 and 16 workers (SCALING=1,2,4 to choose others).
# Binaries come from SHMIO_BUILD_DIR (default build/); nothing is built or installed (bench/e2e
# --no-build; the Node peers must already be in bench/node/node_modules and `node` on PATH).
# For a machine without the build tools: scripts/bench-bundle.sh.
# Each part has its own time limit (RING_TIMEOUT 180 s, RPP_TIMEOUT 60 s, TARGETS_TIMEOUT 120 s,
# E2E_TIMEOUT 300 s)
# and writes into OUT_DIR as it goes, so a part cut short still leaves what it measured; a part
# that fails does not stop the next (no `set -e`), and the script exits 1 if any part failed,
# naming them last.
set -uo pipefail
out=${1:?usage: scripts/bench-many-cores.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${SHMIO_BUILD_DIR:-$root/build}" 2>/dev/null && pwd) || {
  echo "bench-many-cores.sh: no build tree at ${SHMIO_BUILD_DIR:-$root/build}" >&2
  exit 1
}
[ -x "$build/bench/shm_ring_bench" ] || {
  echo "bench-many-cores.sh: $build/bench/shm_ring_bench is missing (build it first)" >&2
  exit 1
}
mkdir -p "$out" || exit 1
failed=()
part() {  # part NAME STATUS: says the part's exit status and remembers a failure
  echo "$1: exit $2"
  [ "$2" -eq 0 ] || failed+=("$1 ($2)")
}

{
  echo "== machine"
  date -u
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  uname -srm
  echo "descriptors: soft $(ulimit -Sn), hard $(ulimit -Hn)"
  df -h /dev/shm | tail -1
  command -v lscpu >/dev/null && lscpu | grep -E '^(Thread|Core|Socket|NUMA node\(s\)|L3)'
} 2>&1 | tee "$out/machine.txt"

echo "== ring: shm_ring_bench, many producers and readers"
shapes=1p1r,1p4r,1p15r,2p2r,4p4r,8p8r,4p12r,15p1r
timeout -k 5 "${RING_TIMEOUT:-180}" "$build/bench/shm_ring_bench" --shapes=$shapes \
  --benchmark_filter=-ring_per_producer 2>&1 | tee "$out/ring.txt"
part ring $?

echo "== ring: a ring per producer against one shared ring, the same shapes"
timeout -k 5 "${RPP_TIMEOUT:-60}" "$build/bench/shm_ring_bench" --shapes=$shapes \
  --benchmark_filter='ring_xproc/[0-9]+p[0-9]+r/64B/poll(/ring_per_producer)?/iter' 2>&1 |
  tee "$out/ring-per-producer.txt"
part "ring per producer" $?

echo "== ring: issue 14's ratios as back-to-back pairs"
SHMIO_BENCH_BUILD_DIR=$build timeout -k 5 "${TARGETS_TIMEOUT:-120}" \
  "$root/scripts/bench_ring_targets.sh" --no-build --runs="${TARGET_RUNS:-10}" 2>&1 |
  tee "$out/ring-targets.txt"
part "ring targets" $?

echo "== end to end: scaling over workers"
timeout -k 10 "${E2E_TIMEOUT:-300}" python3 "$root/bench/e2e" --quick --only-scaling \
  --scaling "${SCALING:-1,2,4,8,16}" --connections 0 --no-build --build-dir "$build" \
  --out "$out/e2e" > "$out/e2e.txt" 2> "$out/e2e-steps.txt"
part e2e $?
grep -v '^  ' "$out/e2e.txt" | tail -8
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench-many-cores.sh: failed: ${failed[*]}" >&2
  exit 1
fi
