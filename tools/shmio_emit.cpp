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
// Exit status: 0 sent; 2 usage or bad JSON argument; 3 the ring cannot be attached (or the Redis
// URL is refused); 4 the record could not be written (or Redis did not take the message).
#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "shmio/cluster/emitter.hpp"
#include "shmio/socketio/packet.hpp"
#ifdef SHMIO_HAVE_REDIS
#include "shmio/redis/emitter.hpp"
#endif

namespace {
const char* kUsage =
    "usage: shmio-emit (--ring NAME | --port P | --redis URL [--redis-key K]) [--nsp NSP]\n"
    "                  [--room R]... [--except R]...\n"
    "                  [--volatile] (--event NAME [JSON_ARG]... | --join ROOM | --leave ROOM |\n"
    "                  --disconnect [--close])\n"
    "  --ring NAME   the cluster's ring (default for --port P: port-P)\n"
    "  --redis URL   every server of a Redis fleet instead (@socket.io/redis-adapter's\n"
    "                classic protocol, as @socket.io/redis-emitter; --redis-key: its key,\n"
    "                default socket.io)\n"
    "  --nsp NSP     namespace (default /)\n"
    "  --room R      only sockets in room R (repeatable; default: every socket of NSP)\n"
    "  --except R    not sockets in room R (repeatable)\n"
    "  --event NAME  emit NAME with the JSON arguments that follow\n"
    "  --join ROOM / --leave ROOM   the matching sockets join / leave ROOM\n"
    "  --disconnect  disconnect the matching sockets (--close: their whole connection)\n";
}

int main(int argc, char** argv) {
  std::string ring, nsp = "/", event, join, leave, redis_url, redis_key = "socket.io";
  std::vector<std::string> rooms, except, args;
  bool vol = false, disconnect = false, close = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&](std::string& into) {
      if (v == nullptr) return false;
      into = v;
      ++i;
      return true;
    };
    std::string tmp;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--ring" && take(ring)) {
    } else if (a == "--port" && take(tmp)) {
      ring = "port-" + tmp;
    } else if (a == "--redis" && take(redis_url)) {
    } else if (a == "--redis-key" && take(redis_key)) {
    } else if (a == "--nsp" && take(nsp)) {
    } else if (a == "--room" && take(tmp)) {
      rooms.push_back(tmp);
    } else if (a == "--except" && take(tmp)) {
      except.push_back(tmp);
    } else if (a == "--event" && take(event)) {
      for (++i; i < argc; ++i) args.emplace_back(argv[i]);
    } else if (a == "--join" && take(join)) {
    } else if (a == "--leave" && take(leave)) {
    } else if (a == "--volatile") {
      vol = true;
    } else if (a == "--disconnect") {
      disconnect = true;
    } else if (a == "--close") {
      close = true;
    } else {
      std::fprintf(stderr, "shmio-emit: unknown or incomplete option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  const int actions = !event.empty() + !join.empty() + !leave.empty() + disconnect;
  if (ring.empty() == redis_url.empty() || actions != 1) {
    std::fprintf(stderr,
                 "shmio-emit: give one of --ring, --port or --redis, and exactly one action\n%s",
                 kUsage);
    return 2;
  }
  if (shmio::socketio::is_reserved_event(event)) {  // (clients close their connection on one)
    std::fprintf(stderr, "shmio-emit: \"%s\" is a reserved event name\n", event.c_str());
    return 2;
  }
  shmio::socketio::Args payload;
  for (const std::string& text : args) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    if (ec) {
      std::fprintf(stderr, "shmio-emit: argument is not JSON: %s (%s)\n", text.c_str(),
                   ec.message().c_str());
      return 2;
    }
    payload.values.push_back(std::move(v));
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
      std::fprintf(stderr, "shmio-emit: not published: %s\n", em->last_error().c_str());
      return 4;
    }
    return 0;
#else
    std::fprintf(stderr, "shmio-emit: --redis: built without hiredis (libhiredis-dev)\n");
    return 2;
#endif
  }
  try {
    // One record and exit: the ring's pages are not all faulted in and touched first.
    shmio::cluster::Emitter em(ring, "shmio-emit", /*prefault=*/false);
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
