#include "shmio/shm/board.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "sidecar.hpp"

namespace shmio::shm {

namespace {
constexpr std::uint64_t kMagic = 0x53484D494F424F44ULL;  // "SHMIOBOD"
constexpr std::uint32_t kVersion = 2;                    // 2: two copies a slot
constexpr std::size_t kHeaderBytes = 4096;
constexpr const char* kPrefix = "shmio-board.";

struct BoardHeader {
  detail::SidecarHeader id;  // magic, version, state, ring id
  std::uint32_t slots;
  std::uint32_t slot_bytes;
  std::atomic<std::uint32_t> used;  // 1 + the highest slot ever posted to
};

// A slot is two copies of `slot_bytes` each, each a SlotHeader and its blob. Post number n goes
// into copy n % 2 with seq 2n - 1 while it is written and 2n once complete, so the copy with the
// larger even seq holds the latest complete post, and a post cut short (its writer killed in the
// middle: seq left odd) never costs the post before it, which is in the other copy.
struct SlotHeader {
  std::atomic<std::uint64_t> seq;  // 0: never posted; odd: being written (or its writer died)
  std::atomic<std::uint64_t> pid;
  std::atomic<std::uint64_t> start_time;
  std::atomic<std::uint64_t> posted_ns;
  std::atomic<std::uint64_t> length;
  std::uint64_t pad[3];
};
constexpr std::size_t kSlotHeader = sizeof(SlotHeader);  // 64

std::uint64_t object_bytes(std::uint32_t slots, std::uint32_t slot_bytes) {
  return kHeaderBytes + static_cast<std::uint64_t>(slots) * 2 * slot_bytes;
}

// The blob's words, copied with relaxed atomics (a reader may overlap a write: the seqlock tells).
void store_words(std::atomic<std::uint64_t>* to, std::string_view from) noexcept {
  const std::size_t n = (from.size() + 7) / 8;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t w = 0;
    std::memcpy(&w, from.data() + 8 * i, std::min<std::size_t>(8, from.size() - 8 * i));
    to[i].store(w, std::memory_order_relaxed);
  }
}
void load_words(const std::atomic<std::uint64_t>* from, std::size_t bytes, std::string& to) {
  to.resize(bytes);
  const std::size_t n = (bytes + 7) / 8;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t w = from[i].load(std::memory_order_relaxed);
    std::memcpy(to.data() + 8 * i, &w, std::min<std::size_t>(8, bytes - 8 * i));
  }
}
}  // namespace

struct WorkerBoard::Map {
  detail::Sidecar sc;
  // The geometry as checked at open, kept here: every address is computed from these, never from
  // the header's words again (a stray write there made post() and read_all() address memory
  // past the mapping: a SIGSEGV; found in review, 2026-12-02).
  std::uint32_t slots = 0, slot_bytes = 0;
  BoardHeader& header() const noexcept { return *reinterpret_cast<BoardHeader*>(sc.base); }
  SlotHeader& copy(std::uint32_t i, unsigned c) const noexcept {
    return *reinterpret_cast<SlotHeader*>(sc.base + kHeaderBytes +
                                          (2 * static_cast<std::size_t>(i) + c) * slot_bytes);
  }
  std::atomic<std::uint64_t>* words(SlotHeader& s) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<std::byte*>(&s) +
                                                         kSlotHeader);
  }
};

void WorkerBoard::remove_all(const std::string& ring, std::optional<std::uint64_t> ring_id) {
  detail::remove_sidecars(kPrefix, ring, ring_id);
}

Result<WorkerBoard> WorkerBoard::open(const std::string& ring, std::uint64_t ring_id,
                                      const BoardConfig& config) {
  if (config.slots == 0 || config.slots > 65536)
    return Error{Errc::invalid_argument, "board slots must be 1..65536"};
  if (config.slot_bytes < 4096 || config.slot_bytes > (16u << 20) || config.slot_bytes % 64 != 0)
    return Error{Errc::invalid_argument,
                 "board slot_bytes must be a multiple of 64 in 4 KiB..16 MiB"};
  const std::string obj = detail::sidecar_name(kPrefix, ring, ring_id);
  auto sc = detail::open_sidecar(obj, object_bytes(config.slots, config.slot_bytes), kHeaderBytes,
                                 config.mode);
  if (!sc) return sc.error();
  auto* m = new Map{sc.value(), 0, 0};
  BoardHeader& h = m->header();
  if (sc.value().created) {
    h.slots = config.slots;
    h.slot_bytes = config.slot_bytes;
    detail::publish_sidecar(m->sc, h.id, kMagic, kVersion, ring_id);
  } else {
    const char* bad = detail::check_sidecar(h.id, kMagic, kVersion, ring_id, "not a worker board");
    const std::uint32_t slots = h.slots, slot_bytes = h.slot_bytes;  // (read once: what is checked)
    if (bad == nullptr &&
        (slots == 0 || slots > 65536 || slot_bytes < 4096 || slot_bytes > (16u << 20) ||
         slot_bytes % 64 != 0 || object_bytes(slots, slot_bytes) != m->sc.bytes))
      bad = "a size that does not add up";
    if (bad != nullptr) {
      detail::unmap_sidecar(m->sc);
      delete m;
      return Error{Errc::size_mismatch, obj + ": " + bad};
    }
    m->slots = slots;
    m->slot_bytes = slot_bytes;
    return WorkerBoard(m);
  }
  m->slots = config.slots;
  m->slot_bytes = config.slot_bytes;
  return WorkerBoard(m);
}

WorkerBoard::WorkerBoard(WorkerBoard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
WorkerBoard& WorkerBoard::operator=(WorkerBoard&& o) noexcept {
  std::swap(m_, o.m_);
  return *this;
}
WorkerBoard::~WorkerBoard() {
  if (m_ == nullptr) return;
  detail::unmap_sidecar(m_->sc);
  delete m_;
}

std::uint32_t WorkerBoard::slots() const noexcept {
  return m_->slots;
}
std::size_t WorkerBoard::capacity() const noexcept {
  return (m_->slot_bytes - kSlotHeader) / 8 * 8;
}

bool WorkerBoard::post(std::uint32_t slot, std::string_view blob) {
  if (slot >= slots() || blob.size() > capacity()) return false;
  // The next post's number from the two copies' seqs (this process is the slot's one writer; an
  // earlier one's, killed in the middle of post n, left 2n - 1: post n is written again, into the
  // same copy, and the other copy's post n - 1 stays whole meanwhile).
  // A seq no writer reaches (2^62 posts: a stray write into the board) is cleared, and the posts
  // go on from the other copy's (never a number used before: a reader that took the sound copy
  // sees it change if it is written again). (Before 2026-12-05 2n wrapped to 0 there, every later
  // post did the same, and the slot was never readable again: its worker's metrics gone and the
  // supervisor's watchdog blind to it; found by a review.)
  constexpr std::uint64_t kDamaged = std::uint64_t{1} << 62;
  std::uint64_t last = 0;
  for (unsigned c = 0; c < 2; ++c) {
    const std::uint64_t seq = m_->copy(slot, c).seq.load(std::memory_order_relaxed);
    if (seq >= kDamaged)
      m_->copy(slot, c).seq.store(0, std::memory_order_relaxed);
    else
      last = std::max(last, seq);
  }
  const std::uint64_t n = last / 2 + 1;
  SlotHeader& s = m_->copy(slot, static_cast<unsigned>(n % 2));
  s.seq.store(2 * n - 1, std::memory_order_relaxed);  // odd: being written
  std::atomic_thread_fence(std::memory_order_release);
  const ProcessIdentity self = self_identity();
  s.pid.store(static_cast<std::uint64_t>(self.pid), std::memory_order_relaxed);
  s.start_time.store(self.start_time, std::memory_order_relaxed);
  s.posted_ns.store(monotonic_ns(), std::memory_order_relaxed);
  s.length.store(blob.size(), std::memory_order_relaxed);
  store_words(m_->words(s), blob);
  s.seq.store(2 * n, std::memory_order_release);
  std::uint32_t used = m_->header().used.load(std::memory_order_relaxed);
  while (used < slot + 1 &&
         !m_->header().used.compare_exchange_weak(used, slot + 1, std::memory_order_release)) {
  }
  return true;
}

// The later complete post of `slot`: `take(copy)` reads what it needs of that copy, kept only if
// the copy did not change meanwhile (its writer has since completed the other copy and begun this
// one again: read again, at most 8 times). nullopt if never posted or unreadable.
template <class T, class Take>
std::optional<T> WorkerBoard::latest(std::uint32_t slot, Take take) const {
  if (slot >= slots()) return std::nullopt;
  for (int attempt = 0; attempt < 8; ++attempt) {
    // The copy with the later complete post. (One being written is passed over: its other copy
    // has the post before it, whole, even if that writer never finishes.)
    const std::uint64_t seq0 = m_->copy(slot, 0).seq.load(std::memory_order_acquire);
    const std::uint64_t seq1 = m_->copy(slot, 1).seq.load(std::memory_order_acquire);
    const std::uint64_t even0 = seq0 & 1 ? 0 : seq0, even1 = seq1 & 1 ? 0 : seq1;
    const std::uint64_t before = std::max(even0, even1);
    if (before == 0) {
      if (seq0 == 0 && seq1 == 0) return std::nullopt;  // never posted
      std::this_thread::yield();                        // its first post, being written
      continue;
    }
    SlotHeader& s = m_->copy(slot, even1 > even0 ? 1 : 0);
    std::optional<T> got = take(s);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (got && s.seq.load(std::memory_order_relaxed) == before) return got;
  }
  return std::nullopt;
}

std::optional<WorkerBoard::Stamp> WorkerBoard::stamp(std::uint32_t slot) const {
  return latest<Stamp>(slot, [](SlotHeader& s) {
    return std::optional<Stamp>(Stamp{{static_cast<pid_t>(s.pid.load(std::memory_order_relaxed)),
                                       s.start_time.load(std::memory_order_relaxed)},
                                      s.posted_ns.load(std::memory_order_relaxed)});
  });
}

std::optional<WorkerBoard::Post> WorkerBoard::read(std::uint32_t slot) const {
  auto p = latest<Post>(slot, [&](SlotHeader& s) -> std::optional<Post> {
    Post out;
    out.slot = slot;
    out.who.pid = static_cast<pid_t>(s.pid.load(std::memory_order_relaxed));
    out.who.start_time = s.start_time.load(std::memory_order_relaxed);
    out.posted_ns = s.posted_ns.load(std::memory_order_relaxed);
    const std::uint64_t len = s.length.load(std::memory_order_relaxed);
    if (len > capacity()) return std::nullopt;
    load_words(m_->words(s), len, out.blob);
    return out;
  });
  if (p) p->alive = liveness(p->who) == Liveness::alive;
  return p;
}

std::vector<WorkerBoard::Post> WorkerBoard::read_all() const {
  std::vector<Post> out;
  // (slots past the highest posted are not touched: each is a page of its own)
  const std::uint32_t used = std::min(m_->header().used.load(std::memory_order_acquire), slots());
  for (std::uint32_t i = 0; i < used; ++i) {
    if (m_->copy(i, 0).seq.load(std::memory_order_acquire) == 0 &&
        m_->copy(i, 1).seq.load(std::memory_order_acquire) == 0)
      continue;
    if (auto p = read(i)) out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace shmio::shm
