// The cluster's /metrics text (cluster/metrics.hpp): the merge of every worker's exposition into
// one valid exposition with cluster totals, the histogram writer, a series' value.
#include "shmio/cluster/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace shmio::cluster;

namespace {
std::string worker(int i, std::uint64_t conns, std::uint64_t lag) {
  const std::string w = "{worker=\"" + std::to_string(i) + "\"}";
  std::string out;
  append_metric(out, "shmio_connections", "gauge", "Open sessions.", conns, w);
  append_metric(out, "shmio_ns_sockets", "gauge", "Sockets.", conns,
                "{namespace=\"/\",worker=\"" + std::to_string(i) + "\"}");
  append_metric(out, "shmio_ns_sockets", "gauge", "Sockets.", 1,
                "{namespace=\"/chat\",worker=\"" + std::to_string(i) + "\"}");
  append_metric(out, "shmio_ring_lag_bytes", "gauge", "Lag.", lag, w);
  append_metric(out, "shmio_ring_claims_total", "counter", "Ring-wide.", 7);  // no worker label
  append_histogram(out, "shmio_turn_seconds", "Turns.", {100, 1000}, {1, 2, 3}, 5000, 1e-6,
                   "worker=\"" + std::to_string(i) + "\"");
  return out;
}
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(Metrics, HistogramsAreCumulativeWithTheirSumAndCount) {
  std::string out;
  append_histogram(out, "t", "Turns.", {100, 1000}, {1, 2, 3}, 5000, 1e-6, "worker=\"0\"");
  EXPECT_EQ(out,
            "# HELP t Turns.\n# TYPE t histogram\n"
            "t_bucket{worker=\"0\",le=\"0.0001\"} 1\n"
            "t_bucket{worker=\"0\",le=\"0.001\"} 3\n"
            "t_bucket{worker=\"0\",le=\"+Inf\"} 6\n"
            "t_sum{worker=\"0\"} 0.005\n"
            "t_count{worker=\"0\"} 6\n");
}

TEST(Metrics, MergeKeepsEachFamilyOnceWithEveryWorkersSeriesAndTotals) {
  const std::string m = merge_expositions({worker(0, 3, 10), worker(1, 4, 0), worker(2, 5, 1)});
  EXPECT_EQ(count(m, "# TYPE shmio_connections gauge\n"), 1u);
  EXPECT_EQ(count(m, "# HELP shmio_ns_sockets "), 1u);
  EXPECT_EQ(count(m, "# TYPE shmio_turn_seconds histogram\n"), 1u);
  // This worker's series first (a test reading the first match reads this worker's).
  EXPECT_LT(m.find("shmio_connections{worker=\"0\"} 3"),
            m.find("shmio_connections{worker=\"1\"} 4"));
  EXPECT_EQ(exposition_value(m, "shmio_connections{worker=\"all\"}"), 12);
  EXPECT_EQ(exposition_value(m, "shmio_ns_sockets{namespace=\"/\",worker=\"all\"}"), 12);
  EXPECT_EQ(exposition_value(m, "shmio_ns_sockets{namespace=\"/chat\",worker=\"all\"}"), 3);
  EXPECT_EQ(exposition_value(m, "shmio_ring_lag_bytes{worker=\"2\"}"), 1);
  EXPECT_EQ(exposition_value(m, "shmio_ring_lag_bytes{worker=\"all\"}"), 11);
  EXPECT_EQ(exposition_value(m, "shmio_turn_seconds_bucket{worker=\"all\",le=\"+Inf\"}"), 18);
  EXPECT_EQ(exposition_value(m, "shmio_turn_seconds_sum{worker=\"all\"}"), 0.015);
  EXPECT_EQ(exposition_value(m, "shmio_turn_seconds_count{worker=\"all\"}"), 18);
  // A series without a worker label (ring-wide): once, not summed.
  EXPECT_EQ(count(m, "shmio_ring_claims_total 7\n"), 1u);
  EXPECT_EQ(count(m, "shmio_ring_claims_total"), 3u);  // HELP, TYPE, the series
  // Every series line of a family follows its TYPE line (the family is contiguous).
  const std::size_t type = m.find("# TYPE shmio_ns_sockets");
  const std::size_t next = m.find("# HELP", type);
  EXPECT_LT(m.rfind("shmio_ns_sockets{", next), next);
  EXPECT_GT(m.find("shmio_ns_sockets{"), type);
}

// Gauges that count distinct things each worker counts again get no worker="all" total: one
// namespace "/" on two workers is not 2 namespaces (it was, before 2026-12-05), nor a room both
// have 2 rooms. Additive gauges still have theirs.
TEST(Metrics, GaugesOfDistinctThingsHaveNoClusterTotal) {
  std::vector<std::string> posts;
  for (int i = 0; i < 2; ++i) {
    const std::string w = "{worker=\"" + std::to_string(i) + "\"}";
    std::string out;
    append_metric(out, "shmio_namespaces", "gauge", "Namespaces.", 1, w);
    append_metric(out, "shmio_rings", "gauge", "Rings.", 3, w);
    append_metric(out, "shmio_namespace_rooms", "gauge", "Rooms.", 1,
                  "{namespace=\"/\",worker=\"" + std::to_string(i) + "\"}");
    append_metric(out, "shmio_descriptor_bound", "gauge", "Bound.", 19936, w);
    append_metric(out, "shmio_ring_notifier_io_uring", "gauge", "A flag.", 1, w);
    append_metric(out, "shmio_connections", "gauge", "Sessions.", 2, w);
    posts.push_back(out);
  }
  const std::string m = merge_expositions(posts);
  for (const char* family : {"shmio_namespaces", "shmio_rings", "shmio_namespace_rooms",
                             "shmio_descriptor_bound", "shmio_ring_notifier_io_uring"})
    EXPECT_EQ(count(m, std::string(family) + "{"), 2u) << family << ": each worker's series\n" << m;
  EXPECT_EQ(count(m, "worker=\"all\""), 1u) << "the connections' total only\n" << m;
  EXPECT_EQ(exposition_value(m, "shmio_connections{worker=\"all\"}"), 4);
}

// A total past 1e15 keeps every digit (it was cut to 9 before 2026-12-04: 1.2e+15 for these two,
// the cluster's bytes-out after about 9 days at 10 Gbit/s); past 2^53 it is the double's exact
// value.
TEST(Metrics, LargeTotalsKeepEveryDigit) {
  std::string a, b;
  append_metric(a, "bytes_total", "counter", "Bytes.", 600000000000001ULL, "{worker=\"0\"}");
  append_metric(b, "bytes_total", "counter", "Bytes.", 600000000000002ULL, "{worker=\"1\"}");
  const std::string m = merge_expositions({a, b});
  EXPECT_NE(m.find("bytes_total{worker=\"all\"} 1200000000000003\n"), std::string::npos) << m;
  std::string c, d;
  append_metric(c, "big_total", "counter", "Big.", 1ULL << 60, "{worker=\"0\"}");
  append_metric(d, "big_total", "counter", "Big.", 1ULL << 60, "{worker=\"1\"}");
  const std::string big = merge_expositions({c, d});
  EXPECT_NE(big.find("big_total{worker=\"all\"} 2305843009213693952\n"), std::string::npos) << big;
}

TEST(Metrics, MergeDropsWhatItCannotParseAndAWorkerLabelOnlyAsALabel) {
  const std::string m = merge_expositions(
      {"# TYPE a counter\na{worker=\"0\"} 1\ngarbage\na{worker=\"0\"} not-a-number\n",
       "# TYPE a counter\na{worker=\"1\"} 2\nb{networker=\"x\"} 5\n", ""});
  EXPECT_EQ(exposition_value(m, "a{worker=\"all\"}"), 3);
  EXPECT_EQ(m.find("garbage"), std::string::npos);
  EXPECT_EQ(m.find("not-a-number"), std::string::npos);
  EXPECT_EQ(exposition_value(m, "b{networker=\"x\"}"), 5);
  EXPECT_EQ(m.find("networker=\"all\""), std::string::npos) << "not a worker label";
  EXPECT_EQ(exposition_value(m, "missing"), -1);
  EXPECT_EQ(merge_expositions({}), "");
  // A label value holding `worker="` (a namespace's name is a client's choice), escaped quotes
  // and backslashes included: only the worker label's value becomes "all" (before 2026-12-04 the
  // text inside the value was taken, and the key made Prometheus refuse the scrape).
  const std::string n =
      merge_expositions({"# TYPE x gauge\nx{namespace=\"/{worker=\",worker=\"0\"} 1\n"
                         "x{namespace=\"/a\\\",worker=\\\\\",worker=\"0\"} 4\n",
                         "# TYPE x gauge\nx{namespace=\"/{worker=\",worker=\"1\"} 2\n"});
  EXPECT_EQ(exposition_value(n, "x{namespace=\"/{worker=\",worker=\"all\"}"), 3) << n;
  EXPECT_EQ(exposition_value(n, "x{namespace=\"/a\\\",worker=\\\\\",worker=\"all\"}"), 4) << n;
  EXPECT_EQ(n.find("\"all\"0"), std::string::npos) << n;
  // Samples with timestamps (an app's own exposition may have them): the value is summed, the
  // timestamp dropped from the total (before 2026-12-07 the timestamps were summed and each
  // worker's value made a key of its own).
  const std::string ts =
      merge_expositions({"# TYPE app_x_total counter\napp_x_total{worker=\"0\"} 5 1700000000000\n"
                         "app_y{l=\"a 1\",worker=\"0\"} 2\n",
                         "# TYPE app_x_total counter\napp_x_total{worker=\"1\"} 7 1700000000001\n"
                         "app_y{l=\"a 1\",worker=\"1\"} 3\n"});
  EXPECT_EQ(exposition_value(ts, "app_x_total{worker=\"all\"}"), 12) << ts;
  EXPECT_EQ(count(ts, "worker=\"all\""), 2u) << ts;
  EXPECT_EQ(exposition_value(ts, "app_y{l=\"a 1\",worker=\"all\"}"), 5) << ts;
  // Labels that do not parse (no closing quote): no total, the line kept once.
  const std::string bad = merge_expositions({"y{worker=\"0} 1\n", "y{worker=\"0} 1\n"});
  EXPECT_EQ(bad.find("all"), std::string::npos) << bad;
}

// A worker's counters outlive it (retired_counters): a restarted worker's post carries its
// predecessors' counters and histograms (not its gauges, nor series without a worker label) as
// worker="all" series, which the merge adds to the totals only.
TEST(Metrics, RetiredCountersCarryCountersAndHistogramsOnlyAsTotals) {
  std::string before = worker(1, 4, 9);
  append_metric(before, "shmio_msgs_total", "counter", "Messages.", 40,
                "{namespace=\"/\",worker=\"1\"}");
  const std::string r = retired_counters(before);
  EXPECT_EQ(r.rfind(std::string(kRetiredMarker) + "\n", 0), 0u) << r;
  EXPECT_EQ(exposition_value(r, "shmio_msgs_total{namespace=\"/\",worker=\"all\"}"), 40);
  EXPECT_EQ(exposition_value(r, "shmio_turn_seconds_bucket{worker=\"all\",le=\"+Inf\"}"), 6);
  EXPECT_EQ(exposition_value(r, "shmio_turn_seconds_count{worker=\"all\"}"), 6);
  EXPECT_EQ(r.find("shmio_connections"), std::string::npos) << "a gauge is not carried";
  EXPECT_EQ(r.find("shmio_ring_lag_bytes"), std::string::npos);
  EXPECT_EQ(r.find("shmio_ring_claims_total"), std::string::npos) << "no worker label: ring-wide";
  EXPECT_EQ(r.find("worker=\"1\""), std::string::npos);

  // Its successor (worker 1 again, fresh counts) posts its own figures with them.
  std::string after = worker(1, 2, 0);
  append_metric(after, "shmio_msgs_total", "counter", "Messages.", 5,
                "{namespace=\"/\",worker=\"1\"}");
  const std::string m = merge_expositions({worker(0, 3, 10), after + r});
  EXPECT_EQ(exposition_value(m, "shmio_msgs_total{namespace=\"/\",worker=\"1\"}"), 5);
  EXPECT_EQ(exposition_value(m, "shmio_msgs_total{namespace=\"/\",worker=\"all\"}"), 45);
  EXPECT_EQ(exposition_value(m, "shmio_turn_seconds_count{worker=\"1\"}"), 6);
  EXPECT_EQ(exposition_value(m, "shmio_turn_seconds_count{worker=\"all\"}"), 18);
  EXPECT_EQ(exposition_value(m, "shmio_connections{worker=\"all\"}"), 5) << "gauges: the living";
  EXPECT_EQ(count(m, "# TYPE shmio_msgs_total counter\n"), 1u);
  EXPECT_EQ(count(m, "shmio_msgs_total{namespace=\"/\",worker=\"all\"}"), 1u);
  EXPECT_EQ(m.find(kRetiredMarker), std::string::npos);

  // A third process of the slot carries both earlier ones' counts (the retired section's too).
  const std::string r2 = retired_counters(after + r);
  EXPECT_EQ(exposition_value(r2, "shmio_msgs_total{namespace=\"/\",worker=\"all\"}"), 45);
  EXPECT_EQ(exposition_value(r2, "shmio_turn_seconds_count{worker=\"all\"}"), 12);
  EXPECT_EQ(count(r2, "# TYPE shmio_msgs_total counter\n"), 1u);

  // A family that only a dead predecessor had still shows, as its total.
  const std::string lone = merge_expositions({worker(0, 3, 10), r});
  EXPECT_EQ(exposition_value(lone, "shmio_msgs_total{namespace=\"/\",worker=\"all\"}"), 40);
  EXPECT_EQ(count(lone, "# TYPE shmio_msgs_total counter\n"), 1u);
  EXPECT_EQ(count(lone, "# HELP shmio_msgs_total"), 0u) << "a TYPE line alone: valid";
}

// The retired section's bound: whole families in their order, up to the first that does not
// fit (a histogram is never cut between its buckets); what was left out is counted.
TEST(Metrics, RetiredCountersStayWithinTheirBoundInWholeFamilies) {
  std::string post;
  for (int i = 0; i < 40; ++i)
    append_metric(post, "shmio_f" + std::to_string(i) + "_total", "counter", "A family.", 1,
                  "{worker=\"0\"}");
  append_histogram(post, "shmio_turn_seconds", "Turns.", {100, 1000}, {1, 2, 3}, 5000, 1e-6,
                   "worker=\"0\"");
  std::size_t left_out = 0;
  const std::string all = retired_counters(post, SIZE_MAX, &left_out);
  EXPECT_EQ(left_out, 0u);
  EXPECT_EQ(exposition_value(all, "shmio_turn_seconds_count{worker=\"all\"}"), 6);
  // A bound the histogram (the last family) does not fit in: none of its series is carried.
  const std::size_t bound = all.size() - 10;
  const std::string r = retired_counters(post, bound, &left_out);
  EXPECT_LE(r.size(), bound);
  EXPECT_EQ(left_out, 5u) << "three buckets, the sum and the count";
  EXPECT_EQ(r.find("shmio_turn_seconds"), std::string::npos) << "a histogram cut: " << r;
  EXPECT_EQ(r, all.substr(0, r.size())) << "a prefix of the whole, cut between families";
  // Smaller: the smallest families, whole.
  const std::string few = retired_counters(post, 400, &left_out);
  EXPECT_LE(few.size(), 400u);
  EXPECT_GT(left_out, 5u);
  EXPECT_EQ(few, all.substr(0, few.size()));
  EXPECT_EQ(exposition_value(few, "shmio_f0_total{worker=\"all\"}"), 1);
  // A large family (a namespace's, 100 long names) before small ones, over the bound: it alone is
  // left out, the small ones after it carried (before 2026-12-06 everything after it was dropped,
  // the node's own counters with it, and their totals fell).
  std::string wide;
  for (int i = 0; i < 100; ++i)
    append_metric(
        wide, "shmio_namespace_sockets_total", "counter", "Per namespace.", 1,
        "{worker=\"0\",namespace=\"/" + std::string(150, 'n') + std::to_string(i) + "\"}");
  append_metric(wide, "shmio_broadcasts_published_total", "counter", "Published.", 123456,
                "{worker=\"0\"}");
  append_metric(wide, "shmio_recoveries_total", "counter", "Recovered.", 42, "{worker=\"0\"}");
  const std::string kept = retired_counters(wide, 4096, &left_out);
  EXPECT_LE(kept.size(), 4096u);
  EXPECT_EQ(left_out, 100u) << kept;
  EXPECT_EQ(kept.find("shmio_namespace_sockets_total"), std::string::npos);
  EXPECT_EQ(exposition_value(kept, "shmio_broadcasts_published_total{worker=\"all\"}"), 123456)
      << kept;
  EXPECT_EQ(exposition_value(kept, "shmio_recoveries_total{worker=\"all\"}"), 42);
}

// Carried values keep every bit: re-carried at each restart, a sum rounded to 9 digits could
// fall (Prometheus would read a reset).
TEST(Metrics, RetiredCountersCarryValuesToTheLastBit) {
  std::string post = "# TYPE t histogram\nt_sum{worker=\"0\"} 0.12345678912345678\n";
  const std::string r = retired_counters(post);
  const double carried = exposition_value(r, "t_sum{worker=\"all\"}");
  EXPECT_EQ(carried, 0.12345678912345678) << r;
  EXPECT_EQ(exposition_value(retired_counters(r), "t_sum{worker=\"all\"}"), carried);
}

// A post is refused whole over its slot's size (its series then leave every other worker's
// scrape): the carried counters are cut to fit beside the process's own exposition, in whole
// families, not the post lost.
TEST(Metrics, CarriedCountersAreCutToFitThePostBesideTheOwnExposition) {
  std::string earlier;
  for (int i = 0; i < 40; ++i)
    append_metric(earlier, "shmio_f" + std::to_string(i) + "_total", "counter", "A family.", 1,
                  "{worker=\"0\"}");
  const std::string carried = retired_counters(earlier);
  const std::string own = worker(0, 3, 10);
  std::size_t left_out = 99;
  EXPECT_EQ(with_retired(own, carried, SIZE_MAX, &left_out), own + carried)
      << "room for both: both whole";
  EXPECT_EQ(left_out, 0u);
  const std::size_t capacity = own.size() + carried.size() / 2;
  const std::string post = with_retired(own, carried, capacity, &left_out);
  EXPECT_LE(post.size(), capacity);
  EXPECT_EQ(post.substr(0, own.size()), own) << "its own exposition whole";
  const std::string kept = post.substr(own.size());
  EXPECT_EQ(kept, carried.substr(0, kept.size())) << "the first families, whole";
  EXPECT_EQ(exposition_value(kept, "shmio_f0_total{worker=\"all\"}"), 1);
  EXPECT_EQ(exposition_value(kept, "shmio_f39_total{worker=\"all\"}"), -1);
  std::size_t families_kept = 0;
  for (int i = 0; i < 40; ++i)
    families_kept +=
        exposition_value(kept, "shmio_f" + std::to_string(i) + "_total{worker=\"all\"}") == 1;
  EXPECT_EQ(left_out, 40 - families_kept) << "each family left out counted (one series each)";
  // Its own exposition alone fills the post: its last families give way to the carried
  // counters, up to a quarter of the post (before 2026-12-07 these were dropped without a word,
  // and the worker="all" totals fell by them; a review). Without carried counters, left as it is
  // (the poster cuts it, and says so).
  std::size_t own_left_out = 0, carried_left_out = 0;
  const std::string full =
      with_retired(own, carried, own.size() - 1, &carried_left_out, &own_left_out);
  EXPECT_LE(full.size(), own.size() - 1);
  EXPECT_GT(own_left_out, 0u);
  const std::string own_kept = own.substr(0, own.size() - own_left_out);
  EXPECT_EQ(full.substr(0, own_kept.size()), own_kept) << "its first families, whole";
  EXPECT_EQ(own_kept.size(), family_prefix(own, own_kept.size()));
  EXPECT_TRUE(own_kept.empty() || own_kept.back() == '\n');
  EXPECT_EQ(exposition_value(full.substr(own_kept.size()), "shmio_f0_total{worker=\"all\"}"), 1)
      << "the carried counters kept";
  EXPECT_EQ(with_retired(own, "", own.size() - 1), own);
  // A process's posts: the series left out said on its first post that leaves any out, once.
  bool said = false;
  testing::internal::CaptureStderr();
  EXPECT_EQ(with_retired_said(own, carried, SIZE_MAX, "shmio[w0]", said), own + carried);
  EXPECT_EQ(with_retired_said(own, carried, capacity, "shmio[w0]", said), post);
  EXPECT_EQ(with_retired_said(own, carried, capacity, "shmio[w0]", said), post);
  const std::string stderr_text = testing::internal::GetCapturedStderr();
  const std::string line = "shmio[w0]: " + std::to_string(left_out) + " counter series carried";
  EXPECT_NE(stderr_text.find(line), std::string::npos) << stderr_text;
  EXPECT_EQ(stderr_text.find(line), stderr_text.rfind(line)) << "said once: " << stderr_text;
}
