// WorkerBoard: a notice board in shared memory beside the ring, one slot per worker of a cluster.
// Each worker posts a blob (shmio posts its /metrics exposition) stamped with its identity and the
// time; any process reads every slot. So a scrape that lands on any worker can answer for all.
//
// Layout (/dev/shm/shmio-board.<ring>.<the ring's creation time>, version 2): a 4 KiB header
// (magic, version, state, slots, slot_bytes, ring id), then `slots` slots of two copies of
// `slot_bytes` each: seq (u64), pid, start time, posted_ns (CLOCK_MONOTONIC), length, then the
// blob. One writer per slot (the worker of that index; a restarted worker takes its slot over),
// any number of readers. Post n goes into copy n % 2, its seq odd (2n - 1) while it is written
// and 2n once complete; a reader takes the copy with the larger even seq, every word copied with
// relaxed atomics, and reads again if that copy's seq moved meanwhile (at most 8 times, then the
// slot is reported unreadable). So a reader never waits for a post being written, and a writer
// killed in the middle of a post leaves its post before readable (its successor carries its
// counters on from it: docs/cluster.md "Metrics for the whole cluster").
//
// Bounds: BoardConfig::slots (1024 by default, at most 65536: worker indexes 0..slots-1), posts of
// up to 256 KiB less a 64-byte header (a blob over it is refused: post returns false), so 512 KiB
// of shared memory a slot. The object is allocated whole when it is made (Boost.Interprocess's
// truncate calls posix_fallocate): a /dev/shm without room for it is an error at open, never a
// SIGBUS on a page touched later (WorkerBoard.ItsPagesAreAllocatedWhenItIsMade).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"

namespace shmio::shm {

struct BoardConfig {
  std::uint32_t slots = 1024;
  std::uint32_t slot_bytes =
      256 * 1024;  // one copy (a slot holds two): a multiple of 64, 4 KiB..16 MiB
  unsigned mode = 0600;
};

class WorkerBoard {
 public:
  static Result<WorkerBoard> open(const std::string& ring, std::uint64_t ring_id,
                                  const BoardConfig& config = {});
  // (With `ring_id`: only the one of the ring created then, the others of that name left.)
  static void remove_all(const std::string& ring,
                         std::optional<std::uint64_t> ring_id = std::nullopt);

  WorkerBoard(WorkerBoard&& o) noexcept;
  WorkerBoard& operator=(WorkerBoard&& o) noexcept;
  WorkerBoard(const WorkerBoard&) = delete;
  WorkerBoard& operator=(const WorkerBoard&) = delete;
  ~WorkerBoard();

  std::uint32_t slots() const noexcept;
  std::size_t capacity() const noexcept;  // the largest blob

  // Posts `blob` in slot `slot`, stamped with this process and the time. False if the slot is
  // out of range or the blob over capacity() (the slot then keeps its earlier post).
  bool post(std::uint32_t slot, std::string_view blob);

  struct Post {
    std::uint32_t slot = 0;
    ProcessIdentity who;
    std::uint64_t posted_ns = 0;  // CLOCK_MONOTONIC
    bool alive = false;           // its process is alive (liveness(who))
    std::string blob;
  };
  // Every slot ever posted to, in slot order (unreadable ones, still being written after 8 tries,
  // are left out).
  std::vector<Post> read_all() const;
  std::optional<Post> read(std::uint32_t slot) const;
  // Who posted last in `slot` and when, without its blob or a look at /proc (a watchdog's look,
  // once a second per slot); nullopt if never posted (or unreadable, as read()).
  struct Stamp {
    ProcessIdentity who;
    std::uint64_t posted_ns = 0;  // CLOCK_MONOTONIC
  };
  std::optional<Stamp> stamp(std::uint32_t slot) const;

 private:
  struct Map;
  explicit WorkerBoard(Map* m) noexcept : m_(m) {}
  template <class T, class Take>
  std::optional<T> latest(std::uint32_t slot, Take take) const;  // (read() and stamp())
  Map* m_ = nullptr;
};

}  // namespace shmio::shm
