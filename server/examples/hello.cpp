// hello: a complete application written only against shmio's public API (shmio/serve.hpp), the
// way a user writes their own: Socket.IO events with acks and broadcasts, rooms, connection state
// recovery, its own HTTP endpoints beside Socket.IO on the same port, its own log format; one
// process or a cluster with shmio's flags (hello --workers auto --port 8080, or SHMIO_WORKERS=4).
//
//   events: "hello" (ack: {"worker": I, "workers": N}), "chat" (sent to everyone, on every
//           worker), "join" ROOM (ack: true), "to" ROOM MSG (sent to that room)
//   HTTP:   GET /hello -> {"hello": "world", "worker": I}; POST /echo -> the body, as sent
//   stop:   "bye" I to each client of the worker, before the drain disconnects it
// Tested by tests/e2e/serve.test.mjs (ctest e2e_serve).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "shmio/serve.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;

namespace {
int g_worker = 0;  // this process's worker index (each worker is a process of its own)
}  // namespace

int main(int argc, char** argv) {
  shmio::ServeOptions options;
  options.name = "hello";
  options.server.connection_state_recovery = sio::RecoveryOptions{};
  // The app's log format: every line of every worker (the library's too) through one function.
  options.log = [](int worker, std::string_view line) {
    ::dprintf(shmio::stderr_fd(), "hello[%d] %.*s\n", worker, static_cast<int>(line.size()),
              line.data());
  };
  // HTTP endpoints of the app's own, on the Socket.IO port (the worker that accepted the
  // connection answers); anything else goes on to /health, /metrics, then 404.
  options.server.routes = [](const shmio::engineio::ServerOptions::HttpRequest& r)
      -> std::optional<shmio::engineio::ServerOptions::HttpResponse> {
    if (r.method == "GET" && r.path == "/hello")
      return {{200,
               "application/json",
               json::serialize(json::object{{"hello", "world"}, {"worker", g_worker}}),
               {}}};
    if (r.method == "POST" && r.path == "/echo")
      return {{200,
               "text/plain; charset=utf-8",
               std::string(r.body),
               {{"X-Worker", std::to_string(g_worker)}}}};
    return std::nullopt;
  };
  // The app's own stop (SIGTERM, or its cluster stopping): a last word to this worker's clients
  // before they are told "server shutting down".
  options.on_stop = [](sio::Server& io, const shmio::WorkerInfo& w) {
    io.of("/").local().emit("bye", sio::Args{w.index});
    std::fprintf(stderr, "worker %d of %d stopping\n", w.index, w.workers);
  };
  const shmio::ParseResult parsed = shmio::parse_args(argc, argv, options);
  if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();

  return shmio::serve(options, [](sio::Server& io, const shmio::WorkerInfo& w) {
    g_worker = w.index;
    io.on_connection([&io, w](const sio::SocketPtr& s) {
      s->on("hello", [w](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{json::object{{"worker", w.index}, {"workers", w.workers}}});
      });
      s->on("chat",
            [&io](const sio::SocketPtr&, sio::Args a, sio::Ack) { io.emit("chat", std::move(a)); });
      s->on("join", [](const sio::SocketPtr& self, sio::Args a, sio::Ack ack) {
        if (!a.values.empty() && a.values[0].is_string())
          self->join(std::string(a.values[0].get_string()));
        if (ack) ack(sio::Args{true});
      });
      s->on("to", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack) {
        if (a.values.size() < 2 || !a.values[0].is_string()) return;
        const std::string room(a.values[0].get_string());
        a.values.erase(a.values.begin());  // the rest go on, with the binaries they name
        io.to(room).emit("to", std::move(a));
      });
    });
    std::fprintf(stderr, "worker %d of %d ready\n", w.index, w.workers);
  });
}
