// shm::inspect (shm/inspect.hpp), what shm-inspect reads, against rings this test writes: the
// snapshot, records until the frontier, the slots, the walk of the last records (with its
// previews), a walk over a ring that has wrapped, and a read-only attach.
#include "shmio/shm/inspect.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "test_support.hpp"

using namespace shmio::shm;
namespace inspect = shmio::shm::inspect;
using shmio::test::RingName;

namespace {
std::vector<std::byte> payload(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}
}  // namespace

TEST(Inspect, SnapshotSlotsAndTheLastRecordsOfARing) {
  RingName name("inspect");
  auto s = shmio::test::make_ring(name, 1 << 16);
  auto w = RingWriter::attach(s, {.label = "the-writer", .core = 1});
  auto r = RingReader::attach(s, {.label = "the-reader", .core = -1, .start = StartAt::oldest});
  ASSERT_TRUE(w && r);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(
        w->publish(static_cast<std::uint16_t>(100 + i), payload("record " + std::to_string(i))),
        PublishStatus::ok);

  auto ro = Segment::attach(name, AttachMode::read_only);  // what shm-inspect attaches
  ASSERT_TRUE(ro);
  const Segment& seg = ro.value();
  const inspect::RingSnapshot snap = inspect::snapshot(seg);
  EXPECT_EQ(snap.frontier, 10u * 64);
  EXPECT_EQ(snap.tail, snap.frontier);
  EXPECT_EQ(snap.frontier_index, 10u);
  EXPECT_EQ(inspect::records_until_frontier(seg, 0, snap), 10u);
  EXPECT_EQ(inspect::records_until_frontier(seg, 3 * 64, snap), 7u);
  EXPECT_EQ(inspect::records_until_frontier(seg, 3 * 64 + 8, snap), std::nullopt) << "not a start";
  EXPECT_EQ(inspect::records_until_frontier(seg, 11 * 64, snap), std::nullopt) << "past it";

  const auto producers = inspect::producers(seg);
  ASSERT_EQ(producers.size(), 1u);
  EXPECT_EQ(producers[0].label, "the-writer");
  EXPECT_EQ(producers[0].pid, ::getpid());
  EXPECT_TRUE(producers[0].alive);
  EXPECT_EQ(producers[0].core, 1);
  EXPECT_EQ(producers[0].records, 10u);
  EXPECT_EQ(producers[0].bytes, 10u * 8) << "\"record 0\" .. \"record 9\": 8 bytes each";
  EXPECT_EQ(producers[0].claim_state, layout::kClaimIdle);
  const auto readers = inspect::readers(seg);
  ASSERT_EQ(readers.size(), 1u);
  EXPECT_EQ(readers[0].label, "the-reader");
  EXPECT_EQ(readers[0].position, 0u) << "it has read nothing";
  const inspect::SlotCounts n = inspect::count_slots(seg);
  EXPECT_EQ(n.producers_active, 1u);
  EXPECT_EQ(n.readers_active, 1u);
  EXPECT_EQ(n.producers_dead + n.readers_dead, 0u);
  EXPECT_EQ(n.producers_taking + n.readers_taking, 0u);

  inspect::Walk walk;
  ASSERT_TRUE(inspect::walk(seg, 3, walk));
  EXPECT_EQ(walk.walked, 10u);
  EXPECT_EQ(walk.oldest, 0u);
  EXPECT_TRUE(walk.stopped.empty());
  ASSERT_EQ(walk.last.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    const inspect::DumpedRecord& d = walk.last[k];
    const std::string want = "record " + std::to_string(7 + k);
    EXPECT_EQ(d.header.position, (7u + k) * 64);
    EXPECT_EQ(d.header.type, 107 + k);
    EXPECT_EQ(d.index, 7u + k);
    EXPECT_FALSE(d.overwritten);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(d.preview.data()), d.preview_len), want);
  }
  EXPECT_EQ(inspect::heartbeat_age_ms(0, 5), std::nullopt) << "never";
  EXPECT_EQ(inspect::heartbeat_age_ms(9'000'000, 5'000'000), 0u) << "(a clock read before)";
  EXPECT_EQ(inspect::heartbeat_age_ms(1'000'000, 5'000'000), 4u);
}

// Slots being taken are counted apart (a taker stopped there, or an older build's marker), and are
// not listed as producers or readers.
TEST(Inspect, SlotsBeingTakenAreCountedApart) {
  RingName name("inspect-taking");
  auto s = shmio::test::make_ring(name, 1 << 16);
  s.producer_slot(3).state.store(layout::taking_by(static_cast<std::uint32_t>(::getpid())));
  s.producer_slot(5).state.store(layout::kSlotOwning);
  s.reader_slot(2).state.store(layout::kSlotTaking);
  const inspect::SlotCounts n = inspect::count_slots(s);
  EXPECT_EQ(n.producers_taking, 2u);
  EXPECT_EQ(n.readers_taking, 1u);
  EXPECT_EQ(n.producers_active + n.producers_dead + n.readers_active + n.readers_dead, 0u);
  EXPECT_TRUE(inspect::producers(s).empty());
  EXPECT_TRUE(inspect::readers(s).empty());
}

TEST(Inspect, AWrappedRingIsWalkedFromItsOldestRecordAndPreviewsAreCut) {
  RingName name("inspect-wrap");
  auto s = shmio::test::make_ring(name, 1 << 16);  // 64 KiB
  auto w = RingWriter::attach(s, {.label = "w"});
  ASSERT_TRUE(w);
  const std::string big(1000, 'x');  // 1,024 bytes a record in the ring (its footprint)
  for (int i = 0; i < 300; ++i) ASSERT_EQ(w->publish(1, payload(big)), PublishStatus::ok);
  inspect::Walk walk;
  ASSERT_TRUE(inspect::walk(s, 5, walk));
  EXPECT_GT(walk.oldest, 0u) << "the first records were overwritten";
  EXPECT_LE(walk.frontier - walk.oldest, s.capacity());
  EXPECT_GT(walk.walked, 50u);
  ASSERT_EQ(walk.last.size(), 5u);
  EXPECT_EQ(walk.last.back().index, 299u);
  EXPECT_EQ(walk.last.back().preview_len, inspect::kPreviewBytes) << "the preview is cut";
  EXPECT_EQ(inspect::records_until_frontier(s, 0, inspect::snapshot(s)), std::nullopt)
      << "position 0 was lapped";
  EXPECT_FALSE(inspect::lapped(s, walk.oldest));
  EXPECT_TRUE(inspect::lapped(s, 0));
}

// A position exactly one capacity behind the tail is lapped: the claim that ended there stamped
// its successor's index into the position's unit (record 0's index now reads 64). Before
// 2026-12-06 only a position past a capacity was (a review).
TEST(Inspect, APositionAWholeCapacityBehindTheTailIsLapped) {
  RingName name("inspect-lap-edge");
  auto s = shmio::test::make_ring(name, 1 << 16);  // 64 KiB
  auto w = RingWriter::attach(s, {.label = "w"});
  ASSERT_TRUE(w);
  const std::string big(1000, 'x');  // 1,024 bytes a record: 64 fill the ring exactly
  for (int i = 0; i < 64; ++i) ASSERT_EQ(w->publish(1, payload(big)), PublishStatus::ok);
  ASSERT_EQ(s.control().tail.tail.load(), s.capacity());
  EXPECT_TRUE(inspect::lapped(s, 0));
  EXPECT_FALSE(inspect::lapped(s, 1024));
}
