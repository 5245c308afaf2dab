// A Socket.IO socket: rooms, listeners, emits and acks, middleware, its end.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <limits>

#include "client.hpp"
#include "detail.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

Socket::Socket(Namespace& nsp, std::shared_ptr<Client> client, SocketId id, Handshake hs,
               std::string pid)
    : conn_raw_(client ? client->conn().get() : nullptr),
      nsp_(&nsp),
      client_(client),
      id_(std::move(id)),
      pid_(std::move(pid)),
      handshake_(std::move(hs)),
      nsp_anchor_(nsp.anchor()) {}

std::set<Room> Socket::rooms() const {
  std::set<Room> r = nsp_->adapter().socket_rooms(id_);
  // A recovered socket in its middleware: the rooms it is given back at admission (joined only
  // then, so that no broadcast falls between its replay and the join) are its rooms already, as
  // socket.io joins them before the middleware runs.
  if (x_ && !x_->restore_rooms.empty())
    r.insert(x_->restore_rooms.begin(), x_->restore_rooms.end());
  return r;
}
void Socket::join(const Room& room) {
  if (gone_) return;  // (a room joined now would stay in the index for good)
  nsp_->adapter().add_all(id_, {room});
}
void Socket::join(const std::vector<Room>& rooms) {
  if (gone_) return;
  nsp_->adapter().add_all(id_, std::set<Room>(rooms.begin(), rooms.end()));
}
void Socket::leave(const Room& room) {
  if (x_) x_->restore_rooms.erase(room);  // (left in a middleware: not given back at admission)
  nsp_->adapter().del(id_, room);
}

std::uint64_t Socket::on(const std::string& event, EventHandler h) {
  check_listened_event(event);
  if (gone_) return 0;  // (closed: kept, a handler capturing its socket would never be let go)
  const std::uint64_t id = x().next_listener++;
  x_->handlers.emplace(
      event, Extras::Handler{std::make_shared<const EventHandler>(std::move(h)), false, id});
  return id;
}
std::uint64_t Socket::once(const std::string& event, EventHandler h) {
  check_listened_event(event);
  if (gone_) return 0;
  const std::uint64_t id = x().next_listener++;
  x_->handlers.emplace(
      event, Extras::Handler{std::make_shared<const EventHandler>(std::move(h)), true, id});
  return id;
}
void Socket::off(const std::string& event) {
  if (x_) x_->handlers.erase(event);
}
void Socket::off(const std::string& event, std::uint64_t id) {
  if (!x_) return;
  auto [first, last] = x_->handlers.equal_range(event);
  for (auto it = first; it != last; ++it)
    if (it->second.id == id) {
      x_->handlers.erase(it);
      return;
    }
}
std::size_t Socket::listener_count(const std::string& event) const {
  return x_ ? x_->handlers.count(event) : 0;
}
// An any-listener without the ack, as one with it that leaves it.
static Socket::AnyAckListener without_ack(Socket::AnyListener h) {
  if (!h) return {};
  return [h = std::move(h)](const SocketPtr& s, const std::string& event, const Args& args,
                            const Ack&) { h(s, event, args); };
}
Socket::ListenerId Socket::add_listener(Listeners Extras::*list, AnyAckListener h, bool first) {
  if (gone_) return 0;  // (closed: never called; removing id 0 removes nothing)
  const ListenerId id = x().next_listener++;
  auto entry = std::make_pair(id, std::make_shared<const AnyAckListener>(std::move(h)));
  (x_.get()->*list).change([&](auto& l) {
    l.insert(first ? l.begin() : l.end(), std::move(entry));
  });
  outgoing_listeners_ = !x_->any_outgoing.empty();
  return id;
}
void Socket::remove_listener(Listeners Extras::*list, std::optional<ListenerId> id) {
  if (!x_) return;
  (x_.get()->*list).change([id](auto& l) {
    if (!id)
      l.clear();
    else
      std::erase_if(l, [id](const auto& e) { return e.first == *id; });
  });
  outgoing_listeners_ = !x_->any_outgoing.empty();
}
Socket::ListenerId Socket::on_any(AnyListener h) {
  return add_listener(&Extras::any, without_ack(std::move(h)), false);
}
Socket::ListenerId Socket::on_any(AnyAckListener h) {
  return add_listener(&Extras::any, std::move(h), false);
}
Socket::ListenerId Socket::prepend_any(AnyListener h) {
  return add_listener(&Extras::any, without_ack(std::move(h)), true);
}
Socket::ListenerId Socket::prepend_any(AnyAckListener h) {
  return add_listener(&Extras::any, std::move(h), true);
}
void Socket::off_any(ListenerId id) {
  remove_listener(&Extras::any, id);
}
void Socket::off_any() {
  remove_listener(&Extras::any, std::nullopt);
}
Socket::ListenerId Socket::on_any_outgoing(AnyListener h) {
  return add_listener(&Extras::any_outgoing, without_ack(std::move(h)), false);
}
Socket::ListenerId Socket::prepend_any_outgoing(AnyListener h) {
  return add_listener(&Extras::any_outgoing, without_ack(std::move(h)), true);
}
void Socket::off_any_outgoing(ListenerId id) {
  remove_listener(&Extras::any_outgoing, id);
}
void Socket::off_any_outgoing() {
  remove_listener(&Extras::any_outgoing, std::nullopt);
}

void Socket::notify_outgoing(const std::string& event, const Args& args) {
  if (!has_outgoing_listeners()) return;
  // (The emit's arguments checked before its listeners hear it: event_packet, after this, throws
  // for placeholders that name binaries the args do not carry, and the listeners heard of an
  // emit never sent; before 2026-12-05, found by a review. With listeners only: checked twice.)
  check_attachments(args);
  auto self = shared_from_this();
  call_each(x_->any_outgoing.snapshot(), "outgoing listener", id_,
            [&](const auto& l) { (*l.second)(self, event, args, Ack{}); });
}

// A broadcast's packet as its listeners see it: decoded back into the event and its arguments
// (only for a socket that has such listeners).
void Socket::notify_outgoing(const EncodedPacket& p) {
  if (!has_outgoing_listeners()) return;
  std::string_view text = p.frame->payload();
  if (text.empty()) return;
  text.remove_prefix(1);  // the Engine.IO message type
  // (The server's own frame: not a client's bounds. A broadcast with more than 64 binaries, or
  // nested deeper than 32, was not told to the listeners before 2026-12-03. One nested deeper than
  // 1,024, or a binary one with an argument nested deeper than 1,000 (check_attachments, below),
  // still is not.)
  Decoder d(DecoderLimits{.max_attachments = std::numeric_limits<std::size_t>::max(),
                          .max_attachment_bytes = std::numeric_limits<std::size_t>::max(),
                          .max_depth = 1024});
  Packet out;
  Decoder::Status st = d.feed_text(text, out);
  for (std::size_t i = 0; st == Decoder::Status::need_more && i < p.attachments.size(); ++i)
    st = d.feed_binary(std::string(p.attachments[i]->payload()), out);
  if (st != Decoder::Status::packet || !out.data || !out.data->is_array() ||
      out.data->get_array().empty())
    return;
  json::array values = std::move(out.data->get_array());
  json::value name = std::move(values[0]);
  values.erase(values.begin());
  Args args(std::move(values), out.attachments);
  // Placeholders that check_attachments refuses (nested past its 1,000 levels, which the decoder
  // above takes up to 1,024): not told. Such a frame is not this server's (a record another
  // process wrote into the ring), and the check threw out of the delivery, through the worker's
  // read of the ring, and ended the worker (a bug hunt, 2026-12-06).
  if (!args.binaries.empty()) {
    try {
      check_attachments(args);
    } catch (const std::invalid_argument&) {
      return;
    }
  }
  notify_outgoing(event_name(name), args);
}

void Socket::on_upgrade(std::function<void(const SocketPtr&)> h) {
  if (gone_) return;
  x().on_upgrade.push_back(std::make_shared<const decltype(h)>(std::move(h)));
}
void Socket::upgraded() {
  if (!x_ || x_->on_upgrade.empty()) return;
  auto self = shared_from_this();
  call_each(x_->on_upgrade, "upgrade handler", id_, [&](const auto& h) { (*h)(self); });
}

void Socket::on_disconnecting(std::function<void(const SocketPtr&, const std::string&)> h) {
  if (gone_) return;
  x().on_disconnecting.push_back(std::move(h));
}
void Socket::on_disconnect(std::function<void(const SocketPtr&, const std::string&)> h) {
  if (gone_) return;  // (as socket.io: a socket disconnected already says it no more)
  x().on_disconnect.push_back(std::move(h));
}
std::string_view Socket::transport() const noexcept {
  const engineio::Socket* c = conn();
  if (c == nullptr) return {};
  return c->transport() == engineio::TransportKind::websocket ? "websocket" : "polling";
}

bool Socket::early() const noexcept {
  return !admitted_ && !gone_ && !nsp_->server().options().connection_state_recovery &&
         !client_.expired();
}
// Every emit_with_ack still waiting learns that no ack will come ("socket has been
// disconnected"): now (a close), or on the next turn (a refused socket: never within the call
// that refused it).
void Socket::settle_pending_acks(bool next_turn) {
  if (!x_ || x_->acks.empty()) return;
  decltype(Extras::acks) pending;
  pending.swap(x_->acks);
  x_->broadcast_due.clear();
  for (auto& [id, a] : pending)
    if (a->timer) a->timer->cancel();
  auto settle = [pending = std::move(pending)] {
    for (auto& [id, a] : pending) try {
        a->settle(std::string("socket has been disconnected"), Args{});
      } catch (...) {
        std::fprintf(stderr, "shmio: ack callback threw: %s\n", thrown_what().c_str());
      }
  };
  if (next_turn)
    net::post(nsp_->server().io(), std::move(settle));
  else
    settle();
}

bool Socket::kept_when_away() const noexcept {
  // (Only while its session may be recovered: left for a recoverable reason, within the window.
  // Past it, or closed for good, an emit says false, as the header promises for a disconnected
  // socket: a loop stopping on it would otherwise publish for ever.)
  return admitted_ && !connected_ && std::chrono::steady_clock::now() < away_until_;
}

// Disconnected, or volatile and the connection cannot take it now.
bool Socket::Emitter::dropped() const noexcept {
  return (!s_->connected_ && !s_->early() && (volatile_flag_ || !s_->kept_when_away())) ||
         (volatile_flag_ && (s_->conn_raw_ == nullptr || !s_->conn_raw_->writable()));
}
// (A reserved event name throws before anything is told or sent, connected or not:
// check_event_name below, before the listeners; event_packet checks again, for every other path.)
bool Socket::Emitter::emit(const std::string& event, Args args) const {
  check_event_name(event);
  if (dropped()) return false;
  // (Volatile: never kept for a replay, so sent directly, after what was emitted before it.)
  if (!volatile_flag_) return s_->send_event(event, std::move(args), compress_);
  s_->notify_outgoing(event, args);
  s_->send_after_broadcasts(event_packet(s_->nsp_->name(), event, std::move(args)), compress_);
  return true;
}
bool Socket::Emitter::emit_with_ack(
    const std::string& event, Args args,
    std::function<void(std::optional<std::string>, Args)> callback) const {
  check_event_name(event);
  if (!s_->connected_ && !s_->early()) return s_->refuse_ack(std::move(callback));
  // Volatile and the connection cannot take it now: not sent, and its callback told at the
  // timeout, as socket.io's timer tells it (before 2026-12-03 it was never called).
  const bool send = !dropped();
  if (send) s_->notify_outgoing(event, args);
  // (A listener that disconnected the socket: its callback told so, as before one; see
  // Socket::emit_with_ack.)
  if (send && !s_->connected_ && !s_->early()) return s_->refuse_ack(std::move(callback));
  s_->emit_packet(event_packet(s_->nsp_->name(), event, std::move(args)), timeout_,
                  std::move(callback), compress_, send);
  return send;
}

void Socket::touch_data() {
  // (Marked only when the adapter is told: data reached before the socket is admitted, or without
  // recovery, must not keep a later change from being told.)
  if (!connected_ || pid_.empty() || !nsp_->server().options().connection_state_recovery) return;
  data_touched_ = true;
  nsp_->adapter().data_changed(id_);
}

bool Socket::connection_recoverable() const {
  auto c = client_.lock();
  if (!c) return false;
  return c->all_sockets([](const Socket& s) {
    return s.connected() && !s.pid().empty() && s.offset_sent() &&
           s.nsp_->adapter().session_kept(s.id());
  });
}

void Socket::drop_connection() {
  auto c = client_.lock();
  if (!c) return;
  // The sockets are closed (and their sessions saved, for recovery) before the connection, so
  // that the client, which reconnects as soon as it sees the close, finds its session saved
  // wherever it lands — not still connected here.
  c->close("forced close");
}

void Socket::send_packet(Packet p, bool compress) {
  if (auto c = client_.lock()) {
    const std::size_t bytes = c->send(p, compress);
    if (p.type == PacketType::event || p.type == PacketType::binary_event) {
      ++nsp_->stats_.messages_out;
      nsp_->stats_.bytes_out += bytes;
    }
  }
}

void Socket::send_after_broadcasts(Packet p, bool compress) {
  if (!nsp_->adapter().broadcasts_pending()) return send_packet(std::move(p), compress);
  // (Held: sent only if the socket is still there then, as at the emit. One disconnected
  // meanwhile, its DISCONNECT written, would have had it after that, and socket.io-client keeps
  // what comes for a namespace it left for its next connect; its pending acks were told at the
  // disconnect. Found by a review of the hold, 2026-12-05.)
  nsp_->adapter().after_broadcasts([s = shared_from_this(), q = std::move(p), compress]() mutable {
    if (s->connected_ || s->early()) s->send_packet(std::move(q), compress);
  });
}

bool Socket::emit(const std::string& event, Args args) {
  check_event_name(event);
  if (!connected_ && !early() && !kept_when_away()) return false;
  return send_event(event, std::move(args), true);
}

// With connection state recovery on, an event to this socket alone goes as a broadcast to its own
// room, as socket.io's socket.emit then goes through its adapter's broadcast: it carries an
// offset and is kept for a replay (in a cluster it goes through the ring, as socket.io's goes to
// every server). Before 2026-12-03 it was sent directly, without an offset — and socket.io-client
// takes the last argument of any event, when a string, for its offset: a direct emit ending in a
// string became the client's offset, which named nothing at its next reconnect (a fresh session,
// whatever it missed lost), and the emit itself was not replayed.
bool Socket::send_event(const std::string& event, Args args, bool compress) {
  if (nsp_->server().options().connection_state_recovery) {
    BroadcastOperator(*nsp_, {}).to(id_).compress(compress).emit(event, std::move(args));
    return true;
  }
  notify_outgoing(event, args);
  send_packet(event_packet(nsp_->name(), event, std::move(args)), compress);
  return true;
}

// An ack asked of a socket that is gone: its callback is told so on the next turn (never from
// within the emit), as it is told when the socket disconnects with the ack pending. Before
// 2026-12-03 it was never called.
bool Socket::refuse_ack(std::function<void(std::optional<std::string>, Args)> callback) {
  net::post(nsp_->server().io(), [cb = std::move(callback)] {
    try {
      cb(std::string("socket has been disconnected"), Args{});
    } catch (...) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", thrown_what().c_str());
    }
  });
  return false;
}

bool Socket::emit_with_ack(const std::string& event, Args args, std::chrono::milliseconds timeout,
                           std::function<void(std::optional<std::string>, Args)> callback) {
  check_event_name(event);
  if (!connected_ && !early()) return refuse_ack(std::move(callback));
  notify_outgoing(event, args);
  // An outgoing listener that disconnected the socket: its callback is told "socket has been
  // disconnected" and nothing is sent (before 2026-12-06 the ack was registered on the closed
  // socket, its extras made again, the EVENT written after the DISCONNECT, and the callback told
  // "operation has timed out" at the timeout; a review).
  if (!connected_ && !early()) return refuse_ack(std::move(callback));
  return emit_packet(event_packet(nsp_->name(), event, std::move(args)), timeout,
                     std::move(callback), true);
}

bool Socket::emit_packet(Packet p, std::chrono::milliseconds timeout,
                         std::function<void(std::optional<std::string>, Args)> callback,
                         bool compress, bool send) {
  // (An id still pending on this socket is passed over — ids wrap below 2^31, so an ack left
  // unanswered for that many of its worker's ids would otherwise be replaced, its callback lost —
  // up to 16 times; then that entry is told it was evicted, as a broadcast's ack past a socket's
  // 1,024 is.)
  std::uint64_t id = nsp_->next_ack_id();
  for (int tries = 0; x_ && x_->acks.count(id) != 0; ++tries) {
    if (tries == 16) {
      auto same = x_->acks.find(id);
      PendingAck::evict(nsp_->server().io(), std::move(same->second));
      x_->acks.erase(same);
      break;
    }
    id = nsp_->next_ack_id();
  }
  p.id = id;
  auto pending = std::make_shared<PendingAck>();
  pending->callback = std::move(callback);
  pending->timer = std::make_unique<net::steady_timer>(nsp_->server().io());
  pending->timer->expires_after(detail::timer_timeout(timeout));
  // (The entry its own: a timer cancelled after it expired still runs its handler, which found by
  // the id alone an entry given the same id since — an evicted ack's timer timed out its
  // successor; found by a review.)
  pending->timer->async_wait([w = weak_from_this(), id, mine = std::weak_ptr<PendingAck>(pending)](
                                 const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self) return;
    if (!self->x_) return;
    auto& acks = self->x_->acks;
    auto it = acks.find(id);
    if (it == acks.end() || it->second != mine.lock()) return;
    auto cb = std::move(it->second->callback);
    acks.erase(it);
    try {
      cb(std::string("operation has timed out"), Args{});
    } catch (...) {
      // (As when it throws on the answer: the socket is disconnected. It was left connected
      // here, so the same callback's failure had two outcomes by when the client answered.)
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", thrown_what().c_str());
      if (self->connected()) self->disconnect(false);
    }
  });
  x().acks[id] = std::move(pending);
  if (send) send_after_broadcasts(std::move(p), compress);
  return true;
}

BroadcastOperator Socket::to(const Room& room) {
  return broadcast().to(room);
}
BroadcastOperator Socket::except(const Room& room) {
  return broadcast().except(room);
}
BroadcastOperator Socket::broadcast() {
  BroadcastOptions o;
  o.except.insert(id_);  // every socket is in its own room: excluding it excludes the sender
  return BroadcastOperator(*nsp_, std::move(o));
}

void Socket::disconnect(bool close) {
  if (!connected_) return;
  auto c = client_.lock();
  if (close && c) {
    c->disconnect_everything();
    return;
  }
  Packet p;
  p.type = PacketType::disconnect;
  p.nsp = nsp_->name();
  send_packet(std::move(p));
  if (c) c->remove(nsp_->name());
  closed("server namespace disconnect");
}

void Socket::on_packet(const Packet& p) {
  switch (p.type) {
    case PacketType::event:
    case PacketType::binary_event: {
      json::array values = p.data->get_array();
      json::value name = std::move(values[0]);
      values.erase(values.begin());
      const std::string event = event_name(name);
      Ack ack;
      if (p.id) {
        auto done = std::make_shared<bool>(false);
        // (It may be called from another thread: detail::from_any_thread.)
        // (Its reply checked where it is called, as an emit's: a throw from a posted call would
        // leave the server's loop.)
        ack = [send = detail::from_any_thread(
                   nsp_->server().loop_.h, [w = weak_from_this(), id = *p.id, done](Args reply) {
                     auto self = w.lock();
                     if (!self || *done || !self->connected_) return;
                     *done = true;
                     Packet a;
                     a.type = reply.binaries.empty() ? PacketType::ack : PacketType::binary_ack;
                     a.nsp = self->nsp_->name();
                     a.id = id;
                     a.data = std::move(reply.values);
                     a.attachments = std::move(reply.binaries);
                     self->send_packet(std::move(a));
                   })](Args reply) {
          check_attachments(reply);
          send(std::move(reply));
        };
      }
      dispatch(event, Args(std::move(values), p.attachments), std::move(ack));
      break;
    }
    case PacketType::ack:
    case PacketType::binary_ack: {
      if (!x_) return;  // no ack expected
      auto it = x_->acks.find(p.id.value_or(~0ULL));
      if (it == x_->acks.end()) return;  // late or unknown ack: ignored, as in the reference
      auto pending = std::move(it->second);
      x_->acks.erase(it);
      if (pending->timer) pending->timer->cancel();
      try {
        pending->settle(std::nullopt, Args(p.data->get_array(), p.attachments));
      } catch (...) {
        std::fprintf(stderr, "shmio: ack callback threw: %s\n", thrown_what().c_str());
        disconnect(false);
      }
      break;
    }
    case PacketType::disconnect:
      if (auto c = client_.lock()) c->remove(nsp_->name());
      closed("client namespace disconnect");
      break;
    default:
      break;  // CONNECT is the client's; CONNECT_ERROR is never sent by clients
  }
}

void Socket::use(EventMiddleware m) {
  if (gone_ || !m) return;
  use(EventMiddlewareWithAck(
      [m = std::move(m)](const SocketPtr& s, const std::string& event, Args& args, const Ack&,
                         std::function<void(std::optional<std::string>)> next) {
        m(s, event, args, std::move(next));
      }));
}
void Socket::use(EventMiddlewareWithAck m) {
  if (gone_) return;
  auto fn = std::make_shared<const EventMiddlewareWithAck>(std::move(m));
  x().use.change([&](auto& l) { l.push_back(std::move(fn)); });
}
void Socket::on_error(std::function<void(const SocketPtr&, const std::string&)> h) {
  if (gone_) return;
  x().on_error.push_back(std::make_shared<const decltype(h)>(std::move(h)));
}

void Socket::error(const std::string& message) {
  if (!x_) return;
  auto self = shared_from_this();
  call_each(x_->on_error, "error handler", id_, [&](const auto& h) { (*h)(self, message); });
}

// One event on its way through the socket's middleware.
struct Socket::Chain {
  SocketPtr self;
  std::string event;
  Args args;
  Ack ack;
  // The list as it was when the event came (it may change meanwhile), by pointer: no function
  // copied per event, and a mutable middleware keeps its state (before 2026-12-03 copies of the
  // functions: a counter in one never passed 1).
  decltype(Extras::use)::Snapshot fns;
  std::size_t next = 0;
};

void Socket::run_middleware(const std::shared_ptr<Chain>& c) {
  if (!connected_) return;  // disconnected meanwhile: dropped
  if (c->next == c->fns->size())
    return run_handlers(c->event, std::move(c->args), std::move(c->ack));
  const EventMiddlewareWithAck& fn = *(*c->fns)[c->next++];
  auto called = std::make_shared<bool>(false);
  // (`next` may be called from another thread: detail::from_any_thread.)
  auto next =
      detail::from_any_thread(nsp_->server().loop_.h, [c, called](std::optional<std::string> err) {
        if (*called) return;  // next called twice: the second is ignored
        *called = true;
        if (err) return c->self->error(*err);
        c->self->run_middleware(c);
      });
  try {
    fn(c->self, c->event, c->args, c->ack, next);
  } catch (...) {
    if (*called)  // (after next(): the event went on; said, not dropped without a word)
      std::fprintf(stderr, "shmio: event middleware threw after calling next(): %s\n",
                   thrown_what().c_str());
    else
      next(std::string(thrown_what().c_str()));
  }
}

void Socket::dispatch(const std::string& event, Args args, Ack ack) {
  auto self = shared_from_this();
  try {
    // The listeners as they are now (socket.io's _anyListeners.slice()): one may add or remove
    // listeners (itself, a one-shot) or disconnect the socket; one removed meanwhile still runs
    // for this event, as there. (Indexed live before 2026-12-03: a listener that removed itself
    // made the next one skipped, one that prepended another ran again, for ever if it always did.)
    // (Once one has disconnected the socket, the rest do not run: their registrations on a
    // closed socket would stay, holding what they capture.)
    if (x_ && !x_->any.empty()) {
      const auto listeners = x_->any.snapshot();  // (held: the list may change meanwhile)
      for (const auto& l : *listeners) {
        if (!connected_) break;
        (*l.second)(self, event, args, ack);
      }
    }
  } catch (...) {
    std::fprintf(stderr, "shmio: any-listener for '%s' on socket %s threw: %s\n",
                 log_text(event).c_str(), id_.c_str(), thrown_what().c_str());
    disconnect(false);
    return;
  }
  if (x_ && !x_->use.empty()) {
    run_middleware(std::make_shared<Chain>(
        Chain{self, event, std::move(args), std::move(ack), x_->use.snapshot(), 0}));
    return;
  }
  run_handlers(event, std::move(args), std::move(ack));
}

void Socket::run_handlers(const std::string& event, Args args, Ack ack) {
  // Disconnected meanwhile (by an any-listener or a middleware of its own): the event is
  // dropped, as socket.io drops a packet received after disconnection.
  if (!connected_) return;
  auto self = shared_from_this();
  try {
    // The handlers as they are now, by pointer, not copies of the functions (a mutable handler
    // keeps its state, and no function is copied per event): the socket's own are held while
    // they run (one may remove itself or the others), the namespace's are never removed.
    // (The namespace's own by an aliasing pointer, which owns nothing: one list, no count.)
    std::vector<std::shared_ptr<const EventHandler>> run;
    if (x_) {
      auto [first, last] = x_->handlers.equal_range(event);
      for (auto it = first; it != last;) {
        run.push_back(it->second.f);
        it = it->second.once ? x_->handlers.erase(it) : std::next(it);
      }
    }
    auto [nfirst, nlast] = nsp_->events_.equal_range(event);
    for (auto it = nfirst; it != nlast; ++it)
      run.emplace_back(std::shared_ptr<const EventHandler>(), &it->second);
    for (std::size_t i = 0; i < run.size(); ++i)
      (*run[i])(self, i + 1 == run.size() ? std::move(args) : args, ack);
  } catch (...) {
    std::fprintf(stderr, "shmio: handler for '%s' on socket %s threw: %s\n",
                 log_text(event).c_str(), id_.c_str(), thrown_what().c_str());
    disconnect(false);
  }
}

// Only these reasons keep a session for connection state recovery (as in socket.io). (Constant
// data, not a std::set: a Server that is itself a global may close its sockets at exit after a
// set of this file's had been destroyed.)
static bool recoverable(std::string_view reason) noexcept {
  static constexpr std::string_view kRecoverable[] = {
      "transport error", "transport close",      "forced close",
      "ping timeout",    "server shutting down", "forced server close"};
  return std::find(std::begin(kRecoverable), std::end(kRecoverable), reason) !=
         std::end(kRecoverable);
}

void Socket::closed(const std::string& reason) {
  if (!connected_) return;
  connected_ = false;
  if (const auto& r = nsp_->server().options().connection_state_recovery;
      r && !pid_.empty() && recoverable(reason))
    away_until_ = std::chrono::steady_clock::now() + r->max_disconnection_duration;
  auto self = shared_from_this();
  settle_pending_acks(false);  // (pending emit_with_ack callbacks: no ack will come)
  // "disconnecting": the socket still in its rooms.
  if (x_ && !x_->on_disconnecting.empty()) {
    call_each(std::exchange(x_->on_disconnecting, {}), "disconnecting handler", id_,
              [&](const auto& h) { h(self, reason); });
  }
  if (!pid_.empty() && recoverable(reason)) nsp_->persist(*this);
  if (!pid_.empty() && !recoverable(reason)) nsp_->adapter().forget_session(pid_);
  // (Only now: a room a "disconnecting" handler joins is kept until here and saved for recovery,
  // as in socket.io.)
  gone_ = true;
  nsp_->adapter().del_all(id_);
  nsp_->remove(id_);
  // Handlers often capture their socket: dropping them (after on_disconnect) breaks those cycles.
  decltype(Extras::on_disconnect) disconnect_handlers;
  if (x_) {
    disconnect_handlers.swap(x_->on_disconnect);
    x_.reset();  // its handlers with it (a running dispatch() holds copies and checks x_)
    outgoing_listeners_ = false;
  }
  for (auto& h : disconnect_handlers) {
    try {
      h(self, reason);
    } catch (...) {
      std::fprintf(stderr, "shmio: disconnect handler on socket %s threw: %s\n", id_.c_str(),
                   thrown_what().c_str());
    }
  }
}
}  // namespace shmio::socketio
