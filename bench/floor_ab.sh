#!/usr/bin/env bash
# shmio against the one-send() floor at identical published rates, alternately, REPEAT times:
# one message per socket per turn (a single publisher, one broadcast at a time), 1,000
# subscribers, `shmio --app bench` (one process) and `shmio-loadgen --mode floor-server`.
# Prints each run's server CPU per delivery (user + sys, /proc) and p99, and the medians' ratio.
#   bench/floor_ab.sh [RATES (default "40 100")] [REPEAT (default 3)] [SECONDS (default 6)]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-"40 100"}
repeat=${2:-3}
secs=${3:-6}
build=${SHMIO_BUILD_DIR:-build}
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT INT TERM
run() {  # run shmio|floor RATE -> "cpu user sys p99_ms"
  local port pid
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$1" = floor ]; then
    "$build/bench/shmio-loadgen" --mode floor-server --port "$port" > /dev/null 2>&1 &
  else
    "$build/server/shmio" --app bench --port "$port" > /dev/null 2>&1 &
  fi
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05  # waiting for the server to listen (bounded: 5 s)
  done
  "$build/bench/shmio-loadgen" --port "$port" --server-pid "$pid" --mode fanout --clients 1000 \
    --rooms 1 --publishers 1 --rate "$2" --duration "$secs" --payload 64 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["cpu_us_per_delivery"], r["user_us_per_delivery"], r["sys_us_per_delivery"], r["p99_us"] / 1000)'
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU"
for rate in $rates; do
  s_all=""; f_all=""
  for _ in $(seq "$repeat"); do
    s=$(run shmio "$rate"); f=$(run floor "$rate")
    echo "rate $rate  shmio: $s   floor: $f   (CPU us/deliv, user, sys, p99 ms)"
    s_all+="${s%% *} "; f_all+="${f%% *} "
  done
  python3 -c "import statistics as st; s=[float(x) for x in '$s_all'.split()]; f=[float(x) for x in '$f_all'.split()]; print(f'rate $rate: median shmio {st.median(s):.2f} us, floor {st.median(f):.2f} us per delivery: shmio / floor = {st.median(s)/st.median(f):.2f}x')"
done
