#include "shmio/redis/client.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <exception>
#include <memory>
#include <set>

#include "shmio/shm/process.hpp"

namespace shmio::redis {

namespace net = boost::asio;
using generic = net::generic::stream_protocol;

namespace {
// "%XX" escapes decoded; nullopt if one is not two hex digits.
std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 1 < s.size() ? hex(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}
}  // namespace

std::string shown_url(std::string_view text) {
  // (No scheme, a mistake: the whole text may still hold "user:password@".)
  const auto scheme = text.find("://");
  const std::string_view head =
      scheme == std::string_view::npos ? std::string_view() : text.substr(0, scheme + 3);
  const std::string_view rest = text.substr(head.size());
  // Where parse_url finds the credentials: the last '@' (in a unix:// URL the one before the
  // socket's path, which starts with '/' — or, a password holding a '/', any '@' before the
  // last "@/"; hidden too much rather than shown).
  std::size_t at = std::string_view::npos;
  if (head == "unix://") {
    if (!rest.empty() && rest[0] != '/') {
      at = rest.find("@/");
      if (at == std::string_view::npos) at = rest.rfind('@');
    }
  } else {
    at = rest.rfind('@');
  }
  if (at == std::string_view::npos) return std::string(text);
  const std::string_view cred = rest.substr(0, at);
  const auto colon = cred.find(':');
  const std::string shown =
      colon == std::string_view::npos ? "***" : std::string(cred.substr(0, colon)) + ":***";
  return std::string(head) + shown + std::string(rest.substr(at));
}

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Url> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  Url u;
  std::string_view rest;
  if (text.rfind("redis://", 0) == 0) {
    rest = text.substr(8);
  } else if (text.rfind("unix://", 0) == 0) {
    u.unix_socket = true;
    rest = text.substr(7);
  } else {
    return fail("a Redis URL starts with redis:// or unix:// (TLS, rediss://, is not supported)");
  }
  // [user[:password]@], percent-decoded as redis-cli, ioredis and node-redis decode them (before
  // 2026-12-03 "p%40ss" was sent as it stands, refused, and tried again for ever). In a unix://
  // URL only before the path's first '/': a socket path may hold an '@'.
  // In a redis:// URL before its path, query or fragment (since 2026-12-05: an '@' in a query,
  // "redis://h/0?x=a@b", was taken for the credentials' end, and "b" for the host).
  const auto cred_end = u.unix_socket ? rest.find('/') : rest.find_first_of("/?#");
  if (const auto at = rest.rfind('@', cred_end); at != std::string_view::npos) {
    const std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = cred.find(':');
    const auto user = percent_decode(colon == std::string_view::npos ? "" : cred.substr(0, colon));
    // (redis://secret@host: a password alone.)
    const auto password =
        percent_decode(colon == std::string_view::npos ? cred : cred.substr(colon + 1));
    if (!user || !password)
      return fail("a bad %-escape in the URL's user or password (% is written %25)");
    u.user = *user;
    u.password = *password;
  }
  auto number = [](std::string_view s, long long lo, long long hi, long long& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= lo && out <= hi;
  };
  long long n = 0;
  if (u.unix_socket) {
    std::string_view path = rest;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      path = rest.substr(0, q);
      const std::string_view query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !number(query.substr(3), 0, 1 << 20, n))
        return fail("a unix:// URL takes ?db=N only");
      u.db = static_cast<int>(n);
    }
    if (path.empty() || path[0] != '/') return fail("a unix:// URL needs an absolute socket path");
    u.path = path;
    return u;
  }
  // (A query or fragment was taken as part of the host name, which never resolved, and was
  // retried for ever; refused since 2026-12-05.)
  if (rest.find_first_of("?#") != std::string_view::npos)
    return fail(
        "a redis:// URL takes no ?query or #fragment (the database goes in the path: "
        "redis://host:6379/2; a password holding ?, # or / is written %3F, %23, %2F)");
  std::string_view hostport = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (!number(db, 0, 1 << 20, n)) return fail("the database in a redis:// URL is a number");
      u.db = static_cast<int>(n);
    }
  }
  std::string_view port;
  bool has_port = false;
  if (!hostport.empty() && hostport[0] == '[') {  // an IPv6 address: [addr] or [addr]:port
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return fail("an IPv6 address in a URL ends with ]");
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty() && after[0] != ':') return fail("after [address] comes :port or nothing");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    hostport = hostport.substr(1, close - 1);
    if (hostport.empty()) return fail("a redis:// URL needs a host");
  } else if (const auto colon = hostport.find(':'); colon != std::string_view::npos) {
    if (hostport.find(':', colon + 1) != std::string_view::npos)
      return fail("an IPv6 address in a URL goes in brackets: redis://[::1]:6379");
    has_port = true;
    port = hostport.substr(colon + 1);
    hostport = hostport.substr(0, colon);
  }
  if (has_port) {
    if (!number(port, 1, 65535, n)) return fail("a port is 1..65535");
    u.port = static_cast<std::uint16_t>(n);
  }
  if (hostport.empty()) return fail("a redis:// URL needs a host");
  u.host = hostport;
  return u;
}

namespace {
// hiredis's reader builds our Reply tree itself (its object functions, below), instead of its own
// redisReply tree that was then copied: one allocation per string instead of two, and every
// element counted as it is made. A reply's element count is bounded (max_reply_elements):
// hiredis 0.14 would reserve an array's declared count of pointers at once, and an array of small
// elements costs each one a node of ours, so a count or a stream of ":1" elements (4 bytes each
// on the wire, 72 here) was bounded only by max_reply_bytes.
struct ReplyBuild {
  std::size_t elements = 0;  // made for the reply being read (all levels)
  std::size_t max_elements = 0;
  // Why an object was refused (the reader then says "Out of memory"): the bound, or an array
  // count that is negative (other than -1, a nil array).
  enum class Refused { no, too_many, bad_count, no_memory } refused = Refused::no;
};
// Set around each redisReaderGetReply call: hiredis 0.14 makes the objects there, on this thread.
thread_local ReplyBuild* t_build = nullptr;

Reply* place(const redisReadTask* task) {
  ReplyBuild& b = *t_build;
  if (++b.elements > b.max_elements) {
    b.refused = ReplyBuild::Refused::too_many;
    return nullptr;
  }
  if (task->parent == nullptr) return new Reply();
  auto* parent = static_cast<Reply*>(task->parent->obj);
  // (hiredis makes an array's elements in order; an array being filled is the last element of
  // its own parent, so the element pointers it holds stay valid as later siblings are added.)
  if (task->idx < 0 || static_cast<std::size_t>(task->idx) != parent->elements.size()) {
    b.refused = ReplyBuild::Refused::bad_count;
    return nullptr;
  }
  return &parent->elements.emplace_back();
}
// Each maker runs inside hiredis's C code: nothing may unwind through it. An allocation that
// fails is hiredis's own "Out of memory" (the reader's error: the connection is lost and made
// again), said as such.
template <class F>
void* make(F f) noexcept {
  try {
    return f();
  } catch (...) {
    t_build->refused = ReplyBuild::Refused::no_memory;
    return nullptr;
  }
}
void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  return make([&]() -> void* {
    Reply* r = place(task);
    if (r == nullptr) return nullptr;
    r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
              : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                 : Reply::Type::string;
    r->str.assign(str, len);
    return r;
  });
}
void* create_array(const redisReadTask* task, int elements) {
  return make([&]() -> void* {
    ReplyBuild& b = *t_build;
    // (Negative counts other than -1, a nil array, which hiredis makes with createNil: refused.)
    if (elements < 0) {
      b.refused = ReplyBuild::Refused::bad_count;
      return nullptr;
    }
    if (b.elements + static_cast<std::size_t>(elements) >= b.max_elements) {
      b.refused = ReplyBuild::Refused::too_many;
      return nullptr;
    }
    Reply* r = place(task);
    if (r == nullptr) return nullptr;
    r->type = Reply::Type::array;
    // (Not the whole declared count at once: nested arrays could each reserve up to the bound.)
    r->elements.reserve(std::min<std::size_t>(static_cast<std::size_t>(elements), 1024));
    return r;
  });
}
void* create_integer(const redisReadTask* task, long long value) {
  return make([&]() -> void* {
    Reply* r = place(task);
    if (r == nullptr) return nullptr;
    r->type = Reply::Type::integer;
    r->integer = value;
    return r;
  });
}
void* create_nil(const redisReadTask* task) {
  return make([&]() -> void* { return place(task); });  // (Type::nil by default)
}
void free_reply(void* reply) {
  delete static_cast<Reply*>(reply);  // (only ever the root: hiredis frees nothing else)
}
redisReplyObjectFunctions g_reply_functions{create_string, create_array, create_integer, create_nil,
                                            free_reply};

// A command's bytes; empty if it cannot be formatted: more arguments or bytes than
// kMaxCommandBytes (hiredis adds the length up in an int: past 2 GiB it overflowed, and past
// 4 GiB it wrote past the buffer it had allocated; before 2026-12-06, found by a review).
std::string format(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  std::size_t total = 0;
  for (const auto& a : args) {
    total += a.size() + 32;  // (with its "$<length>\r\n" and "\r\n")
    // (And each argument at most Redis's proto-max-bulk-len, 512 MiB by default: it closes the
    // connection on a longer one, every command in flight failed.)
    if (total > kMaxCommandBytes || a.size() > kMaxCommandBytes / 2) return {};
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n =
      redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
  std::string out = n > 0 ? std::string(cmd, static_cast<std::size_t>(n)) : std::string();
  redisFreeCommand(cmd);
  return out;
}
}  // namespace

struct Client::Impl {
  Impl(net::io_context& ctx, ClientOptions o, Url u)
      : io(ctx),
        options(std::move(o)),
        url(std::move(u)),
        socket(ctx),
        resolver(ctx),
        timer(ctx),
        ping_timer(ctx),
        connect_timer(ctx) {}
  ~Impl() {
    if (reader != nullptr) redisReaderFree(reader);
  }
  net::io_context& io;
  ClientOptions options;
  Url url;
  generic::socket socket;
  net::ip::tcp::resolver resolver;
  net::steady_timer timer;
  // The quiet-link check (ClientOptions::ping_interval): when something was last read, and
  // whether a PING waits for its answer (since when).
  net::steady_timer ping_timer;
  net::steady_timer connect_timer;  // (ClientOptions::connect_timeout)
  std::chrono::steady_clock::time_point last_read{};
  std::optional<std::chrono::steady_clock::time_point> ping_sent;
  // On a subscriber, the PINGs written and not answered yet, each with how many subscription
  // replies come before its own (replies come in order): an error in the PING's place is its
  // answer (an ACL without PING, as a user granted +@pubsub only has: the link is alive), not a
  // refused subscription. (Before 2026-12-05 it was taken for one: the connection was made again
  // after every quiet 5 s, what was published meanwhile lost, or a pending subscription was
  // dropped as refused; found by a review.)
  std::deque<std::size_t> pings_behind;
  // Whether this connection is in subscribe mode (a SUBSCRIBE written on it, until a confirmation
  // says none is left): its pushes are told from replies by it. Commands are not written while it
  // is (those taken once the last subscription was dropped wait for its UNSUBSCRIBE's answer):
  // a reply to one was otherwise told from the answers still due by its place alone, and an
  // error for a subscription refused meanwhile went to the command's callback, every reply after
  // it to the command before (before 2026-12-06; found by a review).
  bool sub_mode = false;
  // UNSUBSCRIBE (PUNSUBSCRIBE, SUNSUBSCRIBE) written and not answered yet: each is answered by one
  // push, also once Redis has left subscribe mode.
  std::size_t unsubs_pending = 0;
  // Bytes fed since the last complete reply: the reply arriving (max_reply_bytes; an array's
  // parsed elements leave the reader's buffer, so its remainder alone would not bound one).
  std::size_t reply_bytes = 0;
  ReplyBuild build;  // ...and the elements made for it (max_reply_elements)
  redisReader* reader = nullptr;
  bool started = false, stopped = false, up = false, writing = false;
  // pause_reading: no read armed after the current one while `paused`; `read_parked` once the
  // read loop stopped there (resumed by pause_reading(false)).
  bool paused = false, read_parked = false;
  // Connected and its handshake (AUTH, SELECT) answered: what connected(), on_state and the
  // stats count as up. (`up` alone: the socket is connected, commands may be written.)
  bool ready = false;
  std::size_t handshake_left = 0;  // handshake replies still awaited
  bool said_no_password = false;   // (a password given to a Redis without one: said once)
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point up_since{};  // the connection's (connected())
  std::size_t rounds = 0;        // connection attempts by host name (connect_each's first address)
  std::uint64_t generation = 0;  // of the connection: handlers of an old one do nothing
  struct Command {
    std::string bytes;
    Callback cb;
    bool internal = false;  // AUTH/SELECT of the handshake: a refusal closes the connection
    // Written ahead of subscriptions (write_queued): its reply comes before any push, and is its
    // own whatever it looks like (an LRANGE of "message", "a", "b" is not a message).
    bool before_subs = false;
  };
  std::deque<Command> queued;    // not written yet
  std::size_t queued_bytes = 0;  // their bytes (max_pending_bytes); written ones keep none
  std::deque<Command> inflight;  // written, awaiting their replies in order
  std::string out, writing_buf;
  std::array<char, 65536> in{};
  // Subscriptions: (kind, name), replayed after every reconnect.
  std::set<std::pair<std::string, std::string>> subs;
  // The subscriptions written on this connection and not yet confirmed, in order: Redis answers
  // each with a confirmation push or an error, in the order written (an error names no channel).
  std::deque<std::pair<std::string, std::string>> subs_unconfirmed;
  Stats stats;
  std::chrono::steady_clock::time_point down_since = std::chrono::steady_clock::now();
  std::uint64_t down_ms_closed = 0;
};

std::shared_ptr<Client> Client::create(net::io_context& io, ClientOptions options,
                                       std::string* error) {
  auto u = parse_url(options.url, error);
  if (!u) return nullptr;
  // (A PING that must be answered at once was taken for a stalled link at every check, and the
  // check ran every 10 ms: refused since 2026-12-05.)
  if (options.ping_interval.count() > 0 && options.ping_timeout.count() <= 0) {
    if (error != nullptr) *error = "ping_timeout must be more than 0 when ping_interval is";
    return nullptr;
  }
  return std::shared_ptr<Client>(
      new Client(std::make_unique<Impl>(io, std::move(options), std::move(*u))));
}
Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

bool Client::connected() const noexcept {
  return impl_->ready;
}

bool Client::subscribed(const std::string& kind, const std::string& name) const {
  const Impl& m = *impl_;
  const std::pair<std::string, std::string> key(kind, name);
  return m.ready && m.subs.count(key) != 0 &&
         std::find(m.subs_unconfirmed.begin(), m.subs_unconfirmed.end(), key) ==
             m.subs_unconfirmed.end();
}

Client::Stats Client::stats() const {
  Stats s = impl_->stats;
  s.disconnected_ms = impl_->down_ms_closed;
  if (!impl_->ready && impl_->started)
    s.disconnected_ms +=
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - impl_->down_since)
                                       .count());
  return s;
}

namespace {
// The internals as free functions over the shared client (handlers keep it alive).
void connect(const std::shared_ptr<Client>& c, Client::Impl& m);
// Callbacks run in turn where one of them may throw: each one still runs, and the first exception
// is thrown on after the last (out of the io_context's run, as any handler's), with the client's
// state already whole.
struct EachCallback {
  std::exception_ptr first;
  template <class F>
  void operator()(F&& f) {
    try {
      f();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  void rethrow() {
    if (first) std::rethrow_exception(first);
  }
};

void lost(const std::shared_ptr<Client>& c, Client::Impl& m, const std::string& why);
void ready(Client::Impl& m);
void watch_quiet(const std::shared_ptr<Client>& c, Client::Impl& m);

// The commands waiting, into the output (once the handshake is answered); `before_subs`: with
// subscriptions written after them.
void write_queued(Client::Impl& m, bool before_subs = false) {
  while (!m.queued.empty() && m.handshake_left == 0 && (before_subs || !m.sub_mode)) {
    Client::Impl::Command& cmd = m.queued.front();
    cmd.before_subs = before_subs;
    m.queued_bytes -= cmd.bytes.size();
    m.out += cmd.bytes;
    std::string().swap(cmd.bytes);  // (an answer awaited holds its callback only)
    m.inflight.push_back(std::move(cmd));
    m.queued.pop_front();
    ++m.stats.commands;
  }
}

// The subscriptions asked again on a new connection, once its handshake is answered (their
// confirmations are pushes, not replies).
// (The commands waiting go first: every one was taken while there was no subscription — a
// subscriber takes none — so before each subscription now. Written after them, they reached a
// connection in subscribe mode and Redis refused them all; before 2026-12-05.)
void resubscribe(Client::Impl& m) {
  write_queued(m, !m.subs.empty());
  m.subs_unconfirmed.clear();
  for (const auto& [kind, name] : m.subs) {
    m.out += format({kind, name});
    m.subs_unconfirmed.emplace_back(kind, name);
  }
  m.sub_mode = !m.subs.empty();
}

void flush(const std::shared_ptr<Client>& c, Client::Impl& m) {
  if (!m.up || m.writing) return;
  // (Commands wait for the handshake's answers: written behind an AUTH or SELECT that is then
  // refused, they ran as the default user or on database 0; before 2026-12-05; found by a
  // review.)
  write_queued(m);
  if (m.out.empty()) return;
  m.writing = true;
  m.writing_buf.swap(m.out);
  m.out.clear();
  const std::uint64_t gen = m.generation;
  net::async_write(m.socket, net::buffer(m.writing_buf),
                   [c, &m, gen](const boost::system::error_code& ec, std::size_t) {
                     if (gen != m.generation) return;
                     m.writing = false;
                     m.writing_buf.clear();
                     if (ec) return lost(c, m, "write: " + ec.message());
                     flush(c, m);
                   });
}

// A subscription's reply (its confirmation or its refusal) came: one fewer before each PING's.
void sub_answered(Client::Impl& m) {
  for (std::size_t& n : m.pings_behind)
    if (n > 0) --n;
}

void on_reply(const std::shared_ptr<Client>& c, Client::Impl& m, Reply r) {
  // Pub/sub pushes (RESP2 arrays) are not replies to a command of ours — on a connection in
  // subscribe mode only (elsewhere an array that begins with "message" is some command's reply),
  // and not while a command written ahead of the subscriptions awaits its reply (it comes first).
  const bool reply_first = !m.inflight.empty() && m.inflight.front().before_subs;
  // (An UNSUBSCRIBE is written only in subscribe mode, and the mode ends only once every one is
  // answered: unsubs_pending is 0 outside it.)
  if (m.sub_mode && !reply_first && r.type == Reply::Type::array && !r.elements.empty() &&
      r.elements[0].type == Reply::Type::string) {
    const std::string& kind = r.elements[0].str;
    if ((kind == "message" || kind == "smessage") && r.elements.size() == 3) {
      ++m.stats.messages;
      if (m.options.on_message)
        m.options.on_message(kind, "", r.elements[1].str, std::move(r.elements[2].str));
      return;
    }
    if (kind == "pmessage" && r.elements.size() == 4) {
      ++m.stats.messages;
      if (m.options.on_message)
        m.options.on_message(kind, r.elements[1].str, r.elements[2].str,
                             std::move(r.elements[3].str));
      return;
    }
    if (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe") {
      if (r.elements.size() >= 2) {
        std::string upper = kind;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        const auto it = std::find(m.subs_unconfirmed.begin(), m.subs_unconfirmed.end(),
                                  std::pair<std::string, std::string>(upper, r.elements[1].str));
        if (it != m.subs_unconfirmed.end()) {
          m.subs_unconfirmed.erase(it);
          sub_answered(m);
        }
      }
      return;
    }
    if (kind == "unsubscribe" || kind == "punsubscribe" || kind == "sunsubscribe") {
      // Its count: the subscriptions left (shard channels counted apart, by Redis as here).
      if (m.unsubs_pending > 0) --m.unsubs_pending;
      if (m.sub_mode && r.elements.size() == 3 && r.elements[2].type == Reply::Type::integer &&
          r.elements[2].integer == 0 && m.subs.empty() && m.subs_unconfirmed.empty() &&
          m.unsubs_pending == 0) {
        m.sub_mode = false;
        flush(c, m);  // (the commands taken since)
      }
      return;
    }
    if (kind == "pong") {  // a subscriber's answer to the quiet-link PING
      if (!m.pings_behind.empty()) m.pings_behind.pop_front();
      return;
    }
  }
  // An error no command of ours waits for, on a subscriber: Redis refused a subscription (an
  // ACL without that channel, a shard channel of another node): the oldest one unconfirmed,
  // dropped and said; the connection goes on. (One that cannot be told: the connection is
  // made again.)
  // (A PING written in subscribe mode is answered as a plain command, "+PONG", once Redis has
  // left it meanwhile: the last channel unsubscribed, the only pending subscription refused. Its
  // place tells it as well: it was written before anything asked since.)
  // (In subscribe mode nothing is in flight but the commands written ahead of the subscriptions
  // (before_subs), whose replies come first: the subscriptions go once the handshake's AUTH and
  // SELECT are answered. Reasoned, not tested: the window is between an UNSUBSCRIBE and its
  // reply.)
  if (!m.pings_behind.empty() && m.pings_behind.front() == 0 &&
      (!m.sub_mode || m.inflight.empty()) &&
      (r.is_error() || (r.type == Reply::Type::status && r.str == "PONG"))) {
    m.pings_behind.pop_front();  // (the PING's answer: a refusal too says the link is alive)
    if (r.is_error()) ++m.stats.pings_refused;
    return;
  }
  if (m.sub_mode && r.is_error() && m.inflight.empty()) {
    // (Only a refusal of the subscription itself: an ACL's NOPERM, a cluster's MOVED or ASK for
    // a shard channel. Another error — BUSY while a script runs, LOADING, CLUSTERDOWN, maxclients
    // — is the server's state now, not the channel's: the connection is made again and every
    // subscription asked again, as before.)
    auto refusal = [&] {
      for (const char* kind : {"NOPERM", "MOVED ", "ASK ", "CROSSSLOT"})
        if (r.str.rfind(kind, 0) == 0) return true;
      return false;
    };
    if (m.subs_unconfirmed.empty() || !refusal())
      return lost(c, m, "a subscriber got an error: " + r.str);
    auto [kind, name] = std::move(m.subs_unconfirmed.front());
    m.subs_unconfirmed.pop_front();
    sub_answered(m);
    m.subs.erase({kind, name});
    ++m.stats.subscriptions_refused;
    if (m.subs.empty() && m.subs_unconfirmed.empty() && m.unsubs_pending == 0) {
      m.sub_mode = false;
      flush(c, m);  // (the commands taken since)
    }
    if (m.options.on_refused_subscription) m.options.on_refused_subscription(kind, name, r.str);
    return;
  }
  if (m.inflight.empty()) return;  // (nothing asked: a stray reply)
  Client::Impl::Command cmd = std::move(m.inflight.front());
  m.inflight.pop_front();
  ++m.stats.replies;
  if (cmd.internal) {
    // (A password given to a Redis that has none: Redis 6+ refuses the AUTH, "called without any
    // password configured for the default user"; ioredis warns and goes on, and so does this, so
    // that a fleet's URL that serves its Node members serves this host too.)
    if (r.is_error() && (r.str.find("without any password configured") != std::string::npos ||
                         r.str.find("no password is set") != std::string::npos)) {  // (Redis 5)
      if (!std::exchange(m.said_no_password, true))
        std::fprintf(stderr,
                     "shmio: Redis at %s has no password set: the URL's password is not needed "
                     "(going on without it)\n",
                     shown_url(m.options.url).c_str());
    } else if (r.is_error()) {
      return lost(c, m, "refused at connect: " + r.str);
    }
    if (--m.handshake_left == 0) {
      resubscribe(m);
      flush(c, m);  // (what waited for the handshake)
      ready(m);
    }
    return;
  }
  if (cmd.cb) cmd.cb(r);
}

void read(const std::shared_ptr<Client>& c, Client::Impl& m) {
  const std::uint64_t gen = m.generation;
  m.socket.async_read_some(net::buffer(m.in), [c, &m, gen](const boost::system::error_code& ec,
                                                           std::size_t n) {
    if (gen != m.generation) return;
    if (ec) return lost(c, m, ec == net::error::eof ? "closed by Redis" : "read: " + ec.message());
    m.last_read = std::chrono::steady_clock::now();
    m.ping_sent.reset();  // anything read answers the PING's question: the link is alive
    m.reply_bytes += n;
    if (redisReaderFeed(m.reader, m.in.data(), n) != REDIS_OK) return lost(c, m, "protocol error");
    EachCallback each;
    for (;;) {
      void* reply = nullptr;
      t_build = &m.build;
      const int got = redisReaderGetReply(m.reader, &reply);
      t_build = nullptr;
      if (got != REDIS_OK) {
        using R = ReplyBuild::Refused;
        const std::string why =
            m.build.refused == R::too_many
                ? "a reply of more than " + std::to_string(m.options.max_reply_elements) +
                      " elements (max_reply_elements)"
            : m.build.refused == R::bad_count
                ? std::string("protocol error: an array with a bad element count")
            : m.build.refused == R::no_memory ? std::string("out of memory building a reply")
                                              : std::string("protocol error: ") + m.reader->errstr;
        each([&] { lost(c, m, why); });
        return each.rethrow();
      }
      if (reply == nullptr) break;
      std::unique_ptr<Reply> r(static_cast<Reply*>(reply));
      m.build.elements = 0;
      m.reply_bytes = m.reader->len - m.reader->pos;  // (what follows it, in the buffer)
      // (A user's callback that throws: the replies after it still go to theirs and the next
      // read is armed before the exception goes on; before 2026-12-03 the connection was read
      // no more, found out only by the quiet-link PING.)
      each([&] { on_reply(c, m, std::move(*r)); });
      if (gen != m.generation) return each.rethrow();  // (a refusal closed the connection)
    }
    // What was fed since the last whole reply is one reply still arriving: bounded.
    if (m.reply_bytes > m.options.max_reply_bytes) {
      each([&] {
        lost(c, m,
             "a reply larger than " + std::to_string(m.options.max_reply_bytes) +
                 " bytes (max_reply_bytes)");
      });
      return each.rethrow();
    }
    // (Paused, once the handshake is answered: the next read waits for pause_reading(false).)
    if (m.paused && m.ready)
      m.read_parked = true;
    else
      read(c, m);
    each.rethrow();
  });
}

// The connection is up for its users once its handshake was answered: said then, not at the
// TCP connect (before 2026-12-03 a refused password said "connected" at every retry, and the
// bridge's once-a-minute line about a lost link, reset by it, came twice every few seconds).
void ready(Client::Impl& m) {
  m.ready = true;
  m.up_since = std::chrono::steady_clock::now();
  ++m.stats.connects;
  m.down_ms_closed +=
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - m.down_since)
                                     .count());
  if (m.options.on_state) m.options.on_state(true, "connected");
}

void connected(const std::shared_ptr<Client>& c, Client::Impl& m) {
  m.connect_timer.cancel();
  m.up = true;
  if (m.reader != nullptr) redisReaderFree(m.reader);
  m.reader = redisReaderCreateWithFunctions(&g_reply_functions);
  if (m.reader == nullptr) return lost(c, m, "out of memory (a reply reader)");
  m.build = ReplyBuild{0, std::max<std::size_t>(m.options.max_reply_elements, 1),
                       ReplyBuild::Refused::no};
  // The handshake first (its replies awaited: a refusal closes the connection), then the
  // subscriptions again (their confirmations are pushes, not replies), then what waits.
  m.handshake_left = 0;
  auto handshake = [&](std::vector<std::string> args) {
    Client::Impl::Command cmd{format(args), {}, true};
    m.out += cmd.bytes;
    m.inflight.push_back(std::move(cmd));
    ++m.stats.commands;
    ++m.handshake_left;
  };
  if (!m.url.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!m.url.user.empty()) auth.push_back(m.url.user);
    auth.push_back(m.url.password);
    handshake(std::move(auth));
  }
  if (m.url.db != 0) handshake({"SELECT", std::to_string(m.url.db)});
  // The subscriptions and the commands waiting go once the handshake is answered (at once
  // without one).
  m.subs_unconfirmed.clear();
  m.sub_mode = false;
  m.unsubs_pending = 0;
  if (m.handshake_left == 0) resubscribe(m);
  m.reply_bytes = 0;
  m.last_read = std::chrono::steady_clock::now();
  m.ping_sent.reset();
  m.pings_behind.clear();
  m.read_parked = false;
  read(c, m);
  flush(c, m);
  watch_quiet(c, m);
  // (Said last: an on_state that throws leaves the connection read and watched.)
  if (m.handshake_left == 0) ready(m);
}

// The quiet-link check: a connection from which nothing was read for ping_interval gets a PING
// (written as a subscriber's or as a command with no callback: its reply is taken like any
// other); one unanswered after ping_timeout is lost. The check wakes when the next of these is
// due (at least 10 ms on, at most ping_interval): before 2026-12-06 it woke every
// min(interval, timeout), and a read just after a wake put the PING and its loss a wake later
// each, up to 2 x interval + timeout after the last read (a helper's review).
void watch_quiet(const std::shared_ptr<Client>& c, Client::Impl& m) {
  if (m.options.ping_interval.count() <= 0) return;
  const std::uint64_t gen = m.generation;
  const auto due =
      m.ping_sent ? *m.ping_sent + m.options.ping_timeout : m.last_read + m.options.ping_interval;
  const auto step = std::clamp<std::chrono::steady_clock::duration>(
      due - std::chrono::steady_clock::now(), std::chrono::milliseconds(10),
      std::max(m.options.ping_interval, std::chrono::milliseconds(10)));
  m.ping_timer.expires_after(step);
  m.ping_timer.async_wait([c, &m, gen](const boost::system::error_code& ec) {
    if (ec || gen != m.generation || !m.up || m.stopped) return;
    const auto now = std::chrono::steady_clock::now();
    if (m.read_parked) {
      // (Not read on purpose: its answer would wait in the socket. Looked at again from the
      // resume on.)
      m.ping_sent.reset();
      m.last_read = now;
    } else if (m.ping_sent) {
      if (now - *m.ping_sent >= m.options.ping_timeout)
        return lost(c, m,
                    "no answer to PING in " + std::to_string(m.options.ping_timeout.count()) +
                        " ms (the link stalled)");
    } else if (now - m.last_read >= m.options.ping_interval) {
      m.ping_sent = now;
      // (While the handshake is answered, its AUTH or SELECT is the PING: a PING queued then
      // would go out behind the subscriptions, in subscribe mode, and its entry wait for a reply
      // that never comes.)
      if (m.handshake_left > 0) {
        watch_quiet(c, m);
        return;
      }
      ++m.stats.pings;
      if (!m.sub_mode) {
        m.queued.push_back({format({"PING"}), {}, false});
        m.queued_bytes += m.queued.back().bytes.size();
      } else {
        m.out += format({"PING"});  // (answered by a "pong" push)
        m.pings_behind.push_back(m.subs_unconfirmed.size());
      }
      flush(c, m);
    }
    watch_quiet(c, m);
  });
}

// (A backoff_min of 0 or less is taken as 1 ms, a backoff_max below it as backoff_min: with 0 a
// Redis that is down was retried in a loop at a whole core, for ever; before 2026-12-06, a
// review.)
void retry(const std::shared_ptr<Client>& c, Client::Impl& m) {
  const auto least = std::max(m.options.backoff_min, std::chrono::milliseconds(1));
  const auto most = std::max(m.options.backoff_max, least);
  m.backoff = m.backoff.count() == 0 ? least : std::clamp(m.backoff * 2, least, most);
  m.timer.expires_after(m.backoff);
  m.timer.async_wait([c, &m](const boost::system::error_code& ec) {
    if (ec || m.stopped) return;
    connect(c, m);
  });
}

// A connection up this long before it is lost was a working one: the next attempt starts from
// backoff_min. (A second: longer than Redis, or a proxy in front of it, takes to close a
// connection it refuses, much shorter than any working one lasts.)
constexpr std::chrono::seconds kLasting{1};

void lost(const std::shared_ptr<Client>& c, Client::Impl& m, const std::string& why) {
  // (A connection whose handshake was refused was never up for its users: not counted as one,
  // and its backoff goes on doubling.)
  const bool was_up = m.ready;
  m.ready = false;
  ++m.generation;
  boost::system::error_code ignored;
  m.socket.close(ignored);
  m.writing = false;
  m.writing_buf.clear();
  m.out.clear();
  m.ping_timer.cancel();
  m.connect_timer.cancel();
  m.ping_sent.reset();
  if (was_up) m.down_since = std::chrono::steady_clock::now();
  // The backoff starts again from its minimum only after a connection that lasted: one closed
  // right after its accept (maxclients reached, a refused password, a proxy whose Redis is down)
  // goes on doubling it. (Reset at each connect, such a loop retried every backoff_min, 10 times
  // a second by default, for ever.)
  if (was_up && m.down_since - m.up_since >= kLasting) m.backoff = std::chrono::milliseconds(0);
  m.up = false;
  ++m.stats.connection_lost;
  // The next attempt armed before any callback runs: one that throws must not leave the client
  // without a retry (it did before 2026-12-03: disconnected for good).
  if (!m.stopped) retry(c, m);
  // Sent and unanswered: they may or may not have run. Handshake entries are just dropped.
  auto inflight = std::move(m.inflight);
  m.inflight.clear();
  std::deque<Client::Impl::Command> unsent;
  if (m.options.fail_unsent_on_loss) {
    unsent = std::move(m.queued);
    m.queued.clear();
    m.queued_bytes = 0;
  }
  EachCallback each;
  for (auto& cmd : inflight)
    if (cmd.cb) each([&] { cmd.cb(Reply::error(std::string(Reply::kLost))); });
  for (auto& cmd : unsent)
    if (cmd.cb) each([&] { cmd.cb(Reply::error(std::string(Reply::kLostUnsent))); });
  if (m.options.on_state) each([&] { m.options.on_state(false, why); });
  each.rethrow();
}

// `s` opened for `p`, close-on-exec from its birth. (Asio opens with no such flag; set once
// connected, the socket was open without it for as long as the connect took, up to
// connect_timeout, and a fork and exec in the program then, a handler's system() or another
// thread's, gave the child the connection.) If it cannot be opened here it is left closed, and
// async_connect opens it and says why it cannot.
void open_cloexec(generic::socket& s, const generic& p) {
  const int fd = ::socket(p.family(), p.type() | SOCK_CLOEXEC, p.protocol());
  if (fd < 0) return;
  boost::system::error_code ec;
  s.assign(p, fd, ec);
  if (ec) ::close(fd);
}

// The addresses a host name resolved to, tried in turn from `i` (as getaddrinfo orders them:
// "localhost" may give ::1 first to a Redis listening on 127.0.0.1 only, or a name several
// addresses of which some are down); `failed` says why each one before failed. All failed: lost.
// Within the one connect_timeout.
void connect_each(const std::shared_ptr<Client>& c, Client::Impl& m, std::uint64_t gen,
                  std::shared_ptr<const std::vector<net::ip::tcp::endpoint>> eps, std::size_t i,
                  std::string failed) {
  if (i == eps->size()) return lost(c, m, "connect " + failed);
  const net::ip::tcp::endpoint ep = (*eps)[i];
  m.socket = generic::socket(m.io);
  open_cloexec(m.socket, generic(ep.protocol()));
  m.socket.async_connect(generic::endpoint(ep), [c, &m, gen, eps, i, ep, failed](
                                                    const boost::system::error_code& e2) mutable {
    if (gen != m.generation) return;
    if (e2) {
      const std::string at =
          ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
      failed +=
          (failed.empty() ? "" : ", ") + at + ":" + std::to_string(ep.port()) + ": " + e2.message();
      return connect_each(c, m, gen, std::move(eps), i + 1, std::move(failed));
    }
    boost::system::error_code ignored;
    ::fcntl(m.socket.native_handle(), F_SETFD, FD_CLOEXEC);  // (where Asio opened it)
    m.socket.set_option(net::ip::tcp::no_delay(true), ignored);
    connected(c, m);
  });
}

void connect(const std::shared_ptr<Client>& c, Client::Impl& m) {
  const std::uint64_t gen = ++m.generation;
  if (m.options.connect_timeout.count() > 0) {
    m.connect_timer.expires_after(m.options.connect_timeout);
    m.connect_timer.async_wait([c, &m, gen](const boost::system::error_code& ec) {
      if (ec || gen != m.generation || m.up || m.stopped) return;
      m.resolver.cancel();
      lost(c, m,
           "connect to " + (m.url.unix_socket ? m.url.path : m.url.host) + ": no answer in " +
               std::to_string(m.options.connect_timeout.count()) + " ms (connect_timeout)");
    });
  }
  if (m.url.unix_socket) {
    m.socket = generic::socket(m.io);
    open_cloexec(m.socket, generic(AF_UNIX, 0));
    m.socket.async_connect(generic::endpoint(net::local::stream_protocol::endpoint(m.url.path)),
                           [c, &m, gen](const boost::system::error_code& ec) {
                             if (gen != m.generation) return;
                             if (ec)
                               return lost(c, m, "connect " + m.url.path + ": " + ec.message());
                             ::fcntl(m.socket.native_handle(), F_SETFD, FD_CLOEXEC);
                             connected(c, m);
                           });
    return;
  }
  // The signals blocked while the resolve is started: the first starts Asio's resolver thread,
  // which keeps the mask it was made with for good, and, made with none blocked, took a SIGTERM
  // that the program's own threads blocked (to finish their work first) and ended the process at
  // once (before 2026-12-05; found by a review).
  const shm::ThreadSignalsBlocked blocked;
  m.resolver.async_resolve(
      m.url.host, std::to_string(m.url.port),
      [c, &m, gen](const boost::system::error_code& ec,
                   net::ip::tcp::resolver::results_type results) {
        if (gen != m.generation) return;
        if (ec || results.empty())
          return lost(c, m, "resolve " + m.url.host + ": " + (ec ? ec.message() : "no address"));
        std::vector<net::ip::tcp::endpoint> eps;
        for (const auto& r : results) eps.push_back(r.endpoint());
        // Each attempt starts one address further on: an address that drops packets takes the
        // whole connect_timeout, and the next attempt must not start with it again.
        std::rotate(eps.begin(), eps.begin() + static_cast<std::ptrdiff_t>(m.rounds++ % eps.size()),
                    eps.end());
        connect_each(c, m, gen, std::make_shared<const std::vector<net::ip::tcp::endpoint>>(eps), 0,
                     {});
      });
}
}  // namespace

void Client::start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->down_since = std::chrono::steady_clock::now();
  connect(shared_from_this(), *impl_);
}

void Client::pause_reading(bool paused) {
  Impl& m = *impl_;
  m.paused = paused;
  if (paused || !m.read_parked) return;
  m.read_parked = false;
  if (m.stopped || !m.up) return;
  m.last_read = std::chrono::steady_clock::now();
  read(shared_from_this(), m);
}

bool Client::reading_paused() const noexcept {
  return impl_->paused;
}

void Client::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  ++m.generation;
  m.timer.cancel();
  m.ping_timer.cancel();
  m.connect_timer.cancel();
  m.resolver.cancel();  // (a lookup in progress: its handler sees the new generation)
  boost::system::error_code ignored;
  m.socket.close(ignored);
  m.up = false;
  // (Its disconnected time counts from a stop of a connected client, not from its last loss:
  // the whole time it was up was added to disconnected_ms before 2026-12-06; a review.)
  if (m.ready) m.down_since = std::chrono::steady_clock::now();
  m.ready = false;
  auto waiting = std::move(m.inflight);
  for (auto& q : m.queued) waiting.push_back(std::move(q));
  m.inflight.clear();
  m.queued.clear();
  m.queued_bytes = 0;
  EachCallback each;
  for (auto& cmd : waiting)
    if (cmd.cb) each([&] { cmd.cb(Reply::error("ERR shmio: stopped")); });
  each.rethrow();
}

namespace {
// Commands that change the connection's state behind the client's back: its replies would no
// longer match its commands (SUBSCRIBE and the rest, MONITOR, HELLO's RESP3, CLIENT REPLY,
// RESET's leaving pub/sub), what it set would be lost at the next reconnect (SELECT, AUTH:
// ClientOptions' URL says those), a transaction would take in every other caller's commands
// sent meanwhile on this one shared connection (MULTI, EXEC, DISCARD, WATCH, UNWATCH), or the
// connection would be closed under them (QUIT). Null when `args` is none of them, else the
// refusal.
const char* changes_connection_state(const std::vector<std::string>& args) {
  static constexpr std::string_view kRefused[] = {
      "SUBSCRIBE",    "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
      "SUNSUBSCRIBE", "MONITOR",    "HELLO",      "RESET",       "SELECT",
      "AUTH",         "SYNC",       "PSYNC",      "MULTI",       "EXEC",
      "DISCARD",      "WATCH",      "UNWATCH",    "QUIT"};
  const auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::toupper(static_cast<unsigned char>(x)) == y;
           });
  };
  for (std::string_view name : kRefused)
    if (same(args[0], name))
      return "ERR shmio: this command changes the connection's state: use subscribe(), "
             "psubscribe(), ssubscribe() and their unsubscribes, ClientOptions (the URL's "
             "database and password), or a script (EVAL) for a transaction";
  if (same(args[0], "CLIENT") && args.size() > 1 && same(args[1], "REPLY"))
    return "ERR shmio: CLIENT REPLY would put replies out of step with commands";
  return nullptr;
}
}  // namespace

void Client::command(std::vector<std::string> args, Callback cb) {
  Impl& m = *impl_;
  // (An empty command has no reply: queued, it took the next command's, and every later one the
  // one before it; refused since 2026-12-03, as is one that could not be formatted.)
  std::string bytes = args.empty() ? std::string() : format(args);
  const char* state_changing = args.empty() ? nullptr : changes_connection_state(args);
  const char* refused =
      m.stopped      ? "ERR shmio: stopped"
      : args.empty() ? "ERR shmio: an empty command"
      : bytes.empty()
          ? "ERR shmio: the command could not be formatted (at most 1 GiB, 512 MiB an argument)"
      : state_changing != nullptr ? state_changing
      : !m.subs.empty()           ? "ERR shmio: a subscriber connection takes no other command"
      : m.queued.size() + m.inflight.size() >= m.options.max_pending
          ? "ERR shmio: command queue full (max_pending)"
      : !m.queued.empty() && m.queued_bytes + bytes.size() > m.options.max_pending_bytes
          ? "ERR shmio: command queue full (max_pending_bytes)"
          : nullptr;
  if (refused != nullptr) {
    ++m.stats.refused;
    if (cb) cb(Reply::error(refused));
    return;
  }
  m.queued_bytes += bytes.size();
  m.queued.push_back({std::move(bytes), std::move(cb), false});
  if (m.up) flush(shared_from_this(), m);
}

namespace {
void add_sub(const std::shared_ptr<Client>& c, Client::Impl& m, const char* kind,
             const std::string& name) {
  if (!m.subs.emplace(kind, name).second) return;
  // (Sent at the next connection, or once this one's handshake is answered.)
  if (!m.up || m.stopped || m.handshake_left > 0) return;
  // Commands taken after the last UNSUBSCRIBE and held for its answer: with a SUBSCRIBE behind
  // them, their replies could not be told from that answer. Refused, once the subscription is
  // written (their callbacks may throw, or call the client).
  std::deque<Client::Impl::Command> held;
  if (m.sub_mode) {
    held = std::move(m.queued);
    m.queued.clear();
    m.queued_bytes = 0;
    m.stats.refused += held.size();
  }
  write_queued(m, true);  // (taken before this subscription: see resubscribe)
  // And those written already, awaiting their replies (a command, then a subscribe, in one
  // turn): theirs come before any push too. (Not in subscribe mode: then a command in flight
  // was written after an UNSUBSCRIBE, and messages may still come before its reply.)
  if (!m.sub_mode)
    for (Client::Impl::Command& cmd : m.inflight) cmd.before_subs = true;
  m.out += format({kind, name});
  m.subs_unconfirmed.emplace_back(kind, name);
  m.sub_mode = true;
  flush(c, m);
  if (held.empty()) return;
  EachCallback each;
  for (auto& cmd : held)
    if (cmd.cb)
      each([&] {
        cmd.cb(Reply::error(
            "ERR shmio: a subscriber connection takes no other command (subscribed again before "
            "it was written)"));
      });
  each.rethrow();
}
}  // namespace

void Client::subscribe(const std::string& channel) {
  add_sub(shared_from_this(), *impl_, "SUBSCRIBE", channel);
}
void Client::psubscribe(const std::string& pattern) {
  add_sub(shared_from_this(), *impl_, "PSUBSCRIBE", pattern);
}
void Client::ssubscribe(const std::string& channel) {
  add_sub(shared_from_this(), *impl_, "SSUBSCRIBE", channel);
}
namespace {
void del_sub(const std::shared_ptr<Client>& c, Client::Impl& m, const char* kind,
             const char* command, const std::string& name) {
  // (Not yet asked again on this connection while its handshake is answered: nothing to undo.)
  if (m.subs.erase({kind, name}) == 0 || !m.up || m.stopped || m.handshake_left > 0) return;
  m.out += format({command, name});
  ++m.unsubs_pending;
  flush(c, m);
}
}  // namespace

void Client::sunsubscribe(const std::string& channel) {
  del_sub(shared_from_this(), *impl_, "SSUBSCRIBE", "SUNSUBSCRIBE", channel);
}
void Client::unsubscribe(const std::string& channel) {
  del_sub(shared_from_this(), *impl_, "SUBSCRIBE", "UNSUBSCRIBE", channel);
}
void Client::punsubscribe(const std::string& pattern) {
  del_sub(shared_from_this(), *impl_, "PSUBSCRIBE", "PUNSUBSCRIBE", pattern);
}

}  // namespace shmio::redis
