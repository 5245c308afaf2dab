// shmio-emit: emits to a running shmio cluster's clients from the command line, through its ring
// (like @socket.io/redis-emitter, with no broker).
//
//   shmio-emit --ring port-3000 --room r --event news '{"a":1}' '"second arg"'
//   shmio-emit --port 3000 --nsp /chat --except muted --event hello
//   shmio-emit --port 3000 --join vip --room r        (every socket in room r joins vip)
//   shmio-emit --port 3000 --disconnect --room r      (disconnects the sockets in room r)
//   shmio-emit --redis redis://127.0.0.1:6379 --event news '"x"'   (every server of a Redis
//                                                                  fleet, as redis-emitter)
//
// Exit status: 0 sent; 2 usage, a bad JSON argument or a name that is not UTF-8; 3 the ring cannot
// be attached or its cluster is not running (or the Redis URL is refused); 4 the record could not
// be written: larger than the ring's max_record, or no worker reads it (or Redis did not take the
// message); 5 published, but Redis counted no subscriber; 6 (--redis) it may have been published:
// Redis did not answer in time, or the connection was lost after the message was sent.
#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shmio/cluster/emitter.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/socketio/packet.hpp"
#ifdef SHMIO_HAVE_REDIS
#include "shmio/redis/emitter.hpp"
#endif

namespace {
const char* kUsage =
    "usage: shmio-emit [--ring NAME | --port P | --redis URL [--redis-key K]] [--nsp NSP]\n"
    "                  [--room R]... [--except R]...\n"
    "                  [--volatile] (--event NAME [JSON_ARG]... | --join ROOM | --leave ROOM |\n"
    "                  --disconnect [--close])\n"
    "  --ring NAME   the cluster's ring (--port P: port-P, the ring a cluster on port P\n"
    "                makes; neither: $SHMIO_RING, else port-$SHMIO_PORT, as shmio reads them)\n"
    "  --redis URL   every server of a Redis fleet instead (@socket.io/redis-adapter's\n"
    "                classic protocol, as @socket.io/redis-emitter; --redis-key: its key,\n"
    "                default $SHMIO_REDIS_KEY, else socket.io; none of the above:\n"
    "                $SHMIO_REDIS, as shmio reads it; the classic protocol only: refused\n"
    "                with SHMIO_REDIS_MODE=sharded)\n"
    "  --nsp NSP     namespace (default /)\n"
    "  --room R      only sockets in room R (repeatable; default: every socket of NSP)\n"
    "  --except R    not sockets in room R (repeatable)\n"
    "  --volatile    the event may be dropped for a client that cannot take it at once\n"
    "  --event NAME  emit NAME with the JSON arguments that follow (the last option: every\n"
    "                word after NAME is an argument)\n"
    "  --join ROOM / --leave ROOM   the matching sockets join / leave ROOM\n"
    "  --disconnect  disconnect the matching sockets (--close: their whole connection)\n"
    "Names (namespace, rooms, event) must be UTF-8. Exit status: 0 written (or published);\n"
    "1 --help's text not written (stdout);\n"
    "2 usage, a bad JSON argument or name; 3 the ring cannot be attached, or its cluster is\n"
    "not running (or the Redis URL is refused); 4 not written: larger than the ring's\n"
    "max_record (its size / 8, at most 16 MiB), or no worker reads it now (all starting or\n"
    "restarting) (or Redis did not take it, or the fleet's shmio servers would drop it);\n"
    "5 published, but Redis counted no subscriber of the key (none listens; a proxy in front\n"
    "of Redis may count none all the same); 6 it may have been published (Redis did not\n"
    "answer in time, or the connection was lost after it was sent): sending it again may\n"
    "deliver it twice.\n";

// The ring a cluster on port `text` makes (port-P), reading the port as shmio reads it (digits
// only, 1..65535: "047020" is port-47020); nullopt if it is no port.
std::optional<std::string> port_ring(std::string_view text) {
  unsigned long port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 1 ||
      port > 65535)
    return std::nullopt;
  return "port-" + std::to_string(port);
}

int usage(const std::string& why) {
  std::fprintf(stderr, "shmio-emit: %s\n%s", why.c_str(), kUsage);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  std::string ring, nsp = "/", event, join, leave, redis_url, redis_key;
  std::vector<std::string> rooms, except, args;
  bool vol = false, disconnect = false, close = false, has_event = false, has_nsp = false;
  int targets = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    // An option's value: present, and not the next option (`--room --join x` took "--join" for
    // a room before).
    std::string bad;
    auto take = [&](std::string& into) {
      if (v == nullptr || std::strncmp(v, "--", 2) == 0) {
        bad =
            a + " needs a value" + (v == nullptr ? std::string() : std::string(" (got ") + v + ")");
        return false;
      }
      // (An empty value is no name: `--nsp "$NSP"` with NSP unset reached every client of "/"
      // before 2026-12-05, `--room ""` a room nobody is in, both with exit 0.)
      if (*v == '\0') {
        bad = a + " must not be empty";
        return false;
      }
      into = v;
      ++i;
      return true;
    };
    auto once = [&](const std::string& current) {
      if (current.empty()) return true;
      bad = a + " given twice";
      return false;
    };
    std::string tmp;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      // (Not written, a full disk or a closed pipe: 1; 0 before 2026-12-05.)
      return std::fflush(stdout) != 0 || std::ferror(stdout) != 0 ? 1 : 0;
    } else if (a == "--ring" || a == "--port" || a == "--redis") {
      if (!take(tmp)) return usage(bad);
      if (++targets > 1) return usage("give one of --ring, --port or --redis");
      if (a == "--ring") {
        if (auto ok = shmio::shm::Segment::validate_name(tmp); !ok)
          return usage("--ring: " + ok.error().message);
        ring = tmp;
      } else if (a == "--redis") {
        // (Empty was taken for no --redis: the ring's mode, "cannot attach ring ''".)
        if (tmp.empty())
          return usage("--redis must not be empty (a URL such as redis://host:6379)");
        redis_url = tmp;
      } else {
        const auto named = port_ring(tmp);
        if (!named) return usage("--port must be a port number, 1..65535 (got " + tmp + ")");
        ring = *named;
      }
    } else if (a == "--redis-key") {
      if (!once(redis_key) || !take(redis_key)) return usage(bad);
      if (redis_key.empty()) return usage("--redis-key must not be empty");
    } else if (a == "--nsp") {
      // (Once, as the other options naming a target: given twice, the last one won silently
      // before 2026-12-04, and `--nsp /admin ... --nsp /` reached every client of "/".)
      if (std::exchange(has_nsp, true)) return usage("--nsp given twice");
      if (!take(nsp)) return usage(bad);
    } else if (a == "--room" || a == "--except") {
      if (!take(tmp)) return usage(bad);
      (a == "--room" ? rooms : except).push_back(tmp);
    } else if (a == "--event") {
      if (has_event) return usage("--event given twice");
      if (!take(event)) return usage(bad);
      has_event = true;
      for (++i; i < argc; ++i) args.emplace_back(argv[i]);
    } else if (a == "--join" || a == "--leave") {
      std::string& into = a == "--join" ? join : leave;
      if (!once(into) || !take(into)) return usage(bad);
    } else if (a == "--volatile") {
      vol = true;
    } else if (a == "--disconnect") {
      if (disconnect) return usage("--disconnect given twice");
      disconnect = true;
    } else if (a == "--close") {
      close = true;
    } else {
      return usage("unknown option " + a);
    }
  }
  if (targets == 0) {
    // As shmio reads them: its ring's name, else the one its port gives.
    // (Set but empty: refused, as shmio refuses it; until 2026-12-05 read as unset here.)
    const char* r = std::getenv("SHMIO_RING");
    const char* port = std::getenv("SHMIO_PORT");
    if (r != nullptr && *r == '\0') return usage("SHMIO_RING is empty (name a ring, or unset it)");
    if (port != nullptr && *port == '\0')
      return usage("SHMIO_PORT is empty (a port number, 1..65535, or unset it)");
    if (r != nullptr) {
      ring = r;
      if (auto ok = shmio::shm::Segment::validate_name(ring); !ok)
        return usage("SHMIO_RING: " + ok.error().message);
    } else if (port != nullptr) {
      // (Read as a number, as shmio reads it: "047020" names ring port-47020 there.)
      const auto named = port_ring(port);
      if (!named)
        return usage(std::string("SHMIO_PORT must be a port number, 1..65535 (got ") + port + ")");
      ring = *named;
    } else if (const char* url = std::getenv("SHMIO_REDIS"); url != nullptr && *url != '\0') {
      // (As shmio reads it, where no ring is named: a URL with a password need not be on the
      // command line, which every local user can read; since 2026-12-05, found by a review.)
      redis_url = url;
    } else {
      return usage(
          "give one of --ring, --port or --redis (or SHMIO_RING / SHMIO_PORT / SHMIO_REDIS)");
    }
  }
  const int actions = has_event + !join.empty() + !leave.empty() + disconnect;
  if (actions != 1)
    return usage("give exactly one action: --event, --join, --leave or --disconnect");
  if (event.empty() && has_event) return usage("--event needs a name");
  if (close && !disconnect) return usage("--close goes with --disconnect");
  if (vol && !has_event) return usage("--volatile goes with --event");
  if (!redis_key.empty() && redis_url.empty()) return usage("--redis-key goes with --redis");
  if (!redis_url.empty()) {
    // The key and the mode as shmio reads them, where the command line gives no key: a shell set
    // up for a fleet on key "app" published on "socket.io#/#", which no member reads, and said
    // it was done (before 2026-12-05; found by a review).
    if (const char* k = std::getenv("SHMIO_REDIS_KEY"); k != nullptr && redis_key.empty()) {
      if (*k == '\0') return usage("SHMIO_REDIS_KEY is empty (a key, or unset it)");
      redis_key = k;
    }
    if (const char* mode = std::getenv("SHMIO_REDIS_MODE");
        mode != nullptr && std::string_view(mode) != "classic")
      return usage(std::string("SHMIO_REDIS_MODE is ") + mode +
                   ": shmio-emit speaks the classic protocol only (as @socket.io/redis-emitter)");
  }
  if (redis_key.empty()) redis_key = "socket.io";
  if (shmio::socketio::is_reserved_event(event)) {  // (clients close their connection on one)
    std::fprintf(stderr, "shmio-emit: \"%s\" is a reserved event name\n", event.c_str());
    return 2;
  }
  shmio::socketio::Args payload;
  for (const std::string& text : args) {
    boost::system::error_code ec;
    // (As the server reads a client's JSON: a lone surrogate escape is U+FFFD, not a refusal.)
    // (Up to 1,000 levels, the most a server's --max-json-depth allows a client: the parser's
    // default of 32 called deeper JSON "not JSON", where the library's emitter and the ring take
    // it; until 2026-12-06, a helper's review.)
    boost::json::value v = shmio::socketio::parse_json(text, ec, 1000);
    if (ec == boost::json::error::too_deep) {
      std::fprintf(stderr, "shmio-emit: argument is nested deeper than 1000 levels\n");
      return 2;
    }
    if (ec) {
      std::fprintf(stderr, "shmio-emit: argument is not JSON: %s (%s)%s\n", text.c_str(),
                   ec.message().c_str(),
                   text.rfind("--", 0) == 0 ? " (options go before --event NAME)" : "");
      return 2;
    }
    payload.values.push_back(std::move(v));
  }
  {
    shmio::socketio::BroadcastOptions names;
    names.rooms.insert(rooms.begin(), rooms.end());
    names.except.insert(except.begin(), except.end());
    const std::string full_nsp = nsp[0] == '/' ? nsp : "/" + nsp;
    std::string why = shmio::cluster::names_refused(full_nsp, names, {std::string_view(event)});
    for (const std::string& room : {join, leave})
      if (why.empty() && !room.empty())
        why = shmio::cluster::rooms_refused(full_nsp, names, {room});
    if (!why.empty()) return usage(why);
  }
  // The action on the ring's emitter or the Redis one (the same operators).
  auto act = [&](auto op) {
    for (const auto& r : rooms) op = std::move(op).to(r);
    for (const auto& r : except) op = std::move(op).except(r);
    if (vol) op = std::move(op).volatile_();
    if (!event.empty()) return op.emit(event, std::move(payload));
    if (!join.empty()) return op.sockets_join(join);
    if (!leave.empty()) return op.sockets_leave(leave);
    return op.disconnect_sockets(close);
  };
  if (!redis_url.empty()) {
#ifdef SHMIO_HAVE_REDIS
    std::unique_ptr<shmio::redis::Emitter> em;
    try {
      em = std::make_unique<shmio::redis::Emitter>(redis_url, redis_key);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmio-emit: %s\n", e.what());
      return 3;
    }
    if (!act(em->of(nsp))) {
      // (As it is where it says whether it was published: before 2026-12-05 a timeout read
      // "not published: ... it may have been published".)
      const std::string& why = em->last_error();
      std::fprintf(stderr, "shmio-emit: %s%s\n",
                   why.find("published") == std::string::npos ? "not published: " : "",
                   why.c_str());
      // (6, not 4: a script that sends again on 4 must not send twice what Redis may have taken;
      // before 2026-12-07 both were 4, and a connection lost after the send said "not
      // published"; a review.)
      return em->last_may_have_been_published() ? 6 : 4;
    }
    // (PUBLISH's count: as the ring's "no worker reads it now". Node members of the key listen
    // by pattern, shmio bridges by channel or pattern: each counts.)
    // (5, not 4: it was published, and behind a proxy the count can be 0 all the same; a script
    // that sends again on 4 must not send it twice.)
    if (em->last_receivers() == 0) {
      std::fprintf(stderr,
                   "shmio-emit: published, but Redis counted no subscriber of key \"%s\": "
                   "nothing received it\n",
                   redis_key.c_str());
      return 5;
    }
    return 0;
#else
    std::fprintf(stderr, "shmio-emit: --redis: built without hiredis (libhiredis-dev)\n");
    return 2;
#endif
  }
  try {
    // One record and exit: the ring's pages are not all faulted in and touched first, and it
    // does not wait for a reader far behind (max_hold 0: it waited up to a second after a
    // large message before 2026-12-05, where docs/cluster.md says it never waits).
    shmio::cluster::Emitter em(ring, "shmio-emit", /*prefault=*/false,
                               std::chrono::milliseconds(0));
    if (!act(em.of(nsp))) {
      std::fprintf(stderr, "shmio-emit: not written: %s\n", em.last_error().c_str());
      return 4;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmio-emit: %s\n", e.what());
    return 3;
  }
  return 0;
}
