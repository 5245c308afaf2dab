#include "shmio/shm/ring_set_reader.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_core.hpp"

namespace shmio::shm {

Result<RingSetReader> RingSetReader::attach(std::span<const Segment* const> segments,
                                            ReaderOptions options) {
  if (segments.empty() || segments.size() > kMaxRings)
    return Error{Errc::invalid_argument, "RingSetReader reads 1 to " + std::to_string(kMaxRings) +
                                             " rings, got " + std::to_string(segments.size())};
  RingSetReader set;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment* s = segments[i];
    if (s == nullptr)
      return Error{Errc::invalid_argument, "RingSetReader: ring " + std::to_string(i) + " is null"};
    // (Two readers on one ring would deliver its records twice: the same Segment, or another
    // attached to the same file; before 2026-12-06 only the first was refused, a review.)
    if (std::any_of(set.segments_.begin(), set.segments_.end(),
                    [s](const Segment* t) { return t == s || t->same_file(*s); }))
      return Error{Errc::invalid_argument,
                   "RingSetReader: ring " + std::to_string(i) + " is given twice"};
    auto r = RingReader::attach(*s, options);
    if (!r) return Error{r.error().code, "ring " + std::to_string(i) + ": " + r.error().message};
    set.segments_.push_back(s);
    set.readers_.push_back(std::move(r).value());
  }
  return set;
}

std::size_t RingSetReader::first_in_turn() noexcept {
  const std::size_t first = next_;
  next_ = next_ + 1 == readers_.size() ? 0 : next_ + 1;
  return first;
}

RingSetReader::Peeked RingSetReader::peek(std::span<RecordView> out) {
  peeked_ = kNone;
  const std::size_t k = readers_.size();
  if (out.empty()) return {k, 0};
  const std::size_t first = first_in_turn();
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t i = first + j < k ? first + j : first + j - k;
    if (const std::size_t n = readers_[i].peek(out); n > 0) {
      peeked_ = i;
      return {i, n};
    }
  }
  return {k, 0};
}

bool RingSetReader::consume(std::span<const RecordView> views) {
  if (peeked_ == kNone) return views.empty();
  const std::size_t ring = std::exchange(peeked_, kNone);
  return readers_[ring].consume(views);
}

bool RingSetReader::ready() const noexcept {
  return std::any_of(readers_.begin(), readers_.end(),
                     [](const RingReader& r) { return r.ready(); });
}

LossReport RingSetReader::total_loss() const noexcept {
  LossReport sum;
  for (const RingReader& r : readers_) {
    const LossReport l = r.total_loss();
    sum.records += l.records;
    sum.bytes += l.bytes;
  }
  return sum;
}

bool RingSetReader::wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin_for) {
  const std::uint64_t start = monotonic_ns();
  // A ring with a dead producer's claim is repaired by the parked loop below; but while another
  // ring keeps this set busy, wait() returns before it parks, call after call. So every
  // kStallLookNs each ring with claims in flight has its stall watch checked here as well (two
  // loads a ring, not on every call: the tail's line is the producers').
  if (start - last_stall_look_ >= kStallLookNs) {
    last_stall_look_ = start;
    for (RingReader& r : readers_) r.look_for_stall(start);
  }
  if (ready()) return true;
  const std::uint64_t deadline = start + static_cast<std::uint64_t>(timeout.count());
  const std::uint64_t spin_until = start + static_cast<std::uint64_t>(spin_for.count());
  if (core::spin_until([this] { return ready(); }, spin_until)) return true;
  // RingReader::wait()'s loop, over every ring: each one's look before the park (its frontier
  // passed up to its cursor if behind it, its stall watch), then one park on all of them.
  std::vector<std::uint64_t> frontiers(readers_.size());
  std::vector<std::atomic<std::uint32_t>*> slots;
  for (const RingReader& r : readers_) slots.push_back(r.wait_slot());
  for (;;) {
    const std::uint64_t now = monotonic_ns();
    if (ready()) return true;
    if (now >= deadline) return false;
    // At most a second at a time, so that the heartbeats show healthy idle readers as fresh.
    std::uint64_t slice = std::min<std::uint64_t>(deadline - now, 1'000'000'000ULL);
    for (std::size_t i = 0; i < readers_.size(); ++i)
      if (readers_[i].look_before_park(now, frontiers[i], slice)) return true;
    const bool woke =
        core::park_any(segments_, frontiers, std::chrono::nanoseconds(slice), true, slots);
    // (One wake ends the park on every ring: each ring's reader counts it.)
    for (RingReader& r : readers_) r.count_wakeup(woke);
  }
}

}  // namespace shmio::shm
