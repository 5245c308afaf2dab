// libFuzzer target: the MessagePack decoder of the Redis protocols (cluster/msgpack.hpp) must
// refuse any malformed input without reading out of bounds or recursing without bound, and what it
// accepts must re-encode into bytes that decode and re-encode to the same bytes again (the first
// round may differ: non-canonical forms, and maps shaped like placeholders, as in
// socket.io-parser).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shmio/cluster/msgpack.hpp"

using namespace shmio::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto d = msgpack::decode(in);
  if (!d) return 0;
  const std::string again = msgpack::encode(d->value, d->attachments);
  auto e = msgpack::decode(again);
  if (!e) std::abort();
  if (msgpack::encode(e->value, e->attachments) != again) std::abort();
  return 0;
}
