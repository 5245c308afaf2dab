// FutexUring: a small io_uring that waits on shared futex words asynchronously
// (IORING_OP_FUTEX_WAIT, Linux 6.7+), so that an event loop can wait for a ring's commits on a
// file descriptor without a thread of its own (RingNotifier's io_uring mode, docs/ring.md
// "Several rings, one waiter"). Raw system calls and the kernel's own header: no liburing (whose
// Debian 12 version predates the futex operations). Internal to shm/src.
//
// One thread at a time. The kernel completes a futex wait as task work of the thread that
// submitted it: that thread is woken (its epoll_wait(2) returns, EINTR, and the completion is
// posted on its way out), so the thread that submits should be the event loop's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shmio::shm::detail {

class FutexUring {
 public:
  // A ring of `entries` submission slots (rounded up by the kernel to a power of two), checked
  // able to wait on a futex: a wait on a word with a value it does not hold must come back at
  // once with EAGAIN. nullptr where it cannot (no io_uring: ENOSYS, or refused by a seccomp
  // profile: EPERM; a kernel before 6.7: EINVAL), `why` saying which.
  static std::unique_ptr<FutexUring> create(unsigned entries, std::string& why);
  ~FutexUring();
  FutexUring(const FutexUring&) = delete;
  FutexUring& operator=(const FutexUring&) = delete;

  // Every completion from now on also signals `eventfd` (IORING_REGISTER_EVENTFD).
  bool register_eventfd(int eventfd) noexcept;
  // Queues a wait on a shared (not process-private) 32-bit futex word until it is woken; it
  // completes at once (-EAGAIN) if the word no longer holds `expected`. False if the queue is full.
  bool queue_futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                        std::uint64_t user_data) noexcept;
  // Queues a timer that completes (-ETIME) after `ns` nanoseconds: one per submit() (its interval
  // is kept here until the kernel takes it); false if one is queued already or the queue is full.
  bool queue_timeout(std::uint64_t ns, std::uint64_t user_data) noexcept;
  // Submits what was queued; false if the kernel refused (errno set).
  bool submit() noexcept;
  // Calls fn(user_data, result) for every completion posted so far; returns how many.
  template <class Fn>
  std::size_t reap(Fn&& fn) noexcept {
    std::size_t n = 0;
    unsigned head = cq_head_->load(std::memory_order_relaxed);
    const unsigned tail = cq_tail_->load(std::memory_order_acquire);
    for (; head != tail; ++head, ++n) {
      const Cqe& c = cqes_[head & cq_mask_];
      fn(c.user_data, c.res);
    }
    cq_head_->store(head, std::memory_order_release);
    return n;
  }

 private:
  struct Cqe {
    std::uint64_t user_data;
    std::int32_t res;
    std::uint32_t flags;
  };
  FutexUring() = default;
  void* next_sqe() noexcept;  // (an io_uring_sqe, zeroed; nullptr if the queue is full)

  int fd_ = -1;
  void* sq_map_ = nullptr;
  std::size_t sq_map_bytes_ = 0;
  void* cq_map_ = nullptr;  // (the same mapping as sq_map_ where the kernel maps both at once)
  std::size_t cq_map_bytes_ = 0;
  void* sqes_ = nullptr;
  std::size_t sqes_bytes_ = 0;
  std::atomic<unsigned>* sq_head_ = nullptr;
  std::atomic<unsigned>* sq_tail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned* sq_array_ = nullptr;
  std::atomic<unsigned>* cq_head_ = nullptr;
  std::atomic<unsigned>* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  const Cqe* cqes_ = nullptr;
  unsigned queued_ = 0;  // queued since the last submit()
  struct Timespec {      // (the kernel's __kernel_timespec)
    std::int64_t tv_sec;
    long long tv_nsec;
  } timer_{};
  bool timer_queued_ = false;  // timer_ is waiting for the next submit()
};

}  // namespace shmio::shm::detail
