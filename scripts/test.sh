#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything (Release, -Werror) and
# runs every test through ctest. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
cd build
ctest --output-on-failure --timeout 900 "$@"
