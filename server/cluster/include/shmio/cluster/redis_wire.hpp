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

#include <optional>
#include <string>
#include <string_view>

#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"

namespace shmio::cluster::fleet {

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

}  // namespace shmio::cluster::fleet
