// An example app's main: its settings, then shmio's flags and environment, then serve().
#pragma once

#include <utility>

#include "shmio/serve.hpp"

namespace shmio::examples {

template <class Defaults, class Setup>
int run(int argc, char** argv, Defaults defaults, Setup setup) {
  ServeOptions options;
  defaults(options);  // the app's settings first: the flags override them
  const ParseResult parsed = parse_args(argc, argv, options);
  if (parsed.status != ParseResult::ok) return parsed.exit_code();
  return serve(std::move(options), std::move(setup));
}

}  // namespace shmio::examples
