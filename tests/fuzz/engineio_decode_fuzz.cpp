// libFuzzer target: the Engine.IO decoders must accept or refuse any input without crashing,
// and whatever they accept must re-encode to something they decode to the same packets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shmio/engineio/packet.hpp"

using namespace shmio::engineio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Packet p;
  if (decode_text(in, p) == DecodeError::none) {
    std::string again;
    append_to_payload(again, p);
    Packet q;
    if (decode_text(again, q) != DecodeError::none || !(q == p)) std::abort();
  }
  std::vector<Packet> packets;
  if (decode_payload(in, packets, 64) == DecodeError::none) {
    std::string body;
    for (const Packet& x : packets) append_to_payload(body, x);
    std::vector<Packet> back;
    if (decode_payload(body, back, 64) != DecodeError::none || back != packets) std::abort();
  }
  (void)decode_binary({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
