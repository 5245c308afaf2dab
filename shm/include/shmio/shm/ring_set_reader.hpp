// RingSetReader: one reader over several rings. The shape it serves is a ring per producer, each
// made for one producer (RingConfig::exclusive_producer: no locked instruction per publish),
// every reader reading all of them: shm_ring_bench's ring_per_producer rows measure it against
// one shared ring (docs/benchmarks.md; the plan for the cluster: docs/ring-per-worker.md).
//
// It holds one RingReader per ring and reads the rings in turn. Each ring's records arrive in
// that ring's order; between rings there is no order (a record of ring 1 published after one of
// ring 0 may be delivered before it). Each ring laps its own reader: losses are per ring
// (reader(i).total_loss()) and summed by total_loss(). Reads copy out (poll()) or are zero-copy
// (peek() and consume(), one ring at a time, as RingReader's). wait() parks on every ring at once
// (core::park_any: one futex_waitv(2); docs/ring.md, "Several rings, one waiter"). For an event
// loop, RingNotifier::start takes the same span of rings (give it the set's readers, reader(i),
// as NotifierOptions::readers, to count its waits in: otherwise it takes a reader slot of its own
// on each ring for that, docs/ring.md "Dead waiters").
// Thread-safety: one thread at a time, as for a RingReader.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm {

class RingSetReader {
 public:
  // What one set may hold: what one futex_waitv(2) call can wait on (core::park_any).
  static constexpr std::size_t kMaxRings = core::kParkAnyMax;

  // Attaches a RingReader to each ring, with `options` (label, core, start) for each. 1 to
  // kMaxRings segments, none null and none twice (Errc::invalid_argument); each must outlive the
  // set. A ring whose reader cannot attach (no free reader slot, ...) fails the whole attach with
  // that ring's error, its index in the message; the readers already attached are released.
  static Result<RingSetReader> attach(std::span<const Segment* const> segments,
                                      ReaderOptions options = {});

  // Copy-out reads of up to max_records records in all, calling fn(ring, view) for each (ring:
  // the segment's index in attach()'s span; the view is valid as RingReader::poll's are). The
  // rings are visited in turn, each taking up to what is left of max_records, the first one
  // rotating from call to call: a ring with records waits at most size() calls for its turn
  // however busy the others are. Returns how many were delivered.
  template <class Fn>
  std::size_t poll(Fn&& fn, std::size_t max_records = 256);

  // Zero-copy reads, one ring at a time: the first ring in turn with records (the first one looked
  // at rotating from call to call, as poll()'s) fills `out` with views into it
  // (RingReader::peek(): they may be overwritten while you look at them). Returns that ring's
  // index and how many views it filled; {size(), 0} when no ring had any.
  struct Peeked {
    std::size_t ring;
    std::size_t count;
  };
  Peeked peek(std::span<RecordView> out);
  // Validates the views the last peek() returned, or a prefix of them, on the ring they came
  // from, and moves that ring's reader past them (RingReader::consume()). True if they were
  // intact; false if that ring overwrote them meanwhile: then discard what you derived from them
  // (the ring's reader has resynced and counted them as lost). One consume() per peek(): views
  // given without a peek() before them, or a second time, are refused (false, nothing moves); no
  // views then, true.
  bool consume(std::span<const RecordView> views);

  // True if any ring has a record ready (RingReader::ready()).
  bool ready() const noexcept;
  // Waits up to `timeout` for ready(): spins ~spin_for, then parks on all the rings at once.
  // While waiting behind a claim in flight on a ring it checks, as RingReader::wait() does,
  // whether its producer died, and repairs the claim if so. Returns ready().
  bool wait(std::chrono::nanoseconds timeout,
            std::chrono::nanoseconds spin_for = std::chrono::microseconds(20));

  std::size_t size() const noexcept { return readers_.size(); }
  // Ring i's reader: its position, losses, seek(); reading it directly is allowed (poll() goes
  // on from wherever it is).
  RingReader& reader(std::size_t ring) noexcept { return readers_[ring]; }
  const RingReader& reader(std::size_t ring) const noexcept { return readers_[ring]; }
  // Every ring's losses, added up.
  LossReport total_loss() const noexcept;

 private:
  RingSetReader() = default;
  std::size_t first_in_turn() noexcept;

  std::vector<const Segment*> segments_;
  std::vector<RingReader> readers_;
  std::size_t next_ = 0;  // the ring poll() and peek() visit first
  // wait()'s looks at every ring's claims in flight while it returns before parking (wait()).
  static constexpr std::uint64_t kStallLookNs = 1'000'000;  // 1 ms
  std::uint64_t last_stall_look_ = 0;
  // The ring whose views the last peek() returned, until consume(); kNone if none.
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t peeked_ = kNone;
};

template <class Fn>
std::size_t RingSetReader::poll(Fn&& fn, std::size_t max_records) {
  const std::size_t k = readers_.size();
  const std::size_t first = first_in_turn();
  std::size_t n = 0;
  for (std::size_t j = 0; j < k && n < max_records; ++j) {
    const std::size_t i = first + j < k ? first + j : first + j - k;
    n += readers_[i].poll([&fn, i](const RecordView& v) { fn(i, v); }, max_records - n);
  }
  return n;
}

}  // namespace shmio::shm
