// libFuzzer target: the MessagePack decoder of the Redis protocols (cluster/msgpack.hpp), and the
// classic adapter's message decoders over it (cluster/redis_wire.hpp), must
// refuse any malformed input without reading out of bounds or recursing without bound, and what it
// accepts must re-encode into bytes that decode and re-encode to the same bytes again (the first
// round may differ: non-canonical forms, and maps shaped like placeholders, as in
// socket.io-parser).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shmio/cluster/msgpack.hpp"
#include "shmio/cluster/redis_wire.hpp"

using namespace shmio::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // The classic Redis adapter's messages on top of it (JSON or MessagePack): refused, never a
  // crash; a broadcast accepted re-encodes into one that is accepted again.
  (void)fleet::decode_classic_request(in);
  (void)fleet::decode_classic_response(in);
  // The request-id peeks read any bytes within their bound, and what they tell lies in the input.
  for (const auto id : {fleet::peek_classic_request_id(in), fleet::peek_cluster_response_id(in)})
    if (id && (id->empty() || id->data() < in.data() || id->data() + id->size() > in.data() + size))
      std::abort();
  if (auto m = fleet::decode_cluster_message(in)) {  // the sharded adapter's envelope
    if (!fleet::decode_cluster_message(fleet::encode_cluster_message(*m))) std::abort();
  }
  if (auto b = fleet::decode_classic_broadcast(in)) {
    if (!fleet::decode_classic_broadcast(
            fleet::encode_classic_broadcast(b->uid, b->packet, b->opts)))
      std::abort();
  }
  auto d = msgpack::decode(in);
  if (!d) return 0;
  const std::string again = msgpack::encode(d->value, d->attachments);
  auto e = msgpack::decode(again);
  if (!e) std::abort();
  if (msgpack::encode(e->value, e->attachments) != again) std::abort();
  return 0;
}
