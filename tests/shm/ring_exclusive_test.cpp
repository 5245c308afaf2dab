// Rings made for one producer (RingConfig::exclusive_producer): one writer at a time, claims and
// commits without locked instructions, and everything a reader relies on unchanged — order, exact
// indices and loss counts, parking. (Its crash cases: ring_crash_test.cpp,
// KilledMidExclusiveClaim.)
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>

#include <gtest/gtest.h>
#include <random>
#include <thread>
#include <utility>

#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::CheckedRecord;
using test::RingName;

TEST(RingExclusive, TakesOneWriterAtATimeAndSaysWhoHoldsIt) {
  RingName name("excl-one");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  EXPECT_TRUE(s.exclusive_producer());
  auto first = RingWriter::attach(s, {.label = "first", .core = -1});
  ASSERT_TRUE(first);
  auto second = RingWriter::attach(s, {.label = "second", .core = -1});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::exclusive_producer);
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error().message;
  EXPECT_NE(second.error().message.find("'first'"), std::string::npos) << second.error().message;
  // The refusal took no slot and changed nothing: the holder goes on publishing.
  std::vector<std::byte> buf(40);
  CheckedRecord::fill(buf, 0, 0);
  EXPECT_EQ(first->publish(1, buf), PublishStatus::ok);
  std::uint32_t active = 0;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i)
    active += s.producer_slot(i).state.load() == layout::kSlotActive ? 1 : 0;
  EXPECT_EQ(active, 1u);

  // Once the holder lets go (its writer destroyed), the next one takes the ring and goes on from
  // the same tail and index.
  { RingWriter gone = std::move(first.value()); }
  auto third = RingWriter::attach(s, {.label = "third", .core = -1});
  ASSERT_TRUE(third) << third.error().message;
  CheckedRecord::fill(buf, 0, 1);
  std::uint64_t position = 0;
  EXPECT_EQ(third->publish(1, buf, &position), PublishStatus::ok);
  EXPECT_EQ(position, layout::footprint(40));
  auto r = RingReader::attach(s, {.label = "r", .core = -1, .start = StartAt::oldest});
  std::vector<std::uint64_t> indices;
  while (r->poll([&](const RecordView& v) { indices.push_back(v.index); })) {
  }
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{0, 1}));

  // A shared ring takes several writers, as before.
  RingName shared_name("excl-shared");
  auto shared = test::make_ring(shared_name, 1 << 16);
  EXPECT_FALSE(shared.exclusive_producer());
  auto a = RingWriter::attach(shared);
  auto b = RingWriter::attach(shared);
  EXPECT_TRUE(a && b);
}

// Records, claims, aborts (padding) and batches through a small ring, a reader polling now and
// then and lapped in between: every record's index is its place, the frontier follows the tail
// after every commit, and the loss is exact.
TEST(RingExclusive, RecordsAbortsAndBatchesKeepExactIndicesAndLossCountsAcrossLaps) {
  RingName name("excl-lap");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  auto w = RingWriter::attach(s);
  ASSERT_TRUE(w);
  auto r = RingReader::attach(s);
  std::mt19937 rng(11);
  std::vector<std::byte> buf(4 * 300);
  std::uint64_t published = 0, delivered = 0, lost = 0;
  auto read_some = [&] {
    r->poll([&](const RecordView& v) {
      ASSERT_TRUE(CheckedRecord::valid(v.payload));
      EXPECT_EQ(CheckedRecord::seq(v.payload), v.index) << "the index is the record's place";
      ++delivered;
    });
    lost += r->last_loss().records;
  };
  const layout::Control& c = s.control();
  for (int round = 0; round < 3000; ++round) {
    ASSERT_TRUE(test::publish_random_step(*w, rng, buf, published, true)) << "round " << round;
    ASSERT_EQ(c.frontier.frontier.load(), c.tail.tail.load()) << "round " << round;
    if (rng() % 400 == 0) read_some();
  }
  // To the end (a 64 KiB ring holds more of the small records than one poll delivers).
  const std::uint64_t tail = s.control().tail.tail.load();
  test::read_to_tail(*r, tail, read_some);
  EXPECT_EQ(r->position(), tail);
  EXPECT_GT(lost, 0u) << "the reader was lapped";
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(delivered + lost, published);
  // The index stamped at the frontier counts every record published.
  EXPECT_EQ(core::index_at(s, c.frontier.frontier.load()), published);
}

// A waiter parked on an exclusive ring is woken by each commit: the producer publishes only once
// the waiter has announced itself (the waiter count is up), so its commit must see the count and
// wake it; park() then returns woken, not at its 5 s timeout. (What the test cannot show is the
// pairing itself — a commit racing the announcement; docs/ring.md argues it: the parker's
// membarrier() is the producer's fence, or, on a ring made with fenced commits, the producer's
// own fence after each commit.)
void parked_waiter_is_woken_by_every_commit(bool fenced) {
  RingName name(fenced ? "excl-park-fenced" : "excl-park");
  auto s = test::make_ring(name, 1 << 16, 0, true, 64, fenced);
  auto w = RingWriter::attach(s);
  const layout::Control& c = s.control();
  constexpr std::uint64_t kRounds = 200;
  std::atomic<std::uint64_t> rounds{0};
  std::atomic<bool> timed_out{false};
  std::thread parker([&] {
    for (std::uint64_t i = 0; i < kRounds; ++i) {
      const std::uint64_t f = c.frontier.frontier.load();
      do {  // (a wake that finds the frontier unchanged is spurious: park again)
        if (!core::park(s, f, std::chrono::seconds(5))) {
          timed_out = true;
          return;
        }
      } while (c.frontier.frontier.load() == f);
      rounds.fetch_add(1);
    }
  });
  std::vector<std::byte> buf(64);
  for (std::uint64_t i = 0; i < kRounds && !timed_out.load(); ++i) {
    while (c.wake.waiters.load() == 0 && !timed_out.load()) std::this_thread::yield();
    CheckedRecord::fill(buf, 0, i);
    ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
    while (rounds.load() <= i && !timed_out.load()) std::this_thread::yield();
  }
  parker.join();
  EXPECT_FALSE(timed_out.load()) << "a commit did not wake its parked waiter";
  EXPECT_EQ(rounds.load(), kRounds);
}

TEST(RingExclusive, AParkedWaiterIsWokenByEveryCommit) {
  // (Where this process may not call membarrier(), park() sleeps 1 ms at a time by design.)
  if (!core::expedited_barrier()) GTEST_SKIP() << "membarrier() refused here";
  parked_waiter_is_woken_by_every_commit(false);
}

// RingConfig::fenced_commits: the producer fences each commit and parkers skip membarrier().
TEST(RingExclusive, AParkedWaiterIsWokenByEveryFencedCommit) {
  parked_waiter_is_woken_by_every_commit(true);
}

// A parker whose ring's producer is in another process cannot trust membarrier() to reach that
// producer's CPU (the global command can skip it: docs/ring.md "Exclusive producers", X4-X6), so
// it asks the producer to fence its commits, and sleeps 1 ms at a time until the producer answers
// (its owner word in fence_acked), which it does at its next commit, and at attach where a parker
// asked before it; from then on a parker needs no membarrier(). A producer in the parker's own
// process is never asked (the private command reaches it), nor is anyone while the ring has no
// producer (one that takes it later sees the count). Step by step, with producers in forked
// processes taking commands through a pipe.
// (A busy one polls its pipe without blocking, so that its thread is always runnable: a parker
// cannot answer for it (X7) and waits for its own answer. An idle one blocks in read().)
class Commanded {  // a producer in a child process: attaches, says so, publishes on each 'p'
 public:
  explicit Commanded(const Segment& s, bool busy = true) {
    if (::pipe(to_) != 0) throw std::runtime_error("pipe");
    if (::pipe(from_) != 0) {
      ::close(to_[0]);
      ::close(to_[1]);
      throw std::runtime_error("pipe");
    }
    pid_ = test::spawn([&] {
      ::close(to_[1]);
      ::close(from_[0]);
      auto w = RingWriter::attach(s);
      if (!w) return 2;
      std::vector<std::byte> buf(64);
      const char said = 'a';
      char c = 0;
      if (busy && ::fcntl(to_[0], F_SETFL, O_NONBLOCK) != 0) return 4;
      auto next = [&] {
        for (;;) {
          const ssize_t n = ::read(to_[0], &c, 1);
          if (n >= 0 || errno != EAGAIN) return n == 1;
          ::sched_yield();  // (runnable all the same)
        }
      };
      for (std::uint64_t i = 0; ::write(from_[1], &said, 1) == 1 && next(); ++i) {
        CheckedRecord::fill(buf, 0, i);
        if (c != 'p' || w->publish(1, buf) != PublishStatus::ok) return 3;
      }
      return 0;  // (the parent closed the pipe: done)
    });
    ::close(to_[0]);
    ::close(from_[1]);
  }
  ~Commanded() { finish(); }
  // Waits for the child's word: attached, or published.
  bool heard() {
    char c = 0;
    return ::read(from_[0], &c, 1) == 1 && c == 'a';
  }
  bool publish() {
    const char c = 'p';
    return ::write(to_[1], &c, 1) == 1 && heard();
  }
  // SIGKILLs it (holding the ring, its slot left ACTIVE) and reaps it.
  void kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    finish();
  }
  int finish() {
    if (to_[1] >= 0) ::close(std::exchange(to_[1], -1));
    if (from_[0] >= 0) ::close(std::exchange(from_[0], -1));
    if (pid_ > 0) rc_ = test::join(std::exchange(pid_, -1));
    return rc_;
  }

 private:
  int to_[2] = {-1, -1}, from_[2] = {-1, -1};
  pid_t pid_ = -1;
  int rc_ = -1;
};

// What core::parking_cover() says a parker of `s` must do: {barrier, bounded}.
using Cover = std::pair<bool, bool>;
Cover cover_of(const Segment& s) {
  const core::ParkingCover k = core::parking_cover(s);
  return {k.barrier, k.bounded};
}

TEST(RingExclusive, AParkerInAnotherProcessAsksTheProducerToFenceItsCommits) {
  if (!core::register_expedited_barrier())
    GTEST_SKIP() << "membarrier() refused here: every producer fences, and answers at attach";
  RingName name("excl-ask");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  const layout::Control& c = s.control();
  auto cover = [&] { return cover_of(s); };
  EXPECT_EQ(cover(), (Cover{false, false})) << "no producer: nothing to do";
  {
    auto mine = RingWriter::attach(s);
    ASSERT_TRUE(mine);
    EXPECT_EQ(cover(), (Cover{true, false})) << "a producer in this process: the barrier";
  }
  EXPECT_EQ(c.wake.fence_asked.load(), 0u);

  Commanded first(s);
  ASSERT_TRUE(first.heard());
  EXPECT_EQ(cover(), (Cover{true, true})) << "in another process, not answered: asked, bounded";
  EXPECT_EQ(c.wake.fence_asked.load(), 1u);
  EXPECT_EQ(c.wake.fence_acked.load(), 0u);
  EXPECT_EQ(cover(), (Cover{true, true})) << "still unanswered before its next commit";
  ASSERT_TRUE(first.publish());
  const std::uint32_t first_owner = c.repair.exclusive_owner.load();
  EXPECT_NE(first_owner, 0u);
  EXPECT_EQ(c.wake.fence_acked.load(), first_owner) << "answered at its commit";
  EXPECT_EQ(cover(), (Cover{false, false})) << "it fences every commit now";
  ASSERT_TRUE(first.publish());
  EXPECT_EQ(first.finish(), 0);
  EXPECT_EQ(c.repair.exclusive_owner.load(), 0u);
  EXPECT_EQ(cover(), (Cover{false, false}));

  // The request lasts: the next producer answers at attach, before any commit.
  Commanded second(s);
  ASSERT_TRUE(second.heard());
  const std::uint32_t second_owner = c.repair.exclusive_owner.load();
  EXPECT_NE(second_owner, 0u);
  EXPECT_NE(second_owner, first_owner) << "a new generation of the slot";
  EXPECT_EQ(c.wake.fence_acked.load(), second_owner);
  EXPECT_EQ(cover(), (Cover{false, false}));
  ASSERT_TRUE(second.publish());
  EXPECT_EQ(second.finish(), 0);

  // A dead owner that never answered: nothing to do (it commits no more), and nothing asked.
  RingName name2("excl-ask-dead");
  auto quiet = test::make_ring(name2, 1 << 16, 0, true);
  Commanded doomed(quiet);
  ASSERT_TRUE(doomed.heard());
  {
    const core::ParkingCover k = core::parking_cover(quiet);
    EXPECT_TRUE(k.barrier && k.bounded) << "alive: asked";
    quiet.control().wake.fence_asked.store(0);  // (as if not asked yet)
  }
  doomed.kill();
  EXPECT_NE(quiet.control().repair.exclusive_owner.load(), 0u) << "still names the dead one";
  {
    const core::ParkingCover k = core::parking_cover(quiet);
    EXPECT_FALSE(k.barrier || k.bounded) << "a dead owner: every millisecond for nothing";
    EXPECT_EQ(quiet.control().wake.fence_asked.load(), 0u);
  }

  // An answer left by an owner of the same word 65,536 generations of its slot ago is not taken
  // for the new owner's: the taker clears it (here the next owner's word, written in its place).
  RingName name3("excl-ask-wrap");
  auto wrapped = test::make_ring(name3, 1 << 16, 0, true);
  const std::uint64_t next_generation = wrapped.producer_slot(0).generation.load() + 1;
  wrapped.control().wake.fence_acked.store(layout::owner_word(next_generation, 0));
  {
    auto mine = RingWriter::attach(wrapped);
    ASSERT_TRUE(mine);
    ASSERT_EQ(wrapped.control().repair.exclusive_owner.load(),
              layout::owner_word(next_generation, 0));
    EXPECT_EQ(wrapped.control().wake.fence_acked.load(), 0u);
    const core::ParkingCover k = core::parking_cover(wrapped);
    EXPECT_TRUE(k.barrier) << "the producer is in this process and did not answer";
  }

  // What both published, in order.
  auto r = RingReader::attach(s, ReaderOptions{"check", -1, StartAt::oldest});
  ASSERT_TRUE(r);
  std::vector<std::uint64_t> seqs;
  r->poll([&](const RecordView& v) {
    EXPECT_TRUE(CheckedRecord::valid(v.payload));
    seqs.push_back(CheckedRecord::seq(v.payload));
  });
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{0, 1, 0}));
}

// X7: a producer in another process none of whose threads is runnable (an idle one, blocked in a
// system call) is answered for by a parker (on x86), which then needs no barrier and no bounded
// sleep: until 2026-12-07 such a producer never answered before its next commit, and its parkers
// woke every millisecond meanwhile. A busy one (runnable) is not answered for. Its next commit
// fences (it sees the request) and wakes a parker that parked after the answer.
TEST(RingExclusive, AParkerAnswersForAnIdleProducerInAnotherProcess) {
#if !defined(__x86_64__) && !defined(__i386__)
  GTEST_SKIP() << "x86 only (docs/ring.md X7)";
#endif
  if (!core::register_expedited_barrier())
    GTEST_SKIP() << "membarrier() refused here: every producer fences, and answers at attach";
  RingName name("excl-idle");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  const layout::Control& c = s.control();
  auto cover = [&] { return cover_of(s); };
  {
    Commanded busy(s, true);
    ASSERT_TRUE(busy.heard());
    ASSERT_TRUE(busy.publish());
    // (Several looks, kFenceLookNs apart at least, each finding it runnable.)
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    while (std::chrono::steady_clock::now() < until) {
      EXPECT_EQ(cover(), (Cover{true, true})) << "a runnable producer is not answered for";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(c.wake.fence_asked.load(), 1u);
    EXPECT_EQ(c.wake.fence_acked.load(), 0u);
    ASSERT_TRUE(busy.publish());
    EXPECT_EQ(c.wake.fence_acked.load(), c.repair.exclusive_owner.load()) << "its own answer";
    EXPECT_EQ(busy.finish(), 0);
  }
  // A fresh ring, not asked yet; its producer blocks in read() once it has said it attached.
  RingName name2("excl-idle2");
  auto quiet = test::make_ring(name2, 1 << 16, 0, true);
  const layout::Control& q = quiet.control();
  Commanded idle(quiet, false);
  ASSERT_TRUE(idle.heard());
  const std::uint32_t owner = q.repair.exclusive_owner.load();
  ASSERT_NE(owner, 0u);
  // (Polled until it is answered for: two looks 4 ms apart at least must find its thread
  // blocked, and it may still be on its way into read() at the first.)
  core::ParkingCover k = core::parking_cover(quiet);
  EXPECT_EQ(q.wake.fence_asked.load(), 1u) << "asked at the first look";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((k.barrier || k.bounded) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    k = core::parking_cover(quiet);
  }
  EXPECT_FALSE(k.barrier || k.bounded) << "an idle producer was not answered for";
  EXPECT_EQ(q.wake.fence_asked.load(), 1u);
  EXPECT_EQ(q.wake.fence_acked.load(), owner) << "answered for it, before any commit of its";
  // Parked now with nothing to do, it is woken by the producer's next commit (fenced: it saw the
  // request), well before its 10 s.
  std::atomic<bool> woke{false};
  std::thread parker([&] {
    const std::uint64_t f = q.frontier.frontier.load();
    bool in_time = true;
    while (in_time && q.frontier.frontier.load() == f)  // (a wake finding it unchanged: again)
      in_time = core::park(quiet, f, std::chrono::seconds(10));
    woke = in_time;
  });
  while (q.wake.waiters.load() == 0) std::this_thread::yield();
  ASSERT_TRUE(idle.publish());
  parker.join();
  EXPECT_TRUE(woke.load()) << "the commit after the answer did not wake the parker";
  EXPECT_EQ(q.wake.fence_acked.load(), owner);
  EXPECT_EQ(idle.finish(), 0);
}

// The same through RingReader::wait() with no spin: every record arrives (on a ring made with
// fenced commits too).
void reader_waiting_without_spinning_gets_every_record(bool fenced) {
  RingName name(fenced ? "excl-wait-fenced" : "excl-wait");
  auto s = test::make_ring(name, 1 << 16, 0, true, 64, fenced);
  ASSERT_EQ(s.fenced_commits(), fenced);
  auto w = RingWriter::attach(s);
  auto r = RingReader::attach(s);
  constexpr std::uint64_t kRecords = 300;
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> gave_up{false};
  std::thread reader([&] {
    while (received.load() < kRecords) {
      if (r->poll([&](const RecordView&) { received.fetch_add(1); }) > 0) continue;
      if (!r->wait(std::chrono::seconds(20), std::chrono::nanoseconds(0))) break;
    }
    gave_up = received.load() < kRecords;
  });
  std::vector<std::byte> buf(64);
  for (std::uint64_t i = 0; i < kRecords && !gave_up; ++i) {
    // (Until the reader has the record before, or gave up waiting: then the test fails below
    // instead of spinning here for ever.)
    while (received.load() < i && !gave_up) std::this_thread::yield();
    CheckedRecord::fill(buf, 0, i);
    EXPECT_EQ(w->publish(1, buf), PublishStatus::ok);
  }
  reader.join();
  EXPECT_FALSE(gave_up) << "a wait of 20 s ended with no record";
  EXPECT_EQ(received.load(), kRecords);
}

TEST(RingExclusive, AReaderWaitingWithoutSpinningGetsEveryRecord) {
  reader_waiting_without_spinning_gets_every_record(false);
}

TEST(RingExclusive, AReaderWaitingWithoutSpinningGetsEveryRecordWithFencedCommits) {
  reader_waiting_without_spinning_gets_every_record(true);
}

TEST(RingExclusive, TheNotifierSignalsEveryCommit) {
  RingName name("excl-notify");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  auto w = RingWriter::attach(s);
  auto n = RingNotifier::start(s);
  ASSERT_TRUE(n);
  std::vector<std::byte> buf(64);
  for (int i = 0; i < 20; ++i) {
    CheckedRecord::fill(buf, 0, static_cast<std::uint64_t>(i));
    ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
    pollfd p{n.value()->fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "commit " << i << " not signalled";
    EXPECT_GT(n.value()->drain(), 0u);
  }
}

// The same with the producer in another process: the notifier (its thread's park, or its io_uring
// arming) asks the producer to fence, the producer answers at its next commit, and every commit
// is signalled, before the answer and after it (docs/ring.md "Exclusive producers", X6).
class NotifierAcrossProcesses : public ::testing::TestWithParam<NotifierMode> {};

TEST_P(NotifierAcrossProcesses, IsSignalledByEveryCommitAndAsksForFences) {
  if (!core::register_expedited_barrier()) GTEST_SKIP() << "membarrier() refused here";
  if (!RingNotifier::supports(GetParam())) GTEST_SKIP() << "no such notifier here";
  RingName name("excl-notify-xproc");
  auto s = test::make_ring(name, 1 << 16, 0, true);
  Commanded producer(s);  // (forked before the notifier's thread starts)
  ASSERT_TRUE(producer.heard());
  auto n = RingNotifier::start(s, NotifierOptions{.mode = GetParam()});
  ASSERT_TRUE(n) << n.error().message;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(producer.publish()) << "commit " << i;
    pollfd p{n.value()->fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "commit " << i << " not signalled";
    EXPECT_GT(n.value()->drain(), 0u);
  }
  EXPECT_EQ(s.control().wake.fence_asked.load(), 1u);
  EXPECT_EQ(s.control().wake.fence_acked.load(), s.control().repair.exclusive_owner.load())
      << "the producer answered";
  n.value().reset();
  EXPECT_EQ(producer.finish(), 0);
}

INSTANTIATE_TEST_SUITE_P(RingExclusive, NotifierAcrossProcesses,
                         ::testing::Values(NotifierMode::thread, NotifierMode::io_uring),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// One producer thread and three reader threads (this is what the TSan build checks on exclusive
// rings): a ring a few records long, readers lapped now and then; every delivered record is intact
// and in order, and delivered + lost is exactly what was published, for each reader.
TEST(RingExclusive, ThreadsReadIntactRecordsInOrderWithExactLossCounts) {
  constexpr int kReaders = 3;
  constexpr std::uint64_t kRecords = 60'000;
  RingName name("excl-threads");
  auto s = test::make_ring(name, 1 << 16, 1024, true);
  auto w = RingWriter::attach(s);
  std::vector<RingReader> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(std::move(RingReader::attach(s).value()));
  std::vector<std::string> failures(kReaders);
  std::vector<std::uint64_t> delivered(kReaders, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&, i] {
      RingReader& r = readers[static_cast<std::size_t>(i)];
      std::uint64_t next = 0;
      while (delivered[i] + r.total_loss().records < kRecords && failures[i].empty()) {
        if (!r.wait(std::chrono::seconds(20))) {
          failures[i] = "timed out";
          break;
        }
        r.poll([&](const RecordView& v) {
          const std::uint64_t q = CheckedRecord::seq(v.payload);
          if (!CheckedRecord::valid(v.payload) || q < next || q != v.index)
            failures[i] = "bad record, seq " + std::to_string(q) + " index " +
                          std::to_string(v.index) + " after " + std::to_string(next);
          next = q + 1;
          ++delivered[i];
        });
      }
    });
  }
  std::mt19937 rng(5);
  std::vector<std::byte> buf(1024);
  for (std::uint64_t q = 0; q < kRecords; ++q) {
    const std::size_t n = CheckedRecord::kHeader + rng() % 400;
    CheckedRecord::fill({buf.data(), n}, 0, q);
    ASSERT_EQ(w->publish(1, {buf.data(), n}), PublishStatus::ok);
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_EQ(failures[i], "") << "reader " << i;
    EXPECT_EQ(delivered[i] + readers[i].total_loss().records, kRecords) << "reader " << i;
  }
}

}  // namespace
}  // namespace shmio::shm
