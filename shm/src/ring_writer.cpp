#include "shmio/shm/ring_writer.hpp"

#include <sched.h>

#include <cstring>
#include <utility>

#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_core.hpp"

namespace shmio::shm {
using namespace layout;

namespace {
// The gate: a claim of `bytes` at `p` may be written only once the frontier `f` has passed every
// record of the lap before that overlaps it, f >= p + bytes - capacity (docs/ring.md).
bool gated(const Segment& s, std::uint64_t p, std::uint64_t bytes, std::uint64_t f) noexcept {
  return p + bytes > s.capacity() && static_cast<std::int64_t>(f - (p + bytes - s.capacity())) < 0;
}
}  // namespace

const char* to_string(PublishStatus s) noexcept {
  switch (s) {
    case PublishStatus::ok:
      return "ok";
    case PublishStatus::empty:
      return "empty record (records need at least one byte)";
    case PublishStatus::too_large:
      return "record larger than the ring's max_record";
    case PublishStatus::bad_type:
      return "record type 0xFFFF is reserved for padding";
    case PublishStatus::claim_pending:
      return "a claim is pending: commit or abort it first";
    case PublishStatus::read_only:
      return "the segment is attached read-only";
  }
  return "unknown";
}

Result<RingWriter> RingWriter::attach(const Segment& segment, WriterOptions options) {
  auto id = registry::take_producer(segment, options.label, options.core);
  if (!id) return id.error();
  RingWriter w(segment, id.value());
  w.slot_ = &segment.producer_slot(id.value());
  if (segment.exclusive_producer()) {
    // take_producer() made us the one producer with the ring quiet (frontier == tail): the tail
    // and the index stamped there are ours to keep from now on.
    w.exclusive_ = true;
    // (A ring made with fenced commits: always fence, parkers do not call membarrier(). Otherwise
    // fence only where this process cannot register for it.)
    w.fence_ = segment.fenced_commits() || !core::register_expedited_barrier();
    w.owner_ = layout::owner_word(w.slot_->generation.load(std::memory_order_acquire), id.value());
    // A ring whose parkers in other processes asked a producer before us to fence (or this
    // process cannot register): fence from the first commit on, and say so (X6).
    if (!segment.fenced_commits() &&
        (w.fence_ || segment.control().wake.fence_asked.load(std::memory_order_seq_cst) != 0))
      w.answer_fence_request();
    w.tail_ = segment.control().tail.tail.load(std::memory_order_acquire);
    w.next_index_ = core::index_at(segment, w.tail_);
  }
  return w;
}

RingWriter::RingWriter(RingWriter&& o) noexcept
    : segment_(std::exchange(o.segment_, nullptr)),
      slot_(std::exchange(o.slot_, nullptr)),
      id_(o.id_),
      pending_(std::exchange(o.pending_, false)),
      pending_claim_(o.pending_claim_),
      pending_length_(o.pending_length_),
      pending_type_(o.pending_type_),
      commits_(o.commits_),
      exclusive_(o.exclusive_),
      fence_(o.fence_),
      owner_(o.owner_),
      answered_(o.answered_),
      tail_(o.tail_),
      next_index_(o.next_index_),
      tail_skips_(o.tail_skips_) {}

RingWriter& RingWriter::operator=(RingWriter&& o) noexcept {
  if (this != &o) {
    release();
    segment_ = std::exchange(o.segment_, nullptr);
    slot_ = std::exchange(o.slot_, nullptr);
    id_ = o.id_;
    pending_ = std::exchange(o.pending_, false);
    pending_claim_ = o.pending_claim_;
    pending_length_ = o.pending_length_;
    pending_type_ = o.pending_type_;
    commits_ = o.commits_;
    exclusive_ = o.exclusive_;
    fence_ = o.fence_;
    answered_ = o.answered_;
    owner_ = o.owner_;
    tail_ = o.tail_;
    next_index_ = o.next_index_;
    tail_skips_ = o.tail_skips_;
  }
  return *this;
}

RingWriter::~RingWriter() {
  release();
}

void RingWriter::release() noexcept {
  if (slot_ == nullptr) return;
  if (pending_) abort();
  registry::release_producer(*segment_, id_);
  slot_ = nullptr;
}

RingWriter::Reserved RingWriter::reserve_exclusive(std::uint64_t bytes) noexcept {
  const Segment& s = *segment_;
  const std::uint64_t p = tail_;
  // SYNC POINT WRITE: the claim, exact, before the tail store that makes it one; published by
  // that release store to a repairer's tail load (core::resolve_stall), which then finds our
  // claim covering the hole. A repairer that reads the tail from before it finds frontier == tail:
  // nothing in flight (a CLAIMED slot at or past the tail is no claim).
  // (Release, as every store of a claim's fields: a repairer that loads one of them (acquire) after
  // its /proc look sees this producer's earlier seal and frontier stores with it, and so never
  // takes the next claim's fields with the last claim's state — on a weakly ordered CPU; a plain
  // store on x86. Relaxed until 2026-12-06; a helper's review.)
  slot_->claim_length.store(bytes, std::memory_order_release);
  slot_->claim_position.store(p, std::memory_order_release);
  // (release: a repairer that sees CLAIMED at a position past the frontier it read also sees our
  // earlier seal and frontier stores — on a weakly ordered CPU too.)
  slot_->claim_state.store(kClaimClaimed, std::memory_order_release);
  hook(core::HookPoint::after_intent, 0);
  // SYNC POINT WRITE: tail, a plain store (we are its only writer). Every byte of the claim is
  // written after raise_horizon()'s release fence below, so a reader that saw one of them sees
  // this store too (R2's exact test).
  s.control().tail.tail.store(p + bytes, std::memory_order_release);
  tail_ = p + bytes;
  hook(core::HookPoint::after_fetch_add, p);
  // No gate: the frontier is at p (our last commit stored it there, or take_producer() found the
  // ring quiet), and p + bytes - capacity < p. It stays there until we seal, as in reserve().
  hook(core::HookPoint::after_gate, p);
  core::raise_horizon(s, p + bytes);  // W5: before any byte of the claim is written
  hook(core::HookPoint::before_write, p);
  return {p, true, next_index_};
}

RingWriter::Reserved RingWriter::reserve(std::uint64_t bytes) noexcept {
  if (exclusive_) return reserve_exclusive(bytes);
  const Segment& s = *segment_;
  Control& c = s.control();
  // SYNC POINT WRITE: claim intent, before the fetch_add below; pairs with the tail load +
  // claim-state scan in core::resolve_stall, which therefore never mistakes a live producer's
  // not-yet-published claim for a dead one's. Relaxed is enough: a repairer whose seq_cst tail
  // load reads our fetch_add's value, or a later RMW's, synchronizes with the fetch_add, which is
  // sequenced after this store; a tail read from before our fetch_add does not cover our claim
  // (docs/ring.md, W1).
  slot_->claim_length.store(bytes, std::memory_order_release);  // (release: reserve_exclusive)
  slot_->claim_state.store(kClaimClaiming, std::memory_order_relaxed);
  hook(core::HookPoint::after_intent, 0);
  const std::uint64_t p = c.tail.tail.fetch_add(bytes, std::memory_order_seq_cst);
  slot_->claim_position.store(p, std::memory_order_release);
  slot_->claim_state.store(kClaimClaimed, std::memory_order_release);
  hook(core::HookPoint::after_fetch_add, p);

  // Gating: [p, p + bytes) may be written only once every record of the previous lap that
  // overlaps it is complete, i.e. frontier >= p + bytes - capacity. While our claim is not
  // complete the frontier cannot pass p, so no later claim can ever write into our space: the
  // stale-claim hazard cannot happen. docs/ring.md has the proof sketch.
  // SYNC POINT READ: frontier; pairs with the CAS that moved it here (which follows the stamp of
  // the index at p when it is p).
  std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
  if (gated(s, p, bytes, f)) f = wait_gate(p, bytes, f);
  hook(core::HookPoint::after_gate, p);
  core::raise_horizon(s, p + bytes);  // W5: before any byte of the claim is written
  hook(core::HookPoint::before_write, p);
  // At the frontier already (the common case with one producer, or no one ahead of us): it stays
  // at p until we seal, so the index stamped at p is final, and the commit need not look again
  // (core::frontier_index).
  if (f == p) return {p, true, s.meta(p).index.load(std::memory_order_relaxed)};
  return {p, false, 0};
}

bool RingWriter::would_wait(std::size_t length) const noexcept {
  const Segment& s = *segment_;
  if (exclusive_) return false;
  const Control& c = s.control();
  const std::uint64_t p = c.tail.tail.load(std::memory_order_acquire);
  return gated(s, p, footprint(length), c.frontier.frontier.load(std::memory_order_acquire));
}

std::uint64_t RingWriter::wait_gate(std::uint64_t p, std::uint64_t bytes,
                                    std::uint64_t f) noexcept {
  const Segment& s = *segment_;
  Control& c = s.control();
  slot_->gated.fetch_add(1, std::memory_order_relaxed);
  core::StallWatch watch(s, f, monotonic_ns());
  for (unsigned spins = 0; gated(s, p, bytes, f); ++spins) {
    if (spins < 256) {
      core::cpu_relax();
    } else {
      // Help: the record at the frontier may be complete but not yet passed.
      core::advance_frontier(s);
      watch.check(f, monotonic_ns());
      ::sched_yield();
    }
    f = c.frontier.frontier.load(std::memory_order_acquire);
  }
  return f;
}

PublishStatus RingWriter::check(std::size_t length, std::uint16_t type) const noexcept {
  if (pending_) return PublishStatus::claim_pending;
  if (!segment_->writable()) return PublishStatus::read_only;
  if (length == 0) return PublishStatus::empty;
  if (length > segment_->max_record()) return PublishStatus::too_large;
  if (type == kPaddingType) return PublishStatus::bad_type;
  return PublishStatus::ok;
}

RingWriter::Claim RingWriter::claim(std::size_t length, std::uint16_t type) {
  if (const PublishStatus st = check(length, type); st != PublishStatus::ok) return {st, {}, 0};
  const Reserved r = reserve(footprint(length));
  pending_ = true;
  pending_claim_ = r;
  pending_length_ = length;
  pending_type_ = type;
  return {PublishStatus::ok, {segment_->data(r.position), length}, r.position};
}

void RingWriter::seal(std::uint64_t position, std::uint64_t info) noexcept {
  hook(core::HookPoint::before_seal, position);
  const Segment::UnitMeta m = segment_->meta(position);
  // The header goes beside the seal (layout version 5), written just before it: both stores land
  // in one line, the one a reader waiting for this record polls. Like the payload, it is written
  // after raise_horizon()'s fence (W5), so a reader that read an older lap's header here and then
  // sees this one is caught by its validation (R2).
  m.info.store(info, std::memory_order_relaxed);
  // SYNC POINT WRITE: seal. Publishes the header and payload written before it (and the stamps
  // of stamp_ahead); pairs with the seal load in core::advance_frontier (and readers' resync). A
  // release store: the Dekker pair with a concurrent advancer is completed in finish() — by the
  // frontier CAS over our own records, or by the seq_cst fence of core::advance_after_seals.
  m.seal.store(seal_of(position), std::memory_order_release);
  hook(core::HookPoint::after_seal, position);
}

template <class Footprint>
bool RingWriter::stamp_ahead(const Reserved& r, std::size_t n, bool counted, Footprint footprint_of,
                             std::uint64_t& end) noexcept {
  // The frontier at our first record (the common case with one producer, or no one ahead of
  // us) cannot move on before we seal it: until then nobody else can pass our records, nor lap
  // the ring onto their units, so each successor's index is ours alone to write and plain
  // stores do (docs/ring.md, "The committer's own records"; a repair of our claim, should we die
  // before sealing, writes over these stamps). reserve() saw whether it was there after the
  // claim; if not, it may have arrived since.
  std::uint64_t index = r.index;
  if (!r.at_frontier && !core::frontier_index(*segment_, r.position, index)) return false;
  std::uint64_t p = r.position;
  for (std::size_t i = 0; i < n; ++i) {
    p += footprint_of(i);
    if (counted) ++index;
    // (release: a reader that sees this stamp, as resync and seek validate, also sees our
    // fetch_add on the tail before it)
    segment_->meta(p).index.store(index, std::memory_order_release);
  }
  end = p;
  return true;
}

void RingWriter::finish(std::uint64_t first, std::uint64_t end, bool stamped, std::uint64_t records,
                        std::uint64_t payload_bytes) noexcept {
  const Segment& s = *segment_;
  // After the seals: a repairer that sees IDLE (acquire) also sees them.
  slot_->claim_state.store(kClaimIdle, std::memory_order_release);
  slot_->records.store(slot_->records.load(std::memory_order_relaxed) + records,
                       std::memory_order_relaxed);
  slot_->bytes.store(slot_->bytes.load(std::memory_order_relaxed) + payload_bytes,
                     std::memory_order_relaxed);
  if ((++commits_ & 255) == 0) heartbeat();
  if (exclusive_) {
    next_index_ += records;
    Control& c = s.control();
    // SYNC POINT WRITE: frontier, a plain store over our records (sealed above). Helpers (readers'
    // wait(), a repairer) may CAS it too, but they pass sealed records only, and our next seal
    // follows this store, so none moves it past `end` before it, nor can it go back.
    c.frontier.frontier.store(end, std::memory_order_release);
    // SYNC POINT: the Dekker pair with a parker (core::park) — our frontier store before our
    // waiters load, its waiters increment before its frontier re-check. A parker in our process
    // calls membarrier(), which runs a full barrier on our CPU, so ours needs only the compiler's
    // order — unless this process could not register, or a parker in another process asked us
    // to fence (fence_; core::parking_cover).
    if (fence_) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
      // (Our answer given again where it is gone: a parker that answered for an owner before
      // us, idle, can store that word over ours if we took the ring during its look, X7. One
      // load of the line wake_waiters loads next.)
      if (answered_ && c.wake.fence_acked.load(std::memory_order_relaxed) != owner_) [[unlikely]]
        answer_fence_request();
    } else {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      // A parker in another process asked us to fence (its membarrier() can miss our CPU: X6).
      // Answered after this commit's frontier store, and fenced from this commit on.
      if (c.wake.fence_asked.load(std::memory_order_relaxed) != 0) [[unlikely]] {
        answer_fence_request();
        std::atomic_thread_fence(std::memory_order_seq_cst);
      }
    }
    core::wake_waiters(s);
    return;
  }
  // Stamped ahead: one CAS passes all our records (it loses only if a helper passed them first).
  if (stamped && core::move_frontier(s, first, end, tail_skips_)) return;
  // Not moved by us: a claim before ours is unsealed, or a helper moved it. A reader parked
  // before that claim was made parked for up to a second (its slice) without knowing of it;
  // woken (if any waits), it finds the claim in flight and watches it, so a dead claimer's hole
  // is repaired within the dead-check bound (before 2026-12-05 only after that second; found by
  // a review). No system call while no one is parked at the current epoch (wake_waiters).
  if (!core::advance_after_seals(s)) core::wake_waiters(s);
}

void RingWriter::answer_fence_request() noexcept {
  fence_ = true;
  answered_ = true;
  // SYNC POINT WRITE [X6]: our owner word, after every frontier store so far (release), before
  // every commit's fence from now on. A parker that reads it here skips membarrier() for us.
  segment_->control().wake.fence_acked.store(owner_, std::memory_order_seq_cst);
}

void RingWriter::complete_one(const Reserved& r, std::uint64_t fp, std::uint64_t info, bool counted,
                              std::uint64_t payload_bytes) noexcept {
  std::uint64_t end = 0;
  const bool stamped = stamp_ahead(
      r, 1, counted, [fp](std::size_t) { return fp; }, end);
  seal(r.position, info);
  finish(r.position, end, stamped, counted ? 1 : 0, payload_bytes);
}

std::uint64_t RingWriter::commit() noexcept {
  if (!pending_) return 0;
  pending_ = false;
  complete_one(pending_claim_, footprint(pending_length_), info_of(pending_length_, pending_type_),
               true, pending_length_);
  return pending_claim_.position;
}

void RingWriter::abort() noexcept {
  if (!pending_) return;
  pending_ = false;
  const std::uint64_t fp = footprint(pending_length_);
  slot_->aborted.fetch_add(1, std::memory_order_relaxed);
  segment_->control().repair.aborted_claims.fetch_add(1, std::memory_order_relaxed);
  complete_one(pending_claim_, fp, info_of(fp, kPaddingType), false, 0);  // padding: its footprint
}

PublishStatus RingWriter::publish(std::uint16_t type, std::span<const std::byte> payload,
                                  std::uint64_t* position) {
  // claim() + copy + commit() in one pass, without the pending-claim state in between.
  const std::size_t length = payload.size();
  if (const PublishStatus st = check(length, type); st != PublishStatus::ok) return st;
  const std::uint64_t fp = footprint(length);
  const Reserved r = reserve(fp);
  std::memcpy(segment_->data(r.position), payload.data(), length);
  // (complete_one()'s steps, spelled out: through it one publish measured 13.7-13.8 ns against
  // 12.7-12.9 ns, ring_publish/64B/ring=256KiB, alternating runs.)
  std::uint64_t end = 0;
  const bool stamped = stamp_ahead(
      r, 1, true, [fp](std::size_t) { return fp; }, end);
  seal(r.position, info_of(length, type));
  finish(r.position, end, stamped, 1, length);
  if (position != nullptr) *position = r.position;
  return PublishStatus::ok;
}

PublishStatus RingWriter::publish_batch(std::span<const BatchRecord> records,
                                        std::uint64_t* first_position) {
  if (pending_) return PublishStatus::claim_pending;
  if (!segment_->writable()) return PublishStatus::read_only;
  if (records.empty()) return PublishStatus::empty;
  std::uint64_t total = 0, payload_bytes = 0;
  for (const BatchRecord& r : records) {
    if (r.payload.empty()) return PublishStatus::empty;
    if (r.payload.size() > segment_->max_record()) return PublishStatus::too_large;
    if (r.type == kPaddingType) return PublishStatus::bad_type;
    total += footprint(r.payload.size());
    payload_bytes += r.payload.size();
  }
  // The whole batch must fit the same bound as one record (it is gated as one claim).
  if (total > footprint(segment_->max_record())) return PublishStatus::too_large;
  const Reserved first = reserve(total);
  std::uint64_t p = first.position;
  for (const BatchRecord& r : records) {
    std::memcpy(segment_->data(p), r.payload.data(), r.payload.size());
    p += footprint(r.payload.size());
  }
  std::uint64_t end = 0;
  const bool stamped = stamp_ahead(
      first, records.size(), true,
      [records](std::size_t i) { return footprint(records[i].payload.size()); }, end);
  p = first.position;
  for (const BatchRecord& r : records) {
    seal(p, info_of(r.payload.size(), r.type));
    p += footprint(r.payload.size());
  }
  finish(first.position, end, stamped, records.size(), payload_bytes);
  if (first_position != nullptr) *first_position = first.position;
  return PublishStatus::ok;
}

void RingWriter::heartbeat() noexcept {
  slot_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

}  // namespace shmio::shm
