// MessagePack as the Node Redis adapters speak it (cluster/msgpack.hpp): notepack.io's encoding
// choices byte for byte, binary attachments as bin values, and the bad inputs refused.
#include "shmio/cluster/msgpack.hpp"

#include "notepack_sample.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

using namespace shmio::cluster;
namespace json = boost::json;

namespace {
using shmio::test::hex;
using shmio::test::unhex;
std::string enc(const json::value& v) {
  return hex(msgpack::encode(v));
}
}  // namespace

// The sample of ../shared/design/redis-protocols.md, encoded by notepack.io 3.0.1: a classic
// adapter's broadcast [uid, packet, opts] with a binary argument.
TEST(Msgpack, TheClassicAdaptersBroadcastIsEncodedAsNotepackDoes) {
  const std::string& sample = shmio::test::kNotepackBroadcast;
  const json::value v = json::parse(
      R"(["abc123",{"type":2,"data":["chat",{"text":"hi"},{"_placeholder":true,"num":0}],"nsp":"/"},)"
      R"({"rooms":["room1"],"except":[],"flags":{}}])");
  const std::vector<shmio::socketio::Binary> att{
      std::make_shared<const std::string>(std::string("\x01\x02\x03", 3))};
  EXPECT_EQ(hex(msgpack::encode(v, att)), hex(sample));
  auto d = msgpack::decode(sample);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value, v);
  ASSERT_EQ(d->attachments.size(), 1u);
  EXPECT_EQ(*d->attachments[0], std::string("\x01\x02\x03", 3));
  EXPECT_EQ(msgpack::encode(d->value, d->attachments), sample) << "re-encoded byte for byte";
}

TEST(Msgpack, IntegersTakeTheirSmallestFormAndOtherNumbersFloat64) {
  EXPECT_EQ(enc(0), "00");
  EXPECT_EQ(enc(127), "7f");
  EXPECT_EQ(enc(128), "cc80");
  EXPECT_EQ(enc(255), "ccff");
  EXPECT_EQ(enc(256), "cd0100");
  EXPECT_EQ(enc(65535), "cdffff");
  EXPECT_EQ(enc(65536), "ce00010000");
  EXPECT_EQ(enc(4294967296LL), "cf0000000100000000");
  EXPECT_EQ(enc(std::numeric_limits<std::uint64_t>::max()), "cfffffffffffffffff");
  EXPECT_EQ(enc(-1), "ff");
  EXPECT_EQ(enc(-32), "e0");
  EXPECT_EQ(enc(-33), "d0df");
  EXPECT_EQ(enc(-128), "d080");
  EXPECT_EQ(enc(-129), "d1ff7f");
  EXPECT_EQ(enc(-32768), "d18000");
  EXPECT_EQ(enc(-32769), "d2ffff7fff");
  EXPECT_EQ(enc(-2147483648LL), "d280000000");
  EXPECT_EQ(enc(-2147483649LL), "d3ffffffff7fffffff");
  EXPECT_EQ(enc(3.0), "03") << "an integral JS number";
  EXPECT_EQ(enc(-40.0), "d0d8");
  EXPECT_EQ(enc(1.5), "cb3ff8000000000000");
  EXPECT_EQ(enc(std::nan("")).substr(0, 2), "cb");
  EXPECT_EQ(enc(1e300), "cb7e37e43c8800759c");
  EXPECT_EQ(enc(nullptr), "c0");
  EXPECT_EQ(enc(true), "c3");
  EXPECT_EQ(enc(false), "c2");
}

TEST(Msgpack, StringsArraysMapsAndBinaryByLength) {
  EXPECT_EQ(enc(json::string(31, 'a')).substr(0, 2), "bf");
  EXPECT_EQ(enc(json::string(32, 'a')).substr(0, 4), "d920");
  EXPECT_EQ(enc(json::string(255, 'a')).substr(0, 4), "d9ff");
  EXPECT_EQ(enc(json::string(256, 'a')).substr(0, 6), "da0100");
  EXPECT_EQ(enc(json::string(65536, 'a')).substr(0, 10), "db00010000");
  json::array a15(15), a16(16);
  EXPECT_EQ(enc(a15).substr(0, 2), "9f");
  EXPECT_EQ(enc(a16).substr(0, 6), "dc0010");
  json::object m16;
  for (int i = 0; i < 16; ++i) m16[std::to_string(100 + i)] = i;
  EXPECT_EQ(enc(m16).substr(0, 6), "de0010");
  for (std::size_t n : {255u, 256u, 65536u}) {
    const std::vector<shmio::socketio::Binary> att{std::make_shared<const std::string>(n, 'b')};
    const std::string e =
        hex(msgpack::encode(json::parse(R"({"_placeholder":true,"num":0})"), att));
    EXPECT_EQ(e.substr(0, 2), n < 256 ? "c4" : n < 65536 ? "c5" : "c6") << n;
  }
  // A placeholder without its attachment stays the map it is.
  EXPECT_EQ(enc(json::parse(R"({"_placeholder":true,"num":3})")).substr(0, 2), "82");
  for (const char* text :
       {R"({"a":[1,-2,3.25,"x",null,true,{"b":[]}],"c":{}})", R"([[[[[]]]]])", R"("")"}) {
    const json::value v = json::parse(text);
    auto d = msgpack::decode(msgpack::encode(v));
    ASSERT_TRUE(d) << text;
    EXPECT_EQ(d->value, v) << text;
  }
}

TEST(Msgpack, EveryTypeDecodes) {
  auto dec = [](std::string_view h) {
    auto d = msgpack::decode(unhex(h));
    return d ? json::serialize(d->value) : std::string("error");
  };
  EXPECT_EQ(dec("ca3fc00000"), "1.5E0");  // float32
  EXPECT_EQ(dec("cfffffffffffffffff"), "18446744073709551615");
  EXPECT_EQ(dec("d38000000000000000"), "-9223372036854775808");
  EXPECT_EQ(dec("d0ff"), "-1");
  EXPECT_EQ(dec("d1ff7f"), "-129");
  EXPECT_EQ(dec("82a16101"
                "0102"),
            R"({"a":1,"1":2})")
      << "an integer key as its decimal string";
  EXPECT_EQ(dec("d6ff00000000"), R"("1970-01-01T00:00:00.000Z")") << "timestamp 32";
  // timestamp 64: nanoseconds in the upper 30 bits (62,500,000 here), seconds in the lower 34
  EXPECT_EQ(dec("d7ff"
                "0ee6b28000000000"),
            R"("1970-01-01T00:00:00.062Z")");
  EXPECT_EQ(dec("c70cff"), "error") << "a timestamp 96 without its bytes";
  // notepack.io 2.x's forms (@socket.io/redis-emitter up to 4.1.1, redis-adapter up to 7.2), as
  // notepack 3 reads them: d4 00 xx undefined, c7/c8/c9 <len> 00 an ArrayBuffer (a binary
  // value), d7 00 a Date of its milliseconds. (Before 2026-12-03: c7 00 00 read as undefined, the
  // others refused.)
  EXPECT_EQ(dec("d40000"), "null") << "notepack 2's undefined";
  EXPECT_EQ(dec("91d40000"), "[null]");
  EXPECT_EQ(dec("c70000"), R"({"_placeholder":true,"num":0})") << "an empty ArrayBuffer";
  EXPECT_EQ(dec("92c7030001020"
                "3c80002004142"),
            R"([{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(dec("d700"
                "0000000000000000"),
            R"("1970-01-01T00:00:00.000Z")")
      << "notepack 2's Date";
  EXPECT_EQ(dec("d700"
                "0000017bf2e1f1a3"),
            R"("2021-09-17T08:31:38.915Z")");
  EXPECT_EQ(dec("d700"
                "ffffffffffffffff"),
            R"("1969-12-31T23:59:59.999Z")")
      << "before 1970: -1 ms";
  EXPECT_EQ(dec("d501"
                "0000"),
            "error")
      << "another ext type";
  EXPECT_EQ(dec("82a161d40000a16201"), R"({"b":1})") << "an undefined value: its key left out";
  EXPECT_EQ(dec("c70cff"
                "3b9aca00"
                "0000000000000000"),
            "error")
      << "a timestamp 96 whose nanoseconds pass a second";
  // As toISOString writes a year outside 0..9999, and an Invalid Date (past 8.64e15 ms) as null.
  EXPECT_EQ(dec("d700"
                "fffff8b95ad78000"),  // -8000000000000 ms
            R"("1716-06-28T09:46:40.000Z")");
  EXPECT_EQ(dec("d700"
                "ffffc76e394a7400"),  // -62198755200000 ms
            R"("-000001-01-01T00:00:00.000Z")");
  EXPECT_EQ(dec("d700"
                "001eb208c2dc0000"),  // 8.64e15 ms: the last Date
            R"("+275760-09-13T00:00:00.000Z")");
  EXPECT_EQ(dec("d700"
                "001eb208c2dc0001"),
            "null")
      << "past a Date's range";
  EXPECT_EQ(dec("d700"
                "0000e677d21fdc00"),  // 253402300800000 ms: year 10000
            R"("+010000-01-01T00:00:00.000Z")");
  EXPECT_EQ(dec("dc0001c0"), "[null]");
  EXPECT_EQ(dec("dd00000001c3"), "[true]");
  EXPECT_EQ(dec("df00000001a16102"), R"({"a":2})");
}

// Strings that are not UTF-8 are read as Node reads them (notepack's toString("utf8")): each
// ill-formed sequence as U+FFFD. Before 2026-12-05 the whole message was refused; notepack writes
// such strings itself: encode(["a".repeat(31) + "\ud83d"]) gives a 35-byte string of the 31
// letters, EF BF BD and one byte of uninitialised memory (here FF).
TEST(Msgpack, StringsThatAreNotUtf8AreReadAsNodeReadsThem) {
  auto dec = [](std::string_view h) {
    auto d = msgpack::decode(unhex(h));
    return d ? json::serialize(d->value) : std::string("error");
  };
  EXPECT_EQ(dec("a2c328"), "\"\xEF\xBF\xBD(\"");
  EXPECT_EQ(dec("a3eda080"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"") << "a surrogate";
  EXPECT_EQ(dec("a2c0af"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"") << "an overlong form";
  EXPECT_EQ(dec("81a1ff01"), "{\"\xEF\xBF\xBD\":1}") << "a map key";
  EXPECT_EQ(dec("82a1ff01a1fe02"), "{\"\xEF\xBF\xBD\":2}") << "two keys made one: the last";
  // Two keys notepack 3 writes alike, "\ud800" and "\ud800\udc00" (a lone surrogate in a short
  // string takes a 4-byte sequence): Node's decoder keeps the last, and so does this one (it
  // refused the message before 2026-12-06).
  EXPECT_EQ(dec("82a4f090808001a4f090808002"), "{\"\xF0\x90\x80\x80\":2}");
  EXPECT_EQ(dec("82a16101a16102"), "{\"a\":2}") << "any repeated key";
  EXPECT_EQ(dec("82a131010102"), "{\"1\":2}") << "a string key and an integer one";
  EXPECT_EQ(dec("82a16101a161d40000"), "{}") << "a later undefined hides the earlier value";
  EXPECT_EQ(dec("84a16101a16202a16303a161d40000"), "{\"b\":2,\"c\":3}") << "the keys in order";
  const std::string letters(31, 'a');
  EXPECT_EQ(dec("91d923" + hex(letters) + "efbfbdff"),
            "[\"" + letters + "\xEF\xBF\xBD\xEF\xBF\xBD\"]")
      << "notepack's own";
}

TEST(Msgpack, MalformedInputIsRefusedWithAReason) {
  auto why = [](std::string_view bytes) {
    msgpack::DecodeError e;
    auto d = msgpack::decode(bytes, &e);
    return d ? std::string("accepted") : e.reason;
  };
  EXPECT_EQ(why(""), "truncated");
  EXPECT_EQ(why(unhex("a56162")), "truncated");
  EXPECT_EQ(why(unhex("c1")), "the never-used byte 0xc1");
  EXPECT_EQ(why(unhex("dd7fffffff00")), "a length beyond the input") << "no 2^31-element array";
  EXPECT_EQ(why(unhex("c6ffffffff")), "a length beyond the input");
  EXPECT_EQ(why(unhex("0000")), "bytes after the value");
  EXPECT_EQ(why(unhex("81"
                      "90"
                      "00")),
            "a map key that is neither a string nor an integer");
  EXPECT_EQ(why(unhex("d40500")), "an unsupported ext type");
  EXPECT_EQ(why(unhex("82a16101a16102")), "accepted") << "a repeated key: its last value";
  EXPECT_EQ(why(unhex("a4f09f9880")), "accepted") << "U+1F600";
  EXPECT_EQ(why(std::string(msgpack::kMaxDepth + 1, '\x91') + '\x00'),
            "nested deeper than kMaxDepth");
  EXPECT_EQ(why(std::string(msgpack::kMaxDepth, '\x91') + '\x00'), "accepted");
  msgpack::DecodeError e;
  EXPECT_FALSE(msgpack::decode(unhex("9200a2"), &e));
  EXPECT_EQ(e.offset, 3u) << "where it stopped";
}

// Nested containers each claiming nearly the whole input: checked against the bytes left alone,
// every level passed and reserved its claim (65 of them: hundreds of times the input's size,
// before the depth bound refused the message). Against the bytes left beside what the outer
// containers still owe, the second level is refused.
TEST(Msgpack, NestedContainersCannotEachClaimTheWholeInput) {
  constexpr std::size_t kLength = 4096;
  std::string in;
  for (std::size_t k = 0; k <= msgpack::kMaxDepth; ++k) {
    const auto claim = static_cast<std::uint32_t>(kLength - 5 * k - 5);  // the bytes left
    in += '\xdd';  // array32 of `claim` elements, the next level its first
    for (int s = 24; s >= 0; s -= 8) in += static_cast<char>((claim >> s) & 0xff);
  }
  in.resize(kLength, '\0');
  msgpack::DecodeError e;
  EXPECT_FALSE(msgpack::decode(in, &e));
  EXPECT_EQ(e.reason, "a length beyond the input");
  EXPECT_EQ(e.offset, 10u) << "after the second array's header";
  // A map owes two elements an entry.
  EXPECT_FALSE(msgpack::decode(unhex("82a16101"), &e));
  EXPECT_EQ(e.reason, "a length beyond the input");
  // A claim that does not fit beside what the outer array still owes, and one that does.
  EXPECT_FALSE(msgpack::decode(unhex("9293000000"), &e)) << "[[3 elements], x]: 4 owed, 3 left";
  EXPECT_EQ(e.reason, "a length beyond the input");
  auto d =
      msgpack::decode(unhex("92920102"
                            "03"));
  ASSERT_TRUE(d);
  EXPECT_EQ(json::serialize(d->value), "[[1,2],3]");
}

// Past the values' and the bin values' bounds a message is refused (each value is a node here,
// 16-80 bytes, each bin value a placeholder and an attachment: a message of small values costs
// tens of times its size).
TEST(Msgpack, MoreValuesOrBinaryValuesThanTheBoundsAreRefused) {
  auto array_of = [](std::size_t n, std::string_view element) {
    std::string in = "\xdd";
    for (int s = 24; s >= 0; s -= 8) in += static_cast<char>((n >> s) & 0xff);
    for (std::size_t i = 0; i < n; ++i) in += element;
    return in;
  };
  msgpack::DecodeError e;
  EXPECT_TRUE(msgpack::decode(array_of(msgpack::kMaxBinaries, std::string("\xc4\x00", 2))));
  EXPECT_FALSE(
      msgpack::decode(array_of(msgpack::kMaxBinaries + 1, std::string("\xc4\x00", 2)), &e));
  EXPECT_EQ(e.reason, "more than kMaxBinaries binary values");
  EXPECT_TRUE(msgpack::decode(array_of(msgpack::kMaxValues - 1, "\xc0")));  // (and the array)
  EXPECT_FALSE(msgpack::decode(array_of(msgpack::kMaxValues, "\xc0"), &e));
  EXPECT_EQ(e.reason, "more than kMaxValues values");
  EXPECT_EQ(e.offset, 5u) << "refused at its count, before its reserve";
}
