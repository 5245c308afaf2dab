// Byte layout of a shmio ring segment. Everything in shared memory is defined here; nothing in
// it is a pointer, only offsets from the start of the segment. Every atomic is always lock-free.
//
// A segment is one POSIX shared-memory object:
//
// clang-format off
//   offset 0                                                                control_bytes + capacity
//   +---------------+-----------+-----------------+---------------+-------------+-------------+------------+
//   | SegmentHeader | Control   | ProducerSlot[P] | ReaderSlot[R] | seal[C/64]  | index[C/64] | data ring  |
//   | 512 B         | 5 x 128 B | 256 B each      | 256 B each    | 16 B each   | 8 B each    | capacity B |
//   +---------------+-----------+-----------------+---------------+-------------+-------------+------------+
//   \_____________________________ control area, rounded up to a page _______________________/
//
// The data ring is mapped twice, back to back, in every process ("mirror mapping"), so a record
// that crosses the physical end of the ring is still contiguous in each process's address space:
// no wrap padding, and claim(n) always yields one contiguous span.
//
// Positions. A record's position is a 64-bit byte offset into the never-wrapping stream of all
// records; it only grows. Its bytes live at data[position % capacity]. Positions of records are
// multiples of kUnit (64), so every record starts on its own cache line.
//
// A record in the data ring is its payload alone (layout version 5), from the start of its unit:
//
//   +-------------------------+- - - -+
//   | payload (length bytes)  | pad   |     footprint = align64(length), at least 64
//   +-------------------------+- - - -+
//
// Unit metadata, out of band (never overwritten by payload bytes), in two arrays: for each 64-byte
// unit a seal entry and an index.
//
//   seal[u]  = { seal: position | 1 once the record starting at that unit is complete (committed
//                      or padding); written only by that record's producer or by the repair of a
//                      dead producer,
//                info: that record's header, length u32 | type u16 << 32 | producer u16 << 48,
//                      written by the same hand just before the seal } — 16 bytes, four units a
//              line: a reader that sees a record sealed has its header in the same line (layout
//              version 5; before it the header took the first 16 bytes of the record's line, and
//              a 64-byte payload took two lines).
//   index[u] = the number of non-padding records before the record starting here; stamped by
//              whoever advances the frontier to this position, with a monotonic max, or by the
//              committer of the record before it with a plain store before its seal while the
//              frontier is held at that record; a repair overwrites a dead committer's (see
//              docs/ring.md). Apart from the seals (layout version 3): a reader waiting for the
//              record at its cursor polls that unit's seal, and the stamps committers write for
//              the record after theirs stay out of the line it polls.
//
// The seal lives out of band so that no payload byte pattern can ever be mistaken for a commit,
// and its low bit is 1 so that zeroed memory never looks committed.
// clang-format on
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmio::shm::layout {

inline constexpr std::uint64_t kMagic = 0x474e52'4f494d4853ULL;  // "SHMIORNG" little-endian
// 2: Control's horizon; 3: seals, indices apart; 4: exclusive-producer rings (the header flag and
// the owner word, which older builds would ignore); 5: record headers beside the seals; 6: the wake
// epochs (an older build's commits would not bump the epoch, and its waiters not arm at it); 7: the
// repair lock in one word (pid and start time: an older build would take it as two); 8: the
// fence request of a ring made for one producer (an older build's producer would never answer it,
// and its parkers in other processes would not ask)
inline constexpr std::uint32_t kLayoutVersion = 8;

inline constexpr std::size_t kUnit = 64;  // record alignment, one seal entry and one index per unit
inline constexpr std::size_t kBlock = 128;  // a hot counter's own block (adjacent-line prefetch)
inline constexpr std::size_t kPage = 4096;

inline constexpr std::uint16_t kPaddingType = 0xFFFF;  // record types 0..0xFFFE are the user's
inline constexpr std::uint16_t kMaxUserType = 0xFFFE;

// Bounds of the configuration, checked at create() and at attach().
inline constexpr std::uint64_t kMinCapacity = 64 * 1024;   // 64 KiB
inline constexpr std::uint64_t kMaxCapacity = 1ULL << 40;  // 1 TiB
inline constexpr std::uint16_t kMaxSlots = 1024;           // producers, readers each

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}
constexpr std::uint64_t seal_of(std::uint64_t position) {
  return position | 1U;
}

// ---------------------------------------------------------------------------------------------
// SegmentHeader: written once by the creator before `state` is stored READY (release); read-only
// afterwards. attach() acquires `state` and then validates every field.
//
//   0 magic u64 | 8 layout_version u32 | 12 state u32 | 16 capacity u64 | 24 max_record u32 |
//  28 max_producers u16 | 30 max_readers u16 | 32 creator_pid i32 | 36 mode u32 |
//  40 creator_start_time u64 | 48 creation_time_ns u64 | 56 segment_bytes u64 |
//  64 control_bytes u64 | 72 dead_check_interval_ns u64 | 80..511 reserved (zero)
struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::atomic<std::uint32_t> state;  // kStateInitializing, then kStateReady
  std::uint64_t capacity;            // bytes in the data ring, a power of two
  std::uint32_t max_record;          // largest payload in bytes
  std::uint16_t max_producers;
  std::uint16_t max_readers;
  std::int32_t creator_pid;
  std::uint32_t mode;                    // permission bits it was created with
  std::uint64_t creator_start_time;      // /proc/<pid>/stat starttime, clock ticks after boot
  std::uint64_t creation_time_ns;        // CLOCK_REALTIME
  std::uint64_t segment_bytes;           // size of the shared-memory object
  std::uint64_t control_bytes;           // offset of the data ring in the object
  std::uint64_t dead_check_interval_ns;  // how often a stalled waiter checks producer liveness
  std::uint32_t flags;                   // kHeader* bits
  std::uint8_t reserved[512 - 84];
};
// The creator asked for transparent huge pages: every process that attaches asks too.
inline constexpr std::uint32_t kHeaderHugePages = 1;
// One producer at a time (RingConfig::exclusive_producer): it claims with plain stores of the tail
// and commits with a plain store of the frontier (docs/ring.md, "Exclusive producers").
inline constexpr std::uint32_t kHeaderExclusiveProducer = 2;
// With kHeaderExclusiveProducer: the producer fences every commit, so parkers need no
// membarrier() (RingConfig::fenced_commits).
inline constexpr std::uint32_t kHeaderFencedCommits = 4;
inline constexpr std::uint32_t kHeaderKnownFlags =
    kHeaderHugePages | kHeaderExclusiveProducer | kHeaderFencedCommits;
inline constexpr std::uint32_t kStateInitializing = 0x494E4954;  // "INIT"
inline constexpr std::uint32_t kStateReady = 0x52454459;         // "REDY"
static_assert(sizeof(SegmentHeader) == 512);
static_assert(offsetof(SegmentHeader, state) == 12);
static_assert(offsetof(SegmentHeader, capacity) == 16);
static_assert(offsetof(SegmentHeader, max_record) == 24);
// magic, layout_version, creator_pid, creator_start_time and creation_time_ns keep these offsets
// in every layout version: Segment::identity() reads them from a ring of any version.
static_assert(offsetof(SegmentHeader, creator_pid) == 32);
static_assert(offsetof(SegmentHeader, creator_start_time) == 40);
static_assert(offsetof(SegmentHeader, creation_time_ns) == 48);
static_assert(offsetof(SegmentHeader, segment_bytes) == 56);
static_assert(offsetof(SegmentHeader, dead_check_interval_ns) == 72);
static_assert(offsetof(SegmentHeader, flags) == 80);

// ---------------------------------------------------------------------------------------------
// Control: the hot shared words, one 128-byte block each so that no two share a cache line (or an
// adjacent-line prefetch pair).
//
//   block 0  tail      : next position to claim. Producers fetch_add it (claim).
//   block 1  frontier  : every record below it is complete (committed or padding); readers go by
//                        the seals and look at it now and then; producers may only write [p, p+n)
//                        once frontier >= p + n - capacity (the gating rule, docs/ring.md).
//   block 2  wake      : futex word (u32) bumped when the frontier moves and someone is parked,
//                        the count of parked waiters, and the wake epoch (u64, bumped before
//                        the word by each wake) beside the highest epoch a waiter armed at
//                        (layout version 6, docs/ring.md "Wake epochs"); on a ring made for
//                        one producer, the fence request of parkers in other processes and the
//                        owner word of the producer that answered it (layout version 8,
//                        docs/ring.md "Exclusive producers", X6).
//   block 3  repair    : the repair lock (0 = free; else the repairer's process_tag: its pid and
//                        the low half of its start time, one word since layout version 7), the
//                        exclusive producer's
//                        slot (exclusive-producer rings) and ring-wide counters.
//   block 4  horizon   : the claims' high-water mark rounded down to a granule (capacity /
//                        kHorizonGranules): a producer makes it at least its claim's end, so
//                        rounded, before it writes any byte of the claim (a monotonic max, so an
//                        RMW only once per granule). Readers validate what they read against it
//                        (R2, docs/ring.md) instead of against the tail, whose line every claim
//                        takes; they load the tail only when it comes within a granule of
//                        lapping them.
struct alignas(kBlock) TailBlock {
  std::atomic<std::uint64_t> tail;
};
struct alignas(kBlock) FrontierBlock {
  std::atomic<std::uint64_t> frontier;
};
struct alignas(kBlock) WakeBlock {
  std::atomic<std::uint32_t> futex_word;  // must be 4-byte aligned, shared (not PRIVATE) futex
  std::atomic<std::uint32_t> waiters;
  std::atomic<std::uint64_t> epoch;        // wakes so far (each bumps it, then the word)
  std::atomic<std::uint64_t> armed_epoch;  // the highest epoch a waiter read when it armed
  // Rings made for one producer without fenced commits: 1 once a parker in a process other than
  // the producer's asked the producer to fence its commits (for the ring's life), 0 before.
  std::atomic<std::uint32_t> fence_asked;
  // The owner word (RepairBlock::exclusive_owner) of the producer that fences every commit since
  // it stored it here (it saw fence_asked, or could not register for membarrier()); 0: none yet.
  std::atomic<std::uint32_t> fence_acked;
};
struct alignas(kBlock) RepairBlock {
  // 0 = free; else the repairer's process_tag (shm/process.hpp): taken, and stolen from a dead
  // holder, with one CAS that names the holder whole (until layout version 7 a pid and a start
  // time in two words: a thief stopped between its two stores was judged dead by the next one).
  std::atomic<std::uint64_t> lock;
  // Exclusive-producer rings: the one producer's slot + 1 in the low 16 bits and that slot's
  // generation (low 16 bits) in the high 16 (owner_word); 0 = none. Taken with a CAS
  // (registry.cpp).
  std::atomic<std::uint32_t> exclusive_owner;
  std::atomic<std::uint64_t> repairs;          // holes turned into padding by a repair
  std::atomic<std::uint64_t> abandoned_bytes;  // bytes of dead producers' claims made padding
  std::atomic<std::uint64_t> aborted_claims;   // claims their live producer gave back
};
// The owner word of producer slot `id` taken at `generation`: the slot + 1 in the low 16 bits,
// the low 16 bits of the generation in the high 16, so that a slot taken again by another process
// never reads as its previous owner.
inline constexpr std::uint32_t kOwnerSlotMask = 0xFFFF;
constexpr std::uint32_t owner_word(std::uint64_t generation, std::uint16_t id) {
  return (static_cast<std::uint32_t>(generation) << 16) | (static_cast<std::uint32_t>(id) + 1);
}
static_assert(owner_word(0x12345, 0) == 0x23450001u);
struct alignas(kBlock) HorizonBlock {
  std::atomic<std::uint64_t> horizon;
};
inline constexpr std::uint64_t kHorizonGranules = 16;
// The horizon's granule: capacity / 16 (at least 4 KiB, the capacity being at least 64 KiB).
inline constexpr std::uint64_t horizon_granule(std::uint64_t capacity) noexcept {
  return capacity / kHorizonGranules;
}
struct Control {
  TailBlock tail;
  FrontierBlock frontier;
  WakeBlock wake;
  RepairBlock repair;
  HorizonBlock horizon;
};
static_assert(sizeof(Control) == 5 * kBlock);
static_assert(offsetof(Control, horizon) - offsetof(Control, repair) == kBlock);
static_assert(offsetof(Control, frontier) - offsetof(Control, tail) == kBlock);
static_assert(offsetof(Control, wake) - offsetof(Control, frontier) == kBlock);

// ---------------------------------------------------------------------------------------------
// Registry slots. A slot is owned by one process while its state is ACTIVE; its hot half is
// written only by that owner (and by a repairer after the owner died).
inline constexpr std::uint32_t kSlotFree = 0;
inline constexpr std::uint32_t kSlotActive = 0x41435456;  // "ACTV"
inline constexpr std::uint32_t kSlotDead = 0x44454144;    // "DEAD": owner died, kept for inspection
inline constexpr std::uint32_t kSlotTaking = 0x54414B45;  // "TAKE": being taken, taker not named
// Being taken by the process whose pid is in the low 31 bits (the state tags above all have the top
// bit clear; Linux pids are at most 2^22): a slot whose taker died before making it ACTIVE (or
// OWNING) can be told from one a live process is filling, and taken again (registry.cpp). Builds
// before this marker wrote kSlotTaking, which is never taken back (its taker is unknown).
inline constexpr std::uint32_t kSlotTakingBy = 0x80000000u;
constexpr std::uint32_t taking_by(std::uint32_t pid) {
  return kSlotTakingBy | (pid & ~kSlotTakingBy);
}
constexpr bool is_taking(std::uint32_t state) {
  return state == kSlotTaking || (state & kSlotTakingBy) != 0;
}
// The pid a TAKING state names, 0 if none.
constexpr std::uint32_t taker_of(std::uint32_t state) {
  return (state & kSlotTakingBy) != 0 ? state & ~kSlotTakingBy : 0;
}
static_assert(is_taking(taking_by(4194304)) && taker_of(taking_by(4194304)) == 4194304);
static_assert(is_taking(kSlotTaking) && taker_of(kSlotTaking) == 0);
static_assert(!is_taking(kSlotActive) && !is_taking(kSlotDead) && !is_taking(kSlotFree));
// Exclusive-producer rings: filled by its new owner, which is taking the ring's owner word.
inline constexpr std::uint32_t kSlotOwning = 0x4F574E47;  // "OWNG"

// Claim states of a producer, published so that a repair never has to guess.
inline constexpr std::uint32_t kClaimIdle = 0;
inline constexpr std::uint32_t kClaimClaiming = 1;  // about to fetch_add; position not yet known
inline constexpr std::uint32_t kClaimClaimed = 2;   // claim_position/claim_length are exact

inline constexpr std::size_t kLabelBytes = 32;

//   0 state u32 | 4 pid i32 | 8 start_time u64 | 16 claim_state u32 | 20 core i32 |
//  24 claim_length u64 | 32 claim_position u64 | 40 heartbeat_ns u64 | 48 generation u64 |
//  128 records u64 | 136 bytes u64 | 144 aborted u64 | 152 abandoned u64 | 160 gated u64 |
//  168 abandoned_bytes u64 | 176 label char[32] | 208..255 reserved
struct alignas(kBlock) ProducerSlot {
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint64_t> start_time;
  std::atomic<std::uint32_t> claim_state;
  std::atomic<std::int32_t> core;  // the CPU its owner is pinned to, -1 if none
  std::atomic<std::uint64_t> claim_length;
  std::atomic<std::uint64_t> claim_position;
  std::atomic<std::uint64_t> heartbeat_ns;  // CLOCK_MONOTONIC
  std::atomic<std::uint64_t> generation;    // bumped each time the slot is taken
  std::uint8_t pad0[kBlock - 56];
  // statistics, written by the owner (abandoned*: by the repairer)
  std::atomic<std::uint64_t> records;
  std::atomic<std::uint64_t> bytes;
  std::atomic<std::uint64_t> aborted;    // claims the owner gave back (became padding)
  std::atomic<std::uint64_t> abandoned;  // claims left by its death (became padding)
  std::atomic<std::uint64_t> gated;      // claims that had to wait for the frontier
  std::atomic<std::uint64_t> abandoned_bytes;
  char label[kLabelBytes];
  std::uint8_t pad1[kBlock - 48 - kLabelBytes];
};
static_assert(sizeof(ProducerSlot) == 2 * kBlock);
static_assert(offsetof(ProducerSlot, claim_state) == 16);
static_assert(offsetof(ProducerSlot, claim_position) == 32);
static_assert(offsetof(ProducerSlot, records) == kBlock);

//   0 state u32 | 4 pid i32 | 8 start_time u64 | 16 position u64 | 24 heartbeat_ns u64 |
//  32 parked u32 | 36 core i32 | 40 generation u64 |
//  128 records u64 | 136 bytes u64 | 144 laps u64 | 152 lost_records u64 | 160 lost_bytes u64 |
//  168 wakeups u64 | 176 corrupt u64 | 184 label char[32] | 216..255 reserved
struct alignas(kBlock) ReaderSlot {
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint64_t> start_time;
  std::atomic<std::uint64_t> position;  // the reader's cursor, published after each batch
  std::atomic<std::uint64_t> heartbeat_ns;
  std::atomic<std::uint32_t>
      parked;  // its process's waits counted on the ring (ring.md "Dead waiters")
  std::atomic<std::int32_t> core;
  std::atomic<std::uint64_t> generation;
  std::uint8_t pad0[kBlock - 48];
  std::atomic<std::uint64_t> records;
  std::atomic<std::uint64_t> bytes;
  std::atomic<std::uint64_t> laps;          // times it was lapped and resynced
  std::atomic<std::uint64_t> lost_records;  // exact: non-padding records skipped by resyncs
  std::atomic<std::uint64_t> lost_bytes;    // exact: stream bytes skipped by resyncs
  std::atomic<std::uint64_t> wakeups;       // futex waits ended by a wake
  std::atomic<std::uint64_t> corrupt;       // inconsistent records skipped (not overwrites)
  char label[kLabelBytes];
  std::uint8_t pad1[kBlock - 56 - kLabelBytes];
};
static_assert(sizeof(ReaderSlot) == 2 * kBlock);
static_assert(offsetof(ReaderSlot, position) == 16);
static_assert(offsetof(ReaderSlot, records) == kBlock);

// One unit's index (an array of them, see the top of this file).
using UnitWord = std::atomic<std::uint64_t>;
static_assert(sizeof(UnitWord) == 8);

// One unit's seal and the header of the record starting there (an array of them).
struct SealEntry {
  std::atomic<std::uint64_t> seal;  // position | 1 once complete
  std::atomic<std::uint64_t> info;  // pack_info(length, type, producer)
};
static_assert(sizeof(SealEntry) == 16 && kUnit % sizeof(SealEntry) == 0);

// A record's header, as read from its unit's seal entry (it is not stored in this form).
struct RecordHeader {
  std::uint64_t position;  // the seal's value less its low bit
  std::uint32_t length;    // payload bytes (padding: its footprint)
  std::uint16_t type;
  std::uint16_t producer;
};
constexpr std::uint64_t pack_info(std::uint32_t length, std::uint16_t type,
                                  std::uint16_t producer) {
  return std::uint64_t{length} | std::uint64_t{type} << 32 | std::uint64_t{producer} << 48;
}
constexpr RecordHeader unpack_header(std::uint64_t seal, std::uint64_t info) {
  return {seal & ~std::uint64_t{1}, static_cast<std::uint32_t>(info),
          static_cast<std::uint16_t>(info >> 32), static_cast<std::uint16_t>(info >> 48)};
}
static_assert(unpack_header(seal_of(128), pack_info(7, 3, 9)).position == 128);
static_assert(unpack_header(1, pack_info(0xFFFFFFFF, 0xFFFF, 2)).length == 0xFFFFFFFF);
static_assert(unpack_header(1, pack_info(0xFFFFFFFF, 0xFFFF, 2)).type == 0xFFFF);
static_assert(unpack_header(1, pack_info(0xFFFFFFFF, 0xFFFF, 2)).producer == 2);

// Bytes a record of `length` payload bytes takes in the ring: its payload rounded up to whole
// units, and at least one unit (a record needs a unit of its own for its seal entry; records have
// at least one byte, a damaged header may say 0).
constexpr std::uint64_t footprint(std::uint64_t length) {
  return length == 0 ? kUnit : align_up(length, kUnit);
}
static_assert(footprint(0) == 64 && footprint(1) == 64 && footprint(64) == 64 &&
              footprint(65) == 128);

// The longest padding record a producer writes: a repair's are at most half a capacity (and under
// 2^31), an abort's a record's footprint (at most a quarter). Padding longer is damage (a stray
// write into the segment): advance_frontier passes it as one unit, and readers and shm-inspect
// stop at it. (Judged by length, not footprint, it must be so: any length past capacity - 64
// rounds up to a whole capacity, and before 2026-12-07 such padding, under the old bound of a
// capacity, moved a reader's cursor or the frontier a lap on; a review.)
constexpr std::uint64_t max_padding(std::uint64_t capacity) {
  return capacity / 2 < 0x8000'0000ULL ? capacity / 2 : 0x8000'0000ULL;
}

// Offsets of each part, derived from (capacity, producers, readers) alone, so that attach() can
// recompute them and refuse a header that does not add up.
struct Offsets {
  std::uint64_t control;
  std::uint64_t producers;
  std::uint64_t readers;
  std::uint64_t seals;          // SealEntry[capacity / kUnit]
  std::uint64_t indices;        // UnitWord[capacity / kUnit]
  std::uint64_t control_bytes;  // = offset of the data ring, page aligned
  std::uint64_t segment_bytes;  // = control_bytes + capacity
};
constexpr Offsets offsets_for(std::uint64_t capacity, std::uint16_t producers,
                              std::uint16_t readers) {
  Offsets o{};
  o.control = sizeof(SegmentHeader);
  o.producers = o.control + sizeof(Control);
  o.readers = o.producers + sizeof(ProducerSlot) * producers;
  o.seals = align_up(o.readers + sizeof(ReaderSlot) * readers, kBlock);
  o.indices = o.seals + sizeof(SealEntry) * (capacity / kUnit);
  o.control_bytes = align_up(o.indices + sizeof(UnitWord) * (capacity / kUnit), kPage);
  o.segment_bytes = o.control_bytes + capacity;
  return o;
}
static_assert(offsets_for(65536, 1, 1).control % kBlock == 0);

}  // namespace shmio::shm::layout
