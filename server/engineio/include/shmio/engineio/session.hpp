// One Engine.IO v4 session as a state machine with no I/O and no clock of its own: the transport
// layer feeds it what clients send and the current time, and takes from it what to write. This is
// where the protocol's rules live — heartbeats, the upgrade probe, the bounded send queue, close
// reasons — so they can be tested with a fake clock (tests/server/engineio_session_test.cpp).
//
// Heartbeat (v4: the server pings): `ping_interval` after the handshake (and after every pong) the
// session queues a ping; the client must answer within `ping_timeout`, or the session closes with
// "ping timeout" (another packet meanwhile extends that wait once, as in the reference server). A
// client that pings breaks v4's heartbeat direction: "transport error". Upgrade: a WebSocket opened
// with this session's sid probes ("2probe" -> "3probe"); meanwhile the session asks the polling
// side to answer a pending GET with a noop; the client's "5" then moves the session to the
// WebSocket, after which polling requests are refused. A probe that does not finish within
// `upgrade_timeout` is abandoned and the session stays on polling. Thread-safety: a Session belongs
// to one io_context thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shmio/engineio/packet.hpp"

namespace shmio::engineio {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

struct SessionOptions {
  Millis ping_interval{25000};  // socket.io's default
  Millis ping_timeout{20000};   // socket.io's default
  Millis upgrade_timeout{10000};
  std::size_t max_payload = 1'000'000;  // maxHttpBufferSize: advertised as maxPayload
  // Packets queued for a client that is not reading. Past it the session closes ("transport
  // error"): memory stays bounded however slow the client. 4096 packets of a chat-sized message is
  // a few MiB; a client that far behind is better served by reconnecting (and recovering).
  std::size_t max_queued_packets = 4096;
  // The same bound in bytes (as they would travel in a polling payload): 16 MiB, so that a client
  // sent large messages cannot pin more than that however few they are. (Both bounds are checked
  // before each message is queued, a binary one's attachments counted with it: a session holds at
  // most the bounds and one message, and a message larger than them goes out unless a backlog is
  // over them already.)
  std::size_t max_queued_bytes = 16u << 20;
  bool allow_upgrades = true;
  // A polling POST's body must have come whole this long after its header (engine.io's
  // httpRequestBodyTimeout, 30 s): then it is answered 408, its connection closed and its
  // session closed ("transport error"), so that a client that stalls mid-body does not hold the
  // session's one POST for the connection's whole read timeout. 0: no timeout of its own (the
  // connection's read timeout only).
  Millis http_request_body_timeout{30000};
};

enum class TransportKind : std::uint8_t { polling, websocket };

enum class CloseReason {
  none,
  transport_close,  // the client closed ("1") or the transport went away cleanly
  transport_error,  // a transport failed, or the client stopped reading (send queue full)
  ping_timeout,
  forced_close,  // the server closed it
  parse_error,   // the client sent something undecodable
};
const char* to_string(CloseReason r) noexcept;  // the reference server's wording

// The characters of every id (base64url's): session ids, socket ids, recovery pids, a cluster
// worker's id prefix, a fleet member's uid.
inline constexpr char kIdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr bool is_id_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// `chars` (at most 20) characters of base64url from the OS's secure generator (getrandom), 6
// random bits each: session ids, socket ids and recovery pids must not be predictable from ids a
// client has seen. 20 (120 bits) is Engine.IO's session id; Socket.IO's socket ids and pids take
// 15 (90 bits), which std::string holds without a heap allocation (docs/server.md, "Memory per
// connection").
std::string random_id(std::size_t chars = 20);

// A binary frame as the text frame "b" + base64 of its bytes (engine.io-parser's encodePacket for
// a transport without binary support: Session::set_websocket_base64).
FrameRef base64_text(const Frame& f);

class Session {
 public:
  // `options` is not copied (every session of a server shares its options): it must outlive
  // the session.
  Session(std::string sid, TransportKind initial, const SessionOptions& options, TimePoint now);
  Session(std::string, TransportKind, SessionOptions&&, TimePoint) = delete;

  const std::string& sid() const noexcept { return sid_; }
  TransportKind transport() const noexcept { return transport_; }
  bool upgrading() const noexcept { return probe_started_.has_value(); }
  // The probe's "2probe" was answered and its "5" has not come: the client may have paused
  // polling for good (kept by close(), which ends the upgrade: a session closed in that window
  // gives the client what it left on the probe once the "5" comes, as engine.io).
  bool probe_answered() const noexcept { return probe_acked_; }
  // When the probe now under way began (its identity: the next one begins later); none when
  // there is none.
  std::optional<TimePoint> probe_started() const noexcept {
    return probe_started_ ? std::optional<TimePoint>(*probe_started_) : std::nullopt;
  }
  bool closed() const noexcept { return reason_ != CloseReason::none; }
  CloseReason close_reason() const noexcept { return reason_; }

  // The open packet's JSON: {"sid","upgrades","pingInterval","pingTimeout","maxPayload"}.
  std::string handshake() const;

  // A packet from the client, through `via`. Messages are returned to the caller through
  // take_messages(); protocol packets are handled here.
  void receive(TransportKind via, const Packet& p, TimePoint now);
  // The client's payload could not be decoded.
  void receive_garbage() { close(CloseReason::parse_error); }

  // Queues a packet for the client. Fails when closed or when the queue is full, in packets or
  // bytes (then the session closes with "transport error").
  enum class SendResult { queued, closed, overflow };
  SendResult send(Packet p);
  // The delivery path's form: a reference to a shared frame (no copy, no allocation once the
  // queue has grown to its working size).
  SendResult send(FrameRef f);
  // One message in several frames (a Socket.IO binary message: its text header, then each
  // attachment), admitted as one: the bounds are looked at once, before the message, as for a
  // one-frame message, and either every frame is queued or none (an overflow closes the session
  // with nothing of the message queued). A client never gets a header without its attachments.
  SendResult send_message(FrameRef head, std::span<const FrameRef> rest);
  // A text frame queued whatever the bounds, as a ping is (Socket::send_past_bound): queued, or
  // closed.
  SendResult send_past_bound(FrameRef f);

  // What the current transport should write now. For polling: one payload of at most max_bytes
  // (at least one packet), or empty if nothing waits (hold the GET). For WebSocket, the transport
  // writes the frames of out() and pops what it wrote.
  bool has_output() const noexcept { return !queue_.empty(); }
  // `compress`, if given, is set to whether any packet taken may be compressed (socket.io's
  // compress flag: engine.io compresses a polling payload if one of its packets may be).
  std::string take_polling_payload(std::size_t max_bytes, bool* compress = nullptr);
  FrameQueue& out() noexcept { return queue_; }
  const FrameQueue& out() const noexcept { return queue_; }
  // Every queued packet, taken out of the queue (for tests and the Beast-driven transport).
  std::vector<Packet> take_websocket_packets();
  // During an upgrade: what to write on the probing WebSocket ("3probe").
  std::vector<Packet> take_probe_packets();
  // During an upgrade, once the probe is answered, every GET is answered with a noop so that the
  // client can pause polling and switch: not only the one held then (before 2026-12-03 a client
  // that had the noop before "3probe" and polled again had that GET held, and waited for it to
  // end before it sent "5": until the upgrade timed out, then its ping timeout; the reference
  // answers a GET with a noop every 100 ms until the upgrade ends). Cleared when it ends. At most
  // one noop per kNoopInterval, as the reference's 100 ms check (before 2026-12-03 every GET was
  // answered "6" at once: a client polling on without "3probe" — a proxy holding the WebSocket's
  // answers back — spun in a loop of requests); and the transport sends queued data before a
  // noop (a GET answered with data is released as well).
  static constexpr std::chrono::milliseconds kNoopInterval{100};
  bool polling_needs_noop() const noexcept { return noop_due_; }
  void noop_sent(TimePoint now) noexcept {
    noop_due_ = false;
    next_noop_ = now + kNoopInterval;
  }

  // Whether binary frames go to the client's WebSocket as text, "b" + base64: its handshake's
  // query had b64 (engine.io-client's forceBase64, for a WebSocket that cannot take binary
  // frames), as engine.io's transport does (supportsBinary false). Said for the WebSocket the
  // session starts on, or the one it probes with; in effect while the session is on WebSocket
  // (the frames queued when it gets there are converted then). A polling payload carries binary
  // as base64 whatever the query says (Engine.IO v4).
  void set_websocket_base64(bool on);
  bool websocket_base64() const noexcept { return ws_base64_; }

  // A WebSocket arrived with this session's sid. False if it must be refused (closed, already on
  // WebSocket, a probe in progress, or upgrades disabled).
  bool begin_probe(TimePoint now);
  // The probing WebSocket went away or misbehaved: forget the probe, stay on polling.
  void abandon_probe() noexcept;

  // The current transport went away. Polling: a GET cancelled by the client closes the session.
  void transport_closed(TransportKind which, bool error);
  // The server closes the session. A forced close keeps what is queued, so that the transport
  // layer can still write it (take_* below) before the close packet, as the reference does.
  void close(CloseReason r) noexcept;
  // A close packet queued after what is queued, past the bound as a ping is (a forced close
  // after it keeps it): EngineSocket::close_saying_so.
  void queue_close_packet();

  // Timers: call on_timer(now) at next_deadline() (or later).
  TimePoint next_deadline() const noexcept;
  void on_timer(TimePoint now);

  // Messages (type message) received since the last call, in order.
  std::vector<Packet> take_messages();

 private:
  void schedule_ping(TimePoint now) { next_ping_ = now + options_->ping_interval; }
  // The queued binary frames as base64 text frames, in their places (set_websocket_base64).
  void base64_queued();

  // What send() and a flush read, first (56 bytes: one cache line with the owner's hot fields
  // before it, two at worst); the sid after them.
  TransportKind transport_;
  bool ws_base64_ = false;  // set_websocket_base64 (beside transport_: no byte more)
  CloseReason reason_ = CloseReason::none;
  const SessionOptions* options_;
  FrameQueue queue_;  // to the client on the current transport (bytes(): the byte bound)
  std::string sid_;
  std::vector<Packet> inbox_;  // messages from the client
  // std::optional<TimePoint> in 8 bytes instead of 16 (TimePoint::min() is "none"): every
  // connection holds three.
  class OptTime {
   public:
    OptTime& operator=(TimePoint t) noexcept {
      t_ = t;
      return *this;
    }
    explicit operator bool() const noexcept { return t_ != TimePoint::min(); }
    bool has_value() const noexcept { return t_ != TimePoint::min(); }
    TimePoint operator*() const noexcept { return t_; }
    void reset() noexcept { t_ = TimePoint::min(); }

   private:
    TimePoint t_ = TimePoint::min();
  };
  OptTime next_ping_;                // when to send the next ping
  OptTime pong_due_;                 // when a pong must have arrived
  bool pong_wait_extended_ = false;  // the wait for this pong was extended once already
  OptTime probe_started_;
  bool probe_acked_ = false;  // "2probe" answered; waiting for "5"
  bool noop_due_ = false;
  OptTime next_noop_;              // during an upgrade, after a noop: when the next one may go
  bool probe_answer_due_ = false;  // "3probe" for the probing WebSocket (take_probe_packets)
};

}  // namespace shmio::engineio
