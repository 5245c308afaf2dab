// Getting started, step 1: a page and a Socket.IO server on one port (docs/getting-started.md).
#include <cstdio>

#include "shmio/serve.hpp"

namespace sio = shmio::socketio;

const char* kPage = R"(<!doctype html>
<html><body>
  <ul id="messages"></ul>
  <form id="form"><input id="input" autocomplete="off"><button>Send</button></form>
  <script src="https://cdn.socket.io/4.8.4/socket.io.min.js"></script>
  <script>
    const socket = io();
  </script>
</body></html>)";

int main(int argc, char** argv) {
  shmio::ServeOptions options;
  options.name = "tutorial";
  // The page, beside Socket.IO on the same port. (The client bundle comes from socket.io's CDN
  // here; with the socket.io-client npm package installed, options.server.serve_client =
  // "node_modules/socket.io-client" (or --serve-client DIR) serves it at /socket.io/socket.io.js,
  // as the chat demo does.)
  options.server.routes = [](const shmio::engineio::ServerOptions::HttpRequest& r)
      -> std::optional<shmio::engineio::ServerOptions::HttpResponse> {
    if (r.method == "GET" && r.path == "/") return {{200, "text/html; charset=utf-8", kPage, {}}};
    return std::nullopt;
  };
  if (auto parsed = shmio::parse_args(argc, argv, options); parsed.status != parsed.ok)
    return parsed.exit_code();

  return shmio::serve(options, [](sio::Server& io, const shmio::WorkerInfo&) {
    io.on_connection([](const sio::SocketPtr& socket) {
      std::fprintf(stderr, "a user connected\n");
      socket->on_disconnect([](const sio::SocketPtr&, const std::string& reason) {
        std::fprintf(stderr, "user disconnected (%s)\n", reason.c_str());
      });
    });
  });
}
