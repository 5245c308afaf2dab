// The byte layout is an ABI between processes: these pin it down.
#include <gtest/gtest.h>

#include "shmio/shm/layout.hpp"

namespace shmio::shm::layout {
namespace {

TEST(Layout, HotCountersEachOwnABlock) {
  EXPECT_EQ(offsetof(Control, tail), 0u);
  EXPECT_EQ(offsetof(Control, frontier), kBlock);
  EXPECT_EQ(offsetof(Control, wake), 2 * kBlock);
  EXPECT_EQ(offsetof(Control, repair), 3 * kBlock);
  EXPECT_EQ(alignof(ProducerSlot), kBlock);
  EXPECT_EQ(alignof(ReaderSlot), kBlock);
}

TEST(Layout, SealsNeverLookLikeZeroedMemory) {
  for (std::uint64_t p : {0ULL, 64ULL, 1ULL << 40, ~0ULL & ~63ULL}) {
    EXPECT_NE(seal_of(p), 0u);
    EXPECT_EQ(seal_of(p) & 1u, 1u);
  }
}

TEST(Layout, FootprintIsUnitAlignedAndHoldsThePayloadAlone) {
  for (std::uint64_t len = 1; len < 1000; ++len) {
    const auto fp = footprint(len);
    EXPECT_EQ(fp % kUnit, 0u);
    EXPECT_GE(fp, len);
    EXPECT_LT(fp, len + kUnit);
  }
  // A 64-byte payload is one line (layout version 5: the header is beside the seal), and a
  // damaged header's length 0 still moves a walk on by a unit.
  EXPECT_EQ(footprint(64), 64u);
  EXPECT_EQ(footprint(0), kUnit);
}

TEST(Layout, AHeaderPacksBesideItsSealAndUnpacksWhole) {
  for (std::uint32_t len : {1u, 64u, 0xFFFFu, 0x10000u, 0x8000'0000u, 0xFFFF'FFFFu}) {
    for (std::uint16_t type : {std::uint16_t{0}, std::uint16_t{7}, kMaxUserType, kPaddingType}) {
      const RecordHeader h = unpack_header(seal_of(4096), pack_info(len, type, 1023));
      EXPECT_EQ(h.position, 4096u);
      EXPECT_EQ(h.length, len);
      EXPECT_EQ(h.type, type);
      EXPECT_EQ(h.producer, 1023u);
    }
  }
  // Four seal entries share a line; the entries and the indices are apart.
  EXPECT_EQ(kUnit / sizeof(SealEntry), 4u);
  const Offsets o = offsets_for(1 << 20, 1, 1);
  EXPECT_EQ(o.indices - o.seals, (1u << 20) / kUnit * sizeof(SealEntry));
}

TEST(Layout, OffsetsArePageAlignedAndDisjoint) {
  const Offsets o = offsets_for(1 << 20, 64, 64);
  EXPECT_EQ(o.control, sizeof(SegmentHeader));
  EXPECT_EQ(o.producers, o.control + sizeof(Control));
  EXPECT_EQ(o.readers, o.producers + 64 * sizeof(ProducerSlot));
  EXPECT_GE(o.seals, o.readers + 64 * sizeof(ReaderSlot));
  EXPECT_EQ(o.indices, o.seals + (1 << 20) / kUnit * sizeof(SealEntry));
  EXPECT_EQ(o.control_bytes % kPage, 0u);
  EXPECT_GE(o.control_bytes, o.indices + (1 << 20) / kUnit * sizeof(UnitWord));
  EXPECT_EQ(o.segment_bytes, o.control_bytes + (1 << 20));
}

}  // namespace
}  // namespace shmio::shm::layout
