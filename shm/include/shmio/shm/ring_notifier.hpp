// RingNotifier: turns ring progress into readiness of a file descriptor, so that an event loop
// (Asio's io_context, epoll, poll) can drive a RingReader without spinning.
//
// A small thread parks on the ring's cross-process futex and, each time the frontier moves,
// writes to an eventfd (counter semantics). The loop waits for the eventfd to become readable,
// reads it (clearing it), then drains its RingReader with poll()/peek() until empty, re-arms its
// wait, and checks RingReader::ready() once more (an edge-triggered loop such as Asio's may not
// report a notification that arrived while no wait was armed). tests/shm/ring_asio_test.cpp
// shows the pattern with a boost::asio::posix::stream_descriptor.
// The thread also resolves stalls (a dead producer's claim) while claims are in flight, so a
// parked server still repairs within the bound.
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
#include <thread>
#include <vector>

#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::shm {

class RingNotifier {
 public:
  // The segment must outlive the notifier.
  static Result<std::unique_ptr<RingNotifier>> start(const Segment& segment);
  // Several rings, each of which must outlive the notifier: 1 to kMaxRings of them, no null
  // pointers (otherwise Errc::invalid_argument). The same ring twice is allowed (watched once).
  static Result<std::unique_ptr<RingNotifier>> start(std::span<const Segment* const> segments);
  static constexpr std::size_t kMaxRings = core::kParkAnyMax;  // what one futex_waitv(2) waits on
  ~RingNotifier();  // stops and joins the thread, closes the eventfd
  RingNotifier(const RingNotifier&) = delete;
  RingNotifier& operator=(const RingNotifier&) = delete;

  int fd() const noexcept { return fd_; }
  // Reads the eventfd (non-blocking); returns the number of notifications since the last call.
  std::uint64_t drain() noexcept;

 private:
  RingNotifier(std::vector<const Segment*> rings, int fd) : rings_(std::move(rings)), fd_(fd) {}
  void run(std::vector<std::uint64_t> seen) noexcept;

  std::vector<const Segment*> rings_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shmio::shm
