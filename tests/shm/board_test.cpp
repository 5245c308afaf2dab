// The workers' notice board (shm/board.hpp): posts across processes, the bounds, readers that
// overlap a writer (TSan runs this), a dead poster.
#include "shmio/shm/board.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

using shmio::shm::BoardConfig;
using shmio::shm::WorkerBoard;

namespace {
struct BoardName {
  BoardName() {
    static int n = 0;
    ring = "test-board-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    WorkerBoard::remove_all(ring);
  }
  ~BoardName() { WorkerBoard::remove_all(ring); }
  std::string ring;
};
WorkerBoard open_board(const std::string& ring, std::uint32_t slots = 16,
                       std::uint32_t slot_bytes = 4096) {
  BoardConfig c;
  c.slots = slots;
  c.slot_bytes = slot_bytes;
  auto b = WorkerBoard::open(ring, 7, c);
  if (!b) throw std::runtime_error(b.error().message);
  return std::move(b.value());
}
// A stray write of `n` bytes at `offset` into the board open_board() made for `ring`, as any
// process of the user can make one.
bool scribble(const std::string& ring, off_t offset, const void* bytes, std::size_t n) {
  const std::string path = "/dev/shm/shmio-board." + ring + ".0000000000000007";
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::pwrite(fd, bytes, n, offset) == static_cast<ssize_t>(n);
  ::close(fd);
  return written;
}
}  // namespace

TEST(WorkerBoard, PostsOfOtherProcessesAreReadWithWhoPostedThemAndWhetherItLives) {
  BoardName n;
  auto b = open_board(n.ring);
  EXPECT_TRUE(b.read_all().empty());
  const pid_t child = ::fork();
  if (child == 0) ::_exit(open_board(n.ring).post(3, "from the child") ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(b.post(1, "mine"));
  const auto all = b.read_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].slot, 1u);
  EXPECT_EQ(all[0].blob, "mine");
  EXPECT_TRUE(all[0].alive);
  EXPECT_EQ(all[0].who.pid, ::getpid());
  EXPECT_EQ(all[1].slot, 3u);
  EXPECT_EQ(all[1].blob, "from the child");
  EXPECT_EQ(all[1].who.pid, child);
  EXPECT_FALSE(all[1].alive) << "its poster exited";
  ASSERT_TRUE(b.post(1, "again, longer than before"));
  EXPECT_EQ(b.read(1)->blob, "again, longer than before");
  EXPECT_FALSE(b.read(2)) << "never posted";
  // The stamp alone (the supervisor's watchdog): who and when, as read() says them.
  const auto st = b.stamp(1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->who, b.read(1)->who);
  EXPECT_EQ(st->posted_ns, b.read(1)->posted_ns);
  EXPECT_EQ(b.stamp(3)->who.pid, child);
  EXPECT_FALSE(b.stamp(2));
  EXPECT_FALSE(b.stamp(1u << 20)) << "out of range";
}

TEST(WorkerBoard, BoundsAndBadConfigurations) {
  BoardName n;
  auto b = open_board(n.ring, 4, 4096);
  EXPECT_EQ(b.capacity(), 4096u - 64);
  EXPECT_TRUE(b.post(0, std::string(b.capacity(), 'x')));
  EXPECT_FALSE(b.post(0, std::string(b.capacity() + 1, 'y'))) << "over a slot";
  EXPECT_EQ(b.read(0)->blob, std::string(b.capacity(), 'x')) << "the earlier post stays";
  EXPECT_FALSE(b.post(4, "x")) << "no slot 4";
  EXPECT_FALSE(b.read(4));
  BoardConfig bad;
  bad.slot_bytes = 1000;
  EXPECT_FALSE(WorkerBoard::open(n.ring + "x", 1, bad));
  bad.slot_bytes = 4096;
  bad.slots = 0;
  EXPECT_FALSE(WorkerBoard::open(n.ring + "x", 1, bad));
  auto again = open_board(n.ring, 99, 8192);  // attached: the creator's geometry
  EXPECT_EQ(again.slots(), 4u);
}

// The geometry is read once, at open: a stray write into the header afterwards (any process of
// the user can write the object) does not make posts and reads address memory past the mapping
// (a SIGSEGV before), and a later open refuses the damaged header.
TEST(WorkerBoard, AHeaderDamagedAfterOpenIsNotBelieved) {
  BoardName n;
  auto b = open_board(n.ring, 2, 4096);
  ASSERT_TRUE(b.post(1, "before"));
  // (slots at byte 24, slot_bytes at 28: after the sidecar's 24-byte identity)
  const std::uint32_t huge[2] = {65536, 16u << 20};
  ASSERT_TRUE(scribble(n.ring, 24, huge, sizeof huge));
  const pid_t child = ::fork();
  if (child == 0) {
    const bool ok = b.post(1, "after") && b.read(1) && b.read(1)->blob == "after" &&
                    !b.post(5, "x") && b.slots() == 2 && b.capacity() == 4096 - 64;
    (void)b.read_all();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  BoardConfig c;
  c.slots = 2;
  c.slot_bytes = 4096;
  EXPECT_FALSE(WorkerBoard::open(n.ring, 7, c)) << "the damaged header, refused at open";
}

// A copy's seq damaged to a value no writer reaches (a stray write) starts the slot again at its
// next post: readable from then on (before 2026-12-05 the seq wrapped to 0 at every post, and the
// slot was never readable again; found by a review).
TEST(WorkerBoard, ASeqDamagedPastAnyPostStartsTheSlotAgain) {
  BoardName n;
  auto b = open_board(n.ring, 2, 4096);
  ASSERT_TRUE(b.post(0, "before"));
  const std::uint64_t damaged = ~std::uint64_t{0};  // slot 0's copy 1: its seq, first
  ASSERT_TRUE(scribble(n.ring, 2 * 4096, &damaged, sizeof damaged));
  ASSERT_TRUE(b.post(0, "x"));
  ASSERT_TRUE(b.post(0, "y"));
  const auto got = b.read(0);
  ASSERT_TRUE(got) << "unreadable";
  EXPECT_EQ(got->blob, "y");
}

TEST(WorkerBoard, ReadersOverlappingAWriterNeverSeeAMixedPost) {
  BoardName n;
  auto b = open_board(n.ring, 2, 65536);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const char c = static_cast<char>('a' + i % 26);
      (void)b.post(0, std::string(1000 + (i * 37) % 30000, c));
      // (now and then the CPU for the reader: on a loaded machine with few cores a writer that
      // never pauses can keep every read from completing, which a real worker, posting once a
      // second, never does)
      if (i % 16 == 0) std::this_thread::yield();
    }
  });
  int seen = 0, mixed = 0;
  // Until 200 complete reads (or 5 s): each overlapping the writer's stream of posts.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seen < 200 && std::chrono::steady_clock::now() < end) {
    if (auto p = b.read(0)) {
      ++seen;
      if (p->blob.find_first_not_of(p->blob[0]) != std::string::npos) ++mixed;
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(seen, 0);
  EXPECT_EQ(mixed, 0);
}

// A worker killed in the middle of a post (SIGKILL, as the supervisor or the OOM killer sends it)
// leaves that post unfinished. Its post before stays readable, from the slot's other copy, so its
// successor can carry its counters on (docs/cluster.md "Metrics for the whole cluster"): with one
// copy a slot, that slot was unreadable until the successor's first post.
TEST(WorkerBoard, AWriterKilledInTheMiddleOfAPostLeavesItsPostBeforeReadable) {
  BoardName n;
  constexpr std::uint32_t kCopyBytes = 1u << 20;  // a post of ~1 MiB: most of a kill lands in one
  auto b = open_board(n.ring, 2, kCopyBytes);
  const std::size_t size = b.capacity();
  // Post i: its number in 16 hex digits, then a fill of one letter (the round's, from i's high
  // half), so that a post of two writes mixed shows.
  auto tag = [](std::string& post, std::uint64_t i) {
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(i));
    post.replace(0, 16, digits, 16);
  };
  auto blob = [size, &tag](std::uint64_t i) {
    std::string post(size, static_cast<char>('a' + (i >> 32) % 26));
    tag(post, i);
    return post;
  };
  auto number = [](const std::string& post) {  // its post number, or 0 if it is not whole
    if (post.size() < 16) return std::uint64_t{0};
    const std::uint64_t i = std::stoull(post.substr(0, 16), nullptr, 16);
    const char fill = static_cast<char>('a' + (i >> 32) % 26);
    return post.find_first_not_of(fill, 16) == std::string::npos ? i : 0;
  };
  // The two copies' seqs, as the layout puts them (board.hpp): one left odd is a post cut short.
  const std::string path = "/dev/shm/shmio-board." + n.ring + ".0000000000000007";
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path;
  const std::size_t bytes = 4096 + 2 * 2 * std::size_t{kCopyBytes};
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto seq = [map](unsigned copy) {  // slot 1's copy
    return reinterpret_cast<const std::atomic<std::uint64_t>*>(
               static_cast<const char*>(map) + 4096 + (2 + copy) * std::size_t{kCopyBytes})
        ->load();
  };
  int cut_short = 0, rounds = 0;
  // Twelve rounds, more (up to 100) while fewer than three kills have landed inside a post.
  for (std::uint64_t round = 1; round <= 12 || (cut_short < 3 && round <= 100); ++round) {
    ++rounds;
    const std::uint64_t first = round << 32;
    const std::uint64_t posts_before = std::max(seq(0), seq(1)) / 2;
    const pid_t child = ::fork();
    if (child == 0) {  // (the post's bytes made once: the child's time goes into its posts)
      std::string post = blob(first);
      for (std::uint64_t i = first;; ++i) {
        tag(post, i);
        (void)b.post(1, post);
      }
    }
    ASSERT_GT(child, 0);
    // Until the child has made four whole posts (read from their seqs: the child's loop makes no
    // system call between two posts — its one, getpid(), is inside a post — so a kill does not
    // find it stopped between two; it did at a pipe write that told the parent, when the two
    // shared a CPU).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::max(seq(0), seq(1)) / 2 < posts_before + 4 &&
           std::chrono::steady_clock::now() < give_up)
      ::sched_yield();
    const bool posting = std::max(seq(0), seq(1)) / 2 >= posts_before + 4;
    // Then up to about one post's time more, so that the kill does not always come at the same
    // point of a post.
    const auto kill_at =
        std::chrono::steady_clock::now() + std::chrono::microseconds(37 * (round % 13));
    while (std::chrono::steady_clock::now() < kill_at) {
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(posting) << "round " << round << ": the child did not post";
    if ((seq(0) & 1) != 0 || (seq(1) & 1) != 0) ++cut_short;
    const auto p = b.read(1);
    ASSERT_TRUE(p) << "round " << round << ": the slot is unreadable after the kill";
    EXPECT_GE(number(p->blob), first + 2) << "round " << round << ": a whole post of that child";
    EXPECT_EQ(p->who.pid, child);
    EXPECT_FALSE(p->alive);
  }
  // (The child does nothing but post: most kills land inside one. Without this the test could
  // pass with every kill between two posts.)
  EXPECT_GE(cut_short, 3) << "kills that left a post cut short, of " << rounds;
  std::printf("kills that left a post cut short: %d of %d\n", cut_short, rounds);
  // Its successor posts in the same slot: the cut post's copy written again, then the other.
  for (std::uint64_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(b.post(1, blob(i)));
    const auto p = b.read(1);
    ASSERT_TRUE(p);
    EXPECT_EQ(number(p->blob), i);
    EXPECT_EQ(p->who.pid, ::getpid());
  }
  EXPECT_EQ(seq(0) & 1, 0u);
  EXPECT_EQ(seq(1) & 1, 0u);
  ::munmap(map, bytes);
}

// The board is allocated whole when it is made (Boost.Interprocess's truncate calls
// posix_fallocate), so a worker's first post on a /dev/shm filled since never meets an
// unallocated page (a SIGBUS on tmpfs): a review suspected it sparse; this keeps it so should the
// library change.
TEST(WorkerBoard, ItsPagesAreAllocatedWhenItIsMade) {
  BoardName n;
  auto b = open_board(n.ring, 16, 64 * 1024);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/shmio-board." + n.ring + ".0000000000000007").c_str(), &st), 0);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, static_cast<std::uint64_t>(st.st_size));
}
