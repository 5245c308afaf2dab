// MessagePack as the Node Redis adapters speak it (issue 13; docs/redis.md): encoded with
// notepack.io 3.0.1's choices, so that a Node server decodes what shmio publishes and re-encodes
// it byte for byte:
//   integers (JSON integers, and doubles with an integral value below 2^63 in magnitude, as a JS
//   number would be) in their smallest form: positive fixint, uint8/16/32/64, negative fixint,
//   int8/16/32/64; other numbers float64; strings fixstr/str8/16/32 by byte length; arrays and
//   maps fix/16/32; nil for null; binary data bin8/16/32.
// Binary data is where Socket.IO's JSON has attachment placeholders ({"_placeholder":true,"num":i},
// socket.io-parser's form): encode() writes attachment i as a bin value there, and decode() turns
// every bin value back into a placeholder and an attachment, in the order met. So a packet decoded
// from Redis has the same shape as one decoded from a client (data plus attachments). (As with
// socket.io-parser, a map that is itself shaped like a placeholder is read as one when encoded.)
//
// decode() accepts every MessagePack type and refuses, with a reason and the offset, what is
// malformed or beyond its bounds: truncated input, strings that are not UTF-8, the never-used
// byte 0xc1, a container claiming more elements than bytes remain for it beside what the
// containers it is in still owe (each element takes a byte at least: what all open containers
// reserve together stays within the input), nesting deeper than kMaxDepth, more than kMaxValues
// values or kMaxBinaries bin values, map keys that are not strings or
// integers or that repeat, ext types other than the timestamp (-1, decoded as an ISO-8601 string
// like JSON.stringify(Date)) and notepack's legacy undefined (ext 0, empty: null), trailing bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "shmio/socketio/packet.hpp"

namespace shmio::cluster::msgpack {

inline constexpr std::size_t kMaxDepth = 64;
// Values in one decoded message, every level counted (each decoded value becomes a JSON node of
// 16-80 bytes, a bin value a placeholder object and an attachment of about 270 bytes with its
// bytes apart): at most 4,194,304 values, of which 65,536 bin values. A message past either is
// refused, "more than N values" / "more than N binary values".
inline constexpr std::size_t kMaxValues = std::size_t{1} << 22;
inline constexpr std::size_t kMaxBinaries = std::size_t{1} << 16;

// Appends the encoding of `v` to `out`. A placeholder whose num has no attachment is written as
// the map it is.
void encode(const boost::json::value& v, const std::vector<socketio::Binary>& attachments,
            std::string& out);
std::string encode(const boost::json::value& v,
                   const std::vector<socketio::Binary>& attachments = {});

struct Decoded {
  boost::json::value value;
  std::vector<socketio::Binary> attachments;  // the bin values, in the order met
};
struct DecodeError {
  std::string reason;
  std::size_t offset = 0;
};
// The one value `in` holds (all of it).
std::optional<Decoded> decode(std::string_view in, DecodeError* error = nullptr);

}  // namespace shmio::cluster::msgpack
