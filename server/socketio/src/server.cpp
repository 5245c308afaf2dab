// The Socket.IO server: clients (one per Engine.IO session), namespaces, sockets, acks, rooms.
// No Beast here: the transports are engineio::Server's.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

namespace {

// Calls `call(h)` for each handler of a copy of `handlers` (a handler may add or remove handlers,
// or disconnect its socket); one that throws is said on stderr ("shmio: <what> on socket <id>
// threw: ...") and the others still run.
template <class List, class Call>
void call_each(const List& handlers, const char* what, const std::string& id, Call&& call) {
  const List copy = handlers;
  for (const auto& h : copy) {
    try {
      call(h);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: %s on socket %s threw: %s\n", what, id.c_str(), e.what());
    }
  }
}

std::string random_id() {
  return engineio::random_id();
}

// A socket id or recovery pid: 15 characters, 90 random bits (engineio::random_id): short enough
// for std::string's inline buffer, so a socket and the maps keyed by its id allocate nothing for
// it. (socket.io's ids are 20 characters; nothing in the protocol fixes their length.)
std::string socket_id() {
  return engineio::random_id(15);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Packet event_packet(const std::string& nsp, const std::string& event, Args args) {
  Packet p;
  p.type = args.binaries.empty() ? PacketType::event : PacketType::binary_event;
  p.nsp = nsp;
  json::array data;
  data.reserve(args.values.size() + 1);
  data.emplace_back(event);
  for (auto& v : args.values) data.push_back(std::move(v));
  p.data = std::move(data);
  p.attachments = std::move(args.binaries);
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// One Engine.IO session and the namespaces it joined.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Server& srv, engineio::SocketPtr conn) : srv_(srv), conn_(std::move(conn)) {}

  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
  std::size_t slot = kNoSlot;  // its index in Server::clients_ while it is open

  void start() {
    connect_timer_ = std::make_unique<net::steady_timer>(srv_.io());
    connect_timer_->expires_after(srv_.options().connect_timeout);
    connect_timer_->async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || !self->sockets_.empty()) return;
      self->conn_->close();  // no namespace joined in time
    });
  }

  const engineio::SocketPtr& conn() const noexcept { return conn_; }

  void on_message(engineio::Packet m) {
    Packet p;
    const Decoder::Status st =
        m.binary ? decoder_.feed_binary(std::move(m.data), p) : decoder_.feed_text(m.data, p);
    if (st == Decoder::Status::need_more) return;
    if (st == Decoder::Status::error) {
      // An undecodable Socket.IO packet: the connection is closed with "parse error", the
      // reason socket.io documents for an invalid packet (its 4.8 code reports "forced close"
      // here: docs/server.md). Not a reason that keeps a session for recovery.
      close("parse error");
      return;
    }
    if (p.type == PacketType::connect_error) return invalid_state();  // a server-only packet
    if (p.type == PacketType::connect) {
      if (find(p.nsp) != sockets_.end() ||
          std::find(connecting_.begin(), connecting_.end(), p.nsp) != connecting_.end()) {
        // A second CONNECT for a namespace joined or being joined: invalid state (as in the
        // reference), and it must not leave a second socket behind.
        return invalid_state();
      }
      Namespace* nsp = srv_.find(p.nsp);
      if (nsp == nullptr) {
        Packet err;
        err.type = PacketType::connect_error;
        err.nsp = p.nsp;
        err.data = json::object{{"message", "Invalid namespace"}};
        send(err);
        return;
      }
      json::object auth = p.data && p.data->is_object() ? p.data->get_object() : json::object{};
      connecting_.push_back(p.nsp);
      nsp->connect(shared_from_this(), std::move(auth));
      return;
    }
    auto it = find(p.nsp);
    if (it == sockets_.end()) {
      // A packet for a namespace this client has not joined: invalid state, as in the reference.
      return invalid_state();
    }
    SocketPtr s = *it;  // keep alive while it handles the packet
    s->on_packet(p);
  }

  // The connection moved to WebSocket: each socket's upgrade handlers.
  void upgraded() {
    auto sockets = sockets_;
    for (auto& s : sockets) s->upgraded();
  }

  // A packet that is valid but not now (the reference's "invalid state"): the server closes the
  // connection, "forced server close".
  void invalid_state() { close("forced server close"); }

  void on_close(engineio::CloseReason r) {
    stop_connect_timer();
    // The Engine.IO reason is the socket's (socket.io names them alike).
    close_all(r == engineio::CloseReason::none ? "transport close" : engineio::to_string(r));
  }

  // Returns the payload bytes sent (the packet's text, then its attachments).
  std::size_t send(const Packet& p, bool compress = true) {
    engineio::Packet m = engineio::Packet::text(engineio::PacketType::message, encode(p));
    m.compress = compress;
    std::size_t bytes = m.data.size();
    conn_->send(std::move(m));
    for (const Binary& b : p.attachments) {
      bytes += b->size();
      conn_->send_frame(engineio::Frame::make(engineio::Frame::Kind::binary, *b, compress));
    }
    return bytes;
  }
  void add(const std::string& nsp, SocketPtr s) {
    refused(nsp);
    if (auto it = find(nsp); it != sockets_.end()) {
      *it = std::move(s);
    } else {
      sockets_.push_back(std::move(s));
    }
    stop_connect_timer();
  }
  void refused(const std::string& nsp) {
    auto it = std::find(connecting_.begin(), connecting_.end(), nsp);
    if (it != connecting_.end()) connecting_.erase(it);
    if (connecting_.empty()) connecting_.shrink_to_fit();
  }
  void remove(const std::string& nsp) {
    if (auto it = find(nsp); it != sockets_.end()) sockets_.erase(it);
  }
  // Every socket closed for `reason` (their sessions saved for recovery where it allows), then
  // the connection: a client that reconnects at once finds its sessions saved.
  void close(const std::string& reason) {
    close_all(reason);
    conn_->close();
  }
  void close_all(const std::string& reason) {
    auto sockets = std::move(sockets_);
    sockets_.clear();
    for (auto& s : sockets) s->closed(reason);
  }
  // socket.disconnect(true): every namespace, then the connection.
  void disconnect_everything() {
    auto sockets = sockets_;
    for (auto& s : sockets) s->disconnect(false);
    conn_->close();
  }

 private:
  Server& srv_;
  engineio::SocketPtr conn_;
  Decoder decoder_;
  // Only until the first namespace is joined (then released: an idle client holds no timer).
  std::unique_ptr<net::steady_timer> connect_timer_;
  void stop_connect_timer() {
    if (!connect_timer_) return;
    connect_timer_->cancel();  // its handler sees operation_aborted (it owns nothing of ours)
    connect_timer_.reset();
  }
  // Its socket in each namespace joined, in joining order (a client joins few: a vector of
  // handles is 16 bytes each where a map keyed by name took a 96-byte node).
  std::vector<SocketPtr> sockets_;
  std::vector<SocketPtr>::iterator find(const std::string& nsp) {
    return std::find_if(sockets_.begin(), sockets_.end(),
                        [&](const SocketPtr& s) { return s->nsp().name() == nsp; });
  }
  std::vector<std::string> connecting_;  // CONNECTs whose middleware has not finished
};

// ---------------------------------------------------------------------------------------------
AckCollector::AckCollector(net::io_context& io, AckCallback done)
    : done_cb_(std::move(done)), timer_(std::make_unique<net::steady_timer>(io)) {}

void AckCollector::start(std::chrono::milliseconds timeout) {
  timer_->expires_after(timeout);
  // The pending wait keeps the collector alive until it is done (finish() cancels it).
  timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->finish(std::string("operation has timed out"));
  });
  check();
}

void AckCollector::add_pending_source(std::uint64_t source) {
  sources_.try_emplace(source);
}

void AckCollector::expect(std::uint64_t source, std::size_t answers) {
  Source& s = sources_[source];
  s.counted = true;
  s.expected += answers;
  check();
}

void AckCollector::answer(std::uint64_t source, Args args) {
  if (done_) return;
  auto it = sources_.find(source);
  if (it == sources_.end()) return;
  ++it->second.received;
  responses_.push_back(std::move(args));
  check();
}

void AckCollector::lose(std::uint64_t source) {
  auto it = sources_.find(source);
  if (it == sources_.end() || done_) return;
  ++it->second.lost;
  missing_ = true;
  check();
}

void AckCollector::fail_source(std::uint64_t source, bool missing_answers) {
  auto it = sources_.find(source);
  if (it == sources_.end() || done_) return;
  if (missing_answers && (!it->second.counted || it->second.received < it->second.expected))
    missing_ = true;
  sources_.erase(it);
  check();
}

void AckCollector::check() {
  if (done_ || !timer_) return;
  for (const auto& [id, s] : sources_)
    if (!s.counted || s.received + s.lost < s.expected) return;
  // Every source answered in full (or dropped out): done now, not at the timeout.
  finish(missing_ ? std::optional<std::string>("operation has timed out") : std::nullopt);
}

void AckCollector::finish(std::optional<std::string> error) {
  if (done_) return;
  done_ = true;
  timer_->cancel();
  auto cb = std::move(done_cb_);
  try {
    cb(std::move(error), std::move(responses_));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
  }
}

bool reaches(const BroadcastOptions& opts, const std::set<Room>& rooms) {
  const bool included =
      opts.rooms.empty() || std::any_of(rooms.begin(), rooms.end(),
                                        [&](const Room& r) { return opts.rooms.count(r) != 0; });
  return included && std::none_of(rooms.begin(), rooms.end(),
                                  [&](const Room& r) { return opts.except.count(r) != 0; });
}

EncodedPacket EncodedPacket::from(std::string_view eio_text, const std::vector<Binary>& attachments,
                                  bool compress) {
  using engineio::Frame;
  EncodedPacket e;
  e.frame = Frame::make(Frame::Kind::text, eio_text, compress);
  e.attachments.reserve(attachments.size());
  for (const Binary& b : attachments)
    e.attachments.push_back(Frame::make(Frame::Kind::binary, *b, compress));
  return e;
}

std::size_t EncodedPacket::bytes() const noexcept {
  std::size_t n = frame ? frame->payload().size() : 0;
  for (const auto& a : attachments) n += a->payload().size();
  return n;
}

EncodedPacket encode_shared(const Packet& p, bool compress) {
  return EncodedPacket::from("4" + encode(p), p.attachments, compress);
}

std::size_t Adapter::broadcast(Packet p, const BroadcastOptions& opts) {
  return nsp_->deliver_local(encode_shared(p, opts.flags.compress), opts);
}

void Adapter::broadcast_with_ack(Packet p, const BroadcastOptions& opts,
                                 const std::shared_ptr<AckCollector>& collector) {
  const std::uint64_t id = *p.id;
  ack_locally(encode_shared(p, opts.flags.compress), opts, id, collector);
}

std::size_t Adapter::room_count() const {
  std::size_t n = 0;
  for (const Room& r : rooms())
    if (nsp_->find_socket(r) == nullptr) ++n;
  return n;
}

void Adapter::for_each_target(const BroadcastOptions& opts, TargetFn f) {
  for (const SocketId& id : targets(opts))
    if (Socket* s = nsp_->find_socket(id); s != nullptr && s->connected()) f(*s);
}

void Adapter::ack_locally(const EncodedPacket& e, const BroadcastOptions& opts, std::uint64_t id,
                          const std::shared_ptr<AckCollector>& collector) {
  collector->add_pending_source(0);
  std::weak_ptr<AckCollector> w = collector;
  const std::size_t n = nsp_->deliver_local_with_ack(
      e, opts, id,
      [w](Args a) {
        if (auto c = w.lock()) c->answer(0, std::move(a));
      },
      [w] {
        // A target disconnected before answering: its answer will never come.
        if (auto c = w.lock()) c->lose(0);
      });
  collector->expect(0, n);
}

void Adapter::add_sockets(const BroadcastOptions& opts, const std::set<Room>& rooms) {
  for (const SocketId& id : targets(opts))
    if (nsp_->socket(id)) add_all(id, rooms);
}

void Adapter::del_sockets(const BroadcastOptions& opts, const std::set<Room>& rooms) {
  for (const SocketId& id : targets(opts))
    if (nsp_->socket(id))
      for (const Room& r : rooms) del(id, r);
}

void Adapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  for (const SocketId& id : targets(opts))
    if (SocketPtr s = nsp_->socket(id)) s->disconnect(close);
}

void Adapter::fetch_sockets(const BroadcastOptions& opts,
                            std::function<void(std::vector<RemoteSocket>)> done) {
  std::vector<RemoteSocket> out;
  for (const SocketId& id : targets(opts))
    if (SocketPtr s = nsp_->socket(id))
      out.emplace_back(*nsp_, id, s->handshake(), s->rooms(), s->data());
  done(std::move(out));
}

void Adapter::server_side_emit(const std::string&, Args,
                               const std::shared_ptr<AckCollector>& collector) {
  if (collector) collector->start(std::chrono::milliseconds(0));  // no other server: done
}

// ---------------------------------------------------------------------------------------------
void RemoteSocket::emit(const std::string& event, Args args) const {
  BroadcastOperator(*nsp_, {}).to(id_).emit(event, std::move(args));
}
void RemoteSocket::join(const Room& room) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_join(room);
}
void RemoteSocket::leave(const Room& room) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_leave(room);
}
void RemoteSocket::disconnect(bool close) const {
  BroadcastOperator(*nsp_, {}).to(id_).disconnect_sockets(close);
}

// ---------------------------------------------------------------------------------------------
InMemoryAdapter::InMemoryAdapter(Namespace& nsp)
    : Adapter(nsp), offset_prefix_(random_id().substr(0, 8) + "-") {}

void InMemoryAdapter::add_all(const SocketId& id, const std::set<Room>& rooms) {
  auto [pos, added] = sids_.try_emplace(id);
  Member& m = pos->second;
  if (added) m.id = &pos->first;
  if (m.socket == nullptr) m.socket = nsp_->find_socket(id);  // admitted: its handle, once
  static const SocketId kNone;
  for (const Room& r : rooms) {
    if (r == id) {  // its own room: a flag, not an entry in rooms_
      if (!m.own_room && room_events()) {
        notify(RoomEvent::create_room, r, kNone);
        notify(RoomEvent::join_room, r, id);
      }
      m.own_room = true;
      continue;
    }
    auto it = std::lower_bound(m.rooms.begin(), m.rooms.end(), r, RoomLess());
    if (it != m.rooms.end() && it->first == r) continue;
    auto [rit, created] = rooms_.try_emplace(r);
    std::vector<Member*>& members = rit->second;
    m.rooms.emplace(it, r, members.size());
    members.push_back(&m);
    if (room_events()) {
      if (created) notify(RoomEvent::create_room, r, kNone);
      notify(RoomEvent::join_room, r, id);
    }
  }
}

// Takes the member at `index` out of the room's array: the last one moves into its place.
void InMemoryAdapter::unlink(const Room& room, std::size_t index) {
  auto rit = rooms_.find(room);
  if (rit == rooms_.end()) return;
  std::vector<Member*>& members = rit->second;
  Member* last = members.back();
  members[index] = last;
  // The member taken out has already dropped the room from its own list (and may be `last`):
  // only an entry that exists is updated, never created.
  if (auto self = last->find_room(room); self != last->rooms.end()) self->second = index;
  members.pop_back();
  if (members.empty()) {
    rooms_.erase(rit);
    if (room_events()) notify(RoomEvent::delete_room, room, SocketId());
  }
}

void InMemoryAdapter::del(const SocketId& id, const Room& room) {
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  if (room == id) {
    if (it->second.own_room && room_events()) {
      notify(RoomEvent::leave_room, room, id);
      notify(RoomEvent::delete_room, room, SocketId());
    }
    it->second.own_room = false;
    return;
  }
  auto r = it->second.find_room(room);
  if (r == it->second.rooms.end()) return;
  const std::size_t index = r->second;
  it->second.rooms.erase(r);
  if (room_events()) notify(RoomEvent::leave_room, room, id);
  unlink(room, index);
}

void InMemoryAdapter::del_all(const SocketId& id) {
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  Member& m = it->second;
  while (!m.rooms.empty()) {
    const Room room = std::move(m.rooms.back().first);  // the last first: no element moves
    const std::size_t index = m.rooms.back().second;
    m.rooms.pop_back();
    if (room_events()) notify(RoomEvent::leave_room, room, id);
    unlink(room, index);
  }
  if (m.own_room && room_events()) {
    notify(RoomEvent::leave_room, id, id);
    notify(RoomEvent::delete_room, id, SocketId());
  }
  sids_.erase(it);
}

std::set<Room> InMemoryAdapter::socket_rooms(const SocketId& id) const {
  std::set<Room> out;
  if (auto it = sids_.find(id); it != sids_.end()) {
    for (const auto& [r, index] : it->second.rooms) out.insert(out.end(), r);
    if (it->second.own_room) out.insert(id);
  }
  return out;
}

// The member whose own room is `room` (a socket id), if it is in it.
InMemoryAdapter::Member* InMemoryAdapter::own_room_member(const Room& room) {
  auto it = sids_.find(room);
  return it != sids_.end() && it->second.own_room ? &it->second : nullptr;
}

std::vector<SocketId> InMemoryAdapter::targets(const BroadcastOptions& opts) const {
  auto* self = const_cast<InMemoryAdapter*>(this);  // own_room_member only looks
  std::unordered_set<const Member*> excluded;
  for (const Room& r : opts.except) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      excluded.insert(it->second.begin(), it->second.end());
    if (const Member* m = self->own_room_member(r)) excluded.insert(m);
  }
  std::vector<SocketId> out;
  if (opts.rooms.empty()) {
    for (const auto& [id, m] : sids_)
      if (excluded.count(&m) == 0) out.push_back(id);
    return out;
  }
  std::unordered_set<const Member*> seen;
  auto add = [&](const Member* m) {
    if (excluded.count(m) == 0 && seen.insert(m).second) out.push_back(*m->id);
  };
  for (const Room& r : opts.rooms) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      for (const Member* m : it->second) add(m);
    if (const Member* m = self->own_room_member(r)) add(m);
  }
  return out;
}

void InMemoryAdapter::for_each_target(const BroadcastOptions& opts, TargetFn f) {
  // One epoch per broadcast: members marked with it are excepted or already reached.
  const std::uint64_t epoch = ++epoch_;
  for (const Room& r : opts.except) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      for (Member* m : it->second) m->mark = epoch;
    if (Member* m = own_room_member(r)) m->mark = epoch;
  }
  auto visit = [&](Member& m) {
    if (m.mark == epoch) return;
    m.mark = epoch;
    if (m.socket != nullptr && m.socket->connected_) f(*m.socket);
  };
  if (opts.rooms.empty()) {
    for (auto& [id, m] : sids_) visit(m);
    return;
  }
  // One target room (the common case) needs no dedup marks unless rooms are excepted or the
  // room is also a socket's own.
  if (opts.rooms.size() == 1 && opts.except.empty()) {
    const Room& r = *opts.rooms.begin();
    Member* own = own_room_member(r);
    if (auto it = rooms_.find(r); it != rooms_.end()) {
      if (own == nullptr) {
        // The members, their sockets and their sessions were evicted from the cache since the
        // last broadcast: ask for them ahead, each a step nearer than what points to it (a
        // member 8 places on, its socket 4, its session 2: each pointer is in cache by then).
        constexpr std::size_t kAhead = 8;
        const std::vector<Member*>& members = it->second;
        const std::size_t n = members.size();
        for (std::size_t i = 0; i < n; ++i) {
          if (i + kAhead < n) __builtin_prefetch(members[i + kAhead]);
          if (i + kAhead / 2 < n && members[i + kAhead / 2]->socket != nullptr)
            __builtin_prefetch(members[i + kAhead / 2]->socket);
          if (i + kAhead / 4 < n && members[i + kAhead / 4]->socket != nullptr)
            __builtin_prefetch(members[i + kAhead / 4]->socket->conn_raw_);
          Member* m = members[i];
          if (m->socket != nullptr && m->socket->connected_) f(*m->socket);
        }
        return;
      }
      for (Member* m : it->second) visit(*m);
    }
    if (own != nullptr) visit(*own);
    return;
  }
  for (const Room& r : opts.rooms) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      for (Member* m : it->second) visit(*m);
    if (Member* m = own_room_member(r)) visit(*m);
  }
}

std::set<Room> InMemoryAdapter::rooms() const {
  std::set<Room> out;
  for (const auto& [r, ids] : rooms_) out.insert(r);
  for (const auto& [id, m] : sids_)
    if (m.own_room) out.insert(id);
  return out;
}

// ---------------------------------------------------------------------------------------------
BroadcastOperator BroadcastOperator::to(const Room& room) && {
  opts_.rooms.insert(room);
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::except(const Room& room) && {
  opts_.except.insert(room);
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::volatile_() && {
  opts_.flags.volatile_ = true;
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::local() && {
  opts_.flags.local = true;
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::compress(bool on) && {
  opts_.flags.compress = on;
  return std::move(*this);
}

BroadcastOperator BroadcastOperator::timeout(std::chrono::milliseconds t) && {
  timeout_ = t;
  return std::move(*this);
}

void BroadcastOperator::emit_with_ack(const std::string& event, Args args,
                                      AckCallback callback) const {
  auto collector = std::make_shared<AckCollector>(nsp_->server().io(), std::move(callback));
  Packet p = event_packet(nsp_->name(), event, std::move(args));
  p.id = nsp_->next_ack_id();
  BroadcastOptions opts = opts_;
  nsp_->adapter().broadcast_with_ack(std::move(p), opts, collector);
  collector->start(timeout_);
}

std::size_t BroadcastOperator::emit(const std::string& event, Args args) const {
  return nsp_->deliver(event_packet(nsp_->name(), event, std::move(args)), opts_);
}

void BroadcastOperator::fetch_sockets(std::function<void(std::vector<RemoteSocket>)> done) const {
  nsp_->adapter().fetch_sockets(opts_, std::move(done));
}

std::vector<SocketPtr> BroadcastOperator::fetch_sockets() const {
  std::vector<SocketPtr> out;
  for (const SocketId& id : nsp_->adapter().targets(opts_))
    if (SocketPtr s = nsp_->socket(id)) out.push_back(std::move(s));
  return out;
}

void BroadcastOperator::sockets_join(const Room& room) const {
  nsp_->adapter().add_sockets(opts_, {room});
}
void BroadcastOperator::sockets_leave(const Room& room) const {
  nsp_->adapter().del_sockets(opts_, {room});
}
void BroadcastOperator::disconnect_sockets(bool close) const {
  nsp_->adapter().disconnect_sockets(opts_, close);
}

// ---------------------------------------------------------------------------------------------
struct Socket::PendingAck {
  std::unique_ptr<net::steady_timer> timer;  // none for a broadcast's ack (its collector times it)
  std::function<void(std::optional<std::string>, Args)> callback;
};

Socket::Socket(Namespace& nsp, std::shared_ptr<Client> client, SocketId id, Handshake hs,
               std::string pid)
    : nsp_(&nsp),
      client_(client),
      conn_raw_(client ? client->conn().get() : nullptr),
      id_(std::move(id)),
      pid_(std::move(pid)),
      handshake_(std::move(hs)) {}

std::set<Room> Socket::rooms() const {
  return nsp_->adapter().socket_rooms(id_);
}
void Socket::join(const Room& room) {
  nsp_->adapter().add_all(id_, {room});
}
void Socket::join(const std::vector<Room>& rooms) {
  nsp_->adapter().add_all(id_, std::set<Room>(rooms.begin(), rooms.end()));
}
void Socket::leave(const Room& room) {
  nsp_->adapter().del(id_, room);
}

void Socket::on(const std::string& event, EventHandler h) {
  x().handlers.emplace(event, std::make_pair(std::move(h), false));
}
void Socket::once(const std::string& event, EventHandler h) {
  x().handlers.emplace(event, std::make_pair(std::move(h), true));
}
void Socket::off(const std::string& event) {
  if (x_) x_->handlers.erase(event);
}
Socket::ListenerId Socket::add_listener(Listeners Extras::*list, AnyListener h, bool first) {
  const ListenerId id = x().next_listener++;
  Listeners& l = x_.get()->*list;
  l.emplace(first ? l.begin() : l.end(), id, std::move(h));
  return id;
}
void Socket::remove_listener(Listeners Extras::*list, std::optional<ListenerId> id) {
  if (!x_) return;
  Listeners& l = x_.get()->*list;
  if (!id) return l.clear();
  std::erase_if(l, [id](const auto& e) { return e.first == *id; });
}
Socket::ListenerId Socket::on_any(AnyListener h) {
  return add_listener(&Extras::any, std::move(h), false);
}
Socket::ListenerId Socket::prepend_any(AnyListener h) {
  return add_listener(&Extras::any, std::move(h), true);
}
void Socket::off_any(ListenerId id) {
  remove_listener(&Extras::any, id);
}
void Socket::off_any() {
  remove_listener(&Extras::any, std::nullopt);
}
Socket::ListenerId Socket::on_any_outgoing(AnyListener h) {
  return add_listener(&Extras::any_outgoing, std::move(h), false);
}
void Socket::off_any_outgoing(ListenerId id) {
  remove_listener(&Extras::any_outgoing, id);
}
void Socket::off_any_outgoing() {
  remove_listener(&Extras::any_outgoing, std::nullopt);
}

void Socket::notify_outgoing(const std::string& event, const Args& args) {
  if (!has_outgoing_listeners()) return;
  auto self = shared_from_this();
  call_each(x_->any_outgoing, "outgoing listener", id_,
            [&](const auto& l) { l.second(self, event, args); });
}

// A broadcast's packet as its listeners see it: decoded back into the event and its arguments
// (only for a socket that has such listeners).
void Socket::notify_outgoing(const EncodedPacket& p) {
  if (!has_outgoing_listeners()) return;
  std::string_view text = p.frame->payload();
  if (text.empty()) return;
  text.remove_prefix(1);  // the Engine.IO message type
  Decoder d;
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
  notify_outgoing(name.is_string() ? std::string(name.get_string()) : json::serialize(name),
                  Args(std::move(values), out.attachments));
}

void Socket::on_upgrade(std::function<void(const SocketPtr&)> h) {
  x().on_upgrade.push_back(std::move(h));
}
void Socket::upgraded() {
  if (!x_ || x_->on_upgrade.empty()) return;
  auto self = shared_from_this();
  call_each(x_->on_upgrade, "upgrade handler", id_, [&](const auto& h) { h(self); });
}

void Socket::on_disconnecting(std::function<void(const SocketPtr&, const std::string&)> h) {
  x().on_disconnecting.push_back(std::move(h));
}
void Socket::on_disconnect(std::function<void(const SocketPtr&, const std::string&)> h) {
  x().on_disconnect.push_back(std::move(h));
}
std::string_view Socket::transport() const noexcept {
  const engineio::Socket* c = conn();
  if (c == nullptr) return {};
  return c->transport() == engineio::TransportKind::websocket ? "websocket" : "polling";
}

// Disconnected, or volatile and the connection cannot take it now.
bool Socket::Emitter::dropped() const noexcept {
  return !s_->connected_ ||
         (volatile_flag_ && (s_->conn_raw_ == nullptr || !s_->conn_raw_->writable()));
}
bool Socket::Emitter::emit(const std::string& event, Args args) const {
  if (dropped()) return false;
  s_->notify_outgoing(event, args);
  s_->send_packet(event_packet(s_->nsp_->name(), event, std::move(args)), compress_);
  return true;
}
bool Socket::Emitter::emit_with_ack(
    const std::string& event, Args args,
    std::function<void(std::optional<std::string>, Args)> callback) const {
  if (dropped()) return false;
  s_->notify_outgoing(event, args);
  return s_->emit_packet(event_packet(s_->nsp_->name(), event, std::move(args)), timeout_,
                         std::move(callback), compress_);
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

bool Socket::emit(const std::string& event, Args args) {
  if (!connected_) return false;
  notify_outgoing(event, args);
  send_packet(event_packet(nsp_->name(), event, std::move(args)));
  return true;
}

bool Socket::emit_with_ack(const std::string& event, Args args, std::chrono::milliseconds timeout,
                           std::function<void(std::optional<std::string>, Args)> callback) {
  if (!connected_) return false;
  notify_outgoing(event, args);
  return emit_packet(event_packet(nsp_->name(), event, std::move(args)), timeout,
                     std::move(callback), true);
}

bool Socket::emit_packet(Packet p, std::chrono::milliseconds timeout,
                         std::function<void(std::optional<std::string>, Args)> callback,
                         bool compress) {
  const std::uint64_t id = nsp_->next_ack_id();
  p.id = id;
  auto pending = std::make_shared<PendingAck>();
  pending->callback = std::move(callback);
  pending->timer = std::make_unique<net::steady_timer>(nsp_->server().io());
  pending->timer->expires_after(timeout);
  pending->timer->async_wait([w = weak_from_this(), id](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self) return;
    if (!self->x_) return;
    auto& acks = self->x_->acks;
    auto it = acks.find(id);
    if (it == acks.end()) return;
    auto cb = std::move(it->second->callback);
    acks.erase(it);
    try {
      cb(std::string("operation has timed out"), Args{});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
    }
  });
  x().acks[id] = std::move(pending);
  send_packet(std::move(p), compress);
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
      const std::string event =
          name.is_string() ? std::string(name.get_string()) : json::serialize(name);
      Ack ack;
      if (p.id) {
        auto done = std::make_shared<bool>(false);
        ack = [w = weak_from_this(), id = *p.id, done](Args reply) {
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
        pending->callback(std::nullopt, Args(p.data->get_array(), p.attachments));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
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
  x().use.push_back(std::move(m));
}
void Socket::on_error(std::function<void(const SocketPtr&, const std::string&)> h) {
  x().on_error.push_back(std::move(h));
}

void Socket::error(const std::string& message) {
  if (!x_) return;
  auto self = shared_from_this();
  call_each(x_->on_error, "error handler", id_, [&](const auto& h) { h(self, message); });
}

// One event on its way through the socket's middleware.
struct Socket::Chain {
  SocketPtr self;
  std::string event;
  Args args;
  Ack ack;
  std::vector<EventMiddleware> fns;  // a copy: the list may change meanwhile
  std::size_t next = 0;
};

void Socket::run_middleware(const std::shared_ptr<Chain>& c) {
  if (!connected_) return;  // disconnected meanwhile: dropped
  if (c->next == c->fns.size())
    return run_handlers(c->event, std::move(c->args), std::move(c->ack));
  const EventMiddleware& fn = c->fns[c->next++];
  auto called = std::make_shared<bool>(false);
  auto next = [c, called](std::optional<std::string> err) {
    if (*called) return;  // next called twice: the second is ignored
    *called = true;
    if (err) return c->self->error(*err);
    c->self->run_middleware(c);
  };
  try {
    fn(c->self, c->event, c->args, next);
  } catch (const std::exception& e) {
    next(std::string(e.what()));
  }
}

void Socket::dispatch(const std::string& event, Args args, Ack ack) {
  auto self = shared_from_this();
  try {
    // A handler may register or remove handlers, or disconnect the socket: each is copied
    // before it runs.
    for (std::size_t i = 0; x_ && i < x_->any.size(); ++i) {
      auto h = x_->any[i].second;
      h(self, event, args);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: any-listener for '%s' on socket %s threw: %s\n", event.c_str(),
                 id_.c_str(), e.what());
    disconnect(false);
    return;
  }
  if (x_ && !x_->use.empty()) {
    run_middleware(
        std::make_shared<Chain>(Chain{self, event, std::move(args), std::move(ack), x_->use, 0}));
    return;
  }
  run_handlers(event, std::move(args), std::move(ack));
}

void Socket::run_handlers(const std::string& event, Args args, Ack ack) {
  auto self = shared_from_this();
  try {
    std::vector<EventHandler> run;
    if (x_) {
      auto [first, last] = x_->handlers.equal_range(event);
      for (auto it = first; it != last;) {
        run.push_back(it->second.first);
        it = it->second.second ? x_->handlers.erase(it) : std::next(it);
      }
    }
    auto [nfirst, nlast] = nsp_->events_.equal_range(event);
    for (auto it = nfirst; it != nlast; ++it) run.push_back(it->second);
    for (std::size_t i = 0; i < run.size(); ++i)
      run[i](self, i + 1 == run.size() ? std::move(args) : args, ack);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: handler for '%s' on socket %s threw: %s\n", event.c_str(),
                 id_.c_str(), e.what());
    disconnect(false);
  }
}

void Socket::closed(const std::string& reason) {
  if (!connected_) return;
  connected_ = false;
  auto self = shared_from_this();
  // Pending emit_with_ack callbacks learn that no ack will come.
  decltype(Extras::acks) pending_acks;
  if (x_) pending_acks.swap(x_->acks);
  for (auto& [ack_id, pending] : pending_acks) {
    if (pending->timer) pending->timer->cancel();
    try {
      pending->callback(std::string("socket has been disconnected"), Args{});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
    }
  }
  // "disconnecting": the socket still in its rooms.
  if (x_ && !x_->on_disconnecting.empty()) {
    call_each(std::exchange(x_->on_disconnecting, {}), "disconnecting handler", id_,
              [&](const auto& h) { h(self, reason); });
  }
  // Only these reasons keep a session for connection state recovery (as in socket.io).
  static const std::set<std::string> kRecoverable = {"transport error",      "transport close",
                                                     "forced close",         "ping timeout",
                                                     "server shutting down", "forced server close"};
  if (!pid_.empty() && kRecoverable.count(reason) != 0) nsp_->persist(*this);
  if (!pid_.empty() && kRecoverable.count(reason) == 0) nsp_->adapter().forget_session(pid_);
  nsp_->adapter().del_all(id_);
  nsp_->remove(id_);
  // Handlers often capture their socket: dropping them (after on_disconnect) breaks those cycles.
  decltype(Extras::on_disconnect) disconnect_handlers;
  if (x_) {
    disconnect_handlers.swap(x_->on_disconnect);
    x_.reset();  // its handlers with it (a running dispatch() holds copies and checks x_)
  }
  for (auto& h : disconnect_handlers) {
    try {
      h(self, reason);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: disconnect handler on socket %s threw: %s\n", id_.c_str(),
                   e.what());
    }
  }
}

// ---------------------------------------------------------------------------------------------
Namespace::Namespace(Server& server, std::string name)
    : server_(&server),
      name_(std::move(name)),
      adapter_(server.options().adapter ? server.options().adapter(*this)
                                        : std::make_unique<InMemoryAdapter>(*this)) {}

SocketPtr Namespace::socket(const SocketId& id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second;
}

Socket* Namespace::find_socket(const SocketId& id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.get();
}

void Namespace::remove(const SocketId& id) {
  adapter_->del_all(id);  // no handle to it may stay in the rooms index
  sockets_.erase(id);
}

void Namespace::connect(const std::shared_ptr<Client>& client, json::object auth) {
  const auto& recovery = server_->options().connection_state_recovery;
  if (recovery && restore(client, auth) && recovery->skip_middlewares) return;
  if (!server_->open(client.get())) return;  // closed meanwhile (restore may drain the ring)
  auth.erase("pid");                         // recovery's fields are not the application's auth
  auth.erase("offset");
  SocketPtr s;
  if (auto it = restoring_.find(client.get()); it != restoring_.end()) {
    s = std::move(it->second);
    restoring_.erase(it);
  } else {
    Handshake hs;
    hs.auth = std::move(auth);
    hs.request = client->conn()->shared_request();
    hs.issued_ms = now_ms();
    s = std::make_shared<Socket>(*this, client, socket_id(), std::move(hs),
                                 recovery ? socket_id() : std::string());
  }
  // Run the middleware chain; each may call next() later (asynchronously). The chain holds itself
  // only weakly; a pending next() holds it strongly, so it lives exactly as long as some
  // middleware may still call next().
  auto run = std::make_shared<std::function<void(std::size_t)>>();
  std::weak_ptr<Client> wc = client;
  *run = [this, s, wc, weak_run = std::weak_ptr(run)](std::size_t i) {
    auto c = wc.lock();
    if (!c) return;
    if (i == middleware_.size()) return admit(c, s);
    auto called = std::make_shared<bool>(false);
    auto refuse = [this, wc, s](const ConnectError& err) {
      adapter_->del_all(s->id());  // rooms a middleware may have joined
      auto cl = wc.lock();
      if (!cl) return;
      cl->refused(name_);
      Packet e;
      e.type = PacketType::connect_error;
      e.nsp = name_;
      json::object o{{"message", err.message}};
      if (err.data) o["data"] = *err.data;
      e.data = std::move(o);
      cl->send(e);
    };
    try {
      middleware_[i](s,
                     [run = weak_run.lock(), i, called, refuse](std::optional<ConnectError> err) {
                       if (*called || !run) return;
                       *called = true;
                       if (err) return refuse(*err);
                       auto chain = run;  // the caller may destroy this Next while it runs
                       (*chain)(i + 1);
                     });
    } catch (const std::exception& ex) {
      refuse(ConnectError{ex.what(), std::nullopt});
    }
  };
  (*run)(0);
}

void Namespace::admit(const std::shared_ptr<Client>& c, const SocketPtr& s) {
  if (!server_->open(c.get())) return;  // its connection closed while it was being admitted
  std::vector<EncodedPacket> missed;
  if (s->recovered_) {
    // What the socket missed, computed now (after any middleware) so that nothing broadcast
    // meanwhile falls between the replay and the join. If the log lost part of it, the socket
    // starts a fresh session instead: never a partial replay.
    auto replayed = adapter_->replay(s->x().restore_offset, s->x().restore_rooms);
    if (replayed && sockets_.count(s->id()) == 0) {
      missed = std::move(*replayed);
    } else {
      s->recovered_ = false;
      s->id_ = socket_id();
      s->pid_ = socket_id();
      s->data_ = nullptr;
      s->x().restore_rooms.clear();
    }
  }
  s->connected_ = true;
  sockets_.erase(s->id());  // (none: checked above) an entry's key is a view of its own socket's id
  sockets_.emplace(s->id(), s);
  adapter_->add_all(s->id(), {s->id()});
  if (s->x_ && !s->x_->restore_rooms.empty())
    adapter_->add_all(s->id(), std::exchange(s->x_->restore_rooms, {}));
  c->add(name_, s);
  // A recovered socket gets what it missed before the CONNECT reply (the client emits those
  // events before its "connect" event, in order).
  for (const EncodedPacket& p : missed) p.send_to(*c->conn());
  Packet ok;
  ok.type = PacketType::connect;
  ok.nsp = name_;
  json::object o{{"sid", s->id()}};
  if (!s->pid().empty()) o["pid"] = s->pid();
  ok.data = std::move(o);
  c->send(ok);
  for (auto& h : connection_) {
    try {
      h(s);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "shmio: connection handler threw: %s\n", ex.what());
      s->disconnect(false);
      return;
    }
  }
}

void Namespace::persist(const Socket& s) {
  adapter_->persist_session(SessionState{s.id(), s.pid(), adapter_->socket_rooms(s.id()), s.data_});
}

bool Namespace::restore(const std::shared_ptr<Client>& client, const json::object& auth) {
  const json::value* pid = auth.if_contains("pid");
  const json::value* offset = auth.if_contains("offset");
  if (pid == nullptr || !pid->is_string() || offset == nullptr || !offset->is_string())
    return false;
  auto session =
      adapter_->take_session(std::string(pid->get_string()), std::string(offset->get_string()));
  if (!session || sockets_.count(session->id) != 0) return false;
  Handshake hs;
  hs.auth = auth;
  hs.auth.erase("pid");
  hs.auth.erase("offset");
  hs.request = client->conn()->shared_request();
  hs.issued_ms = now_ms();
  auto s = std::make_shared<Socket>(*this, client, session->id, std::move(hs), session->pid);
  s->recovered_ = true;
  s->data_ = std::move(session->data);
  s->x().restore_rooms = std::move(session->rooms);
  s->x().restore_offset = std::string(offset->get_string());
  if (server_->options().connection_state_recovery->skip_middlewares) {
    admit(client, s);
  } else {
    restoring_[client.get()] = s;  // connect() runs the middleware with this socket
  }
  return true;
}

std::size_t Namespace::deliver(Packet p, const BroadcastOptions& opts) {
  return adapter_->broadcast(std::move(p), opts);
}

std::size_t Namespace::deliver_local(const EncodedPacket& p, const BroadcastOptions& opts) {
  // The delivery path: the rooms index hands over socket handles, and each receiver's queue gets
  // a reference to the one frame of this broadcast — no id lookup, no copy, no allocation, no
  // atomic count per receiver; the writes happen once per socket at the end of the turn.
  std::size_t n = 0;
  std::vector<SocketPtr> listening;  // sockets with outgoing listeners (rare: empty, no allocation)
  std::size_t dropped = 0;
  auto deliver = [&](Socket& s) {
    engineio::Socket* conn = s.conn_raw_;
    // Volatile: dropped for a client that could not take it now (as in socket.io).
    if (opts.flags.volatile_ && !conn->writable()) {
      ++dropped;
      return;
    }
    p.send_to(*conn);
    ++n;
    if (s.has_outgoing_listeners()) [[unlikely]]
      listening.push_back(s.shared_from_this());
  };
  adapter_->for_each_target(opts, deliver);
  stats_.messages_out += n;
  stats_.bytes_out += n * p.bytes();
  stats_.volatile_dropped += dropped;
  // (After the walk: a listener may change the rooms index.)
  for (const SocketPtr& s : listening) s->notify_outgoing(p);
  return n;
}

std::size_t Namespace::deliver_local_with_ack(const EncodedPacket& p, const BroadcastOptions& opts,
                                              std::uint64_t id, std::function<void(Args)> on_ack,
                                              std::function<void()> on_lost) {
  std::size_t n = 0;
  for (const SocketId& sid : adapter_->targets(opts)) {
    auto it = sockets_.find(sid);
    if (it == sockets_.end() || !it->second->connected_) continue;
    auto pending = std::make_shared<Socket::PendingAck>();
    pending->callback = [on_ack, on_lost](std::optional<std::string> err, Args a) {
      if (err) {
        on_lost();
      } else {
        on_ack(std::move(a));
      }
    };
    auto& acks = it->second->x().acks;
    // Broadcast acks have no per-socket timer (their collector times out); a client that never
    // answers must not grow this map forever: past 1024 pending, the oldest broadcast ack goes.
    if (acks.size() >= 1024) {
      auto oldest = acks.end();
      for (auto a = acks.begin(); a != acks.end(); ++a)
        if (!a->second->timer && (oldest == acks.end() || a->first < oldest->first)) oldest = a;
      if (oldest != acks.end()) acks.erase(oldest);
    }
    acks[id] = std::move(pending);
    ++n;
    p.send_to(*it->second->conn_raw_);
    it->second->notify_outgoing(p);
  }
  stats_.messages_out += n;
  stats_.bytes_out += n * p.bytes();
  return n;
}

std::uint64_t Namespace::next_ack_id() {
  return server_->next_ack_id();
}

std::uint64_t Server::next_ack_id() {
  // Ids stay below 2^53 (JavaScript numbers; the decoder's 15 digits): k < 2^31 with a stride of
  // at most 4096 keeps them under 10^13.
  const std::uint64_t k = next_ack_++ & 0x7FFFFFFFULL;
  return options_.ack_id_base + options_.ack_id_stride * k;
}

bool Server::open(const Client* c) const {
  return c != nullptr && c->slot < clients_.size() && clients_[c->slot].get() == c;
}

void Namespace::server_side_emit(const std::string& event, Args args) {
  adapter_->server_side_emit(event, std::move(args), nullptr);
}

void Namespace::server_side_emit_with_ack(const std::string& event, Args args,
                                          std::chrono::milliseconds timeout, AckCallback done) {
  auto collector = std::make_shared<AckCollector>(server_->io(), std::move(done));
  adapter_->server_side_emit(event, std::move(args), collector);
  if (!collector->done()) collector->start(timeout);
}

void Namespace::on_server_side(const std::string& event,
                               std::function<void(Args, std::function<void(Args)>)> handler) {
  server_side_.emplace(event, std::move(handler));
}

void Namespace::handle_server_side(const std::string& event, Args args,
                                   std::function<void(Args)> ack) {
  auto [first, last] = server_side_.equal_range(event);
  for (auto it = first; it != last; ++it) {
    try {
      it->second(
          args, ack ? ack : [](Args) {});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: server-side handler for '%s' threw: %s\n", event.c_str(),
                   e.what());
    }
  }
}

// ---------------------------------------------------------------------------------------------
std::size_t InMemoryAdapter::broadcast(Packet p, const BroadcastOptions& opts) {
  const auto& recovery = nsp_->server().options().connection_state_recovery;
  if (!recovery || p.id || opts.flags.volatile_ ||
      (p.type != PacketType::event && p.type != PacketType::binary_event))
    return Adapter::broadcast(std::move(p), opts);
  // Connection state recovery: the broadcast gets an offset as its last argument, and is kept
  // (with its options) for replay to sockets that were away.
  std::string offset = offset_prefix_ + std::to_string(next_offset_++);
  p.data->as_array().emplace_back(offset);
  EncodedPacket e = encode_shared(p, opts.flags.compress);
  const auto now = std::chrono::steady_clock::now();
  const std::size_t bytes = e.bytes();
  stored_bytes_ += bytes;
  stored_.push_back({std::move(offset), opts, e, bytes, now});
  prune(now);
  return nsp_->deliver_local(e, opts);
}

void InMemoryAdapter::prune(std::chrono::steady_clock::time_point now) {
  const auto& r = *nsp_->server().options().connection_state_recovery;
  while (!stored_.empty() &&
         (stored_.size() > r.max_stored_packets || stored_bytes_ > r.max_stored_bytes ||
          now - stored_.front().at > r.max_disconnection_duration)) {
    stored_bytes_ -= stored_.front().bytes;
    stored_.pop_front();
  }
  for (auto it = saved_.begin(); it != saved_.end();)
    it = now - it->second.at > r.max_disconnection_duration ? saved_.erase(it) : std::next(it);
}

void InMemoryAdapter::persist_session(SessionState st) {
  const auto now = std::chrono::steady_clock::now();
  prune(now);
  std::string pid = st.pid;
  saved_[pid] = Saved{std::move(st), now};
}

std::optional<SessionState> InMemoryAdapter::take_session(const std::string& pid,
                                                          const std::string& offset) {
  prune(std::chrono::steady_clock::now());
  auto it = saved_.find(pid);
  if (it == saved_.end()) return std::nullopt;
  SessionState st = std::move(it->second.state);
  saved_.erase(it);
  const bool kept = std::any_of(stored_.begin(), stored_.end(),
                                [&](const StoredPacket& p) { return p.offset == offset; });
  if (!kept) return std::nullopt;
  return st;
}

std::optional<std::vector<EncodedPacket>> InMemoryAdapter::replay(const std::string& offset,
                                                                  const std::set<Room>& rooms) {
  auto from = std::find_if(stored_.begin(), stored_.end(),
                           [&](const StoredPacket& p) { return p.offset == offset; });
  if (from == stored_.end()) return std::nullopt;
  std::vector<EncodedPacket> out;
  for (auto p = std::next(from); p != stored_.end(); ++p)
    if (reaches(p->opts, rooms)) out.push_back(p->packet);
  return out;
}

// ---------------------------------------------------------------------------------------------
Server::Server(net::io_context& io, ServerOptions options) : io_(io), options_(std::move(options)) {
  const std::string seed = random_id();  // 120 random bits; 20 of them start the ack counter
  for (int i = 0; i < 4; ++i)
    next_ack_ = (next_ack_ << 5) | (static_cast<unsigned char>(seed[i]) & 31);
  of("/");
  engineio::ServerOptions eo;
  eo.path = options_.path;
  eo.session = options_.engine;
  eo.allow_polling = options_.allow_polling;
  eo.allow_websocket = options_.allow_websocket;
  eo.per_message_deflate = options_.per_message_deflate;
  eo.cors_origin = options_.cors_origin;
  eo.cors_credentials = options_.cors_credentials;
  eo.allow_request = options_.allow_request;
  eo.static_files = options_.static_files;
  eo.routes = options_.routes;
  eo.initial_headers = options_.initial_headers;
  eo.headers = options_.headers;
  eo.connection_error = options_.connection_error;
  eo.allow_request_async = options_.allow_request_async;
  eo.id_prefix = options_.id_prefix;
  eo.reuse_port = options_.reuse_port;
  eo.io_uring = options_.io_uring;
  eo.flush_budget = options_.flush_budget;
  eo.read_budget = options_.read_budget;
  eo.is_foreign = options_.is_foreign;
  eo.hand_off = options_.hand_off;
  eo.steer = options_.steer;
  eo.descriptor_reserve = options_.descriptor_reserve;
  eo.first_request_timeout = options_.first_request_timeout;
  eo.hand_off_to = options_.hand_off_to;
  engineio::Handler h;
  // A session's Client is found through the session's user-data pointer (set here, cleared at
  // its close); clients_ owns them, each knowing its slot (swap-remove).
  h.on_open = [this](const engineio::SocketPtr& conn) {
    auto c = std::make_shared<Client>(*this, conn);
    c->slot = clients_.size();
    clients_.push_back(c);
    conn->set_user_data(c.get());
    c->start();
  };
  h.on_message = [](const engineio::SocketPtr& conn, engineio::Packet m) {
    if (auto* c = static_cast<Client*>(conn->user_data())) c->on_message(std::move(m));
  };
  h.on_upgrade = [](const engineio::SocketPtr& conn) {
    if (auto* c = static_cast<Client*>(conn->user_data())) c->upgraded();
  };
  h.on_close = [this](const engineio::SocketPtr& conn, engineio::CloseReason r) {
    auto* raw = static_cast<Client*>(conn->user_data());
    if (raw == nullptr) return;
    conn->set_user_data(nullptr);
    const std::size_t i = raw->slot;
    std::shared_ptr<Client> c = std::move(clients_[i]);
    if (i + 1 != clients_.size()) {
      clients_[i] = std::move(clients_.back());
      clients_[i]->slot = i;
    }
    clients_.pop_back();
    c->slot = Client::kNoSlot;
    c->on_close(r);
  };
  engine_ = std::make_unique<engineio::Server>(io, std::move(eo), std::move(h));
}

Server::~Server() = default;

Namespace& Server::of(const std::string& name) {
  auto& slot = namespaces_[name];
  if (slot) return *slot;
  slot = std::make_unique<Namespace>(*this, name);
  Namespace& n = *slot;
  for (std::size_t i = 0; i < new_namespace_.size(); ++i) {
    auto h = new_namespace_[i];  // (a handler may register another)
    try {
      h(n);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: new_namespace handler threw: %s\n", e.what());
    }
  }
  return n;
}

void Namespace::for_each_socket(const std::function<void(const SocketPtr&)>& f) const {
  std::vector<SocketPtr> all;
  all.reserve(sockets_.size());
  for (const auto& [id, s] : sockets_) all.push_back(s);
  for (const SocketPtr& s : all) f(s);
}

void Server::of(std::function<bool(const std::string&)> predicate,
                std::function<void(Namespace&)> setup) {
  dynamic_.emplace_back(std::move(predicate), std::move(setup));
}

std::vector<std::string> Server::namespace_names() const {
  std::vector<std::string> out;
  out.reserve(namespaces_.size());
  for (const auto& [name, nsp] : namespaces_) out.push_back(name);
  return out;
}

Namespace* Server::find(const std::string& name) {
  if (auto it = namespaces_.find(name); it != namespaces_.end()) return it->second.get();
  for (auto& [pred, setup] : dynamic_) {
    if (!pred(name)) continue;
    Namespace& n = of(name);
    setup(n);
    return &n;
  }
  return nullptr;
}

std::uint16_t Server::listen(const std::string& address, std::uint16_t port) {
  return engine_->listen(address, port);
}

std::size_t Server::disconnect_all(const std::string& reason) {
  auto clients = clients_;
  for (auto& c : clients) c->close(reason);
  return clients.size();
}

void Server::close() {
  auto clients = clients_;
  for (auto& c : clients) c->close_all("server shutting down");
  engine_->stop();
}

void Server::close(std::function<void()> done) {
  close();
  if (done) net::post(io_, std::move(done));
}

}  // namespace shmio::socketio
