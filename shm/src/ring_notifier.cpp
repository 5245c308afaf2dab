#include "shmio/shm/ring_notifier.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_core.hpp"

namespace shmio::shm {

Result<std::unique_ptr<RingNotifier>> RingNotifier::start(const Segment& segment) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Error{Errc::system_error, std::string("eventfd: ") + std::strerror(errno)};
  std::unique_ptr<RingNotifier> n(new RingNotifier(segment, fd));
  // The baseline is taken here, not in the thread: every commit after start() returns must be
  // signalled, however late the thread gets to run.
  const std::uint64_t baseline =
      segment.control().frontier.frontier.load(std::memory_order_acquire);
  n->thread_ = std::thread([p = n.get(), baseline] { p->run(baseline); });
  return n;
}

RingNotifier::~RingNotifier() {
  stop_.store(true, std::memory_order_relaxed);
  // Wake our thread: bump the futex word and wake everyone parked (a spurious wake is harmless
  // to other waiters, who re-check their condition).
  auto& w = segment_.control().wake;
  w.futex_word.fetch_add(1, std::memory_order_seq_cst);
  core::wake_waiters(segment_);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

std::uint64_t RingNotifier::drain() noexcept {
  std::uint64_t v = 0;
  if (::read(fd_, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return 0;
  return v;
}

void RingNotifier::run(std::uint64_t seen) noexcept {
  const Segment& s = segment_;
  auto& c = s.control();
  // Bounded park so that stop_ is noticed even if the destructor's wake raced with our park.
  constexpr std::uint64_t kMaxPark = 200'000'000;  // 200 ms
  core::StallWatch watch(s, seen, monotonic_ns());
  while (!stop_.load(std::memory_order_relaxed)) {
    const std::uint64_t f = c.frontier.frontier.load(std::memory_order_acquire);
    if (f != seen) {
      seen = f;
      watch.check(f, monotonic_ns());  // (a new frontier: the interval starts again)
      const std::uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(fd_, &one, sizeof one);
      continue;
    }
    std::uint64_t slice = kMaxPark;
    if (c.tail.tail.load(std::memory_order_acquire) != f) {
      watch.check(f, monotonic_ns());
      slice = watch.interval();
    }
    core::park(s, f, std::chrono::nanoseconds(slice));
  }
}

}  // namespace shmio::shm
