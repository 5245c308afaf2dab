#include "shmio/engineio/packet.hpp"

#include <cstring>

#include <array>

namespace shmio::engineio {

const char* to_string(PacketType t) noexcept {
  switch (t) {
    case PacketType::open:
      return "open";
    case PacketType::close:
      return "close";
    case PacketType::ping:
      return "ping";
    case PacketType::pong:
      return "pong";
    case PacketType::message:
      return "message";
    case PacketType::upgrade:
      return "upgrade";
    case PacketType::noop:
      return "noop";
  }
  return "?";
}

const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::none:
      return "ok";
    case DecodeError::empty:
      return "empty packet";
    case DecodeError::unknown_type:
      return "unknown packet type";
    case DecodeError::bad_base64:
      return "invalid base64 in a binary packet";
    case DecodeError::too_many:
      return "too many packets in one payload";
  }
  return "?";
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i)
    r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return r;
}
constexpr auto kReverse = make_reverse();
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    const unsigned v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + static_cast<std::size_t>(k)];
      if (c == '=') {
        // Padding only at the very end, only in the last two places, and nothing after it.
        if (i + 4 != in.size() || k < 2) return false;
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[k] = kReverse[static_cast<unsigned char>(c)];
        if (v[k] < 0) return false;
      }
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return true;
}

bool base64_decode_loose(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() / 4 * 3 + 2);
  unsigned acc = 0;
  int sextets = 0;  // (held in `acc`, 0-3)
  bool ended = false;
  for (const char c : in) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
    if (c == '=') {
      ended = true;
      continue;
    }
    if (ended) return false;  // (data after the padding)
    int v = kReverse[static_cast<unsigned char>(c)];
    if (c == '-') v = 62;  // (the URL-safe alphabet)
    if (c == '_') v = 63;
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<unsigned>(v);
    if (++sextets == 4) {
      out += static_cast<char>((acc >> 16) & 0xFF);
      out += static_cast<char>((acc >> 8) & 0xFF);
      out += static_cast<char>(acc & 0xFF);
      acc = 0;
      sextets = 0;
    }
  }
  if (sextets == 1) return false;  // (six bits: not a byte)
  if (sextets >= 2) out += static_cast<char>((acc >> (sextets == 2 ? 4 : 10)) & 0xFF);
  if (sextets == 3) out += static_cast<char>((acc >> 2) & 0xFF);
  return true;
}

DecodeError decode_text(std::string_view in, Packet& out) {
  if (in.empty()) return DecodeError::empty;
  if (in[0] == 'b') {
    std::string bytes;
    if (!base64_decode_loose(in.substr(1), bytes)) return DecodeError::bad_base64;
    out = Packet::bytes(std::move(bytes));
    return DecodeError::none;
  }
  if (in[0] < '0' || in[0] > '6') return DecodeError::unknown_type;
  out = Packet::text(static_cast<PacketType>(in[0] - '0'), std::string(in.substr(1)));
  return DecodeError::none;
}

Packet decode_binary(std::span<const std::byte> in) {
  return Packet::bytes(std::string(reinterpret_cast<const char*>(in.data()), in.size()));
}

std::string encode_text(const Packet& p) {
  if (p.frame) return std::string(p.frame->payload());
  std::string out;
  out.reserve(p.data.size() + 1);
  out += static_cast<char>('0' + static_cast<int>(p.type));
  out += p.data;
  return out;
}

void append_to_payload(std::string& out, const Packet& p) {
  if (!out.empty()) out += kRecordSeparator;
  if (p.binary) {
    out += 'b';
    out += base64_encode(p.frame ? p.frame->payload() : std::string_view(p.data));
  } else if (p.frame) {
    out += p.frame->payload();
  } else {
    out += static_cast<char>('0' + static_cast<int>(p.type));
    out += p.data;
  }
}

std::size_t Packet::payload_size() const noexcept {
  const std::size_t raw = frame ? frame->payload().size() : data.size();
  if (binary) return 1 + (raw + 2) / 3 * 4;
  return frame ? raw : 1 + raw;
}

bool operator==(const Packet& a, const Packet& b) {
  if (a.type != b.type || a.binary != b.binary) return false;
  if (!a.frame && !b.frame) return a.data == b.data;
  return (a.binary ? (a.frame ? std::string(a.frame->payload()) : a.data) : encode_text(a)) ==
         (b.binary ? (b.frame ? std::string(b.frame->payload()) : b.data) : encode_text(b));
}

FrameRef Packet::to_frame() const {
  if (frame) return frame;
  if (binary) return Frame::make(Frame::Kind::binary, data, compress);
  return Frame::build(
      Frame::Kind::text, data.size() + 1,
      [&](char* d) {
        d[0] = static_cast<char>('0' + static_cast<int>(type));
        std::memcpy(d + 1, data.data(), data.size());
      },
      compress);
}

std::optional<std::string> mend_utf8(std::string_view text) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  // The length of the well-formed sequence at i, or of its ill-formed maximal subpart (at least
  // one byte) with `ok` false (Unicode's table 3-7 of well-formed byte sequences).
  auto sequence = [&](std::size_t i, bool& ok) -> std::size_t {
    const unsigned c = b[i];
    ok = true;
    if (c < 0x80) return 1;
    std::size_t need = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      ok = false;
      return 1;
    }
    for (std::size_t k = 1; k <= need; ++k) {
      const bool in =
          i + k < n && b[i + k] >= (k == 1 ? lo : 0x80) && b[i + k] <= (k == 1 ? hi : 0xBF);
      if (!in) {
        ok = false;
        return k;
      }
    }
    return need + 1;
  };
  std::size_t i = 0;
  bool ok = true;
  while (i < n) {
    if (b[i] < 0x80) {
      // ASCII, eight bytes at a time while they all are (every text frame the server sends is
      // checked: Frame::well_formed).
      std::uint64_t w = 0;
      while (i + 8 <= n && (std::memcpy(&w, b + i, 8), (w & 0x8080808080808080ULL) == 0)) i += 8;
      while (i < n && b[i] < 0x80) ++i;
      continue;
    }
    const std::size_t len = sequence(i, ok);
    if (!ok) break;
    i += len;
  }
  if (i == n) return std::nullopt;
  std::string out(text.substr(0, i));
  while (i < n) {
    const std::size_t len = sequence(i, ok);
    if (ok)
      out.append(text.substr(i, len));
    else
      out += "\xEF\xBF\xBD";
    i += len;
  }
  return out;
}

DecodeError decode_payload(std::string_view body, std::vector<Packet>& out,
                           std::size_t max_packets) {
  out.clear();
  if (body.empty()) return DecodeError::empty;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = body.find(kRecordSeparator, start);
    const std::string_view piece =
        body.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (out.size() == max_packets) return DecodeError::too_many;
    Packet p;
    if (const DecodeError e = decode_text(piece, p); e != DecodeError::none) return e;
    out.push_back(std::move(p));
    if (end == std::string_view::npos) return DecodeError::none;
    start = end + 1;
  }
}

}  // namespace shmio::engineio
