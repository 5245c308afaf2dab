#include "shmio/socketio/packet.hpp"

#include "shmio/socketio/types.hpp"  // Args (event_packet)

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <ctime>
#include <stdexcept>

namespace json = boost::json;

namespace shmio::socketio {

const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::none:
      return "ok";
    case DecodeError::empty:
      return "empty packet";
    case DecodeError::unknown_type:
      return "unknown packet type";
    case DecodeError::illegal_attachments:
      return "illegal attachments";
    case DecodeError::bad_ack_id:
      return "invalid ack id";
    case DecodeError::invalid_json:
      return "invalid JSON payload";
    case DecodeError::invalid_payload:
      return "invalid payload";
    case DecodeError::bad_placeholder:
      return "invalid attachment placeholder";
    case DecodeError::unexpected_binary:
      return "binary data without a binary packet";
    case DecodeError::unexpected_text:
      return "text packet while reconstructing a binary packet";
    case DecodeError::attachments_too_large:
      return "attachments over the size limit";
  }
  return "?";
}

bool is_reserved_event(std::string_view name) noexcept {
  return name == "connect" || name == "connect_error" || name == "disconnect" ||
         name == "disconnecting" || name == "newListener" || name == "removeListener";
}

bool is_reserved_server_side_event(std::string_view name) noexcept {
  return name == "connect" || name == "connection" || name == "new_namespace";
}

namespace {
// ECMAScript's Number::toString (radix 10): the shortest digits that read back as `d`, in plain
// notation for a decimal exponent within (-7, 21), else as d[.ddd]e±n.
std::string js_number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  if (d == 0) return "0";  // (-0 too)
  std::string out;
  if (d < 0) {
    out += '-';
    d = -d;
  }
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));  // "1.2345e+20"
  const std::size_t e_at = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_at))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::from_chars(sci.data() + e_at + (sci[e_at + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // the decimal point's place after the first n digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out += '.';
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return out;
}
}  // namespace

std::string event_name(const json::value& name) {
  constexpr std::int64_t kSafe = std::int64_t{1} << 53;
  if (const json::string* s = name.if_string()) return std::string(*s);
  if (const std::int64_t* i = name.if_int64(); i && *i >= -kSafe && *i <= kSafe)
    return std::to_string(*i);
  if (name.is_number()) return js_number_text(name.to_number<double>());
  return json::serialize(name);  // (true, null...: not a name socket.io-parser lets through)
}

json::value placeholder(std::size_t num) {
  return json::object{{"_placeholder", true}, {"num", num}};
}

// Any object whose "_placeholder" is true, whatever else it holds, as the reference parser's
// reconstruction takes it (which then throws unless "num" names an attachment); before
// 2026-12-03 one without "num", or with a third key, passed as plain data, and a client's
// decoder, given it relayed in a binary packet, closed its connection on it.
bool is_placeholder(const json::value& v, std::size_t* num) noexcept {
  const json::object* o = v.if_object();
  if (o == nullptr) return false;
  const json::value* flag = o->if_contains("_placeholder");
  if (flag == nullptr || !flag->is_bool() || !flag->get_bool()) return false;
  const json::value* n = o->if_contains("num");
  if (num != nullptr) {
    if (n == nullptr) {
      *num = static_cast<std::size_t>(-1);
    } else if (n->is_uint64()) {
      *num = static_cast<std::size_t>(n->get_uint64());
    } else if (n->is_int64() && n->get_int64() >= 0) {
      *num = static_cast<std::size_t>(n->get_int64());
    } else if (n->is_double() && n->get_double() >= 0 && n->get_double() < 1e15 &&
               n->get_double() == std::floor(n->get_double())) {
      // (A whole number written as a decimal, "0.0" or "0e0", as some JSON libraries write every
      // number: socket.io-parser takes any number as an index. A fraction is still refused.
      // Before 2026-12-06 refused; a review.)
      *num = static_cast<std::size_t>(n->get_double());
    } else {
      *num = static_cast<std::size_t>(-1);  // present but not a valid index
    }
  }
  return true;
}

namespace {

bool valid_payload(PacketType type, const std::optional<json::value>& data) {
  switch (type) {
    case PacketType::connect:
      return !data || data->is_object();
    case PacketType::disconnect:
      return !data;
    case PacketType::connect_error:
      return data && (data->is_string() || data->is_object());
    case PacketType::event:
    case PacketType::binary_event: {
      if (!data || !data->is_array() || data->get_array().empty()) return false;
      const json::value& name = data->get_array()[0];
      // A numeric name must be finite: Infinity would be re-encoded as null, not a valid name.
      if (name.is_number()) return !name.is_double() || std::isfinite(name.get_double());
      return name.is_string() && !is_reserved_event(name.get_string());
    }
    case PacketType::ack:  // (without a payload: an answer of no arguments, below)
      return !data || data->is_array();
    case PacketType::binary_ack:
      return data && data->is_array();
  }
  return false;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool has_double(const json::value& v) {
  if (v.is_double()) return true;
  if (const json::array* a = v.if_array()) {
    for (const json::value& e : *a)
      if (has_double(e)) return true;
  } else if (const json::object* o = v.if_object()) {
    for (const auto& kv : *o)
      if (has_double(kv.value())) return true;
  }
  return false;
}

// A string as JSON.stringify quotes it: '"' and '\\' escaped, the control characters as \b \f
// \n \r \t or \u00XX, the rest (UTF-8, U+2028 too) as it is.
void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// JSON.stringify's text of `v`, for a value that holds doubles (Boost.JSON writes 0.1 as 1E-1
// and -0 as -0E0, and non-finite ones as Infinity / NaN, which is not JSON: a client's
// JSON.parse would fail on the whole packet).
void append_js(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: {
      const double d = v.get_double();
      out += std::isfinite(d) ? js_number_text(d) : std::string("null");
      return;
    }
    case json::kind::string:
      return append_quoted(out, v.get_string());
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!std::exchange(first, false)) out += ',';
        append_js(out, e);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!std::exchange(first, false)) out += ',';
        append_quoted(out, kv.key());
        out += ':';
        append_js(out, kv.value());
      }
      out += '}';
      return;
    }
    default:  // null, bool, int64, uint64: as Boost writes them, as JSON.stringify does
      out += json::serialize(v);
  }
}

}  // namespace

// Every placeholder must name an attachment that exists.
bool placeholders_valid(const json::value& v, std::size_t attachments, int depth,
                        std::size_t max_depth) {
  if (static_cast<std::size_t>(depth) > std::max<std::size_t>(64, max_depth)) return false;
  std::size_t num = 0;
  if (is_placeholder(v, &num)) return num < attachments;
  if (const json::array* a = v.if_array()) {
    for (const json::value& e : *a)
      if (!placeholders_valid(e, attachments, depth + 1, max_depth)) return false;
  } else if (const json::object* o = v.if_object()) {
    for (const auto& kv : *o)
      if (!placeholders_valid(kv.value(), attachments, depth + 1, max_depth)) return false;
  }
  return true;
}

namespace {
// Each placeholder of `v` (already checked: placeholders_valid) in the form this server writes,
// {"_placeholder":true,"num":N} with N an integer: a client's may have a third key or a decimal
// num ("0.0"), which the reference parser takes too, and the parts after the decoder (the
// MessagePack encoder of the fleet, which knows only that form) must not see another. (Before
// 2026-12-06 such an object went to a Redis emitter as a plain map, its binary lost; a review.)
void canonical_placeholders(json::value& v) {
  std::size_t num = 0;
  if (is_placeholder(v, &num)) {
    v = json::object{{"_placeholder", true}, {"num", static_cast<std::uint64_t>(num)}};
    return;
  }
  if (json::array* a = v.if_array()) {
    for (json::value& e : *a) canonical_placeholders(e);
  } else if (json::object* o = v.if_object()) {
    for (auto& kv : *o) canonical_placeholders(kv.value());
  }
}

// `text` with each lone surrogate escape replaced by \ufffd; nullopt if it has none. Escapes are
// read pairwise from each backslash, so an escaped backslash before "ud83d" is not one.
std::optional<std::string> mend_lone_surrogates(std::string_view text) {
  auto hex4 = [&](std::size_t at, unsigned& out) {
    if (at + 4 > text.size()) return false;
    out = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const char ch = text[k];
      unsigned d;
      if (ch >= '0' && ch <= '9')
        d = static_cast<unsigned>(ch - '0');
      else if (ch >= 'a' && ch <= 'f')
        d = static_cast<unsigned>(ch - 'a' + 10);
      else if (ch >= 'A' && ch <= 'F')
        d = static_cast<unsigned>(ch - 'A' + 10);
      else
        return false;
      out = out << 4 | d;
    }
    return true;
  };
  std::string out;
  std::size_t copied = 0;  // text[copied, i) is still to be appended to out
  for (std::size_t i = 0; i + 1 < text.size();) {
    if (text[i] != '\\') {
      ++i;
      continue;
    }
    unsigned u = 0;
    if (text[i + 1] != 'u' || !hex4(i + 2, u)) {
      i += 2;  // another escape (or a malformed one, which the parser refuses anyway)
      continue;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {  // a leading surrogate: its pair must follow
      unsigned low = 0;
      if (i + 7 < text.size() && text[i + 6] == '\\' && text[i + 7] == 'u' && hex4(i + 8, low) &&
          low >= 0xDC00 && low <= 0xDFFF) {
        i += 12;
        continue;
      }
    } else if (u < 0xDC00 || u > 0xDFFF) {
      i += 6;
      continue;
    }
    out.append(text.substr(copied, i - copied));
    out += "\\ufffd";
    i += 6;
    copied = i;
  }
  if (copied == 0) return std::nullopt;
  out.append(text.substr(copied));
  return out;
}
}  // namespace

namespace {
// Boost.JSON 1.81's own handler (boost/json/detail/handler.hpp: values onto a value_stack), but
// for a double, which is read again from its text with std::from_chars (correctly rounded).
struct ExactNumbers {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  json::value_stack st;
  std::string number;  // a number's text given in parts (only where the input ended within it)
  template <class... A>
  explicit ExactNumbers(A&&... a) : st(std::forward<A>(a)...) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    double exact = 0;
    const auto r = std::from_chars(number.data(), number.data() + number.size(), exact);
    // (Out of a double's range, or anything from_chars does not take whole: Boost's value.)
    st.push_double(r.ec == std::errc() && r.ptr == number.data() + number.size() ? exact : d);
    number.clear();
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};
}  // namespace

json::value parse_json_exact(std::string_view text, boost::system::error_code& ec,
                             const json::parse_options& options) {
  // (A stack buffer for the value stack, as json::parse uses: no allocation for small texts.)
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::basic_parser<ExactNumbers> p(options, json::storage_ptr(), temp, sizeof temp);
  p.handler().st.reset();
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return nullptr;
  return p.handler().st.release();
}

json::value parse_json(std::string_view text, boost::system::error_code& ec,
                       std::size_t max_depth) {
  json::parse_options opt;
  opt.max_depth = max_depth;
  json::value v = parse_json_exact(text, ec, opt);
  if (!ec) return v;
  const std::optional<std::string> mended = mend_lone_surrogates(text);
  if (!mended) return v;
  ec.clear();
  return parse_json_exact(*mended, ec, opt);
}

std::string to_json_text(const json::value& v) {
  // Without a double, Boost's text is JSON.stringify's; with one, numbers are written as
  // JavaScript writes them (0.1, 1.5, 1e+21; -0 as 0; NaN and Infinity as null). Before
  // 2026-12-05 only the non-finite ones were: 0.1 went out as 1E-1 (found by a review).
  if (!has_double(v)) return json::serialize(v);
  std::string out;
  append_js(out, v);
  return out;
}

Decoder::Status Decoder::feed_text(std::string_view s, Packet& out) {
  if (pending_) return fail(DecodeError::unexpected_text);
  if (s.empty()) return fail(DecodeError::empty);
  if (s[0] < '0' || s[0] > '6') return fail(DecodeError::unknown_type);
  Packet p;
  p.type = static_cast<PacketType>(s[0] - '0');
  std::size_t i = 1;
  std::size_t attachments = 0;
  const bool binary = p.type == PacketType::binary_event || p.type == PacketType::binary_ack;
  if (binary) {
    const std::size_t dash = s.find('-', i);
    if (dash == std::string_view::npos || dash == i || dash - i > 6)
      return fail(DecodeError::illegal_attachments);
    for (std::size_t k = i; k < dash; ++k)
      if (!is_digit(s[k])) return fail(DecodeError::illegal_attachments);
    std::from_chars(s.data() + i, s.data() + dash, attachments);
    // (At least one: "50-[...]" was taken whole before 2026-12-03, its placeholders never
    // checked against attachments. socket.io-parser takes "50-" with none as a packet, but then
    // still waits for attachments and fails at the client's next text packet: the connection
    // ends either way, here one packet sooner.)
    if (attachments == 0 || attachments > max_attachments_)
      return fail(DecodeError::illegal_attachments);
    i = dash + 1;
  }
  if (i < s.size() && s[i] == '/') {
    const std::size_t comma = s.find(',', i);
    const std::size_t end = comma == std::string_view::npos ? s.size() : comma;
    p.nsp.assign(s.substr(i, end - i));
    i = comma == std::string_view::npos ? s.size() : comma + 1;
  }
  if (i < s.size() && is_digit(s[i])) {
    std::size_t end = i;
    while (end < s.size() && is_digit(s[end])) ++end;
    // Up to JS's largest safe integer, 2^53 - 1 (16 digits: before 2026-12-04 refused from 10^15;
    // leading zeros not counted since 2026-12-06, as Number() reads them).
    std::uint64_t id = 0;
    std::size_t first = i;
    while (first + 1 < end && s[first] == '0') ++first;
    if (end - first > 16) return fail(DecodeError::bad_ack_id);
    std::from_chars(s.data() + first, s.data() + end, id);
    if (id > (std::uint64_t{1} << 53) - 1) return fail(DecodeError::bad_ack_id);
    p.id = id;
    i = end;
  }
  if (i < s.size()) {
    boost::system::error_code ec;
    json::value v = parse_json(s.substr(i), ec, max_depth_);
    if (ec) return fail(DecodeError::invalid_json);
    p.data = std::move(v);
  }
  if (!valid_payload(p.type, p.data)) return fail(DecodeError::invalid_payload);
  // An ACK without a payload ("31"): socket.io-parser decodes it without data, and socket.io
  // calls the ack's callback with no arguments (`packet.data` spread); it closed the connection
  // before 2026-12-06, the callback never called.
  if (p.type == PacketType::ack && !p.data) p.data = json::array();
  if (binary && attachments > 0) {
    pending_ = std::make_unique<Packet>(std::move(p));
    pending_bytes_ = 0;
    expected_ = static_cast<std::uint32_t>(attachments);  // <= max_attachments_
    pending_->attachments.reserve(attachments);
    return Status::need_more;
  }
  // Complete now (placeholders mean nothing in a packet without attachments; see finish()).
  expected_ = 0;
  out = std::move(p);
  error_ = DecodeError::none;
  return Status::packet;
}

Decoder::Status Decoder::feed_binary(std::string frame, Packet& out) {
  if (!pending_) return fail(DecodeError::unexpected_binary);
  if (frame.size() > max_attachment_bytes_ - pending_bytes_)  // (pending_bytes_ <= the bound)
    return fail(DecodeError::attachments_too_large);
  pending_bytes_ += static_cast<std::uint32_t>(frame.size());  // (<= the bound: 32 bits)
  pending_->attachments.push_back(std::make_shared<const std::string>(std::move(frame)));
  if (pending_->attachments.size() < expected_) return Status::need_more;
  return finish(out);
}

Decoder::Status Decoder::finish(Packet& out) {
  // Placeholders mean something only in a packet that carries attachments (as in the reference
  // parser, which reconstructs only then); there each must name one that exists.
  if (expected_ > 0 && pending_->data &&
      !placeholders_valid(*pending_->data, pending_->attachments.size(), 0, max_depth_))
    return fail(DecodeError::bad_placeholder);
  if (expected_ > 0 && pending_->data) canonical_placeholders(*pending_->data);
  out = std::move(*pending_);
  pending_.reset();
  error_ = DecodeError::none;
  return Status::packet;
}

std::string encode(const Packet& p) {
  std::string out;
  out += static_cast<char>('0' + static_cast<int>(p.type));
  if (p.type == PacketType::binary_event || p.type == PacketType::binary_ack) {
    out += std::to_string(p.attachments.size());
    out += '-';
  }
  if (p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.id) out += std::to_string(*p.id);
  if (p.data) out += to_json_text(*p.data);
  return out;
}

void check_event_name(const std::string& name) {
  // As socket.io's emit: a client refuses such a packet and closes its connection (and, its
  // reconnection coming back to the same handler, in a loop); found in review, 2026-12-02.
  if (is_reserved_event(name))
    throw std::invalid_argument("\"" + name + "\" is a reserved event name");
}

void check_listened_event(const std::string& name) {
  // No client can send such an event (the decoder refuses it), so a handler for it would never
  // run: socket.on("disconnect", ...) ported as on("disconnect", ...) compiled, and its cleanup
  // never happened (found in review, 2026-12-03).
  if (!is_reserved_event(name)) return;
  const char* instead = name == "disconnect"      ? "on_disconnect"
                        : name == "disconnecting" ? "on_disconnecting"
                        : name == "connect"       ? "the namespace's on_connection"
                                                  : nullptr;
  throw std::invalid_argument("\"" + name + "\" is a reserved event name: no client sends it" +
                              (instead ? std::string("; use ") + instead : std::string()));
}

void check_attachments(const Args& args) {
  // (Only with binaries: a message without them goes as a plain EVENT, whose placeholder-shaped
  // objects a client takes as they are, as socket.io's would.)
  if (args.binaries.empty()) return;
  // (As deep as the ring's readers take a message: an app forwarding a client's args whole, taken
  // under a raised max_json_depth, is not refused for their depth.)
  for (const json::value& v : args.values)
    if (!placeholders_valid(v, args.binaries.size(), 0, 1000))
      throw std::invalid_argument(
          "an argument's placeholder names an attachment the message does not carry (it has " +
          std::to_string(args.binaries.size()) +
          "): every client would drop its connection (\"illegal attachments\"); forward an "
          "argument with the binaries it names (Args' binaries whole)");
}

Packet event_packet(const std::string& nsp, const std::string& event, Args args) {
  check_event_name(event);
  check_attachments(args);
  Packet p;
  p.type = args.binaries.empty() ? PacketType::event : PacketType::binary_event;
  p.nsp = nsp;
  boost::json::array data;
  data.reserve(args.values.size() + 1);
  data.emplace_back(event);
  for (auto& v : args.values) data.push_back(std::move(v));
  p.data = std::move(data);
  p.attachments = std::move(args.binaries);
  return p;
}

std::string Handshake::time() const {
  // (Whole seconds toward the past, as Date does for an instant before 1970.)
  const std::int64_t s = issued_ms / 1000 - (issued_ms % 1000 < 0 ? 1 : 0);
  const auto t = static_cast<std::time_t>(s);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return {};
  char buf[96];
  const std::size_t n = std::strftime(
      buf, sizeof buf, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
  return std::string(buf, n);
}

}  // namespace shmio::socketio
