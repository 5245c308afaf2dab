// The registry: producer and reader slots in the segment, each owned by one live process.
//
// A slot is taken with a CAS (FREE or DEAD -> TAKING), filled in, and published with a release
// store of ACTIVE. A slot whose owner died is reclaimed by the next process that needs one: a
// reader slot at once; a producer slot only once its last claim is sealed or repaired, because
// the repair of that claim reads the slot.
#pragma once

#include <cstdint>
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

template <class Slot>
ProcessIdentity owner_of(const Slot& slot) noexcept {
  return ProcessIdentity{slot.pid.load(std::memory_order_relaxed),
                         slot.start_time.load(std::memory_order_relaxed)};
}

}  // namespace shmio::shm::registry
