// The Socket.IO server: clients (one per Engine.IO session), namespaces, acks ids. No Beast here:
// the transports are engineio::Server's.
#include "shmio/socketio/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "client.hpp"
#include "detail.hpp"
#include "shmio/engineio/log_text.hpp"

namespace shmio::socketio {

namespace json = boost::json;
namespace net = boost::asio;

std::uint64_t Server::next_ack_id() {
  // Ids stay at most 2^31 - 1 (a 32-bit int in some clients: socket.io-client-java's parser
  // refuses a packet with a larger one; before 2026-12-05 a cluster's worker sent ids up to
  // 2^43, found by a review): k wraps within what base + stride * k allows.
  const std::uint64_t stride = std::max<std::uint64_t>(options_.ack_id_stride, 1);
  const std::uint64_t base = std::min(options_.ack_id_base, kMaxAckId);
  const std::uint64_t k = next_ack_++ % ((kMaxAckId - base) / stride + 1);
  return base + stride * k;
}

bool Server::open(const Client* c) const {
  return c != nullptr && c->slot < clients_.size() && clients_[c->slot].get() == c;
}

Server::Server(net::io_context& io, ServerOptions options)
    : io_(io), loop_{std::make_shared<detail::LoopHandle>()}, options_(std::move(options)) {
  loop_.h->io = &io_;
  // A recovery window of "for ever" (milliseconds::max()) is a century, as an ack's timeout
  // (detail::timer_timeout), and one below zero none: the window is added to the clock and
  // compared in nanoseconds, where max() overflowed (undefined; in practice about -1 ms: every
  // session dropped at once, no client ever recovered) before 2026-12-06 (a helper's review).
  if (auto& r = options_.connection_state_recovery)
    r->max_disconnection_duration = std::max(std::chrono::milliseconds(0),
                                             detail::timer_timeout(r->max_disconnection_duration));
  // 120 random bits; 30 of them start the ack counter, so that a restarted worker's ids are not
  // its predecessor's (an answer to one of those still on its way through the ring would be
  // counted for the new broadcast of the same id).
  const std::string seed = random_id();
  for (int i = 0; i < 6; ++i)
    next_ack_ = (next_ack_ << 5) | (static_cast<unsigned char>(seed[i]) & 31);
  of("/");
  engineio::ServerOptions eo;
  eo.path = options_.path;
  eo.session = options_.engine;
  eo.allow_polling = options_.allow_polling;
  eo.allow_websocket = options_.allow_websocket;
  eo.per_message_deflate = options_.per_message_deflate;
  eo.cors_origin = options_.cors_origin;
  eo.cors_reflect_origin = options_.cors_reflect_origin;
  eo.cors_origins = options_.cors_origins;
  for (std::string& o : eo.cors_origins)  // (compared with the request's, lower-cased)
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  eo.http_compression_threshold = options_.http_compression_threshold;
  eo.cors_credentials = options_.cors_credentials;
  eo.allow_request = options_.allow_request;
  eo.static_files = options_.static_files;
  eo.client_files = options_.client_files;
  if (!eo.client_files && !options_.serve_client.empty())
    eo.client_files = load_client_files(options_.serve_client);
  eo.routes = options_.routes;
  eo.initial_headers = options_.initial_headers;
  eo.cookie = options_.cookie;
  eo.headers = options_.headers;
  eo.connection_error = options_.connection_error;
  eo.allow_request_async = options_.allow_request_async;
  eo.id_prefix = options_.id_prefix;
  eo.reuse_port = options_.reuse_port;
  eo.io_uring = options_.io_uring;
  eo.flush_budget = options_.flush_budget;
  eo.read_budget = options_.read_budget;
  eo.is_foreign = options_.is_foreign;
  eo.hand_off = options_.hand_off;
  eo.steer = options_.steer;
  eo.descriptor_reserve = options_.descriptor_reserve;
  eo.first_request_timeout = options_.first_request_timeout;
  eo.max_header_bytes = options_.max_header_bytes;
  eo.max_open_sessions = options_.max_open_sessions;
  eo.hand_off_to = options_.hand_off_to;
  engineio::Handler h;
  // A session's Client is found through the session's user-data pointer (set here, cleared at
  // its close); clients_ owns them, each knowing its slot (swap-remove).
  //
  // The engine's core, which holds these, may outlive this Server (a session's last step after
  // its destruction): each looks at life_ first.
  h.on_open = [this, life = std::weak_ptr<bool>(life_)](const engineio::SocketPtr& conn) {
    if (life.expired()) return;
    auto c = std::make_shared<Client>(*this, conn);
    c->slot = clients_.size();
    clients_.push_back(c);
    conn->set_user_data(c.get());
    c->start();
  };
  h.on_message = [life = std::weak_ptr<bool>(life_)](const engineio::SocketPtr& conn,
                                                     engineio::Packet m) {
    if (life.expired()) return;
    if (auto* c = static_cast<Client*>(conn->user_data())) c->on_message(std::move(m));
  };
  h.on_upgrade = [life = std::weak_ptr<bool>(life_)](const engineio::SocketPtr& conn) {
    if (life.expired()) return;
    if (auto* c = static_cast<Client*>(conn->user_data())) c->upgraded();
  };
  h.on_close = [this, life = std::weak_ptr<bool>(life_)](const engineio::SocketPtr& conn,
                                                         engineio::CloseReason r) {
    if (life.expired()) return;
    auto* raw = static_cast<Client*>(conn->user_data());
    if (raw == nullptr) return;
    conn->set_user_data(nullptr);
    const std::size_t i = raw->slot;
    std::shared_ptr<Client> c = std::move(clients_[i]);
    if (i + 1 != clients_.size()) {
      clients_[i] = std::move(clients_.back());
      clients_[i]->slot = i;
    }
    clients_.pop_back();
    c->slot = Client::kNoSlot;
    c->on_close(r);
    c.reset();
    // (Its sockets may have held removed namespaces: swept on a later turn, never under a caller
    // that may still be in one of them.)
    if (!retired_.empty()) post_sweep();
  };
  engine_ = std::make_unique<engineio::Server>(io, std::move(eo), std::move(h));
}

Server::LoopRef::~LoopRef() {
  const std::lock_guard<std::mutex> held(h->m);
  h->io = nullptr;
}

Server::~Server() {
  callbacks_life_.reset();  // (the app's ack callbacks: none from here on)
  {
    // (From now on a Next or an Ack called does nothing.)
    const std::lock_guard<std::mutex> held(loop_.h->m);
    loop_.h->gone = true;
  }
  // The engine first, while every other member is here: its sessions' closes reach the clients,
  // their sockets and namespaces (and a removed namespace the retired list). Stopped before it is
  // destroyed, so that the disconnect handlers its closes run still have it (io.engine(), close():
  // through a null pointer before 2026-12-07, unique_ptr::reset() clearing it first; a review).
  engine_->stop();
  engine_.reset();
}

Namespace& Server::of(const std::string& name) {
  // As socket.io's of(): "chat" is "/chat" (a client's CONNECT always names it with its slash).
  if (name.empty() || name[0] != '/') return of("/" + name);
  if (auto it = namespaces_.find(name); it != namespaces_.end()) return *it->second;
  return make(name, dynamic_setup(name));
}

Server::Setup Server::dynamic_setup(const std::string& name) const {
  // (A copy: a predicate that calls of(predicate, setup) adds to dynamic_ under the loop; before
  // 2026-12-06 the range-for read a reallocated vector; a review.)
  const auto dynamic = dynamic_;
  for (const auto& [pred, setup] : dynamic) {
    // A predicate that throws matches nothing, as the asynchronous check's throw is a refusal
    // (before 2026-12-05 it left through the client's packet handler: the whole connection was
    // closed, with a reason that keeps sessions for recovery, and the client reconnected into
    // the same throw; found by a review).
    bool match = false;
    try {
      match = pred(name);
    } catch (...) {
      // (At most a line a second: a client may send such CONNECTs without end.)
      // (A count of steady seconds, atomic: any server's thread may be here.)
      static std::atomic<std::int64_t> said_at_s{-1};
      if (first_this_second(said_at_s)) {
        std::fprintf(stderr, "shmio: a dynamic namespace's predicate threw for %s: %s\n",
                     log_text(name).c_str(), thrown_what().c_str());
      }
    }
    if (match) return setup;
  }
  return nullptr;
}

Namespace& Server::make(const std::string& name, Setup setup) {
  // (Made before it is listed: a constructor that throws, an adapter's, leaves no empty entry.)
  if (!retired_.empty()) post_sweep();  // (those removed that nothing holds any more)
  auto made = std::make_unique<Namespace>(*this, name);
  Namespace& n = *made;
  if (auto it = carried_.find(name); it != carried_.end()) {  // (kept if the setup throws)
    n.stats_ = it->second;
  }
  n.child_ = setup != nullptr;
  n.parent_ = setup.get();
  namespaces_[name] = std::move(made);
  // A dynamic namespace's setup (the parent's middleware and handlers) first, then the
  // new_namespace handlers, as socket.io's createChild: a middleware a new_namespace handler adds
  // runs after the parent's (an auth check), its connection handlers after the parent's (before
  // 2026-12-04 the other way round).
  if (setup) {
    try {
      (*setup)(n);
    } catch (...) {
      // Not made after all: left registered, it served every later client without the
      // middleware (an auth check) the setup did not get to add (found in review, 2026-12-02).
      // The next CONNECT to it (or of()) runs the setup again.
      namespaces_.erase(name);
      throw;
    }
  }
  carried_.erase(name);  // (now its counters)
  // (The handlers as they are now, as socket.io's emit copies its listeners: one registered by a
  // handler runs from the next namespace on.)
  const auto handlers = new_namespace_;
  for (const auto& h : handlers) {
    try {
      (*h)(n);
    } catch (...) {
      std::fprintf(stderr, "shmio: new_namespace handler threw: %s\n", thrown_what().c_str());
    }
  }
  return n;
}

ParentNamespace Server::of(std::function<bool(const std::string&)> predicate,
                           std::function<void(Namespace&)> setup) {
  auto made = std::make_shared<const std::function<void(Namespace&)>>(std::move(setup));
  dynamic_.emplace_back(std::move(predicate), made);
  return ParentNamespace(*this, std::move(made));
}

ParentNamespace Server::of(NamespaceCheck check, std::function<void(Namespace&)> setup) {
  auto made = std::make_shared<const std::function<void(Namespace&)>>(std::move(setup));
  dynamic_checks_.emplace_back(std::move(check), made);
  return ParentNamespace(*this, std::move(made));
}

bool Server::asks_dynamic(const std::string& name) {
  if (dynamic_checks_.empty()) return false;
  const bool too_long = options_.max_dynamic_namespace_bytes != 0 &&
                        name.size() > options_.max_dynamic_namespace_bytes;
  const bool full =
      options_.max_dynamic_namespaces != 0 && dynamic_made_ >= options_.max_dynamic_namespaces;
  if (!too_long && !full) return true;
  // Past a bound the app is not asked (nothing could be made). Counted and said here unless
  // find() did already: a name too long with predicates registered, or a predicate's match.
  if (dynamic_.empty() || (!too_long && !dynamic_setup(name))) dynamic_refused(name, too_long);
  return false;
}

void Server::dynamic_refused(const std::string& name, bool too_long) {
  ++dynamic_refused_;
  const auto now = std::chrono::steady_clock::now();
  if (dynamic_refused_ != 1 && now - dynamic_refusal_said_ < std::chrono::minutes(1)) return;
  dynamic_refusal_said_ = now;
  if (too_long)
    std::fprintf(stderr,
                 "shmio: a CONNECT to a namespace of %zu bytes refused (dynamic namespaces: "
                 "max_dynamic_namespace_bytes %zu; %llu refused so far)\n",
                 name.size(), options_.max_dynamic_namespace_bytes,
                 static_cast<unsigned long long>(dynamic_refused_));
  else
    std::fprintf(stderr,
                 "shmio: a CONNECT to dynamic namespace %s refused: %zu made already "
                 "(max_dynamic_namespaces; %llu refused so far)\n",
                 log_text(name).c_str(), dynamic_made_,
                 static_cast<unsigned long long>(dynamic_refused_));
}

struct Server::DynamicAsk {
  std::string name;
  json::object auth;
  std::function<void(Namespace*)> done;
  std::shared_ptr<detail::LoopHandle> loop;
  bool answered = false;
  void answer(Namespace* made) {
    answered = true;
    done(made);
  }
  DynamicAsk(std::string n, json::object a, std::function<void(Namespace*)> d,
             std::shared_ptr<detail::LoopHandle> l)
      : name(std::move(n)), auth(std::move(a)), done(std::move(d)), loop(std::move(l)) {}
  DynamicAsk(const DynamicAsk&) = delete;
  DynamicAsk& operator=(const DynamicAsk&) = delete;
  // A check that let go of its `next` without calling it refuses, as a middleware's chain
  // dropped does (before 2026-12-05 the CONNECT stayed waiting: every later CONNECT of the
  // client's to that name was let go as a second one, and it held one of the client's
  // kMaxPendingChecks; found by a review). Not once the server is going; on its loop's thread
  // only (where from_any_thread lets a continuation go).
  ~DynamicAsk() {
    if (answered || !loop->on_loop().value_or(false)) return;
    try {
      answer(nullptr);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio: refusing a CONNECT whose namespace check dropped next(): %s\n",
                   e.what());
    } catch (...) {  // (in a destructor: nothing may leave it)
      std::fprintf(stderr,
                   "shmio: refusing a CONNECT whose namespace check dropped next() threw\n");
    }
  }
};

void Server::check_dynamic(const std::string& name, const json::object& auth,
                           std::function<void(Namespace*)> done) {
  ask_dynamic(std::make_shared<DynamicAsk>(name, auth, std::move(done), loop_.h), 0);
}

// socket.io's _checkNamespace: each registration in turn until one allows; made then (unless
// made meanwhile, or past max_dynamic_namespaces).
void Server::ask_dynamic(const std::shared_ptr<DynamicAsk>& ask, std::size_t from) {
  if (from >= dynamic_checks_.size()) return ask->answer(nullptr);
  // (Answered once: a second call, or a throw after the call, is ignored — it connected the
  // client twice, or answered it "Invalid namespace" after its CONNECT was answered.)
  auto called = std::make_shared<std::atomic<bool>>(false);
  auto next = detail::from_any_thread(loop_.h, [this, ask, from, called](bool allow) {
    if (called->exchange(true)) return;
    if (!allow) return ask_dynamic(ask, from + 1);
    if (Namespace* n = existing(ask->name)) return ask->answer(n);
    if (options_.max_dynamic_namespaces != 0 && dynamic_made_ >= options_.max_dynamic_namespaces) {
      dynamic_refused(ask->name, false);
      return ask->answer(nullptr);
    }
    Namespace* made = nullptr;
    try {
      made = &make(ask->name, dynamic_checks_[from].second);
      ++dynamic_made_;
      made->counted_ = true;
    } catch (...) {  // (whatever it threw: make() rethrows anything)
      std::fprintf(stderr, "shmio: the setup of dynamic namespace %s threw: %s\n",
                   log_text(ask->name).c_str(), thrown_what().c_str());
      made = nullptr;
    }
    ask->answer(made);
    // (Made for a client gone meanwhile, it has no socket and no CONNECT in progress: removed
    // now with cleanup_empty_child_namespaces, as socket.io's cleanup of the socket it connects
    // anyway removes it. Until 2026-12-07 it stayed, holding one of max_dynamic_namespaces for
    // good; a bug hunt. Still alive here: a namespace removed goes at a later sweep.)
    if (made != nullptr) made->maybe_retire();
  });
  // (A copy: `check` may register another, which would move the list under it.)
  const NamespaceCheck check = dynamic_checks_[from].first;
  try {
    check(ask->name, ask->auth, std::move(next));
  } catch (...) {
    std::fprintf(stderr, "shmio: a dynamic namespace's check threw for %s: %s\n",
                 log_text(ask->name).c_str(), thrown_what().c_str());
    if (!called->exchange(true)) ask_dynamic(ask, from + 1);
  }
}

std::vector<Namespace*> ParentNamespace::made() const {
  std::vector<Namespace*> out;
  for (const auto& [name, n] : server_->namespaces_)
    if (n->parent_ == id_.get()) out.push_back(n.get());
  return out;
}

std::vector<std::string> ParentNamespace::children() const {
  std::vector<std::string> out;
  for (const Namespace* n : made()) out.push_back(n->name());
  return out;
}

ParentNamespace ParentNamespace::volatile_() const {
  ParentNamespace p(*this);
  p.opts_.flags.volatile_ = true;
  return p;
}
ParentNamespace ParentNamespace::local() const {
  ParentNamespace p(*this);
  p.opts_.flags.local = true;
  return p;
}
ParentNamespace ParentNamespace::compress(bool on) const {
  ParentNamespace p(*this);
  p.opts_.flags.compress = on;
  return p;
}

std::size_t ParentNamespace::emit(const std::string& event, Args args) const {
  // The children first, each held by its anchor: a delivery may run the app's code (outgoing
  // listeners), which may remove a namespace, or close a client and free removed ones.
  std::vector<std::pair<Namespace*, std::shared_ptr<const int>>> children;
  for (Namespace* n : made()) children.emplace_back(n, n->anchor());
  std::size_t reached = 0;
  for (const auto& [n, held] : children)
    if (!n->removed()) reached += BroadcastOperator(*n, opts_).emit(event, args);
  return reached;
}

std::vector<std::string> Server::namespace_names() const {
  std::vector<std::string> out;
  out.reserve(namespaces_.size());
  for (const auto& [name, nsp] : namespaces_) out.push_back(name);
  return out;
}

Namespace* Server::find(const std::string& name) {
  if (name.empty() || name[0] != '/') return find("/" + name);
  if (auto it = namespaces_.find(name); it != namespaces_.end()) return it->second.get();
  if (dynamic_.empty()) return nullptr;
  // (The name's length first: the app's predicates, a std::regex say, are not given a name as
  // long as a message.)
  const bool too_long = options_.max_dynamic_namespace_bytes != 0 &&
                        name.size() > options_.max_dynamic_namespace_bytes;
  Setup setup = too_long ? nullptr : dynamic_setup(name);
  if (!too_long && !setup) return nullptr;
  if (too_long ||
      (options_.max_dynamic_namespaces != 0 && dynamic_made_ >= options_.max_dynamic_namespaces)) {
    dynamic_refused(name, too_long);
    return nullptr;
  }
  // A setup that throws (a database down) refuses this CONNECT, "Invalid namespace", as the
  // asynchronous check's does (ask_dynamic); before 2026-12-05 the throw left through the
  // client's packet handler and closed its whole connection, every other namespace of it
  // too, with a reason that keeps sessions for recovery, and the client reconnected into the
  // same throw (found by a review). make() has listed nothing; the next CONNECT runs it again.
  Namespace* n = nullptr;
  try {
    n = &make(name, std::move(setup));
  } catch (...) {
    // (At most a line a second, as the predicate's: a client may send such CONNECTs without end.
    // Whatever it threw: make() rethrows anything.)
    static std::atomic<std::int64_t> said_at_s{-1};
    if (first_this_second(said_at_s))
      std::fprintf(stderr, "shmio: the setup of dynamic namespace %s threw: %s\n",
                   log_text(name).c_str(), thrown_what().c_str());
    return nullptr;
  }
  ++dynamic_made_;
  n->counted_ = true;
  return n;
}

void Server::retire(Namespace& n) {
  auto it = namespaces_.find(n.name());
  if (it == namespaces_.end() || it->second.get() != &n) return;
  n.retired_ = true;
  // Its counters, for the next namespace of that name (carried_stats()).
  if (carried_.size() >= kCarriedNames && carried_.count(n.name()) == 0)
    carried_.erase(carried_.begin());
  carried_[n.name()] = n.stats();
  retired_.push_back(std::move(it->second));
  namespaces_.erase(it);
  ++removed_;
  if (n.counted_) --dynamic_made_;
  try {
    n.adapter().close();
  } catch (...) {
    std::fprintf(stderr, "shmio: closing the adapter of %s threw: %s\n", log_text(n.name()).c_str(),
                 thrown_what().c_str());
  }
  // Freed on a later turn, once nothing holds it: the socket whose leaving removed it is still
  // on the stack here.
  post_sweep();
}

void Server::post_sweep() {
  if (sweep_posted_) return;
  sweep_posted_ = true;
  net::post(io_, [this, life = std::weak_ptr<bool>(life_)] {
    if (life.expired()) return;
    sweep_posted_ = false;
    sweep_retired();
  });
}

void Server::sweep_retired() {
  // (Those whose anchor only they hold: no Socket or RemoteSocket of them is left.)
  std::erase_if(retired_,
                [](const std::unique_ptr<Namespace>& n) { return n->anchor().use_count() == 1; });
}

std::uint16_t Server::listen(const std::string& address, std::uint16_t port) {
  return engine_->listen(address, port);
}

std::size_t Server::disconnect_all(const std::string& reason) {
  auto clients = clients_;
  for (auto& c : clients) c->close(reason);
  return clients.size();
}

void Server::close() {
  auto clients = clients_;
  for (auto& c : clients) c->close_all("server shutting down");
  engine_->stop();
  for (auto& [name, n] : namespaces_) n->adapter().server_closed();
  for (auto& n : retired_) n->adapter().server_closed();
}

void Server::close(std::function<void()> done) {
  close();
  if (done)
    net::post(io_, [done = std::move(done)] {
      try {  // (the app's callback: a throw must not leave the io_context's run)
        done();
      } catch (...) {
        std::fprintf(stderr, "shmio: a close callback threw: %s\n", thrown_what().c_str());
      }
    });
}

}  // namespace shmio::socketio
