// Helpers shared by the cluster's sources: worker ids in session ids, record bytes, JSON fields,
// a broadcast record taken apart (private to cluster/src).
#pragma once

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "shmio/cluster/wire.hpp"
#include "shmio/engineio/session.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/cut_log.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_notifier.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/shm/session_store.hpp"

#include "shmio/cluster/node.hpp"

namespace shmio::cluster {

// The names every source of the cluster uses (the other private headers include this one).
namespace json = boost::json;
namespace net = boost::asio;
namespace sio = socketio;
using shm::RecordView;

using engineio::kIdAlphabet;

inline int alphabet_index(char c) {
  const char* p = std::strchr(kIdAlphabet, c);
  return p == nullptr || c == '\0' ? -1 : static_cast<int>(p - kIdAlphabet);
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline json::array rooms_json(const std::set<sio::Room>& rooms) {
  json::array a;
  for (const auto& r : rooms) a.emplace_back(r);
  return a;
}

inline std::set<sio::Room> rooms_from(const json::value* v) {
  std::set<sio::Room> out;
  if (v != nullptr && v->is_array())
    for (const auto& r : v->get_array())
      if (r.is_string()) out.insert(std::string(r.get_string()));
  return out;
}

inline std::uint64_t u64_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr ? whole_number(*v).value_or(0) : 0;
}

inline bool flag_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_bool() && v->get_bool();
}

inline std::string str_of(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A BROADCAST taken out of the ring: decoded from the record in place and its frame and
// attachments copied once each, straight into the buffers every receiving socket will share.
// The record may be overwritten while this runs (a seqlock-style read, like RingReader::peek):
// the caller keeps the result only if consume() then says the record was intact.
struct TakenBroadcast {
  std::string nsp;
  sio::BroadcastOptions opts;
  std::uint8_t flags = 0;
  std::uint64_t ack_id = 0;
  sio::EncodedPacket packet;
};

// One copy out of the ring, straight into the frame every receiving socket will reference.
inline engineio::FrameRef copy_out(engineio::Frame::Kind kind, std::string_view bytes,
                                   bool compress) {
  return engineio::Frame::build(
      kind, bytes.size(),
      [&](char* d) {
        shm::copy_tentative(reinterpret_cast<std::byte*>(d),
                            reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
      },
      compress);
}

// An event broadcast written without an offset placeholder (an Emitter's: it cannot know whether
// the cluster recovers), no ack, not volatile — one that a worker with recovery must give an
// offset, as socket.io's adapter gives one to every such broadcast it delivers (without it, a
// replay sent it again to a client that had it, or its last argument was taken for an offset).
inline bool wants_offset(const BroadcastView& b) {
  const std::string_view f = b.frame;
  return (b.flags & (kFlagOffset | kFlagAck | kFlagVolatile)) == 0 && f.size() >= 4 &&
         (f.substr(0, 2) == "42" || f.substr(0, 2) == "45") && f.back() == ']';
}

// `offset_digits` > 0 (a worker with recovery): a broadcast that wants_offset() gets a placeholder
// of that many zeros as its last argument and is flagged kFlagOffset from here on, as a
// publisher's with recovery is; `added` says so (its offset is then the reader's to write: on
// the shared ring, where the publisher writes it into the record, patch_offset with offset_of
// its position; with a ring per worker set_offset, as for any).
inline std::optional<TakenBroadcast> take_broadcast(std::span<const std::byte> record,
                                                    std::size_t offset_digits = 0,
                                                    bool* added = nullptr) {
  auto b = read_broadcast(record);
  if (!b) return std::nullopt;
  const bool add = offset_digits > 0 && wants_offset(*b);
  if (added != nullptr) *added = add;
  TakenBroadcast t;
  t.nsp = std::string(b->nsp);
  for (auto r : b->rooms) t.opts.rooms.emplace(r);
  for (auto r : b->except) t.opts.except.emplace(r);
  t.flags = add ? static_cast<std::uint8_t>(b->flags | kFlagOffset) : b->flags;
  t.opts.flags.volatile_ = (b->flags & kFlagVolatile) != 0;
  t.opts.flags.compress = (b->flags & kFlagCompress) != 0;
  t.opts.flags.offset = (t.flags & kFlagOffset) != 0;
  t.ack_id = b->ack_id;
  t.opts.flags.timeout_ms = b->timeout_ms;  // (with acks: how long each socket's entry is kept)
  const bool compress = t.opts.flags.compress;
  if (add) {
    const std::string_view f = b->frame;
    t.packet.frame = engineio::Frame::build(
        engineio::Frame::Kind::text, f.size() + 3 + offset_digits,
        [&](char* d) {
          shm::copy_tentative(reinterpret_cast<std::byte*>(d),
                              reinterpret_cast<const std::byte*>(f.data()), f.size() - 1);
          d += f.size() - 1;  // (over the array's closing bracket)
          *d++ = ',';
          *d++ = '"';
          std::memset(d, '0', offset_digits);
          d += offset_digits;
          *d++ = '"';
          *d = ']';
        },
        compress);
  } else {
    t.packet.frame = copy_out(engineio::Frame::Kind::text, b->frame, compress);
  }
  for (auto a : b->attachments)
    t.packet.attachments.push_back(copy_out(engineio::Frame::Kind::binary, a, compress));
  return t;
}

// With a ring per worker and recovery: writes this worker's offset over the placeholder of a
// broadcast flagged kFlagOffset, in its frame not yet shared (docs/ring-per-worker.md).
// False if it is flagged but has no placeholder to write over (a malformed record: delivered
// with what it has, an offset no recovery accepts).
[[nodiscard]] inline bool set_offset(TakenBroadcast& b,
                                     const std::array<char, kWorkerOffsetDigits>& offset) {
  if ((b.flags & kFlagOffset) == 0) return true;
  char* d = b.packet.frame.unshared_payload();
  return d != nullptr && patch_offset(d, b.packet.frame->payload().size(),
                                      std::string_view(offset.data(), offset.size()));
}

// On the shared ring: the offset of a broadcast whose placeholder take_broadcast added, its own
// ring position, as a publisher with recovery writes into its record.
[[nodiscard]] inline bool set_position_offset(TakenBroadcast& b, std::uint64_t position) {
  char* d = b.packet.frame.unshared_payload();
  return d != nullptr && patch_offset(d, b.packet.frame->payload().size(), offset_of(position));
}

}  // namespace shmio::cluster
