// CutLog: what each worker of a cluster with a ring per worker had delivered, logged in shared
// memory beside the shared ring so that any worker can recover a session that another delivered
// (docs/ring-per-worker.md, "Connection state recovery over N rings").
//
// One log per worker; each entry a cut: one position per ring (the workers' rings, then the shared
// one) and a tag the caller chooses. A worker appends an entry before it delivers a run of records
// from one ring, and a recovering socket's offset names the entry it was delivered under; entries
// are numbered from 0 for the life of the store (a restarted worker goes on from its
// predecessor's count), and the log keeps the last `entries` of them.
//
// Layout (/dev/shm/shmio-cuts.<ring>.<the ring's creation time in hex>): a 4 KiB header (magic,
// version, state, ring id, then logs, columns, entries); then per log a 64-byte head (the number
// of the next entry) and `entries` entries of (2 + columns) 8-byte words each: a stamp (the entry's
// number + 1 once wholly written, 0 while being written), the tag, the positions.
//
// Concurrency: one writer per log at a time (its worker; a successor after it died), any number
// of readers in any process. A reader sees an entry whole or not at all (seqlock: the stamp read
// before and after its words); an entry overwritten by a later lap is gone (read() says so).
// A writer killed mid-append leaves that entry unreadable; the next append writes it again.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shmio/shm/result.hpp"

namespace shmio::shm {

struct CutLogConfig {
  std::uint32_t logs = 1;     // 1..1024: one per worker
  std::uint32_t columns = 2;  // 1..1025: the positions in a cut (the rings: workers + 1)
  // Entries kept per log, 16..2^28. The default with 3 columns (two workers) is 10 MiB a log.
  std::uint32_t entries = 1u << 18;
  unsigned mode = 0600;
};

class CutLog {
 public:
  // The log of the ring `ring` created at `ring_id` (its header's creation_time_ns): created if
  // absent (with `config`), attached otherwise (its own geometry wins: see logs(), columns()).
  static Result<CutLog> open(const std::string& ring, std::uint64_t ring_id,
                             const CutLogConfig& config = {});
  // Removes every cut log of the ring `ring` (what a supervisor does with the ring).
  // (With `ring_id`: only the one of the ring created then, the others of that name left.)
  static void remove_all(const std::string& ring,
                         std::optional<std::uint64_t> ring_id = std::nullopt);
  // Bytes of shared memory a log of this geometry takes.
  static std::uint64_t bytes_for(const CutLogConfig& config) noexcept;

  CutLog(CutLog&& o) noexcept;
  CutLog& operator=(CutLog&& o) noexcept;
  CutLog(const CutLog&) = delete;
  CutLog& operator=(const CutLog&) = delete;
  ~CutLog();

  std::uint32_t logs() const noexcept;
  std::uint32_t columns() const noexcept;
  std::uint32_t entries() const noexcept;

  // Appends an entry to log `log`: `cut` must hold columns() positions. Returns its number, or
  // nullopt if `log` or the cut's size is out of range. One writer per log at a time.
  std::optional<std::uint64_t> append(std::uint32_t log, std::uint32_t tag,
                                      std::span<const std::uint64_t> cut);
  // The number the next append to `log` gets (0 for an unknown log).
  std::uint64_t next(std::uint32_t log) const noexcept;

  struct Entry {
    std::uint32_t tag = 0;
    std::vector<std::uint64_t> cut;
  };
  // Entry `number` of log `log`, if it was wholly written and not overwritten since.
  std::optional<Entry> read(std::uint32_t log, std::uint64_t number) const;

  // What an inspector shows (shm-inspect cuts): the logs of ring `ring` created at `ring_id`,
  // mapped read-only (never created, never written); Errc::not_found if there are none. Per log,
  // the next entry's number (entries held: the last min(next, entries)) and the last entry.
  struct Summary {
    std::uint32_t logs = 0, columns = 0, entries = 0;
    struct Log {
      std::uint64_t next = 0;
      std::optional<Entry> last;  // (none yet, or being rewritten at that moment)
    };
    std::vector<Log> per_log;
  };
  static Result<Summary> summarize(const std::string& ring, std::uint64_t ring_id);

 private:
  struct Map;
  explicit CutLog(Map* m) noexcept : m_(m) {}
  Map* m_ = nullptr;
};

}  // namespace shmio::shm
