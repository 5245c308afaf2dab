// shmio-conformance: the Socket.IO protocol test suite's server (apps/conformance.hpp) as a program
// of its own, on shmio's public API only. One process, or a cluster with --workers N; every flag of
// `shmio --help`.
#include "apps/conformance.hpp"
#include "apps/run.hpp"

int main(int argc, char** argv) {
  return shmio::examples::run(argc, argv, shmio::examples::conformance::defaults,
                              shmio::examples::conformance::setup);
}
