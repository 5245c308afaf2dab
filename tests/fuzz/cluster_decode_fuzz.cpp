// libFuzzer target: the cluster's ring message decoders must refuse any malformed record without
// reading out of bounds, and what they accept must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "shmio/cluster/wire.hpp"

using namespace shmio::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  if (auto b = read_broadcast(in)) {
    shmio::socketio::BroadcastOptions opts;
    opts.flags.timeout_ms = b->timeout_ms;
    for (auto r : b->rooms) opts.rooms.emplace(r);
    for (auto r : b->except) opts.except.emplace(r);
    std::vector<shmio::socketio::Binary> att;
    for (auto a : b->attachments) att.push_back(std::make_shared<const std::string>(a));
    // Duplicate room names collapse in a set: only then may the re-encoding be shorter.
    if (opts.rooms.size() == b->rooms.size() && opts.except.size() == b->except.size()) {
      std::vector<std::byte> out(broadcast_size(b->nsp, opts, b->frame.size(), att));
      write_broadcast(out, b->nsp, opts, b->flags, b->ack_id, b->frame, att);
      // (A version 1 record, without the ack timeout, is written again as version 2: 4 bytes more.)
      if (out.size() != size + (data[0] == 1 ? 4 : 0)) std::abort();
      auto again = read_broadcast(out);
      if (!again || again->frame != b->frame || again->ack_id != b->ack_id ||
          again->timeout_ms != b->timeout_ms)
        std::abort();
    }
  }
  if (auto m = read_message(in)) {
    const std::string out = write_message(m->body, m->blobs);
    auto again = read_message({reinterpret_cast<const std::byte*>(out.data()), out.size()});
    // (Doubles are not compared: Boost.JSON may round a long literal differently the second time.)
    if (!again || again->body.size() != m->body.size() || again->blobs.size() != m->blobs.size())
      std::abort();
  }
  return 0;
}
