// RingNotifier: turns ring progress into readiness of a file descriptor, so that an event loop
// (Asio's io_context, epoll, poll) can drive a RingReader without spinning.
//
// The loop waits for fd() (an eventfd) to become readable, calls drain() (which clears it), then
// drains its RingReader with poll()/peek() until empty, re-arms its wait, and checks
// RingReader::ready() once more (an edge-triggered loop such as Asio's may not report a
// notification that arrived while no wait was armed). tests/shm/ring_asio_test.cpp shows the
// pattern with a boost::asio::posix::stream_descriptor.
//
// Two ways to wait (NotifierMode; docs/ring.md "Waiting from an event loop"):
// - io_uring (Linux 6.7+, the default where it works): no thread. The ring's futex word is waited
//   on by an io_uring request (IORING_OP_FUTEX_WAIT) whose completion signals the eventfd, so a
//   commit wakes the loop's thread directly. drain() re-arms the request: call it, and start(),
//   from the loop's thread (the kernel wakes the thread that armed the wait). While claims are in
//   flight, a timer wakes the loop so that drain() can find a dead producer's claim and repair it.
// - thread: a small thread parks on the futex and writes the eventfd each time the frontier
//   moves: two wake-ups per commit (the thread's, then the loop's). Where io_uring cannot wait on
//   a futex (an older kernel, a seccomp profile that refuses io_uring) and where asked for.
// Either way, while claims are in flight a dead producer's claim is repaired within the bound,
// so a parked server does not wait on it.
// One notifier may watch several rings (a ring per producer, docs/ring-per-worker.md): one thread
// and one eventfd for all of them, readable when any of them moves; the loop then drains each
// ring's reader. Its thread parks on all of them at once (core::park_any: futex_waitv(2), Linux
// 5.16+; on older kernels it parks on one at a time for at most 1 ms each, so a commit on another
// ring is signalled within about that).
// Thread-safety: construct and destroy from one thread; fd() may be used from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm {

namespace detail {
class FutexUring;
}

enum class NotifierMode {
  automatic,  // io_uring where it works, else thread; $SHMIO_RING_NOTIFIER=thread|io_uring decides
  io_uring,   // no thread: an io_uring futex wait (Linux 6.7+); Errc::system_error where it fails
  thread,     // a thread parked on the futex
};
std::string_view to_string(NotifierMode m) noexcept;

class RingReader;

struct NotifierOptions {
  NotifierMode mode = NotifierMode::automatic;
  // Empty, or one per ring of start()'s span, in its order (entries may be nullptr): a
  // RingReader of this process on that ring, in whose slot the notifier counts its wait there,
  // so that if the process dies waiting, whoever frees that slot takes the count back out of the
  // ring's waiters (docs/ring.md "Dead waiters"). Each must outlive the notifier.
  // A ring given none: the notifier takes a reader slot of its own there (labelled "notifier";
  // it reads nothing, its position follows the frontier), so a wait is always counted in a slot.
  // No slot free on that ring: start() fails (Errc::no_free_slot; on a segment opened read-only,
  // Errc::permission_denied) — give it your reader instead.
  std::span<const RingReader* const> readers = {};
};

class RingNotifier {
 public:
  // The segment must outlive the notifier.
  static Result<std::unique_ptr<RingNotifier>> start(const Segment& segment,
                                                     NotifierOptions options = {});
  // Several rings, each of which must outlive the notifier: 1 to kMaxRings of them, no null
  // pointers (otherwise Errc::invalid_argument). The same ring twice is allowed (watched once).
  // $SHMIO_RING_NOTIFIER other than thread, io_uring or empty: Errc::invalid_argument.
  static Result<std::unique_ptr<RingNotifier>> start(std::span<const Segment* const> segments,
                                                     NotifierOptions options = {});
  static constexpr std::size_t kMaxRings = core::kParkAnyMax;  // what one futex_waitv(2) waits on
  ~RingNotifier();  // stops and joins the thread or cancels the io_uring wait, closes the eventfd
  RingNotifier(const RingNotifier&) = delete;
  RingNotifier& operator=(const RingNotifier&) = delete;

  int fd() const noexcept { return fd_; }
  // Reads the eventfd (non-blocking); returns the number of notifications since the last call.
  // In the io_uring mode it also takes the wait's completions and re-arms it (and checks claims
  // in flight for a dead producer): call it from the loop's thread on each readiness.
  std::uint64_t drain() noexcept;
  // The way it waits: NotifierMode::io_uring or NotifierMode::thread.
  NotifierMode mode() const noexcept {
    return uring_ ? NotifierMode::io_uring : NotifierMode::thread;
  }
  // Whether this process can wait that way here (io_uring: the kernel's io_uring waits on a
  // futex; looked at once, then remembered). automatic and thread: always.
  static bool supports(NotifierMode mode) noexcept;

 private:
  RingNotifier(std::vector<const Segment*> rings, std::vector<std::unique_ptr<RingReader>> own,
               std::vector<std::atomic<std::uint32_t>*> slots, int fd);
  void run() noexcept;  // the thread mode's thread
  // Both modes: passes on what moved since the last look (seen_ takes each ring's frontier, and a
  // move restarts its stall watch); true if any ring moved.
  bool pass_on(std::uint64_t now) noexcept;
  // Both modes: `limit`, or less while claims are in flight on a ring (its stall watch checked,
  // the wait bounded by its dead-check interval).
  std::uint64_t watch_claims(std::uint64_t limit, std::uint64_t now) noexcept;
  // io_uring mode: arm a wait on every ring not armed (park()'s announcement, then the request)
  // and a timer while claims are in flight; signals the eventfd itself if a ring moved meanwhile.
  void arm() noexcept;
  void signal() noexcept;

  std::vector<const Segment*> rings_;
  // Per ring: the notifier's own reader where it was given none (else null), declared before
  // slots_, which may point into their slots.
  std::vector<std::unique_ptr<RingReader>> own_;
  std::vector<std::atomic<std::uint32_t>*> slots_;  // per ring: where its wait is counted
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // the thread mode's (the only user of seen_ and watches_ while it runs)
  std::vector<std::uint64_t> seen_;  // each ring's frontier, as last passed on
  std::vector<core::StallWatch> watches_;
  // io_uring mode (uring_ set: the mode; otherwise the thread's).
  std::unique_ptr<detail::FutexUring> uring_;
  std::vector<bool> armed_;  // a wait queued on the ring (and counted in its waiters)
  // Timers in flight: one is queued when none is due soon enough, so a few slots cover the cases
  // (the 200 ms look and a shorter dead-check interval); all taken, the earliest due fires and
  // the next arm() queues again.
  static constexpr unsigned kTimerSlots = 4;
  std::uint64_t timer_due_[kTimerSlots] = {};  // when each timer queued fires (0: a free slot)
};

}  // namespace shmio::shm
