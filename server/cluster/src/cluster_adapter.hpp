// The cluster adapter of one namespace on a worker (private to cluster/src).
#pragma once

#include <algorithm>
#include <boost/asio/post.hpp>
#include <unordered_set>
#include <utility>

#include "node_impl.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::cluster {

// ---------------------------------------------------------------------------------------------
// The adapter of one namespace on a worker: the local rooms index (InMemoryAdapter's) plus the
// operations over every worker.
class ClusterAdapter final : public sio::InMemoryAdapter {
 public:
  ClusterAdapter(sio::Namespace& nsp, Node::Impl& node) : InMemoryAdapter(nsp), node_(node) {
    node_.adapters[nsp.name()] = this;
    if (node_.tell_rooms != Node::Impl::TellRooms::no) tell_rooms();
    // The fleet bridge learns of it (after this turn: the namespace is still being built), in
    // one announcement for every namespace made in the turn: one each, every one listing all
    // names, was a square of the count in the ring for namespaces made together (a client
    // CONNECTing to many dynamic ones; a helper's review, 2026-12-03).
    announce_soon();
  }
  // The namespace removed (cleanup_empty_child_namespaces): what the ring carries for its name
  // goes to a namespace made again under it, or nowhere; the fleet bridge learns the worker no
  // longer has it. (The adapter lives on while a socket of the namespace does: what it is asked
  // to broadcast still goes to the other workers.)
  void close() override {
    if (closed_) return;
    closed_ = true;
    unlist();
    announce_soon();
  }

  // From now on, every room created or deleted here is said on the ring (for a sharded fleet
  // bridge: it subscribes to the rooms' channels). Only then: room events cost on every join.
  void tell_rooms() {
    if (telling_rooms_) return;
    telling_rooms_ = true;
    on_room_event([this](RoomEvent e, const sio::Room& room, const sio::SocketId&) {
      if (e == RoomEvent::create_room || e == RoomEvent::delete_room)
        node_.room_changed(nsp_->name(), room, e == RoomEvent::create_room);
    });
  }
  ~ClusterAdapter() override {
    if (!closed_) unlist();
  }

 private:
  bool closed_ = false;
  // (Only if it is this one: another namespace of the name may have been made since.)
  void unlist() {
    if (auto it = node_.adapters.find(nsp_->name());
        it != node_.adapters.end() && it->second == this)
      node_.adapters.erase(it);
  }
  void announce_soon() {
    if (!node_.announce_posted) {
      node_.announce_posted = true;
      net::post(node_.io, [life = std::weak_ptr<bool>(node_.lifetime), n = &node_] {
        if (life.expired()) return;
        n->announce_posted = false;
        if (n->bridge_attached()) n->announce_namespaces(false);
      });
    }
  }

 public:
  sio::Namespace& nsp() { return *nsp_; }

  // Rooms of a recoverable socket are published when they change (below), so that its session
  // survives even a SIGKILL of this worker.
  void add_all(const sio::SocketId& id, const std::set<sio::Room>& rooms) override {
    {
      const Mutating m(node_);
      InMemoryAdapter::add_all(id, rooms);
    }
    session_changed(id);
    node_.client_came();  // (at each join, a connect among them: two loads unless near the bound)
  }
  void del(const sio::SocketId& id, const sio::Room& room) override {
    {
      const Mutating m(node_);
      InMemoryAdapter::del(id, room);
    }
    session_changed(id);
  }
  void del_all(const sio::SocketId& id) override {
    const Mutating m(node_);
    InMemoryAdapter::del_all(id);
    unsaved_.erase(id);  // (its last save's failure no longer matters: it is gone)
  }
  // Whether a connected socket's session, as last saved, is in the session table: not where
  // there is no table, or its last save failed (its rooms and data over --session-bytes, the
  // table full). Rebalancing asks only clients whose every socket is (before 2026-12-06 it shed
  // such clients too, and each came back to "unknown session" and a fresh one; a helper's
  // review).
  // Nor with a ring per worker where this worker has no cut log (it could not be made: "no cut
  // log"): every recovery is then refused, and a client shed came back to a fresh session
  // (before 2026-12-07; a bug hunt).
  bool session_kept(const sio::SocketId& id) const override {
    return node_.sessions && (!node_.own_writer || node_.cuts) && !unsaved_.contains(id);
  }

  std::size_t broadcast(sio::Packet p, const sio::BroadcastOptions& opts) override {
    const auto& recovery = nsp_->server().options().connection_state_recovery;
    const bool with_offset =
        recovery && !p.id && !opts.flags.volatile_ &&
        (p.type == sio::PacketType::event || p.type == sio::PacketType::binary_event);
    if (opts.flags.local)
      return deliver_now_or_held(sio::encode_shared(p, opts.flags.compress), opts);
    // The offset is the record's own ring position, known only once claimed: the frame is
    // encoded with 16 placeholder digits, and they are overwritten in the claimed record.
    // With a ring per worker each worker writes its own offset over a longer placeholder in its
    // copy (docs/ring-per-worker.md, "Connection state recovery over N rings").
    const bool per_worker = node_.own_writer.has_value();
    const std::size_t digits = per_worker ? kWorkerOffsetDigits : kOffsetDigits;
    if (with_offset) p.data->as_array().emplace_back(std::string(digits, '0'));
    std::string frame = "4" + sio::encode(p);
    std::uint64_t position = 0;
    const std::uint8_t flags =
        broadcast_flags(opts.flags) |
        (with_offset ? static_cast<std::uint8_t>(kFlagOwnInRingOrder | kFlagOffset)
                     : std::uint8_t{0});
    const bool published = write(opts, flags, 0, frame, p.attachments, with_offset, &position);
    if (with_offset && published && !per_worker) {
      // (Never back: write()'s keep_up may have run app code that published a later one.)
      node_.own_ordered_end = std::max(node_.own_ordered_end, position + 1);
      // Delivered here when this worker's reader reaches the record (the ring notifier wakes
      // it: our own commit moves the frontier too), in ring order with everyone else's. A
      // socket that got a later record before this one would name an offset past it, and a
      // replay from there would skip it (or repeat what it had). What emit() returns is the
      // count of this worker's sockets it reaches now, as in the other modes (it returned 0:
      // an app that acts on "nobody here got it" acted for every broadcast): those still
      // connected when the record is read back get it.
      std::size_t n = 0;
      auto count = [&n](sio::Socket&) { ++n; };
      for_each_target(opts, count);
      return n;
    }
    if (with_offset && published) {
      // A worker does not read its own ring: delivered now, under a cut of its own ring.
      const int own = node_.options.worker;
      sio::BroadcastOptions with = opts;
      if (const auto e = node_.cuts ? node_.cut_for(own) : std::nullopt) {
        const auto d = node_.offset_for(*e, own, position);
        with.flags.offset =
            patch_offset(frame.data(), frame.size(), std::string_view(d.data(), d.size()));
      }
      return nsp_->deliver_local(
          sio::EncodedPacket::from(frame, p.attachments, opts.flags.compress), with);
    }
    if (with_offset) {  // not in the ring: no offset (a recovery must not start there)
      p.data->as_array().pop_back();
      frame = "4" + sio::encode(p);
    }
    return deliver_now_or_held(sio::EncodedPacket::from(frame, p.attachments, opts.flags.compress),
                               opts);
  }
  // What reaches this worker's sockets without waiting for the ring (volatile, local, not
  // published) goes after this worker's own broadcasts still waiting there (Node::Impl::held),
  // as a direct send does.
  std::size_t deliver_now_or_held(sio::EncodedPacket packet, const sio::BroadcastOptions& opts) {
    if (!node_.holding()) return nsp_->deliver_local(packet, opts);
    std::size_t n = 0;
    auto count = [&n](sio::Socket&) { ++n; };
    for_each_target(opts, count);
    node_.hold([nsp = nsp_, alive = std::weak_ptr<int>(alive_), packet = std::move(packet), opts] {
      if (!alive.expired()) nsp->deliver_local(packet, opts);
    });
    return n;
  }
  bool broadcasts_pending() const override { return node_.holding(); }
  void after_broadcasts(std::function<void()> send) override {
    if (node_.holding())
      node_.hold(std::move(send));
    else
      send();
  }

  void broadcast_with_ack(sio::Packet p, const sio::BroadcastOptions& opts,
                          const std::shared_ptr<sio::AckCollector>& collector) override {
    const std::uint64_t id = *p.id;
    std::string frame = "4" + sio::encode(p);
    if (!opts.flags.local) {
      auto responders = node_.live_workers(false, true);
      for (const Responder& r : responders) collector->add_pending_source(r.producer + 1u);
      const auto flags = static_cast<std::uint8_t>(kFlagAck | broadcast_flags(opts.flags));
      node_.publish_tracked(
          id, collector, responders,
          [&] { return write(opts, flags, id, frame, p.attachments, false, nullptr); },
          /*answers_owed=*/true);
    }
    // This worker's sockets get it after this worker's own broadcasts still waiting in the
    // shared ring (Node::Impl::held), as every other worker does in ring order, and as a
    // socket's emit with an ack does: before 2026-12-06 it went to them at once, ahead of an
    // `io.emit("a")` made before it, and missed the sockets of an `io.socketsJoin(...)` made
    // before it (a review). Its local answers stay owed (source 0, pending) until then.
    auto encoded = sio::EncodedPacket::from(frame, p.attachments, opts.flags.compress);
    if (!node_.holding()) return ack_locally(encoded, opts, id, collector);
    collector->add_pending_source(0);
    node_.hold([this, alive = std::weak_ptr<int>(alive_),
                w = std::weak_ptr<sio::AckCollector>(collector), encoded = std::move(encoded), opts,
                id] {
      if (alive.expired()) {  // (its namespace gone: none of its sockets answers)
        if (auto c = w.lock()) c->expect(0, 0);
        return;
      }
      if (auto c = w.lock())
        ack_locally(encoded, opts, id, c);
      else
        nsp_->deliver_local(encoded, opts);  // (its requester gone: delivered all the same)
    });
  }

  // socketsJoin / socketsLeave / disconnectSockets: applied to this worker's sockets after this
  // worker's own broadcasts still waiting in the shared ring to be delivered in ring order (as
  // every other worker applies the record after them), as socket.io's awaited publishes keep
  // them. Before 2026-12-05 they were applied at once: `io.to("r").emit("x")` then
  // `io.in("r").socketsLeave("r")` reached "x" to every worker's sockets but this one's (found by
  // a review).
  // (Published: applied here where the record stands in the ring, Node::Impl::publish's
  // apply_here; local: after this worker's own broadcasts.)
  void add_sockets(const sio::BroadcastOptions& opts, const std::set<sio::Room>& rooms) override {
    change_sockets(opts, MessageType::sockets_join, {{"rooms", rooms_json(rooms)}},
                   [this, opts, rooms] { Adapter::add_sockets(opts, rooms); });
  }
  void del_sockets(const sio::BroadcastOptions& opts, const std::set<sio::Room>& rooms) override {
    change_sockets(opts, MessageType::sockets_leave, {{"rooms", rooms_json(rooms)}},
                   [this, opts, rooms] { Adapter::del_sockets(opts, rooms); });
  }
  void disconnect_sockets(const sio::BroadcastOptions& opts, bool close) override {
    change_sockets(opts, MessageType::disconnect_sockets, {{"close", close}},
                   [this, opts, close] { Adapter::disconnect_sockets(opts, close); });
  }
  // One of the three above: published (unless local) and applied here where it stands (not at
  // all if this adapter is gone by then).
  template <class F>
  void change_sockets(const sio::BroadcastOptions& opts, MessageType t, json::object fields,
                      F change) {
    std::function<void()> apply = [alive = std::weak_ptr<int>(alive_), change = std::move(change)] {
      if (!alive.expired()) change();
    };
    if (opts.flags.local) return node_.apply_after_own(std::move(apply));
    node_.publish(t, sio_message(opts, std::move(fields)), true, std::move(apply));
  }
  // While the rooms index changes (its room events run inside the change: a publish there must
  // not apply other workers' records, Node::Impl::keep_up). Only around the index's own
  // mutators: the walks over many sockets (socketsJoin, disconnectSockets) go over a snapshot,
  // and their handlers' emits may drain between sockets (a worker must not be lapped by its own
  // records).
  struct Mutating {
    Node::Impl& n;
    explicit Mutating(Node::Impl& impl) : n(impl) { ++n.mutating; }
    ~Mutating() { --n.mutating; }
    Mutating(const Mutating&) = delete;
    Mutating& operator=(const Mutating&) = delete;
  };
  // `apply` now, or once this worker's own broadcasts before it are delivered (not at all if
  // this adapter is gone by then).
  template <class F>
  void after_own_broadcasts(F apply) {
    if (!node_.holding()) return apply();
    node_.hold([alive = std::weak_ptr<int>(alive_), apply = std::move(apply)]() mutable {
      if (!alive.expired()) apply();
    });
  }

  void fetch_sockets(const sio::BroadcastOptions& opts,
                     std::function<void(std::vector<sio::RemoteSocket>)> done) override {
    // Local sockets first, then each worker's answer; all turned into RemoteSockets at the end.
    sio::Namespace* nsp = nsp_;
    auto collector = std::make_shared<sio::AckCollector>(
        node_.io,
        [nsp, alive = std::weak_ptr<int>(alive_), held = nsp_->anchor(), done = std::move(done)](
            std::optional<std::string>, std::vector<sio::Args> answers) {
          // (The collector's timer may outlive the namespace, in an io_context run on after its
          // Server is gone: then nothing is answered.)
          if (alive.expired()) return;
          std::vector<sio::RemoteSocket> out;
          for (const sio::Args& a : answers) {
            if (a.values.empty() || !a.values[0].is_array()) continue;
            for (const json::value& v : a.values[0].get_array()) {
              if (!v.is_object()) continue;
              const json::object& o = v.get_object();
              const json::value* hs = o.if_contains("handshake");
              const json::value* data = o.if_contains("data");
              out.emplace_back(
                  *nsp, str_of(o, "id"),
                  hs && hs->is_object() ? handshake_from_json(hs->get_object()) : sio::Handshake{},
                  rooms_from(o.if_contains("rooms")), data ? *data : json::value());
            }
          }
          done(std::move(out));
        });
    // (The operator's timeout: flags.timeout_ms, 5 s unless said; from before the request.)
    collector->arm(opts.flags.timeout_ms != 0 ? std::chrono::milliseconds(opts.flags.timeout_ms)
                                              : std::chrono::milliseconds(5000));
    collector->add_pending_source(0);
    if (!opts.flags.local) {
      auto responders = node_.live_workers(false, true);
      for (const Responder& r : responders) collector->add_pending_source(r.producer + 1u);
      const std::uint64_t rid = node_.request_id();
      node_.publish_tracked(rid, collector, responders, [&] {
        return node_.publish(MessageType::fetch_sockets, sio_message(opts, {{"requestId", rid}}));
      });
    }
    // This worker's own sockets as they are once its own broadcasts and room changes still
    // waiting in the shared ring are applied, as every other worker answers after applying them
    // in ring order (before 2026-12-06 taken at once: `io.socketsJoin("s")` then
    // `io.in("s").fetchSockets()` had every worker's joined sockets but this one's; a review).
    after_own_broadcasts([this, collector, opts] {
      collector->expect(0, 1);
      collector->answer(0, sio::Args{json::value(local_sockets(opts))});
    });
    collector->start();
  }

  void server_side_emit(const std::string& event, sio::Args args,
                        const std::shared_ptr<sio::AckCollector>& collector) override {
    json::object body{{"nsp", nsp_->name()}, {"event", event}, {"args", args.values}};
    std::vector<Responder> responders;
    std::uint64_t rid = 0;
    if (collector) {
      responders = node_.live_workers(false, true);
      rid = node_.request_id();
      body["requestId"] = rid;
      // A worker answers once; the bridge says how many fleet answers it relays, then each.
      for (const Responder& r : responders)
        if (r.bridge)
          collector->add_pending_source(r.producer + 1u);
        else
          collector->expect(r.producer + 1u, 1);
    }
    auto send = [&] {
      return node_.publish(MessageType::server_side_emit, write_message(body, args.binaries));
    };
    if (collector)
      node_.publish_tracked(rid, collector, responders, send);
    else
      send();
  }

  std::size_t server_count() const override { return node_.live_workers(true).size(); }
  // (A request answered and not yet forgotten does not hold its id: done, or its collector gone.)
  bool ack_id_pending(std::uint64_t id) const override {
    const auto it = node_.pending.find(id);
    if (it == node_.pending.end()) return false;
    const auto c = it->second.collector.lock();
    return c && !c->done();
  }

  // --- connection state recovery: sessions in shared memory (Node::Impl::sessions)
  void persist_session(sio::SessionState s) override { save(s, /*connected=*/false); }
  // (With the time it was disconnected since: a client whose attempts are refused cannot keep it
  // past max_disconnection_duration.)
  void put_back_session(sio::SessionState s) override {
    const auto since =
        std::chrono::duration_cast<std::chrono::nanoseconds>(s.disconnected_at.time_since_epoch());
    save(s, /*connected=*/false, since.count() > 0 ? static_cast<std::uint64_t>(since.count()) : 0);
  }

  std::optional<sio::SessionState> take_session(const std::string& pid,
                                                const std::string& offset) override {
    node_.drain();  // broadcasts published by others until now
    const auto pos = position_of(offset);
    // A client back on the worker that still holds its socket (this worker has not yet seen the
    // old connection die): as socket.io, which restores only sessions saved at a disconnect it
    // has seen, it starts afresh. (The socket looked up by the id its entry names: a walk over
    // every socket of the namespace, as before 2026-12-03, was one per CONNECT that names a live
    // pid — a client repeating one stalled its worker; a helper's review.)
    const auto held_here = [&](const std::string& state) {
      const auto saved = state_of(pid, state);
      const sio::SocketPtr s = saved ? nsp_->socket(saved->id) : nullptr;
      return s && s->connected() && s->pid() == pid;
    };
    std::optional<sio::SessionState> st;
    const char* refused = nullptr;
    if (!node_.sessions) {
      refused = "no session table (it could not be opened at start)";
    } else {
      auto t = node_.sessions->take(key(pid), window());
      const bool taken = t.status == shm::SessionStore::TakeStatus::ok;
      if (taken) st = state_of(pid, t.state);
      if (t.status == shm::SessionStore::TakeStatus::connected_live && held_here(t.state))
        refused =
            "its socket is still connected on a live worker (this one: the old "
            "connection's end not seen yet)";
      else if (!taken)
        refused = shm::to_string(t.status);
      else if (!st)
        refused = "its saved state is not readable";  // (it goes: erased below)
      else if (node_.own_writer) {
        Start from = start_of(offset);
        refused = from.refused != nullptr ? from.refused : raise_to_start(from, st->start);
      } else if (!pos) {
        refused = "malformed offset";
      } else if (const auto from = replay_from(*pos, st->start); !replayable(from.first)) {
        refused = "the offset is no longer in the ring";
      } else if (!from.second && from.first > node_.applied_end) {
        refused = kBeganPast;  // (refused here, the session is put back: see replay_range)
      }
      if (st && refused != nullptr) {
        // Taken, but not to be used now: by its offset, it stays for the client's next attempt
        // with a kept one (socket.io's in-memory adapter leaves it too).
        save(*st, /*connected=*/false, t.disconnected_since_ns);
        st.reset();
      } else if (taken && !st) {
        // (Taken, the entry stays marked with its taker until this worker writes or erases it.)
        node_.forget_session(key(pid));
      }
      if (st)
        st->disconnected_at = std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::nanoseconds(t.disconnected_since_ns)));
    }
    if (refused != nullptr) {
      ++node_.stats.recovery_failures;
      if (node_.options.log_recoveries)
        std::fprintf(stderr, "shmio[w%d]: session %s not recovered: %s\n", node_.options.worker,
                     log_text(pid).c_str(), refused);
      return std::nullopt;
    }
    return st;
  }

  void forget_session(const std::string& pid) override { node_.forget_session(key(pid)); }

  // A session admitted now begins (SessionState::start): on the shared ring one past the
  // position below which this worker has applied every record (what it reads from there reaches
  // the session's socket live, once it is in its rooms); with a ring per worker, this worker and
  // the kCutStart entry of its cut log that holds its applied cut. 0: none (no cut log).
  std::uint64_t session_start() override {
    if (!node_.own_writer) return node_.applied_end + 1;
    const auto e = node_.cuts ? node_.cut_for_start() : std::nullopt;
    if (!e || *e >= kStartEntryBound) return 0;
    return (static_cast<std::uint64_t>(node_.options.worker) + 1) << kStartWorkerShift | *e;
  }
  static constexpr int kStartWorkerShift = 48;
  static constexpr std::uint64_t kStartEntryBound = std::uint64_t{1} << kStartWorkerShift;
  // On the shared ring, where a replay from the record at `pos` (which the client has) to a
  // session that began at `start` walks from, and whether that is the named record (true) or,
  // for an offset older than the session, the session's start (false: nothing before it).
  static std::pair<std::uint64_t, bool> replay_from(std::uint64_t pos, std::uint64_t start) {
    if (start != 0 && start - 1 > pos) return {start - 1, false};
    return {pos, true};
  }

  std::optional<std::vector<sio::EncodedPacket>> replay(const std::string& offset,
                                                        const std::set<sio::Room>& rooms,
                                                        std::uint64_t start) override {
    const char* why = "its range could not be read whole (overwritten, or lapped while read)";
    auto r = replay_range(offset, rooms, start, &why);
    if (!r) replay_failed(offset, why);
    return r;
  }
  // (A replay read whole, then refused by the namespace: counted by replay_range as a recovery.)
  void replay_refused(const std::string& offset, const char* why) override {
    if (node_.stats.recoveries > 0) --node_.stats.recoveries;
    replay_failed(offset, why);
  }
  void replay_failed(const std::string& offset, const char* why) {
    ++node_.stats.recovery_failures;
    if (node_.options.log_recoveries)
      std::fprintf(stderr, "shmio[w%d]: session at offset %s not recovered: %s\n",
                   node_.options.worker, offset.c_str(), why);
  }
  // A replay found nothing readable before the end of what this worker applied, all of which was
  // sealed when it was applied: a seal gone since (a stray write into the segment). Refused, not
  // cut short there: the client would be told it missed nothing while it missed the rest.
  static constexpr const char* kStoppedShort =
      "a record in its range could not be read (its seal is gone)";
  // (`why`: set to the reason when one is known beyond the default's)
  std::optional<std::vector<sio::EncodedPacket>> replay_range(const std::string& offset,
                                                              const std::set<sio::Room>& rooms,
                                                              std::uint64_t start,
                                                              const char** why) {
    node_.drain();
    if (node_.own_writer) return replay_rings(offset, rooms, start, why);
    const auto pos = position_of(offset);
    if (!pos) return std::nullopt;
    auto r = shm::RingReader::attach(*node_.segment, {"replay", -1, shm::StartAt::latest});
    if (!r) return std::nullopt;
    shm::RingReader& rd = r.value();
    const auto [from, named] = replay_from(*pos, start);
    if (!rd.seek(from)) return std::nullopt;
    const std::uint64_t end = node_.applied_end;
    if (!named && from > end) {  // (take_session refused it: not reached after its drain)
      *why = kBeganPast;
      return std::nullopt;
    }
    std::vector<sio::EncodedPacket> out;
    bool first = named;
    const bool whole = read_range(rd, end, out, why, [&](const RecordView& v, auto& batch) {
      if (first) {  // the record the client already has: it must be the one it named
        first = false;
        return v.position == *pos && v.type == static_cast<std::uint16_t>(MessageType::broadcast);
      }
      if (v.type != static_cast<std::uint16_t>(MessageType::broadcast)) return true;
      if (!replays_to(v.payload, rooms)) return true;
      bool added = false;  // (an Emitter's broadcast: its offset, as delivered live)
      auto b = take_broadcast(v.payload, kOffsetDigits, &added);
      if (!b || b->nsp != nsp_->name() || (b->flags & (kFlagAck | kFlagVolatile)) != 0) return true;
      if (added && !set_position_offset(*b, v.position)) return true;
      if (sio::reaches(b->opts, rooms)) batch.push_back(std::move(b->packet));
      return true;
    });
    if (!whole || first) return std::nullopt;
    ++node_.stats.recoveries;
    return out;
  }
  // Whether a replay to a socket in `rooms` of this namespace delivers the broadcast record
  // `payload`: looked at on the record's view, before take_broadcast copies its frame and
  // attachments (as the checks after it, sio::reaches on the names). A replay over a busy ring
  // copied every broadcast since the offset, for whichever room, before 2026-12-06 (a helper's
  // review). (Read tentatively, as the record is: the range is checked whole after it.)
  bool replays_to(std::span<const std::byte> payload, const std::set<sio::Room>& rooms) const {
    const auto b = read_broadcast(payload);
    if (!b || b->nsp != nsp_->name() || (b->flags & (kFlagAck | kFlagVolatile)) != 0) return false;
    const auto named = [&rooms](const std::vector<std::string_view>& names) {
      return std::any_of(names.begin(), names.end(),
                         [&rooms](std::string_view r) { return rooms.count(sio::Room(r)) != 0; });
    };
    return (b->rooms.empty() || named(b->rooms)) && !named(b->except);
  }
  // The records of `rd` from its position up to `end`, each handed to `take(view, batch)`, which
  // adds to `batch` what the record makes (moved to `out` once the records it came from are
  // consumed), or returns false to refuse the replay. False if the range could not be read
  // whole: lapped while read, or a record below `end` unreadable (`*why` then says so; below
  // what this worker applied every record was sealed).
  template <class Take>
  static bool read_range(shm::RingReader& rd, std::uint64_t end,
                         std::vector<sio::EncodedPacket>& out, const char** why, Take&& take) {
    std::array<RecordView, 64> views;
    while (rd.position() < end) {
      const std::size_t n = rd.peek(views);
      if (rd.last_loss().records != 0) return false;
      if (n == 0) {
        *why = kStoppedShort;
        return false;
      }
      std::vector<sio::EncodedPacket> batch;
      std::size_t used = 0;
      for (; used < n && views[used].position < end; ++used)
        if (!take(views[used], batch)) return false;
      if (!rd.consume(std::span<const RecordView>(views.data(), used))) return false;
      for (auto& e : batch) out.push_back(std::move(e));
      if (used < n) break;
    }
    return true;
  }

  json::array local_sockets(const sio::BroadcastOptions& opts) const {
    json::array out;
    for (const sio::SocketId& id : targets(opts)) {
      sio::SocketPtr s = nsp_->socket(id);
      if (!s) continue;
      out.push_back(json::object{{"id", id},
                                 {"handshake", handshake_to_json(s->handshake())},
                                 {"rooms", rooms_json(s->rooms())},
                                 {"data", std::as_const(*s).data()}});
    }
    return out;
  }
  void apply_local(MessageType t, const json::object& body) {
    // One socket by its id (a fleet member's request of the older form, adapter 7.x's
    // remoteJoin/remoteLeave/remoteDisconnect): that socket only, as the Node adapter's
    // nsp.sockets.get(sid), not every socket in a room of that name.
    if (const json::value* sid = body.if_contains("sid"); sid != nullptr && sid->is_string()) {
      const sio::SocketId id(sid->get_string());
      sio::SocketPtr s = nsp_->socket(id);
      if (!s) return;
      if (t == MessageType::sockets_join) add_all(id, rooms_from(body.if_contains("rooms")));
      if (t == MessageType::sockets_leave)
        for (const sio::Room& r : rooms_from(body.if_contains("rooms"))) del(id, r);
      if (t == MessageType::disconnect_sockets) {
        const json::value* c = body.if_contains("close");
        s->disconnect(c && c->is_bool() && c->get_bool());
      }
      return;
    }
    const json::value* o = body.if_contains("opts");
    const sio::BroadcastOptions opts =
        o && o->is_object() ? options_from_json(o->get_object()) : sio::BroadcastOptions{};
    if (t == MessageType::sockets_join)
      Adapter::add_sockets(opts, rooms_from(body.if_contains("rooms")));
    if (t == MessageType::sockets_leave)
      Adapter::del_sockets(opts, rooms_from(body.if_contains("rooms")));
    if (t == MessageType::disconnect_sockets) {
      const json::value* c = body.if_contains("close");
      Adapter::disconnect_sockets(opts, c && c->is_bool() && c->get_bool());
    }
  }

 private:
  std::string sio_message(const sio::BroadcastOptions& opts, json::object extra) {
    extra["nsp"] = nsp_->name();
    extra["opts"] = options_to_json(opts);
    return write_message(extra);
  }
  bool write(const sio::BroadcastOptions& opts, std::uint8_t flags, std::uint64_t ack_id,
             const std::string& frame, const std::vector<sio::Binary>& att, bool with_offset,
             std::uint64_t* position) {
    if (!broadcast_fits(nsp_->name(), opts, att.size())) {
      ++node_.stats.publish_failures;
      if (node_.say_publish_failure("BROADCAST names"))
        std::fprintf(stderr,
                     "shmio[w%d]: a broadcast with a room or namespace name over 65535 bytes, "
                     "more than 65535 rooms or except rooms, or more than 65536 binary "
                     "attachments, was delivered on this worker only "
                     "(%llu publish failures so far; said at most once per 10 s)\n",
                     node_.options.worker,
                     static_cast<unsigned long long>(node_.stats.publish_failures));
      return false;
    }
    const std::size_t size = broadcast_size(nsp_->name(), opts, frame.size(), att);
    auto claim = node_.out().claim(size, static_cast<std::uint16_t>(MessageType::broadcast));
    if (claim.status != shm::PublishStatus::ok) {
      ++node_.stats.publish_failures;
      if (node_.say_publish_failure(std::string("BROADCAST ") + shm::to_string(claim.status)))
        std::fprintf(stderr,
                     "shmio[w%d]: a broadcast of %zu bytes was not published: %s (%llu publish "
                     "failures so far; said at most once per 10 s)\n",
                     node_.options.worker, size, shm::to_string(claim.status),
                     static_cast<unsigned long long>(node_.stats.publish_failures));
      return false;
    }
    const std::size_t frame_at =
        write_broadcast(claim.payload, nsp_->name(), opts, flags, ack_id, frame, att);
    if (with_offset && !node_.own_writer) {
      const std::string off = offset_of(claim.position);
      std::memcpy(claim.payload.data() + frame_at + frame.size() - 2 - kOffsetDigits, off.data(),
                  kOffsetDigits);
    }
    node_.out().commit();
    if (position != nullptr) *position = claim.position;
    node_.committed(claim.position);
    ++node_.stats.broadcasts_published;
    ++node_.stats.messages_published;
    node_.keep_up(claim.position);
    return true;
  }
  // --- recovery with a ring per worker (docs/ring-per-worker.md, "Connection state recovery
  // over N rings"): the offset names the worker that delivered the record, the entry of that
  // worker's cut log it was delivered under, the record's ring and position.
  struct Start {
    std::optional<WorkerOffset> at;
    std::vector<std::uint64_t> cut;  // where the replay starts in each ring
    const char* refused = nullptr;
  };
  shm::Segment* ring_segment(int k) {
    if (k == node_.options.worker) return &*node_.own_segment;
    if (k == node_.shared_ring_index()) return &*node_.segment;
    Node::Impl::WorkerRing* r = node_.rings.of(k);
    return r != nullptr ? &r->segment : nullptr;
  }
  // A temporary reader on ring k (released with it), or nullopt.
  std::optional<shm::RingReader> replay_reader(int k) {
    shm::Segment* seg = ring_segment(k);
    if (seg == nullptr) return std::nullopt;
    auto r = shm::RingReader::attach(*seg, {"replay", -1, shm::StartAt::latest});
    if (!r) return std::nullopt;
    return std::move(r.value());
  }
  // The cut the client's worker had delivered when it delivered the record the offset names: the
  // entry's positions, the record's own in its ring (a replay entry: the rings before that one
  // replayed up to its end, those after it from its start).
  Start start_of(const std::string& offset) {
    Start s;
    const int workers = node_.options.workers;
    s.at = worker_offset_from(offset);
    if (!s.at || s.at->worker >= static_cast<std::uint32_t>(workers) ||
        s.at->ring > static_cast<std::uint32_t>(workers)) {
      s.refused = "malformed offset";
      return s;
    }
    if (!node_.cuts) {
      s.refused = "no cut log (it could not be opened at start)";
      return s;
    }
    const WorkerOffset& o = *s.at;
    const auto e = node_.cuts->read(o.worker, o.entry);
    std::optional<shm::CutLog::Entry> to;
    if (e && e->tag == Node::Impl::kCutReplayFrom) to = node_.cuts->read(o.worker, o.entry + 1);
    if (!e ||
        (e->tag == Node::Impl::kCutReplayFrom && (!to || to->tag != Node::Impl::kCutReplayTo)) ||
        (e->tag != Node::Impl::kCutBatch && e->tag != Node::Impl::kCutReplayFrom)) {
      s.refused = "its worker's cut log no longer holds the offset's entry";
      return s;
    }
    s.cut = e->cut;
    if (to)
      for (std::uint32_t k = 0; k < o.ring; ++k) s.cut[k] = to->cut[k];
    // The named record, which the client has: a broadcast at that position, whose end is where
    // its ring's replay starts.
    {
      auto rd = replay_reader(static_cast<int>(o.ring));
      std::array<RecordView, 1> v;
      if (!rd || !rd->seek(o.position) || rd->peek(v) != 1 || v[0].position != o.position ||
          v[0].type != static_cast<std::uint16_t>(MessageType::broadcast) || !rd->consume(v)) {
        s.refused = "the offset names no broadcast still in its ring";
        return s;
      }
      s.cut[o.ring] = rd->position();
    }
    const auto mine = node_.applied_cut();
    for (std::size_t k = 0; k < s.cut.size(); ++k) {
      if (s.cut[k] > mine[k]) {  // (a replay could only repeat what it has)
        s.refused = "its worker had applied more of a ring than this one has";
        return s;
      }
      auto rd = replay_reader(static_cast<int>(k));
      if (!rd || !rd->seek(s.cut[k])) {
        s.refused = "the offset's range is no longer in the rings";
        return s;
      }
    }
    return s;
  }
  // Every broadcast the client missed, ring by ring (each in its publisher's order), up to what
  // this worker has applied of each; each with this worker's offset, under a pair of entries of
  // its cut log (the start, the end) that a later recovery from one of them reads.
  std::optional<std::vector<sio::EncodedPacket>> replay_rings(const std::string& offset,
                                                              const std::set<sio::Room>& rooms,
                                                              std::uint64_t start,
                                                              const char** why) {
    Start s = start_of(offset);
    if (s.refused != nullptr) {
      *why = s.refused;
      return std::nullopt;
    }
    if (const char* past = raise_to_start(s, start)) {  // (take_session refused it: not reached)
      *why = past;
      return std::nullopt;
    }
    const auto mine = node_.applied_cut();
    const std::uint32_t self = static_cast<std::uint32_t>(node_.options.worker);
    const auto from = node_.cuts->append(self, Node::Impl::kCutReplayFrom, s.cut);
    if (!from || !node_.cuts->append(self, Node::Impl::kCutReplayTo, mine)) return std::nullopt;
    node_.cut_ring = -1;  // (the next batch gets an entry of its own)
    std::vector<sio::EncodedPacket> out;
    for (std::size_t k = 0; k < s.cut.size(); ++k) {
      const int ring = static_cast<int>(k);
      auto r = replay_reader(ring);
      if (!r || !r->seek(s.cut[k])) return std::nullopt;
      const bool whole = read_range(*r, mine[k], out, why, [&](const RecordView& v, auto& batch) {
        if (v.type != static_cast<std::uint16_t>(MessageType::broadcast)) return true;
        if (!replays_to(v.payload, rooms)) return true;
        auto b = take_broadcast(v.payload, kWorkerOffsetDigits);  // (an Emitter's: one added)
        if (!b || b->nsp != nsp_->name() || (b->flags & (kFlagAck | kFlagVolatile)) != 0)
          return true;
        if (!sio::reaches(b->opts, rooms)) return true;
        (void)set_offset(*b, node_.offset_for(*from, ring, v.position));
        batch.push_back(std::move(b->packet));
        return true;
      });
      if (!whole) return std::nullopt;
    }
    ++node_.stats.recoveries;
    return out;
  }

  // Nothing from before the session began (`start`, its SessionState::start): each ring of `s`
  // from no earlier than the cut its admitting worker had applied then (its kCutStart entry). An
  // entry overwritten since (the log holds minutes of a busy worker's entries) bounds nothing:
  // the offset's range as it is. Refused (the reason) if that is past what this worker has
  // applied of a ring: it would deliver live what came before the session.
  const char* raise_to_start(Start& s, std::uint64_t start) {
    if (start == 0) return nullptr;
    const auto worker = static_cast<std::uint32_t>((start >> kStartWorkerShift) - 1);
    const auto e = node_.cuts->read(worker, start & (kStartEntryBound - 1));
    if (!e || e->tag != Node::Impl::kCutStart || e->cut.size() != s.cut.size()) return nullptr;
    const auto mine = node_.applied_cut();
    for (std::size_t k = 0; k < s.cut.size(); ++k) {
      s.cut[k] = std::max(s.cut[k], e->cut[k]);
      if (s.cut[k] > mine[k]) return kBeganPast;
    }
    return nullptr;
  }
  static constexpr const char* kBeganPast =
      "its session began past what this worker has applied of the ring";
  // Whether the record at `pos` can still be read (it and everything after it).
  bool replayable(std::uint64_t pos) {
    auto r = shm::RingReader::attach(*node_.segment, {"replay", -1, shm::StartAt::latest});
    return r && r.value().seek(pos);
  }
  // A socket's data was reached to be changed: saved once at the end of this turn (however many
  // times the turn changed it), so that its client recovers it even after a SIGKILL.
  void data_changed(const sio::SocketId& id) override {
    if (data_pending_.empty())
      net::post(node_.io, [alive = std::weak_ptr<int>(alive_), this] {
        if (alive.expired()) return;
        for (const sio::SocketId& p : std::exchange(data_pending_, {})) session_changed(p);
      });
    data_pending_.push_back(id);
  }
  // A recoverable socket's session is saved when it connects and whenever its rooms change, so that
  // it survives even a SIGKILL of this worker; at its disconnect with its final data.
  void session_changed(const sio::SocketId& id) {
    if (!nsp_->server().options().connection_state_recovery) return;
    sio::SocketPtr s = nsp_->socket(id);
    if (!s || !s->connected() || s->pid().empty()) return;
    if (save(sio::SessionState{s->id(),
                               s->pid(),
                               socket_rooms(id),
                               std::as_const(*s).data(),
                               {},
                               s->session_start()},
             true))
      unsaved_.erase(id);
    else
      unsaved_.insert(id);
    s->data_saved();
  }
  // (`since_ns`: disconnected since then, monotonic_ns()'s clock; 0: now.) Whether it was saved.
  bool save(const sio::SessionState& s, bool connected, std::uint64_t since_ns = 0) {
    if (s.pid.empty()) return false;
    // (As the ring's messages are written and read, wire.cpp: non-finite numbers as null, as
    // JSON.stringify writes them, and strings with their bytes, UTF-8 or not. With Boost.JSON's
    // own NaN / Infinity, or a room named with bytes that are not UTF-8, the state could not be
    // read back and the session was lost; before 2026-12-04, found by a review.)
    json::object o{{"id", s.id}, {"rooms", rooms_json(s.rooms)}, {"data", s.data}};
    if (s.start != 0) o["start"] = s.start;
    const std::string state = sio::to_json_text(o);
    const auto r = node_.sessions
                       ? node_.sessions->put(key(s.pid), state, connected, window(), since_ns)
                       : shm::SessionStore::PutStatus::full;
    if (r == shm::SessionStore::PutStatus::ok) {
      // (An erase of it still queued from an earlier failed save must not remove this one — or
      // another worker's, saved after it for the same pid.)
      if (!node_.forget_later.empty()) std::erase(node_.forget_later, key(s.pid));
      return true;
    }
    ++node_.stats.sessions_not_saved;
    // No older state of it may stay either (one saved before its rooms outgrew a slot, or in a
    // slot the put could not lock): a recovery would restore that and call itself a success.
    if (node_.sessions) node_.forget_session(key(s.pid));
    // One line per second at most (a full table would say it for every connection).
    const auto now = std::chrono::steady_clock::now();
    if (now - last_not_saved_log_ < std::chrono::seconds(1)) return false;
    last_not_saved_log_ = now;
    std::fprintf(stderr, "shmio[w%d]: session %s not saved for recovery: %s\n",
                 node_.options.worker, s.pid.c_str(),
                 node_.sessions ? shm::to_string(r) : "no session table");
    return false;
  }
  // The namespace's name with its length first: a name may hold "\n" (a dynamic namespace the
  // client names), and with the two only joined, the session of pid "Y" in "/\nX" was the one
  // of pid "X\nY" in "/": a client recovered it in "/", skipping that namespace's middleware
  // (before 2026-12-05; found by a review).
  std::string key(const std::string& pid) const {
    return std::to_string(nsp_->name().size()) + ":" + nsp_->name() + "\n" + pid;
  }
  std::chrono::nanoseconds window() const {
    const auto& r = nsp_->server().options().connection_state_recovery;
    return r ? std::chrono::duration_cast<std::chrono::nanoseconds>(r->max_disconnection_duration)
             : std::chrono::nanoseconds(0);
  }
  static std::optional<sio::SessionState> state_of(const std::string& pid,
                                                   const std::string& text) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = kMaxMessageDepth;  // (data as deep as it was set)
    opts.allow_invalid_utf8 = true;
    json::value v = sio::parse_json_exact(text, ec, opts);
    if (ec || !v.is_object()) return std::nullopt;
    const json::object& o = v.get_object();
    const json::value* data = o.if_contains("data");
    sio::SessionState st{str_of(o, "id"), pid, rooms_from(o.if_contains("rooms")),
                         data ? *data : json::value()};
    // (Written as an unsigned number; read back as int64 where it fits.)
    if (const json::value* start = o.if_contains("start")) {
      if (start->is_uint64()) st.start = start->get_uint64();
      if (start->is_int64() && start->get_int64() > 0)
        st.start = static_cast<std::uint64_t>(start->get_int64());
    }
    return st;
  }

  Node::Impl& node_;
  bool telling_rooms_ = false;
  std::chrono::steady_clock::time_point last_not_saved_log_{};
  // Connected sockets whose last save failed (session_kept).
  std::unordered_set<sio::SocketId> unsaved_;
  std::vector<sio::SocketId> data_pending_;  // sockets whose data a turn reached
  // (The posted save's guard: the base Adapter's alive_.)
};

// The bytes `text` takes as a JSON string, quotes included, as Boost.JSON writes it, or a few
// more: a quote or a backslash 2, a control character 6 (\u00XX; 2 for the five it writes short),
// any other byte 1 (it writes UTF-8 as it is). Counted without building the string: the rooms'
// parts size every room.
inline std::size_t json_string_bytes(std::string_view text) noexcept {
  std::size_t n = 2;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    n += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
  }
  return n;
}

inline void Node::Impl::announce_namespaces(bool with_rooms) {
  if (stopped || !writer) return;
  with_rooms = with_rooms && tell_rooms != TellRooms::no;
  // The names, in parts that each fit half a ring record (as JSON: a name of control characters
  // takes 6 bytes each), "part" i of "parts" n: the bridge gathers them and takes them together
  // at the last. (Before 2026-12-06 one record: 10,000 dynamic names of 256 bytes were over the
  // largest record of a 16 MiB ring, and the announcement was not published; a review.)
  // All of them at most a quarter of the ring, shared by the workers that write into it, as the
  // rooms below (every worker answers a bridge's request at once: more than the ring holds before
  // the bridge reads again laps it, and it asks again a second later); names past it are left
  // out, that is said, and the last part says "nsps_incomplete" (the bridge keeps the names it
  // held after the last told, and lets go of the others).
  const std::size_t budget = out_segment().max_record() / 2;
  const std::size_t writers =
      own_segment ? 1 : static_cast<std::size_t>(std::max(1, options.workers));
  const std::size_t total_bound = out_segment().capacity() / 4 / writers;
  std::vector<json::array> name_parts(1);
  std::size_t names_size = 64, names_total = 0, names_left_out = 0, names_too_large = 0;
  bool names_cut = false;
  std::unordered_set<std::string_view> told;  // (the names told: only their rooms are)
  // (The names in their order, up to the bound: the bridge takes those after the last told as
  // left out, and lets go of those before it it is not told. A name too large for a part on its
  // own is skipped: never told, it could only stop every announcement, its record refused.)
  for (const auto& [name, a] : adapters) {
    const std::size_t cost = json_string_bytes(name) + 1;
    if (cost + 128 > budget) {
      ++names_too_large;
      continue;
    }
    if (names_cut || names_total + cost > total_bound) {
      names_cut = true;
      ++names_left_out;
      continue;
    }
    names_total += cost;
    if (names_size + cost > budget && !name_parts.back().empty()) {
      name_parts.emplace_back();
      names_size = 64;
    }
    name_parts.back().emplace_back(name);
    told.insert(name);
    names_size += cost;
  }
  if (names_left_out > 0 || names_too_large > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now - names_left_out_said >= std::chrono::seconds(10)) {
      names_left_out_said = now;
      if (names_left_out > 0)
        std::fprintf(stderr,
                     "shmio[w%d]: this worker's namespace names are over %zu bytes (a quarter of "
                     "the ring, shared by the workers that write into it): %zu of them were not "
                     "told to the fleet bridge (broadcasts from other hosts to them do not reach "
                     "this one, unless it holds them already)\n",
                     options.worker, total_bound, names_left_out);
      if (names_too_large > 0)
        std::fprintf(stderr,
                     "shmio[w%d]: %zu of this worker's namespace names are too large for half a "
                     "ring record (%zu bytes): not told to the fleet bridge\n",
                     options.worker, names_too_large, budget);
    }
  }
  if (!with_rooms) {
    for (std::size_t i = 0; i < name_parts.size(); ++i) {
      json::object body{{"worker", options.worker}, {"nsps", std::move(name_parts[i])}};
      if (tell_rooms != TellRooms::no) body["telling"] = true;
      if (name_parts.size() > 1) {
        body["part"] = i;
        body["parts"] = name_parts.size();
      }
      if (names_cut && i + 1 == name_parts.size()) body["nsps_incomplete"] = true;
      if (!publish(MessageType::namespaces, write_message(body))) return;
    }
    return;
  }
  // Every room of every namespace (a fleet bridge in a sharded dynamic mode asked): in parts that
  // each fit half a ring record, after the names' parts (the last of which shares the first
  // rooms' part), numbered together; the bridge takes them together once the last has come. (Before
  // 2026-12-04 one record: with a room per socket it was over a record's size past about 115,000
  // sockets on a 16 MiB ring, refused, and the bridge learned none of the rooms it did not hold
  // already.) All of them at most a quarter of the ring, shared by the workers that write into it
  // (every worker answers at once, and more than the ring holds before the bridge reads again would
  // lap it): rooms past it are left out, that is said, and the last part says "incomplete" (the
  // bridge then adds what it is told and drops nothing: it keeps the channels of rooms it learned
  // as they were made).
  std::vector<json::object> parts(1);
  std::size_t size = names_size, total = names_total, left_out = 0;
  for (const auto& [name, a] : adapters) {
    // (Only the rooms of a namespace told: one too large, as a key, made its part too large, and
    // one past the cut would get its rooms' channels without its own; a review.)
    const bool name_told = told.count(name) != 0;
    const std::size_t key_cost = name_told ? json_string_bytes(name) + 3 : 0;  // ("...":[ ])
    for (const sio::Room& r : a->rooms()) {
      if (!room_told(r)) continue;
      // (As JSON: a room of quotes or control characters takes up to 6 bytes a byte. Counted as
      // r.size() + 4 before 2026-12-06: parts of such rooms were over a record, refused, and the
      // parts after them never published; a bug hunt. One too large for a part with its key, as
      // a name too large for one, is left out.)
      const std::size_t cost = json_string_bytes(r) + 1;
      if (!name_told || total + cost > total_bound || cost + key_cost + 128 > budget) {
        ++left_out;
        continue;
      }
      if (size + cost + key_cost > budget && !parts.back().empty()) {
        parts.emplace_back();
        size = 64;
      }
      json::value& list = parts.back()[name];
      if (!list.is_array()) {
        list = json::array();
        size += key_cost;
      }
      list.get_array().emplace_back(r);
      size += cost;
      total += cost;
    }
  }
  if (left_out > 0)
    std::fprintf(stderr,
                 "shmio[w%d]: this worker's rooms (with its namespace names) are over %zu bytes (a "
                 "quarter of the ring, shared by the workers that write into it): %zu of them were "
                 "not told to the fleet bridge (it keeps what it holds)\n",
                 options.worker, total_bound, left_out);
  // Records: the names' parts but the last (with no rooms: an empty object, as a part of rooms),
  // then the rooms' parts, the first with the names' last part.
  const std::size_t k = name_parts.size() - 1, count = k + parts.size();
  for (std::size_t i = 0; i < count; ++i) {
    json::object body{{"worker", options.worker},
                      {"rooms", i < k ? json::object() : std::move(parts[i - k])}};
    if (i <= k) body["nsps"] = std::move(name_parts[i]);
    if (count > 1) {
      body["part"] = i;
      body["parts"] = count;
    }
    if (left_out > 0 && i + 1 == count) body["incomplete"] = true;
    if (names_cut && i + 1 == count) body["nsps_incomplete"] = true;
    if (!publish(MessageType::namespaces, write_message(body))) return;
  }
}
}  // namespace shmio::cluster
