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

// Frees reader slots of dead processes; returns how many it freed.
std::size_t reap_dead_readers(const Segment& s) noexcept;

template <class Slot>
ProcessIdentity owner_of(const Slot& slot) noexcept {
  return ProcessIdentity{slot.pid.load(std::memory_order_relaxed),
                         slot.start_time.load(std::memory_order_relaxed)};
}

}  // namespace shmio::shm::registry
