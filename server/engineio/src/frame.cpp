#include "shmio/engineio/frame.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "shmio/engineio/packet.hpp"

namespace shmio::engineio {

namespace {
// An atomic read and written by plain (relaxed) loads and stores, not a locked add: servers on
// several threads of one process are no data race (a plain counter was, before 2026-12-04), and
// the hot path pays no locked instruction; a count may then miss some (it is a statistic).
std::atomic<std::uint64_t> g_frame_allocations{0};
}  // namespace

std::uint64_t Frame::allocations() noexcept {
  return g_frame_allocations.load(std::memory_order_relaxed);
}

FrameRef Frame::allocate(Kind kind, std::size_t size, bool compress) {
  if (size > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("shmio: frame larger than 4 GiB");
  void* mem = ::operator new(sizeof(Frame) + kMaxHeader + size);
  g_frame_allocations.store(g_frame_allocations.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  auto* f = new (mem) Frame(kind, static_cast<std::uint32_t>(size), compress);
  if (kind != Kind::raw) {
    // RFC 6455 5.2: FIN, opcode 1 (text) or 2 (binary), no mask, the shortest length form.
    unsigned char h[kMaxHeader];
    std::size_t n = 0;
    h[n++] = kind == Kind::binary ? 0x82 : 0x81;
    if (size < 126) {
      h[n++] = static_cast<unsigned char>(size);
    } else if (size < 65536) {
      h[n++] = 126;
      h[n++] = static_cast<unsigned char>(size >> 8);
      h[n++] = static_cast<unsigned char>(size & 0xFF);
    } else {
      h[n++] = 127;
      for (int b = 7; b >= 0; --b) h[n++] = static_cast<unsigned char>((size >> (8 * b)) & 0xFF);
    }
    f->header_len_ = static_cast<std::uint8_t>(n);
    std::memcpy(f->payload_data() - n, h, n);
  }
  return FrameRef::adopt(f);
}

FrameRef Frame::make(Kind kind, std::string_view payload, bool compress) {
  return build(
      kind, payload.size(), [&](char* d) { std::memcpy(d, payload.data(), payload.size()); },
      compress);
}

FrameRef Frame::well_formed(FrameRef r) {
  // (mend_utf8 passes ASCII eight bytes at a time; nullopt: well-formed as it is.)
  const std::optional<std::string> mended = mend_utf8(r.f_->payload());
  if (!mended) return r;
  FrameRef out = allocate(Kind::text, mended->size(), r.f_->compress());
  std::memcpy(out.f_->payload_data(), mended->data(), mended->size());
  return out;
}

void Frame::destroy(Frame* f) noexcept {
  f->~Frame();
  ::operator delete(static_cast<void*>(f));
}

// ---------------------------------------------------------------------------------------------
void FrameQueue::grow() {
  // Past the inline slots: 8 first, then doubling; a busy queue reaches its working size after a
  // few doublings, once, and keeps it (steady state allocates nothing).
  if (cap_ >= (1u << 31)) throw std::length_error("shmio: a frame queue of 2^31 frames");
  const std::uint32_t cap = cap_ <= kInline ? 8 : cap_ * 2;
  auto** fresh = static_cast<Frame**>(::operator new(cap * sizeof(Frame*)));
  Frame** old = slots();
  for (std::uint32_t i = 0; i < size_; ++i) fresh[i] = old[(head_ + i) & (cap_ - 1)];
  if (allocated()) ::operator delete(static_cast<void*>(old));
  s_.heap = fresh;
  cap_ = cap;
  head_ = 0;
}

void FrameQueue::push_back(FrameRef f) {
  if (size_ == cap_) grow();
  bytes_ += f->polling_size();
  slots()[(head_ + size_) & (cap_ - 1)] = f.release();
  ++size_;
}

void FrameQueue::push_front(FrameRef f) {
  if (size_ == cap_) grow();
  bytes_ += f->polling_size();
  head_ = (head_ + cap_ - 1) & (cap_ - 1);
  slots()[head_] = f.release();
  ++size_;
}

FrameRef FrameQueue::pop_front() noexcept {
  FrameRef f = FrameRef::adopt(slots()[head_]);
  bytes_ -= std::min(bytes_, f->polling_size());
  head_ = (head_ + 1) & (cap_ - 1);
  --size_;
  // A queue that drained after a burst gives its slots back; a small one keeps them (steady state
  // allocates nothing).
  if (size_ == 0 && cap_ > 256) reset();
  return f;
}

void FrameQueue::pop_front(std::size_t n) noexcept {
  for (std::size_t i = 0; i < n && size_ > 0; ++i) pop_front();
}

FrameRef FrameQueue::front_ref() const noexcept {
  FrameRef queued = FrameRef::adopt(slots()[head_]);
  FrameRef mine(queued);   // (+1)
  (void)queued.release();  // the queue's own reference stays the queue's
  return mine;
}

void FrameQueue::clear() noexcept {
  while (size_ > 0) pop_front();
}

void FrameQueue::reset() noexcept {
  while (size_ > 0) {
    FrameRef::adopt(slots()[head_]);  // released by the temporary's destructor
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
  }
  if (allocated()) ::operator delete(static_cast<void*>(s_.heap));
  s_ = Slots{};
  cap_ = kInline;
  head_ = size_ = 0;
  bytes_ = 0;
}

void FrameQueue::swap(FrameQueue& o) noexcept {
  std::swap(s_, o.s_);  // (inline slots hold frame pointers, never pointers into the queue)
  std::swap(cap_, o.cap_);
  std::swap(head_, o.head_);
  std::swap(size_, o.size_);
  std::swap(bytes_, o.bytes_);
}

}  // namespace shmio::engineio
