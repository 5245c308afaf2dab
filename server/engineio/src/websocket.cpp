// RawWebSocket: RFC 6455 server framing on a TCP socket, written for the delivery path (link.hpp,
// docs/server.md "Delivery engine"). Asio only (no Beast): the socket is watched with
// async_wait, and the reads and writes are plain non-blocking recv/sendmsg calls.
//
// Reading: recv into a per-thread 64 KiB scratch buffer, parse every whole frame there (unmasked
// in place), and keep only an incomplete frame's bytes in a buffer of the connection's own (so an
// idle connection holds no read buffer). Checked as RFC 6455 asks: client frames must be masked,
// RSV bits clear (no extension is negotiated here), control frames short and unfragmented,
// continuation frames only inside a fragmented message, text UTF-8 (each at the frame's header
// where the header tells); a violation fails the connection: a close frame with 1002 (1007 for
// bad UTF-8, 1009 for a message over the size limit), reported as a transport error, and nothing
// the client sends after it is processed (RFC 6455 7.1.7). A ping is answered with a pong in order
// with the data frames (so the two never interleave); a close frame is answered and the connection
// closed.
//
// Writing: flush() gathers the queued frames (header and payload are contiguous in a Frame) into
// one sendmsg of up to kIovecs iovecs; what the kernel did not take waits for EPOLLOUT. At most
// flush_budget bytes per flush (engineio::ServerOptions, 1 MiB by default): a huge backlog goes out
// over several turns. Reading takes at most read_budget bytes (256 KiB) per readiness event.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "link.hpp"

namespace shmio::engineio::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;
// The link's socket names its executor's type: an operation on a socket with Asio's polymorphic
// executor (any_io_executor) carries a copy of it, about 50 bytes more per pending wait.
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

namespace {

constexpr std::size_t kScratch = 64 * 1024;
constexpr std::size_t kIovecs = 64;
// The whole closing handshake of a connection (what was queued, the close frame, the client's
// answer) may take this long; then the descriptor is closed regardless.
constexpr std::chrono::milliseconds kCloseTimeout{5000};

// Valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    unsigned cp;
    if ((*p & 0xE0) == 0xC0) {
      n = 1;
      cp = *p & 0x1F;
    } else if ((*p & 0xF0) == 0xE0) {
      n = 2;
      cp = *p & 0x0F;
    } else if ((*p & 0xF8) == 0xF0) {
      n = 3;
      cp = *p & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

// The allocator of the read wait's operation: plain operator new, the operation's own size. With
// Asio's default (its per-thread recycling allocator) an idle connection's pending wait sat in
// whatever block was cached last, usually a larger accept operation's (264 bytes where the wait
// needs about half): that is RSS every idle connection holds.
template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

FrameRef close_frame(std::uint16_t code) {
  const char bytes[4] = {static_cast<char>(0x88), 2, static_cast<char>(code >> 8),
                         static_cast<char>(code & 0xFF)};
  return Frame::make(Frame::Kind::raw, std::string_view(bytes, 4));
}

class RawWebSocket final : public Link, public std::enable_shared_from_this<RawWebSocket> {
 public:
  RawWebSocket(Socket socket, std::string response_101, const LinkLimits& limits)
      : flush_budget_(std::max<std::uint32_t>(1, clamp_u32(limits.flush_budget))),
        sock_(std::move(socket)),
        max_message_(clamp_u32(limits.max_message)),
        read_budget_(std::max<std::uint32_t>(1, clamp_u32(limits.read_budget))) {
    push(Frame::make(Frame::Kind::raw, response_101));
  }

  void start(std::weak_ptr<LinkEvents> owner) override {
    owner_ = std::move(owner);
    wait_read();
  }

  bool blocked() const noexcept override { return waiting_write_; }

  bool flush() override {
    if (dead_ || waiting_write_) return false;
    if (nothing_to_write()) {
      on_drained();  // e.g. close_after_writes() with nothing queued: the close frame now
      return false;
    }
    std::size_t budget = flush_budget_;
    while (!nothing_to_write()) {
      std::array<iovec, kIovecs> iov;
      std::size_t total = 0;
      const std::size_t n = gather(iov.data(), iov.size(), budget, total);
      msghdr m{};
      m.msg_iov = iov.data();
      m.msg_iovlen = n;
      ssize_t r;
      do {
        r = ::sendmsg(sock_.native_handle(), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (r < 0 && errno == EINTR);
      const Written w = written(r < 0 ? -errno : r, total);
      if (w != Written::all) return w == Written::more;
      // (A flush within written() — its queue drained, the close frame queued — may have met
      // EAGAIN and armed the wait for writability: one wait at a time.)
      if (waiting_write_ || dead_) return false;
      if (total >= budget) return !nothing_to_write();  // the rest next turn
      budget -= total;
    }
    return false;
  }

  int prepare_write(iovec* iov, std::size_t max_iov, std::size_t& iov_count,
                    std::size_t& bytes) override {
    iov_count = 0;
    if (dead_ || waiting_write_ || nothing_to_write()) return -1;
    iov_count = gather(iov, max_iov, flush_budget_, bytes);
    return sock_.native_handle();
  }

  bool complete_write(long result, std::size_t bytes) override {
    const Written w = written(result, bytes);
    return w == Written::more || (w == Written::all && !nothing_to_write());
  }
  void close_after_writes() override {
    attach(nullptr);
    if (closing_) return;
    closing_ = true;
    close_deadline(kCloseTimeout);
    if (!waiting_write_) flush_own();
  }

 private:
  // A frame partly written (in_flight_) that is no longer the source's front: the session dropped
  // what was queued (a close) under the write. Its rest goes out first, from the link's own
  // reference, so the stream stays whole (before, off_ was applied to whatever frame came next:
  // bytes spliced onto the cut frame, or a prefix past the end of a shorter one).
  bool detached_partial() const noexcept {
    return in_flight_ && (src_->empty() || &src_->front() != in_flight_.get());
  }
  bool nothing_to_write() const noexcept { return src_->empty() && !in_flight_; }

  // The iovecs of what is queued, from the front frame's unwritten part: at most max_iov of
  // them and about `budget` bytes (at least one frame).
  std::size_t gather(iovec* iov, std::size_t max_iov, std::size_t budget, std::size_t& total) {
    const FrameQueue& q = *src_;
    std::size_t n = 0;
    total = 0;
    const bool detached = detached_partial();
    if (detached) {
      std::string_view w = in_flight_->wire();
      w.remove_prefix(off_);
      iov[0].iov_base = const_cast<char*>(w.data());
      iov[0].iov_len = w.size();
      n = 1;
      total = w.size();
    }
    for (std::size_t i = 0; i < q.size() && n < max_iov && total < budget; ++i) {
      std::string_view w = q[i].wire();
      if (i == 0 && !detached) w.remove_prefix(off_);
      iov[n].iov_base = const_cast<char*>(w.data());
      iov[n].iov_len = w.size();
      ++n;
      total += w.size();
    }
    return n;
  }

  // Accounts for a write of `total` bytes that returned `result` (bytes, or -errno): pops what
  // went out, remembers a partial frame's offset. all: everything offered went out; blocked: the
  // kernel's buffer is full (a wait for EPOLLOUT is armed); failed: the connection is gone.
  enum class Written { all, blocked, failed, more };
  Written written(long result, std::size_t total) {
    if (result < 0) {
      if (result == -EAGAIN || result == -EWOULDBLOCK) {
        wait_write();
        return Written::blocked;
      }
      if (result == -EINTR) return Written::more;  // not written: try again next turn
      // The peer is gone. finish() closes the socket, which ends a pending read with
      // operation_aborted (not reported), so the loss is told to the session here — after this
      // call returns (the session may let go of this link when told), as the read side would.
      const bool was_closing = closing_;
      finish();
      if (!was_closing)
        net::post(sock_.get_executor(), [self = shared_from_this()] {
          if (auto o = self->owner_.lock()) o->on_ws_closed(self.get(), true);
        });
      return Written::failed;
    }
    FrameQueue& q = *src_;
    std::size_t left = static_cast<std::size_t>(result);
    if (detached_partial()) {
      const std::size_t first = in_flight_->wire().size() - off_;
      if (left < first) {
        off_ += static_cast<std::uint32_t>(left);
        left = 0;
      } else {
        left -= first;
        off_ = 0;
        in_flight_ = FrameRef();
      }
    }
    while (left > 0) {
      const std::size_t first = q.front().wire().size() - off_;
      if (left < first) {
        off_ += static_cast<std::uint32_t>(left);     // < first: within one frame
        if (!in_flight_) in_flight_ = q.front_ref();  // (held until it is whole)
        break;
      }
      left -= first;
      off_ = 0;
      in_flight_ = FrameRef();
      if (pongs_ > 0 && is_pong(q.front())) --pongs_;
      q.pop_front();
    }
    if (static_cast<std::size_t>(result) < total) {  // the kernel's buffer is full
      wait_write();
      return Written::blocked;
    }
    if (q.empty()) on_drained();
    return Written::all;
  }

  // --- reading
  void wait_read() {
    if (dead_ || reading_) return;
    reading_ = true;
    sock_.async_wait(
        Socket::wait_read,
        net::bind_allocator(ExactAllocator<void>(),
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                              self->reading_ = false;
                              if (ec) {
                                if (ec != net::error::operation_aborted) self->lost(false);
                                return;
                              }
                              self->on_readable();
                            }));
  }

  void on_readable() {
    thread_local std::array<char, kScratch> scratch;
    std::size_t budget = read_budget_;
    while (!dead_ && !stop_reading_) {
      // (never more than the budget left: at most read_budget_ bytes per readiness event)
      const ssize_t r = ::recv(sock_.native_handle(), scratch.data(),
                               std::min(scratch.size(), budget), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return lost(false);
      }
      // The peer gone, with a close frame or without (EOF, a reset, any error reading): "transport
      // close", as engine.io, whose ws transport reports the socket's close and not its error
      // (ws keeps a socket error to itself); a protocol error or a failed write is "transport
      // error". (Before 2026-12-04 a drop without a close frame was an error here.)
      if (r == 0) return lost(false);
      std::string_view data(scratch.data(), static_cast<std::size_t>(r));
      if (failed_) {
        // Failed (RFC 6455 7.1.7): nothing that follows is processed, a close frame included;
        // read and dropped until the client's EOF or the close deadline.
      } else if (partial_ && !partial_->rbuf.empty()) {
        std::string& rbuf = partial_->rbuf;
        rbuf.append(data);
        const std::size_t used = parse(rbuf.data(), rbuf.size());
        // (parse() may have ended the partial state: a message completed, the link closed)
        if (partial_) {
          partial_->rbuf.erase(0, used);
          // What is left of a large frame's buffer is kept in one of its own size: one frame of
          // a megabyte, then a frame's first byte, held that megabyte for as long as the client
          // kept the next frame unfinished (found by a review, 2026-12-05).
          // (Swapped: assigned, a short string kept the capacity. Past two reads' worth only:
          // under steady input frames straddle reads, and their buffer of 128 KiB is reused.)
          if (partial_->rbuf.capacity() > 2 * kScratch && partial_->rbuf.size() <= kScratch)
            std::string(partial_->rbuf).swap(partial_->rbuf);
          release_partial();  // no buffer held between messages
        }
      } else {
        const std::size_t used = parse(scratch.data(), data.size());
        if (used < data.size() && !dead_ && !stop_reading_)
          partial().rbuf.assign(data.substr(used));
      }
      if (failed_) partial_.reset();  // (not inside parse(), which may be reading its buffer)
      budget -= std::min(budget, static_cast<std::size_t>(r));
      if (budget == 0) {
        // Other sockets' turn: come back through the reactor.
        if (auto o = owner_.lock()) o->on_ws_read_yield();
        net::post(sock_.get_executor(), [self = shared_from_this()] { self->on_readable(); });
        return;
      }
    }
    if (!dead_ && !stop_reading_) wait_read();
  }

  // Handles every whole frame in [p, p+n); returns the bytes used.
  std::size_t parse(char* p, std::size_t n) {
    std::size_t at = 0;
    while (!dead_ && !stop_reading_) {
      const std::size_t avail = n - at;
      if (avail < 2) break;
      auto* h = reinterpret_cast<unsigned char*>(p + at);
      const bool fin = (h[0] & 0x80) != 0;
      const unsigned op = h[0] & 0x0F;
      const bool masked = (h[1] & 0x80) != 0;
      std::uint64_t len = h[1] & 0x7F;
      std::size_t hl = 2;
      // The opcode and the fragmentation state are checked here, at the header, not once the
      // payload is in (before 2026-12-03 a frame with a reserved opcode, or one out of place in
      // a fragmented message, was refused only after its payload arrived, up to max_message).
      if ((h[0] & 0x70) != 0 || !masked || (!sent_close_ && !frame_allowed(op, fin))) {
        protocol_error(1002);
        break;
      }
      if (len == 126) {
        if (avail < 4) break;
        len = (std::uint64_t{h[2]} << 8) | h[3];
        hl = 4;
      } else if (len == 127) {
        if (avail < 10) break;
        if ((h[2] & 0x80) != 0) {  // RFC 6455 5.2: the 64-bit length's top bit must be 0
          protocol_error(1002);
          break;
        }
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        hl = 10;
      }
      const bool control = (op & 0x08) != 0;
      if (control && (len > 125 || !fin)) {  // (!fin: also while closing, where not checked above)
        protocol_error(1002);
        break;
      }
      const std::size_t assembled = partial_ && partial_->in_message ? partial_->msg.size() : 0;
      if (!control && (len > max_message_ || assembled + len > max_message_)) {
        protocol_error(1009);
        break;
      }
      if (avail < hl + 4 + len) break;  // incomplete: wait for the rest
      const unsigned char* mask = h + hl;
      char* payload = p + at + hl + 4;
      for (std::size_t i = 0; i < len; ++i) payload[i] ^= static_cast<char>(mask[i & 3]);
      at += hl + 4 + static_cast<std::size_t>(len);
      on_frame(fin, op, std::string_view(payload, static_cast<std::size_t>(len)));
    }
    return at;
  }

  // Whether a frame with this opcode may come now (RFC 6455 5.2, 5.4, 5.5): data frames start a
  // message or continue one, control frames are whole; the other opcodes are reserved.
  bool frame_allowed(unsigned op, bool fin) const noexcept {
    const bool in_message = partial_ && partial_->in_message;
    switch (op) {
      case 0x0:
        return in_message;
      case 0x1:
      case 0x2:
        return !in_message;
      case 0x8:
      case 0x9:
      case 0xA:
        return fin;
      default:
        return false;
    }
  }

  // One whole frame, allowed here (parse() refused the others at their header).
  void on_frame(bool fin, unsigned op, std::string_view payload) {
    if (sent_close_) {  // closing: only the client's close frame still matters
      if (op == 0x8) {
        got_close_ = true;
        if (shut_) finish();
      }
      return;
    }
    switch (op) {
      case 0x1:
      case 0x2: {
        if (fin) return message(op == 0x2, payload);
        Partial& part = partial();
        part.in_message = true;
        part.binary = op == 0x2;
        part.msg.assign(payload);
        return;
      }
      case 0x0: {
        partial_->msg.append(payload);
        if (fin) {
          partial_->in_message = false;
          std::string m = std::move(partial_->msg);
          partial_->msg = std::string();
          const bool binary = partial_->binary;
          release_partial();
          message(binary, m);
        }
        return;
      }
      case 0x8: {  // close: answered with the client's code (1000 if none), then closed
        got_close_ = true;
        std::uint16_t code = 1000;
        if (payload.size() >= 2)
          code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]));
        // A body is a two-byte code (RFC 6455 5.5.1) that may travel in a close frame (7.4.1:
        // 1000-1003, 1007-1014 defined, 3000-4999 for libraries and apps; the rest are reserved
        // or must not be sent), then a UTF-8 reason (5.5.1): else the connection fails, 1002 or
        // 1007, as the `ws` package fails it. (Before 2026-12-03 a one-byte body or a reserved
        // code was answered 1000 or echoed, and the reason was not checked; a helper's review.)
        const bool code_ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                             (code >= 3000 && code <= 4999);
        if (payload.size() == 1 || !code_ok) return protocol_error(1002);
        if (payload.size() > 2 && !valid_utf8(payload.substr(2))) return protocol_error(1007);
        stop_reading_ = true;
        close_with(code);
        if (auto o = owner_.lock()) o->on_ws_closed(this, false);
        return;
      }
      case 0x9: {  // ping: a pong with the same payload, in order with the data frames
        if (closing_) return;
        // RFC 6455 5.5.3 lets several unanswered pings get one answer (it names the latest; the
        // earliest kMaxPongs are answered here, those after them while they wait are not), so a
        // client flooding pings cannot grow the queue. Counted apart from the session's own
        // frames (before 2026-12-03 the bound was 1024 queued frames of any kind: a session with
        // such a backlog answered no ping, and a client's keep-alive gave up on a connection that
        // was only slow; a helper's review).
        if (pongs_ >= kMaxPongs) return;
        ++pongs_;
        char hdr[2] = {static_cast<char>(0x8A), static_cast<char>(payload.size())};
        std::string pong(hdr, 2);
        pong.append(payload);
        push(Frame::make(Frame::Kind::raw, pong));
        flush_own();
        return;
      }
      default:  // pong: nothing to do
        return;
    }
  }

  void message(bool binary, std::string_view payload) {
    auto o = owner_.lock();
    if (!o) return;
    if (binary) return o->on_ws_packet(this, Packet::bytes(std::string(payload)));
    if (!valid_utf8(payload)) {
      protocol_error(1007);
      return;
    }
    Packet p;
    if (decode_text(payload, p) != DecodeError::none) {
      stop_reading_ = true;  // the session closes ("parse error") and closes this link
      o->on_ws_garbage(this);
      return;
    }
    o->on_ws_packet(this, p);
  }

  // Fails the connection (RFC 6455 7.1.7): a close frame with `code`, and nothing the client
  // sends after it is processed.
  void protocol_error(std::uint16_t code) {
    failed_ = true;
    stop_reading_ = true;
    close_with(code);
    if (auto o = owner_.lock()) o->on_ws_closed(this, true);
  }

  // A flush of the link's own (the socket writable again, a close, a pong): what is left past
  // the flush budget goes on in a handler posted behind the others' (flush() leaves that to its
  // caller, and only the server's end-of-turn flush acted on it: before 2026-12-03 a backlog over
  // flush_budget written once the socket was writable again waited for the session's next output,
  // a ping up to pingInterval later, and a closing link's for its deadline, then was dropped with
  // its close frame; found by a helper's review).
  void flush_own() {
    if (!flush()) return;
    net::post(sock_.get_executor(), [self = shared_from_this()] {
      if (!self->waiting_write_) self->flush_own();
    });
  }

  // Queues a close frame after what is queued and closes once it is written.
  void close_with(std::uint16_t code) {
    attach(nullptr);
    if (!closing_) close_deadline(kCloseTimeout);
    closing_ = true;
    if (!sent_close_) {
      push(close_frame(code));
      sent_close_ = sealed_ = true;
    }
    if (!waiting_write_) flush_own();
  }

  // Everything queued is written.
  void on_drained() {
    if (!closing_) return;
    if (!sent_close_) {
      push(close_frame(1000));
      sent_close_ = sealed_ = true;
      flush_own();
      return;
    }
    if (shut_) return;
    shut_ = true;
    // The close frame is out: half-close, then wait (bounded) for the client's close or EOF so
    // that unread bytes do not turn our close into a reset that could destroy what we sent.
    boost::system::error_code ec;
    sock_.shutdown(Socket::shutdown_send, ec);
    if (ec || got_close_) return finish();
    stop_reading_ = false;
    close_deadline(std::chrono::seconds(2));
    wait_read();
  }

  // A closing connection is given up (its descriptor closed) at this deadline, whatever it still
  // had to write: a client that stopped reading cannot hold a descriptor and its kernel buffers
  // by never taking the close frame.
  void close_deadline(std::chrono::milliseconds after) {
    if (!close_timer_) close_timer_ = std::make_unique<net::steady_timer>(sock_.get_executor());
    close_timer_->expires_after(after);  // a wait for an earlier deadline is cancelled
    close_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->finish();
    });
  }

  void wait_write() {
    waiting_write_ = true;
    sock_.async_wait(Socket::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->waiting_write_ = false;
                       if (ec) return;
                       self->flush_own();
                     });
  }

  // The connection is gone (EOF, reset): tell the owner once, then close.
  void lost(bool error) {
    const bool was_closing = closing_;
    finish();
    if (was_closing) return;
    if (auto o = owner_.lock()) o->on_ws_closed(this, error);
  }

  void finish() {
    if (dead_) return;
    dead_ = true;
    attach(nullptr);
    if (own_) own_->clear();
    in_flight_ = FrameRef();
    if (close_timer_) close_timer_->cancel();
    boost::system::error_code ec;
    sock_.close(ec);  // cancels the pending waits (their handlers see operation_aborted)
  }

  // What a batched flush reads (prepare_write, complete_write), first: with the Link's queue
  // pointer and the socket's descriptor they are the object's first 80 bytes, at most two cache
  // lines whatever the allocation's alignment (kHotBytes: ServerCore prefetches them).
  std::uint32_t flush_budget_;
  std::uint32_t off_ = 0;  // bytes of in_flight_ already written (a frame is under 4 GiB)
  bool waiting_write_ = false, dead_ = false;
  Socket sock_;
  std::weak_ptr<LinkEvents> owner_;
  std::uint32_t max_message_, read_budget_;
  // An incomplete frame's bytes and a fragmented message being assembled: allocated while there
  // is one, so that an idle connection holds neither (64 bytes of empty strings).
  struct Partial {
    std::string rbuf;  // an incomplete frame
    std::string msg;   // a fragmented message
    bool in_message = false, binary = false;
  };
  std::unique_ptr<Partial> partial_;
  Partial& partial() {
    if (!partial_) partial_ = std::make_unique<Partial>();
    return *partial_;
  }
  void release_partial() {
    if (partial_ && partial_->rbuf.empty() && !partial_->in_message) partial_.reset();
  }
  std::unique_ptr<net::steady_timer> close_timer_;
  static constexpr std::uint32_t kMaxPongs = 16;
  std::uint32_t pongs_ = 0;  // pongs queued, not yet written whole
  static bool is_pong(const Frame& f) noexcept {
    const auto w = f.wire();
    return !w.empty() && static_cast<unsigned char>(w[0]) == 0x8A;
  }
  // The frame off_ counts into while it is partly written: the link's own reference (see
  // detached_partial()); empty otherwise.
  FrameRef in_flight_;
  bool reading_ = false;
  bool closing_ = false, sent_close_ = false, got_close_ = false;
  bool stop_reading_ = false, shut_ = false, failed_ = false;
};

}  // namespace

std::shared_ptr<Link> make_raw_websocket(tcp::socket socket, std::string response_101,
                                         const LinkLimits& limits) {
  // The descriptor moves to a socket with the io_context's own executor type (see Socket).
  auto& io =
      static_cast<net::io_context&>(net::query(socket.get_executor(), net::execution::context));
  boost::system::error_code ec;
  const tcp protocol = socket.local_endpoint(ec).protocol();
  if (ec) return nullptr;
  const int fd = socket.release(ec);
  if (ec) return nullptr;
  Socket s(io);
  s.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return nullptr;
  }
  return std::make_shared<RawWebSocket>(std::move(s), std::move(response_101), limits);
}

}  // namespace shmio::engineio::detail
