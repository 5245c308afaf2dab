#include "shmio/cluster/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include "shmio/cluster/wire.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/cut_log.hpp"
#include "shmio/shm/layout.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/shm/session_store.hpp"

namespace shmio::cluster {

namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  pid_t pid = 0;
  Clock::time_point started{};
  std::chrono::milliseconds backoff{100};
  std::optional<Clock::time_point> restart_at;
  int starts = 0;  // how many times it was started (kWorkerCannotStart counts at the first)
  bool watchdog_killed = false;                  // (this pid, by the watchdog: killed once)
  std::optional<shm::ProcessIdentity> identity;  // (its pid and start time, read at its start)
};

// The workers' hand-off sockets live in a directory only this user may enter (mkdtemp: 0700, a
// name nobody can take first), so that no other user's process can bind a worker's address (an
// abstract one can be bound by anyone, and held, it kept a restarted worker from starting) or
// connect to one. Under $TMPDIR when that is short enough for the sockets' paths, else /tmp:
// "<base>/shmio-handoff.<supervisor's pid>-XXXXXX/<worker>" must fit a socket address (108
// bytes with its NUL).
std::string handoff_base() {
  const char* t = std::getenv("TMPDIR");
  std::string base = t != nullptr && *t == '/' ? t : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base.size() + 48 > sizeof(sockaddr_un{}.sun_path)) base = "/tmp";
  return base;
}

// A directory in use is locked shared (flock) by its supervisor from its making on; its workers
// hold the lock too (the descriptor is theirs across fork), also after the supervisor's death.
// The sweep takes directories that supervisors killed before they could remove theirs left
// (SIGKILL, the OOM killer): this user's, a minute old (one just made is not locked yet), and
// locked by no process. (A live cluster's is locked whoever can see its processes: one in another
// pid namespace sharing the directory keeps its own.)
void sweep_handoff_dirs(const std::string& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string prefix = "shmio-handoff.";
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
        ::time(nullptr) - st.st_mtime < 60)
      continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      std::error_code ec2;
      fs::remove_all(it->path(), ec2);
    }
    ::close(fd);
  }
}

// The directory for this cluster's hand-off sockets, made and locked; {"", -1} if it cannot be
// (said: the workers then use abstract addresses).
std::pair<std::string, int> make_handoff_dir() {
  const std::string base = handoff_base();
  sweep_handoff_dirs(base);
  std::string t = base + "/shmio-handoff." + std::to_string(::getpid()) + "-XXXXXX";
  const char* why = nullptr;
  int fd = -1;
  if (::mkdtemp(t.data()) == nullptr) {
    why = std::strerror(errno);
  } else if ((fd = ::open(t.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
             ::flock(fd, LOCK_SH) != 0) {
    why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::rmdir(t.c_str());
  }
  if (why != nullptr) {
    std::fprintf(stderr,
                 "shmio: no directory for the hand-off sockets in %s (%s): the workers use "
                 "abstract addresses\n",
                 base.c_str(), why);
    return {std::string(), -1};
  }
  return {t, fd};
}

// A cluster's rings are made held (RingConfig::hold_lock: locked shared from their making on,
// before the creator's pid is in them) by the supervisor, and its workers hold them too (the
// descriptors are theirs across fork), also while they drain after the supervisor's death.
// Whether a ring's creator and users live is judged by pid, which says nothing of a process in
// another pid namespace: two containers sharing /dev/shm but not their pids took each other's
// rings for dead clusters' and removed them (each cluster then stopped: "was removed"; before
// 2026-12-07). A lock is the kernel's, whoever looks: no ring that is held by a cluster out of
// this process's sight is judged stale (held_out_of_sight, below).

// Who a ring's slots name: whether it is a cluster's (its supervisor's producer slot, alive or
// not), and a process still attached to it, alive (a producer's or reader's slot whose owner
// lives, or one being taken: pid 0 then).
struct RingUsers {
  bool cluster = false;
  std::optional<pid_t> live;
};
RingUsers ring_users(const shm::Segment& sg) {
  RingUsers u;
  auto look = [&](const auto& slot, bool producer) {
    const std::uint32_t state = slot.state.load(std::memory_order_acquire);
    if (state == shm::layout::kSlotFree) return;
    if (producer &&
        std::string_view(slot.label, ::strnlen(slot.label, sizeof slot.label)) == "supervisor")
      u.cluster = true;                           // (its slot, whatever became of it)
    if (state == shm::layout::kSlotDead) return;  // (a repaired dead producer's: nobody)
    if (u.live && *u.live != 0) return;           // (one named is enough)
    if (shm::layout::is_taking(state)) {  // (being taken: by someone, unless its taker died)
      if (!shm::registry::taker_died(state) && !u.live) u.live = 0;
      return;
    }
    // ACTIVE, or OWNING (an exclusive ring's writer taking its word): its owner's.
    const shm::ProcessIdentity owner = shm::registry::owner_of(slot);
    if (shm::liveness(owner) != shm::Liveness::dead) u.live = owner.pid;
  };
  for (std::uint16_t i = 0; i < sg.max_producers(); ++i) look(sg.producer_slot(i), true);
  for (std::uint16_t i = 0; i < sg.max_readers(); ++i) look(sg.reader_slot(i), false);
  return u;
}

// Whether a ring whose creator this process found gone is a live cluster's out of its sight:
// held (above), and none of the cluster's own processes on it — a producer or reader slot labelled
// as a worker's or the fleet bridge's, the processes that hold the lock with the supervisor — lives
// as this process sees it. A cluster whose supervisor was killed here is seen (its workers,
// draining, hold the lock too) and for it the rules by pid stand: its rings are replaced, or swept,
// as before the lock (a restart on its name right after the kill was refused while they drained;
// found by a review). Another program of this namespace attached to a foreign cluster's ring (a
// reader of its own, ring-demo) does not make that ring seen.
bool cluster_process_seen(const shm::Segment& sg) {
  // (Producer and reader slots: with a ring per worker, worker j and the bridge hold worker i's
  // ring's lock with a reader slot there, and may drain on after worker i has gone.)
  auto seen = [](const auto& slot) {
    const std::uint32_t state = slot.state.load(std::memory_order_acquire);
    if (state == shm::layout::kSlotFree || state == shm::layout::kSlotDead ||
        shm::layout::is_taking(state))
      return false;
    const std::string_view label(slot.label, ::strnlen(slot.label, sizeof slot.label));
    return (label.rfind("worker-", 0) == 0 || label == kBridgeLabel) &&
           shm::liveness(shm::registry::owner_of(slot)) != shm::Liveness::dead;
  };
  for (std::uint16_t i = 0; i < sg.max_producers(); ++i)
    if (seen(sg.producer_slot(i))) return true;
  for (std::uint16_t i = 0; i < sg.max_readers(); ++i)
    if (seen(sg.reader_slot(i))) return true;
  return false;
}
// `seg`: the ring as attached, if it was (else attached here; one that cannot be is judged by its
// lock alone).
bool held_out_of_sight(const std::string& name, const shm::Segment* seg = nullptr) {
  if (!shm::Segment::held(name, seg)) return false;
  if (seg != nullptr && !seg->still_named()) return true;  // (another file now: not ours to judge)
  std::optional<shm::Segment> own;
  if (seg == nullptr) {
    auto attached = shm::Segment::attach(name, shm::AttachMode::read_only);
    if (!attached) return true;
    own.emplace(std::move(attached.value()));
    seg = &*own;
  }
  return !cluster_process_seen(*seg);
}

// Creates the segment, replacing a stale one; nullopt (reason printed) if it cannot. `worker_ring`:
// a cluster's worker ring (NAME.wI), which its supervisor writes nothing into.
std::optional<shm::Segment> create_ring(shm::RingConfig cfg, bool worker_ring) {
  const std::string& name = cfg.name;
  cfg.hold_lock = true;  // (above)
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto seg = shm::Segment::create(cfg);
    if (seg) {
      // The recovery sessions of an earlier ring of that name name its positions: gone with it.
      shm::SessionStore::remove_all(name);
      shm::WorkerBoard::remove_all(name);
      shm::CutLog::remove_all(name);
      return std::move(seg.value());
    }
    if (seg.error().code != shm::Errc::already_exists) {
      std::fprintf(stderr, "shmio: cannot create ring %s: %s\n", name.c_str(),
                   seg.error().message.c_str());
      return std::nullopt;
    }
    auto held_elsewhere = [&] {
      std::fprintf(stderr,
                   "shmio: ring %s belongs to a running cluster (its lock is held, and no worker "
                   "of it that this process can see lives: a cluster in another pid namespace, "
                   "or a worker of a cluster killed just now still ending); stop it first or "
                   "pick another --ring "
                   "/ --port\n",
                   name.c_str());
      return std::nullopt;
    };
    auto old = shm::Segment::attach(name, shm::AttachMode::read_only);
    if (old) {
      const auto& h = old.value().header();
      const shm::ProcessIdentity creator{h.creator_pid, h.creator_start_time};
      if (shm::liveness(creator) == shm::Liveness::alive) {
        std::fprintf(stderr,
                     "shmio: ring %s belongs to a running cluster (supervisor pid %d); stop it "
                     "first or pick another --ring / --port\n",
                     name.c_str(), h.creator_pid);
        return std::nullopt;
      }
      // A ring that is no cluster's (made by a program of its own, ring-demo, the library's
      // example) outlives its creator while others use it: not taken from under them (before
      // 2026-12-06 `--ring NAME` removed it; a helper's review). A cluster's whose supervisor is
      // gone is replaced even while its workers drain (they end by themselves), and so are its
      // worker rings.
      if (const RingUsers users = ring_users(old.value());
          !worker_ring && !users.cluster && users.live) {
        const std::string by = *users.live != 0 ? "pid " + std::to_string(*users.live)
                                                : std::string("a process attaching");
        std::fprintf(stderr,
                     "shmio: ring %s is in use (by %s; its creator, pid %d, is gone) and is no "
                     "cluster's; stop its users first or pick another --ring / --port\n",
                     name.c_str(), by.c_str(), h.creator_pid);
        return std::nullopt;
      }
      if (!old.value().still_named()) continue;  // (made anew or removed meanwhile: again)
      // A worker of a cluster killed just now, between the end of its Node and its exit, holds
      // the lock with no slot: looked at again for up to 2 s (every 50 ms) before the refusal,
      // so that a restart at once after a SIGKILL is not refused for that instant (a review). A
      // cluster out of sight holds it for good: its refusal comes 2 s later.
      bool out_of_sight = held_out_of_sight(name, &old.value());
      for (int look = 0; out_of_sight && look < 40; ++look) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        out_of_sight = old.value().still_named() && held_out_of_sight(name, &old.value());
      }
      if (!old.value().still_named()) continue;
      if (out_of_sight) return held_elsewhere();
      std::fprintf(stderr, "shmio: removing stale ring %s (its supervisor, pid %d, is gone)\n",
                   name.c_str(), h.creator_pid);
    } else if (auto who = shm::Segment::creator(name);
               !who && who.error().code == shm::Errc::not_ready) {
      std::fprintf(stderr, "shmio: ring %s is being created by another process; not touching it\n",
                   name.c_str());
      return std::nullopt;
    } else if (who && shm::liveness(who.value()) == shm::Liveness::alive) {
      // Unusable to us (another layout version, say) but its creator still runs: a cluster of
      // another shmio build may be using it.
      std::fprintf(stderr,
                   "shmio: ring %s cannot be used by this build (%s) and belongs to a running "
                   "process (pid %d); stop it first or pick another --ring / --port\n",
                   name.c_str(), old.error().message.c_str(), who.value().pid);
      return std::nullopt;
    } else if (shm::Segment::held(name)) {  // (its users cannot be read: the lock alone)
      return held_elsewhere();
    } else {
      std::fprintf(stderr, "shmio: removing unusable ring %s (%s)\n", name.c_str(),
                   old.error().message.c_str());
    }
    (void)shm::Segment::remove(name);
  }
  std::fprintf(stderr, "shmio: cannot create ring %s\n", name.c_str());
  return std::nullopt;
}

shm::RingConfig shared_ring_config(const SupervisorOptions& o) {
  shm::RingConfig cfg;
  cfg.name = o.ring;
  cfg.capacity = o.ring_bytes;
  cfg.huge_pages = o.ring_huge_pages;
  // A producer and a reader per worker, plus room for emitters, the supervisor, the bridge and
  // tools; readers also one per worker for replays of connection state recovery (a temporary
  // reader each while it runs, one at a time per worker). At most 1024 slots each.
  const auto slots = static_cast<std::uint16_t>(std::min(1024, o.workers + 64));
  cfg.max_producers = std::max<std::uint16_t>(cfg.max_producers, slots);
  cfg.max_readers = std::max<std::uint16_t>(
      cfg.max_readers, static_cast<std::uint16_t>(std::min(1024, 2 * o.workers + 64)));
  return cfg;
}

void remove_rings(const std::string& ring, const std::vector<std::string>& worker_rings) {
  for (const std::string& name : worker_rings) (void)shm::Segment::remove(name);
  shm::SessionStore::remove_all(ring);
  shm::WorkerBoard::remove_all(ring);
  shm::CutLog::remove_all(ring);
}

// Worker rings of this name from an earlier cluster that are not this one's (it had more workers,
// or a ring per worker where this one has none) and whose creator is gone: removed, as a stale
// shared ring is (otherwise each would hold its memory in /dev/shm until reboot).
void remove_stale_worker_rings(const std::string& ring, int keep) {
  const std::string prefix = ring + ".w";
  for (const shm::SegmentInfo& info : shm::Segment::list()) {
    if (info.name.rfind(prefix, 0) != 0) continue;
    const std::string index = info.name.substr(prefix.size());
    if (index.empty() || index.size() > 4 ||
        !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(index) < keep)
      continue;
    auto who = shm::Segment::creator(info.name);
    if (who ? shm::liveness(who.value()) == shm::Liveness::alive
            : who.error().code == shm::Errc::not_ready)
      continue;                                  // in use, or being created: not ours to remove
    if (held_out_of_sight(info.name)) continue;  // (a live cluster's this one cannot see)
    std::fprintf(stderr, "shmio: removing stale ring %s (left by an earlier cluster)\n",
                 info.name.c_str());
    (void)shm::Segment::remove(info.name);
  }
}

// The rings and tables of clusters that are gone without their stop (their supervisor killed:
// SIGKILL, the OOM killer; its workers then drain and exit): removed when a supervisor starts,
// as a stale ring of its own name always was. Before 2026-12-05 they stayed in /dev/shm (memory)
// until a cluster of the same --ring started: for good with --port 0, whose ring is named by the
// port picked (found by a review). Only rings of that default name, "port-<P>", are looked at (a
// ring named by --ring is left for its own next start, or for the operator: shm-inspect may be
// reading one that was kept on purpose). A cluster's ring is told by its supervisor's producer
// slot; gone means its creator dead and every slot's owner, producer or reader, dead (workers
// still draining keep it). Another user's, or a ring of another layout, is not touched.
void remove_dead_clusters(const std::string& own) {
  for (const shm::SegmentInfo& info : shm::Segment::list()) {
    const std::string& name = info.name;
    if (name == own || name.size() <= 5 || name.rfind("port-", 0) != 0 ||
        !std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::uint64_t ring_id = 0;
    pid_t supervisor = 0;
    {
      auto seg = shm::Segment::attach(name, shm::AttachMode::read_only);
      if (!seg) continue;
      const shm::Segment& sg = seg.value();
      const auto& h = sg.header();
      if (shm::liveness({h.creator_pid, h.creator_start_time}) != shm::Liveness::dead) continue;
      if (const RingUsers users = ring_users(sg); !users.cluster || users.live) continue;
      if (held_out_of_sight(name, &sg)) continue;  // (its cluster lives where this one cannot see)
      ring_id = h.creation_time_ns;
      supervisor = h.creator_pid;
      // Still the ring just judged, at the moment of removing it (a name is removed, not a file):
      // a supervisor starting on that port meanwhile replaces a stale ring with its own, which
      // this look found gone with the old one's creator, and a removal by name then took the new
      // one from under its cluster (before 2026-12-05; found by a review). (The window left is
      // the few instructions between this look and the unlink.)
      if (!sg.still_named()) continue;
      if (!shm::Segment::remove(name)) continue;  // (another's: not removable by this user)
    }
    const std::string prefix = name + ".w";
    for (const shm::SegmentInfo& w : shm::Segment::list())
      if (w.name.rfind(prefix, 0) == 0 && w.name.size() > prefix.size() &&
          std::all_of(w.name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), w.name.end(),
                      [](char c) { return c >= '0' && c <= '9'; })) {
        auto who = shm::Segment::creator(w.name);
        if (who && shm::liveness(who.value()) == shm::Liveness::dead && !held_out_of_sight(w.name))
          (void)shm::Segment::remove(w.name);
      }
    shm::SessionStore::remove_all(name, ring_id);
    shm::WorkerBoard::remove_all(name, ring_id);
    shm::CutLog::remove_all(name, ring_id);
    std::fprintf(stderr,
                 "shmio: removed ring %s and its tables: its cluster is gone (supervisor pid %d "
                 "and every process attached to it dead)\n",
                 name.c_str(), supervisor);
  }
}

}  // namespace

std::string worker_ring_name(const std::string& ring, int worker) {
  return ring + ".w" + std::to_string(worker);
}

shm::RingConfig worker_ring_config(const std::string& ring, int worker, int workers,
                                   std::uint64_t bytes, bool huge_pages) {
  shm::RingConfig cfg;
  cfg.name = worker_ring_name(ring, worker);
  cfg.capacity = bytes;
  cfg.huge_pages = huge_pages;
  cfg.exclusive_producer = true;
  cfg.fenced_commits = true;
  cfg.max_producers = 8;
  // A reader per worker and the bridge's, and one more per worker: a replay of connection state
  // recovery holds a temporary reader on every ring while it runs (one at a time per worker, its
  // replay being synchronous), so that survivors replaying at once after a death with many
  // clients do not run out (a replay that cannot attach is refused, the client's session lost);
  // and tools (shm-inspect). (Before 2026-12-03: workers + 16; a helper's review.)
  cfg.max_readers = static_cast<std::uint16_t>(std::min(1024, 2 * std::max(workers, 1) + 16));
  return cfg;
}

std::vector<int> affinity_cpus() {
  std::vector<int> cpus = shm::affinity_cpus();
  if (cpus.empty()) cpus.push_back(0);  // the mask could not be read: one CPU's worth
  return cpus;
}

namespace {

// A file's text, at most `most` bytes (a cgroup's control files are a line each), nullopt if it
// cannot be read.
std::optional<std::string> read_small(const std::string& path, std::size_t most = 256) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return std::nullopt;
  std::string text;
  char buf[1024];
  for (std::size_t got; text.size() < most && (got = std::fread(buf, 1, sizeof buf, f)) > 0;)
    text.append(buf, got);
  std::fclose(f);
  if (text.size() > most) text.resize(most);
  return text;
}

// The whitespace-separated words of a control file's text.
std::vector<std::string_view> words(std::string_view t) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i])) != 0) ++i;
    std::size_t j = i;
    while (j < t.size() && std::isspace(static_cast<unsigned char>(t[j])) == 0) ++j;
    if (j > i) out.push_back(t.substr(i, j - i));
    i = j;
  }
  return out;
}

// A positive decimal count of at most 18 digits (microseconds of quota or period), else nullopt.
std::optional<double> positive(std::string_view w) {
  if (w.empty() || w.size() > 18) return std::nullopt;
  long long v = 0;
  for (char c : w) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return std::nullopt;
  return static_cast<double>(v);
}

// cgroup v2's cpu.max: "max PERIOD" (no limit) or "QUOTA PERIOD".
std::optional<double> v2_limit(const std::string& dir) {
  const auto t = read_small(dir + "/cpu.max");
  if (!t) return std::nullopt;
  const auto w = words(*t);
  if (w.size() != 2) return std::nullopt;
  const auto quota = positive(w[0]);
  const auto period = positive(w[1]);
  if (!quota || !period) return std::nullopt;  // ("max", or not a count: no limit said)
  return *quota / *period;
}

// cgroup v1's cpu.cfs_quota_us (-1: no limit) over cpu.cfs_period_us.
std::optional<double> v1_limit(const std::string& dir) {
  const auto q = read_small(dir + "/cpu.cfs_quota_us");
  const auto p = read_small(dir + "/cpu.cfs_period_us");
  if (!q || !p) return std::nullopt;
  const auto wq = words(*q);
  const auto wp = words(*p);
  if (wq.size() != 1 || wp.size() != 1) return std::nullopt;
  const auto quota = positive(wq[0]);
  const auto period = positive(wp[0]);
  if (!quota || !period) return std::nullopt;
  return *quota / *period;
}

// A cgroup's path and its ancestors' ("/a/b": "/a/b", "/a", ""), as directories under a mount
// point. A path this process cannot name (one outside its cgroup namespace, "/../x") is taken as
// the mount's root only: inside a container that is the container's own cgroup.
std::vector<std::string> cgroup_dirs(std::string_view path) {
  std::vector<std::string> out;
  std::string p(path);
  while (!p.empty() && (p.back() == '/' || p.back() == '\n' || p.back() == '\r')) p.pop_back();
  if (p.find("/..") != std::string::npos || (!p.empty() && p.front() != '/')) p.clear();
  for (;;) {
    out.push_back(p);
    if (p.empty()) break;
    p.resize(p.rfind('/'));
  }
  return out;
}

}  // namespace

std::optional<double> cgroup_cpu_limit(std::string_view proc_cgroup, const std::string& root) {
  std::optional<double> best;
  const auto take = [&](std::optional<double> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  // Each line: "ID:CONTROLLERS:PATH" ("0::PATH" for the v2 hierarchy). Where the cgroup's own
  // directory is not under the mount (a container without its own cgroup namespace sees its
  // host's path, its own cgroup mounted as the root), the ancestors tried include the root.
  std::size_t at = 0;
  while (at < proc_cgroup.size()) {
    std::size_t end = proc_cgroup.find('\n', at);
    if (end == std::string_view::npos) end = proc_cgroup.size();
    const std::string_view line = proc_cgroup.substr(at, end - at);
    at = end + 1;
    const std::size_t c1 = line.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, c1);
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view path = line.substr(c2 + 1);
    if (id == "0" && controllers.empty()) {
      // (Mounted at the root, or at "unified" beside v1's controllers on a hybrid system.)
      std::error_code ec;
      const bool unified = !std::filesystem::exists(root + "/cgroup.controllers", ec) &&
                           std::filesystem::is_directory(root + "/unified", ec);
      const std::string base = unified ? root + "/unified" : root;
      for (const std::string& d : cgroup_dirs(path)) take(v2_limit(base + d));
      continue;
    }
    bool cpu = false;
    for (std::size_t i = 0; i <= controllers.size();) {
      std::size_t j = controllers.find(',', i);
      if (j == std::string_view::npos) j = controllers.size();
      if (controllers.substr(i, j - i) == "cpu") cpu = true;
      i = j + 1;
    }
    if (!cpu) continue;
    for (const char* mount : {"/cpu,cpuacct", "/cpuacct,cpu", "/cpu"}) {
      std::error_code ec;
      if (!std::filesystem::is_directory(root + mount, ec)) continue;
      for (const std::string& d : cgroup_dirs(path)) take(v1_limit(root + mount + d));
      break;
    }
  }
  return best;
}

std::optional<double> cgroup_cpu_limit() {
  // (64 KiB: a deep cgroup's path is a few hundred bytes; 256 could cut one.)
  const auto text = read_small("/proc/self/cgroup", 64 << 10);
  if (!text) return std::nullopt;
  return cgroup_cpu_limit(*text, "/sys/fs/cgroup");
}

int auto_workers(std::size_t affinity, std::optional<double> limit, std::string* why) {
  const int cpus = static_cast<int>(std::clamp<std::size_t>(affinity, 1, CPU_SETSIZE));
  if (limit && *limit > 0) {
    // Rounded up (a limit of 2.5 CPUs: 3 workers, which together may use 2.5), with a
    // millionth's slack for a quota that is a whole number of periods written in microseconds.
    const double up = std::ceil(*limit - 1e-6);
    const int m = up < 1 ? 1 : up > cpus ? cpus : static_cast<int>(up);
    if (m < cpus) {
      if (why != nullptr) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "%d workers: the cgroup's CPU limit is %.2f CPUs, below the affinity "
                      "mask's %d (cpu.max, or cpu.cfs_quota_us)",
                      m, *limit, cpus);
        *why = text;
      }
      return m;
    }
  }
  if (why != nullptr) why->clear();
  return cpus;
}

int auto_workers(std::string* why) {
  return auto_workers(affinity_cpus().size(), cgroup_cpu_limit(), why);
}

// Whether a SIGCHLD disposition has the kernel reap the children (ignored, or SA_NOCLDWAIT).
static bool kernel_reaps(const struct sigaction& a) {
  return a.sa_handler == SIG_IGN || (a.sa_flags & SA_NOCLDWAIT) != 0;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // (Linux 5.3; kernel headers before it lack the name)
#endif

namespace {
// A stop signal taken by another thread of the program (run_supervisor's own blocks them).
volatile sig_atomic_t g_stop_signal = 0;
// SIGUSR1 and SIGUSR2 taken at the supervisor's handler (they came in at their default action):
// said, and otherwise ignored. (One note each: both may come before the loop looks.)
volatile sig_atomic_t g_ignored_usr1 = 0, g_ignored_usr2 = 0;
// A SIGCHLD taken by another thread of the program (run_supervisor's own blocks it).
volatile sig_atomic_t g_child_signal = 0;

// A worker's (or the bridge's) guard against its supervisor's death. The parent-death SIGTERM
// starts its drain, which its own event loop runs: one stuck in a handler, or in the app's
// on_stop, never ran it, and outlived a killed supervisor (SIGKILL, the OOM killer) holding its
// share of the port, and the ring (before 2026-12-05; found by a review). A thread of its own,
// the process's signals blocked, waits for the supervisor to end (its pidfd; where there is none,
// its parent's pid looked at twice a second), gives the drain the deadline the supervisor would
// have given it, then ends the process (exit 1, said). While the supervisor lives it does nothing.
void end_when_orphaned(pid_t supervisor, std::chrono::milliseconds deadline, const char* who,
                       int (*stderr_fd)() noexcept) {
  // The signals blocked before the thread is made, which it inherits (ThreadSignalsBlocked):
  // blocked by the thread itself, a SIGTERM meant for the app's threads (the drain's, with the
  // app's thread blocking it to finish its work first) could land on it in the moment before, and
  // kill the worker at once, its clients untold (before 2026-12-05; seen as a worker that was not
  // waited for, under load).
  const shm::ThreadSignalsBlocked blocked;
  try {
    std::thread([supervisor, deadline, stderr_fd, name = std::string(who)] {
      const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, supervisor, 0));
      // (Opened before the look at the parent: while it is still this process's parent, the pid
      // names it, not a successor's.)
      bool ended = false;
      if (pfd >= 0 && ::getppid() == supervisor) {
        pollfd p{pfd, POLLIN, 0};
        int r;
        while ((r = ::poll(&p, 1, -1)) < 0 && errno == EINTR) {
        }
        ended = r > 0 && (p.revents & POLLIN) != 0;  // (else: looked at as below)
      }
      if (!ended)
        while (::getppid() == supervisor)
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
      std::this_thread::sleep_for(deadline);
      // (Not through stdio: the stuck thread may hold stderr's lock, in a write to a full pipe.
      // Written if the descriptor takes it within 100 ms, else not at all.)
      char line[256];
      const int n = std::snprintf(line, sizeof line,
                                  "shmio[%s]: the supervisor is gone and this process did not "
                                  "stop within %lld ms of it: ended\n",
                                  name.c_str(), static_cast<long long>(deadline.count()));
      const int fd = stderr_fd != nullptr ? stderr_fd() : 2;
      if (pollfd out{fd, POLLOUT, 0}; n > 0 && ::poll(&out, 1, 100) == 1)
        (void)!::write(fd, line, std::min(static_cast<std::size_t>(n), sizeof line - 1));
      ::_exit(1);
    }).detach();
  } catch (const std::exception&) {
    // (No thread: the parent-death signal alone, as before.)
  }
}

// The inode of Asio's signal pipe in this process, 0 where none is open. (Asio's own record of
// it, in its detail namespace: there is no public way to ask. Read under its lock in the parent,
// around the fork; in the child with it free.)
ino_t asio_signal_pipe() noexcept {
  const int fd = boost::asio::detail::get_signal_state()->read_descriptor_;
  struct stat st {};
  return fd >= 0 && ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Asio's signal handling in a forked child on a pipe of its own, where it still has its
// parent's. Asio keeps one pipe per process for its signal handler to write the signal into and
// every signal_set's io_context to read, and opens it only when no signal_set service exists: a
// child forked while the program held one (an io_context of its own with a signal_set, on another
// thread) took the program's pipe, shared with the supervisor and every other worker. A worker's
// drain SIGTERM, written into it, was read by whichever process was first (the program's
// io_context in the supervisor, another worker): that worker never drained and was killed at the
// deadline, its clients untold (before 2026-12-05; found by a review). io_context::notify_fork is
// how Asio gives a forked child its own; the program's io_context cannot be asked here (its
// thread is not in the child), so a signal_set service of a throwaway io_context is: prepare and
// child close the inherited pipe in this process and open a new one, which the child's later
// signal_sets use. (Only where the pipe is still the parent's: a program that gives its children
// their own itself, notify_fork in pthread_atfork or in the after_fork hook, is left as it made
// it; renewed again, the pipe its io_context was given would be closed.) False where no new pipe
// could be had: the child's signals would go nowhere.
bool own_asio_signal_pipe(ino_t parents) {
  if (parents == 0 || asio_signal_pipe() != parents) return true;
  try {
    boost::asio::io_context io;
    boost::asio::signal_set service_of(io);
    io.notify_fork(boost::asio::execution_context::fork_prepare);
    io.notify_fork(boost::asio::execution_context::fork_child);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio: no signal pipe of its own for this process: %s\n", e.what());
  }
  const ino_t now = asio_signal_pipe();
  return now != 0 && now != parents;
}
}  // namespace

int run_supervisor(const SupervisorOptions& o,
                   const std::function<int(const WorkerContext&)>& worker_main) {
  // The signals it waits for, blocked from here (a SIGTERM while a large ring is created — seconds
  // for gigabytes — is then a drain once the workers are up, not a death that leaves the ring),
  // and SIGPIPE ignored (a log pipe whose reader went away must not kill it either). Both as they
  // were when it returns.
  // Children must be reapable even if SIGCHLD came in ignored; its disposition is restored when
  // this returns, and in each worker (an app there may rely on SIGCHLD ignored to reap its own
  // helpers: it was left at SIG_DFL in both before 2026-12-03).
  // (A handler that notes it, not SIG_DFL: blocked in this thread only, a SIGCHLD another thread
  // of the program took was dropped at SIG_DFL, and a worker's death was seen at the once-a-second
  // look, its restart and WORKER_DOWN up to a second late; before 2026-12-06, a review.)
  struct sigaction child_default {
  }, old_child{};
  // (SA_NOCLDSTOP: a worker stopped or continued is no death. The program's other threads may see
  // EINTR from a call SA_RESTART does not restart — poll, nanosleep — when a worker dies.)
  child_default.sa_handler = [](int) { g_child_signal = 1; };
  child_default.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&child_default.sa_mask);
  g_child_signal = 0;
  ::sigaction(SIGCHLD, &child_default, &old_child);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  // SIGINT and SIGHUP unless they came in ignored (nohup; a shell script's background job has
  // SIGINT ignored, so that a Ctrl-C meant for the script leaves it: that drained the cluster
  // before 2026-12-05): blocked, an ignored signal is still queued on Linux, and sigtimedwait
  // would take it for a drain. (The workers inherit the ignoring: serve() then leaves them alone
  // too.)
  for (const int sig : stop_signals()) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  // The mask above is this thread's: a thread the program started before (a logger, an exporter)
  // still takes the stop signals, and at their default action one there killed the supervisor,
  // its rings and hand-off directory left behind (before 2026-12-04; a helper's review). A
  // handler notes them instead, and the loop, which looks every 100 ms, drains. (Workers get the
  // dispositions back: below.)
  const int stops[] = {SIGTERM, SIGINT, SIGHUP};
  struct sigaction old_stop[3] = {};
  g_stop_signal = 0;
  for (int k = 0; k < 3; ++k) {
    if (sigismember(&set, stops[k]) != 1) continue;  // (SIGINT or SIGHUP that came in ignored)
    struct sigaction note {};
    note.sa_handler = [](int sig) { g_stop_signal = sig; };
    note.sa_flags = SA_RESTART;  // (the program's threads' blocking calls are not cut short)
    sigemptyset(&note.sa_mask);
    ::sigaction(stops[k], &note, &old_stop[k]);
  }
  // SIGUSR1 and SIGUSR2 at their default action ended the supervisor at once, without its drain:
  // a --ring named ring, the session table, the board and the cut logs were left in /dev/shm until
  // that name started again (a log rotation's habitual `kill -USR1`; until 2026-12-07, found by a
  // bug hunt). Where they come in at it (a program with a handler of its own keeps it) they are
  // noted, said in the loop, and otherwise ignored; a worker gets its disposition back.
  const int user_signals[] = {SIGUSR1, SIGUSR2};
  struct sigaction old_user[2] = {};
  bool user_noted[2] = {false, false};
  g_ignored_usr1 = 0;
  g_ignored_usr2 = 0;
  for (int k = 0; k < 2; ++k) {
    if (::sigaction(user_signals[k], nullptr, &old_user[k]) != 0 ||
        old_user[k].sa_handler != SIG_DFL || (old_user[k].sa_flags & SA_SIGINFO) != 0)
      continue;
    struct sigaction note {};
    note.sa_handler = [](int sig) {
      if (sig == SIGUSR1)
        g_ignored_usr1 = 1;
      else
        g_ignored_usr2 = 1;
    };
    note.sa_flags = SA_RESTART;
    sigemptyset(&note.sa_mask);
    user_noted[k] = ::sigaction(user_signals[k], &note, nullptr) == 0;
  }
  struct RestoreUser {
    const int* which;
    struct sigaction* before;
    const bool* noted;
    ~RestoreUser() {
      for (int k = 0; k < 2; ++k)
        if (noted[k]) ::sigaction(which[k], &before[k], nullptr);
    }
  } restore_user{user_signals, old_user, user_noted};
  struct sigaction ignore_pipe {
  }, old_pipe{};
  ignore_pipe.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore_pipe, &old_pipe);
  struct Restore {
    sigset_t& waited;
    sigset_t& mask;
    struct sigaction& pipe;
    struct sigaction& child;
    ~Restore() {
      // Signals still pending (a second Ctrl-C or a SIGHUP during the drain) are taken first:
      // unblocked, they would kill the process after its clean stop, its exit status lost.
      const timespec now{0, 0};
      while (sigtimedwait(&waited, nullptr, &now) > 0) {
      }
      ::sigaction(SIGPIPE, &pipe, nullptr);
      ::sigaction(SIGCHLD, &child, nullptr);
      // A caller that came with SIGCHLD ignored (or SA_NOCLDWAIT) is left no zombie of a child
      // of its own that ended after the last look (or before any, on an early return): the
      // kernel does not reap those already dead when SIG_IGN comes back, and reaps those that end
      // from now on (so: after the disposition is back, not before). (Every worker is reaped by
      // now.)
      if (kernel_reaps(child))
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
      sigprocmask(SIG_SETMASK, &mask, nullptr);
      // A SIGCHLD taken here for a child of the caller's own (its SIGCHLD handler never ran for
      // it): raised again, once its handler is back, if such a child waits to be reaped (every
      // worker is reaped by now; WNOWAIT: left as it is). (Raised, its si_pid is this process's:
      // a handler that loops on waitpid(-1, WNOHANG), as handlers must, reaps it; one that
      // waits for si_pid alone does not.)
      siginfo_t zombie{};
      if (child.sa_handler != SIG_DFL && child.sa_handler != SIG_IGN &&
          ::waitid(P_ALL, 0, &zombie, WEXITED | WNOHANG | WNOWAIT) == 0 && zombie.si_pid != 0)
        ::raise(SIGCHLD);
    }
  } restore{set, old, old_pipe, old_child};
  // The stop signals' dispositions back before the mask (declared after `restore`, so undone
  // before it): a stop signal that comes after the last pending one was taken is then the
  // caller's, not noted by the handler above once nobody reads the note. (Before 2026-12-05 the
  // mask came back first; found by a review, reasoned, not tested: a window of a few calls.)
  struct RestoreStops {
    const int* which;
    struct sigaction* before;
    const sigset_t& set;
    ~RestoreStops() {
      for (int k = 0; k < 3; ++k)
        if (sigismember(&set, which[k]) == 1) ::sigaction(which[k], &before[k], nullptr);
    }
  } restore_stops{stops, old_stop, set};
  const std::vector<int> cpus = affinity_cpus();
  std::string fewer;  // (workers = 0: why fewer than the affinity mask's CPUs)
  const int n = o.workers > 0 ? o.workers : auto_workers(cpus.size(), cgroup_cpu_limit(), &fewer);
  if (!fewer.empty() && n <= kMaxWorkers) std::fprintf(stderr, "shmio: %s\n", fewer.c_str());
  // At most kMaxWorkers (the registry's 1,024 producer slots, 64 kept for emitters and tools;
  // session ids carry a worker's index): shmio's own command line bounds --workers so, and a
  // program calling this directly is told the same (before 2026-12-03 past it the slot counts
  // overflowed, and workers' session-id prefixes wrapped).
  if (o.workers < 0 || n > kMaxWorkers) {
    // (The number passed when it is not 0, a negative one too: before 2026-12-07 -2 was said
    // as the CPUs' count, "8 asked: one per CPU"; a review.)
    std::fprintf(stderr, "shmio: a cluster has 1..%d workers (%d asked%s)\n", kMaxWorkers,
                 o.workers != 0 ? o.workers : n, o.workers != 0 ? "" : ": one per CPU");
    return 1;
  }
  SupervisorOptions ro = o;
  ro.workers = n;
  // The shared ring, then (with a ring per worker) each worker's: all of them or none.
  struct Ring {
    shm::Segment segment;
    std::string name;
    std::string path;  // its file, checked once a second (below)
    struct stat at_start {};
    bool stat_ok = false;
    // Whether `now` (a stat of its path) is still the file made at the start (or cannot tell).
    bool same_file(const struct stat& now) const {
      return !stat_ok || (now.st_ino == at_start.st_ino && now.st_dev == at_start.st_dev);
    }
  };
  std::vector<Ring> rings;
  std::vector<std::string> worker_rings;  // the names of those created (removed at the end)
  std::vector<shm::RingConfig> configs{shared_ring_config(ro)};
  if (o.ring_per_worker)
    for (int i = 0; i < n; ++i)
      configs.push_back(worker_ring_config(o.ring, i, n, o.ring_bytes, o.ring_huge_pages));
  for (const shm::RingConfig& cfg : configs) {
    auto seg = create_ring(cfg, cfg.name != o.ring);
    if (!seg) {
      rings.clear();
      if (cfg.name != o.ring) {  // a worker's ring: the shared one (ours) and those made go too
        (void)shm::Segment::remove(o.ring);
        remove_rings(o.ring, worker_rings);
      }
      return 1;
    }
    if (cfg.name != o.ring) worker_rings.push_back(cfg.name);
    rings.push_back({std::move(*seg), cfg.name, shm::Segment::object_path(cfg.name)});
    rings.back().stat_ok = ::stat(rings.back().path.c_str(), &rings.back().at_start) == 0;
  }
  remove_stale_worker_rings(o.ring, o.ring_per_worker ? n : 0);
  remove_dead_clusters(o.ring);
  shm::Segment* const seg = &rings.front().segment;
  const std::uint64_t ring_id = seg->header().creation_time_ns;  // (names its tables)
  std::optional<shm::RingWriter> writer;
  if (auto w = shm::RingWriter::attach(*seg, {"supervisor", -1}); w) {
    writer.emplace(std::move(w.value()));
  } else {
    std::fprintf(stderr, "shmio: cannot attach to ring %s: %s\n", o.ring.c_str(),
                 w.error().message.c_str());
    rings.clear();
    (void)shm::Segment::remove(o.ring);
    remove_rings(o.ring, worker_rings);
    return 1;
  }
  // (Removed when this returns. Children never run this: each leaves by _exit, whatever its main
  // throws — spawn() below.)
  struct HandoffDir {
    std::string path;
    int lock = -1;
    // Whether `path` still names the directory made (and locked) at the start.
    bool still_there() const {
      struct stat made {
      }, now{};
      return lock >= 0 && ::fstat(lock, &made) == 0 && ::lstat(path.c_str(), &now) == 0 &&
             made.st_dev == now.st_dev && made.st_ino == now.st_ino;
    }
    ~HandoffDir() {
      std::error_code ec;
      // (Not another's put in its place: only the directory this cluster made.)
      if (!path.empty() && still_there()) std::filesystem::remove_all(path, ec);
      if (lock >= 0) ::close(lock);
    }
  } handoff_dir;
  if (o.handoff_sockets) std::tie(handoff_dir.path, handoff_dir.lock) = make_handoff_dir();
  if (o.before_workers)
    if (const std::string why = o.before_workers(ring_id, n); !why.empty()) {
      std::fprintf(stderr, "shmio: cannot start: %s\n", why.c_str());
      writer.reset();
      rings.clear();
      (void)shm::Segment::remove(o.ring);
      remove_rings(o.ring, worker_rings);
      return 1;
    }
  if (o.on_start) o.on_start(n);
  // The rings' files, checked once a second: removed (an operator's rm in /dev/shm), replaced by
  // another file, or a header overwritten. Restarted workers attach by name, so a cluster whose
  // ring is gone cannot restart a worker; it stops cleanly instead of crash-looping.
  std::string ring_path = rings.front().path;  // (the one in trouble, once one is)
  auto ring_trouble = [&]() -> const char* {
    for (const Ring& r : rings) {
      ring_path = r.path;
      // The file first: a header read through the mapping of a truncated file would be SIGBUS.
      struct stat now {};
      if (::stat(r.path.c_str(), &now) != 0) return "was removed";
      if (!r.same_file(now)) return "was replaced by another file";
      if (r.stat_ok && now.st_size < r.at_start.st_size) return "was truncated";
      std::uint64_t magic = 0;
      std::uint32_t version = 0;
      std::memcpy(&magic, &r.segment.header().magic, sizeof magic);
      std::memcpy(&version, &r.segment.header().layout_version, sizeof version);
      if (magic != shm::layout::kMagic || version != shm::layout::kLayoutVersion)
        return "was corrupted (its header no longer names a shmio ring)";
    }
    ring_path = rings.front().path;
    return nullptr;
  };
  int exit_code = 0;
  auto next_ring_check = Clock::now() + std::chrono::seconds(1);
  auto next_reap = Clock::now() + std::chrono::seconds(1);
  struct Dead {
    std::size_t index;
    int status;
    bool reaped_elsewhere;
  };
  // (SIGCHLD ignored, or SA_NOCLDWAIT: the caller's children were the kernel's to reap. Or this
  // process is PID 1, a container's first process started without an init: every orphan of the
  // workers' own children — an app's helper process, a double fork — is re-parented here, and
  // nothing else reaps it; before 2026-12-05 they stayed zombies until the pids ran out; found by
  // a review; reasoned, not tested: it needs a pid namespace.)
  const bool caller_reaps_none = kernel_reaps(old_child) || ::getpid() == 1;

  const pid_t supervisor = ::getpid();

  // Children 0..n-1 are the workers; child n the fleet bridge, if there is one.
  const bool with_bridge = static_cast<bool>(o.bridge_main);
  const int children = n + (with_bridge ? 1 : 0);
  auto name_of = [n](std::size_t i) {
    return static_cast<int>(i) == n ? std::string("the fleet bridge")
                                    : "worker " + std::to_string(i);
  };
  std::vector<Worker> workers(static_cast<std::size_t>(children));
  // The caller's fork hooks: what they throw is said, not unwound through the supervisor (in a
  // child it would go on as a second supervisor: it ends the child instead, exit status 1; in the
  // supervisor a failed before_fork leaves the worker down until the next try, a second later).
  // Before 2026-12-05 a child's after_fork ran outside the child's try (found by a review).
  auto hook = [](const std::function<void()>& f, const char* which) {
    if (!f) return true;
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: the %s hook threw: %s\n", which, e.what());
    } catch (...) {
      std::fprintf(stderr, "shmio: the %s hook threw an exception of unknown type\n", which);
    }
    return false;
  };
  auto spawn = [&](int i) {
    std::fflush(nullptr);
    if (!hook(o.before_fork, "before_fork")) {
      workers[static_cast<std::size_t>(i)].restart_at = Clock::now() + std::chrono::seconds(1);
      return;
    }
    // Asio's signal lock held across the fork, its pipe looked at under it: a thread of the
    // program's in the middle of a signal_set's work (an async_wait, a signal handed over) holds
    // it, and a child copied then would wait for it for ever at its first signal_set; and the pipe
    // the child inherits is the one looked at. (Given back before the after_fork hook, whose
    // notify_fork takes it; Asio's signal handler never does.)
    auto& asio_signals = boost::asio::detail::get_signal_state()->mutex_;
    asio_signals.lock();
    const ino_t asio_pipe = asio_signal_pipe();  // (the program's, if it holds a signal_set)
    // (The workers and the bridge hold the cluster's rings' locks with the supervisor: kept in
    // them; their own forks let go of them: shm::KeepRingLocksAcrossFork.)
    int fork_errno = 0;  // (taken at once: the unlock and the hook below may change errno)
    const pid_t pid = [&fork_errno] {
      const shm::KeepRingLocksAcrossFork keep;
      const pid_t p = ::fork();
      if (p < 0) fork_errno = errno;
      return p;
    }();
    asio_signals.unlock();
    // (In the child too: its copy of a lock taken for it.)
    if (!hook(o.after_fork, "after_fork") && pid == 0) {
      std::fflush(nullptr);
      _exit(1);
    }
    if (pid < 0) {
      // (Named with the child it was for: one line a second per child.)
      std::fprintf(stderr, "shmio: fork failed for %s: %s (tried again in 1 s)\n",
                   name_of(static_cast<std::size_t>(i)).c_str(), std::strerror(fork_errno));
      workers[static_cast<std::size_t>(i)].restart_at = Clock::now() + std::chrono::seconds(1);
      return;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != supervisor) _exit(1);  // the supervisor died before prctl
      ::sigaction(SIGCHLD, &old_child, nullptr);
      for (int k = 0; k < 3; ++k)
        if (sigismember(&set, stops[k]) == 1) ::sigaction(stops[k], &old_stop[k], nullptr);
      for (int k = 0; k < 2; ++k)
        if (user_noted[k]) ::sigaction(user_signals[k], &old_user[k], nullptr);
      sigprocmask(SIG_SETMASK, &old, nullptr);
      // The stop signals reach the worker whatever mask the caller blocked them in (a program
      // with a sigwait thread blocks them everywhere): the supervisor's drain and the parent-death
      // signal are SIGTERMs, and a worker that never saw them was killed at the drain's deadline,
      // its clients untold, or outlived a killed supervisor holding the port (before 2026-12-05;
      // found by a review).
      sigset_t stop_set;
      sigemptyset(&stop_set);
      for (const int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_set, sig);
      sigprocmask(SIG_UNBLOCK, &stop_set, nullptr);
      ::sigaction(SIGPIPE, &old_pipe, nullptr);
      // Whatever it throws ends it here: unwound into the supervisor's frames, a child would go
      // on as a second supervisor.
      // (Its name in a fixed buffer: nothing here may throw outside the try.)
      char who[16];
      if (i == n)
        std::snprintf(who, sizeof who, "bridge");
      else
        std::snprintf(who, sizeof who, "w%d", i);
      end_when_orphaned(supervisor, o.drain_timeout, who, o.stderr_fd);
      if (!own_asio_signal_pipe(asio_pipe)) {
        // (Restarted as a crash is: its drain's SIGTERM would never reach its signal_set.)
        std::fprintf(stderr, "shmio[%s]: no signal pipe of its own: exits\n", who);
        std::fflush(nullptr);
        _exit(1);
      }
      int rc = 1;
      try {
        if (i == n) {  // the fleet bridge
          rc = o.bridge_main();
        } else {
          WorkerContext ctx{i, n, -1, o.ring, handoff_dir.path};
          if (o.pin && !cpus.empty()) {
            const int cpu = cpus[static_cast<std::size_t>(i) % cpus.size()];
            if (shm::pin_to_cpu(cpu)) ctx.core = cpu;
          }
          rc = worker_main(ctx);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmio[%s]: %s\n", who, e.what());
      } catch (...) {
        std::fprintf(stderr, "shmio[%s]: an exception of unknown type\n", who);
      }
      std::fflush(nullptr);
      _exit(rc);
    }
    Worker& w = workers[static_cast<std::size_t>(i)];
    w.pid = pid;
    w.started = Clock::now();
    w.restart_at.reset();
    w.watchdog_killed = false;
    // (Its identity as the board stamps its posts: a predecessor's post, or an unrelated
    // process's of the same pid after a wrap, is not its.)
    w.identity.reset();
    if (const std::uint64_t t = shm::process_start_time(pid); t != 0)
      w.identity = shm::ProcessIdentity{pid, t};
    ++w.starts;
  };
  for (int i = 0; i < children; ++i) spawn(i);

  bool draining = false;
  bool ring_broken = false;  // (trouble found: nothing more is written into the rings)
  // The rings looked at (ring_trouble); trouble found is said once, and from then on nothing is
  // written into them.
  // The hand-off directory, looked at with the rings: removed under the running cluster (an
  // operator's rm, a cleaner of /tmp), its workers' sockets are gone with it — no connection can
  // be handed between workers any more — and a restarted worker cannot start (it binds there):
  // stopping cleanly, as for a ring (before 2026-12-03 such workers were restarted every 5 s for
  // good, and the hand-offs failed without a word; a helper's review).
  bool handoff_gone = false;
  auto check_handoff_dir = [&]() -> const char* {
    if (handoff_gone || handoff_dir.lock < 0 || handoff_dir.still_there()) return nullptr;
    handoff_gone = true;
    std::fprintf(stderr,
                 "shmio: the hand-off directory %s was removed or replaced under the running "
                 "cluster: stopping cleanly (workers drain: no connection could be handed "
                 "between them, and a restarted one could not start; start shmio again)\n",
                 handoff_dir.path.c_str());
    exit_code = 1;
    return "hand-off directory gone";
  };
  // (SupervisorOptions::continue_stopped_after: per ring, the frontier last seen and since when.)
  struct Stall {
    std::uint64_t frontier = ~0ULL;
    Clock::time_point since{};
    pid_t said = 0;  // (a debugger's stop, said once)
  };
  std::vector<Stall> stalls(rings.size());
  auto continue_stopped_holders = [&] {
    if (o.continue_stopped_after.count() <= 0 || ring_broken) return;
    const auto now = Clock::now();
    for (std::size_t k = 0; k < rings.size(); ++k) {
      const shm::Segment& sg = rings[k].segment;
      const std::uint64_t f = sg.control().frontier.frontier.load(std::memory_order_acquire);
      const std::uint64_t t = sg.control().tail.tail.load(std::memory_order_acquire);
      Stall& st = stalls[k];
      if (f == t) {  // (quiet: a claim made after this look is timed from the look that sees it)
        st = Stall{};
        continue;
      }
      if (f != st.frontier) {
        st = {f, now, 0};
        continue;
      }
      if (now - st.since < o.continue_stopped_after) continue;
      const auto h = shm::core::frontier_holder(sg);
      if (!h || !h->stopped()) continue;
      const long long held =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - st.since).count();
      if (h->state == 'T') {
        const int failed = shm::signal_process({h->pid, h->start_time}, SIGCONT);
        st.since = now;
        if (failed != 0 && st.said == h->pid) continue;  // (a refusal said once: EPERM, ...)
        if (failed != 0) st.said = h->pid;
        std::fprintf(stderr,
                     "shmio: ring %s: pid %d ('%s') was stopped in the middle of a write, holding "
                     "the ring's readers for %lld ms: %s%s\n",
                     rings[k].name.c_str(), static_cast<int>(h->pid), h->label.c_str(), held,
                     failed == 0 ? "continued (SIGCONT)" : "could not continue it: ",
                     failed == 0 ? "" : std::strerror(failed));
      } else if (st.said != h->pid) {
        std::fprintf(stderr,
                     "shmio: ring %s: pid %d ('%s') is stopped by a debugger in the middle of a "
                     "write: the ring's readers wait until it goes on\n",
                     rings[k].name.c_str(), static_cast<int>(h->pid), h->label.c_str());
        st.said = h->pid;
      }
    }
  };
  auto check_rings = [&]() -> const char* {
    if (ring_broken) return nullptr;
    const char* trouble = ring_trouble();
    if (trouble == nullptr) return nullptr;
    std::fprintf(stderr,
                 "shmio: ring %s %s under the running cluster: stopping cleanly (workers drain; "
                 "start shmio again for a new ring)\n",
                 ring_path.c_str(), trouble);
    exit_code = 1;
    ring_broken = true;
    return trouble;
  };
  Clock::time_point drain_deadline{};
  std::vector<pid_t> killed_at_deadline;  // (said when reaped)
  auto start_drain = [&] {
    draining = true;
    drain_deadline = Clock::now() + o.drain_timeout;
    std::fprintf(stderr, "shmio: draining %d workers\n", n);
    for (const Worker& w : workers)
      if (w.pid > 0) ::kill(w.pid, SIGTERM);
  };
  // The watchdog (SupervisorOptions::watchdog): the board the workers post on, opened once it
  // can be (as the workers open it), read once a second. (Added 2026-12-05, found by a review: a
  // worker whose loop was stuck kept its port's share of new connections, and nothing ended it.)
  std::optional<shm::WorkerBoard> board;
  auto next_watch = Clock::now() + std::chrono::seconds(1);
  std::uint64_t last_watch_ns = 0, watch_from_ns = 0;
  bool said_no_board = false;
  int board_failures = 0;  // (in a row: a worker may be making it at the first looks)
  const auto watch = [&] {
    if (!board) {
      shm::BoardConfig bc;
      bc.slots = static_cast<std::uint32_t>(std::max(1, n) + 1);  // (as Node's, one per child)
      auto b = shm::WorkerBoard::open(o.ring, ring_id, bc);
      if (!b) {
        // Said once (tried again every second): the watchdog was off without a word before
        // 2026-12-05 (a /dev/shm too small for the board, as a container's 64 MiB; found by a
        // review; reasoned, not tested).
        if (++board_failures >= 3 && !std::exchange(said_no_board, true))
          std::fprintf(stderr, "shmio: the watchdog is off until the workers' board opens: %s\n",
                       b.error().message.c_str());
        return;
      }
      board_failures = 0;
      if (std::exchange(said_no_board, false))
        std::fprintf(stderr, "shmio: the workers' board is open: the watchdog is on\n");
      board.emplace(std::move(b.value()));
    }
    const std::uint64_t now_ns = shm::monotonic_ns();
    const auto limit_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(o.watchdog).count());
    // The supervisor itself stopped for a while (the whole group: Ctrl-Z, a container paused, a
    // VM frozen): every post is old then, and none of it says a loop is stuck. Counted afresh
    // from the first look after such a gap (found by a review: all workers were killed at once).
    if (last_watch_ns != 0 && now_ns - last_watch_ns > 3'000'000'000ULL) watch_from_ns = now_ns;
    last_watch_ns = now_ns;
    for (int i = 0; i < children; ++i) {
      Worker& w = workers[static_cast<std::size_t>(i)];
      if (w.pid <= 0 || w.watchdog_killed) continue;
      const auto st = board->stamp(static_cast<std::uint32_t>(i));
      // (This child's post, not its predecessor's: another identity.)
      if (!st || st->who.pid != w.pid || !w.identity || !(st->who == *w.identity)) continue;
      const std::uint64_t since = std::max(st->posted_ns, watch_from_ns);
      if (now_ns < since || now_ns - since <= limit_ns) continue;
      std::fprintf(stderr,
                   "shmio: %s (pid %d) has not turned its event loop for %llu ms (a handler that "
                   "does not return, a deadlock, a stopped process): killed, to be restarted\n",
                   name_of(static_cast<std::size_t>(i)).c_str(), w.pid,
                   static_cast<unsigned long long>((now_ns - st->posted_ns) / 1'000'000));
      ::kill(w.pid, SIGKILL);
      w.watchdog_killed = true;
    }
  };
  for (;;) {
    timespec ts{0, 100'000'000};
    siginfo_t info;
    int sig = sigtimedwait(&set, &info, &ts);
    if (sig <= 0 && g_child_signal != 0) {  // (taken by another thread; with another signal
      g_child_signal = 0;                   // this turn: looked at in the next)
      sig = SIGCHLD;
    }
    const char* trouble = nullptr;
    // (Also at once when a child died: it may have died of the ring's trouble — a truncated ring
    // is SIGBUS in whoever touches it — and its death is published into that ring below, which
    // looks again before it writes.)
    if (!draining && (Clock::now() >= next_ring_check || sig == SIGCHLD)) {
      next_ring_check = Clock::now() + std::chrono::seconds(1);
      trouble = check_rings();
      if (trouble == nullptr) trouble = check_handoff_dir();
      if (trouble == nullptr) continue_stopped_holders();
    }
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP || g_stop_signal != 0 ||
         trouble != nullptr) &&
        !draining)
      start_drain();
    for (volatile sig_atomic_t* noted : {&g_ignored_usr1, &g_ignored_usr2}) {
      if (*noted == 0) continue;
      *noted = 0;
      std::fprintf(stderr,
                   "shmio: %s ignored (the supervisor has no use for it; SIGTERM, SIGINT or "
                   "SIGHUP drain the cluster)\n",
                   noted == &g_ignored_usr1 ? "SIGUSR1" : "SIGUSR2");
    }
    if (!draining && o.watchdog.count() > 0 && Clock::now() >= next_watch) {
      next_watch = Clock::now() + std::chrono::seconds(1);
      watch();
    }
    // Reap every dead child of its own (SIGCHLD may stand for several), by pid: a child the
    // calling program started itself (run_supervisor is a library function) is left to it, with
    // its status (reaped with waitpid(-1) before 2026-12-03: the program's own waitpid for it then
    // failed with ECHILD, its status lost). A caller that came with SIGCHLD ignored (or
    // SA_NOCLDWAIT) asked the kernel to reap its children and waits for none: those are reaped
    // here too, as the kernel would have (the disposition is a handler while this runs).
    // (A pass when a child's SIGCHLD came, once a second, and while draining: not one waitpid per
    // worker every 100 ms on a host of many cores.)
    std::vector<Dead> dead_now;
    if (sig == SIGCHLD || draining || Clock::now() >= next_reap) {
      next_reap = Clock::now() + std::chrono::seconds(1);
      g_child_signal = 0;  // (this pass reaps what it stood for)
      if (caller_reaps_none) {
        for (;;) {
          int status = 0;
          const pid_t pid = ::waitpid(-1, &status, WNOHANG);
          if (pid <= 0) break;
          for (std::size_t i = 0; i < workers.size(); ++i)
            if (workers[i].pid == pid) dead_now.push_back({i, status, false});
        }
      }
      for (std::size_t i = 0; i < workers.size(); ++i) {
        const Worker& w = workers[i];
        if (w.pid <= 0 || std::any_of(dead_now.begin(), dead_now.end(),
                                      [i](const Dead& d) { return d.index == i; }))
          continue;
        int status = 0;
        const pid_t pid = ::waitpid(w.pid, &status, WNOHANG);
        if (pid == w.pid) dead_now.push_back({i, status, false});
        // (Reaped by another part of this process, a thread's waitpid(-1): dead, its status
        // unknown. Said and restarted; it would otherwise count as alive for ever. Reasoned, not
        // tested.)
        else if (pid < 0 && errno == ECHILD)
          dead_now.push_back({i, 0, true});
      }
    }
    // (Deaths reaped in the pass that starts a drain — a worker that cannot start, a broken ring —
    // came before it: said so, not "during the drain"; a bug hunt, 2026-12-06.)
    const char* const when = draining ? "during the drain" : "before the drain began";
    for (const Dead& d : dead_now) {
      const std::size_t i = d.index;
      const int status = d.status;
      Worker& w = workers[i];
      const pid_t dead = w.pid;  // (each worker listed once, by the checks above)
      w.pid = 0;
      // (Looked at again before anything is written: while draining the periodic look stops,
      // and a SIGCHLD may have come behind a SIGTERM.)
      if (!ring_broken && check_rings() == nullptr) {
        // (With its start time where it was read at its start: a process that took the same pid
        // since, before a worker reads this, is not taken for the dead one.)
        const std::uint64_t start =
            w.identity && w.identity->pid == dead ? w.identity->start_time : 0;
        const std::string body = write_message({{"pid", static_cast<std::int64_t>(dead)},
                                                {"worker", static_cast<std::int64_t>(i)},
                                                {"start", start}});
        // Not into a ring a lap ahead of its frontier: the publish would wait at the gate until
        // the frontier moves, and it moves not while a producer stopped in the middle of a write
        // (SIGSTOP, a debugger) holds it — this loop, with its stop signals taken only here, then
        // waited with it: no restart, no drain, a SIGTERM not answered (before 2026-12-05; found
        // by a review). The workers find the death by themselves then (their requests' dead
        // check). (Claims of others between this look and the publish may still make it wait.)
        if (writer->would_wait(body.size()))
          std::fprintf(stderr,
                       "shmio: the death of worker %zu was not written into the ring: it is full "
                       "behind a record not finished (a producer stopped in the middle of a "
                       "write?)\n",
                       i);
        else
          (void)writer->publish(static_cast<std::uint16_t>(MessageType::worker_down),
                                {reinterpret_cast<const std::byte*>(body.data()), body.size()});
        // Its reader slot freed now, and with it the count of its wait on the ring (a worker
        // killed while it waited: otherwise every later commit would wake no one, in a system
        // call; docs/ring.md "Dead waiters").
        // (A dead bridge's slots are kept: the restarted bridge resumes at their positions,
        // then frees them; freed here, the next reader to attach could take one first. Kept
        // whether or not a bridge runs now: a bridge dead at the same moment as this child is
        // a zombie still, with its pid, and a new one may not have read them yet.)
        for (const Ring& r : rings)
          (void)shm::registry::reap_dead_readers(r.segment,
                                                 with_bridge ? kBridgeLabel : std::string_view());
      }
      if (ring_broken && !draining) start_drain();  // (found just now: no restart)
      if (draining) {
        // A drain that did not go as it should is said, and the supervisor's status says so
        // (before 2026-12-05 it exited 0 whatever happened: a worker killed at the deadline, its
        // stop handlers never finished, looked like a clean stop). The drain's own SIGTERM ending
        // a worker that had not yet set its handlers is no trouble.
        // (Killed here only if it died of that SIGKILL: one that exited as the deadline came was
        // sent it as a zombie.)
        const bool killed_here = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
                                 std::find(killed_at_deadline.begin(), killed_at_deadline.end(),
                                           dead) != killed_at_deadline.end();
        // A stop signal (the drain's SIGTERM; a Ctrl-C or a hang-up that reached the whole
        // process group, taken before the worker set its handlers) is a stop, not trouble.
        const bool stop_signal =
            WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT ||
                                    WTERMSIG(status) == SIGHUP);
        if (killed_here) {
          std::fprintf(stderr,
                       "shmio: %s (pid %d) did not stop within %lld ms of the drain: killed\n",
                       name_of(i).c_str(), dead, static_cast<long long>(o.drain_timeout.count()));
          exit_code = 1;
        } else if (!d.reaped_elsewhere && WIFSIGNALED(status) && !stop_signal) {
          std::fprintf(stderr, "shmio: %s (pid %d) killed by signal %d %s\n", name_of(i).c_str(),
                       dead, WTERMSIG(status), when);
          exit_code = 1;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && exit_code == 0 &&
                   !ring_broken) {
          std::fprintf(stderr, "shmio: %s (pid %d) exited with %d %s\n", name_of(i).c_str(), dead,
                       WEXITSTATUS(status), when);
          exit_code = 1;
        }
        continue;
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerCannotStart && w.starts == 1) {
        // Its first start failed in a way a restart would repeat (its own message above).
        std::fprintf(stderr,
                     "shmio: %s (pid %d) cannot start; stopping the cluster (draining %d "
                     "workers)\n",
                     name_of(i).c_str(), dead, n);
        exit_code = 1;
        draining = true;
        drain_deadline = Clock::now() + o.drain_timeout;
        for (const Worker& other : workers)
          if (other.pid > 0) ::kill(other.pid, SIGTERM);
        continue;
      }
      if (d.reaped_elsewhere)
        std::fprintf(stderr,
                     "shmio: %s (pid %d) was reaped by another part of this process (its exit "
                     "status unknown); restarting\n",
                     name_of(i).c_str(), dead);
      else if (WIFSIGNALED(status))
        std::fprintf(stderr, "shmio: %s (pid %d) killed by signal %d; restarting\n",
                     name_of(i).c_str(), dead, WTERMSIG(status));
      else
        std::fprintf(stderr, "shmio: %s (pid %d) exited with %d; restarting\n", name_of(i).c_str(),
                     dead, WEXITSTATUS(status));
      // Backoff: a worker that dies soon after its start waits longer each time (100 ms, then
      // doubling up to 5 s); one that ran for 10 s or more is restarted after 100 ms.
      const bool early = Clock::now() - w.started < std::chrono::seconds(10);
      if (!early) w.backoff = std::chrono::milliseconds(100);
      w.restart_at = Clock::now() + w.backoff;
      w.backoff = std::min<std::chrono::milliseconds>(w.backoff * 2, std::chrono::seconds(5));
    }
    if (draining) {
      bool any = false;
      for (const Worker& w : workers) any = any || w.pid > 0;
      if (!any) break;
      if (Clock::now() > drain_deadline) {
        for (const Worker& w : workers)
          if (w.pid > 0) {
            ::kill(w.pid, SIGKILL);
            killed_at_deadline.push_back(w.pid);
          }
        drain_deadline = Clock::time_point::max();
      }
      continue;
    }
    for (int i = 0; i < children; ++i) {
      Worker& w = workers[static_cast<std::size_t>(i)];
      if (w.pid == 0 && w.restart_at && Clock::now() >= *w.restart_at) spawn(i);
    }
  }
  // Released (its slot given back) unless the ring is in trouble: a truncated ring's slot is past
  // its file's end now, a store there SIGBUS.
  if (ring_broken) writer->abandon();
  writer.reset();
  // What is removed: each ring whose file is still the one this cluster made (an operator may have
  // started a new cluster of that name after the trouble was said), and this cluster's session
  // table, board and cut logs, named by its ring's creation time.
  std::vector<std::pair<std::string, bool>> ours;  // (name, still this cluster's file)
  for (const Ring& r : rings) {
    struct stat now {};
    ours.emplace_back(r.name, ::stat(r.path.c_str(), &now) == 0 && r.same_file(now));
  }
  rings.clear();
  bool shared_removed = false;
  for (const auto& [name, same] : ours) {
    if (!same) continue;
    const bool removed = static_cast<bool>(shm::Segment::remove(name));
    if (name == o.ring) shared_removed = removed;
  }
  shm::SessionStore::remove_all(o.ring, ring_id);
  shm::WorkerBoard::remove_all(o.ring, ring_id);
  shm::CutLog::remove_all(o.ring, ring_id);
  if (shared_removed)
    std::fprintf(stderr, "shmio: stopped; ring %s removed%s\n", o.ring.c_str(),
                 worker_rings.empty() ? "" : " (and the workers' rings)");
  else
    std::fprintf(stderr, "shmio: stopped\n");
  return exit_code;
}

std::vector<int> user_signals_at_default() {
  std::vector<int> out;
  for (const int sig : {SIGUSR1, SIGUSR2})
    if (struct sigaction now{}; ::sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_DFL &&
                                (now.sa_flags & SA_SIGINFO) == 0)
      out.push_back(sig);
  return out;
}

void ignore_user_signals_after(const std::vector<int>& sigs, const std::function<void()>& let_go) {
  sigset_t block, old;
  sigemptyset(&block);
  for (const int sig : sigs) sigaddset(&block, sig);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  if (let_go) let_go();
  for (const int sig : sigs) {
    struct sigaction now {};
    if (::sigaction(sig, nullptr, &now) != 0 || now.sa_handler != SIG_DFL ||
        (now.sa_flags & SA_SIGINFO) != 0)
      continue;  // (a program's own handler since: left)
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(sig, &ignore, nullptr);
  }
  // (One that came while blocked is discarded at the unblock: ignored now.)
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

std::vector<int> stop_signals() {
  std::vector<int> out{SIGTERM};
  for (const int sig : {SIGINT, SIGHUP})
    if (struct sigaction now{}; ::sigaction(sig, nullptr, &now) != 0 || now.sa_handler != SIG_IGN)
      out.push_back(sig);
  return out;
}

}  // namespace shmio::cluster
