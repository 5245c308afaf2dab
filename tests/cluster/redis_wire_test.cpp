// The classic Redis adapter's channels and broadcast message (cluster/redis_wire.hpp), against the
// bytes notepack.io produces for the Node adapter's broadcast.
#include "shmio/cluster/redis_wire.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <memory>
#include <string>

#include "notepack_sample.hpp"
#include "shmio/cluster/msgpack.hpp"

using namespace shmio::cluster;
namespace json = boost::json;
namespace sio = shmio::socketio;

namespace {
const std::string& kSample = shmio::test::kNotepackBroadcast;
}  // namespace

TEST(ClassicRedis, ChannelsAsTheNodeAdapterNamesThem) {
  const auto c = fleet::classic_channels("socket.io", "/");
  EXPECT_EQ(c.broadcast, "socket.io#/#");
  EXPECT_EQ(c.request, "socket.io-request#/#");
  EXPECT_EQ(c.response, "socket.io-response#/#");
  EXPECT_EQ(c.pattern, "socket.io#/#*");
  // (Glob characters in the key or the namespace are matched literally.)
  EXPECT_EQ(fleet::classic_channels("k[1]", "/a*?\\").pattern, R"(k\[1\]#/a\*\?\\#*)");
  EXPECT_EQ(fleet::classic_channels("k[1]", "/a*").broadcast, "k[1]#/a*#");
  EXPECT_EQ(c.room("room1"), "socket.io#/#room1#");
  EXPECT_EQ(c.own_response("abc123"), "socket.io-response#/#abc123#");
  sio::BroadcastOptions one, two, all;
  one.rooms = {"r"};
  two.rooms = {"r", "s"};
  EXPECT_EQ(c.publish_channel(one), "socket.io#/#r#") << "exactly one room: its channel";
  EXPECT_EQ(c.publish_channel(two), "socket.io#/#");
  EXPECT_EQ(c.publish_channel(all), "socket.io#/#");
  EXPECT_EQ(c.room_of("socket.io#/#room1#"), "room1");
  EXPECT_EQ(c.room_of("socket.io#/#"), "");
  EXPECT_EQ(c.room_of("socket.io#/#room1"), std::nullopt);
  EXPECT_EQ(c.room_of("socket.io#/admin#"), std::nullopt) << "another namespace's";
  EXPECT_EQ(fleet::classic_channels("app", "/chat").room("x"), "app#/chat#x#");
}

TEST(ClassicRedis, ABroadcastIsEncodedByteForByteAsTheNodeAdapterDoes) {
  sio::Packet p;
  p.type = sio::PacketType::binary_event;
  p.nsp = "/";
  p.data = json::parse(R"(["chat",{"text":"hi"},{"_placeholder":true,"num":0}])");
  p.attachments = {std::make_shared<const std::string>(std::string("\x01\x02\x03", 3))};
  sio::BroadcastOptions o;
  o.rooms = {"room1"};
  EXPECT_EQ(fleet::encode_classic_broadcast("abc123", p, o), kSample);
}

TEST(ClassicRedis, TheNodeAdaptersBroadcastIsDecoded) {
  std::string why;
  auto b = fleet::decode_classic_broadcast(kSample, &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->uid, "abc123");
  EXPECT_EQ(b->packet.type, sio::PacketType::binary_event) << "with an attachment";
  EXPECT_EQ(b->packet.nsp, "/");
  EXPECT_EQ(*b->packet.data,
            json::parse(R"(["chat",{"text":"hi"},{"_placeholder":true,"num":0}])"));
  ASSERT_EQ(b->packet.attachments.size(), 1u);
  EXPECT_EQ(*b->packet.attachments[0], std::string("\x01\x02\x03", 3));
  EXPECT_EQ(b->opts.rooms, (std::set<std::string>{"room1"}));
  EXPECT_TRUE(b->opts.except.empty());
  EXPECT_FALSE(b->opts.flags.volatile_);
  EXPECT_TRUE(b->opts.flags.compress);
  // The emitter's: uid "emitter", a volatile broadcast without compression, numeric room names.
  const std::string emitter = msgpack::encode(
      json::parse(R"(["emitter",{"type":2,"data":["news",1],"nsp":"/"},)"
                  R"({"rooms":[],"except":[42],"flags":{"volatile":true,"compress":false}}])"));
  b = fleet::decode_classic_broadcast(emitter, &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->uid, "emitter");
  EXPECT_EQ(b->packet.type, sio::PacketType::event);
  EXPECT_TRUE(b->opts.flags.volatile_);
  EXPECT_FALSE(b->opts.flags.compress);
  EXPECT_EQ(b->opts.except, (std::set<std::string>{"42"}));
  // Round trip of what shmio encodes.
  const std::string again = fleet::encode_classic_broadcast(b->uid, b->packet, b->opts);
  auto c = fleet::decode_classic_broadcast(again, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(*c->packet.data, *b->packet.data);
  EXPECT_EQ(c->opts.except, b->opts.except);
  EXPECT_TRUE(c->opts.flags.volatile_);
}

TEST(ClassicRedis, WhatIsNotABroadcastIsRefusedWithAReason) {
  auto why = [](const std::string& bytes) {
    std::string w;
    return fleet::decode_classic_broadcast(bytes, &w) ? std::string("accepted") : w;
  };
  auto mp = [](const char* text) { return msgpack::encode(json::parse(text)); };
  EXPECT_NE(why(kSample.substr(0, 20)).find("not MessagePack: truncated"), std::string::npos);
  EXPECT_EQ(why(mp(R"({"uid":"x"})")), "not [uid, packet, opts]");
  EXPECT_EQ(why(mp(R"([1,{"type":2,"data":["e"]},{}])")), "the uid is not a string");
  EXPECT_EQ(why(mp(R"(["u",{"type":3,"data":["e"]},{}])")), "the packet is not an EVENT");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[]},{}])")),
            "the packet's data is not [event, ...args]");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[true]},{}])")),
            "the packet's data is not [event, ...args]");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[null,1]},{}])")),
            "the packet's data is not [event, ...args]");
  // A numeric name, as socket.io-parser lets through (a Node member's io.emit(42)): before
  // 2026-12-05 refused, its broadcast lost for shmio's clients.
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[1]},{}])")), "accepted");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[-1.5,"x"]},{}])")), "accepted");
  // A reserved name: every client it reached closed its connection (a parse error) and
  // reconnected; passed on before 2026-12-05. The sharded adapter's JSON the same.
  for (const char* name : {"disconnect", "connect_error", "connect", "disconnecting", "newListener",
                           "removeListener"}) {
    const std::string msg = std::string(R"(["u",{"type":2,"data":[")") + name + R"("]},{}])";
    EXPECT_EQ(why(mp(msg.c_str())), "the packet's event name is reserved") << name;
    sio::Packet p;
    EXPECT_STREQ(
        fleet::packet_from_json(
            json::parse(std::string(R"({"type":2,"data":[")") + name + R"(",1]})").as_object(), {},
            p),
        "the packet's event name is reserved")
        << name;
  }
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["disconnected"]},{}])")), "accepted");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"],"nsp":5},{}])")),
            "the packet's nsp is not a string");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]},{"rooms":[{}]}])")),
            "rooms or except are not lists of room names");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]},[]])")), "the options are not an object");
  // No options, or null ones: the Node adapter's onmessage throws on them and delivers nothing
  // (read as a broadcast to every socket before 2026-12-06).
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]}])")), "not [uid, packet, opts]");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]},null])")), "the options are not an object");
  // A map shaped like a placeholder that names no attachment (one bin value, num 7): a client
  // would close its connection on it.
  std::string one_bin;
  msgpack::encode(json::parse(R"(["u",{"type":5,"data":["e",{"_placeholder":true,"num":0},)"
                              R"({"_placeholder":true,"num":7}]},{}])"),
                  {std::make_shared<const std::string>("b")}, one_bin);
  EXPECT_EQ(why(one_bin), "a placeholder names no attachment (or the data nests deeper than 64)");
  // In a plain EVENT (no binary) such a map is data, as socket.io-parser reads it.
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e",{"_placeholder":true,"num":7}]},{}])")),
            "accepted");
}

// What a fleet message may hold is bounded: a JSON message of more than kMaxJsonValues values is
// refused before it is parsed (30 MiB of "[0,0,...]" was parsed in every shmio bridge of the
// fleet: hundreds of MiB), and a request's list of more than 65,535 rooms is refused (a join of
// millions of rooms was sockets x rooms inserts in every worker). Both taken before 2026-12-03 (a
// helper's review).
TEST(ClassicRedis, AMessageOfTooManyValuesOrRoomsIsRefused) {
  std::string many = R"({"requestId":"x","sockets":[)";
  for (std::size_t i = 0; i <= fleet::kMaxJsonValues; ++i) many += i == 0 ? "0" : ",0";
  many += "]}";
  std::string why;
  EXPECT_FALSE(fleet::decode_classic_response(many, &why));
  EXPECT_NE(why.find("more than kMaxJsonValues values"), std::string::npos) << why;
  // A Node Buffer of 4 MB (one value a byte) is within it: a binary serverSideEmit argument.
  std::string buffer = R"({"requestId":"x","data":[{"type":"Buffer","data":[)";
  for (int i = 0; i < 4'000'000; ++i) buffer += i == 0 ? "7" : ",7";
  buffer += "]}]}";
  EXPECT_LT(fleet::json_values_at_least(buffer), fleet::kMaxJsonValues);
  EXPECT_GE(fleet::json_values_at_least(R"({"a":[1,2,3]})"), 4u);
  // (Commas inside strings are not values.)
  const std::string commas =
      R"({"requestId":"x","rooms":[")" + std::string(1 << 23, ',') + R"("]})";
  EXPECT_TRUE(fleet::decode_classic_response(commas, &why)) << why;
  const auto rooms = [](std::size_t n) {
    std::string out = R"({"uid":"u","type":2,"opts":{"rooms":[],"except":[]},"rooms":[)";
    for (std::size_t i = 0; i < n; ++i) out += (i ? ",\"r" : "\"r") + std::to_string(i) + "\"";
    return out + "]}";
  };
  EXPECT_TRUE(fleet::decode_classic_request(rooms(65535), &why)) << why;
  EXPECT_FALSE(fleet::decode_classic_request(rooms(65536), &why));
  EXPECT_NE(why.find("rooms are not room names"), std::string::npos) << why;
}

TEST(ClassicRedis, RequestsAsTheNodeAdapterSendsThem) {
  std::string why;
  // JSON requests, as the Node adapter writes them.
  auto r = fleet::decode_classic_request(R"({"uid":"abc123","requestId":"r1","type":1})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->type, fleet::ClassicRequestType::all_rooms);
  EXPECT_EQ(r->uid, "abc123");
  EXPECT_EQ(r->request_id, "r1");
  // Adapter 7.x's allSockets: SOCKETS (0) with the rooms whose sockets it wants.
  r = fleet::decode_classic_request(R"({"uid":"u","requestId":"r2","type":0,"rooms":["a","b"]})",
                                    &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->type, fleet::ClassicRequestType::sockets);
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"a", "b"}));
  EXPECT_FALSE(fleet::decode_classic_request(R"({"uid":"u","type":0,"rooms":[]})", &why))
      << "without a requestId";
  r = fleet::decode_classic_request(
      R"({"uid":"u","type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["x","y"]})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->type, fleet::ClassicRequestType::remote_join);
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"a"}));
  EXPECT_EQ(r->opts.except, (std::set<std::string>{"b"}));
  EXPECT_EQ(r->rooms, (std::set<std::string>{"x", "y"}));
  r = fleet::decode_classic_request(
      R"({"uid":"u","type":4,"opts":{"rooms":[],"except":[]},"close":true})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_TRUE(r->close);
  r = fleet::decode_classic_request(R"({"uid":"u","type":6,"data":["ping",1],"requestId":"q"})",
                                    &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->data, json::parse(R"(["ping",1])").get_array());
  // BROADCAST with acks: MessagePack, binary inline.
  const std::string bc = msgpack::encode(
      json::parse(
          R"({"uid":"u","requestId":"b1","type":7,)"
          R"("packet":{"type":2,"data":["e",{"_placeholder":true,"num":0}],"nsp":"/","id":3},)"
          R"("opts":{"rooms":["r"],"except":[],"flags":{"volatile":true,"timeout":30000}}})"),
      {std::make_shared<const std::string>("xyz")});
  r = fleet::decode_classic_request(bc, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->type, fleet::ClassicRequestType::broadcast);
  EXPECT_EQ(r->packet.type, sio::PacketType::binary_event);
  EXPECT_EQ(r->packet.id, 3u);
  ASSERT_EQ(r->packet.attachments.size(), 1u);
  EXPECT_EQ(*r->packet.attachments[0], "xyz");
  EXPECT_TRUE(r->opts.flags.volatile_);
  EXPECT_EQ(r->opts.flags.timeout_ms, 30000u) << "the requester's ack timeout (flags.timeout)";
  // What shmio encodes decodes to the same (and BROADCAST is MessagePack, the rest JSON).
  for (auto t :
       {fleet::ClassicRequestType::all_rooms, fleet::ClassicRequestType::remote_leave,
        fleet::ClassicRequestType::remote_disconnect, fleet::ClassicRequestType::remote_fetch,
        fleet::ClassicRequestType::server_side_emit, fleet::ClassicRequestType::broadcast}) {
    fleet::ClassicRequest q = *r;
    q.type = t;
    q.rooms = {"z"};
    q.data = json::parse(R"(["ev",2])").get_array();
    const std::string bytes = fleet::encode_classic_request(q);
    EXPECT_EQ(bytes[0] == '{', t != fleet::ClassicRequestType::broadcast) << static_cast<int>(t);
    auto back = fleet::decode_classic_request(bytes, &why);
    ASSERT_TRUE(back) << why << " " << static_cast<int>(t);
    EXPECT_EQ(back->type, t);
    EXPECT_EQ(back->request_id, "b1");
    if (t != fleet::ClassicRequestType::all_rooms &&
        t != fleet::ClassicRequestType::server_side_emit) {  // (these carry no opts)
      EXPECT_EQ(back->opts.rooms, q.opts.rooms) << static_cast<int>(t);
    }
    if (t == fleet::ClassicRequestType::remote_leave) {
      EXPECT_EQ(back->rooms, q.rooms);
    }
    if (t == fleet::ClassicRequestType::broadcast) {
      EXPECT_EQ(back->opts.flags.timeout_ms, 30000u);
    }
    if (t == fleet::ClassicRequestType::server_side_emit) {
      EXPECT_EQ(back->data, q.data);
    }
  }
}

// A join, leave or disconnect without opts is the Node adapter's older form, one socket by its id
// (what adapter 7.x's remoteJoin/remoteLeave/remoteDisconnect send), and a fetch or a broadcast
// without opts is refused (the Node adapter fails on one). Before 2026-12-03 each was read as
// "every socket": {"type":4} disconnected every client of the host.
TEST(ClassicRedis, ARequestWithoutOptsIsTheOlderOneSocketFormOrRefused) {
  std::string why;
  auto r = fleet::decode_classic_request(
      R"({"uid":"u","type":2,"sid":"s1","room":"x","requestId":"q"})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"s1"})) << "that socket only";
  EXPECT_TRUE(r->opts.except.empty());
  EXPECT_EQ(r->rooms, (std::set<std::string>{"x"}));
  EXPECT_TRUE(r->one_socket) << "answered {requestId} by the host that holds s1";
  EXPECT_EQ(fleet::encode_done_response("q"), R"({"requestId":"q"})");
  r = fleet::decode_classic_request(R"({"uid":"u","type":3,"sid":"s1","room":7})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"s1"}));
  EXPECT_EQ(r->rooms, (std::set<std::string>{"7"})) << "a room named by a number";
  r = fleet::decode_classic_request(R"({"uid":"u","type":4,"sid":"s1","close":true})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"s1"}));
  EXPECT_TRUE(r->close);
  r = fleet::decode_classic_request(R"({"uid":"u","type":4,"opts":null,"sid":"s2"})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->opts.rooms, (std::set<std::string>{"s2"})) << "null opts: the older form too";
  for (const char* bad :
       {R"({"uid":"u","type":4})", R"({"uid":"u","type":4,"close":true})",
        R"({"uid":"u","type":2,"rooms":["x"]})", R"({"uid":"u","type":2,"sid":"s"})",
        R"({"uid":"u","type":5,"requestId":"q"})",
        R"({"uid":"u","type":7,"requestId":"b","packet":{"type":2,"data":["e"],"nsp":"/"}})"}) {
    EXPECT_FALSE(fleet::decode_classic_request(bad, &why)) << bad;
  }
  // ({} as opts is every socket, as for the Node adapter: new Set(undefined) is empty.)
  r = fleet::decode_classic_request(R"({"uid":"u","type":4,"opts":{}})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_TRUE(r->opts.rooms.empty());
  EXPECT_FALSE(r->one_socket);
}

// JSON from a Node member is read as deep as its MessagePack is (Boost.JSON's default, 32 levels,
// refused a serverSideEmit whose argument nested 31), and a lone surrogate escape, which
// JSON.stringify writes for a string cut inside an emoji, as JSON.parse reads it (U+FFFD here).
TEST(ClassicRedis, JsonAsDeepAsMessagePackAndLoneSurrogatesAreRead) {
  auto nested = [](std::size_t depth) {
    return std::string(depth, '[') + "1" + std::string(depth, ']');
  };
  std::string why;
  auto r = fleet::decode_classic_request(
      R"({"uid":"u","type":6,"data":["deep",)" + nested(60) + R"(],"requestId":"q"})", &why);
  ASSERT_TRUE(r) << why;
  r = fleet::decode_classic_request(
      R"({"uid":"u","type":6,"data":["deep",)" + nested(msgpack::kMaxDepth + 20) + "]}", &why);
  EXPECT_FALSE(r) << "still bounded";
  r = fleet::decode_classic_request(R"({"uid":"u","type":6,"data":["cut","\ud83d"]})", &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->data.at(1).as_string(), "\xEF\xBF\xBD");
}

TEST(ClassicRedis, ResponsesAndTheBadOnes) {
  std::string why;
  auto r = fleet::decode_classic_response(fleet::encode_all_rooms_response("r1", {"a", "b"}), &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->request_id, "r1");
  EXPECT_FALSE(r->type) << "ALL_ROOMS' response has no type";
  EXPECT_EQ(r->fields.at("rooms"), json::parse(R"(["a","b"])"));
  r = fleet::decode_classic_response(
      fleet::encode_fetch_response("f", json::parse(R"([{"id":"s1","rooms":["s1"]}])").get_array()),
      &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->fields.at("sockets").get_array().size(), 1u);
  r = fleet::decode_classic_response(fleet::encode_server_side_emit_response("e", "pong"), &why);
  ASSERT_TRUE(r && r->type == fleet::ClassicRequestType::server_side_emit) << why;
  EXPECT_EQ(r->fields.at("data"), "pong");
  EXPECT_EQ(fleet::encode_client_count_response("b", 7),
            R"({"type":8,"requestId":"b","clientCount":7})");
  sio::Args ack(json::parse(R"([{"_placeholder":true,"num":0},"ignored"])").get_array(),
                {std::make_shared<const std::string>("bin")});
  const std::string a = fleet::encode_broadcast_ack_response("b", ack);
  EXPECT_NE(a[0], '{') << "MessagePack";
  r = fleet::decode_classic_response(a, &why);
  ASSERT_TRUE(r && r->type == fleet::ClassicRequestType::broadcast_ack) << why;
  ASSERT_EQ(r->attachments.size(), 1u) << "the first argument, its binary inline";
  EXPECT_EQ(*r->attachments[0], "bin");
  // Refused, with a reason.
  EXPECT_FALSE(fleet::decode_classic_request("{not json", &why));
  EXPECT_NE(why.find("not JSON"), std::string::npos);
  EXPECT_FALSE(fleet::decode_classic_request(R"({"uid":"u","type":12})", &why));
  EXPECT_EQ(why, "a request's type is 0..9");
  EXPECT_FALSE(fleet::decode_classic_request(R"({"uid":"u","type":5,"opts":{}})", &why));
  EXPECT_EQ(why, "this request needs a requestId");
  EXPECT_FALSE(fleet::decode_classic_request(R"({"uid":"u","type":6,"data":[]})", &why));
  EXPECT_FALSE(fleet::decode_classic_request(R"({"uid":"u","type":2,"rooms":[[1]]})", &why));
  EXPECT_FALSE(fleet::decode_classic_request(R"([1,2])", &why));
  EXPECT_FALSE(fleet::decode_classic_response(R"({"rooms":[]})", &why));
  EXPECT_FALSE(fleet::decode_classic_response("\xc1", &why));
}

// A response's request id read without parsing it, where Node's classic adapter writes it (each
// of its responses: requestId first, or after "type"), and nothing where it cannot be told so.
TEST(ClassicRedis, AResponsesRequestIdIsPeekedWhereNodeWritesIt) {
  using fleet::peek_classic_request_id;
  EXPECT_EQ(peek_classic_request_id(fleet::encode_all_rooms_response("r1", {"a"})), "r1");
  EXPECT_EQ(peek_classic_request_id(fleet::encode_fetch_response("Ab3xYz", json::array{})),
            "Ab3xYz");
  EXPECT_EQ(peek_classic_request_id(fleet::encode_server_side_emit_response("e", "x")), "e");
  EXPECT_EQ(peek_classic_request_id(fleet::encode_client_count_response("b", 7)), "b");
  // The rest is not looked at: an answer cut short still names its request.
  EXPECT_EQ(peek_classic_request_id(R"({"requestId":"zz","sockets":[{"id":)"), "zz");
  // MessagePack (a broadcast's ack, a fetch answer with binary data) as well.
  EXPECT_EQ(
      peek_classic_request_id(fleet::encode_broadcast_ack_response("b", sio::Args{json::array{}})),
      "b");
  EXPECT_EQ(
      peek_classic_request_id(msgpack::encode(
          json::object{{"requestId", "m1"},
                       {"sockets", json::array{json::object{{"_placeholder", true}, {"num", 0}}}}},
          {std::make_shared<const std::string>("x")})),
      "m1");
  // Not told: no such key in the first bytes, one inside another object or after an array,
  // escapes, an empty id, MessagePack with an array or bin before it or cut short.
  EXPECT_FALSE(peek_classic_request_id(
      msgpack::encode(json::object{{"a", json::array{}}, {"requestId", "x"}})));
  EXPECT_FALSE(peek_classic_request_id(msgpack::encode(
      json::object{{"a", json::object{{"_placeholder", true}, {"num", 0}}}, {"requestId", "x"}},
      {std::make_shared<const std::string>("x")})));
  EXPECT_FALSE(
      peek_classic_request_id(msgpack::encode(json::object{{"requestId", "abc"}}).substr(0, 12)));
  EXPECT_FALSE(peek_classic_request_id(msgpack::encode(json::object{{"requestId", ""}})));
  EXPECT_FALSE(peek_classic_request_id(R"({"rooms":[]})"));
  EXPECT_FALSE(peek_classic_request_id(R"({"data":{"requestId":"inner"},"requestId":"x"})"));
  EXPECT_FALSE(peek_classic_request_id(R"({"data":[1],"requestId":"x"})"));
  EXPECT_FALSE(peek_classic_request_id(R"({"requestId":"a\"b"})"));
  EXPECT_FALSE(peek_classic_request_id(R"({"requestId":""})"));
  EXPECT_FALSE(peek_classic_request_id("{\"data\":\"" + std::string(fleet::kPeekBytes, 'p') +
                                       "\",\"requestId\":\"x\"}"));
  EXPECT_FALSE(peek_classic_request_id(""));
}

// The sharded adapter's responses, {type, data: {requestId, ...}, uid, nsp}, JSON or MessagePack:
// the id inside data is told; at the top level, or after what is not a scalar, it is not.
TEST(ShardedRedis, AResponsesRequestIdIsPeekedWhereNodeWritesIt) {
  using fleet::peek_cluster_response_id;
  fleet::ClusterMessage m;
  m.type = MessageType::fetch_sockets_response;
  m.uid = "nodeB";
  m.data = json::object{{"requestId", "q7"}, {"sockets", json::array{}}};
  EXPECT_EQ(peek_cluster_response_id(fleet::encode_cluster_message(m)), "q7");
  m.data.as_object()["sockets"] = json::array{json::object{{"_placeholder", true}, {"num", 0}}};
  m.attachments.push_back(std::make_shared<const std::string>("bytes"));
  const std::string packed = fleet::encode_cluster_message(m);
  ASSERT_NE(packed[0], '{') << "MessagePack, as Node sends an answer with binary data";
  EXPECT_EQ(peek_cluster_response_id(packed), "q7");
  EXPECT_EQ(peek_cluster_response_id(R"({"type":12,"data":{"requestId":"j","sockets":[)"), "j");
  EXPECT_FALSE(peek_cluster_response_id(R"({"type":12,"requestId":"top"})"));
  EXPECT_FALSE(peek_cluster_response_id(R"({"x":[1],"data":{"requestId":"j"}})"));
  EXPECT_FALSE(peek_cluster_response_id(R"({"x":"a\"data\":{","data":{"requestId":"j"}})"));
  EXPECT_FALSE(peek_cluster_response_id(R"({"type":12,"data":{"a":{},"requestId":"j"}})"));
  EXPECT_FALSE(peek_cluster_response_id(R"({"xdata":{"requestId":"j"}})"));
  EXPECT_FALSE(peek_cluster_response_id(R"({"type":12,"data":{"a":1},"requestId":"j"})"));
  EXPECT_FALSE(
      peek_cluster_response_id(msgpack::encode(json::object{{"type", 12}, {"requestId", "top"}})));
  EXPECT_FALSE(peek_cluster_response_id(msgpack::encode(json::object{
      {"type", 12}, {"data", json::object{{"s", json::array{}}, {"requestId", "j"}}}})));
  EXPECT_FALSE(peek_cluster_response_id(packed.substr(0, 10)));
  EXPECT_FALSE(peek_cluster_response_id(""));
}

// A server-side emit's binary arguments and its answer's: the classic adapter's messages are JSON,
// a Node Buffer in them what JSON.stringify writes ({"type":"Buffer","data":[...]}); the sharded
// adapter's envelope is MessagePack, binary as bin. (Before 2026-12-03 the bytes were left behind:
// a placeholder went out without them.)
TEST(ClassicRedis, AServerSideEmitsBinaryArgumentsAsTheNodeAdapterCarriesThem) {
  const auto bin = std::make_shared<const std::string>(std::string("\x01\x00\xff", 3));
  fleet::ClassicRequest q;
  q.type = fleet::ClassicRequestType::server_side_emit;
  q.uid = "u";
  q.data =
      json::parse(R"(["ev",{"b":{"_placeholder":true,"num":0}},[{"_placeholder":true,"num":1}]])")
          .get_array();
  q.attachments = {bin};  // (the second placeholder has no attachment: null)
  EXPECT_EQ(
      fleet::encode_classic_request(q),
      R"({"uid":"u","type":6,"data":["ev",{"b":{"type":"Buffer","data":[1,0,255]}},[null]]})");
  std::string why;
  auto back = fleet::decode_classic_request(fleet::encode_classic_request(q), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_TRUE(back->attachments.empty()) << "JSON: the Buffer is an object there, as for Node";
  EXPECT_EQ(fleet::encode_server_side_emit_response(
                "e", json::parse(R"({"_placeholder":true,"num":0})"), {bin}),
            R"({"type":6,"requestId":"e","data":{"type":"Buffer","data":[1,0,255]}})");
  EXPECT_EQ(fleet::with_node_buffers(json::parse(R"({"a":[1,"x"]})"), {}),
            json::parse(R"({"a":[1,"x"]})"))
      << "no placeholder: unchanged";
  // The same request in MessagePack (as a sharded member's envelope carries one): bin values read
  // as attachments, placeholders in data.
  auto m = fleet::decode_classic_request(
      msgpack::encode(
          json::parse(R"({"uid":"u","type":6,"data":["ev",{"_placeholder":true,"num":0}]})"),
          {bin}),
      &why);
  ASSERT_TRUE(m) << why;
  ASSERT_EQ(m->attachments.size(), 1u);
  EXPECT_EQ(*m->attachments[0], *bin);
  EXPECT_TRUE(sio::is_placeholder(m->data[1]));
  fleet::ClusterMessage e;
  e.type = MessageType::server_side_emit;
  e.uid = "0123456789abcdef";
  e.data = json::object{{"packet", m->data}};
  e.attachments = m->attachments;
  const std::string wire = fleet::encode_cluster_message(e);
  EXPECT_NE(wire[0], '{') << "MessagePack, where the Node adapter uses it";
  auto d = fleet::decode_cluster_message(wire, &why);
  ASSERT_TRUE(d) << why;
  ASSERT_EQ(d->attachments.size(), 1u);
  EXPECT_EQ(*d->attachments[0], *bin);
}

TEST(ShardedRedis, ChannelsAndWhereABroadcastIsPublished) {
  const auto c = fleet::sharded_channels("socket.io", "/");
  EXPECT_EQ(c.main, "socket.io#/#");
  EXPECT_EQ(c.own_response("0123456789abcdef"), "socket.io#/#0123456789abcdef#");
  EXPECT_EQ(c.room("r"), "socket.io#/#r#");
  sio::BroadcastOptions one, sid, two;
  one.rooms = {"news"};
  sid.rooms = {std::string(20, 'x')};  // looks like a socket id
  two.rooms = {"a", "b"};
  using T = MessageType;
  using M = fleet::SubscriptionMode;
  EXPECT_EQ(c.publish_channel(T::broadcast, false, one, M::dynamic), "socket.io#/#news#");
  EXPECT_EQ(c.publish_channel(T::broadcast, false, sid, M::dynamic), "socket.io#/#");
  EXPECT_EQ(c.publish_channel(T::broadcast, false, sid, M::dynamic_private),
            "socket.io#/#" + std::string(20, 'x') + "#");
  EXPECT_EQ(c.publish_channel(T::broadcast, false, one, M::static_), "socket.io#/#");
  EXPECT_EQ(c.publish_channel(T::broadcast, true, one, M::dynamic), "socket.io#/#")
      << "with acks: every server must count";
  EXPECT_EQ(c.publish_channel(T::broadcast, false, two, M::dynamic), "socket.io#/#");
  EXPECT_EQ(c.publish_channel(T::sockets_join, false, one, M::dynamic), "socket.io#/#");
  // 20 characters as JavaScript counts them (UTF-16 units), not bytes: 19 characters in 20 bytes
  // is a room; 20 in 40 bytes, or ten outside the BMP (two units each), look like a socket id.
  sio::BroadcastOptions accented, wide, astral;
  accented.rooms = {"salle-de-r\xC3\xA9union-12"};
  wide.rooms = {[] {
    std::string s;
    for (int i = 0; i < 20; ++i) s += "\xC3\xA9";
    return s;
  }()};
  astral.rooms = {[] {
    std::string s;
    for (int i = 0; i < 10; ++i) s += "\xF0\x9F\x98\x80";
    return s;
  }()};
  EXPECT_EQ(c.publish_channel(T::broadcast, false, accented, M::dynamic),
            c.room(*accented.rooms.begin()));
  EXPECT_EQ(c.publish_channel(T::broadcast, false, wide, M::dynamic), "socket.io#/#");
  EXPECT_EQ(c.publish_channel(T::broadcast, false, astral, M::dynamic), "socket.io#/#");
  EXPECT_EQ(fleet::utf16_units("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 5u);
}

TEST(ShardedRedis, EnvelopesInJsonOrMessagePackAsTheNodeAdapterWritesThem) {
  fleet::ClusterMessage m;
  m.type = MessageType::broadcast;
  m.uid = "0123456789abcdef";
  m.data = json::parse(
      R"({"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}})");
  const std::string plain = fleet::encode_cluster_message(m);
  EXPECT_EQ(plain[0], '{') << "no binary: JSON";
  std::string why;
  auto back = fleet::decode_cluster_message(plain, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->type, m.type);
  EXPECT_EQ(back->uid, m.uid);
  EXPECT_EQ(back->nsp, "/");
  EXPECT_EQ(back->data, m.data);
  m.data = json::parse(
      R"({"packet":{"type":2,"data":["e",{"_placeholder":true,"num":0}],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}})");
  m.attachments = {std::make_shared<const std::string>("\x00\xff", 2)};
  const std::string bin = fleet::encode_cluster_message(m);
  EXPECT_NE(bin[0], '{') << "binary: MessagePack";
  back = fleet::decode_cluster_message(bin, &why);
  ASSERT_TRUE(back) << why;
  ASSERT_EQ(back->attachments.size(), 1u);
  EXPECT_EQ(*back->attachments[0], std::string("\x00\xff", 2));
  // A type the Node adapter never writes in MessagePack stays JSON even with attachments.
  m.type = MessageType::fetch_sockets;
  EXPECT_EQ(fleet::encode_cluster_message(m)[0], '{');
  // A number JSON cannot write (NaN, from a MessagePack float) is null, as JSON.stringify writes.
  m.data = json::object{{"x", std::nan("")}, {"y", 1.5}};
  m.attachments.clear();
  EXPECT_EQ(fleet::encode_cluster_message(m),
            R"({"type":7,"uid":"0123456789abcdef","nsp":"/","data":{"x":null,"y":1.5E0}})");
  // Heartbeats carry no data.
  EXPECT_TRUE(fleet::decode_cluster_message(R"({"type":2,"uid":"x","nsp":"/"})", &why)) << why;
  EXPECT_FALSE(fleet::decode_cluster_message(R"({"type":3,"uid":"x","nsp":"/"})", &why));
  EXPECT_EQ(why, "this message's data is an object");
  EXPECT_FALSE(fleet::decode_cluster_message(R"({"type":14,"uid":"x"})", &why));
  EXPECT_EQ(why, "a message's type is 1..13");
  EXPECT_FALSE(fleet::decode_cluster_message(R"({"type":3,"data":{}})", &why));
  EXPECT_EQ(why, "a message names its sender (uid)");
  EXPECT_FALSE(fleet::decode_cluster_message("\x91", &why));
}
