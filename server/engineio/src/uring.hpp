// The end-of-turn flush as one io_uring submission (issue 10, item 4; docs/server.md, "Delivery
// engine"): every corked WebSocket's write of the turn becomes one IORING_OP_SENDMSG, and the
// turn makes one io_uring_enter for all of them instead of one sendmsg system call per socket.
// shmio-flush-bench measured it at 0.68-0.82x the CPU per socket write of sendmsg on the dev VM.
// MSG_DONTWAIT on every send: a socket whose buffer is full completes at once with -EAGAIN
// (never parked in the kernel), exactly as the sendmsg path sees it.
// Unavailable (a kernel without io_uring, seccomp or a container policy that forbids it, or
// liburing absent at build time): open() says why and the server flushes with sendmsg.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace shmio::engineio::detail {

class UringFlusher {
 public:
  // nullptr and `why` set when io_uring cannot be used here.
  static std::unique_ptr<UringFlusher> open(unsigned depth, std::string& why);
  ~UringFlusher();
  UringFlusher(const UringFlusher&) = delete;
  UringFlusher& operator=(const UringFlusher&) = delete;

  // Sends every message (fd, msghdr) of the batch; results[i] gets message i's result (bytes
  // written, or -errno). Returns false if the submission itself failed (then nothing was sent:
  // the caller writes them itself).
  bool send_all(const std::vector<int>& fds, std::vector<msghdr>& msgs, std::vector<long>& results);
  // False after a submission failed: the server goes back to sendmsg for good.
  bool usable() const noexcept { return !broken_; }

 private:
  bool broken_ = false;
  struct Impl;
  explicit UringFlusher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmio::engineio::detail
