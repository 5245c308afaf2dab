// The cluster's messages on the ring: how a worker's adapter operations travel to the others.
// No I/O here (encode/decode only), so the formats are unit-tested and fuzzable on their own.
//
// Every message is one ring record; the record's type is the message type. The numbers 1..13
// are those of socket.io's ClusterAdapter (MessageType); 32 and up are shmio's own.
//
// BROADCAST is the hot path and has a fixed binary layout (little-endian, no alignment):
//
//   0  u8  version (2)         1  u8  flags (1 volatile, 2 compress, 4 with acks)
//   2  u16 namespace bytes     4  u16 rooms     6 u16 except    8 u32 attachments
//  12  u32 frame bytes        16  u64 ack id (with acks: the id inside the frame; else 0)
//  24  u32 ack timeout in ms (with acks: the requester's, how long an answer is worth waiting
//      for — each receiving socket's ack entry and the fleet bridge's relay end there; 0: none
//      said; version 2, 2026-12-02)
//  28  namespace | rooms (u16 length + bytes each) | except (same) | frame |
//      attachments (u32 length + bytes each)
//
// The frame is the Engine.IO text frame ("4" + the Socket.IO packet) exactly as clients receive
// it: every worker hands those bytes to its sockets without re-encoding. With connection state
// recovery the packet's last argument is the record's ring position as 16 hex digits (the
// offset), written into the claimed record before it is committed.
//
// Every other message is JSON (Boost.JSON), followed by binary blobs for binary arguments:
//   u32 json bytes | json | u32 blobs | (u32 length + bytes) per blob
#pragma once

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/socketio/packet.hpp"
#include "shmio/socketio/types.hpp"  // value types only (no Asio)

namespace shmio::cluster {

// socket.io-adapter's ClusterAdapter message types (the ring's records, and the sharded Redis
// adapter's envelope, cluster/redis_wire.hpp), then shmio's own.
enum class MessageType : std::uint16_t {
  initial_heartbeat = 1,  // (Redis envelope only: the ring's registry knows its members)
  heartbeat = 2,          // (Redis envelope only)
  broadcast = 3,
  sockets_join = 4,
  sockets_leave = 5,
  disconnect_sockets = 6,
  fetch_sockets = 7,
  fetch_sockets_response = 8,
  server_side_emit = 9,
  server_side_emit_response = 10,
  broadcast_client_count = 11,
  broadcast_ack = 12,
  adapter_close = 13,  // (Redis envelope only)
  // 32, 33, 35, 36: retired (recovery sessions went through the ring before they moved to the
  // shared-memory session table, shm/session_store.hpp); never sent, skipped if read.
  session = 32,
  session_taken = 33,
  worker_down = 34,  // the supervisor saw a worker die
  sessions_sync_request = 35,
  sessions_sync = 36,
  load = 37,  // a worker's client count, once a second (rebalancing)
  // The fleet bridge (docs/redis.md): a worker's namespaces ({"worker", "nsps"}, and "telling",
  // "rooms", "incomplete", "nsps_incomplete", "part" i of "parts" n: in parts of half a record
  // each when they are many; at its start and when it creates or removes one, both only while a
  // bridge holds a slot, and when asked), the bridge's question for them, and the rooms of a
  // namespace for a fleet's allRooms ({"requestId", "nsp"} -> {"requestId", "to", "part",
  // "parts", "rooms"}: in parts that each fit a record, the first saying how many).
  namespaces = 38,
  namespaces_request = 39,
  all_rooms = 40,
  all_rooms_response = 41,
  // A sharded fleet bridge in a dynamic subscription mode subscribes to the channel of every room
  // its workers have: asked for them ({"rooms": "public"|"all"} in NAMESPACES_REQUEST: a worker
  // then adds {"rooms": {nsp: [...]}} to its NAMESPACES), each worker then says each room it
  // creates or deletes ({"worker", "nsp", "room", "created"}). "public": rooms whose name is not
  // 20 characters long (the Node adapter's test for a socket id).
  room_changed = 42,
  // With a ring per worker (docs/ring-per-worker.md): the first record a worker writes into its
  // own ring, {"worker", "id": its slot id on the shared ring (its identity on the wire),
  // "generation": that slot's}: the records after it in that ring, up to the next one, are that
  // worker's (while that slot has that generation).
  ring_owner = 43,
  // A worker's reader was lapped ({"ring": the owner worker's index of the ring it lost records
  // of, -1 for the shared ring; "from", "to": the positions [from, to) of that ring it never
  // read}): a request of another worker published there gets no answer from it (it never read
  // the request), and ends its wait for it at once, as at the request's timeout, its answers
  // missing (Node::Impl::peer_lapped). Since 2026-12-07: before, such a request waited for its
  // whole timeout.
  lapped = 44,
  // A worker whose reader was lapped may have lost answers to its own requests, which it cannot
  // tell from answers still to come. It asks ({"check": an id of its own, "requests": [request
  // ids it still waits on]}); every worker, and the fleet bridge, says which of them it still
  // owes it answers for ({"to", "check", "owed": [{"requestId"[, "clients"][, "given"]}]}): that
  // reply follows, in the ring its answers go into, every answer it gave before it, so answers
  // from it that have not come by then were lost (Node::Impl::take_answers_owed; docs/cluster.md).
  // Since 2026-12-07: before, such a request waited for its whole timeout.
  answers_check = 45,
  answers_owed = 46,
};
const char* to_string(MessageType t) noexcept;

// A JSON value that is a whole number >= 0 (JSON text reads one below 2^63 back as int64), or
// nullopt.
std::optional<std::uint64_t> whole_number(const boost::json::value& v) noexcept;

// How many requests a check names at most: as many as a reply naming all of them as owed
// (kAnswersOwedEntryBytes each at most) fits in the share of a ring an answer may take — half a
// record, and half the ring shared by the `writers` writing into it —, and never over
// kMaxCheckedRequests (about 21 KB of JSON). The rest wait for their answers or their timeout.
inline constexpr std::size_t kAnswersOwedEntryBytes = 96;
inline constexpr std::size_t kMaxCheckedRequests = 1024;
inline std::size_t checked_requests_at_most(std::size_t max_record, std::size_t capacity,
                                            std::size_t writers) {
  const std::size_t budget =
      std::min(max_record / 2, capacity / 2 / std::max<std::size_t>(1, writers));
  return std::clamp<std::size_t>(budget / kAnswersOwedEntryBytes, 1, kMaxCheckedRequests);
}

// An ANSWERS_CHECK record's body, read: its id and the request ids it names (entries that are not
// whole numbers passed over); nullopt without the id or the list.
struct ChecksSaid {
  std::uint64_t check = 0;
  std::vector<std::uint64_t> requests;
};
std::optional<ChecksSaid> read_answers_check(const boost::json::object& body);
// An ANSWERS_OWED record's body, read: the check it answers and, by request id, what is owed
// ("clients": the count said, if given; "given": the answers given since). nullopt without the
// check's id or the list, or with an entry not of whole numbers (a count misread as 0 would end
// a wait with no error).
struct OwedSaid {
  bool counted = false;
  std::uint64_t clients = 0, given = 0;
};
struct OwedList {
  std::uint64_t check = 0;
  std::map<std::uint64_t, OwedSaid> owed;
};
std::optional<OwedList> read_answers_owed(const boost::json::object& body);

// A LAPPED record's body, read: the ring (-1: the shared ring; else a worker's, which only a
// cluster with a ring per worker of `workers` has) and the positions [from, to) never read.
// nullopt when a field is missing, not a whole number, or names a ring the cluster lacks.
struct LapSaid {
  int ring = -1;
  std::uint64_t from = 0, to = 0;
};
std::optional<LapSaid> read_lapped(const boost::json::object& body, bool ring_per_worker,
                                   int workers);

inline constexpr std::uint8_t kFlagVolatile = 1, kFlagCompress = 2, kFlagAck = 4;
// The publishing worker delivers this broadcast to its own sockets when its reader reaches the
// record, like every other worker, not when it publishes it: set on broadcasts that carry a
// recovery offset, so that every socket receives them in ring order (an offset then names
// everything its socket has: a replay from it neither repeats nor skips a record).
inline constexpr std::uint8_t kFlagOwnInRingOrder = 8;
// A broadcast the fleet bridge took from Redis (docs/redis.md): delivered by every worker like any
// other, never published back to the fleet. (Messages other than BROADCAST say it with "fleet":
// true in their JSON.)
inline constexpr std::uint8_t kFlagFromFleet = 16;
// The frame's last argument is a recovery offset's placeholder (kOffsetDigits digits on a shared
// ring, kWorkerOffsetDigits with a ring per worker, where each receiving worker writes its own
// into its copy: docs/ring-per-worker.md).
inline constexpr std::uint8_t kFlagOffset = 32;
// The fleet bridge's producer and reader label in the ring's registry.
inline constexpr char kBridgeLabel[] = "bridge";
// The stride of a cluster's ack ids (socketio::ServerOptions::ack_id_stride): worker w sends
// w + stride * k, the fleet bridge stride - 1 + stride * k, so no two processes hand out the same
// id; the smallest power of two past the workers and the bridge, so that each has as many ids
// below 2^31 as it can (socketio::kMaxAckId; a stride of 4096, before 2026-12-05, sent
// ids up to 2^43, which socket.io-client-java refuses).
inline std::uint64_t ack_id_stride(int workers) {
  std::uint64_t s = 2;
  while (s < static_cast<std::uint64_t>(std::max(workers, 1)) + 1) s *= 2;
  return s;
}
inline constexpr std::size_t kBroadcastHeader = 28;
inline constexpr std::size_t kOffsetDigits = 16;
inline constexpr std::size_t kWorkerOffsetDigits = 32;

// A decoded BROADCAST. Views point into the buffer it was decoded from.
struct BroadcastView {
  std::uint8_t flags = 0;
  std::string_view nsp;
  std::vector<std::string_view> rooms, except;
  std::string_view frame;
  std::vector<std::string_view> attachments;
  std::uint64_t ack_id = 0;
  std::uint32_t timeout_ms = 0;  // with acks: the requester's timeout (0: none said)
};

// Whether a BROADCAST can carry this namespace and these rooms: each name is at most 65,535
// bytes and each list at most 65,535 names (u16 lengths in the layout above).
// A broadcast record's names are 16-bit counted: at most this many rooms (and except), each at
// most this many bytes, as the namespace's name.
inline constexpr std::size_t kMaxBroadcastNames = 0xFFFF;
// A record's binary parts (a BROADCAST's attachments, a message's blobs): at most this many, as
// a fleet peer's msgpack message (msgpack::kMaxBinaries). Each costs a reader a view and a frame
// (~80 bytes) for its 4 bytes of length in the record: uncounted, one 16 MiB record of empty
// attachments made every worker build 4 million of them.
inline constexpr std::size_t kMaxRecordBinaries = std::size_t{1} << 16;
// Also false past kMaxRecordBinaries attachments (`attachments`).
bool broadcast_fits(std::string_view nsp, const socketio::BroadcastOptions& opts,
                    std::size_t attachments = 0);
// The flags byte for these broadcast flags (kFlagAck is the caller's).
std::uint8_t broadcast_flags(const socketio::BroadcastFlags& f);

// The bytes a BROADCAST of these parts takes.
std::size_t broadcast_size(std::string_view nsp, const socketio::BroadcastOptions& opts,
                           std::size_t frame_bytes, const std::vector<socketio::Binary>& att);
// Writes it into `out` (exactly broadcast_size() bytes); returns the offset of the frame in out.
std::size_t write_broadcast(std::span<std::byte> out, std::string_view nsp,
                            const socketio::BroadcastOptions& opts, std::uint8_t flags,
                            std::uint64_t ack_id, std::string_view frame,
                            const std::vector<socketio::Binary>& att);
// nullopt if the bytes are not a well-formed BROADCAST (never reads out of bounds): among
// others, one whose attachments are more than kMaxRecordBinaries, or not as many as its frame's
// header counts ("45<n>-" / "46<n>-"; none for any other frame).
std::optional<BroadcastView> read_broadcast(std::span<const std::byte> in);

// The JSON + blobs form of the other messages.
std::string write_message(const boost::json::object& body,
                          const std::vector<socketio::Binary>& blobs = {});
// Whether write_message's bytes can be read back: at most kMaxRecordBinaries blobs (publishers
// check it, and refuse what every reader would skip as a bad record).
bool message_fits(std::string_view written) noexcept;
struct Message {
  boost::json::object body;
  std::vector<socketio::Binary> blobs;
};
// The JSON nesting read_message() accepts: beyond what any writer of the ring lets in (a client's
// packet, ServerOptions::max_json_depth, 32 unless an app raises it, at most 1000; a fleet peer's
// message, msgpack::kMaxDepth, 64), with the few levels a message wraps around it. Deeper: not read
// (nullopt, counted as a bad record).
inline constexpr std::size_t kMaxMessageDepth = 1024;
// nullopt if the bytes are not a well-formed message (more than kMaxRecordBinaries blobs too).
std::optional<Message> read_message(std::span<const std::byte> in);

// A FETCH_SOCKETS answer in parts that each fit a ring record: sockets (their JSON) packed into
// parts of at most `budget` bytes; one over the budget is left out and passed to `too_large`
// (with its size). Always at least one part (the first says how many there are). With
// `part_bytes`, each part's bytes as counted (its sockets' JSON, one byte more each).
std::vector<boost::json::array> split_sockets(
    boost::json::array sockets, std::size_t budget,
    const std::function<void(std::size_t bytes)>& too_large = {},
    std::vector<std::size_t>* part_bytes = nullptr);
// The same answer as it goes into a ring: split_sockets' parts of at most min(budget, total)
// bytes, then only as many of them, in order, as fit `total` bytes together (the first always):
// an answer written at once must not lap the ring's readers (a worker lapped disconnects its
// clients). The sockets of the parts left out are counted in `left_out`.
std::vector<boost::json::array> bounded_socket_parts(
    boost::json::array sockets, std::size_t budget, std::size_t total, std::size_t& left_out,
    const std::function<void(std::size_t bytes)>& too_large = {});

// Broadcast options <-> JSON ({"rooms":[...],"except":[...],"flags":{...}}).
boost::json::object options_to_json(const socketio::BroadcastOptions& o);
socketio::BroadcastOptions options_from_json(const boost::json::object& o);
// Handshake <-> JSON (for fetch_sockets answers).
boost::json::object handshake_to_json(const socketio::Handshake& h);
socketio::Handshake handshake_from_json(const boost::json::object& o);

// The recovery offset of a record: its ring position, 16 lower-case hex digits.
std::string offset_of(std::uint64_t position);
std::optional<std::uint64_t> position_of(std::string_view offset);
// With a ring per worker (docs/ring-per-worker.md, "Connection state recovery over N rings"): the
// offset a worker gives the record at `position` of ring `ring` (the workers' rings 0..N-1, the
// shared one N) that it delivers under entry `entry` of its cut log, 32 lower-case hex digits:
// worker (2), entry (12), ring (2), position (16).
struct WorkerOffset {
  std::uint32_t worker = 0;
  std::uint64_t entry = 0;
  std::uint32_t ring = 0;
  std::uint64_t position = 0;
};
std::string worker_offset_of(const WorkerOffset& o);
// The same digits in a buffer of their own (no allocation: written into every delivered frame).
std::array<char, kWorkerOffsetDigits> worker_offset_digits(const WorkerOffset& o);
std::optional<WorkerOffset> worker_offset_from(std::string_view offset);
// Writes `offset` over the placeholder a frame flagged kFlagOffset ends with (`..."<digits>"]`,
// as many digits as `offset` has). False (frame unchanged) if the frame does not end that way.
bool patch_offset(char* frame, std::size_t size, std::string_view offset);

}  // namespace shmio::cluster
