#!/bin/sh
# Runs a command with a tmpfs of its own over /dev/shm (size=48m, huge=advise) in a private mount
# namespace, so that tests can see what a ring does where the mount allows huge pages on advice
# and where /dev/shm fills up — without touching the machine's /dev/shm. Needs root (or a user
# namespace that allows mounts); where neither is at hand it exits 77, which ctest reports as
# skipped.
#   tests/shm/private_shm.sh <command> [args...]
set -u
if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi
if ! command -v unshare >/dev/null 2>&1; then
  echo "SKIP: unshare (util-linux) is not installed" >&2
  exit 77
fi
try() {
  unshare "$@" sh -c 'mount -t tmpfs -o size=48m,huge=advise,mode=1777 shmio-test-shm /dev/shm' \
    >/dev/null 2>&1
}
if try --mount --propagation private; then
  ns="--mount --propagation private"
elif try --user --map-root-user --mount --propagation private; then
  ns="--user --map-root-user --mount --propagation private"
else
  echo "SKIP: cannot mount a private tmpfs over /dev/shm here (needs root or user namespaces)" >&2
  exit 77
fi
# shellcheck disable=SC2086  # $ns is a list of options
exec unshare $ns sh -c '
  mount -t tmpfs -o size=48m,huge=advise,mode=1777 shmio-test-shm /dev/shm || exit 1
  SHMIO_TEST_PRIVATE_SHM=huge exec "$@"' sh "$@"
