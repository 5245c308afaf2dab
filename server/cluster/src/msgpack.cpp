#include "shmio/cluster/msgpack.hpp"

#include "shmio/engineio/packet.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

namespace shmio::cluster::msgpack {

namespace json = boost::json;

namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_head(std::string& out, std::size_t n, unsigned char fix, std::size_t fix_limit,
              unsigned char b8, unsigned char b16, unsigned char b32) {
  if (n < fix_limit) {
    out += static_cast<char>(fix | n);
  } else if (b8 != 0 && n < 0x100) {
    out += static_cast<char>(b8);
    put_be(out, n, 1);
  } else if (n < 0x10000) {
    out += static_cast<char>(b16);
    put_be(out, n, 2);
  } else {
    out += static_cast<char>(b32);
    put_be(out, n, 4);
  }
}
void put_uint(std::string& out, std::uint64_t v) {
  if (v < 0x80) {
    out += static_cast<char>(v);
  } else if (v < 0x100) {
    out += '\xcc';
    put_be(out, v, 1);
  } else if (v < 0x10000) {
    out += '\xcd';
    put_be(out, v, 2);
  } else if (v < 0x100000000ULL) {
    out += '\xce';
    put_be(out, v, 4);
  } else {
    out += '\xcf';
    put_be(out, v, 8);
  }
}
void put_int(std::string& out, std::int64_t v) {
  if (v >= 0) return put_uint(out, static_cast<std::uint64_t>(v));
  const auto u = static_cast<std::uint64_t>(v);
  if (v >= -0x20) {
    out += static_cast<char>(v);
  } else if (v >= -0x80) {
    out += '\xd0';
    put_be(out, u, 1);
  } else if (v >= -0x8000) {
    out += '\xd1';
    put_be(out, u, 2);
  } else if (v >= -0x80000000LL) {
    out += '\xd2';
    put_be(out, u, 4);
  } else {
    out += '\xd3';
    put_be(out, u, 8);
  }
}
void put_double(std::string& out, double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9223372036854775808.0) {
    put_int(out, static_cast<std::int64_t>(d));  // a JS number with an integral value
    return;
  }
  std::uint64_t bits;
  std::memcpy(&bits, &d, 8);
  out += '\xcb';
  put_be(out, bits, 8);
}
void put_str(std::string& out, std::string_view s) {
  put_head(out, s.size(), 0xa0, 0x20, 0xd9, 0xda, 0xdb);
  out.append(s);
}
void put_bin(std::string& out, std::string_view b) {
  if (b.size() < 0x100) {
    out += '\xc4';
    put_be(out, b.size(), 1);
  } else if (b.size() < 0x10000) {
    out += '\xc5';
    put_be(out, b.size(), 2);
  } else {
    out += '\xc6';
    put_be(out, b.size(), 4);
  }
  out.append(b);
}

// The attachment a placeholder object stands for, if it is one.
const socketio::Binary* placeholder(const json::object& o,
                                    const std::vector<socketio::Binary>& attachments) {
  if (o.size() != 2) return nullptr;
  const json::value* p = o.if_contains("_placeholder");
  const json::value* num = o.if_contains("num");
  if (p == nullptr || !p->is_bool() || !p->get_bool() || num == nullptr) return nullptr;
  std::int64_t i = -1;
  if (num->is_int64()) i = num->get_int64();
  if (num->is_uint64() && num->get_uint64() < attachments.size())
    i = static_cast<std::int64_t>(num->get_uint64());
  if (i < 0 || static_cast<std::uint64_t>(i) >= attachments.size() || !attachments[i])
    return nullptr;
  return &attachments[static_cast<std::size_t>(i)];
}

void put(std::string& out, const json::value& v, const std::vector<socketio::Binary>& att) {
  switch (v.kind()) {
    case json::kind::null:
      out += '\xc0';
      return;
    case json::kind::bool_:
      out += v.get_bool() ? '\xc3' : '\xc2';
      return;
    case json::kind::int64:
      return put_int(out, v.get_int64());
    case json::kind::uint64:
      return put_uint(out, v.get_uint64());
    case json::kind::double_:
      return put_double(out, v.get_double());
    case json::kind::string:
      return put_str(out, v.get_string());
    case json::kind::array:
      put_head(out, v.get_array().size(), 0x90, 0x10, 0, 0xdc, 0xdd);
      for (const json::value& e : v.get_array()) put(out, e, att);
      return;
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (const socketio::Binary* b = placeholder(o, att)) return put_bin(out, **b);
      put_head(out, o.size(), 0x80, 0x10, 0, 0xde, 0xdf);
      for (const auto& kv : o) {
        put_str(out, kv.key());
        put(out, kv.value(), att);
      }
      return;
    }
  }
}

// --- decoding
struct Reader {
  std::string_view in;
  std::size_t at = 0;
  Decoded* out;
  DecodeError err;
  bool failed = false;
  // Elements the open containers still owe (a map two per entry): each takes a byte at least, so
  // a new container's count is checked against the bytes left beside them. (Checked against the
  // bytes left alone, 65 nested containers could each claim, and reserve, nearly the whole input.)
  std::uint64_t owed = 0;
  std::size_t values = 0;

  bool fail(const char* why) {
    if (!failed) err = {why, at};
    failed = true;
    return false;
  }
  bool need(std::size_t n) { return in.size() - at >= n ? true : fail("truncated"); }
  std::uint64_t be(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[at++]);
    return v;
  }
  // A length read from `bytes` bytes, checked against what remains (each element or byte of it
  // takes at least one byte: no allocation larger than the input).
  bool length(int bytes, std::uint64_t& n) {
    if (!need(static_cast<std::size_t>(bytes))) return false;
    n = be(bytes);
    return n <= in.size() - at ? true : fail("a length beyond the input");
  }
  // A string that is not UTF-8 (RFC 3629) is read as Node reads it (notepack's
  // buffer.toString("utf8")): each ill-formed sequence as U+FFFD. notepack writes such bytes
  // itself (a short string ending in a lone surrogate: three bytes of U+FFFD and one byte of
  // uninitialised memory); before 2026-12-05 the whole message was refused here, and a Node
  // member's broadcast that Node's clients got never reached ours (found by a review).
  bool str(std::size_t n, json::value& v) {
    if (!need(n)) return false;
    const std::string_view bytes = in.substr(at, n);
    if (auto mended = engineio::mend_utf8(bytes))
      v = json::string(*mended);
    else
      v = json::string(bytes);
    at += n;
    return true;
  }
  // A container of `elements` elements opens: within the bytes left beside what others owe.
  // And the values it owes, beside those decoded and owed already, within kMaxValues (its
  // reserve is its count: refused here, not after gigabytes were reserved for it).
  bool open(std::uint64_t elements) {
    if (elements > in.size() - at - std::min<std::uint64_t>(owed, in.size() - at))
      return fail("a length beyond the input");
    if (values + owed + elements > kMaxValues) return fail("more than kMaxValues values");
    owed += elements;
    return true;
  }
  bool bin(std::size_t n, json::value& v) {
    if (!need(n)) return false;
    if (out->attachments.size() >= kMaxBinaries)
      return fail("more than kMaxBinaries binary values");
    out->attachments.push_back(std::make_shared<const std::string>(in.substr(at, n)));
    at += n;
    v = json::object{{"_placeholder", true},
                     {"num", static_cast<std::uint64_t>(out->attachments.size() - 1)}};
    return true;
  }
  bool array(std::size_t n, json::value& v, std::size_t depth) {
    if (!open(n)) return false;
    json::array a;
    a.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      json::value e;
      --owed;
      if (!value(e, depth + 1)) return false;
      a.push_back(std::move(e));
    }
    v = std::move(a);
    return true;
  }
  bool map(std::size_t n, json::value& v, std::size_t depth) {
    if (!open(2 * static_cast<std::uint64_t>(n))) return false;
    json::object o;
    o.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      json::value k, e;
      --owed;
      if (!value(k, depth + 1)) return false;
      std::string key;
      if (k.is_string())
        key = k.get_string();
      else if (k.is_int64())
        key = std::to_string(k.get_int64());
      else if (k.is_uint64())
        key = std::to_string(k.get_uint64());
      else
        return fail("a map key that is neither a string nor an integer");
      // A repeated key keeps its last value, as notepack's decoder (a JS object) keeps it: keys
      // that became one as U+FFFD, or a string key and an integer one, or two keys notepack
      // wrote alike (a lone surrogate in a short string takes a whole 4-byte sequence; before
      // 2026-12-06 such a message was refused here and delivered by every Node member).
      --owed;
      // (notepack 2's undefined, d4 00 xx, as a value: the key left out, as JSON.stringify
      // leaves it.)
      const bool undefined =
          in.size() - at >= 2 && static_cast<unsigned char>(in[at]) == 0xd4 && in[at + 1] == 0;
      if (!value(e, depth + 1)) return false;
      if (undefined) {
        // (A later undefined hides an earlier value: JSON.stringify leaves it out. stable_erase:
        // erase() moves the last key into its place, and the keys' order is Node's.)
        o.stable_erase(key);
        continue;
      }
      o[key] = std::move(e);
    }
    v = std::move(o);
    return true;
  }
  // An ext value; `fixed`: a fixext (d4..d8), else ext 8/16/32 (c7..c9). Ext type 0 is what
  // notepack.io 2.x wrote (@socket.io/redis-emitter up to 4.1.1, redis-adapter up to 7.2) and
  // notepack 3 still reads: fixext 1 `d4 00 xx` is undefined (null here, as JSON.stringify writes
  // it in an array), fixext 8 `d7 00` a Date of its 64-bit milliseconds, and ext 8/16/32 of type
  // 0 an ArrayBuffer (a binary value). (Before 2026-12-03 `c7 00 00`, an empty ArrayBuffer, was
  // read as undefined and the rest refused: such a member's payload was dropped.)
  bool ext(std::size_t n, json::value& v, bool fixed) {
    if (!need(1)) return false;
    const auto type = static_cast<signed char>(in[at++]);
    if (type == 0 && !fixed) return bin(n, v);
    if (!need(n)) return false;
    if (type == 0 && fixed && n == 1) {
      at += 1;
      v = nullptr;
      return true;
    }
    if (type == 0 && fixed && n == 8) {
      const auto hi = static_cast<std::int32_t>(static_cast<std::uint32_t>(be(4)));
      const std::uint64_t lo = be(4);
      const std::int64_t ms =
          static_cast<std::int64_t>(hi) * 4294967296LL + static_cast<std::int64_t>(lo);
      // (Floor division: a Date before 1970 has a negative count.)
      std::int64_t sec = ms / 1000, rem = ms % 1000;
      if (rem < 0) sec -= 1, rem += 1000;
      return timestamp(sec, static_cast<std::uint32_t>(rem) * 1000000u, v);
    }
    if (type != -1 || (n != 4 && n != 8 && n != 12)) return fail("an unsupported ext type");
    std::int64_t sec = 0;
    std::uint32_t nsec = 0;
    if (n == 4) {
      sec = static_cast<std::int64_t>(be(4));
    } else if (n == 8) {
      const std::uint64_t x = be(8);
      nsec = static_cast<std::uint32_t>(x >> 34);
      sec = static_cast<std::int64_t>(x & 0x3FFFFFFFFULL);
    } else {
      nsec = static_cast<std::uint32_t>(be(4));
      sec = static_cast<std::int64_t>(be(8));
    }
    if (nsec >= 1000000000u) return fail("a timestamp's nanoseconds past a second");
    return timestamp(sec, nsec, v);
  }
  // A moment as a Date's toJSON() writes it (toISOString: milliseconds, UTC; a year outside
  // 0..9999 as a sign and six digits); outside a Date's range (8.64e15 ms either side of 1970) an
  // Invalid Date, which JSON.stringify writes as null.
  bool timestamp(std::int64_t sec, std::uint32_t nsec, json::value& v) {
    constexpr std::int64_t kMaxSeconds = 8'640'000'000'000;
    if (sec > kMaxSeconds || sec < -kMaxSeconds || (sec == kMaxSeconds && nsec >= 1000000)) {
      v = nullptr;
      return true;
    }
    const auto t = static_cast<std::time_t>(sec);
    std::tm tm{};
    if (gmtime_r(&t, &tm) == nullptr) return fail("a timestamp out of range");
    const long long year = tm.tm_year + 1900LL;
    char buf[64];
    std::snprintf(buf, sizeof buf,
                  year >= 0 && year <= 9999 ? "%04lld-%02d-%02dT%02d:%02d:%02d.%03uZ"
                                            : "%+07lld-%02d-%02dT%02d:%02d:%02d.%03uZ",
                  year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  nsec / 1000000);
    v = json::string(buf);
    return true;
  }
  bool value(json::value& v, std::size_t depth) {
    if (depth > kMaxDepth) return fail("nested deeper than kMaxDepth");
    if (++values > kMaxValues) return fail("more than kMaxValues values");
    if (!need(1)) return false;
    const auto b = static_cast<unsigned char>(in[at++]);
    std::uint64_t n = 0;
    if (b <= 0x7f) {
      v = static_cast<std::int64_t>(b);
      return true;
    }
    if (b >= 0xe0) {
      v = static_cast<std::int64_t>(static_cast<signed char>(b));
      return true;
    }
    if ((b & 0xf0) == 0x80) return map(b & 0x0f, v, depth);
    if ((b & 0xf0) == 0x90) return array(b & 0x0f, v, depth);
    if ((b & 0xe0) == 0xa0) return str(b & 0x1f, v);
    switch (b) {
      case 0xc0:
        v = nullptr;
        return true;
      case 0xc2:
        v = false;
        return true;
      case 0xc3:
        v = true;
        return true;
      case 0xc4:
        return length(1, n) && bin(n, v);
      case 0xc5:
        return length(2, n) && bin(n, v);
      case 0xc6:
        return length(4, n) && bin(n, v);
      case 0xc7:
        return length(1, n) && ext(n, v, false);
      case 0xc8:
        return length(2, n) && ext(n, v, false);
      case 0xc9:
        return length(4, n) && ext(n, v, false);
      case 0xca: {
        if (!need(4)) return false;
        const auto bits = static_cast<std::uint32_t>(be(4));
        float f;
        std::memcpy(&f, &bits, 4);
        v = static_cast<double>(f);
        return true;
      }
      case 0xcb: {
        if (!need(8)) return false;
        const std::uint64_t bits = be(8);
        double d;
        std::memcpy(&d, &bits, 8);
        v = d;
        return true;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        const int bytes = 1 << (b - 0xcc);
        if (!need(static_cast<std::size_t>(bytes))) return false;
        const std::uint64_t u = be(bytes);
        if (u <= static_cast<std::uint64_t>(INT64_MAX))
          v = static_cast<std::int64_t>(u);
        else
          v = u;
        return true;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        const int bytes = 1 << (b - 0xd0);
        if (!need(static_cast<std::size_t>(bytes))) return false;
        std::uint64_t u = be(bytes);
        if (bytes < 8 && (u >> (8 * bytes - 1)) != 0) u |= ~0ULL << (8 * bytes);  // sign-extend
        v = static_cast<std::int64_t>(u);
        return true;
      }
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return ext(std::size_t{1} << (b - 0xd4), v, true);
      case 0xd9:
        return length(1, n) && str(n, v);
      case 0xda:
        return length(2, n) && str(n, v);
      case 0xdb:
        return length(4, n) && str(n, v);
      case 0xdc:
        return length(2, n) && array(n, v, depth);
      case 0xdd:
        return length(4, n) && array(n, v, depth);
      case 0xde:
        return length(2, n) && map(n, v, depth);
      case 0xdf:
        return length(4, n) && map(n, v, depth);
      default:  // 0xc1
        return fail("the never-used byte 0xc1");
    }
  }
};

}  // namespace

void encode(const json::value& v, const std::vector<socketio::Binary>& attachments,
            std::string& out) {
  put(out, v, attachments);
}

std::string encode(const json::value& v, const std::vector<socketio::Binary>& attachments) {
  std::string out;
  put(out, v, attachments);
  return out;
}

std::optional<Decoded> decode(std::string_view in, DecodeError* error) {
  Decoded d;
  Reader r{in, 0, &d, {}, false};
  json::value v;
  if (r.value(v, 0) && r.at != in.size()) r.fail("bytes after the value");
  if (r.failed) {
    if (error != nullptr) *error = r.err;
    return std::nullopt;
  }
  d.value = std::move(v);
  return d;
}

}  // namespace shmio::cluster::msgpack
