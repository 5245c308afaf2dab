#include "shmio/shm/registry.hpp"

#include <sched.h>

#include <cstring>
#include <string>

#include "shmio/shm/ring_core.hpp"

namespace shmio::shm::registry {
using namespace layout;
// A slot marked TAKING by a process that has died since: it never made the slot ACTIVE (or
// OWNING), so it holds nothing of that process — no claim, no owner word — and may be taken again.
// Only a state that names its taker (taking_by) is judged: one whose pid has no live process
// (/proc entry gone, or a zombie). A pid reused by another process meanwhile looks alive: the
// slot then waits for that one (never taken from a live taker).
bool taker_died(std::uint32_t state) noexcept {
  const std::uint32_t pid = taker_of(state);
  if (pid == 0) return false;
  // (No entry or a zombie; a failed look judges nothing: process.hpp.)
  return look_up_process(static_cast<pid_t>(pid)).is == ProcessLook::Is::gone;
}

namespace {
// A TAKING slot whose taker died, and which names no live owner, may be taken back. The marker
// may be a judge's (a repair's book-keeping, a reap, a retiring) that was killed between its mark
// and its check of the generation: the slot may then have been taken and made ACTIVE by a live
// process during the judge's /proc read, and it names that process, whose slot it is (before
// 2026-12-06 it was taken back, and two processes held one slot; a helper's review). A taker
// killed in its fill leaves its own identity (dead), or a part of it, or, killed in the few
// instructions before its first store, the slot's last owner's: if that one still lives (it let
// the slot go), the slot waits for its death.
template <class Slot>
bool taken_back(const Slot& slot, std::uint32_t state) noexcept {
  return taker_died(state) && liveness(owner_of(slot)) != Liveness::alive;
}
}  // namespace

namespace {

template <class Slot>
void fill(Slot& slot, std::string_view label, int core) noexcept {
  const ProcessIdentity me = self_identity();
  // First: an exclusive ring's owner word names a slot with its generation, so a slot taken again
  // shows a new generation before it shows a new owner (take_exclusive).
  slot.generation.fetch_add(1, std::memory_order_acq_rel);
  slot.pid.store(me.pid, std::memory_order_relaxed);
  slot.start_time.store(me.start_time, std::memory_order_relaxed);
  slot.core.store(core, std::memory_order_relaxed);
  slot.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  std::memset(slot.label, 0, kLabelBytes);
  std::memcpy(slot.label, label.data(), std::min(label.size(), kLabelBytes - 1));
  slot.records.store(0, std::memory_order_relaxed);
  slot.bytes.store(0, std::memory_order_relaxed);
}

template <class Slot, class Reusable>
Result<std::uint16_t> take(std::uint16_t count, Slot& (*at)(const Segment&, std::size_t),
                           const Segment& s, Reusable reusable, const char* what) {
  if (!s.writable())
    return Error{Errc::permission_denied,
                 std::string("a read-only attach cannot take a ") + what + " slot"};
  // The slot names its owner by pid and start time: without the start time (its /proc entry not
  // readable now: out of descriptors) others would take the slot for a dead process's.
  if (self_identity().start_time == 0)
    return Error{Errc::system_error, std::string("cannot read this process's start time from "
                                                 "/proc (out of file descriptors?): no ") +
                                         what + " slot taken"};
  // First pass: free slots. Second: slots of dead owners that may be reused (reusable(): ACTIVE,
  // and for producers OWNING), and slots whose taker died before making them ACTIVE. A slot is
  // marked with our pid while we fill it.
  const std::uint32_t taking = taking_by(static_cast<std::uint32_t>(self_identity().pid));
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint16_t i = 0; i < count; ++i) {
      Slot& slot = at(s, i);
      // The generation before the state: see the check after the CAS.
      const std::uint64_t generation = slot.generation.load(std::memory_order_acquire);
      std::uint32_t st = slot.state.load(std::memory_order_acquire);
      const bool free = st == kSlotFree || st == kSlotDead;
      bool candidate = free;
      if (!candidate && pass == 1 && reusable(slot, i, st)) candidate = true;
      if (!candidate && pass == 1 && is_taking(st) && taken_back(slot, st)) candidate = true;
      if (!candidate) continue;
      if (!slot.state.compare_exchange_strong(st, taking, std::memory_order_acq_rel)) continue;
      // A slot judged by its owner's death (a /proc read) may have been taken, filled and made
      // ACTIVE by another process meanwhile, which brings the state back to the value we looked
      // at: then the generation has moved (fill() bumps it first; our CAS read that process's
      // release store of the state, so we see the bump), and the state we replaced is that live
      // process's: give it back (unless it let go meanwhile). Free and DEAD slots need no check:
      // a live owner never brings a slot back to either.
      if (!free && slot.generation.load(std::memory_order_acquire) != generation) {
        std::uint32_t ours = taking;
        slot.state.compare_exchange_strong(ours, st, std::memory_order_acq_rel);
        continue;
      }
      hook(core::HookPoint::slot_taken, i);
      return i;
    }
  }
  return Error{Errc::no_free_slot, std::string("all ") + std::to_string(count) + " " + what +
                                       " slots are in use (by live processes, or by dead ones" +
                                       " whose last claim is not repaired yet)"};
}

ProducerSlot& producer_at(const Segment& s, std::size_t i) {
  return s.producer_slot(i);
}
ReaderSlot& reader_at(const Segment& s, std::size_t i) {
  return s.reader_slot(i);
}

}  // namespace

namespace {
Result<std::uint16_t> take_producer_slot(const Segment& s) {
  return take(
      s.max_producers(), &producer_at, s,
      [&s](ProducerSlot& slot, std::uint16_t, std::uint32_t st) {
        // An exclusive ring's writer that died between filling its slot (OWNING) and going ACTIVE
        // never claimed anything: whether or not it took the owner word, its slot holds nothing
        // to repair (take_exclusive() of the next taker finds the word naming a generation the
        // slot no longer has, or retires the slot first; a CAS decides).
        if (st == kSlotOwning) return liveness(owner_of(slot)) != Liveness::alive;
        if (st != kSlotActive || liveness(owner_of(slot)) == Liveness::alive) return false;
        // A dead producer's slot is reusable only if its last claim is finished: idle, or sealed.
        const std::uint32_t cs = slot.claim_state.load(std::memory_order_acquire);
        if (cs == kClaimIdle) return true;
        if (cs == kClaimClaiming) {
          // Killed between its intent and publishing its claim's position: if the frontier has
          // reached a tail loaded first, every claim made before its death is complete (its own,
          // if its fetch_add happened, was repaired), so it holds nothing. Otherwise a repair
          // marks it DEAD. (Before, on a quiet ring no repair came, and the slot stayed taken for
          // good: a ring of one producer slot could never be written again.)
          const std::uint64_t t = s.control().tail.tail.load(std::memory_order_seq_cst);
          return s.control().frontier.frontier.load(std::memory_order_seq_cst) == t;
        }
        if (cs != kClaimClaimed) return false;
        const std::uint64_t pos = slot.claim_position.load(std::memory_order_relaxed);
        const std::uint64_t f = s.control().frontier.frontier.load(std::memory_order_acquire);
        // (At or past the tail: an exclusive producer that died before its tail store; no claim.)
        return pos + slot.claim_length.load(std::memory_order_relaxed) <= f ||
               pos >= s.control().tail.tail.load(std::memory_order_acquire);
      },
      "producer");
}
}  // namespace

namespace {

// Exclusive-producer rings (docs/ring.md, "Exclusive producers"): once the ring is quiet —
// frontier == tail, every claim complete — the one producer may claim with plain stores.
// Repairs what a dead predecessor left (a hole, or a sealed record the frontier has not passed).
// Bound: 10,000 tries (each a resolve_stall(), or a yield while another process holds the repair
// lock) — far more than one dead claim needs; when hit, the attach fails with system_error and
// gives the owner word back, changing nothing else.
bool settle(const Segment& s) noexcept {
  const Control& c = s.control();
  for (int attempt = 0; attempt < 10'000; ++attempt) {
    if (c.frontier.frontier.load(std::memory_order_seq_cst) ==
        c.tail.tail.load(std::memory_order_seq_cst))
      return true;
    if (core::resolve_stall(s) != core::StallOutcome::repaired) ::sched_yield();
  }
  return false;
}

// The owner word of slot `id` as its generation stands (layout::owner_word).
std::uint32_t owner_value(const ProducerSlot& slot, std::uint16_t id) noexcept {
  return owner_word(slot.generation.load(std::memory_order_acquire), id);
}

// Makes slot `id` (taken, filled with our identity) the ring's one producer, or says who holds it.
Result<void> take_exclusive(const Segment& s, std::uint16_t id) {
  std::atomic<std::uint32_t>& owner = s.control().repair.exclusive_owner;
  const std::uint32_t mine = owner_value(s.producer_slot(id), id);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::uint32_t cur = owner.load(std::memory_order_acquire);
    const std::uint32_t held = cur & kOwnerSlotMask;  // slot + 1; 0: none
    // The holder, while its slot still has the generation the word names (else it let go, or died
    // and its slot was taken since; our own slot's previous owner is such a one).
    ProducerSlot* holder = nullptr;
    if (held != 0 && held != static_cast<std::uint32_t>(id) + 1 && held <= s.max_producers()) {
      ProducerSlot& slot = s.producer_slot(held - 1);
      if (owner_value(slot, static_cast<std::uint16_t>(held - 1)) == cur) holder = &slot;
    }
    if (holder != nullptr) {
      const std::uint32_t st = holder->state.load(std::memory_order_acquire);
      const ProcessIdentity who = owner_of(*holder);
      if ((st == kSlotActive || is_taking(st) || st == kSlotOwning) &&
          liveness(who) == Liveness::alive) {
        char label[kLabelBytes];
        std::memcpy(label, holder->label, kLabelBytes);
        label[kLabelBytes - 1] = '\0';
        return Error{Errc::exclusive_producer,
                     "ring " + s.name() + " is made for one producer, and a live process holds it" +
                         " (pid " + std::to_string(who.pid) + ", writer '" + label + "')"};
      }
    }
    // No holder, or a dead one: the word is ours if nobody changed it meanwhile. An answer to the
    // fence request equal to our word is an owner's of 65,536 generations ago (the word carries 16
    // bits of the slot's): cleared before we take the word, so that no parker takes it for ours
    // (core::parking_cover; we answer again at attach if asked). seq_cst: a parker that loaded the
    // word before this CAS announced itself earlier in the single total order (docs/ring.md X6).
    std::uint32_t stale = mine;
    s.control().wake.fence_acked.compare_exchange_strong(stale, 0, std::memory_order_seq_cst);
    if (!owner.compare_exchange_strong(cur, mine, std::memory_order_seq_cst)) continue;
    // Complete or repair what a dead holder left, then retire its slot — unless it has been taken
    // since (a new generation; whoever took it will be refused: the word is ours). A repair of a
    // hole retires it already, counting the abandoned claim; a holder that died between its own
    // CAS and going ACTIVE left it OWNING, retired here too. Never a TAKING slot: take() marks it
    // before fill() bumps the generation, so a process taking the dead holder's slot right now
    // would still show the old generation and the dead pid (found in review). The state is
    // loaded before the generation and the pid are checked.
    if (!settle(s)) {
      std::uint32_t ours = mine;
      owner.compare_exchange_strong(ours, 0, std::memory_order_acq_rel);
      return Error{Errc::system_error, "ring " + s.name() +
                                           ": the previous exclusive producer's last claim could "
                                           "not be completed or repaired"};
    }
    if (holder != nullptr) {
      std::uint32_t st = holder->state.load(std::memory_order_acquire);
      const std::uint64_t generation = holder->generation.load(std::memory_order_acquire);
      if ((st == kSlotActive || st == kSlotOwning) &&
          owner_value(*holder, static_cast<std::uint16_t>(held - 1)) == cur &&
          liveness(owner_of(*holder)) != Liveness::alive &&
          holder->state.compare_exchange_strong(
              st, taking_by(static_cast<std::uint32_t>(self_identity().pid)),
              std::memory_order_acq_rel)) {
        // Marked ours first, then retired only if nobody took the slot and filled it meanwhile
        // (take() takes a dead holder's OWNING slot too, and brings it back to OWNING: the
        // state alone could not tell); otherwise given back, as take() does.
        if (holder->generation.load(std::memory_order_acquire) == generation) {
          holder->state.store(kSlotDead, std::memory_order_release);
        } else {
          std::uint32_t ours = taking_by(static_cast<std::uint32_t>(self_identity().pid));
          holder->state.compare_exchange_strong(ours, st, std::memory_order_acq_rel);
        }
      }
    }
    return {};
  }
  return Error{Errc::exclusive_producer,
               "ring " + s.name() +
                   " is made for one producer, and its ownership kept changing "
                   "while this writer tried to take it (1000 attempts)"};
}

}  // namespace

Result<std::uint16_t> take_producer(const Segment& s, std::string_view label, int core) {
  auto id = take_producer_slot(s);
  if (!id && id.error().code == Errc::no_free_slot && s.writable()) {
    // Slots of dead producers whose last claim is still a hole are not reusable yet; repairing
    // a hole at the frontier may free one.
    core::resolve_stall(s);
    id = take_producer_slot(s);
  }
  if (!id) return id;
  ProducerSlot& slot = s.producer_slot(id.value());
  // Idle before the slot names this process (fill): a dead predecessor's stale claim state, which
  // reusable() found complete, is then never read as a live process's claim by a repair's scan
  // (ring_core.cpp resolve_stall; fill()'s first step, an acq_rel increment, keeps this store
  // before its stores of the identity).
  slot.claim_state.store(kClaimIdle, std::memory_order_relaxed);
  fill(slot, label, core);
  slot.claim_position.store(0, std::memory_order_relaxed);
  slot.claim_length.store(0, std::memory_order_relaxed);
  slot.aborted.store(0, std::memory_order_relaxed);
  slot.abandoned.store(0, std::memory_order_relaxed);
  slot.abandoned_bytes.store(0, std::memory_order_relaxed);
  slot.gated.store(0, std::memory_order_relaxed);
  hook(core::HookPoint::slot_filled, id.value());
  if (s.exclusive_producer()) {
    // Filled (its generation new): from here a dead owner's slot can be told from a new taker's.
    slot.state.store(kSlotOwning, std::memory_order_release);
    hook(core::HookPoint::slot_owning, id.value());
    if (auto taken = take_exclusive(s, id.value()); !taken) {
      slot.state.store(kSlotFree, std::memory_order_release);
      return taken.error();
    }
    hook(core::HookPoint::slot_owned, id.value());
  }
  slot.state.store(kSlotActive, std::memory_order_release);
  return id;
}

Result<std::uint16_t> take_reader(const Segment& s, std::string_view label, int core) {
  auto id = take(
      s.max_readers(), &reader_at, s,
      [](ReaderSlot& slot, std::uint16_t, std::uint32_t st) {
        return st == kSlotActive && liveness(owner_of(slot)) == Liveness::dead;
      },
      "reader");
  if (!id) return id;
  ReaderSlot& slot = s.reader_slot(id.value());
  // A dead reader's slot: the waits its process still counted on the ring go with it.
  core::take_back_waits(s, slot.parked);
  fill(slot, label, core);
  slot.laps.store(0, std::memory_order_relaxed);
  slot.lost_records.store(0, std::memory_order_relaxed);
  slot.lost_bytes.store(0, std::memory_order_relaxed);
  slot.wakeups.store(0, std::memory_order_relaxed);
  slot.corrupt.store(0, std::memory_order_relaxed);
  slot.parked.store(0, std::memory_order_relaxed);
  hook(core::HookPoint::slot_filled, id.value());
  slot.state.store(kSlotActive, std::memory_order_release);
  return id;
}

void release_producer(const Segment& s, std::uint16_t id) noexcept {
  if (s.exclusive_producer()) {
    std::uint32_t mine = owner_value(s.producer_slot(id), id);
    s.control().repair.exclusive_owner.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
  }
  s.producer_slot(id).state.store(kSlotFree, std::memory_order_release);
}

void release_reader(const Segment& s, std::uint16_t id) noexcept {
  s.reader_slot(id).state.store(kSlotFree, std::memory_order_release);
}

std::size_t reap_dead_readers(const Segment& s, std::string_view keep) noexcept {
  std::size_t n = 0;
  const std::uint32_t taking = taking_by(static_cast<std::uint32_t>(self_identity().pid));
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    ReaderSlot& slot = s.reader_slot(i);
    const std::uint64_t generation = slot.generation.load(std::memory_order_acquire);
    std::uint32_t st = slot.state.load(std::memory_order_acquire);
    // ACTIVE with a dead owner, or TAKING by a process that died before making it ACTIVE.
    if (st == kSlotActive ? liveness(owner_of(slot)) != Liveness::dead : !taken_back(slot, st))
      continue;
    // Marked ours first, then freed if nobody took and filled it meanwhile (take()'s check).
    if (!slot.state.compare_exchange_strong(st, taking, std::memory_order_acq_rel)) continue;
    if (slot.generation.load(std::memory_order_acquire) != generation) {
      std::uint32_t ours = taking;
      slot.state.compare_exchange_strong(ours, st, std::memory_order_acq_rel);
      continue;
    }
    core::take_back_waits(s, slot.parked);  // (its process died waiting: its count goes)
    if (st == kSlotActive && !keep.empty() &&
        std::string_view(slot.label, ::strnlen(slot.label, sizeof slot.label)) == keep) {
      slot.state.store(st, std::memory_order_release);  // (kept: ACTIVE, its dead owner's)
      continue;
    }
    slot.state.store(kSlotFree, std::memory_order_release);
    ++n;
  }
  return n;
}

ReaderPacing::Behind ReaderPacing::furthest_behind(const Segment& s, int own) {
  const std::uint64_t frontier = s.control().frontier.frontier.load(std::memory_order_acquire);
  Behind out;
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    if (i == own) continue;
    const auto& slot = s.reader_slot(i);
    if (slot.state.load(std::memory_order_acquire) != layout::kSlotActive) continue;
    const std::uint64_t at = slot.position.load(std::memory_order_acquire);
    const std::uint64_t behind = frontier > at ? frontier - at : 0;
    if (auto p = passed_over_.find(i); p != passed_over_.end()) {
      if (p->second == slot.generation.load(std::memory_order_acquire) && behind > s.capacity() / 4)
        continue;
      passed_over_.erase(p);  // (caught up, or another reader's slot now: waited for again)
    }
    if (behind <= out.bytes || behind > s.capacity()) continue;
    if (liveness(owner_of(slot)) != Liveness::alive) continue;
    out = {i, behind};
  }
  return out;
}

void ReaderPacing::pass_over(const Segment& s, std::uint16_t slot) {
  passed_over_[slot] = s.reader_slot(slot).generation.load(std::memory_order_acquire);
}

}  // namespace shmio::shm::registry
