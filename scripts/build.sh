#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args]
# SHMIO_BUILD_QUIET=1: nothing printed unless it fails, then the log's last 40 lines (the demos:
# a first build runs for minutes, and a failure must still show why).
set -euo pipefail
if [ "${SHMIO_BUILD_QUIET:-0}" = 1 ]; then
  log=$(mktemp)
  if SHMIO_BUILD_QUIET=0 "$0" "$@" >"$log" 2>&1; then
    rm -f "$log"
    exit 0
  fi
  tail -n 40 "$log" >&2
  echo "build: failed (the lines above; whole log: $log)" >&2
  exit 1
fi
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
jobs=${SHMIO_JOBS:-2}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DSHMIO_WERROR=ON "$@"
else
  # (Configured again each time, a fraction of a second: what was missing when the tree was made
  # is looked for again — redis-server and python3 after scripts/demo.sh's smaller setup, whose
  # tests were otherwise left out of ctest without a word.)
  cmake "$dir" "$@" >/dev/null
fi
ninja -C "$dir" -j "$jobs"
