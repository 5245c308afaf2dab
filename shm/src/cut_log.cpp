#include "shmio/shm/cut_log.hpp"

#include <atomic>
#include <utility>

#include "sidecar.hpp"

namespace shmio::shm {

namespace {
constexpr std::uint64_t kMagic = 0x53484D494F435554ULL;  // "SHMIOCUT"
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 4096;
constexpr std::size_t kHeadBytes = 64;
constexpr const char* kPrefix = "shmio-cuts.";
constexpr std::uint32_t kMaxLogs = 1024, kMaxColumns = 1025, kMinEntries = 16,
                        kMaxEntries = 1u << 28;

struct CutHeader {
  detail::SidecarHeader id;  // magic, version, state, ring id
  std::uint32_t logs;
  std::uint32_t columns;
  std::uint32_t entries;
};

std::uint64_t log_bytes(std::uint32_t columns, std::uint32_t entries) {
  const std::uint64_t b = kHeadBytes + std::uint64_t{entries} * (2 + columns) * 8;
  return (b + 63) / 64 * 64;
}
std::uint64_t object_bytes(std::uint32_t logs, std::uint32_t columns, std::uint32_t entries) {
  return kHeaderBytes + std::uint64_t{logs} * log_bytes(columns, entries);
}
bool geometry_ok(std::uint32_t logs, std::uint32_t columns, std::uint32_t entries) {
  return logs >= 1 && logs <= kMaxLogs && columns >= 1 && columns <= kMaxColumns &&
         entries >= kMinEntries && entries <= kMaxEntries;
}
}  // namespace

struct CutLog::Map {
  detail::Sidecar sc;
  // The geometry, read once at open (the creator's) and checked against the object's size.
  std::uint32_t logs, columns, entries;
  CutHeader& header() const noexcept { return *reinterpret_cast<CutHeader*>(sc.base); }
  std::byte* log(std::uint32_t i) const noexcept {
    return sc.base + kHeaderBytes + i * log_bytes(columns, entries);
  }
  std::atomic<std::uint64_t>& head(std::uint32_t i) const noexcept {
    return *reinterpret_cast<std::atomic<std::uint64_t>*>(log(i));
  }
  // Entry `number`'s words: stamp, tag, positions.
  std::atomic<std::uint64_t>* entry(std::uint32_t i, std::uint64_t number) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(log(i) + kHeadBytes) +
           (number % entries) * (2 + columns);
  }
};

void CutLog::remove_all(const std::string& ring, std::optional<std::uint64_t> ring_id) {
  detail::remove_sidecars(kPrefix, ring, ring_id);
}

std::uint64_t CutLog::bytes_for(const CutLogConfig& c) noexcept {
  return object_bytes(c.logs, c.columns, c.entries);
}

namespace {
// An existing log's identity and geometry as its creator laid it out; nullptr, or why not. The
// geometry is read once, into `g`: what was checked is what the caller uses.
struct Geometry {
  std::uint32_t logs = 0, columns = 0, entries = 0;
};
const char* check_log(const CutHeader& h, std::uint64_t ring_id, std::size_t bytes, Geometry& g) {
  const char* bad = detail::check_sidecar(h.id, kMagic, kVersion, ring_id, "not a cut log");
  const std::uint32_t logs = h.logs, columns = h.columns, entries = h.entries;
  g = {logs, columns, entries};
  if (bad == nullptr &&
      (!geometry_ok(logs, columns, entries) || object_bytes(logs, columns, entries) != bytes))
    bad = "a layout that does not add up";
  return bad;
}
}  // namespace

Result<CutLog> CutLog::open(const std::string& ring, std::uint64_t ring_id,
                            const CutLogConfig& config) {
  if (!geometry_ok(config.logs, config.columns, config.entries))
    return Error{Errc::invalid_argument,
                 "cut log: logs must be 1..1024, columns 1..1025, entries 16..2^28 (got " +
                     std::to_string(config.logs) + ", " + std::to_string(config.columns) + ", " +
                     std::to_string(config.entries) + ")"};
  const std::string obj = detail::sidecar_name(kPrefix, ring, ring_id);
  auto sc = detail::open_sidecar(obj, object_bytes(config.logs, config.columns, config.entries),
                                 kHeaderBytes, config.mode);
  if (!sc) return sc.error();
  auto* m = new Map{sc.value(), config.logs, config.columns, config.entries};
  CutHeader& h = m->header();
  if (sc.value().created) {
    h.logs = config.logs;
    h.columns = config.columns;
    h.entries = config.entries;
    detail::publish_sidecar(m->sc, h.id, kMagic, kVersion, ring_id);
    return CutLog(m);
  }
  Geometry g;
  if (const char* bad = check_log(h, ring_id, m->sc.bytes, g)) {
    detail::unmap_sidecar(m->sc);
    delete m;
    return Error{Errc::size_mismatch, obj + ": " + bad};
  }
  m->logs = g.logs;
  m->columns = g.columns;
  m->entries = g.entries;
  return CutLog(m);
}

Result<CutLog::Summary> CutLog::summarize(const std::string& ring, std::uint64_t ring_id) {
  const std::string obj = detail::sidecar_name(kPrefix, ring, ring_id);
  auto sc = detail::map_sidecar_read_only(obj, ring);
  if (!sc) return sc.error();
  const auto& h = *reinterpret_cast<const CutHeader*>(sc.value().base);
  Geometry g;
  const char* bad =
      sc.value().bytes < kHeaderBytes ? "too small" : check_log(h, ring_id, sc.value().bytes, g);
  if (bad != nullptr) {
    detail::unmap_sidecar(sc.value());
    return Error{Errc::size_mismatch, obj + ": " + bad};
  }
  // A view over the read-only mapping: next() and read() only load (its destructor unmaps).
  const CutLog view(new Map{sc.value(), g.logs, g.columns, g.entries});
  Summary out{view.logs(), view.columns(), view.entries(), {}};
  for (std::uint32_t i = 0; i < out.logs; ++i) {
    Summary::Log l;
    l.next = view.next(i);
    if (l.next > 0) l.last = view.read(i, l.next - 1);
    out.per_log.push_back(std::move(l));
  }
  return out;
}

CutLog::CutLog(CutLog&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
CutLog& CutLog::operator=(CutLog&& o) noexcept {
  std::swap(m_, o.m_);
  return *this;
}
CutLog::~CutLog() {
  if (m_ == nullptr) return;
  detail::unmap_sidecar(m_->sc);
  delete m_;
}

std::uint32_t CutLog::logs() const noexcept {
  return m_->logs;
}
std::uint32_t CutLog::columns() const noexcept {
  return m_->columns;
}
std::uint32_t CutLog::entries() const noexcept {
  return m_->entries;
}

std::uint64_t CutLog::next(std::uint32_t log) const noexcept {
  return log < m_->logs ? m_->head(log).load(std::memory_order_acquire) : 0;
}

std::optional<std::uint64_t> CutLog::append(std::uint32_t log, std::uint32_t tag,
                                            std::span<const std::uint64_t> cut) {
  if (log >= m_->logs || cut.size() != m_->columns) return std::nullopt;
  const std::uint64_t number = m_->head(log).load(std::memory_order_relaxed);
  std::atomic<std::uint64_t>* e = m_->entry(log, number);
  // Seqlock: the stamp says "being written" before any word changes, the number + 1 after all.
  e[0].store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  e[1].store(tag, std::memory_order_relaxed);
  for (std::size_t i = 0; i < cut.size(); ++i) e[2 + i].store(cut[i], std::memory_order_relaxed);
  e[0].store(number + 1, std::memory_order_release);
  m_->head(log).store(number + 1, std::memory_order_release);
  return number;
}

std::optional<CutLog::Entry> CutLog::read(std::uint32_t log, std::uint64_t number) const {
  if (log >= m_->logs) return std::nullopt;
  const std::uint64_t head = m_->head(log).load(std::memory_order_acquire);
  if (number >= head || head - number > m_->entries) return std::nullopt;
  const std::atomic<std::uint64_t>* e = m_->entry(log, number);
  if (e[0].load(std::memory_order_acquire) != number + 1) return std::nullopt;
  Entry out;
  out.tag = static_cast<std::uint32_t>(e[1].load(std::memory_order_relaxed));
  out.cut.resize(m_->columns);
  for (std::size_t i = 0; i < out.cut.size(); ++i)
    out.cut[i] = e[2 + i].load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (e[0].load(std::memory_order_relaxed) != number + 1) return std::nullopt;  // overwritten
  return out;
}

}  // namespace shmio::shm
