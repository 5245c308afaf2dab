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

namespace shmio::socketio {

using Room = std::string;
using SocketId = std::string;

// Event arguments: JSON values; binary values are placeholders into `binaries`.
struct Args {
  boost::json::array values;
  std::vector<Binary> binaries;
  Args() = default;
  Args(std::initializer_list<boost::json::value_ref> v) : values(v) {}
  explicit Args(boost::json::array v, std::vector<Binary> b = {})
      : values(std::move(v)), binaries(std::move(b)) {}
};

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

struct Handshake {
  std::vector<std::pair<std::string, std::string>> headers;  // of the Engine.IO handshake request
  std::vector<std::pair<std::string, std::string>> query;    // its query parameters
  std::string url;                                           // its target
  boost::json::object auth;                                  // the CONNECT packet's payload
  std::string address;                                       // the client's IP address
  std::int64_t issued_ms = 0;  // when the socket connected (ms since the epoch)
  const std::string* header(std::string_view lower_case_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_case_name) return &v;
    return nullptr;
  }
};

struct BroadcastFlags {
  bool volatile_ = false;
  bool local = false;
  bool compress = true;
};

struct BroadcastOptions {
  std::set<Room> rooms;   // empty: every socket of the namespace
  std::set<Room> except;  // sockets in any of these rooms are skipped
  BroadcastFlags flags;
};

// Where a namespace keeps its rooms, and how a broadcast finds its sockets.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual void add_all(const SocketId& id, const std::set<Room>& rooms) = 0;
  virtual void del(const SocketId& id, const Room& room) = 0;
  virtual void del_all(const SocketId& id) = 0;
  virtual std::set<Room> socket_rooms(const SocketId& id) const = 0;
  // The ids a broadcast with these options reaches, on this process.
  virtual std::vector<SocketId> targets(const BroadcastOptions& opts) const = 0;
  virtual std::set<Room> rooms() const = 0;
};

// The in-process adapter: a rooms index (room -> ids, id -> rooms).
class InMemoryAdapter final : public Adapter {
 public:
  void add_all(const SocketId& id, const std::set<Room>& rooms) override;
  void del(const SocketId& id, const Room& room) override;
  void del_all(const SocketId& id) override;
  std::set<Room> socket_rooms(const SocketId& id) const override;
  std::vector<SocketId> targets(const BroadcastOptions& opts) const override;
  std::set<Room> rooms() const override;

 private:
  std::unordered_map<Room, std::unordered_set<SocketId>> rooms_;
  std::unordered_map<SocketId, std::set<Room>> sids_;
};

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
  // A broadcast with acks: `callback(error, responses)` once every target has answered (error
  // empty), or at the timeout / when the last missing target disconnects (error "operation has
  // timed out") with the responses that did arrive. Returns the number of targets.
  std::size_t emit_with_ack(
      const std::string& event, Args args,
      std::function<void(std::optional<std::string> error, std::vector<Args> responses)> callback)
      const;
  std::vector<SocketPtr> fetch_sockets() const;
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
  void leave(const Room& room);

  void on(const std::string& event, EventHandler handler);
  void once(const std::string& event, EventHandler handler);
  void off(const std::string& event);
  void on_any(std::function<void(const SocketPtr&, const std::string&, const Args&)> handler);
  void on_disconnect(std::function<void(const SocketPtr&, const std::string& reason)> handler);

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

  // Internal: called by the Client and the Namespace.
  std::shared_ptr<Client> client_of() const { return client_.lock(); }
  void on_packet(const Packet& p);
  void closed(const std::string& reason);

 private:
  void dispatch(const std::string& event, Args args, Ack ack);
  void send_packet(Packet p);

  friend class Namespace;
  Namespace* nsp_;
  std::weak_ptr<Client> client_;
  SocketId id_;
  std::string pid_;
  Handshake handshake_;
  boost::json::value data_;
  bool connected_ = false;  // true once admitted (after the middleware)
  bool recovered_ = false;
  std::set<Room> restore_rooms_;  // recovered: rejoined when admitted
  std::vector<Packet> missed_;    // recovered: sent before the CONNECT reply
  std::multimap<std::string, std::pair<EventHandler, bool /*once*/>> handlers_;
  std::vector<std::function<void(const SocketPtr&, const std::string&, const Args&)>> any_;
  std::vector<std::function<void(const SocketPtr&, const std::string&)>> on_disconnect_;
  std::uint64_t next_ack_ = 0;
  struct PendingAck;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingAck>> acks_;
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

  BroadcastOperator to(const Room& room) { return BroadcastOperator(*this, {}).to(room); }
  BroadcastOperator in(const Room& room) { return to(room); }
  BroadcastOperator except(const Room& room) { return BroadcastOperator(*this, {}).except(room); }
  std::size_t emit(const std::string& event, Args args = {}) {
    return BroadcastOperator(*this, {}).emit(event, std::move(args));
  }
  std::vector<SocketPtr> fetch_sockets() { return BroadcastOperator(*this, {}).fetch_sockets(); }
  void sockets_join(const Room& r) { BroadcastOperator(*this, {}).sockets_join(r); }
  void sockets_leave(const Room& r) { BroadcastOperator(*this, {}).sockets_leave(r); }
  void disconnect_sockets(bool close = false) {
    BroadcastOperator(*this, {}).disconnect_sockets(close);
  }

  Adapter& adapter() noexcept { return *adapter_; }
  SocketPtr socket(const SocketId& id) const;
  std::size_t size() const noexcept { return sockets_.size(); }

  // Internal: the client's CONNECT for this namespace.
  void connect(const std::shared_ptr<Client>& client, boost::json::object auth);
  void admit(const std::shared_ptr<Client>& client, const SocketPtr& s);
  void remove(const SocketId& id);
  // Writes one encoded packet to every target of `opts` (except `skip`); returns the count.
  std::size_t deliver(const Packet& p, const BroadcastOptions& opts, const SocketId* skip);

 private:
  Server* server_;
  std::string name_;
  std::vector<Middleware> middleware_;
  std::vector<std::function<void(const SocketPtr&)>> connection_;
  // Connection state recovery: broadcasts kept for replay, and sessions of recently
  // disconnected sockets (by pid).
  struct StoredPacket {
    std::string offset;
    BroadcastOptions opts;
    Packet packet;
    std::size_t bytes;
    std::chrono::steady_clock::time_point at;
  };
  struct SavedSession {
    SocketId id;
    std::set<Room> rooms;
    boost::json::value data;
    std::chrono::steady_clock::time_point at;
  };
  friend class Socket;
  void persist(const Socket& s);
  void prune_packets(std::chrono::steady_clock::time_point now);
  void prune_sessions(std::chrono::steady_clock::time_point now);
  bool restore(const std::shared_ptr<Client>& client, const boost::json::object& auth);

  std::unordered_map<SocketId, SocketPtr> sockets_;
  std::unique_ptr<Adapter> adapter_;
  std::size_t deliver_encoded(const Packet& p, const BroadcastOptions& opts, const SocketId* skip);
  std::deque<StoredPacket> stored_;
  std::size_t stored_bytes_ = 0;
  std::unordered_map<std::string, SavedSession> saved_;
  std::unordered_map<const Client*, SocketPtr> restoring_;  // recovered, awaiting middleware
  std::string offset_prefix_;  // offsets are unique to this namespace instance
  std::uint64_t next_offset_ = 0;
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
  std::string cors_origin;
  bool cors_credentials = false;
  std::function<bool(const std::vector<std::pair<std::string, std::string>>&)> allow_request;
  // Plain HTTP outside `path` (the chat demo's page and client bundle): see engineio.
  std::function<std::optional<engineio::ServerOptions::StaticResponse>(const std::string&)>
      static_files;
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
  boost::asio::io_context& io() noexcept { return io_; }
  const ServerOptions& options() const noexcept { return options_; }

 private:
  friend class Client;
  boost::asio::io_context& io_;
  ServerOptions options_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  std::vector<std::pair<std::function<bool(const std::string&)>, std::function<void(Namespace&)>>>
      dynamic_;
  std::unordered_map<const engineio::Socket*, std::shared_ptr<Client>> clients_;
  std::unique_ptr<engineio::Server> engine_;
};

}  // namespace shmio::socketio
