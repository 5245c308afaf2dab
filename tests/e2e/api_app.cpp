// shmio-api-app: a test server for the socket.io server API of issue 12 item 4
// (tests/e2e/api.test.mjs drives it with the real socket.io-client): socket.on_disconnecting,
// on_any / prepend_any / off_any, join of several rooms, transport(), per-socket volatile_ /
// compress / timeout, the namespace's broadcast operators, for_each_socket, on_new_namespace, the
// adapter's room events, and Server::close with a completion callback. Runs on shmio::serve (one
// process).
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434  // (where older headers lack it: the same number everywhere)
#endif

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "shmio/serve.hpp"

namespace sio = shmio::socketio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

json::array rooms_of(const sio::SocketPtr& s) {
  json::array out;
  for (const auto& r : s->rooms()) out.push_back(json::string(r));
  return out;
}

const char* name_of(sio::Adapter::RoomEvent e) {
  switch (e) {
    case sio::Adapter::RoomEvent::create_room:
      return "create-room";
    case sio::Adapter::RoomEvent::delete_room:
      return "delete-room";
    case sio::Adapter::RoomEvent::join_room:
      return "join-room";
    case sio::Adapter::RoomEvent::leave_room:
      return "leave-room";
  }
  return "?";
}

// What each of this process's descriptors is ("pipe:[N]", "socket:[N]", a path).
std::map<int, std::string> descriptors() {
  std::map<int, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto to = std::filesystem::read_symlink(e.path(), ec);
    if (!ec) out[std::stoi(e.path().filename().string())] = to.string();
  }
  return out;
}

// A seccomp filter on this process and its children from here: where `threads`, no thread can be
// made (a cgroup's pids.max, as reached: clone3 refused as unknown, the C library then tries
// clone, and clone with CLONE_THREAD refused as EAGAIN); where `pidfd`, pidfd_open is unknown (a
// kernel before 5.3). Processes (fork) are made as before. False where no filter can be set.
bool refuse(bool threads, bool pidfd) {
  std::vector<sock_filter> f{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))};
  if (pidfd) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  }
  if (threads) {  // (last before the allow: its argument load leaves the syscall's number)
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3));
    f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN));
  }
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

void on_program_sigint(int) {}
// (API_SETUP_SIGUSR1: the app's own SIGUSR1 handler, installed in its setup: says so on stderr.)
void on_app_sigusr1(int) {
  static constexpr char kSaid[] = "the app's SIGUSR1 handler ran\n";
  (void)!::write(2, kSaid, sizeof kSaid - 1);
}

int main(int argc, char** argv) {
  // (API_BREAK_WORKERS: each forked worker gets SHMIO_RING_NOTIFIER=bogus, which its ring
  // notifier refuses: a worker that cannot join its cluster. Set in the children only: serve()
  // refuses that value in the environment before it starts a cluster.)
  if (std::getenv("API_BREAK_WORKERS") != nullptr)
    ::pthread_atfork(nullptr, nullptr, [] { ::setenv("SHMIO_RING_NOTIFIER", "bogus", 1); });
  shmio::ServeOptions options;
  options.name = "api";
  // Origins the program itself allows (before the flags and the environment are read).
  if (const char* o = std::getenv("API_ORIGIN_IN_CODE")) options.allowed_origins.insert(o);
  if (auto parsed = shmio::parse_args(argc, argv, options); parsed.status != parsed.ok)
    return parsed.exit_code();
  // (API_HOLD_RECOVERED: recovered sockets go through the namespaces' middleware, for "/held".)
  if (std::getenv("API_HOLD_RECOVERED") != nullptr && options.server.connection_state_recovery)
    options.server.connection_state_recovery->skip_middlewares = false;
  // The engine's hooks: a cookie on handshakes, a header on every response (and one with a line
  // break, which must not be written), the requests refused with an Engine.IO error.
  using EO = shmio::engineio::ServerOptions;
  options.server.initial_headers = [](EO::Headers& h, const EO::HttpRequest&) {
    h.emplace_back("Set-Cookie", "shmio-test=1; Path=/");
  };
  options.server.headers = [](EO::Headers& h, const EO::HttpRequest& req) {
    h.emplace_back("X-Api-App", std::string(req.method));
    h.emplace_back("X-Bad", "a\r\nInjected: yes");
  };
  // allowRequest, asynchronous: decided on another thread 20 ms later; a handshake whose query
  // has deny=1 is refused.
  options.server.allow_request_async = [](const EO::HttpRequest& req, auto done) {
    const bool deny = std::string(req.query).find("deny=1") != std::string::npos;
    std::thread([deny, done] {
      std::this_thread::sleep_for(20ms);  // (stands for an asynchronous look-up)
      done(deny ? std::optional<std::string>("denied by the app") : std::nullopt);
    }).detach();
  };
  auto conn_errors = std::make_shared<json::array>();
  options.server.connection_error = [conn_errors](const EO::ConnectionError& e) {
    conn_errors->push_back(json::object{{"code", e.code},
                                        {"message", json::string(e.message)},
                                        {"method", json::string(e.req.method)},
                                        {"query", json::string(e.req.query)}});
  };

  // (API_STOP_THROWS: the app's on_stop fails, as an app's whose last save cannot be written.)
  // (API_STOP_BLOCKS=MS: the app's on_stop does not return for MS ms, as one waiting on a lost
  // database, then says it is done.)
  static int stop_blocks_ms = 0;
  if (const char* v = std::getenv("API_STOP_BLOCKS")) {
    stop_blocks_ms = std::atoi(v);
    options.on_stop = [](sio::Server&, const shmio::WorkerInfo& w) {
      std::fprintf(stderr, "on_stop blocks\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(stop_blocks_ms));
      std::fprintf(stderr, "on_stop done in worker %d\n", w.index);
    };
  }
  if (std::getenv("API_STOP_THROWS") != nullptr)
    options.on_stop = [](sio::Server&, const shmio::WorkerInfo&) {
      throw std::runtime_error("the last save could not be written");
    };
  // (API_SESSION_BYTES, API_HOST: options set in code, not by flags, which serve() checks by the
  // flags' rules.)
  if (const char* v = std::getenv("API_SESSION_BYTES"))
    options.session_bytes = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
  if (const char* v = std::getenv("API_HOST")) options.host = v;
  // (API_ID_PREFIX: the Server's own option, checked by the Server as it is made.)
  if (const char* v = std::getenv("API_ID_PREFIX")) options.server.id_prefix = v;
  // (API_CLEANUP: socket.io's cleanupEmptyChildNamespaces, for the /dyn-* namespaces.)
  if (std::getenv("API_CLEANUP") != nullptr) options.server.cleanup_empty_child_namespaces = true;
  // (API_SLOW_LOG=MS: a log hook as a logging library's, which takes a lock of its own, here held
  // MS milliseconds a line; each worker's setup says a line.)
  static std::mutex log_lock;
  static int slow_ms = 0;
  // (API_LOG_THROWS=TEXT: a log hook that throws on each line holding TEXT.)
  static std::string throw_on;
  if (const char* v = std::getenv("API_LOG_THROWS")) {
    throw_on = v;
    options.log = [](int worker, std::string_view line) {
      if (line.find(throw_on) != std::string_view::npos)
        throw std::runtime_error("the log hook's own failure");
      ::dprintf(shmio::stderr_fd(), "api[%d] %.*s\n", worker, static_cast<int>(line.size()),
                line.data());
    };
  }
  if (const char* v = std::getenv("API_SLOW_LOG")) {
    slow_ms = std::atoi(v);
    options.log = [](int worker, std::string_view line) {
      const std::lock_guard<std::mutex> held(log_lock);
      std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
      ::dprintf(shmio::stderr_fd(), "api[%d] %.*s\n", worker, static_cast<int>(line.size()),
                line.data());
    };
  }
  // (API_SETUP_THROWS: the setup fails, as an app's whose database is down at start; =int: it
  // throws an int, not a std::exception.)
  const char* setup_throws_how = std::getenv("API_SETUP_THROWS");
  const bool setup_throws = setup_throws_how != nullptr;
  static bool setup_throws_int = false;
  setup_throws_int = setup_throws && std::string_view(setup_throws_how) == "int";
  // (API_CHECK_SIGNALS: the program has its own SIGINT handler and SIGPIPE at its default before
  // serve(), and says after it whether they are as it left them: an embedding program goes on.)
  const bool check_signals = std::getenv("API_CHECK_SIGNALS") != nullptr;
  // (And its descriptor limit: the soft one below the hard one, which serve() raises.)
  rlimit program_fd_limit{};
  if (check_signals) {
    ::signal(SIGINT, on_program_sigint);
    ::signal(SIGPIPE, SIG_DFL);
    if (::getrlimit(RLIMIT_NOFILE, &program_fd_limit) == 0 && program_fd_limit.rlim_max > 256) {
      program_fd_limit.rlim_cur = std::min<rlim_t>(program_fd_limit.rlim_max - 1, 1000);
      (void)::setrlimit(RLIMIT_NOFILE, &program_fd_limit);
    }
  }
  // (API_PROGRAM_SIGNALS: the program has an io_context of its own with a signal_set, run on a
  // thread of its own while it serves; each worker's setup says whether it holds the pipe Asio
  // made for it.)
  static std::string program_signal_pipe;
  if (std::getenv("API_PROGRAM_SIGNALS") != nullptr) {
    const auto before = descriptors();
    auto* program_io = new boost::asio::io_context;  // (the program's for good: never destroyed)
    auto* program_signals = new boost::asio::signal_set(*program_io, SIGUSR2);
    program_signals->async_wait([](const boost::system::error_code& ec, int) {
      if (!ec) std::fprintf(stderr, "the program got SIGUSR2\n");
    });
    for (const auto& [fd, what] : descriptors())
      if (before.count(fd) == 0 && what.rfind("pipe:", 0) == 0) program_signal_pipe = what;
    if (program_signal_pipe.empty()) return 3;
    std::thread([program_io] { program_io->run(); }).detach();
  }
  // (API_NO_PIDFD: pidfd_open is unknown here, as on a kernel before 5.3.)
  if (std::getenv("API_NO_PIDFD") != nullptr) {
    const bool refused = refuse(false, true) && ::syscall(__NR_pidfd_open, ::getpid(), 0) < 0;
    std::printf("pidfd_open %s\n", refused ? "refused" : "not refused");
    std::fflush(stdout);
    if (!refused) return 0;
  }
  // (API_NO_THREADS: no thread can be made from before serve(); its setup says whether the
  // thread that called serve() has SIGTERM blocked and whether stderr is what it was.)
  static struct stat stderr_before {};
  ::fstat(2, &stderr_before);
  if (std::getenv("API_NO_THREADS") != nullptr) {
    bool refused = refuse(true, false);
    if (refused) {
      try {
        std::thread([] {}).join();
        refused = false;  // (a thread was made after all)
      } catch (const std::system_error&) {
      }
    }
    std::printf("threads %s\n", refused ? "refused" : "not refused");
    std::fflush(stdout);
    if (!refused) return 0;
  }
  const shmio::Setup setup = [conn_errors, setup_throws](sio::Server& io,
                                                         const shmio::WorkerInfo& w) {
    if (setup_throws_int) throw 42;
    if (std::getenv("API_SETUP_SIGUSR1") != nullptr) ::signal(SIGUSR1, on_app_sigusr1);
    // (API_SETUP_WAITS=FILE: worker 0's first setup says its pid and waits until FILE exists, a
    // slow start for a signal to come in, then removes it.)
    if (const char* f = std::getenv("API_SETUP_WAITS"); f != nullptr && w.index == 0) {
      std::fprintf(stderr, "setup of worker 0 waits (pid %d)\n", static_cast<int>(::getpid()));
      while (::access(f, F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ::unlink(f);
    }
    if (!program_signal_pipe.empty()) {
      bool holds = false;
      for (const auto& [fd, what] : descriptors()) holds = holds || what == program_signal_pipe;
      std::printf("worker %d holds the program's signal pipe: %s\n", w.index, holds ? "yes" : "no");
      std::fflush(stdout);
    }
    if (std::getenv("API_NO_THREADS") != nullptr) {
      sigset_t now;
      ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
      struct stat err {};
      ::fstat(2, &err);
      std::printf("in setup: SIGTERM %s, stderr %s\n",
                  sigismember(&now, SIGTERM) == 1 ? "blocked" : "not blocked",
                  err.st_ino == stderr_before.st_ino && err.st_dev == stderr_before.st_dev
                      ? "as it was"
                      : "changed");
      std::fflush(stdout);
    }
    if (setup_throws) throw std::runtime_error("the database is down");
    // (API_ABORT_ONCE=FILE: worker 0's first start says two lines, the last without its newline,
    // and aborts, as an app's failed assertion does; its successor, FILE there, serves.)
    if (const char* f = std::getenv("API_ABORT_ONCE"); f != nullptr && w.index == 0) {
      if (std::FILE* once = std::fopen(f, "wx")) {
        std::fclose(once);
        std::fprintf(stderr, "worker 0 about to abort\n");
        std::fprintf(stderr, "its last words");
        std::abort();
      }
    }
    if (slow_ms > 0 || !throw_on.empty()) std::fprintf(stderr, "setup of worker %d\n", w.index);
    // "/held" (API_HOLD_RECOVERED only: the other tests count the namespaces): a recovered socket
    // whose auth says {hold: true} is held by the middleware for good (an app waiting on a look-up
    // that never answers), said on stderr with its pid; any other passes. "shout" is broadcast to
    // the namespace.
    if (std::getenv("API_HOLD_RECOVERED") != nullptr) {
      sio::Namespace& held = io.of("/held");
      auto holding = std::make_shared<std::vector<sio::Next>>();
      held.use([holding](const sio::SocketPtr& s, sio::Next next) {
        const json::value* hold = s->handshake().auth.if_contains("hold");
        if (s->recovered() && hold != nullptr && hold->is_bool() && hold->get_bool()) {
          std::fprintf(stderr, "holding %s\n", s->pid().c_str());
          holding->push_back(std::move(next));
          return;
        }
        next(std::nullopt);
      });
      held.on_connection([&held](const sio::SocketPtr& s) {
        s->on("shout", [&held](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
          held.emit("shout", std::move(a));
          if (ack) ack(sio::Args{});
        });
      });
    }
    auto namespaces = std::make_shared<json::array>();
    io.on_new_namespace(
        [namespaces](sio::Namespace& n) { namespaces->push_back(json::string(n.name())); });
    // (Each socket of one greeted: an event the namespace's counters count.)
    // ("/dyn-bye": each socket sent away by its connection handler, as an app's check there does.)
    io.of([](const std::string& n) { return n.rfind("/dyn-", 0) == 0; },
          [](sio::Namespace& n) {
            n.on_connection([](const sio::SocketPtr& s) {
              if (s->nsp().name() == "/dyn-bye") return s->disconnect();
              s->emit("dyn-hello");
            });
          });

    // The adapter's events for rooms whose names start with "t-", and for sockets' own rooms.
    auto room_log = std::make_shared<json::array>();
    io.of("/").adapter().on_room_event(
        [room_log](sio::Adapter::RoomEvent e, const sio::Room& room, const sio::SocketId& id) {
          std::string line = std::string(name_of(e)) + " " + room;
          if (!id.empty()) line += " " + id;
          room_log->push_back(json::string(line));
        });
    auto last_disconnecting = std::make_shared<json::object>();

    io.on_connection([&io, namespaces, room_log, last_disconnecting,
                      conn_errors](const sio::SocketPtr& s) {
      // socket.use: "forbidden" is refused; "slow" waits 50 ms and gets one more argument.
      auto errors = std::make_shared<json::array>();
      s->use([](const sio::SocketPtr&, const std::string& ev, sio::Args&, auto next) {
        if (ev == "forbidden") return next(std::string("unauthorized event"));
        next(std::nullopt);
      });
      s->use([&io](const sio::SocketPtr&, const std::string& ev, sio::Args& args, auto next) {
        if (ev != "slow") return next(std::nullopt);
        auto t = std::make_shared<boost::asio::steady_timer>(io.io(), 50ms);
        t->async_wait([t, &args, next](const boost::system::error_code&) {
          args.values.push_back("late");
          next(std::nullopt);
        });
      });
      s->on_error([errors](const sio::SocketPtr&, const std::string& m) {
        errors->push_back(json::string(m));
      });
      // Outgoing listeners: what this socket was sent (its own emits and broadcasts).
      auto outgoing = std::make_shared<json::array>();
      const auto out_id = s->on_any_outgoing(
          [outgoing](const sio::SocketPtr&, const std::string& ev, const sio::Args& a) {
            if (ev.rfind("o-", 0) == 0)
              outgoing->push_back(json::string(ev + " " + json::serialize(a.values) + " " +
                                               std::to_string(a.binaries.size())));
          });
      s->on("outgoing-trigger", [&io](const sio::SocketPtr& self, sio::Args, sio::Ack ack) {
        self->emit("o-direct", sio::Args{1});
        io.emit("o-all", sio::Args{2});
        io.emit("o-bin", sio::Args(json::array{3, sio::placeholder(0)},
                                   {std::make_shared<const std::string>("\x01\x02")}));
        if (ack) ack(sio::Args{true});
      });
      s->on("outgoing-log", [outgoing](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*outgoing});
        outgoing->clear();
      });
      s->on("outgoing-off", [out_id](const sio::SocketPtr& self, sio::Args, sio::Ack ack) {
        self->off_any_outgoing(out_id);
        if (ack) ack(sio::Args{true});
      });
      s->on_upgrade([](const sio::SocketPtr& self) {
        self->emit("upgraded", sio::Args{json::string(std::string(self->transport()))});
      });
      s->on("forbidden",
            [](const sio::SocketPtr& self, sio::Args, sio::Ack) { self->emit("ran"); });
      s->on("slow", [](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
        if (ack) ack(sio::Args{a.values});  // one argument: the array
      });
      s->on("errors", [errors](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*errors});
      });
      s->on("conn-errors", [conn_errors](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*conn_errors});
      });
      // Catch-all listeners: the order they ran in, for the last event.
      auto order = std::make_shared<json::array>();
      const auto first =
          s->on_any([order](const sio::SocketPtr&, const std::string& ev, const sio::Args&) {
            if (ev != "any-order") order->push_back(json::string("on_any " + ev));
          });
      s->prepend_any([order](const sio::SocketPtr&, const std::string& ev, const sio::Args&) {
        if (ev != "any-order") order->push_back(json::string("prepend_any " + ev));
      });
      s->on("any-order", [order](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*order});
        order->clear();
      });
      s->on("off-any", [first](const sio::SocketPtr& self, sio::Args a, sio::Ack ack) {
        if (!a.values.empty() && a.values[0].is_string() && a.values[0].get_string() == "all")
          self->off_any();
        else
          self->off_any(first);
        if (ack) ack(sio::Args{true});
      });
      s->on("join-many", [](const sio::SocketPtr& self, sio::Args a, sio::Ack ack) {
        std::vector<sio::Room> rooms;
        for (const auto& v : a.values)
          if (v.is_string()) rooms.emplace_back(v.get_string());
        self->join(rooms);
        if (ack) ack(sio::Args{rooms_of(self)});
      });
      s->on("transport", [](const sio::SocketPtr& self, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{json::string(std::string(self->transport()))});
      });
      // Several volatile packets in one turn: the connection takes the first only.
      s->on("volatile-burst", [](const sio::SocketPtr& self, sio::Args, sio::Ack ack) {
        int sent = 0;
        for (int i = 0; i < 5; ++i) sent += self->volatile_().emit("v", sio::Args{i}) ? 1 : 0;
        if (ack) ack(sio::Args{sent});
      });
      s->on("uncompressed", [](const sio::SocketPtr& self, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{self->compress(false).emit("c", sio::Args{"plain"})});
      });
      // socket.timeout(ms).emit with an ack: the client answers "question" or not.
      s->on("ask-back", [](const sio::SocketPtr& self, sio::Args a, sio::Ack ack) {
        const auto ms = !a.values.empty() && a.values[0].is_int64() ? a.values[0].get_int64() : 300;
        self->timeout(std::chrono::milliseconds(ms))
            .emit_with_ack("question", sio::Args{"?"},
                           [ack](std::optional<std::string> err, sio::Args reply) {
                             json::object o{{"error", err ? json::value(*err) : json::value()},
                                            {"reply", reply.values}};
                             if (ack) ack(sio::Args{o});
                           });
      });
      s->on_disconnecting(
          [last_disconnecting](const sio::SocketPtr& self, const std::string& reason) {
            *last_disconnecting =
                json::object{{"id", self->id()}, {"reason", reason}, {"rooms", rooms_of(self)}};
          });
      s->on("last-disconnecting",
            [last_disconnecting](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
              if (ack) ack(sio::Args{*last_disconnecting});
            });
      s->on("room-log", [room_log](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*room_log});
        room_log->clear();
      });
      s->on("namespaces", [namespaces](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        if (ack) ack(sio::Args{*namespaces});
      });
      // The namespace's operators.
      s->on("ns-ops", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        const std::size_t v = io.of("/").volatile_().emit("nv", sio::Args{1});
        const std::size_t l = io.of("/").local().emit("nl", sio::Args{2});
        const std::size_t c = io.of("/").compress(false).emit("nc", sio::Args{3});
        std::size_t counted = 0;
        io.of("/").for_each_socket([&counted](const sio::SocketPtr&) { ++counted; });
        if (ack)
          ack(sio::Args{
              json::object{{"volatile", v}, {"local", l}, {"compress", c}, {"sockets", counted}}});
      });
      s->on("ns-timeout", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
        io.of("/").timeout(2000ms).emit_with_ack(
            "nt", {}, [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
              if (ack)
                ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                           {"responses", rs.size()}}});
            });
      });
      s->on("close-server", [&io](const sio::SocketPtr&, sio::Args, sio::Ack) {
        io.close([] { std::fprintf(stderr, "close callback ran\n"); });
      });
    });
  };
  int rc = shmio::serve(options, setup);
  // (API_SERVE_TWICE=FILE: after the first run the program sends its stderr to FILE, and serves
  // again: that run's lines, and what the program writes after it, go there.)
  if (const char* file = std::getenv("API_SERVE_TWICE"); file != nullptr && rc == 0) {
    const int fd = ::open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::dup2(fd, 2) < 0) return 1;
    ::close(fd);
    std::printf("serving again\n");
    std::fflush(stdout);
    rc = shmio::serve(options, setup);
    std::fprintf(stderr, "after the second run\n");
  }
  if (std::getenv("API_SETUP_SIGUSR1") != nullptr) {
    struct sigaction u {};
    ::sigaction(SIGUSR1, nullptr, &u);
    std::printf("SIGUSR1 after serve: %s\n",
                u.sa_handler == on_app_sigusr1 ? "the app's handler" : "not the app's handler");
    std::fflush(stdout);
  }
  if (check_signals) {
    struct sigaction i {
    }, p{};
    ::sigaction(SIGINT, nullptr, &i);
    ::sigaction(SIGPIPE, nullptr, &p);
    std::printf("signals after serve: %s\n",
                i.sa_handler == on_program_sigint && p.sa_handler == SIG_DFL
                    ? "as the program left them"
                    : "changed");
    rlimit now{};
    (void)::getrlimit(RLIMIT_NOFILE, &now);
    std::printf("descriptor limit after serve: %s (%llu, the program's %llu)\n",
                now.rlim_cur == program_fd_limit.rlim_cur ? "as the program left it" : "changed",
                static_cast<unsigned long long>(now.rlim_cur),
                static_cast<unsigned long long>(program_fd_limit.rlim_cur));
  }
  return rc;
}
