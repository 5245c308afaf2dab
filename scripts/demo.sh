#!/usr/bin/env bash
# The main job: the Socket.IO tutorial's chat demo, served by a shmio cluster: one pinned worker
# per CPU, all on one port, joined by the shared-memory ring. Open the printed address in two
# browser tabs and chat (they may land on different workers); close one tab's network for a while
# and it recovers what it missed (connection state recovery, on any worker). Ctrl-C drains the
# workers and removes the ring.
# Usage: scripts/demo.sh [PORT] (default: $SHMIO_PORT, else 3000). SHMIO_HOST=0.0.0.0 (or ::) to
# serve other machines; SHMIO_WORKERS=N for another worker count (default: one per CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-${SHMIO_PORT:-3000}}
host=${SHMIO_HOST:-127.0.0.1}
host=${host#[}  # (an IPv6 address given in brackets, as in a URL: shmio takes it bare)
host=${host%]}
workers=${SHMIO_WORKERS:-auto}
# (Checked before the set-up and the build, which take minutes the first time; shmio checks them
# again, with the host's own rule.)
# (At most 5 digits before the comparison: test's -gt fails on numbers past its range, and that
# failure read as "in range".)
# (Not 0: the address said below is the one to open; shmio would pick a port and say it later.)
if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port > 65535 || 10#$port < 1)); then
  echo "demo.sh: PORT must be a port number, 1..65535 (got '$port')" >&2; exit 2
fi
if ! [[ $workers == auto || $workers =~ ^[1-9][0-9]*$ ]]; then
  echo "demo.sh: SHMIO_WORKERS must be auto or a number of workers (got '$workers')" >&2; exit 2
fi
if ! [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then
  echo "demo.sh: SHMIO_HOST must be an IPv4 or IPv6 address (got '$host')" >&2; exit 2
fi
scripts/setup.sh --demo
SHMIO_BUILD_QUIET=1 scripts/build.sh build  # (its output only if it fails)
case "$host" in  # (an address to open: a wildcard's own machine, an IPv6 one in brackets)
  0.0.0.0) shown=127.0.0.1 ;;
  ::) shown='[::1]' ;;
  *:*) shown="[$host]" ;;
  *) shown=$host ;;
esac
echo "demo: built; the chat is at http://$shown:$port/ (open it in two tabs; Ctrl-C stops)"
exec build/server/shmio --app chat --host "$host" --port "$port" --workers "$workers"
