// One HTTP connection: its requests (handshake, polling, upgrade), hand-off to another worker
// (private to engineio/src).
#pragma once

#include <limits>

#include "ws_connection.hpp"

namespace shmio::engineio {

// Beast's request parser, with each field's size checked before it is stored. Beast keeps a
// field's name and value lengths in 16 bits and throws std::length_error past them, from inside
// the read: the exception left io_context::run() and ended the process, every session of it
// with it (before 2026-12-05; found by a review). A chunked body's trailer reaches it past both
// limits (Beast bounds it by neither the header limit nor the body limit): one POST of 65 KB
// anywhere on the port did it; so did a header field of 64 KiB where max_header_bytes allows one.
// Such a field, and a trailer larger in all than the header limit (as Node's HTTP parser bounds
// it), is refused as a header over the limit: answered 431, the connection closed.
class RequestParser final : public http::request_parser<http::string_body> {
 public:
  // The bound on the header, and on the trailer apart (header_limit() of the base sets only the
  // header's, in Beast's own count).
  void limits(std::uint32_t header) {
    header_limit(header);
    trailer_left_ = header;
  }

 private:
  // Beast's bound on one stored field: its name + 2, its value + 2 within 16 bits.
  static constexpr std::size_t kMaxField = 65533;
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    if (name_string.size() > kMaxField || value.size() > kMaxField) {
      ec = http::error::header_limit;
      return;
    }
    if (is_header_done()) {  // a trailer field ("name: value\r\n")
      const std::size_t n = name_string.size() + value.size() + 4;
      if (n > trailer_left_) {
        ec = http::error::header_limit;
        return;
      }
      trailer_left_ -= n;
      // Counted, not kept: a trailer is no header (Node keeps it apart, in req.trailers, and
      // socket.io's handshake headers never see it). Before 2026-12-07 its fields were added to
      // the header's: an "X-Forwarded-For" there was appended to the proxy's own, and a
      // "Connection: upgrade" and "Upgrade: websocket" there made a GET an upgrade (a bug hunt).
      return;
    }
    get().insert(name, name_string, value);
  }
  std::size_t trailer_left_ = 0;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(tcp::socket socket, std::shared_ptr<detail::ServerCore> srv)
      : stream_(std::move(socket)), srv_(std::move(srv)) {
    // The read buffer's bound: a header, a body, and a read's worth more. Beast's parser bounds
    // neither a chunk-size line (its extensions) nor a chunked body's trailer by the header or
    // body limit, so one that never ends grew the buffer until the read timeout (before
    // 2026-12-03). Past it the read fails (buffer_overflow) and the connection is closed.
    const std::size_t header = srv_->options.max_header_bytes;
    const std::size_t body = srv_->options.session.max_payload;
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    buffer_.max_size(header > kMax - body - (64 << 10) || body > kMax - (64 << 10)
                         ? kMax
                         : header + body + (64 << 10));
    srv_->http_connections.insert(this);
    srv_->stats.http_connections = srv_->http_connections.size();
  }
  ~HttpConnection() {
    srv_->http_connections.erase(this);
    srv_->stats.http_connections = srv_->http_connections.size();
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  void start() { do_read(); }
  // The server stops: closed now if nothing is being answered, else once its answer is written
  // (send). Before 2026-12-03 such connections stayed open after Server::stop() (a kept-alive
  // one for its minute of read timeout, one that never sent a request for the first request's
  // timeout), and an io_context run until out of work did not return until then.
  void stop_serving() {
    if (closed_ || (busy_ && !awaiting_app_)) return;
    graceful_close();  // (one awaiting allow_request_async: its answer finds it closed)
  }
  // A connection handed over by another worker: the bytes it had read, parsed before anything
  // read from the socket (such a connection is never steered again).
  // (The bytes are what another worker read under the same bound, re-serialized by Beast, which
  // may add a little: the bound grows to hold them.) False if they cannot be held at all.
  bool preload(const std::string& bytes) {
    if (bytes.size() > std::numeric_limits<std::size_t>::max() - (64 << 10)) return false;
    if (bytes.size() + (64 << 10) > buffer_.max_size()) buffer_.max_size(bytes.size() + (64 << 10));
    const std::size_t n = net::buffer_copy(buffer_.prepare(bytes.size()), net::buffer(bytes));
    buffer_.commit(n);
    adopted_ = true;
    return true;
  }
  // Completes a held GET.
  // `compress`: the payload may be compressed (gzip or deflate, by the GET's Accept-Encoding, at
  // ServerOptions::http_compression_threshold bytes or more).
  void respond_poll(std::string payload, bool compress = false);
  // ServerOptions::client_files' answer to a GET or HEAD of `path`, or nullopt if it names none.
  std::optional<Response> client_file(const Request& req, std::string_view path);
  // The engine's JSON error for `r`, the connection_error handler told this peer's address.
  Response json_error(const Request& r, http::status status, int code, const char* message) {
    return srv_->json_error(r, status, code, message, remote());
  }
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
  // longer than a held GET can last: sent as a ping went out, it waits for the pong (pingTimeout,
  // extended once by pingTimeout by any other packet meanwhile: a busy client's) and then
  // pingInterval for the next ping, which answers it. (Before 2026-12-05 one pingTimeout was
  // counted: with the defaults a GET held 65 s met a 60 s timer, and the session closed with
  // "transport error"; found by a review.)
  std::chrono::milliseconds io_timeout() const {
    const auto& o = srv_->options.session;
    return std::max<std::chrono::milliseconds>(
        std::chrono::seconds(60), o.ping_interval + 2 * o.ping_timeout + std::chrono::seconds(5));
  }
  // The header is read first, so that a POST claims its session before its body arrives (the
  // one-POST rule: a second POST for the session meanwhile is refused and closes the session).
  void do_read() {
    // The first request's header within first_request_timeout of the connection's first read,
    // whatever comes before it: empty lines skipped (below, and on_read's) each began a read of
    // its own, and before 2026-12-07 that read had the whole io_timeout(): a connection sending a
    // line feed a minute stayed for ever without a request (a review).
    if (first_) {
      if (first_deadline_ == std::chrono::steady_clock::time_point{})
        first_deadline_ = std::chrono::steady_clock::now() + srv_->options.first_request_timeout;
      stream_.expires_at(first_deadline_);
    } else {
      stream_.expires_after(io_timeout());
    }
    parser_.emplace();
    // (A request handed over by another worker comes re-serialized: within the bound there, so
    // within twice it here. Its trailer's fields were dropped there; before 2026-12-07 they came
    // among its header's.)
    const std::size_t header = srv_->options.max_header_bytes;
    parser_->limits(static_cast<std::uint32_t>(std::min<std::size_t>(
        adopted_ && first_ ? header + std::min<std::size_t>(header, 0xFFFFFFFFu) : header,
        0xFFFFFFFFu)));
    // Requests read ahead while one is answered (pipelining; a held GET) share one maxPayload
    // between their bodies; one over what is left is refused as too large — with a response in
    // flight, by closing the connection (on_read). (Before 2026-12-02 each had its own: 8
    // queued bodies and the one being read held 9 times maxPayload per connection.)
    // (The first one queued is answered at once when nothing is being answered: on_read calls
    // next() right after this. Counted, a 900 KB POST left the next request on that keep-alive
    // connection 100 KB, and a polling client's next large POST got 413: found in review.)
    std::size_t queued = 0;
    for (std::size_t i = busy_ ? 0 : 1; i < queued_.size(); ++i)
      queued += queued_[i].req.body().size();
    const std::size_t max = srv_->options.session.max_payload;
    parser_->body_limit(max - std::min(queued, max));
    reading_ = true;
    // Empty lines before a request line are skipped, as RFC 9112 2.2 asks (Beast's parser takes
    // them for a bad method; a client that ends a POST body with an extra CRLF would have been
    // answered 400, unasked).
    while (buffer_.size() > 0) {
      const char c = *static_cast<const char*>(buffer_.cdata().data());
      if (c != '\r' && c != '\n') break;
      buffer_.consume(1);
    }
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }
  void on_header(beast::error_code ec);
  void on_read(beast::error_code ec);
  // A claimed POST's body timeout (SessionOptions::http_request_body_timeout), and whether it
  // cancelled the read.
  std::unique_ptr<net::steady_timer> body_timer_;
  bool body_timed_out_ = false;
  std::uint64_t body_reads_ = 0;  // reads ended (a timer armed for an earlier one does nothing)
  // A request not read whole (over a bound, or not HTTP): `status` with no body, and the
  // connection closed after it; with a response in flight (busy_) the connection is only
  // dropped (never a second write).
  void answer_and_close(http::status status) {
    if (busy_) return shutdown();
    busy_ = true;
    Response res{status, 11};
    res.keep_alive(false);
    res.prepare_payload();
    // With its CORS fields where the request's header was read whole (a POST whose body stalled:
    // 408), as the 413's: a browser otherwise sees a CORS failure, not the status (before
    // 2026-12-06 none had them; a review); so a 400 or 431 after the header (a bad chunk, a trailer
    // too large). One for a request whose header could not be read has no Origin to answer.
    if (parser_ && parser_->is_header_done()) srv_->add_cors(parser_->get(), res);
    send(std::move(res));
  }
  // The one-POST rule's bookkeeping (see EngineSocket::claim_post).
  void release_claim(std::weak_ptr<EngineSocket>& claim, bool completed);
  void next();
  void handle(Request req, const Target& t);
  void handle_polling(Request& req, const Target& t);
  // After allow_request_async's answer: the handshake goes on, or is refused.
  void resume_handshake(Request& req, const Target& t, const std::optional<std::string>& refusal,
                        bool tell);
  void handle_upgrade(Request& req, const Target& t);
  // Writes the answer to the request being handled. A HEAD's answer keeps its length but not its
  // body (the routes', a static file's, the 404, the engine's JSON errors): written, the body was
  // read by a keep-alive client as the start of its next answer (before 2026-12-03).
  void send(Response res) {
    if (std::exchange(answering_head_, false)) res.body().clear();
    // An upgrade refused: the connection is read no more after an upgrade request, so it closes
    // once answered, and says so (until 2026-12-05 the answer said keep-alive, then the
    // connection was dropped; engine.io says Connection: close; found by a review).
    if (std::exchange(answering_upgrade_, false)) res.keep_alive(false);
    const bool keep = res.keep_alive();
    auto sp = std::make_shared<Response>(std::move(res));
    stream_.expires_after(io_timeout());
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp, keep](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->shutdown();
                          return;
                        }
                        if (!keep || self->srv_->stopped) {
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
    for (auto& [name, value] : hooked_headers(srv_->options, req, remote()))
      res.insert(name, value);
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
    if (!reading_) return drain();
    // A read is pending under the request's timeout (a minute or more): a timeout set now would
    // apply to the next operation only. Cancelled, it completes at once and drains from there
    // (on_read), under the 2 s. (Before 2026-12-02 a client that kept the connection open after
    // a "Connection: close" answer held it for that minute.)
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
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
  std::optional<RequestParser> parser_;
  // Requests read while a response is pending (pipelining), each with the sid of another
  // worker's session if it must be handed over (decided once, when it is read), and for a POST
  // the session it claimed, or `overlap` if another connection's POST held that session.
  struct Queued {
    Request req;
    Target target;  // req's target, parsed once (when its header arrived)
    std::optional<std::string> foreign;
    std::weak_ptr<EngineSocket> claim;
    bool overlap = false;
    int steer_to = -1;     // a fresh handshake handed to this worker (rebalancing)
    bool claimed = false;  // a POST that claimed its session (`claim` may have expired since)
  };
  std::deque<Queued> queued_;
  Target target_;                              // of the request being read
  std::weak_ptr<EngineSocket> reading_claim_;  // claimed by the POST whose body is being read
  bool reading_claimed_ = false;               // (it claimed one: `reading_claim_` may expire)
  bool reading_overlap_ = false;
  bool busy_ = false;               // a request is being answered (or a GET is held)
  bool answering_head_ = false;     // the request being answered is a HEAD (send() drops the body)
  bool answering_upgrade_ = false;  // ... is an upgrade (send(): a refusal, Connection: close)
  bool awaiting_app_ = false;       // a handshake waits for allow_request_async's answer
  bool closed_ = false;
  // allow_request let the handshake being resumed through already (before allow_request_async):
  // handle_polling / handle_upgrade do not ask it again. Taken (reset) by them.
  bool allowed_ = false;
  std::weak_ptr<EngineSocket> held_for_;  // the session whose GET we hold
  std::optional<Request> held_;
  std::string remote_;
  std::size_t drain_left_ = 0;
  bool reading_ = false;                                    // a read of the next request is pending
  bool adopted_ = false;                                    // handed over by another worker
  bool first_ = true;                                       // no request header read yet
  std::chrono::steady_clock::time_point first_deadline_{};  // (do_read: set at the first read)
  // Where a closing connection's unread bytes are discarded: allocated by the first drain(), not
  // held by every connection (a connection storm has hundreds of handshakes in flight, and 16 KiB
  // each stayed in the heap's resident pages after they ended: docs/server.md).
  static constexpr std::size_t kDrainChunk = 16384;
  std::unique_ptr<char[]> drain_buf_;
};
}  // namespace shmio::engineio
