// shmio::serve: run your own Socket.IO application on shmio, as one process or as a cluster of
// pinned worker processes on one port joined by the shared-memory ring, with everything
// `shmio --app` has (hand-off of polling requests, the ring adapter, restart of dead workers,
// rebalancing, graceful drain on SIGTERM/SIGINT, GET /health and GET /metrics on every worker).
//
//   int main(int argc, char** argv) {
//     shmio::ServeOptions options;                       // defaults: one process on :3000
//     options.name = "hello";
//     auto parsed = shmio::parse_args(argc, argv, options);  // shmio's flags (--workers auto, ...)
//     if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();
//     return shmio::serve(options, [](shmio::socketio::Server& io, const shmio::WorkerInfo&) {
//       io.on_connection([&io](const shmio::socketio::SocketPtr& s) {
//         s->on("chat", [&io](const auto&, shmio::socketio::Args a, shmio::socketio::Ack) {
//           io.emit("chat", std::move(a));               // every client, on every worker
//         });
//       });
//     });
//   }
//
// `setup` runs once in every worker process (or once, with one process), before it listens: it
// registers the app's namespaces, middleware and handlers on that worker's server. Everything
// the app does through the server (emit, rooms, fetch_sockets, server_side_emit) is cluster-wide.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/socketio/server.hpp"

namespace shmio {

// Where the setup function runs.
struct WorkerInfo {
  int index = 0;         // this worker, 0..workers-1 (0 with one process)
  int workers = 1;       // how many workers serve the app
  int core = -1;         // the CPU this worker is pinned to, -1 if not pinned
  bool cluster = false;  // a worker of a cluster (false: one process)
};

struct ServeOptions {
  std::string name = "app";  // in the log lines ("shmio (NAME) listening on ...")
  std::string host = "127.0.0.1";
  long port = 3000;  // 0: a free port, printed on start
  // -1: one process (no ring, no supervisor); 0: one worker per CPU of the affinity mask; N.
  int workers = -1;
  bool port_per_worker = false;  // worker i listens on port + i (instead of all on port)
  bool pin = true;               // worker i pinned to the i-th CPU
  std::string ring;              // the ring's name (default "port-P"; /dev/shm/shmio.NAME)
  std::uint64_t ring_mb = 64;    // the ring's size in MiB, a power of two
  bool ring_huge_pages = false;  // ask for 2 MiB pages for the ring (--ring-huge-pages)
  bool ring_per_worker = false;  // a ring per worker (--ring-per-worker, docs/ring-per-worker.md)
  std::size_t max_sessions = 1u << 17;  // entries of the recovery session table (shared memory)
  std::uint32_t session_bytes = 512;    // bytes per entry (--session-bytes)
  std::size_t cut_log_mb = 256;  // the workers' cut logs (--cut-log-mb; ring per worker + recovery)
  // With --recovery and one shared ring: at most this many sends to a worker's own sockets wait
  // for its own broadcasts published before them (cluster::NodeOptions::max_held_sends; 0: no
  // bound). --max-held-sends.
  std::size_t max_held_sends = 65536;
  bool rebalance = true;            // steer and shed clients towards less loaded workers
  std::size_t rebalance_rate = 50;  // clients a busy worker asks to reconnect per second
  // A worker (or the fleet bridge) whose event loop has not turned for this long — its figures,
  // posted on the workers' board every second, are this old: an app handler in an endless loop,
  // a deadlock — is killed (SIGKILL, said) and restarted (SupervisorOptions::watchdog). 0: off.
  std::chrono::milliseconds watchdog_timeout{60000};
  bool log_sockets = false;  // a line per socket connected/disconnected, and per refused recovery
  // Non-empty: only handshakes from these origins (scheme://host[:port] or "null", as a browser's
  // Origin header has it; compared without case; one with a path, "*" or empty is refused).
  std::set<std::string> allowed_origins;
  // After SIGTERM/SIGINT: every client is told "server shutting down", then the worker stops
  // after this grace period (the close packets are written meanwhile). In a cluster the
  // supervisor kills a worker still running max(10 s, drain_grace + 5 s) after its SIGTERM.
  std::chrono::milliseconds drain_grace{200};
  // A Redis fleet (docs/redis.md): with a URL, the cluster runs the fleet bridge, one member of
  // a fleet of socket.io servers with @socket.io/redis-adapter (Node servers, other shmio hosts).
  // Needs a cluster (workers >= 0). The bridge is built where hiredis was found; without it a URL
  // is refused at start.
  struct Redis {
    std::string url;  // "" (default): no fleet
    // The adapter's protocol: "classic" (createAdapter) or "sharded" (createShardedAdapter,
    // Redis 7), and the sharded one's subscriptionMode ("static", "dynamic", "dynamic-private").
    std::string mode = "classic";
    std::string subscription = "dynamic";
    std::string key = "socket.io";  // the adapter's `key` (sharded: its `channelPrefix`)
    std::chrono::milliseconds request_timeout{5000};  // its requestsTimeout
    // Flow control: how long the bridge stops reading Redis for a worker over half the ring
    // behind, at most (redis::BridgeOptions::max_hold; 0: never).
    std::chrono::milliseconds max_hold{1000};
  } redis;
  // The Socket.IO server's options (heartbeat, recovery, CORS, compression, the app's own HTTP
  // endpoints in server.routes, static files, ...). The cluster fields are set by serve().
  socketio::ServerOptions server;
  // Every line written to stderr in a worker (the libraries' and the app's), without its
  // newline, with the worker's index (-1: one process or the supervisor). Called on a thread of
  // its own, one line at a time. Descriptor 2 is the pipe these lines come through, so the hook
  // must not write to stderr (the line would come back to it): write to stderr_fd() (the
  // process's stderr as it was), a file, or a logging library. Default: "[wI] line" on stderr in
  // a cluster, the line as it is with one process. In a cluster the workers are forked from the
  // supervisor after the program made what the hook captures: each worker has a copy of it, and
  // workers leave by _exit. So the hook should write each line through whole (write(2), or flush
  // a C++ stream or a FILE* after each line: what a buffer held at a fork is written once per
  // worker, and what a worker's buffer holds at its exit is lost), and a logging library whose
  // own thread does the writing has no such thread in the workers (start it in setup).
  std::function<void(int worker, std::string_view line)> log;
  // The app's stop: called once in every worker (or the one process) when it begins a graceful
  // stop — SIGTERM, SIGINT or SIGHUP, which is how a cluster's supervisor stops its workers — on
  // the server's thread, before the clients are told "server shutting down". The server is still
  // whole: the app can emit a last message (io.of(nsp).local(): this worker's clients only; each
  // worker runs its own on_stop), cancel its timers, save its state. What it posts to the
  // server's io_context runs during drain_grace, after which the loop stops (in a cluster a
  // worker still running max(10 s, drain_grace + 5 s) after the supervisor's SIGTERM is killed,
  // said on stderr, and the supervisor exits 1). An exception it throws
  // (std::exception) is said on stderr and the stop goes on. Not called when the process is
  // killed (SIGKILL, a crash) or could not start (its setup threw, its port was taken).
  std::function<void(socketio::Server&, const WorkerInfo&)> on_stop;
  // The flags parse_args applied to these options, by name without "--" (from the command line
  // or the environment). serve() refuses a cluster's flag given without a cluster even at its
  // default value (`--ring-mb 64` alone was taken without a word, where `--ring-mb 32` was
  // refused). Options set in code are judged by their values alone.
  std::set<std::string> flags_given;
};

using Setup = std::function<void(socketio::Server&, const WorkerInfo&)>;

// Runs the app until SIGTERM/SIGINT/SIGHUP (SIGINT and SIGHUP unless they were ignored at start,
// as under nohup or in a shell script's background job; a cluster: until the supervisor
// stops). Returns the process exit code: 0 after a clean
// stop, 1 when it could not start (the port is taken, the ring cannot be created, the setup
// threw, ...: said on stderr), 2 for invalid options — a value of ServeOptions out of its flag's
// bounds (host, port, workers, ring, ring_mb, max_sessions, session_bytes, cut_log_mb,
// rebalance_rate, max_held_sends, redis.key; redis.url, mode and subscription when a URL is set:
// checked by the same rules whether a flag or the app's code set it; --redis-mode, --redis-key and
// --redis-subscription-mode given as flags or variables without a URL, and a subscription mode
// given with the classic mode, are refused too; the
// Server's own options, `server`, are the Server's to take, but server.serve_client, read here
// once before any worker starts: a directory without the client bundle), and a cluster's options
// (ring, ring_mb, ring_huge_pages, ring_per_worker, port_per_worker, max_sessions, session_bytes,
// cut_log_mb, max_held_sends, redis) set for one process (workers < 0), or given as flags
// (flags_given) at whatever value.
int serve(ServeOptions options, Setup setup);

// shmio's command-line flags (the names of `shmio --help`), so that every app has the same ones:
// --port P --host H --workers N|auto --port-per-worker --no-pin --ring NAME --ring-mb M
// --ring-per-worker --ring-huge-pages --log-sockets --per-message-deflate
// --allow-origin O (repeatable) --cookie NAME --serve-client DIR --no-io-uring --recovery
// --max-sessions N --session-bytes N --cut-log-mb N --max-held-sends N --no-rebalance
// --rebalance-rate N
// --first-request-timeout MS --max-open-sessions N --watchdog-timeout MS
// --flush-budget BYTES --read-budget BYTES --max-attachment-bytes BYTES --max-json-depth N
// --redis URL --redis-mode M --redis-key K --redis-subscription-mode M
// --ping-interval MS --ping-timeout MS --connect-timeout MS --help.
// A value flag's value is the next argument, and none starts with "--" (refused: the next flag).
// Each can also come from the environment: SHMIO_ and the flag's name in capitals with '_' for
// '-' (SHMIO_PORT=8080, SHMIO_WORKERS=auto; a switch such as SHMIO_NO_PIN with 1, true or yes);
// the command line wins over the environment.
struct ParseResult {
  enum Status { ok, help, error } status = ok;
  std::string message;            // error: what was wrong (usage_text() follows it on stderr)
  std::vector<std::string> rest;  // arguments that are not shmio's, in order (with allow_rest)
  bool help_unwritten = false;    // help: the usage could not be written to stdout
  // What main should return when status != ok: 0 for help (usage printed; 1 if it could not be),
  // 2 for an error.
  int exit_code() const noexcept {
    return status == help ? (help_unwritten ? 1 : 0) : status == error ? 2 : 0;
  }
};
// Applies the environment, then argv[1..], to `options`. With `allow_rest`, arguments that are
// not shmio's are returned in `rest` for the app (its own flags); without it they are an error.
// Prints the usage on --help (stdout) and the message plus usage on an error (stderr).
ParseResult parse_args(int argc, const char* const* argv, ServeOptions& options,
                       bool allow_rest = false);
// The flags' help text (what parse_args prints).
const char* usage_text() noexcept;
// Whether `arg` is one of shmio's flags that takes a value, the next argument ("--port"; not
// "--no-pin", nor "--port=1"): for an app that looks through argv before parse_args (its own
// --help, say) and must pass over a flag's value ("--ring -h" names a ring).
bool flag_takes_value(std::string_view arg);

// The process's standard error as it was before serve() routed descriptor 2 through the log hook
// (2 if it has not): where a ServeOptions::log hook writes lines meant for the terminal. Asked for
// each time, not kept: the descriptor is closed when serve() returns (2 is the stderr again).
int stderr_fd() noexcept;

}  // namespace shmio
