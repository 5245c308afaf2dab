// Socket.IO v5 codec: the examples of the protocol document, every packet type, binary
// attachments, and every malformed input the reference parser refuses.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"

namespace json = boost::json;

namespace shmio::socketio {
namespace {

Packet decode_one(std::string_view text) {
  Decoder d;
  Packet p;
  EXPECT_EQ(d.feed_text(text, p), Decoder::Status::packet) << text << ": " << to_string(d.error());
  return p;
}

DecodeError decode_error(std::string_view text) {
  Decoder d;
  Packet p;
  if (d.feed_text(text, p) != Decoder::Status::error) return DecodeError::none;
  return d.error();
}

TEST(SocketIoCodec, ConnectToMainAndCustomNamespaces) {
  Packet p = decode_one("0");
  EXPECT_EQ(p.type, PacketType::connect);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_FALSE(p.data);
  p = decode_one("0/admin,{\"token\":\"123\"}");
  EXPECT_EQ(p.nsp, "/admin");
  ASSERT_TRUE(p.data);
  EXPECT_EQ(p.data->at("token"), "123");
  p = decode_one("0/admin,");
  EXPECT_EQ(p.nsp, "/admin");
  p = decode_one("0/admin");
  EXPECT_EQ(p.nsp, "/admin");
}

TEST(SocketIoCodec, EventsAcksAndIds) {
  Packet p = decode_one("2[\"hello\",1]");
  EXPECT_EQ(p.type, PacketType::event);
  EXPECT_FALSE(p.id);
  EXPECT_EQ(json::serialize(*p.data), "[\"hello\",1]");
  p = decode_one("2/admin,456[\"project:delete\",123]");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 456u);
  p = decode_one("3/admin,456[]");
  EXPECT_EQ(p.type, PacketType::ack);
  EXPECT_EQ(p.id, 456u);
  p = decode_one("212[\"foo\"]");
  EXPECT_EQ(p.id, 12u);
  p = decode_one("2[42,\"numeric event names are allowed\"]");
  EXPECT_EQ(p.type, PacketType::event);
}

// Forms socket.io-parser takes that were refused before 2026-12-06 (the connection closed): an ACK
// without a payload (an answer of no arguments), an ack id with leading zeros past 16 digits, a
// placeholder's num written as a decimal. A fractional num is still refused.
TEST(SocketIoCodec, FormsTheReferenceParserTakesAreTaken) {
  Packet p = decode_one("31");
  EXPECT_EQ(p.type, PacketType::ack);
  EXPECT_EQ(p.id, 1u);
  ASSERT_TRUE(p.data);
  EXPECT_EQ(json::serialize(*p.data), "[]");
  p = decode_one("20000000000000000012[\"a\"]");
  EXPECT_EQ(p.id, 12u);
  Decoder d;
  for (const char* whole : {R"(51-["a",{"_placeholder":true,"num":0.0}])",
                            R"(51-["a",{"_placeholder":true,"num":0e0}])",
                            R"(51-["a",{"_placeholder":true,"num":0,"x":1}])"}) {
    ASSERT_EQ(d.feed_text(whole, p), Decoder::Status::need_more) << whole;
    EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::packet) << whole;
    // (In the form this server writes, for the parts after the decoder: the fleet's MessagePack.)
    EXPECT_EQ(json::serialize(*p.data), R"(["a",{"_placeholder":true,"num":0}])") << whole;
  }
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":0.5}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::bad_placeholder);
}

// An emit whose placeholders name binaries it does not carry is refused where it is made: every
// client's parser refused the message ("illegal attachments") and dropped its connection, and with
// recovery on the packet was replayed at each reconnect (found by a review, 2026-12-05). One
// value forwarded without its binaries goes as a plain EVENT (a client takes the object as it is).
TEST(SocketIoCodec, AnEventWhosePlaceholdersNameMissingBinariesIsRefused) {
  const auto ph = [](int n) { return json::value{{"_placeholder", true}, {"num", n}}; };
  const Binary bin = std::make_shared<const std::string>("abc");
  EXPECT_THROW(event_packet("/", "x", Args(json::array{ph(1)}, {bin})), std::invalid_argument);
  EXPECT_THROW(event_packet("/", "x",
                            Args(json::array{json::object{{"a", json::array{ph(2)}}}}, {bin, bin})),
               std::invalid_argument)
      << "nested";
  EXPECT_THROW(check_attachments(Args(json::array{ph(-1)}, {bin})), std::invalid_argument);
  const Packet ok = event_packet("/", "x", Args(json::array{ph(0), "t"}, {bin}));
  EXPECT_EQ(ok.type, PacketType::binary_event);
  EXPECT_EQ(ok.attachments.size(), 1u);
  const Packet plain = event_packet("/", "x", Args(json::array{ph(0)}));
  EXPECT_EQ(plain.type, PacketType::event);
}

TEST(SocketIoCodec, DisconnectAndConnectError) {
  Packet p = decode_one("1/admin,");
  EXPECT_EQ(p.type, PacketType::disconnect);
  EXPECT_EQ(p.nsp, "/admin");
  p = decode_one("4{\"message\":\"Not authorized\"}");
  EXPECT_EQ(p.type, PacketType::connect_error);
  p = decode_one("4\"plain string\"");
  EXPECT_TRUE(p.data->is_string());
}

TEST(SocketIoCodec, EncodeProducesTheWireFormOfTheSpec) {
  Packet p;
  p.type = PacketType::connect;
  p.data = json::parse(R"({"sid":"abc"})");
  EXPECT_EQ(encode(p), "0{\"sid\":\"abc\"}");
  p = {};
  p.type = PacketType::event;
  p.nsp = "/admin";
  p.id = 456;
  p.data = json::parse(R"(["project:delete",123])");
  EXPECT_EQ(encode(p), "2/admin,456[\"project:delete\",123]");
  p = {};
  p.type = PacketType::disconnect;
  EXPECT_EQ(encode(p), "1");
  p.nsp = "/admin";
  EXPECT_EQ(encode(p), "1/admin,");
  for (const char* wire :
       {"0", "0/admin,{\"token\":\"123\"}", "2[\"hello\",1]", "2/admin,456[\"project:delete\",123]",
        "31[\"ok\"]", "4{\"message\":\"Invalid namespace\"}"}) {
    EXPECT_EQ(encode(decode_one(wire)), wire);
  }
}

TEST(SocketIoCodec, NonFiniteNumbersEncodeAsNullLikeJsonStringify) {
  // 1E400 overflows to infinity when parsed (as JSON.parse does); re-encoding must stay JSON.
  Packet p = decode_one("2[\"n\",1E400,-1E400,1.5]");
  EXPECT_EQ(encode(p), "2[\"n\",null,null,1.5]");
  p.data = json::array{"nan", std::numeric_limits<double>::quiet_NaN()};
  EXPECT_EQ(encode(p), "2[\"nan\",null]");
  Decoder d;
  Packet back;
  EXPECT_EQ(d.feed_text(encode(p), back), Decoder::Status::packet);
}

// Every number as JSON.stringify writes it (Boost.JSON wrote 0.1 as 1E-1 and -0 as -0E0 before
// 2026-12-05: every JSON parser reads both, but a relayed value's text changed and compared
// unequal byte for byte), strings and keys escaped as JSON.stringify does, beside them.
TEST(SocketIoCodec, NumbersAreWrittenAsJsonStringifyWritesThem) {
  Packet p = decode_one(R"(2["n",0.1,1.5,-0.0,1e21,1e-7,123456789012345680000,5e-324,-2.5e-8,7,-3,)"
                        R"({"k\"\n":[0.25,"a\\b\u0001\t"]},true,null])");
  EXPECT_EQ(encode(p), R"(2["n",0.1,1.5,0,1e+21,1e-7,123456789012345680000,5e-324,-2.5e-8,7,-3,)"
                       R"({"k\"\n":[0.25,"a\\b\u0001\t"]},true,null])");
  // Without a double, Boost's own text (the same): integers, strings, nesting.
  p.data = json::array{"i", 1, -2, json::object{{"s", "x\u2028y"}}};
  EXPECT_EQ(encode(p), "2[\"i\",1,-2,{\"s\":\"x\u2028y\"}]");
}

TEST(SocketIoCodec, LoneSurrogateEscapesAreReadAsTheReplacementCharacterAsJsonParseTakesThem) {
  // What JSON.stringify writes for a string cut inside an emoji ("😀".slice(0, 1)), and the
  // other half alone: read, not a parse error (which closed the client's connection).
  const std::string fffd = "\xEF\xBF\xBD";
  Packet p = decode_one(R"(2["m","\ud83d","\uDE00x","a\ud83d\ud83d\ude00b"])");
  ASSERT_TRUE(p.data && p.data->is_array());
  const json::array& a = p.data->get_array();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[1].as_string(), fffd);
  EXPECT_EQ(a[2].as_string(), fffd + "x");
  // A lone leading surrogate, then a whole pair (kept: U+1F600).
  EXPECT_EQ(a[3].as_string(), "a" + fffd + "\xF0\x9F\x98\x80" + "b");
  // An escaped backslash before "ud83d" is no escape: the text is left as it is.
  p = decode_one(R"(2["m","\\ud83d"])");
  EXPECT_EQ(p.data->get_array()[1].as_string(), "\\ud83d");
  // Mending happens only where parsing failed; what is broken otherwise still is.
  EXPECT_EQ(decode_error(R"(2["m","\ud83d)"), DecodeError::invalid_json);
  EXPECT_EQ(decode_error(R"(2["m","\ud83d"]x)"), DecodeError::invalid_json);
}

TEST(SocketIoCodec, BinaryEventWaitsForItsAttachments) {
  Decoder d;
  Packet p;
  ASSERT_EQ(
      d.feed_text(R"(52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", p),
      Decoder::Status::need_more);
  EXPECT_TRUE(d.awaiting_binary());
  ASSERT_EQ(d.feed_binary("\x01\x02", p), Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("\x03", p), Decoder::Status::packet);
  EXPECT_EQ(p.type, PacketType::binary_event);
  ASSERT_EQ(p.attachments.size(), 2u);
  EXPECT_EQ(*p.attachments[0], "\x01\x02");
  EXPECT_EQ(*p.attachments[1], "\x03");
  std::size_t num = 9;
  EXPECT_TRUE(is_placeholder(p.data->as_array()[2], &num));
  EXPECT_EQ(num, 1u);
  EXPECT_EQ(encode(p),
            R"(52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  // Binary ack with namespace and id.
  ASSERT_EQ(d.feed_text(R"(61-/admin,456[{"_placeholder":true,"num":0}])", p),
            Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("x", p), Decoder::Status::packet);
  EXPECT_EQ(p.type, PacketType::binary_ack);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 456u);
}

TEST(SocketIoCodec, MalformedPacketsAreParseErrors) {
  EXPECT_EQ(decode_error(""), DecodeError::empty);
  EXPECT_EQ(decode_error("7"), DecodeError::unknown_type);
  EXPECT_EQ(decode_error("a"), DecodeError::unknown_type);
  // CONNECT payload must be an object.
  EXPECT_EQ(decode_error("0\"string\""), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("0[]"), DecodeError::invalid_payload);
  // DISCONNECT carries no payload.
  EXPECT_EQ(decode_error("1{}"), DecodeError::invalid_payload);
  // EVENT: a non-empty array, first element a non-reserved string or a number.
  EXPECT_EQ(decode_error("2"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("2{}"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("2[]"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("2[{}]"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("2[null]"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("2[1E400]"), DecodeError::invalid_payload) << "an infinite event name";
  for (const char* reserved :
       {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"})
    EXPECT_EQ(decode_error(std::string("2[\"") + reserved + "\"]"), DecodeError::invalid_payload)
        << reserved;
  // ACK: an array (or none: FormsTheReferenceParserTakesAreTaken); BINARY_ACK: an array.
  EXPECT_EQ(decode_error("31{}"), DecodeError::invalid_payload);
  EXPECT_EQ(decode_error("61-1"), DecodeError::invalid_payload);
  // CONNECT_ERROR: a string or an object.
  EXPECT_EQ(decode_error("4[]"), DecodeError::invalid_payload);
  // JSON.
  EXPECT_EQ(decode_error("2[\"a\""), DecodeError::invalid_json);
  EXPECT_EQ(decode_error("2[\"a\"]garbage"), DecodeError::invalid_json);
  EXPECT_EQ(decode_error("2" + std::string(100, '[') + std::string(100, ']')),
            DecodeError::invalid_json)
      << "nesting deeper than max_depth";
  // Ack ids beyond what a JS number holds exactly (2^53 - 1); up to it, 16 digits included
  // (before 2026-12-04 a 16-digit id closed the connection).
  EXPECT_EQ(decode_error("29007199254740992[\"a\"]"), DecodeError::bad_ack_id);
  EXPECT_EQ(decode_error("212345678901234567[\"a\"]"), DecodeError::bad_ack_id);
  EXPECT_EQ(decode_one("29007199254740991[\"a\"]").id, 9007199254740991u);
  EXPECT_EQ(decode_one("21000000000000000[\"a\"]").id, 1000000000000000u);
  // Attachments.
  EXPECT_EQ(decode_error("5[\"a\"]"), DecodeError::illegal_attachments);
  EXPECT_EQ(decode_error("5x-[\"a\"]"), DecodeError::illegal_attachments);
  EXPECT_EQ(decode_error("5-[\"a\"]"), DecodeError::illegal_attachments);
  EXPECT_EQ(decode_error("51000-[\"a\"]"), DecodeError::illegal_attachments) << "over the limit";
  // At most 10 by default, as socket.io-parser's decoder (64 before 2026-12-07: an app that
  // forwarded such a packet sent socket.io-clients one they cannot decode).
  EXPECT_EQ(decode_error("511-[\"a\"]"), DecodeError::illegal_attachments) << "11 attachments";
  {
    Decoder d;
    Packet p;
    EXPECT_EQ(d.feed_text("510-[\"a\"]", p), Decoder::Status::need_more) << "10 attachments";
  }
  // None announced (socket.io-parser: "Illegal attachments" below 1): before 2026-12-03 taken as
  // a whole binary packet, its placeholders unchecked (one naming attachment 7 reached the app).
  EXPECT_EQ(decode_error("50-[\"a\",{\"_placeholder\":true,\"num\":7}]"),
            DecodeError::illegal_attachments);
  EXPECT_EQ(decode_error("60-1[\"a\"]"), DecodeError::illegal_attachments);
}

TEST(SocketIoCodec, AttachmentsOverTheirByteBoundTogetherAreRefused) {
  DecoderLimits limits;
  limits.max_attachment_bytes = 10;
  Decoder d(limits);
  Packet p;
  // At the bound: taken.
  ASSERT_EQ(
      d.feed_text(R"(52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", p),
      Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("12345", p), Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("67890", p), Decoder::Status::packet);
  EXPECT_EQ(p.attachments.size(), 2u);
  // The next packet starts from nothing: one byte over, in its second attachment, is refused.
  ASSERT_EQ(
      d.feed_text(R"(52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", p),
      Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("12345", p), Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("678901", p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::attachments_too_large);
  EXPECT_FALSE(d.awaiting_binary());
  // One attachment alone over the bound.
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":0}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary(std::string(11, 'x'), p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::attachments_too_large);
  EXPECT_STREQ(to_string(DecodeError::attachments_too_large), "attachments over the size limit");
}

TEST(SocketIoCodec, BadPlaceholdersAndOutOfOrderFramesAreRefused) {
  Decoder d;
  Packet p;
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":3}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::bad_placeholder);
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":-1}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::error);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::unexpected_binary);
  // Any object whose _placeholder is true is one, as the reference parser reads it: without a
  // num, or with one past the attachments beside a third key, it is refused (before 2026-12-03
  // both passed as plain data, and a client given them relayed closed its connection); with a
  // good num and a third key it stands for its attachment.
  for (const char* bad :
       {R"(51-["a",{"_placeholder":true}])", R"(51-["a",{"_placeholder":true,"num":9,"x":1}])",
        R"(51-["a",{"_placeholder":true,"num":"0"}])"}) {
    ASSERT_EQ(d.feed_text(bad, p), Decoder::Status::need_more) << bad;
    EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::error) << bad;
    EXPECT_EQ(d.error(), DecodeError::bad_placeholder) << bad;
  }
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":0,"x":1}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::packet);
  // (Not a placeholder: _placeholder false, or not a bool.)
  ASSERT_EQ(
      d.feed_text(
          R"(51-["a",{"_placeholder":false},{"_placeholder":1},{"_placeholder":true,"num":0}])", p),
      Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary("x", p), Decoder::Status::packet);
  ASSERT_EQ(d.feed_text(R"(51-["a",{"_placeholder":true,"num":0}])", p),
            Decoder::Status::need_more);
  EXPECT_EQ(d.feed_text("2[\"b\"]", p), Decoder::Status::error);
  EXPECT_EQ(d.error(), DecodeError::unexpected_text);
  // After an error the decoder starts afresh.
  EXPECT_EQ(d.feed_text("2[\"c\"]", p), Decoder::Status::packet);
}

}  // namespace
}  // namespace shmio::socketio

// A number as an event's name is dispatched under JavaScript's String(n), as socket.io's
// EventEmitter keys it (before 2026-12-03 Boost.JSON's form: "1.5E0", and on("1.5") never heard
// 2[1.5]). Expected values: node -e 'console.log(String(x))'.
TEST(SocketIoCodec, ANumberAsAnEventsNameIsWrittenAsJavaScriptWritesIt) {
  // (The values made here, not parsed: Boost.JSON 1.81 reads some long numbers a unit off in the
  // last place, JSON.parse exactly.)
  const std::vector<std::pair<boost::json::value, const char*>> cases = {
      {1.5, "1.5"},
      {-2.5, "-2.5"},
      {100, "100"},
      {0.1, "0.1"},
      {0.000001, "0.000001"},
      {1e-7, "1e-7"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {123456789012345680000.0, "123456789012345680000"},
      {std::int64_t{9007199254740993}, "9007199254740992"},
      {std::uint64_t{18446744073709551615u}, "18446744073709552000"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-0.0, "0"},
      {"x", "x"},
  };
  for (const auto& [name, js] : cases)
    EXPECT_EQ(shmio::socketio::event_name(name), js) << boost::json::serialize(name);
}

// Numbers as JSON.parse reads them: the double nearest to the text. Boost.JSON 1.81's own parse
// was a unit off in the last place for about one double in ten written with 17 digits (a value
// relayed through shmio reached other clients changed, before 2026-12-03).
TEST(SocketIoCodec, NumbersAreReadAsJsonParseReadsThem) {
  boost::system::error_code ec;
  const auto v =
      shmio::socketio::parse_json("[123456789012345680000, 0.1, 1e23, -0.5, 7, 1e400]", ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto& a = v.as_array();
  EXPECT_EQ(a[0].as_double(), 123456789012345680000.0);
  EXPECT_EQ(a[1].as_double(), 0.1);
  EXPECT_EQ(a[2].as_double(), 1e23);
  EXPECT_EQ(a[3].as_double(), -0.5);
  EXPECT_EQ(a[4].as_int64(), 7);
  EXPECT_TRUE(std::isinf(a[5].as_double()));  // (as JSON.parse: Infinity)
  // Every one of 20,000 doubles (uniform in [0, 1000)), written shortest, reads back the same.
  std::mt19937_64 g(7);
  std::uniform_real_distribution<double> u(0, 1000);
  int different = 0;
  for (int i = 0; i < 20000; ++i) {
    const double x = u(g);
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    const auto back = shmio::socketio::parse_json(std::string_view(buf, r.ptr - buf), ec);
    if (ec || back.to_number<double>() != x) ++different;
  }
  EXPECT_EQ(different, 0);
  // Malformed text still fails, and text after the value is refused.
  (void)shmio::socketio::parse_json("[1.5", ec);
  EXPECT_TRUE(ec);
  (void)shmio::socketio::parse_json("1.5 x", ec);
  EXPECT_TRUE(ec);
}
