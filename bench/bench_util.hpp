// Helpers for the shmio microbenchmarks (shm_ring_bench.cpp):
// - the CPU list benchmarks pin to (--cpus) and round-robin pinning over it;
// - SharedArray: anonymous MAP_SHARED memory, created before fork() and shared with the children
//   (where they report their results);
// - ChildGroup: forked child processes with a start barrier (a ready pipe, then a futex "go" word)
//   and reaping with a timeout, so that a failed child fails the benchmark instead of hanging it;
// - percentiles.
// Everything here is for a single-threaded parent (Google Benchmark's main thread).
#pragma once

#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "shmio/shm/process.hpp"

namespace shmio::bench {

// ---------------------------------------------------------------------------------------------
// CPUs

// The CPUs in the calling thread's affinity mask, ascending; pinning (shm/process.hpp).
using shmio::shm::affinity_cpus;
using shmio::shm::pin_to_cpu;

// Parses "0,1" or "0-3,6" into CPU numbers (order kept, duplicates refused). Returns an error
// message, empty on success.
inline std::string parse_cpu_list(std::string_view text, std::vector<int>& out) {
  out.clear();
  auto number = [](std::string_view s, int& v) {
    if (s.empty() || s.size() > 4) return false;
    v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    return v < CPU_SETSIZE;
  };
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t dash = item.find('-');
    int lo = 0, hi = 0;
    if (dash == std::string_view::npos) {
      if (!number(item, lo)) return "bad CPU number '" + std::string(item) + "'";
      hi = lo;
    } else if (!number(item.substr(0, dash), lo) || !number(item.substr(dash + 1), hi) || hi < lo) {
      return "bad CPU range '" + std::string(item) + "'";
    }
    for (int c = lo; c <= hi; ++c) {
      if (std::find(out.begin(), out.end(), c) != out.end())
        return "CPU " + std::to_string(c) + " listed twice";
      out.push_back(c);
    }
  }
  if (out.empty()) return "empty CPU list";
  return {};
}

// The CPUs that benchmarks pin to, in order. Set once by main() before any benchmark runs (and
// so inherited by every forked child).
inline std::vector<int>& cpu_list() {
  static std::vector<int> cpus;
  return cpus;
}

// The CPU of participant k (producers first, then readers, or thread 0, thread 1): round-robin
// over cpu_list().
inline int cpu_for(std::size_t k) {
  const std::vector<int>& cpus = cpu_list();
  return cpus.empty() ? -1 : cpus[k % cpus.size()];
}

// True if `participants` busy processes or threads would share CPUs of the list.
inline bool oversubscribed(std::size_t participants) {
  return participants > cpu_list().size();
}

// Pins the calling thread for a scope and restores its previous mask afterwards.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    CPU_ZERO(&saved_);
    saved_ok_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    pinned_ = pin_to_cpu(cpu);
  }
  ~ScopedPin() {
    if (saved_ok_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;
  bool pinned() const noexcept { return pinned_; }

 private:
  cpu_set_t saved_;
  bool saved_ok_ = false;
  bool pinned_ = false;
};

// ---------------------------------------------------------------------------------------------
// Time and statistics

inline std::uint64_t now_ns() noexcept {
  return shmio::shm::monotonic_ns();
}

// Nearest-rank percentile (p in [0, 100]) of an ascending-sorted sample; 0 if empty.
inline double percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size());
  std::size_t i = static_cast<std::size_t>(rank);
  if (static_cast<double>(i) < rank) ++i;  // ceil
  i = std::clamp<std::size_t>(i, 1, sorted.size());
  return static_cast<double>(sorted[i - 1]);
}

// ---------------------------------------------------------------------------------------------
// Shared memory that survives fork()

// `count` value-initialised T in an anonymous MAP_SHARED mapping: created by the parent before
// fork(), written by the children, read by the parent after it reaped them.
template <class T>
class SharedArray {
  static_assert(std::is_trivially_destructible_v<T>, "the mapping is unmapped, not destroyed");

 public:
  explicit SharedArray(std::size_t count = 1) : count_(count), bytes_(count * sizeof(T)) {
    if (bytes_ == 0) bytes_ = sizeof(T);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    data_ = static_cast<T*>(p);
    for (std::size_t i = 0; i < count_; ++i) new (data_ + i) T{};
  }
  ~SharedArray() { ::munmap(data_, bytes_); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;

  T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  // Value-initialises every element again (between iterations; no child may be running).
  void reset() const {
    for (std::size_t i = 0; i < count_; ++i) new (data_ + i) T{};
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Forked children with a start barrier

inline long futex_op(std::atomic<std::uint32_t>* word, int op, std::uint32_t val) noexcept {
  // Shared futex (no FUTEX_PRIVATE_FLAG): the word lives in a MAP_SHARED mapping.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, nullptr, nullptr, 0);
}

// What a child sees of its group.
class ChildContext {
 public:
  // Tells the parent that this child is set up, then blocks until the parent starts the group.
  // Returns false if the parent aborted instead (another child failed): return 0 then.
  bool ready_and_wait() {
    const char c = 'R';
    ready_sent_ = ::write(ready_fd_, &c, 1) == 1;
    for (;;) {
      const std::uint32_t g = go_->load(std::memory_order_acquire);
      if (g != kWait) return g == kGo;
      futex_op(go_, FUTEX_WAIT, kWait);
    }
  }
  // Records why the child failed (shown by the parent) and returns the exit code to return.
  int fail(const std::string& message) {
    std::snprintf(error_, kErrorBytes, "%s", message.c_str());
    return 1;
  }
  std::size_t index() const noexcept { return index_; }

  static constexpr std::uint32_t kWait = 0, kGo = 1, kAbort = 2;
  static constexpr std::size_t kErrorBytes = 200;

 private:
  friend class ChildGroup;
  ChildContext(std::size_t index, int ready_fd, std::atomic<std::uint32_t>* go, char* error)
      : index_(index), ready_fd_(ready_fd), go_(go), error_(error) {}
  std::size_t index_;
  int ready_fd_;
  std::atomic<std::uint32_t>* go_;
  char* error_;
  bool ready_sent_ = false;
};

// A set of forked children that start together.
//
//   ChildGroup g;
//   g.spawn("reader 0", [&](ChildContext& ctx) { ...set up...; if (!ctx.ready_and_wait())
//                                                 return 0; ...run...; return 0; });
//   if (!g.wait_ready(&error)) ...;   // every child is set up (or one failed)
//   g.start();                          // releases them all at once
//   error = g.reap();                   // waits for all; "" if every child exited 0
//
// A child runs its function, then _exit()s with its return value: it never returns into the
// parent's code, runs no atexit handlers and flushes no inherited stdio buffers. The parent must
// be single-threaded at spawn() time. SIGCHLD is blocked in the calling thread so that reap()
// can wait for it with a timeout.
class ChildGroup {
 public:
  static constexpr std::size_t kMaxChildren = 32;

  ChildGroup() : shared_(1) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  ~ChildGroup() {
    // Only on an error path: end (by pid) the children of this group that are still running.
    if (!children_.empty()) {
      shared_[0].go.store(ChildContext::kAbort, std::memory_order_release);
      futex_op(&shared_[0].go, FUTEX_WAKE, INT_MAX);
      for (const Child& c : children_) {
        if (c.reaped) continue;
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
      }
    }
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0) ::close(write_fd_);
  }
  ChildGroup(const ChildGroup&) = delete;
  ChildGroup& operator=(const ChildGroup&) = delete;

  // Forks a child running fn. `what` names it in error messages.
  void spawn(std::string what, std::function<int(ChildContext&)> fn) {
    const std::size_t index = children_.size();
    if (index >= kMaxChildren) throw std::runtime_error("too many children");
    std::fflush(nullptr);  // nothing buffered may be written twice
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
      ::close(read_fd_);
      ChildContext ctx(index, write_fd_, &shared_[0].go, shared_[0].errors[index]);
      int rc = 1;
      try {
        rc = fn(ctx);
      } catch (const std::exception& e) {
        rc = ctx.fail(std::string("exception: ") + e.what());
      } catch (...) {
        rc = ctx.fail("unknown exception");
      }
      if (!ctx.ready_sent_) {
        const char c = 'E';  // failed before it was ready: tell the parent not to wait for it
        [[maybe_unused]] const ssize_t n = ::write(write_fd_, &c, 1);
      }
      ::_exit(rc);
    }
    children_.push_back(Child{pid, std::move(what)});
  }

  // Waits until every child called ready_and_wait(). Returns false (with a reason) if one failed
  // before that, or on timeout.
  bool wait_ready(std::string* error, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (write_fd_ >= 0) {
      ::close(write_fd_);  // EOF once every child has exited
      write_fd_ = -1;
    }
    const std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>(timeout.count()) * 1000000000ULL;
    std::size_t ready = 0;
    while (ready < children_.size()) {
      const std::uint64_t now = now_ns();
      if (now >= deadline) {
        *error = "children not ready after " + std::to_string(timeout.count()) + " s";
        return false;
      }
      pollfd p{read_fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>((deadline - now) / 1000000 + 1));
      if (rc < 0 && errno != EINTR) {
        *error = std::string("poll: ") + std::strerror(errno);
        return false;
      }
      if (rc <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(read_fd_, buf, sizeof buf);
      if (n == 0) {
        *error = "a child exited before it was ready: " + failure_summary();
        return false;
      }
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != 'R') {
          *error = "a child failed while setting up: " + failure_summary();
          return false;
        }
        ++ready;
      }
    }
    return true;
  }

  void start() { release(ChildContext::kGo); }
  void abort() { release(ChildContext::kAbort); }

  // Waits for every child to exit (SIGKILLs the rest after `timeout`). Returns "" if all exited
  // with status 0, otherwise what went wrong.
  std::string reap(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>(timeout.count()) * 1000000000ULL;
    bool timed_out = false;
    for (;;) {
      bool all = true;
      for (Child& c : children_) {
        if (c.reaped) continue;
        int status = 0;
        const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
        if (r == c.pid) {
          c.reaped = true;
          c.status = status;
        } else {
          all = false;
        }
      }
      if (all) break;
      const std::uint64_t now = now_ns();
      if (now >= deadline) {
        timed_out = true;
        for (Child& c : children_) {
          if (c.reaped) continue;
          ::kill(c.pid, SIGKILL);
          ::waitpid(c.pid, &c.status, 0);
          c.reaped = true;
          c.hung = true;
        }
        break;
      }
      // Sleep until a child exits (SIGCHLD is blocked, so it stays pending until taken here).
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGCHLD);
      const std::uint64_t left = deadline - now;
      timespec ts{static_cast<time_t>(left / 1000000000ULL),
                  static_cast<long>(left % 1000000000ULL)};
      ::sigtimedwait(&set, nullptr, &ts);
    }
    std::string summary = failure_summary();
    if (timed_out) summary = "timed out (children killed): " + summary;
    children_.clear();
    return summary;
  }

 private:
  struct Shared {
    std::atomic<std::uint32_t> go{ChildContext::kWait};
    char errors[kMaxChildren][ChildContext::kErrorBytes]{};
  };
  struct Child {
    pid_t pid;
    std::string what;
    bool reaped = false;
    bool hung = false;
    int status = 0;
  };

  void release(std::uint32_t value) {
    shared_[0].go.store(value, std::memory_order_release);
    futex_op(&shared_[0].go, FUTEX_WAKE, INT_MAX);
  }

  // One line per child that failed (or every child's message so far, if none has exited).
  std::string failure_summary() const {
    std::string out;
    for (std::size_t i = 0; i < children_.size(); ++i) {
      const Child& c = children_[i];
      std::string why = shared_[0].errors[i];
      if (c.hung) {
        why = "hung" + (why.empty() ? std::string() : ": " + why);
      } else if (c.reaped && WIFSIGNALED(c.status)) {
        why = "killed by signal " + std::to_string(WTERMSIG(c.status));
      } else if (c.reaped && WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0 && why.empty()) {
        why = "exit status " + std::to_string(WEXITSTATUS(c.status));
      } else if (c.reaped && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0) {
        why.clear();
      }
      if (why.empty()) continue;
      if (!out.empty()) out += "; ";
      out += c.what + ": " + why;
    }
    return out;
  }

  SharedArray<Shared> shared_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::vector<Child> children_;
};

}  // namespace shmio::bench
