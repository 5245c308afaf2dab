// Socket.IO's value types, apart from the server (no Asio here): what the cluster's wire format,
// the emitter and an app's own code pass around — rooms and socket ids, event arguments, a
// socket's handshake, a broadcast's options. shmio/socketio/server.hpp includes this.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_ref.hpp>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shmio/engineio/server.hpp"  // HandshakeRequest (no Asio)
#include "shmio/socketio/packet.hpp"

namespace shmio::socketio {

using Room = std::string;
using SocketId = std::string;

// Event arguments: JSON values; binary values are placeholders into `binaries`.
// Braces list the arguments: Args{"ok"} and Args{"a", 1} are those arguments, and so are
// emit("news", {"hello"}) and emit("news", {"a", 1}). An array you hold is the arguments with
// parentheses, Args(array); in braces, Args{array} (or an extra pair, {{"ok"}}) is ONE argument,
// that array (C++ prefers the list constructor), and the client gets it nested.
struct Args {
  boost::json::array values;
  std::vector<Binary> binaries;
  Args() = default;
  Args(std::initializer_list<boost::json::value_ref> v) : values(v) {}
  explicit Args(boost::json::array v, std::vector<Binary> b = {})
      : values(std::move(v)), binaries(std::move(b)) {}
};

// The EVENT (a BINARY_EVENT if `args` carries binaries) `event` with `args` in namespace `nsp`:
// data [event, ...args], the binaries as its attachments.
// Throws std::invalid_argument for a reserved event name (connect, connect_error, disconnect,
// disconnecting, newListener, removeListener), as socket.io's emit does: every emit, broadcast and
// emitter of shmio builds its packet here. Throws std::invalid_argument too for args whose
// binaries are not all that its placeholders name (check_attachments).
Packet event_packet(const std::string& nsp, const std::string& event, Args args);
// Throws std::invalid_argument if `args` carries binaries and a placeholder among its values
// ({"_placeholder":true,"num":N}) names one it does not carry: socket.io's parser in every client
// refuses such a message and closes the connection ("illegal attachments"). Args an event handler
// got carry their binaries with them: forward them whole (drop leading values with
// values.erase(), the binaries stay), not one value without the binaries it names.
void check_attachments(const Args& args);

struct Handshake {
  using Pairs = engineio::HandshakeRequest::Pairs;  // a view of (name, value) string_views
  // The Engine.IO handshake request — headers (lower-case names), query, url, the client's IP
  // address — shared with the session and every namespace's socket: stored once per connection,
  // compactly (engineio::HandshakeRequest).
  std::shared_ptr<const engineio::HandshakeRequest> request;
  boost::json::object auth;    // the CONNECT packet's payload
  std::int64_t issued_ms = 0;  // when the socket connected (ms since the epoch)

  Pairs headers() const noexcept { return request ? request->headers() : Pairs(); }
  Pairs query() const noexcept { return request ? request->query() : Pairs(); }
  std::string_view url() const noexcept { return request ? request->url() : std::string_view(); }
  std::string_view address() const noexcept {
    return request ? request->address() : std::string_view();
  }
  // The value of a header (its name in lower case), if the request had it, as socket.io's
  // handshake.headers[name] has it: a repeated header's values joined with ", " ("; " for cookie;
  // the first of those Node keeps one of: host, authorization, user-agent, ...; Pairs::joined).
  std::optional<std::string> header(std::string_view lower_case_name) const {
    return headers().joined(lower_case_name);
  }
  // socket.io's handshake.xdomain (!!headers.origin): the request carried a non-empty Origin.
  bool xdomain() const noexcept {
    for (const auto& h : headers())
      if (h.first == "origin" && !h.second.empty()) return true;
    return false;
  }
  // socket.io's handshake.secure: the connection was TLS. Always false: shmio serves plain HTTP
  // and TLS ends in front of it (a proxy's X-Forwarded-Proto is header("x-forwarded-proto")).
  static constexpr bool secure() noexcept { return false; }
  // socket.io's handshake.time: issued_ms as JavaScript's Date.prototype.toString() writes it,
  // in UTC ("Sat Dec 05 2026 02:34:07 GMT+0000 (Coordinated Universal Time)"); empty when
  // issued_ms is out of the calendar's range.
  std::string time() const;
};

// The largest ack id a server sends (2^31 - 1: ServerOptions::ack_id_base).
inline constexpr std::uint64_t kMaxAckId = 0x7FFFFFFFULL;

struct BroadcastFlags {
  bool volatile_ = false;
  bool local = false;
  bool compress = true;
  // With acks (socket.io's flags.timeout): how long the requester waits for them, in ms; each
  // receiving socket's ack entry is kept that long, and a cluster's worker or fleet bridge that
  // relays the answers relays them that long. 0: none said. Set by emit_with_ack.
  std::uint32_t timeout_ms = 0;
  // The packet carries a connection-state-recovery offset (set by the adapter that gave it one):
  // each socket it reaches can recover from then on (Socket::offset_sent).
  bool offset = false;
};

struct BroadcastOptions {
  std::set<Room> rooms;   // empty: every socket of the namespace
  std::set<Room> except;  // sockets in any of these rooms are skipped
  BroadcastFlags flags;
};

}  // namespace shmio::socketio
