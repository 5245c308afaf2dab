// The WebSocket side of a session (private to the Engine.IO server; docs/server.md, "Delivery
// engine"). A Link writes frames from one FrameQueue: its own while it is a probe or closing, the
// session's while it is the session's transport (so a session has exactly one bounded queue, and
// writing is popping from it). Two kinds:
//  - RawWebSocket (websocket.cpp): RFC 6455 framing of our own straight on the TCP socket. Reads
//    into a per-thread scratch buffer (an idle connection holds no read buffer); writes are corked:
//    the server calls flush() once at the end of an event-loop turn, and flush() writes every
//    queued frame with one sendmsg (iovecs pointing into the shared frames, no copy).
//  - the Beast stream (server.cpp), only for connections that negotiated permessage-deflate.
#pragma once

#include <sys/uio.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "shmio/engineio/frame.hpp"
#include "shmio/engineio/packet.hpp"

namespace shmio::engineio::detail {

class Link;

// What a link reports to the session that owns it (EngineSocket).
class LinkEvents {
 public:
  virtual ~LinkEvents() = default;
  virtual void on_ws_packet(const Link* l, const Packet& p) = 0;
  virtual void on_ws_garbage(const Link* l) = 0;
  virtual void on_ws_closed(const Link* l, bool error) = 0;
  // The link stopped reading for this readiness event (its read budget): counted.
  virtual void on_ws_read_yield() {}
};

class Link {
 public:
  virtual ~Link() = default;
  // Starts reading; events go to `owner` while it lives.
  virtual void start(std::weak_ptr<LinkEvents> owner) = 0;
  // Writes what the source queue holds, as far as the kernel takes it now. Returns true if frames
  // remain that this call chose not to write (its byte budget): call again next turn.
  virtual bool flush() = 0;
  // Batched submission (io_uring, uring.hpp): the iovecs of this link's next write, at most
  // max_iov; returns the socket's descriptor, or -1 if this link has nothing to write now or
  // writes by itself (then call flush()). complete_write() takes the write's result (bytes, or
  // -errno) and returns true if frames remain for the next turn.
  virtual int prepare_write(iovec* /*iov*/, std::size_t /*max_iov*/, std::size_t& iov_count,
                            std::size_t& /*bytes*/) {
    iov_count = 0;
    return -1;
  }
  virtual bool complete_write(long /*result*/, std::size_t /*bytes*/) { return false; }
  // A write is waiting for the kernel (the client is not reading fast enough).
  virtual bool blocked() const noexcept = 0;
  // Writes what is queued, then closes the WebSocket (close frame 1000). Detaches from the
  // session's queue (its frames move to the link's own queue).
  virtual void close_after_writes() = 0;

  // The session's queue becomes the source (its own queue's frames go in front); nullptr: back to
  // the link's own queue, taking the frames still to write along.
  void attach(FrameQueue* q) {
    if (q == src_) return;
    if (q == nullptr) {  // the link has no queue of its own while the session's is the source
      own_ = std::make_unique<FrameQueue>(std::move(*src_));
      src_ = own_.get();
      return;
    }
    if (own_ && !own_->empty()) {
      // own_'s frames precede the session's (the handshake response, a probe's answers): rare.
      while (!q->empty()) own_->push_back(q->pop_front());
      q->swap(*own_);
    }
    own_.reset();  // not needed while the session's queue is the source (an idle link's 32 bytes)
    src_ = q;
  }
  // Queues a frame after everything queued (bypassing the session's bound: protocol frames).
  // Ignored once the WebSocket close frame is queued: nothing may follow it.
  void push(FrameRef f) {
    if (!sealed_) src_->push_back(std::move(f));
  }
  std::size_t queued() const noexcept { return src_->size(); }
  // Whether a text frame of `payload` is queued (not written whole yet). A walk: for links whose
  // queue is short (a probe's).
  bool holds_text(std::string_view payload) const noexcept {
    for (std::size_t i = 0; i < src_->size(); ++i)
      if ((*src_)[i].kind() == Frame::Kind::text && (*src_)[i].payload() == payload) return true;
    return false;
  }
  // What a batched flush reads of a link (prepare_write, complete_write) lies in its first
  // kHotBytes (a WebSocket link orders its fields so): asked of the memory system ahead of time.
  static constexpr std::size_t kHotBytes = 80;
  void prefetch_hot() const noexcept {
    __builtin_prefetch(this);
    __builtin_prefetch(reinterpret_cast<const char*>(this) + kHotBytes - 1);
  }

 protected:
  std::unique_ptr<FrameQueue> own_ = std::make_unique<FrameQueue>();  // null: src_ is the session's
  FrameQueue* src_ = own_.get();
  bool sealed_ = false;  // the close frame is queued
};

// A raw link's bounds (engineio::ServerOptions: max_payload, flush_budget, read_budget), each at
// most 4 GiB - 1 (kept in 32 bits: every connection holds them).
struct LinkLimits {
  std::size_t max_message;  // a message over it closes the link with 1009
  std::size_t flush_budget;
  std::size_t read_budget;
};

// A WebSocket on `socket` whose handshake response (`response_101`) is the first thing written
// (nullptr if the descriptor could not be moved to the link: it is closed).
std::shared_ptr<Link> make_raw_websocket(boost::asio::ip::tcp::socket socket,
                                         std::string response_101, const LinkLimits& limits);

}  // namespace shmio::engineio::detail
