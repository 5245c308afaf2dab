// Emitting to every client of a Redis fleet (Node servers with @socket.io/redis-adapter's classic
// createAdapter, shmio hosts with --redis) from another process, as @socket.io/redis-emitter 5.1.0
// does: the same messages, with the uid "emitter".
//
//   shmio::redis::Emitter em("redis://127.0.0.1:6379");   // key "socket.io"
//   em.of("/").to("room1").emit("news", {"hello"});
//   em.of("/").sockets_join("vip");                       // every socket of the namespace joins
//
// Each call publishes one message and waits for Redis to take it (up to `timeout`): it returns
// false, with the reason in last_error(), when Redis is unreachable or refuses (after a timeout,
// or a connection lost after the message was written, it may still have been published:
// last_may_have_been_published()), and when the fleet's shmio members would drop it
// (read back as they read it first: past their bounds, 65,535 rooms or MessagePack nesting 64, a
// Node member would apply what they refuse). As with the Node emitter, no acks (serverSideEmit's
// or a broadcast's) and no fetchSockets. last_receivers() says how many subscribers Redis gave
// the last message to (0: no member of that key listens; the message is gone).
// Thread-safety: one thread at a time per Emitter.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "shmio/cluster/emitter.hpp"  // EmitTargets
#include "shmio/socketio/types.hpp"

namespace shmio::redis {

class Emitter;

class EmitOperator : public cluster::EmitTargets<EmitOperator> {
 public:
  EmitOperator(Emitter& em, std::string nsp) : EmitTargets(std::move(nsp)), em_(&em) {}
  bool emit(const std::string& event, socketio::Args args = {}) const;
  // (One room, a brace list or a vector of them.)
  using EmitTargets::sockets_join;
  using EmitTargets::sockets_leave;
  bool sockets_join(const std::vector<socketio::Room>& rooms) const;
  bool sockets_leave(const std::vector<socketio::Room>& rooms) const;
  bool disconnect_sockets(bool close = false) const;
  bool server_side_emit(const std::string& event, socketio::Args args = {}) const;

 private:
  // Names that are not UTF-8 (cluster::names_refused): said in last_error, true then.
  bool refused(std::initializer_list<std::string_view> more) const;
  bool refused(const std::vector<socketio::Room>& rooms) const;
  Emitter* em_;
};

class Emitter : public cluster::MainNamespaceOps<Emitter, EmitOperator> {
 public:
  // Throws std::invalid_argument for a URL redis::parse_url refuses. Connects at the first call.
  explicit Emitter(const std::string& url, std::string key = "socket.io",
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~Emitter();
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  EmitOperator of(const std::string& nsp) { return EmitOperator(*this, nsp); }
  // (to, in, except, volatile_, compress, emit, sockets_join, ...: MainNamespaceOps, of "/".)
  const std::string& key() const noexcept { return key_; }
  const std::string& last_error() const noexcept { return error_; }
  // Whether the last call that returned false may have been published all the same: Redis took
  // the command and did not answer within the timeout, or the connection was lost after it was
  // written. Sending it again may deliver it twice. (False for every other failure: nothing was
  // published.)
  bool last_may_have_been_published() const noexcept { return maybe_published_; }
  // PUBLISH channel payload, waiting for the reply; false (and last_error) if it did not happen.
  bool publish(const std::string& channel, const std::string& payload);
  // The subscribers (patterns included) Redis gave the last published message to (PUBLISH's
  // answer); 0 before any.
  long long last_receivers() const noexcept { return receivers_; }

 private:
  friend class EmitOperator;  // (its refusals set last_error)
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string key_;
  std::string error_;
  long long receivers_ = 0;
  bool maybe_published_ = false;
};

}  // namespace shmio::redis
