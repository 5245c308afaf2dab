#include "uring.hpp"

#include <cerrno>
#include <cstring>

#ifdef SHMIO_HAVE_LIBURING
#include <liburing.h>
#endif

namespace shmio::engineio::detail {

#ifdef SHMIO_HAVE_LIBURING
struct UringFlusher::Impl {
  io_uring ring{};
  unsigned depth = 0;
};

std::unique_ptr<UringFlusher> UringFlusher::open(unsigned depth, std::string& why) {
  auto impl = std::make_unique<Impl>();
  impl->depth = depth;
  const int rc = io_uring_queue_init(depth, &impl->ring, 0);
  if (rc < 0) {
    why = std::strerror(-rc);
    return nullptr;
  }
  return std::unique_ptr<UringFlusher>(new UringFlusher(std::move(impl)));
}

UringFlusher::~UringFlusher() {
  if (impl_) io_uring_queue_exit(&impl_->ring);
}

bool UringFlusher::send_all(const std::vector<int>& fds, std::vector<msghdr>& msgs,
                            std::vector<long>& results) {
  // A message not sent reads as -EAGAIN: its link waits for EPOLLOUT and writes it then (with
  // sendmsg). After a failed submission the ring is not used again (usable() turns false): what
  // might still sit in its queue is never submitted later, so nothing is sent twice.
  results.assign(fds.size(), -EAGAIN);
  std::size_t next = 0;
  while (next < fds.size() && !broken_) {
    const std::size_t want = std::min<std::size_t>(impl_->depth, fds.size() - next);
    std::size_t prepared = 0;
    for (; prepared < want; ++prepared) {
      io_uring_sqe* sqe = io_uring_get_sqe(&impl_->ring);
      if (sqe == nullptr) break;
      io_uring_prep_sendmsg(sqe, fds[next + prepared], &msgs[next + prepared],
                            MSG_NOSIGNAL | MSG_DONTWAIT);
      io_uring_sqe_set_data64(sqe, next + prepared);
    }
    int rc;
    do {
      rc = io_uring_submit_and_wait(&impl_->ring, static_cast<unsigned>(prepared));
    } while (rc == -EINTR);
    if (rc < 0) {
      broken_ = true;
      return next > 0;  // false: nothing at all was sent, the caller writes everything itself
    }
    // The messages taken (the first rc) read as -EIO until their completion says: one whose
    // completion cannot be read may have been sent or not, so its link closes rather than write
    // it again (read as -EAGAIN before 2026-12-06, and written again: bytes twice in the stream;
    // not seen, the sends completing within the submission; a helper's review).
    for (std::size_t k = 0; k < static_cast<std::size_t>(rc); ++k) results[next + k] = -EIO;
    std::size_t seen = 0;
    while (seen < static_cast<std::size_t>(rc)) {
      io_uring_cqe* cqe = nullptr;
      int w;
      do {
        w = io_uring_wait_cqe(&impl_->ring, &cqe);
      } while (w == -EINTR);
      if (w < 0 || cqe == nullptr) {
        broken_ = true;
        break;
      }
      const std::uint64_t i = io_uring_cqe_get_data64(cqe);
      if (i < results.size()) results[i] = cqe->res;
      io_uring_cqe_seen(&impl_->ring, cqe);
      ++seen;
    }
    if (static_cast<std::size_t>(rc) < prepared) broken_ = true;  // not all were taken
    next += prepared;
  }
  return true;
}
#else
struct UringFlusher::Impl {};

std::unique_ptr<UringFlusher> UringFlusher::open(unsigned, std::string& why) {
  why = "built without liburing";
  return nullptr;
}

UringFlusher::~UringFlusher() = default;

bool UringFlusher::send_all(const std::vector<int>&, std::vector<msghdr>&, std::vector<long>&) {
  broken_ = true;
  return false;
}
#endif

UringFlusher::UringFlusher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

}  // namespace shmio::engineio::detail
