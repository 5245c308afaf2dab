// Process identity that pid reuse cannot fool: a pid plus the kernel's start time of that process.
//
// Liveness is decided from /proc/<pid>/stat: the process is alive if that file exists, its start
// time equals the recorded one, and its state is not zombie ('Z') or dead ('X'). A killed process
// that its parent has not reaped yet is therefore already dead here, as it should be: it will never
// run another instruction.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <vector>

namespace shmio::shm {

struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat: clock ticks after boot

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

enum class Liveness { alive, dead };

// This process, read once and cached (a forked child reads its own again).
ProcessIdentity self_identity() noexcept;
// Start time of a pid, 0 if it has no /proc entry.
std::uint64_t process_start_time(pid_t pid) noexcept;
Liveness liveness(const ProcessIdentity& who) noexcept;

// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds.
std::uint64_t monotonic_ns() noexcept;

// CPU affinity (the one helper the supervisor, the benchmarks and the load generator use): the
// CPUs in the calling thread's affinity mask, ascending (empty if it cannot be read); and pinning
// the calling thread to one CPU (true without doing anything for cpu < 0; false if refused).
std::vector<int> affinity_cpus();
bool pin_to_cpu(int cpu) noexcept;
std::uint64_t realtime_ns() noexcept;

}  // namespace shmio::shm
