// Emitting to a cluster's clients from another process, like @socket.io/redis-emitter: attach to
// the cluster's ring as a producer and publish the same messages a worker's adapter would.
//
//   shmio::cluster::Emitter em("port-3000");
//   em.of("/").to("room1").emit("news", {"hello"});
//   em.of("/").sockets_join("vip");           // every socket of the namespace joins "vip"
//
// Every worker delivers the broadcast to its matching sockets. The emitter does not add recovery
// offsets (as redis-emitter); a client replaying after a reconnect still gets these broadcasts,
// since replay reads them from the ring. Thread-safety: one thread at a time per Emitter.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"  // value types only (no Asio)

namespace shmio::cluster {

class Emitter;

// Why the names an emitter's operation would send are refused: the namespace, a room (to, except,
// or `more`: the room joined or left, the event's name) that is not well-formed UTF-8 — a client's
// WebSocket fails on such a frame and closes its connection, so every matching client would be
// disconnected; "" if none is.
std::string names_refused(const std::string& nsp, const socketio::BroadcastOptions& opts,
                          std::initializer_list<std::string_view> more = {});
// Why a join or leave of `rooms` is refused: the names as above (each room's too), over 65,535
// rooms, or a room over 65,535 bytes (past what a record's names hold: the fleet's shmio members
// refuse it too, and no broadcast could name such a room); "" if none is.
std::string rooms_refused(const std::string& nsp, const socketio::BroadcastOptions& opts,
                          const std::vector<socketio::Room>& rooms);
// Why args an emitter would send are refused (socketio::check_attachments: a placeholder names a
// binary they do not carry), and with `server_side`, why an event's name is (connect, connection,
// new_namespace: socket.io's reserved names, whose handlers a Node member would run with the
// arguments as its socket, as Namespace::server_side_emit refuses them); "" if none is.
std::string args_refused(const std::string& event, const socketio::Args& args, bool server_side);

// Which sockets an emitter's operation reaches: a namespace, rooms, rooms excepted, and the
// volatile flag, chained (`em.of("/").to("r").except("x").emit(...)`). Shared by this emitter's
// operator and the Redis fleet's (shmio/redis/emitter.hpp).
template <class Derived>
class EmitTargets {
 public:
  // ("chat" is "/chat", as io.of() has it.)
  explicit EmitTargets(std::string nsp) : nsp_(std::move(nsp)) {
    if (nsp_.empty() || nsp_[0] != '/') nsp_.insert(nsp_.begin(), '/');
  }
  // Several rooms at once (the emitter's to(["a", "b"])): a brace list or a vector, as
  // socketio::BroadcastOperator takes them. (Before 2026-12-05 a brace list of two names compiled
  // as std::string's iterator-pair constructor, undefined behaviour; found by a review.)
  Derived to(const socketio::Room& room) && {
    opts_.rooms.insert(room);
    return std::move(static_cast<Derived&>(*this));
  }
  Derived to(std::initializer_list<socketio::Room> rooms) && {
    opts_.rooms.insert(rooms.begin(), rooms.end());
    return std::move(static_cast<Derived&>(*this));
  }
  Derived to(const std::vector<socketio::Room>& rooms) && {
    opts_.rooms.insert(rooms.begin(), rooms.end());
    return std::move(static_cast<Derived&>(*this));
  }
  Derived in(const socketio::Room& room) && { return std::move(*this).to(room); }
  Derived in(std::initializer_list<socketio::Room> rooms) && { return std::move(*this).to(rooms); }
  Derived in(const std::vector<socketio::Room>& rooms) && { return std::move(*this).to(rooms); }
  Derived except(const socketio::Room& room) && {
    opts_.except.insert(room);
    return std::move(static_cast<Derived&>(*this));
  }
  Derived except(std::initializer_list<socketio::Room> rooms) && {
    opts_.except.insert(rooms.begin(), rooms.end());
    return std::move(static_cast<Derived&>(*this));
  }
  Derived except(const std::vector<socketio::Room>& rooms) && {
    opts_.except.insert(rooms.begin(), rooms.end());
    return std::move(static_cast<Derived&>(*this));
  }
  Derived volatile_() && {
    opts_.flags.volatile_ = true;
    return std::move(static_cast<Derived&>(*this));
  }
  // socket.io's compress flag: false sends the event uncompressed to clients with
  // permessage-deflate (the default is true, as in socket.io).
  Derived compress(bool on) && {
    opts_.flags.compress = on;
    return std::move(static_cast<Derived&>(*this));
  }
  // The same on an operator kept in a variable: a new one, this one unchanged, as the Node
  // emitter's operators are (`const op = em.of("/"); op.except("x").emit(...); op.emit(...)`).
  // (Until 2026-12-06 only a temporary could be chained; a helper's review.)
  Derived to(const socketio::Room& room) const& { return Derived(self()).to(room); }
  Derived to(std::initializer_list<socketio::Room> rooms) const& {
    return Derived(self()).to(rooms);
  }
  Derived to(const std::vector<socketio::Room>& rooms) const& { return Derived(self()).to(rooms); }
  Derived in(const socketio::Room& room) const& { return Derived(self()).to(room); }
  Derived in(std::initializer_list<socketio::Room> rooms) const& {
    return Derived(self()).to(rooms);
  }
  Derived in(const std::vector<socketio::Room>& rooms) const& { return Derived(self()).to(rooms); }
  Derived except(const socketio::Room& room) const& { return Derived(self()).except(room); }
  Derived except(std::initializer_list<socketio::Room> rooms) const& {
    return Derived(self()).except(rooms);
  }
  Derived except(const std::vector<socketio::Room>& rooms) const& {
    return Derived(self()).except(rooms);
  }
  Derived volatile_() const& { return Derived(self()).volatile_(); }
  Derived compress(bool on) const& { return Derived(self()).compress(on); }
  // (One room or a brace list, for Derived's sockets_join / sockets_leave of a vector.)
  bool sockets_join(const socketio::Room& room) const {
    return self().sockets_join(std::vector<socketio::Room>{room});
  }
  bool sockets_join(std::initializer_list<socketio::Room> rooms) const {
    return self().sockets_join(std::vector<socketio::Room>(rooms));
  }
  bool sockets_leave(const socketio::Room& room) const {
    return self().sockets_leave(std::vector<socketio::Room>{room});
  }
  bool sockets_leave(std::initializer_list<socketio::Room> rooms) const {
    return self().sockets_leave(std::vector<socketio::Room>(rooms));
  }

 protected:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  std::string nsp_;
  socketio::BroadcastOptions opts_;
};

// An emitter's own operations on the main namespace ("/"), as @socket.io/redis-emitter and
// @socket.io/postgres-emitter have them: `em.to("r").emit(...)`, `em.in`, `em.except`,
// `em.volatile_()`, `em.compress(false)`, `em.emit`, `em.sockets_join`, `em.sockets_leave`,
// `em.disconnect_sockets`, `em.server_side_emit` are `em.of("/")`'s. (Before 2026-12-05 only
// `to` and `emit` were there.) Shared by this emitter and the Redis fleet's.
template <class Self, class Op>
class MainNamespaceOps {
 public:
  Op to(const socketio::Room& room) { return main().to(room); }
  Op to(std::initializer_list<socketio::Room> rooms) { return main().to(rooms); }
  Op to(const std::vector<socketio::Room>& rooms) { return main().to(rooms); }
  Op in(const socketio::Room& room) { return main().in(room); }
  Op in(std::initializer_list<socketio::Room> rooms) { return main().in(rooms); }
  Op in(const std::vector<socketio::Room>& rooms) { return main().in(rooms); }
  Op except(const socketio::Room& room) { return main().except(room); }
  Op except(std::initializer_list<socketio::Room> rooms) { return main().except(rooms); }
  Op except(const std::vector<socketio::Room>& rooms) { return main().except(rooms); }
  Op volatile_() { return main().volatile_(); }
  Op compress(bool on) { return main().compress(on); }
  bool emit(const std::string& event, socketio::Args args = {}) {
    return main().emit(event, std::move(args));
  }
  bool sockets_join(const socketio::Room& room) { return main().sockets_join(room); }
  bool sockets_join(std::initializer_list<socketio::Room> rooms) {
    return main().sockets_join(rooms);
  }
  bool sockets_join(const std::vector<socketio::Room>& rooms) { return main().sockets_join(rooms); }
  bool sockets_leave(const socketio::Room& room) { return main().sockets_leave(room); }
  bool sockets_leave(std::initializer_list<socketio::Room> rooms) {
    return main().sockets_leave(rooms);
  }
  bool sockets_leave(const std::vector<socketio::Room>& rooms) {
    return main().sockets_leave(rooms);
  }
  bool disconnect_sockets(bool close = false) { return main().disconnect_sockets(close); }
  bool server_side_emit(const std::string& event, socketio::Args args = {}) {
    return main().server_side_emit(event, std::move(args));
  }

 private:
  Op main() { return static_cast<Self&>(*this).of("/"); }
};

class EmitOperator : public EmitTargets<EmitOperator> {
 public:
  EmitOperator(Emitter& em, std::string nsp) : EmitTargets(std::move(nsp)), em_(&em) {}
  // Each returns false (with the reason in Emitter::last_error()) if the record was not written:
  // also for a reserved event name, and for names that are not UTF-8 (names_refused).
  bool emit(const std::string& event, socketio::Args args = {}) const;
  // (One room, a brace list or a vector of them.)
  using EmitTargets::sockets_join;
  using EmitTargets::sockets_leave;
  bool sockets_join(const std::vector<socketio::Room>& rooms) const;
  bool sockets_leave(const std::vector<socketio::Room>& rooms) const;
  bool disconnect_sockets(bool close = false) const;
  bool server_side_emit(const std::string& event, socketio::Args args = {}) const;

 private:
  Emitter* em_;
};

class Emitter : public MainNamespaceOps<Emitter, EmitOperator> {
 public:
  // Attaches to the ring `ring`; throws std::runtime_error with the reason if it cannot. Before
  // each message it looks whether the ring's file is still the one it attached (one stat()): a
  // ring removed and made anew (its cluster restarted) is attached again; one gone refuses the
  // message (false, last_error() says why).
  // `prefault`: fault in and touch every page of the ring at attach (shm::AttachMode::read_write),
  // as a long-lived emitter wants; off, pages are touched as records are written
  // (read_write_lazy: what the shmio-emit command, which writes one record and exits, uses).
  // `max_hold`: flow control. A reader lapped loses records, and a lapped worker disconnects its
  // clients, so after every 32nd of the ring written the emitter looks at the readers, and while
  // one is over half the ring behind, the message's call waits (a look every millisecond) until
  // that reader is within a quarter of it, for at most max_hold; then it writes on, and does not
  // wait for that reader again until it catches up (as the fleet bridge does, docs/redis.md).
  // 0: never wait.
  // `label`: shown by shm-inspect; not "worker-..." nor "bridge" nor "supervisor", the labels the
  // workers go by to tell their peers, the fleet bridge and the supervisor (refused: thrown).
  explicit Emitter(const std::string& ring, const std::string& label = "emitter",
                   bool prefault = true,
                   std::chrono::milliseconds max_hold = std::chrono::seconds(1));
  ~Emitter();
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  EmitOperator of(const std::string& nsp) { return EmitOperator(*this, nsp); }
  // (to, in, except, volatile_, compress, emit, sockets_join, ...: MainNamespaceOps, of "/".)
  const std::string& last_error() const noexcept { return error_; }
  // Waits for a reader far behind (max_hold), and those that ended at max_hold, since the start
  // (readable from any thread).
  std::uint64_t holds() const noexcept;
  std::uint64_t hold_timeouts() const noexcept;

 private:
  friend class EmitOperator;
  bool publish(std::uint16_t type, const std::string& payload);
  bool publish_broadcast(const std::string& nsp, const socketio::BroadcastOptions& opts,
                         const socketio::Packet& p);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace shmio::cluster
