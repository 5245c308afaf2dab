// A WebSocket through Beast's stream: only for connections that negotiated permessage-deflate
// (private to engineio/src).
#pragma once

#include <limits>

#include "server_core.hpp"

namespace shmio::engineio {

class WsConnection final : public detail::Link, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket socket, std::size_t max_message, const PerMessageDeflate& deflate)
      : ws_(std::move(socket)) {
    ws_.read_message_max(max_message);
    // The read buffer's bound. Beast checks a compressed frame's declared length against no limit
    // (read_message_max bounds what it inflates to) and sizes each read by what the frame says is
    // left: a frame saying 2^62 bytes made it ask for that much, and the std::bad_alloc left the
    // read's handler and the io_context's run, ending the process with every client (before
    // 2026-12-05; found by a review; Beast fixed it in Boost 1.86). Past this bound the read
    // fails (buffer_overflow) and the connection is closed. A message in the making holds at most
    // max_message inflated bytes beside what of its frame is still to come, which deflate makes
    // at most a little more than the message: twice the message and 64 KiB cover both.
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    constexpr std::size_t kSlack = 64 << 10;
    buffer_.max_size(max_message == 0 || max_message > (kMax - kSlack) / 2
                         ? kMax  // (0: no bound, as Beast's read_message_max takes it)
                         : 2 * max_message + kSlack);
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.server_max_window_bits = std::clamp(deflate.window_bits, 9, 15);
    pmd.compLevel = std::clamp(deflate.level, 0, 9);
    pmd.memLevel = std::clamp(deflate.mem_level, 1, 9);
    pmd.msg_size_threshold = deflate.threshold;
    ws_.set_option(pmd);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  }
  // `added`: headers for the 101 (the subprotocol chosen, the app's header hooks').
  template <class Done>
  void accept(Request req, ServerOptions::Headers added, Done done) {
    if (!added.empty())
      ws_.set_option(websocket::stream_base::decorator(
          [added = std::move(added)](websocket::response_type& res) {
            for (const auto& [name, value] : added) res.insert(name, value);
          }));
    ws_.async_accept(req, [self = shared_from_this(), done](beast::error_code ec) { done(ec); });
  }
  void start(std::weak_ptr<detail::LinkEvents> owner) override {
    owner_ = std::move(owner);
    do_read();
  }
  bool blocked() const noexcept override { return writing_; }
  bool flush() override {
    if (writing_ || closing_) return false;
    while (!src_->empty() && src_->front().kind() == Frame::Kind::raw) src_->pop_front();
    if (src_->empty()) {
      if (closing_after_writes_) do_close();
      return false;
    }
    writing_ = true;
    // The frame stays alive while Beast writes it, whatever happens to the queue meanwhile.
    inflight_ = src_->pop_front();
    ws_.binary(inflight_->binary());
    ws_.compress(inflight_->compress());
    const std::string_view bytes = inflight_->payload();
    ws_.async_write(net::buffer(bytes.data(), bytes.size()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->inflight_ = FrameRef();
                      if (ec) return;  // the read side reports the failure
                      self->flush();
                    });
    return false;
  }
  void close_after_writes() override {
    attach(nullptr);
    if (!closing_after_writes_) close_deadline();
    closing_after_writes_ = true;
    if (!writing_) flush();
  }
  std::string remote() const;

 private:
  // The raw link's closing deadline (websocket.cpp, kCloseTimeout): what is queued, the close
  // frame and the client's answer get this long, then the descriptor is closed whatever Beast
  // still waits for (a write the client never reads would otherwise hold it until Beast's idle
  // timeout, 300 s). Closing the socket completes Beast's pending operations with an error.
  static constexpr std::chrono::milliseconds kCloseTimeout{5000};
  void close_deadline() {
    close_timer_ = std::make_unique<net::steady_timer>(ws_.get_executor(), kCloseTimeout);
    close_timer_->async_wait([w = weak_from_this()](const beast::error_code& ec) {
      auto self = w.lock();
      if (ec || !self) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }
  void do_read();
  // After each message: emptied, and its memory given back past 64 KiB. async_read grows the
  // buffer to the whole message and consume() keeps the capacity, so a connection that once
  // received a message near max_payload (1 MB) held that much for as long as it stayed open,
  // idle or not (before 2026-12-05, found by a review; the raw link holds no read buffer while
  // idle).
  void release_buffer() {
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > kKeptReadBuffer) buffer_.shrink_to_fit();
  }
  static constexpr std::size_t kKeptReadBuffer = 64 << 10;
  void do_close() {
    if (closing_) return;
    closing_ = true;
    sealed_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::unique_ptr<net::steady_timer> close_timer_;  // from close_after_writes()
  FrameRef inflight_;
  std::weak_ptr<detail::LinkEvents> owner_;
  bool writing_ = false;
  bool closing_ = false;
  bool closing_after_writes_ = false;
};
}  // namespace shmio::engineio
