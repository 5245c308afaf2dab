#!/usr/bin/env bash
# The soak run (not in CI): scripts/soak.sh MINUTES (default 30). The chaos suite's cluster and
# clients with mixed load (the checked stream in one room, joins and leaves of ten other rooms,
# publishes to them, a broadcast with acks every second, WebSocket, polling and upgrading clients)
# and a kill, double kill or stop of worker 1 or 2 every 20-40 s; worker 0 and the supervisor
# live the whole run. Every 10 s: their RSS and descriptors, and every worker's ring lag. Writes
# build/soak/{samples.jsonl,summary.json,soak.png}; exits non-zero if any chaos check failed.
# docs/reliability.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
shift || true
# (Checked before the set-up and the build: "abc" became a run of 0 s after them, "1.5" an
# arithmetic error.)
if ! [[ $minutes =~ ^[0-9]{1,6}$ ]] || ((10#$minutes == 0)); then
  echo "soak.sh: MINUTES must be a whole number of minutes, 1 or more (got '$minutes')" >&2
  exit 2
fi
minutes=$((10#$minutes))
scripts/setup.sh
scripts/build.sh
out=${SOAK_OUT:-build/soak}
mkdir -p "$out"
if ! command -v gnuplot >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  # (Lists refreshed first: setup.sh refreshes them only when it installs something.)
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    gnuplot-nox >/dev/null
fi
rc=0
rm -f "$out/samples.jsonl"  # (an earlier run's is not this one's)
SHMIO_BIN=${SHMIO_BIN:-build/server/shmio} node tests/chaos/chaos.mjs --seconds $((minutes * 60)) \
  --soak "$out/samples.jsonl" "$@" >"$out/summary.json" || rc=$?
cat "$out/summary.json"
if [ ! -s "$out/samples.jsonl" ]; then
  # (The run ended before its first sample: its own status, not the plot's failure.)
  echo "soak: no samples (the chaos run exited $rc before its first)" >&2
  exit $((rc == 0 ? 1 : rc))
fi
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/samples.jsonl") if l.strip()]
with open(f"{out}/samples.dat", "w") as f:
    for r in rows:
        lag = r.get("lag", {})
        f.write(" ".join(str(x) for x in [
            r["t"] / 60, (r.get("worker0_rss") or 0) / 2**20, (r.get("supervisor_rss") or 0) / 2**20,
            r.get("worker0_fds") or 0, r.get("supervisor_fds") or 0,
            max(lag.values()) / 1024 if lag else 0]) + "\n")
PY
gnuplot <<EOF2
set terminal pngcairo size 900,900 noenhanced
set output "$out/soak.png"
set multiplot layout 3,1 title "shmio soak: $minutes min, 3 workers (workers 1-2 killed/stopped every 20-40 s)"
set xlabel "minutes"; set grid
set ylabel "RSS (MiB)"; plot "$out/samples.dat" u 1:2 w l t "worker 0", "" u 1:3 w l t "supervisor"
set ylabel "descriptors"; plot "$out/samples.dat" u 1:4 w l t "worker 0", "" u 1:5 w l t "supervisor"
set ylabel "ring lag, max over workers (KiB)"; plot "$out/samples.dat" u 1:6 w l t "lag"
unset multiplot
EOF2
echo "soak: $out/soak.png"
exit $rc
