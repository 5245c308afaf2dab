// A raw WebSocket client for the C++ server tests (delivery, cluster adapter): blocking connect,
// masked client frames, non-blocking reads, server frames taken out of what was read, so that
// every byte on the wire is the test's to check.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace shmio::test {

class Client {
 public:
  // `receive_buffer` > 0: SO_RCVBUF before connecting (a small window: the server's writes
  // block after a few KB unread).
  explicit Client(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  // Closes with a reset (SO_LINGER 0: an RST, whatever is unread), as a client that vanishes.
  void reset() {
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
    eof_ = true;
  }

  void send_raw(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        ::poll(nullptr, 0, 1);
        continue;
      }
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // A client frame, masked as RFC 6455 requires (unless `masked` is false, to test the refusal).
  static std::string frame(unsigned char first, std::string_view payload, bool masked = true) {
    std::string f;
    f += static_cast<char>(first);
    const unsigned char m = masked ? 0x80 : 0;
    if (payload.size() < 126) {
      f += static_cast<char>(m | payload.size());
    } else if (payload.size() < 65536) {
      f += static_cast<char>(m | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xFF);
    } else {
      f += static_cast<char>(m | 127);
      for (int b = 7; b >= 0; --b) f += static_cast<char>((payload.size() >> (8 * b)) & 0xFF);
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(key, 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      f += masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i];
    return f;
  }
  void send_text(std::string_view s) { send_raw(frame(0x81, s)); }
  // One non-blocking send: the bytes the kernel took now (0 if none), or -1 once the connection
  // is gone (reset, or closed and a write refused).
  long send_some(std::string_view s) {
    const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<long>(n);
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }

  // Reads what is there now (never blocks).
  std::size_t read_available() {
    char buf[65536];
    std::size_t total = 0;
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        total += static_cast<std::size_t>(n);
        ++reads_;
        continue;
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        eof_ = true;  // closed by the server (FIN, or a reset)
      return total;
    }
  }
  std::string& in() { return in_; }
  bool eof() const { return eof_; }

  struct Frame {
    unsigned op;
    std::string payload;
  };
  // Takes whole server frames (unmasked) out of what was read.
  std::vector<Frame> frames() {
    std::vector<Frame> out;
    for (;;) {
      if (in_.size() < 2) break;
      const auto* h = reinterpret_cast<const unsigned char*>(in_.data());
      std::size_t len = h[1] & 0x7F, hl = 2;
      if (len == 126) {
        if (in_.size() < 4) break;
        len = (std::size_t{h[2]} << 8) | h[3];
        hl = 4;
      } else if (len == 127) {
        if (in_.size() < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        hl = 10;
      }
      if (in_.size() < hl + len) break;
      out.push_back({h[0] & 0x0Fu, in_.substr(hl, len)});
      in_.erase(0, hl + len);
    }
    return out;
  }

 private:
  int fd_;
  std::string in_;
  bool eof_ = false;
  int reads_ = 0;
};

// A helper process forked from this one without exec, as an app's long-running helper: made
// (the fork's handlers run in it) once the constructor returns, alive until the object ends it
// and reaps it. (The listener tests: what such a process keeps of the parent's descriptors.)
struct ForkedHelper {
  pid_t pid = -1;
  int gate = -1;  // (its end: closed, the helper ends)
  ForkedHelper() {
    int g[2], ready[2];
    if (::pipe2(g, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(g[1]);
      ::close(ready[0]);
      (void)!::write(ready[1], "r", 1);  // (past the fork's handlers)
      char c;
      while (::read(g[0], &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    ::close(g[0]);
    ::close(ready[1]);
    gate = g[1];
    char c;
    if (pid < 0 || ::read(ready[0], &c, 1) != 1) pid = -1;
    ::close(ready[0]);
  }
  bool alive() const { return pid > 0 && ::kill(pid, 0) == 0; }
  ~ForkedHelper() {
    if (gate >= 0) ::close(gate);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
  }
  ForkedHelper(const ForkedHelper&) = delete;
  ForkedHelper& operator=(const ForkedHelper&) = delete;
};

}  // namespace shmio::test
