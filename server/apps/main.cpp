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
//
// With --workers N the app runs as a cluster (issue #4): a supervisor process owns the ring and
// forks N workers, each pinned to a CPU, all serving the port (SO_REUSEPORT), joined by the ring
// (docs/cluster.md). Every worker also answers GET /health and GET /metrics (Prometheus text).
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "shmio/serve.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const char* kUsage =
    "usage: shmio --app chat|conformance|bench [--chat-dir DIR] [shmio's flags, below]\n"
    "  chat         the Socket.IO tutorial's chat demo (open http://H:P/ in two browsers)\n"
    "  conformance  the Socket.IO protocol test suite's server configuration (pingInterval 300,\n"
    "               pingTimeout 200, connectTimeout 1000, CORS *; the flags override them)\n"
    "  bench        the benchmark app (join/leave/whoami/echo/publish/publish-others/count)\n"
    "  --chat-dir D the chat's files (default: server/apps/chat of the source tree, or\n"
    "               share/shmio/chat of an installed shmio)\n";

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

void bench(sio::Server& io, int worker) {
  const json::value pid = static_cast<std::int64_t>(::getpid());
  // Not in bench-app.md: a server-side event, answered by every other worker (for tests).
  io.of("/").on_server_side("ping-workers",
                            [worker](sio::Args, std::function<void(sio::Args)> ack) {
                              ack(sio::Args{json::value(worker)});
                            });
  // The events are registered once on the namespace, not per socket (Namespace::on_event):
  // every connection shares one handler table, which keeps an idle connection small.
  sio::Namespace& nsp = io.of("/");
  {
    auto who = [pid, worker] { return json::object{{"worker", worker}, {"pid", pid}}; };
    nsp.on_event("join", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->join(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    nsp.on_event("leave", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->leave(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    nsp.on_event("whoami", [who](const sio::SocketPtr& s2, sio::Args, sio::Ack ack) {
      json::object o = who();
      o["id"] = s2->id();
      if (ack) ack(sio::Args{o});
    });
    nsp.on_event("echo", [](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (ack) ack(std::move(a));
    });
    auto publish = [&io](bool others) {
      // Acknowledged when asked (the chaos suite's publishers: published to the ring when the
      // ack comes).
      return [&io, others](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
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
        if (ack) ack({});
      };
    };
    // Not in bench-app.md: n volatile (or plain) broadcasts to everyone in a burst, for tests.
    nsp.on_event("burst", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
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
    nsp.on_event("ask-all", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
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
    nsp.on_event("publish-except", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string())
        io.of("/")
            .except(std::string(a.values[0].get_string()))
            .emit("msg", sio::Args{a.values[1]});
      if (ack) ack({});
    });
    nsp.on_event("publish", publish(false));
    nsp.on_event("publish-others", publish(true));
    nsp.on_event("count", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
      sio::BroadcastOperator(io.of("/"), {})
          .fetch_sockets([ack](std::vector<sio::RemoteSocket> all) {
            if (ack) ack(sio::Args{static_cast<std::uint64_t>(all.size())});
          });
    });
    // Not in bench-app.md (for tests): the cluster-wide operations.
    nsp.on_event("fetch", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      sio::BroadcastOperator op(io.of("/"), {});
      if (!a.values.empty() && a.values[0].is_string())
        op = std::move(op).to(std::string(a.values[0].get_string()));
      op.fetch_sockets([ack](std::vector<sio::RemoteSocket> all) {
        json::array out;
        for (const auto& r : all) {
          json::array rooms;
          for (const auto& room : r.rooms()) rooms.emplace_back(room);
          out.push_back(json::object{{"id", r.id()}, {"rooms", std::move(rooms)}});
        }
        if (ack) ack(sio::Args{std::move(out)});
      });
    });
    nsp.on_event("sockets-join", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string() && a.values[1].is_string())
        io.of("/")
            .to(std::string(a.values[0].get_string()))
            .sockets_join(std::string(a.values[1].get_string()));
      if (ack) ack({});
    });
    nsp.on_event("disconnect-room", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (ack) ack({});
      if (!a.values.empty() && a.values[0].is_string())
        io.of("/").to(std::string(a.values[0].get_string())).disconnect_sockets(false);
    });
    nsp.on_event("ping-workers", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t ms =
          !a.values.empty() && a.values[0].is_int64() ? a.values[0].get_int64() : 2000;
      io.of("/").server_side_emit_with_ack(
          "ping-workers", {}, std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000)),
          [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
            json::array workers;
            for (auto& r : rs) workers.push_back(r.values.empty() ? json::value() : r.values[0]);
            if (ack)
              ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                         {"workers", std::move(workers)}}});
          });
    });
    nsp.on_event("server-count", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
      if (ack) ack(sio::Args{static_cast<std::uint64_t>(io.of("/").server_count())});
    });
  }
}

// The chat's files: the source tree's (a build run in place), else <prefix>/share/shmio/chat
// beside an installed binary's bin/.
std::string default_chat_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(fs::path(SHMIO_CHAT_DIR) / "index.html", ec)) return SHMIO_CHAT_DIR;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return SHMIO_CHAT_DIR;
  const fs::path installed = exe.parent_path().parent_path() / SHMIO_CHAT_INSTALL_DIR;
  return fs::exists(installed / "index.html", ec) ? installed.string() : SHMIO_CHAT_DIR;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(shmio::usage_text(), stdout);
      return 0;
    }
  }
  // The app first: its settings are defaults that the flags override.
  std::string app, chat_dir = default_chat_dir();
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--app") app = argv[i + 1];
  if (app != "chat" && app != "conformance" && app != "bench") {
    std::fprintf(stderr, "shmio: --app must be chat, conformance or bench\n%s", kUsage);
    return 2;
  }
  shmio::ServeOptions options;
  options.name = app;
  if (app == "conformance") {
    options.server.engine.ping_interval = 300ms;
    options.server.engine.ping_timeout = 200ms;
    options.server.engine.max_payload = 1'000'000;
    options.server.connect_timeout = 1000ms;
    options.server.cors_origin = "*";
  } else if (app == "chat") {
    options.server.connection_state_recovery = sio::RecoveryOptions{};
  }
  const shmio::ParseResult parsed = shmio::parse_args(argc, argv, options, /*allow_rest=*/true);
  if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();
  for (std::size_t i = 0; i < parsed.rest.size(); ++i) {
    const std::string& a = parsed.rest[i];
    if ((a == "--app" || a == "--chat-dir") && i + 1 < parsed.rest.size()) {
      if (a == "--chat-dir") chat_dir = parsed.rest[i + 1];
      ++i;
    } else {
      std::fprintf(stderr, "shmio: unknown or incomplete option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (app == "chat" && !chat(options.server, chat_dir)) return 1;
  return shmio::serve(std::move(options), [app](sio::Server& io, const shmio::WorkerInfo& w) {
    if (app == "conformance") {
      conformance(io);
    } else if (app == "chat") {
      chat_handlers(io);
    } else {
      bench(io, w.index);
    }
  });
}
