#include "sidecar.hpp"

#include "shm_file.hpp"
#include "shmio/shm/segment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace shmio::shm::detail {

namespace bip = boost::interprocess;

std::string sidecar_name(const char* prefix, const std::string& ring, std::uint64_t ring_id) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(ring_id));
  return std::string(prefix) + ring + "." + id;
}

void remove_sidecars(const char* prefix, const std::string& ring,
                     std::optional<std::uint64_t> ring_id) {
  if (ring_id) {
    bip::shared_memory_object::remove(sidecar_name(prefix, ring, *ring_id).c_str());
    return;
  }
  const std::string start = std::string(prefix) + ring + ".";
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(start, 0) == 0 && n.size() == start.size() + 16) names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) bip::shared_memory_object::remove(n.c_str());
}

namespace {
// Maps `size` bytes of the object `fd` opens (`prot`), then closes `fd` either way.
Result<Sidecar> map_whole(int fd, std::size_t size, int prot, const std::string& name,
                          bool created) {
  void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED)
    return Error{e == EACCES ? Errc::permission_denied : Errc::system_error,
                 "mmap of " + name + ": " + std::strerror(e)};
  return Sidecar{static_cast<std::byte*>(p), size, created};
}

// An object still unfinished after the wait (`h`: its header, null if it is not even sized): true
// (open it again) if its name names it no more, or if it was abandoned — its creator's lock (an
// flock held from its creation to its READY, which the kernel lets go when its holder dies) is
// free and it was never published (its identity unwritten: one published whose state a stray
// write wiped is not a creator's leftover, and is left, refused; one whose state says its creator
// was inside publish_sidecar, writing the identity, is) — then it is removed, under that
// lock, so that a second opener that judged it too finds the name moved instead of removing the
// one made anew after it. A lock held by another such opener is waited for (briefly); one held by
// its creator, still at it, is not taken: false.
bool abandoned(const std::string& name, int fd, const SidecarHeader* h) noexcept {
  for (int tries = 0; tries < 50; ++tries) {
    if (name_moved(name, fd)) return true;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      const bool published = h != nullptr &&
                             h->state.load(std::memory_order_relaxed) != kSidecarPublishing &&
                             (h->magic != 0 || h->ring_id != 0);
      const bool moved = name_moved(name, fd);
      if (!published && !moved) remove_if_same(name, fd);
      (void)::flock(fd, LOCK_UN);
      return moved || !published;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

constexpr auto kCreatorPatience = std::chrono::seconds(2);

std::string octal(unsigned bits) {
  char b[8];
  std::snprintf(b, sizeof b, "0%03o", bits & 0777u);
  return b;
}

// One try of open_sidecar. `stale`: the object was left unfinished by a creator that died (it
// was removed here: the caller tries again, and creates it).
Result<Sidecar> open_once(const std::string& name, std::uint64_t bytes, std::uint64_t least,
                          unsigned mode, bool& stale) {
  int fd = -1;
  bool created = false;
  const auto dup_error = [&] {
    return Error{Errc::system_error, "dup of " + name + ": " + std::strerror(errno)};
  };
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    try {
      bip::permissions perm(mode);
      bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, perm);
      fd = ::fcntl(shm.get_mapping_handle().handle, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return dup_error();
      // Held until READY (publish_sidecar): an opener that finds the object unfinished tells a
      // creator still at it from one that died. (Descriptors close-on-exec: a program another
      // thread starts must not keep the lock's open file past this process's death.) An opener
      // removes an unfinished object only holding this lock: if one took this object for a dead
      // creator's before the lock was ours (this process stalled 2 s right after creating it), the
      // name names it no more, and this process opens what is there now instead.
      (void)::flock(fd, LOCK_EX);
      if (name_moved(name, fd)) {
        ::close(fd);
        fd = -1;
        continue;
      }
      try {
        shm.truncate(static_cast<bip::offset_t>(bytes));
      } catch (const bip::interprocess_exception& e) {
        // Not left behind unsized (every opener would wait for a size that never comes). Only if
        // the name still names this object: removed meanwhile (the supervisor's remove_all,
        // shm-inspect) and made again by another process, that one's live table was removed by
        // name before 2026-12-05 (found by a review).
        remove_if_same(name, fd);
        ::close(fd);
        return Error{Errc::system_error, "sizing shared memory " + name + " to " +
                                             std::to_string(bytes) + " bytes: " + e.what() +
                                             " (is /dev/shm large enough?)"};
      }
      created = true;
    } catch (const bip::interprocess_exception&) {
      try {  // it exists (or was removed just now: then the next attempt creates it)
        bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
        fd = ::fcntl(shm.get_mapping_handle().handle, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) return dup_error();
      } catch (const bip::interprocess_exception& e) {
        if (attempt == 1)
          return Error{Errc::system_error, "opening shared memory " + name + ": " + e.what()};
      }
    }
  }
  if (fd < 0)  // (this process's object taken for a dead creator's, twice)
    return Error{Errc::not_ready, name + " was removed while this process created it"};
  if (!created) {
    // Made by this user, and open to no one more than this cluster would have made it: /dev/shm
    // is writable by every user and these names can be foreseen (the board's, made first, names
    // the ring's id), so another user could make one first, open to all, and read or forge what
    // the cluster keeps there (saved sessions' rooms and data). Refused, with why (before
    // 2026-12-03 opened and trusted).
    struct stat st {};
    std::string why;
    if (::fstat(fd, &st) != 0)
      why = std::string("fstat: ") + std::strerror(errno);
    else if (st.st_uid != ::geteuid())
      why = "it belongs to uid " + std::to_string(st.st_uid) + ", not this user (uid " +
            std::to_string(::geteuid()) + ")";
    else if ((st.st_mode & 0777 & ~mode) != 0)
      why = "its mode " + octal(st.st_mode & 0777) + " lets others in (this cluster makes it " +
            octal(mode) + ")";
    if (!why.empty()) {
      ::close(fd);
      return Error{Errc::permission_denied,
                   "/dev/shm/" + name + " was not made by this cluster: " + why +
                       " (remove it if it is stale; another user may have made it)"};
    }
  }
  if (created) {
    (void)::fchmod(fd, mode);  // shm_open applies the umask
    const int lock_fd =
        ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // (the lock's, kept past the mapping until READY)
    auto sc = map_whole(fd, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE, name, true);
    if (sc)
      sc.value().lock_fd = lock_fd;
    else if (lock_fd >= 0)
      ::close(lock_fd);
    return sc;
  }
  // The creator sizes the object before anyone can map it whole; an opener waits for that.
  struct stat st {};
  const auto deadline = std::chrono::steady_clock::now() + kCreatorPatience;
  while (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < least &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (static_cast<std::uint64_t>(st.st_size) < least) {
    stale = abandoned(name, fd, nullptr);
    ::close(fd);
    return Error{Errc::not_ready,
                 name + " was never sized (its creator " + (stale ? "died)" : "is still at it)")};
  }
  // And lays it out, then says READY (publish_sidecar): within the same 2 s (the layout is a few
  // header fields).
  const int keep = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  auto sc =
      map_whole(fd, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, name, false);
  if (!sc || keep < 0) {
    if (keep >= 0) ::close(keep);
    return sc;
  }
  const auto& h = *reinterpret_cast<const SidecarHeader*>(sc.value().base);
  while (h.state.load(std::memory_order_acquire) != kSidecarReady &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (h.state.load(std::memory_order_acquire) != kSidecarReady && abandoned(name, keep, &h)) {
    stale = true;
    ::close(keep);
    unmap_sidecar(sc.value());
    return Error{Errc::not_ready, name + " was never laid out (its creator died)"};
  }
  ::close(keep);
  return sc;  // (not READY yet: the caller's check says so)
}
}  // namespace

Result<Sidecar> open_sidecar(const std::string& name, std::uint64_t bytes, std::uint64_t least,
                             unsigned mode) {
  // An object its creator left unfinished (killed while creating it) is removed and made anew,
  // once: before, it was refused for as long as the ring lived (no session table, no board).
  bool stale = false;
  auto sc = open_once(name, bytes, least, mode, stale);
  if (!stale) return sc;
  stale = false;
  return open_once(name, bytes, least, mode, stale);
}

Result<Sidecar> map_sidecar_read_only(const std::string& name, const std::string& ring) {
  // (O_NONBLOCK: a FIFO put under the name would block the open until a writer came; it is then
  // refused below as not a file. Found by a review, 2026-12-05: shm-inspect sessions hung.)
  // (O_NOFOLLOW: a symbolic link under the name is refused as not shmio's, as Segment::attach
  // refuses one; not a file, or a link, is a foreign object — shm-inspect's exit status 5 — where
  // both were a system error, 6, before 2026-12-05.)
  const int fd = ::shm_open(name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP)
      return Error{Errc::foreign_segment, "/dev/shm/" + name + " is a symbolic link (not shmio's)"};
    return Error{e == ENOENT   ? Errc::not_found
                 : e == EACCES ? Errc::permission_denied
                               : Errc::system_error,
                 "opening shared memory " + name + ": " + std::strerror(e)};
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{Errc::foreign_segment, "/dev/shm/" + name + " is not a file (not shmio's)"};
  }
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return Error{Errc::not_ready, name + " is not sized (its creator died, or is at it)"};
  }
  struct stat ring_st {};
  const bool ring_there = ::stat(Segment::object_path(ring).c_str(), &ring_st) == 0;
  const uid_t owner = ring_there ? ring_st.st_uid : ::geteuid();
  const unsigned mode = ring_there ? static_cast<unsigned>(ring_st.st_mode & 0777) : 0600u;
  std::string why;
  if (st.st_uid != owner)
    why = "it belongs to uid " + std::to_string(st.st_uid) + ", not the ring's owner (uid " +
          std::to_string(owner) + ")";
  else if ((st.st_mode & 0777 & ~mode) != 0)
    why = "its mode " + octal(st.st_mode & 0777) + " lets in more than the ring's (" + octal(mode) +
          ")";
  if (!why.empty()) {
    ::close(fd);
    return Error{Errc::permission_denied, "/dev/shm/" + name +
                                              " was not made by this ring's cluster: " + why +
                                              " (another user may have made it)"};
  }
  return map_whole(fd, static_cast<std::size_t>(st.st_size), PROT_READ, name, false);
}

void unmap_sidecar(const Sidecar& s) noexcept {
  if (s.base != nullptr) ::munmap(s.base, s.bytes);
}

void publish_sidecar(Sidecar& sc, SidecarHeader& h, std::uint64_t magic, std::uint32_t version,
                     std::uint64_t ring_id) noexcept {
  // First the state that says the identity is being written: an opener that finds it (and the
  // lock free) knows that this creator died here, and makes the object anew; one that found the
  // identity alone took the object for published and refused it for the ring's life. (What a
  // killed process leaves is what it stored in program order: the compiler keeps the identity's
  // stores after this one.)
  h.state.store(kSidecarPublishing, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h.magic = magic;
  h.version = version;
  h.ring_id = ring_id;
  h.state.store(kSidecarReady, std::memory_order_release);
  // The creation's lock let go — explicitly: the mapping holds the open file it was taken on,
  // so closing the descriptor alone would keep it until this process unmaps.
  if (sc.lock_fd >= 0) {
    (void)::flock(sc.lock_fd, LOCK_UN);
    ::close(sc.lock_fd);
  }
  sc.lock_fd = -1;
}

const char* check_sidecar(const SidecarHeader& h, std::uint64_t magic, std::uint32_t version,
                          std::uint64_t ring_id, const char* what_not) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (h.state.load(std::memory_order_acquire) != kSidecarReady &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return h.state.load(std::memory_order_acquire) != kSidecarReady ? "never initialised"
         : h.magic != magic                                       ? what_not
         : h.version != version                                   ? "another layout version"
         : h.ring_id != ring_id                                   ? "another ring's"
                                                                  : nullptr;
}

}  // namespace shmio::shm::detail
