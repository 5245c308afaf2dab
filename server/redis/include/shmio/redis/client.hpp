// A Redis client on Boost.Asio for the fleet bridge (issue 13, docs/redis.md): one connection, RESP
// parsed by hiredis's reply reader (Debian 12's libhiredis 0.14; the reader works on any
// transport), commands pipelined, pub/sub, reconnection with backoff.
//
//   auto c = redis::Client::create(io, {.url = "redis://127.0.0.1:6379/0"});
//   c->command({"SET", "k", "v"}, [](const redis::Reply& r) { ... });
//   sub->psubscribe("socket.io#/#*");   // kept, and sent again after every reconnect
//
// Behaviour when things go wrong:
// - Redis unreachable (at start or later): the client retries with exponential backoff
//   (backoff_min .. backoff_max), says so through on_state, and keeps its subscriptions for the
//   next connection; commands wait in order, up to max_pending and max_pending_bytes (past either
//   a command's callback gets an error reply at once: "ERR shmio: command queue full (...)").
// - A connection lost with commands sent and unanswered: each of those gets the error reply "ERR
//   shmio: connection lost" (it may or may not have run); commands not sent yet go out on the next
//   connection.
// - AUTH or SELECT refused: said through on_state, the connection closed and retried with backoff.
// - A protocol error (bytes that are not RESP): the connection is closed and retried. So is a
//   reply nested more than 7 arrays deep, which hiredis 0.14's reader refuses as one ("No
//   support for nested multi bulk replies with depth > 7"): an EVAL returning such a table has
//   run, and it and every command pipelined with it get "connection lost". Nothing the fleet
//   bridge sends is answered so; a program of its own that may be, flattens its replies.
// A client that subscribed is a subscriber connection (RESP2): it then refuses other commands with
// an error reply. command() refuses, with an error reply at once, the commands that would change
// the connection's state behind the client: (P|S)(UN)SUBSCRIBE (use subscribe() and the rest),
// MONITOR, HELLO, RESET, CLIENT REPLY, SYNC, PSYNC, SELECT and AUTH (lost at a reconnect: the
// URL names the database and password), MULTI, EXEC, DISCARD, WATCH and UNWATCH (a transaction
// would take in other callers' commands on this shared connection: use EVAL), and QUIT. A
// blocking command (BLPOP, XREAD BLOCK, WAIT) that blocks longer than ping_interval +
// ping_timeout makes the quiet-link PING behind it look unanswered: the connection is made
// again. TLS is not supported.
// Thread-safety: everything on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shmio::redis {

// redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket[?db=N] (also with a
// password: unix://:password@/path).
struct Url {
  bool unix_socket = false;
  std::string host;  // tcp
  std::uint16_t port = 6379;
  std::string path;  // unix
  std::string user, password;
  int db = 0;
};
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);
// The URL as it may be shown (a log line, an error): its password, if any, as "***" (the user
// kept). Every line that names the Redis URL uses it (before 2026-12-03 the bridge's lines and
// the errors of --redis printed the password).
std::string shown_url(std::string_view text);

struct Reply {
  enum class Type { nil, status, error, integer, string, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // status, error and string replies
  std::vector<Reply> elements;
  bool is_error() const noexcept { return type == Type::error; }
  // The client's own error for a command its connection lost: kLost (written and unanswered: it
  // may or may not have run) or kLostUnsent (never written).
  static constexpr std::string_view kLost = "ERR shmio: connection lost";
  static constexpr std::string_view kLostUnsent = "ERR shmio: connection lost (not sent)";
  bool lost() const noexcept { return is_error() && (str == kLost || str == kLostUnsent); }
  bool lost_unsent() const noexcept { return is_error() && str == kLostUnsent; }
  static Reply error(std::string what) {
    Reply r;
    r.type = Type::error;
    r.str = std::move(what);
    return r;
  }
};

// The most bytes one command may take on the wire (its arguments with their framing): Redis's own
// client-query-buffer-limit by default; one argument at most half of it (proto-max-bulk-len). A
// larger one is refused (its callback gets an error).
inline constexpr std::size_t kMaxCommandBytes = std::size_t{1} << 30;

struct ClientOptions {
  std::string url = "redis://127.0.0.1:6379";
  std::chrono::milliseconds backoff_min{100};   // (at least 1 ms is waited)
  std::chrono::milliseconds backoff_max{5000};  // (at least backoff_min)
  // A connection attempt (the name resolved, the TCP or unix-socket connect) not done within this
  // is abandoned ("no answer in N ms") and retried after the backoff: a host that drops packets
  // would otherwise hold each attempt for the kernel's SYN retries (about 2 minutes). 0: never.
  std::chrono::milliseconds connect_timeout{5000};
  // Commands waiting (not sent yet, or sent and unanswered), at most.
  std::size_t max_pending = 100000;
  // The bytes of the commands not written yet (queued while Redis is unreachable or behind a
  // write in progress), at most: past it a command is refused at once ("ERR shmio: command queue
  // full (max_pending_bytes)"), so that a Redis down for long cannot grow this process without
  // bound (100,000 commands of a few megabytes each would otherwise all wait). A command is
  // written, and its bytes freed, as soon as the connection takes it; one alone is never refused
  // by this bound (a single large command on an idle connection goes, as before: Redis's own
  // bound for one argument is 512 MB).
  std::size_t max_pending_bytes = std::size_t{256} << 20;
  // One reply (a bulk string, an array) larger than this closes the connection ("a reply larger
  // than N bytes") instead of being buffered: a server (or something between) that sends a
  // length and then streams would otherwise grow this process without bound. Redis's own
  // proto-max-bulk-len is 512 MB.
  std::size_t max_reply_bytes = std::size_t{512} << 20;
  // One reply of more elements than this (every level counted: each string, integer, nil and
  // array; an array's declared count counts at once) closes the connection ("a reply of more
  // than N elements") instead of being built: each element costs a node of 72 bytes here, so
  // small elements (":1", 4 bytes on the wire) cost 18 times their bytes; at the default,
  // 1,048,576, at most 72 MiB of nodes (up to twice that while an array's vector grows: an array
  // reserves at most 1,024 elements ahead). The bridge's largest replies (PUBSUB NUMSUB) have
  // hundreds.
  std::size_t max_reply_elements = std::size_t{1} << 20;
  // While connected, a PING every ping_interval when nothing was read for that long; no answer
  // within ping_timeout closes the connection ("no answer to PING"): a link that stalled (a peer
  // gone without a reset, a frozen proxy) is found and reconnected, instead of a subscriber
  // waiting for ever. 0: never. The PING is answered after the commands written before it: one
  // that blocks longer than ping_interval + ping_timeout (BLPOP, XREAD BLOCK, a long script) is
  // taken for a stalled link, so a connection that runs such commands wants ping_interval 0.
  // ping_timeout must be more than 0 where ping_interval is (create() refuses it).
  std::chrono::milliseconds ping_interval{5000};
  std::chrono::milliseconds ping_timeout{5000};
  // Commands not yet written when the connection is lost (queued behind a write in progress, or
  // given while it was down) fail with "ERR shmio: connection lost" (false: they are written
  // on the next connection, as they are by default).
  bool fail_unsent_on_loss = false;
  // Pub/sub: kind "message" (channel, payload), "pmessage" (pattern, channel, payload) or
  // "smessage" (channel, payload).
  std::function<void(const std::string& kind, const std::string& pattern,
                     const std::string& channel, std::string payload)>
      on_message{};
  // Each connection made (true) and each one lost or refused (false, with why).
  // (Any callback of the client's may throw: the exception goes out of the io_context's run, the
  // first of several, after the callbacks due with it were called and with the client whole: its
  // connection still read, a lost one still retried.)
  std::function<void(bool connected, const std::string& why)> on_state{};
  // A subscription Redis refused (kind SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE; why: Redis's error,
  // such as an ACL's NOPERM or a shard channel's MOVED). It is dropped (not sent again after a
  // reconnect: subscribe again to retry) and the connection and the other subscriptions go on
  // (trying again would refuse it again, and every reconnect lost the others' messages meanwhile).
  std::function<void(const std::string& kind, const std::string& name, const std::string& why)>
      on_refused_subscription{};
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  using Callback = std::function<void(const Reply&)>;
  // nullptr (and `error`) for a URL parse_url refuses.
  static std::shared_ptr<Client> create(boost::asio::io_context& io, ClientOptions options,
                                        std::string* error = nullptr);
  ~Client();

  void start();
  void stop();  // closes the connection; waiting callbacks get "ERR shmio: stopped"

  void command(std::vector<std::string> args, Callback cb = {});
  void subscribe(const std::string& channel);
  void psubscribe(const std::string& pattern);
  void ssubscribe(const std::string& channel);
  void sunsubscribe(const std::string& channel);  // (not sent again after a reconnect)
  void unsubscribe(const std::string& channel);   // (the same)
  void punsubscribe(const std::string& pattern);  // (the same)

  bool connected() const noexcept;
  // Whether Redis has confirmed this subscription (kind SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE) on
  // the connection now up. False while it is written and not yet confirmed (after a reconnect,
  // one round trip; a reconnection Redis refuses, past maxclients, never confirms), and once the
  // connection is found down. (A link Redis closed is found only when the close is read: while
  // reading is paused, or behind what is still buffered, this still says true.)
  bool subscribed(const std::string& kind, const std::string& name) const;
  // Reading paused (flow control: the reader of what arrives cannot take more now): what was read
  // already is still handed over, then nothing more is read until resumed (Redis keeps the rest,
  // up to its output buffer limits, past which it closes the connection, which is then made
  // again). The quiet-link PING is not sent while paused, and a PING already waiting is not held
  // against the link: a link that dies while paused is found only once resumed (the caller bounds
  // its pauses). Kept across reconnects (the handshake is read; what follows waits).
  void pause_reading(bool paused);
  bool reading_paused() const noexcept;
  struct Stats {
    std::uint64_t connects = 0;         // connections made (the first and every reconnect)
    std::uint64_t connection_lost = 0;  // connections lost or refused
    std::uint64_t commands = 0;         // commands written
    std::uint64_t replies = 0;          // replies to them
    std::uint64_t messages = 0;         // pub/sub messages received
    std::uint64_t refused = 0;          // commands refused (queue full, subscriber, stopped)
    std::uint64_t disconnected_ms = 0;  // time without a connection since start (up to now)
    std::uint64_t pings = 0;            // PINGs sent on a quiet connection (ClientOptions)
    std::uint64_t pings_refused = 0;    // of those, answered by an error (an ACL without PING)
    std::uint64_t subscriptions_refused = 0;  // by Redis (on_refused_subscription), dropped
  };
  Stats stats() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmio::redis
