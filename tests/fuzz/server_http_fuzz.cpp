// libFuzzer target: one client's bytes into a real Server over loopback (Engine.IO v4, Socket.IO
// v5): the HTTP request parser, the routes and the client bundle's files, polling handshakes, GETs
// and POSTs, a WebSocket upgrade and the frames after it (with permessage-deflate where the bytes
// offer it). Whatever the bytes, the server must not crash, must not throw out of its io_context
// (its thread would end the process), and must go on answering: after each input a fresh
// handshake must get its session id (a server wedged by the input aborts, that input saved). Each
// input is one connection, written whole and then half-closed; "@@" in it is replaced by the id of
// the session handshaken after the input before, so that POSTs, long-polls and upgrades reach a
// live session. The server's heartbeat is short (100 ms), so sessions an input leaves behind end
// soon.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "shmio/socketio/server.hpp"

namespace sio = shmio::socketio;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::optional<sio::Server> server;
  std::uint16_t port = 0;
  std::thread thread;

  Fixture() {
    sio::ServerOptions o;
    o.engine.ping_interval = 100ms;
    o.engine.ping_timeout = 100ms;
    o.engine.upgrade_timeout = 200ms;
    o.engine.max_payload = 100000;
    o.connect_timeout = 300ms;
    o.connection_state_recovery = sio::RecoveryOptions{};
    o.per_message_deflate = shmio::engineio::PerMessageDeflate{};  // (Beast's link, when offered)
    o.routes = [](const shmio::engineio::ServerOptions::HttpRequest& r)
        -> std::optional<shmio::engineio::ServerOptions::HttpResponse> {
      if (r.path == "/echo") return {{200, "text/plain", std::string(r.body), {{"X-Echo", "1"}}}};
      return std::nullopt;
    };
    // The client bundle's files (serve_client's, made here): the If-None-Match and
    // Accept-Encoding readers, HEAD and the compressed answers.
    auto files = std::make_shared<shmio::engineio::ServerOptions::ClientFiles>();
    files->etag = "\"4.8.4\"";
    files->files["socket.io.js"] = {"application/javascript; charset=utf-8",
                                    std::make_shared<const std::string>(3000, 'j')};
    o.client_files = files;
    server.emplace(io, o);
    server->on_connection([this](const sio::SocketPtr& s) {
      s->on("echo", [](const sio::SocketPtr& self, sio::Args a, sio::Ack ack) {
        if (ack)
          ack(std::move(a));
        else
          self->emit("echo", std::move(a));
      });
      s->on("join", [](const sio::SocketPtr& self, sio::Args a, sio::Ack) {
        if (!a.values.empty() && a.values[0].is_string())
          self->join(std::string(a.values[0].get_string()));
      });
      s->on("all", [this](const sio::SocketPtr&, sio::Args a, sio::Ack) {
        server->emit("all", std::move(a));
      });
    });
    port = server->listen("127.0.0.1", 0);
    // (An exception out of run() ends this thread, and so the process: a finding.)
    thread = std::thread([this] { io.run(); });
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture;  // (never destroyed: the fuzzer exits with it running)
  return *f;
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{0, 100000};  // each read waits at most 100 ms
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Writes `out`, half-closes, and reads until the server closes, a read waits 100 ms, `until`
// is seen, or 1 MiB came.
std::string talk(std::uint16_t port, std::string_view out, std::string_view until = {}) {
  std::string in;
  const int fd = connect_to(port);
  if (fd < 0) return in;
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n = ::send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[16384];
  while (in.size() < (1u << 20)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
    if (!until.empty() && in.find(until) != std::string::npos) break;
  }
  ::close(fd);
  return in;
}

// A polling handshake's session id; empty if none came.
std::string handshake(std::uint16_t port) {
  const std::string in = talk(port,
                              "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
                              "Host: fuzz\r\nConnection: close\r\n\r\n",
                              "\"upgrades\"");
  const std::size_t at = in.find("\"sid\":\"");
  if (in.rfind("HTTP/1.1 200", 0) != 0 || at == std::string::npos) return {};
  const std::size_t from = at + 7, to = in.find('"', from);
  return to == std::string::npos ? std::string() : in.substr(from, to - from);
}

// The server still answers: a fresh session's id (a few tries: a handshake may meet a moment's
// load), or abort, blaming the input just run.
std::string alive_or_abort(std::uint16_t port) {
  std::string sid;
  for (int i = 0; i < 20 && sid.empty(); ++i) sid = handshake(port);
  if (sid.empty()) {
    std::fprintf(stderr, "server_http_fuzz: the server no longer answers a handshake\n");
    std::abort();
  }
  return sid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  // (The session of the handshake after the last input: checked after each, so that a wedge is
  // blamed on the input that made it.)
  static std::string sid = alive_or_abort(f.port);
  std::string in(reinterpret_cast<const char*>(data), size);
  for (std::size_t at = 0; (at = in.find("@@", at)) != std::string::npos; at += sid.size())
    in.replace(at, 2, sid);
  (void)talk(f.port, in);
  sid = alive_or_abort(f.port);
  return 0;
}
