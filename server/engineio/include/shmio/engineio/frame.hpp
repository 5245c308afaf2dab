// Outgoing frames and the per-session output queue of the delivery path (docs/server.md,
// "Delivery engine").
//
// A Frame is one outgoing message in its wire form, built once and shared by every session it is
// sent to: the Engine.IO packet ("4..." text, or the raw bytes of a binary message) preceded in
// the same allocation by its WebSocket frame header. Server frames are unmasked (RFC 6455 5.1),
// so every WebSocket receiver gets exactly the same bytes: the header is built once per frame, and
// a socket's write is a pointer and a length into it. A polling receiver takes the packet without
// the header.
//
// FrameRef counts references without atomics: a frame belongs to one io_context thread (each
// shmio worker is one thread), and a broadcast to N local sockets costs N plain increments, not N
// locked ones. Never share a FrameRef between threads.
//
// FrameQueue is a session's bounded queue of frame references: a ring of pointers that grows by
// doubling while it fills and keeps its capacity (so steady state allocates nothing), and releases
// it when it drains from a large size. It tracks the bytes its frames take in a polling payload,
// which the session's byte bound uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace shmio::engineio {

class Frame;

class FrameRef {
 public:
  FrameRef() noexcept = default;
  FrameRef(const FrameRef& o) noexcept;
  FrameRef(FrameRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FrameRef& operator=(FrameRef o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~FrameRef();

  explicit operator bool() const noexcept { return f_ != nullptr; }
  const Frame* get() const noexcept { return f_; }
  const Frame& operator*() const noexcept { return *f_; }
  const Frame* operator->() const noexcept { return f_; }
  friend bool operator==(const FrameRef& a, const FrameRef& b) noexcept { return a.f_ == b.f_; }
  // The payload, writable while this is the frame's only reference (before it is shared: a
  // cluster worker writes its own recovery offset into its copy); nullptr once shared.
  char* unshared_payload() noexcept;

  // For FrameQueue: take the pointer out / adopt one (no count change).
  Frame* release() noexcept { return std::exchange(f_, nullptr); }
  static FrameRef adopt(Frame* f) noexcept {
    FrameRef r;
    r.f_ = f;
    return r;
  }

 private:
  friend class Frame;
  Frame* f_ = nullptr;
};

class Frame {
 public:
  enum class Kind : std::uint8_t {
    text,    // an Engine.IO text packet ("4...", "2", ...): a WebSocket text frame
    binary,  // a binary Engine.IO message: a WebSocket binary frame ("b<base64>" when polling)
    raw,     // bytes written to the connection as they are (a WebSocket control frame, the
             // handshake's response): never part of a polling payload
  };

  // Copies `payload` into a new frame with its WebSocket header in front.
  static FrameRef make(Kind kind, std::string_view payload, bool compress = true);
  // A frame of `size` payload bytes, filled in place by fill(char* dest) before it is shared.
  template <class Fill>
  static FrameRef build(Kind kind, std::size_t size, Fill&& fill, bool compress = true) {
    FrameRef r = allocate(kind, size, compress);
    fill(r.f_->payload_data());
    if (kind == Kind::text) return well_formed(std::move(r));
    return r;
  }

  Kind kind() const noexcept { return kind_; }
  bool binary() const noexcept { return kind_ == Kind::binary; }
  // WebSocket with permessage-deflate: whether this message may be compressed (socket.io's
  // compress flag). Ignored otherwise.
  bool compress() const noexcept { return compress_; }
  // The Engine.IO packet (or the raw bytes of a raw frame).
  std::string_view payload() const noexcept { return {payload_data(), size_}; }
  // What goes on a WebSocket connection: the frame header then the payload, contiguous.
  std::string_view wire() const noexcept {
    return kind_ == Kind::raw ? payload()
                              : std::string_view(payload_data() - header_len_, header_len_ + size_);
  }
  // Bytes this frame takes in a polling payload (binary as "b" + base64), without separator.
  std::size_t polling_size() const noexcept {
    return kind_ == Kind::binary ? 1 + (size_ + 2) / 3 * 4 : size_;
  }
  std::uint32_t use_count() const noexcept { return refs_; }

  // Allocations made for frames since the process started (for tests and benchmarks).
  static std::uint64_t allocations() noexcept;

 private:
  friend class FrameRef;
  static constexpr std::size_t kMaxHeader = 10;  // 2 + 8 bytes of extended length
  Frame(Kind k, std::uint32_t size, bool compress) noexcept
      : size_(size), kind_(k), compress_(compress) {}
  static FrameRef allocate(Kind kind, std::size_t size, bool compress);
  // A text frame as well-formed UTF-8: `r` itself when it is, else a copy with each ill-formed
  // sequence replaced by U+FFFD (mend_utf8). RFC 6455 8.1: a client fails the WebSocket on a text
  // message that is not UTF-8 — every client of a broadcast of an app's string holding such bytes
  // (a Boost.JSON string keeps them) was disconnected, and one recovering had it replayed, before
  // 2026-12-04; engine.io's strings cannot hold them (a JS string; ws writes lone surrogates as
  // U+FFFD). ASCII is passed eight bytes at a time (mend_utf8).
  static FrameRef well_formed(FrameRef r);
  static void destroy(Frame* f) noexcept;
  char* payload_data() noexcept { return reinterpret_cast<char*>(this + 1) + kMaxHeader; }
  const char* payload_data() const noexcept {
    return reinterpret_cast<const char*>(this + 1) + kMaxHeader;
  }

  std::uint32_t refs_ = 1;
  std::uint32_t size_;
  Kind kind_;
  bool compress_;
  std::uint8_t header_len_ = 0;
};

inline FrameRef::FrameRef(const FrameRef& o) noexcept : f_(o.f_) {
  if (f_) ++f_->refs_;
}
inline char* FrameRef::unshared_payload() noexcept {
  return f_ != nullptr && f_->refs_ == 1 ? f_->payload_data() : nullptr;
}
inline FrameRef::~FrameRef() {
  if (f_ && --f_->refs_ == 0) Frame::destroy(f_);
}

// A size kept in 32 bits by an object every connection holds (a queue's counts, a link's and a
// decoder's limits): clamped at 2^32 - 1.
constexpr std::uint32_t clamp_u32(std::size_t v) noexcept {
  return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(v);
}

class FrameQueue {
 public:
  // Frames a queue holds without an allocation of its own: the common cases (one message per
  // socket per turn, an idle connection's last ping, a handshake's response and open packet) keep
  // their slots inside the queue, so writing or flushing them touches no other memory.
  static constexpr std::uint32_t kInline = 2;

  FrameQueue() noexcept = default;
  FrameQueue(FrameQueue&& o) noexcept { swap(o); }
  FrameQueue& operator=(FrameQueue&& o) noexcept {
    FrameQueue tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  FrameQueue(const FrameQueue&) = delete;
  FrameQueue& operator=(const FrameQueue&) = delete;
  ~FrameQueue() { reset(); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // Sum of the frames' polling sizes (the session's byte bound).
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t capacity() const noexcept { return cap_; }
  // Whether the slots are an allocation of their own (more than kInline frames were queued).
  bool allocated() const noexcept { return cap_ > kInline; }
  const Frame& operator[](std::size_t i) const noexcept {
    return *slots()[(head_ + i) & (cap_ - 1)];
  }
  const Frame& front() const noexcept { return *slots()[head_]; }
  // A reference of its own to the front frame (its count raised): it outlives the queue's.
  FrameRef front_ref() const noexcept;

  void push_back(FrameRef f);
  void push_front(FrameRef f);
  FrameRef pop_front() noexcept;
  // Drops the first n frames.
  void pop_front(std::size_t n) noexcept;
  void clear() noexcept;
  void swap(FrameQueue& o) noexcept;

 private:
  Frame** slots() noexcept { return allocated() ? s_.heap : s_.local; }
  Frame* const* slots() const noexcept { return allocated() ? s_.heap : s_.local; }
  void grow();
  void reset() noexcept;
  union Slots {
    Frame* local[kInline];
    Frame** heap;
  } s_{};
  // (32-bit counts: every connection holds a queue; 2^31 frames is far past any bound on one)
  std::uint32_t cap_ = kInline, head_ = 0, size_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace shmio::engineio
