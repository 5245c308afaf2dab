#!/bin/sh
# Runs a command with a tmpfs of its own over /dev/shm (size=48m, huge=advise) in a private mount
# namespace, so that tests can see what a ring does where the mount allows huge pages on advice
# and where /dev/shm fills up, without touching the machine's /dev/shm (the namespace, and the
# mount with it, go away when the command ends). Needs root, or user namespaces that allow
# mounts; where neither is at hand it says why and exits 77 (ctest: skipped) — or 1 when
# SHMIO_REQUIRE_PRIVATE_SHM=1 (CI on a machine known to allow it, so the tests cannot silently
# stop running).
#   tests/shm/private_shm.sh <command> [args...]
set -u
if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi
skip() {
  echo "SKIP: $1" >&2
  if [ "${SHMIO_REQUIRE_PRIVATE_SHM:-0}" = 1 ]; then
    echo "(SHMIO_REQUIRE_PRIVATE_SHM=1: failing instead)" >&2
    exit 1
  fi
  exit 77
}
command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is not installed"
mount_cmd='mount -t tmpfs -o size=48m,huge=advise,mode=1777 shmio-test-shm /dev/shm'
why=""
for ns in "--mount --propagation private" \
          "--user --map-root-user --mount --propagation private"; do
  # shellcheck disable=SC2086  # $ns is a list of options
  if err=$(unshare $ns sh -c "$mount_cmd" 2>&1); then
    # shellcheck disable=SC2086
    exec unshare $ns sh -c "$mount_cmd || exit 1
      SHMIO_TEST_PRIVATE_SHM=huge exec \"\$@\"" sh "$@"
  fi
  why="$why
  unshare $ns: $err"
done
skip "cannot mount a private tmpfs over /dev/shm here (needs root or user namespaces):$why"
