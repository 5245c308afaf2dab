// Getting started, step 2: emit, broadcast, acknowledgements and rooms (docs/getting-started.md).
#include "shmio/serve.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;

// Step 1's page with the chat's client side: the form emits "chat message", and every
// "chat message" the server sends is added to the list (as text: never as HTML).
const char* kPage = R"(<!doctype html>
<html><body>
  <ul id="messages"></ul>
  <form id="form"><input id="input" autocomplete="off"><button>Send</button></form>
  <script src="https://cdn.socket.io/4.8.4/socket.io.min.js"></script>
  <script>
    const socket = io();
    const form = document.getElementById("form");
    const input = document.getElementById("input");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.value) socket.emit("chat message", input.value);
      input.value = "";
    });
    socket.on("chat message", (msg) => {
      const item = document.createElement("li");
      item.textContent = msg;
      document.getElementById("messages").appendChild(item);
    });
  </script>
</body></html>)";

int main(int argc, char** argv) {
  shmio::ServeOptions options;
  options.name = "tutorial";
  options.server.routes = [](const shmio::engineio::ServerOptions::HttpRequest& r)
      -> std::optional<shmio::engineio::ServerOptions::HttpResponse> {
    if (r.method == "GET" && r.path == "/") return {{200, "text/html; charset=utf-8", kPage, {}}};
    return std::nullopt;
  };
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

      // Rooms: join one, then broadcast to it, except to the sender. (The acknowledgement
      // says whether it joined: a client waiting on it is always answered.)
      socket->on("join", [](const sio::SocketPtr& self, sio::Args args, sio::Ack ack) {
        const bool named = !args.values.empty() && args.values[0].is_string();
        if (named) self->join(std::string(args.values[0].get_string()));
        if (ack) ack(sio::Args{named});
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
