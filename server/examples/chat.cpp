// shmio-chat: the Socket.IO tutorial's chat (apps/chat.hpp) as a program of its own, on shmio's
// public API only. One process, or a cluster with --workers N; every flag of `shmio --help`.
//
//   shmio-chat [--chat-dir DIR] [shmio's flags]     then open http://127.0.0.1:3000/ twice
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/chat.hpp"

int main(int argc, char** argv) {
  namespace chat = shmio::examples::chat;
  // --chat-dir (this program's own flag) taken out with its value first, and the rest given to
  // parse_args; a flag's value is passed over when looking for --help ("--chat-dir -h" and
  // "--ring -h" name a directory and a ring: each printed the help before 2026-12-06).
  std::vector<char*> rest{argv[0]};
  std::string dir = chat::default_dir();
  bool helped = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--chat-dir" && i + 1 < argc) {
      // (A value, not the next option, as parse_args rules for its own flags.)
      if (std::string_view(argv[i + 1]).rfind("--", 0) == 0) {
        std::fprintf(stderr, "shmio-chat: --chat-dir needs a value (got %s)\n", argv[i + 1]);
        return 2;
      }
      dir = argv[++i];
      if (dir.empty()) {  // (said as a missing index.html before 2026-12-05)
        std::fprintf(stderr, "shmio-chat: --chat-dir must not be empty\n");
        return 2;
      }
      continue;
    }
    rest.push_back(argv[i]);
    if (shmio::flag_takes_value(a) && i + 1 < argc) {
      rest.push_back(argv[++i]);
    } else if ((a == "--help" || a == "-h") && !std::exchange(helped, true)) {
      // (This line, then shmio's usage, which parse_args prints and stops at.)
      std::fputs("usage: shmio-chat [--chat-dir DIR] [shmio's flags, below]\n", stdout);
    }
  }
  shmio::ServeOptions options;
  chat::defaults(options);  // the app's settings first: the flags override them
  const shmio::ParseResult parsed =
      shmio::parse_args(static_cast<int>(rest.size()), rest.data(), options, /*allow_rest=*/true);
  if (parsed.status != shmio::ParseResult::ok) return parsed.exit_code();
  if (!parsed.rest.empty()) {
    std::fprintf(stderr, "shmio-chat: unknown or incomplete option %s\n", parsed.rest[0].c_str());
    return 2;
  }
  if (!chat::load(options.server, dir)) return 1;
  return shmio::serve(std::move(options), chat::setup);
}
