#!/usr/bin/env bash
# tests/package/check.sh BUILD_DIR: shmio as a library, from outside its tree (ctest
# package_consumer). Installs BUILD_DIR into a temporary prefix, then
#   1. configures, builds and runs tests/package/consumer against it (find_package(shmio));
#   2. compiles and runs a program against the same prefix with pkg-config (shmio.pc);
#   3. configures, builds and runs the consumer with shmio's source tree through add_subdirectory
#      (only the libraries are built: no tests, benchmarks or tools, so GoogleTest, Google
#      Benchmark and concurrentqueue are not needed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: check.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/shmio-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== install into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/lib/cmake/shmio/shmioConfig.cmake"
test -x "$tmp/prefix/bin/shm-inspect"

echo "== 1. find_package(shmio) from the installed prefix"
cmake -S "$here/consumer" -B "$tmp/consumer" "${gen[@]}" "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" -j2 >/dev/null
"$tmp/consumer/consumer"
# shmio::redis where hiredis was there at build time (it is in CI: scripts/setup.sh installs it).
if grep -q "^SHMIO_WITH_HIREDIS:INTERNAL=ON" "$build/CMakeCache.txt"; then
  "$tmp/consumer/consumer_redis"
fi
# A component this package does not have fails the consumer's configure, naming it.
mkdir -p "$tmp/no-such"
cat > "$tmp/no-such/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(no_such LANGUAGES CXX)
find_package(shmio 0.1 CONFIG REQUIRED COMPONENTS socketio no_such_part)
CMAKE
if cmake -S "$tmp/no-such" -B "$tmp/no-such/b" "${gen[@]}" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  >"$tmp/no-such.log" 2>&1; then
  echo "find_package(shmio COMPONENTS no_such_part) was configured"; exit 1
fi
grep -q "no_such_part" "$tmp/no-such.log" || { cat "$tmp/no-such.log"; exit 1; }

# A dependency found at build time and missing now (pkg-config sees nothing here): an optional
# find_package(shmio QUIET) leaves shmio_FOUND false and the consumer configures on (before
# 2026-12-06 pkg_check_modules(... REQUIRED) stopped its configure with a FATAL_ERROR).
if grep -Eq "^SHMIO_WITH_(LIBURING|HIREDIS):INTERNAL=ON" "$build/CMakeCache.txt"; then
  mkdir -p "$tmp/optional" "$tmp/empty-pc"
  cat > "$tmp/optional/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(optional LANGUAGES CXX)
find_package(shmio CONFIG QUIET)
message(STATUS "shmio_FOUND=${shmio_FOUND}")
CMAKE
  PKG_CONFIG_LIBDIR="$tmp/empty-pc" PKG_CONFIG_PATH="" \
    cmake -S "$tmp/optional" -B "$tmp/optional/b" "${gen[@]}" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    >"$tmp/optional.log" 2>&1 || { cat "$tmp/optional.log"; exit 1; }
  grep -q "shmio_FOUND=\(0\|FALSE\)$" "$tmp/optional.log" || { cat "$tmp/optional.log"; exit 1; }
fi

echo "== 2. pkg-config shmio"
cat > "$tmp/ring.cpp" <<'CPP'
#include <cstdio>
#include "shmio/cluster/wire.hpp"
#include "shmio/shm/segment.hpp"
int main() {
  // A symbol of the cluster library and one of the ring's: linked through shmio.pc alone.
  const auto p = shmio::cluster::position_of(shmio::cluster::offset_of(7));
  std::printf("pkg-config: ok (%s, position %llu)\n", shmio::shm::Segment::object_name("x").c_str(),
              static_cast<unsigned long long>(p.value_or(0)));
  return p == 7u ? 0 : 1;
}
CPP
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046
${CXX:-c++} -std=c++20 -O1 "$tmp/ring.cpp" -o "$tmp/ring" $(pkg-config --cflags --libs shmio)
"$tmp/ring"

echo "== 2b. shmio.pc names a Boost the compiler does not find by itself"
# The system's Boost packages seen from another prefix (its CMake files copied, headers and
# libraries linked), as a Boost of one's own build would be: configuring shmio against it (no
# build) writes its include and library directories into shmio.pc.
boost_cmake=$(dirname "$(sed -n 's/^Boost_DIR:PATH=//p' "$build/CMakeCache.txt")")
boost_lib=$(dirname "$boost_cmake")
fake="$tmp/boost"
for rel in ../../include ../../../include; do
  [ -f "$boost_cmake/$rel/boost/version.hpp" ] && inc_rel=$rel && break
done
if [ -n "${inc_rel:-}" ]; then
  mkdir -p "$fake$boost_cmake" "$fake$boost_cmake/$inc_rel"
  cp -r "$boost_cmake"/Boost-* "$boost_cmake"/BoostDetectToolset-* "$boost_cmake"/boost_headers-* \
    "$boost_cmake"/boost_json-* "$fake$boost_cmake/"
  ln -s "$(cd "$boost_cmake/$inc_rel" && pwd)/boost" "$fake$boost_cmake/$inc_rel/boost"
  for f in "$boost_lib"/libboost_json*; do ln -s "$f" "$fake$boost_lib/"; done
  fake_inc=$(cd "$fake$boost_cmake/$inc_rel" && pwd)
  cmake -S "$root" -B "$tmp/fake-boost" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DSHMIO_BUILD_TESTS=OFF -DSHMIO_BUILD_BENCH=OFF -DSHMIO_BUILD_TOOLS=OFF \
    -DBoost_DIR="$(ls -d "$fake$boost_cmake"/Boost-*)" >"$tmp/fake-boost.log" 2>&1 ||
    { cat "$tmp/fake-boost.log"; exit 1; }
  grep -q "^Cflags: .* -I$fake_inc\$" "$tmp/fake-boost/shmio.pc" &&
    grep -q "^Libs: .* -L$fake$boost_lib -lboost_json" "$tmp/fake-boost/shmio.pc" ||
    { echo "shmio.pc does not name the Boost it was configured with:"; cat "$tmp/fake-boost/shmio.pc"; exit 1; }
  # The system's Boost needs no flags of its own (pkg-config --cflags above gave none).
  if grep -q -- "-I/usr/include" "$build/shmio.pc"; then
    echo "shmio.pc names the compiler's own include directory"; exit 1
  fi
else
  echo "(skipped: Boost's CMake files at $boost_cmake are not in a known layout)"
fi

echo "== 3. add_subdirectory(shmio source tree)"
cmake -S "$here/consumer" -B "$tmp/sub" "${gen[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DSHMIO_SOURCE_DIR="$root" >"$tmp/sub.log"
if grep -Eq "^(GTest|benchmark)_DIR|concurrentqueue" "$tmp/sub/CMakeCache.txt"; then
  echo "add_subdirectory: the consumer's configure looked for test or benchmark packages"; exit 1
fi
cmake --build "$tmp/sub" -j2 >/dev/null
"$tmp/sub/consumer"
if [ -x "$tmp/sub/consumer_redis" ]; then "$tmp/sub/consumer_redis"; fi
# A consumer that chose no build type keeps none (shmio's Release default is for itself only).
cmake -S "$here/consumer" -B "$tmp/sub-default" "${gen[@]}" -DSHMIO_SOURCE_DIR="$root" >/dev/null
if ! grep -q "^CMAKE_BUILD_TYPE:STRING=$" "$tmp/sub-default/CMakeCache.txt"; then
  echo "add_subdirectory: shmio set the consumer's build type:"
  grep "^CMAKE_BUILD_TYPE" "$tmp/sub-default/CMakeCache.txt"; exit 1
fi
echo "package: ok"
