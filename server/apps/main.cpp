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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "shmio/cluster/node.hpp"
#include "shmio/cluster/supervisor.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/socketio/server.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const char* kUsage =
    "usage: shmio --app chat|conformance|bench [--port P] [--host H] [--chat-dir DIR]\n"
    "             [--workers N|auto] [--port-per-worker] [--no-pin] [--ring NAME] [--ring-mb M]\n"
    "             [--log-sockets] [--per-message-deflate] [--allow-origin O]... [--no-io-uring]\n"
    "             [--recovery] [--max-sessions N] [--no-rebalance] [--rebalance-rate N]\n"
    "             [--first-request-timeout MS]\n"
    "  chat         the Socket.IO tutorial's chat demo (open http://H:P/ in two browsers)\n"
    "  conformance  the Socket.IO protocol test suite's server configuration\n"
    "  bench        the benchmark app (join/leave/whoami/echo/publish/publish-others/count)\n"
    "  --port P     TCP port (default 3000; 0 picks a free one, printed on start)\n"
    "  --host H     address to bind (default 127.0.0.1)\n"
    "  --chat-dir D the chat's files (default: server/apps/chat of the source tree)\n"
    "  --first-request-timeout MS  a new connection that sends no request header within this is\n"
    "               closed (default 10000)\n"
    "  --ping-interval MS, --ping-timeout MS, --connect-timeout MS\n"
    "               override the app's heartbeat and connect timeout (socket.io's defaults:\n"
    "               25000, 20000, 45000; the conformance app uses 300, 200, 1000)\n"
    "  --log-sockets  one line on stderr per socket connected and disconnected (namespace,\n"
    "               id; the disconnect reason)\n"
    "  --allow-origin O  accept handshakes only from pages of origin O (repeatable); others,\n"
    "               and clients that send no Origin, get 403 (socket.io's allowRequest)\n"
    "  --per-message-deflate  offer WebSocket compression (socket.io's perMessageDeflate with\n"
    "               threshold 1024; off by default: CPU per message, ~136 KiB of zlib state per\n"
    "               connection by zlib's formula)\n"
    "  --no-io-uring  flush with one sendmsg per socket instead of one io_uring submission per\n"
    "               event-loop turn (io_uring is used where the kernel allows it)\n"
    "  --recovery   connection state recovery (socket.io's connectionStateRecovery, 2 minutes)\n"
    "               for the bench and conformance apps; the chat app always has it\n"
    "  --max-sessions N  sessions each worker keeps for recovery, per namespace\n"
    "               (default 100000; past it the oldest is forgotten: that client starts afresh)\n"
    "  --no-rebalance  with workers on one port: do not hand fresh connections to a less\n"
    "               loaded worker, nor ask clients of a busy worker to reconnect\n"
    "  --rebalance-rate N  clients a busy worker asks to reconnect per second at most, with\n"
    "               recovery (default 50; they recover wherever they land)\n"
    "  --workers N  run as a cluster of N worker processes joined by the shared-memory ring\n"
    "               (auto: one per CPU of the affinity mask); without it: one process\n"
    "  --port-per-worker  worker i listens on P+i instead of all on P (SO_REUSEPORT)\n"
    "  --no-pin     do not pin worker i to the i-th CPU\n"
    "  --ring NAME  the ring's name (default port-P; /dev/shm/shmio.NAME)\n"
    "  --ring-mb M  the ring's size in MiB, a power of two (default 64)\n"
    "  GET /health and GET /metrics are served by every worker.\n";

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

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit now in force.
std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit up = rl;
    up.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
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

struct Config {
  std::string app, host = "127.0.0.1", chat_dir = default_chat_dir(), ring;
  long port = 3000;
  long long ping_interval = -1, ping_timeout = -1, connect_timeout = -1;  // ms, -1: the app's
  int workers = -1;  // -1: one process, no cluster; 0: one per CPU
  bool port_per_worker = false, pin = true, log_sockets = false, deflate = false, io_uring = true,
       recovery = false;
  std::set<std::string> allowed_origins;  // empty: every origin
  std::uint64_t ring_mb = 64;
  std::size_t max_sessions = 100000;  // NodeOptions::max_sessions
  bool rebalance = true;
  std::size_t rebalance_rate = 50;          // NodeOptions::rebalance_rate
  long long first_request_timeout = 10000;  // ms: engineio::ServerOptions
};

// /health and /metrics around the app's own static files.
void operations(sio::ServerOptions& options, sio::Server*& server, shmio::cluster::Node*& node,
                int worker) {
  auto app_files = options.static_files;
  options.static_files = [app_files, &server, &node, worker](const std::string& path)
      -> std::optional<shmio::engineio::ServerOptions::StaticResponse> {
    if (path == "/health") {
      json::object o{{"status", "ok"},
                     {"worker", worker},
                     {"pid", static_cast<std::int64_t>(::getpid())},
                     {"clients", server ? server->client_count() : 0}};
      if (node) o["workers"] = node->server_count();
      return {{"application/json", std::make_shared<const std::string>(json::serialize(o))}};
    }
    if (path == "/metrics") {
      std::string out;
      const std::string w = "{worker=\"" + std::to_string(worker) + "\"}";
      auto line = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
        out += "# HELP " + std::string(name) + " " + help + "\n# TYPE " + name + " " + type + "\n" +
               name + w + " " + std::to_string(v) + "\n";
      };
      if (server) {
        const auto& st = server->engine().stats();
        line("shmio_connections", "gauge", "Open Engine.IO sessions.", st.sessions);
        line("shmio_connections_total", "counter", "Engine.IO sessions opened.", st.sessions_total);
        line("shmio_tcp_connections_total", "counter", "TCP connections accepted.", st.connections);
        line("shmio_packets_in_total", "counter", "Engine.IO packets received.", st.packets_in);
        line("shmio_packets_out_total", "counter", "Engine.IO packets sent.", st.packets_out);
        line("shmio_bytes_in_total", "counter", "Engine.IO payload bytes received.", st.bytes_in);
        line("shmio_bytes_out_total", "counter", "Engine.IO payload bytes sent.", st.bytes_out);
        line("shmio_handed_off_total", "counter", "Connections handed to their session's worker.",
             st.handed_off);
        line("shmio_adopted_total", "counter", "Connections taken over from another worker.",
             st.adopted);
        line("shmio_flushes_total", "counter",
             "End-of-turn flushes (each writes every socket that got output in the turn).",
             st.flushes);
        line("shmio_io_uring_submissions_total", "counter",
             "Flushes written with one io_uring submission.", st.uring_submissions);
        line("shmio_accept_errors_total", "counter",
             "Connections not accepted for lack of descriptors or memory (accepting paused).",
             st.accept_errors);
        line("shmio_connections_refused_total", "counter",
             "Connections closed at accept: past the descriptor bound (descriptor_reserve).",
             st.connections_refused);
        line("shmio_request_timeouts_total", "counter",
             "Connections closed while waiting for a request header (first request: "
             "--first-request-timeout).",
             st.request_timeouts);
        line("shmio_descriptor_bound", "gauge",
             "Accepted connections must get a descriptor below this (0: no bound).",
             st.descriptor_bound);
        std::error_code fec;
        std::uint64_t fds = 0;
        for (auto it = std::filesystem::directory_iterator("/proc/self/fd", fec);
             !fec && it != std::filesystem::directory_iterator(); it.increment(fec))
          ++fds;
        line("shmio_open_descriptors", "gauge", "Descriptors open in this process.", fds);
      }
      if (node) out += node->metrics_text();
      return {{"text/plain; version=0.0.4; charset=utf-8",
               std::make_shared<const std::string>(std::move(out))}};
    }
    return app_files ? app_files(path) : std::nullopt;
  };
}

// A worker's log lines carry the worker: its stderr goes through a pipe to a thread that prefixes
// each line with "[wI] " and writes it to the real stderr.
void tag_stderr(int worker) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  const int real = ::dup(2);
  if (real < 0 || ::dup2(fds[1], 2) < 0) return;
  ::close(fds[1]);
  std::thread([in = fds[0], real, tag = "[w" + std::to_string(worker) + "] "] {
    std::string line;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(in, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t i = 0; i < n; ++i) {
        line += buf[i];
        if (buf[i] != '\n') continue;
        const std::string out = tag + line;
        (void)!::write(real, out.data(), out.size());
        line.clear();
      }
    }
  }).detach();
}

// One server process: the whole app (no cluster), or one worker of a cluster.
int serve(const Config& cfg, const shmio::cluster::WorkerContext* ctx) {
  if (ctx != nullptr) tag_stderr(ctx->index);
  sio::ServerOptions options;
  if (cfg.app == "conformance") {
    options.engine.ping_interval = 300ms;
    options.engine.ping_timeout = 200ms;
    options.engine.max_payload = 1'000'000;
    options.connect_timeout = 1000ms;
    options.cors_origin = "*";
  } else if (cfg.app == "chat") {
    if (!chat(options, cfg.chat_dir)) return 1;
    options.connection_state_recovery = sio::RecoveryOptions{};
  }
  if (cfg.recovery) options.connection_state_recovery = sio::RecoveryOptions{};
  options.first_request_timeout = std::chrono::milliseconds(cfg.first_request_timeout);
  if (cfg.ping_interval > 0)
    options.engine.ping_interval = std::chrono::milliseconds(cfg.ping_interval);
  if (cfg.ping_timeout > 0)
    options.engine.ping_timeout = std::chrono::milliseconds(cfg.ping_timeout);
  if (cfg.connect_timeout > 0)
    options.connect_timeout = std::chrono::milliseconds(cfg.connect_timeout);
  if (cfg.deflate) options.per_message_deflate = shmio::engineio::PerMessageDeflate{};
  options.io_uring = cfg.io_uring;
  if (!cfg.allowed_origins.empty()) {
    // allowRequest: a handshake from a page of another origin (or with no Origin) gets 403.
    options.allow_request = [origins = cfg.allowed_origins](const auto& headers) {
      for (const auto& [name, value] : headers)
        if (name == "origin") return origins.count(value) != 0;
      return false;
    };
  }
  const int worker = ctx ? ctx->index : 0;
  sio::Server* server_ptr = nullptr;
  shmio::cluster::Node* node_ptr = nullptr;
  operations(options, server_ptr, node_ptr, worker);

  boost::asio::io_context io_ctx;
  std::unique_ptr<shmio::cluster::Node> node;
  if (ctx != nullptr) {
    shmio::cluster::NodeOptions no;
    no.ring = ctx->ring;
    no.worker = ctx->index;
    no.workers = ctx->workers;
    no.core = ctx->core;
    no.log_recoveries = cfg.log_sockets;
    no.max_sessions = cfg.max_sessions;
    no.rebalance = cfg.rebalance;
    no.rebalance_rate = cfg.rebalance_rate;
    // Polling requests reach their session's worker by hand-off, unless each worker has its own
    // port (then a client always talks to one worker).
    if (!cfg.port_per_worker) no.handoff = ctx->ring;
    node = std::make_unique<shmio::cluster::Node>(io_ctx, no, options);
    node_ptr = node.get();
    if (cfg.port_per_worker) options.reuse_port = false;
  }
  sio::Server io(io_ctx, options);
  server_ptr = &io;
  if (cfg.app == "conformance") {
    conformance(io);
  } else if (cfg.app == "chat") {
    chat_handlers(io);
  } else {
    bench(io, worker);
  }
  if (cfg.log_sockets) {
    for (const char* n : {"/", "/custom", "/secure"}) {
      if (cfg.app != "conformance" && std::string_view(n) != "/") continue;
      io.of(n).on_connection([](const sio::SocketPtr& s) {
        std::fprintf(stderr, "socket connect %s %s\n", s->nsp().name().c_str(), s->id().c_str());
        s->on_disconnect([](const sio::SocketPtr& s2, const std::string& reason) {
          std::fprintf(stderr, "socket disconnect %s %s %s\n", s2->nsp().name().c_str(),
                       s2->id().c_str(), reason.c_str());
        });
      });
    }
  }
  const long port = cfg.port_per_worker && ctx ? cfg.port + worker : cfg.port;
  int rc = 0;
  // A worker listens once it is ready (Node::when_ready: with recovery, once it has the
  // cluster's sessions); one process at once.
  auto listen = [&] {
    std::uint16_t bound = 0;
    try {
      bound = io.listen(cfg.host, static_cast<std::uint16_t>(port));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: cannot listen on %s:%ld: %s\n", cfg.host.c_str(), port,
                   e.what());
      rc = 1;
      io_ctx.stop();
      return;
    }
    if (ctx != nullptr)
      std::printf("shmio worker %d (pid %d, cpu %d) (%s) listening on %s:%u\n", worker, ::getpid(),
                  ctx->core, cfg.app.c_str(), cfg.host.c_str(), bound);
    else
      std::printf("shmio (%s) listening on %s:%u\n", cfg.app.c_str(), cfg.host.c_str(), bound);
    std::fflush(stdout);
  };
  if (node) {
    node->start(io);
    node->when_ready(listen);
  } else {
    listen();
    if (rc != 0) return rc;
  }
  boost::asio::signal_set signals(io_ctx, SIGINT, SIGTERM);
  // On SIGINT/SIGTERM every client gets "server shutting down"; the close packets are written
  // before the loop stops (a short, bounded grace period).
  boost::asio::steady_timer grace(io_ctx);
  signals.async_wait([&](const boost::system::error_code&, int) {
    io.engine().stop_accepting();
    io.close();
    grace.expires_after(200ms);
    grace.async_wait([&](const boost::system::error_code&) { io_ctx.stop(); });
  });
  io_ctx.run();
  if (node) node->stop();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  auto whole = [](const char* v, long long lo, long long hi, long long& out) {
    char* end = nullptr;
    out = std::strtoll(v, &end, 10);
    return *end == '\0' && out >= lo && out <= hi;
  };
  auto millis = [&](const char* v, long long& out) { return whole(v, 1, 3'600'000, out); };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--app" && v != nullptr) {
      cfg.app = v;
      ++i;
    } else if ((a == "--ping-interval" || a == "--ping-timeout" || a == "--connect-timeout" ||
                a == "--first-request-timeout") &&
               v != nullptr) {
      long long& target = a == "--ping-interval"     ? cfg.ping_interval
                          : a == "--ping-timeout"    ? cfg.ping_timeout
                          : a == "--connect-timeout" ? cfg.connect_timeout
                                                     : cfg.first_request_timeout;
      if (!millis(v, target)) {
        std::fprintf(stderr, "shmio: %s must be 1..3600000 ms\n%s", a.c_str(), kUsage);
        return 2;
      }
      ++i;
    } else if (a == "--chat-dir" && v != nullptr) {
      cfg.chat_dir = v;
      ++i;
    } else if (a == "--host" && v != nullptr) {
      cfg.host = v;
      ++i;
    } else if (a == "--ring" && v != nullptr) {
      cfg.ring = v;
      if (auto ok = shmio::shm::Segment::validate_name(cfg.ring); !ok) {
        std::fprintf(stderr, "shmio: --ring: %s\n", ok.error().message.c_str());
        return 2;
      }
      ++i;
    } else if (a == "--ring-mb" && v != nullptr) {
      char* end = nullptr;
      const long mb = std::strtol(v, &end, 10);
      if (*end != '\0' || mb < 1 || mb > 65536 || (mb & (mb - 1)) != 0) {
        std::fprintf(stderr, "shmio: --ring-mb must be a power of two, 1..65536\n%s", kUsage);
        return 2;
      }
      cfg.ring_mb = static_cast<std::uint64_t>(mb);
      ++i;
    } else if (a == "--no-rebalance") {
      cfg.rebalance = false;
    } else if ((a == "--rebalance-rate" || a == "--max-sessions") && v != nullptr) {
      const bool rate = a == "--rebalance-rate";
      long long n = 0;
      if (!whole(v, 1, rate ? 1'000'000 : 100'000'000, n)) {
        std::fprintf(stderr, "shmio: %s must be 1..%s\n%s", a.c_str(),
                     rate ? "1000000" : "100000000", kUsage);
        return 2;
      }
      (rate ? cfg.rebalance_rate : cfg.max_sessions) = static_cast<std::size_t>(n);
      ++i;
    } else if (a == "--workers" && v != nullptr) {
      char* end = nullptr;
      const long n = std::string(v) == "auto" ? 0 : std::strtol(v, &end, 10);
      if ((end != nullptr && *end != '\0') || n < 0 || n > 960) {
        // The ring's registry has 1024 slots of each kind; 64 stay for emitters and tools.
        std::fprintf(stderr, "shmio: --workers must be auto or 1..960\n%s", kUsage);
        return 2;
      }
      cfg.workers = static_cast<int>(n);
      ++i;
    } else if (a == "--port-per-worker") {
      cfg.port_per_worker = true;
    } else if (a == "--no-pin") {
      cfg.pin = false;
    } else if (a == "--allow-origin" && v != nullptr) {
      cfg.allowed_origins.insert(v);
      ++i;
    } else if (a == "--per-message-deflate") {
      cfg.deflate = true;
    } else if (a == "--no-io-uring") {
      cfg.io_uring = false;
    } else if (a == "--recovery") {
      cfg.recovery = true;
    } else if (a == "--log-sockets") {
      cfg.log_sockets = true;
    } else if (a == "--port" && v != nullptr) {
      char* end = nullptr;
      cfg.port = std::strtol(v, &end, 10);
      if (*end != '\0' || cfg.port < 0 || cfg.port > 65535) {
        std::fprintf(stderr, "shmio: --port must be 0..65535\n%s", kUsage);
        return 2;
      }
      ++i;
    } else {
      std::fprintf(stderr, "shmio: unknown or incomplete option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (cfg.app != "chat" && cfg.app != "conformance" && cfg.app != "bench") {
    std::fprintf(stderr, "shmio: --app must be chat, conformance or bench\n%s", kUsage);
    return 2;
  }
  // Every connection is a descriptor: the soft limit goes up to the hard one (often 1024 ->
  // much more), and the capacity is said once, so that a limit is known before it is hit (a
  // worker at the limit pauses accepting and says so: engineio's accept).
  const std::uint64_t fd_limit = raise_fd_limit();
  if (cfg.workers < 0) {
    std::fprintf(stderr, "shmio: up to %llu descriptors (RLIMIT_NOFILE): about %llu connections\n",
                 static_cast<unsigned long long>(fd_limit),
                 static_cast<unsigned long long>(fd_limit > 64 ? fd_limit - 64 : 0));
    return serve(cfg, nullptr);
  }

  // A cluster. All workers must listen on one known port: with port 0 the supervisor picks a free
  // one first (and holds it, bound with SO_REUSEPORT but not listening, while the cluster runs).
  const int n =
      cfg.workers > 0 ? cfg.workers : static_cast<int>(shmio::cluster::affinity_cpus().size());
  if (cfg.port_per_worker && (cfg.port == 0 || cfg.port + n - 1 > 65535)) {
    std::fprintf(stderr, "shmio: --port-per-worker needs ports P..P+%d within 1..65535\n", n - 1);
    return 2;
  }
  int holder = -1;
  if (cfg.port == 0) {
    holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(holder, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, cfg.host.c_str(), &addr.sin_addr);
    socklen_t len = sizeof addr;
    if (::bind(holder, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::fprintf(stderr, "shmio: cannot pick a port on %s\n", cfg.host.c_str());
      return 1;
    }
    cfg.port = ntohs(addr.sin_port);
  }
  if (cfg.ring.empty()) cfg.ring = "port-" + std::to_string(cfg.port);
  shmio::cluster::SupervisorOptions so;
  so.ring = cfg.ring;
  so.workers = n;
  so.pin = cfg.pin;
  so.ring_bytes = cfg.ring_mb << 20;
  so.on_start = [&cfg, fd_limit](int workers) {
    std::printf("shmio cluster (%s): %d workers on %s:%ld%s, ring %s\n", cfg.app.c_str(), workers,
                cfg.host.c_str(), cfg.port, cfg.port_per_worker ? "+i" : "", cfg.ring.c_str());
    std::fflush(stdout);
    std::fprintf(stderr,
                 "shmio: each worker may hold up to %llu descriptors (RLIMIT_NOFILE): about %llu "
                 "connections for %d workers (more need more workers)\n",
                 static_cast<unsigned long long>(fd_limit),
                 static_cast<unsigned long long>(fd_limit > 64 ? (fd_limit - 64) * workers : 0),
                 workers);
  };
  const int rc =
      shmio::cluster::run_supervisor(so, [&cfg, holder](const shmio::cluster::WorkerContext& ctx) {
        if (holder >= 0) ::close(holder);
        return serve(cfg, &ctx);
      });
  if (holder >= 0) ::close(holder);
  return rc;
}
