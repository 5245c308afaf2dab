#!/usr/bin/env bash
# Builds the ring microbenchmarks (Release) and runs them: 3 repetitions of each benchmark, medians
# (and mean, stddev, cv) reported, then the ratios block computed from this run.
#
# Usage: scripts/bench_ring.sh [--quick] [--cpus=0,1] [Google Benchmark flags...]
#   e.g. scripts/bench_ring.sh --cpus=0,1
#        scripts/bench_ring.sh --quick --benchmark_filter=ring_xproc
# Environment: SHMIO_BENCH_BUILD_DIR (default: build), SHMIO_JOBS (default: 2).
# Arguments after the defaults override them (e.g. --benchmark_repetitions=1).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SHMIO_BENCH_BUILD_DIR:-build}
jobs=${SHMIO_JOBS:-2}

if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHMIO_WERROR=ON
fi
# Figures from a debug or sanitizer tree would mean nothing: refuse them.
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
sanitize=$(sed -n 's/^SHMIO_SANITIZE:[A-Z]*=//p' "$dir/CMakeCache.txt")
if [ "$build_type" != "Release" ] || [ -n "$sanitize" ]; then
  echo "bench_ring.sh: $dir is a '$build_type' build (sanitizer: '${sanitize:-none}');" \
       "use a Release tree, e.g. SHMIO_BENCH_BUILD_DIR=build-bench" >&2
  exit 1
fi
ninja -C "$dir" -j "$jobs" shm_ring_bench

exec "$dir/bench/shm_ring_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true "$@"
