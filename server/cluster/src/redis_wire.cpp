#include "shmio/cluster/redis_wire.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "shmio/cluster/msgpack.hpp"

namespace shmio::cluster::fleet {

namespace json = boost::json;

ClassicChannels classic_channels(std::string_view key, std::string_view nsp) {
  const std::string k(key), n(nsp);
  return {k + "#" + n + "#", k + "-request#" + n + "#", k + "-response#" + n + "#",
          k + "#" + n + "#*"};
}
std::string ClassicChannels::room(std::string_view r) const {
  return broadcast + std::string(r) + "#";
}
std::string ClassicChannels::own_response(std::string_view uid) const {
  return response + std::string(uid) + "#";
}
std::string ClassicChannels::publish_channel(const socketio::BroadcastOptions& opts) const {
  return opts.rooms.size() == 1 ? room(*opts.rooms.begin()) : broadcast;
}
std::optional<std::string> ClassicChannels::room_of(std::string_view channel) const {
  if (channel.size() < broadcast.size() || channel.substr(0, broadcast.size()) != broadcast)
    return std::nullopt;
  std::string_view rest = channel.substr(broadcast.size());
  if (rest.empty()) return std::string();
  if (rest.back() != '#') return std::nullopt;
  rest.remove_suffix(1);
  return std::string(rest);
}

namespace {
json::array rooms_array(const std::set<socketio::Room>& rooms) {
  json::array a;
  for (const auto& r : rooms) a.emplace_back(r);
  return a;
}
// Rooms as Node may send them: strings, or numbers (a room named by a number).
bool rooms_from(const json::value* v, std::set<socketio::Room>& out) {
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_array()) return false;
  for (const json::value& r : v->get_array()) {
    if (r.is_string())
      out.emplace(r.get_string());
    else if (r.is_int64())
      out.emplace(std::to_string(r.get_int64()));
    else if (r.is_uint64())
      out.emplace(std::to_string(r.get_uint64()));
    else
      return false;
  }
  return true;
}
}  // namespace

std::string encode_classic_broadcast(std::string_view uid, const socketio::Packet& p,
                                     const socketio::BroadcastOptions& opts) {
  json::object flags;
  if (opts.flags.volatile_) flags["volatile"] = true;
  if (!opts.flags.compress) flags["compress"] = false;
  json::object packet{
      {"type", 2}, {"data", p.data ? *p.data : json::value(json::array{})}, {"nsp", p.nsp}};
  const json::value msg = json::array{json::string(uid), std::move(packet),
                                      json::object{{"rooms", rooms_array(opts.rooms)},
                                                   {"except", rooms_array(opts.except)},
                                                   {"flags", std::move(flags)}}};
  return msgpack::encode(msg, p.attachments);
}

std::optional<ClassicBroadcast> decode_classic_broadcast(std::string_view bytes,
                                                         std::string* error) {
  auto fail = [&](std::string why) -> std::optional<ClassicBroadcast> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  msgpack::DecodeError e;
  auto d = msgpack::decode(bytes, &e);
  if (!d) return fail("not MessagePack: " + e.reason + " at byte " + std::to_string(e.offset));
  if (!d->value.is_array() || d->value.get_array().size() < 2 || d->value.get_array().size() > 3)
    return fail("not [uid, packet, opts]");
  const json::array& a = d->value.get_array();
  if (!a[0].is_string()) return fail("the uid is not a string");
  if (!a[1].is_object()) return fail("the packet is not an object");
  const json::object& po = a[1].get_object();
  const json::value* type = po.if_contains("type");
  const json::value* data = po.if_contains("data");
  const json::value* nsp = po.if_contains("nsp");
  if (type == nullptr || !type->is_int64() || (type->get_int64() != 2 && type->get_int64() != 5))
    return fail("the packet is not an EVENT");
  if (data == nullptr || !data->is_array() || data->get_array().empty() ||
      !data->get_array()[0].is_string())
    return fail("the packet's data is not [event, ...args]");
  if (nsp != nullptr && !nsp->is_string() && !nsp->is_null())
    return fail("the packet's nsp is not a string");
  ClassicBroadcast b;
  b.uid = a[0].get_string();
  b.packet.nsp = nsp != nullptr && nsp->is_string() ? std::string(nsp->get_string()) : "/";
  b.packet.data = *data;
  b.packet.attachments = std::move(d->attachments);
  b.packet.type = b.packet.attachments.empty() ? socketio::PacketType::event
                                               : socketio::PacketType::binary_event;
  if (a.size() == 3 && !a[2].is_null()) {
    if (!a[2].is_object()) return fail("the options are not an object");
    const json::object& o = a[2].get_object();
    if (!rooms_from(o.if_contains("rooms"), b.opts.rooms) ||
        !rooms_from(o.if_contains("except"), b.opts.except))
      return fail("rooms or except are not lists of room names");
    if (const json::value* f = o.if_contains("flags"); f != nullptr && f->is_object()) {
      const json::object& fo = f->get_object();
      const json::value* v = fo.if_contains("volatile");
      b.opts.flags.volatile_ = v != nullptr && v->is_bool() && v->get_bool();
      const json::value* c = fo.if_contains("compress");
      b.opts.flags.compress = !(c != nullptr && c->is_bool() && !c->get_bool());
      const json::value* l = fo.if_contains("local");
      b.opts.flags.local = l != nullptr && l->is_bool() && l->get_bool();
    }
  }
  return b;
}

}  // namespace shmio::cluster::fleet
