// The registry: producer and reader slots in the segment, each owned by one live process.
//
// A slot is taken with a CAS (FREE or DEAD -> TAKING), filled in, and published with a release
// store of ACTIVE. A slot whose owner died is reclaimed by the next process that needs one: a
// reader slot at once; a producer slot only once its last claim is sealed or repaired, because
// the repair of that claim reads the slot.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>

#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm::registry {

Result<std::uint16_t> take_producer(const Segment& s, std::string_view label, int core);
Result<std::uint16_t> take_reader(const Segment& s, std::string_view label, int core);
void release_producer(const Segment& s, std::uint16_t id) noexcept;
void release_reader(const Segment& s, std::uint16_t id) noexcept;

// Frees reader slots of dead processes (their waits taken back out of the ring's count); returns
// how many it freed. Dead readers' slots labelled `keep` (a successor resumes where the dead one
// stopped: the fleet bridge's) only have their waits taken back: they stay as they are, owner,
// label and position, for the successor to read and then free (a reap without `keep`); a new
// reader takes such a slot only once no slot is free (before 2026-12-03 one freed there could be
// taken by the next reader to attach, and the position was lost).
std::size_t reap_dead_readers(const Segment& s, std::string_view keep = {}) noexcept;

// Whether a slot state marked TAKING (layout::taking_by) names a taker that has died since (its
// pid has no live process, or a zombie's): such a slot holds nothing of the taker's and is its
// previous owner's to judge. False for any other state, and for TAKING without a taker.
bool taker_died(std::uint32_t state) noexcept;

template <class Slot>
ProcessIdentity owner_of(const Slot& slot) noexcept {
  return ProcessIdentity{slot.pid.load(std::memory_order_relaxed),
                         slot.start_time.load(std::memory_order_relaxed)};
}

// Pacing a writer to its ring's readers. Producers never wait for readers, and a reader lapped
// loses records (a cluster's worker then disconnects its clients); a writer that may wait (the
// fleet bridge, a long-lived emitter) waits while a reader is far behind. This finds that reader:
// the live one furthest behind the frontier, but not lapped (a capacity or more behind: waiting
// gives it nothing back), nor the writer's own (`own`, -1: none), nor one passed over — given up
// on after a wait, until it is back within a quarter of the ring or its slot has another owner
// (else a stopped reader, or one slower than what comes in, would hold the writer at every look).
class ReaderPacing {
 public:
  struct Behind {
    std::uint16_t slot = 0;
    std::uint64_t bytes = 0;  // 0: none behind
  };
  Behind furthest_behind(const Segment& s, int own = -1);
  // After a wait for `slot` that timed out: not waited for again until it catches up.
  void pass_over(const Segment& s, std::uint16_t slot);

 private:
  std::map<std::uint16_t, std::uint64_t> passed_over_;  // slot -> its generation then
};

}  // namespace shmio::shm::registry
