// The compact handshake request (shmio/engineio/server.hpp): layout and building.
#include <cstring>
#include <limits>
#include <stdexcept>

#include "shmio/engineio/server.hpp"

namespace shmio::engineio {
namespace {
// A pair's two lengths as LEB128 varints (7 bits a byte, low first): one byte each for the
// names and values of a typical request, where two 32-bit words took eight.
const char* read_len(const char* p, std::uint32_t& v) noexcept {
  v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<unsigned char>(*p++);
    v |= static_cast<std::uint32_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return p;
  }
}

void write_len(std::string& out, std::uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::uint32_t checked(std::size_t n) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("shmio: a handshake request field over 4 GiB");
  return static_cast<std::uint32_t>(n);
}
}  // namespace

HandshakeRequest::Pair HandshakeRequest::Pairs::iterator::operator*() const noexcept {
  std::uint32_t k, v;
  const char* at = read_len(read_len(p_, k), v);
  return {std::string_view(at, k), std::string_view(at + k, v)};
}

HandshakeRequest::Pairs::iterator& HandshakeRequest::Pairs::iterator::operator++() noexcept {
  std::uint32_t k, v;
  const char* at = read_len(read_len(p_, k), v);
  p_ = at + k + v;
  return *this;
}

std::optional<std::string_view> HandshakeRequest::Pairs::find(std::string_view key) const noexcept {
  std::optional<std::string_view> found;
  for (const auto& [k, v] : *this) {
    if (k != key) continue;
    found = v;
    if (!last_wins_) break;
  }
  return found;
}

bool HandshakeRequest::Pairs::node_keeps_first(std::string_view name) noexcept {
  // Node's IncomingMessage drops a repeat of these (its matchKnownFields); set-cookie is a list.
  static constexpr std::string_view kFirst[] = {"age",
                                                "authorization",
                                                "content-length",
                                                "content-type",
                                                "etag",
                                                "expires",
                                                "from",
                                                "host",
                                                "if-modified-since",
                                                "if-unmodified-since",
                                                "last-modified",
                                                "location",
                                                "max-forwards",
                                                "proxy-authorization",
                                                "referer",
                                                "retry-after",
                                                "server",
                                                "user-agent"};
  for (std::string_view f : kFirst)
    if (f == name) return true;
  return false;
}

std::optional<std::string> HandshakeRequest::Pairs::joined(std::string_view key) const {
  std::optional<std::string> out;
  const bool first_only = node_keeps_first(key);
  for (const auto& [k, v] : *this) {
    if (k != key) continue;
    if (!out) {
      out.emplace(v);
      if (first_only) break;
      continue;
    }
    out->append(key == "cookie" ? "; " : ", ");
    out->append(v);
  }
  return out;
}

bool operator==(const HandshakeRequest::Pairs& a, const HandshakeRequest::Pairs& b) noexcept {
  if (a.size() != b.size()) return false;
  auto j = b.begin();
  for (const auto& p : a) {
    if (p != *j) return false;
    ++j;
  }
  return true;
}

HandshakeRequest::Pairs HandshakeRequest::headers() const noexcept {
  return Pairs(blob_.data(), blob_.data() + query_at_, n_headers_);
}

HandshakeRequest::Pairs HandshakeRequest::query() const noexcept {
  return Pairs(blob_.data() + query_at_, blob_.data() + url_at_, n_query_, true);
}

void HandshakeRequest::append_to(Section section, std::string_view bytes) {
  checked(blob_.size() + bytes.size());
  std::uint32_t* const starts[] = {&query_at_, &url_at_, &address_at_};  // of sections 1..3
  const std::uint32_t at = section == Section::address ? static_cast<std::uint32_t>(blob_.size())
                                                       : *starts[static_cast<int>(section)];
  blob_.insert(at, bytes.data(), bytes.size());
  // The sections after this one move by the inserted size.
  for (int s = static_cast<int>(section); s < 3; ++s)
    *starts[s] += static_cast<std::uint32_t>(bytes.size());
}

void HandshakeRequest::append_pair(Section section, std::string_view k, std::string_view v) {
  std::string bytes;
  bytes.reserve(10 + k.size() + v.size());
  write_len(bytes, checked(k.size()));
  write_len(bytes, checked(v.size()));
  bytes.append(k).append(v);
  append_to(section, bytes);
}

void HandshakeRequest::add_header(std::string_view lower_case_name, std::string_view value) {
  append_pair(Section::headers, lower_case_name, value);
  ++n_headers_;
}

void HandshakeRequest::add_query(std::string_view key, std::string_view value) {
  append_pair(Section::query, key, value);
  ++n_query_;
}

void HandshakeRequest::set_url(std::string_view url) {
  blob_.erase(url_at_, address_at_ - url_at_);
  address_at_ = url_at_;
  append_to(Section::url, url);
}

void HandshakeRequest::set_address(std::string_view address) {
  blob_.erase(address_at_);
  append_to(Section::address, address);
}

}  // namespace shmio::engineio
