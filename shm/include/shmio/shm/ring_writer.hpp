// RingWriter: publishes records into a ring. Any number of writers, in any attached processes,
// publish concurrently; each holds one producer slot of the registry.
//
// Contract:
// - claim(n) reserves n payload bytes with one fetch_add on the shared tail (no lock, no syscall)
//   and returns a writable span in place; commit() publishes it; abort() turns it into padding.
//   One claim at a time per writer.
// - Records are delivered to every reader in one global order: the order of their positions.
// - A ring created with RingConfig::exclusive_producer takes one writer at a time (the next
//   attach is refused with Errc::exclusive_producer while it lives); that writer claims and
//   commits without locked instructions.
// - Producers never wait for readers. A producer waits only when its claim would overwrite a
//   record of the previous lap that is not complete yet (the gating rule), which is what makes the
//   stale-claim hazard impossible; if that record's producer is dead, the waiter repairs it within
//   the documented bound.
// Thread-safety: a RingWriter is used by one thread at a time (it is movable, not copyable).
// Do not use a writer in a child forked after it was attached.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "shmio/shm/layout.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm {

struct WriterOptions {
  std::string label{};  // shown by shm-inspect, at most 31 bytes kept
  int core = -1;        // the CPU this writer's thread is pinned to, if any (informational)
};

enum class PublishStatus {
  ok,
  empty,          // a record needs at least one payload byte
  too_large,      // more than max_record payload bytes
  bad_type,       // type 0xFFFF is reserved for padding
  claim_pending,  // claim() while a previous claim is neither committed nor aborted
  read_only,      // the segment was attached read-only
};
const char* to_string(PublishStatus s) noexcept;

struct BatchRecord {
  std::uint16_t type;
  std::span<const std::byte> payload;
};

class RingWriter {
 public:
  // The writer keeps a pointer to `segment`: the Segment object must outlive it and must not be
  // moved while it is attached (a moved-from Segment maps nothing).
  static Result<RingWriter> attach(const Segment& segment, WriterOptions options = {});

  RingWriter(RingWriter&& other) noexcept;
  RingWriter& operator=(RingWriter&& other) noexcept;
  RingWriter(const RingWriter&) = delete;
  RingWriter& operator=(const RingWriter&) = delete;
  ~RingWriter();  // aborts a pending claim and frees the slot

  struct Claim {
    PublishStatus status;
    std::span<std::byte> payload;  // write the record here, then commit()
    std::uint64_t position;        // the record's identity
  };
  Claim claim(std::size_t length, std::uint16_t type);
  std::uint64_t commit() noexcept;  // returns the committed record's position
  void abort() noexcept;

  // Whether a record of `length` payload bytes claimed now would wait at the gate: the ring is a
  // lap ahead of its frontier, which a record not finished holds (a producer stopped in the middle
  // of a write). A look, not a promise: others' claims after it may still make a claim wait.
  // (Never on an exclusive ring: its one producer's last commit moved the frontier to its tail.)
  bool would_wait(std::size_t length) const noexcept;

  // claim + copy + commit.
  PublishStatus publish(std::uint16_t type, std::span<const std::byte> payload,
                        std::uint64_t* position = nullptr);
  // Several records with one claim: they are contiguous in the global order.
  PublishStatus publish_batch(std::span<const BatchRecord> records,
                              std::uint64_t* first_position = nullptr);

  // Refreshes the heartbeat shown by shm-inspect (commit refreshes it every 256 records).
  void heartbeat() noexcept;

  std::uint16_t id() const noexcept { return id_; }
  const Segment& segment() const noexcept { return *segment_; }

  // Lets this writer go without touching the segment again (no claim aborted, its slot not given
  // back: it stays taken until it is reaped as a dead process's): for a segment that can no longer
  // be written, e.g. its file truncated under this process (a store there would be SIGBUS).
  void abandon() noexcept {
    pending_ = false;
    slot_ = nullptr;
  }

 private:
  RingWriter(const Segment& s, std::uint16_t id) : segment_(&s), id_(id) {}
  // reserve(): the claim's position; at_frontier: the frontier was at it once the claim could be
  // written, with `index` the index stamped there (final: the frontier stays until we seal).
  struct Reserved {
    std::uint64_t position;
    bool at_frontier;
    std::uint64_t index;
  };
  // (always inlined: publish() is the hot path)
  [[gnu::always_inline]] inline Reserved reserve(std::uint64_t bytes) noexcept;
  // An exclusive producer's claim: plain stores, no gate (docs/ring.md, "Exclusive producers").
  [[gnu::always_inline]] inline Reserved reserve_exclusive(std::uint64_t bytes) noexcept;
  // The gate's wait (rare: only when the ring is a lap ahead of the frontier); returns the
  // frontier that let the claim through.
  [[gnu::noinline]] std::uint64_t wait_gate(std::uint64_t p, std::uint64_t bytes,
                                            std::uint64_t f) noexcept;
  PublishStatus check(std::size_t length, std::uint16_t type) const noexcept;
  // A record of ours as its seal entry holds it (lengths are checked against max_record, below
  // 2^32 - 64, before they get here; padding's is its footprint, at most that).
  std::uint64_t info_of(std::uint64_t length, std::uint16_t type) const noexcept {
    return layout::pack_info(static_cast<std::uint32_t>(length), type, id_);
  }
  // The record's header (info_of) into its seal entry, then its seal.
  void seal(std::uint64_t position, std::uint64_t info) noexcept;
  // Before the seals of our n records at r.position (footprint_of(i): the i-th one's footprint;
  // counted: records, not padding): if the frontier is at them — where it stays until we seal —
  // stamps each record's successor with its index (plain stores) and returns true with `end` the
  // position after the last.
  template <class Footprint>
  bool stamp_ahead(const Reserved& r, std::size_t n, bool counted, Footprint footprint_of,
                   std::uint64_t& end) noexcept;
  // After the seals: the claim is idle, the statistics counted, the frontier moved (over all our
  // records with one CAS if stamp_ahead() returned true).
  [[gnu::always_inline]] inline void finish(std::uint64_t first, std::uint64_t end, bool stamped,
                                            std::uint64_t records,
                                            std::uint64_t payload_bytes) noexcept;
  // One record (or padding: counted false) of footprint fp at r, its bytes written: stamp_ahead,
  // seal, finish — what commit() and abort() end with (publish() spells them out: see there).
  [[gnu::always_inline]] inline void complete_one(const Reserved& r, std::uint64_t fp,
                                                  std::uint64_t info, bool counted,
                                                  std::uint64_t payload_bytes) noexcept;
  void release() noexcept;

  const Segment* segment_ = nullptr;
  layout::ProducerSlot* slot_ = nullptr;
  std::uint16_t id_ = 0;
  bool pending_ = false;
  Reserved pending_claim_{0, false, 0};  // what reserve() returned for the pending claim
  std::uint64_t pending_length_ = 0;
  std::uint16_t pending_type_ = 0;
  std::uint64_t commits_ = 0;
  // Exclusive-producer rings: the tail and the index at it are ours alone, kept here; fence_ when
  // this process could not register for membarrier() (then each commit fences, as a parker cannot
  // interrupt us).
  bool exclusive_ = false;
  bool fence_ = false;
  // Exclusive-producer rings: our owner word (layout::owner_word). Stored in the ring's
  // fence_acked by answer_fence_request(), which makes every commit after it fence (docs/ring.md
  // "Exclusive producers", X6): asked by a parker in another process, whose membarrier() cannot
  // be trusted to reach our CPU.
  std::uint32_t owner_ = 0;
  bool answered_ = false;  // (we stored owner_ in fence_acked: kept there, X7)
  void answer_fence_request() noexcept;
  std::uint64_t tail_ = 0;
  std::uint64_t next_index_ = 0;
  // Shared rings: the commits left before the frontier's move looks at the tail again
  // (core::move_frontier).
  std::uint8_t tail_skips_ = 0;
};

}  // namespace shmio::shm
