// shmio: the launcher of the example apps (server/examples/apps/*.hpp, each also a program of its
// own: shmio-chat, shmio-bench-app, shmio-conformance).
//
//   shmio --app chat|conformance|bench [--chat-dir DIR] [shmio's flags]
//
// chat: the Socket.IO tutorial's chat (apps/chat.hpp). conformance: the configuration the
// Socket.IO v5 protocol document's test suite expects (apps/conformance.hpp). bench: the app every
// benchmarked server runs (apps/bench.hpp, docs/benchmarks.md).
//
// With --workers N the app runs as a cluster (issue #4): a supervisor process owns the ring and
// forks N workers, each pinned to a CPU, all serving the port (SO_REUSEPORT), joined by the ring
// (docs/cluster.md). Every worker also answers GET /health and GET /metrics (Prometheus text).
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "apps/bench.hpp"
#include "apps/chat.hpp"
#include "apps/conformance.hpp"

namespace {

const char* kUsage =
    "usage: shmio --app chat|conformance|bench [--chat-dir DIR] [shmio's flags, below]\n"
    "  chat         the Socket.IO tutorial's chat demo (open http://H:P/ in two browsers)\n"
    "  conformance  the Socket.IO protocol test suite's server configuration (pingInterval 300,\n"
    "               pingTimeout 200, connectTimeout 1000, CORS *; the flags override them)\n"
    "  bench        the benchmark app (join/leave/whoami/echo/publish/publish-others/count,\n"
    "               docs/benchmarks.md) and the tests' events, which let any client drive the\n"
    "               whole cluster: not for clients you do not control\n"
    "  --chat-dir D the chat's files (default: server/apps/chat of the source tree, or\n"
    "               share/shmio/chat of an installed shmio)\n";

}  // namespace

int main(int argc, char** argv) {
  // The launcher's own flags (--app, --chat-dir) are taken out first, each with its value, and
  // the rest given to parse_args: a value that looks like -h is its flag's ("--chat-dir -h",
  // "--ring -h"; each printed the help and exited 0 before 2026-12-06; a review).
  std::vector<char*> rest{argv[0]};
  std::string app, chat_dir;
  bool chat_dir_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if ((a == "--app" || a == "--chat-dir") && i + 1 < argc) {
      // (A value, not the next option, as parse_args rules for its own flags.)
      if (std::string_view(argv[i + 1]).rfind("--", 0) == 0) {
        std::fprintf(stderr, "shmio: %s needs a value (got %s)\n%s", argv[i], argv[i + 1], kUsage);
        return 2;
      }
      (a == "--app" ? app : chat_dir) = argv[++i];
      if (a == "--chat-dir") chat_dir_given = true;
      continue;
    }
    rest.push_back(argv[i]);
    if (shmio::flag_takes_value(a) && i + 1 < argc) {
      rest.push_back(argv[++i]);
      continue;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(shmio::usage_text(), stdout);
      // (Not written, a full disk or a closed pipe: 1, as "could not run"; 0 before 2026-12-05.)
      return std::fflush(stdout) != 0 || std::ferror(stdout) != 0 ? 1 : 0;
    }
  }
  // The app first: its settings are defaults that the flags override.
  namespace ex = shmio::examples;
  if (app != "chat" && app != "conformance" && app != "bench") {
    std::fprintf(stderr, "shmio: --app must be chat, conformance or bench\n%s", kUsage);
    return 2;
  }
  if (chat_dir_given) {
    // (The chat's alone, and a directory: given to another app, or empty, it was taken and did
    // nothing, or was said as a missing index.html; before 2026-12-05.)
    if (app != "chat") {
      std::fprintf(stderr, "shmio: --chat-dir is the chat app's (--app chat)\n");
      return 2;
    }
    if (chat_dir.empty()) {
      std::fprintf(stderr, "shmio: --chat-dir must not be empty\n");
      return 2;
    }
  } else {
    chat_dir = ex::chat::default_dir();
  }
  shmio::ServeOptions options;
  if (app == "conformance") {
    ex::conformance::defaults(options);
  } else if (app == "chat") {
    ex::chat::defaults(options);
  } else {
    ex::bench::defaults(options);
  }
  const shmio::ParseResult parsed =
      shmio::parse_args(static_cast<int>(rest.size()), rest.data(), options, /*allow_rest=*/true);
  if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();
  if (!parsed.rest.empty()) {
    std::fprintf(stderr, "shmio: unknown or incomplete option %s\n%s", parsed.rest[0].c_str(),
                 kUsage);
    return 2;
  }
  if (app == "chat" && !ex::chat::load(options.server, chat_dir)) return 1;
  return shmio::serve(std::move(options), app == "conformance" ? ex::conformance::setup
                                          : app == "chat"      ? ex::chat::setup
                                                               : ex::bench::setup);
}
