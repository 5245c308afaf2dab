#include "shmio/shm/ring_reader.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_core.hpp"

namespace shmio::shm {
using namespace layout;

#if defined(__SANITIZE_THREAD__)
#define SHMIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMIO_TSAN 1
#endif
#endif

#ifdef SHMIO_TSAN
// Under TSan the racy read must not be instrumented (it is validated afterwards), and must not go
// through the intercepted memcpy either.
__attribute__((no_sanitize("thread"))) void copy_tentative(std::byte* dst, const std::byte* src,
                                                           std::size_t n) noexcept {
  const volatile std::byte* s = src;
  for (std::size_t i = 0; i < n; ++i) dst[i] = s[i];
}
#else
void copy_tentative(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  std::memcpy(dst, src, n);
}
#endif

namespace {

// copy_tentative for whole 64-byte units of the ring (a record's footprint, which lies inside the
// mapping: its payload and the rest of its last unit). A record of a unit or a few is copied with
// fixed-size copies the compiler inlines, not a library call per record (poll()'s copy; the
// ring_read rows of shm_ring_bench measure it).
#ifdef SHMIO_TSAN
inline void copy_units_tentative(std::byte* dst, const std::byte* src, std::size_t units) noexcept {
  copy_tentative(dst, src, units * layout::kUnit);
}
#else
inline void copy_units_tentative(std::byte* dst, const std::byte* src, std::size_t units) noexcept {
  if (units > 4) {
    std::memcpy(dst, src, units * layout::kUnit);
    return;
  }
  for (std::size_t i = 0; i < units; ++i)
    __builtin_memcpy(dst + i * layout::kUnit, src + i * layout::kUnit, layout::kUnit);
}
#endif

}  // namespace

Result<RingReader> RingReader::attach(const Segment& segment, ReaderOptions options) {
  auto id = registry::take_reader(segment, options.label, options.core);
  if (!id) return id.error();
  RingReader r(segment, id.value());
  r.slot_ = &segment.reader_slot(id.value());
  // Measured (docs/benchmarks.md, "The header beside the seal"): prefetching each record's line
  // during the walk gains a shared ring's 1P -> 1R 5-9% and costs an exclusive ring's 3-4%, whose
  // reader runs closer behind its producer.
  r.prefetch_run_ = !segment.exclusive_producer();
  Control& c = segment.control();
  if (options.start == StartAt::latest) {
    for (;;) {
      const std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
      const std::uint64_t idx = core::index_at(segment, f);
      // The index stamped at f is f's own while the frontier stays at f (an advancer at a later
      // frontier may restamp f's unit for the next lap before it gets there): validate as seek
      // and resync do.
      std::atomic_thread_fence(std::memory_order_acquire);
      if (c.frontier.frontier.load(std::memory_order_relaxed) != f) continue;
      r.cursor_ = f;
      r.cursor_index_ = idx;
      break;
    }
  } else {
    r.cursor_ = 0;
    r.cursor_index_ = 0;
    r.resync(c.tail.tail.load(std::memory_order_acquire), true);
    r.slot_->laps.store(0, std::memory_order_relaxed);  // starting old is not being lapped
    r.slot_->lost_records.store(0, std::memory_order_relaxed);
    r.slot_->lost_bytes.store(0, std::memory_order_relaxed);
    r.last_loss_ = {};
  }
  r.publish_progress();
  return r;
}

RingReader::RingReader(RingReader&& o) noexcept
    : segment_(std::exchange(o.segment_, nullptr)),
      slot_(std::exchange(o.slot_, nullptr)),
      id_(o.id_),
      cursor_(o.cursor_),
      cursor_index_(o.cursor_index_),
      records_(o.records_),
      bytes_(o.bytes_),
      batches_(o.batches_),
      last_loss_(o.last_loss_),
      peek_count_(o.peek_count_),
      peek_end_(o.peek_end_),
      peek_index_end_(o.peek_index_end_),
      quiet_(o.quiet_),
      behind_(o.behind_),
      prefetch_run_(o.prefetch_run_),
      resynced_at_(o.resynced_at_),
      resynced_(o.resynced_),
      stall_seen_(o.stall_seen_),
      stall_since_(o.stall_since_),
      stuck_at_(o.stuck_at_),
      stuck_cursor_(o.stuck_cursor_),
      stuck_tail_(o.stuck_tail_),
      copy_(std::move(o.copy_)),
      taken_(std::move(o.taken_)),
      taken_index_(o.taken_index_) {}

RingReader& RingReader::operator=(RingReader&& o) noexcept {
  if (this != &o) {
    release();
    segment_ = std::exchange(o.segment_, nullptr);
    slot_ = std::exchange(o.slot_, nullptr);
    id_ = o.id_;
    cursor_ = o.cursor_;
    cursor_index_ = o.cursor_index_;
    records_ = o.records_;
    bytes_ = o.bytes_;
    batches_ = o.batches_;
    last_loss_ = o.last_loss_;
    peek_count_ = o.peek_count_;
    peek_end_ = o.peek_end_;
    peek_index_end_ = o.peek_index_end_;
    quiet_ = o.quiet_;
    behind_ = o.behind_;
    prefetch_run_ = o.prefetch_run_;
    resynced_at_ = o.resynced_at_;
    resynced_ = o.resynced_;
    stall_seen_ = o.stall_seen_;
    stall_since_ = o.stall_since_;
    stuck_at_ = o.stuck_at_;
    stuck_cursor_ = o.stuck_cursor_;
    stuck_tail_ = o.stuck_tail_;
    copy_ = std::move(o.copy_);
    taken_ = std::move(o.taken_);
    taken_index_ = o.taken_index_;
  }
  return *this;
}

RingReader::~RingReader() {
  release();
}

void RingReader::release() noexcept {
  if (slot_ == nullptr) return;
  registry::release_reader(*segment_, id_);
  slot_ = nullptr;
}

void RingReader::publish_progress() noexcept {
  slot_->position.store(cursor_, std::memory_order_relaxed);
  slot_->records.store(records_, std::memory_order_relaxed);
  slot_->bytes.store(bytes_, std::memory_order_relaxed);
  // The heartbeat needs a clock read: every 64th batch is plenty (wait() refreshes it too).
  if ((batches_++ & 63) == 0) slot_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

void RingReader::heartbeat() noexcept {
  slot_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

LossReport RingReader::total_loss() const noexcept {
  return {slot_->lost_records.load(std::memory_order_relaxed),
          slot_->lost_bytes.load(std::memory_order_relaxed)};
}

static bool past(std::uint64_t f, std::uint64_t cursor) noexcept;  // (below)

void RingReader::resync(std::uint64_t tail, bool from_oldest) noexcept {
  const Segment& s = *segment_;
  Control& c = s.control();
  // Slack: resuming at the oldest record, a reader that the producers outrun is overwritten again
  // after a few records and spends its time resyncing (on a 16-core Xeon, a reader lapped by a
  // producer publishing batches delivered 0.6-1.2 M records/s, 97-99% lost, in two of five runs).
  // Skipping one horizon granule more (capacity/16: 64 KiB of a 1 MiB ring) gives it that much
  // room before the next lap, and keeps it out of intact()'s exact (tail) test, which it would
  // otherwise take on every batch. Only when it shows it is needed: lapped again before it read a
  // granule past its last resync, or overtaken while it looks (below). A reader attaching at the
  // oldest record (from_oldest), which asked for exactly that, takes it only once overtaken while
  // it looks: with producers claiming without a pause the oldest record moves on at every claim,
  // and a look that no claim passed may never come (before 2026-12-06 such an attach spun as
  // long as they claimed; a review). (So the slack is only ever added for a reader whose tail is
  // more than a capacity past 0 — lapped, or overtaken — : tail + slack - capacity is then a
  // position in the ring a granule past the oldest, never a wrapped value.)
  const std::uint64_t granule = horizon_granule(s.capacity());
  std::uint64_t slack = !from_oldest && resynced_ && cursor_ - resynced_at_ < granule ? granule : 0;
  std::uint64_t r = 0, idx = 0;
  for (;;) {
    const std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
    r = core::find_oldest(s, tail + slack, f);
    idx = core::index_at(s, r);
    // SYNC POINT READ: validate the index read against the tail (seqlock style). Pairs with the
    // producers' seq_cst fetch_add on the tail, which precedes any write into that space.
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t t2 = c.tail.tail.load(std::memory_order_relaxed);
    if (r == f) {
      // Nothing complete below a frontier above the tail (loaded after it: damage, a stray
      // write): the cursor stays (moved there, a reader waited past the tail for good).
      if (past(f, t2)) {
        r = cursor_;
        break;
      }
      // Nothing complete is older than the frontier; its index is stable while it stays put.
      if (c.frontier.frontier.load(std::memory_order_acquire) == f) break;
    } else if (t2 - r < s.capacity()) {  // strictly: see core::find_oldest
      break;
    } else if (past(r, t2) || past(f, t2)) {
      // The tail, loaded after the frontier, behind it or behind a sealed record below it: a
      // damaged control block (a stray write). Looking again would find the same for ever (before
      // 2026-12-06 a reader lapped on such a ring spun here): the record found is taken — a
      // granule on from the oldest by the frontier where the tail is the damaged word, as a
      // lapped reader's slack: settle()'s exact test reads the tail, and took every batch of a
      // reader within a granule of the lap for lapped.
      if (past(r, t2)) {
        const std::uint64_t on = core::find_oldest(s, f + granule, f);
        if (on != f) r = on;
        idx = core::index_at(s, r);
      }
      break;
    } else {
      slack = granule;  // overtaken while it looked: the producers are outrunning this reader
    }
    tail = t2;
  }
  if (r <= cursor_) return;  // nothing was lost after all
  if (!from_oldest) {
    resynced_ = true;
    resynced_at_ = r;
  }
  // (Guarded like skip_corrupt's: after a damaged header the counted index may run ahead.)
  const std::uint64_t lost_records = idx > cursor_index_ ? idx - cursor_index_ : 0;
  const std::uint64_t lost_bytes = r - cursor_;
  last_loss_.records += lost_records;
  last_loss_.bytes += lost_bytes;
  slot_->laps.fetch_add(1, std::memory_order_relaxed);
  slot_->lost_records.fetch_add(lost_records, std::memory_order_relaxed);
  slot_->lost_bytes.fetch_add(lost_bytes, std::memory_order_relaxed);
  cursor_ = r;
  cursor_index_ = idx;
  publish_progress();
}

namespace {

// SYNC POINT READ [R1]: the seal of the unit at `cursor`. Pairs with the release store that sealed
// the record starting there (W4; a repair's padding: its seq_cst store): if it reads
// seal_of(cursor), that record is complete and its header and payload are visible. Seals at a unit
// only grow (a record starting there one lap later is claimed only after the frontier has passed
// this one, W3), so a seal below seal_of(cursor) means that record is not complete yet (and the
// reader is not lapped), and one above it means the reader has been lapped. A reader waiting at
// its cursor polls this word, which only the record's own producer writes, instead of the
// frontier, which every commit's CAS takes (docs/ring.md, "Reading").
//
// Before it, a prefetch of the record's first line: when the seal shows the record, its line is
// most likely on its way already, and the reader's two transfers (the seal's line, then the
// record's) overlap instead of following each other. The prefetch is a hint only, outside the
// memory model: correctness rests on this acquire load and on the validation (R2).
std::uint64_t load_seal(const Segment& s, std::uint64_t cursor) noexcept {
  __builtin_prefetch(s.data(cursor), 0, 3);
  return s.meta(cursor).seal.load(std::memory_order_acquire);
}

}  // namespace

// Whether the frontier `f` is past the cursor. It may also be behind it: a reader goes by the
// seals, so it can have read records the frontier has not passed yet (their committers' CAS still
// to come, or one died after sealing).
static bool past(std::uint64_t f, std::uint64_t cursor) noexcept {
  return static_cast<std::int64_t>(f - cursor) > 0;
}

// The frontier tells a quiet reader what the seal at its cursor cannot: that the frontier passed
// a record whose seal is gone (something scribbled over the seal array; the protocol never
// unseals). Looked at on every kFrontierEvery-th quiet peek or ready(), not each one: a reader
// spinning on the frontier would take its line from every committer's CAS (the publish's wait,
// docs/ring.md).
static_assert((RingReader::kFrontierEvery & (RingReader::kFrontierEvery - 1)) == 0,
              "frontier_due() counts with a mask");
bool RingReader::frontier_due() const noexcept {
  return (++quiet_ & (kFrontierEvery - 1)) == 0;
}

bool RingReader::ready() const noexcept {
  const Segment& s = *segment_;
  const std::uint64_t seal = load_seal(s, cursor_);
  // A record; unless the walk found the control block damaged with the cursor here, and nothing
  // was claimed since (a sealed record whose header is damaged too: wait() returned at once).
  if (seal == seal_of(cursor_)) return cursor_ != stuck_cursor_ || !still_stuck();
  // Lapped — only if the frontier is past the cursor: no producer writes a later lap's seal here
  // before (gating), so one seen without it is damage, which the walk finds nothing in; taken as
  // a record, wait() returned at once, round after round, a reader spinning on a quiet ring
  // (before 2026-12-05; found by a review). (One frontier load: a lapped reader's case only.)
  if (seal < seal_of(cursor_) && !frontier_due()) return false;
  const std::uint64_t f = s.control().frontier.frontier.load(std::memory_order_acquire);
  return past(f, cursor_) && !damaged(f);
}

bool RingReader::damaged(std::uint64_t f) const noexcept {
  // A lap or more ahead: lapped, or a frontier damaged above the tail (loaded after it, the tail
  // is never behind it) with nothing complete below it, which the walk finds nothing to read
  // under: taken for ready, it made wait() return at once, round after round (before
  // 2026-12-06). Not damage for this reader: a tail a lap past the cursor (lapped: the resync
  // finds the records the producers write there), or records sealed below the frontier (then the
  // tail is the damaged word, and the resync takes them). The verdict is kept (stuck_at_) until
  // the frontier moves, or the tail laps the cursor.
  const Segment& s = *segment_;
  if (f == stuck_at_ && cursor_ == stuck_cursor_ && still_stuck()) return true;
  if (f - cursor_ <= s.capacity()) return false;
  const std::uint64_t t = s.control().tail.tail.load(std::memory_order_acquire);
  if (!past(f, t) || (past(t, cursor_) && t - cursor_ > s.capacity())) return false;
  if (f == stuck_at_) return true;
  if (core::find_oldest(s, f, f) != f) return false;
  stuck(f, t);
  return true;
}

// What the walk hands records to. take() is given the n-th complete record (its position, index,
// header, first byte and footprint, and where the walk's run began) and returns false to stop the
// walk before it; limit() is the most records one walk takes.
struct RingReader::ViewSink {  // peek(): views into the ring
  RecordView* views;
  std::size_t max;
  std::size_t limit() const noexcept { return max; }
  bool take(std::size_t n, std::uint64_t pos, std::uint64_t index, const RecordHeader& h,
            std::uint64_t, const std::byte* at, std::uint64_t, std::uint64_t) noexcept {
    views[n] = RecordView{pos, index, h.type, h.producer, {at, h.length}};
    return true;
  }
};

struct RingReader::PollSink {  // poll(): each record's position and header, within the budget
  Taken* taken;
  std::size_t max;
  std::size_t limit() const noexcept { return max; }
  // (Nothing else is kept here: a count or an index written through a pointer per record could be
  // the Taken words' alias for the compiler, and be loaded and stored again per record. The first
  // record's index is the cursor's, padding taking none; the bytes are the run's span.)
  bool take(std::size_t n, std::uint64_t pos, std::uint64_t, const RecordHeader&,
            std::uint64_t info, const std::byte*, std::uint64_t fp, std::uint64_t run) noexcept {
    // Up to kCopyBudget bytes a call, padding passed included (one record alone may be larger):
    // the rest stays in the ring for the next call.
    if (n > 0 && pos + fp - run > kCopyBudget) return false;
    taken[n] = Taken{pos, info};
    return true;
  }
};

std::size_t RingReader::peek(std::span<RecordView> out) {
  last_loss_ = {};
  if (out.empty()) return 0;
  return walk(ViewSink{out.data(), out.size()});
}

std::size_t RingReader::collect(std::size_t max_records) {
  last_loss_ = {};
  if (max_records == 0) return 0;
  if (taken_.size() < max_records) taken_.resize(max_records);
  Taken* const taken = taken_.data();
  const std::size_t n = walk(PollSink{taken, max_records});
  if (n == 0) return 0;
  // The first record's index is the cursor's (padding has none). The records' footprints fit in
  // the span the walk passed (padding in it included), and in the budget (or one record's
  // footprint, when it alone is larger): the smaller of the two bounds the copy buffer, which a
  // long padding at the end of the span would otherwise grow towards the ring's size.
  taken_index_ = cursor_index_;
  const std::uint64_t bound = std::min<std::uint64_t>(
      peek_end_ - cursor_, std::max<std::uint64_t>(kCopyBudget, footprint(segment_->max_record())));
  if (copy_.size() < bound) copy_.resize(bound);
  // Intentionally racy copies (a seqlock read): discarded below if they were torn. Whole units:
  // each payload and the rest of its last one. (After the walk, not in it: the walk found every
  // record's line first, so these loads go out together.)
  // (The ring's base and mask in locals: the byte stores could otherwise alias them for the
  // compiler, which would reload them from the Segment per record.)
  const Segment& s = *segment_;
  const std::byte* const data = s.data(0);
  const std::uint64_t mask = s.mask();
  std::byte* const copy = copy_.data();
  std::uint64_t payload = 0;
  for (std::size_t i = 0, offset = 0; i < n; ++i) {
    const auto length = static_cast<std::uint32_t>(taken[i].info);
    const std::uint64_t fp = footprint(length);
    copy_units_tentative(copy + offset, data + (taken[i].position & mask), fp / kUnit);
    offset += fp;
    payload += length;
  }
  // (What the walk read, exactly: settle() validates it, as consume() would the whole peek.)
  return settle(peek_end_, peek_index_end_, n, payload) ? n : 0;
}

template <class Sink>
std::size_t RingReader::walk(Sink sink) {
  const Segment& s = *segment_;
  Control& c = s.control();
  for (;;) {
    // Nothing taken yet: a consume({}) after a walk that returns 0 settles where the cursor is
    // (not where an earlier look stopped, before a resync or a skip moved the cursor).
    peek_count_ = 0;
    peek_end_ = cursor_;
    peek_index_end_ = cursor_index_;
    const std::uint64_t seal = load_seal(s, cursor_);  // R1
    // Sealed: read the run of sealed records from here. Otherwise (nothing yet, now and then;
    // lapped; or a seal gone) read below the frontier, as far as it shows records complete.
    bool by_seal = seal == seal_of(cursor_);
    std::uint64_t f = 0;
    if (by_seal && behind_) {
      // The last walk was cut short (its span full, or poll()'s copy budget): more is waiting,
      // likely a long run. One frontier load
      // (R1f) bounds it (the walk then only checks each seal, which since layout version 5 is in
      // the line of the header it reads anyway); once caught up, the seals again.
      f = c.frontier.frontier.load(std::memory_order_acquire);
      if (past(f, cursor_) && f - cursor_ <= s.capacity()) by_seal = false;
    } else if (!by_seal) {
      if (seal < seal_of(cursor_) && !frontier_due()) return 0;
      f = c.frontier.frontier.load(std::memory_order_acquire);  // R1f
      if (!past(f, cursor_)) return 0;
      // Lapped for certain if even the frontier is a capacity ahead. (Being lapped by claims
      // beyond the frontier is caught by settle(), which validates against the tail; not loading
      // the tail here keeps its cache line out of the readers' way once per batch.)
      if (f - cursor_ > s.capacity()) {
        if (damaged(f)) return 0;
        const std::uint64_t at = cursor_;
        const std::uint64_t t = c.tail.tail.load(std::memory_order_acquire);
        resync(t);
        if (cursor_ == at) return stuck(f, t);  // nothing to resync to: the frontier is damage
        continue;
      }
    }
    std::size_t n = 0;
    bool cut = false;  // the sink stopped the walk before a record (poll()'s budget)
    std::uint64_t pos = cursor_;
    std::uint64_t index = cursor_index_;
    // (In locals: the sink's stores below could otherwise alias them for the compiler, which
    // would then reload each from the Segment or this reader per record.)
    const std::uint64_t cursor = cursor_, mask = s.mask(), capacity = s.capacity();
    const std::uint32_t max_record = s.max_record();
    SealEntry* const entries = s.seal_entries();
    std::byte* const data = s.data(0);
    const std::size_t max_records = sink.limit();
    const bool prefetch = prefetch_run_;
    std::uint64_t stride = 0;  // the last record's footprint (below)
    // The header is beside the seal (layout version 5): one entry, one line, holds both. R1 for
    // each record after the first (the first's seal is `seal`, loaded above; below the frontier it
    // is loaded again, as the one above may predate the frontier). A by_seal run stays within a
    // capacity of the cursor (beyond it, what it read would be a later lap's: settle() would
    // discard it anyway). Below the frontier every record is sealed: a seal above this lap's means
    // a later lap started a record there (its header may be that one's: the walk stops, the tail
    // decides); one below it is either a seal scribbled over or a unit inside a record (a damaged
    // length walks into one; its seal and header are an older lap's), and a record starts there
    // only if the index stamped there is the one counted — every record start below the frontier
    // has its own, a unit inside a record an older lap's, smaller (inside padding a repair wrote
    // it is the hole's own, so a length damaged to end there is not caught).
    SealEntry* e = &entries[(pos & mask) / kUnit];
    std::uint64_t sealed = by_seal ? seal : e->seal.load(std::memory_order_acquire);
    for (;;) {
      if (by_seal ? sealed != seal_of(pos) : sealed > seal_of(pos)) break;
      if (sealed != seal_of(pos) && s.meta(pos).index.load(std::memory_order_relaxed) != index)
        break;
      const std::uint64_t info = e->info.load(std::memory_order_relaxed);
      const RecordHeader h = unpack_header(pos, info);
      const bool pad = h.type == kPaddingType;
      // Bounds before use: a header being overwritten may hold anything. (Padding over
      // layout::max_padding is no producer's either, as advance_frontier judges it: before, a
      // by-seal run took padding of a capacity, or of a length rounding up to one, and the cursor
      // jumped a lap, the records skipped uncounted.)
      if (pad ? h.length > max_padding(capacity) : h.length == 0 || h.length > max_record) break;
      const std::uint64_t fp = footprint(h.length);
      if (by_seal ? pos + fp - cursor > capacity : fp > f - pos) break;
      if (!pad) {
        // (Since layout version 5 the walk no longer reads the record's line for its header; the
        // copy after it would take the lines one by one. A hint only.)
        if (prefetch) __builtin_prefetch(data + (pos & mask), 0, 3);
        if (!sink.take(n, pos, index, h, info, data + (pos & mask), fp, cursor)) {
          cut = true;
          break;
        }
        ++n;
        ++index;
      }
      // The next position must not wait for this record's header to arrive: in a run of records of
      // one footprint, advance by the copy in a register, so that the branch, predicted, lets the
      // next seal entry's loads start while this one's are in flight (otherwise a loop-carried
      // chain through every header load: one thread reading in the cache is 1.2x faster without
      // it, docs/benchmarks.md "The reader's walk without a chain through each header"). The
      // empty asm keeps the compiler from folding the two arms back into one add of `fp`.
      if (fp == stride) {
        std::uint64_t step = stride;
        asm volatile("" : "+r"(step));
        pos += step;
      } else {
        stride = fp;
        pos += fp;
      }
      if (n == max_records || (!by_seal && pos >= f)) break;
      e = &entries[(pos & mask) / kUnit];
      sealed = e->seal.load(std::memory_order_acquire);
    }
    peek_count_ = n;
    peek_end_ = pos;
    peek_index_end_ = index;
    if (n > 0) {
      quiet_ = 0;
      behind_ = n == max_records || cut;
      return n;
    }
    behind_ = false;
    if (pos > cursor_) {
      // Only padding: validate and pass over it, then look again.
      if (consume({})) continue;
      continue;  // lapped meanwhile: resynced, look again
    }
    // The record at the cursor is inconsistent. Either it was overwritten (lapped) or the
    // segment is corrupt; tell them apart with the tail.
    // (As intact(): a tail more than a capacity ahead laps the cursor only if the frontier is past
    // it; otherwise the tail counts gated claims, and resync() would find nothing to move to.)
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t t2 = c.tail.tail.load(std::memory_order_relaxed);
    f = c.frontier.frontier.load(std::memory_order_acquire);
    // (A tail behind the cursor laps nothing: damage. Healthy, the cursor never passes the tail.)
    if (past(t2, cursor_) && t2 - cursor_ > s.capacity() && past(f, cursor_)) {
      const std::uint64_t at = cursor_;
      resync(t2);
      if (cursor_ == at) return stuck(f, t2);
      continue;
    }
    // A frontier above the tail (loaded again after it: the tail never falls behind the frontier)
    // is damage, and either word may be the damaged one: the skip goes only as far as a sealed
    // record it finds (towards a frontier damaged high it would count what lies beyond the tail
    // as lost, records to come included); none within a capacity, no skip.
    if (past(f, t2) && f - cursor_ > s.capacity()) {
      const std::uint64_t t3 = c.tail.tail.load(std::memory_order_acquire);
      if (past(f, t3)) {
        if (!skip_corrupt(f, /*to_a_record=*/true)) return stuck(f, t3);
        continue;
      }
    }
    // Corrupt: skip to the next sealed record below the frontier. None yet: the frontier is not
    // past the cursor. Everything below the cursor is sealed (read by the seals), so pass it
    // ourselves — ready() sees the seal here, so a wait() would not park and pass it for us, and
    // the walk would return 0 for ever (advance_frontier passes a header it cannot trust as one
    // unit, and the rest of that record is then a hole that is repaired as a dead claim's).
    if (!past(f, cursor_)) {
      if (!core::advance_frontier(s)) return 0;
      f = c.frontier.frontier.load(std::memory_order_acquire);
      if (!past(f, cursor_)) return 0;
    }
    skip_corrupt(f);
  }
}

std::size_t RingReader::stuck(std::uint64_t frontier, std::uint64_t tail) const noexcept {
  if (frontier != stuck_at_) slot_->corrupt.fetch_add(1, std::memory_order_relaxed);
  stuck_at_ = frontier;
  stuck_cursor_ = cursor_;
  stuck_tail_ = tail;  // (the verdict's: a claim after it makes the walk look again)
  return 0;
}

bool RingReader::still_stuck() const noexcept {
  const Control& c = segment_->control();
  return c.frontier.frontier.load(std::memory_order_acquire) == stuck_at_ &&
         c.tail.tail.load(std::memory_order_acquire) == stuck_tail_;
}

bool RingReader::skip_corrupt(std::uint64_t frontier, bool to_a_record) noexcept {
  const Segment& s = *segment_;
  std::uint64_t p = cursor_ + kUnit;
  // (At most a capacity on: past it nothing is this lap's.)
  const std::uint64_t end = std::min(frontier, cursor_ + s.capacity());
  while (p < end && s.meta(p).seal.load(std::memory_order_acquire) != seal_of(p)) p += kUnit;
  if (to_a_record && p >= end) return false;
  const std::uint64_t idx = core::index_at(s, p);
  const std::uint64_t lost_records = idx > cursor_index_ ? idx - cursor_index_ : 0;
  last_loss_.records += lost_records;
  last_loss_.bytes += p - cursor_;
  slot_->lost_records.fetch_add(lost_records, std::memory_order_relaxed);
  slot_->lost_bytes.fetch_add(p - cursor_, std::memory_order_relaxed);
  slot_->corrupt.fetch_add(1, std::memory_order_relaxed);
  cursor_ = p;
  cursor_index_ = idx;
  publish_progress();
  return true;
}

bool RingReader::intact() noexcept {
  const Segment& s = *segment_;
  Control& c = s.control();
  // SYNC POINT READ: seqlock validation [R2]. The acquire fence orders our reads of the records
  // before the loads below.
  std::atomic_thread_fence(std::memory_order_acquire);
  // The horizon (W5): a producer that wrote a byte at y >= cursor + capacity (a later lap over
  // what we read) raised it, before writing, to at least its claim's end (> y) rounded down to a
  // granule, i.e. above cursor + capacity - granule; if we saw that byte, we see that raise here.
  // Below that bound nothing we read can have been overwritten. The horizon's line changes once
  // per granule, so this load is normally a hit: the tail's line, which every claim's fetch_add
  // takes, stays out of the reader's way.
  const std::uint64_t granule = horizon_granule(s.capacity());
  const std::uint64_t h = c.horizon.horizon.load(std::memory_order_relaxed);
  if (static_cast<std::int64_t>(cursor_ + s.capacity() - granule - h) >= 0) return true;
  // Within a granule of being lapped: the exact test. A producer's fetch_add on the tail precedes
  // every byte it writes, so if any of those bytes were seen, this load sees a tail more than a
  // capacity past our cursor (W2).
  if (c.tail.tail.load(std::memory_order_relaxed) - cursor_ <= s.capacity()) return true;
  // The tail counts claims still waiting at their gate, which have written nothing. A byte of a
  // later lap at y >= cursor + capacity was written by a claim that passed its gate with a
  // frontier above y - capacity >= cursor (W3; an exclusive producer's own commit put it there),
  // and raise_horizon's release fence lies between that frontier load and the write: if we saw
  // the byte, this load sees that frontier or a later one. So a frontier at or behind the cursor
  // (a reader that read sealed records the frontier has not passed, docs/ring.md "Readers go by
  // the seals") shows that nothing we read was overwritten — without it, such a reader behind
  // gated claims was taken for lapped, found nothing to resync to, and looked again until the
  // frontier moved.
  return !past(c.frontier.frontier.load(std::memory_order_relaxed), cursor_);
}

bool RingReader::consume(std::span<const RecordView> views) {
  std::uint64_t end = peek_end_, index_end = peek_index_end_;
  if (views.empty() && peek_count_ > 0) {
    end = cursor_;
    index_end = cursor_index_;
  } else if (views.size() < peek_count_) {  // a prefix of the last peek
    const RecordView& last = views.back();
    end = last.position + footprint(last.payload.size());
    index_end = last.index + 1;
  }
  std::uint64_t payload = 0;
  for (const RecordView& v : views) payload += v.payload.size();
  return settle(end, index_end, views.size(), payload);
}

bool RingReader::settle(std::uint64_t end, std::uint64_t index_end, std::size_t records,
                        std::uint64_t payload) noexcept {
  if (!intact()) {
    resync(segment_->control().tail.tail.load(std::memory_order_acquire));
    return false;
  }
  cursor_ = end;
  cursor_index_ = index_end;
  records_ += records;
  bytes_ += payload;
  publish_progress();
  return true;
}

bool RingReader::seek(std::uint64_t position) {
  const Segment& s = *segment_;
  Control& c = s.control();
  if (position % kUnit != 0) return false;
  std::uint64_t f = 0, idx = 0;
  // (Twice at most: a position at the frontier that the frontier passes during the look is a
  // sealed record below it the second time; before 2026-12-06 that was refused, and the Redis
  // bridge's resume said records were not sent that were; a helper's review.)
  for (;;) {
    f = c.frontier.frontier.load(std::memory_order_acquire);
    // A reader may have delivered a record that the frontier has not passed yet (readers go by the
    // seals; its committer's CAS may be a moment away, or it died after sealing): everything up to
    // it is complete, so pass it now rather than refuse it — its index must be stamped (below).
    if (position > f && position - f <= s.capacity()) {
      (void)core::advance_frontier(s);
      f = c.frontier.frontier.load(std::memory_order_acquire);
    }
    if (position > f) return false;
    if (position != f && s.meta(position).seal.load(std::memory_order_acquire) != seal_of(position))
      return false;
    idx = core::index_at(s, position);
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t t = c.tail.tail.load(std::memory_order_relaxed);
    if (position != f && t - position >= s.capacity()) return false;  // see core::find_oldest
    if (position == f && c.frontier.frontier.load(std::memory_order_acquire) != f) continue;
    break;
  }
  cursor_ = position;
  cursor_index_ = idx;
  peek_count_ = 0;  // (a consume({}) now settles here)
  peek_end_ = cursor_;
  peek_index_end_ = cursor_index_;
  publish_progress();
  return true;
}

void RingReader::check_stall(std::uint64_t f, std::uint64_t now) noexcept {
  core::StallWatch watch(*segment_, stall_seen_, stall_since_);
  watch.check(f, now);
  stall_seen_ = watch.seen();
  stall_since_ = watch.since();
}

void RingReader::look_for_stall(std::uint64_t now) noexcept {
  Control& c = segment_->control();
  const std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
  if (c.tail.tail.load(std::memory_order_acquire) != f) check_stall(f, now);
}

bool RingReader::look_before_park(std::uint64_t now, std::uint64_t& frontier,
                                  std::uint64_t& slice) noexcept {
  const Segment& s = *segment_;
  Control& c = s.control();
  std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
  if (past(cursor_, f)) {
    // Behind what we have read (its committer descheduled between its seal and its CAS, or
    // dead there): everything below the cursor is sealed, so pass it ourselves, and park on
    // a frontier that the next commit will move.
    (void)core::advance_frontier(s);
    f = c.frontier.frontier.load(std::memory_order_acquire);
  }
  // (ready() looks at the frontier only now and then; before parking on it, look exactly.)
  if (past(f, cursor_) && !damaged(f)) return true;
  const std::uint64_t t = c.tail.tail.load(std::memory_order_acquire);
  slot_->heartbeat_ns.store(now, std::memory_order_relaxed);
  if (t != f) {
    // A claim is in flight at the frontier: if it does not finish, find out why.
    check_stall(f, now);
    slice = std::min<std::uint64_t>(slice, s.dead_check_interval_ns());
  }
  frontier = f;
  return false;
}

void RingReader::count_wakeup(bool woke) noexcept {
  if (woke) slot_->wakeups.fetch_add(1, std::memory_order_relaxed);
}

bool RingReader::wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin_for) {
  if (ready()) return true;
  const Segment& s = *segment_;
  const std::uint64_t start = monotonic_ns();
  const std::uint64_t deadline = start + static_cast<std::uint64_t>(timeout.count());
  const std::uint64_t spin_until = start + static_cast<std::uint64_t>(spin_for.count());
  if (core::spin_until([this] { return ready(); }, spin_until)) return true;
  for (;;) {
    const std::uint64_t now = monotonic_ns();
    if (ready()) return true;
    if (now >= deadline) return false;
    // Park at most a second at a time so the heartbeat shows a healthy idle reader as fresh.
    std::uint64_t slice = std::min<std::uint64_t>(deadline - now, 1'000'000'000ULL);
    std::uint64_t f = 0;
    if (look_before_park(now, f, slice)) return true;
    const bool woke = core::park(s, f, std::chrono::nanoseconds(slice), wait_slot());
    count_wakeup(woke);
  }
}

}  // namespace shmio::shm
