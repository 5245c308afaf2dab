#include "shmio/shm/ring_notifier.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "futex_uring.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/ring_reader.hpp"

namespace shmio::shm {
namespace {

// A notifier's longest wait without a look: a dead producer's claim begun after the look is found
// within about this plus the dead-check interval (a stop, in the thread mode, within this).
constexpr std::uint64_t kMaxPark = 200'000'000;  // 200 ms
// io_uring mode: a completion's user_data is the ring's index, or this tag and a timer's slot.
constexpr std::uint64_t kTimerTag = 1ULL << 32;

}  // namespace

std::string_view to_string(NotifierMode m) noexcept {
  switch (m) {
    case NotifierMode::automatic:
      return "automatic";
    case NotifierMode::io_uring:
      return "io_uring";
    case NotifierMode::thread:
      return "thread";
  }
  return "?";
}

bool RingNotifier::supports(NotifierMode mode) noexcept {
  if (mode != NotifierMode::io_uring) return true;
  static const bool uring = [] {
    std::string why;
    return detail::FutexUring::create(4, why) != nullptr;
  }();
  return uring;
}

RingNotifier::RingNotifier(std::vector<const Segment*> rings,
                           std::vector<std::unique_ptr<RingReader>> own,
                           std::vector<std::atomic<std::uint32_t>*> slots, int fd)
    : rings_(std::move(rings)), own_(std::move(own)), slots_(std::move(slots)), fd_(fd) {}

Result<std::unique_ptr<RingNotifier>> RingNotifier::start(const Segment& segment,
                                                          NotifierOptions options) {
  const Segment* one[] = {&segment};
  return start(one, options);
}

Result<std::unique_ptr<RingNotifier>> RingNotifier::start(std::span<const Segment* const> segments,
                                                          NotifierOptions options) {
  if (segments.empty() || segments.size() > kMaxRings)
    return Error{Errc::invalid_argument, "RingNotifier watches 1 to " + std::to_string(kMaxRings) +
                                             " rings, got " + std::to_string(segments.size())};
  if (!options.readers.empty() && options.readers.size() != segments.size())
    return Error{Errc::invalid_argument, "RingNotifier: " + std::to_string(options.readers.size()) +
                                             " readers for " + std::to_string(segments.size()) +
                                             " rings (one per ring, or none)"};
  std::vector<const Segment*> rings;
  std::vector<std::atomic<std::uint32_t>*> slots;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment* s = segments[i];
    if (s == nullptr) return Error{Errc::invalid_argument, "RingNotifier: a null segment"};
    const RingReader* r = options.readers.empty() ? nullptr : options.readers[i];
    if (r != nullptr && &r->segment() != s)
      return Error{Errc::invalid_argument,
                   "RingNotifier: reader " + std::to_string(i) + " reads another ring"};
    const auto at = std::find(rings.begin(), rings.end(), s);
    if (at == rings.end()) {
      rings.push_back(s);
      slots.push_back(r != nullptr ? r->wait_slot() : nullptr);
    } else if (r != nullptr && slots[static_cast<std::size_t>(at - rings.begin())] == nullptr) {
      slots[static_cast<std::size_t>(at - rings.begin())] = r->wait_slot();
    }
  }
  // A ring given no reader: a slot of the notifier's own, so that a wait is never counted only on
  // the ring (a process killed while waiting would leave that count there for good, and every
  // commit would then make a futile FUTEX_WAKE: docs/ring.md "Dead waiters").
  std::vector<std::unique_ptr<RingReader>> own(rings.size());
  for (std::size_t i = 0; i < rings.size(); ++i) {
    if (slots[i] != nullptr) continue;
    auto r = RingReader::attach(*rings[i], {.label = "notifier"});
    if (!r)
      return Error{r.error().code, "RingNotifier: no reader slot of its own on ring " +
                                       rings[i]->name() + " to count its wait in (" +
                                       r.error().message +
                                       "); pass NotifierOptions::readers instead"};
    own[i] = std::make_unique<RingReader>(std::move(r).value());
    slots[i] = own[i]->wait_slot();
  }
  NotifierMode mode = options.mode;
  if (mode == NotifierMode::automatic) {
    const char* env = std::getenv("SHMIO_RING_NOTIFIER");
    const std::string_view e = env != nullptr ? env : "";
    if (e == "thread")
      mode = NotifierMode::thread;
    else if (e == "io_uring")
      mode = NotifierMode::io_uring;
    else if (!e.empty())
      return Error{Errc::invalid_argument,
                   "SHMIO_RING_NOTIFIER is '" + std::string(e) + "': thread, io_uring or unset"};
  }
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Error{Errc::system_error, std::string("eventfd: ") + std::strerror(errno)};
  // The baselines are taken here, not in the thread: every commit after start() returns must be
  // signalled, however late the thread gets to run (or the io_uring wait gets armed).
  std::vector<std::uint64_t> baseline;
  for (const Segment* s : rings)
    baseline.push_back(s->control().frontier.frontier.load(std::memory_order_acquire));
  std::unique_ptr<RingNotifier> n(
      new RingNotifier(std::move(rings), std::move(own), std::move(slots), fd));
  const std::uint64_t now = monotonic_ns();
  for (std::size_t i = 0; i < n->rings_.size(); ++i)
    n->watches_.emplace_back(*n->rings_[i], baseline[i], now);
  n->seen_ = std::move(baseline);
  // (The own readers attached at an earlier frontier: a commit in between would otherwise show
  // as their lag until the next one.)
  for (std::size_t i = 0; i < n->rings_.size(); ++i)
    if (n->own_[i]) n->own_[i]->follow(n->seen_[i], now);
  if (mode != NotifierMode::thread) {
    std::string why;
    // A wait per ring and the timers, with room to spare.
    const auto entries = static_cast<unsigned>(n->rings_.size() + kTimerSlots + 4);
    n->uring_ = detail::FutexUring::create(entries, why);
    if (n->uring_ && !n->uring_->register_eventfd(fd)) {
      why = std::string("IORING_REGISTER_EVENTFD: ") + std::strerror(errno);
      n->uring_.reset();
    }
    if (n->uring_) {
      n->armed_.assign(n->rings_.size(), false);
      n->arm();
      return n;
    }
    if (mode == NotifierMode::io_uring)
      return Error{Errc::system_error, "RingNotifier: no io_uring mode here: " + why};
  }
  // Made with the process's signals blocked, which it keeps: a process signal meant for the
  // program's own threads (a SIGTERM that one of them blocks until it has finished its work) must
  // not land here (ThreadSignalsBlocked).
  const ThreadSignalsBlocked blocked;
  n->thread_ = std::thread([p = n.get()] { p->run(); });
  return n;
}

RingNotifier::~RingNotifier() {
  if (uring_) {
    // Our waits leave every ring's count of waiters; closing the io_uring cancels them.
    for (std::size_t i = 0; i < rings_.size(); ++i)
      if (armed_[i]) core::withdraw_waiter(*rings_[i], slots_[i]);
    uring_.reset();
    ::close(fd_);
    return;
  }
  stop_.store(true, std::memory_order_relaxed);
  // Wake our thread: bump each ring's futex word and wake everyone parked (a spurious wake is
  // harmless to other waiters, who re-check their condition).
  for (const Segment* s : rings_) core::wake_all(*s);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

std::uint64_t RingNotifier::drain() noexcept {
  std::uint64_t v = 0;
  if (::read(fd_, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) v = 0;
  if (!uring_) return v;
  // The completions: a ring's wait (woken, or the word had moved on, or cancelled: its thread
  // exited) leaves its count of waiters; a timer frees its slot.
  uring_->reap([this](std::uint64_t tag, std::int32_t) {
    if ((tag & kTimerTag) != 0) {
      timer_due_[tag & (kTimerSlots - 1)] = 0;
    } else if (tag < rings_.size() && armed_[tag]) {
      armed_[tag] = false;
      core::withdraw_waiter(*rings_[tag], slots_[tag]);
    }
  });
  // What moved is passed on now: the caller reads it next (the thread mode's signal per move).
  (void)pass_on(monotonic_ns());
  arm();
  return v;
}

bool RingNotifier::pass_on(std::uint64_t now) noexcept {
  bool moved = false;
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    const std::uint64_t f = rings_[i]->control().frontier.frontier.load(std::memory_order_acquire);
    if (f != seen_[i]) {
      seen_[i] = f;
      watches_[i].check(f, now);  // (a new frontier: the interval starts again)
      moved = true;
    }
    if (own_[i]) own_[i]->follow(f, now);  // (also when nothing moved: its heartbeat)
  }
  return moved;
}

std::uint64_t RingNotifier::watch_claims(std::uint64_t limit, std::uint64_t now) noexcept {
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    if (rings_[i]->control().tail.tail.load(std::memory_order_acquire) != seen_[i]) {
      // Claims in flight on this ring: if they do not finish, find out why.
      watches_[i].check(seen_[i], now);
      limit = std::min(limit, watches_[i].interval());
    }
  }
  return limit;
}

void RingNotifier::signal() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t w = ::write(fd_, &one, sizeof one);
}

void RingNotifier::arm() noexcept {
  // park()'s announcement (core::park_any's, for several rings) on every ring not armed: waiters++
  // and the arming (the futex word, then the wake epoch raised into armed_epoch), one membarrier
  // for the rings made for one producer, then per ring its frontier re-checked against what was
  // passed on (the Dekker pair: a commit either is seen here or sees our count and our epoch and
  // wakes the word, which completes the wait; docs/ring.md "Wake epochs"). The wait itself is the
  // io_uring request, in place of the blocking futex call.
  bool moved = false, barrier = false, bounded = false;
  std::uint32_t words[kMaxRings];
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    if (armed_[i]) continue;
    const Segment& s = *rings_[i];
    core::announce_waiter(s, slots_[i]);
    words[i] = core::arm_wait(s);  // (the word, then the epoch it arms at)
    const core::ParkingCover cover = core::parking_cover(s);
    barrier = barrier || cover.barrier;
    bounded = bounded || cover.bounded;
  }
  const bool barrier_done = !barrier || core::expedited_barrier();
  const bool unsure = bounded || !barrier_done;
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    if (armed_[i]) continue;
    layout::Control& c = rings_[i]->control();
    if (c.frontier.frontier.load(std::memory_order_seq_cst) != seen_[i] ||
        !uring_->queue_futex_wait(c.wake.futex_word, words[i], i)) {
      // Moved meanwhile (or no room): the loop comes back at once, and the next drain() arms it.
      core::withdraw_waiter(*rings_[i], slots_[i]);
      moved = true;
      continue;
    }
    armed_[i] = true;
  }
  // The timer: at most kMaxPark without a look; while claims are in flight on a ring, its
  // dead-check interval (as the thread mode's park slice); unsure of a ring made for one producer
  // (no membarrier here), kUnsureParkNs.
  const std::uint64_t now = monotonic_ns();
  const std::uint64_t slice = watch_claims(unsure ? core::kUnsureParkNs : kMaxPark, now);
  std::uint64_t earliest = 0;
  unsigned free_slot = kTimerSlots;
  for (unsigned t = 0; t < kTimerSlots; ++t) {
    if (timer_due_[t] == 0)
      free_slot = std::min(free_slot, t);
    else if (earliest == 0 || timer_due_[t] < earliest)
      earliest = timer_due_[t];
  }
  // (A new timer only if none is due by then, give or take a millisecond.)
  if ((earliest == 0 || now + slice + 1'000'000 < earliest) && free_slot < kTimerSlots &&
      uring_->queue_timeout(slice, kTimerTag | free_slot))
    timer_due_[free_slot] = now + slice;
  if (!uring_->submit()) moved = true;  // (come back and try again)
  if (moved) signal();
}

void RingNotifier::run() noexcept {
  // Bounded park so that stop_ is noticed even if the destructor's wake raced with our park.
  std::uint64_t last_claims_look = monotonic_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    const std::uint64_t now = monotonic_ns();
    if (pass_on(now)) {
      signal();
      // While some ring keeps moving this loop never parks; another ring's claims in flight are
      // still watched (a dead producer's repaired within the bound), every millisecond.
      if (now - last_claims_look >= 1'000'000) {
        last_claims_look = now;
        (void)watch_claims(kMaxPark, now);
      }
      continue;
    }
    last_claims_look = now;
    const std::uint64_t slice = watch_claims(kMaxPark, monotonic_ns());
    core::park_any(rings_, seen_, std::chrono::nanoseconds(slice), true, slots_);
  }
}

}  // namespace shmio::shm
