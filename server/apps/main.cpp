// shmio: runs one of the apps on the Socket.IO server.
//
//   shmio --app chat|conformance|bench [--port P] [--host H] [--chat-dir DIR]
//
// chat: the Socket.IO tutorial's chat: serves index.html and the client bundle at
//   /socket.io/socket.io.js (from the socket.io-client npm package that scripts/setup.sh installs
//   in server/apps/chat), and broadcasts every "chat message" to everyone; connection state
//   recovery is on (a client that drops and comes back gets what it missed).
// conformance: the configuration the Socket.IO v5 protocol document's test suite expects (port
//   3000, pingInterval 300, pingTimeout 200, maxPayload 1e6, connectTimeout 1000, CORS *, the
//   "/custom" namespace, the "auth" / "message-back" / ack handlers), plus "/secure", whose
//   middleware refuses a CONNECT without auth {"token":"ok"}.
// bench: the app every benchmarked server runs (../shared/bench-app.md).
// (Connection state recovery for the chat and --workers come with the rest of issues #3 and #4.)
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "shmio/socketio/server.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const char* kUsage =
    "usage: shmio --app chat|conformance|bench [--port P] [--host H] [--chat-dir DIR]\n"
    "  chat         the Socket.IO tutorial's chat demo (open http://H:P/ in two browsers)\n"
    "  conformance  the Socket.IO protocol test suite's server configuration\n"
    "  bench        the benchmark app (join/leave/whoami/echo/publish/publish-others/count)\n"
    "  --port P     TCP port (default 3000; 0 picks a free one, printed on start)\n"
    "  --host H     address to bind (default 127.0.0.1)\n"
    "  --chat-dir D the chat's files (default: server/apps/chat of the source tree)\n"
    "  --ping-interval MS, --ping-timeout MS, --connect-timeout MS\n"
    "               override the app's heartbeat and connect timeout (socket.io's defaults:\n"
    "               25000, 20000, 45000; the conformance app uses 300, 200, 1000)\n";

std::shared_ptr<const std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::make_shared<const std::string>(ss.str());
}

// Loads the page and the client bundle once; false (with a message) if they are missing.
bool chat(sio::ServerOptions& options, const std::string& dir) {
  auto page = read_file(dir + "/index.html");
  auto bundle = read_file(dir + "/node_modules/socket.io-client/dist/socket.io.js");
  if (!page || !bundle) {
    std::fprintf(stderr,
                 "shmio: the chat needs %s/index.html and the socket.io-client bundle in\n"
                 "  %s/node_modules (run scripts/setup.sh, which runs npm ci there)\n",
                 dir.c_str(), dir.c_str());
    return false;
  }
  options.static_files = [page, bundle](const std::string& path)
      -> std::optional<shmio::engineio::ServerOptions::StaticResponse> {
    if (path == "/" || path == "/index.html") return {{"text/html; charset=UTF-8", page}};
    if (path == "/socket.io/socket.io.js")
      return {{"application/javascript; charset=UTF-8", bundle}};
    return std::nullopt;
  };
  return true;
}

void chat_handlers(sio::Server& io) {
  io.on_connection([&io](const sio::SocketPtr& s) {
    s->on("chat message", [&io](const sio::SocketPtr&, sio::Args args, sio::Ack ack) {
      if (args.values.empty()) return;
      // Forward the message as it came, binary attachments included.
      io.emit("chat message", sio::Args(json::array{args.values[0]}, std::move(args.binaries)));
      if (ack) ack({});
    });
  });
}

void conformance(sio::Server& io) {
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

void bench(sio::Server& io) {
  const json::value pid = static_cast<std::int64_t>(::getpid());
  io.on_connection([&io, pid](const sio::SocketPtr& s) {
    auto who = [pid] { return json::object{{"worker", 0}, {"pid", pid}}; };
    s->on("join", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->join(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    s->on("leave", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->leave(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    s->on("whoami", [who](const sio::SocketPtr& s2, sio::Args, sio::Ack ack) {
      json::object o = who();
      o["id"] = s2->id();
      if (ack) ack(sio::Args{o});
    });
    s->on("echo", [](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (ack) ack(std::move(a));
    });
    auto publish = [&io](bool others) {
      return [&io, others](const sio::SocketPtr& s2, sio::Args a, sio::Ack) {
        if (a.values.size() < 2) return;
        const json::value room = a.values[0];
        sio::Args payload(json::array{a.values[1]}, std::move(a.binaries));
        if (room.is_string()) {
          const std::string r(room.get_string());
          if (others)
            s2->to(r).emit("msg", std::move(payload));
          else
            io.to(r).emit("msg", std::move(payload));
        } else {
          if (others)
            s2->broadcast().emit("msg", std::move(payload));
          else
            io.emit("msg", std::move(payload));
        }
      };
    };
    // Not in bench-app.md: n volatile (or plain) broadcasts to everyone in a burst, for tests.
    s->on("burst", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t n =
          a.values.size() > 0 && a.values[0].is_int64() ? a.values[0].get_int64() : 0;
      const bool vol = a.values.size() > 1 && a.values[1].is_bool() && a.values[1].get_bool();
      for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 100000); ++i) {
        if (vol)
          sio::BroadcastOperator(io.of("/"), {}).volatile_().emit("v", sio::Args{i});
        else
          io.emit("v", sio::Args{i});
      }
      if (ack) ack({});
    });
    // Not in bench-app.md: a broadcast with acks to every socket (for tests); answers the caller
    // with {error, responses}.
    s->on("ask-all", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t ms =
          !a.values.empty() && a.values[0].is_int64() ? a.values[0].get_int64() : 1000;
      sio::BroadcastOperator(io.of("/"), {})
          .timeout(std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000)))
          .emit_with_ack(
              "question", {}, [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
                json::array responses;
                for (auto& r : rs)
                  responses.push_back(r.values.empty() ? json::value() : r.values[0]);
                if (ack)
                  ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                             {"responses", std::move(responses)}}});
              });
    });
    // Not in bench-app.md: io.except(room).emit, for tests.
    s->on("publish-except", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string())
        io.of("/")
            .except(std::string(a.values[0].get_string()))
            .emit("msg", sio::Args{a.values[1]});
      if (ack) ack({});
    });
    s->on("publish", publish(false));
    s->on("publish-others", publish(true));
    s->on("count", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
      if (ack) ack(sio::Args{static_cast<std::uint64_t>(io.of("/").fetch_sockets().size())});
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string app, host = "127.0.0.1", chat_dir = SHMIO_CHAT_DIR;
  long ping_interval = -1, ping_timeout = -1, connect_timeout = -1;
  auto millis = [](const char* v, long& out) {
    char* end = nullptr;
    out = std::strtol(v, &end, 10);
    return *end == '\0' && out >= 1 && out <= 3'600'000;
  };
  long port = 3000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--app" && v != nullptr) {
      app = v;
      ++i;
    } else if ((a == "--ping-interval" || a == "--ping-timeout" || a == "--connect-timeout") &&
               v != nullptr) {
      long& target = a == "--ping-interval"  ? ping_interval
                     : a == "--ping-timeout" ? ping_timeout
                                             : connect_timeout;
      if (!millis(v, target)) {
        std::fprintf(stderr, "shmio: %s must be 1..3600000 ms\n%s", a.c_str(), kUsage);
        return 2;
      }
      ++i;
    } else if (a == "--chat-dir" && v != nullptr) {
      chat_dir = v;
      ++i;
    } else if (a == "--host" && v != nullptr) {
      host = v;
      ++i;
    } else if (a == "--port" && v != nullptr) {
      char* end = nullptr;
      port = std::strtol(v, &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "shmio: --port must be 0..65535\n%s", kUsage);
        return 2;
      }
      ++i;
    } else {
      std::fprintf(stderr, "shmio: unknown or incomplete option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  sio::ServerOptions options;
  if (app == "conformance") {
    options.engine.ping_interval = 300ms;
    options.engine.ping_timeout = 200ms;
    options.engine.max_payload = 1'000'000;
    options.connect_timeout = 1000ms;
    options.cors_origin = "*";
  } else if (app == "chat") {
    if (!chat(options, chat_dir)) return 1;
    options.connection_state_recovery = sio::RecoveryOptions{};
  } else if (app != "bench") {
    std::fprintf(stderr, "shmio: --app must be chat, conformance or bench\n%s", kUsage);
    return 2;
  }
  if (ping_interval > 0) options.engine.ping_interval = std::chrono::milliseconds(ping_interval);
  if (ping_timeout > 0) options.engine.ping_timeout = std::chrono::milliseconds(ping_timeout);
  if (connect_timeout > 0) options.connect_timeout = std::chrono::milliseconds(connect_timeout);
  boost::asio::io_context ctx;
  sio::Server io(ctx, options);
  if (app == "conformance") {
    conformance(io);
  } else if (app == "chat") {
    chat_handlers(io);
  } else {
    bench(io);
  }
  std::uint16_t bound = 0;
  try {
    bound = io.listen(host, static_cast<std::uint16_t>(port));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: cannot listen on %s:%ld: %s\n", host.c_str(), port, e.what());
    return 1;
  }
  std::printf("shmio (%s) listening on %s:%u\n", app.c_str(), host.c_str(), bound);
  std::fflush(stdout);
  boost::asio::signal_set signals(ctx, SIGINT, SIGTERM);
  // On SIGINT/SIGTERM every client gets "server shutting down"; the close packets are written
  // before the loop stops (a short, bounded grace period).
  boost::asio::steady_timer grace(ctx);
  signals.async_wait([&](const boost::system::error_code&, int) {
    io.close();
    grace.expires_after(200ms);
    grace.async_wait([&](const boost::system::error_code&) { ctx.stop(); });
  });
  ctx.run();
  return 0;
}
