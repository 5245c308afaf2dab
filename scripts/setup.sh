#!/usr/bin/env bash
# Installs what shmio needs on Debian 12, and only what is missing. Idempotent: a second run
# installs nothing. Used by scripts/demo.sh and scripts/test.sh; safe to run by hand.
# Usage: scripts/setup.sh [--demo]
#   --demo  only what building and running the chat demo takes (scripts/demo.sh): not the test
#           tools (clang's sanitizer runtimes, Chromium, redis-server, python3 and the Python
#           Socket.IO client), nor the e2e tests' npm packages.
# redis-server is installed for its binary (the tests start their own on a free port): where this
# script installs it on a machine run by systemd, the service Debian's package starts and enables
# is stopped and disabled again; one that was installed before is left as it was.
set -euo pipefail

demo=false
case "${1:-}" in
  "") ;;
  --demo) demo=true ;;
  *) echo "usage: scripts/setup.sh [--demo]" >&2; exit 2 ;;
esac

PACKAGES=(
  g++ cmake ninja-build ccache pkg-config curl
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libconcurrentqueue-dev googletest libgtest-dev libbenchmark-dev liburing-dev
  libhiredis-dev
)
# (python3-socketio with the two its client's transports need: the Python client test.)
$demo || PACKAGES+=(redis-server clang libclang-rt-14-dev chromium python3 python3-socketio
                    python3-requests python3-websocket)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js runs the end-to-end tests with the real clients: any node >= 18 will do (Debian's
# nodejs package if none is installed; ctest node_engines keeps every pinned package on 18).
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)  # (a node without its npm: the pinned packages could not be installed)
fi
if ! $demo && command -v node >/dev/null 2>&1 &&
   ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null; then
  echo "setup: node $(node --version 2>/dev/null) is older than 18, which the tests' clients" \
       "need: remove it (Debian 12's nodejs, 18, is then installed) or put a newer one first" \
       "on PATH" >&2
  exit 1
fi

install_node_packages() {
  # Pinned npm packages (each folder's package-lock.json): the clients of the e2e tests, and the
  # browser bundle the chat demo serves. Reinstalled when a lock file changed since the last run.
  local dir dirs=(tests/e2e server/apps/chat)
  $demo && dirs=(server/apps/chat)
  for dir in "${dirs[@]}"; do
    if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
       [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "setup: npm ci in $dir"
      if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "setup: npm ci failed in $dir (is the npm registry reachable?)" >&2
        exit 1
      fi
    fi
  done
}

cd "$(dirname "$0")/.."

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all Debian packages present"
  install_node_packages
  exit 0
fi

echo "setup: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
  echo "setup: run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# (Through sudo as `env`: sudo's default env_reset drops the export, and apt would ask its
# questions interactively.)
if [ "${#SUDO[@]}" -gt 0 ]; then SUDO+=(env DEBIAN_FRONTEND=noninteractive); fi
if ! "${SUDO[@]}" apt-get update -qq; then
  echo "setup: apt-get update failed; check the network and /etc/apt/sources.list" >&2
  exit 1
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "setup: apt-get install failed for: ${missing[*]}" >&2
  echo "setup: shmio needs Debian 12 (bookworm), which has Boost 1.81 as libboost1.81-dev" >&2
  exit 1
fi
if [[ " ${missing[*]} " == *" redis-server "* ]] && [ -d /run/systemd/system ] &&
   command -v systemctl >/dev/null 2>&1; then
  # (Installed here for the tests' own servers: not left running on port 6379 and at boot.)
  "${SUDO[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
  echo "setup: installed redis-server for its binary; its system service is stopped and disabled"
fi
install_node_packages
echo "setup: done"
