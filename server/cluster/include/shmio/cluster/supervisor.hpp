// The cluster's primary process: it owns the ring segment and the worker processes, and relays
// no messages (the workers talk through the ring).
//
// - Creates the ring segment. If one of that name exists: refuses when the process that created
//   it is alive (another cluster runs), removes it when that process is dead (a crash left it).
// - Forks one worker per CPU of its affinity mask (or `workers`), pins worker i to the i-th of
//   those CPUs (unless pin = false), and restarts a worker that dies, with backoff (100 ms,
//   doubling to 5 s while workers keep dying within 10 s of their start). Each death is published
//   on the ring (WORKER_DOWN) so that requests waiting for that worker complete at once.
// - On SIGTERM, SIGINT or SIGHUP it drains: every worker gets SIGTERM (stop accepting, clients
//   get "server shutting down"); workers still running after drain_timeout are killed; then the
//   ring is removed. Returns 1 if a worker had to be killed, or ended otherwise than by exiting 0
//   (or by a stop signal), each said on stderr.
// - With bridge_main, one more child: the fleet bridge (restarted like a worker).
// Workers get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/shm/segment.hpp"

namespace shmio::cluster {

struct WorkerContext {
  int index = 0;
  int workers = 1;
  int core = -1;     // the CPU it is pinned to, -1 if not pinned
  std::string ring;  // the ring segment's name
  // A directory only this user may enter, made for this cluster's hand-off sockets
  // (NodeOptions::handoff) and removed with it; empty if it could not be made (said on stderr:
  // the workers then use abstract addresses, named by the ring).
  std::string handoff_dir;
};

struct SupervisorOptions {
  std::string ring;  // the ring segment's name
  int workers = 0;   // 0: auto_workers() (one per CPU of the affinity mask, at most the cgroup's
                     // CPU limit rounded up: size anything per worker from that, not the mask)
  bool pin = true;
  std::uint64_t ring_bytes = 64ULL << 20;
  bool ring_huge_pages = false;  // RingConfig::huge_pages (shm/segment.hpp)
  std::chrono::milliseconds drain_timeout{10000};
  // Where a child says that it ends itself, its supervisor gone and its drain not done within
  // drain_timeout (called in the child; null: descriptor 2). serve() gives its stderr_fd(): a
  // worker's descriptor 2 is a pipe to its log thread, which the _exit that follows outruns.
  int (*stderr_fd)() noexcept = nullptr;
  // The watchdog: a child whose post on the workers' board (shm/board.hpp; a Node posts its
  // figures there every second from its event loop, the fleet bridge too) is older than this is
  // killed (SIGKILL, said on stderr) and restarted as after any death: its loop is stuck (an
  // endless app handler, a deadlock) and its clients get nothing. Only a child that has posted
  // since it started is watched (one that never posts never is: a child whose worker_main makes
  // no Node), and none while draining.
  // 0: off. (A stopped process — SIGSTOP, a debugger's breakpoint — is killed too once past it.)
  std::chrono::milliseconds watchdog{60000};
  // A producer stopped (SIGSTOP, Ctrl-Z: /proc state T) in the middle of a write to one of the
  // cluster's rings — a worker, an emitter (shmio-emit, an app's cluster::Emitter) — holds every
  // reader, and every producer a lap on, for as long as it stays stopped: a live producer's claim
  // is never repaired over (docs/ring.md). Once a ring's frontier has stood behind claims in flight
  // for this long with such a producer holding it, the supervisor continues it (SIGCONT), said on
  // stderr; one stopped by a debugger ('t') is said once, not touched. Looked at once a second
  // while the cluster runs. 0: never.
  std::chrono::milliseconds continue_stopped_after{5000};
  // Called in the supervisor once the ring exists and before workers start (e.g. to print).
  std::function<void(int workers)> on_start;
  // Called in the supervisor once the rings exist (`ring_id`: the shared ring's creation time,
  // which names its tables), before on_start and the workers: what it returns, if not empty, is
  // said ("shmio: cannot start: ...") and the start stops (exit 1, the rings removed). serve()
  // makes the recovery tables there (make_recovery_tables).
  std::function<std::string(std::uint64_t ring_id, int workers)> before_workers;
  // A ring per worker (NodeOptions::ring_per_worker, docs/ring-per-worker.md): the supervisor
  // also creates worker i's ring (worker_ring_name, worker_ring_config: ring_bytes each), checks
  // it with the shared one, frees a dead worker's reader slots on every ring, and removes them all
  // at the end. (A bridge_main must then read every worker's ring: BridgeOptions::ring_per_worker.)
  bool ring_per_worker = false;
  // A directory for the workers' hand-off sockets (WorkerContext::handoff_dir); false when they
  // hand nothing off (each worker on its own port).
  bool handoff_sockets = true;
  // The fleet bridge (shmio/redis/bridge.hpp, docs/redis.md): when set, it runs in a child of its
  // own (not pinned), supervised like a worker: restarted with the same backoff when it dies, its
  // death published on the ring (requests waiting for it complete), drained with the workers.
  std::function<int()> bridge_main;
  // Called just before each fork (before_fork) and just after it, in the supervisor and in the
  // child alike (after_fork): a thread that may hold a lock a child would need (a logging
  // thread inside a hook that takes its own lock) is kept out of it while the process is copied.
  // A program with an io_context of its own may call its notify_fork here (fork_prepare before;
  // after, fork_child where getpid() is no longer the supervisor's, else fork_parent): its
  // children then have their own Asio signal pipe, as it made it. Where it does not, each child
  // is given one before its worker_main (Asio keeps one pipe per process: shared with the
  // supervisor, a child's signal could be read by another process), or exits 1 (restarted) where
  // none could be had.
  std::function<void()> before_fork, after_fork;
};

// Worker i's own ring with a ring per worker: "<ring>.w<i>".
std::string worker_ring_name(const std::string& ring, int worker);
// How the supervisor makes it: `bytes` of data, made for one producer (its worker) with fenced
// commits (a worker parks on every ring while idle: a membarrier() per park would cost more than
// a fence per commit, docs/ring.md "Exclusive producers"), two reader slots for each worker (its
// reader, and a recovery replay's while one runs) plus 16 (tools; a worker restarting before its
// predecessor's slots are freed), at most 1024, 8 producer slots.
shm::RingConfig worker_ring_config(const std::string& ring, int worker, int workers,
                                   std::uint64_t bytes, bool huge_pages);

// The CPUs in this process's affinity mask, in order.
std::vector<int> affinity_cpus();

// The CPU time this process's cgroup may use, in CPUs (cgroup v2's cpu.max, or v1's
// cpu.cfs_quota_us / cpu.cfs_period_us): the tightest limit of its cgroup and the cgroup's
// ancestors, as a container runtime (docker --cpus, a Kubernetes CPU limit) or systemd's
// CPUQuota= sets it. nullopt where none is set, or none can be read (no cgroup file system, a
// file that does not parse: such a file is skipped, not an error).
std::optional<double> cgroup_cpu_limit();
// The same from given sources (tests): `proc_cgroup` the text of /proc/self/cgroup, `root` the
// directory the cgroup file systems are mounted under (/sys/fs/cgroup).
std::optional<double> cgroup_cpu_limit(std::string_view proc_cgroup, const std::string& root);

// How many workers `--workers auto` (workers = 0) runs: one per CPU of the affinity mask, but no
// more than the cgroup's CPU limit rounded up (at least one): a worker per CPU of a 64-core host
// inside a 4-CPU container would be throttled by the quota in every period, its clients' latency
// with it. `why` (if given) says so when the limit lowered the count, empty otherwise.
int auto_workers(std::string* why = nullptr);
// The same from given figures (tests): the affinity mask's CPU count and the cgroup's limit.
int auto_workers(std::size_t affinity, std::optional<double> limit, std::string* why = nullptr);

// A worker's exit status that says its start cannot succeed (it cannot listen on its address: an
// address not on this host, a port another program holds): at a worker's first start the
// supervisor then stops the cluster (exit status 1) instead of restarting it for ever. A worker
// started again after it had run is restarted whatever its status (what failed may pass).
inline constexpr int kWorkerCannotStart = 78;  // (EX_CONFIG of sysexits.h)

// The signals a shmio process stops on (drains) — SIGTERM, and SIGINT and SIGHUP unless they came
// in ignored (nohup; a shell script's background job has SIGINT ignored), which stay ignored —
// as they are now (ask before installing handlers of one's own). The supervisor, its workers and
// the fleet bridge take the same.
std::vector<int> stop_signals();
// SIGUSR1 and SIGUSR2 where they are at their default action now, which ends a process without its
// drain (a program's own handler, or an ignore, is left to it): the ones a shmio process — the
// supervisor, a worker, the fleet bridge, a single process — says and otherwise ignores while it
// runs, so that a log rotation's habitual `kill -USR1` does not end it.
std::vector<int> user_signals_at_default();
// At a shmio process's end: `sigs` (what user_signals_at_default gave it) blocked, `let_go` called
// (the signal set that took them clears them: Asio then puts them back at their default action),
// and those at their default action then left ignored, unblocked. A SIGUSR1 that comes while the
// process ends (its Node and Server let go of, its stderr drained) is ignored rather than ending
// it by that action (before 2026-12-07 a worker that had drained cleanly was "killed by signal 10
// during the drain"; a review).
void ignore_user_signals_after(const std::vector<int>& sigs, const std::function<void()>& let_go);
// The most workers a cluster has: the ring's 1,024 producer slots, 64 kept for emitters and tools.
// run_supervisor refuses more (exit status 1, said on stderr).
inline constexpr int kMaxWorkers = 960;

// Runs the cluster until SIGTERM, SIGINT or SIGHUP (a drain; SIGINT and SIGHUP only if they were
// not ignored when this was called, as under nohup or in a shell script's background job).
// worker_main runs in each forked
// worker (a fork without exec: it holds every descriptor this process had open, close-on-exec or
// not, and none of its other threads; docs/library.md, "threads"); its return value is the
// worker's exit status. Returns the supervisor's exit status (1
// if the ring could not be created, with the reason on stderr). While it runs, SIGPIPE is ignored
// in this process (a closed stderr pipe must not kill the supervisor and leave its rings behind)
// and SIGCHLD, SIGTERM, and (unless ignored) SIGINT and SIGHUP are blocked from its start (one that
// comes while the rings are being created starts the drain once the workers are up); both are
// restored after.
int run_supervisor(const SupervisorOptions& options,
                   const std::function<int(const WorkerContext&)>& worker_main);

}  // namespace shmio::cluster
