// The Socket.IO v5 server API, shaped like socket.io's so that a socket.io user feels at home:
//
//   shmio::socketio::Server io(ctx, options);
//   io.of("/").use([](SocketPtr s, Next next) { next(std::nullopt); });
//   io.of("/").on_connection([&](SocketPtr s) {
//     s->join("room1");
//     s->on("chat", [&](SocketPtr s, Args args, Ack ack) {
//       io.of("/").to("room1").emit("chat", args);   // encoded once for all receivers
//       if (ack) ack(Args{{"ok"}});
//     });
//   });
//   io.listen("0.0.0.0", 3000);
//
// Rooms live behind the Adapter interface (in-process adapter here; the cluster adapter over the
// ring comes with issue #4). Handler exceptions are contained to their socket (it is disconnected
// with "server namespace disconnect" and the error logged).
// Thread-safety: everything on the io_context's thread.
#pragma once

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shmio/engineio/server.hpp"
#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"

namespace shmio::socketio {

class Socket;
class Namespace;
using SocketPtr = std::shared_ptr<Socket>;
using Ack = std::function<void(Args)>;  // empty when the client asked for no ack
using EventHandler = std::function<void(const SocketPtr&, Args, Ack)>;

struct ConnectError {
  std::string message;
  std::optional<boost::json::value> data;
};
using Next = std::function<void(std::optional<ConnectError>)>;
using Middleware = std::function<void(const SocketPtr&, Next)>;

// A packet in its wire form, shared by every receiver: the Engine.IO text frame ("4" + the
// Socket.IO packet) and the binary attachments that follow it, each a Frame (engineio/frame.hpp)
// that every receiving session's queue references (no copy, no atomic count per receiver).
// `compress` is socket.io's compress flag (used only with permessage-deflate).
struct EncodedPacket {
  engineio::FrameRef frame;
  std::vector<engineio::FrameRef> attachments;
  static EncodedPacket from(std::string_view eio_text, const std::vector<Binary>& attachments,
                            bool compress = true);
  std::size_t bytes() const noexcept;  // frame and attachments, payload bytes
  // Queues references to the frame and its attachments on a session (no copy, no allocation,
  // no atomic count): how every receiver of a broadcast gets it.
  void send_to(engineio::Socket& conn) const {
    conn.send_frame(frame);
    for (const engineio::FrameRef& b : attachments) conn.send_frame(b);
  }
};
// Encodes a packet once into the form every receiver shares.
EncodedPacket encode_shared(const Packet& p, bool compress = true);

// Calls f(Socket&) without owning it (a function_ref): the delivery path's per-target callback.
class TargetFn {
 public:
  template <class F>
  TargetFn(F& f) noexcept  // NOLINT: implicit on purpose
      : obj_(&f), call_([](void* o, Socket& s) { (*static_cast<F*>(o))(s); }) {}
  void operator()(Socket& s) const { call_(obj_, s); }

 private:
  void* obj_;
  void (*call_)(void*, Socket&);
};

// What connection state recovery keeps of a socket that went away.
struct SessionState {
  SocketId id;
  std::string pid;
  std::set<Room> rooms;
  boost::json::value data;
};

// A socket as fetch_sockets(callback) returns it, on this process or another worker: a snapshot
// of id, handshake, rooms and data, and operations that reach the socket wherever it lives
// (they are broadcasts to the socket's own room, as in socket.io).
class RemoteSocket {
 public:
  RemoteSocket(Namespace& nsp, SocketId id, Handshake hs, std::set<Room> rooms,
               boost::json::value data)
      : nsp_(&nsp),
        id_(std::move(id)),
        handshake_(std::move(hs)),
        rooms_(std::move(rooms)),
        data_(std::move(data)) {}
  const SocketId& id() const noexcept { return id_; }
  const Handshake& handshake() const noexcept { return handshake_; }
  const std::set<Room>& rooms() const noexcept { return rooms_; }
  const boost::json::value& data() const noexcept { return data_; }
  void emit(const std::string& event, Args args = {}) const;
  void join(const Room& room) const;
  void leave(const Room& room) const;
  void disconnect(bool close = false) const;

 private:
  Namespace* nsp_;
  SocketId id_;
  Handshake handshake_;
  std::set<Room> rooms_;
  boost::json::value data_;
};

using AckCallback =
    std::function<void(std::optional<std::string> error, std::vector<Args> responses)>;

// Collects the answers of a request sent to several sources (this process's sockets, other
// workers): done when every source has said how many answers to expect and all of them came, or
// when the timer fires ("operation has timed out", with what arrived). A source that can no longer
// answer (a dead worker, a socket that disconnected) is dropped with `fail_source`.
class AckCollector : public std::enable_shared_from_this<AckCollector> {
 public:
  AckCollector(boost::asio::io_context& io, AckCallback done);
  void start(std::chrono::milliseconds timeout);
  void expect(std::uint64_t source, std::size_t answers);  // the source's count is known
  void answer(std::uint64_t source, Args args);
  void fail_source(std::uint64_t source, bool missing_answers);
  void lose(std::uint64_t source);  // one expected answer of the source will never come
  void add_pending_source(std::uint64_t source);  // its count is still to come
  bool done() const noexcept { return done_; }
  void finish(std::optional<std::string> error);

 private:
  void check();
  struct Source {
    bool counted = false;
    std::size_t expected = 0, received = 0, lost = 0;
  };
  std::unordered_map<std::uint64_t, Source> sources_;
  std::vector<Args> responses_;
  bool missing_ = false, done_ = false;
  AckCallback done_cb_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

// Where a namespace keeps its rooms, and how broadcasts and the other operations reach sockets.
// The rooms index is this process's; the operations below default to this process only. The
// cluster adapter (server/cluster) overrides them to reach every worker through the ring.
class Adapter {
 public:
  explicit Adapter(Namespace& nsp) : nsp_(&nsp) {}
  virtual ~Adapter() = default;
  // The local rooms index.
  virtual void add_all(const SocketId& id, const std::set<Room>& rooms) = 0;
  virtual void del(const SocketId& id, const Room& room) = 0;
  virtual void del_all(const SocketId& id) = 0;
  virtual std::set<Room> socket_rooms(const SocketId& id) const = 0;
  // The ids a broadcast with these options reaches, on this process.
  virtual std::vector<SocketId> targets(const BroadcastOptions& opts) const = 0;
  // The delivery path: calls f for every connected local socket a broadcast with these options
  // reaches, once each, without copying ids or allocating (InMemoryAdapter resolves rooms to
  // socket handles). f must not change the rooms index (it queues output, nothing more). The
  // default goes through targets().
  virtual void for_each_target(const BroadcastOptions& opts, TargetFn f);
  virtual std::set<Room> rooms() const = 0;
  // Rooms joined (not counting each socket's own room): rooms().size() less the own rooms by
  // default; adapters that know it cheaply say it.
  virtual std::size_t room_count() const;

  // Operations on every server. Returns the sockets reached on this process.
  virtual std::size_t broadcast(Packet p, const BroadcastOptions& opts);
  // p.id is set; each answer, then the end, reported to `collector`.
  virtual void broadcast_with_ack(Packet p, const BroadcastOptions& opts,
                                  const std::shared_ptr<AckCollector>& collector);
  virtual void add_sockets(const BroadcastOptions& opts, const std::set<Room>& rooms);
  virtual void del_sockets(const BroadcastOptions& opts, const std::set<Room>& rooms);
  virtual void disconnect_sockets(const BroadcastOptions& opts, bool close);
  virtual void fetch_sockets(const BroadcastOptions& opts,
                             std::function<void(std::vector<RemoteSocket>)> done);
  // To the namespace's server-side handlers of every *other* server.
  virtual void server_side_emit(const std::string& event, Args args,
                                const std::shared_ptr<AckCollector>& collector);
  virtual std::size_t server_count() const { return 1; }

  // Connection state recovery. The defaults keep a bounded log in this process.
  virtual void persist_session(SessionState s) = 0;
  // The session of `pid`, if it is known and every packet after `offset` can still be replayed;
  // removes it.
  virtual std::optional<SessionState> take_session(const std::string& pid,
                                                   const std::string& offset) = 0;
  // The broadcasts after `offset` that a socket in `rooms` would have received, in order; nullopt
  // if some of them are no longer kept (never a partial replay).
  virtual std::optional<std::vector<EncodedPacket>> replay(const std::string& offset,
                                                           const std::set<Room>& rooms) = 0;
  // A socket with a session closed for a reason that does not allow recovery (a clean
  // disconnect): no server may restore it.
  virtual void forget_session(const std::string& /*pid*/) {}

  // The adapter's events (socket.io's adapter.on("create-room" | "delete-room" | "join-room" |
  // "leave-room")), for this process's rooms index: a room created by its first member (a
  // socket's own room, named by its id, too), a socket joining, leaving, a room deleted with its
  // last member. `id` is the socket for join/leave, empty for create/delete. The listener must not
  // change the rooms index.
  enum class RoomEvent { create_room, delete_room, join_room, leave_room };
  using RoomListener = std::function<void(RoomEvent event, const Room& room, const SocketId& id)>;
  void on_room_event(RoomListener listener) { room_listeners_.push_back(std::move(listener)); }

 protected:
  void notify(RoomEvent e, const Room& room, const SocketId& id) const {
    for (const RoomListener& l : room_listeners_) l(e, room, id);
  }
  bool room_events() const noexcept { return !room_listeners_.empty(); }
  std::vector<RoomListener> room_listeners_;

  // Delivers a broadcast with acks to this process's targets; their answers (and the count to
  // expect) go to `collector` as source 0.
  void ack_locally(const EncodedPacket& p, const BroadcastOptions& opts, std::uint64_t id,
                   const std::shared_ptr<AckCollector>& collector);
  Namespace* nsp_;
};

// The in-process adapter: a rooms index (room -> ids, id -> rooms), and for connection state
// recovery a bounded log of broadcasts and the sessions of recently disconnected sockets.
class InMemoryAdapter : public Adapter {
 public:
  explicit InMemoryAdapter(Namespace& nsp);
  void add_all(const SocketId& id, const std::set<Room>& rooms) override;
  void del(const SocketId& id, const Room& room) override;
  void del_all(const SocketId& id) override;
  std::set<Room> socket_rooms(const SocketId& id) const override;
  std::vector<SocketId> targets(const BroadcastOptions& opts) const override;
  void for_each_target(const BroadcastOptions& opts, TargetFn f) override;
  std::set<Room> rooms() const override;
  std::size_t room_count() const override { return rooms_.size(); }
  std::size_t broadcast(Packet p, const BroadcastOptions& opts) override;
  void persist_session(SessionState s) override;
  std::optional<SessionState> take_session(const std::string& pid,
                                           const std::string& offset) override;
  std::optional<std::vector<EncodedPacket>> replay(const std::string& offset,
                                                   const std::set<Room>& rooms) override;

 private:
  struct StoredPacket {
    std::string offset;
    BroadcastOptions opts;
    EncodedPacket packet;
    std::size_t bytes;
    std::chrono::steady_clock::time_point at;
  };
  struct Saved {
    SessionState state;
    std::chrono::steady_clock::time_point at;
  };
  void prune(std::chrono::steady_clock::time_point now);
  // The rooms index: every socket id with its rooms and, once the socket is admitted, its handle;
  // each room a dense array of its members (a broadcast walks contiguous pointers, not a hash
  // set's nodes) and reaches sockets through their handles: no id is hashed or copied per
  // receiver. A member knows its index in each of its rooms' arrays (swap-remove on leave).
  // `mark` dedupes a socket in several target rooms and skips excepted ones (the broadcast's
  // epoch), with no set built.
  struct RoomLess {
    bool operator()(const std::pair<Room, std::size_t>& a, const Room& b) const noexcept {
      return a.first < b;
    }
  };
  struct Member {
    // (room, index in rooms_[room]), sorted by room: a socket is in few rooms, and a sorted
    // vector is 24 bytes with no allocation while empty where a map was 48 and a node per room.
    std::vector<std::pair<Room, std::size_t>> rooms;
    std::vector<std::pair<Room, std::size_t>>::iterator find_room(const Room& r) {
      auto it = std::lower_bound(rooms.begin(), rooms.end(), r, RoomLess());
      return it != rooms.end() && it->first == r ? it : rooms.end();
    }
    const SocketId* id = nullptr;  // the map's key
    Socket* socket = nullptr;      // set while the socket is in the namespace (admitted)
    std::uint64_t mark = 0;
    // In the room named by its own id (every admitted socket is): a flag rather than an entry
    // in `rooms` and in rooms_ (that was a string key, a map node and an array per socket).
    bool own_room = false;
  };
  void unlink(const Room& room, std::size_t index);
  Member* own_room_member(const Room& room);
  std::unordered_map<Room, std::vector<Member*>> rooms_;
  std::unordered_map<SocketId, Member> sids_;  // node-based: Member addresses are stable
  std::uint64_t epoch_ = 0;
  std::deque<StoredPacket> stored_;
  std::size_t stored_bytes_ = 0;
  std::unordered_map<std::string, Saved> saved_;
  std::string offset_prefix_;  // offsets are unique to this adapter instance
  std::uint64_t next_offset_ = 0;
};

// Whether a broadcast with these options reaches a socket in `rooms` (its own id included).
bool reaches(const BroadcastOptions& opts, const std::set<Room>& rooms);

// io.to(...).except(...).emit(...): built by value, applied on emit.
class BroadcastOperator {
 public:
  BroadcastOperator(Namespace& nsp, BroadcastOptions opts) : nsp_(&nsp), opts_(std::move(opts)) {}
  BroadcastOperator to(const Room& room) &&;
  BroadcastOperator in(const Room& room) && { return std::move(*this).to(room); }
  BroadcastOperator except(const Room& room) &&;
  BroadcastOperator volatile_() &&;
  BroadcastOperator local() &&;
  BroadcastOperator compress(bool on) &&;
  // The time emit_with_ack waits for every target's ack (default 5 s, as an operator's timeout).
  BroadcastOperator timeout(std::chrono::milliseconds t) &&;
  // Encodes the packet once and writes it to every target. Returns how many sockets it reached.
  std::size_t emit(const std::string& event, Args args = {}) const;
  // A broadcast with acks (on every worker): `callback(error, responses)` once every target has
  // answered (error empty), or at the timeout / when the last missing target disconnects (error
  // "operation has timed out") with the responses that did arrive.
  void emit_with_ack(const std::string& event, Args args, AckCallback callback) const;
  // This process's matching sockets (socket.io's local().fetchSockets()).
  std::vector<SocketPtr> fetch_sockets() const;
  // Every worker's matching sockets (socket.io's fetchSockets()): `done` gets them once every
  // worker answered or died, or at the operator's timeout with what arrived.
  void fetch_sockets(std::function<void(std::vector<RemoteSocket>)> done) const;
  // These act on every worker (on this process only with local()).
  void sockets_join(const Room& room) const;
  void sockets_leave(const Room& room) const;
  void disconnect_sockets(bool close = false) const;

 private:
  Namespace* nsp_;
  BroadcastOptions opts_;
  std::chrono::milliseconds timeout_{5000};
};

class Client;

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  Socket(Namespace& nsp, std::shared_ptr<Client> client, SocketId id, Handshake hs,
         std::string pid = {});

  const SocketId& id() const noexcept { return id_; }
  Namespace& nsp() const noexcept { return *nsp_; }
  const Handshake& handshake() const noexcept { return handshake_; }
  boost::json::value& data() noexcept { return data_; }
  bool connected() const noexcept { return connected_; }
  std::set<Room> rooms() const;
  // True if this socket was restored by connection state recovery (same id, rooms, data).
  bool recovered() const noexcept { return recovered_; }
  const std::string& pid() const noexcept { return pid_; }

  void join(const Room& room);
  void join(const std::vector<Room>& rooms);  // several at once (socket.join([...]))
  void leave(const Room& room);

  void on(const std::string& event, EventHandler handler);
  void once(const std::string& event, EventHandler handler);
  void off(const std::string& event);
  // Catch-all listeners for incoming events (socket.onAny/prependAny/offAny): each returns an id
  // for off_any(id) (a std::function cannot be compared); off_any() removes them all.
  using AnyListener = std::function<void(const SocketPtr&, const std::string&, const Args&)>;
  using ListenerId = std::uint64_t;
  ListenerId on_any(AnyListener handler);
  ListenerId prepend_any(AnyListener handler);
  void off_any(ListenerId id);
  void off_any();
  // The same for the events sent to this client (socket.onAnyOutgoing/offAnyOutgoing): its own
  // emits and every broadcast that reaches it, with the event name and arguments, as they are
  // queued. A broadcast's listeners run once it has been queued for every target.
  ListenerId on_any_outgoing(AnyListener handler);
  void off_any_outgoing(ListenerId id);
  void off_any_outgoing();
  // socket.on("disconnecting"): runs when the socket is about to leave, before it leaves its
  // rooms (rooms() still lists them), with the reason; then the disconnect handlers run.
  void on_disconnecting(std::function<void(const SocketPtr&, const std::string& reason)> handler);
  void on_disconnect(std::function<void(const SocketPtr&, const std::string& reason)> handler);

  // socket.use: middleware for this socket's incoming events, run in order after the on_any
  // listeners and before the event's handlers (as socket.io). Each calls `next()` to let the
  // event on (it may change the arguments first), or `next(message)` to stop it: the handlers do
  // not run and the socket's on_error handlers get the message (socket.io's socket.on("error");
  // nothing is sent to the client). `next` may be called later (asynchronously); a middleware
  // that throws stops the event as next(what()) would. Events of a socket that disconnected
  // meanwhile are dropped.
  using EventMiddleware = std::function<void(const SocketPtr&, const std::string& event, Args& args,
                                             std::function<void(std::optional<std::string>)> next)>;
  void use(EventMiddleware middleware);
  void on_error(std::function<void(const SocketPtr&, const std::string& message)> handler);

  // socket.conn: this client's Engine.IO connection (nullptr once closed), and the name of its
  // transport now ("polling" or "websocket"; it changes when the client upgrades).
  const engineio::Socket* conn() const noexcept { return connected_ ? conn_raw_ : nullptr; }
  std::string_view transport() const noexcept;
  // socket.conn.on("upgrade"): the client's connection moved from polling to WebSocket.
  void on_upgrade(std::function<void(const SocketPtr&)> handler);

  // socket.volatile / socket.compress(false) / socket.timeout(ms), then emit or emit_with_ack:
  //   s->volatile_().emit("tick", ...);  s->timeout(2s).emit_with_ack("q", args, cb);
  class Emitter {
   public:
    explicit Emitter(SocketPtr s) : s_(std::move(s)) {}
    // Dropped (emit returns false) unless the connection can take it now, as socket.io's
    // volatile: nothing is waiting to be written.
    Emitter volatile_() && {
      volatile_flag_ = true;
      return std::move(*this);
    }
    Emitter compress(bool on) && {
      compress_ = on;
      return std::move(*this);
    }
    // The time emit_with_ack waits for the ack (default 5 s).
    Emitter timeout(std::chrono::milliseconds t) && {
      timeout_ = t;
      return std::move(*this);
    }
    bool emit(const std::string& event, Args args = {}) const;
    bool emit_with_ack(const std::string& event, Args args,
                       std::function<void(std::optional<std::string> error, Args)> callback) const;

   private:
    bool dropped() const noexcept;
    SocketPtr s_;
    bool volatile_flag_ = false, compress_ = true;
    std::chrono::milliseconds timeout_{5000};
  };
  Emitter volatile_() { return Emitter(shared_from_this()).volatile_(); }
  Emitter compress(bool on) { return Emitter(shared_from_this()).compress(on); }
  Emitter timeout(std::chrono::milliseconds t) { return Emitter(shared_from_this()).timeout(t); }

  // To this client only. Returns false if it is disconnected.
  bool emit(const std::string& event, Args args = {});
  // With an ack: `callback(error, args)`; error is set ("operation has timed out") if no ack came
  // within `timeout`.
  bool emit_with_ack(const std::string& event, Args args, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<std::string> error, Args)> callback);

  // Broadcasts from this socket exclude it (socket.broadcast / socket.to(room)).
  BroadcastOperator to(const Room& room);
  BroadcastOperator except(const Room& room);
  BroadcastOperator broadcast();

  // Disconnects this socket from its namespace ("server namespace disconnect"), or the whole
  // client (every namespace) with close = true.
  void disconnect(bool close = false);

  // Closes the client's connection as a transport failure would ("forced close", a reason that
  // keeps the session for connection state recovery): the client reconnects by itself and, with
  // recovery, gets its session back wherever it lands (used by the cluster to rebalance).
  void drop_connection();

  // Internal: called by the Client and the Namespace.
  std::shared_ptr<Client> client_of() const { return client_.lock(); }
  void upgraded();
  void on_packet(const Packet& p);
  void closed(const std::string& reason);

 private:
  void dispatch(const std::string& event, Args args, Ack ack);
  struct Chain;
  void run_middleware(const std::shared_ptr<Chain>& chain);
  void run_handlers(const std::string& event, Args args, Ack ack);
  void error(const std::string& message);
  // (Inline: asked per receiver on the delivery path.)
  bool has_outgoing_listeners() const noexcept { return x_ && !x_->any_outgoing.empty(); }
  struct Extras;
  using Listeners = std::vector<std::pair<ListenerId, AnyListener>>;
  ListenerId add_listener(Listeners Extras::*list, AnyListener h, bool first);
  void remove_listener(Listeners Extras::*list, std::optional<ListenerId> id);  // none: all
  void notify_outgoing(const std::string& event, const Args& args);
  void notify_outgoing(const EncodedPacket& p);
  void send_packet(Packet p, bool compress = true);
  bool emit_packet(Packet p, std::chrono::milliseconds timeout,
                   std::function<void(std::optional<std::string>, Args)> callback, bool compress);

  friend class Namespace;
  friend class InMemoryAdapter;
  Namespace* nsp_;
  std::weak_ptr<Client> client_;
  // Its Engine.IO session without a count: used by the delivery path. Valid while the socket is
  // in its namespace (the client removes its sockets before it goes away).
  engineio::Socket* conn_raw_ = nullptr;
  SocketId id_;
  std::string pid_;
  Handshake handshake_;
  boost::json::value data_;
  bool connected_ = false;  // true once admitted (after the middleware)
  bool recovered_ = false;
  struct PendingAck;
  friend class Adapter;
  // What many sockets never have — handlers of their own (apps that use Namespace::on_event),
  // acks in flight, a recovered session's state — in one allocation made on first use: an idle
  // socket without them does not pay ~230 bytes of empty containers.
  struct Extras {
    std::multimap<std::string, std::pair<EventHandler, bool /*once*/>> handlers;
    Listeners any;
    Listeners any_outgoing;
    ListenerId next_listener = 1;
    std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_disconnecting;
    std::vector<EventMiddleware> use;
    std::vector<std::function<void(const SocketPtr&)>> on_upgrade;
    std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_error;
    std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_disconnect;
    std::unordered_map<std::uint64_t, std::shared_ptr<PendingAck>> acks;
    std::set<Room> restore_rooms;  // recovered: rejoined when admitted
    std::string restore_offset;    // recovered: replayed from here when admitted
  };
  Extras& x() {
    if (!x_) x_ = std::make_unique<Extras>();
    return *x_;
  }
  std::unique_ptr<Extras> x_;
};

class Server;

class Namespace {
 public:
  Namespace(Server& server, std::string name);
  const std::string& name() const noexcept { return name_; }
  Server& server() noexcept { return *server_; }

  void use(Middleware m) { middleware_.push_back(std::move(m)); }
  void on_connection(std::function<void(const SocketPtr&)> handler) {
    connection_.push_back(std::move(handler));
  }
  // Event handlers for every socket of this namespace, registered once: the same as calling
  // socket->on(event, handler) in a connection handler, without a copy of the handler table per
  // socket (a shmio extension; with a fixed set of events and many connections it is most of an
  // idle connection's memory). They run after the socket's own handlers for the event.
  void on_event(const std::string& event, EventHandler handler) {
    events_.emplace(event, std::move(handler));
  }

  BroadcastOperator to(const Room& room) { return BroadcastOperator(*this, {}).to(room); }
  BroadcastOperator in(const Room& room) { return to(room); }
  BroadcastOperator except(const Room& room) { return BroadcastOperator(*this, {}).except(room); }
  std::size_t emit(const std::string& event, Args args = {}) {
    return BroadcastOperator(*this, {}).emit(event, std::move(args));
  }
  // The broadcast operators directly on the namespace (io.volatile.emit, io.local.emit, ...).
  BroadcastOperator volatile_() { return BroadcastOperator(*this, {}).volatile_(); }
  BroadcastOperator local() { return BroadcastOperator(*this, {}).local(); }
  BroadcastOperator compress(bool on) { return BroadcastOperator(*this, {}).compress(on); }
  BroadcastOperator timeout(std::chrono::milliseconds t) {
    return BroadcastOperator(*this, {}).timeout(t);
  }
  // fetch_sockets: two scopes, told apart by their signature —
  //   fetch_sockets()      this process's sockets, now (socket.io's io.local.fetchSockets());
  //   fetch_sockets(done)  every worker's, asynchronously, as RemoteSocket values (socket.io's
  //                        io.fetchSockets() with a cluster adapter).
  std::vector<SocketPtr> fetch_sockets() { return BroadcastOperator(*this, {}).fetch_sockets(); }
  void fetch_sockets(std::function<void(std::vector<RemoteSocket>)> done) {
    BroadcastOperator(*this, {}).fetch_sockets(std::move(done));
  }
  // Calls `f` for each socket of this process in the namespace (io.of(n).sockets, a Map in
  // socket.io). `f` may disconnect sockets: it runs over a copy.
  void for_each_socket(const std::function<void(const SocketPtr&)>& f) const;
  void sockets_join(const Room& r) { BroadcastOperator(*this, {}).sockets_join(r); }
  void sockets_leave(const Room& r) { BroadcastOperator(*this, {}).sockets_leave(r); }
  void disconnect_sockets(bool close = false) {
    BroadcastOperator(*this, {}).disconnect_sockets(close);
  }

  // serverSideEmit: to the handlers registered with on_server_side() on every other server.
  void server_side_emit(const std::string& event, Args args = {});
  // With acks: `done(error, responses)` when every other server answered, or at the timeout.
  void server_side_emit_with_ack(const std::string& event, Args args,
                                 std::chrono::milliseconds timeout, AckCallback done);
  void on_server_side(const std::string& event,
                      std::function<void(Args, std::function<void(Args)> ack)> handler);
  std::size_t server_count() const { return adapter_->server_count(); }

  Adapter& adapter() noexcept { return *adapter_; }
  SocketPtr socket(const SocketId& id) const;
  // The admitted socket with this id, without a count (nullptr if none).
  Socket* find_socket(const SocketId& id) const;
  std::size_t size() const noexcept { return sockets_.size(); }
  // What this namespace sent on this process (for /metrics): Socket.IO event packets to its
  // sockets (a broadcast counts once per socket reached) and their payload bytes (attachments
  // included), and volatile packets dropped for sockets that could not take them.
  struct Stats {
    std::uint64_t messages_out = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t volatile_dropped = 0;
  };
  const Stats& stats() const noexcept { return stats_; }
  // Rooms joined on this process (a socket's own room not counted).
  std::size_t room_count() const { return adapter_->room_count(); }

  // Internal: the client's CONNECT for this namespace.
  void connect(const std::shared_ptr<Client>& client, boost::json::object auth);
  void admit(const std::shared_ptr<Client>& client, const SocketPtr& s);
  void remove(const SocketId& id);
  // Broadcasts through the adapter; returns the sockets reached on this process.
  std::size_t deliver(Packet p, const BroadcastOptions& opts);
  // Writes an encoded packet to this process's targets of `opts`; returns the count.
  std::size_t deliver_local(const EncodedPacket& p, const BroadcastOptions& opts);
  // The same, registering `id` as a broadcast ack on each target (answers go to `on_ack`).
  std::size_t deliver_local_with_ack(const EncodedPacket& p, const BroadcastOptions& opts,
                                     std::uint64_t id, std::function<void(Args)> on_ack,
                                     std::function<void()> on_lost);
  // Ack ids: unique across the workers of a cluster (see ServerOptions::ack_id_base).
  std::uint64_t next_ack_id();
  // A server-side event from another server.
  void handle_server_side(const std::string& event, Args args, std::function<void(Args)> ack);

 private:
  Server* server_;
  std::string name_;
  std::vector<Middleware> middleware_;
  std::vector<std::function<void(const SocketPtr&)>> connection_;
  friend class Socket;
  void persist(const Socket& s);
  bool restore(const std::shared_ptr<Client>& client, const boost::json::object& auth);

  // Keyed by a view of the socket's own id (it does not change while the socket is here).
  std::unordered_map<std::string_view, SocketPtr> sockets_;
  Stats stats_;
  std::multimap<std::string, EventHandler> events_;  // on_event: for every socket
  std::unique_ptr<Adapter> adapter_;
  std::unordered_map<const Client*, SocketPtr> restoring_;  // recovered, awaiting middleware
  std::multimap<std::string, std::function<void(Args, std::function<void(Args)>)>> server_side_;
};

// Connection state recovery (as socket.io's connectionStateRecovery option): a client that
// reconnects within max_disconnection_duration gets its id, rooms and data back, and every
// broadcast it missed, before the CONNECT reply.
struct RecoveryOptions {
  std::chrono::milliseconds max_disconnection_duration{120000};
  bool skip_middlewares = true;
  // Broadcasts kept for replay, per namespace, at most (older ones are also dropped after
  // max_disconnection_duration). 65536 chat-sized packets are a few MiB; a reconnect needing an
  // older one fails cleanly (a fresh session), never with a partial replay.
  std::size_t max_stored_packets = 65536;
  // And in bytes of their encoded form: 64 MiB, so that large broadcasts cannot pin more.
  std::size_t max_stored_bytes = 64u << 20;
};

struct ServerOptions {
  std::string path = "/socket.io/";
  std::optional<RecoveryOptions> connection_state_recovery;
  engineio::SessionOptions engine;  // pingInterval, pingTimeout, upgradeTimeout, maxPayload
  std::chrono::milliseconds connect_timeout{45000};  // no namespace joined by then: closed
  bool allow_polling = true;
  bool allow_websocket = true;
  std::optional<engineio::PerMessageDeflate> per_message_deflate;  // perMessageDeflate: off
  std::string cors_origin;
  bool cors_credentials = false;
  std::function<bool(const std::vector<std::pair<std::string, std::string>>&)> allow_request;
  // Plain HTTP outside `path` (the chat demo's page and client bundle): see engineio.
  std::function<std::optional<engineio::ServerOptions::StaticResponse>(const std::string&)>
      static_files;
  // The application's own HTTP endpoints beside Socket.IO on the same port: see engineio.
  std::function<std::optional<engineio::ServerOptions::HttpResponse>(
      const engineio::ServerOptions::HttpRequest&)>
      routes;
  // io.engine.on("initial_headers" / "headers" / "connection_error"): see engineio.
  std::function<void(engineio::ServerOptions::Headers&,
                     const engineio::ServerOptions::HttpRequest&)>
      initial_headers, headers;
  std::function<void(const engineio::ServerOptions::ConnectionError&)> connection_error;
  // allowRequest(req, callback), asynchronous: see engineio.
  std::function<void(const engineio::ServerOptions::HttpRequest&,
                     std::function<void(std::optional<std::string>)>)>
      allow_request_async;
  // The adapter of each namespace (default: InMemoryAdapter). The cluster sets its own.
  std::function<std::unique_ptr<Adapter>(Namespace&)> adapter;
  // Ack ids the server sends are ack_id_base + k * ack_id_stride: with one base per worker and a
  // stride >= the number of workers, an id is never used by two workers, so a client can answer a
  // broadcast from one worker and an emit from another without the answers mixing up.
  std::uint64_t ack_id_base = 0;
  std::uint64_t ack_id_stride = 1;
  // Passed to the Engine.IO layer (see engineio::ServerOptions).
  std::string id_prefix;
  bool reuse_port = false;
  bool io_uring = true;                 // see engineio::ServerOptions::io_uring
  std::size_t flush_budget = 1 << 20;   // see engineio::ServerOptions::flush_budget
  std::size_t read_budget = 256 << 10;  // see engineio::ServerOptions::read_budget
  std::function<bool(const std::string&)> is_foreign;
  std::function<void(const std::string&, int, std::string)> hand_off;
  std::function<int()> steer;           // engineio::ServerOptions::steer (rebalancing)
  std::size_t descriptor_reserve = 64;  // see engineio::ServerOptions
  std::chrono::milliseconds first_request_timeout{10000};  // see engineio::ServerOptions
  std::function<void(int, int, std::string)> hand_off_to;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options = {});
  ~Server();

  Namespace& of(const std::string& name);
  // Dynamic namespaces: a CONNECT to an unknown name matching the predicate creates it, and
  // `setup` prepares it (middleware, connection handlers) before the socket connects.
  void of(std::function<bool(const std::string&)> predicate, std::function<void(Namespace&)> setup);
  Namespace* find(const std::string& name);
  // The names of the namespaces this server has now (static ones, and dynamic ones created).
  std::vector<std::string> namespace_names() const;
  // io.on("new_namespace"): called with each namespace created from now on (by of(name), or a
  // dynamic one created by a client's CONNECT), before any socket joins it.
  void on_new_namespace(std::function<void(Namespace&)> handler) {
    new_namespace_.push_back(std::move(handler));
  }

  // Shortcuts on the main namespace.
  void use(Middleware m) { of("/").use(std::move(m)); }
  void on_connection(std::function<void(const SocketPtr&)> h) {
    of("/").on_connection(std::move(h));
  }
  BroadcastOperator to(const Room& room) { return of("/").to(room); }
  std::size_t emit(const std::string& event, Args args = {}) {
    return of("/").emit(event, std::move(args));
  }

  std::uint16_t listen(const std::string& address, std::uint16_t port);
  void close();  // every client: "server shutting down"
  // The same; `done` runs on the server's thread once every client was told and the listener
  // closed (the last writes may still be in flight).
  void close(std::function<void()> done);
  // Disconnects every client of this process with `reason` (a lapped worker: "transport close",
  // so that they reconnect and recover elsewhere). Returns how many clients.
  std::size_t disconnect_all(const std::string& reason);
  engineio::Server& engine() noexcept { return *engine_; }
  // Whether a client (an Engine.IO session) is still open.
  bool open(const Client* c) const;
  // Ack ids for this server's packets (see ServerOptions::ack_id_base): one counter for every
  // namespace, started at a random point so that a restarted worker does not reuse recent ids.
  std::uint64_t next_ack_id();
  std::size_t client_count() const noexcept { return clients_.size(); }
  boost::asio::io_context& io() noexcept { return io_; }
  const ServerOptions& options() const noexcept { return options_; }

 private:
  friend class Client;
  boost::asio::io_context& io_;
  ServerOptions options_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  std::vector<std::pair<std::function<bool(const std::string&)>, std::function<void(Namespace&)>>>
      dynamic_;
  std::vector<std::shared_ptr<Client>> clients_;  // the open ones (a Client knows its slot)
  std::unique_ptr<engineio::Server> engine_;
  std::uint64_t next_ack_ = 0;
  std::vector<std::function<void(Namespace&)>> new_namespace_;
};

}  // namespace shmio::socketio
