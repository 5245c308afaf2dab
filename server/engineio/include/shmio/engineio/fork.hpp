// Listening sockets let go of in a process forked from this one without exec.
#pragma once

namespace shmio::engineio {

// Marks `fd`, a listening socket of this process, as one to let go of in every process forked
// from this one without exec: a fork handler points the child's copy of the number at an eventfd
// never written (the child keeps a valid number, which its copies of the objects that own it close
// at their end, and which Asio's notify_fork(fork_child) registers again with epoll, where it never
// becomes readable: an accept pending on it waits; the socket itself stays the parent's). Why: a
// helper an app forks from a worker and leaves running held the worker's listeners after the worker
// died — its TCP listener stayed in the port's SO_REUSEPORT group, a share of new connections
// waiting in a backlog no one accepted, and its hand-off socket was still listened on, so the
// worker's replacement could not bind it and was restarted every 5 s for as long as the helper
// lived (before 2026-12-07; a review). An exec closes them anyway (every listener is
// close-on-exec).
//
// Nothing needs to be undone when the socket is closed: a number closed and taken again by another
// file is told apart by the socket's identity (device and inode, taken here), and its entry is
// reused. At most kMaxForkDroppedListeners live listeners a process are let go of so (a fixed
// table: the child's handler may not allocate; a worker has two); one past that is kept in forks,
// as before, said once on stderr, and the call returns false (true: marked).
//
// A program that means a child to keep them (it daemonizes after it listens, hands its listener
// to a new binary it execs, or forks workers that share it) forks inside a
// KeepListenersAcrossFork scope: a fork made while one lives, by any thread, keeps them in that
// child (whose own forks let go of them again, unless it keeps them too).
inline constexpr int kMaxForkDroppedListeners = 256;
bool let_go_in_forks(int fd) noexcept;
class KeepListenersAcrossFork {
 public:
  KeepListenersAcrossFork() noexcept;
  ~KeepListenersAcrossFork();
  KeepListenersAcrossFork(const KeepListenersAcrossFork&) = delete;
  KeepListenersAcrossFork& operator=(const KeepListenersAcrossFork&) = delete;
};

}  // namespace shmio::engineio
