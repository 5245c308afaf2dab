#include "shmio/cluster/node.hpp"

#include "cluster_adapter.hpp"
#include "handoff.hpp"
#include "node_impl.hpp"
#include "shmio/cluster/supervisor.hpp"

namespace shmio::cluster {

namespace {
// The recovery tables' sizes, as every worker and make_recovery_tables make them.
shm::SessionStoreConfig session_store_config(const NodeOptions& o) {
  shm::SessionStoreConfig sc;
  sc.slots = static_cast<std::uint32_t>(std::min<std::size_t>(o.max_sessions, 16777214));
  sc.slot_bytes = o.session_bytes;
  return sc;
}
// The logs' size: cut_log_entries per worker, fewer where the logs together would pass
// cut_log_bytes; never fewer than kMinCutLogEntries (a log of fewer keeps too little to recover
// from). A bound too small for that many is refused, said (before 2026-12-07 the logs were made
// at the minimum anyway, past the bound, without a word: 1 MiB asked with 512 workers made 34 MiB).
constexpr std::uint64_t kMinCutLogEntries = 16;
shm::Result<shm::CutLogConfig> cut_log_config(const NodeOptions& o) {
  shm::CutLogConfig cc;
  cc.logs = static_cast<std::uint32_t>(std::max(1, o.workers));
  cc.columns = cc.logs + 1;
  const std::uint64_t per_entry = 8ULL * (cc.columns + 2) * cc.logs;
  const std::uint64_t fit = o.cut_log_bytes / per_entry;
  if (fit < kMinCutLogEntries)
    return shm::Error{shm::Errc::invalid_argument,
                      std::to_string(cc.logs) + " workers' cut logs need at least " +
                          std::to_string((kMinCutLogEntries * per_entry + (1u << 20) - 1) >> 20) +
                          " MiB (" + std::to_string(kMinCutLogEntries) +
                          " entries each), more than the " + std::to_string(o.cut_log_bytes) +
                          " bytes allowed (cut_log_bytes, --cut-log-mb)"};
  cc.entries = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
      std::min<std::uint64_t>(o.cut_log_entries, fit), kMinCutLogEntries, 1u << 28));
  return cc;
}
}  // namespace

RecoveryTables make_recovery_tables(const NodeOptions& o, std::uint64_t ring_id) {
  using R = RecoveryTables::Refused;
  // (The cut logs' bound looked at first: refused, nothing is made.)
  const auto cc = cut_log_config(o);
  if (o.ring_per_worker && !cc) return {R::cut_log_bound, "the cut logs: " + cc.error().message};
  auto st = shm::SessionStore::open(o.ring, ring_id, session_store_config(o));
  if (!st) return {R::not_made, "the session table: " + st.error().message};
  if (o.ring_per_worker) {
    auto cl = shm::CutLog::open(o.ring, ring_id, cc.value());
    if (!cl) return {R::not_made, "the cut logs: " + cl.error().message};
  }
  return {};
}

std::string session_prefix(int index) {
  return {kIdAlphabet[(index / 64) % 64], kIdAlphabet[index % 64]};
}

int session_owner(const std::string& sid) {
  if (sid.size() < 2) return -1;
  const int a = alphabet_index(sid[0]), b = alphabet_index(sid[1]);
  return a < 0 || b < 0 ? -1 : a * 64 + b;
}

// ---------------------------------------------------------------------------------------------
Node::Node(net::io_context& io, NodeOptions options, sio::ServerOptions& so)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {
  Impl& m = *impl_;
  auto seg = shm::Segment::attach(m.options.ring);
  if (!seg)
    throw std::runtime_error("cannot attach ring '" + m.options.ring + "': " + seg.error().message);
  m.segment.emplace(std::move(seg.value()));
  const std::string label = "worker-" + std::to_string(m.options.worker);
  // Every reader first, then the writer whose slot names this worker to the others (live_workers):
  // from then on it counts as a responder to their requests, which its readers already hold for
  // start() to answer. (Attaching a ring touches each of its pages: tens of milliseconds for a
  // large one, during which a worker already named would make requests wait for their timeout.)
  auto r = shm::RingReader::attach(*m.segment, {label, m.options.core, shm::StartAt::latest});
  if (!r) throw std::runtime_error("cannot take a reader slot: " + r.error().message);
  m.reader.emplace(std::move(r.value()));
  m.applied_end = m.reader->position();  // (what came before was never this worker's to apply)
  if (m.options.ring_per_worker) {
    // Every other worker's ring, read from its latest record.
    m.rings.open(m.options.ring, m.options.workers, m.options.worker, label, m.options.core);
    auto own = shm::Segment::attach(worker_ring_name(m.options.ring, m.options.worker));
    if (!own) throw std::runtime_error("cannot attach this worker's ring: " + own.error().message);
    m.own_segment.emplace(std::move(own.value()));
  }
  auto w = shm::RingWriter::attach(*m.segment, {label, m.options.core});
  if (!w) throw std::runtime_error("cannot take a producer slot: " + w.error().message);
  m.writer.emplace(std::move(w.value()));
  m.own_from = m.segment->control().tail.tail.load(std::memory_order_acquire);
  if (m.own_segment) {
    // Its own ring, written by this worker alone (a restarted worker takes it over: the ring
    // pads a claim its predecessor left), after its shared slot (WorkerRings::writer_of's look-up
    // relies on that order), and first of all the record that says whose records follow.
    auto ow = shm::RingWriter::attach(*m.own_segment, {label, m.options.core});
    if (!ow) throw std::runtime_error("cannot write this worker's ring: " + ow.error().message);
    m.own_writer.emplace(std::move(ow.value()));
    const std::uint64_t generation =
        m.segment->producer_slot(m.self()).generation.load(std::memory_order_acquire);
    if (!m.publish(MessageType::ring_owner, write_message({{"worker", m.options.worker},
                                                           {"id", m.self()},
                                                           {"generation", generation}})))
      throw std::runtime_error("cannot write this worker's ring's first record");
  }
  // One notifier for every ring it reads. (Its wait on each counted in this worker's reader slot
  // there: taken back if the worker dies waiting.)
  auto n = m.rings.notifier(*m.segment, *m.reader);
  if (!n) throw std::runtime_error("cannot start the ring notifier: " + n.error().message);
  m.notifier = std::move(n.value());
  // The workers' board (cluster-wide /metrics and /health): one slot per worker, and one after
  // them for the fleet bridge's figures (shmio/redis/bridge.hpp).
  shm::BoardConfig bc;
  bc.slots = static_cast<std::uint32_t>(std::max(1, m.options.workers) + 1);
  auto board = shm::WorkerBoard::open(m.options.ring, m.segment->header().creation_time_ns, bc);
  if (board) {
    m.board.emplace(std::move(board.value()));
    // What the slot holds now is an earlier process's (this worker's before a restart): its
    // counters are carried on in this one's posts, which replace it.
    m.retired = take_over_counters(*m.board, static_cast<std::uint32_t>(m.options.worker),
                                   ("shmio[w" + std::to_string(m.options.worker) + "]").c_str());
  } else {
    std::fprintf(stderr, "shmio[w%d]: no workers' board (%s): /metrics shows this worker only\n",
                 m.options.worker, board.error().message.c_str());
  }
  // The recovery sessions' table: this ring's (created by the first worker that opens it), with
  // recovery only (it is allocated whole: 64 MiB of /dev/shm by default, for nothing without).
  if (so.connection_state_recovery) {
    auto st = shm::SessionStore::open(m.options.ring, m.segment->header().creation_time_ns,
                                      session_store_config(m.options));
    if (st)
      m.sessions.emplace(std::move(st.value()));
    else
      std::fprintf(stderr,
                   "shmio[w%d]: no session table (%s): sessions are not recoverable on other "
                   "workers\n",
                   m.options.worker, st.error().message.c_str());
  }

  // With a ring per worker and recovery: the workers' cut logs (each worker's, beside the
  // session table; created by the first worker that opens them).
  if (m.options.ring_per_worker && so.connection_state_recovery) {
    const auto cc = cut_log_config(m.options);
    auto cl =
        cc ? shm::CutLog::open(m.options.ring, m.segment->header().creation_time_ns, cc.value())
           : shm::Result<shm::CutLog>(cc.error());
    if (cl && (cl.value().logs() != cc.value().logs || cl.value().columns() != cc.value().columns))
      cl = shm::Error{shm::Errc::size_mismatch, "made for " + std::to_string(cl.value().logs()) +
                                                    " workers, not " +
                                                    std::to_string(cc.value().logs)};
    if (cl)
      m.cuts.emplace(std::move(cl.value()));
    else
      std::fprintf(stderr,
                   "shmio[w%d]: no cut log (%s): sessions are not recoverable with a ring per "
                   "worker\n",
                   m.options.worker, cl.error().message.c_str());
  }

  Impl* impl = impl_.get();
  // The hand-off socket before anything of `so` is set: its constructor may throw (the address in
  // use, a bad directory), and a caller that caught that and made a Server from the same options
  // anyway got callbacks holding this Node's freed state (before 2026-12-04; a helper's review).
  if (m.options.workers > 1 && !m.options.handoff.empty())
    m.handoff = std::make_unique<Handoff>(
        io, m.options.handoff, m.options.worker,
        [impl](int fd, std::string bytes) {
          impl->forget_destroyed_server();
          if (impl->server && !impl->stopped)
            impl->server->engine().adopt(fd, std::move(bytes));
          else
            ::close(fd);
        },
        &m.stats.handoffs_refused, &m.stats.handoff_waits);
  so.adapter = [impl](sio::Namespace& nsp) -> std::unique_ptr<sio::Adapter> {
    return std::make_unique<ClusterAdapter>(nsp, *impl);
  };
  so.ack_id_base = static_cast<std::uint64_t>(m.options.worker);
  so.ack_id_stride = ack_id_stride(m.options.workers);
  so.reuse_port = true;
  if (m.options.workers > 1) {
    so.id_prefix = session_prefix(m.options.worker);
    if (m.handoff) {
      const int me = m.options.worker, count = m.options.workers;
      so.is_foreign = [me, count](const std::string& sid) {
        const int owner = session_owner(sid);
        return owner >= 0 && owner < count && owner != me;
      };
      so.hand_off = [impl](const std::string& sid, int fd, std::string bytes) {
        if (!impl->handoff->send(session_owner(sid), fd, bytes)) ++impl->stats.handoffs_failed;
      };
      if (m.options.rebalance) {
        so.steer = [impl] { return impl->steer(); };
        // A fresh handshake this worker accepted and could serve itself: one whose hand-off
        // fails (the other worker's queue full, descriptors in flight past the user's limit) is
        // served here. (Before 2026-12-04 it was closed, and its client saw its connection
        // closed during its handshake: 1 of 100,000 in bench/e2e's many-connections run.)
        so.hand_off_to = [impl](int worker, int fd, std::string bytes) {
          ++impl->stats.rebalance_steered;  // (kept ones too: rebalance_kept is a part of it)
          if (impl->handoff->send(worker, fd, bytes, /*close_on_failure=*/false)) return;
          ++impl->stats.rebalance_kept;
          impl->forget_destroyed_server();
          if (impl->server && !impl->stopped)
            impl->server->engine().adopt(fd, std::move(bytes), /*handed_over=*/false);
          else
            ::close(fd);
        };
      }
    }
  }
}

Node::~Node() {
  stop();
}

void Node::start(sio::Server& server) {
  impl_->server = &server;
  impl_->server_life = server.lifetime();
  impl_->start_reading();
  if (impl_->bridge_attached()) impl_->announce_namespaces();  // (for the fleet bridge)
  // A first post before it listens: the watchdog watches a worker from its first post on, and
  // until 2026-12-07 the first came a second after it listened — one stuck within that second
  // (the successor of a worker the watchdog killed, meeting the same input again) was never
  // watched, and kept its share of new connections unserved (a bug hunt).
  impl_->post_board();
  impl_->become_ready();
  if (impl_->options.rebalance && impl_->options.workers > 1 && impl_->handoff)
    impl_->arm_load_timer();
  if (impl_->handoff) impl_->handoff->start();
  impl_->arm_board_timer();
}

void Node::set_local_metrics(std::function<std::string()> render) {
  impl_->local_metrics = std::move(render);
}

std::string Node::cluster_metrics_text() {
  Impl& m = *impl_;
  std::vector<std::string> texts{
      m.with_carried(m.local_metrics ? m.local_metrics() : metrics_text())};
  if (!m.board) return texts.front();
  m.post_metrics(texts.front());
  // (A dead worker's post, until its successor's replaces it: its counters in the totals only.)
  for (auto& p : m.board->read_all())
    if (p.slot != static_cast<std::uint32_t>(m.options.worker))
      texts.push_back(p.alive ? std::move(p.blob) : retired_counters(p.blob, SIZE_MAX));
  return merge_expositions(texts);
}

std::vector<Node::WorkerStatus> Node::workers_status() const {
  std::vector<WorkerStatus> out;
  if (!impl_->board) return out;
  const std::uint64_t now = shm::monotonic_ns();
  for (const auto& p : impl_->board->read_all()) {
    if (p.slot >= static_cast<std::uint32_t>(std::max(1, impl_->options.workers)))
      continue;  // the fleet bridge's post (metrics only)
    const std::string series = "shmio_connections{worker=\"" + std::to_string(p.slot) + "\"}";
    out.push_back({static_cast<int>(p.slot), p.who.pid, p.alive,
                   static_cast<std::int64_t>((now - std::min(now, p.posted_ns)) / 1000000),
                   static_cast<std::int64_t>(exposition_value(p.blob, series))});
  }
  return out;
}

std::optional<Node::BridgeStatus> Node::bridge_status() const {
  if (!impl_->board) return std::nullopt;
  const auto slot = static_cast<std::uint32_t>(std::max(1, impl_->options.workers));
  const std::uint64_t now = shm::monotonic_ns();
  for (const auto& p : impl_->board->read_all()) {
    if (p.slot != slot) continue;
    return BridgeStatus{p.who.pid, p.alive,
                        static_cast<std::int64_t>((now - std::min(now, p.posted_ns)) / 1000000),
                        exposition_value(p.blob, "shmio_redis_connected{worker=\"bridge\"}") == 1,
                        static_cast<std::int64_t>(exposition_value(
                            p.blob, "shmio_redis_unsent_total{worker=\"bridge\"}"))};
  }
  return std::nullopt;
}

void Node::when_ready(std::function<void()> f) {
  if (impl_->ready)
    f();
  else
    impl_->ready_waiters.push_back(std::move(f));
}

void Node::draining() {
  impl_->forget_destroyed_server();  // (which says as much, if the Server is gone)
  if (impl_->stopped || impl_->closing) return;
  impl_->closing = true;
  impl_->publish_load();
}

void Node::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->notify.close(ec);
  impl_->dead_timer.cancel();
  impl_->load_timer.cancel();
  impl_->board_timer.cancel();
  impl_->check_timer.cancel();
  impl_->stop_forgetting();
  if (impl_->handoff) impl_->handoff->stop();
  impl_->release_held();
}

const NodeStats& Node::stats() const noexcept {
  return impl_->stats;
}
int Node::worker() const noexcept {
  return impl_->options.worker;
}
std::size_t Node::server_count() const {
  return impl_->live_workers(true).size();
}

std::string Node::metrics_text() const {
  const Impl& m = *impl_;
  const std::string w = "{worker=\"" + std::to_string(m.options.worker) + "\"}";
  std::string out;
  auto line = [&](const char* name, const char* help, const char* type, std::uint64_t v,
                  const std::string& labels) { append_metric(out, name, type, help, v, labels); };
  const auto& s = m.stats;
  line("shmio_broadcasts_published_total", "Broadcasts this worker wrote to the ring.", "counter",
       s.broadcasts_published, w);
  line("shmio_broadcasts_received_total", "Broadcasts of other workers this worker delivered.",
       "counter", s.broadcasts_received, w);
  line("shmio_ring_messages_published_total", "Ring records this worker wrote.", "counter",
       s.messages_published, w);
  line("shmio_ring_messages_received_total", "Ring records of others this worker read.", "counter",
       s.messages_received, w);
  line("shmio_ring_publish_failures_total", "Records that could not be written.", "counter",
       s.publish_failures, w);
  line("shmio_ring_laps_total", "Times this worker's reader was lapped.", "counter", s.laps, w);
  line("shmio_ring_lost_records_total", "Records this worker lost to laps.", "counter",
       s.lost_records, w);
  line("shmio_answer_checks_total",
       "Times this worker, lapped, asked the others which of its waiting requests they still owe "
       "answers to.",
       "counter", s.answer_checks, w);
  line("shmio_answers_found_lost_total",
       "Requests of this worker's whose answers from another worker or the fleet bridge it found "
       "lost to a lap (by their replies to its checks): those answers count as missing, as at "
       "the timeout.",
       "counter", s.answers_found_lost, w);
  line("shmio_lap_disconnects_total", "Clients disconnected because their worker was lapped.",
       "counter", s.lap_disconnects, w);
  line("shmio_ring_bad_records_total", "Records that did not decode.", "counter", s.bad_records, w);
  line("shmio_ring_drain_yields_total",
       "Reads of the rings cut at their budget per turn (16 batches a ring), the rest read after "
       "the turn's other work.",
       "counter", s.drain_yields, w);
  line("shmio_handoffs_failed_total", "Connections that could not be handed to their worker.",
       "counter", s.handoffs_failed, w);
  line("shmio_handoffs_refused_total",
       "Hand-off connections of another user and malformed hand-off messages, refused.", "counter",
       s.handoffs_refused, w);
  line("shmio_handoff_waits_total",
       "Hand-offs that waited (up to 200 ms, on this worker's thread) on a worker's full queue.",
       "counter", s.handoff_waits, w);
  line("shmio_rooms_told_total",
       "Rooms made or deleted said on the ring for a fleet bridge (ROOM_CHANGED records).",
       "counter", s.rooms_told, w);
  line("shmio_held_sends_released_early_total",
       "Sends to this worker's own sockets held behind its own broadcasts (one shared ring with "
       "recovery) and sent ahead of them, past NodeOptions::max_held_sends.",
       "counter", s.held_sends_released_early, w);
  line("shmio_recoveries_total", "Sessions restored by connection state recovery.", "counter",
       s.recoveries, w);
  line("shmio_recovery_failures_total", "Recoveries refused (unknown session or range gone).",
       "counter", s.recovery_failures, w);
  line("shmio_rebalance_steered_total",
       "Fresh handshakes steered to a less loaded worker (rebalancing; those whose hand-off "
       "failed too, counted again in shmio_rebalance_kept_total).",
       "counter", s.rebalance_steered, w);
  line("shmio_rebalance_kept_total",
       "Fresh handshakes steered to another worker whose hand-off failed: served here instead.",
       "counter", s.rebalance_kept, w);
  line("shmio_rebalance_shed_total",
       "Clients asked to reconnect to rebalance the cluster (they recover where they land).",
       "counter", s.rebalance_shed, w);
  line("shmio_sessions_not_saved_total",
       "Recovery sessions not saved (state over a slot, no free slot near its hash, or a slot held "
       "by a stopped worker).",
       "counter", s.sessions_not_saved, w);
  line("shmio_sessions_not_forgotten_total",
       "Sessions closed for good left in the recovery table (their slots held by a stopped process "
       "while 1024 erases waited already, or when this worker stopped).",
       "counter", s.sessions_not_forgotten, w);
  // (A reader goes by the seals: it can be a little ahead of the frontier, its lag then 0.)
  auto lag = [](const shm::Segment& ring, const shm::RingReader& r) -> std::uint64_t {
    const std::uint64_t frontier = ring.control().frontier.frontier.load(std::memory_order_acquire);
    return frontier > r.position() ? frontier - r.position() : 0;
  };
  std::uint64_t lag_bytes = lag(*m.segment, *m.reader);
  for (const auto& r : m.rings.all()) lag_bytes += lag(r->segment, *r->reader);
  line("shmio_ring_lag_bytes",
       "Ring bytes committed but not yet read by this worker (with a ring per worker: on all of "
       "them).",
       "gauge", lag_bytes, w);
  line("shmio_rings", "Rings this worker reads or writes (1 + workers with a ring per worker).",
       "gauge", 1 + m.rings.size() + (m.own_segment ? 1 : 0), w);
  line("shmio_ring_notifier_io_uring",
       "1 if this worker waits for the ring by an io_uring futex wait, 0 if by a notifier thread.",
       "gauge", m.notifier->mode() == shm::NotifierMode::io_uring ? 1 : 0, w);
  // (The rings' own counters: the same figures whichever worker shows them.)
  std::uint64_t repairs = 0, aborted = 0;
  auto add_ring = [&](const shm::Segment& ring) {
    repairs += ring.control().repair.repairs.load(std::memory_order_relaxed);
    aborted += ring.control().repair.aborted_claims.load(std::memory_order_relaxed);
  };
  add_ring(*m.segment);
  if (m.own_segment) add_ring(*m.own_segment);
  for (const auto& r : m.rings.all()) add_ring(r->segment);
  line("shmio_ring_abandoned_claims_total",
       "Claims of dead producers turned into padding (all rings).", "counter", repairs, "");
  line("shmio_ring_aborted_claims_total", "Claims given back by their producer (all rings).",
       "counter", aborted, "");
  line("shmio_workers_live", "Workers alive according to the ring's registry.", "gauge",
       m.live_workers(true).size(), "");
  return out;
}

}  // namespace shmio::cluster
