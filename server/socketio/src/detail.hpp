// Helpers shared by the Socket.IO server's sources (private to socketio/src).
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmio/engineio/server.hpp"
#include "shmio/socketio/packet.hpp"

namespace shmio::socketio::detail {

namespace json = boost::json;

// A continuation the app may call from any thread (a middleware's next, an event's ack, called
// once its own work on a thread pool is done): `f` runs at once when called on the thread running
// `io` (the server's), else it is posted there with its arguments (moved). Nothing of the server
// is touched off its thread.
template <class F>
auto from_any_thread(boost::asio::io_context& io, F f) {
  return [&io, f = std::move(f)](auto&&... a) {
    if (io.get_executor().running_in_this_thread()) return f(std::forward<decltype(a)>(a)...);
    boost::asio::post(
        io, [f, ... args = std::decay_t<decltype(a)>(std::forward<decltype(a)>(a))]() mutable {
          f(std::move(args)...);
        });
  };
}

// An ack's timeout as a timer can take it: at most a century (a port of socket.io's "no timeout"
// as milliseconds::max() overflowed the clock's nanoseconds, and the ack timed out at once).
inline std::chrono::milliseconds timer_timeout(std::chrono::milliseconds t) noexcept {
  constexpr std::chrono::milliseconds kCentury = std::chrono::hours(24 * 365 * 100);
  return std::min(t, kCentury);
}

// Calls `call(h)` for each handler of a copy of `handlers` (a handler may add or remove handlers,
// or disconnect its socket); one that throws is said on stderr ("shmio: <what> on socket <id>
// threw: ...") and the others still run.
template <class List, class Call>
inline void call_each(const List& handlers, const char* what, const std::string& id, Call&& call) {
  const List copy = handlers;
  for (const auto& h : copy) {
    try {
      call(h);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: %s on socket %s threw: %s\n", what, id.c_str(), e.what());
    }
  }
}

// The same for a list that does not change (a SnapshotList's snapshot): held, not copied.
template <class T, class Call>
inline void call_each(std::shared_ptr<const std::vector<T>> handlers, const char* what,
                      const std::string& id, Call&& call) {
  if (!handlers) return;
  for (const auto& h : *handlers) {
    try {
      call(h);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: %s on socket %s threw: %s\n", what, id.c_str(), e.what());
    }
  }
}

inline std::string random_id() {
  return engineio::random_id();
}

// A socket id or recovery pid: 15 characters, 90 random bits (engineio::random_id): short enough
// for std::string's inline buffer, so a socket and the maps keyed by its id allocate nothing for
// it. (socket.io's ids are 20 characters; nothing in the protocol fixes their length.)
inline std::string socket_id() {
  return engineio::random_id(15);
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shmio::socketio::detail

namespace shmio::socketio {
using detail::call_each;
using detail::now_ms;
using detail::random_id;
using detail::socket_id;
}  // namespace shmio::socketio
