#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
jobs=${SHMIO_JOBS:-2}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DSHMIO_WERROR=ON "$@"
elif [ $# -gt 0 ]; then
  cmake "$dir" "$@" >/dev/null
fi
ninja -C "$dir" -j "$jobs"
