// Engine.IO v4 packets and their encodings, with no I/O (docs/server.md).
//
//   text packet      <type digit><data>                 e.g. "4hello", "2", "3probe"
//   binary message   raw bytes (WebSocket binary frame); "b<base64>" inside a polling payload
//   polling payload  packets joined by the record separator 0x1e
//
// Decoding never throws and never trusts its input: every malformed input the spec names maps to a
// DecodeError. Thread-safety: all functions are pure.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/engineio/frame.hpp"

namespace shmio::engineio {

enum class PacketType : std::uint8_t {
  open = 0,
  close = 1,
  ping = 2,
  pong = 3,
  message = 4,
  upgrade = 5,
  noop = 6,
};
const char* to_string(PacketType t) noexcept;

struct Packet {
  PacketType type = PacketType::message;
  bool binary = false;  // data holds raw bytes (only for message packets)
  std::string data;
  // A message already in its wire form, shared by every session it is sent to (a broadcast):
  // the text packet including its type digit, or the raw bytes of a binary message, with its
  // WebSocket header (frame.hpp). When set, `data` is empty and queues hold only a reference.
  FrameRef frame;
  // WebSocket with permessage-deflate negotiated: whether this message may be compressed
  // (socket.io's compress flag). Ignored otherwise.
  bool compress = true;

  static Packet text(PacketType t, std::string d = {}) { return {t, false, std::move(d), {}}; }
  static Packet bytes(std::string d) { return {PacketType::message, true, std::move(d), {}}; }
  // A shared frame (Frame::Kind::text or binary).
  static Packet shared(FrameRef f) {
    const bool bin = f->binary();
    const bool compress = f->compress();
    return {PacketType::message, bin, {}, std::move(f), compress};
  }
  // The frame this packet is sent as: the shared one, or a new one built from `data`.
  FrameRef to_frame() const;
  // Bytes this packet takes in a polling payload (without the separator).
  std::size_t payload_size() const noexcept;
  // Equal wire forms (a shared frame equals the same packet built from data).
  friend bool operator==(const Packet& a, const Packet& b);
};

enum class DecodeError {
  none,
  empty,         // a packet needs at least its type
  unknown_type,  // the type is not a digit 0..6
  bad_base64,    // a "b" packet whose base64 does not decode
  too_many,      // a polling payload with more packets than allowed
};
const char* to_string(DecodeError e) noexcept;

// One packet from a WebSocket text frame, or one piece of a polling payload ("b..." allowed).
DecodeError decode_text(std::string_view in, Packet& out);
// A WebSocket binary frame: always a binary message.
Packet decode_binary(std::span<const std::byte> in);

// WebSocket framing: the text of a text frame (non-binary packets); binary messages go as the raw
// bytes of Packet::data in a binary frame.
std::string encode_text(const Packet& p);
// Appends p to a polling payload (with the separator if `out` is not empty).
void append_to_payload(std::string& out, const Packet& p);
// Splits a polling payload. At most max_packets packets (a bound on work per request).
DecodeError decode_payload(std::string_view body, std::vector<Packet>& out,
                           std::size_t max_packets = 1024);

inline constexpr char kRecordSeparator = '\x1e';

// `text` with each ill-formed UTF-8 sequence (each maximal subpart of one, as the WHATWG decoder
// counts them) replaced by U+FFFD; nullopt if it is well-formed (the common case: no copy). A
// polling body is read so, as the reference's `req.setEncoding("utf8")` reads it; a WebSocket
// text frame of ill-formed UTF-8 is refused instead (RFC 6455: close code 1007).
std::optional<std::string> mend_utf8(std::string_view text);

// Standard base64 (RFC 4648, with padding), as Engine.IO uses for binary over polling.
std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);
// A polling "b" packet's base64 as the reference server reads it (Node's Buffer.from(s,
// "base64")): ASCII whitespace skipped anywhere (socket.io-client-java wraps its base64 at 76
// characters and ends it with a newline), the URL-safe alphabet's '-' and '_' taken too, padding
// optional, nothing but padding and whitespace after the first '='. Unlike Node, a character of
// neither alphabet, or a lone last character (six bits), is refused, not skipped: bad input from a
// broken client gets a reason ("parse error") rather than bytes it did not mean.
bool base64_decode_loose(std::string_view text, std::string& out);

}  // namespace shmio::engineio
