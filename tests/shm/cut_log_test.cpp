// The cut log (shm/cut_log.hpp): entries across processes and restarts, a lap, the bounds, a
// reader that overlaps its writer (TSan runs this), a layout that does not add up.
#include "shmio/shm/cut_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using shmio::shm::CutLog;
using shmio::shm::CutLogConfig;

namespace {
struct CutName {
  CutName() {
    static int n = 0;
    ring = "test-cuts-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    CutLog::remove_all(ring);
  }
  ~CutName() { CutLog::remove_all(ring); }
  std::string ring;
};
CutLog open_log(const std::string& ring, std::uint32_t logs = 2, std::uint32_t columns = 3,
                std::uint32_t entries = 16) {
  CutLogConfig c;
  c.logs = logs;
  c.columns = columns;
  c.entries = entries;
  auto l = CutLog::open(ring, 7, c);
  if (!l) throw std::runtime_error(l.error().message);
  return std::move(l.value());
}
std::vector<std::uint64_t> cut(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return {a, b, c};
}
}  // namespace

TEST(CutLog, EntriesOfAnotherProcessAreReadAndARestartedWriterGoesOnFromItsPredecessorsCount) {
  CutName n;
  auto l = open_log(n.ring);
  EXPECT_EQ(l.next(0), 0u);
  EXPECT_FALSE(l.read(0, 0)) << "nothing written yet";
  const pid_t child = ::fork();
  if (child == 0) {
    auto c = open_log(n.ring);
    const bool ok = c.append(1, 5, cut(10, 20, 30)) == 0u && c.append(1, 6, cut(11, 21, 31)) == 1u;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const auto e = l.read(1, 1);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->tag, 6u);
  EXPECT_EQ(e->cut, cut(11, 21, 31));
  EXPECT_EQ(l.read(1, 0)->cut, cut(10, 20, 30));
  EXPECT_FALSE(l.read(0, 0)) << "the other log is untouched";
  // The successor (this process) goes on from entry 2.
  EXPECT_EQ(l.next(1), 2u);
  EXPECT_EQ(l.append(1, 7, cut(12, 22, 32)), 2u);
  EXPECT_EQ(l.read(1, 2)->cut, cut(12, 22, 32));
}

TEST(CutLog, ALapOverwritesTheOldestEntriesAndReadSaysTheyAreGone) {
  CutName n;
  auto l = open_log(n.ring, 1, 3, 16);
  for (std::uint64_t i = 0; i < 40; ++i) ASSERT_EQ(l.append(0, 1, cut(i, i, i)), i);
  for (std::uint64_t i = 0; i < 24; ++i) EXPECT_FALSE(l.read(0, i)) << i;
  for (std::uint64_t i = 24; i < 40; ++i) {
    const auto e = l.read(0, i);
    ASSERT_TRUE(e) << i;
    EXPECT_EQ(e->cut, cut(i, i, i));
  }
  EXPECT_FALSE(l.read(0, 40)) << "not written yet";
}

TEST(CutLog, BadGeometryAndBadArgumentsAreRefusedWithAReason) {
  CutName n;
  for (auto [logs, columns, entries] :
       {std::tuple{0u, 3u, 16u}, std::tuple{1025u, 3u, 16u}, std::tuple{1u, 0u, 16u},
        std::tuple{1u, 1026u, 16u}, std::tuple{1u, 3u, 15u}, std::tuple{1u, 3u, 1u << 29}}) {
    CutLogConfig c;
    c.logs = logs;
    c.columns = columns;
    c.entries = entries;
    auto l = CutLog::open(n.ring, 7, c);
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("cut log"), std::string::npos) << l.error().message;
  }
  auto l = open_log(n.ring, 2, 3, 16);
  EXPECT_FALSE(l.append(2, 0, cut(1, 2, 3))) << "no such log";
  EXPECT_FALSE(l.append(0, 0, std::vector<std::uint64_t>{1, 2})) << "a cut of the wrong size";
  EXPECT_FALSE(l.read(5, 0));
  EXPECT_EQ(l.next(5), 0u);
  // A second opener asking for another geometry gets the creator's.
  auto other = open_log(n.ring, 4, 9, 64);
  EXPECT_EQ(other.logs(), 2u);
  EXPECT_EQ(other.columns(), 3u);
  EXPECT_EQ(other.entries(), 16u);
}

TEST(CutLog, AHeaderWhoseLayoutDoesNotAddUpIsRefused) {
  CutName n;
  { auto l = open_log(n.ring, 2, 3, 16); }
  // The object's name is <prefix><ring>.<ring id, 16 hex digits>; its header's geometry words
  // follow the 24-byte sidecar header.
  const std::string name = "/shmio-cuts." + n.ring + ".0000000000000007";
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0) << name;
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(p, MAP_FAILED);
  const std::uint32_t columns = 1000;  // larger than the object holds
  std::memcpy(static_cast<char*>(p) + 28, &columns, 4);
  ::munmap(p, 4096);
  auto l = CutLog::open(n.ring, 7, {});
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("does not add up"), std::string::npos) << l.error().message;
}

TEST(CutLog, AReaderOverlappingItsWriterSeesEveryEntryWholeOrNotAtAll) {
  CutName n;
  auto l = open_log(n.ring, 1, 3, 16);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> seen{0};
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const std::uint64_t next = l.next(0);
      for (std::uint64_t i = next > 16 ? next - 16 : 0; i < next; ++i) {
        const auto e = l.read(0, i);
        if (!e) continue;  // overwritten meanwhile
        ASSERT_EQ(e->cut, cut(i, i * 2, i * 3)) << i;
        ASSERT_EQ(e->tag, static_cast<std::uint32_t>(i % 7));
        seen.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  // (200,000 entries, and on until the reader has seen one: on a busy machine its thread may not
  // have run before the first 200,000 were written; bounded all the same.)
  for (std::uint64_t i = 0; i < 200000 || (seen.load() == 0 && i < 100'000'000); ++i)
    ASSERT_EQ(l.append(0, static_cast<std::uint32_t>(i % 7), cut(i, i * 2, i * 3)), i);
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_GT(seen.load(), 0u);
}

// Under tests/shm/private_shm.sh (a 48 MiB /dev/shm of its own): a log larger than /dev/shm holds
// is refused with the reason, and no unsized object is left for the next opener to wait on.
TEST(SegmentOnPrivateShm, ACutLogLargerThanShmIsRefusedAndLeavesNothingBehind) {
  if (std::getenv("SHMIO_TEST_PRIVATE_SHM") == nullptr)
    GTEST_SKIP() << "runs under tests/shm/private_shm.sh only";
  CutName n;
  CutLogConfig c;
  c.logs = 16;
  c.columns = 17;
  c.entries = 1u << 18;  // 16 x 38 MiB
  auto l = CutLog::open(n.ring, 7, c);
  ASSERT_FALSE(l) << "608 MiB on a 48 MiB /dev/shm";
  EXPECT_NE(l.error().message.find("is /dev/shm large enough"), std::string::npos)
      << l.error().message;
  const std::string name = "/shmio-cuts." + n.ring + ".0000000000000007";
  const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  EXPECT_LT(fd, 0) << "removed";
  if (fd >= 0) ::close(fd);
  // One that fits is made on the same mount.
  EXPECT_TRUE(open_log(n.ring).logs() == 2u);
}

// What shm-inspect shows: the logs mapped read-only, each log's count and last entry; none for a
// ring without logs; one of another ring id is not this ring's.
TEST(CutLog, ASummaryReadsTheLogsWithoutWritingAndNamesEachLogsLastEntry) {
  CutName n;
  auto none = CutLog::summarize(n.ring, 7);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, shmio::shm::Errc::not_found);
  auto l = open_log(n.ring);
  for (std::uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(l.append(1, 1, cut(i, 2 * i, 3 * i)));
  auto s = CutLog::summarize(n.ring, 7);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->logs, 2u);
  EXPECT_EQ(s->columns, 3u);
  EXPECT_EQ(s->entries, 16u);
  ASSERT_EQ(s->per_log.size(), 2u);
  EXPECT_EQ(s->per_log[0].next, 0u);
  EXPECT_FALSE(s->per_log[0].last);
  EXPECT_EQ(s->per_log[1].next, 20u);
  ASSERT_TRUE(s->per_log[1].last);
  EXPECT_EQ(s->per_log[1].last->cut, cut(19, 38, 57));
  EXPECT_EQ(s->per_log[1].last->tag, 1u);
  auto other = CutLog::summarize(n.ring, 8);
  EXPECT_FALSE(other) << "another ring id names another object";
}

// A log that is not this ring's, or does not add up, is refused by the summary (another ring id
// in its header; a geometry that does not match its size).
TEST(CutLog, ASummaryRefusesALogThatIsNotThisRingsOrDoesNotAddUp) {
  CutName n;
  auto l = open_log(n.ring);
  const std::string path = "/dev/shm/shmio-cuts." + n.ring + ".0000000000000007";
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(p, MAP_FAILED);
  auto* ring_id = reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<char*>(p) + 16);
  auto* entries = reinterpret_cast<std::atomic<std::uint32_t>*>(static_cast<char*>(p) + 32);
  ring_id->store(8);
  auto r = CutLog::summarize(n.ring, 7);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, shmio::shm::Errc::size_mismatch);
  EXPECT_NE(r.error().message.find("another ring's"), std::string::npos) << r.error().message;
  ring_id->store(7);
  entries->store(1u << 20);
  r = CutLog::summarize(n.ring, 7);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("does not add up"), std::string::npos) << r.error().message;
  entries->store(16);
  EXPECT_TRUE(CutLog::summarize(n.ring, 7));
  ::munmap(p, 4096);
}
