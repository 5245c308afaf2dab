// Getting started, step 3: connection state recovery, then every core (docs/getting-started.md).
#include <cstdio>

#include "shmio/serve.hpp"

namespace sio = shmio::socketio;

int main(int argc, char** argv) {
  shmio::ServeOptions options;
  options.name = "tutorial";
  // A client that loses its connection for up to 2 minutes gets what it missed when it comes
  // back, on whichever worker it lands (socket.io's connectionStateRecovery).
  options.server.connection_state_recovery = sio::RecoveryOptions{};
  // One worker per CPU, each pinned to its core, all on one port, joined by the ring (the same
  // as --workers auto or SHMIO_WORKERS=auto on the command line).
  options.workers = 0;
  if (auto parsed = shmio::parse_args(argc, argv, options); parsed.status != parsed.ok)
    return parsed.exit_code();

  return shmio::serve(options, [](sio::Server& io, const shmio::WorkerInfo& worker) {
    std::fprintf(stderr, "worker %d of %d on cpu %d\n", worker.index, worker.workers, worker.core);
    io.on_connection([&io](const sio::SocketPtr& socket) {
      if (socket->recovered()) std::fprintf(stderr, "%s came back\n", socket->id().c_str());
      socket->on("chat message", [&io](const sio::SocketPtr&, sio::Args args, sio::Ack) {
        io.emit("chat message", std::move(args));  // every client, on every worker
      });
    });
  });
}
