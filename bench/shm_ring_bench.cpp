// shm_ring_bench: microbenchmarks of the shared-memory broadcast ring and of its baselines, all
// measured in the same run, followed by a "ratios" block computed from that run.
//
//   shm_ring_bench [--cpus=0,1] [--shapes=1p1r,4p4r] [--quick] [Google Benchmark flags...]
//
//   --cpus=LIST  CPUs to pin to ("0,1", "0-3"); default: the CPUs of the affinity mask.
//                Producers, readers and threads pin themselves round-robin over the list, in
//                the order producers, then readers (participant k -> LIST[k % size]).
//   --shapes=L   the producer/reader shapes of ring_xproc (default 1p1r,2p2r,1p2r,1p4r,1p8r,
//                2p1r,4p1r;
//                e.g. 8p8r,1p15r,15p1r on a 16-core machine). Each P and R from 1 to 64.
//   --quick      much smaller counts, for CI smoke runs (the whole binary in well under 30 s).
//
// Benchmarks (names are what --benchmark_filter matches):
//   ring_publish/<size>[/ring=<bytes>[/exclusive|/stale_waiter]|/huge]
//                                  one thread publishes (no reader): items/s and bytes/s; with
//                                  ring=: a cache-sized ring (256 KiB, 1 MiB) instead of 64 MiB;
//                                  huge: on transparent huge pages where the kernel grants them
//                                  (huge_MiB: how much it granted); exclusive: a ring made for
//                                  one producer (RingConfig::exclusive_producer).
//                                  stale_waiter: the ring counting a waiter that is gone
//                                  (one killed while it waited: a futile wake per commit).
//   ring_publish_latency/64B/ring=<bytes>/<prefaulted|lazy|huge>
//                                  each publish timed alone over up to 3 laps of the ring: p50,
//                                  p99, p99.9, max (ns, the clock's own cost, clock_ns, inside),
//                                  the ring pre-faulted at creation or touched lazily, or
//                                  pre-faulted on huge pages where granted (huge_MiB).
//   ring_xproc/<P>p<R>r/<size>/<mode>
//                                  P producer processes -> R reader processes (fork), a fixed
//                                  record count per iteration; Time = wall time from the first
//                                  publish to the last record read by every reader.
//                                  items_per_second and bytes_per_second: delivered per reader;
//                                  rec_total/s, B_total/s: all readers together; pub_rec/s: the
//                                  producers' publish rate; lost, laps: records lost to laps and
//                                  times lapped, per reader and iteration; lost_pct: lost share
//                                  of what was published. Every reader checks that received +
//                                  lost == published and that sequence numbers never go back.
//                                  mode: poll = RingReader::poll (copy-out); peek = zero-copy
//                                  peek()/consume() reading only the 8-byte sequence number.
//   ring_latency/<busy|parked>[/exclusive]
//                                  one-way publish -> read latency between two processes, paced
//                                  sends; the Time column is the p50, counters the percentiles
//                                  (publish_p50_ns: the producer's send-to-commit part);
//                                  exclusive: through a ring made for one producer;
//                                  exclusive_fenced (parked): one made with fenced commits.
//   ring_latency/notifier/<exclusive/rings=<1|4>|shared/rings=1>/<thread|io_uring>
//                                  the same, the reader parked in poll(2) on one RingNotifier
//                                  (waiting by its thread, or by an io_uring futex wait where the
//                                  kernel has one) over 1 or 4 rings made for one producer, or
//                                  one shared ring (1 MiB each), the producer publishing to them
//                                  in turn; reader_cpu_ns: the reader's process's CPU time (user
//                                  + system, all its threads: the notifier's too) per record.
//   ring_read/64B/ring=1MiB[/exclusive][/peek], base_moodycamel_read/64B
//                                  one thread taking 512 records out of a ring (by poll(), or
//                                  by peek() and consume(), as the cluster's workers read) / a
//                                  moodycamel queue, in the cache: each reader's own cost per
//                                  record.
//   base_moodycamel_1p1c/64B[/pool=1MiB]
//                                  moodycamel::ConcurrentQueue, 2 threads of one process (initial
//                                  pool 4 MiB, or 1 MiB: a 1 MiB ring's footprint).
//   base_claim_seal_1p1c/64B/ring=1MiB/{locked_frontier,locked,plain}  1P -> 1R's skeleton
//                                  without the ring's bookkeeping: a locked claim and the
//                                  frontier's CAS (the shared ring's two locked instructions), a
//                                  locked claim, or neither (two threads).
//   ring_xproc/1p1r/64B/poll/ring=<bytes>  1P -> 1R with a cache-sized ring.
//   ring_xproc/1p1r/64B/poll[/ring=1MiB]/exclusive, .../ring=1MiB/exclusive_fenced
//                                  1P -> 1R through a ring made for one producer (exclusive;
//                                  exclusive_fenced: with fenced commits).
//                                  (A 64 B record is one 64-byte line since layout version 5,
//                                  as a moodycamel item is: the header is beside the seal.)
//   ring_xproc/1p1r/64B/poll/huge  1P -> 1R, the 64 MiB ring on huge pages where granted.
//   ring_xproc/<P>p<R>r/64B/poll/ring_per_producer
//                                  the shapes with P >= 2, each producer with a 64 MiB ring of its
//                                  own made for one producer, every reader reading all of them in
//                                  turn with a RingSetReader (docs/ring-per-worker.md's shape).
//   base_boost_mq/<size>           boost::interprocess::message_queue between 2 processes.
//   base_pingpong                  a cache line bounced between two processes: latency floor.
//   base_clock_read                one CLOCK_MONOTONIC read (about one is inside each one-way).
//   base_oneway_line               ring_latency/busy's paced, clocked message through one line.
//   base_moodycamel_latency/busy   the same message through moodycamel (two threads, 64 B items):
//                                  the throughput baseline's one-way p50 beside the ring's.
//   base_memcpy/<what>             memcpy bandwidth: throughput floor.
//
// Every multi-process benchmark creates its segment in the parent, forks its children (which
// re-attach by name and _exit() at the end), synchronises their start with a pipe plus a futex
// flag, takes timestamps in the children (CLOCK_MONOTONIC is system-wide) and reports through an
// anonymous shared mapping. A child that fails or hangs fails the benchmark (SkipWithError).
#include <benchmark/benchmark.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_util.hpp"
// moodycamel (the include directory comes from CMake). GCC 12 -O3 reports a potential null
// dereference deep in its inlined dequeue path (a false positive in a third-party header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "concurrentqueue.h"
#pragma GCC diagnostic pop
#include "shmio/shm/ring.hpp"

namespace {

namespace bip = boost::interprocess;
namespace sb = shmio::bench;
using shmio::shm::BatchRecord;
using shmio::shm::NotifierMode;
using shmio::shm::PublishStatus;
using shmio::shm::ReaderOptions;
using shmio::shm::RecordView;
using shmio::shm::RingConfig;
using shmio::shm::RingNotifier;
using shmio::shm::RingReader;
using shmio::shm::RingSetReader;
using shmio::shm::RingWriter;
using shmio::shm::Segment;
using shmio::shm::StartAt;
using shmio::shm::WriterOptions;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kRingBytes = 64 * kMiB;  // every ring of this binary
constexpr std::uint64_t kNs = 1'000'000'000ULL;

bool g_quick = false;  // --quick

struct Shape {
  int producers, readers;
};
// --shapes: ring_xproc's producer/reader counts.
std::vector<Shape> g_shapes{{1, 1}, {2, 2}, {1, 2}, {1, 4}, {1, 8}, {2, 1}, {4, 1}};

// "1p1r,4p4r" -> shapes; an error message, or "" when every item is NpMr with 1 <= N, M <= 64.
std::string parse_shapes(std::string_view text, std::vector<Shape>& out) {
  out.clear();
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    int p = 0, r = 0;
    char tail = 0;
    const std::string copy(item);
    if (std::sscanf(copy.c_str(), "%dp%dr%c", &p, &r, &tail) != 2 || p < 1 || p > 64 || r < 1 ||
        r > 64) {
      return "'" + copy + "' is not PpRr with 1 <= P, R <= 64 (e.g. 4p4r)";
    }
    out.push_back(Shape{p, r});
  }
  if (out.empty()) return "no shape given";
  return "";
}

// Full or --quick value.
template <class T>
T scaled(T full, T quick) {
  return g_quick ? quick : full;
}

std::string size_name(std::size_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes) + "B";
}

// "5 procs on 2 cpus: cores shared" when participants outnumber the CPUs of --cpus.
std::string sharing_label(std::size_t participants, const char* what) {
  if (!sb::oversubscribed(participants)) return {};
  return std::to_string(participants) + " " + what + " on " +
         std::to_string(sb::cpu_list().size()) + " cpus: cores shared";
}

// Releases the children once all are ready and waits for them; on any failure marks the benchmark
// skipped with the children's messages and returns false.
bool run_children(sb::ChildGroup& group, benchmark::State& state) {
  std::string error;
  if (!group.wait_ready(&error)) {
    group.abort();
    const std::string more = group.reap();
    state.SkipWithError((error + (more.empty() ? "" : "; " + more)).c_str());
    return false;
  }
  group.start();
  error = group.reap();
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return false;
  }
  return true;
}

// Runs a benchmark body, turning an exception into SkipWithError.
template <class Fn>
void guarded(benchmark::State& state, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Names of shared-memory objects this process created, unlinked if it is interrupted (Ctrl-C),
// so that an aborted run does not leave 64 MiB segments in /dev/shm.

constexpr std::size_t kMaxLive = 4;
char g_live_objects[kMaxLive][256];

extern "C" void unlink_live_and_die(int sig) {
  for (auto& obj : g_live_objects)
    if (obj[0] != '\0') ::shm_unlink(obj);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Registers an object name ("/shmio.x" or "/x") for the lifetime of this guard.
class LiveObject {
 public:
  explicit LiveObject(const std::string& object) {
    for (std::size_t i = 0; i < kMaxLive; ++i) {
      if (g_live_objects[i][0] != '\0') continue;
      std::snprintf(g_live_objects[i], sizeof g_live_objects[i], "%s", object.c_str());
      slot_ = static_cast<int>(i);
      return;
    }
  }
  ~LiveObject() {
    if (slot_ >= 0) g_live_objects[slot_][0] = '\0';
  }
  LiveObject(const LiveObject&) = delete;
  LiveObject& operator=(const LiveObject&) = delete;

 private:
  int slot_ = -1;
};

std::string unique_name(const char* what) {
  static int seq = 0;
  return std::string("bench-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(seq++);
}

// A ring (64 MiB unless told) created for one benchmark run and removed afterwards; `populate`:
// pre-faulted at creation (the default, RingConfig::populate), or touched lazily.
class BenchRing {
 public:
  explicit BenchRing(const char* what, std::uint64_t capacity = kRingBytes, bool populate = true,
                     bool huge_pages = false, bool exclusive_producer = false,
                     bool fenced_commits = false)
      : name_(unique_name(what)), live_("/" + Segment::object_name(name_)) {
    RingConfig config;
    config.name = name_;
    config.capacity = capacity;
    config.populate = populate;
    config.huge_pages = huge_pages;
    config.exclusive_producer = exclusive_producer;
    config.fenced_commits = fenced_commits;
    config.max_producers = 64;
    config.max_readers = 64;
    auto s = Segment::create(config);
    if (!s) throw std::runtime_error("Segment::create(" + name_ + "): " + s.error().message);
    segment_ = std::make_unique<Segment>(std::move(s).value());
  }
  ~BenchRing() {
    segment_.reset();
    (void)Segment::remove(name_);
  }
  BenchRing(const BenchRing&) = delete;
  BenchRing& operator=(const BenchRing&) = delete;

  const std::string& name() const { return name_; }
  const Segment& segment() const { return *segment_; }

 private:
  std::string name_;
  LiveObject live_;
  std::unique_ptr<Segment> segment_;
};

// In a child: attaches the named segment again (a child never uses the parent's writers or
// readers). Returns nullptr and fills `error` on failure.
std::unique_ptr<Segment> attach_in_child(const std::string& name, std::string& error) {
  auto s = Segment::attach(name);
  if (!s) {
    error = "Segment::attach: " + s.error().message;
    return nullptr;
  }
  return std::make_unique<Segment>(std::move(s).value());
}

// Spin-wait hint: pause, and give the CPU away now and then if it is shared with other busy
// participants (otherwise a spinner would steal whole time slices from the process it waits for).
class IdleSpinner {
 public:
  explicit IdleSpinner(bool shared_cpu) : shared_cpu_(shared_cpu) {}
  void idle() noexcept {
    if (shared_cpu_ && (++spins_ & 63) == 0) {
      ::sched_yield();
    } else {
      shmio::shm::core::cpu_relax();
    }
  }

 private:
  bool shared_cpu_;
  std::uint64_t spins_ = 0;
};

// Detects a reader that stopped making progress (its producer died): call tick() when idle.
class Watchdog {
 public:
  // Reads the clock every `stride` ticks.
  explicit Watchdog(std::uint64_t stride = 4096, std::uint64_t limit_ns = 20 * kNs)
      : stride_(stride), limit_ns_(limit_ns) {}
  // Returns false once `progress` has not changed for the limit.
  bool tick(std::uint64_t progress) noexcept {
    if (++calls_ % stride_ != 0) return true;
    const std::uint64_t now = sb::now_ns();
    if (progress != last_progress_ || since_ == 0) {
      last_progress_ = progress;
      since_ = now;
      return true;
    }
    return now - since_ < limit_ns_;
  }

 private:
  std::uint64_t stride_;
  std::uint64_t limit_ns_;
  std::uint64_t calls_ = 0;
  std::uint64_t last_progress_ = 0;
  std::uint64_t since_ = 0;
};

// ---------------------------------------------------------------------------------------------
// ring_publish: one thread, no reader.

void BM_RingPublish(benchmark::State& state, std::size_t size, std::uint64_t ring_bytes,
                    bool huge_pages, std::size_t batch, bool exclusive, bool stale_waiter) {
  guarded(state, [&] {
    const int cpu = sb::cpu_for(0);
    sb::ScopedPin pin(cpu);
    BenchRing ring("pub", ring_bytes, true, huge_pages, exclusive);
    // (huge pages are the kernel's to grant: what it granted, in MiB)
    if (huge_pages)
      state.counters["huge_MiB"] = static_cast<double>(ring.segment().huge_page_bytes() >> 20);
    auto writer = RingWriter::attach(ring.segment(), WriterOptions{"bench-publish", cpu});
    if (!writer) throw std::runtime_error("RingWriter::attach: " + writer.error().message);
    std::vector<std::byte> payload(size, std::byte{0x5a});
    // batch > 1: each iteration is one publish_batch of `batch` records (one claim, one
    // frontier move); the items are the records.
    std::vector<BatchRecord> records(batch, BatchRecord{1, payload});
    // stale_waiter: the ring counts one waiter that is not there, as one killed while it waited
    // leaves it unless its slot takes it back (docs/ring.md "Dead waiters"): each commit then
    // makes a FUTEX_WAKE that wakes no one.
    if (stale_waiter) ring.segment().control().wake.waiters.store(1);
    for (auto _ : state) {
      const PublishStatus st =
          batch == 1 ? writer->publish(1, payload) : writer->publish_batch(records);
      if (st != PublishStatus::ok) {
        state.SkipWithError(shmio::shm::to_string(st));
        break;
      }
    }
    if (stale_waiter) ring.segment().control().wake.waiters.store(0);
    const auto items = state.iterations() * static_cast<std::int64_t>(batch);
    state.SetItemsProcessed(items);
    state.SetBytesProcessed(items * static_cast<std::int64_t>(size));
  });
}

// ring_publish_latency: one thread publishes 64 B records (no reader), each publish timed alone
// (CLOCK_MONOTONIC around it: the clock's own cost, measured and given as clock_ns, is inside
// every figure), over several laps of the ring; the percentiles show the tail: a page fault on a
// lazily touched ring, a cache miss on every new line of a ring larger than the cache.
struct PublishLatencyConfig {
  std::uint64_t ring_bytes;
  bool populate;
  std::uint64_t records;
  bool huge_pages = false;  // pre-faulted on transparent huge pages where granted (huge_MiB)
};

void BM_RingPublishLatency(benchmark::State& state, PublishLatencyConfig cfg) {
  guarded(state, [&] {
    const int cpu = sb::cpu_for(0);
    sb::ScopedPin pin(cpu);
    std::vector<std::uint32_t> ns(cfg.records);
    std::uint64_t clock_ns = 0;
    for (auto _ : state) {
      BenchRing ring("publat", cfg.ring_bytes, cfg.populate, cfg.huge_pages);
      if (cfg.huge_pages)
        state.counters["huge_MiB"] = static_cast<double>(ring.segment().huge_page_bytes() >> 20);
      auto writer = RingWriter::attach(ring.segment(), WriterOptions{"bench-publat", cpu});
      if (!writer) throw std::runtime_error("RingWriter::attach: " + writer.error().message);
      std::array<std::byte, 64> payload{};
      // The clock's cost alone, the same way.
      std::uint64_t c0 = sb::now_ns(), c_min = ~0ULL;
      for (int i = 0; i < 1000; ++i) {
        const std::uint64_t c1 = sb::now_ns();
        c_min = std::min(c_min, c1 - c0);
        c0 = c1;
      }
      clock_ns = c_min;
      const std::uint64_t t_start = sb::now_ns();
      for (std::uint64_t i = 0; i < cfg.records; ++i) {
        const std::uint64_t t0 = sb::now_ns();
        if (writer->publish(1, payload) != PublishStatus::ok) {
          state.SkipWithError("publish failed");
          return;
        }
        ns[i] = static_cast<std::uint32_t>(std::min<std::uint64_t>(sb::now_ns() - t0, ~0U));
      }
      state.SetIterationTime(static_cast<double>(sb::now_ns() - t_start) / 1e9);
    }
    std::sort(ns.begin(), ns.end());
    auto pct = [&](double p) {
      return static_cast<double>(ns[std::min(
          ns.size() - 1, static_cast<std::size_t>(p * static_cast<double>(ns.size())))]);
    };
    state.counters["p50_ns"] = pct(0.50);
    state.counters["p99_ns"] = pct(0.99);
    state.counters["p999_ns"] = pct(0.999);
    state.counters["max_ns"] = static_cast<double>(ns.back());
    state.counters["clock_ns"] = static_cast<double>(clock_ns);
    state.counters["laps"] = static_cast<double>(cfg.records * shmio::shm::layout::footprint(64)) /
                             static_cast<double>(cfg.ring_bytes);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(cfg.records));
  });
}

// ---------------------------------------------------------------------------------------------
// ring_xproc: P producer processes -> R reader processes.

struct XprocConfig {
  int producers;
  int readers;
  std::size_t size;
  bool zero_copy;         // peek/consume instead of poll
  std::uint64_t records;  // per iteration, all producers together (a multiple of producers)
  std::uint64_t ring_bytes = kRingBytes;
  std::size_t batch = 1;    // records per publish_batch (1: publish)
  bool huge_pages = false;  // the ring on transparent huge pages where granted (huge_MiB)
  bool exclusive = false;   // RingConfig::exclusive_producer (one producer)
  bool fenced = false;      // RingConfig::fenced_commits (with exclusive)
  // Each producer its own ring, made for one producer (exclusive), each reader reading all of
  // them in turn (poll only): the shape of docs/ring-per-worker.md, beside one shared ring.
  bool ring_per_producer = false;
};

// What each child reports (one per child, in a shared mapping).
struct alignas(64) ChildReport {
  std::uint64_t t_first = 0;  // producer: just before its first publish
  std::uint64_t t_last = 0;   // producer: after its last publish; reader: after its last record
  std::uint64_t records = 0;  // published / received
  std::uint64_t bytes = 0;    // payload bytes published / received
  std::uint64_t lost = 0;     // reader: records lost to laps
  std::uint64_t laps = 0;     // reader: times it was lapped
  std::uint64_t cpu_ns = 0;   // latency rows: the process's CPU time over the run
};

constexpr std::size_t kSeqBytes = sizeof(std::uint64_t);  // payload starts with a sequence no.

int xproc_producer(sb::ChildContext& ctx, const std::string& ring, const XprocConfig& cfg,
                   int index, ChildReport& out) {
  const int cpu = sb::cpu_for(static_cast<std::size_t>(index));
  if (!sb::pin_to_cpu(cpu)) return ctx.fail("sched_setaffinity failed");
  std::string error;
  auto segment = attach_in_child(ring, error);
  if (!segment) return ctx.fail(error);
  auto writer = RingWriter::attach(*segment, WriterOptions{"bench-p" + std::to_string(index), cpu});
  if (!writer) return ctx.fail("RingWriter::attach: " + writer.error().message);
  std::vector<std::byte> payload(cfg.size, std::byte{0x5a});
  const std::uint64_t n = cfg.records / static_cast<std::uint64_t>(cfg.producers);
  const auto type = static_cast<std::uint16_t>(index);  // the reader checks order per type
  if (!ctx.ready_and_wait()) return 0;

  // Batches: cfg.batch payloads, each with its own sequence number, published with one call.
  std::vector<std::vector<std::byte>> payloads(cfg.batch, payload);
  std::vector<BatchRecord> batch(cfg.batch);
  out.t_first = sb::now_ns();
  for (std::uint64_t seq = 0; seq < n;) {
    PublishStatus st;
    if (cfg.batch == 1) {
      std::memcpy(payload.data(), &seq, kSeqBytes);
      st = writer->publish(type, payload);
      ++seq;
    } else {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(cfg.batch, n - seq));
      for (std::size_t i = 0; i < k; ++i, ++seq) {
        std::memcpy(payloads[i].data(), &seq, kSeqBytes);
        batch[i] = {type, payloads[i]};
      }
      st = writer->publish_batch({batch.data(), k});
    }
    if (st != PublishStatus::ok) return ctx.fail(std::string("publish: ") + to_string(st));
  }
  out.t_last = sb::now_ns();
  out.records = n;
  out.bytes = n * cfg.size;
  return 0;
}

int xproc_reader(sb::ChildContext& ctx, const std::vector<std::string>& rings,
                 const XprocConfig& cfg, int participant, ChildReport& out) {
  const int cpu = sb::cpu_for(static_cast<std::size_t>(participant));
  if (!sb::pin_to_cpu(cpu)) return ctx.fail("sched_setaffinity failed");
  std::string error;
  // One ring, or one per producer (read in turn).
  std::vector<std::unique_ptr<Segment>> segments;
  std::vector<const Segment*> set;
  for (const std::string& ring : rings) {
    segments.push_back(attach_in_child(ring, error));
    if (!segments.back()) return ctx.fail(error);
    set.push_back(segments.back().get());
  }
  // StartAt::latest, attached before any producer starts: sees every record of this iteration.
  // Several rings: one RingSetReader over them (it reads them in turn).
  const ReaderOptions options{"bench-r" + std::to_string(participant), cpu, StartAt::latest};
  std::vector<RingReader> readers;  // one ring
  std::optional<RingSetReader> readers_set;
  if (set.size() > 1) {
    auto r = RingSetReader::attach(set, options);
    if (!r) return ctx.fail("RingSetReader::attach: " + r.error().message);
    readers_set.emplace(std::move(r).value());
  } else {
    auto r = RingReader::attach(*set.front(), options);
    if (!r) return ctx.fail("RingReader::attach: " + r.error().message);
    readers.push_back(std::move(r).value());
  }
  RingReader* const reader = readers_set ? &readers_set->reader(0) : &readers.front();

  // What the producers publish: each cfg.records / producers (the remainder is not sent).
  const auto producers = static_cast<std::uint64_t>(cfg.producers);
  const std::uint64_t expected = cfg.records / producers * producers;
  std::array<std::uint64_t, 64> next_seq{};  // per producer: the lowest sequence still allowed
  std::uint64_t received = 0, bytes = 0, bad = 0;
  // Records arrive in order per producer; with losses some sequence numbers are skipped, but a
  // sequence number must never go backwards or repeat.
  auto check = [&](std::uint16_t type, std::uint64_t seq, std::size_t size) {
    if (type >= cfg.producers || size != cfg.size || seq < next_seq[type]) {
      ++bad;
    } else {
      next_seq[type] = seq + 1;
    }
    ++received;
    bytes += size;
  };
  auto on_record = [&](const RecordView& v) {
    std::uint64_t seq = 0;
    std::memcpy(&seq, v.payload.data(), kSeqBytes);
    check(v.type, seq, v.payload.size());
  };
  std::array<RecordView, 256> views;
  std::array<std::uint64_t, 256> seqs;
  IdleSpinner spinner(sb::oversubscribed(static_cast<std::size_t>(cfg.producers + cfg.readers)));
  Watchdog watchdog;
  if (!ctx.ready_and_wait()) return 0;

  std::uint64_t lost = 0;
  for (;;) {
    lost = readers_set ? readers_set->total_loss().records : reader->total_loss().records;
    if (received + lost >= expected) break;
    std::size_t n = 0;
    if (readers_set) {
      n = readers_set->poll([&](std::size_t, const RecordView& v) { on_record(v); }, 256);
    } else if (cfg.zero_copy) {
      n = reader->peek(views);
      // Tentative reads of the views: used only if consume() says they were intact.
      for (std::size_t i = 0; i < n; ++i)
        shmio::shm::copy_tentative(reinterpret_cast<std::byte*>(&seqs[i]), views[i].payload.data(),
                                   kSeqBytes);
      if (n > 0 && reader->consume(std::span<const RecordView>(views.data(), n))) {
        for (std::size_t i = 0; i < n; ++i) check(views[i].type, seqs[i], views[i].payload.size());
      }
    } else {
      n = reader->poll(on_record, 256);
    }
    if (n > 0) continue;
    spinner.idle();
    if (!watchdog.tick(received + lost))
      return ctx.fail("no progress for 20 s at " + std::to_string(received) + " received + " +
                      std::to_string(lost) + " lost of " + std::to_string(expected));
  }
  out.t_last = sb::now_ns();
  out.records = received;
  out.bytes = bytes;
  out.lost = lost;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const RingReader& r = readers_set ? readers_set->reader(i) : *reader;
    out.laps += segments[i]->reader_slot(r.id()).laps.load(std::memory_order_relaxed);
  }
  if (bad != 0) return ctx.fail(std::to_string(bad) + " records out of order or malformed");
  if (received + lost != expected)
    return ctx.fail("received " + std::to_string(received) + " + lost " + std::to_string(lost) +
                    " != published " + std::to_string(expected));
  return 0;
}

void BM_RingXproc(benchmark::State& state, XprocConfig cfg) {
  guarded(state, [&] {
    // One ring, or one per producer (exclusive).
    std::vector<std::unique_ptr<BenchRing>> rings;
    std::vector<std::string> names;
    for (int i = 0; i < (cfg.ring_per_producer ? cfg.producers : 1); ++i) {
      rings.push_back(std::make_unique<BenchRing>("xproc", cfg.ring_bytes, true, cfg.huge_pages,
                                                  cfg.exclusive || cfg.ring_per_producer,
                                                  cfg.fenced));
      names.push_back(rings.back()->name());
    }
    if (cfg.huge_pages)
      state.counters["huge_MiB"] =
          static_cast<double>(rings.front()->segment().huge_page_bytes() >> 20);
    const int children = cfg.producers + cfg.readers;
    sb::SharedArray<ChildReport> reports(static_cast<std::size_t>(children));
    double per_reader_records = 0, per_reader_bytes = 0, total_records = 0, total_bytes = 0;
    double lost = 0, laps = 0, published = 0, publish_seconds = 0;

    for (auto _ : state) {
      reports.reset();
      sb::ChildGroup group;
      for (int p = 0; p < cfg.producers; ++p)
        group.spawn("producer " + std::to_string(p), [&, p](sb::ChildContext& ctx) {
          return xproc_producer(ctx, names[cfg.ring_per_producer ? static_cast<std::size_t>(p) : 0],
                                cfg, p, reports[static_cast<std::size_t>(p)]);
        });
      for (int r = 0; r < cfg.readers; ++r) {
        const int k = cfg.producers + r;
        group.spawn("reader " + std::to_string(r), [&, k](sb::ChildContext& ctx) {
          return xproc_reader(ctx, names, cfg, k, reports[static_cast<std::size_t>(k)]);
        });
      }
      if (!run_children(group, state)) break;
      // Wall time: first publish of any producer to the last record read by any reader.
      std::uint64_t first = UINT64_MAX, last_read = 0, last_publish = 0;
      for (int p = 0; p < cfg.producers; ++p) {
        const ChildReport& c = reports[static_cast<std::size_t>(p)];
        first = std::min(first, c.t_first);
        last_publish = std::max(last_publish, c.t_last);
        published += static_cast<double>(c.records);
      }
      double got = 0, got_bytes = 0;
      for (int k = cfg.producers; k < children; ++k) {
        const ChildReport& c = reports[static_cast<std::size_t>(k)];
        last_read = std::max(last_read, c.t_last);
        got += static_cast<double>(c.records);
        got_bytes += static_cast<double>(c.bytes);
        lost += static_cast<double>(c.lost);
        laps += static_cast<double>(c.laps);
      }
      const double seconds = static_cast<double>(last_read - first) / 1e9;
      publish_seconds += static_cast<double>(last_publish - first) / 1e9;
      total_records += got;
      total_bytes += got_bytes;
      per_reader_records += got / cfg.readers;
      per_reader_bytes += got_bytes / cfg.readers;
      state.SetIterationTime(seconds);
    }
    if (state.error_occurred()) return;
    using C = benchmark::Counter;
    state.SetItemsProcessed(static_cast<std::int64_t>(per_reader_records));
    state.SetBytesProcessed(static_cast<std::int64_t>(per_reader_bytes));
    state.counters["rec_total/s"] = C(total_records, C::kIsRate);
    state.counters["B_total/s"] = C(total_bytes, C::kIsRate, C::kIs1024);
    state.counters["pub_rec/s"] = C(publish_seconds > 0 ? published / publish_seconds : 0);
    // Losses per reader and iteration, and as a share of what was published.
    const double reader_iterations = static_cast<double>(state.iterations()) * cfg.readers;
    state.counters["lost"] = C(lost / reader_iterations);
    state.counters["lost_pct"] = C(published > 0 ? 100.0 * lost / (published * cfg.readers) : 0);
    state.counters["laps"] = C(laps / reader_iterations);
    state.SetLabel(sharing_label(static_cast<std::size_t>(children), "procs"));
  });
}

// ---------------------------------------------------------------------------------------------
// ring_latency: one producer process, one reader process; the producer sends CLOCK_MONOTONIC
// timestamps at a paced rate, the reader computes now - sent.

struct LatencyConfig {
  bool parked;           // reader parks on the futex (wait with spin_for = 0) between records
  std::uint64_t warmup;  // first records, not counted
  std::uint64_t samples;
  std::uint64_t interval_ns;  // one record every interval
  bool exclusive = false;     // RingConfig::exclusive_producer
  bool fenced = false;        // RingConfig::fenced_commits (with exclusive)
  // > 0: the reader waits through one RingNotifier over this many rings (an eventfd and poll(2)),
  // and the producer publishes to them in turn (ring_latency/notifier/.../rings=N/<mode>).
  int notifier_rings = 0;
  NotifierMode notifier_mode = NotifierMode::automatic;
};

// This process's CPU time so far (user + system, every thread), in nanoseconds.
std::uint64_t process_cpu_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ULL +
           static_cast<std::uint64_t>(t.tv_usec) * 1'000ULL;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

constexpr std::size_t kLatencyPayload = 64;
constexpr std::uint64_t kNoSample = UINT64_MAX;

// Paces a latency sender to one message per interval, by spinning on the clock (sleeping is far
// too coarse for tens of microseconds); after a late start it keeps at least half an interval.
class Pacer {
 public:
  Pacer(std::uint64_t interval_ns, bool shared_cpu)
      : interval_(interval_ns), shared_cpu_(shared_cpu), next_(sb::now_ns() + interval_ns) {}
  void wait_turn() noexcept {
    std::uint64_t now = sb::now_ns();
    while (now < next_) {
      if (shared_cpu_) ::sched_yield();
      now = sb::now_ns();
    }
    next_ = std::max(next_ + interval_, now + interval_ / 2);
  }

 private:
  std::uint64_t interval_;
  bool shared_cpu_;
  std::uint64_t next_;
};

// publish_ns[seq]: the send time to the end of the commit, on the producer's side (one clock read
// included, as in the one-way figure): how much of the one-way time the publish itself takes with
// a reader watching the ring.
int latency_producer(sb::ChildContext& ctx, const std::vector<std::string>& rings,
                     const LatencyConfig& cfg, std::uint64_t* publish_ns) {
  const int cpu = sb::cpu_for(0);
  if (!sb::pin_to_cpu(cpu)) return ctx.fail("sched_setaffinity failed");
  std::string error;
  std::vector<std::unique_ptr<Segment>> segments;
  std::vector<RingWriter> writers;  // one per ring, used in turn
  for (const std::string& ring : rings) {
    segments.push_back(attach_in_child(ring, error));
    if (!segments.back()) return ctx.fail(error);
    auto w = RingWriter::attach(*segments.back(), WriterOptions{"bench-lat-p", cpu});
    if (!w) return ctx.fail("RingWriter::attach: " + w.error().message);
    writers.push_back(std::move(w).value());
  }
  const bool shared_cpu = sb::oversubscribed(2);
  if (!ctx.ready_and_wait()) return 0;

  const std::uint64_t total = cfg.warmup + cfg.samples;
  Pacer pacer(cfg.interval_ns, shared_cpu);
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    pacer.wait_turn();
    // The timestamp is taken before the claim: the latency includes the whole publish.
    const std::uint64_t sent = sb::now_ns();
    RingWriter* const writer = &writers[seq % writers.size()];
    auto claim = writer->claim(kLatencyPayload, 1);
    if (claim.status != PublishStatus::ok)
      return ctx.fail(std::string("claim: ") + to_string(claim.status));
    std::memcpy(claim.payload.data(), &seq, 8);
    std::memcpy(claim.payload.data() + 8, &sent, 8);
    writer->commit();
    publish_ns[seq] = sb::now_ns() - sent;
  }
  return 0;
}

int latency_reader(sb::ChildContext& ctx, const std::vector<std::string>& rings,
                   const LatencyConfig& cfg, std::uint64_t* samples, ChildReport& out) {
  const int cpu = sb::cpu_for(1);
  if (!sb::pin_to_cpu(cpu)) return ctx.fail("sched_setaffinity failed");
  std::string error;
  std::vector<std::unique_ptr<Segment>> segments;
  std::vector<const Segment*> set;
  for (const std::string& ring : rings) {
    segments.push_back(attach_in_child(ring, error));
    if (!segments.back()) return ctx.fail(error);
    set.push_back(segments.back().get());
  }
  const ReaderOptions options{"bench-lat-r", cpu, StartAt::latest};
  // One ring: its RingReader (busy or parked in wait()). Through a notifier: a RingSetReader over
  // the rings and one RingNotifier over the same.
  std::optional<RingReader> one;
  std::optional<RingSetReader> all;
  std::unique_ptr<RingNotifier> notifier;
  if (cfg.notifier_rings > 0) {
    auto r = RingSetReader::attach(set, options);
    if (!r) return ctx.fail("RingSetReader::attach: " + r.error().message);
    all.emplace(std::move(r).value());
    // (Its waits counted in the set's reader slots, as the cluster's workers do.)
    std::vector<const RingReader*> counted_in;
    for (std::size_t i = 0; i < set.size(); ++i) counted_in.push_back(&all->reader(i));
    auto n = RingNotifier::start(set, {.mode = cfg.notifier_mode, .readers = counted_in});
    if (!n) return ctx.fail("RingNotifier::start: " + n.error().message);
    notifier = std::move(n).value();
  } else {
    auto r = RingReader::attach(*set.front(), options);
    if (!r) return ctx.fail("RingReader::attach: " + r.error().message);
    one.emplace(std::move(r).value());
  }
  const std::uint64_t total = cfg.warmup + cfg.samples;
  std::uint64_t received = 0, bad = 0;
  auto on_record = [&](const RecordView& v) {
    const std::uint64_t now = sb::now_ns();
    std::uint64_t seq = 0, sent = 0;
    std::memcpy(&seq, v.payload.data(), 8);
    std::memcpy(&sent, v.payload.data() + 8, 8);
    if (seq < total && now >= sent) {
      samples[seq] = now - sent;
    } else {
      ++bad;
    }
    ++received;
  };
  IdleSpinner spinner(sb::oversubscribed(2));
  Watchdog watchdog(cfg.parked ? 1 : 4096);  // a parked reader ticks at most every 100 ms
  if (!ctx.ready_and_wait()) return 0;

  const std::uint64_t cpu0 = process_cpu_ns();
  std::uint64_t lost = 0;
  for (;;) {
    lost = all ? all->total_loss().records : one->total_loss().records;
    if (received + lost >= total) break;
    if (notifier) {
      // The event loop's pattern (ring_notifier.hpp): read every ring until empty, then wait for
      // the eventfd, clear it, and read again.
      if (all->poll([&](std::size_t, const RecordView& v) { on_record(v); }, 64) > 0) continue;
      pollfd pfd{notifier->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) > 0) notifier->drain();
      if (!watchdog.tick(received + lost)) return ctx.fail("no progress for 20 s");
      continue;
    }
    if (one->poll(on_record, 64) > 0) continue;
    if (cfg.parked) {
      one->wait(std::chrono::milliseconds(100), std::chrono::nanoseconds(0));
    } else {
      spinner.idle();
    }
    if (!watchdog.tick(received + lost)) return ctx.fail("no progress for 20 s");
  }
  out.records = received;
  out.lost = lost;
  out.cpu_ns = process_cpu_ns() - cpu0;
  if (bad != 0) return ctx.fail(std::to_string(bad) + " malformed latency records");
  return 0;
}

// One latency run's samples after the warm-up, those received (kNoSample: not), sorted, and its
// publish times sorted.
void sort_latency(const std::uint64_t* samples, const std::uint64_t* publish_ns,
                  std::uint64_t warmup, std::uint64_t total, std::vector<std::uint64_t>& sorted,
                  std::vector<std::uint64_t>& publish_sorted) {
  sorted.clear();
  for (std::uint64_t i = warmup; i < total; ++i)
    if (samples[i] != kNoSample) sorted.push_back(samples[i]);
  std::sort(sorted.begin(), sorted.end());
  publish_sorted.assign(publish_ns + warmup, publish_ns + total);
  std::sort(publish_sorted.begin(), publish_sorted.end());
}

// The latency rows' counters: the one-way percentiles, and the publish's own p50.
void set_latency_counters(benchmark::State& state, const std::vector<std::uint64_t>& sorted,
                          const std::vector<std::uint64_t>& publish_sorted) {
  state.counters["p50_ns"] = sb::percentile(sorted, 50);
  state.counters["p90_ns"] = sb::percentile(sorted, 90);
  state.counters["p99_ns"] = sb::percentile(sorted, 99);
  state.counters["p99.9_ns"] = sb::percentile(sorted, 99.9);
  state.counters["max_ns"] = sorted.empty() ? 0.0 : static_cast<double>(sorted.back());
  state.counters["publish_p50_ns"] = sb::percentile(publish_sorted, 50);
  state.counters["samples"] = static_cast<double>(sorted.size());
}

void BM_RingLatency(benchmark::State& state, LatencyConfig cfg) {
  guarded(state, [&] {
    std::vector<std::unique_ptr<BenchRing>> rings;
    std::vector<std::string> names;
    for (int i = 0; i < std::max(cfg.notifier_rings, 1); ++i) {
      rings.push_back(std::make_unique<BenchRing>("lat", cfg.notifier_rings > 0 ? kMiB : kRingBytes,
                                                  true, false, cfg.exclusive, cfg.fenced));
      names.push_back(rings.back()->name());
    }
    const std::uint64_t total = cfg.warmup + cfg.samples;
    sb::SharedArray<std::uint64_t> samples(total), publish_ns(total);
    sb::SharedArray<ChildReport> report(1);
    std::vector<std::uint64_t> sorted, publish_sorted;
    for (auto _ : state) {
      std::fill(samples.data(), samples.data() + total, kNoSample);
      report.reset();
      sb::ChildGroup group;
      group.spawn("producer", [&](sb::ChildContext& ctx) {
        return latency_producer(ctx, names, cfg, publish_ns.data());
      });
      group.spawn("reader", [&](sb::ChildContext& ctx) {
        return latency_reader(ctx, names, cfg, samples.data(), report[0]);
      });
      if (!run_children(group, state)) break;
      sort_latency(samples.data(), publish_ns.data(), cfg.warmup, total, sorted, publish_sorted);
      state.SetIterationTime(sb::percentile(sorted, 50) / 1e9);
    }
    if (state.error_occurred()) return;
    // Percentiles of the last iteration (the benchmark runs one iteration per repetition).
    set_latency_counters(state, sorted, publish_sorted);
    state.counters["lost"] = static_cast<double>(report[0].lost);
    if (report[0].records > 0)
      state.counters["reader_cpu_ns"] =
          static_cast<double>(report[0].cpu_ns) / static_cast<double>(report[0].records);
    state.SetLabel(sharing_label(2, "procs"));
  });
}

// ---------------------------------------------------------------------------------------------
// ring_pingpong: base_pingpong's exchange carried by the ring, timed the way base_pingpong is.
// The pinger publishes a 64-byte record and busy-reads until it has the ponger's answer; the
// ponger busy-reads the request and publishes the answer. One sample is a batch of 32 round trips
// (no clock read per message): one way = batch time / 64, so the ratio to base_pingpong compares
// the ring with one shared line by the same method. (ring_latency/busy measures a paced one-way
// message with a clock read on each side; its floor measured the same way is base_oneway_line.)
//
// one_ring: request and answer travel in the same ring, as two workers' request and answer do
// in the cluster (fetchSockets, serverSideEmit with an ack); each side reads and skips its own
// records. two_rings: one ring per direction, each side writes one and reads the other.

// Round trips are timed in batches (so the clock reads cost little): base_pingpong and
// ring_pingpong alike. One way = batch time / (2 x kRoundTripsPerBatch).
constexpr std::uint64_t kRoundTripsPerBatch = 32;
constexpr double kOneWaysPerBatch = 2.0 * kRoundTripsPerBatch;

// After each iteration: the batches after the warm-up, sorted; the iteration's time is the median
// one way.
void time_round_trips(benchmark::State& state, const std::uint64_t* samples, std::uint64_t warmup,
                      std::uint64_t total, std::vector<std::uint64_t>& batch_ns) {
  batch_ns.assign(samples + warmup, samples + total);
  std::sort(batch_ns.begin(), batch_ns.end());
  state.SetIterationTime(sb::percentile(batch_ns, 50) / kOneWaysPerBatch / 1e9);
}

// The counters of the last iteration's batches.
void report_round_trips(benchmark::State& state, const std::vector<std::uint64_t>& batch_ns) {
  state.counters["oneway_p50_ns"] = sb::percentile(batch_ns, 50) / kOneWaysPerBatch;
  state.counters["oneway_p99_ns"] = sb::percentile(batch_ns, 99) / kOneWaysPerBatch;
  state.counters["rtt_p50_ns"] = 2 * sb::percentile(batch_ns, 50) / kOneWaysPerBatch;
  state.SetLabel(sharing_label(2, "procs"));
}

struct RingPingPongConfig {
  bool one_ring;
  std::uint64_t ring_bytes;
  std::uint64_t batches;  // samples, each of kRoundTripsPerBatch round trips
};

// One side of the exchange. pinger: publishes type 0 and waits for the type 1 record with the same
// sequence number; ponger: the other way round. `batch_ns` (pinger only) gets each batch's time.
int ring_pingpong_side(sb::ChildContext& ctx, const std::string& write_ring,
                       const std::string& read_ring, bool pinger, std::uint64_t total_batches,
                       std::uint64_t* batch_ns) {
  const int cpu = sb::cpu_for(pinger ? 0 : 1);
  if (!sb::pin_to_cpu(cpu)) return ctx.fail("sched_setaffinity failed");
  std::string error;
  auto write_segment = attach_in_child(write_ring, error);
  if (!write_segment) return ctx.fail(error);
  std::unique_ptr<Segment> read_segment;
  if (read_ring != write_ring) {
    read_segment = attach_in_child(read_ring, error);
    if (!read_segment) return ctx.fail(error);
  }
  const Segment& rs = read_segment ? *read_segment : *write_segment;
  const std::string who = pinger ? "bench-ping" : "bench-pong";
  auto writer = RingWriter::attach(*write_segment, WriterOptions{who + "-w", cpu});
  if (!writer) return ctx.fail("RingWriter::attach: " + writer.error().message);
  // Attached before either side publishes (the start barrier): it sees every record.
  auto reader = RingReader::attach(rs, ReaderOptions{who + "-r", cpu, StartAt::latest});
  if (!reader) return ctx.fail("RingReader::attach: " + reader.error().message);
  const std::uint16_t mine = pinger ? 0 : 1, theirs = pinger ? 1 : 0;
  std::array<std::byte, 64> payload{};
  std::uint64_t bad = 0;
  IdleSpinner spinner(sb::oversubscribed(2));
  Watchdog watchdog;
  // Reads until the other side's record with sequence number `seq` has arrived.
  auto await = [&](std::uint64_t seq) -> bool {
    bool arrived = false;
    auto on_record = [&](const RecordView& v) {
      if (v.type != theirs) return;  // our own (one ring)
      std::uint64_t got = 0;
      std::memcpy(&got, v.payload.data(), sizeof got);
      if (got == seq && !arrived) {
        arrived = true;
      } else {
        ++bad;
      }
    };
    while (!arrived) {
      if (reader->poll(on_record, 64) > 0) continue;
      spinner.idle();
      if (!watchdog.tick(seq)) return false;
    }
    return true;
  };
  auto send = [&](std::uint64_t seq) {
    std::memcpy(payload.data(), &seq, sizeof seq);
    return writer->publish(mine, payload);
  };
  if (!ctx.ready_and_wait()) return 0;

  const std::uint64_t round_trips = total_batches * kRoundTripsPerBatch;
  for (std::uint64_t seq = 0; seq < round_trips;) {
    const std::uint64_t t0 = pinger ? sb::now_ns() : 0;
    for (std::uint64_t k = 0; k < kRoundTripsPerBatch; ++k, ++seq) {
      if (pinger) {
        if (const PublishStatus st = send(seq); st != PublishStatus::ok)
          return ctx.fail(std::string("publish: ") + to_string(st));
      }
      if (!await(seq)) return ctx.fail("no answer for 20 s at round trip " + std::to_string(seq));
      if (!pinger) {
        if (const PublishStatus st = send(seq); st != PublishStatus::ok)
          return ctx.fail(std::string("publish: ") + to_string(st));
      }
    }
    if (pinger) batch_ns[seq / kRoundTripsPerBatch - 1] = sb::now_ns() - t0;
  }
  if (bad != 0) return ctx.fail(std::to_string(bad) + " records out of order or malformed");
  if (const auto lost = reader->total_loss().records; lost != 0)
    return ctx.fail(std::to_string(lost) + " records lost");
  return 0;
}

void BM_RingPingPong(benchmark::State& state, RingPingPongConfig cfg) {
  guarded(state, [&] {
    BenchRing ring_a("pp-a", cfg.ring_bytes);
    std::unique_ptr<BenchRing> ring_b;
    if (!cfg.one_ring) ring_b = std::make_unique<BenchRing>("pp-b", cfg.ring_bytes);
    const std::string& a = ring_a.name();
    const std::string& b = ring_b ? ring_b->name() : a;
    const std::uint64_t warmup = cfg.batches / 10;
    const std::uint64_t total = warmup + cfg.batches;
    sb::SharedArray<std::uint64_t> samples(total);
    std::vector<std::uint64_t> batch_ns;
    for (auto _ : state) {
      sb::ChildGroup group;
      group.spawn("pinger", [&](sb::ChildContext& ctx) {
        return ring_pingpong_side(ctx, a, b, true, total, samples.data());
      });
      group.spawn("ponger", [&](sb::ChildContext& ctx) {
        return ring_pingpong_side(ctx, b, a, false, total, nullptr);
      });
      if (!run_children(group, state)) break;
      time_round_trips(state, samples.data(), warmup, total, batch_ns);
    }
    if (state.error_occurred()) return;
    report_round_trips(state, batch_ns);
  });
}

// ---------------------------------------------------------------------------------------------
// Baseline: moodycamel::ConcurrentQueue, one producer thread -> one consumer thread.

struct Item64 {
  std::uint64_t seq;
  std::byte rest[56];
};
static_assert(sizeof(Item64) == 64);
constexpr std::size_t kMoodycamelInitialItems = 65536;  // 4 MiB

// bulk > 1: the producer enqueues `bulk` items per call (enqueue_bulk), the fair peer of the
// ring's publish_batch.
void BM_Moodycamel(benchmark::State& state, std::uint64_t items, std::size_t initial_items,
                   std::size_t bulk) {
  guarded(state, [&] {
    for (auto _ : state) {
      // Small initial pool: moodycamel hands out its initial pool before it recycles freed
      // blocks, so a 64 MiB pool would put 16k first-touch page faults in the timed region.
      // Blocks freed by the consumer are reused (they stay hot in cache); the queue grows (malloc)
      // only while the consumer lags by more than the pool.
      moodycamel::ConcurrentQueue<Item64> queue(initial_items);
      std::atomic<int> ready{0};
      std::atomic<bool> go{false}, failed{false};
      std::uint64_t t_first = 0, t_last = 0, bad = 0;
      std::thread producer([&] {
        sb::pin_to_cpu(sb::cpu_for(0));
        moodycamel::ProducerToken token(queue);
        Item64 item{};
        std::vector<Item64> items_bulk(bulk);
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        t_first = sb::now_ns();
        for (std::uint64_t i = 0; i < items;) {
          bool ok;
          if (bulk == 1) {
            item.seq = i++;
            ok = queue.enqueue(token, item);
          } else {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(bulk, items - i));
            for (std::size_t j = 0; j < k; ++j) items_bulk[j].seq = i++;
            ok = queue.enqueue_bulk(token, items_bulk.data(), k);
          }
          if (!ok) {
            failed.store(true);
            return;
          }
        }
      });
      std::thread consumer([&] {
        sb::pin_to_cpu(sb::cpu_for(1));
        moodycamel::ConsumerToken token(queue);
        std::array<Item64, 256> batch;
        IdleSpinner spinner(sb::oversubscribed(2));
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        // (Its count in a local, stored once at the end: the captured one shares a line of this
        // stack frame with what the producer reads; BM_ClaimSeal's producer lost a transfer per
        // record to such a count.)
        std::uint64_t next = 0, own_bad = 0;
        while (next < items && !failed.load(std::memory_order_relaxed)) {
          const std::size_t n = queue.try_dequeue_bulk(token, batch.begin(), batch.size());
          if (n == 0) {
            spinner.idle();
            continue;
          }
          for (std::size_t i = 0; i < n; ++i) own_bad += batch[i].seq != next++;
        }
        t_last = sb::now_ns();
        bad = own_bad;
      });
      while (ready.load() < 2) std::this_thread::yield();
      go.store(true, std::memory_order_release);
      producer.join();
      consumer.join();
      if (failed.load() || bad != 0) {
        state.SkipWithError(failed.load() ? "enqueue failed" : "items out of order");
        break;
      }
      state.SetIterationTime(static_cast<double>(t_last - t_first) / 1e9);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(items));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(items * sizeof(Item64)));
    state.SetLabel(sharing_label(2, "threads"));
  });
}

// base_claim_seal_1p1c/64B/ring=1MiB/{locked_frontier,locked,plain}: the skeleton of 1P -> 1R
// through a 1 MiB ring without the ring's bookkeeping (issue 14: what the locked instructions
// that let several producers share a ring cost when a reader is watching, apart from the rest).
// Two threads, as moodycamel's 1P1C. Per record the producer claims 64 bytes (a `lock xadd` on
// the tail's own line; /plain: a load and a plain store of it, as a ring made for one producer),
// writes the 64 B record into its own line of the data area, then a 16-byte entry of the seal
// table (a header word, then the seal, a release store: four entries to a line, as the ring's
// layout version 5 has them); /locked_frontier then moves a frontier word on a line of its own
// over the record with a CAS, as the shared ring's committer does at the frontier. The reader
// spins on the next seal, reads the header and the record, and moves on; it is never waited for
// (a lapped one jumps to the seal it finds and counts the records it lost: lost_pct). A locked
// instruction waits for the stores before it to reach the cache, and a seal store into the line
// the spinning reader holds is a transfer; a plain claim lets the stores drain behind it. The
// ratio of /locked_frontier to /plain is what the two steps cost with nothing else between them
// (in a ring, its other work gives the stores time to drain: the steps cost it less); a ring's
// ratio to its skeleton, what its own bookkeeping costs beyond them. The skeleton's reader takes
// every seal line as soon as it is written, the most transfers a producer can meet; records it
// lost to a lap (lost_pct) are not counted as delivered.
struct alignas(16) SealEntry {
  std::atomic<std::uint64_t> header{0};
  std::atomic<std::uint64_t> seal{0};  // 1 + the record's number once it is there
};

enum class Claim { plain, locked, locked_and_frontier };

void BM_ClaimSeal(benchmark::State& state, Claim how, std::uint64_t items) {
  guarded(state, [&] {
    constexpr std::size_t kRecords = (1u << 20) / 64;  // a 1 MiB data area of 64 B records
    struct alignas(128) Word {
      std::atomic<std::uint64_t> v{0};
    };
    struct alignas(64) Record {
      std::atomic<std::uint64_t> w[8];
    };
    std::uint64_t lost_total = 0;
    for (auto _ : state) {
      Word tail, frontier_word;
      std::vector<Record> data(kRecords);
      // (Four entries to a 64-byte line, the first of each four at a line's start, as the ring's.)
      struct alignas(64) SealLine {
        SealEntry e[4];
      };
      std::vector<SealLine> seal_lines(kRecords / 4);
      std::atomic<int> ready{0};
      std::atomic<bool> go{false};
      std::uint64_t t_first = 0, t_last = 0, lost = 0, sink = 0;
      // (Each thread works on copies of what it reads in its loop, and on counters of its own,
      // stored once at its end: the captured locals share cache lines of this stack frame, and
      // a reader's count written per record there slowed the producer's loads by a transfer.)
      Record* const records = data.data();
      SealLine* const table = seal_lines.data();
      std::atomic<std::uint64_t>* const claim = &tail.v;
      std::atomic<std::uint64_t>* const frontier = &frontier_word.v;
      std::thread producer([&t_first, &ready, &go, records, table, claim, frontier, how, items] {
        sb::pin_to_cpu(sb::cpu_for(0));
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        t_first = sb::now_ns();
        for (std::uint64_t i = 0; i < items; ++i) {
          std::uint64_t at;
          if (how != Claim::plain) {
            at = claim->fetch_add(64, std::memory_order_acq_rel);
          } else {
            at = claim->load(std::memory_order_relaxed);
            claim->store(at + 64, std::memory_order_relaxed);
          }
          const std::size_t slot = (at / 64) % kRecords;
          for (std::atomic<std::uint64_t>& w : records[slot].w)
            w.store(i, std::memory_order_relaxed);
          table[slot / 4].e[slot % 4].header.store(64, std::memory_order_relaxed);
          table[slot / 4].e[slot % 4].seal.store(i + 1, std::memory_order_release);
          if (how == Claim::locked_and_frontier) {  // (the shared ring's commit at the frontier)
            std::uint64_t expected = at;
            frontier->compare_exchange_strong(expected, at + 64, std::memory_order_acq_rel);
          }
        }
      });
      std::thread reader([&t_last, &lost, &sink, &ready, &go, records, table, items] {
        sb::pin_to_cpu(sb::cpu_for(1));
        IdleSpinner spinner(sb::oversubscribed(2));
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        std::uint64_t own_lost = 0, own_sink = 0;
        for (std::uint64_t next = 0; next < items;) {
          const std::size_t slot = next % kRecords;
          const std::uint64_t seal =
              table[slot / 4].e[slot % 4].seal.load(std::memory_order_acquire);
          if (seal <= next) {  // not there yet (or the lap before's)
            spinner.idle();
            continue;
          }
          if (seal > next + 1) {  // lapped: what the producer wrote over is lost
            own_lost += seal - 1 - next;
            next = seal - 1;
            continue;
          }
          // (Read, not checked: a record being overwritten by the next lap is not told from a
          // whole one here, where the ring's reader validates what it read; the skeleton keeps
          // to the transfers.)
          own_sink += table[slot / 4].e[slot % 4].header.load(std::memory_order_relaxed);
          for (const std::atomic<std::uint64_t>& w : records[slot].w)
            own_sink += w.load(std::memory_order_relaxed);
          ++next;
        }
        t_last = sb::now_ns();
        lost = own_lost;
        sink = own_sink;
      });
      while (ready.load() < 2) std::this_thread::yield();
      go.store(true, std::memory_order_release);
      producer.join();
      reader.join();
      benchmark::DoNotOptimize(sink);
      lost_total += lost;
      state.SetIterationTime(static_cast<double>(t_last - t_first) / 1e9);
    }
    const double all = static_cast<double>(state.iterations()) * static_cast<double>(items);
    state.SetItemsProcessed(static_cast<std::int64_t>(all - static_cast<double>(lost_total)));
    state.counters["lost_pct"] = all > 0 ? 100.0 * static_cast<double>(lost_total) / all : 0;
    state.SetLabel(sharing_label(2, "threads"));
  });
}

// ring_read/64B/ring=1MiB[/exclusive][/peek] vs base_moodycamel_read/64B: what reading costs one
// thread with nothing shared — each iteration puts 512 64 B records in (untimed; 32 KiB of data,
// with its metadata within the L2), then times one thread taking them all out (poll of up to 256
// with a callback that reads the sequence number; /peek: peek() of up to 256 views, the sequence
// numbers read from the ring, consume(); try_dequeue_bulk of 256 into an array). No other
// core touches them: the figure is each reader's own instructions per record, the part of
// 1P -> 1R that no cache line transfer explains.
constexpr std::uint64_t kReadBatch = 512;

void BM_RingRead(benchmark::State& state, bool exclusive, bool zero_copy) {
  guarded(state, [&] {
    const int cpu = sb::cpu_for(0);
    sb::ScopedPin pin(cpu);
    BenchRing ring("read", kMiB, true, false, exclusive);
    auto writer = RingWriter::attach(ring.segment(), WriterOptions{"bench-read-w", cpu});
    if (!writer) throw std::runtime_error("RingWriter::attach: " + writer.error().message);
    auto reader = RingReader::attach(ring.segment(), ReaderOptions{"bench-read", cpu});
    if (!reader) throw std::runtime_error("RingReader::attach: " + reader.error().message);
    std::vector<std::byte> payload(64, std::byte{0x5a});
    std::vector<RecordView> views(256);
    std::uint64_t seq = 0, next = 0, bad = 0;
    for (auto _ : state) {
      for (std::uint64_t i = 0; i < kReadBatch; ++i, ++seq) {
        std::memcpy(payload.data(), &seq, sizeof seq);
        if (writer->publish(1, payload) != PublishStatus::ok) {
          state.SkipWithError("publish failed");
          return;
        }
      }
      const std::uint64_t t0 = sb::now_ns();
      for (std::uint64_t got = 0; got < kReadBatch;) {
        std::size_t n = 0;
        if (zero_copy) {
          // peek() / consume(), as the cluster's workers read: the views into the ring, the
          // sequence numbers read from them, then validated (none is overwritten here).
          n = reader->peek(views);
          std::uint64_t expect = next;
          for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t x = 0;
            std::memcpy(&x, views[i].payload.data(), sizeof x);
            bad += x != expect++;
          }
          if (!reader->consume(std::span<const RecordView>(views.data(), n))) {
            state.SkipWithError("consume() found the records overwritten");
            return;
          }
          next = expect;
        } else {
          n = reader->poll(
              [&](const RecordView& v) {
                std::uint64_t x = 0;
                std::memcpy(&x, v.payload.data(), sizeof x);
                bad += x != next++;
              },
              256);
        }
        if (n == 0) {
          state.SkipWithError("the reader found fewer records than were published");
          return;
        }
        got += n;
      }
      state.SetIterationTime(static_cast<double>(sb::now_ns() - t0) / 1e9);
    }
    if (bad != 0) state.SkipWithError("records out of order");
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kReadBatch));
  });
}

void BM_MoodycamelRead(benchmark::State& state) {
  guarded(state, [&] {
    sb::ScopedPin pin(sb::cpu_for(0));
    moodycamel::ConcurrentQueue<Item64> queue(kMiB / sizeof(Item64));
    moodycamel::ProducerToken ptoken(queue);
    moodycamel::ConsumerToken ctoken(queue);
    std::array<Item64, 256> batch;
    Item64 item{};
    std::uint64_t seq = 0, next = 0, bad = 0;
    for (auto _ : state) {
      for (std::uint64_t i = 0; i < kReadBatch; ++i) {
        item.seq = seq++;
        if (!queue.enqueue(ptoken, item)) {
          state.SkipWithError("enqueue failed");
          return;
        }
      }
      const std::uint64_t t0 = sb::now_ns();
      for (std::uint64_t got = 0; got < kReadBatch;) {
        const std::size_t n = queue.try_dequeue_bulk(ctoken, batch.begin(), batch.size());
        if (n == 0) {
          state.SkipWithError("the consumer found fewer items than were enqueued");
          return;
        }
        for (std::size_t i = 0; i < n; ++i) bad += batch[i].seq != next++;
        got += n;
      }
      state.SetIterationTime(static_cast<double>(sb::now_ns() - t0) / 1e9);
    }
    if (bad != 0) state.SkipWithError("items out of order");
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kReadBatch));
  });
}

// base_moodycamel_latency/busy: ring_latency/busy's message through moodycamel, the throughput
// baseline, between two threads of one process pinned as the ring's processes are. The same
// pacing, clocks and idle pause: the producer stamps the time into a 64-byte item and enqueues it
// (a ProducerToken); the consumer spins on try_dequeue (a ConsumerToken) and stamps on arrival.
// What the baseline's structure (an index line and the item's line, as the ring's seal and
// payload) allows for the same one-way message: the anchor beside ring_latency/busy's ratio to the
// ping-pong.
void BM_MoodycamelLatency(benchmark::State& state, LatencyConfig cfg) {
  guarded(state, [&] {
    const std::uint64_t total = cfg.warmup + cfg.samples;
    std::vector<std::uint64_t> samples(total), publish_ns(total);
    std::vector<std::uint64_t> sorted, publish_sorted;
    const bool shared_cpu = sb::oversubscribed(2);
    for (auto _ : state) {
      std::fill(samples.begin(), samples.end(), kNoSample);
      moodycamel::ConcurrentQueue<Item64> queue(kMiB / sizeof(Item64));
      std::atomic<int> ready{0};
      std::atomic<bool> go{false}, failed{false}, stalled{false};
      std::uint64_t bad = 0;
      std::thread producer([&] {
        sb::pin_to_cpu(sb::cpu_for(0));
        moodycamel::ProducerToken token(queue);
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        Pacer pacer(cfg.interval_ns, shared_cpu);
        Item64 item{};
        for (std::uint64_t seq = 0; seq < total && !stalled.load(std::memory_order_relaxed);
             ++seq) {
          pacer.wait_turn();
          const std::uint64_t sent = sb::now_ns();
          item.seq = seq;
          std::memcpy(item.rest, &sent, sizeof sent);
          if (!queue.enqueue(token, item)) {
            failed.store(true);
            return;
          }
          publish_ns[seq] = sb::now_ns() - sent;
        }
      });
      std::thread consumer([&] {
        sb::pin_to_cpu(sb::cpu_for(1));
        moodycamel::ConsumerToken token(queue);
        IdleSpinner spinner(shared_cpu);
        Watchdog watchdog;
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) shmio::shm::core::cpu_relax();
        Item64 item{};
        for (std::uint64_t received = 0; received < total;) {
          if (!queue.try_dequeue(token, item)) {
            if (failed.load(std::memory_order_relaxed)) return;
            spinner.idle();
            if (!watchdog.tick(received)) {
              stalled.store(true);
              return;
            }
            continue;
          }
          const std::uint64_t now = sb::now_ns();
          std::uint64_t sent = 0;
          std::memcpy(&sent, item.rest, sizeof sent);
          if (item.seq == received && now >= sent) {
            samples[item.seq] = now - sent;
          } else {
            ++bad;
          }
          ++received;
        }
      });
      while (ready.load() < 2) std::this_thread::yield();
      go.store(true, std::memory_order_release);
      producer.join();
      consumer.join();
      if (failed.load() || stalled.load() || bad != 0) {
        state.SkipWithError(failed.load()    ? "enqueue failed"
                            : stalled.load() ? "no progress for 20 s"
                                             : "items out of order");
        break;
      }
      sort_latency(samples.data(), publish_ns.data(), cfg.warmup, total, sorted, publish_sorted);
      state.SetIterationTime(sb::percentile(sorted, 50) / 1e9);
    }
    if (state.error_occurred()) return;
    set_latency_counters(state, sorted, publish_sorted);
    state.SetLabel(sharing_label(2, "threads"));
  });
}

// ---------------------------------------------------------------------------------------------
// Baseline: boost::interprocess::message_queue, one producer process -> one consumer process.

void BM_BoostMq(benchmark::State& state, std::size_t size, std::uint64_t messages) {
  guarded(state, [&] {
    constexpr std::size_t kDepth = 4096;  // messages the queue holds
    const std::string name = "shmio-" + unique_name("mq");
    LiveObject live("/" + name);
    sb::SharedArray<ChildReport> reports(2);
    for (auto _ : state) {
      bip::message_queue::remove(name.c_str());
      // Created here, opened by name in the children; the parent's handle is closed at once.
      { bip::message_queue create(bip::create_only, name.c_str(), kDepth, size); }
      reports.reset();
      sb::ChildGroup group;
      group.spawn("producer", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(0))) return ctx.fail("sched_setaffinity failed");
        bip::message_queue mq(bip::open_only, name.c_str());
        std::vector<std::byte> buf(size, std::byte{0x5a});
        if (!ctx.ready_and_wait()) return 0;
        reports[0].t_first = sb::now_ns();
        for (std::uint64_t seq = 0; seq < messages; ++seq) {
          std::memcpy(buf.data(), &seq, kSeqBytes);
          mq.send(buf.data(), size, 0);
        }
        return 0;
      });
      group.spawn("consumer", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(1))) return ctx.fail("sched_setaffinity failed");
        bip::message_queue mq(bip::open_only, name.c_str());
        std::vector<std::byte> buf(size);
        if (!ctx.ready_and_wait()) return 0;
        for (std::uint64_t seq = 0; seq < messages; ++seq) {
          std::size_t got = 0;
          unsigned priority = 0;
          mq.receive(buf.data(), size, got, priority);
          std::uint64_t s = 0;
          std::memcpy(&s, buf.data(), kSeqBytes);
          if (got != size || s != seq) return ctx.fail("message out of order or malformed");
        }
        reports[1].t_last = sb::now_ns();
        return 0;
      });
      std::string error;
      if (!group.wait_ready(&error)) {
        group.abort();
        const std::string more = group.reap();
        state.SkipWithError((error + (more.empty() ? "" : "; " + more)).c_str());
        break;
      }
      group.start();
      error = group.reap();
      bip::message_queue::remove(name.c_str());
      if (!error.empty()) {
        state.SkipWithError(error.c_str());
        break;
      }
      state.SetIterationTime(static_cast<double>(reports[1].t_last - reports[0].t_first) / 1e9);
    }
    bip::message_queue::remove(name.c_str());
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(messages));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(messages * size));
    state.SetLabel(sharing_label(2, "procs"));
  });
}

// ---------------------------------------------------------------------------------------------
// Baseline: cache-line ping-pong between two processes, the one-way latency floor.
//
// One shared word: the pinger stores an odd value and waits for value + 1, the ponger answers.
// Each sample times a batch of round trips (so the clock reads cost little): one-way latency =
// batch time / round trips / 2.

struct alignas(128) PingLine {
  std::atomic<std::uint64_t> word{0};
};

// base_oneway_line: ring_latency/busy's message without the ring. The same pacing, the same
// clocks: the sender stamps the time, writes {time, seq} into one 64-byte line and publishes seq
// with a release store; the receiver spins on seq (with the same idle pause) and stamps on arrival.
// One line crossing once, with a clock read inside each sample as in the ring's: the floor of a
// clocked one-way message, beside ring_latency/busy.
struct alignas(128) MessageLine {
  std::atomic<std::uint64_t> seq{0};  // 1 + the sample's number once it is there
  std::atomic<std::uint64_t> sent{0};
};

void BM_OneWayLine(benchmark::State& state, LatencyConfig cfg) {
  guarded(state, [&] {
    const std::uint64_t total = cfg.warmup + cfg.samples;
    sb::SharedArray<MessageLine> line(1);
    sb::SharedArray<std::uint64_t> samples(total);
    const bool shared_cpu = sb::oversubscribed(2);
    std::vector<std::uint64_t> sorted;
    for (auto _ : state) {
      line[0].seq.store(0);
      std::fill(samples.data(), samples.data() + total, kNoSample);
      sb::ChildGroup group;
      group.spawn("sender", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(0))) return ctx.fail("sched_setaffinity failed");
        if (!ctx.ready_and_wait()) return 0;
        Pacer pacer(cfg.interval_ns, shared_cpu);
        for (std::uint64_t seq = 0; seq < total; ++seq) {
          pacer.wait_turn();
          line[0].sent.store(sb::now_ns(), std::memory_order_relaxed);
          line[0].seq.store(seq + 1, std::memory_order_release);
        }
        return 0;
      });
      group.spawn("receiver", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(1))) return ctx.fail("sched_setaffinity failed");
        IdleSpinner spinner(shared_cpu);
        Watchdog watchdog;
        if (!ctx.ready_and_wait()) return 0;
        for (std::uint64_t seen = 0; seen < total;) {
          const std::uint64_t seq = line[0].seq.load(std::memory_order_acquire);
          if (seq == seen) {
            spinner.idle();
            if (!watchdog.tick(seen)) return ctx.fail("no progress for 20 s");
            continue;
          }
          const std::uint64_t now = sb::now_ns();
          const std::uint64_t sent = line[0].sent.load(std::memory_order_relaxed);
          // (A sample overtaken by the next one before we looked is not counted.)
          if (line[0].seq.load(std::memory_order_acquire) == seq && now >= sent)
            samples[seq - 1] = now - sent;
          seen = seq;
        }
        return 0;
      });
      if (!run_children(group, state)) break;
      sorted.clear();
      for (std::uint64_t i = cfg.warmup; i < total; ++i)
        if (samples[i] != kNoSample) sorted.push_back(samples[i]);
      std::sort(sorted.begin(), sorted.end());
      state.SetIterationTime(sb::percentile(sorted, 50) / 1e9);
    }
    if (state.error_occurred()) return;
    state.counters["p50_ns"] = sb::percentile(sorted, 50);
    state.counters["p99_ns"] = sb::percentile(sorted, 99);
    state.counters["samples"] = static_cast<double>(sorted.size());
    state.SetLabel(sharing_label(2, "procs"));
  });
}

// base_clock_read: one read of the clock the latency rows stamp their samples with. Each one-way
// sample holds the cost of about one such read (the stamp on each side lands mid-call), which
// base_pingpong, timing batches of 32 round trips, spreads out.
void BM_ClockRead(benchmark::State& state) {
  constexpr std::uint64_t kReads = 1 << 20;
  for (auto _ : state) {
    const std::uint64_t t0 = sb::now_ns();
    std::uint64_t sink = 0;
    for (std::uint64_t i = 0; i < kReads; ++i) sink += sb::now_ns();
    benchmark::DoNotOptimize(sink);
    state.SetIterationTime(static_cast<double>(sb::now_ns() - t0) / 1e9);
    state.counters["ns"] = static_cast<double>(sb::now_ns() - t0) / kReads;
  }
}

// base_locked_rmw2: the floor of the committer's single-record path (docs/ring.md, "What one
// publish costs"): two locked read-modify-writes per item (a fetch_add and a successful
// compare-exchange, on words of their own 128-byte blocks, as the claim and the frontier are), one
// thread, nothing else.
void BM_LockedRmw2(benchmark::State& state) {
  struct alignas(128) Word {
    std::atomic<std::uint64_t> v{0};
  };
  Word tail, frontier;
  for (auto _ : state) {
    const std::uint64_t p = tail.v.fetch_add(128, std::memory_order_seq_cst);
    std::uint64_t expected = p;
    frontier.v.compare_exchange_strong(expected, p + 128, std::memory_order_seq_cst);
  }
  benchmark::DoNotOptimize(frontier.v.load());
  state.SetItemsProcessed(state.iterations());
}

// base_store_rmw2: the same two locked RMWs after writing an 80-byte record (a 16-byte header and
// 64 bytes of payload) into the next 128 bytes of a 256 KiB buffer, as a publish did until layout
// version 5 (kept as it was, for comparison with the figures measured then): each locked
// instruction waits for the stores before it to reach the cache.
void BM_StoreRmw2(benchmark::State& state) {
  struct alignas(128) Word {
    std::atomic<std::uint64_t> v{0};
  };
  Word tail, frontier;
  std::vector<std::byte> ring(256 * 1024, std::byte{0});
  std::array<std::byte, 80> record{};
  std::size_t at = 0;
  for (auto _ : state) {
    const std::uint64_t p = tail.v.fetch_add(128, std::memory_order_seq_cst);
    std::memcpy(ring.data() + at, record.data(), record.size());
    at = (at + 128) & (ring.size() - 1);
    std::uint64_t expected = p;
    frontier.v.compare_exchange_strong(expected, p + 128, std::memory_order_seq_cst);
  }
  benchmark::DoNotOptimize(ring.data());
  state.SetItemsProcessed(state.iterations());
}

void BM_PingPong(benchmark::State& state, std::uint64_t batches) {
  guarded(state, [&] {
    const std::uint64_t warmup = batches / 10;
    const std::uint64_t total = warmup + batches;
    sb::SharedArray<PingLine> line(1);
    sb::SharedArray<std::uint64_t> samples(total);
    const bool shared_cpu = sb::oversubscribed(2);
    std::vector<std::uint64_t> batch_ns;  // time of each batch of kRoundTripsPerBatch round trips
    for (auto _ : state) {
      line[0].word.store(0);
      sb::ChildGroup group;
      group.spawn("pinger", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(0))) return ctx.fail("sched_setaffinity failed");
        std::atomic<std::uint64_t>& w = line[0].word;
        IdleSpinner spinner(shared_cpu);
        if (!ctx.ready_and_wait()) return 0;
        std::uint64_t v = 1;
        for (std::uint64_t b = 0; b < total; ++b) {
          const std::uint64_t t0 = sb::now_ns();
          for (std::uint64_t k = 0; k < kRoundTripsPerBatch; ++k, v += 2) {
            w.store(v, std::memory_order_release);
            while (w.load(std::memory_order_acquire) != v + 1) spinner.idle();
          }
          samples[b] = sb::now_ns() - t0;
        }
        return 0;
      });
      group.spawn("ponger", [&](sb::ChildContext& ctx) {
        if (!sb::pin_to_cpu(sb::cpu_for(1))) return ctx.fail("sched_setaffinity failed");
        std::atomic<std::uint64_t>& w = line[0].word;
        IdleSpinner spinner(shared_cpu);
        if (!ctx.ready_and_wait()) return 0;
        const std::uint64_t last = 2 * total * kRoundTripsPerBatch - 1;
        for (std::uint64_t v = 1; v <= last; v += 2) {
          while (w.load(std::memory_order_acquire) != v) spinner.idle();
          w.store(v + 1, std::memory_order_release);
        }
        return 0;
      });
      if (!run_children(group, state)) break;
      time_round_trips(state, samples.data(), warmup, total, batch_ns);
    }
    if (state.error_occurred()) return;
    report_round_trips(state, batch_ns);
  });
}

// ---------------------------------------------------------------------------------------------
// Baseline: memcpy bandwidth, the throughput floor. bytes/s counts bytes copied (each is read
// once and written once).

// 64 MiB -> 64 MiB in one call.
void BM_MemcpyLarge(benchmark::State& state) {
  sb::ScopedPin pin(sb::cpu_for(0));
  std::vector<std::byte> src(kRingBytes, std::byte{1}), dst(kRingBytes, std::byte{0});
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kRingBytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kRingBytes));
}

// A hot 4 KiB source copied to consecutive 4 KiB chunks of a 64 MiB destination (wrapping):
// what a producer publishing 4 KiB records into a 64 MiB ring does.
void BM_Memcpy4KiB(benchmark::State& state) {
  constexpr std::size_t kChunk = 4 * kKiB;
  sb::ScopedPin pin(sb::cpu_for(0));
  std::vector<std::byte> src(kChunk, std::byte{1}), dst(kRingBytes, std::byte{0});
  std::size_t offset = 0;
  for (auto _ : state) {
    std::memcpy(dst.data() + offset, src.data(), kChunk);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
    offset = (offset + kChunk) & (kRingBytes - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kChunk));
}

// ---------------------------------------------------------------------------------------------
// Reporting: forwards to the normal display reporter and keeps every run's counters, so that the
// ratios at the end are computed from this run's own results.

class CapturingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CapturingReporter(std::unique_ptr<benchmark::BenchmarkReporter> inner)
      : inner_(std::move(inner)) {}

  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      Captured& c = results_[run.run_name.function_name];
      std::map<std::string, double> values;
      for (const auto& [key, counter] : run.counters) values[key] = counter.value;
      if (run.run_type == Run::RT_Iteration) {
        c.iterations.push_back(std::move(values));
      } else if (run.aggregate_name == "median") {
        c.median = std::move(values);
      }
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }

  // A counter of a benchmark: the median aggregate if there were repetitions, else the median
  // over the runs reported. Empty if the benchmark did not run (filtered out, or failed).
  std::optional<double> get(const std::string& name, const std::string& counter) const {
    const auto it = results_.find(name);
    if (it == results_.end()) return std::nullopt;
    const Captured& c = it->second;
    if (const auto m = c.median.find(counter); m != c.median.end()) return m->second;
    std::vector<double> v;
    for (const auto& run : c.iterations)
      if (const auto r = run.find(counter); r != run.end()) v.push_back(r->second);
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }

 private:
  struct Captured {
    std::map<std::string, double> median;
    std::vector<std::map<std::string, double>> iterations;
  };
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, Captured> results_;
};

std::string fmt_rate(double v) {
  char buf[64];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f M/s", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f k/s", v / 1e3);
  }
  return buf;
}

std::string fmt_bytes(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB/s", v / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string fmt_ns(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f ns", v);
  return buf;
}

// One ratio: a / b, or n/a when either side did not run (filtered out, or failed).
struct Side {
  const char* label;
  const char* benchmark;
  const char* counter;
};

void print_ratio(std::FILE* out, const CapturingReporter& r, const char* what, Side a, Side b,
                 std::string (*fmt)(double)) {
  const std::optional<double> va = r.get(a.benchmark, a.counter);
  const std::optional<double> vb = r.get(b.benchmark, b.counter);
  if (*what != '\0') std::fprintf(out, "  %s\n", what);
  if (!va || !vb || *vb == 0) {
    std::fprintf(out, "      n/a: %s or %s did not run\n", a.benchmark, b.benchmark);
    return;
  }
  std::fprintf(out, "      %s %s / %s %s = %.3fx\n", a.label, fmt(*va).c_str(), b.label,
               fmt(*vb).c_str(), *va / *vb);
}

void print_ratios(std::FILE* out, const CapturingReporter& r) {
  std::string cpus;
  for (int c : sb::cpu_list()) cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
  std::fprintf(out, "\nratios (from this run; medians where there were repetitions; cpus %s%s)\n",
               cpus.c_str(), g_quick ? "; --quick" : "");
  const Side poll64{"ring(poll)", "ring_xproc/1p1r/64B/poll", "items_per_second"};
  const Side peek64{"ring(peek)", "ring_xproc/1p1r/64B/peek", "items_per_second"};
  const Side poll4k{"ring(poll)", "ring_xproc/1p1r/4KiB/poll", "bytes_per_second"};
  const Side peek4k{"ring(peek)", "ring_xproc/1p1r/4KiB/peek", "bytes_per_second"};
  const Side memcpy64m{"memcpy", "base_memcpy/64MiB", "bytes_per_second"};
  const Side busy{"ring(busy)", "ring_latency/busy", "p50_ns"};
  const Side pingpong{"ping-pong", "base_pingpong", "oneway_p50_ns"};
  print_ratio(out, r,
              "64 B records/s, ring 1 producer -> 1 reader (processes) vs moodycamel 1P1C "
              "(threads):",
              poll64, {"moodycamel", "base_moodycamel_1p1c/64B", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "", peek64, {"moodycamel", "base_moodycamel_1p1c/64B", "items_per_second"},
              fmt_rate);
  print_ratio(out, r,
              "64 B records/s, ring 1P -> 1R vs boost::interprocess::message_queue (processes):",
              poll64, {"message_queue", "base_boost_mq/64B", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "4 KiB bytes/s, ring 1P -> 1R vs memcpy 64 MiB -> 64 MiB (one core):", poll4k,
              memcpy64m, fmt_bytes);
  print_ratio(out, r, "", peek4k, memcpy64m, fmt_bytes);
  print_ratio(out, r,
              "one-way latency p50, ring busy-polling reader vs cache-line ping-pong (RTT/2):",
              busy, pingpong, fmt_ns);
  print_ratio(out, r,
              "the busy one-way p50's first part, the publish with the reader watching (send "
              "time to the end of the commit, one clock read inside), vs the whole:",
              {"publish", "ring_latency/busy", "publish_p50_ns"}, busy, fmt_ns);
  print_ratio(out, r,
              "one-way latency p50, ring busy-polling reader vs the same paced, clocked message "
              "through one shared line (its floor measured the same way):",
              busy, {"one line", "base_oneway_line", "p50_ns"}, fmt_ns);
  print_ratio(out, r,
              "one-way latency p50, the same paced, clocked 64 B message through moodycamel "
              "(threads, busy try_dequeue) vs cache-line ping-pong, then the ring's busy reader "
              "and the exclusive ring's vs it:",
              {"moodycamel", "base_moodycamel_latency/busy", "p50_ns"}, pingpong, fmt_ns);
  print_ratio(out, r, "", busy, {"moodycamel", "base_moodycamel_latency/busy", "p50_ns"}, fmt_ns);
  print_ratio(out, r, "", {"ring(busy, exclusive)", "ring_latency/busy/exclusive", "p50_ns"},
              {"moodycamel", "base_moodycamel_latency/busy", "p50_ns"}, fmt_ns);
  print_ratio(out, r,
              "one-way latency p50 measured as the ping-pong is (batches of round trips, no clock "
              "per message), ring one per direction vs cache-line ping-pong:",
              {"ring(2 rings)", "ring_pingpong/64B/two_rings", "oneway_p50_ns"}, pingpong, fmt_ns);
  print_ratio(out, r, "",
              {"ring(2 rings, 1 MiB)", "ring_pingpong/64B/two_rings/ring=1MiB", "oneway_p50_ns"},
              pingpong, fmt_ns);
  print_ratio(out, r,
              "the same with request and answer in one ring (the cluster's shape: both sides "
              "claim, commit and read in it) vs ping-pong:",
              {"ring(1 ring)", "ring_pingpong/64B/one_ring", "oneway_p50_ns"}, pingpong, fmt_ns);
  print_ratio(out, r, "one clock read (about one is inside every one-way sample) vs the ping-pong:",
              {"clock read", "base_clock_read", "ns"}, pingpong, fmt_ns);
  print_ratio(out, r, "one-way latency p50, ring parked reader (futex wake) vs busy-polling:",
              {"ring(parked)", "ring_latency/parked", "p50_ns"}, busy, fmt_ns);
  // Waiting from an event loop: a RingNotifier's two ways (its thread, an io_uring futex wait).
  for (const char* ring : {"shared/rings=1", "exclusive/rings=1"}) {
    const std::string base = std::string("ring_latency/notifier/") + ring;
    const std::string uring = base + "/io_uring", thread = base + "/thread";
    print_ratio(out, r,
                ("a reader woken through a RingNotifier (" + std::string(ring) +
                 "), its process's CPU per record, then the p50, io_uring wait vs thread:")
                    .c_str(),
                {"io_uring", uring.c_str(), "reader_cpu_ns"},
                {"thread", thread.c_str(), "reader_cpu_ns"}, fmt_ns);
    print_ratio(out, r, "", {"io_uring", uring.c_str(), "p50_ns"},
                {"thread", thread.c_str(), "p50_ns"}, fmt_ns);
  }
  // The floor of a wake-up to a parked reader: its own wait() (a futex wake; no eventfd, no loop).
  print_ratio(out, r,
              "the same (shared ring), io_uring wait vs the floor, a reader parked in its own "
              "wait() (64 MiB ring), CPU per record, then the p50:",
              {"io_uring", "ring_latency/notifier/shared/rings=1/io_uring", "reader_cpu_ns"},
              {"wait()", "ring_latency/parked", "reader_cpu_ns"}, fmt_ns);
  print_ratio(out, r, "", {"io_uring", "ring_latency/notifier/shared/rings=1/io_uring", "p50_ns"},
              {"wait()", "ring_latency/parked", "p50_ns"}, fmt_ns);
  // Cache-sized rings (issue 14): the protocol's cost apart from the misses of a 64 MiB ring.
  print_ratio(out, r,
              "64 B records/s, 1P -> 1R with a 1 MiB ring vs moodycamel 1P1C with a 1 MiB pool:",
              {"ring(1 MiB)", "ring_xproc/1p1r/64B/poll/ring=1MiB", "items_per_second"},
              {"moodycamel", "base_moodycamel_1p1c/64B/pool=1MiB", "items_per_second"}, fmt_rate);
  {
    // Per shape with several producers (--shapes), each reader's rate.
    bool first = true;
    for (const Shape& sh : g_shapes) {
      if (sh.producers < 2) continue;
      const std::string shared = "ring_xproc/" + std::to_string(sh.producers) + "p" +
                                 std::to_string(sh.readers) + "r/64B/poll";
      const std::string per_producer = shared + "/ring_per_producer";
      print_ratio(out, r,
                  first ? "64 B records/s per reader, P producers -> R readers, a 64 MiB ring per "
                          "producer (exclusive, read in turn) vs one shared 64 MiB ring, per shape:"
                        : "",
                  {"rings(per producer)", per_producer.c_str(), "items_per_second"},
                  {"ring(shared)", shared.c_str(), "items_per_second"}, fmt_rate);
      first = false;
    }
  }
  print_ratio(out, r,
              "64 B records/s, 1P -> 1R, 1 MiB ring, batches of 16 vs moodycamel 1P1C, 1 MiB pool:",
              {"ring(batch=16)", "ring_xproc/1p1r/64B/poll/ring=1MiB/batch=16", "items_per_second"},
              {"moodycamel", "base_moodycamel_1p1c/64B/pool=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(
      out, r, "the same against moodycamel enqueueing bulks of 16 (enqueue_bulk), 1 MiB pool:",
      {"ring(batch=16)", "ring_xproc/1p1r/64B/poll/ring=1MiB/batch=16", "items_per_second"},
      {"moodycamel(bulk=16)", "base_moodycamel_1p1c/64B/pool=1MiB/bulk=16", "items_per_second"},
      fmt_rate);
  // The skeleton without the ring's bookkeeping (base_claim_seal_1p1c): the locked claim's cost
  // with a reader watching, and how near each ring comes to its skeleton.
  const Side skel_locked{"locked claim", "base_claim_seal_1p1c/64B/ring=1MiB/locked",
                         "items_per_second"};
  const Side skel_plain{"plain claim", "base_claim_seal_1p1c/64B/ring=1MiB/plain",
                        "items_per_second"};
  print_ratio(out, r,
              "64 B records/s, 1P -> 1R skeleton (claim, record, seal; 1 MiB), a locked claim vs "
              "a plain one:",
              skel_locked, skel_plain, fmt_rate);
  const Side skel_locked2{"locked claim+frontier",
                          "base_claim_seal_1p1c/64B/ring=1MiB/locked_frontier", "items_per_second"};
  print_ratio(out, r, "the same, a locked claim and a frontier CAS vs a plain claim:", skel_locked2,
              skel_plain, fmt_rate);
  print_ratio(out, r, "the shared ring vs its skeleton with a locked claim and a frontier CAS:",
              {"ring(1 MiB)", "ring_xproc/1p1r/64B/poll/ring=1MiB", "items_per_second"},
              skel_locked2, fmt_rate);
  print_ratio(out, r, "the exclusive ring vs its skeleton with a plain claim:",
              {"exclusive", "ring_xproc/1p1r/64B/poll/ring=1MiB/exclusive", "items_per_second"},
              skel_plain, fmt_rate);
  print_ratio(out, r,
              "the skeleton with a locked claim and a frontier CAS vs moodycamel 1P1C, 1 MiB pool:",
              skel_locked2,
              {"moodycamel", "base_moodycamel_1p1c/64B/pool=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "the same, a locked claim only:", skel_locked,
              {"moodycamel", "base_moodycamel_1p1c/64B/pool=1MiB", "items_per_second"}, fmt_rate);
  // Exclusive producers (RingConfig::exclusive_producer): no locked instruction on the path.
  const Side mc1{"moodycamel", "base_moodycamel_1p1c/64B/pool=1MiB", "items_per_second"};
  const Side excl1{"exclusive", "ring_xproc/1p1r/64B/poll/ring=1MiB/exclusive", "items_per_second"};
  const Side mc_read{"moodycamel", "base_moodycamel_read/64B", "items_per_second"};
  const Side parked_fenced{"fenced", "ring_latency/parked/exclusive_fenced", "p90_ns"};
  print_ratio(out, r,
              "64 B records/s, 1P -> 1R, 1 MiB ring made for one producer (exclusive) vs "
              "moodycamel 1P1C, 1 MiB pool:",
              excl1, mc1, fmt_rate);
  print_ratio(out, r, "the same vs the shared ring (several producers allowed):", excl1,
              {"shared", "ring_xproc/1p1r/64B/poll/ring=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r,
              "one thread reading 64 B records in the cache, nothing shared (its own instructions "
              "per record), ring poll vs moodycamel try_dequeue_bulk; shared, then exclusive ring:",
              {"ring", "ring_read/64B/ring=1MiB", "items_per_second"}, mc_read, fmt_rate);
  print_ratio(out, r, "",
              {"ring(exclusive)", "ring_read/64B/ring=1MiB/exclusive", "items_per_second"}, mc_read,
              fmt_rate);
  print_ratio(
      out, r, "the same by peek() and consume() (zero-copy, as the cluster's workers read):",
      {"ring(peek)", "ring_read/64B/ring=1MiB/peek", "items_per_second"}, mc_read, fmt_rate);
  print_ratio(out, r,
              "parked reader one-way p90, exclusive ring with fenced commits vs exclusive ring "
              "(its reader in another process: its producer fences on the reader's request), "
              "then vs the shared ring:",
              parked_fenced, {"exclusive", "ring_latency/parked/exclusive", "p90_ns"}, fmt_ns);
  print_ratio(out, r, "", parked_fenced, {"shared", "ring_latency/parked", "p90_ns"}, fmt_ns);
  print_ratio(out, r,
              "64 B records/s, 1P -> 1R, 1 MiB ring, exclusive with fenced commits vs exclusive:",
              {"fenced", "ring_xproc/1p1r/64B/poll/ring=1MiB/exclusive_fenced", "items_per_second"},
              excl1, fmt_rate);
  print_ratio(out, r,
              "one-way latency p50, busy reader, exclusive producer vs cache-line ping-pong:",
              {"ring(exclusive)", "ring_latency/busy/exclusive", "p50_ns"}, pingpong, fmt_ns);
  print_ratio(out, r, "the publish's part with a reader watching, exclusive vs shared:",
              {"exclusive", "ring_latency/busy/exclusive", "publish_p50_ns"},
              {"shared", "ring_latency/busy", "publish_p50_ns"}, fmt_ns);
  print_ratio(out, r,
              "one thread publishing 64 B records/s, 1 MiB ring, exclusive vs shared (no reader):",
              {"exclusive", "ring_publish/64B/ring=1MiB/exclusive", "items_per_second"},
              {"shared", "ring_publish/64B/ring=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r,
              "one thread publishing 64 B records/s (256 KiB ring) vs two locked RMWs, the floor:",
              {"publish", "ring_publish/64B/ring=256KiB", "items_per_second"},
              {"2 RMWs", "base_locked_rmw2", "items_per_second"}, fmt_rate);
  print_ratio(out, r,
              "the same vs writing an 80 B record into the next line, then two locked RMWs:",
              {"publish", "ring_publish/64B/ring=256KiB", "items_per_second"},
              {"store+2 RMWs", "base_store_rmw2/80B/buf=256KiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r,
              "one thread publishing 64 B records/s, 1 MiB ring, with a waiter's count left on "
              "the ring by a dead waiter vs none (a futile FUTEX_WAKE per commit):",
              {"stale count", "ring_publish/64B/ring=1MiB/stale_waiter", "items_per_second"},
              {"none", "ring_publish/64B/ring=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "one thread publishing 64 B records/s, batches of 16 vs one by one (1 MiB):",
              {"batch=16", "ring_publish/64B/batch=16/ring=1MiB", "items_per_second"},
              {"single", "ring_publish/64B/ring=1MiB", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "one thread publishing 64 B records/s, a 1 MiB ring vs a 64 MiB ring:",
              {"1 MiB", "ring_publish/64B/ring=1MiB", "items_per_second"},
              {"64 MiB", "ring_publish/64B", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "publish latency p99.9, 64 MiB ring touched lazily vs pre-faulted:",
              {"lazy", "ring_publish_latency/64B/ring=64MiB/lazy", "p999_ns"},
              {"pre-faulted", "ring_publish_latency/64B/ring=64MiB/prefaulted", "p999_ns"}, fmt_ns);
  print_ratio(out, r, "publish latency max, 64 MiB ring touched lazily vs pre-faulted:",
              {"lazy", "ring_publish_latency/64B/ring=64MiB/lazy", "max_ns"},
              {"pre-faulted", "ring_publish_latency/64B/ring=64MiB/prefaulted", "max_ns"}, fmt_ns);
  // Huge pages (where granted: the rows' huge_MiB) against 4 KiB pages, the 64 MiB ring.
  print_ratio(out, r, "one thread publishing 64 B records/s, 64 MiB ring on huge pages vs 4 KiB:",
              {"huge", "ring_publish/64B/huge", "items_per_second"},
              {"4 KiB", "ring_publish/64B", "items_per_second"}, fmt_rate);
  print_ratio(out, r, "publish latency p99.9, 64 MiB ring pre-faulted on huge pages vs 4 KiB:",
              {"huge", "ring_publish_latency/64B/ring=64MiB/huge", "p999_ns"},
              {"4 KiB", "ring_publish_latency/64B/ring=64MiB/prefaulted", "p999_ns"}, fmt_ns);
  print_ratio(out, r, "publish latency max, 64 MiB ring pre-faulted on huge pages vs 4 KiB:",
              {"huge", "ring_publish_latency/64B/ring=64MiB/huge", "max_ns"},
              {"4 KiB", "ring_publish_latency/64B/ring=64MiB/prefaulted", "max_ns"}, fmt_ns);
  print_ratio(out, r, "64 B records/s, 1P -> 1R through the 64 MiB ring on huge pages vs 4 KiB:",
              {"huge", "ring_xproc/1p1r/64B/poll/huge", "items_per_second"},
              {"4 KiB", "ring_xproc/1p1r/64B/poll", "items_per_second"}, fmt_rate);
  std::fflush(out);
}

// ---------------------------------------------------------------------------------------------

void register_benchmarks() {
  const double min_time = scaled(0.3, 0.05);
  for (std::size_t size : {16 * 1UL, 64 * 1UL, 256 * 1UL, kKiB, 4 * kKiB, 64 * kKiB}) {
    benchmark::RegisterBenchmark(("ring_publish/" + size_name(size)).c_str(), BM_RingPublish, size,
                                 kRingBytes, false, std::size_t{1}, false, false)
        ->MinTime(min_time);
  }
  // The 64 MiB ring on transparent huge pages, where the kernel grants them (huge_MiB says).
  benchmark::RegisterBenchmark("ring_publish/64B/huge", BM_RingPublish, std::size_t{64}, kRingBytes,
                               true, std::size_t{1}, false, false)
      ->MinTime(min_time);
  // Cache-sized rings beside the 64 MiB one (issue 14: the protocol apart from cache misses).
  for (std::uint64_t ring_bytes : {256 * kKiB, kMiB}) {
    benchmark::RegisterBenchmark(("ring_publish/64B/ring=" + size_name(ring_bytes)).c_str(),
                                 BM_RingPublish, std::size_t{64}, ring_bytes, false, std::size_t{1},
                                 false, false)
        ->MinTime(min_time);
    benchmark::RegisterBenchmark(
        ("ring_publish/64B/ring=" + size_name(ring_bytes) + "/exclusive").c_str(), BM_RingPublish,
        std::size_t{64}, ring_bytes, false, std::size_t{1}, true, false)
        ->MinTime(min_time);
  }
  benchmark::RegisterBenchmark("ring_publish/64B/ring=1MiB/stale_waiter", BM_RingPublish,
                               std::size_t{64}, kMiB, false, std::size_t{1}, false, true)
      ->MinTime(min_time);
  // Batches of 16 (one claim and one frontier move per batch; a stamp per record).
  for (std::uint64_t ring_bytes : {kMiB, kRingBytes}) {
    benchmark::RegisterBenchmark(
        ("ring_publish/64B/batch=16/ring=" + size_name(ring_bytes)).c_str(), BM_RingPublish,
        std::size_t{64}, ring_bytes, false, std::size_t{16}, false, false)
        ->MinTime(min_time);
  }
  // Each publish timed: the tail with the ring pre-faulted (as shmio creates it) and touched
  // lazily, on a 64 MiB ring (larger than the cache) and a 1 MiB one; 3 laps of the ring (at most
  // 2 M records).
  for (std::uint64_t ring_bytes : {kMiB, kRingBytes}) {
    for (bool populate : {true, false}) {
      const std::uint64_t records =
          std::min<std::uint64_t>(scaled<std::uint64_t>(2'000'000, 200'000),
                                  3 * ring_bytes / shmio::shm::layout::footprint(64));
      benchmark::RegisterBenchmark(("ring_publish_latency/64B/ring=" + size_name(ring_bytes) +
                                    (populate ? "/prefaulted" : "/lazy"))
                                       .c_str(),
                                   BM_RingPublishLatency,
                                   PublishLatencyConfig{ring_bytes, populate, records})
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  // The same 64 MiB ring pre-faulted on transparent huge pages, where the kernel grants them
  // (huge_MiB says how much; /dev/shm's tmpfs mount decides: huge=advise or always).
  benchmark::RegisterBenchmark(
      "ring_publish_latency/64B/ring=64MiB/huge", BM_RingPublishLatency,
      PublishLatencyConfig{
          kRingBytes, true,
          std::min<std::uint64_t>(scaled<std::uint64_t>(2'000'000, 200'000),
                                  3 * kRingBytes / shmio::shm::layout::footprint(64)),
          true})
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);

  const std::int64_t iterations = scaled(2, 1);
  for (std::size_t size : {64 * 1UL, 4 * kKiB}) {
    // 2 (64 B: a 64-byte footprint since layout version 5) and 6 (4 KiB) times the ring's 64 MiB
    // per iteration: a
    // reader that does not keep up is lapped, and the loss shows in 'lost'.
    const std::uint64_t records = size <= 64 ? scaled<std::uint64_t>(2'000'000, 100'000)
                                             : scaled<std::uint64_t>(100'000, 10'000);
    for (const Shape& s : g_shapes) {
      for (bool zero_copy : {false, true}) {
        if (zero_copy && !(s.producers == 1 && s.readers == 1)) continue;  // 1P1R only
        const std::string name = "ring_xproc/" + std::to_string(s.producers) + "p" +
                                 std::to_string(s.readers) + "r/" + size_name(size) +
                                 (zero_copy ? "/peek" : "/poll");
        benchmark::RegisterBenchmark(name.c_str(), BM_RingXproc,
                                     XprocConfig{s.producers, s.readers, size, zero_copy, records})
            ->Iterations(iterations)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }

  // 1P -> 1R with cache-sized rings (64 B, poll), beside the 64 MiB ring's rows above; the reader
  // may be lapped (a small ring holds 4-16 K records): 'lost' says so.
  for (std::uint64_t ring_bytes : {256 * kKiB, kMiB}) {
    const std::string name = "ring_xproc/1p1r/64B/poll/ring=" + size_name(ring_bytes);
    benchmark::RegisterBenchmark(
        name.c_str(), BM_RingXproc,
        XprocConfig{1, 1, 64, false, scaled<std::uint64_t>(2'000'000, 100'000), ring_bytes})
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  // 1P -> 1R through the 64 MiB ring on transparent huge pages, where granted (huge_MiB).
  {
    XprocConfig huge{1, 1, 64, false, scaled<std::uint64_t>(2'000'000, 100'000)};
    huge.huge_pages = true;
    benchmark::RegisterBenchmark("ring_xproc/1p1r/64B/poll/huge", BM_RingXproc, huge)
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  // An exclusive producer (RingConfig::exclusive_producer: claim and commit without a locked
  // instruction), 64 B through the 1 MiB and the 64 MiB ring. (Until layout version 5 there were
  // 48 B rows too: then the records of one 64-byte line, the header taking 16 B of it.)
  // And the 1 MiB ring made with fenced commits (RingConfig::fenced_commits: what the fence on
  // every commit costs the throughput).
  for (const auto& [ring_bytes, fenced] :
       {std::pair{kMiB, false}, std::pair{kRingBytes, false}, std::pair{kMiB, true}}) {
    XprocConfig cfg{1, 1, 64, false, scaled<std::uint64_t>(2'000'000, 100'000), ring_bytes};
    cfg.exclusive = true;
    cfg.fenced = fenced;
    const std::string name = "ring_xproc/1p1r/64B/poll" +
                             (ring_bytes == kRingBytes ? "" : "/ring=" + size_name(ring_bytes)) +
                             (fenced ? "/exclusive_fenced" : "/exclusive");
    benchmark::RegisterBenchmark(name.c_str(), BM_RingXproc, cfg)
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  // The shapes above with several producers (2p1r, 4p1r, 2p2r by default), each producer with a
  // 64 MiB ring of its own made for one producer (exclusive) that every reader reads in turn:
  // the shape of docs/ring-per-worker.md, beside the same shapes through one shared 64 MiB ring.
  // (On 2 vCPUs three or more processes share two CPUs, as the label says: a producer then often
  // publishes while its reader waits for the CPU, and the reader reads what it wrote in the cache.)
  for (const Shape& s : g_shapes) {
    if (s.producers < 2) continue;
    XprocConfig cfg{s.producers, s.readers, 64, false, scaled<std::uint64_t>(2'000'000, 100'000)};
    cfg.ring_per_producer = true;
    const std::string name = "ring_xproc/" + std::to_string(s.producers) + "p" +
                             std::to_string(s.readers) + "r/64B/poll/ring_per_producer";
    benchmark::RegisterBenchmark(name.c_str(), BM_RingXproc, cfg)
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  // The producer publishing batches of 16 (one claim and one frontier move per batch).
  benchmark::RegisterBenchmark(
      "ring_xproc/1p1r/64B/poll/ring=1MiB/batch=16", BM_RingXproc,
      XprocConfig{1, 1, 64, false, scaled<std::uint64_t>(2'000'000, 100'000), kMiB, 16})
      ->Iterations(iterations)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);

  // (exclusive_fenced: a ring made with RingConfig::fenced_commits, whose parkers skip
  // membarrier(); parked only, where that call was paid. Since layout version 8 a parker in
  // another process, as these readers are, asks the producer of an exclusive ring to fence its
  // commits and skips the call once it has: the two parked rows then measure the same protocol.)
  struct RingKind {
    const char* suffix;
    bool exclusive, fenced, parked_only;
  };
  for (const RingKind& kind :
       {RingKind{"", false, false, false}, RingKind{"/exclusive", true, false, false},
        RingKind{"/exclusive_fenced", true, true, true}}) {
    for (bool parked : {false, true}) {
      if (kind.parked_only && !parked) continue;
      LatencyConfig cfg{parked, scaled<std::uint64_t>(1'000, 200),
                        scaled<std::uint64_t>(20'000, 2'000), 50'000, kind.exclusive};
      cfg.fenced = kind.fenced;
      const std::string name =
          std::string(parked ? "ring_latency/parked" : "ring_latency/busy") + kind.suffix;
      benchmark::RegisterBenchmark(name.c_str(), BM_RingLatency, cfg)
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kNanosecond);
    }
  }

  // A reader parked in poll(2) on one RingNotifier over 1 or 4 rings made for one producer (1 MiB
  // each), or one shared ring, the producer publishing to them in turn: what waiting on several
  // rings at once costs, and each way of waiting (the io_uring rows only where the kernel has it).
  for (const NotifierMode mode : {NotifierMode::thread, NotifierMode::io_uring}) {
    if (!RingNotifier::supports(mode)) {
      std::fprintf(stderr, "note: no ring_latency/notifier/.../%s rows: not on this kernel\n",
                   std::string(to_string(mode)).c_str());
      continue;
    }
    for (const auto& [n, exclusive] :
         {std::pair{1, true}, std::pair{4, true}, std::pair{1, false}}) {
      LatencyConfig cfg{true, scaled<std::uint64_t>(1'000, 200),
                        scaled<std::uint64_t>(20'000, 2'000), 50'000, exclusive};
      cfg.notifier_rings = n;
      cfg.notifier_mode = mode;
      const std::string name = std::string("ring_latency/notifier/") +
                               (exclusive ? "exclusive" : "shared") +
                               "/rings=" + std::to_string(n) + "/" + std::string(to_string(mode));
      benchmark::RegisterBenchmark(name.c_str(), BM_RingLatency, cfg)
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kNanosecond);
    }
  }

  for (const bool one_ring : {true, false}) {
    for (const std::uint64_t ring_bytes : {kMiB, kRingBytes}) {
      const std::string name = std::string("ring_pingpong/64B/") +
                               (one_ring ? "one_ring" : "two_rings") +
                               (ring_bytes == kRingBytes ? "" : "/ring=" + size_name(ring_bytes));
      benchmark::RegisterBenchmark(
          name.c_str(), BM_RingPingPong,
          RingPingPongConfig{one_ring, ring_bytes, scaled<std::uint64_t>(20'000, 2'000)})
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kNanosecond);
    }
  }

  for (bool zero_copy : {false, true})
    for (bool exclusive : {false, true})
      benchmark::RegisterBenchmark((std::string("ring_read/64B/ring=1MiB") +
                                    (exclusive ? "/exclusive" : "") + (zero_copy ? "/peek" : ""))
                                       .c_str(),
                                   BM_RingRead, exclusive, zero_copy)
          ->Iterations(scaled<std::int64_t>(4000, 20))
          ->UseManualTime();
  benchmark::RegisterBenchmark("base_moodycamel_read/64B", BM_MoodycamelRead)
      ->Iterations(scaled<std::int64_t>(4000, 20))
      ->UseManualTime();
  benchmark::RegisterBenchmark("base_moodycamel_1p1c/64B", BM_Moodycamel,
                               scaled<std::uint64_t>(5'000'000, 500'000), kMoodycamelInitialItems,
                               std::size_t{1})
      ->Iterations(iterations)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto& [how, name] :
       {std::pair{Claim::locked_and_frontier, "locked_frontier"},
        std::pair{Claim::locked, "locked"}, std::pair{Claim::plain, "plain"}})
    benchmark::RegisterBenchmark(
        (std::string("base_claim_seal_1p1c/64B/ring=1MiB/") + name).c_str(), BM_ClaimSeal, how,
        scaled<std::uint64_t>(5'000'000, 500'000))
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  // With a footprint comparable to a 1 MiB ring: 16 Ki items of 64 B in its initial pool.
  for (std::size_t bulk : {std::size_t{1}, std::size_t{16}}) {
    benchmark::RegisterBenchmark(
        ("base_moodycamel_1p1c/64B/pool=1MiB" + (bulk == 1 ? std::string() : "/bulk=16")).c_str(),
        BM_Moodycamel, scaled<std::uint64_t>(5'000'000, 500'000), std::size_t{16384}, bulk)
        ->Iterations(iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("base_boost_mq/64B", BM_BoostMq, std::size_t{64},
                               scaled<std::uint64_t>(500'000, 50'000))
      ->Iterations(iterations)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("base_boost_mq/4KiB", BM_BoostMq, std::size_t{4 * kKiB},
                               scaled<std::uint64_t>(100'000, 10'000))
      ->Iterations(iterations)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("base_locked_rmw2", BM_LockedRmw2)->MinTime(min_time);
  benchmark::RegisterBenchmark("base_clock_read", BM_ClockRead)
      ->Iterations(3)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("base_store_rmw2/80B/buf=256KiB", BM_StoreRmw2)->MinTime(min_time);
  // ring_latency/busy's message without the ring, and through moodycamel.
  using LatencyRow = void (*)(benchmark::State&, LatencyConfig);
  for (const auto& [name, row] :
       {std::pair<const char*, LatencyRow>{"base_oneway_line", BM_OneWayLine},
        {"base_moodycamel_latency/busy", BM_MoodycamelLatency}})
    benchmark::RegisterBenchmark(name, row,
                                 LatencyConfig{false, scaled<std::uint64_t>(1'000, 200),
                                               scaled<std::uint64_t>(20'000, 2'000), 50'000})
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark("base_pingpong", BM_PingPong, scaled<std::uint64_t>(20'000, 2'000))
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark("base_memcpy/64MiB", BM_MemcpyLarge)->MinTime(min_time);
  benchmark::RegisterBenchmark("base_memcpy/4KiB_chunks", BM_Memcpy4KiB)->MinTime(min_time);
}

void print_usage() {
  std::printf(
      "shm_ring_bench: shmio ring microbenchmarks and baselines.\n"
      "  --cpus=LIST   CPUs to pin to, e.g. 0,1 or 0-3 (default: the affinity mask)\n"
      "  --shapes=L    ring_xproc's shapes, e.g. 1p1r,8p8r,15p1r (default "
      "1p1r,2p2r,1p2r,1p4r,1p8r,2p1r,4p1r)\n"
      "  --quick       small counts, for CI smoke runs\n"
      "Google Benchmark flags follow.\n\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Take our own flags out of argv before Google Benchmark sees it.
  std::vector<char*> args{argv[0]};
  std::string cpus_text;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      g_quick = true;
      continue;
    }
    if (a.starts_with("--cpus=")) {
      cpus_text = a.substr(7);
      continue;
    }
    if (a.starts_with("--shapes=")) {
      if (const std::string err = parse_shapes(a.substr(9), g_shapes); !err.empty()) {
        std::fprintf(stderr, "shm_ring_bench: --shapes: %s\n", err.c_str());
        return 2;
      }
      continue;
    }
    if (a == "--cpus") {
      std::fprintf(stderr, "shm_ring_bench: write --cpus=LIST (e.g. --cpus=0,1)\n");
      return 2;
    }
    if (a == "--help" || a == "-h") print_usage();
    if (a == "--benchmark_format=json") json = true;
    args.push_back(argv[i]);
  }

  const std::vector<int> allowed = sb::affinity_cpus();
  std::vector<int>& cpus = sb::cpu_list();
  if (cpus_text.empty()) {
    cpus = allowed;
  } else {
    if (const std::string err = sb::parse_cpu_list(cpus_text, cpus); !err.empty()) {
      std::fprintf(stderr, "shm_ring_bench: --cpus: %s\n", err.c_str());
      return 2;
    }
    for (int c : cpus) {
      if (std::find(allowed.begin(), allowed.end(), c) == allowed.end()) {
        std::fprintf(stderr,
                     "shm_ring_bench: --cpus: CPU %d is not in this process's affinity "
                     "mask\n",
                     c);
        return 2;
      }
    }
  }
  if (cpus.empty()) {
    std::fprintf(stderr, "shm_ring_bench: no CPU to run on\n");
    return 2;
  }

  int bench_argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;

  ::signal(SIGINT, unlink_live_and_die);
  ::signal(SIGTERM, unlink_live_and_die);
  register_benchmarks();

  std::unique_ptr<benchmark::BenchmarkReporter> display;
  if (json) {
    display = std::make_unique<benchmark::JSONReporter>();
  } else {
    display = std::make_unique<benchmark::ConsoleReporter>(
        ::isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                : benchmark::ConsoleReporter::OO_None);
  }
  CapturingReporter reporter(std::move(display));
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::cout.flush();
  // With JSON on stdout the ratios go to stderr, so that stdout stays one JSON document.
  print_ratios(json ? stderr : stdout, reporter);
  benchmark::Shutdown();
  return 0;
}
