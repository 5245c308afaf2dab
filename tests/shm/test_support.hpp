// Helpers for the ring tests: unique names, records that check themselves, child processes.
#pragma once

#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "shmio/shm/ring.hpp"

namespace shmio::test {

// A ring name unique to this process and call, removed when the guard goes away.
class RingName {
 public:
  explicit RingName(const std::string& what) {
    static int counter = 0;
    name_ = "test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    (void)shm::Segment::remove(name_);
  }
  ~RingName() { (void)shm::Segment::remove(name_); }
  RingName(const RingName&) = delete;
  RingName& operator=(const RingName&) = delete;
  const std::string& str() const { return name_; }
  operator const std::string&() const { return name_; }  // NOLINT

 private:
  std::string name_;
};

inline shm::Segment make_ring(const std::string& name, std::uint64_t capacity = 1 << 20,
                              std::uint32_t max_record = 0, bool exclusive_producer = false,
                              std::uint16_t max_producers = 64, bool fenced_commits = false) {
  shm::RingConfig cfg;
  cfg.name = name;
  cfg.capacity = capacity;
  cfg.max_record = max_record;
  cfg.exclusive_producer = exclusive_producer;
  cfg.max_producers = max_producers;
  cfg.fenced_commits = fenced_commits;
  auto s = shm::Segment::create(cfg);
  if (!s) throw std::runtime_error("create failed: " + s.error().message);
  return std::move(s).value();
}

// FNV-1a, enough to catch torn or misplaced bytes.
inline std::uint64_t fnv1a(const std::byte* p, std::size_t n,
                           std::uint64_t h = 1469598103934665603ULL) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<std::uint8_t>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

// A self-checking record: [producer u32][seq u64][checksum u64][body...]; the checksum covers the
// producer, the sequence number and the body, so torn, stale or misplaced bytes are detected.
struct CheckedRecord {
  static constexpr std::size_t kHeader = 20;
  static void fill(std::span<std::byte> out, std::uint32_t producer, std::uint64_t seq) {
    std::memcpy(out.data(), &producer, 4);
    std::memcpy(out.data() + 4, &seq, 8);
    std::uint64_t x = seq * 0x9E3779B97F4A7C15ULL + producer;
    for (std::size_t i = kHeader; i < out.size(); ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      out[i] = static_cast<std::byte>(x);
    }
    std::uint64_t sum = checksum(out);
    std::memcpy(out.data() + 12, &sum, 8);
  }
  static std::uint64_t checksum(std::span<const std::byte> r) {
    std::uint64_t h = fnv1a(r.data(), 12);
    return fnv1a(r.data() + kHeader, r.size() - kHeader, h);
  }
  static bool valid(std::span<const std::byte> r) {
    if (r.size() < kHeader) return false;
    std::uint64_t sum;
    std::memcpy(&sum, r.data() + 12, 8);
    return sum == checksum(r);
  }
  static std::uint32_t producer(std::span<const std::byte> r) {
    std::uint32_t p;
    std::memcpy(&p, r.data(), 4);
    return p;
  }
  static std::uint64_t seq(std::span<const std::byte> r) {
    std::uint64_t s;
    std::memcpy(&s, r.data() + 4, 8);
    return s;
  }
};

// Calls read_some (one poll) until the reader is at `tail`, at most 100 times: a poll delivers at
// most 256 records, and one that finds the reader lapped resyncs and delivers none.
template <class ReadSome>
void read_to_tail(const shm::RingReader& r, std::uint64_t tail, ReadSome&& read_some) {
  for (int i = 0; i < 100 && r.position() != tail; ++i) read_some();
}

// One step of a random mix of publishes through `w`, for the lapping tests: a batch of 1-4
// records, a single record or an aborted claim (padding), and with `claims` also a record written
// in place through claim()/commit(). Payloads (in `buf`, at least 4 * 300 bytes) are CheckedRecords
// of producer 0 numbered by `published`, which counts them. False if a call did not succeed (or
// commit() returned another position than its claim's).
inline bool publish_random_step(shm::RingWriter& w, std::mt19937& rng, std::vector<std::byte>& buf,
                                std::uint64_t& published, bool claims) {
  using shm::PublishStatus;
  const std::size_t n = CheckedRecord::kHeader + rng() % 280;
  enum { batch, single, in_place, aborted } step;
  const auto pick = rng() % (claims ? 4 : 3);
  if (claims) {
    step = pick == 0 ? batch : pick == 1 ? in_place : pick == 2 ? single : aborted;
  } else {
    step = pick == 0 ? batch : pick == 1 ? single : aborted;
  }
  switch (step) {
    case batch: {
      shm::BatchRecord records[4];
      const std::size_t k = 1 + rng() % 4;
      for (std::size_t b = 0; b < k; ++b) {
        std::span<std::byte> part{buf.data() + b * 300, n};
        CheckedRecord::fill(part, 0, published++);
        records[b] = {1, part};
      }
      return w.publish_batch({records, k}) == PublishStatus::ok;
    }
    case in_place: {
      auto claim = w.claim(n, 1);
      if (claim.status != PublishStatus::ok) return false;
      CheckedRecord::fill(claim.payload, 0, published++);
      return w.commit() == claim.position;
    }
    case single:
      CheckedRecord::fill({buf.data(), n}, 0, published++);
      return w.publish(1, {buf.data(), n}) == PublishStatus::ok;
    case aborted:
      if (w.claim(n, 1).status != PublishStatus::ok) return false;
      w.abort();
      return true;
  }
  return false;
}

// Runs fn in a forked child; the child exits with fn's return value (or 99 on exception).
inline pid_t spawn(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = fn();
    } catch (...) {
    }
    ::_exit(rc);
  }
  return pid;
}

// Waits for a child; returns its exit code, or 128 + signal; -1 if it cannot be waited for (no
// such child: a failed spawn's -1, one reaped already). (It looped for ever on such an error
// before 2026-12-06, and the test hung until ctest's timeout.)
inline int join(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A one-shot start line for processes: children block until the parent releases them.
class StartLine {
 public:
  StartLine() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe");
  }
  ~StartLine() {
    close_fd(fds_[0]);
    close_fd(fds_[1]);
  }
  void wait_in_child() {
    close_fd(fds_[1]);
    char c;
    [[maybe_unused]] auto n = ::read(fds_[0], &c, 1);  // returns 0 when the parent closes
  }
  void release() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

}  // namespace shmio::test
