// Getting started, step 2: emit, broadcast, acknowledgements and rooms (docs/getting-started.md).
#include "shmio/serve.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;

int main(int argc, char** argv) {
  shmio::ServeOptions options;
  options.name = "tutorial";
  if (auto parsed = shmio::parse_args(argc, argv, options); parsed.status != parsed.ok)
    return parsed.exit_code();

  return shmio::serve(options, [](sio::Server& io, const shmio::WorkerInfo&) {
    io.on_connection([&io](const sio::SocketPtr& socket) {
      // socket.emit: to this client only.
      socket->emit("welcome", sio::Args{"hello " + socket->id()});

      // io.emit: to everyone (on every worker of a cluster). The client's acknowledgement
      // callback, if it passed one, gets "ok".
      socket->on("chat message", [&io](const sio::SocketPtr&, sio::Args args, sio::Ack ack) {
        io.emit("chat message", std::move(args));
        if (ack) ack(sio::Args{"ok"});
      });

      // Rooms: join one, then broadcast to it, except to the sender.
      socket->on("join", [](const sio::SocketPtr& self, sio::Args args, sio::Ack ack) {
        if (args.values.empty() || !args.values[0].is_string()) return;
        self->join(std::string(args.values[0].get_string()));
        if (ack) ack(sio::Args{true});
      });
      socket->on("to room", [](const sio::SocketPtr& self, sio::Args args, sio::Ack) {
        if (args.values.size() < 2 || !args.values[0].is_string()) return;
        const std::string room(args.values[0].get_string());
        args.values.erase(args.values.begin());  // the rest go on, with the binaries they name
        self->to(room).emit("chat message", std::move(args));
      });
    });
  });
}
