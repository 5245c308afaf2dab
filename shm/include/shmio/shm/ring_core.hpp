// The protocol steps shared by writers, readers and the notifier: advancing the frontier,
// waking and parking, finding the oldest valid record, and repairing a dead producer's claim.
// docs/ring.md explains each step; the memory-ordering points are marked SYNC POINT with their
// partner.
//
// Thread-safety: every function here may be called concurrently from any thread of any attached
// process (the functions that write require a writable Segment).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "shmio/shm/process.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm::core {

// Moves the frontier over every complete record at it, stamping each next record's index, and
// wakes parked waiters if it moved. Returns true if this call moved it.
bool advance_frontier(const Segment& s) noexcept;

// The committer's advance (docs/ring.md, "The committer's own records (C1-C3)"). A committer
// with records [first, end):
//   1. before sealing them, frontier_index(s, first, index): true if the frontier is at `first`
//      (where it then stays until the first record is sealed), with the index stamped there
//      (final: nobody can lap onto that unit before the seal); if so it stamps each of its records'
//      successor units itself, with plain stores (nobody else can write them before its seals);
//   2. seals them (release stores); if it stamped, move_frontier(s, first, end): one CAS over all
//      of them; true if it moved the frontier (then it also went on over complete records after
//      them and woke the parked);
//   3. otherwise (or if the CAS lost), advance_after_seals(s): a seq_cst fence (the Dekker pair
//      with a concurrent advancer's frontier CAS then tail or seal load), then advance_frontier().
inline bool frontier_index(const Segment& s, std::uint64_t first, std::uint64_t& index) noexcept;
// tail_skips: the caller's own count (a RingWriter's), see move_frontier's body.
inline constexpr std::uint8_t kTailSkips = 15;
inline bool move_frontier(const Segment& s, std::uint64_t first, std::uint64_t end,
                          std::uint8_t& tail_skips) noexcept;
bool advance_after_seals(const Segment& s) noexcept;

// Before writing any byte of [.., end) into the ring (a claim, a repair's padding): makes the
// horizon at least `end` rounded down to a granule, and orders that before the caller's writes
// (W5, docs/ring.md). One load when another claim raised it already; an RMW once per granule.
inline void raise_horizon(const Segment& s, std::uint64_t end) noexcept {
  std::atomic<std::uint64_t>& h = s.control().horizon.horizon;
  const std::uint64_t mark = end & ~(layout::horizon_granule(s.capacity()) - 1);
  // SYNC POINT READ/WRITE: horizon. Acquire: if someone else raised it far enough, their raise
  // happens-before our writes too; pairs with the readers' horizon load after their fence (R2).
  std::uint64_t cur = h.load(std::memory_order_acquire);
  while (
      static_cast<std::int64_t>(mark - cur) > 0 &&
      !h.compare_exchange_weak(cur, mark, std::memory_order_acq_rel, std::memory_order_acquire)) {
  }
  // (Orders the load/RMW above before the caller's plain stores into the ring.)
  std::atomic_thread_fence(std::memory_order_release);
}

// Wakes everyone parked on the ring's futex word, if anyone is parked.
inline void wake_waiters(const Segment& s) noexcept;
void wake_all(const Segment& s) noexcept;  // (wake_waiters' system call)

// Exclusive-producer rings (docs/ring.md, "Exclusive producers"). A producer registers its
// process once for membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) and then commits without a CPU
// fence; a parker in the producer's process runs the barrier (the private command, and the
// global one) between its waiters increment and its frontier re-check, one in another process
// asks the producer to fence (parking_cover).
// register_expedited_barrier(): false where the kernel (before 4.16) or a seccomp profile refuses.
// expedited_barrier(): false where either command fails in this process; then park() bounds its
// sleep (kUnsureParkNs), since it cannot be sure the producer sees it.
bool register_expedited_barrier() noexcept;
bool expedited_barrier() noexcept;
inline constexpr std::uint64_t kUnsureParkNs = 1'000'000;  // 1 ms

// What a parker on ring `s` does, after announcing itself and before its frontier re-check, so
// that the producer's next commit either is seen by that re-check or sees the announcement (the
// Dekker pair of parking; docs/ring.md "Exclusive producers", X4/X5). Only rings made for one
// producer without fenced commits need anything:
// - no producer, or one that fences every commit since it answered the fence request (its owner
//   word in fence_acked): nothing;
// - a producer in this process: `barrier` (expedited_barrier(), whose private command covers it);
// - a live producer in another process that has not answered: the request is made (fence_asked;
//   the producer answers at its next commit, and fences from then on), and until then the parker
//   runs the barrier and is `bounded`: it sleeps at most kUnsureParkNs at a time, since the global
//   command can skip that producer's CPU (docs/ring.md "Exclusive producers", X6) — unless none
//   of the producer's threads is runnable (on x86, looked at through /proc at most once per
//   kFenceLookNs per thread): the parker then answers for it (X7) and needs nothing;
// - a dead producer: nothing (it commits no more; one that takes the ring after it sees us).
// The caller runs the barrier if `barrier`, and bounds its sleep if `bounded` or the barrier
// failed; with several rings, once for all of them.
struct ParkingCover {
  bool barrier = false;
  bool bounded = false;
};
ParkingCover parking_cover(const Segment& s) noexcept;
inline constexpr std::uint64_t kFenceLookNs = 4'000'000;  // 4 ms

// A waiter's count in the ring's `waiters` is kept in a slot of its process as well (a reader
// slot's `parked`), so that whoever frees the slot of a process that died waiting takes the count
// back (registry::take_reader, registry::reap_dead_readers; docs/ring.md "Dead waiters").
// Otherwise a dead waiter's count stays, and every later commit makes a futile FUTEX_WAKE. The
// ring's count goes up first and down last, so a slot never holds more than its process put in.
inline void announce_waiter(const Segment& s, std::atomic<std::uint32_t>* slot) noexcept {
  s.control().wake.waiters.fetch_add(1, std::memory_order_seq_cst);
  if (slot != nullptr) slot->fetch_add(1, std::memory_order_seq_cst);
}
// A waiter's arming, after announce_waiter (P1): reads the futex word it will wait on, then the
// wake epoch, and raises the ring's armed_epoch to that epoch (a max: a slow waiter never lowers
// it) before its frontier re-check (P2), and before the membarrier() of a ring made for one
// producer. Returns the word. (The word before the epoch: a wake that moves the epoch past what we
// read bumps the word after it, so after our read: our wait on that word is released.)
inline std::uint32_t arm_wait(const Segment& s) noexcept {
  layout::WakeBlock& w = s.control().wake;
  const std::uint32_t word = w.futex_word.load(std::memory_order_seq_cst);
  const std::uint64_t e = w.epoch.load(std::memory_order_seq_cst);
  std::uint64_t a = w.armed_epoch.load(std::memory_order_seq_cst);
  while (a < e && !w.armed_epoch.compare_exchange_weak(a, e, std::memory_order_seq_cst,
                                                       std::memory_order_seq_cst)) {
  }
  return word;
}
inline void withdraw_waiter(const Segment& s, std::atomic<std::uint32_t>* slot) noexcept {
  if (slot != nullptr) slot->fetch_sub(1, std::memory_order_seq_cst);
  s.control().wake.waiters.fetch_sub(1, std::memory_order_seq_cst);
}
// The waits a dead process's slot holds, taken back out of the ring's count (the slot's count
// zeroed). For slots whose owner is dead, or free (whose count is 0).
inline void take_back_waits(const Segment& s, std::atomic<std::uint32_t>& slot) noexcept {
  const std::uint32_t n = slot.exchange(0, std::memory_order_seq_cst);
  if (n != 0) s.control().wake.waiters.fetch_sub(n, std::memory_order_seq_cst);
}

// Blocks until the frontier differs from `frontier_seen`, the timeout passes, or a spurious wake.
// Returns true if it returned because of a wake or a change (not the timeout). `slot`: where this
// process keeps its count of the wait (announce_waiter), or nullptr.
bool park(const Segment& s, std::uint64_t frontier_seen, std::chrono::nanoseconds timeout,
          std::atomic<std::uint32_t>* slot = nullptr) noexcept;

// park() on several rings at once: blocks until one ring's frontier differs from its
// `frontiers_seen` entry, the timeout passes, or a spurious wake; true if not the timeout. The
// same announcement as park() on every ring (waiters, one membarrier for all where a ring needs
// it, each frontier re-checked), then one futex_waitv(2) on all their futex words (Linux 5.16+).
// Where the kernel lacks it (ENOSYS), or with `vectored` false, it parks on one ring at a time
// for at most kParkAnySliceNs, taking them in turn across calls: a commit on another ring is then
// seen within that slice. At most kParkAnyMax rings (futex_waitv's own bound); more, or none, or
// spans of different lengths: returns false at once.
inline constexpr std::size_t kParkAnyMax = 128;
inline constexpr std::uint64_t kParkAnySliceNs = 1'000'000;  // 1 ms
// `slots`: empty, or one per ring (entries may be nullptr), as park()'s `slot`.
bool park_any(std::span<const Segment* const> rings, std::span<const std::uint64_t> frontiers_seen,
              std::chrono::nanoseconds timeout, bool vectored = true,
              std::span<std::atomic<std::uint32_t>* const> slots = {}) noexcept;

// The oldest record still fully in the ring, given a tail read just before: the first sealed
// record start after tail - capacity and below the frontier, a capacity looked at at most, or the
// frontier if there is none; with a tail behind the frontier (stale, or damaged) and none found,
// the first after frontier - capacity.
std::uint64_t find_oldest(const Segment& s, std::uint64_t tail, std::uint64_t frontier) noexcept;

// The number of non-padding records before the record at `position` (which must be a record
// start below or at the frontier).
inline std::uint64_t index_at(const Segment& s, std::uint64_t position) noexcept {
  return s.meta(position).index.load(std::memory_order_acquire);
}

// Called by a waiter that saw the frontier stuck while claims are in flight for a while. Helps
// advance; if the record at the frontier belongs to a dead producer, turns the hole into padding.
// Returns true if the frontier moved.
enum class StallOutcome { moved, owner_alive, repaired, nothing_in_flight, busy };
StallOutcome resolve_stall(const Segment& s) noexcept;

// The live producer whose claim holds the frontier while claims are in flight (the one CLAIMED
// over it; failing one, one CLAIMING — its position not out yet —, a stopped one first), with its
// /proc state ('T' stopped, 't' under a debugger): nullopt if none (nothing in flight at the
// look, or the claim is a dead producer's, which resolve_stall repairs). A live producer is never
// repaired over, so one stopped in the middle of a write holds every reader, and every producer a
// lap on, until it goes on: what a supervisor looks at (SupervisorOptions::continue_stopped_after).
struct FrontierHolder {
  pid_t pid = 0;
  char state = 0;          // /proc state: 'T' stopped, 't' stopped by a tracer, else running
  std::uint16_t slot = 0;  // its producer slot
  std::string label;
  std::uint64_t start_time = 0;  // its /proc start time (ProcessIdentity): who the pid named
  bool stopped() const noexcept { return state == 'T' || state == 't'; }
};
std::optional<FrontierHolder> frontier_holder(const Segment& s);

// What every waiter that sees claims in flight does (a gated producer, a parked reader, the
// notifier): once the frontier has stayed at one value for the segment's dead_check_interval, it
// calls resolve_stall(), then again after each further interval while it stays there.
class StallWatch {
 public:
  // `frontier`, `now`: where the wait starts (the interval counts from there); by default the first
  // check() starts it.
  explicit StallWatch(const Segment& s, std::uint64_t frontier = ~0ULL,
                      std::uint64_t now = 0) noexcept
      : s_(s), interval_(s.dead_check_interval_ns()), seen_(frontier), since_(now) {}
  // Called with the frontier and the time while claims are in flight.
  void check(std::uint64_t frontier, std::uint64_t now) noexcept {
    if (frontier != seen_) {
      seen_ = frontier;
      since_ = now;
    } else if (now - since_ >= interval_) {
      resolve_stall(s_);
      since_ = now;
    }
  }
  std::uint64_t interval() const noexcept { return interval_; }
  // (Where it stands, for a waiter that keeps it across calls: StallWatch(s, seen(), since()).)
  std::uint64_t seen() const noexcept { return seen_; }
  std::uint64_t since() const noexcept { return since_; }

 private:
  const Segment& s_;
  std::uint64_t interval_;
  std::uint64_t seen_;
  std::uint64_t since_;
};

// Test hooks: called at the named points of a claim, so a test can stop or kill a producer
// exactly there. Only in a library built with SHMIO_RING_TEST_HOOKS (the build's
// shmio_shm_test_hooks, which the crash and process tests link): elsewhere a claim calls no hook
// and set_test_hook() has no effect (test_hooks_compiled() says which).
// (before_write: after the claim passed its gate and raised the horizon, before its first byte.)
enum class HookPoint {
  after_intent,
  after_fetch_add,
  after_gate,
  before_write,
  before_seal,
  after_seal,
  // registry (writers' and readers' attach): a slot just marked TAKING, not yet filled; filled,
  // not yet ACTIVE (an exclusive ring's: not yet OWNING); OWNING, the owner word not yet taken;
  // OWNING with the owner word taken, not yet ACTIVE (position: the slot's index)
  slot_taken,
  slot_filled,
  slot_owning,
  slot_owned,
  // resolve_stall's book-keeping: a dead producer's slot judged dead, not yet marked DEAD
  // (position: the slot's index)
  repair_judged,
  // the repair lock just taken (stolen from a dead holder, or free), nothing repaired yet
  // (position: 0)
  repair_locked
};
using HookFn = void (*)(HookPoint point, std::uint64_t position);
void set_test_hook(HookFn fn) noexcept;
HookFn test_hook() noexcept;
bool test_hooks_compiled() noexcept;
// The hook's call at `point` in the library's own code: compiled in for its tests' build only
// (SHMIO_RING_TEST_HOOKS), nothing elsewhere. (One definition for ring_core, the writer and the
// registry, each of which had its own copy; internal linkage, as theirs had: the libraries with
// and without hooks define it differently.)
static inline void hook([[maybe_unused]] HookPoint point,
                        [[maybe_unused]] std::uint64_t position) noexcept {
#ifdef SHMIO_RING_TEST_HOOKS
  if (auto fn = test_hook()) fn(point, position);
#endif
}

// Bounded spin, then yield: what a waiter does before it parks or checks liveness.
void cpu_relax() noexcept;

// The spinning part of a wait: calls ready() until it is true (returns true) or the clock
// (monotonic_ns) passes `until_ns`, looked at every 64 calls (returns false).
template <class Ready>
bool spin_until(Ready&& ready, std::uint64_t until_ns) noexcept {
  for (unsigned i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 0 && monotonic_ns() >= until_ns) return false;
    cpu_relax();
  }
}

// --- inline definitions (the committer's fast path) -------------------------------------------

inline void wake_waiters(const Segment& s) noexcept {
  // SYNC POINT READ: waiter count, then the epoch a waiter armed at [A3]. The caller's seq_cst
  // CAS on the frontier precedes these loads in the single total order; pairs with a waiter's
  // seq_cst waiters increment and armed-epoch raise before its frontier re-check (park(), P1/P2).
  // (An exclusive producer's frontier store is ordered before them by its fence, or by the
  // parker's membarrier(): RingWriter::finish.) Only a waiter that armed at the current epoch
  // needs a wake: one armed at an older epoch was released by the wake that moved the epoch on
  // (it read the word before that wake bumped it), so while armed_epoch is behind, the commit
  // makes no system call (docs/ring.md "Wake epochs").
  const layout::WakeBlock& w = s.control().wake;
  if (w.waiters.load(std::memory_order_seq_cst) != 0 &&
      w.armed_epoch.load(std::memory_order_seq_cst) >= w.epoch.load(std::memory_order_seq_cst))
    wake_all(s);
}

inline bool frontier_index(const Segment& s, std::uint64_t first, std::uint64_t& index) noexcept {
  // SYNC POINT READ: frontier at our first record. Pairs with the CAS that moved it here, after
  // which the index stamped at `first` is visible. Once seen at `first` the frontier stays there
  // until the caller seals its record (it is monotonic, and nobody passes an unsealed record), so
  // nobody can lap the ring onto that unit meanwhile: the index read is final.
  if (s.control().frontier.frontier.load(std::memory_order_acquire) != first) return false;
  index = s.meta(first).index.load(std::memory_order_relaxed);
  return true;
}

inline bool move_frontier(const Segment& s, std::uint64_t first, std::uint64_t end,
                          std::uint8_t& tail_skips) noexcept {
  // SYNC POINT WRITE: frontier, over the caller's own records at once (their seals and stamps
  // are sequenced before this). Pairs with readers' acquire loads, as in advance_frontier().
  if (!s.control().frontier.frontier.compare_exchange_strong(first, end, std::memory_order_seq_cst))
    return false;
  // Records after ours sealed meanwhile: their committers may have seen the frontier below them
  // and left them to us. Our side of the Dekker pair with their fence and frontier load is a
  // seq_cst load after this CAS: first of the tail (in a shared ring only claims' seq_cst
  // fetch_adds modify it) — still at `end`, nobody has claimed after us, every later claim's
  // fetch_add follows our load in the single total order, and the frontier load sequenced after
  // it reads `end` or later: the claimer at `end` passes its own record itself — and only when
  // someone has claimed, of the seal at `end`. The tail's line is the claimers' (a reader loads
  // it near a lap, before it parks, looking for a stall), the seal entries' the one a busy
  // reader polls: with one producer the common case reads no line the reader holds (docs/ring.md,
  // "C2 looks at the tail before the seal": 1P -> 1R 1.1-1.2x with it). Where producers claim
  // close behind each other the tail has mostly moved, and its line is then another claimer's: a
  // tail that showed a later claim makes the next kTailSkips calls of this writer go to the seal
  // at once (either load alone completes the pair). Then the parked are woken once.
  bool quiet = false;  // nobody has claimed after us
  if (tail_skips == 0) {
    quiet = s.control().tail.tail.load(std::memory_order_seq_cst) == end;
    if (!quiet) tail_skips = kTailSkips;
  } else {
    --tail_skips;
  }
  if (quiet || s.meta(end).seal.load(std::memory_order_seq_cst) != layout::seal_of(end) ||
      !advance_frontier(s))
    wake_waiters(s);
  return true;
}

}  // namespace shmio::shm::core
