#include "shmio/shm/ring_core.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

// futex_waitv(2) (Linux 5.16; the headers of older kernels lack it): the same syscall number on
// every architecture that has it.
#ifndef FUTEX_WAITV_MAX
struct futex_waitv {
  std::uint64_t val;
  std::uint64_t uaddr;
  std::uint32_t flags;
  std::uint32_t reserved;
};
#define FUTEX_32 2
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace shmio::shm::core {

using namespace layout;
namespace {

std::atomic<HookFn> g_hook{nullptr};

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val,
           const timespec* timeout) noexcept {
  // Shared futex: no FUTEX_PRIVATE_FLAG, because waiters and wakers are different processes.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, timeout, nullptr, 0);
}

// Raises `slot` to at least `value`. Indices only ever grow for a given unit, so a stale writer
// (one that computed its value long ago) can never lower a newer, larger value.
void store_index_max(std::atomic<std::uint64_t>& slot, std::uint64_t value) noexcept {
  std::uint64_t cur = slot.load(std::memory_order_relaxed);
  while (cur < value && !slot.compare_exchange_weak(cur, value, std::memory_order_release,
                                                    std::memory_order_relaxed)) {
  }
}

}  // namespace

void set_test_hook(HookFn fn) noexcept {
  g_hook.store(fn, std::memory_order_relaxed);
}
HookFn test_hook() noexcept {
  return g_hook.load(std::memory_order_relaxed);
}
bool test_hooks_compiled() noexcept {
#ifdef SHMIO_RING_TEST_HOOKS
  return true;
#else
  return false;
#endif
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

void wake_all(const Segment& s) noexcept {
  WakeBlock& w = s.control().wake;
  w.epoch.fetch_add(1, std::memory_order_seq_cst);  // (before the word: wake_waiters, arm_wait)
  w.futex_word.fetch_add(1, std::memory_order_seq_cst);
  futex(&w.futex_word, FUTEX_WAKE, INT_MAX, nullptr);
}

bool register_expedited_barrier() noexcept {
  // Registration is per process and lasts; the kernel takes a repeated one as a no-op.
  static const bool registered =
      ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  return registered;
}

bool expedited_barrier() noexcept {
  // MEMBARRIER_CMD_GLOBAL_EXPEDITED skipped the producer's CPU: no barrier on the producer, and a
  // lost wake (found 2026-12-06 by Waits/AWaiterRacingACommit in the whole test binary, one run
  // in three: its rounds ran ten times faster than alone, no IPI being sent). Most likely (by the
  // kernel's design; not traced in its source here) because the command interrupts the CPUs
  // whose runqueue is marked as running a registered process, a mark refreshed when a CPU
  // switches between processes: one idle on the producer's memory map (lazily) when the producer
  // registered, and running only that process since, stays unmarked. The
  // private command looks at each CPU's current process instead: it covers every producer thread
  // of this process, and a failure of it is a failure of the barrier. (Producers in other
  // processes are asked to fence instead: parking_cover, X6.)
  static const bool private_registered =
      ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  const bool private_done =
      private_registered && ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
  const bool global_done = ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
  return private_done && global_done;
}

ParkingCover parking_cover(const Segment& s) noexcept {
  if (!s.exclusive_producer() || s.fenced_commits()) return {};
  Control& c = s.control();
  // SYNC POINT READ [X6]: the owner word after our announcement (P1, seq_cst). A producer that
  // takes the ring after this load took it with a seq_cst CAS (registry.cpp, take_exclusive)
  // later in the single total order than our increment, and its commits' waiters loads (seq_cst)
  // follow that CAS: they see our count.
  const std::uint32_t owner = c.repair.exclusive_owner.load(std::memory_order_seq_cst);
  const std::uint32_t held = owner & kOwnerSlotMask;
  if (held == 0 || held > s.max_producers()) return {};
  // The owner fences every commit since its answer, whose release store follows its stores of the
  // frontier before it: the acquire here makes those visible to our re-check, and each commit
  // after it pairs with us by its own fence (the symmetric Dekker pair). (No earlier owner's
  // answer reads as this one's: take_exclusive clears an answer equal to the word it takes.)
  std::uint32_t acked = c.wake.fence_acked.load(std::memory_order_seq_cst);
  if (acked == owner) return {};
  // (The slot's pid was written before its owner took the word, which we read above. If the slot
  // changed hands since, so did the word: a later owner is covered as above.)
  const layout::ProducerSlot& slot = s.producer_slot(static_cast<std::uint16_t>(held - 1));
  const ProcessIdentity who{slot.pid.load(std::memory_order_acquire),
                            slot.start_time.load(std::memory_order_acquire)};
  if (who.pid == self_identity().pid) return {true, false};
  // A dead owner commits nothing more (and whoever takes the ring from it sees our count, as
  // above): no request, no bound — else its parkers would wake every millisecond until someone
  // takes the ring. (A /proc look, only while a live owner in another process has not answered.)
  if (liveness(who) == Liveness::dead) return {};
  if (c.wake.fence_asked.load(std::memory_order_relaxed) == 0)
    c.wake.fence_asked.store(1, std::memory_order_seq_cst);
#if defined(__x86_64__) || defined(__i386__)
  // X7: an owner none of whose threads is runnable, seen so in two looks at least kFenceLookNs
  // apart after the request was visible to every CPU (our seq_cst store, or a load that saw an
  // earlier one: x86 stores are seen by all CPUs at once), is answered for here. A thread seen
  // blocked stored its state (a full barrier, and x86 makes a thread's stores visible in order)
  // after its last commit's stores, so those are visible; each commit it makes after it blocked
  // loads fence_asked as 1, so it fences — unless it set itself running again without sleeping
  // and that store was still unseen when we looked (a window of a store buffer's drain, which the
  // second look, milliseconds later, leaves no room for: docs/ring.md X7). Without it an idle
  // owner never answered, and its parkers woke every millisecond until its next commit. (At most
  // one look per kFenceLookNs per thread, longer after a slow one: a few tens of microseconds.)
  struct Look {
    std::uint64_t next = 0;         // the earliest time of the next look
    const Control* ring = nullptr;  // the owner found idle by the last look, and when
    std::uint32_t owner = 0;
    std::uint64_t at = 0;
  };
  static thread_local Look look;
  if (const std::uint64_t now = monotonic_ns(); now >= look.next) {
    const bool idle = no_thread_running(who);
    const std::uint64_t done = monotonic_ns();
    look.next = done + std::max<std::uint64_t>(kFenceLookNs, 16 * (done - now));
    const bool again = idle && look.ring == &c && look.owner == owner;
    if (!idle) {
      look.ring = nullptr;
    } else if (!again) {
      look = Look{look.next, &c, owner, done};
    } else if (now - look.at >= kFenceLookNs &&
               // (Still that owner after the look: a successor may have answered meanwhile, and
               // its answer is not overwritten with this word.)
               c.repair.exclusive_owner.load(std::memory_order_seq_cst) == owner &&
               (c.wake.fence_acked.compare_exchange_strong(acked, owner,
                                                           std::memory_order_seq_cst) ||
                acked == owner)) {
      look.ring = nullptr;
      return {};
    }
  }
#endif
  return {true, true};
}

bool park(const Segment& s, std::uint64_t frontier_seen, std::chrono::nanoseconds timeout,
          std::atomic<std::uint32_t>* slot) noexcept {
  WakeBlock& w = s.control().wake;
  FrontierBlock& f = s.control().frontier;
  announce_waiter(s, slot);                // P1
  const std::uint32_t word = arm_wait(s);  // P1b: the word, then the epoch we arm at
  // An exclusive producer stores the frontier and loads the waiter count with no fence between
  // (until it fences on request): the barrier, run on its CPU, is that fence (the asymmetric
  // Dekker pair, docs/ring.md, "Exclusive producers"). Without it, or where the barrier cannot
  // be trusted to reach the producer, we may miss a wake: sleep a bounded slice only. (Not on a
  // ring made with fenced commits: its producer fences each commit itself.)
  const ParkingCover cover = parking_cover(s);
  const bool barrier_done = !cover.barrier || expedited_barrier();
  if (cover.bounded || !barrier_done)
    timeout = std::min(timeout, std::chrono::nanoseconds(kUnsureParkNs));
  // SYNC POINT READ [P2]: frontier re-checked after announcing ourselves. Either this load sees
  // the advancer's CAS, or the advancer's loads (wake_waiters) see our increment and our epoch.
  bool woke = true;
  if (f.frontier.load(std::memory_order_seq_cst) == frontier_seen) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    long rc = futex(&w.futex_word, FUTEX_WAIT, word, &ts);
    woke = !(rc != 0 && errno == ETIMEDOUT);
  }
  withdraw_waiter(s, slot);
  return woke;
}

bool park_any(std::span<const Segment* const> rings, std::span<const std::uint64_t> frontiers_seen,
              std::chrono::nanoseconds timeout, bool vectored,
              std::span<std::atomic<std::uint32_t>* const> slots) noexcept {
  const std::size_t n = rings.size();
  if (n == 0 || n > kParkAnyMax || frontiers_seen.size() != n) return false;
  if (!slots.empty() && slots.size() != n) return false;
  auto slot = [&](std::size_t i) { return slots.empty() ? nullptr : slots[i]; };
  if (n == 1) return park(*rings[0], frontiers_seen[0], timeout, slot(0));
  // Announce ourselves on every ring first (and arm: its word, then its epoch), then one barrier
  // for every exclusive ring among them (membarrier() runs a full barrier on every CPU: one call
  // covers them all), then re-check each frontier: per ring, the Dekker pair of park().
  bool barrier = false, bounded = false;
  futex_waitv waiters[kParkAnyMax];
  for (std::size_t i = 0; i < n; ++i) {
    announce_waiter(*rings[i], slot(i));
    waiters[i] = futex_waitv{arm_wait(*rings[i]),
                             reinterpret_cast<std::uint64_t>(&rings[i]->control().wake.futex_word),
                             FUTEX_32, 0};
    const ParkingCover cover = parking_cover(*rings[i]);
    barrier = barrier || cover.barrier;
    bounded = bounded || cover.bounded;
  }
  const bool barrier_done = !barrier || expedited_barrier();
  if (bounded || !barrier_done)
    timeout = std::min(timeout, std::chrono::nanoseconds(kUnsureParkNs));
  bool changed = false;
  for (std::size_t i = 0; i < n; ++i) {
    // SYNC POINT READ: as in park(), each frontier after our announcement on its ring.
    changed = changed || rings[i]->control().frontier.frontier.load(std::memory_order_seq_cst) !=
                             frontiers_seen[i];
  }
  // Set once futex_waitv failed for a reason other than a wake, a changed word or the timeout
  // (ENOSYS before Linux 5.16; EPERM under a seccomp profile that does not know it): from then on
  // this process parks the other way, rather than calling it again and returning at once.
  static std::atomic<bool> no_waitv{false};
  bool woke = true;
  if (!changed) {
    long rc = -1;
    int err = 0;
    bool unavailable = false;
    const bool use_waitv = vectored && !no_waitv.load(std::memory_order_relaxed);
    if (use_waitv) {
      // futex_waitv takes an absolute time on the clock it is given. Shared futexes: no
      // FUTEX_PRIVATE_FLAG in the waiters' flags (the wakers are other processes).
      const std::uint64_t until = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
      timespec ts{static_cast<time_t>(until / 1'000'000'000),
                  static_cast<long>(until % 1'000'000'000)};
      rc = ::syscall(SYS_futex_waitv, waiters, static_cast<unsigned>(n), 0U, &ts, CLOCK_MONOTONIC);
      err = rc < 0 ? errno : 0;
      unavailable = rc < 0 && err != EAGAIN && err != ETIMEDOUT && err != EINTR;
      if (unavailable) no_waitv.store(true, std::memory_order_relaxed);
    }
    if (!use_waitv || unavailable) {
      // One ring at a time, a short slice each, the next ring on the next call.
      static thread_local std::size_t rotor = 0;
      const std::size_t i = rotor++ % n;
      const auto slice = std::min(timeout, std::chrono::nanoseconds(kParkAnySliceNs));
      timespec ts{static_cast<time_t>(slice.count() / 1'000'000'000),
                  static_cast<long>(slice.count() % 1'000'000'000)};
      rc = futex(&rings[i]->control().wake.futex_word, FUTEX_WAIT,
                 static_cast<std::uint32_t>(waiters[i].val), &ts);
      err = rc != 0 ? errno : 0;
      // A slice that ran out is not the caller's timeout unless the slice was all of it.
      woke = !(rc != 0 && err == ETIMEDOUT && slice == timeout);
    } else {
      woke = !(rc < 0 && err == ETIMEDOUT);
    }
  }
  for (std::size_t i = 0; i < n; ++i) withdraw_waiter(*rings[i], slot(i));
  return woke;
}

bool advance_frontier(const Segment& s) noexcept {
  std::atomic<std::uint64_t>& frontier = s.control().frontier.frontier;
  bool moved = false;
  std::uint64_t f = frontier.load(std::memory_order_seq_cst);
  // One step passes a run of complete records (at most kRun): each one's successor is stamped,
  // then one CAS moves the frontier over all of them.
  constexpr std::size_t kRun = 32;
  std::uint64_t ends[kRun], indices[kRun];
  for (;;) {
    std::uint64_t index = 0;
    std::uint64_t p = f;
    std::size_t n = 0;
    while (n < kRun) {
      // SYNC POINT READ: seal. Pairs with the seal store in commit (ring_writer.cpp) and in the
      // repair below; makes the record's header visible. (seq_cst: after a CAS that moved the
      // frontier here, this load is the advancer's side of the Dekker pair with a committer's
      // fence, docs/ring.md "The committer's own records".)
      const Segment::UnitMeta m = s.meta(p);
      if (m.seal.load(std::memory_order_seq_cst) != seal_of(p)) break;
      // (The index stamped at f is visible: it was stamped before the frontier reached f.)
      if (n == 0) index = s.meta(f).index.load(std::memory_order_relaxed);
      // The header, beside the seal. A preempted advancer may read it after a later lap's record
      // wrote over it; the frontier re-check below discards such a read.
      const RecordHeader h = unpack_header(p, m.info.load(std::memory_order_relaxed));
      // A length no producer writes (a record of none or over max_record, padding over
      // max_padding: a stray write into the segment) is passed as one unit, never as what it says —
      // that could move the frontier past the tail or over records still being written. The
      // rest of that record's space is then a hole no claim covers, repaired into padding as a
      // dead claim's would be (docs/ring.md "Readers: laps, corruption, dead readers").
      const bool pad = h.type == kPaddingType;
      const std::uint64_t fp =
          (pad ? h.length > max_padding(s.capacity()) : h.length == 0 || h.length > s.max_record())
              ? kUnit
              : footprint(h.length);
      // A run ends short of a whole capacity past f: its last stamp would otherwise land on f's
      // own unit (the same 64 bytes one lap on) while the frontier is still at f, and everyone
      // who read the index at f from then on would count from a wrong base. (The first record is
      // always taken, as one step always did: a record is at most a quarter of the ring.)
      if (n > 0 && p + fp - f >= s.capacity()) break;
      if (!pad) ++index;
      p += fp;
      ends[n] = p;
      indices[n] = index;
      ++n;
    }
    if (n == 0) break;
    // Re-check that the frontier is still at f: while it is, no record at or after f can be
    // overwritten (gating), so the lengths and types just read belong to them. Without this a
    // preempted advancer could stamp indices computed from newer records' bytes. (The fence keeps
    // the index and header reads above before the re-check on weakly ordered CPUs too.)
    std::atomic_thread_fence(std::memory_order_acquire);
    std::uint64_t again = frontier.load(std::memory_order_seq_cst);
    if (again != f) {
      f = again;
      continue;
    }
    // Stamp each next record's index before the frontier reaches it (a stale stamp is harmless:
    // it is the true index of an older position, never larger than the current one).
    for (std::size_t i = 0; i < n; ++i) store_index_max(s.meta(ends[i]).index, indices[i]);
    // SYNC POINT WRITE: frontier. Pairs with the acquire loads of readers (everything below the
    // frontier is complete and stamped) and with the seal re-check of a concurrent committer.
    if (frontier.compare_exchange_strong(f, p, std::memory_order_seq_cst)) {
      f = p;
      moved = true;
    }
  }
  if (moved) wake_waiters(s);
  return moved;
}

bool advance_after_seals(const Segment& s) noexcept {
  // SYNC POINT: the seals were release stores. This fence orders them before advance_frontier()'s
  // frontier load: either that load sees an advancer's CAS up to our record, or that advancer's
  // seq_cst seal load (after its CAS) sees our seal — an advance is never lost.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return advance_frontier(s);
}

std::uint64_t find_oldest(const Segment& s, std::uint64_t tail, std::uint64_t frontier) noexcept {
  const std::uint64_t cap = s.capacity();
  const auto look = [&](std::uint64_t top) {
    // Strictly above top - capacity: the unit of the position exactly one capacity back is also
    // the unit of the frontier's position (the frontier <= tail), whose index is stamped before
    // any record is claimed there.
    std::uint64_t lower = top >= cap ? top - cap + 1 : 0;
    lower = align_up(lower, kUnit);
    // (A capacity at most: a frontier far above the tail, damage, made this a walk of up to 2^58
    // looks before 2026-12-06.)
    const std::uint64_t end =
        frontier <= lower ? lower : (frontier - lower > cap ? lower + cap : frontier);
    for (std::uint64_t p = lower; p < end; p += kUnit) {
      if (s.meta(p).seal.load(std::memory_order_acquire) == seal_of(p)) return p;
    }
    return frontier;
  };
  const std::uint64_t oldest = look(tail);
  // A tail behind the frontier is a stale load, or damage (the tail never falls behind it): when
  // nothing was found from it, from the frontier too (a tail damaged low, a lap or more behind,
  // had nothing of this lap within reach, and every record left was taken for lost).
  if (oldest == frontier && tail < frontier) return look(frontier);
  return oldest;
}

namespace {

// Tries to take the repair lock; steals it from a dead holder. The lock word names its holder
// whole (process_tag), so a holder is judged by what it stored in the one CAS that took the lock:
// a thief descheduled right after its CAS is judged alive (RingCrash.ARepairLockStolenFromThe...).
bool lock_repair(const Segment& s, const ProcessIdentity& me) noexcept {
  RepairBlock& r = s.control().repair;
  const std::uint64_t mine = process_tag(me);
  std::uint64_t holder = 0;
  if (!r.lock.compare_exchange_strong(holder, mine, std::memory_order_acq_rel)) {
    // Held: by another thread of this process (the same tag), or by a live process: not ours.
    // (A dead process whose pid this one reused has another start time: judged dead.)
    if (holder == mine || process_tag_alive(holder)) return false;
    if (!r.lock.compare_exchange_strong(holder, mine, std::memory_order_acq_rel)) return false;
  }
  hook(HookPoint::repair_locked, 0);
  return true;
}

void unlock_repair(const Segment& s) noexcept {
  s.control().repair.lock.store(0, std::memory_order_release);
}

// Writes a padding record over [position, end) and seals it. Holes longer than a u32 length are
// split into several padding records. `index` is the index stamped at `position` (the frontier,
// held there by the hole): every unit in (position, end] gets it first, with plain stores — a
// producer that found the frontier at its claim stamped its records' successors ahead (as
// records) before it died, and those stamps, larger than padding's, must not survive (a
// monotonic max would keep them).
void write_padding(const Segment& s, std::uint64_t position, std::uint64_t end,
                   std::uint16_t producer, std::uint64_t index) noexcept {
  for (std::uint64_t u = position + kUnit; u <= end; u += kUnit)
    s.meta(u).index.store(index, std::memory_order_release);
  raise_horizon(s, end);  // W5, as a claimer's: before the headers below
  // Each padding record at most layout::max_padding (half a capacity, and under a u32's reach):
  // advance_frontier and the readers take a longer one for damage (a hole that long: several dead
  // claims never published).
  const std::uint64_t max_pad = max_padding(s.capacity());
  while (position < end) {
    const std::uint64_t len = std::min(end - position, max_pad);
    const Segment::UnitMeta m = s.meta(position);
    m.info.store(pack_info(static_cast<std::uint32_t>(len), kPaddingType, producer),
                 std::memory_order_relaxed);
    // SYNC POINT WRITE: seal of a repaired hole; pairs with the seal load in advance_frontier().
    m.seal.store(seal_of(position), std::memory_order_seq_cst);
    position += len;
  }
}

}  // namespace

StallOutcome resolve_stall(const Segment& s) noexcept {
  if (advance_frontier(s)) return StallOutcome::moved;
  Control& c = s.control();
  const std::uint64_t f = c.frontier.frontier.load(std::memory_order_seq_cst);
  // SYNC POINT READ: tail, then every producer's claim state (below). A producer stores
  // CLAIMING before its seq_cst fetch_add on the tail (W1), so any claim below this tail shows up
  // as CLAIMING, CLAIMED, or IDLE-after-sealing in the scan. Its claim's fields are loaded with
  // acquire: a producer stores them with release, so fields of a claim it made after the one
  // whose state was read come with that earlier claim's seal (the re-check below sees it).
  const std::uint64_t t = c.tail.tail.load(std::memory_order_seq_cst);
  // (A tail behind the frontier is damage, a stray write: nothing to repair there; before
  // 2026-12-06 each look counted a repair and added the wrapped difference to abandoned_bytes.)
  if (t == f || static_cast<std::int64_t>(f - t) > 0) return StallOutcome::nothing_in_flight;

  // Who owns the hole at f? Live owners are left alone, however slow: only the dead are repaired.
  // (At most a capacity of it at a time: its padding's units past f + capacity are f's own and
  // its first piece's, whose seals they would overwrite. The next round takes the rest; before
  // 2026-12-05 a longer hole was padded whole, over its own seals, and never passed.)
  std::uint64_t end = std::min(t, f + s.capacity());
  std::uint16_t owner = 0xFFFF;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    ProducerSlot& p = s.producer_slot(i);
    const std::uint32_t st = p.state.load(std::memory_order_acquire);
    // A slot marked TAKING is judged by its owner as the slot names it, whoever marked it: a
    // repairer's book-keeping (below) over a slot a live writer holds (the repairer found the
    // slot ACTIVE, so it names that writer, alive: a claim of it at f postpones the repair —
    // never repaired over unseen); a new taker of a dead writer's slot (its reusable() found the
    // dead writer's last claim complete, and the slot names that writer, dead, until the taker
    // fills it, with its claim state idle first). Before 2026-12-05 a taker that died there
    // counted as alive for good, and until 2026-12-07 a live one did while it stayed in the slot
    // (stopped: SIGSTOP, a debugger): a dead writer's stale CLAIMING made every repair answer
    // owner_alive meanwhile, and no hole was repaired (reviews).
    if (st != kSlotActive && !layout::is_taking(st)) continue;
    const std::uint32_t cs = p.claim_state.load(std::memory_order_seq_cst);
    if (cs == kClaimIdle) continue;
    const ProcessIdentity who{p.pid.load(std::memory_order_relaxed),
                              p.start_time.load(std::memory_order_relaxed)};
    const bool alive = liveness(who) == Liveness::alive;
    if (cs == kClaimClaiming) {
      if (alive) return StallOutcome::owner_alive;  // it may own f; its position is not out yet
      continue;
    }
    const std::uint64_t pos = p.claim_position.load(std::memory_order_acquire);
    const std::uint64_t len = p.claim_length.load(std::memory_order_acquire);
    if (pos <= f && f < pos + len) {  // its claim (a batch may be partly sealed) covers f
      if (alive) return StallOutcome::owner_alive;
      owner = i;
      end = std::min(end, pos + len);
    } else if (pos > f) {
      end = std::min(end, pos);  // someone else's claim begins there
    }
  }

  const ProcessIdentity me = self_identity();
  // (Its start time unreadable now: a lock naming start time 0 would be taken for a dead
  // holder's. Someone else repairs, or this process once it can read it again.)
  if (me.start_time == 0 || !lock_repair(s, me)) return StallOutcome::busy;
  // Re-check under the lock: another repairer, or the owner's own commit (it was not dead after
  // all: it sealed before going IDLE, and we load its state with acquire above), may have won.
  if (c.frontier.frontier.load(std::memory_order_seq_cst) != f ||
      s.meta(f).seal.load(std::memory_order_seq_cst) == seal_of(f)) {
    unlock_repair(s);
    advance_frontier(s);
    return StallOutcome::moved;
  }
  // The hole ends at the first committed record after f, if that comes before `end`.
  for (std::uint64_t p = f + kUnit; p < end; p += kUnit) {
    if (s.meta(p).seal.load(std::memory_order_acquire) == seal_of(p)) {
      end = p;
      break;
    }
  }
  // (The index stamped at f is f's own: the frontier is at f, and stays there until we seal.)
  write_padding(s, f, end, owner, s.meta(f).index.load(std::memory_order_acquire));
  c.repair.repairs.fetch_add(1, std::memory_order_relaxed);
  c.repair.abandoned_bytes.fetch_add(end - f, std::memory_order_relaxed);

  // Book-keeping: every dead producer whose claim lay in the hole (or was never placed) is marked
  // DEAD with the abandoned claim counted, so its slot can be reused. The look at its owner takes
  // a /proc read, during which the slot may be reused — the hole padded, its claim now below the
  // frontier — and taken, filled and made ACTIVE by another process: so the slot's generation is
  // loaded before its state, the slot marked ours (TAKING) first, and the generation compared
  // after, as reap_dead_readers does (before, a live writer's slot could be marked DEAD under it
  // and taken by a third: two writers on one slot, or on one exclusive ring; found in review,
  // 2026-12-01).
  const std::uint32_t taking = layout::taking_by(static_cast<std::uint32_t>(me.pid));
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    ProducerSlot& p = s.producer_slot(i);
    const std::uint64_t generation = p.generation.load(std::memory_order_acquire);
    if (p.state.load(std::memory_order_acquire) != kSlotActive) continue;
    const std::uint32_t cs = p.claim_state.load(std::memory_order_acquire);
    if (cs == kClaimIdle) continue;
    const std::uint64_t pos = p.claim_position.load(std::memory_order_acquire);
    const std::uint64_t len = p.claim_length.load(std::memory_order_acquire);
    const bool in_hole = cs == kClaimClaiming || (pos < end && f < pos + len);
    if (!in_hole) continue;
    const ProcessIdentity who{p.pid.load(std::memory_order_relaxed),
                              p.start_time.load(std::memory_order_relaxed)};
    if (liveness(who) == Liveness::alive) continue;
    hook(HookPoint::repair_judged, i);
    std::uint32_t expected = kSlotActive;
    if (!p.state.compare_exchange_strong(expected, taking, std::memory_order_acq_rel)) continue;
    if (p.generation.load(std::memory_order_acquire) != generation) {
      std::uint32_t ours = taking;
      p.state.compare_exchange_strong(ours, kSlotActive, std::memory_order_acq_rel);
      continue;  // taken again meanwhile: not the dead one's any more
    }
    p.abandoned.fetch_add(1, std::memory_order_relaxed);
    if (cs == kClaimClaimed)
      p.abandoned_bytes.fetch_add(p.claim_length.load(std::memory_order_acquire),
                                  std::memory_order_relaxed);
    p.claim_state.store(kClaimIdle, std::memory_order_release);
    p.state.store(kSlotDead, std::memory_order_release);
  }
  unlock_repair(s);
  advance_frontier(s);
  return StallOutcome::repaired;
}

std::optional<FrontierHolder> frontier_holder(const Segment& s) {
  Control& c = s.control();
  const std::uint64_t f = c.frontier.frontier.load(std::memory_order_seq_cst);
  const std::uint64_t t = c.tail.tail.load(std::memory_order_seq_cst);
  if (t == f) return std::nullopt;
  // The live producer whose CLAIMED claim covers f holds it, whatever its state; failing one,
  // a live one CLAIMING (its position not out yet: it may own f), a stopped one first.
  std::optional<FrontierHolder> claiming;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    ProducerSlot& p = s.producer_slot(i);
    const std::uint32_t st = p.state.load(std::memory_order_acquire);
    if (st != kSlotActive && st != layout::kSlotOwning) continue;
    const std::uint32_t cs = p.claim_state.load(std::memory_order_seq_cst);
    if (cs == kClaimIdle) continue;
    if (cs == kClaimClaimed) {
      const std::uint64_t pos = p.claim_position.load(std::memory_order_acquire);
      const std::uint64_t len = p.claim_length.load(std::memory_order_acquire);
      if (!(pos <= f && f < pos + len)) continue;
    }
    const ProcessIdentity who{p.pid.load(std::memory_order_relaxed),
                              p.start_time.load(std::memory_order_relaxed)};
    const ProcessLook look = look_up_process(who.pid);
    if (look.is != ProcessLook::Is::alive || look.start_time != who.start_time) continue;
    FrontierHolder h{who.pid, look.state, i,
                     std::string(p.label, ::strnlen(p.label, sizeof p.label)), who.start_time};
    if (cs == kClaimClaimed) return h;
    if (!claiming || (h.stopped() && !claiming->stopped())) claiming = std::move(h);
  }
  return claiming;
}

}  // namespace shmio::shm::core
