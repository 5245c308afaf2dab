// RingReader: sees every committed record of the ring, in the one global order, from where it
// starts. Producers never wait for readers (readers only share cache lines with them): a reader
// that falls a whole ring behind is lapped, learns exactly how many records and bytes it lost, and
// resumes at the oldest record still in the ring (a granule further on if it is lapped again
// soon: resync()). It never returns torn data.
//
// Two ways to read:
// - poll(fn): each record is copied out of the ring, validated, then handed to fn. Simple and safe.
// - peek() / consume(): zero-copy. peek() gives views into the ring that may be overwritten while
//   you look at them; consume() validates afterwards and tells you whether to discard what you
//   derived from them. Defer side effects until consume() says the batch was intact.
// Thread-safety: one thread at a time per reader. Waiting: wait() spins briefly, then parks on a
// cross-process futex; for an event loop, see RingNotifier.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "shmio/shm/layout.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm {

namespace core {
class StallWatch;
}
class RingSetReader;

struct RecordView {
  std::uint64_t position;  // identity and global order
  std::uint64_t index;     // number of non-padding records before this one in the stream
  std::uint16_t type;
  std::uint16_t producer;
  std::span<const std::byte> payload;
};

enum class StartAt {
  latest,  // from the frontier at attach time (records sealed beyond it included)
  oldest,  // the oldest record still in the ring
};

struct ReaderOptions {
  std::string label{};
  int core = -1;
  StartAt start = StartAt::latest;
};

// Copies bytes that a producer may be overwriting at the same moment (a seqlock-style read whose
// result is validated afterwards). Not instrumented by ThreadSanitizer, on purpose.
void copy_tentative(std::byte* dst, const std::byte* src, std::size_t n) noexcept;

// What the last call observed about losses.
struct LossReport {
  std::uint64_t records = 0;  // non-padding records skipped
  std::uint64_t bytes = 0;    // stream bytes skipped
};

class RingReader {
 public:
  // The reader keeps a pointer to `segment`: the Segment object must outlive it and must not be
  // moved while it is attached (a moved-from Segment maps nothing).
  static Result<RingReader> attach(const Segment& segment, ReaderOptions options = {});

  RingReader(RingReader&& other) noexcept;
  RingReader& operator=(RingReader&& other) noexcept;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  ~RingReader();

  // Copy-out read of up to max_records records; returns how many were delivered to fn. The
  // records are copied into the reader's private buffer, the copies validated once, then handed
  // to fn (its views are valid until the next call on this reader; fn must not call this
  // reader's poll() or peek(), whose buffers they are). The cursor is past them all before fn
  // runs: an exception from fn leaves poll() and the records after the one it threw on in this
  // call are not delivered, nor counted as lost (catch inside fn to keep them).
  template <class Fn>
  std::size_t poll(Fn&& fn, std::size_t max_records = 256);
  // One poll() copies at most this many bytes (records' footprints: whole 64-byte units) before
  // it validates them: enough to amortise the validation over many small records, little enough
  // to stay in L2. When the next record would exceed it, the call ends before it (it stays for
  // the next call); a record larger than this alone is delivered alone, its buffer grown to fit.
  static constexpr std::size_t kCopyBudget = 256 * 1024;

  // Zero-copy: fills `out` with views of complete records at the cursor (tentatively).
  std::size_t peek(std::span<RecordView> out);
  // Validates the views peek() returned and moves past them. Returns true if they were intact;
  // false if the ring overwrote them meanwhile: then discard them; the reader has resynced and
  // counted them as lost.
  bool consume(std::span<const RecordView> views);

  // Moves the cursor to `position`, which must be a record start still in the ring (at most
  // capacity behind the tail) or the frontier. Returns false (cursor unchanged) otherwise. A
  // complete record the frontier has not passed yet (one a reader may already have delivered) is
  // passed first.
  bool seek(std::uint64_t position);

  // A reader with nothing sealed at its cursor also looks at the frontier on every this-many-th
  // quiet peek() or ready() (not each: that would take the frontier's line from every commit).
  // It is what notices a record whose seal a stray write wiped (the protocol never unseals one),
  // after about 150 us of busy polling at ~40 ns a quiet poll (an estimate from this bound, not a
  // measurement); wait() looks at it exactly before it parks.
  static constexpr std::uint64_t kFrontierEvery = 4096;
  // True if a record is ready at the cursor (or the reader has been lapped). Goes by the seal at
  // the cursor; a seal gone (a stray write into the segment) is noticed within kFrontierEvery
  // quiet calls, and by wait() before it parks.
  bool ready() const noexcept;
  // Waits up to `timeout` for ready(): spins ~spin_for, then parks on the futex. While waiting
  // behind a claim in flight, checks every dead_check_interval whether its producer died, and
  // repairs the claim if so. Returns ready().
  bool wait(std::chrono::nanoseconds timeout,
            std::chrono::nanoseconds spin_for = std::chrono::microseconds(20));

  std::uint64_t position() const noexcept { return cursor_; }
  std::uint64_t next_index() const noexcept { return cursor_index_; }
  // Losses found by the last peek()/poll() call and its consume() (added up).
  const LossReport& last_loss() const noexcept { return last_loss_; }
  // Refreshes the heartbeat shown by shm-inspect (a poll refreshes it every 64 batches, wait()
  // once a second): for a reader that waits by other means (a notifier), so that a healthy idle
  // one does not look hung.
  void heartbeat() noexcept;
  LossReport total_loss() const noexcept;
  std::uint16_t id() const noexcept { return id_; }
  const Segment& segment() const noexcept { return *segment_; }

 private:
  friend class RingSetReader;  // waits on several readers' rings at once (look_before_park)
  friend class RingNotifier;   // counts its waits in its readers' slots (wait_slot)
  RingReader(const Segment& s, std::uint16_t id) : segment_(&s), id_(id) {}
  // wait()'s look before each park: true if a record is ready after all (the frontier is past
  // the cursor, once passed up to the cursor if it was behind it); otherwise `frontier` is the
  // one to park on, the heartbeat is stored, and `slice` is bounded by the stall watch while a
  // claim is in flight.
  bool look_before_park(std::uint64_t now, std::uint64_t& frontier, std::uint64_t& slice) noexcept;
  // The stall watch (core::StallWatch) over a claim in flight at frontier `f`, kept across wait()
  // calls: a caller whose waits end early (a short timeout; a RingSetReader woken by another
  // ring) still has a dead producer's claim repaired within the interval.
  void check_stall(std::uint64_t f, std::uint64_t now) noexcept;
  // A RingSetReader's look at this ring's claims in flight while its waits end early.
  void look_for_stall(std::uint64_t now) noexcept;
  // Where this process counts its waits on the ring (the slot's `parked`, core::announce_waiter):
  // taken back with the slot if the process dies waiting.
  std::atomic<std::uint32_t>* wait_slot() const noexcept { return &slot_->parked; }
  // A notifier's own reader, which only counts its waits (NotifierOptions::readers left empty):
  // its published position follows the frontier the notifier passes on, so that it never shows
  // as a reader falling behind (shm-inspect, lag), and its heartbeat the notifier's looks. It
  // reads nothing.
  void follow(std::uint64_t frontier, std::uint64_t now_ns) noexcept {
    cursor_ = frontier;
    slot_->position.store(frontier, std::memory_order_relaxed);
    slot_->heartbeat_ns.store(now_ns, std::memory_order_relaxed);
  }
  // The slot's wake-up count, after a park that was woken.
  void count_wakeup(bool woke) noexcept;
  // Moves the cursor to the oldest record still in the ring (the first after `tail` - capacity),
  // counting what it skips as lost. A reader lapped again before it read a horizon granule past
  // its last resync (the producers outrun it: resuming at the oldest, it would be overwritten at
  // once), or whose first try is overtaken, resumes a granule further on instead (docs/ring.md,
  // "Readers: laps"). `from_oldest`: a reader attaching at the oldest record, never lapped.
  void resync(std::uint64_t tail, bool from_oldest = false) noexcept;
  // (`to_a_record`: only to a sealed record found before the frontier, within a capacity;
  // false, the cursor left, if there is none. Otherwise to the frontier if none: true.)
  bool skip_corrupt(std::uint64_t frontier, bool to_a_record = false) noexcept;
  // The walk found the control block damaged at `frontier` (stuck_at_): counted as corrupt once,
  // 0 records.
  // (`tail`: the one the verdict was made with.)
  std::size_t stuck(std::uint64_t frontier, std::uint64_t tail) const noexcept;
  // Whether the frontier `f` past the cursor is damage (stuck_at_, or found so now: stuck()).
  bool damaged(std::uint64_t f) const noexcept;
  // Whether the frontier is still the one found damaged (stuck_at_) and nothing was claimed since.
  bool still_stuck() const noexcept;
  bool frontier_due() const noexcept;
  // Whether what was read since the cursor is intact, i.e. no later lap wrote over it meanwhile
  // (R2, docs/ring.md).
  bool intact() noexcept;
  // Moves the cursor past what was read (`records` records, `payload` bytes of them, ending at
  // `end` with `index_end`) if it is intact; otherwise resyncs and returns false (consume()).
  bool settle(std::uint64_t end, std::uint64_t index_end, std::size_t records,
              std::uint64_t payload) noexcept;
  // The walk over the records at the cursor that peek() and poll() share: hands each complete
  // record to `sink` (ring_reader.cpp: ViewSink, PollSink) and returns how many it took.
  template <class Sink>
  std::size_t walk(Sink sink);
  struct ViewSink;
  struct PollSink;
  // poll()'s pass: walks up to max_records records (their positions and headers into taken_),
  // copies them into copy_, validates the copies and moves past them; returns how many (0: none,
  // or they were overwritten meanwhile: resynced, counted as lost).
  std::size_t collect(std::size_t max_records);
  void publish_progress() noexcept;
  void release() noexcept;

  const Segment* segment_ = nullptr;
  layout::ReaderSlot* slot_ = nullptr;
  std::uint16_t id_ = 0;
  std::uint64_t cursor_ = 0;
  std::uint64_t cursor_index_ = 0;
  std::uint64_t records_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t batches_ = 0;
  LossReport last_loss_{};
  std::size_t peek_count_ = 0;        // what the last peek() returned...
  std::uint64_t peek_end_ = 0;        // ...where it stopped (after any padding it passed)...
  std::uint64_t peek_index_end_ = 0;  // ...and the index there
  // Quiet peeks and ready() calls (nothing sealed at the cursor) since the last that found a
  // record; every kFrontierEvery-th of them also looks at the frontier (frontier_due()).
  mutable std::uint64_t quiet_ = 0;
  // The last walk (peek() or poll()) was cut short, its span full or poll()'s copy budget spent
  // (more was waiting): the next one bounds its run with one frontier load (its seals then only
  // checked, docs/ring.md "A reader far behind").
  bool behind_ = false;
  // Prefetch each record's first line as the walk finds it (shared rings; docs/ring.md "Reading").
  bool prefetch_run_ = false;
  // Where the last resync put the cursor, and whether there was one (resync()).
  std::uint64_t resynced_at_ = 0;
  bool resynced_ = false;
  // check_stall()'s watch: the frontier it last saw with a claim in flight, and since when.
  std::uint64_t stall_seen_ = ~0ULL;
  std::uint64_t stall_since_ = 0;
  // A frontier the walk found the control block damaged at (above the tail, or a lap ahead with
  // nothing to resync to: a stray write; stuck()): ready() takes it for nothing to read, and the
  // walk does not look below it again, until the frontier moves. ~0: none.
  mutable std::uint64_t stuck_at_ = ~0ULL;
  mutable std::uint64_t stuck_cursor_ = ~0ULL;  // where the cursor was then...
  mutable std::uint64_t stuck_tail_ = 0;        // ...and the tail (a claim since: look again)
  std::vector<std::byte> copy_;  // poll()'s private copies, each record's footprint in turn
  // poll()'s records: each one's position and its header's info (pack_info), the index of the
  // first (the others follow it one by one: padding is not taken).
  struct Taken {
    std::uint64_t position;
    std::uint64_t info;
  };
  std::vector<Taken> taken_;
  std::uint64_t taken_index_ = 0;
};

template <class Fn>
std::size_t RingReader::poll(Fn&& fn, std::size_t max_records) {
  // collect() walks the records, copies them out and validates the copies once; fn gets them
  // from the private buffer. (No view array between the passes: on one thread reading records in
  // the cache, 10-20% faster than through peek()'s views, docs/benchmarks.md.)
  const std::size_t n = collect(max_records);
  // (In locals: what fn writes could otherwise alias them for the compiler. fn does not call
  // this reader, so they do not change under it.)
  const Taken* const taken = taken_.data();
  const std::byte* const copy = copy_.data();
  const std::uint64_t first = taken_index_;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Taken t = taken[i];
    const auto length = static_cast<std::uint32_t>(t.info);
    fn(static_cast<const RecordView&>(RecordView{t.position,
                                                 first + i,
                                                 static_cast<std::uint16_t>(t.info >> 32),
                                                 static_cast<std::uint16_t>(t.info >> 48),
                                                 {copy + offset, length}}));
    offset += layout::footprint(length);
  }
  return n;
}

}  // namespace shmio::shm
