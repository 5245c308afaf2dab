// An Engine.IO v4 server on Boost.Beast: HTTP long-polling and WebSocket on one io_context
// thread, driving one engineio::Session state machine per client. Usable on its own, like Node's
// `engine.io` package (server/examples/eio_echo.cpp); the Socket.IO layer sits on its Handler.
//
// Errors at the HTTP edge follow the protocol: HTTP 400 with {"code":N,"message":...} for
// 0 "Transport unknown", 1 "Session ID unknown", 2 "Bad handshake method", 3 "Bad request",
// 5 "Unsupported protocol version"; 403 {"code":4,"message":"Forbidden"} when allow_request
// refuses; 413 for a POST body over max_payload. Beast/Asio types stay out of this header on
// purpose (they live in one translation unit). Thread-safety: everything runs on the io_context's
// thread; call Socket methods only from there.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/engineio/session.hpp"

namespace boost::asio {
class io_context;
}

namespace shmio::engineio {

namespace detail {
struct ServerCore;  // server.cpp: the acceptor, the sessions, the Beast connections
}

// WebSocket permessage-deflate (RFC 7692), off by default as in socket.io: compression costs CPU
// per message and zlib state per connection — with these defaults about 136 KiB for deflate by
// zlib's own formula (2^(window_bits+2) + 2^(mem_level+9) bytes; an estimate, not measured here),
// plus the inflate side's window, so 10,000 compressing clients hold over 1.3 GiB.
// Messages under `threshold` bytes are sent uncompressed (socket.io's default threshold: 1024).
struct PerMessageDeflate {
  std::size_t threshold = 1024;
  int window_bits = 15;  // 9..15: the largest window the server offers and uses
  int level = 6;         // zlib level 0..9
  int mem_level = 4;     // zlib memLevel 1..9
};

struct ServerOptions {
  std::string path = "/engine.io/";
  std::optional<PerMessageDeflate> per_message_deflate;  // off unless set
  SessionOptions session;
  bool allow_polling = true;
  bool allow_websocket = true;
  // A polling response of this many bytes or more is compressed (gzip or deflate, as the GET's
  // Accept-Encoding allows; not if every packet in it was sent with compress(false)), as
  // engine.io's httpCompression (threshold 1024 by default). 0: never.
  std::size_t http_compression_threshold = 1024;
  // CORS: empty = no CORS headers; else Access-Control-Allow-Origin is this value, "*" included
  // (as the cors package engine.io uses: a browser makes no credentialed request to "*"; before
  // 2026-12-06 "*" reflected the request's Origin, which with cors_credentials let every site
  // make requests with the user's cookies).
  std::string cors_origin;
  // Every request's Origin reflected, whatever it is (socket.io's cors origin: true): any site's
  // pages may read the answers, with the user's cookies when cors_credentials is set. Before
  // cors_origin and cors_origins.
  bool cors_reflect_origin = false;
  // With cors_origin empty: the request's Origin is reflected when it is one of these (lower
  // case, scheme://host[:port]), as the cors package's origin list; others get no CORS headers.
  std::vector<std::string> cors_origins;
  bool cors_credentials = false;
  // Called with the request's headers (lower-case names) before a handshake; false -> 403.
  std::function<bool(const std::vector<std::pair<std::string, std::string>>& headers)>
      allow_request;
  // Requests outside `path` (GET/HEAD only): a static response, or nullopt for 404.
  struct StaticResponse {
    std::string content_type;
    std::shared_ptr<const std::string> body;  // (null: an empty body)
  };
  std::function<std::optional<StaticResponse>(const std::string& path)> static_files;
  // An application's own HTTP endpoints outside `path`, any method, asked before static_files:
  // a response, or nullopt to go on (static_files, then 404). OPTIONS too: with cors_origin set,
  // a preflight that routes does not answer gets the Engine.IO's CORS answer (204). Runs on the
  // server's thread and must not block; the body is whole (bounded by session.max_payload, as a
  // POST to Engine.IO).
  struct HttpRequest {
    std::string_view method;  // "GET", "POST", ...
    std::string_view path;    // without the query
    std::string_view query;   // after '?', undecoded ("" if none)
    std::string_view body;
    // A header's value by its name (any case), or nullopt; a repeated one's as Node's
    // request.headers has it (HandshakeRequest::Pairs::joined: ", " between, "; " for cookie, the
    // first of host, authorization, user-agent, ...). Before 2026-12-06 the first: a client's
    // own X-Forwarded-For line where a proxy appends its own after it.
    std::function<std::optional<std::string_view>(std::string_view name)> header;
    // The peer's IP address (socket.io's req.socket.remoteAddress; "?" if it cannot be read).
    // Since 2026-12-06. It, and a repeated header's joined value, live as long as this
    // HttpRequest (or a copy of it); the other views, into the request, as long as the request.
    std::string_view address;
  };
  struct HttpResponse {
    unsigned status = 200;  // 200-599 (another: a 500); a 204's or 304's body is left out
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  };
  std::function<std::optional<HttpResponse>(const HttpRequest&)> routes;

  // Files served as socket.io serves its client bundle (serveClient; socketio::ServerOptions::
  // serve_client loads them: socketio::load_client_files). A GET or HEAD of `path` (its trailing
  // '/' taken off) + "/" + a name here, whatever its query, is answered before the routes with the
  // file, its content type, `Cache-Control: public, max-age=0`, the ETag (304 without a body when
  // If-None-Match names it, weak or strong, or is "*"), the CORS fields of the engine's own
  // answers, and in gzip or deflate when the request accepts one (Vary: Accept-Encoding;
  // compressed at the first such request, then kept by this Server). Other methods, and names not
  // here, go on to the routes, static_files, 404. Compressed whatever http_compression_threshold
  // says, as socket.io compresses its bundle whatever engine.io's httpCompression says. An etag
  // or content type that is empty, longer than 1024 bytes or has a control character is refused
  // (std::invalid_argument) when the Server is made.
  struct ClientFiles {
    std::string etag;  // quoted: "\"4.8.4\""
    struct File {
      std::string content_type;
      std::shared_ptr<const std::string> body;
    };
    std::map<std::string, File, std::less<>> files;  // by name: "socket.io.min.js"
  };
  std::shared_ptr<const ClientFiles> client_files;

  // engine.io's allowRequest(req, callback), asynchronous: asked before every handshake (a
  // polling GET or a WebSocket upgrade without a sid), after allow_request. The handshake waits
  // (that connection answers nothing else meanwhile: a WebSocket upgrade's reads nothing, a
  // polling one reads on, up to 8 requests queued, and notices a close) until `done` is called,
  // from any thread, once: done(std::nullopt) lets it on, done(message) refuses it (403
  // {"code":4,"message":<message>}, as engine.io's abortRequest writes an allowRequest's message:
  // it reaches the client, so it must say nothing the client may not know; "Forbidden" for an
  // empty one or an exception's; the message goes to connection_error too). Called once the
  // Server is destroyed, `done` does nothing. The request's views are valid during the call only:
  // copy what a later decision needs.
  std::function<void(const HttpRequest& req,
                     std::function<void(std::optional<std::string> refusal)> done)>
      allow_request_async;

  // engine.io's `cookie` option: the response to a polling handshake sets a cookie holding the
  // session's id, for a load balancer that keeps a client on one server by cookie (HAProxy's
  // `cookie io prefix indirect nocache`), as engine.io writes it with the cookie package's
  // serialize(name, id, opts): "io=<sid>; Path=/; HttpOnly; SameSite=Lax" by default. Off unless
  // set, as in engine.io; not on a WebSocket handshake's 101 (nor is engine.io's). The Server
  // refuses (std::invalid_argument) a name that is not an HTTP token, and a path, domain or
  // same_site with ';', a control character or a space.
  struct Cookie {
    std::string name = "io";
    std::string path = "/";  // "": no Path
    std::string domain;      // "": no Domain
    bool http_only = true;
    bool secure = false;
    std::string same_site = "Lax";          // "Strict", "Lax", "None"; "": none
    std::optional<std::int64_t> max_age_s;  // Max-Age in seconds; none: a session cookie
  };
  std::optional<Cookie> cookie;

  // engine.on("initial_headers") / engine.on("headers"): add headers (e.g. Set-Cookie) to the
  // Engine.IO responses — `initial_headers` to a handshake's (the polling GET without a sid, or a
  // WebSocket upgrade without one), `headers` to every polling response and WebSocket upgrade
  // (after initial_headers), with or without permessage-deflate.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  std::function<void(Headers& headers, const HttpRequest& req)> initial_headers;
  std::function<void(Headers& headers, const HttpRequest& req)> headers;

  // engine.on("connection_error"): every request refused with an Engine.IO error (code and
  // message as engine.io's: 0 "Transport unknown", 1 "Session ID unknown", 2 "Bad handshake
  // method", 3 "Bad request", 4 "Forbidden", 5 "Unsupported protocol version"), with the request.
  struct ConnectionError {
    int code;
    std::string_view message;
    const HttpRequest& req;
  };
  std::function<void(const ConnectionError&)> connection_error;

  // Clustering (used by shmio's workers; all empty for one process):
  // - session ids start with `id_prefix` (the rest stays random; the id keeps its length), so the
  //   worker that owns a session can be told from its id (at most 8 of the id's own characters,
  //   A-Z a-z 0-9 - _: Server's constructor throws std::invalid_argument otherwise);
  // - `reuse_port` sets SO_REUSEPORT so that every worker can listen on the same port;
  // - a request (polling or WebSocket upgrade) whose sid is not a session of this server and for
  //   which `is_foreign(sid)` is true is handed over: the connection's file descriptor and the
  //   bytes read from it that are not answered yet (the request itself, re-serialised, and what
  //   followed it) go to `hand_off`, which owns the descriptor from then on. The owner resumes the
  //   connection with Server::adopt(). Requests before it on the connection are answered first.
  std::string id_prefix;
  bool reuse_port = false;
  // The end-of-turn flush as one io_uring submission for every corked WebSocket (docs/server.md,
  // "Delivery engine"); where io_uring is unavailable or forbidden the server says so once on
  // stderr and flushes with one sendmsg per socket. false: sendmsg always.
  bool io_uring = true;
  // A WebSocket's per-turn budgets (docs/server.md, "Delivery engine"). Flush: at most this many
  // bytes written to one socket per end-of-turn flush (at least one frame); the rest goes next
  // turn (ServerStats::flush_deferrals), so that one huge backlog does not hold up every other
  // socket's turn. Read: at most this many bytes read from one socket per readiness event, then
  // the other sockets' turn (ServerStats::read_yields), so that one fast sender cannot starve the
  // rest. Both at most 4 GiB.
  std::size_t flush_budget = 1 << 20;
  std::size_t read_budget = 256 << 10;
  std::function<bool(const std::string& sid)> is_foreign;
  std::function<void(const std::string& sid, int fd, std::string bytes)> hand_off;
  // Rebalancing: for a fresh handshake (a request on the Engine.IO path without a sid) on a
  // connection this server accepted itself (not one handed over), `steer()` may name another
  // worker to take it (-1: keep it); the connection then goes to `hand_off_to` the same way.
  std::function<int()> steer;
  std::function<void(int worker, int fd, std::string bytes)> hand_off_to;

  // Bounds on connections that are not (yet) sessions:
  // - descriptors kept free for the server's own use (hand-off sockets, memfds, static files,
  //   io_uring): a connection accepted onto a descriptor at or above RLIMIT_NOFILE's soft limit
  //   (read by listen()) minus this is closed at once and counted
  //   (ServerStats::connections_refused), so that a client opening connections without end
  //   cannot take the last descriptors; 0: no bound but the limit itself (EMFILE at accept);
  // - a new connection must send its first request header within `first_request_timeout`
  //   (then it is closed, ServerStats::request_timeouts); later requests on a kept-alive
  //   connection get max(60 s, pingInterval + 2 x pingTimeout + 5 s).
  // - a request's header (its line and fields) is at most `max_header_bytes`: 16 KiB, Node's
  //   default (--max-http-header-size), so that a browser with many cookies gets through as it
  //   does to the reference server; past it the request is answered 431 and the connection
  //   closed (before 2026-12-03: Beast's own 8 KiB, and the connection dropped without an answer).
  std::size_t descriptor_reserve = 64;
  std::chrono::milliseconds first_request_timeout{10000};
  std::size_t max_header_bytes = 16 << 10;
  // Sessions held at most (per server, i.e. per worker in a cluster): the open ones, and closed
  // polling ones kept up to 30 s for their last GET. A polling session holds no descriptor
  // between its requests, so the descriptor bound does not count it, and one client can open a
  // session per GET on one kept-alive connection, each kept until its ping timeout or connect
  // timeout (45 s by default), then kept for its last GET — about 1.25 KiB each with Socket.IO
  // on top (measured 2026-12-03, 40,000 polling handshakes: 5 -> 55 MiB resident). At the bound
  // a new handshake (polling or WebSocket; a session's own upgrade is not one) is answered 503
  // with {"code":4,"message":"Too many sessions"} (the connection_error handler hears it),
  // counted (ServerStats::sessions_refused) and said at most every 10 s; sessions already open
  // go on. Checked when the handshake arrives and again after allow_request_async's answer; a
  // WebSocket whose upgrade is under way is counted once it opens (one per connection). 0: no
  // bound.
  std::size_t max_open_sessions = 1 << 20;
};

// Counters for /metrics (this server only; monotonic except `sessions`, and `descriptor_bound`,
// a setting).
// A latency histogram in microseconds with fixed bounds (Prometheus buckets: counts[i] are the
// observations <= kBoundsUs[i] and above the bound before; the last, above every bound).
struct LatencyHistogram {
  static constexpr std::array<std::uint64_t, 12> kBoundsUs = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};
  std::array<std::uint64_t, kBoundsUs.size() + 1> counts{};
  std::uint64_t sum_us = 0;
  std::uint64_t count = 0;
  void observe(std::int64_t us) noexcept {
    const auto v = static_cast<std::uint64_t>(us < 0 ? 0 : us);
    std::size_t i = 0;
    while (i < kBoundsUs.size() && v > kBoundsUs[i]) ++i;
    ++counts[i];
    sum_us += v;
    ++count;
  }
};

struct ServerStats {
  std::uint64_t connections = 0;  // TCP connections accepted or adopted
  // Connections served as HTTP now (a WebSocket's stops counting at its upgrade), each until its
  // last owner lets it go.
  std::uint64_t http_connections = 0;
  std::uint64_t sessions = 0;  // open Engine.IO sessions now
  std::uint64_t sessions_total = 0;
  std::uint64_t packets_in = 0, packets_out = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;  // Engine.IO packet data, not HTTP framing
  std::uint64_t handed_off = 0;               // connections handed to another worker
  std::uint64_t adopted = 0;                  // connections received from another worker
  std::uint64_t steered = 0;  // fresh handshakes handed to a less loaded worker (rebalancing)
  std::uint64_t connections_refused = 0;  // closed at accept: past the descriptor bound
  std::uint64_t request_timeouts = 0;     // connections closed waiting for a request header
  std::uint64_t sessions_refused = 0;     // handshakes refused: max_open_sessions held
  std::uint64_t descriptor_bound = 0;     // accepted descriptors must stay below (0: none)
  // The last connection accepted or adopted: its descriptor's number (the lowest free then: how
  // near the bound the next one is, whatever holds the descriptors below it).
  std::uint64_t last_descriptor = 0;
  std::uint64_t flushes = 0;            // end-of-turn flushes (each: every corked session)
  std::uint64_t uring_submissions = 0;  // flushes written with one io_uring submission
  std::uint64_t accept_errors = 0;  // accepts refused for lack of descriptors or memory (paused)
  // A socket's output left for the next turn: its flush_budget, or (io_uring) the 64 frames one
  // socket may have in a turn's batch.
  std::uint64_t flush_deferrals = 0;
  std::uint64_t read_yields = 0;  // a socket's reading paused for others (read_budget)
  // Sessions closed because their queue passed its bound (max_queued_packets / bytes): the slow
  // consumers, disconnected with "transport error".
  std::uint64_t slow_consumer_closes = 0;
  // Event-loop turns with output: from the first output queued in the turn to the end of its
  // flush (the handlers after that first output, then every socket's write).
  LatencyHistogram turn_time;
};

// What the client's first request (the handshake) carried: headers (names in lower case, in
// order), the decoded query pairs (in order), the request target and the peer's IP address.
// Stored compactly — every string of it in one buffer, each pair as two varint lengths and its
// bytes — because every connection keeps one for its lifetime (socket.io's `handshake`): the
// seven headers of a typical WebSocket client are kept in one allocation instead of fourteen
// strings (building it in the buffer's order — headers, query, url, address — appends only).
// Built once, then read-only (shared by the session and every namespace's socket).
class HandshakeRequest {
 public:
  using Pair = std::pair<std::string_view, std::string_view>;

  // A read-only view of a sequence of pairs; valid while the request lives.
  class Pairs {
   public:
    class iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = Pair;
      using difference_type = std::ptrdiff_t;
      using pointer = void;
      using reference = Pair;
      iterator() = default;
      explicit iterator(const char* p) : p_(p) {}
      Pair operator*() const noexcept;
      iterator& operator++() noexcept;
      iterator operator++(int) noexcept {
        iterator t = *this;
        ++*this;
        return t;
      }
      bool operator==(const iterator& o) const noexcept { return p_ == o.p_; }

     private:
      const char* p_ = nullptr;
    };
    using const_iterator = iterator;
    using value_type = Pair;

    Pairs() = default;
    Pairs(const char* b, const char* e, std::size_t n, bool last_wins = false)
        : b_(b), e_(e), n_(n), last_wins_(last_wins) {}
    iterator begin() const noexcept { return iterator(b_); }
    iterator end() const noexcept { return iterator(e_); }
    std::size_t size() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }
    // The value of the pair named `key` (exact match), if any; of a repeated one, the first in
    // headers() (joined() gives Node's value), the last in query() (as
    // engine.io reads its query, and the engine here: before 2026-12-03 the first, so an app saw
    // another value than the one the engine acted on).
    std::optional<std::string_view> find(std::string_view key) const noexcept;
    // A header's value as Node's request.headers has it (socket.io's handshake.headers): a
    // repeated header's values joined with ", " ("; " for cookie), except the headers Node keeps
    // the first of (host, authorization, user-agent, referer, ...: node_keeps_first). `key` in
    // lower case. Before 2026-12-04 Handshake::header gave the first of any repeated header: a
    // client's own X-Forwarded-For line, where a proxy appends its own line after it, stood for
    // the whole ("spoofed" where socket.io gives "spoofed, real").
    std::optional<std::string> joined(std::string_view key) const;
    static bool node_keeps_first(std::string_view lower_case_name) noexcept;
    friend bool operator==(const Pairs& a, const Pairs& b) noexcept;

   private:
    const char* b_ = nullptr;
    const char* e_ = nullptr;
    std::size_t n_ = 0;
    bool last_wins_ = false;
  };

  HandshakeRequest() = default;

  Pairs headers() const noexcept;
  Pairs query() const noexcept;
  std::string_view url() const noexcept { return field(url_at_, address_at_); }
  std::string_view address() const noexcept {
    return field(address_at_, static_cast<std::uint32_t>(blob_.size()));
  }

  // Building (in any order; a request is built before it is shared). A string longer than
  // 4 GiB - 1 cannot come from Beast's bounded parser or the cluster's bounded records.
  void add_header(std::string_view lower_case_name, std::string_view value);
  void add_query(std::string_view key, std::string_view value);
  void set_url(std::string_view url);
  void set_address(std::string_view address);
  // Gives back the spare capacity left by building (call once built).
  void shrink() { blob_.shrink_to_fit(); }
  std::size_t bytes() const noexcept { return sizeof(*this) + blob_.capacity(); }

 private:
  std::string_view field(std::uint32_t b, std::uint32_t e) const noexcept {
    return std::string_view(blob_).substr(b, e - b);
  }
  enum class Section { headers, query, url, address };
  void append_pair(Section section, std::string_view k, std::string_view v);
  void append_to(Section section, std::string_view bytes);
  // blob_: [header pairs][query pairs][url][address]
  std::string blob_;
  std::uint32_t query_at_ = 0, url_at_ = 0, address_at_ = 0;
  std::uint32_t n_headers_ = 0, n_query_ = 0;
};

// One client session as the layer above sees it.
class Socket {
 public:
  virtual ~Socket() = default;
  virtual const std::string& id() const noexcept = 0;
  virtual TransportKind transport() const noexcept = 0;
  // Queues a packet; false if the session is closed (or just closed on overflow).
  virtual bool send(Packet p) = 0;
  // The delivery path: queues a reference to a shared frame (no copy; allocation-free once the
  // session's queue has its working size). Output is corked: written once at the end of the
  // event-loop turn, whatever the number of frames queued during it. Never calls back into the
  // caller (an overflow closes the session at the end of the turn).
  virtual bool send_frame(FrameRef f) = 0;
  // One message in several frames (a Socket.IO binary message: the header, then its
  // attachments), queued as one: all of them or none (Session::send_message). The default sends
  // each frame with send_frame (for a Socket that has no bounds).
  virtual bool send_message(FrameRef head, std::span<const FrameRef> rest) {
    if (!send_frame(std::move(head))) return false;
    for (const FrameRef& f : rest)
      if (!send_frame(f)) return false;
    return true;
  }
  // A protocol packet of the layer above (Socket.IO's DISCONNECT), queued past the session's
  // bounds as a ping is: the server's word that a client is sent away is not dropped with a queue
  // the app filled (the bounds close a session that does not read at its next message, not at
  // the word that ends it). false if the session is closed. The default sends it as a frame.
  virtual bool send_past_bound(FrameRef f) { return send_frame(std::move(f)); }
  virtual void close() = 0;  // "forced close"
  // The same, and on a WebSocket an Engine.IO close packet before the close frame, past the
  // queue's bound as a ping is (engine.io's WebSocket transport sends none): socket.io's
  // disconnect(true), whose client is not to reconnect (socketio::Client::disconnect_everything).
  virtual void close_saying_so() { close(); }
  virtual std::string_view remote_address() const noexcept = 0;
  virtual const HandshakeRequest& request() const noexcept = 0;
  // The same, shared: the Socket.IO layer keeps this pointer rather than a copy (one copy of the
  // headers per connection).
  virtual std::shared_ptr<const HandshakeRequest> shared_request() const noexcept = 0;
  // Whether a packet sent now would be written at once (polling: a GET is waiting; WebSocket: no
  // write in flight and nothing queued). Volatile packets are dropped when it is false.
  virtual bool writable() const noexcept = 0;
  // What is queued for the client now, as the session's bounds count it (SessionOptions::
  // max_queued_packets / max_queued_bytes: frames, and bytes as a polling payload takes them).
  struct Queued {
    std::size_t packets = 0, bytes = 0;
  };
  virtual Queued queued() const noexcept { return {}; }

  // One pointer for the layer above, unused by Engine.IO (Socket.IO keeps its per-connection
  // object here, instead of a map from sessions to it).
  void* user_data() const noexcept { return user_data_; }
  void set_user_data(void* p) noexcept { user_data_ = p; }

  // What send_frame() reads of a session lies in the object's first kHotBytes (the server's
  // implementation orders its fields so): a broadcast asks for them ahead of time, a few
  // receivers before it reaches this one.
  static constexpr std::size_t kHotBytes = 144;
  void prefetch_hot() const noexcept {
    const char* p = reinterpret_cast<const char*>(this);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + kHotBytes - 1);
  }

 private:
  void* user_data_ = nullptr;
};
using SocketPtr = std::shared_ptr<Socket>;

struct Handler {
  std::function<void(const SocketPtr&)> on_open;
  std::function<void(const SocketPtr&, Packet)> on_message;
  std::function<void(const SocketPtr&, CloseReason)> on_close;
  // The session moved from polling to WebSocket (the upgrade completed).
  std::function<void(const SocketPtr&)> on_upgrade;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; returns the bound port (useful with port 0), or throws
  // std::system_error with the reason: its code the errno (EADDRINUSE, EACCES, ...), its what()
  // the step and the reason ("bind: Address already in use"); an address that is not an IPv4
  // or IPv6 one, or a second listen() on a server that listens, is std::errc::invalid_argument
  // or std::errc::already_connected. After a failed listen() the server may listen again.
  std::uint16_t listen(const std::string& address, std::uint16_t port);
  // Stops accepting and closes every session ("forced close").
  void stop();
  // Stops accepting new connections only (a draining worker); sessions go on.
  void stop_accepting();
  std::size_t session_count() const noexcept;
  // Whether a new handshake would be taken now: the server listens (not stopped, nor draining:
  // stop_accepting) and holds fewer than ServerOptions::max_open_sessions sessions (/health's
  // "accepting").
  bool accepting_handshakes() const noexcept;
  // Resumes a connection handed over by another process (ServerOptions::hand_off): `bytes` are
  // processed as if they had been read from it. Takes ownership of fd (closed on failure, when
  // it is not a TCP connection, and when it is past the descriptor bound, as an accepted one:
  // ServerStats::connections_refused). `handed_over`: counted in ServerStats::adopted (false for
  // a connection this process accepted itself and serves after all, e.g. one whose own hand-off
  // to another process failed).
  void adopt(int fd, std::string bytes, bool handed_over = true);
  const ServerStats& stats() const noexcept;

 private:
  std::shared_ptr<detail::ServerCore> impl_;
};

}  // namespace shmio::engineio
