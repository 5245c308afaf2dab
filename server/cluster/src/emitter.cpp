#include "shmio/cluster/emitter.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>

#include "shmio/cluster/wire.hpp"
#include "shmio/engineio/packet.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"

namespace shmio::cluster {

namespace json = boost::json;
namespace sio = socketio;

struct Emitter::Impl {
  std::string ring, label;
  bool prefault = true;
  std::optional<shm::Segment> segment;
  std::optional<shm::RingWriter> writer;

  // Flow control (Emitter's max_hold): after every 32nd of the ring written, a look at the
  // readers; one over half the ring behind is waited for, a look every millisecond (readers do
  // not signal their progress; the fleet bridge looks as often), until it is within a quarter of
  // the ring or max_hold has passed — then it is passed over until it catches up. Before
  // 2026-12-04 an emitter wrote as fast as it could: a burst of a ring's worth lapped a busy
  // worker, which disconnects every client of its own (docs/cluster.md, "Lapped workers").
  std::chrono::milliseconds max_hold{1000};
  std::uint64_t written_since_look = 0;
  shm::registry::ReaderPacing pacing;
  std::atomic<std::uint64_t> holds{0}, hold_timeouts{0};
  void pace(std::size_t bytes) {
    if (max_hold.count() <= 0) return;
    written_since_look += bytes;
    if (written_since_look < segment->capacity() / 32) return;
    written_since_look = 0;
    if (!segment->still_named() ||
        pacing.furthest_behind(*segment).bytes <= segment->capacity() / 2)
      return;
    holds.fetch_add(1, std::memory_order_relaxed);
    const auto since = std::chrono::steady_clock::now();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      // (A ring no longer under its name may be truncated: no look into it. The next message
      // attaches again.)
      if (!segment->still_named()) return;
      const auto b = pacing.furthest_behind(*segment);
      if (b.bytes <= segment->capacity() / 4) return;
      if (std::chrono::steady_clock::now() - since >= max_hold) {
        hold_timeouts.fetch_add(1, std::memory_order_relaxed);
        pacing.pass_over(*segment, b.slot);
        return;
      }
    }
  }

  std::chrono::steady_clock::time_point alive_checked{};
  // When readers were last seen on the ring (at most once a second, and before the first
  // message): none, a message would reach no client.
  std::chrono::steady_clock::time_point readers_seen{};
  // Why a message written now reaches no one: no live process holds a reader slot (every worker
  // starting or restarting, say — a worker reads from the latest record when it starts — and no
  // fleet bridge). Before 2026-12-04 it was written, and shmio-emit said it was sent.
  std::optional<std::string> nobody_reads() const {
    for (std::size_t i = 0; i < segment->max_readers(); ++i) {
      const auto& slot = segment->reader_slot(i);
      if (slot.state.load(std::memory_order_acquire) == shm::layout::kSlotActive &&
          shm::liveness(shm::registry::owner_of(slot)) == shm::Liveness::alive)
        return std::nullopt;
    }
    return "nothing written: no process reads ring '" + ring +
           "' now (its workers are starting or restarting, and no fleet bridge runs): a "
           "message now would reach no client";
  }
  // The ring's creator (the cluster's supervisor) is gone: the cluster is not running, and the
  // ring is one it left behind (the next cluster of that name removes it).
  std::optional<std::string> creator_gone() const {
    const shm::layout::SegmentHeader& h = segment->header();
    const shm::ProcessIdentity who{h.creator_pid, h.creator_start_time};
    if (shm::liveness(who) == shm::Liveness::alive) return std::nullopt;
    return "the cluster that made ring '" + ring + "' is not running (its creator, pid " +
           std::to_string(h.creator_pid) + ", is gone: the ring was left behind)";
  }
  // Attaches to the ring's file as it is now; the reason if it cannot.
  std::optional<std::string> attach() {
    writer.reset();  // (the writer before the segment it points into)
    segment.reset();
    // (What the pacing knew was of the ring before: slots passed over name its readers.)
    pacing = shm::registry::ReaderPacing{};
    written_since_look = 0;
    auto seg = shm::Segment::attach(
        ring, prefault ? shm::AttachMode::read_write : shm::AttachMode::read_write_lazy);
    if (!seg) return "cannot attach ring '" + ring + "': " + seg.error().message;
    segment.emplace(std::move(seg.value()));
    if (auto why = creator_gone()) {
      segment.reset();
      return why;
    }
    // A worker's own ring (--ring-per-worker: made for one producer, its worker) is not an
    // emitter's: taken while its worker is down, the restarted worker is refused its ring and
    // crash-loops for as long as the emitter holds it, and what was written there reaches no
    // client of that worker (before 2026-12-03 it was taken; a helper's review).
    if (segment->exclusive_producer()) {
      segment.reset();
      return "ring '" + ring +
             "' is a worker's own ring (made for one producer): emit into the cluster's ring, "
             "its name without the .w<N> suffix";
    }
    alive_checked = std::chrono::steady_clock::now();
    auto w = shm::RingWriter::attach(*segment, {label, -1});
    if (!w) {
      segment.reset();
      return "cannot take a producer slot: " + w.error().message;
    }
    writer.emplace(std::move(w.value()));
    return std::nullopt;
  }
  // Before each message: the ring this emitter writes into is still the cluster's. One that was
  // removed or replaced (its cluster stopped, or restarted: a new ring of that name) is attached
  // again, or the message refused with why — a long-lived emitter wrote on into the removed one,
  // every emit "succeeded" and none reached a client (found in review, 2026-12-02). One stat()
  // a message, a microsecond or so on tmpfs.
  bool current(std::string& error) {
    if (writer && segment->still_named()) {
      // Its cluster still running (looked at once a second at most: a /proc read). A cluster
      // killed without its drain (SIGKILL, a crash) leaves its ring; what is written into it
      // reaches no one (found in review, 2026-12-03: shmio-emit said "sent").
      const auto now = std::chrono::steady_clock::now();
      if (now - alive_checked >= std::chrono::seconds(1)) {
        alive_checked = now;
        if (auto why = creator_gone()) {
          // (Let go: every later message attaches again, and is refused while it is so.)
          writer.reset();
          segment.reset();
          error = *why;
          return false;
        }
      }
      if (readers_seen == std::chrono::steady_clock::time_point{} ||
          now - readers_seen >= std::chrono::seconds(1)) {
        if (auto why = nobody_reads()) {
          readers_seen = {};  // (looked at again for the next message)
          error = *why;
          return false;
        }
        readers_seen = now;
      }
      return true;
    }
    // (Let go without a store into the mapping: the file may have been truncated, and then
    // removed or replaced — what the supervisor does with a truncated ring — where a release
    // would meet a SIGBUS; its slot stays taken in that file, which its cluster no longer uses.)
    if (writer) writer->abandon();
    if (auto why = attach()) {
      error = *why + " (the ring was removed or replaced: its cluster stopped?)";
      return false;
    }
    // (A new ring is read by no one until its workers attach: looked at now, not a second after
    // the old ring's look.)
    if (auto why = nobody_reads()) {
      readers_seen = {};
      error = *why;
      return false;
    }
    readers_seen = std::chrono::steady_clock::now();
    return true;
  }
};

Emitter::Emitter(const std::string& ring, const std::string& label, bool prefault,
                 std::chrono::milliseconds max_hold)
    : impl_(std::make_unique<Impl>()) {
  // The labels the cluster's own writers go by: workers count a live "worker-..." slot as a worker
  // that answers requests (an emitter so named made every fetchSockets and serverSideEmitWithAck
  // wait for its answer until their timeout), "bridge" as the fleet bridge, "supervisor" as the
  // one whose WORKER_DOWN records they take (a bug hunt, 2026-12-06).
  // (As the slot will hold it: up to a NUL, at most kLabelBytes - 1 bytes.)
  const std::string held(label.c_str(),
                         std::min(std::strlen(label.c_str()), shm::layout::kLabelBytes - 1));
  if (held.rfind("worker-", 0) == 0 || held == kBridgeLabel || held == "supervisor")
    throw std::runtime_error("emitter label '" + held +
                             "' is reserved for the cluster's own processes (worker-..., " +
                             kBridgeLabel + ", supervisor): choose another");
  impl_->ring = ring;
  impl_->label = label;
  impl_->prefault = prefault;
  impl_->max_hold = max_hold;
  if (auto why = impl_->attach()) throw std::runtime_error(*why);
}

Emitter::~Emitter() {
  // (A ring no longer under its name may be truncated: let go without a store into it.)
  if (impl_->writer && !impl_->segment->still_named()) impl_->writer->abandon();
  impl_->writer.reset();  // the writer before the segment it points into
}

bool Emitter::publish(std::uint16_t type, const std::string& payload) {
  if (!message_fits(payload)) {  // (every reader would skip it as a bad record)
    error_ = "over 65536 binary arguments";
    return false;
  }
  if (!impl_->current(error_)) return false;
  const auto st = impl_->writer->publish(
      type, {reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
  if (st == shm::PublishStatus::ok) {
    impl_->pace(payload.size());
    return true;
  }
  error_ = shm::to_string(st);
  return false;
}

bool Emitter::publish_broadcast(const std::string& nsp, const sio::BroadcastOptions& opts,
                                const sio::Packet& p) {
  const std::string frame = "4" + sio::encode(p);
  if (!broadcast_fits(nsp, opts, p.attachments.size())) {
    error_ =
        "a namespace or room name over 65535 bytes, over 65535 rooms, or over 65536 binary "
        "arguments";
    return false;
  }
  if (!impl_->current(error_)) return false;
  const std::size_t size = broadcast_size(nsp, opts, frame.size(), p.attachments);
  auto claim = impl_->writer->claim(size, static_cast<std::uint16_t>(MessageType::broadcast));
  if (claim.status != shm::PublishStatus::ok) {
    error_ = shm::to_string(claim.status);
    return false;
  }
  write_broadcast(claim.payload, nsp, opts, broadcast_flags(opts.flags), 0, frame, p.attachments);
  impl_->writer->commit();
  impl_->pace(size);
  return true;
}

std::uint64_t Emitter::holds() const noexcept {
  return impl_->holds.load(std::memory_order_relaxed);
}
std::uint64_t Emitter::hold_timeouts() const noexcept {
  return impl_->hold_timeouts.load(std::memory_order_relaxed);
}

std::string names_refused(const std::string& nsp, const sio::BroadcastOptions& opts,
                          std::initializer_list<std::string_view> more) {
  auto bad = [](std::string_view name) { return engineio::mend_utf8(name).has_value(); };
  // (The record's bounds: past them the ring's emitter refused it only at its write, and the
  // Redis one sent what every shmio member drops; since 2026-12-05.)
  if (!broadcast_fits(nsp, opts))
    return "a namespace or room name over 65535 bytes, or over 65535 rooms (to or except)";
  if (bad(nsp)) return "the namespace's name is not UTF-8";
  for (const auto& r : opts.rooms)
    if (bad(r)) return "a room's name is not UTF-8";
  for (const auto& r : opts.except)
    if (bad(r)) return "a room's name is not UTF-8";
  for (std::string_view m : more)
    if (bad(m)) return "a name is not UTF-8 (a room's or the event's)";
  return "";
}

std::string rooms_refused(const std::string& nsp, const sio::BroadcastOptions& opts,
                          const std::vector<sio::Room>& rooms) {
  if (std::string why = names_refused(nsp, opts); !why.empty()) return why;
  if (rooms.size() > kMaxBroadcastNames) return "over 65535 rooms to join or leave";
  for (const sio::Room& r : rooms)
    if (r.size() > kMaxBroadcastNames) return "a room to join or leave over 65535 bytes";
  for (const sio::Room& r : rooms)
    if (std::string why = names_refused(nsp, opts, {r}); !why.empty()) return why;
  return "";
}

// The names' refusal, said in `error`: false then.
static bool names_ok(const std::string& nsp, const sio::BroadcastOptions& opts,
                     std::initializer_list<std::string_view> more, std::string& error) {
  std::string why = names_refused(nsp, opts, more);
  if (why.empty()) return true;
  error = std::move(why);
  return false;
}

std::string args_refused(const std::string& event, const sio::Args& args, bool server_side) {
  if (server_side && sio::is_reserved_server_side_event(event))
    return "\"" + event + "\" is a reserved event name";
  try {
    sio::check_attachments(args);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

namespace {
// (Refusals are false with the reason in last_error(), as the header promises: before
// 2026-12-05 event_packet's exception left emit(), and a reserved server-side name went out;
// found by a review.)
bool args_ok(const std::string& event, const sio::Args& args, bool server_side,
             std::string& error) {
  std::string why = args_refused(event, args, server_side);
  if (why.empty()) return true;
  error = std::move(why);
  return false;
}
}  // namespace

bool EmitOperator::emit(const std::string& event, sio::Args args) const {
  if (sio::is_reserved_event(event)) {  // (false, as the header promises for a refusal)
    em_->error_ = "\"" + event + "\" is a reserved event name";
    return false;
  }
  if (!names_ok(nsp_, opts_, {event}, em_->error_)) return false;
  sio::Packet p;
  try {
    p = sio::event_packet(nsp_, event, std::move(args));  // (it checks the placeholders)
  } catch (const std::invalid_argument& e) {
    em_->error_ = e.what();
    return false;
  }
  return em_->publish_broadcast(nsp_, opts_, std::move(p));
}

namespace {
// SOCKETS_JOIN / SOCKETS_LEAVE of `rooms` (refused as rooms_refused says, in `error`).
std::optional<std::string> rooms_message(const std::string& nsp, const sio::BroadcastOptions& opts,
                                         const std::vector<sio::Room>& rooms, std::string& error) {
  if (std::string why = rooms_refused(nsp, opts, rooms); !why.empty()) {
    error = std::move(why);
    return std::nullopt;
  }
  json::array a;
  for (const sio::Room& r : rooms) a.emplace_back(json::string(r));
  return write_message({{"nsp", nsp}, {"opts", options_to_json(opts)}, {"rooms", std::move(a)}});
}
}  // namespace

bool EmitOperator::sockets_join(const std::vector<sio::Room>& rooms) const {
  const auto m = rooms_message(nsp_, opts_, rooms, em_->error_);
  return m && em_->publish(static_cast<std::uint16_t>(MessageType::sockets_join), *m);
}
bool EmitOperator::sockets_leave(const std::vector<sio::Room>& rooms) const {
  const auto m = rooms_message(nsp_, opts_, rooms, em_->error_);
  return m && em_->publish(static_cast<std::uint16_t>(MessageType::sockets_leave), *m);
}
bool EmitOperator::disconnect_sockets(bool close) const {
  if (!names_ok(nsp_, opts_, {}, em_->error_)) return false;
  return em_->publish(
      static_cast<std::uint16_t>(MessageType::disconnect_sockets),
      write_message({{"nsp", nsp_}, {"opts", options_to_json(opts_)}, {"close", close}}));
}
bool EmitOperator::server_side_emit(const std::string& event, sio::Args args) const {
  if (!args_ok(event, args, true, em_->error_)) return false;
  if (!names_ok(nsp_, opts_, {event}, em_->error_)) return false;
  return em_->publish(
      static_cast<std::uint16_t>(MessageType::server_side_emit),
      write_message({{"nsp", nsp_}, {"event", event}, {"args", args.values}}, args.binaries));
}

}  // namespace shmio::cluster
