// The Socket.IO server: clients (one per Engine.IO session), namespaces, sockets, acks, rooms.
// No Beast here: the transports are engineio::Server's.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

namespace {

std::string random_id() {
  return engineio::random_id();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* socket_reason(engineio::CloseReason r) {
  switch (r) {
    case engineio::CloseReason::transport_close:
      return "transport close";
    case engineio::CloseReason::transport_error:
      return "transport error";
    case engineio::CloseReason::ping_timeout:
      return "ping timeout";
    case engineio::CloseReason::parse_error:
      return "parse error";
    case engineio::CloseReason::forced_close:
      return "forced close";
    case engineio::CloseReason::none:
      break;
  }
  return "transport close";
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
  Client(Server& srv, engineio::SocketPtr conn)
      : srv_(srv), conn_(std::move(conn)), connect_timer_(srv.io()) {}

  void start() {
    connect_timer_.expires_after(srv_.options().connect_timeout);
    connect_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
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
      close_all("parse error");
      conn_->close();
      return;
    }
    if (p.type == PacketType::connect) {
      if (sockets_.count(p.nsp) != 0 || connecting_.count(p.nsp) != 0) {
        // A second CONNECT for a namespace joined or being joined: invalid state (as in the
        // reference), and it must not leave a second socket behind.
        close_all("parse error");
        conn_->close();
        return;
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
      connecting_.insert(p.nsp);
      nsp->connect(shared_from_this(), std::move(auth));
      return;
    }
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end()) {
      // A packet for a namespace this client has not joined: invalid state, as in the reference.
      close_all("parse error");
      conn_->close();
      return;
    }
    SocketPtr s = it->second;  // keep alive while it handles the packet
    s->on_packet(p);
  }

  void on_close(engineio::CloseReason r) {
    connect_timer_.cancel();
    close_all(socket_reason(r));
  }

  void send(const Packet& p) {
    conn_->send(engineio::Packet::text(engineio::PacketType::message, encode(p)));
    for (const Binary& b : p.attachments) conn_->send(engineio::Packet::shared_bytes(b));
  }
  // A broadcast: the same immutable frame (and attachment buffers) for every receiver.
  void write_shared(const std::shared_ptr<const std::string>& frame,
                    const std::vector<Binary>& binaries) {
    conn_->send(engineio::Packet::shared_text(frame));
    for (const Binary& b : binaries) conn_->send(engineio::Packet::shared_bytes(b));
  }

  void add(const std::string& nsp, SocketPtr s) {
    connecting_.erase(nsp);
    sockets_[nsp] = std::move(s);
    connect_timer_.cancel();
  }
  void refused(const std::string& nsp) { connecting_.erase(nsp); }
  void remove(const std::string& nsp) { sockets_.erase(nsp); }
  void close_all(const std::string& reason) {
    auto sockets = std::move(sockets_);
    sockets_.clear();
    for (auto& [name, s] : sockets) s->closed(reason);
  }
  // socket.disconnect(true): every namespace, then the connection.
  void disconnect_everything() {
    auto sockets = sockets_;
    for (auto& [name, s] : sockets) s->disconnect(false);
    conn_->close();
  }

 private:
  Server& srv_;
  engineio::SocketPtr conn_;
  Decoder decoder_;
  net::steady_timer connect_timer_;
  std::map<std::string, SocketPtr> sockets_;
  std::set<std::string> connecting_;  // CONNECTs whose middleware has not finished
};

// ---------------------------------------------------------------------------------------------
void InMemoryAdapter::add_all(const SocketId& id, const std::set<Room>& rooms) {
  for (const Room& r : rooms) {
    rooms_[r].insert(id);
    sids_[id].insert(r);
  }
}

void InMemoryAdapter::del(const SocketId& id, const Room& room) {
  if (auto it = rooms_.find(room); it != rooms_.end()) {
    it->second.erase(id);
    if (it->second.empty()) rooms_.erase(it);
  }
  if (auto it = sids_.find(id); it != sids_.end()) it->second.erase(room);
}

void InMemoryAdapter::del_all(const SocketId& id) {
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  for (const Room& r : it->second) {
    if (auto rit = rooms_.find(r); rit != rooms_.end()) {
      rit->second.erase(id);
      if (rit->second.empty()) rooms_.erase(rit);
    }
  }
  sids_.erase(it);
}

std::set<Room> InMemoryAdapter::socket_rooms(const SocketId& id) const {
  auto it = sids_.find(id);
  return it == sids_.end() ? std::set<Room>{} : it->second;
}

std::vector<SocketId> InMemoryAdapter::targets(const BroadcastOptions& opts) const {
  std::unordered_set<SocketId> excluded;
  for (const Room& r : opts.except)
    if (auto it = rooms_.find(r); it != rooms_.end())
      excluded.insert(it->second.begin(), it->second.end());
  std::vector<SocketId> out;
  if (opts.rooms.empty()) {
    for (const auto& [id, rooms] : sids_)
      if (excluded.count(id) == 0) out.push_back(id);
    return out;
  }
  std::unordered_set<SocketId> seen;
  for (const Room& r : opts.rooms) {
    auto it = rooms_.find(r);
    if (it == rooms_.end()) continue;
    for (const SocketId& id : it->second)
      if (excluded.count(id) == 0 && seen.insert(id).second) out.push_back(id);
  }
  return out;
}

std::set<Room> InMemoryAdapter::rooms() const {
  std::set<Room> out;
  for (const auto& [r, ids] : rooms_) out.insert(r);
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

std::size_t BroadcastOperator::emit_with_ack(
    const std::string& event, Args args,
    std::function<void(std::optional<std::string>, std::vector<Args>)> callback) const {
  const std::vector<SocketPtr> targets = fetch_sockets();
  struct State {
    explicit State(net::io_context& io) : timer(io) {}
    std::size_t pending = 0;
    bool missing = false;
    bool done = false;
    std::vector<Args> responses;
    std::function<void(std::optional<std::string>, std::vector<Args>)> callback;
    net::steady_timer timer;
    void finish(std::optional<std::string> error) {
      if (done) return;
      done = true;
      timer.cancel();
      try {
        callback(std::move(error), std::move(responses));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: broadcast ack callback threw: %s\n", e.what());
      }
    }
  };
  auto st = std::make_shared<State>(nsp_->server().io());
  st->callback = std::move(callback);
  st->pending = targets.size();
  if (targets.empty()) {
    st->finish(std::nullopt);
    return 0;
  }
  st->timer.expires_after(timeout_);
  st->timer.async_wait([st](const boost::system::error_code& ec) {
    if (!ec) st->finish(std::string("operation has timed out"));
  });
  for (const SocketPtr& s : targets) {
    // Each socket has its own ack id space, so each gets its own packet (the reference does the
    // same); the per-socket wait is the operator's timeout too.
    s->emit_with_ack(event, args, timeout_, [st](std::optional<std::string> err, Args reply) {
      if (st->done) return;
      if (err) {
        st->missing = true;  // timed out or disconnected: this one will never answer
      } else {
        st->responses.push_back(std::move(reply));
      }
      if (--st->pending == 0)
        st->finish(st->missing ? std::optional<std::string>("operation has timed out")
                               : std::nullopt);
    });
  }
  return targets.size();
}

std::size_t BroadcastOperator::emit(const std::string& event, Args args) const {
  return nsp_->deliver(event_packet(nsp_->name(), event, std::move(args)), opts_, nullptr);
}

std::vector<SocketPtr> BroadcastOperator::fetch_sockets() const {
  std::vector<SocketPtr> out;
  for (const SocketId& id : nsp_->adapter().targets(opts_))
    if (SocketPtr s = nsp_->socket(id)) out.push_back(std::move(s));
  return out;
}

void BroadcastOperator::sockets_join(const Room& room) const {
  for (const SocketPtr& s : fetch_sockets()) s->join(room);
}
void BroadcastOperator::sockets_leave(const Room& room) const {
  for (const SocketPtr& s : fetch_sockets()) s->leave(room);
}
void BroadcastOperator::disconnect_sockets(bool close) const {
  for (const SocketPtr& s : fetch_sockets()) s->disconnect(close);
}

// ---------------------------------------------------------------------------------------------
struct Socket::PendingAck {
  explicit PendingAck(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
  std::function<void(std::optional<std::string>, Args)> callback;
};

Socket::Socket(Namespace& nsp, std::shared_ptr<Client> client, SocketId id, Handshake hs,
               std::string pid)
    : nsp_(&nsp),
      client_(client),
      id_(std::move(id)),
      pid_(std::move(pid)),
      handshake_(std::move(hs)) {}

std::set<Room> Socket::rooms() const {
  return nsp_->adapter().socket_rooms(id_);
}
void Socket::join(const Room& room) {
  nsp_->adapter().add_all(id_, {room});
}
void Socket::leave(const Room& room) {
  nsp_->adapter().del(id_, room);
}

void Socket::on(const std::string& event, EventHandler h) {
  handlers_.emplace(event, std::make_pair(std::move(h), false));
}
void Socket::once(const std::string& event, EventHandler h) {
  handlers_.emplace(event, std::make_pair(std::move(h), true));
}
void Socket::off(const std::string& event) {
  handlers_.erase(event);
}
void Socket::on_any(std::function<void(const SocketPtr&, const std::string&, const Args&)> h) {
  any_.push_back(std::move(h));
}
void Socket::on_disconnect(std::function<void(const SocketPtr&, const std::string&)> h) {
  on_disconnect_.push_back(std::move(h));
}

void Socket::send_packet(Packet p) {
  if (auto c = client_.lock()) c->send(p);
}

bool Socket::emit(const std::string& event, Args args) {
  if (!connected_) return false;
  send_packet(event_packet(nsp_->name(), event, std::move(args)));
  return true;
}

bool Socket::emit_with_ack(const std::string& event, Args args, std::chrono::milliseconds timeout,
                           std::function<void(std::optional<std::string>, Args)> callback) {
  if (!connected_) return false;
  Packet p = event_packet(nsp_->name(), event, std::move(args));
  const std::uint64_t id = next_ack_++;
  p.id = id;
  auto pending = std::make_shared<PendingAck>(nsp_->server().io());
  pending->callback = std::move(callback);
  pending->timer.expires_after(timeout);
  pending->timer.async_wait([w = weak_from_this(), id](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self) return;
    auto it = self->acks_.find(id);
    if (it == self->acks_.end()) return;
    auto cb = std::move(it->second->callback);
    self->acks_.erase(it);
    try {
      cb(std::string("operation has timed out"), Args{});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
    }
  });
  acks_[id] = std::move(pending);
  send_packet(std::move(p));
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
      auto it = acks_.find(p.id.value_or(~0ULL));
      if (it == acks_.end()) return;  // late or unknown ack: ignored, as in the reference
      auto pending = std::move(it->second);
      acks_.erase(it);
      pending->timer.cancel();
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

void Socket::dispatch(const std::string& event, Args args, Ack ack) {
  auto self = shared_from_this();
  try {
    for (auto& h : any_) h(self, event, args);
    auto [first, last] = handlers_.equal_range(event);
    std::vector<EventHandler> run;
    for (auto it = first; it != last;) {
      run.push_back(it->second.first);
      it = it->second.second ? handlers_.erase(it) : std::next(it);
    }
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
  auto pending_acks = std::move(acks_);
  acks_.clear();
  for (auto& [ack_id, pending] : pending_acks) {
    pending->timer.cancel();
    try {
      pending->callback(std::string("socket has been disconnected"), Args{});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
    }
  }
  // Only these reasons keep a session for connection state recovery (as in socket.io).
  static const std::set<std::string> kRecoverable = {"transport error",      "transport close",
                                                     "forced close",         "ping timeout",
                                                     "server shutting down", "forced server close"};
  if (!pid_.empty() && kRecoverable.count(reason) != 0) nsp_->persist(*this);
  nsp_->adapter().del_all(id_);
  nsp_->remove(id_);
  // Handlers often capture their socket: dropping them (after on_disconnect) breaks those cycles.
  auto disconnect_handlers = std::move(on_disconnect_);
  handlers_.clear();
  any_.clear();
  on_disconnect_.clear();
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
      adapter_(std::make_unique<InMemoryAdapter>()),
      offset_prefix_(random_id().substr(0, 8) + "-") {}

SocketPtr Namespace::socket(const SocketId& id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second;
}

void Namespace::remove(const SocketId& id) {
  sockets_.erase(id);
}

void Namespace::connect(const std::shared_ptr<Client>& client, json::object auth) {
  const auto& recovery = server_->options().connection_state_recovery;
  if (recovery && restore(client, auth) && recovery->skip_middlewares) return;
  SocketPtr s;
  if (auto it = restoring_.find(client.get()); it != restoring_.end()) {
    s = std::move(it->second);
    restoring_.erase(it);
  } else {
    Handshake hs;
    hs.auth = std::move(auth);
    hs.address = client->conn()->remote_address();
    hs.headers = client->conn()->request().headers;
    hs.query = client->conn()->request().query;
    hs.url = client->conn()->request().url;
    hs.issued_ms = now_ms();
    s = std::make_shared<Socket>(*this, client, random_id(), std::move(hs),
                                 recovery ? random_id() : std::string());
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
  s->connected_ = true;
  sockets_[s->id()] = s;
  adapter_->add_all(s->id(), {s->id()});
  if (!s->restore_rooms_.empty()) adapter_->add_all(s->id(), std::exchange(s->restore_rooms_, {}));
  c->add(name_, s);
  // A recovered socket gets what it missed before the CONNECT reply (the client emits those
  // events before its "connect" event, in order).
  for (Packet& p : s->missed_) c->send(p);
  s->missed_.clear();
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
  const auto now = std::chrono::steady_clock::now();
  prune_sessions(now);
  SavedSession saved{s.id(), adapter_->socket_rooms(s.id()), s.data_, now};
  saved_[s.pid()] = std::move(saved);
}

void Namespace::prune_packets(std::chrono::steady_clock::time_point now) {
  const auto& r = *server_->options().connection_state_recovery;
  while (!stored_.empty() &&
         (stored_.size() > r.max_stored_packets || stored_bytes_ > r.max_stored_bytes ||
          now - stored_.front().at > r.max_disconnection_duration)) {
    stored_bytes_ -= stored_.front().bytes;
    stored_.pop_front();
  }
}

// Expired sessions are dropped when sessions are saved or restored (not per broadcast).
void Namespace::prune_sessions(std::chrono::steady_clock::time_point now) {
  const auto& r = *server_->options().connection_state_recovery;
  for (auto it = saved_.begin(); it != saved_.end();)
    it = now - it->second.at > r.max_disconnection_duration ? saved_.erase(it) : std::next(it);
}

bool Namespace::restore(const std::shared_ptr<Client>& client, const json::object& auth) {
  const json::value* pid = auth.if_contains("pid");
  const json::value* offset = auth.if_contains("offset");
  if (pid == nullptr || !pid->is_string() || offset == nullptr || !offset->is_string())
    return false;
  prune_sessions(std::chrono::steady_clock::now());
  prune_packets(std::chrono::steady_clock::now());
  auto it = saved_.find(std::string(pid->get_string()));
  if (it == saved_.end()) return false;
  SavedSession session = std::move(it->second);
  saved_.erase(it);
  // The offset must still be in the log, or the replay would be partial: then no recovery.
  auto from = std::find_if(stored_.begin(), stored_.end(),
                           [&](const StoredPacket& p) { return p.offset == offset->get_string(); });
  if (from == stored_.end()) return false;
  if (sockets_.count(session.id) != 0) return false;  // that id is connected again already
  Handshake hs;
  hs.auth = auth;
  hs.auth.erase("pid");
  hs.auth.erase("offset");
  hs.address = client->conn()->remote_address();
  hs.headers = client->conn()->request().headers;
  hs.query = client->conn()->request().query;
  hs.url = client->conn()->request().url;
  hs.issued_ms = now_ms();
  auto s = std::make_shared<Socket>(*this, client, session.id, std::move(hs),
                                    std::string(pid->get_string()));
  s->recovered_ = true;
  s->data_ = std::move(session.data);
  for (auto p = std::next(from); p != stored_.end(); ++p) {
    const bool included =
        p->opts.rooms.empty() || std::any_of(session.rooms.begin(), session.rooms.end(),
                                             [&](const Room& r) { return p->opts.rooms.count(r); });
    const bool excluded = std::any_of(session.rooms.begin(), session.rooms.end(),
                                      [&](const Room& r) { return p->opts.except.count(r); });
    if (included && !excluded) s->missed_.push_back(p->packet);
  }
  s->restore_rooms_ = std::move(session.rooms);
  if (server_->options().connection_state_recovery->skip_middlewares) {
    admit(client, s);
  } else {
    restoring_[client.get()] = s;  // connect() runs the middleware with this socket
  }
  return true;
}

std::size_t Namespace::deliver(const Packet& p, const BroadcastOptions& opts,
                               const SocketId* skip) {
  const auto& recovery = server_->options().connection_state_recovery;
  if (recovery && !p.id && !opts.flags.volatile_ &&
      (p.type == PacketType::event || p.type == PacketType::binary_event)) {
    // Connection state recovery: the broadcast gets an offset as its last argument, and is kept
    // (with its options) for replay to sockets that were away.
    Packet stored = p;
    std::string offset = offset_prefix_ + std::to_string(next_offset_++);
    stored.data->as_array().emplace_back(offset);
    const auto now = std::chrono::steady_clock::now();
    std::size_t bytes = encode(stored).size();
    for (const Binary& b : stored.attachments) bytes += b->size();
    stored_bytes_ += bytes;
    stored_.push_back({std::move(offset), opts, stored, bytes, now});
    prune_packets(now);
    return deliver_encoded(stored, opts, skip);
  }
  return deliver_encoded(p, opts, skip);
}

std::size_t Namespace::deliver_encoded(const Packet& p, const BroadcastOptions& opts,
                                       const SocketId* skip) {
  // Encoded once, as an Engine.IO text frame ("4" + packet), shared by every receiver along with
  // the binary attachments: one copy per broadcast, never one per socket.
  auto frame = std::make_shared<const std::string>("4" + encode(p));
  std::size_t n = 0;
  for (const SocketId& id : adapter_->targets(opts)) {
    if (skip != nullptr && id == *skip) continue;
    auto it = sockets_.find(id);
    if (it == sockets_.end()) continue;
    if (auto c = it->second->client_of()) {
      // Volatile: dropped for a client that could not take it right now (as in socket.io).
      if (opts.flags.volatile_ && !c->conn()->writable()) continue;
      c->write_shared(frame, p.attachments);
      ++n;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
Server::Server(net::io_context& io, ServerOptions options) : io_(io), options_(std::move(options)) {
  of("/");
  engineio::ServerOptions eo;
  eo.path = options_.path;
  eo.session = options_.engine;
  eo.allow_polling = options_.allow_polling;
  eo.allow_websocket = options_.allow_websocket;
  eo.cors_origin = options_.cors_origin;
  eo.cors_credentials = options_.cors_credentials;
  eo.allow_request = options_.allow_request;
  eo.static_files = options_.static_files;
  engineio::Handler h;
  h.on_open = [this](const engineio::SocketPtr& conn) {
    auto c = std::make_shared<Client>(*this, conn);
    clients_[conn.get()] = c;
    c->start();
  };
  h.on_message = [this](const engineio::SocketPtr& conn, engineio::Packet m) {
    auto it = clients_.find(conn.get());
    if (it != clients_.end()) it->second->on_message(std::move(m));
  };
  h.on_close = [this](const engineio::SocketPtr& conn, engineio::CloseReason r) {
    auto it = clients_.find(conn.get());
    if (it == clients_.end()) return;
    auto c = it->second;
    clients_.erase(it);
    c->on_close(r);
  };
  engine_ = std::make_unique<engineio::Server>(io, std::move(eo), std::move(h));
}

Server::~Server() = default;

Namespace& Server::of(const std::string& name) {
  auto& slot = namespaces_[name];
  if (!slot) slot = std::make_unique<Namespace>(*this, name);
  return *slot;
}

void Server::of(std::function<bool(const std::string&)> predicate,
                std::function<void(Namespace&)> setup) {
  dynamic_.emplace_back(std::move(predicate), std::move(setup));
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

void Server::close() {
  auto clients = clients_;
  for (auto& [conn, c] : clients) c->close_all("server shutting down");
  engine_->stop();
}

}  // namespace shmio::socketio
