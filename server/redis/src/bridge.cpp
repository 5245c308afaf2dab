// The fleet bridge (shmio/redis/bridge.hpp, docs/redis.md): the ring on one side, Redis on the
// other, in the classic adapter's protocol (cluster/redis_wire.hpp).
#include "shmio/redis/bridge.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "shmio/cluster/metrics.hpp"
#include "shmio/cluster/redis_wire.hpp"
#include "shmio/cluster/supervisor.hpp"
#include "shmio/cluster/wire.hpp"
#include "shmio/cluster/worker_rings.hpp"
#include "shmio/engineio/session.hpp"
#include "shmio/redis/client.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_notifier.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::redis {

namespace net = boost::asio;
namespace json = boost::json;
namespace sio = socketio;
namespace fleet = cluster::fleet;
using cluster::MessageType;
using Clock = std::chrono::steady_clock;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::uint64_t u64_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr ? cluster::whole_number(*v).value_or(0) : 0;
}
// (Clients counted by workers and fleet members, added up: past 2^64 it stays there rather than
// wrap to a few, which would end a broadcast's wait for acks before they came.)
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}
std::string str_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}
// (A room named by a number, as a Node member may send one, by its decimal string, as the
// classic path reads it: before 2026-12-03 a sharded join or leave of room 7 left it out.)
std::set<sio::Room> rooms_of(const json::value* v) {
  std::set<sio::Room> out;
  if (v != nullptr && v->is_array())
    for (const auto& r : v->get_array())
      if (auto room = fleet::room_from_json(r)) out.insert(std::move(*room));
  return out;
}
json::array rooms_json(const std::set<sio::Room>& rooms) {
  json::array a;
  for (const auto& r : rooms) a.emplace_back(r);
  return a;
}

// Where a bridge that died (restarted by the supervisor) stopped reading `s`: its reader slot's
// position, if a dead bridge's slot is there (the supervisor keeps them ACTIVE for this: a free
// slot's label and position are an older reader's). Of several (a bridge that died again before
// it had resumed, its own slot at the latest record), the lowest: a record sent twice rather
// than one never sent.
std::optional<std::uint64_t> dead_bridge_position(const shm::Segment& s) {
  std::optional<std::uint64_t> resume;
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    const auto& slot = s.reader_slot(i);
    if (std::strncmp(slot.label, cluster::kBridgeLabel, sizeof slot.label) != 0) continue;
    if (slot.state.load(std::memory_order_acquire) != shm::layout::kSlotActive) continue;
    if (shm::liveness(shm::registry::owner_of(slot)) != shm::Liveness::dead) continue;
    const std::uint64_t p = slot.position.load(std::memory_order_acquire);
    resume = std::min(resume.value_or(p), p);
  }
  return resume;
}

// Whether a reader slot labelled as a bridge's is between states this moment: being taken, or
// held by a reap of the supervisor's (marked as being taken, then given back as it was).
bool bridge_slot_in_between(const shm::Segment& s) {
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    const auto& slot = s.reader_slot(i);
    if (std::strncmp(slot.label, cluster::kBridgeLabel, sizeof slot.label) != 0) continue;
    const std::uint32_t st = slot.state.load(std::memory_order_acquire);
    if (st != shm::layout::kSlotFree && st != shm::layout::kSlotDead &&
        st != shm::layout::kSlotActive)
      return true;
  }
  return false;
}
// Waits (a few milliseconds at most) until no bridge's slot is between states, so that a dead
// bridge's position is not missed, nor left behind, for a reap that held it a moment.
void settle_bridge_slots(const shm::Segment& s) {
  for (int i = 0; i < 100 && bridge_slot_in_between(s); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
// Frees the dead bridges' slots of `s` once read (the supervisor keeps them for this), looked at
// again a few times, so that none is left to mislead the next bridge.
void free_dead_bridge_slots(const shm::Segment& s) {
  for (int i = 0; i < 100; ++i) {
    (void)shm::registry::reap_dead_readers(s);
    if (!dead_bridge_position(s) && !bridge_slot_in_between(s)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Moves a new bridge's reader to where the dead one stopped, if it can (said either way).
void resume_at(shm::RingReader& r, std::optional<std::uint64_t> resume, BridgeStats& stats) {
  // (The previous bridge may have read past the frontier, by the seals: seek() then passes it.)
  if (!resume || *resume == r.position()) return;
  // (Ahead: by at most the few records the frontier had not passed yet; behind is the usual.)
  const std::uint64_t behind = *resume < r.position() ? r.position() - *resume : 0;
  if (r.seek(*resume)) {
    std::fprintf(stderr,
                 "shmio[bridge]: resuming where the previous bridge stopped in %s (%llu ring bytes "
                 "behind)\n",
                 r.segment().name().c_str(), static_cast<unsigned long long>(behind));
  } else {
    std::fprintf(stderr,
                 "shmio[bridge]: the previous bridge's position is no longer in %s (%llu bytes "
                 "behind): what the workers published in between was not sent to the fleet\n",
                 r.segment().name().c_str(), static_cast<unsigned long long>(behind));
    ++stats.unsent;
  }
}

// A worker (or the bridge) that must answer a request, as the registry names it.
struct Member {
  std::uint16_t producer;
  shm::ProcessIdentity who;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
struct Bridge::Impl {
  Impl(net::io_context& ctx, BridgeOptions o)
      : io(ctx), options(std::move(o)), notify(ctx), tick(ctx), hold_timer(ctx), due_timer(ctx) {}

  net::io_context& io;
  BridgeOptions options;
  // The URL as the bridge's lines show it (its password hidden).
  const char* url_shown() const { return url_shown_.c_str(); }
  const std::string url_shown_ = shown_url(options.url);
  std::optional<shm::Segment> segment;
  std::optional<shm::RingWriter> writer;
  std::optional<shm::RingReader> reader;
  // With a ring per worker (BridgeOptions::ring_per_worker): a reader on every worker's ring,
  // whose records name their writer as on the wire (cluster::WorkerRings::writer_of).
  cluster::WorkerRings rings;
  std::unique_ptr<shm::RingNotifier> notifier;
  net::posix::stream_descriptor notify;
  net::steady_timer tick;        // once a second: metrics, the unsent line; every 100 ms: liveness
  net::steady_timer hold_timer;  // flow control: every millisecond while Redis is not read
  // When requests fall due (an incoming one's count_by and deadline, an outgoing one's deadline):
  // a min-heap of (time, incoming id or outgoing id), the timer armed at its top. An entry of a
  // request settled before its time stays until it comes to the top, or the heap is rebuilt
  // (past four entries per request pending and 64 entries); one whose id was taken again by a newer
  // request settles that one only if it is due (settle_incoming looks). Before 2026-12-06 only
  // the 100 ms tick completed requests at their time: a broadcast's count due at four fifths of
  // a requester's timeout under about 500 ms could come after the requester gave up.
  struct Due {
    Clock::time_point at;
    std::uint64_t in = 0;  // an incoming request's ring id, or
    std::string out;       // an outgoing one's Redis id
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::vector<Due> dues;
  Clock::time_point due_armed = Clock::time_point::max();
  net::steady_timer due_timer;
  std::optional<shm::WorkerBoard> board;
  std::string retired;            // earlier bridges' counters (cluster::retired_counters)
  bool carried_cut_said = false;  // (those cut to fit its post: said once)
  std::shared_ptr<Client> pub, sub;
  BridgeStats stats;
  bool stopped = false;
  // Expires with this Impl. The timers' and the notifier's handlers look at it before anything
  // else: one whose wait had already ended when the Bridge was destroyed (from a handler run
  // before it in the same turn: the io_context goes on) runs with no error code, stop()'s cancel
  // too late for it.
  std::shared_ptr<bool> lifetime = std::make_shared<bool>(true);
  std::set<std::string> namespaces;  // subscribed
  std::uint64_t unsent_said = 0;
  Clock::time_point last_unsent_line{};
  // Starts at 30 random bits, as a worker's ack ids do (socketio::Server::next_ack_id): a bridge
  // restarted while sockets still hold acks of its predecessor's fleet broadcasts (up to the
  // asker's timeout) does not hand out their ids again. (From 1 until 2026-12-05: a new
  // broadcast's ack replaced the old one's pending entry on a socket, and the client's late
  // answer to the old one completed the new; found by a review.)
  std::uint64_t next_id = std::random_device{}() & 0x3FFFFFFFu;

  // --- the fleet's requests, answered for every worker (ring request id -> what is collected)
  struct Incoming {
    fleet::ClassicRequestType type = fleet::ClassicRequestType::all_rooms;
    std::string nsp, redis_id;
    std::string requester;                       // its uid (sharded: answered on its channel)
    std::vector<Member> waiting;                 // workers still to answer
    std::map<std::uint16_t, std::size_t> parts;  // fetch, allRooms: parts still to come per worker
    std::set<sio::Room> rooms;                   // all_rooms
    json::array sockets;                         // fetch
    std::uint64_t client_count = 0;              // broadcast with acks
    bool answered = false;  // server-side emit: the first answer is the host's; one socket's look
    std::string sid;        // one socket's look (a join, leave or disconnect of the older form)
    bool counted = false;   // broadcast with acks: the count was sent; acks relayed until deadline
    Clock::time_point deadline;
    // Broadcast with acks: the count goes by then with the workers' counts that came (four fifths
    // of the requester's timeout), while the requester still waits for it; acks are relayed
    // until `deadline`. (Before 2026-12-05 a silent worker held it to the requester's whole
    // timeout: it came after the requester had given up, and its emitWithAck failed with every
    // client's ack in; found by a review.)
    Clock::time_point count_by;
    // Workers whose counts were not in the count sent: their acks are not relayed (the
    // requester's count has no room for them: they could complete it in the place of counted
    // ones).
    std::vector<std::uint16_t> uncounted;
    // Broadcast with acks: the workers whose counts came (read, or said again in a reply to a
    // check), and the acks relayed before the count was sent from workers whose counts had not
    // (a worker says its count before any ack: its count lost to a lap, or never published), by
    // worker. Those are added to the count sent, and once it is sent only the acks of workers
    // whose counts came are relayed: the member is never told fewer clients than the acks it
    // gets (a worker dropped from `waiting` before its last acks were read — found dead by the
    // tick — had them relayed beyond the count).
    std::set<std::uint16_t> count_came;
    std::map<std::uint16_t, std::uint64_t> acked_uncounted;  // (its count come: erased)
    // Where its request went in the shared ring (placed: once written): a worker lapped over
    // that position (its LAPPED) never read it, and is not waited for.
    std::uint64_t position = 0;
    bool placed = false;
  };
  std::unordered_map<std::uint64_t, Incoming> incoming;
  // Where the bridge's last record went in the shared ring (place() notes it for a request).
  std::uint64_t last_published = 0;
  void place(std::uint64_t id) {
    if (auto it = incoming.find(id); it != incoming.end()) {
      it->second.position = last_published;
      it->second.placed = true;
    }
  }

  // --- a worker's request relayed to the fleet (Redis request id -> its state)
  struct Outgoing {
    fleet::ClassicRequestType type;
    std::string nsp;
    std::uint64_t ring_id = 0;            // the worker's request id (or the broadcast's ack id)
    std::uint16_t to = 0;                 // the worker's producer
    std::optional<std::size_t> expected;  // fleet servers that answer (NUMSUB - 1)
    std::size_t answers = 0;
    json::array sockets;             // fetch
    std::size_t buffer_bytes = 0;    // fetch: the binary bytes of its sockets, as Buffers
    std::size_t socket_bytes = 0;    // fetch: its sockets' JSON text (fleet_answer's bound)
    std::size_t left_out = 0;        // fetch: sockets left out as they came, past that bound
    std::uint64_t client_count = 0;  // broadcast with acks
    bool counted = false;  // broadcast with acks: the count was sent; acks relayed until deadline
    std::uint64_t given = 0;  // answers relayed to the worker so far (a check's reply says it)
    Clock::time_point deadline;
  };
  std::unordered_map<std::string, Outgoing> outgoing;
  // Of those two, the broadcasts whose counts were sent and whose acks are relayed until their
  // requester's timeout (up to kMaxAckWait): not counted against max_pending_requests, which
  // bounds requests still waiting for answers (a minute-long ack wait at a few hundred broadcasts
  // a second would fill it and refuse every other request); bounded by it on their own (past it a
  // broadcast's acks after its count are not relayed, said as a refusal).
  std::size_t relaying_in = 0, relaying_out = 0;

  // ------------------------------------------------------------------------------------------
  bool sharded() const { return options.mode == FleetMode::sharded; }
  fleet::SubscriptionMode subscription() const {
    return options.subscription == ShardedSubscription::static_ ? fleet::SubscriptionMode::static_
           : options.subscription == ShardedSubscription::dynamic
               ? fleet::SubscriptionMode::dynamic
               : fleet::SubscriptionMode::dynamic_private;
  }
  bool room_channels() const {
    return sharded() && options.subscription != ShardedSubscription::static_;
  }
  fleet::ClassicChannels channels(const std::string& nsp) const {
    return fleet::classic_channels(options.key, nsp);
  }
  fleet::ShardedChannels shard_channels(const std::string& nsp) const {
    return fleet::sharded_channels(options.key, nsp);
  }
  // What arrives on a subscribed channel (or pattern): its namespace and what it carries, looked
  // up once per message.
  enum class Carries { broadcast, request, response, shard_message, shard_response };
  struct Route {
    std::string nsp;
    Carries carries;
  };
  std::unordered_map<std::string, Route> routes;
  // Sharded: the namespaces whose messages each channel carries. One channel may be two
  // namespaces': room R of namespace N and the main channel of namespace "N#R" are both
  // `${prefix}#N#R#` (as in Node, whose adapters each take from it their own namespace's
  // messages). Subscribed while any holds it; a message is taken for the namespace it names if
  // that one holds the channel (before 2026-12-06 one route per channel: the later holder took
  // it, the other's messages were refused as another namespace's, and either one's end
  // unsubscribed the channel the other still needed; a review).
  std::unordered_map<std::string, std::set<std::string>> shard_holders;
  void hold_shard(const std::string& channel, const std::string& nsp) {
    auto& holders = shard_holders[channel];
    const bool first = holders.empty();
    holders.insert(nsp);
    if (!first) return;
    routes.try_emplace(channel, Route{nsp, Carries::shard_message});
    sub->ssubscribe(channel);
  }
  void release_shard(const std::string& channel, const std::string& nsp) {
    auto it = shard_holders.find(channel);
    if (it == shard_holders.end() || it->second.erase(nsp) == 0 || !it->second.empty()) return;
    shard_holders.erase(it);
    // (A channel that is also a namespace's own response channel stays: its route is that.)
    auto r = routes.find(channel);
    if (r != routes.end() && r->second.carries != Carries::shard_message) return;
    if (r != routes.end()) routes.erase(r);
    sub->sunsubscribe(channel);
    refused_subs.erase({"SSUBSCRIBE", channel});  // (not asked again for a channel let go)
  }
  void subscribe(const std::string& nsp) {
    if (!namespaces.insert(nsp).second) return;
    if (sharded()) {
      const auto ch = shard_channels(nsp);
      routes[ch.own_response(options.uid)] = {nsp, Carries::shard_response};
      sub->ssubscribe(ch.own_response(options.uid));
      hold_shard(ch.main, nsp);
      return;
    }
    const auto ch = channels(nsp);
    routes[ch.pattern] = {nsp, Carries::broadcast};
    routes[ch.request] = {nsp, Carries::request};
    routes[ch.response] = {nsp, Carries::response};
    routes[ch.own_response(options.uid)] = {nsp, Carries::response};
    sub->psubscribe(ch.pattern);
    sub->subscribe(ch.request);
    sub->subscribe(ch.response);
    sub->subscribe(ch.own_response(options.uid));
  }
  // The namespaces each worker said it has (its last announcement), by worker index: a
  // namespace no worker has any more (removed by cleanup_empty_child_namespaces) is unsubscribed,
  // so that dynamic namespaces coming and going do not grow the subscriptions for good. A dead
  // worker's stay until its successor says its own.
  std::map<int, std::set<std::string>> worker_namespaces;
  // Names said without a worker index this bridge knows (an older writer, or a cluster of more
  // workers than it was told): subscribed for good.
  std::set<std::string> pinned_namespaces;
  // Names no worker has, whose unsubscription waits for the bridge's requests in them to end
  // (their answers come on the namespace's response channels): tried again every tick.
  std::set<std::string> unsubscribe_later;
  bool namespace_held(const std::string& n) const {
    if (pinned_namespaces.count(n) != 0) return true;
    for (const auto& [w, names] : worker_namespaces)
      if (names.count(n) != 0) return true;
    return false;
  }
  // `complete` false: the worker left names out of its announcement (over its bound in the
  // ring), which then holds the first of its names in their order (those after the last said
  // left out; a name too large for a record, never said, skipped): those said are taken, those
  // it said before that come after the last said are kept, the others let go as gone. (Kept
  // whole, a worker over its bound for good, its dynamic namespaces coming and going, grew the
  // subscriptions without end; a review.)
  void namespaces_said(int worker, std::set<std::string> now, bool complete = true) {
    for (const std::string& n : now) subscribe(n);
    if (!complete) {
      const std::set<std::string>& had = worker_namespaces[worker];
      for (auto it = now.empty() ? had.begin() : had.upper_bound(*now.rbegin()); it != had.end();
           ++it)
        now.insert(*it);
    }
    std::set<std::string> before = std::exchange(worker_namespaces[worker], std::move(now));
    for (const std::string& n : before)
      if (!namespace_held(n)) unsubscribe(n);
  }
  void unsubscribe_due() {
    for (auto it = unsubscribe_later.begin(); it != unsubscribe_later.end();) {
      const std::string n = *it;
      it = unsubscribe_later.erase(it);
      if (!namespace_held(n)) unsubscribe(n);  // (again in the set if still waited for)
    }
  }
  void unsubscribe(const std::string& nsp) {
    for (const auto& [id, o] : outgoing)
      if (o.nsp == nsp) {
        unsubscribe_later.insert(nsp);
        return;
      }
    if (namespaces.erase(nsp) == 0) return;
    const auto drop = [this](const char* kind, const std::string& name) {
      routes.erase(name);
      refused_subs.erase({kind, name});
    };
    if (sharded()) {
      const auto ch = shard_channels(nsp);
      release_shard(ch.main, nsp);
      sub->sunsubscribe(ch.own_response(options.uid));
      drop("SSUBSCRIBE", ch.own_response(options.uid));
      return;
    }
    const auto ch = channels(nsp);
    sub->punsubscribe(ch.pattern);
    drop("PSUBSCRIBE", ch.pattern);
    for (const std::string& c : {ch.request, ch.response, ch.own_response(options.uid)}) {
      sub->unsubscribe(c);
      drop("SUBSCRIBE", c);
    }
  }
  // Sharded, dynamic modes: the channel of every room a worker has (a room a Node member
  // publishes to alone goes to its own channel), subscribed while any worker has the room.
  std::map<std::pair<std::string, std::string>, std::set<int>> room_workers;
  // The process that last said each worker's rooms (by worker index): a worker's WORKER_DOWN
  // drops its rooms only if they are still that process's — with a ring per worker, a successor's
  // rooms may be read before its predecessor's WORKER_DOWN.
  std::map<int, pid_t> rooms_said_by;
  pid_t pid_of(std::uint16_t producer) const {
    return producer < segment->max_producers()
               ? shm::registry::owner_of(segment->producer_slot(producer)).pid
               : 0;
  }
  void rooms_said(int worker, std::uint16_t producer) {
    if (producer < segment->max_producers()) rooms_said_by[worker] = pid_of(producer);
  }
  void room_held(const std::string& nsp, const std::string& room, int worker, bool held) {
    const auto key = std::make_pair(nsp, room);
    auto& ws = room_workers[key];
    const bool was = !ws.empty();
    if (held)
      ws.insert(worker);
    else
      ws.erase(worker);
    const std::string channel = shard_channels(nsp).room(room);
    // A room named as this bridge's uid has its response channel for its own (`${prefix}#${nsp}#
    // ${uid}#`): left as it is, its route and its subscription, or the room's end unsubscribed it
    // and the bridge heard no answer to its workers' requests until it restarted (before
    // 2026-12-05; found by a review; the uid is in every message it publishes). A member's
    // message to that room is taken for a response there, as a Node member takes it on its own.
    if (channel == shard_channels(nsp).own_response(options.uid)) {
      if (ws.empty()) room_workers.erase(key);
      return;
    }
    if (!was && !ws.empty()) hold_shard(channel, nsp);
    if (ws.empty()) {
      if (was) release_shard(channel, nsp);
      room_workers.erase(key);
    }
  }
  // Every worker says its namespaces (and, for a dynamic sharded bridge, its rooms, and from
  // then on each room it creates or deletes).
  // A worker's rooms said in parts (announce_namespaces), gathered until the last.
  // (`pid`: the process whose announcement it is, so that a worker's death drops its own and
  // not a successor's, which with a ring per worker may already have begun.)
  struct RoomParts {
    std::uint64_t parts = 0, next = 0;
    std::set<std::pair<std::string, std::string>> rooms;
    pid_t pid = 0;
  };
  std::map<int, RoomParts> room_parts;
  struct NameParts {
    std::uint64_t parts = 0, next = 0;
    std::set<std::string> names;
    pid_t pid = 0;
  };
  std::map<int, NameParts> name_parts;  // (a worker's names said in parts: gathered to the last)
  Clock::time_point asked_after_lap{};
  bool ask_after_lap_due = false;
  void ask_after_lap() {
    const auto now = Clock::now();
    if (now - asked_after_lap < std::chrono::seconds(1)) {
      ask_after_lap_due = true;  // (the tick asks once the second is over)
      return;
    }
    asked_after_lap = now;
    ask_after_lap_due = false;
    ask_namespaces();
  }
  void ask_namespaces() {
    json::object ask;
    if (room_channels())
      ask["rooms"] =
          options.subscription == ShardedSubscription::dynamic_private ? "all" : "public";
    ring_publish(MessageType::namespaces_request, cluster::write_message(ask));
  }
  void worker_rooms_gone(int worker) {
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto& [k, ws] : room_workers)
      if (ws.count(worker) != 0) keys.push_back(k);
    for (const auto& [nsp, room] : keys) room_held(nsp, room, worker, false);
  }
  // PUBLISH, or counted as unsent while Redis is unreachable (not queued: a broadcast delivered
  // seconds late is worse than one counted as lost).
  // (`taken`: a counter of what Redis took, counted at its reply.)
  bool publish(const std::string& channel, std::string payload, std::uint64_t* taken = nullptr) {
    if (!pub->connected()) {
      ++stats.unsent;
      return false;
    }
    // Sent but lost with the connection (its reply an error): counted too.
    pub->command({sharded() ? "SPUBLISH" : "PUBLISH", channel, std::move(payload)},
                 [this, taken](const Reply& r) {
                   if (r.is_error())
                     ++stats.unsent;
                   else if (taken != nullptr)
                     ++*taken;
                 });
    return true;
  }

  std::vector<Member> live_workers() const {
    std::vector<Member> out;
    for (std::uint16_t i = 0; i < segment->max_producers(); ++i) {
      const auto& slot = segment->producer_slot(i);
      if (slot.state.load(std::memory_order_acquire) != shm::layout::kSlotActive) continue;
      if (std::strncmp(slot.label, "worker-", 7) != 0) continue;
      const shm::ProcessIdentity who = shm::registry::owner_of(slot);
      if (shm::liveness(who) == shm::Liveness::alive) out.push_back({i, who});
    }
    return out;
  }
  bool alive(const Member& m) const {
    const auto& slot = segment->producer_slot(m.producer);
    return slot.state.load(std::memory_order_acquire) == shm::layout::kSlotActive &&
           shm::registry::owner_of(slot) == m.who && shm::liveness(m.who) == shm::Liveness::alive;
  }
  // An id for a ring request, also the ack id its clients answer: stride - 1 modulo the workers'
  // stride (cluster::ack_id_stride), never a worker's, which is its index; at most 2^31 - 1, as a
  // worker's (socketio::kMaxAckId: some clients read ids into a 32-bit int; up to 2^52
  // before 2026-12-05).
  // (Ids wrap: one a fleet request still waits under is passed over, up to 16 times, as a worker's
  // broadcast with acks passes over its own. Taken again, the new request was not tracked
  // (incoming.emplace kept the old one) and the old one's waiters were cleared; before 2026-12-05,
  // found by a review.)
  std::uint64_t ring_id() {
    const std::uint64_t stride = cluster::ack_id_stride(options.workers);
    const std::uint64_t base = stride - 1;
    const auto draw = [&] {
      return base + stride * (next_id++ % ((socketio::kMaxAckId - base) / stride + 1));
    };
    std::uint64_t id = draw();
    for (int tries = 0; tries < 16 && incoming.count(id) != 0; ++tries) id = draw();
    return id;
  }

  // ------------------------------------------------------------------------------------------
  // The ring.
  // The ring is read once Redis is reached the first time (or after 3 s without it): a restarted
  // bridge resumes with what the workers published while it was down, and sends it rather than
  // counting it as unsent for want of a connection.
  bool reading = false;
  void start_reading() {
    if (reading || stopped) return;
    reading = true;
    notify.assign(::fcntl(notifier->fd(), F_DUPFD_CLOEXEC, 0));
    wait_notify();
    drain();
  }
  void wait_notify() {
    notify.async_wait(
        net::posix::descriptor_base::wait_read,
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired() || stopped) return;
          notifier->drain();
          drain();
          wait_notify();
        });
  }
  void drain() {
    // (The workers' rings with a ring per worker, then the shared one.)
    rings.drain(
        *reader,
        [this](shm::RingReader& r, cluster::WorkerRings::Ring* from) {
          return read_batch(r, from);
        },
        [this] { return stopped; });
  }
  // One poll() of `r` (`from`: the worker ring it reads, nullptr for the shared ring); false if
  // there was nothing.
  bool read_batch(shm::RingReader& r, cluster::WorkerRings::Ring* from) {
    // A lap loses what the ring's last RING_OWNER said: forgotten before this batch's records
    // are named (poll() says its losses before it hands over the first record).
    bool looked = false;
    // And what was gathered of announcements in parts from that ring is dropped: their lost parts
    // may be among the losses, and a later announcement's part could otherwise continue an
    // earlier one's (a review, 2026-12-06). (A worker's own ring: that worker's; the shared
    // ring: every worker's, unless each writes into a ring of its own.)
    auto lap_seen = [&] {
      if (looked) return;
      looked = true;
      if (r.last_loss().records == 0) return;
      if (from != nullptr) {
        cluster::WorkerRings::lapped(*from);
        name_parts.erase(from->worker);
        room_parts.erase(from->worker);
      } else if (!options.ring_per_worker) {
        name_parts.clear();
        room_parts.clear();
      }
    };
    // What was lost is said to the workers too (LAPPED): [where the reader was, where it
    // resumed), so that their requests written there wait for no answer of the bridge's.
    const std::uint64_t was_at = r.position();
    std::optional<std::uint64_t> resumed;  // (the first record read in this call)
    const std::size_t n = r.poll([&](const shm::RecordView& v) {
      lap_seen();
      if (!resumed) resumed = v.position;
      if (from == nullptr) {
        if (v.producer != writer->id()) on_record(v.type, v.producer, v.payload);
      } else if (v.type == static_cast<std::uint16_t>(MessageType::ring_owner)) {
        cluster::WorkerRings::owner_said(*from, v.producer, v.payload);
      } else if (v.type != static_cast<std::uint16_t>(MessageType::worker_down)) {
        // (A WORKER_DOWN is the supervisor's, on the shared ring only.)
        on_record(v.type, rings.writer_of(*segment, *from, v.producer), v.payload);
      }
    });
    if (r.last_loss().records != 0) {
      lap_seen();
      const std::uint64_t to = resumed ? *resumed : r.position();
      if (to > was_at)
        (void)ring_publish(
            MessageType::lapped,
            cluster::write_message(
                {{"ring", from != nullptr ? from->worker : -1}, {"from", was_at}, {"to", to}}));
      // (The workers' answers to the fleet's requests it lost with it: asked about.)
      want_check();
      stats.unsent += r.last_loss().records;
      std::fprintf(stderr, "shmio[bridge]: lapped by %s: %llu records not published\n",
                   from == nullptr ? "the ring" : "a worker's ring",
                   static_cast<unsigned long long>(r.last_loss().records));
      // (A worker's NAMESPACES or ROOM_CHANGED may be among them: every worker is asked for its
      // namespaces again, and for all its rooms where rooms have channels, which replace what
      // it said. Before 2026-12-04 a room's channel stayed missing, or stayed subscribed, until
      // that worker next made a namespace or restarted, and in classic and static modes (not
      // asked then) so did a namespace's channels.) At most once a second: the answers are
      // records too (rooms: up to a quarter of the ring), and a bridge lapped again while they
      // come would ask again at once.
      ask_after_lap();
    }
    return n != 0;
  }

  // A record of the ring, handled; one whose handling throws (out of memory where the address
  // space is limited, a container's length error) is said and not published, and the records
  // after it in the batch are handled (before 2026-12-06 the exception left through the ring's
  // poll and ended the bridge, the rest of the batch lost; a review).
  void on_record(std::uint16_t type, std::uint16_t producer, std::span<const std::byte> payload) {
    try {
      handle_record(type, producer, payload);
    } catch (const std::exception& e) {
      refuse_out("a record of the ring", std::string("its handling failed: ") + e.what());
    }
  }
  // What goes out to the fleet with binary data may name each attachment at most as often as
  // makes the ring's largest record's bytes in all (fleet::node_buffer_bytes: as msgpack binaries
  // or JSON Buffers, each placeholder its attachment's bytes again): a message whose attachments
  // are each named once came in one record and fits; a client's packet that names one attachment
  // thousands of times (the Socket.IO parser takes it, as socket.io-parser does) made the bridge
  // build gigabytes before 2026-12-06 (a review). Over it, not published (counted unsent, said).
  bool fits_fleet(const json::value& v, const std::vector<sio::Binary>& attachments,
                  const char* what) {
    if (attachments.empty()) return true;
    const std::size_t bytes = fleet::node_buffer_bytes(v, attachments);
    if (bytes <= segment->max_record()) return true;
    refuse_out(what, "its placeholders name " + std::to_string(bytes) +
                         " bytes of binary data, over the ring's largest record (" +
                         std::to_string(segment->max_record()) + ")");
    return false;
  }
  // fits_fleet for a request's binary data: a broadcast's, a server-side emit's.
  bool fits_out(const fleet::ClassicRequest& r) {
    if (r.type == fleet::ClassicRequestType::broadcast && r.packet.data)
      return fits_fleet(*r.packet.data, r.packet.attachments, "a broadcast");
    if (r.type == fleet::ClassicRequestType::server_side_emit)
      return fits_fleet(json::value(r.data), r.attachments, "a server-side emit");
    return true;
  }
  // An outgoing request ends by the request timeout at the latest (its count or its PUBLISH lost
  // with the link: what came by then is the answer).
  void end_by_request_timeout(const std::string& id, Outgoing& o) {
    if (const auto by = Clock::now() + options.request_timeout; by < o.deadline) {
      o.deadline = by;
      due_at(by, 0, id);
    }
  }
  void refuse_out(const std::string& what, const std::string& why) {
    ++stats.unsent;
    const auto now = Clock::now();
    if (now - last_refused_out_line < std::chrono::seconds(1)) return;
    last_refused_out_line = now;
    std::fprintf(stderr, "shmio[bridge]: %s not published: %s\n", what.c_str(), why.c_str());
  }
  Clock::time_point last_refused_out_line{};

  void handle_record(std::uint16_t type, std::uint16_t producer,
                     std::span<const std::byte> payload) {
    const auto t = static_cast<MessageType>(type);
    if (t == MessageType::broadcast) {
      auto b = cluster::read_broadcast(payload);
      if (!b) return;
      if ((b->flags & cluster::kFlagFromFleet) != 0) return;
      out_broadcast(*b, producer);
      return;
    }
    auto m = cluster::read_message(payload);
    if (!m) return;
    const json::object& body = m->body;
    if (const json::value* f = body.if_contains("fleet"); f && f->is_bool() && f->get_bool())
      return;  // written here from the fleet
    const std::string nsp = body.contains("nsp") ? str_of(body, "nsp") : "/";
    const bool for_me = body.contains("to") && u64_of(body, "to") == writer->id();
    const std::uint64_t rid = u64_of(body, "requestId");
    switch (t) {
      case MessageType::namespaces: {
        // (In parts, "part" i of "parts" n, when the names, or the names and the rooms, are more
        // than half a record: the names are gathered from every part that has some and taken
        // together at the last, as the rooms below. A part out of order — one lost to a lap,
        // which asks again — drops what was gathered. Before 2026-12-06 the names came in one
        // record, the first: past the ring's largest record none was published.)
        const std::uint64_t parts = body.contains("parts") ? u64_of(body, "parts") : 1;
        const std::uint64_t part = body.contains("part") ? u64_of(body, "part") : 0;
        const json::value* n = body.if_contains("nsps");
        const json::value* who = body.if_contains("worker");
        const json::value* left_out = body.if_contains("nsps_incomplete");
        const bool complete = left_out == nullptr || !left_out->is_bool() || !left_out->get_bool();
        const bool known = who != nullptr && who->is_int64() && who->get_int64() >= 0 &&
                           who->get_int64() < std::max(1, options.workers);
        std::set<std::string> names;
        if (n != nullptr && n->is_array())
          for (const auto& e : n->get_array())
            if (e.is_string()) names.emplace(e.get_string());
        if (known && parts > 1) {
          const int w = static_cast<int>(who->get_int64());
          NameParts& g = name_parts[w];
          if (part == 0) g = NameParts{parts, 0, {}, pid_of(producer)};
          if (g.parts != parts || g.next != part) {
            name_parts.erase(w);
          } else {
            g.names.merge(names);
            if (++g.next == parts) {
              namespaces_said(w, std::move(g.names), complete);
              name_parts.erase(w);
            }
          }
        } else if (n != nullptr && n->is_array()) {
          if (known)
            namespaces_said(static_cast<int>(who->get_int64()), std::move(names), complete);
          else
            for (const std::string& name : names) {
              pinned_namespaces.insert(name);
              subscribe(name);
            }
        }
        // (sharded, dynamic: the worker's rooms, all of them: what it said before is replaced)
        const json::value* rooms = body.if_contains("rooms");
        if (!room_channels()) break;
        const int w = static_cast<int>(u64_of(body, "worker"));
        if (rooms == nullptr || !rooms->is_object()) {
          // A worker that says its rooms as they change (a namespace made or removed): what it
          // said stands.
          if (const json::value* telling = body.if_contains("telling");
              telling && telling->is_bool() && telling->get_bool())
            break;
          // A worker that started after the bridge asked (or restarted): asked again (once, at
          // the last of its parts).
          if (part + 1 >= parts) ask_namespaces();
          break;
        }
        // Its rooms now: those new held first, then those it no longer has let go, so that a
        // room it still has keeps its subscription (before 2026-12-03 every one was dropped and
        // made again: SUNSUBSCRIBE, then SSUBSCRIBE in a later write, between which Redis could
        // deliver a member's broadcast to no one here; at every worker's start, every worker
        // says its rooms again).
        std::set<std::pair<std::string, std::string>> now;
        // (In parts, as the names above: gathered until the last, then taken together.)
        if (parts > 1) {
          RoomParts& g = room_parts[w];
          if (part == 0) g = RoomParts{parts, 0, {}, pid_of(producer)};
          if (g.parts != parts || g.next != part) {
            room_parts.erase(w);
            break;
          }
          for (const auto& [name, list] : rooms->get_object())
            for (const auto& r : rooms_of(&list)) g.rooms.emplace(std::string(name), r);
          if (++g.next < parts) break;
          now = std::move(g.rooms);
        } else {
          for (const auto& [name, list] : rooms->get_object())
            for (const auto& r : rooms_of(&list)) now.emplace(std::string(name), r);
        }
        room_parts.erase(w);
        for (const auto& [in, room] : now) room_held(in, room, w, true);
        // (A worker whose rooms were over its bound says "incomplete": what it said is added and
        // nothing is let go, since a room it left out may be one it still has.)
        const json::value* incomplete = body.if_contains("incomplete");
        if (incomplete == nullptr || !incomplete->is_bool() || !incomplete->get_bool()) {
          std::vector<std::pair<std::string, std::string>> gone;
          for (const auto& [key, ws] : room_workers)
            if (ws.count(w) != 0 && now.count(key) == 0) gone.push_back(key);
          for (const auto& [in, room] : gone) room_held(in, room, w, false);
        }
        rooms_said(w, producer);
        break;
      }
      case MessageType::room_changed:
        if (room_channels()) {
          const json::value* c = body.if_contains("created");
          const int w = static_cast<int>(u64_of(body, "worker"));
          rooms_said(w, producer);
          room_held(nsp, str_of(body, "room"), w, c != nullptr && c->is_bool() && c->get_bool());
        }
        break;
      case MessageType::sockets_join:
      case MessageType::sockets_leave:
      case MessageType::disconnect_sockets: {
        fleet::ClassicRequest r;
        r.type = t == MessageType::sockets_join    ? fleet::ClassicRequestType::remote_join
                 : t == MessageType::sockets_leave ? fleet::ClassicRequestType::remote_leave
                                                   : fleet::ClassicRequestType::remote_disconnect;
        r.uid = options.uid;
        if (const json::value* o = body.if_contains("opts"); o && o->is_object())
          r.opts = cluster::options_from_json(o->get_object());
        r.rooms = rooms_of(body.if_contains("rooms"));
        if (const json::value* c = body.if_contains("close"); c && c->is_bool())
          r.close = c->get_bool();
        send_request(nsp, r);
        break;
      }
      case MessageType::server_side_emit: {
        fleet::ClassicRequest r;
        r.type = fleet::ClassicRequestType::server_side_emit;
        r.uid = options.uid;
        r.data.emplace_back(str_of(body, "event"));
        if (const json::value* a = body.if_contains("args"); a && a->is_array())
          for (const auto& e : a->get_array()) r.data.push_back(e);
        r.attachments = m->blobs;  // (binary arguments: before 2026-12-03 left behind)
        if (rid == 0) {
          if (fits_out(r)) send_request(nsp, r);
        } else {
          request_fleet(std::move(r), nsp, rid, producer);
        }
        break;
      }
      case MessageType::fetch_sockets: {
        fleet::ClassicRequest r;
        r.type = fleet::ClassicRequestType::remote_fetch;
        r.uid = options.uid;
        if (const json::value* o = body.if_contains("opts"); o && o->is_object())
          r.opts = cluster::options_from_json(o->get_object());
        request_fleet(std::move(r), nsp, rid, producer);
        break;
      }
      // Answers of the workers to a fleet request.
      case MessageType::fetch_sockets_response:
      case MessageType::server_side_emit_response:
      case MessageType::broadcast_client_count:
      case MessageType::broadcast_ack:
      case MessageType::all_rooms_response:
        if (for_me) worker_answer(t, rid, producer, body, m->blobs);
        break;
      case MessageType::worker_down: {
        const std::uint64_t said_pid = u64_of(body, "pid");
        const auto pid = static_cast<pid_t>(said_pid);
        // (Said by another writer than the supervisor, or naming a pid out of range, it is no
        // death: applied, it dropped a live worker's rooms and answers; before 2026-12-05.
        // Counted as a bad message.)
        const auto supervisor = [&] {
          if (producer >= segment->max_producers()) return false;
          const auto& slot = segment->producer_slot(producer);
          return std::string_view(slot.label, ::strnlen(slot.label, sizeof slot.label)) ==
                 "supervisor";
        };
        if (!supervisor() || said_pid == 0 ||
            said_pid > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) {
          ++stats.bad_messages;
          break;
        }
        // With a ring per worker, what that worker said before it died first (its ring up to its
        // tail now), as on one ring.
        const int worker = static_cast<int>(u64_of(body, "worker"));
        rings.read_before_death(
            worker,
            [this](shm::RingReader& r, cluster::WorkerRings::Ring* from) {
              return read_batch(r, from);
            },
            [this] { return stopped; });
        if (stopped) return;
        // (What it said in parts and did not finish is dropped: its successor starts again. Not
        // a successor's, which with a ring per worker may have begun already.)
        if (auto it = name_parts.find(worker); it != name_parts.end() && it->second.pid == pid)
          name_parts.erase(it);
        if (auto it = room_parts.find(worker); it != room_parts.end() && it->second.pid == pid)
          room_parts.erase(it);
        // (Its rooms, unless a successor has said its own since: a ring per worker.)
        if (room_channels()) {
          auto said = rooms_said_by.find(worker);
          if (said == rooms_said_by.end() || said->second == pid) {
            worker_rooms_gone(worker);
            rooms_said_by.erase(worker);
          }
        }
        // (By its start time too where the supervisor said it: a process that took the same pid
        // since is not the dead one.)
        const std::uint64_t start = u64_of(body, "start");
        for (auto& [id, in] : incoming)
          std::erase_if(in.waiting, [pid, start](const Member& w) {
            return w.who.pid == pid && (start == 0 || w.who.start_time == start);
          });
        settle();
        break;
      }
      case MessageType::answers_check: {
        // A lapped worker asks which of its requests it is still owed answers for (cluster's
        // ANSWERS_CHECK, docs/cluster.md): those it asked the fleet that are still here, with
        // the answers relayed so far and, a broadcast's count sent, the count. The reply comes
        // after every answer relayed, in the shared ring, as a worker's does.
        const auto check = cluster::read_answers_check(body);
        if (!check) {
          ++stats.bad_messages;
          break;
        }
        // (Of two for one id — a worker restarted into the same slot while its predecessor's
        // broadcast still has acks relayed —, the newer, whose deadline is later.)
        std::map<std::uint64_t, const Outgoing*> of_it;
        for (const auto& [id, o] : outgoing) {
          if (o.to != producer) continue;
          auto [it, fresh] = of_it.try_emplace(o.ring_id, &o);
          if (!fresh && it->second->deadline < o.deadline) it->second = &o;
        }
        json::array owed;
        for (const std::uint64_t asked : check->requests) {
          auto it = of_it.find(asked);
          if (it == of_it.end()) continue;
          json::object e{{"requestId", asked}, {"given", it->second->given}};
          if (it->second->counted) e["clients"] = it->second->client_count;
          owed.emplace_back(std::move(e));
        }
        (void)ring_publish(
            MessageType::answers_owed,
            cluster::write_message(
                {{"to", producer}, {"check", check->check}, {"owed", std::move(owed)}}));
        break;
      }
      case MessageType::answers_owed: {
        // A worker's reply to the bridge's own check (after its lap), below.
        if (!for_me) break;
        const auto owed = cluster::read_answers_owed(body);
        if (!owed) {
          ++stats.bad_messages;
          break;
        }
        take_answers_owed(producer, owed->check, owed->owed);
        break;
      }
      case MessageType::lapped: {
        // A worker that never read [from, to) of a ring (cluster's LAPPED): the fleet requests
        // the bridge wrote there (the shared ring, "ring": -1) wait for nothing of it, as for a
        // dead one's. (Malformed: counted as a bad message.)
        const auto lap = cluster::read_lapped(body, options.ring_per_worker, options.workers);
        if (!lap) {
          ++stats.bad_messages;
          break;
        }
        if (lap->ring != -1) break;
        bool dropped = false;
        for (auto& [id, in] : incoming)
          if (in.placed && in.position >= lap->from && in.position < lap->to)
            dropped |= std::erase_if(in.waiting, [producer](const Member& w) {
                         return w.producer == producer;
                       }) != 0;
        if (dropped) settle();
        break;
      }
      default:
        break;
    }
  }

  // A broadcast of a worker (or a ring emitter) to the fleet.
  void out_broadcast(const cluster::BroadcastView& b, std::uint16_t producer) {
    sio::Packet p;
    // (The server's own frame, read back: not with a client's bounds, 10 attachments and depth
    // 32, under which a broadcast the workers delivered never reached the fleet; as the outgoing
    // listeners read it.)
    sio::Decoder dec(
        sio::DecoderLimits{.max_attachments = std::numeric_limits<std::size_t>::max(),
                           .max_attachment_bytes = std::numeric_limits<std::size_t>::max(),
                           .max_depth = 1024});
    if (b.frame.empty() || b.frame[0] != '4') return;
    auto st = dec.feed_text(b.frame.substr(1), p);
    for (std::size_t i = 0; st == sio::Decoder::Status::need_more && i < b.attachments.size(); ++i)
      st = dec.feed_binary(std::string(b.attachments[i]), p);
    if (st != sio::Decoder::Status::packet || !p.data || !p.data->is_array()) {
      // (Not expected with these bounds: said, as a fault of the server's own frames.)
      std::fprintf(stderr,
                   "shmio-bridge: a broadcast of %s not published: its frame did not decode\n",
                   std::string(b.nsp).c_str());
      return;
    }
    // A recovery offset names a position in this host's ring: meaningless elsewhere.
    if ((b.flags & (cluster::kFlagOffset | cluster::kFlagOwnInRingOrder)) != 0 &&
        !p.data->as_array().empty())
      p.data->as_array().pop_back();
    p.nsp = std::string(b.nsp);
    sio::BroadcastOptions opts;
    for (auto r : b.rooms) opts.rooms.emplace(r);
    for (auto r : b.except) opts.except.emplace(r);
    opts.flags.volatile_ = (b.flags & cluster::kFlagVolatile) != 0;
    opts.flags.compress = (b.flags & cluster::kFlagCompress) != 0;
    opts.flags.timeout_ms = b.timeout_ms;  // (with acks: the fleet's members are told it too)
    const std::string nsp(b.nsp);
    if ((b.flags & cluster::kFlagAck) == 0) {
      p.id.reset();
      if (!fits_fleet(*p.data, p.attachments, "a broadcast")) return;
      if (sharded()) {
        fleet::ClusterMessage m;
        m.type = MessageType::broadcast;
        m.uid = options.uid;
        m.nsp = nsp;
        m.data = json::object{{"packet", fleet::packet_to_json(p)},
                              {"opts", fleet::options_to_json(opts)}};
        m.attachments = p.attachments;
        // (Counted published once Redis took it: counted at the send, one lost with the
        // connection was counted both published and unsent before 2026-12-07; a bug hunt.)
        (void)publish(shard_channels(nsp).publish_channel(MessageType::broadcast, false, opts,
                                                          subscription()),
                      fleet::encode_cluster_message(m), &stats.published);
      } else {
        (void)publish(channels(nsp).publish_channel(opts),
                      fleet::encode_classic_broadcast(options.uid, p, opts), &stats.published);
      }
      return;
    }
    // With acks: the worker counts the bridge as one responder (its client count is the fleet's).
    fleet::ClassicRequest r;
    r.type = fleet::ClassicRequestType::broadcast;
    r.uid = options.uid;
    r.opts = opts;
    r.packet = std::move(p);
    request_fleet(std::move(r), nsp, b.ack_id, producer);
  }

  // ------------------------------------------------------------------------------------------
  // A request in the sharded adapter's envelope (socket.io-adapter's ClusterAdapter messages).
  fleet::ClusterMessage to_cluster(const fleet::ClassicRequest& r, const std::string& nsp) const {
    using T = fleet::ClassicRequestType;
    fleet::ClusterMessage m;
    m.uid = options.uid;
    m.nsp = nsp;
    json::object d;
    switch (r.type) {
      case T::remote_join:
      case T::remote_leave:
        m.type = r.type == T::remote_join ? MessageType::sockets_join : MessageType::sockets_leave;
        d["opts"] = fleet::options_to_json(r.opts);
        d["rooms"] = rooms_json(r.rooms);
        break;
      case T::remote_disconnect:
        m.type = MessageType::disconnect_sockets;
        d["opts"] = fleet::options_to_json(r.opts);
        d["close"] = r.close;
        break;
      case T::remote_fetch:
        m.type = MessageType::fetch_sockets;
        d["opts"] = fleet::options_to_json(r.opts);
        break;
      case T::server_side_emit:
        m.type = MessageType::server_side_emit;
        d["packet"] = r.data;
        m.attachments = r.attachments;
        break;
      case T::broadcast:
        m.type = MessageType::broadcast;
        d["packet"] = fleet::packet_to_json(r.packet);
        d["opts"] = fleet::options_to_json(r.opts);
        m.attachments = r.packet.attachments;
        break;
      default:
        break;
    }
    if (!r.request_id.empty()) d["requestId"] = r.request_id;
    m.data = std::move(d);
    return m;
  }
  // A request that wants no answer (joins, leaves, disconnects, a server-side emit).
  // (Counted in requests_out once Redis took it; unsent if not.)
  bool send_request(const std::string& nsp, const fleet::ClassicRequest& r) {
    if (sharded())
      return publish(shard_channels(nsp).main, fleet::encode_cluster_message(to_cluster(r, nsp)),
                     &stats.requests_out);
    return publish(channels(nsp).request, fleet::encode_classic_request(r), &stats.requests_out);
  }

  // How long a request's answers are waited for and relayed: a broadcast with acks as long as its
  // requester waits (its flags.timeout, at most kMaxAckWait), as socket.io's requester keeps it
  // open; the rest (and a broadcast that says none) the request timeout. (Before 2026-12-02 every
  // one ended at the request timeout, 5 s: a client's ack after it never reached a requester
  // that had asked for 30 s; found by a review.)
  static constexpr std::chrono::minutes kMaxAckWait{10};
  // A fetchSockets (a worker's to the fleet, or a member's to this host) that says its
  // requester's timeout (socket.io's flags.timeout): the request timeout, or four fifths of the
  // requester's if that is shorter, so that what came is relayed while the requester still
  // waits (its own deadline started before this one; an answer at the same moment came too
  // late, every partial answer was lost).
  // A fetch that says none: four fifths of its requester's default — a worker's, 5 s (socket.io's
  // fetchSockets); a member's (`from_member`), the request timeout, which the operator sets to the
  // members' requestsTimeout. (Before 2026-12-03 the full request timeout, so that with one
  // member or worker slow the partial answer came after the requester had given up.)
  // A member's own wait where its request says none: the classic adapter's requestsTimeout, which
  // the operator gives as the request timeout; the sharded adapter's is fixed, 5 s
  // (socket.io-adapter's ClusterAdapter, DEFAULT_TIMEOUT), whatever the request timeout says.
  // (Before 2026-12-07 the request timeout in both modes: set to 10 s, a sharded member's
  // fetchSockets was answered at 8 s, after the member had given up; a bug hunt.)
  static constexpr std::chrono::milliseconds kShardedMemberTimeout{5000};
  Clock::duration member_timeout() const {
    return sharded() ? Clock::duration(kShardedMemberTimeout) : options.request_timeout;
  }
  Clock::duration wait_for(const fleet::ClassicRequest& r, bool from_member) const {
    const std::chrono::milliseconds said(r.opts.flags.timeout_ms);
    if (r.type == fleet::ClassicRequestType::remote_fetch) {
      if (said.count() != 0)
        return std::min<Clock::duration>(options.request_timeout, said * 4 / 5);
      if (from_member) return member_timeout() * 4 / 5;
      return std::min<Clock::duration>(options.request_timeout, std::chrono::milliseconds(4000));
    }
    // A member's allRooms and allSockets, whose partial answer is published at the deadline, are
    // answered before its own timeout too, Node's requestsTimeout, which counts from before it
    // published (before 2026-12-04 at the whole request_timeout: after the member had given
    // up). Not a serverSideEmit or a single socket's join/leave/disconnect: nothing is published
    // for them at the deadline, and an answer between it and the member's timeout still counts.
    if (from_member && (r.type == fleet::ClassicRequestType::all_rooms ||
                        r.type == fleet::ClassicRequestType::sockets))
      return member_timeout() * 4 / 5;
    if (r.type != fleet::ClassicRequestType::broadcast)
      return from_member ? member_timeout() : options.request_timeout;
    if (said.count() == 0) return options.request_timeout;
    return std::min<Clock::duration>(said, kMaxAckWait);
  }
  // A worker's request to the fleet: published with its own id; the fleet's answers counted
  // against PUBSUB NUMSUB of the request channel (sharded: SHARDNUMSUB of the main channel), less
  // this host.
  void request_fleet(fleet::ClassicRequest r, const std::string& nsp, std::uint64_t ring_id,
                     std::uint16_t to) {
    Outgoing o;
    o.type = r.type;
    o.nsp = nsp;
    o.ring_id = ring_id;
    o.to = to;
    // (Counted from when the bridge reads the request: it ends after the worker's own timeout,
    // which counts from before its publish, socketio::AckCollector::arm.)
    o.deadline = Clock::now() + wait_for(r, false);
    // (Below, the fleet's count stays unknown: a serverSideEmit's callback is told its answers
    // are missing, "operation has timed out", as the Node adapter's would be at its timeout.)
    if (!pub->connected()) {  // no fleet now: the worker gets no answers from it, at once
      ++stats.unsent;
      finish_outgoing(o);
      return;
    }
    // (Its binary data over the bound: not published, and its requester told at once, as
    // above: before 2026-12-06, the day the bound came, it waited out its whole timeout; a
    // review.)
    if (!fits_out(r)) {
      finish_outgoing(o);
      return;
    }
    if (outgoing.size() - relaying_out >= options.max_pending_requests) {  // the bound
      refused("a worker's request to the fleet");
      finish_outgoing(o);
      return;
    }
    r.request_id = engineio::random_id(6) + std::to_string(next_id++);
    const std::string id = r.request_id;
    const auto deadline = o.deadline;
    outgoing.emplace(id, std::move(o));
    due_at(deadline, 0, id);
    const std::string counted = sharded() ? shard_channels(nsp).main : channels(nsp).request;
    // Whether Redis counts this bridge among the channel's subscribers: only while its
    // subscriber link is up with the channel's subscription confirmed on it (before 2026-12-04
    // one was always taken off, as the Node adapter does: with the subscriber link down — Redis
    // closes it past its output-buffer limit — a request ended one member short, at once with
    // none when that was the only one, without an error). Left: a subscription written but not
    // yet confirmed (one round trip after a reconnect or a namespace made) that Redis has taken
    // before this count makes the request wait for one answer too many (it ends at its deadline,
    // said lost); a link closed by Redis that is not found yet (reading held) is still counted.
    const bool self_counted = sub->subscribed(sharded() ? "SSUBSCRIBE" : "SUBSCRIBE", counted);
    pub->command(
        {"PUBSUB", sharded() ? "SHARDNUMSUB" : "NUMSUB", counted},
        [this, id, self_counted](const Reply& rep) {
          auto it = outgoing.find(id);
          if (it == outgoing.end()) return;
          // (Refused, or the link lost: the count stays unknown and the request ends at
          // its deadline with what came, at most the request timeout away — a broadcast
          // with acks said minutes — so that such requests do not fill the bound; read
          // as no member, it ended at once, and a serverSideEmit's callback was told it
          // had every answer. An ACL without PUBSUB: said once a minute.)
          if (rep.is_error()) {
            end_by_request_timeout(id, it->second);
            // (The link lost: the request's PUBLISH, behind, fails too and ends it, below; no
            // refusal of PUBSUB to say.)
            if (rep.lost()) return;
            const auto now = Clock::now();
            if (!count_refusal_said || now - *count_refusal_said >= std::chrono::minutes(1)) {
              count_refusal_said = now;
              std::fprintf(stderr,
                           "shmio[bridge]: Redis %s did not count the fleet (PUBSUB: %s): "
                           "requests to it end at their timeout with what came\n",
                           url_shown(), rep.str.c_str());
            }
            return;
          }
          std::size_t n = 0;
          if (rep.type == Reply::Type::array && rep.elements.size() == 2 &&
              rep.elements[1].type == Reply::Type::integer && rep.elements[1].integer > 0)
            n = static_cast<std::size_t>(rep.elements[1].integer);
          it->second.expected = self_counted && n > 0 ? n - 1 : n;
          check_outgoing(id);
        });
    // Its PUBLISH not sent (the link lost with it queued, the queue full) or refused (an ACL): no
    // member has it, so the worker is answered at once with what came (nothing) and it is counted
    // unsent, as a broadcast's failed publish is. Before 2026-12-06 nothing saw it: the worker
    // waited out its timeout and it was counted sent (a helper's review). Written and then lost
    // with the link, members may have it and answer on the subscriber link: counted unsent too
    // (as publish() counts it), and it ends by the request timeout at the latest (a broadcast
    // with acks waited up to its own, minutes). (Counted published once Redis took it.)
    auto published = [this, id](const Reply& rep) {
      if (!rep.is_error()) {
        ++stats.requests_out;
        return;
      }
      auto it = outgoing.find(id);
      if (it == outgoing.end() || it->second.counted) return;
      if (rep.lost() && !rep.lost_unsent()) {
        ++stats.unsent;
        end_by_request_timeout(id, it->second);
        return;
      }
      refuse_out("a worker's request to the fleet", "Redis did not take it: " + rep.str);
      finish_outgoing(it->second);
      outgoing.erase(it);
    };
    if (sharded())
      pub->command({"SPUBLISH", counted, fleet::encode_cluster_message(to_cluster(r, nsp))},
                   published);
    else
      pub->command({"PUBLISH", counted, fleet::encode_classic_request(r)}, published);
  }
  void check_outgoing(const std::string& id) {
    auto it = outgoing.find(id);
    if (it == outgoing.end()) return;
    Outgoing& o = it->second;
    if (o.counted || !o.expected || o.answers < *o.expected) return;
    finish_outgoing(o);
    // A broadcast's acks keep coming after the counts: relayed until its deadline (within the
    // relays' own bound).
    if (o.type == fleet::ClassicRequestType::broadcast &&
        relaying_out < options.max_pending_requests) {
      o.counted = true;
      ++relaying_out;
    } else {
      if (o.type == fleet::ClassicRequestType::broadcast) refused("relaying a broadcast's acks");
      outgoing.erase(it);
    }
  }
  // What the worker gets from the bridge once the fleet answered (or the timeout came).
  void finish_outgoing(Outgoing& o) {
    using T = fleet::ClassicRequestType;
    switch (o.type) {
      case T::remote_fetch: {
        // In parts that fit a record, as a worker answers (the first says how many), and at
        // most a quarter of the ring together: the fleet's sockets are written at once, and more
        // than the ring holds before its readers read again would lap them (a lapped worker
        // disconnects its clients). The workers' own answers take at most half of it
        // (ring_dispatch.cpp). Parts past it are left out, and that is said.
        const std::size_t budget = segment->max_record() / 2, total = segment->capacity() / 4;
        std::size_t left_out = 0;
        std::vector<json::array> parts = cluster::bounded_socket_parts(
            std::move(o.sockets), budget, total, left_out, [&](std::size_t n) {
              ++stats.fetch_sockets_left_out;
              std::fprintf(stderr,
                           "shmio[bridge]: fetchSockets: a fleet socket's description of %zu "
                           "bytes is over %zu and was left out of the answer\n",
                           n, budget);
            });
        stats.fetch_sockets_left_out += left_out;
        left_out += o.left_out;
        if (left_out > 0)
          std::fprintf(stderr,
                       "shmio[bridge]: fetchSockets: the fleet's answer is over %zu bytes (a "
                       "quarter of the ring): %zu of its sockets were left out\n",
                       total, left_out);
        for (std::size_t i = 0; i < parts.size(); ++i)
          ring_publish(MessageType::fetch_sockets_response,
                       cluster::write_message({{"requestId", o.ring_id},
                                               {"to", o.to},
                                               {"part", i},
                                               {"parts", parts.size()},
                                               {"sockets", std::move(parts[i])}}));
        break;
      }
      case T::server_side_emit: {
        // Each answer went to the worker as it came (fleet_answer); now how many. A member that
        // has not answered by the deadline is one answer lost: the worker's callback then has
        // the answers that came with "operation has timed out", as the Node adapter's has them
        // with its timeout error.
        // (Short of the members' count, or of a count never learnt.)
        const bool short_of = !o.expected || o.answers < *o.expected;
        ring_publish(MessageType::broadcast_client_count,
                     cluster::write_message({{"requestId", o.ring_id},
                                             {"to", o.to},
                                             {"clientCount", o.answers + (short_of ? 1 : 0)}}));
        if (short_of)
          (void)ring_publish(
              MessageType::server_side_emit_response,
              cluster::write_message({{"requestId", o.ring_id}, {"to", o.to}, {"lost", true}}));
        break;
      }
      case T::broadcast:
        ring_publish(
            MessageType::broadcast_client_count,
            cluster::write_message(
                {{"requestId", o.ring_id}, {"to", o.to}, {"clientCount", o.client_count}}));
        break;
      default:
        break;
    }
  }
  // A fleet server's answer to the fetch `id` that could not be read: one answer, no sockets.
  void answered_unread(const std::string& id) {
    auto it = outgoing.find(id);
    if (it == outgoing.end() || it->second.type != fleet::ClassicRequestType::remote_fetch) return;
    ++it->second.answers;
    check_outgoing(id);
  }
  // A fleet server's response to one of the bridge's requests.
  void fleet_answer(fleet::ClassicResponse r) {
    auto it = outgoing.find(r.request_id);
    if (it == outgoing.end()) return;
    Outgoing& o = it->second;
    // (A broadcast's acks are relayed until its deadline exactly, not until the tick that erases
    // its entry.)
    if (o.counted && Clock::now() >= o.deadline) return;
    using T = fleet::ClassicRequestType;
    switch (o.type) {
      case T::remote_fetch:
        // (A sharded member's answer is MessagePack where a socket's data holds binary: its
        // values, placeholders here, become Node's {"type":"Buffer","data":[...]} as a classic
        // member's JSON carries them; before 2026-12-03 the workers got the placeholders.)
        // Bounded before they are expanded: a byte becomes a JSON value (16 bytes) and up to 4
        // bytes of text, and a placeholder may name one attachment many times, so a 4 MB answer
        // naming a 4 MiB attachment a thousand times made the bridge hold about 64 GB (before
        // 2026-12-05; found by a review). A socket whose Buffers would not fit a part's budget
        // (finish_outgoing: it would be left out there) is left out here, and so are the sockets
        // past a sixteenth of the ring's bytes of Buffers in one fetch (their text a quarter of
        // it: the whole answer's bound); said, counted as bad messages.
        // The sockets kept as they come are bounded too, by their text: at most a quarter of the
        // ring, what finish_outgoing passes on at most. Past it they are left out (said there)
        // rather than held until every member has answered: before 2026-12-07 every member's
        // whole answer was held (hundreds of MB for a fleet of servers with 100k sockets each,
        // per request) to be cut to that quarter at the end (a review).
        if (const json::value* s = r.fields.if_contains("sockets"); s && s->is_array()) {
          const std::size_t part = segment->max_record() / 2 / 4, all = segment->capacity() / 16;
          const std::size_t text_bound = segment->capacity() / 4;
          std::size_t left_out = 0;
          auto keep = [this, &o, text_bound](json::value v) {
            const std::size_t n = o.socket_bytes >= text_bound ? 0 : json::serialize(v).size();
            if (o.socket_bytes >= text_bound || n > text_bound - o.socket_bytes) {
              o.socket_bytes = text_bound;  // (full: the rest are left out without a look)
              ++o.left_out;
              ++stats.fetch_sockets_left_out;
              return;
            }
            o.socket_bytes += n;
            o.sockets.push_back(std::move(v));
          };
          for (const auto& e : s->get_array()) {
            if (r.attachments.empty()) {
              keep(e);
              continue;
            }
            const std::size_t bytes = fleet::node_buffer_bytes(e, r.attachments);
            if (bytes > part || bytes > all - std::min(all, o.buffer_bytes)) {
              ++left_out;
              continue;
            }
            o.buffer_bytes += bytes;
            keep(fleet::with_node_buffers(e, r.attachments));
          }
          if (left_out > 0) {
            stats.bad_messages += left_out;
            std::fprintf(stderr,
                         "shmio[bridge]: fetchSockets: %zu of a fleet member's sockets left out: "
                         "their binary data, as Buffers, over %zu bytes a socket or %zu in all\n",
                         left_out, part, all);
          }
        }
        ++o.answers;
        break;
      case T::server_side_emit: {
        // Relayed at once (before 2026-12-03 held until every member had answered: with one
        // member silent, a Node server without a handler for the event, the worker's own
        // timeout, counted from before this one's, came first and got none of them).
        const json::value* d = r.fields.if_contains("data");
        relay_answer(MessageType::server_side_emit_response, o,
                     cluster::write_message({{"requestId", o.ring_id},
                                             {"to", o.to},
                                             {"args", json::array{d ? *d : json::value()}}},
                                            r.attachments));
        ++o.answers;
        break;
      }
      case T::broadcast:
        if (r.type == T::broadcast_client_count) {
          const std::uint64_t n = u64_of(r.fields, "clientCount");
          // A count after the worker was told the fleet's: a member Redis did not count (one
          // that subscribed between the PUBSUB count and the PUBLISH, or whose link Redis had
          // closed unseen). Told as well, before its acks (a member says its count before them,
          // on the same link), so that the worker waits for those acks too rather than ending
          // with them in place of a counted member's still coming. Before 2026-12-07 they were
          // relayed uncounted (a review).
          if (o.counted) {
            // (Counted here too: a lapped worker's check is answered with the count and the acks
            // given, and the acks given include this member's.)
            o.client_count = saturating_add(o.client_count, n);
            if (n > 0)
              ring_publish(MessageType::broadcast_client_count,
                           cluster::write_message(
                               {{"requestId", o.ring_id}, {"to", o.to}, {"clientCount", n}}));
            return;
          }
          o.client_count = saturating_add(o.client_count, n);
          ++o.answers;
        } else if (r.type == T::broadcast_ack) {
          // Each client's ack goes to the worker at once (its first argument, binary inline).
          const json::value* pk = r.fields.if_contains("packet");
          relay_answer(MessageType::broadcast_ack, o,
                       cluster::write_message({{"requestId", o.ring_id},
                                               {"to", o.to},
                                               {"args", json::array{pk ? *pk : json::value()}}},
                                              r.attachments));
          return;
        }
        break;
      default:
        return;
    }
    check_outgoing(r.request_id);
  }

  // ------------------------------------------------------------------------------------------
  // From Redis.
  // A message from Redis: a pattern message is routed by its pattern, the others by channel.
  void on_message(const std::string& kind, const std::string& pattern, const std::string& channel,
                  const std::string& payload) {
    const auto it = routes.find(kind == "pmessage" ? pattern : channel);
    if (it == routes.end()) return;          // (a channel just left)
    const std::string nsp = it->second.nsp;  // (copies: a handler may change the routes)
    const Carries carries = it->second.carries;
    switch (carries) {
      case Carries::broadcast:
        return on_broadcast(nsp, payload);
      case Carries::request:
        return on_request(nsp, payload);
      case Carries::response: {
        // (Another member's answer, read without parsing it, as Node's adapter drops it: until
        // 2026-12-07 each was parsed, and one past kMaxJsonValues counted as a bad message on
        // every host; a bug hunt.)
        const auto id = fleet::peek_classic_request_id(payload);
        if (id && outgoing.find(std::string(*id)) == outgoing.end()) return;
        std::string why;
        auto r = fleet::decode_classic_response(payload, &why);
        if (!r) {
          bad("a response on " + channel, why);
          // A fetch's answer that is ours but cannot be read (one past kMaxJsonValues: a member
          // with about 100k sockets) is still that member's answer: counted, its sockets left out
          // (said above), so that the request ends when the others have answered, as Node's
          // adapter's does when it counts that answer. Before 2026-12-07 it was not counted, and
          // the worker waited for its deadline (4 s by default) for an answer that had come (a
          // review).
          if (id) answered_unread(std::string(*id));
          return;
        }
        return fleet_answer(std::move(*r));
      }
      case Carries::shard_message:
      case Carries::shard_response: {
        // The sharded adapter: every message an envelope {type, data, uid, nsp}.
        std::string why;
        auto m = fleet::decode_cluster_message(payload, &why);
        if (!m) {
          bad("a message on " + channel, why);
          // (An answer on the own response channel that cannot be read counts as that member's
          // answer to a fetch, as the classic one's above; before 2026-12-07 only the classic
          // bridge counted it, and a sharded worker waited for its deadline.)
          if (carries == Carries::shard_response)
            if (const auto id = fleet::peek_cluster_response_id(payload))
              answered_unread(std::string(*id));
          return;
        }
        if (m->uid == options.uid) return;
        if (carries == Carries::shard_response) {
          if (m->nsp != nsp) return bad("a message on " + channel, "it names another namespace");
          return shard_response(std::move(*m));
        }
        const auto h = shard_holders.find(channel);
        if (h == shard_holders.end() || h->second.count(m->nsp) == 0)
          return bad("a message on " + channel, "it names another namespace");
        const std::string own = m->nsp;
        return shard_request(own, std::move(*m));
      }
    }
  }
  void shard_response(fleet::ClusterMessage m) {
    // As the classic response the relaying code reads: its request id, type and fields.
    if (!m.data.is_object()) return bad("a response", "no data");
    fleet::ClassicResponse r;
    r.fields = m.data.get_object();
    r.request_id = str_of(r.fields, "requestId");
    r.attachments = std::move(m.attachments);
    using T = fleet::ClassicRequestType;
    switch (m.type) {
      case MessageType::fetch_sockets_response:
        r.type = T::remote_fetch;
        break;
      case MessageType::server_side_emit_response:
        r.type = T::server_side_emit;
        // (Copied before the insertion: operator[] may grow the object and move `packet`.)
        if (const json::value* p = r.fields.if_contains("packet")) {
          json::value packet = *p;
          r.fields["data"] = std::move(packet);
        }
        break;
      case MessageType::broadcast_client_count:
        r.type = T::broadcast_client_count;
        break;
      case MessageType::broadcast_ack:
        r.type = T::broadcast_ack;
        break;
      default:
        return;  // (heartbeats and the like: nothing to do)
    }
    fleet_answer(std::move(r));
  }
  void shard_request(const std::string& nsp, fleet::ClusterMessage m) {
    if (!m.data.is_object()) return;  // (heartbeats, ADAPTER_CLOSE: no data, nothing to do)
    const json::object& d = m.data.get_object();
    fleet::ClassicRequest r;
    r.uid = m.uid;
    r.request_id = str_of(d, "requestId");
    using T = fleet::ClassicRequestType;
    if (!fleet::options_from_json(d.if_contains("opts"), r.opts))
      return bad("a message", "its options are not lists of room names");
    // (Without options the Node adapter fails on a broadcast, a join, a leave, a disconnect or a
    // fetch: read as "every socket", one disconnected every client of the host.)
    if (const json::value* o = d.if_contains("opts");
        (o == nullptr || o->is_null()) &&
        (m.type == MessageType::broadcast || m.type == MessageType::sockets_join ||
         m.type == MessageType::sockets_leave || m.type == MessageType::disconnect_sockets ||
         m.type == MessageType::fetch_sockets))
      return bad("a message", "no options");
    switch (m.type) {
      case MessageType::broadcast: {
        const json::value* p = d.if_contains("packet");
        if (p == nullptr || !p->is_object()) return bad("a broadcast", "no packet");
        if (const char* why =
                fleet::packet_from_json(p->get_object(), std::move(m.attachments), r.packet))
          return bad("a broadcast", why);
        // The namespace is the envelope's (checked above against the channel's): Node's
        // ClusterAdapter publishes the packet before socket.io's in-memory adapter sets its nsp,
        // and its receivers read the envelope's, not the packet's. (Before 2026-12-03 a packet
        // without one was read as "/" and refused outside it: a sharded Node member's broadcasts
        // in any other namespace never reached this host; a helper's review.)
        r.packet.nsp = nsp;
        if (r.request_id.empty()) {
          if (r.opts.flags.local) return;
          if (ring_broadcast(nsp, std::move(r.packet), r.opts, 0, false)) ++stats.received;
          return;
        }
        r.type = T::broadcast;
        break;
      }
      case MessageType::sockets_join:
      case MessageType::sockets_leave:
        r.type = m.type == MessageType::sockets_join ? T::remote_join : T::remote_leave;
        if (const json::value* rooms = d.if_contains("rooms");
            rooms != nullptr && rooms->is_array() &&
            rooms->get_array().size() > fleet::kMaxRoomsPerRequest)
          return bad(m.type == MessageType::sockets_join ? "a join" : "a leave",
                     "more than " + std::to_string(fleet::kMaxRoomsPerRequest) + " rooms");
        r.rooms = rooms_of(d.if_contains("rooms"));
        break;
      case MessageType::disconnect_sockets: {
        r.type = T::remote_disconnect;
        const json::value* c = d.if_contains("close");
        r.close = c != nullptr && c->is_bool() && c->get_bool();
        break;
      }
      case MessageType::fetch_sockets:
        if (r.request_id.empty()) return bad("a fetchSockets", "no requestId");
        r.type = T::remote_fetch;
        break;
      case MessageType::server_side_emit: {
        const json::value* p = d.if_contains("packet");
        if (p == nullptr || !p->is_array() || p->get_array().empty())
          return bad("a serverSideEmit", "no packet");
        r.type = T::server_side_emit;
        r.data = p->get_array();
        r.attachments = std::move(m.attachments);
        break;
      }
      default:
        return;
    }
    serve_request(nsp, std::move(r));
  }

  // An answer to a fleet member's request, in the mode's form: classic on the namespace's
  // response channel (every member reads it), sharded on the requester's own channel.
  void respond(const Incoming& in, MessageType t, json::value value,
               std::vector<sio::Binary> attachments = {}) {
    // (A client's ack, an answer to a server-side emit: binary data a client sent. Not published
    // over the bound: the requester counts it as missing at its timeout.)
    if (!fits_fleet(value, attachments, "an answer to a fleet member")) return;
    if (sharded()) {
      fleet::ClusterMessage m;
      m.type = t;
      m.uid = options.uid;
      m.nsp = in.nsp;
      json::object d{{"requestId", in.redis_id}};
      switch (t) {
        case MessageType::fetch_sockets_response:
          d["sockets"] = std::move(value);
          break;
        case MessageType::broadcast_client_count:
          d["clientCount"] = std::move(value);
          break;
        default:  // server-side emit's answer, a client's ack: the value as `packet`
          d["packet"] = std::move(value);
          m.attachments = std::move(attachments);
          break;
      }
      m.data = std::move(d);
      publish(shard_channels(in.nsp).own_response(in.requester), fleet::encode_cluster_message(m));
      return;
    }
    const std::string rch = channels(in.nsp).response;
    switch (t) {
      case MessageType::fetch_sockets_response:
        publish(rch, fleet::encode_fetch_response(
                         in.redis_id, value.is_array() ? value.get_array() : json::array{}));
        break;
      case MessageType::broadcast_client_count:
        publish(rch,
                fleet::encode_client_count_response(
                    in.redis_id, value.is_uint64()  ? value.get_uint64()
                                 : value.is_int64() ? static_cast<std::uint64_t>(value.get_int64())
                                                    : 0));
        break;
      case MessageType::server_side_emit_response:
        publish(rch, fleet::encode_server_side_emit_response(in.redis_id, std::move(value),
                                                             attachments));
        break;
      case MessageType::broadcast_ack:
        publish(rch, fleet::encode_broadcast_ack_response(
                         in.redis_id, sio::Args(json::array{std::move(value)}, attachments)));
        break;
      case MessageType::all_rooms_response:
        publish(rch, fleet::encode_all_rooms_response(in.redis_id, in.rooms));
        break;
      default:
        break;
    }
  }

  // The bound on requests waiting for answers (BridgeOptions::max_pending_requests) was hit.
  void refused(const char* what) {
    ++stats.requests_refused;
    const auto now = Clock::now();
    if (now - last_refused_line < std::chrono::seconds(1)) return;
    last_refused_line = now;
    std::fprintf(stderr,
                 "shmio[bridge]: %s refused: %zu requests already wait for answers (the bound)\n",
                 what, options.max_pending_requests);
  }
  Clock::time_point last_refused_line{};

  void bad(const std::string& what, const std::string& why) {
    ++stats.bad_messages;
    const auto now = Clock::now();
    if (now - last_bad_line < std::chrono::seconds(1)) return;
    last_bad_line = now;
    std::fprintf(stderr, "shmio[bridge]: %s refused: %s\n", what.c_str(), why.c_str());
  }
  Clock::time_point last_bad_line{};

  void on_broadcast(const std::string& nsp, const std::string& payload) {
    std::string why;
    auto b = fleet::decode_classic_broadcast(payload, &why);
    if (!b) return bad("a broadcast", why);
    if (b->uid == options.uid) return;
    // (Another namespace's, on a channel the pattern also matches: "/" and "/#x", whose room
    // channels look alike. Dropped without a word, as Node's adapter drops it.)
    if (b->packet.nsp != nsp) return;
    if (b->opts.flags.local) return;
    if (ring_broadcast(nsp, std::move(b->packet), b->opts, 0, false)) ++stats.received;
  }

  // Writes a broadcast of the fleet into the ring (flagged: never published back). With
  // recovery, an event without ack gets its ring position as its offset, as a worker's would.
  bool ring_broadcast(const std::string& nsp, sio::Packet p, const sio::BroadcastOptions& opts,
                      std::uint64_t ack_id, bool with_ack) {
    const bool with_offset = options.recovery && !with_ack && !opts.flags.volatile_;
    p.nsp = nsp;
    p.id.reset();
    if (with_ack) p.id = ack_id;
    // (With a ring per worker each worker writes its own offset over a longer placeholder.)
    const std::size_t digits =
        options.ring_per_worker ? cluster::kWorkerOffsetDigits : cluster::kOffsetDigits;
    if (with_offset) p.data->as_array().emplace_back(std::string(digits, '0'));
    const std::string frame = "4" + sio::encode(p);
    if (!cluster::broadcast_fits(nsp, opts, p.attachments.size())) {
      ++stats.ring_failures;
      return false;
    }
    const std::uint8_t flags = static_cast<std::uint8_t>(
        cluster::broadcast_flags(opts.flags) | cluster::kFlagFromFleet |
        (with_ack ? cluster::kFlagAck : 0) | (with_offset ? cluster::kFlagOffset : 0));
    const std::size_t size = cluster::broadcast_size(nsp, opts, frame.size(), p.attachments);
    auto claim = writer->claim(size, static_cast<std::uint16_t>(MessageType::broadcast));
    if (claim.status != shm::PublishStatus::ok) {
      ++stats.ring_failures;
      std::fprintf(stderr,
                   "shmio[bridge]: a broadcast of the fleet (%zu bytes) was not written: %s\n",
                   size, shm::to_string(claim.status));
      return false;
    }
    const std::size_t at =
        cluster::write_broadcast(claim.payload, nsp, opts, flags, ack_id, frame, p.attachments);
    if (with_offset && !options.ring_per_worker) {
      const std::string off = cluster::offset_of(claim.position);
      std::memcpy(claim.payload.data() + at + frame.size() - 2 - cluster::kOffsetDigits, off.data(),
                  cluster::kOffsetDigits);
    }
    writer->commit();
    last_published = claim.position;
    after_fleet_write(size);
    return true;
  }
  // --- flow control, Redis -> ring (BridgeOptions::max_hold)
  std::uint64_t written_since_look = 0;  // ring bytes the fleet's records took since the last look
  bool holding = false;
  Clock::time_point hold_since{};
  // The reader waited for (shm::registry::ReaderPacing): readers passed over at a hold's end are
  // not waited for again until they are under a quarter of the ring behind (a stopped worker
  // would otherwise hold the fleet a second at every look, and so would one that moves but slower
  // than what comes in: the fleet read in bursts of a 32nd of the ring a second, until Redis
  // closed the connection; a helper's review).
  shm::registry::ReaderPacing pacing;
  std::pair<std::uint16_t, std::uint64_t> furthest_behind() {
    const auto b = pacing.furthest_behind(*segment, reader->id());
    return {b.slot, b.bytes};
  }
  void after_fleet_write(std::size_t bytes) {
    if (options.max_hold.count() <= 0 || holding) return;
    written_since_look += bytes;
    if (written_since_look < segment->capacity() / 32) return;
    written_since_look = 0;
    if (furthest_behind().second <= segment->capacity() / 2) return;
    holding = true;
    hold_since = Clock::now();
    ++stats.holds;
    sub->pause_reading(true);
    wait_for_readers();
  }
  void wait_for_readers() {
    hold_timer.expires_after(std::chrono::milliseconds(1));
    hold_timer.async_wait([this, life = std::weak_ptr<bool>(lifetime)](
                              const boost::system::error_code& ec) {
      if (ec || life.expired() || stopped) return;
      const auto [slot, behind] = furthest_behind();
      const auto now = Clock::now();
      const bool timed_out = now - hold_since >= options.max_hold;
      if (behind > segment->capacity() / 4 && !timed_out) return wait_for_readers();
      holding = false;
      stats.held_ms += static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - hold_since).count());
      if (behind > segment->capacity() / 4) {
        ++stats.hold_timeouts;
        const auto& s = segment->reader_slot(slot);
        pacing.pass_over(*segment, slot);
        if (now - last_hold_line >= std::chrono::seconds(1)) {
          last_hold_line = now;
          std::fprintf(stderr,
                       "shmio[bridge]: the ring's reader %u (pid %d) is %llu bytes behind after "
                       "%lld ms: no longer waited for (fleet broadcasts go on; it may be lapped)\n",
                       static_cast<unsigned>(slot), static_cast<int>(s.pid.load()),
                       static_cast<unsigned long long>(behind),
                       static_cast<long long>(options.max_hold.count()));
        }
      }
      sub->pause_reading(false);
    });
  }
  Clock::time_point last_hold_line{};

  // (Every write of the fleet's into the ring counts for the flow control, as a broadcast's: a
  // member's serverSideEmits, joins and leaves, the fleet's answers. Before 2026-12-05 only
  // broadcasts did, and a flood of the others lapped a worker behind, which disconnects its
  // clients; found by a review.)
  bool ring_publish(MessageType t, const std::string& payload) {
    if (writer->publish(static_cast<std::uint16_t>(t), bytes_of(payload), &last_published) ==
        shm::PublishStatus::ok) {
      after_fleet_write(payload.size());
      return true;
    }
    ++stats.ring_failures;
    return false;
  }
  // A fleet member's answer for the worker that asked (`o`); one that cannot be written into the
  // ring (over a record's size, say) is said lost instead, as a worker says its own: the requester
  // completes without it at once ("operation has timed out") instead of at its timeout.
  void relay_answer(MessageType t, Outgoing& o, const std::string& payload) {
    ++o.given;  // (the answer or, below, its "lost": one answer either way)
    if (ring_publish(t, payload)) return;
    std::fprintf(stderr,
                 "shmio[bridge]: a fleet member's %s answer (%zu bytes) could not be written into "
                 "the ring: said lost to its requester\n",
                 cluster::to_string(t), payload.size());
    (void)ring_publish(
        t, cluster::write_message({{"requestId", o.ring_id}, {"to", o.to}, {"lost", true}}));
  }

  // A request of the fleet, for this host's workers.
  void on_request(const std::string& nsp, const std::string& payload) {
    std::string why;
    auto req = fleet::decode_classic_request(payload, &why);
    if (!req) return bad("a request", why);
    if (req->uid == options.uid) return;
    serve_request(nsp, std::move(*req));
  }
  // A request of another member (either mode's), for this host's workers.
  void serve_request(const std::string& nsp, fleet::ClassicRequest request) {
    auto* r = &request;
    using T = fleet::ClassicRequestType;
    // (A join, leave or disconnect of one socket, the older form, is answered by the server
    // that holds the socket: this host learns whether it does by asking its workers for it.)
    // (The bound is on its look only: the join, leave or disconnect is applied all the same.)
    const bool one_socket = r->one_socket && !r->request_id.empty() && !sharded() &&
                            incoming.size() - relaying_in < options.max_pending_requests;
    const bool answered = r->type == T::sockets || r->type == T::all_rooms ||
                          r->type == T::remote_fetch || r->type == T::broadcast ||
                          (r->type == T::server_side_emit && !r->request_id.empty());
    if (answered && incoming.size() - relaying_in >= options.max_pending_requests)
      return refused("a request of the fleet");  // its requester times out, as with a dead member
    json::object body{{"nsp", nsp}, {"fleet", true}};
    switch (r->type) {
      case T::remote_join:
      case T::remote_leave:
      case T::remote_disconnect: {
        body["opts"] = cluster::options_to_json(r->opts);
        body["rooms"] = rooms_json(r->rooms);
        body["close"] = r->close;
        if (r->one_socket && !r->opts.rooms.empty()) body["sid"] = *r->opts.rooms.begin();
        ++stats.requests_in;
        // The workers read the ring in order: a join or leave is applied before the look for
        // its socket is answered, a disconnect after (the socket is gone then). Answered only
        // where the request itself was written.
        const std::uint64_t look =
            one_socket && r->type == T::remote_disconnect ? ask_for_socket(nsp, *r) : 0;
        const bool written =
            ring_publish(r->type == T::remote_join    ? MessageType::sockets_join
                         : r->type == T::remote_leave ? MessageType::sockets_leave
                                                      : MessageType::disconnect_sockets,
                         cluster::write_message(body));
        if (look != 0 && !written) incoming.erase(look);
        if (one_socket && written && r->type != T::remote_disconnect) ask_for_socket(nsp, *r);
        return;
      }
      case T::server_side_emit: {
        // (A numeric name as its handlers are keyed in Node, String(n): io.serverSideEmit(42).)
        if (r->data.empty() || !(r->data[0].is_string() || r->data[0].is_number()))
          return bad("a serverSideEmit", "no event");
        body["event"] = sio::event_name(r->data[0]);
        json::array args(r->data.begin() + 1, r->data.end());
        body["args"] = std::move(args);
        ++stats.requests_in;
        if (r->request_id.empty()) {
          ring_publish(MessageType::server_side_emit, cluster::write_message(body, r->attachments));
          return;
        }
        const std::uint64_t id = ring_id();
        body["requestId"] = id;
        ask_workers(id, *r, nsp, MessageType::server_side_emit, body, r->attachments);
        return;
      }
      case T::all_rooms: {
        const std::uint64_t id = ring_id();
        body["requestId"] = id;
        ++stats.requests_in;
        ask_workers(id, *r, nsp, MessageType::all_rooms, body);
        return;
      }
      case T::sockets:  // (the workers' sockets fetched; the ids answered: settle())
      case T::remote_fetch: {
        const std::uint64_t id = ring_id();
        body["requestId"] = id;
        body["opts"] = cluster::options_to_json(r->opts);
        ++stats.requests_in;
        ask_workers(id, *r, nsp, MessageType::fetch_sockets, body);
        return;
      }
      case T::broadcast: {
        const std::uint64_t id = ring_id();
        ++stats.requests_in;
        incoming.emplace(id, make_incoming(*r, nsp));
        incoming_due(id);
        // The workers' clients' acks are waited for as long as they are relayed (the wait
        // above: the requester's timeout, at most kMaxAckWait; none said, the request timeout).
        // Before 2026-12-05 a timeout of 0 (none said) or of weeks went to the workers as it
        // was, and each client that never answered held the entry for good, up to its
        // 1,024 (the app's own broadcasts' entries put out first); found by a review.
        r->opts.flags.timeout_ms = static_cast<std::uint32_t>(std::clamp<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(wait_for(*r, true)).count(), 1,
            std::numeric_limits<std::uint32_t>::max()));
        if (!ring_broadcast(nsp, std::move(r->packet), r->opts, id, true))
          incoming[id].waiting.clear();
        else
          place(id);
        settle_request(id);
        return;
      }
      default:
        return;  // (responses are read on the response channels)
    }
  }
  Incoming make_incoming(const fleet::ClassicRequest& r, const std::string& nsp) {
    Incoming in;
    in.type = r.type;
    in.nsp = nsp;
    in.redis_id = r.request_id;
    in.requester = r.uid;
    in.waiting = live_workers();
    const auto now = Clock::now();
    in.deadline = now + wait_for(r, true);
    in.count_by = in.deadline;
    if (r.type == fleet::ClassicRequestType::broadcast && r.opts.flags.timeout_ms != 0)
      in.count_by = now + (in.deadline - now) * 4 / 5;
    return in;
  }
  // Whether a worker holds the one socket a request names (the older form): a fetch for the room
  // of its id, answered {requestId} as soon as a worker has the socket (worker_answer); its id.
  std::uint64_t ask_for_socket(const std::string& nsp, const fleet::ClassicRequest& r) {
    const std::uint64_t id = ring_id();
    json::object body{{"nsp", nsp}, {"fleet", true}, {"requestId", id}};
    body["opts"] = cluster::options_to_json(r.opts);
    Incoming in = make_incoming(r, nsp);
    in.sid = r.opts.rooms.empty() ? std::string() : *r.opts.rooms.begin();
    incoming.emplace(id, std::move(in));
    incoming_due(id);
    if (!ring_publish(MessageType::fetch_sockets, cluster::write_message(body)))
      incoming[id].waiting.clear();
    else
      place(id);
    settle_request(id);
    return id;
  }
  void ask_workers(std::uint64_t id, const fleet::ClassicRequest& r, const std::string& nsp,
                   MessageType t, const json::object& body,
                   const std::vector<sio::Binary>& blobs = {}) {
    incoming.emplace(id, make_incoming(r, nsp));
    incoming_due(id);
    if (!ring_publish(t, cluster::write_message(body, blobs)))
      incoming[id].waiting.clear();
    else
      place(id);
    settle_request(id);
  }

  // --- the workers' answers a lapped bridge may have lost (cluster's ANSWERS_CHECK and
  // ANSWERS_OWED, docs/cluster.md "Messages"): as a lapped worker does, the bridge names the
  // fleet's requests still waiting for workers, and each worker's reply, after every answer it
  // gave, says which it still owes. A worker that owes nothing more but has not answered in full
  // lost its answers: the request stops waiting for it (as at its death, or its LAPPED); a
  // broadcast's count lost is taken from the reply. Before 2026-12-07 the request waited until
  // its deadline (four fifths of the member's timeout).
  std::map<std::uint64_t, std::vector<std::uint64_t>> checks;  // (the newest kMaxChecks)
  static constexpr std::size_t kMaxChecks = 8;
  static constexpr std::chrono::milliseconds kCheckInterval{100};  // (at most one check per)
  Clock::time_point last_check{};
  bool check_due = false;  // (sent by the tick at the interval's end)
  void want_check() {
    if (last_check != Clock::time_point{} && Clock::now() - last_check < kCheckInterval) {
      check_due = true;
      return;
    }
    check_answers();
  }
  // At most as many requests as a reply naming all of them as owed fits in an answer's share of
  // the ring (cluster::checked_requests_at_most, as the workers' checks), the oldest.
  void check_answers() {
    check_due = false;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> waiting;  // (position, request id)
    // (Not a broadcast counted already, whose waiting workers are left out of its count and
    // their acks of the relay: nothing more to learn of them.)
    for (const auto& [id, in] : incoming)
      if (!in.waiting.empty() && !in.counted)
        waiting.emplace_back(in.placed ? in.position : std::numeric_limits<std::uint64_t>::max(),
                             id);
    if (waiting.empty()) return;
    std::sort(waiting.begin(), waiting.end());
    // (The replies go into the shared ring, or each worker's own: sized by the shared one's
    // writers, the workers and the bridge, the smaller share.)
    const std::size_t most = cluster::checked_requests_at_most(
        segment->max_record(), segment->capacity(),
        static_cast<std::size_t>(std::max(1, options.workers)) + 1);
    if (waiting.size() > most) waiting.resize(most);
    std::vector<std::uint64_t> rids;
    for (const auto& [at, id] : waiting) rids.push_back(id);
    const std::uint64_t id = next_id++;
    last_check = Clock::now();
    const std::string body = cluster::write_message(
        {{"check", id}, {"requests", json::array(rids.begin(), rids.end())}});
    checks.emplace(id, std::move(rids));
    while (checks.size() > kMaxChecks) checks.erase(checks.begin());
    if (!ring_publish(MessageType::answers_check, body)) {
      checks.erase(id);
      check_due = true;  // (tried again by the tick)
      return;
    }
    ++stats.answer_checks;
  }
  // A worker's reply (`producer`, the process holding that slot now) to check `id`.
  void take_answers_owed(std::uint16_t producer, std::uint64_t id,
                         const std::map<std::uint64_t, cluster::OwedSaid>& owed) {
    auto c = checks.find(id);
    if (c == checks.end() || producer >= segment->max_producers()) return;
    const shm::ProcessIdentity replying = shm::registry::owner_of(segment->producer_slot(producer));
    const auto is_it = [producer, replying](const Member& m) {
      return m.producer == producer && m.who == replying;
    };
    for (const std::uint64_t rid : c->second) {
      auto it = incoming.find(rid);
      if (it == incoming.end()) continue;
      Incoming& in = it->second;
      if (in.counted || std::none_of(in.waiting.begin(), in.waiting.end(), is_it)) continue;
      auto s = owed.find(rid);
      if (s != owed.end()) {
        // (Owed: it answers on, unless its count was lost — then the count is the reply's.)
        if (in.type != fleet::ClassicRequestType::broadcast || !s->second.counted) continue;
        in.client_count = saturating_add(in.client_count, s->second.clients);
        in.count_came.insert(producer);
        in.acked_uncounted.erase(producer);  // (they are among its count)
      } else {
        ++stats.answers_found_lost;  // (acks of its relayed already: counted at the count)
      }
      std::erase_if(in.waiting, is_it);
      settle_request(rid);
    }
  }

  // A worker's answer to a fleet request.
  void worker_answer(MessageType t, std::uint64_t rid, std::uint16_t producer,
                     const json::object& body, const std::vector<sio::Binary>& blobs) {
    auto it = incoming.find(rid);
    if (it == incoming.end()) return;
    Incoming& in = it->second;
    auto done_with = [&] {
      std::erase_if(in.waiting, [producer](const Member& m) { return m.producer == producer; });
    };
    switch (t) {
      case MessageType::all_rooms_response:
        for (auto& r : rooms_of(body.if_contains("rooms"))) in.rooms.insert(r);
        // (In parts, as a fetchSockets answer, since 2026-12-05; a worker of the build before
        // says none: one part.)
        if (u64_of(body, "part") == 0)
          in.parts[producer] = std::max<std::uint64_t>(1, u64_of(body, "parts"));
        if (--in.parts[producer] == 0) done_with();
        break;
      case MessageType::fetch_sockets_response: {
        if (const json::value* s = body.if_contains("sockets"); s && s->is_array())
          for (const auto& e : s->get_array()) {
            if (in.type == fleet::ClassicRequestType::sockets) {  // (its id is all it needs)
              if (e.is_object() && e.get_object().contains("id"))
                in.sockets.push_back(json::object{{"id", e.get_object().at("id")}});
              continue;
            }
            if (in.type != fleet::ClassicRequestType::remote_fetch) {
              // One socket's look: the socket itself, not one in a room named as its id. Said
              // at once (ids are unique: no other worker has it).
              if (!in.answered && e.is_object() && str_of(e.get_object(), "id") == in.sid) {
                in.answered = true;
                publish(channels(in.nsp).response, fleet::encode_done_response(in.redis_id));
              }
              continue;
            }
            in.sockets.push_back(e);
            // A socket whose data was never set: socket.io's is {} (a Node member's
            // `s.data.userId` threw on null before 2026-12-04).
            if (json::object* o = in.sockets.back().if_object())
              if (json::value* d = o->if_contains("data"); d && d->is_null()) *d = json::object();
          }
        if (u64_of(body, "part") == 0)
          in.parts[producer] = std::max<std::uint64_t>(1, u64_of(body, "parts"));
        if (--in.parts[producer] == 0) done_with();
        break;
      }
      case MessageType::server_side_emit_response:
        // (A worker without the namespace, or whose answer could not be published, says so:
        // nothing to relay.)
        if (body.contains("none") || body.contains("lost")) {
          done_with();
          break;
        }
        if (!in.answered) {
          in.answered = true;
          const json::value* a = body.if_contains("args");
          json::value first =
              a && a->is_array() && !a->get_array().empty() ? a->get_array()[0] : json::value();
          respond(in, MessageType::server_side_emit_response, std::move(first), blobs);
        }
        done_with();
        break;
      case MessageType::broadcast_client_count:
        in.client_count = saturating_add(in.client_count, u64_of(body, "clientCount"));
        in.count_came.insert(producer);
        in.acked_uncounted.erase(producer);
        done_with();
        break;
      case MessageType::broadcast_ack: {
        if (body.contains("lost")) return;  // (one answer that will not come: none to relay)
        if (std::find(in.uncounted.begin(), in.uncounted.end(), producer) != in.uncounted.end())
          return;
        const json::value* a = body.if_contains("args");
        json::value first =
            a && a->is_array() && !a->get_array().empty() ? a->get_array()[0] : json::value();
        if (in.count_came.count(producer) == 0) {
          if (in.counted) return;  // (not in the count sent)
          ++in.acked_uncounted[producer];
        }
        respond(in, MessageType::broadcast_ack, std::move(first), blobs);
        return;
      }
      default:
        return;
    }
    settle_request(rid);
  }

  // One incoming request settled, the one an event touched: an answer, a request just written.
  // (Before 2026-12-06 every such event walked every request waiting: 10,000 broadcasts with
  // acks to nobody relaying, then a stream of small requests, cost the bridge 10,000 steps per
  // answer; found by a review.)
  void settle_request(std::uint64_t id) {
    if (auto it = incoming.find(id); it != incoming.end()) (void)settle_incoming(it, Clock::now());
  }
  void due_at(Clock::time_point at, std::uint64_t in, std::string out = {}) {
    // (A request has at most two entries due: past four per request, half of them are stale.)
    if (dues.size() > 64 && dues.size() > 4 * (incoming.size() + outgoing.size())) {
      std::erase_if(dues, [&](const Due& d) {
        return d.out.empty() ? incoming.count(d.in) == 0 : outgoing.count(d.out) == 0;
      });
      std::make_heap(dues.begin(), dues.end(), std::greater<>());
    }
    dues.push_back(Due{at, in, std::move(out)});
    std::push_heap(dues.begin(), dues.end(), std::greater<>());
    arm_due();
  }
  void incoming_due(std::uint64_t id) {
    const auto it = incoming.find(id);
    if (it == incoming.end()) return;
    due_at(it->second.count_by, id);
    if (it->second.deadline != it->second.count_by) due_at(it->second.deadline, id);
  }
  void arm_due() {
    if (stopped || dues.empty() || dues.front().at >= due_armed) return;
    due_armed = dues.front().at;
    due_timer.expires_at(due_armed);
    due_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired() || stopped) return;  // (aborted: armed again, earlier)
          due_armed = Clock::time_point::max();
          const auto now = Clock::now();
          while (!stopped && !dues.empty() && dues.front().at <= now) {
            std::pop_heap(dues.begin(), dues.end(), std::greater<>());
            Due d = std::move(dues.back());
            dues.pop_back();
            if (d.out.empty()) {
              if (auto it = incoming.find(d.in); it != incoming.end())
                (void)settle_incoming(it, now);
            } else if (auto it = outgoing.find(d.out); it != outgoing.end()) {
              (void)settle_outgoing(it, now);
            }
          }
          arm_due();
        });
  }
  // Settles one incoming request if it is due (every worker answered, or its time is up): the
  // next entry.
  std::unordered_map<std::uint64_t, Incoming>::iterator settle_incoming(
      std::unordered_map<std::uint64_t, Incoming>::iterator it, Clock::time_point now) {
    Incoming& in = it->second;
    const bool late = now >= in.deadline;
    if (in.counted) {  // a broadcast's acks, relayed until its deadline
      if (!late) return std::next(it);
      --relaying_in;
      return incoming.erase(it);
    }
    const bool due = now >= in.count_by;  // (the deadline, but for a broadcast's count)
    if (!in.waiting.empty() && !due) return std::next(it);
    if (due && !in.waiting.empty()) ++stats.request_timeouts;
    using T = fleet::ClassicRequestType;
    switch (in.type) {
      case T::all_rooms:
        respond(in, MessageType::all_rooms_response, json::value());
        break;
      case T::remote_fetch:
        respond(in, MessageType::fetch_sockets_response, std::move(in.sockets));
        break;
      case T::sockets: {  // (adapter 7.x's allSockets: the ids only)
        json::array ids;
        for (const json::value& e : in.sockets)
          if (const json::object* o = e.if_object())
            if (const json::value* id = o->if_contains("id"); id && id->is_string())
              ids.push_back(*id);
        respond(in, MessageType::fetch_sockets_response, std::move(ids));
        break;
      }
      case T::server_side_emit:
        // No worker answered (none has a handler that acks): the requester's count still
        // expects this host's answer, which is nothing (as a Node server without a handler,
        // it times out there).
        break;
      case T::broadcast:
        for (const Member& m : in.waiting) in.uncounted.push_back(m.producer);
        for (const auto& [acker, acks] : in.acked_uncounted)
          in.client_count = saturating_add(in.client_count, acks);
        respond(in, MessageType::broadcast_client_count, in.client_count);
        if (!late && relaying_in < options.max_pending_requests) {
          in.counted = true;
          ++relaying_in;
          return std::next(it);
        }
        if (!late) refused("relaying a broadcast's acks");
        break;
      default:
        break;
    }
    return incoming.erase(it);
  }

  // Completes the fleet requests whose workers all answered (or died, or whose time is up), and
  // ends the bridge's own requests to the fleet whose time is up: on the 100 ms tick and when a
  // worker dies (each request also at its own time: due_timer). Liveness (a look at /proc per
  // waiting worker) only on the tick: an answer or a WORKER_DOWN record settles without it.
  void settle(bool check_liveness = false) {
    const auto now = Clock::now();
    // Each worker looked at once per tick, whatever the number of requests waiting for it: one
    // look per waiting request per worker, 10,000 requests pending (the bound), was 200,000
    // reads of /proc a second on two workers: about 1.5 CPU-seconds a second at the 7.6 us a read
    // a helper measured on the dev VM (an estimate from that figure, not a run of the bridge;
    // before 2026-12-03).
    // (By producer slot: the member looked at there and what was found.)
    std::unordered_map<std::uint16_t, std::pair<shm::ProcessIdentity, bool>> looked;
    const auto is_alive = [&](const Member& m) {
      if (auto it = looked.find(m.producer); it != looked.end() && it->second.first == m.who)
        return it->second.second;
      const bool a = alive(m);
      looked[m.producer] = {m.who, a};
      return a;
    };
    for (auto it = incoming.begin(); it != incoming.end();) {
      if (check_liveness && !it->second.counted)
        std::erase_if(it->second.waiting, [&](const Member& m) { return !is_alive(m); });
      it = settle_incoming(it, now);
    }
    for (auto it = outgoing.begin(); it != outgoing.end();) it = settle_outgoing(it, now);
  }
  // Ends one of the bridge's own requests to the fleet if its time is up: the next entry.
  std::unordered_map<std::string, Outgoing>::iterator settle_outgoing(
      std::unordered_map<std::string, Outgoing>::iterator it, Clock::time_point now) {
    if (now < it->second.deadline) return std::next(it);
    // (A broadcast's count that goes now is past its requester's timeout too: nothing is
    // relayed after it.)
    if (!it->second.counted) {
      ++stats.request_timeouts;
      finish_outgoing(it->second);
    } else {
      --relaying_out;
    }
    return outgoing.erase(it);
  }

  // ------------------------------------------------------------------------------------------
  void arm_tick() {
    tick.expires_after(std::chrono::milliseconds(100));
    tick.async_wait([this,
                     life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
      if (ec || life.expired() || stopped) return;
      settle(true);
      const auto now = Clock::now();
      if (!refused_subs.empty()) resubscribe_due(now);
      if (!unsubscribe_later.empty()) unsubscribe_due();
      if (ask_after_lap_due && now - asked_after_lap >= std::chrono::seconds(1)) ask_after_lap();
      if (check_due && now - last_check >= kCheckInterval) check_answers();
      if (!reading && now - started_at >= std::chrono::seconds(3)) start_reading();
      if (now - last_post >= std::chrono::seconds(1)) {
        last_post = now;
        if (board)
          (void)board->post(static_cast<std::uint32_t>(options.workers),
                            cluster::with_retired_said(metrics_text(), retired, board->capacity(),
                                                       "shmio[bridge]", carried_cut_said));
        if (stats.unsent != unsent_said) {
          std::fprintf(stderr,
                       "shmio[bridge]: %llu messages not published to the fleet so far (Redis "
                       "unreachable): local delivery goes on\n",
                       static_cast<unsigned long long>(stats.unsent));
          unsent_said = stats.unsent;
        }
      }
      arm_tick();
    });
  }
  Clock::time_point last_post{};
  Clock::time_point started_at = Clock::now();
  std::optional<Clock::time_point> down_since;  // the publishing link is down since
  Clock::time_point down_said{};
  std::optional<Clock::time_point> sub_down_said;       // the subscriber link's last loss said
  std::optional<Clock::time_point> refusal_said;        // the last subscription refusal said
  std::optional<Clock::time_point> count_refusal_said;  // the last PUBSUB refusal said
  // Subscriptions Redis refused ({SUBSCRIBE|PSUBSCRIBE|SSUBSCRIBE, name}), each asked again when
  // its time comes (BridgeOptions::resubscribe_after); one entry per subscription the bridge
  // made, at most.
  std::map<std::pair<std::string, std::string>, Clock::time_point> refused_subs;
  void resubscribe_due(Clock::time_point now) {
    for (auto it = refused_subs.begin(); it != refused_subs.end();) {
      if (now < it->second) {
        ++it;
        continue;
      }
      const auto [kind, name] = it->first;
      it = refused_subs.erase(it);
      if (routes.count(name) == 0) continue;  // (no longer wanted: a room its workers left)
      if (kind == "PSUBSCRIBE")
        sub->psubscribe(name);
      else if (kind == "SSUBSCRIBE")
        sub->ssubscribe(name);
      else
        sub->subscribe(name);
    }
  }

  std::string metrics_text() const {
    std::string out;
    const std::string w = "{worker=\"bridge\"}";
    auto line = [&](const char* name, const char* help, const char* type, std::uint64_t v) {
      cluster::append_metric(out, name, type, help, v, w);
    };
    line("shmio_redis_published_total", "Broadcasts the bridge published to the Redis fleet.",
         "counter", stats.published);
    line("shmio_redis_received_total", "Broadcasts of the Redis fleet written into the ring.",
         "counter", stats.received);
    line("shmio_redis_holds_total",
         "Times the bridge stopped reading Redis for a reader of the ring over half a ring behind.",
         "counter", stats.holds);
    line("shmio_redis_held_ms_total", "Milliseconds the bridge did not read Redis (holds).",
         "counter", stats.held_ms);
    line("shmio_redis_hold_timeouts_total",
         "Holds ended by max_hold: a reader behind passed over until it catches up.", "counter",
         stats.hold_timeouts);
    line("shmio_redis_requests_out_total", "Requests the bridge published for the workers.",
         "counter", stats.requests_out);
    line("shmio_redis_requests_in_total", "Requests of the fleet the bridge served.", "counter",
         stats.requests_in);
    line("shmio_redis_request_timeouts_total", "Requests completed by their timeout.", "counter",
         stats.request_timeouts);
    line("shmio_redis_requests_refused_total",
         "Requests refused because max_pending_requests already waited for answers.", "counter",
         stats.requests_refused);
    line("shmio_redis_unsent_total", "Messages not published while Redis was unreachable.",
         "counter", stats.unsent);
    line("shmio_redis_bad_messages_total", "Messages on the fleet's channels that did not decode.",
         "counter", stats.bad_messages);
    line("shmio_redis_ring_failures_total", "Fleet messages that could not be written to the ring.",
         "counter", stats.ring_failures);
    line("shmio_redis_answer_checks_total",
         "Times the bridge, lapped, asked the workers which of the fleet's requests they still owe "
         "answers to.",
         "counter", stats.answer_checks);
    line("shmio_redis_answers_found_lost_total",
         "A worker's answers to a fleet request found lost to the bridge's lap (by its reply to a "
         "check): the request waits for it no more.",
         "counter", stats.answers_found_lost);
    line("shmio_redis_fetch_sockets_left_out_total",
         "Sockets of the fleet's answers to the workers' fetchSockets left out: past a quarter of "
         "the ring, or one too large for a record.",
         "counter", stats.fetch_sockets_left_out);
    const Client::Stats p = pub->stats(), s = sub->stats();
    line("shmio_redis_connects_total", "Connections to Redis made (both of the bridge's).",
         "counter", p.connects + s.connects);
    line("shmio_redis_connection_lost_total", "Connections to Redis lost or refused.", "counter",
         p.connection_lost + s.connection_lost);
    line("shmio_redis_subscriptions_refused_total",
         "Subscriptions Redis refused (an ACL, a moved shard channel): their messages are not "
         "received.",
         "counter", s.subscriptions_refused);
    line("shmio_redis_disconnected_ms_total",
         "Milliseconds the bridge's publishing connection was down.", "counter", p.disconnected_ms);
    line("shmio_redis_connected", "Whether both of the bridge's connections are up.", "gauge",
         pub->connected() && sub->connected() ? 1 : 0);
    return out;
  }
};

// ---------------------------------------------------------------------------------------------
Bridge::Bridge(net::io_context& io, BridgeOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {
  Impl& m = *impl_;
  if (m.options.uid.empty()) m.options.uid = engineio::random_id(6);
  auto seg = shm::Segment::attach(m.options.ring);
  if (!seg)
    throw std::runtime_error("cannot attach ring '" + m.options.ring + "': " + seg.error().message);
  m.segment.emplace(std::move(seg.value()));
  auto w = shm::RingWriter::attach(*m.segment, {cluster::kBridgeLabel, -1});
  if (!w) throw std::runtime_error("cannot take a producer slot: " + w.error().message);
  m.writer.emplace(std::move(w.value()));
  // A cluster with a ring per worker has <ring>.w0 (the supervisor removes a stale one at start):
  // a bridge that read only the shared ring would send none of the workers' traffic to the fleet.
  if (!m.options.ring_per_worker &&
      shm::Segment::creator(cluster::worker_ring_name(m.options.ring, 0)))
    throw std::runtime_error("the cluster on ring '" + m.options.ring +
                             "' has a ring per worker: set BridgeOptions::ring_per_worker");
  // A bridge that died (restarted by the supervisor) left its readers' positions in their slots:
  // the new one resumes there on each ring, so that what the workers published meanwhile still
  // reaches the fleet, in order (if the ring still has it). (Looked at before the new reader
  // attaches: it may take the dead one's slot.)
  settle_bridge_slots(*m.segment);
  const auto resume = dead_bridge_position(*m.segment);
  auto r = shm::RingReader::attach(*m.segment, {cluster::kBridgeLabel, -1, shm::StartAt::latest});
  if (!r) throw std::runtime_error("cannot take a reader slot: " + r.error().message);
  m.reader.emplace(std::move(r.value()));
  resume_at(*m.reader, resume, m.stats);
  // (The dead one's slots, which the supervisor keeps for this, freed now that they are read.)
  free_dead_bridge_slots(*m.segment);
  if (m.options.ring_per_worker) {
    std::map<int, std::optional<std::uint64_t>> resumes;
    m.rings.open(m.options.ring, m.options.workers, -1, cluster::kBridgeLabel, -1,
                 [&](const cluster::WorkerRings::Ring& wr) {
                   settle_bridge_slots(wr.segment);
                   resumes[wr.worker] = dead_bridge_position(wr.segment);
                 });
    for (const auto& wr : m.rings.all()) {
      resume_at(*wr->reader, resumes[wr->worker], m.stats);
      free_dead_bridge_slots(wr->segment);
    }
  }
  // (Its waits counted in its reader slots, as a worker's: docs/ring.md "Dead waiters".)
  auto n = m.rings.notifier(*m.segment, *m.reader);  // (the shared ring and every worker's)
  if (!n) throw std::runtime_error("cannot start the ring notifier: " + n.error().message);
  m.notifier = std::move(n.value());
  shm::BoardConfig bc;
  bc.slots = static_cast<std::uint32_t>(std::max(1, m.options.workers) + 1);
  if (auto b = shm::WorkerBoard::open(m.options.ring, m.segment->header().creation_time_ns, bc)) {
    m.board.emplace(std::move(b.value()));
    // (An earlier bridge's post: its counters carried on in this one's, as a worker's.)
    m.retired = cluster::take_over_counters(*m.board, static_cast<std::uint32_t>(m.options.workers),
                                            "shmio[bridge]");
  }
  std::string error;
  ClientOptions co;
  co.url = m.options.url;
  // One line when the link goes down, then one a minute while it stays down (each retry is not
  // said), one when it is back.
  co.on_state = [impl = &m](bool up, const std::string& why) {
    const auto now = Clock::now();
    if (up) {
      std::fprintf(stderr, "shmio[bridge]: connected to Redis %s\n", impl->url_shown());
      impl->down_since.reset();
      impl->start_reading();
      return;
    }
    if (!impl->down_since) {
      impl->down_since = now;
      impl->down_said = now;
      std::fprintf(stderr, "shmio[bridge]: Redis %s: %s (retrying)\n", impl->url_shown(),
                   why.c_str());
    } else if (now - impl->down_said >= std::chrono::minutes(1)) {
      impl->down_said = now;
      std::fprintf(
          stderr, "shmio[bridge]: Redis %s still unreachable after %lld s: %s (retrying)\n",
          impl->url_shown(),
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::seconds>(now - *impl->down_since).count()),
          why.c_str());
    }
  };
  // (A broadcast not yet written when the link goes is counted as unsent, not written seconds
  // later on the next connection: bridge.hpp.)
  co.fail_unsent_on_loss = true;
  m.pub = Client::create(io, co, &error);
  if (!m.pub) throw std::runtime_error("--redis: " + error);
  // The subscriber's link: its losses said too (a member's message over Redis's output-buffer
  // limit for subscribers closes it; what is published while it reconnects does not come), at
  // most one line a minute.
  co.on_state = [impl = &m](bool up, const std::string& why) {
    const auto now = Clock::now();
    if (up || (impl->sub_down_said && now - *impl->sub_down_said < std::chrono::minutes(1))) return;
    impl->sub_down_said = now;
    std::fprintf(stderr,
                 "shmio[bridge]: the subscription link to Redis %s was lost: %s (reconnecting; "
                 "fleet messages published meanwhile are not received)\n",
                 impl->url_shown(), why.c_str());
  };
  co.on_message = [impl = &m](const std::string& kind, const std::string& pattern,
                              const std::string& channel, std::string payload) {
    // (A message whose decoding or handling throws — out of memory where the address space is
    // limited, a container's own length error — is refused like a malformed one: it must not
    // unwind through the Redis client's read handler and end the bridge.)
    try {
      impl->on_message(kind, pattern, channel, payload);
    } catch (const std::exception& e) {
      impl->bad("a message on " + channel, std::string("its handling failed: ") + e.what());
    }
  };
  // A channel Redis refuses this member (an ACL without it, a shard channel moved): the others
  // go on; said at most once a minute (with dynamic subscriptions every room could be one),
  // counted in shmio_redis_subscriptions_refused_total.
  co.on_refused_subscription = [impl = &m](const std::string& kind, const std::string& name,
                                           const std::string& why) {
    const auto now = Clock::now();
    if (impl->options.resubscribe_after.count() > 0)
      impl->refused_subs[{kind, name}] = now + impl->options.resubscribe_after;
    if (impl->refusal_said && now - *impl->refusal_said < std::chrono::minutes(1)) return;
    impl->refusal_said = now;
    std::fprintf(stderr,
                 "shmio[bridge]: Redis %s refused %s %s: %s (fleet messages on it are not "
                 "received; the other channels work)\n",
                 impl->url_shown(), kind.c_str(), name.c_str(), why.c_str());
  };
  m.sub = Client::create(io, co, &error);
  if (!m.sub) throw std::runtime_error("--redis: " + error);
}

Bridge::~Bridge() {
  stop();
}

void Bridge::start() {
  Impl& m = *impl_;
  m.pub->start();
  m.sub->start();
  m.subscribe("/");
  // The workers say their namespaces (each also does at its start and for each new one).
  m.ask_namespaces();
  m.arm_tick();
}

void Bridge::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  boost::system::error_code ec;
  m.notify.close(ec);
  m.tick.cancel();
  m.hold_timer.cancel();
  m.due_timer.cancel();
  if (m.pub) m.pub->stop();
  if (m.sub) m.sub->stop();
}

const BridgeStats& Bridge::stats() const noexcept {
  return impl_->stats;
}
const std::string& Bridge::uid() const noexcept {
  return impl_->options.uid;
}
std::string Bridge::metrics_text() const {
  return impl_->metrics_text();
}

int run_bridge(const BridgeOptions& options) {
  net::io_context io;
  // SIGUSR1 and SIGUSR2 at their default action ended the bridge without its drain (the
  // supervisor restarted it; before 2026-12-07): said and ignored from its start, as the
  // supervisor and the workers do.
  net::signal_set user_signals(io);
  const std::vector<int> user_sigs = cluster::user_signals_at_default();
  for (const int sig : user_sigs) user_signals.add(sig);
  struct IgnoredAtTheEnd {  // (as serve()'s: left ignored as the bridge ends)
    net::signal_set& set;
    const std::vector<int>& sigs;
    ~IgnoredAtTheEnd() {
      cluster::ignore_user_signals_after(sigs, [this] {
        boost::system::error_code ignored;
        set.clear(ignored);
      });
    }
  } user_signals_ignored_at_the_end{user_signals, user_sigs};
  std::function<void()> hear_user_signals = [&] {
    user_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      std::fprintf(stderr, "shmio[bridge]: %s ignored (SIGTERM drains)\n",
                   sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2");
      hear_user_signals();
    });
  };
  hear_user_signals();
  std::unique_ptr<Bridge> bridge;
  try {
    bridge = std::make_unique<Bridge>(io, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio[bridge]: %s\n", e.what());
    return 1;
  }
  bridge->start();
  std::fprintf(stderr, "shmio[bridge]: pid %d, uid %s, %s, key %s, Redis %s\n", ::getpid(),
               bridge->uid().c_str(),
               options.mode == FleetMode::classic                     ? "classic"
               : options.subscription == ShardedSubscription::static_ ? "sharded (static)"
               : options.subscription == ShardedSubscription::dynamic ? "sharded (dynamic)"
                                                                      : "sharded (dynamic-private)",
               options.key.c_str(), shown_url(options.url).c_str());
  // SIGTERM (the supervisor's drain), and SIGINT and SIGHUP unless they came in ignored, as a
  // worker takes them (a Ctrl-C meant for the script whose background job shmio is ended the
  // bridge, restarted; a hang-up killed it, before 2026-12-05).
  net::signal_set signals(io);
  for (const int sig : cluster::stop_signals()) signals.add(sig);
  signals.async_wait([&](const boost::system::error_code&, int) {
    bridge->stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace shmio::redis
