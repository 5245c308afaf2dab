#include "shmio/cluster/node.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "shmio/cluster/wire.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_notifier.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/shm/session_store.hpp"

namespace shmio::cluster {

namespace json = boost::json;
namespace net = boost::asio;
namespace sio = socketio;
using shm::RecordView;

namespace {

constexpr char kIdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int alphabet_index(char c) {
  const char* p = std::strchr(kIdAlphabet, c);
  return p == nullptr || c == '\0' ? -1 : static_cast<int>(p - kIdAlphabet);
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

json::array rooms_json(const std::set<sio::Room>& rooms) {
  json::array a;
  for (const auto& r : rooms) a.emplace_back(r);
  return a;
}

std::set<sio::Room> rooms_from(const json::value* v) {
  std::set<sio::Room> out;
  if (v != nullptr && v->is_array())
    for (const auto& r : v->get_array())
      if (r.is_string()) out.insert(std::string(r.get_string()));
  return out;
}

std::uint64_t u64_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return 0;
}

std::string str_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A BROADCAST taken out of the ring: decoded from the record in place and its frame and
// attachments copied once each, straight into the buffers every receiving socket will share.
// The record may be overwritten while this runs (a seqlock-style read, like RingReader::peek):
// the caller keeps the result only if consume() then says the record was intact.
struct TakenBroadcast {
  std::string nsp;
  sio::BroadcastOptions opts;
  std::uint8_t flags = 0;
  std::uint64_t ack_id = 0;
  sio::EncodedPacket packet;
};

// One copy out of the ring, straight into the frame every receiving socket will reference.
engineio::FrameRef copy_out(engineio::Frame::Kind kind, std::string_view bytes, bool compress) {
  return engineio::Frame::build(
      kind, bytes.size(),
      [&](char* d) {
        shm::copy_tentative(reinterpret_cast<std::byte*>(d),
                            reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
      },
      compress);
}

std::optional<TakenBroadcast> take_broadcast(std::span<const std::byte> record) {
  auto b = read_broadcast(record);
  if (!b) return std::nullopt;
  TakenBroadcast t;
  t.nsp = std::string(b->nsp);
  for (auto r : b->rooms) t.opts.rooms.emplace(r);
  for (auto r : b->except) t.opts.except.emplace(r);
  t.flags = b->flags;
  t.opts.flags.volatile_ = (b->flags & kFlagVolatile) != 0;
  t.opts.flags.compress = (b->flags & kFlagCompress) != 0;
  t.ack_id = b->ack_id;
  const bool compress = t.opts.flags.compress;
  t.packet.frame = copy_out(engineio::Frame::Kind::text, b->frame, compress);
  for (auto a : b->attachments)
    t.packet.attachments.push_back(copy_out(engineio::Frame::Kind::binary, a, compress));
  return t;
}

// ---------------------------------------------------------------------------------------------
// Hand-off of HTTP connections between workers: a Unix SOCK_SEQPACKET socket per worker (abstract
// address "shmio-handoff.<cluster>.<index>"); one message per connection carries its descriptor
// (SCM_RIGHTS) and the bytes read from it that are not answered yet. Up to kInline bytes travel in
// the message; more (a large POST) go in a memfd passed along with it.
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
          std::function<void(int fd, std::string bytes)> adopt, std::uint64_t* refused)
      : io_(io),
        cluster_(std::move(cluster)),
        index_(index),
        adopt_(std::move(adopt)),
        refused_(refused),
        listener_(io) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("hand-off socket: ") + std::strerror(errno));
    Address addr = address(index);
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
  void stop() {
    boost::system::error_code ec;
    listener_.close(ec);
    for (auto& c : conns_) c->close(ec);
    conns_.clear();
  }

  // Sends the connection to worker `to`; false (fd closed) if it cannot.
  bool send(int to, int fd, const std::string& bytes) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int peer = connect_to(to, attempt > 0);
      if (peer >= 0 && send_on(peer, fd, bytes)) {
        ::close(fd);
        return true;
      }
    }
    ::close(fd);
    return false;
  }

 private:
  // The abstract address of a worker's hand-off socket, and its length.
  struct Address {
    sockaddr_un addr{};
    socklen_t len = 0;
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&addr); }
  };
  Address address(int index) const {
    Address a;
    a.addr.sun_family = AF_UNIX;
    const std::string name = "shmio-handoff." + cluster_ + "." + std::to_string(index);
    const std::size_t n = std::min(name.size(), sizeof a.addr.sun_path - 2);
    std::memcpy(a.addr.sun_path + 1, name.data(), n);  // sun_path[0] = 0: abstract
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    return a;
  }
  int connect_to(int to, bool fresh) {
    auto it = peers_.find(to);
    if (it != peers_.end() && !fresh) return it->second;
    if (it != peers_.end()) {
      ::close(it->second);
      peers_.erase(it);
    }
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    // A peer that does not take a hand-off within 200 ms is stuck: the connection is dropped
    // (its client retries) rather than blocking this worker longer.
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    Address addr = address(to);
    if (::connect(fd, addr.get(), addr.len) != 0) {
      ::close(fd);
      return -1;
    }
    peers_[to] = fd;
    return fd;
  }
  static bool send_on(int peer, int fd, const std::string& bytes) {
    Header h{kMagic, 0, bytes.size()};
    int fds[2] = {fd, -1};
    int nfds = 1;
    if (bytes.size() > kInline) {
      const int mfd = ::memfd_create("shmio-handoff", MFD_CLOEXEC);
      if (mfd < 0) return false;
      std::size_t off = 0;
      while (off < bytes.size()) {
        const ssize_t n = ::write(mfd, bytes.data() + off, bytes.size() - off);
        if (n <= 0) {
          ::close(mfd);
          return false;
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
    ssize_t n;
    do {
      n = ::sendmsg(peer, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (fds[1] >= 0) ::close(fds[1]);
    return n >= 0;
  }
  void accept_loop() {
    listener_.async_wait(net::posix::descriptor_base::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (ec) return;
                           for (;;) {
                             const int c = ::accept4(listener_.native_handle(), nullptr, nullptr,
                                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
                             if (c < 0) break;
                             if (!same_user(c)) {
                               ++*refused_;
                               std::fprintf(stderr,
                                            "shmio[w%d]: a hand-off connection from another "
                                            "user was refused\n",
                                            index_);
                               ::close(c);
                               continue;
                             }
                             auto d = std::make_shared<net::posix::stream_descriptor>(io_, c);
                             conns_.push_back(d);
                             read_loop(d);
                           }
                           accept_loop();
                         });
  }
  void read_loop(const std::shared_ptr<net::posix::stream_descriptor>& d) {
    d->async_wait(net::posix::descriptor_base::wait_read,
                  [this, d](const boost::system::error_code& ec) {
                    if (ec) return;
                    if (!receive(d->native_handle())) {
                      boost::system::error_code ignored;
                      d->close(ignored);
                      conns_.erase(std::remove(conns_.begin(), conns_.end(), d), conns_.end());
                      return;
                    }
                    read_loop(d);
                  });
  }
  // At most this many bytes travel with one connection: a request is bounded by Beast's header
  // limit and maxHttpBufferSize long before this; a peer announcing more is refused.
  static constexpr std::uint64_t kMaxBytes = 64ULL << 20;

  // Only processes of this user may hand connections over (the abstract socket has no file
  // permissions).
  static bool same_user(int sock) {
    ucred cred{};
    socklen_t len = sizeof cred;
    return ::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::getuid();
  }

  // Reads every queued message; false when the peer has gone.
  bool receive(int sock) {
    for (;;) {
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
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      if (n == 0) return false;
      int fds[2] = {-1, -1};
      std::size_t nfds = 0;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        nfds = std::min<std::size_t>(2, (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        std::memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
      }
      struct stat st {};
      const bool ok = static_cast<std::size_t>(n) >= sizeof h && h.magic == kMagic && nfds >= 1 &&
                      h.length <= kMaxBytes &&
                      (!h.in_memfd || (::fstat(fds[1], &st) == 0 &&
                                       static_cast<std::uint64_t>(st.st_size) == h.length)) &&
                      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 &&
                      (h.in_memfd ? nfds == 2 : static_cast<std::size_t>(n) == sizeof h + h.length);
      std::string bytes;
      if (ok && h.in_memfd) {
        bytes.resize(h.length);
        std::size_t off = 0;
        while (off < bytes.size()) {
          const ssize_t r =
              ::pread(fds[1], bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
          if (r <= 0) break;
          off += static_cast<std::size_t>(r);
        }
        bytes.resize(off);
      } else if (ok) {
        bytes.assign(inline_bytes.data(), h.length);
      }
      if (fds[1] >= 0) ::close(fds[1]);
      if (!ok) {
        if (fds[0] >= 0) ::close(fds[0]);
        ++*refused_;
        std::fprintf(stderr, "shmio[w%d]: a malformed hand-off message was dropped\n", index_);
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
  net::posix::stream_descriptor listener_;
  std::vector<std::shared_ptr<net::posix::stream_descriptor>> conns_;
  std::unordered_map<int, int> peers_;  // worker index -> connected socket
};

}  // namespace

std::string session_prefix(int index) {
  return {kIdAlphabet[(index / 64) % 64], kIdAlphabet[index % 64]};
}

int session_owner(const std::string& sid) {
  if (sid.size() < 2) return -1;
  const int a = alphabet_index(sid[0]), b = alphabet_index(sid[1]);
  return a < 0 || b < 0 ? -1 : a * 64 + b;
}

// ---------------------------------------------------------------------------------------------
class ClusterAdapter;

struct Responder {
  std::uint16_t producer;
  shm::ProcessIdentity who;
};

struct PendingRequest {
  std::weak_ptr<sio::AckCollector> collector;
  std::vector<Responder> responders;
  // fetch_sockets: the namespace whose RemoteSockets are built from the answers.
  sio::Namespace* nsp = nullptr;
};

struct Node::Impl {
  Impl(net::io_context& ctx, NodeOptions o)
      : io(ctx),
        options(std::move(o)),
        notify(ctx),
        dead_timer(ctx),
        board_timer(ctx),
        load_timer(ctx) {}

  net::io_context& io;
  NodeOptions options;
  std::optional<shm::Segment> segment;
  std::optional<shm::RingWriter> writer;
  std::optional<shm::RingReader> reader;
  std::unique_ptr<shm::RingNotifier> notifier;
  net::posix::stream_descriptor notify;
  net::steady_timer dead_timer;
  bool dead_timer_armed = false;
  // Connection state recovery's sessions, in shared memory beside the ring (shm/session_store.hpp):
  // what every worker saves and any worker takes, whichever died or restarted in between. Empty
  // if it could not be opened (said at start; sessions are then not recoverable across workers).
  std::optional<shm::SessionStore> sessions;
  // Every worker's /metrics exposition, for a scrape that lands on any of them (set_local_metrics).
  std::optional<shm::WorkerBoard> board;
  std::function<std::string()> local_metrics;
  net::steady_timer board_timer;
  std::chrono::steady_clock::time_point board_refused_logged{};
  void post_metrics(const std::string& text) {
    if (!board) return;
    if (board->post(static_cast<std::uint32_t>(options.worker), text)) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - board_refused_logged < std::chrono::minutes(1)) return;
    board_refused_logged = now;
    std::fprintf(stderr,
                 "shmio[w%d]: this worker's metrics (%zu bytes) were not posted on the board (a "
                 "post holds %zu): other workers' /metrics show its earlier post\n",
                 options.worker, text.size(), board->capacity());
  }
  void arm_board_timer() {
    board_timer.expires_after(std::chrono::seconds(1));
    board_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped) return;
      if (local_metrics) post_metrics(local_metrics());
      arm_board_timer();
    });
  }
  // Rebalancing: every worker's client count as it last said (LOAD, once a second).
  struct Load {
    std::size_t clients = 0;
    shm::ProcessIdentity who;
    std::chrono::steady_clock::time_point at;
  };
  std::map<int, Load> loads;  // by worker index
  net::steady_timer load_timer;
  std::unique_ptr<Handoff> handoff;
  sio::Server* server = nullptr;
  bool stopped = false;
  NodeStats stats;
  std::map<std::string, ClusterAdapter*> adapters;
  std::unordered_map<std::uint64_t, PendingRequest> pending;
  std::uint64_t next_request = 1;
  bool draining = false;
  // Every record below this position has been applied here (own records: when published, or
  // when read for broadcasts delivered in ring order).
  std::uint64_t applied_end = 0;

  // --- publishing
  bool publish(MessageType t, const std::string& payload) {
    std::uint64_t at = 0;
    const auto st = writer->publish(static_cast<std::uint16_t>(t), as_bytes(payload), &at);
    if (st != shm::PublishStatus::ok) {
      ++stats.publish_failures;
      std::fprintf(stderr, "shmio[w%d]: could not publish %s (%zu bytes): %s\n", options.worker,
                   to_string(t), payload.size(), shm::to_string(st));
      return false;
    }
    ++stats.messages_published;
    keep_up(at);
    return true;
  }
  // A worker must never be lapped by its own records: one turn can publish many (a read of many
  // client messages, each a broadcast), and the notifier's drain runs only between turns. Once
  // this worker's reader is half a ring behind what it just published, it drains now.
  void keep_up(std::uint64_t published_at) {
    if (!reader || draining) return;
    if (published_at - std::min(published_at, reader->position()) > segment->capacity() / 2)
      drain();
  }
  std::uint64_t request_id() {
    // Never equal to an ack id (those stay below 2^53; these have bit 62 set), unique across
    // workers and restarts: the pid in bits 32..61, a counter below.
    return (1ULL << 62) | (static_cast<std::uint64_t>(::getpid()) << 32) |
           (next_request++ & 0xFFFFFFFFULL);
  }

  // Ready for clients (Node::when_ready): at start (the sessions of others are in shared memory,
  // not asked of anyone).
  bool ready = false;
  std::vector<std::function<void()>> ready_waiters;
  void become_ready() {
    if (ready) return;
    ready = true;
    for (auto& f : std::exchange(ready_waiters, {})) f();
  }
  // --- rebalancing
  static std::size_t margin(std::size_t n) { return std::max<std::size_t>(8, n / 10); }
  // The other workers' counts said within the last 3 s (a dead worker's entry goes with its
  // WORKER_DOWN; no /proc look-up here: steer() runs for every fresh handshake).
  template <class F>
  void for_each_fresh_load(F f) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [w, l] : loads)
      if (w != options.worker && now - l.at < std::chrono::seconds(3)) f(w, l);
  }
  // A fresh handshake: kept (-1), or the worker to hand it to.
  int steer() {
    if (!server || stopped) return -1;
    const std::size_t mine = server->client_count();
    int best = -1;
    std::size_t least = mine;
    for_each_fresh_load([&](int w, Load& l) {
      if (l.clients < least) {
        least = l.clients;
        best = w;
      }
    });
    if (best < 0 || mine - least <= margin(mine)) return -1;
    ++loads[best].clients;  // counted there until it says its own count again
    ++stats.rebalance_steered;
    return best;
  }
  void arm_load_timer() {
    load_timer.expires_after(std::chrono::seconds(1));
    load_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped || !server) return;
      publish(MessageType::load,
              write_message({{"worker", options.worker}, {"clients", server->client_count()}}));
      shed();
      arm_load_timer();
    });
  }
  // With recovery: while above the cluster's average by the margin, ask at most rebalance_rate
  // recoverable clients (of "/") to reconnect; they recover wherever they land.
  void shed() {
    if (!server->options().connection_state_recovery) return;
    const std::size_t mine = server->client_count();
    std::size_t total = mine, n = 1;
    for_each_fresh_load([&](int, Load& l) {
      total += l.clients;
      ++n;
    });
    if (n < 2) return;
    const std::size_t avg = total / n;
    if (mine <= avg + margin(avg)) return;
    std::size_t k = std::min(options.rebalance_rate, mine - avg);
    sio::Namespace& nsp = server->of("/");
    for (const sio::SocketId& id : nsp.adapter().targets(sio::BroadcastOptions{})) {
      if (k == 0) break;
      sio::SocketPtr s = nsp.socket(id);
      if (!s || !s->connected() || s->pid().empty()) continue;
      s->drop_connection();
      ++stats.rebalance_shed;
      --k;
    }
  }

  // --- membership
  std::vector<Responder> live_workers(bool include_self) const {
    std::vector<Responder> out;
    for (std::uint16_t i = 0; i < segment->max_producers(); ++i) {
      const auto& slot = segment->producer_slot(i);
      if (slot.state.load(std::memory_order_acquire) != shm::layout::kSlotActive) continue;
      if (std::strncmp(slot.label, "worker-", 7) != 0) continue;
      if (!include_self && i == writer->id()) continue;
      const shm::ProcessIdentity who = shm::registry::owner_of(slot);
      if (shm::liveness(who) != shm::Liveness::alive) continue;
      out.push_back({i, who});
    }
    return out;
  }
  bool responder_alive(const Responder& r) const {
    const auto& slot = segment->producer_slot(r.producer);
    return slot.state.load(std::memory_order_acquire) == shm::layout::kSlotActive &&
           shm::registry::owner_of(slot) == r.who && shm::liveness(r.who) == shm::Liveness::alive;
  }
  void track(std::uint64_t rid, PendingRequest req) {
    pending[rid] = std::move(req);
    arm_dead_check();
  }
  // While requests wait, the registry is checked for dead workers every 100 ms.
  void arm_dead_check() {
    if (dead_timer_armed || pending.empty()) return;
    dead_timer_armed = true;
    dead_timer.expires_after(std::chrono::milliseconds(100));
    dead_timer.async_wait([this](const boost::system::error_code& ec) {
      dead_timer_armed = false;
      if (ec || stopped) return;
      drop_responders([this](const Responder& r) { return !responder_alive(r); });
      arm_dead_check();
    });
  }
  void worker_down(pid_t pid) {
    drop_responders([pid](const Responder& r) { return r.who.pid == pid; });
  }
  // Every pending request stops waiting for the responders `dead` names: it completes with the
  // live workers' answers (no error for the dead one's), and forgets finished requests.
  // fail_source() may complete a request and run its callback, which may start or end other
  // requests (changing `pending`): the callbacks run only after the walk.
  template <class Pred>
  void drop_responders(Pred dead) {
    std::vector<std::pair<std::shared_ptr<sio::AckCollector>, std::uint64_t>> failed;
    for (auto it = pending.begin(); it != pending.end();) {
      auto c = it->second.collector.lock();
      if (!c || c->done()) {
        it = pending.erase(it);
        continue;
      }
      auto& rs = it->second.responders;
      for (auto r = rs.begin(); r != rs.end();) {
        if (!dead(*r)) {
          ++r;
          continue;
        }
        failed.emplace_back(c, r->producer + 1u);
        r = rs.erase(r);
      }
      ++it;
    }
    for (auto& [c, source] : failed) c->fail_source(source, false);
  }
  std::shared_ptr<sio::AckCollector> collector_for(std::uint64_t rid) {
    auto it = pending.find(rid);
    if (it == pending.end()) return nullptr;
    auto c = it->second.collector.lock();
    if (!c || c->done()) {
      pending.erase(it);
      return nullptr;
    }
    return c;
  }

  // --- reading
  void start_reading() {
    notify.assign(::dup(notifier->fd()));
    wait_notify();
    drain();
  }
  void wait_notify() {
    notify.async_wait(net::posix::descriptor_base::wait_read,
                      [this](const boost::system::error_code& ec) {
                        if (ec || stopped) return;
                        notifier->drain();
                        drain();
                        wait_notify();
                      });
  }
  void drain();
  void apply_broadcast(TakenBroadcast b, std::uint16_t producer);
  // One of our own BROADCASTs that we deliver when read (kFlagOwnInRingOrder).
  static bool own_in_ring_order(const RecordView& v);
  // Every other message (JSON + blobs).
  void apply(std::uint16_t type, std::uint16_t producer, std::span<const std::byte> payload);
  void on_lapped(std::uint64_t lost);
  ClusterAdapter* adapter(std::string_view nsp) {
    auto it = adapters.find(std::string(nsp));
    return it == adapters.end() ? nullptr : it->second;
  }
};

// ---------------------------------------------------------------------------------------------
// The adapter of one namespace on a worker: the local rooms index (InMemoryAdapter's) plus the
// operations over every worker.
class ClusterAdapter final : public sio::InMemoryAdapter {
 public:
  ClusterAdapter(sio::Namespace& nsp, Node::Impl& node) : InMemoryAdapter(nsp), node_(node) {
    node_.adapters[nsp.name()] = this;
  }
  ~ClusterAdapter() override { node_.adapters.erase(nsp_->name()); }

  sio::Namespace& nsp() { return *nsp_; }

  // Rooms of a recoverable socket are published when they change (below), so that its session
  // survives even a SIGKILL of this worker.
  void add_all(const sio::SocketId& id, const std::set<sio::Room>& rooms) override {
    InMemoryAdapter::add_all(id, rooms);
    session_changed(id);
  }
  void del(const sio::SocketId& id, const sio::Room& room) override {
    InMemoryAdapter::del(id, room);
    session_changed(id);
  }

  std::size_t broadcast(sio::Packet p, const sio::BroadcastOptions& opts) override {
    const auto& recovery = nsp_->server().options().connection_state_recovery;
    const bool with_offset =
        recovery && !p.id && !opts.flags.volatile_ &&
        (p.type == sio::PacketType::event || p.type == sio::PacketType::binary_event);
    if (opts.flags.local) {
      return nsp_->deliver_local(sio::encode_shared(p, opts.flags.compress), opts);
    }
    // The offset is the record's own ring position, known only once claimed: the frame is
    // encoded with 16 placeholder digits, and they are overwritten in the claimed record.
    if (with_offset) p.data->as_array().emplace_back(std::string(kOffsetDigits, '0'));
    std::string frame = "4" + sio::encode(p);
    std::uint64_t position = 0;
    const std::uint8_t flags =
        broadcast_flags(opts.flags) | (with_offset ? kFlagOwnInRingOrder : std::uint8_t{0});
    const bool published = write(opts, flags, 0, frame, p.attachments, with_offset, &position);
    if (with_offset && published) {
      // Delivered here when this worker's reader reaches the record (the ring notifier wakes
      // it: our own commit moves the frontier too), in ring order with everyone else's. A
      // socket that got a later record before this one would name an offset past it, and a
      // replay from there would skip it (or repeat what it had).
      return 0;
    }
    if (with_offset) {  // not in the ring: no offset (a recovery must not start there)
      p.data->as_array().pop_back();
      frame = "4" + sio::encode(p);
    }
    return nsp_->deliver_local(sio::EncodedPacket::from(frame, p.attachments, opts.flags.compress),
                               opts);
  }

  void broadcast_with_ack(sio::Packet p, const sio::BroadcastOptions& opts,
                          const std::shared_ptr<sio::AckCollector>& collector) override {
    const std::uint64_t id = *p.id;
    std::string frame = "4" + sio::encode(p);
    if (!opts.flags.local) {
      auto responders = node_.live_workers(false);
      for (const Responder& r : responders) collector->add_pending_source(r.producer + 1u);
      const auto flags = static_cast<std::uint8_t>(kFlagAck | broadcast_flags(opts.flags));
      if (write(opts, flags, id, frame, p.attachments, false, nullptr)) {
        node_.track(id, PendingRequest{collector, std::move(responders), nullptr});
      } else {
        for (const Responder& r : responders) collector->fail_source(r.producer + 1u, true);
      }
    }
    ack_locally(sio::EncodedPacket::from(frame, p.attachments, opts.flags.compress), opts, id,
                collector);
  }

  void add_sockets(const sio::BroadcastOptions& opts, const std::set<sio::Room>& rooms) override {
    if (!opts.flags.local)
      node_.publish(MessageType::sockets_join, sio_message(opts, {{"rooms", rooms_json(rooms)}}));
    Adapter::add_sockets(opts, rooms);
  }
  void del_sockets(const sio::BroadcastOptions& opts, const std::set<sio::Room>& rooms) override {
    if (!opts.flags.local)
      node_.publish(MessageType::sockets_leave, sio_message(opts, {{"rooms", rooms_json(rooms)}}));
    Adapter::del_sockets(opts, rooms);
  }
  void disconnect_sockets(const sio::BroadcastOptions& opts, bool close) override {
    if (!opts.flags.local)
      node_.publish(MessageType::disconnect_sockets, sio_message(opts, {{"close", close}}));
    Adapter::disconnect_sockets(opts, close);
  }

  void fetch_sockets(const sio::BroadcastOptions& opts,
                     std::function<void(std::vector<sio::RemoteSocket>)> done) override {
    // Local sockets first, then each worker's answer; all turned into RemoteSockets at the end.
    sio::Namespace* nsp = nsp_;
    auto collector = std::make_shared<sio::AckCollector>(
        node_.io,
        [nsp, done = std::move(done)](std::optional<std::string>, std::vector<sio::Args> answers) {
          std::vector<sio::RemoteSocket> out;
          for (const sio::Args& a : answers) {
            if (a.values.empty() || !a.values[0].is_array()) continue;
            for (const json::value& v : a.values[0].get_array()) {
              if (!v.is_object()) continue;
              const json::object& o = v.get_object();
              const json::value* hs = o.if_contains("handshake");
              const json::value* data = o.if_contains("data");
              out.emplace_back(
                  *nsp, str_of(o, "id"),
                  hs && hs->is_object() ? handshake_from_json(hs->get_object()) : sio::Handshake{},
                  rooms_from(o.if_contains("rooms")), data ? *data : json::value());
            }
          }
          done(std::move(out));
        });
    collector->add_pending_source(0);
    if (!opts.flags.local) {
      auto responders = node_.live_workers(false);
      for (const Responder& r : responders) collector->add_pending_source(r.producer + 1u);
      const std::uint64_t rid = node_.request_id();
      if (node_.publish(MessageType::fetch_sockets, sio_message(opts, {{"requestId", rid}}))) {
        node_.track(rid, PendingRequest{collector, std::move(responders), nsp_});
      } else {
        for (const Responder& r : responders) collector->fail_source(r.producer + 1u, true);
      }
    }
    collector->expect(0, 1);
    collector->answer(0, sio::Args{json::value(local_sockets(opts))});
    if (!collector->done()) collector->start(std::chrono::seconds(5));
  }

  void server_side_emit(const std::string& event, sio::Args args,
                        const std::shared_ptr<sio::AckCollector>& collector) override {
    json::object body{{"nsp", nsp_->name()}, {"event", event}, {"args", args.values}};
    std::vector<Responder> responders;
    std::uint64_t rid = 0;
    if (collector) {
      responders = node_.live_workers(false);
      rid = node_.request_id();
      body["requestId"] = rid;
      for (const Responder& r : responders) collector->expect(r.producer + 1u, 1);
    }
    const bool ok =
        node_.publish(MessageType::server_side_emit, write_message(body, args.binaries));
    if (!collector) return;
    if (ok) {
      node_.track(rid, PendingRequest{collector, std::move(responders), nullptr});
    } else {
      for (const Responder& r : responders) collector->fail_source(r.producer + 1u, true);
    }
  }

  std::size_t server_count() const override { return node_.live_workers(true).size(); }

  // --- connection state recovery: sessions in shared memory (Node::Impl::sessions)
  void persist_session(sio::SessionState s) override { save(s, /*connected=*/false); }

  std::optional<sio::SessionState> take_session(const std::string& pid,
                                                const std::string& offset) override {
    node_.drain();  // broadcasts published by others until now
    const auto pos = position_of(offset);
    // A client back on the worker that still holds its socket (this worker has not yet seen the
    // old connection die): as socket.io, which restores only sessions saved at a disconnect it
    // has seen, it starts afresh.
    const auto held_here = [&] {
      for (const sio::SocketId& id : targets(sio::BroadcastOptions{}))
        if (sio::SocketPtr s = nsp_->socket(id); s && s->connected() && s->pid() == pid)
          return true;
      return false;
    };
    std::optional<sio::SessionState> st;
    const char* refused = nullptr;
    if (!node_.sessions) {
      refused = "no session table (it could not be opened at start)";
    } else {
      auto t = node_.sessions->take(key(pid), window());
      if (t.status == shm::SessionStore::TakeStatus::connected_live && held_here())
        refused =
            "its socket is still connected on a live worker (this one: the old "
            "connection's end not seen yet)";
      else if (t.status != shm::SessionStore::TakeStatus::ok)
        refused = shm::to_string(t.status);
      else if (!pos)
        refused = "malformed offset";
      else if (!replayable(*pos))
        refused = "the offset is no longer in the ring";
      else if (!(st = state_of(pid, t.state)))
        refused = "its saved state is not readable";
    }
    if (refused != nullptr) {
      ++node_.stats.recovery_failures;
      if (node_.options.log_recoveries)
        std::fprintf(stderr, "shmio[w%d]: session %s not recovered: %s\n", node_.options.worker,
                     pid.c_str(), refused);
      return std::nullopt;
    }
    return st;
  }

  void forget_session(const std::string& pid) override {
    if (node_.sessions) node_.sessions->erase(key(pid));
  }

  std::optional<std::vector<sio::EncodedPacket>> replay(const std::string& offset,
                                                        const std::set<sio::Room>& rooms) override {
    auto r = replay_range(offset, rooms);
    if (!r && node_.options.log_recoveries)
      std::fprintf(stderr,
                   "shmio[w%d]: session at offset %s not recovered: its range could not be read "
                   "whole (overwritten, or lapped while read)\n",
                   node_.options.worker, offset.c_str());
    return r;
  }
  std::optional<std::vector<sio::EncodedPacket>> replay_range(const std::string& offset,
                                                              const std::set<sio::Room>& rooms) {
    node_.drain();
    const auto pos = position_of(offset);
    if (!pos) return std::nullopt;
    auto r = shm::RingReader::attach(*node_.segment, {"replay", -1, shm::StartAt::latest});
    if (!r) return std::nullopt;
    shm::RingReader& rd = r.value();
    if (!rd.seek(*pos)) {
      ++node_.stats.recovery_failures;
      return std::nullopt;
    }
    const std::uint64_t end = node_.applied_end;
    std::vector<sio::EncodedPacket> out;
    std::array<RecordView, 64> views;
    bool first = true;
    while (rd.position() < end) {
      const std::size_t n = rd.peek(views);
      if (rd.last_loss().records != 0) return std::nullopt;
      if (n == 0) break;
      std::vector<sio::EncodedPacket> batch;
      std::size_t used = 0;
      for (; used < n && views[used].position < end; ++used) {
        const RecordView& v = views[used];
        if (first) {  // the record the client already has: it must be the one it named
          first = false;
          if (v.position != *pos || v.type != static_cast<std::uint16_t>(MessageType::broadcast))
            return std::nullopt;
          continue;
        }
        if (v.type != static_cast<std::uint16_t>(MessageType::broadcast)) continue;
        auto b = take_broadcast(v.payload);
        if (!b || b->nsp != nsp_->name() || (b->flags & (kFlagAck | kFlagVolatile)) != 0) continue;
        if (sio::reaches(b->opts, rooms)) batch.push_back(std::move(b->packet));
      }
      if (!rd.consume(std::span<const RecordView>(views.data(), used))) return std::nullopt;
      for (auto& e : batch) out.push_back(std::move(e));
      if (used < n) break;
    }
    if (first) return std::nullopt;
    ++node_.stats.recoveries;
    return out;
  }

  json::array local_sockets(const sio::BroadcastOptions& opts) const {
    json::array out;
    for (const sio::SocketId& id : targets(opts)) {
      sio::SocketPtr s = nsp_->socket(id);
      if (!s) continue;
      out.push_back(json::object{{"id", id},
                                 {"handshake", handshake_to_json(s->handshake())},
                                 {"rooms", rooms_json(s->rooms())},
                                 {"data", s->data()}});
    }
    return out;
  }
  void apply_local(MessageType t, const json::object& body) {
    const json::value* o = body.if_contains("opts");
    const sio::BroadcastOptions opts =
        o && o->is_object() ? options_from_json(o->get_object()) : sio::BroadcastOptions{};
    if (t == MessageType::sockets_join)
      Adapter::add_sockets(opts, rooms_from(body.if_contains("rooms")));
    if (t == MessageType::sockets_leave)
      Adapter::del_sockets(opts, rooms_from(body.if_contains("rooms")));
    if (t == MessageType::disconnect_sockets) {
      const json::value* c = body.if_contains("close");
      Adapter::disconnect_sockets(opts, c && c->is_bool() && c->get_bool());
    }
  }

 private:
  std::string sio_message(const sio::BroadcastOptions& opts, json::object extra) {
    extra["nsp"] = nsp_->name();
    extra["opts"] = options_to_json(opts);
    return write_message(extra);
  }
  bool write(const sio::BroadcastOptions& opts, std::uint8_t flags, std::uint64_t ack_id,
             const std::string& frame, const std::vector<sio::Binary>& att, bool with_offset,
             std::uint64_t* position) {
    if (!broadcast_fits(nsp_->name(), opts)) {
      ++node_.stats.publish_failures;
      std::fprintf(stderr,
                   "shmio[w%d]: a broadcast with a room or namespace name over 65535 "
                   "bytes was delivered on this worker only\n",
                   node_.options.worker);
      return false;
    }
    const std::size_t size = broadcast_size(nsp_->name(), opts, frame.size(), att);
    auto claim = node_.writer->claim(size, static_cast<std::uint16_t>(MessageType::broadcast));
    if (claim.status != shm::PublishStatus::ok) {
      ++node_.stats.publish_failures;
      std::fprintf(stderr, "shmio[w%d]: a broadcast of %zu bytes was not published: %s\n",
                   node_.options.worker, size, shm::to_string(claim.status));
      return false;
    }
    const std::size_t frame_at =
        write_broadcast(claim.payload, nsp_->name(), opts, flags, ack_id, frame, att);
    if (with_offset) {
      const std::string off = offset_of(claim.position);
      std::memcpy(claim.payload.data() + frame_at + frame.size() - 2 - kOffsetDigits, off.data(),
                  kOffsetDigits);
    }
    node_.writer->commit();
    if (position != nullptr) *position = claim.position;
    ++node_.stats.broadcasts_published;
    ++node_.stats.messages_published;
    node_.keep_up(claim.position);
    return true;
  }
  // Whether the record at `pos` can still be read (it and everything after it).
  bool replayable(std::uint64_t pos) {
    auto r = shm::RingReader::attach(*node_.segment, {"replay", -1, shm::StartAt::latest});
    return r && r.value().seek(pos);
  }
  // A recoverable socket's session is saved when it connects and whenever its rooms change, so that
  // it survives even a SIGKILL of this worker; at its disconnect with its final data.
  void session_changed(const sio::SocketId& id) {
    if (!nsp_->server().options().connection_state_recovery) return;
    sio::SocketPtr s = nsp_->socket(id);
    if (!s || !s->connected() || s->pid().empty()) return;
    save(sio::SessionState{s->id(), s->pid(), socket_rooms(id), s->data()}, true);
  }
  void save(const sio::SessionState& s, bool connected) {
    if (s.pid.empty()) return;
    const std::string state = json::serialize(
        json::object{{"id", s.id}, {"rooms", rooms_json(s.rooms)}, {"data", s.data}});
    const auto r = node_.sessions ? node_.sessions->put(key(s.pid), state, connected, window())
                                  : shm::SessionStore::PutStatus::full;
    if (r == shm::SessionStore::PutStatus::ok) return;
    ++node_.stats.sessions_not_saved;
    // One line per second at most (a full table would say it for every connection).
    const auto now = std::chrono::steady_clock::now();
    if (now - last_not_saved_log_ < std::chrono::seconds(1)) return;
    last_not_saved_log_ = now;
    std::fprintf(stderr, "shmio[w%d]: session %s not saved for recovery: %s\n",
                 node_.options.worker, s.pid.c_str(),
                 node_.sessions ? shm::to_string(r) : "no session table");
  }
  std::string key(const std::string& pid) const { return nsp_->name() + "\n" + pid; }
  std::chrono::nanoseconds window() const {
    const auto& r = nsp_->server().options().connection_state_recovery;
    return r ? std::chrono::duration_cast<std::chrono::nanoseconds>(r->max_disconnection_duration)
             : std::chrono::nanoseconds(0);
  }
  static std::optional<sio::SessionState> state_of(const std::string& pid,
                                                   const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const json::object& o = v.get_object();
    const json::value* data = o.if_contains("data");
    return sio::SessionState{str_of(o, "id"), pid, rooms_from(o.if_contains("rooms")),
                             data ? *data : json::value()};
  }

  Node::Impl& node_;
  std::chrono::steady_clock::time_point last_not_saved_log_{};
};

// ---------------------------------------------------------------------------------------------
void Node::Impl::drain() {
  // Not re-entered: a callback run while applying a record (e.g. an answer completing a request
  // whose callback admits a recovered socket) must not apply later records before the rest of
  // the batch. Such a nested replay reads up to `applied_end` instead.
  if (stopped || !reader || draining) return;
  draining = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{draining};
  std::array<RecordView, 64> views;
  struct Copied {
    std::uint16_t type, producer;
    std::uint64_t end;
    std::optional<TakenBroadcast> broadcast;  // a BROADCAST (nullopt: it did not decode)
    std::string bytes;                        // any other message
  };
  for (;;) {
    const std::size_t n = reader->peek(views);
    if (reader->last_loss().records != 0) on_lapped(reader->last_loss().records);
    if (n == 0) {
      applied_end = reader->position();
      return;
    }
    // One copy per record out of the ring (validated by consume() below): a BROADCAST's frame
    // is copied straight into the buffer its sockets share; other messages into `bytes`.
    std::vector<Copied> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const RecordView& v = views[i];
      // Our own records were applied when published, except broadcasts delivered in ring order.
      if (v.producer == writer->id() && !own_in_ring_order(v)) continue;
      Copied c{v.type, v.producer, i + 1 < n ? views[i + 1].position : 0, std::nullopt, {}};
      if (v.type == static_cast<std::uint16_t>(MessageType::broadcast)) {
        c.broadcast = take_broadcast(v.payload);
      } else {
        c.bytes.resize(v.payload.size());
        shm::copy_tentative(reinterpret_cast<std::byte*>(c.bytes.data()), v.payload.data(),
                            v.payload.size());
      }
      batch.push_back(std::move(c));
    }
    if (!reader->consume(std::span<const RecordView>(views.data(), n))) {
      on_lapped(reader->last_loss().records);
      continue;
    }
    const std::uint64_t batch_end = reader->position();
    for (Copied& c : batch) {
      if (c.producer != writer->id()) ++stats.messages_received;  // of others
      applied_end = c.end != 0 ? c.end : batch_end;
      if (c.type == static_cast<std::uint16_t>(MessageType::broadcast)) {
        if (c.broadcast)
          apply_broadcast(std::move(*c.broadcast), c.producer);
        else
          ++stats.bad_records;
      } else {
        apply(c.type, c.producer, as_bytes(c.bytes));
      }
      if (stopped) return;
    }
    applied_end = batch_end;
  }
}

bool Node::Impl::own_in_ring_order(const RecordView& v) {
  if (v.type != static_cast<std::uint16_t>(MessageType::broadcast) || v.payload.size() < 2)
    return false;
  std::byte flags{};  // read tentatively: consume() tells whether the record was still there
  shm::copy_tentative(&flags, v.payload.data() + 1, 1);
  return (std::to_integer<std::uint8_t>(flags) & kFlagOwnInRingOrder) != 0;
}

void Node::Impl::apply_broadcast(TakenBroadcast b, std::uint16_t producer) {
  if (producer != writer->id()) ++stats.broadcasts_received;
  ClusterAdapter* a = adapter(b.nsp);
  const bool with_acks = (b.flags & kFlagAck) != 0;
  if (!with_acks) {
    if (a != nullptr) a->nsp().deliver_local(b.packet, b.opts);
    return;
  }
  // With acks: the requester learns how many answers to expect from here, then each answer.
  std::size_t n = 0;
  if (a != nullptr) {
    const std::uint64_t rid = b.ack_id;
    n = a->nsp().deliver_local_with_ack(
        b.packet, b.opts, rid,
        [this, rid, producer](sio::Args args) {
          json::object body{{"requestId", rid}, {"to", producer}, {"args", args.values}};
          publish(MessageType::broadcast_ack, write_message(body, args.binaries));
        },
        [] {});
  }
  publish(MessageType::broadcast_client_count,
          write_message({{"requestId", b.ack_id}, {"to", producer}, {"clientCount", n}}));
}

void Node::Impl::apply(std::uint16_t type, std::uint16_t producer,
                       std::span<const std::byte> payload) {
  const auto t = static_cast<MessageType>(type);
  auto m = read_message(payload);
  if (!m) {
    ++stats.bad_records;
    return;
  }
  const json::object& body = m->body;
  const std::uint64_t rid = u64_of(body, "requestId");
  const bool for_me = body.contains("to") && u64_of(body, "to") == writer->id();
  const std::uint64_t source = producer + 1u;
  switch (t) {
    case MessageType::sockets_join:
    case MessageType::sockets_leave:
    case MessageType::disconnect_sockets:
      if (ClusterAdapter* a = adapter(str_of(body, "nsp"))) a->apply_local(t, body);
      break;
    case MessageType::fetch_sockets: {
      ClusterAdapter* a = adapter(str_of(body, "nsp"));
      const json::value* o = body.if_contains("opts");
      json::array sockets;
      if (a != nullptr)
        sockets = a->local_sockets(o && o->is_object() ? options_from_json(o->get_object())
                                                       : sio::BroadcastOptions{});
      // The answer in parts that each fit a ring record (many sockets, or large handshakes
      // and data, exceed one); the first part says how many there are.
      const std::size_t budget = segment->max_record() / 2;
      std::vector<json::array> parts(1);
      std::size_t bytes = 0;
      for (json::value& v : sockets) {
        const std::size_t n = json::serialize(v).size() + 1;
        if (n > budget) {  // one socket over half a record: left out, said
          std::fprintf(stderr,
                       "shmio[w%d]: fetchSockets: a socket's description of %zu bytes is over "
                       "%zu and was left out of the answer\n",
                       options.worker, n, budget);
          continue;
        }
        if (bytes + n > budget) {
          parts.emplace_back();
          bytes = 0;
        }
        bytes += n;
        parts.back().push_back(std::move(v));
      }
      for (std::size_t i = 0; i < parts.size(); ++i)
        publish(MessageType::fetch_sockets_response,
                write_message({{"requestId", rid},
                               {"to", producer},
                               {"part", i},
                               {"parts", parts.size()},
                               {"sockets", std::move(parts[i])}}));
      break;
    }
    case MessageType::fetch_sockets_response:
      if (!for_me) break;
      if (auto c = collector_for(rid)) {
        const json::value* s = body.if_contains("sockets");
        // Parts come in order from one worker: the first announces them all.
        if (u64_of(body, "part") == 0)
          c->expect(source, std::max<std::uint64_t>(1, u64_of(body, "parts")));
        c->answer(source, sio::Args{s ? *s : json::value(json::array{})});
      }
      break;
    case MessageType::server_side_emit: {
      ClusterAdapter* a = adapter(str_of(body, "nsp"));
      const json::value* args = body.if_contains("args");
      sio::Args in(args && args->is_array() ? args->get_array() : json::array{}, m->blobs);
      std::function<void(sio::Args)> ack;
      if (rid != 0) {
        auto answered = std::make_shared<bool>(false);
        ack = [this, rid, producer, answered](sio::Args reply) {
          if (*answered) return;
          *answered = true;
          json::object r{{"requestId", rid}, {"to", producer}, {"args", reply.values}};
          publish(MessageType::server_side_emit_response, write_message(r, reply.binaries));
        };
      }
      if (a != nullptr) a->nsp().handle_server_side(str_of(body, "event"), std::move(in), ack);
      break;
    }
    case MessageType::server_side_emit_response:
    case MessageType::broadcast_ack:
      if (!for_me) break;
      if (auto c = collector_for(rid)) {
        const json::value* args = body.if_contains("args");
        sio::Args reply(args && args->is_array() ? args->get_array() : json::array{}, m->blobs);
        c->answer(source, std::move(reply));
      }
      break;
    case MessageType::broadcast_client_count:
      if (!for_me) break;
      if (auto c = collector_for(rid)) c->expect(source, u64_of(body, "clientCount"));
      break;
    case MessageType::load: {
      const auto w = static_cast<int>(u64_of(body, "worker"));
      if (w == options.worker || w < 0 || w >= options.workers) break;
      Load& l = loads[w];
      l.clients = u64_of(body, "clients");
      l.who = shm::registry::owner_of(segment->producer_slot(producer));
      l.at = std::chrono::steady_clock::now();
      break;
    }
    case MessageType::worker_down: {
      const auto pid = static_cast<pid_t>(u64_of(body, "pid"));
      worker_down(pid);
      // Its connected sessions count as disconnected from now (the recovery window runs).
      if (sessions) sessions->worker_died(pid);
      std::erase_if(loads, [pid](const auto& e) { return e.second.who.pid == pid; });
      break;
    }
    default:
      ++stats.bad_records;
      break;
  }
}

void Node::Impl::on_lapped(std::uint64_t lost) {
  ++stats.laps;
  stats.lost_records += lost;
  // Its clients may have missed broadcasts they can never get from here: they are disconnected,
  // so that they reconnect and recover (or start afresh if the ring no longer has their range).
  const std::size_t n = server ? server->disconnect_all("forced server close") : 0;
  stats.lap_disconnects += n;
  std::fprintf(stderr,
               "shmio[w%d]: lapped by the ring: %llu records lost; %zu clients disconnected to "
               "recover\n",
               options.worker, static_cast<unsigned long long>(lost), n);
}

// ---------------------------------------------------------------------------------------------
Node::Node(net::io_context& io, NodeOptions options, sio::ServerOptions& so)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {
  Impl& m = *impl_;
  auto seg = shm::Segment::attach(m.options.ring);
  if (!seg)
    throw std::runtime_error("cannot attach ring '" + m.options.ring + "': " + seg.error().message);
  m.segment.emplace(std::move(seg.value()));
  const std::string label = "worker-" + std::to_string(m.options.worker);
  auto w = shm::RingWriter::attach(*m.segment, {label, m.options.core});
  if (!w) throw std::runtime_error("cannot take a producer slot: " + w.error().message);
  m.writer.emplace(std::move(w.value()));
  auto r = shm::RingReader::attach(*m.segment, {label, m.options.core, shm::StartAt::latest});
  if (!r) throw std::runtime_error("cannot take a reader slot: " + r.error().message);
  m.reader.emplace(std::move(r.value()));
  auto n = shm::RingNotifier::start(*m.segment);
  if (!n) throw std::runtime_error("cannot start the ring notifier: " + n.error().message);
  m.notifier = std::move(n.value());
  // The workers' board (cluster-wide /metrics and /health): one slot per worker.
  shm::BoardConfig bc;
  bc.slots = static_cast<std::uint32_t>(std::max(1, m.options.workers));
  auto board = shm::WorkerBoard::open(m.options.ring, m.segment->header().creation_time_ns, bc);
  if (board)
    m.board.emplace(std::move(board.value()));
  else
    std::fprintf(stderr, "shmio[w%d]: no workers' board (%s): /metrics shows this worker only\n",
                 m.options.worker, board.error().message.c_str());
  // The recovery sessions' table: this ring's (created by the first worker that opens it).
  shm::SessionStoreConfig sc;
  sc.slots = static_cast<std::uint32_t>(std::min<std::size_t>(m.options.max_sessions, 16777214));
  sc.slot_bytes = m.options.session_bytes;
  auto st = shm::SessionStore::open(m.options.ring, m.segment->header().creation_time_ns, sc);
  if (st)
    m.sessions.emplace(std::move(st.value()));
  else
    std::fprintf(stderr,
                 "shmio[w%d]: no session table (%s): sessions are not recoverable on other "
                 "workers\n",
                 m.options.worker, st.error().message.c_str());

  Impl* impl = impl_.get();
  so.adapter = [impl](sio::Namespace& nsp) -> std::unique_ptr<sio::Adapter> {
    return std::make_unique<ClusterAdapter>(nsp, *impl);
  };
  so.ack_id_base = static_cast<std::uint64_t>(m.options.worker);
  so.ack_id_stride = 4096;
  so.reuse_port = true;
  if (m.options.workers > 1) {
    so.id_prefix = session_prefix(m.options.worker);
    if (!m.options.handoff.empty()) {
      m.handoff = std::make_unique<Handoff>(
          io, m.options.handoff, m.options.worker,
          [impl](int fd, std::string bytes) {
            if (impl->server && !impl->stopped)
              impl->server->engine().adopt(fd, std::move(bytes));
            else
              ::close(fd);
          },
          &m.stats.handoffs_refused);
      const int me = m.options.worker, count = m.options.workers;
      so.is_foreign = [me, count](const std::string& sid) {
        const int owner = session_owner(sid);
        return owner >= 0 && owner < count && owner != me;
      };
      so.hand_off = [impl](const std::string& sid, int fd, std::string bytes) {
        if (!impl->handoff->send(session_owner(sid), fd, bytes)) ++impl->stats.handoffs_failed;
      };
      if (m.options.rebalance) {
        so.steer = [impl] { return impl->steer(); };
        so.hand_off_to = [impl](int worker, int fd, std::string bytes) {
          if (!impl->handoff->send(worker, fd, bytes)) ++impl->stats.handoffs_failed;
        };
      }
    }
  }
}

Node::~Node() {
  stop();
}

void Node::start(sio::Server& server) {
  impl_->server = &server;
  impl_->start_reading();
  impl_->become_ready();
  if (impl_->options.rebalance && impl_->options.workers > 1 && impl_->handoff)
    impl_->arm_load_timer();
  if (impl_->handoff) impl_->handoff->start();
  if (impl_->board) impl_->arm_board_timer();
}

void Node::set_local_metrics(std::function<std::string()> render) {
  impl_->local_metrics = std::move(render);
}

std::string Node::cluster_metrics_text() {
  Impl& m = *impl_;
  std::vector<std::string> texts{m.local_metrics ? m.local_metrics() : metrics_text()};
  if (!m.board) return texts.front();
  m.post_metrics(texts.front());
  for (auto& p : m.board->read_all())
    if (p.alive && p.slot != static_cast<std::uint32_t>(m.options.worker))
      texts.push_back(std::move(p.blob));
  return merge_expositions(texts);
}

std::vector<Node::WorkerStatus> Node::workers_status() const {
  std::vector<WorkerStatus> out;
  if (!impl_->board) return out;
  const std::uint64_t now = shm::monotonic_ns();
  for (const auto& p : impl_->board->read_all()) {
    const std::string series = "shmio_connections{worker=\"" + std::to_string(p.slot) + "\"}";
    out.push_back({static_cast<int>(p.slot), p.who.pid, p.alive,
                   static_cast<std::int64_t>((now - std::min(now, p.posted_ns)) / 1000000),
                   static_cast<std::int64_t>(exposition_value(p.blob, series))});
  }
  return out;
}

void Node::when_ready(std::function<void()> f) {
  if (impl_->ready)
    f();
  else
    impl_->ready_waiters.push_back(std::move(f));
}

void Node::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->notify.close(ec);
  impl_->dead_timer.cancel();
  impl_->load_timer.cancel();
  impl_->board_timer.cancel();
  if (impl_->handoff) impl_->handoff->stop();
}

const NodeStats& Node::stats() const noexcept {
  return impl_->stats;
}
int Node::worker() const noexcept {
  return impl_->options.worker;
}
std::size_t Node::server_count() const {
  return impl_->live_workers(true).size();
}

std::string Node::metrics_text() const {
  const Impl& m = *impl_;
  const std::string w = "{worker=\"" + std::to_string(m.options.worker) + "\"}";
  std::string out;
  auto line = [&](const char* name, const char* help, const char* type, std::uint64_t v,
                  const std::string& labels) { append_metric(out, name, type, help, v, labels); };
  const auto& s = m.stats;
  line("shmio_broadcasts_published_total", "Broadcasts this worker wrote to the ring.", "counter",
       s.broadcasts_published, w);
  line("shmio_broadcasts_received_total", "Broadcasts of other workers this worker delivered.",
       "counter", s.broadcasts_received, w);
  line("shmio_ring_messages_published_total", "Ring records this worker wrote.", "counter",
       s.messages_published, w);
  line("shmio_ring_messages_received_total", "Ring records of others this worker read.", "counter",
       s.messages_received, w);
  line("shmio_ring_publish_failures_total", "Records that could not be written.", "counter",
       s.publish_failures, w);
  line("shmio_ring_laps_total", "Times this worker's reader was lapped.", "counter", s.laps, w);
  line("shmio_ring_lost_records_total", "Records this worker lost to laps.", "counter",
       s.lost_records, w);
  line("shmio_lap_disconnects_total", "Clients disconnected because their worker was lapped.",
       "counter", s.lap_disconnects, w);
  line("shmio_ring_bad_records_total", "Records that did not decode.", "counter", s.bad_records, w);
  line("shmio_handoffs_failed_total", "Connections that could not be handed to their worker.",
       "counter", s.handoffs_failed, w);
  line("shmio_handoffs_refused_total",
       "Hand-off connections of another user and malformed hand-off messages, refused.", "counter",
       s.handoffs_refused, w);
  line("shmio_recoveries_total", "Sessions restored by connection state recovery.", "counter",
       s.recoveries, w);
  line("shmio_recovery_failures_total", "Recoveries refused (unknown session or range gone).",
       "counter", s.recovery_failures, w);
  line("shmio_rebalance_steered_total",
       "Fresh handshakes handed to a less loaded worker (rebalancing).", "counter",
       s.rebalance_steered, w);
  line("shmio_rebalance_shed_total",
       "Clients asked to reconnect to rebalance the cluster (they recover where they land).",
       "counter", s.rebalance_shed, w);
  line("shmio_sessions_not_saved_total",
       "Recovery sessions not saved (state over a slot, no free slot near its hash, or a slot held "
       "by a stopped worker).",
       "counter", s.sessions_not_saved, w);
  const std::uint64_t frontier =
      m.segment->control().frontier.frontier.load(std::memory_order_acquire);
  line("shmio_ring_lag_bytes", "Ring bytes committed but not yet read by this worker.", "gauge",
       frontier - m.reader->position(), w);
  const auto& rep = m.segment->control().repair;
  line("shmio_ring_abandoned_claims_total", "Claims of dead producers turned into padding (ring).",
       "counter", rep.repairs.load(std::memory_order_relaxed), "");
  line("shmio_ring_aborted_claims_total", "Claims given back by their producer (ring).", "counter",
       rep.aborted_claims.load(std::memory_order_relaxed), "");
  line("shmio_workers_live", "Workers alive according to the ring's registry.", "gauge",
       m.live_workers(true).size(), "");
  return out;
}

}  // namespace shmio::cluster
