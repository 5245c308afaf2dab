// SessionStore (session_store.hpp). Byte layout of the object /dev/shm/shmio-sessions.<ring>.<id>:
//
//   StoreHeader (4 KiB)   magic, version, state (INIT -> REDY), slots, slot_bytes, ring id,
//                         deaths[64] (which pid died when: connected entries of a dead owner
//                         expire from then), next_death
//   slot[slots]           slot_bytes each, 64-byte aligned:
//     lock   u64 atomic   0 free; else the holder (pid << 32 | low 32 bits of its start time)
//     state  u32          0 never used, 1 entry, 2 free again (taken, erased, or torn)
//     flags  u32          bit 0: connected
//     hash   u64          FNV-1a of the key
//     owner  pid u64, start u64: the process whose socket it is (connected) or was
//     since  u64          CLOCK_MONOTONIC ns of the last write (disconnected since then)
//     key_len u32, state_len u32, then key bytes and state bytes
//
// Every read and write of a slot's fields happens under its lock (acquire on taking it, release
// on letting go), so a slot's contents are never seen half-written by anyone but a holder that
// stole the lock from a dead one: a writer marks the slot torn (state 2, hash 0) first and writes
// state 1 last, and a stealer that finds it mid-write leaves it free. Probing is linear from the
// key's hash over kProbe slots; a lookup stops at a never-used slot (entries are never moved).
// Two processes putting different keys may both pick the same free slot: each re-checks under the
// lock and probes on if the other came first. One key is only ever put by one process at a time
// (its socket's worker) — the taker removes it only once that worker disconnected it or died.
#include "shmio/shm/session_store.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <atomic>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

namespace shmio::shm {

namespace bip = boost::interprocess;

namespace {
constexpr std::uint64_t kMagic = 0x53484D494F534553ULL;  // "SHMIOSES"
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kInit = 0x494E4954, kReady = 0x52454459;
constexpr std::size_t kHeaderBytes = 4096;
constexpr std::size_t kDeaths = 64;
constexpr std::uint32_t kNeverUsed = 0, kEntry = 1, kFree = 2;
constexpr const char* kPrefix = "shmio-sessions.";

struct Death {
  std::atomic<std::uint64_t> who;  // the dead process's pid; 0: none
  std::atomic<std::uint64_t> at_ns;
};

struct StoreHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::atomic<std::uint32_t> state;
  std::uint32_t slots;
  std::uint32_t slot_bytes;
  std::uint64_t ring_id;
  std::atomic<std::uint64_t> next_death;
  Death deaths[kDeaths];
};
static_assert(sizeof(StoreHeader) <= kHeaderBytes);

struct SlotHeader {
  std::atomic<std::uint64_t> lock;
  std::uint32_t state;
  std::uint32_t flags;
  std::uint64_t hash;
  std::uint64_t owner_pid;
  std::uint64_t owner_start;
  std::uint64_t since_ns;
  std::uint32_t key_len;
  std::uint32_t state_len;
};
constexpr std::size_t kSlotHeader = sizeof(SlotHeader);  // 56

std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h | 1;  // never 0 (a torn slot's hash)
}

std::uint64_t tag(const ProcessIdentity& p) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(p.pid)) << 32) |
         (p.start_time & 0xFFFFFFFFULL);
}

bool tag_alive(std::uint64_t t) noexcept {
  const auto pid = static_cast<pid_t>(t >> 32);
  const std::uint64_t start = process_start_time(pid);
  return start != 0 && (start & 0xFFFFFFFFULL) == (t & 0xFFFFFFFFULL) &&
         liveness({pid, start}) == Liveness::alive;
}

Error errno_error(int e, const std::string& what) {
  return Error{e == EACCES ? Errc::permission_denied : Errc::system_error,
               what + ": " + std::strerror(e)};
}

std::uint32_t round_slots(std::uint32_t n) {
  std::uint32_t s = 64;
  while (s < n && s < (1u << 24)) s <<= 1;
  return s;
}
}  // namespace

struct SessionStore::Map {
  std::byte* base = nullptr;
  std::size_t bytes = 0;
  StoreHeader& header() const noexcept { return *reinterpret_cast<StoreHeader*>(base); }
  std::uint32_t slots() const noexcept { return header().slots; }
  std::uint32_t slot_bytes() const noexcept { return header().slot_bytes; }
  SlotHeader& slot(std::size_t i) const noexcept {
    return *reinterpret_cast<SlotHeader*>(base + kHeaderBytes + i * slot_bytes());
  }
  char* body(SlotHeader& s) const noexcept { return reinterpret_cast<char*>(&s) + kSlotHeader; }

  // The slot's lock: true once held (a dead holder's lock is taken over; a slot it was writing
  // is left free), false after kPatience behind a live one.
  bool lock(SlotHeader& s) const {
    const std::uint64_t me = tag(self_identity());
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      std::uint64_t held = 0;
      if (s.lock.compare_exchange_strong(held, me, std::memory_order_acquire)) return true;
      if (spins % 64 == 63) {
        if (!tag_alive(held)) {
          if (s.lock.compare_exchange_strong(held, me, std::memory_order_acquire)) {
            if (s.state == kEntry && s.hash == 0) s.state = kFree;  // torn by the dead writer
            return true;
          }
          continue;
        }
        if (std::chrono::steady_clock::now() - start > kPatience) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else {
        sched_yield();
      }
    }
  }
  static void unlock(SlotHeader& s) noexcept { s.lock.store(0, std::memory_order_release); }

  bool key_is(SlotHeader& s, std::uint64_t h, std::string_view key) const noexcept {
    return s.state == kEntry && s.hash == h && s.key_len == key.size() &&
           std::memcmp(body(s), key.data(), key.size()) == 0;
  }

  // When a dead owner died (0 if no one noted it).
  std::uint64_t death_of(std::uint64_t who) const noexcept {
    for (const Death& d : header().deaths)
      if (d.who.load(std::memory_order_acquire) == who)
        return d.at_ns.load(std::memory_order_acquire);
    return 0;
  }
  void note_death(std::uint64_t who, std::uint64_t at) noexcept {
    if (death_of(who) != 0) return;
    Death& d = header().deaths[header().next_death.fetch_add(1) % kDeaths];
    d.at_ns.store(at, std::memory_order_relaxed);
    d.who.store(who, std::memory_order_release);
    // (two noters of one death may both add it: the earlier time is read first; harmless)
  }
  // Since when a held entry is disconnected (0: connected on a live worker).
  std::uint64_t disconnected_since(SlotHeader& s) noexcept {
    if ((s.flags & 1) == 0) return s.since_ns;
    const std::uint64_t who = tag({static_cast<pid_t>(s.owner_pid), s.owner_start});
    if (who == tag(self_identity()) || tag_alive(who)) return 0;
    std::uint64_t at = death_of(s.owner_pid);
    if (at == 0) {
      at = monotonic_ns();
      note_death(s.owner_pid, at);
    }
    return at;
  }
  bool expired(SlotHeader& s, std::chrono::nanoseconds max_age) noexcept {
    const std::uint64_t since = disconnected_since(s);
    return since != 0 && monotonic_ns() - std::min(monotonic_ns(), since) >
                             static_cast<std::uint64_t>(max_age.count());
  }
};

std::string SessionStore::object_name(const std::string& ring, std::uint64_t ring_id) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(ring_id));
  return std::string(kPrefix) + ring + "." + id;
}

void SessionStore::remove_all(const std::string& ring) {
  const std::string prefix = std::string(kPrefix) + ring + ".";
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(prefix, 0) == 0 && n.size() == prefix.size() + 16) names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) bip::shared_memory_object::remove(n.c_str());
}

Result<SessionStore> SessionStore::open(const std::string& ring, std::uint64_t ring_id,
                                        const SessionStoreConfig& config) {
  if (config.slot_bytes < 256 || config.slot_bytes > 65536 || config.slot_bytes % 64 != 0)
    return Error{Errc::invalid_argument,
                 "session slot_bytes must be a multiple of 64 in "
                 "[256, 65536], got " +
                     std::to_string(config.slot_bytes)};
  if (config.slots == 0 || config.slots > (1u << 24))
    return Error{Errc::invalid_argument,
                 "session slots must be 1..16777216, got " + std::to_string(config.slots)};
  const std::string obj = object_name(ring, ring_id);
  const std::uint32_t slots = round_slots(config.slots);
  int fd = -1;
  bool created = false;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    try {
      bip::permissions perm(config.mode);
      bip::shared_memory_object shm(bip::create_only, obj.c_str(), bip::read_write, perm);
      shm.truncate(static_cast<bip::offset_t>(kHeaderBytes + static_cast<std::uint64_t>(slots) *
                                                                 config.slot_bytes));
      fd = ::dup(shm.get_mapping_handle().handle);
      if (fd < 0) return errno_error(errno, "dup of " + obj);
      created = true;
    } catch (const bip::interprocess_exception&) {
      try {
        bip::shared_memory_object shm(bip::open_only, obj.c_str(), bip::read_write);
        fd = ::dup(shm.get_mapping_handle().handle);
        if (fd < 0) return errno_error(errno, "dup of " + obj);
      } catch (const bip::interprocess_exception& e) {
        if (attempt == 1)
          return Error{Errc::system_error, "opening shared memory " + obj + ": " + e.what()};
      }
    }
  }
  if (created) (void)::fchmod(fd, config.mode);
  // The creator sizes the object before anyone can map it whole; an opener waits for that.
  struct stat st {};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) < kHeaderBytes &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (static_cast<std::size_t>(st.st_size) < kHeaderBytes) {
    ::close(fd);
    return Error{Errc::not_ready, obj + " was never sized (its creator died?)"};
  }
  const std::size_t bytes = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) return errno_error(e, "mmap of " + obj);
  auto* m = new Map{static_cast<std::byte*>(p), bytes};
  StoreHeader& h = m->header();
  if (created) {
    h.magic = kMagic;
    h.version = kVersion;
    h.slots = slots;
    h.slot_bytes = config.slot_bytes;
    h.ring_id = ring_id;
    h.state.store(kReady, std::memory_order_release);
  } else {
    while (h.state.load(std::memory_order_acquire) != kReady &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const char* bad = h.state.load(std::memory_order_acquire) != kReady ? "never initialised"
                      : h.magic != kMagic                               ? "not a session store"
                      : h.version != kVersion                           ? "another layout version"
                      : h.ring_id != ring_id                            ? "another ring's"
                      : kHeaderBytes + static_cast<std::uint64_t>(h.slots) * h.slot_bytes != bytes
                          ? "a size that does not add up"
                          : nullptr;
    if (bad != nullptr) {
      ::munmap(p, bytes);
      delete m;
      return Error{Errc::size_mismatch, obj + ": " + bad};
    }
  }
  return SessionStore(m);
}

SessionStore::SessionStore(SessionStore&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
SessionStore& SessionStore::operator=(SessionStore&& o) noexcept {
  std::swap(m_, o.m_);
  return *this;
}
SessionStore::~SessionStore() {
  if (m_ == nullptr) return;
  ::munmap(m_->base, m_->bytes);
  delete m_;
}

std::uint32_t SessionStore::slots() const noexcept {
  return m_->slots();
}
std::uint32_t SessionStore::slot_bytes() const noexcept {
  return m_->slot_bytes();
}
std::size_t SessionStore::capacity_for(std::string_view key) const noexcept {
  const std::size_t room = m_->slot_bytes() - kSlotHeader;
  return key.size() >= room ? 0 : room - key.size();
}

SessionStore::PutStatus SessionStore::put(std::string_view key, std::string_view state,
                                          bool connected, std::chrono::nanoseconds max_age) {
  if (key.empty() || key.size() + state.size() > m_->slot_bytes() - kSlotHeader)
    return PutStatus::too_large;
  const std::uint64_t h = fnv1a(key);
  const std::uint32_t mask = m_->slots() - 1;
  bool busy = false;
  // First pass: the key's own entry (replaced in place); second: a free slot; third (a crowded
  // range only): an expired entry's slot (which may ask /proc whether owners live).
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t i = 0; i < kProbe; ++i) {
      SlotHeader& s = m_->slot((h + i) & mask);
      if (!m_->lock(s)) {
        busy = true;
        continue;
      }
      const bool mine = m_->key_is(s, h, key);
      const bool never = s.state == kNeverUsed;
      const bool takeable = pass == 1   ? never || s.state == kFree
                            : pass == 2 ? m_->expired(s, max_age)
                                        : false;
      if ((pass == 0 && mine) || takeable) {
        const ProcessIdentity self = self_identity();
        s.hash = 0;  // torn until state and hash say otherwise
        s.state = kEntry;
        s.flags = connected ? 1 : 0;
        s.owner_pid = static_cast<std::uint64_t>(self.pid);
        s.owner_start = self.start_time;
        s.since_ns = monotonic_ns();
        s.key_len = static_cast<std::uint32_t>(key.size());
        s.state_len = static_cast<std::uint32_t>(state.size());
        std::memcpy(m_->body(s), key.data(), key.size());
        std::memcpy(m_->body(s) + key.size(), state.data(), state.size());
        s.hash = h;
        Map::unlock(s);
        return PutStatus::ok;
      }
      Map::unlock(s);
      if (pass == 0 && never) break;  // the key is not further on
    }
  }
  return busy ? PutStatus::busy : PutStatus::full;
}

SessionStore::Taken SessionStore::take(std::string_view key, std::chrono::nanoseconds max_age) {
  const std::uint64_t h = fnv1a(key);
  const std::uint32_t mask = m_->slots() - 1;
  bool busy = false;
  for (std::size_t i = 0; i < kProbe; ++i) {
    SlotHeader& s = m_->slot((h + i) & mask);
    if (!m_->lock(s)) {
      busy = true;
      continue;
    }
    if (s.state == kNeverUsed) {
      Map::unlock(s);
      break;
    }
    if (!m_->key_is(s, h, key)) {
      Map::unlock(s);
      continue;
    }
    const std::uint64_t since = m_->disconnected_since(s);
    if (since == 0) {
      Map::unlock(s);
      return {TakeStatus::connected_live, {}};
    }
    const bool old = monotonic_ns() - std::min(monotonic_ns(), since) >
                     static_cast<std::uint64_t>(max_age.count());
    Taken t{old ? TakeStatus::expired : TakeStatus::ok, {}};
    if (!old) t.state.assign(m_->body(s) + s.key_len, s.state_len);
    s.state = kFree;
    s.hash = 0;
    Map::unlock(s);
    return t;
  }
  return {busy ? TakeStatus::busy : TakeStatus::unknown, {}};
}

bool SessionStore::erase(std::string_view key) {
  const std::uint64_t h = fnv1a(key);
  const std::uint32_t mask = m_->slots() - 1;
  for (std::size_t i = 0; i < kProbe; ++i) {
    SlotHeader& s = m_->slot((h + i) & mask);
    if (!m_->lock(s)) continue;
    const bool never = s.state == kNeverUsed;
    const bool mine = m_->key_is(s, h, key);
    if (mine) {
      s.state = kFree;
      s.hash = 0;
    }
    Map::unlock(s);
    if (mine) return true;
    if (never) break;
  }
  return false;
}

void SessionStore::worker_died(pid_t pid, std::uint64_t at_ns) {
  m_->note_death(static_cast<std::uint64_t>(pid), at_ns);
}

std::size_t SessionStore::count_entries() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m_->slots(); ++i) {
    SlotHeader& s = m_->slot(i);
    if (!m_->lock(s)) continue;
    if (s.state == kEntry && s.hash != 0) ++n;
    Map::unlock(s);
  }
  return n;
}

const char* to_string(SessionStore::PutStatus s) noexcept {
  switch (s) {
    case SessionStore::PutStatus::ok:
      return "ok";
    case SessionStore::PutStatus::too_large:
      return "its state is larger than a session slot";
    case SessionStore::PutStatus::full:
      return "no free slot in its probe range (the session table is full there)";
    case SessionStore::PutStatus::busy:
      return "its slots were held by a stopped worker";
  }
  return "?";
}

const char* to_string(SessionStore::TakeStatus s) noexcept {
  switch (s) {
    case SessionStore::TakeStatus::ok:
      return "ok";
    case SessionStore::TakeStatus::unknown:
      return "unknown session (never saved, taken already, or expired and its slot reused)";
    case SessionStore::TakeStatus::expired:
      return "disconnected longer than the recovery window";
    case SessionStore::TakeStatus::connected_live:
      return "its socket is still connected on a live worker";
    case SessionStore::TakeStatus::busy:
      return "its slot was held by a stopped worker";
  }
  return "?";
}

}  // namespace shmio::shm
