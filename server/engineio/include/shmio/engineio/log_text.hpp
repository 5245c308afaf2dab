// Text from a client (an event or namespace name, an id it sent) as it may go into a log line:
// control characters and backslashes escaped, so that it cannot end the line and forge another
// (stderr is split into lines and tagged per worker), and cut at `max` bytes, so that one
// client's long name cannot make the log grow by megabytes a line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shmio {

inline std::string log_text(std::string_view s, std::size_t max = 100) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = s.size() < max ? s.size() : max;
  out.reserve(n + 16);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);  // (bytes past ASCII as they are: they cannot end a line)
    }
  }
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace shmio
