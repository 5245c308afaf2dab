// Shared-memory objects that live beside a ring (the recovery session table, the workers' board):
// named <prefix><ring>.<the ring's creation time in hex>, created by the first process that opens
// one (sized by it) and attached by the others, removed with the ring. Private to shm/.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "shmio/shm/result.hpp"

namespace shmio::shm::detail {

struct Sidecar {
  std::byte* base = nullptr;
  std::size_t bytes = 0;
  bool created = false;  // this call created it: the caller lays it out, then says it is ready
  int lock_fd = -1;      // (created: holds the creation's lock until publish_sidecar)
};

std::string sidecar_name(const char* prefix, const std::string& ring, std::uint64_t ring_id);
// Creates the object with `bytes` (mode bits `mode`) or attaches to the existing one, waiting up
// to 2 s for its creator to size it (at least `least` bytes) and make it READY, and maps it
// whole. The creator holds an flock on it from its creation until publish_sidecar, which
// the kernel lets go if it dies: an object left unsized or not READY, never published (its
// identity unwritten, or its state PUBLISHING: publish_sidecar's first store), whose lock is free
// was left by a creator that died, and is removed (under that lock) and created anew (once). One
// whose creator still runs (stopped, say), or published once, is returned as it is (not sized:
// Errc::not_ready; not READY: check_sidecar says).
Result<Sidecar> open_sidecar(const std::string& name, std::uint64_t bytes, std::uint64_t least,
                             unsigned mode);
void unmap_sidecar(const Sidecar& s) noexcept;
// Maps an existing object read-only, whole (what an inspector does: never creates, never
// writes). Errc::not_found if there is none. Errc::permission_denied if it is not what ring
// `ring`'s cluster would have made: another owner than the ring's, or a mode open to more than
// the ring's (for a ring not there: this user, 0600). An object another user planted under the
// name, which the workers refuse, was shown as the cluster's (before 2026-12-04).
Result<Sidecar> map_sidecar_read_only(const std::string& name, const std::string& ring);

// The first bytes of every sidecar: what it is, for which ring, and whether its creator has laid
// it out (state READY, stored with release once everything else is written).
struct SidecarHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::atomic<std::uint32_t> state;
  std::uint64_t ring_id;
};
inline constexpr std::uint32_t kSidecarReady = 0x52454459;  // "REDY"
// Stored by publish_sidecar before the identity: a creator killed inside it leaves this, and its
// object is judged unfinished (made anew), not published (refused for the ring's life).
inline constexpr std::uint32_t kSidecarPublishing = 0x50554253;  // "PUBS"
// The creator: fills the header's identity (after laying out the rest) and says it is ready.
// (`sc`: the created object's; its creation lock is let go.)
void publish_sidecar(Sidecar& sc, SidecarHeader& h, std::uint64_t magic, std::uint32_t version,
                     std::uint64_t ring_id) noexcept;
// An opener: waits up to 2 s for READY, then checks the identity; nullptr if it is this ring's
// `what`, else why not.
const char* check_sidecar(const SidecarHeader& h, std::uint64_t magic, std::uint32_t version,
                          std::uint64_t ring_id, const char* what_not);
// Removes every object <prefix><ring>.<16 hex digits> (with `ring_id`: only that ring's).
void remove_sidecars(const char* prefix, const std::string& ring,
                     std::optional<std::uint64_t> ring_id = std::nullopt);

}  // namespace shmio::shm::detail
