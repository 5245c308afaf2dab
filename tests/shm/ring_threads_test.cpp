// In-process concurrency: several writer threads and reader threads on one ring. This is the
// test the TSan build runs; the multi-process tests cover the same protocol across processes.
#include <gtest/gtest.h>

#include <barrier>
#include <random>
#include <thread>

#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::CheckedRecord;
using test::RingName;

struct ReaderResult {
  std::uint64_t records = 0;
  std::uint64_t order_hash = 1469598103934665603ULL;  // over (producer, seq) in delivery order
  bool ok = true;
  std::string failure;
};

TEST(RingThreads, EveryReaderSeesEveryRecordOnceInOneGlobalOrder) {
  constexpr int kWriters = 3, kReaders = 3;
  constexpr std::uint64_t kPerWriter = 20'000;
  RingName name("threads");
  // Large enough that readers are never lapped: this test is about exactly-once and order.
  auto s = test::make_ring(name, 64ULL << 20, 512);
  std::vector<RingReader> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(std::move(RingReader::attach(s).value()));

  std::vector<ReaderResult> results(kReaders);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&, i] {
      ReaderResult& res = results[i];
      std::vector<std::uint64_t> next(kWriters, 0);
      while (res.records < kWriters * kPerWriter && res.ok) {
        if (!readers[i].wait(std::chrono::seconds(20))) {
          res.ok = false;
          res.failure = "timed out";
          break;
        }
        readers[i].poll([&](const RecordView& v) {
          const auto p = CheckedRecord::producer(v.payload);
          const auto q = CheckedRecord::seq(v.payload);
          if (!CheckedRecord::valid(v.payload) || p >= kWriters || q != next[p]) {
            res.ok = false;
            res.failure = "bad record from " + std::to_string(p) + " seq " + std::to_string(q);
            return;
          }
          // Each record's index (stamped by whoever moved the frontier over it: its committer,
          // a batch at once, or another advancer) is its place in the global order.
          if (v.index != res.records) {
            res.ok = false;
            res.failure =
                "record " + std::to_string(res.records) + " has index " + std::to_string(v.index);
            return;
          }
          ++next[p];
          ++res.records;
          std::uint64_t key = (std::uint64_t{p} << 48) ^ q;
          res.order_hash = test::fnv1a(reinterpret_cast<const std::byte*>(&key), 8, res.order_hash);
        });
      }
    });
  }
  for (int wi = 0; wi < kWriters; ++wi) {
    threads.emplace_back([&, wi] {
      auto w = RingWriter::attach(s).value();
      std::mt19937 rng(wi);
      std::uniform_int_distribution<std::size_t> size(CheckedRecord::kHeader, 512);
      std::vector<std::byte> buf(512);
      std::vector<std::byte> batch_buf(4 * 512);
      for (std::uint64_t q = 0; q < kPerWriter; ++q) {
        const std::size_t n = size(rng);
        if (q % 3 == 0) {
          auto c = w.claim(n, 1);  // in-place path
          CheckedRecord::fill(c.payload, static_cast<std::uint32_t>(wi), q);
          w.commit();
        } else if (q % 3 == 1 && q + 4 < kPerWriter) {  // a batch of 1-4 (one frontier move)
          // (a batch is bounded like one record: 4 footprints of at most 128 B fit 512 B)
          BatchRecord batch[4];
          const std::size_t k = 1 + rng() % 4;
          const std::size_t m = CheckedRecord::kHeader + n % (100 - CheckedRecord::kHeader);
          for (std::size_t b = 0; b < k; ++b) {
            std::span<std::byte> part{batch_buf.data() + b * 512, m};
            CheckedRecord::fill(part, static_cast<std::uint32_t>(wi), q + b);
            batch[b] = {1, part};
          }
          ASSERT_EQ(w.publish_batch({batch, k}), PublishStatus::ok);
          q += k - 1;
        } else {
          CheckedRecord::fill({buf.data(), n}, static_cast<std::uint32_t>(wi), q);
          ASSERT_EQ(w.publish(1, {buf.data(), n}), PublishStatus::ok);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_TRUE(results[i].ok) << "reader " << i << ": " << results[i].failure;
    EXPECT_EQ(results[i].records, kWriters * kPerWriter);
    EXPECT_EQ(results[i].order_hash, results[0].order_hash)
        << "reader " << i << " saw another order";
    EXPECT_EQ(readers[i].total_loss().records, 0u);
  }
}

// No advance is lost (docs/ring.md, "The committer's own records"): with no reader and no gate
// wait to help, only the committers move the frontier, so whenever every writer is done it must
// have passed every record. A committer at the frontier that wins its CAS checks for records
// sealed after its own by the tail, or the seal at its end (move_frontier); one not at the
// frontier fences and looks at the frontier (C3): if either side's look were missing, a record
// sealed while its predecessor's CAS was in flight could be left below the tail. (A later
// committer's C3 passes such a record, so the check is made at the end of each of many short
// rounds, where the writers' last records race.)
TEST(RingThreads, CommittersAloneMoveTheFrontierOverEveryRecord) {
  constexpr int kWriters = 4;  // more than the cores of a small machine: preempted mid-commit too
  constexpr int kRounds = 4'000;
  RingName name("threads-frontier");
  // 4 writers x 4,000 rounds x at most 2 records of at most 128 B fit 64 MiB: no gate waits.
  auto s = test::make_ring(name, 64ULL << 20, 512);
  std::uint64_t published = 0;
  int left_behind = 0, first_round = -1, round = 0;
  std::barrier done(kWriters, [&]() noexcept {
    const std::uint64_t tail = s.control().tail.tail.load();
    if (s.control().frontier.frontier.load() != tail) {
      if (left_behind++ == 0) first_round = round;
      core::advance_frontier(s);  // (so that the next round starts from a clean frontier)
    }
    ++round;
  });
  std::atomic<std::uint64_t> count{0};
  std::vector<std::thread> threads;
  for (int wi = 0; wi < kWriters; ++wi) {
    threads.emplace_back([&, wi] {
      auto w = RingWriter::attach(s).value();
      std::vector<std::byte> buf(2 * 128);  // one 128-byte part per record of a batch
      BatchRecord batch[2];
      std::uint64_t q = 0;
      for (int r = 0; r < kRounds; ++r) {
        const std::size_t n =
            CheckedRecord::kHeader + (q * 7 + static_cast<std::uint64_t>(wi)) % 100;
        switch ((r + wi) % 3) {
          case 0: {
            auto c = w.claim(n, 1);
            EXPECT_EQ(c.status, PublishStatus::ok);  // (no early return: the others wait for us)
            if (c.status != PublishStatus::ok) break;
            CheckedRecord::fill(c.payload, static_cast<std::uint32_t>(wi), q++);
            w.commit();
            count.fetch_add(1, std::memory_order_relaxed);
            break;
          }
          case 1:  // a batch of 2 (one frontier move)
            for (std::size_t b = 0; b < 2; ++b) {
              const std::span<std::byte> part{buf.data() + b * 128, n};
              CheckedRecord::fill(part, static_cast<std::uint32_t>(wi), q++);
              batch[b] = {1, part};
            }
            EXPECT_EQ(w.publish_batch(batch), PublishStatus::ok);
            count.fetch_add(2, std::memory_order_relaxed);
            break;
          default:
            CheckedRecord::fill({buf.data(), n}, static_cast<std::uint32_t>(wi), q++);
            EXPECT_EQ(w.publish(1, {buf.data(), n}), PublishStatus::ok);
            count.fetch_add(1, std::memory_order_relaxed);
        }
        done.arrive_and_wait();
      }
    });
  }
  for (auto& t : threads) t.join();
  published = count.load();
  EXPECT_EQ(left_behind, 0) << "records sealed by their committers were left behind the frontier "
                            << "at the end of " << left_behind << " rounds (the first: round "
                            << first_round << ")";
  const std::uint64_t tail = s.control().tail.tail.load();
  EXPECT_EQ(s.control().frontier.frontier.load(), tail);
  // Every record counted once: the index stamped at the tail is the number of records.
  EXPECT_EQ(s.meta(tail).index.load(), published);
}

TEST(RingThreads, TinyRingWithLappedReadersNeverDeliversTornRecords) {
  constexpr int kWriters = 3;
  constexpr std::uint64_t kPerWriter = 30'000;
  RingName name("threads-tiny");
  auto s = test::make_ring(name, 1 << 16, 2048);
  auto reader = RingReader::attach(s).value();
  std::atomic<int> writers_done{0};
  std::uint64_t delivered = 0, bad = 0;
  std::thread rt([&] {
    std::vector<std::uint64_t> last(kWriters, 0);
    std::vector<bool> seen(kWriters, false);
    while (writers_done.load() < kWriters || reader.ready()) {
      reader.wait(std::chrono::milliseconds(5));
      reader.poll([&](const RecordView& v) {
        const auto p = CheckedRecord::producer(v.payload);
        const auto q = CheckedRecord::seq(v.payload);
        if (!CheckedRecord::valid(v.payload) || p >= kWriters || (seen[p] && q <= last[p])) {
          ++bad;
          return;
        }
        seen[p] = true;
        last[p] = q;
        ++delivered;
      });
    }
  });
  std::vector<std::thread> ws;
  for (int wi = 0; wi < kWriters; ++wi) {
    ws.emplace_back([&, wi] {
      auto w = RingWriter::attach(s).value();
      std::vector<std::byte> buf(2048);
      std::mt19937 rng(wi + 100);
      std::uniform_int_distribution<std::size_t> size(CheckedRecord::kHeader, 2048);
      for (std::uint64_t q = 0; q < kPerWriter; ++q) {
        const std::size_t n = size(rng);
        CheckedRecord::fill({buf.data(), n}, static_cast<std::uint32_t>(wi), q);
        ASSERT_EQ(w.publish(1, {buf.data(), n}), PublishStatus::ok);
      }
      writers_done.fetch_add(1);
    });
  }
  for (auto& t : ws) t.join();
  rt.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(delivered, 0u);
  // Whatever was not delivered was reported lost, exactly.
  EXPECT_EQ(delivered + reader.total_loss().records, kWriters * kPerWriter);
}

}  // namespace
}  // namespace shmio::shm
