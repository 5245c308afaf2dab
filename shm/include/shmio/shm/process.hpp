// Process identity that pid reuse cannot fool: a pid plus the kernel's start time of that process.
//
// Liveness is decided from /proc/<pid>/stat: the process is alive if that file exists, its start
// time equals the recorded one, and its state is not zombie ('Z') or dead ('X'). A killed process
// that its parent has not reaped yet is therefore already dead here, as it should be: it will never
// run another instruction. (A zombie whose other threads still run — its main thread called
// pthread_exit() — is alive: /proc/<pid>/task is looked at then.) A look that fails for another
// reason than the entry's absence (out of file descriptors: EMFILE, ENFILE; no memory) judges
// nothing: the process counts as alive, so a lock, a slot or a session is never taken from a live
// process because /proc could not be read (what waits on a dead one then waits until a look
// succeeds).
#pragma once

#include <signal.h>
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

// One look at /proc/<pid>/stat: a process (alive; its start time), none (no entry, or a zombie),
// or unknown (the entry could not be read for another reason).
struct ProcessLook {
  enum class Is { alive, gone, unknown } is = Is::unknown;
  std::uint64_t start_time = 0;
  char state =
      0;  // /proc/<pid>/stat's state of one alive: 'R', 'S', 'T' (stopped), 't' (traced)...
};
ProcessLook look_up_process(pid_t pid) noexcept;

// This process, read once and cached (a forked child reads its own again; a failed read is not
// cached: the start time is then 0 this time).
ProcessIdentity self_identity() noexcept;
// Start time of a pid, 0 if it has no /proc entry (or it could not be read).
std::uint64_t process_start_time(pid_t pid) noexcept;
// Dead: no entry, a zombie, or another start time (the pid reused). Alive otherwise, also when
// the entry could not be read (above).
Liveness liveness(const ProcessIdentity& who) noexcept;
// Whether every thread of the process `who` names was seen not runnable (its state in
// /proc/<pid>/task/<tid>/stat other than 'R' or 'W'), each at one moment during the call, with the
// pid still naming `who` after the look. False where a thread is runnable (on a CPU or
// preempted), where the look fails (out of descriptors, /proc mounted hidepid), and for a process
// not alive. (A thread that blocked ran the scheduler's full barrier after its last store:
// core::parking_cover, docs/ring.md "Exclusive producers", X7.)
bool no_thread_running(const ProcessIdentity& who) noexcept;
// Sends `sig` to the process `who` names, not to another that took its pid since: through a
// pidfd opened before the pid's start time is looked at again (the pidfd then names that process,
// whatever becomes of the pid); where pidfds are refused (before Linux 5.3, a seccomp filter),
// the look just before kill() (a close() and the kill). 0, or the errno: ESRCH (gone, or the pid
// another process's now), EAGAIN (its /proc entry could not be read: out of descriptors, hidepid),
// EINVAL (no start time to check by), or kill()'s.
int signal_process(const ProcessIdentity& who, int sig) noexcept;
// A process's identity in one 64-bit word, for a lock that must be taken and judged in one atomic
// step (the ring's repair lock, the session table's slots): pid << 32 | the low 32 bits of its
// start time (clock ticks: about 497 days at 100 Hz before they wrap). 0 names no process.
std::uint64_t process_tag(const ProcessIdentity& who) noexcept;
// Whether the process a tag names lives: its pid's entry, with the low half of that start time
// (a look that fails for another reason than the entry's absence judges nothing: alive, above).
bool process_tag_alive(std::uint64_t tag) noexcept;

// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds.
std::uint64_t monotonic_ns() noexcept;

// CPU affinity (the one helper the supervisor, the benchmarks and the load generator use): the
// CPUs in the calling thread's affinity mask, ascending (empty if it cannot be read); and pinning
// the calling thread to one CPU (true without doing anything for cpu < 0; false if refused).
std::vector<int> affinity_cpus();
bool pin_to_cpu(int cpu) noexcept;
std::uint64_t realtime_ns() noexcept;

// While it lives, the calling thread has every signal blocked but those a fault raises in the
// thread itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT); its mask from before
// is given back when it goes. A thread made meanwhile keeps that mask for good: how the library
// makes its threads (stderr's, the orphan watchdog, the ring notifier's, Asio's resolver thread),
// so that a signal sent to the process (a SIGTERM the program's own thread blocks while it
// finishes its work) is never taken by one of them at its default action, ending the process.
// (Not the fault signals: one raised by a thread that blocks it kills the process outright, with
// no handler run, no crash report.)
class ThreadSignalsBlocked {
 public:
  ThreadSignalsBlocked() noexcept;
  ~ThreadSignalsBlocked();
  ThreadSignalsBlocked(const ThreadSignalsBlocked&) = delete;
  ThreadSignalsBlocked& operator=(const ThreadSignalsBlocked&) = delete;

 private:
  sigset_t before_;
};

}  // namespace shmio::shm
