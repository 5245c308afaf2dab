// The classic @socket.io/redis-adapter's channels and broadcast message (issue 13, docs/redis.md;
// ../shared/design/redis-protocols.md, section A): what the fleet bridge publishes for a broadcast
// and what it takes from Redis.
//
// Channels, with the adapter's `key` (default "socket.io") and a namespace:
//   broadcast `${key}#${nsp}#`, room broadcast `${key}#${nsp}#${room}#` (exactly one room),
//   request `${key}-request#${nsp}#`, response `${key}-response#${nsp}#`, a server's own
//   response channel `${key}-response#${nsp}#${uid}#`; subscribers PSUBSCRIBE `${key}#${nsp}#*`.
// A broadcast is the MessagePack array [uid, packet, opts]: packet the socket.io-parser object
// {type: 2, data: [event, ...args], nsp} with binary arguments as bin values (no placeholders; a
// receiver with attachments turns it into a BINARY_EVENT), opts {rooms, except, flags}.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "shmio/cluster/msgpack.hpp"  // kMaxValues
#include "shmio/cluster/wire.hpp"     // MessageType: the envelope's types
#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"

namespace shmio::cluster::fleet {

// Room names one fleet request may carry in a list (its rooms, its except, a join's or leave's
// rooms): as many as a broadcast in the ring may (broadcast_fits). A request with more is refused
// as malformed: a join of 1.6 million rooms for every socket was sockets x rooms inserts in every
// worker (before 2026-12-03; a helper's review).
inline constexpr std::size_t kMaxRoomsPerRequest = kMaxBroadcastNames;

// At least how many values a JSON fleet message holds, counted without parsing it: a message of
// more than kMaxJsonValues is refused before it is parsed. As many as MessagePack takes
// (msgpack::kMaxValues, 4,194,304: an estimate of at most about 200 MiB to parse, from the
// 768 MiB a helper saw for 16 Mi values, about 48 bytes a value with the parser's stack). A binary
// argument in JSON (the classic protocol) is a Node Buffer, one value a byte: one of up to 4 MiB
// passes here, and more would not fit a ring record anyway (its text, 2 to 4 bytes a byte, goes
// into one record of at most 16 MiB; 8 MiB with the default ring).
inline constexpr std::size_t kMaxJsonValues = msgpack::kMaxValues;
std::size_t json_values_at_least(std::string_view text);

// The socket.io-parser packet object of a broadcast as the Node adapters send it, {type: 2, data,
// nsp} (and its id), binary arguments as placeholders there (the caller's attachments); and back
// (an EVENT, or a BINARY_EVENT with `attachments`): nullptr, or why not.
boost::json::object packet_to_json(const socketio::Packet& p);
const char* packet_from_json(const boost::json::object& o,
                             std::vector<socketio::Binary> attachments, socketio::Packet& out);
// Broadcast options as the Node adapters send them, {rooms, except, flags}; and back (rooms sent
// as numbers accepted): false for lists that are not of room names.
boost::json::object options_to_json(const socketio::BroadcastOptions& o);
bool options_from_json(const boost::json::value* v, socketio::BroadcastOptions& o);
// A room as Node may name one: a string, or a number (by its decimal string); nullopt otherwise.
std::optional<socketio::Room> room_from_json(const boost::json::value& v);

struct ClassicChannels {
  std::string broadcast;                                 // ${key}#${nsp}#
  std::string request;                                   // ${key}-request#${nsp}#
  std::string response;                                  // ${key}-response#${nsp}#
  std::string pattern;                                   // ${key}#${nsp}#*
  std::string room(std::string_view room) const;         // ${key}#${nsp}#${room}#
  std::string own_response(std::string_view uid) const;  // ${key}-response#${nsp}#${uid}#
  // The channel a broadcast is published on: the room's when it names exactly one room.
  std::string publish_channel(const socketio::BroadcastOptions& opts) const;
  // The room a message's channel names (the receiver-side filter): "" for the namespace-wide
  // channel, nullopt for a channel that is not this namespace's broadcast channel.
  std::optional<std::string> room_of(std::string_view channel) const;
};
ClassicChannels classic_channels(std::string_view key, std::string_view nsp);

struct ClassicBroadcast {
  std::string uid;          // the publishing server ("emitter" for @socket.io/redis-emitter)
  socketio::Packet packet;  // EVENT, or BINARY_EVENT with its attachments; nsp set
  socketio::BroadcastOptions opts;
};
// `p` an EVENT or BINARY_EVENT (its data with placeholders, attachments beside). Flags: volatile
// as {"volatile": true}, compress off as {"compress": false}; local broadcasts are not published
// (the caller's rule).
std::string encode_classic_broadcast(std::string_view uid, const socketio::Packet& p,
                                     const socketio::BroadcastOptions& opts);
// nullopt (and why) for anything that is not a broadcast as the Node adapter and emitter send it.
std::optional<ClassicBroadcast> decode_classic_broadcast(std::string_view bytes,
                                                         std::string* error = nullptr);

// --- requests and responses (the request and response channels)
//
// Requests are JSON, except BROADCAST (with acks), which is MessagePack; a receiver tells them by
// the first byte ('{': JSON). Responses likewise: BROADCAST_ACK is MessagePack, the rest JSON.
enum class ClassicRequestType : int {
  sockets = 0,  // adapter 7.x's allSockets: {rooms} -> {sockets: [ids]} (8.x never sends it)
  all_rooms = 1,
  remote_join = 2,
  remote_leave = 3,
  remote_disconnect = 4,
  remote_fetch = 5,
  server_side_emit = 6,
  broadcast = 7,
  broadcast_client_count = 8,
  broadcast_ack = 9,
};

struct ClassicRequest {
  ClassicRequestType type = ClassicRequestType::all_rooms;
  std::string uid;                  // the requesting server
  std::string request_id;           // "" where the request wants no answer
  socketio::BroadcastOptions opts;  // join/leave/disconnect/fetch/broadcast: which sockets
  std::set<socketio::Room> rooms;   // join/leave: the rooms to join or leave
  bool close = false;               // disconnect: close the underlying connection too
  // join/leave/disconnect in the older form, one socket by its id ({sid, room} / {sid, close},
  // adapter 7.x): the server holding that socket answers {requestId} once it is done.
  bool one_socket = false;
  boost::json::array data;  // server_side_emit: [event, ...args]
  std::vector<socketio::Binary>
      attachments;          // server_side_emit: binary values, placeholders in data
  socketio::Packet packet;  // broadcast: the packet (EVENT / BINARY_EVENT, its ack id)
};
std::string encode_classic_request(const ClassicRequest& r);
std::optional<ClassicRequest> decode_classic_request(std::string_view bytes,
                                                     std::string* error = nullptr);

// A response as the requester reads it: its request id, its type where the format has one
// (server_side_emit 6, broadcast_client_count 8, broadcast_ack 9), and the rest of its fields
// (rooms, sockets, data, clientCount, packet), bin values as placeholders with the attachments.
struct ClassicResponse {
  std::string request_id;
  std::optional<ClassicRequestType> type;
  boost::json::object fields;
  std::vector<socketio::Binary> attachments;
};
std::optional<ClassicResponse> decode_classic_response(std::string_view bytes,
                                                       std::string* error = nullptr);
// The request id of a response as Node's classic adapter writes it, JSON or MessagePack (its
// "requestId" a string among the top-level object's first fields, within kPeekBytes, no other
// object or array opened before it), read without parsing the rest; nullopt where it cannot be
// told so (escapes, another order, bytes that are neither): the response is then parsed. Every
// member gets every response on the shared channel, and Node's adapter drops those of requests not
// its own; so does the bridge, without parsing them (a member's answer of 80,000 sockets is past
// kMaxJsonValues).
inline constexpr std::size_t kPeekBytes = 256;
std::optional<std::string_view> peek_classic_request_id(std::string_view bytes);
// The same for a response as the sharded adapter's ClusterAdapter writes it, {type, data, uid,
// nsp} with the "requestId" among data's first fields ("data" among the top level's, only
// scalars before either): the bridge reads it where the whole answer cannot be read, so that it
// still counts as that member's answer.
std::optional<std::string_view> peek_cluster_response_id(std::string_view bytes);
// The responses a server sends (what the Node adapter's requester expects of each).
std::string encode_all_rooms_response(std::string_view request_id,
                                      const std::set<socketio::Room>& rooms);
// `sockets`: [{id, handshake, rooms, data}, ...]
std::string encode_fetch_response(std::string_view request_id, boost::json::array sockets);
// (`arg`'s placeholders stand for `attachments`: written as JSON.stringify writes a Node Buffer.)
std::string encode_server_side_emit_response(std::string_view request_id, boost::json::value arg,
                                             const std::vector<socketio::Binary>& attachments = {});
// `v` with each placeholder replaced by its binary value as JSON.stringify writes a Node Buffer,
// {"type":"Buffer","data":[byte, ...]}: how the classic adapter's JSON messages (a server-side
// emit, its answer) carry binary data. A placeholder without its attachment becomes null.
boost::json::value with_node_buffers(const boost::json::value& v,
                                     const std::vector<socketio::Binary>& attachments);
// The bytes with_node_buffers(v, attachments) would write out as Buffers: each placeholder's
// attachment as often as it is named (a placeholder may name one many times), saturating. Each
// byte becomes one JSON value (16 bytes held) and up to 4 bytes of text: what a message from the
// fleet may make the bridge hold is checked with it before it is expanded.
std::size_t node_buffer_bytes(const boost::json::value& v,
                              const std::vector<socketio::Binary>& attachments);
std::string encode_client_count_response(std::string_view request_id, std::uint64_t count);
// The answer to a join, leave or disconnect of one socket (the older form): {requestId}.
std::string encode_done_response(std::string_view request_id);
// One client's ack of a broadcast: its first argument, as the Node adapter sends it (placeholders
// in it stand for `ack.binaries`).
std::string encode_broadcast_ack_response(std::string_view request_id, const socketio::Args& ack);

// --- the sharded adapter (createShardedAdapter, Redis 7 SPUBLISH/SSUBSCRIBE; redis-protocols.md C)
//
// It speaks socket.io-adapter's ClusterAdapter messages: an envelope {type, data, uid, nsp}, JSON,
// or MessagePack when a BROADCAST (3), FETCH_SOCKETS_RESPONSE (8), SERVER_SIDE_EMIT (9), its
// response (10) or BROADCAST_ACK (12) carries binary data. Channels with `channelPrefix` (default
// "socket.io"): main `${prefix}#${nsp}#`, a server's own response channel
// `${prefix}#${nsp}#${uid}#`, and in the dynamic subscription modes a room's
// `${prefix}#${nsp}#${room}#`.
enum class SubscriptionMode { static_, dynamic, dynamic_private };

// The Node adapter's test of a room that is a socket's own (its id): 20 characters as JavaScript
// counts them (UTF-16 code units; before 2026-12-03 counted here in UTF-8 bytes, so a room of 19
// such characters and 20 bytes, "salle-de-réunion-12", was taken for a socket id: its broadcasts
// from Node, sent on the room's channel, were never subscribed to; a helper's review). Ill-formed
// UTF-8 counts about as a decoder's replacement characters would (a unit per byte that is not a
// continuation byte; two for a four-byte lead): names a Node app would not make.
std::size_t utf16_units(std::string_view utf8) noexcept;
inline bool looks_like_socket_id(std::string_view room) noexcept {
  return utf16_units(room) == 20;
}

struct ShardedChannels {
  std::string main;                                      // ${prefix}#${nsp}#
  std::string own_response(std::string_view uid) const;  // ${prefix}#${nsp}#${uid}#
  std::string room(std::string_view room) const;         // ${prefix}#${nsp}#${room}#
  // Where a message is published: a BROADCAST without ack to exactly one room goes to the room's
  // channel in the dynamic modes ("dynamic": unless the room looks like a socket id, 20
  // characters, as the Node adapter tells them apart; "dynamic-private": any room); the rest to
  // the main channel.
  std::string publish_channel(MessageType type, bool with_ack,
                              const socketio::BroadcastOptions& opts, SubscriptionMode mode) const;
};
ShardedChannels sharded_channels(std::string_view prefix, std::string_view nsp);

struct ClusterMessage {
  MessageType type = MessageType::broadcast;
  std::string uid;  // the sender ("emitter" for an emitter)
  std::string nsp = "/";
  boost::json::value data;                    // the type's fields (null where a type has none)
  std::vector<socketio::Binary> attachments;  // binary values in `data`, as placeholders there
};
std::string encode_cluster_message(const ClusterMessage& m);
std::optional<ClusterMessage> decode_cluster_message(std::string_view bytes,
                                                     std::string* error = nullptr);

}  // namespace shmio::cluster::fleet
