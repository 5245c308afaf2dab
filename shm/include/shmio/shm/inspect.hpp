// Read-only inspection of a live ring (what shm-inspect shows; unit-tested in shm_unit_tests):
// consistent snapshots of the frontier and tail, the producer and reader slots, and a walk of the
// records below the frontier. Everything shared is read with atomic loads; the few non-atomic bytes
// (record headers, payloads, labels) are copied tentatively and validated against the tail
// afterwards, as a reader does, so a Segment attached read-only is enough. The ring is live: every
// figure is a snapshot that may be stale by the time it is used.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "shmio/shm/layout.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm::inspect {

struct RingSnapshot {
  std::uint64_t frontier = 0;
  std::uint64_t frontier_index = 0;  // non-padding records below the frontier, ever
  std::uint64_t tail = 0;            // >= frontier
};
RingSnapshot snapshot(const Segment& s);

// Non-padding records in [position, frontier), if `position` is a record start still in the ring
// (not lapped, not past the frontier); nullopt otherwise.
std::optional<std::uint64_t> records_until_frontier(const Segment& s, std::uint64_t position,
                                                    const RingSnapshot& snap);

// A registry slot as last read (only ACTIVE and DEAD slots are listed).
struct SlotCommon {
  std::uint16_t id = 0;
  std::uint32_t state = 0;  // layout::kSlotActive or kSlotDead
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  int core = -1;
  std::uint64_t heartbeat_ns = 0;  // CLOCK_MONOTONIC, 0: never
  std::string label;
  bool alive = false;  // its process lives (pid and start time)
};
struct ProducerRow : SlotCommon {
  std::uint32_t claim_state = 0;
  std::uint64_t claim_position = 0;
  std::uint64_t claim_length = 0;
  std::uint64_t records = 0, bytes = 0, aborted = 0, abandoned = 0, gated = 0;
  std::uint64_t abandoned_bytes = 0;
};
struct ReaderRow : SlotCommon {
  std::uint64_t position = 0;
  std::uint32_t parked = 0;
  std::uint64_t records = 0, bytes = 0, laps = 0, lost_records = 0, lost_bytes = 0;
  std::uint64_t wakeups = 0, corrupt = 0;
};
std::vector<ProducerRow> producers(const Segment& s);
std::vector<ReaderRow> readers(const Segment& s);

struct SlotCounts {
  std::uint64_t producers_active = 0, producers_dead = 0, readers_active = 0, readers_dead = 0;
  // Slots being taken (layout::is_taking, and an exclusive ring's OWNING): for a moment at each
  // attach; one that stays is a taker that is stopped, or one from a build before the taker's
  // pid was in the marker (never taken back: docs/ring.md, "Readers: laps, corruption, dead
  // readers").
  std::uint64_t producers_taking = 0, readers_taking = 0;
};
SlotCounts count_slots(const Segment& s);

// Milliseconds since a CLOCK_MONOTONIC heartbeat (the clock is system-wide), nullopt if never.
std::optional<std::uint64_t> heartbeat_age_ms(std::uint64_t heartbeat_ns, std::uint64_t now_ns);

// True if the ring has lapped `position` since: its bytes may have been overwritten.
bool lapped(const Segment& s, std::uint64_t position);

inline constexpr std::size_t kPreviewBytes = 64;
struct DumpedRecord {
  layout::RecordHeader header{};
  std::uint64_t index = 0;  // its record index (not meaningful for padding)
  std::array<std::byte, kPreviewBytes> preview{};
  std::size_t preview_len = 0;
  bool overwritten = false;  // the ring lapped it while its payload was copied
};
struct Walk {
  std::uint64_t frontier = 0, tail = 0, oldest = 0;
  std::uint64_t walked = 0;  // records (padding included) walked from the oldest
  std::deque<DumpedRecord> last;
  std::string stopped;  // why the walk stopped before the frontier, if it did
};
// Walks the records from the oldest valid one up to the frontier, keeping the last `n` (with the
// first kPreviewBytes of each payload). Records are variable length with no back-pointer, so
// walking forward is the only way. A walk the ring laps restarts once from the new oldest record;
// false if it was lapped twice.
bool walk(const Segment& s, std::uint64_t n, Walk& w);

}  // namespace shmio::shm::inspect
