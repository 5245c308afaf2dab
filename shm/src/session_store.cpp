// SessionStore (session_store.hpp). Byte layout of the object /dev/shm/shmio-sessions.<ring>.<id>:
//
//   StoreHeader (4 KiB)   magic, version, state (REDY once laid out), ring id (sidecar.hpp), slots,
//                         slot_bytes, index size, fresh (slots never used start here), free (a
//                         stack of slots given back: {tag, slot + 1}), deaths[64] (which pid died
//                         when: connected entries of a dead owner expire from then), next_death
//   index[2 x slots]      u32 atomic each, placed by the key's hash: 0 never used, ~0 removed,
//                         else (slot + 1) | 8 bits of the hash above bit 24
//   slot[slots]           slot_bytes each, 64-byte aligned, handed out densely (fresh, then the
//                         free stack: pages are touched as entries are written, not by hash):
//     lock   u64 atomic   0 free; else the holder (pid << 32 | low 32 bits of its start time)
//     state  u32          0 never used, 1 entry, 2 free again (taken, erased, or torn)
//     flags  u32          bit 0: connected; bit 1: taken (a worker is admitting its socket)
//     hash   u64          FNV-1a of the key (0 while being written)
//     owner  pid u64, start u64: the process whose socket it is (connected) or was; of a taken
//                         entry, its taker
//     since  u64          CLOCK_MONOTONIC ns of the last write (disconnected since then)
//     key_len u32, state_len u32, next_free u32 atomic, then key bytes and state bytes
//
// Every read and write of a slot's fields happens under its lock (acquire on taking it, release
// on letting go). A writer marks the slot torn (hash 0) first and sets the hash last; a holder that
// died is replaced by the next one to want the slot, and a torn slot is freed. Index entries
// change only while their slot's lock is held (put publishes a new entry holding it; take and
// erase remove the entry before freeing the slot), so an entry never names a slot that holds
// another key except a torn one, which the first lookup to meet it removes. Lookups probe the
// index linearly from the key's hash over kProbe entries and stop at a never-used one. One key is
// only ever put by one process at a time (its socket's worker): the taker removes it only once
// that worker disconnected it or died. A taken entry stays where it is, marked with its taker,
// until the taker writes it again (its socket admitted: connected; or given back) or erases it;
// a taker found dead leaves it to the next taker as the disconnected entry it was (before
// 2026-12-06 take removed it, and a worker killed between the take and the socket's admission --
// its middleware waiting on the app -- lost the session). A process killed between taking a slot
// off the free stack and indexing it, or between removing an entry and pushing its slot back, leaks
// that one slot (bounded by the number of deaths; said in docs/cluster.md). The geometry (slots,
// slot_bytes, index size) is read once at open and checked; slot numbers and lengths read from the
// table are checked before use, so a damaged table loses entries but crashes nobody.
#include "shmio/shm/session_store.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "sidecar.hpp"

namespace shmio::shm {

namespace {
constexpr std::uint64_t kMagic = 0x53484D494F534553ULL;  // "SHMIOSES"
constexpr std::uint32_t kVersion = 3;                    // 3: flags bit 1, taken (2026-12-06)
constexpr std::size_t kHeaderBytes = 4096;
constexpr std::size_t kDeaths = 64;
constexpr std::uint32_t kNeverUsed = 0, kEntry = 1, kFree = 2;
constexpr std::uint32_t kConnected = 1, kTaken = 2;  // SlotHeader::flags
constexpr std::uint32_t kRemoved = 0xFFFFFFFFu;      // an index entry whose slot was taken
constexpr std::uint32_t kSlotMask = 0x00FFFFFFu;     // (slot + 1) in an index entry
constexpr std::uint32_t kMaxSlots = kSlotMask - 1;
constexpr const char* kPrefix = "shmio-sessions.";

// A death record, rewritten when 64 later deaths wrap: `who` is cleared first and set last, and a
// reader that sees the same pid before and after reading `at_ns` read that death's time (before,
// a record rewritten during the read could pair one death's pid with the next one's time).
struct Death {
  std::atomic<std::uint64_t> who;  // the dead process's pid; 0: none (or being rewritten)
  std::atomic<std::uint64_t> at_ns;
};

struct StoreHeader {
  detail::SidecarHeader id;  // magic, version, state, ring id
  std::uint32_t slots;
  std::uint32_t slot_bytes;
  std::uint32_t index_entries;          // a power of two, 2 x slots rounded up
  std::atomic<std::uint32_t> fresh;     // slots below it were handed out at least once
  std::atomic<std::uint64_t> free_top;  // tag << 32 | (slot + 1); 0 in the low half: empty
  std::atomic<std::uint64_t> next_death;
  Death deaths[kDeaths];
};
static_assert(sizeof(StoreHeader) <= kHeaderBytes);

struct SlotHeader {
  std::atomic<std::uint64_t> lock;
  std::uint32_t state;
  std::uint32_t flags;
  std::uint64_t hash;
  std::uint64_t owner_pid;
  std::uint64_t owner_start;
  std::uint64_t since_ns;
  std::uint32_t key_len;
  std::uint32_t state_len;
  std::atomic<std::uint32_t> next_free;  // (slot + 1) under it on the free stack
  std::uint32_t pad;
};
constexpr std::size_t kSlotHeader = sizeof(SlotHeader);  // 64
static_assert(offsetof(SlotHeader, flags) == 12 && offsetof(SlotHeader, owner_pid) == 24 &&
              offsetof(SlotHeader, owner_start) == 32);

std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h | 1;  // never 0 (a torn slot's hash)
}
std::uint32_t index_tag(std::uint64_t h) noexcept {
  return static_cast<std::uint32_t>(h >> 56) << 24;
}

std::uint32_t round_pow2(std::uint64_t n, std::uint32_t least) {
  std::uint64_t s = least;
  while (s < n) s <<= 1;
  return static_cast<std::uint32_t>(s);
}
std::uint64_t index_bytes(std::uint32_t entries) {
  return (static_cast<std::uint64_t>(entries) * 4 + kHeaderBytes - 1) / kHeaderBytes * kHeaderBytes;
}
std::uint64_t object_bytes(std::uint32_t slots, std::uint32_t slot_bytes) {
  return kHeaderBytes + index_bytes(round_pow2(2ULL * slots, 128)) +
         static_cast<std::uint64_t>(slots) * slot_bytes;
}
}  // namespace

struct SessionStore::Map {
  std::byte* base = nullptr;
  std::size_t bytes = 0;
  // The geometry, read once at open and checked against the object's size there: everything
  // below indexes with these, never with the header's words again (a stray write into the table
  // then damages entries, not this process's bounds).
  std::uint32_t slots_ = 0;
  std::uint32_t slot_bytes_ = 0;
  std::uint32_t index_entries_ = 0;
  StoreHeader& header() const noexcept { return *reinterpret_cast<StoreHeader*>(base); }
  std::uint32_t slots() const noexcept { return slots_; }
  std::uint32_t slot_bytes() const noexcept { return slot_bytes_; }
  std::atomic<std::uint32_t>& index(std::uint64_t i) const noexcept {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(base +
                                                         kHeaderBytes)[i & (index_entries_ - 1)];
  }
  SlotHeader& slot(std::size_t i) const noexcept {
    return *reinterpret_cast<SlotHeader*>(base + kHeaderBytes + index_bytes(index_entries_) +
                                          i * slot_bytes_);
  }
  // A slot number read from shared memory (an index entry, the free stack) names a slot.
  bool valid(std::uint64_t i) const noexcept { return i < slots_; }
  // A held entry's lengths fit its slot.
  bool fits(const SlotHeader& s) const noexcept {
    return static_cast<std::uint64_t>(s.key_len) + s.state_len <= slot_bytes_ - kSlotHeader;
  }
  char* body(SlotHeader& s) const noexcept { return reinterpret_cast<char*>(&s) + kSlotHeader; }

  // The slot's lock: true once held (a dead holder's lock is taken over, and a slot it was
  // writing is left torn: hash 0), false after `patience` behind a live one (0: one round of the
  // spin — 63 yields, then a look at whether its holder lives — and no sleep).
  bool lock(SlotHeader& s, std::chrono::nanoseconds patience = kPatience) const {
    const ProcessIdentity self = self_identity();
    if (self.start_time == 0) return false;  // (unreadable now: a tag others would judge dead)
    return lock_as(s, process_tag(self), patience);
  }
  // lock() with this process's tag already read (a scan of the whole table reads it once: a
  // getpid() a slot otherwise).
  bool lock_as(SlotHeader& s, std::uint64_t me, std::chrono::nanoseconds patience) const {
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      std::uint64_t held = 0;
      if (s.lock.compare_exchange_strong(held, me, std::memory_order_acquire)) return true;
      if (spins % 64 == 63) {
        if (!process_tag_alive(held)) {
          if (s.lock.compare_exchange_strong(held, me, std::memory_order_acquire)) return true;
          continue;
        }
        if (std::chrono::steady_clock::now() - start >= patience) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else {
        sched_yield();
      }
    }
  }
  static void unlock(SlotHeader& s) noexcept { s.lock.store(0, std::memory_order_release); }

  // --- the slots' free stack
  std::optional<std::uint32_t> pop_slot() noexcept {
    StoreHeader& h = header();
    std::uint64_t top = h.free_top.load(std::memory_order_acquire);
    while ((top & 0xFFFFFFFFULL) != 0) {
      const auto i = static_cast<std::uint32_t>(top - 1);
      if (!valid(i)) break;  // a damaged stack: none taken from it (fresh ones still are)
      const std::uint32_t below = slot(i).next_free.load(std::memory_order_relaxed);
      const std::uint64_t next = ((top >> 32) + 1) << 32 | below;
      if (h.free_top.compare_exchange_weak(top, next, std::memory_order_acq_rel)) return i;
    }
    std::uint32_t f = h.fresh.load(std::memory_order_relaxed);
    while (f < slots_)
      if (h.fresh.compare_exchange_weak(f, f + 1, std::memory_order_relaxed)) return f;
    return std::nullopt;
  }
  void push_slot(std::uint32_t i) noexcept {
    StoreHeader& h = header();
    std::uint64_t top = h.free_top.load(std::memory_order_relaxed);
    for (;;) {
      slot(i).next_free.store(static_cast<std::uint32_t>(top), std::memory_order_relaxed);
      const std::uint64_t next = ((top >> 32) + 1) << 32 | (i + 1);
      if (h.free_top.compare_exchange_weak(top, next, std::memory_order_release)) return;
    }
  }

  // The key's entry, its slot locked; `busy` if a slot on the way could not be locked.
  struct Found {
    std::uint64_t at;  // index position
    std::uint32_t entry;
    SlotHeader* slot;
  };
  std::optional<Found> find(std::string_view key, std::uint64_t h, bool& busy,
                            std::chrono::nanoseconds patience = kPatience) {
    for (std::size_t k = 0; k < kProbe; ++k) {
      const std::uint64_t at = h + k;
      const std::uint32_t e = index(at).load(std::memory_order_acquire);
      if (e == 0) break;
      if (e == kRemoved || (e & ~kSlotMask) != index_tag(h)) continue;
      if (!valid((e & kSlotMask) - 1ULL)) continue;  // a damaged entry names no slot
      SlotHeader& s = slot((e & kSlotMask) - 1);
      if (!lock(s, patience)) {
        busy = true;
        continue;
      }
      if (index(at).load(std::memory_order_acquire) != e) {  // removed meanwhile
        unlock(s);
        continue;
      }
      // Torn by a writer that died (or lengths that do not fit: damaged): let it go.
      if (s.state != kEntry || s.hash == 0 || !fits(s)) {
        index(at).store(kRemoved, std::memory_order_release);
        s.state = kFree;
        unlock(s);
        push_slot((e & kSlotMask) - 1);
        continue;
      }
      if (s.hash == h && s.key_len == key.size() &&
          std::memcmp(body(s), key.data(), key.size()) == 0)
        return Found{at, e, &s};
      unlock(s);
    }
    return std::nullopt;
  }
  // Removes a found entry (its slot locked) and frees its slot.
  void remove(const Found& f) noexcept {
    index(f.at).store(kRemoved, std::memory_order_release);
    f.slot->state = kFree;
    f.slot->hash = 0;
    unlock(*f.slot);
    push_slot((f.entry & kSlotMask) - 1);
  }
  void write(SlotHeader& s, std::uint64_t h, std::string_view key, std::string_view state,
             bool connected, std::uint64_t since = 0) noexcept {
    const ProcessIdentity self = self_identity();
    s.hash = 0;  // torn until the hash says otherwise
    // (Signal fences: the compiler keeps the field stores between the two hash stores, so a
    // writer killed in between leaves hash 0, whatever order it picked; the lock's release orders
    // them for other CPUs.)
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.state = kEntry;
    s.flags = connected ? kConnected : 0;
    s.owner_pid = static_cast<std::uint64_t>(self.pid);
    s.owner_start = self.start_time;
    s.since_ns = connected || since == 0 ? monotonic_ns() : since;
    s.key_len = static_cast<std::uint32_t>(key.size());
    s.state_len = static_cast<std::uint32_t>(state.size());
    std::memcpy(body(s), key.data(), key.size());
    std::memcpy(body(s) + key.size(), state.data(), state.size());
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.hash = h;
  }

  // When a dead owner died (0 if no one noted it).
  // (`after`: only a death at or after it counts — one before an entry was written is an
  // earlier process's that had the same pid.)
  std::uint64_t death_of(std::uint64_t pid, std::uint64_t after = 0) const noexcept {
    for (const Death& d : header().deaths)
      if (d.who.load(std::memory_order_acquire) == pid) {
        const std::uint64_t at = d.at_ns.load(std::memory_order_relaxed);
        // SYNC POINT READ: `who` again after `at_ns` (pairs with note_death's fence): unchanged,
        // so `at_ns` is this pid's (a pid rewritten with itself is the same pid's death anyway).
        std::atomic_thread_fence(std::memory_order_acquire);
        if (d.who.load(std::memory_order_relaxed) != pid) continue;
        if (at >= after) return at;
      }
    return 0;
  }
  // (True if this call wrote the record; false if the death was noted already.)
  bool note_death(std::uint64_t pid, std::uint64_t at, std::uint64_t after = 0) noexcept {
    if (death_of(pid, after) != 0) return false;
    Death& d = header().deaths[header().next_death.fetch_add(1) % kDeaths];
    d.who.store(0, std::memory_order_relaxed);
    // SYNC POINT WRITE: the cleared `who` before the new time (a reader that reads the new time
    // then sees `who` changed), the time before the new `who` (release).
    std::atomic_thread_fence(std::memory_order_release);
    d.at_ns.store(at, std::memory_order_relaxed);
    d.who.store(pid, std::memory_order_release);
    // (two noters of one death may both add it: the earlier time is read first; harmless)
    return true;
  }
  // A held entry of a dead owner, connected until then, made a disconnected one since `at` (its
  // owner's death) in place: its age then no longer hangs on the death record, which 64 later
  // deaths overwrite (after that it was taken for "disconnected since now" at each look, and a
  // session past its window was still recovered). The time first, then the flag: a holder killed
  // between the two leaves it connected, still judged by its owner's death.
  static void settle_dead(SlotHeader& s, std::uint64_t at) noexcept {
    s.since_ns = at;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.flags &= ~kConnected;
  }
  // Every connected entry of the dead process(es) with pid `pid` written before its death at
  // `at`, made disconnected since then in place (settle_dead): those no lookup meets before 64
  // later deaths overwrite its record keep their age. By every worker that hears of it
  // (worker_died), and by a lookup that noted it first: one look at each slot handed out, and
  // under its lock at each of pid's still connected, once per death (a full table of 131,072 slots,
  // the dead one's 16,384 of them as one of 8 workers: 2.5-3.1 ms, 25-37 ms when every slot was
  // locked; 2026-12-04, the 2-vCPU dev VM, a scratch program); a slot held by a live process is
  // passed over after one round of the lock's spin, a dead holder's taken over (its holder settles
  // a slot passed over if it judges it: take and put's reuse do). The owner's liveness is read once
  // per process of that pid, not once per entry.
  void settle_owner(std::uint64_t pid, std::uint64_t at) noexcept {
    std::uint64_t start_seen = 0;
    bool dead = false;
    const std::uint32_t handed_out =
        std::min(header().fresh.load(std::memory_order_relaxed), slots_);
    const ProcessIdentity self = self_identity();
    if (self.start_time == 0) return;  // (as lock() would refuse each slot)
    const std::uint64_t me = process_tag(self);
    for (std::uint32_t i = 0; i < handed_out; ++i) {
      SlotHeader& s = slot(i);
      // Only `pid` writes entries it owns, and it is dead: a slot whose owner is another now is
      // passed over without its lock (before 2026-12-04 every slot was locked, a compare-and-swap
      // and a getpid() each; a helper's review). (Read without the lock: a slot being rewritten
      // by another process meanwhile becomes that process's, so passing over it is right either
      // way; one that looks like pid's is looked at again under the lock.)
      if (std::atomic_ref<std::uint64_t>(s.owner_pid).load(std::memory_order_relaxed) != pid)
        continue;
      // (Nor is one of pid's that is disconnected, settled by an earlier scan: every worker scans
      // at each death since 2026-12-06, and only the first finds any to settle.)
      if ((std::atomic_ref<std::uint32_t>(s.flags).load(std::memory_order_relaxed) & kConnected) ==
          0)
        continue;
      if (!lock_as(s, me, std::chrono::nanoseconds(0))) continue;
      if (s.state == kEntry && s.hash != 0 && (s.flags & kConnected) != 0 && s.owner_pid == pid &&
          s.since_ns <= at) {
        if (s.owner_start != start_seen || start_seen == 0) {
          start_seen = s.owner_start;
          dead = !process_tag_alive(process_tag({static_cast<pid_t>(pid), s.owner_start}));
        }
        if (dead) {
          const std::uint64_t when = death_of(pid, s.since_ns);
          settle_dead(s, when != 0 ? when : at);
        }
      }
      unlock(s);
    }
  }
  // A death a lookup noted first, whose owner's other entries are to be settled once the
  // lookup has let its slot go (settle_owner waits only one spin round at a busy slot, then passes
  // over it, and a whole table's scan must not hold one slot meanwhile).
  struct Settle {
    std::uint64_t pid = 0, at = 0;
    void run(Map& m) const noexcept {
      if (pid != 0) m.settle_owner(pid, at);
    }
  };
  // Since when a held entry is disconnected (0: connected on a live worker).
  std::uint64_t disconnected_since(SlotHeader& s, Settle& later) noexcept {
    if ((s.flags & kConnected) == 0) return s.since_ns;
    const std::uint64_t who = process_tag({static_cast<pid_t>(s.owner_pid), s.owner_start});
    if (who == process_tag(self_identity()) || process_tag_alive(who)) return 0;
    // A death noted before this entry was written is an earlier process's with the same pid.
    std::uint64_t at = death_of(s.owner_pid, s.since_ns);
    if (at == 0) {
      at = monotonic_ns();
      // (Noted first here: its other entries too, by the caller once it let this slot go.)
      if (note_death(s.owner_pid, at, s.since_ns)) later = Settle{s.owner_pid, at};
    }
    settle_dead(s, at);
    return at;
  }
  // Whether a held entry is taken by a process that lives (this one included, whose tag is
  // `me`): its socket is being admitted there, and no one else takes it.
  static bool taken_by_live(const SlotHeader& s, std::uint64_t me) noexcept {
    if ((s.flags & kTaken) == 0) return false;
    const std::uint64_t taker = process_tag({static_cast<pid_t>(s.owner_pid), s.owner_start});
    return taker == me || process_tag_alive(taker);
  }
  // A held disconnected entry marked taken by `self` (its `since` kept). The taker first, then the
  // flag: a holder killed between the two leaves the disconnected entry it was (the owner of a
  // disconnected entry is never looked at).
  static void mark_taken(SlotHeader& s, const ProcessIdentity& self) noexcept {
    s.owner_pid = static_cast<std::uint64_t>(self.pid);
    s.owner_start = self.start_time;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.flags = kTaken;
  }
  bool expired(SlotHeader& s, std::chrono::nanoseconds max_age, Settle& later) noexcept {
    const std::uint64_t since = disconnected_since(s, later);
    const std::uint64_t now = monotonic_ns();
    return since != 0 && now - std::min(now, since) > static_cast<std::uint64_t>(max_age.count());
  }

  // Frees the expired entries among the next `budget` slots handed out (this process's cursor
  // goes round them); how many it freed. A put that finds no free slot sweeps first: nothing else
  // removes an entry its client never comes back for (a closed tab's), and a put reuses an
  // expired entry only among the few index entries before the first never-used one from its
  // hash — once the table had filled, about a third of new sessions were not saved, every entry
  // in it expired (before 2026-12-04; a helper's review). A slot held by a live process is passed
  // over (one round of the lock's spin), one whose index entry is not where its hash says is left
  // as it is (freed, a lookup meeting that entry would free it a second time). Once as many slots
  // as are handed out were looked at without freeing any (over several puts), no sweep for a
  // second (a table full of live sessions would otherwise be walked 4,096 slots at every put).
  // A connected entry's owner is looked up once per process per sweep (a /proc read).
  // (Atomic: one SessionStore may be used by several threads.)
  std::atomic<std::uint32_t> sweep_cursor_{0};
  std::atomic<std::uint64_t> sweep_fruitless_{0};       // slots looked at since one was freed
  std::atomic<std::uint64_t> sweep_quiet_until_ns_{0};  // monotonic_ns()
  std::size_t sweep(std::chrono::nanoseconds max_age, std::uint32_t budget) noexcept {
    const std::uint64_t now = monotonic_ns();
    if (now < sweep_quiet_until_ns_.load(std::memory_order_relaxed)) return 0;
    const std::uint32_t handed_out =
        std::min(header().fresh.load(std::memory_order_relaxed), slots_);
    const ProcessIdentity self = self_identity();
    if (handed_out == 0 || self.start_time == 0) return 0;
    const std::uint64_t me = process_tag(self);
    const std::uint32_t n = std::min(budget, handed_out);
    std::size_t freed = 0;
    // (tag, alive) looked up in this sweep, the first 64 owners kept: nothing allocated while a
    // slot is locked (a bad_alloc there, in this noexcept function, ended the process; before
    // 2026-12-05, found by a review). Past 64 owners, each further look reads /proc again.
    std::array<std::pair<std::uint64_t, bool>, 64> owners{};
    std::size_t known = 0;
    const auto owner_alive = [&](const SlotHeader& s) {
      const std::uint64_t tag = process_tag({static_cast<pid_t>(s.owner_pid), s.owner_start});
      for (std::size_t o = 0; o < known; ++o)
        if (owners[o].first == tag) return owners[o].second;
      const bool alive = tag == me || process_tag_alive(tag);
      if (known < owners.size()) owners[known++] = {tag, alive};
      return alive;
    };
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t i = sweep_cursor_.fetch_add(1, std::memory_order_relaxed) % handed_out;
      SlotHeader& s = slot(i);
      if (!lock_as(s, me, std::chrono::nanoseconds(0))) continue;
      Settle later;
      std::optional<Found> f;
      // (A connected entry of a live owner is not expired: passed over without expired()'s look.
      // Its index entry names it as long as this lock is held: only the slot's holder changes it.)
      if (s.state == kEntry && s.hash != 0 && fits(s) &&
          !((s.flags & kConnected) != 0 && owner_alive(s)) && expired(s, max_age, later)) {
        const std::uint32_t named = index_tag(s.hash) | (i + 1);
        for (std::size_t p = 0; p < kProbe && !f; ++p)
          if (index(s.hash + p).load(std::memory_order_acquire) == named)
            f = Found{s.hash + p, named, &s};
      }
      if (f) {
        remove(*f);  // (lets the slot go, and gives it back)
        ++freed;
      } else {
        unlock(s);
      }
      later.run(*this);
    }
    if (freed != 0) {
      sweep_fruitless_.store(0, std::memory_order_relaxed);
    } else if (sweep_fruitless_.fetch_add(n, std::memory_order_relaxed) + n >= handed_out) {
      sweep_fruitless_.store(0, std::memory_order_relaxed);
      sweep_quiet_until_ns_.store(now + 1'000'000'000ULL, std::memory_order_relaxed);
    }
    return freed;
  }
};

std::string SessionStore::object_name(const std::string& ring, std::uint64_t ring_id) {
  return detail::sidecar_name(kPrefix, ring, ring_id);
}

void SessionStore::remove_all(const std::string& ring, std::optional<std::uint64_t> ring_id) {
  detail::remove_sidecars(kPrefix, ring, ring_id);
}

namespace {
// An existing table's identity and geometry as its creator laid it out: each word within its
// bounds, the index the size the slots make it, and the whole the object's size; nullptr, or why
// not. The geometry is read once, into `g`: what was checked is what the caller uses (Map's
// snapshot; a stray write to the header afterwards changes nothing here).
struct Geometry {
  std::uint32_t slots = 0, slot_bytes = 0, index_entries = 0;
};
const char* check_store(const StoreHeader& h, std::uint64_t ring_id, std::size_t bytes,
                        Geometry& g) {
  const char* bad = detail::check_sidecar(h.id, kMagic, kVersion, ring_id, "not a session store");
  const std::uint32_t slots = h.slots, slot_bytes = h.slot_bytes, entries = h.index_entries;
  g = {slots, slot_bytes, entries};
  if (bad == nullptr &&
      (slots == 0 || slots > kMaxSlots || slot_bytes < 256 || slot_bytes > 65536 ||
       slot_bytes % 64 != 0 || entries != round_pow2(2ULL * slots, 128) ||
       object_bytes(slots, slot_bytes) != bytes))
    bad = "a layout that does not add up";
  return bad;
}
}  // namespace

Result<SessionStore> SessionStore::open(const std::string& ring, std::uint64_t ring_id,
                                        const SessionStoreConfig& config) {
  if (config.slot_bytes < 256 || config.slot_bytes > 65536 || config.slot_bytes % 64 != 0)
    return Error{Errc::invalid_argument,
                 "session slot_bytes must be a multiple of 64 in [256, 65536], got " +
                     std::to_string(config.slot_bytes)};
  if (config.slots == 0 || config.slots > kMaxSlots)
    return Error{Errc::invalid_argument, "session slots must be 1.." + std::to_string(kMaxSlots) +
                                             ", got " + std::to_string(config.slots)};
  const std::string obj = object_name(ring, ring_id);
  auto sc = detail::open_sidecar(obj, object_bytes(config.slots, config.slot_bytes), kHeaderBytes,
                                 config.mode);
  if (!sc) return sc.error();
  auto* m = new Map{sc.value().base, sc.value().bytes};
  StoreHeader& h = m->header();
  if (sc.value().created) {
    h.slots = config.slots;
    h.slot_bytes = config.slot_bytes;
    h.index_entries = round_pow2(2ULL * config.slots, 128);
    detail::publish_sidecar(sc.value(), h.id, kMagic, kVersion, ring_id);
  } else {
    Geometry g;
    if (const char* bad = check_store(h, ring_id, m->bytes, g)) {
      detail::unmap_sidecar(sc.value());
      delete m;
      return Error{Errc::size_mismatch, obj + ": " + bad};
    }
    m->slots_ = g.slots;
    m->slot_bytes_ = g.slot_bytes;
    m->index_entries_ = g.index_entries;
    return SessionStore(m);
  }
  m->slots_ = config.slots;
  m->slot_bytes_ = config.slot_bytes;
  m->index_entries_ = round_pow2(2ULL * config.slots, 128);
  return SessionStore(m);
}

Result<SessionStore::Summary> SessionStore::summarize(const std::string& ring,
                                                      std::uint64_t ring_id) {
  const std::string obj = object_name(ring, ring_id);
  auto sc = detail::map_sidecar_read_only(obj, ring);
  if (!sc) return sc.error();
  struct Unmap {
    detail::Sidecar s;
    ~Unmap() { detail::unmap_sidecar(s); }
  } unmap{sc.value()};
  if (sc.value().bytes < kHeaderBytes) return Error{Errc::size_mismatch, obj + ": too small"};
  // (Only loads: the mapping is read-only.)
  const auto& h = *reinterpret_cast<const StoreHeader*>(sc.value().base);
  Geometry g;
  if (const char* bad = check_store(h, ring_id, sc.value().bytes, g))
    return Error{Errc::size_mismatch, obj + ": " + bad};
  Summary out;
  out.slots = g.slots;
  out.slot_bytes = g.slot_bytes;
  out.handed_out = std::min(h.fresh.load(std::memory_order_relaxed), out.slots);
  // (The object was allocated whole at its creation, posix_fallocate: reading its index through
  // the mapping allocates nothing in /dev/shm.)
  const auto* index =
      reinterpret_cast<const std::atomic<std::uint32_t>*>(sc.value().base + kHeaderBytes);
  // (A slot's words read as its lookups would, without its lock: a taken entry's taker is looked
  // up, and one found dead counts with the entries a recovery finds, as take() judges it.)
  const std::byte* slots = sc.value().base + kHeaderBytes + index_bytes(g.index_entries);
  const auto word = [&](std::uint64_t slot, std::size_t at, auto zero) {
    return reinterpret_cast<const std::atomic<decltype(zero)>*>(slots + slot * g.slot_bytes + at)
        ->load(std::memory_order_relaxed);
  };
  for (std::uint32_t i = 0; i < g.index_entries; ++i) {
    const std::uint32_t e = index[i].load(std::memory_order_relaxed);
    if (e == 0 || e == kRemoved || (e & kSlotMask) - 1ULL >= out.slots) continue;
    const std::uint64_t slot = (e & kSlotMask) - 1ULL;
    if ((word(slot, offsetof(SlotHeader, flags), std::uint32_t{0}) & kTaken) != 0 &&
        process_tag_alive(process_tag(
            {static_cast<pid_t>(word(slot, offsetof(SlotHeader, owner_pid), std::uint64_t{0})),
             word(slot, offsetof(SlotHeader, owner_start), std::uint64_t{0})})))
      ++out.taken;
    else
      ++out.indexed;
  }
  // (Each death as death_of reads it: `who` again after the time, or the record is passed over.)
  for (const Death& d : h.deaths) {
    const std::uint64_t who = d.who.load(std::memory_order_acquire);
    if (who == 0) continue;
    const std::uint64_t at = d.at_ns.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (d.who.load(std::memory_order_relaxed) == who) out.deaths.push_back({who, at});
  }
  std::sort(out.deaths.begin(), out.deaths.end(),
            [](const Summary::Death& a, const Summary::Death& b) { return a.at_ns < b.at_ns; });
  return out;
}

SessionStore::SessionStore(SessionStore&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
SessionStore& SessionStore::operator=(SessionStore&& o) noexcept {
  std::swap(m_, o.m_);
  return *this;
}
SessionStore::~SessionStore() {
  if (m_ == nullptr) return;
  detail::unmap_sidecar({m_->base, m_->bytes, false});
  delete m_;
}

std::uint32_t SessionStore::slots() const noexcept {
  return m_->slots();
}
std::uint32_t SessionStore::slot_bytes() const noexcept {
  return m_->slot_bytes();
}
std::size_t SessionStore::capacity_for(std::string_view key) const noexcept {
  const std::size_t room = m_->slot_bytes() - kSlotHeader;
  return key.size() >= room ? 0 : room - key.size();
}

SessionStore::PutStatus SessionStore::put(std::string_view key, std::string_view state,
                                          bool connected, std::chrono::nanoseconds max_age,
                                          std::uint64_t since) {
  if (key.empty()) return PutStatus::too_large;
  const std::uint64_t h = fnv1a(key);
  bool busy = false;
  if (key.size() + state.size() > m_->slot_bytes() - kSlotHeader) {
    // The key's older state goes with the refusal: left, a recovery would take it (its rooms from
    // before: broadcasts to the rooms joined since neither replayed nor delivered) and call itself
    // a success (found in review, 2026-12-02). A slot that cannot be locked now: busy, for the
    // caller to erase later.
    if (auto f = m_->find(key, h, busy)) m_->remove(*f);
    return busy ? PutStatus::busy : PutStatus::too_large;
  }
  // The key's own entry: replaced in place.
  if (auto f = m_->find(key, h, busy)) {
    m_->write(*f->slot, h, key, state, connected, since);
    Map::unlock(*f->slot);
    return PutStatus::ok;
  }
  // A slot on the way that could not be locked may be the key's own entry: a second one would
  // then be taken twice, or hide the newer state (found in review, 2026-12-01). Not saved.
  if (busy) return PutStatus::busy;
  const std::uint32_t entry_tag = index_tag(h);
  // A slot of its own, indexed in the first free entry from the hash. (None free: expired
  // entries freed first, 4,096 slots looked at: such a put took 118-134 us, median 120, on a
  // table of 131,072 live entries of one process; 20 puts, the 2-vCPU dev VM, 2026-12-04, a
  // scratch program. Each other live owner adds one /proc read per sweep.)
  std::optional<std::uint32_t> free_slot = m_->pop_slot();
  if (!free_slot && m_->sweep(max_age, 4096) > 0) free_slot = m_->pop_slot();
  // A free slot whose lock is held (a sweep's or a dead owner's settling, stopped there: SIGSTOP)
  // is set aside at once and the next one taken, up to 8; given back after. Waited on, it was
  // the top of the free stack for every put: each new key waited 50 ms and was not saved while
  // free and never-used slots were left (before 2026-12-05; found by a review). (A free slot's
  // holder is never at long work: no patience.)
  std::array<std::uint32_t, 8> aside{};
  std::size_t set_aside = 0;
  while (free_slot && !m_->lock(m_->slot(*free_slot), std::chrono::nanoseconds(0))) {
    busy = true;
    aside[set_aside++] = *free_slot;
    free_slot = set_aside < aside.size() ? m_->pop_slot() : std::nullopt;
  }
  const auto give_back_aside = [&] {
    for (std::size_t k = set_aside; k > 0; --k) m_->push_slot(aside[k - 1]);
  };
  if (auto i = free_slot) {
    SlotHeader& s = m_->slot(*i);
    {  // (locked above)
      m_->write(s, h, key, state, connected, since);
      for (std::size_t k = 0; k < kProbe; ++k) {
        std::atomic<std::uint32_t>& e = m_->index(h + k);
        std::uint32_t was = e.load(std::memory_order_acquire);
        if ((was == 0 || was == kRemoved) &&
            e.compare_exchange_strong(was, entry_tag | (*i + 1), std::memory_order_acq_rel)) {
          Map::unlock(s);
          give_back_aside();
          return PutStatus::ok;
        }
      }
      s.state = kFree;  // no index entry free near the hash: given back
      s.hash = 0;
      Map::unlock(s);
    }
    m_->push_slot(*i);
  }
  give_back_aside();
  // No free slot (or no free entry near the hash): an expired entry's slot near the hash, reused
  // in place (its index entry now names the new key).
  for (std::size_t k = 0; k < kProbe; ++k) {
    std::atomic<std::uint32_t>& e = m_->index(h + k);
    const std::uint32_t was = e.load(std::memory_order_acquire);
    if (was == 0) break;
    if (was == kRemoved || !m_->valid((was & kSlotMask) - 1ULL)) continue;
    SlotHeader& s = m_->slot((was & kSlotMask) - 1);
    if (!m_->lock(s)) {
      busy = true;
      continue;
    }
    Map::Settle later;
    if (e.load(std::memory_order_acquire) == was && s.state == kEntry && s.hash != 0 &&
        m_->expired(s, max_age, later)) {
      m_->write(s, h, key, state, connected, since);
      e.store(entry_tag | (was & kSlotMask), std::memory_order_release);
      Map::unlock(s);
      later.run(*m_);
      return PutStatus::ok;
    }
    Map::unlock(s);
    later.run(*m_);
  }
  return busy ? PutStatus::busy : PutStatus::full;
}

SessionStore::Taken SessionStore::take(std::string_view key, std::chrono::nanoseconds max_age) {
  const std::uint64_t h = fnv1a(key);
  bool busy = false;
  auto f = m_->find(key, h, busy);
  if (!f) return {busy ? TakeStatus::busy : TakeStatus::unknown, {}};
  SlotHeader& s = *f->slot;
  // Taken by a worker still admitting its socket (or by this process): not a second time. One
  // whose taker died before it admitted the socket or gave the entry back is taken again below,
  // as the disconnected entry it was (its time kept).
  const ProcessIdentity self = self_identity();
  if (Map::taken_by_live(s, process_tag(self))) {
    Map::unlock(s);
    return {TakeStatus::unknown, {}};
  }
  Map::Settle later;
  const std::uint64_t since = m_->disconnected_since(s, later);
  // (The state's copy may throw, bad_alloc: the slot's lock let go first, the entry left as it
  // was. Before 2026-12-05 the lock stayed with a live process, and the key answered busy to
  // every process for as long as it lived; found by a review.)
  const auto copy_state = [&](std::string& into) {
    try {
      into.assign(m_->body(s) + s.key_len, s.state_len);
    } catch (...) {
      Map::unlock(s);
      throw;
    }
  };
  if (since == 0) {
    // (Its state too, left in place: the caller may look up the socket it names.)
    Taken live{TakeStatus::connected_live, {}};
    copy_state(live.state);
    Map::unlock(s);
    return live;
  }
  const std::uint64_t now = monotonic_ns();
  const bool old = now - std::min(now, since) > static_cast<std::uint64_t>(max_age.count());
  Taken t{old ? TakeStatus::expired : TakeStatus::ok, {}, since};
  if (old) {
    m_->remove(*f);
  } else {
    copy_state(t.state);
    Map::mark_taken(s, self);
    Map::unlock(s);
  }
  later.run(*m_);
  return t;
}

SessionStore::EraseStatus SessionStore::erase(std::string_view key,
                                              std::chrono::nanoseconds patience) {
  bool busy = false;
  auto f = m_->find(key, fnv1a(key), busy, patience);
  if (!f) return busy ? EraseStatus::busy : EraseStatus::unknown;
  m_->remove(*f);
  return EraseStatus::erased;
}

void SessionStore::worker_died(pid_t pid, std::uint64_t at_ns) {
  // A record of this pid up to 10 s before is this death's, noted by another (the supervisor,
  // each worker at WORKER_DOWN); an older one is an earlier process's with the same pid.
  constexpr std::uint64_t kSameDeath = 10'000'000'000ULL;
  (void)m_->note_death(static_cast<std::uint64_t>(pid), at_ns, at_ns - std::min(at_ns, kSameDeath));
  // Its entries settled by every caller, not only the one that noted the death (or a lookup that
  // met one first): a noter killed in the middle of its scan left the rest connected, judged by a
  // record that 64 later deaths overwrite, and recovered past their window after that (before
  // 2026-12-06; a review). Entries settled already are passed over without their lock, so a
  // later scan looks at each slot handed out and locks none (less than the first's 2.5-3.1 ms
  // for a full table: settle_owner), once per worker per death.
  m_->settle_owner(static_cast<std::uint64_t>(pid), at_ns);
}

std::size_t SessionStore::count_entries() const {
  // Through the index: an entry is counted if a lookup could find it (a slot leaked by a writer
  // killed between writing and indexing it holds an entry nobody can reach: not counted).
  std::size_t n = 0;
  const std::uint64_t me = process_tag(self_identity());
  for (std::uint64_t i = 0; i < m_->index_entries_; ++i) {
    const std::uint32_t e = m_->index(i).load(std::memory_order_acquire);
    if (e == 0 || e == kRemoved || !m_->valid((e & kSlotMask) - 1ULL)) continue;
    SlotHeader& s = m_->slot((e & kSlotMask) - 1);
    if (!m_->lock(s)) continue;
    if (m_->index(i).load(std::memory_order_acquire) == e && s.state == kEntry && s.hash != 0 &&
        index_tag(s.hash) == (e & ~kSlotMask) && !Map::taken_by_live(s, me))
      ++n;
    Map::unlock(s);
  }
  return n;
}

const char* to_string(SessionStore::PutStatus s) noexcept {
  switch (s) {
    case SessionStore::PutStatus::ok:
      return "ok";
    case SessionStore::PutStatus::too_large:
      return "its state is larger than a session slot";
    case SessionStore::PutStatus::full:
      return "no free slot in its probe range (the session table is full there)";
    case SessionStore::PutStatus::busy:
      return "its slots were held by a stopped worker";
  }
  return "?";
}

const char* to_string(SessionStore::TakeStatus s) noexcept {
  switch (s) {
    case SessionStore::TakeStatus::ok:
      return "ok";
    case SessionStore::TakeStatus::unknown:
      return "unknown session (never saved, taken by a worker admitting it, or expired and its "
             "slot reused)";
    case SessionStore::TakeStatus::expired:
      return "disconnected longer than the recovery window";
    case SessionStore::TakeStatus::connected_live:
      return "its socket is still connected on a live worker";
    case SessionStore::TakeStatus::busy:
      return "its slot was held by a stopped worker";
  }
  return "?";
}

const char* to_string(SessionStore::EraseStatus s) noexcept {
  switch (s) {
    case SessionStore::EraseStatus::erased:
      return "erased";
    case SessionStore::EraseStatus::unknown:
      return "no such session";
    case SessionStore::EraseStatus::busy:
      return "a slot on its way was held by a stopped worker";
  }
  return "?";
}

}  // namespace shmio::shm
