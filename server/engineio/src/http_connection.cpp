// An HTTP connection's requests: the handshake, polling, the WebSocket upgrade, hand-off.
#include "engine_socket.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/crc.hpp>
#include <cctype>
#include <cstring>

namespace shmio::engineio {

void HttpConnection::on_header(beast::error_code ec) {
  if (ec == beast::error::timeout) ++srv_->stats.request_timeouts;
  // (Only once a header was read: empty lines before the first request line, skipped, leave the
  // first request's deadline as it was; do_read.)
  if (!ec) first_ = false;
  if (ec || closed_) return on_read(ec);
  // A POST for one of this worker's polling sessions claims it until the POST is handled.
  const auto& h = parser_->get();
  target_ = parse_target(h.target());
  reading_claimed_ = false;
  if (h.method() == http::verb::post) {
    const Target& t = target_;
    auto sid = t.query.find("sid");
    if (same_path(t.path, srv_->options.path) && sid != t.query.end()) {
      if (auto it = srv_->sessions.find(sid->second);
          it != srv_->sessions.end() && !it->second->lingering() &&
          it->second->transport() == TransportKind::polling) {
        if (it->second->claim_post(shared_from_this())) {
          reading_claim_ = it->second;
          reading_claimed_ = true;
        } else {
          reading_overlap_ = true;
          it->second->post_overlap();
        }
      }
    }
  }
  if (parser_->is_done()) return on_read(ec);
  // Expect: 100-continue (curl's POST of more than 1 KiB): answered at once, as Node's HTTP
  // server does; the client otherwise waits before it sends the body (curl: a second). Only with
  // nothing before it on this connection still to answer (an interim answer must come after
  // every earlier request's), and written without waiting: a socket that cannot take 25 bytes
  // now is not told (the client sends after its own wait), one that took a part is closed (the
  // answers after it would be read wrong).
  // Not when the body has begun to come already (RFC 9110 10.1.1 lets the server leave it out
  // then): a request handed over by another worker comes with its body, that worker having
  // answered 100 itself (until 2026-12-05 the client got two; found by a review).
  if (!busy_ && queued_.empty() && buffer_.size() == 0 && h.version() >= 11 &&
      beast::iequals(h[http::field::expect], "100-continue")) {
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const ssize_t n = ::send(stream_.socket().native_handle(), kContinue, sizeof kContinue - 1,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof kContinue - 1) return shutdown();
  }
  stream_.expires_after(io_timeout());
  // A POST that claimed its session: its body within http_request_body_timeout, or the read is
  // cancelled and answered 408 (on_read). (Not the stream's own expiry: that closes the socket,
  // and nothing could be answered.)
  if (const Millis body = srv_->options.session.http_request_body_timeout;
      !reading_claim_.expired() && body.count() > 0 && body < io_timeout()) {
    if (!body_timer_) body_timer_ = std::make_unique<net::steady_timer>(stream_.get_executor());
    body_timer_->expires_after(body);
    // (The read it was armed for only: one that ended in the same turn as the timer, its
    // handler already queued, must not cancel the next request's read.)
    body_timer_->async_wait(
        [w = weak_from_this(), read = body_reads_](const boost::system::error_code& e) {
          auto self = w.lock();
          if (e || !self || !self->reading_ || self->body_reads_ != read) return;
          self->body_timed_out_ = true;
          self->stream_.cancel();
        });
  }
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
  ++body_reads_;
  if (body_timer_) body_timer_->cancel();
  const bool body_timed_out = std::exchange(body_timed_out_, false);
  if (closed_) {  // answered with "Connection: close" meanwhile (graceful_close)
    // (operation_aborted: graceful_close cancelled this read, whose timer was the request's.)
    if ((!ec || ec == net::error::operation_aborted) && drain_left_ > 0 &&
        stream_.socket().is_open()) {
      stream_.expires_after(std::chrono::seconds(2));  // the read timer was the request's
      return drain();
    }
    return shutdown();
  }
  if (ec == http::error::body_limit) {
    // Too large (413): the reference (engine.io 6.6) answers so and closes the session with a
    // transport error ("payload too large"; before 2026-12-03 kept, as engine.io before 6.6).
    // A body whose Content-Length is over the bound fails at its header, before the POST
    // claimed its session: that session is found by the request's sid. Only a body over
    // maxPayload itself closes it, not one refused because requests read ahead on this
    // connection hold the rest of the budget (a chunked body's own size is not known: it does).
    const auto length = parser_->content_length();
    const bool own = !length || *length > srv_->options.session.max_payload;
    if (!reading_claim_.expired()) {
      release_claim(reading_claim_, !own);
    } else if (const auto& h = parser_->get(); own && h.method() == http::verb::post) {
      Target t = parse_target(h.target());
      // A session of another worker's: the connection goes to its owner as any request for it
      // does (the header, with its Content-Length, and what was read after it), and the owner
      // answers 413 and closes the session as here. (Before 2026-12-04 this worker answered and
      // the session stayed open until its ping timeout: in a cluster on one port most POSTs
      // land on another worker.) Only with a Content-Length: a chunked body was read in part.
      if (length) {
        if (auto foreign = foreign_sid(t)) {
          reading_overlap_ = false;
          queued_.push_back(
              Queued{parser_->release(), std::move(t), std::move(foreign), {}, false, -1});
          return next();
        }
      }
      const auto sid = t.query.find("sid");
      if (same_path(t.path, srv_->options.path) && sid != t.query.end())
        if (auto it = srv_->sessions.find(sid->second);
            it != srv_->sessions.end() && !it->second->lingering() &&
            it->second->transport() == TransportKind::polling)
          it->second->transport_failed();
    }
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
    // (With its CORS fields, as every answer: a browser otherwise sees a CORS failure, not 413.)
    srv_->add_cors(req, res);
    send(std::move(res));
    return;
  }
  // A POST's body not whole within http_request_body_timeout (or the read timeout): 408, its
  // session closed ("transport error", as the reference's polling transport) and the connection
  // closed. Before 2026-12-06 the connection was dropped without an answer at the read timeout
  // (70 s by default) and the POST held the session's one-POST claim until then (a review).
  if (body_timed_out && ec == net::error::operation_aborted && !reading_claim_.expired()) {
    release_claim(reading_claim_, false);
    return answer_and_close(http::status::request_timeout);
  }
  if (ec == http::error::header_limit) {
    // A header over max_header_bytes: 431, as the reference's HTTP server answers it, and the
    // connection closed (what is left of that header is not read). Also a chunked body's
    // trailer over it, or a field past what Beast stores (RequestParser): a POST's claim on its
    // session let go of, as the 400's below.
    release_claim(reading_claim_, false);
    return answer_and_close(http::status::request_header_fields_too_large);
  }
  // A request that does not parse gets 400 and the connection closed, as Node's HTTP server
  // answers it (before 2026-12-05 the connection was closed without a word: curl said "Empty
  // reply from server", a proxy made it a 502). Not a connection closed or cut short, nor a
  // timeout: those are not answered.
  if (ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message &&
      ec != http::error::need_more && ec != http::error::need_buffer && !busy_) {
    // (An empty line read with the request line's first bytes, before it: skipped and read
    // again, as do_read skips those already in the buffer.)
    if (ec == http::error::bad_method && buffer_.size() > 0) {
      const char c = *static_cast<const char*>(buffer_.cdata().data());
      if (c == '\r' || c == '\n') return do_read();
    }
    release_claim(reading_claim_, false);  // (a POST's claim on its session, as the 413's)
    return answer_and_close(http::status::bad_request);
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
  // (Only a GET may be a fresh handshake, polling or WebSocket: a CORS preflight or a HEAD on the
  // path is answered here, not steered and counted as a handshake; before 2026-12-05 it was.)
  const int steer_to = foreign || req.method() != http::verb::get ? -1 : steer_target(target_);
  const bool keep_reading = !upgrade && !foreign && steer_to < 0;
  queued_.push_back(Queued{std::move(req), std::move(target_), std::move(foreign),
                           std::move(reading_claim_), std::exchange(reading_overlap_, false),
                           steer_to, std::exchange(reading_claimed_, false)});
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
  answering_head_ = q.req.method() == http::verb::head;
  answering_upgrade_ = websocket::is_upgrade(q.req);
  if (q.foreign || q.steer_to >= 0) return hand_off(std::move(q.req), q.foreign, q.steer_to);
  const std::shared_ptr<EngineSocket> claimed = q.claim.lock();
  release_claim(q.claim, true);  // handled now, synchronously
  // The one-POST rule was broken (the session is closed already): a bare 400, as the
  // reference's (before 2026-12-06 a JSON body, and connection_error told, as for a refused
  // handshake; a helper's review). So is the POST that held the claim then, and any whose session
  // closed while its body came (a ping timeout): engine.io's polling transport drops it at its
  // close, and tells connection_error nothing (before 2026-12-07 it was answered "Session ID
  // unknown" and connection_error told, for a session the app had just seen close; a review). Not
  // a session the server closed (lingering for its client's next GET, which gets its DISCONNECT):
  // its POST is answered "ok", as engine.io answers it before its drained close (handle()).
  if (q.overlap ||
      (q.claimed && (!claimed || (claimed->session_closed() && !claimed->lingering()))))
    return send(srv_->bare_error(q.req, http::status::bad_request));
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

namespace {

// The content coding a request accepts of gzip and deflate (Accept-Encoding, RFC 9110 12.5.3: a
// coding with q=0 is refused, "*" stands for those not named), gzip first as engine.io's: "" none.
std::string_view accepted_coding(const Request& req) {
  int gzip = -1, deflate = -1, any = -1;  // -1 not named, 0 refused, 1 accepted
  // (Every Accept-Encoding line: the field may come in several.)
  each_list_item(req, http::field::accept_encoding, [&](std::string_view item) {
    const std::size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    int ok = 1;
    // (Every parameter looked at: before 2026-12-05 only the first, and "gzip;x=1;q=0" was
    // taken for gzip accepted; found by a review.)
    for (std::string_view params = semi == std::string_view::npos ? std::string_view()
                                                                  : item.substr(semi + 1);
         !params.empty();) {
      const std::size_t next = params.find(';');
      std::string_view param = params.substr(0, next);
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      while (!param.empty() && (param.front() == ' ' || param.front() == '\t'))
        param.remove_prefix(1);
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string_view num = param.substr(2);
        while (!num.empty() && num.front() == ' ') num.remove_prefix(1);
        // q=0, 0.0, 0.00, 0.000: refused; anything else above it accepted.
        ok = 0;
        for (char c : num.substr(0, num.find_first_of(" ;,")))
          if (c >= '1' && c <= '9') ok = 1;
      }
    }
    if (beast::iequals(name, "gzip") || beast::iequals(name, "x-gzip"))
      gzip = ok;
    else if (beast::iequals(name, "deflate"))
      deflate = ok;
    else if (name == "*")
      any = ok;
    return true;
  });
  if (gzip == 1 || (gzip == -1 && any == 1)) return "gzip";
  if (deflate == 1 || (deflate == -1 && any == 1)) return "deflate";
  return {};
}

// `in` in the coding `coding` ("gzip": RFC 1952; "deflate": the zlib format, RFC 1950, as HTTP's
// deflate is), by Beast's deflate (raw) with the wrapper's header and check value around it.
std::string encode_body(std::string_view in, std::string_view coding) {
  namespace zlib = beast::zlib;
  // (One per thread, reset for each response: its buffers, about 256 KiB for these settings, are
  // kept rather than allocated and freed per compressed response.)
  static thread_local zlib::deflate_stream ds;
  ds.reset(6, 15, 8, zlib::Strategy::normal);
  const bool gzip = coding == "gzip";
  const std::size_t head = gzip ? 10 : 2, tail = gzip ? 8 : 4;
  std::string out(head + ds.upper_bound(in.size()) + tail, '\0');
  if (gzip) {
    const unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};  // deflate, no name, OS ?
    std::memcpy(out.data(), h, sizeof h);
  } else {
    out[0] = static_cast<char>(0x78);  // deflate, 32 KiB window
    out[1] = static_cast<char>(0x9c);  // default level; (0x789c) % 31 == 0
  }
  zlib::z_params zs;
  zs.next_in = in.data();
  zs.avail_in = in.size();
  zs.next_out = out.data() + head;
  zs.avail_out = out.size() - head - tail;
  beast::error_code ec;
  // (end_of_stream: all of it, the output being large enough; if not, sent as it is.)
  ds.write(zs, zlib::Flush::finish, ec);
  if (zs.avail_in != 0) return {};
  std::size_t at = head + zs.total_out;
  auto put32 = [&](std::uint32_t x, bool big_endian) {
    for (int i = 0; i < 4; ++i) {
      const int shift = big_endian ? 24 - 8 * i : 8 * i;
      out[at++] = static_cast<char>((x >> shift) & 0xff);
    }
  };
  if (gzip) {
    boost::crc_32_type crc;
    crc.process_bytes(in.data(), in.size());
    put32(crc.checksum(), false);
    put32(static_cast<std::uint32_t>(in.size()), false);
  } else {
    std::uint32_t a = 1, b = 0;  // Adler-32
    for (unsigned char c : in) {
      a = (a + c) % 65521;
      b = (b + a) % 65521;
    }
    put32((b << 16) | a, true);
  }
  out.resize(at);
  return out;
}

}  // namespace

std::optional<Response> HttpConnection::client_file(const Request& req, std::string_view path) {
  const ServerOptions::ClientFiles& files = *srv_->options.client_files;
  std::string_view base = srv_->options.path;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  if (path.size() <= base.size() + 1 || !path.starts_with(base) || path[base.size()] != '/')
    return std::nullopt;
  const std::string_view name = path.substr(base.size() + 1);
  const auto file = files.files.find(name);
  if (file == files.files.end()) return std::nullopt;
  // If-None-Match (RFC 9110 13.1.2): "*", or a list of tags, each compared weakly (a W/ taken off).
  const bool cached = !each_list_item(req, http::field::if_none_match, [&](std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return !(tag == "*" || tag == files.etag);  // (found: stop)
  });
  Response res{cached ? http::status::not_modified : http::status::ok, req.version()};
  res.set(http::field::cache_control, "public, max-age=0");
  res.set(http::field::etag, files.etag);
  srv_->add_cors(req, res);
  res.insert(http::field::vary, "Accept-Encoding");  // (beside CORS's)
  res.keep_alive(req.keep_alive());
  if (!cached) {
    res.set(http::field::content_type, file->second.content_type);
    const std::string_view coding = accepted_coding(req);
    const std::string* body = file->second.body.get();
    if (!coding.empty() && body != nullptr) {
      std::string key = std::string(coding) + " " + std::string(name);
      auto made = srv_->client_files_encoded.find(key);
      if (made == srv_->client_files_encoded.end())
        made = srv_->client_files_encoded.emplace(std::move(key), encode_body(*body, coding)).first;
      if (!made->second.empty()) {  // (empty: could not be compressed; sent as it is)
        res.set(http::field::content_encoding, coding);
        body = &made->second;
      }
    }
    if (body != nullptr) res.body() = *body;
  }
  res.prepare_payload();
  return res;
}

void HttpConnection::respond_poll(std::string payload, bool compress) {
  if (!held_ || closed_) return;
  Request req = std::move(*held_);
  held_.reset();
  const std::shared_ptr<EngineSocket> session = std::exchange(held_for_, {}).lock();
  const std::size_t threshold = srv_->options.http_compression_threshold;
  std::string_view coding;
  if (compress && threshold != 0 && payload.size() >= threshold) coding = accepted_coding(req);
  std::string encoded = coding.empty() ? std::string() : encode_body(payload, coding);
  const bool is_encoded = !encoded.empty();
  Response res = text(req, is_encoded ? std::move(encoded) : std::move(payload));
  if (is_encoded) {
    res.set(http::field::content_encoding, coding);
    res.insert(http::field::vary, "Accept-Encoding");  // (beside CORS's and an app hook's own)
  }
  // (ServerOptions::cookie: on the handshake's answer, its session's id.)
  if (srv_->options.cookie && session && is_handshake(req))
    res.insert(http::field::set_cookie, set_cookie(*srv_->options.cookie, session->id()));
  send(std::move(res));
}

void HttpConnection::lost_held_get() {
  if (!held_) return;
  held_.reset();
  if (auto s = held_for_.lock()) s->get_lost(this);
}

void HttpConnection::handle(Request req, const Target& t) {
  const ServerOptions& o = srv_->options;
  if (srv_->stopped) return shutdown();
  // A CORS preflight: answered here for the engine's path, and for another path that the app's
  // routes do not answer (its own preflight, for its own endpoints, is the app's: routes are asked
  // first there; before 2026-12-02 every OPTIONS got this answer and routes never saw one). A
  // route's answer to one gets the CORS fields it does not set itself, so that an app whose
  // routes match the path alone still passes the browser's preflight as before.
  auto cors_fields = [&](Response& res) {
    if (res.find(http::field::access_control_allow_origin) == res.end()) srv_->add_cors(req, res);
    if (res.find(http::field::access_control_allow_methods) == res.end())
      res.set(http::field::access_control_allow_methods, "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (auto h = req.find(http::field::access_control_request_headers);
        h != req.end() && res.find(http::field::access_control_allow_headers) == res.end())
      res.set(http::field::access_control_allow_headers, h->value());
  };
  auto preflight = [&] {
    Response res{http::status::no_content, req.version()};
    res.keep_alive(req.keep_alive());
    cors_fields(res);
    res.prepare_payload();
    return send(std::move(res));
  };
  const bool cors_preflight =
      req.method() == http::verb::options &&
      (!o.cors_origin.empty() || !o.cors_origins.empty() || o.cors_reflect_origin);
  const auto server_error = [&] {
    Response res{http::status::internal_server_error, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = "Internal Server Error";
    res.prepare_payload();
    return res;
  };
  if (!same_path(t.path, o.path)) {
    if (o.client_files && (req.method() == http::verb::get || req.method() == http::verb::head))
      if (std::optional<Response> res = client_file(req, t.path)) return send(std::move(*res));
    if (o.routes) {
      const ServerOptions::HttpRequest hr = http_request(req, remote());
      std::optional<ServerOptions::HttpResponse> out;
      try {
        out = o.routes(hr);
      } catch (...) {
        std::fprintf(stderr, "shmio: HTTP route handler threw: %s\n", thrown_what().c_str());
        out = ServerOptions::HttpResponse{
            500, "text/plain; charset=utf-8", "Internal Server Error", {}};
      }
      if (out) {
        // Not an HTTP status, or not a final one (1xx: the client would wait on for the real
        // answer): the handler's bug, a 500 (a 1xx went out as the answer, and the client hung,
        // before 2026-12-06; a helper's review).
        if (out->status < 200 || out->status > 599) {
          std::fprintf(stderr, "shmio: HTTP route handler returned status %u\n", out->status);
          out = ServerOptions::HttpResponse{
              500, "text/plain; charset=utf-8", "Internal Server Error", {}};
        }
        Response res{static_cast<http::status>(out->status), req.version()};
        // The app's fields as it gave them, but none that would split the response (a line
        // break, as the headers hooks' fields) or that Beast cannot hold (a value past 64 KiB:
        // std::length_error, out of io.run()): said and left out (before 2026-12-04 written as
        // given; a helper's review).
        // (bad_field, http_util.hpp: a name is an HTTP token; a value has no control character
        // but tab.)
        if (!bad_field("Content-Type", out->content_type))
          res.set(http::field::content_type, out->content_type);
        else
          std::fprintf(stderr,
                       "shmio: HTTP route handler's content type refused (a line break, "
                       "or too long)\n");
        // (A name said again is another field of that name, as Node's setHeader with an array:
        // two Set-Cookie lines. The first replaces what the server had set; before 2026-12-06
        // each replaced the one before, and only the last cookie went; a helper's review.)
        for (auto h = out->headers.begin(); h != out->headers.end(); ++h) {
          // (Not a structured binding: clang 14 cannot capture one in the lambda below.)
          const std::string& name = h->first;
          const std::string& value = h->second;
          if (!bad_field(name, value)) {
            const bool again = std::any_of(out->headers.begin(), h, [&](const auto& e) {
              return beast::iequals(e.first, name) && !bad_field(e.first, e.second);
            });
            if (again)
              res.insert(name, value);
            else
              res.set(name, value);
            continue;
          }
          std::fprintf(stderr,
                       "shmio: HTTP route handler's header field refused: a name or value with a "
                       "line break, an empty name or one that is no token, or one too long (%zu, "
                       "%zu bytes)\n",
                       name.size(), value.size());
        }
        if (cors_preflight) cors_fields(res);
        res.keep_alive(req.keep_alive());
        // A 204 or 304 has no body (RFC 9110 15.3.5, 15.4.5): one given is left out, as Node's
        // response does (Beast's prepare_payload threw invalid_argument out of io.run(), and the
        // process ended, before 2026-12-06; a helper's review).
        if (out->status != 204 && out->status != 304)
          res.body() = std::move(out->body);
        else if (!out->body.empty())
          std::fprintf(stderr, "shmio: HTTP route handler's body for a %u left out\n", out->status);
        res.prepare_payload();
        return send(std::move(res));
      }
    }
    if (cors_preflight) return preflight();
    if (o.static_files && (req.method() == http::verb::get || req.method() == http::verb::head)) {
      // (An exception of the app's is a 500, as a route's: it left io.run() before 2026-12-04.)
      std::optional<ServerOptions::StaticResponse> file;
      try {
        file = o.static_files(t.path);
      } catch (...) {
        std::fprintf(stderr, "shmio: static files handler threw: %s\n", thrown_what().c_str());
        return send(server_error());
      }
      if (file && (file->content_type.find_first_of("\r\n") != std::string::npos ||
                   file->content_type.size() > 1024)) {
        std::fprintf(stderr, "shmio: static files handler's content type refused\n");
        return send(server_error());
      }
      if (file) {
        Response res{http::status::ok, req.version()};
        res.set(http::field::content_type, file->content_type);
        res.keep_alive(req.keep_alive());
        // (No body, a null pointer: an empty one. It was read through, before 2026-12-06.)
        if (file->body) res.body() = *file->body;
        res.prepare_payload();
        return send(std::move(res));
      }
    }
    Response res{http::status::not_found, req.version()};
    res.keep_alive(req.keep_alive());
    res.body() = "Not Found";
    res.prepare_payload();
    return send(std::move(res));
  }
  if (cors_preflight) return preflight();
  auto q = [&](const char* k) -> const std::string* {
    auto it = t.query.find(k);
    return it == t.query.end() ? nullptr : &it->second;
  };
  // The transport first, then the protocol version: engine.io's order (its verify() answers
  // "Transport unknown" before its handshake looks at EIO).
  const std::string* transport = q("transport");
  const bool is_ws = transport != nullptr && *transport == "websocket";
  const bool is_polling = transport != nullptr && *transport == "polling";
  if ((!is_ws && !is_polling) || (is_ws && !o.allow_websocket) || (is_polling && !o.allow_polling))
    return send(json_error(req, http::status::bad_request, 0, "Transport unknown"));
  const std::string* eio = q("EIO");
  if (eio == nullptr || *eio != "4")
    return send(json_error(req, http::status::bad_request, 5, "Unsupported protocol version"));
  const bool upgrade = websocket::is_upgrade(req);
  if (upgrade && !is_ws) return send(json_error(req, http::status::bad_request, 3, "Bad request"));
  if (!upgrade && is_ws) return send(json_error(req, http::status::bad_request, 3, "Bad request"));
  const bool handshake = t.query.count("sid") == 0 && (upgrade || req.method() == http::verb::get);
  if (handshake)
    if (auto full = srv_->refuse_past_session_bound(req, remote())) return send(std::move(*full));
  // A handshake waits for allow_request_async's answer (a polling handshake must be a GET: the
  // other methods get their error at once), once allow_request, the cheap one, has let it
  // through (asked here, then not again when the handshake goes on; before 2026-12-02 the async
  // check came first, and a request allow_request refuses cost the app's look-up anyway).
  if (o.allow_request_async && handshake) {
    if (o.allow_request && !ask_allow_request(o, req))
      return send(json_error(req, http::status::forbidden, 4, "Forbidden"));
    auto held = std::make_shared<Request>(std::move(req));
    auto target = std::make_shared<Target>(t);
    auto once = std::make_shared<std::atomic<bool>>(false);
    // What `done` holds (this connection and the server's core) is let go on the io thread
    // only: the app may call `done` from any thread and keep its copy there, and the last
    // reference dropped there ran this connection's destructor there, which changes the server's
    // set of connections beside the io thread (found by a helper's review, 2026-12-03). Once the
    // Server is gone, ~Server has let them go and `done` does nothing (AsyncGate).
    struct Owners {
      std::shared_ptr<AsyncGate> gate;
      std::shared_ptr<AsyncGate::Held> held;
      Owners(std::shared_ptr<AsyncGate> g, std::shared_ptr<AsyncGate::Held> h)
          : gate(std::move(g)), held(std::move(h)) {}
      Owners(const Owners&) = delete;
      Owners& operator=(const Owners&) = delete;
      ~Owners() {
        const std::lock_guard<std::mutex> lock(gate->m);
        if (gate->io == nullptr || gate->io->get_executor().running_in_this_thread()) return;
        net::post(*gate->io, [h = std::move(held)] {});
      }
    };
    auto members = std::make_shared<AsyncGate::Held>(AsyncGate::Held{shared_from_this(), srv_});
    {
      const std::lock_guard<std::mutex> lock(srv_->gate->m);
      auto& waiting = srv_->gate->waiting;
      if (waiting.size() >= 64 && waiting.size() == waiting.capacity())
        std::erase_if(waiting, [](const auto& w) { return w.expired(); });
      waiting.push_back(members);
    }
    auto owners = std::make_shared<Owners>(srv_->gate, std::move(members));
    // (`tell`: the refusal's text goes to the client as engine.io's abortRequest writes an
    // allowRequest's message; an exception's does not.)
    auto finish = [owners, held, target, once](std::optional<std::string> refusal, bool tell) {
      if (once->exchange(true)) return;  // called twice: the second is ignored
      const std::lock_guard<std::mutex> lock(owners->gate->m);
      if (owners->gate->io == nullptr) return;  // (the Server is gone)
      net::post(*owners->gate->io, [owners, held, target, refusal = std::move(refusal), tell] {
        if (auto& c = owners->held->self) c->resume_handshake(*held, *target, refusal, tell);
      });
    };
    auto done = [finish](std::optional<std::string> refusal) { finish(std::move(refusal), true); };
    awaiting_app_ = true;
    try {
      o.allow_request_async(http_request(*held, remote()), done);
    } catch (...) {
      std::fprintf(stderr, "shmio: allow_request_async threw: %s\n", thrown_what().c_str());
      finish(thrown_what(), false);
    }
    return;
  }
  if (upgrade) return handle_upgrade(req, t);
  handle_polling(req, t);
}

void HttpConnection::resume_handshake(Request& req, const Target& t,
                                      const std::optional<std::string>& refusal, bool tell) {
  awaiting_app_ = false;
  if (closed_) return;
  if (srv_->stopped) return shutdown();  // (its read pending: left, it held the io_context)
  if (refusal) {
    if (srv_->options.connection_error) {
      const ServerOptions::HttpRequest hr = http_request(req, remote());
      try {
        srv_->options.connection_error(ServerOptions::ConnectionError{4, *refusal, hr});
      } catch (...) {
        std::fprintf(stderr, "shmio: connection_error handler threw: %s\n", thrown_what().c_str());
      }
    }
    Response res{http::status::forbidden, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    // (engine.io's abortRequest: the allowRequest's message when it has one, else "Forbidden".)
    res.body() = "{\"code\":4,\"message\":\"" +
                 (tell && !refusal->empty() ? json_escaped(mend_utf8(*refusal).value_or(*refusal))
                                            : std::string("Forbidden")) +
                 "\"}";
    res.prepare_payload();
    srv_->add_cors(req, res);
    return send(std::move(res));
  }
  // (Sessions opened while the app looked it up may have reached the bound.)
  if (auto full = srv_->refuse_past_session_bound(req, remote())) return send(std::move(*full));
  allowed_ = true;  // (allow_request said yes before the async check: not asked again)
  if (websocket::is_upgrade(req)) return handle_upgrade(req, t);
  handle_polling(req, t);
}

void HttpConnection::handle_polling(Request& req, const Target& t) {
  const bool allowed = std::exchange(allowed_, false);
  auto sid_it = t.query.find("sid");
  if (sid_it == t.query.end()) {
    if (req.method() != http::verb::get)
      return send(json_error(req, http::status::bad_request, 2, "Bad handshake method"));
    if (srv_->options.allow_request && !allowed) {
      if (!ask_allow_request(srv_->options, req))
        return send(json_error(req, http::status::forbidden, 4, "Forbidden"));
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
    return send(json_error(req, http::status::bad_request, 1, "Session ID unknown"));
  std::shared_ptr<EngineSocket> s = it->second;
  if (s->transport() != TransportKind::polling)
    return send(json_error(req, http::status::bad_request, 3, "Bad request"));
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
      return send(srv_->bare_error(r, http::status::bad_request));
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
      return send(srv_->bare_error(req, http::status::bad_request));
    }
    std::vector<Packet> packets;
    // Read as UTF-8, ill-formed sequences as U+FFFD, as the reference reads a POST (before
    // 2026-12-03 the bytes went on as they came: text the WebSocket transport refuses, passed to
    // the app, and relayed, made a browser's WebSocket fail).
    const std::size_t received = req.body().size();
    if (auto mended = mend_utf8(req.body())) req.body() = std::move(*mended);
    // Each packet takes at least two bytes (type and separator): the body size already bounds
    // the work; no separate count limit that a batching client could hit.
    const DecodeError err = decode_payload(req.body(), packets, req.body().size());
    // As the reference: the packets before an undecodable one are delivered, then the session
    // closes with "parse error"; the POST itself is answered "ok". Each packet in turn: the
    // messages before one that closes the session (a close, a client's ping, the undecodable
    // one) reach the app first (before 2026-12-03 they were dropped with the session).
    const TimePoint now = Clock::now();
    srv_->stats.packets_in += packets.size();
    srv_->stats.bytes_in += received;
    for (const Packet& p : packets) {
      if (p.type == PacketType::close || p.type == PacketType::ping) s->pump();
      s->sm().receive(TransportKind::polling, p, now);
    }
    if (err != DecodeError::none) {
      s->pump();
      s->sm().receive_garbage();
    }
    s->pump();
    return send(text(req, "ok"));
  }
  // Neither GET nor POST: a bare 500, as the reference's polling transport answers it (a JSON
  // 400 and connection_error before 2026-12-06; a review).
  send(srv_->bare_error(req, http::status::internal_server_error));
}

void HttpConnection::handle_upgrade(Request& req, const Target& t) {
  const bool allowed = std::exchange(allowed_, false);
  // The handshake is checked before anything else (RFC 6455 4.2.1): a 16-byte key and version 13.
  const bool deflate = srv_->options.per_message_deflate && [&] {
    auto e = req.find(http::field::sec_websocket_extensions);
    return e != req.end() && lower(e->value()).find("permessage-deflate") != std::string::npos;
  }();
  const std::optional<std::string> subprotocol = chosen_subprotocol(req);
  if (!subprotocol) {
    Response res{http::status::bad_request, req.version()};
    res.keep_alive(false);
    res.body() = "Invalid Sec-WebSocket-Protocol header";
    res.prepare_payload();
    return send(std::move(res));
  }
  // What the 101 adds once the handshake is checked: the subprotocol chosen, and the header
  // hooks' (on both links: before 2026-12-04 the hooks' were left out of a permessage-deflate
  // one's).
  // (A hook that answers the subprotocol itself, as it had to before, is left to: two such
  // headers fail the handshake.)
  const auto added_101 = [&] {
    ServerOptions::Headers added = hooked_headers(srv_->options, req, remote());
    const bool hooked = std::any_of(added.begin(), added.end(), [](const auto& h) {
      return beast::iequals(h.first, "sec-websocket-protocol");
    });
    if (!subprotocol->empty() && !hooked)
      added.insert(added.begin(), {"Sec-WebSocket-Protocol", *subprotocol});
    return added;
  };
  // The version and key are checked for both links (until 2026-12-05 for the raw one only:
  // Beast, on the permessage-deflate link, took a key of any form up to 24 characters; RFC 6455
  // 4.2.1 asks for 16 bytes in base64; found by a review).
  {
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
  }
  std::string response_101;
  if (!deflate) {
    auto k = req.find(http::field::sec_websocket_key);
    websocket::detail::sec_ws_accept_type accept;
    websocket::detail::make_sec_ws_accept(accept, k->value());
    response_101 =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        std::string(accept.data(), accept.size()) + "\r\n";
    for (const auto& [name, value] : added_101()) response_101 += name + ": " + value + "\r\n";
    response_101 += "\r\n";
  }
  std::shared_ptr<EngineSocket> probing;
  std::optional<Clock::time_point> probe_began;  // (its identity: Session::probe_started)
  bool refuse = false;
  if (auto sid_it = t.query.find("sid"); sid_it != t.query.end()) {
    auto it = srv_->sessions.find(sid_it->second);
    if (it == srv_->sessions.end())
      return send(json_error(req, http::status::bad_request, 1, "Session ID unknown"));
    if (const auto now = Clock::now(); it->second->sm().begin_probe(now)) {
      probe_began = now;
      probing = it->second;
      probing->pump();  // arms the upgrade timeout
    } else {
      // Already upgraded, probing, closed, or upgrades off: as the reference server, the
      // WebSocket is accepted and closed at once; the session is not touched.
      refuse = true;
    }
  } else if (srv_->options.allow_request && !allowed) {
    if (!ask_allow_request(srv_->options, req))
      return send(json_error(req, http::status::forbidden, 4, "Forbidden"));
  }
  // The TCP connection now belongs to the WebSocket.
  closed_ = true;
  auto srv = srv_;
  auto hs = handshake_request(req, remote());
  // b64 in the query, with a value (engine.io reads it as JavaScript does: "0" asks too, an empty
  // one does not): binary frames go to this WebSocket as base64 text
  // (Session::set_websocket_base64).
  const auto b64_it = t.query.find("b64");
  const bool b64 = b64_it != t.query.end() && !b64_it->second.empty();
  auto attach = [srv, probing, probe_began, hs, refuse, b64](
                    const std::shared_ptr<detail::Link>& ws, beast::error_code ec) {
    if (!ec && refuse) {
      ws->close_after_writes();
      return;
    }
    if (ec) {
      // The probe never got going: released so another may start — if it is still this one's
      // (the deflate path's accept ends in a later handler: this probe may have timed out and
      // another begun meanwhile, which this one's failure abandoned; found by a review).
      if (probing && probing->sm().probe_started() == probe_began && !probing->has_probe()) {
        probing->sm().abandon_probe();
        probing->pump();
      }
      return;
    }
    if (srv->stopped) return;
    if (probing) {
      // Beast's accept (the permessage-deflate path) completes in a later handler: the session
      // may have closed meanwhile (a POST of "1", a second GET, its ping timeout), its probe
      // timed out, or another probe taken its place. Such a WebSocket is closed, not attached:
      // kept as the probe of a closed session, nothing closed it, and its pings (answered by
      // any client) kept it open for good (found in review, 2026-12-02, by reading: a test that
      // stopped the server while the upgrade and a closing POST arrived saw Asio complete the
      // accept before it read the POST in every try, so none shows it).
      if (probing->sm().closed() || !probing->sm().upgrading() || probing->has_probe() ||
          probing->sm().probe_started() != probe_began) {  // (another probe's now)
        ws->close_after_writes();
        return;
      }
      ws->start(probing);
      probing->set_ws(ws, /*probe=*/true);
      probing->sm().set_websocket_base64(b64);
      return;
    }
    auto s = std::make_shared<EngineSocket>(srv, TransportKind::websocket, hs);
    srv->sessions.emplace(s->id(), s);
    s->sm().set_websocket_base64(b64);
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
  // (The hooks run first: the request moved into accept's parameter in the same call could be
  // moved before they ran, the order of a call's parameters being unspecified.)
  ServerOptions::Headers added = added_101();
  ws->accept(std::move(req), std::move(added),
             [ws, attach](beast::error_code ec) { attach(ws, ec); });
}
}  // namespace shmio::engineio
