#!/usr/bin/env bash
# scripts/bench-bundle.sh DIR: a copy of what scripts/bench-many-cores.sh runs, for a machine with
# many cores that has neither this project's build tools nor its packages (nothing installed, no
# network): the Release binaries it needs (shm_ring_bench, shmio, shmio-loadgen) with the shared
# libraries they load that are not glibc's own, the build's CMakeCache.txt (so a Debug or sanitizer
# tree is still refused there), and Node (xz-compressed) for the Node peers. The binaries are
# reached through small wrappers in DIR/build/ that set LD_LIBRARY_PATH for them alone (the other
# machine's python3 and tools keep their own libraries).
# The Node peers' packages (bench/node/node_modules) stay where they are: copy that folder too.
#
# On the other machine, from a copy of this repository holding DIR and bench/node/node_modules:
#   DIR/env.sh OUT     # unpacks node, then runs scripts/bench-many-cores.sh OUT with the bundle
#   DIR/env.sh --check # unpacks node and runs node and shm_ring_bench once (CI does this)
# DIR must lie inside the repository (env.sh finds the scripts by their path from DIR); an
# existing DIR is replaced only if it is a bundle (holds env.sh), and only once the new one is
# whole (a run cut short leaves it as it was).
# Environment: SHMIO_BUILD_DIR (default: build; must be a Release tree without sanitizers).
set -euo pipefail
dir=${1:?usage: scripts/bench-bundle.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${SHMIO_BUILD_DIR:-$root/build}" && pwd)
die() { echo "bench-bundle.sh: $*" >&2; exit 1; }

abs=$(realpath -m "$dir")
case "$abs/" in
  "$root"/?*/) ;;
  *) die "DIR ($dir) must be a folder inside the repository ($root)" ;;
esac
case "$root/" in "$abs"/*) die "DIR ($dir) holds the repository" ;; esac
case "$build/" in "$abs"/*) die "DIR ($dir) holds the build tree $build" ;; esac
if [ -e "$abs" ] && [ ! -f "$abs/env.sh" ]; then
  die "$dir exists and is not a bundle (no env.sh): not replacing it"
fi

. "$root/scripts/release-tree.sh"
require_release_tree bench-bundle.sh "$build" || exit 1
bins=(bench/shm_ring_bench bench/shmio-loadgen server/shmio)
for b in "${bins[@]}"; do
  [ -x "$build/$b" ] || die "$build/$b is missing (build it first)"
done
node=$(node -p process.execPath 2>/dev/null) || die "no node on PATH"
[ -d "$root/bench/node/node_modules" ] ||
  die "bench/node/node_modules is missing (the Node peers: npm ci in bench/node, or run bench/e2e once)"

# glibc's own libraries: the other machine's must be used (its loader and libc go together).
is_glibc() {
  case "$(basename "$1")" in
    libc.so* | libm.so* | libmvec.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | \
      libresolv.so* | libutil.so* | libanl.so* | libnss_* | libBrokenLocale.so* | \
      libthread_db.so* | libcrypt.so*)
      return 0
      ;;
  esac
  return 1
}
deps() {  # the libraries $1 loads, one path per line; fails if one is not found
  local out
  out=$(env "${@:2}" ldd "$1") || die "ldd $1 failed"
  if grep -q 'not found' <<<"$out"; then die "$1: $(grep 'not found' <<<"$out" | head -1)"; fi
  awk '/=> \// { print $3 }' <<<"$out"
}

# Made in a folder beside DIR and moved into place at the end: a run cut short (an error, ^C)
# leaves DIR as it was, not half a bundle.
mkdir -p "$(dirname "$abs")"
stage=$(mktemp -d "$(dirname "$abs")/.$(basename "$abs").part.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build/bench" "$stage/build/server" "$stage/lib" "$stage/real"
cp "$build/CMakeCache.txt" "$stage/build/"
for f in "${bins[@]/#/$build/}" "$node"; do deps "$f"; done | sort -u | while read -r lib; do
  is_glibc "$lib" || cp -L "$lib" "$stage/lib/"
done
for b in "${bins[@]}"; do
  name=$(basename "$b")
  cp "$build/$b" "$stage/real/$name"
  cat >"$stage/build/$b" <<EOF
#!/bin/sh
# (scripts/bench-bundle.sh) $name with the bundle's libraries
here=\$(cd "\$(dirname "\$0")/../.." && pwd)
LD_LIBRARY_PATH="\$here/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
exec "\$here/real/$name" "\$@"
EOF
  chmod +x "$stage/build/$b"
done
# Every library they load, bar glibc's, now resolves into the bundle.
for f in "$stage"/real/* "$node"; do
  deps "$f" LD_LIBRARY_PATH="$stage/lib" | while read -r lib; do
    is_glibc "$lib" || [ "$(dirname "$lib")" = "$stage/lib" ] ||
      die "$f loads $lib from outside the bundle"
  done
done
if command -v xz >/dev/null; then
  xz -T2 -3 -c "$node" >"$stage/real/node.xz"
else
  python3 - "$node" "$stage/real/node.xz" <<'EOF'
import lzma, shutil, sys
with open(sys.argv[1], "rb") as src, lzma.open(sys.argv[2], "wb", preset=3) as dst:
    shutil.copyfileobj(src, dst)
EOF
fi
rel=$(realpath -m --relative-to="$abs" "$root")  # (the same from $stage: a sibling)
cat >"$stage/env.sh" <<EOF
#!/usr/bin/env bash
# Runs scripts/bench-many-cores.sh OUT with this bundle (made by scripts/bench-bundle.sh), or,
# with --check, only unpacks node and runs it and shm_ring_bench once.
set -euo pipefail
here=\$(cd "\$(dirname "\$0")" && pwd)
bin=\$(mktemp -d "\${TMPDIR:-/tmp}/shmio-bundle.XXXXXX")
trap 'rm -rf "\$bin"' EXIT
if command -v xz >/dev/null; then
  xz -dc "\$here/real/node.xz" >"\$bin/node.bin"
else
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \\
    "\$here/real/node.xz" >"\$bin/node.bin"
fi
chmod +x "\$bin/node.bin"
printf '#!/bin/sh\\nLD_LIBRARY_PATH="%s"\\nexport LD_LIBRARY_PATH\\nexec "%s" "\$@"\\n' "\$here/lib" \\
  "\$bin/node.bin" >"\$bin/node"
chmod +x "\$bin/node"
export PATH=\$bin:\$PATH SHMIO_BUILD_DIR=\$here/build
if [ "\${1:-}" = --check ]; then
  echo "node \$(node --version)"
  "\$here/build/bench/shm_ring_bench" --benchmark_filter='^base_clock_read' 2>/dev/null |
    grep '^base_clock_read'
  exit 0
fi
"\$here/$rel/scripts/bench-many-cores.sh" "\$@"
EOF
chmod +x "$stage/env.sh"
chmod 755 "$stage"  # (mktemp made it 0700)
rm -rf "$abs"
mv "$stage" "$abs"
du -sh "$abs"
