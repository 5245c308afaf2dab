// Multi-process behaviour with real processes: P producer processes x M reader processes on one
// ring, across many wraparounds; and an oversubscribed tiny ring where producers are preempted
// between claim and write as often as possible (the stale-claim hazard).
#include <sched.h>
#include <sys/mman.h>

#include <gtest/gtest.h>
#include <random>

#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::CheckedRecord;
using test::RingName;

// What each reader process reports back through an anonymous shared mapping.
struct ReaderReport {
  std::uint64_t records;
  std::uint64_t order_hash;
  std::uint64_t bad;  // checksum failures or out-of-order records
  std::uint64_t lost;
  std::uint64_t laps;
  char failure[120];
};

template <class T>
T* shared_array(std::size_t n) {
  void* p =
      ::mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap");
  return new (p) T[n]{};
}

// Test-level flow control, so that this test can demand exactly-once delivery: a producer waits
// while the slowest active reader is more than half a ring behind. (The ring itself never makes
// producers wait for readers; this uses only the positions readers publish in the registry.)
void wait_for_readers(const Segment& s, std::uint64_t position) {
  for (;;) {
    std::uint64_t slowest = position;
    for (std::uint16_t i = 0; i < s.max_readers(); ++i) {
      const auto& slot = s.reader_slot(i);
      if (slot.state.load(std::memory_order_acquire) != layout::kSlotActive) continue;
      slowest = std::min(slowest, slot.position.load(std::memory_order_relaxed));
    }
    if (position - slowest < s.capacity() / 2) return;
    ::sched_yield();
  }
}

int run_reader(const std::string& name, int producers, std::uint64_t expected, ReaderReport& report,
               bool lossy, int ready_fd) {
  auto seg = Segment::attach(name);
  if (!seg) return 10;
  auto r = RingReader::attach(*seg, {.label = "test-reader", .core = -1, .start = StartAt::latest});
  if (!r) return 11;
  char c = 1;
  if (::write(ready_fd, &c, 1) != 1) return 12;
  std::vector<std::uint64_t> next(static_cast<std::size_t>(producers), 0);
  std::uint64_t h = 1469598103934665603ULL;
  while (report.records + (lossy ? r->total_loss().records : 0) < expected) {
    if (!r->wait(std::chrono::seconds(60))) {
      std::snprintf(report.failure, sizeof report.failure, "timed out after %llu records",
                    static_cast<unsigned long long>(report.records));
      return 13;
    }
    r->poll([&](const RecordView& v) {
      const auto p = CheckedRecord::producer(v.payload);
      const auto q = CheckedRecord::seq(v.payload);
      if (!CheckedRecord::valid(v.payload) || p >= next.size() || q < next[p] ||
          (!lossy && q != next[p])) {
        if (report.bad++ == 0)
          std::snprintf(report.failure, sizeof report.failure, "bad record p=%u q=%llu next=%llu",
                        p, static_cast<unsigned long long>(q),
                        static_cast<unsigned long long>(p < next.size() ? next[p] : 0));
        return;
      }
      next[p] = q + 1;
      ++report.records;
      const std::uint64_t key = (std::uint64_t{p} << 48) ^ q;
      h = test::fnv1a(reinterpret_cast<const std::byte*>(&key), 8, h);
    });
  }
  report.order_hash = h;
  report.lost = r->total_loss().records;
  report.laps = seg->reader_slot(r->id()).laps.load();
  return 0;
}

struct ProducerPlan {
  std::uint64_t records;
  std::size_t min_size, max_size;
  bool flow_control;
  bool yield_after_claim;  // widen the window between claim and write
};

thread_local bool g_yield_hook = false;
void yield_hook(core::HookPoint point, std::uint64_t) {
  if (g_yield_hook && point == core::HookPoint::after_fetch_add) ::sched_yield();
}

int run_producer(const std::string& name, std::uint32_t id, const ProducerPlan& plan) {
  auto seg = Segment::attach(name);
  if (!seg) return 20;
  auto w = RingWriter::attach(*seg, {.label = "test-producer-" + std::to_string(id), .core = -1});
  if (!w) return 21;
  if (plan.yield_after_claim) {
    g_yield_hook = true;
    core::set_test_hook(&yield_hook);
  }
  std::mt19937 rng(id * 7919 + 1);
  std::uniform_int_distribution<std::size_t> size(plan.min_size, plan.max_size);
  for (std::uint64_t q = 0; q < plan.records; ++q) {
    const std::size_t n = size(rng);
    if (plan.flow_control)
      wait_for_readers(*seg, seg->control().tail.tail.load(std::memory_order_relaxed));
    auto c = w->claim(n, 1);
    if (c.status != PublishStatus::ok) return 22;
    CheckedRecord::fill(c.payload, id, q);
    w->commit();
  }
  return 0;
}

struct Topology {
  int producers, readers;
  std::uint64_t capacity;
  std::uint32_t max_record;
  ProducerPlan plan;
  bool lossy;
};

void run_topology(const Topology& t, ReaderReport* reports) {
  RingName name("proc");
  auto s = test::make_ring(name, t.capacity, t.max_record);
  const std::uint64_t expected = t.plan.records * static_cast<std::uint64_t>(t.producers);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  std::vector<pid_t> readers, producers;
  for (int i = 0; i < t.readers; ++i)
    readers.push_back(test::spawn([&, i] {
      ::close(ready[0]);
      return run_reader(name, t.producers, expected, reports[i], t.lossy, ready[1]);
    }));
  ::close(ready[1]);
  for (int i = 0; i < t.readers; ++i) {  // every reader attached before anything is published
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1) << "a reader died before attaching";
  }
  ::close(ready[0]);
  test::StartLine go;
  for (int i = 0; i < t.producers; ++i)
    producers.push_back(test::spawn([&, i] {
      go.wait_in_child();
      return run_producer(name, static_cast<std::uint32_t>(i), t.plan);
    }));
  go.release();
  for (pid_t p : producers) EXPECT_EQ(test::join(p), 0) << "producer failed";
  for (int i = 0; i < t.readers; ++i)
    EXPECT_EQ(test::join(readers[static_cast<std::size_t>(i)]), 0)
        << "reader " << i << ": " << reports[i].failure;
  // Whole laps went by.
  EXPECT_GT(s.control().tail.tail.load(), 10 * t.capacity);
}

TEST(RingProcesses, ThreeProducersThreeReadersExactlyOnceInOneOrderAcrossManyLaps) {
  Topology t{3, 3, 1 << 20, 4096, {20'000, CheckedRecord::kHeader, 4096, true, false}, false};
  auto* reports = shared_array<ReaderReport>(3);
  run_topology(t, reports);
  for (int i = 0; i < t.readers; ++i) {
    EXPECT_EQ(reports[i].records, 60'000u) << "reader " << i;
    EXPECT_EQ(reports[i].bad, 0u) << reports[i].failure;
    EXPECT_EQ(reports[i].lost, 0u);
    EXPECT_EQ(reports[i].order_hash, reports[0].order_hash)
        << "reader " << i << " saw another order";
  }
  ::munmap(reports, sizeof(ReaderReport) * 3);
}

TEST(RingProcesses, OversubscribedTinyRingNeverDeliversACorruptRecord) {
  // 8 producers on 2 cores, a 64 KiB ring, producers yield right after their fetch_add so that
  // many are preempted between claim and write; readers are lossy (no flow control). Any stale
  // claim writing into newer space would show up as a checksum failure or a sequence regression.
  Topology t{8, 2, 1 << 16, 2048, {15'000, CheckedRecord::kHeader, 2048, false, true}, true};
  auto* reports = shared_array<ReaderReport>(2);
  run_topology(t, reports);
  for (int i = 0; i < t.readers; ++i) {
    EXPECT_EQ(reports[i].bad, 0u) << reports[i].failure;
    EXPECT_GT(reports[i].records, 0u);
    EXPECT_EQ(reports[i].records + reports[i].lost, 120'000u) << "delivered + lost = published";
  }
  ::munmap(reports, sizeof(ReaderReport) * 2);
}

}  // namespace
}  // namespace shmio::shm
