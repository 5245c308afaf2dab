// The Engine.IO transports on Boost.Beast. All Asio/Beast code of the Engine.IO layer is in this
// one translation unit (Beast is heavy to compile); the protocol rules are in session.cpp.
#include "shmio/engineio/server.hpp"

#include "deadline_heap.hpp"
#include "link.hpp"
#include "uring.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace shmio::engineio {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::unordered_map<std::string, std::string> query;
};

// The application's view of a request (routes, header hooks, connection errors): views into
// `req`, valid while it lives.
ServerOptions::HttpRequest http_request(const http::request<http::string_body>& req) {
  const std::string_view target = req.target();
  const std::size_t qm = target.find('?');
  return ServerOptions::HttpRequest{
      req.method_string(), target.substr(0, qm),
      qm == std::string_view::npos ? std::string_view{} : target.substr(qm + 1), req.body(),
      [&req](std::string_view name) -> std::optional<std::string_view> {
        auto it = req.find(name);
        if (it == req.end()) return std::nullopt;
        return std::string_view(it->value());
      }};
}

// A request without a session id in its query: a handshake.
bool is_handshake(const http::request<http::string_body>& req) {
  const std::string_view target = req.target();
  const std::size_t qm = target.find('?');
  if (qm == std::string_view::npos) return true;
  const std::string_view q = target.substr(qm);
  return q.find("?sid=") == std::string_view::npos && q.find("&sid=") == std::string_view::npos;
}

// The header hooks' additions for a response to `req`.
ServerOptions::Headers hooked_headers(const ServerOptions& o,
                                      const http::request<http::string_body>& req) {
  ServerOptions::Headers h;
  if (!o.initial_headers && !o.headers) return h;
  const ServerOptions::HttpRequest hr = http_request(req);
  try {
    if (o.initial_headers && is_handshake(req)) o.initial_headers(h, hr);
    if (o.headers) o.headers(h, hr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: headers handler threw: %s\n", e.what());
  }
  // A name or value with a line break (or an empty name) would split the response: not written.
  std::erase_if(h, [](const auto& f) {
    return f.first.empty() || f.first.find_first_of("\r\n:") != std::string::npos ||
           f.second.find_first_of("\r\n") != std::string::npos;
  });
  return h;
}

// Calls `f(name, value)` for each pair of the target's query string, decoded, in order.
template <class F>
void for_each_query_pair(std::string_view target, F&& f) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    f(url_decode(pair.substr(0, eq)),
      eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

Target parse_target(std::string_view target) {
  Target t;
  t.path = std::string(target.substr(0, target.find('?')));
  for_each_query_pair(target,
                      [&](std::string k, std::string v) { t.query[std::move(k)] = std::move(v); });
  return t;
}

std::string lower(std::string_view v) {
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::pair<std::string, std::string>> lower_case_headers(const Request& req) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& f : req) headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  return headers;
}

std::shared_ptr<const HandshakeRequest> handshake_request(const Request& req,
                                                          std::string_view address) {
  auto h = std::make_shared<HandshakeRequest>();
  std::string name;
  for (const auto& f : req) {
    name.assign(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h->add_header(name, f.value());
  }
  // In the buffer's own order (headers, query, url, address): each part is appended, none moved.
  for_each_query_pair(req.target(),
                      [&](const std::string& k, const std::string& v) { h->add_query(k, v); });
  h->set_url(req.target());
  h->set_address(address);
  h->shrink();
  return h;
}

bool same_path(std::string_view got, std::string_view want) {
  auto strip = [](std::string_view v) {
    while (!v.empty() && v.back() == '/') v.remove_suffix(1);
    return v;
  };
  return strip(got) == strip(want);
}

}  // namespace

class HttpConnection;
class WsConnection;
class EngineSocket;

struct detail::ServerCore : std::enable_shared_from_this<detail::ServerCore> {
  ServerCore(net::io_context& ctx, ServerOptions o, Handler h)
      : io(ctx), options(std::move(o)), handler(std::move(h)), acceptor(ctx) {
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
  void add_cors(const Request& req, Response& res) const;
  Response json_error(const Request& req, http::status status, int code, const char* message) const;

  net::io_context& io;
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  // Keyed by a view of the session's own id (it lives as long as the entry): no copy of it.
  std::unordered_map<std::string_view, std::shared_ptr<EngineSocket>> sessions;
  bool stopped = false;
  bool accepting = false;
  std::size_t lingering = 0;           // closed sessions kept for their last GET (not open)
  net::steady_timer accept_pause{io};  // after EMFILE/ENFILE at accept
  TimePoint accept_error_logged{};
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
  std::vector<iovec> batch_iov;
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
  void on_deadline_timer();
  // A new session id: the configured prefix, then random characters (the id keeps its length).
  std::string new_id() const {
    std::string id = random_id();
    const std::size_t keep = std::min(options.id_prefix.size(), id.size());
    id.replace(0, keep, options.id_prefix.substr(0, keep));
    return id;
  }
};

// ---------------------------------------------------------------------------------------------
// A WebSocket through Beast's stream: only for connections that negotiated permessage-deflate
// (Beast compresses). One message per write, from the same source queue as the raw link.
class WsConnection final : public detail::Link, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket socket, std::size_t max_message, const PerMessageDeflate& deflate)
      : ws_(std::move(socket)) {
    ws_.read_message_max(max_message);
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.server_max_window_bits = std::clamp(deflate.window_bits, 9, 15);
    pmd.compLevel = std::clamp(deflate.level, 0, 9);
    pmd.memLevel = std::clamp(deflate.mem_level, 1, 9);
    pmd.msg_size_threshold = deflate.threshold;
    ws_.set_option(pmd);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  }
  template <class Done>
  void accept(Request req, Done done) {
    ws_.async_accept(req, [self = shared_from_this(), done](beast::error_code ec) { done(ec); });
  }
  void start(std::weak_ptr<detail::LinkEvents> owner) override {
    owner_ = std::move(owner);
    do_read();
  }
  bool blocked() const noexcept override { return writing_; }
  bool flush() override {
    if (writing_ || closing_) return false;
    while (!src_->empty() && src_->front().kind() == Frame::Kind::raw) src_->pop_front();
    if (src_->empty()) {
      if (closing_after_writes_) do_close();
      return false;
    }
    writing_ = true;
    // The frame stays alive while Beast writes it, whatever happens to the queue meanwhile.
    inflight_ = src_->pop_front();
    ws_.binary(inflight_->binary());
    ws_.compress(inflight_->compress());
    const std::string_view bytes = inflight_->payload();
    ws_.async_write(net::buffer(bytes.data(), bytes.size()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->inflight_ = FrameRef();
                      if (ec) return;  // the read side reports the failure
                      self->flush();
                    });
    return false;
  }
  void close_after_writes() override {
    attach(nullptr);
    if (!closing_after_writes_) close_deadline();
    closing_after_writes_ = true;
    if (!writing_) flush();
  }
  std::string remote() const;

 private:
  // The raw link's closing deadline (websocket.cpp, kCloseTimeout): what is queued, the close
  // frame and the client's answer get this long, then the descriptor is closed whatever Beast
  // still waits for (a write the client never reads would otherwise hold it until Beast's idle
  // timeout, 300 s). Closing the socket completes Beast's pending operations with an error.
  static constexpr std::chrono::milliseconds kCloseTimeout{5000};
  void close_deadline() {
    close_timer_ = std::make_unique<net::steady_timer>(ws_.get_executor(), kCloseTimeout);
    close_timer_->async_wait([w = weak_from_this()](const beast::error_code& ec) {
      auto self = w.lock();
      if (ec || !self) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }
  void do_read();
  void do_close() {
    if (closing_) return;
    closing_ = true;
    sealed_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::unique_ptr<net::steady_timer> close_timer_;  // from close_after_writes()
  FrameRef inflight_;
  std::weak_ptr<detail::LinkEvents> owner_;
  bool writing_ = false;
  bool closing_ = false;
  bool closing_after_writes_ = false;
};
// ---------------------------------------------------------------------------------------------
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(tcp::socket socket, std::shared_ptr<detail::ServerCore> srv)
      : stream_(std::move(socket)), srv_(std::move(srv)) {}
  void start() { do_read(); }
  // A connection handed over by another worker: the bytes it had read, parsed before anything
  // read from the socket (such a connection is never steered again).
  void preload(const std::string& bytes) {
    const std::size_t n = net::buffer_copy(buffer_.prepare(bytes.size()), net::buffer(bytes));
    buffer_.commit(n);
    adopted_ = true;
  }
  // Completes a held GET.
  void respond_poll(std::string payload);
  const std::string& remote() {
    if (remote_.empty()) {
      beast::error_code ec;
      const auto ep = stream_.socket().remote_endpoint(ec);
      remote_ = ec ? "?" : ep.address().to_string();
    }
    return remote_;
  }

 private:
  // Idle and slow connections are dropped: no read or write may take longer than this. It is
  // longer than a held GET can last (pingInterval, then the ping answers it).
  std::chrono::milliseconds io_timeout() const {
    return std::max<std::chrono::milliseconds>(
        std::chrono::seconds(60), srv_->options.session.ping_interval +
                                      srv_->options.session.ping_timeout + std::chrono::seconds(5));
  }
  // The header is read first, so that a POST claims its session before its body arrives (the
  // one-POST rule: a second POST for the session meanwhile is refused and closes the session).
  void do_read() {
    stream_.expires_after(first_ ? srv_->options.first_request_timeout : io_timeout());
    parser_.emplace();
    parser_->body_limit(srv_->options.session.max_payload);
    reading_ = true;
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }
  void on_header(beast::error_code ec);
  void on_read(beast::error_code ec);
  // The one-POST rule's bookkeeping (see EngineSocket::claim_post).
  void release_claim(std::weak_ptr<EngineSocket>& claim, bool completed);
  void next();
  void handle(Request req, const Target& t);
  void handle_polling(Request& req, const Target& t);
  // After allow_request_async's answer: the handshake goes on, or is refused.
  void resume_handshake(Request& req, const Target& t, const std::optional<std::string>& refusal);
  void handle_upgrade(Request& req, const Target& t);
  void send(Response res) {
    const bool keep = res.keep_alive();
    auto sp = std::make_shared<Response>(std::move(res));
    stream_.expires_after(io_timeout());
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp, keep](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->shutdown();
                          return;
                        }
                        if (!keep) {
                          self->graceful_close();
                          return;
                        }
                        self->busy_ = false;
                        self->next();
                      });
  }
  Response text(const Request& req, std::string body) {
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    res.set(http::field::cache_control, "no-store");  // long-poll answers must never be cached
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    srv_->add_cors(req, res);
    for (auto& [name, value] : hooked_headers(srv_->options, req)) res.insert(name, value);
    return res;
  }
  // After a "Connection: close" answer: stop sending, then read and discard what the client is
  // still sending (e.g. the rest of a 413'd body) before closing — closing with unread bytes
  // would reset the connection and could destroy the answer before the client reads it. Bounded:
  // at most 2 s and max_payload + 64 KiB bytes, then the connection is closed regardless.
  void graceful_close() {
    closed_ = true;
    lost_held_get();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return shutdown();
    stream_.expires_after(std::chrono::seconds(2));
    drain_left_ = srv_->options.session.max_payload + 65536;
    if (!reading_) drain();  // else the pending read goes on draining when it completes
  }
  void drain() {
    if (!drain_buf_) drain_buf_ = std::make_unique<char[]>(kDrainChunk);
    stream_.async_read_some(net::buffer(drain_buf_.get(), kDrainChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec || n >= self->drain_left_) return self->shutdown();
                              self->drain_left_ -= n;
                              self->drain();
                            });
  }
  void shutdown() {
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    lost_held_get();
    // POSTs claimed but not handled: their connection closed prematurely.
    release_claim(reading_claim_, false);
    for (Queued& q : queued_) release_claim(q.claim, false);
  }
  void lost_held_get();
  // The sid of a request for a session another worker owns, if any.
  std::optional<std::string> foreign_sid(const Target& t) const;
  // To the owner of `sid`, or (no sid: a steered fresh handshake) to `worker`.
  void hand_off(Request req, const std::optional<std::string>& sid, int worker);
  int steer_target(const Target& t) const;

  beast::tcp_stream stream_;
  std::shared_ptr<detail::ServerCore> srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // Requests read while a response is pending (pipelining), each with the sid of another
  // worker's session if it must be handed over (decided once, when it is read), and for a POST
  // the session it claimed, or `overlap` if another connection's POST held that session.
  struct Queued {
    Request req;
    Target target;  // req's target, parsed once (when its header arrived)
    std::optional<std::string> foreign;
    std::weak_ptr<EngineSocket> claim;
    bool overlap = false;
    int steer_to = -1;  // a fresh handshake handed to this worker (rebalancing)
  };
  std::deque<Queued> queued_;
  Target target_;                              // of the request being read
  std::weak_ptr<EngineSocket> reading_claim_;  // claimed by the POST whose body is being read
  bool reading_overlap_ = false;
  bool busy_ = false;  // a request is being answered (or a GET is held)
  bool closed_ = false;
  std::weak_ptr<EngineSocket> held_for_;  // the session whose GET we hold
  std::optional<Request> held_;
  std::string remote_;
  std::size_t drain_left_ = 0;
  bool reading_ = false;  // a read of the next request is pending
  bool adopted_ = false;  // handed over by another worker
  bool first_ = true;     // no request header read yet
  // Where a closing connection's unread bytes are discarded: allocated by the first drain(), not
  // held by every connection (a connection storm has hundreds of handshakes in flight, and 16 KiB
  // each stayed in the heap's resident pages after they ended: docs/server.md).
  static constexpr std::size_t kDrainChunk = 16384;
  std::unique_ptr<char[]> drain_buf_;
};

// ---------------------------------------------------------------------------------------------
class EngineSocket final : public Socket,
                           public detail::LinkEvents,
                           public std::enable_shared_from_this<EngineSocket> {
 public:
  EngineSocket(std::shared_ptr<detail::ServerCore> srv, TransportKind kind,
               std::shared_ptr<const HandshakeRequest> req)
      : srv_(std::move(srv)),
        sm_(srv_->new_id(), kind, srv_->options.session, Clock::now()),
        request_(std::move(req)) {}
  ~EngineSocket() override {
    srv_->unlist(this);
    set_deadline(TimePoint::max());
    if (ws_) ws_->attach(nullptr);  // the link must not keep a pointer to our queue
  }

  const std::string& id() const noexcept override { return sm_.sid(); }
  TransportKind transport() const noexcept override { return sm_.transport(); }
  std::string_view remote_address() const noexcept override { return request_->address(); }
  const HandshakeRequest& request() const noexcept override { return *request_; }
  std::shared_ptr<const HandshakeRequest> shared_request() const noexcept override {
    return request_;
  }
  // "Writable" as socket.io's volatile flag means it: nothing is waiting to be written — neither
  // in the kernel's hands (a blocked write) nor queued earlier in this turn. Inside a corked turn
  // a socket therefore takes at most one volatile packet, as a Node transport is unwritable from
  // its first send until that write completes. Polling: a GET is held and nothing is queued.
  bool writable() const noexcept override {
    if (sm_.closed() || sm_.has_output()) return false;
    return sm_.transport() == TransportKind::polling ? held_get() != nullptr
                                                     : ws_ && !ws_->blocked();
  }
  bool send(Packet p) override {
    if (sm_.closed()) return false;
    return send_frame(p.to_frame());
  }
  // The delivery path: a reference into the session's bounded queue, written at the end of the
  // turn (ServerCore::cork). Never re-enters the caller: an overflow closes the session at the
  // flush, not here (the caller may be iterating a room).
  bool send_frame(FrameRef f) override {
    ++srv_->stats.packets_out;
    srv_->stats.bytes_out += f->payload().size();
    const Session::SendResult r = sm_.send(std::move(f));
    if (r == Session::SendResult::overflow) ++srv_->stats.slow_consumer_closes;
    if (r != Session::SendResult::closed) srv_->cork(this);
    return r == Session::SendResult::queued;
  }
  void close() override {
    sm_.close(CloseReason::forced_close);
    pump();
  }

  Session& sm() { return sm_; }

  // End of the turn (ServerCore::flush_all): write what the turn queued. Returns true if output
  // remains that waits for the next turn.
  bool flush() {
    if (detail::Link* l = batch_link()) return l->flush();
    pump();
    return false;
  }
  // The link whose write the io_uring flush may batch: an open WebSocket session's own link
  // (nullptr: flush() does this session's work).
  detail::Link* batch_link() const noexcept {
    if (sm_.closed() || sm_.transport() != TransportKind::websocket || !ws_ || probe())
      return nullptr;
    return ws_.get();
  }
  // What batch_link() reads, asked of the memory system ahead of time (flush_batched).
  void prefetch() const noexcept {
    __builtin_prefetch(&sm_);
    __builtin_prefetch(&ws_);
    prefetch_queue();
  }
  // The output queue (its slots inline for a few frames): an address, no pointer to follow.
  void prefetch_queue() const noexcept { __builtin_prefetch(&sm_.out()); }
  // The link's first line (flush_batched, once this session's own lines are in).
  void prefetch_link() const noexcept {
    if (ws_) __builtin_prefetch(ws_.get());
  }
  std::size_t dirty_slot = kNotListed;  // ServerCore's bookkeeping
  std::size_t deadline_slot = decltype(detail::ServerCore::deadlines)::npos;  // the same
  static constexpr std::size_t kNotListed = static_cast<std::size_t>(-1);

  // The one-POST rule (as the reference server): while one connection's POST for this session is
  // being received or waits to be handled, a POST on another connection is refused with 400 and
  // the session closes ("transport error"); so does the session if the POST's connection closes
  // before its body was handled. Several POSTs pipelined on one connection are sequential: fine.
  bool claim_post(const std::shared_ptr<HttpConnection>& c) {
    Rare& r = rare();
    auto owner = r.post_owner.lock();
    if (owner && owner != c) return false;
    if (!owner) r.post_claims = 0;
    r.post_owner = c;
    ++r.post_claims;
    return true;
  }
  void release_post(const HttpConnection* c, bool completed) {
    if (!rare_) return;
    auto owner = rare_->post_owner.lock();
    if (owner.get() != c) return;
    if (--rare_->post_claims <= 0) rare_->post_owner.reset();
    if (!completed) {
      sm_.close(CloseReason::transport_error);
      pump();
    }
  }
  void post_overlap() {
    sm_.close(CloseReason::transport_error);
    pump();
  }
  // A session closed by the server (a forced close) stays known until the client has had what
  // was queued (e.g. Socket.IO's DISCONNECT) and then, in the response to its next GET, the close
  // packet, as in the reference server (engine.io writes the close packet only once its buffer
  // has drained) — at most kLinger, engine.io's closeTimeout, then it is forgotten. Never both in
  // one response: socket.io-client handles a response's packets a microtask after the response,
  // so a close packet in the same response closes its socket first, and those packets (already
  // delivered) wait in its buffer and come out again beside their replay when it recovers.
  // Bounds: kLinger; and a payload over kLingerMaxBytes is not kept (that client gets 400 at its
  // next GET and reconnects), so that closing many slow clients at once cannot pin their whole
  // send queues for 30 s.
  static constexpr std::chrono::seconds kLinger{30};
  static constexpr std::size_t kLingerMaxBytes = 64 * 1024;
  bool lingering() const noexcept { return rare_ && rare_->lingering.has_value(); }
  void forget() {
    if (lingering()) {
      --srv_->lingering;
      rare_->lingering.reset();
    }
    set_deadline(TimePoint::max());
    if (auto it = srv_->sessions.find(sm_.sid());
        it != srv_->sessions.end() && it->second.get() == this)
      srv_->sessions.erase(it);
    srv_->stats.sessions = srv_->open_sessions();
  }

  void open() {
    ++srv_->stats.sessions_total;
    srv_->stats.sessions = srv_->open_sessions();
    sm_.send(Packet::text(PacketType::open, sm_.handshake()));
    if (srv_->handler.on_open) srv_->handler.on_open(shared_from_this());
  }
  // A GET arrived for this session. Returns false if one is already held (protocol error).
  bool hold_get(const std::shared_ptr<HttpConnection>& c) {
    if (held_get()) return false;
    if (announced_) {  // closed already (e.g. by the open handler)
      if (lingering() && !rare_->lingering->empty()) {
        c->respond_poll(std::exchange(*rare_->lingering, std::string()));  // what was queued
        return true;  // the close packet at the next GET
      }
      if (lingering()) forget();
      c->respond_poll("1");
      return true;
    }
    rare().get = c;
    pump();
    return true;
  }
  void get_lost(const HttpConnection* c) {
    if (held_get() != c) return;
    rare_->get.reset();
    // "poll connection closed prematurely": a transport error, as in the reference server.
    sm_.transport_closed(TransportKind::polling, true);
    pump();
  }
  void set_ws(std::shared_ptr<detail::Link> ws, bool probe) {
    if (probe) {
      rare().probe = std::move(ws);
      rare_->probe->flush();  // the handshake response
    } else {
      ws_ = std::move(ws);
      ws_->attach(&sm_.out());
    }
    pump();
  }
  void on_ws_packet(const detail::Link* c, const Packet& p) override {
    if (c != ws_.get() && c != probe()) return;
    ++srv_->stats.packets_in;
    srv_->stats.bytes_in += p.data.size();
    sm_.receive(TransportKind::websocket, p, Clock::now());
    pump();
  }
  void on_ws_garbage(const detail::Link* c) override {
    if (c == probe()) {
      sm_.abandon_probe();
    } else if (c == ws_.get()) {
      sm_.receive_garbage();
    }
    pump();
  }
  void on_ws_read_yield() override { ++srv_->stats.read_yields; }
  void on_ws_closed(const detail::Link* c, bool error) override {
    if (c == probe()) {
      rare_->probe->attach(nullptr);
      rare_->probe.reset();
      sm_.abandon_probe();
    } else if (c == ws_.get()) {
      ws_->attach(nullptr);
      ws_.reset();
      sm_.transport_closed(TransportKind::websocket, error);
    }
    pump();
  }

  // Central step after any change: deliver messages, then write what the session wants written
  // (WebSocket output is corked: written by flush() at the end of the turn).
  void pump() {
    if (pumping_) {
      again_ = true;
      return;
    }
    pumping_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{pumping_};
    auto self = shared_from_this();
    do {
      again_ = false;
      for (Packet& m : sm_.take_messages()) {
        if (sm_.closed()) break;  // nothing more is delivered once the session is closed
        if (!srv_->handler.on_message) continue;
        try {
          srv_->handler.on_message(self, std::move(m));
        } catch (const std::exception& e) {
          std::fprintf(stderr, "shmio: message handler threw: %s\n", e.what());
          sm_.close(CloseReason::forced_close);
        }
      }
      if (sm_.closed()) {
        finish_close();
        break;
      }
      if (probe()) {
        for (const Packet& p : sm_.take_probe_packets()) rare_->probe->push(p.to_frame());
        rare_->probe->flush();
        if (!sm_.upgrading() && sm_.transport() == TransportKind::polling) {
          rare_->probe->close_after_writes();  // abandoned probe
          rare_->probe.reset();
        }
      }
      if (held_get() && sm_.polling_needs_noop()) {
        sm_.noop_sent();
        respond_get("6");
      }
      if (sm_.transport() == TransportKind::websocket) {
        if (probe() && !ws_) {  // the upgrade completed: the session's queue is the link's source
          ws_ = std::move(rare_->probe);
          ws_->attach(&sm_.out());
          if (srv_->handler.on_upgrade) {
            try {
              srv_->handler.on_upgrade(self);
            } catch (const std::exception& e) {
              std::fprintf(stderr, "shmio: upgrade handler threw: %s\n", e.what());
            }
          }
        }
        if (held_get()) respond_get("6");  // release a GET the client left behind
        if (ws_ && sm_.has_output()) srv_->cork(this);
      } else if (held_get() && sm_.has_output()) {
        respond_get(sm_.take_polling_payload(srv_->options.session.max_payload));
      }
    } while (again_);
    arm_timer();
  }

 private:
  void respond_get(std::string payload) {
    auto c = std::move(rare_->get);
    c->respond_poll(std::move(payload));
  }
  void finish_close() {
    if (announced_) return;
    announced_ = true;
    set_deadline(TimePoint::max());
    // A forced close still delivers what was queued (e.g. a DISCONNECT packet), then "1" (in a
    // response of its own: see kLinger). Other reasons cleared the queue.
    bool linger = false;
    if (sm_.transport() == TransportKind::polling) {
      std::string queued = sm_.take_polling_payload(std::numeric_limits<std::size_t>::max());
      const bool forced = sm_.close_reason() == CloseReason::forced_close;
      const bool can_linger = forced && !srv_->stopped;
      if (held_get() && sm_.close_reason() == CloseReason::transport_close) {
        respond_get("6");  // the client closed (its "1" came in a POST): a noop, as engine.io
      } else if (held_get() && !queued.empty() && can_linger) {
        respond_get(std::move(queued));  // the close packet waits for the next GET
        linger = true;
      } else if (held_get()) {
        // Nothing queued, or the server is stopping (it cannot wait for another GET).
        append_to_payload(queued, Packet::text(PacketType::close));
        respond_get(std::move(queued));
      } else if (can_linger && queued.size() <= kLingerMaxBytes) {
        rare().lingering = std::move(queued);  // the next GET gets it (if any), then "1"
        linger = true;
      }
      if (linger) {
        if (!lingering()) rare().lingering.emplace();  // only the close packet is left
        ++srv_->lingering;
        srv_->stats.sessions = srv_->open_sessions();
      }
    } else if (held_get()) {
      respond_get("1");
    }
    if (ws_) {
      // What is queued (kept by a forced close), then the close packet, then the close frame.
      ws_->push(Packet::text(PacketType::close).to_frame());
      ws_->close_after_writes();
      ws_.reset();
    }
    if (probe()) {
      rare_->probe->close_after_writes();
      rare_->probe.reset();
    }
    if (linger) {
      set_deadline(Clock::now() + kLinger);  // then on_deadline() forgets it
    } else {
      forget();
    }
    if (srv_->handler.on_close) {
      try {
        srv_->handler.on_close(shared_from_this(), sm_.close_reason());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: close handler threw: %s\n", e.what());
      }
    }
  }
  void arm_timer() {
    if (announced_) return;
    set_deadline(sm_.next_deadline());
  }
  // One entry in the server's deadline queue (no timer per session): moved when the session's
  // next deadline changes, removed at TimePoint::max().
  void set_deadline(TimePoint when) {
    if (srv_->deadlines.contains(this) && srv_->deadlines.when(this) == when) return;
    if (when == TimePoint::max()) return srv_->deadlines.erase(this);
    srv_->schedule(this, when);
  }

 public:
  // The server's deadline timer reached this session's deadline (its entry is gone already).
  void on_deadline(TimePoint now) {
    auto self = shared_from_this();  // forget() may drop the server's reference
    if (lingering()) return forget();
    if (announced_) return;
    sm_.on_timer(now);
    pump();
  }

 private:
  std::shared_ptr<detail::ServerCore> srv_;
  Session sm_;
  std::shared_ptr<const HandshakeRequest> request_;
  std::shared_ptr<detail::Link> ws_;
  bool pumping_ = false, again_ = false, announced_ = false;
  // What only some sessions need (polling ones, closed ones), in one allocation made on use: a
  // WebSocket session that stays open never has it.
  struct Rare {
    std::shared_ptr<HttpConnection> get;       // the polling GET held
    std::shared_ptr<detail::Link> probe;       // the WebSocket probing an upgrade
    std::weak_ptr<HttpConnection> post_owner;  // the one-POST rule
    int post_claims = 0;
    std::optional<std::string> lingering;  // the last payload of a session closed by the server
  };
  std::unique_ptr<Rare> rare_;
  HttpConnection* held_get() const noexcept { return rare_ ? rare_->get.get() : nullptr; }
  detail::Link* probe() const noexcept { return rare_ ? rare_->probe.get() : nullptr; }
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
};

// ---------------------------------------------------------------------------------------------
void detail::ServerCore::schedule(EngineSocket* s, TimePoint when) {
  deadlines.set(s, when);
  if (when < timer_at) arm_deadline_timer();
}

void detail::ServerCore::arm_deadline_timer() {
  if (deadlines.empty()) return;
  timer_at = deadlines.top_time();
  deadline_timer.expires_at(timer_at);  // cancels a wait for a later time
  deadline_timer.async_wait([w = weak_from_this()](beast::error_code ec) {
    if (ec) return;  // re-armed for an earlier deadline, or the server went away
    if (auto self = w.lock()) self->on_deadline_timer();
  });
}

void detail::ServerCore::on_deadline_timer() {
  timer_at = TimePoint::max();
  const TimePoint now = Clock::now();
  // Each due session runs once; what it schedules (its next ping) lands after `now`.
  while (!deadlines.empty() && deadlines.top_time() <= now) {
    EngineSocket* s = deadlines.pop();
    s->on_deadline(now);
  }
  if (timer_at == TimePoint::max()) arm_deadline_timer();
}

void detail::ServerCore::cork(EngineSocket* s) {
  if (s->dirty_slot != EngineSocket::kNotListed) return;
  s->dirty_slot = dirty.size();
  dirty.push_back(s);
  if (flush_posted) return;
  flush_posted = true;
  turn_started = Clock::now();
  // After every handler already queued in this turn (the ring's batch, the other sockets' reads).
  net::post(io, [self = shared_from_this()] { self->flush_all(); });
}

void detail::ServerCore::unlist(EngineSocket* s) {
  const std::size_t i = s->dirty_slot;
  if (i == EngineSocket::kNotListed) return;
  s->dirty_slot = EngineSocket::kNotListed;
  if (i < flushing.size() && flushing[i] == s) flushing[i] = nullptr;
  if (i < dirty.size() && dirty[i] == s) dirty[i] = nullptr;
}

void detail::ServerCore::flush_all() {
  flush_posted = false;
  ++stats.flushes;
  // (observed when this function returns, whichever way: the flush included)
  struct Observe {
    ServerCore& c;
    ~Observe() {
      c.stats.turn_time.observe(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.turn_started)
              .count());
    }
  } observe{*this};
  flushing.swap(dirty);
  // The two lists take turns: both keep the largest capacity either needed (no allocation in
  // steady state, whichever turn is the large one).
  if (dirty.capacity() < flushing.capacity()) dirty.reserve(flushing.capacity());
  if (uring) return flush_batched();
  for (std::size_t i = 0; i < flushing.size(); ++i) {
    EngineSocket* s = flushing[i];
    if (s == nullptr) continue;
    s->dirty_slot = EngineSocket::kNotListed;
    // A session may close (and go away) while flushed; later entries were unlisted if so.
    if (s->flush()) defer(s);
  }
  flushing.clear();
}

// Pass 1 does every session that is not a plain WebSocket write (polling answers, closing
// sessions, Beast links): that may run application code, which may close any session — the ones
// left for pass 2 stay listed meanwhile, so a session that goes away unlists itself. Pass 2
// gathers the remaining sessions' iovecs (no code of anyone else runs from here on), one
// submission sends them all, and each link accounts for its result as after its own sendmsg.
void detail::ServerCore::flush_batched() {
  // A turn's sessions were last touched a turn ago and the kernel's network work has evicted
  // them since: each is a cache miss. Asking for the one kAhead places further on while this one
  // is handled overlaps the misses (docs/server.md, "Where the user-space CPU goes").
  constexpr std::size_t kAhead = 8;
  for (std::size_t i = 0; i < flushing.size(); ++i) {
    if (i + kAhead < flushing.size() && flushing[i + kAhead] != nullptr)
      flushing[i + kAhead]->prefetch();
    EngineSocket* s = flushing[i];
    if (s == nullptr || s->batch_link() != nullptr) continue;
    flushing[i] = nullptr;
    s->dirty_slot = EngineSocket::kNotListed;
    if (s->flush()) defer(s);
  }
  batch.clear();
  batch_iov.clear();
  for (std::size_t i = 0; i < flushing.size(); ++i) {
    if (i + kAhead < flushing.size() && flushing[i + kAhead] != nullptr)
      flushing[i + kAhead]->prefetch_link();
    EngineSocket* s = flushing[i];
    if (s == nullptr) continue;
    s->dirty_slot = EngineSocket::kNotListed;
    detail::Link* l = s->batch_link();
    if (l == nullptr) {  // closed meanwhile
      if (s->flush()) defer(s);
      continue;
    }
    const std::size_t at = batch_iov.size();
    batch_iov.resize(at + kBatchIovecs);
    std::size_t count = 0, bytes = 0;
    const int fd = l->prepare_write(&batch_iov[at], kBatchIovecs, count, bytes);
    batch_iov.resize(at + count);
    if (fd < 0 || count == 0) {
      if (l->flush()) defer(s);  // nothing to gather (a blocked or closing link): its own way
      continue;
    }
    batch.push_back({s, l, fd, at, count, bytes});
  }
  flushing.clear();
  if (batch.empty()) return;
  batch_fds.resize(batch.size());
  batch_msgs.assign(batch.size(), msghdr{});
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch_fds[i] = batch[i].fd;
    batch_msgs[i].msg_iov = &batch_iov[batch[i].iov_at];
    batch_msgs[i].msg_iovlen = batch[i].iov_count;
  }
  if (!uring->send_all(batch_fds, batch_msgs, batch_results)) {
    // Nothing was sent: write them with sendmsg (and from now on, if the ring broke).
    for (const Batched& b : batch)
      if (b.link->flush()) defer(b.session);
  } else {
    ++stats.uring_submissions;
    // (the kernel's sends since prepare_write() evicted the links: asked for ahead again)
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i + kAhead < batch.size()) {
        __builtin_prefetch(batch[i + kAhead].link);
        batch[i + kAhead].session->prefetch_queue();
      }
      if (batch[i].link->complete_write(batch_results[i], batch[i].bytes)) defer(batch[i].session);
    }
  }
  if (!uring->usable()) {
    std::fprintf(stderr,
                 "shmio: an io_uring submission failed: flushing with sendmsg from now on\n");
    uring.reset();
  }
}

// ---------------------------------------------------------------------------------------------
std::string WsConnection::remote() const {
  beast::error_code ec;
  const auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
  return ec ? "?" : ep.address().to_string();
}

void WsConnection::do_read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    auto owner = self->owner_.lock();
    if (!owner) return;
    if (ec) {
      const bool clean = ec == websocket::error::closed;
      owner->on_ws_closed(self.get(), !clean);
      return;
    }
    const auto data = self->buffer_.cdata();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    Packet p;
    if (self->ws_.got_binary()) {
      p = Packet::bytes(std::string(bytes));
    } else if (decode_text(bytes, p) != DecodeError::none) {
      self->buffer_.consume(self->buffer_.size());
      owner->on_ws_garbage(self.get());
      return;
    }
    self->buffer_.consume(self->buffer_.size());
    owner->on_ws_packet(self.get(), p);
    if (!self->closing_) self->do_read();
  });
}

void HttpConnection::on_header(beast::error_code ec) {
  if (ec == beast::error::timeout) ++srv_->stats.request_timeouts;
  first_ = false;
  if (ec || closed_) return on_read(ec);
  // A POST for one of this worker's polling sessions claims it until the POST is handled.
  const auto& h = parser_->get();
  target_ = parse_target(h.target());
  if (h.method() == http::verb::post) {
    const Target& t = target_;
    auto sid = t.query.find("sid");
    if (same_path(t.path, srv_->options.path) && sid != t.query.end()) {
      if (auto it = srv_->sessions.find(sid->second);
          it != srv_->sessions.end() && !it->second->lingering() &&
          it->second->transport() == TransportKind::polling) {
        if (it->second->claim_post(shared_from_this())) {
          reading_claim_ = it->second;
        } else {
          reading_overlap_ = true;
          it->second->post_overlap();
        }
      }
    }
  }
  if (parser_->is_done()) return on_read(ec);
  stream_.expires_after(io_timeout());
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_read(e); });
}

void HttpConnection::release_claim(std::weak_ptr<EngineSocket>& claim, bool completed) {
  if (auto s = claim.lock()) s->release_post(this, completed);
  claim.reset();
}

void HttpConnection::on_read(beast::error_code ec) {
  reading_ = false;
  if (closed_) {  // answered with "Connection: close" meanwhile (graceful_close)
    if (!ec && drain_left_ > 0) {
      stream_.expires_after(std::chrono::seconds(2));  // the read timer was the request's
      return drain();
    }
    return shutdown();
  }
  if (ec == http::error::body_limit) {
    // Too large (413): the reference answers so and keeps the session; the claim ends here.
    release_claim(reading_claim_, true);
    reading_overlap_ = false;
    if (busy_) {  // a response is in flight: never a second write; just drop the connection
      shutdown();
      return;
    }
    busy_ = true;
    Request req = parser_->get();
    Response res{http::status::payload_too_large, req.version()};
    res.keep_alive(false);
    res.prepare_payload();
    send(std::move(res));
    return;
  }
  if (ec) {
    shutdown();
    return;
  }
  if (queued_.size() >= 8) {  // a client pipelining this much is not an Engine.IO client
    shutdown();
    return;
  }
  Request req = parser_->release();
  const bool upgrade = websocket::is_upgrade(req);
  std::optional<std::string> foreign = foreign_sid(target_);
  const int steer_to = foreign ? -1 : steer_target(target_);
  const bool keep_reading = !upgrade && !foreign && steer_to < 0;
  queued_.push_back(Queued{std::move(req), std::move(target_), std::move(foreign),
                           std::move(reading_claim_), std::exchange(reading_overlap_, false),
                           steer_to});
  reading_claim_.reset();
  // Keep reading (a closed connection must be noticed while a GET waits), except after an upgrade
  // or a request to hand over: the connection leaves this object once it is answered.
  if (keep_reading) do_read();
  next();
}

void HttpConnection::next() {
  if (busy_ || closed_ || queued_.empty()) return;
  busy_ = true;
  Queued q = std::move(queued_.front());
  queued_.pop_front();
  if (q.foreign || q.steer_to >= 0) return hand_off(std::move(q.req), q.foreign, q.steer_to);
  release_claim(q.claim, true);  // handled now, synchronously
  if (q.overlap) {
    // The one-POST rule was broken (the session is closed already): 400, as the reference.
    return send(srv_->json_error(q.req, http::status::bad_request, 3, "Bad request"));
  }
  handle(std::move(q.req), q.target);
}

int HttpConnection::steer_target(const Target& t) const {
  const ServerOptions& o = srv_->options;
  if (adopted_ || !o.steer || !o.hand_off_to) return -1;
  if (!same_path(t.path, o.path) || t.query.count("sid") != 0) return -1;
  return o.steer();
}

std::optional<std::string> HttpConnection::foreign_sid(const Target& t) const {
  const ServerOptions& o = srv_->options;
  if (!o.is_foreign || !o.hand_off) return std::nullopt;
  if (!same_path(t.path, o.path)) return std::nullopt;
  auto it = t.query.find("sid");
  if (it == t.query.end() || srv_->sessions.count(it->second) != 0) return std::nullopt;
  if (!o.is_foreign(it->second)) return std::nullopt;
  return it->second;
}

// Gives the connection to the worker that owns the session: the request (re-serialised; Beast
// writes it back in HTTP/1.1 form with its body) and any bytes read after it go along with the
// file descriptor. No read is pending here (on_read stops reading after a foreign request).
void HttpConnection::hand_off(Request req, const std::optional<std::string>& sid, int worker) {
  std::ostringstream out;
  out << req;
  std::string bytes = out.str();
  const auto rest = buffer_.cdata();
  bytes.append(static_cast<const char*>(rest.data()), rest.size());
  closed_ = true;
  lost_held_get();
  beast::error_code ec;
  stream_.expires_never();
  const int fd = stream_.release_socket().release(ec);
  if (ec || fd < 0) return;
  if (sid) {
    ++srv_->stats.handed_off;
    srv_->options.hand_off(*sid, fd, std::move(bytes));
  } else {
    ++srv_->stats.steered;
    srv_->options.hand_off_to(worker, fd, std::move(bytes));
  }
}

void HttpConnection::respond_poll(std::string payload) {
  if (!held_ || closed_) return;
  Request req = std::move(*held_);
  held_.reset();
  held_for_.reset();
  send(text(req, std::move(payload)));
}

void HttpConnection::lost_held_get() {
  if (!held_) return;
  held_.reset();
  if (auto s = held_for_.lock()) s->get_lost(this);
}

void HttpConnection::handle(Request req, const Target& t) {
  const ServerOptions& o = srv_->options;
  if (srv_->stopped) return shutdown();
  if (req.method() == http::verb::options && !o.cors_origin.empty()) {
    Response res{http::status::no_content, req.version()};
    res.keep_alive(req.keep_alive());
    srv_->add_cors(req, res);
    res.set(http::field::access_control_allow_methods, "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (auto h = req.find(http::field::access_control_request_headers); h != req.end())
      res.set(http::field::access_control_allow_headers, h->value());
    res.prepare_payload();
    return send(std::move(res));
  }
  if (!same_path(t.path, o.path)) {
    if (o.routes) {
      const ServerOptions::HttpRequest hr = http_request(req);
      std::optional<ServerOptions::HttpResponse> out;
      try {
        out = o.routes(hr);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: HTTP route handler threw: %s\n", e.what());
        out = ServerOptions::HttpResponse{
            500, "text/plain; charset=utf-8", "Internal Server Error", {}};
      }
      if (out) {
        if (out->status < 100 || out->status > 599) {  // not an HTTP status: the handler's bug
          std::fprintf(stderr, "shmio: HTTP route handler returned status %u\n", out->status);
          out = ServerOptions::HttpResponse{
              500, "text/plain; charset=utf-8", "Internal Server Error", {}};
        }
        Response res{static_cast<http::status>(out->status), req.version()};
        res.set(http::field::content_type, out->content_type);
        for (const auto& [name, value] : out->headers) res.set(name, value);
        res.keep_alive(req.keep_alive());
        res.body() = std::move(out->body);
        res.prepare_payload();
        if (req.method() == http::verb::head) res.body().clear();
        return send(std::move(res));
      }
    }
    if (o.static_files && (req.method() == http::verb::get || req.method() == http::verb::head)) {
      if (auto file = o.static_files(t.path)) {
        Response res{http::status::ok, req.version()};
        res.set(http::field::content_type, file->content_type);
        res.keep_alive(req.keep_alive());
        res.body() = *file->body;
        res.prepare_payload();
        if (req.method() == http::verb::head) res.body().clear();
        return send(std::move(res));
      }
    }
    Response res{http::status::not_found, req.version()};
    res.keep_alive(req.keep_alive());
    res.body() = "Not Found";
    res.prepare_payload();
    return send(std::move(res));
  }
  auto q = [&](const char* k) -> const std::string* {
    auto it = t.query.find(k);
    return it == t.query.end() ? nullptr : &it->second;
  };
  const std::string* eio = q("EIO");
  if (eio == nullptr || *eio != "4")
    return send(
        srv_->json_error(req, http::status::bad_request, 5, "Unsupported protocol version"));
  const std::string* transport = q("transport");
  const bool is_ws = transport != nullptr && *transport == "websocket";
  const bool is_polling = transport != nullptr && *transport == "polling";
  if ((!is_ws && !is_polling) || (is_ws && !o.allow_websocket) || (is_polling && !o.allow_polling))
    return send(srv_->json_error(req, http::status::bad_request, 0, "Transport unknown"));
  const bool upgrade = websocket::is_upgrade(req);
  if (upgrade && !is_ws)
    return send(srv_->json_error(req, http::status::bad_request, 3, "Bad request"));
  if (!upgrade && is_ws)
    return send(srv_->json_error(req, http::status::bad_request, 3, "Bad request"));
  // A handshake waits for allow_request_async's answer (a polling handshake must be a GET: the
  // other methods get their error at once).
  if (o.allow_request_async && t.query.count("sid") == 0 &&
      (upgrade || req.method() == http::verb::get)) {
    auto held = std::make_shared<Request>(std::move(req));
    auto target = std::make_shared<Target>(t);
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto done = [self = shared_from_this(), srv = srv_, held, target,
                 once](std::optional<std::string> refusal) {
      if (once->exchange(true)) return;  // called twice: the second is ignored
      net::post(srv->io, [self, held, target, refusal = std::move(refusal)] {
        self->resume_handshake(*held, *target, refusal);
      });
    };
    try {
      o.allow_request_async(http_request(*held), done);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: allow_request_async threw: %s\n", e.what());
      done(std::string(e.what()));
    }
    return;
  }
  if (upgrade) return handle_upgrade(req, t);
  handle_polling(req, t);
}

void HttpConnection::resume_handshake(Request& req, const Target& t,
                                      const std::optional<std::string>& refusal) {
  if (closed_ || srv_->stopped) return;
  if (refusal) {
    if (srv_->options.connection_error) {
      const ServerOptions::HttpRequest hr = http_request(req);
      try {
        srv_->options.connection_error(ServerOptions::ConnectionError{4, *refusal, hr});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: connection_error handler threw: %s\n", e.what());
      }
    }
    Response res{http::status::forbidden, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = "{\"code\":4,\"message\":\"Forbidden\"}";
    res.prepare_payload();
    srv_->add_cors(req, res);
    return send(std::move(res));
  }
  if (websocket::is_upgrade(req)) return handle_upgrade(req, t);
  handle_polling(req, t);
}

void HttpConnection::handle_polling(Request& req, const Target& t) {
  auto sid_it = t.query.find("sid");
  if (sid_it == t.query.end()) {
    if (req.method() != http::verb::get)
      return send(srv_->json_error(req, http::status::bad_request, 2, "Bad handshake method"));
    if (srv_->options.allow_request) {
      if (!srv_->options.allow_request(lower_case_headers(req)))
        return send(srv_->json_error(req, http::status::forbidden, 4, "Forbidden"));
    }
    auto s = std::make_shared<EngineSocket>(srv_, TransportKind::polling,
                                            handshake_request(req, remote()));
    srv_->sessions.emplace(s->id(), s);
    s->open();
    held_ = std::move(req);
    held_for_ = s;
    if (!s->hold_get(shared_from_this())) respond_poll("");
    return;
  }
  auto it = srv_->sessions.find(sid_it->second);
  if (it == srv_->sessions.end())
    return send(srv_->json_error(req, http::status::bad_request, 1, "Session ID unknown"));
  std::shared_ptr<EngineSocket> s = it->second;
  if (s->transport() != TransportKind::polling)
    return send(srv_->json_error(req, http::status::bad_request, 3, "Bad request"));
  if (req.method() == http::verb::get) {
    held_ = std::move(req);
    held_for_ = s;
    if (!s->hold_get(shared_from_this())) {
      // A second concurrent GET: a protocol error that closes the session.
      Request r = std::move(*held_);
      held_.reset();
      held_for_.reset();
      s->sm().close(CloseReason::transport_error);
      s->pump();
      return send(srv_->json_error(r, http::status::bad_request, 3, "Bad request"));
    }
    return;
  }
  if (req.method() == http::verb::post) {
    if (s->lingering()) return send(text(req, "ok"));  // closed: nothing more is delivered
    if (auto ct = req.find(http::field::content_type);
        ct != req.end() && beast::iequals(ct->value(), "application/octet-stream")) {
      // v4 payloads are text (binary as base64): "invalid content", as the reference.
      s->sm().close(CloseReason::transport_error);
      s->pump();
      return send(srv_->json_error(req, http::status::bad_request, 3, "Bad request"));
    }
    std::vector<Packet> packets;
    // Each packet takes at least two bytes (type and separator): the body size already bounds
    // the work; no separate count limit that a batching client could hit.
    const DecodeError err = decode_payload(req.body(), packets, req.body().size());
    // As the reference: the packets before an undecodable one are delivered, then the session
    // closes with "parse error"; the POST itself is answered "ok".
    const TimePoint now = Clock::now();
    srv_->stats.packets_in += packets.size();
    srv_->stats.bytes_in += req.body().size();
    for (const Packet& p : packets) s->sm().receive(TransportKind::polling, p, now);
    if (err != DecodeError::none) s->sm().receive_garbage();
    s->pump();
    return send(text(req, "ok"));
  }
  send(srv_->json_error(req, http::status::bad_request, 3, "Bad request"));
}

void HttpConnection::handle_upgrade(Request& req, const Target& t) {
  // The handshake is checked before anything else (RFC 6455 4.2.1): a 16-byte key and version 13.
  const bool deflate = srv_->options.per_message_deflate && [&] {
    auto e = req.find(http::field::sec_websocket_extensions);
    return e != req.end() && lower(e->value()).find("permessage-deflate") != std::string::npos;
  }();
  std::string response_101;
  if (!deflate) {
    auto v = req.find(http::field::sec_websocket_version);
    if (v == req.end() || v->value() != "13") {
      Response res{http::status::upgrade_required, req.version()};
      res.set(http::field::sec_websocket_version, "13");
      res.keep_alive(false);
      res.body() = "Unsupported WebSocket version";
      res.prepare_payload();
      return send(std::move(res));
    }
    auto k = req.find(http::field::sec_websocket_key);
    std::string key_bytes;
    if (k == req.end() || !base64_decode(std::string(k->value()), key_bytes) ||
        key_bytes.size() != 16) {
      Response res{http::status::bad_request, req.version()};
      res.keep_alive(false);
      res.body() = "Missing or bad Sec-WebSocket-Key";
      res.prepare_payload();
      return send(std::move(res));
    }
    websocket::detail::sec_ws_accept_type accept;
    websocket::detail::make_sec_ws_accept(accept, k->value());
    response_101 =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        std::string(accept.data(), accept.size()) + "\r\n";
    for (const auto& [name, value] : hooked_headers(srv_->options, req))
      response_101 += name + ": " + value + "\r\n";
    response_101 += "\r\n";
  }
  std::shared_ptr<EngineSocket> probing;
  bool refuse = false;
  if (auto sid_it = t.query.find("sid"); sid_it != t.query.end()) {
    auto it = srv_->sessions.find(sid_it->second);
    if (it == srv_->sessions.end())
      return send(srv_->json_error(req, http::status::bad_request, 1, "Session ID unknown"));
    if (it->second->sm().begin_probe(Clock::now())) {
      probing = it->second;
      probing->pump();  // arms the upgrade timeout
    } else {
      // Already upgraded, probing, closed, or upgrades off: as the reference server, the
      // WebSocket is accepted and closed at once; the session is not touched.
      refuse = true;
    }
  } else if (srv_->options.allow_request) {
    if (!srv_->options.allow_request(lower_case_headers(req)))
      return send(srv_->json_error(req, http::status::forbidden, 4, "Forbidden"));
  }
  // The TCP connection now belongs to the WebSocket.
  closed_ = true;
  auto srv = srv_;
  auto hs = handshake_request(req, remote());
  auto attach = [srv, probing, hs, refuse](const std::shared_ptr<detail::Link>& ws,
                                           beast::error_code ec) {
    if (!ec && refuse) {
      ws->close_after_writes();
      return;
    }
    if (ec) {
      if (probing) {  // the probe never got going: release it so another may start
        probing->sm().abandon_probe();
        probing->pump();
      }
      return;
    }
    if (srv->stopped) return;
    if (probing) {
      ws->start(probing);
      probing->set_ws(ws, /*probe=*/true);
      return;
    }
    auto s = std::make_shared<EngineSocket>(srv, TransportKind::websocket, hs);
    srv->sessions.emplace(s->id(), s);
    ws->start(s);
    s->set_ws(ws, /*probe=*/false);
    s->open();
    s->pump();
  };
  if (!deflate) {
    // Our own framing (websocket.cpp): the 101 response is the link's first write.
    // nullptr: the descriptor could not be moved to the link's socket (closed meanwhile).
    const ServerOptions& o = srv_->options;
    auto link = detail::make_raw_websocket(
        stream_.release_socket(), std::move(response_101),
        detail::LinkLimits{o.session.max_payload, o.flush_budget, o.read_budget});
    attach(link, link ? beast::error_code() : make_error_code(net::error::bad_descriptor));
    return;
  }
  auto ws =
      std::make_shared<WsConnection>(stream_.release_socket(), srv_->options.session.max_payload,
                                     *srv_->options.per_message_deflate);
  ws->accept(std::move(req), [ws, attach](beast::error_code ec) { attach(ws, ec); });
}

// ---------------------------------------------------------------------------------------------
void detail::ServerCore::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!self->accepting) return;
    if (!ec && self->stats.descriptor_bound != 0 &&
        static_cast<std::uint64_t>(socket.native_handle()) >= self->stats.descriptor_bound) {
      // Descriptors are allocated lowest first: this one means every descriptor below it is
      // open. Closed at once (the client sees the connection reset or closed), said every 10 s.
      ++self->stats.connections_refused;
      const auto now = Clock::now();
      if (now - self->accept_error_logged > std::chrono::seconds(10)) {
        self->accept_error_logged = now;
        std::fprintf(
            stderr,
            "shmio: %llu descriptors in use: new connections are refused until some "
            "close (%zu sessions open; ServerOptions::descriptor_reserve keeps %zu free)\n",
            static_cast<unsigned long long>(socket.native_handle()), self->open_sessions(),
            self->options.descriptor_reserve);
      }
      beast::error_code ignored;
      socket.close(ignored);
    } else if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      ++self->stats.connections;
      std::make_shared<HttpConnection>(std::move(socket), self)->start();
    } else if (ec == net::error::no_descriptors || ec.value() == ENFILE ||
               ec == net::error::no_buffer_space || ec == net::error::no_memory) {
      // Out of descriptors (the process's limit: 20,000 on the dev machines) or memory: the
      // pending connection stays in the backlog. No busy loop: accepting pauses 100 ms, one
      // line per 10 s says so, and service resumes by itself when descriptors free up.
      ++self->stats.accept_errors;
      const auto now = Clock::now();
      if (now - self->accept_error_logged > std::chrono::seconds(10)) {
        self->accept_error_logged = now;
        std::fprintf(stderr,
                     "shmio: cannot accept connections: %s (%zu sessions open); retrying every "
                     "100 ms (RLIMIT_NOFILE: run more workers, or raise the limit)\n",
                     ec.message().c_str(), self->open_sessions());
      }
      self->accept_pause.expires_after(std::chrono::milliseconds(100));
      self->accept_pause.async_wait([self](beast::error_code e) {
        if (!e && !self->stopped && self->accepting) self->accept();
      });
      return;
    }
    self->accept();
  });
}

void detail::ServerCore::add_cors(const Request& req, Response& res) const {
  if (options.cors_origin.empty()) return;
  std::string origin = options.cors_origin;
  if (origin == "*")
    if (auto o = req.find(http::field::origin); o != req.end()) origin = std::string(o->value());
  res.set(http::field::access_control_allow_origin, origin);
  if (options.cors_credentials) res.set(http::field::access_control_allow_credentials, "true");
  res.set(http::field::vary, "Origin");
}

Response detail::ServerCore::json_error(const Request& req, http::status status, int code,
                                        const char* message) const {
  if (options.connection_error) {
    const ServerOptions::HttpRequest hr = http_request(req);
    try {
      options.connection_error(ServerOptions::ConnectionError{code, message, hr});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: connection_error handler threw: %s\n", e.what());
    }
  }
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = "{\"code\":" + std::to_string(code) + ",\"message\":\"" + message + "\"}";
  res.prepare_payload();
  add_cors(req, res);
  return res;
}

Server::Server(net::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<detail::ServerCore>(io, std::move(options), std::move(handler))) {}

Server::~Server() {
  stop();
}

std::uint16_t Server::listen(const std::string& address, std::uint16_t port) {
  // The descriptor bound (ServerOptions::descriptor_reserve), from the limit in force now.
  rlimit rl{};
  if (impl_->options.descriptor_reserve > 0 && ::getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 2 * impl_->options.descriptor_reserve)
    impl_->stats.descriptor_bound = rl.rlim_cur - impl_->options.descriptor_reserve;
  const tcp::endpoint ep(net::ip::make_address(address), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  if (impl_->options.reuse_port) {
    using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    impl_->acceptor.set_option(reuse_port(true));
  }
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(net::socket_base::max_listen_connections);
  impl_->accepting = true;
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void Server::stop_accepting() {
  impl_->accepting = false;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

void Server::adopt(int fd, std::string bytes) {
  if (impl_->stopped) {
    ::close(fd);
    return;
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return;
  }
  tcp::socket socket(impl_->io);
  beast::error_code ec;
  socket.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return;
  }
  ++impl_->stats.adopted;
  auto c = std::make_shared<HttpConnection>(std::move(socket), impl_);
  c->preload(bytes);
  c->start();
}

const ServerStats& Server::stats() const noexcept {
  return impl_->stats;
}

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->accepting = false;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  auto sessions = impl_->sessions;  // close() erases from the map
  for (auto& [sid, s] : sessions) {
    if (s->lingering())
      s->forget();
    else
      s->close();
  }
}

std::size_t Server::session_count() const noexcept {
  return impl_->open_sessions();
}

}  // namespace shmio::engineio
