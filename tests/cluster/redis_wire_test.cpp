// The classic Redis adapter's channels and broadcast message (cluster/redis_wire.hpp), against the
// bytes notepack.io produces for the Node adapter's broadcast.
#include "shmio/cluster/redis_wire.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <memory>
#include <string>

#include "shmio/cluster/msgpack.hpp"

using namespace shmio::cluster;
namespace json = boost::json;
namespace sio = shmio::socketio;

namespace {
std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}
// ["abc123", {type:2, data:["chat",{text:"hi"},<Buffer 01 02 03>], nsp:"/"},
//  {rooms:["room1"], except:[], flags:{}}] as notepack.io encodes it.
const std::string kSample = unhex(
    "93a6616263313233"
    "83a474797065"
    "02"
    "a464617461"
    "93a463686174"
    "81a474657874a26869"
    "c403010203"
    "a36e7370a12f"
    "83a5726f6f6d73"
    "91a5726f6f6d31"
    "a6657863657074"
    "90"
    "a5666c616773"
    "80");
}  // namespace

TEST(ClassicRedis, ChannelsAsTheNodeAdapterNamesThem) {
  const auto c = fleet::classic_channels("socket.io", "/");
  EXPECT_EQ(c.broadcast, "socket.io#/#");
  EXPECT_EQ(c.request, "socket.io-request#/#");
  EXPECT_EQ(c.response, "socket.io-response#/#");
  EXPECT_EQ(c.pattern, "socket.io#/#*");
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
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":[1]},{}])")),
            "the packet's data is not [event, ...args]");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"],"nsp":5},{}])")),
            "the packet's nsp is not a string");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]},{"rooms":[{}]}])")),
            "rooms or except are not lists of room names");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]},[]])")), "the options are not an object");
  EXPECT_EQ(why(mp(R"(["u",{"type":2,"data":["e"]}])")), "accepted") << "no options: to all";
}
