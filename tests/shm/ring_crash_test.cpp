// Producers SIGKILLed in the middle of a claim: nobody else may stay blocked for longer than the
// documented bound, the hole becomes padding and is counted, and every other record arrives.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "shmio/shm/registry.hpp"
#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::CheckedRecord;
using test::RingName;

std::atomic<int> g_kill_countdown{-1};
core::HookPoint g_kill_at = core::HookPoint::after_fetch_add;
void kill_hook(core::HookPoint point, std::uint64_t) {
  if (point == g_kill_at && g_kill_countdown.fetch_sub(1) == 0) ::kill(::getpid(), SIGKILL);
}

void yield_hook(core::HookPoint point, std::uint64_t) {
  if (point == core::HookPoint::after_fetch_add) ::sched_yield();
}

const char* point_name(core::HookPoint p) {
  switch (p) {
    case core::HookPoint::after_intent:
      return "after_intent";
    case core::HookPoint::after_fetch_add:
      return "after_fetch_add";
    case core::HookPoint::after_gate:
      return "after_gate";
    case core::HookPoint::before_write:
      return "before_write";
    case core::HookPoint::before_seal:
      return "before_seal";
    case core::HookPoint::after_seal:
      return "after_seal";
    case core::HookPoint::slot_taken:
      return "slot_taken";
    case core::HookPoint::slot_filled:
      return "slot_filled";
    case core::HookPoint::slot_owning:
      return "slot_owning";
    case core::HookPoint::slot_owned:
      return "slot_owned";
    case core::HookPoint::repair_judged:
      return "repair_judged";
    case core::HookPoint::repair_locked:
      return "repair_locked";
  }
  return "?";
}

// A child writer ("victim", producer 1 of CheckedRecord) that publishes records 0-9 and is killed
// in the middle of publishing record 10, at `at`.
pid_t spawn_victim(const std::string& name, core::HookPoint at) {
  return test::spawn([name, at] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "victim", .core = -1});
    if (!w) return 3;
    std::vector<std::byte> buf(100);
    for (std::uint64_t q = 0; q < 10; ++q) {
      CheckedRecord::fill(buf, 1, q);
      if (w->publish(1, buf) != PublishStatus::ok) return 1;
    }
    g_kill_at = at;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    CheckedRecord::fill(buf, 1, 10);
    (void)w->publish(1, buf);  // dies in here
    return 2;
  });
}

// spawn_victim(name, at) run to its death, then the survivor's records 0-4 (producer 0 of
// CheckedRecord, 100 bytes) published behind whatever it left; `died`: when the victim was seen
// dead.
void kill_victim_then_publish(const std::string& name, core::HookPoint at, RingWriter& survivor,
                              std::chrono::steady_clock::time_point& died) {
  ASSERT_EQ(test::join(spawn_victim(name, at)), 128 + SIGKILL);
  died = std::chrono::steady_clock::now();
  std::vector<std::byte> buf(100);
  for (std::uint64_t q = 0; q < 5; ++q) {
    CheckedRecord::fill(buf, 0, q);
    ASSERT_EQ(survivor.publish(1, buf), PublishStatus::ok);
  }
}

// A child that repairs the ring `name` (core::resolve_stall) and stops itself (SIGSTOP) at `at`;
// its pid once it is stopped there, or -1 (it exits 0 once resumed if it repaired the hole).
core::HookPoint g_stop_at = core::HookPoint::repair_judged;
pid_t spawn_repairer_stopped_at(const std::string& name, core::HookPoint at) {
  const pid_t pid = test::spawn([&] {
    auto seg = Segment::attach(name);
    if (!seg) return 3;
    g_stop_at = at;
    core::set_test_hook(+[](core::HookPoint point, std::uint64_t) {
      if (point == g_stop_at) ::raise(SIGSTOP);
    });
    return core::resolve_stall(*seg) == core::StallOutcome::repaired ? 0 : 4;
  });
  int status = 0;
  if (::waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) return -1;
  return pid;
}

class KilledMidClaim : public ::testing::TestWithParam<core::HookPoint> {};

// These tests stop and kill producers at the ring's test hooks: they link the library variant
// that has them (shmio_shm_test_hooks); the one everything else links has none.
TEST(RingHooks, TheCrashTestsLibraryHasTheTestHooks) {
  EXPECT_TRUE(core::test_hooks_compiled());
}

TEST_P(KilledMidClaim, OthersContinueWithinTheBound) {
  const core::HookPoint at = GetParam();
  RingName name(std::string("kill-") + point_name(at));
  auto s = test::make_ring(name, 1 << 16, 1024);
  auto reader = RingReader::attach(s).value();
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();

  // The survivor publishes behind the dead claim; the reader must get past the hole.
  std::chrono::steady_clock::time_point died;
  kill_victim_then_publish(name, at, survivor, died);
  if (HasFatalFailure()) return;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> got;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> stamps;  // (position, index) delivered
  while (got.size() < 10 + 5 + (at == core::HookPoint::after_seal ? 1 : 0)) {
    ASSERT_TRUE(reader.wait(std::chrono::seconds(10))) << "stuck behind the dead claim";
    reader.poll([&](const RecordView& v) {
      ASSERT_TRUE(CheckedRecord::valid(v.payload));
      // Each record's index is its place in the order: the hole (padding) counts for nothing,
      // whatever the dead producer had stamped ahead before it died.
      EXPECT_EQ(v.index, got.size());
      stamps.emplace_back(v.position, v.index);
      got.emplace_back(CheckedRecord::producer(v.payload), CheckedRecord::seq(v.payload));
    });
  }
  // ... and so is the index stamped at its position (what a lapped reader's resync, seek and a
  // reader attaching at the latest record go by), once the frontier has passed it: a reader may
  // get a record before, by its seal. Here everything has been passed by now (by the survivor's
  // commits, the repair's advance over a hole, or the reader's wait()).
  ASSERT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load());
  for (auto [position, index] : stamps)
    EXPECT_EQ(core::index_at(s, position), index) << "at " << position;
  const auto unblocked = std::chrono::steady_clock::now() - died;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(unblocked).count();
  std::printf("[ info ] killed %s: reader past the hole %lld ms after the death\n", point_name(at),
              static_cast<long long>(ms));
  // The documented bound is about 2 x dead_check_interval (10 ms); this generous ceiling only
  // catches a repair that never comes (the figure itself is printed above and in the benchmark).
  EXPECT_LT(ms, 2000);

  std::uint64_t next[2] = {0, 0};
  for (auto [p, q] : got) {
    ASSERT_LT(p, 2u);
    EXPECT_EQ(q, next[p]++) << "producer " << p;
  }
  EXPECT_EQ(next[0], 5u);
  const bool hole = at == core::HookPoint::after_fetch_add || at == core::HookPoint::after_gate ||
                    at == core::HookPoint::before_write || at == core::HookPoint::before_seal;
  EXPECT_EQ(next[1], hole || at == core::HookPoint::after_intent ? 10u : 11u);
  EXPECT_EQ(s.control().repair.repairs.load(), hole ? 1u : 0u);
  if (hole) {
    // The dead producer's slot shows the abandoned claim.
    bool found = false;
    for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
      const auto& slot = s.producer_slot(i);
      if (std::string(slot.label) == "victim") {
        found = true;
        EXPECT_EQ(slot.state.load(), layout::kSlotDead);
        EXPECT_EQ(slot.abandoned.load(), 1u);
        EXPECT_EQ(slot.abandoned_bytes.load(), layout::footprint(100));
      }
    }
    EXPECT_TRUE(found);
  }
}

// A reader parked on a quiet ring (its slice a second long) before a producer claimed and died
// unsealed: a survivor's commit behind the hole wakes it, it sees the claim in flight and has the
// hole repaired within the dead-check bound. (Before 2026-12-05 nothing woke it: the survivor's
// commit did not move the frontier, and the hole was found when the reader's second was up.)
TEST(RingCrash, AReaderParkedBeforeTheClaimHasTheHoleRepairedWithinTheBound) {
  RingName name("parked-before-claim");
  auto s = test::make_ring(name, 1 << 16, 1024);
  auto reader = RingReader::attach(s).value();
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();
  std::atomic<bool> woke{false};
  std::thread waiting([&] { woke = reader.wait(std::chrono::seconds(5)); });
  struct Joined {
    std::thread& t;
    ~Joined() {
      if (t.joinable()) t.join();  // (an assertion failed below: its 5 s, then it returns)
    }
  } joined{waiting};
  // Parked (its count in the ring's waiters), not spinning.
  while (s.control().wake.waiters.load() == 0) std::this_thread::yield();
  // (A victim whose first record is the one it dies in: any before would wake the reader.)
  const pid_t victim = test::spawn([&name] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "victim", .core = -1});
    if (!w) return 3;
    g_kill_at = core::HookPoint::before_seal;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    std::vector<std::byte> buf(100);
    (void)w->publish(1, buf);  // dies in here
    return 2;
  });
  ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  const auto died = std::chrono::steady_clock::now();
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 0);
  ASSERT_EQ(survivor.publish(1, buf), PublishStatus::ok);
  waiting.join();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - died)
          .count();
  std::printf("[ info ] the parked reader woke %lld ms after the death\n",
              static_cast<long long>(ms));
  ASSERT_TRUE(woke) << "not woken within its 5 s";
  // The bound is about 2 x dead_check_interval (10 ms); the reader's slice was a second.
  EXPECT_LT(ms, 500);
  std::size_t got = 0;
  while (reader.poll([&](const RecordView& v) { got += CheckedRecord::valid(v.payload); })) {
  }
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoint, KilledMidClaim,
    ::testing::Values(core::HookPoint::after_intent, core::HookPoint::after_fetch_add,
                      core::HookPoint::after_gate, core::HookPoint::before_write,
                      core::HookPoint::before_seal, core::HookPoint::after_seal),
    [](const auto& param_info) { return point_name(param_info.param); });

// A RingSetReader waiting on two rings, the second of which has a producer killed in the middle
// of a claim (a hole, unsealed) with a survivor's records behind it: the set's wait() repairs the
// hole through that ring's stall watch, as RingReader::wait() does, and every finished record of
// both rings arrives, each ring's in its order.
TEST(RingCrash, AWaitingRingSetReaderRepairsADeadProducersClaimOnOneOfItsRings) {
  RingName quiet_name("set-kill-quiet"), name("set-kill");
  auto quiet = test::make_ring(quiet_name, 1 << 16, 1024);
  auto s = test::make_ring(name, 1 << 16, 1024);
  const Segment* rings[] = {&quiet, &s};
  auto set = RingSetReader::attach(rings).value();
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();
  auto other = RingWriter::attach(quiet, {.label = "other", .core = -1}).value();

  std::chrono::steady_clock::time_point died;
  kill_victim_then_publish(name, core::HookPoint::before_write, survivor, died);
  if (HasFatalFailure()) return;
  std::vector<std::byte> buf(100);
  for (std::uint64_t q = 0; q < 3; ++q) {
    CheckedRecord::fill(buf, 2, q);
    ASSERT_EQ(other.publish(1, buf), PublishStatus::ok);
  }
  // Producer 1 (the victim) finished 0-9 on ring 1, the survivor (0) 0-4 behind its hole; producer
  // 2 wrote 0-2 on ring 0.
  std::uint64_t next[3] = {0, 0, 0};
  std::size_t got = 0;
  while (got < 10 + 5 + 3) {
    ASSERT_TRUE(set.wait(std::chrono::seconds(10))) << "stuck behind the dead claim";
    got += set.poll([&](std::size_t ring, const RecordView& v) {
      ASSERT_TRUE(CheckedRecord::valid(v.payload));
      const std::uint32_t p = CheckedRecord::producer(v.payload);
      ASSERT_LT(p, 3u);
      EXPECT_EQ(ring, p == 2 ? 0u : 1u);
      EXPECT_EQ(CheckedRecord::seq(v.payload), next[p]++) << "producer " << p;
    });
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - died)
          .count();
  EXPECT_LT(ms, 2000) << "the repair never came (the bound is about 2 x 10 ms)";
  EXPECT_EQ(next[0], 5u);
  EXPECT_EQ(next[1], 10u);
  EXPECT_EQ(next[2], 3u);
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
  EXPECT_EQ(quiet.control().repair.repairs.load(), 0u);
  EXPECT_EQ(set.total_loss().records, 0u);
}

// The stall watch lasts across wait() calls: a reader whose waits all end before the dead-check
// interval (5 ms waits, a 10 ms interval) still has a dead producer's claim repaired. Before, each
// call started its watch afresh, and such a reader waited behind the hole for good.
TEST(RingCrash, AReaderWhoseWaitsAreShorterThanTheIntervalStillHasTheHoleRepaired) {
  RingName name("short-waits");
  auto s = test::make_ring(name, 1 << 16, 1024);
  auto reader = RingReader::attach(s).value();
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();
  std::chrono::steady_clock::time_point died;
  kill_victim_then_publish(name, core::HookPoint::before_write, survivor, died);
  if (HasFatalFailure()) return;
  std::size_t got = 0;
  while (got < 15 && std::chrono::steady_clock::now() - died < std::chrono::seconds(5)) {
    (void)reader.wait(std::chrono::milliseconds(5));
    got += reader.poll([](const RecordView& v) { EXPECT_TRUE(CheckedRecord::valid(v.payload)); });
  }
  EXPECT_EQ(got, 15u) << "stuck behind the dead claim";
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
}

// A RingSetReader kept busy by one ring (a record every millisecond: its waits end early, or do
// not park at all) still has a dead producer's claim on its other ring repaired within about the
// interval, while the busy ring goes on.
TEST(RingCrash, ARingSetReaderKeptBusyByOneRingHasTheOthersHoleRepaired) {
  RingName busy_name("set-busy"), name("set-busy-kill");
  auto busy = test::make_ring(busy_name, 1 << 20, 1024);
  auto s = test::make_ring(name, 1 << 16, 1024);
  const Segment* rings[] = {&busy, &s};
  auto set = RingSetReader::attach(rings).value();
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();
  std::chrono::steady_clock::time_point died;
  kill_victim_then_publish(name, core::HookPoint::before_write, survivor, died);
  if (HasFatalFailure()) return;
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    auto w = RingWriter::attach(busy, {.label = "ticker", .core = -1}).value();
    std::vector<std::byte> buf(100);
    while (!stop.load()) {
      (void)w.publish(1, buf);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::size_t from_hole_ring = 0;
  while (from_hole_ring < 15 && std::chrono::steady_clock::now() - died < std::chrono::seconds(5)) {
    (void)set.wait(std::chrono::seconds(1));
    set.poll([&](std::size_t ring, const RecordView&) { from_hole_ring += ring == 1; });
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - died)
          .count();
  stop = true;
  ticker.join();
  EXPECT_EQ(from_hole_ring, 15u) << "stuck behind the dead claim while the other ring was busy";
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
}

// The same hole with nobody reading: a RingNotifier over both rings repairs it (a stall watch per
// ring), so an event loop parked on the notifier's eventfd is not held up: the ring's frontier
// reaches its tail within the bound. The thread mode repairs from its thread; the io_uring mode
// from drain(), which its timer's readiness makes the loop call (the loop here only waits on the
// eventfd and drains it, as the documented pattern does before it reads).
// With `other_busy`, a thread publishes into the other ring without a pause meanwhile, so that the
// notifier finds a move to pass on at most of its looks. (Not at every one: on the dev VM the
// thread mode's loop still parked about 160 times in the 17 ms the repair took, and each park
// watches the claims in flight; so this does not show the once-a-millisecond watch of a loop that
// never parks — it passed with that watch taken out.)
class NotifierRepairs : public ::testing::TestWithParam<NotifierMode> {
 protected:
  void repairs_with_the_other_ring(bool other_busy);
};

TEST_P(NotifierRepairs, ANotifierOverSeveralRingsRepairsADeadProducersClaimOnOneOfThem) {
  repairs_with_the_other_ring(false);
}

TEST_P(NotifierRepairs, ANotifierRepairsADeadProducersClaimWhileAnotherRingKeepsMoving) {
  repairs_with_the_other_ring(true);
}

void NotifierRepairs::repairs_with_the_other_ring(bool other_busy) {
  const NotifierMode mode = GetParam();
  RingName quiet_name(std::string("notify-kill-quiet-") + std::string(to_string(mode)));
  RingName name(std::string("notify-kill-") + std::string(to_string(mode)));
  auto quiet = test::make_ring(quiet_name, 1 << 16, 1024);
  auto s = test::make_ring(name, 1 << 16, 1024);
  const Segment* rings[] = {&quiet, &s};
  auto notifier = RingNotifier::start(rings, {.mode = mode});
  if (!notifier && mode == NotifierMode::io_uring)
    GTEST_SKIP() << "no io_uring mode on this kernel: " << notifier.error().message;
  ASSERT_TRUE(notifier) << notifier.error().message;
  ASSERT_EQ(notifier.value()->mode(), mode);
  std::atomic<bool> stop{false};
  std::thread loop;
  if (mode == NotifierMode::io_uring) {
    loop = std::thread([&] {
      pollfd pfd{notifier.value()->fd(), POLLIN, 0};
      while (!stop.load())
        if (::poll(&pfd, 1, 10) > 0) notifier.value()->drain();
    });
  }
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join{stop, loop};
  std::thread ticker;
  if (other_busy) {
    ticker = std::thread([&] {
      auto w = RingWriter::attach(quiet, {.label = "ticker", .core = -1});
      if (!w) return;  // (the test then shows only the quiet case)
      std::vector<std::byte> buf(64);
      for (std::uint64_t i = 0; !stop.load(); ++i) {
        (void)w->publish(1, buf);
        if (i % 4096 == 4095) std::this_thread::yield();  // (two vCPUs: the repairer's turn)
      }
    });
  }
  Join join_ticker{stop, ticker};
  auto survivor = RingWriter::attach(s, {.label = "survivor", .core = -1}).value();
  std::chrono::steady_clock::time_point died;
  kill_victim_then_publish(name, core::HookPoint::before_write, survivor, died);
  if (HasFatalFailure()) return;
  const auto deadline = died + std::chrono::seconds(10);
  // (Looked at every 200 us, not in a yield loop: on two CPUs the ticker and the notifier's
  // thread then keep theirs.)
  while (s.control().frontier.frontier.load() != s.control().tail.tail.load() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load())
      << "the hole was never repaired";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - died)
          .count();
  EXPECT_LT(ms, 2000) << "the repair came late (the bound is about 2 x 10 ms)";
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
  // Every record after the hole is there for a reader that comes later.
  auto r = RingReader::attach(s, {.start = StartAt::oldest}).value();
  std::size_t survivors = 0;
  while (r.poll([&](const RecordView& v) {
    survivors += CheckedRecord::valid(v.payload) && CheckedRecord::producer(v.payload) == 0;
  })) {
  }
  EXPECT_EQ(survivors, 5u);
}

INSTANTIATE_TEST_SUITE_P(Modes, NotifierRepairs,
                         ::testing::Values(NotifierMode::thread, NotifierMode::io_uring),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// A process killed while it waits leaves its count in the ring's waiters (every later commit
// would then make a FUTEX_WAKE that wakes no one). Its count is also in its reader slot, and
// whoever frees that slot takes it back: reap_dead_readers, or the next reader attach that reuses
// the slot. Each way of waiting: a RingReader parked in wait(), and a RingNotifier (its thread,
// its io_uring wait) counting in its reader's slot — or, given none, in a slot of its own (before,
// such a notifier counted its wait on the ring only, and its death left the count there for good).
enum class Waits { reader, notifier_thread, notifier_io_uring, own_thread, own_io_uring };
class DeadWaiter : public ::testing::TestWithParam<std::tuple<Waits, bool>> {};

TEST_P(DeadWaiter, ItsCountOnTheRingIsTakenBackWithItsSlot) {
  const auto [waits, by_attach] = GetParam();
  const bool uring = waits == Waits::notifier_io_uring || waits == Waits::own_io_uring;
  const bool own = waits == Waits::own_thread || waits == Waits::own_io_uring;
  if (uring && !RingNotifier::supports(NotifierMode::io_uring))
    GTEST_SKIP() << "no io_uring mode on this kernel";
  RingName name(std::string("dead-waiter-") + std::to_string(static_cast<int>(waits)) +
                (by_attach ? "-attach" : "-reap"));
  RingConfig cfg;
  cfg.name = name.str();
  cfg.capacity = 1 << 16;
  cfg.max_readers = 1;  // (so that the next attach must reuse the dead waiter's slot)
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s) << s.error().message;
  const pid_t child = test::spawn([&] {
    auto seg = Segment::attach(name.str());
    if (!seg) return 3;
    if (own) {  // no reader: the notifier takes the only slot itself
      auto n = RingNotifier::start(*seg,
                                   {.mode = uring ? NotifierMode::io_uring : NotifierMode::thread});
      if (!n) return 8;
      ::pause();
      return 9;
    }
    auto r = RingReader::attach(*seg, {.label = "waiter"});
    if (!r) return 4;
    if (waits == Waits::reader) {
      (void)r->wait(std::chrono::seconds(60), std::chrono::nanoseconds(0));
      return 5;
    }
    const RingReader* counted_in[] = {&r.value()};
    auto n = RingNotifier::start(
        *seg,
        {.mode = uring ? NotifierMode::io_uring : NotifierMode::thread, .readers = counted_in});
    if (!n) return 6;
    ::pause();
    return 7;
  });
  ASSERT_GT(child, 0);
  const layout::Control& c = s->control();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto waiting = [&] { return c.wake.waiters.load() == 1 && s->reader_slot(0).parked.load() == 1; };
  while (!waiting() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(waiting()) << "the child never waited (waiters " << c.wake.waiters.load() << ")";
  if (own) {
    EXPECT_STREQ(s->reader_slot(0).label, "notifier");
  }
  ::kill(child, SIGKILL);
  ASSERT_EQ(test::join(child), 128 + SIGKILL);
  EXPECT_EQ(c.wake.waiters.load(), 1u) << "nobody took it back yet";
  if (by_attach) {
    auto next = RingReader::attach(*s);  // the only slot: the dead waiter's
    ASSERT_TRUE(next) << next.error().message;
  } else {
    EXPECT_EQ(registry::reap_dead_readers(*s), 1u);
  }
  EXPECT_EQ(c.wake.waiters.load(), 0u) << "the dead waiter's count stayed on the ring";
  EXPECT_EQ(s->reader_slot(0).parked.load(), 0u);
}

std::string dead_waiter_name(const ::testing::TestParamInfo<std::tuple<Waits, bool>>& p) {
  const Waits w = std::get<0>(p.param);
  return std::string(w == Waits::reader              ? "reader"
                     : w == Waits::notifier_thread   ? "notifier_thread"
                     : w == Waits::notifier_io_uring ? "notifier_io_uring"
                     : w == Waits::own_thread        ? "notifier_thread_own_slot"
                                                     : "notifier_io_uring_own_slot") +
         (std::get<1>(p.param) ? "_by_attach" : "_by_reap");
}
INSTANTIATE_TEST_SUITE_P(Ways, DeadWaiter,
                         ::testing::Combine(::testing::Values(Waits::reader, Waits::notifier_thread,
                                                              Waits::notifier_io_uring,
                                                              Waits::own_thread,
                                                              Waits::own_io_uring),
                                            ::testing::Bool()),
                         dead_waiter_name);

// A dead reader's slot labelled as the one to keep (the fleet bridge's: its successor resumes at
// its position) is not freed by a reap that keeps that label: its wait is taken back, its owner,
// label and position stay, the next reader to attach takes a free slot instead; a reap without
// the label frees it. (Freed at once before 2026-12-03, the next reader to attach took it, and a
// restarted bridge found no position to resume at.)
TEST(RingCrash, ADeadReadersSlotKeptForItsSuccessorIsNotTakenByTheNextReader) {
  RingName name("keep-dead");
  RingConfig cfg;
  cfg.name = name.str();
  cfg.capacity = 1 << 16;
  cfg.max_readers = 2;
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s) << s.error().message;
  {
    auto w = RingWriter::attach(*s).value();
    const std::byte one[8] = {};
    for (int i = 0; i < 3; ++i) ASSERT_EQ(w.publish(1, one), PublishStatus::ok);
  }
  const pid_t child = test::spawn([&] {
    auto seg = Segment::attach(name.str());
    if (!seg) return 3;
    auto r = RingReader::attach(*seg, {.label = "bridge", .start = StartAt::oldest});
    if (!r) return 4;
    int n = 0;
    r->poll([&](const RecordView&) { ++n; });
    if (n != 3) return 5;
    (void)r->wait(std::chrono::seconds(60), std::chrono::nanoseconds(0));
    return 6;
  });
  ASSERT_GT(child, 0);
  const layout::Control& c = s->control();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::uint16_t dead = 0;  // (the only reader so far: the first slot)
  // (Both counts: the ring's is raised before the slot's.)
  auto waiting = [&] {
    return c.wake.waiters.load() == 1 && s->reader_slot(dead).parked.load() == 1;
  };
  while (!waiting() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(waiting()) << "the child never waited";
  ASSERT_STREQ(s->reader_slot(dead).label, "bridge");
  ::kill(child, SIGKILL);
  ASSERT_EQ(test::join(child), 128 + SIGKILL);
  const std::uint64_t stopped = s->reader_slot(dead).position.load();
  EXPECT_GT(stopped, 0u);
  EXPECT_EQ(registry::reap_dead_readers(*s, "bridge"), 0u) << "kept, not freed";
  EXPECT_EQ(c.wake.waiters.load(), 0u) << "its wait taken back all the same";
  EXPECT_EQ(s->reader_slot(dead).parked.load(), 0u);
  auto next = RingReader::attach(*s, {.label = "worker-1"});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_NE(next->id(), dead) << "the next reader took the dead one's slot";
  EXPECT_STREQ(s->reader_slot(dead).label, "bridge");
  EXPECT_EQ(s->reader_slot(dead).position.load(), stopped);
  EXPECT_EQ(registry::reap_dead_readers(*s), 1u) << "freed by a reap without the label";
}

// A live waiter's count is never taken: reaping finds no dead slot while it waits, and its count
// leaves with its own wait when it ends.
TEST(RingCrash, ALiveWaitersCountIsNotTakenBack) {
  RingName name("live-waiter");
  auto s = test::make_ring(name, 1 << 16);
  auto r = RingReader::attach(s).value();
  std::thread waiter([&] { (void)r.wait(std::chrono::seconds(30), std::chrono::nanoseconds(0)); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s.control().wake.waiters.load() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_EQ(s.control().wake.waiters.load(), 1u);
  EXPECT_EQ(registry::reap_dead_readers(s), 0u);
  EXPECT_EQ(s.control().wake.waiters.load(), 1u);
  auto w = RingWriter::attach(s).value();
  const std::byte one[1] = {};
  ASSERT_EQ(w.publish(1, one), PublishStatus::ok);
  waiter.join();
  EXPECT_EQ(s.control().wake.waiters.load(), 0u);
  EXPECT_EQ(s.reader_slot(r.id()).parked.load(), 0u);
}

// An exclusive ring's one producer killed at each point of a claim: the next producer's attach
// completes or repairs what it left (no wait for the dead-check interval: the holder is known dead
// at once), takes its place, and goes on from the same tail and index; the reader gets every record
// the victim finished, and its claim's hole, if any, is padding counted as abandoned.
class KilledMidExclusiveClaim : public ::testing::TestWithParam<core::HookPoint> {};

TEST_P(KilledMidExclusiveClaim, TheNextProducerRepairsItAndTakesOver) {
  const core::HookPoint at = GetParam();
  RingName name(std::string("xkill-") + point_name(at));
  auto s = test::make_ring(name, 1 << 16, 1024, true);
  auto reader = RingReader::attach(s).value();

  ASSERT_EQ(test::join(spawn_victim(name, at)), 128 + SIGKILL);

  auto successor = RingWriter::attach(s, {.label = "successor", .core = -1});
  ASSERT_TRUE(successor) << successor.error().message;
  const layout::Control& c = s.control();
  EXPECT_EQ(c.frontier.frontier.load(), c.tail.tail.load()) << "the ring is quiet again";
  std::vector<std::byte> buf(100);
  for (std::uint64_t q = 0; q < 5; ++q) {
    CheckedRecord::fill(buf, 0, q);
    ASSERT_EQ(successor->publish(1, buf), PublishStatus::ok);
  }
  const bool sealed = at == core::HookPoint::after_seal;
  const bool hole = !sealed && at != core::HookPoint::after_intent;  // the tail stored, no seal
  std::vector<std::pair<std::uint32_t, std::uint64_t>> got;
  while (got.size() < 10 + 5 + (sealed ? 1 : 0)) {
    ASSERT_TRUE(reader.wait(std::chrono::seconds(10))) << "stuck";
    reader.poll([&](const RecordView& v) {
      ASSERT_TRUE(CheckedRecord::valid(v.payload));
      EXPECT_EQ(v.index, got.size()) << "the hole counts for nothing";
      got.emplace_back(CheckedRecord::producer(v.payload), CheckedRecord::seq(v.payload));
    });
  }
  std::uint64_t next[2] = {0, 0};
  for (auto [p, q] : got) {
    ASSERT_LT(p, 2u);
    EXPECT_EQ(q, next[p]++) << "producer " << p;
  }
  EXPECT_EQ(next[0], 5u);
  EXPECT_EQ(next[1], sealed ? 11u : 10u);
  EXPECT_EQ(c.repair.repairs.load(), hole ? 1u : 0u);
  EXPECT_EQ(core::index_at(s, c.frontier.frontier.load()), got.size());
  for (std::uint16_t i = 0; i < s.max_producers(); ++i) {
    const auto& slot = s.producer_slot(i);
    if (std::string(slot.label) != "victim") continue;
    EXPECT_EQ(slot.state.load(), layout::kSlotDead);
    EXPECT_EQ(slot.abandoned.load(), hole ? 1u : 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoint, KilledMidExclusiveClaim,
    ::testing::Values(core::HookPoint::after_intent, core::HookPoint::after_fetch_add,
                      core::HookPoint::after_gate, core::HookPoint::before_write,
                      core::HookPoint::before_seal, core::HookPoint::after_seal),
    [](const auto& param_info) { return point_name(param_info.param); });

// A ring with one producer slot: the holder dies between writing its claim into its slot and
// storing the tail (no claim was made). Its slot must be reusable, or the ring could never be
// written again.
TEST(RingCrash, AnExclusiveRingWithOneSlotIsTakenOverAfterADeathBeforeTheTailStore) {
  RingName name("xone");
  auto s = test::make_ring(name, 1 << 16, 0, true, 1);
  auto reader = RingReader::attach(s).value();
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::after_intent)), 128 + SIGKILL);
  auto next = RingWriter::attach(s, {.label = "next", .core = -1});
  ASSERT_TRUE(next) << next.error().message;
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 0);
  ASSERT_EQ(next->publish(1, buf), PublishStatus::ok);
  std::uint64_t got = 0;
  while (reader.poll([&](const RecordView& v) {
    EXPECT_EQ(v.index, got);
    ++got;
  })) {
  }
  EXPECT_EQ(got, 11u) << "the victim's 10 records and the next one's";
}

// The same on a shared ring of one producer slot, the victim killed after its intent, before its
// fetch_add: nothing in flight (the ring is quiet), so no repair comes; its slot, left CLAIMING,
// is taken by the next writer (before, it stayed taken for good: no_free_slot at every attach).
TEST(RingCrash, ASharedRingsOnlySlotLeftClaimingByADeadWriterIsTakenAgain) {
  RingName name("one-claiming");
  auto s = test::make_ring(name, 1 << 16, 0, false, 1);
  auto reader = RingReader::attach(s).value();
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::after_intent)), 128 + SIGKILL);
  ASSERT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load()) << "quiet";
  auto next = RingWriter::attach(s, {.label = "next", .core = -1});
  ASSERT_TRUE(next) << next.error().message;
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 0);
  ASSERT_EQ(next->publish(1, buf), PublishStatus::ok);
  std::uint64_t got = 0;
  while (reader.poll([&](const RecordView&) { ++got; })) {
  }
  EXPECT_EQ(got, 11u) << "the victim's 10 records and the next one's";
}

// A producer slot left marked TAKING by a taker killed before it made the slot its own (here:
// reusing a dead writer's slot that was left CLAIMING) is judged by its owner, not taken for a
// live one's: a later death's hole is repaired. Before 2026-12-05 every TAKING slot counted as
// alive, so resolve_stall answered owner_alive for good and the ring stalled (found by a review).
// The same with the taker stopped there, alive (SIGSTOP, a debugger): until 2026-12-07 a live
// taker's mark still counted the dead writer's stale CLAIMING as a live claim, and no hole was
// repaired while the taker stayed stopped (a review).
void a_taker_left_in_a_dead_writers_slot(bool killed) {
  RingName name("dead-taker");
  auto s = test::make_ring(name, 1 << 16, 0, false, 3);
  // Slot 0: a writer dead after its intent (ACTIVE, CLAIMING, no claim made).
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::after_intent)), 128 + SIGKILL);
  auto l1 = RingWriter::attach(s, {.label = "l1", .core = -1});
  auto l2 = std::make_optional(RingWriter::attach(s, {.label = "l2", .core = -1}).value());
  ASSERT_TRUE(l1);
  // A taker reuses slot 0 (the only one left: its owner is dead) and is killed or stopped there.
  pid_t taker = -1;
  if (killed) {
    g_kill_at = core::HookPoint::slot_taken;
    taker = test::spawn([&name] {
      auto seg = Segment::attach(name);
      if (!seg) return 3;
      g_kill_countdown = 0;
      core::set_test_hook(&kill_hook);
      (void)RingWriter::attach(*seg, {.label = "taker", .core = -1});
      return 2;
    });
    ASSERT_EQ(test::join(taker), 128 + SIGKILL);
  } else {
    g_stop_at = core::HookPoint::slot_taken;
    taker = test::spawn([&name] {
      auto seg = Segment::attach(name);
      if (!seg) return 3;
      core::set_test_hook(+[](core::HookPoint point, std::uint64_t) {
        if (point == g_stop_at) ::raise(SIGSTOP);
      });
      return RingWriter::attach(*seg, {.label = "taker", .core = -1}) ? 0 : 4;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(taker, &status, WUNTRACED), taker);
    ASSERT_TRUE(WIFSTOPPED(status));
  }
  // (A stopped taker is not left behind by a failed assertion.)
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{killed ? -1 : taker};
  ASSERT_EQ(s.producer_slot(0).state.load(), layout::taking_by(static_cast<std::uint32_t>(taker)));
  ASSERT_EQ(s.producer_slot(0).claim_state.load(), layout::kClaimClaiming);
  // Another writer dies in slot 2 with its claim made and unwritten: a hole.
  l2.reset();
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::before_write)), 128 + SIGKILL);
  ASSERT_NE(s.control().frontier.frontier.load(), s.control().tail.tail.load()) << "a hole";
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::repaired);
  EXPECT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load());
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 0);
  EXPECT_EQ(l1->publish(1, buf), PublishStatus::ok);
  if (!killed) {
    // Resumed, the taker makes the slot its own.
    ::kill(taker, SIGCONT);
    reap.pid = -1;
    EXPECT_EQ(test::join(taker), 0);
  }
}
TEST(RingCrash, ASlotLeftTakingByADeadTakerDoesNotBlockTheNextRepair) {
  a_taker_left_in_a_dead_writers_slot(true);
}
TEST(RingCrash, ASlotATakerIsStoppedInDoesNotBlockTheNextRepair) {
  a_taker_left_in_a_dead_writers_slot(false);
}

// A repairer stopped in its book-keeping after it judged a dead producer's slot dead (a /proc
// read takes that long, or it was descheduled): meanwhile its padding is passed and the slot is
// taken again by a live writer. The repairer, resumed, leaves that writer's slot alone (before,
// it marked the live writer's slot DEAD, and a third writer took it too: two writers on one slot).
TEST(RingCrash, ARepairerNeverMarksASlotTakenAgainMeanwhileDead) {
  RingName name("repair-aba");
  auto s = test::make_ring(name, 1 << 16, 0, false, 1);
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::before_write)), 128 + SIGKILL);
  ASSERT_NE(s.control().frontier.frontier.load(), s.control().tail.tail.load()) << "a hole";
  const pid_t repairer = spawn_repairer_stopped_at(name, core::HookPoint::repair_judged);
  ASSERT_GT(repairer, 0) << "the repairer never reached its book-keeping";
  // The padding is sealed: passing it puts the victim's claim below the frontier, and its slot is
  // reusable.
  core::advance_frontier(s);
  ASSERT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load());
  auto next = RingWriter::attach(s, {.label = "next", .core = -1});
  ASSERT_TRUE(next) << next.error().message;
  ::kill(repairer, SIGCONT);
  EXPECT_EQ(test::join(repairer), 0);
  EXPECT_EQ(s.producer_slot(0).state.load(), layout::kSlotActive) << "marked DEAD under its writer";
  EXPECT_EQ(s.producer_slot(0).pid.load(), ::getpid());
  auto third = RingWriter::attach(s, {.label = "third", .core = -1});
  ASSERT_FALSE(third) << "a second writer on the one slot";
  EXPECT_EQ(third.error().code, Errc::no_free_slot);
  std::vector<std::byte> buf(100);
  EXPECT_EQ(next->publish(1, buf), PublishStatus::ok);
}

// Four producers die right after their claims (a quarter of the ring each), before they published
// their positions: the hole is the whole ring. (No hook stops a claim between its fetch_add and
// its position's store: the victims die just after it, and their slots are set back to CLAIMING,
// as such a death leaves them.) Its repair writes it as padding records of at most half a capacity:
// padding of a capacity or more is what advancers and readers take for damage (one record
// spanning a lap). The frontier passes the hole, a reader reads on without loss or corruption,
// and the ring takes records again.
// `victims` producers die right after claiming a quarter of the ring each, their slots set back to
// CLAIMING (see below): a hole of victims/4 capacities at the frontier.
void kill_quarter_claimers(const RingName& name, Segment& s, int victims) {
  const std::uint64_t quarter = s.capacity() / 4;
  for (int i = 0; i < victims; ++i) {
    const pid_t victim = test::spawn([&] {
      auto seg = Segment::attach(name);
      auto w = RingWriter::attach(*seg, {.label = "victim", .core = -1});
      if (!w) return 3;
      g_kill_at = core::HookPoint::after_fetch_add;
      g_kill_countdown = 0;
      core::set_test_hook(&kill_hook);
      std::vector<std::byte> buf(quarter);  // one unit of footprint: exactly a quarter
      (void)w->publish(1, buf);             // dies in here
      return 2;
    });
    ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  }
  ASSERT_EQ(s.control().tail.tail.load(), quarter * static_cast<std::uint64_t>(victims));
  int unpublished = 0;
  for (std::uint16_t i = 0; i < s.max_producers(); ++i)
    if (s.producer_slot(i).claim_state.load() == layout::kClaimClaimed) {
      s.producer_slot(i).claim_state.store(layout::kClaimClaiming);
      ++unpublished;
    }
  ASSERT_EQ(unpublished, victims);
  ASSERT_EQ(s.control().frontier.frontier.load(), 0u);
}

// After a repair: the ring takes a record again, and `reader` gets it whole.
void expect_one_record_after_the_repair(Segment& s, RingReader& reader) {
  auto w = RingWriter::attach(s, {.label = "after", .core = -1}).value();
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 0);
  ASSERT_EQ(w.publish(1, buf), PublishStatus::ok);
  std::size_t got = 0;
  while (reader.poll([&](const RecordView& v) { got += CheckedRecord::valid(v.payload); })) {
  }
  EXPECT_EQ(got, 1u);
}

TEST(RingCrash, AHoleOfAWholeCapacityIsRepairedAsPaddingUnderHalfOfIt) {
  RingName name("hole-lap");
  constexpr std::uint64_t kCapacity = 1 << 16, kQuarter = kCapacity / 4;
  auto s = test::make_ring(name, kCapacity, kQuarter, false, 8);
  auto reader = RingReader::attach(s).value();
  kill_quarter_claimers(name, s, 4);
  if (HasFatalFailure()) return;
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::repaired);
  EXPECT_EQ(s.control().frontier.frontier.load(), kCapacity) << "the frontier passed the hole";
  EXPECT_EQ(s.control().repair.abandoned_bytes.load(), kCapacity);
  // The reader walks the padding (before the next record laps its start): nothing, no damage.
  EXPECT_EQ(reader.poll([](const RecordView&) {}), 0u);
  EXPECT_EQ(reader.position(), kCapacity) << "the reader did not pass the hole";
  EXPECT_EQ(s.reader_slot(reader.id()).corrupt.load(), 0u) << "the padding taken for damage";
  expect_one_record_after_the_repair(s, reader);
  EXPECT_EQ(reader.total_loss().records, 0u);
  EXPECT_EQ(s.reader_slot(reader.id()).laps.load(), 0u);
}

// A hole of two capacities (eight claimers of a quarter each dead before publishing where): it is
// repaired a capacity at a time. Before 2026-12-05 one repair padded it all, its third piece's
// seal written over the first's unit (a position a lap on): the frontier never passed the hole,
// and every later repair padded it again (found by a review).
TEST(RingCrash, AHoleOfTwoCapacitiesIsRepairedACapacityAtATime) {
  RingName name("hole-2lap");
  constexpr std::uint64_t kCapacity = 1 << 16;
  auto s = test::make_ring(name, kCapacity, kCapacity / 4, false, 8);
  auto reader = RingReader::attach(s).value();
  kill_quarter_claimers(name, s, 8);
  if (HasFatalFailure()) return;
  for (std::uint64_t lap = 1; lap <= 2; ++lap) {
    ASSERT_EQ(core::resolve_stall(s), core::StallOutcome::repaired) << lap;
    ASSERT_EQ(s.control().frontier.frontier.load(), lap * kCapacity) << "lap " << lap;
    EXPECT_EQ(reader.poll([](const RecordView&) {}), 0u);
    EXPECT_EQ(reader.position(), lap * kCapacity);
  }
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::nothing_in_flight);
  EXPECT_EQ(s.control().repair.abandoned_bytes.load(), 2 * kCapacity);
  EXPECT_EQ(s.reader_slot(reader.id()).corrupt.load(), 0u);
  EXPECT_EQ(reader.total_loss().records, 0u);
  expect_one_record_after_the_repair(s, reader);
}

// A process whose main thread called pthread_exit() while another thread runs on shows as a zombie
// in /proc/<pid>/stat: until 2026-12-07 it was taken for dead (its ring slots repaired, its locks
// taken, while that thread still wrote; found by a review). Alive until its last thread ends.
TEST(RingCrash, AProcessWhoseMainThreadEndedLivesWhileAnotherThreadRuns) {
  int hold[2];
  ASSERT_EQ(::pipe(hold), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(hold[1]);
    pthread_t t;
    // (Its one thread waits for the parent to close the pipe, then ends the process.)
    if (::pthread_create(
            &t, nullptr,
            [](void* fd) -> void* {
              char c;
              (void)::read(*static_cast<int*>(fd), &c, 1);
              return nullptr;
            },
            &hold[0]) != 0)
      ::_exit(2);
    // (Its main thread ends as pthread_exit() ends it, without the unwinding, which the test
    // framework's catch-all would stop: the exit system call ends the calling thread only.)
    ::syscall(SYS_exit, 0);
  }
  ::close(hold[0]);
  const ProcessIdentity who{child, process_start_time(child)};
  ASSERT_NE(who.start_time, 0u);
  // (Polled until its main thread has ended: /proc says 'Z' for it.)
  auto state = [&] {
    const std::string path = "/proc/" + std::to_string(child) + "/stat";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return '?';
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const char* p = std::strrchr(buf, ')');
    return n > 0 && p != nullptr && p[1] == ' ' ? p[2] : '?';
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (state() != 'Z' && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(state(), 'Z') << "its main thread did not end";
  EXPECT_EQ(liveness(who), Liveness::alive);
  EXPECT_EQ(look_up_process(child).is, ProcessLook::Is::alive);
  EXPECT_TRUE(process_tag_alive(process_tag(who)));
  ::close(hold[1]);  // its thread ends, and with it the process
  while (liveness(who) == Liveness::alive && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(liveness(who), Liveness::dead) << "dead once its last thread ended (a zombie)";
  EXPECT_FALSE(process_tag_alive(process_tag(who)));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// The repair lock, stolen from a dead holder by a repairer that is then stopped (descheduled)
// right after taking it: another repairer finds it held by a live process and waits (busy). Before
// the lock was one word, the second repairer read the new holder's pid beside the dead one's start
// time, judged it dead, and both repaired at once.
TEST(RingCrash, ARepairLockStolenFromTheDeadIsNotStolenAgainFromItsLiveThief) {
  RingName name("repair-lock");
  auto s = test::make_ring(name, 1 << 16, 0, false, 2);
  ASSERT_EQ(test::join(spawn_victim(name, core::HookPoint::before_write)), 128 + SIGKILL);
  ASSERT_NE(s.control().frontier.frontier.load(), s.control().tail.tail.load()) << "a hole";
  // A dead process holds the lock, as if it died repairing: the victim's pid, with a start time
  // long past (the victim's own, in clock ticks, may well be the next child's too).
  const ProcessIdentity dead{s.producer_slot(0).pid.load(), 1};
  ASSERT_EQ(liveness(dead), Liveness::dead);
  s.control().repair.lock.store(process_tag(dead));
  const pid_t thief = spawn_repairer_stopped_at(name, core::HookPoint::repair_locked);
  ASSERT_GT(thief, 0) << "the first repairer never took the lock";
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::busy)
      << "the lock taken from a live holder";
  EXPECT_EQ(s.control().repair.repairs.load(), 0u);
  ::kill(thief, SIGCONT);
  EXPECT_EQ(test::join(thief), 0) << "the thief did not repair the hole itself";
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::nothing_in_flight);
}

// Writer processes take an exclusive ring in turn, some dying while they hold it (SIGKILL after
// their last publish: nothing of theirs in flight, but their slot and the owner word left behind),
// with only two producer slots for four of them, so that a dead holder's slot is taken again
// while others try to take the ring. Never two holders at once (each checks a shared flag while
// it holds the ring); every record arrives intact, once, in order.
TEST(RingCrash, ExclusiveOwnershipPassesBetweenProcessesThatDieHoldingIt) {
  RingName name("xturns");
  auto s = test::make_ring(name, 1 << 20, 0, true, 2);
  auto reader = RingReader::attach(s).value();
  struct Shared {
    std::atomic<int> holder;         // pid of the process that holds the ring, 0: none
    std::atomic<int> doubles;        // times a process found another one holding it
    std::atomic<std::uint64_t> seq;  // next sequence number (one stream, whoever publishes)
    std::atomic<int> turns;          // turns taken, all processes together
  };
  auto* sh = static_cast<Shared*>(
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(sh, MAP_FAILED);
  new (sh) Shared{};
  constexpr int kTurns = 200, kProcesses = 4;
  auto worker = [&](unsigned seed) {
    return test::spawn([&, seed] {
      auto seg = Segment::attach(name);
      if (!seg) return 3;
      std::mt19937 rng(seed);
      std::vector<std::byte> buf(64);
      while (sh->turns.load() < kTurns) {
        auto w = RingWriter::attach(*seg, {.label = "turn", .core = -1});
        if (!w) {
          if (w.error().code != Errc::exclusive_producer && w.error().code != Errc::no_free_slot)
            return 4;
          ::sched_yield();
          continue;
        }
        int none = 0;
        if (!sh->holder.compare_exchange_strong(none, ::getpid())) sh->doubles.fetch_add(1);
        for (int k = 0; k < 3; ++k) {
          const std::uint64_t q = sh->seq.load();
          CheckedRecord::fill(buf, 0, q);
          if (w->publish(1, buf) != PublishStatus::ok) return 5;
          sh->seq.store(q + 1);
        }
        sh->turns.fetch_add(1);
        int me = ::getpid();
        sh->holder.compare_exchange_strong(me, 0);
        if (rng() % 4 == 0) ::kill(::getpid(), SIGKILL);  // dies holding the ring
      }
      return 0;
    });
  };
  std::vector<pid_t> live;
  unsigned seeds = 0;
  for (int i = 0; i < kProcesses; ++i) live.push_back(worker(++seeds));
  while (!live.empty()) {
    const pid_t pid = live.back();
    live.pop_back();
    const int rc = test::join(pid);
    ASSERT_TRUE(rc == 0 || rc == 128 + SIGKILL) << "worker exit " << rc;
    if (rc != 0 && sh->turns.load() < kTurns) live.push_back(worker(++seeds));  // a replacement
  }
  EXPECT_EQ(sh->doubles.load(), 0) << "two processes held the exclusive ring at once";
  std::uint64_t next = 0;
  while (reader.poll([&](const RecordView& v) {
    ASSERT_TRUE(CheckedRecord::valid(v.payload));
    EXPECT_EQ(CheckedRecord::seq(v.payload), next);
    EXPECT_EQ(v.index, next);
    ++next;
  })) {
  }
  EXPECT_EQ(next, sh->seq.load());
  EXPECT_EQ(reader.total_loss().records, 0u);
  ::munmap(sh, sizeof(Shared));
}

// The owner word names a dead holder's slot as it was left (a holder stands in: the slot's fields
// written by hand, the pid of a child that has exited). The next writer takes the ring either way;
// it retires the slot if its holder died OWNING (filled, taking the word) but not if the slot is
// TAKING, because a live process that has just taken it (and not yet filled it, so it still shows
// the old generation and pid) looks the same (found in review: retiring it let two processes hold
// one slot, and the ring).
TEST(RingCrash, ADeadHoldersSlotIsRetiredIfItWasOwningButNeverWhileTaking) {
  const pid_t gone = test::spawn([] { return 0; });
  ASSERT_EQ(test::join(gone), 0);
  for (const std::uint32_t state : {layout::kSlotOwning, layout::kSlotTaking}) {
    RingName name(state == layout::kSlotOwning ? "xowning" : "xtaking");
    auto s = test::make_ring(name, 1 << 16, 0, true, 2);
    layout::ProducerSlot& slot = s.producer_slot(0);
    slot.generation.store(7);
    slot.pid.store(gone);
    slot.start_time.store(1);
    slot.state.store(state);
    s.control().repair.exclusive_owner.store((7u << 16) | 1u);
    auto w = RingWriter::attach(s, {.label = "next", .core = -1});
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ(w->id(), 1u);
    EXPECT_EQ(slot.state.load(), state == layout::kSlotOwning ? layout::kSlotDead : state);
    std::vector<std::byte> buf(64);
    CheckedRecord::fill(buf, 0, 0);
    EXPECT_EQ(w->publish(1, buf), PublishStatus::ok);
  }
}

// A process that dies while it takes a registry slot — marked TAKING with its pid, before or after
// filling it; in a ring made for one producer also OWNING, before or after it takes the owner
// word — leaves the slot to the next taker: with one slot of each kind, the next writer or reader
// attaches once the taker is dead (here a zombie, not yet reaped: dead all the same). While the
// taker lives (stopped there), the slot stays its own.
struct TakingCase {
  const char* name;
  bool reader;
  bool exclusive;
  core::HookPoint at;
};
class KilledWhileTakingASlot : public ::testing::TestWithParam<TakingCase> {};

TEST_P(KilledWhileTakingASlot, TheSlotIsTakenAgainOnceTheTakerIsDead) {
  const TakingCase c = GetParam();
  RingName name(std::string("taking-") + c.name);
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  cfg.max_producers = 1;
  cfg.max_readers = 1;
  cfg.exclusive_producer = c.exclusive;
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s) << s.error().message;
  g_kill_at = c.at;
  const pid_t taker = test::spawn([&] {
    auto seg = Segment::attach(name);
    if (!seg) return 3;
    core::set_test_hook(+[](core::HookPoint point, std::uint64_t) {
      if (point == g_kill_at) ::raise(SIGSTOP);
    });
    if (c.reader) return RingReader::attach(*seg, {.label = "taker"}) ? 0 : 4;
    return RingWriter::attach(*seg, {.label = "taker", .core = -1}) ? 0 : 4;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(taker, &status, WUNTRACED), taker);
  ASSERT_TRUE(WIFSTOPPED(status));
  const std::atomic<std::uint32_t>& state =
      c.reader ? s->reader_slot(0).state : s->producer_slot(0).state;
  const bool owning = c.at == core::HookPoint::slot_owning || c.at == core::HookPoint::slot_owned;
  EXPECT_EQ(state.load(),
            owning ? layout::kSlotOwning : layout::taking_by(static_cast<std::uint32_t>(taker)));
  // Whether the owner word names the taker's slot (taken at slot_owned, not before).
  const std::uint32_t word = s->control().repair.exclusive_owner.load();
  EXPECT_EQ((word & 0xFFFF) == 1, c.at == core::HookPoint::slot_owned) << word;
  // Alive, if stopped: nobody takes its slot.
  if (c.reader) {
    auto refused = RingReader::attach(*s, {.label = "early"});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::no_free_slot);
    EXPECT_EQ(registry::reap_dead_readers(*s), 0u);
  } else {
    auto refused = RingWriter::attach(*s, {.label = "early", .core = -1});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::no_free_slot);
  }
  ::kill(taker, SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(taker), &info, WEXITED | WNOWAIT), 0);
  // Dead (a zombie until joined below): the next writer and reader take the slots, and a record
  // goes through.
  auto w = RingWriter::attach(*s, {.label = "next", .core = -1});
  ASSERT_TRUE(w) << w.error().message;
  auto r = RingReader::attach(*s, {.label = "next"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(state.load(), layout::kSlotActive);
  std::vector<std::byte> buf(100);
  CheckedRecord::fill(buf, 0, 7);
  ASSERT_EQ(w->publish(1, buf), PublishStatus::ok);
  std::uint64_t got = 0;
  EXPECT_EQ(r->poll([&](const RecordView& v) {
    EXPECT_TRUE(CheckedRecord::valid(v.payload));
    got = CheckedRecord::seq(v.payload);
  }),
            1u);
  EXPECT_EQ(got, 7u);
  EXPECT_EQ(test::join(taker), 128 + SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoint, KilledWhileTakingASlot,
    ::testing::Values(TakingCase{"writer_taken", false, false, core::HookPoint::slot_taken},
                      TakingCase{"writer_filled", false, false, core::HookPoint::slot_filled},
                      TakingCase{"exclusive_taken", false, true, core::HookPoint::slot_taken},
                      TakingCase{"exclusive_filled", false, true, core::HookPoint::slot_filled},
                      TakingCase{"exclusive_owning", false, true, core::HookPoint::slot_owning},
                      TakingCase{"exclusive_owned", false, true, core::HookPoint::slot_owned},
                      TakingCase{"reader_taken", true, false, core::HookPoint::slot_taken},
                      TakingCase{"reader_filled", true, false, core::HookPoint::slot_filled}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// reap_dead_readers frees a reader slot whose taker died before making it ACTIVE; never one whose
// taker lives, nor one marked TAKING without a taker (as builds before the marker left it).
TEST(RingCrash, ReapingFreesAReaderSlotOnlyIfItsTakerIsDead) {
  const pid_t gone = test::spawn([] { return 0; });
  ASSERT_EQ(test::join(gone), 0);
  RingName name("reap-taking");
  auto s = test::make_ring(name, 1 << 16);
  auto& dead = s.reader_slot(0).state;
  auto& live = s.reader_slot(1).state;
  auto& unnamed = s.reader_slot(2).state;
  dead.store(layout::taking_by(static_cast<std::uint32_t>(gone)));
  live.store(layout::taking_by(static_cast<std::uint32_t>(::getpid())));
  unnamed.store(layout::kSlotTaking);
  EXPECT_EQ(registry::reap_dead_readers(s), 1u);
  EXPECT_EQ(dead.load(), layout::kSlotFree);
  EXPECT_EQ(live.load(), layout::taking_by(static_cast<std::uint32_t>(::getpid())));
  EXPECT_EQ(unnamed.load(), layout::kSlotTaking);
}

// Readers attach and let go over and over, in processes SIGKILLed at random moments (inside an
// attach too: a slot TAKING, or filled) and respawned, with more processes than slots: no slot is
// ever held by two live processes at once (each holder marks its slot in a shared table first and
// finds there a live other holder only if the registry gave one slot twice), and once they have
// all gone every slot can be taken again.
TEST(RingCrash, ReaderSlotsChurnedByProcessesKilledAtRandomAreNeverHeldTwice) {
  RingName name("slot-churn");
  constexpr int kSlots = 3, kProcesses = 5, kKills = 60;
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  cfg.max_readers = kSlots;
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s) << s.error().message;
  struct Shared {
    std::atomic<int> owner[kSlots];  // pid holding reader slot i, 0: none
    std::atomic<int> doubles;        // a live other holder found in a slot just taken
    std::atomic<int> takes;
    std::atomic<bool> stop;
  };
  auto* sh = static_cast<Shared*>(
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(sh, MAP_FAILED);
  new (sh) Shared{};
  auto churner = [&](unsigned seed) {
    return test::spawn([&, seed] {
      auto seg = Segment::attach(name);
      if (!seg) return 3;
      std::mt19937 rng(seed);
      const int me = ::getpid();
      while (!sh->stop.load()) {
        auto r = RingReader::attach(*seg, {.label = "churn"});
        if (!r) {
          if (r.error().code != Errc::no_free_slot) return 4;
          ::sched_yield();
          continue;
        }
        std::atomic<int>& o = sh->owner[r->id()];
        const int was = o.exchange(me);
        // A holder clears its mark before it lets go, so a mark left by a live process means that
        // process holds the slot now. (One killed while holding it left its mark: dead.)
        if (was != 0 && liveness({was, process_start_time(was)}) == Liveness::alive)
          sh->doubles.fetch_add(1);
        sh->takes.fetch_add(1);
        for (unsigned i = rng() % 8; i > 0; --i) ::sched_yield();
        int mine = me;
        o.compare_exchange_strong(mine, 0);
      }
      return 0;
    });
  };
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) children.push_back(churner(static_cast<unsigned>(i)));
  std::mt19937 rng(99);
  for (int k = 0; k < kKills; ++k) {
    // (A pace for the kills, not a wait for anything: the churners run meanwhile.)
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 20));
    pid_t& victim = children[rng() % children.size()];
    ::kill(victim, SIGKILL);
    EXPECT_EQ(test::join(victim), 128 + SIGKILL);
    victim = churner(static_cast<unsigned>(100 + k));
  }
  sh->stop.store(true);
  for (pid_t c : children) EXPECT_EQ(test::join(c), 0);
  EXPECT_EQ(sh->doubles.load(), 0);
  EXPECT_GT(sh->takes.load(), kKills) << "the slots were taken over and over";
  // Every slot can be taken again: those the killed left ACTIVE or TAKING are reclaimed.
  std::vector<RingReader> all;
  for (int i = 0; i < kSlots; ++i) {
    auto r = RingReader::attach(*s, {.label = "after"});
    ASSERT_TRUE(r) << "slot " << i << ": " << r.error().message;
    all.push_back(std::move(r).value());
  }
  ::munmap(sh, sizeof(Shared));
}

// While the holder lives — even stopped in the middle of a claim — nobody else takes the ring.
TEST(RingCrash, AnExclusiveRingIsNotTakenFromALiveHolderStoppedMidClaim) {
  RingName name("xstop");
  auto s = test::make_ring(name, 1 << 16, 1024, true);
  pid_t holder = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "holder", .core = -1});
    if (!w) return 3;
    g_kill_at = core::HookPoint::before_seal;
    core::set_test_hook(+[](core::HookPoint point, std::uint64_t) {
      if (point == g_kill_at) ::raise(SIGSTOP);
    });
    std::vector<std::byte> buf(100);
    CheckedRecord::fill(buf, 1, 0);
    (void)w->publish(1, buf);  // stops before its seal; continues when resumed
    return 0;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, WUNTRACED), holder);
  ASSERT_TRUE(WIFSTOPPED(status));
  auto other = RingWriter::attach(s, {.label = "other", .core = -1});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, Errc::exclusive_producer);
  EXPECT_NE(other.error().message.find("'holder'"), std::string::npos) << other.error().message;
  EXPECT_EQ(s.control().repair.repairs.load(), 0u) << "a live holder's claim is not repaired";
  ::kill(holder, SIGCONT);
  EXPECT_EQ(test::join(holder), 0);
  // It finished its record and let go: the ring takes the next producer.
  EXPECT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load());
  EXPECT_TRUE(RingWriter::attach(s, {.label = "next", .core = -1}));
}

// What a supervisor looks at (SupervisorOptions::continue_stopped_after): the live producer whose
// claim holds the frontier, a stopped one found as such ('T'); none once it went on, none for a
// quiet ring, none for a dead one's claim (resolve_stall's).
TEST(RingCrash, TheFrontierHolderIsTheProducerStoppedInTheMiddleOfAWrite) {
  for (const bool exclusive : {false, true}) {
    RingName name(exclusive ? "holdx" : "hold");
    auto s = test::make_ring(name, 1 << 16, 1024, exclusive);
    EXPECT_FALSE(core::frontier_holder(s)) << "a quiet ring";
    pid_t holder = test::spawn([&] {
      auto seg = Segment::attach(name);
      auto w = RingWriter::attach(*seg, {.label = "stopped", .core = -1});
      if (!w) return 3;
      auto c = w->claim(100, 1);
      if (c.status != PublishStatus::ok) return 4;
      CheckedRecord::fill(c.payload, 1, 0);
      ::raise(SIGSTOP);  // (in the middle of its write: claimed, not committed)
      w->commit();
      return 0;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(holder, &status, WUNTRACED), holder);
    ASSERT_TRUE(WIFSTOPPED(status));
    auto h = core::frontier_holder(s);
    ASSERT_TRUE(h) << "exclusive " << exclusive;
    EXPECT_EQ(h->pid, holder);
    EXPECT_EQ(h->state, 'T');
    EXPECT_EQ(h->label, "stopped");
    EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::owner_alive) << "never repaired over";
    ::kill(holder, SIGCONT);
    EXPECT_EQ(test::join(holder), 0);
    EXPECT_FALSE(core::frontier_holder(s)) << "it went on: nothing in flight";
  }
  // A dead producer's claim holds nobody for long: not a holder (its repair's).
  RingName name("holddead");
  auto s = test::make_ring(name, 1 << 16, 1024);
  pid_t dead = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "dies", .core = -1});
    if (!w) return 3;
    (void)w->claim(100, 1);
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  (void)test::join(dead);
  EXPECT_NE(s.control().tail.tail.load(), s.control().frontier.frontier.load());
  EXPECT_FALSE(core::frontier_holder(s));
}

TEST(RingCrash, AProducerGatedBehindADeadClaimRepairsItWithoutAnyReader) {
  RingName name("gated");
  auto s = test::make_ring(name, 1 << 16, 4096);
  pid_t victim = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg);
    g_kill_at = core::HookPoint::after_gate;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    std::vector<std::byte> buf(100);
    (void)w->publish(1, buf);
    return 2;
  });
  ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  // Fill more than a lap: the survivor's claims reach the dead claim's space and must not wait
  // forever. No reader exists to notice the stall.
  auto w = RingWriter::attach(s).value();
  std::vector<std::byte> buf(4000);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(w.publish(1, buf), PublishStatus::ok);
  EXPECT_EQ(s.control().repair.repairs.load(), 1u);
  EXPECT_GT(s.producer_slot(w.id()).gated.load(), 0u);
}

// A producer killed right after its fetch_add never raised the horizon for its claim (W5). The
// repair writes a padding header into that space, where a reader of the previous lap may be
// reading, so it raises the horizon first: to the hole's end rounded down to a granule.
TEST(RingCrash, TheRepairOfAHoleRaisesTheHorizonForItsPadding) {
  RingName name("horizon-repair");
  constexpr std::uint64_t kCap = 1 << 16, kGranule = layout::horizon_granule(kCap);
  auto s = test::make_ring(name, kCap, 1024);
  auto reader = RingReader::attach(s).value();
  std::vector<std::byte> buf(100);  // footprint 128: the 32nd claim ends at the first granule
  pid_t victim = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg);
    for (int i = 0; i < 31; ++i)
      if (w->publish(1, buf) != PublishStatus::ok) return 1;
    g_kill_at = core::HookPoint::after_fetch_add;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    (void)w->publish(1, buf);  // dies in here, holding [3968, 4096)
    return 2;
  });
  ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  EXPECT_EQ(s.control().tail.tail.load(), kGranule);
  EXPECT_EQ(s.control().horizon.horizon.load(), 0u) << "the 31 records end below the granule";
  // The reader reads the 31 records, then waits at the hole until it checks the owner: dead.
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((s.control().repair.repairs.load() == 0 || reader.ready()) &&
         std::chrono::steady_clock::now() < deadline) {
    reader.wait(std::chrono::milliseconds(50));
    got += reader.poll([](const RecordView&) {});
  }
  ASSERT_NE(s.control().repair.repairs.load(), 0u) << "no repair in 20 s";
  EXPECT_EQ(got, 31u);
  EXPECT_EQ(s.control().frontier.frontier.load(), kGranule) << "past the padding";
  EXPECT_EQ(s.control().horizon.horizon.load(), kGranule);
}

// W5's order: when a claim's first byte is about to be written (the before_write hook), the
// horizon already covers the claim — for publish, claim and publish_batch alike, across laps.
std::atomic<std::uint64_t> g_granule{0}, g_footprint{0}, g_uncovered{0}, g_checked{0};
const Segment* g_segment = nullptr;
void horizon_check_hook(core::HookPoint point, std::uint64_t position) {
  if (point != core::HookPoint::before_write) return;
  const std::uint64_t need = (position + g_footprint.load()) & ~(g_granule.load() - 1);
  if (g_segment->control().horizon.horizon.load() < need) g_uncovered.fetch_add(1);
  g_checked.fetch_add(1);
}

TEST(RingHooks, TheHorizonCoversAClaimBeforeItsFirstByteIsWritten) {
  RingName name("horizon-order");
  constexpr std::uint64_t kCap = 1 << 16;
  auto s = test::make_ring(name, kCap, 1000);
  auto w = RingWriter::attach(s).value();
  g_segment = &s;
  g_checked = 0;  // (the counters are global: a --gtest_repeat run starts them again)
  g_uncovered = 0;
  g_granule = layout::horizon_granule(kCap);
  core::set_test_hook(&horizon_check_hook);
  std::vector<std::byte> buf(100);  // footprint 128
  for (int i = 0; i < 3000; ++i) {  // about six laps
    g_footprint = 128;
    if (i % 3 == 0) {
      ASSERT_EQ(w.publish(1, buf), PublishStatus::ok);
    } else if (i % 3 == 1) {
      auto c = w.claim(buf.size(), 1);
      ASSERT_EQ(c.status, PublishStatus::ok);
      w.commit();
    } else {
      g_footprint = 3 * 128;
      const BatchRecord batch[3] = {{1, buf}, {1, buf}, {1, buf}};
      ASSERT_EQ(w.publish_batch(batch), PublishStatus::ok);
    }
  }
  core::set_test_hook(nullptr);
  EXPECT_EQ(g_checked.load(), 3000u);
  EXPECT_EQ(g_uncovered.load(), 0u);
}

// Readers go by the seals (R1): a record is read once sealed, before its committer's CAS moves
// the frontier over it (the after_seal hook runs between the two, in the committer's thread).
// And seek() to such a record, beyond the frontier, passes it rather than refusing it.
RingReader* g_early_reader = nullptr;
std::atomic<int> g_early_seen{-1}, g_early_seek{-1};
std::atomic<std::uint64_t> g_early_frontier{0};
std::atomic<std::uint64_t> g_early_at{0};
void early_read_hook(core::HookPoint point, std::uint64_t position) {
  if (point != core::HookPoint::after_seal || position != g_early_at.load()) return;
  const Segment& seg = g_early_reader->segment();
  g_early_frontier = seg.control().frontier.frontier.load();
  int seen = 0;
  g_early_reader->poll([&](const RecordView&) { ++seen; });
  g_early_seen = seen;
  auto other = RingReader::attach(seg, {"early-seek", -1, StartAt::oldest});
  g_early_seek = other && other.value().seek(position) ? 1 : 0;
}

TEST(RingHooks, AReaderGetsARecordOnceSealedBeforeTheFrontierPassesIt) {
  RingName name("early-read");
  auto s = test::make_ring(name, 1 << 16, 1000);
  auto w = RingWriter::attach(s).value();
  auto reader = RingReader::attach(s).value();
  std::vector<std::byte> buf(100);
  ASSERT_EQ(w.publish(1, buf), PublishStatus::ok);
  ASSERT_EQ(reader.poll([](const RecordView&) {}), 1u);
  // A batch of two: when the second is sealed, the frontier is still at the first (one CAS
  // passes both after the seals).
  const std::uint64_t p = s.control().tail.tail.load(), fp = layout::footprint(100);
  g_early_seen = -1;  // (globals: a --gtest_repeat run starts them again)
  g_early_seek = -1;
  g_early_frontier = 0;
  g_early_reader = &reader;
  g_early_at = p + fp;
  core::set_test_hook(&early_read_hook);
  const BatchRecord batch[2] = {{1, buf}, {1, buf}};
  ASSERT_EQ(w.publish_batch(batch), PublishStatus::ok);
  core::set_test_hook(nullptr);
  EXPECT_EQ(g_early_frontier.load(), p) << "the hook ran before the frontier moved";
  EXPECT_EQ(g_early_seen.load(), 2) << "both read by their seals";
  EXPECT_EQ(g_early_seek.load(), 1) << "seek() to the second, beyond the frontier, passed both";
  EXPECT_EQ(s.control().frontier.frontier.load(), p + 2 * fp);
  EXPECT_EQ(reader.poll([](const RecordView&) {}), 0u) << "read once";
  EXPECT_EQ(core::index_at(s, p), 1u);
  EXPECT_EQ(core::index_at(s, p + fp), 2u);
  EXPECT_EQ(reader.total_loss().records, 0u);
}

// A producer killed between its seal and its frontier CAS, and nothing published after: the
// reader has its record (by the seal), so its cursor is past the frontier. wait() then passes
// the frontier itself and parks until its timeout — it neither spins nor reports a record.
TEST(RingHooks, AReaderPastAStuckFrontierParksAndPassesIt) {
  RingName name("past-frontier");
  auto s = test::make_ring(name, 1 << 16, 1024);
  auto reader = RingReader::attach(s).value();
  pid_t victim = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "victim", .core = -1});
    std::vector<std::byte> buf(100);
    CheckedRecord::fill(buf, 1, 0);
    if (w->publish(1, buf) != PublishStatus::ok) return 1;
    g_kill_at = core::HookPoint::after_seal;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    CheckedRecord::fill(buf, 1, 1);
    (void)w->publish(1, buf);  // dies in here, sealed, the frontier not moved over it
    return 2;
  });
  ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  const std::uint64_t tail = s.control().tail.tail.load();
  ASSERT_LT(s.control().frontier.frontier.load(), tail) << "the victim died before its CAS";
  EXPECT_EQ(reader.poll([](const RecordView& v) { EXPECT_TRUE(CheckedRecord::valid(v.payload)); }),
            2u);
  EXPECT_EQ(reader.position(), tail);
  rusage before{}, after{};
  ::getrusage(RUSAGE_THREAD, &before);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(reader.wait(std::chrono::milliseconds(300)));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ::getrusage(RUSAGE_THREAD, &after);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_EQ(s.control().frontier.frontier.load(), tail) << "wait() passed the sealed record";
  const long cpu_us = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1'000'000L +
                      (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
                      (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1'000'000L +
                      (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
  EXPECT_LT(cpu_us, 100'000) << "parked, not spinning, for the 300 ms";
  EXPECT_EQ(reader.total_loss().records, 0u);
}

// A repairer that cannot read /proc (out of file descriptors) judges nothing: a producer stopped
// between its claim and its seal is left alone, not padded over as dead (before, a failed look
// counted as a death, and the producer's later writes would have landed in space the repair had
// given away). Nor is a live reader's slot reaped.
TEST(RingHooks, ARepairerOutOfDescriptorsTakesNothingFromALiveProducer) {
  RingName name("repair-emfile");
  auto s = test::make_ring(name, 1 << 16, 1024);
  auto reader = RingReader::attach(s).value();
  const pid_t producer = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg, {.label = "stopped", .core = -1});
    if (!w) return 3;
    core::set_test_hook(+[](core::HookPoint point, std::uint64_t) {
      if (point == core::HookPoint::before_seal) ::raise(SIGSTOP);
    });
    std::vector<std::byte> buf(100);
    return w->publish(1, buf) == PublishStatus::ok ? 0 : 4;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(producer, &status, WUNTRACED), producer);
  ASSERT_TRUE(WIFSTOPPED(status));
  ASSERT_NE(s.control().tail.tail.load(), s.control().frontier.frontier.load()) << "a claim";
  const pid_t repairer = test::spawn([&] {
    const rlimit few{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &few) != 0) return 10;
    while (::open("/dev/null", O_RDONLY) >= 0) {
    }
    if (errno != EMFILE) return 11;
    if (registry::reap_dead_readers(s) != 0) return 12;
    return core::resolve_stall(s) == core::StallOutcome::owner_alive ? 0 : 13;
  });
  EXPECT_EQ(test::join(repairer), 0) << "13: the stopped producer's claim was repaired";
  EXPECT_EQ(s.control().repair.repairs.load(), 0u);
  ::kill(producer, SIGCONT);
  EXPECT_EQ(test::join(producer), 0);
  EXPECT_EQ(reader.poll([](const RecordView&) {}), 1u) << "its record, whole";
  EXPECT_EQ(reader.total_loss().records, 0u);
}

// A reader ahead of a stuck frontier, the horizon within a granule of a capacity past it, and a
// claim that pushed the tail more than a capacity past it while it waits at its gate (here:
// killed before it): nothing has written over what the reader read, so it is intact. Before, the
// reader took the tail for a lap, found nothing older to resync to, and its consume() failed until
// the frontier moved; at a padding record peek() looked again and again inside one call, and at a
// damaged header so did the walk's corrupt-or-lapped test. Each case fails without the change: X's
// consume() after the claims (`Ahead::record`); X read before them and the padding next
// (`padding`); the same with the padding's header spoilt (`damaged`: a record of length 0, which
// the walk refuses).
enum class Ahead { record, padding, damaged };
void reader_ahead_of_gated_claims(const std::string& tag, Ahead what) {
  const bool damage = what == Ahead::damaged;
  RingName name(tag);
  constexpr std::uint64_t kCapacity = 1 << 16;
  auto s = test::make_ring(name, kCapacity, 16 * 1024);
  auto reader = RingReader::attach(s).value();
  // The victim: record 0 published; record X claimed (at the frontier), then a second writer's
  // claim after it aborted (padding, sealed; the frontier stays at X, unsealed); then X committed
  // and the victim killed between X's seal and its frontier CAS.
  pid_t victim = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w1 = RingWriter::attach(*seg, {.label = "victim", .core = -1});
    auto w2 = RingWriter::attach(*seg, {.label = "victim-pad", .core = -1});
    if (!w1 || !w2) return 3;
    std::vector<std::byte> buf(100);
    CheckedRecord::fill(buf, 1, 0);
    if (w1->publish(1, buf) != PublishStatus::ok) return 1;
    auto x = w1->claim(100, 1);
    if (x.status != PublishStatus::ok) return 1;
    CheckedRecord::fill(buf, 1, 1);
    std::memcpy(x.payload.data(), buf.data(), buf.size());
    if (w2->claim(100, 1).status != PublishStatus::ok) return 1;
    w2->abort();
    g_kill_at = core::HookPoint::after_seal;
    g_kill_countdown = 0;
    core::set_test_hook(&kill_hook);
    (void)w1->commit();  // dies in here, X sealed, the frontier not moved over it
    return 2;
  });
  ASSERT_EQ(test::join(victim), 128 + SIGKILL);
  const std::uint64_t fp = layout::footprint(100);
  const std::uint64_t x_at = fp, pad_at = 2 * fp;
  ASSERT_EQ(s.control().frontier.frontier.load(), x_at) << "stuck at X, sealed";
  ASSERT_EQ(s.control().tail.tail.load(), 3 * fp);
  if (damage) s.meta(pad_at).info.store(layout::pack_info(0, 1, 0));  // a record of no length

  RecordView views[4];
  ASSERT_EQ(reader.peek(std::span(views, 1)), 1u);
  ASSERT_TRUE(reader.consume(std::span(views, 1)));  // record 0
  ASSERT_EQ(reader.peek(std::span(views, 1)), 1u) << "X, by its seal";
  ASSERT_EQ(views[0].position, x_at);
  if (what != Ahead::record) {
    ASSERT_TRUE(reader.consume(std::span(views, 1)));
  }

  // Claims killed before they write a byte: four of 16,320 bytes that passed their gate (the
  // frontier at X lets a claim end up to a capacity past it: the fourth ends there, 65,664) and
  // raised the horizon to 65,536 — within a granule (4 KiB) of a capacity past the cursor, so the
  // reader's validation takes its exact test —, then one of 1,000 bytes killed before its gate
  // (where it would wait: it ends beyond that), which puts the tail more than a capacity past the
  // cursor. Nothing at or after X has been written over.
  for (int i = 0; i < 5; ++i) {
    const bool through_gate = i < 4;
    pid_t claimer = test::spawn([&] {
      auto seg = Segment::attach(name);
      auto w = RingWriter::attach(*seg, {.label = "claimer", .core = -1});
      if (!w) return 3;
      g_kill_at = through_gate ? core::HookPoint::before_write : core::HookPoint::after_fetch_add;
      g_kill_countdown = 0;
      core::set_test_hook(&kill_hook);
      (void)w->claim(through_gate ? 16320 : 1000, 1);
      return 2;
    });
    ASSERT_EQ(test::join(claimer), 128 + SIGKILL);
  }
  ASSERT_EQ(s.control().horizon.horizon.load(), kCapacity);
  ASSERT_GT(s.control().tail.tail.load() - x_at, kCapacity);
  ASSERT_EQ(s.control().frontier.frontier.load(), x_at) << "nobody moved the frontier";

  if (what == Ahead::record) {
    EXPECT_TRUE(reader.consume(std::span(views, 1))) << "X was intact";
    EXPECT_TRUE(CheckedRecord::valid(views[0].payload));
  }
  // The padding next (or its damaged header): one call, nothing to deliver. Run on a thread so
  // that a reader looking again and again fails this test instead of hanging it; if it does not
  // return, the frontier is moved over X and the padding to let it out.
  std::atomic<bool> returned{false};
  std::size_t got = 99;
  std::thread t([&] {
    got = reader.poll([](const RecordView&) {});
    returned = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!returned.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const bool in_time = returned.load();
  if (!in_time) {
    std::uint64_t f = x_at;
    s.control().frontier.frontier.compare_exchange_strong(f, 3 * fp);
  }
  t.join();
  EXPECT_TRUE(in_time) << "poll() looked again and again at the padding";
  EXPECT_EQ(got, 0u);
  if (damage) {
    // The reader passed the frontier over X and the damaged header itself (as one unit: its
    // seal made wait() return at once, so no wait would have), and went past it: the damaged
    // record counted as lost.
    EXPECT_GT(reader.position(), pad_at) << "still at the damaged header";
    EXPECT_EQ(reader.total_loss().records, 1u);
    EXPECT_EQ(s.reader_slot(reader.id()).corrupt.load(), 1u) << "skipped as corrupt";
    EXPECT_EQ(s.reader_slot(reader.id()).laps.load(), 0u) << "not a lap";
  } else {
    EXPECT_EQ(reader.position(), 3 * fp) << "past the padding";
    EXPECT_EQ(reader.total_loss().records, 0u) << "nothing taken for lost";
  }
  // The frontier is then moved by the reader's own wait (X and the padding are sealed; the dead
  // claims — and the rest of a damaged record — are repaired into padding after the dead-check
  // interval): nothing more to read, nothing more lost, and wait() parks on the way (it does not
  // return at once round after round: a reader spinning).
  std::size_t more = 0, rounds = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((s.control().frontier.frontier.load() != s.control().tail.tail.load() ||
          reader.position() != s.control().tail.tail.load()) &&
         std::chrono::steady_clock::now() < until) {
    ++rounds;
    reader.wait(std::chrono::milliseconds(20));
    more += reader.poll([](const RecordView&) {});
  }
  EXPECT_EQ(s.control().frontier.frontier.load(), s.control().tail.tail.load());
  EXPECT_EQ(reader.position(), s.control().tail.tail.load());
  EXPECT_EQ(more, 0u);
  EXPECT_EQ(reader.total_loss().records, damage ? 1u : 0u);
  EXPECT_LT(rounds, 1000u) << "the reader spun";
}

TEST(RingHooks, AReaderAheadOfAStuckFrontierIsNotLappedByClaimsWaitingAtTheirGate) {
  reader_ahead_of_gated_claims("ahead-gated", Ahead::record);
}

TEST(RingHooks, AReaderAheadOfAStuckFrontierAtPaddingBehindGatedClaimsDoesNotSpin) {
  reader_ahead_of_gated_claims("ahead-gated-padding", Ahead::padding);
}

TEST(RingHooks, AReaderAheadOfAStuckFrontierAtADamagedHeaderBehindGatedClaimsDoesNotSpin) {
  reader_ahead_of_gated_claims("ahead-gated-damaged", Ahead::damaged);
}

// Victims publish continuously and are SIGKILLed at random moments (wherever they are), over and
// over; each new victim reuses a dead slot. A survivor publishes throughout. The reader must get
// every survivor record, and from each victim a gap-free prefix of what it published.
TEST(RingCrash, ProducersKilledAtRandomPointsNeverStallTheOthers) {
  RingName name("random-kill");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 20;
  cfg.max_record = 1024;
  cfg.max_producers = 4;  // forces reuse of the victims' dead slots
  auto s = Segment::create(cfg).value();
  auto reader = RingReader::attach(s).value();
  constexpr int kRounds = 24;
  constexpr std::uint64_t kSurvivorRecords = 30'000;
  // Flow control so this test can demand completeness: the reader keeps up via its thread.
  std::atomic<bool> done{false};
  std::map<std::uint32_t, std::uint64_t> next;  // producer id (round) -> next expected seq
  std::uint64_t bad = 0, survivor_got = 0, delivered = 0, bad_index = 0, stamps_checked = 0;
  std::thread rt([&] {
    // Until everything claimed is resolved: the last records may sit behind a dead victim's hole
    // that this reader's wait() is about to repair.
    auto pending = [&] {
      return reader.ready() || s.control().tail.tail.load() != s.control().frontier.frontier.load();
    };
    while (!done.load() || pending()) {
      reader.wait(std::chrono::milliseconds(20));
      reader.poll([&](const RecordView& v) {
        // Indices count the records delivered (the reader keeps up: none lost), holes none.
        // The stamp at its position is final once the frontier has passed it (a reader may get a
        // record before, by its seal): checked for those (without helping the frontier along).
        if (v.index != delivered + reader.total_loss().records) ++bad_index;
        if (s.control().frontier.frontier.load() > v.position) {
          ++stamps_checked;
          if (core::index_at(s, v.position) != v.index) ++bad_index;
        }
        ++delivered;
        const auto p = CheckedRecord::producer(v.payload);
        const auto q = CheckedRecord::seq(v.payload);
        if (!CheckedRecord::valid(v.payload) || q != next[p]) {
          ++bad;
          return;
        }
        next[p] = q + 1;
        if (p == 1000) ++survivor_got;
      });
    }
  });
  pid_t survivor = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto w = RingWriter::attach(*seg);
    std::vector<std::byte> buf(200);
    for (std::uint64_t q = 0; q < kSurvivorRecords; ++q) {
      while (seg->control().tail.tail.load() - seg->reader_slot(0).position.load() >
             seg->capacity() / 2)
        ::sched_yield();
      CheckedRecord::fill(buf, 1000, q);
      if (w->publish(1, buf) != PublishStatus::ok) return 1;
    }
    return 0;
  });
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> delay_us(200, 3000);
  for (int round = 0; round < kRounds; ++round) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t victim = test::spawn([&, round] {
      ::close(ready[0]);
      auto seg = Segment::attach(name);
      // All slots may be held by earlier victims whose last claim is not repaired yet (that
      // takes up to ~2 x dead_check_interval): retry within a bound.
      auto w = RingWriter::attach(*seg);
      for (int tries = 0; !w && w.error().code == Errc::no_free_slot && tries < 500; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        w = RingWriter::attach(*seg);
      }
      if (!w) return 3;
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) return 4;
      // Fill in place, and yield between claim and write, so that kills often land mid-claim.
      core::set_test_hook(&yield_hook);
      for (std::uint64_t q = 0;; ++q) {
        while (seg->control().tail.tail.load() - seg->reader_slot(0).position.load() >
               seg->capacity() / 2)
          ::sched_yield();
        auto claim = w->claim(300, 1);
        if (claim.status != PublishStatus::ok) return 1;
        CheckedRecord::fill(claim.payload, static_cast<std::uint32_t>(round), q);
        w->commit();
      }
    });
    ::close(ready[1]);
    char c;
    const bool started = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    EXPECT_TRUE(started) << "victim " << round << " could not attach";
    if (!started) {  // no ASSERT here: the reader thread must still be joined
      EXPECT_EQ(test::join(victim), 3);
      break;
    }
    // Let it run for a random while, then kill it wherever it is. (This is the experiment's
    // random kill time, not a synchronisation.)
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(victim, SIGKILL);
    EXPECT_EQ(test::join(victim), 128 + SIGKILL);
  }
  EXPECT_EQ(test::join(survivor), 0);
  done = true;
  rt.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(bad_index, 0u) << "records whose index is not their place in the order";
  std::printf("[ info ] index stamps checked at delivery: %llu of %llu records\n",
              static_cast<unsigned long long>(stamps_checked),
              static_cast<unsigned long long>(delivered));
  EXPECT_GT(stamps_checked, delivered / 4);
  EXPECT_EQ(survivor_got, kSurvivorRecords);
  EXPECT_EQ(reader.total_loss().records, 0u);
  std::printf("[ info ] %d victims killed; %llu holes repaired\n", kRounds,
              static_cast<unsigned long long>(s.control().repair.repairs.load()));
}

}  // namespace
}  // namespace shmio::shm
