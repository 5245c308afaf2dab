#include "shmio/cluster/worker_rings.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include "shmio/cluster/supervisor.hpp"
#include "shmio/cluster/wire.hpp"
#include "shmio/shm/layout.hpp"
#include "shmio/shm/registry.hpp"

namespace shmio::cluster {

void WorkerRings::open(const std::string& ring, int workers, int skip, const std::string& label,
                       int core, const std::function<void(const Ring&)>& before_reader) {
  for (int j = 0; j < workers; ++j) {
    if (j == skip) continue;
    auto seg = shm::Segment::attach(worker_ring_name(ring, j));
    if (!seg)
      throw std::runtime_error("cannot attach worker " + std::to_string(j) +
                               "'s ring: " + seg.error().message);
    auto r = std::make_unique<Ring>(Ring{j, std::move(seg.value()), std::nullopt});
    if (before_reader) before_reader(*r);
    auto rd = shm::RingReader::attach(r->segment, {label, core, shm::StartAt::latest});
    if (!rd)
      throw std::runtime_error("cannot take a reader slot on worker " + std::to_string(j) +
                               "'s ring: " + rd.error().message);
    r->reader.emplace(std::move(rd.value()));
    rings_.push_back(std::move(r));
  }
}

WorkerRings::Ring* WorkerRings::of(int worker) noexcept {
  for (auto& r : rings_)
    if (r->worker == worker) return r.get();
  return nullptr;
}

std::uint16_t WorkerRings::writer_of(const shm::Segment& shared, Ring& r,
                                     std::uint16_t slot) const {
  if (r.announced && slot == r.announced_slot) {
    if (r.announced_id >= shared.max_producers()) return kNobody;
    const auto& ps = shared.producer_slot(r.announced_id);
    return ps.state.load(std::memory_order_acquire) == shm::layout::kSlotActive &&
                   ps.generation.load(std::memory_order_acquire) == r.announced_generation
               ? r.announced_id
               : kNobody;
  }
  if (slot >= r.segment.max_producers()) return kNobody;
  const shm::ProcessIdentity who = shm::registry::owner_of(r.segment.producer_slot(slot));
  if (slot == r.slot && who == r.who) return r.id;
  r.slot = slot;
  r.who = who;
  r.id = kNobody;
  const std::string label = "worker-" + std::to_string(r.worker);
  for (std::uint16_t i = 0; i < shared.max_producers(); ++i) {
    const auto& ps = shared.producer_slot(i);
    if (ps.state.load(std::memory_order_acquire) != shm::layout::kSlotActive ||
        std::strncmp(ps.label, label.c_str(), sizeof ps.label) != 0 ||
        shm::registry::owner_of(ps) != who)
      continue;
    r.id = i;
    break;
  }
  return r.id;
}

void WorkerRings::owner_said(Ring& r, std::uint16_t slot, std::span<const std::byte> payload) {
  auto m = read_message(payload);
  r.announced = m.has_value() && m->body.contains("id");
  if (!r.announced) return;
  auto u64 = [&](const char* k) -> std::uint64_t {
    const auto* v = m->body.if_contains(k);
    if (v == nullptr) return 0;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v->get_int64()));
    return 0;
  };
  r.announced_slot = slot;
  r.announced_id = static_cast<std::uint16_t>(std::min<std::uint64_t>(u64("id"), kNobody));
  r.announced_generation = u64("generation");
}

shm::Result<std::unique_ptr<shm::RingNotifier>> WorkerRings::notifier(
    const shm::Segment& shared, const shm::RingReader& shared_reader) const {
  std::vector<const shm::Segment*> watched{&shared};
  std::vector<const shm::RingReader*> counted_in{&shared_reader};
  for (const auto& r : rings_) {
    watched.push_back(&r->segment);
    counted_in.push_back(&*r->reader);
  }
  return shm::RingNotifier::start(watched, {.readers = counted_in});
}

}  // namespace shmio::cluster
