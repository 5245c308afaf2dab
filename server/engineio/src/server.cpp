// The Engine.IO transports on Boost.Beast. The classes are in private headers
// (server_core, ws_connection, http_connection, engine_socket); this file has the end-of-turn
// flush, the deadlines, accepting and the public Server; http_connection.cpp the requests.
#include "shmio/engineio/server.hpp"

#include "shmio/engineio/fork.hpp"

#include "engine_socket.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <system_error>

namespace shmio::engineio {

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
      flushing[i + kAhead]->prefetch_hot();  // what batch_link() and send_frame() read
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
    if (l == nullptr) {
      // Closed meanwhile (by application code that pass 1 ran): flushed next turn, not here —
      // its flush runs the close's handlers, which may overflow or close sessions whose iovecs
      // this pass has already gathered (their queues cleared under a prepared write). Found in
      // review, 2026-12-01.
      defer(s);
      continue;
    }
    const std::size_t at = batch_iov.size();
    iovec* slots = batch_iov.extend(kBatchIovecs);
    std::size_t count = 0, bytes = 0;
    const int fd = l->prepare_write(slots, kBatchIovecs, count, bytes);
    batch_iov.shrink_to(at + count);
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
    batch_msgs[i].msg_iov = batch_iov.at(batch[i].iov_at);
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
        batch[i + kAhead].link->prefetch_hot();
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
      // (A drop without a close frame too, as the raw link: EOF or any error of the socket itself
      // is "transport close", as engine.io; Beast's own errors — the protocol's, its timeouts —
      // stay errors.)
      const bool clean = ec == websocket::error::closed || ec == net::error::eof ||
                         ec.category() == boost::system::system_category();
      owner->on_ws_closed(self.get(), !clean);
      return;
    }
    const auto data = self->buffer_.cdata();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    Packet p;
    if (self->ws_.got_binary()) {
      p = Packet::bytes(std::string(bytes));
    } else if (decode_text(bytes, p) != DecodeError::none) {
      self->release_buffer();
      owner->on_ws_garbage(self.get());
      return;
    }
    self->release_buffer();
    owner->on_ws_packet(self.get(), p);
    if (!self->closing_) self->do_read();
  });
}

// ---------------------------------------------------------------------------------------------
bool detail::ServerCore::past_descriptor_bound(int fd, const char* how) {
  // Descriptors are allocated lowest first: this one means every descriptor below it is open.
  stats.last_descriptor = fd < 0 ? 0 : static_cast<std::uint64_t>(fd);
  if (stats.descriptor_bound == 0 || static_cast<std::uint64_t>(fd) < stats.descriptor_bound)
    return false;
  ++stats.connections_refused;
  const auto now = Clock::now();
  if (now - accept_error_logged > std::chrono::seconds(10)) {
    accept_error_logged = now;
    std::fprintf(stderr,
                 "shmio: %d descriptors in use: %s refused until some close (%zu sessions open; "
                 "ServerOptions::descriptor_reserve keeps %zu free)\n",
                 fd, how, open_sessions(), options.descriptor_reserve);
  }
  return true;
}

std::optional<Response> detail::ServerCore::refuse_past_session_bound(const Request& req,
                                                                      std::string_view address) {
  // (Closed sessions kept for their last GET count: a client can have its own closed by the
  // server — an undecodable packet — and each would be held for 30 s beyond the bound.)
  if (options.max_open_sessions == 0 || sessions.size() < options.max_open_sessions)
    return std::nullopt;
  ++stats.sessions_refused;
  if (const auto now = Clock::now(); now - session_bound_logged > std::chrono::seconds(10)) {
    session_bound_logged = now;
    std::fprintf(stderr,
                 "shmio: %zu sessions held (%zu open): new handshakes refused (503) until some "
                 "close (ServerOptions::max_open_sessions; %llu refused so far)\n",
                 sessions.size(), open_sessions(),
                 static_cast<unsigned long long>(stats.sessions_refused));
  }
  return json_error(req, http::status::service_unavailable, 4, "Too many sessions", address);
}

void detail::ServerCore::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!self->accepting) return;
    if (!ec && self->past_descriptor_bound(socket.native_handle(), "new connections are")) {
      // (Closed at once: the client sees the connection reset or closed.)
      beast::error_code ignored;
      socket.close(ignored);
    } else if (!ec) {
      // (Close-on-exec, as every descriptor of ours: Asio sets it on none, and a program the
      // app starts would hold the client's connection open past this process.)
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
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
  if (options.cors_reflect_origin) {
    res.set(http::field::vary, "Origin");
    auto o = req.find(http::field::origin);
    if (o == req.end()) return;
    res.set(http::field::access_control_allow_origin, o->value());
    if (options.cors_credentials) res.set(http::field::access_control_allow_credentials, "true");
    return;
  }
  if (options.cors_origin.empty()) {
    if (options.cors_origins.empty()) return;
    res.set(http::field::vary, "Origin");  // (the answer depends on it, allowed or not)
    auto o = req.find(http::field::origin);
    if (o == req.end()) return;
    std::string lower(o->value());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::find(options.cors_origins.begin(), options.cors_origins.end(), lower) ==
        options.cors_origins.end())
      return;
    res.set(http::field::access_control_allow_origin, o->value());
    if (options.cors_credentials) res.set(http::field::access_control_allow_credentials, "true");
    return;
  }
  res.set(http::field::access_control_allow_origin, options.cors_origin);
  if (options.cors_credentials) res.set(http::field::access_control_allow_credentials, "true");
  if (options.cors_origin != "*") res.set(http::field::vary, "Origin");  // (as cors does)
}

Response detail::ServerCore::json_error(const Request& req, http::status status, int code,
                                        const char* message, std::string_view address) const {
  if (options.connection_error) {
    const ServerOptions::HttpRequest hr = http_request(req, address);
    try {
      options.connection_error(ServerOptions::ConnectionError{code, message, hr});
    } catch (...) {
      std::fprintf(stderr, "shmio: connection_error handler threw: %s\n", thrown_what().c_str());
    }
  }
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = "{\"code\":" + std::to_string(code) + ",\"message\":\"" + message + "\"}";
  res.prepare_payload();  // (a HEAD's answer loses its body in HttpConnection::send)
  add_cors(req, res);
  return res;
}

Response detail::ServerCore::bare_error(const Request& req, http::status status) const {
  Response res{status, req.version()};
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  add_cors(req, res);
  return res;
}

// The session id prefix: short, and of the id's own characters (it goes into query strings as it
// is). A prefix as long as the id (20 characters) made every id the same: every later session
// answered with the first one's id (before 2026-12-03, found by a helper's review).
static ServerOptions checked(ServerOptions o) {
  constexpr std::size_t kMaxPrefix = 8;  // (12 random characters left: 72 bits)
  if (o.id_prefix.size() > kMaxPrefix)
    throw std::invalid_argument(
        "engineio::ServerOptions::id_prefix: at most 8 characters (the "
        "rest of the 20-character session id stays random), not " +
        std::to_string(o.id_prefix.size()));
  for (const char c : o.id_prefix)
    if (!is_id_char(c))
      throw std::invalid_argument(
          "engineio::ServerOptions::id_prefix: only A-Z a-z 0-9 - _ (a session id's own "
          "characters)");
  if (o.cookie) {
    const auto token = [](const std::string& v) {
      return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
      });
    };
    const auto attribute = [](const std::string& v) {
      return std::all_of(v.begin(), v.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != ';' && c != 0x7f;
      });
    };
    if (!token(o.cookie->name))
      throw std::invalid_argument("engineio::ServerOptions::cookie: the name \"" + o.cookie->name +
                                  "\" is not an HTTP token");
    for (const std::string* v : {&o.cookie->path, &o.cookie->domain, &o.cookie->same_site})
      if (!attribute(*v))
        throw std::invalid_argument("engineio::ServerOptions::cookie: \"" + *v +
                                    "\" has a ';', a space or a control character");
  }
  if (o.client_files) {
    // (Header values: no control character, which would split the answer, nor one Beast cannot
    // hold; socketio::load_client_files makes only fit ones, an app may fill them itself.)
    const auto fit = [](const std::string& v) {
      return !v.empty() && v.size() <= 1024 && std::all_of(v.begin(), v.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
      });
    };
    if (!fit(o.client_files->etag))
      throw std::invalid_argument(
          "engineio::ServerOptions::client_files: the etag is empty, longer than 1024 bytes, or "
          "has a control character");
    for (const auto& [name, file] : o.client_files->files)
      if (!fit(file.content_type))
        throw std::invalid_argument("engineio::ServerOptions::client_files: \"" + name +
                                    "\": its content type is empty, longer than 1024 bytes or "
                                    "has a control character");
  }
  return o;
}

Server::Server(net::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<detail::ServerCore>(io, checked(std::move(options)),
                                                 std::move(handler))) {}

Server::~Server() {
  stop();
  // Handshakes still waiting for allow_request_async's `done`: let go here, on the loop's
  // thread; a later `done` does nothing (AsyncGate).
  std::vector<std::shared_ptr<AsyncGate::Held>> let_go;
  {
    const std::lock_guard<std::mutex> held(impl_->gate->m);
    impl_->gate->io = nullptr;
    for (auto& w : impl_->gate->waiting)
      if (auto h = w.lock()) let_go.push_back(std::move(h));
    impl_->gate->waiting.clear();
  }
  std::vector<AsyncGate::Held> members;
  for (auto& h : let_go) members.push_back(std::move(*h));
}

std::uint16_t Server::listen(const std::string& address, std::uint16_t port) {
  // The descriptor bound (ServerOptions::descriptor_reserve), from the limit in force now.
  rlimit rl{};
  if (impl_->options.descriptor_reserve > 0 && ::getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 2 * impl_->options.descriptor_reserve)
    impl_->stats.descriptor_bound = rl.rlim_cur - impl_->options.descriptor_reserve;
  // Each step's error thrown as the std::system_error the header promises (Asio's own
  // boost::system::system_error is not one: a caller catching std::system_error missed it), the
  // acceptor closed first, so that a later listen() starts afresh.
  if (impl_->acceptor.is_open())
    throw std::system_error(std::make_error_code(std::errc::already_connected),
                            "listen: this server listens already");
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    throw std::system_error(ec.value(), std::system_category(), step);
  };
  const net::ip::address ip = net::ip::make_address(address, ec);
  if (ec)
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "not an IPv4 or IPv6 address: \"" + address + "\"");
  const tcp::endpoint ep(ip, port);
  if (impl_->acceptor.open(ep.protocol(), ec)) fail("socket");
  // Close-on-exec (Asio sets none): a program the app starts (system(), popen()) held the
  // listener, and past this process's death it stayed in the port's SO_REUSEPORT group with no
  // one accepting, a share of new connections waiting in its backlog (before 2026-12-03; a
  // helper's review).
  ::fcntl(impl_->acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
  // And let go of in a process forked from this one without exec (fork.hpp: a helper the app
  // leaves running held it past this process's death, in the group, as above).
  let_go_in_forks(impl_->acceptor.native_handle());
  if (impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec)) fail("SO_REUSEADDR");
  if (impl_->options.reuse_port) {
    using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    if (impl_->acceptor.set_option(reuse_port(true), ec)) fail("SO_REUSEPORT");
  }
  if (impl_->acceptor.bind(ep, ec)) fail("bind");
  if (impl_->acceptor.listen(net::socket_base::max_listen_connections, ec)) fail("listen");
  const tcp::endpoint bound = impl_->acceptor.local_endpoint(ec);
  if (ec) fail("getsockname");
  impl_->accepting = true;
  impl_->accept();
  return bound.port();
}

void Server::stop_accepting() {
  impl_->accepting = false;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

void Server::adopt(int fd, std::string bytes, bool handed_over) {
  if (impl_->stopped) {
    ::close(fd);
    return;
  }
  // Past the descriptor bound, as an accepted one would be: refused (before 2026-12-03 a
  // connection handed over took one of the descriptors the reserve keeps for the worker itself).
  if (impl_->past_descriptor_bound(fd, "connections handed over are")) {
    ::close(fd);
    return;
  }
  // A TCP connection only (IPv4 or IPv6, a stream): anything else the caller passed (a Unix
  // socket, a UDP socket, a pipe or file: getsockname fails) is closed, not served (before
  // 2026-12-03 a Unix or UDP socket was taken as TCP and read as HTTP).
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int type = 0;
  socklen_t type_len = sizeof type;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) ||
      ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) {
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
  if (handed_over) ++impl_->stats.adopted;
  auto c = std::make_shared<HttpConnection>(std::move(socket), impl_);
  if (!c->preload(bytes)) return;  // (more than a request may hold: closed with c)
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
  // The HTTP connections: kept alive by their pending operations, held here while each is told.
  std::vector<std::shared_ptr<HttpConnection>> connections;
  for (HttpConnection* c : impl_->http_connections) connections.push_back(c->shared_from_this());
  for (const auto& c : connections) c->stop_serving();
}

bool Server::accepting_handshakes() const noexcept {
  const ServerOptions& o = impl_->options;
  return !impl_->stopped && impl_->accepting &&
         (o.max_open_sessions == 0 || impl_->sessions.size() < o.max_open_sessions);
}

std::size_t Server::session_count() const noexcept {
  return impl_->open_sessions();
}

}  // namespace shmio::engineio
