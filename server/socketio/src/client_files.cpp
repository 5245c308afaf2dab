// socket.io's serveClient: the client bundle's files read from a socket.io-client package
// (load_client_files), served by the engine (engineio::ServerOptions::client_files).
#include <sys/stat.h>
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "shmio/socketio/server.hpp"

namespace shmio::socketio {

namespace {

// A regular file's whole content, at most `most` bytes; nullopt if it is not there (no such
// file); any other failure (not a regular file, unreadable, too large) throws with its reason.
std::optional<std::string> read_whole(const std::string& file, std::size_t most) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw std::invalid_argument(file + ": " + std::strerror(errno));
  }
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  struct stat st {};
  if (::fstat(::fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
    throw std::invalid_argument(file + ": not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > most)
    throw std::invalid_argument(file + ": " + std::to_string(st.st_size) + " bytes, more than " +
                                std::to_string(most) + " (kMaxClientFileBytes)");
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  const std::size_t n = std::fread(out.data(), 1, out.size(), f);
  if (n != out.size() || std::ferror(f) != 0) throw std::invalid_argument(file + ": read failed");
  return out;
}

}  // namespace

std::shared_ptr<const engineio::ServerOptions::ClientFiles> load_client_files(
    const std::string& dir) {
  if (dir.empty()) throw std::invalid_argument("serve_client: no directory given");
  std::string base = dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  // The bundle's directory and the package.json that says its version: a socket.io-client
  // package (dist/ beside package.json), socket.io's own copy of it (client-dist/ in the socket.io
  // package, tagged with socket.io's version, as socket.io tags it), or either bundle directory
  // itself (its parent's package.json).
  std::string dist, package;
  std::optional<std::string> main;
  for (const char* sub : {"/dist", "/client-dist", ""}) {
    main = read_whole(base + sub + "/socket.io.js", kMaxClientFileBytes);
    if (main) {
      dist = base + sub;
      package = *sub != '\0' ? base + "/package.json" : base + "/../package.json";
      break;
    }
  }
  if (!main)
    throw std::invalid_argument(
        "serve_client: " + dir +
        " holds no socket.io client bundle (dist/socket.io.js): give the socket.io-client "
        "package's directory, as npm installs it (node_modules/socket.io-client)");
  const std::optional<std::string> pkg = read_whole(package, kMaxClientFileBytes);
  if (!pkg)
    throw std::invalid_argument("serve_client: " + package +
                                " is missing: the bundle's version (its ETag) is read there");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(*pkg, ec);
  if (ec) throw std::invalid_argument("serve_client: " + package + " is not JSON: " + ec.message());
  const boost::json::string* version = nullptr;
  const boost::json::string* package_name = nullptr;
  if (v.is_object()) {
    if (const boost::json::value* ver = v.as_object().if_contains("version"))
      version = ver->if_string();
    if (const boost::json::value* n = v.as_object().if_contains("name"))
      package_name = n->if_string();
  }
  // (Another package's version would tag the bundle: a copy of it in an app's own directory,
  // tagged with the app's version, would be answered 304 after the bundle changed.)
  if (package_name == nullptr ||
      (*package_name != "socket.io-client" && *package_name != "socket.io"))
    throw std::invalid_argument("serve_client: " + package +
                                " is not socket.io-client's (nor socket.io's): its version would "
                                "not be the bundle's");
  // (The version goes into a header, quoted: a semver's characters only.)
  const bool plain = version != nullptr && !version->empty() && version->size() <= 64 &&
                     std::all_of(version->begin(), version->end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                              c == '+' || c == '_';
                     });
  if (!plain)
    throw std::invalid_argument("serve_client: " + package +
                                " has no version (a string of at most 64 letters, digits and "
                                ".-+_) to tag the bundle with");
  auto files = std::make_shared<engineio::ServerOptions::ClientFiles>();
  files->etag = "\"" + std::string(*version) + "\"";
  // The names socket.io serves: socket.io(.msgpack|.esm)?(.min)?.js(.map)?, those that exist.
  for (const char* kind : {"", ".msgpack", ".esm"})
    for (const char* min : {"", ".min"})
      for (const bool map : {false, true}) {
        const std::string name =
            std::string("socket.io") + kind + min + ".js" + (map ? ".map" : "");
        std::optional<std::string> body = name == "socket.io.js"
                                              ? std::move(main)
                                              : read_whole(dist + "/" + name, kMaxClientFileBytes);
        if (!body) continue;
        files->files.emplace(name, engineio::ServerOptions::ClientFiles::File{
                                       map ? "application/json; charset=utf-8"
                                           : "application/javascript; charset=utf-8",
                                       std::make_shared<const std::string>(std::move(*body))});
      }
  return files;
}

}  // namespace shmio::socketio
