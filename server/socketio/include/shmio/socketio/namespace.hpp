// A Socket.IO namespace: its middleware, handlers, sockets and rooms (through its adapter), and
// its broadcasts. Part of the server API (shmio/socketio/server.hpp).
// Thread-safety: everything on the io_context's thread.
#pragma once

#include "shmio/socketio/socket.hpp"

namespace shmio::socketio {

class Server;
struct InProgress;

class Namespace {
 public:
  Namespace(Server& server, std::string name);
  const std::string& name() const noexcept { return name_; }
  Server& server() noexcept { return *server_; }

  void use(Middleware m) {
    middleware_.push_back(std::make_shared<const Middleware>(std::move(m)));
  }
  void on_connection(std::function<void(const SocketPtr&)> handler) {
    connection_.push_back(
        std::make_shared<const std::function<void(const SocketPtr&)>>(std::move(handler)));
  }
  // A connection handler that runs before those already added (Node's
  // nsp.prependListener("connection", fn)): an observer that must see each socket before the
  // app's handlers can send it away (shmio's --log-sockets).
  void prepend_connection(std::function<void(const SocketPtr&)> handler) {
    connection_.insert(
        connection_.begin(),
        std::make_shared<const std::function<void(const SocketPtr&)>>(std::move(handler)));
  }
  // Event handlers for every socket of this namespace, registered once: the same as calling
  // socket->on(event, handler) in a connection handler, without a copy of the handler table per
  // socket (a shmio extension; with a fixed set of events and many connections it is most of an
  // idle connection's memory). They run after the socket's own handlers for the event.
  // (A reserved event name throws std::invalid_argument: check_listened_event.)
  void on_event(const std::string& event, EventHandler handler) {
    check_listened_event(event);
    events_.emplace(event, std::move(handler));
  }

  // (Each also with several rooms: a brace list or a vector, as socket.io's arrays.)
  BroadcastOperator to(const Room& room) { return BroadcastOperator(*this, {}).to(room); }
  BroadcastOperator to(std::initializer_list<Room> r) { return BroadcastOperator(*this, {}).to(r); }
  BroadcastOperator to(const std::vector<Room>& r) { return BroadcastOperator(*this, {}).to(r); }
  BroadcastOperator in(const Room& room) { return to(room); }
  BroadcastOperator in(std::initializer_list<Room> rooms) { return to(rooms); }
  BroadcastOperator in(const std::vector<Room>& rooms) { return to(rooms); }
  BroadcastOperator except(const Room& room) { return BroadcastOperator(*this, {}).except(room); }
  BroadcastOperator except(std::initializer_list<Room> r) {
    return BroadcastOperator(*this, {}).except(r);
  }
  BroadcastOperator except(const std::vector<Room>& r) {
    return BroadcastOperator(*this, {}).except(r);
  }
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
  void sockets_join(std::initializer_list<Room> r) { BroadcastOperator(*this, {}).sockets_join(r); }
  void sockets_join(const std::vector<Room>& r) { BroadcastOperator(*this, {}).sockets_join(r); }
  void sockets_leave(const Room& r) { BroadcastOperator(*this, {}).sockets_leave(r); }
  void sockets_leave(std::initializer_list<Room> r) {
    BroadcastOperator(*this, {}).sockets_leave(r);
  }
  void sockets_leave(const std::vector<Room>& r) { BroadcastOperator(*this, {}).sockets_leave(r); }
  void disconnect_sockets(bool close = false) {
    BroadcastOperator(*this, {}).disconnect_sockets(close);
  }

  // serverSideEmit: to the handlers registered with on_server_side() on every other server.
  // ("connect", "connection" and "new_namespace" throw std::invalid_argument in each, as
  // socket.io's serverSideEmit.)
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

  // Made by a dynamic namespace's predicate (socket.io's child namespace): removed once empty
  // with ServerOptions::cleanup_empty_child_namespaces. Removed: no longer the server's
  // namespace of its name (what a Socket or RemoteSocket of it still holds).
  bool dynamic() const noexcept { return child_; }
  bool removed() const noexcept { return retired_; }
  // What keeps a removed namespace in memory: each Socket and RemoteSocket of it holds a copy.
  const std::shared_ptr<const int>& anchor() const noexcept { return anchor_; }

  // Internal: the client's CONNECT for this namespace.
  // `try_restore` false: a fresh socket whatever the auth says (a recovery that failed late).
  void connect(const std::shared_ptr<Client>& client, boost::json::object auth,
               bool try_restore = true);
  void admit(const std::shared_ptr<Client>& client, const SocketPtr& s);
  bool fits_a_queue(const engineio::Socket& conn, const std::vector<EncodedPacket>& missed,
                    std::size_t connect_bytes) const;
  Packet connect_reply(const Socket& s) const;
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
  // (Each behind a pointer: a connection runs the lists as they were when it came, without a
  // copy of each function — a mutable one keeps its state from one connection to the next.)
  std::vector<std::shared_ptr<const Middleware>> middleware_;
  std::vector<std::shared_ptr<const std::function<void(const SocketPtr&)>>> connection_;
  friend class Socket;
  void persist(const Socket& s);
  bool restore(const std::shared_ptr<Client>& client, const boost::json::object& auth);
  // A socket that will not be admitted (refused, or its connection closed while it was being
  // admitted): out of the rooms index, rooms a middleware joined for it with it, and no room
  // joined for it later goes in.
  void abandon(const SocketPtr& s);
  // cleanup_empty_child_namespaces: removed now if it is a child, empty, and no CONNECT to it is
  // in progress.
  void maybe_retire();
  void connect_ended();
  friend class Server;
  friend class ParentNamespace;
  friend struct InProgress;
  bool child_ = false;            // (set by Server::make)
  const void* parent_ = nullptr;  // (its registration's setup: ParentNamespace)
  bool counted_ = false;          // made by a client's CONNECT: one of max_dynamic_namespaces
  bool retired_ = false;
  std::size_t connecting_ = 0;  // CONNECTs in progress (connect() and their middleware chains)
  std::shared_ptr<const int> anchor_ = std::make_shared<const int>(0);

  // Keyed by a view of the socket's own id (it does not change while the socket is here).
  std::unordered_map<std::string_view, SocketPtr> sockets_;
  Stats stats_;
  std::multimap<std::string, EventHandler> events_;  // on_event: for every socket
  std::unique_ptr<Adapter> adapter_;
  std::unordered_map<const Client*, SocketPtr> restoring_;  // recovered, awaiting middleware
  std::multimap<std::string, std::function<void(Args, std::function<void(Args)>)>> server_side_;
  // (Last, so destroyed first: a CONNECT's guard that outlives this sees it gone before any other
  // member is.)
  std::shared_ptr<const char> alive_ = std::make_shared<const char>(0);  // (this one's alone)
};

}  // namespace shmio::socketio
