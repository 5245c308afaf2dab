// A RingReader driven from a Boost.Asio io_context through RingNotifier's eventfd: no spinning,
// no extra thread of ours; the loop wakes when records are committed by another thread. Then the
// same over a ring per producer: a RingSetReader and one notifier over all the rings.
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <thread>

#include "test_support.hpp"

namespace shmio::shm {
namespace {

// The pattern RingNotifier documents, on an io_context: on each readiness drain the eventfd, call
// read_some() until it reads nothing, re-arm, then check ready() once more, because a commit
// signalled while no wait was armed may not be reported again. start() runs once the first wait
// is armed (it starts the producers); the loop ends when done() says so, or after 60 s. Returns
// how many times the loop woke.
template <class Ready, class ReadSome, class Done, class Start>
std::uint64_t drive(RingNotifier& notifier, Ready ready, ReadSome read_some, Done done,
                    Start start) {
  boost::asio::io_context io;
  // The descriptor is a dup: Asio owns (and closes) its copy; the notifier keeps its own.
  boost::asio::posix::stream_descriptor fd(io, ::dup(notifier.fd()));
  std::uint64_t wakeups = 0;
  std::function<void()> arm;
  auto on_ready = [&] {
    ++wakeups;
    notifier.drain();
    while (read_some()) {
    }
    if (!done()) {
      arm();
    } else {
      fd.cancel();  // done: end the wait still armed from an earlier round, so run_for returns
    }
  };
  arm = [&] {
    fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                  [&](const boost::system::error_code& ec) {
                    if (ec == boost::asio::error::operation_aborted) return;
                    ASSERT_FALSE(ec) << ec.message();
                    on_ready();
                  });
    if (ready()) boost::asio::post(io, on_ready);
  };
  arm();
  start();
  io.run_for(std::chrono::seconds(60));
  return wakeups;
}

TEST(RingAsio, AnIoContextDrainsTheReaderWhenTheNotifierFires) {
  test::RingName name("asio");
  auto s = test::make_ring(name, 16 << 20);  // no laps: this test is about wake-ups
  auto reader = RingReader::attach(s).value();
  auto notifier = RingNotifier::start(s);
  ASSERT_TRUE(notifier) << notifier.error().message;

  constexpr std::uint64_t kRecords = 20'000;
  std::uint64_t got = 0;
  std::thread producer;
  const std::uint64_t wakeups = drive(
      **notifier, [&] { return reader.ready(); },
      [&] {
        return reader.poll([&](const RecordView& v) {
          std::uint64_t q;
          std::memcpy(&q, v.payload.data(), 8);
          EXPECT_EQ(q, got);
          ++got;
        });
      },
      [&] { return got >= kRecords; },
      [&] {
        producer = std::thread([&] {
          auto w = RingWriter::attach(s).value();
          for (std::uint64_t q = 0; q < kRecords; ++q)
            ASSERT_EQ(w.publish(1, std::as_bytes(std::span(&q, 1))), PublishStatus::ok);
        });
      });
  producer.join();
  EXPECT_EQ(got, kRecords);
  EXPECT_GE(wakeups, 1u);
  // No busy loop: a commit may be reported twice (by the eventfd and by the ready() check after
  // re-arming), so a few wake-ups per record at most; a spinning loop would make millions.
  EXPECT_LE(wakeups, 4 * kRecords);
}

// The same loop over a ring per producer: three rings made for one producer, a producer thread
// on each, one RingSetReader and one RingNotifier over the three (one eventfd for the loop).
TEST(RingAsio, AnIoContextDrainsARingPerProducerThroughOneNotifier) {
  constexpr std::size_t kRings = 3;
  constexpr std::uint64_t kRecords = 10'000;  // per ring; 16 MiB rings: no laps
  test::RingName n0("asio-set-0"), n1("asio-set-1"), n2("asio-set-2");
  std::vector<Segment> rings;
  rings.push_back(test::make_ring(n0, 16 << 20, 0, true));
  rings.push_back(test::make_ring(n1, 16 << 20, 0, true));
  rings.push_back(test::make_ring(n2, 16 << 20, 0, true));
  const Segment* set[kRings] = {&rings[0], &rings[1], &rings[2]};
  auto readers = RingSetReader::attach(set).value();
  auto notifier = RingNotifier::start(set);
  ASSERT_TRUE(notifier) << notifier.error().message;

  std::uint64_t next[kRings] = {0, 0, 0};
  std::uint64_t got = 0;
  std::vector<std::thread> producers;
  const std::uint64_t wakeups = drive(
      **notifier, [&] { return readers.ready(); },
      [&] {
        return readers.poll([&](std::size_t ring, const RecordView& v) {
          std::uint64_t q;
          std::memcpy(&q, v.payload.data(), 8);
          EXPECT_EQ(q, next[ring]) << "ring " << ring;
          ++next[ring];
          ++got;
        });
      },
      [&] { return got >= kRings * kRecords; },
      [&] {
        for (std::size_t p = 0; p < kRings; ++p) {
          producers.emplace_back([&, p] {
            auto w = RingWriter::attach(rings[p]).value();
            for (std::uint64_t q = 0; q < kRecords; ++q)
              ASSERT_EQ(w.publish(1, std::as_bytes(std::span(&q, 1))), PublishStatus::ok);
          });
        }
      });
  for (auto& t : producers) t.join();
  EXPECT_EQ(got, kRings * kRecords);
  for (std::size_t i = 0; i < kRings; ++i) EXPECT_EQ(next[i], kRecords) << "ring " << i;
  EXPECT_EQ(readers.total_loss().records, 0u);
  EXPECT_GE(wakeups, 1u);
  EXPECT_LE(wakeups, 4 * kRings * kRecords);
}

}  // namespace
}  // namespace shmio::shm
