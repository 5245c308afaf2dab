#include "shmio/shm/segment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <new>
#include <optional>
#include <utility>

#include "shm_file.hpp"
#include "shmio/shm/process.hpp"

namespace bip = boost::interprocess;

namespace shmio::shm {

namespace {
// The locked descriptors of this process's Segments (RingConfig::hold_lock), each plus one (0:
// a free entry, as static storage starts), and
// how many KeepRingLocksAcrossFork live: read by the fork handler in the child, where only
// async-signal-safe calls may be made (open, dup2, close), so a fixed table of atomics.
std::atomic<int> g_lock_fds[kMaxHeldRingLocks];
std::atomic<int> g_keep_locks{0};
std::once_flag g_fork_handler_once;

void drop_locks_in_child() noexcept {
  if (g_keep_locks.exchange(0, std::memory_order_relaxed) > 0) return;  // (kept; not in its forks)
  int null_fd = -1;
  for (auto& slot : g_lock_fds) {
    const int fd = slot.load(std::memory_order_relaxed) - 1;
    if (fd < 0) continue;
    if (null_fd < 0) null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) return;  // (none to point them at: kept, as before)
    // (The descriptor's number stays valid, as the Segment copied into this process closes it
    // at its end: it no longer names the locked file, whose lock the parent holds on.)
    if (::dup3(null_fd, fd, O_CLOEXEC) == fd) slot.store(0, std::memory_order_relaxed);
  }
  if (null_fd >= 0) ::close(null_fd);
}

void note_lock_fd(int fd) noexcept {
  std::call_once(g_fork_handler_once,
                 [] { (void)::pthread_atfork(nullptr, nullptr, &drop_locks_in_child); });
  for (auto& slot : g_lock_fds) {
    int free_slot = 0;
    if (slot.compare_exchange_strong(free_slot, fd + 1, std::memory_order_relaxed)) return;
  }
  // (The table full: this lock is kept in forks, as every one was before 2026-12-07.)
}

void forget_lock_fd(int fd) noexcept {
  for (auto& slot : g_lock_fds) {
    int held = fd + 1;
    if (slot.compare_exchange_strong(held, 0, std::memory_order_relaxed)) return;
  }
}

// Closes a locked descriptor of this process: first pointed at /dev/null (which lets go of this
// process's hold on the lock), then taken off the list, then closed. A fork by another thread at
// any step gives its child a listed descriptor or one that names /dev/null, never an unlisted
// copy of the lock; and the number is not free for reuse while it is listed.
void let_go_of_lock_fd(int fd) noexcept {
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    (void)::dup3(null_fd, fd, O_CLOEXEC);
    ::close(null_fd);
  }
  forget_lock_fd(fd);
  ::close(fd);
}
}  // namespace

KeepRingLocksAcrossFork::KeepRingLocksAcrossFork() noexcept {
  g_keep_locks.fetch_add(1, std::memory_order_relaxed);
}
KeepRingLocksAcrossFork::~KeepRingLocksAcrossFork() {
  // (In a child forked inside the scope the count is 0 already: never below it.)
  int n = g_keep_locks.load(std::memory_order_relaxed);
  while (n > 0 && !g_keep_locks.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::not_found:
      return "not found";
    case Errc::already_exists:
      return "already exists";
    case Errc::permission_denied:
      return "permission denied";
    case Errc::foreign_segment:
      return "foreign segment";
    case Errc::version_mismatch:
      return "version mismatch";
    case Errc::size_mismatch:
      return "size mismatch";
    case Errc::not_ready:
      return "not ready";
    case Errc::no_free_slot:
      return "no free slot";
    case Errc::exclusive_producer:
      return "held by its exclusive producer";
    case Errc::system_error:
      return "system error";
  }
  return "unknown";
}

namespace {

constexpr const char* kPrefix = "shmio.";
constexpr const char* kShmDir = "/dev/shm";  // where Linux's shm_open keeps its objects

using detail::remove_if_same;
using detail::shm_path;

Error errno_error(int err, const std::string& what) {
  Errc code = Errc::system_error;
  if (err == ENOENT) code = Errc::not_found;
  if (err == EEXIST) code = Errc::already_exists;
  if (err == EACCES || err == EPERM) code = Errc::permission_denied;
  return Error{code, what + ": " + std::strerror(err)};
}

Error interprocess_error(const bip::interprocess_exception& e, const std::string& what) {
  int native = e.get_native_error();
  if (native != 0) return errno_error(native, what);
  switch (e.get_error_code()) {
    case bip::not_found_error:
      return errno_error(ENOENT, what);
    case bip::already_exists_error:
      return errno_error(EEXIST, what);
    case bip::security_error:
      return errno_error(EACCES, what);
    default:
      return Error{Errc::system_error, what + ": " + e.what()};
  }
}

// Writes one byte of every 4 KiB page of [p, p + bytes) from this process, keeping its value.
// Populating (MAP_POPULATE, MADV_POPULATE_WRITE) fills the kernel's page tables, but under a
// hypervisor that builds its own tables lazily (shadow paging; the dev VM is a PVM guest) a
// process's first access to each page still traps, about 5 us a page, with no page fault counted
// by the guest; done here, that is paid at create or attach instead of by the first records in
// each page ("Page faults: none on the hot path" in docs/ring.md; measured there). The write is
// atomic against other processes' stores to the same byte, so a live ring loses nothing: on x86 a
// locked OR of zero, elsewhere a compare-and-swap of the byte with itself (a successful one always
// stores; an idempotent RMW such as fetch_or(0) may be compiled to a load, and a read alone was
// seen to leave the first write trapping).
void touch_pages(std::byte* p, std::size_t bytes) noexcept {
  constexpr std::size_t kPage = 4096;
  for (std::size_t off = 0; off < bytes; off += kPage) {
    std::byte* b = p + off;
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("lock orb $0, %0" : "+m"(*b) : : "memory");
#else
    auto* u = reinterpret_cast<unsigned char*>(b);
    unsigned char v = __atomic_load_n(u, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(u, &v, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
#endif
  }
}

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

namespace detail {

std::string shm_path(const std::string& obj) {
  return std::string(kShmDir) + "/" + obj;
}

bool name_moved(const std::string& obj, int fd) noexcept {
  struct stat mine {
  }, named{};
  if (::fstat(fd, &mine) != 0) return false;
  if (::lstat(shm_path(obj).c_str(), &named) != 0) return errno == ENOENT;
  return mine.st_dev != named.st_dev || mine.st_ino != named.st_ino;
}

// (A failed create() undoes only its own object, never one that replaced it under the same name
// meanwhile: after `shm-inspect rm` or a supervisor's removal.)
void remove_if_same(const std::string& obj, int fd) noexcept {
  struct stat mine {
  }, named{};
  if (::fstat(fd, &mine) != 0 || ::lstat(shm_path(obj).c_str(), &named) != 0) return;
  if (mine.st_dev != named.st_dev || mine.st_ino != named.st_ino) return;
  bip::shared_memory_object::remove(obj.c_str());
}

}  // namespace detail

std::string Segment::object_name(const std::string& name) {
  std::string out(kPrefix);  // (appending, not operator+: GCC 12 -O3 warns falsely on the latter)
  out.append(name);
  return out;
}

Result<void> Segment::validate_name(const std::string& name) {
  if (name.empty() || name.size() > 200)
    return Error{Errc::invalid_argument, "ring name must be 1..200 characters"};
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return Error{Errc::invalid_argument,
                   "ring name '" + name + "' may hold only letters, digits, '.', '_', '-'"};
  }
  return {};
}

Result<Segment> Segment::map(int fd, std::string name, std::uint64_t control_bytes,
                             std::uint64_t capacity, bool writable, bool populate, bool huge_pages,
                             bool allocated) {
  // Reserve one range for the control area and two copies of the data ring, then map the object
  // over it: [control | data | data again]. For huge pages the range starts on a 2 MiB boundary,
  // so that virtual addresses and file offsets agree modulo 2 MiB in both copies (the capacity
  // being a power of two of at least 2 MiB where it matters) and the kernel can map 2 MiB pages.
  constexpr std::size_t kHuge = 2u << 20;
  const std::size_t total = control_bytes + 2 * capacity;
  const std::size_t slack = huge_pages ? kHuge : 0;
  void* reserve =
      ::mmap(nullptr, total + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserve == MAP_FAILED) return errno_error(errno, "reserving address space for " + name);
  auto* raw = static_cast<std::byte*>(reserve);
  auto* base = raw;
  if (huge_pages) {
    const auto addr = reinterpret_cast<std::uintptr_t>(raw);
    base = raw + ((kHuge - addr % kHuge) % kHuge);
    // The slack around the aligned range goes back.
    if (base > raw) ::munmap(raw, static_cast<std::size_t>(base - raw));
    const std::size_t after = static_cast<std::size_t>((raw + total + slack) - (base + total));
    if (after > 0) ::munmap(base + total, after);
  }
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  // With huge pages the advice must come before the first touch: populated below instead.
  int flags = MAP_SHARED | MAP_FIXED | (populate && !huge_pages ? MAP_POPULATE : 0);
  auto fail = [&](const char* what) {
    int err = errno;
    ::munmap(base, total);
    return errno_error(err, std::string(what) + " " + name);
  };
  if (::mmap(base, control_bytes + capacity, prot, flags, fd, 0) == MAP_FAILED)
    return fail("mapping");
  // The mirror: the same pages again right after the first copy. Populating it would only fault
  // in the same physical pages a second time in this page table, which is what we want too.
  if (::mmap(base + control_bytes + capacity, capacity, prot, flags, fd,
             static_cast<off_t>(control_bytes)) == MAP_FAILED)
    return fail("mirror-mapping");
  if (huge_pages) {
    // Advice only: refused (an old kernel) or not acted on (shmem huge pages off), the ring
    // works on 4 KiB pages.
    (void)::madvise(base, total, MADV_HUGEPAGE);
    if (populate) {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#define MADV_POPULATE_WRITE 23
#endif
      // Faults every page in now, writable where the mapping is (as a write would, without
      // changing a byte: a live ring is never written here); where the kernel has no
      // MADV_POPULATE_*, by reading a byte of every page.
      if (::madvise(base, total, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
        // Failed (EFAULT where a touch would have raised SIGBUS: /dev/shm is full) or not known
        // to this kernel. Pages of an object created without them are allocated now, so that a
        // full /dev/shm is this error and never a SIGBUS in the loop below.
        if (!allocated) {
          const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(control_bytes + capacity));
          if (err != 0) {
            ::munmap(base, total);
            return errno_error(err, "allocating the pages of " + name);
          }
        }
        volatile const std::byte* p = base;
        std::byte sink{};
        for (std::size_t off = 0; off < total; off += 4096) sink ^= p[off];
        (void)sink;
      }
    }
  }
  if (populate && writable) {  // (no caller populates a read-only mapping)
    // The control area and the ring, and of the mirror what a record can reach past the ring's
    // end (a record is at most a quarter of the ring).
    touch_pages(base, control_bytes + capacity);
    touch_pages(base + control_bytes + capacity, capacity / 4);
  }
  Segment s;
  s.path_ = object_path(name);
  s.name_ = std::move(name);
  s.base_ = base;
  s.data_ = base + control_bytes;
  s.reserved_bytes_ = total;
  s.capacity_ = capacity;
  s.writable_ = writable;
  if (struct stat st{}; ::fstat(fd, &st) == 0) {
    s.file_dev_ = st.st_dev;
    s.file_ino_ = st.st_ino;
  }
  return s;
}

std::string Segment::object_path(const std::string& name) {
  return shm_path(object_name(name));
}

bool Segment::held(const std::string& name, const Segment* same) {
  if (!validate_name(name)) return false;
  const int fd = ::open(object_path(name).c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool held = false;
  if (same != nullptr &&
      (::fstat(fd, &st) != 0 || !same->is_file(static_cast<std::uint64_t>(st.st_dev),
                                               static_cast<std::uint64_t>(st.st_ino))))
    held = true;
  else
    held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // (lets go of the look's lock if it took it)
  return held;
}

bool Segment::still_named() const noexcept {
  struct stat now {};
  if (::stat(path_.c_str(), &now) != 0) return false;
  return now.st_dev == file_dev_ && now.st_ino == file_ino_ &&
         static_cast<std::uint64_t>(now.st_size) >= offsets_.segment_bytes;
}

// Sums the given smaps fields (kB) over this process's mappings within [lo, hi).
static std::uint64_t smaps_bytes(std::uintptr_t lo, std::uintptr_t hi,
                                 std::initializer_list<const char*> fields) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return 0;
  std::uint64_t bytes = 0;
  bool inside = false;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long start = 0, end = 0;
    if (std::sscanf(line, "%lx-%lx ", &start, &end) == 2 && std::strchr(line, ':') != nullptr &&
        std::strchr(line, '-') < std::strchr(line, ' ')) {
      inside = start >= lo && end <= hi;
      continue;
    }
    if (!inside) continue;
    for (const char* field : fields) {
      const std::size_t n = std::strlen(field);
      unsigned long kb = 0;
      if (std::strncmp(line, field, n) == 0 && line[n] == ':' &&
          std::sscanf(line + n + 1, " %lu kB", &kb) == 1)
        bytes += static_cast<std::uint64_t>(kb) * 1024;
    }
  }
  std::fclose(f);
  return bytes;
}

std::uint64_t Segment::huge_page_bytes() const {
  const auto lo = reinterpret_cast<std::uintptr_t>(base_);
  return smaps_bytes(lo, lo + reserved_bytes_, {"ShmemPmdMapped", "FilePmdMapped"});
}

std::uint64_t Segment::resident_bytes() const {
  const auto lo = reinterpret_cast<std::uintptr_t>(base_);
  return smaps_bytes(lo, lo + reserved_bytes_, {"Rss"});
}

Result<Segment> Segment::create(const RingConfig& config) {
  if (auto ok = validate_name(config.name); !ok) return ok.error();
  if (!is_power_of_two(config.capacity) || config.capacity < layout::kMinCapacity ||
      config.capacity > layout::kMaxCapacity)
    return Error{Errc::invalid_argument,
                 "capacity must be a power of two between 64 KiB and 1 TiB, got " +
                     std::to_string(config.capacity)};
  std::uint64_t max_record = config.max_record;
  if (max_record == 0) max_record = std::min<std::uint64_t>(config.capacity / 8, 16u << 20);
  if (max_record > config.capacity / 4 || max_record > 0xFFFFFFFFull - 64)
    return Error{Errc::invalid_argument, "max_record must be at most capacity / 4 (" +
                                             std::to_string(config.capacity / 4) + "), got " +
                                             std::to_string(max_record)};
  if (config.max_producers == 0 || config.max_producers > layout::kMaxSlots ||
      config.max_readers == 0 || config.max_readers > layout::kMaxSlots)
    return Error{Errc::invalid_argument, "max_producers and max_readers must be 1..1024"};
  if (config.mode > 0777 || (config.mode & 0600) != 0600)
    return Error{Errc::invalid_argument, "mode must be permission bits including 0600"};
  if (config.dead_check_interval.count() <= 0 || config.dead_check_interval.count() > 60000)
    return Error{Errc::invalid_argument, "dead_check_interval must be 1..60000 ms"};
  if (config.fenced_commits && !config.exclusive_producer)
    return Error{Errc::invalid_argument,
                 "fenced_commits applies to a ring made for one producer: set exclusive_producer"};

  const layout::Offsets off =
      layout::offsets_for(config.capacity, config.max_producers, config.max_readers);
  const std::string obj = object_name(config.name);
  // Huge pages are allocated by the first touch of an advised mapping: see below and map().
  const bool huge_first_touch = config.huge_pages && config.populate;
  int fd = -1;
  try {
    bip::permissions perm(config.mode);
    bip::shared_memory_object shm(bip::create_only, obj.c_str(), bip::read_write, perm);
    const int handle = shm.get_mapping_handle().handle;
    // From here on the object is ours: a failure removes it (and only it) again.
    auto undo = [&](Error err) {
      remove_if_same(obj, handle);
      return err;
    };
    if (huge_first_touch) {
      // Sized without allocating: Boost's truncate() allocates every page at once
      // (posix_fallocate), and pages allocated before the mapping is advised are 4 KiB ones.
      // The populate in map() allocates them instead, on huge pages where the kernel grants
      // them, and reports a full /dev/shm as an error as fallocate would have.
      if (::ftruncate(handle, static_cast<off_t>(off.segment_bytes)) != 0)
        return undo(errno_error(errno, "sizing " + obj));
    } else {
      // Allocated now (posix_fallocate): a /dev/shm too small for the ring is an error here,
      // never a SIGBUS at a later first touch.
      try {
        shm.truncate(static_cast<bip::offset_t>(off.segment_bytes));
      } catch (const bip::interprocess_exception& e) {
        return undo(interprocess_error(e, "allocating shared memory " + obj));
      }
    }
    // (Close-on-exec: it is held while the mapping is made, seconds for a large ring, and a
    // program's fork and exec then, on another thread, gave the child a descriptor that kept the
    // ring's memory after the cluster removed it.)
    fd = ::fcntl(handle, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return undo(errno_error(errno, "dup of " + obj));
  } catch (const bip::interprocess_exception& e) {
    // create_only failed: the name is someone else's (or nobody's); nothing to undo.
    return interprocess_error(e, "creating shared memory " + obj);
  }
  int lock_fd = -1;  // (hold_lock)
  auto fail = [&](Error err) {
    remove_if_same(obj, fd);
    if (lock_fd >= 0) let_go_of_lock_fd(lock_fd);
    if (lock_fd != fd) ::close(fd);
    return err;
  };
  // shm_open applies the umask; set the bits the caller asked for.
  if (::fchmod(fd, config.mode) != 0) return fail(errno_error(errno, "fchmod " + obj));
  // The lock is taken on an open file of its own (the file opened again through /proc): a lock
  // lasts as long as its open file does, and a mapping holds the open file it was made from, so
  // locked through `fd` (the mapping's) it was held by every process with a copy of the mapping
  // — a child forked without keeping the locks too (KeepRingLocksAcrossFork), after it let go of
  // its descriptor. Where /proc cannot reopen it, through `fd` itself, as before 2026-12-07.
  if (config.hold_lock) {
    char again[40];
    std::snprintf(again, sizeof again, "/proc/self/fd/%d", fd);
    lock_fd = ::open(again, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (lock_fd < 0) lock_fd = fd;
    // (Listed before it is locked: a fork by another thread while the ring is mapped — seconds
    // for a large one — lets go of it too.)
    note_lock_fd(lock_fd);
  }
  // Locked before the creator is written (below): a looker that finds the file not held finds it
  // either nobody's yet ("being created", by the header) or its creator's. A looker's exclusive
  // look (held()) lasts a few instructions: waited out, a millisecond at a time for at most a
  // second — not for good, should the looker be stopped in it (SIGSTOP, a frozen container).
  if (config.hold_lock) {
    int rc = ::flock(lock_fd, LOCK_SH | LOCK_NB);
    for (int tries = 0; rc != 0 && (errno == EWOULDBLOCK || errno == EINTR) && tries < 1000;
         ++tries) {
      ::usleep(1000);
      rc = ::flock(lock_fd, LOCK_SH | LOCK_NB);
    }
    if (rc != 0) return fail(errno_error(errno, "locking " + obj));
  }
  // Who is creating it, at once (the mapping below may take long: MAP_POPULATE of a large ring):
  // a supervisor that finds the name taken asks creator() whether the ring is in use, and must
  // not take a ring being created for a stale one. (`state` stays 0, not READY: attach refuses it.)
  {
    const ProcessIdentity me = self_identity();
    std::byte id[48] = {};
    std::memcpy(id + 0, &layout::kMagic, 8);
    std::memcpy(id + 8, &layout::kLayoutVersion, 4);
    const std::int32_t pid = me.pid;
    std::memcpy(id + 32, &pid, 4);
    std::memcpy(id + 40, &me.start_time, 8);
    if (::pwrite(fd, id, sizeof id, 0) != static_cast<ssize_t>(sizeof id))
      return fail(errno_error(errno, "writing the header of " + obj));
  }
  auto mapped = map(fd, config.name, off.control_bytes, config.capacity, true, config.populate,
                    config.huge_pages, !huge_first_touch);
  if (!mapped) return fail(mapped.error());
  Segment s = std::move(mapped).value();
  if (config.hold_lock) s.lock_fd_ = lock_fd;
  if (lock_fd != fd) ::close(fd);
  s.offsets_ = off;

  // The object is zero-filled by ftruncate: every seal and counter starts at 0 (a zero seal never
  // matches seal_of(p) because seals have their low bit set). Only the header needs writing.
  auto* h = new (s.base_) layout::SegmentHeader{};
  h->magic = layout::kMagic;
  h->layout_version = layout::kLayoutVersion;
  h->capacity = config.capacity;
  h->max_record = static_cast<std::uint32_t>(max_record);
  h->max_producers = config.max_producers;
  h->max_readers = config.max_readers;
  const ProcessIdentity me = self_identity();
  h->creator_pid = me.pid;
  h->creator_start_time = me.start_time;
  h->mode = config.mode;
  h->creation_time_ns = realtime_ns();
  h->segment_bytes = off.segment_bytes;
  h->control_bytes = off.control_bytes;
  h->flags = (config.huge_pages ? layout::kHeaderHugePages : 0) |
             (config.exclusive_producer ? layout::kHeaderExclusiveProducer : 0) |
             (config.fenced_commits ? layout::kHeaderFencedCommits : 0);
  h->dead_check_interval_ns =
      static_cast<std::uint64_t>(config.dead_check_interval.count()) * 1'000'000ULL;
  s.geometry_ = {h->max_record, h->max_producers, h->max_readers, h->flags,
                 h->dead_check_interval_ns};
  for (std::size_t i = 0; i < config.max_producers; ++i) s.producer_slot(i).core.store(-1);
  for (std::size_t i = 0; i < config.max_readers; ++i) s.reader_slot(i).core.store(-1);
  // SYNC POINT WRITE: header published. Pairs with the acquire load of `state` in attach().
  h->state.store(layout::kStateReady, std::memory_order_release);
  return s;
}

Result<ProcessIdentity> Segment::creator(const std::string& name) {
  auto id = identity(name);
  if (!id) return id.error();
  return id.value().creator;
}

Result<Segment::Identity> Segment::identity(const std::string& name) {
  if (auto ok = validate_name(name); !ok) return ok.error();
  const std::string path = shm_path(object_name(name));
  // (As shm_open opens it: never through a symbolic link.)
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return errno_error(errno, "opening " + path);
  struct stat st {};
  std::byte head[56] = {};
  ssize_t n = -1;
  int saved = 0;
  if (::fstat(fd, &st) != 0) {
    saved = errno;
  } else if (S_ISREG(st.st_mode)) {
    n = ::pread(fd, head, sizeof head, 0);
    saved = errno;
  }
  ::close(fd);
  if (n < 0 && saved != 0) return errno_error(saved, "reading the header of " + path);
  if (n < 0) return Error{Errc::foreign_segment, path + " is not a regular file"};
  if (n < static_cast<ssize_t>(sizeof head))
    return Error{Errc::size_mismatch, path + " is too small to be a shmio ring"};
  // The fields every layout version keeps at these offsets (layout.hpp).
  std::uint64_t magic = 0, start_time = 0, created = 0;
  std::int32_t pid = 0;
  std::memcpy(&magic, head + 0, 8);
  std::memcpy(&pid, head + 32, 4);
  std::memcpy(&start_time, head + 40, 8);
  std::memcpy(&created, head + 48, 8);
  if (magic == 0 || (magic == layout::kMagic && pid == 0)) {
    // create() writes these right after creating the object: a moment ago, it is being created;
    // long ago, its creator died in that moment (or it is not a ring).
    const std::int64_t age_s = static_cast<std::int64_t>(::time(nullptr)) - st.st_ctime;
    if (age_s < 10) return Error{Errc::not_ready, path + " is being created"};
  }
  if (magic != layout::kMagic)
    return Error{Errc::foreign_segment, path + " is not a shmio ring (bad magic number)"};
  return Identity{ProcessIdentity{pid, start_time}, created};
}

Result<Segment> Segment::attach(const std::string& name, AttachMode mode) {
  if (auto ok = validate_name(name); !ok) return ok.error();
  const std::string obj = object_name(name);
  const bool writable = mode != AttachMode::read_only;
  const bool populate = mode == AttachMode::read_write;
  // Opened once, without blocking and without following a link, and that very descriptor checked
  // and mapped: a FIFO planted under a ring's name (/dev/shm is writable by every user) held the
  // opener for ever, a symbolic link or a directory got a system error's wording (found in
  // review, 2026-12-03); and a look with one open before a second open to map (until 2026-12-05)
  // let a FIFO renamed over the name between the two hold the second (found by a review).
  const std::string path = std::string(kShmDir) + "/" + obj;
  int fd =
      ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP)
      return Error{Errc::foreign_segment, path + " is a symbolic link, not a shmio ring"};
    if (e == EISDIR)  // (opened for writing)
      return Error{Errc::foreign_segment, path + " is not a file, not a shmio ring"};
    Error err = errno_error(e, "opening shared memory " + path);
    if (err.code == Errc::not_found)
      err.message += " (no ring named '" + name + "'; `shm-inspect list` shows the rings)";
    return err;
  }
  {
    struct stat probe {};
    if (::fstat(fd, &probe) == 0 && !S_ISREG(probe.st_mode)) {
      ::close(fd);
      return Error{Errc::foreign_segment, path + " is not a file, not a shmio ring"};
    }
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error err = errno_error(errno, "fstat " + obj);
    ::close(fd);
    return err;
  }
  // To write into: one of this user's, or one that not every user may write. /dev/shm is
  // writable by every user and a ring's name can be foreseen (port-3000): another user could
  // make one first, open to all, with their own live pid as its creator, and take what an
  // emitter or a worker writes there. (A ring shared with a group, mode 0660, is still taken.
  // Refused since 2026-12-05; found by a review.)
  if (writable && st.st_uid != ::geteuid() && (st.st_mode & S_IWOTH) != 0) {
    ::close(fd);
    return Error{Errc::permission_denied,
                 "/dev/shm/" + obj + " belongs to uid " + std::to_string(st.st_uid) +
                     " and every user may write it: not taken as a shmio ring to write into "
                     "(remove it if it is stale; another user may have made it)"};
  }
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  if (file_bytes < sizeof(layout::SegmentHeader)) {
    ::close(fd);
    return Error{Errc::size_mismatch, obj + " is " + std::to_string(file_bytes) +
                                          " bytes, too small to be a shmio ring"};
  }
  // Read the header through a private read-only mapping first, so that a foreign or corrupt
  // object is refused before anything else of it is mapped, and nothing of it is ever written.
  void* hp = ::mmap(nullptr, sizeof(layout::SegmentHeader), PROT_READ, MAP_SHARED, fd, 0);
  if (hp == MAP_FAILED) {
    Error err = errno_error(errno, "mapping the header of " + obj);
    ::close(fd);
    return err;
  }
  const auto* h = static_cast<const layout::SegmentHeader*>(hp);
  std::optional<Error> refusal;
  std::uint64_t capacity = 0, control_bytes = 0;
  bool huge_pages = false;
  layout::Offsets off{};
  Geometry geometry;
  if (h->magic != layout::kMagic) {
    refusal = Error{Errc::foreign_segment, obj + " is not a shmio ring (bad magic number)"};
  } else if (h->layout_version != layout::kLayoutVersion) {
    refusal = Error{Errc::version_mismatch,
                    obj + " has ring layout version " + std::to_string(h->layout_version) +
                        "; this build speaks version " + std::to_string(layout::kLayoutVersion)};
  } else if (const_cast<layout::SegmentHeader*>(h)->state.load(std::memory_order_acquire) !=
             layout::kStateReady) {
    refusal = Error{Errc::not_ready, obj + " is still being initialised, or its creator died"};
  } else {
    // Each word read once: what is checked is what is kept (Segment::geometry_), whatever a
    // writer of the object stores there meanwhile.
    const auto once = [](const auto& word) {
      return *static_cast<const volatile std::remove_reference_t<decltype(word)>*>(&word);
    };
    capacity = once(h->capacity);
    const std::uint32_t flags = once(h->flags);
    const std::uint32_t max_record = once(h->max_record);
    const std::uint16_t max_producers = once(h->max_producers);
    const std::uint16_t max_readers = once(h->max_readers);
    const std::uint64_t dead_check = once(h->dead_check_interval_ns);
    const std::uint64_t segment_bytes = once(h->segment_bytes);
    const std::uint64_t header_control_bytes = once(h->control_bytes);
    geometry = {max_record, max_producers, max_readers, flags, dead_check};
    huge_pages = (flags & layout::kHeaderHugePages) != 0;
    off = layout::offsets_for(capacity, max_producers, max_readers);
    control_bytes = off.control_bytes;
    if (!is_power_of_two(capacity) || capacity < layout::kMinCapacity ||
        capacity > layout::kMaxCapacity || max_producers == 0 ||
        max_producers > layout::kMaxSlots || max_readers == 0 || max_readers > layout::kMaxSlots ||
        max_record == 0 || max_record > capacity / 4 || max_record > 0xFFFFFFFFull - 64 ||
        // (As create() bounds it, 1..60000 ms: 0 made waiters look at producers' liveness without
        // pause, a huge one never; checked since 2026-12-05, found by a review.)
        dead_check == 0 || dead_check > 60000ull * 1000000ull ||
        (flags & ~layout::kHeaderKnownFlags) != 0 ||
        ((flags & layout::kHeaderFencedCommits) != 0 &&
         (flags & layout::kHeaderExclusiveProducer) == 0)) {
      refusal = Error{Errc::size_mismatch, obj + " has an impossible geometry in its header"};
    } else if (segment_bytes != off.segment_bytes || header_control_bytes != off.control_bytes ||
               file_bytes != off.segment_bytes) {
      refusal = Error{Errc::size_mismatch,
                      obj + " is " + std::to_string(file_bytes) + " bytes but its header says " +
                          std::to_string(segment_bytes) + " and its geometry needs " +
                          std::to_string(off.segment_bytes)};
    }
  }
  ::munmap(hp, sizeof(layout::SegmentHeader));
  if (refusal) {
    ::close(fd);
    return *refusal;
  }
  auto mapped = map(fd, name, control_bytes, capacity, writable, populate, huge_pages);
  ::close(fd);
  if (!mapped) return mapped.error();
  Segment s = std::move(mapped).value();
  s.offsets_ = off;
  s.geometry_ = geometry;
  return s;
}

Result<void> Segment::remove(const std::string& name) {
  if (auto ok = validate_name(name); !ok) return ok.error();
  std::string obj("/");
  obj.append(object_name(name));
  if (::shm_unlink(obj.c_str()) != 0) return errno_error(errno, "removing " + obj);
  return {};
}

std::vector<SegmentInfo> Segment::list() {
  std::vector<SegmentInfo> out;
  DIR* d = ::opendir(kShmDir);
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(kPrefix, 0) != 0) continue;
    struct stat st {};
    std::string path = shm_path(n);
    std::uint64_t bytes =
        ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    out.push_back({n.substr(std::strlen(kPrefix)), bytes});
  }
  ::closedir(d);
  return out;
}

void Segment::release() noexcept {
  if (base_ != nullptr) ::munmap(base_, reserved_bytes_);
  base_ = nullptr;
  data_ = nullptr;
}

Segment::Segment(Segment&& o) noexcept
    : name_(std::move(o.name_)),
      base_(o.base_),
      data_(o.data_),
      reserved_bytes_(o.reserved_bytes_),
      capacity_(o.capacity_),
      offsets_(o.offsets_),
      geometry_(o.geometry_),
      writable_(o.writable_),
      file_dev_(o.file_dev_),
      file_ino_(o.file_ino_),
      lock_fd_(std::exchange(o.lock_fd_, -1)),
      path_(std::move(o.path_)) {
  o.base_ = nullptr;
  o.data_ = nullptr;
}

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    release();
    name_ = std::move(o.name_);
    base_ = o.base_;
    data_ = o.data_;
    reserved_bytes_ = o.reserved_bytes_;
    capacity_ = o.capacity_;
    offsets_ = o.offsets_;
    geometry_ = o.geometry_;
    writable_ = o.writable_;
    file_dev_ = o.file_dev_;
    file_ino_ = o.file_ino_;
    if (lock_fd_ >= 0) let_go_of_lock_fd(lock_fd_);
    lock_fd_ = std::exchange(o.lock_fd_, -1);
    path_ = std::move(o.path_);
    o.base_ = nullptr;
    o.data_ = nullptr;
  }
  return *this;
}

Segment::~Segment() {
  release();
  // (Closed, not unlocked: a process forked meanwhile, keeping the locks, holds it on with its
  // copy.)
  if (lock_fd_ >= 0) let_go_of_lock_fd(lock_fd_);
}

}  // namespace shmio::shm
