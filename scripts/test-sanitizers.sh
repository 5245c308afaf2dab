#!/usr/bin/env bash
# The sanitizer variants: an ASan+UBSan build running every test, and a TSan build running the
# in-process concurrency tests (TSan does not follow forked children).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
scripts/build.sh build-asan -DSHMIO_SANITIZE=address -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHMIO_BUILD_BENCH=OFF -DSHMIO_BUILD_TOOLS=OFF
(cd build-asan && ctest --output-on-failure --timeout 900)
scripts/build.sh build-tsan -DSHMIO_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHMIO_BUILD_BENCH=OFF -DSHMIO_BUILD_TOOLS=OFF
(cd build-tsan && ctest --output-on-failure --timeout 900 -L concurrency)
