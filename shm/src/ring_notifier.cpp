#include "shmio/shm/ring_notifier.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_core.hpp"

namespace shmio::shm {

Result<std::unique_ptr<RingNotifier>> RingNotifier::start(const Segment& segment) {
  const Segment* one[] = {&segment};
  return start(one);
}

Result<std::unique_ptr<RingNotifier>> RingNotifier::start(
    std::span<const Segment* const> segments) {
  if (segments.empty() || segments.size() > kMaxRings)
    return Error{Errc::invalid_argument, "RingNotifier watches 1 to " + std::to_string(kMaxRings) +
                                             " rings, got " + std::to_string(segments.size())};
  std::vector<const Segment*> rings;
  for (const Segment* s : segments) {
    if (s == nullptr) return Error{Errc::invalid_argument, "RingNotifier: a null segment"};
    if (std::find(rings.begin(), rings.end(), s) == rings.end()) rings.push_back(s);
  }
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Error{Errc::system_error, std::string("eventfd: ") + std::strerror(errno)};
  // The baselines are taken here, not in the thread: every commit after start() returns must be
  // signalled, however late the thread gets to run.
  std::vector<std::uint64_t> baseline;
  for (const Segment* s : rings)
    baseline.push_back(s->control().frontier.frontier.load(std::memory_order_acquire));
  std::unique_ptr<RingNotifier> n(new RingNotifier(std::move(rings), fd));
  n->thread_ =
      std::thread([p = n.get(), seen = std::move(baseline)]() mutable { p->run(std::move(seen)); });
  return n;
}

RingNotifier::~RingNotifier() {
  stop_.store(true, std::memory_order_relaxed);
  // Wake our thread: bump each ring's futex word and wake everyone parked (a spurious wake is
  // harmless to other waiters, who re-check their condition).
  for (const Segment* s : rings_) {
    s->control().wake.futex_word.fetch_add(1, std::memory_order_seq_cst);
    core::wake_waiters(*s);
  }
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

std::uint64_t RingNotifier::drain() noexcept {
  std::uint64_t v = 0;
  if (::read(fd_, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return 0;
  return v;
}

void RingNotifier::run(std::vector<std::uint64_t> seen) noexcept {
  // Bounded park so that stop_ is noticed even if the destructor's wake raced with our park.
  constexpr std::uint64_t kMaxPark = 200'000'000;  // 200 ms
  std::vector<core::StallWatch> watches;
  const std::uint64_t start = monotonic_ns();
  for (std::size_t i = 0; i < rings_.size(); ++i) watches.emplace_back(*rings_[i], seen[i], start);
  while (!stop_.load(std::memory_order_relaxed)) {
    bool moved = false;
    for (std::size_t i = 0; i < rings_.size(); ++i) {
      const std::uint64_t f =
          rings_[i]->control().frontier.frontier.load(std::memory_order_acquire);
      if (f != seen[i]) {
        seen[i] = f;
        watches[i].check(f, monotonic_ns());  // (a new frontier: the interval starts again)
        moved = true;
      }
    }
    if (moved) {
      const std::uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(fd_, &one, sizeof one);
      continue;
    }
    std::uint64_t slice = kMaxPark;
    for (std::size_t i = 0; i < rings_.size(); ++i) {
      if (rings_[i]->control().tail.tail.load(std::memory_order_acquire) != seen[i]) {
        // Claims in flight on this ring: if they do not finish, find out why.
        watches[i].check(seen[i], monotonic_ns());
        slice = std::min(slice, watches[i].interval());
      }
    }
    core::park_any(rings_, seen, std::chrono::nanoseconds(slice));
  }
}

}  // namespace shmio::shm
