// The configuration the Socket.IO v5 protocol document's test suite expects (port 3000,
// pingInterval 300, pingTimeout 200, maxPayload 1e6, connectTimeout 1000, CORS *, the "/custom"
// namespace, the "auth" / "message-back" / ack handlers), plus "/secure", whose middleware refuses
// a CONNECT without auth {"token":"ok"}. Written only against shmio's public headers; run by
// examples/conformance.cpp (shmio-conformance) and `shmio --app conformance`.
#pragma once

#include <chrono>

#include "shmio/serve.hpp"

namespace shmio::examples::conformance {

namespace sio = shmio::socketio;
namespace json = boost::json;

// The suite's settings, before the command line's flags (which may override them).
inline void defaults(ServeOptions& options) {
  using namespace std::chrono_literals;
  options.name = "conformance";
  options.server.engine.ping_interval = 300ms;
  options.server.engine.ping_timeout = 200ms;
  options.server.engine.max_payload = 1'000'000;
  options.server.connect_timeout = 1000ms;
  options.server.cors_origin = "*";
}

inline void setup(sio::Server& io, const WorkerInfo&) {
  auto greet = [](const sio::SocketPtr& s) {
    s->emit("auth", sio::Args{json::value(s->handshake().auth)});
    s->on("message", [](const sio::SocketPtr& s2, sio::Args args, sio::Ack) {
      s2->emit("message-back", std::move(args));
    });
    s->on("message-with-ack", [](const sio::SocketPtr&, sio::Args args, sio::Ack ack) {
      if (ack) ack(std::move(args));
    });
    // Not in the protocol suite: lets tests see a server-side disconnect ("io server disconnect").
    s->on("disconnect-me", [](const sio::SocketPtr& s2, sio::Args args, sio::Ack) {
      const bool close =
          !args.values.empty() && args.values[0].is_bool() && args.values[0].get_bool();
      s2->disconnect(close);
    });
  };
  io.on_connection(greet);
  io.of("/custom").on_connection(greet);
  io.of("/secure").use([](const sio::SocketPtr& s, sio::Next next) {
    const json::value* token = s->handshake().auth.if_contains("token");
    if (token != nullptr && token->is_string() && token->get_string() == "ok") return next({});
    next(sio::ConnectError{"unauthorized", json::object{{"reason", "bad token"}}});
  });
  io.of("/secure").on_connection(greet);
}

}  // namespace shmio::examples::conformance
