// SessionStore: the connection-state-recovery sessions of a cluster, kept in a shared-memory table
// beside the ring so that they outlive every worker process (docs/cluster.md, "Connection state
// recovery across workers"; the byte layout is in session_store.cpp).
//
// One entry per recoverable Socket.IO session, keyed by its namespace and private id (pid): the
// worker whose socket it is writes it when the socket connects and whenever its rooms change
// (connected), and at its disconnect (with the final data, disconnected since then). A worker that
// gets a client's recovery request takes the entry (take()), whichever worker wrote it and
// whether that worker is alive, dead or restarted since: nothing is asked of a live peer. A taken
// entry stays in the table marked with its taker until the taker writes it again (put: its socket
// admitted, or the session given back) or erases it; no one else takes it while the taker lives,
// and the next taker after the taker's death gets it as it was (a worker killed while an app's
// middleware decided on the socket lost the session before 2026-12-06).
//
// Bounds: `slots` entries of `slot_bytes` each (defaults 131,072 x 512 B: 64 MiB of shared memory,
// plus an index of 4 bytes per 2 entries; slots are handed out densely, so pages are touched in
// proportion to the entries written). A session whose state does not fit a slot
// (PutStatus::too_large), or that finds no free slot (expired entries are freed first, 4,096
// slots looked at per put that needs one, then none for a second after a whole round freed
// nothing; nor an expired entry's within kProbe index entries of its hash: PutStatus::full), is
// not saved: its client gets a fresh session at
// recovery (an entry the key had is removed with a too_large refusal; one that could not be
// locked then leaves the put busy, for the caller to erase later). A process killed between taking
// a free slot and indexing it leaks that slot, and the free slots it had set aside meanwhile
// (held by a stopped process: up to 8 more; at most 9 per death).
//
// Concurrency: any number of processes and threads. Each slot has a lock word holding its holder's
// identity (pid and start time); a holder found dead is replaced (a slot it was writing is dropped
// as torn), one stopped (SIGSTOP) makes that slot busy: an operation waits at most kPatience for
// it, then gives up (Status busy: not saved / not recovered). No operation blocks on another slot.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"

namespace shmio::shm {

struct SessionStoreConfig {
  // Entries, 1..16,777,214. Default 131,072: a session for every connection of the
  // 100,000-connection scenario, with room to spare.
  std::uint32_t slots = 1u << 17;
  // Bytes per entry, a multiple of 64 in [256, 64 KiB]: 64 for the entry's header, then its key
  // and state. Default 512: a session's id, rooms and data as JSON, for typical apps.
  std::uint32_t slot_bytes = 512;
  unsigned mode = 0600;
};

class SessionStore {
 public:
  static constexpr std::size_t kProbe = 64;  // index entries looked at from a key's hash
  static constexpr std::chrono::milliseconds kPatience{50};

  // The store of the ring `ring` created at `ring_id` (its header's creation_time_ns): created if
  // absent (with `config`), attached otherwise (its own geometry wins). A ring created anew gets
  // a new store: entries never name positions of another ring.
  static Result<SessionStore> open(const std::string& ring, std::uint64_t ring_id,
                                   const SessionStoreConfig& config = {});
  // Removes every store of the ring `ring` (what a supervisor does with the ring).
  // (With `ring_id`: only the one of the ring created then, the others of that name left.)
  static void remove_all(const std::string& ring,
                         std::optional<std::uint64_t> ring_id = std::nullopt);
  static std::string object_name(const std::string& ring, std::uint64_t ring_id);

  // What an inspector shows (shm-inspect sessions): the table of ring `ring` created at
  // `ring_id`, mapped read-only (never created, never written); Errc::not_found if there is none.
  struct Summary {
    std::uint32_t slots = 0, slot_bytes = 0;
    std::uint32_t handed_out = 0;  // slots handed out at least once (their pages touched)
    // Index entries naming a slot: the entries a lookup finds, counted at one moment without the
    // slots' locks (one being put or taken may be in or out); those taken by a live worker (its
    // socket being admitted there) counted apart, in `taken`.
    std::uint64_t indexed = 0;
    std::uint64_t taken = 0;
    struct Death {
      std::uint64_t pid;
      std::uint64_t at_ns;  // CLOCK_MONOTONIC
    };
    std::vector<Death> deaths;  // the deaths noted (the last 64), oldest first
  };
  static Result<Summary> summarize(const std::string& ring, std::uint64_t ring_id);

  SessionStore(SessionStore&& o) noexcept;
  SessionStore& operator=(SessionStore&& o) noexcept;
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;
  ~SessionStore();

  std::uint32_t slots() const noexcept;
  std::uint32_t slot_bytes() const noexcept;
  // The most state bytes an entry with this key can hold.
  std::size_t capacity_for(std::string_view key) const noexcept;

  enum class PutStatus { ok, too_large, full, busy };
  // Writes the entry of `key` (replacing one there): owned by this process, connected or
  // disconnected since now, or since `disconnected_since_ns` (monotonic_ns()'s clock) when given:
  // an entry taken and put back keeps its time. Expired entries (disconnected longer than
  // `max_age`) are reused.
  PutStatus put(std::string_view key, std::string_view state, bool connected,
                std::chrono::nanoseconds max_age, std::uint64_t disconnected_since_ns = 0);

  enum class TakeStatus {
    ok,              // taken: `state` is its state; the entry stays, marked taken by this process,
                     // until this process puts or erases it (or dies: then the next take gets it)
    unknown,         // no such entry (never saved, taken by a live process, expired and reused)
    expired,         // disconnected longer than max_age (removed)
    connected_live,  // its socket is still connected on a live worker (left in place; `state`
                     // is its state as saved at the connect)
    busy,            // its slot's holder did not let go within kPatience
  };
  struct Taken {
    TakeStatus status;
    std::string state;
    std::uint64_t disconnected_since_ns = 0;  // ok: since when it was disconnected
  };
  // A connected entry whose owner is dead counts as disconnected since its owner's death (as a
  // worker noted it with worker_died(), or since this call if none did).
  Taken take(std::string_view key, std::chrono::nanoseconds max_age);
  enum class EraseStatus {
    erased,   // removed
    unknown,  // no such entry
    busy,     // a slot on its way was held past `patience`: the entry may still be there (a
              // holder stopped with SIGSTOP); try again later
  };
  // Removes the entry of `key` if there is one (its socket was closed for good). `patience`: how
  // long to wait behind a live holder of a slot on its way (0: one look, about 64 yields).
  EraseStatus erase(std::string_view key, std::chrono::nanoseconds patience = kPatience);
  // Notes when a worker died (WORKER_DOWN): its connected entries expire from then on. The last
  // 64 deaths are kept; an owner found dead that no one noted is noted then.
  // (By pid: a dead process's start time can no longer be read. A pid reused since then is a live
  // process, whose entries are never looked up as dead.)
  void worker_died(pid_t pid, std::uint64_t at_ns = monotonic_ns());

  // Entries a lookup can find and take (saved, not taken by a live process: one whose taker died
  // counts), counted over the index: for tests and diagnostics, not for a hot path.
  std::size_t count_entries() const;

 private:
  struct Map;
  explicit SessionStore(Map* m) noexcept : m_(m) {}
  Map* m_ = nullptr;
};

const char* to_string(SessionStore::PutStatus s) noexcept;
const char* to_string(SessionStore::TakeStatus s) noexcept;
const char* to_string(SessionStore::EraseStatus s) noexcept;

}  // namespace shmio::shm
