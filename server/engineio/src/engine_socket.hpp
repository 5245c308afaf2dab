// An Engine.IO session as the server holds it: the protocol state machine (Session) on its
// transports (held GET, WebSocket link, probe) (private to engineio/src).
#pragma once

#include "http_connection.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::engineio {

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
  Queued queued() const noexcept override { return {sm_.out().size(), sm_.out().bytes()}; }
  bool send(Packet p) override {
    if (sm_.closed()) return false;
    return send_frame(p.to_frame());
  }
  // The delivery path: a reference into the session's bounded queue, written at the end of the
  // turn (ServerCore::cork). Never re-enters the caller: an overflow closes the session at the
  // flush, not here (the caller may be iterating a room).
  bool send_frame(FrameRef f) override { return send_message(std::move(f), {}); }
  // (Counted as sent only when queued: a frame refused by a full queue never goes out.)
  bool send_message(FrameRef head, std::span<const FrameRef> rest) override {
    std::size_t bytes = head->payload().size();
    for (const FrameRef& f : rest) bytes += f->payload().size();
    const Session::SendResult r = sm_.send_message(std::move(head), rest);
    if (r == Session::SendResult::queued) {
      srv_->stats.packets_out += 1 + rest.size();
      srv_->stats.bytes_out += bytes;
    } else if (r == Session::SendResult::overflow) {
      ++srv_->stats.slow_consumer_closes;
    }
    if (r != Session::SendResult::closed) srv_->cork(this);
    return r == Session::SendResult::queued;
  }
  bool send_past_bound(FrameRef f) override {
    const std::size_t bytes = f->payload().size();
    if (sm_.send_past_bound(std::move(f)) != Session::SendResult::queued) return false;
    srv_->stats.packets_out += 1;
    srv_->stats.bytes_out += bytes;
    srv_->cork(this);
    return true;
  }
  void close() override {
    sm_.close(CloseReason::forced_close);
    pump();
  }
  void close_saying_so() override {
    if (!sm_.closed() && sm_.transport() == TransportKind::websocket) sm_.queue_close_packet();
    close();
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
  // The output queue (its slots inline for a few frames): an address, no pointer to follow.
  void prefetch_queue() const noexcept { __builtin_prefetch(&sm_.out()); }
  // The link's hot fields (flush_batched, once this session's own lines are in).
  void prefetch_link() const noexcept {
    if (ws_) ws_->prefetch_hot();
  }
  std::size_t dirty_slot = kNotListed;  // ServerCore's bookkeeping (read by every flush: first)
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
  void post_overlap() { transport_failed(); }
  // The polling transport failed (a POST over maxPayload): closed with "transport error".
  void transport_failed() {
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
  bool session_closed() const noexcept { return sm_.closed(); }
  void forget() {
    if (lingering()) {
      --srv_->lingering;
      rare_->lingering.reset();
    }
    if (probe()) {  // one kept for an upgrade the client did not finish (finish_close)
      rare_->probe->close_after_writes();
      rare_->probe.reset();
    }
    if (rare_) rare_->upgrade_tail.clear();
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
    if (!srv_->handler.on_open) return;
    // A handler that throws closes the session, as one that throws on a message does (before
    // 2026-12-03 the exception left the session in the table with no deadline, its handshake
    // unanswered, and went out of io_context::run(); found by a helper's review).
    try {
      srv_->handler.on_open(shared_from_this());
    } catch (...) {
      std::fprintf(stderr, "shmio: open handler threw: %s\n", thrown_what().c_str());
      close();
    }
  }
  // A GET arrived for this session. Returns false if one is already held (protocol error).
  bool hold_get(const std::shared_ptr<HttpConnection>& c) {
    if (held_get()) return false;
    if (announced_) {  // closed already (e.g. by the open handler)
      if (lingering() && !rare_->lingering->empty()) {
        c->respond_poll(std::exchange(*rare_->lingering, std::string()));  // what was queued
        rare_->upgrade_tail.clear();  // (delivered: a probe kept gets only the close frame)
        return true;                  // the close packet at the next GET
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
  bool has_probe() const noexcept { return probe() != nullptr; }
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
    if (announced_) {  // (closed: only a probe kept by finish_close speaks)
      if (c != probe()) return;
      if (p.type == PacketType::upgrade) return upgrade_after_close();
      drop_kept_probe();  // anything else: not an upgrade any more (the GET gets the rest)
      return;
    }
    sm_.receive(TransportKind::websocket, p, Clock::now());
    pump();
  }
  void on_ws_garbage(const detail::Link* c) override {
    if (announced_) {
      if (c == probe()) drop_kept_probe();
      return;
    }
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
    // (Held first, so that it is let go last: a close below may erase the server's reference,
    // and the flag's reset then wrote into freed memory — ASan, 2026-12-03, a 413 closing the
    // session it names.)
    auto self = shared_from_this();
    pumping_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{pumping_};
    do {
      again_ = false;
      for (Packet& m : sm_.take_messages()) {
        if (sm_.closed()) break;  // nothing more is delivered once the session is closed
        if (!srv_->handler.on_message) continue;
        try {
          srv_->handler.on_message(self, std::move(m));
        } catch (...) {
          std::fprintf(stderr, "shmio: message handler threw: %s\n", thrown_what().c_str());
          sm_.close(CloseReason::forced_close);
        }
      }
      if (sm_.closed()) {
        finish_close();
        break;
      }
      if (probe()) {
        // At most one "3probe" waits unwritten: a client that sends "2probe" after "2probe" and
        // reads none (the probe link is outside the session's output bounds) cannot grow its
        // queue by a frame each (before 2026-12-05 it could, for the upgrade's 10 s; found by a
        // review). Those not answered meanwhile are answered by the one waiting. (Looked for by
        // its text: before 2026-12-06 any frame queued — a pong to the client's WebSocket ping
        // waiting on a full socket buffer — dropped the answer, and the upgrade waited out its
        // timeout; a review.)
        for (const Packet& p : sm_.take_probe_packets())
          if (!rare_->probe->holds_text("3probe")) rare_->probe->push(p.to_frame());
        rare_->probe->flush();
        if (!sm_.upgrading() && sm_.transport() == TransportKind::polling) {
          rare_->probe->close_after_writes();  // abandoned probe
          rare_->probe.reset();
        }
      }
      if (held_get() && sm_.polling_needs_noop() && !sm_.has_output()) {
        sm_.noop_sent(Clock::now());
        respond_get("6");
      }
      if (sm_.transport() == TransportKind::websocket) {
        if (probe() && !ws_) {  // the upgrade completed: the session's queue is the link's source
          ws_ = std::move(rare_->probe);
          ws_->attach(&sm_.out());
          if (srv_->handler.on_upgrade) {
            try {
              srv_->handler.on_upgrade(self);
            } catch (...) {
              std::fprintf(stderr, "shmio: upgrade handler threw: %s\n", thrown_what().c_str());
            }
          }
        }
        if (held_get()) respond_get("6");  // release a GET the client left behind
        if (ws_ && sm_.has_output()) srv_->cork(this);
      } else if (held_get() && sm_.has_output()) {
        bool compress = false;
        std::string payload =
            sm_.take_polling_payload(srv_->options.session.max_payload, &compress);
        respond_get(std::move(payload), compress);
      }
    } while (again_);
    arm_timer();
  }

 private:
  // A probe kept after the session closed (finish_close) that says anything but "5": closed.
  void drop_kept_probe() {
    rare_->probe->close_after_writes();
    rare_->probe.reset();
    rare_->upgrade_tail.clear();
  }
  // The "5" of an upgrade the session was closed during (by the server, its probe answered: the
  // client stopped polling and waits for nothing more on it): what the session left queued goes
  // on the new WebSocket, then the close frame, as engine.io's upgrade of a
  // closing socket flushes its buffer on the new transport. Until 2026-12-05 the probe was closed
  // with the session: the client saw its upgrade's WebSocket close ("transport close") and
  // reconnected, where the app had disconnected it (its DISCONNECT waited for a GET that never
  // came).
  void upgrade_after_close() {
    std::shared_ptr<detail::Link> link = std::move(rare_->probe);
    // (Binary as base64 text where the probe asked it: these frames never went through the
    // session's queue on WebSocket.)
    const bool b64 = sm_.websocket_base64();
    for (FrameRef& f : rare_->upgrade_tail)
      link->push(b64 && f->binary() ? base64_text(*f) : std::move(f));
    link->close_after_writes();  // (no close packet on a WebSocket: finish_close says why)
    forget();                    // (the payload kept for a GET is delivered: the session is done)
  }
  void respond_get(std::string payload, bool compress = false) {
    auto c = std::move(rare_->get);
    c->respond_poll(std::move(payload), compress);
  }
  void finish_close() {
    if (announced_) return;
    announced_ = true;
    set_deadline(TimePoint::max());
    // A forced close still delivers what was queued (e.g. a DISCONNECT packet), then "1" (in a
    // response of its own: see kLinger). Other reasons cleared the queue.
    bool linger = false;
    // An upgrade's probe answered: the client may have stopped polling (it sends "5" next), so
    // the probe is kept for what is queued (upgrade_after_close), as long as the session lingers.
    const bool keep_probe = probe() != nullptr && sm_.probe_answered();
    if (sm_.transport() == TransportKind::polling) {
      const bool forced = sm_.close_reason() == CloseReason::forced_close;
      const bool can_linger = forced && !srv_->stopped;
      if (keep_probe && can_linger && !held_get()) {  // the frames too, for the probe
        FrameQueue& q = sm_.out();
        std::vector<FrameRef>& tail = rare().upgrade_tail;
        for (std::size_t n = q.size(); n > 0; --n) {
          tail.push_back(q.pop_front());
          q.push_back(tail.back());
        }
      }
      std::string queued = sm_.take_polling_payload(std::numeric_limits<std::size_t>::max());
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
      // What is queued (kept by a forced close), then the close frame: no close packet on a
      // WebSocket, as engine.io's transport closes it. (Until 2026-12-07 a "1" came first:
      // python-engineio takes that for a close asked by the server and python-socketio then never
      // reconnects — after a server's close, a ping timeout or a slow consumer's — where engine.io
      // leaves it to reconnect; found by a bug hunt. engine.io-client ignores "1" on a
      // WebSocket.)
      ws_->close_after_writes();
      ws_.reset();
    }
    if (probe() && !(linger && keep_probe)) {
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
      } catch (...) {
        std::fprintf(stderr, "shmio: close handler threw: %s\n", thrown_what().c_str());
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
    if (when == TimePoint::max()) {
      srv_->deadlines.erase(this);
      return srv_->quiet_if_idle();
    }
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
  // What a broadcast's send_frame() and the end-of-turn flush read of every session lie together
  // after the bases and dirty_slot: rare_ (probe()), srv_, ws_ and then the session's own hot
  // fields (Session puts them first) — three cache lines where they were spread over five (a
  // session is a cache miss per line at every turn: docs/server.md).
  struct Rare;
  std::unique_ptr<Rare> rare_;
  std::shared_ptr<detail::ServerCore> srv_;
  std::shared_ptr<detail::Link> ws_;
  Session sm_;
  std::shared_ptr<const HandshakeRequest> request_;
  bool pumping_ = false, again_ = false, announced_ = false;

 public:
  std::size_t deadline_slot = decltype(detail::ServerCore::deadlines)::npos;  // ServerCore's

 private:
  // What only some sessions need (polling ones, closed ones), in one allocation made on use: a
  // WebSocket session that stays open never has it.
  struct Rare {
    std::shared_ptr<HttpConnection> get;       // the polling GET held
    std::shared_ptr<detail::Link> probe;       // the WebSocket probing an upgrade
    std::weak_ptr<HttpConnection> post_owner;  // the one-POST rule
    int post_claims = 0;
    std::optional<std::string> lingering;  // the last payload of a session closed by the server
    std::vector<FrameRef> upgrade_tail;    // the same as frames, for a probe kept (finish_close)
  };
  HttpConnection* held_get() const noexcept { return rare_ ? rare_->get.get() : nullptr; }
  detail::Link* probe() const noexcept { return rare_ ? rare_->probe.get() : nullptr; }
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
};
}  // namespace shmio::engineio
