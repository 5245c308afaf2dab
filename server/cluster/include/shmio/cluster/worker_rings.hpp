// With a ring per worker (docs/ring-per-worker.md): the workers' rings that a process reads (a
// worker reads the others', the fleet bridge all of them), a reader on each, and who wrote each
// record read there, named as on the wire: by the writer's slot id on the shared ring.
//
// Each worker's first record in its own ring is a RING_OWNER ({"worker", "id", "generation"}:
// its shared-ring slot and that slot's generation); a record is named by the last one read
// before it in that ring — exact across take-overs, however far behind the reader is — while
// that shared slot still has that generation (a slot let go keeps it until it is taken again),
// and by nobody (kNobody) once it was taken again (a dead worker's last records). A malformed
// RING_OWNER (not this ring's worker, a field missing or not unsigned) names nobody until the
// next. Before a RING_OWNER was read (a reader attached at the latest record, or lapped since)
// the writer is looked up: the live shared slot labelled "worker-<i>" held by the process now in
// the record's ring slot (a worker takes its shared slot before its own ring), cached while that
// slot keeps its generation.
// A worker ring carries a worker's records only: a WORKER_DOWN read there is not applied (the
// supervisor writes them into the shared ring), nor a RING_OWNER read in the shared ring.
// Thread-safety: one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_notifier.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::cluster {

class WorkerRings {
 public:
  static constexpr std::uint16_t kNobody = 0xFFFF;  // above every slot id (at most 1024)

  struct Ring {
    int worker;
    shm::Segment segment;
    std::optional<shm::RingReader> reader;
    // Every record below this position has been applied by its reader's owner (kept by the
    // caller of drain(): connection state recovery's cut, docs/ring-per-worker.md).
    std::uint64_t applied = 0;
    // (writer_of's: what the last RING_OWNER read here said, and the look-up's cache.)
    bool announced = false;
    std::uint16_t announced_slot = kNobody;
    std::uint16_t announced_id = kNobody;
    std::uint64_t announced_generation = 0;
    std::uint16_t slot = kNobody;
    shm::ProcessIdentity who{};
    std::uint16_t id = kNobody;
    std::uint64_t id_generation = 0;
  };

  // Attaches worker_ring_name(ring, j) for every j in [0, workers) but `skip` (-1: none), and a
  // reader on each (`label`, `core`, from its latest record), `before_reader` called with the
  // ring between the two. Throws std::runtime_error with the reason if one cannot be.
  void open(const std::string& ring, int workers, int skip, const std::string& label, int core,
            const std::function<void(const Ring&)>& before_reader = {});

  // In worker order. (Each stays where it is: its reader points into its segment.)
  const std::vector<std::unique_ptr<Ring>>& all() const noexcept { return rings_; }
  Ring* of(int worker) noexcept;
  bool empty() const noexcept { return rings_.empty(); }
  std::size_t size() const noexcept { return rings_.size(); }

  // The writer of a record read from `r` in its slot `slot` there, by its slot on `shared`, or
  // kNobody (above).
  std::uint16_t writer_of(const shm::Segment& shared, Ring& r, std::uint16_t slot) const;
  // A RING_OWNER record read from `r` in its slot `slot` (its payload, validated): the records
  // after it there are that worker's. False for one that names nobody (malformed, or another
  // worker's): the records after it name nobody until the next (the caller counts it refused).
  static bool owner_said(Ring& r, std::uint16_t slot, std::span<const std::byte> payload);
  // `r`'s reader was lapped: what its last RING_OWNER said may have been overwritten since.
  static void lapped(Ring& r) noexcept { r.announced = false; }

  // Reads a batch of each ring in turn — the workers' rings, then the shared one: `read(reader,
  // ring)`, ring nullptr for `shared`, true if it read anything — until none has more, `stop()`
  // says so, or `rounds` rounds were read; true in that last case (some ring may have more).
  // (A busy ring delays the others by one batch.)
  template <class Read, class Stop>
  bool drain(shm::RingReader& shared, Read read, Stop stop,
             std::size_t rounds = std::numeric_limits<std::size_t>::max()) const {
    for (std::size_t k = 1;; ++k) {
      bool more = false;
      for (const auto& r : rings_) {
        more = read(*r->reader, r.get()) || more;
        if (stop()) return false;
      }
      more = read(shared, nullptr) || more;
      if (stop() || !more) return false;
      if (k >= rounds) return true;
    }
  }
  // Before a worker's death is applied (its WORKER_DOWN): `worker`'s ring read up to its tail as
  // it is now, batch by batch (`read` as for drain(); the dead worker claimed nothing past that
  // tail; a claim it left unfinished ends the read early), unless `stop()` says so. Nothing if
  // `worker` has no ring here.
  template <class Read, class Stop>
  void read_before_death(int worker, Read read, Stop stop) {
    Ring* r = of(worker);
    if (r == nullptr) return;
    const std::uint64_t end = r->segment.control().tail.tail.load(std::memory_order_acquire);
    while (r->reader->position() < end && read(*r->reader, r))
      if (stop()) return;
  }
  // One notifier (eventfd readiness for an event loop) for `shared` and every ring here, its waits
  // counted in the readers' slots (`shared_reader` for `shared`): docs/ring.md "Dead waiters".
  shm::Result<std::unique_ptr<shm::RingNotifier>> notifier(
      const shm::Segment& shared, const shm::RingReader& shared_reader) const;

 private:
  std::vector<std::unique_ptr<Ring>> rings_;
};

}  // namespace shmio::cluster
