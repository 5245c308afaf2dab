#include "shmio/cluster/redis_wire.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <type_traits>

#include "shmio/cluster/msgpack.hpp"

namespace shmio::cluster::fleet {

namespace json = boost::json;

namespace {
// `s` matched literally in a Redis glob pattern: its special characters escaped.
std::string glob_literal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

ClassicChannels classic_channels(std::string_view key, std::string_view nsp) {
  const std::string k(key), n(nsp);
  // (The pattern's key and namespace literal: a namespace named "/*", which a dynamic namespace
  // lets a client create, subscribed to every namespace's broadcasts before 2026-12-04.
  // @socket.io/redis-adapter does not escape them: its receivers drop what another namespace's
  // channel brings, as the bridge does.)
  return {k + "#" + n + "#", k + "-request#" + n + "#", k + "-response#" + n + "#",
          glob_literal(k) + "#" + glob_literal(n) + "#*"};
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
  if (!v->is_array() || v->get_array().size() > kMaxRoomsPerRequest) return false;
  for (const json::value& r : v->get_array()) {
    auto room = room_from_json(r);
    if (!room) return false;
    out.emplace(std::move(*room));
  }
  return true;
}
json::object opts_json(const socketio::BroadcastOptions& o, bool with_flags) {
  json::object out{{"rooms", rooms_array(o.rooms)}, {"except", rooms_array(o.except)}};
  if (with_flags) {
    json::object flags;
    if (o.flags.volatile_) flags["volatile"] = true;
    if (!o.flags.compress) flags["compress"] = false;
    if (o.flags.timeout_ms > 0) flags["timeout"] = o.flags.timeout_ms;  // (a broadcast with acks)
    out["flags"] = std::move(flags);
  }
  return out;
}
bool opts_from(const json::value* v, socketio::BroadcastOptions& o) {
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_object()) return false;
  const json::object& m = v->get_object();
  if (!rooms_from(m.if_contains("rooms"), o.rooms) ||
      !rooms_from(m.if_contains("except"), o.except))
    return false;
  if (const json::value* f = m.if_contains("flags"); f != nullptr && f->is_object()) {
    const json::value* vol = f->get_object().if_contains("volatile");
    o.flags.volatile_ = vol != nullptr && vol->is_bool() && vol->get_bool();
    const json::value* c = f->get_object().if_contains("compress");
    o.flags.compress = !(c != nullptr && c->is_bool() && !c->get_bool());
    const json::value* l = f->get_object().if_contains("local");
    o.flags.local = l != nullptr && l->is_bool() && l->get_bool();
    // A broadcast with acks: the requester's timeout in ms (socket.io's flags.timeout), a JS
    // number; kept within 1 ms .. 2^32-1 ms (a fraction, a negative or a non-number: none said).
    if (const json::value* t = f->get_object().if_contains("timeout"); t != nullptr) {
      boost::system::error_code ec;
      const double ms = t->to_number<double>(ec);
      if (!ec && ms >= 1)
        o.flags.timeout_ms = static_cast<std::uint32_t>(std::min(ms, 4294967295.0));
    }
  }
  return true;
}
// The socket.io-parser packet object of a broadcast: {type: 2, data, nsp} (and its ack id).
json::object packet_json(const socketio::Packet& p) {
  json::object o{
      {"type", 2}, {"data", p.data ? *p.data : json::value(json::array{})}, {"nsp", p.nsp}};
  if (p.id) o["id"] = *p.id;
  return o;
}
// Reads one into `out` (EVENT, or BINARY_EVENT with the attachments); why not, or nullptr. From
// a packet object that is not const, the data is moved out (a fleet broadcast's args held once).
template <class Object>
const char* packet_from(Object& po, std::vector<socketio::Binary> attachments,
                        socketio::Packet& out) {
  const json::value* type = po.if_contains("type");
  auto* data = po.if_contains("data");  // (const if po is)
  const json::value* nsp = po.if_contains("nsp");
  if (type == nullptr || !type->is_int64() || (type->get_int64() != 2 && type->get_int64() != 5))
    return "the packet is not an EVENT";
  // (A numeric event name, finite, as socket.io-parser lets through: io.emit(42) of a Node
  // member; refused before 2026-12-05, found by a review.)
  auto named = [](const json::value& n) {
    return n.is_string() || n.is_int64() || n.is_uint64() ||
           (n.is_double() && std::isfinite(n.get_double()));
  };
  if (data == nullptr || !data->is_array() || data->get_array().empty() ||
      !named(data->get_array()[0]))
    return "the packet's data is not [event, ...args]";
  // (A reserved name — "disconnect", "connect_error", ... — makes every socket.io-client that
  // receives it close its connection with a parse error and reconnect: one message from the
  // fleet disconnected every client it named. Node members throw on emitting one, and both
  // emitters here refuse them; before 2026-12-05 the bridge passed one on; found by a review.)
  if (const json::value& name = data->get_array()[0];
      name.is_string() && socketio::is_reserved_event(name.get_string()))
    return "the packet's event name is reserved";
  if (nsp != nullptr && !nsp->is_string() && !nsp->is_null())
    return "the packet's nsp is not a string";
  out.nsp = nsp != nullptr && nsp->is_string() ? std::string(nsp->get_string()) : "/";
  if constexpr (std::is_const_v<Object>)
    out.data = *data;
  else
    out.data = std::move(*data);
  if (const json::value* id = po.if_contains("id"); id != nullptr && id->is_int64())
    out.id = static_cast<std::uint64_t>(id->get_int64());
  // (In a binary packet, a map shaped like a placeholder whose num names no attachment — the bins
  // became valid ones — would make socket.io-client close every receiving socket with a parse
  // error. In a plain EVENT such a map is data, as socket.io-parser reads it.)
  if (!attachments.empty() && !socketio::placeholders_valid(*out.data, attachments.size()))
    return "a placeholder names no attachment (or the data nests deeper than 64)";
  out.attachments = std::move(attachments);
  out.type =
      out.attachments.empty() ? socketio::PacketType::event : socketio::PacketType::binary_event;
  return nullptr;
}
}  // namespace

json::object packet_to_json(const socketio::Packet& p) {
  return packet_json(p);
}
const char* packet_from_json(const json::object& o, std::vector<socketio::Binary> attachments,
                             socketio::Packet& out) {
  return packet_from(o, std::move(attachments), out);
}
json::object options_to_json(const socketio::BroadcastOptions& o) {
  return opts_json(o, true);
}
bool options_from_json(const json::value* v, socketio::BroadcastOptions& o) {
  return opts_from(v, o);
}

std::string encode_classic_broadcast(std::string_view uid, const socketio::Packet& p,
                                     const socketio::BroadcastOptions& opts) {
  const json::value msg = json::array{json::string(uid), packet_json(p), opts_json(opts, true)};
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
  if (!d->value.is_array() || d->value.get_array().size() != 3)
    return fail("not [uid, packet, opts]");
  json::array& a = d->value.get_array();  // (this function's own: the packet's data is taken)
  if (!a[0].is_string()) return fail("the uid is not a string");
  if (!a[1].is_object()) return fail("the packet is not an object");
  ClassicBroadcast b;
  b.uid = a[0].get_string();
  if (const char* bad = packet_from(a[1].get_object(), std::move(d->attachments), b.packet))
    return fail(bad);
  // (Options missing or null: refused, as the Node adapter's onmessage throws on them and
  // delivers nothing; read as a broadcast to every socket before 2026-12-06, a helper's review,
  // as requests without them are refused below.)
  if (!a[2].is_object()) return fail("the options are not an object");
  if (!opts_from(&a[2], b.opts)) return fail("rooms or except are not lists of room names");
  return b;
}

// At least how many values a JSON text holds, counted without parsing it: its '[', '{', ',' and
// ':' outside strings (every value but the first follows one of them).
std::size_t json_values_at_least(std::string_view text) {
  std::size_t n = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{' || c == ',' || c == ':') {
      ++n;
    }
  }
  return n;
}

namespace {
// JSON ('{' first) or MessagePack, as the Node adapter decides.
std::optional<msgpack::Decoded> parse_either(std::string_view bytes, std::string& why) {
  if (!bytes.empty() && bytes[0] == '{') {
    // At most kMaxJsonValues values, counted before it is parsed: a JSON message had no bound,
    // and 30 MiB of "[0,0,...]" — within Redis's default output buffer for a subscriber — was
    // parsed in every shmio bridge of the fleet (a helper measured 768 MiB of peak growth for
    // 32 MiB with the same parse call on the dev VM; not recorded under docs/results; before
    // 2026-12-03).
    if (json_values_at_least(bytes) > kMaxJsonValues) {
      why = "more than kMaxJsonValues values";
      return std::nullopt;
    }
    // As deep as MessagePack is read (plus the few levels of the envelope around the args;
    // Boost.JSON's default, 32, refused what Node sends), lone surrogates as JSON.parse takes them.
    boost::system::error_code ec;
    json::value v = socketio::parse_json(bytes, ec, msgpack::kMaxDepth + 8);
    if (ec) {
      why = "not JSON: " + ec.message();
      return std::nullopt;
    }
    return msgpack::Decoded{std::move(v), {}};
  }
  msgpack::DecodeError e;
  auto d = msgpack::decode(bytes, &e);
  if (!d) why = "not MessagePack: " + e.reason + " at byte " + std::to_string(e.offset);
  return d;
}
// JSON text as JSON.stringify writes it: a number that is not finite (NaN, Infinity, from a
// MessagePack float) becomes null.
void finite(json::value& v) {
  if (v.is_double() && !std::isfinite(v.get_double())) {
    v = nullptr;
  } else if (v.is_array()) {
    for (json::value& e : v.get_array()) finite(e);
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) finite(kv.value());
  }
}
std::string json_text(json::value v) {
  finite(v);
  return json::serialize(v);
}
std::string string_field(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}
}  // namespace

std::string encode_classic_request(const ClassicRequest& r) {
  json::object o{{"uid", r.uid}, {"type", static_cast<int>(r.type)}};
  if (!r.request_id.empty()) o["requestId"] = r.request_id;
  switch (r.type) {
    case ClassicRequestType::remote_join:
    case ClassicRequestType::remote_leave:
      o["opts"] = opts_json(r.opts, false);
      o["rooms"] = rooms_array(r.rooms);
      break;
    case ClassicRequestType::remote_disconnect:
      o["opts"] = opts_json(r.opts, false);
      o["close"] = r.close;
      break;
    case ClassicRequestType::remote_fetch:
      o["opts"] = opts_json(r.opts, false);
      break;
    case ClassicRequestType::server_side_emit:
      // (JSON, as the Node adapter sends it: a binary argument as JSON.stringify writes a Buffer.)
      o["data"] = with_node_buffers(r.data, r.attachments);
      break;
    case ClassicRequestType::broadcast: {
      o["packet"] = packet_json(r.packet);
      o["opts"] = opts_json(r.opts, true);
      return msgpack::encode(o, r.packet.attachments);  // the one request in MessagePack
    }
    default:
      break;
  }
  return json_text(o);
}

std::optional<socketio::Room> room_from_json(const json::value& v) {
  if (v.is_string()) return socketio::Room(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return std::nullopt;
}

std::optional<ClassicRequest> decode_classic_request(std::string_view bytes, std::string* error) {
  std::string why;
  auto fail = [&](std::string w) -> std::optional<ClassicRequest> {
    if (error != nullptr) *error = std::move(w);
    return std::nullopt;
  };
  auto d = parse_either(bytes, why);
  if (!d) return fail(why);
  if (!d->value.is_object()) return fail("a request is an object");
  const json::object& o = d->value.get_object();
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_int64() || type->get_int64() < 0 || type->get_int64() > 9)
    return fail("a request's type is 0..9");
  ClassicRequest r;
  r.type = static_cast<ClassicRequestType>(type->get_int64());
  r.uid = string_field(o, "uid");
  r.request_id = string_field(o, "requestId");
  if (!opts_from(o.if_contains("opts"), r.opts)) return fail("the request's opts are malformed");
  // Without opts (absent or null), the Node adapter reads join, leave and disconnect in their
  // older form, one socket by its id ({sid, room} / {sid, close}: what adapter 7.x's
  // remoteJoin/remoteLeave/remoteDisconnect send), and fails on a fetch or a broadcast. Read as
  // "every socket" (opts_from's default), such a request put every client of the host in a room,
  // or disconnected them all (before 2026-12-03).
  const json::value* given_opts = o.if_contains("opts");
  const bool legacy = given_opts == nullptr || given_opts->is_null();
  if (legacy) {
    const std::string sid = string_field(o, "sid");
    switch (r.type) {
      case ClassicRequestType::remote_join:
      case ClassicRequestType::remote_leave:
      case ClassicRequestType::remote_disconnect:
        if (sid.empty()) return fail("a request without opts names no socket (sid)");
        r.opts.rooms = {sid};  // (every socket is in the room of its own id)
        r.one_socket = true;
        break;
      case ClassicRequestType::remote_fetch:
      case ClassicRequestType::broadcast:
        return fail("a request without opts");
      default:
        break;
    }
  }
  switch (r.type) {
    case ClassicRequestType::remote_join:
    case ClassicRequestType::remote_leave:
      if (legacy) {
        const json::value* named = o.if_contains("room");
        auto room = named != nullptr ? room_from_json(*named) : std::nullopt;
        if (!room || room->empty()) return fail("a request without opts names no room");
        r.rooms = {std::move(*room)};
      } else if (!rooms_from(o.if_contains("rooms"), r.rooms)) {
        return fail("rooms are not room names");
      }
      break;
    case ClassicRequestType::remote_disconnect: {
      const json::value* c = o.if_contains("close");
      r.close = c != nullptr && c->is_bool() && c->get_bool();
      break;
    }
    case ClassicRequestType::server_side_emit: {
      const json::value* data = o.if_contains("data");
      if (data == nullptr || !data->is_array() || data->get_array().empty())
        return fail("a server-side emit's data is [event, ...args]");
      r.data = data->get_array();
      r.attachments = std::move(d->attachments);  // (MessagePack's bin values, if it was that)
      break;
    }
    case ClassicRequestType::sockets:
      // (Adapter 7.x's allSockets: the ids of the sockets in any of `rooms`, every socket for
      // none; 8.x answers it still, and so does the bridge since 2026-12-04.)
      if (!rooms_from(o.if_contains("rooms"), r.opts.rooms))
        return fail("rooms are not room names");
      break;
    case ClassicRequestType::broadcast: {
      const json::value* p = o.if_contains("packet");
      if (p == nullptr || !p->is_object()) return fail("a broadcast request has a packet");
      if (const char* bad = packet_from(p->get_object(), std::move(d->attachments), r.packet))
        return fail(bad);
      break;
    }
    default:
      break;
  }
  const bool needs_id =
      r.type == ClassicRequestType::sockets || r.type == ClassicRequestType::all_rooms ||
      r.type == ClassicRequestType::remote_fetch || r.type == ClassicRequestType::broadcast;
  if (needs_id && r.request_id.empty()) return fail("this request needs a requestId");
  return r;
}

std::optional<ClassicResponse> decode_classic_response(std::string_view bytes, std::string* error) {
  std::string why;
  auto d = parse_either(bytes, why);
  if (!d || !d->value.is_object() || string_field(d->value.get_object(), "requestId").empty()) {
    if (error != nullptr) *error = d ? "a response is an object with a requestId" : why;
    return std::nullopt;
  }
  ClassicResponse r;
  r.fields = std::move(d->value.get_object());
  r.request_id = string_field(r.fields, "requestId");
  if (const json::value* t = r.fields.if_contains("type");
      t != nullptr && t->is_int64() && t->get_int64() >= 0 && t->get_int64() <= 9)
    r.type = static_cast<ClassicRequestType>(t->get_int64());
  r.attachments = std::move(d->attachments);
  return r;
}

namespace {
// The few MessagePack forms a peek reads, within the bytes it is given: a map's header, a string,
// a scalar skipped. Anything else (an array, a map where a scalar is asked, bin, ext, too few
// bytes) ends the peek with nothing.
class PackedHead {
 public:
  explicit PackedHead(std::string_view in) : in_(in) {}
  std::optional<std::size_t> map() {
    const auto b = next();
    if (!b) return std::nullopt;
    if ((*b & 0xF0u) == 0x80u) return *b & 0x0Fu;
    if (*b == 0xDE) return big_endian(2);
    if (*b == 0xDF) return big_endian(4);
    return std::nullopt;
  }
  std::optional<std::string_view> str() {
    const auto b = next();
    if (!b) return std::nullopt;
    std::optional<std::size_t> n;
    if ((*b & 0xE0u) == 0xA0u)
      n = *b & 0x1Fu;
    else if (*b >= 0xD9 && *b <= 0xDB)
      n = big_endian(std::size_t{1} << (*b - 0xD9));
    if (!n || *n > in_.size() - at_) return std::nullopt;
    const std::string_view s = in_.substr(at_, *n);
    at_ += *n;
    return s;
  }
  bool scalar() {
    if (at_ >= in_.size()) return false;
    const auto b = static_cast<unsigned char>(in_[at_]);
    if (b <= 0x7F || b >= 0xE0 || b == 0xC0 || b == 0xC2 || b == 0xC3) {
      ++at_;  // fixints, nil, false, true
      return true;
    }
    if ((b & 0xE0u) == 0xA0u || (b >= 0xD9 && b <= 0xDB)) return str().has_value();
    std::size_t n = 0;
    switch (b) {
      case 0xCC:
      case 0xD0:
        n = 1;
        break;
      case 0xCD:
      case 0xD1:
        n = 2;
        break;
      case 0xCA:
      case 0xCE:
      case 0xD2:
        n = 4;
        break;
      case 0xCB:
      case 0xCF:
      case 0xD3:
        n = 8;
        break;
      default:
        return false;
    }
    if (n >= in_.size() - at_) return false;
    at_ += 1 + n;
    return true;
  }

 private:
  std::optional<unsigned> next() {
    if (at_ >= in_.size()) return std::nullopt;
    return static_cast<unsigned char>(in_[at_++]);
  }
  std::optional<std::size_t> big_endian(std::size_t bytes) {
    if (bytes > in_.size() - at_) return std::nullopt;
    std::size_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(in_[at_ + i]);
    at_ += bytes;
    return v;
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

// The non-empty string "requestId" among a MessagePack map's `fields`, only scalars before it.
std::optional<std::string_view> packed_request_id(PackedHead& p, std::size_t fields) {
  for (std::size_t i = 0; i < fields; ++i) {
    const auto key = p.str();
    if (!key) return std::nullopt;
    if (*key == "requestId") {
      const auto id = p.str();
      if (!id || id->empty()) return std::nullopt;
      return id;
    }
    if (!p.scalar()) return std::nullopt;
  }
  return std::nullopt;
}

// The non-empty string "requestId" in JSON text from `from` on, with nothing between that opens
// or closes an object, opens an array, nor escapes (so every quote there delimits a string, and
// the key is the object's at `from`).
std::optional<std::string_view> json_request_id(std::string_view head, std::size_t from) {
  constexpr std::string_view key = "\"requestId\":\"";
  const std::size_t at = head.find(key, from);
  if (at == std::string_view::npos) return std::nullopt;
  if (head.substr(from, at - from).find_first_of("{}[\\") != std::string_view::npos)
    return std::nullopt;
  const std::size_t begin = at + key.size();
  const std::size_t end = head.find('"', begin);
  if (end == std::string_view::npos || end == begin) return std::nullopt;
  const std::string_view id = head.substr(begin, end - begin);
  if (id.find('\\') != std::string_view::npos) return std::nullopt;
  return id;
}
}  // namespace

std::optional<std::string_view> peek_classic_request_id(std::string_view bytes) {
  const std::string_view head = bytes.substr(0, kPeekBytes);
  if (head.empty()) return std::nullopt;
  if (head[0] == '{') return json_request_id(head, 1);
  PackedHead p(head);
  const auto fields = p.map();
  return fields ? packed_request_id(p, *fields) : std::nullopt;
}

std::optional<std::string_view> peek_cluster_response_id(std::string_view bytes) {
  const std::string_view head = bytes.substr(0, kPeekBytes);
  if (head.empty()) return std::nullopt;
  if (head[0] == '{') {
    // {"type":12,"data":{"requestId":"...": "data" a key of the top level (after its opening
    // brace or a comma, nothing before it opening an object or an array, nor escaping).
    constexpr std::string_view data = "\"data\":{";
    const std::size_t at = head.find(data);
    if (at == std::string_view::npos || (head[at - 1] != '{' && head[at - 1] != ','))
      return std::nullopt;
    if (head.substr(1, at - 1).find_first_of("{[\\") != std::string_view::npos) return std::nullopt;
    return json_request_id(head, at + data.size());
  }
  PackedHead p(head);
  const auto fields = p.map();
  if (!fields) return std::nullopt;
  for (std::size_t i = 0; i < *fields; ++i) {
    const auto key = p.str();
    if (!key) return std::nullopt;
    if (*key == "data") {
      const auto inner = p.map();
      return inner ? packed_request_id(p, *inner) : std::nullopt;
    }
    if (!p.scalar()) return std::nullopt;
  }
  return std::nullopt;
}

std::string encode_all_rooms_response(std::string_view request_id,
                                      const std::set<socketio::Room>& rooms) {
  return json_text(
      json::object{{"requestId", json::string(request_id)}, {"rooms", rooms_array(rooms)}});
}
std::string encode_fetch_response(std::string_view request_id, json::array sockets) {
  return json_text(
      json::object{{"requestId", json::string(request_id)}, {"sockets", std::move(sockets)}});
}
std::string encode_server_side_emit_response(std::string_view request_id, json::value arg,
                                             const std::vector<socketio::Binary>& attachments) {
  arg = with_node_buffers(arg, attachments);
  return json_text(
      json::object{{"type", 6}, {"requestId", json::string(request_id)}, {"data", std::move(arg)}});
}

json::value with_node_buffers(const json::value& v,
                              const std::vector<socketio::Binary>& attachments) {
  std::size_t num = 0;
  if (socketio::is_placeholder(v, &num)) {
    if (num >= attachments.size() || !attachments[num]) return nullptr;
    json::array bytes;
    bytes.reserve(attachments[num]->size());
    for (const char c : *attachments[num]) bytes.emplace_back(static_cast<unsigned char>(c));
    return json::object{{"type", "Buffer"}, {"data", std::move(bytes)}};
  }
  if (v.is_array()) {
    json::array out;
    out.reserve(v.get_array().size());
    for (const auto& e : v.get_array()) out.push_back(with_node_buffers(e, attachments));
    return out;
  }
  if (v.is_object()) {
    json::object out;
    out.reserve(v.get_object().size());
    for (const auto& [k, e] : v.get_object()) out.emplace(k, with_node_buffers(e, attachments));
    return out;
  }
  return v;
}
std::size_t node_buffer_bytes(const json::value& v,
                              const std::vector<socketio::Binary>& attachments) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  std::size_t num = 0;
  if (socketio::is_placeholder(v, &num))
    return num < attachments.size() && attachments[num] ? attachments[num]->size() : 0;
  std::size_t sum = 0;
  const auto add = [&](const json::value& e) {
    const std::size_t n = node_buffer_bytes(e, attachments);
    sum = n > kMax - sum ? kMax : sum + n;
  };
  if (const json::array* a = v.if_array())
    for (const auto& e : *a) add(e);
  else if (const json::object* o = v.if_object())
    for (const auto& kv : *o) add(kv.value());
  return sum;
}
std::string encode_done_response(std::string_view request_id) {
  return json_text(json::object{{"requestId", json::string(request_id)}});
}
std::string encode_client_count_response(std::string_view request_id, std::uint64_t count) {
  return json_text(
      json::object{{"type", 8}, {"requestId", json::string(request_id)}, {"clientCount", count}});
}
std::string encode_broadcast_ack_response(std::string_view request_id, const socketio::Args& ack) {
  return msgpack::encode(
      json::object{{"type", 9},
                   {"requestId", json::string(request_id)},
                   {"packet", ack.values.empty() ? json::value(nullptr) : ack.values[0]}},
      ack.binaries);
}

ShardedChannels sharded_channels(std::string_view prefix, std::string_view nsp) {
  return {std::string(prefix) + "#" + std::string(nsp) + "#"};
}
std::string ShardedChannels::own_response(std::string_view uid) const {
  return main + std::string(uid) + "#";
}
std::size_t utf16_units(std::string_view utf8) noexcept {
  std::size_t n = 0;
  for (const char ch : utf8) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++n;      // a sequence's first byte (or an ASCII one)
    if (c >= 0xF0 && c <= 0xF4) ++n;  // four bytes: outside the BMP, two UTF-16 units
  }
  return n;
}

std::string ShardedChannels::room(std::string_view r) const {
  return main + std::string(r) + "#";
}
std::string ShardedChannels::publish_channel(MessageType type, bool with_ack,
                                             const socketio::BroadcastOptions& opts,
                                             SubscriptionMode mode) const {
  if (type != MessageType::broadcast || with_ack || opts.rooms.size() != 1) return main;
  const std::string& r = *opts.rooms.begin();
  const bool by_room = mode == SubscriptionMode::dynamic_private ||
                       (mode == SubscriptionMode::dynamic && !looks_like_socket_id(r));
  return by_room ? room(r) : main;
}

std::string encode_cluster_message(const ClusterMessage& m) {
  json::object o{{"type", static_cast<int>(m.type)}, {"uid", m.uid}, {"nsp", m.nsp}};
  if (!m.data.is_null()) o["data"] = m.data;
  // MessagePack only where the Node adapter uses it: these types, with binary inside.
  const bool binary_type =
      m.type == MessageType::broadcast || m.type == MessageType::fetch_sockets_response ||
      m.type == MessageType::server_side_emit || m.type == MessageType::server_side_emit_response ||
      m.type == MessageType::broadcast_ack;
  if (binary_type && !m.attachments.empty()) return msgpack::encode(o, m.attachments);
  return json_text(o);
}

std::optional<ClusterMessage> decode_cluster_message(std::string_view bytes, std::string* error) {
  std::string why;
  auto fail = [&](std::string w) -> std::optional<ClusterMessage> {
    if (error != nullptr) *error = std::move(w);
    return std::nullopt;
  };
  auto d = parse_either(bytes, why);
  if (!d) return fail(why);
  if (!d->value.is_object()) return fail("a message is an object");
  json::object& o = d->value.get_object();
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_int64() || type->get_int64() < 1 || type->get_int64() > 13)
    return fail("a message's type is 1..13");
  ClusterMessage m;
  m.type = static_cast<MessageType>(type->get_int64());
  m.uid = string_field(o, "uid");
  if (m.uid.empty()) return fail("a message names its sender (uid)");
  if (const json::value* n = o.if_contains("nsp"); n != nullptr && n->is_string())
    m.nsp = n->get_string();
  if (json::value* data = o.if_contains("data")) m.data = std::move(*data);
  const bool needs_data = m.type != MessageType::initial_heartbeat &&
                          m.type != MessageType::heartbeat && m.type != MessageType::adapter_close;
  if (needs_data && !m.data.is_object()) return fail("this message's data is an object");
  m.attachments = std::move(d->attachments);
  return m;
}

}  // namespace shmio::cluster::fleet
