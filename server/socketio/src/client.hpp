// The Socket.IO client of one Engine.IO session: its namespaces' sockets, the CONNECTs in
// progress, the decoder of what it sends (private to socketio/src).
#pragma once

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "detail.hpp"
#include "shmio/socketio/server.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

// One Engine.IO session and the namespaces it joined.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Server& srv, engineio::SocketPtr conn)
      : srv_(srv), conn_(std::move(conn)), decoder_(decoder_limits(srv.options())) {}

  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
  // A client's CONNECTs waiting at once for dynamic namespace checks or middleware: a bound on
  // what one client can have the app look up (socket.io has none); 64 is more namespaces than a
  // page opens at once.
  static constexpr std::size_t kMaxPendingChecks = 64;
  std::size_t slot = kNoSlot;  // its index in Server::clients_ while it is open

  void start() {
    connect_timer_ = std::make_unique<net::steady_timer>(srv_.io());
    connect_timer_->expires_after(srv_.options().connect_timeout);
    connect_timer_->async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || !self->sockets_.empty()) return;
      self->conn_->close();  // no namespace joined in time
    });
  }

  const engineio::SocketPtr& conn() const noexcept { return conn_; }

  static DecoderLimits decoder_limits(const ServerOptions& o) {
    DecoderLimits l;
    l.max_attachments = o.max_attachments;
    // (0: the default, 32, as 0 is elsewhere in ServerOptions; past 1000, 1000.)
    l.max_depth = o.max_json_depth == 0 ? 32 : std::min<std::size_t>(o.max_json_depth, 1000);
    l.max_attachment_bytes =
        o.max_attachment_bytes != 0
            ? o.max_attachment_bytes
            : std::max<std::size_t>(std::size_t{16} << 20, o.engine.max_payload);
    return l;
  }

  void on_message(engineio::Packet m) {
    Packet p;
    const Decoder::Status st =
        m.binary ? decoder_.feed_binary(std::move(m.data), p) : decoder_.feed_text(m.data, p);
    if (st == Decoder::Status::need_more) return await_attachments();
    stop_attachments_timer();
    if (st == Decoder::Status::error) {
      // An undecodable Socket.IO packet: the connection is closed with "parse error", the
      // reason socket.io documents for an invalid packet (its 4.8 code reports "forced close"
      // here: docs/server.md). Not a reason that keeps a session for recovery. Every socket of
      // the client is told first, through its on_error (socket.io's socket.on("error"); it was
      // not before 2026-12-03).
      return parse_failed(to_string(decoder_.error()));
    }
    if (p.type == PacketType::connect_error) return invalid_state();  // a server-only packet
    if (p.type == PacketType::connect) {
      // A second CONNECT for a namespace joined: invalid state, as in the reference.
      if (joined(p.nsp) != nullptr) return invalid_state();
      // One for a namespace still being joined (its middleware has not finished: socket.io-client
      // sends it when connect() is called again before the answer) is let go: the answer to the
      // first answers the client's one socket. (Until 2026-12-05 it closed the whole connection;
      // socket.io makes a second socket, and the client then gets every message twice.)
      if (std::find(connecting_.begin(), connecting_.end(), p.nsp) != connecting_.end()) return;
      // (At most kMaxPendingChecks of a client's CONNECTs wait for the app's checks or its
      // middlewares at once, each holding its auth and its socket: more are answered "Invalid
      // namespace". Until 2026-12-05 only those waiting for a dynamic namespace's check were
      // counted, and one client could hold as many as the server makes dynamic namespaces, each
      // CONNECT also looked for in the list of all of them; found by a review.)
      if (connecting_.size() >= kMaxPendingChecks) return invalid_namespace(p.nsp);
      Namespace* nsp = srv_.find(p.nsp);
      if (nsp == nullptr && srv_.asks_dynamic(p.nsp)) {
        // The app's asynchronous checks (Server::of(NamespaceCheck, setup)): the CONNECT waits
        // for their answer, as for a middleware's (a second one meanwhile is let go).
        json::object auth = p.data && p.data->is_object() ? p.data->get_object() : json::object{};
        connecting_.push_back(p.nsp);
        srv_.check_dynamic(p.nsp, auth,
                           [w = weak_from_this(), name = p.nsp, auth](Namespace* made) mutable {
                             auto self = w.lock();
                             if (!self || !self->srv_.open(self.get())) return;
                             if (made == nullptr) {
                               self->refused(name);
                               return self->invalid_namespace(name);
                             }
                             made->connect(self, std::move(auth));
                           });
        return;
      }
      if (nsp == nullptr) return invalid_namespace(p.nsp);
      json::object auth = p.data && p.data->is_object() ? p.data->get_object() : json::object{};
      connecting_.push_back(p.nsp);
      nsp->connect(shared_from_this(), std::move(auth));
      return;
    }
    SocketPtr s = joined(p.nsp);  // (kept alive while it handles the packet)
    if (!s) {
      // A packet for a namespace whose socket left in this turn (the server disconnected it while
      // handling an earlier packet of the same batch: a polling payload, the frames of one read)
      // is dropped: socket.io routes a batch's packets to their sockets before any is handled,
      // and a socket gone by then ignores its packets. (Before 2026-12-05 it closed the whole
      // connection, every other namespace with it; found by a review.)
      if (left_ && left_->count(p.nsp) != 0) return;
      // A packet for a namespace this client has not joined: invalid state, as in the reference.
      return invalid_state();
    }
    s->on_packet(p);
  }

  // The connection moved to WebSocket: each socket's upgrade handlers.
  void upgraded() {
    auto sockets = sockets_;
    for (auto& s : sockets) s->upgraded();
  }

  // What the client sent cannot be read: every socket told `why` through its on_error, then the
  // connection closed with "parse error".
  void parse_failed(const std::string& why) {
    auto sockets = sockets_;
    for (auto& s : sockets) s->decode_failed(why);
    close("parse error");
  }

  // A packet that is valid but not now (the reference's "invalid state"): the server closes the
  // connection. The reason is socket.io 4.8's: its engine closes at once where it can (a
  // WebSocket with nothing queued, a polling session with a GET held), and its sockets hear that
  // close first, "forced close"; otherwise (no GET held, or output still queued) the close waits
  // and they hear "forced server close" (checked against the pinned socket.io 4.8.1; before
  // 2026-12-05 it was always "forced server close" here). Both keep a session for recovery.
  void invalid_state() {
    const bool at_once = conn_->transport() == engineio::TransportKind::websocket
                             ? conn_->queued().packets == 0
                             : conn_->writable();
    close(at_once ? "forced close" : "forced server close");
  }

  void on_close(engineio::CloseReason r) {
    stop_connect_timer();
    stop_attachments_timer();
    // The Engine.IO reason is the socket's (socket.io names them alike).
    close_all(r == engineio::CloseReason::none ? "transport close" : engineio::to_string(r));
  }

  // Returns the payload bytes sent (the packet's text, then its attachments).
  std::size_t send(const Packet& p, bool compress = true) {
    engineio::Packet m = engineio::Packet::text(engineio::PacketType::message, encode(p));
    m.compress = compress;
    std::size_t bytes = m.data.size();
    if (p.type == PacketType::disconnect && joined(p.nsp)) {
      // The server's word that a namespace is left (the app's disconnect, a namespace's
      // removal): past the queue's bound, as a ping is — one per namespace joined, a name's
      // bytes each. Sent as a message, a queue the app had filled closed the session as a slow
      // consumer's and dropped it (socket.disconnect(true): no DISCONNECT, no close packet, and
      // a Python client reconnected; before 2026-12-07). Only for a namespace joined (its
      // CONNECT went through the bound): a socket sent away while it joins (a room listener's
      // disconnect at its first room) is not yet, and a client that does not read, asking again
      // and again, would otherwise grow the queue past it without end (a review).
      conn_->send_past_bound(m.to_frame());
      return bytes;
    }
    if (p.attachments.empty()) {
      conn_->send(std::move(m));
      return bytes;
    }
    // A binary message: the header and its attachments queued as one (all or none). (On the
    // stack for a few attachments: no allocation beyond the frames', as before the change.)
    boost::container::small_vector<engineio::FrameRef, 4> rest;
    rest.reserve(p.attachments.size());
    for (const Binary& b : p.attachments) {
      bytes += b->size();
      rest.push_back(engineio::Frame::make(engineio::Frame::Kind::binary, *b, compress));
    }
    conn_->send_message(m.to_frame(), {rest.data(), rest.size()});
    return bytes;
  }
  void invalid_namespace(const std::string& nsp) {
    Packet err;
    err.type = PacketType::connect_error;
    err.nsp = nsp;
    err.data = json::object{{"message", "Invalid namespace"}};
    send(err);
  }
  void add(const std::string& nsp, SocketPtr s) {
    refused(nsp);
    // (With the index, a namespace not joined is not looked for in the vector.)
    if (auto it = index_ && index_->count(nsp) == 0 ? sockets_.end() : find(nsp);
        it != sockets_.end()) {
      if (index_) (*index_)[(*it)->nsp().name()] = s;
      *it = std::move(s);
    } else {
      sockets_.push_back(std::move(s));
      if (index_) {
        index_->emplace(sockets_.back()->nsp().name(), sockets_.back());
      } else if (sockets_.size() > kIndexFrom) {
        index_ = std::make_unique<std::unordered_map<std::string, SocketPtr>>();
        for (const SocketPtr& j : sockets_) index_->emplace(j->nsp().name(), j);
      }
    }
    stop_connect_timer();
  }
  void refused(const std::string& nsp) {
    auto it = std::find(connecting_.begin(), connecting_.end(), nsp);
    if (it != connecting_.end()) connecting_.erase(it);
    if (connecting_.empty()) connecting_.shrink_to_fit();
  }
  // Whether `ok` holds for each of its sockets (none joined: true).
  template <class Pred>
  bool all_sockets(Pred ok) const {
    return std::all_of(sockets_.begin(), sockets_.end(),
                       [&](const SocketPtr& s) { return ok(*s); });
  }
  void remove(const std::string& nsp) {
    if (index_ && index_->count(nsp) == 0) return;
    auto it = find(nsp);
    if (it == sockets_.end()) return;
    sockets_.erase(it);
    if (index_) {
      index_->erase(nsp);
      if (sockets_.size() <= kIndexFrom / 2) index_.reset();
    }
    // (Kept until the turn ends: on_message drops the batch's later packets for it. Each name
    // once: a batch that joins and leaves one namespace thousands of times listed it as often,
    // and every later packet of the batch for a namespace left was looked up through them all,
    // a quadratic stall of the event loop from one POST; before 2026-12-05, found by a review. A
    // set: a client that left thousands of dynamic namespaces in one batch had each later packet
    // looked up through them all, and each leave too; before 2026-12-07, a bug hunt.)
    // (Made at the turn's first leave, its clearing posted then; none held between turns.)
    if (!left_) {
      left_ = std::make_unique<std::unordered_set<std::string>>();
      net::post(srv_.io(), [w = weak_from_this()] {
        if (auto self = w.lock()) self->left_.reset();
      });
    }
    left_->insert(nsp);
  }
  // Every socket closed for `reason` (their sessions saved for recovery where it allows), then
  // the connection: a client that reconnects at once finds its sessions saved.
  void close(const std::string& reason) {
    close_all(reason);
    conn_->close();
  }
  void close_all(const std::string& reason) {
    auto sockets = std::move(sockets_);
    sockets_.clear();
    index_.reset();
    for (auto& s : sockets) s->closed(reason);
  }
  // socket.disconnect(true): every namespace, then the connection — on a WebSocket with an
  // Engine.IO close packet before its close frame, which engine.io does not send: a client the
  // app disconnected is not to reconnect, and python-engineio reads its "41" on a thread of its
  // own while its read loop goes on to the close frame, which without the "1" (the server's other
  // closes, since 2026-12-07) it may take for a lost connection first, and reconnect.
  // engine.io-client ignores a "1" on a WebSocket. (A review's finding.)
  // (Past the queue's bound: through send(), a queue one frame short of it closed the session
  // as a slow consumer's, its DISCONNECT dropped with it; a review.)
  void disconnect_everything() {
    auto sockets = sockets_;
    for (auto& s : sockets) s->disconnect(false);
    conn_->close_saying_so();
  }

 private:
  Server& srv_;
  engineio::SocketPtr conn_;
  Decoder decoder_;
  // Only until the first namespace is joined (then released: an idle client holds no timer).
  std::unique_ptr<net::steady_timer> connect_timer_;
  // While a binary packet waits for its attachments: they must all come within a ping interval
  // and timeout of its header (the window a partial WebSocket message has), or the connection is
  // closed with "parse error" (its sockets told, as for an undecodable packet). A client that
  // announced attachments and never sent them held them — up to the attachments' bound, 16 MiB,
  // and the packet's JSON — for as long as it answered pings (before 2026-12-03; a helper's
  // review). The timer is made at the client's first binary packet and kept for the next ones.
  std::unique_ptr<net::steady_timer> attachments_timer_;
  bool attachments_armed_ = false;  // a packet's attachments are awaited
  // (Which packet's wait: a handler already due when its packet completed, and run after the
  // next packet's header came, must not take that packet for late.)
  std::uint32_t attachments_wait_ = 0;
  void await_attachments() {
    if (attachments_armed_) return;  // (the deadline is the header's)
    if (!attachments_timer_) attachments_timer_ = std::make_unique<net::steady_timer>(srv_.io());
    attachments_armed_ = true;
    attachments_timer_->expires_after(srv_.options().engine.ping_interval +
                                      srv_.options().engine.ping_timeout);
    attachments_timer_->async_wait(
        [w = weak_from_this(), wait = attachments_wait_](const boost::system::error_code& ec) {
          auto self = w.lock();
          if (ec || !self || self->attachments_wait_ != wait || !self->decoder_.awaiting_binary())
            return;
          self->parse_failed("a binary packet's attachments did not all come in time");
        });
  }
  void stop_attachments_timer() {
    if (!attachments_armed_) return;
    attachments_armed_ = false;
    ++attachments_wait_;
    attachments_timer_->cancel();
  }
  void stop_connect_timer() {
    if (!connect_timer_) return;
    connect_timer_->cancel();  // its handler sees operation_aborted (it owns nothing of ours)
    connect_timer_.reset();
  }
  // Its socket in each namespace joined, in joining order (a client joins few: a vector of
  // handles is 16 bytes each where a map keyed by name took a 96-byte node).
  std::vector<SocketPtr> sockets_;
  std::vector<SocketPtr>::iterator find(const std::string& nsp) {
    return std::find_if(sockets_.begin(), sockets_.end(),
                        [&](const SocketPtr& s) { return s->nsp().name() == nsp; });
  }
  // Its socket in namespace `nsp`, null if none: by the index past kIndexFrom namespaces (a walk
  // over all of them per packet made a client of 10,000 dynamic namespaces cost 80 us a packet,
  // ten times socket.io's, whose client keeps a Map; found by a review, 2026-12-05).
  SocketPtr joined(const std::string& nsp) {
    if (index_) {
      const auto it = index_->find(nsp);
      return it == index_->end() ? nullptr : it->second;
    }
    const auto it = find(nsp);
    return it == sockets_.end() ? nullptr : *it;
  }
  static constexpr std::size_t kIndexFrom = 16;
  std::unique_ptr<std::unordered_map<std::string, SocketPtr>> index_;
  std::vector<std::string> connecting_;  // CONNECTs whose middleware has not finished
  // Namespaces whose socket left in this turn (null in between: a pointer, not a set in every
  // connection).
  std::unique_ptr<std::unordered_set<std::string>> left_;
};
// A pending ack of an emit to one socket (its own timer) or of a broadcast (its collector times
// it).
struct Socket::PendingAck {
  std::unique_ptr<net::steady_timer> timer;  // none for a broadcast's ack (its collector times it)
  std::function<void(std::optional<std::string>, Args)> callback;
  // A broadcast's ack: when its requester stops waiting (its timeout, BroadcastFlags::timeout_ms;
  // max() if none was said). Past it the entry is worth nothing and is swept.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Gives the callback the answer (err empty), or why no answer will come; only before the
  // deadline. Past it the requester has stopped waiting: its timer started before the broadcast
  // was delivered here (socketio::AckCollector::arm), this deadline when it was. So nobody is
  // told, and in a cluster neither an answer nor a "lost" record goes through the ring for it
  // (before 2026-12-03 the requester's timer started after its own delivery, and answers past
  // this deadline were passed on for a margin).
  void settle(std::optional<std::string> err, Args a) {
    if (deadline != std::chrono::steady_clock::time_point::max() &&
        std::chrono::steady_clock::now() >= deadline)
      return;
    callback(std::move(err), std::move(a));
  }
  // Told "evicted" in a later turn (its id given to a newer ack as ids wrapped, or past a socket's
  // bound: its requester's callback may disconnect this very socket), its timer stopped first; a
  // callback that throws is said on stderr, not let out of the event loop (as every other
  // settling's).
  static void evict(net::io_context& io, std::shared_ptr<PendingAck> a) {
    if (a->timer) a->timer->cancel();
    net::post(io, [a = std::move(a)] {
      try {
        a->settle(std::string("evicted"), Args{});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio: ack callback threw: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "shmio: ack callback threw an exception of unknown type\n");
      }
    });
  }
};

}  // namespace shmio::socketio
