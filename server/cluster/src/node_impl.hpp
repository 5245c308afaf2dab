// Node::Impl: a worker's ring (writer, reader, notifier), membership, requests in flight,
// rebalancing, recovery's session table, the workers' board (private to cluster/src).
#pragma once

#include <fcntl.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <tuple>

#include "handoff.hpp"
#include "shmio/cluster/redis_wire.hpp"
#include "shmio/cluster/worker_rings.hpp"
#include "support.hpp"

namespace shmio::cluster {

class ClusterAdapter;

struct Responder {
  std::uint16_t producer;
  shm::ProcessIdentity who;
  // The fleet bridge (docs/redis.md): it answers for the other hosts of a Redis fleet, and says
  // first how many answers it will relay (a server-side emit's: one per fleet server answering).
  bool bridge = false;
};

struct PendingRequest {
  std::weak_ptr<sio::AckCollector> collector;
  std::vector<Responder> responders;
  // A broadcast's acks: a responder that dies owing answers (its count not read, or fewer of its
  // clients' acks than it counted) ends the request with "operation has timed out", as socket.io
  // does (its answers never come: its timer fires). A fetchSockets or serverSideEmit instead
  // completes with the live workers' answers, no error (socket.io's removeNode for those).
  bool answers_owed = false;
  // Where the request was published: the ring (the owner worker's index; -1: the shared ring)
  // and its position there (placed: noted as its record was committed, Node::Impl::committed). A
  // responder lapped over it (its LAPPED names a range of that ring holding the position) never
  // read it.
  int ring = -1;
  std::uint64_t position = 0;
  bool placed = false;
};

// A record copied out of a ring by Node::Impl::read_batch, to be applied. (These two at namespace
// scope, not in Node::Impl: clang 14 takes a nested struct with default member initializers for
// not default-constructible in std::optional::emplace() before the enclosing class is complete.)
struct CopiedRecord {
  std::uint16_t type, producer;             // (a worker ring's: the writer's slot in that ring)
  std::uint64_t position, end;              // (end 0: the batch's)
  std::optional<TakenBroadcast> broadcast;  // a BROADCAST (nullopt: it did not decode)
  std::string bytes;                        // any other message
};
// With a ring per worker, a worker's death (the supervisor's WORKER_DOWN, on the shared ring)
// is applied once this worker has read the dead worker's ring up to its tail as it was when
// the death was read (everything it said before it died: answers to requests among them). That
// rest is read as any ring is, kDrainRounds batches a turn, with flushes and timers between;
// meanwhile the shared ring's records after the death wait, here, already copied out of it. (Up
// to 2026-12-07 the rest was read in one turn: up to a ring's worth delivered to the clients
// before any flush, which could close fast clients as slow consumers; found by a bug hunt.)
struct DeathWaiting {
  pid_t pid = 0;
  std::uint64_t start = 0;  // (its start time; 0: not said)
  int worker = -1;
  std::uint64_t dead_end = 0;      // the dead worker's ring is read up to here
  bool dead_read_nothing = false;  // or until a read there finds nothing (a claim it left)
  std::uint64_t record_end = 0;    // the shared ring's position after the WORKER_DOWN (0: not
                                   // yet kept by apply_copied)
  std::vector<CopiedRecord> rest;  // the shared ring's records after it in its batch
  std::uint64_t batch_end = 0;     // and where that batch ended
};

struct Node::Impl {
  Impl(net::io_context& ctx, NodeOptions o)
      : io(ctx),
        options(std::move(o)),
        notify(ctx),
        dead_timer(ctx),
        board_timer(ctx),
        forget_timer(ctx),
        load_timer(ctx),
        check_timer(ctx) {}

  net::io_context& io;
  NodeOptions options;
  // The shared ring. Its writer names this worker in both modes: its slot id is the worker's
  // identity on the wire (`to`, the sources of answers) and in the registry (live_workers); it
  // publishes only without a ring per worker.
  std::optional<shm::Segment> segment;
  std::optional<shm::RingWriter> writer;
  std::optional<shm::RingReader> reader;
  // With a ring per worker (NodeOptions::ring_per_worker): this worker's own ring and its writer,
  // which publishes everything, and a reader on every other worker's ring.
  std::optional<shm::Segment> own_segment;
  std::optional<shm::RingWriter> own_writer;
  using WorkerRing = WorkerRings::Ring;
  WorkerRings rings;  // the other workers' (shmio/cluster/worker_rings.hpp)
  shm::RingWriter& out() { return own_writer ? *own_writer : *writer; }
  const shm::Segment& out_segment() const { return own_segment ? *own_segment : *segment; }
  std::uint16_t self() const { return writer->id(); }
  // The shared ring's tail when this worker's writer took its slot: a record of that slot below
  // it is a previous holder's (an emitter that held the slot and let it go while this worker was
  // starting), not this worker's own, and is applied.
  std::uint64_t own_from = 0;
  // A record refused (counted in bad_records): said on stderr, at most one line a second.
  void refuse_record(const char* why, std::uint16_t type, std::uint16_t producer,
                     std::size_t bytes);
  std::chrono::steady_clock::time_point last_refusal_said{};
  // Whether the shared ring's producer `producer` is the supervisor's writer (its slot's label):
  // the one that says a worker's death.
  bool said_by_supervisor(std::uint16_t producer) const {
    if (producer >= segment->max_producers()) return false;
    const auto& slot = segment->producer_slot(producer);
    return std::string_view(slot.label, ::strnlen(slot.label, sizeof slot.label)) == "supervisor";
  }
  std::unique_ptr<shm::RingNotifier> notifier;
  net::posix::stream_descriptor notify;
  net::steady_timer dead_timer;
  bool dead_timer_armed = false;
  // Connection state recovery's sessions, in shared memory beside the ring (shm/session_store.hpp):
  // what every worker saves and any worker takes, whichever died or restarted in between. Empty
  // if it could not be opened (said at start; sessions are then not recoverable across workers).
  std::optional<shm::SessionStore> sessions;
  // Every worker's /metrics exposition, for a scrape that lands on any of them (set_local_metrics).
  std::optional<shm::WorkerBoard> board;
  std::function<std::string()> local_metrics;
  // The counters of the processes that held this worker's slot before it (cluster/metrics.hpp,
  // retired_counters): carried on in every post, so that worker="all" counters never go down.
  std::string retired;
  // This worker's exposition with the retired counters, as it is posted. Carried series cut to
  // fit beside it are said once (the first post that cuts them; a post is made every second).
  bool carried_cut_said = false;
  std::string with_carried(std::string own) {
    return with_retired_said(std::move(own), retired, board ? board->capacity() : SIZE_MAX,
                             ("shmio[w" + std::to_string(options.worker) + "]").c_str(),
                             carried_cut_said);
  }
  net::steady_timer board_timer;
  std::chrono::steady_clock::time_point board_refused_logged{};
  // Where an exposition larger than a post is cut: before the first family (its HELP line, or its
  // TYPE line where it has none) that does not fit whole, so that no histogram is cut between its
  // buckets (the cluster's totals would then count a part of it); at a line where even the first
  // family does not fit. The index of the last byte kept ('\n'), npos if none.
  std::size_t family_cut(const std::string& text) const {
    const std::size_t kept = family_prefix(text, board->capacity());
    return kept == 0 ? text.npos : kept - 1;
  }
  // Larger than a post holds (an app's own series): its whole families that fit are posted, so that
  // the post's stamp, which the supervisor's watchdog takes for the worker turning its loop,
  // moves on (before 2026-12-05 nothing was posted, and the watchdog killed a live worker every
  // minute; found by a review).
  void post_metrics(const std::string& text) {
    if (!board) return;
    const auto slot = static_cast<std::uint32_t>(options.worker);
    if (board->post(slot, text)) return;
    const std::size_t cut = text.size() > board->capacity() ? family_cut(text) : text.npos;
    const bool part =
        cut != text.npos && board->post(slot, std::string_view(text).substr(0, cut + 1));
    // (Nothing of it fits: an empty post, whose stamp says this worker has started, live_workers'
    // look, and that its loop turns, the supervisor's watchdog's — every time, so that the stamp
    // moves on.)
    if (!part) (void)board->post(slot, std::string_view());
    const auto now = std::chrono::steady_clock::now();
    if (now - board_refused_logged < std::chrono::minutes(1)) return;
    board_refused_logged = now;
    if (part)
      std::fprintf(stderr,
                   "shmio[w%d]: this worker's metrics (%zu bytes) are more than a post on the "
                   "board holds (%zu): other workers' /metrics show the first %zu bytes\n",
                   options.worker, text.size(), board->capacity(), cut + 1);
    else
      std::fprintf(stderr,
                   "shmio[w%d]: this worker's metrics (%zu bytes) were not posted on the board (a "
                   "post holds %zu, and no family of them fits): other workers' /metrics show "
                   "none of its series\n",
                   options.worker, text.size(), board->capacity());
  }
  // This worker's metrics on the board, where the supervisor's watchdog reads their stamp. (The
  // app's rendering reads its Server: not once it is gone. Its last post stays.)
  // (A Node without metrics of its own, a program's that set none, posts the carried counters
  // alone: its post's stamp says it has started, live_workers' look.)
  void post_board() {
    if (board && server)
      post_metrics(with_carried(local_metrics ? local_metrics() : std::string()));
  }
  // (Armed with or without a board: it keeps the heartbeats too.)
  void arm_board_timer() {
    board_timer.expires_after(std::chrono::seconds(1));
    board_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired() || stopped) return;
          forget_destroyed_server();
          // The heartbeats shm-inspect shows, once a second: this worker waits for its rings
          // through a notifier, not RingReader::wait, and its writer refreshes its own every 256
          // commits, so an idle worker's aged without end and looked hung (before 2026-12-06; a
          // review).
          heartbeat();
          post_board();
          stop_telling_rooms_without_bridge();
          arm_board_timer();
        });
  }
  // Sessions closed for good (a reason that is not recoverable) leave the table at once. Each
  // erase looks once at each slot on its way (no patience: this thread never waits behind a
  // stopped holder); one that meets a slot held by a stopped process (EraseStatus::busy) waits
  // here and is tried again once a second (kForgetTries a round), until it is done: left
  // there, the entry would be recoverable after this worker's death (a connected entry of a dead
  // owner counts as disconnected since the death). At most kForgetLater wait; one more, and those
  // still waiting when the worker stops (tried once more then), stay in the table: counted in
  // shmio_sessions_not_forgotten_total and said (a worker stopped that long holding a slot is the
  // operator's to see).
  static constexpr std::size_t kForgetLater = 1024;
  std::deque<std::string> forget_later;
  net::steady_timer forget_timer;
  bool forget_timer_armed = false;
  std::chrono::steady_clock::time_point forget_logged{};
  bool erased_or_gone(const std::string& key) {
    return sessions->erase(key, std::chrono::nanoseconds(0)) !=
           shm::SessionStore::EraseStatus::busy;
  }
  void forget_session(std::string key) {
    if (!sessions || erased_or_gone(key)) return;
    if (stopped || forget_later.size() >= kForgetLater) return not_forgotten(1);
    forget_later.push_back(std::move(key));
    arm_forget_timer();
  }
  // At most kForgetTries of them a round (each busy one costs its look: 64 yields and a /proc
  // read), the oldest first, a still busy one to the back: 1,024 waiting go round in 16 s.
  static constexpr std::size_t kForgetTries = 64;
  void retry_forgets(std::size_t tries = kForgetTries) {
    for (std::size_t n = std::min(tries, forget_later.size()); n > 0; --n) {
      std::string key = std::move(forget_later.front());
      forget_later.pop_front();
      if (!erased_or_gone(key)) forget_later.push_back(std::move(key));
    }
  }
  void not_forgotten(std::size_t n, bool say = false) {
    stats.sessions_not_forgotten += n;
    const auto now = std::chrono::steady_clock::now();
    if (!say && now - forget_logged < std::chrono::seconds(1)) return;
    forget_logged = now;
    std::fprintf(stderr,
                 "shmio[w%d]: %zu closed session(s) stay in the recovery table: their slots are "
                 "held by a stopped process (%zu erases wait)\n",
                 options.worker, n, forget_later.size());
  }
  void arm_forget_timer() {
    if (forget_timer_armed || stopped) return;
    forget_timer_armed = true;
    forget_timer.expires_after(std::chrono::seconds(1));
    forget_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          // (Cancelled by stop(); or already due then, queued with no error behind the handler
          // that destroyed this Node: `life` says so.)
          if (ec || life.expired()) return;
          forget_timer_armed = false;
          if (stopped) return;
          retry_forgets();
          if (!forget_later.empty()) arm_forget_timer();
        });
  }
  // At stop: one more try of each; what is still held stays (counted, said whatever was said
  // just before).
  void stop_forgetting() {
    forget_timer.cancel();
    if (forget_later.empty()) return;
    retry_forgets(forget_later.size());
    if (!forget_later.empty()) not_forgotten(forget_later.size(), true);
    forget_later.clear();
  }
  // Rebalancing: every worker's client count as it last said (LOAD, once a second).
  struct Load {
    std::size_t clients = 0;
    shm::ProcessIdentity who;
    std::chrono::steady_clock::time_point at;
  };
  std::map<int, Load> loads;  // by worker index
  net::steady_timer load_timer;
  std::unique_ptr<Handoff> handoff;
  sio::Server* server = nullptr;
  std::weak_ptr<const void> server_life;  // (start(): expires with the Server)
  // A Server destroyed while its Node goes on (its owner let it go first, the io_context running
  // on): from then on the Node serves none, as before start(), and says it takes no fresh
  // handshakes, as draining() does (none is steered to it). Looked at where a handler of the
  // Node's comes in (a ring read, its timers, a hand-off), before `server` is used: before
  // 2026-12-05 the freed Server was read (its options for each broadcast, its client count each
  // second; found by a review).
  void forget_destroyed_server() {
    if (server == nullptr || !server_life.expired()) return;
    server = nullptr;
    if (stopped || closing) return;
    closing = true;
    publish_load();
  }
  // With recovery, how many digits a broadcast's offset placeholder has (its ring position's on
  // one ring; each worker's own with a ring per worker); 0 without recovery (take_broadcast).
  std::size_t offset_digits() const {
    if (server == nullptr || !server->options().connection_state_recovery) return 0;
    return own_writer ? kWorkerOffsetDigits : kOffsetDigits;
  }
  bool stopped = false;
  NodeStats stats;
  std::map<std::string, ClusterAdapter*> adapters;
  std::unordered_map<std::uint64_t, PendingRequest> pending;
  // (From a random start: a Node made again in the same process — same pid, most likely the
  // same producer slot — numbered its requests from 1 again, and an answer owed to its
  // predecessor's request was taken for its own of the same id before 2026-12-06; a review.)
  std::uint64_t next_request = std::random_device{}();
  bool draining = false;
  // Every record below this position has been applied here (own records: when published, or
  // when read for broadcasts delivered in ring order).
  std::uint64_t applied_end = 0;
  // Shared ring with recovery: this worker's own broadcasts that carry an offset reach its own
  // sockets when its reader reaches them (in ring order), and a packet sent directly to one of
  // its sockets (an emit with an ack, a volatile one: sio::Adapter::after_broadcasts) waits for
  // those published before it, as socket.io's emits through an awaited publish do. Found by a
  // review on 2026-12-04 ("b" reached the client before "a" in emit("a"), volatile emit("b")).
  // One past the position of the last such broadcast published; the held sends, each with the
  // value that was here when it was held, in order.
  std::uint64_t own_ordered_end = 0;
  std::deque<std::pair<std::uint64_t, std::function<void()>>> held;
  bool holding() const { return !stopped && (own_ordered_end > applied_end || !held.empty()); }
  // At most NodeOptions::max_held_sends held. Past it, first everything the reader can read now
  // (a burst of this turn's own writes: what is due then goes out in order), then the oldest still
  // held are sent now, ahead of the broadcasts they wait for (counted, said at most once per
  // 10 s). Found by a bug hunt (2026-12-06): while a producer stopped in a debugger keeps this
  // worker's reader from its own broadcasts, every direct send was held, without bound, for as
  // long as the stop lasted. Not nested: a send run here that holds again only queues (the
  // outermost call goes on releasing), and nothing is released while an adapter is in the middle
  // of changing its rooms (the next hold after it does; a review).
  void hold(std::function<void()> send) {
    held.emplace_back(own_ordered_end, std::move(send));
    if (options.max_held_sends == 0 || held.size() <= options.max_held_sends || releasing_early ||
        mutating > 0 || stopped)
      return;
    releasing_early = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{releasing_early};
    drain();  // (not while draining already: a handler of a record being applied holds)
    while (held.size() > options.max_held_sends && !stopped) {
      auto [end, early] = std::move(held.front());
      held.pop_front();
      if (end > applied_end) {  // (one already due is in order: not counted)
        ++stats.held_sends_released_early;
        say_held_early();
      }
      early();
    }
  }
  bool releasing_early = false;
  void say_held_early() {
    const auto now = std::chrono::steady_clock::now();
    if (held_early_said != std::chrono::steady_clock::time_point{} &&
        now - held_early_said < std::chrono::seconds(10))
      return;
    held_early_said = now;
    std::fprintf(stderr,
                 "shmio[w%d]: over %zu sends held behind this worker's own broadcasts, which its "
                 "reader cannot reach (a producer stopped in the ring?): the oldest go out now, "
                 "ahead of them (%llu so far, shmio_held_sends_released_early_total; said at most "
                 "once per 10 s)\n",
                 options.worker, options.max_held_sends,
                 static_cast<unsigned long long>(stats.held_sends_released_early));
  }
  std::chrono::steady_clock::time_point held_early_said{};
  // The held sends whose broadcasts are all applied (all of them once stopped: nothing is read
  // any more), in order; one that sends holds behind those still held.
  void release_held() {
    while (!held.empty() && (stopped || held.front().first <= applied_end)) {
      auto send = std::move(held.front().second);
      held.pop_front();
      send();
    }
  }

  // --- connection state recovery with a ring per worker (docs/ring-per-worker.md, "Connection
  // state recovery over N rings"): this worker's cut log. Rings are numbered as in the offsets:
  // the workers' rings 0..workers-1, then the shared one (workers).
  // (shm-inspect cuts names them: tools/shm_inspect.cpp, CutTagText.)
  // kCutStart: what this worker had applied when it admitted a fresh session (a replay to that
  // session starts no earlier); named by no offset.
  enum CutTag : std::uint32_t {
    kCutBatch = 1,
    kCutReplayFrom = 2,
    kCutReplayTo = 3,
    kCutStart = 4
  };
  std::optional<shm::CutLog> cuts;
  int cut_ring = -1;  // the ring of the last batch entry, -1 if another ring moved since
  std::uint64_t cut_entry = 0;
  int shared_ring_index() const { return options.workers; }
  int ring_index(const WorkerRing* from) const {
    return from != nullptr ? from->worker : shared_ring_index();
  }
  // What this worker has applied of every ring now: the position below which it delivered all.
  std::vector<std::uint64_t> applied_cut() {
    std::vector<std::uint64_t> c(static_cast<std::size_t>(options.workers) + 1, 0);
    for (int k = 0; k < options.workers; ++k) {
      if (k == options.worker)
        c[k] = own_segment->control().tail.tail.load(std::memory_order_acquire);
      else if (WorkerRing* r = rings.of(k))
        c[k] = r->applied;
    }
    c[options.workers] = applied_end;
    return c;
  }
  // A session admitted now begins at this worker's applied cut: the kCutStart entry that holds
  // it, made if the cut moved since the last one (sessions admitted between two broadcasts share
  // one entry). nullopt if the log refused it.
  std::vector<std::uint64_t> start_cut;
  std::optional<std::uint64_t> start_entry;
  std::optional<std::uint64_t> cut_for_start() {
    auto c = applied_cut();
    // (The entry reused while the log still holds it: fewer than its length appended since.)
    if (start_entry && c == start_cut &&
        cuts->next(static_cast<std::uint32_t>(options.worker)) - *start_entry < cuts->entries())
      return start_entry;
    start_entry = cuts->append(static_cast<std::uint32_t>(options.worker), kCutStart, c);
    start_cut = std::move(c);
    return start_entry;
  }
  // The entry under which this worker delivers records of `ring` now: the last one if it was for
  // that ring and nothing else moved since (only that ring's column differs, which a recovery
  // takes from the record's own position), else a new one.
  // (nullopt: the log refused the entry, which its geometry, checked at open, rules out; such a
  // broadcast keeps its placeholder, an offset no recovery accepts.)
  std::optional<std::uint64_t> cut_for(int ring) {
    if (cut_ring == ring) return cut_entry;
    const auto c = applied_cut();
    const auto e = cuts->append(static_cast<std::uint32_t>(options.worker), kCutBatch, c);
    cut_ring = e ? ring : -1;
    cut_entry = e.value_or(0);
    return e;
  }
  std::array<char, kWorkerOffsetDigits> offset_for(std::uint64_t entry, int ring,
                                                   std::uint64_t position) const {
    return worker_offset_digits({static_cast<std::uint32_t>(options.worker), entry,
                                 static_cast<std::uint32_t>(ring), position});
  }

  // --- publishing
  // Whether a publish failure just counted may be said on stderr: the first, then at most one
  // line per 10 s (each a failure that an app's emit can repeat at its own rate: unthrottled, a
  // loop of too-large emits wrote a line each; the count is shmio_ring_publish_failures_total).
  // Throttled per kind (the message type and why: a loop of one kind does not hide another;
  // the kinds are few, a type's name by a status's). Laps are said through it too ("lapped").
  bool say_publish_failure(const std::string& kind) {
    const auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = publish_failure_said.try_emplace(kind, now);
    if (!fresh && now - it->second < std::chrono::seconds(10)) return false;
    it->second = now;
    return true;
  }
  std::map<std::string, std::chrono::steady_clock::time_point> publish_failure_said;
  // The request publish_tracked is publishing (its record the next one committed): placed at
  // that record's position as soon as it is committed, before keep_up's drain, which may
  // publish answers of its own and apply a LAPPED that covers the request (a review).
  std::optional<std::uint64_t> placing;
  void committed(std::uint64_t at) {
    if (!placing) return;
    if (auto it = pending.find(*placing); it != pending.end()) {
      it->second.ring = own_writer ? options.worker : -1;
      it->second.position = at;
      it->second.placed = true;
    }
    placing.reset();
  }
  // (`keep`: false for a LAPPED, a few dozen bytes that cannot lap this worker's reader: said
  // right after a lap, its keep_up would read some two rings' worth in that one turn.)
  // (`apply_here`: this worker's own application of what it publishes — socketsJoin/Leave,
  // disconnectSockets — made where the record stands in the ring: after this worker's own
  // broadcasts still held, as every other worker applies it after them; and when this publish
  // reads the ring first (keep_up, half a ring behind), as that read passes the record, before
  // the later records of others it reads. Before 2026-12-07 it was applied after that whole
  // read: a broadcast to a room just joined, committed by another worker right after the join,
  // missed this worker's sockets; a review. Made even if the publish fails.)
  bool publish(MessageType t, const std::string& payload, bool keep = true,
               std::function<void()> apply_here = {}) {
    std::uint64_t at = 0;
    // (More binary parts than a reader takes: refused here, as a record too large is, not
    // published for every reader to skip as a bad record.)
    const bool fits = message_fits(payload);
    const auto st = fits ? out().publish(static_cast<std::uint16_t>(t), as_bytes(payload), &at)
                         : shm::PublishStatus::too_large;
    if (st != shm::PublishStatus::ok) {
      ++stats.publish_failures;
      if (say_publish_failure(std::string(to_string(t)) + (fits ? shm::to_string(st) : "binaries")))
        std::fprintf(stderr,
                     "shmio[w%d]: could not publish %s (%zu bytes%s): %s (%llu publish failures "
                     "so far; said at most once per 10 s)\n",
                     options.worker, to_string(t), payload.size(),
                     fits ? "" : ", over 65536 binary parts", shm::to_string(st),
                     static_cast<unsigned long long>(stats.publish_failures));
      if (apply_here) apply_after_own(std::move(apply_here));
      return false;
    }
    ++stats.messages_published;
    committed(at);
    if (apply_here) {
      if (keep && keep_up_reads_now(at)) {
        // (Own records are skipped by the read: apply_copied releases this before the first
        // record past it.)
        own_ordered_end = std::max(own_ordered_end, at + 1);
        hold(std::move(apply_here));
      } else {
        apply_after_own(std::move(apply_here));
      }
    }
    if (keep) keep_up(at);
    return true;
  }
  // A worker must never be lapped by its own records: one turn can publish many (a read of many
  // client messages, each a broadcast), and the notifier's drain runs only between turns. Once
  // this worker's reader is half a ring behind what it just published, it drains now. (With a
  // ring per worker it does not read its own ring.)
  // Not while an adapter is in the middle of changing its rooms (`mutating`, ClusterAdapter's
  // Mutating scope: a room event's publish, an app's room listener that emits): the drain would
  // apply other workers' records, joins and disconnects among them, inside that change (the
  // rooms index changed under the walk changing it; found by a review, 2026-12-05). It is posted
  // instead, to run once the change is done (after the events already queued).
  // Whether keep_up(published_at) reads the ring now, in this call.
  bool keep_up_reads_now(std::uint64_t published_at) const {
    return reader && !draining && !own_writer && mutating == 0 &&
           published_at - std::min(published_at, reader->position()) > segment->capacity() / 2;
  }
  // `apply` now, or after this worker's own broadcasts still held.
  void apply_after_own(std::function<void()> apply) {
    if (!holding()) return apply();
    hold(std::move(apply));
  }
  void keep_up(std::uint64_t published_at) {
    if (!reader || draining || own_writer) return;
    if (published_at - std::min(published_at, reader->position()) <= segment->capacity() / 2)
      return;
    if (mutating == 0) return drain();
    // (A read posted already — keep_up's own, or the rest of a drain cut at its budget — reads
    // all its rings hold once it runs, as drain() does: `full_drain`.)
    full_drain = true;
    if (std::exchange(drain_posted, true)) return;
    net::post(io, [life = std::weak_ptr<bool>(lifetime), this] {
      if (life.expired()) return;
      drain_posted = false;
      full_drain = false;
      drain();
    });
  }
  int mutating = 0;  // (adapters changing their rooms now, nested)
  bool drain_posted = false;
  bool full_drain = false;  // (the posted read is to read everything: keep_up asked)
  std::uint64_t request_id() {
    // Never equal to an ack id (those stay below 2^53; these have bit 62 set), unique across
    // workers and restarts: the pid in bits 32..61, a counter below (from a random start: a Node
    // made again in the same process meets its predecessor's ids only by chance, 1 in 2^32).
    return (1ULL << 62) | (static_cast<std::uint64_t>(::getpid()) << 32) |
           (next_request++ & 0xFFFFFFFFULL);
  }

  // Ready for clients (Node::when_ready): at start (the sessions of others are in shared memory,
  // not asked of anyone).
  bool ready = false;
  std::vector<std::function<void()>> ready_waiters;
  void become_ready() {
    if (ready) return;
    ready = true;
    for (auto& f : std::exchange(ready_waiters, {})) f();
  }
  // --- rebalancing
  static std::size_t margin(std::size_t n) { return std::max<std::size_t>(8, n / 10); }
  // The other workers' counts said within the last 3 s (a dead worker's entry goes with its
  // WORKER_DOWN; no /proc look-up here: steer() runs for every fresh handshake).
  template <class F>
  void for_each_fresh_load(F f) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [w, l] : loads)
      if (w != options.worker && now - l.at < std::chrono::seconds(3)) f(w, l);
  }
  // A fresh handshake: kept (-1), or the worker to hand it to.
  int steer() {
    if (!server || stopped) return -1;
    const std::size_t mine = server->client_count();
    int best = -1;
    std::size_t least = mine;
    for_each_fresh_load([&](int w, Load& l) {
      // (Not to a worker that takes no hand-offs: its figure is up to 3 s old, and each fresh
      // handshake steered to it would be dropped.)
      if (handoff && handoff->stuck(w)) return;
      if (l.clients < least) {
        least = l.clients;
        best = w;
      }
    });
    if (best < 0 || mine - least <= margin(mine)) return -1;
    ++loads[best].clients;  // counted there until it says its own count again
    // (stats.rebalance_steered is counted at the hand-off, Node's hand_off_to: a steered request
    // queued behind another on its connection may never be handed, the connection closed first.)
    return best;
  }
  // Draining (Node::draining): its figure is the most a worker can have, so that no fresh
  // handshake is steered to it (before 2026-12-03 it said 0 clients once its clients were closed,
  // and drew the handshakes of every other worker, which it then dropped).
  bool closing = false;
  // Near its descriptor bound (NodeOptions::steer_room): said like closing, at once when a
  // client makes it so (client_came), again with each count.
  bool said_full = false;
  // By its clients, or by the last connection's descriptor number, the more: a polling client
  // holds two or three connections (its held GET, its POST, an idle one), and connections without
  // a session count too (before 2026-12-05 clients only: a polling-heavy worker near its bound
  // was still steered to, and closed what it was handed; found by a review).
  bool near_full() const {
    if (!server || server_life.expired() || options.steer_room == 0) return false;
    const auto& st = server->engine().stats();
    const std::uint64_t used = std::max<std::uint64_t>(server->client_count(), st.last_descriptor);
    return st.descriptor_bound != 0 && used + options.steer_room >= st.descriptor_bound;
  }
  // (Posted, not published in the join: a publish may drain the ring (keep_up), and a drain
  // between a recovered socket's replay and its joins applied broadcasts to its rooms while it
  // was in none of them — lost to it. Before 2026-12-06; found by a review.)
  bool load_posted = false;
  void client_came() {
    if (said_full || load_posted || !options.rebalance || options.workers <= 1 || !near_full())
      return;
    load_posted = true;
    net::post(io, [life = std::weak_ptr<bool>(lifetime), this] {
      if (life.expired()) return;
      load_posted = false;
      if (!stopped && !said_full && near_full()) publish_load();
    });
  }
  void publish_load() {
    forget_destroyed_server();  // (every caller's way in: none reads a Server gone)
    if (!server && !closing) return;
    said_full = near_full();
    const std::uint64_t clients =
        closing || said_full ? std::numeric_limits<std::uint64_t>::max() : server->client_count();
    publish(MessageType::load, write_message({{"worker", options.worker}, {"clients", clients}}));
  }
  void heartbeat() noexcept {
    if (writer) writer->heartbeat();
    if (reader) reader->heartbeat();
    if (own_writer) own_writer->heartbeat();
    for (const auto& r : rings.all())
      if (r->reader) r->reader->heartbeat();
  }
  void arm_load_timer() {
    load_timer.expires_after(std::chrono::seconds(1));
    load_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired() || stopped) return;
          forget_destroyed_server();
          if (!server && !closing) return;
          publish_load();
          if (!closing) shed();
          arm_load_timer();
        });
  }
  // With recovery: while above the cluster's average by the margin, ask at most rebalance_rate
  // recoverable clients (of "/") to reconnect; they recover wherever they land.
  void shed() {
    if (!server->options().connection_state_recovery) return;
    const std::size_t mine = server->client_count();
    std::size_t total = mine, n = 1;
    for_each_fresh_load([&](int, Load& l) {
      if (l.clients == std::numeric_limits<std::uint64_t>::max()) return;  // (draining)
      total += l.clients;
      ++n;
    });
    if (n < 2) return;
    const std::size_t avg = total / n;
    if (mine <= avg + margin(avg)) return;
    std::size_t k = std::min(options.rebalance_rate, mine - avg);
    sio::Namespace& nsp = server->of("/");
    for (const sio::SocketId& id : nsp.adapter().targets(sio::BroadcastOptions{})) {
      if (k == 0) break;
      sio::SocketPtr s = nsp.socket(id);
      // (Only a client that can recover in every namespace it joined: a socket sent no offset yet
      // would start afresh, and closing the connection closes all of them. Before 2026-12-05 only
      // the "/" socket was asked, and a client's other namespaces lost their ids, rooms and data;
      // found by a review.)
      if (!s || !s->connection_recoverable()) continue;
      s->drop_connection();
      ++stats.rebalance_shed;
      --k;
    }
  }

  // --- membership
  // Whether the worker of writer slot `label` ("worker-N") owned by `who` has started: its Node's
  // start() posted on the board (its first post, before it answers anything), the post still that
  // process's. Its slot is taken when its Node is made, before the app's setup (seconds: a database
  // to reach), and until 2026-12-07 it counted as a responder from then: every request (a
  // broadcast with acks, fetchSockets, serverSideEmit with an ack) waited for a restarting
  // worker's answer it could not give yet, and timed out (a review). It reads the request once it
  // starts (its reader is attached first), and its answer then counts as any worker's. Without a
  // board (it could not be made: said at the start), from its slot, as before.
  bool started(const char* label, const shm::ProcessIdentity& who) const {
    if (!board) return true;
    char* end = nullptr;
    const long index = std::strtol(label + 7, &end, 10);
    // (Not one of this cluster's workers, whose board slots are theirs: as before.)
    if (end == label + 7 || *end != '\0' || index < 0 || index >= options.workers) return true;
    const auto stamp = board->stamp(static_cast<std::uint32_t>(index));
    return stamp && stamp->who == who;
  }
  // The live workers (and with `with_bridge`, the fleet bridge: a request that reaches every
  // server of the app waits for its answer too).
  std::vector<Responder> live_workers(bool include_self, bool with_bridge = false) const {
    std::vector<Responder> out;
    for (std::uint16_t i = 0; i < segment->max_producers(); ++i) {
      const auto& slot = segment->producer_slot(i);
      if (slot.state.load(std::memory_order_acquire) != shm::layout::kSlotActive) continue;
      const bool bridge = with_bridge && std::strcmp(slot.label, kBridgeLabel) == 0;
      if (std::strncmp(slot.label, "worker-", 7) != 0 && !bridge) continue;
      if (!include_self && i == self()) continue;
      const shm::ProcessIdentity who = shm::registry::owner_of(slot);
      if (shm::liveness(who) != shm::Liveness::alive) continue;
      if (!bridge && !started(slot.label, who)) continue;
      out.push_back({i, who, bridge});
    }
    return out;
  }
  // This worker's namespaces, for the fleet bridge (it subscribes to their Redis channels), and
  // their rooms when a sharded bridge asked for them (room_changed in wire.hpp).
  enum class TellRooms { no, public_only, all } tell_rooms = TellRooms::no;
  bool room_told(const std::string& room) const {
    return tell_rooms == TellRooms::all ||
           (tell_rooms == TellRooms::public_only && !fleet::looks_like_socket_id(room));
  }
  // `with_rooms` (at start and when the bridge asks): every room of each, if the bridge asked for
  // rooms; otherwise (a namespace made or removed) the names and "telling": the bridge keeps what
  // it knows of this worker's rooms, which each ROOM_CHANGED since has kept up (before
  // 2026-12-04 every namespace made resent every room of every namespace of the worker: with a
  // room per socket, a record of all its sockets' ids at each dynamic namespace made).
  void announce_namespaces(bool with_rooms = true);
  bool announce_posted = false;  // (one announcement posted for the namespaces made this turn)
  std::chrono::steady_clock::time_point names_left_out_said{};  // (said at most once per 10 s)
  // Whether a fleet bridge holds a producer slot of the shared ring: only then are namespaces
  // announced as they are made and removed, and at start (one record listing every name, read and
  // parsed by every other worker to no end without a bridge: a client CONNECTing to dynamic
  // namespaces one a turn made that a square of their count on every worker, found by a review,
  // 2026-12-06). A bridge that attaches later asks (NAMESPACES_REQUEST, after its slot is taken)
  // and hears every name then: a worker that saw no bridge here reads that request after it.
  // (A slot labelled so and taken, or being taken, counts — one seen mid-take, by a repair's look
  // or a taker's second pass, may be a live bridge's, and announcing for nobody costs less than
  // a name the bridge never hears —, but not one whose owner is known dead: a SIGKILLed bridge's
  // slot stays taken until it is repaired or taken again; a review.)
  bool bridge_attached() const {
    for (std::uint16_t i = 0; i < segment->max_producers(); ++i) {
      const auto& slot = segment->producer_slot(i);
      const std::uint32_t state = slot.state.load(std::memory_order_acquire);
      if (state == shm::layout::kSlotFree || state == shm::layout::kSlotDead ||
          std::strncmp(slot.label, kBridgeLabel, sizeof slot.label) != 0)
        continue;
      if (state == shm::layout::kSlotActive &&
          shm::liveness(shm::registry::owner_of(slot)) == shm::Liveness::dead)
        continue;
      // (Being taken by a process that died in the taking, and naming no live owner: nobody's
      // until another take, which comes only when no slot is free.)
      if (state != shm::layout::kSlotActive && shm::registry::taker_died(state) &&
          shm::liveness(shm::registry::owner_of(slot)) != shm::Liveness::alive)
        continue;
      return true;
    }
    return false;
  }
  void room_changed(const std::string& nsp, const std::string& room, bool created) {
    if (stopped || !writer || !room_told(room)) return;
    if (publish(
            MessageType::room_changed,
            write_message(
                {{"worker", options.worker}, {"nsp", nsp}, {"room", room}, {"created", created}})))
      ++stats.rooms_told;
  }
  // Once a second: rooms told for a bridge that no longer holds a slot (it left, or died) are
  // told to nobody — a record per room made or deleted, read by every worker to no end — so they
  // are no longer told. A bridge that attaches again asks again (NAMESPACES_REQUEST, after its
  // slot is taken: a look here that finds no bridge comes before its request is read) and hears
  // every room then. Before 2026-12-07 they were told until the worker's end.
  void stop_telling_rooms_without_bridge() {
    if (tell_rooms == TellRooms::no || bridge_attached()) return;
    tell_rooms = TellRooms::no;
    std::fprintf(stderr,
                 "shmio[w%d]: no fleet bridge holds a slot of the ring any more: rooms made and "
                 "deleted are no longer said on it (until a bridge asks again)\n",
                 options.worker);
  }
  bool responder_alive(const Responder& r) const {
    const auto& slot = segment->producer_slot(r.producer);
    return slot.state.load(std::memory_order_acquire) == shm::layout::kSlotActive &&
           shm::registry::owner_of(slot) == r.who && shm::liveness(r.who) == shm::Liveness::alive;
  }
  // A request is tracked before it is published: publishing may read the ring (keep_up's drain,
  // when this worker's reader is far behind), and with it answers to this very request, which
  // would be dropped as answers to nothing (found in review, 2026-12-02). untrack() if it cannot
  // be published.
  // (An id still tracked for a live request — ids wrap, and a new broadcast with acks passes over
  // at most 16 of them, BroadcastOperator::emit_with_ack — ends that request: its waits on the
  // others are failed, as at their deaths, on the next turn (not inside the app's call that made
  // the new one), instead of its answers being taken for the new one's.)
  void track(std::uint64_t rid, PendingRequest req) {
    if (auto it = pending.find(rid); it != pending.end()) {
      unref(it->second.responders);
      if (auto c = it->second.collector.lock(); c && !c->done())
        net::post(dead_timer.get_executor(), [c, responders = std::move(it->second.responders),
                                              owed = it->second.answers_owed] {
          for (const Responder& r : responders) c->fail_source(r.producer + 1u, owed);
        });
      pending.erase(it);
    }
    ref(req.responders);
    pending[rid] = std::move(req);
    arm_dead_check();
  }
  void untrack(std::uint64_t rid) {
    if (auto it = pending.find(rid); it != pending.end()) forget(it);
  }
  // The responders pending requests wait on, each once (producer slot and process), with how
  // many requests wait on it: what the dead check looks at, once per responder a round, without
  // a walk over every request's responders (before 2026-12-06 each round walked them all, twice:
  // with 30,000 broadcasts waiting for acks in a cluster of 64, some two million steps every
  // 100 ms on the worker's only thread; a review).
  using ResponderKey = std::pair<std::uint16_t, std::uint64_t>;
  static ResponderKey key_of(const Responder& r) { return {r.producer, shm::process_tag(r.who)}; }
  std::map<ResponderKey, std::pair<Responder, std::size_t>> waited_on;
  void ref(const std::vector<Responder>& rs) {
    for (const Responder& r : rs) ++waited_on.try_emplace(key_of(r), r, 0).first->second.second;
  }
  void unref(const Responder& r) {
    if (auto it = waited_on.find(key_of(r)); it != waited_on.end() && --it->second.second == 0)
      waited_on.erase(it);
  }
  void unref(const std::vector<Responder>& rs) {
    for (const Responder& r : rs) unref(r);
  }
  // Erases a pending request (and its count in waited_on).
  std::unordered_map<std::uint64_t, PendingRequest>::iterator forget(
      std::unordered_map<std::uint64_t, PendingRequest>::iterator it) {
    unref(it->second.responders);
    return pending.erase(it);
  }
  // Forgets the requests that are finished (their collectors done or gone): one look each.
  void forget_finished() {
    for (auto it = pending.begin(); it != pending.end();) {
      auto c = it->second.collector.lock();
      it = !c || c->done() ? forget(it) : std::next(it);
    }
  }
  // Expires with this Impl: an answer callback handed to the app (a broadcast's client ack, a
  // server-side emit's ack) may be kept and called after the Node is gone, and then does nothing.
  // Every timer's and descriptor's handler looks at it first too: one whose wait had already
  // ended when the Node was destroyed (from a handler run before it in the same turn) runs with
  // no error code; cancelling it did not reach it.
  std::shared_ptr<bool> lifetime = std::make_shared<bool>(true);
  // An answer that says no answer comes from here: `"lost"`, one this worker could not publish
  // (over a record's size, say): the requester completes without it ("operation has timed out",
  // as at its timeout) instead of waiting for the timeout; `"none"`, no namespace here: the
  // requester waits for nothing from this worker (found in review, 2026-12-02).
  void answer_marker(MessageType t, std::uint64_t rid, std::uint16_t to, const char* marker) {
    publish(t, write_message({{"requestId", rid}, {"to", to}, {marker, true}}));
  }
  // Tracks request `rid` (before it is published: track()), publishes it with `send`, and when
  // that fails forgets it and fails every responder's part at once.
  template <class Send>
  void publish_tracked(std::uint64_t rid, const std::shared_ptr<sio::AckCollector>& collector,
                       const std::vector<Responder>& responders, Send send,
                       bool answers_owed = false) {
    track(rid, PendingRequest{collector, responders, answers_owed});
    placing = rid;
    bool sent = false;
    try {
      sent = send();
    } catch (...) {  // (out of memory making the record: nothing was committed)
      placing.reset();
      untrack(rid);
      throw;
    }
    placing.reset();
    if (sent) return;
    untrack(rid);
    for (const Responder& r : responders) collector->fail_source(r.producer + 1u, true);
  }
  // While requests wait, the registry is checked for dead workers every 100 ms.
  void arm_dead_check() {
    if (dead_timer_armed || pending.empty() || stopped) return;
    dead_timer_armed = true;
    dead_timer.expires_after(std::chrono::milliseconds(100));
    dead_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired()) return;  // (as forget_timer's)
          dead_timer_armed = false;
          if (stopped) return;
          // Which responders are dead, looked at first; then what is in the rings is read; then the
          // requests still waiting for those stop. A dead worker wrote nothing after its death, so
          // every answer it wrote is read by then and counts (as at its WORKER_DOWN, which reads
          // the dead worker's records first). Before 2026-12-04 a worker that answered and exited
          // could be found dead before this worker had read the answer, and the request completed
          // without it. One look per responder a round, whatever the number of requests waiting on
          // it (each look reads /proc: thousands of broadcasts waiting for acks looked as many
          // times each), through waited_on. (Finished requests are forgotten first.)
          forget_finished();
          std::set<ResponderKey> dead;
          for (const auto& [key, entry] : waited_on)
            if (!responder_alive(entry.first)) dead.insert(key);
          if (!dead.empty()) {
            drain();
            if (stopped) return;
            drop_responders([&dead](const Responder& r) { return dead.count(key_of(r)) != 0; });
          }
          arm_dead_check();
        });
  }
  // (`start`: the dead process's start time, 0 where the supervisor could not read it: then
  // by pid alone, as before 2026-12-07, when a process that took the same pid since was taken
  // for the dead one by a worker that read the death late.)
  static bool is_dead(const shm::ProcessIdentity& who, pid_t pid, std::uint64_t start) {
    return who.pid == pid && (start == 0 || who.start_time == start);
  }
  void worker_down(pid_t pid, std::uint64_t start) {
    drop_responders([pid, start](const Responder& r) { return is_dead(r.who, pid, start); });
  }
  // Another worker (shared-ring producer `producer`: a worker or the fleet bridge) says it
  // never read [from, to) of `ring` (LAPPED): the requests published there stop waiting for it
  // at once, with the outcome of their timeout, whose answers would not have come from it either
  // — its answers missing ("operation has timed out" with the others' answers; a fetchSockets
  // completes with the others' sockets). Not as for a dead worker, whose part completes with no
  // error: a lapped one is alive, and the request never ran there (a serverSideEmit's handler,
  // the fleet behind a lapped bridge; a review).
  void peer_lapped(std::uint16_t producer, int ring, std::uint64_t from, std::uint64_t to) {
    // (The process that holds the slot now: a worker that died and whose slot was taken again
    // before this was read is not the one lapped.)
    if (producer >= segment->max_producers()) return;
    const shm::ProcessIdentity lapped = shm::registry::owner_of(segment->producer_slot(producer));
    drop_responders([producer, lapped](
                        const Responder& r) { return r.producer == producer && r.who == lapped; },
                    [ring, from, to](const PendingRequest& q) {
                      return q.placed && q.ring == ring && q.position >= from && q.position < to;
                    },
                    /*missing=*/true);
  }
  // This worker's reader lost [from, to) of `ring` (-1: the shared ring): said to the others
  // (LAPPED), after the read that found it (a publish may read the rings: not inside one); and
  // the answers to its own requests it may have lost with it are asked about (check_answers).
  void say_lapped(int ring, std::uint64_t from, std::uint64_t to) {
    if (to <= from) return;
    net::post(io, [life = std::weak_ptr<bool>(lifetime), this, ring, from, to] {
      if (life.expired() || stopped) return;
      publish(MessageType::lapped, write_message({{"ring", ring}, {"from", from}, {"to", to}}),
              /*keep=*/false);
      want_check();
    });
  }

  // --- answers a lapped requester may have lost (ANSWERS_CHECK / ANSWERS_OWED, wire.hpp)
  // What this worker still owes other workers' requests, by (requester, request id): an Owing
  // for each answer callback still alive (a serverSideEmit's ack not yet called; a broadcast's,
  // shared by its clients' entries while any of their acks is awaited), with, for a broadcast with
  // acks, the client count it said and the answers it has given since (acks, and "lost" markers).
  // It lets go when the callback is done (released) or destroyed. (Several for one key: an ack id
  // wrapped while a request of the same id was still owed here; the newest is said.)
  using OwingKey = std::pair<std::uint16_t, std::uint64_t>;
  struct Owing;
  std::multimap<OwingKey, Owing*> owing;
  struct Owing {
    Impl* node;
    std::weak_ptr<bool> life;
    std::multimap<OwingKey, Owing*>::iterator at;
    bool open = true;      // (not yet released)
    bool counted = false;  // a broadcast's: its client count said
    std::uint64_t clients = 0, given = 0;
    Owing(Impl* n, OwingKey k) : node(n), life(n->lifetime), at(n->owing.emplace(k, this)) {}
    Owing(const Owing&) = delete;
    Owing& operator=(const Owing&) = delete;
    void release() {
      if (std::exchange(open, false) && !life.expired()) node->owing.erase(at);
    }
    ~Owing() { release(); }
  };
  std::shared_ptr<Owing> owe(std::uint16_t requester, std::uint64_t rid) {
    return std::make_shared<Owing>(this, OwingKey{requester, rid});
  }
  // The checks this worker sent, by id: the requests each named (the newest kMaxChecks kept; a
  // reply to an older one is not read).
  std::map<std::uint64_t, std::vector<std::uint64_t>> checks;
  static constexpr std::size_t kMaxChecks = 8;
  // At most one check per kCheckInterval: a flood that laps this worker again and again makes
  // one check per interval, not one per lap (a lap may come at a batch's peek and again at its
  // consume), each asking every worker for a reply. One due within it is sent at its end.
  static constexpr std::chrono::milliseconds kCheckInterval{100};
  std::chrono::steady_clock::time_point last_check{};
  net::steady_timer check_timer;
  bool check_timer_armed = false;
  void want_check() {
    if (check_timer_armed || stopped) return;
    const auto due = last_check + kCheckInterval;
    if (last_check == std::chrono::steady_clock::time_point{} ||
        std::chrono::steady_clock::now() >= due)
      return check_answers();
    check_timer_armed = true;
    check_timer.expires_at(due);
    check_timer.async_wait(
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired()) return;
          check_timer_armed = false;
          if (!stopped) check_answers();
        });
  }
  // (cluster::checked_requests_at_most: the replies go into the ring this worker's answers go
  // into, shared by all the workers or its own.)
  std::size_t checked_at_most() const {
    return checked_requests_at_most(
        out_segment().max_record(), out_segment().capacity(),
        own_segment ? 1 : static_cast<std::size_t>(std::max(1, options.workers)));
  }
  // After this worker's reader was lapped: the requests still waiting for others are named to
  // them all (ANSWERS_CHECK). Nothing is sent when none waits.
  void check_answers() {
    forget_finished();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> waiting;  // (position, request id)
    for (const auto& [rid, q] : pending)
      if (!q.responders.empty())
        waiting.emplace_back(q.placed ? q.position : std::numeric_limits<std::uint64_t>::max(),
                             rid);
    if (waiting.empty()) return;
    std::sort(waiting.begin(), waiting.end());
    if (waiting.size() > checked_at_most()) waiting.resize(checked_at_most());
    std::vector<std::uint64_t> rids;
    for (const auto& [at, rid] : waiting) rids.push_back(rid);
    const std::uint64_t id = next_request++;
    last_check = std::chrono::steady_clock::now();
    const std::string body =
        write_message({{"check", id}, {"requests", json::array(rids.begin(), rids.end())}});
    // (`keep` false, as a LAPPED's: right after a lap this worker's reader is about a ring
    // behind, and keep_up would read all of it in this one turn. A check is at most some 22 KB,
    // which cannot lap this worker's reader on its own.)
    checks.emplace(id, std::move(rids));
    while (checks.size() > kMaxChecks) checks.erase(checks.begin());
    if (!publish(MessageType::answers_check, body, /*keep=*/false)) {
      checks.erase(id);
      want_check();  // (tried again at the interval's end)
      return;
    }
    ++stats.answer_checks;
  }
  // A reply (`producer`: a worker or the fleet bridge) to this worker's check `id`, its `owed`
  // list read. It comes after every answer that process gave, in the ring they went into: of a
  // request the check named, answers from it that have not come by now were lost. One it owes
  // nothing more ends its wait for it at once, as at its timeout (answers missing); one it still
  // owes (a broadcast's acks) is told those of the answers it gave that did not come are lost
  // (as its "lost" markers tell: it completes with "operation has timed out" and every ack that
  // comes), and the client count it said, if that was lost too. Only for the process that holds
  // the slot now: a worker that died and whose slot was taken again is not the one replying.
  void take_answers_owed(std::uint16_t producer, std::uint64_t id,
                         const std::map<std::uint64_t, OwedSaid>& still) {
    auto c = checks.find(id);
    if (c == checks.end() || producer >= segment->max_producers()) return;
    const shm::ProcessIdentity replying = shm::registry::owner_of(segment->producer_slot(producer));
    auto is_it = [producer, replying](const Responder& r) {
      return r.producer == producer && r.who == replying;
    };
    std::set<const PendingRequest*> ended;
    std::vector<
        std::tuple<std::shared_ptr<sio::AckCollector>, std::uint64_t, std::optional<std::uint64_t>>>
        told;  // (collector, answers lost, count to expect)
    for (const std::uint64_t rid : c->second) {
      auto q = pending.find(rid);
      if (q == pending.end() ||
          std::none_of(q->second.responders.begin(), q->second.responders.end(), is_it))
        continue;
      auto collector = q->second.collector.lock();
      if (!collector || collector->done()) continue;
      const auto heard = collector->heard(producer + 1u);
      if (!heard) continue;
      auto s = still.find(rid);
      if (s == still.end()) {
        if (!heard->complete()) ended.insert(&q->second);
        continue;
      }
      std::uint64_t lost = s->second.given > heard->heard ? s->second.given - heard->heard : 0;
      if (s->second.counted) lost = std::min(lost, s->second.clients);  // (no more than it has)
      std::optional<std::uint64_t> count;
      if (s->second.counted && !heard->counted) count = s->second.clients;
      if (lost != 0 || count) told.emplace_back(collector, lost, count);
    }
    stats.answers_found_lost +=
        ended.size() +
        static_cast<std::uint64_t>(std::count_if(
            told.begin(), told.end(), [](const auto& t) { return std::get<1>(t) != 0; }));
    // (User code — a request's callback — runs only after these walks: ended's pointers stay good.)
    if (!ended.empty())
      drop_responders(
          is_it, [&ended](const PendingRequest& q) { return ended.count(&q) != 0; },
          /*missing=*/true);
    for (auto& [collector, lost, count] : told) {
      collector->lose(producer + 1u, static_cast<std::size_t>(lost));
      if (count && !collector->done()) collector->expect(producer + 1u, *count);
    }
  }
  // Every pending request stops waiting for the responders `dead` names: it completes with the
  // live workers' answers (no error for the dead one's; a broadcast's acks one owed: "operation
  // has timed out", PendingRequest::answers_owed), and forgets finished requests.
  // fail_source() may complete a request and run its callback, which may start or end other
  // requests (changing `pending`): the callbacks run only after the walk.
  // (`of`: only the requests it takes; `missing`: their answers count as missing whatever the
  // request, as at its timeout.)
  template <class Pred, class Of = bool (*)(const PendingRequest&)>
  void drop_responders(
      Pred dead, Of of = [](const PendingRequest&) { return true; }, bool missing = false) {
    std::vector<std::tuple<std::shared_ptr<sio::AckCollector>, std::uint64_t, bool>> failed;
    for (auto it = pending.begin(); it != pending.end();) {
      auto c = it->second.collector.lock();
      if (!c || c->done()) {
        it = forget(it);
        continue;
      }
      if (!of(it->second)) {
        ++it;
        continue;
      }
      auto& rs = it->second.responders;
      for (auto r = rs.begin(); r != rs.end();) {
        if (!dead(*r)) {
          ++r;
          continue;
        }
        failed.emplace_back(c, r->producer + 1u, it->second.answers_owed || missing);
        unref(*r);
        r = rs.erase(r);
      }
      ++it;
    }
    for (auto& [c, source, owed] : failed) c->fail_source(source, owed);
  }
  // Whether request `rid` still waits for `producer`'s answers. A count or a first part from a
  // worker it does not wait for (dropped as dead before its answer was read, never asked, or
  // nobody: WorkerRings::writer_of) must not make it wait again (AckCollector::expect adds the
  // source).
  bool awaits(std::uint64_t rid, std::uint16_t producer) const {
    auto it = pending.find(rid);
    if (it == pending.end()) return false;
    for (const Responder& r : it->second.responders)
      if (r.producer == producer) return true;
    return false;
  }
  std::shared_ptr<sio::AckCollector> collector_for(std::uint64_t rid) {
    auto it = pending.find(rid);
    if (it == pending.end()) return nullptr;
    auto c = it->second.collector.lock();
    if (!c || c->done()) {
      forget(it);
      return nullptr;
    }
    return c;
  }

  // --- reading
  void start_reading() {
    notify.assign(::fcntl(notifier->fd(), F_DUPFD_CLOEXEC, 0));
    wait_notify();
    drain(kDrainRounds);
  }
  void wait_notify() {
    notify.async_wait(
        net::posix::descriptor_base::wait_read,
        [this, life = std::weak_ptr<bool>(lifetime)](const boost::system::error_code& ec) {
          if (ec || life.expired() || stopped) return;
          notifier->drain();
          drain(kDrainRounds);
          wait_notify();
        });
  }
  // Applies what the rings hold now (every record, for the callers that need all of it before
  // they go on: a recovery's take, a dead responder's requests, keep_up): as many rounds as it
  // takes to read a whole ring of the smallest records twice over (a round reads up to 64 records
  // of each ring that has more, so everything there when it began is read, and as much again
  // that came meanwhile), the rest posted as any drain's. Before 2026-12-05 it read until the
  // rings were empty: while other workers published faster than this one delivered, that never
  // came, and the worker turned no timer and flushed no client until the watchdog killed it
  // (found by a review).
  void drain() { drain(full_drain_rounds()); }
  std::size_t full_drain_rounds() const {
    std::uint64_t capacity = segment ? segment->capacity() : 0;
    if (own_segment) capacity = std::max(capacity, own_segment->capacity());
    return static_cast<std::size_t>(2 * capacity / (shm::layout::kUnit * 64) + 2);
  }
  // At most `rounds` batches of each ring, the rest posted behind what this turn queued (the
  // clients' flushes, timers, other sockets' reads): a drain woken by the notifier takes at most
  // kDrainRounds per turn. Before 2026-12-05 it read on while other workers kept publishing
  // faster than this one delivered: nothing it delivered was flushed, no timer ran (the board's
  // post among them: the watchdog then killed a busy worker), until the inflow paused.
  void drain(std::size_t rounds);
  // (16 rounds: up to 1,024 records of each ring a turn — a few milliseconds of delivery.)
  static constexpr std::size_t kDrainRounds = 16;
  // A FETCH_SOCKETS or ALL_ROOMS answer (`t`) of `items` under `key`, to request `rid` of writer
  // `to`, in parts that each fit a ring record ("part" i of "parts" n), the whole bounded by the
  // ring; what is left out is said on stderr, naming the `request` and its `item`.
  void answer_in_parts(MessageType t, std::uint64_t rid, std::uint16_t to, const char* key,
                       boost::json::array items, const char* request, const char* item);
  // One batch of `r` (`from`: the worker ring it reads, nullptr for the shared ring): false if
  // there was nothing to read.
  bool read_batch(shm::RingReader& r, WorkerRing* from);
  // Applies batch[i...] (read from `from`, ending at `batch_end`), in order; false if the node
  // stopped or a death must wait (below), the rest then kept in `death_waiting`.
  bool apply_copied(std::vector<CopiedRecord>& batch, std::size_t i, std::uint64_t batch_end,
                    WorkerRing* from);
  std::optional<DeathWaiting> death_waiting;
  // A death said by the supervisor, applied (worker_down, the sessions, the loads).
  void apply_death(pid_t pid, std::uint64_t start);
  // With a death waiting: once the dead worker's ring is read up to where the death was said
  // (or a read there found nothing: a claim it left unfinished), the death and the shared ring's
  // records after it.
  void step_death();
  void apply_broadcast(TakenBroadcast b, std::uint16_t producer);
  // One of our own BROADCASTs that we deliver when read (kFlagOwnInRingOrder).
  static bool own_in_ring_order(const RecordView& v);
  // Every other message (JSON + blobs).
  void apply(std::uint16_t type, std::uint16_t producer, std::span<const std::byte> payload);
  void on_lapped(std::uint64_t lost);
  ClusterAdapter* adapter(std::string_view nsp) {
    auto it = adapters.find(std::string(nsp));
    return it == adapters.end() ? nullptr : it->second;
  }
};
}  // namespace shmio::cluster
