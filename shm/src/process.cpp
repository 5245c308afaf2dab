#include "shmio/shm/process.hpp"

#include <sched.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <signal.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace shmio::shm {
namespace {

struct StatFields {
  char state = 0;
  std::uint64_t start_time = 0;
};

enum class Read { ok, gone, unknown };

// Reads /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
// spaces or parentheses, so fields are counted from the last ')'. gone: no such entry (ENOENT;
// ESRCH while the process is being reaped); unknown: open() or read() failed otherwise.
Read read_stat_at(const char* path, pid_t pid, StatFields& out) noexcept;

Read read_stat(pid_t pid, StatFields& out) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  return read_stat_at(path, pid, out);
}

// (`path` is /proc/<pid>/stat or one of its threads' /proc/<pid>/task/<tid>/stat.)
Read read_stat_at(const char* path, pid_t pid, StatFields& out) noexcept {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH) return Read::gone;
    // Out of descriptors, or not allowed to read it (/proc mounted hidepid, another user's): the
    // signal-0 probe needs no descriptor and says whether the pid exists at all (not whose it is:
    // an existing pid stays unknown, judged alive).
    return ::kill(pid, 0) != 0 && errno == ESRCH ? Read::gone : Read::unknown;
  }
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) return read_errno == ESRCH ? Read::gone : Read::unknown;
  if (n == 0) return Read::gone;
  buf[n] = '\0';
  // (A line we cannot parse counts as no process, as it always did.)
  char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return Read::gone;
  p += 2;  // now at field 3 (state)
  out.state = *p;
  // skip to field 22: we are at field 3, so 19 more separators
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return Read::gone;
    ++p;
  }
  out.start_time = std::strtoull(p, nullptr, 10);
  return Read::ok;
}

// Whether a process whose /proc/<pid>/stat says zombie ('Z') still has a live thread: its main
// thread called pthread_exit() and the others run on (the leader stays a zombie until the last
// one ends). Judged alive (true) where the listing cannot be read for another reason than the
// process being gone, as every look here. (Before 2026-12-07 such a process was taken for dead:
// its ring slots repaired, its locks taken, while its threads still wrote; a review.)
bool threads_outlive_leader(pid_t pid) noexcept {
  char dir_path[64];
  std::snprintf(dir_path, sizeof dir_path, "/proc/%d/task", static_cast<int>(pid));
  DIR* dir = ::opendir(dir_path);
  if (dir == nullptr) return errno != ENOENT && errno != ESRCH;
  bool live = false;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(dir);
    if (e == nullptr) {
      live = errno != 0;
      break;
    }
    char* end = nullptr;
    const unsigned long tid = std::strtoul(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || tid == 0 || tid == static_cast<unsigned long>(pid))
      continue;
    char path[96];
    std::snprintf(path, sizeof path, "/proc/%d/task/%lu/stat", static_cast<int>(pid), tid);
    StatFields f;
    const Read r = read_stat_at(path, static_cast<pid_t>(tid), f);
    if (r == Read::gone) continue;
    if (r == Read::unknown || (f.state != 'Z' && f.state != 'X' && f.state != 'x')) {
      live = true;
      break;
    }
  }
  ::closedir(dir);
  return live;
}

// A state in /proc/<pid>/stat that says the process will run no more.
bool ended(pid_t pid, char state) noexcept {
  return state == 'X' || state == 'x' || (state == 'Z' && !threads_outlive_leader(pid));
}

}  // namespace

ProcessLook look_up_process(pid_t pid) noexcept {
  if (pid <= 0) return {ProcessLook::Is::gone, 0};
  StatFields f;
  switch (read_stat(pid, f)) {
    case Read::gone:
      return {ProcessLook::Is::gone, 0};
    case Read::unknown:
      return {ProcessLook::Is::unknown, 0};
    case Read::ok:
      break;
  }
  if (ended(pid, f.state)) return {ProcessLook::Is::gone, 0};
  return {ProcessLook::Is::alive, f.start_time, f.state};
}

std::uint64_t process_start_time(pid_t pid) noexcept {
  StatFields f;
  return read_stat(pid, f) == Read::ok ? f.start_time : 0;
}

ProcessIdentity self_identity() noexcept {
  // Cached for the process (every thread, after the first read anywhere in it; a forked child,
  // whose pid differs, reads its own): a thread started while descriptors run out must not read
  // a start time of 0 that others would take for another process's. A failed read is not cached.
  // One word holds both, pid above kStartBits bits of start time (a pid is below 2^22,
  // PID_MAX_LIMIT; a start time in clock ticks below 2^42 for ages): read whole, never one half
  // of each process's. (Before 2026-12-06 they were two words: in a forked child with two
  // threads, one could read the parent's start time beside the child's pid while the other
  // rewrote them, and name the process by an identity other processes judge dead; a review.)
  constexpr int kStartBits = 42;
  static std::atomic<std::uint64_t> cached{0};
  const pid_t pid = ::getpid();
  const std::uint64_t c = cached.load(std::memory_order_relaxed);
  if (c != 0 && (c >> kStartBits) == static_cast<std::uint64_t>(pid))
    return ProcessIdentity{pid, c & ((std::uint64_t{1} << kStartBits) - 1)};
  const std::uint64_t fresh = process_start_time(pid);
  if (fresh == 0) return ProcessIdentity{pid, 0};  // (read again next time; callers refuse 0)
  if (fresh >> kStartBits == 0 && static_cast<std::uint64_t>(pid) >> (64 - kStartBits) == 0)
    cached.store(static_cast<std::uint64_t>(pid) << kStartBits | fresh, std::memory_order_relaxed);
  return ProcessIdentity{pid, fresh};
}

Liveness liveness(const ProcessIdentity& who) noexcept {
  if (who.pid <= 0) return Liveness::dead;
  StatFields f;
  switch (read_stat(who.pid, f)) {
    case Read::gone:
      return Liveness::dead;
    case Read::unknown:
      return Liveness::alive;  // not judged on a failed look (the header)
    case Read::ok:
      break;
  }
  if (f.start_time != who.start_time) return Liveness::dead;  // the pid was reused
  if (ended(who.pid, f.state)) return Liveness::dead;
  return Liveness::alive;
}

bool no_thread_running(const ProcessIdentity& who) noexcept {
  if (who.pid <= 0 || who.start_time == 0) return false;
  char dir_path[64];
  std::snprintf(dir_path, sizeof dir_path, "/proc/%d/task", static_cast<int>(who.pid));
  DIR* dir = ::opendir(dir_path);
  if (dir == nullptr) return false;
  std::size_t seen = 0;
  bool running = false;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(dir);
    if (e == nullptr) {
      running = errno != 0;  // (a listing cut short judges nothing)
      break;
    }
    char* end = nullptr;
    const unsigned long tid = std::strtoul(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || tid == 0) continue;  // (".", "..")
    char path[96];
    std::snprintf(path, sizeof path, "/proc/%d/task/%lu/stat", static_cast<int>(who.pid), tid);
    StatFields f;
    const Read r = read_stat_at(path, static_cast<pid_t>(tid), f);
    if (r == Read::gone) continue;  // (a thread that ended: its stores were made visible then)
    // Runnable ('R': running, or preempted with its stores perhaps not yet visible) or waking
    // ('W', kernels before 3.14), or a look that failed: not judged.
    if (r == Read::unknown || f.state == 'R' || f.state == 'W') {
      running = true;
      break;
    }
    ++seen;
  }
  ::closedir(dir);
  // (After the look: the pid still names `who`, so the threads seen were its.)
  if (running || seen == 0) return false;
  const ProcessLook look = look_up_process(who.pid);
  return look.is == ProcessLook::Is::alive && look.start_time == who.start_time;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // (Linux 5.3; kernel headers before it lack the name)
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424  // (Linux 5.1)
#endif

int signal_process(const ProcessIdentity& who, int sig) noexcept {
  if (who.pid <= 0 || who.start_time == 0) return EINVAL;  // (no identity to check it by)
  const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, who.pid, 0));
  const ProcessLook look = look_up_process(who.pid);
  if (look.is != ProcessLook::Is::alive || look.start_time != who.start_time) {
    if (pfd >= 0) ::close(pfd);
    return look.is == ProcessLook::Is::unknown ? EAGAIN : ESRCH;  // (unknown: /proc unreadable)
  }
  if (pfd >= 0) {
    const long r = ::syscall(SYS_pidfd_send_signal, pfd, sig, nullptr, 0);
    const int failed = r == 0 ? 0 : errno;
    ::close(pfd);
    // (ENOSYS, EPERM: perhaps a filter that let pidfd_open by; kill() says EPERM again if not.)
    if (failed != ENOSYS && failed != EPERM) return failed;
  }
  return ::kill(who.pid, sig) == 0 ? 0 : errno;
}

std::uint64_t process_tag(const ProcessIdentity& who) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(who.pid)) << 32) |
         (who.start_time & 0xFFFFFFFFULL);
}

bool process_tag_alive(std::uint64_t tag) noexcept {
  const ProcessLook p = look_up_process(static_cast<pid_t>(tag >> 32));
  if (p.is == ProcessLook::Is::unknown) return true;
  return p.is == ProcessLook::Is::alive && (p.start_time & 0xFFFFFFFFULL) == (tag & 0xFFFFFFFFULL);
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::vector<int> affinity_cpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

bool pin_to_cpu(int cpu) noexcept {
  if (cpu < 0) return true;
  if (cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

ThreadSignalsBlocked::ThreadSignalsBlocked() noexcept {
  sigset_t blocked;
  sigfillset(&blocked);
  for (const int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT})
    sigdelset(&blocked, fault);
  ::pthread_sigmask(SIG_SETMASK, &blocked, &before_);
}

ThreadSignalsBlocked::~ThreadSignalsBlocked() {
  ::pthread_sigmask(SIG_SETMASK, &before_, nullptr);
}

}  // namespace shmio::shm
