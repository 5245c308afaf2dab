// RingSetReader: one reader over a ring per producer. Every ring's records arrive, each ring's in
// its order; no ring waits more than one round of calls behind a busy one; wait() parks on every
// ring at once and wakes for a commit on any of them; bad sets are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "shmio/shm/ring.hpp"
#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::CheckedRecord;
using test::RingName;

TEST(RingSet, EveryRingsRecordsArriveInEachRingsOrder) {
  constexpr std::size_t kRings = 3;
  constexpr std::uint64_t kRecords = 5'000;  // 64 B each: a 1 MiB ring is never lapped
  RingName n0("set-order-0"), n1("set-order-1"), n2("set-order-2");
  std::vector<Segment> rings;
  rings.push_back(test::make_ring(n0, 1 << 20, 0, true));
  rings.push_back(test::make_ring(n1, 1 << 20, 0, true));
  rings.push_back(test::make_ring(n2, 1 << 20));  // a shared ring in the set too
  const Segment* segments[kRings] = {&rings[0], &rings[1], &rings[2]};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->size(), kRings);
  std::vector<std::thread> producers;
  for (std::size_t p = 0; p < kRings; ++p) {
    producers.emplace_back([&, p] {
      auto w = RingWriter::attach(rings[p]);
      std::vector<std::byte> buf(64);
      for (std::uint64_t seq = 0; seq < kRecords; ++seq) {
        CheckedRecord::fill(buf, static_cast<std::uint32_t>(p), seq);
        ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
      }
    });
  }
  std::uint64_t next[kRings] = {0, 0, 0};
  std::uint64_t got = 0, bad = 0;
  while (got < kRings * kRecords) {
    const std::size_t n = set->poll([&](std::size_t ring, const RecordView& v) {
      bad += !CheckedRecord::valid(v.payload) || CheckedRecord::producer(v.payload) != ring ||
             CheckedRecord::seq(v.payload) != next[ring];
      ++next[ring];
    });
    got += n;
    if (n == 0) {
      ASSERT_TRUE(set->wait(std::chrono::seconds(30))) << "stalled at " << got;
    }
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(bad, 0u);
  for (std::size_t i = 0; i < kRings; ++i) EXPECT_EQ(next[i], kRecords) << "ring " << i;
  EXPECT_EQ(set->total_loss().records, 0u);
  EXPECT_FALSE(set->ready());
}

// Ring 0 holds far more than a call's budget; ring 1 one record: it arrives within two calls
// (size() calls at most), whichever ring a call starts with.
TEST(RingSet, NoRingWaitsMoreThanARoundOfCallsBehindABusyOne) {
  RingName n0("set-fair-0"), n1("set-fair-1");
  auto busy = test::make_ring(n0, 1 << 20, 0, true);
  auto quiet = test::make_ring(n1, 1 << 20, 0, true);
  const Segment* segments[] = {&busy, &quiet};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set);
  auto wb = RingWriter::attach(busy);
  auto wq = RingWriter::attach(quiet);
  std::vector<std::byte> buf(64);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(wb->publish(1, buf), PublishStatus::ok);
  ASSERT_EQ(wq->publish(2, buf), PublishStatus::ok);
  std::size_t calls = 0, quiet_seen_at = 0;
  while (quiet_seen_at == 0 && calls < 10) {
    ++calls;
    set->poll(
        [&](std::size_t ring, const RecordView&) {
          if (ring == 1) quiet_seen_at = calls;
        },
        10);
  }
  EXPECT_GE(quiet_seen_at, 1u);
  EXPECT_LE(quiet_seen_at, set->size()) << "the quiet ring's record waited too long";
}

// The reader parks (it counts among every ring's waiters and its slots say parked) and a commit
// on the third ring wakes it long before its timeout; with nothing coming it times out.
TEST(RingSet, WaitParksOnEveryRingAndWakesForAnyOfThem) {
  RingName n0("set-wait-0"), n1("set-wait-1"), n2("set-wait-2");
  std::vector<Segment> rings;
  rings.push_back(test::make_ring(n0, 1 << 16, 0, true));
  rings.push_back(test::make_ring(n1, 1 << 16));
  rings.push_back(test::make_ring(n2, 1 << 16, 0, true, 64, true));
  const Segment* segments[] = {&rings[0], &rings[1], &rings[2]};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->wait(std::chrono::milliseconds(20), std::chrono::nanoseconds(0)));
  auto w = RingWriter::attach(rings[2]);
  std::atomic<bool> woke{false};
  std::thread waiter(
      [&] { woke = set->wait(std::chrono::seconds(30), std::chrono::nanoseconds(0)); });
  auto parked_on_all = [&] {
    for (std::size_t i = 0; i < rings.size(); ++i)
      if (rings[i].control().wake.waiters.load() != 1 ||
          rings[i].reader_slot(set->reader(i).id()).parked.load() != 1)
        return false;
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!parked_on_all() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_TRUE(parked_on_all()) << "not parked on every ring";
  const auto t0 = std::chrono::steady_clock::now();
  const std::byte wake[4] = {};
  ASSERT_EQ(w->publish(1, wake), PublishStatus::ok);
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  std::size_t from = 99;
  EXPECT_EQ(set->poll([&](std::size_t ring, const RecordView&) { from = ring; }), 1u);
  EXPECT_EQ(from, 2u);
  for (std::size_t i = 0; i < rings.size(); ++i)
    EXPECT_EQ(rings[i].reader_slot(set->reader(i).id()).parked.load(), 0u);
}

TEST(RingSet, RefusesNoRingsTooManyANullOneAndTheSameRingTwice) {
  RingName n0("set-bad-0"), n1("set-bad-1");
  auto a = test::make_ring(n0, 1 << 16);
  auto b = test::make_ring(n1, 1 << 16);
  auto refused = [](std::span<const Segment* const> segments, const char* says) {
    auto set = RingSetReader::attach(segments);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().code, Errc::invalid_argument);
    EXPECT_NE(set.error().message.find(says), std::string::npos) << set.error().message;
  };
  refused({}, "1 to 128 rings, got 0");
  std::vector<const Segment*> many(RingSetReader::kMaxRings + 1, &a);
  refused(many, "got 129");
  const Segment* with_null[] = {&a, nullptr};
  refused(with_null, "ring 1 is null");
  const Segment* twice[] = {&a, &b, &a};
  refused(twice, "ring 2 is given twice");
  // The readers a refused set had attached are released: a ring with one reader slot takes the
  // next reader.
  RingName n2("set-bad-2");
  RingConfig one_reader;
  one_reader.name = n2.str();
  one_reader.capacity = 1 << 16;
  one_reader.max_readers = 1;
  auto c = Segment::create(one_reader);
  ASSERT_TRUE(c);
  const Segment* c_then_null[] = {&c.value(), nullptr};
  refused(c_then_null, "ring 1 is null");
  EXPECT_TRUE(RingReader::attach(c.value()));
  const Segment* c_twice_over[] = {&b, &c.value()};
  auto held = RingReader::attach(c.value());
  ASSERT_TRUE(held);
  auto full = RingSetReader::attach(c_twice_over);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Errc::no_free_slot);
  EXPECT_NE(full.error().message.find("ring 1: "), std::string::npos) << full.error().message;
}

}  // namespace
}  // namespace shmio::shm
