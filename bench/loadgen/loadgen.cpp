// shmio-loadgen: a Socket.IO load generator that is a real client (Engine.IO v4 / Socket.IO v5 over
// WebSocket: handshake, ping/pong, CONNECT, EVENT, ACK) on one epoll thread, for the end-to-end
// benchmark (bench/e2e). It talks to any server running the bench app (docs/benchmarks.md, "The app
// every server runs"): shmio and the Node peers alike.
//
//   shmio-loadgen --port P [--ports P1,P2..] --clients N --rooms R --publishers K --rate MSG/S
//                 --duration S --payload BYTES --mode fanout|rooms|echo|idle|hold|self-test
//                 [--server-pid PID] [--room-base B] [--source-base A] [--setup-timeout S]
//                 [--stall-timeout S] [--max-time S] [--per-source N] [--stalled N]
//   shmio-loadgen --mode floor-server --port P
//
// fanout: N subscribers, all in room "r0" (R = 1) or spread over R rooms ("r<i % R>"); K extra
//   publisher connections emit `publish` to "r0" / a random room, open-loop at MSG/S in total.
//   --stalled N (fanout only): N more subscribers join "r0" and then stop reading for good (out
//   of epoll: no recv, no pong), outside the delivery and loss counts: the server's bounded
//   per-socket queue must disconnect them while the others keep receiving. At the end each is
//   drained (non-blocking recv, for at most 30 s, or 10 s without progress) and those that reach
//   EOF or a reset count as `stalled_closed_by_server`. The server's RSS (rss_max) and
//   descriptors (its process tree) are sampled once a second during the run; `stalled_gone_s`
//   is when (s after the first message) its descriptors first fell by half of N (-1: never;
//   needs --server-pid). With --stalled each sample is also a line on stderr: {"t_s",
//   "server_rss","server_fds","delivered","max_ms"} (deliveries to the counted subscribers in
//   that second and their worst latency), and the drain prints its progress there.
// echo: K connections emit `echo` with an ack at MSG/S in total; latency is the ack's round trip.
// idle: N connections that only answer pings; prints the server's RSS per connection.
// hold: N connections held (many connections: bench/e2e --connections). Connects them (at most 256
//   handshakes in flight) and prints a JSON line {"phase":"connected",...}: the connect rate and
//   the CLOCK_MONOTONIC times of the first connect() and the last CONNECT ack, so that several
//   load generators side by side can be merged. Then it holds them, answering the server's pings
//   (counted per connection) and counting disconnects and heartbeat timeouts (no ping for
//   pingInterval + pingTimeout, socket.io-client's rule), and obeys lines on stdin:
//     publish  emits one `publish` to null (io.emit: every connection of the cluster, of every
//              load generator) carrying its CLOCK_MONOTONIC send time;
//     report   prints {"phase":"done",...} now (otherwise printed by itself once every connection
//              still open has that broadcast): disconnects, timeouts, pings, and the broadcast's
//              arrival after its send time at this process's first, median and last client;
//     quit, or end of input: closes everything and exits.
//   --max-time S bounds the whole run (then it exits with an error).
// Descriptors: a process may hold at most RLIMIT_NOFILE's hard limit of descriptors (20,000 on
//   the benchmark's VMs, which root cannot raise); more than that less 1,000 connections in one
//   process is refused at start with a message saying so, and EMFILE, a server that stops
//   accepting or answering (no handshake completes for --stall-timeout s) or a setup that takes
//   over --setup-timeout s end the run with a message that says which, never a silent stall.
// self-test: the load generator's own receive capacity. A minimal server (a forked child, no
//   --port needed) answers the handshake, CONNECT and join, then writes pre-built 64 KiB batches
//   of bench-app "msg" events to each of the N subscribers as fast as the kernel takes them; the
//   load generator receives, parses and records them as in a real run and prints messages/s and
//   its CPU time per message (to show it is not the bottleneck of the other modes).
// floor-server: not a client but the benchmark's floor, a bare sender serving the bench app's
//   join/publish/echo on --port P: each publish's "msg" frame is built once and written with
//   exactly one send() per subscriber (see FloorServer). Runs until killed.
//
// Server CPU (--server-pid: the whole process tree, /proc/PID/stat utime and stime) is reported
// per delivery, in total and split into user and system time.
//
// Open loop: message i is due at start + i/rate; it is sent then (or as soon as possible after)
// and carries its due time, so latency counts from when it should have left: a server that
// queues cannot hide it. Every message has a sequence number; loss is counted per sequence
// number (expected receivers minus receipts). One JSON line of results on stdout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdarg>

#include <dirent.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shmio/shm/process.hpp"

namespace {

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// A log-linear latency histogram (HDR-style): 64 sub-buckets per power of two, 1 ns .. ~1e11 ns,
// relative error under 1.6 %.
class Histogram {
 public:
  void add(std::uint64_t v) {
    ++count_;
    max_ = std::max(max_, v);
    buckets_[index(v)]++;
  }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t percentile(double p) const {
    if (count_ == 0) return 0;
    const auto want =
        static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= want) return std::min(upper(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSub = 64;
  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return v;
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - 6;
    return static_cast<std::size_t>((shift + 1) * kSub + static_cast<int>((v >> shift) - kSub));
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < kSub) return i;
    const auto shift = static_cast<int>(i / kSub) - 1;
    return ((i % kSub + kSub + 1) << shift) - 1;
  }
  std::array<std::uint64_t, 64 * 40> buckets_{};
  std::uint64_t count_ = 0, max_ = 0;
};

struct Options {
  std::vector<int> ports;
  int clients = 100, rooms = 1, publishers = 1;
  // Room names start at r<room_base>: several load generators side by side each use rooms of
  // their own, so that each one's expected receivers (and loss count) stay its own.
  int room_base = 0;
  double rate = 100, duration = 3;
  int payload = 64;
  std::string mode = "fanout";
  int server_pid = 0;
  // More process trees whose CPU counts as the server's (--also-pids: a fleet's second host and
  // redis-server, for bench/e2e --only-fleet).
  std::vector<int> also_pids;
  // Connections per source address. The ephemeral range is ~28k ports, but connect() picks
  // even ports first (odd ones are left to bind()) and scans all ~14k of them before trying an
  // odd one: past ~14k connections to one destination from one address, every connect() costs a
  // scan of the whole even range (measured: 400 us of CPU per connection at 16.7k per address,
  // 60 us at 10k). 5,000 keeps the scan short.
  int max_per_ip = 5000;
  // The first source address is 127.0.0.1 + source_base (-1: from the pid, pid % 200): several
  // load generators side by side give each its own (bench/e2e does), so that none runs out of
  // ephemeral ports or meets ports another one left in TIME_WAIT.
  long source_base = -1;
  double setup_timeout = 60;  // s: every connection ready within this, or the run fails
  double stall_timeout = 20;  // s without any handshake completing: the server stopped answering
  double max_time = 0;        // s: hold mode ends with an error after this (0: no bound)
  int stalled = 0;            // fanout: subscribers that stop reading after the join
};

// Descriptors this process keeps beside its connections (stdio, epoll, /proc files), and the
// headroom below RLIMIT_NOFILE's hard limit that no run may use.
constexpr long kDescriptorHeadroom = 1000;

enum class St { connecting, upgrading, open_wait, connect_wait, join_wait, ready, closed };

struct Conn {
  int fd = -1;
  St st = St::connecting;
  int room = -1;  // subscribers: their room
  bool publisher = false;
  std::string in;   // bytes read, not yet parsed
  std::string out;  // bytes to write
  std::size_t out_off = 0;
  std::string frag;      // a fragmented WebSocket message being assembled
  bool want_out = true;  // registered for EPOLLOUT: connecting, or output the kernel did not take
  // hold mode: heartbeats and the broadcast
  std::uint32_t pings = 0;
  std::uint64_t last_heard = 0;  // the Engine.IO open or the last ping (CLOCK_MONOTONIC ns)
  bool timed_out = false;        // no ping for pingInterval + pingTimeout (counted once)
  bool got_bcast = false;
  bool stalled = false;  // fanout --stalled: never read after the join, not counted
};

// One client-to-server WebSocket text frame (masked with a zero key: the XOR is the identity).
void ws_frame(std::string& out, std::string_view payload) {
  out.push_back(static_cast<char>(0x81));
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  out.append(4, '\0');
  out.append(payload);
}

// The fields of /proc/<pid>/stat after the command name (field 3 on); empty if it is gone.
std::vector<std::string> stat_fields(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const std::size_t rp = line.rfind(')');
  std::vector<std::string> out;
  if (rp == std::string::npos || rp + 2 > line.size()) return out;
  std::istringstream ss(line.substr(rp + 2));
  for (std::string field; ss >> field;) out.push_back(std::move(field));
  return out;
}

// The whole tree of a process: its own pid and its descendants'.
std::vector<int> process_tree(int root) {
  std::vector<int> out{root};
  std::vector<std::pair<int, int>> parent;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const int pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      const auto f = stat_fields(pid);
      if (f.size() >= 2) parent.emplace_back(pid, std::atoi(f[1].c_str()));
    }
    closedir(d);
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    for (auto [pid, ppid] : parent)
      if (ppid == out[i]) out.push_back(pid);
  return out;
}

// CPU time (user and system, ns, from /proc/PID/stat utime and stime) and RSS (bytes) of a
// process tree.
struct Usage {
  std::uint64_t user = 0, sys = 0, rss = 0;
  std::uint64_t cpu() const { return user + sys; }
};
Usage usage(int root) {
  Usage u;
  if (root <= 0) return u;
  const auto tick = static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
  for (int pid : process_tree(root)) {
    const auto f = stat_fields(pid);  // f[0] is field 3: utime is field 14, stime 15
    if (f.size() < 13) continue;
    u.user += std::strtoull(f[11].c_str(), nullptr, 10) * 1'000'000'000ULL / tick;
    u.sys += std::strtoull(f[12].c_str(), nullptr, 10) * 1'000'000'000ULL / tick;
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    for (std::string l; std::getline(st, l);)
      if (l.rfind("VmRSS:", 0) == 0) u.rss += std::strtoull(l.c_str() + 6, nullptr, 10) * 1024;
  }
  return u;
}

// Open descriptors of a process tree (-1: unknown).
long fd_count(int root) {
  if (root <= 0) return -1;
  long n = -1;
  for (int pid : process_tree(root)) {
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (d == nullptr) continue;
    n = std::max(n, 0L);
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// CPU time (user + system) of this process, ns.
std::uint64_t self_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ULL +
           static_cast<std::uint64_t>(t.tv_usec) * 1000ULL;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

void pin_to(int cpu) {
  (void)shmio::shm::pin_to_cpu(cpu);  // best effort: an unpinned load generator still works
}

// The self-test's server: just enough Engine.IO / Socket.IO to take a subscriber to "ready" (the
// load generator's frames are masked with a zero key, so their text can be searched as is), then
// an endless stream of events. Runs until killed.
[[noreturn]] void blaster(int lfd, int payload) {
  std::string batch;
  auto frame = [](std::string& out, std::string_view text) {
    out.push_back(static_cast<char>(0x81));
    if (text.size() < 126) {
      out.push_back(static_cast<char>(text.size()));
    } else {
      out.push_back(126);
      out.push_back(static_cast<char>(text.size() >> 8));
      out.push_back(static_cast<char>(text.size() & 0xFF));
    }
    out.append(text);
  };
  const std::string pad(static_cast<std::size_t>(std::max(0, payload - 40)), 'x');
  for (std::uint64_t seq = 0; batch.size() < 65536 - 256; ++seq)
    frame(batch, "42[\"msg\",{\"t\":\"" + std::to_string(now_ns()) +
                     "\",\"seq\":" + std::to_string(seq) + ",\"pad\":\"" + pad + "\"}]");
  struct Peer {
    int phase = 0;  // 0 HTTP, 1 awaiting "40", 2 awaiting the join, 3 streaming
    std::string in, out;
    std::size_t off = 0;
  };
  std::vector<Peer> peers;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.u64 = ~0ULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::array<epoll_event, 256> evs;
  char buf[65536];
  for (;;) {
    const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), -1);
    for (int k = 0; k < n; ++k) {
      const std::uint64_t id = evs[static_cast<std::size_t>(k)].data.u64;
      if (id == ~0ULL) {
        for (int fd; (fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          if (static_cast<std::size_t>(fd) >= peers.size()) peers.resize(fd + 1);
          peers[static_cast<std::size_t>(fd)] = Peer{};
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT;
          ev.data.u64 = static_cast<std::uint64_t>(fd);
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      const int fd = static_cast<int>(id);
      Peer& p = peers[id];
      for (ssize_t r; (r = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        if (p.phase < 3) p.in.append(buf, static_cast<std::size_t>(r));
      if (p.phase == 0 && p.in.find("\r\n\r\n") != std::string::npos) {
        p.out +=
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n\r\n";
        frame(p.out,
              "0{\"sid\":\"self-test\",\"upgrades\":[],\"pingInterval\":600000,"
              "\"pingTimeout\":600000,\"maxPayload\":1000000}");
        p.in.clear();
        p.phase = 1;
      } else if (p.phase == 1 && p.in.find("40") != std::string::npos) {
        frame(p.out, "40{\"sid\":\"self-test\"}");
        p.in.clear();
        p.phase = 2;
      } else if (p.phase == 2 && p.in.find("420[") != std::string::npos) {
        frame(p.out, "430[]");
        p.in.clear();
        p.phase = 3;
      }
      // Write what is pending, then (streaming) batch after batch until the socket is full.
      for (;;) {
        const std::string& src = !p.out.empty() ? p.out : batch;
        if (p.out.empty() && p.phase < 3) break;
        const ssize_t w = ::send(fd, src.data() + p.off, src.size() - p.off, MSG_NOSIGNAL);
        if (w <= 0) break;
        p.off += static_cast<std::size_t>(w);
        if (p.off == src.size()) {
          p.off = 0;
          if (!p.out.empty()) p.out.clear();
        }
      }
    }
  }
}

// ---- floor-server ----------------------------------------------------------------------------
// The floor of a broadcast's cost (bench/e2e's "floor" rows): a bare sender that serves the bench
// app's fan-out (join, publish -> "msg" to the room) and does nothing else. For each `publish` it
// builds the "msg" WebSocket frame once (the bytes the real servers send: 42["msg",<payload>],
// with the publisher's timestamp and sequence number in the payload) and writes it to each member
// of the room with exactly one send() per delivery: no batching across deliveries, no queue unless
// the kernel refuses bytes (then the rest waits for EPOLLOUT, in order). One thread, epoll,
// non-blocking sockets, TCP_NODELAY. Whatever a server spends per delivery above this is its own.

// SHA-1 (RFC 3174), for Sec-WebSocket-Accept only.
std::array<std::uint8_t, 20> sha1(std::string_view msg) {
  std::uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  std::string m(msg);
  const std::uint64_t bits = static_cast<std::uint64_t>(msg.size()) * 8;
  m.push_back(static_cast<char>(0x80));
  while (m.size() % 64 != 56) m.push_back('\0');
  for (int i = 7; i >= 0; --i) m.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  const auto rol = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (std::size_t blk = 0; blk < m.size(); blk += 64) {
    std::uint32_t w[80];
    for (std::size_t i = 0; i < 16; ++i) {
      w[i] = 0;
      for (std::size_t j = 0; j < 4; ++j)
        w[i] = (w[i] << 8) | static_cast<std::uint8_t>(m[blk + 4 * i + j]);
    }
    for (std::size_t i = 16; i < 80; ++i)
      w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (std::size_t i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<std::uint8_t, 20> out{};
  for (std::size_t i = 0; i < 20; ++i)
    out[i] = static_cast<std::uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

std::string base64(const std::uint8_t* p, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(p[i]) << 16) |
                            (i + 1 < n ? static_cast<std::uint32_t>(p[i + 1]) << 8 : 0u) |
                            (i + 2 < n ? static_cast<std::uint32_t>(p[i + 2]) : 0u);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// One server-to-client WebSocket frame (unmasked), `opcode` 0x1 text.
void ws_server_frame(std::string& out, std::string_view payload, int opcode = 0x1) {
  out.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  out.append(payload);
}

class FloorServer {
 public:
  explicit FloorServer(int port) : port_(port) {}

  int run() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    std::signal(SIGPIPE, SIG_IGN);
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7F000001u);
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(lfd, 4096) != 0) {
      std::perror("loadgen: floor-server listen");
      return 1;
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.u64 = ~0ULL;
    epoll_ctl(ep_, EPOLL_CTL_ADD, lfd, &lev);
    std::printf("floor server (one send() per delivery) listening on 127.0.0.1:%d\n", port_);
    std::fflush(stdout);
    std::array<epoll_event, 256> evs;
    std::uint64_t next_ping = now_ns() + kPingIntervalMs * 1'000'000ULL;
    for (;;) {
      const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 1000);
      for (int k = 0; k < n; ++k) {
        const epoll_event& ev = evs[static_cast<std::size_t>(k)];
        if (ev.data.u64 == ~0ULL) {
          accept_all(lfd);
          continue;
        }
        const int fd = static_cast<int>(ev.data.u64);
        if (ev.events & EPOLLOUT) flush(fd);
        if (peers_[static_cast<std::size_t>(fd)].open &&
            (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
          read(fd);
      }
      // Engine.IO heartbeat: the server pings every pingInterval (the load generator pongs).
      if (now_ns() >= next_ping) {
        next_ping = now_ns() + kPingIntervalMs * 1'000'000ULL;
        std::string ping;
        ws_server_frame(ping, "2");
        for (std::size_t fd = 0; fd < peers_.size(); ++fd)
          if (peers_[fd].open && peers_[fd].phase >= 1) deliver(static_cast<int>(fd), ping);
      }
    }
  }

 private:
  static constexpr std::uint64_t kPingIntervalMs = 25000;

  struct Peer {
    bool open = false;
    int phase = 0;  // 0 HTTP request, 1 WebSocket (Engine.IO open sent), 2 Socket.IO connected
    bool want_out = false;
    std::string in, out;  // out: what the kernel did not take yet (sent on EPOLLOUT, in order)
    std::size_t out_off = 0;
    std::vector<std::string> rooms;
  };

  void accept_all(int lfd) {
    for (int fd; (fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= peers_.size())
        peers_.resize(static_cast<std::size_t>(fd) + 1);
      peers_[static_cast<std::size_t>(fd)] = Peer{};
      peers_[static_cast<std::size_t>(fd)].open = true;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = static_cast<std::uint64_t>(fd);
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  void close_peer(int fd) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    if (!p.open) return;
    for (const auto& r : p.rooms) {
      auto it = rooms_.find(r);
      if (it == rooms_.end()) continue;
      auto& v = it->second;
      v.erase(std::remove(v.begin(), v.end(), fd), v.end());
    }
    if (p.phase == 2) --connected_;
    p = Peer{};
    ::close(fd);
  }

  void set_out(int fd, bool on) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    if (p.want_out == on) return;
    p.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
    ev.data.u64 = static_cast<std::uint64_t>(fd);
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
  }

  // One delivery: one send() of the whole frame. Only what the kernel refuses is kept, and then
  // later frames queue behind it (per-socket order) until EPOLLOUT.
  void deliver(int fd, std::string_view frame) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    if (!p.open) return;
    if (!p.out.empty()) {
      p.out.append(frame);
      return;
    }
    const ssize_t w = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    if (w == static_cast<ssize_t>(frame.size())) return;
    if (w < 0 && errno != EAGAIN) return close_peer(fd);
    p.out.assign(frame.substr(w < 0 ? 0 : static_cast<std::size_t>(w)));
    p.out_off = 0;
    set_out(fd, true);
  }

  void flush(int fd) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    while (p.open && p.out_off < p.out.size()) {
      const ssize_t w =
          ::send(fd, p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN) close_peer(fd);
        return;
      }
      p.out_off += static_cast<std::size_t>(w);
    }
    if (!p.open) return;
    p.out.clear();
    p.out_off = 0;
    set_out(fd, false);
  }

  void read(int fd) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        peers_[static_cast<std::size_t>(fd)].in.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && errno == EAGAIN) break;
      return close_peer(fd);
    }
    parse(fd);
  }

  void parse(int fd) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    std::size_t off = 0;
    if (p.phase == 0) {
      const std::size_t end = p.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      const std::string head = p.in.substr(0, end + 2);
      std::string lower = head;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const std::size_t k = lower.find("\r\nsec-websocket-key:");
      if (head.rfind("GET /socket.io/", 0) != 0 ||
          lower.find("transport=websocket") == std::string::npos || k == std::string::npos) {
        const std::string_view bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        (void)::send(fd, bad.data(), bad.size(), MSG_NOSIGNAL);
        return close_peer(fd);
      }
      std::size_t v = k + 20;
      while (v < head.size() && head[v] == ' ') ++v;
      const std::string key = head.substr(v, head.find("\r\n", v) - v);
      const auto digest = sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
      std::string out =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
          base64(digest.data(), digest.size()) + "\r\n\r\n";
      ws_server_frame(out,
                      "0{\"sid\":\"floor" + std::to_string(fd) +
                          "\",\"upgrades\":[],\"pingInterval\":" + std::to_string(kPingIntervalMs) +
                          ",\"pingTimeout\":20000,\"maxPayload\":1000000}");
      p.phase = 1;
      off = end + 4;
      deliver(fd, out);
      if (!p.open) return;
    }
    // Client-to-server frames (masked).
    while (p.in.size() - off >= 2) {
      const auto b0 = static_cast<unsigned char>(p.in[off]);
      const auto b1 = static_cast<unsigned char>(p.in[off + 1]);
      std::size_t len = b1 & 0x7F, hdr = 2;
      if (len == 126) {
        if (p.in.size() - off < 4) break;
        len = (static_cast<std::size_t>(static_cast<unsigned char>(p.in[off + 2])) << 8) |
              static_cast<unsigned char>(p.in[off + 3]);
        hdr = 4;
      } else if (len == 127) {
        if (p.in.size() - off < 10) break;
        len = 0;
        for (std::size_t i = 0; i < 8; ++i)
          len = (len << 8) | static_cast<unsigned char>(p.in[off + 2 + i]);
        hdr = 10;
      }
      const bool masked = (b1 & 0x80) != 0;
      const std::size_t key_at = off + hdr;
      if (masked) hdr += 4;
      if (p.in.size() - off < hdr + len) break;
      char* data = p.in.data() + off + hdr;
      if (masked)
        for (std::size_t i = 0; i < len; ++i) data[i] ^= p.in[key_at + (i & 3)];
      const std::string_view payload(data, len);
      off += hdr + len;
      const int opcode = b0 & 0x0F;
      if (opcode == 0x8) return close_peer(fd);
      if (opcode == 0x9) {  // WebSocket ping
        std::string pong;
        ws_server_frame(pong, payload, 0xA);
        deliver(fd, pong);
      } else if (opcode == 0x1 && (b0 & 0x80) != 0) {
        message(fd, payload);  // (fragmented messages: the load generator sends none)
      }
      if (!p.open) return;
    }
    p.in.erase(0, off);
  }

  void reply(int fd, std::string_view text) {
    std::string f;
    ws_server_frame(f, text);
    deliver(fd, f);
  }

  // A quoted string at `at` in `s` (bench room names have no escapes); advances `at` past it.
  static bool quoted(std::string_view s, std::size_t& at, std::string& out) {
    if (at >= s.size() || s[at] != '"') return false;
    const std::size_t end = s.find('"', at + 1);
    if (end == std::string_view::npos) return false;
    out.assign(s.substr(at + 1, end - at - 1));
    at = end + 1;
    return true;
  }

  // One Engine.IO message from a client.
  void message(int fd, std::string_view m) {
    Peer& p = peers_[static_cast<std::size_t>(fd)];
    if (m.empty()) return;
    if (m[0] == '2') return reply(fd, "3");   // (a client ping; the load generator sends none)
    if (m[0] != '4' || m.size() < 2) return;  // '3' pong: nothing to do
    const std::string_view s = m.substr(1);
    if (s[0] == '0') {  // CONNECT to "/"
      if (p.phase == 1) ++connected_;
      p.phase = 2;
      return reply(fd, "40{\"sid\":\"floor" + std::to_string(fd) + "\"}");
    }
    if (s[0] != '2' || p.phase != 2) return;
    std::size_t at = 1;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    const std::string ack(s.substr(1, at - 1));
    std::string event;
    if (at >= s.size() || s[at] != '[' || !quoted(s, ++at, event)) return;
    const std::string who = "{\"worker\":0,\"pid\":" + std::to_string(::getpid()) + "}";
    if (event == "publish" || event == "publish-others") {
      if (at >= s.size() || s[at] != ',') return;
      ++at;
      std::string room;
      const bool all = s.compare(at, 4, "null") == 0;
      if (all)
        at += 4;
      else if (!quoted(s, at, room))
        return;
      if (at >= s.size() || s[at] != ',' || s.back() != ']') return;
      // The one "msg" frame of this broadcast, built once: 42["msg",<payload as received>].
      const std::string_view payload = s.substr(at + 1, s.size() - at - 2);
      frame_.clear();
      std::string text = "42[\"msg\",";
      text.append(payload);
      text.push_back(']');
      ws_server_frame(frame_, text);
      const int except = event == "publish-others" ? fd : -1;
      if (all) {
        for (std::size_t t = 0; t < peers_.size(); ++t)
          if (peers_[t].open && peers_[t].phase == 2 && static_cast<int>(t) != except)
            deliver(static_cast<int>(t), frame_);
      } else if (auto it = rooms_.find(room); it != rooms_.end()) {
        targets_ = it->second;  // (a failed send may close a member and edit the room)
        for (int t : targets_)
          if (t != except) deliver(t, frame_);
      }
      return;
    }
    if (ack.empty()) return;
    if (event == "join" || event == "leave") {
      std::string room;
      if (at >= s.size() || s[at] != ',' || !quoted(s, ++at, room)) return;
      auto& mine = p.rooms;
      const bool in = std::find(mine.begin(), mine.end(), room) != mine.end();
      if (event == "join" && !in) {
        mine.push_back(room);
        rooms_[room].push_back(fd);
      } else if (event == "leave" && in) {
        mine.erase(std::find(mine.begin(), mine.end(), room));
        auto& v = rooms_[room];
        v.erase(std::remove(v.begin(), v.end(), fd), v.end());
      }
      return reply(fd, "43" + ack + "[" + who + "]");
    }
    if (event == "echo") {  // ack(...args): the arguments after the event name
      const std::string_view rest = s.substr(at);
      return reply(fd, "43" + ack + "[" + std::string(rest.size() <= 1 ? "]" : rest.substr(1)));
    }
    if (event == "whoami")
      return reply(fd, "43" + ack + "[{\"worker\":0,\"pid\":" + std::to_string(::getpid()) +
                           ",\"id\":\"floor" + std::to_string(fd) + "\"}]");
    if (event == "count") return reply(fd, "43" + ack + "[" + std::to_string(connected_) + "]");
  }

  int port_;
  int ep_ = -1;
  int connected_ = 0;
  std::vector<Peer> peers_;
  std::unordered_map<std::string, std::vector<int>> rooms_;
  std::string frame_;
  std::vector<int> targets_;
};

class LoadGen {
 public:
  explicit LoadGen(Options o) : o_(std::move(o)), rng_(12345) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    pad_.assign(static_cast<std::size_t>(std::max(0, o_.payload - 40)), 'x');
  }

  // The server's process tree, plus the --also-pids trees (CPU summed; RSS the server's only).
  Usage server_usage() const {
    Usage u = usage(o_.server_pid);
    for (int pid : o_.also_pids) {
      const Usage a = usage(pid);
      u.user += a.user;
      u.sys += a.sys;
    }
    return u;
  }

  // See the header: the receive capacity of this load generator on one core.
  int self_test() {
    raise_descriptor_limit();
    if (!descriptors_fit(o_.clients)) return 2;
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7F000001u);
    socklen_t len = sizeof a;
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(lfd, 4096) != 0 ||
        ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("loadgen: self-test listen");
      return 1;
    }
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const pid_t child = fork();
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the load generator
      if (cpus > 1) pin_to(1);
      blaster(lfd, o_.payload);
    }
    ::close(lfd);
    if (cpus > 1) pin_to(0);
    o_.ports = {ntohs(a.sin_port)};
    o_.rooms = 1;
    double setup_s = 0;
    const int rc = connect_all(o_.clients, 0, setup_s);
    if (rc == 0) {
      const std::uint64_t cpu0 = self_cpu_ns(), t0 = now_ns(), d0 = delivered_;
      const auto until = t0 + static_cast<std::uint64_t>(o_.duration * 1e9);
      while (now_ns() < until) poll(5);
      const double wall = static_cast<double>(now_ns() - t0) / 1e9;
      const double cpu = static_cast<double>(self_cpu_ns() - cpu0) / 1e9;
      const auto got = static_cast<double>(delivered_ - d0);
      std::printf(
          "{\"mode\":\"self-test\",\"clients\":%d,\"payload\":%d,\"received\":%.0f,"
          "\"received_per_s\":%.0f,\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_ns_per_message\":%.1f,"
          "\"received_per_cpu_s\":%.0f}\n",
          o_.clients, o_.payload, got, got / wall, cpu, got > 0 ? cpu * 1e9 / got : 0.0,
          cpu > 0 ? got / cpu : 0.0);
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return rc;
  }

  // Refuses (false, with a message naming the limit) more connections than one process may
  // hold: RLIMIT_NOFILE's hard limit less kDescriptorHeadroom.
  bool descriptors_fit(int conns) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max == RLIM_INFINITY) return true;
    const long most = static_cast<long>(rl.rlim_max) - kDescriptorHeadroom;
    if (conns <= most) return true;
    error(
        "%d connections in one process: more than it may hold here. A process may hold at most "
        "%ld descriptors (RLIMIT_NOFILE hard limit, which cannot be raised here; %ld kept for "
        "headroom): at most %ld connections per load generator. Run several load generators "
        "side by side (bench/e2e --connections does)",
        conns, static_cast<long>(rl.rlim_max), kDescriptorHeadroom, std::max(0L, most));
    return false;
  }

  // A fatal error: on stderr, and kept for hold mode's JSON line.
  [[gnu::format(printf, 2, 3)]] void error(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    error_ = buf;
    std::fprintf(stderr, "loadgen: %s\n", buf);
  }

  // Where the handshakes not yet ready stand, for an error message.
  std::string in_flight() const {
    int st[7] = {};
    for (const Conn& c : conns_)
      if (c.fd >= 0 && c.st != St::ready && c.st != St::closed) ++st[static_cast<int>(c.st)];
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%d waiting for TCP connect, %d for the WebSocket upgrade, %d for the Engine.IO "
                  "open, %d for the Socket.IO CONNECT, %d for the join ack",
                  st[0], st[1], st[2], st[3], st[4]);
    return buf;
  }

  // Opens `subs` subscribers and `pubs` publishers in waves and waits until all are ready. Fails
  // (1, with a message saying why) on the first failed connection, on EMFILE, when no handshake
  // completes for stall_timeout s (a server that stopped accepting or answering), or after
  // setup_timeout s.
  int connect_all(int subs, int pubs, double& setup_s, int stalled = 0) {
    room_size_.assign(static_cast<std::size_t>(std::max(1, o_.rooms)), 0);
    const std::uint64_t setup_start = now_ns();
    connect_start_ = setup_start;
    std::uint64_t last_progress = setup_start;
    int last_ready = 0;
    int next = 0;
    // Connections: subscribers, then publishers, then stalled subscribers (room 0).
    const int total = subs + pubs + stalled;
    conns_.reserve(static_cast<std::size_t>(total));
    const bool hold = o_.mode == "hold";
    while (ready_ < total) {
      while (next < total && next - ready_ - failed_ < 256) {
        const bool stall = next >= subs + pubs;
        const bool pub = next >= subs && !stall;
        const int room = stall ? 0 : pub || hold ? -1 : next % std::max(1, o_.rooms);
        if (!open(next, pub, room)) return 1;
        conns_[static_cast<std::size_t>(next)].stalled = stall;
        ++next;
      }
      poll(5);
      const std::uint64_t now = now_ns();
      if (failed_ > 0) {
        error("%d connections failed during setup (first: %s), %d of %d ready", failed_,
              first_failure_.c_str(), ready_, total);
        return 1;
      }
      if (ready_ != last_ready) {
        last_ready = ready_;
        last_progress = now;
      } else if (static_cast<double>(now - last_progress) > o_.stall_timeout * 1e9) {
        error(
            "no handshake completed for %.0f s: %d of %d ready; in flight: %s. The server "
            "stopped accepting or answering (a worker at its descriptor limit?)",
            o_.stall_timeout, ready_, total, in_flight().c_str());
        return 1;
      }
      if (static_cast<double>(now - setup_start) > o_.setup_timeout * 1e9) {
        error("setup timed out after %.0f s: %d of %d ready (%.0f/s); in flight: %s",
              o_.setup_timeout, ready_, total,
              ready_ / (static_cast<double>(now - setup_start) / 1e9), in_flight().c_str());
        return 1;
      }
    }
    connect_end_ = now_ns();
    setup_s = static_cast<double>(connect_end_ - setup_start) / 1e9;
    return 0;
  }

  int run() {
    raise_descriptor_limit();
    const bool subscribers = o_.mode == "fanout" || o_.mode == "rooms" || o_.mode == "idle";
    const int subs = subscribers ? o_.clients : 0;
    const int pubs = o_.mode == "idle" ? 0 : o_.publishers;
    const int stalled = o_.stalled;
    if (stalled > 0 && o_.mode != "fanout") {
      std::fprintf(stderr, "loadgen: --stalled is for --mode fanout only\n");
      return 2;
    }
    if (!descriptors_fit(subs + pubs + stalled)) return 2;
    const std::uint64_t rss0 = usage(o_.server_pid).rss;
    // Open connections in waves so the server's accept queue is never flooded.
    double setup_s = 0;
    if (const int rc = connect_all(subs, pubs, setup_s, stalled); rc != 0) return rc;
    // The stalled subscribers stop reading now: out of epoll, never read again (until the end).
    for (Conn& c : conns_)
      if (c.stalled && c.st == St::ready) epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    // Settle, then measure the idle footprint.
    const std::uint64_t settle = now_ns() + 300'000'000ULL;
    while (now_ns() < settle) poll(10);
    const Usage u0 = server_usage();
    const std::uint64_t rss_loaded = u0.rss;
    const std::uint64_t self0 = self_cpu_ns();
    if (o_.mode == "idle") {
      std::printf(
          "{\"mode\":\"idle\",\"clients\":%d,\"setup_s\":%.2f,\"rss_before\":%llu,\"rss\":%llu,"
          "\"rss_per_conn\":%.0f}\n",
          subs, setup_s, static_cast<unsigned long long>(rss0),
          static_cast<unsigned long long>(rss_loaded),
          subs > 0 ? static_cast<double>(rss_loaded - std::min(rss0, rss_loaded)) / subs : 0.0);
      return 0;
    }
    // The measured run: open loop at the given rate.
    const std::uint64_t start = now_ns() + 1'000'000;
    const auto total_msgs = static_cast<std::uint64_t>(o_.rate * o_.duration);
    expected_.assign(total_msgs, 0);
    received_.assign(total_msgs, 0);
    std::uint64_t sent = 0;
    const double interval = 1e9 / o_.rate;
    std::uniform_int_distribution<int> pick_room(0, std::max(1, o_.rooms) - 1);
    // The server's RSS and descriptors, sampled once a second.
    std::uint64_t rss_max = rss_loaded, next_sample = start, delivered_sampled = 0;
    const long fds_start = fd_count(o_.server_pid);
    long fds_min = fds_start;
    double stalled_gone_s = -1;
    const auto sample = [&] {
      const std::uint64_t t = now_ns();
      if (o_.server_pid <= 0 || t < next_sample) return;
      next_sample = t + 1'000'000'000ULL;
      rss_max = std::max(rss_max, usage(o_.server_pid).rss);
      const long fds = fd_count(o_.server_pid);
      if (fds >= 0) fds_min = std::min(fds_min, fds);
      if (stalled > 0 && stalled_gone_s < 0 && fds >= 0 && fds_start - fds >= stalled / 2)
        stalled_gone_s = static_cast<double>(t - start) / 1e9;
      if (stalled > 0) {
        std::fprintf(stderr,
                     "{\"t_s\":%.1f,\"server_rss\":%llu,\"server_fds\":%ld,\"delivered\":%llu,"
                     "\"max_ms\":%.1f}\n",
                     t > start ? static_cast<double>(t - start) / 1e9 : 0.0,
                     static_cast<unsigned long long>(usage(o_.server_pid).rss), fds,
                     static_cast<unsigned long long>(delivered_ - delivered_sampled),
                     static_cast<double>(window_max_) / 1e6);
        delivered_sampled = delivered_;
        window_max_ = 0;
      }
    };
    while (sent < total_msgs) {
      sample();
      const std::uint64_t t = now_ns();
      while (sent < total_msgs && start + static_cast<std::uint64_t>(interval * sent) <= t) {
        const std::uint64_t due = start + static_cast<std::uint64_t>(interval * sent);
        Conn& c = conns_[static_cast<std::size_t>(subs + static_cast<int>(sent % pubs))];
        send_message(c, sent, due, o_.mode == "rooms" ? pick_room(rng_) : 0);
        ++sent;
      }
      const std::uint64_t due_next = start + static_cast<std::uint64_t>(interval * sent);
      const std::uint64_t now = now_ns();
      poll_ns(due_next > now ? std::min<std::uint64_t>(due_next - now, 5'000'000) : 0);
    }
    const std::uint64_t end_send = now_ns();
    // Drain: until everything expected arrived, or 2 s without progress (then it is lost).
    std::uint64_t last_progress = now_ns(), last_count = delivered_;
    std::uint64_t expected_total = 0;
    for (auto e : expected_) expected_total += e;
    while (delivered_ < expected_total && now_ns() - last_progress < 2'000'000'000ULL) {
      sample();
      poll(5);
      if (delivered_ != last_count) {
        last_count = delivered_;
        last_progress = now_ns();
      }
    }
    const std::uint64_t end = now_ns();
    const Usage u1 = server_usage();
    const double self_cpu = static_cast<double>(self_cpu_ns() - self0) / 1e9;
    rss_max = std::max(rss_max, u1.rss);
    const long fds_end = fd_count(o_.server_pid);
    // The stalled subscribers: read what the kernel holds for each until EOF or a reset (closed by
    // the server), or until nothing more comes (still open); at most 5 s in all.
    int stalled_closed = 0, stalled_open = 0;
    double stalled_drain_s = 0;
    {
      std::vector<Conn*> left;
      for (Conn& c : conns_)
        if (c.stalled && c.st == St::ready) left.push_back(&c);
      char buf[65536];
      const std::uint64_t drain_start = now_ns(), until = drain_start + 30'000'000'000ULL;
      std::uint64_t idle_since = now_ns();
      while (!left.empty() && now_ns() < until && now_ns() - idle_since < 10'000'000'000ULL) {
        bool progress = false;
        for (std::size_t k = 0; k < left.size();) {
          Conn& c = *left[k];
          bool closed = false;
          for (;;) {
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
              progress = true;
              continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed = true;
            break;
          }
          if (closed) {
            ++stalled_closed;
            c.st = St::closed;
            ::close(c.fd);
            left[k] = left.back();
            left.pop_back();
            progress = true;
          } else {
            ++k;
          }
        }
        if (progress) idle_since = now_ns();
        if (stalled > 0 && now_ns() >= next_sample) {
          next_sample = now_ns() + 1'000'000'000ULL;
          std::fprintf(stderr, "{\"drain_s\":%.1f,\"stalled_closed\":%d,\"server_fds\":%ld}\n",
                       static_cast<double>(now_ns() - drain_start) / 1e9, stalled_closed,
                       fd_count(o_.server_pid));
        }
        if (!left.empty()) ::usleep(20'000);
      }
      stalled_open = static_cast<int>(left.size());
      stalled_drain_s = static_cast<double>(now_ns() - drain_start) / 1e9;
    }
    std::uint64_t lost = 0;
    for (std::size_t i = 0; i < expected_.size(); ++i)
      lost += expected_[i] > received_[i] ? expected_[i] - received_[i] : 0;
    const double window = static_cast<double>(end - start) / 1e9;
    // Server CPU over the measured window, split into user and system time (the kernel's share
    // of a delivery: the send path, and on loopback the receiving side's softirq work too).
    const auto per = [&](std::uint64_t ns) {
      return delivered_ > 0 ? static_cast<double>(ns) / 1e3 / static_cast<double>(delivered_) : 0.0;
    };
    const std::uint64_t user = u1.user - std::min(u0.user, u1.user);
    const std::uint64_t sys = u1.sys - std::min(u0.sys, u1.sys);
    std::printf(
        "{\"mode\":\"%s\",\"clients\":%d,\"rooms\":%d,\"publishers\":%d,\"rate\":%.0f,"
        "\"sent\":%llu,\"send_s\":%.3f,\"expected\":%llu,\"delivered\":%llu,\"lost\":%llu,"
        "\"delivered_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
        "\"server_cpu_s\":%.3f,\"server_user_s\":%.3f,\"server_sys_s\":%.3f,"
        "\"cpu_us_per_delivery\":%.3f,\"user_us_per_delivery\":%.3f,\"sys_us_per_delivery\":%.3f,"
        "\"server_rss\":%llu,\"rss_max\":%llu,\"setup_s\":%.2f,\"loadgen_cpu_s\":%.3f,"
        "\"dropped\":%d,\"stalled\":%d,\"stalled_closed_by_server\":%d,\"stalled_still_open\":%d,"
        "\"stalled_drain_s\":%.2f,\"stalled_gone_s\":%.1f,\"server_fds_start\":%ld,"
        "\"server_fds_min\":%ld,\"server_fds_end\":%ld}\n",
        o_.mode.c_str(), subs, o_.rooms, pubs, o_.rate, static_cast<unsigned long long>(sent),
        static_cast<double>(end_send - start) / 1e9,
        static_cast<unsigned long long>(expected_total),
        static_cast<unsigned long long>(delivered_), static_cast<unsigned long long>(lost),
        static_cast<double>(delivered_) / window, hist_.percentile(50) / 1e3,
        hist_.percentile(99) / 1e3, hist_.percentile(99.9) / 1e3, hist_.max() / 1e3,
        static_cast<double>(user + sys) / 1e9, static_cast<double>(user) / 1e9,
        static_cast<double>(sys) / 1e9, per(user + sys), per(user), per(sys),
        static_cast<unsigned long long>(u1.rss), static_cast<unsigned long long>(rss_max), setup_s,
        self_cpu, dropped_, stalled, stalled_closed, stalled_open, stalled_drain_s, stalled_gone_s,
        fds_start, fds_min, fds_end);
    return 0;
  }

  // See the header: N connections held, heartbeats, one broadcast to all.
  int hold() {
    raise_descriptor_limit();
    const int n = o_.clients;
    const auto print_error = [&] {
      std::printf("{\"phase\":\"error\",\"clients\":%d,\"ready\":%d,\"error\":\"%s\"}\n", n, ready_,
                  json_safe(error_).c_str());
      std::fflush(stdout);
    };
    if (n < 1) {
      error("--mode hold needs --clients >= 1");
      print_error();
      return 2;
    }
    if (!descriptors_fit(n)) {
      print_error();
      return 2;
    }
    const std::uint64_t started = now_ns();
    const auto past_max_time = [&] {
      return o_.max_time > 0 && static_cast<double>(now_ns() - started) > o_.max_time * 1e9;
    };
    double setup_s = 0;
    if (connect_all(n, 0, setup_s) != 0) {
      print_error();
      return 1;
    }
    const std::uint64_t cpu_connected = self_cpu_ns();
    std::printf(
        "{\"phase\":\"connected\",\"clients\":%d,\"ready\":%d,\"connect_start_ns\":%llu,"
        "\"connect_end_ns\":%llu,\"connect_s\":%.3f,\"connect_per_s\":%.0f,"
        "\"ping_interval_ms\":%llu,\"ping_timeout_ms\":%llu,\"loadgen_cpu_s\":%.3f}\n",
        n, ready_, static_cast<unsigned long long>(connect_start_),
        static_cast<unsigned long long>(connect_end_), setup_s, n / std::max(setup_s, 1e-9),
        static_cast<unsigned long long>(ping_interval_ms_),
        static_cast<unsigned long long>(ping_timeout_ms_),
        static_cast<double>(cpu_connected) / 1e9);
    std::fflush(stdout);
    // Commands on stdin from now on.
    ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = kStdin;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, 0, &ev) != 0) stdin_eof_ = true;  // (stdin not pollable)
    std::uint64_t next_check = now_ns();
    bool reported = false;
    while (!quit_ && !stdin_eof_) {
      poll(100);
      const std::uint64_t now = now_ns();
      if (now >= next_check) {
        next_check = now + 1'000'000'000ULL;
        check_heartbeats(now);
      }
      if (publish_) {
        publish_ = false;
        publish();
      }
      const int live = ready_ - dropped_;
      if (report_ || (!reported && bcast_count_ > 0 && bcast_count_ >= live)) {
        report_ = false;
        reported = true;
        report(now, cpu_connected);
      }
      if (past_max_time()) {
        error("--max-time %.0f s reached before quit", o_.max_time);
        print_error();
        return 1;
      }
    }
    return 0;
  }

 private:
  static constexpr std::uint64_t kStdin = ~0ULL - 1;

  static void raise_descriptor_limit() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  static std::string json_safe(std::string s) {
    for (auto& ch : s)
      if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ch = '\'';
    return s;
  }

  // Lines of commands on stdin (hold mode): publish, report, quit; end of input = quit.
  void read_stdin() {
    char buf[256];
    for (;;) {
      const ssize_t r = ::read(0, buf, sizeof buf);
      if (r > 0) {
        stdin_buf_.append(buf, static_cast<std::size_t>(r));
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        stdin_eof_ = true;
        epoll_ctl(ep_, EPOLL_CTL_DEL, 0, nullptr);
      }
      if (r < 0 && errno == EINTR) continue;
      break;
    }
    for (std::size_t nl; (nl = stdin_buf_.find('\n')) != std::string::npos;) {
      const std::string line = stdin_buf_.substr(0, nl);
      stdin_buf_.erase(0, nl + 1);
      if (line == "publish")
        publish_ = true;
      else if (line == "report")
        report_ = true;
      else if (line == "quit")
        quit_ = true;
      else if (!line.empty())
        std::fprintf(stderr, "loadgen: unknown command on stdin: %s\n", line.c_str());
    }
  }

  // One publish to null (io.emit: every connection of the cluster) from the first open
  // connection, carrying its CLOCK_MONOTONIC send time.
  void publish() {
    for (Conn& c : conns_) {
      if (c.st != St::ready) continue;
      char head[96];
      const std::uint64_t t = now_ns();
      std::snprintf(head, sizeof head, "42[\"publish\",null,{\"t\":\"%llu\",\"seq\":0,\"pad\":\"",
                    static_cast<unsigned long long>(t));
      std::string msg = head;
      msg += pad_;
      msg += "\"}]";
      ws_frame(c.out, msg);
      flush(c);
      return;
    }
    std::fprintf(stderr, "loadgen: publish: no open connection\n");
  }

  void broadcast_arrived(Conn& c, std::string_view p) {
    if (c.got_bcast) return;
    const std::size_t t = p.find("\"t\":\"");
    if (t == std::string_view::npos) return;
    const std::uint64_t sent = std::strtoull(p.data() + t + 5, nullptr, 10);
    const std::uint64_t now = now_ns();
    c.got_bcast = true;
    ++bcast_count_;
    bcast_sent_ = sent;
    if (bcast_first_ == 0) bcast_first_ = now;
    bcast_last_ = now;
    bcast_hist_.add(now > sent ? now - sent : 0);
  }

  // socket.io-client's rule: a connection that heard no ping for pingInterval + pingTimeout is
  // timed out (counted once; it stays open, so that the server's own view is measured too).
  void check_heartbeats(std::uint64_t now) {
    if (ping_interval_ms_ == 0) return;
    const std::uint64_t limit = (ping_interval_ms_ + ping_timeout_ms_) * 1'000'000ULL;
    for (Conn& c : conns_)
      if (c.st == St::ready && !c.timed_out && now - c.last_heard > limit) {
        c.timed_out = true;
        ++client_timeouts_;
      }
  }

  void report(std::uint64_t now, std::uint64_t cpu_connected) {
    check_heartbeats(now);
    std::uint32_t min_pings = ~0u;
    for (const Conn& c : conns_)
      if (c.st == St::ready) min_pings = std::min(min_pings, c.pings);
    if (min_pings == ~0u) min_pings = 0;
    std::string reasons;
    for (const auto& [why, count] : drop_reasons_)
      reasons += (reasons.empty() ? "\"" : ",\"") + json_safe(why) + "\":" + std::to_string(count);
    const int live = ready_ - dropped_;
    const auto ms = [&](std::uint64_t at) {
      return at > bcast_sent_ && bcast_sent_ != 0 ? static_cast<double>(at - bcast_sent_) / 1e6
                                                  : 0.0;
    };
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf(
        "{\"phase\":\"done\",\"clients\":%d,\"ready\":%d,\"held\":%d,\"dropped\":%d,"
        "\"drop_reasons\":{%s},\"client_timeouts\":%d,\"pings\":%llu,\"min_pings\":%u,"
        "\"held_s\":%.1f,\"bcast_sent_ns\":%llu,\"bcast_received\":%d,\"bcast_missing\":%d,"
        "\"bcast_first_ns\":%llu,\"bcast_last_ns\":%llu,\"bcast_first_ms\":%.2f,"
        "\"bcast_p50_ms\":%.2f,\"bcast_last_ms\":%.2f,\"hold_cpu_s\":%.3f,\"loadgen_rss\":%ld}\n",
        o_.clients, ready_, live, dropped_, reasons.c_str(), client_timeouts_,
        static_cast<unsigned long long>(pings_), min_pings,
        static_cast<double>(now - connect_end_) / 1e9, static_cast<unsigned long long>(bcast_sent_),
        bcast_count_, std::max(0, live - bcast_count_),
        static_cast<unsigned long long>(bcast_first_), static_cast<unsigned long long>(bcast_last_),
        ms(bcast_first_), static_cast<double>(bcast_hist_.percentile(50)) / 1e6, ms(bcast_last_),
        static_cast<double>(self_cpu_ns() - cpu_connected) / 1e9, ru.ru_maxrss * 1024L);
    std::fflush(stdout);
  }

  bool open(int i, bool publisher, int room) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int e = errno;
      rlimit rl{};
      getrlimit(RLIMIT_NOFILE, &rl);
      if (e == EMFILE)
        error(
            "socket(): too many open files (EMFILE) at connection %d: this process reached its "
            "descriptor limit (RLIMIT_NOFILE %ld, a hard limit here); use fewer connections per "
            "load generator",
            i, static_cast<long>(rl.rlim_cur));
      else
        error("socket() at connection %d: %s", i, std::strerror(e));
      return false;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The port is chosen at connect(), per destination (not at bind(), which would make each
    // port unique per source address whatever the destination).
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    // Spread over 127.0.0.x source addresses past the ephemeral-port limit of one address.
    sockaddr_in src{};
    src.sin_family = AF_INET;
    // Each run starts at its own 127.0.0.x (from its pid, or --source-base), so that the ports a
    // previous run left in TIME_WAIT do not run this one out of ephemeral ports.
    const auto base =
        static_cast<std::uint32_t>(o_.source_base >= 0 ? o_.source_base : ::getpid() % 200);
    src.sin_addr.s_addr = htonl(0x7F000001u + base + static_cast<std::uint32_t>(i / o_.max_per_ip));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      error("bind() to a source address at connection %d: %s", i, std::strerror(errno));
      ::close(fd);
      return false;
    }
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port =
        htons(static_cast<std::uint16_t>(o_.ports[static_cast<std::size_t>(i) % o_.ports.size()]));
    dst.sin_addr.s_addr = htonl(0x7F000001u);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
      const int e = errno;
      error("connect() at connection %d: %s%s", i, std::strerror(e),
            e == EADDRNOTAVAIL ? " (no ephemeral port left on its source address)" : "");
      ::close(fd);
      return false;
    }
    if (static_cast<std::size_t>(i) >= conns_.size())
      conns_.resize(static_cast<std::size_t>(i) + 1);
    Conn& c = conns_[static_cast<std::size_t>(i)];
    c.fd = fd;
    c.publisher = publisher;
    c.room = room;
    c.st = St::connecting;
    c.out =
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
        "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = static_cast<std::uint64_t>(i);
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return true;
  }

  void send_message(Conn& c, std::uint64_t seq, std::uint64_t due, int room) {
    char head[96];
    std::string msg;
    if (o_.mode == "echo") {
      std::snprintf(head, sizeof head, "42%llu[\"echo\",{\"t\":\"%llu\",\"seq\":%llu,\"pad\":\"",
                    static_cast<unsigned long long>(seq), static_cast<unsigned long long>(due),
                    static_cast<unsigned long long>(seq));
      expected_[seq] = 1;
    } else {
      std::snprintf(head, sizeof head,
                    "42[\"publish\",\"r%d\",{\"t\":\"%llu\",\"seq\":%llu,\"pad\":\"",
                    o_.room_base + room, static_cast<unsigned long long>(due),
                    static_cast<unsigned long long>(seq));
      expected_[seq] = room_size_[static_cast<std::size_t>(room)];
    }
    msg = head;
    msg += pad_;
    msg += "\"}]";
    ws_frame(c.out, msg);
    flush(c);
  }

  void poll(int timeout_ms) { poll_ns(static_cast<std::uint64_t>(timeout_ms) * 1'000'000ULL); }
  // Waits at most `timeout` ns (epoll_pwait2: sub-millisecond, so that pacing a high rate sleeps
  // instead of spinning on a CPU the server under test needs).
  void poll_ns(std::uint64_t timeout) {
    std::array<epoll_event, 256> evs;
    const timespec ts{static_cast<time_t>(timeout / 1'000'000'000ULL),
                      static_cast<long>(timeout % 1'000'000'000ULL)};
    const int n = epoll_pwait2(ep_, evs.data(), static_cast<int>(evs.size()), &ts, nullptr);
    for (int k = 0; k < n; ++k) {
      if (evs[static_cast<std::size_t>(k)].data.u64 == kStdin) {
        read_stdin();
        continue;
      }
      Conn& c = conns_[evs[static_cast<std::size_t>(k)].data.u64];
      if (c.st == St::closed) continue;
      const std::uint32_t e = evs[static_cast<std::size_t>(k)].events;
      if (e & EPOLLOUT) {
        if (c.st == St::connecting) c.st = St::upgrading;
        flush(c);
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read(c);
    }
  }

  // EPOLLOUT only while there is output the kernel did not take (level-triggered: a connection
  // registered for it with nothing to write would wake every epoll_wait, a busy loop that steals
  // CPU from the server under test).
  void want_out(Conn& c, std::size_t i, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void flush(Conn& c) {
    const auto i = static_cast<std::size_t>(&c - conns_.data());
    if (c.st == St::connecting) return;  // EPOLLOUT will say when the connection is up
    while (c.out_off < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == ENOTCONN) return want_out(c, i, true);
        fail(c, "send");
        return;
      }
      c.out_off += static_cast<std::size_t>(n);
    }
    c.out.clear();
    c.out_off = 0;
    want_out(c, i, false);
  }

  void read(Conn& c) {
    char buf[65536];
    // At most 4 reads per wake-up (epoll is level-triggered: the rest comes at the next one), so
    // that one busy connection cannot keep the loop from the others.
    for (int reads = 0; reads < 4; ++reads) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n == 0) return fail(c, "closed by the server");
      if (errno == EAGAIN) break;
      return fail(c, "recv");
    }
    parse(c);
  }

  void fail(Conn& c, const char* why) {
    if (c.st == St::closed) return;
    if (c.st != St::ready) {
      if (failed_++ == 0) first_failure_ = why;
    } else {
      ++dropped_;
      ++drop_reasons_[why];
    }
    if (failed_ + dropped_ <= 3) std::fprintf(stderr, "loadgen: a connection failed: %s\n", why);
    c.st = St::closed;
    ::close(c.fd);
  }

  void parse(Conn& c) {
    std::size_t off = 0;
    if (c.st == St::upgrading) {
      const std::size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) return fail(c, "no WebSocket upgrade");
      off = end + 4;
      c.st = St::open_wait;
    }
    // WebSocket frames from the server (unmasked).
    while (c.in.size() - off >= 2) {
      const auto b0 = static_cast<unsigned char>(c.in[off]);
      const auto b1 = static_cast<unsigned char>(c.in[off + 1]);
      std::size_t len = b1 & 0x7F, hdr = 2;
      if (len == 126) {
        if (c.in.size() - off < 4) break;
        len = (static_cast<unsigned char>(c.in[off + 2]) << 8) |
              static_cast<unsigned char>(c.in[off + 3]);
        hdr = 4;
      } else if (len == 127) {
        if (c.in.size() - off < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i)
          len =
              (len << 8) | static_cast<unsigned char>(c.in[off + 2 + static_cast<std::size_t>(i)]);
        hdr = 10;
      }
      if (c.in.size() - off < hdr + len) break;
      const std::string_view payload(c.in.data() + off + hdr, len);
      off += hdr + len;
      const int opcode = b0 & 0x0F;
      const bool fin = (b0 & 0x80) != 0;
      if (opcode == 0x8) return fail(c, "WebSocket close");
      if (opcode == 0x9) {  // WebSocket ping: pong with the same payload
        c.out.push_back(static_cast<char>(0x8A));
        c.out.push_back(static_cast<char>(0x80 | payload.size()));
        c.out.append(4, '\0');
        c.out.append(payload);
        continue;
      }
      if (opcode == 0xA) continue;
      if (opcode == 0x0 || !fin) {
        c.frag.append(payload);
        if (!fin) continue;
        std::string whole = std::move(c.frag);
        c.frag.clear();
        message(c, whole);
      } else {
        message(c, payload);
      }
      if (c.st == St::closed) return;
    }
    c.in.erase(0, off);
    flush(c);
  }

  // One Engine.IO message.
  void message(Conn& c, std::string_view m) {
    if (m.empty()) return;
    switch (m[0]) {
      case '0': {  // open: join the default namespace
        ws_frame(c.out, "40");
        c.st = St::connect_wait;
        c.last_heard = now_ns();
        if (ping_interval_ms_ == 0) {
          const auto field = [&](std::string_view key) -> std::uint64_t {
            const std::size_t at = m.find(key);
            return at == std::string_view::npos
                       ? 0
                       : std::strtoull(m.data() + at + key.size(), nullptr, 10);
          };
          ping_interval_ms_ = field("\"pingInterval\":");
          ping_timeout_ms_ = field("\"pingTimeout\":");
        }
        return;
      }
      case '2':  // ping
        ws_frame(c.out, "3");
        ++c.pings;
        ++pings_;
        c.last_heard = now_ns();
        return;
      case '1':
        return fail(c, "Engine.IO close");
      case '4':
        break;
      default:
        return;
    }
    const std::string_view p = m.substr(1);
    if (p.empty()) return;
    if (p[0] == '0') {  // CONNECT reply
      const bool joins = !c.publisher && o_.mode != "idle" && c.room >= 0;
      if (joins) {
        ws_frame(c.out, "420[\"join\",\"r" + std::to_string(o_.room_base + c.room) + "\"]");
        c.st = St::join_wait;
      } else {
        c.st = St::ready;
        ++ready_;
      }
      return;
    }
    if (p[0] == '4') return fail(c, "CONNECT_ERROR");
    if (p[0] == '3') {  // ACK
      if (c.st == St::join_wait) {
        if (!c.stalled) ++room_size_[static_cast<std::size_t>(c.room)];
        c.st = St::ready;
        ++ready_;
        return;
      }
      record(p);  // an echo's answer
      return;
    }
    if (p[0] == '2') {  // EVENT: a "msg" broadcast
      if (o_.mode == "hold")
        broadcast_arrived(c, p);
      else
        record(p);
    }
  }

  // Finds "t":"<ns>" and "seq":<n> in an event or ack, and counts it.
  void record(std::string_view p) {
    const std::size_t t = p.find("\"t\":\"");
    const std::size_t s = p.find("\"seq\":");
    if (t == std::string_view::npos || s == std::string_view::npos) return;
    const std::uint64_t due = std::strtoull(p.data() + t + 5, nullptr, 10);
    const std::uint64_t seq = std::strtoull(p.data() + s + 6, nullptr, 10);
    const std::uint64_t now = now_ns();
    hist_.add(now > due ? now - due : 0);
    window_max_ = std::max(window_max_, now > due ? now - due : 0);
    ++delivered_;
    if (seq < received_.size()) ++received_[seq];
  }

  Options o_;
  std::mt19937 rng_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  int ready_ = 0, failed_ = 0, dropped_ = 0;
  std::vector<std::uint32_t> room_size_;
  std::vector<std::uint32_t> expected_, received_;
  std::uint64_t delivered_ = 0;
  std::uint64_t window_max_ = 0;  // the worst latency since the last sample (--stalled)
  Histogram hist_;
  std::string pad_;
  // setup, errors
  std::uint64_t connect_start_ = 0, connect_end_ = 0;
  std::string error_, first_failure_;
  std::unordered_map<std::string, int> drop_reasons_;
  // hold mode
  std::uint64_t ping_interval_ms_ = 0, ping_timeout_ms_ = 0, pings_ = 0;
  int client_timeouts_ = 0;
  std::string stdin_buf_;
  bool stdin_eof_ = false, quit_ = false, publish_ = false, report_ = false;
  int bcast_count_ = 0;
  std::uint64_t bcast_sent_ = 0, bcast_first_ = 0, bcast_last_ = 0;
  Histogram bcast_hist_;
};

// One item of a list option: a whole number in [lo, hi], or exit 2 saying so ("68536" wrapped to
// port 3000 and "x" read as 0 before 2026-12-06).
int whole(const std::string& option, const std::string& text, int lo, int hi) {
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) {
    std::fprintf(stderr, "loadgen: %s: each item must be a whole number in [%d, %d] (got '%s')\n",
                 option.c_str(), lo, hi, text.c_str());
    std::exit(2);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto num = [&](double lo, double hi) {
      if (v == nullptr) {
        std::fprintf(stderr, "loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      char* end = nullptr;
      const double x = std::strtod(v, &end);
      // (!(x >= lo): NaN is refused too, which "x < lo || x > hi" let through.)
      if (end == v || *end != '\0' || !(x >= lo && x <= hi)) {
        std::fprintf(stderr, "loadgen: %s must be in [%g, %g]\n", a.c_str(), lo, hi);
        std::exit(2);
      }
      ++i;
      return x;
    };
    if (a == "--port") {
      o.ports = {static_cast<int>(num(1, 65535))};
    } else if (a == "--ports" && v != nullptr) {
      o.ports.clear();
      std::istringstream ss(v);
      for (std::string p; std::getline(ss, p, ',');) o.ports.push_back(whole(a, p, 1, 65535));
      ++i;
    } else if (a == "--clients") {
      o.clients = static_cast<int>(num(0, 1e6));
    } else if (a == "--rooms") {
      o.rooms = static_cast<int>(num(1, 1e6));
    } else if (a == "--room-base") {
      o.room_base = static_cast<int>(num(0, 1e6));
    } else if (a == "--publishers") {
      o.publishers = static_cast<int>(num(1, 1e4));
    } else if (a == "--rate") {
      o.rate = num(1, 1e8);
    } else if (a == "--duration") {
      o.duration = num(0.1, 3600);
    } else if (a == "--payload") {
      o.payload = static_cast<int>(num(40, 1e6));
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<int>(num(0, 1e9));
    } else if (a == "--also-pids" && v != nullptr) {
      std::stringstream ss(v);
      for (std::string p; std::getline(ss, p, ',');)
        o.also_pids.push_back(whole(a, p, 1, 1 << 22));  // (pid_max's ceiling)
      ++i;
    } else if (a == "--per-source") {
      o.max_per_ip = static_cast<int>(num(1, 28000));
    } else if (a == "--source-base") {
      o.source_base = static_cast<long>(num(0, 16'000'000));
    } else if (a == "--setup-timeout") {
      o.setup_timeout = num(1, 3600);
    } else if (a == "--stall-timeout") {
      o.stall_timeout = num(1, 3600);
    } else if (a == "--stalled") {
      o.stalled = static_cast<int>(num(0, 1e6));
    } else if (a == "--max-time") {
      o.max_time = num(0, 86400);
    } else if (a == "--mode" && v != nullptr) {
      o.mode = v;
      ++i;
    } else {
      std::fprintf(
          stderr,
          "usage: shmio-loadgen --port P|--ports P1,P2 [--clients N] [--rooms R] [--room-base B] "
          "[--publishers K] [--rate MSG/S] [--duration S] [--payload BYTES] "
          "[--mode fanout|rooms|echo|idle|hold|self-test|floor-server] [--server-pid PID] "
          "[--also-pids P1,P2] "
          "[--source-base A] [--per-source N] [--setup-timeout S] [--stall-timeout S] "
          "[--max-time S] [--stalled N]\n");
      return 2;
    }
  }
  if (o.mode == "self-test") return LoadGen(o).self_test();
  if (o.mode == "floor-server") {
    if (o.ports.size() != 1) {
      std::fprintf(stderr, "loadgen: --mode floor-server needs --port\n");
      return 2;
    }
    return FloorServer(o.ports[0]).run();
  }
  if (o.ports.empty() || (o.mode != "fanout" && o.mode != "rooms" && o.mode != "echo" &&
                          o.mode != "idle" && o.mode != "hold")) {
    std::fprintf(stderr, "loadgen: --port and a known --mode are needed\n");
    return 2;
  }
  if (o.mode == "hold") return LoadGen(o).hold();
  return LoadGen(o).run();
}
