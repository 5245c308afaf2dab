// Socket.IO's adapter layer: the handler types, the encoded packet every receiver of a broadcast
// shares, remote sockets and the ack collector of cluster-wide operations, the Adapter interface
// (rooms and broadcasts; the cluster adapter implements it over the ring) and the in-process
// InMemoryAdapter. Part of the server API (shmio/socketio/server.hpp includes it).
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
// An event's ack: empty when the client asked for none. It may be called later, from any thread
// (it runs on the server's: posted there when called elsewhere, or while the server's loop is
// not running); once, the others ignored; once the Server is gone, it does nothing.
using Ack = std::function<void(Args)>;
using EventHandler = std::function<void(const SocketPtr&, Args, Ack)>;

struct ConnectError {
  std::string message;
  std::optional<boost::json::value> data;
};
// A namespace middleware's next: next(std::nullopt) lets the socket on, next(error) refuses it
// (CONNECT_ERROR). It may be called later, from any thread (it runs on the server's: posted there
// when called elsewhere, or while the server's loop is not running); once the Server is gone, it
// does nothing.
using Next = std::function<void(std::optional<ConnectError>)>;
// A middleware that throws (anything) before it calls next refuses the socket with the
// message "Internal error"; what it threw is said on stderr, not sent (the client reads only what
// a ConnectError says). One that throws after next is said, and otherwise ignored.
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
    if (attachments.empty())
      conn.send_frame(frame);
    else
      conn.send_message(frame, attachments);  // all or nothing
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
  // When its socket went away (steady clock): set by take_session(), and kept by
  // put_back_session(), so that a client whose attempts are refused cannot keep its session past
  // max_disconnection_duration. (Unset in what persist_session() gets: saved as of now.)
  std::chrono::steady_clock::time_point disconnected_at{};
  // Where the session began in the adapter's log of broadcasts (Adapter::session_start() when its
  // first socket was admitted; a recovered socket keeps it); 0: not known. A replay never goes
  // back before it, whatever offset the client names.
  std::uint64_t start = 0;
};

// A socket as fetch_sockets(callback) returns it, on this process or another worker: a snapshot
// of id, handshake, rooms and data, and operations that reach the socket wherever it lives
// (they are broadcasts to the socket's own room, as in socket.io).
class RemoteSocket {
 public:
  RemoteSocket(Namespace& nsp, SocketId id, Handshake hs, std::set<Room> rooms,
               boost::json::value data)
      : nsp_(&nsp),
        nsp_anchor_(anchor_of(nsp)),
        id_(std::move(id)),
        handshake_(std::move(hs)),
        rooms_(std::move(rooms)),
        data_(std::move(data)) {}
  const SocketId& id() const noexcept { return id_; }
  const Handshake& handshake() const noexcept { return handshake_; }
  const std::set<Room>& rooms() const noexcept { return rooms_; }
  const boost::json::value& data() const noexcept { return data_; }
  void emit(const std::string& event, Args args = {}) const;
  // (Several rooms as a brace list or a vector, as socket.io's RemoteSocket.join(array); leave
  // takes one, as there: a brace list of two names is refused at compile time, where it compiled
  // as one name made from two pointers before 2026-12-03.)
  void join(const Room& room) const;
  void join(std::initializer_list<Room> rooms) const;
  void join(const std::vector<Room>& rooms) const;
  void leave(const Room& room) const;
  void leave(std::initializer_list<Room>) const = delete;
  void disconnect(bool close = false) const;
  // remoteSocket.timeout(ms).emit(event, ..., callback) (emitWithAck): the socket's answer,
  // wherever it lives, as Socket::emit_with_ack gives it: `callback(error, args)` with error empty
  // and the client's answer; or error "operation has timed out" (no answer within the timeout,
  // or — at once, where socket.io waits out the timeout — none can come: the socket disconnected
  // or its worker died before answering, or its answer was lost on the way); or "socket has been
  // disconnected" if the emit reached no socket (it left after fetch_sockets; socket.io calls
  // back with neither an error nor an answer there). The
  // callback runs on a later turn, never within the call. timeout() sets the wait (default 5 s, as
  // a broadcast operator's) on a copy.
  using AnswerCallback = std::function<void(std::optional<std::string> error, Args args)>;
  RemoteSocket timeout(std::chrono::milliseconds t) const& {
    RemoteSocket r(*this);
    r.timeout_ = t;
    return r;
  }
  RemoteSocket timeout(std::chrono::milliseconds t) && {
    timeout_ = t;
    return std::move(*this);
  }
  void emit_with_ack(const std::string& event, Args args, AnswerCallback callback) const;

 private:
  static std::shared_ptr<const int> anchor_of(const Namespace& nsp);
  Namespace* nsp_;
  std::shared_ptr<const int> nsp_anchor_;  // (its namespace kept in memory once removed)
  SocketId id_;
  Handshake handshake_;
  std::set<Room> rooms_;
  boost::json::value data_;
  std::chrono::milliseconds timeout_{5000};
};

using AckCallback =
    std::function<void(std::optional<std::string> error, std::vector<Args> responses)>;

// Collects the answers of a request sent to several sources (this process's sockets, other
// workers): done when every source has said how many answers to expect and all of them came, or
// when the timer fires ("operation has timed out", with what arrived). A source that can no longer
// answer (a dead worker, a socket that disconnected) is dropped with `fail_source`.
//
// Its life: arm(timeout) before the request goes out, the sources added (add_pending_source,
// expect) as it goes out, then start(): from then on it is done as soon as every source has
// answered in full (its callback then runs on a later turn, never inside the call that completed
// it). Armed first, the timeout counts from the request's start, as socket.io's
// BroadcastOperator sets its timer before the adapter's broadcastWithAck; so every deadline
// counted where the request arrives (a socket's pending ack, another worker's, the fleet
// bridge's up to its 10-minute cap: docs/redis.md) ends no earlier than the requester's own,
// and nothing it still waits for is given up there first. (Started only after the request had
// gone out, as before 2026-12-03, a broadcast that took long to deliver here waited that much
// longer than its timeout, and its targets' entries could be swept while it still waited.)
// A collector never armed (an adapter's own, driven as before) finishes as soon as its sources
// have answered, start() or not; start(timeout) arms and starts at once.
class AckCollector : public std::enable_shared_from_this<AckCollector> {
 public:
  AckCollector(boost::asio::io_context& io, AckCallback done);
  // The timer, from now; once (a second call is ignored).
  void arm(std::chrono::milliseconds timeout);
  // Every source is known: done now if each has answered in full, else when they have (or at
  // the timer). Between arm() and start() only the timer finishes it: a source yet to be added is
  // not known to be missing. start(timeout) arms first if arm() was not called; start() alone
  // arms nothing (no timer: call arm() first).
  void start(std::chrono::milliseconds timeout);
  void start();
  // When the timer fires (time_point::max() until armed).
  std::chrono::steady_clock::time_point expires_at() const noexcept { return expires_at_; }
  void expect(std::uint64_t source, std::size_t answers);  // the source's count is known
  void answer(std::uint64_t source, Args args);
  void fail_source(std::uint64_t source, bool missing_answers);
  // `answers` expected answers of the source will never come (one: a "lost" marker).
  void lose(std::uint64_t source, std::size_t answers = 1);
  void add_pending_source(std::uint64_t source);  // its count is still to come
  // What came from a source so far: whether its count is known, the answers it counted, and
  // those received or said lost; nullopt for one not (or no longer) waited on.
  struct Heard {
    bool counted = false;
    std::size_t expected = 0, heard = 0;
    bool complete() const noexcept { return counted && heard >= expected; }
  };
  std::optional<Heard> heard(std::uint64_t source) const;
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
  bool missing_ = false, done_ = false, started_ = false;
  std::chrono::steady_clock::time_point expires_at_ = std::chrono::steady_clock::time_point::max();
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
  // Whether a broadcast with acks (or another request) of this server still waits under ack id
  // `id`: such an id is passed over for a new broadcast with acks (ids wrap). A cluster's adapter
  // keys its requests to the other workers by it.
  virtual bool ack_id_pending(std::uint64_t /*id*/) const { return false; }
  // Sends a packet to one of this process's sockets directly (`send`: an emit with an ack, a
  // volatile emit: neither goes through broadcast() nor carries an offset) after everything
  // broadcast() was given before it has reached this process's sockets. At once by default; an
  // adapter whose broadcasts reach this process's own sockets later (a cluster's shared ring with
  // connection state recovery delivers them in ring order) holds it until they have, so that an
  // emit with an ack after socket.emit("a") does not reach the client before "a". Called only
  // while broadcasts_pending() says so (a send without it goes out at once, allocating nothing).
  virtual bool broadcasts_pending() const { return false; }
  virtual void after_broadcasts(std::function<void()> send) { send(); }

  // Connection state recovery. The defaults keep a bounded log in this process.
  virtual void persist_session(SessionState s) = 0;
  // The session of `pid`, if it is known and every packet after `offset` can still be replayed;
  // taken, so that two connections cannot both restore it (removed, or, in a cluster's shared
  // table, kept marked with this worker until it is written again: the caller then either admits
  // the socket, whose first join saves it, or puts it back (put_back_session) or forgets it
  // (forget_session)). A session whose offset is no longer kept stays, as socket.io's in-memory
  // adapter keeps it.
  virtual std::optional<SessionState> take_session(const std::string& pid,
                                                   const std::string& offset) = 0;
  // A session take_session() gave that was not used: the namespace's middleware refused the
  // socket, or its client went away before it was admitted. Kept again as it was (its
  // disconnected_at with it), for the client's next attempt: socket.io restores a session without
  // removing it, so a refused attempt does not lose it there either. Default: persist_session().
  virtual void put_back_session(SessionState s) { persist_session(std::move(s)); }
  // A mark of where a session whose socket is admitted now begins in this adapter's log of
  // broadcasts, kept with the session (SessionState::start) and handed back to replay(); 0 (the
  // default) if the adapter keeps none.
  virtual std::uint64_t session_start() { return 0; }
  // The broadcasts after `offset` that a socket in `rooms` would have received, in order; nullopt
  // if some of them are no longer kept (never a partial replay). None from before `start` (the
  // session's SessionState::start; 0: no such bound): socket.io-client keeps the last offset it
  // was given across a fresh session, and sends it with the new session's pid, so an offset can
  // be older than the session it recovers; from there the client would be sent what was
  // broadcast before its session began, to rooms it joined since.
  virtual std::optional<std::vector<EncodedPacket>> replay(const std::string& offset,
                                                           const std::set<Room>& rooms,
                                                           std::uint64_t start) = 0;
  // A replay() that succeeded was not used after all (`why`: it is more than the session's queue
  // takes at once, the connection closed during the replay, a connected socket has the id): an
  // adapter that counted it as a recovery counts it as refused. Default: nothing.
  virtual void replay_refused(const std::string& /*offset*/, const char* /*why*/) {}
  // A socket with a session closed for a reason that does not allow recovery (a clean
  // disconnect): no server may restore it.
  virtual void forget_session(const std::string& /*pid*/) {}
  // Whether a connected socket's session would be found if its client reconnected now: an
  // adapter that saves sessions while they are connected (a cluster's table) says false where
  // its last save failed. Default: true (sessions are saved at their disconnect).
  virtual bool session_kept(const SocketId& /*id*/) const { return true; }
  // A connected socket's data was reached to be changed (Socket::data()), with recovery on: an
  // adapter that saves sessions while they are connected saves it again (then calls
  // Socket::data_saved()). Default: nothing (sessions are saved at their disconnect).
  virtual void data_changed(const SocketId& /*id*/) {}
  // The namespace was removed (ServerOptions::cleanup_empty_child_namespaces; socket.io's
  // adapter.close()): from now on it is no longer the server's namespace of its name, and
  // another may be made under that name. An adapter that receives for the namespace from
  // elsewhere (a cluster's) stops; what it is still asked to send goes out as before. Called
  // once; the adapter lives on while a Socket or RemoteSocket of the namespace does.
  virtual void close() {}
  // The server closed (Server::close()): timers of the adapter's own are stopped and armed no
  // more, so that the io_context runs out of work. Default: nothing.
  virtual void server_closed() {}

  // The adapter's events (socket.io's adapter.on("create-room" | "delete-room" | "join-room" |
  // "leave-room")), for this process's rooms index: a room created by its first member (a
  // socket's own room, named by its id, too), a socket joining, leaving, a room deleted with its
  // last member. `id` is the socket for join/leave, empty for create/delete. The listener should
  // not change the rooms index (join, leave); one that disconnects the socket joining ends that
  // join there (the rest of the rooms it was joining are not joined).
  enum class RoomEvent { create_room, delete_room, join_room, leave_room };
  using RoomListener = std::function<void(RoomEvent event, const Room& room, const SocketId& id)>;
  void on_room_event(RoomListener listener) { room_listeners_.push_back(std::move(listener)); }

 protected:
  // (A listener that throws is said on stderr and the others still run: it is called in the
  // middle of a change to the rooms index, which an exception left half made — a socket in the
  // namespace's list but in none of its rooms, or a client's sockets half closed, written to
  // after their session was gone; before 2026-12-03, a helper's review.)
  void notify(RoomEvent e, const Room& room, const SocketId& id) const;
  bool room_events() const noexcept { return !room_listeners_.empty(); }
  std::vector<RoomListener> room_listeners_;
  // Expires with this adapter: an answer posted to a later turn is dropped once it is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

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
  void put_back_session(SessionState s) override;
  // (The number the next broadcast's offset will have, plus one.)
  std::uint64_t session_start() override { return next_offset_ + 1; }
  std::optional<std::vector<EncodedPacket>> replay(const std::string& offset,
                                                   const std::set<Room>& rooms,
                                                   std::uint64_t start) override;
  // (Said on stderr with RecoveryOptions::log_refused, as take_session's refusals.)
  void replay_refused(const std::string& offset, const char* why) override;
  // The recovery log's broadcasts and bytes, and the disconnected sessions kept.
  std::size_t stored_packets() const noexcept { return stored_.size(); }
  std::size_t stored_bytes() const noexcept { return stored_bytes_; }
  std::size_t saved_sessions() const noexcept { return saved_.size(); }

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
  // While anything is kept, prune() runs once per max_disconnection_duration (at least 1 s
  // apart, at most a minute, as socket.io's session-aware adapter prunes every minute) without a
  // broadcast or a save to run it: before 2026-12-06 a namespace gone quiet after a burst kept its
  // log (up to max_stored_bytes) and its expired sessions for good (a review).
  void arm_prune();
  std::unique_ptr<boost::asio::steady_timer> prune_timer_;
  bool prune_armed_ = false;
  bool server_closed_ = false;  // (no prune armed after Server::close(): server_closed)

 public:
  void server_closed() override;

 private:
  // Saves `st` as disconnected at `at` (its place in the expiry queue by that time).
  void save(SessionState st, std::chrono::steady_clock::time_point at);
  // The stored packet of an offset this adapter gave (found by its number: the store holds
  // consecutive ones, oldest first), or stored_.end().
  std::deque<StoredPacket>::iterator stored_at(const std::string& offset);
  std::uint64_t front_number() const;  // the oldest stored packet's number (stored_ not empty)
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
  // A room's array holds each member's socket handle beside the member: a broadcast to one room
  // reads the sockets straight from the array (one dependent load fewer per receiver than
  // through the member, and the address known a whole prefetch distance ahead).
  struct Slot {
    Socket* socket;  // == member->socket (nullptr until the socket is admitted)
    Member* member;
  };
  bool unlink(const Room& room, std::size_t index);
  void left(const Room& room, const SocketId& id, bool emptied);
  Member* own_room_member(const Room& room);
  std::unordered_map<Room, std::vector<Slot>> rooms_;
  std::unordered_map<SocketId, Member> sids_;  // node-based: Member addresses are stable
  std::uint64_t epoch_ = 0;
  std::deque<StoredPacket> stored_;
  std::size_t stored_bytes_ = 0;
  std::unordered_map<std::string, Saved> saved_;
  // Each save's (time, pid), oldest first (times are taken in order): expiry pops the front, not a
  // walk over every session (a mass disconnect saved N sessions, each save walking them all:
  // quadratic, 34.7 s for 50,000 saves on the dev VM; docs/server.md). An entry whose pid was saved
  // again later is stale (its time is not the session's) and just dropped.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> saved_order_;
  std::string offset_prefix_;  // offsets are unique to this adapter instance
  std::uint64_t next_offset_ = 0;
};

// Whether a broadcast with these options reaches a socket in `rooms` (its own id included).
bool reaches(const BroadcastOptions& opts, const std::set<Room>& rooms);

}  // namespace shmio::socketio
