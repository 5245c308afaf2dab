#include "futex_uring.hpp"

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shmio::shm::detail {
namespace {

// Newer than Debian 12's kernel headers (6.1): the values of the kernel's ABI (6.7+).
constexpr std::uint8_t kOpFutexWait = 51;       // IORING_OP_FUTEX_WAIT
constexpr std::uint32_t kFutex2SizeU32 = 0x02;  // FUTEX2_SIZE_U32 (shared: no FUTEX2_PRIVATE)
constexpr std::uint64_t kFutexMatchAny = 0xFFFFFFFF;
constexpr unsigned kSetupCoopTaskrun = 1U << 8;  // IORING_SETUP_COOP_TASKRUN (5.19+)

int sys_setup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(::syscall(__NR_io_uring_setup, entries, p));
}
int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(
      ::syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}
int sys_register(int fd, unsigned op, const void* arg, unsigned n) {
  return static_cast<int>(::syscall(__NR_io_uring_register, fd, op, arg, n));
}

template <class T>
T* at(void* base, std::uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace

std::unique_ptr<FutexUring> FutexUring::create(unsigned entries, std::string& why) {
  std::unique_ptr<FutexUring> u(new FutexUring());
  io_uring_params p{};
  // Cooperative task work: a futex wake does not interrupt the thread while it runs (the
  // completion is posted at its next system call), and still wakes it where it sleeps.
  p.flags = kSetupCoopTaskrun;
  u->fd_ = sys_setup(entries, &p);
  if (u->fd_ < 0 && errno == EINVAL) {
    p = io_uring_params{};
    u->fd_ = sys_setup(entries, &p);
  }
  if (u->fd_ < 0) {
    why = std::string("io_uring_setup: ") + std::strerror(errno);
    return nullptr;
  }
  u->sq_map_bytes_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u->cq_map_bytes_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) u->sq_map_bytes_ = u->cq_map_bytes_ = std::max(u->sq_map_bytes_, u->cq_map_bytes_);
  u->sq_map_ = ::mmap(nullptr, u->sq_map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      u->fd_, IORING_OFF_SQ_RING);
  if (u->sq_map_ == MAP_FAILED) {
    u->sq_map_ = nullptr;
    why = std::string("mmap of the io_uring: ") + std::strerror(errno);
    return nullptr;
  }
  if (single) {
    u->cq_map_ = u->sq_map_;
  } else {
    u->cq_map_ = ::mmap(nullptr, u->cq_map_bytes_, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_POPULATE, u->fd_, IORING_OFF_CQ_RING);
    if (u->cq_map_ == MAP_FAILED) {
      u->cq_map_ = nullptr;
      why = std::string("mmap of the io_uring: ") + std::strerror(errno);
      return nullptr;
    }
  }
  u->sqes_bytes_ = p.sq_entries * sizeof(io_uring_sqe);
  u->sqes_ = ::mmap(nullptr, u->sqes_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    u->fd_, IORING_OFF_SQES);
  if (u->sqes_ == MAP_FAILED) {
    u->sqes_ = nullptr;
    why = std::string("mmap of the io_uring: ") + std::strerror(errno);
    return nullptr;
  }
  u->sq_head_ = at<std::atomic<unsigned>>(u->sq_map_, p.sq_off.head);
  u->sq_tail_ = at<std::atomic<unsigned>>(u->sq_map_, p.sq_off.tail);
  u->sq_mask_ = *at<unsigned>(u->sq_map_, p.sq_off.ring_mask);
  u->sq_entries_ = p.sq_entries;
  u->sq_array_ = at<unsigned>(u->sq_map_, p.sq_off.array);
  u->cq_head_ = at<std::atomic<unsigned>>(u->cq_map_, p.cq_off.head);
  u->cq_tail_ = at<std::atomic<unsigned>>(u->cq_map_, p.cq_off.tail);
  u->cq_mask_ = *at<unsigned>(u->cq_map_, p.cq_off.ring_mask);
  u->cqes_ = at<const Cqe>(u->cq_map_, p.cq_off.cqes);

  // The probe: a wait on a word that does not hold the value given comes back at once, EAGAIN,
  // where the kernel knows the operation (EINVAL before 6.7, which knows no opcode 51). (A word
  // of our own, which nobody else changes: the wait cannot block.)
  const std::atomic<std::uint32_t> probe{0};
  if (!u->queue_futex_wait(probe, 1, 0) || !u->submit()) {
    why = std::string("io_uring_enter: ") + std::strerror(errno);
    return nullptr;
  }
  int res = 1;
  while (res == 1) {
    u->reap([&](std::uint64_t, std::int32_t r) { res = r; });
    if (res != 1) break;
    if (sys_enter(u->fd_, 0, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR) {
      why = std::string("io_uring_enter: ") + std::strerror(errno);
      return nullptr;
    }
  }
  if (res != -EAGAIN) {
    why = std::string("the kernel's io_uring cannot wait on a futex (Linux 6.7+): ") +
          std::strerror(-res);
    return nullptr;
  }
  return u;
}

FutexUring::~FutexUring() {
  if (sqes_ != nullptr) ::munmap(sqes_, sqes_bytes_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) ::munmap(cq_map_, cq_map_bytes_);
  if (sq_map_ != nullptr) ::munmap(sq_map_, sq_map_bytes_);
  if (fd_ >= 0) ::close(fd_);  // (cancels what is still queued)
}

bool FutexUring::register_eventfd(int eventfd) noexcept {
  return sys_register(fd_, IORING_REGISTER_EVENTFD, &eventfd, 1) == 0;
}

void* FutexUring::next_sqe() noexcept {
  const unsigned tail = sq_tail_->load(std::memory_order_relaxed) + queued_;
  if (tail - sq_head_->load(std::memory_order_acquire) >= sq_entries_) return nullptr;
  const unsigned i = tail & sq_mask_;
  io_uring_sqe* sqe = static_cast<io_uring_sqe*>(sqes_) + i;
  std::memset(sqe, 0, sizeof *sqe);
  sq_array_[i] = i;
  ++queued_;
  return sqe;
}

bool FutexUring::queue_futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                                  std::uint64_t user_data) noexcept {
  auto* sqe = static_cast<io_uring_sqe*>(next_sqe());
  if (sqe == nullptr) return false;
  sqe->opcode = kOpFutexWait;
  sqe->fd = static_cast<std::int32_t>(kFutex2SizeU32);  // (the futex2 flags go in fd)
  sqe->addr = reinterpret_cast<std::uint64_t>(&word);
  sqe->addr2 = expected;
  sqe->addr3 = kFutexMatchAny;
  sqe->user_data = user_data;
  return true;
}

bool FutexUring::queue_timeout(std::uint64_t ns, std::uint64_t user_data) noexcept {
  if (timer_queued_) return false;
  auto* sqe = static_cast<io_uring_sqe*>(next_sqe());
  if (sqe == nullptr) return false;
  timer_queued_ = true;
  Timespec& ts = timer_;
  ts.tv_sec = static_cast<std::int64_t>(ns / 1'000'000'000ULL);
  ts.tv_nsec = static_cast<long long>(ns % 1'000'000'000ULL);
  sqe->opcode = IORING_OP_TIMEOUT;
  sqe->addr = reinterpret_cast<std::uint64_t>(&ts);
  sqe->len = 1;
  sqe->off = 0;  // (a pure timer: no completion count)
  sqe->user_data = user_data;
  return true;
}

bool FutexUring::submit() noexcept {
  if (queued_ > 0) {
    sq_tail_->store(sq_tail_->load(std::memory_order_relaxed) + queued_, std::memory_order_release);
    queued_ = 0;
  }
  // Until the kernel has taken every entry (it reads the timer's interval as it takes it).
  for (;;) {
    const unsigned left =
        sq_tail_->load(std::memory_order_relaxed) - sq_head_->load(std::memory_order_acquire);
    if (left == 0) break;
    const int rc = sys_enter(fd_, left, 0, 0);
    if (rc < 0 && errno != EINTR) return false;
    if (rc == 0) return false;  // (taken none: nothing more will come of retrying now)
  }
  timer_queued_ = false;
  return true;
}

}  // namespace shmio::shm::detail
