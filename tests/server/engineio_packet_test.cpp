// Engine.IO v4 codec: every packet type both ways, polling payloads, base64, malformed input.
#include <gtest/gtest.h>

#include "shmio/engineio/packet.hpp"

namespace shmio::engineio {
namespace {

TEST(EngineIoCodec, EveryPacketTypeRoundTripsAsText) {
  for (int t = 0; t <= 6; ++t) {
    const Packet p = Packet::text(static_cast<PacketType>(t), t == 4 ? "hello €" : "");
    const std::string wire = encode_text(p);
    EXPECT_EQ(wire[0], static_cast<char>('0' + t));
    Packet back;
    ASSERT_EQ(decode_text(wire, back), DecodeError::none);
    EXPECT_EQ(back, p);
  }
  EXPECT_EQ(encode_text(Packet::text(PacketType::pong, "probe")), "3probe");
}

TEST(EngineIoCodec, MalformedTextIsRefusedWithAReason) {
  Packet p;
  EXPECT_EQ(decode_text("", p), DecodeError::empty);
  EXPECT_EQ(decode_text("7", p), DecodeError::unknown_type);
  EXPECT_EQ(decode_text("x4", p), DecodeError::unknown_type);
  EXPECT_EQ(decode_text("b!!!!", p), DecodeError::bad_base64);
  EXPECT_EQ(decode_text("bA===", p), DecodeError::bad_base64);      // six bits, then padding
  EXPECT_EQ(decode_text("bA", p), DecodeError::bad_base64);         // six bits
  EXPECT_EQ(decode_text("bAQ*=", p), DecodeError::bad_base64);      // of neither alphabet
  EXPECT_EQ(decode_text("bAQ==AQ==", p), DecodeError::bad_base64);  // padding in the middle
  EXPECT_STREQ(to_string(DecodeError::unknown_type), "unknown packet type");
}

// A polling "b" packet's base64 is read as the reference server reads it (Node's Buffer.from):
// socket.io-client-java's (wrapped at 76 characters, a newline at the end), unpadded, and URL-safe
// base64 give their bytes (before 2026-12-03 only strict padded base64 was taken, and a Java or
// Android client's first binary packet over polling ended its session with "parse error").
TEST(EngineIoCodec, Base64BinaryIsDecodedAsTheReferenceDecodesIt) {
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += static_cast<char>(i * 7);
  std::string wrapped = base64_encode(bytes);  // (136 characters: two lines, as Java sends it)
  ASSERT_EQ(wrapped.size(), 136u);
  wrapped.insert(76, "\n");
  wrapped += "\n";
  Packet p;
  ASSERT_EQ(decode_text("b" + wrapped, p), DecodeError::none);
  EXPECT_EQ(p, Packet::bytes(bytes));
  ASSERT_EQ(decode_text("bAQIDBP8=\r\n", p), DecodeError::none);
  EXPECT_EQ(p, Packet::bytes(std::string("\x01\x02\x03\x04\xff", 5)));
  ASSERT_EQ(decode_text("bAQ", p), DecodeError::none);  // (unpadded)
  EXPECT_EQ(p, Packet::bytes(std::string("\x01", 1)));
  ASSERT_EQ(decode_text("bAQ=", p), DecodeError::none);  // (padding short of a multiple of 4)
  EXPECT_EQ(p, Packet::bytes(std::string("\x01", 1)));
  ASSERT_EQ(decode_text("b-_8", p), DecodeError::none);  // (URL-safe)
  EXPECT_EQ(p, Packet::bytes(std::string("\xfb\xff", 2)));
  ASSERT_EQ(decode_text("b", p), DecodeError::none);  // (no bytes)
  EXPECT_EQ(p, Packet::bytes(""));
  // Every byte value, padded and not.
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string plain = all.substr(0, n);
    std::string encoded = base64_encode(plain), back;
    ASSERT_TRUE(base64_decode_loose(encoded, back));
    EXPECT_EQ(back, plain);
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    ASSERT_TRUE(base64_decode_loose(encoded, back));
    EXPECT_EQ(back, plain);
  }
}

TEST(EngineIoCodec, Base64MatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    std::string back;
    ASSERT_TRUE(base64_decode(encoded, back));
    EXPECT_EQ(back, plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string back;
  ASSERT_TRUE(base64_decode(base64_encode(all), back));
  EXPECT_EQ(back, all);
}

TEST(EngineIoCodec, PollingPayloadJoinsWithRecordSeparatorAndBinaryAsBase64) {
  std::string body;
  append_to_payload(body, Packet::text(PacketType::message, "hello"));
  append_to_payload(body, Packet::bytes(std::string("\x01\x02\x03\x04", 4)));
  append_to_payload(body, Packet::text(PacketType::ping));
  EXPECT_EQ(body,
            "4hello\x1e"
            "bAQIDBA==\x1e"
            "2");
  std::vector<Packet> out;
  ASSERT_EQ(decode_payload(body, out), DecodeError::none);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], Packet::text(PacketType::message, "hello"));
  EXPECT_EQ(out[1], Packet::bytes(std::string("\x01\x02\x03\x04", 4)));
  EXPECT_EQ(out[2], Packet::text(PacketType::ping));
}

TEST(EngineIoCodec, PollingPayloadErrors) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_payload("", out), DecodeError::empty);
  EXPECT_EQ(decode_payload("4a\x1e", out), DecodeError::empty) << "trailing separator";
  EXPECT_EQ(decode_payload("4a\x1e\x1e"
                           "4b",
                           out),
            DecodeError::empty);
  EXPECT_EQ(decode_payload("4a\x1e"
                           "9",
                           out),
            DecodeError::unknown_type);
  std::string many;
  for (int i = 0; i < 5; ++i) append_to_payload(many, Packet::text(PacketType::noop));
  EXPECT_EQ(decode_payload(many, out, 4), DecodeError::too_many);
  EXPECT_EQ(decode_payload(many, out, 5), DecodeError::none);
}

// Ill-formed UTF-8 mended as the WHATWG decoder (Node's) mends it: each maximal subpart of an
// ill-formed sequence becomes one U+FFFD; well-formed text is left alone (no copy).
TEST(EngineIoCodec, IllFormedUtf8IsMendedOneReplacementPerMaximalSubpart) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(mend_utf8("4hello"), std::nullopt);
  EXPECT_EQ(mend_utf8("4h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::nullopt);  // é € 😀
  EXPECT_EQ(mend_utf8("4\xff"), "4" + r);
  EXPECT_EQ(mend_utf8("\xE2\x82"), r) << "a truncated sequence is one subpart";
  EXPECT_EQ(mend_utf8("\xE2\x82x"), r + "x");
  EXPECT_EQ(mend_utf8("\xF0\x28\x8C\xBC"), r + "(" + r + r);
  EXPECT_EQ(mend_utf8("\xED\xA0\x80"), r + r + r) << "a surrogate's encoding";
  EXPECT_EQ(mend_utf8("\xC0\xAF"), r + r) << "an overlong form";
  EXPECT_EQ(mend_utf8("\xF4\x90\x80\x80"), r + r + r + r) << "past U+10FFFF";
  EXPECT_EQ(mend_utf8("a\x80"
                      "b"),
            "a" + r + "b");
}

TEST(EngineIoCodec, BinaryFramesAreMessages) {
  const std::byte raw[] = {std::byte{0}, std::byte{0xFF}};
  const Packet p = decode_binary(raw);
  EXPECT_TRUE(p.binary);
  EXPECT_EQ(p.type, PacketType::message);
  EXPECT_EQ(p.data, std::string("\0\xFF", 2));
}

}  // namespace
}  // namespace shmio::engineio
