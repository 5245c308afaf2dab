// io.to(...).except(...).emit(...): the broadcast operator.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

#include "client.hpp"
#include "detail.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

BroadcastOperator BroadcastOperator::to(const Room& room) && {
  opts_.rooms.insert(room);
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::except(const Room& room) && {
  opts_.except.insert(room);
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::volatile_() && {
  opts_.flags.volatile_ = true;
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::local() && {
  opts_.flags.local = true;
  return std::move(*this);
}
BroadcastOperator BroadcastOperator::compress(bool on) && {
  opts_.flags.compress = on;
  return std::move(*this);
}

BroadcastOperator BroadcastOperator::timeout(std::chrono::milliseconds t) && {
  timeout_ = t;
  return std::move(*this);
}

void BroadcastOperator::emit_with_ack(const std::string& event, Args args,
                                      AckCallback callback) const {
  // (Its timer may outlive the Server, in an io_context run on after it is gone: then the app is
  // not called back, as library.md says; before 2026-12-06 it was, told "operation has timed
  // out", with what it had captured of the Server freed; a helper's review.)
  auto collector = std::make_shared<AckCollector>(
      nsp_->server().io(),
      [life = std::weak_ptr<bool>(nsp_->server().callbacks_life_), cb = std::move(callback)](
          std::optional<std::string> e, std::vector<Args> rs) {
        if (!life.expired()) cb(std::move(e), std::move(rs));
      });
  Packet p = event_packet(nsp_->name(), event, std::move(args));
  // (An id a request of this server still waits under is passed over, up to 16 times: ids wrap
  // below 2^31, every S-th a cluster worker's, shared with every socket's emit_with_ack, so a
  // broadcast waiting minutes can outlive a wrap; its id taken again, the new broadcast replaced
  // the old one's tracking, and the answers of each were counted as the other's (before
  // 2026-12-05; found by a review).)
  std::uint64_t id = nsp_->next_ack_id();
  for (int tries = 0; tries < 16 && nsp_->adapter().ack_id_pending(id); ++tries)
    id = nsp_->next_ack_id();
  p.id = id;
  BroadcastOptions opts = opts_;
  opts.flags.timeout_ms = static_cast<std::uint32_t>(
      std::clamp<std::chrono::milliseconds::rep>(timeout_.count(), 1, 0xFFFFFFFF));
  // (The timeout counts from here, before the delivery: AckCollector says why. The clamped one,
  // which every target's deadline counts too.)
  collector->arm(std::chrono::milliseconds(opts.flags.timeout_ms));
  nsp_->adapter().broadcast_with_ack(std::move(p), opts, collector);
  collector->start();
}

std::size_t BroadcastOperator::emit(const std::string& event, Args args) const {
  return nsp_->deliver(event_packet(nsp_->name(), event, std::move(args)), opts_);
}

void BroadcastOperator::fetch_sockets(std::function<void(std::vector<RemoteSocket>)> done) const {
  // The operator's timeout goes with the request, as socket.io's flags.timeout does: how long an
  // adapter that asks other servers waits for their answers.
  BroadcastOptions opts = opts_;
  opts.flags.timeout_ms = static_cast<std::uint32_t>(
      std::clamp<std::chrono::milliseconds::rep>(timeout_.count(), 1, 0xFFFFFFFF));
  nsp_->adapter().fetch_sockets(opts, std::move(done));
}

std::vector<SocketPtr> BroadcastOperator::fetch_sockets() const {
  std::vector<SocketPtr> out;
  for (const SocketId& id : nsp_->adapter().targets(opts_))
    if (SocketPtr s = nsp_->socket(id)) out.push_back(std::move(s));
  return out;
}

void BroadcastOperator::sockets_join(const Room& room) const {
  nsp_->adapter().add_sockets(opts_, {room});
}
void BroadcastOperator::sockets_join(std::initializer_list<Room> rooms) const {
  nsp_->adapter().add_sockets(opts_, std::set<Room>(rooms));
}
void BroadcastOperator::sockets_join(const std::vector<Room>& rooms) const {
  nsp_->adapter().add_sockets(opts_, std::set<Room>(rooms.begin(), rooms.end()));
}
void BroadcastOperator::sockets_leave(const Room& room) const {
  nsp_->adapter().del_sockets(opts_, {room});
}
void BroadcastOperator::sockets_leave(std::initializer_list<Room> rooms) const {
  nsp_->adapter().del_sockets(opts_, std::set<Room>(rooms));
}
void BroadcastOperator::sockets_leave(const std::vector<Room>& rooms) const {
  nsp_->adapter().del_sockets(opts_, std::set<Room>(rooms.begin(), rooms.end()));
}
void BroadcastOperator::disconnect_sockets(bool close) const {
  nsp_->adapter().disconnect_sockets(opts_, close);
}
}  // namespace shmio::socketio
