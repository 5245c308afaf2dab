#include "shmio/engineio/fork.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>

namespace shmio::engineio {

namespace {

// One listener: its number plus one (0: a free entry, as static storage starts), and its
// identity when it was marked. Read by the fork handler in the child, where only async-signal-safe
// calls may be made (fstat, eventfd, dup3, close: system calls): a fixed table of atomics.
struct Entry {
  std::atomic<int> fd_plus_one{0};
  std::atomic<std::uint64_t> dev{0}, ino{0};
};
Entry g_entries[kMaxForkDroppedListeners];
std::once_flag g_handler_once;
std::atomic<int> g_keep{0};  // KeepListenersAcrossFork scopes alive
std::mutex g_marking;        // (one marker at a time: an entry is taken and filled as one step)

// Whether the number is still the socket that was marked (not closed, nor taken by another file).
bool same_file(int fd, std::uint64_t dev, std::uint64_t ino) noexcept {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         static_cast<std::uint64_t>(st.st_dev) == dev &&
         static_cast<std::uint64_t>(st.st_ino) == ino;
}

void let_go_in_child() noexcept {
  // (Kept: a fork made inside a KeepListenersAcrossFork scope. The child's own forks let go.)
  if (g_keep.exchange(0, std::memory_order_relaxed) > 0) return;
  int quiet = -1;
  for (Entry& e : g_entries) {
    const int fd = e.fd_plus_one.load(std::memory_order_acquire) - 1;
    if (fd < 0) continue;
    // (A number whose socket was closed in the parent, maybe another file's now: left alone.)
    if (!same_file(fd, e.dev.load(std::memory_order_relaxed),
                   e.ino.load(std::memory_order_relaxed)))
      continue;
    // An eventfd never written: epoll takes it (Asio's notify_fork(fork_child) registers every
    // descriptor again: on /dev/null, this handler's first choice, epoll_ctl failed with EPERM and
    // notify_fork threw in every such child, a worker of run_supervisor's hooks among them, until
    // 2026-12-07; a review), and it never becomes readable, so an accept still pending on it in a
    // child that runs the loop waits for ever instead of failing over and over.
    if (quiet < 0) quiet = ::eventfd(0, EFD_CLOEXEC);
    if (quiet < 0) return;  // (none to point them at: kept, as before)
    (void)::dup3(quiet, fd, O_CLOEXEC);
  }
  if (quiet >= 0) ::close(quiet);
}

}  // namespace

KeepListenersAcrossFork::KeepListenersAcrossFork() noexcept {
  g_keep.fetch_add(1, std::memory_order_relaxed);
}
KeepListenersAcrossFork::~KeepListenersAcrossFork() {
  // (In a child forked inside the scope the count is 0 already: never below it.)
  int n = g_keep.load(std::memory_order_relaxed);
  while (n > 0 && !g_keep.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

bool let_go_in_forks(int fd) noexcept {
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  std::call_once(g_handler_once,
                 [] { (void)::pthread_atfork(nullptr, nullptr, &let_go_in_child); });
  const std::lock_guard<std::mutex> held(g_marking);
  Entry* free_entry = nullptr;
  for (Entry& e : g_entries) {
    const int was = e.fd_plus_one.load(std::memory_order_relaxed) - 1;
    // Free, or stale: its socket closed (the number free, or another file's now).
    if (was < 0 || was == fd ||
        !same_file(was, e.dev.load(std::memory_order_relaxed),
                   e.ino.load(std::memory_order_relaxed))) {
      free_entry = &e;
      break;
    }
  }
  if (free_entry == nullptr) {  // (the table full of live listeners: this one kept in forks)
    static std::atomic<bool> said{false};
    if (!said.exchange(true, std::memory_order_relaxed))
      std::fprintf(stderr,
                   "shmio: more than %d listeners of this process to let go of in forks: "
                   "listener %d and any more are kept in processes forked from it without exec\n",
                   kMaxForkDroppedListeners, fd);
    return false;
  }
  // (A fork in between may see this entry half written, an old number with the new identity:
  // same_file() then finds no match, and the entry is passed over in that child.)
  free_entry->fd_plus_one.store(0, std::memory_order_relaxed);
  free_entry->dev.store(static_cast<std::uint64_t>(st.st_dev), std::memory_order_relaxed);
  free_entry->ino.store(static_cast<std::uint64_t>(st.st_ino), std::memory_order_relaxed);
  free_entry->fd_plus_one.store(fd + 1, std::memory_order_release);
  return true;
}

}  // namespace shmio::engineio
