// Helpers shared by the Socket.IO server's sources (private to socketio/src).
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmio/engineio/log_text.hpp"
#include "shmio/engineio/server.hpp"
#include "shmio/socketio/packet.hpp"

namespace shmio::socketio::detail {

namespace json = boost::json;

// The server's loop as continuations called from other threads see it (Server::loop_): `gone`
// from the start of ~Server (calls do nothing from then on), `io` until the Server's members are
// gone (what a continuation holds is still let go on the loop's thread until then).
struct LoopHandle {
  std::mutex m;
  boost::asio::io_context* io = nullptr;
  bool gone = false;
  // For a call: whether the caller is on the loop's thread (running it); nullopt once gone.
  std::optional<bool> on_loop() {
    const std::lock_guard<std::mutex> held(m);
    if (gone || io == nullptr) return std::nullopt;
    return io->get_executor().running_in_this_thread();
  }
  // For letting go: whether it may be done here (on the loop's thread, or no loop any more).
  bool here() {
    const std::lock_guard<std::mutex> held(m);
    return io == nullptr || io->get_executor().running_in_this_thread();
  }
  // Posts `g` to the loop; false (g not taken) once there is no loop.
  template <class G>
  bool post(G&& g) {
    const std::lock_guard<std::mutex> held(m);
    if (io == nullptr) return false;
    boost::asio::post(*io, std::forward<G>(g));
    return true;
  }
};

// A continuation the app may call from any thread (a middleware's next, an event's ack, called
// once its own work on a thread pool is done): `f` runs at once when called on the thread running
// the server's loop, else it is posted there with its arguments (moved), and it does nothing once
// the server is going. `f` (and what it holds: a socket, a namespace's admission) is let go on
// the loop's thread too: the last copy dropped elsewhere posts its end there (a handler the loop
// never runs lets it go where the loop is destroyed). Nothing of the server is touched off its
// thread.
template <class F>
auto from_any_thread(const std::shared_ptr<LoopHandle>& loop, F f) {
  // One allocation: the callable and its loop beside the count; the wrapper (one pointer) fits
  // in a std::function's own storage.
  struct Held {
    std::shared_ptr<LoopHandle> loop;
    F f;
    Held(const std::shared_ptr<LoopHandle>& l, F&& g) : loop(l), f(std::move(g)) {}
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() {
      if (loop->here()) return;  // (f goes here)
      auto end = [kept = std::move(f)]() {};
      (void)loop->post(std::move(end));  // (not taken: f goes here as `end` does)
    }
  };
  return [held = std::make_shared<Held>(loop, std::move(f))](auto&&... a) {
    const std::optional<bool> here = held->loop->on_loop();
    if (!here) return;  // the server is going or gone: nothing
    if (*here) return held->f(std::forward<decltype(a)>(a)...);
    (void)held->loop->post(
        [held, ... args = std::decay_t<decltype(a)>(std::forward<decltype(a)>(a))]() mutable {
          if (held->loop->on_loop()) held->f(std::move(args)...);  // (not if the server is going)
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
    } catch (...) {
      std::fprintf(stderr, "shmio: %s on socket %s threw: %s\n", what, id.c_str(),
                   thrown_what().c_str());
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
    } catch (...) {
      std::fprintf(stderr, "shmio: %s on socket %s threw: %s\n", what, id.c_str(),
                   thrown_what().c_str());
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
