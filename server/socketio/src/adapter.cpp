// The Adapter interface's shared parts, remote sockets, and the in-process InMemoryAdapter (the
// rooms index, broadcasts, recovery's stored packets).
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <utility>

#include "client.hpp"
#include "detail.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

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

// (Not a socket leaving its rooms at its disconnect: a room listener that joins every socket to
// a room as one leaves made it a member again, and its entry outlived it in that room's list —
// freed memory at the room's next broadcast — before 2026-12-06; a helper's review.)
void Adapter::add_sockets(const BroadcastOptions& opts, const std::set<Room>& rooms) {
  for (const SocketId& id : targets(opts))
    if (const SocketPtr s = nsp_->socket(id); s && !s->gone_) add_all(id, rooms);
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
      out.emplace_back(*nsp_, id, s->handshake(), s->rooms(), std::as_const(*s).data());
  // (On the next turn, as socket.io's promise: never within the call; not at all once this
  // adapter, and the namespace its sockets name, is gone — a namespace removed meanwhile by
  // cleanup_empty_child_namespaces is held by the anchor until then, so its callback still runs.)
  net::post(nsp_->server().io(), [alive = std::weak_ptr<int>(alive_), held = nsp_->anchor(),
                                  done = std::move(done), out = std::move(out)]() mutable {
    if (alive.expired()) return;
    try {  // (the app's callback, on a turn of its own: a throw must not stop the server)
      done(std::move(out));
    } catch (...) {
      std::fprintf(stderr, "shmio: a fetch_sockets callback threw: %s\n", thrown_what().c_str());
    }
  });
}

void Adapter::server_side_emit(const std::string&, Args,
                               const std::shared_ptr<AckCollector>& collector) {
  if (collector) collector->start();  // no other server: done
}

void Adapter::notify(RoomEvent e, const Room& room, const SocketId& id) const {
  // By index, each listener copied before its call: one that adds a listener (on_room_event)
  // grows the vector under the loop (before 2026-12-06 a range-for, and the listener running was
  // moved away by the reallocation; a review). One added meanwhile hears the next event.
  for (std::size_t i = 0, n = room_listeners_.size(); i < n; ++i) {
    const RoomListener l = room_listeners_[i];
    try {
      l(e, room, id);
    } catch (...) {
      std::fprintf(stderr, "shmio: a room event listener threw: %s\n", thrown_what().c_str());
    }
  }
}

// ---------------------------------------------------------------------------------------------
std::shared_ptr<const int> RemoteSocket::anchor_of(const Namespace& nsp) {
  return nsp.anchor();
}

void RemoteSocket::emit(const std::string& event, Args args) const {
  BroadcastOperator(*nsp_, {}).to(id_).emit(event, std::move(args));
}
void RemoteSocket::join(const Room& room) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_join(room);
}
void RemoteSocket::join(std::initializer_list<Room> rooms) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_join(rooms);
}
void RemoteSocket::join(const std::vector<Room>& rooms) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_join(rooms);
}
void RemoteSocket::leave(const Room& room) const {
  BroadcastOperator(*nsp_, {}).to(id_).sockets_leave(room);
}
void RemoteSocket::disconnect(bool close) const {
  BroadcastOperator(*nsp_, {}).to(id_).disconnect_sockets(close);
}
void RemoteSocket::emit_with_ack(const std::string& event, Args args,
                                 AnswerCallback callback) const {
  BroadcastOperator(*nsp_, {}).to(id_).timeout(timeout_).emit_with_ack(
      event, std::move(args),
      [callback = std::move(callback)](std::optional<std::string> error,
                                       std::vector<Args> responses) {
        // (One socket has the id: at most one answer. Given, it is the answer, whatever else the
        // broadcast heard: another worker that died or timed out had nothing of this socket's.)
        if (!responses.empty())
          callback(std::nullopt, std::move(responses.front()));
        else if (error)
          callback(std::move(error), Args{});
        else
          callback(std::string("socket has been disconnected"), Args{});
      });
}

// ---------------------------------------------------------------------------------------------
InMemoryAdapter::InMemoryAdapter(Namespace& nsp)
    : Adapter(nsp), offset_prefix_(random_id().substr(0, 8) + "-") {}

void InMemoryAdapter::add_all(const SocketId& id, const std::set<Room>& rooms) {
  // (Not a socket leaving its rooms at its disconnect: a room listener joining it again as it
  // leaves would keep del_all going for ever.)
  Socket* const socket = nsp_->find_socket(id);  // (one look-up for both uses)
  if (socket != nullptr && socket->gone_) return;
  auto [pos, added] = sids_.try_emplace(id);
  Member& m = pos->second;
  if (added) m.id = &pos->first;
  if (m.socket == nullptr) {  // admitted: its handle, once (and in the rooms it is in already)
    m.socket = socket;
    if (m.socket != nullptr)
      for (const auto& [r, index] : m.rooms) rooms_.find(r)->second[index].socket = m.socket;
  }
  static const SocketId kNone;
  // A room-event listener may disconnect the socket (its member erased: del_all): nothing more is
  // done for it then (before 2026-12-04 the loop went on through the erased member).
  const Member* const mine = &m;
  auto gone = [&] {
    auto it = sids_.find(id);
    return it == sids_.end() || &it->second != mine;
  };
  for (const Room& r : rooms) {
    if (r == id) {  // its own room: a flag, not an entry in rooms_
      if (!m.own_room && room_events()) {
        m.own_room = true;  // (before the events: a listener's join sees it in its room)
        // (A room of that name in rooms_ — other sockets joined to this socket's id — made it
        // already.)
        if (rooms_.count(r) == 0) notify(RoomEvent::create_room, r, kNone);
        if (gone()) return;
        notify(RoomEvent::join_room, r, id);
        if (gone()) return;
      }
      m.own_room = true;
      continue;
    }
    auto it = std::lower_bound(m.rooms.begin(), m.rooms.end(), r, RoomLess());
    if (it != m.rooms.end() && it->first == r) continue;
    auto [rit, created] = rooms_.try_emplace(r);
    std::vector<Slot>& members = rit->second;
    m.rooms.emplace(it, r, members.size());
    members.push_back({m.socket, &m});
    if (room_events()) {
      // (A socket id's own room held by that socket is the room already.)
      if (created && own_room_member(r) == nullptr) notify(RoomEvent::create_room, r, kNone);
      if (gone()) return;
      notify(RoomEvent::join_room, r, id);
      if (gone()) return;
    }
  }
}

// Takes the member at `index` out of the room's array: the last one moves into its place. True if
// that emptied the room (gone from the index).
bool InMemoryAdapter::unlink(const Room& room, std::size_t index) {
  auto rit = rooms_.find(room);
  if (rit == rooms_.end()) return false;
  std::vector<Slot>& members = rit->second;
  const Slot last = members.back();
  members[index] = last;
  // The member taken out has already dropped the room from its own list (and may be `last`):
  // only an entry that exists is updated, never created.
  if (auto self = last.member->find_room(room); self != last.member->rooms.end())
    self->second = index;
  members.pop_back();
  if (!members.empty()) return false;
  rooms_.erase(rit);
  return true;
}

// "leave-room" once the socket is out of the room (a listener that broadcasts to the room does
// not reach the one leaving), then "delete-room" if it was the last, as socket.io's adapter.
// (Before 2026-12-03 "leave-room" came first, with the socket still in the room's array; a
// helper's review.)
// A room is one name whether sockets joined it (rooms_) or it is a socket's own room (a flag):
// "delete-room" only once neither holds it (before 2026-12-04 a socket that joined another's id
// and left said the room deleted while its owner was still in it, and a sharded fleet bridge in
// "dynamic-private" dropped that socket's channel: a Node member's emit to it was lost; a helper's
// review).
void InMemoryAdapter::left(const Room& room, const SocketId& id, bool emptied) {
  if (!room_events()) return;
  notify(RoomEvent::leave_room, room, id);
  if (emptied && rooms_.count(room) == 0 && own_room_member(room) == nullptr)
    notify(RoomEvent::delete_room, room, SocketId());
}

void InMemoryAdapter::del(const SocketId& id, const Room& room) {
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  if (room == id) {
    if (std::exchange(it->second.own_room, false)) left(room, id, true);
    return;
  }
  auto r = it->second.find_room(room);
  if (r == it->second.rooms.end()) return;
  const std::size_t index = r->second;
  it->second.rooms.erase(r);
  left(room, id, unlink(room, index));
}

// (The member found again at each step: a room listener may change the index meanwhile, even
// join this socket to a room again through the adapter, which is then left too.)
void InMemoryAdapter::del_all(const SocketId& id) {
  for (;;) {
    auto it = sids_.find(id);
    if (it == sids_.end()) return;
    Member& m = it->second;
    if (!m.rooms.empty()) {
      const Room room = std::move(m.rooms.back().first);  // the last first: no element moves
      const std::size_t index = m.rooms.back().second;
      m.rooms.pop_back();
      left(room, id, unlink(room, index));
      continue;
    }
    if (std::exchange(m.own_room, false)) {
      left(id, id, true);
      continue;
    }
    sids_.erase(it);
    return;
  }
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
      for (const Slot& slot : it->second) excluded.insert(slot.member);
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
      for (const Slot& slot : it->second) add(slot.member);
    if (const Member* m = self->own_room_member(r)) add(m);
  }
  return out;
}

void InMemoryAdapter::for_each_target(const BroadcastOptions& opts, TargetFn f) {
  // One epoch per broadcast: members marked with it are excepted or already reached.
  const std::uint64_t epoch = ++epoch_;
  for (const Room& r : opts.except) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      for (const Slot& slot : it->second) slot.member->mark = epoch;
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
        // The sockets and their sessions were evicted from the cache since the last broadcast
        // (the array itself is read in order, which the hardware prefetches): ask for them
        // ahead, each a step nearer than what points to it (a socket 8 places on, its session's
        // lines 4: each pointer is in cache by then).
        constexpr std::size_t kAhead = 8;
        const std::vector<Slot>& slots = it->second;
        const std::size_t n = slots.size();
        for (std::size_t i = 0; i < n; ++i) {
          if (i + kAhead < n) __builtin_prefetch(slots[i + kAhead].socket);
          if (i + kAhead / 2 < n && slots[i + kAhead / 2].socket != nullptr)
            if (const engineio::Socket* c = slots[i + kAhead / 2].socket->conn_raw_)
              c->prefetch_hot();
          Socket* s = slots[i].socket;
          if (s != nullptr && s->connected_) f(*s);
        }
        return;
      }
      for (const Slot& slot : it->second) visit(*slot.member);
    }
    if (own != nullptr) visit(*own);
    return;
  }
  for (const Room& r : opts.rooms) {
    if (auto it = rooms_.find(r); it != rooms_.end())
      for (const Slot& slot : it->second) visit(*slot.member);
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
  arm_prune();
  BroadcastOptions with = opts;
  with.flags.offset = true;
  return nsp_->deliver_local(e, with);
}

// (Stopped at the server's close: the sessions its close saves would have kept the io_context
// running for up to two windows, and an app's `close(); io.run();` with them; a review.)
void InMemoryAdapter::server_closed() {
  server_closed_ = true;
  prune_armed_ = false;
  if (prune_timer_) prune_timer_->cancel();
}

void InMemoryAdapter::arm_prune() {
  if (server_closed_ || prune_armed_ || (stored_.empty() && saved_.empty())) return;
  const auto& r = nsp_->server().options().connection_state_recovery;
  if (!r) return;
  if (!prune_timer_) prune_timer_ = std::make_unique<net::steady_timer>(nsp_->server().io());
  prune_armed_ = true;
  prune_timer_->expires_after(std::clamp<std::chrono::steady_clock::duration>(
      r->max_disconnection_duration, std::chrono::seconds(1), std::chrono::minutes(1)));
  prune_timer_->async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        prune_armed_ = false;
        prune(std::chrono::steady_clock::now());
        arm_prune();
      });
}

void InMemoryAdapter::prune(std::chrono::steady_clock::time_point now) {
  const auto& r = *nsp_->server().options().connection_state_recovery;
  while (!stored_.empty() &&
         (stored_.size() > r.max_stored_packets || stored_bytes_ > r.max_stored_bytes ||
          now - stored_.front().at > r.max_disconnection_duration)) {
    stored_bytes_ -= stored_.front().bytes;
    stored_.pop_front();
  }
  while (!saved_order_.empty() && now - saved_order_.front().first > r.max_disconnection_duration) {
    const auto& [at, pid] = saved_order_.front();
    if (auto it = saved_.find(pid); it != saved_.end() && it->second.at == at) saved_.erase(it);
    saved_order_.pop_front();
  }
}

std::uint64_t InMemoryAdapter::front_number() const {
  // (Its offset was made as every offset here: the prefix, then the number.)
  std::uint64_t front = 0;
  const std::string& f = stored_.front().offset;
  std::from_chars(f.data() + offset_prefix_.size(), f.data() + f.size(), front);
  return front;
}

std::deque<InMemoryAdapter::StoredPacket>::iterator InMemoryAdapter::stored_at(
    const std::string& offset) {
  if (stored_.empty() || offset.size() <= offset_prefix_.size() ||
      offset.compare(0, offset_prefix_.size(), offset_prefix_) != 0)
    return stored_.end();
  std::uint64_t n = 0;
  const char* first = offset.data() + offset_prefix_.size();
  const char* last = offset.data() + offset.size();
  const auto [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || end != last) return stored_.end();
  // The front's number, then an index.
  const std::uint64_t front = front_number();
  if (n < front || n - front >= stored_.size()) return stored_.end();
  auto it = stored_.begin() + static_cast<std::ptrdiff_t>(n - front);
  return it->offset == offset ? it : stored_.end();
}

void InMemoryAdapter::persist_session(SessionState st) {
  save(std::move(st), std::chrono::steady_clock::now());
}

void InMemoryAdapter::put_back_session(SessionState st) {
  const auto at = st.disconnected_at;
  save(std::move(st), at);
}

void InMemoryAdapter::save(SessionState st, std::chrono::steady_clock::time_point at) {
  const auto now = std::chrono::steady_clock::now();
  prune(now);
  if (now - at > nsp_->server().options().connection_state_recovery->max_disconnection_duration)
    return;  // (a session put back after its time)
  std::string pid = st.pid;
  // In the queue by its time (a session put back goes before those saved since it was taken).
  auto place = std::upper_bound(
      saved_order_.begin(), saved_order_.end(), at,
      [](std::chrono::steady_clock::time_point t, const auto& e) { return t < e.first; });
  // (Its entry from before it was taken may still be there: one is enough.)
  if (place == saved_order_.begin() || std::prev(place)->first != at ||
      std::prev(place)->second != pid)
    saved_order_.emplace(place, at, pid);
  saved_[pid] = Saved{std::move(st), at};
  // The oldest dropped past the bound.
  const std::size_t most = std::max<std::size_t>(
      1, nsp_->server().options().connection_state_recovery->max_saved_sessions);
  const auto live = [this](const std::pair<std::chrono::steady_clock::time_point, std::string>& e) {
    auto it = saved_.find(e.second);
    return it != saved_.end() && it->second.at == e.first;
  };
  while (saved_.size() > most && !saved_order_.empty()) {
    if (live(saved_order_.front())) saved_.erase(saved_order_.front().second);
    saved_order_.pop_front();
  }
  // The order's entries of sessions taken (or saved again) since: dropped once they are as many
  // as the bound, so that it holds at most twice the bound, without dropping a live session.
  if (saved_order_.size() > 2 * most)
    std::erase_if(saved_order_, [&](const auto& e) { return !live(e); });
  arm_prune();
}

std::optional<SessionState> InMemoryAdapter::take_session(const std::string& pid,
                                                          const std::string& offset) {
  prune(std::chrono::steady_clock::now());
  const auto refuse = [&](const char* why) -> std::optional<SessionState> {
    if (nsp_->server().options().connection_state_recovery->log_refused)
      std::fprintf(stderr, "shmio: session %s not recovered: %s\n", shmio::log_text(pid).c_str(),
                   why);
    return std::nullopt;
  };
  auto it = saved_.find(pid);
  if (it == saved_.end())
    return refuse("unknown session (never saved here, past the recovery window, or taken)");
  // (An offset no longer kept leaves the session, as socket.io's in-memory adapter does; before
  // 2026-12-04 any attempt removed it.)
  if (stored_at(offset) == stored_.end()) return refuse("the offset is no longer kept");
  SessionState st = std::move(it->second.state);
  st.disconnected_at = it->second.at;
  saved_.erase(it);
  return st;
}

void InMemoryAdapter::replay_refused(const std::string& offset, const char* why) {
  if (nsp_->server().options().connection_state_recovery->log_refused)
    std::fprintf(stderr, "shmio: session at offset %s not recovered: %s\n",
                 shmio::log_text(offset).c_str(), why);
}

std::optional<std::vector<EncodedPacket>> InMemoryAdapter::replay(const std::string& offset,
                                                                  const std::set<Room>& rooms,
                                                                  std::uint64_t start) {
  auto from = stored_at(offset);
  if (from == stored_.end()) {
    replay_refused(offset, "the offset is no longer kept");
    return std::nullopt;
  }
  // Numbers are consecutive from the front's: an offset older than the session's start steps to
  // the first packet broadcast after it began (still kept: the named one, older, is).
  const std::uint64_t named = static_cast<std::uint64_t>(from - stored_.begin());
  auto p = std::next(from);
  if (start != 0) {
    const std::uint64_t front = front_number();
    if (start - 1 > front + named)
      p = stored_.begin() +
          static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(start - 1 - front, stored_.size()));
  }
  std::vector<EncodedPacket> out;
  for (; p != stored_.end(); ++p)
    if (reaches(p->opts, rooms)) out.push_back(p->packet);
  return out;
}
}  // namespace shmio::socketio
