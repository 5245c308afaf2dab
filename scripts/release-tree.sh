# Sourced by the benchmark scripts: require_release_tree WHO DIR fails (with WHO's message) unless
# DIR's CMakeCache.txt is a Release build without sanitizers: figures from a debug or sanitizer
# tree would mean nothing.
require_release_tree() {
  local who=$1 dir=$2 build_type sanitize
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    echo "$who: $dir has no CMakeCache.txt: not a build tree" >&2
    return 1
  fi
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
  sanitize=$(sed -n 's/^SHMIO_SANITIZE:[A-Z]*=//p' "$dir/CMakeCache.txt")
  if [ "$build_type" != Release ] || [ -n "$sanitize" ]; then
    echo "$who: $dir is a '$build_type' build (sanitizer: '${sanitize:-none}');" \
         "use a Release tree, e.g. SHMIO_BENCH_BUILD_DIR=build-bench" >&2
    return 1
  fi
}
