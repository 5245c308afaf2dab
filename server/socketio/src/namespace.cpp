// A Socket.IO namespace: CONNECTs, admission, recovery, delivery to its sockets.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <tuple>

#include "client.hpp"
#include "detail.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

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
  maybe_retire();
}

void Namespace::maybe_retire() {
  if (child_ && !retired_ && sockets_.empty() && connecting_ == 0 &&
      server_->options().cleanup_empty_child_namespaces)
    server_->retire(*this);
}

void Namespace::abandon(const SocketPtr& s) {
  s->gone_ = true;
  // A recovered socket refused or left before it was admitted: its session is kept for the
  // client's next attempt (before 2026-12-04 it was lost: a middleware refusing once, a token
  // expired meanwhile, or the connection dropping while an asynchronous middleware ran, and the
  // client's next attempt got a fresh session, what it missed gone).
  if (s->x_ && s->x_->taken) adapter_->put_back_session(*std::exchange(s->x_->taken, {}));
  if (s->x_) s->x_->restore_rooms.clear();  // (a refused recovered socket is in no room)
  adapter_->del_all(s->id());
  s->settle_pending_acks(true);
  // Its handlers go, as a closed socket's do: a middleware that registered one capturing the
  // socket (s->on_disconnect([s]...)) made a cycle that kept every refused socket, its handshake
  // with it (before 2026-12-03 a client retrying a bad token grew the process; a helper's review).
  if (s->x_) {
    s->x_.reset();
    s->outgoing_listeners_ = false;
  }
  maybe_retire();  // (not while its CONNECT's chain runs: that counts down at its end)
}

// A CONNECT in progress (Namespace::connecting_): from the start of connect() until its middleware
// chain ends (admitted, refused, abandoned) or is dropped by a middleware that never calls next().
// A child namespace is not removed meanwhile: a recovery's look at the session table or its replay
// may read the ring, and what it reads may disconnect the namespace's last socket (found in
// review, 2026-12-04: the namespace was then removed, even freed, under the CONNECT).
// A chain dropped by a middleware that never calls next() (destroyed without an end()) also ends
// the client's "connecting" to the namespace (Client::refused): left there, and since a second
// CONNECT during the first is let go (2026-12-05), every retry of that client would have been let
// go for good. (Not at an end(): the paths that end a chain tell the client themselves, and one
// may have started another chain for the same CONNECT, a recovery turned fresh.)
struct InProgress {
  InProgress(Namespace* of, std::weak_ptr<const char> alive, std::weak_ptr<Client> by)
      : n(of), alive_(std::move(alive)), client(std::move(by)) {
    ++n->connecting_;
  }
  bool gone() const noexcept { return alive_.expired(); }
  InProgress(const InProgress&) = delete;
  InProgress& operator=(const InProgress&) = delete;
  Namespace* n;
  std::weak_ptr<const char> alive_;  // (a chain may outlive the server, its Next kept by the app)
  std::weak_ptr<Client> client;
  // The socket the chain is for: a chain dropped without an end() abandons it as a refusal does
  // (rooms a middleware joined, acks it asked, a recovered session taken out: before 2026-12-04
  // the rooms stayed in the adapter for good, the acks were never called back, and the session
  // was lost).
  SocketPtr socket;
  bool ended = false;
  void end();
  ~InProgress() {
    if (ended) return;
    if (!alive_.expired()) {
      // (In a destructor: what abandon() may throw, saving a recovered session back, is said.)
      try {
        if (socket) n->abandon(socket);
      } catch (...) {
        std::fprintf(stderr, "shmio: letting go of a CONNECT whose middleware dropped next(): %s\n",
                     thrown_what().c_str());
      }
      if (auto c = client.lock()) c->refused(n->name());
    }
    end();
  }
};

void InProgress::end() {
  if (std::exchange(ended, true) || alive_.expired()) return;
  n->connect_ended();
}

void Namespace::connect_ended() {
  --connecting_;
  maybe_retire();
}

void Namespace::connect(const std::shared_ptr<Client>& client, json::object auth,
                        bool try_restore) {
  auto in_progress = std::make_shared<InProgress>(this, alive_, client);
  const auto& recovery = server_->options().connection_state_recovery;
  if (recovery && try_restore && restore(client, auth) && recovery->skip_middlewares)
    return in_progress->end();         // (admitted, refused or begun again by admit)
  if (!server_->open(client.get())) {  // closed meanwhile (restore may drain the ring)
    // (Its restored socket must not wait, keyed by this Client's address, for another Client
    // allocated there later, which would then take this session's id, rooms and data.)
    if (auto it = restoring_.find(client.get()); it != restoring_.end()) {
      abandon(it->second);
      restoring_.erase(it);
    }
    return;
  }
  // (The auth keeps recovery's pid and offset, as socket.io's handshake does: an app may read
  // them, and with recovery off they are the app's own fields.)
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
  in_progress->socket = s;
  // Run the middleware chain; each may call next() later (asynchronously). The chain holds itself
  // only weakly; a pending next() holds it strongly, so it lives exactly as long as some
  // middleware may still call next().
  // The chain is the middleware as it is now, as socket.io's (a middleware that calls use()
  // meanwhile adds to the next connection's chain, and cannot move this one's under it).
  auto run = std::make_shared<std::function<void(std::size_t)>>();
  std::weak_ptr<Client> wc = client;
  auto fns = std::make_shared<const std::vector<std::shared_ptr<const Middleware>>>(middleware_);
  // (The chain counts as this CONNECT in progress until it ends: it holds in_progress.)
  *run = [this, s, wc, fns, in_progress, weak_run = std::weak_ptr(run)](std::size_t i) {
    // (A Next the app kept and called after the server, and this namespace, went: nothing.)
    if (in_progress->gone()) return;
    auto c = wc.lock();
    if (!c) {  // (next() called after the client went away)
      abandon(s);
      return in_progress->end();
    }
    if (i == fns->size()) {
      admit(c, s);
      return in_progress->end();
    }
    auto called = std::make_shared<bool>(false);
    auto refuse = [this, wc, s, in_progress](const ConnectError& err) {
      if (in_progress->gone()) return;
      abandon(s);  // rooms a middleware may have joined
      in_progress->end();
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
      // (`next` may be called from another thread: detail::from_any_thread.)
      (*(*fns)[i])(
          s, detail::from_any_thread(server_->loop_.h, [run = weak_run.lock(), i, called,
                                                        refuse](std::optional<ConnectError> err) {
            if (*called || !run) return;
            *called = true;
            if (err) return refuse(*err);
            auto chain = run;  // the caller may destroy this Next while it runs
            (*chain)(i + 1);
          }));
    } catch (...) {  // (one that is no std::exception too: it left the event loop before)
      const std::string what = [] {
        try {
          throw;
        } catch (const std::exception& e) {
          return std::string(e.what());
        } catch (...) {
          return std::string("an exception that is no std::exception");
        }
      }();
      // Thrown after it called next(): the socket is on its way (or admitted already), and a
      // CONNECT_ERROR after its CONNECT would leave the client's socket destroyed and ours
      // connected. Said, and otherwise ignored.
      if (*called) {
        std::fprintf(stderr, "shmio: middleware of %s threw after calling next(): %s\n",
                     log_text(name_).c_str(), what.c_str());
        return;
      }
      *called = true;
      // Refused as next(error) would, but its text said here, not sent: an exception's text is
      // the program's (a database's address, a path), not meant for any client (before
      // 2026-12-07 it went out in the CONNECT_ERROR; a bug hunt). next(ConnectError) says what
      // the client is to read.
      std::fprintf(stderr, "shmio: middleware of %s threw: %s (refused: \"Internal error\")\n",
                   log_text(name_).c_str(), what.c_str());
      refuse(ConnectError{"Internal error", std::nullopt});
    }
  };
  (*run)(0);
}

Packet Namespace::connect_reply(const Socket& s) const {
  Packet ok;
  ok.type = PacketType::connect;
  ok.nsp = name_;
  json::object o{{"sid", s.id()}};
  if (!s.pid().empty()) o["pid"] = s.pid();
  ok.data = std::move(o);
  return ok;
}

// Whether a replay, with the CONNECT after it, fits in a session's queue at once (its bounds,
// SessionOptions::max_queued_packets / max_queued_bytes). One that does not would close the
// session ("transport error", a reason to recover by), and the client, recovering again from the
// same offset, would meet the same end until the offset left the log (max_disconnection_duration,
// 2 min by default); it gets a fresh session instead (before 2026-12-03: that loop).
// (What is queued already counts: a client recovering two namespaces in one turn gets both
// replays into one queue.)
bool Namespace::fits_a_queue(const engineio::Socket& conn, const std::vector<EncodedPacket>& missed,
                             std::size_t connect_bytes) const {
  const engineio::SessionOptions& bound = server_->options().engine;
  const engineio::Socket::Queued now = conn.queued();
  std::size_t frames = now.packets + 1, bytes = now.bytes + connect_bytes;
  if (frames > bound.max_queued_packets || bytes > bound.max_queued_bytes) return false;
  for (const EncodedPacket& p : missed) {
    frames += 1 + p.attachments.size();
    bytes += p.frame->polling_size();
    for (const engineio::FrameRef& a : p.attachments) bytes += a->polling_size();
    if (frames > bound.max_queued_packets || bytes > bound.max_queued_bytes) return false;
  }
  return true;
}

void Namespace::admit(const std::shared_ptr<Client>& c, const SocketPtr& s) {
  if (!server_->open(c.get())) return abandon(s);  // its connection closed meanwhile
  std::vector<EncodedPacket> missed;
  if (s->recovered_) {
    // What the socket missed, computed now (after any middleware) so that nothing broadcast
    // meanwhile falls between the replay and the join. If the log lost part of it, the socket
    // starts a fresh session instead: never a partial replay.
    auto replayed =
        adapter_->replay(s->x().restore_offset, s->x().restore_rooms, s->session_start_);
    // (The replay may read the ring, and what it reads may close this client: a cluster worker
    // lapped by the ring disconnects its clients. Admitted then, the socket would stay in the
    // namespace of a client that is gone.) A replay that succeeded and is not used is said so
    // to the adapter, which counted it as a recovery (before 2026-12-04 only the queue's refusal
    // was: shmio_recoveries_total counted these two).
    if (!server_->open(c.get())) {
      if (replayed)
        adapter_->replay_refused(s->x().restore_offset, "its connection closed during the replay");
      return abandon(s);
    }
    if (replayed && sockets_.count(s->id()) != 0) {
      adapter_->replay_refused(s->x().restore_offset, "a connected socket has its id");
      replayed.reset();
    }
    if (replayed && !fits_a_queue(*c->conn(), *replayed, 1 + encode(connect_reply(*s)).size())) {
      adapter_->replay_refused(s->x().restore_offset,
                               "what it missed is more than its session's queue takes at once "
                               "(max_queued_packets / max_queued_bytes)");
      replayed.reset();
    }
    if (!replayed || sockets_.count(s->id()) != 0) {
      // Not recovered after all: the client starts a fresh session, which goes through the
      // middleware as every fresh one does. Before 2026-12-03 this socket was turned fresh in
      // place: with skip_middlewares it was admitted without any middleware having run (no
      // auth check, and none of the data a middleware sets), and without, what the middleware
      // had done to it as a recovered socket (rooms joined under its old id) stayed behind.
      // (Its rooms go, unless a live socket has its id: they are that socket's. Its session is
      // not put back: what it missed cannot be replayed. It is forgotten, unless a live socket
      // has its id: a cluster's table keeps a taken entry, marked with its taker, until the taker
      // writes or erases it, and that entry is now the live socket's.)
      s->x().taken.reset();
      if (sockets_.count(s->id()) == 0) {
        adapter_->forget_session(s->pid());
        abandon(s);
      } else {
        s->gone_ = true;
      }
      return connect(c, s->handshake().auth, false);
    }
    missed = std::move(*replayed);
    // (Its taken session is let go once the socket is in its rooms, below: a connection closed
    // while it joins them puts it back, as abandon() does for one that left before admission.)
  } else if (!s->pid().empty()) {
    s->session_start_ = adapter_->session_start();  // (before its first join saves the session)
  }
  s->connected_ = true;
  s->admitted_ = true;
  sockets_.erase(s->id());  // (none: checked above) an entry's key is a view of its own socket's id
  sockets_.emplace(s->id(), s);
  // (A room listener may disconnect it as it joins: admitted no further, no CONNECT after its
  // DISCONNECT and no connection handlers for a closed socket. Or close its whole connection —
  // disconnect(true), the server's close — whose sockets this one is not yet among: it was then
  // added to a client already closed, and left connected in the namespace and its rooms after
  // the client and its connection were freed, for the next broadcast to write through; before
  // 2026-12-05, found by a review. It leaves as a socket refused does.)
  auto went = [&] {
    if (!s->connected_) {
      c->refused(name_);  // (no longer connecting: a CONNECT may come)
      return true;
    }
    if (server_->open(c.get())) return false;
    s->connected_ = false;
    // Its session, saved as connected by its first join (a cluster's table): a recovered one's
    // put back as it was taken (abandon), for the client's next attempt; a fresh one's
    // forgotten (its client never had its pid). Before 2026-12-06 the entry stayed "connected"
    // for this live worker, for good, and a recovered client's next attempt started afresh (no
    // test: a cluster's table, by reading; a helper's review).
    if (!(s->x_ && s->x_->taken) && !s->pid().empty()) adapter_->forget_session(s->pid());
    // Gone before its rooms are let go of, as closed() and abandon() mark it: a room listener
    // that joins it again as it leaves a room would otherwise keep del_all going for ever (the
    // event loop hung until 2026-12-07; a review).
    s->gone_ = true;
    remove(s->id());
    abandon(s);
    return true;
  };
  // A recovered socket gets what it missed before the CONNECT reply (the client emits those
  // events before its "connect" event, in order), and before it joins its rooms: what a room
  // listener broadcasts as it joins (a presence event) comes after the replay, in the order of
  // the offsets. (Before 2026-12-06 it came first: the client's last offset was then the last
  // replayed one, older than that event's, which its next recovery replayed again; a helper's
  // review.) Left: a room listener that disconnects it as it joins leaves these events with a
  // DISCONNECT and no CONNECT, and socket.io-client keeps such events buffered (only a CONNECT
  // emits them): at the app's next connect() they come before that session's own (no CONNECT
  // came before this change; rare: a listener refusing a socket as it rejoins its rooms).
  for (const EncodedPacket& p : missed) p.send_to(*c->conn());
  adapter_->add_all(s->id(), {s->id()});
  if (went()) return;
  if (s->x_ && !s->x_->restore_rooms.empty())
    adapter_->add_all(s->id(), std::exchange(s->x_->restore_rooms, {}));
  if (went()) return;
  if (s->x_) s->x_->taken.reset();  // (a recovered socket's session: used)
  c->add(name_, s);
  c->send(connect_reply(*s));
  // (A copy: a handler may add handlers, which would move these under the one running.)
  const auto handlers = connection_;
  for (const auto& h : handlers) {
    try {
      (*h)(s);
    } catch (...) {
      std::fprintf(stderr, "shmio: connection handler threw: %s\n", thrown_what().c_str());
      s->disconnect(false);
      return;
    }
  }
}

void Namespace::persist(const Socket& s) {
  adapter_->persist_session(
      SessionState{s.id(), s.pid(), adapter_->socket_rooms(s.id()), s.data_, {}, s.session_start_});
}

bool Namespace::restore(const std::shared_ptr<Client>& client, const json::object& auth) {
  const json::value* pid = auth.if_contains("pid");
  const json::value* offset = auth.if_contains("offset");
  if (pid == nullptr || !pid->is_string() || offset == nullptr || !offset->is_string())
    return false;
  auto session =
      adapter_->take_session(std::string(pid->get_string()), std::string(offset->get_string()));
  if (!session) return false;
  if (sockets_.count(session->id) != 0) {  // (its socket here after all: given back, unused)
    adapter_->put_back_session(std::move(*session));
    return false;
  }
  Handshake hs;
  hs.auth = auth;  // (whole, as for a fresh socket)
  hs.request = client->conn()->shared_request();
  hs.issued_ms = now_ms();
  auto s = std::make_shared<Socket>(*this, client, session->id, std::move(hs), session->pid);
  s->recovered_ = true;
  s->session_start_ = session->start;
  s->data_ = session->data;
  s->x().restore_rooms = session->rooms;
  s->x().restore_offset = std::string(offset->get_string());
  s->x().taken = std::move(session);
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
    if (opts.flags.offset) s.offset_sent_ = true;
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
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = opts.flags.timeout_ms > 0
                            ? now + std::chrono::milliseconds(opts.flags.timeout_ms)
                            : std::chrono::steady_clock::time_point::max();
  // The two callbacks once per broadcast, each target's entry sharing them (a copy of both per
  // target was a heap allocation of its own per target, or two).
  const auto answer = std::make_shared<std::pair<std::function<void(Args)>, std::function<void()>>>(
      std::move(on_ack), std::move(on_lost));
  std::size_t dropped = 0;
  std::vector<SocketPtr> listening;  // (targets with outgoing listeners: told after the walk)
  for (const SocketId& sid : adapter_->targets(opts)) {
    auto it = sockets_.find(sid);
    if (it == sockets_.end() || !it->second->connected_) continue;
    // Volatile: a client that cannot take it now is left out, and not counted among those whose
    // ack is awaited (socket.io drops the packet but still counts the client, so its broadcast
    // could only time out; before 2026-12-03 the packet went regardless of the flag).
    if (opts.flags.volatile_ && !it->second->conn_raw_->writable()) {
      ++dropped;
      continue;
    }
    auto pending = std::make_shared<Socket::PendingAck>();
    // (Past the deadline neither an answer nor a "lost" is passed on: PendingAck::settle.)
    pending->callback = [answer](std::optional<std::string> err, Args a) {
      if (!err)
        answer->first(std::move(a));
      else
        answer->second();
    };
    pending->deadline = deadline;
    auto& acks = it->second->x().acks;
    auto& due = it->second->x().broadcast_due;
    // Broadcast acks have no per-socket timer (their collector times out): a client that never
    // answers (no handler for the event) must not grow this map. Entries past their requester's
    // timeout go as the next broadcast's comes, and past 1,024 still pending the one due first
    // goes, its on_lost called (its requester is told: in a cluster, on another worker too, by a
    // "lost" answer through the ring). Both found through the heap of their deadlines: before
    // 2026-12-06 the sweep walked the map at each power of two from 16 on and the bound walked it
    // on every insert past 1,024 (a silent socket then cost each broadcast with acks 1,024 steps,
    // from about 34 such broadcasts a second at a 30 s timeout); before 2026-12-02 entries stayed
    // until 1,024 of them, about 200 KB per silent socket.
    const auto later = std::greater<>{};
    const auto live = [&acks](const std::pair<std::chrono::steady_clock::time_point,
                                              std::uint64_t>& d) {  // (its entry, or end())
      auto a = acks.find(d.second);
      return a != acks.end() && !a->second->timer && a->second->deadline == d.first ? a
                                                                                    : acks.end();
    };
    while (!due.empty()) {
      auto a = live(due.front());
      if (a != acks.end() && due.front().first > now) break;  // (the top: live, not due)
      if (a != acks.end()) acks.erase(a);  // (past its requester's timeout: nobody to tell)
      std::pop_heap(due.begin(), due.end(), later);
      due.pop_back();
    }
    if (acks.size() >= 1024 && !due.empty()) {
      auto first = live(due.front());  // (due first; among those of no timeout said, the oldest id)
      Socket::PendingAck::evict(server_->io(), std::move(first->second));
      acks.erase(first);
      std::pop_heap(due.begin(), due.end(), later);
      due.pop_back();
    }
    // (An entry of the same id — an ack left unanswered while its worker's ids wrapped, below
    // 2^31 — is told it was evicted, as above, not dropped without a word.)
    if (auto same = acks.find(id); same != acks.end()) {
      Socket::PendingAck::evict(server_->io(), std::move(same->second));
      acks.erase(same);
    }
    acks[id] = std::move(pending);
    if (due.size() > 2 * acks.size() + 64) {  // (mostly answered ones: rebuilt)
      due.clear();
      for (const auto& [aid, a] : acks)
        if (!a->timer) due.emplace_back(a->deadline, aid);
      std::make_heap(due.begin(), due.end(), later);
    } else {
      due.emplace_back(deadline, id);
      std::push_heap(due.begin(), due.end(), later);
    }
    ++n;
    p.send_to(*it->second->conn_raw_);
    if (it->second->has_outgoing_listeners()) [[unlikely]]
      listening.push_back(it->second);
  }
  stats_.messages_out += n;
  stats_.bytes_out += n * p.bytes();
  stats_.volatile_dropped += dropped;
  // (Once it is queued for every target, as deliver_local tells them: before 2026-12-06 each
  // target's listeners ran before the next target had it, so what a listener emitted to a later
  // target reached it first, and a later target it disconnected missed the broadcast; a review.)
  for (const SocketPtr& s : listening) s->notify_outgoing(p);
  return n;
}

std::uint64_t Namespace::next_ack_id() {
  return server_->next_ack_id();
}

// The names a server-side event may not take (socket.io's namespace RESERVED_EVENTS: a Node peer
// would run its connection handlers for them): std::invalid_argument, as serverSideEmit throws;
// a handler for one would never run. (Before 2026-12-03 they went out; a helper's review.)
static void check_server_side_event(const std::string& event) {
  if (is_reserved_server_side_event(event))
    throw std::invalid_argument("\"" + event + "\" is a reserved event name");
}

void Namespace::server_side_emit(const std::string& event, Args args) {
  check_server_side_event(event);
  adapter_->server_side_emit(event, std::move(args), nullptr);
}

void Namespace::server_side_emit_with_ack(const std::string& event, Args args,
                                          std::chrono::milliseconds timeout, AckCallback done) {
  check_server_side_event(event);
  // (Not called back once the Server is gone: BroadcastOperator::emit_with_ack says why.)
  auto collector = std::make_shared<AckCollector>(
      server_->io(), [life = std::weak_ptr<bool>(server_->callbacks_life_), cb = std::move(done)](
                         std::optional<std::string> e, std::vector<Args> rs) {
        if (!life.expired()) cb(std::move(e), std::move(rs));
      });
  collector->arm(timeout);
  adapter_->server_side_emit(event, std::move(args), collector);
  collector->start();
}

void Namespace::on_server_side(const std::string& event,
                               std::function<void(Args, std::function<void(Args)>)> handler) {
  check_server_side_event(event);
  server_side_.emplace(event, std::move(handler));
}

void Namespace::handle_server_side(const std::string& event, Args args,
                                   std::function<void(Args)> ack) {
  // The handlers as they are now, copied: one that adds a handler for the same event
  // (on_server_side) inserted it inside the range being walked, which then ran it in this same
  // call, and one that adds another each time never ended (before 2026-12-06; a review).
  std::vector<std::function<void(Args, std::function<void(Args)>)>> handlers;
  auto [first, last] = server_side_.equal_range(event);
  for (auto it = first; it != last; ++it) handlers.push_back(it->second);
  // The ack may be called from any thread, as an event's Ack (the same type): run, and let go
  // of, on the server's loop (the cluster's answers it into the ring and the node's books; before
  // 2026-12-07 a thread pool's call wrote there from its own thread, a data race; a review).
  if (ack) ack = detail::from_any_thread(server_->loop_.h, std::move(ack));
  for (const auto& h : handlers) {
    try {
      h(
          args, ack ? ack : [](Args) {});
    } catch (...) {
      std::fprintf(stderr, "shmio: server-side handler for '%s' threw: %s\n",
                   log_text(event).c_str(), thrown_what().c_str());
    }
  }
}

void Namespace::for_each_socket(const std::function<void(const SocketPtr&)>& f) const {
  std::vector<SocketPtr> all;
  all.reserve(sockets_.size());
  for (const auto& [id, s] : sockets_) all.push_back(s);
  for (const SocketPtr& s : all) f(s);
}
}  // namespace shmio::socketio
