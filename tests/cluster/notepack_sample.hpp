// Shared by the Redis protocol tests: hex conversion, and the classic adapter's broadcast
// ["abc123", {type:2, data:["chat",{text:"hi"},<Buffer 01 02 03>], nsp:"/"},
//  {rooms:["room1"], except:[], flags:{}}] as notepack.io 3.0.1 encodes it
// (../shared/design/redis-protocols.md).
#pragma once

#include <string>
#include <string_view>

namespace shmio::test {

inline std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}
inline std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}
inline const std::string kNotepackBroadcast = unhex(
    "93a6616263313233"
    "83a474797065"
    "02"
    "a464617461"
    "93a463686174"
    "81a474657874a26869"
    "c403010203"
    "a36e7370a12f"
    "83a5726f6f6d73"
    "91a5726f6f6d31"
    "a6657863657074"
    "90"
    "a5666c616773"
    "80");

}  // namespace shmio::test
