// The Engine.IO server's shared state (ServerCore: options, sessions, the deadline heap, the
// end-of-turn flush lists, the acceptor) (private to engineio/src).
#pragma once

#include "http_util.hpp"

namespace shmio::engineio {

class HttpConnection;
class WsConnection;
class EngineSocket;

// allow_request_async's `done` as other threads see the server (ServerCore::gate): `io` until
// ~Server, and what each handshake waiting for its `done` holds (its connection and the core),
// let go by ~Server on the loop's thread. A `done` called after (the app's thread pool finishing
// a look-up once serve() returned, its io_context destroyed) does nothing and holds nothing that
// would touch the loop. (Before 2026-12-05 it posted to that io_context; found by a review.)
// (~Server runs on the loop's thread, or once the loop no longer runs, as every Asio object's
// destructor must: the handshakes it lets go are read by the loop's handlers.)
struct AsyncGate {
  struct Held {
    std::shared_ptr<HttpConnection> self;
    std::shared_ptr<detail::ServerCore> srv;
  };
  std::mutex m;
  net::io_context* io = nullptr;
  std::vector<std::weak_ptr<Held>> waiting;  // (the expired ones pruned as it grows)
};

struct detail::ServerCore : std::enable_shared_from_this<detail::ServerCore> {
  ServerCore(net::io_context& ctx, ServerOptions o, Handler h)
      : io(ctx), options(std::move(o)), handler(std::move(h)), acceptor(ctx) {
    gate->io = &ctx;
    options.session.allow_upgrades =
        options.session.allow_upgrades && options.allow_websocket && options.allow_polling;
    if (options.io_uring && options.allow_websocket) {
      std::string why;
      uring = detail::UringFlusher::open(kUringDepth, why);
      if (!uring)
        std::fprintf(stderr, "shmio: io_uring unavailable (%s): flushing with sendmsg\n",
                     why.c_str());
    }
  }

  void accept();
  // A connection's descriptor at or past the bound (ServerOptions::descriptor_reserve), accepted
  // or handed over (`how`): counted in connections_refused and said every 10 s; true then (the
  // caller closes it).
  bool past_descriptor_bound(int fd, const char* how);
  void add_cors(const Request& req, Response& res) const;
  // (`address`: the peer's, for the connection_error handler's HttpRequest.)
  Response json_error(const Request& req, http::status status, int code, const char* message,
                      std::string_view address) const;
  // A session's transport error on polling (a second GET at once, a POST overlapping another,
  // a binary content type: 400; a method neither GET nor POST: 500): bare, no body and no
  // connection_error (it is no refused handshake), as the reference's polling transport answers
  // them.
  Response bare_error(const Request& req, http::status status) const;
  // A new session's handshake with max_open_sessions open: counted and said every 10 s, and its
  // 503 answer returned; nullopt while there is room.
  std::optional<Response> refuse_past_session_bound(const Request& req, std::string_view address);

  net::io_context& io;
  std::shared_ptr<AsyncGate> gate = std::make_shared<AsyncGate>();
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  // Keyed by a view of the session's own id (it lives as long as the entry): no copy of it.
  std::unordered_map<std::string_view, std::shared_ptr<EngineSocket>> sessions;
  bool stopped = false;
  bool accepting = false;
  // Every HTTP connection of this server (each adds itself and removes itself when destroyed):
  // stop() closes the idle ones (a kept-alive polling connection, one that never sent a request)
  // and the others once their answer is written.
  std::unordered_set<HttpConnection*> http_connections;
  std::size_t lingering = 0;           // closed sessions kept for their last GET (not open)
  net::steady_timer accept_pause{io};  // after EMFILE/ENFILE at accept
  TimePoint accept_error_logged{};
  TimePoint session_bound_logged{};
  // The client files (ServerOptions::client_files) compressed, by coding and name ("gzip
  // socket.io.min.js"): made at the first request that accepts the coding, kept while the Server
  // lives (at most one of each file per coding).
  std::map<std::string, std::string, std::less<>> client_files_encoded;
  std::size_t open_sessions() const { return sessions.size() - lingering; }
  ServerStats stats;
  // Corking (docs/server.md, "Delivery engine"): sessions that queued output during this turn,
  // flushed once by a handler posted behind everything the turn already has queued.
  std::vector<EngineSocket*> dirty, flushing;
  bool flush_posted = false;
  TimePoint turn_started{};  // when this turn's first output was queued
  void cork(EngineSocket* s);
  // A flush left output for the next turn (its byte budget): listed again, counted.
  void defer(EngineSocket* s) {
    ++stats.flush_deferrals;
    cork(s);
  }
  void unlist(EngineSocket* s);
  void flush_all();
  // The io_uring flush: the turn's WebSocket writes in one submission (uring.hpp). The batch's
  // vectors keep their capacity between turns (no allocation in steady state).
  static constexpr unsigned kUringDepth = 1024;
  static constexpr std::size_t kBatchIovecs = 64;  // per socket per turn; the rest next turn
  std::unique_ptr<detail::UringFlusher> uring;
  struct Batched {
    EngineSocket* session;
    detail::Link* link;
    int fd;
    std::size_t iov_at, iov_count, bytes;
  };
  std::vector<Batched> batch;
  // The turn's iovecs: each session is given kBatchIovecs slots, prepare_write fills some, the
  // rest are given back. Grown without zeroing (a std::vector's resize would clear the 64 slots,
  // 1 KiB, for every session of every turn); keeps its capacity between turns.
  struct IovecBuffer {
    std::unique_ptr<iovec[]> slots;
    std::size_t used = 0, capacity = 0;
    void clear() noexcept { used = 0; }
    std::size_t size() const noexcept { return used; }
    iovec* extend(std::size_t k) {
      if (used + k > capacity) {
        const std::size_t c = std::max(used + k, capacity * 2);
        auto grown = std::make_unique_for_overwrite<iovec[]>(c);
        std::copy_n(slots.get(), used, grown.get());
        slots = std::move(grown);
        capacity = c;
      }
      iovec* at = slots.get() + used;
      used += k;
      return at;
    }
    void shrink_to(std::size_t n) noexcept { used = n; }
    iovec* at(std::size_t i) noexcept { return slots.get() + i; }
  } batch_iov;
  std::vector<int> batch_fds;
  std::vector<msghdr> batch_msgs;
  std::vector<long> batch_results;
  void flush_batched();
  // Heartbeats, upgrade and linger timeouts of every session: one queue and one timer per
  // server, armed at the earliest deadline (a session holds its slot in the heap, not a timer).
  detail::DeadlineHeap<EngineSocket, TimePoint> deadlines;
  net::steady_timer deadline_timer{io};
  TimePoint timer_at = TimePoint::max();
  void schedule(EngineSocket* s, TimePoint when);
  void arm_deadline_timer();
  // No deadline left (the last session's removed): the timer's wait is cancelled, so that it
  // does not keep the io_context running until a ping of a session gone (io.run() returned
  // about a ping interval after Server::close(); found in review, 2026-12-02).
  void quiet_if_idle() {
    if (!deadlines.empty() || timer_at == TimePoint::max()) return;
    timer_at = TimePoint::max();
    deadline_timer.cancel();
  }
  void on_deadline_timer();
  // A new session id: the configured prefix, then random characters (the id keeps its length).
  std::string new_id() const {
    std::string id = random_id();
    const std::size_t keep = std::min(options.id_prefix.size(), id.size());
    id.replace(0, keep, options.id_prefix.substr(0, keep));
    return id;
  }
};
}  // namespace shmio::engineio
