// shmio-flush-bench: what the end-of-turn flush costs per socket, written with one sendmsg per
// socket (shmio's path) against one io_uring submission for all of them (issue 10, item 4).
//
//   shmio-flush-bench [--sockets N] [--rounds R] [--frames K] [--repeat M]
//
// N loopback TCP connections; a receiver thread (the other core) drains them with epoll. A round
// is one flush: every sender socket gets K pre-built 70-byte WebSocket frames (K iovecs, one
// message each) — by N sendmsg calls, or by one io_uring_submit_and_wait of N IORING_OP_SENDMSG
// (MSG_DONTWAIT: a full socket completes at once with -EAGAIN, as the server needs; counted).
// Measured: the sending thread's CPU time (user and system, getrusage RUSAGE_THREAD) per socket
// write, alternating the two methods M times; medians and their ratio printed. io_uring
// unavailable (kernel, seccomp, container policy): said so, sendmsg alone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#ifdef SHMIO_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

double thread_cpu_us(double* user, double* sys) {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  *user = static_cast<double>(ru.ru_utime.tv_sec) * 1e6 + static_cast<double>(ru.ru_utime.tv_usec);
  *sys = static_cast<double>(ru.ru_stime.tv_sec) * 1e6 + static_cast<double>(ru.ru_stime.tv_usec);
  return *user + *sys;
}

struct Result {
  double us_per_write = 0, user = 0, sys = 0;
  std::uint64_t eagain = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, rounds = 2000, frames = 1, repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--sockets")
      n = std::clamp(v, 1, 9000);
    else if (a == "--rounds")
      rounds = std::max(v, 1);
    else if (a == "--frames")
      frames = std::clamp(v, 1, 64);
    else if (a == "--repeat")
      repeat = std::clamp(v, 1, 50);
  }

  // Connections: a listener, N clients (the receiver's), N accepted sockets (the sender's).
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 4096) != 0) {
    std::perror("listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> clients, senders;
  for (int i = 0; i < n; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int s = ::accept(lfd, nullptr, nullptr);
    if (c < 0 || s < 0) {
      std::fprintf(stderr, "flush-bench: out of descriptors at %d sockets (limit: ulimit -n)\n", i);
      return 1;
    }
    int one = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    clients.push_back(c);
    senders.push_back(s);
  }
  ::close(lfd);

  // The receiver: drains every client socket until told to stop.
  std::atomic<bool> stop{false};
  std::thread receiver([&] {
    const int ep = ::epoll_create1(0);
    for (int c : clients) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = c;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    }
    std::vector<epoll_event> evs(256);
    char buf[65536];
    while (!stop.load(std::memory_order_relaxed)) {
      const int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
      for (int i = 0; i < k; ++i)
        while (::recv(evs[static_cast<std::size_t>(i)].data.fd, buf, sizeof buf, 0) > 0) {
        }
    }
    ::close(ep);
  });

  // A 70-byte message as a WebSocket text frame: header (2 bytes) and payload, as the server's.
  std::string frame(72, 'x');
  frame[0] = static_cast<char>(0x81);
  frame[1] = 70;
  std::vector<iovec> iov(static_cast<std::size_t>(n * frames));
  std::vector<msghdr> msgs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int f = 0; f < frames; ++f)
      iov[static_cast<std::size_t>(i * frames + f)] = {frame.data(), frame.size()};
    msgs[static_cast<std::size_t>(i)] = {};
    msgs[static_cast<std::size_t>(i)].msg_iov = &iov[static_cast<std::size_t>(i * frames)];
    msgs[static_cast<std::size_t>(i)].msg_iovlen = static_cast<std::size_t>(frames);
  }

  // Runs `body` (rounds x n writes; it counts refused ones in r.eagain) and fills in the sending
  // thread's CPU per write.
  auto timed = [&](auto&& body) {
    Result r;
    double u0, s0, u1, s1;
    thread_cpu_us(&u0, &s0);
    body(r);
    thread_cpu_us(&u1, &s1);
    const double writes = static_cast<double>(rounds) * n;
    r.user = (u1 - u0) / writes;
    r.sys = (s1 - s0) / writes;
    r.us_per_write = r.user + r.sys;
    return r;
  };
  auto run_sendmsg = [&]() {
    return timed([&](Result& r) {
      for (int round = 0; round < rounds; ++round)
        for (int i = 0; i < n; ++i)
          if (::sendmsg(senders[static_cast<std::size_t>(i)], &msgs[static_cast<std::size_t>(i)],
                        MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            ++r.eagain;
    });
  };

#ifdef SHMIO_HAVE_LIBURING
  io_uring ring{};
  const unsigned depth = static_cast<unsigned>(std::min(n, 4096));
  const int rc = io_uring_queue_init(depth, &ring, 0);
  const bool have_uring = rc == 0;
  if (!have_uring)
    std::printf("io_uring unavailable here (%s): sendmsg only\n", std::strerror(-rc));
  auto run_uring = [&]() {
    return timed([&](Result& r) {
      for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < n;) {
          const int batch = std::min<int>(static_cast<int>(depth), n - i);
          for (int j = 0; j < batch; ++j) {
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            io_uring_prep_sendmsg(sqe, senders[static_cast<std::size_t>(i + j)],
                                  &msgs[static_cast<std::size_t>(i + j)],
                                  MSG_NOSIGNAL | MSG_DONTWAIT);
          }
          io_uring_submit_and_wait(&ring, static_cast<unsigned>(batch));
          io_uring_cqe* cqe;
          unsigned head, seen = 0;
          io_uring_for_each_cqe(&ring, head, cqe) {
            if (cqe->res < 0) ++r.eagain;
            ++seen;
          }
          io_uring_cq_advance(&ring, seen);
          i += batch;
        }
      }
    });
  };
#else
  const bool have_uring = false;
  std::printf("built without liburing: sendmsg only\n");
#endif

  std::vector<double> a, au, as, b, bu, bs;
  std::uint64_t eagain_a = 0, eagain_b = 0;
  for (int m = 0; m < repeat; ++m) {
    const Result x = run_sendmsg();
    a.push_back(x.us_per_write);
    au.push_back(x.user);
    as.push_back(x.sys);
    eagain_a += x.eagain;
#ifdef SHMIO_HAVE_LIBURING
    if (have_uring) {
      const Result y = run_uring();
      b.push_back(y.us_per_write);
      bu.push_back(y.user);
      bs.push_back(y.sys);
      eagain_b += y.eagain;
    }
#endif
  }
  stop = true;
  receiver.join();

  char host[256] = "?";
  ::gethostname(host, sizeof host);
  std::printf(
      "flush of %d sockets x %d frame(s) of 72 B, %d rounds, %d repetitions (medians); "
      "sender CPU per socket write\n",
      n, frames, rounds, repeat);
  std::printf("| method | us/write | user | sys | EAGAIN |\n|---|---|---|---|---|\n");
  std::printf("| sendmsg per socket | %.3f | %.3f | %.3f | %llu |\n", median(a), median(au),
              median(as), static_cast<unsigned long long>(eagain_a));
  if (have_uring) {
    std::printf("| io_uring, one submission | %.3f | %.3f | %.3f | %llu |\n", median(b), median(bu),
                median(bs), static_cast<unsigned long long>(eagain_b));
    std::printf("io_uring / sendmsg: %.2fx\n", median(b) / median(a));
  }
#ifdef SHMIO_HAVE_LIBURING
  if (have_uring) io_uring_queue_exit(&ring);
#endif
  for (int fd : clients) ::close(fd);
  for (int fd : senders) ::close(fd);
  return 0;
}
