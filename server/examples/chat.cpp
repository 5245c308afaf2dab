// shmio-chat: the Socket.IO tutorial's chat (apps/chat.hpp) as a program of its own, on shmio's
// public API only. One process, or a cluster with --workers N; every flag of `shmio --help`.
//
//   shmio-chat [--chat-dir DIR] [shmio's flags]     then open http://127.0.0.1:3000/ twice
#include <cstdio>
#include <string>
#include <string_view>

#include "apps/chat.hpp"

int main(int argc, char** argv) {
  namespace chat = shmio::examples::chat;
  // (--help: this line, then shmio's usage, which parse_args prints and stops at.)
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::fputs("usage: shmio-chat [--chat-dir DIR] [shmio's flags, below]\n", stdout);
      break;
    }
  shmio::ServeOptions options;
  chat::defaults(options);  // the app's settings first: the flags override them
  const shmio::ParseResult parsed = shmio::parse_args(argc, argv, options, /*allow_rest=*/true);
  if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();
  std::string dir = chat::default_dir();
  for (std::size_t i = 0; i < parsed.rest.size(); ++i) {
    if (parsed.rest[i] == "--chat-dir" && i + 1 < parsed.rest.size()) {
      dir = parsed.rest[++i];
      if (dir.empty()) {  // (said as a missing index.html before 2026-12-05)
        std::fprintf(stderr, "shmio-chat: --chat-dir must not be empty\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "shmio-chat: unknown or incomplete option %s\n", parsed.rest[i].c_str());
      return 2;
    }
  }
  if (!chat::load(options.server, dir)) return 1;
  return shmio::serve(std::move(options), chat::setup);
}
