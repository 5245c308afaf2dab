// libFuzzer target: the Socket.IO decoder, fed a text frame then binary frames cut from the rest
// of the input, must never crash, and what it accepts must re-encode to a packet that decodes to
// the same packet. JSON is compared structurally, doubles within a relative 1e-12: Boost.JSON 1.81
// does not always round huge decimal literals correctly, so a re-encoded double may differ in its
// last bit (found by this target; see docs/server.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <cmath>

#include "shmio/socketio/packet.hpp"

using namespace shmio::socketio;
namespace json = boost::json;

namespace {
// a: decoded from the fuzz input; b: decoded again after encode(). Non-finite doubles are
// encoded as null on purpose (to_json_text), so they compare equal to null.
bool same(const json::value& a, const json::value& b) {
  if (a.is_double() && !std::isfinite(a.get_double())) return b.is_null();
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) {
      const double x = a.to_number<double>(), y = b.to_number<double>();
      return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
    }
    return a == b;
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool same(const Packet& a, const Packet& b) {
  if (a.type != b.type || a.nsp != b.nsp || a.id != b.id ||
      a.data.has_value() != b.data.has_value())
    return false;
  if (a.attachments.size() != b.attachments.size()) return false;
  for (std::size_t i = 0; i < a.attachments.size(); ++i)
    if (*a.attachments[i] != *b.attachments[i]) return false;
  return !a.data || same(*a.data, *b.data);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The text frame runs to the first 0x00; each later 0x00 starts another binary frame.
  const std::size_t cut = in.find('\0');
  const std::string_view text = in.substr(0, cut);
  Decoder d({.max_attachments = 8, .max_depth = 32});
  Packet p;
  Decoder::Status st = d.feed_text(text, p);
  std::string_view rest = cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 1);
  while (st == Decoder::Status::need_more && !rest.empty()) {
    const std::size_t next = rest.find('\0');
    st = d.feed_binary(std::string(rest.substr(0, next)), p);
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
  }
  if (st == Decoder::Status::packet) {
    const std::string wire = encode(p);
    Decoder again;
    Packet q;
    Decoder::Status s2 = again.feed_text(wire, q);
    for (std::size_t i = 0; s2 == Decoder::Status::need_more && i < p.attachments.size(); ++i)
      s2 = again.feed_binary(*p.attachments[i], q);
    if (s2 != Decoder::Status::packet || !same(p, q)) std::abort();
  }
  return 0;
}
