// A RingReader driven from a Boost.Asio io_context through RingNotifier's eventfd: no spinning,
// no extra thread of ours; the loop wakes when records are committed by another thread.
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <thread>

#include "test_support.hpp"

namespace shmio::shm {
namespace {

TEST(RingAsio, AnIoContextDrainsTheReaderWhenTheNotifierFires) {
  test::RingName name("asio");
  auto s = test::make_ring(name, 16 << 20);  // no laps: this test is about wake-ups
  auto reader = RingReader::attach(s).value();
  auto notifier = RingNotifier::start(s);
  ASSERT_TRUE(notifier) << notifier.error().message;

  constexpr std::uint64_t kRecords = 20'000;
  boost::asio::io_context io;
  // The descriptor is a dup: Asio owns (and closes) its copy; the notifier keeps its own.
  boost::asio::posix::stream_descriptor fd(io, ::dup((*notifier)->fd()));
  std::uint64_t got = 0, wakeups = 0;
  // The pattern RingNotifier documents: drain, read until empty, re-arm, then check ready() once
  // more, because a commit signalled while no wait was armed may not be reported again.
  std::function<void()> arm;
  auto on_ready = [&] {
    ++wakeups;
    (*notifier)->drain();
    while (reader.poll([&](const RecordView& v) {
      std::uint64_t q;
      std::memcpy(&q, v.payload.data(), 8);
      EXPECT_EQ(q, got);
      ++got;
    })) {
    }
    if (got < kRecords) {
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
    if (reader.ready()) boost::asio::post(io, on_ready);
  };
  arm();
  std::thread producer([&] {
    auto w = RingWriter::attach(s).value();
    for (std::uint64_t q = 0; q < kRecords; ++q)
      ASSERT_EQ(w.publish(1, std::as_bytes(std::span(&q, 1))), PublishStatus::ok);
  });
  io.run_for(std::chrono::seconds(60));
  producer.join();
  EXPECT_EQ(got, kRecords);
  EXPECT_GE(wakeups, 1u);
  // No busy loop: a commit may be reported twice (by the eventfd and by the ready() check after
  // re-arming), so a few wake-ups per record at most; a spinning loop would make millions.
  EXPECT_LE(wakeups, 4 * kRecords);
}

}  // namespace
}  // namespace shmio::shm
