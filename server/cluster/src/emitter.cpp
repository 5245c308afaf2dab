#include "shmio/cluster/emitter.hpp"

#include <optional>
#include <stdexcept>

#include "shmio/cluster/wire.hpp"
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

  // Attaches to the ring's file as it is now; the reason if it cannot.
  std::optional<std::string> attach() {
    writer.reset();  // (the writer before the segment it points into)
    segment.reset();
    auto seg = shm::Segment::attach(
        ring, prefault ? shm::AttachMode::read_write : shm::AttachMode::read_write_lazy);
    if (!seg) return "cannot attach ring '" + ring + "': " + seg.error().message;
    segment.emplace(std::move(seg.value()));
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
    if (writer && segment->still_named()) return true;
    if (auto why = attach()) {
      error = *why + " (the ring was removed or replaced: its cluster stopped?)";
      return false;
    }
    return true;
  }
};

Emitter::Emitter(const std::string& ring, const std::string& label, bool prefault)
    : impl_(std::make_unique<Impl>()) {
  impl_->ring = ring;
  impl_->label = label;
  impl_->prefault = prefault;
  if (auto why = impl_->attach()) throw std::runtime_error(*why);
}

Emitter::~Emitter() {
  impl_->writer.reset();  // the writer before the segment it points into
}

bool Emitter::publish(std::uint16_t type, const std::string& payload) {
  if (!impl_->current(error_)) return false;
  const auto st = impl_->writer->publish(
      type, {reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
  if (st == shm::PublishStatus::ok) return true;
  error_ = shm::to_string(st);
  return false;
}

bool Emitter::publish_broadcast(const std::string& nsp, const sio::BroadcastOptions& opts,
                                const sio::Packet& p) {
  const std::string frame = "4" + sio::encode(p);
  if (!broadcast_fits(nsp, opts)) {
    error_ = "a namespace or room name over 65535 bytes, or over 65535 rooms";
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
  return true;
}

bool EmitOperator::emit(const std::string& event, sio::Args args) const {
  if (sio::is_reserved_event(event)) {  // (false, as the header promises for a refusal)
    em_->error_ = "\"" + event + "\" is a reserved event name";
    return false;
  }
  return em_->publish_broadcast(nsp_, opts_, sio::event_packet(nsp_, event, std::move(args)));
}

bool EmitOperator::sockets_join(const sio::Room& room) const {
  return em_->publish(static_cast<std::uint16_t>(MessageType::sockets_join),
                      write_message({{"nsp", nsp_},
                                     {"opts", options_to_json(opts_)},
                                     {"rooms", json::array{json::string(room)}}}));
}
bool EmitOperator::sockets_leave(const sio::Room& room) const {
  return em_->publish(static_cast<std::uint16_t>(MessageType::sockets_leave),
                      write_message({{"nsp", nsp_},
                                     {"opts", options_to_json(opts_)},
                                     {"rooms", json::array{json::string(room)}}}));
}
bool EmitOperator::disconnect_sockets(bool close) const {
  return em_->publish(
      static_cast<std::uint16_t>(MessageType::disconnect_sockets),
      write_message({{"nsp", nsp_}, {"opts", options_to_json(opts_)}, {"close", close}}));
}
bool EmitOperator::server_side_emit(const std::string& event, sio::Args args) const {
  return em_->publish(
      static_cast<std::uint16_t>(MessageType::server_side_emit),
      write_message({{"nsp", nsp_}, {"event", event}, {"args", args.values}}, args.binaries));
}

}  // namespace shmio::cluster
