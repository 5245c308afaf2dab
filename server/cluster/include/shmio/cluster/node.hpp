// A worker's membership in the cluster: its RingWriter and RingReader on the shared ring (with
// NodeOptions::ring_per_worker: its writer on its own ring and a reader on each ring), the
// cluster adapter it installs in every namespace, the requests it waits on, and its counters.
//
// Data path of a broadcast (docs/cluster.md): the publishing worker encodes the packet once,
// writes it into one ring record (claim, write in place, commit), then delivers the same bytes to
// its own sockets ("publish first, then apply locally", as socket.io's ClusterAdapter) — except
// broadcasts that carry a recovery offset, which it delivers to its own sockets when its reader
// reaches them (ring order: kFlagOwnInRingOrder). Every other worker's reader copies the record
// once into a shared frame and hands it to its matching sockets. A worker skips its other own
// records when reading (it applied them already).
//
// Requests that wait for answers (fetch_sockets, server_side_emit with acks, broadcast with acks)
// expect one answer per live worker, known from the ring's registry (the producer slots labelled
// "worker-N"). A worker that dies is dropped from every pending request as soon as its death is
// known: from the supervisor's WORKER_DOWN record, or from the registry (checked every 100 ms
// while requests are pending) — never only at the timeout.
//
// Thread-safety: everything runs on the io_context's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shmio/cluster/metrics.hpp"
#include "shmio/socketio/server.hpp"

namespace boost::asio {
class io_context;
}

namespace shmio::cluster {

struct NodeOptions {
  std::string ring;  // the ring segment's name
  int worker = 0;    // this worker's index, 0..workers-1
  int workers = 1;   // how many workers the cluster runs (session ids route polling requests)
  int core = -1;     // the CPU it is pinned to (shown by shm-inspect), -1 if not pinned
  // Hand-off of HTTP connections between workers (empty: none). A path (it starts with '/'): a
  // directory only this user may enter (checked), where worker i's hand-off socket is the file
  // `i` — what run_supervisor makes (WorkerContext::handoff_dir). Otherwise a name for abstract
  // socket addresses, which have no permissions: a local process of another user that binds a
  // dead worker's address keeps its successor from starting (docs/cluster.md).
  std::string handoff;
  // Connection state recovery's session table (shm/session_store.hpp), shared by the cluster's
  // workers beside the ring, made only with connection state recovery on: entries (1..16,777,214)
  // and bytes each (a multiple of 64, 256..65536). Defaults 131,072 x 512 B (64 MiB of shared
  // memory, allocated whole when made). The worker that creates the table sets its size. A session
  // that does not fit (its state over a slot, or no free slot near its hash) is not saved: counted
  // in shmio_sessions_not_saved_total, and its client gets a fresh session if it has to recover.
  std::size_t max_sessions = 1u << 17;
  std::uint32_t session_bytes = 512;
  // One stderr line per recovery refused, with the reason (shmio --log-sockets).
  bool log_recoveries = false;
  // Rebalancing (docs/cluster.md), with workers on one shared port and hand-off: each worker
  // says its client count once a second; while it has more than the least loaded worker by a
  // margin (max(8, 10% of its count)) it hands fresh handshakes to that worker, and with
  // connection state recovery it also asks at most `rebalance_rate` of its clients per second
  // to reconnect while above the cluster's average by the margin (they recover wherever they
  // land, and a busy worker passes them on).
  bool rebalance = true;
  std::size_t rebalance_rate = 50;
  // A worker with this many descriptors or fewer left before its descriptor bound (the engine's
  // ServerOptions::descriptor_reserve below RLIMIT_NOFILE) takes no steered handshakes: it says
  // so at once (its count the most a worker can have, as a draining worker's) when a client
  // makes it so, not at its next count a second later. Reason: in a connect storm every other
  // worker steers to the least loaded one, and past its bound a worker refuses what is handed
  // to it, closing the client's connection (bench/e2e's 100,000 connections on 6 workers of
  // 20,000 descriptors: one worker reached its bound). 1024: about half a second of one steering
  // worker's handshakes in that run (76,773 steered by 6 workers in 6.7 s). 0: not looked at.
  std::size_t steer_room = 1024;
  // A ring per worker (docs/ring-per-worker.md): this worker writes everything it says into its
  // own ring, worker_ring_name(ring, worker) (made for one producer, created by the supervisor:
  // supervisor.hpp), and reads every other worker's ring and the shared one (`ring`: the
  // supervisor's WORKER_DOWN and the emitters' records). Each publish then takes no locked
  // instruction; only each worker's own order is kept (socket.io's cluster adapter keeps no
  // more). With connection state recovery each worker logs what it had delivered of every ring
  // before each run of records from one ring (its cut log, shm/cut_log.hpp) and writes its own
  // offset into the broadcasts it delivers: (its index, the log entry, the ring, the position).
  bool ring_per_worker = false;
  // The workers' cut logs (shm/cut_log.hpp), with a ring per worker and connection state
  // recovery: at most `cut_log_entries` entries per worker (16..2^28), fewer if the logs together
  // would take more than `cut_log_bytes` of shared memory (an entry is 8 x (workers + 3) bytes;
  // the object is allocated whole at creation). Defaults 262,144 and 256 MiB: 10 MiB a worker with
  // 2 workers (20 MiB in all), 56 MiB in all with 4, the 256 MiB cap from 8 workers on (16
  // workers: 110,376 entries each). Never fewer than 16 a worker: a `cut_log_bytes` too small
  // for that many is refused (make_recovery_tables says why; a worker that would make the logs
  // says "no cut log" and refuses recovery, as for logs /dev/shm cannot hold). An entry is taken
  // when a worker delivers a broadcast of another ring than the last broadcast it delivered: in
  // practice one per batch read (64 records) or per run of its own broadcasts; at 1,000 such runs a
  // second 2^18 entries last about 4 minutes (socket.io's default window is 2). A recovery whose
  // offset names an entry overwritten since is refused (a fresh session, counted in
  // shmio_recovery_failures_total), as one whose records the ring overwrote.
  std::uint32_t cut_log_entries = 1u << 18;
  std::size_t cut_log_bytes = std::size_t{256} << 20;
  // One shared ring with connection state recovery: what reaches this worker's own sockets
  // without going through the ring (a volatile or local emit, an emit with an ack, a room change,
  // fetchSockets' own look) waits until its reader has delivered this worker's own broadcasts
  // made before it, as in socket.io. At most this many such sends wait; past it the worker first
  // reads what its rings hold (a burst of its own writes in one turn is then delivered, and what
  // waited on it goes out, in order), then the oldest still waiting is sent at once, ahead of the
  // broadcasts it waited for (counted in shmio_held_sends_released_early_total, said on stderr at
  // most once per 10 s). Default 65,536: over a second of a worker's sends at 50,000 a second;
  // only a reader that cannot reach its own broadcasts (a producer stopped inside a claim, as in a
  // debugger, keeps every reader from what follows it) gets there, and the memory held grew with
  // the stop until 2026-12-06. Counted in sends, not bytes. 0: no bound.
  std::size_t max_held_sends = 65536;
};

// Counters of this worker (monotonic), for /metrics.
struct NodeStats {
  std::uint64_t broadcasts_published = 0;  // BROADCAST records written
  std::uint64_t broadcasts_received = 0;   // BROADCAST records of other workers applied
  std::uint64_t messages_published = 0;    // all records written
  std::uint64_t messages_received = 0;     // all records of others read
  std::uint64_t publish_failures = 0;      // records that could not be written (too large)
  std::uint64_t laps = 0;                  // times this worker's reader was lapped
  std::uint64_t lost_records = 0;          // records it lost to laps
  std::uint64_t lap_disconnects = 0;       // clients disconnected because of a lap
  std::uint64_t answer_checks = 0;  // after a lap, its waiting requests asked about (ANSWERS_CHECK)
  std::uint64_t answers_found_lost = 0;  // ...a worker's answers to one found lost by the replies
  std::uint64_t drain_yields = 0;        // reads of the rings cut at their budget, the rest posted
  std::uint64_t bad_records = 0;         // records that did not decode (skipped)
  std::uint64_t handoffs_failed = 0;     // connections that could not be handed over
  std::uint64_t handoffs_refused = 0;    // hand-off connections of another user, bad messages
  std::uint64_t recoveries = 0;          // sessions restored from the ring
  std::uint64_t recovery_failures = 0;   // offset no longer in the ring, or unknown session
  std::uint64_t sessions_not_saved = 0;  // recovery sessions that did not fit the table
  std::uint64_t sessions_not_forgotten = 0;  // closed ones left in it (slots held, queue full)
  std::uint64_t rebalance_steered = 0;  // fresh handshakes steered (hand-off tried; kept ones too)
  std::uint64_t rebalance_kept = 0;     // ...whose hand-off failed: served here (not dropped)
  std::uint64_t rebalance_shed = 0;     // clients asked to reconnect (they recover elsewhere)
  std::uint64_t handoff_waits = 0;      // hand-offs that waited (up to 200 ms) on a full queue
  std::uint64_t held_sends_released_early = 0;  // past max_held_sends: sent before their turn
  std::uint64_t rooms_told = 0;  // ROOM_CHANGED records published (for a sharded fleet bridge)
};

// Lifetimes: a Node outlives the socketio::Server it was started for (the Server's adapters and
// hand-off callbacks refer to it): made first, since its constructor fills the Server's options,
// it is destroyed last in the usual order. A Server destroyed first while the Node goes on (the
// io_context running) is let go of: the Node serves none from then on (it reads the ring, says it
// takes no fresh handshakes, as draining() does, and stops as ever; before 2026-12-05 it read the
// freed Server). The io_context may run on after both are gone.
class Node {
 public:
  // Attaches to the ring (throws std::runtime_error with the reason if it cannot) and sets the
  // cluster's fields of `options`: the adapter factory, the session-id prefix, ack ids,
  // SO_REUSEPORT and polling hand-off. Then construct the socketio::Server with those options and
  // call start().
  Node(boost::asio::io_context& io, NodeOptions options, socketio::ServerOptions& server_options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts reading the ring (and accepting hand-offs) for this server. Once: a Node serves one
  // Server.
  void start(socketio::Server& server);
  // Runs `f` (on the io_context's thread) once this worker is ready for clients: at once after
  // start() (the recovery sessions of every worker are in the shared table from the first
  // instant; nothing is asked of a peer). A worker should listen only then: readiness may come
  // to need more than start() in a later version.
  void when_ready(std::function<void()> f);
  // Cluster-wide /metrics (docs/cluster.md, "Metrics for the whole cluster"): `render` writes
  // this worker's exposition (its series labelled worker="i"); it is posted on the workers' board
  // in shared memory once a second, at every scrape, and in start() before it returns (set it
  // first: the supervisor's watchdog watches a worker from its first post, and kills one whose
  // last post is older than its timeout — so a program that calls start() should turn its loop
  // soon after). cluster_metrics_text() posts this
  // worker's, then merges every live worker's last post into one exposition with cluster totals
  // (worker="all"). Without a board (it could not be opened: said at start), this worker's only.
  void set_local_metrics(std::function<std::string()> render);
  std::string cluster_metrics_text();
  struct WorkerStatus {
    int worker;
    pid_t pid;
    bool alive;                  // its process lives
    std::int64_t posted_ms_ago;  // since its last post on the board
    std::int64_t connections;    // open Engine.IO sessions in that post (-1: not in it)
  };
  // Every worker that posted on the board, in worker order (/health).
  std::vector<WorkerStatus> workers_status() const;
  // The fleet bridge (shmio --redis), as its last post on the board says (nullopt: no bridge has
  // posted): whether its process lives, how long ago it posted, whether both of its Redis
  // connections were up then, and what it had not been able to publish (/health "fleet").
  struct BridgeStatus {
    pid_t pid;
    bool alive;
    std::int64_t posted_ms_ago;
    bool connected;
    std::int64_t unsent;
  };
  std::optional<BridgeStatus> bridge_status() const;
  // This worker drains (it accepts no more connections): the others are told at once that it
  // takes no fresh handshakes (its load figure said as the most a worker can have), so that none
  // is steered to it while it closes (it would drop them); said so until stop().
  void draining();
  // Stops reading; the writer stays until destruction.
  void stop();

  const NodeStats& stats() const noexcept;
  int worker() const noexcept;
  // Live workers (including this one), from the registry.
  std::size_t server_count() const;
  // The Prometheus text of this worker's ring and node counters, and the ring's totals.
  std::string metrics_text() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The first two characters of a session id that worker `index` creates (0..4095).
std::string session_prefix(int index);

// Makes the recovery tables of the cluster whose shared ring is `o.ring` (made at `ring_id`) as
// its workers would make them with connection state recovery (NodeOptions: max_sessions,
// session_bytes, and with ring_per_worker the cut logs for `o.workers` workers), whole in
// /dev/shm: what cannot be made, said with its cause (RecoveryTables::Refused::no when all were). A
// supervisor calls it before its workers start, so that tables that do not fit stop the start (each
// worker would say it and go on without recovery). The tables stay; the workers open them.
struct RecoveryTables {
  enum class Refused {
    no,             // every table was made
    cut_log_bound,  // the cut logs' bound (cut_log_bytes) holds too few entries a worker: nothing
                    // was made (the cure: a larger bound, or fewer workers)
    not_made,       // a table could not be made (its size, /dev/shm's room, a permission)
  };
  Refused refused = Refused::no;
  std::string why;  // what could not be made, and why ("" when all were)
};
RecoveryTables make_recovery_tables(const NodeOptions& o, std::uint64_t ring_id);
// The worker that created a session id, or -1.
int session_owner(const std::string& sid);

}  // namespace shmio::cluster
