// Segment: one named POSIX shared-memory object holding a ring (layout.hpp), mapped into this
// process at whatever address the kernel picks.
//
// Guarantees:
// - create() lays the whole segment out once (header, control blocks, registry, meta array) and
//   publishes it by storing header.state = READY with release; nothing is ever allocated from the
//   segment afterwards.
// - attach() never modifies a segment it refuses: it validates magic, layout version, state,
//   sizes and the recomputed offsets, and returns a clear Error otherwise.
// - A read-only attach maps the object PROT_READ (for shm-inspect): it cannot write even by bug.
// Thread-safety: a Segment is an immutable handle after construction; any number of threads may
// use the same Segment. Moving it is not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shmio/shm/layout.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"

namespace shmio::shm {

struct RingConfig {
  // Segment name: letters, digits, '.', '_' and '-', at most 200 characters. The object is
  // /dev/shm/shmio.<name>.
  std::string name;
  // Data ring bytes, a power of two in [64 KiB, 1 TiB]. Default 64 MiB: about half a second of a
  // 1 M msg/s stream of 128-byte records; it bounds how far a reader may lag before it is lapped
  // and how far back connection-state recovery can replay.
  std::uint64_t capacity = 64ULL << 20;
  // Largest payload. 0 means capacity / 8 (capped at 16 MiB): a record that takes a large share of
  // the ring laps slow readers at once. At most capacity / 4.
  std::uint32_t max_record = 0;
  // Registry slots. Default 64 each: one producer and one reader per worker on 64 cores.
  std::uint16_t max_producers = 64;
  std::uint16_t max_readers = 64;
  // Permission bits of the shared-memory object. Default owner-only.
  unsigned mode = 0600;
  // How often a waiter stalled behind an unfinished claim checks whether its producer is dead.
  // A dead producer blocks others for at most about twice this (docs/ring.md, "Bounds").
  std::chrono::milliseconds dead_check_interval{10};
  // Pre-fault the mapping, and touch every page of it from this process (a write that keeps the
  // byte), so that the first touches are not on the hot path — under a hypervisor with shadow page
  // tables a process's first access to a page traps even after pre-faulting (docs/ring.md, "Page
  // faults"). Creating a 64 MiB ring then took 163 ms on the dev VM (30 ms without the touch).
  bool populate = true;
  // Ask for transparent huge pages (2 MiB) for the segment, in this process and every process
  // that attaches (MADV_HUGEPAGE, the mapping aligned to 2 MiB). Granted only where the kernel
  // allows huge pages for this shared memory (/dev/shm's tmpfs mount option huge=advise or
  // always; shmem_enabled's deny/force override it); elsewhere the ring uses 4 KiB pages and
  // nothing fails. With `populate` off, or on a kernel without MADV_POPULATE_WRITE (before 5.14),
  // the pages are allocated before the advice and only huge=always grants them.
  // Segment::huge_page_bytes() says what was granted. docs/ring.md, "Page faults".
  bool huge_pages = false;
  // One producer at a time: a RingWriter attaching while another live one holds the ring is
  // refused (Errc::exclusive_producer; a dead one's claim is repaired and its place taken). The
  // producer then claims and commits without a locked instruction — a plain store of the tail and
  // one of the frontier — so that its stores to lines a reader holds do not stall it (on a 16-core
  // Xeon one publish with a reader on another core waited ~75 ns a transfer at each of the shared
  // ring's two locked RMWs). Readers are unchanged; a reader about to park pays a membarrier()
  // instead of the producer a fence per publish. docs/ring.md, "Exclusive producers".
  bool exclusive_producer = false;
  // With exclusive_producer: the producer fences every commit (one full barrier after its frontier
  // store), so that a reader about to park needs no membarrier(). For machines where that call is
  // slow — under a hypervisor an inter-processor interrupt into a running vCPU took 48-56 us on the
  // dev VM, and a parked reader's p90 rose from 16-20 to 43-47 us — at the price of the fence on
  // every publish. Refused without exclusive_producer. docs/ring.md, "Exclusive producers".
  bool fenced_commits = false;
  // The ring's file locked shared (flock) from its making — before its creator's pid is written
  // into it — for as long as the Segment create() returns lives, and in every process forked from
  // this one meanwhile inside a KeepRingLocksAcrossFork scope (the descriptor is theirs); a
  // process forked outside one lets go of it at once, an exec'd program never has it
  // (close-on-exec).
  // Segment::held() tells it, seen or not by the looker: a cluster's rings are made so, and no
  // supervisor takes a ring held by a cluster out of its sight for a stale one, also where its
  // creator's pid says nothing (a cluster in another pid namespace sharing /dev/shm).
  // docs/cluster.md, "Supervisor".
  bool hold_lock = false;
};

// read_write: writable, and pre-faulted and touched page by page (as create() with `populate`):
// what a process that publishes or reads for a while wants ("Page faults: none on the hot path",
// docs/ring.md). read_write_lazy: writable, touched only where it is used — for a process that
// writes a few records and exits (shmio-emit), which would otherwise pay for every page of the
// ring (on the dev VM ~140 ms for a 64 MiB ring, against ~5 ms). read_only: not writable, not
// pre-faulted (shm-inspect).
enum class AttachMode { read_write, read_write_lazy, read_only };

// What shm-inspect lists.
struct SegmentInfo {
  std::string name;
  std::uint64_t bytes;
};

class Segment {
 public:
  // Creates a new segment; fails with already_exists if one of that name exists.
  static Result<Segment> create(const RingConfig& config);
  // Opens and validates an existing segment.
  static Result<Segment> attach(const std::string& name, AttachMode mode = AttachMode::read_write);
  // The process that created the ring `name`, from its header alone: the magic number and the
  // creator's pid and start time sit at the same offsets in every layout version, so this also
  // answers for a ring attach() refuses as another version's (is it still in use?).
  static Result<ProcessIdentity> creator(const std::string& name);
  // The same, with the ring's creation time (its header's creation_time_ns: the id the objects a
  // cluster keeps beside it are named with).
  struct Identity {
    ProcessIdentity creator;
    std::uint64_t creation_time_ns = 0;
  };
  static Result<Identity> identity(const std::string& name);
  // Removes the name (mappings that exist stay valid until unmapped).
  static Result<void> remove(const std::string& name);
  // Whether the ring's file is locked by a process that made it with RingConfig::hold_lock (or
  // one forked from such a process since inside a KeepRingLocksAcrossFork, still alive), whoever
  // can see that process: a look
  // with an exclusive lock, not waited for and let go at once. `same`: the file must be the one
  // it maps, else it is told held (another file now has the name: not the looker's to judge).
  // A file that cannot be opened is not held.
  static bool held(const std::string& name, const Segment* same = nullptr);
  // Segments named shmio.* in /dev/shm.
  static std::vector<SegmentInfo> list();
  // The object name used for a ring name ("shmio.<name>"), and its file (/dev/shm/shmio.<name>).
  static std::string object_name(const std::string& name);
  static std::string object_path(const std::string& name);
  // Whether the ring's name still names the file this segment maps, whole: false once it was
  // removed or made anew under the name (a stat of the path against the file's identity, taken
  // by the fstat of the very descriptor mapped: no window between looking and mapping), or
  // truncated (someone's ftruncate or `truncate -s`: its pages past the new end are a SIGBUS at
  // the next access). Only as of the stat: a truncation after it is not seen.
  bool still_named() const noexcept;
  // Whether a file's identity (a stat's st_dev and st_ino) is the one mapped (still_named from a
  // stat the caller made).
  bool is_file(std::uint64_t dev, std::uint64_t ino) const noexcept {
    return dev == file_dev_ && ino == file_ino_;
  }
  // Whether `o` maps the same file as this one (one ring attached twice; false where the file's
  // identity could not be read).
  bool same_file(const Segment& o) const noexcept {
    return file_ino_ != 0 && o.file_dev_ == file_dev_ && o.file_ino_ == file_ino_;
  }
  static Result<void> validate_name(const std::string& name);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  const std::string& name() const noexcept { return name_; }
  bool writable() const noexcept { return writable_; }
  // Bytes of this process's mapping of the segment on huge pages (from /proc/self/smaps; 0 where
  // none were granted, or the file cannot be read).
  std::uint64_t huge_page_bytes() const;
  // Bytes of this process's mapping of the segment that are resident in its page tables (smaps'
  // Rss; 0 where the file cannot be read): all of it after a read_write attach or a create with
  // `populate`, what was used after a lazy or read-only attach.
  std::uint64_t resident_bytes() const;

  const layout::SegmentHeader& header() const noexcept {
    return *reinterpret_cast<const layout::SegmentHeader*>(base_);
  }
  std::uint64_t capacity() const noexcept { return capacity_; }
  // The bytes of the shared-memory object as mapped (control area + capacity): a file found
  // smaller than this was truncated under the mapping, whose pages past its end raise SIGBUS.
  std::uint64_t segment_bytes() const noexcept { return offsets_.segment_bytes; }
  std::uint64_t mask() const noexcept { return capacity_ - 1; }
  // The geometry as create() set it or attach() validated it, kept in this object: the header's
  // words are in memory every writer of the ring maps writable, and read there again a damaged
  // one sent the slot loops past the slot arrays, a claim past the capacity, a record into a
  // copy buffer sized by an earlier read (before 2026-12-05; found by a review).
  std::uint32_t max_record() const noexcept { return geometry_.max_record; }
  std::uint16_t max_producers() const noexcept { return geometry_.max_producers; }
  std::uint16_t max_readers() const noexcept { return geometry_.max_readers; }
  std::uint64_t dead_check_interval_ns() const noexcept { return geometry_.dead_check_interval_ns; }
  // Created with RingConfig::exclusive_producer.
  bool exclusive_producer() const noexcept {
    return (geometry_.flags & layout::kHeaderExclusiveProducer) != 0;
  }
  // Created with RingConfig::fenced_commits: its producer fences every commit, parkers need no
  // membarrier().
  bool fenced_commits() const noexcept {
    return (geometry_.flags & layout::kHeaderFencedCommits) != 0;
  }

  // Views into the mapping. A read-only attach maps PROT_READ: through such a Segment only loads
  // are allowed (a store faults). Record lengths of padding may exceed max_record.
  layout::Control& control() const noexcept { return *at<layout::Control>(offsets_.control); }
  layout::ProducerSlot& producer_slot(std::size_t i) const noexcept {
    return at<layout::ProducerSlot>(offsets_.producers)[i];
  }
  layout::ReaderSlot& reader_slot(std::size_t i) const noexcept {
    return at<layout::ReaderSlot>(offsets_.readers)[i];
  }
  // The seal entry (seal and header) and the index of the unit at a position (two arrays:
  // layout.hpp).
  struct UnitMeta {
    layout::UnitWord& seal;
    layout::UnitWord& info;
    layout::UnitWord& index;
  };
  UnitMeta meta(std::uint64_t position) const noexcept {
    const std::uint64_t unit = (position & mask()) / layout::kUnit;
    layout::SealEntry& e = at<layout::SealEntry>(offsets_.seals)[unit];
    return {e.seal, e.info, at<layout::UnitWord>(offsets_.indices)[unit]};
  }
  // The seal entries, indexed by (position & mask()) / kUnit (for loops that keep the base).
  layout::SealEntry* seal_entries() const noexcept { return at<layout::SealEntry>(offsets_.seals); }
  // The header of the record at a position as its seal entry holds it now (seal acquired, then
  // the header). Tentative, like every read of a record: a later lap may be writing it.
  layout::RecordHeader header(std::uint64_t position) const noexcept {
    const UnitMeta m = meta(position);
    const std::uint64_t seal = m.seal.load(std::memory_order_acquire);
    return layout::unpack_header(seal, m.info.load(std::memory_order_relaxed));
  }
  // The bytes at a position; valid for up to `capacity` bytes thanks to the mirror mapping.
  std::byte* data(std::uint64_t position) const noexcept { return data_ + (position & mask()); }

 private:
  Segment() = default;
  template <class T>
  T* at(std::uint64_t offset) const noexcept {
    return reinterpret_cast<T*>(base_ + offset);
  }
  static Result<Segment> map(int fd, std::string name, std::uint64_t control_bytes,
                             std::uint64_t capacity, bool writable, bool populate,
                             bool huge_pages = false, bool allocated = true);
  void release() noexcept;

  std::string name_;
  std::byte* base_ = nullptr;  // control area
  std::byte* data_ = nullptr;  // first copy of the data ring (the second follows it)
  std::size_t reserved_bytes_ = 0;
  std::uint64_t capacity_ = 0;
  layout::Offsets offsets_{};
  struct Geometry {
    std::uint32_t max_record = 0;
    std::uint16_t max_producers = 0, max_readers = 0;
    std::uint32_t flags = 0;
    std::uint64_t dead_check_interval_ns = 0;
  } geometry_;  // (see max_record())
  bool writable_ = false;
  std::uint64_t file_dev_ = 0, file_ino_ = 0;  // the mapped file's identity (still_named)
  int lock_fd_ = -1;  // (RingConfig::hold_lock: the locked descriptor, closed with the Segment)
  // Its path, made once at the mapping (still_named runs before every emitter publish: it made
  // two strings, one of them a heap allocation, per message).
  std::string path_;
};

// The ring locks (RingConfig::hold_lock) this process holds are let go of in a process forked
// from it without exec (a fork handler points each locked descriptor at /dev/null in the child;
// the parent's lock is untouched), unless it is forked while a KeepRingLocksAcrossFork lives in
// the forking process: a cluster's supervisor keeps them for its workers and its bridge, which
// hold the cluster's rings with it. A process forked so lets go of them in its own forks, unless
// it too keeps them. Why: a helper daemon an app forks from a worker (and leaves running) held a
// killed cluster's rings as long as it lived, and every start on their names was refused (before
// 2026-12-07). At most kMaxHeldRingLocks locks a process are let go of so; one held past that is
// kept in forks, as before. A fork made by another thread while a KeepRingLocksAcrossFork lives
// keeps them too.
inline constexpr int kMaxHeldRingLocks = 1024;
class KeepRingLocksAcrossFork {
 public:
  KeepRingLocksAcrossFork() noexcept;
  ~KeepRingLocksAcrossFork();
  KeepRingLocksAcrossFork(const KeepRingLocksAcrossFork&) = delete;
  KeepRingLocksAcrossFork& operator=(const KeepRingLocksAcrossFork&) = delete;
};

}  // namespace shmio::shm
