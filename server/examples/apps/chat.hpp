// The Socket.IO tutorial's chat as a shmio app (docs/getting-started.md walks through a smaller
// one): serves index.html and the client bundle at /socket.io/socket.io.js (from the
// socket.io-client npm package that scripts/setup.sh installs in server/apps/chat), and
// broadcasts every "chat message" to everyone, binary attachments included; connection state
// recovery is on (a client that drops and comes back gets what it missed). Written only against
// shmio's public headers; run by examples/chat.cpp (shmio-chat) and `shmio --app chat`.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "shmio/serve.hpp"

// Where the page and the bundle are: the source tree's, or an installed shmio's share/shmio/chat
// (the build defines both; a program built elsewhere passes --chat-dir).
#ifndef SHMIO_CHAT_DIR
#define SHMIO_CHAT_DIR "."
#endif
#ifndef SHMIO_CHAT_INSTALL_DIR
#define SHMIO_CHAT_INSTALL_DIR "share/shmio/chat"
#endif

namespace shmio::examples::chat {

namespace sio = shmio::socketio;
namespace json = boost::json;

inline std::shared_ptr<const std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::make_shared<const std::string>(ss.str());
}

// The chat's files: the source tree's (a build run in place), else <prefix>/share/shmio/chat
// beside an installed binary's bin/.
inline std::string default_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(fs::path(SHMIO_CHAT_DIR) / "index.html", ec)) return SHMIO_CHAT_DIR;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return SHMIO_CHAT_DIR;
  const fs::path installed = exe.parent_path().parent_path() / SHMIO_CHAT_INSTALL_DIR;
  return fs::exists(installed / "index.html", ec) ? installed.string() : SHMIO_CHAT_DIR;
}

// The app's settings, before the command line's flags (which may override them).
inline void defaults(ServeOptions& options) {
  options.name = "chat";
  options.server.connection_state_recovery = sio::RecoveryOptions{};
}

// Loads the page once and points serve_client at the client bundle, unless the command line
// named one (--serve-client); false (with a message) if either is missing.
inline bool load(sio::ServerOptions& options, const std::string& dir) {
  auto page = read_file(dir + "/index.html");
  const std::string client = dir + "/node_modules/socket.io-client";
  const bool own_client = options.serve_client.empty() && !options.client_files;
  std::error_code ec;
  if (!page || (own_client && (!std::filesystem::exists(client + "/dist/socket.io.js", ec) ||
                               !std::filesystem::exists(client + "/package.json", ec)))) {
    if (own_client)
      std::fprintf(stderr,
                   "shmio: the chat needs %s/index.html and the socket.io-client package in\n"
                   "  %s/node_modules (run scripts/setup.sh, which runs npm ci there)\n",
                   dir.c_str(), dir.c_str());
    else
      std::fprintf(stderr, "shmio: the chat needs %s/index.html\n", dir.c_str());
    return false;
  }
  // The bundle at /socket.io/socket.io.js (and .min.js, the source maps), as socket.io's
  // serveClient serves it: with its version as ETag, gzipped for a browser.
  if (own_client) options.serve_client = client;
  options.static_files = [page](const std::string& path)
      -> std::optional<shmio::engineio::ServerOptions::StaticResponse> {
    if (path == "/" || path == "/index.html") return {{"text/html; charset=UTF-8", page}};
    return std::nullopt;
  };
  return true;
}

// Registers the handlers on every worker's server.
inline void setup(sio::Server& io, const WorkerInfo&) {
  io.on_connection([&io](const sio::SocketPtr& s) {
    s->on("chat message", [&io](const sio::SocketPtr&, sio::Args args, sio::Ack ack) {
      // Forward the message as it came, binary attachments included (none: nothing to send, but
      // a client waiting on its acknowledgement is answered all the same).
      if (!args.values.empty())
        io.emit("chat message", sio::Args(json::array{args.values[0]}, std::move(args.binaries)));
      if (ack) ack({});
    });
  });
}

}  // namespace shmio::examples::chat
