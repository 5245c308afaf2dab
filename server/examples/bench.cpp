// shmio-bench-app: the benchmark app (apps/bench.hpp: the events of docs/benchmarks.md, "The app
// every server runs") as a program of its own, on shmio's public API only. One process, or a
// cluster with --workers N; every flag of `shmio --help`.
#include "apps/bench.hpp"
#include "apps/run.hpp"

int main(int argc, char** argv) {
  return shmio::examples::run(argc, argv, shmio::examples::bench::defaults,
                              shmio::examples::bench::setup);
}
