#include "shmio/cluster/metrics.hpp"

#include "shmio/shm/board.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <unordered_map>
#include <utility>

namespace shmio::cluster {

void append_metric(std::string& out, const std::string& name, const char* type, const char* help,
                   std::uint64_t value, const std::string& labels) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + labels +
         " " + std::to_string(value) + "\n";
}

namespace {
// (A whole number as one, every digit, up to 2^53, where a double still counts by ones; past it
// the double's exact value (to 1e19; 17 significant digits beyond). Before 2026-12-04 whole numbers
// from 1e15 on were cut to 9 digits: a cluster's bytes-out total, about 9 days at 10 Gbit/s, moved
// in steps of MBs and fell below the sum of the workers' series.)
std::string number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= 9007199254740992.0)
    return std::to_string(static_cast<long long>(v));
  const bool whole = std::isfinite(v) && v == std::floor(v);
  char buf[40];
  std::snprintf(buf, sizeof buf,
                whole && std::fabs(v) < 1e19 ? "%.0f"
                : whole                      ? "%.17g"
                                             : "%.9g",
                v);
  return buf;
}
// A value to the last bit (17 significant digits), a whole number as one.
std::string exact(double v) {
  if (std::isfinite(v) && v == std::floor(v)) return number(v);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void append_histogram(std::string& out, const std::string& name, const char* help,
                      const std::vector<std::uint64_t>& bounds,
                      const std::vector<std::uint64_t>& counts, std::uint64_t sum, double scale,
                      const std::string& labels) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    out += name + "_bucket{" + labels + sep + "le=\"" +
           number(static_cast<double>(bounds[i]) * scale) + "\"} " + std::to_string(cumulative) +
           "\n";
  }
  if (counts.size() > bounds.size()) cumulative += counts[bounds.size()];
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(static_cast<double>(sum) * scale) + "\n";
  out += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

namespace {
struct Family {
  std::string help, type;
  std::vector<std::string> series;                // "name{labels} value" lines, in order
  std::vector<std::string> total_order;           // total series key -> first-seen order
  std::unordered_map<std::string, double> total;  // total series key -> sum
  std::unordered_map<std::string, bool> seen;     // series without a worker label, kept once
  void add_total(const std::string& key, double value) {
    auto [it, fresh] = total.try_emplace(key, 0.0);
    if (fresh) total_order.push_back(key);
    it->second += value;
  }
};

// Calls f with each line of `text` (without its newline) until f returns false.
template <class F>
void for_each_line(std::string_view text, F f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (!f(text.substr(pos, nl - pos))) return;
    pos = nl + 1;
  }
}

// The series key with its worker label's value replaced by "all" (empty if it has none, or if its
// labels do not parse). The labels are walked pair by pair, each value to its closing quote past
// escapes: a value may hold `worker="` itself (a namespace's name is a client's choice), and
// matching that text anywhere made "/{worker=" a key Prometheus refused, the whole scrape with
// it (before 2026-12-04).
std::string total_key(std::string_view key) {
  const std::size_t brace = key.find('{');
  if (brace == std::string_view::npos) return {};
  std::size_t at = brace + 1;
  while (at < key.size() && key[at] != '}') {
    const std::size_t eq = key.find('=', at);
    if (eq == std::string_view::npos || eq + 1 >= key.size() || key[eq + 1] != '"') return {};
    const std::string_view name = key.substr(at, eq - at);
    const std::size_t v = eq + 2;
    std::size_t end = v;
    while (end < key.size() && key[end] != '"') end += key[end] == '\\' ? 2 : 1;
    if (end >= key.size()) return {};
    if (name == "worker")
      return std::string(key.substr(0, v)) + "all" + std::string(key.substr(end));
    at = end + 1;
    if (at < key.size() && key[at] == ',') ++at;
  }
  return {};
}

// Whether `t` is an integer (a sample's timestamp: optional sign, digits) / a number strtod reads
// whole (a sample's value: NaN, +Inf and exponents included).
bool whole_integer(std::string_view t) {
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool whole_number(std::string_view t) {
  if (t.empty()) return false;
  const std::string text(t);
  char* end = nullptr;
  (void)std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// The lines of one exposition as the merge sees them: on_meta(name, 'H' or 'T', text) for a HELP
// or TYPE line; on_series(family, key, value, line, retired) for a series line that parses, with
// its family (the last TYPE's if its name is that family's or one of its histogram series', else
// a family of its own name) and whether it follows the retired marker. Other lines are dropped.
template <class Meta, class Series>
void walk_exposition(std::string_view text, Meta on_meta, Series on_series) {
  std::string current;  // the family of the last TYPE line
  bool retired = false;
  for_each_line(text, [&](std::string_view line) {
    if (line.empty()) return true;
    if (line == kRetiredMarker) {
      retired = true;
      return true;
    }
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) return true;
      const std::string name(rest.substr(0, sp));
      on_meta(name, line[2], rest.substr(sp + 1));
      if (line[2] == 'T') current = name;
      return true;
    }
    if (line[0] == '#') return true;
    const std::size_t sp = line.rfind(' ');
    if (sp == std::string_view::npos || sp == 0) return true;
    std::string_view key = line.substr(0, sp);
    std::string_view value_at = line.substr(sp + 1);
    // A sample's timestamp (`key value ms`, an app's exposition given to set_local_metrics):
    // dropped, the value before it taken (before 2026-12-07 the timestamp was summed as the value
    // and the value made part of the key; a review). (A label value holding spaces leaves no whole
    // number before the last space: its `"}` ends that word.)
    if (const std::size_t before = key.rfind(' '); before != std::string_view::npos && before > 0 &&
                                                   whole_integer(value_at) &&
                                                   whole_number(key.substr(before + 1))) {
      value_at = key.substr(before + 1);
      key = key.substr(0, before);
    }
    char* end = nullptr;
    const std::string value_text(value_at);
    const double value = std::strtod(value_text.c_str(), &end);
    if (end == value_text.c_str()) return true;
    const std::size_t name_end = std::min(key.find('{'), key.size());
    const std::string_view series_name = key.substr(0, name_end);
    std::string fam = current;
    if (fam.empty() || !(series_name == fam ||
                         (series_name.rfind(fam + "_", 0) == 0 && series_name.size() > fam.size())))
      fam = std::string(series_name);
    on_series(fam, key, value, line, retired);
    return true;
  });
}

// Gauges whose sum over workers means nothing: each worker counts distinct things that other
// workers count again (the same namespace, the same room, the same rings). Their worker="all"
// series made 2 namespaces of the one "/" on two workers, and the rings a ring per worker's
// cluster has, times its workers (before 2026-12-05).
// (shmio_descriptor_bound: each worker's own bound, not a capacity to add up; summed before
// 2026-12-06, its worker="all" series said twice a worker's bound for two; a review.)
// (shmio_ring_notifier_io_uring: a flag, 1 or 0; its sum said 2 for two workers, against its
// HELP, before 2026-12-06; a review.)
constexpr std::string_view kNoClusterTotal[] = {"shmio_namespaces", "shmio_namespace_rooms",
                                                "shmio_rings", "shmio_descriptor_bound",
                                                "shmio_ring_notifier_io_uring"};
bool has_cluster_total(std::string_view family) {
  return std::find(std::begin(kNoClusterTotal), std::end(kNoClusterTotal), family) ==
         std::end(kNoClusterTotal);
}
}  // namespace

std::string merge_expositions(const std::vector<std::string>& expositions) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  auto family = [&](const std::string& name) -> Family& {
    auto [it, fresh] = families.try_emplace(name);
    if (fresh) order.push_back(name);
    return it->second;
  };
  for (const std::string& text : expositions)
    walk_exposition(
        text,
        [&](const std::string& name, char what, std::string_view value) {
          Family& f = family(name);
          std::string& field = what == 'H' ? f.help : f.type;
          if (field.empty()) field = std::string(value);
        },
        [&](const std::string& fam, std::string_view key, double value, std::string_view line,
            bool retired) {
          Family& f = family(fam);
          if (retired) {  // (a retired counter: its key is already the total's)
            if (total_key(key) == key) f.add_total(std::string(key), value);
            return;
          }
          const std::string total = total_key(key);
          if (total.empty()) {  // no worker label: once
            if (f.seen.emplace(std::string(key), true).second) f.series.emplace_back(line);
            return;
          }
          f.series.emplace_back(line);
          if (has_cluster_total(fam)) f.add_total(total, value);
        });
  std::string out;
  for (const std::string& name : order) {
    const Family& f = families[name];
    if (f.series.empty() && f.total_order.empty()) continue;
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    if (!f.type.empty()) out += "# TYPE " + name + " " + f.type + "\n";
    for (const std::string& s : f.series) out += s + "\n";
    for (const std::string& k : f.total_order) out += k + " " + number(f.total.at(k)) + "\n";
  }
  return out;
}

std::string retired_counters(std::string_view post, std::size_t max_bytes, std::size_t* left_out) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  std::unordered_map<std::string, std::string> types;  // this post's TYPE lines
  walk_exposition(
      post,
      [&](const std::string& name, char what, std::string_view text) {
        if (what == 'T') types.try_emplace(name, std::string(text));
      },
      [&](const std::string& fam, std::string_view key, double value, std::string_view,
          bool retired) {
        const auto t = types.find(fam);
        if (t == types.end() || (t->second != "counter" && t->second != "histogram")) return;
        const std::string total = total_key(key);
        if (total.empty() || (retired && total != key)) return;
        auto [it, fresh] = families.try_emplace(fam);
        if (fresh) {
          order.push_back(fam);
          it->second.type = t->second;
        }
        it->second.add_total(total, value);
      });
  // Whole families (a histogram cut between its buckets would not be cumulative), each value to
  // the last bit (what is carried through many restarts must not be rounded at each). Over the
  // bound, the smallest families are kept first and a family that does not fit is left out alone,
  // in their order otherwise: before 2026-12-06 every family after the first that did not fit was
  // dropped, so per-namespace families that grow with each generation's names pushed out the
  // node's own small counters (shmio_broadcasts_*, shmio_ring_*), whose totals then fell (a
  // review).
  std::vector<std::string> parts(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Family& f = families[order[i]];
    parts[i] = "# TYPE " + order[i] + " " + f.type + "\n";
    for (const std::string& k : f.total_order) parts[i] += k + " " + exact(f.total.at(k)) + "\n";
  }
  std::vector<std::size_t> by_size(order.size());
  for (std::size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](std::size_t a, std::size_t b) { return parts[a].size() < parts[b].size(); });
  std::vector<bool> kept(order.size(), false);
  std::size_t size = kRetiredMarker.size() + 1, dropped = 0;
  for (const std::size_t i : by_size) {
    if (size + parts[i].size() > max_bytes) {
      dropped += families[order[i]].total_order.size();
      continue;
    }
    size += parts[i].size();
    kept[i] = true;
  }
  std::string out(kRetiredMarker);
  out += '\n';
  for (std::size_t i = 0; i < order.size(); ++i)
    if (kept[i]) out += parts[i];
  if (left_out != nullptr) *left_out = dropped;
  return out;
}

std::string take_over_counters(const shm::WorkerBoard& board, std::uint32_t slot, const char* who) {
  const auto old = board.read(slot);
  if (!old) return {};
  std::size_t left_out = 0;
  std::string carried = retired_counters(old->blob, kRetiredBytes, &left_out);
  if (left_out > 0)
    std::fprintf(stderr,
                 "%s: %zu counter series of earlier processes over %zu bytes are not carried on: "
                 "their worker=\"all\" totals fall by them\n",
                 who, left_out, kRetiredBytes);
  return carried;
}

std::size_t family_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  if (max_bytes == 0) return 0;
  const std::size_t last = max_bytes - 1;
  const std::size_t help = text.rfind("\n# HELP ", last), type = text.rfind("\n# TYPE ", last);
  std::size_t at = type;
  if (help != text.npos && (type == text.npos || help > type || text.find('\n', help + 1) == type))
    at = help;  // (a TYPE right after its family's HELP: the family starts at the HELP)
  if (at == text.npos) at = text.rfind('\n', last);
  return at == text.npos ? 0 : at + 1;
}

std::string with_retired(std::string own, const std::string& retired, std::size_t capacity,
                         std::size_t* left_out, std::size_t* own_left_out) {
  if (left_out != nullptr) *left_out = 0;
  if (own_left_out != nullptr) *own_left_out = 0;
  if (own.size() + retired.size() <= capacity) return own + retired;
  if (own.size() >= capacity) {
    if (retired.empty()) return own;  // (cut by the poster, and that is said)
    const std::size_t room = std::min(retired.size(), capacity / 4);
    const std::size_t keep = family_prefix(own, capacity - room);
    if (own_left_out != nullptr) *own_left_out = own.size() - keep;
    own.resize(keep);
  }
  return own + retired_counters(retired, capacity - own.size(), left_out);
}

std::string with_retired_said(std::string own, const std::string& retired, std::size_t capacity,
                              const char* who, bool& said) {
  std::size_t left_out = 0, own_left_out = 0;
  const std::size_t own_bytes = own.size();
  std::string post = with_retired(std::move(own), retired, capacity, &left_out, &own_left_out);
  if ((left_out > 0 || own_left_out > 0) && !std::exchange(said, true)) {
    if (own_left_out > 0)
      std::fprintf(stderr,
                   "%s: its metrics (%zu bytes) are more than its board post holds (%zu) beside "
                   "the counters carried from earlier processes: other workers' /metrics show "
                   "its first %zu bytes\n",
                   who, own_bytes, capacity, own_bytes - own_left_out);
    if (left_out > 0)
      std::fprintf(stderr,
                   "%s: %zu counter series carried from earlier processes do not fit its board "
                   "post (%zu bytes) beside its own: left out, their worker=\"all\" totals fall "
                   "by them\n",
                   who, left_out, capacity);
  }
  return post;
}

double exposition_value(std::string_view exposition, std::string_view series) {
  double value = -1;
  for_each_line(exposition, [&](std::string_view line) {
    if (line.size() <= series.size() || line.substr(0, series.size()) != series ||
        line[series.size()] != ' ')
      return true;
    value = std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    return false;
  });
  return value;
}

}  // namespace shmio::cluster
