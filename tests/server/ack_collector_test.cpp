// The ack collector (socketio::AckCollector: a broadcast with acks, a serverSideEmit with acks):
// when it completes — early once every source's count is in and answered, at its timeout
// otherwise — and with which error, whatever order counts, answers, losses and failures come in.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shmio/socketio/server.hpp"

namespace shmio::socketio {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  bool called = false;
  std::optional<std::string> error;
  std::vector<Args> responses;
};

// A collector with `sources` whose counts are still to come, started with `timeout`.
class Collect : public ::testing::Test {
 protected:
  void begin(std::initializer_list<std::uint64_t> sources, std::chrono::milliseconds timeout) {
    c = std::make_shared<AckCollector>(
        io, [this](std::optional<std::string> err, std::vector<Args> rs) {
          EXPECT_FALSE(out.called) << "the callback runs once";
          out.called = true;
          out.error = std::move(err);
          out.responses = std::move(rs);
        });
    for (std::uint64_t s : sources) c->add_pending_source(s);
    c->start(timeout);
  }
  // Whether the callback has run, the loop's ready handlers run first: it runs on a later turn,
  // never inside the call that completed the collector (since 2026-12-07).
  bool called() {
    io.restart();
    io.poll();
    return out.called;
  }
  boost::asio::io_context io;
  Outcome out;
  std::shared_ptr<AckCollector> c;
};
const std::optional<std::string> kTimedOut("operation has timed out");

TEST_F(Collect, CompletesAsSoonAsEverySourceCountedAndAnswered) {
  begin({1, 2}, 10s);
  c->expect(1, 2);
  c->answer(1, Args{1});
  c->answer(2, Args{20});  // an answer may come before its source's count
  c->answer(1, Args{2});
  EXPECT_FALSE(called()) << "source 2 has not said how many answers it will send";
  c->expect(2, 1);
  ASSERT_TRUE(called()) << "early: no wait for the 10 s timeout";
  EXPECT_EQ(out.error, std::nullopt);
  ASSERT_EQ(out.responses.size(), 3u);
  EXPECT_EQ(out.responses[0].values[0].as_int64(), 1);
  EXPECT_EQ(out.responses[1].values[0].as_int64(), 20);
  EXPECT_EQ(out.responses[2].values[0].as_int64(), 2);
  c->answer(1, Args{3});  // after completion: ignored
  EXPECT_EQ(out.responses.size(), 3u);
}

// (On the next turn: never within start(), the call that made the request.)
TEST_F(Collect, NoSourcesCompletesAtStart) {
  begin({}, 10s);
  EXPECT_FALSE(out.called) << "within start()";
  io.poll();
  ASSERT_TRUE(called());
  EXPECT_EQ(out.error, std::nullopt);
  EXPECT_TRUE(out.responses.empty());
}

TEST_F(Collect, AMissingCountEndsAtTheTimeoutWithWhatCame) {
  begin({7, 8}, 30ms);
  c->expect(7, 1);
  c->answer(7, Args{"a"});
  c.reset();       // the pending timer keeps it alive
  io.run_for(2s);  // returns once the timer fired and nothing else is pending
  ASSERT_TRUE(called());
  EXPECT_EQ(out.error, kTimedOut);
  ASSERT_EQ(out.responses.size(), 1u);
}

TEST_F(Collect, ALostAnswerEndsEarlyWithTheTimeoutError) {
  begin({1}, 10s);
  c->expect(1, 3);
  c->answer(1, Args{1});
  c->lose(1);  // e.g. the socket disconnected before answering
  EXPECT_FALSE(called());
  c->answer(1, Args{3});
  ASSERT_TRUE(called()) << "every answer is in or lost: no wait for the timeout";
  EXPECT_EQ(out.error, kTimedOut) << "socket.io reports a missing answer as the timeout";
  EXPECT_EQ(out.responses.size(), 2u);
}

TEST_F(Collect, AFailedSourceThatOwedNothingIsNoError) {
  begin({1, 2}, 10s);
  c->expect(1, 1);
  c->answer(1, Args{1});
  c->fail_source(2, /*missing_answers=*/false);  // e.g. a worker with no matching socket left
  ASSERT_TRUE(called());
  EXPECT_EQ(out.error, std::nullopt);
}

TEST_F(Collect, AFailedSourceThatOwedAnswersIsTheTimeoutError) {
  begin({1, 2}, 10s);
  c->expect(1, 1);
  c->answer(1, Args{1});
  c->fail_source(2, /*missing_answers=*/true);  // died before its count came
  ASSERT_TRUE(called());
  EXPECT_EQ(out.error, kTimedOut);
  EXPECT_EQ(out.responses.size(), 1u);
}

// Counts said by a source (a fleet member's too) that add up past 2^64 stay there: wrapped, two
// halves of it made one answer seem to be all (2026-12-06).
TEST_F(Collect, CountsThatAddUpPastTheirTypeDoNotWrap) {
  begin({1}, 10s);
  c->expect(1, std::numeric_limits<std::size_t>::max());
  c->expect(1, 2);
  c->answer(1, Args{1});
  EXPECT_FALSE(called()) << "the counts wrapped to 1";
}

// Armed before the request goes out, started once its sources are all added: it does not finish
// in between (a source may still be added), and its timeout counts from the arm.
TEST(AckCollector, ArmedFirstItWaitsForStartAndTimesFromTheArm) {
  boost::asio::io_context io;
  bool called = false;
  auto c = std::make_shared<AckCollector>(
      io, [&](std::optional<std::string>, std::vector<Args>) { called = true; });
  const auto ran = [&] {  // (the callback runs on a later turn)
    io.restart();
    io.poll();
    return called;
  };
  EXPECT_EQ(c->expires_at(), std::chrono::steady_clock::time_point::max());
  const auto before = std::chrono::steady_clock::now();
  c->arm(10s);
  const auto after = std::chrono::steady_clock::now();
  EXPECT_GE(c->expires_at(), before + 10s);
  EXPECT_LE(c->expires_at(), after + 10s);
  c->expect(0, 0);  // the local delivery reached nobody
  EXPECT_FALSE(ran()) << "finished before every source was added";
  c->add_pending_source(1);  // another worker's count to come
  c->start(1ms);             // (armed already: the first timeout stands)
  EXPECT_GE(c->expires_at(), before + 10s);
  EXPECT_FALSE(ran());
  c->expect(1, 0);
  EXPECT_TRUE(ran());
}

TEST(AckCollector, UnknownSourcesAreIgnoredAndAThrowingCallbackIsContained) {
  boost::asio::io_context io;
  bool called = false;
  auto c = std::make_shared<AckCollector>(io, [&](std::optional<std::string>, std::vector<Args>) {
    called = true;
    throw std::runtime_error("the app's callback failed");
  });
  const auto ran = [&] {  // (the callback runs on a later turn)
    io.restart();
    io.poll();
    return called;
  };
  c->add_pending_source(1);
  c->start(10s);
  c->answer(99, Args{1});  // not a source of this collector
  c->lose(99);
  c->fail_source(99, true);
  EXPECT_FALSE(ran());
  c->expect(1, 0);  // a source with nothing to answer
  EXPECT_TRUE(ran());
  EXPECT_TRUE(c->done());
}

}  // namespace
}  // namespace shmio::socketio
