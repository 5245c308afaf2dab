// Reading the ring: what a worker does with every record (its own and the others'), the
// broadcasts' delivery, the answers to requests, a lap.
#include "cluster_adapter.hpp"
#include "node_impl.hpp"

#include <cstdio>
#include <limits>
#include <utility>

namespace shmio::cluster {

// ---------------------------------------------------------------------------------------------
void Node::Impl::drain(std::size_t rounds) {
  // Not re-entered: a callback run while applying a record (e.g. an answer completing a request
  // whose callback admits a recovered socket) must not apply later records before the rest of
  // the batch. Such a nested replay reads up to `applied_end` instead.
  if (stopped || !reader || draining) return;
  forget_destroyed_server();
  bool more = false;
  {
    draining = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{draining};
    // (The workers' rings with a ring per worker, then the shared one.)
    more = rings.drain(
        *reader, [this](shm::RingReader& r, WorkerRing* from) { return read_batch(r, from); },
        [this] { return stopped; }, rounds);
    release_held();  // (a lap moves applied_end past what it lost)
  }
  if (!more) return;
  ++stats.drain_yields;
  if (std::exchange(drain_posted, true)) return;
  net::post(io, [life = std::weak_ptr<bool>(lifetime), this] {
    if (life.expired()) return;
    drain_posted = false;
    // (keep_up may have asked meanwhile for everything to be read: a worker half a ring behind
    // its own publishes must not go on a budget. Found by a review of the budget's change.)
    if (std::exchange(full_drain, false))
      drain();
    else
      drain(kDrainRounds);
  });
}

void Node::Impl::answer_in_parts(MessageType t, std::uint64_t rid, std::uint16_t to,
                                 const char* key, json::array items, const char* request,
                                 const char* item) {
  // Each part at most half a ring record. The whole answer at most half the ring its parts go
  // into, shared by the workers that write into it (on the shared ring, all of them): every
  // worker answers at once, and more than the ring holds before the requester reads again would
  // lap it (and a lapped worker disconnects its clients). Parts past it are left out, and that is
  // said. (The fleet bridge's answer from the fleet, in the shared ring too, takes at most a
  // quarter more.)
  const std::size_t writers =
      own_segment ? 1 : static_cast<std::size_t>(std::max(1, options.workers));
  const std::size_t total = out_segment().capacity() / 2 / writers;
  const std::size_t budget =
      std::min<std::size_t>(out_segment().max_record() / 2, total);  // (as split)
  std::size_t left_out = 0;
  std::vector<json::array> parts =
      bounded_socket_parts(std::move(items), budget, total, left_out, [&](std::size_t n) {
        std::fprintf(stderr,
                     "shmio[w%d]: %s: %s of %zu bytes is over %zu and was left out of the "
                     "answer\n",
                     options.worker, request, item, n, budget);
      });
  if (left_out > 0)
    std::fprintf(stderr,
                 "shmio[w%d]: %s: the answer is over %zu bytes (half the ring, shared by the "
                 "workers that write into it): %zu of its %s were left out\n",
                 options.worker, request, total, left_out, key);
  for (std::size_t i = 0; i < parts.size(); ++i)
    publish(t, write_message({{"requestId", rid},
                              {"to", to},
                              {"part", i},
                              {"parts", parts.size()},
                              {key, std::move(parts[i])}}));
}

bool Node::Impl::read_batch(shm::RingReader& r, WorkerRing* from) {
  // (While a death waits for the rest of its worker's ring, the shared ring is not read on.)
  if (from == nullptr && death_waiting) {
    step_death();
    return true;
  }
  std::array<RecordView, 64> views;
  using Copied = CopiedRecord;
  // A lap loses what a worker ring's last RING_OWNER said: looked up again until the next.
  // What was lost is said to the others too: [where the reader was, where it resumed).
  std::uint64_t was_at = r.position();
  auto lapped = [&](std::uint64_t lost) {
    if (from != nullptr) WorkerRings::lapped(*from);
    say_lapped(from != nullptr ? from->worker : -1, was_at, r.position());
    on_lapped(lost);
  };
  const std::size_t n = r.peek(views);
  // (last_loss() adds up the peek's and its consume's: the consume's own is the difference.
  // Before 2026-12-05 a lap at both counted the peek's twice, and disconnected everyone twice.)
  const std::uint64_t lost_at_peek = r.last_loss().records;
  if (lost_at_peek != 0) lapped(lost_at_peek);
  was_at = r.position();  // (a consume that finds the views overwritten loses from here)
  std::uint64_t& applied = from != nullptr ? from->applied : applied_end;
  if (from != nullptr && death_waiting && from->worker == death_waiting->worker)
    death_waiting->dead_read_nothing = n == 0;
  if (n == 0) {
    applied = r.position();
    return false;
  }
  // One copy per record out of the ring (validated by consume() below): a BROADCAST's frame
  // is copied straight into the buffer its sockets share; other messages into `bytes`.
  std::vector<Copied> batch;
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const RecordView& v = views[i];
    // Our own records on the shared ring were applied when published, except broadcasts
    // delivered in ring order. (A worker does not read its own ring.) Its slot's records from
    // before it took the slot are another process's (an emitter's that let it go meanwhile:
    // skipped as this worker's own before 2026-12-04, never delivered; a helper's review).
    if (from == nullptr && v.producer == self() && v.position >= own_from && !own_in_ring_order(v))
      continue;
    Copied c{v.type,       v.producer, v.position, i + 1 < n ? views[i + 1].position : 0,
             std::nullopt, {}};
    if (v.type == static_cast<std::uint16_t>(MessageType::broadcast)) {
      bool added = false;
      c.broadcast = take_broadcast(v.payload, offset_digits(), &added);
      if (added && !own_writer && !set_position_offset(*c.broadcast, v.position))
        ++stats.bad_records;  // (cannot be: the placeholder was just added)
    } else {
      c.bytes.resize(v.payload.size());
      shm::copy_tentative(reinterpret_cast<std::byte*>(c.bytes.data()), v.payload.data(),
                          v.payload.size());
    }
    batch.push_back(std::move(c));
  }
  if (!r.consume(std::span<const RecordView>(views.data(), n))) {
    lapped(r.last_loss().records - lost_at_peek);
    return true;
  }
  apply_copied(batch, 0, r.position(), from);
  return true;
}

bool Node::Impl::apply_copied(std::vector<CopiedRecord>& batch, std::size_t i,
                              std::uint64_t batch_end, WorkerRing* from) {
  std::uint64_t& applied = from != nullptr ? from->applied : applied_end;
  for (; i < batch.size(); ++i) {
    CopiedRecord& c = batch[i];
    if (from != nullptr) {
      // A worker ring's records name their worker by its identity on the shared ring, as its
      // last RING_OWNER said (in ring order: one in this batch counts from there on).
      if (c.type == static_cast<std::uint16_t>(MessageType::ring_owner)) {
        // (One that names nobody counted as refused: until 2026-12-06 silently dropped; a bug
        // hunt.)
        if (!WorkerRings::owner_said(*from, c.producer, as_bytes(c.bytes)))
          refuse_record("a ring owner record that names no worker of this ring", c.type, c.producer,
                        c.bytes.size());
        continue;
      }
      if (c.type == static_cast<std::uint16_t>(MessageType::worker_down)) {
        refuse_record("a worker's death on a worker's ring (the supervisor's go on the shared one)",
                      c.type, c.producer, c.bytes.size());
        continue;
      }
      c.producer = rings.writer_of(*segment, *from, c.producer);
    }
    // What this worker holds for a point before this record (its own socketsJoin whose publish
    // read the ring: its record skipped here as its own) is applied before this record, as the
    // ring orders them.
    if (from == nullptr && !held.empty() && held.front().first <= c.position) {
      applied = std::max(applied, c.position);
      release_held();
      if (stopped) return false;
    }
    if (c.producer != self()) ++stats.messages_received;  // of others
    applied = c.end != 0 ? c.end : batch_end;
    if (c.type == static_cast<std::uint16_t>(MessageType::broadcast)) {
      // With a ring per worker and recovery: this worker's own offset, under the entry of its
      // cut log for this ring as it is now (a record applied before this one in the batch may
      // have delivered broadcasts of another ring: an app's handler, a death, a replay).
      if (c.broadcast && cuts)
        if (const auto e = cut_for(ring_index(from));
            e && !set_offset(*c.broadcast, offset_for(*e, ring_index(from), c.position)))
          ++stats.bad_records;
      if (c.broadcast)
        apply_broadcast(std::move(*c.broadcast), c.producer);
      else
        refuse_record("a broadcast that does not decode", c.type, c.producer, 0);
    } else {
      apply(c.type, c.producer, as_bytes(c.bytes));
      if (death_waiting && death_waiting->record_end == 0) {
        // (apply() found the dead worker's ring not read to its end: the death and what comes
        // after it wait; the death counts as not applied yet.)
        applied = c.position;
        death_waiting->record_end = c.end != 0 ? c.end : batch_end;
        death_waiting->rest.assign(
            std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(i + 1)),
            std::make_move_iterator(batch.end()));
        death_waiting->batch_end = batch_end;
        return false;
      }
    }
    if (from == nullptr && !held.empty()) release_held();
    if (stopped) return false;
  }
  applied = batch_end;
  return true;
}

void Node::Impl::step_death() {
  const DeathWaiting& d = *death_waiting;
  // (The dead worker's ring is read in each round before the shared one, as every ring is.)
  if (const WorkerRing* dead = rings.of(d.worker);
      dead != nullptr && dead->reader->position() < d.dead_end && !d.dead_read_nothing)
    return;
  DeathWaiting done = std::move(*death_waiting);
  death_waiting.reset();
  applied_end = done.record_end;  // (as for any record: before it is applied)
  apply_death(done.pid, done.start);
  if (!held.empty()) release_held();
  if (stopped) return;
  apply_copied(done.rest, 0, done.batch_end, nullptr);
}

void Node::Impl::apply_death(pid_t pid, std::uint64_t start) {
  worker_down(pid, start);
  // Its connected sessions count as disconnected from now (the recovery window runs).
  if (sessions) sessions->worker_died(pid);
  std::erase_if(loads, [pid, start](const auto& e) { return is_dead(e.second.who, pid, start); });
}

bool Node::Impl::own_in_ring_order(const RecordView& v) {
  if (v.type != static_cast<std::uint16_t>(MessageType::broadcast) || v.payload.size() < 2)
    return false;
  std::byte flags{};  // read tentatively: consume() tells whether the record was still there
  shm::copy_tentative(&flags, v.payload.data() + 1, 1);
  return (std::to_integer<std::uint8_t>(flags) & kFlagOwnInRingOrder) != 0;
}

void Node::Impl::apply_broadcast(TakenBroadcast b, std::uint16_t producer) {
  if (producer != self()) ++stats.broadcasts_received;
  ClusterAdapter* a = adapter(b.nsp);
  const bool with_acks = (b.flags & kFlagAck) != 0;
  if (!with_acks) {
    if (a != nullptr) a->nsp().deliver_local(b.packet, b.opts);
    return;
  }
  // With acks: the requester learns how many answers to expect from here, then each answer.
  std::size_t n = 0;
  if (a != nullptr) {
    const std::uint64_t rid = b.ack_id;
    // Past the requester's timeout, counted from the broadcast's arrival here, neither an answer
    // nor a "lost" comes (Socket::PendingAck::settle), so neither is published: the requester
    // counted its timeout from before its publish (socketio::AckCollector::arm), so it no
    // longer waits.
    // (Owed while either callback lives: ANSWERS_CHECK.)
    auto owed = owe(producer, rid);
    n = a->nsp().deliver_local_with_ack(
        b.packet, b.opts, rid,
        [this, alive = std::weak_ptr<bool>(lifetime), rid, producer, owed](sio::Args args) {
          if (alive.expired()) return;
          ++owed->given;
          json::object body{{"requestId", rid}, {"to", producer}, {"args", args.values}};
          if (!publish(MessageType::broadcast_ack, write_message(body, args.binaries)))
            answer_marker(MessageType::broadcast_ack, rid, producer, "lost");
        },
        [this, alive = std::weak_ptr<bool>(lifetime), rid, producer, owed] {
          // A target that will never answer (disconnected first, or dropped at its pending-ack
          // bound): said, so that the requester completes without waiting for its timeout, as
          // in one process. (Before, nothing was said.)
          if (alive.expired() || stopped) return;
          ++owed->given;
          answer_marker(MessageType::broadcast_ack, rid, producer, "lost");
        });
    owed->counted = true;
    owed->clients = n;
  }
  publish(MessageType::broadcast_client_count,
          write_message({{"requestId", b.ack_id}, {"to", producer}, {"clientCount", n}}));
}

void Node::Impl::apply(std::uint16_t type, std::uint16_t producer,
                       std::span<const std::byte> payload) {
  const auto t = static_cast<MessageType>(type);
  // (Retired types, which no shmio of today writes: skipped, as wire.hpp says, not refused.)
  if (t == MessageType::session || t == MessageType::session_taken ||
      t == MessageType::sessions_sync_request || t == MessageType::sessions_sync)
    return;
  auto m = read_message(payload);
  if (!m) {
    refuse_record("a message that does not decode", type, producer, payload.size());
    return;
  }
  const json::object& body = m->body;
  const std::uint64_t rid = u64_of(body, "requestId");
  const bool for_me = body.contains("to") && u64_of(body, "to") == self();
  const std::uint64_t source = producer + 1u;
  switch (t) {
    case MessageType::sockets_join:
    case MessageType::sockets_leave:
    case MessageType::disconnect_sockets:
      if (ClusterAdapter* a = adapter(str_of(body, "nsp"))) a->apply_local(t, body);
      break;
    case MessageType::fetch_sockets: {
      ClusterAdapter* a = adapter(str_of(body, "nsp"));
      const json::value* o = body.if_contains("opts");
      json::array sockets;
      if (a != nullptr)
        sockets = a->local_sockets(o && o->is_object() ? options_from_json(o->get_object())
                                                       : sio::BroadcastOptions{});
      // The answer in parts that each fit a ring record (many sockets, or large handshakes
      // and data, exceed one); the first part says how many there are.
      answer_in_parts(MessageType::fetch_sockets_response, rid, producer, "sockets",
                      std::move(sockets), "fetchSockets", "a socket's description");
      break;
    }
    case MessageType::fetch_sockets_response:
      if (!for_me || !awaits(rid, producer)) break;
      if (auto c = collector_for(rid)) {
        const json::value* s = body.if_contains("sockets");
        // Parts come in order from one worker: the first announces them all.
        if (u64_of(body, "part") == 0)
          c->expect(source, std::max<std::uint64_t>(1, u64_of(body, "parts")));
        c->answer(source, sio::Args{s ? *s : json::value(json::array{})});
      }
      break;
    case MessageType::server_side_emit: {
      ClusterAdapter* a = adapter(str_of(body, "nsp"));
      const json::value* args = body.if_contains("args");
      sio::Args in(args && args->is_array() ? args->get_array() : json::array{}, m->blobs);
      std::function<void(sio::Args)> ack;
      if (rid != 0) {
        // (Owed until the app calls the ack, or lets go of it: ANSWERS_CHECK.)
        auto owed = owe(producer, rid);
        ack = [this, alive = std::weak_ptr<bool>(lifetime), rid, producer, owed](sio::Args reply) {
          if (!owed->open || alive.expired()) return;
          owed->release();
          json::object r{{"requestId", rid}, {"to", producer}, {"args", reply.values}};
          if (!publish(MessageType::server_side_emit_response, write_message(r, reply.binaries)))
            answer_marker(MessageType::server_side_emit_response, rid, producer, "lost");
        };
      }
      if (a != nullptr) {
        a->nsp().handle_server_side(str_of(body, "event"), std::move(in), ack);
      } else if (rid != 0) {
        // Not a server of that namespace (a dynamic one made only where a client asked for it):
        // the requester is told so and waits for no answer from here, as socket.io counts only
        // the servers that have the namespace (before 2026-12-02 it waited for its timeout).
        answer_marker(MessageType::server_side_emit_response, rid, producer, "none");
      }
      break;
    }
    case MessageType::server_side_emit_response:
    case MessageType::broadcast_ack:
      if (!for_me) break;
      if (auto c = collector_for(rid)) {
        if (flag_of(body, "none")) {  // (no such namespace there: nothing to wait for)
          if (awaits(rid, producer)) c->fail_source(source, false);
          break;
        }
        if (flag_of(body, "lost")) {  // (an answer that could not be published: answer_marker)
          c->lose(source);
          break;
        }
        const json::value* args = body.if_contains("args");
        sio::Args reply(args && args->is_array() ? args->get_array() : json::array{}, m->blobs);
        c->answer(source, std::move(reply));
      }
      break;
    case MessageType::broadcast_client_count:
      if (!for_me || !awaits(rid, producer)) break;
      if (auto c = collector_for(rid)) c->expect(source, u64_of(body, "clientCount"));
      break;
    case MessageType::namespaces_request: {
      const std::string rooms = str_of(body, "rooms");
      const TellRooms want = rooms == "all"      ? TellRooms::all
                             : rooms == "public" ? TellRooms::public_only
                                                 : TellRooms::no;
      if (want != TellRooms::no && tell_rooms == TellRooms::no) {
        tell_rooms = want;
        for (auto& [name, a] : adapters) a->tell_rooms();
      }
      announce_namespaces();
      break;
    }
    case MessageType::all_rooms: {
      json::array rooms;
      if (ClusterAdapter* a = adapter(str_of(body, "nsp")))
        for (const sio::Room& r : a->rooms()) rooms.emplace_back(r);
      // In parts, as a fetchSockets answer (before 2026-12-05 one record: past the largest
      // record, 128 KiB on a 1 MiB ring, none was published and the fleet's allRooms waited out
      // its timeout without this worker's rooms; found by a review).
      answer_in_parts(MessageType::all_rooms_response, rid, producer, "rooms", std::move(rooms),
                      "allRooms", "a room name");
      break;
    }
    case MessageType::namespaces:
    case MessageType::all_rooms_response:
    case MessageType::room_changed:
      break;  // (for the fleet bridge)
    case MessageType::load: {
      // (Checked before it is cut to an int: 4294967297 was taken as worker 1's load; a bug
      // hunt, 2026-12-06. A worker's index out of range, or none, is refused, counted.)
      const json::value* said = body.if_contains("worker");
      const bool whole =
          said != nullptr && (said->is_uint64() || (said->is_int64() && said->get_int64() >= 0));
      const std::uint64_t w64 = u64_of(body, "worker");
      if (!whole || w64 >= static_cast<std::uint64_t>(options.workers)) {
        refuse_record("a load record naming no worker of this cluster", type, producer,
                      payload.size());
        break;
      }
      const auto w = static_cast<int>(w64);
      if (w == options.worker) break;
      if (producer >= segment->max_producers()) break;  // (nobody: WorkerRings::writer_of)
      Load& l = loads[w];
      l.clients = u64_of(body, "clients");
      l.who = shm::registry::owner_of(segment->producer_slot(producer));
      l.at = std::chrono::steady_clock::now();
      break;
    }
    case MessageType::worker_down: {
      // (A pid out of pid_t's range, or none, is refused: cut to pid_t it could name a live
      // worker, whose sessions would then count as disconnected; 0 noted a death of no one.)
      const std::uint64_t said_pid = u64_of(body, "pid");
      if (said_pid == 0 ||
          said_pid > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) {
        refuse_record("a worker's death without a valid pid", type, producer, payload.size());
        break;
      }
      const auto pid = static_cast<pid_t>(said_pid);
      // The supervisor says a death (once it has reaped the process): one from another writer is
      // none (a stray record): applied, it dropped a live worker from every request waiting for
      // it, and noted its sessions' death (before 2026-12-05; found by a review). (Whether the pid
      // lives is not looked at: a pid reused before the record is read would refuse a real death.)
      if (!said_by_supervisor(producer)) {
        refuse_record("a worker's death said by another writer than the supervisor", type, producer,
                      payload.size());
        break;
      }
      // With a ring per worker, the rest of its own ring first: everything it said before it
      // died (answers to requests among them) is applied before its death is, as on one ring.
      // (Up to its tail now, batch by batch: the dead worker claimed nothing after it. A
      // successor restarted meanwhile may have written after it, and the last batch may take
      // some of that too — or a worker ring read before the shared one may have: what WORKER_DOWN
      // then does is keyed by the dead worker's pid, which the successor's records do not
      // share.) Read over the next turns if it is not read yet (DeathWaiting).
      const std::uint64_t said_worker = u64_of(body, "worker");
      WorkerRing* dead = said_worker < static_cast<std::uint64_t>(options.workers)
                             ? rings.of(static_cast<int>(said_worker))
                             : nullptr;
      if (dead != nullptr) {
        const std::uint64_t end = dead->segment.control().tail.tail.load(std::memory_order_acquire);
        if (dead->reader->position() < end) {
          death_waiting.emplace();
          death_waiting->pid = pid;
          death_waiting->start = u64_of(body, "start");
          death_waiting->worker = static_cast<int>(said_worker);
          death_waiting->dead_end = end;
          break;  // (apply_copied keeps the rest)
        }
      }
      apply_death(pid, u64_of(body, "start"));
      break;
    }
    case MessageType::answers_check: {
      // Which of the requests named this worker still owes the asker answers for; its reply
      // follows every answer it gave them, in the ring they went into.
      const auto check = read_answers_check(body);
      if (!check) {
        refuse_record("a check of answers without its id and requests", type, producer,
                      payload.size());
        break;
      }
      json::array still;
      for (const std::uint64_t asked : check->requests) {
        auto [first, last] = owing.equal_range({producer, asked});
        if (first == last) continue;
        const Owing& newest = *std::prev(last)->second;
        json::object o{{"requestId", asked}};
        if (newest.counted) {
          o["clients"] = newest.clients;
          o["given"] = newest.given;
        }
        still.emplace_back(std::move(o));
      }
      publish(MessageType::answers_owed,
              write_message({{"to", producer}, {"check", check->check}, {"owed", still}}));
      break;
    }
    case MessageType::answers_owed: {
      if (!for_me) break;
      const auto owed = read_answers_owed(body);
      if (!owed) {
        refuse_record("a reply to a check of answers without its id or list", type, producer,
                      payload.size());
        break;
      }
      take_answers_owed(producer, owed->check, owed->owed);
      break;
    }
    case MessageType::lapped: {
      const auto lap = read_lapped(body, options.ring_per_worker, options.workers);
      if (!lap) {
        refuse_record("a lap said without its ring and range", type, producer, payload.size());
        break;
      }
      peer_lapped(producer, lap->ring, lap->from, lap->to);
      break;
    }
    default:
      refuse_record("a record of a type this worker does not know", type, producer, payload.size());
      break;
  }
}

void Node::Impl::refuse_record(const char* why, std::uint16_t type, std::uint16_t producer,
                               std::size_t bytes) {
  ++stats.bad_records;
  // (Counted only before 2026-12-04: an operator saw shmio_ring_bad_records_total move and no
  // word of what or whose.)
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_said < std::chrono::seconds(1)) return;
  last_refusal_said = now;
  std::fprintf(stderr,
               "shmio[w%d]: a ring record refused: %s (type %u, from producer slot %u, %zu "
               "bytes; shmio_ring_bad_records_total counts them; at most one line a second)\n",
               options.worker, why, static_cast<unsigned>(type), static_cast<unsigned>(producer),
               bytes);
}

void Node::Impl::on_lapped(std::uint64_t lost) {
  ++stats.laps;
  stats.lost_records += lost;
  // Its clients may have missed broadcasts they can never get from here: they are disconnected,
  // so that they reconnect and recover (or start afresh if the ring no longer has their range).
  const std::size_t n = server ? server->disconnect_all("forced server close") : 0;
  stats.lap_disconnects += n;
  // Said at most once per 10 s, with the totals since (a flood that laps a worker again and
  // again wrote a line per lap before 2026-12-05: hundreds a second).
  if (!say_publish_failure("lapped")) return;
  std::fprintf(stderr,
               "shmio[w%d]: lapped by the ring: %llu records lost; %zu clients disconnected to "
               "recover (%llu laps, %llu records lost so far; said at most once per 10 s)\n",
               options.worker, static_cast<unsigned long long>(lost), n,
               static_cast<unsigned long long>(stats.laps),
               static_cast<unsigned long long>(stats.lost_records));
}
}  // namespace shmio::cluster
