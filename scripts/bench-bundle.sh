#!/usr/bin/env bash
# scripts/bench-bundle.sh DIR: a copy of what scripts/bench-many-cores.sh runs, for a machine with
# many cores that has neither this project's build tools nor its packages (nothing installed, no
# network): the Release binaries it needs (shm_ring_bench, shmio, shmio-loadgen) with the shared
# libraries they load that are not glibc's own, the build's CMakeCache.txt (so a Debug or sanitizer
# tree is still refused there), and Node (the `node` on PATH, xz-compressed) for the Node peers.
# The Node peers' packages (bench/node/node_modules) stay where they are: copy that folder too.
#
# On the other machine, from a copy of this repository holding DIR and bench/node/node_modules:
#   DIR/env.sh OUT   # unpacks node, then runs scripts/bench-many-cores.sh OUT with the bundle
# (DIR inside the repository, at the same place on both machines: env.sh finds the scripts by
# their path from DIR).
# Environment: SHMIO_BUILD_DIR (default: build; must be a Release tree without sanitizers).
set -euo pipefail
dir=${1:?usage: scripts/bench-bundle.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHMIO_BUILD_DIR:-$root/build}
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
sanitize=$(sed -n 's/^SHMIO_SANITIZE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ "$build_type" != Release ] || [ -n "$sanitize" ]; then
  echo "bench-bundle.sh: $build is a '$build_type' build (sanitizer: '${sanitize:-none}')" >&2
  exit 1
fi
bins=(bench/shm_ring_bench bench/shmio-loadgen server/shmio)
for b in "${bins[@]}"; do
  [ -x "$build/$b" ] || { echo "bench-bundle.sh: $build/$b is missing (build it first)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "bench-bundle.sh: no node on PATH" >&2; exit 1; }
if [ ! -d "$root/bench/node/node_modules" ]; then
  echo "bench-bundle.sh: bench/node/node_modules is missing (the Node peers: npm ci in bench/node," \
       "or run bench/e2e once)" >&2
  exit 1
fi

rm -rf "$dir"
mkdir -p "$dir/build/bench" "$dir/build/server" "$dir/lib"
for b in "${bins[@]}"; do cp "$build/$b" "$dir/build/$b"; done
cp "$build/CMakeCache.txt" "$dir/build/"
# Every library the binaries and node load, but glibc's (the other machine's own must be used:
# its loader and libc go together); libstdc++ and libgcc_s travel, as the binaries were linked
# against these versions.
for f in "${bins[@]/#/$build/}" "$(command -v node)"; do
  ldd "$f" | awk '/=> \// { print $3 }'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libresolv.so*) ;;
    *) cp -L "$lib" "$dir/lib/" ;;
  esac
done
if command -v xz >/dev/null; then
  xz -T2 -3 -c "$(command -v node)" >"$dir/node.xz"
else
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(open(sys.argv[1], "rb"), lzma.open(sys.argv[2], "wb", preset=3))' \
    "$(command -v node)" "$dir/node.xz"
fi
rel=$(realpath -m --relative-to="$dir" "$root")
cat >"$dir/env.sh" <<EOF
#!/usr/bin/env bash
# Runs scripts/bench-many-cores.sh OUT with this bundle (made by scripts/bench-bundle.sh).
set -euo pipefail
here=\$(cd "\$(dirname "\$0")" && pwd)
mkdir -p /tmp/shmio-bundle-bin
if command -v xz >/dev/null; then
  xz -dc "\$here/node.xz" >/tmp/shmio-bundle-bin/node
else
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \
    "\$here/node.xz" >/tmp/shmio-bundle-bin/node
fi
chmod +x /tmp/shmio-bundle-bin/node
export PATH=/tmp/shmio-bundle-bin:\$PATH LD_LIBRARY_PATH=\$here/lib SHMIO_BUILD_DIR=\$here/build
exec "\$here/$rel/scripts/bench-many-cores.sh" "\$@"
EOF
chmod +x "$dir/env.sh"
du -sh "$dir"
