#!/usr/bin/env bash
# The io_uring flush against the sendmsg flush, end to end, in one run (issue 10, item 4):
# `shmio --app bench` (one process) serving 1,000 WebSocket subscribers of one room, a publisher
# at fixed rates (one broadcast = 1,000 deliveries), run alternately with io_uring (the default)
# and with --no-io-uring, REPEAT times each; prints server CPU per delivery (user + sys, from
# /proc, as bench/e2e measures it) and p99 for each, medians, and the ratio io_uring / sendmsg.
#   bench/flush_e2e.sh [RATES (default "40 200 500")] [REPEAT (default 3)] [SECONDS (default 4)]
# Needs a build (scripts/build.sh). Figures from a 2-vCPU VM are noisy: compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-"40 200 500"}
repeat=${2:-3}
secs=${3:-4}
build=${SHMIO_BUILD_DIR:-build}
shmio=$build/server/shmio
loadgen=$build/bench/shmio-loadgen
[ -x "$shmio" ] && [ -x "$loadgen" ] || { echo "flush_e2e: build first (scripts/build.sh)" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

busy() {  # jiffies all CPUs spent busy (user nice system irq softirq steal), from /proc/stat
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

run() {  # run MODE RATE -> "cpu user sys p99 machine"
  local mode=$1 rate=$2 port extra=()
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  [ "$mode" = sendmsg ] && extra=(--no-io-uring)
  "$shmio" --app bench --port "$port" "${extra[@]}" > /dev/null 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05  # waiting for the server to listen (bounded: 5 s), not a synchronisation stand-in
  done
  local b0 b1 out
  b0=$(busy)
  out=$("$loadgen" --port "$port" --server-pid "$pid" --mode fanout --clients 1000 --rooms 1 \
    --publishers 1 --rate "$rate" --duration "$secs" --payload 64 2>/dev/null)
  b1=$(busy)
  # The whole machine's busy CPU per delivery (server, load generator, and the kernel's softirq
  # work wherever it ran — ksoftirqd included), beside the server's own.
  B="$b0 $b1 $(getconf CLK_TCK)" python3 -c 'import json,os,sys
r = json.loads(sys.stdin.read())
b0, b1, hz = map(float, os.environ["B"].split())
d = max(r.get("delivered", 0), 1)
print(r.get("cpu_us_per_delivery", 0), r.get("user_us_per_delivery", 0), r.get("sys_us_per_delivery", 0), r.get("p99_us", 0) / 1000, (b1 - b0) / hz * 1e6 / d)' <<< "$out"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "machine: %s, %s vCPU\n" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(nproc)"
printf "| rate (x1,000 deliveries/s) | flush | server CPU us/deliv | user | sys | machine CPU us/deliv | p99 ms |\n|---|---|---|---|---|---|---|\n"
for rate in $rates; do
  declare -A cpu=() usr=() sys=() p99=() mach=()
  for _ in $(seq "$repeat"); do
    for mode in io_uring sendmsg; do
      read -r c u s p w < <(run "$mode" "$rate")
      cpu[$mode]+="$c "; usr[$mode]+="$u "; sys[$mode]+="$s "; p99[$mode]+="$p "; mach[$mode]+="$w "
    done
  done
  for mode in io_uring sendmsg; do
    m() { tr ' ' '\n' <<< "$1" | grep -v '^$' | median; }
    printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.1f |\n" "$rate" "$mode" "$(m "${cpu[$mode]}")" \
      "$(m "${usr[$mode]}")" "$(m "${sys[$mode]}")" "$(m "${mach[$mode]}")" "$(m "${p99[$mode]}")"
  done
  a=$(tr ' ' '\n' <<< "${cpu[io_uring]}" | grep -v '^$' | median)
  b=$(tr ' ' '\n' <<< "${cpu[sendmsg]}" | grep -v '^$' | median)
  c=$(tr ' ' '\n' <<< "${mach[io_uring]}" | grep -v '^$' | median)
  d=$(tr ' ' '\n' <<< "${mach[sendmsg]}" | grep -v '^$' | median)
  python3 -c "print(f'| {$rate} | io_uring / sendmsg | {($a)/($b):.2f}x | | | {($c)/($d):.2f}x | |')"
  unset cpu usr sys p99 mach
done
