// Text from a client (an event or namespace name, an id it sent) as it may go into a log line:
// control characters and backslashes escaped, so that it cannot end the line and forge another
// (stderr is split into lines and tagged per worker), and cut at `max` bytes, so that one
// client's long name cannot make the log grow by megabytes a line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace shmio {

// Whether a line kept to at most one a second may be said now: `said_at_s` (a static of the
// caller's, -1 at first) holds the steady second of the last one. Atomic: any thread may ask. For
// lines a client can cause without end (a refused CONNECT, a hook's bad field on every answer).
inline bool first_this_second(std::atomic<std::int64_t>& said_at_s) noexcept {
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
  return said_at_s.exchange(now_s) != now_s;
}

// What the exception being handled says, for a log line: called inside a `catch (...)` that runs
// an app's callback, so that one throwing what is no std::exception (an int, a C string) is said
// and kept inside the event loop too, as a std::exception is (before 2026-12-07 most such catches
// took std::exception only, and anything else left io_context::run() and ended the worker).
inline std::string thrown_what() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is no std::exception";
  }
}

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
