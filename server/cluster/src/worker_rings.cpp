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
    r->applied = r->reader->position();
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
  // A shared slot names the same worker until it is taken again (its generation is bumped at each
  // take): a worker that let its slot go (a clean stop) is still the writer of its last records.
  auto same = [&shared](std::uint16_t id, std::uint64_t generation) {
    return id < shared.max_producers() &&
           shared.producer_slot(id).generation.load(std::memory_order_acquire) == generation;
  };
  if (r.announced && slot == r.announced_slot)
    return same(r.announced_id, r.announced_generation) ? r.announced_id : kNobody;
  if (slot >= r.segment.max_producers()) return kNobody;
  const shm::ProcessIdentity who = shm::registry::owner_of(r.segment.producer_slot(slot));
  if (slot == r.slot && who == r.who && (r.id == kNobody || same(r.id, r.id_generation)))
    return r.id;
  r.slot = slot;
  r.who = who;
  r.id = kNobody;
  const std::string label = "worker-" + std::to_string(r.worker);
  for (std::uint16_t i = 0; i < shared.max_producers(); ++i) {
    const auto& ps = shared.producer_slot(i);
    // (The generation before the rest: a slot taken again meanwhile shows a newer one.)
    const std::uint64_t generation = ps.generation.load(std::memory_order_acquire);
    if (ps.state.load(std::memory_order_acquire) != shm::layout::kSlotActive ||
        std::strncmp(ps.label, label.c_str(), sizeof ps.label) != 0 ||
        shm::registry::owner_of(ps) != who)
      continue;
    r.id = i;
    r.id_generation = generation;
    break;
  }
  return r.id;
}

bool WorkerRings::owner_said(Ring& r, std::uint16_t slot, std::span<const std::byte> payload) {
  // {"worker": this ring's worker, "id": a slot id, "generation"}, all unsigned; anything else
  // names nobody until the next one (writer_of then looks the writer up).
  r.announced = false;
  auto m = read_message(payload);
  if (!m) return false;
  auto unsigned_of = [&](const char* k) -> std::optional<std::uint64_t> {
    const auto* v = m->body.if_contains(k);
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
  };
  const auto worker = unsigned_of("worker"), id = unsigned_of("id"),
             generation = unsigned_of("generation");
  if (!worker || !id || !generation || *worker != static_cast<std::uint64_t>(r.worker) ||
      *id >= kNobody)
    return false;
  r.announced = true;
  r.announced_slot = slot;
  r.announced_id = static_cast<std::uint16_t>(*id);
  r.announced_generation = *generation;
  return true;
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
