#!/usr/bin/env bash
# The main job: the Socket.IO tutorial's chat demo, served by shmio. Open the printed address in
# two browser tabs and chat; close one tab's network for a while and it recovers what it missed
# (connection state recovery). Ctrl-C stops it.
# Usage: scripts/demo.sh [PORT] (default 3000). SHMIO_HOST=0.0.0.0 to serve other machines.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-3000}
host=${SHMIO_HOST:-127.0.0.1}
scripts/setup.sh
scripts/build.sh build >/dev/null
echo "demo: built; the chat is at http://$host:$port/ (open it in two tabs; Ctrl-C stops)"
exec build/server/shmio --app chat --host "$host" --port "$port"
