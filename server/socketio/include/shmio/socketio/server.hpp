// The Socket.IO v5 server API, shaped like socket.io's so that a socket.io user feels at home:
//
//   shmio::socketio::Server io(ctx, options);
//   io.of("/").use([](SocketPtr s, Next next) { next(std::nullopt); });
//   io.of("/").on_connection([&](SocketPtr s) {
//     s->join("room1");
//     s->on("chat", [&](SocketPtr s, Args args, Ack ack) {
//       io.of("/").to("room1").emit("chat", args);   // encoded once for all receivers
//       if (ack) ack(Args{"ok"});
//     });
//   });
//   io.listen("0.0.0.0", 3000);
//
// The pieces, one header each (this one includes them all): adapter.hpp (handler types, the
// Adapter interface and the in-process adapter; the cluster adapter over the ring implements it),
// socket.hpp (Socket, BroadcastOperator), namespace.hpp (Namespace), this file (ServerOptions,
// Server); value types in types.hpp, the packet codec in packet.hpp. Handler exceptions derived
// from std::exception are contained and logged on stderr: one from a connection handler, an
// event handler, an any-listener or a socket's ack callback (on the answer or at the timeout)
// disconnects its socket ("server namespace disconnect"); one from an event middleware before
// next() is next(error) (the socket's on_error listeners get it, the event is dropped: not
// logged), after next() only logged; one from a namespace
// middleware before next() refuses the connection (CONNECT_ERROR), after it is only logged; one
// from a listener that runs as the socket goes (on_disconnecting, on_disconnect), beside its
// traffic (on_any_outgoing, on_upgrade, on_error) or from a server-side handler is only logged, as
// is one from a callback that answers for several sockets or servers (a broadcast's
// emit_with_ack, fetch_sockets, a RemoteSocket's emit_with_ack, server_side_emit_with_ack, a room
// event listener, a dynamic namespace's check: then the next one is asked). One
// of any other type leaves io.run() as any uncaught exception does. Thread-safety: everything on
// the io_context's thread.
#pragma once

#include <new>

#include "shmio/socketio/namespace.hpp"

namespace shmio::socketio {

namespace detail {
struct LoopHandle;  // (private: socketio/src/detail.hpp)
}

// Connection state recovery (as socket.io's connectionStateRecovery option): a client that
// reconnects within max_disconnection_duration gets its id, rooms and data back, and every
// broadcast it missed, before the CONNECT reply.
struct RecoveryOptions {
  std::chrono::milliseconds max_disconnection_duration{120000};  // (at most a century)
  bool skip_middlewares = true;
  // Broadcasts kept for replay, per namespace, at most (older ones are also dropped after
  // max_disconnection_duration). 65536 chat-sized packets are a few MiB; a reconnect needing an
  // older one fails cleanly (a fresh session), never with a partial replay. (socket.io prunes by
  // time only. With recovery on, a socket's direct emits are kept here too, as broadcasts to its
  // own room: 500 sockets each sent 20 a second fill it in about 6.5 s, and a client away longer
  // than that starts afresh though within max_disconnection_duration. Size it to the traffic.)
  std::size_t max_stored_packets = 65536;
  // And in bytes of their encoded form: 64 MiB, so that large broadcasts cannot pin more.
  std::size_t max_stored_bytes = 64u << 20;
  // Sessions kept for recovery, per namespace, at most (one process's in-memory adapter; a
  // cluster's table has its own size, --max-sessions): 131,072, the cluster's default, a few
  // hundred bytes each. Past it the oldest is dropped, and its client starts afresh if it comes
  // back. (Unbounded before 2026-12-03: a client connecting and dropping in a loop made one a
  // cycle, each kept for max_disconnection_duration; socket.io has no bound either.)
  std::size_t max_saved_sessions = 131072;
  // Say each recovery refused on stderr, with its session id and why (`shmio --log-sockets`):
  // one process's in-memory adapter; a cluster's workers say theirs by NodeOptions::
  // log_recoveries. Off by default: a client names the session it asks for, and a loop of
  // attempts writes a line each.
  bool log_refused = false;
};

struct ServerOptions {
  std::string path = "/socket.io/";
  std::optional<RecoveryOptions> connection_state_recovery;
  engineio::SessionOptions engine;  // pingInterval, pingTimeout, upgradeTimeout, maxPayload
  std::chrono::milliseconds connect_timeout{45000};  // no namespace joined by then: closed
  // A client's binary packet: at most this many attachments (socket.io-parser's default, 10, which
  // socket.io's server decodes with: a packet with more, forwarded by an app, would be one that
  // socket.io-client's decoder refuses; each one an Engine.IO message held until the packet
  // completes; 64 before 2026-12-07), and at most this many bytes of
  // them together (0: 16 MiB, or engine.max_payload where that is more, so that one attachment as
  // large as a message may be is always taken). Over either, the client's connection is closed
  // ("parse error"), as for any packet it cannot decode.
  std::size_t max_attachments = 10;
  std::size_t max_attachment_bytes = 0;
  // A client's packet: at most this many levels of JSON nesting (the outer array counts one).
  // Boost.JSON's default, a bound on the parser's recursion; socket.io has none, so an app whose
  // clients send deeper trees (an editor's document, a syntax tree) raises it, up to 1000 (the
  // ring's readers take 1024, with the levels a record wraps around a packet; more is taken as
  // 1000, 0 as 32). Deeper: the client's connection is closed ("parse error"), as for any packet
  // it cannot decode. (Fixed at 32 before 2026-12-05.) A fleet's MessagePack takes 64 levels:
  // deeper data reaches another shmio host through Redis only as JSON (docs/redis.md).
  std::size_t max_json_depth = 32;
  // Dynamic namespaces (of(predicate, setup)) that clients' CONNECTs may make, at most (0: no
  // bound), at once: those removed by cleanup_empty_child_namespaces (below) no longer count.
  // Each is a namespace and its adapter (a few KiB; in a cluster with a fleet bridge one more
  // name in every announcement, in a Redis fleet four subscriptions): without a bound a client
  // CONNECTing to
  // /dyn-1, /dyn-2, ... grew the process (socket.io has no bound; a helper's review,
  // 2026-12-03). Past it a CONNECT to a new one is answered as for a namespace that does not
  // exist (CONNECT_ERROR "Invalid namespace"), said on stderr at most once a minute, and counted
  // (Server::dynamic_namespaces_refused). The app's own of(name) is not bounded. Without cleanup
  // none is removed, and one client can use the bound up: from then on new dynamic namespaces
  // are refused until the process restarts. In a cluster the bound is each worker's (a fleet
  // bridge subscribes to the union: up to workers x the bound names).
  std::size_t max_dynamic_namespaces = 10000;
  // socket.io's cleanupEmptyChildNamespaces: a dynamic namespace (one a predicate of
  // of(predicate, setup) matched: made by a client's CONNECT, or by of(name)) is removed once its
  // last socket leaves and no CONNECT to it is in progress — a socket disconnected, or one its
  // middleware refused. Its adapter is closed (in a cluster its name leaves the worker's
  // announcement, and a fleet bridge unsubscribes once no worker has it); the next CONNECT to the
  // name makes it again, with the setup and the new-namespace handlers run again. (Unlike
  // socket.io, a CONNECT whose middleware is still running keeps it: admitted, the socket would
  // be in a namespace no broadcast to the name reaches.) A Socket or RemoteSocket of a removed
  // namespace keeps it in memory (detached: what it broadcasts reaches the namespace of that name
  // on other servers, none here) until the last goes; a Namespace& or BroadcastOperator kept by
  // the app does not: take one from of(name) when it is needed. Off by default, as in socket.io.
  bool cleanup_empty_child_namespaces = false;
  // And their names at most this many bytes (a CONNECT's name may be as long as a message), so
  // that the bound above bounds their memory, and the size of a cluster's announcement of every
  // name to its fleet bridge (docs/redis.md). Past it refused
  // and counted as above, before the predicates are asked (0: no bound).
  std::size_t max_dynamic_namespace_bytes = 256;
  bool allow_polling = true;
  bool allow_websocket = true;
  std::optional<engineio::PerMessageDeflate> per_message_deflate;  // perMessageDeflate: off
  std::string cors_origin;                // (engineio::ServerOptions::cors_origin: "*" is "*")
  std::vector<std::string> cors_origins;  // (engineio::ServerOptions::cors_origins)
  bool cors_reflect_origin = false;       // (engineio::ServerOptions::cors_reflect_origin)
  // httpCompression's threshold: polling responses of 1 KiB or more compressed (0: off).
  std::size_t http_compression_threshold = 1024;
  bool cors_credentials = false;
  std::function<bool(const std::vector<std::pair<std::string, std::string>>&)> allow_request;
  // socket.io's serveClient: the directory of a socket.io-client package as npm installs it
  // (node_modules/socket.io-client: package.json beside dist/; or socket.io's own copy,
  // node_modules/socket.io, whose client-dist/ it serves with socket.io's version; or either
  // bundle directory itself). Its bundle is served at `path` + "/" + socket.io.js,
  // socket.io.min.js, socket.io.msgpack.min.js, socket.io.esm.min.js and their .map files (those
  // there), tagged with the package's version (engineio::ServerOptions::client_files: ETag, 304,
  // gzip, CORS). Read when the Server is made, unless client_files holds it already
  // (load_client_files; a directory without the bundle or its package's version throws
  // std::invalid_argument). Empty, the default: not served (socket.io serves the copy it ships
  // with by default; shmio ships none). `shmio --serve-client DIR` (serve() reads it once, before
  // its workers start, and gives them client_files).
  std::string serve_client;
  // The files serve_client names, read already (load_client_files): served instead of reading
  // serve_client again, so that every worker of a cluster serves the same files, as read once.
  // (shmio::parse_args' --serve-client drops one set before it; one set after it wins.)
  std::shared_ptr<const engineio::ServerOptions::ClientFiles> client_files;
  // Plain HTTP outside `path` (the chat demo's page and client bundle): see engineio.
  std::function<std::optional<engineio::ServerOptions::StaticResponse>(const std::string&)>
      static_files;
  // The application's own HTTP endpoints beside Socket.IO on the same port: see engineio.
  std::function<std::optional<engineio::ServerOptions::HttpResponse>(
      const engineio::ServerOptions::HttpRequest&)>
      routes;
  // engine.io's `cookie`: the polling handshake's answer sets one holding the session id, for a
  // load balancer's stickiness by cookie (engineio::ServerOptions::Cookie). Off by default.
  std::optional<engineio::ServerOptions::Cookie> cookie;
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
  // broadcast from one worker and an emit from another without the answers mixing up. They stay
  // at most kMaxAckId (k wraps): clients that read an id into a 32-bit int (socket.io-client-java's
  // Integer.parseInt) refuse a packet with a larger one. (ack_id_base < ack_id_stride.)
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
  std::size_t max_header_bytes = 16 << 10;                 // see engineio::ServerOptions
  std::size_t max_open_sessions = 1 << 20;                 // see engineio::ServerOptions
  std::function<void(int, int, std::string)> hand_off_to;
};

// What of(predicate, setup) returns: socket.io's parent namespace (io.of(regex)), to broadcast
// to every child namespace this server has made from that registration — by clients' CONNECTs
// or by of(name) — and not removed (cleanup_empty_child_namespaces): parent.emit(...),
// parent.to(room).emit(...). Each child's broadcast goes through its own adapter, so in a cluster
// it reaches every worker's sockets of the namespaces that exist here (a child only another
// worker has made is not reached from this one, as socket.io's parent broadcasts only to its own
// server's children). A small value: copies name the same registration; valid while its Server is.
// (Middleware and handlers for the children: the setup, which runs for each.)
class ParentNamespace {
 public:
  // The names of its children on this server, now.
  std::vector<std::string> children() const;
  ParentNamespace to(const Room& room) const { return with(&BroadcastOptions::rooms, {room}); }
  ParentNamespace to(std::initializer_list<Room> r) const {
    return with(&BroadcastOptions::rooms, r);
  }
  ParentNamespace to(const std::vector<Room>& r) const {
    return with(&BroadcastOptions::rooms, {r.begin(), r.end()});
  }
  ParentNamespace in(const Room& room) const { return to(room); }
  ParentNamespace in(std::initializer_list<Room> r) const { return to(r); }
  ParentNamespace in(const std::vector<Room>& r) const { return to(r); }
  ParentNamespace except(const Room& room) const { return with(&BroadcastOptions::except, {room}); }
  ParentNamespace except(std::initializer_list<Room> r) const {
    return with(&BroadcastOptions::except, r);
  }
  ParentNamespace except(const std::vector<Room>& r) const {
    return with(&BroadcastOptions::except, {r.begin(), r.end()});
  }
  ParentNamespace volatile_() const;
  ParentNamespace local() const;
  ParentNamespace compress(bool on) const;
  // Emits to every child as BroadcastOperator::emit does to one namespace; returns the sockets
  // reached on this process, all children together.
  std::size_t emit(const std::string& event, Args args = {}) const;

 private:
  friend class Server;
  std::vector<Namespace*> made() const;  // its children, in name order
  ParentNamespace(Server& server, std::shared_ptr<const void> id)
      : server_(&server), id_(std::move(id)) {}
  ParentNamespace with(std::set<Room> BroadcastOptions::*list, std::set<Room> rooms) const {
    ParentNamespace p(*this);
    (p.opts_.*list).insert(rooms.begin(), rooms.end());
    return p;
  }
  Server* server_;
  std::shared_ptr<const void> id_;  // (its registration's setup: what its children were made by)
  BroadcastOptions opts_;
};

// The largest file load_client_files reads: 16 MiB (socket.io-client 4.8's largest, a source
// map, is 300 KB; each is held in memory by every Server that serves it). A larger one is refused.
inline constexpr std::size_t kMaxClientFileBytes = std::size_t{16} << 20;

// The client bundle's files of a socket.io-client package directory (ServerOptions::
// serve_client): std::invalid_argument, saying why, when it has no dist/socket.io.js (nor
// client-dist/socket.io.js), no package.json of socket.io-client or socket.io with a plain
// version, or a file that cannot be read or is over kMaxClientFileBytes.
std::shared_ptr<const engineio::ServerOptions::ClientFiles> load_client_files(
    const std::string& dir);

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options = {});
  // Closes every session (their clients' disconnect handlers run here). Not from inside one of
  // this Server's own handlers (an event's, a middleware's, a route's): the caller's frames are
  // the Server's; post the destruction (boost::asio::post(io, ...)). The io_context may go on
  // after it.
  ~Server();

  // The namespace of this name, made if it is new (a name a dynamic namespace's predicate
  // matches gets that namespace's setup first, as socket.io's of() makes it a child of its
  // parent: before 2026-12-03 it was made without, so that every client of it later skipped the
  // setup's middleware; a setup that throws propagates, as below).
  Namespace& of(const std::string& name);
  // Dynamic namespaces: a CONNECT to an unknown name matching the predicate creates it (so does
  // of(name)), and `setup` prepares it (middleware, connection handlers) before the socket
  // connects. A setup that throws leaves no namespace (the client's CONNECT is answered with a
  // CONNECT_ERROR "Invalid namespace", its connection kept; the next CONNECT runs it again): the
  // Namespace& it and the new-namespace handlers were given is then gone — keep it nowhere. A
  // predicate that throws matches nothing (said on stderr). Returns the parent namespace:
  // broadcasts to every child made from this registration.
  ParentNamespace of(std::function<bool(const std::string&)> predicate,
                     std::function<void(Namespace&)> setup);
  // The same with socket.io's asynchronous form, io.of((name, auth, next) => ...): `check` gets
  // the name, the client's CONNECT auth and `next`, to be called once — from any thread, later
  // (a look-up) — with true to make the namespace (and connect the client to it), false to pass
  // (the next registration is asked; none left: the client gets "Invalid namespace"). Asked for a
  // client's CONNECT only (of(name) asks the predicates above, as socket.io's of(name) asks its
  // regular expressions only), after every predicate of the form above said no, in registration
  // order, within max_dynamic_namespace_bytes and max_dynamic_namespaces. One that throws counts
  // as false (said on stderr); a setup that throws, as "Invalid namespace"; a check that lets
  // go of `next` (every copy) without calling it, as "Invalid namespace". Since 2026-12-05.
  using NamespaceCheck = std::function<void(
      const std::string& name, const boost::json::object& auth, std::function<void(bool)> next)>;
  ParentNamespace of(NamespaceCheck check, std::function<void(Namespace&)> setup);
  // The namespace of this name as a client's CONNECT finds it: there already, or made now if a
  // dynamic namespace's predicate matches (within ServerOptions::max_dynamic_namespaces and
  // max_dynamic_namespace_bytes), else nullptr.
  Namespace* find(const std::string& name);
  // The namespace of this name if this server has it now, else nullptr: never makes one (find()
  // makes a dynamic one, and /metrics, looking up a removed namespace's name with it, made it
  // again on every scrape, with its setup; before 2026-12-04).
  // ("chat" is "/chat", as of() has it: before 2026-12-05 it was looked up as given, nullptr.)
  Namespace* existing(const std::string& name) noexcept {
    if (name.empty() || name[0] != '/') {
      try {
        return existing("/" + name);
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
    }
    auto it = namespaces_.find(name);
    return it == namespaces_.end() ? nullptr : it->second.get();
  }
  // The names of the namespaces this server has now (static ones, and dynamic ones created).
  std::vector<std::string> namespace_names() const;
  // io.on("new_namespace"): called with each namespace created from now on (by of(name), or a
  // dynamic one created by a client's CONNECT), before any socket joins it.
  void on_new_namespace(std::function<void(Namespace&)> handler) {
    new_namespace_.push_back(
        std::make_shared<const std::function<void(Namespace&)>>(std::move(handler)));
  }

  // Shortcuts on the main namespace.
  void use(Middleware m) { of("/").use(std::move(m)); }
  void on_connection(std::function<void(const SocketPtr&)> h) {
    of("/").on_connection(std::move(h));
  }
  BroadcastOperator to(const Room& room) { return of("/").to(room); }
  BroadcastOperator to(std::initializer_list<Room> rooms) { return of("/").to(rooms); }
  BroadcastOperator to(const std::vector<Room>& rooms) { return of("/").to(rooms); }
  std::size_t emit(const std::string& event, Args args = {}) {
    return of("/").emit(event, std::move(args));
  }
  // The rest of socket.io's io.* operators, as of("/")'s (before 2026-12-04 a port of
  // io.in(room).fetchSockets() or io.except(room).emit() did not compile; of("/") was needed).
  BroadcastOperator in(const Room& room) { return of("/").in(room); }
  BroadcastOperator in(std::initializer_list<Room> rooms) { return of("/").in(rooms); }
  BroadcastOperator in(const std::vector<Room>& rooms) { return of("/").in(rooms); }
  BroadcastOperator except(const Room& room) { return of("/").except(room); }
  BroadcastOperator except(std::initializer_list<Room> rooms) { return of("/").except(rooms); }
  BroadcastOperator except(const std::vector<Room>& rooms) { return of("/").except(rooms); }
  BroadcastOperator volatile_() { return of("/").volatile_(); }
  BroadcastOperator local() { return of("/").local(); }
  BroadcastOperator compress(bool on) { return of("/").compress(on); }
  BroadcastOperator timeout(std::chrono::milliseconds t) { return of("/").timeout(t); }
  std::vector<SocketPtr> fetch_sockets() { return of("/").fetch_sockets(); }
  void fetch_sockets(std::function<void(std::vector<RemoteSocket>)> done) {
    of("/").fetch_sockets(std::move(done));
  }
  void sockets_join(const Room& room) { of("/").sockets_join(room); }
  void sockets_join(std::initializer_list<Room> rooms) { of("/").sockets_join(rooms); }
  void sockets_join(const std::vector<Room>& rooms) { of("/").sockets_join(rooms); }
  void sockets_leave(const Room& room) { of("/").sockets_leave(room); }
  void sockets_leave(std::initializer_list<Room> rooms) { of("/").sockets_leave(rooms); }
  void sockets_leave(const std::vector<Room>& rooms) { of("/").sockets_leave(rooms); }
  void disconnect_sockets(bool close = false) { of("/").disconnect_sockets(close); }
  void server_side_emit(const std::string& event, Args args = {}) {
    of("/").server_side_emit(event, std::move(args));
  }
  void server_side_emit_with_ack(const std::string& event, Args args,
                                 std::chrono::milliseconds timeout, AckCallback done) {
    of("/").server_side_emit_with_ack(event, std::move(args), timeout, std::move(done));
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
  // CONNECTs refused for ServerOptions::max_dynamic_namespaces or max_dynamic_namespace_bytes,
  // since the start.
  std::uint64_t dynamic_namespaces_refused() const noexcept { return dynamic_refused_; }
  // Dynamic namespaces removed by cleanup_empty_child_namespaces since the start, and those
  // removed whose memory a Socket or RemoteSocket still holds.
  std::uint64_t namespaces_removed() const noexcept { return removed_; }
  std::size_t namespaces_detached() const noexcept { return retired_.size(); }
  // The counters (Namespace::stats) of a namespace removed by cleanup_empty_child_namespaces and
  // not made again (nullptr: none kept for `name`). A namespace made again under a name starts
  // from them, so that its counters never go down across removals (a worker="all" total in a
  // cluster's /metrics summed them from workers that remove the namespace at different times).
  // At most kCarriedNames names are kept: past it, the first by name is forgotten.
  static constexpr std::size_t kCarriedNames = 4096;
  const Namespace::Stats* carried_stats(const std::string& name) const noexcept {
    auto it = carried_.find(name);
    return it == carried_.end() ? nullptr : &it->second;
  }
  boost::asio::io_context& io() noexcept { return io_; }
  const ServerOptions& options() const noexcept { return options_; }
  // Expires when this Server is destroyed: for an object that keeps a reference to it and may
  // outlive it (a cluster::Node started for it stops serving it then).
  std::weak_ptr<const void> lifetime() const noexcept { return life_; }

 private:
  friend class Client;
  friend class Namespace;
  friend class ParentNamespace;
  friend class Socket;
  friend class BroadcastOperator;
  // cleanup_empty_child_namespaces: takes `n` out of the namespaces (it stays in retired_ while a
  // Socket or RemoteSocket of it lives: sweep_retired frees those no one holds).
  void retire(Namespace& n);
  void sweep_retired();
  void post_sweep();
  // Makes the namespace `name` (not there yet): `setup` if a dynamic namespace's predicate
  // matched, then the new-namespace handlers (socket.io's createChild order).
  using Setup = std::shared_ptr<const std::function<void(Namespace&)>>;
  Namespace& make(const std::string& name, Setup setup);
  Setup dynamic_setup(const std::string& name) const;
  boost::asio::io_context& io_;
  // Continuations an app may call from other threads (Next, Ack) reach the loop through it, and
  // do nothing once this Server is going (detail::from_any_thread). Its destructor, run after
  // every member declared below it, says there is no loop any more.
  struct LoopRef {
    std::shared_ptr<detail::LoopHandle> h;
    ~LoopRef();
  };
  LoopRef loop_;
  ServerOptions options_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  // (A setup behind a pointer: one running while another dynamic namespace is registered, which
  // may move this list, stays where it is.)
  std::vector<std::pair<std::function<bool(const std::string&)>, Setup>> dynamic_;
  std::vector<std::pair<NamespaceCheck, Setup>> dynamic_checks_;  // (of(NamespaceCheck, setup))
  // A client's CONNECT to a name no namespace has and no predicate matched: whether the
  // asynchronous checks are to be asked (some registered, the name within its bound), and the
  // asking: `done` gets the namespace made (or made meanwhile), or nullptr.
  bool asks_dynamic(const std::string& name);
  void dynamic_refused(const std::string& name, bool too_long);  // (counted, said once a minute)
  void check_dynamic(const std::string& name, const boost::json::object& auth,
                     std::function<void(Namespace*)> done);
  struct DynamicAsk;
  void ask_dynamic(const std::shared_ptr<DynamicAsk>& ask, std::size_t from);
  // (Before clients_ and engine_: a session closed as the engine goes may remove a namespace.)
  std::vector<std::unique_ptr<Namespace>> retired_;
  std::map<std::string, Namespace::Stats> carried_;  // carried_stats()
  std::uint64_t removed_ = 0;
  bool sweep_posted_ = false;
  std::shared_ptr<bool> life_ = std::make_shared<bool>(true);  // (posted sweeps, lifetime())
  // Expires as this Server's destruction begins: a broadcast's or a server-side emit's ack
  // callback is not called after it (its collector's timer may outlive the Server, and the
  // sockets closed as the engine goes lose their answers during the destruction itself).
  std::shared_ptr<bool> callbacks_life_ = std::make_shared<bool>(true);
  std::vector<std::shared_ptr<Client>> clients_;  // the open ones (a Client knows its slot)
  std::unique_ptr<engineio::Server> engine_;
  std::uint64_t next_ack_ = 0;
  std::size_t dynamic_made_ = 0;  // (by clients' CONNECTs: find(); those removed not counted)
  std::uint64_t dynamic_refused_ = 0;
  std::chrono::steady_clock::time_point dynamic_refusal_said_{};
  // (By pointer: a handler runs as itself, not a copy; a mutable one keeps its state.)
  std::vector<std::shared_ptr<const std::function<void(Namespace&)>>> new_namespace_;
};

}  // namespace shmio::socketio
