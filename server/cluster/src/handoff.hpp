// Hand-off of HTTP connections between workers (private to cluster/src; used by Node).
#pragma once

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "shmio/engineio/fork.hpp"
#include "support.hpp"

namespace shmio::cluster {

// ---------------------------------------------------------------------------------------------
// Hand-off of HTTP connections between workers: a Unix SOCK_SEQPACKET socket per worker (the file
// "<dir>/<index>" when `cluster` is a directory's path, the supervisor's private one; otherwise
// the abstract address "shmio-handoff.<cluster>.<index>", or "shmio-handoff.#<hash of the
// cluster's name>.<index>" where that would not fit a socket address: ring names go to 200
// characters); one message per connection carries its descriptor (SCM_RIGHTS) and the bytes read
// from it that are not answered yet. Up to kInline bytes travel in the message; more (a large
// POST) go in a memfd passed along with it.
class Handoff {
 public:
  static constexpr std::size_t kInline = 32 * 1024;
  struct Header {
    std::uint32_t magic;
    std::uint32_t in_memfd;
    std::uint64_t length;
  };
  static constexpr std::uint32_t kMagic = 0x48414e44;  // "HAND"

  Handoff(net::io_context& io, std::string cluster, int index,
          std::function<void(int fd, std::string bytes)> adopt, std::uint64_t* refused,
          std::uint64_t* waits = nullptr)
      : io_(io),
        cluster_(std::move(cluster)),
        index_(index),
        adopt_(std::move(adopt)),
        refused_(refused),
        waits_(waits),
        listener_(io),
        accept_pause_(io) {
    if (in_directory()) check_directory();
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("hand-off socket: ") + std::strerror(errno));
    // Let go of in a process forked from this one without exec (a helper an app forks from its
    // worker and leaves running): listened on by the helper after the worker's death, its file
    // was taken for a live worker's by the replacement, whose bind then failed, again every 5 s
    // for as long as the helper lived (before 2026-12-07; a review).
    engineio::let_go_in_forks(fd);
    Address addr = address(index);
    // A predecessor's file is in the way of bind() (the listener's file stays after its process
    // ends): removed when nothing listens on it (a connection to it is refused). One listened on
    // is another live process of this worker's: left, and bind() says EADDRINUSE.
    if (in_directory() && !listened_on(addr)) ::unlink(addr.addr.sun_path);
    if (::bind(fd, addr.get(), addr.len) != 0 || ::listen(fd, 128) != 0) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error(
          "hand-off socket for worker " + std::to_string(index) + ": " + std::strerror(e) +
          (e == EADDRINUSE ? " (is another cluster of that name running?)" : ""));
    }
    listener_.assign(fd);
  }
  ~Handoff() {
    for (auto& [k, fd] : peers_) ::close(fd);
  }

  void start() { accept_loop(); }
  // Whether worker `to` was marked as taking no hand-offs (send()) less than kStuckSteer ago: for
  // rebalancing, which steers nothing to it meanwhile. (Older marks let a steered hand-off
  // through, which clears the mark if it is taken: a sender whose hand-offs to it are all
  // steered would otherwise keep it out for good, a restarted successor too.)
  bool stuck(int to) const {
    auto it = stuck_.find(to);
    return it != stuck_.end() && std::chrono::steady_clock::now() - it->second < kStuckSteer;
  }
  // Whether worker `to` is marked at all, however long ago (for tests: stuck() forgets a mark
  // after kStuckSteer).
  bool marked(int to) const { return stuck_.count(to) != 0; }
  void stop() {
    boost::system::error_code ec;
    accept_pause_.cancel();
    for (auto& p : pauses_) p->cancel();
    pauses_.clear();
    listener_.close(ec);
    for (auto& c : conns_) c->close(ec);
    conns_.clear();
  }

  // Sends the connection to worker `to`; false if it cannot (fd closed, unless
  // `close_on_failure` is false: the caller's again). A failure is said (at most once a second
  // for each worker and reason).
  //
  // A worker that takes no hand-offs (stopped, or stuck in an app's handler) is found out once:
  // its queue full (the connection's buffer, or the listen backlog of fresh connections), one
  // send or connect waits up to 200 ms on it; if that wait ends with no room, it is marked stuck
  // (also when a fresh connection then takes the message: its backlog may hold one no one reads),
  // and every later hand-off to it is tried without waiting and, when it cannot be queued, fails
  // at once. The first hand-off it takes a second or more after the marking, on a connection it
  // has been seen reading (everything sent on it before was read), clears the mark; a worker is
  // waited on at most once per kWaitAgain whatever its marks, and once a second
  // (kWaitAgainAfterRoom) when its waits end with room: a live worker reading late.
  //
  // A connection found full is followed by a fresh one (a hand-off queued there) at most
  // kMaxOverflow times until the worker is seen reading again: each connection a worker does not
  // read holds up to a buffer's worth of descriptors in flight (on Linux 6.1, 167 hand-offs of a
  // 300-byte request, 278 of an 18-byte one), and every descriptor in flight counts against the
  // sending user's RLIMIT_NOFILE (past it, sendmsg fails with ETOOMANYREFS for every worker of
  // the user). Before 2026-12-03 a stopped worker took fresh connections up to its listen
  // backlog: 129 connections, 21,500-35,900 descriptors in flight. (Before 2026-12-02 every
  // hand-off to a stuck worker waited 400 ms, in the sender's only thread: one stuck worker
  // stalled every worker that received requests for its sessions. Before 2026-12-03 a fresh
  // connection that took the message after the wait kept it unmarked: a stopped worker was
  // waited on once per connection of its backlog, about 128 waits of 200 ms.)
  bool send(int to, int fd, const std::string& bytes, bool close_on_failure = true) {
    // (What the receiver refuses is not sent: with a max payload over kMaxBytes, such a request
    // counts as a failed hand-off here instead of one the receiver drops as malformed.)
    if (bytes.size() > kMaxBytes) {
      if (close_on_failure) ::close(fd);
      return false;
    }
    int error = 0;  // (the last sendmsg's errno when it failed in a way a retry does not mend)
    const auto now = std::chrono::steady_clock::now();
    const auto marked = stuck_.find(to);
    const auto wait_again = waited_.find(to);
    bool patient =
        marked == stuck_.end() && (wait_again == waited_.end() || now >= wait_again->second);
    bool full = false;    // (a queue found full: the peer is alive but not taking)
    bool waited = false;  // (this hand-off's one wait ended with no room)
    bool failed = false;  // (a send failed in a way a fresh connection does not mend)
    for (int attempt = 0; attempt < 2; ++attempt) {
      // A fresh connection after a first try: for a connection that is gone (the worker
      // restarted) or none made; not after ETOOMANYREFS, ENOBUFS or a signal (each would leave a
      // connection behind, in the worker's backlog if it is stopped, outside the count below).
      if (attempt > 0 && failed) break;
      if (attempt > 0 && full) {  // (a fresh connection because the last one was full)
        int& opened = overflow_[to];
        if (opened >= kMaxOverflow) break;
        ++opened;  // (counted even if it cannot be made)
      }
      const bool was_patient = patient;
      bool blocked = false;  // (a wait on this worker happened, whatever its outcome)
      const int peer = connect_to(to, attempt > 0, patient, full, blocked);
      // (A wait that got a connection: a second before the next; one that did not, 10 s.)
      if (blocked)
        waited_[to] = now + (peer >= 0 ? kWaitAgainAfterRoom : kWaitAgain), patient = false;
      if (peer == kForeign) break;  // (not tried again: its listener is not ours)
      if (peer < 0) {
        if (was_patient && full) waited = true, patient = false;
        continue;
      }
      // Seen reading: everything sent on this connection before was read (its queue is empty).
      // Looked at only while it matters (a mark, or fresh connections opened since it was last
      // seen reading): a system call.
      bool reads = false;
      if (std::uint64_t& n = sent_on_[to];
          n > 0 && (marked != stuck_.end() || overflow_.count(to) != 0)) {
        int queued = -1;
        reads = ::ioctl(peer, SIOCOUTQ, &queued) == 0 && queued == 0;
      }
      bool send_blocked = false;
      const Sent r = send_on(peer, fd, bytes, patient, &error, send_blocked);
      if (send_blocked) count_wait(), blocked = true;
      // (Any wait counts, also one that ended with room: a worker whose turns are long but under
      // 200 ms was waited on at every hand-off that found its queue full, stalling this worker's
      // thread again and again, before 2026-12-05; found by a review.)
      if (blocked)
        waited_[to] = now + (r == Sent::ok ? kWaitAgainAfterRoom : kWaitAgain), patient = false;
      if (r == Sent::ok) {
        ::close(fd);
        ++sent_on_[to];
        if (reads) overflow_.erase(to);
        if (waited) {
          mark(to, "its queue was full for 200 ms");
        } else if (reads && marked != stuck_.end() && now - marked->second >= kStuckAtLeast) {
          // (The mark stays a second at least: a worker that takes one connection now and then —
          // each frees one place in its backlog — is waited on at most once a second.)
          stuck_.erase(marked);
          std::fprintf(stderr, "shmio[w%d]: worker %d takes hand-offs again\n", index_, to);
        }
        return true;
      }
      full = full || r == Sent::full;
      failed = r == Sent::failed;
      if (blocked && r == Sent::full) waited = true;
    }
    if (close_on_failure) ::close(fd);
    if (waited) mark(to, "its queue is full");
    say("a hand-off to worker " + std::to_string(to) + " failed: " +
        (failed ? std::string(std::strerror(error))
         : full ? std::string("its queue is full")
                : std::string("no connection to it")));
    return false;
  }

 private:
  // The abstract address of a worker's hand-off socket, and its length.
  struct Address {
    sockaddr_un addr{};
    socklen_t len = 0;
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&addr); }
  };
  bool in_directory() const { return !cluster_.empty() && cluster_.front() == '/'; }
  // Whether a socket file is listened on: true unless a connection to it is refused (or it is
  // not there).
  static bool listened_on(Address addr) {
    const int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return true;  // (cannot tell: left)
    const bool refused = ::connect(s, addr.get(), addr.len) != 0 &&
                         (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTSOCK);
    ::close(s);
    return !refused;
  }
  // The directory must be this user's, a directory (not a link to one), and closed to others:
  // then no other user can bind a worker's address or connect to one.
  void check_directory() const {
    struct stat st {};
    const std::string probe = cluster_ + "/" + std::to_string(std::numeric_limits<int>::max());
    if (::lstat(cluster_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0 || probe.size() >= sizeof(sockaddr_un{}.sun_path))
      throw std::runtime_error("hand-off directory " + cluster_ +
                               ": not a directory of this user's closed to others, or its path is "
                               "too long for a socket address");
  }
  Address address(int index) const {
    Address a;
    a.addr.sun_family = AF_UNIX;
    if (in_directory()) {
      const std::string path = cluster_ + "/" + std::to_string(index);
      const std::size_t n = std::min(path.size(), sizeof a.addr.sun_path - 1);  // (checked)
      std::memcpy(a.addr.sun_path, path.data(), n);
      a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
      return a;
    }
    std::string name = "shmio-handoff." + cluster_ + "." + std::to_string(index);
    if (name.size() > sizeof a.addr.sun_path - 2) {
      // Cut, the names of different workers (or clusters sharing a long prefix) would be the same
      // address: the cluster's name goes by its 64-bit FNV-1a hash instead.
      std::uint64_t h = 0xcbf29ce484222325ULL;
      for (unsigned char c : cluster_) h = (h ^ c) * 0x100000001b3ULL;
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
      name = std::string("shmio-handoff.#") + hex + "." + std::to_string(index);
    }
    const std::size_t n = std::min(name.size(), sizeof a.addr.sun_path - 2);
    std::memcpy(a.addr.sun_path + 1, name.data(), n);  // sun_path[0] = 0: abstract
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    return a;
  }
  static constexpr int kForeign = -2;  // connect_to(): the listener is another user's
  // A connection to worker `to`'s hand-off socket (the one kept, or with `fresh` a new one);
  // without `patient` a new one does not wait on a full listen backlog. `full` is set when the
  // backlog was full (waited on for 200 ms, or at once).
  int connect_to(int to, bool fresh, bool patient, bool& full, bool& blocked) {
    if (auto it = peers_.find(to); it != peers_.end() && !fresh) return it->second;
    // (A fresh one replaces the one kept only once it is made: a worker whose backlog is full
    // keeps its full connection, so the next hand-off finds it full and counts its fresh try.)
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    // A peer that does not take a hand-off within 200 ms is stuck: the connection is dropped
    // (its client retries) rather than blocking this worker longer.
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    Address addr = address(to);
    // Without waiting first; a patient hand-off waits (blocking, its 200 ms) only on a backlog
    // found full, and says so (`blocked`: the caller does not wait on that worker again for
    // a second at least (kWaitAgainAfterRoom; kWaitAgain after a wait in vain)).
    int r = ::connect(fd, addr.get(), addr.len);
    if (r != 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && patient) {
      blocked = true;
      count_wait();
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      r = ::connect(fd, addr.get(), addr.len);
    }
    if (r != 0 && errno == EINTR) {
      // Interrupted while it waited: tried again without waiting (a retry waited its 200 ms
      // afresh, so that signals every 200 ms held it for ever). (Here a full backlog found so
      // still counts as waited on: on this kernel the wait's own timeout ends it with EINTR
      // too, measured by cluster_handoff, and a signal within the wait is rare.)
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      do {
        r = ::connect(fd, addr.get(), addr.len);
      } while (r != 0 && errno == EINTR);
    }
    if (r != 0) {
      full = full || errno == EAGAIN || errno == EWOULDBLOCK;
      ::close(fd);
      return -1;
    }
    // (Connected, the socket blocks again: a patient send waits its 200 ms; an impatient one says
    // MSG_DONTWAIT.)
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    // The listener must be this user's too: an abstract address has no permissions, and another
    // user's process could bind a dead worker's name before its successor does; handed to it, a
    // client's connection and request (its cookies) would be theirs. Not made: a failed hand-off
    // (the caller counts it), said at most once a second.
    if (!same_user(fd)) {
      ::close(fd);
      const auto now = std::chrono::steady_clock::now();
      if (now - foreign_said_ >= std::chrono::seconds(1)) {
        foreign_said_ = now;
        std::fprintf(stderr,
                     "shmio[w%d]: worker %d's hand-off address is held by another user's "
                     "process: nothing handed to it\n",
                     index_, to);
      }
      return kForeign;
    }
    if (auto it = peers_.find(to); it != peers_.end()) ::close(it->second);
    peers_[to] = fd;
    sent_on_[to] = 0;
    return fd;
  }
  // ok; full (no room: EAGAIN); broken (the connection is gone: EPIPE, ECONNRESET...); failed
  // (anything else: ETOOMANYREFS, ENOBUFS, a memfd not made, a signal in a patient wait).
  enum class Sent { ok, full, broken, failed };
  // Sends one hand-off message on `peer`; without `patient` it does not wait for room. With it,
  // it waits (up to 200 ms) only on a queue found full, and says so (`blocked`).
  static Sent send_on(int peer, int fd, const std::string& bytes, bool patient, int* error,
                      bool& blocked) {
    Header h{kMagic, 0, bytes.size()};
    int fds[2] = {fd, -1};
    int nfds = 1;
    if (bytes.size() > kInline) {
      // (The errno said with the failure: before 2026-12-06 it said "Success", EMFILE or
      // ENOMEM hidden; a review.)
      const int mfd = ::memfd_create("shmio-handoff", MFD_CLOEXEC);
      if (mfd < 0) {
        if (error != nullptr) *error = errno;
        return Sent::failed;
      }
      std::size_t off = 0;
      while (off < bytes.size()) {
        const ssize_t n = ::write(mfd, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          if (error != nullptr) *error = n < 0 ? errno : EIO;
          ::close(mfd);
          return Sent::failed;
        }
        off += static_cast<std::size_t>(n);
      }
      fds[1] = mfd;
      nfds = 2;
      h.in_memfd = 1;
    }
    iovec iov[2] = {{&h, sizeof h},
                    {const_cast<char*>(bytes.data()), h.in_memfd ? 0 : bytes.size()}};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<std::size_t>(nfds));
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<std::size_t>(nfds));
    std::memcpy(CMSG_DATA(cm), fds, sizeof(int) * static_cast<std::size_t>(nfds));
    // (Interrupted while it waited: tried again without waiting, as connect_to does.)
    ssize_t n = ::sendmsg(peer, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && patient) {
      blocked = true;
      n = ::sendmsg(peer, &msg, MSG_NOSIGNAL);
    }
    const bool interrupted = n < 0 && errno == EINTR;  // (then no verdict: not waited on)
    while (n < 0 && errno == EINTR) n = ::sendmsg(peer, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int e = errno;
    if (fds[1] >= 0) ::close(fds[1]);
    if (n >= 0) return Sent::ok;
    *error = e;
    if ((e == EAGAIN || e == EWOULDBLOCK) && !interrupted) return Sent::full;
    if (e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == ECONNREFUSED) return Sent::broken;
    return Sent::failed;
  }
  void accept_loop() {
    listener_.async_wait(
        net::posix::descriptor_base::wait_read,
        [this, life = std::weak_ptr<bool>(life_)](const boost::system::error_code& ec) {
          if (ec || life.expired()) return;
          for (;;) {
            const int c = ::accept4(listener_.native_handle(), nullptr, nullptr,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0 && errno == EINTR) continue;
            if (c < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
              // Out of descriptors (EMFILE, ENFILE) or memory: the connection
              // stays queued and the listener readable, so waiting again at
              // once would spin. Look again in 100 ms.
              accept_pause_.expires_after(std::chrono::milliseconds(100));
              accept_pause_.async_wait(
                  [this, life = std::weak_ptr<bool>(life_)](const boost::system::error_code& e) {
                    if (!e && !life.expired()) accept_loop();
                  });
              return;
            }
            if (c < 0) break;
            if (!same_user(c)) {
              ++*refused_;
              say("a hand-off connection from another user was refused");
              ::close(c);
              continue;
            }
            // (Assigned, not constructed with it: the constructor throws where the descriptor
            // cannot be registered with epoll, out of memory or of max_user_watches, and the
            // exception left the handler and the worker's event loop; a bug hunt, 2026-12-07.
            // Such a connection is closed: its sender hands the client over again or drops it.)
            auto d = std::make_shared<net::posix::stream_descriptor>(io_);
            boost::system::error_code assigned;
            d->assign(c, assigned);
            if (assigned) {
              ::close(c);
              say("a hand-off connection could not be watched: " + assigned.message());
              continue;
            }
            conns_.push_back(d);
            read_loop(d);
          }
          accept_loop();
        });
  }
  void read_loop(const std::shared_ptr<net::posix::stream_descriptor>& d) {
    d->async_wait(
        net::posix::descriptor_base::wait_read,
        [this, d, life = std::weak_ptr<bool>(life_)](const boost::system::error_code& ec) {
          if (ec || life.expired()) return;
          switch (receive(d->native_handle())) {
            case Received::gone: {
              boost::system::error_code ignored;
              d->close(ignored);
              conns_.erase(std::remove(conns_.begin(), conns_.end(), d), conns_.end());
              return;
            }
            case Received::all:
              read_loop(d);
              return;
            case Received::no_room: {
              // The rest stays queued (the connection readable: waiting again at once would
              // spin). Looked at again in 100 ms, as accept_loop() does.
              auto pause = std::make_shared<net::steady_timer>(io_, std::chrono::milliseconds(100));
              pauses_.push_back(pause);
              pause->async_wait([this, d, pause, life = std::weak_ptr<bool>(life_)](
                                    const boost::system::error_code& e) {
                if (e || life.expired()) return;
                pauses_.erase(std::remove(pauses_.begin(), pauses_.end(), pause), pauses_.end());
                read_loop(d);
              });
              return;
            }
          }
        });
  }
  // At most this many bytes travel with one connection: a request is bounded by Beast's header
  // limit and maxHttpBufferSize long before this; a peer announcing more is refused.
  static constexpr std::uint64_t kMaxBytes = 64ULL << 20;

  // Only processes of this user may hand connections over (the abstract socket has no file
  // permissions). (SO_PEERCRED gives the peer's effective uid: compared with this process's
  // effective one, as the hand-off directory's owner is.)
  static bool same_user(int sock) {
    ucred cred{};
    socklen_t len = sizeof cred;
    return ::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::geteuid();
  }

  // Whether two descriptors can be installed now (a message carries at most two): the kernel
  // installs what SCM_RIGHTS carries at recvmsg, and one it cannot install (EMFILE) is closed
  // with the message consumed: the connection lost. Asked by taking two (F_DUPFD) and giving them
  // back; this worker's thread is the only one that takes descriptors meanwhile.
  static bool room_for_two(int sock) {
    const int a = ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
    const int b = a < 0 ? -1 : ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
    return b >= 0;
  }

  enum class Received { all, gone, no_room };
  // Reads every queued message: all read, the peer gone, or stopped for want of descriptors
  // (the rest left queued: before 2026-12-06 each was read and its connection lost at EMFILE).
  Received receive(int sock) {
    for (;;) {
      if (!room_for_two(sock)) {
        say("hand-offs wait: this worker has no descriptor free for them (RLIMIT_NOFILE)");
        return Received::no_room;
      }
      Header h{};
      std::string inline_bytes(kInline, '\0');
      iovec iov[2] = {{&h, sizeof h}, {inline_bytes.data(), inline_bytes.size()}};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = 2;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Received::all
                                                                         : Received::gone;
      // The descriptors first: a message of no bytes may carry some (the kernel has installed
      // them already), and is malformed, not the end of the connection (before, taken for the
      // end, its descriptors stayed open in this worker for good).
      int fds[2] = {-1, -1};
      std::size_t nfds = 0;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        nfds = std::min<std::size_t>(2, (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        std::memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
      }
      if (n == 0 && nfds == 0) return Received::gone;
      struct stat st {};
      const bool ok = static_cast<std::size_t>(n) >= sizeof h && h.magic == kMagic && nfds >= 1 &&
                      h.length <= kMaxBytes &&
                      (!h.in_memfd || (::fstat(fds[1], &st) == 0 &&
                                       static_cast<std::uint64_t>(st.st_size) == h.length)) &&
                      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 &&
                      (h.in_memfd ? nfds == 2 : static_cast<std::size_t>(n) == sizeof h + h.length);
      std::string bytes;
      bool whole = ok;
      if (ok && h.in_memfd) {
        bytes.resize(h.length);
        std::size_t off = 0;
        while (off < bytes.size()) {
          const ssize_t r =
              ::pread(fds[1], bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) break;
          off += static_cast<std::size_t>(r);
        }
        // (Read short, it is refused as a malformed one: adopted cut, the request waited for
        // the rest of its body until its I/O timeout; before 2026-12-04, a helper's review.)
        whole = off == bytes.size();
      } else if (ok) {
        bytes.assign(inline_bytes.data(), h.length);
      }
      if (fds[1] >= 0) ::close(fds[1]);
      if (!whole) {
        if (fds[0] >= 0) ::close(fds[0]);
        ++*refused_;
        // (Descriptors cut by the kernel, MSG_CTRUNC, with none of them installed, or the
        // connection without its memfd: this worker is out of descriptors, not the message
        // malformed.)
        say((msg.msg_flags & MSG_CTRUNC) != 0 && (nfds == 0 || h.in_memfd)
                ? "a hand-off's connection was lost: this worker has no descriptor free for it "
                  "(RLIMIT_NOFILE)"
                : "a malformed hand-off message was dropped");
        continue;
      }
      adopt_(fds[0], std::move(bytes));
    }
  }

  net::io_context& io_;
  std::string cluster_;
  int index_;
  std::function<void(int, std::string)> adopt_;
  std::uint64_t* refused_;
  // Waits on a full queue begun (send(): at most 200 ms each, however they ended), counted where
  // the constructor's `waits` points (the Node's shmio_handoff_waits_total; the tests count them
  // so instead of timing each hand-off: the kernel's wait ends early now and then, and a paused
  // thread looks like a wait). Null: not counted.
  std::uint64_t* waits_;
  void count_wait() {
    if (waits_ != nullptr) ++*waits_;
  }
  net::posix::stream_descriptor listener_;
  net::steady_timer accept_pause_;  // accept_loop()'s pause when accept4 fails for want of fds
  std::vector<std::shared_ptr<net::posix::stream_descriptor>> conns_;
  std::vector<std::shared_ptr<net::steady_timer>> pauses_;  // read_loop()'s, for want of fds
  // Expires with this object; the handlers look at it first. A timer's wait that had ended when
  // its owner was destroyed (from a handler run before it in the same turn) runs with no error
  // code: the Node's and the bridge's timers read their freed owner so. A descriptor's wait is
  // cancelled at its close even when ready (Asio's reactor completes it later), so these were
  // not seen to: guarded the same all the same, not leaning on that.
  std::shared_ptr<bool> life_ = std::make_shared<bool>(true);
  std::unordered_map<int, int> peers_;              // worker index -> connected socket
  std::unordered_map<int, std::uint64_t> sent_on_;  // hand-offs sent on that socket
  // Fresh connections opened to a worker because the last one was full, since it was last seen
  // reading (send()); at most kMaxOverflow.
  std::unordered_map<int, int> overflow_;
  // (Eight: a worker paused a few seconds — a debugger, a long handler — still finds 1,500-2,500
  // hand-offs from each sender queued for it when it resumes, all answered; and a worker that never
  // resumes holds at most that many descriptors in flight per sender, not 21,500-35,900.)
  static constexpr int kMaxOverflow = 8;
  // Workers whose hand-off queue was found full (send()), and since when.
  std::unordered_map<int, std::chrono::steady_clock::time_point> stuck_;
  static constexpr std::chrono::seconds kStuckAtLeast{1};
  // Workers waited on (send(); a wait that ended with room too), and when each may be waited on
  // again: kWaitAgain after a wait in vain (mark()), kWaitAgainAfterRoom after one with room.
  std::unordered_map<int, std::chrono::steady_clock::time_point> waited_;
  static constexpr std::chrono::seconds kWaitAgain{10};
  // A wait that ended with room: the worker reads, late. Waited on again a second later at most,
  // so that a burst for a worker pausing under 200 ms now and then goes through (its hand-offs
  // fail once its overflow connections are full), while one reading late all the time costs the
  // sender at most 200 ms a second — every hand-off that found it full waited before 2026-12-05.
  static constexpr std::chrono::seconds kWaitAgainAfterRoom{1};
  // Marks worker `to` stuck (said once per marking) and notes the wait.
  void mark(int to, const char* why) {
    const auto now = std::chrono::steady_clock::now();
    waited_[to] = now + kWaitAgain;
    if (!stuck_.emplace(to, now).second) return;
    std::fprintf(stderr,
                 "shmio[w%d]: worker %d takes no hand-offs (%s): hand-offs to it are tried "
                 "without waiting and fail at once when they cannot be queued, until it takes "
                 "one\n",
                 index_, to, why);
  }
  // (Longer than a load figure stays fresh, 3 s, so that a stopped worker's last figure is gone
  // before a steered hand-off probes it; short enough that a worker back at work soon gets new
  // clients again.)
  static constexpr std::chrono::seconds kStuckSteer{5};
  std::chrono::steady_clock::time_point foreign_said_{};
  // The receiver's lines, each kind at most once a second (all counted in
  // shmio_handoffs_refused_total): any local process can connect to an abstract address in a
  // loop (before 2026-12-03 a line each).
  struct Said {
    std::chrono::steady_clock::time_point at{};
    std::uint64_t unsaid = 0;
  };
  // (Keyed by the text: a few kinds, times the workers and the errors a send can fail with.)
  std::map<std::string, Said, std::less<>> said_;
  void say(std::string_view what) {
    const auto now = std::chrono::steady_clock::now();
    auto it = said_.find(what);
    if (it == said_.end()) it = said_.emplace(std::string(what), Said{}).first;
    Said& s = it->second;
    if (s.at != std::chrono::steady_clock::time_point{} && now - s.at < std::chrono::seconds(1)) {
      ++s.unsaid;
      return;
    }
    s.at = now;
    const int len = static_cast<int>(what.size());
    if (s.unsaid == 0)
      std::fprintf(stderr, "shmio[w%d]: %.*s\n", index_, len, what.data());
    else
      std::fprintf(stderr, "shmio[w%d]: %.*s (and %llu more like it since the last line)\n", index_,
                   len, what.data(), static_cast<unsigned long long>(std::exchange(s.unsaid, 0)));
  }
};
}  // namespace shmio::cluster
