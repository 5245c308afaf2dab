// A consumer of the shmio libraries: a Socket.IO server with one event that answers with an ack,
// driven by a minimal Engine.IO polling client over a plain TCP socket in the same process.
// Prints "consumer: ok" and exits 0 when the server answered as Socket.IO does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "shmio/cluster/wire.hpp"
#include "shmio/serve.hpp"
#include "shmio/socketio/server.hpp"

namespace sio = shmio::socketio;

namespace {

// One HTTP/1.1 request on a fresh connection; returns the response body.
std::string http(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& body = {}) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("connect failed");
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (method == "POST") {
    req +=
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n";
  }
  req += "\r\n" + body;
  if (::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size()))
    throw std::runtime_error("send failed");
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto end = resp.find("\r\n\r\n");
  if (resp.compare(0, 12, "HTTP/1.1 200") != 0 || end == std::string::npos)
    throw std::runtime_error(method + " " + target + ": " + resp.substr(0, resp.find("\r\n")));
  return resp.substr(end + 4);
}

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

}  // namespace

int main() {
  boost::asio::io_context io;
  sio::Server server(io);
  server.of("/").on_connection([](const sio::SocketPtr& s) {
    s->on("hello", [](const sio::SocketPtr&, sio::Args args, sio::Ack ack) {
      if (ack) ack(sio::Args{"world", args.values.size()});
    });
  });
  const std::uint16_t port = server.listen("127.0.0.1", 0);
  std::thread loop([&io] { io.run(); });
  int rc = 0;
  try {
    // The cluster library links too: a ring position and its Socket.IO offset, both ways.
    expect(shmio::cluster::position_of(shmio::cluster::offset_of(4242)) == 4242u, "offset");
    // And the entry point's library: shmio's flags parsed into ServeOptions.
    shmio::ServeOptions so;
    const char* args[] = {"consumer", "--port", "8080", "--workers", "auto", "--recovery"};
    const auto parsed = shmio::parse_args(6, args, so);
    expect(parsed.status == shmio::ParseResult::ok && so.port == 8080 && so.workers == 0 &&
               so.server.connection_state_recovery.has_value(),
           "parse_args");
    // A switch turns a feature on without resetting what the program set, and a flag given on
    // the command line overrides the environment's variable, whose bad value is then not read.
    shmio::ServeOptions mine;
    mine.server.connection_state_recovery =
        shmio::socketio::RecoveryOptions{.max_disconnection_duration = std::chrono::minutes(10)};
    mine.server.per_message_deflate = shmio::engineio::PerMessageDeflate{.threshold = 0};
    ::setenv("SHMIO_READ_BUDGET", "abc", 1);
    ::setenv("SHMIO_RECOVERY", "maybe", 1);
    const char* switches[] = {"consumer", "--recovery", "--per-message-deflate", "--read-budget",
                              "8192"};
    const auto kept = shmio::parse_args(5, switches, mine);
    ::unsetenv("SHMIO_READ_BUDGET");
    ::unsetenv("SHMIO_RECOVERY");
    expect(kept.status == shmio::ParseResult::ok && mine.server.read_budget == 8192 &&
               mine.server.connection_state_recovery->max_disconnection_duration ==
                   std::chrono::minutes(10) &&
               mine.server.per_message_deflate->threshold == 0,
           "parse_args keeps the program's settings: " + kept.message);
    const std::string open = http(port, "GET", "/socket.io/?EIO=4&transport=polling");
    expect(open.rfind("0{\"sid\":\"", 0) == 0, "handshake: " + open);
    const std::string sid = open.substr(9, open.find('"', 9) - 9);
    const std::string q = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
    http(port, "POST", q, "40");
    const std::string connected = http(port, "GET", q);
    expect(connected.rfind("40{\"sid\":", 0) == 0, "CONNECT reply: " + connected);
    http(port, "POST", q, "421[\"hello\",1,2]");
    const std::string acked = http(port, "GET", q);
    expect(acked == "431[\"world\",2]", "ack: " + acked);
    std::printf("consumer: ok (port %u, session %s)\n", port, sid.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", e.what());
    rc = 1;
  }
  io.stop();
  loop.join();
  return rc;
}
