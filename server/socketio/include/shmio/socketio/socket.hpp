// A Socket.IO socket (one client's connection to one namespace) and the broadcast operator
// (io.to(...).except(...).emit(...)). Part of the server API (shmio/socketio/server.hpp).
// Thread-safety: everything on the io_context's thread.
#pragma once

#include <chrono>
#include <initializer_list>
#include <type_traits>
#include <vector>

#include "shmio/socketio/adapter.hpp"

namespace shmio::socketio {

// io.to(...).except(...).emit(...): built by value, applied on emit.
//
// Several rooms at once (socket.io's arrays, io.to(["a", "b"])): each function that takes a room
// also takes a brace list or a vector of them, but leave (one room, as socket.leave: a brace list
// does not compile). (A brace list of two names given to a one-room function compiled, as
// std::string's iterator-pair constructor — undefined behaviour — before 2026-12-03; a brace list
// prefers the std::initializer_list overload.) An empty list names no room, as socket.io's
// to([]): to({}) is every socket, where it was the room "" (no one) before.
class BroadcastOperator {
 public:
  BroadcastOperator(Namespace& nsp, BroadcastOptions opts) : nsp_(&nsp), opts_(std::move(opts)) {}
  BroadcastOperator to(const Room& room) &&;
  BroadcastOperator to(std::initializer_list<Room> rooms) && {
    return std::move(*this).add(opts_.rooms, rooms);
  }
  BroadcastOperator to(const std::vector<Room>& rooms) && {
    return std::move(*this).add(opts_.rooms, rooms);
  }
  BroadcastOperator in(const Room& room) && { return std::move(*this).to(room); }
  BroadcastOperator in(std::initializer_list<Room> rooms) && { return std::move(*this).to(rooms); }
  BroadcastOperator in(const std::vector<Room>& rooms) && { return std::move(*this).to(rooms); }
  BroadcastOperator except(const Room& room) &&;
  BroadcastOperator except(std::initializer_list<Room> rooms) && {
    return std::move(*this).add(opts_.except, rooms);
  }
  BroadcastOperator except(const std::vector<Room>& rooms) && {
    return std::move(*this).add(opts_.except, rooms);
  }
  BroadcastOperator volatile_() &&;
  BroadcastOperator local() &&;
  BroadcastOperator compress(bool on) &&;
  // The time emit_with_ack waits for every target's ack (default 5 s, as an operator's timeout).
  BroadcastOperator timeout(std::chrono::milliseconds t) &&;
  // The same on an operator kept in a variable: a new operator, this one unchanged (socket.io's
  // operators are immutable: `const op = io.to("a"); op.except("b").emit(...); op.emit(...)`).
  // (Until 2026-12-05 only a temporary could be chained: `op.except("b")` did not compile.)
  BroadcastOperator to(const Room& room) const& { return BroadcastOperator(*this).to(room); }
  BroadcastOperator to(std::initializer_list<Room> rooms) const& {
    return BroadcastOperator(*this).to(rooms);
  }
  BroadcastOperator to(const std::vector<Room>& rooms) const& {
    return BroadcastOperator(*this).to(rooms);
  }
  BroadcastOperator in(const Room& room) const& { return BroadcastOperator(*this).to(room); }
  BroadcastOperator in(std::initializer_list<Room> rooms) const& {
    return BroadcastOperator(*this).to(rooms);
  }
  BroadcastOperator in(const std::vector<Room>& rooms) const& {
    return BroadcastOperator(*this).to(rooms);
  }
  BroadcastOperator except(const Room& room) const& {
    return BroadcastOperator(*this).except(room);
  }
  BroadcastOperator except(std::initializer_list<Room> rooms) const& {
    return BroadcastOperator(*this).except(rooms);
  }
  BroadcastOperator except(const std::vector<Room>& rooms) const& {
    return BroadcastOperator(*this).except(rooms);
  }
  BroadcastOperator volatile_() const& { return BroadcastOperator(*this).volatile_(); }
  BroadcastOperator local() const& { return BroadcastOperator(*this).local(); }
  BroadcastOperator compress(bool on) const& { return BroadcastOperator(*this).compress(on); }
  BroadcastOperator timeout(std::chrono::milliseconds t) const& {
    return BroadcastOperator(*this).timeout(t);
  }
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
  void sockets_join(std::initializer_list<Room> rooms) const;
  void sockets_join(const std::vector<Room>& rooms) const;
  void sockets_leave(const Room& room) const;
  void sockets_leave(std::initializer_list<Room> rooms) const;
  void sockets_leave(const std::vector<Room>& rooms) const;
  void disconnect_sockets(bool close = false) const;

 private:
  template <class Rooms>
  BroadcastOperator add(std::set<Room>& to, const Rooms& rooms) && {
    to.insert(rooms.begin(), rooms.end());
    return std::move(*this);
  }
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
  // socket.data: an empty object at first, as socket.io's `{}`. Reaching it to change it (the
  // non-const overload) tells the adapter once per turn, so that a cluster saves the session's data
  // for recovery even if its worker dies before the socket disconnects.
  boost::json::value& data() {
    if (!data_touched_) touch_data();
    return data_;
  }
  const boost::json::value& data() const noexcept { return data_; }
  // For adapters: the data as last reached has been saved.
  void data_saved() noexcept { data_touched_ = false; }
  bool connected() const noexcept { return connected_; }
  // Acks this socket's client still owes: its own emits' with a callback (each until its
  // timeout), and broadcasts' with acks (those past their requester's timeout swept as more come;
  // past 1,024 pending in all, the broadcast's ack due first is given up; a socket's own are not).
  std::size_t pending_acks() const noexcept { return x_ ? x_->acks.size() : 0; }
  std::set<Room> rooms() const;
  // True if this socket was restored by connection state recovery (same id, rooms, data).
  bool recovered() const noexcept { return recovered_; }
  const std::string& pid() const noexcept { return pid_; }
  // Where its session began in its adapter's log of broadcasts (Adapter::session_start(), taken
  // when its first socket was admitted); saved with the session (SessionState::start).
  std::uint64_t session_start() const noexcept { return session_start_; }
  // Whether its client was sent a recovery offset (a broadcast carrying one reached it, or it
  // recovered from one): only then can it recover — socket.io-client sends its pid with the last
  // offset it got, and without one it starts afresh. A cluster's rebalancing asks only such
  // clients to reconnect (before 2026-12-04 one that had no offset yet lost its id, rooms and
  // data).
  bool offset_sent() const noexcept { return offset_sent_ || recovered_; }
  // Whether every socket of its client's connection (one per namespace joined) is connected with
  // a session, was sent an offset and has its session kept by its adapter (session_kept): only
  // then does closing the connection (drop_connection) lose none of them — each recovers where
  // the client lands.
  bool connection_recoverable() const;

  void join(const Room& room);
  void join(const std::vector<Room>& rooms);  // several at once (socket.join([...]))
  void join(std::initializer_list<Room> rooms) { join(std::vector<Room>(rooms)); }
  void leave(const Room& room);
  // One room at a time, as socket.leave (a brace list of two names would have compiled as one
  // room's name made from two pointers: refused at compile time).
  void leave(std::initializer_list<Room>) = delete;

  // (A reserved event name — disconnect, disconnecting, connect... — throws
  // std::invalid_argument: no client sends one, the handler would never run; on_disconnect and
  // on_disconnecting are the socket's own.)
  // Each returns an id for off(event, id), socket.off(event, listener)'s (a std::function cannot
  // be compared); off(event) removes every handler of the event (socket.removeAllListeners(event)).
  // Only this socket's own: a Namespace::on_event handler stays. (0 on a socket that is gone: the
  // handler is not kept.) Until 2026-12-05 they returned nothing, and one handler could not be
  // removed alone.
  std::uint64_t on(const std::string& event, EventHandler handler);
  std::uint64_t once(const std::string& event, EventHandler handler);
  void off(const std::string& event);
  void off(const std::string& event, std::uint64_t id);
  // How many handlers of its own this socket has for `event` (socket.listenerCount(event)).
  std::size_t listener_count(const std::string& event) const;
  // Catch-all listeners for incoming events (socket.onAny/prependAny/offAny): each returns an id
  // for off_any(id) (a std::function cannot be compared); off_any() removes them all.
  using AnyListener = std::function<void(const SocketPtr&, const std::string&, const Args&)>;
  // The same with the event's ack (empty when the client asked for none), as socket.io passes it
  // to onAny as the last argument: a listener may answer it; the ack is answered once, so the
  // event's handler's own answer is then ignored (and the other way round).
  using AnyAckListener =
      std::function<void(const SocketPtr&, const std::string&, const Args&, const Ack&)>;
  using ListenerId = std::uint64_t;
  ListenerId on_any(AnyListener handler);
  ListenerId on_any(AnyAckListener handler);
  ListenerId prepend_any(AnyListener handler);
  ListenerId prepend_any(AnyAckListener handler);
  // Any other callable: the form with the ack if it takes it (a variadic generic lambda, a port
  // of onAny((...args) => ...), does), else the one without.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, AnyListener> &&
                                              !std::is_same_v<std::decay_t<F>, AnyAckListener>>>
  ListenerId on_any(F&& handler) {
    return on_any(any_listener(std::forward<F>(handler)));
  }
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, AnyListener> &&
                                              !std::is_same_v<std::decay_t<F>, AnyAckListener>>>
  ListenerId prepend_any(F&& handler) {
    return prepend_any(any_listener(std::forward<F>(handler)));
  }
  void off_any(ListenerId id);
  void off_any();
  // The same for the events sent to this client (socket.onAnyOutgoing/offAnyOutgoing): its own
  // emits and every broadcast that reaches it, with the event name and arguments, as they are
  // queued. A broadcast's listeners run once it has been queued for every target.
  ListenerId on_any_outgoing(AnyListener handler);
  ListenerId prepend_any_outgoing(AnyListener handler);  // (runs before those already added)
  void off_any_outgoing(ListenerId id);
  void off_any_outgoing();
  // socket.on("disconnecting"): runs when the socket is about to leave, before it leaves its
  // rooms (rooms() still lists them), with the reason; then the disconnect handlers run.
  void on_disconnecting(std::function<void(const SocketPtr&, const std::string& reason)> handler);
  void on_disconnect(std::function<void(const SocketPtr&, const std::string& reason)> handler);

  // socket.use: middleware for this socket's incoming events, run in order after the on_any
  // listeners and before the event's handlers (as socket.io). Each calls `next(std::nullopt)` to
  // let the event on (it may change the arguments first), or `next(message)` to stop it: the
  // handlers do not run and the socket's on_error handlers get the message (socket.io's
  // socket.on("error"); nothing is sent to the client). `next` may be called later
  // (asynchronously), from any thread (it runs on the server's: posted there when called
  // elsewhere); a middleware that throws stops the event as next(what()) would. Events of a socket
  // that disconnected meanwhile are dropped.
  using EventMiddleware = std::function<void(const SocketPtr&, const std::string& event, Args& args,
                                             std::function<void(std::optional<std::string>)> next)>;
  void use(EventMiddleware middleware);
  // The same given the event's ack (empty if the client asked none), as socket.io's middleware
  // finds it last in its arguments: one that refuses may answer it first, as
  // socket.use(([ev, ...args], next) => { ack?.({error}); next(err) }) does (the client's
  // emitWithAck otherwise waits for its timeout, or for good). An ack is answered once: the
  // handler's later answer is not sent. Since 2026-12-05. (With the two forms, a lambda taking
  // `auto&&...` or a bare nullptr names neither: give the parameters' types.)
  using EventMiddlewareWithAck =
      std::function<void(const SocketPtr&, const std::string& event, Args& args, const Ack& ack,
                         std::function<void(std::optional<std::string>)> next)>;
  void use(EventMiddlewareWithAck middleware);
  void on_error(std::function<void(const SocketPtr&, const std::string& message)> handler);

  // socket.conn: this client's Engine.IO connection, and the name of its transport now ("polling"
  // or "websocket"; it changes when the client upgrades). Also in a namespace middleware and in
  // on_disconnecting, as socket.io's socket.conn (before 2026-12-03 nullptr there: a middleware
  // reading conn()->... crashed); nullptr once the socket is gone (after on_disconnecting, or
  // refused).
  const engineio::Socket* conn() const noexcept {
    return !gone_ && !client_.expired() ? conn_raw_ : nullptr;
  }
  std::string_view transport() const noexcept;
  // socket.conn.on("upgrade"): the client's connection moved from polling to WebSocket.
  void on_upgrade(std::function<void(const SocketPtr&)> handler);

  // socket.volatile / socket.compress(false) / socket.timeout(ms), then emit or emit_with_ack:
  //   s->volatile_().emit("tick", ...);  s->timeout(2s).emit_with_ack("q", args, cb);
  class Emitter {
   public:
    explicit Emitter(SocketPtr s) : s_(std::move(s)) {}
    // Dropped (emit returns false) unless the connection can take it now, as socket.io's
    // volatile: nothing is waiting to be written. (An emit_with_ack dropped so still tells its
    // callback at the timeout.)
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

  // To this client only. Returns false if it is disconnected — except, with connection state
  // recovery on, while its session may still be recovered (it left for a recoverable reason,
  // within max_disconnection_duration): then it goes and is kept for the replay. With recovery
  // on it goes as a broadcast to the socket's own room (as socket.io's socket.emit then does):
  // it carries an offset and is replayed after a reconnect, like any broadcast.
  bool emit(const std::string& event, Args args = {});
  // With an ack: `callback(error, args)`; error is set ("operation has timed out") if no ack came
  // within `timeout`, "socket has been disconnected" if the socket disconnects first or is gone
  // already (then on the next turn, and emit_with_ack returns false), "evicted" if still pending
  // when its worker's ack ids wrapped back to it (2^31 / the cluster's stride of ids later) and
  // 16 more ids were pending too. Not kept for a replay (as
  // socket.io: an ack cannot be restored elsewhere).
  bool emit_with_ack(const std::string& event, Args args, std::chrono::milliseconds timeout,
                     std::function<void(std::optional<std::string> error, Args)> callback);
  // socket.emitWithAck's form without a timeout: 5 s, as timeout()'s chain and a broadcast's
  // (socket.io waits for ever; before 2026-12-05 a Socket had only the form with a timeout).
  bool emit_with_ack(const std::string& event, Args args,
                     std::function<void(std::optional<std::string> error, Args)> callback) {
    return emit_with_ack(event, std::move(args), std::chrono::milliseconds(5000),
                         std::move(callback));
  }

  // Broadcasts from this socket exclude it (socket.broadcast / socket.to(room)).
  BroadcastOperator to(const Room& room);
  BroadcastOperator to(std::initializer_list<Room> rooms) { return broadcast().to(rooms); }
  BroadcastOperator to(const std::vector<Room>& rooms) { return broadcast().to(rooms); }
  BroadcastOperator in(const Room& room) { return to(room); }
  BroadcastOperator in(std::initializer_list<Room> rooms) { return to(rooms); }
  BroadcastOperator in(const std::vector<Room>& rooms) { return to(rooms); }
  BroadcastOperator except(const Room& room);
  BroadcastOperator except(std::initializer_list<Room> rooms) { return broadcast().except(rooms); }
  BroadcastOperator except(const std::vector<Room>& rooms) { return broadcast().except(rooms); }
  BroadcastOperator broadcast();
  // socket.local: a broadcast to this process's sockets only (not the other workers'), the
  // sender excluded, as socket.io's (socket.local.emit(...)).
  BroadcastOperator local() { return broadcast().local(); }

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
  // A packet of its connection could not be decoded: its on_error handlers are told, before the
  // connection closes ("parse error"), as socket.io tells every socket of the client.
  void decode_failed(const std::string& message) { error(message); }

 private:
  void dispatch(const std::string& event, Args args, Ack ack);
  struct Chain;
  void run_middleware(const std::shared_ptr<Chain>& chain);
  void run_handlers(const std::string& event, Args args, Ack ack);
  void error(const std::string& message);
  // (Inline, a flag beside conn_raw_: asked per receiver on the delivery path.)
  bool has_outgoing_listeners() const noexcept { return outgoing_listeners_; }
  struct Extras;
  template <class F>
  static auto any_listener(F&& f) {
    if constexpr (std::is_invocable_v<F&, const SocketPtr&, const std::string&, const Args&,
                                      const Ack&>)
      return AnyAckListener(std::forward<F>(f));
    else
      return AnyListener(std::forward<F>(f));
  }
  // A list read far more often than it changes (a socket's any-listeners, read per event, its
  // outgoing ones, per delivery, its middleware): a reader takes the list as it is now by one
  // pointer copy — no allocation, no element copied — and keeps it while its calls add or remove
  // entries; a change copies the list (copy on write). (Before 2026-12-03 every event copied the
  // any-listeners' and the middleware's vectors, and every delivery the outgoing listeners'.)
  template <class T>
  class SnapshotList {
   public:
    using Snapshot = std::shared_ptr<const std::vector<T>>;
    const Snapshot& snapshot() const noexcept { return list_; }
    bool empty() const noexcept { return !list_ || list_->empty(); }
    template <class F>
    void change(F&& f) {
      auto next =
          list_ ? std::make_shared<std::vector<T>>(*list_) : std::make_shared<std::vector<T>>();
      f(*next);
      if (next->empty())
        list_.reset();
      else
        list_ = std::move(next);
    }

   private:
    Snapshot list_;
  };
  // (Each list holds the form with the ack; outgoing listeners are called with an empty one.)
  // (Each function behind a pointer too: a mutable one keeps its state when the list is copied.)
  using Listeners = SnapshotList<std::pair<ListenerId, std::shared_ptr<const AnyAckListener>>>;
  ListenerId add_listener(Listeners Extras::*list, AnyAckListener h, bool first);
  void remove_listener(Listeners Extras::*list, std::optional<ListenerId> id);  // none: all
  void notify_outgoing(const std::string& event, const Args& args);
  void notify_outgoing(const EncodedPacket& p);
  void send_packet(Packet p, bool compress = true);
  // send_packet() after what was broadcast before it here (Adapter::after_broadcasts).
  void send_after_broadcasts(Packet p, bool compress);
  // `send` false: the ack is registered (told at its timeout) but the packet not sent (a
  // volatile emit the connection could not take).
  bool emit_packet(Packet p, std::chrono::milliseconds timeout,
                   std::function<void(std::optional<std::string>, Args)> callback, bool compress,
                   bool send = true);
  bool send_event(const std::string& event, Args args, bool compress);
  bool refuse_ack(std::function<void(std::optional<std::string>, Args)> callback);
  // In a namespace middleware (not admitted yet, not refused), without recovery: an emit is
  // written at once, as socket.io writes it (socket.io-client holds it until its CONNECT). (With
  // recovery socket.io broadcasts it to the socket's own room, not joined yet: no one gets it.)
  bool early() const noexcept;
  // The emit_with_ack callbacks still waiting are told "socket has been disconnected": at the
  // close (closed()), or on the next turn for a socket never admitted (refused, or its connection
  // closed while a middleware ran: no closed() runs for it, and they waited for ever).
  void settle_pending_acks(bool next_turn);
  // Disconnected (or in on_disconnecting) with recovery on: an emit still goes, as socket.io's,
  // as a broadcast to the socket's own room — kept for the replay when its client recovers (an
  // async handler's answer that came after the transport dropped was lost before 2026-12-03).
  bool kept_when_away() const noexcept;
  bool admitted_ = false;
  // Until when its session may be recovered, once it left for a recoverable reason (else never).
  std::chrono::steady_clock::time_point away_until_{};

  friend class Namespace;
  friend class InMemoryAdapter;
  // What a broadcast reads of each receiver, first and together (one cache line whatever the
  // allocation's alignment): its Engine.IO session without a count (valid while the socket is in
  // its namespace: the client removes its sockets before it goes away), whether it is admitted,
  // whether it has outgoing listeners (kept equal to !x_->any_outgoing.empty()).
  engineio::Socket* conn_raw_ = nullptr;
  bool connected_ = false;  // true once admitted (after the middleware)
  bool outgoing_listeners_ = false;
  bool offset_sent_ = false;  // offset_sent()
  Namespace* nsp_;
  std::weak_ptr<Client> client_;
  SocketId id_;
  std::string pid_;
  std::uint64_t session_start_ = 0;  // session_start()
  Handshake handshake_;
  boost::json::value data_ = boost::json::object();  // socket.io's `{}` (no allocation while empty)
  bool recovered_ = false;
  // Disconnected, or never to be admitted (refused, or its connection closed while a middleware
  // ran): join() does nothing (socket.io's cleanup makes join a no-op), so that no room an app
  // joins for it later stays in the index for good.
  bool gone_ = false;
  bool data_touched_ = false;  // the adapter was told data() was reached, and has not saved since
  void touch_data();
  struct PendingAck;
  friend class Adapter;
  // What many sockets never have — handlers of their own (apps that use Namespace::on_event),
  // acks in flight, a recovered session's state — in one allocation made on first use: an idle
  // socket without them does not pay ~230 bytes of empty containers.
  struct Extras {
    struct Handler {
      std::shared_ptr<const EventHandler> f;
      bool once;
      std::uint64_t id;
    };
    std::multimap<std::string, Handler> handlers;
    Listeners any;
    Listeners any_outgoing;
    ListenerId next_listener = 1;
    std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_disconnecting;
    // (Behind pointers, as the handlers: a snapshot taken per event or per call copies no
    // function, and a mutable one keeps its state.)
    SnapshotList<std::shared_ptr<const EventMiddlewareWithAck>> use;
    std::vector<std::shared_ptr<const std::function<void(const SocketPtr&)>>> on_upgrade;
    std::vector<std::shared_ptr<const std::function<void(const SocketPtr&, const std::string&)>>>
        on_error;
    std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_disconnect;
    std::unordered_map<std::uint64_t, std::shared_ptr<PendingAck>> acks;
    // The broadcasts' acks among them (those without a timer) by when they are due: a min-heap
    // of (deadline, id), so that the sweep of those past due and the bound's "due first" need no
    // walk of the map. An entry answered or evicted stays here until it comes to the top or the
    // heap is rebuilt (past twice the map's size and 64 entries).
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> broadcast_due;
    std::set<Room> restore_rooms;  // recovered: rejoined when admitted
    std::string restore_offset;    // recovered: replayed from here when admitted
    // Recovered, not admitted yet: the session as take_session() gave it, put back if the socket
    // is not admitted after all (Adapter::put_back_session).
    std::optional<SessionState> taken;
  };
  Extras& x() {
    if (!x_) x_ = std::make_unique<Extras>();
    return *x_;
  }
  std::unique_ptr<Extras> x_;
  // Keeps its namespace in memory once removed (ServerOptions::cleanup_empty_child_namespaces).
  std::shared_ptr<const int> nsp_anchor_;
};

}  // namespace shmio::socketio
