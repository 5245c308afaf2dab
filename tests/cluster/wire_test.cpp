// The cluster's ring messages (shmio/cluster/wire.hpp): round trips, and every malformed input
// refused without reading out of bounds.
#include "shmio/cluster/wire.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>

#include "shmio/cluster/node.hpp"

namespace sio = shmio::socketio;
using namespace shmio::cluster;

namespace {

std::vector<std::byte> broadcast_bytes(const sio::BroadcastOptions& opts, std::uint8_t flags,
                                       std::uint64_t ack, const std::string& frame,
                                       const std::vector<sio::Binary>& att,
                                       const std::string& nsp = "/chat") {
  std::vector<std::byte> buf(broadcast_size(nsp, opts, frame.size(), att));
  const std::size_t at = write_broadcast(buf, nsp, opts, flags, ack, frame, att);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()) + at, frame.size()), frame);
  return buf;
}

}  // namespace

TEST(ClusterWire, BroadcastRoundTrip) {
  sio::BroadcastOptions opts;
  opts.rooms = {"a", "room b"};
  opts.except = {"x"};
  opts.flags.timeout_ms = 30000;
  const std::vector<sio::Binary> att = {std::make_shared<const std::string>("\x01\x02", 2),
                                        std::make_shared<const std::string>("")};
  auto buf = broadcast_bytes(opts, kFlagVolatile | kFlagAck, 42, "452-/chat,[\"e\"]", att);
  auto v = read_broadcast(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->flags, kFlagVolatile | kFlagAck);
  EXPECT_EQ(v->nsp, "/chat");
  EXPECT_EQ(v->rooms, (std::vector<std::string_view>{"a", "room b"}));
  EXPECT_EQ(v->except, (std::vector<std::string_view>{"x"}));
  EXPECT_EQ(v->frame, "452-/chat,[\"e\"]");
  ASSERT_EQ(v->attachments.size(), 2u);
  EXPECT_EQ(v->attachments[0], std::string_view("\x01\x02", 2));
  EXPECT_EQ(v->attachments[1], "");
  EXPECT_EQ(v->ack_id, 42u);
  EXPECT_EQ(v->timeout_ms, 30000u) << "the requester's ack timeout travels with the record";
}

TEST(ClusterWire, BroadcastRefusesEveryTruncationAndTrailingBytes) {
  sio::BroadcastOptions opts;
  opts.rooms = {"r"};
  auto buf =
      broadcast_bytes(opts, 0, 0, "451-[\"e\"]", {std::make_shared<const std::string>("zz")});
  for (std::size_t n = 0; n < buf.size(); ++n)
    EXPECT_FALSE(read_broadcast(std::span<const std::byte>(buf.data(), n))) << n;
  buf.push_back(std::byte{0});
  EXPECT_FALSE(read_broadcast(buf));
}

TEST(ClusterWire, BroadcastRefusesBadVersionCountsAndEmptyFrame) {
  auto buf = broadcast_bytes({}, 0, 0, "42[\"e\"]", {});
  auto bad = buf;
  bad[0] = std::byte{3};  // version
  EXPECT_FALSE(read_broadcast(bad));
  // Version 1 (before 2026-12-02: no ack timeout, a 24-byte header), as an emitter of that build
  // writes it: still read, its timeout none said.
  auto v1 = buf;
  v1[0] = std::byte{1};
  v1.erase(v1.begin() + 24, v1.begin() + 28);
  auto old = read_broadcast(v1);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->frame, "42[\"e\"]");
  EXPECT_EQ(old->timeout_ms, 0u);
  bad = buf;
  bad[4] = std::byte{0xFF};  // 255 rooms announced, none present
  EXPECT_FALSE(read_broadcast(bad));
  bad = buf;
  bad[8] = std::byte{0xFF};  // attachments announced, none present
  bad[11] = std::byte{0x7F};
  EXPECT_FALSE(read_broadcast(bad));
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, "", {})));
}

// A record's attachments are as many as its frame's header counts, and at most
// kMaxRecordBinaries; a message's blobs at most that many too. Before 2026-12-05 only their bytes
// bounded them: a 16 MiB record of empty attachments made every worker build 4 million frames
// (found by a review).
TEST(ClusterWire, AttachmentsAreAsManyAsTheFrameCountsAndBounded) {
  const auto one = std::make_shared<const std::string>("b");
  EXPECT_TRUE(read_broadcast(broadcast_bytes({}, 0, 0, "451-[\"e\",{}]", {one})));
  EXPECT_TRUE(read_broadcast(broadcast_bytes({}, 0, 0, "461-/x,7[{}]", {one})));
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, "452-[\"e\"]", {one}))) << "one short";
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, "42[\"e\"]", {one}))) << "none counted";
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, "45[\"e\"]", {}))) << "no count";
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, "450-[\"e\"]", {one})));
  EXPECT_TRUE(read_broadcast(broadcast_bytes({}, 0, 0, "450-[\"e\"]", {})));
  const std::vector<sio::Binary> many(kMaxRecordBinaries + 1,
                                      std::make_shared<const std::string>());
  const std::string counted = "45" + std::to_string(many.size()) + "-[\"e\"]";
  EXPECT_FALSE(read_broadcast(broadcast_bytes({}, 0, 0, counted, many))) << "past the bound";
  EXPECT_FALSE(broadcast_fits("/", {}, many.size()));
  EXPECT_TRUE(broadcast_fits("/", {}, kMaxRecordBinaries));
  const std::vector<sio::Binary> most(many.begin(), many.end() - 1);
  EXPECT_TRUE(read_broadcast(
      broadcast_bytes({}, 0, 0, "45" + std::to_string(most.size()) + "-[\"e\"]", most)));
  const std::string blobs = write_message({{"nsp", "/"}}, many);
  EXPECT_FALSE(read_message({reinterpret_cast<const std::byte*>(blobs.data()), blobs.size()}));
  const std::string fewer = write_message({{"nsp", "/"}}, most);
  EXPECT_TRUE(read_message({reinterpret_cast<const std::byte*>(fewer.data()), fewer.size()}));
}

TEST(ClusterWire, MessageRoundTripWithBlobs) {
  const std::string bytes =
      write_message({{"nsp", "/"}, {"requestId", 7}}, {std::make_shared<const std::string>("bin")});
  auto m = read_message({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(m);
  EXPECT_EQ(boost::json::serialize(m->body), R"({"nsp":"/","requestId":7})");
  ASSERT_EQ(m->blobs.size(), 1u);
  EXPECT_EQ(*m->blobs[0], "bin");
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(read_message({reinterpret_cast<const std::byte*>(bytes.data()), n})) << n;
}

// A message nests what a client or a fleet peer sent: deeper than Boost.JSON's default 32 is read
// (before, a fleet peer's argument of 31-64 levels, accepted by the bridge, was refused by every
// worker), up to kMaxMessageDepth.
TEST(ClusterWire, AMessageNestingDeeperThan32IsRead) {
  auto nested = [](std::size_t levels) {
    boost::json::value v = 1;
    for (std::size_t i = 0; i < levels; ++i) v = boost::json::array{std::move(v)};
    return write_message({{"args", std::move(v)}});
  };
  auto read = [](const std::string& bytes) {
    return read_message({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  };
  EXPECT_TRUE(read(nested(64)));
  EXPECT_TRUE(read(nested(kMaxMessageDepth - 1)));
  EXPECT_FALSE(read(nested(kMaxMessageDepth + 1)));
}

// A string that is not UTF-8 (a header value a client sent, an app's room name) crosses as the
// writing worker held it: before 2026-12-03 the record was refused as bad, and a fetchSockets
// answer holding one timed out on every other worker.
TEST(ClusterWire, AMessageWithAStringThatIsNotUtf8IsRead) {
  const std::string bad =
      "a\xff"
      "b\xE2\x82";
  const std::string bytes = write_message({{"room", bad}, {"ok", "fine"}});
  auto m = read_message({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(m) << "refused";
  EXPECT_EQ(std::string(m->body.at("room").as_string()), bad);
  EXPECT_EQ(std::string(m->body.at("ok").as_string()), "fine");
}

TEST(ClusterWire, MessageRefusesNonObjectJsonAndHugeBlobCounts) {
  const std::string arr = write_message({});
  std::string bad = arr;
  bad.replace(4, 2, "[]");
  EXPECT_FALSE(read_message({reinterpret_cast<const std::byte*>(bad.data()), bad.size()}));
  bad = arr;
  bad[6] = '\xFF';  // blob count 0xFF.. with no bytes behind it
  bad[9] = '\x7F';
  EXPECT_FALSE(read_message({reinterpret_cast<const std::byte*>(bad.data()), bad.size()}));
}

TEST(ClusterWire, OptionsAndHandshakeJson) {
  sio::BroadcastOptions o;
  o.rooms = {"a"};
  o.except = {"b", "c"};
  o.flags.volatile_ = true;
  o.flags.compress = false;
  const auto back = options_from_json(options_to_json(o));
  EXPECT_EQ(back.rooms, o.rooms);
  EXPECT_EQ(back.except, o.except);
  EXPECT_TRUE(back.flags.volatile_);
  EXPECT_FALSE(back.flags.compress);
  EXPECT_FALSE(back.flags.local);
  EXPECT_EQ(back.flags.timeout_ms, 0u) << "none said";
  o.flags.timeout_ms = 300;  // (a request's operator timeout: socket.io's flags.timeout)
  EXPECT_EQ(options_from_json(options_to_json(o)).flags.timeout_ms, 300u);
  for (const boost::json::value& bad : {boost::json::value("300"), boost::json::value(-5),
                                        boost::json::value(0.5), boost::json::value(nullptr)})
    EXPECT_EQ(options_from_json({{"flags", {{"timeout", bad}}}}).flags.timeout_ms, 0u) << bad;
  EXPECT_EQ(options_from_json({{"flags", {{"timeout", 1e12}}}}).flags.timeout_ms, 0xFFFFFFFFu);
  // Wrong types are ignored, not trusted.
  const auto junk = options_from_json({{"rooms", 5}, {"except", {1, "ok"}}, {"flags", "x"}});
  EXPECT_TRUE(junk.rooms.empty());
  EXPECT_EQ(junk.except, (std::set<std::string>{"ok"}));

  sio::Handshake h;
  auto r = std::make_shared<shmio::engineio::HandshakeRequest>();
  r->add_header("host", "x");
  r->add_header("cookie", "");
  r->add_query("EIO", "4");
  r->set_url("/socket.io/?EIO=4");
  r->set_address("127.0.0.1");
  h.request = r;
  h.auth = {{"token", "t"}};
  h.issued_ms = 123;
  const auto hb = handshake_from_json(handshake_to_json(h));
  EXPECT_EQ(hb.headers(), h.headers());
  EXPECT_EQ(hb.headers().size(), 2u);
  EXPECT_EQ(hb.header("cookie"), std::optional<std::string_view>(""));
  EXPECT_EQ(hb.query(), h.query());
  EXPECT_EQ(hb.url(), h.url());
  EXPECT_EQ(hb.auth, h.auth);
  EXPECT_EQ(hb.address(), h.address());
  EXPECT_TRUE(sio::Handshake{}.headers().empty()) << "no request: empty, not a crash";
  EXPECT_EQ(hb.issued_ms, 123);

  // As socket.io writes a handshake (a Node member's fetchSockets reads it so): headers and query
  // objects, a repeated header joined (cookie with "; "), set-cookie a list, a repeated query key
  // a list; time as Date's toString, xdomain when an origin was sent, secure.
  auto many = std::make_shared<shmio::engineio::HandshakeRequest>();
  many->add_header("host", "h");
  many->add_header("accept", "a");
  many->add_header("accept", "b");
  many->add_header("cookie", "x=1");
  many->add_header("cookie", "y=2");
  many->add_header("set-cookie", "s=1");
  many->add_header("origin", "https://o");
  many->add_query("EIO", "4");
  many->add_query("k", "1");
  many->add_query("k", "2");
  sio::Handshake m;
  m.request = many;
  m.issued_ms = 1764817200000;  // 2025-12-04 03:00:00 UTC
  const boost::json::object j = handshake_to_json(m);
  EXPECT_EQ(
      boost::json::serialize(j.at("headers")),
      R"({"host":"h","accept":"a, b","cookie":"x=1; y=2","set-cookie":["s=1"],"origin":"https://o"})");
  EXPECT_EQ(boost::json::serialize(j.at("query")), R"({"EIO":"4","k":["1","2"]})");
  EXPECT_EQ(j.at("time"), "Thu Dec 04 2025 03:00:00 GMT+0000 (Coordinated Universal Time)");
  EXPECT_EQ(j.at("xdomain"), true);
  EXPECT_EQ(j.at("secure"), false);
  EXPECT_EQ(handshake_to_json(h).at("xdomain"), false) << "no origin";
  // The same fields on the Handshake itself, for an app (handshake.time, .xdomain, .secure).
  EXPECT_EQ(m.time(), j.at("time").as_string());
  EXPECT_TRUE(m.xdomain());
  EXPECT_FALSE(h.xdomain());
  auto empty_origin = std::make_shared<shmio::engineio::HandshakeRequest>();
  empty_origin->add_header("origin", "");
  sio::Handshake e;
  e.request = empty_origin;
  EXPECT_FALSE(e.xdomain()) << "an empty Origin is no origin (!!headers.origin)";
  EXPECT_FALSE(sio::Handshake::secure());
  sio::Handshake before_1970;
  before_1970.issued_ms = -1;  // (new Date(-1).toString() in UTC)
  EXPECT_EQ(before_1970.time(), "Wed Dec 31 1969 23:59:59 GMT+0000 (Coordinated Universal Time)");
  // Read back: every value, lists as their elements.
  const auto mb = handshake_from_json(j);
  EXPECT_EQ(mb.header("accept"), std::optional<std::string_view>("a, b"));
  EXPECT_EQ(mb.header("set-cookie"), std::optional<std::string_view>("s=1"));
  EXPECT_EQ(mb.query().size(), 3u);
  EXPECT_EQ(mb.issued_ms, 1764817200000);
  // The older form ([name, value] pairs) is read too; values of other kinds are skipped.
  const auto old = handshake_from_json(
      boost::json::parse(
          R"({"headers":[["host","h"],["bad"]],"query":{"EIO":"4","n":5,"l":["a",1]}})")
          .as_object());
  EXPECT_EQ(old.header("host"), std::optional<std::string_view>("h"));
  EXPECT_EQ(old.headers().size(), 1u);
  EXPECT_EQ(old.query().size(), 2u) << "EIO and l's string";
}

// Handshake::header as socket.io's handshake.headers[name] (Node's request.headers): a repeated
// header's values joined — a proxy's X-Forwarded-For line after the client's own included (before
// 2026-12-04 the first alone, the client's) —, cookie with "; ", and the first of those Node keeps
// one of (host, user-agent, ...), here and on the fleet's wire alike.
TEST(ClusterWire, AHandshakesRepeatedHeaderIsJoinedAsNodeJoinsIt) {
  auto r = std::make_shared<shmio::engineio::HandshakeRequest>();
  r->add_header("x-forwarded-for", "1.1.1.1");
  r->add_header("host", "a");
  r->add_header("x-forwarded-for", "2.2.2.2");
  r->add_header("host", "b");
  r->add_header("cookie", "x=1");
  r->add_header("cookie", "y=2");
  r->add_header("user-agent", "u1");
  r->add_header("user-agent", "u2");
  sio::Handshake h;
  h.request = r;
  EXPECT_EQ(h.header("x-forwarded-for"), std::optional<std::string>("1.1.1.1, 2.2.2.2"));
  EXPECT_EQ(h.header("cookie"), std::optional<std::string>("x=1; y=2"));
  EXPECT_EQ(h.header("host"), std::optional<std::string>("a"));
  EXPECT_EQ(h.header("user-agent"), std::optional<std::string>("u1"));
  EXPECT_EQ(h.header("missing"), std::nullopt);
  EXPECT_EQ(
      boost::json::serialize(handshake_to_json(h).at("headers")),
      R"({"x-forwarded-for":"1.1.1.1, 2.2.2.2","host":"a","cookie":"x=1; y=2","user-agent":"u1"})");
}

TEST(ClusterWire, Offsets) {
  EXPECT_EQ(offset_of(0), "0000000000000000");
  EXPECT_EQ(offset_of(0x1a40), "0000000000001a40");
  EXPECT_EQ(position_of(offset_of(0xfedcba9876543210ULL)), 0xfedcba9876543210ULL);
  EXPECT_FALSE(position_of("1a40"));
  EXPECT_FALSE(position_of("000000000000001G"));
  EXPECT_FALSE(position_of("000000000000001A"));  // lower case only, as written
}

TEST(ClusterWire, AWorkersOffsetNamesItsWorkerLogEntryRingAndPosition) {
  const WorkerOffset o{0x7f, 0xabcdef012345ULL, 0x10, 0xfedcba9876543210ULL};
  const std::string s = worker_offset_of(o);
  EXPECT_EQ(s, "7fabcdef01234510fedcba9876543210");
  const auto back = worker_offset_from(s);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->worker, 0x7fu);
  EXPECT_EQ(back->entry, 0xabcdef012345ULL);
  EXPECT_EQ(back->ring, 0x10u);
  EXPECT_EQ(back->position, 0xfedcba9876543210ULL);
  EXPECT_FALSE(worker_offset_from(offset_of(5))) << "a shared ring's offset";
  EXPECT_FALSE(worker_offset_from(s + "0"));
  std::string bad = s;
  for (std::size_t i : {0u, 5u, 14u, 31u}) {
    bad = s;
    bad[i] = 'G';
    EXPECT_FALSE(worker_offset_from(bad)) << i;
  }
  // The frame's placeholder: written over in place, only where the frame ends with one.
  std::string frame = "42[\"m\",\"" + std::string(kWorkerOffsetDigits, '0') + "\"]";
  EXPECT_TRUE(patch_offset(frame.data(), frame.size(), s));
  EXPECT_EQ(frame, "42[\"m\",\"" + s + "\"]");
  std::string no = "42[\"m\",1]";
  EXPECT_FALSE(patch_offset(no.data(), no.size(), s));
  EXPECT_EQ(no, "42[\"m\",1]");
}

TEST(ClusterWire, SessionIdsNameTheirWorker) {
  for (int i : {0, 1, 63, 64, 4095}) {
    const std::string sid = session_prefix(i) + "restOfTheId123456";
    EXPECT_EQ(session_owner(sid), i);
  }
  EXPECT_EQ(session_owner("x"), -1);
  EXPECT_EQ(session_owner("!!abc"), -1);
}

TEST(ClusterWire, NonFiniteNumbersAreWrittenAsNull) {
  // A client can send 1E400 (infinity once parsed); the other worker must still parse the record.
  const std::string bytes = write_message({{"args", {std::numeric_limits<double>::infinity(), 1}}});
  auto m = read_message({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(m);
  EXPECT_EQ(boost::json::serialize(m->body), R"({"args":[null,1]})");
}

TEST(ClusterWire, BroadcastFitsOnlyU16Lengths) {
  sio::BroadcastOptions ok;
  ok.rooms = {std::string(0xFFFF, 'r')};
  EXPECT_TRUE(broadcast_fits(std::string(0xFFFF, 'n'), ok));
  EXPECT_FALSE(broadcast_fits(std::string(0x10000, 'n'), ok));
  sio::BroadcastOptions long_room;
  long_room.except = {std::string(0x10000, 'x')};
  EXPECT_FALSE(broadcast_fits("/", long_room));
  sio::BroadcastOptions many;
  for (int i = 0; i <= 0xFFFF; ++i) many.rooms.insert(std::to_string(i));
  EXPECT_FALSE(broadcast_fits("/", many));
  sio::BroadcastFlags f;
  f.volatile_ = true;
  f.compress = false;
  EXPECT_EQ(broadcast_flags(f), kFlagVolatile);
}

TEST(ClusterWire, SocketsSplitIntoPartsThatFitARecord) {
  namespace json = boost::json;
  json::array sockets;
  for (int i = 0; i < 10; ++i) sockets.push_back(json::object{{"id", std::string(20, 'a' + i)}});
  sockets.push_back(json::object{{"id", std::string(500, 'z')}});  // over any budget below
  const std::size_t one = json::serialize(sockets[0]).size() + 1;
  std::vector<std::size_t> refused;
  std::vector<std::size_t> bytes;
  auto parts = split_sockets(
      sockets, 3 * one, [&](std::size_t n) { refused.push_back(n); }, &bytes);
  ASSERT_EQ(parts.size(), 4u);  // 3 + 3 + 3 + 1
  EXPECT_EQ(bytes, (std::vector<std::size_t>{3 * one, 3 * one, 3 * one, one}));
  EXPECT_EQ(parts[0].size(), 3u);
  EXPECT_EQ(parts[3].size(), 1u);
  EXPECT_EQ(parts[3][0].as_object().at("id"), json::value(std::string(20, 'j')));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0], json::serialize(sockets[10]).size() + 1);
  // Nothing to answer: still one (empty) part, which says there is one.
  auto none = split_sockets({}, 100);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].empty());
}

// A socket is measured as write_message writes it (JavaScript's number format): a double of 1e20
// is 21 bytes there, 4 in Boost.JSON's own format, by which a part of such sockets measured half a
// record could pass a whole one (until 2026-12-07).
TEST(ClusterWire, SocketsAreMeasuredAsTheyAreWritten) {
  namespace json = boost::json;
  json::array data;
  for (int i = 0; i < 100; ++i) data.push_back(1e20);
  json::array sockets{json::object{{"id", "s"}, {"data", data}}};
  const std::string written = write_message(json::object{{"sockets", sockets}});
  std::vector<std::size_t> bytes;
  const auto parts = split_sockets(sockets, 1 << 20, {}, &bytes);
  ASSERT_EQ(bytes.size(), 1u);
  EXPECT_GT(bytes[0], 100 * std::string_view("100000000000000000000").size());
  EXPECT_LE(bytes[0], written.size());  // (the record: its envelope and this socket)
  std::vector<std::size_t> refused;
  // A budget between the two measures: the socket does not fit, and is said.
  (void)split_sockets(sockets, 100 * 10, [&](std::size_t n) { refused.push_back(n); });
  EXPECT_EQ(refused.size(), 1u);
}

// An answer bounded for a ring (bounded_socket_parts) keeps to its total even where a part's
// budget is larger (more than 8 workers on the shared ring: each one's share under half a
// record). Before 2026-12-06 the first part was kept whatever its size: up to the budget.
TEST(ClusterWire, AnAnswersPartsKeepToItsTotalWhenTheBudgetIsLarger) {
  namespace json = boost::json;
  json::array sockets;
  for (int i = 0; i < 10; ++i) sockets.push_back(json::object{{"id", std::string(20, 'a' + i)}});
  const std::size_t one = json::serialize(sockets[0]).size() + 1;
  std::size_t left_out = 0;
  auto parts = bounded_socket_parts(sockets, 8 * one, 3 * one, left_out);
  std::size_t kept = 0;
  for (const auto& p : parts) kept += p.size();
  EXPECT_EQ(kept, 3u);
  EXPECT_EQ(left_out, 7u);
}

// The ack ids' stride: the smallest power of two past the workers and the fleet bridge, whose
// residue (stride - 1) is never a worker's index.
TEST(AckIdStride, PastEveryWorkerAndTheBridge) {
  EXPECT_EQ(ack_id_stride(1), 2u);
  EXPECT_EQ(ack_id_stride(2), 4u);
  EXPECT_EQ(ack_id_stride(3), 4u);
  EXPECT_EQ(ack_id_stride(4), 8u);
  EXPECT_EQ(ack_id_stride(960), 1024u);
  EXPECT_EQ(ack_id_stride(0), 2u);
  for (int w = 1; w <= 960; ++w) {
    const std::uint64_t s = ack_id_stride(w);
    EXPECT_GT(s - 1, static_cast<std::uint64_t>(w - 1)) << w;  // (the bridge's residue)
    EXPECT_GE((sio::kMaxAckId - (s - 1)) / s + 1, std::uint64_t{1} << 21) << w;
  }
}
