// A redis-server of a test's own (Debian's, scripts/setup.sh installs it), on a free port and a
// unix socket, killed at the end: shared by the Redis tests (client_test.cpp, bridge_test.cpp).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmio::test {

using namespace std::chrono_literals;

// Runs `io` until `done` (checked every 2 ms of running) or `bound`; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds bound = 10s) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    io.run_for(2ms);
  }
  return true;
}

// A port nothing listens on now, below the kernel's range for outgoing connections' local ports
// (ip_local_port_range, 32768-60999 by default): a port the kernel picked for bind(0) is in that
// range, and an outgoing connect made before the test's server binds it could take it (a
// redis-server then failed to start, or the test talked to another listener). Random in
// [10000, the range's low end), tried until one binds (the bind checks it is free now).
// 127.0.0.1:`port`.
inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A TCP listener on 127.0.0.1 at a port the kernel picks (written to `port`); -1 if it cannot be
// made. The caller closes it.
inline int loopback_listener(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 8) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

inline std::uint16_t free_port() {
  unsigned low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    unsigned lo = 0, hi = 0;
    if (std::fscanf(f, "%u %u", &lo, &hi) == 2 && lo > 11000 && lo <= 65535) low = lo;
    std::fclose(f);
  }
  static std::mt19937 pick(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<std::uint16_t>(10000 + pick() % (low - 10000));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in a = loopback(port);
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return port;
  }
  // (Thrown: the test fails with it, instead of starting a redis-server on port 0.)
  throw std::runtime_error("no free port below " + std::to_string(low) + " in 1,000 tries");
}

// A redis-server of its own, on `port` (and a unix socket), optionally with a password.
class RedisServer {
 public:
  explicit RedisServer(std::uint16_t port, std::string password = {})
      : port_(port), password_(std::move(password)) {
    socket_ = "/tmp/shmio-redis-test-" + std::to_string(::getpid()) + "-" + std::to_string(port);
  }
  ~RedisServer() { stop(); }
  void start() {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Killed with the test: a test that crashed (an ASan report aborts it) left redis-server
      // holding ctest's output pipe, and ctest waited for it until its timeout (15 minutes, in
      // the .ci/run of 2026-12-05, for a test that had failed in seconds).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // (the test gone before the line above)
      std::vector<std::string> args{
          "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",  "--save", "",
          "--appendonly", "no",     "--unixsocket",        socket_,  "--loglevel", "warning"};
      if (!password_.empty()) {
        args.push_back("--requirepass");
        args.push_back(password_);
      }
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    // Ready once it accepts a connection (at most 10 s), while it runs (one that exited, say on
    // a port taken meanwhile, is said as such: a connection then would be another listener's).
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        ADD_FAILURE() << "redis-server on port " << port_ << " exited (status " << status << ")";
        return;
      }
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      const sockaddr_in a = loopback(port_);
      const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (ok) return;
      ::usleep(10000);
    }
    ADD_FAILURE() << "redis-server did not start on port " << port_;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    ::unlink(socket_.c_str());
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& socket_path() const { return socket_; }

 private:
  std::uint16_t port_;
  std::string password_;
  std::string socket_;
  pid_t pid_ = 0;
};

}  // namespace shmio::test
