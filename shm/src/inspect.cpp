#include "shmio/shm/inspect.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/ring_reader.hpp"

namespace shmio::shm::inspect {

RingSnapshot snapshot(const Segment& s) {
  // The frontier, the index stamped there, then the tail (so tail >= frontier). The index at a
  // position stays that position's own until the ring laps it, i.e. until the frontier has moved
  // a whole capacity further on; re-reading the frontier checks that it has not.
  const layout::Control& c = s.control();
  RingSnapshot snap;
  for (;;) {
    snap.frontier = c.frontier.frontier.load(std::memory_order_acquire);
    snap.frontier_index = core::index_at(s, snap.frontier);
    // (Exactly f: f's unit is stamped again for f + capacity once the frontier has moved some
    // three quarters of the ring, so "less than a capacity" let a lap's worth too many records
    // through; until 2026-12-06, a helper's review.)
    const std::uint64_t again = c.frontier.frontier.load(std::memory_order_acquire);
    if (again == snap.frontier) break;
  }
  snap.tail = c.tail.tail.load(std::memory_order_acquire);
  return snap;
}

std::optional<std::uint64_t> records_until_frontier(const Segment& s, std::uint64_t position,
                                                    const RingSnapshot& snap) {
  if (position % layout::kUnit != 0) return std::nullopt;
  // Ahead of the frontier (a reader goes by the seals) but not past the tail: nothing left.
  if (position > snap.frontier)
    return position <= snap.tail ? std::optional<std::uint64_t>(0) : std::nullopt;
  // (At a capacity behind the tail the position's unit is the tail's, which may hold its index
  // already: strictly within, as find_oldest, resync and seek count; until 2026-12-06 ">".)
  if (snap.tail - position >= s.capacity()) return std::nullopt;
  const std::uint64_t index = core::index_at(s, position);
  // Seqlock-style validation: the index was still this position's if the tail, read after it,
  // shows that the ring has not lapped the position meanwhile.
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t tail = s.control().tail.tail.load(std::memory_order_relaxed);
  if (tail - position >= s.capacity() || index > snap.frontier_index) return std::nullopt;
  return snap.frontier_index - index;
}

namespace {

std::string label_of(const char (&label)[layout::kLabelBytes]) {
  char copy[layout::kLabelBytes];
  copy_tentative(reinterpret_cast<std::byte*>(copy), reinterpret_cast<const std::byte*>(label),
                 sizeof copy);
  return std::string(copy, strnlen(copy, sizeof copy));
}

// Reads a slot's fields, retrying while its owner changes under us (generation or state moved).
// Returns false for a slot neither ACTIVE nor DEAD.
template <class Slot, class Row, class ReadFields>
bool read_slot(const Slot& slot, Row& row, ReadFields read_fields) {
  for (int attempt = 0;; ++attempt) {
    const std::uint32_t state = slot.state.load(std::memory_order_acquire);
    if (state != layout::kSlotActive && state != layout::kSlotDead) return false;
    const std::uint64_t generation = slot.generation.load(std::memory_order_relaxed);
    row.state = state;
    row.pid = slot.pid.load(std::memory_order_relaxed);
    row.start_time = slot.start_time.load(std::memory_order_relaxed);
    row.core = slot.core.load(std::memory_order_relaxed);
    row.heartbeat_ns = slot.heartbeat_ns.load(std::memory_order_relaxed);
    row.label = label_of(slot.label);
    read_fields(slot, row);
    std::atomic_thread_fence(std::memory_order_acquire);
    const bool stable = slot.state.load(std::memory_order_relaxed) == state &&
                        slot.generation.load(std::memory_order_relaxed) == generation;
    // A slot that keeps churning is shown as last read: these are statistics, not data.
    if (stable || attempt == 3) break;
  }
  row.alive = liveness(ProcessIdentity{row.pid, row.start_time}) == Liveness::alive;
  return true;
}

}  // namespace

std::vector<ProducerRow> producers(const Segment& s) {
  std::vector<ProducerRow> rows;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    ProducerRow row;
    row.id = i;
    const bool used =
        read_slot(s.producer_slot(i), row, [](const layout::ProducerSlot& p, ProducerRow& r) {
          constexpr auto kRelaxed = std::memory_order_relaxed;
          r.claim_state = p.claim_state.load(std::memory_order_acquire);
          r.claim_position = p.claim_position.load(kRelaxed);
          r.claim_length = p.claim_length.load(kRelaxed);
          r.records = p.records.load(kRelaxed);
          r.bytes = p.bytes.load(kRelaxed);
          r.aborted = p.aborted.load(kRelaxed);
          r.abandoned = p.abandoned.load(kRelaxed);
          r.gated = p.gated.load(kRelaxed);
          r.abandoned_bytes = p.abandoned_bytes.load(kRelaxed);
        });
    if (used) rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<ReaderRow> readers(const Segment& s) {
  std::vector<ReaderRow> rows;
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    ReaderRow row;
    row.id = i;
    const bool used =
        read_slot(s.reader_slot(i), row, [](const layout::ReaderSlot& p, ReaderRow& r) {
          constexpr auto kRelaxed = std::memory_order_relaxed;
          r.position = p.position.load(kRelaxed);
          r.parked = p.parked.load(kRelaxed);
          r.records = p.records.load(kRelaxed);
          r.bytes = p.bytes.load(kRelaxed);
          r.laps = p.laps.load(kRelaxed);
          r.lost_records = p.lost_records.load(kRelaxed);
          r.lost_bytes = p.lost_bytes.load(kRelaxed);
          r.wakeups = p.wakeups.load(kRelaxed);
          r.corrupt = p.corrupt.load(kRelaxed);
        });
    if (used) rows.push_back(std::move(row));
  }
  return rows;
}

SlotCounts count_slots(const Segment& s) {
  SlotCounts n;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    const std::uint32_t st = s.producer_slot(i).state.load(std::memory_order_acquire);
    n.producers_active += st == layout::kSlotActive;
    n.producers_dead += st == layout::kSlotDead;
    n.producers_taking += layout::is_taking(st) || st == layout::kSlotOwning;
  }
  for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
    const std::uint32_t st = s.reader_slot(i).state.load(std::memory_order_acquire);
    n.readers_active += st == layout::kSlotActive;
    n.readers_dead += st == layout::kSlotDead;
    n.readers_taking += layout::is_taking(st);
  }
  return n;
}

std::optional<std::uint64_t> heartbeat_age_ms(std::uint64_t heartbeat_ns, std::uint64_t now_ns) {
  if (heartbeat_ns == 0) return std::nullopt;
  return heartbeat_ns >= now_ns ? 0 : (now_ns - heartbeat_ns) / 1'000'000ULL;
}

bool lapped(const Segment& s, std::uint64_t position) {
  // A claim covering position + capacity (tail beyond it) is the first that may write over its
  // record; one ending exactly there (tail == position + capacity) stamps its successor's index
  // into the same unit, so an index read there is stale from then on: lapped at a whole
  // capacity, as core::find_oldest's strict bound has it (before 2026-12-06 only past it: a
  // dump could show a lap-later index; a review). The fence orders our copies before the tail
  // load (a producer's fetch_add precedes its writes).
  std::atomic_thread_fence(std::memory_order_acquire);
  return s.control().tail.tail.load(std::memory_order_relaxed) - position >= s.capacity();
}

bool walk(const Segment& s, std::uint64_t n, Walk& w) {
  const layout::Control& c = s.control();
  for (int attempt = 0; attempt < 2; ++attempt) {
    w = Walk{};
    w.frontier = c.frontier.frontier.load(std::memory_order_acquire);
    w.tail = c.tail.tail.load(std::memory_order_acquire);
    w.oldest = core::find_oldest(s, w.tail, w.frontier);
    bool was_lapped = false;
    std::uint64_t pos = w.oldest;
    while (pos < w.frontier) {
      DumpedRecord r;
      r.header = s.header(pos);  // from the unit's seal entry (position: the seal's)
      r.index = core::index_at(s, pos);
      if (lapped(s, pos)) {
        was_lapped = true;
        break;
      }
      // Not lapped, so the copy is this record's. Still, check it before trusting its length.
      const layout::RecordHeader& h = r.header;
      const bool pad = h.type == layout::kPaddingType;
      if (h.position != pos ||
          (pad ? h.length > layout::max_padding(s.capacity())
               : h.length == 0 || h.length > s.max_record()) ||
          layout::footprint(h.length) > w.frontier - pos) {
        w.stopped = "walk stopped at position " + std::to_string(pos) +
                    ": inconsistent record header (position " + std::to_string(h.position) +
                    ", length " + std::to_string(h.length) + ", type " + std::to_string(h.type) +
                    ")";
        break;
      }
      ++w.walked;
      if (n > 0) {
        if (w.last.size() == n) w.last.pop_front();
        w.last.push_back(r);
      }
      pos += layout::footprint(h.length);
    }
    if (was_lapped) continue;
    // The payload previews of the records kept, each validated like the headers were.
    for (DumpedRecord& r : w.last) {
      if (r.header.type == layout::kPaddingType) continue;
      r.preview_len = std::min<std::size_t>(r.header.length, kPreviewBytes);
      copy_tentative(r.preview.data(), s.data(r.header.position), r.preview_len);
      r.overwritten = lapped(s, r.header.position);
    }
    return true;
  }
  return false;
}

}  // namespace shmio::shm::inspect
