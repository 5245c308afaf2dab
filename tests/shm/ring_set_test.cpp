// RingSetReader: one reader over a ring per producer. Every ring's records arrive, each ring's in
// its order, copied out (poll) or zero-copy (peek/consume); no ring waits more than one round of
// calls behind a busy one; views a ring overwrote are refused and counted lost; wait() parks on
// every ring at once and wakes for a commit on any of them; bad sets and misused consumes are
// refused.
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

// A producer thread per ring: ring p gets CheckedRecords p/0 .. p/(records - 1), 64 B each.
std::vector<std::thread> checked_producers(std::vector<Segment>& rings, std::uint64_t records) {
  std::vector<std::thread> producers;
  for (std::size_t p = 0; p < rings.size(); ++p) {
    producers.emplace_back([&rings, p, records] {
      auto w = RingWriter::attach(rings[p]);
      std::vector<std::byte> buf(64);
      for (std::uint64_t seq = 0; seq < records; ++seq) {
        CheckedRecord::fill(buf, static_cast<std::uint32_t>(p), seq);
        ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
      }
    });
  }
  return producers;
}

// The fairness tests' rings: `busy` holds far more than a call's budget (1000 records), `quiet`
// one record.
void fill_busy_and_quiet(const Segment& busy, const Segment& quiet) {
  auto wb = RingWriter::attach(busy);
  auto wq = RingWriter::attach(quiet);
  std::vector<std::byte> buf(64);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(wb->publish(1, buf), PublishStatus::ok);
  ASSERT_EQ(wq->publish(2, buf), PublishStatus::ok);
}

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
  std::vector<std::thread> producers = checked_producers(rings, kRecords);
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
  fill_busy_and_quiet(busy, quiet);
  if (HasFatalFailure()) return;
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

// Zero-copy over the set: every record once, in its ring's order, the views' ring the one peek()
// named; consuming only a prefix of a peek leaves the rest for a later one.
TEST(RingSet, PeekAndConsumeDeliverEveryRecordOnceInEachRingsOrder) {
  constexpr std::size_t kRings = 3;
  constexpr std::uint64_t kRecords = 5'000;  // 64 B each: a 1 MiB ring is never lapped
  RingName n0("set-peek-0"), n1("set-peek-1"), n2("set-peek-2");
  std::vector<Segment> rings;
  rings.push_back(test::make_ring(n0, 1 << 20, 0, true));
  rings.push_back(test::make_ring(n1, 1 << 20));
  rings.push_back(test::make_ring(n2, 1 << 20, 0, true));
  const Segment* segments[kRings] = {&rings[0], &rings[1], &rings[2]};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set) << set.error().message;
  std::vector<std::thread> producers = checked_producers(rings, kRecords);
  std::uint64_t next[kRings] = {0, 0, 0};
  std::uint64_t got = 0, bad = 0, prefixes = 0, calls = 0;
  std::vector<RecordView> views(32);
  while (got < kRings * kRecords) {
    const auto [ring, n] = set->peek(views);
    if (n == 0) {
      EXPECT_EQ(ring, kRings);
      ASSERT_TRUE(set->consume({}));
      ASSERT_TRUE(set->wait(std::chrono::seconds(30))) << "stalled at " << got;
      continue;
    }
    ASSERT_LT(ring, kRings);
    // Every third call with more than one view takes only the first half.
    const std::size_t take = (++calls % 3 == 0 && n > 1) ? n / 2 : n;
    prefixes += take < n;
    std::uint64_t expect = next[ring];
    for (std::size_t i = 0; i < take; ++i) {
      const auto& p = views[i].payload;
      bad += !CheckedRecord::valid(p) || CheckedRecord::producer(p) != ring ||
             CheckedRecord::seq(p) != expect++;
    }
    ASSERT_TRUE(set->consume(std::span<const RecordView>(views.data(), take)));
    next[ring] = expect;
    got += take;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(prefixes, 0u);
  for (std::size_t i = 0; i < kRings; ++i) EXPECT_EQ(next[i], kRecords) << "ring " << i;
  EXPECT_EQ(set->total_loss().records, 0u);
  EXPECT_EQ(set->peek(views).count, 0u);
}

// Ring 0 holds far more than a peek's span; ring 1 one record: a peek shows it within size()
// calls.
TEST(RingSet, NoRingWaitsMoreThanARoundOfPeeksBehindABusyOne) {
  RingName n0("set-pfair-0"), n1("set-pfair-1");
  auto busy = test::make_ring(n0, 1 << 20, 0, true);
  auto quiet = test::make_ring(n1, 1 << 20, 0, true);
  const Segment* segments[] = {&busy, &quiet};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set);
  fill_busy_and_quiet(busy, quiet);
  if (HasFatalFailure()) return;
  std::vector<RecordView> views(10);
  std::size_t calls = 0, quiet_seen_at = 0;
  while (quiet_seen_at == 0 && calls < 10) {
    ++calls;
    const auto [ring, n] = set->peek(views);
    ASSERT_GT(n, 0u);
    if (ring == 1) quiet_seen_at = calls;
    ASSERT_TRUE(set->consume(std::span<const RecordView>(views.data(), n)));
  }
  EXPECT_GE(quiet_seen_at, 1u);
  EXPECT_LE(quiet_seen_at, set->size()) << "the quiet ring's record waited too long";
}

// Views of a ring that its producer laps before they are consumed: consume() says discard, the
// loss is counted on that ring (and in the set's total), and the next peek goes on from the
// oldest records still there, intact.
TEST(RingSet, AConsumeOfViewsTheirRingOverwroteIsRefusedAndCountedLost) {
  RingName n0("set-lap-0"), n1("set-lap-1");
  auto calm = test::make_ring(n0, 1 << 16, 0, true);
  auto lapping = test::make_ring(n1, 1 << 16, 0, true);
  const Segment* segments[] = {&calm, &lapping};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set);
  auto w = RingWriter::attach(lapping);
  std::vector<std::byte> buf(64);
  std::uint64_t seq = 0;
  for (; seq < 10; ++seq) {
    CheckedRecord::fill(buf, 1, seq);
    ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
  }
  std::vector<RecordView> views(16);
  const auto [ring, n] = set->peek(views);
  ASSERT_EQ(ring, 1u);
  ASSERT_EQ(n, 10u);
  // Twice the ring's capacity in records (64 B payloads take one 64-byte unit each).
  for (; seq < 10 + 2 * (1 << 16) / 64; ++seq) {
    CheckedRecord::fill(buf, 1, seq);
    ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
  }
  EXPECT_FALSE(set->consume(std::span<const RecordView>(views.data(), n)));
  EXPECT_GT(set->reader(1).total_loss().records, 0u);
  EXPECT_EQ(set->reader(0).total_loss().records, 0u);
  EXPECT_EQ(set->total_loss().records, set->reader(1).total_loss().records);
  // What is left arrives intact and in order, and with what was lost adds up to every record.
  std::uint64_t delivered = 0, bad = 0, last = 0;
  for (;;) {
    const auto [r, m] = set->peek(views);
    if (m == 0) break;
    EXPECT_EQ(r, 1u);
    for (std::size_t i = 0; i < m; ++i) {
      const auto& p = views[i].payload;
      bad += !CheckedRecord::valid(p) || (delivered > 0 && CheckedRecord::seq(p) != last + 1);
      last = CheckedRecord::seq(p);
      ++delivered;
    }
    ASSERT_TRUE(set->consume(std::span<const RecordView>(views.data(), m)));
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(last, seq - 1);
  EXPECT_EQ(delivered + set->total_loss().records, seq);
}

// consume() belongs to the last peek(): views without one, or consumed a second time, are refused
// and move no reader; no views then is fine.
TEST(RingSet, AConsumeWithoutItsPeekIsRefusedAndMovesNothing) {
  RingName n0("set-cons-0"), n1("set-cons-1");
  auto a = test::make_ring(n0, 1 << 16, 0, true);
  auto b = test::make_ring(n1, 1 << 16, 0, true);
  const Segment* segments[] = {&a, &b};
  auto set = RingSetReader::attach(segments);
  ASSERT_TRUE(set);
  auto w = RingWriter::attach(b);
  std::vector<std::byte> buf(64);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
  const std::uint64_t start = set->reader(1).position();
  std::vector<RecordView> views(2);
  EXPECT_TRUE(set->consume({}));
  const auto [ring, n] = set->peek(views);
  ASSERT_EQ(ring, 1u);
  ASSERT_EQ(n, 2u);
  const std::span<const RecordView> got(views.data(), n);
  ASSERT_TRUE(set->consume(got));
  const std::uint64_t after = set->reader(1).position();
  EXPECT_GT(after, start);
  EXPECT_FALSE(set->consume(got)) << "consumed twice";
  EXPECT_EQ(set->reader(1).position(), after);
  EXPECT_TRUE(set->consume({}));
  // An empty peek leaves nothing to consume either.
  EXPECT_EQ(set->peek(std::span<RecordView>()).count, 0u);
  EXPECT_FALSE(set->consume(got));
  EXPECT_EQ(set->reader(1).position(), after);
  // The two records left are still there.
  std::size_t left = 0;
  for (int i = 0; i < 2; ++i) {
    const auto [r, m] = set->peek(views);
    left += m;
    if (m > 0) {
      ASSERT_TRUE(set->consume(std::span<const RecordView>(views.data(), m)));
    }
  }
  EXPECT_EQ(left, 2u);
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
  // (The same ring attached again: another Segment of one file. Taken before 2026-12-06.)
  auto a_again = Segment::attach(n0.str());
  ASSERT_TRUE(a_again);
  const Segment* attached_twice[] = {&a, &b, &a_again.value()};
  refused(attached_twice, "ring 2 is given twice");
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
