// shmio::serve and shmio::parse_args (shmio/serve.hpp): one process or a supervised cluster of
// workers, each a Socket.IO server with the cluster node, /health and /metrics, the drain.
#include "shmio/serve.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tuple>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "shmio/cluster/node.hpp"
#include "shmio/cluster/supervisor.hpp"
#ifdef SHMIO_HAVE_REDIS
#include "shmio/redis/bridge.hpp"
#include "shmio/redis/client.hpp"
#endif
#include "shmio/engineio/log_text.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_notifier.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio {

namespace sio = socketio;
namespace json = boost::json;

namespace {

const char* kUsage =
    "  --port P     TCP port, 0..65535 (default 3000; 0 picks a free one, printed on start)\n"
    "  --host H     address to bind (default 127.0.0.1; IPv6 too, a link-local one with its\n"
    "               interface: fe80::1%eth0)\n"
    "  --first-request-timeout MS  a new connection that sends no request header within this is\n"
    "               closed (default 10000; 1..3600000)\n"
    "  --max-open-sessions N  at most N Engine.IO sessions held in each worker (open, or closed\n"
    "               and kept for a last poll; default 1048576; 0: no bound; 0..4294967295);\n"
    "               past it a new handshake is answered 503 (a polling session holds no\n"
    "               descriptor, so the descriptor limit does not bound them)\n"
    "  --ping-interval MS, --ping-timeout MS, --connect-timeout MS\n"
    "               override the app's heartbeat and connect timeout (socket.io's defaults:\n"
    "               25000, 20000, 45000; each 1..3600000)\n"
    "  --log-sockets  one line on stderr per socket connected and disconnected (namespace,\n"
    "               id; the disconnect reason), and per recovery refused (why)\n"
    "  --allow-origin O  accept handshakes only from pages of origin O (scheme://host[:port],\n"
    "               no path; repeatable, and replacing SHMIO_ALLOW_ORIGIN's and the app's);\n"
    "               others, and clients that send no Origin (but a browser's same-origin\n"
    "               page: by its Sec-Fetch-Site, or over plain http by its Host), get 403\n"
    "               (socket.io's allowRequest); O's pages get CORS headers\n"
    "  --watchdog-timeout MS  kill and restart a worker whose event loop has not turned for MS\n"
    "               (default 60000; 0: off; 2000..86400000): an endless handler, a deadlock;\n"
    "               a cluster's supervisor does it (in one process: taken, and nothing watches)\n"
    "  --cookie NAME  the polling handshake's answer sets cookie NAME to the session id\n"
    "               (NAME=<sid>; Path=/; HttpOnly; SameSite=Lax: engine.io's cookie option),\n"
    "               for a load balancer that keeps each client on one host by it\n"
    "  --serve-client DIR  serve the socket.io client bundle of DIR, a socket.io-client package\n"
    "               as npm installs it (node_modules/socket.io-client), at\n"
    "               /socket.io/socket.io.js, .min.js, .msgpack.min.js, .esm.min.js and their\n"
    "               .map files, with its version as ETag (socket.io's serveClient)\n"
    "  --per-message-deflate  offer WebSocket compression (socket.io's perMessageDeflate with\n"
    "               threshold 1024; off by default: CPU per message, ~136 KiB of zlib state per\n"
    "               connection by zlib's formula)\n"
    "  --no-io-uring  flush with one sendmsg per socket instead of one io_uring submission per\n"
    "               event-loop turn (io_uring is used where the kernel allows it)\n"
    "  --flush-budget BYTES  at most this much written to one WebSocket per event-loop turn, the\n"
    "               rest next turn (default 1048576; 4096..1073741824)\n"
    "  --read-budget BYTES  at most this much read from one WebSocket before the others' turn\n"
    "               (default 262144; 4096..1073741824)\n"
    "  --max-attachment-bytes BYTES  at most this much in one packet's binary attachments\n"
    "               together; a client that sends more is disconnected (parse error)\n"
    "               (default 16777216, or the app's maxHttpBufferSize where that is more;\n"
    "               1..4294967295)\n"
    "  --max-json-depth N  at most N levels of JSON nesting in a client's packet; deeper, it is\n"
    "               disconnected (parse error) (default 32; 1..1000)\n"
    "  --recovery   connection state recovery (socket.io's connectionStateRecovery, 2 minutes)\n"
    "  --max-sessions N  with --recovery: entries of the cluster's recovery session table in\n"
    "               shared memory (default 131072, 1..16777214; a session that finds no free\n"
    "               entry is not saved: that client starts afresh if it must recover)\n"
    "  --session-bytes N  bytes per entry, its id, rooms and data as JSON included\n"
    "               (default 512; a multiple of 64 in 256..65536; larger states are not saved)\n"
    "  --cut-log-mb N  with --ring-per-worker and --recovery: shared memory for the workers'\n"
    "               cut logs together (default 256, 1..65536; each keeps at most 262144\n"
    "               entries: a recovery from an entry overwritten since starts afresh; too\n"
    "               little for 16 entries a worker, 8 x (workers + 3) bytes each: refused)\n"
    "  --max-held-sends N  with --recovery and one shared ring: at most N sends to a worker's\n"
    "               own sockets that skip the ring (local, volatile and acknowledged emits, room\n"
    "               changes, fetchSockets' own look) wait for its broadcasts made before them\n"
    "               (default 65536; 0: no bound; 0..4294967295); past it the worker reads its\n"
    "               rings, then the oldest still waiting go out ahead of them\n"
    "               (shmio_held_sends_released_early_total)\n"
    "  --no-rebalance  with workers on one port: do not hand fresh connections to a less\n"
    "               loaded worker, nor ask clients of a busy worker to reconnect\n"
    "  --rebalance-rate N  clients a busy worker asks to reconnect per second at most, with\n"
    "               recovery (default 50, 1..1000000; they recover wherever they land)\n"
    "  --workers N  run as a cluster of N worker processes (1..960, or auto) joined by the\n"
    "               shared-memory ring (auto: one per CPU of the affinity mask, no more than\n"
    "               a cgroup's CPU limit rounded up, as docker --cpus sets it; none: one\n"
    "               process); without it, the program's default (one process unless its code\n"
    "               sets workers). In one process\n"
    "               the cluster's --ring, --ring-mb, --ring-huge-pages, --ring-per-worker,\n"
    "               --port-per-worker, --max-sessions, --session-bytes, --cut-log-mb,\n"
    "               --max-held-sends and --redis* are refused (exit 2)\n"
    "  --port-per-worker  worker i listens on P+i instead of all on P (SO_REUSEPORT)\n"
    "  --no-pin     do not pin worker i to the i-th CPU\n"
    "  --ring NAME  the ring's name (default port-P; /dev/shm/shmio.NAME)\n"
    "  --ring-mb M  the ring's size in MiB, a power of two in 1..65536 (default 64)\n"
    "  --ring-huge-pages  ask for transparent huge pages (2 MiB) for the ring: granted where\n"
    "               /dev/shm's tmpfs allows them (mounted huge=advise or always; docs/ring.md,\n"
    "               Page faults)\n"
    "  --ring-per-worker  each worker writes into a ring of its own (NAME.wI, --ring-mb each,\n"
    "               made for one producer: no locked instruction per publish) and reads the\n"
    "               others' and the shared one; only each worker's own order is kept\n"
    "               (docs/ring-per-worker.md). Needs --workers (at most 128; 127 with\n"
    "               --redis); with --recovery each worker also keeps a cut log of what it\n"
    "               delivered (shmio-cuts.NAME.*; offsets of 32 digits)\n"
    "  --redis URL  join a fleet of socket.io servers on Redis (redis://[[user]:pass@]host[:port]\n"
    "               [/db] or unix:///path[?db=N]): one bridge process per host, supervised\n"
    "               (docs/redis.md); needs --workers\n"
    "  --redis-mode classic|sharded  the adapter's protocol: @socket.io/redis-adapter's\n"
    "               createAdapter (default) or createShardedAdapter (Redis 7)\n"
    "  --redis-subscription-mode static|dynamic|dynamic-private  the sharded adapter's\n"
    "               subscriptionMode (default dynamic)\n"
    "  --redis-key K  the adapter's key, or the sharded one's channelPrefix (default socket.io)\n"
    "  A flag given twice takes its last value (a wrapper's defaults, then yours); each\n"
    "  --allow-origin adds one origin. On the command line, a flag replaces its variable's value.\n"
    "  Each flag also from the environment: SHMIO_PORT=8080, SHMIO_WORKERS=auto, SHMIO_NO_PIN=1\n"
    "  (a switch: 1, true or yes turns it on; 0, false or no off, over the program's own\n"
    "  setting; empty: not given; a flag's value may not be empty);\n"
    "  SHMIO_ALLOW_ORIGIN takes several origins, separated by spaces or commas.\n"
    "  SHMIO_RING_NOTIFIER=thread|io_uring: how a cluster's workers wait on the ring (default:\n"
    "  io_uring where the kernel allows it, else a thread; docs/ring.md).\n"
    "  GET /health and GET /metrics are served by every worker.\n";

// Raises RLIMIT_NOFILE's soft limit to its hard limit while it lives (`now`: the limit in force),
// and gives the program its own back when serve() returns (before 2026-12-06 it stayed raised: a
// program that embeds serve() and goes on, or lowered it for a child of its own, found it moved).
struct RaisedFdLimit {
  rlimit before{};
  bool raised = false;
  std::uint64_t now = 0;
  RaisedFdLimit() {
    if (::getrlimit(RLIMIT_NOFILE, &before) != 0) return;
    now = static_cast<std::uint64_t>(before.rlim_cur);
    if (before.rlim_cur < before.rlim_max) {
      rlimit up = before;
      up.rlim_cur = before.rlim_max;
      raised = ::setrlimit(RLIMIT_NOFILE, &up) == 0;
      if (raised) now = static_cast<std::uint64_t>(up.rlim_cur);
    }
  }
  RaisedFdLimit(const RaisedFdLimit&) = delete;
  RaisedFdLimit& operator=(const RaisedFdLimit&) = delete;
  ~RaisedFdLimit() {
    if (raised) (void)::setrlimit(RLIMIT_NOFILE, &before);
  }
};

// The process's stderr before route_stderr replaced descriptor 2 (kept across fork: a worker
// writes where its supervisor would have written, not into the supervisor's pipe).
int g_real_stderr = -1;

// The thread route_stderr() started, and in which process (a forked worker starts its own; the
// copy of its parent's it inherits names no thread of its own). Never destroyed: a thread of a
// process that exits without finish_stderr() (the supervisor's) runs to the end as a detached
// one did.
std::thread* g_stderr_thread = nullptr;
pid_t g_stderr_pid = 0;
// Set by finish_stderr(): the thread ends once the pipe has been quiet for 100 ms, EOF or not
// (a child the app started may hold the pipe's write end, inherited as its stderr: waiting for
// EOF, the process never exited).
std::atomic<bool> g_stderr_finishing{false};
// Held by the thread while it calls the app's log hook, and by the supervisor around each fork:
// a hook that takes a lock of its own (a logging library's) must not be mid-call when the process
// is copied, or the child inherits that lock held by a thread it does not have, and its first
// line waits for ever (found in review, 2026-12-03).
std::mutex g_log_gate;

// What a fatal signal's handler needs (set by route_stderr; read in the handler, so plain values
// written before it is installed): the pipe's read end and the tag of this process's lines.
int g_stderr_pipe = -1;
char g_stderr_tag[24] = "";
std::size_t g_stderr_tag_len = 0;
// The line the stderr thread holds, not ended yet (its first 4 KiB): a process that dies after
// writing it, once the thread has read it from the pipe, would lose it with the thread.
char g_stderr_partial[4096];
std::atomic<std::size_t> g_stderr_partial_len{0};
constexpr int kFatalSignals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
struct sigaction g_fatal_before[std::size(kFatalSignals)];

// A process dying of a signal (abort(), std::terminate, a crash) takes the stderr thread with it,
// and what it last wrote (the reason: "terminate called after...", an assertion, the app's own
// last line) was still in the pipe: lost (before 2026-12-04; a helper's review). Async-signal-
// safe: the real stderr back on descriptor 2 (so that what follows, a sanitizer's report, goes
// straight out), what the pipe holds written there line by line with the tag (a line without its
// newline ended), then the signal's disposition as it was, and the signal again: raised anew
// when it was sent, or met again by returning to the fault that raised it.
void on_fatal_signal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  if (g_stderr_pid == ::getpid() && g_real_stderr >= 0 && g_stderr_pipe >= 0) {
    ::dup2(g_real_stderr, 2);
    char buf[4096];
    bool line_start = true;
    // What the thread holds of a line first: what the pipe still has continues it.
    const std::size_t held =
        std::min(g_stderr_partial_len.load(std::memory_order_acquire), sizeof g_stderr_partial);
    if (held > 0) {
      if (g_stderr_tag_len > 0) (void)!::write(g_real_stderr, g_stderr_tag, g_stderr_tag_len);
      (void)!::write(g_real_stderr, g_stderr_partial, held);
      line_start = false;
    }
    for (;;) {
      pollfd p{g_stderr_pipe, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0) break;
      const ssize_t n = ::read(g_stderr_pipe, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n;) {
        if (line_start && g_stderr_tag_len > 0)
          (void)!::write(g_real_stderr, g_stderr_tag, g_stderr_tag_len);
        const void* nl = std::memchr(buf + i, '\n', static_cast<std::size_t>(n - i));
        const ssize_t end = nl != nullptr ? static_cast<const char*>(nl) - buf + 1 : n;
        (void)!::write(g_real_stderr, buf + i, static_cast<std::size_t>(end - i));
        line_start = nl != nullptr;
        i = end;
      }
    }
    if (!line_start) (void)!::write(g_real_stderr, "\n", 1);
  }
  for (std::size_t k = 0; k < std::size(kFatalSignals); ++k)
    if (kFatalSignals[k] == sig) ::sigaction(sig, &g_fatal_before[k], nullptr);
  errno = saved_errno;
  if (info == nullptr || info->si_code <= 0 || sig == SIGABRT) ::raise(sig);
}

// The read end of the pipe of the process this one was forked from (a supervisor that routes its
// stderr), closed: a child kept it open, and a process writing into that pipe (the fleet bridge,
// whose stderr it is) never got EPIPE once the supervisor was gone, its writes blocking when the
// pipe filled (before 2026-12-05; a helper's review).
// (The thread's handle too, let go of, not destroyed: it names a thread of that process, not one
// of this; had this process's own thread then not been made, its finish_stderr() joined it.)
void close_inherited_log_pipe() {
  if (g_stderr_pid != 0 && g_stderr_pid != ::getpid()) {
    if (g_stderr_pipe >= 0) ::close(g_stderr_pipe);
    g_stderr_pipe = -1;
    g_stderr_thread = nullptr;
    g_stderr_pid = 0;
  }
}

// Every line this process writes to stderr goes through a pipe to a thread that hands it to
// `log` (or, without one, writes "[wI] line" to the real stderr).
void route_stderr(int worker, const std::function<void(int, std::string_view)>& log) {
  close_inherited_log_pipe();
  const bool made_real = g_real_stderr < 0;  // (a worker's is its supervisor's copy)
  if (made_real) g_real_stderr = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  const int real = g_real_stderr;
  // Not routed (no pipe, no thread): the lines go to stderr as they are. A worker's descriptor 2
  // is still its supervisor's pipe (whose thread would tag its lines as the supervisor's): the
  // real stderr instead. The copy made here, let go of (a later serve() routes afresh).
  auto unrouted = [&] {
    if (worker >= 0 && real >= 0) (void)::dup2(real, 2);
    if (made_real && real >= 0) {
      ::close(real);
      g_real_stderr = -1;
    }
  };
  int fds[2];
  if (real < 0 || ::pipe2(fds, O_CLOEXEC) != 0) return unrouted();
  g_stderr_finishing = false;  // (a process that served before, or a worker forked after it)
  g_stderr_partial_len.store(0, std::memory_order_release);  // (that one's partial line too)
  // The thread first; descriptor 2 and the fatal signals' handlers only once it runs. A thread
  // that could not be made (a cgroup's pids.max, a container's task limit) left every signal
  // blocked in the caller for good (a program no Ctrl-C or SIGTERM stopped), descriptor 2 a pipe
  // nobody read (its writes blocked once 64 KiB was there), and, in a worker, the supervisor's
  // thread's handle taken for its own and joined at its end (before 2026-12-05; found by a
  // review). Now the process's lines go to stderr as they are, and that is said.
  auto body = [in = fds[0], real, worker, log] {
    // (The supervisor's own lines, worker -1, untagged, as without a hook.)
    const std::string tag = worker < 0 ? std::string() : "[w" + std::to_string(worker) + "] ";
    std::string line;
    char buf[4096];
    // A hook that throws: the line goes to the real stderr as it would without a hook, and that
    // is said once (before 2026-12-05 the exception ended this thread, and std::terminate the
    // process: a worker restarted over and over, or the supervisor and its cluster gone).
    bool hook_threw = false;
    const auto emit = [&] {
      if (log) {
        std::string why;
        {
          // (Held around the hook only: the writes below, to a stderr that may be a full pipe,
          // would hold a fork waiting in before_fork.)
          const std::lock_guard<std::mutex> gate(g_log_gate);
          try {
            log(worker, line);
            return;
          } catch (const std::exception& e) {
            why = e.what();
          } catch (...) {
            why = "not a std::exception";
          }
        }
        if (!std::exchange(hook_threw, true)) {
          const std::string said = tag + "shmio: the log hook threw (" + why +
                                   "): this line and any other it throws on go to stderr\n";
          (void)!::write(real, said.data(), said.size());
        }
      }
      const std::string out = tag + line + "\n";
      (void)!::write(real, out.data(), out.size());
    };
    // A last line without its newline, at the end (it was dropped before 2026-12-04).
    const auto emit_rest = [&] {
      if (!line.empty()) emit();
    };
    for (;;) {
      pollfd p{in, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        if (!g_stderr_finishing.load()) continue;
        // Finishing: what was written before the flag was set is read first. The flag may have
        // been set after this poll timed out, with a line written just before it: returning at
        // once lost that line — a worker's "cannot join the cluster", in 1 of 30 starts here
        // (before 2026-12-05; e2e_api's test of it failed under ctest -j2).
        p.revents = 0;
        if (::poll(&p, 1, 0) <= 0) return emit_rest();
      }
      const ssize_t n = ::read(in, buf, sizeof buf);
      if (n <= 0) return emit_rest();
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          line += buf[i];
          continue;
        }
        emit();
        line.clear();
      }
      // (Published for a fatal signal's handler: the line not ended yet.)
      const std::size_t held = std::min(line.size(), sizeof g_stderr_partial);
      std::memcpy(g_stderr_partial, line.data(), held);
      g_stderr_partial_len.store(held, std::memory_order_release);
    }
  };
  std::thread* thread = nullptr;
  try {
    // The thread blocks the process's signals: one sent to the process (SIGTERM to the
    // supervisor, which waits for it with sigtimedwait) must not be delivered to this thread —
    // default action: the process killed, its rings left behind — rather than to the one that
    // waits for it.
    const shm::ThreadSignalsBlocked blocked;
    thread = new std::thread(std::move(body));
  } catch (const std::exception& e) {
    ::close(fds[0]);
    ::close(fds[1]);
    unrouted();
    char who[24] = "shmio";
    if (worker >= 0) std::snprintf(who, sizeof who, "shmio[w%d]", worker);
    std::fprintf(stderr,
                 "%s: no thread to take this process's stderr lines (%s): they go to stderr as "
                 "they are%s\n",
                 who, e.what(), log ? ", not to the log hook" : "");
    return;
  }
  if (::dup2(fds[1], 2) < 0) {
    ::close(fds[1]);  // (the thread reads its end, and ends)
    thread->join();
    delete thread;
    ::close(fds[0]);
    return unrouted();
  }
  ::close(fds[1]);
  g_stderr_pipe = fds[0];
  g_stderr_tag_len =
      worker < 0 ? 0
                 : static_cast<std::size_t>(std::max(
                       0, std::snprintf(g_stderr_tag, sizeof g_stderr_tag, "[w%d] ", worker)));
  g_stderr_thread = thread;
  g_stderr_pid = ::getpid();  // (last: a fatal signal's handler goes by it)
  for (std::size_t k = 0; k < std::size(kFatalSignals); ++k) {
    // (Already this handler — a worker forked from a supervisor that routes its own stderr, or a
    // second serve() — its disposition from before stays what it was: taken as "before", the
    // handler gave the signal back to itself and the process raised it for ever.)
    struct sigaction now {};
    if (::sigaction(kFatalSignals[k], nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 &&
        now.sa_sigaction == on_fatal_signal)
      continue;
    struct sigaction fatal {};
    fatal.sa_sigaction = on_fatal_signal;
    fatal.sa_flags = SA_SIGINFO;
    sigemptyset(&fatal.sa_mask);
    ::sigaction(kFatalSignals[k], &fatal, &g_fatal_before[k]);
  }
}

// Before this process exits: the pipe's write end closed (the real stderr back on descriptor 2),
// and the thread's last lines written — a worker that exits at once (it cannot listen) would
// otherwise lose the line that says why.
// (Once: a second call finds the thread joined and does nothing.)
void finish_stderr() {
  if (g_stderr_thread == nullptr || g_stderr_pid != ::getpid() || !g_stderr_thread->joinable())
    return;
  std::fflush(stderr);
  ::dup2(g_real_stderr, 2);
  g_stderr_finishing = true;
  g_stderr_thread->join();
  // Let go, so that a later serve() in this process routes afresh from the stderr the program
  // has then: it kept the first call's copy, and the dup2 above put that back over a redirect the
  // program made between the two (before 2026-12-05; found by a review). The pipe's read end,
  // the copy of the real stderr, the thread, and the fatal signals' handlers (their dispositions
  // from before back: a later crash of the program is not taken for this run's).
  for (std::size_t k = 0; k < std::size(kFatalSignals); ++k) {
    struct sigaction now {};
    if (::sigaction(kFatalSignals[k], nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 &&
        now.sa_sigaction == on_fatal_signal)
      ::sigaction(kFatalSignals[k], &g_fatal_before[k], nullptr);
  }
  const int pipe_end = g_stderr_pipe, real = g_real_stderr;
  g_stderr_pipe = -1;
  g_real_stderr = -1;
  ::close(pipe_end);
  ::close(real);
  delete g_stderr_thread;  // (joined)
  g_stderr_thread = nullptr;
}
// finish_stderr() on every way out of a scope (a return, an exception).
struct FinishStderrAtExit {
  FinishStderrAtExit() = default;
  FinishStderrAtExit(const FinishStderrAtExit&) = delete;
  FinishStderrAtExit& operator=(const FinishStderrAtExit&) = delete;
  ~FinishStderrAtExit() { finish_stderr(); }
};

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The descriptors open in this process, or nullopt where that cannot be read. Linux 6.2 and later
// give the count as /proc/self/fd's size, at once; before, the directory is listed — on the
// server's loop once a second (the board) and at each scrape; a review timed a listing at 17 ms
// for 20,000 descriptors on the dev VM (0.85 us each; more scales with it, not measured) — so a
// listing is kept for 10 s there (before 2026-12-05 every call listed).
std::optional<std::uint64_t> open_descriptors() {
  struct stat st {};
  if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
    return static_cast<std::uint64_t>(st.st_size);
  static thread_local std::optional<std::uint64_t> listed;
  static thread_local std::chrono::steady_clock::time_point listed_at;
  const auto now = std::chrono::steady_clock::now();
  if (listed && now - listed_at < std::chrono::seconds(10)) return listed;
  // (The listing's own descriptor not counted. Left out when it cannot be read: at the
  // descriptor limit opening the directory fails, and the series read 0 there, the one moment
  // an operator looks at it; before 2026-12-04.)
  std::error_code fec;
  std::uint64_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", fec);
       !fec && it != std::filesystem::directory_iterator(); it.increment(fec))
    ++fds;
  if (fec || fds == 0) return std::nullopt;
  listed = fds - 1;
  listed_at = now;
  return listed;
}

// This process's /metrics exposition: the Engine.IO server's figures, each namespace's, and (in a
// cluster) the worker's ring and recovery figures. A cluster's /metrics merges every worker's
// (Node::cluster_metrics_text, over the workers' board in shared memory).
std::string local_metrics(sio::Server* server, cluster::Node* node, int worker) {
  std::string out;
  const std::string wl = "worker=\"" + std::to_string(worker) + "\"";
  const std::string w = "{" + wl + "}";
  auto line = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
    cluster::append_metric(out, name, type, help, v, w);
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
    line("shmio_handed_off_total", "counter",
         "Connections given to their session's worker to hand over (those that failed are also "
         "in shmio_handoffs_failed_total).",
         st.handed_off);
    line("shmio_adopted_total", "counter", "Connections taken over from another worker.",
         st.adopted);
    line("shmio_flushes_total", "counter",
         "End-of-turn flushes (each writes every socket that got output in the turn).", st.flushes);
    line("shmio_io_uring_submissions_total", "counter",
         "Flushes written with one io_uring submission.", st.uring_submissions);
    line("shmio_flush_deferrals_total", "counter",
         "Flushes that left a socket's output for the next turn (--flush-budget, or 64 "
         "frames in one io_uring batch).",
         st.flush_deferrals);
    line("shmio_read_yields_total", "counter",
         "Reads paused for other sockets' turn after --read-budget bytes from one socket.",
         st.read_yields);
    line("shmio_slow_consumer_disconnects_total", "counter",
         "Sessions closed because their queue passed its bound (a client not reading).",
         st.slow_consumer_closes);
    line("shmio_accept_errors_total", "counter",
         "Connections not accepted for lack of descriptors or memory (accepting paused).",
         st.accept_errors);
    line("shmio_connections_refused_total", "counter",
         "Connections closed at accept: past the descriptor bound (descriptor_reserve).",
         st.connections_refused);
    line("shmio_sessions_refused_total", "counter",
         "Handshakes answered 503: --max-open-sessions sessions held in this worker.",
         st.sessions_refused);
    line("shmio_request_timeouts_total", "counter",
         "Connections closed while waiting for a request header (first request: "
         "--first-request-timeout).",
         st.request_timeouts);
    line("shmio_descriptor_bound", "gauge",
         "Accepted connections must get a descriptor below this (0: no bound).",
         st.descriptor_bound);
    if (const std::optional<std::uint64_t> fds = open_descriptors())
      line("shmio_open_descriptors", "gauge", "Descriptors open in this process.", *fds);
    const auto& tt = st.turn_time;
    cluster::append_histogram(
        out, "shmio_turn_seconds",
        "Event-loop turns with output: from the first output queued in the turn to the end of "
        "its flush.",
        std::vector<std::uint64_t>(tt.kBoundsUs.begin(), tt.kBoundsUs.end()),
        std::vector<std::uint64_t>(tt.counts.begin(), tt.counts.end()), tt.sum_us, 1e-6, wl);
    // Per namespace (at most 100 series each: a server with more namespaces, e.g. dynamic ones,
    // shows 100 of them, those shown before first; the totals above count them all, and
    // shmio_namespaces says how many there are).
    const std::vector<std::string> names = server->namespace_names();
    line("shmio_namespaces", "gauge",
         "Namespaces of this process (series per namespace: 100 of them, and 16 KiB of names, "
         "those shown before first, then by name).",
         names.size());
    line("shmio_dynamic_namespaces_refused_total", "counter",
         "CONNECTs to a new dynamic namespace refused past max_dynamic_namespaces (or a name "
         "past max_dynamic_namespace_bytes).",
         server->dynamic_namespaces_refused());
    line("shmio_namespaces_removed_total", "counter",
         "Dynamic namespaces removed once empty (cleanup_empty_child_namespaces).",
         server->namespaces_removed());
    line("shmio_namespaces_detached", "gauge",
         "Removed namespaces still in memory: a socket of theirs the app holds.",
         server->namespaces_detached());
    // Each family once, its namespaces' series together (the exposition format allows one HELP
    // and TYPE per family, its samples in one group: written per namespace, a second TYPE line
    // made Prometheus refuse the whole scrape of a process with more than one namespace).
    // A namespace shown once is shown again while it exists, before any other: a namespace
    // created later that sorts before it took its place, and its counters' worker="all" totals
    // went down (a counter reset to Prometheus, and a spike in rate()) while the other workers
    // still counted it (before 2026-12-04; a helper's review). Then the first by name, up to 100.
    // (Per server, on its thread: the HTTP handler and the board's post both run there, and two
    // servers on two threads do not share the map.)
    static thread_local std::map<const sio::Server*, std::set<std::string>> shown_before;
    std::set<std::string>& sticky = shown_before[server];
    // A namespace removed (cleanup_empty_child_namespaces) stays shown while its counters are
    // kept for its next making (sio::Server::carried_stats): its counters at their last values,
    // its gauges at 0. Until 2026-12-05 it left at once, and the cluster's worker="all" total of
    // each counter went down while other workers still had the namespace.
    std::erase_if(sticky, [&](const std::string& n) {
      return !std::binary_search(names.begin(), names.end(), n) &&
             server->carried_stats(n) == nullptr;
    });
    // A live namespace not shown yet takes a removed one's place when all 100 are taken (removed
    // ones kept them for good otherwise, and an app of many short-lived namespaces showed only
    // dead ones): that series leaves, its worker="all" totals lower while another worker still
    // has the namespace. The first removed one by name goes.
    // And at most kNamespaceLabelBytes of names (escaped) are shown together: five families of
    // them must fit a post on the cluster's board (256 KiB) beside the rest of the exposition.
    // 100 names of 256 bytes of quotes (a client's choice) did not: every post was refused, and
    // the other workers showed this one's counters frozen at its last post (before 2026-12-04).
    // A name that does not fit is not shown, as one past the 100 (shmio_namespaces counts it).
    constexpr std::size_t kNamespaceLabelBytes = 16 * 1024;
    const auto escaped = [](const std::string& name) {
      std::string esc;
      for (char c : name) {
        if (c == '\\' || c == '"') esc += '\\';
        if (c == '\n') {
          esc += "\\n";
          continue;
        }
        esc += c;
      }
      return esc;
    };
    const auto live = [&](const std::string& n) {
      return std::binary_search(names.begin(), names.end(), n);
    };
    std::size_t label_bytes = 0, removed_bytes = 0, removed_count = 0;
    for (const std::string& n : sticky) {
      const std::size_t b = escaped(n).size();
      label_bytes += b;
      if (!live(n)) {
        removed_bytes += b;
        ++removed_count;
      }
    }
    for (const std::string& name : names) {
      if (sticky.count(name) != 0) continue;
      const std::size_t b = escaped(name).size();
      const auto fits = [&](std::size_t count, std::size_t bytes) {
        return count < 100 && bytes + b <= kNamespaceLabelBytes;
      };
      // (Removed ones make way only if that is enough.)
      if (!fits(sticky.size(), label_bytes) &&
          !fits(sticky.size() - removed_count, label_bytes - removed_bytes))
        continue;
      for (auto it = sticky.begin(); !fits(sticky.size(), label_bytes) && it != sticky.end();) {
        if (live(*it)) {
          ++it;
          continue;
        }
        const std::size_t gone = escaped(*it).size();
        label_bytes -= gone;
        removed_bytes -= gone;
        --removed_count;
        it = sticky.erase(it);
      }
      sticky.insert(name);
      label_bytes += b;
    }
    struct Row {
      std::string labels;
      std::uint64_t sockets = 0, rooms = 0;
      sio::Namespace::Stats stats;
    };
    std::vector<Row> shown;
    for (const std::string& name : sticky) {  // (by name, as `names`)
      Row row;
      if (sio::Namespace* n = server->existing(name)) {
        row.sockets = n->size();
        row.rooms = n->room_count();
        row.stats = n->stats();
      } else if (const sio::Namespace::Stats* kept = server->carried_stats(name)) {
        row.stats = *kept;
      } else {
        continue;
      }
      row.labels = "{namespace=\"" + escaped(name) + "\"," + wl + "}";
      shown.push_back(std::move(row));
    }
    auto family = [&](const char* metric, const char* type, const char* help, auto value) {
      if (shown.empty()) return;
      out +=
          std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
      for (const Row& r : shown) out += metric + r.labels + " " + std::to_string(value(r)) + "\n";
    };
    family("shmio_namespace_sockets", "gauge", "Sockets connected to the namespace.",
           [](const Row& r) { return r.sockets; });
    family("shmio_namespace_rooms", "gauge",
           "Rooms joined in the namespace (a socket's own room not counted).",
           [](const Row& r) { return r.rooms; });
    family("shmio_namespace_messages_out_total", "counter",
           "Event packets sent to the namespace's sockets (a broadcast counts once per socket "
           "reached; a dynamic namespace removed and made again counts on).",
           [](const Row& r) { return r.stats.messages_out; });
    family("shmio_namespace_bytes_out_total", "counter",
           "Payload bytes of those packets (attachments included).",
           [](const Row& r) { return r.stats.bytes_out; });
    family("shmio_namespace_volatile_dropped_total", "counter",
           "Volatile packets dropped for sockets that could not take them.",
           [](const Row& r) { return r.stats.volatile_dropped; });
  }
  if (node) out += node->metrics_text();
  return out;
}

// /health and /metrics around the app's own static files.
void operations(sio::ServerOptions& options, sio::Server*& server, cluster::Node*& node,
                int worker) {
  auto app_files = options.static_files;
  options.static_files =
      [app_files, &server, &node,
       worker](const std::string& path) -> std::optional<engineio::ServerOptions::StaticResponse> {
    if (path == "/health") {
      // (A liveness check: 200 and "ok" while the process answers. Whether it takes new clients
      // is "accepting": false at max_open_sessions, where handshakes get 503, or draining; a
      // readiness check reads that. Since 2026-12-07: before, nothing said it; a review.)
      json::object o{{"status", "ok"},
                     {"worker", worker},
                     {"pid", static_cast<std::int64_t>(::getpid())},
                     {"clients", server ? server->client_count() : 0},
                     {"accepting", server ? server->engine().accepting_handshakes() : false}};
      if (node) {
        o["workers"] = node->server_count();
        // Every worker as the board has it: whether it lives, how long ago it last posted.
        json::array all;
        for (const auto& w : node->workers_status())
          all.push_back(json::object{{"worker", w.worker},
                                     {"pid", static_cast<std::int64_t>(w.pid)},
                                     {"alive", w.alive},
                                     {"posted_ms_ago", w.posted_ms_ago},
                                     {"connections", w.connections}});
        o["cluster"] = std::move(all);
        // The Redis fleet's bridge (--redis), as it last posted (docs/redis.md).
        if (auto b = node->bridge_status())
          o["fleet"] = json::object{{"pid", static_cast<std::int64_t>(b->pid)},
                                    {"alive", b->alive},
                                    {"posted_ms_ago", b->posted_ms_ago},
                                    {"redis_connected", b->connected},
                                    {"unsent", b->unsent}};
      }
      return {{"application/json", std::make_shared<const std::string>(json::serialize(o))}};
    }
    if (path == "/metrics") {
      std::string out = node ? node->cluster_metrics_text() : local_metrics(server, node, worker);
      return {{"text/plain; version=0.0.4; charset=utf-8",
               std::make_shared<const std::string>(std::move(out))}};
    }
    return app_files ? app_files(path) : std::nullopt;
  };
}

// A host[:port] (a Host header's value, an origin's authority) split into its host, in lower
// case, and its port (`default_port` where none is written); an IPv6 host keeps its brackets.
std::pair<std::string, std::string> host_and_port(std::string_view hp,
                                                  std::string_view default_port) {
  std::string_view host = hp, port = default_port;
  if (!hp.empty() && hp.front() == '[') {
    const std::size_t close = hp.find(']');
    if (close != std::string_view::npos) {
      host = hp.substr(0, close + 1);
      if (hp.size() > close + 2 && hp[close + 1] == ':') port = hp.substr(close + 2);
    }
  } else if (const std::size_t colon = hp.rfind(':'); colon != std::string_view::npos) {
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  return {ascii_lower(host), std::string(port)};
}

// One server process: the whole app (no cluster), or one worker of a cluster.
int serve_one(const ServeOptions& cfg, const Setup& setup, const cluster::WorkerContext* ctx) {
  if (ctx != nullptr) route_stderr(ctx->index, cfg.log);  // (one process: serve() did it)
  sio::ServerOptions options = cfg.server;
  if (!cfg.allowed_origins.empty()) {
    // allowRequest: a handshake from a page of another origin (or with no Origin) gets 403; the
    // app's own allow_request is asked too. (Compared without case: a browser sends its scheme
    // and host in lower case, an operator may write them otherwise.)
    // A request without Origin from a page of the server's own origin is taken: a browser sends
    // none on a same-origin GET (a polling handshake), and says where the request comes from in
    // Sec-Fetch-Site (before 2026-12-05 the server's own page, the chat demo's, could not connect
    // by polling). Others without Origin (not from a browser, or a cross-site "no-cors" GET) stay
    // refused — but one: a browser sends Sec-Fetch-Site only to a potentially trustworthy URL
    // (https, localhost), so a page served over plain http from any other address (a LAN
    // address: the chat demo with SHMIO_HOST=0.0.0.0) sends neither on its polling handshake,
    // and was refused (before 2026-12-07; a bug hunt). So a request with neither, whose Host is
    // an allowed plain-http, non-loopback origin's host and port, is taken too (a cross-site
    // "no-cors" GET to such a page's address then makes a session whose answer it cannot read;
    // one with Sec-Fetch-Site other than same-origin stays refused).
    std::set<std::string> origins;
    // (Each allowed origin's authority: its host and port, and its scheme's default port.)
    std::vector<std::tuple<std::string, std::string, std::string>> hosts;
    for (const std::string& o : cfg.allowed_origins) {
      origins.insert(ascii_lower(o));
      // (Only plain http origins that are not loopback: a browser sends Sec-Fetch-Site to every
      // other page, and one that does not, an older one, is then not let in without Origin.)
      const std::size_t sep = o.find("://");
      if (sep == std::string::npos || ascii_lower(o.substr(0, sep)) != "http") continue;
      auto [host, port] = host_and_port(std::string_view(o).substr(sep + 3), "80");
      const bool loopback = host == "localhost" ||
                            (host.size() > 10 && host.ends_with(".localhost")) ||
                            host.rfind("127.", 0) == 0 || host == "[::1]";
      if (!loopback) hosts.emplace_back(std::move(host), std::move(port), "80");
    }
    options.allow_request = [origins, hosts, app = cfg.server.allow_request](const auto& headers) {
      bool known = false, has_origin = false, same_origin = false, has_fetch_site = false;
      std::string_view host_header;
      for (const auto& [name, value] : headers) {
        if (name == "origin") {
          has_origin = true;
          known = origins.count(ascii_lower(value)) != 0;
        } else if (name == "sec-fetch-site") {
          has_fetch_site = true;
          same_origin = value == "same-origin";
        } else if (name == "host") {
          host_header = value;
        }
      }
      const auto own_host = [&] {
        for (const auto& [host, port, dflt] : hosts)
          if (host_and_port(host_header, dflt) == std::pair(host, port)) return true;
        return false;
      };
      const bool from_own_page =
          !has_origin && (same_origin || (!has_fetch_site && !host_header.empty() && own_host()));
      return (known || from_own_page) && (!app || app(headers));
    };
    // And the allowed origins' pages get CORS headers (their polling answers were blocked by the
    // browser before 2026-12-05), unless the app set its own.
    if (options.cors_origin.empty() && options.cors_origins.empty() && !options.cors_reflect_origin)
      options.cors_origins.assign(origins.begin(), origins.end());
  }
  const int worker = ctx ? ctx->index : 0;
  // A failure before serving (the cluster cannot be joined, the Server refuses its options, the
  // app's setup threw, the port is taken): said, and the exit code. A worker's is
  // kWorkerCannotStart: at its first start the supervisor stops the cluster, where a plain exit
  // was taken for a crash and the worker restarted into the same failure for ever (found in
  // reviews, 2026-12-02 and 12-03, e.g. with SHMIO_RING_NOTIFIER set wrong).
  auto cannot_start = [ctx](const std::string& what, const char* why) {
    std::fprintf(stderr, "shmio: %s: %s\n", what.c_str(), why);
    return ctx != nullptr ? cluster::kWorkerCannotStart : 1;
  };
  const std::string cannot_join = "worker " + std::to_string(worker) + " cannot join the cluster";
  sio::Server* server_ptr = nullptr;
  cluster::Node* node_ptr = nullptr;
  operations(options, server_ptr, node_ptr, worker);

  boost::asio::io_context io_ctx;
  // SIGUSR1 and SIGUSR2 at their default action ended the process without its drain — a worker
  // its clients cut off, a single process all of it — on a log rotation's habitual `pkill -USR1`:
  // while serve() runs, where they came in at their default action, said and ignored (until
  // 2026-12-07; the supervisor does the same: docs/cluster.md). A program's own handler is left.
  // Taken from here, before the Node, the Server and the app's setup (a worker's start: until
  // 2026-12-07 only once it listened, and a SIGUSR1 during a slow setup killed it), to the end,
  // where a worker's are left ignored (ignore_user_signals_after: a worker ending after its
  // drain); one process gives them back at their default action, as the program had them.
  boost::asio::signal_set user_signals(io_ctx);
  std::vector<int> user_sigs = cluster::user_signals_at_default();
  for (const int sig : user_sigs) user_signals.add(sig);
  // Asio's handler for them, as installed now: one the app's setup installs over it is told apart
  // below.
  struct sigaction asio_usr[2]{};
  for (const int sig : user_sigs) ::sigaction(sig, nullptr, &asio_usr[sig == SIGUSR1 ? 0 : 1]);
  struct IgnoredAtTheEnd {
    boost::asio::signal_set& set;
    const std::vector<int>& sigs;
    bool worker;
    ~IgnoredAtTheEnd() {
      if (!worker) return;
      cluster::ignore_user_signals_after(sigs, [this] {
        boost::system::error_code ignored;
        set.clear(ignored);
      });
    }
  } user_signals_ignored_at_the_end{user_signals, user_sigs, ctx != nullptr};
  std::unique_ptr<cluster::Node> node;
  if (ctx != nullptr) {
    cluster::NodeOptions no;
    no.ring = ctx->ring;
    no.worker = ctx->index;
    no.workers = ctx->workers;
    no.core = ctx->core;
    no.log_recoveries = cfg.log_sockets;
    no.max_sessions = cfg.max_sessions;
    no.session_bytes = cfg.session_bytes;
    no.cut_log_bytes = cfg.cut_log_mb << 20;
    no.max_held_sends = cfg.max_held_sends;
    no.rebalance = cfg.rebalance;
    no.rebalance_rate = cfg.rebalance_rate;
    no.ring_per_worker = cfg.ring_per_worker;
    // Polling requests reach their session's worker by hand-off, unless each worker has its own
    // port (then a client always talks to one worker).
    if (!cfg.port_per_worker) no.handoff = ctx->handoff_dir.empty() ? ctx->ring : ctx->handoff_dir;
    try {
      node = std::make_unique<cluster::Node>(io_ctx, no, options);
    } catch (const std::exception& e) {  // (its ring, its notifier, its hand-off socket)
      return cannot_start(cannot_join, e.what());
    }
    node_ptr = node.get();
  }
  // (--log-sockets: refused recoveries said in one process too — a cluster's worker says its own,
  // NodeOptions::log_recoveries; before 2026-12-07 one process said none.)
  if (cfg.log_sockets && options.connection_state_recovery)
    options.connection_state_recovery->log_refused = true;
  // (Options set in code are the Server's own to check.)
  std::optional<sio::Server> made;
  try {
    made.emplace(io_ctx, options);
  } catch (const std::exception& e) {
    return cannot_start("the server cannot start", e.what());
  }
  sio::Server& io = *made;
  server_ptr = &io;
  if (node)  // this worker's figures, posted on the workers' board once a second and at a scrape
    node->set_local_metrics(
        [&io, n = node.get(), worker] { return local_metrics(&io, n, worker); });
  // (Each namespace's first connection handler, so that the log's run before the app's: an app
  // whose connection handler disconnects the socket had its connect logged and never its
  // disconnect before 2026-12-07, a bug hunt. Registered before the app's setup, for the
  // namespaces it makes; a dynamic namespace's setup runs before the new_namespace handlers, as
  // socket.io's createChild: prepended.)
  if (cfg.log_sockets) {
    auto log_sockets = [](sio::Namespace& nsp) {
      nsp.prepend_connection([](const sio::SocketPtr& s) {
        std::fprintf(stderr, "socket connect %s %s\n", log_text(s->nsp().name()).c_str(),
                     s->id().c_str());
        s->on_disconnect([](const sio::SocketPtr& s2, const std::string& reason) {
          std::fprintf(stderr, "socket disconnect %s %s %s\n", log_text(s2->nsp().name()).c_str(),
                       s2->id().c_str(), reason.c_str());
        });
      });
    };
    for (const std::string& n : io.namespace_names()) log_sockets(io.of(n));
    // And every namespace made later (the setup's, a dynamic one a client's CONNECT creates): only
    // those the setup had made were logged before 2026-12-05.
    io.on_new_namespace(log_sockets);
  }
  const WorkerInfo info{worker, ctx ? ctx->workers : 1, ctx ? ctx->core : -1, ctx != nullptr};
  try {
    if (setup) setup(io, info);
  } catch (const std::exception& e) {
    return cannot_start("the app's setup failed", e.what());
  } catch (...) {
    // (Not a std::exception: the same "cannot start", not an exception out of the worker, which
    // the supervisor took for a crash and restarted every 5 s for good; before 2026-12-05.)
    return cannot_start("the app's setup failed",
                        "it threw something that is not a std::exception");
  }
  // A handler of the app's own for SIGUSR1/SIGUSR2 installed in its setup with sigaction (log
  // reopening) replaced Asio's: ours let go of and theirs put back (Asio's remove sets the
  // default action), blocked meanwhile: the signal is the app's from here, as one whose handler
  // was installed before serve() is, and stays so at the end. (An app's own Asio signal_set made
  // in setup cannot be told from ours: both hear the signal, and "SIGUSR1 ignored" is said too.)
  for (auto it = user_sigs.begin(); it != user_sigs.end();) {
    const struct sigaction& asio = asio_usr[*it == SIGUSR1 ? 0 : 1];
    struct sigaction now {};
    if (::sigaction(*it, nullptr, &now) != 0 ||
        (now.sa_handler == asio.sa_handler &&
         (now.sa_flags & SA_SIGINFO) == (asio.sa_flags & SA_SIGINFO))) {
      ++it;
      continue;
    }
    sigset_t one, before;
    sigemptyset(&one);
    sigaddset(&one, *it);
    ::pthread_sigmask(SIG_BLOCK, &one, &before);
    boost::system::error_code ignored;
    user_signals.remove(*it, ignored);
    ::sigaction(*it, &now, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    it = user_sigs.erase(it);
  }
  const long port = cfg.port_per_worker && ctx ? cfg.port + worker : cfg.port;
  int rc = 0;
  // A worker listens once it is ready (Node::when_ready: at once after start); one process at
  // once.
  auto listen = [&] {
    std::uint16_t bound = 0;
    try {
      bound = io.listen(cfg.host, static_cast<std::uint16_t>(port));
    } catch (const std::exception& e) {
      rc = cannot_start("cannot listen on " + cfg.host + ":" + std::to_string(port), e.what());
      io_ctx.stop();
      return;
    }
    if (ctx != nullptr)
      std::printf("shmio worker %d (pid %d, cpu %d) (%s) listening on %s:%u\n", worker, ::getpid(),
                  ctx->core, cfg.name.c_str(), cfg.host.c_str(), bound);
    else
      std::printf("shmio (%s) listening on %s:%u\n", cfg.name.c_str(), cfg.host.c_str(), bound);
    std::fflush(stdout);
  };
  // (SIGHUP too, as the supervisor takes it: a terminal's hang-up reaches every process of the
  // group, and its default action ended a worker, or a single process, without its drain.)
  // A process started with SIGHUP ignored (nohup), or SIGINT (a shell script's background job),
  // keeps ignoring it.
  // Taken before it listens (Asio keeps a signal that comes before the wait below): a stop signal
  // right after "listening" found its default action and ended the process without its drain,
  // its clients untold and the lines its stderr thread had not handed on yet lost — the
  // supervisor's drain SIGTERM in the moment after a worker listened (before 2026-12-05; e2e_api's
  // "serve() twice" lost a worker's setup line in 1 of 25 runs under load).
  boost::asio::signal_set signals(io_ctx);
  for (const int sig : cluster::stop_signals()) signals.add(sig);
  if (node) {
    try {
      node->start(io);  // (its hand-off socket: a bind that fails throws)
    } catch (const std::exception& e) {
      return cannot_start(cannot_join, e.what());
    }
    node->when_ready(listen);
  } else {
    listen();
    if (rc != 0) return rc;
  }
  // (user_signals, taken above: said from here.)
  std::function<void()> hear_user_signals = [&] {
    user_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      const char* name = sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2";
      if (ctx != nullptr)
        std::fprintf(stderr, "shmio[w%d]: %s ignored (SIGTERM drains)\n", worker, name);
      else
        std::fprintf(stderr, "shmio: %s ignored (SIGTERM drains)\n", name);
      hear_user_signals();
    });
  };
  hear_user_signals();
  // On SIGINT/SIGTERM/SIGHUP every client gets "server shutting down"; the close packets are
  // written before the loop stops (a short, bounded grace period).
  boost::asio::steady_timer grace(io_ctx);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    // One process: a second SIGINT or SIGTERM now takes its default action, ending it: the
    // drain below runs on this loop, and an on_stop or a handler that does not return held it,
    // every further Ctrl-C or kill queued here unseen until a SIGKILL (before 2026-12-05; found
    // by a review). Not SIGHUP: a terminal's hang-up comes twice (the shell's, then the
    // kernel's to the foreground group as the shell exits), and the second would end the drain
    // the first began. Not in a worker: a Ctrl-C reaches the whole group, the supervisor's
    // SIGTERM follows at once, and would end every worker in its drain; the supervisor's
    // deadline is the bound there. (A program's own handlers are put back once serve() returns.)
    if (ctx == nullptr) {
      boost::system::error_code ignored;
      signals.remove(SIGINT, ignored);
      signals.remove(SIGTERM, ignored);
    }
    if (cfg.on_stop) try {
        cfg.on_stop(io, info);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: the app's on_stop failed: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr,
                     "shmio: the app's on_stop failed: it threw something that is not a "
                     "std::exception\n");
      }
    io.engine().stop_accepting();
    if (node) node->draining();  // (no fresh handshake steered to it from now)
    {
      boost::system::error_code ignored;
      user_signals.cancel(ignored);  // (the drain's loop stops by the grace timer alone)
    }
    io.close();
    grace.expires_after(cfg.drain_grace);
    grace.async_wait([&](const boost::system::error_code&) { io_ctx.stop(); });
  });
  io_ctx.run();
  if (node) node->stop();
  return rc;
}

// A TCP socket bound to `addr` with the socket option `option` (SO_REUSEPORT, SO_REUSEADDR) on;
// -1 with errno set if it cannot be made or bound.
int bound_socket(const sockaddr_storage& addr, socklen_t len, int option) {
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, option, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0) return fd;
  const int e = errno;
  ::close(fd);
  errno = e;
  return -1;
}

// (Digits only, a '-' first for a negative bound: strtoll alone also took leading blanks and '+',
// so that " +47012" was port 47012 here and another ring name to the tools.)
bool whole(const char* v, long long lo, long long hi, long long& out) {
  const char* digits = *v == '-' && lo < 0 ? v + 1 : v;
  if (!std::isdigit(static_cast<unsigned char>(*digits))) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(v, &end, 10);
  return errno == 0 && *end == '\0' && out >= lo && out <= hi;
}

// The flags that take a value, and the switches.
// clang-format off
constexpr const char* kValueFlags[] = {
    "port",          "host",          "workers",         "ring",
    "ring-mb",       "allow-origin",  "max-sessions",    "rebalance-rate",
    "ping-interval", "ping-timeout",  "connect-timeout", "first-request-timeout",
    "flush-budget",  "read-budget",   "session-bytes",   "cut-log-mb",
    "redis",         "redis-mode",    "redis-key",       "redis-subscription-mode",
    "max-attachment-bytes", "max-json-depth", "max-open-sessions", "cookie", "watchdog-timeout",
    "max-held-sends", "serve-client"};
// clang-format on
constexpr const char* kSwitches[] = {"port-per-worker",     "no-pin",          "log-sockets",
                                     "per-message-deflate", "no-io-uring",     "recovery",
                                     "no-rebalance",        "ring-huge-pages", "ring-per-worker"};

// The flags with a whole number, their bounds and where each goes in ServeOptions: one table for
// the command line (parse_args) and for options set in code (serve() checks them all, so that an
// app's bad value is refused with exit 2 as the flag's is, not met later in a worker).
enum class Rule { plain, power_of_two, multiple_of_64, zero_or_range };
struct NumberFlag {
  const char* name;
  bool own;  // a field of ServeOptions itself (the rest are the Server's: server.*)
  long long lo, hi;
  Rule rule;
  const char* unit;
  long long (*get)(const ServeOptions&);
  void (*set)(ServeOptions&, long long);
};
using ms_t = std::chrono::milliseconds;
// clang-format off
const NumberFlag kNumberFlags[] = {
    {"port", true, 0, 65535, Rule::plain, "",
     [](const ServeOptions& o) -> long long { return o.port; },
     [](ServeOptions& o, long long n) { o.port = static_cast<long>(n); }},
    {"ring-mb", true, 1, 65536, Rule::power_of_two, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.ring_mb); },
     [](ServeOptions& o, long long n) { o.ring_mb = static_cast<std::uint64_t>(n); }},
    {"max-sessions", true, 1, 16777214, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.max_sessions); },
     [](ServeOptions& o, long long n) { o.max_sessions = static_cast<std::size_t>(n); }},
    {"session-bytes", true, 256, 65536, Rule::multiple_of_64, "",
     [](const ServeOptions& o) -> long long { return o.session_bytes; },
     [](ServeOptions& o, long long n) { o.session_bytes = static_cast<std::uint32_t>(n); }},
    {"cut-log-mb", true, 1, 65536, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.cut_log_mb); },
     [](ServeOptions& o, long long n) { o.cut_log_mb = static_cast<std::size_t>(n); }},
    {"max-held-sends", true, 0, 4294967295LL, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.max_held_sends); },
     [](ServeOptions& o, long long n) { o.max_held_sends = static_cast<std::size_t>(n); }},
    {"rebalance-rate", true, 1, 1'000'000, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.rebalance_rate); },
     [](ServeOptions& o, long long n) { o.rebalance_rate = static_cast<std::size_t>(n); }},
    {"ping-interval", false, 1, 3'600'000, Rule::plain, " ms",
     [](const ServeOptions& o) -> long long { return o.server.engine.ping_interval.count(); },
     [](ServeOptions& o, long long n) { o.server.engine.ping_interval = ms_t(n); }},
    {"ping-timeout", false, 1, 3'600'000, Rule::plain, " ms",
     [](const ServeOptions& o) -> long long { return o.server.engine.ping_timeout.count(); },
     [](ServeOptions& o, long long n) { o.server.engine.ping_timeout = ms_t(n); }},
    {"connect-timeout", false, 1, 3'600'000, Rule::plain, " ms",
     [](const ServeOptions& o) -> long long { return o.server.connect_timeout.count(); },
     [](ServeOptions& o, long long n) { o.server.connect_timeout = ms_t(n); }},
    {"first-request-timeout", false, 1, 3'600'000, Rule::plain, " ms",
     [](const ServeOptions& o) -> long long { return o.server.first_request_timeout.count(); },
     [](ServeOptions& o, long long n) { o.server.first_request_timeout = ms_t(n); }},
    {"flush-budget", false, 4096, 1LL << 30, Rule::plain, " bytes",
     [](const ServeOptions& o) { return static_cast<long long>(o.server.flush_budget); },
     [](ServeOptions& o, long long n) { o.server.flush_budget = static_cast<std::size_t>(n); }},
    {"read-budget", false, 4096, 1LL << 30, Rule::plain, " bytes",
     [](const ServeOptions& o) { return static_cast<long long>(o.server.read_budget); },
     [](ServeOptions& o, long long n) { o.server.read_budget = static_cast<std::size_t>(n); }},
    {"max-attachment-bytes", false, 1, 4294967295LL, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.server.max_attachment_bytes); },
     [](ServeOptions& o, long long n) { o.server.max_attachment_bytes = static_cast<std::size_t>(n); }},
    {"max-json-depth", false, 1, 1000, Rule::plain, " levels",
     [](const ServeOptions& o) { return static_cast<long long>(o.server.max_json_depth); },
     [](ServeOptions& o, long long n) { o.server.max_json_depth = static_cast<std::size_t>(n); }},
    {"max-open-sessions", false, 0, 4294967295LL, Rule::plain, "",
     [](const ServeOptions& o) { return static_cast<long long>(o.server.max_open_sessions); },
     [](ServeOptions& o, long long n) { o.server.max_open_sessions = static_cast<std::size_t>(n); }},
    {"watchdog-timeout", true, 2000, 86'400'000, Rule::zero_or_range, " ms",
     [](const ServeOptions& o) -> long long { return o.watchdog_timeout.count(); },
     [](ServeOptions& o, long long n) { o.watchdog_timeout = ms_t(n); }},
};
// clang-format on

bool obeys(const NumberFlag& f, long long n) {
  if (f.rule == Rule::zero_or_range && n == 0) return true;
  return n >= f.lo && n <= f.hi && (f.rule != Rule::power_of_two || (n & (n - 1)) == 0) &&
         (f.rule != Rule::multiple_of_64 || n % 64 == 0);
}
std::string bound_of(const NumberFlag& f) {
  const std::string range = std::to_string(f.lo) + ".." + std::to_string(f.hi);
  return "--" + std::string(f.name) + " must be " +
         (f.rule == Rule::power_of_two     ? "a power of two, " + range
          : f.rule == Rule::multiple_of_64 ? "a multiple of 64 in " + range
          : f.rule == Rule::zero_or_range  ? "0 (off) or " + range
                                           : range) +
         f.unit;
}

// What is wrong with `--host v` ("" if nothing): an IPv4 or IPv6 address, an IPv6 scope id
// naming an interface of this host or being its number, as the listener resolves it.
std::string host_error(const char* v) {
  in6_addr any{};
  const std::string addr(v, std::strcspn(v, "%"));  // (an IPv6 scope id, fe80::1%eth0, kept)
  if (::inet_pton(AF_INET, v, &any) != 1 && ::inet_pton(AF_INET6, addr.c_str(), &any) != 1)
    return "--host must be an IPv4 or IPv6 address (such as 127.0.0.1, 0.0.0.0 or ::1)";
  if (const char* scope = std::strchr(v, '%'); scope != nullptr) {
    // (A number names an interface too, but only one this host has: an unknown one, or 0, was
    // taken and every worker's first bind then failed, exit 1, "No such device"; a scope on an
    // address that is not link-local was dropped by the listener without a word. Before
    // 2026-12-07; a bug hunt.)
    long long index = 0;
    char name[IF_NAMESIZE] = {};
    if (::if_nametoindex(scope + 1) == 0 &&
        !(whole(scope + 1, 1, UINT32_MAX, index) &&
          ::if_indextoname(static_cast<unsigned>(index), name) != nullptr))
      return std::string("--host ") + v + ": this host has no network interface \"" + (scope + 1) +
             "\"";
    if (!IN6_IS_ADDR_LINKLOCAL(&any))  // (an IPv6 address: an IPv4 one with a scope is none)
      return std::string("--host ") + v +
             ": a scope (%interface) belongs to a link-local address (fe80::/10) only";
  }
  return "";
}

// An origin as a browser sends it in its Origin header (scheme://host[:port], no path, or "null"),
// or why not: one that no browser sends (empty, "*", a trailing slash or a path) made every
// handshake 403 without a word (before 2026-12-03).
std::string origin_error(std::string_view v) {
  const std::string what = "--allow-origin '" + std::string(v) + "': ";
  if (v.empty()) return "--allow-origin must not be empty (an origin such as https://example.com)";
  if (v == "*") return what + "every origin is allowed without the flag: leave it out";
  if (v == "null") return "";
  const std::size_t sep = v.find("://");
  const auto scheme_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  if (sep == std::string_view::npos || sep == 0 ||
      !std::isalpha(static_cast<unsigned char>(v[0])) ||
      !std::all_of(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(sep), scheme_char))
    return what + "not an origin (scheme://host[:port], as https://example.com)";
  const std::string_view authority = v.substr(sep + 3);
  if (authority.empty() || authority.find_first_of("/?# \t") != std::string_view::npos)
    return what + "an origin has no path and no trailing slash (scheme://host[:port]): a " +
           "browser's Origin header never matches it";
  if (authority.find('@') != std::string_view::npos)
    return what + "an origin has no user part: a browser's Origin header never matches it";
  // (A browser leaves its scheme's default port out.)
  const std::string scheme = ascii_lower(v.substr(0, sep));
  const auto ends_with = [&](std::string_view tail) {
    return authority.size() > tail.size() &&
           authority.substr(authority.size() - tail.size()) == tail;
  };
  if ((scheme == "https" && ends_with(":443")) || (scheme == "http" && ends_with(":80")))
    return what + "a browser leaves the default port out of its Origin header: write it " +
           "without";
  return "";
}

// Every option of ServeOptions itself that has a bound, as set (from flags, the environment or
// code): the first one out of it, said as its flag's bound, or "".
std::string options_error(const ServeOptions& o) {
  if (std::string e = host_error(o.host.c_str()); !e.empty()) return e;
  for (const std::string& origin : o.allowed_origins)
    if (std::string e = origin_error(origin); !e.empty()) return e;
  if (o.workers < -1 || o.workers > 960) return "--workers must be auto or 1..960";
  if (!o.ring.empty())
    if (auto ok = shm::Segment::validate_name(o.ring); !ok) return "--ring: " + ok.error().message;
  // (The Server's own options, `server`, only as flags: set in code they are the Server's to
  // take, by its own rules; serve() reads server.serve_client itself.)
  for (const NumberFlag& f : kNumberFlags)
    if (f.own && !obeys(f, f.get(o))) return bound_of(f);
  if (o.redis.key.empty()) return "--redis-key must not be empty";
  // (Read by each worker's ring notifier, which refuses another value: before 2026-12-06 only
  // there, the cluster started and then stopped, exit 1; a review.)
  if (const char* n = std::getenv("SHMIO_RING_NOTIFIER");
      o.workers >= 0 && n != nullptr && *n != '\0' && std::string_view(n) != "thread" &&
      std::string_view(n) != "io_uring")
    return "SHMIO_RING_NOTIFIER is '" + std::string(n) + "': thread, io_uring or unset";
  return "";
}

std::string apply_value(ServeOptions& o, const std::string& name, const char* v);

// Applies one flag (name without "--") and notes it as given; an error message, or "".
std::string apply(ServeOptions& o, const std::string& name, const char* v) {
  std::string e = apply_value(o, name, v);
  if (e.empty()) o.flags_given.insert(name);
  return e;
}

std::string apply_value(ServeOptions& o, const std::string& name, const char* v) {
  long long n = 0;
  for (const NumberFlag& f : kNumberFlags)
    if (name == f.name) {
      if (!whole(v, f.rule == Rule::zero_or_range ? 0 : f.lo, f.hi, n) || !obeys(f, n))
        return bound_of(f);
      f.set(o, n);
      return "";
    }
  if (name == "host") {
    if (std::string e = host_error(v); !e.empty()) return e;
    o.host = v;
  } else if (name == "workers") {
    if (std::string_view(v) == "auto") {
      o.workers = 0;
    } else if (std::string_view(v) == "none") {
      // One process, no cluster: the operator's way to it where the program's code made a
      // cluster its default (until 2026-12-07 there was none; a review).
      o.workers = -1;
    } else if (whole(v, 1, 960, n)) {  // the registry's 1024 slots, 64 kept for emitters, tools
      o.workers = static_cast<int>(n);
    } else {
      return "--workers must be auto, none (one process) or 1..960";
    }
  } else if (name == "ring") {
    if (auto ok = shm::Segment::validate_name(v); !ok) return "--ring: " + ok.error().message;
    o.ring = v;
  } else if (name == "allow-origin") {
    if (std::string e = origin_error(v); !e.empty()) return e;
    o.allowed_origins.insert(v);
  } else if (name == "serve-client") {
    // (Read by serve(), once, before its workers start.)
    if (*v == '\0') return "--serve-client must name a directory (node_modules/socket.io-client)";
    o.server.serve_client = v;
    o.server.client_files.reset();  // (the app's own, read already: the flag names others)
  } else if (name == "cookie") {
    const std::string_view c(v);
    const bool token = !c.empty() && std::all_of(c.begin(), c.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
    });
    if (!token) return "--cookie must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)";
    if (!o.server.cookie) o.server.cookie.emplace();
    o.server.cookie->name = v;
  } else if (name == "redis") {
    // (Empty would have meant no bridge, without a word: a variable left empty in a script.)
    if (*v == '\0') return "--redis must not be empty (a URL such as redis://host:6379)";
    o.redis.url = v;
  } else if (name == "redis-mode") {
    if (std::string_view(v) != "classic" && std::string_view(v) != "sharded")
      return "--redis-mode must be classic or sharded";
    o.redis.mode = v;
  } else if (name == "redis-subscription-mode") {
    const std::string_view m(v);
    if (m != "static" && m != "dynamic" && m != "dynamic-private")
      return "--redis-subscription-mode must be static, dynamic or dynamic-private";
    o.redis.subscription = v;
  } else if (name == "redis-key") {
    if (*v == '\0') return "--redis-key must not be empty";
    o.redis.key = v;
  } else if (name == "port-per-worker") {
    o.port_per_worker = true;
  } else if (name == "no-pin") {
    o.pin = false;
  } else if (name == "log-sockets") {
    o.log_sockets = true;
  } else if (name == "per-message-deflate") {
    // (Turns it on; settings the program made stay: before 2026-12-04 they were reset.)
    if (!o.server.per_message_deflate) o.server.per_message_deflate = engineio::PerMessageDeflate{};
  } else if (name == "no-io-uring") {
    o.server.io_uring = false;
  } else if (name == "recovery") {
    if (!o.server.connection_state_recovery)
      o.server.connection_state_recovery = sio::RecoveryOptions{};
  } else if (name == "no-rebalance") {
    o.rebalance = false;
  } else if (name == "ring-huge-pages") {
    o.ring_huge_pages = true;
  } else if (name == "ring-per-worker") {
    o.ring_per_worker = true;
  }
  return "";
}

// A switch's variable set to 0, false or no: the switch off (for a "no-..." switch, what it
// turns off stays on).
void switch_off(ServeOptions& o, std::string_view name) {
  if (name == "port-per-worker") o.port_per_worker = false;
  if (name == "no-pin") o.pin = true;
  if (name == "log-sockets") o.log_sockets = false;
  if (name == "per-message-deflate") o.server.per_message_deflate.reset();
  if (name == "no-io-uring") o.server.io_uring = true;
  if (name == "recovery") o.server.connection_state_recovery.reset();
  if (name == "no-rebalance") o.rebalance = true;
  if (name == "ring-huge-pages") o.ring_huge_pages = false;
  if (name == "ring-per-worker") o.ring_per_worker = false;
}

bool is_value_flag(const std::string& n) {
  return std::find_if(std::begin(kValueFlags), std::end(kValueFlags),
                      [&](const char* f) { return n == f; }) != std::end(kValueFlags);
}
bool is_switch(const std::string& n) {
  return std::find_if(std::begin(kSwitches), std::end(kSwitches),
                      [&](const char* f) { return n == f; }) != std::end(kSwitches);
}

std::string env_name(std::string flag) {
  for (char& c : flag) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return "SHMIO_" + flag;
}

// Edits (insertions, deletions, substitutions, a swap of two neighbours) from a to b, counted up
// to 3 (more is "far").
std::size_t edits(std::string_view a, std::string_view b) {
  if (a.size() > b.size() + 3 || b.size() > a.size() + 3) return 3;
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return std::min<std::size_t>(d[a.size()][b.size()], 3);
}

// A variable of the environment named like one of shmio's but not one (SHMIO_PROT,
// SHMIO_WORKER), said on stderr with the one it is nearest to, an edit or two away: it was
// read by nothing, without a word (before 2026-12-06). A warning, not a refusal: other programs'
// SHMIO_ variables (a test harness's SHMIO_BIN) are far from every flag's and said nothing.
void warn_misspelt_variables(const std::string& prog) {
  std::vector<std::string> known;
  for (const char* f : kValueFlags) known.push_back(env_name(f));
  for (const char* f : kSwitches) known.push_back(env_name(f));
  known.emplace_back("SHMIO_RING_NOTIFIER");
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (name.rfind("SHMIO_", 0) != 0 || std::find(known.begin(), known.end(), name) != known.end())
      continue;
    // (One edit away, or two from a name of 8 characters or more after SHMIO_: SHMIO_BIN, a
    // test harness's, is two from SHMIO_RING.)
    const std::string* nearest = nullptr;
    std::size_t best = name.size() >= 14 ? 3 : 2;
    for (const std::string& k : known)
      if (const std::size_t n = edits(name, k); n < best) best = n, nearest = &k;
    if (nearest != nullptr)
      std::fprintf(stderr, "%s: %.*s is not one of shmio's variables (read by nothing): %s?\n",
                   prog.c_str(), static_cast<int>(name.size()), name.data(), nearest->c_str());
  }
}

}  // namespace

const char* usage_text() noexcept {
  return kUsage;
}

bool flag_takes_value(std::string_view arg) {
  return arg.size() > 2 && arg.substr(0, 2) == "--" && is_value_flag(std::string(arg.substr(2)));
}

int stderr_fd() noexcept {
  return g_real_stderr >= 0 ? g_real_stderr : 2;
}

ParseResult parse_args(int argc, const char* const* argv, ServeOptions& options, bool allow_rest) {
  ParseResult r;
  auto fail = [&](std::string message) {
    r.status = ParseResult::error;
    r.message = std::move(message);
    const std::string prog =
        argc > 0 ? std::filesystem::path(argv[0]).filename().string() : std::string("shmio");
    std::fprintf(stderr, "%s: %s\n%s", prog.c_str(), r.message.c_str(), kUsage);
    return r;
  };
  // The environment first: the command line overrides it. A variable whose flag the command
  // line gives is not read at all (before 2026-12-04 a bad value left in the environment was
  // refused, exit 2, even with the flag given to override it).
  std::set<std::string> on_command_line;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    // --help first, whatever else is there: a bad variable in the environment, or a bad flag
    // before it, made it exit 2 (before 2026-12-05).
    if (a == "--help" || a == "-h") {
      r.status = ParseResult::help;
      std::fputs(kUsage, stdout);
      // (Not written, a full disk or a closed pipe: exit 1, not 0; before 2026-12-05, 0.)
      r.help_unwritten = std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
      return r;
    }
    const std::string name = a.rfind("--", 0) == 0 ? a.substr(2) : std::string();
    if (is_value_flag(name)) {
      on_command_line.insert(name);
      // (Its value skipped, unless it is a flag: no value starts with "--", and `--port --help`
      // printed "--port needs a value (got --help)", exit 2, until 2026-12-07; a review.)
      if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) ++i;
    } else if (is_switch(name)) {
      on_command_line.insert(name);
    }
  }
  for (const char* f : kValueFlags) {
    if (on_command_line.count(f) != 0) continue;
    if (const char* v = std::getenv(env_name(f).c_str()); v != nullptr) {
      // SHMIO_ALLOW_ORIGIN holds one origin or several, separated by spaces or commas (the flag
      // is repeated instead; until 2026-12-05 the variable could hold only one).
      std::vector<std::string> values;
      if (std::string_view(f) == "allow-origin") {
        const std::string_view all(v);
        for (std::size_t at = 0; at < all.size();) {
          const std::size_t end = std::min(all.find_first_of(", \t", at), all.size());
          if (end > at) values.emplace_back(all.substr(at, end - at));
          at = end + 1;
        }
      }
      if (values.empty()) values.emplace_back(v);  // (an empty value is refused by apply)
      // (The variable's origins replace the program's, as its flag's do and as any other
      // variable's value does: before 2026-12-06 they were added to them, and a program's
      // "https://app" run with SHMIO_ALLOW_ORIGIN=https://staging allowed both; a helper's
      // review.)
      if (std::string_view(f) == "allow-origin") options.allowed_origins.clear();
      for (const std::string& value : values)
        if (std::string err = apply(options, f, value.c_str()); !err.empty())
          return fail(env_name(f) + ": " + err);
    }
  }
  for (const char* f : kSwitches) {
    if (on_command_line.count(f) != 0) continue;
    if (const char* v = std::getenv(env_name(f).c_str()); v != nullptr) {
      const std::string s = v;
      if (s == "1" || s == "true" || s == "yes") {
        apply(options, f, v);
      } else if (s == "0" || s == "false" || s == "no") {
        // Off, whatever the program's code set (as a flag replaces it): SHMIO_RECOVERY=0 left
        // on the recovery an app's code turned on, without a word (before 2026-12-07; a bug
        // hunt). Empty: not given.
        switch_off(options, f);
      } else if (!s.empty()) {
        return fail(env_name(f) + " must be 1, true, yes, 0, false or no");
      }
    }
  }
  warn_misspelt_variables(argc > 0 ? std::filesystem::path(argv[0]).filename().string()
                                   : std::string("shmio"));
  bool origins_from_args = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];  // (--help was seen above, before the environment)
    const std::string name = a.rfind("--", 0) == 0 ? a.substr(2) : std::string();
    if (is_value_flag(name)) {
      if (i + 1 >= argc) return fail(a + " needs a value");
      // A value, not the next option: `--ring --ring-per-worker` named the ring
      // "--ring-per-worker" and lost the switch without a word, `--cookie --log-sockets` the
      // same (before 2026-12-05; shmio-emit refused it already). No value of this program's
      // flags starts with "--" (a path that does: ./--name).
      if (std::strncmp(argv[i + 1], "--", 2) == 0)
        return fail(a + " needs a value (got " + argv[i + 1] + ")");
      // (Repeatable: the command line's origins replace the environment's and the program's,
      // as any other option's value does; before 2026-12-04 they were added to them, and an
      // origin left in the environment stayed allowed.)
      if (name == "allow-origin" && !std::exchange(origins_from_args, true))
        options.allowed_origins.clear();
      if (std::string err = apply(options, name, argv[++i]); !err.empty()) return fail(err);
    } else if (is_switch(name)) {
      apply(options, name, nullptr);
    } else if (allow_rest) {
      r.rest.push_back(a);
    } else {
      return fail("unknown option " + a);
    }
  }
  return r;
}

namespace {
// The dispositions of `signals` as they were, given back when serve() returns: a program that
// embeds it and goes on after it keeps its own handlers (Asio's signal_set leaves SIG_DFL
// behind, and SIGPIPE was left ignored; before 2026-12-04).
class DispositionsKept {
 public:
  explicit DispositionsKept(std::initializer_list<int> signals) {
    for (const int s : signals)
      if (struct sigaction a{}; ::sigaction(s, nullptr, &a) == 0) kept_.emplace_back(s, a);
  }
  ~DispositionsKept() {
    for (const auto& [s, a] : kept_) ::sigaction(s, &a, nullptr);
  }
  DispositionsKept(const DispositionsKept&) = delete;
  DispositionsKept& operator=(const DispositionsKept&) = delete;

 private:
  std::vector<std::pair<int, struct sigaction>> kept_;
};
}  // namespace

int serve(ServeOptions cfg, Setup setup) {
  const DispositionsKept dispositions{SIGPIPE, SIGINT, SIGTERM, SIGHUP};
  // A server's writes to a closed pipe (its log's reader gone) must not kill it: every socket
  // write already says MSG_NOSIGNAL; stderr is the one left. (For the supervisor, its workers and
  // a single process alike: the workers inherit it.)
  ::signal(SIGPIPE, SIG_IGN);
  // (The flags were checked as they were read; options set in code are checked here, with
  // the same bounds.)
  if (std::string e = options_error(cfg); !e.empty()) {
    std::fprintf(stderr, "shmio: invalid options: %s\n", e.c_str());
    return 2;
  }
  // The client bundle (--serve-client, or serve_client set in code), read once here: a directory
  // without it is said once, exit 2, not by every worker as it fails to start; and every worker,
  // a restarted one too, serves the same files (the copy forked with them), not what the
  // directory holds when it starts (an npm ci in progress, a newer version).
  if (!cfg.server.serve_client.empty() && !cfg.server.client_files) try {
      cfg.server.client_files = sio::load_client_files(cfg.server.serve_client);
    } catch (const std::exception& e) {
      // (Named as the flag and its variable when either gave it; an app's own value, as itself.)
      const std::string by = cfg.flags_given.count("serve-client") != 0
                                 ? "--serve-client (" + env_name("serve-client") + "): "
                                 : "";
      std::fprintf(stderr, "shmio: invalid options: %s%s\n", by.c_str(), e.what());
      return 2;
    }
  if (cfg.workers < 0) {
    // An option that names or sizes what only a cluster has (its ring, session table, ports,
    // fleet) would do nothing in one process: refused, as --ring-per-worker and --redis are (they
    // were taken without a word, and an emitter told the same --ring then found no ring). The
    // cluster's tuning switches (--no-pin, --no-rebalance, --rebalance-rate, and the
    // supervisor's --watchdog-timeout, said so in --help) are taken and do nothing, so that one
    // command line's tuning serves both. A flag is refused when it was given
    // (parse_args notes it), even at its default value, or when code set another value.
    const ServeOptions d;
    const std::pair<bool, const char*> cluster_only[] = {
        {cfg.ring_per_worker, "--ring-per-worker"},
        {!cfg.ring.empty(), "--ring"},
        {cfg.ring_mb != d.ring_mb, "--ring-mb"},
        {cfg.ring_huge_pages, "--ring-huge-pages"},
        {cfg.port_per_worker, "--port-per-worker"},
        {cfg.max_sessions != d.max_sessions, "--max-sessions"},
        {cfg.session_bytes != d.session_bytes, "--session-bytes"},
        {cfg.cut_log_mb != d.cut_log_mb, "--cut-log-mb"},
        {cfg.max_held_sends != d.max_held_sends, "--max-held-sends"},
        {cfg.redis.mode != d.redis.mode, "--redis-mode"},
        {cfg.redis.subscription != d.redis.subscription, "--redis-subscription-mode"},
        {cfg.redis.key != d.redis.key, "--redis-key"}};
    for (const auto& [set, flag] : cluster_only)
      if (set || cfg.flags_given.count(flag + 2) != 0) {
        // (Named as a flag and as its variable: it may have come from the environment. Set by
        // the program's code, not given: said so, the operator having given no such flag; until
        // 2026-12-07 it was named as a flag the operator never gave; a review.)
        if (cfg.flags_given.count(flag + 2) == 0)
          std::fprintf(stderr,
                       "shmio: the program's code sets %s's option, which needs a cluster "
                       "(--workers N or auto, or SHMIO_WORKERS)\n",
                       flag);
        else
          std::fprintf(stderr,
                       "shmio: %s needs a cluster (--workers N or auto; in the environment: %s "
                       "needs SHMIO_WORKERS)\n",
                       flag, env_name(flag + 2).c_str());
        return 2;
      }
  }
  if (cfg.workers >= 0) {
    // And in a cluster, what sizes a part only --recovery (and a ring per worker) makes: taken
    // without a word before 2026-12-03, and used for nothing (a helper's review).
    const bool recovery = cfg.server.connection_state_recovery.has_value();
    // (Given by the operator, as a flag or its variable: a value the program's code set is its
    // default, kept whatever the run's switches say — an app that sets its session table's size
    // and turns recovery on may be run with SHMIO_RECOVERY=0, which since 2026-12-07 turns it off.
    // A review.)
    const auto given = [&](const char* flag) { return cfg.flags_given.count(flag + 2) != 0; };
    const std::tuple<bool, const char*, const char*> needs[] = {
        {given("--max-sessions") && !recovery, "--max-sessions", "--recovery"},
        {given("--session-bytes") && !recovery, "--session-bytes", "--recovery"},
        {given("--cut-log-mb") && !(recovery && cfg.ring_per_worker), "--cut-log-mb",
         "--recovery and --ring-per-worker"},
        // (Sends wait for a worker's own broadcasts only where those carry an offset through
        // the one shared ring.)
        {given("--max-held-sends") && !(recovery && !cfg.ring_per_worker), "--max-held-sends",
         "--recovery with one shared ring (not --ring-per-worker)"},
        // (Only recovering clients are asked to reconnect elsewhere, and only where the workers
        // share a port: before 2026-12-07 it was taken and did nothing; a bug hunt.)
        // (One worker has none to hand clients to: refused too since 2026-12-07, a review;
        // `--workers auto` that comes to one is not known here.)
        {given("--rebalance-rate") &&
             !(recovery && cfg.rebalance && !cfg.port_per_worker && cfg.workers != 1),
         "--rebalance-rate",
         "--recovery and two or more workers on one port that rebalance (not --port-per-worker "
         "nor --no-rebalance)"}};
    for (const auto& [refused, flag, what] : needs)
      if (refused) {
        std::fprintf(stderr, "shmio: %s needs %s (what it sizes or tunes only they make)\n", flag,
                     what);
        return 2;
      }
    // The fleet's options given without a fleet: a cluster ran alone and said nothing
    // (`--redis-key app` with SHMIO_REDIS unset, before 2026-12-05); and the sharded adapter's
    // subscription mode with the classic one, where it means nothing. Given as flags or
    // variables (flags_given) only: an app's code may set its fleet's key as its default and
    // leave --redis to the operator.
    const bool fleet = !cfg.redis.url.empty();
    const auto flag = [&](const char* f) { return cfg.flags_given.count(f + 2) != 0; };
    const std::tuple<bool, const char*, const char*> fleet_needs[] = {
        {flag("--redis-mode") && !fleet, "--redis-mode", "--redis"},
        {flag("--redis-key") && !fleet, "--redis-key", "--redis"},
        {flag("--redis-subscription-mode") && !fleet, "--redis-subscription-mode", "--redis"},
        {flag("--redis-subscription-mode") && fleet && cfg.redis.mode != "sharded",
         "--redis-subscription-mode", "--redis-mode sharded"}};
    for (const auto& [refused, name, what] : fleet_needs)
      if (refused) {
        std::fprintf(
            stderr, "shmio: %s needs %s (in the environment: %s needs %s)\n", name, what,
            env_name(name + 2).c_str(),
            std::strcmp(what, "--redis") == 0 ? "SHMIO_REDIS" : "SHMIO_REDIS_MODE=sharded");
        return 2;
      }
  }
  if (!cfg.redis.url.empty()) {
#ifndef SHMIO_HAVE_REDIS
    std::fprintf(stderr,
                 "shmio: --redis: this build has no fleet bridge (hiredis was not found when it "
                 "was built: apt-get install libhiredis-dev, and build again)\n");
    return 2;
#else
    std::string why;
    if (!redis::parse_url(cfg.redis.url, &why)) {
      std::fprintf(stderr, "shmio: --redis %s: %s\n", redis::shown_url(cfg.redis.url).c_str(),
                   why.c_str());
      return 2;
    }
    if (cfg.redis.mode != "classic" && cfg.redis.mode != "sharded") {
      std::fprintf(stderr, "shmio: redis mode '%s': classic or sharded\n", cfg.redis.mode.c_str());
      return 2;
    }
    if (cfg.redis.subscription != "static" && cfg.redis.subscription != "dynamic" &&
        cfg.redis.subscription != "dynamic-private") {
      std::fprintf(stderr,
                   "shmio: redis subscription mode '%s': static, dynamic or dynamic-private\n",
                   cfg.redis.subscription.c_str());
      return 2;
    }
    if (cfg.workers < 0) {
      std::fprintf(stderr,
                   "shmio: --redis needs a cluster (--workers N or auto): the fleet bridge reads "
                   "the workers' ring\n");
      return 2;
    }
#endif
  }
  if (cfg.log) route_stderr(-1, cfg.log);  // this process's lines (each worker: its own)
  // Whatever way serve() returns from here, this process's last lines reach the hook first: the
  // cluster's refusals (a port in use, a ring name too long) were lost in most runs with a log
  // hook, the process gone before the thread wrote them (before 2026-12-03; a helper's review).
  // (A worker finishes its own before it exits, and never returns through here.)
  const FinishStderrAtExit finish_at_return;
  // Every connection is a descriptor: the soft limit goes up to the hard one (often 1024 ->
  // much more), and the capacity is said once, so that a limit is known before it is hit (a
  // worker at the limit pauses accepting and says so: engineio's accept).
  const RaisedFdLimit raised_fd_limit;
  const std::uint64_t fd_limit = raised_fd_limit.now;
  if (cfg.workers < 0) {
    std::fprintf(stderr, "shmio: up to %llu descriptors (RLIMIT_NOFILE): about %llu connections\n",
                 static_cast<unsigned long long>(fd_limit),
                 static_cast<unsigned long long>(fd_limit > 64 ? fd_limit - 64 : 0));
    // (Its last lines, "cannot listen" say, reach the hook by finish_at_return above: lost in 5 of
    // 30 runs with a log hook before finish_stderr() ran at the end.)
    return serve_one(cfg, setup, nullptr);
  }

  // A cluster. All workers must listen on one known port: with port 0 the supervisor picks a free
  // one first (and holds it, bound with SO_REUSEPORT but not listening, while the cluster runs).
  std::string fewer;  // (--workers auto under a cgroup CPU limit: said, so that fewer is seen)
  int n = cfg.workers > 0 ? cfg.workers : cluster::auto_workers(&fewer);
  if (!fewer.empty()) std::fprintf(stderr, "shmio: --workers auto: %s\n", fewer.c_str());
  if (n > 960) {  // (auto on a machine past the registry's bound: as many as a cluster can have)
    std::fprintf(stderr,
                 "shmio: --workers auto: %d CPUs, more than a cluster's 960 workers: running 960 "
                 "(the registry's 1024 slots, 64 kept for emitters and tools)\n",
                 n);
    n = 960;
  }
  // (A worker waits on the shared ring and the others' with one notifier, the fleet bridge on
  // the shared ring and every worker's: at most kMaxRings rings each.)
  const int most = static_cast<int>(shm::RingNotifier::kMaxRings) - (cfg.redis.url.empty() ? 0 : 1);
  if (cfg.ring_per_worker && n > most) {
    std::fprintf(stderr,
                 "shmio: --ring-per-worker takes at most %d workers%s (one notifier watches at "
                 "most %zu rings); %d asked for\n",
                 most, cfg.redis.url.empty() ? "" : " with --redis", shm::RingNotifier::kMaxRings,
                 n);
    return 2;
  }
  // (Each worker's ring is NAME.wI: its last one must still be a ring name. The default name,
  // port-P, always leaves room.)
  if (cfg.ring_per_worker && !cfg.ring.empty())
    if (auto ok = shm::Segment::validate_name(cluster::worker_ring_name(cfg.ring, n - 1)); !ok) {
      std::fprintf(stderr,
                   "shmio: --ring %s: with --ring-per-worker and %d workers at most %zu "
                   "characters (each worker's ring adds .wI to it)\n",
                   cfg.ring.c_str(), n, 200 - cluster::worker_ring_name("", n - 1).size());
      return 2;
    }
  if (cfg.port_per_worker && (cfg.port == 0 || cfg.port + n - 1 > 65535)) {
    std::fprintf(stderr, "shmio: --port-per-worker needs ports P..P+%d within 1..65535\n", n - 1);
    return 2;
  }
  // The ports' holders (below): the supervisor's, closed in every child it starts (each leaves by
  // _exit, without unwinding) and here when serve() returns, however it does.
  std::vector<int> holders;
  struct CloseHolders {
    std::vector<int>& fds;
    ~CloseHolders() {
      for (const int fd : fds) ::close(fd);
    }
  } close_holders{holders};
  // The host's address with `port` (its family checked at parse: IPv4 or IPv6).
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, cfg.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(cfg.port));
    len = sizeof *v4;
  } else {
    const std::size_t pct = cfg.host.find('%');
    ::inet_pton(AF_INET6, cfg.host.substr(0, pct).c_str(), &v6->sin6_addr);
    if (pct != std::string::npos) {  // (an interface's name, else its number: as Asio reads it)
      const std::string scope = cfg.host.substr(pct + 1);
      v6->sin6_scope_id = ::if_nametoindex(scope.c_str());
      if (v6->sin6_scope_id == 0)  // (a number: checked by options_error)
        v6->sin6_scope_id = static_cast<std::uint32_t>(std::strtoul(scope.c_str(), nullptr, 10));
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(cfg.port));
    len = sizeof *v6;
  }
  // Each port the workers listen on (P, or P..P+n-1 with --port-per-worker), probed and held.
  auto set_port = [&](long port) {
    if (addr.ss_family == AF_INET)
      v4->sin_port = htons(static_cast<std::uint16_t>(port));
    else
      v6->sin6_port = htons(static_cast<std::uint16_t>(port));
  };
  const long ports = cfg.port == 0 ? 0 : cfg.port_per_worker ? n : 1;
  for (long i = 0; i < ports; ++i) {
    const long port = cfg.port + i;
    set_port(port);
    // The workers listen with SO_REUSEPORT, which the kernel also grants beside another
    // cluster's workers (another --ring on the same --port): the two would split the port's
    // clients between them without a word. So the port must be free of listeners first: a bind
    // without SO_REUSEPORT (SO_REUSEADDR: connections closing on it do not count) fails on any.
    const int probe = bound_socket(addr, len, SO_REUSEADDR);
    if (probe < 0 && errno == EADDRINUSE) {
      std::fprintf(stderr,
                   "shmio: cannot listen on %s:%ld: it is in use (another cluster or server "
                   "listens there; a cluster's workers would share it with another's and split "
                   "its clients); stop it first or pick another --port\n",
                   cfg.host.c_str(), port);
      return 1;
    }
    if (probe >= 0) ::close(probe);
    // And held while the cluster runs, bound without listening (as a picked port's below): while
    // every worker on it is down (all killed together, or with --port-per-worker its one worker,
    // restarting after their backoff) another program could bind the port without SO_REUSEPORT,
    // and the restarted workers could not listen there again (restarted for ever, that program
    // taking the port's clients). Before 2026-12-05 the port was held for --port 0 only, and a
    // --port-per-worker worker's until 2026-12-07 (its worker listened without SO_REUSEPORT;
    // both found by reviews).
    // (It may be refused where the probe was not: connections of a listener without
    // SO_REUSEPORT still closing (TIME_WAIT) count against a bind without SO_REUSEADDR, which the
    // holder must not have — with it another such program could bind beside it. The workers'
    // binds have it: the cluster then runs without a holder there, said.)
    // (Out of descriptors — 960 ports held where the hard limit is 1,024 — likewise: not held,
    // said; the cluster runs as before the holders.)
    const int holder = bound_socket(addr, len, SO_REUSEPORT);
    const int why = errno;
    if (holder < 0 && why != EADDRINUSE && why != EMFILE && why != ENFILE) {
      std::fprintf(stderr, "shmio: cannot listen on %s:%ld: %s\n", cfg.host.c_str(), port,
                   std::strerror(why));
      return 1;
    }
    if (holder < 0)
      std::fprintf(stderr,
                   "shmio: %s:%ld is not held while its workers are down (%s%s); the workers "
                   "listen there as ever\n",
                   cfg.host.c_str(), port, std::strerror(why),
                   why == EADDRINUSE ? ": connections of an earlier listener still closing" : "");
    else
      holders.push_back(holder);
  }
  if (cfg.port == 0) {
    // A port picked on the host's own address family.
    const int holder = bound_socket(addr, len, SO_REUSEPORT);
    if (holder >= 0) holders.push_back(holder);
    if (holder < 0 || ::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::fprintf(stderr, "shmio: cannot pick a port on %s: %s\n", cfg.host.c_str(),
                   std::strerror(errno));
      return 1;
    }
    cfg.port = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  }
  if (cfg.ring.empty()) cfg.ring = "port-" + std::to_string(cfg.port);
  cluster::SupervisorOptions so;
  so.ring = cfg.ring;
  so.workers = n;
  // (A worker is killed SIGKILL when its drain outlasts drain_timeout: at least the program's
  // drain_grace and 5 s for its on_stop and its exit, so that a longer grace is not cut every
  // time. Before 2026-12-05 a drain_grace of 10 s or more had every worker killed at each stop.)
  so.drain_timeout = std::max(so.drain_timeout, cfg.drain_grace + std::chrono::seconds(5));
  so.pin = cfg.pin;
  so.watchdog = cfg.watchdog_timeout;
  so.stderr_fd = &stderr_fd;
  so.before_fork = [] { g_log_gate.lock(); };
  so.after_fork = [] { g_log_gate.unlock(); };
  so.ring_bytes = cfg.ring_mb << 20;
  so.ring_huge_pages = cfg.ring_huge_pages;
  so.ring_per_worker = cfg.ring_per_worker;
  so.handoff_sockets = !cfg.port_per_worker;  // (each worker on its own port hands nothing off)
#ifdef SHMIO_HAVE_REDIS
  if (!cfg.redis.url.empty()) {
    redis::BridgeOptions bo;
    bo.ring = cfg.ring;
    bo.workers = n;
    bo.url = cfg.redis.url;
    bo.key = cfg.redis.key;
    bo.mode = cfg.redis.mode == "sharded" ? redis::FleetMode::sharded : redis::FleetMode::classic;
    bo.subscription = cfg.redis.subscription == "static" ? redis::ShardedSubscription::static_
                      : cfg.redis.subscription == "dynamic-private"
                          ? redis::ShardedSubscription::dynamic_private
                          : redis::ShardedSubscription::dynamic;
    bo.recovery = cfg.server.connection_state_recovery.has_value();
    bo.ring_per_worker = cfg.ring_per_worker;
    bo.request_timeout = cfg.redis.request_timeout;
    bo.max_hold = cfg.redis.max_hold;
    // (Its lines go where the supervisor's go: through the log hook as worker -1, if any.)
    // (The port's holder is the supervisor's: closed in the bridge as in the workers, else a
    // bridge still draining after the supervisor died kept the port bound and a new shmio on it
    // refused to start.)
    so.bridge_main = [bo, holders] {
      for (const int h : holders) ::close(h);
      close_inherited_log_pipe();
      return redis::run_bridge(bo);
    };
  }
#endif
  // The recovery tables, made whole in /dev/shm before any worker starts: tables that do not fit
  // stop the start, said (before 2026-12-06 each worker said it had none, at each of its starts,
  // and the cluster ran without recovery, exit 0 at its stop: --max-sessions 16777214
  // --session-bytes 65536 asked for 1 TiB; a helper's review).
  if (cfg.server.connection_state_recovery)
    so.before_workers = [&cfg](std::uint64_t ring_id, int workers) -> std::string {
      cluster::NodeOptions no;
      no.ring = cfg.ring;
      no.workers = workers;
      no.max_sessions = cfg.max_sessions;
      no.session_bytes = cfg.session_bytes;
      no.cut_log_bytes = cfg.cut_log_mb << 20;
      no.ring_per_worker = cfg.ring_per_worker;
      const cluster::RecoveryTables made = cluster::make_recovery_tables(no, ring_id);
      // (Cut logs too large for their bound, or tables too large for /dev/shm: opposite cures.)
      switch (made.refused) {
        case cluster::RecoveryTables::Refused::no:
          return {};
        case cluster::RecoveryTables::Refused::cut_log_bound:
          return "connection state recovery's tables cannot be made: " + made.why +
                 " (raise --cut-log-mb, or run fewer workers)";
        case cluster::RecoveryTables::Refused::not_made:
          break;
      }
      return "connection state recovery's tables cannot be made: " + made.why +
             " (--max-sessions x --session-bytes, and --cut-log-mb with --ring-per-worker: "
             "lower them, or make /dev/shm larger)";
    };
  so.on_start = [&cfg, fd_limit](int workers) {
    std::printf("shmio cluster (%s): %d workers on %s:%ld%s, ring %s%s\n", cfg.name.c_str(),
                workers, cfg.host.c_str(), cfg.port, cfg.port_per_worker ? "+i" : "",
                cfg.ring.c_str(), cfg.ring_per_worker ? " (and a ring per worker, .w0 on)" : "");
    std::fflush(stdout);
    std::fprintf(stderr,
                 "shmio: each worker may hold up to %llu descriptors (RLIMIT_NOFILE): about %llu "
                 "connections for %d workers (more need more workers)\n",
                 static_cast<unsigned long long>(fd_limit),
                 static_cast<unsigned long long>(fd_limit > 64 ? (fd_limit - 64) * workers : 0),
                 workers);
  };
  const int rc =
      cluster::run_supervisor(so, [&cfg, &setup, &holders](const cluster::WorkerContext& ctx) {
        for (const int h : holders) ::close(h);
        // (Its last lines written before it exits, an exception's way out included: the
        // supervisor's catch then says what() on the real stderr.)
        const FinishStderrAtExit finish_workers_at_return;
        return serve_one(cfg, setup, &ctx);
      });
  return rc;  // (the holders closed by close_holders)
}

}  // namespace shmio
