#include "shmio/redis/emitter.hpp"

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include "shmio/cluster/redis_wire.hpp"
#include "shmio/redis/client.hpp"

namespace shmio::redis {

namespace fleet = cluster::fleet;
namespace sio = socketio;
namespace json = boost::json;

struct Emitter::Impl {
  boost::asio::io_context io;
  std::shared_ptr<Client> client;
  std::chrono::milliseconds timeout;
  ClientOptions options;
  bool started = false;
  // Why the connection last went down (a refused AUTH or SELECT, a refused connect), said with
  // an error that only says it was lost: before 2026-12-03 last_error() never told a wrong
  // password from a dead link.
  std::string last_down;
  // Whether the connection was up at some moment since the last command was given: if not, the
  // command cannot have been written, and a timeout says "not published" (before 2026-12-05 it
  // said "it may have been published" with no connection ever made, and a script told not to send
  // twice lost the message).
  bool up_since_command = false;
  // Whether a connection was ever made, and the attempts that failed (refused, unreachable, a
  // refused AUTH or SELECT): until one is made, the first failure ends a command's wait at once
  // (a wrong port or password is said at once, not after the whole timeout: before 2026-12-05
  // `shmio-emit --redis` to a port nobody listens on waited its 5 s). Once connected, a lost
  // connection is waited for (retried with backoff) until the timeout, as before.
  bool ever_up = false;
  std::uint64_t downs = 0;
  std::string said(std::string error) const {
    if (!last_down.empty()) error += " (the connection: " + last_down + ")";
    return error;
  }
};

Emitter::Emitter(const std::string& url, std::string key, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), key_(std::move(key)) {
  impl_->timeout = timeout;
  impl_->options.url = url;
  impl_->options.on_state = [m = impl_.get()](bool up, const std::string& why) {
    if (up) {
      m->last_down.clear();
      m->up_since_command = true;
      m->ever_up = true;
    } else {
      m->last_down = why;
      ++m->downs;
    }
  };
  std::string why;
  impl_->client = Client::create(impl_->io, impl_->options, &why);
  if (!impl_->client) throw std::invalid_argument("redis URL " + shown_url(url) + ": " + why);
}

Emitter::~Emitter() {
  impl_->client->stop();
  impl_->io.poll();  // (the stopped client's handlers)
}

bool Emitter::publish(const std::string& channel, const std::string& payload) {
  Impl& m = *impl_;
  if (!m.started) {
    m.client->start();
    m.started = true;
  } else {
    // The client runs only inside these calls: what happened to its connection since the last
    // one (Redis's idle `timeout`, a proxy, CLIENT KILL closed it) is seen first, so that the
    // command waits for the reconnection instead of going out on the dead connection and
    // failing ("connection lost": the first emit after every idle close failed).
    m.io.restart();
    m.io.poll();
  }
  error_.clear();
  receivers_ = 0;
  maybe_published_ = false;
  std::optional<Reply> reply;
  m.up_since_command = m.client->connected();
  const std::uint64_t downs = m.downs;
  m.client->command({"PUBLISH", channel, payload}, [&reply](const Reply& r) { reply = r; });
  m.io.restart();
  const auto deadline = std::chrono::steady_clock::now() + m.timeout;
  bool never = false;  // no connection made yet, and an attempt for this command failed
  while (!reply && std::chrono::steady_clock::now() < deadline) {
    m.io.run_one_for(std::chrono::milliseconds(50));
    if (!reply && !m.ever_up && m.downs != downs) {
      never = true;
      break;
    }
  }
  if (!reply) {
    maybe_published_ = !never && m.up_since_command;
    error_ = m.said(never ? std::string("not published: cannot connect to Redis")
                    : m.up_since_command
                        ? "Redis did not answer within " + std::to_string(m.timeout.count()) +
                              " ms (" + (m.client->connected() ? "connected" : "not connected") +
                              "; it may have been published)"
                        : "not published: no connection to Redis within " +
                              std::to_string(m.timeout.count()) + " ms");
    // The command stays queued in the client: a fresh client, so that it is not sent later.
    m.client->stop();
    m.io.poll();
    m.client = Client::create(m.io, m.options);
    m.started = false;
    return false;
  }
  if (reply->is_error()) {
    // Written, and the connection lost before Redis answered: Redis may have run it (before
    // 2026-12-07 said as any failure, and shmio-emit printed "not published"; a review).
    if (reply->lost() && !reply->lost_unsent()) {
      maybe_published_ = true;
      error_ = m.said(
          "the connection to Redis was lost after the message was sent; it may have "
          "been published");
      return false;
    }
    // (Redis's own refusal as it is; one of the client's, with why the link went down.)
    error_ = reply->str.rfind("ERR shmio:", 0) == 0 ? m.said(reply->str) : reply->str;
    return false;
  }
  if (reply->type == Reply::Type::integer) receivers_ = reply->integer;
  return true;
}

bool EmitOperator::emit(const std::string& event, sio::Args args) const {
  if (sio::is_reserved_event(event)) {  // (false, as the header promises for a refusal)
    em_->maybe_published_ = false;
    em_->error_ = "\"" + event + "\" is a reserved event name";
    return false;
  }
  if (refused({event})) return false;
  sio::Packet p;
  try {
    p = sio::event_packet(nsp_, event, std::move(args));  // (it checks the placeholders)
  } catch (const std::invalid_argument& e) {
    em_->maybe_published_ = false;
    em_->error_ = e.what();  // (false, not event_packet's exception: since 2026-12-05)
    return false;
  }
  const auto ch = fleet::classic_channels(em_->key(), nsp_);
  std::string bytes = fleet::encode_classic_broadcast("emitter", p, opts_);
  // Read back as the fleet's shmio members read it (their bridges' decoder): one they would drop
  // while Node members apply it is refused (before 2026-12-05 sent; found by a review).
  if (std::string why; !fleet::decode_classic_broadcast(bytes, &why)) {
    em_->maybe_published_ = false;
    em_->error_ = "shmio members would drop it: " + why;
    return false;
  }
  return em_->publish(ch.publish_channel(opts_), bytes);
}

bool EmitOperator::refused(std::initializer_list<std::string_view> more) const {
  std::string why = cluster::names_refused(nsp_, opts_, more);
  if (why.empty()) return false;
  em_->maybe_published_ = false;
  em_->error_ = std::move(why);
  return true;
}

bool EmitOperator::refused(const std::vector<sio::Room>& rooms) const {
  std::string why = cluster::rooms_refused(nsp_, opts_, rooms);
  if (why.empty()) return false;
  em_->maybe_published_ = false;
  em_->error_ = std::move(why);
  return true;
}

namespace {
bool request(Emitter& em, std::string& error, bool& maybe_published, const std::string& nsp,
             fleet::ClassicRequest r) {
  r.uid = "emitter";
  std::string bytes = fleet::encode_classic_request(r);
  if (std::string why; !fleet::decode_classic_request(bytes, &why)) {  // (as emit's)
    maybe_published = false;
    error = "shmio members would drop it: " + why;
    return false;
  }
  return em.publish(fleet::classic_channels(em.key(), nsp).request, bytes);
}
}  // namespace

bool EmitOperator::sockets_join(const std::vector<sio::Room>& rooms) const {
  if (refused(rooms)) return false;
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::remote_join;
  r.opts = opts_;
  r.rooms = {rooms.begin(), rooms.end()};
  return request(*em_, em_->error_, em_->maybe_published_, nsp_, std::move(r));
}
bool EmitOperator::sockets_leave(const std::vector<sio::Room>& rooms) const {
  if (refused(rooms)) return false;
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::remote_leave;
  r.opts = opts_;
  r.rooms = {rooms.begin(), rooms.end()};
  return request(*em_, em_->error_, em_->maybe_published_, nsp_, std::move(r));
}
bool EmitOperator::disconnect_sockets(bool close) const {
  if (refused({})) return false;
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::remote_disconnect;
  r.opts = opts_;
  r.close = close;
  return request(*em_, em_->error_, em_->maybe_published_, nsp_, std::move(r));
}
bool EmitOperator::server_side_emit(const std::string& event, sio::Args args) const {
  if (refused({event})) return false;
  // (A reserved name: every Node member would run its connection handlers with the arguments as
  // the socket; sent before 2026-12-05, found by a review.)
  if (std::string why = cluster::args_refused(event, args, true); !why.empty()) {
    em_->maybe_published_ = false;
    em_->error_ = std::move(why);
    return false;
  }
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::server_side_emit;
  r.data.emplace_back(event);
  for (auto& v : args.values) r.data.push_back(std::move(v));
  r.attachments = std::move(args.binaries);  // (dropped before 2026-12-04: each became null)
  return request(*em_, em_->error_, em_->maybe_published_, nsp_, std::move(r));
}

}  // namespace shmio::redis
