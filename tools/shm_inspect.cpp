// shm-inspect: the operator's read-only view of a shmio ring (/dev/shm/shmio.<name>).
//
// It attaches with AttachMode::read_only, so the segment is mapped PROT_READ: nothing here can
// create or modify a segment, even by bug. What it reads and how (snapshots, slots, the walk of
// the records) is shm::inspect's (shm/inspect.hpp, unit-tested); this file parses the command
// line and prints tables or JSON (Boost.JSON).
//
// The ring is live: every figure is a snapshot that may be stale by the time it is printed.

#include <dirent.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "shmio/shm/cut_log.hpp"
#include "shmio/shm/inspect.hpp"
#include "shmio/shm/layout.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_core.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/shm/session_store.hpp"

namespace {

namespace shm = shmio::shm;
namespace layout = shmio::shm::layout;
namespace core = shmio::shm::core;
namespace inspect = shmio::shm::inspect;
namespace json = boost::json;
using inspect::ProducerRow;
using inspect::ReaderRow;
using inspect::RingSnapshot;

// Exit statuses, documented in the usage text.
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitNotFound = 2;
constexpr int kExitVersion = 3;
constexpr int kExitPermission = 4;
constexpr int kExitCorrupt = 5;
constexpr int kExitSystem = 6;

constexpr const char* kUsage = R"(Usage: shm-inspect [--name NAME ...] [--json] COMMAND [OPTIONS]

Read-only view of shmio shared-memory rings (/dev/shm/shmio.NAME). Segments are
mapped read-only: shm-inspect never creates or modifies one.

Commands:
  list                 rings in /dev/shm and their sizes, and the objects a cluster
                       keeps beside them (session tables, cut logs, boards), each
                       with whether its ring is there ("left over" if not)
  stat                 header and ring state: tail, frontier, fill, repair counters
  readers              reader slots: position, lag, losses, wakeups, heartbeat
  producers            producer slots: counters, claim in flight, heartbeat
  dump [--last N]      decode the last N records below the frontier (default 16)
  sessions             the ring's connection-state-recovery session table (the
                       shared ring of a cluster started with --recovery has one):
                       slots, entries, the deaths noted
  cuts                 the ring's cut logs (a cluster with --ring-per-worker and
                       --recovery): per worker, entries written and held, and
                       its last cut
  watch [--interval MS] [--count K]
                       every MS milliseconds (default 1000), one line: records/s,
                       bytes/s, bytes in flight, each reader's lag; stops after K
                       refreshes, or on Ctrl-C / SIGTERM (exit 0). A ring removed is
                       said ("removed") and no longer watched, so is one truncated
                       ("truncated"), one made anew under
                       its name is said ("replaced") and the new one watched (one
                       still being created: "replaced, not ready yet", watched once
                       it is, within 10 s); when none is left, exit 2

Options:
  --name NAME          ring name (default: as shmio names its ring, $SHMIO_RING if
                       set, else port-$SHMIO_PORT, else port-3000); a pattern
                       with * ? [...] names every ring in /dev/shm that matches
                       it ('port-3000.w*': a cluster's rings per worker); give
                       --name several times for several rings (a ring named
                       twice is shown once)
  --json               one JSON object instead of tables (watch: one per line)

A ring without a session table or cut logs says so (exit 0): only the shared ring
of a cluster with --recovery has a session table, and cut logs only with
--recovery and --ring-per-worker.

Several rings: stat, readers, producers, dump, sessions and cuts show each ring in turn (a
heading names it; --json: one object per ring, one per line, each with its
"name"); watch prints, each refresh, a line per ring and a total line (records/s,
bytes/s, in flight over all of them; --json: "total": true). Every ring is
attached before anything is printed: if one cannot be, nothing is shown and the
exit status is that ring's.
  -h, --help           print this help

Exit status:
  0  ok
  1  usage error
  2  no such ring, or no ring matches a pattern (`shm-inspect list` shows the rings)
  3  ring layout version mismatch
  4  permission denied
  5  foreign or corrupt segment (bad magic, size mismatch, not ready, not a file;
     its file truncated while being read)
  6  other system error; the output could not be written (a full disk: a closed
     pipe ends the program by SIGPIPE, as any filter); dump on a ring so busy
     that its producers passed the records being read twice
)";

// ---------------------------------------------------------------------------------------------
// Small formatting helpers.

__attribute__((format(printf, 1, 2))) std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return {};
  return std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

std::string U(std::uint64_t v) {
  return std::to_string(v);
}

// "64.0 MiB" and the like, for the human-readable output only.
std::string HumanBytes(std::uint64_t v) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double d = static_cast<double>(v);
  std::size_t u = 0;
  while (d >= 1024.0 && u + 1 < std::size(kUnits)) {
    d /= 1024.0;
    ++u;
  }
  return u == 0 ? Fmt("%llu B", static_cast<unsigned long long>(v)) : Fmt("%.1f %s", d, kUnits[u]);
}

// CLOCK_REALTIME nanoseconds as ISO-8601 UTC with milliseconds.
std::string IsoUtc(std::uint64_t ns) {
  const auto secs = static_cast<std::time_t>(ns / 1'000'000'000ULL);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return Fmt("%s.%03uZ", buf, static_cast<unsigned>((ns / 1'000'000ULL) % 1000));
}

// Bytes that come from outside (labels in the segment, file names in /dev/shm) may hold
// anything: keep printable ASCII only, so neither tables nor JSON can be broken by them.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON output: one object per line.

void PrintJson(const json::value& v) {
  std::fputs(json::serialize(v).c_str(), stdout);
  std::fputc('\n', stdout);
}
json::value OptJson(const std::optional<std::uint64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
// A decimal with 3 digits after the point (rates and percentages).
json::value Decimal(double v) {
  return json::value(std::round(v * 1000.0) / 1000.0);
}

// ---------------------------------------------------------------------------------------------
// Aligned text tables: numbers right-aligned, text columns (marked left) left-aligned.

class Table {
 public:
  struct Column {
    std::string name;
    bool left = false;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }

  void Print() const {
    std::vector<std::size_t> width(columns_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].name.size();
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
        width[c] = std::max(width[c], row[c].size());
    std::vector<std::string> header;
    for (const auto& col : columns_) header.push_back(col.name);
    PrintRow(header, width);
    for (const auto& row : rows_) PrintRow(row, width);
  }

 private:
  void PrintRow(const std::vector<std::string>& row, const std::vector<std::size_t>& width) const {
    std::string line;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = c < row.size() ? row[c] : std::string();
      const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      if (c > 0) line += "  ";
      line += columns_[c].left ? cell + pad : pad + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::puts(line.c_str());
  }

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints "key  value" pairs with the values aligned.
void PrintPairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::size_t w = 0;
  for (const auto& [k, v] : pairs) w = std::max(w, k.size());
  for (const auto& [k, v] : pairs)
    std::printf("%-*s  %s\n", static_cast<int>(w), k.c_str(), v.c_str());
}

// ---------------------------------------------------------------------------------------------
// Slots, as shown.

std::string OptText(const std::optional<std::uint64_t>& v) {
  return v ? U(*v) : "?";
}
std::string CoreText(int core) {
  return core < 0 ? "-" : std::to_string(core);
}
const char* StateText(std::uint32_t state) {
  return state == layout::kSlotActive ? "active" : "dead";
}
const char* AliveText(bool alive) {
  return alive ? "alive" : "dead";
}

// The common JSON fields of a slot.
json::object SlotJson(const inspect::SlotCommon& r, std::uint64_t now_ns) {
  return {{"slot", r.id},
          {"label", Printable(r.label)},
          {"state", StateText(r.state)},
          {"pid", r.pid},
          {"alive", r.alive},
          {"core", r.core < 0 ? json::value(nullptr) : json::value(r.core)},
          {"heartbeat_age_ms", OptJson(inspect::heartbeat_age_ms(r.heartbeat_ns, now_ns))}};
}

// ---------------------------------------------------------------------------------------------
// Commands.

struct Options {
  // Names and patterns as given; then (main) the rings they resolve to, each once.
  std::vector<std::string> names;
  bool json = false;
  std::string command;
  std::uint64_t last = 16;
  std::uint64_t interval_ms = 1000;
  std::uint64_t count = 0;  // 0: until a signal
};

// An object a cluster keeps beside a ring: /dev/shm/PREFIX.RING.ID, ID its ring's creation time
// in 16 hex digits (sidecar.cpp). One whose ring is gone, or was made anew since, is left over
// (its cluster's supervisor killed, or its ring removed by hand): its memory stays held until it
// is removed, or a cluster on that ring name starts (a supervisor removes its ring's objects when
// it makes the ring). Before 2026-12-06 nothing showed them.
struct Beside {
  std::string object;
  const char* kind;  // sessions, cuts, board
  std::string ring;
  std::uint64_t bytes = 0;
  const char* ring_state;  // present, gone, remade, unreadable
  std::string state;       // said
  bool orphan = false;
};
// What a ring's header says of its identity (shm::Segment::identity: read from its file without
// mapping it, whatever its layout version), none if there is no such ring, or why it cannot be
// read.
struct RingId {
  std::optional<std::uint64_t> id;
  std::string unreadable;
};
RingId ReadRingId(const std::string& ring) {
  auto r = shm::Segment::identity(ring);
  if (r) return {r.value().creation_time_ns, {}};
  if (r.error().code == shm::Errc::not_found) return {};
  return {std::nullopt, r.error().message};
}
std::vector<Beside> ListBeside() {
  static constexpr std::pair<std::string_view, const char*> kKinds[] = {
      {"shmio-sessions.", "sessions"}, {"shmio-cuts.", "cuts"}, {"shmio-board.", "board"}};
  std::vector<Beside> out;
  DIR* d = ::opendir("/dev/shm");
  if (d == nullptr) return out;
  std::map<std::string, RingId> ids;  // ring -> what its header says
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    for (const auto& [prefix, kind] : kKinds) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      // PREFIX RING . 16 lower-case hex digits (sidecar.cpp), RING a ring's name (it may hold
      // dots: the last one comes before the id). Anything else is no cluster's.
      const std::string rest = name.substr(prefix.size());
      const std::size_t dot = rest.rfind('.');
      if (dot == std::string::npos || rest.size() - dot - 1 != 16) break;
      const std::string ring = rest.substr(0, dot), hex = rest.substr(dot + 1);
      if (hex.find_first_not_of("0123456789abcdef") != std::string::npos ||
          !shm::Segment::validate_name(ring))
        break;
      std::uint64_t id = 0;
      std::from_chars(hex.data(), hex.data() + hex.size(), id, 16);
      struct stat st {};
      if (::lstat(("/dev/shm/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) break;
      Beside b{name, kind, ring, static_cast<std::uint64_t>(st.st_size), "present", {}, false};
      if (ids.count(ring) == 0) ids[ring] = ReadRingId(ring);
      const RingId& r = ids[ring];
      if (!r.unreadable.empty()) {
        b.ring_state = "unreadable";
        b.state = "its ring cannot be read: " + r.unreadable;
      } else if (!r.id) {
        b.ring_state = "gone";
        b.state = "left over: no such ring";
        b.orphan = true;
      } else if (*r.id != id) {
        b.ring_state = "remade";
        b.state = "left over: its ring was made anew since";
        b.orphan = true;
      } else {
        b.state = "its ring's";
      }
      out.push_back(std::move(b));
      break;
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const Beside& a, const Beside& b) { return a.object < b.object; });
  return out;
}

int CmdList(const Options& o) {
  // (A /dev/shm that cannot be read is said, not listed as empty: "no shmio rings", exit 0, was
  // a wrong answer given as a success before 2026-12-06; a helper's review.)
  if (::access("/dev/shm", R_OK | X_OK) != 0) {
    std::fprintf(stderr, "shm-inspect: cannot read /dev/shm: %s\n", std::strerror(errno));
    return kExitSystem;
  }
  std::vector<shm::SegmentInfo> rings = shm::Segment::list();
  std::sort(rings.begin(), rings.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  const std::vector<Beside> beside = ListBeside();
  if (o.json) {
    json::array list, objects;
    for (const auto& r : rings)
      list.push_back(json::object{{"name", Printable(r.name)}, {"bytes", r.bytes}});
    for (const auto& b : beside)
      objects.push_back(json::object{{"object", Printable(b.object)},
                                     {"kind", b.kind},
                                     {"ring", Printable(b.ring)},
                                     {"bytes", b.bytes},
                                     {"left_over", b.orphan},
                                     {"ring_state", b.ring_state},
                                     {"state", Printable(b.state)}});
    PrintJson(json::object{{"rings", std::move(list)}, {"beside", std::move(objects)}});
    return kExitOk;
  }
  if (rings.empty()) {
    std::puts("no shmio rings in /dev/shm");
  } else {
    Table t({{"name", true}, {"bytes"}, {"size", true}});
    for (const auto& r : rings) t.Add({Printable(r.name), U(r.bytes), HumanBytes(r.bytes)});
    t.Print();
  }
  if (!beside.empty()) {
    std::puts(
        "\nbeside the rings (a left-over one holds its memory until removed: rm /dev/shm/OBJECT):");
    Table t({{"object", true}, {"kind", true}, {"ring", true}, {"size", true}, {"state", true}});
    for (const auto& b : beside)
      t.Add({Printable(b.object), b.kind, Printable(b.ring), HumanBytes(b.bytes),
             Printable(b.state)});
    t.Print();
  }
  return kExitOk;
}

// Why a ring's control block cannot be right (a stray write damaged it), or null. The frontier
// never passes the tail, and the tail is never more than a lap and every producer's largest claim
// beyond the frontier (a claim waits at its gate a lap behind the frontier; docs/ring.md). Past
// either, no figure computed from the two means anything (before 2026-12-05 a frontier above the
// tail gave lags of a TiB; before 2026-12-06 a tail 2^40 bytes on said 1 TiB in flight and "no
// records below the frontier", exit 0; a review).
const char* ControlDamage(const shm::Segment& s, const RingSnapshot& snap) {
  if (snap.frontier > snap.tail) return "frontier above tail";
  const std::uint64_t most =
      s.capacity() + std::uint64_t{s.max_producers()} * layout::footprint(s.max_record());
  if (snap.tail - snap.frontier <= most) return nullptr;
  // (The snapshot reads the frontier before the tail: on a busy ring the tail may have moved on
  // by more than the bound in between, this process descheduled there. The frontier read again
  // now, after the tail, is not older than it: damage only if the tail is still past the bound
  // from that one, which only grows. A review, the day this check came.)
  const std::uint64_t f = s.control().frontier.frontier.load(std::memory_order_acquire);
  if (f <= snap.tail && snap.tail - f > most) return "tail more than a lap beyond the frontier";
  return nullptr;
}
void SayDamage(const std::string& name, const RingSnapshot& snap, const char* why,
               const char* after) {
  std::fprintf(stderr,
               "shm-inspect: %s: inconsistent control block (frontier %llu, tail %llu: %s): "
               "the segment is damaged%s\n",
               Printable(name).c_str(), static_cast<unsigned long long>(snap.frontier),
               static_cast<unsigned long long>(snap.tail), why, after);
}

int CmdStat(const shm::Segment& s, const Options& o) {
  const layout::SegmentHeader& h = s.header();
  const layout::Control& c = s.control();
  const bool creator_alive = shm::liveness(shm::ProcessIdentity{
                                 h.creator_pid, h.creator_start_time}) == shm::Liveness::alive;
  // Whether the ring's file is held (RingConfig::hold_lock: a cluster's supervisor, its workers
  // and its bridge hold it) by a live process, whether or not this one can see it: a creator
  // shown dead with the file held is a cluster in another pid namespace, or its processes still
  // ending (docs/cluster.md, "Supervisor").
  const bool file_held = shm::Segment::held(s.name(), &s);

  const RingSnapshot snap = inspect::snapshot(s);
  const std::uint64_t oldest = core::find_oldest(s, snap.tail, snap.frontier);
  const std::uint64_t in_flight = snap.tail - snap.frontier;
  const std::uint64_t fill = snap.frontier - oldest;
  const double fill_pct = 100.0 * static_cast<double>(fill) / static_cast<double>(s.capacity());
  const std::optional<std::uint64_t> held = inspect::records_until_frontier(s, oldest, snap);

  constexpr auto kRelaxed = std::memory_order_relaxed;
  const std::uint64_t repairs = c.repair.repairs.load(kRelaxed);
  const std::uint64_t abandoned_bytes = c.repair.abandoned_bytes.load(kRelaxed);
  const std::uint64_t aborted_claims = c.repair.aborted_claims.load(kRelaxed);
  // (The lock word is the holder's process_tag: its pid in the high half.)
  const auto repair_lock = static_cast<std::int32_t>(c.repair.lock.load(kRelaxed) >> 32);
  const std::uint32_t waiters = c.wake.waiters.load(kRelaxed);
  // A ring made for one producer: whether a parker in another process asked its producer to fence
  // every commit, and whether the live producer holding it does (it answered that request, or
  // fences anyway: its process could not register for membarrier(); docs/ring.md "Exclusive
  // producers", X6). (A ring made with fenced commits: every producer fences, nobody asks.)
  const bool by_request = s.exclusive_producer() && !s.fenced_commits();
  const bool fence_asked = by_request && c.wake.fence_asked.load(kRelaxed) != 0;
  const std::uint32_t owner = c.repair.exclusive_owner.load(kRelaxed);
  const std::uint32_t held_slot = owner & layout::kOwnerSlotMask;
  // (Bounded by the geometry checked at attach, not the live header's count, which a stray write
  // since may have raised: a slot past the mapping was read before 2026-12-07; a review.)
  const bool holder_alive =
      held_slot != 0 && held_slot <= s.max_producers() &&
      shm::liveness(shm::registry::owner_of(
          s.producer_slot(static_cast<std::uint16_t>(held_slot - 1)))) == shm::Liveness::alive;
  const bool producer_fences = s.fenced_commits() || (by_request && holder_alive &&
                                                      c.wake.fence_acked.load(kRelaxed) == owner);
  const std::uint64_t horizon = c.horizon.horizon.load(kRelaxed);
  const std::uint64_t granule = layout::horizon_granule(s.capacity());

  const inspect::SlotCounts slots = inspect::count_slots(s);
  const std::uint64_t producers_active = slots.producers_active,
                      producers_dead = slots.producers_dead, readers_active = slots.readers_active,
                      readers_dead = slots.readers_dead;
  // (Being taken: shown only when there are any, in the text form.)
  auto taking = [](std::uint64_t n) {
    return n == 0 ? std::string() : ", " + std::to_string(n) + " being taken";
  };
  const std::string mode = Fmt("0%03o", h.mode);

  if (o.json) {
    PrintJson(json::object{{"name", s.name()},
                           {"object", shm::Segment::object_path(s.name())},
                           {"layout_version", h.layout_version},
                           {"capacity", s.capacity()},
                           {"max_record", h.max_record},
                           {"max_producers", h.max_producers},
                           {"max_readers", h.max_readers},
                           {"segment_bytes", h.segment_bytes},
                           {"creator_pid", h.creator_pid},
                           {"creator_alive", creator_alive},
                           {"held", file_held},
                           {"creation_time", IsoUtc(h.creation_time_ns)},
                           {"creation_time_ns", h.creation_time_ns},
                           {"mode", mode},
                           {"dead_check_interval_ns", h.dead_check_interval_ns},
                           {"exclusive_producer", s.exclusive_producer()},
                           {"fenced_commits", s.fenced_commits()},
                           {"fence_asked", fence_asked},
                           {"producer_fences", producer_fences},
                           {"tail", snap.tail},
                           {"frontier", snap.frontier},
                           {"frontier_index", snap.frontier_index},
                           {"in_flight_bytes", in_flight},
                           {"horizon", horizon},
                           {"horizon_granule", granule},
                           {"oldest", oldest},
                           {"fill_bytes", fill},
                           {"fill_percent", Decimal(fill_pct)},
                           {"records_held", OptJson(held)},
                           {"repairs", repairs},
                           {"abandoned_bytes", abandoned_bytes},
                           {"aborted_claims", aborted_claims},
                           {"repair_lock_pid", repair_lock},
                           {"waiters", waiters},
                           {"producers_active", producers_active},
                           {"producers_dead", producers_dead},
                           {"readers_active", readers_active},
                           {"readers_dead", readers_dead},
                           {"producers_taking", slots.producers_taking},
                           {"readers_taking", slots.readers_taking}});
    return kExitOk;
  }

  std::printf("ring %s (/dev/shm/%s)\n", s.name().c_str(),
              shm::Segment::object_name(s.name()).c_str());
  PrintPairs({
      {"layout version", U(h.layout_version)},
      {"capacity", U(s.capacity()) + " (" + HumanBytes(s.capacity()) + ")"},
      {"max record", U(h.max_record) + " (" + HumanBytes(h.max_record) + ")"},
      {"slots",
       U(h.max_producers) + " producers, " + U(h.max_readers) + " readers" +
           (!s.exclusive_producer() ? ""
            : s.fenced_commits()    ? " (one producer at a time: exclusive, commits fenced)"
            : producer_fences
                ? (fence_asked ? " (one producer at a time: exclusive; its producer fences every "
                                 "commit, as a reader in another process asked)"
                               : " (one producer at a time: exclusive; its producer fences every "
                                 "commit: it cannot use membarrier())")
            : !fence_asked ? " (one producer at a time: exclusive)"
            : holder_alive ? " (one producer at a time: exclusive; a reader in another process "
                             "asked for fenced commits, its producer has not answered yet)"
                           : " (one producer at a time: exclusive; a reader in another process "
                             "asked for fenced commits: the next producer fences every commit)")},
      {"segment bytes", U(h.segment_bytes) + " (" + HumanBytes(h.segment_bytes) + ")"},
      {"creator", "pid " + std::to_string(h.creator_pid) + " (" + AliveText(creator_alive) + ")" +
                      (file_held ? (creator_alive ? "; the file is held by the cluster"
                                                  : "; the file is held: a cluster's process lives "
                                                    "(in another pid namespace, or ending)")
                                 : "")},
      {"created", IsoUtc(h.creation_time_ns)},
      {"mode", mode},
      {"dead check", U(h.dead_check_interval_ns / 1'000'000ULL) + " ms"},
  });
  std::puts("");
  std::puts("ring state");
  PrintPairs({
      {"tail", U(snap.tail)},
      {"frontier", U(snap.frontier) + " (" + U(snap.frontier_index) + " records published)"},
      {"in flight", U(in_flight) + " bytes"},
      {"horizon", U(horizon) + " (granule " + U(granule) +
                      " bytes: a reader within one of being lapped validates with the tail)"},
      {"oldest", U(oldest)},
      {"fill", U(fill) + " bytes, " + Fmt("%.1f%%", fill_pct) + " of capacity, " + OptText(held) +
                   " records"},
      {"repairs", U(repairs)},
      {"abandoned bytes", U(abandoned_bytes)},
      {"aborted claims", U(aborted_claims)},
      {"repair lock",
       repair_lock == 0 ? std::string("free") : "held by pid " + std::to_string(repair_lock)},
      {"waiters parked", U(waiters)},
      {"producers", U(producers_active) + " active, " + U(producers_dead) + " dead" +
                        taking(slots.producers_taking)},
      {"readers",
       U(readers_active) + " active, " + U(readers_dead) + " dead" + taking(slots.readers_taking)},
  });
  return kExitOk;
}

int CmdReaders(const shm::Segment& s, const Options& o) {
  // Slots first, then the frontier and tail. A reader goes by the seals, so its position can be
  // a little ahead of the frontier: its lag is then 0.
  const std::vector<ReaderRow> rows = inspect::readers(s);
  const RingSnapshot snap = inspect::snapshot(s);
  const std::uint64_t now = shm::monotonic_ns();
  // A frontier above the tail (a control block damaged by a stray write) has no lag to show: the
  // slots are listed with none, said on stderr, exit 5 (before 2026-12-05 each lag was computed
  // from the damaged frontier, a TiB, and the exit status was 0; found by a review).
  const char* const why = ControlDamage(s, snap);
  const bool damaged = why != nullptr;
  auto lag_bytes = [&](const ReaderRow& r) -> std::optional<std::uint64_t> {
    if (damaged) return std::nullopt;
    return r.position <= snap.frontier ? snap.frontier - r.position : 0;
  };
  auto lag_records = [&](const ReaderRow& r) -> std::optional<std::uint64_t> {
    if (damaged) return std::nullopt;
    return inspect::records_until_frontier(s, r.position, snap);
  };
  auto done = [&] {
    if (!damaged) return kExitOk;
    SayDamage(s.name(), snap, why, "; no lag shown");
    return kExitCorrupt;
  };

  if (o.json) {
    json::array list;
    for (const ReaderRow& r : rows) {
      json::object e = SlotJson(r, now);
      e["position"] = r.position;
      e["lag_bytes"] = OptJson(lag_bytes(r));
      e["lag_records"] = OptJson(lag_records(r));
      e["records"] = r.records;
      e["bytes"] = r.bytes;
      e["laps"] = r.laps;
      e["lost_records"] = r.lost_records;
      e["lost_bytes"] = r.lost_bytes;
      e["wakeups"] = r.wakeups;
      e["corrupt"] = r.corrupt;
      e["parked"] = r.parked != 0;
      list.push_back(std::move(e));
    }
    PrintJson(json::object{{"name", s.name()},
                           {"frontier", snap.frontier},
                           {"tail", snap.tail},
                           {"readers", std::move(list)}});
    return done();
  }

  if (rows.empty()) {
    std::printf("no readers on ring %s\n", s.name().c_str());
    return done();
  }
  if (o.names.size() > 1) std::printf("ring %s\n", s.name().c_str());
  Table t({{"slot"},
           {"label", true},
           {"state", true},
           {"pid"},
           {"proc", true},
           {"core"},
           {"position"},
           {"lag_bytes"},
           {"lag_recs"},
           {"records"},
           {"bytes"},
           {"laps"},
           {"lost_recs"},
           {"lost_bytes"},
           {"wakeups"},
           {"corrupt"},
           {"parked", true},
           {"hb_age_ms"}});
  for (const ReaderRow& r : rows) {
    t.Add({U(r.id), r.label.empty() ? "-" : Printable(r.label), StateText(r.state),
           std::to_string(r.pid), AliveText(r.alive), CoreText(r.core), U(r.position),
           OptText(lag_bytes(r)), OptText(lag_records(r)), U(r.records), U(r.bytes), U(r.laps),
           U(r.lost_records), U(r.lost_bytes), U(r.wakeups), U(r.corrupt),
           r.parked != 0 ? "yes" : "no", OptText(inspect::heartbeat_age_ms(r.heartbeat_ns, now))});
  }
  t.Print();
  return done();
}

std::string ClaimText(const ProducerRow& r) {
  switch (r.claim_state) {
    case layout::kClaimIdle:
      return "-";
    case layout::kClaimClaiming:
      return "claiming";
    case layout::kClaimClaimed:
      return U(r.claim_position) + "+" + U(r.claim_length);
  }
  return "?" + U(r.claim_state);
}

int CmdProducers(const shm::Segment& s, const Options& o) {
  const std::vector<ProducerRow> rows = inspect::producers(s);
  const std::uint64_t now = shm::monotonic_ns();

  if (o.json) {
    json::array list;
    for (const ProducerRow& r : rows) {
      json::object e = SlotJson(r, now);
      e["records"] = r.records;
      e["bytes"] = r.bytes;
      e["aborted"] = r.aborted;
      e["abandoned"] = r.abandoned;
      e["abandoned_bytes"] = r.abandoned_bytes;
      e["gated"] = r.gated;
      json::object claim{{"state", r.claim_state == layout::kClaimIdle       ? "idle"
                                   : r.claim_state == layout::kClaimClaiming ? "claiming"
                                   : r.claim_state == layout::kClaimClaimed  ? "claimed"
                                                                             : "unknown"}};
      if (r.claim_state == layout::kClaimClaimed) {
        claim["position"] = r.claim_position;
        claim["length"] = r.claim_length;
      }
      e["claim"] = std::move(claim);
      list.push_back(std::move(e));
    }
    PrintJson(json::object{{"name", s.name()}, {"producers", std::move(list)}});
    return kExitOk;
  }

  if (rows.empty()) {
    std::printf("no producers on ring %s\n", s.name().c_str());
    return kExitOk;
  }
  if (o.names.size() > 1) std::printf("ring %s\n", s.name().c_str());
  Table t({{"slot"},
           {"label", true},
           {"state", true},
           {"pid"},
           {"proc", true},
           {"core"},
           {"records"},
           {"bytes"},
           {"aborted"},
           {"abandoned"},
           {"abandoned_bytes"},
           {"gated"},
           {"claim", true},
           {"hb_age_ms"}});
  for (const ProducerRow& r : rows) {
    t.Add({U(r.id), r.label.empty() ? "-" : Printable(r.label), StateText(r.state),
           std::to_string(r.pid), AliveText(r.alive), CoreText(r.core), U(r.records), U(r.bytes),
           U(r.aborted), U(r.abandoned), U(r.abandoned_bytes), U(r.gated), ClaimText(r),
           OptText(inspect::heartbeat_age_ms(r.heartbeat_ns, now))});
  }
  t.Print();
  return kExitOk;
}

// --- dump ---

// `hexdump -C` style: offset, 16 bytes in two groups of 8, then the printable characters.
void PrintHex(const std::byte* data, std::size_t n, const char* indent) {
  for (std::size_t off = 0; off < n; off += 16) {
    std::string hex, ascii;
    for (std::size_t i = 0; i < 16; ++i) {
      if (i == 8) hex += ' ';
      if (off + i < n) {
        const auto b = static_cast<unsigned char>(data[off + i]);
        hex += Fmt("%02x ", b);
        ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      } else {
        hex += "   ";
      }
    }
    std::printf("%s%08zx  %s |%s|\n", indent, off, hex.c_str(), ascii.c_str());
  }
}

std::string HexString(const std::byte* data, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += Fmt("%02x", static_cast<unsigned>(static_cast<unsigned char>(data[i])));
  return out;
}

int CmdDump(const shm::Segment& s, const Options& o) {
  inspect::Walk w;
  if (!inspect::walk(s, o.last, w)) {
    std::fprintf(stderr,
                 "shm-inspect: ring %s was overwritten twice while walking it (producers are "
                 "lapping the walk); try again\n",
                 s.name().c_str());
    return kExitSystem;
  }
  if (o.json) {
    json::array records;
    for (const inspect::DumpedRecord& r : w.last) {
      const bool pad = r.header.type == layout::kPaddingType;
      records.push_back(json::object{
          {"position", r.header.position},
          {"padding", pad},
          {"type", r.header.type},
          {"length", r.header.length},
          {"producer", r.header.producer},
          {"index", pad ? json::value(nullptr) : json::value(r.index)},
          {"overwritten", r.overwritten},
          {"preview_hex", r.overwritten ? "" : HexString(r.preview.data(), r.preview_len)}});
    }
    PrintJson(
        json::object{{"name", s.name()},
                     {"oldest", w.oldest},
                     {"frontier", w.frontier},
                     {"tail", w.tail},
                     {"walked", w.walked},
                     {"stopped", w.stopped.empty() ? json::value(nullptr) : json::value(w.stopped)},
                     {"records", std::move(records)}});
    return kExitOk;
  }

  if (w.walked == 0) {
    std::printf("ring %s: no records below the frontier (%llu)\n", s.name().c_str(),
                static_cast<unsigned long long>(w.frontier));
    if (!w.stopped.empty()) std::printf("note: %s\n", w.stopped.c_str());
    return kExitOk;
  }
  std::printf("ring %s: last %zu of %llu records walked from position %llu to the frontier %llu\n",
              s.name().c_str(), w.last.size(), static_cast<unsigned long long>(w.walked),
              static_cast<unsigned long long>(w.oldest),
              static_cast<unsigned long long>(w.frontier));
  for (const inspect::DumpedRecord& r : w.last) {
    const layout::RecordHeader& h = r.header;
    if (h.type == layout::kPaddingType) {
      std::printf("record @%llu  type PAD  length %u  producer %u\n",
                  static_cast<unsigned long long>(h.position), h.length,
                  static_cast<unsigned>(h.producer));
      continue;
    }
    std::printf("record @%llu  index %llu  type %u  length %u  producer %u\n",
                static_cast<unsigned long long>(h.position),
                static_cast<unsigned long long>(r.index), static_cast<unsigned>(h.type), h.length,
                static_cast<unsigned>(h.producer));
    if (r.overwritten) {
      std::puts("    (payload overwritten by the ring while reading it)");
      continue;
    }
    PrintHex(r.preview.data(), r.preview_len, "    ");
    if (h.length > r.preview_len) std::printf("    ... %zu more bytes\n", h.length - r.preview_len);
  }
  if (!w.stopped.empty()) std::printf("note: %s\n", w.stopped.c_str());
  return kExitOk;
}

// --- watch ---

volatile std::sig_atomic_t g_stop = 0;

// A ring's file truncated while it is being read (after watch's size check, or under a one-shot
// command): its pages past the new end raise SIGBUS at the next read. Said, exit 5 (corrupt
// segment), instead of the shell's "Bus error". Only what is async-signal-safe: write, _exit.
extern "C" void OnBusError(int) {
  static const char kLine[] =
      "shm-inspect: a ring's file was truncated while being read (SIGBUS): its pages past the "
      "new end are gone\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kLine, sizeof kLine - 1);
  ::_exit(kExitCorrupt);
}
extern "C" void OnStopSignal(int) {
  g_stop = 1;
}

struct WatchSample {
  std::string name;
  std::uint64_t mono_ns = 0;
  RingSnapshot snap;
  std::vector<ReaderRow> readers;  // active ones
  const char* damage = nullptr;    // ControlDamage's reason, if the control block is damaged
};

WatchSample TakeSample(const shm::Segment& s) {
  WatchSample w;
  w.name = s.name();
  for (ReaderRow& r : inspect::readers(s))
    if (r.state == layout::kSlotActive) w.readers.push_back(std::move(r));
  w.snap = inspect::snapshot(s);
  w.damage = ControlDamage(s, w.snap);
  w.mono_ns = shm::monotonic_ns();
  return w;
}

// Rates between two samples of one ring (none for the first).
struct WatchRates {
  std::optional<double> records_per_s, bytes_per_s;
};
WatchRates Rates(const WatchSample& now, const WatchSample* prev) {
  WatchRates r;
  // None where either sample's control block is damaged, or a count went back (a stray write
  // lowered the frontier within the tail's bound, which ControlDamage cannot tell): the unsigned
  // difference wrapped to about 1.8e19 a second until 2026-12-07 (a review).
  if (prev != nullptr && now.mono_ns > prev->mono_ns && now.damage == nullptr &&
      prev->damage == nullptr && now.snap.frontier >= prev->snap.frontier &&
      now.snap.frontier_index >= prev->snap.frontier_index) {
    const double dt = static_cast<double>(now.mono_ns - prev->mono_ns) / 1e9;
    r.records_per_s = static_cast<double>(now.snap.frontier_index - prev->snap.frontier_index) / dt;
    r.bytes_per_s = static_cast<double>(now.snap.frontier - prev->snap.frontier) / dt;
  }
  return r;
}

json::value RateJson(const std::optional<double>& v) {
  return v ? Decimal(*v) : json::value(nullptr);
}
std::string RateText(const std::optional<double>& v) {
  return v ? Fmt("%.0f", *v) : std::string("-");
}

// One ring's line; `named`: with several rings, the text line names its ring (JSON lines always
// do).
void PrintWatchLine(const WatchSample& now, const WatchSample* prev, bool json, bool named) {
  const auto [records_per_s, bytes_per_s] = Rates(now, prev);
  // (A damaged control block, ControlDamage: said on the line, no figures from it; before
  // 2026-12-05 in_flight wrapped to about 1.8e19 for a frontier above the tail.)
  const bool damaged = now.damage != nullptr;
  std::optional<std::uint64_t> in_flight;
  if (!damaged) in_flight = now.snap.tail - now.snap.frontier;
  std::optional<std::uint64_t> max_lag;
  std::vector<std::optional<std::uint64_t>> lags;
  for (const ReaderRow& r : now.readers) {
    if (damaged) {
      lags.emplace_back();
      continue;
    }
    const std::uint64_t lag = r.position <= now.snap.frontier ? now.snap.frontier - r.position : 0;
    lags.emplace_back(lag);
    max_lag = std::max(max_lag.value_or(0), lag);
  }
  const std::string stamp = IsoUtc(shm::realtime_ns());

  if (json) {
    json::array readers;
    for (std::size_t i = 0; i < now.readers.size(); ++i)
      readers.push_back(json::object{{"slot", now.readers[i].id},
                                     {"label", Printable(now.readers[i].label)},
                                     {"lag_bytes", OptJson(lags[i])}});
    json::object line{{"time", stamp},
                      {"name", now.name},
                      {"frontier", now.snap.frontier},
                      {"frontier_index", now.snap.frontier_index},
                      {"records_per_s", RateJson(records_per_s)},
                      {"bytes_per_s", RateJson(bytes_per_s)},
                      {"in_flight_bytes", OptJson(in_flight)},
                      {"max_lag_bytes", OptJson(max_lag)},
                      {"readers", std::move(readers)}};
    if (damaged) line["damaged"] = now.damage;
    PrintJson(line);
  } else {
    std::string line = stamp + (named ? "  " + now.name : std::string()) +
                       "  records/s=" + RateText(records_per_s) +
                       "  bytes/s=" + RateText(bytes_per_s) + "  in_flight=" + OptText(in_flight) +
                       "  max_lag=" + (max_lag ? U(*max_lag) : "-") +
                       (damaged ? "  DAMAGED(" + std::string(now.damage) + ")" : "");
    if (!now.readers.empty()) line += "  lag:";
    for (std::size_t i = 0; i < now.readers.size(); ++i) {
      const ReaderRow& r = now.readers[i];
      line += " r" + U(r.id) + (r.label.empty() ? "" : "(" + Printable(r.label) + ")") + "=" +
              OptText(lags[i]);
    }
    std::puts(line.c_str());
  }
  std::fflush(stdout);
}

// With several rings, each refresh ends with their sum: rates once every ring has one.
// (`prev[i]`: ring i's sample before, null for a ring with none: then the total has no rates.)
void PrintWatchTotal(const std::vector<WatchSample>& now,
                     const std::vector<const WatchSample*>& prev, bool json) {
  std::optional<double> records_per_s = 0.0, bytes_per_s = 0.0;
  std::optional<std::uint64_t> in_flight = 0;  // (none if a ring's control block is damaged)
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (now[i].damage != nullptr)
      in_flight.reset();
    else if (in_flight)
      *in_flight += now[i].snap.tail - now[i].snap.frontier;
    const WatchRates r = Rates(now[i], prev[i]);
    if (!r.records_per_s || !r.bytes_per_s) records_per_s = bytes_per_s = std::nullopt;
    if (!records_per_s) continue;
    *records_per_s += *r.records_per_s;
    *bytes_per_s += *r.bytes_per_s;
  }
  const std::string stamp = IsoUtc(shm::realtime_ns());
  if (json) {
    PrintJson(json::object{{"time", stamp},
                           {"total", true},
                           {"rings", now.size()},
                           {"records_per_s", RateJson(records_per_s)},
                           {"bytes_per_s", RateJson(bytes_per_s)},
                           {"in_flight_bytes", OptJson(in_flight)}});
  } else {
    std::puts((stamp + "  total(" + U(now.size()) +
               " rings)  records/s=" + RateText(records_per_s) +
               "  bytes/s=" + RateText(bytes_per_s) + "  in_flight=" + OptText(in_flight))
                  .c_str());
  }
  std::fflush(stdout);
}

// Sleeps until the absolute CLOCK_MONOTONIC time `until`, or until a stop signal.
void SleepUntil(const timespec& until) {
  while (g_stop == 0) {
    const int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
    if (rc != EINTR) return;
  }
}

// A ring watched by name (its segment still_named() while the name names the file it maps: one
// removed or made anew under the name is noticed; before, it was shown as it was, for ever).
struct Watched {
  std::string name;
  std::optional<shm::Segment> seg;
  std::optional<WatchSample> prev;
  std::uint64_t pending_since = 0;  // (a new ring not attachable yet: since when, monotonic)
};

// Whether each watched ring's name still names the ring attached; a line for each one removed (it
// leaves the watch) or replaced (the new one attached: its rates start again). A new ring still
// being created (not ready, or not sized yet) is said once and attached at a later refresh; one
// that cannot be attached within kPendingNs is said and leaves the watch. False when no ring is
// left.
constexpr std::uint64_t kPendingNs = 10'000'000'000ULL;  // (Segment::creator's "being created")
bool FollowNames(std::vector<Watched>& watched, const Options& o, bool named) {
  auto say = [&](const std::string& name, const std::string& what, const char* then) {
    const std::string stamp = IsoUtc(shm::realtime_ns());
    if (o.json)
      PrintJson(json::object{{"time", stamp}, {"name", name}, {"event", what}});
    else
      std::puts((stamp + (named ? "  " + name : std::string()) + "  " + what + then).c_str());
    std::fflush(stdout);
  };
  for (auto it = watched.begin(); it != watched.end();) {
    // (One stat: the name's file, whether it is the one mapped, and its size.)
    struct stat now {};
    const bool there = ::stat(shm::Segment::object_path(it->name).c_str(), &now) == 0;
    if (it->seg && there &&
        it->seg->is_file(static_cast<std::uint64_t>(now.st_dev),
                         static_cast<std::uint64_t>(now.st_ino))) {
      // Truncated under its name (someone's ftruncate or `truncate -s`): its pages past the new
      // end would be a SIGBUS at the next sample; said and no longer watched.
      const std::uint64_t whole = it->seg->segment_bytes();
      if (static_cast<std::uint64_t>(now.st_size) < whole) {
        say(it->name,
            "truncated (" + U(static_cast<std::uint64_t>(now.st_size)) + " of " + U(whole) +
                " bytes)",
            ": no longer watched");
        it = watched.erase(it);
        continue;
      }
      ++it;
      continue;
    }
    it->prev.reset();
    it->seg.reset();
    if (!there) {
      say(it->name, "removed", ": no longer watched");
      it = watched.erase(it);
      continue;
    }
    auto again = shm::Segment::attach(it->name, shm::AttachMode::read_only);
    if (again) {
      it->seg.emplace(std::move(again).value());
      it->pending_since = 0;
      say(it->name, "replaced", ": watching the new ring");
      ++it;
      continue;
    }
    const shm::Errc e = again.error().code;
    const std::uint64_t mono = shm::monotonic_ns();
    if ((e == shm::Errc::not_ready || e == shm::Errc::size_mismatch) &&
        (it->pending_since == 0 || mono - it->pending_since < kPendingNs)) {
      if (it->pending_since == 0) {
        it->pending_since = mono;
        say(it->name, "replaced, not ready yet", ": attached once it is");
      }
      ++it;
      continue;
    }
    say(it->name, "replaced by a ring that cannot be attached (" + again.error().message + ")",
        ": no longer watched");
    it = watched.erase(it);
  }
  return !watched.empty();
}

int CmdWatch(std::vector<Watched> watched, const Options& o) {
  // No SA_RESTART: a signal interrupts the sleep, and the loop exits cleanly with status 0.
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::uint64_t interval_ns = o.interval_ms * 1'000'000ULL;
  std::uint64_t next_ns = shm::monotonic_ns();
  const bool several = watched.size() > 1;
  for (std::uint64_t refreshes = 0; g_stop == 0;) {
    if (!FollowNames(watched, o, several)) {
      std::fprintf(stderr,
                   "shm-inspect: every ring watched was removed (or truncated, or replaced by one "
                   "that cannot be attached)\n");
      return kExitNotFound;
    }
    // (The rings attached; a new one still being created is sampled once it is.)
    std::vector<Watched*> live;
    std::vector<WatchSample> now;
    std::vector<const WatchSample*> prev;
    for (Watched& w : watched)
      if (w.seg) {
        live.push_back(&w);
        now.push_back(TakeSample(*w.seg));
        prev.push_back(w.prev ? &*w.prev : nullptr);
      }
    for (std::size_t i = 0; i < now.size(); ++i) PrintWatchLine(now[i], prev[i], o.json, several);
    if (several && !now.empty()) PrintWatchTotal(now, prev, o.json);
    for (std::size_t i = 0; i < now.size(); ++i) live[i]->prev = std::move(now[i]);
    // Its output gone (a full disk; a closed pipe with SIGPIPE ignored by the caller): stopped, not
    // looping on for ever writing nowhere (found in review, 2026-12-03).
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) return kExitSystem;
    // (--count counts refreshes that showed a ring: not one where every ring was being replaced.)
    if (o.count != 0 && !now.empty() && ++refreshes >= o.count) break;
    // Fixed-rate ticks; if we fell behind (suspended, slow terminal), start afresh from now.
    next_ns += interval_ns;
    const std::uint64_t mono = shm::monotonic_ns();
    if (next_ns < mono) next_ns = mono + interval_ns;
    const timespec until{static_cast<std::time_t>(next_ns / 1'000'000'000ULL),
                         static_cast<long>(next_ns % 1'000'000'000ULL)};
    SleepUntil(until);
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Command line and attach.

int ExitCodeFor(shm::Errc e);

// A ring's sidecar that is not there (only a cluster's shared ring has them): said, exit 0.
// Another failure: said, its exit status.
// `which`: the clusters that have one.
int SidecarMissing(const shm::Segment& s, const Options& o, const shm::Error& e, const char* key,
                   const char* what, const char* which) {
  if (e.code != shm::Errc::not_found) {
    std::fprintf(stderr, "shm-inspect: %s\n", e.message.c_str());
    return ExitCodeFor(e.code);
  }
  if (o.json)
    PrintJson(json::object{{"name", s.name()}, {key, nullptr}});
  else
    std::printf("ring %s: no %s (made only for the shared ring of a cluster started with %s)\n",
                s.name().c_str(), what, which);
  return kExitOk;
}

int CmdSessions(const shm::Segment& s, const Options& o) {
  auto r = shm::SessionStore::summarize(s.name(), s.header().creation_time_ns);
  if (!r) return SidecarMissing(s, o, r.error(), "sessions", "session table", "--recovery");
  const shm::SessionStore::Summary& t = r.value();
  const std::uint64_t now = shm::monotonic_ns();
  auto ago = [now](std::uint64_t at) { return at <= now ? (now - at) / 1'000'000 : 0; };
  if (o.json) {
    json::array deaths;
    for (const auto& d : t.deaths) deaths.push_back({{"pid", d.pid}, {"ago_ms", ago(d.at_ns)}});
    PrintJson(json::object{
        {"name", s.name()},
        {"sessions", json::object{{"object", shm::SessionStore::object_name(
                                                 s.name(), s.header().creation_time_ns)},
                                  {"slots", t.slots},
                                  {"slot_bytes", t.slot_bytes},
                                  {"handed_out", t.handed_out},
                                  {"entries", t.indexed},
                                  {"taken", t.taken},
                                  {"deaths", std::move(deaths)}}}});
    return kExitOk;
  }
  std::string last = "none";
  if (!t.deaths.empty())
    last = "pid " + U(t.deaths.back().pid) + ", " + U(ago(t.deaths.back().at_ns)) + " ms ago";
  PrintPairs({
      {"ring", s.name()},
      {"session table",
       "/dev/shm/" + shm::SessionStore::object_name(s.name(), s.header().creation_time_ns)},
      {"slots", U(t.slots) + " x " + U(t.slot_bytes) + " B (" +
                    HumanBytes(std::uint64_t{t.slots} * t.slot_bytes) + ")"},
      {"handed out", U(t.handed_out) + " (slots used at least once)"},
      {"entries", U(t.indexed) + " (saved sessions a recovery can find, counted without locks)"},
      {"taken", U(t.taken) + " (by a live worker admitting their sockets)"},
      {"deaths noted", U(t.deaths.size()) + " (last: " + last + ")"},
  });
  return kExitOk;
}

// The tags the cluster writes (Node::Impl::CutTag, server/cluster/src/node_impl.hpp; the cut log
// itself gives them no meaning).
const char* CutTagText(std::uint32_t tag) {
  switch (tag) {
    case 1:
      return "batch";
    case 2:
      return "replay-from";
    case 3:
      return "replay-to";
    case 4:
      return "session-start";
  }
  return "?";
}

int CmdCuts(const shm::Segment& s, const Options& o) {
  auto r = shm::CutLog::summarize(s.name(), s.header().creation_time_ns);
  if (!r)
    return SidecarMissing(s, o, r.error(), "cuts", "cut logs", "--recovery and --ring-per-worker");
  const shm::CutLog::Summary& t = r.value();
  auto held = [&t](std::uint64_t next) { return std::min<std::uint64_t>(next, t.entries); };
  if (o.json) {
    json::array logs;
    for (std::size_t i = 0; i < t.per_log.size(); ++i) {
      const auto& l = t.per_log[i];
      json::object e{{"worker", i}, {"next", l.next}, {"held", held(l.next)}};
      if (l.last) {
        json::array cut;
        for (std::uint64_t p : l.last->cut) cut.push_back(p);
        e["last"] = json::object{{"tag", CutTagText(l.last->tag)}, {"cut", std::move(cut)}};
      } else {
        e["last"] = nullptr;
      }
      logs.push_back(std::move(e));
    }
    PrintJson(json::object{{"name", s.name()},
                           {"cuts", json::object{{"logs", t.logs},
                                                 {"columns", t.columns},
                                                 {"entries", t.entries},
                                                 {"per_worker", std::move(logs)}}}});
    return kExitOk;
  }
  std::printf(
      "ring %s: %u cut logs (one per worker), %u entries each, %u columns (the workers' "
      "rings, then the shared ring)\n",
      s.name().c_str(), t.logs, t.entries, t.columns);
  std::printf("%-7s %12s %10s  %-12s %s\n", "worker", "entries", "held", "last", "its cut");
  for (std::size_t i = 0; i < t.per_log.size(); ++i) {
    const auto& l = t.per_log[i];
    std::string cut;
    for (std::uint64_t p : l.last ? l.last->cut : std::vector<std::uint64_t>{})
      cut += (cut.empty() ? "" : " ") + U(p);
    std::printf("%-7zu %12s %10s  %-12s %s\n", i, U(l.next).c_str(), U(held(l.next)).c_str(),
                l.last ? CutTagText(l.last->tag) : "-", cut.empty() ? "-" : cut.c_str());
  }
  return kExitOk;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "shm-inspect: %s (see shm-inspect --help)\n", message.c_str());
  return kExitUsage;
}

bool ParseNumber(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return false;
  out = v;
  return true;
}

// Parses argv into `o`. Returns -1 to go on, or an exit status (help printed, usage error).
int ParseArgs(int argc, char** argv, Options& o) {
  bool seen_last = false, seen_interval = false, seen_count = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_inline_value = true;
      }
    }
    // Fetches the option's value: "--opt=value" or "--opt value". An option where the value
    // should be is the value left out, said (before 2026-12-07 `--name --json stat` looked for a
    // ring named "--json"; "--name=--json" still names it).
    std::string missing;  // (" (--json is an option)")
    auto take_value = [&]() -> bool {
      if (has_inline_value) return true;
      if (i + 1 >= argc) return false;
      if (std::strncmp(argv[i + 1], "--", 2) == 0) {
        missing = " (" + Printable(argv[i + 1]) + " is an option)";
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--json") {
      if (has_inline_value) return Usage("--json takes no value");
      o.json = true;
    } else if (arg == "--name") {
      if (!take_value() || value.empty())
        return Usage("--name needs a ring name or pattern" + missing);
      o.names.push_back(value);
    } else if (arg == "--last") {
      if (!take_value() || !ParseNumber(value, 1, 100'000, o.last))
        return Usage("--last needs a number of records, 1..100000" + missing);
      seen_last = true;
    } else if (arg == "--interval") {
      if (!take_value() || !ParseNumber(value, 10, 3'600'000, o.interval_ms))
        return Usage("--interval needs milliseconds, 10..3600000" + missing);
      seen_interval = true;
    } else if (arg == "--count") {
      if (!take_value() || !ParseNumber(value, 1, UINT32_MAX, o.count))
        return Usage("--count needs a number of refreshes, 1..4294967295" + missing);
      seen_count = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage("unknown option '" + Printable(arg) + "'");
    } else if (o.command.empty()) {
      o.command = arg;
    } else {
      return Usage("unexpected argument '" + Printable(arg) + "'");
    }
  }
  static constexpr std::string_view kCommands[] = {"list", "stat",  "readers",  "producers",
                                                   "dump", "watch", "sessions", "cuts"};
  if (o.command.empty()) return Usage("missing command");
  if (std::find(std::begin(kCommands), std::end(kCommands), o.command) == std::end(kCommands))
    return Usage("unknown command '" + Printable(o.command) + "'");
  if (seen_last && o.command != "dump") return Usage("--last applies to dump only");
  if ((seen_interval || seen_count) && o.command != "watch")
    return Usage("--interval and --count apply to watch only");
  if (!o.names.empty() && o.command == "list") return Usage("list takes no --name");
  if (o.names.empty() && o.command != "list") {  // (as shmio names its ring; list takes none)
    const char* ring = std::getenv("SHMIO_RING");
    const char* port = std::getenv("SHMIO_PORT");
    // (Set but empty: refused, as shmio refuses it; until 2026-12-05 read as unset here.)
    if (ring != nullptr && *ring == '\0')
      return Usage("SHMIO_RING is empty (name a ring, or unset it)");
    if (port != nullptr && *port == '\0')
      return Usage("SHMIO_PORT is empty (a port number, 1..65535, or unset it)");
    if (ring == nullptr && port != nullptr) {
      // (Read as a number, as shmio reads it: "047020" names ring port-47020 there.)
      std::uint64_t n = 0;
      if (!ParseNumber(port, 1, 65535, n))
        return Usage("SHMIO_PORT must be a port number, 1..65535 (got '" + Printable(port) + "')");
      o.names.push_back("port-" + std::to_string(n));
    } else if (ring != nullptr) {
      // (A ring's name, not a pattern: said as the variable's, as SHMIO_PORT's.)
      if (auto ok = shm::Segment::validate_name(ring); !ok)
        return Usage("SHMIO_RING: " + ok.error().message);
      o.names.emplace_back(ring);
    } else {
      o.names.emplace_back("port-3000");
    }
  }
  return -1;
}

int ExitCodeFor(shm::Errc e) {
  switch (e) {
    case shm::Errc::not_found:
      return kExitNotFound;
    case shm::Errc::version_mismatch:
      return kExitVersion;
    case shm::Errc::permission_denied:
      return kExitPermission;
    case shm::Errc::foreign_segment:
    case shm::Errc::size_mismatch:
    case shm::Errc::not_ready:
      return kExitCorrupt;
    case shm::Errc::invalid_argument:
      return kExitUsage;  // a malformed ring name
    default:
      return kExitSystem;
  }
}

bool IsPattern(std::string_view name) {
  return name.find_first_of("*?[") != std::string_view::npos;
}

// The rings `given` names: each name as it is, each pattern as every ring in /dev/shm that
// matches it (in name order; none is an error); a ring named twice, once. Returns -1, or the exit
// status of an error it printed.
int ResolveNames(const std::vector<std::string>& given, std::vector<std::string>& out) {
  std::vector<std::string> present;
  bool listed = false;
  auto add = [&out](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (const std::string& g : given) {
    if (!IsPattern(g)) {
      add(g);
      continue;
    }
    if (!listed) {
      for (const shm::SegmentInfo& r : shm::Segment::list())
        if (shm::Segment::validate_name(r.name)) present.push_back(r.name);
      std::sort(present.begin(), present.end());
      listed = true;
    }
    bool matched = false;
    for (const std::string& name : present) {
      if (::fnmatch(g.c_str(), name.c_str(), 0) != 0) continue;
      add(name);
      matched = true;
    }
    if (!matched) {
      std::fprintf(stderr,
                   "shm-inspect: no ring matches '%s' (`shm-inspect list` shows the rings)\n",
                   Printable(g).c_str());
      return kExitNotFound;
    }
  }
  return -1;
}

}  // namespace

namespace {
// The status, or kExitSystem when what was printed could not all be written (a full disk; a
// closed pipe too where the caller left SIGPIPE ignored): a script must not take lost output for
// an answer.
int Written(int status) {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return status;
  std::fprintf(stderr, "shm-inspect: cannot write the output: %s\n", std::strerror(errno));
  return status == kExitOk ? kExitSystem : status;
}
int Run(int argc, char** argv);
}  // namespace

int main(int argc, char** argv) {
  return Written(Run(argc, argv));
}

namespace {
int Run(int argc, char** argv) {
  Options o;
  if (const int rc = ParseArgs(argc, argv, o); rc >= 0) return rc;
  if (o.command == "list") return CmdList(o);
  // (Line-buffered: what was printed before a SIGBUS, for the rings before it, is out already.)
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  struct sigaction bus {};
  bus.sa_handler = OnBusError;
  sigemptyset(&bus.sa_mask);
  sigaction(SIGBUS, &bus, nullptr);

  std::vector<std::string> names;
  if (const int rc = ResolveNames(o.names, names); rc >= 0) return rc;
  o.names = names;
  // Every ring attached before anything is printed.
  std::vector<shm::Segment> rings;
  for (const std::string& name : names) {
    auto attached = shm::Segment::attach(name, shm::AttachMode::read_only);
    if (!attached) {
      const shm::Error& err = attached.error();
      std::string message = err.message;
      if (err.code == shm::Errc::not_found && message.find("shm-inspect list") == std::string::npos)
        message += " (`shm-inspect list` shows the rings)";
      std::fprintf(stderr, "shm-inspect: %s\n", message.c_str());
      return ExitCodeFor(err.code);
    }
    rings.push_back(std::move(attached).value());
  }
  if (o.command == "watch") {
    std::vector<Watched> watched;
    for (std::size_t i = 0; i < rings.size(); ++i)
      watched.push_back(Watched{names[i], std::move(rings[i]), std::nullopt, 0});
    return CmdWatch(std::move(watched), o);
  }
  int status = kExitOk;
  for (std::size_t i = 0; i < rings.size(); ++i) {
    // (Tables: a blank line between rings; JSON: one object per ring, one per line.)
    if (i > 0 && !o.json) std::puts("");
    const shm::Segment& s = rings[i];
    int rc = kExitOk;
    // (stat and dump walk from the tail's lap to the frontier: a frontier above the tail, which
    // the protocol never allows, is a control block damaged by a stray write, and the walk would
    // go on for hours; before 2026-12-04 they hung on it.)
    if (o.command == "stat" || o.command == "dump") {
      const RingSnapshot snap = inspect::snapshot(s);
      if (const char* why = ControlDamage(s, snap)) {
        SayDamage(names[i], snap, why, "");
        if (status == kExitOk) status = kExitCorrupt;
        continue;
      }
    }
    if (o.command == "stat") rc = CmdStat(s, o);
    if (o.command == "readers") rc = CmdReaders(s, o);
    if (o.command == "producers") rc = CmdProducers(s, o);
    if (o.command == "dump") rc = CmdDump(s, o);
    if (o.command == "sessions") rc = CmdSessions(s, o);
    if (o.command == "cuts") rc = CmdCuts(s, o);
    if (status == kExitOk) status = rc;  // the first ring's failure (dump: lapped twice)
  }
  return status;
}
}  // namespace
