// Prometheus text for /metrics: one helper that writes every series, and the merge that makes one
// worker's answer speak for the whole cluster (docs/cluster.md, "Metrics for the whole cluster").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmio::shm {
class WorkerBoard;
}

namespace shmio::cluster {

// One Prometheus text-format series with its HELP and TYPE lines, appended to `out` (every line
// of shmio's /metrics is written through this). `labels`: "" or "{k=\"v\",...}". A family with
// several series (labels) may be written with several calls: the merge keeps one HELP and TYPE.
void append_metric(std::string& out, const std::string& name, const char* type, const char* help,
                   std::uint64_t value, const std::string& labels = "");
// A histogram family: `bounds` ascending (the "le" labels), `counts` one per bound plus the
// count above the last (not cumulative: this writes the cumulative buckets), `sum` in the unit of
// the bounds times `scale` (e.g. microseconds written as seconds: scale 1e-6). `labels`: "" or
// "k=\"v\",..." (no braces).
void append_histogram(std::string& out, const std::string& name, const char* help,
                      const std::vector<std::uint64_t>& bounds,
                      const std::vector<std::uint64_t>& counts, std::uint64_t sum, double scale,
                      const std::string& labels = "");

// Merges the expositions of several workers (the first is this worker's) into one valid
// exposition: each family once (HELP and TYPE from the first that has them), with every worker's
// series, then, for each series that carries a `worker` label, the cluster total of that series
// over the workers as the same series with worker="all" (counters, gauges and histogram buckets,
// sums and counts alike) — except for the gauges that count distinct things each worker counts
// again (shmio_namespaces, shmio_namespace_rooms, shmio_rings): per worker only. A series without
// a worker label (a ring-wide figure every worker reads alike) is kept once, as the first
// exposition has it. Lines it cannot parse are dropped. An exposition's retired section
// (retired_counters) adds to the totals only.
std::string merge_expositions(const std::vector<std::string>& expositions);

// A worker's counters that outlive it. A restarted worker takes its predecessor's slot on the
// board, so the predecessor's counts would leave the cluster's totals, and a worker="all" counter
// would go down (Prometheus reads a fall as a reset). So each post carries, after the line
// kRetiredMarker, the counters (families of type counter or histogram) of every earlier process of
// its slot, as worker="all" series; the merge adds them to the totals only (no per-worker series),
// and a dead worker's post, until its successor's replaces it, counts by its retired_counters().
inline constexpr std::string_view kRetiredMarker = "# shmio-retired";
// The most bytes of carried counters a post holds by default: a quarter of a board slot (256 KiB),
// so that the process's own exposition keeps the rest. Beyond it the families that do not fit are
// left out (said once, at start), and their worker="all" totals fall by them.
inline constexpr std::size_t kRetiredBytes = 64 * 1024;
// The retired section that carries `post`'s counters (its own and those it carried) on: the marker,
// then each family's TYPE line and its worker="all" totals (to the last bit: 17 digits). At most
// `max_bytes`: whole families in their order, up to the first that does not fit (a histogram is
// never cut between its buckets); how many series were left out goes to `left_out`.
std::string retired_counters(std::string_view post, std::size_t max_bytes = kRetiredBytes,
                             std::size_t* left_out = nullptr);
// What a process taking over `slot` of `board` carries on: the retired section of the post the
// slot holds (its earlier processes' counters), "" if none; what does not fit is said on stderr
// as `who` ("shmio[w1]").
std::string take_over_counters(const shm::WorkerBoard& board, std::uint32_t slot, const char* who);
// The length of `text`'s longest prefix within `max_bytes` that ends before a family (at its
// HELP line, or its TYPE line where no HELP comes first), else at a line's end; all of it if it
// fits; 0 if no line does.
std::size_t family_prefix(std::string_view text, std::size_t max_bytes);
// `own` with `retired` after it, the retired section cut (whole families) where the two would
// not fit a post of `capacity` bytes (a post over it is refused whole: its series would leave
// every other worker's scrape); how many carried series were left out goes to `left_out`. Where
// `own` alone fills the post (an app's own series), its last families give way (family_prefix)
// to the carried section, up to a quarter of the post, and how many of its bytes were left out
// goes to `own_left_out`: before 2026-12-07 the carried section was dropped without a word, and
// every worker="all" total fell by the earlier processes' counts, for good at the next restart (a
// review).
std::string with_retired(std::string own, const std::string& retired, std::size_t capacity,
                         std::size_t* left_out = nullptr, std::size_t* own_left_out = nullptr);
// with_retired for a post of `who` ("shmio[w1]"): carried series it leaves out, and its own
// families cut for them, are said on stderr the first time (`said`: the process's own flag; a
// post is made every second).
std::string with_retired_said(std::string own, const std::string& retired, std::size_t capacity,
                              const char* who, bool& said);

// The value of the series `series` (its name and labels, exactly as written) in an exposition, or
// -1 if absent (e.g. a worker's open connections in its post on the board).
double exposition_value(std::string_view exposition, std::string_view series);

}  // namespace shmio::cluster
