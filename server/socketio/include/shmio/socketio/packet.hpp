// Socket.IO v5 packets: the codec, with no I/O (docs/server.md).
//
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//   e.g.  0                      CONNECT to "/"
//         0/admin,{"token":"x"}  CONNECT to "/admin" with auth
//         2["chat","hi"]         EVENT
//         212["foo"]             EVENT with ack id 12
//         31["ok"]               ACK 1
//         51-["up",{"_placeholder":true,"num":0}]  then one binary frame
//
// Binary values travel as placeholders {"_placeholder":true,"num":N} in the JSON and as separate
// binary Engine.IO messages, in order. The decoder validates every rule the reference parser
// applies (payload shapes per type, reserved event names, attachment counts, placeholder indices)
// and reports a DecodeError instead of throwing; the server closes the connection with reason
// "parse error" on any of them.
// Thread-safety: Decoder is single-threaded state; encode() is pure.
#pragma once

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/engineio/frame.hpp"  // clamp_u32

namespace shmio::socketio {

enum class PacketType : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

using Binary = std::shared_ptr<const std::string>;

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;         // ack id
  std::optional<boost::json::value> data;  // absent ("undefined") or a JSON value
  std::vector<Binary> attachments;         // binary values referenced by placeholders
};

enum class DecodeError {
  none,
  empty,
  unknown_type,
  illegal_attachments,  // bad or missing "<n>-" prefix, or too many attachments
  bad_ack_id,           // more digits than an ack id can hold
  invalid_json,
  invalid_payload,        // a payload of the wrong shape for its type, or a reserved event name
  bad_placeholder,        // a placeholder whose num is not a valid attachment index
  unexpected_binary,      // a binary frame while no binary packet awaits attachments
  unexpected_text,        // a text frame while a binary packet still awaits attachments
  attachments_too_large,  // a packet's attachments together over max_attachment_bytes
};
const char* to_string(DecodeError e) noexcept;

// Event names the protocol reserves; an EVENT may not use them.
bool is_reserved_event(std::string_view name) noexcept;
// Names a server-side event may not take (socket.io's namespace RESERVED_EVENTS: connect,
// connection, new_namespace; a Node peer would run its connection handlers for them).
bool is_reserved_server_side_event(std::string_view name) noexcept;
// Throws std::invalid_argument for a reserved event name (what socket.io's emit throws).
void check_event_name(const std::string& name);
// The same for a handler's event (on, once, on_event): no client sends a reserved one, so such a
// handler would never run; the message names what to use instead (on_disconnect, ...).
void check_listened_event(const std::string& name);

struct DecoderLimits {
  // Attachments one packet may announce (at least one): bounds the memory a client can make us
  // hold before its packet is complete. 10, as socket.io-parser's decoder (maxAttachments, which
  // socket.io does not set): a packet with more is refused there, and so here, also because an
  // app that forwards it would send every socket.io-client it reaches a packet that client
  // cannot decode ("too many attachments": it reconnects, and with recovery gets the packet
  // again, in a loop). 64 before 2026-12-07.
  std::size_t max_attachments = 10;
  // The bytes of one packet's attachments together. Each is one Engine.IO message, bounded by
  // maxHttpBufferSize alone; 64 of them were 64 times that (64 MB by default) held per connection
  // before its packet completes. ServerOptions::max_attachment_bytes sets it for a server's
  // clients (by default 16 MiB, or maxHttpBufferSize where that is more).
  std::size_t max_attachment_bytes = std::numeric_limits<std::size_t>::max();
  // JSON nesting depth (Boost.JSON's default is 32).
  std::size_t max_depth = 32;
};

class Decoder {
 public:
  // (Every connection holds one: the limits are kept in 32 bits, clamped, so that it is 32 bytes.)
  explicit Decoder(DecoderLimits limits = {})
      : max_attachments_(engineio::clamp_u32(limits.max_attachments)),
        max_depth_(engineio::clamp_u32(limits.max_depth)),
        max_attachment_bytes_(engineio::clamp_u32(limits.max_attachment_bytes)) {}

  enum class Status { packet, need_more, error };
  // A text frame. On `packet`, `out` is complete. On `need_more`, feed the binary frames.
  Status feed_text(std::string_view frame, Packet& out);
  // A binary frame (an attachment).
  Status feed_binary(std::string frame, Packet& out);

  DecodeError error() const noexcept { return error_; }
  bool awaiting_binary() const noexcept { return pending_ != nullptr; }

 private:
  Status fail(DecodeError e) {
    error_ = e;
    pending_.reset();
    return Status::error;
  }
  Status finish(Packet& out);

  std::uint32_t max_attachments_, max_depth_;
  std::uint32_t max_attachment_bytes_;
  std::unique_ptr<Packet> pending_;  // a binary packet waiting for its attachments
  std::uint32_t pending_bytes_ = 0;  // its attachments' bytes so far (at most the bound)
  std::uint32_t expected_ = 0;       // (at most max_attachments_)
  DecodeError error_ = DecodeError::none;
};

// The text part of a packet. For binary packets the JSON must already hold the placeholders and
// `attachments` the buffers (sent as binary frames after the text, in order).
std::string encode(const Packet& p);

// JSON text as JavaScript's JSON.stringify writes it for these values: like boost::json::serialize,
// except for doubles, written as JavaScript writes numbers (0.1 and 1.5, not Boost's 1E-1 and
// 1.5E0; 1e+21; -0 as 0) and non-finite ones (which Boost.JSON 1.81 writes as the non-JSON
// Infinity/NaN) as null.
std::string to_json_text(const boost::json::value& v);

// JSON text read as JavaScript's JSON.parse reads it, as far as Boost.JSON's UTF-8 strings allow:
// a lone UTF-16 surrogate escape (`"\ud83d"` without its pair: JSON.stringify writes one for a
// string cut inside an emoji, as a browser app's text.slice(0, n) does), which Boost.JSON 1.81
// refuses, is read as U+FFFD, the replacement character, instead of failing the whole text (a
// client's packet: its connection closed as a parse error). Only text that fails to parse is
// looked at again, so valid text costs nothing more. The depth bound is `max_depth`. Numbers as
// parse_json_exact reads them.
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec,
                              std::size_t max_depth = 32);
// Boost.JSON's parse with one change: a number with a fraction or an exponent is the double
// nearest to its text, as JSON.parse reads it. Boost.JSON 1.81 reads such numbers by a fast
// method that is a unit off in the last place for many of those written with 16-17 digits
// (measured 2026-12-03: 21,014 of 200,000 uniform doubles in [0, 1000), written shortest, read
// back different; none of 200,000 two-decimal ones): before, such a value relayed through shmio
// reached the other clients changed. (Boost 1.83's number_precision::precise does the same.)
boost::json::value parse_json_exact(std::string_view text, boost::system::error_code& ec,
                                    const boost::json::parse_options& options = {});

// Replaces every binary value in `args` by a placeholder, for encoding; helpers for the API layer.
boost::json::value placeholder(std::size_t num);
// An event's name as socket.io dispatches it: a string as it is, a number as JavaScript's
// String(n) writes it ("1.5", "1e+21", "1e-7"; integers past 2^53 as the double they are read
// as). Before 2026-12-03 a number was written as Boost.JSON serializes it ("1.5E0"), so on("1.5")
// never heard 2[1.5].
std::string event_name(const boost::json::value& name);
bool is_placeholder(const boost::json::value& v, std::size_t* num = nullptr) noexcept;
// Whether every placeholder in `v` names one of `attachments` attachments (false also beyond
// `max_depth` levels of nesting, at least 64): what a decoded BINARY_EVENT must satisfy before it
// is sent on.
bool placeholders_valid(const boost::json::value& v, std::size_t attachments, int depth = 0,
                        std::size_t max_depth = 64);

}  // namespace shmio::socketio
