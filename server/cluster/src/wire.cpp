#include "shmio/cluster/wire.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <ctime>

namespace shmio::cluster {

namespace json = boost::json;

const char* to_string(MessageType t) noexcept {
  switch (t) {
    case MessageType::initial_heartbeat:
      return "INITIAL_HEARTBEAT";
    case MessageType::heartbeat:
      return "HEARTBEAT";
    case MessageType::adapter_close:
      return "ADAPTER_CLOSE";
    case MessageType::broadcast:
      return "BROADCAST";
    case MessageType::sockets_join:
      return "SOCKETS_JOIN";
    case MessageType::sockets_leave:
      return "SOCKETS_LEAVE";
    case MessageType::disconnect_sockets:
      return "DISCONNECT_SOCKETS";
    case MessageType::fetch_sockets:
      return "FETCH_SOCKETS";
    case MessageType::fetch_sockets_response:
      return "FETCH_SOCKETS_RESPONSE";
    case MessageType::server_side_emit:
      return "SERVER_SIDE_EMIT";
    case MessageType::server_side_emit_response:
      return "SERVER_SIDE_EMIT_RESPONSE";
    case MessageType::broadcast_client_count:
      return "BROADCAST_CLIENT_COUNT";
    case MessageType::broadcast_ack:
      return "BROADCAST_ACK";
    case MessageType::session:
      return "SESSION";
    case MessageType::session_taken:
      return "SESSION_TAKEN";
    case MessageType::worker_down:
      return "WORKER_DOWN";
    case MessageType::lapped:
      return "LAPPED";
    case MessageType::sessions_sync_request:
      return "SESSIONS_SYNC_REQUEST";
    case MessageType::sessions_sync:
      return "SESSIONS_SYNC";
    case MessageType::load:
      return "LOAD";
    case MessageType::namespaces:
      return "NAMESPACES";
    case MessageType::namespaces_request:
      return "NAMESPACES_REQUEST";
    case MessageType::all_rooms:
      return "ALL_ROOMS";
    case MessageType::all_rooms_response:
      return "ALL_ROOMS_RESPONSE";
    case MessageType::room_changed:
      return "ROOM_CHANGED";
    case MessageType::ring_owner:
      return "RING_OWNER";
    case MessageType::answers_check:
      return "ANSWERS_CHECK";
    case MessageType::answers_owed:
      return "ANSWERS_OWED";
  }
  return "?";
}

std::optional<std::uint64_t> whole_number(const boost::json::value& v) noexcept {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

namespace {
// Field `k` of `body` as a whole number >= 0, or nullopt (missing, or not one).
std::optional<std::uint64_t> whole_field(const boost::json::object& body, const char* k) {
  const boost::json::value* v = body.if_contains(k);
  return v != nullptr ? whole_number(*v) : std::nullopt;
}
// Field `k` of `body` if it is an array, or nullptr.
const boost::json::array* array_field(const boost::json::object& body, const char* k) {
  const boost::json::value* v = body.if_contains(k);
  return v != nullptr ? v->if_array() : nullptr;
}
}  // namespace

std::optional<ChecksSaid> read_answers_check(const boost::json::object& body) {
  const auto check = whole_field(body, "check");
  const boost::json::array* named = array_field(body, "requests");
  if (!check || named == nullptr) return std::nullopt;
  ChecksSaid out{*check, {}};
  for (const boost::json::value& v : *named)
    if (const auto rid = whole_number(v)) out.requests.push_back(*rid);
  return out;
}

std::optional<OwedList> read_answers_owed(const boost::json::object& body) {
  const auto check = whole_field(body, "check");
  const boost::json::array* owed = array_field(body, "owed");
  if (!check || owed == nullptr) return std::nullopt;
  OwedList out{*check, {}};
  for (const boost::json::value& e : *owed) {
    const boost::json::object* o = e.if_object();
    if (o == nullptr) return std::nullopt;
    const boost::json::value* id = o->if_contains("requestId");
    const boost::json::value* clients = o->if_contains("clients");
    const boost::json::value* given = o->if_contains("given");
    if (id == nullptr || !whole_number(*id) || (clients != nullptr && !whole_number(*clients)) ||
        (given != nullptr && !whole_number(*given)))
      return std::nullopt;
    out.owed[*whole_number(*id)] = {clients != nullptr, clients ? *whole_number(*clients) : 0,
                                    given ? *whole_number(*given) : 0};
  }
  return out;
}

std::optional<LapSaid> read_lapped(const boost::json::object& body, bool ring_per_worker,
                                   int workers) {
  const boost::json::value* ring = body.if_contains("ring");
  const auto from = whole_field(body, "from"), to = whole_field(body, "to");
  if (ring == nullptr || !ring->is_int64() || ring->get_int64() < -1 ||
      ring->get_int64() >= (ring_per_worker ? workers : 0) || !from || !to)
    return std::nullopt;
  return LapSaid{static_cast<int>(ring->get_int64()), *from, *to};
}

namespace {

template <class T>
void put(std::byte*& p, T v) {
  std::memcpy(p, &v, sizeof v);
  p += sizeof v;
}
void put_bytes(std::byte*& p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  p += s.size();
}

// A bounds-checked cursor over untrusted bytes.
struct Cursor {
  const std::byte* p;
  const std::byte* end;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    if (static_cast<std::size_t>(end - p) < sizeof v) {
      ok = false;
      return v;
    }
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (static_cast<std::size_t>(end - p) < n) {
      ok = false;
      return {};
    }
    std::string_view v(reinterpret_cast<const char*>(p), n);
    p += n;
    return v;
  }
};

}  // namespace

bool broadcast_fits(std::string_view nsp, const socketio::BroadcastOptions& opts,
                    std::size_t attachments) {
  if (attachments > kMaxRecordBinaries) return false;
  constexpr std::size_t kMax = kMaxBroadcastNames;
  auto names_fit = [&](const std::set<socketio::Room>& names) {
    return names.size() <= kMax &&
           std::all_of(names.begin(), names.end(), [&](const auto& r) { return r.size() <= kMax; });
  };
  return nsp.size() <= kMax && names_fit(opts.rooms) && names_fit(opts.except);
}

std::uint8_t broadcast_flags(const socketio::BroadcastFlags& f) {
  return static_cast<std::uint8_t>((f.volatile_ ? kFlagVolatile : 0) |
                                   (f.compress ? kFlagCompress : 0));
}

std::size_t broadcast_size(std::string_view nsp, const socketio::BroadcastOptions& opts,
                           std::size_t frame_bytes, const std::vector<socketio::Binary>& att) {
  std::size_t n = kBroadcastHeader + nsp.size() + frame_bytes;
  for (const auto& r : opts.rooms) n += 2 + r.size();
  for (const auto& r : opts.except) n += 2 + r.size();
  for (const auto& b : att) n += 4 + b->size();
  return n;
}

std::size_t write_broadcast(std::span<std::byte> out, std::string_view nsp,
                            const socketio::BroadcastOptions& opts, std::uint8_t flags,
                            std::uint64_t ack_id, std::string_view frame,
                            const std::vector<socketio::Binary>& att) {
  std::byte* p = out.data();
  put<std::uint8_t>(p, 2);
  put<std::uint8_t>(p, flags);
  put<std::uint16_t>(p, static_cast<std::uint16_t>(nsp.size()));
  put<std::uint16_t>(p, static_cast<std::uint16_t>(opts.rooms.size()));
  put<std::uint16_t>(p, static_cast<std::uint16_t>(opts.except.size()));
  put<std::uint32_t>(p, static_cast<std::uint32_t>(att.size()));
  put<std::uint32_t>(p, static_cast<std::uint32_t>(frame.size()));
  put<std::uint64_t>(p, ack_id);
  put<std::uint32_t>(p, opts.flags.timeout_ms);
  put_bytes(p, nsp);
  for (const auto& r : opts.rooms) {
    put<std::uint16_t>(p, static_cast<std::uint16_t>(r.size()));
    put_bytes(p, r);
  }
  for (const auto& r : opts.except) {
    put<std::uint16_t>(p, static_cast<std::uint16_t>(r.size()));
    put_bytes(p, r);
  }
  const std::size_t frame_at = static_cast<std::size_t>(p - out.data());
  put_bytes(p, frame);
  for (const auto& b : att) {
    put<std::uint32_t>(p, static_cast<std::uint32_t>(b->size()));
    put_bytes(p, *b);
  }
  return frame_at;
}

namespace {
// The attachments a frame's header counts: "4" (an Engine.IO message), then "5" or "6" (a binary
// event or ack), digits and "-"; 0 for any other packet, nullopt for a binary one without them.
std::optional<std::size_t> declared_attachments(std::string_view frame) {
  if (frame.size() < 2 || frame[0] != '4' || (frame[1] != '5' && frame[1] != '6')) return 0;
  std::size_t n = 0, i = 2;
  for (; i < frame.size() && i < 2 + 10 && frame[i] >= '0' && frame[i] <= '9'; ++i)
    n = n * 10 + static_cast<std::size_t>(frame[i] - '0');
  if (i == 2 || i >= frame.size() || frame[i] != '-') return std::nullopt;
  return n;
}
}  // namespace

std::optional<BroadcastView> read_broadcast(std::span<const std::byte> in) {
  Cursor c{in.data(), in.data() + in.size()};
  BroadcastView v;
  // (Version 1, before 2026-12-02, had no ack timeout: what an emitter of the build before writes
  // is still read, its timeout none said.)
  const auto version = c.get<std::uint8_t>();
  if (version != 1 && version != 2) return std::nullopt;
  v.flags = c.get<std::uint8_t>();
  const auto nsp_len = c.get<std::uint16_t>();
  const auto n_rooms = c.get<std::uint16_t>();
  const auto n_except = c.get<std::uint16_t>();
  const auto n_att = c.get<std::uint32_t>();
  const auto frame_len = c.get<std::uint32_t>();
  v.ack_id = c.get<std::uint64_t>();
  v.timeout_ms = version == 2 ? c.get<std::uint32_t>() : 0;
  if (!c.ok) return std::nullopt;
  v.nsp = c.bytes(nsp_len);
  // Each room takes at least its 2-byte length: a count the bytes cannot hold is refused before
  // anything is reserved.
  const std::size_t left = static_cast<std::size_t>(c.end - c.p);
  if (std::size_t(n_rooms) * 2 + std::size_t(n_except) * 2 > left ||
      std::size_t(n_att) * 4 > left || n_att > kMaxRecordBinaries)
    return std::nullopt;
  v.rooms.reserve(n_rooms);
  for (std::uint16_t i = 0; i < n_rooms && c.ok; ++i)
    v.rooms.push_back(c.bytes(c.get<std::uint16_t>()));
  v.except.reserve(n_except);
  for (std::uint16_t i = 0; i < n_except && c.ok; ++i)
    v.except.push_back(c.bytes(c.get<std::uint16_t>()));
  v.frame = c.bytes(frame_len);
  if (!c.ok || declared_attachments(v.frame) != std::optional<std::size_t>(n_att))
    return std::nullopt;
  v.attachments.reserve(n_att);
  for (std::uint32_t i = 0; i < n_att && c.ok; ++i)
    v.attachments.push_back(c.bytes(c.get<std::uint32_t>()));
  if (!c.ok || c.p != c.end || v.frame.empty()) return std::nullopt;
  return v;
}

std::string write_message(const json::object& body, const std::vector<socketio::Binary>& blobs) {
  // As JSON.stringify: a non-finite number (a client can send 1E400) is written as null, so that
  // the receiving worker can parse what this one wrote.
  const std::string text = socketio::to_json_text(json::value(body));
  std::size_t n = 8 + text.size();
  for (const auto& b : blobs) n += 4 + b->size();
  std::string out(n, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  put<std::uint32_t>(p, static_cast<std::uint32_t>(text.size()));
  put_bytes(p, text);
  put<std::uint32_t>(p, static_cast<std::uint32_t>(blobs.size()));
  for (const auto& b : blobs) {
    put<std::uint32_t>(p, static_cast<std::uint32_t>(b->size()));
    put_bytes(p, *b);
  }
  return out;
}

bool message_fits(std::string_view written) noexcept {
  std::uint32_t text = 0, blobs = 0;
  if (written.size() < 8) return false;
  std::memcpy(&text, written.data(), 4);
  if (written.size() - 8 < text) return false;
  std::memcpy(&blobs, written.data() + 4 + text, 4);
  return blobs <= kMaxRecordBinaries;
}

std::optional<Message> read_message(std::span<const std::byte> in) {
  Cursor c{in.data(), in.data() + in.size()};
  const std::string_view text = c.bytes(c.get<std::uint32_t>());
  const auto n = c.get<std::uint32_t>();
  if (!c.ok || std::size_t(n) * 4 > static_cast<std::size_t>(c.end - c.p) || n > kMaxRecordBinaries)
    return std::nullopt;
  Message m;
  boost::system::error_code ec;
  // (Deeper than Boost.JSON's default 32, kMaxMessageDepth: a message wraps what a client or a
  // fleet peer sent, which may nest to 32 or 64 itself; at the default, a fleet peer's 31-64
  // levels were accepted by the bridge, then refused by every worker.)
  json::parse_options opts;
  opts.max_depth = kMaxMessageDepth;
  // Strings as the writing worker held them, UTF-8 or not (a header value a client sent, an
  // app's room name): JSON-serialized, they keep their bytes, and a strict parse refused the
  // whole record here (before 2026-12-03: a fetchSockets answer holding one such string timed
  // out on every other worker, while the owner's own answer listed the socket).
  opts.allow_invalid_utf8 = true;
  json::value v = socketio::parse_json_exact(text, ec, opts);  // (numbers as JSON.parse reads them)
  if (ec || !v.is_object()) return std::nullopt;
  m.body = std::move(v.get_object());
  for (std::uint32_t i = 0; i < n && c.ok; ++i) {
    const std::string_view b = c.bytes(c.get<std::uint32_t>());
    m.blobs.push_back(std::make_shared<const std::string>(b));
  }
  if (!c.ok || c.p != c.end) return std::nullopt;
  return m;
}

json::object options_to_json(const socketio::BroadcastOptions& o) {
  json::array rooms, except;
  for (const auto& r : o.rooms) rooms.emplace_back(r);
  for (const auto& r : o.except) except.emplace_back(r);
  json::object flags{
      {"volatile", o.flags.volatile_}, {"local", o.flags.local}, {"compress", o.flags.compress}};
  // (A request's operator timeout, ms, when one was said: socket.io's flags.timeout. The fleet
  // bridge relays a worker's fetchSockets that long.)
  if (o.flags.timeout_ms != 0) flags["timeout"] = o.flags.timeout_ms;
  return {{"rooms", std::move(rooms)}, {"except", std::move(except)}, {"flags", std::move(flags)}};
}

socketio::BroadcastOptions options_from_json(const json::object& o) {
  socketio::BroadcastOptions out;
  auto strings = [&](const char* key, std::set<socketio::Room>& into) {
    if (const json::value* v = o.if_contains(key); v && v->is_array())
      for (const json::value& r : v->get_array())
        if (r.is_string()) into.insert(std::string(r.get_string()));
  };
  strings("rooms", out.rooms);
  strings("except", out.except);
  if (const json::value* f = o.if_contains("flags"); f && f->is_object()) {
    const json::object& fl = f->get_object();
    auto flag = [&](const char* k, bool dflt) {
      const json::value* b = fl.if_contains(k);
      return b && b->is_bool() ? b->get_bool() : dflt;
    };
    out.flags.volatile_ = flag("volatile", false);
    out.flags.local = flag("local", false);
    out.flags.compress = flag("compress", true);
    if (const json::value* t = fl.if_contains("timeout"); t && t->is_number()) {
      boost::system::error_code ec;
      const double ms = t->to_number<double>(ec);
      if (!ec && ms >= 1)
        out.flags.timeout_ms = static_cast<std::uint32_t>(std::min(ms, 4294967295.0));
    }
  }
  return out;
}

namespace {
// Headers as Node's IncomingMessage has them (socket.io's handshake.headers): an object by
// lower-case name, a repeated header's values joined with ", " ("; " for cookie; the first of those
// Node keeps one of, Pairs::node_keeps_first), set-cookie an array. Query as Node's
// querystring.parse gives it: a repeated key's values an array.
json::object headers_to_json(const engineio::HandshakeRequest::Pairs& v) {
  json::object o;
  for (const auto& [k, val] : v) {
    json::value* e = o.if_contains(k);
    if (k == "set-cookie") {
      if (e == nullptr)
        o[k] = json::array{json::string(val)};
      else if (e->is_array())
        e->get_array().push_back(json::string(val));
    } else if (e == nullptr) {
      o[k] = json::string(val);
    } else if (e->is_string() && !engineio::HandshakeRequest::Pairs::node_keeps_first(k)) {
      e->get_string().append(k == "cookie" ? "; " : ", ");
      e->get_string().append(val);
    }
  }
  return o;
}
json::object query_to_json(const engineio::HandshakeRequest::Pairs& v) {
  json::object o;
  for (const auto& [k, val] : v) {
    json::value* e = o.if_contains(k);
    if (e == nullptr)
      o[k] = json::string(val);
    else if (e->is_string())
      *e = json::array{std::move(e->get_string()), json::string(val)};
    else if (e->is_array())
      e->get_array().push_back(json::string(val));
  }
  return o;
}
// Adds each name and value of `v` through `add`: an object of strings or arrays of strings (as
// above: Node's shape), or an array of [name, value] pairs (shmio's form before 2026-12-04).
// Anything else is skipped.
template <class Add>
void pairs_from_json(const json::value* v, Add add) {
  if (v == nullptr) return;
  if (v->is_object()) {
    for (const auto& [k, val] : v->get_object()) {
      if (val.is_string()) add(std::string_view(k), std::string_view(val.get_string()));
      if (val.is_array())
        for (const json::value& one : val.get_array())
          if (one.is_string()) add(std::string_view(k), std::string_view(one.get_string()));
    }
    return;
  }
  if (!v->is_array()) return;
  for (const json::value& e : v->get_array()) {
    if (!e.is_array() || e.get_array().size() != 2 || !e.get_array()[0].is_string() ||
        !e.get_array()[1].is_string())
      continue;
    add(std::string_view(e.get_array()[0].get_string()),
        std::string_view(e.get_array()[1].get_string()));
  }
}
}  // namespace

json::object handshake_to_json(const socketio::Handshake& h) {
  // (socket.io's handshake fields, so that a Node member's fetchSockets reads a socket of this
  // host as one of its own: before 2026-12-04 headers and query were [name, value] pairs, and
  // time, xdomain and secure were missing.)
  return {{"headers", headers_to_json(h.headers())},
          {"time", h.time()},
          {"address", h.address()},
          {"xdomain", h.xdomain()},
          {"secure", socketio::Handshake::secure()},
          {"issued", h.issued_ms},
          {"url", h.url()},
          {"query", query_to_json(h.query())},
          {"auth", h.auth}};
}

socketio::Handshake handshake_from_json(const json::object& o) {
  socketio::Handshake h;
  auto r = std::make_shared<engineio::HandshakeRequest>();
  pairs_from_json(o.if_contains("headers"),
                  [&](std::string_view k, std::string_view v) { r->add_header(k, v); });
  pairs_from_json(o.if_contains("query"),
                  [&](std::string_view k, std::string_view v) { r->add_query(k, v); });
  if (auto* v = o.if_contains("url"); v && v->is_string()) r->set_url(v->get_string());
  if (auto* v = o.if_contains("auth"); v && v->is_object()) h.auth = v->get_object();
  if (auto* v = o.if_contains("address"); v && v->is_string()) r->set_address(v->get_string());
  r->shrink();
  h.request = std::move(r);
  if (auto* v = o.if_contains("issued"); v && v->is_int64()) h.issued_ms = v->get_int64();
  return h;
}

std::vector<json::array> split_sockets(json::array sockets, std::size_t budget,
                                       const std::function<void(std::size_t)>& too_large,
                                       std::vector<std::size_t>* part_bytes) {
  std::vector<json::array> parts(1);
  std::size_t bytes = 0;
  if (part_bytes) part_bytes->assign(1, 0);
  for (json::value& v : sockets) {
    // (Measured as write_message writes it, in JavaScript's number format: Boost.JSON's writes a
    // double of 1e20 as 1E20, 4 bytes of the 21 written, and a part of such sockets measured
    // half a record went past a whole one and was never written: the requester waited its whole
    // timeout. Until 2026-12-07; a bug hunt.)
    const std::size_t n = socketio::to_json_text(v).size() + 1;
    if (n > budget) {
      if (too_large) too_large(n);
      continue;
    }
    if (bytes + n > budget) {
      parts.emplace_back();
      if (part_bytes) part_bytes->push_back(0);
      bytes = 0;
    }
    bytes += n;
    if (part_bytes) part_bytes->back() += n;
    parts.back().push_back(std::move(v));
  }
  return parts;
}

std::vector<json::array> bounded_socket_parts(json::array sockets, std::size_t budget,
                                              std::size_t total, std::size_t& left_out,
                                              const std::function<void(std::size_t)>& too_large) {
  // (A part no larger than the whole: the first is kept whatever its size, and with a share of
  // the ring smaller than half a record — more than 8 workers on the shared ring — it was up to
  // twice the share, 60 times with 960 workers, before 2026-12-06; a helper's review.)
  budget = std::min(budget, total);
  std::vector<std::size_t> part_bytes;
  std::vector<json::array> parts =
      split_sockets(std::move(sockets), budget, too_large, &part_bytes);
  std::size_t kept = 0, bytes = 0;
  for (; kept < parts.size(); ++kept) {
    if (kept > 0 && bytes + part_bytes[kept] > total) break;
    bytes += part_bytes[kept];
  }
  left_out = 0;
  for (std::size_t i = kept; i < parts.size(); ++i) left_out += parts[i].size();
  parts.resize(kept);
  return parts;
}

namespace {
// Lower-case hex digits (as written), at most 16; nullopt for anything else.
std::optional<std::uint64_t> parse_hex(std::string_view digits) {
  if (digits.empty() || digits.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char ch : digits) {
    int d;
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      d = ch - 'a' + 10;
    else
      return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}
void put_hex(char* s, std::size_t digits, std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < digits; ++i) s[digits - 1 - i] = kHex[(v >> (4 * i)) & 0xF];
}
}  // namespace

std::string offset_of(std::uint64_t position) {
  std::string s(kOffsetDigits, '0');
  put_hex(s.data(), kOffsetDigits, position);
  return s;
}

std::optional<std::uint64_t> position_of(std::string_view offset) {
  if (offset.size() != kOffsetDigits) return std::nullopt;
  return parse_hex(offset);
}

std::array<char, kWorkerOffsetDigits> worker_offset_digits(const WorkerOffset& o) {
  std::array<char, kWorkerOffsetDigits> s;
  put_hex(s.data(), 2, o.worker);
  put_hex(s.data() + 2, 12, o.entry);
  put_hex(s.data() + 14, 2, o.ring);
  put_hex(s.data() + 16, 16, o.position);
  return s;
}

std::string worker_offset_of(const WorkerOffset& o) {
  const auto d = worker_offset_digits(o);
  return std::string(d.data(), d.size());
}

std::optional<WorkerOffset> worker_offset_from(std::string_view offset) {
  if (offset.size() != kWorkerOffsetDigits) return std::nullopt;
  const auto w = parse_hex(offset.substr(0, 2)), e = parse_hex(offset.substr(2, 12)),
             r = parse_hex(offset.substr(14, 2)), p = parse_hex(offset.substr(16, 16));
  if (!w || !e || !r || !p) return std::nullopt;
  return WorkerOffset{static_cast<std::uint32_t>(*w), *e, static_cast<std::uint32_t>(*r), *p};
}

bool patch_offset(char* frame, std::size_t size, std::string_view offset) {
  const std::size_t n = offset.size();
  if (size < n + 3 || frame[size - 1] != ']' || frame[size - 2] != '"' ||
      frame[size - 3 - n] != '"')
    return false;
  std::memcpy(frame + size - 2 - n, offset.data(), n);
  return true;
}
}  // namespace shmio::cluster
