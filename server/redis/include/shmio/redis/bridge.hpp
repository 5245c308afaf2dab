// The fleet bridge (issue 13, docs/redis.md): a shmio host's one member of a Redis fleet of
// socket.io servers (Node servers with @socket.io/redis-adapter, other shmio hosts).
//
// It reads the host's ring and writes into it, like a worker without clients:
// - Out: every broadcast and cluster operation a worker (or a ring emitter) starts that is not
//   local and did not come from the fleet is published once, as the Node adapter publishes it.
// - In: what the fleet publishes is written into the ring once, flagged as from the fleet (never
//   published back): every worker delivers it to its own clients.
// - The host is one server to the fleet: the bridge answers the fleet's requests (allRooms,
//   fetchSockets, socketsJoin/Leave, disconnectSockets, serverSideEmit with acks, broadcasts with
//   acks) for all its workers, asking them through the ring; and a worker's request that reaches
//   every server (fetchSockets, serverSideEmit with acks, broadcast with acks) counts the bridge
//   as one more responder, which relays the fleet's answers (their number from PUBSUB NUMSUB, as
//   the Node adapter counts, or what came by the timeout).
// While Redis is unreachable local delivery goes on; what could not be published is counted
// (shmio_redis_unsent_total) and said once a second, not queued for later. A request of a worker
// is answered at once with no fleet answers then.
//
// Runs in its own process under the supervisor (restarted when it dies, like a worker).
// Thread-safety: everything on one io_context thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace shmio::redis {

// classic: @socket.io/redis-adapter's createAdapter (PUBLISH, PSUBSCRIBE). sharded: its
// createShardedAdapter (Redis 7's SPUBLISH, SSUBSCRIBE; socket.io-adapter's ClusterAdapter
// messages), with its subscription modes: "static" (main and response channels only), "dynamic"
// (also each room's channel while a worker has the room, except rooms named like a socket id),
// "dynamic-private" (every room's). Redis Cluster's redirections (MOVED) are not followed: one
// Redis server, or a proxy that routes shard channels.
enum class FleetMode { classic, sharded };
enum class ShardedSubscription { static_, dynamic, dynamic_private };

struct BridgeOptions {
  std::string ring;  // the host's ring
  int workers = 1;   // the cluster's workers (the bridge posts its metrics after theirs)
  std::string url = "redis://127.0.0.1:6379";
  FleetMode mode = FleetMode::classic;
  std::string key = "socket.io";  // the adapter's `key` (classic) or `channelPrefix` (sharded)
  ShardedSubscription subscription = ShardedSubscription::dynamic;  // (sharded: its default)
  // The workers add recovery offsets (connection state recovery): broadcasts from the fleet get
  // one too (their ring position), and offsets are taken off what is published.
  bool recovery = false;
  // The cluster runs a ring per worker (docs/ring-per-worker.md): the bridge also reads every
  // worker's ring (`ring`.w<i>, i < workers), and still writes into the shared one.
  bool ring_per_worker = false;
  // How long a request waits for the fleet's (or the workers') answers (the Node adapter's
  // requestsTimeout, 5 s by default). A broadcast with acks waits as long as its requester's own
  // timeout says instead (flags.timeout; at most 10 minutes).
  std::chrono::milliseconds request_timeout{5000};
  // Requests waiting for answers, in each direction (the fleet's for the workers, the workers'
  // to the fleet), at most. Reason: a member that floods requests must not grow the bridge's
  // memory; 10,000 is far above what 5 s of ordinary traffic holds. When hit: a fleet request is
  // dropped (its requester times out, as with a member that died), a worker's completes at once
  // with no fleet answers; both counted (shmio_redis_requests_refused_total) and said. Broadcasts
  // whose counts were sent and whose acks are still relayed are bounded by it apart (past it,
  // a broadcast's acks after its count are not relayed; counted and said the same way).
  std::size_t max_pending_requests = 10000;
  // A subscription Redis refuses (NOPERM from an ACL, a shard channel MOVED) is asked again after
  // this, and again after each refusal: an ACL being changed, a cluster resharding, is over by
  // then (before 2026-12-03 it was dropped for good: that namespace or room deaf until the bridge
  // restarted). Refusals are said at most once a minute and counted
  // (shmio_redis_subscriptions_refused_total). 0: never asked again.
  std::chrono::milliseconds resubscribe_after{60000};
  std::string uid;  // this host's id in the fleet; "" picks 6 random characters (as uid2(6))
  // Flow control, Redis -> ring. A reader of the ring (a worker) more than half the ring behind
  // would be lapped if the fleet's broadcasts went on coming in at that pace, and a lapped worker
  // disconnects its clients: the bridge then stops reading Redis (Redis holds what comes
  // meanwhile, up to its client-output-buffer-limit for pub/sub, past which it closes the
  // connection: the bridge connects again, and what was published meanwhile is lost, as for a
  // Node member) until every reader is under a quarter of the ring behind, or for at most this
  // long: a reader still behind by then (a worker stopped, stuck in its app's code, or slower
  // than what comes in) is passed over until it is under a quarter of the ring behind, and is
  // lapped as before. Looked at each time the bridge has written a 32nd of the ring. 0: no flow
  // control.
  std::chrono::milliseconds max_hold{1000};
};

struct BridgeStats {
  std::uint64_t published = 0;         // broadcasts published to the fleet (Redis took them)
  std::uint64_t received = 0;          // broadcasts of the fleet written into the ring
  std::uint64_t requests_out = 0;      // requests published for the workers (Redis took them)
  std::uint64_t requests_in = 0;       // the fleet's requests answered or applied
  std::uint64_t request_timeouts = 0;  // requests completed by the timeout
  std::uint64_t requests_refused = 0;  // over max_pending_requests
  std::uint64_t unsent = 0;            // messages not published (Redis unreachable)
  std::uint64_t bad_messages = 0;      // messages on the channels that did not decode
  std::uint64_t ring_failures = 0;     // fleet messages that could not be written into the ring
  std::uint64_t holds = 0;          // times Redis was no longer read for a reader behind (max_hold)
  std::uint64_t held_ms = 0;        // how long, in all
  std::uint64_t hold_timeouts = 0;  // holds ended by max_hold (a reader passed over)
  std::uint64_t answer_checks = 0;  // lapped: the workers asked what they still owe (ANSWERS_CHECK)
  std::uint64_t answers_found_lost = 0;  // ...requests whose worker's answers it found lost
  // Sockets of the fleet's answers to the workers' fetchSockets left out: past a quarter of the
  // ring (as they come, and as the answer's parts are made), or too large for a part.
  std::uint64_t fetch_sockets_left_out = 0;
};

class Bridge {
 public:
  // Attaches to the ring and creates the Redis clients; throws std::runtime_error with the reason
  // (no ring, a bad URL).
  Bridge(boost::asio::io_context& io, BridgeOptions options);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  void start();
  void stop();
  const BridgeStats& stats() const noexcept;
  const std::string& uid() const noexcept;
  // Its Prometheus series (labelled worker="bridge"), also posted on the workers' board.
  std::string metrics_text() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The bridge process's main: runs a Bridge until SIGTERM/SIGINT; returns its exit status (1 when
// it cannot start, with the reason on stderr).
int run_bridge(const BridgeOptions& options);

}  // namespace shmio::redis
