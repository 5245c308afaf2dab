// The collector of a cluster-wide operation's answers (broadcast acks, fetchSockets,
// serverSideEmit).
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <limits>

#include "client.hpp"
#include "detail.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

AckCollector::AckCollector(net::io_context& io, AckCallback done)
    : done_cb_(std::move(done)), timer_(std::make_unique<net::steady_timer>(io)) {}

void AckCollector::arm(std::chrono::milliseconds timeout) {
  if (done_ || expires_at_ != std::chrono::steady_clock::time_point::max()) return;
  timer_->expires_after(detail::timer_timeout(timeout));
  expires_at_ = timer_->expiry();
  // The pending wait keeps the collector alive until it is done (finish() cancels it).
  timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->finish(std::string("operation has timed out"));
  });
}

void AckCollector::start(std::chrono::milliseconds timeout) {
  arm(timeout);
  start();
}

void AckCollector::start() {
  started_ = true;
  check();
}

void AckCollector::add_pending_source(std::uint64_t source) {
  sources_.try_emplace(source);
}

std::optional<AckCollector::Heard> AckCollector::heard(std::uint64_t source) const {
  auto it = sources_.find(source);
  if (it == sources_.end()) return std::nullopt;
  return Heard{it->second.counted, it->second.expected, it->second.received + it->second.lost};
}

void AckCollector::expect(std::uint64_t source, std::size_t answers) {
  Source& s = sources_[source];
  s.counted = true;
  // (Saturating: counts said by other servers, a fleet member's among them, that add up past
  // 2^64 would wrap to a few and end the wait before the answers came.)
  s.expected = answers > std::numeric_limits<std::size_t>::max() - s.expected
                   ? std::numeric_limits<std::size_t>::max()
                   : s.expected + answers;
  check();
}

void AckCollector::answer(std::uint64_t source, Args args) {
  if (done_) return;
  auto it = sources_.find(source);
  if (it == sources_.end()) return;
  ++it->second.received;
  responses_.push_back(std::move(args));
  check();
}

void AckCollector::lose(std::uint64_t source, std::size_t answers) {
  auto it = sources_.find(source);
  if (it == sources_.end() || done_ || answers == 0) return;
  // (Saturating, as expect's.)
  it->second.lost = answers > std::numeric_limits<std::size_t>::max() - it->second.lost
                        ? std::numeric_limits<std::size_t>::max()
                        : it->second.lost + answers;
  missing_ = true;
  check();
}

void AckCollector::fail_source(std::uint64_t source, bool missing_answers) {
  auto it = sources_.find(source);
  if (it == sources_.end() || done_) return;
  if (missing_answers && (!it->second.counted || it->second.received < it->second.expected))
    missing_ = true;
  sources_.erase(it);
  check();
}

void AckCollector::check() {
  // (Armed and not yet started: sources may still be added.)
  if (done_ || (!started_ && expires_at_ != std::chrono::steady_clock::time_point::max())) return;
  for (const auto& [id, s] : sources_)
    if (!s.counted || s.received + s.lost < s.expected) return;
  // Every source answered in full (or dropped out): done now, not at the timeout.
  finish(missing_ ? std::optional<std::string>("operation has timed out") : std::nullopt);
}

void AckCollector::finish(std::optional<std::string> error) {
  if (done_) return;
  done_ = true;
  timer_->cancel();
  auto call = [cb = std::move(done_cb_), error = std::move(error),
               responses = std::move(responses_)]() mutable {
    try {
      cb(std::move(error), std::move(responses));
    } catch (...) {
      std::fprintf(stderr, "shmio: ack callback threw: %s\n", thrown_what().c_str());
    }
  };
  // Always on a later turn, never inside what completed it: start() (the caller's request, not
  // yet returned, as socket.io's promises: before 2026-12-03 a broadcast with acks to no one
  // called back before emit_with_ack returned), or a cluster worker's read of the ring (the answer
  // that came last), where app code that publishes much (a fetchSockets callback emitting to every
  // socket it got) could lap the worker with its own records, its reader not kept up there (before
  // 2026-12-07 it ran there;
  // ClusterAdapterTest.AFetchSocketsCallbackThatFloodsTheRingDoesNotLapItsWorker; a review).
  net::post(timer_->get_executor(), std::move(call));
}

}  // namespace shmio::socketio
