#!/usr/bin/env bash
# The chaos suite for as long as you like: scripts/chaos.sh SECONDS [more chaos.mjs options]
# (default 300; CI runs 15 s through ctest's chaos_short). Random workers of a 3-worker cluster
# are SIGKILLed, SIGSTOPped and continued under load while real socket.io clients (WebSocket,
# polling, polling-then-upgrade) check every message; prints a JSON summary, exits non-zero on
# any failure. Replay a run with --seed N (the summary names it). See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
# (Checked before the set-up and the build: chaos.mjs refuses it too.)
# (At most 9 digits before the comparison: test's -lt fails on numbers past its range, and that
# failure read as "in range".)
if ! [[ $seconds =~ ^[0-9]{1,9}$ ]] || ((10#$seconds < 1)); then
  echo "chaos.sh: SECONDS must be a whole number of seconds, 1..999999999 (got '$seconds')" >&2
  exit 2
fi
scripts/setup.sh
scripts/build.sh
SHMIO_BIN=build/server/shmio exec node tests/chaos/chaos.mjs --seconds "$seconds" "$@"
