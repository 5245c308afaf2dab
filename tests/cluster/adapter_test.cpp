// The cluster adapter (server/cluster) in one process: two workers' Nodes on one ring, each with
// its socketio::Server, driven by one io_context on the test's thread, and raw WebSocket clients.
// What socket.io's cluster adapter does across servers, checked here without the bench app or
// Node clients: broadcasts to rooms of another worker, fetchSockets over both, operations on a
// remote socket, serverSideEmit with acks, the count of servers, and a request that finds its
// other worker gone, a worker started again — each on one shared ring and with a ring per worker
// (NodeOptions::ring_per_worker); and, with stand-ins for worker 1 writing its rings as it would,
// that a worker's death is applied only after everything it said before it, and (a ring per
// worker) that a worker ring's records are named by the RING_OWNER record before them, and by
// nobody once that worker's shared slot is another's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../server/cluster/src/handoff.hpp"
#include "../server/ws_client.hpp"
#include "../shm/store_object.hpp"
#include "../shm/test_support.hpp"
#include "shmio/cluster/emitter.hpp"
#include "shmio/cluster/node.hpp"
#include "shmio/cluster/supervisor.hpp"
#include "shmio/cluster/wire.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/cut_log.hpp"
#include "shmio/shm/inspect.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/registry.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"
#include "shmio/shm/session_store.hpp"
#include "shmio/socketio/server.hpp"

using namespace std::chrono_literals;
using shmio::test::Client;
namespace cluster = shmio::cluster;
namespace shm = shmio::shm;
namespace sio = shmio::socketio;

namespace {

struct Worker {
  sio::ServerOptions options;
  std::unique_ptr<cluster::Node> node;
  std::unique_ptr<sio::Server> server;
  std::uint16_t port = 0;
};

struct StandIn;

// The parameter: a ring per worker (the rings as the supervisor makes them) or one shared ring.
class ClusterAdapterTest : public ::testing::TestWithParam<bool> {
 protected:
  // Worker 1 stopped and gone, and `fake` standing in for it (below): in its shared-ring slot and,
  // with a ring per worker, its own ring.
  void replace_worker_1(StandIn& fake);
  void SetUp() override {
    static int n = 0;
    ring_ = "test-adapter-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    (void)shm::Segment::remove(ring_);
    shm::RingConfig cfg;
    cfg.name = ring_;
    cfg.capacity = ring_bytes_;
    auto seg = shm::Segment::create(cfg);
    ASSERT_TRUE(seg) << seg.error().message;
    segment_.emplace(std::move(seg.value()));
    if (GetParam())
      for (int i = 0; i < 2; ++i) {
        auto w = shm::Segment::create(cluster::worker_ring_config(ring_, i, 2, ring_bytes_, false));
        ASSERT_TRUE(w) << w.error().message;
        worker_rings_.push_back(std::move(w.value()));
      }
    for (int i = 0; i < 2; ++i) start(i, !(i == 1 && late_worker_1_));
  }
  void TearDown() override {
    clients_.clear();
    for (auto& w : workers_)
      if (w) stop(*w);
    workers_.clear();
    segment_.reset();
    worker_rings_.clear();
    (void)shm::Segment::remove(ring_);
    for (int i = 0; i < 2; ++i) (void)shm::Segment::remove(cluster::worker_ring_name(ring_, i));
    shm::SessionStore::remove_all(ring_);
    shm::WorkerBoard::remove_all(ring_);
    shm::CutLog::remove_all(ring_);
  }

  // Worker i: its Node and Server made and, with `run`, started and listening (start_late()
  // does the rest of one made without).
  void start(int i, bool run = true) {
    auto w = std::make_unique<Worker>();
    cluster::NodeOptions no;
    no.ring = ring_;
    no.worker = i;
    no.workers = 2;
    no.rebalance = !handoff_dir_.empty();
    no.handoff = handoff_dir_;
    no.steer_room = i == 1 && steer_room_1_ ? *steer_room_1_ : no.steer_room;
    no.max_held_sends = i == 0 && max_held_sends_0_ ? *max_held_sends_0_ : no.max_held_sends;
    no.ring_per_worker = GetParam();
    if (recovery_) {
      w->options.connection_state_recovery = sio::RecoveryOptions{};
      w->options.connection_state_recovery->skip_middlewares = skip_middlewares_;
    }
    no.log_recoveries = recovery_;
    w->options.cleanup_empty_child_namespaces = cleanup_;
    no.cut_log_entries = cut_log_entries_;
    w->node = std::make_unique<cluster::Node>(io_, no, w->options);
    if (ack_id_stride_) w->options.ack_id_stride = *ack_id_stride_;
    w->server = std::make_unique<sio::Server>(io_, w->options);
    // Every socket joins the room of its worker ("w0", "w1") and "all".
    w->server->of("/").on_connection([i](const sio::SocketPtr& s) {
      s->join("w" + std::to_string(i));
      s->join("all");
    });
    if (local_metrics_) w->node->set_local_metrics(local_metrics_);  // (as serve() does: first)
    if (run) {
      w->node->start(*w->server);
      w->port = w->server->listen("127.0.0.1", 0);
    }
    if (workers_.size() <= static_cast<std::size_t>(i)) workers_.resize(i + 1);
    workers_[i] = std::move(w);
  }
  void start_late(int i) {
    workers_[i]->node->start(*workers_[i]->server);
    workers_[i]->port = workers_[i]->server->listen("127.0.0.1", 0);
  }
  void stop(Worker& w) {
    w.node->stop();
    w.server->close();
    io_.poll();
  }

  // Runs the loop and reads every client until `done` (at most 10 s).
  bool drive(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      io_.run_for(2ms);
      for (auto& c : clients_) {
        if (!c.client) continue;
        c.client->read_available();
        if (c.open)  // (past the HTTP upgrade's response)
          for (auto& f : c.client->frames()) c.messages.push_back(f.payload);
      }
    }
    return true;
  }

  // A WebSocket client of worker i, connected to "/": its index in clients_ and its socket id.
  std::pair<std::size_t, std::string> connect(int i) {
    const Joined j = connect_with(i, "");
    return {j.k, j.sid};
  }
  // One that connects with `auth` (a JSON object, "" for none): with connection state recovery
  // {"pid":...,"offset":...} asks for a session back. Its index, sid and pid (with recovery).
  struct Joined {
    std::size_t k;
    std::string sid, pid;
  };
  // A WebSocket session on worker i, its Engine.IO handshake done: the client's index.
  std::size_t open_session(int i) {
    clients_.push_back({std::make_unique<Client>(workers_[i]->port), {}, false});
    const std::size_t k = clients_.size() - 1;
    Client& c = *clients_[k].client;
    c.send_raw(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_TRUE(drive([&] { return c.in().find("\r\n\r\n") != std::string::npos; }));
    c.in().erase(0, c.in().find("\r\n\r\n") + 4);
    clients_[k].open = true;
    return k;
  }
  Joined connect_with(int i, const std::string& auth) {
    const std::size_t k = open_session(i);
    Client& c = *clients_[k].client;
    c.send_text("40" + auth);
    Joined j{k, {}, {}};
    std::size_t at = 0;
    EXPECT_TRUE(drive([&] {
      for (; at < clients_[k].messages.size() && j.sid.empty(); ++at) {
        const std::string& m = clients_[k].messages[at];
        if (m.rfind("40{", 0) != 0) continue;
        const auto o = boost::json::parse(m.substr(2)).as_object();
        j.sid = o.at("sid").as_string().c_str();
        if (o.contains("pid")) j.pid = o.at("pid").as_string().c_str();
      }
      return !j.sid.empty();
    }));
    // Only the events stay: a recovered session's replay comes before the CONNECT answer (as
    // socket.io writes it; the client holds events until it is connected).
    std::erase_if(clients_[k].messages, [](const std::string& m) { return m.rfind("42", 0) != 0; });
    return j;
  }
  // The CONNECT auth that asks for session `pid` back from `offset`.
  static std::string auth(const std::string& pid, const std::string& offset) {
    return R"({"pid":")" + pid + R"(","offset":")" + offset + R"("})";
  }
  // Whether client k received event `name`.
  // Worker 0's server_side_emit_with_ack of `event` (8 s), which worker 1 answers with what it
  // cannot publish: completed at once without the answer ("operation has timed out"), and
  // stderr says `why`.
  void expect_answer_said_lost(const std::string& event, const std::string& why) {
    std::optional<std::string> error = "not called";
    const auto asked = std::chrono::steady_clock::now();
    testing::internal::CaptureStderr();
    workers_[0]->server->of("/").server_side_emit_with_ack(
        event, sio::Args{}, 8s,
        [&](std::optional<std::string> e, std::vector<sio::Args>) { error = std::move(e); });
    const bool completed = drive([&] { return error != std::optional<std::string>("not called"); });
    const std::string said = testing::internal::GetCapturedStderr();
    ASSERT_TRUE(completed) << event;
    EXPECT_EQ(error, std::optional<std::string>("operation has timed out")) << event;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 4s) << event << ": waited for the timeout";
    EXPECT_NE(said.find(why), std::string::npos) << event << ": " << said;
  }
  bool has(std::size_t k, const std::string& name) {
    for (const std::string& e : events(k))
      if (e.rfind("[\"" + name + "\"", 0) == 0) return true;
    return false;
  }
  // The recovery offset of an event client k received (its last argument).
  static std::string offset_of_event(const std::string& e) {
    const auto a = boost::json::parse(e).as_array();
    return a.back().is_string() ? std::string(a.back().as_string().c_str()) : std::string();
  }
  // Client k's connection closed (a transport close: its session is kept for recovery), and
  // worker i has seen it.
  void drop(std::size_t k, int i) {
    const std::size_t before = workers_[i]->server->client_count();
    clients_[k].client.reset();
    clients_[k].open = false;
    EXPECT_TRUE(drive([&] { return workers_[i]->server->client_count() < before; }));
  }
  // The events client k received ("42[...]" packets), in order.
  std::vector<std::string> events(std::size_t k) {
    std::vector<std::string> out;
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("42", 0) == 0) out.push_back(m.substr(2));
    return out;
  }
  // The names of those events, in order, each followed by a space (an ack id before the array
  // passed over).
  std::string event_names(std::size_t k) {
    std::string out;
    for (const std::string& e : events(k)) {
      const std::size_t open = e.find("[\"");
      const std::size_t end = open == std::string::npos ? open : e.find('"', open + 2);
      if (end != std::string::npos) out += e.substr(open + 2, end - open - 2) + " ";
    }
    return out;
  }

  // Worker 0 asks every other worker (serverSideEmit "ping" with an ack, 3 s); the request's id is
  // read from the ring worker 0 writes.
  struct Asked {
    std::optional<std::string> error = "not called";
    std::vector<sio::Args> answers;
    std::uint64_t rid = 0;
    bool done() const { return error != std::optional<std::string>("not called"); }
  };
  std::shared_ptr<Asked> ask() {
    auto q = std::make_shared<Asked>();
    auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                          {"stand-in", -1, shm::StartAt::latest});
    EXPECT_TRUE(reader) << reader.error().message;
    if (!reader) return q;
    workers_[0]->server->of("/").server_side_emit_with_ack(
        "ping", sio::Args{1}, 3s, [q](std::optional<std::string> e, std::vector<sio::Args> r) {
          q->error = std::move(e);
          q->answers = std::move(r);
        });
    reader.value().poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::server_side_emit))
        q->rid = cluster::read_message(v.payload)->body.at("requestId").to_number<std::uint64_t>();
    });
    return q;
  }

  bool recovery_ = false;  // (set before SetUp: connection state recovery on every worker)
  std::uint64_t ring_bytes_ = 1 << 20;  // each ring's (a test's fixture may make them larger)
  std::function<std::string()> local_metrics_;  // set on each Node started (set_local_metrics)
  bool cleanup_ = false;                        // (and cleanup_empty_child_namespaces)
  std::string handoff_dir_;  // (and hand-offs through this folder, with rebalancing)
  std::optional<std::size_t> steer_room_1_;      // (worker 1's NodeOptions::steer_room)
  std::optional<std::size_t> max_held_sends_0_;  // (worker 0's NodeOptions::max_held_sends)
  bool late_worker_1_ = false;                   // worker 1's Node made, not started (start_late)
  bool skip_middlewares_ = true;  // (recovery's option for the workers started from then on)
  std::uint32_t cut_log_entries_ = 1u << 18;    // (and the cut logs' size)
  std::optional<std::uint64_t> ack_id_stride_;  // (the workers' ack id stride, past the Node's)
  boost::asio::io_context io_;
  std::string ring_;
  std::optional<shm::Segment> segment_;
  std::vector<shm::Segment> worker_rings_;  // (a ring per worker)
  std::vector<std::unique_ptr<Worker>> workers_;
  struct Conn {
    std::unique_ptr<Client> client;
    std::vector<std::string> messages;  // Engine.IO packets received, in order
    bool open;                          // the upgrade's response was read
  };
  std::vector<Conn> clients_;
};

}  // namespace

namespace {
// A stand-in's record (a JSON message of the cluster's wire) into the ring `w` writes.
shm::PublishStatus say(shm::RingWriter& w, cluster::MessageType t, const boost::json::object& b) {
  const std::string body = cluster::write_message(b);
  return w.publish(static_cast<std::uint16_t>(t),
                   {reinterpret_cast<const std::byte*>(body.data()), body.size()});
}
// The shared-ring slot id labelled `label` (a worker's identity on the wire), or -1.
int slot_labelled(const shm::Segment& s, const std::string& label) {
  for (std::uint16_t i = 0; i < s.max_producers(); ++i)
    if (s.producer_slot(i).state.load() == shm::layout::kSlotActive &&
        std::string(s.producer_slot(i).label) == label)
      return i;
  return -1;
}
// The id and the generation of a shared-ring slot, as a worker's RING_OWNER record says them.
boost::json::object owner_of_ring(const shm::Segment& shared, const shm::RingWriter& w) {
  return {{"worker", 1},
          {"id", w.id()},
          {"generation", shared.producer_slot(w.id()).generation.load()}};
}
// A stand-in for worker 1 (gone): its slot in the shared ring and, with a ring per worker
// (`own_ring`), its own ring, with the RING_OWNER record a worker writes there first. Worker 0
// counts it as a live worker; it answers nothing unless the test says so.
struct StandIn {
  std::optional<shm::RingWriter> shared, own;
};
void stand_in_for_worker_1(StandIn& out, const shm::Segment& shared, const shm::Segment* own_ring) {
  auto w = shm::RingWriter::attach(shared, {"worker-1", -1});
  ASSERT_TRUE(w) << w.error().message;
  out.shared.emplace(std::move(w.value()));
  if (own_ring == nullptr) return;
  auto o = shm::RingWriter::attach(*own_ring, {"worker-1", -1});
  ASSERT_TRUE(o) << o.error().message;
  out.own.emplace(std::move(o.value()));
  ASSERT_EQ(say(*out.own, cluster::MessageType::ring_owner, owner_of_ring(shared, *out.shared)),
            shm::PublishStatus::ok);
}
}  // namespace

void ClusterAdapterTest::replace_worker_1(StandIn& fake) {
  stop(*workers_[1]);
  workers_[1].reset();
  ASSERT_NO_FATAL_FAILURE(
      stand_in_for_worker_1(fake, *segment_, GetParam() ? &worker_rings_[1] : nullptr));
}

TEST_P(ClusterAdapterTest, BroadcastsReachTheRoomsOfTheOtherWorkerOnceAndInOrder) {
  const auto a = connect(0);
  const auto b = connect(1);
  const auto c = connect(1);
  EXPECT_EQ(workers_[0]->server->of("/").server_count(), 2u);
  // From worker 0: to a room only worker 1's sockets are in, then to everyone, then except w1.
  for (int i = 0; i < 5; ++i) workers_[0]->server->of("/").to("w1").emit("m", sio::Args{i});
  workers_[0]->server->of("/").emit("everyone", sio::Args{});
  workers_[0]->server->of("/").to("all").except("w1").emit("not-w1", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(b.first).size() == 6 && events(a.first).size() == 2; }));
  const std::vector<std::string> want = {R"(["m",0])", R"(["m",1])", R"(["m",2])",
                                         R"(["m",3])", R"(["m",4])", R"(["everyone"])"};
  EXPECT_EQ(events(b.first), want);
  EXPECT_EQ(events(c.first), want);
  EXPECT_EQ(events(a.first), (std::vector<std::string>{R"(["everyone"])", R"(["not-w1"])"}));
}

// A worker posts on the board before it listens, so that the supervisor's watchdog watches it
// from the start: until 2026-12-07 its first post came a second after it listened, and a worker
// stuck within that second was never watched (a bug hunt). Posted by start(), before any turn of
// the loop.
TEST_P(ClusterAdapterTest, AWorkerPostsOnTheBoardBeforeItListens) {
  auto board = shm::WorkerBoard::open(ring_, segment_->header().creation_time_ns);
  ASSERT_TRUE(board) << board.error().message;
  stop(*workers_[1]);
  workers_[1].reset();
  local_metrics_ = [] { return std::string("app_up 1\n"); };
  const std::uint64_t before = shm::monotonic_ns();
  start(1);  // (no turn of io_ since: the timer's posts need one)
  const auto stamp = board.value().stamp(1);
  ASSERT_TRUE(stamp) << "no post";
  EXPECT_GE(stamp->posted_ns, before) << "the post is the previous worker's";
  const auto post = board.value().read(1);
  ASSERT_TRUE(post);
  EXPECT_NE(post->blob.find("app_up 1"), std::string::npos) << post->blob;
}

// A worker whose metrics are more than a board post holds (an app's own series): the whole
// families that fit are posted (a histogram never cut between its buckets; lines where there are
// no HELP or TYPE lines), and with them the stamp the supervisor's watchdog looks at. Before
// 2026-12-05 nothing was posted, and the watchdog killed the live worker every minute.
TEST_P(ClusterAdapterTest, MetricsLargerThanABoardPostArePostedInPart) {
  auto board = shm::WorkerBoard::open(ring_, segment_->header().creation_time_ns);
  ASSERT_TRUE(board) << board.error().message;
  const std::size_t capacity = board.value().capacity();
  std::string text;
  for (int i = 0; text.size() <= capacity + 1000; ++i) {
    const std::string f = "app_h" + std::to_string(i);
    text += "# HELP " + f + " a histogram\n# TYPE " + f + " histogram\n";
    for (const char* le : {"0.1", "1", "+Inf"}) text += f + "_bucket{le=\"" + le + "\"} 1\n";
    text += f + "_sum 0.5\n" + f + "_count 1\n";
  }
  workers_[0]->node->set_local_metrics([&text] { return text; });
  (void)workers_[0]->node->cluster_metrics_text();
  auto post = board.value().read(0);
  ASSERT_TRUE(post);
  ASSERT_LE(post->blob.size(), capacity);
  EXPECT_GT(post->blob.size(), capacity - 300);
  EXPECT_EQ(text.compare(0, post->blob.size(), post->blob), 0) << "not the exposition's start";
  EXPECT_EQ(text.compare(post->blob.size(), 7, "# HELP "), 0) << "cut inside a family";
  // Series without HELP or TYPE lines: cut at a line.
  text.clear();
  for (int i = 0; text.size() <= capacity + 1000; ++i)
    text += "app_big_series{n=\"" + std::to_string(i) + "\"} 1\n";
  (void)workers_[0]->node->cluster_metrics_text();
  post = board.value().read(0);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->blob.rfind("app_big_series{n=\"0\"} 1\n", 0), 0u) << post->blob.substr(0, 80);
  EXPECT_LE(post->blob.size(), capacity);
  EXPECT_GT(post->blob.size(), capacity - 100);
  EXPECT_EQ(post->blob.back(), '\n');
}

// A worker asked for all its rooms (a fleet bridge in a sharded dynamic mode) that has more than
// a ring record holds (4,000 rooms of 24 bytes, 1 MiB rings: 128 KiB records) says them in parts,
// "part" i of "parts" n, each within a record, every room in one of them (before 2026-12-04 one
// record, refused as too large). Past its bound (a quarter of the ring, shared by the workers
// writing into it) it leaves rooms out and its last part says "incomplete".
TEST_P(ClusterAdapterTest, AWorkersManyRoomsAreToldInParts) {
  const auto [k, sid] = connect(0);
  ASSERT_FALSE(sid.empty());
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  auto rooms = [](int from, int to) {
    std::vector<sio::Room> out;
    for (int i = from; i < to; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "a-room-of-many-%08d", i);
      out.emplace_back(name);
    }
    return out;
  };
  const std::vector<sio::Room> many = rooms(0, 4000);
  s->join(many);
  shm::Segment& written = GetParam() ? worker_rings_[0] : *segment_;  // (where worker 0 writes)
  auto reader = shm::RingReader::attach(written, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto asker = shm::RingWriter::attach(*segment_, {"asker", -1});
  ASSERT_TRUE(asker);
  struct Told {
    std::set<std::string> rooms;
    std::uint64_t parts = 0, seen = 0;
    bool incomplete = false;
  };
  auto ask = [&](Told& t) {
    const std::string said = cluster::write_message({{"rooms", "all"}});
    EXPECT_EQ(asker->publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces_request),
                             {reinterpret_cast<const std::byte*>(said.data()), said.size()}),
              shm::PublishStatus::ok);
    return drive([&] {
      reader->poll([&](const shm::RecordView& v) {
        if (v.type != static_cast<std::uint16_t>(cluster::MessageType::namespaces)) return;
        auto m = cluster::read_message(v.payload);
        if (!m || !m->body.contains("rooms") || m->body.at("worker").to_number<int>() != 0) return;
        EXPECT_EQ(m->body.contains("nsps"), t.seen == 0) << "the names in the first part only";
        if (m->body.contains("parts")) {
          t.parts = m->body.at("parts").to_number<std::uint64_t>();
          EXPECT_EQ(m->body.at("part").to_number<std::uint64_t>(), t.seen);
        }
        ++t.seen;
        t.incomplete = m->body.contains("incomplete");
        if (const auto* l = m->body.at("rooms").as_object().if_contains("/"))
          for (const auto& r : l->as_array()) t.rooms.emplace(r.as_string().c_str());
      });
      return t.parts != 0 && t.seen == t.parts;
    });
  };
  Told first;
  ASSERT_TRUE(ask(first)) << first.seen << " records, " << first.rooms.size() << " rooms";
  EXPECT_GE(first.parts, 2u);
  EXPECT_FALSE(first.incomplete);
  for (const auto& r : many) EXPECT_EQ(first.rooms.count(r), 1u) << r;
  // 12,000 rooms of 26 bytes as JSON: over a quarter of the ring (even a ring of its own, 256 KiB
  // of the 1 MiB; 10,000 fitted it once the rooms were sized as JSON, 2026-12-06).
  s->join(rooms(4000, 12000));
  Told second;
  ASSERT_TRUE(ask(second)) << second.seen << " records, " << second.rooms.size() << " rooms";
  EXPECT_TRUE(second.incomplete);
  EXPECT_LT(second.rooms.size(), 12000u);
  EXPECT_GT(second.rooms.size(), 3000u);
  (void)k;
}

// ALL_ROOMS (a fleet member's allRooms, relayed by the bridge) asked of a worker with more rooms
// than a record holds (6,000 of 24 bytes, 1 MiB rings: 128 KiB records): answered in parts, "part"
// i of "parts" n, every room in one of them. Before 2026-12-05 one record, refused as too large:
// no answer, and the fleet's allRooms waited out its timeout without this worker's rooms (found
// by a review).
TEST_P(ClusterAdapterTest, AnAllRoomsAnswerComesInParts) {
  const auto [k, sid] = connect(0);
  ASSERT_FALSE(sid.empty());
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  std::vector<sio::Room> many;
  for (int i = 0; i < 6000; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "a-room-of-many-%08d", i);
    many.emplace_back(name);
  }
  s->join(many);
  shm::Segment& written = GetParam() ? worker_rings_[0] : *segment_;  // (where worker 0 writes)
  auto reader = shm::RingReader::attach(written, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto asker = shm::RingWriter::attach(*segment_, {"asker", -1});
  ASSERT_TRUE(asker);
  const std::string asked = cluster::write_message({{"requestId", 7}, {"nsp", "/"}});
  ASSERT_EQ(asker->publish(static_cast<std::uint16_t>(cluster::MessageType::all_rooms),
                           {reinterpret_cast<const std::byte*>(asked.data()), asked.size()}),
            shm::PublishStatus::ok);
  std::set<std::string> told;
  std::uint64_t parts = 0, seen = 0;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::all_rooms_response)) return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->body.at("requestId").to_number<std::uint64_t>(), 7u);
      EXPECT_EQ(m->body.at("part").to_number<std::uint64_t>(), seen);
      if (seen == 0) parts = m->body.at("parts").to_number<std::uint64_t>();
      ++seen;
      for (const auto& r : m->body.at("rooms").as_array()) told.emplace(r.as_string().c_str());
    });
    return parts != 0 && seen == parts;
  })) << seen
      << " records, " << told.size() << " rooms";
  EXPECT_GE(parts, 2u);
  for (const auto& r : many) EXPECT_EQ(told.count(r), 1u) << r;
  EXPECT_EQ(told.count(sid), 1u) << "its own room too";
  (void)k;
}

// A publish made while the rooms index changes (here an app's room listener that emits, as
// socket.io allows), which finds this worker's reader half a ring behind, does not apply other
// workers' records inside that change: the drain waits until the change is done. Before
// 2026-12-05 it ran there, and a remote join changed the index under the walk changing it (the
// listener was entered again, nested; found by a review).
TEST_P(ClusterAdapterTest, ADrainDoesNotRunInsideAChangeOfTheRooms) {
  if (GetParam()) GTEST_SKIP() << "a worker does not read its own ring: no drain at a publish";
  const auto [k, sid] = connect(0);
  ASSERT_FALSE(sid.empty());
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  auto& io0 = workers_[0]->server->of("/");
  int depth = 0, deepest = 0, created = 0;
  io0.adapter().on_room_event(
      [&](sio::Adapter::RoomEvent e, const sio::Room& room, const sio::SocketId&) {
        if (e != sio::Adapter::RoomEvent::create_room || room == sid) return;
        deepest = std::max(deepest, ++depth);
        ++created;
        if (room == "new") io0.to("nobody").emit("x", sio::Args{1});  // (a publish: its keep_up)
        --depth;
      });
  // Another writer's joins for that socket, over half the ring, while worker 0 reads nothing.
  auto w = shm::RingWriter::attach(*segment_, {"stand-in", -1}).value();
  std::uint64_t first = 0, at = 0;
  int joins = 0;
  for (; at - first < (6u << 17); ++joins) {  // (768 KiB of a 1 MiB ring)
    const std::string body = cluster::write_message(
        {{"nsp", "/"}, {"sid", sid}, {"rooms", boost::json::array{"r-" + std::to_string(joins)}}});
    ASSERT_EQ(w.publish(static_cast<std::uint16_t>(cluster::MessageType::sockets_join),
                        {reinterpret_cast<const std::byte*>(body.data()), body.size()}, &at),
              shm::PublishStatus::ok);
    if (joins == 0) first = at;
  }
  const std::size_t had = s->rooms().size();
  const std::size_t want = had + static_cast<std::size_t>(joins) + 1;
  s->join("new");
  EXPECT_EQ(s->rooms().size(), had + 1) << "the other writer's joins applied inside the join";
  ASSERT_TRUE(drive([&] { return s->rooms().size() == want; })) << s->rooms().size();
  EXPECT_EQ(created, joins + 1);
  EXPECT_EQ(deepest, 1) << "a room listener entered again inside a change of the rooms";
  (void)k;
}

// A draining worker tells the others at once that it takes no fresh handshakes: its load figure
// is the most a worker can have, so that rebalancing steers none to it while it closes (before
// 2026-12-03 it said 0 clients once its clients were closed, and drew every other worker's fresh
// handshakes, which it then dropped).
TEST_P(ClusterAdapterTest, ADrainingWorkerSaysItTakesNoFreshHandshakes) {
  const shm::Segment& ring = GetParam() ? worker_rings_[1] : *segment_;
  auto reader = shm::RingReader::attach(ring, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  workers_[1]->node->draining();
  std::vector<std::uint64_t> said;
  reader->poll([&](const shm::RecordView& v) {
    if (v.type != static_cast<std::uint16_t>(cluster::MessageType::load)) return;
    if (auto m = cluster::read_message(v.payload))
      if (const auto* c = m->body.if_contains("clients"); c && c->is_uint64())
        said.push_back(c->get_uint64());
  });
  EXPECT_EQ(said, std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()})
      << "said at once, within draining()";
}

TEST_P(ClusterAdapterTest, FetchSocketsSeesBothWorkersAndOperatesOnARemoteSocket) {
  const auto a = connect(0);
  const auto b = connect(1);
  std::vector<sio::RemoteSocket> got;
  bool done = false;
  workers_[0]->server->of("/").fetch_sockets([&](std::vector<sio::RemoteSocket> all) {
    got = std::move(all);
    done = true;
  });
  ASSERT_TRUE(drive([&] { return done; }));
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> ids;
  for (const auto& s : got) ids.insert(s.id());
  EXPECT_EQ(ids, (std::set<std::string>{a.second, b.second}));
  for (const auto& s : got)
    EXPECT_TRUE(s.rooms().count(s.id() == b.second ? "w1" : "w0")) << s.id();
  // Through worker 0: b (on worker 1) joins "vip" and gets an emit of its own.
  for (const auto& s : got)
    if (s.id() == b.second) {
      s.join("vip");
      s.emit("direct", sio::Args{"hi"});
    }
  ASSERT_TRUE(drive([&] { return events(b.first).size() == 1; }));
  workers_[0]->server->of("/").to("vip").emit("vip", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(b.first).size() == 2; }));
  EXPECT_EQ(events(b.first), (std::vector<std::string>{R"(["direct","hi"])", R"(["vip"])"}));
  EXPECT_TRUE(events(a.first).empty());
}

// remoteSocket.timeout(ms).emit(event, cb) across workers: the answer of a socket on another
// worker; an unanswered one times out; once the socket is gone, the emit reaches no one and says
// so (socket.io calls back with neither an error nor an answer there).
TEST_P(ClusterAdapterTest, ARemoteSocketsEmitWithAckGetsItsOneAnswer) {
  const auto b = connect(1);
  std::vector<sio::RemoteSocket> got;
  bool fetched = false;
  workers_[0]->server->of("/").fetch_sockets([&](std::vector<sio::RemoteSocket> all) {
    got = std::move(all);
    fetched = true;
  });
  ASSERT_TRUE(drive([&] { return fetched; }));
  ASSERT_EQ(got.size(), 1u);
  const sio::RemoteSocket& remote = got.front();
  ASSERT_EQ(remote.id(), b.second);
  struct Answer {
    bool called = false;
    std::optional<std::string> error;
    sio::Args args;
  };
  auto ask = [&](std::chrono::milliseconds timeout, Answer& into) {
    remote.timeout(timeout).emit_with_ack("q", sio::Args{"x"},
                                          [&into](std::optional<std::string> e, sio::Args a) {
                                            EXPECT_FALSE(into.called) << "called twice";
                                            into = {true, std::move(e), std::move(a)};
                                          });
  };
  Answer answered;
  ask(10s, answered);
  ASSERT_TRUE(drive([&] { return events(b.first).size() == 1; }));
  // "42<ack id>[\"q\",\"x\"]": the client answers with the id.
  const std::string m = events(b.first).front();
  const std::string id = m.substr(0, m.find('['));
  ASSERT_FALSE(id.empty()) << m;
  EXPECT_EQ(m.substr(id.size()), R"(["q","x"])");
  clients_[b.first].client->send_text("43" + id + R"(["yes",2])");
  ASSERT_TRUE(drive([&] { return answered.called; }));
  EXPECT_FALSE(answered.error) << *answered.error;
  EXPECT_EQ(answered.args.values, (boost::json::array{"yes", 2}));

  Answer unanswered;
  ask(300ms, unanswered);
  ASSERT_TRUE(drive([&] { return unanswered.called; }));
  EXPECT_EQ(unanswered.error, std::optional<std::string>("operation has timed out"));
  EXPECT_TRUE(unanswered.args.values.empty());

  drop(b.first, 1);
  Answer gone;
  ask(10s, gone);
  ASSERT_TRUE(drive([&] { return gone.called; }));
  EXPECT_EQ(gone.error, std::optional<std::string>("socket has been disconnected"));
  EXPECT_TRUE(gone.args.values.empty());
}

TEST_P(ClusterAdapterTest, ServerSideEmitWithAcksGetsTheOtherWorkersAnswer) {
  workers_[1]->server->of("/").on_server_side(
      "ping", [](sio::Args args, std::function<void(sio::Args)> ack) {
        ack(sio::Args{args.values.at(0).as_int64() + 1});
      });
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{41}, 2s, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].values.at(0), 42);
}

// serverSideEmit's ack may be called from another thread, as an event's Ack (the same C++ type),
// and let go of there: the answer is written by the worker's loop, not on the caller's thread
// (before 2026-12-07 the caller's thread wrote into the ring and the node's books: a data race; a
// review).
TEST_P(ClusterAdapterTest, AServerSideAckCalledFromAnotherThreadAnswersOnTheLoop) {
  std::function<void(sio::Args)> kept;
  workers_[1]->server->of("/").on_server_side(
      "ping", [&kept](sio::Args, std::function<void(sio::Args)> ack) { kept = std::move(ack); });
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{41}, 5s, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  ASSERT_TRUE(drive([&] { return static_cast<bool>(kept); }));
  const std::uint64_t before = workers_[1]->node->stats().messages_published;
  std::thread([&kept] {
    kept(sio::Args{42});
    kept = nullptr;  // (the last copy, let go of on this thread)
  }).join();
  EXPECT_EQ(workers_[1]->node->stats().messages_published, before) << "written off the loop";
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].values.at(0), 42);
}

// A namespace only worker 0 has (a dynamic one, made where a client asked for it): worker 1 says
// it is not a server of it, and the request completes with no answer and no error, as socket.io
// counts only the servers of the namespace (before, it waited for its timeout and failed).
TEST_P(ClusterAdapterTest, ServerSideEmitWithAckToANamespaceNoOtherWorkerHasCompletesAtOnce) {
  std::optional<std::string> error = "not called";
  std::size_t answers = 99;
  workers_[0]
      ->server->of("/only-here")
      .server_side_emit_with_ack("ping", sio::Args{1}, 8s,
                                 [&](std::optional<std::string> e, std::vector<sio::Args> r) {
                                   error = std::move(e);
                                   answers = r.size();
                                 });
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
  EXPECT_EQ(answers, 0u);
}

// A broadcast with acks whose target on another worker disconnects without answering: that
// worker says the answer will not come, and the request completes at once with the answers that
// did ("operation has timed out", as in one process and at the timeout), not at its 60 s timeout.
// (Before, the other worker said nothing: the requester waited its whole timeout.)
TEST_P(ClusterAdapterTest, ABroadcastAckWhoseRemoteTargetLeavesCompletesWithoutItsTimeout) {
  const auto [answering, a_sid] = connect(1);
  const auto [leaving, l_sid] = connect(1);
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> responses;
  workers_[0]->server->of("/").timeout(60s).emit_with_ack(
      "q", sio::Args{}, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        responses = std::move(r);
      });
  ASSERT_TRUE(drive([&] { return !events(answering).empty() && !events(leaving).empty(); }));
  // "42<ack id>[\"q\"]": the answering client acks with its id.
  const std::string& m = clients_[answering].messages.back();
  const std::string id = m.substr(2, m.find('[') - 2);
  ASSERT_FALSE(id.empty()) << m;
  clients_[answering].client->send_text("43" + id + R"(["from a"])");
  drop(leaving, 1);
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }))
      << "still waiting for the target that left";
  EXPECT_EQ(error, std::optional<std::string>("operation has timed out"));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].values.at(0), "from a");
}

// A broadcast with acks does not take the ack id of one still waiting (ids wrap): with ids that
// alternate between two values (a stride as large as they go), the third broadcast would take the
// first's id while it waits; it takes the free one, and each gets its own answers (before
// 2026-12-05 the third replaced the first's tracking, and ended with "operation has timed out"
// though its client answered; found by a review).
class ClusterTwoAckIdsTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    ack_id_stride_ = sio::kMaxAckId;  // (worker 0's ids: 0, 2^31 - 1, 0, ...)
    ClusterAdapterTest::SetUp();
  }
};
TEST_P(ClusterTwoAckIdsTest, ABroadcastWithAcksPassesOverTheIdOfOneStillWaiting) {
  const auto [c, sid] = connect(1);
  struct Answer {
    std::optional<std::string> error = "not called";
    std::vector<sio::Args> responses;
  };
  auto ask = [&](std::chrono::milliseconds timeout, Answer& into) {
    workers_[0]->server->of("/").timeout(timeout).emit_with_ack(
        "q", sio::Args{}, [&into](std::optional<std::string> e, std::vector<sio::Args> r) {
          into.error = std::move(e);
          into.responses = std::move(r);
        });
  };
  // The ack ids client c was asked under, in order ("42<id>[\"q\"]").
  auto asked = [&] {
    std::vector<std::string> ids;
    for (const std::string& m : clients_[c].messages)
      if (const auto at = m.find("[\"q\""); m.rfind("42", 0) == 0 && at != std::string::npos)
        ids.push_back(m.substr(2, at - 2));
    return ids;
  };
  Answer first, second, third;
  ask(30s, first);  // left waiting
  ask(30s, second);
  ASSERT_TRUE(drive([&] { return asked().size() == 2; }));
  clients_[c].client->send_text("43" + asked()[1] + R"(["two"])");
  ASSERT_TRUE(drive([&] { return second.error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(second.error) << *second.error;
  ask(30s, third);
  ASSERT_TRUE(drive([&] { return asked().size() == 3; }));
  const auto ids = asked();
  EXPECT_NE(ids[2], ids[0]) << "the id of a broadcast still waiting, taken again";
  EXPECT_EQ(first.error, std::optional<std::string>("not called")) << "the first still waits";
  // Both ids taken by requests still waiting (the first and the third): the fourth takes one of
  // them after its 16 tries, and the request it replaces ends at once, "operation has timed out"
  // (before 2026-12-05 it lost its tracking, and each got the other's answers).
  Answer fourth;
  ask(30s, fourth);
  ASSERT_TRUE(drive([&] { return asked().size() == 4; }));
  ASSERT_TRUE(drive([&] {
    return first.error != std::optional<std::string>("not called") ||
           third.error != std::optional<std::string>("not called");
  })) << "the replaced request still waits";
  Answer& replaced = first.error != std::optional<std::string>("not called") ? first : third;
  Answer& kept = &replaced == &first ? third : first;
  EXPECT_EQ(replaced.error, std::optional<std::string>("operation has timed out"));
  EXPECT_EQ(kept.error, std::optional<std::string>("not called"));
  // (The fourth itself may end early: the client's socket held the replaced one's id, and its
  // worker says that ack lost when the fourth takes the id there. Not looked at.)
}

// Past its requester's timeout a broadcast ack's target says nothing more: neither its answer nor
// that it left goes through the ring (nobody waits for them). Before its timeout, both are said
// (an answer; a "lost" one): the controls that such records are seen here.
TEST_P(ClusterAdapterTest, ABroadcastAcksTargetSaysNothingPastItsRequestersTimeout) {
  const auto [late, late_sid] = connect(1);
  const auto [leaving, l_sid] = connect(1);
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[1] : *segment_,
                                        {"stand-in", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  // Worker 1's broadcast_ack records from here to a "marker" broadcast it makes now.
  auto acks_said = [&] {
    workers_[1]->server->of("/").emit("marker");
    std::size_t acks = 0;
    bool marker = false;
    EXPECT_TRUE(drive([&] {
      reader.value().poll([&](const shm::RecordView& v) {
        if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast_ack)) ++acks;
        if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast))
          marker = marker || std::string_view(reinterpret_cast<const char*>(v.payload.data()),
                                              v.payload.size())
                                     .find("marker") != std::string_view::npos;
      });
      return marker;
    }));
    return acks;
  };
  // The "q" requests client k has received: their ack ids ("42<id>[\"q\"]").
  auto asked_ids = [&](std::size_t k) {
    std::vector<std::string> ids;
    for (const std::string& m : clients_[k].messages)
      if (const auto at = m.find("[\"q\""); m.rfind("42", 0) == 0 && at != std::string::npos)
        ids.push_back(m.substr(2, at - 2));
    return ids;
  };
  auto ask = [&](std::chrono::milliseconds timeout) {
    auto error = std::make_shared<std::optional<std::string>>("not called");
    workers_[0]->server->of("/").timeout(timeout).emit_with_ack(
        "q", sio::Args{},
        [error](std::optional<std::string> e, std::vector<sio::Args>) { *error = std::move(e); });
    return error;
  };
  const std::optional<std::string> waiting = "not called";
  // Controls, before the timeout: the target that leaves is said lost, the other's answer sent.
  const auto first = ask(60s);
  ASSERT_TRUE(drive([&] { return asked_ids(leaving).size() == 1 && asked_ids(late).size() == 1; }));
  drop(leaving, 1);
  EXPECT_EQ(acks_said(), 1u) << "the target that left was not said lost";
  const sio::SocketPtr on_1 = workers_[1]->server->of("/").socket(late_sid);
  ASSERT_TRUE(on_1);
  clients_[late].client->send_text("43" + asked_ids(late).at(0) + "[1]");
  ASSERT_TRUE(drive([&] { return *first != waiting; }));
  EXPECT_EQ(acks_said(), 1u) << "the answer was not said";
  // Past the timeout: an answer (not published), then a target leaving (not said lost).
  enum Case { answer_past_timeout, target_leaves };
  for (const Case c : {answer_past_timeout, target_leaves}) {
    const auto asked = ask(100ms);
    const std::size_t n = 2 + static_cast<std::size_t>(c);
    ASSERT_TRUE(drive([&] { return asked_ids(late).size() == n; }));
    // (Worker 1's deadline: 100 ms after the broadcast reached it, before this.)
    const auto seen = std::chrono::steady_clock::now();
    ASSERT_TRUE(drive([&] { return *asked != waiting; }));
    EXPECT_EQ(*asked, std::optional<std::string>("operation has timed out"));
    ASSERT_TRUE(drive([&] { return std::chrono::steady_clock::now() > seen + 150ms; }));
    if (c == target_leaves) {
      drop(late, 1);
    } else {
      ASSERT_EQ(on_1->pending_acks(), 1u);
      clients_[late].client->send_text("43" + asked_ids(late).at(n - 1) + "[2]");
      ASSERT_TRUE(drive([&] { return on_1->pending_acks() == 0; }));  // (worker 1 took it)
    }
    EXPECT_EQ(acks_said(), 0u) << (c == answer_past_timeout
                                       ? "the late answer was published"
                                       : "a target that left past the timeout was said lost");
  }
}

// An answer too large for a ring record: the answering worker says that it will not come, and
// the request completes without it at once ("operation has timed out", as at the timeout),
// instead of waiting the 8 s.
TEST_P(ClusterAdapterTest, AnAnswerTooLargeToPublishIsSaidLostAndTheRequestCompletes) {
  workers_[1]->server->of("/").on_server_side(
      "big", [](sio::Args, std::function<void(sio::Args)> ack) {
        ack(sio::Args{std::string(2 << 20, 'x')});  // (the test's rings are 1 MiB)
      });
  expect_answer_said_lost("big", "could not publish");
}

// The same for an answer that fits a record by its bytes but has more binary parts than a
// record may carry (kMaxRecordBinaries, 65,536; rings of 4 MiB here: 512 KiB records): refused
// when published. Before 2026-12-05 it was published, every reader skipped it as a bad record,
// and the request waited out its timeout (found by a review). An emitter's serverSideEmit with
// that many binaries says so.
class ClusterAdapterLargeRingTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    ring_bytes_ = 4 << 20;
    ClusterAdapterTest::SetUp();
  }
};
TEST_P(ClusterAdapterLargeRingTest, AnAnswerWithTooManyBinaryPartsIsSaidLost) {
  auto many = [] {  // (one small value, 65,537 empty binaries: 262 KB)
    std::vector<sio::Binary> binaries(cluster::kMaxRecordBinaries + 1,
                                      std::make_shared<const std::string>());
    return sio::Args(boost::json::array{"x"}, std::move(binaries));
  };
  workers_[1]->server->of("/").on_server_side(
      "many", [&many](sio::Args, std::function<void(sio::Args)> ack) { ack(many()); });
  expect_answer_said_lost("many", "over 65536 binary parts");
  cluster::Emitter em(ring_);
  EXPECT_FALSE(em.of("/").server_side_emit("many", many()));
  EXPECT_EQ(em.last_error(), "over 65536 binary arguments");
  // (A reserved server-side name is refused too, as Namespace::server_side_emit refuses it.)
  EXPECT_FALSE(em.of("/").server_side_emit("connection", sio::Args{"x"}));
  EXPECT_EQ(em.last_error(), "\"connection\" is a reserved event name");
  // One part fewer is published, and answers.
  workers_[1]->server->of("/").on_server_side(
      "fewer", [](sio::Args, std::function<void(sio::Args)> ack) {
        ack(sio::Args(boost::json::array{"x"},
                      std::vector<sio::Binary>(cluster::kMaxRecordBinaries,
                                               std::make_shared<const std::string>())));
      });
  std::optional<std::string> error = "not called";
  std::size_t parts = 0;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "fewer", sio::Args{}, 8s, [&](std::optional<std::string> e, std::vector<sio::Args> a) {
        error = std::move(e);
        if (!a.empty()) parts = a[0].binaries.size();
      });
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_EQ(error, std::nullopt);
  EXPECT_EQ(parts, cluster::kMaxRecordBinaries);
}
// A worker counts as a responder once its Node has started, not from when it is made: a
// restarting worker's app setup (seconds: a database to reach) lies between the two, and until
// 2026-12-07 every request of the others in that time (a broadcast with acks, serverSideEmit with
// an ack, fetchSockets) waited for its answer and timed out (a review). Once started it counts.
class ClusterLateStartTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    late_worker_1_ = true;
    ClusterAdapterTest::SetUp();
  }
};
TEST_P(ClusterLateStartTest, AWorkerNotStartedYetIsNotWaitedFor) {
  auto ask = [&](std::optional<std::string>& error) {
    error = "not called";
    workers_[0]->server->of("/").timeout(2s).emit_with_ack(
        "q", sio::Args{},
        [&error](std::optional<std::string> e, std::vector<sio::Args>) { error = std::move(e); });
  };
  std::optional<std::string> acks, emit;
  const auto asked = std::chrono::steady_clock::now();
  ask(acks);
  emit = "not called";
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "s", sio::Args{}, 2s,
      [&emit](std::optional<std::string> e, std::vector<sio::Args>) { emit = std::move(e); });
  ASSERT_TRUE(drive([&] {
    return acks != std::optional<std::string>("not called") &&
           emit != std::optional<std::string>("not called");
  }));
  EXPECT_EQ(acks, std::nullopt) << "no client anywhere: done, no error";
  EXPECT_EQ(emit, std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s) << "waited for worker 1";
  EXPECT_EQ(workers_[0]->node->server_count(), 1u);
  // Started, it counts: a client of its answers a broadcast's ack.
  start_late(1);
  EXPECT_EQ(workers_[0]->node->server_count(), 2u);
  const auto [c, sid] = connect(1);
  (void)sid;
  std::vector<sio::Args> answers;
  std::optional<std::string> error = "not called";
  workers_[0]->server->of("/").timeout(5s).emit_with_ack(
      "q", sio::Args{}, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  std::string id;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[c].messages)
      if (m.rfind("42", 0) == 0 && m.find("[\"q\"]") != std::string::npos)
        id = m.substr(2, m.find('[') - 2);
    return !id.empty();
  }));
  clients_[c].client->send_text("43" + id + "[\"a\"]");
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_EQ(error, std::nullopt);
  EXPECT_EQ(answers.size(), 1u);
}
INSTANTIATE_TEST_SUITE_P(Rings, ClusterLateStartTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });
INSTANTIATE_TEST_SUITE_P(Rings, ClusterTwoAckIdsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });
INSTANTIATE_TEST_SUITE_P(Rings, ClusterAdapterLargeRingTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });

// Publish failures that an app's emits repeat at their own rate are said on stderr once per 10 s,
// with the count so far (before 2026-12-05 a line each: a loop of them flooded the log), and
// counted each (shmio_ring_publish_failures_total).
TEST_P(ClusterAdapterTest, PublishFailuresAreSaidAtMostOncePer10s) {
  const std::string too_long(70000, 'r');  // (a room name over 65535 bytes: not in a record)
  const std::uint64_t before = workers_[0]->node->stats().publish_failures;
  testing::internal::CaptureStderr();
  for (int i = 0; i < 3; ++i) workers_[0]->server->of("/").to(too_long).emit("e", sio::Args{i});
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_EQ(workers_[0]->node->stats().publish_failures, before + 3);
  const std::string line = "was delivered on this worker only";
  const std::size_t first = said.find(line);
  ASSERT_NE(first, std::string::npos) << said;
  EXPECT_EQ(said.find(line, first + 1), std::string::npos) << "said more than once: " << said;
  EXPECT_NE(said.find("publish failures so far"), std::string::npos) << said;
}

// A fetchSockets answer over half the ring (the test's rings: 1 MiB), shared by the workers that
// write into it (two on the shared ring, one on a worker's own): the parts past it are left out
// and that is said (every worker answers at once: more than a ring holds would lap its readers).
TEST_P(ClusterAdapterTest, AFetchSocketsAnswerOverHalfTheRingIsCutAndSaid) {
  constexpr int kSockets = 80;  // 80 x 10 KB: 800 KB, over 512 KiB and 256 KiB
  for (int i = 0; i < kSockets; ++i) {
    const auto [k, sid] = connect(1);
    workers_[1]->server->of("/").socket(sid)->data() = std::string(10000, 'd');
  }
  std::optional<std::size_t> count;
  testing::internal::CaptureStderr();
  workers_[0]->server->of("/").fetch_sockets(
      [&](std::vector<sio::RemoteSocket> all) { count = all.size(); });
  const bool completed = drive([&] { return count.has_value(); });
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(completed);
  EXPECT_GT(*count, 0u);
  EXPECT_LT(*count, static_cast<std::size_t>(kSockets));
  // (What it kept is 256 or 512 KiB at most: about 25 or 50 of these sockets.)
  EXPECT_GE(*count, GetParam() ? 40u : 20u);
  const std::string bound = GetParam() ? "524288" : "262144";
  EXPECT_NE(said.find("fetchSockets: the answer is over " + bound +
                      " bytes (half the ring, shared by the workers that write into it): " +
                      std::to_string(kSockets - *count) + " of its sockets were left out"),
            std::string::npos)
      << said;
}

// An app may keep a server-side emit's ack and call it after its Node is gone: it does nothing
// (it used to reach into the freed Node: a use after free that the ASan build of this test
// reports).
TEST_P(ClusterAdapterTest, AnAckKeptByTheAppAndCalledAfterItsNodeIsGoneDoesNothing) {
  std::function<void(sio::Args)> kept;
  workers_[1]->server->of("/").on_server_side(
      "keep", [&](sio::Args, std::function<void(sio::Args)> ack) { kept = std::move(ack); });
  std::optional<std::string> error = "not called";
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "keep", sio::Args{}, 8s,
      [&](std::optional<std::string> e, std::vector<sio::Args>) { error = std::move(e); });
  ASSERT_TRUE(drive([&] { return static_cast<bool>(kept); }));
  stop(*workers_[1]);
  workers_[1].reset();
  kept(sio::Args{1});
  // Worker 0 learns that worker 1 left and completes without its answer.
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
}

TEST_P(ClusterAdapterTest, ARequestWhoseOtherWorkerStopsCompletesWithWhatCame) {
  connect(0);
  connect(1);
  // Worker 1 leaves the ring (its producer slot released with its Node): a fetch from worker 0
  // then completes with worker 0's own socket, not at the timeout.
  stop(*workers_[1]);
  workers_[1].reset();
  ASSERT_TRUE(drive([&] { return workers_[0]->server->of("/").server_count() == 1; }));
  std::optional<std::size_t> count;
  const auto asked = std::chrono::steady_clock::now();
  workers_[0]->server->of("/").fetch_sockets(
      [&](std::vector<sio::RemoteSocket> all) { count = all.size(); });
  ASSERT_TRUE(drive([&] { return count.has_value(); }));
  EXPECT_EQ(*count, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 3s) << "not the 5 s timeout";
}

// fetch_sockets(done) waits for other workers' answers as long as its operator's timeout says
// (socket.io's io.timeout(ms).fetchSockets()), not a fixed 5 s: with a worker that never answers
// (a stand-in for worker 1 that holds its slots and reads nothing), done comes at that timeout,
// with what came.
TEST_P(ClusterAdapterTest, FetchSocketsWaitsForItsOperatorsTimeout) {
  connect(0);
  StandIn silent;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(silent));
  ASSERT_TRUE(drive([&] { return workers_[0]->server->of("/").server_count() == 2; }));
  std::optional<std::size_t> count;
  const auto asked = std::chrono::steady_clock::now();
  workers_[0]->server->of("/").timeout(300ms).fetch_sockets(
      [&](std::vector<sio::RemoteSocket> all) { count = all.size(); });
  ASSERT_TRUE(drive([&] { return count.has_value(); }));
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(*count, 1u) << "worker 0's own socket";
  EXPECT_GE(took, 250ms) << "it waited for the silent worker";
  EXPECT_LT(took, 3s) << "its operator's 300 ms, not 5 s";
}

// Worker 1 goes, and a process that took its place dies in the middle of a record (a SIGKILLed
// child, its claim in flight on the ring worker 1 writes: with a ring per worker, its own, which
// that process then held); worker 1 started again takes its place — with a ring per worker, takes
// that dead holder's ring over, its claim padded — and broadcasts flow both ways.
TEST_P(ClusterAdapterTest, AWorkerStartedAgainTakesItsPlaceAndItsRing) {
  const auto a = connect(0);
  stop(*workers_[1]);
  workers_[1].reset();
  const shm::Segment& ring1 = GetParam() ? worker_rings_[1] : *segment_;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = shm::RingWriter::attach(ring1, {"worker-1", -1});
    if (!w) ::_exit(1);
    (void)w.value().claim(100, static_cast<std::uint16_t>(cluster::MessageType::namespaces));
    ::raise(SIGKILL);  // (holding the ring and a claim)
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child could not attach";
  start(1);  // (with a ring per worker: the ring the dead child held, taken over)
  const auto b = connect(1);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->of("/").server_count() == 2; }));
  workers_[1]->server->of("/").emit("from-1", sio::Args{});
  workers_[0]->server->of("/").emit("from-0", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(a.first).size() == 2 && events(b.first).size() == 2; }));
  for (const auto k : {a.first, b.first}) {
    auto got = events(k);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{R"(["from-0"])", R"(["from-1"])"}));
  }
}

// Calls fn(body) for each of worker 0's NAMESPACES records (its announcements to the fleet
// bridge) that `reader` has now.
static void worker0_announcements(shm::RingReader& reader,
                                  const std::function<void(const boost::json::object&)>& fn) {
  reader.poll([&](const shm::RecordView& v) {
    if (v.type != static_cast<std::uint16_t>(cluster::MessageType::namespaces)) return;
    const auto body = cluster::read_message(v.payload)->body;
    if (body.at("worker").to_number<int>() == 0) fn(body);
  });
}

// Namespaces made in one turn (here 200, as a client CONNECTing to many dynamic ones makes them)
// are announced to the fleet bridge in one record, not one each listing every name (a square of
// their count in the ring, before 2026-12-03; a helper's review).
TEST_P(ClusterAdapterTest, NamespacesMadeInOneTurnAreAnnouncedOnce) {
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                        {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  // (Announced only while a fleet bridge holds a slot: the next test.)
  auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(bridge) << bridge.error().message;
  for (int i = 0; i < 200; ++i) workers_[0]->server->of("/dyn-" + std::to_string(i));
  int records = 0;  // (worker 0's announcements)
  std::size_t names = 0;
  const auto read = [&] {
    worker0_announcements(reader.value(), [&](const boost::json::object& body) {
      ++records;
      names = body.at("nsps").as_array().size();
    });
  };
  ASSERT_TRUE(drive([&] {
    read();
    return names == 201;  // ("/" and the 200)
  }));
  for (int i = 0; i < 10; ++i) io_.poll();  // (any later one)
  read();
  EXPECT_EQ(records, 1);
}

// Without a fleet bridge on the ring, namespaces made and removed are not announced: every other
// worker read and parsed each announcement to no end, and a client CONNECTing to dynamic
// namespaces one a turn made that a square of their count on every worker (a review,
// 2026-12-06). Nor for a bridge killed holding its slot. A bridge that attaches then asks, and
// hears every name; from then on each one made is announced.
TEST_P(ClusterAdapterTest, NamespacesAreAnnouncedOnlyWhileAFleetBridgeIsAttached) {
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                        {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  int records = 0;  // (worker 0's announcements)
  std::size_t names = 0;
  bool late = false;
  const auto read = [&] {
    worker0_announcements(reader.value(), [&](const boost::json::object& body) {
      ++records;
      names = body.at("nsps").as_array().size();
      for (const auto& n : body.at("nsps").as_array()) late = late || n.as_string() == "/late";
    });
  };
  // (A bridge killed holding its slot, left ACTIVE: no bridge.)
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
    if (!w) ::_exit(1);
    ::raise(SIGKILL);
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child could not attach";
  for (int turn = 0; turn < 20; ++turn) {  // (one a turn, as such a client makes them)
    workers_[0]->server->of("/dyn-" + std::to_string(turn));
    io_.poll();
  }
  for (int i = 0; i < 10; ++i) io_.poll();  // (any announcement posted has run)
  read();
  EXPECT_EQ(records, 0) << "announced with no bridge to hear it";
  auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(bridge) << bridge.error().message;
  const std::string ask = cluster::write_message({});
  ASSERT_EQ(bridge->publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces_request),
                            {reinterpret_cast<const std::byte*>(ask.data()), ask.size()}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    read();
    return names == 21;  // ("/" and the 20)
  })) << records
      << " announcements, the last with " << names << " names";
  workers_[0]->server->of("/late");
  ASSERT_TRUE(drive([&] {
    read();
    return late;
  }));
  EXPECT_EQ(names, 22u);
}

// Names more than half a ring record as JSON (1,000 names of ~110 bytes, each with a control
// character escaped to 6 bytes: 116 KB, on 1 MiB rings: 64 KiB a part) are announced in parts,
// "part" i of "parts" n, each within a record, every name in one of them; and so when the bridge
// asks with the rooms (the names' parts first, the last sharing the rooms' first; on a worker's
// own ring 2,900 rooms of 24 bytes take a part more). Before 2026-12-06 one record held them
// all, past the largest not published (a review). Past their bound (a quarter of the ring, shared
// by the workers writing into it, with the rooms) names are left out and the last part says
// "nsps_incomplete".
TEST_P(ClusterAdapterTest, ManyNamesAreAnnouncedInParts) {
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                        {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(bridge) << bridge.error().message;
  std::set<std::string> made{"/"};
  const auto make = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string name = "/n-" + std::to_string(i) + "-" + std::string(100, 'a') + "\x01";
      workers_[0]->server->of(name);
      made.insert(name);
    }
  };
  make(0, 1000);
  const auto [k, sid] = connect(0);
  ASSERT_FALSE(sid.empty());
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  // (Names and rooms share the bound: 400 rooms beside the names fit the shared ring's 128 KiB;
  // a worker's own ring, 256 KiB, takes 2,500 more, two parts of rooms after the names'.)
  const int room_count = GetParam() ? 2900 : 400;
  for (int i = 0; i < room_count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "a-room-of-many-%08d", i);
    s->join(sio::Room(name));
  }
  struct Told {
    std::set<std::string> names, rooms;
    std::uint64_t parts = 0, seen = 0;
    bool incomplete = false;
  };
  const auto told = [&](Told& t, bool rooms) {
    return drive([&] {
      worker0_announcements(*reader, [&](const boost::json::object& body) {
        if (body.contains("rooms") != rooms) return;
        const std::uint64_t part =
            body.contains("part") ? body.at("part").to_number<std::uint64_t>() : 0;
        EXPECT_EQ(part, t.seen) << "in order";
        t.parts = body.contains("parts") ? body.at("parts").to_number<std::uint64_t>() : 1;
        ++t.seen;
        t.incomplete = body.contains("nsps_incomplete");
        if (const auto* n = body.if_contains("nsps"))
          for (const auto& e : n->as_array()) t.names.emplace(e.as_string());
        if (rooms)
          if (const auto* l = body.at("rooms").as_object().if_contains("/"))
            for (const auto& r : l->as_array()) t.rooms.emplace(r.as_string());
      });
      return t.parts != 0 && t.seen == t.parts;
    });
  };
  const auto ask = [&] {
    const std::string said = cluster::write_message({{"rooms", "all"}});
    return bridge->publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces_request),
                           {reinterpret_cast<const std::byte*>(said.data()), said.size()});
  };
  Told plain;
  ASSERT_TRUE(told(plain, false)) << plain.seen << " of " << plain.parts;
  EXPECT_GE(plain.parts, 2u);
  EXPECT_EQ(plain.names, made);
  EXPECT_FALSE(plain.incomplete);
  ASSERT_EQ(ask(), shm::PublishStatus::ok);
  Told with_rooms;
  ASSERT_TRUE(told(with_rooms, true)) << with_rooms.seen << " of " << with_rooms.parts;
  EXPECT_GE(with_rooms.parts, GetParam() ? 3u : 2u) << "the names' parts and the rooms'";
  EXPECT_EQ(with_rooms.names, made);
  EXPECT_EQ(std::count_if(with_rooms.rooms.begin(), with_rooms.rooms.end(),
                          [](const std::string& r) { return r.rfind("a-room-of-many-", 0) == 0; }),
            room_count);  // (beside the sockets' own)
  EXPECT_FALSE(with_rooms.incomplete);
  // A name too large for a part on its own (here over a record, 128 KiB; first in their order) is
  // skipped, and the others told as before (it made the announcement's first record too large:
  // none told, at each announcement); the announcement is complete all the same (every name the
  // bridge could hold is told).
  const std::string huge_name = "/a" + std::string(140'000, 'z');
  workers_[0]->server->of(huge_name);
  Told huge;
  ASSERT_TRUE(told(huge, false)) << huge.seen << " of " << huge.parts;
  EXPECT_EQ(huge.names, made);
  EXPECT_FALSE(huge.incomplete);
  // With a socket in the long name's namespace its rooms are not told either (as a key it made a
  // rooms' part too large: none told).
  clients_[k].client->send_text("40" + huge_name + ",");
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("40" + huge_name + ",{", 0) == 0) return true;
    return false;
  })) << "the socket did not join the namespace of the long name";
  ASSERT_EQ(ask(), shm::PublishStatus::ok);
  Told huge_rooms;
  ASSERT_TRUE(told(huge_rooms, true)) << huge_rooms.seen << " of " << huge_rooms.parts;
  EXPECT_EQ(huge_rooms.names, made);
  // 2,000 names more: 348 KB, over the bound (128 KiB on the shared ring, 256 KiB on a worker's
  // own): some left out, the rest told, the last part saying so.
  make(1000, 3000);
  Told over;
  ASSERT_TRUE(told(over, false)) << over.seen << " of " << over.parts;
  EXPECT_TRUE(over.incomplete);
  EXPECT_GT(over.names.size(), 1000u);
  // (The first of the names in their order: the bridge keeps those after the last told.)
  ASSERT_LT(over.names.size(), made.size());
  EXPECT_TRUE(std::equal(over.names.begin(), over.names.end(), made.begin())) << "not a prefix";
}

// Rooms are told (ROOM_CHANGED) for a bridge that asked for them only while a bridge holds a
// slot of the ring: once it has left, within the second, a room made is no longer told (a record
// each, read by every worker to no end; before 2026-12-07 until the worker's end); a bridge that
// attaches again and asks is told again.
TEST_P(ClusterAdapterTest, RoomsAreNoLongerToldOnceTheBridgeLeaves) {
  const auto [k, sid] = connect(0);
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  const auto& stats = workers_[0]->node->stats();
  auto ask = [](shm::RingWriter& bridge) {
    const std::string said = cluster::write_message({{"rooms", "all"}});
    return bridge.publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces_request),
                          {reinterpret_cast<const std::byte*>(said.data()), said.size()});
  };
  int n = 0;
  // A room made now: whether it was told (its record is published at the join).
  auto join_told = [&] {
    const std::uint64_t before = stats.rooms_told;
    s->join(sio::Room("room-" + std::to_string(n++)));
    return stats.rooms_told > before;
  };
  {
    auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
    ASSERT_TRUE(bridge) << bridge.error().message;
    ASSERT_EQ(ask(bridge.value()), shm::PublishStatus::ok);
    ASSERT_TRUE(drive([&] { return join_told(); })) << "the bridge's ask not taken";
    EXPECT_TRUE(join_told());
  }  // (the bridge leaves: its slot is let go)
  testing::internal::CaptureStderr();
  const bool quiet = drive([&] { return !join_told(); });
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(quiet) << "rooms still told with no bridge";
  EXPECT_NE(said.find("shmio[w0]: no fleet bridge holds a slot of the ring any more"),
            std::string::npos)
      << said;
  EXPECT_FALSE(join_told());
  auto again = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(ask(again.value()), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return join_told(); })) << "not told again after a bridge asked";
  (void)k;
}

// Rooms whose names are long as JSON (here 1,600 rooms of 30 control characters, each 6 bytes
// escaped: 300 KB, where their bytes are 64 KB) are sized as JSON: every part of the answer to a
// bridge's request fits a record, and past the bound (a quarter of the ring, shared by the workers
// writing into it) the rest are left out and the last part says "incomplete". Before 2026-12-06 a
// room counted its bytes and 4: the first rooms' part was over a record, refused, and no part
// after it was published — the bridge learned none of the rooms (a bug hunt).
TEST_P(ClusterAdapterTest, RoomsAreSizedAsJsonInTheirParts) {
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                        {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(bridge) << bridge.error().message;
  const auto [k, sid] = connect(0);
  sio::SocketPtr s = workers_[0]->server->of("/").socket(sid);
  ASSERT_TRUE(s);
  std::set<std::string> joined;
  for (int i = 0; i < 1600; ++i) {
    const std::string room = "r" + std::to_string(i) + std::string(30, '\x01');
    s->join(sio::Room(room));
    joined.insert(room);
  }
  const std::string said = cluster::write_message({{"rooms", "all"}});
  ASSERT_EQ(bridge->publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces_request),
                            {reinterpret_cast<const std::byte*>(said.data()), said.size()}),
            shm::PublishStatus::ok);
  std::set<std::string> rooms;
  std::uint64_t parts = 0, seen = 0;
  bool incomplete = false;
  ASSERT_TRUE(drive([&] {
    worker0_announcements(*reader, [&](const boost::json::object& body) {
      if (!body.contains("rooms")) return;
      parts = body.contains("parts") ? body.at("parts").to_number<std::uint64_t>() : 1;
      ++seen;
      incomplete = body.contains("incomplete");
      if (const auto* l = body.at("rooms").as_object().if_contains("/"))
        for (const auto& r : l->as_array()) rooms.emplace(r.as_string());
    });
    return parts != 0 && seen == parts;
  })) << seen
      << " of " << parts << " parts";
  EXPECT_TRUE(incomplete) << "300 KB of rooms over the bound";
  std::size_t told = 0;
  for (const std::string& r : rooms) told += joined.count(r);
  EXPECT_GT(told, 300u);
  EXPECT_LT(told, joined.size());
}

// LOAD records that name no worker of the cluster (an index past it, one that wraps an int, a
// negative one, none) and, on a worker's ring, a RING_OWNER that names no worker of that ring are
// refused and counted (shmio_ring_bad_records_total). Before 2026-12-06 4294967297 was taken as
// worker 1's load, the others and the RING_OWNER dropped without a count (a bug hunt).
TEST_P(ClusterAdapterTest, LoadAndRingOwnerRecordsNamingNoWorkerAreRefusedAndCounted) {
  StandIn fake;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(fake));
  shm::RingWriter& says = fake.own ? *fake.own : *fake.shared;
  const std::uint64_t before = workers_[0]->node->stats().bad_records;
  for (const boost::json::object& body :
       {boost::json::object{{"worker", 4294967297ULL}, {"clients", 7}},
        boost::json::object{{"worker", -1}, {"clients", 7}},
        boost::json::object{{"worker", 2}, {"clients", 7}}, boost::json::object{{"clients", 7}},
        boost::json::object{{"worker", 1}, {"clients", 7}}})  // (the last one is worker 1's)
    ASSERT_EQ(say(says, cluster::MessageType::load, body), shm::PublishStatus::ok);
  std::uint64_t expected = 4;
  if (fake.own) {
    ASSERT_EQ(say(says, cluster::MessageType::ring_owner, {{"worker", 0}, {"id", 3}}),
              shm::PublishStatus::ok);
    ++expected;
  }
  ASSERT_TRUE(drive([&] { return workers_[0]->node->stats().bad_records >= before + expected; }))
      << workers_[0]->node->stats().bad_records - before << " refused";
  // (A marker read after them: nothing else was refused.)
  const auto a = connect(0);
  ASSERT_EQ(say(*fake.shared, cluster::MessageType::load, {{"worker", 1}, {"clients", 1}}),
            shm::PublishStatus::ok);
  workers_[0]->server->of("/").emit("marker", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(a.first, "marker"); }));
  EXPECT_EQ(workers_[0]->node->stats().bad_records, before + expected);
}

// A worker's death (the supervisor's WORKER_DOWN, on the shared ring) comes after everything that
// worker said: its answer to a request counts even when it is far behind in its ring. (With a
// ring per worker the two are on different rings: the dead worker's ring is read to its end
// first. Checked with a stand-in for worker 1 that writes its rings as it would: a hundred
// records, the answer after them — past what one batch of worker 0's reads takes — and then its
// death.)
TEST_P(ClusterAdapterTest, AWorkersDeathIsAppliedAfterEverythingItSaidBeforeIt) {
  StandIn fake;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(fake));
  shm::RingWriter& says = fake.own ? *fake.own : *fake.shared;
  const auto q = ask();
  ASSERT_NE(q->rid, 0u) << "worker 0's request was not in its ring";
  // Worker 0's identity on the wire is its shared-ring slot (in both modes): labelled worker-0.
  const int to = slot_labelled(*segment_, "worker-0");
  for (int i = 0; i < 100; ++i)  // (ignored by workers: for the fleet bridge)
    ASSERT_EQ(say(says, cluster::MessageType::namespaces,
                  {{"worker", 1}, {"nsps", boost::json::array{}}}),
              shm::PublishStatus::ok);
  ASSERT_EQ(say(says, cluster::MessageType::server_side_emit_response,
                {{"requestId", q->rid}, {"to", to}, {"args", boost::json::array{42}}}),
            shm::PublishStatus::ok);
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(supervisor) << supervisor.error().message;
  ASSERT_EQ(say(supervisor.value(), cluster::MessageType::worker_down,
                {{"pid", ::getpid()}, {"worker", 1}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return q->done(); }));
  EXPECT_FALSE(q->error) << *q->error;
  ASSERT_EQ(q->answers.size(), 1u) << "the answer was dropped with its worker";
  EXPECT_EQ(q->answers[0].values.at(0), 42);
}

// With a ring per worker, what a dead worker left unread in its ring is read before its death is
// applied, as any ring is: at most 16 rounds of batches a turn, the clients flushed between, and
// the shared ring's records after the death wait for it. Until 2026-12-07 the whole rest was read
// in the turn that read the death (up to a ring's worth, queued for the clients before any flush:
// past a client's queue bound even a fast client was closed as a slow consumer; a bug hunt).
// Here 3,000 broadcasts to worker 0's client in the dead worker's ring, its death, and after it
// on the shared ring one more: all arrive, in order, the death's rest read over several turns.
TEST_P(ClusterAdapterTest, TheRestOfADeadWorkersRingIsFlushedAsItIsRead) {
  if (!GetParam()) GTEST_SKIP() << "a ring per worker only";
  const auto a = connect(0);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->of("/").socket(a.second) != nullptr; }));
  StandIn fake;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(fake));  // (a ring per worker: its own ring too)
  sio::BroadcastOptions to_w0;
  to_w0.rooms = {"w0"};
  const auto record = [&](const std::string& frame) {
    std::vector<std::byte> rec(cluster::broadcast_size("/", to_w0, frame.size(), {}));
    cluster::write_broadcast(rec, "/", to_w0, cluster::broadcast_flags(to_w0.flags), 0, frame, {});
    return rec;
  };
  constexpr int kRest = 3000;
  const auto type = static_cast<std::uint16_t>(cluster::MessageType::broadcast);
  for (int i = 0; i < kRest; ++i)
    ASSERT_EQ(fake.own->publish(type, record("42[\"d\"," + std::to_string(i) + "]")),
              shm::PublishStatus::ok);
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(supervisor) << supervisor.error().message;
  ASSERT_EQ(
      say(supervisor.value(), cluster::MessageType::worker_down, {{"pid", dead}, {"worker", 1}}),
      shm::PublishStatus::ok);
  ASSERT_EQ(fake.shared->publish(type, record(R"(42["after"])")), shm::PublishStatus::ok);
  const std::uint64_t yields = workers_[0]->node->stats().drain_yields;
  ASSERT_TRUE(drive([&] { return has(a.first, "after"); }));
  const std::vector<std::string> got = events(a.first);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kRest) + 1);
  for (int i = 0; i < kRest; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i)], "[\"d\"," + std::to_string(i) + "]") << i;
  EXPECT_EQ(got.back(), R"(["after"])");
  // (3,000 records at 1,024 a turn: cut at the budget at least twice; none before. With 5,000,
  // over a client's queue bound, the old code closed the client as a slow consumer: 0 arrived.)
  EXPECT_GE(workers_[0]->node->stats().drain_yields - yields, 2u);
}

// Records of a worker ring whose writer's shared slot was taken again since its RING_OWNER said
// it (a dead worker's last records, once another process has its slot) name nobody: its LOAD is
// ignored, and its count for a request does not make that request wait for it.
TEST_P(ClusterAdapterTest, RecordsOfAWorkerWhoseSlotWasTakenAgainAreNotTakenForAnyone) {
  if (!GetParam()) GTEST_SKIP() << "a worker ring's records only";
  stop(*workers_[1]);
  workers_[1].reset();
  std::optional<shm::RingWriter> gone;  // the dead worker's shared slot
  {
    auto w = shm::RingWriter::attach(*segment_, {"worker-1", -1});
    ASSERT_TRUE(w) << w.error().message;
    gone.emplace(std::move(w.value()));
  }
  auto own = shm::RingWriter::attach(worker_rings_[1], {"worker-1", -1});
  ASSERT_TRUE(own) << own.error().message;
  ASSERT_EQ(say(own.value(), cluster::MessageType::ring_owner, owner_of_ring(*segment_, *gone)),
            shm::PublishStatus::ok);
  const int gone_id = gone->id();
  gone.reset();
  // Its slot, taken by the one responder: a stand-in on the shared ring that answers there.
  auto responder = shm::RingWriter::attach(*segment_, {"worker-2", -1});
  ASSERT_TRUE(responder) << responder.error().message;
  ASSERT_EQ(responder.value().id(), gone_id);
  const auto q = ask();
  ASSERT_NE(q->rid, 0u);
  const int to = slot_labelled(*segment_, "worker-0");
  ASSERT_GE(to, 0);
  ASSERT_EQ(say(own.value(), cluster::MessageType::load, {{"worker", 1}, {"clients", 7}}),
            shm::PublishStatus::ok);
  ASSERT_EQ(say(own.value(), cluster::MessageType::broadcast_client_count,
                {{"requestId", q->rid}, {"to", to}, {"clientCount", 5}}),
            shm::PublishStatus::ok);
  ASSERT_EQ(say(responder.value(), cluster::MessageType::server_side_emit_response,
                {{"requestId", q->rid}, {"to", to}, {"args", boost::json::array{2}}}),
            shm::PublishStatus::ok);
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(drive([&] { return q->done(); }));
  EXPECT_FALSE(q->error) << *q->error;
  ASSERT_EQ(q->answers.size(), 1u);
  EXPECT_EQ(q->answers[0].values.at(0), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s) << "waited for nobody's count";
}

// A reader far behind in a worker ring that changed hands twice meanwhile (A, then B, then C,
// each in slot 0 of that ring, C's shared slot below A's) still names each record's writer by the
// RING_OWNER record before it, not by whoever holds that ring slot now: A's answer counts as A's.
// (Looked up by the ring slot's present holder, it would be taken for C's: the first live shared
// slot labelled worker-1 of that process.)
TEST_P(ClusterAdapterTest, AReaderBehindTwoTakeOversNamesEachRecordsWriter) {
  if (!GetParam()) GTEST_SKIP() << "a worker ring's records only";
  stop(*workers_[1]);
  workers_[1].reset();
  auto low = std::make_optional(shm::RingWriter::attach(*segment_, {"placeholder", -1}).value());
  auto take_over = [&](std::optional<shm::RingWriter>& shared,
                       std::optional<shm::RingWriter>& own) {
    auto sw = shm::RingWriter::attach(*segment_, {"worker-1", -1});
    ASSERT_TRUE(sw) << sw.error().message;
    shared.emplace(std::move(sw.value()));
    auto ow = shm::RingWriter::attach(worker_rings_[1], {"worker-1", -1});
    ASSERT_TRUE(ow) << ow.error().message;
    own.emplace(std::move(ow.value()));
    ASSERT_EQ(say(*own, cluster::MessageType::ring_owner, owner_of_ring(*segment_, *shared)),
              shm::PublishStatus::ok);
  };
  std::optional<shm::RingWriter> a_shared, a_own, b_shared, b_own, c_shared, c_own;
  take_over(a_shared, a_own);  // (A: the only responder; its shared slot stays, above low's)
  ASSERT_GT(a_shared->id(), low->id());
  const auto q = ask();
  ASSERT_NE(q->rid, 0u);
  const int to = slot_labelled(*segment_, "worker-0");
  ASSERT_EQ(say(*a_own, cluster::MessageType::server_side_emit_response,
                {{"requestId", q->rid}, {"to", to}, {"args", boost::json::array{"from A"}}}),
            shm::PublishStatus::ok);
  const std::uint16_t a_ring_slot = a_own->id();
  a_own.reset();
  take_over(b_shared, b_own);
  b_own.reset();
  b_shared.reset();
  const int low_id = low->id();
  low.reset();
  take_over(c_shared, c_own);
  ASSERT_EQ(c_own->id(), a_ring_slot) << "C holds A's slot of the ring (the case to check)";
  ASSERT_EQ(c_shared->id(), low_id) << "C's shared slot is found before A's";
  ASSERT_TRUE(drive([&] { return q->done(); }));
  EXPECT_FALSE(q->error) << *q->error;
  ASSERT_EQ(q->answers.size(), 1u) << "A's answer was taken for C's";
  EXPECT_EQ(q->answers[0].values.at(0), "from A");
}

// Connection state recovery, on one shared ring and with a ring per worker (its cut logs:
// docs/ring-per-worker.md, "Connection state recovery over N rings").
class ClusterRecoveryTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    recovery_ = true;
    ClusterAdapterTest::SetUp();
  }
};

// A batch of worker 1's records read by worker 0 holds a broadcast, a serverSideEmit whose handler
// on worker 0 broadcasts (delivered there at once), and another broadcast. A client of worker 0
// that got all three and recovers from the last one's offset misses nothing and gets nothing
// twice: the last one's offset names a cut that has the handler's broadcast.
TEST_P(ClusterRecoveryTest, ABroadcastAfterAHandlersOwnBroadcastInOneBatchNamesACutWithIt) {
  workers_[0]->server->of("/").on_server_side("trigger", [this](sio::Args, auto) {
    workers_[0]->server->of("/").emit("own", sio::Args{});
  });
  const Joined x = connect_with(0, "");
  ASSERT_FALSE(x.pid.empty()) << "recovery on: the CONNECT answer has a pid";
  sio::Namespace& one = workers_[1]->server->of("/");
  one.emit("a", sio::Args{});
  one.server_side_emit("trigger");
  one.emit("b", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 3; }));
  const auto got = events(x.k);
  // (On one shared ring worker 0 delivers its own broadcast in ring order, after "b".)
  EXPECT_EQ(got[0].substr(0, 5), R"(["a",)");
  EXPECT_EQ(got[GetParam() ? 1 : 2].substr(0, 7), R"(["own",)");
  EXPECT_EQ(got[GetParam() ? 2 : 1].substr(0, 5), R"(["b",)");
  const std::string offset = offset_of_event(got[2]);
  ASSERT_FALSE(offset.empty());
  drop(x.k, 0);
  // Back on worker 1: nothing missed, nothing again.
  const std::string back = auth(x.pid, offset);
  const Joined y = connect_with(1, back);
  EXPECT_EQ(y.sid, x.sid) << "recovered";
  one.emit("c", sio::Args{});
  // (a replay comes before anything live: once "c" is in, so is anything replayed)
  ASSERT_TRUE(drive([&] { return has(y.k, "c"); }));
  const auto after = events(y.k);
  ASSERT_EQ(after.size(), 1u) << after[0];
  EXPECT_EQ(after[0].substr(0, 5), R"(["c",)");
  drop(y.k, 1);
  // Back on worker 0 from the same offset: "c" and "d" missed since, replayed.
  one.emit("d", sio::Args{});
  const Joined z = connect_with(0, back);
  EXPECT_EQ(z.sid, x.sid) << "recovered again";
  one.emit("e", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(z.k, "e"); }));
  const auto again = events(z.k);
  ASSERT_EQ(again.size(), 3u) << again[0];
  EXPECT_EQ(again[0].substr(0, 5), R"(["c",)");
  EXPECT_EQ(again[1].substr(0, 5), R"(["d",)");
  EXPECT_EQ(again[2].substr(0, 5), R"(["e",)");
}

// A session of a namespace whose name holds "\n" (a dynamic one the client names) is not the
// session a crafted pid names in another namespace: the key has the name's length first. Before
// 2026-12-05, pid "Y" in "/\nX" and pid "X\nY" in "/" had one key, and a client recovered the
// first in "/", past "/"'s middleware (found by a review).
TEST_P(ClusterRecoveryTest, ASessionIsNotRecoveredInAnotherNamespaceByACraftedPid) {
  for (auto& w : workers_)
    w->server->of([](const std::string& name) { return name.find('\n') != std::string::npos; },
                  [](sio::Namespace&) {});
  const std::size_t k = open_session(0);
  clients_[k].client->send_text("40/\nX,");
  std::string pid;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("40/\nX,{", 0) == 0) {
        const auto o = boost::json::parse(m.substr(6)).as_object();
        if (o.contains("pid")) pid = o.at("pid").as_string().c_str();
        return true;
      }
    return false;
  }));
  ASSERT_FALSE(pid.empty());
  workers_[1]->server->of("/\nX").emit("a", sio::Args{});
  std::string offset;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("42/\nX,", 0) == 0) offset = offset_of_event(m.substr(6));
    return !offset.empty();
  }));
  drop(k, 0);
  // "/" with pid "X\nY" (JSON-escaped), from that offset: a fresh session, not the other's.
  const Joined y = connect_with(1, R"({"pid":"X\n)" + pid + R"(","offset":")" + offset + R"("})");
  ASSERT_FALSE(y.sid.empty());
  EXPECT_TRUE(workers_[1]->server->of("/").socket(y.sid) != nullptr);
  EXPECT_FALSE(workers_[1]->server->of("/").socket(y.sid)->recovered())
      << "recovered another namespace's session";
}

// A recovery refused by its offset (malformed here) or by the namespace's middleware leaves the
// session in the shared table for the client's next attempt, on any worker, as socket.io's
// in-memory adapter leaves it; before 2026-12-04 each attempt had taken it out, and the next got a
// fresh session, what it missed lost.
TEST_P(ClusterRecoveryTest, ARefusedRecoveryLeavesTheSessionForTheNextAttempt) {
  skip_middlewares_ = false;  // worker 1 runs its middleware for recovered sockets
  stop(*workers_[1]);
  workers_[1].reset();
  start(1);
  bool refuse = true;
  workers_[1]->server->of("/").use([&refuse](const sio::SocketPtr&, sio::Next next) {
    next(refuse ? std::optional<sio::ConnectError>(sio::ConnectError{"not now", {}})
                : std::nullopt);
  });
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string offset = offset_of_event(events(x.k)[0]);
  ASSERT_FALSE(offset.empty());
  drop(x.k, 0);
  workers_[1]->server->of("/").emit("b", sio::Args{});  // missed while away
  const Joined bad = connect_with(0, auth(x.pid, "not-an-offset"));
  EXPECT_NE(bad.sid, x.sid) << "recovered by a malformed offset";
  const std::size_t k = open_session(1);
  clients_[k].client->send_text("40" + auth(x.pid, offset));
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("44{", 0) == 0) return true;
    return false;
  })) << "the middleware's refusal";
  refuse = false;
  const Joined y = connect_with(1, auth(x.pid, offset));
  EXPECT_EQ(y.sid, x.sid) << "not recovered after a refused attempt";
  workers_[1]->server->of("/").emit("c", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(y.k, "c"); }));
  EXPECT_TRUE(has(y.k, "b")) << "what it missed, replayed";
}

// socket.io-client keeps the last offset it was given across a fresh session and sends it with
// the new session's pid. A replay from such an offset (here on another worker) starts where the
// session began: what was broadcast before it is not sent (with a ring per worker, from the
// admitting worker's kCutStart entry). Before 2026-12-06 it was, from the offset on.
TEST_P(ClusterRecoveryTest, AnOffsetOlderThanItsSessionReplaysNothingFromBeforeIt) {
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string old_offset = offset_of_event(events(x.k)[0]);
  ASSERT_FALSE(old_offset.empty());
  workers_[1]->server->of("/").emit("b", sio::Args{});  // before the next session began
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 2; }));
  const Joined y = connect_with(0, "");
  ASSERT_FALSE(y.pid.empty());
  drop(y.k, 0);
  workers_[1]->server->of("/").emit("c", sio::Args{});  // missed while away
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 3; }));
  const Joined z = connect_with(1, auth(y.pid, old_offset));
  EXPECT_EQ(z.sid, y.sid) << "recovered";
  ASSERT_TRUE(drive([&] { return has(z.k, "c"); }));
  EXPECT_FALSE(has(z.k, "b")) << "replayed what was broadcast before its session began";
  EXPECT_FALSE(has(z.k, "a"));
}

// A session whose data holds a non-finite number, or that is in a room named with bytes that are
// not UTF-8, is saved and recovered on another worker (the number as null, as JSON.stringify
// writes it; the room with its bytes). Before 2026-12-04 its saved state could not be read back
// (Boost.JSON's NaN / Infinity, a strict UTF-8 parse), and the session was lost.
TEST_P(ClusterRecoveryTest, ASessionWithNonFiniteDataOrANonUtf8RoomIsRecovered) {
  const Joined x = connect_with(0, "");
  sio::SocketPtr s = workers_[0]->server->of("/").socket(x.sid);
  ASSERT_TRUE(s);
  s->data() = boost::json::object{{"n", std::numeric_limits<double>::infinity()}, {"k", 1}};
  s->join("caf\xc3");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string offset = offset_of_event(events(x.k)[0]);
  ASSERT_FALSE(offset.empty());
  drop(x.k, 0);
  const Joined y = connect_with(1, auth(x.pid, offset));
  EXPECT_EQ(y.sid, x.sid) << "not recovered";
  sio::SocketPtr r = workers_[1]->server->of("/").socket(y.sid);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rooms().count("caf\xc3"), 1u);
  ASSERT_TRUE(r->data().is_object());
  EXPECT_TRUE(r->data().as_object().at("n").is_null());
  EXPECT_EQ(r->data().as_object().at("k"), 1);
}

// An Emitter's broadcast (written without an offset: the emitter cannot know whether the cluster
// recovers) gets one where it is delivered, as socket.io's adapter gives one to every broadcast,
// and a client that had it does not get it again from a replay, nor one that missed it miss it.
// (Before: it came without an offset, a replay from the offset before it sent it again, and its
// own last argument, when a string, was taken by the client for its offset.)
// emit() returns how many of this worker's sockets the broadcast reaches, with recovery on as
// without it (on the shared ring such a broadcast reaches them once the worker reads it back from
// the ring: it returned 0 there).
TEST_P(ClusterRecoveryTest, EmitReturnsTheSocketsItReachesOnThisWorker) {
  const auto a = connect(0);
  connect(0);
  connect(1);
  auto& io0 = workers_[0]->server->of("/");
  EXPECT_EQ(io0.to("w0").emit("to-w0", sio::Args{}), 2u);
  EXPECT_EQ(io0.to("w1").emit("to-w1", sio::Args{}), 0u) << "none of them here";
  EXPECT_EQ(io0.emit("to-all", sio::Args{}), 2u) << "this worker's two";
  EXPECT_EQ(io0.except("w0").emit("to-none-here", sio::Args{}), 0u);
  ASSERT_TRUE(drive([&] { return events(a.first).size() == 2; })) << "it does reach them";
}

// What reaches a worker's own sockets without an offset (a volatile emit, an emit with an ack, a
// local or volatile broadcast) comes after what that worker emitted before it, as with socket.io,
// whose every emit goes through its adapter's awaited publish with recovery on. Before
// 2026-12-05 it overtook the broadcasts waiting in the shared ring to be delivered in ring order
// ("b" before "a"; found by a review).
TEST_P(ClusterRecoveryTest, WhatCarriesNoOffsetDoesNotOvertakeWhatWasEmittedBefore) {
  const Joined x = connect_with(0, "");
  sio::SocketPtr s = workers_[0]->server->of("/").socket(x.sid);
  ASSERT_TRUE(s);
  auto& io0 = workers_[0]->server->of("/");
  std::optional<std::string> answered = "not answered";
  s->emit("a", sio::Args{1});
  s->volatile_().emit("b", sio::Args{1});
  s->emit_with_ack("c", sio::Args{1}, 5s,
                   [&answered](std::optional<std::string> e, sio::Args) { answered = e; });
  io0.volatile_().emit("d", sio::Args{1});
  s->emit("e", sio::Args{1});
  io0.local().emit("f", sio::Args{1});
  io0.to("w0").emit("g", sio::Args{1});
  s->volatile_().emit("h", sio::Args{1});
  s->emit("z", sio::Args{1});
  ASSERT_TRUE(drive([&] { return has(x.k, "z"); }));
  std::string order, ack_id;
  for (const std::string& e : events(x.k)) {  // (an ack id before the array: "c"'s)
    const std::size_t open = e.find('[');
    ASSERT_NE(open, std::string::npos) << e;
    if (open != 0) ack_id = e.substr(0, open);
    order += e.substr(open + 2, 1);
  }
  // A volatile one may be dropped (the connection had output waiting when it was emitted or, for
  // a broadcast, delivered: with a ring per worker everything here is written at once); the
  // others all come, all in order.
  std::string sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(order, sorted);
  std::string kept;
  std::copy_if(order.begin(), order.end(), std::back_inserter(kept),
               [](char c) { return c != 'b' && c != 'd' && c != 'h'; });
  EXPECT_EQ(kept, "acefgz");
  if (!GetParam()) {
    EXPECT_EQ(order.substr(0, 2), "ab") << "nothing was waiting when b was emitted";
  }
  // (Those with an offset still carry theirs; the volatile and local ones none.)
  for (const std::string& e : events(x.k)) {
    if (e[0] != '[') continue;
    const bool none = e[2] == 'b' || e[2] == 'd' || e[2] == 'h' || e[2] == 'f';
    EXPECT_EQ(offset_of_event(e).empty(), none) << e;
  }
  // The held emit with an ack is answered as any.
  ASSERT_FALSE(ack_id.empty());
  clients_[x.k].client->send_text("43" + ack_id + "[1]");
  ASSERT_TRUE(drive([&] { return answered != std::optional<std::string>("not answered"); }));
  EXPECT_EQ(answered, std::nullopt);
}

// socketsLeave / socketsJoin / disconnectSockets after a broadcast in the same turn: this
// worker's own sockets get the broadcast as it was addressed, as every other worker's do (they
// apply both records in ring order). Before 2026-12-05 the change was applied here at once,
// before the broadcast came back from the shared ring: worker 0's client lost "x" (and, for a
// join, got "y"), worker 1's did not (found by a review).
TEST_P(ClusterRecoveryTest, RoomChangesAndDisconnectsDoNotOvertakeWhatWasEmittedBefore) {
  const auto a = connect(0);
  const auto b = connect(1);
  auto& io0 = workers_[0]->server->of("/");
  for (auto* w : {workers_[0].get(), workers_[1].get()})
    w->server->of("/").for_each_socket([](const sio::SocketPtr& s) { s->join("r"); });
  io0.to("r").emit("x", sio::Args{1});
  io0.in("r").sockets_leave("r");
  io0.to("s").emit("y", sio::Args{1});
  io0.sockets_join("s");
  io0.to("s").emit("z", sio::Args{1});
  io0.emit("after", sio::Args{1});
  ASSERT_TRUE(drive([&] { return has(a.first, "after") && has(b.first, "after"); }));
  for (const auto& c : {a, b}) {
    EXPECT_TRUE(has(c.first, "x")) << c.second << " lost what was emitted before its leave";
    EXPECT_FALSE(has(c.first, "y")) << c.second << " got what was emitted before its join";
    EXPECT_TRUE(has(c.first, "z")) << c.second;
  }
  // And a disconnect: what was emitted before it comes first.
  io0.emit("last", sio::Args{1});
  io0.disconnect_sockets(false);
  ASSERT_TRUE(drive([&] {
    return workers_[0]->server->of("/").size() == 0 && workers_[1]->server->of("/").size() == 0;
  }));
  for (const auto& c : {a, b}) EXPECT_TRUE(has(c.first, "last")) << c.second;
}

// A broadcast with acks reaches this worker's own sockets after what it emitted before it, and
// after its room changes made before it, as every other worker applies them in ring order; so
// does fetchSockets' look at this worker's own sockets. Before 2026-12-06 both were taken at once
// here: x got "b" before "a", x missed "d" (its join still held), and the fetch found y's joined
// socket but not x's (a review).
TEST_P(ClusterRecoveryTest, ABroadcastWithAcksAndAFetchDoNotOvertakeWhatWasEmittedBefore) {
  const Joined x = connect_with(0, "");
  const auto y = connect(1);
  auto& io0 = workers_[0]->server->of("/");
  const auto ignore = [](std::optional<std::string>, std::vector<sio::Args>) {};
  io0.emit("a", sio::Args{1});
  io0.timeout(5s).emit_with_ack("b", sio::Args{1}, ignore);
  io0.emit("c", sio::Args{1});
  io0.sockets_join("s");
  io0.to("s").timeout(5s).emit_with_ack("d", sio::Args{1}, ignore);
  std::optional<std::size_t> fetched;
  io0.in("s").fetch_sockets([&](std::vector<sio::RemoteSocket> v) { fetched = v.size(); });
  io0.emit("z", sio::Args{1});
  ASSERT_TRUE(drive([&] { return has(x.k, "z") && has(y.first, "z") && fetched; }));
  EXPECT_EQ(event_names(x.k), "a b c d z ") << "worker 0's client";
  const auto acked = events(y.first);  // (has() takes no ack id before the array)
  EXPECT_TRUE(std::any_of(acked.begin(), acked.end(), [](const std::string& e) {
    return e.find("[\"d\"") != std::string::npos;
  })) << "worker 1's client";
  EXPECT_EQ(*fetched, 2u) << "the sockets in s";
}

// What is held for a socket (its volatile emit, its emit with an ack) is not sent if the socket
// disconnects meanwhile: its DISCONNECT went out at once, and socket.io-client keeps what comes for
// a namespace it left for its next connect (before 2026-12-05 it was sent after the DISCONNECT;
// found by a review). The ack's callback is told at the disconnect, as ever.
TEST_P(ClusterRecoveryTest, WhatIsHeldForASocketThatDisconnectsMeanwhileIsNotSent) {
  const Joined x = connect_with(0, "");
  const auto y = connect(0);
  sio::SocketPtr s = workers_[0]->server->of("/").socket(x.sid);
  ASSERT_TRUE(s);
  std::optional<std::string> answered = "not answered";
  s->emit("a", sio::Args{1});
  s->volatile_().emit("b", sio::Args{1});
  s->emit_with_ack("c", sio::Args{1}, 5s,
                   [&answered](std::optional<std::string> e, sio::Args) { answered = e; });
  s->disconnect();
  // (Worker 0's own broadcast after them, read back in ring order: once y has it, what was held
  // behind "a" was released.)
  workers_[0]->server->of("/").to(y.second).emit("marker", sio::Args{1});
  ASSERT_TRUE(drive([&] { return has(y.first, "marker") && answered != "not answered"; }));
  EXPECT_EQ(answered, "socket has been disconnected");
  const auto& got = clients_[x.k].messages;
  const auto bye = std::find(got.begin(), got.end(), "41");
  ASSERT_NE(bye, got.end()) << "its DISCONNECT";
  for (auto it = bye; it != got.end(); ++it)
    EXPECT_NE(it->rfind("42", 0), 0u) << "after its DISCONNECT: " << *it;
}

// NodeOptions::max_held_sends: while another producer's claim, in flight and not dead (a process
// stopped in a debugger), keeps worker 0's reader from its own broadcast "a", what it sends its
// own sockets directly waits behind "a" — at most 4 sends here: past them the oldest go out at
// once, ahead of "a", counted. Before 2026-12-06 every one waited, without bound, for as long as
// the claim stayed (a bug hunt). Once the claim is committed, "a" and the rest follow in order.
class ClusterHeldSendsTest : public ClusterRecoveryTest {
 protected:
  void SetUp() override {
    max_held_sends_0_ = 4;
    ClusterRecoveryTest::SetUp();
  }
};

TEST_P(ClusterHeldSendsTest, PastTheBoundTheOldestHeldSendsGoOutAheadOfTheirTurn) {
  const Joined x = connect_with(0, "");
  sio::SocketPtr s = workers_[0]->server->of("/").socket(x.sid);
  ASSERT_TRUE(s);
  auto& io0 = workers_[0]->server->of("/");
  auto stalled = shm::RingWriter::attach(*segment_);
  ASSERT_TRUE(stalled) << stalled.error().message;
  ASSERT_EQ(stalled->claim(64, 7).status, shm::PublishStatus::ok);  // (kept in flight)
  s->emit("a", sio::Args{1});  // (published after the claim: worker 0's reader cannot reach it)
  for (int i = 0; i < 10; ++i) io0.local().emit("l" + std::to_string(i), sio::Args{1});
  EXPECT_EQ(workers_[0]->node->stats().held_sends_released_early, 6u);
  ASSERT_TRUE(drive([&] { return has(x.k, "l5"); }));
  EXPECT_EQ(event_names(x.k), "l0 l1 l2 l3 l4 l5 ")
      << "the six oldest, ahead of \"a\"; four still held";
  stalled->commit();
  ASSERT_TRUE(drive([&] { return has(x.k, "l9"); }));
  EXPECT_EQ(event_names(x.k), "l0 l1 l2 l3 l4 l5 a l6 l7 l8 l9 ");
  EXPECT_EQ(workers_[0]->node->stats().held_sends_released_early, 6u);
  EXPECT_NE(workers_[0]->node->metrics_text().find("shmio_held_sends_released_early_total"),
            std::string::npos);
}

// A burst past the bound with no stall: the worker reads its own broadcast back first, and
// everything goes out in order, none early.
TEST_P(ClusterHeldSendsTest, ABurstPastTheBoundIsReadBackInOrderFirst) {
  const Joined x = connect_with(0, "");
  sio::SocketPtr s = workers_[0]->server->of("/").socket(x.sid);
  ASSERT_TRUE(s);
  auto& io0 = workers_[0]->server->of("/");
  s->emit("a", sio::Args{1});
  for (int i = 0; i < 10; ++i) io0.local().emit("l" + std::to_string(i), sio::Args{1});
  EXPECT_EQ(workers_[0]->node->stats().held_sends_released_early, 0u);
  ASSERT_TRUE(drive([&] { return has(x.k, "l9"); }));
  EXPECT_EQ(event_names(x.k), "a l0 l1 l2 l3 l4 l5 l6 l7 l8 l9 ");
}

INSTANTIATE_TEST_SUITE_P(Rings, ClusterHeldSendsTest, ::testing::Values(false),
                         [](const ::testing::TestParamInfo<bool>&) { return "SharedRing"; });

// An emitter may not go by a label of the cluster's own writers: workers count a live
// "worker-..." slot as a peer that answers requests (an emitter so named made fetchSockets wait
// for it until its timeout), "bridge" as the fleet bridge, "supervisor" as the source of
// WORKER_DOWN. Refused at construction, with why; another label is taken (a bug hunt, 2026-12-06).
TEST_P(ClusterAdapterTest, AnEmitterMayNotTakeTheClustersOwnLabels) {
  // (Also as the slot holds a label: up to a NUL.)
  for (const std::string& label :
       {std::string("worker-jobs"), std::string("worker-0"), std::string("bridge"),
        std::string("supervisor"), std::string("bridge\0x", 8)}) {
    try {
      cluster::Emitter em(ring_, label);
      ADD_FAILURE() << "label '" << label << "' taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
    }
  }
  const auto a = connect(0);
  cluster::Emitter jobs(ring_, "jobs-worker");
  ASSERT_TRUE(jobs.of("/").emit("hi", sio::Args{1})) << jobs.last_error();
  ASSERT_TRUE(drive([&] { return has(a.first, "hi"); }));
  // A fetch over the cluster completes with the workers' answers, not at its timeout.
  std::optional<std::size_t> fetched;
  const auto t0 = std::chrono::steady_clock::now();
  workers_[0]->server->of("/").timeout(5s).fetch_sockets(
      [&](std::vector<sio::RemoteSocket> v) { fetched = v.size(); });
  ASSERT_TRUE(drive([&] { return fetched.has_value(); }));
  EXPECT_EQ(*fetched, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s) << "it waited for the emitter";
}

// Several rooms at once through the emitter, as a brace list or a vector (@socket.io/redis-
// emitter's arrays): before 2026-12-05 a brace list of two names compiled as std::string's
// iterator-pair constructor (undefined behaviour).
TEST_P(ClusterAdapterTest, AnEmitterTakesSeveralRoomsAtOnce) {
  cluster::Emitter em(ring_);
  const auto a = connect(0);
  const auto b = connect(1);
  const auto c = connect(1);
  ASSERT_TRUE(em.of("/").sockets_join({"x", "y"})) << em.last_error();
  ASSERT_TRUE(em.of("/").except(std::vector<sio::Room>{b.second}).sockets_leave({"w0", "y"}));
  ASSERT_TRUE(drive([&] {
    auto s = workers_[0]->server->of("/").socket(a.second);
    return s && s->rooms().count("y") == 0 && s->rooms().count("x") == 1;
  }));
  auto on_1 = workers_[1]->server->of("/").socket(b.second);
  ASSERT_TRUE(on_1);
  ASSERT_TRUE(drive([&] { return on_1->rooms().count("y") == 1; })) << "excepted from the leave";
  EXPECT_EQ(workers_[0]->server->of("/").socket(a.second)->rooms().count("w0"), 0u);
  ASSERT_TRUE(em.to({"w0", "y"}).except({c.second}).emit("e", sio::Args{1}));
  ASSERT_TRUE(em.of("/").in(std::vector<sio::Room>{"x"}).emit("f", sio::Args{1}));
  ASSERT_TRUE(drive([&] { return has(b.first, "f") && has(c.first, "f"); }));
  // "e" to "w0" and "y": a left both, b is in "y", c left "y" (and is excepted).
  EXPECT_FALSE(has(a.first, "e"));
  EXPECT_TRUE(has(b.first, "e"));
  EXPECT_FALSE(has(c.first, "e"));
  EXPECT_TRUE(has(a.first, "f"));
  // An operator kept in a variable chains into new ones and stays as it was (the Node emitter's
  // operators are immutable; until 2026-12-06 this did not compile).
  const auto all = em.of("/");
  ASSERT_TRUE(all.except(b.second).volatile_().compress(false).emit("g", sio::Args{1}));
  ASSERT_TRUE(all.to({"y"}).in(std::vector<sio::Room>{"x"}).emit("h", sio::Args{1}));
  ASSERT_TRUE(all.emit("i", sio::Args{1}));
  ASSERT_TRUE(drive([&] { return has(a.first, "i") && has(b.first, "i") && has(c.first, "i"); }));
  EXPECT_TRUE(has(a.first, "g"));
  EXPECT_FALSE(has(b.first, "g"));
  EXPECT_TRUE(has(c.first, "g"));
  EXPECT_TRUE(has(a.first, "h"));  // (in "x")
  EXPECT_TRUE(has(b.first, "h"));  // (in "x" and "y")
  EXPECT_TRUE(has(c.first, "h"));
}

namespace {
// A thread that runs until `stop`: stopped and joined on every way out of a test (an ASSERT's
// return included).
struct StopAndJoin {
  std::atomic<bool>& stop;
  std::thread& t;
  ~StopAndJoin() {
    stop = true;
    t.join();
  }
};
}  // namespace

// A burst of broadcasts from another worker: a worker woken by the ring reads at most 16
// batches of each ring a turn and posts the rest behind what the turn queued, the clients'
// flushes among it, so a client is written to every 1,024 records at most. Before 2026-12-05 the
// worker read all of it in one turn (however long the burst, while others kept publishing) and
// queued it for its clients before any flush: a burst over a client's queue bound (4,096
// packets) closed even a fast client as a slow consumer, and no timer ran meanwhile (found by a
// review). Here 3,000 records: at least 3 flushes (1 before).
TEST_P(ClusterAdapterTest, ABurstFromAnotherWorkerIsFlushedAsItIsRead) {
  const auto a = connect(0);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->of("/").socket(a.second) != nullptr; }));
  constexpr int kBurst = 3000;
  for (int i = 0; i < kBurst; ++i) workers_[1]->server->of("/").to("w0").emit("b", sio::Args{i});
  const std::uint64_t flushes = workers_[0]->server->engine().stats().flushes;
  ASSERT_TRUE(drive([&] { return events(a.first).size() >= kBurst; }));
  EXPECT_EQ(events(a.first).size(), static_cast<std::size_t>(kBurst));
  EXPECT_GE(workers_[0]->server->engine().stats().flushes - flushes, 3u);
  EXPECT_GE(workers_[0]->node->stats().drain_yields, 2u);
}

// A worker lapped by a flood counts what its reader lost once, as the reader's slot counts it:
// before 2026-12-05 a lap found at a peek and another at its consume counted the first twice
// (and disconnected every client twice); found by a review.
TEST_P(ClusterAdapterTest, AFloodsLostRecordsAreCountedOnce) {
  sio::BroadcastOptions opts;
  opts.rooms = {"nobody"};
  const std::string frame = "42[\"x\",\"" + std::string(200, 'p') + "\"]";
  std::vector<std::byte> rec(cluster::broadcast_size("/", opts, frame.size(), {}));
  cluster::write_broadcast(rec, "/", opts, cluster::broadcast_flags(opts.flags), 0, frame, {});
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    auto w = shm::RingWriter::attach(*segment_, {"flood", -1});
    if (!w) return;
    const auto cap = std::chrono::steady_clock::now() + 4s;
    while (!stop.load() && std::chrono::steady_clock::now() < cap)
      for (int i = 0; i < 256; ++i)
        (void)w.value().publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), rec);
  });
  const StopAndJoin join{stop, flood};
  testing::internal::CaptureStderr();
  const bool lapped = drive(
      [&] { return workers_[0]->node->stats().laps > 20 && workers_[1]->node->stats().laps > 20; });
  stop = true;
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(lapped);
  // (Said once each, not once per lap: at most once per 10 s.)
  for (const char* w : {"shmio[w0]: lapped by the ring", "shmio[w1]: lapped by the ring"}) {
    const std::size_t first = said.find(w);
    EXPECT_NE(first, std::string::npos) << said;
    EXPECT_EQ(said.find(w, first + 1), std::string::npos) << said.substr(0, 2000);
  }
  // Once both have read all of it, each worker's count of lost records is its slot's.
  ASSERT_TRUE(drive([&] {
    const auto snap = shm::inspect::snapshot(*segment_);
    int done = 0;
    for (const auto& row : shm::inspect::readers(*segment_))
      if ((row.label == "worker-0" || row.label == "worker-1") && row.position == snap.frontier)
        ++done;
    return done == 2;
  }));
  for (const auto& row : shm::inspect::readers(*segment_))
    for (int i = 0; i < 2; ++i) {
      if (row.label != "worker-" + std::to_string(i)) continue;
      EXPECT_EQ(workers_[i]->node->stats().lost_records, row.lost_records) << row.label;
      EXPECT_GT(row.lost_records, 0u);
    }
}

// What a request with acks called back with (nothing yet: "not called").
struct Wait {
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  bool done() const { return error != std::optional<std::string>("not called"); }
  // The callback that fills it (it must outlive the request).
  sio::AckCallback taker() {
    return [this](std::optional<std::string> e, std::vector<sio::Args> r) {
      error = std::move(e);
      answers = std::move(r);
    };
  }
};

// Worker `from` writes more than a ring's worth (broadcasts to a room nobody is in) into the
// ring that carries its requests and answers (the shared one, or its own) while the other worker
// reads nothing: the other is lapped. (The writer's own reader keeps up: a publish drains it,
// Node::Impl::keep_up.)
static void flood_from(std::vector<std::unique_ptr<Worker>>& workers, int from,
                       std::uint64_t ring_bytes) {
  const std::string text(200, 'p');
  for (std::uint64_t i = 0; i < ring_bytes * 3 / 2 / 256; ++i)
    workers[from]->server->of("/").to("nobody").emit("x", sio::Args{text});
}
static void flood_from_worker_0(std::vector<std::unique_ptr<Worker>>& workers,
                                std::uint64_t ring_bytes) {
  flood_from(workers, 0, ring_bytes);
}

// A socketsJoin whose own publish finds this worker's reader over half a ring behind (keep_up
// reads the ring there and then) is applied to this worker's sockets where its record stands in
// the ring: a broadcast to the room that another writer commits right after the join, read in
// that same read, reaches them, as it reaches every other worker's. Before 2026-12-07 the join
// was applied after the whole read, and such a broadcast missed this worker's sockets (a review).
// (With a ring per worker a worker does not read its own ring, nor are two rings ordered.)
TEST_P(ClusterAdapterTest, ALocalJoinIsAppliedInRingOrderWhenItsPublishReadsTheRing) {
  if (GetParam()) GTEST_SKIP() << "a worker does not read its own ring";
  const auto a = connect(0);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->client_count() == 1; }));
  cluster::Emitter em(ring_, "other", true, std::chrono::milliseconds(0));  // (never waits)
  // Worker 0's reader over half a ring behind: records it has not had a turn to read, the last a
  // server-side emit whose handler (run in that read, after the join is in the ring) waits until
  // the other writer's broadcast is in the ring too, so that the read takes it.
  std::atomic<bool> late_written{false};
  workers_[0]->server->of("/").on_server_side("pause", [&late_written](sio::Args, auto) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!late_written.load() && std::chrono::steady_clock::now() < give_up) {
    }
  });
  const std::string text(200, 'f');
  for (std::uint64_t i = 0; i < ring_bytes_ * 6 / 10 / 256; ++i)
    ASSERT_TRUE(em.of("/").to("nobody").emit("filler", sio::Args{text})) << em.last_error();
  ASSERT_TRUE(em.of("/").server_side_emit("pause", sio::Args{}));
  const std::uint64_t before = segment_->control().tail.tail.load();
  // The other writer, as soon as worker 0's join is in the ring: a broadcast to the room.
  std::thread other([&em, &late_written, before, this] {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (segment_->control().tail.tail.load() == before &&
           std::chrono::steady_clock::now() < give_up) {
    }
    (void)em.of("/").to("joined").emit("late", sio::Args{1});
    late_written = true;
  });
  workers_[0]->server->of("/").sockets_join("joined");
  other.join();
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[a.first].messages)
      if (m.find("\"late\"") != std::string::npos) return true;
    return false;
  })) << "the broadcast to the room joined missed worker 0's socket";
}

// App code run when a cluster request completes (a fetchSockets callback completed by another
// worker's answer, read from the ring) that publishes more than a ring does not lap its own
// worker: the callback runs on a later turn, where the worker keeps up with its own records as
// anywhere else. Before 2026-12-07 it ran inside the read, where keep_up does nothing, and the
// worker's own broadcasts lapped it: every client of it disconnected (a review). (With a ring per
// worker a worker does not read its own ring: checked all the same.)
TEST_P(ClusterAdapterTest, AFetchSocketsCallbackThatFloodsTheRingDoesNotLapItsWorker) {
  const auto a = connect(0);
  const auto b = connect(1);
  bool done = false;
  std::size_t sockets = 0;
  workers_[0]->server->of("/").fetch_sockets([&](std::vector<sio::RemoteSocket> all) {
    sockets = all.size();
    flood_from(workers_, 0, ring_bytes_);
    done = true;
  });
  ASSERT_TRUE(drive([&] { return done; }));
  EXPECT_EQ(sockets, 2u);
  // Everything read since, and a broadcast from worker 1 still reaches worker 0's client.
  workers_[1]->server->of("/").emit("after", sio::Args{1});
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[a.first].messages)
      if (m.find("\"after\"") != std::string::npos) return true;
    return false;
  }));
  EXPECT_EQ(workers_[0]->node->stats().laps, 0u);
  EXPECT_EQ(workers_[0]->node->stats().lap_disconnects, 0u);
  EXPECT_EQ(workers_[0]->server->client_count(), 1u);
}

// Requests whose records the ring overwrote before a worker read them: that worker, lapped,
// says what it lost (LAPPED: exactly the bytes its reader skipped), and the requests complete at
// once with the outcome of their timeout, without its answer, not at their 60 s: a fetchSockets
// with the others' sockets (worker 1's clients were disconnected at its lap anyway), a
// serverSideEmitWithAck with "operation has timed out" (its handler never ran there). Before
// 2026-12-07 both waited for their timeout.
TEST_P(ClusterAdapterTest, ARequestALappedWorkerNeverReadCompletesWithoutItsAnswer) {
  const auto a = connect(0);
  const auto b = connect(1);
  workers_[1]->server->of("/").on_server_side(
      "ping", [](sio::Args, std::function<void(sio::Args)> ack) { ack(sio::Args{"pong"}); });
  // What worker 1 writes, from now on.
  auto said = shm::RingReader::attach(GetParam() ? worker_rings_[1] : *segment_,
                                      {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(said) << said.error().message;
  std::vector<sio::RemoteSocket> got;
  bool done = false;
  workers_[0]->server->of("/").timeout(60s).fetch_sockets([&](std::vector<sio::RemoteSocket> all) {
    got = std::move(all);
    done = true;
  });
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{}, 60s, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  flood_from_worker_0(workers_, ring_bytes_);
  ASSERT_TRUE(drive([&] { return done && error != std::optional<std::string>("not called"); }))
      << "waited for worker 1's answers";
  EXPECT_GT(workers_[1]->node->stats().laps, 0u);
  ASSERT_EQ(got.size(), 1u);  // (worker 1's clients, b among them, were disconnected at its lap)
  EXPECT_EQ(got.front().id(), a.second);
  EXPECT_EQ(error, std::optional<std::string>("operation has timed out"));
  EXPECT_TRUE(answers.empty());
  (void)b;
  // What it said it lost is what its reader of that ring skipped, byte for byte.
  // (Only worker 1 is lapped: worker 0's publishes keep its reader up. On the shared ring this
  // reader is lapped by the flood too, and reads on from the oldest record, in calls of 256.)
  std::uint64_t said_lost = 0;
  while (said.value().poll([&](const shm::RecordView& v) {
    if (v.type != static_cast<std::uint16_t>(cluster::MessageType::lapped)) return;
    const auto m = cluster::read_message(v.payload);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body.at("ring").to_number<int>(), GetParam() ? 0 : -1);
    said_lost +=
        m->body.at("to").to_number<std::uint64_t>() - m->body.at("from").to_number<std::uint64_t>();
  }) != 0 ||
         said.value().last_loss().records != 0) {
  }
  std::uint64_t skipped = 0;
  for (const auto& row : shm::inspect::readers(GetParam() ? worker_rings_[0] : *segment_))
    if (row.label == "worker-1") skipped += row.lost_bytes;
  EXPECT_GT(skipped, 0u);
  EXPECT_EQ(said_lost, skipped);
}

// A request's position is its own record's even when its publish reads the ring (keep_up: this
// worker's reader over half a ring behind what it just wrote) and answers, in that read, a
// request written before it: the answer's record comes after the request's, and a LAPPED naming
// the request's position alone ends the wait for its sender. (Before a review of 2026-12-07 the
// position noted was that of the last record the publish call wrote: the answer's.) Only one
// shared ring: with a ring per worker a publish does not read.
TEST_P(ClusterAdapterTest, ARequestsPositionIsItsOwnRecordsWhenItsPublishReadsTheRing) {
  if (GetParam()) GTEST_SKIP() << "with a ring per worker a worker's publish does not read";
  StandIn fake;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(fake));
  // (Worker 0 has read all there is: its reader is then behind by what the stand-in writes.)
  ASSERT_TRUE(drive([&] {
    const auto snap = shm::inspect::snapshot(*segment_);
    for (const auto& row : shm::inspect::readers(*segment_))
      if (row.label == "worker-0") return row.position == snap.frontier;
    return false;
  }));
  auto look = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(look) << look.error().message;
  // The stand-in asks worker 0 for its sockets, then writes over half a ring, while worker 0 has
  // no turn to read.
  sio::BroadcastOptions none;
  ASSERT_EQ(say(*fake.shared, cluster::MessageType::fetch_sockets,
                {{"requestId", 4242}, {"nsp", "/"}, {"opts", cluster::options_to_json(none)}}),
            shm::PublishStatus::ok);
  sio::BroadcastOptions nobody;
  nobody.rooms = {"nobody"};
  const std::string frame = "42[\"x\",\"" + std::string(200, 'p') + "\"]";
  std::vector<std::byte> rec(cluster::broadcast_size("/", nobody, frame.size(), {}));
  cluster::write_broadcast(rec, "/", nobody, cluster::broadcast_flags(nobody.flags), 0, frame, {});
  for (std::uint64_t written = 0; written < ring_bytes_ * 8 / 10;
       written += shm::layout::footprint(rec.size()))
    ASSERT_EQ(
        fake.shared->publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), rec),
        shm::PublishStatus::ok);
  std::optional<std::string> error = "not called";
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "q", sio::Args{}, 60s,
      [&](std::optional<std::string> e, std::vector<sio::Args>) { error = std::move(e); });
  // Where the request went, and that worker 0's answer to the stand-in came after it, in the
  // same call (its read of the ring).
  std::optional<std::uint64_t> request, answer;
  while (look.value().poll([&](const shm::RecordView& v) {
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::server_side_emit))
      request = v.position;
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
      answer = v.position;
  }) != 0) {
  }
  ASSERT_TRUE(request && answer) << "worker 0's publish did not read the ring";
  ASSERT_GT(*answer, *request);
  EXPECT_EQ(error, std::optional<std::string>("not called"));
  ASSERT_EQ(say(*fake.shared, cluster::MessageType::lapped,
                {{"ring", -1}, {"from", *request}, {"to", *request + 1}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }))
      << "the LAPPED naming the request's position did not end the wait for the stand-in";
  EXPECT_EQ(error, std::optional<std::string>("operation has timed out"));
}

// A worker's death said with its start time (WORKER_DOWN's "start", as the supervisor says it)
// ends the waits for that process only: a process of the same pid with another start time (the
// pid taken again since, before this worker read the death) is still waited for. (By the pid
// alone before 2026-12-07.) Both workers here are one process: the deaths name its pid. One
// shared ring: the answer after the death is then read after it.
TEST_P(ClusterAdapterTest, ADeathSaidWithItsStartTimeIsNotTakenForAnotherProcessOfItsPid) {
  if (GetParam()) GTEST_SKIP() << "the same matching; one shared ring orders the answer after it";
  std::function<void(sio::Args)> held;
  workers_[1]->server->of("/").on_server_side(
      "hold", [&held](sio::Args, std::function<void(sio::Args)> ack) { held = std::move(ack); });
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(supervisor) << supervisor.error().message;
  const std::uint64_t start = shm::process_start_time(::getpid());
  ASSERT_NE(start, 0u);
  auto ask = [&](Wait& into) {
    held = nullptr;
    workers_[0]->server->of("/").server_side_emit_with_ack("hold", sio::Args{}, 60s, into.taker());
    return drive([&] { return static_cast<bool>(held); });
  };
  Wait first;
  ASSERT_TRUE(ask(first));
  ASSERT_EQ(say(supervisor.value(), cluster::MessageType::worker_down,
                {{"pid", ::getpid()}, {"worker", 1}, {"start", start + 1}}),
            shm::PublishStatus::ok);
  held(sio::Args{"held"});
  ASSERT_TRUE(drive([&] { return first.done(); }));
  EXPECT_FALSE(first.error) << *first.error;
  ASSERT_EQ(first.answers.size(), 1u) << "another process of that pid taken for the dead one";
  EXPECT_EQ(first.answers[0].values.at(0), "held");
  // The same death with the process's own start time ends the wait for it at once, no error.
  Wait second;
  ASSERT_TRUE(ask(second));
  ASSERT_EQ(say(supervisor.value(), cluster::MessageType::worker_down,
                {{"pid", ::getpid()}, {"worker", 1}, {"start", start}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return second.done(); }));
  EXPECT_FALSE(second.error) << *second.error;
  EXPECT_TRUE(second.answers.empty());
}

// A lap that did not cover a request keeps it waiting for that worker's answer: worker 1 read
// the request (its handler holds the ack) before it was lapped; its answer, given after worker
// 0 has read its LAPPED, is in the result.
TEST_P(ClusterAdapterTest, ALapAfterARequestWasReadKeepsItWaitingForTheAnswer) {
  std::function<void(sio::Args)> held;
  workers_[1]->server->of("/").on_server_side(
      "hold", [&held](sio::Args, std::function<void(sio::Args)> ack) { held = std::move(ack); });
  workers_[1]->server->of("/").on_server_side(
      "ping", [](sio::Args, std::function<void(sio::Args)> ack) { ack(sio::Args{"pong"}); });
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "hold", sio::Args{}, 60s, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  ASSERT_TRUE(drive([&] { return static_cast<bool>(held); }));
  const std::uint64_t laps = workers_[1]->node->stats().laps;
  flood_from_worker_0(workers_, ring_bytes_);
  ASSERT_TRUE(drive([&] { return workers_[1]->node->stats().laps > laps; }));
  // A round trip after it: worker 1 answers "ping" after it said its lap, in its ring order, so
  // worker 0 has read the LAPPED when the answer comes.
  bool pinged = false;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{}, 60s,
      [&](std::optional<std::string>, std::vector<sio::Args>) { pinged = true; });
  ASSERT_TRUE(drive([&] { return pinged; }));
  EXPECT_EQ(error, std::optional<std::string>("not called")) << "ended by a lap that missed it";
  held(sio::Args{"held"});
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].values.at(0), "held");
}

// A requester lapped over an answer it was given: it cannot tell the answer lost from one still
// to come, so it asks (ANSWERS_CHECK); worker 1 owes nothing more, and its reply comes after the
// answer it gave, in the ring the answer went into: the request ends its wait for worker 1 at
// once, as at its timeout ("operation has timed out", no answers), not at its 60 s. Before
// 2026-12-07 it waited for its whole timeout.
TEST_P(ClusterAdapterTest, ALappedRequesterEndsItsWaitForAnswersItLost) {
  std::function<void(sio::Args)> held;
  workers_[1]->server->of("/").on_server_side(
      "hold", [&held](sio::Args, std::function<void(sio::Args)> ack) { held = std::move(ack); });
  Wait w;
  workers_[0]->server->of("/").server_side_emit_with_ack("hold", sio::Args{}, 60s, w.taker());
  ASSERT_TRUE(drive([&] { return static_cast<bool>(held); }));
  // The answer, then more than a ring's worth after it, before worker 0 has a turn to read (in
  // one turn of the loop: the ack called off it is posted there).
  const std::uint64_t laps = workers_[0]->node->stats().laps;
  boost::asio::post(io_, [&] {
    held(sio::Args{"lost"});
    flood_from(workers_, 1, ring_bytes_);
  });
  ASSERT_TRUE(drive([&] { return w.done(); })) << "waited for the answer it lost";
  EXPECT_GT(workers_[0]->node->stats().laps, laps);
  EXPECT_GT(workers_[0]->node->stats().answer_checks, 0u);
  EXPECT_EQ(workers_[0]->node->stats().answers_found_lost, 1u);
  EXPECT_EQ(w.error, std::optional<std::string>("operation has timed out"));
  EXPECT_TRUE(w.answers.empty());
}

// A requester lapped while another worker still owes it answers (a serverSideEmit whose handler
// holds its ack, a broadcast whose client has not acked yet) is told so, and waits for them: they
// come after the reply, and are in the results.
TEST_P(ClusterAdapterTest, ALappedRequesterWaitsForTheAnswersStillOwed) {
  const auto [c, sid] = connect(1);
  std::function<void(sio::Args)> held;
  workers_[1]->server->of("/").on_server_side(
      "hold", [&held](sio::Args, std::function<void(sio::Args)> ack) { held = std::move(ack); });
  workers_[1]->server->of("/").on_server_side(
      "ping", [](sio::Args, std::function<void(sio::Args)> ack) { ack(sio::Args{"pong"}); });
  Wait emitted, broadcast;
  workers_[0]->server->of("/").server_side_emit_with_ack("hold", sio::Args{}, 60s, emitted.taker());
  workers_[0]->server->of("/").timeout(60s).emit_with_ack("q", sio::Args{}, broadcast.taker());
  ASSERT_TRUE(drive([&] { return static_cast<bool>(held) && !events(c).empty(); }));
  // What worker 1 writes from now on: its reply to the check is there.
  auto look = shm::RingReader::attach(GetParam() ? worker_rings_[1] : *segment_,
                                      {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(look) << look.error().message;
  const int w0 = slot_labelled(*segment_, "worker-0");
  const int w1 = slot_labelled(*segment_, "worker-1");
  ASSERT_GE(w0, 0);
  ASSERT_GE(w1, 0);
  const std::uint64_t checks = workers_[0]->node->stats().answer_checks;
  flood_from(workers_, 1, ring_bytes_);
  ASSERT_TRUE(drive([&] { return workers_[0]->node->stats().answer_checks > checks; }));
  // A round trip after the check: worker 1 answers "ping" after its reply to the check, in the
  // same ring, so worker 0 has read the reply when the answer comes.
  bool pinged = false;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{}, 60s,
      [&](std::optional<std::string>, std::vector<sio::Args>) { pinged = true; });
  ASSERT_TRUE(drive([&] { return pinged; }));
  // Worker 1 replied, saying both owed (the serverSideEmit's without a count, the broadcast's
  // with its one client and no answer given).
  std::optional<boost::json::array> owed;
  while (look.value().poll([&](const shm::RecordView& v) {
    // (Worker 1's own ring holds its records only; the shared ring, every writer's.)
    if (v.type != static_cast<std::uint16_t>(cluster::MessageType::answers_owed) ||
        (!GetParam() && v.producer != w1))
      return;
    const auto m = cluster::read_message(v.payload);
    ASSERT_TRUE(m);
    if (m->body.at("to").to_number<int>() == w0) owed = m->body.at("owed").as_array();
  }) != 0 ||
         look.value().last_loss().records != 0) {
  }
  ASSERT_TRUE(owed) << "no reply to the check read";
  ASSERT_EQ(owed->size(), 2u) << boost::json::serialize(*owed);
  int counted_entries = 0;
  for (const auto& e : *owed)
    if (e.as_object().contains("clients")) {
      ++counted_entries;
      EXPECT_EQ(e.at("clients").to_number<int>(), 1);
      EXPECT_EQ(e.at("given").to_number<int>(), 0);
    }
  EXPECT_EQ(counted_entries, 1);
  EXPECT_FALSE(emitted.done()) << "ended though worker 1 still owed its answer";
  EXPECT_FALSE(broadcast.done()) << "ended though worker 1's client had not answered";
  EXPECT_EQ(workers_[0]->node->stats().answers_found_lost, 0u);
  held(sio::Args{"held"});
  const std::string& m = clients_[c].messages.back();
  const std::string id = m.substr(2, m.find('[') - 2);
  ASSERT_FALSE(id.empty()) << m;
  clients_[c].client->send_text("43" + id + R"(["acked"])");
  ASSERT_TRUE(drive([&] { return emitted.done() && broadcast.done(); }));
  EXPECT_FALSE(emitted.error) << *emitted.error;
  ASSERT_EQ(emitted.answers.size(), 1u);
  EXPECT_EQ(emitted.answers[0].values.at(0), "held");
  EXPECT_FALSE(broadcast.error) << *broadcast.error;
  ASSERT_EQ(broadcast.answers.size(), 1u);
  EXPECT_EQ(broadcast.answers[0].values.at(0), "acked");
}

// What a reply to a check says of a broadcast with acks still owed is taken: the client count it
// said (lost with the lap here: the requester counts it from the reply, and completes once that
// many acks came), and the answers given before the reply (fewer of them came: the rest were
// lost, counted as a "lost" marker counts them, and the request completes with "operation has
// timed out" and the acks that still come). A stand-in for worker 1 writes what a worker would.
TEST_P(ClusterAdapterTest, AReplyToACheckSaysTheCountAndTheAnswersGiven) {
  StandIn fake;
  ASSERT_NO_FATAL_FAILURE(replace_worker_1(fake));
  shm::RingWriter& out = GetParam() ? *fake.own : *fake.shared;
  auto look = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                      {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(look) << look.error().message;
  const int w0 = slot_labelled(*segment_, "worker-0");
  ASSERT_GE(w0, 0);
  Wait counted, short_of;
  for (Wait* w : {&counted, &short_of})
    workers_[0]->server->of("/").timeout(60s).emit_with_ack("q", sio::Args{}, w->taker());
  std::vector<std::uint64_t> ids;
  std::optional<std::uint64_t> check;
  auto read_out = [&] {
    while (look.value().poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast)) {
        const auto b = cluster::read_broadcast(v.payload);
        if (b && b->ack_id != 0) ids.push_back(b->ack_id);
      } else if (v.type == static_cast<std::uint16_t>(cluster::MessageType::answers_check)) {
        check = cluster::read_message(v.payload)->body.at("check").to_number<std::uint64_t>();
      }
    }) != 0) {
    }
  };
  ASSERT_TRUE(drive([&] {
    read_out();
    return ids.size() == 2;
  }));
  // More than a ring's worth from the stand-in, while worker 0 has no turn: it is lapped, and
  // asks.
  sio::BroadcastOptions nobody;
  nobody.rooms = {"nobody"};
  const std::string frame = "42[\"x\",\"" + std::string(200, 'p') + "\"]";
  std::vector<std::byte> rec(cluster::broadcast_size("/", nobody, frame.size(), {}));
  cluster::write_broadcast(rec, "/", nobody, cluster::broadcast_flags(nobody.flags), 0, frame, {});
  for (std::uint64_t written = 0; written < ring_bytes_ * 3 / 2;
       written += shm::layout::footprint(rec.size()))
    ASSERT_EQ(out.publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), rec),
              shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    read_out();
    return check.has_value();
  })) << "worker 0 did not ask after its lap";
  boost::json::array owed{boost::json::object{{"requestId", ids[0]}, {"clients", 2}, {"given", 0}},
                          boost::json::object{{"requestId", ids[1]}, {"clients", 2}, {"given", 1}}};
  ASSERT_EQ(
      say(out, cluster::MessageType::answers_owed, {{"to", w0}, {"check", *check}, {"owed", owed}}),
      shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return workers_[0]->node->stats().answers_found_lost == 1; }));
  EXPECT_FALSE(short_of.done()) << "its second client's ack may still come";
  EXPECT_FALSE(counted.done());
  // The acks still to come: each request completes with them, the one short of an ack lost
  // with "operation has timed out", as a "lost" marker ends it.
  ASSERT_EQ(say(out, cluster::MessageType::broadcast_ack,
                {{"requestId", ids[1]}, {"to", w0}, {"args", boost::json::array{"late"}}}),
            shm::PublishStatus::ok);
  for (const char* a : {"one", "two"})
    ASSERT_EQ(say(out, cluster::MessageType::broadcast_ack,
                  {{"requestId", ids[0]}, {"to", w0}, {"args", boost::json::array{a}}}),
              shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return counted.done() && short_of.done(); }))
      << "the count said in the reply not taken";
  EXPECT_FALSE(counted.error) << *counted.error;
  ASSERT_EQ(counted.answers.size(), 2u);
  EXPECT_EQ(short_of.error, std::optional<std::string>("operation has timed out"));
  ASSERT_EQ(short_of.answers.size(), 1u);
  EXPECT_EQ(short_of.answers[0].values.at(0), "late");
}

// A check names at most as many requests as a reply naming all of them as owed fits in an
// answer's share of the ring (half a record, and half the ring shared by the workers writing
// into it, 96 bytes an entry): the oldest waiting, in the order they were published. The rest
// wait for their answers, as before checks existed.
TEST_P(ClusterAdapterTest, ACheckNamesTheOldestRequestsItsReplyHasRoomFor) {
  std::vector<std::function<void(sio::Args)>> held;
  workers_[1]->server->of("/").on_server_side(
      "hold",
      [&held](sio::Args, std::function<void(sio::Args)> ack) { held.push_back(std::move(ack)); });
  const shm::Segment& out0 = GetParam() ? worker_rings_[0] : *segment_;
  const std::size_t writers = GetParam() ? 1 : 2;
  const std::size_t cap =
      std::min<std::size_t>(out0.max_record() / 2, out0.capacity() / 2 / writers) / 96;
  ASSERT_GT(cap, 1u);
  ASSERT_LT(cap, 1024u);
  auto look = shm::RingReader::attach(out0, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(look) << look.error().message;
  std::size_t done = 0;
  for (std::size_t i = 0; i < cap + 10; ++i)
    workers_[0]->server->of("/").server_side_emit_with_ack(
        "hold", sio::Args{}, 60s,
        [&done](std::optional<std::string>, std::vector<sio::Args>) { ++done; });
  std::vector<std::uint64_t> asked;  // (the requests' ids, in the order published)
  std::optional<std::vector<std::uint64_t>> named;
  auto read_out = [&] {
    while (look.value().poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      if (t != cluster::MessageType::server_side_emit && t != cluster::MessageType::answers_check)
        return;
      const auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      if (t == cluster::MessageType::server_side_emit) {
        asked.push_back(m->body.at("requestId").to_number<std::uint64_t>());
        return;
      }
      named.emplace();
      for (const auto& r : m->body.at("requests").as_array())
        named->push_back(r.to_number<std::uint64_t>());
    }) != 0) {
    }
  };
  ASSERT_TRUE(drive([&] {
    read_out();
    return held.size() == cap + 10 && asked.size() == cap + 10;
  }));
  flood_from(workers_, 1, ring_bytes_);
  ASSERT_TRUE(drive([&] {
    read_out();
    return named.has_value();
  })) << "no check after worker 0's lap";
  EXPECT_EQ(*named, std::vector<std::uint64_t>(asked.begin(), asked.begin() + cap));
  EXPECT_EQ(done, 0u) << "a request still owed was ended";
}

// A check without its id or its list of requests is refused (counted, said) and not answered;
// so is a reply to one (to worker 0) without its id or list, or with an entry not of whole
// numbers (a count misread as 0 would end a wait with no error): counted (refusals are said at
// most one line a second).
TEST_P(ClusterAdapterTest, ACheckWithoutItsIdOrRequestsIsRefused) {
  auto w = shm::RingWriter::attach(*segment_, {"stray", -1});
  ASSERT_TRUE(w) << w.error().message;
  // What the workers write from now on (their replies would be there).
  std::vector<shm::RingReader> outs;
  for (int i = 0; i < (GetParam() ? 2 : 1); ++i) {
    auto r = shm::RingReader::attach(GetParam() ? worker_rings_[i] : *segment_,
                                     {"test", -1, shm::StartAt::latest});
    ASSERT_TRUE(r) << r.error().message;
    outs.push_back(std::move(r.value()));
  }
  const int w0 = slot_labelled(*segment_, "worker-0");
  ASSERT_GE(w0, 0);
  testing::internal::CaptureStderr();
  const std::uint64_t bad = workers_[0]->node->stats().bad_records;
  const std::uint64_t bad1 = workers_[1]->node->stats().bad_records;
  auto put = [&](cluster::MessageType t, const std::string& body) {
    const std::string m = cluster::write_message(boost::json::parse(body).as_object());
    return w.value().publish(static_cast<std::uint16_t>(t),
                             {reinterpret_cast<const std::byte*>(m.data()), m.size()});
  };
  for (const char* body : {R"({"requests":[1]})", R"({"check":1})", R"({"check":-1,"requests":[]})",
                           R"({"check":1,"requests":{"a":1}})"})
    ASSERT_EQ(put(cluster::MessageType::answers_check, body), shm::PublishStatus::ok);
  const std::string to = std::to_string(w0);
  for (const std::string& body :
       {R"({"to":)" + to + R"(,"owed":[]})", R"({"to":)" + to + R"(,"check":1,"owed":{}})",
        R"({"to":)" + to + R"(,"check":1,"owed":[{"requestId":1,"clients":"2"}]})",
        R"({"to":)" + to + R"(,"check":1,"owed":[{"clients":2}]})",
        R"({"to":)" + to + R"(,"check":1,"owed":[{"requestId":1,"given":-1}]})"})
    ASSERT_EQ(put(cluster::MessageType::answers_owed, body), shm::PublishStatus::ok);
  // (Worker 1 refuses the checks too; the replies are worker 0's only.)
  const bool counted = drive([&] {
    return workers_[0]->node->stats().bad_records >= bad + 9 &&
           workers_[1]->node->stats().bad_records >= bad1 + 4;
  });
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(counted);
  EXPECT_EQ(workers_[0]->node->stats().bad_records, bad + 9);
  EXPECT_NE(said.find("a check of answers without its id and requests"), std::string::npos) << said;
  for (auto& r : outs)
    while (r.poll([&](const shm::RecordView& v) {
      // (Not the replies written above.)
      EXPECT_FALSE(v.producer != w.value().id() &&
                   v.type == static_cast<std::uint16_t>(cluster::MessageType::answers_owed))
          << "a refused check answered";
    }) != 0) {
    }
}

// A LAPPED record without its ring and range, or naming no worker's ring (any ring but -1 on
// one shared ring), is refused (counted, said), and ends nothing.
TEST_P(ClusterAdapterTest, ALapSaidWithoutItsRangeIsRefused) {
  auto w = shm::RingWriter::attach(*segment_, {"stray", -1});
  ASSERT_TRUE(w) << w.error().message;
  testing::internal::CaptureStderr();
  const std::uint64_t bad = workers_[0]->node->stats().bad_records;
  for (const char* body :
       {R"({"ring":-1,"from":0})", R"({"ring":7,"from":0,"to":10})",
        R"({"ring":-2,"from":0,"to":10})", R"({"ring":-1,"from":-5,"to":10})",
        R"({"ring":"x","from":0,"to":10})",
        GetParam() ? R"({"ring":2,"from":0,"to":10})" : R"({"ring":0,"from":0,"to":10})"}) {
    const std::string m = cluster::write_message(boost::json::parse(body).as_object());
    ASSERT_EQ(w.value().publish(static_cast<std::uint16_t>(cluster::MessageType::lapped),
                                {reinterpret_cast<const std::byte*>(m.data()), m.size()}),
              shm::PublishStatus::ok);
  }
  const bool counted = drive([&] { return workers_[0]->node->stats().bad_records >= bad + 6; });
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(counted);
  EXPECT_EQ(workers_[0]->node->stats().bad_records, bad + 6);
  EXPECT_NE(said.find("a lap said without its ring and range"), std::string::npos) << said;
}

// The emitter's own operations on the main namespace (em.in, em.except, em.volatile_(),
// em.compress(false), em.sockets_join, em.disconnect_sockets, ...), as the Node emitters have them
// beside of(): before 2026-12-05 only em.to and em.emit were there.
TEST_P(ClusterAdapterTest, AnEmittersOwnOperationsAreTheMainNamespaces) {
  cluster::Emitter em(ring_);
  const auto a = connect(0);
  const auto b = connect(1);
  ASSERT_TRUE(em.sockets_join("z")) << em.last_error();
  ASSERT_TRUE(em.except(b.second).sockets_leave(std::vector<sio::Room>{"z"}));
  auto on_1 = workers_[1]->server->of("/").socket(b.second);
  ASSERT_TRUE(on_1);
  ASSERT_TRUE(drive([&] {
    auto s = workers_[0]->server->of("/").socket(a.second);
    return on_1->rooms().count("z") == 1 && s && s->rooms().count("z") == 0;
  }));
  ASSERT_TRUE(em.in("z").emit("in-z", sio::Args{1}));
  ASSERT_TRUE(em.except({b.second}).emit("not-b", sio::Args{2}));
  ASSERT_TRUE(drive([&] { return has(a.first, "not-b") && has(b.first, "in-z"); }));
  EXPECT_FALSE(has(a.first, "in-z"));
  EXPECT_FALSE(has(b.first, "not-b"));
  // compress(false) and volatile_() are carried in the record's flags. (A volatile event may be
  // dropped for a client whose transport is busy, as socket.io's: not waited for.)
  auto reader = shm::RingReader::attach(*segment_, {"flags", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  ASSERT_TRUE(em.compress(false).emit("plain", sio::Args{4}));
  ASSERT_TRUE(em.volatile_().compress(true).emit("vol", sio::Args{5}));
  std::vector<std::uint8_t> flags;
  reader.value().poll([&](const shm::RecordView& v) {
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast))
      if (auto bv = cluster::read_broadcast(v.payload)) flags.push_back(bv->flags);
  });
  ASSERT_EQ(flags.size(), 2u);
  EXPECT_EQ(flags[0] & cluster::kFlagCompress, 0) << "compress(false): the compress bit clear";
  EXPECT_EQ(flags[1], cluster::kFlagVolatile | cluster::kFlagCompress);
  ASSERT_TRUE(drive([&] { return has(a.first, "plain") && has(b.first, "plain"); }));
  // disconnect_sockets, and server_side_emit reaching every worker's handler.
  int heard = 0;
  for (auto& w : workers_)
    w->server->of("/").on_server_side("hello", [&heard](sio::Args, auto) { ++heard; });
  ASSERT_TRUE(em.server_side_emit("hello", sio::Args{"x"}));
  ASSERT_TRUE(em.in("z").disconnect_sockets());
  ASSERT_TRUE(drive([&] {
    return heard == static_cast<int>(workers_.size()) &&
           !workers_[1]->server->of("/").socket(b.second);
  }));
  EXPECT_TRUE(workers_[0]->server->of("/").socket(a.second)) << "not in z";
}

TEST_P(ClusterRecoveryTest, AnEmittersBroadcastGetsAnOffsetAndIsReplayedOnlyToWhoMissedIt) {
  cluster::Emitter em(ring_);
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  ASSERT_TRUE(em.of("/").emit("e", sio::Args{"last-string"}));
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 2; }));
  const std::string e = events(x.k)[1];
  EXPECT_EQ(e.substr(0, 19), R"(["e","last-string",)") << e;
  const std::string offset = offset_of_event(e);
  ASSERT_FALSE(offset.empty());
  EXPECT_NE(offset, "last-string");
  drop(x.k, 0);
  ASSERT_TRUE(em.of("/").emit("f", sio::Args{}));  // missed while away
  const Joined y = connect_with(1, auth(x.pid, offset));
  EXPECT_EQ(y.sid, x.sid) << "recovered from the emitter's broadcast's offset";
  workers_[1]->server->of("/").emit("g", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(y.k, "g"); }));
  const auto got = events(y.k);
  ASSERT_EQ(got.size(), 2u) << got[0];
  EXPECT_EQ(got[0].substr(0, 5), R"(["f",)") << "replayed, with an offset of its own";
  EXPECT_FALSE(offset_of_event(got[0]).empty());
  EXPECT_EQ(got[1].substr(0, 5), R"(["g",)");
}

// A replay that finds a record of its range unreadable (its seal wiped by a stray write into the
// segment, after the worker applied it) refuses the recovery — a fresh session, counted — and does
// not call itself whole with what came before the record. (Before, it stopped there and recovered
// the session with "b" alone: the client was told it had missed nothing else.)
TEST_P(ClusterRecoveryTest, AReplayStoppedShortByAWipedSealIsRefused) {
  const Joined x = connect_with(0, "");
  const Joined watcher = connect_with(0, "");  // (sees when worker 0 has applied everything)
  sio::Namespace& one = workers_[1]->server->of("/");
  one.emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(x.k, "a"); }));
  const std::string offset = offset_of_event(events(x.k)[0]);
  ASSERT_FALSE(offset.empty());
  drop(x.k, 0);
  // Worker 1's broadcasts, read back from the ring the replay reads (its own with a ring per
  // worker) for their positions.
  const shm::Segment& ring = GetParam() ? worker_rings_[1] : *segment_;
  auto reader = shm::RingReader::attach(ring, {"stand-in", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  for (const char* e : {"b", "c", "d"}) one.emit(e, sio::Args{});
  ASSERT_TRUE(drive([&] { return has(watcher.k, "d"); }));
  std::vector<std::uint64_t> at;
  reader.value().poll([&](const shm::RecordView& v) {
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast))
      at.push_back(v.position);
  });
  ASSERT_EQ(at.size(), 3u);
  ring.meta(at[1]).seal.store(0);  // "c"'s
  const std::uint64_t failures = workers_[0]->node->stats().recovery_failures;
  const Joined y = connect_with(0, auth(x.pid, offset));
  EXPECT_NE(y.sid, x.sid) << "recovered, though \"c\" and \"d\" could not be replayed";
  EXPECT_EQ(workers_[0]->node->stats().recovery_failures, failures + 1);
  EXPECT_TRUE(events(y.k).empty()) << events(y.k)[0];
}

// A process holding a reader slot on ring `name`, as a worker does, until it is killed
// (SIGKILL; the caller waits for it): an emitter writes only into a ring someone reads.
pid_t reader_process(const std::string& name) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto seg = shm::Segment::attach(name);
    if (!seg) ::_exit(1);
    auto r = shm::RingReader::attach(seg.value(), {"test-reader", -1, shm::StartAt::latest});
    if (!r) ::_exit(1);
    (void)!::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  const bool up = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  if (!up && pid > 0) ::waitpid(pid, nullptr, 0);
  return up ? pid : -1;
}
void end_process(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// An emitter writes into a ring only while some process reads it: with none (every worker
// starting or restarting, no fleet bridge), the message is refused with why, nothing written
// (before 2026-12-04 it was written, and shmio-emit said "sent": a worker starts reading at the
// latest record, so no client got it). Once a reader is there, it is written.
TEST(ClusterEmitter, AMessageNoProcessReadsIsRefusedNotWritten) {
  const std::string name = "test-emitter-unread-" + std::to_string(::getpid());
  (void)shm::Segment::remove(name);
  shm::Segment ring = shmio::test::make_ring(name);
  cluster::Emitter em(name);
  EXPECT_FALSE(em.emit("nobody"));
  EXPECT_NE(em.last_error().find("nothing written: no process reads ring"), std::string::npos)
      << em.last_error();
  EXPECT_EQ(ring.control().tail.tail.load(), 0u) << "written all the same";
  // A reader that died (a worker SIGKILLed) counts for none.
  const pid_t dead = reader_process(name);
  ASSERT_GT(dead, 0);
  end_process(dead);
  EXPECT_FALSE(em.emit("nobody-still"));
  const pid_t reader = reader_process(name);
  ASSERT_GT(reader, 0);
  EXPECT_TRUE(em.emit("somebody")) << em.last_error();
  EXPECT_GT(ring.control().tail.tail.load(), 0u);
  end_process(reader);
  ASSERT_TRUE(shm::Segment::remove(name));
}

// Flow control: a burst of twice the ring waits for a reader over half the ring behind instead
// of lapping it (a lapped worker disconnects its clients; before 2026-12-04 the emitter wrote on,
// every emit true, and this reader lost what it had not read), and a reader that does not move is
// waited for at most max_hold, then passed over (waited for once, not at every look).
TEST(ClusterEmitter, ABurstWaitsForAReaderFarBehindInsteadOfLappingIt) {
  const std::string name = "test-emitter-pace-" + std::to_string(::getpid());
  (void)shm::Segment::remove(name);
  shm::Segment ring = shmio::test::make_ring(name);  // 1 MiB
  auto r = shm::RingReader::attach(ring, {"test-reader", -1, shm::StartAt::latest});
  ASSERT_TRUE(r) << r.error().message;
  shm::RingReader& reader = r.value();
  constexpr int kMessages = 128;  // of 16 KiB: 2 MiB
  const std::string big(16 * 1024, 'x');
  {
    cluster::Emitter em(name, "emitter", true, std::chrono::seconds(60));
    std::atomic<bool> done{false};
    std::atomic<int> refused{0};
    std::thread burst([&] {
      for (int i = 0; i < kMessages; ++i)
        if (!em.emit("big", {boost::json::string(big)})) ++refused;
      done = true;
    });
    // Nothing read until the emitter waits for this reader (or has written everything), then all.
    while (em.holds() == 0 && !done) std::this_thread::yield();
    int got = 0;
    for (;;) {
      const bool finished = done;
      const std::size_t n = reader.poll([&](const shm::RecordView&) { ++got; }, 64);
      if (n == 0 && finished) break;
      if (n == 0) std::this_thread::yield();
    }
    burst.join();
    EXPECT_EQ(refused, 0) << em.last_error();
    EXPECT_GE(em.holds(), 1u);
    EXPECT_EQ(em.hold_timeouts(), 0u);
    EXPECT_EQ(reader.total_loss().records, 0u) << "lapped";
    EXPECT_EQ(got, kMessages);
  }
  {
    // This reader reads no more: the burst waits max_hold once, then writes on.
    cluster::Emitter em(name, "emitter", true, std::chrono::milliseconds(50));
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(em.emit("big", {boost::json::string(big)}));
    EXPECT_EQ(em.holds(), 1u);
    EXPECT_EQ(em.hold_timeouts(), 1u);
  }
  {
    // max_hold 0: never waits, a reader that reads nothing from here on notwithstanding (the first
    // one is lapped by now: not waited for by any emitter).
    auto fresh = shm::RingReader::attach(ring, {"test-reader-2", -1, shm::StartAt::latest});
    ASSERT_TRUE(fresh) << fresh.error().message;
    cluster::Emitter em(name, "emitter", true, std::chrono::milliseconds(0));
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(em.emit("big", {boost::json::string(big)}));
    EXPECT_EQ(em.holds(), 0u);
  }
  ASSERT_TRUE(shm::Segment::remove(name));
}

// A long-lived emitter whose cluster restarted (its ring removed and made anew under the same
// name) writes into the new ring; one whose ring is gone refuses the message and says why.
// (Before, it wrote on into the removed ring: every emit returned true, no client got any.)
TEST(ClusterEmitter, ARingReplacedUnderAnEmitterIsAttachedAgainAndARemovedOneRefused) {
  const std::string name = "test-emitter-" + std::to_string(::getpid());
  (void)shm::Segment::remove(name);
  std::optional<shm::Segment> first(shmio::test::make_ring(name));
  const pid_t first_reader = reader_process(name);
  ASSERT_GT(first_reader, 0);
  cluster::Emitter em(name);
  ASSERT_TRUE(em.emit("one")) << em.last_error();
  end_process(first_reader);
  first.reset();
  ASSERT_TRUE(shm::Segment::remove(name));
  shm::Segment second = shmio::test::make_ring(name);
  // (Read by no one yet — its workers not attached — the message is refused, not written: the
  // look is made at the attach, not a second after the old ring's.)
  EXPECT_FALSE(em.emit("unread"));
  EXPECT_NE(em.last_error().find("no process reads ring"), std::string::npos) << em.last_error();
  auto reader = shm::RingReader::attach(second, {"test", -1, shm::StartAt::oldest});
  ASSERT_TRUE(reader);
  ASSERT_TRUE(em.emit("two")) << em.last_error();
  std::vector<std::string> frames;
  reader->poll([&](const shm::RecordView& v) {
    if (auto b = cluster::read_broadcast(v.payload)) frames.emplace_back(b->frame);
  });
  EXPECT_EQ(frames, std::vector<std::string>{R"(42["two"])"}) << "into the new ring";
  // A reserved event name: refused with false (the header's promise), nothing written; "chat" is
  // "/chat", as io.of() has it.
  EXPECT_FALSE(em.emit("connect"));
  EXPECT_NE(em.last_error().find("reserved"), std::string::npos) << em.last_error();
  ASSERT_TRUE(em.of("chat").emit("four")) << em.last_error();
  std::vector<std::string> nsps;
  reader->poll([&](const shm::RecordView& v) {
    if (auto b = cluster::read_broadcast(v.payload)) nsps.emplace_back(b->nsp);
  });
  EXPECT_EQ(nsps, std::vector<std::string>{"/chat"});
  // Names that are not UTF-8 are refused (a client's WebSocket fails on such a frame and closes
  // its connection), each operation's, nothing written.
  const std::string bad = "a\xff";
  EXPECT_FALSE(em.emit(bad));
  EXPECT_NE(em.last_error().find("not UTF-8"), std::string::npos) << em.last_error();
  EXPECT_FALSE(em.of("/").to(bad).emit("x"));
  EXPECT_FALSE(em.of("/").except(bad).disconnect_sockets());
  EXPECT_FALSE(em.of(bad).sockets_join("r"));
  EXPECT_FALSE(em.of("/").sockets_leave(bad));
  EXPECT_FALSE(em.of("/").server_side_emit(bad));
  // Past what a record's names hold (as the fleet's shmio members refuse it too): 65,536 rooms to
  // join, a room of 65,536 bytes to leave; each refused with why, nothing written.
  EXPECT_FALSE(em.of("/").sockets_join(std::vector<sio::Room>(65536, "r")));
  EXPECT_NE(em.last_error().find("over 65535 rooms to join or leave"), std::string::npos)
      << em.last_error();
  EXPECT_FALSE(em.of("/").sockets_leave({std::string(65536, 'r')}));
  EXPECT_NE(em.last_error().find("a room to join or leave over 65535 bytes"), std::string::npos)
      << em.last_error();
  std::size_t written = 0;
  reader->poll([&](const shm::RecordView&) { ++written; });
  EXPECT_EQ(written, 0u);
  ASSERT_TRUE(shm::Segment::remove(name));
  EXPECT_FALSE(em.emit("three"));
  EXPECT_NE(em.last_error().find("removed or replaced"), std::string::npos) << em.last_error();
}

// A ring's file truncated under an emitter (an operator's `truncate -s`): the message refused with
// why, nothing written, and the writer let go without a store into the mapping (its pages past
// the new end were a SIGBUS that ended the emitter's process, before 2026-12-03).
TEST(ClusterEmitter, ARingTruncatedUnderAnEmitterIsRefusedNotWrittenInto) {
  const std::string name = "test-emitter-cut-" + std::to_string(::getpid());
  (void)shm::Segment::remove(name);
  shm::Segment ring = shmio::test::make_ring(name);
  const pid_t reader = reader_process(name);
  ASSERT_GT(reader, 0);
  cluster::Emitter em(name);
  ASSERT_TRUE(em.emit("one")) << em.last_error();
  end_process(reader);
  ASSERT_EQ(::truncate(shm::Segment::object_path(name).c_str(), 4096), 0);
  EXPECT_FALSE(em.emit("two"));
  EXPECT_NE(em.last_error().find("removed or replaced"), std::string::npos) << em.last_error();
  EXPECT_NE(em.last_error().find("4096"), std::string::npos) << em.last_error();
  EXPECT_FALSE(em.of("/").to("r").emit("three")) << "and every later one";
  ASSERT_TRUE(shm::Segment::remove(name));
  // Truncated, then removed (what the supervisor does with a truncated ring), under an emitter
  // still attached: refused, no store into the old mapping (its writer's release was one).
  shm::Segment again = shmio::test::make_ring(name);
  const pid_t reader2 = reader_process(name);
  ASSERT_GT(reader2, 0);
  cluster::Emitter em2(name);
  ASSERT_TRUE(em2.emit("one")) << em2.last_error();
  end_process(reader2);
  ASSERT_EQ(::truncate(shm::Segment::object_path(name).c_str(), 4096), 0);
  ASSERT_TRUE(shm::Segment::remove(name));
  EXPECT_FALSE(em2.emit("two"));
  EXPECT_NE(em2.last_error().find("removed or replaced"), std::string::npos) << em2.last_error();
}

namespace {
// Runs `body` in a child process of the test's (which the supervisor's signal handling must not
// touch), given a descriptor to report on; returns what it reported, and its exit status after
// it unless 0.
std::string in_reporting_child(const std::function<int(int report)>& body) {
  int report[2];
  if (::pipe(report) != 0) return "pipe";
  const pid_t pid = shmio::test::spawn([&] {
    ::close(report[0]);
    return body(report[1]);
  });
  if (pid < 0) return "fork";
  ::close(report[1]);
  std::string got;
  char c = 0;
  while (::read(report[0], &c, 1) == 1) got += c;
  ::close(report[0]);
  if (const int rc = shmio::test::join(pid); rc != 0) got += " (exit " + std::to_string(rc) + ")";
  return got;
}

// One worker, not pinned, a 1 MiB ring, no hand-off sockets.
cluster::SupervisorOptions small_cluster(const std::string& ring) {
  cluster::SupervisorOptions o;
  o.ring = ring + "-" + std::to_string(::getpid());
  o.workers = 1;
  o.pin = false;
  o.ring_bytes = 1 << 20;
  o.handoff_sockets = false;
  return o;
}

void report(int fd, const std::string& what) {
  (void)::write(fd, what.data(), what.size());
}
}  // namespace

// SIGCHLD as the caller had it (here ignored): in each worker, and again in the caller once the
// supervisor returns (it was left at SIG_DFL in both: an app relying on SIGCHLD ignored to reap
// its own helpers got zombies).
TEST(ClusterSupervisor, SigchldIsAsTheCallerHadItInTheWorkersAndAfter) {
  const std::string got = in_reporting_child([](int fd) {
    ::signal(SIGCHLD, SIG_IGN);
    const int rc = cluster::run_supervisor(small_cluster("test-sup-sigchld"),
                                           [fd](const cluster::WorkerContext&) {
                                             struct sigaction now {};
                                             ::sigaction(SIGCHLD, nullptr, &now);
                                             report(fd, now.sa_handler == SIG_IGN ? "i" : "d");
                                             ::kill(::getppid(), SIGTERM);  // (drains, returns)
                                             return 0;
                                           });
    struct sigaction after {};
    ::sigaction(SIGCHLD, nullptr, &after);
    report(fd, after.sa_handler == SIG_IGN ? "I" : "D");
    return rc;
  });
  EXPECT_EQ(got, "iI") << "i/I: ignored in the worker / in the caller after";
}

// A child the calling program started itself is not the supervisor's to reap: once it returns,
// a program that waits for its children finds the child with its status, one with a SIGCHLD
// handler has it called for the child, and one that came with SIGCHLD ignored (its children the
// kernel's to reap) is left no zombie. The child exits while the supervisor runs (told to by the
// worker, which then waits for its end before it stops the cluster). (Before 2026-12-03 the
// supervisor reaped every dead child, waitpid(-1): the program's waitpid failed with ECHILD, the
// status lost. Then, by pid only, for a while: a caller's SIGCHLD handler never ran for it, and a
// caller ignoring SIGCHLD was left a zombie.)
namespace {
volatile sig_atomic_t g_sigchld_seen = 0;
std::string supervise_beside_own_child(const std::string& mode) {
  return in_reporting_child([&mode](int fd) {
    if (mode == "ignores") ::signal(SIGCHLD, SIG_IGN);
    if (mode == "handler") ::signal(SIGCHLD, [](int) { g_sigchld_seen = 1; });
    int go[2], end[2];  // (the worker tells the child to exit; the child's end closes `end`)
    if (::pipe(go) != 0 || ::pipe(end) != 0) return 3;
    const pid_t own = ::fork();
    if (own == 0) {
      char b = 0;
      (void)::read(go[0], &b, 1);
      ::_exit(42);
    }
    if (own < 0) return 3;
    ::close(go[0]);
    ::close(end[1]);
    const int rc = cluster::run_supervisor(small_cluster("test-sup-own-child"),
                                           [&](const cluster::WorkerContext&) {
                                             (void)::write(go[1], "x", 1);
                                             char b = 0;
                                             while (::read(end[0], &b, 1) > 0) {
                                             }
                                             ::kill(::getppid(), SIGTERM);  // (drains, returns)
                                             return 0;
                                           });
    int status = 0;
    const pid_t got = ::waitpid(own, &status, 0);  // (its descriptors close just before its end)
    std::string line = got == own && WIFEXITED(status)
                           ? "exited " + std::to_string(WEXITSTATUS(status))
                       : got < 0 && errno == ECHILD ? "reaped"
                                                    : "waitpid " + std::to_string(got);
    if (g_sigchld_seen) line += ", handler ran";
    report(fd, line);
    return rc;
  });
}
}  // namespace

TEST(ClusterSupervisor, ACallersOwnChildIsLeftToTheCaller) {
  EXPECT_EQ(supervise_beside_own_child("waits"), "exited 42");
  EXPECT_EQ(supervise_beside_own_child("handler"), "exited 42, handler ran");
  EXPECT_EQ(supervise_beside_own_child("ignores"), "reaped");
}

// A worker that takes no hand-offs (here one that never accepts: a stopped worker) is waited on
// once: the send that finds its connection full waits 200 ms and marks it; the rest go without
// waiting, onto at most eight fresh connections (each holds a buffer's worth of descriptors in
// flight), then fail at once. Once it reads again, hand-offs go through and its mark is cleared.
// (Before 2026-12-03 the fresh connection that took the message after the wait left it
// unmarked: one 200 ms wait per connection filled, about 128 for a stopped worker's whole
// backlog, in the sender's thread; and fresh connections were opened up to its backlog, 129 of
// them here, about 35,900 descriptors in flight against the user's RLIMIT_NOFILE.)
TEST(ClusterHandoff, AWorkerThatTakesNothingIsWaitedOnOnceAndHoldsFewDescriptors) {
  boost::asio::io_context io;
  const std::string name = "test-handoff-" + std::to_string(::getpid());
  std::uint64_t refused = 0;
  int adopted = 0;
  cluster::Handoff stopped(
      io, name, 1,
      [&adopted](int fd, std::string) {
        ++adopted;
        ::close(fd);
      },
      &refused);
  std::uint64_t counted = 0;  // (the sender's waits)
  cluster::Handoff sender(
      io, name, 0, [](int fd, std::string) { ::close(fd); }, &refused, &counted);
  // (Descriptors in flight count against the soft RLIMIT_NOFILE of a user without
  // CAP_SYS_RESOURCE: past it, ETOOMANYREFS would end the queueing, not the bound under test.)
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 8192 && ::geteuid() != 0)
    GTEST_SKIP() << "RLIMIT_NOFILE " << rl.rlim_cur << " < 8192 (descriptors in flight)";
  int waits = 0, sent = 0, failed_after_first_failure = 0, sent_after_first_failure = 0;
  int one_connection = 0;  // (what the first connection took: those sent before the wait)
  bool failed = false;
  const int tries = 4000;  // (each taken holds a descriptor in flight: about 2,500 are)
  for (int i = 0; i < tries; ++i) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    // (Its waits counted by the sender, not timed: the kernel's wait ends early now and then,
    // and a pause of this thread looked like a second wait.)
    const std::uint64_t waited = counted;
    const bool ok = sender.send(1, sv[0], "GET / HTTP/1.1\r\n\r\n");
    if (counted != waited && waits++ == 0) one_connection = sent;
    sent += ok;
    if (failed) ok ? ++sent_after_first_failure : ++failed_after_first_failure;
    failed = failed || !ok;
    ::close(sv[1]);
  }
  EXPECT_EQ(waits, 1) << sent << " sent";
  EXPECT_GT(sent, 100) << "queued after the wait";
  EXPECT_LT(sent, tries) << "queued on a connection after another for ever";
  // The first connection and at most 8 fresh ones (Handoff::kMaxOverflow), each taking about as
  // many as the first: the bound itself, not only that there is one.
  ASSERT_GT(one_connection, 0);
  EXPECT_GE(sent, 8 * one_connection) << one_connection << " a connection";
  EXPECT_LE(sent, 10 * one_connection) << one_connection << " a connection";
  EXPECT_EQ(sent_after_first_failure, 0) << failed_after_first_failure;
  EXPECT_TRUE(sender.stuck(1));
  // It reads again (its loop runs): everything queued is taken, and hand-offs go through again;
  // the mark goes once one is taken on a connection seen read, a second after the marking. (The
  // loop ends when the mark is gone: that send was taken.)
  // (io.run_for: the stopped worker's accept and reads, 10 ms a round; each send then looks at
  // the mark, whose second is the condition.)
  stopped.start();
  const int sent_before = sent;
  for (const auto until = std::chrono::steady_clock::now() + 5s;
       sender.marked(1) && std::chrono::steady_clock::now() < until;) {
    io.run_for(10ms);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    // (One sent while the queues are still full fails: the fresh connections are spent.)
    sent += sender.send(1, sv[0], "GET / HTTP/1.1\r\n\r\n");
    ::close(sv[1]);
  }
  EXPECT_FALSE(sender.marked(1)) << "still marked while it reads";
  EXPECT_GT(sent, sent_before) << "nothing taken once it reads";
  io.poll();
  EXPECT_GE(adopted, sent) << "what was queued is taken";
}

// A process forked from a worker without exec (a helper an app forks and leaves running) lets go
// of the worker's hand-off socket: the worker's successor binds it as soon as the worker is gone.
// Before 2026-12-07 the helper kept it listened on, and the successor's bind failed with
// EADDRINUSE ("is another cluster of that name running?"), again every 5 s for as long as the
// helper lived (a review). Both address kinds: abstract, and a file in the hand-off directory.
TEST(ClusterHandoff, AHelperForkedFromAWorkerDoesNotKeepItsHandOffSocket) {
  char dir[] = "/tmp/shmio-handoff-fork-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  for (const std::string& name :
       {"test-handoff-fork-" + std::to_string(::getpid()), std::string(dir)}) {
    boost::asio::io_context io;
    std::uint64_t refused = 0;
    auto worker = std::make_unique<cluster::Handoff>(
        io, name, 2, [](int fd, std::string) { ::close(fd); }, &refused);
    const shmio::test::ForkedHelper helper;
    ASSERT_GT(helper.pid, 0);
    worker.reset();  // (the worker gone: its socket closed in this process)
    std::string failed;
    try {
      cluster::Handoff successor(
          io, name, 2, [](int fd, std::string) { ::close(fd); }, &refused);
    } catch (const std::exception& e) {
      failed = e.what();
    }
    EXPECT_TRUE(helper.alive());
    EXPECT_EQ(failed, "") << name;
  }
  std::filesystem::remove_all(dir);
}

// A worker that reads its hand-offs but late (its turns long, under the 200 ms a wait takes:
// here it reads for 10 ms every 130 ms) is waited on once a second at most when each wait ends
// with room: before 2026-12-05 such a wait left no trace, and every hand-off that found its queue
// full waited again, stalling the sender's only thread turn after turn (found by a review).
// Large hand-offs (30 KB: about 7 fill a queue), sent for 2.5 s: three waits at most.
TEST(ClusterHandoff, ALateButLiveOwnerIsWaitedOnOnceASecond) {
  boost::asio::io_context io_owner, io_sender;
  const std::string name = "test-handoff-late-" + std::to_string(::getpid());
  std::uint64_t refused = 0;
  std::atomic<int> adopted{0};
  cluster::Handoff owner(
      io_owner, name, 1,
      [&adopted](int fd, std::string) {
        ++adopted;
        ::close(fd);
      },
      &refused);
  std::uint64_t waits = 0;  // (the sender's)
  cluster::Handoff sender(
      io_sender, name, 0, [](int fd, std::string) { ::close(fd); }, &refused, &waits);
  owner.start();
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) {
      io_owner.run_for(10ms);
      std::this_thread::sleep_for(120ms);  // (its long turn: it reads nothing meanwhile)
    }
  });
  const StopAndJoin join{stop, busy};
  const std::string request =
      "POST / HTTP/1.1\r\nContent-Length: 30000\r\n\r\n" + std::string(30000, 'b');
  int sent = 0, tries = 0;
  for (const auto until = std::chrono::steady_clock::now() + 2500ms;
       std::chrono::steady_clock::now() < until; ++tries) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    sent += sender.send(1, sv[0], request);
    ::close(sv[1]);
  }
  // (Counted by the sender: before 2026-12-05 each hand-off taking 50 ms or more counted, and a
  // pause of this thread could make a fourth.)
  EXPECT_LE(waits, 3u) << sent << " of " << tries << " sent";
  EXPECT_GT(sent, 7) << "taken past the first queue's worth";
  std::printf("[ info ] %llu waits, %d of %d hand-offs sent in 2.5 s\n",
              static_cast<unsigned long long>(waits), sent, tries);
}

// A worker out of descriptors leaves its hand-offs queued and takes them once descriptors are
// free again: before 2026-12-06 it read each message, the kernel closed the descriptors it could
// not install (MSG_CTRUNC), and the connection was lost. Two small hand-offs and one in a memfd
// (two descriptors); the receiver's table full but for the one its accept takes.
TEST(ClusterHandoff, HandOffsWaitWhileTheWorkerHasNoDescriptorFreeAndAreTakenAfter) {
#if defined(__SANITIZE_ADDRESS__)
  // (The sanitizers' runtime takes descriptors of its own while the table is full: UBSan's vptr
  // check tests memory through a pipe, fails with EMFILE, and reports an invalid vptr. The
  // Release build runs this test; cluster_handoff runs the same case in a worker process.)
  GTEST_SKIP() << "the sanitizers need descriptors of their own (UBSan's vptr check opens a pipe)";
#endif
  boost::asio::io_context io;
  const std::string name = "test-handoff-nofd-" + std::to_string(::getpid());
  std::uint64_t refused = 0;
  std::vector<std::size_t> adopted;  // (the bytes of each, in order)
  cluster::Handoff receiver(
      io, name, 1,
      [&adopted](int fd, std::string bytes) {
        adopted.push_back(bytes.size());
        ::close(fd);
      },
      &refused);
  cluster::Handoff sender(
      io, name, 0, [](int fd, std::string) { ::close(fd); }, &refused);
  const std::string big =
      "POST / HTTP/1.1\r\nContent-Length: 40000\r\n\r\n" + std::string(40000, 'b');
  ASSERT_GT(big.size(), cluster::Handoff::kInline);
  const std::string requests[3] = {"GET /1 HTTP/1.1\r\n\r\n", big, "GET /22 HTTP/1.1\r\n\r\n"};
  for (const std::string& r : requests) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_TRUE(sender.send(1, sv[0], r));
    ::close(sv[1]);
  }
  // The table filled under a lowered soft bound (restored whatever happens), one slot left.
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit low = before;
  low.rlim_cur = std::min<rlim_t>(before.rlim_cur, 1024);
  std::vector<int> fillers;
  struct Restore {
    rlimit& rl;
    std::vector<int>& fds;
    ~Restore() {
      for (int fd : fds) ::close(fd);
      fds.clear();
      (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
  } restore{before, fillers};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  ASSERT_FALSE(fillers.empty());
  ::close(fillers.back());
  fillers.pop_back();
  receiver.start();
  io.run_for(350ms);  // (its accept, a read stopped for want of descriptors, three looks again)
  EXPECT_TRUE(adopted.empty()) << "adopted without a descriptor free?";
  EXPECT_EQ(refused, 0u) << "a hand-off lost for want of descriptors";
  for (int fd : fillers) ::close(fd);
  fillers.clear();
  for (const auto until = std::chrono::steady_clock::now() + 5s;
       adopted.size() < 3 && std::chrono::steady_clock::now() < until;)
    io.run_for(10ms);
  ASSERT_EQ(adopted.size(), 3u) << "refused " << refused;
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(adopted[i], requests[i].size()) << i;
  EXPECT_EQ(refused, 0u);
}

// A ring whose creator (the cluster's supervisor) is gone was left behind by a cluster killed
// without its drain: nothing reads it. An emitter attaching to it is refused, and a long-lived
// one whose cluster dies refuses its next messages (looked at once a second) — before 2026-12-03
// both wrote on and said they had.
TEST(ClusterEmitter, ARingWhoseClusterIsGoneIsRefused) {
  const std::string name = "test-emitter-gone-" + std::to_string(::getpid());
  (void)shm::Segment::remove(name);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t creator = ::fork();
  ASSERT_GE(creator, 0);
  if (creator == 0) {  // the "supervisor": makes the ring, says so, waits to be killed
    shm::Segment ring = shmio::test::make_ring(name);
    (void)::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);
  const pid_t reader = reader_process(name);
  ASSERT_GT(reader, 0);
  cluster::Emitter em(name);
  ASSERT_TRUE(em.emit("while-it-runs")) << em.last_error();
  ::kill(creator, SIGKILL);
  ::waitpid(creator, nullptr, 0);
  bool refused = false;
  for (const auto until = std::chrono::steady_clock::now() + 5s;
       !refused && std::chrono::steady_clock::now() < until;)
    refused = !em.emit("after");  // (until its once-a-second look)
  EXPECT_TRUE(refused);
  EXPECT_NE(em.last_error().find("is not running"), std::string::npos) << em.last_error();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(em.emit("later")) << "every later one refused too";
  try {
    cluster::Emitter late(name);
    ADD_FAILURE() << "attached to a ring whose cluster is gone";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not running (its creator, pid "), std::string::npos)
        << e.what();
  }
  end_process(reader);
  ASSERT_TRUE(shm::Segment::remove(name));
}

// run_supervisor refuses more workers than a cluster has (kMaxWorkers: the registry's slots),
// before it makes a ring or starts a worker (programs calling it directly; shmio's own command
// line bounds --workers the same).
TEST(ClusterSupervisor, MoreWorkersThanAClusterHasAreRefused) {
  cluster::SupervisorOptions o;
  o.ring = "test-too-many-" + std::to_string(::getpid());
  o.workers = cluster::kMaxWorkers + 1;
  int started = 0;
  EXPECT_EQ(cluster::run_supervisor(o, [&](const cluster::WorkerContext&) { return ++started; }),
            1);
  EXPECT_EQ(started, 0);
  EXPECT_FALSE(shm::Segment::attach(o.ring, shm::AttachMode::read_only)) << "no ring made";
  // A negative count is refused and said as it was passed (before 2026-12-07 as the CPUs' count,
  // "N asked: one per CPU").
  o.workers = -2;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(cluster::run_supervisor(o, [&](const cluster::WorkerContext&) { return ++started; }),
            1);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("workers (-2 asked)"), std::string::npos) << said;
  EXPECT_EQ(started, 0);
}

// A Node whose hand-off socket cannot be made (a directory that is not there) throws and leaves
// the caller's server options as they were: they held callbacks into the Node's freed state, for
// a caller that caught the error and made a Server from them anyway (before 2026-12-04).
TEST_P(ClusterAdapterTest, ANodeThatCannotStartLeavesTheServerOptionsAlone) {
  cluster::NodeOptions no;
  no.ring = ring_;
  no.worker = 1;
  no.workers = 2;
  no.ring_per_worker = GetParam();
  no.handoff = "/nonexistent-" + std::to_string(::getpid()) + "/handoff";
  sio::ServerOptions so;
  EXPECT_THROW(cluster::Node(io_, no, so), std::runtime_error);
  EXPECT_FALSE(so.adapter);
  EXPECT_FALSE(so.is_foreign);
  EXPECT_FALSE(so.hand_off);
  EXPECT_EQ(so.ack_id_stride, sio::ServerOptions{}.ack_id_stride);
}

// Records a worker refuses on the shared ring — a type it does not know, a worker's death
// without a valid pid (none; one past pid_t's range, which cut to pid_t named a live process) —
// are counted and said on stderr (counted only, before 2026-12-04), and the worker goes on; a
// retired type is skipped, as wire.hpp says, not counted.
TEST_P(ClusterAdapterTest, RefusedRecordsAreCountedAndSaid) {
  const auto [k, sid] = connect(0);
  (void)sid;
  const std::uint64_t before = workers_[0]->node->stats().bad_records;
  auto w = shm::RingWriter::attach(*segment_, {"stand-in", -1}).value();
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(say(w, static_cast<cluster::MessageType>(99), {{"x", 1}}), shm::PublishStatus::ok);
  ASSERT_EQ(say(w, cluster::MessageType::session, {}), shm::PublishStatus::ok);  // (retired)
  ASSERT_EQ(say(w, cluster::MessageType::worker_down, {{"worker", 1}}), shm::PublishStatus::ok);
  ASSERT_EQ(say(w, cluster::MessageType::worker_down,
                {{"worker", 1}, {"pid", (std::uint64_t{1} << 32) + ::getpid()}}),
            shm::PublishStatus::ok);
  // (2026-12-05: a death said by another writer than the supervisor was applied: the worker
  // dropped a live one from its requests.)
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  ASSERT_EQ(say(w, cluster::MessageType::worker_down, {{"worker", 1}, {"pid", dead}}),
            shm::PublishStatus::ok);
  const bool counted = drive([&] { return workers_[0]->node->stats().bad_records == before + 4; });
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(counted) << workers_[0]->node->stats().bad_records - before << " counted";
  EXPECT_NE(said.find("shmio[w0]: a ring record refused: a record of a type this worker does not "
                      "know (type 99"),
            std::string::npos)
      << said;
  EXPECT_EQ(workers_[0]->node->server_count(), 2u) << "worker 1 taken for dead";
  workers_[1]->server->of("/").emit("after", sio::Args{});
  EXPECT_TRUE(drive([&] { return has(k, "after"); })) << "the worker went on";
}

// A supervisor of one worker on a small ring, for the tests of its stop (run in a forked child).
cluster::SupervisorOptions one_worker_supervisor(const std::string& ring,
                                                 std::chrono::milliseconds drain_timeout) {
  cluster::SupervisorOptions o;
  o.ring = ring;
  o.workers = 1;
  o.pin = false;
  o.ring_bytes = 1 << 20;
  o.handoff_sockets = false;
  o.drain_timeout = drain_timeout;
  return o;
}
// In a forked child: runs the supervisor `o`, its workers waiting for their stop (pause()), and
// ends the child with the supervisor's exit status.
[[noreturn]] void exit_with_a_paused_cluster(const cluster::SupervisorOptions& o) {
  ::_exit(cluster::run_supervisor(o, [](const cluster::WorkerContext&) {
    ::pause();
    return 0;
  }));
}
// Once the child's `ready` pipe says so, SIGTERM to the child, then its wait status.
int stop_when_ready(pid_t child, int ready) {
  char r = 0;
  EXPECT_EQ(::read(ready, &r, 1), 1) << "not ready";
  ::close(ready);
  EXPECT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  return status;
}

// A stop signal the kernel hands to another thread of the program (one started before
// run_supervisor: a logger's), where it is not blocked, drains the cluster as one the supervisor
// takes itself: exit status 0, the ring removed. Before 2026-12-04 its default action killed the
// process there, the ring left behind.
TEST(ClusterSupervisor, AStopSignalTakenByAnotherThreadDrains) {
  const std::string ring = "test-stop-thread-" + std::to_string(::getpid());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A thread of the program's, idle, with no signal blocked (process-directed signals that
    // the supervisor's thread blocks go to it).
    std::thread([] { ::pause(); }).detach();
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    // The signal comes while the supervisor's thread is not waiting for signals (while it starts;
    // in sigtimedwait a thread takes the signals it waits for, blocked or not).
    o.on_start = [&](int) {
      (void)!::write(ready[1], "r", 1);
      std::this_thread::sleep_for(300ms);  // (the window in which the signal is sent)
    };
    const int rc = cluster::run_supervisor(o, [&](const cluster::WorkerContext&) {
      ::pause();  // (SIGTERM at its default action ends it)
      return 0;
    });
    ::_exit(rc);
  }
  ::close(ready[1]);
  const int status = stop_when_ready(child, ready[0]);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
  EXPECT_FALSE(shm::Segment::attach(ring, shm::AttachMode::read_only)) << "the ring was left";
  (void)shm::Segment::remove(ring);
}

// SIGUSR1 or SIGUSR2 (a log rotation's habitual `kill -USR1`) sent to the supervisor is said and
// ignored; SIGTERM then drains as ever: exit status 0, the ring removed. Until 2026-12-07 their
// default action ended the supervisor without its drain, its files left in /dev/shm (a bug hunt).
TEST(ClusterSupervisor, AUserSignalIsSaidAndIgnored) {
  const std::string ring = "test-usr1-" + std::to_string(::getpid());
  int ready[2], err[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(err), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(err[1], 2);
    ::close(err[0]);
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    o.on_start = [&](int) { (void)!::write(ready[1], "r", 1); };
    exit_with_a_paused_cluster(o);
  }
  ::close(ready[1]);
  ::close(err[1]);
  char r = 0;
  ASSERT_EQ(::read(ready[0], &r, 1), 1) << "not ready";
  ::close(ready[0]);
  ASSERT_EQ(::kill(child, SIGUSR1), 0);
  ASSERT_EQ(::kill(child, SIGUSR2), 0);
  // (Its stderr read until both are said, or it ends: then what it said is in `said`.)
  std::string said;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while ((said.find("SIGUSR1 ignored") == std::string::npos ||
          said.find("SIGUSR2 ignored") == std::string::npos) &&
         std::chrono::steady_clock::now() < until) {
    pollfd p{err[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    said.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_NE(said.find("SIGUSR1 ignored"), std::string::npos) << said;
  EXPECT_NE(said.find("SIGUSR2 ignored"), std::string::npos) << said;
  ::kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(err[0]);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
  EXPECT_FALSE(shm::Segment::attach(ring, shm::AttachMode::read_only)) << "the ring was left";
  (void)shm::Segment::remove(ring);
}

// A producer stopped in the middle of a write (here an emitter-like process of its own: claimed,
// then SIGSTOP) holds the ring's readers for good, since a live producer's claim is never
// repaired over: the supervisor continues it (SIGCONT) once the frontier has stood behind it for
// continue_stopped_after, and the record arrives. (Before 2026-12-06 nothing did: a stopped
// shmio-emit held the cluster until it was continued by hand.)
TEST(ClusterSupervisor, AProducerStoppedInTheMiddleOfAWriteIsContinued) {
  const std::string ring = "test-stopped-holder-" + std::to_string(::getpid());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    o.continue_stopped_after = 200ms;
    o.on_start = [&](int) { (void)!::write(ready[1], "r", 1); };
    exit_with_a_paused_cluster(o);
  }
  ::close(ready[1]);
  pid_t producer = -1;
  struct Reap {  // (on an early return too: no stopped or paused process left behind)
    pid_t& producer;
    pid_t supervisor;
    ~Reap() {
      if (producer > 0) {
        ::kill(producer, SIGKILL);
        ::waitpid(producer, nullptr, 0);
      }
      if (supervisor > 0 && ::kill(supervisor, SIGKILL) == 0) ::waitpid(supervisor, nullptr, 0);
    }
  } reap{producer, child};
  char r = 0;
  ASSERT_EQ(::read(ready[0], &r, 1), 1) << "not ready";
  auto seg = shm::Segment::attach(ring);
  ASSERT_TRUE(seg) << seg.error().message;
  producer = shmio::test::spawn([&] {
    auto w = shm::RingWriter::attach(*seg, {.label = "stopped-emitter", .core = -1});
    if (!w) return 3;
    auto c = w->claim(64, 7);
    if (c.status != shm::PublishStatus::ok) return 4;
    ::raise(SIGSTOP);  // (claimed, not committed: the frontier waits at it)
    w->commit();
    return 0;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(producer, &status, WUNTRACED), producer);
  ASSERT_TRUE(WIFSTOPPED(status));
  // Continued within the supervisor's look (once a second) past the 200 ms: it commits and exits
  // (its exit looked for every 10 ms, 10 s the bound).
  pid_t done = 0;
  for (int i = 0; i < 1000 && done == 0; ++i) {
    done = ::waitpid(producer, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(done, producer) << "not continued within 10 s";
  producer = -1;  // (reaped)
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto& c = seg->control();
  EXPECT_EQ(c.frontier.frontier.load(), c.tail.tail.load()) << "its record committed";
  EXPECT_EQ(::kill(child, SIGTERM), 0);
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  reap.supervisor = -1;  // (reaped)
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(ready[0]);
  (void)shm::Segment::remove(ring);
}

// A fork hook that throws in the child ends that child (exit status 1, said), as a worker's own
// exception does: unwound into the supervisor's frames it went on there as a second supervisor
// (before 2026-12-05; found by a review). The supervisor restarts it and stops when told.
TEST(ClusterSupervisor, AForkHookThatThrowsInTheChildEndsThatChild) {
  const std::string ring = "test-fork-hook-" + std::to_string(::getpid());
  int ready[2], spawned[2], escaped[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(spawned), 0);
  ASSERT_EQ(::pipe(escaped), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(spawned[0]);
    ::close(escaped[0]);
    const pid_t supervisor = ::getpid();
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    o.after_fork = [&] {
      if (::getpid() != supervisor) throw std::runtime_error("no lock in the child");
      (void)!::write(spawned[1], "s", 1);
    };
    o.on_start = [&](int) { (void)!::write(ready[1], "r", 1); };
    int rc = 0;
    try {
      rc = cluster::run_supervisor(o, [](const cluster::WorkerContext&) { return 0; });
    } catch (...) {
      (void)!::write(escaped[1], "e", 1);  // (in whichever process it reached)
      ::_exit(3);
    }
    ::_exit(rc);
  }
  ::close(ready[1]);
  ::close(spawned[1]);
  ::close(escaped[1]);
  // Two forks seen by the supervisor (the first and a restart after the child's exit), then stop.
  char c = 0;
  ASSERT_EQ(::read(spawned[0], &c, 1), 1);
  ASSERT_EQ(::read(spawned[0], &c, 1), 1) << "restarted";
  const int status = stop_when_ready(child, ready[0]);
  // (1: a worker's exit during the drain is a failed stop, as for any worker that fails.)
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) <= 1) << status;
  // Every process that held the pipe is gone once it reads as closed: none wrote "e".
  EXPECT_EQ(::read(escaped[0], &c, 1), 0) << "an exception went through the supervisor's frames";
  ::close(spawned[0]);
  ::close(escaped[0]);
  (void)shm::Segment::remove(ring);
}

// The rings and tables of a cluster that is gone without its stop (its supervisor killed, every
// process of it dead), named by its port ("port-P", --port 0's), are removed when a supervisor
// starts; one whose processes live, and one of another name, stay. (Before 2026-12-05 they stayed
// in /dev/shm until a cluster of the same name started: for good with --port 0.)
TEST(ClusterSupervisor, TheRingsOfAClusterThatIsGoneAreRemovedAtTheNextStart) {
  const std::string dead = "port-" + std::to_string(700000000 + ::getpid());
  const std::string alive = "port-" + std::to_string(800000000 + ::getpid());
  const std::string named = "test-gone-" + std::to_string(::getpid());
  // Made by a process gone from this one's sight, and locked by one that lives, as a cluster in
  // another pid namespace sharing /dev/shm leaves its ring (this process holds the lock here):
  // the whole cluster's, and of another only its worker ring (the shared one is removed).
  const std::string foreign = "port-" + std::to_string(900000000 + ::getpid());
  const std::string foreign_worker = "port-" + std::to_string(600000000 + ::getpid());
  // The starting cluster's, and worker rings of its name left by a gone one: .w3 locked, .w4 not,
  // .w5 locked and read by a live process labelled as a worker (a cluster this process sees, one
  // of its workers draining on: its ring is judged by pids, as before the lock).
  const std::string ring = "test-sweep-" + std::to_string(::getpid());
  struct Cleanup {
    std::vector<std::string> names;
    std::vector<int> locks;
    ~Cleanup() {
      for (int fd : locks) ::close(fd);
      for (const std::string& name : names) {
        (void)shm::Segment::remove(name);
        (void)shm::Segment::remove(name + ".w0");
        shm::WorkerBoard::remove_all(name);
      }
    }
  } cleanup{
      {dead, alive, named, foreign, foreign_worker, ring, ring + ".w3", ring + ".w4", ring + ".w5"},
      {}};
  auto lock = [&](const std::string& name) {
    const int fd = ::open(shm::Segment::object_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) cleanup.locks.push_back(fd);
    return fd >= 0 && ::flock(fd, LOCK_SH) == 0;
  };
  auto board_files = [](const std::string& of) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
      if (e.path().filename().string().rfind("shmio-board." + of + ".", 0) == 0) ++n;
    return n;
  };
  auto cluster_ring = [](const std::string& name, bool with_board) {
    shm::RingConfig cfg;
    cfg.name = name;
    cfg.capacity = 1 << 16;
    auto seg = shm::Segment::create(cfg);
    if (!seg) return false;
    auto w = shm::RingWriter::attach(seg.value(), {"supervisor", -1});
    if (!w) return false;
    w.value().abandon();  // (its slot kept taken, as a killed supervisor leaves it)
    if (with_board && !shm::WorkerBoard::open(name, seg.value().header().creation_time_ns))
      return false;
    shm::RingConfig wr = cfg;
    wr.name = name + ".w0";
    return static_cast<bool>(shm::Segment::create(wr));
  };
  // Made by processes that are gone (as a supervisor killed leaves them), and by this one.
  for (const std::string& name : {dead, named, foreign, foreign_worker}) {
    const pid_t maker = ::fork();
    ASSERT_GE(maker, 0);
    if (maker == 0) ::_exit(cluster_ring(name, true) ? 0 : 1);
    int st = 0;
    ASSERT_EQ(::waitpid(maker, &st, 0), maker);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  {
    const pid_t maker = ::fork();
    ASSERT_GE(maker, 0);
    if (maker == 0) {
      shm::RingConfig cfg;
      cfg.capacity = 1 << 16;
      cfg.name = ring + ".w3";
      const bool ok = static_cast<bool>(shm::Segment::create(cfg));
      cfg.name = ring + ".w4";
      const bool ok4 = static_cast<bool>(shm::Segment::create(cfg));
      cfg.name = ring + ".w5";
      ::_exit(ok && ok4 && shm::Segment::create(cfg) ? 0 : 1);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(maker, &st, 0), maker);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  ASSERT_TRUE(cluster_ring(alive, false));
  ASSERT_EQ(board_files(dead), 1u);
  ASSERT_TRUE(lock(foreign));
  ASSERT_TRUE(lock(foreign_worker + ".w0"));
  ASSERT_TRUE(lock(ring + ".w3"));
  ASSERT_TRUE(lock(ring + ".w5"));
  auto w5 = shm::Segment::attach(ring + ".w5");
  ASSERT_TRUE(w5) << w5.error().message;
  shm::ReaderOptions draining;
  draining.label = "worker-1";
  auto w5_reader = shm::RingReader::attach(w5.value(), draining);
  ASSERT_TRUE(w5_reader) << w5_reader.error().message;
  // A supervisor starts and stops.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    o.on_start = [&](int) { (void)!::write(ready[1], "r", 1); };
    ::_exit(cluster::run_supervisor(o, [](const cluster::WorkerContext&) {
      ::pause();
      return 0;
    }));
  }
  ::close(ready[1]);
  const int status = stop_when_ready(child, ready[0]);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_FALSE(shm::Segment::attach(dead, shm::AttachMode::read_only)) << "the gone cluster's ring";
  EXPECT_FALSE(shm::Segment::attach(dead + ".w0", shm::AttachMode::read_only));
  EXPECT_EQ(board_files(dead), 0u);
  EXPECT_TRUE(shm::Segment::attach(alive, shm::AttachMode::read_only)) << "its creator lives";
  EXPECT_TRUE(shm::Segment::attach(named, shm::AttachMode::read_only)) << "not a port's name";
  EXPECT_TRUE(shm::Segment::attach(foreign, shm::AttachMode::read_only)) << "locked: it lives";
  EXPECT_TRUE(shm::Segment::attach(foreign + ".w0", shm::AttachMode::read_only));
  EXPECT_EQ(board_files(foreign), 1u);
  EXPECT_FALSE(shm::Segment::attach(foreign_worker, shm::AttachMode::read_only)) << "not locked";
  EXPECT_TRUE(shm::Segment::attach(foreign_worker + ".w0", shm::AttachMode::read_only))
      << "a locked worker ring of a gone cluster's";
  EXPECT_TRUE(shm::Segment::attach(ring + ".w3", shm::AttachMode::read_only))
      << "a locked worker ring of the starting cluster's name";
  EXPECT_FALSE(shm::Segment::attach(ring + ".w4", shm::AttachMode::read_only)) << "not locked";
  EXPECT_FALSE(shm::Segment::attach(ring + ".w5", shm::AttachMode::read_only))
      << "held by a cluster in sight (a live reader labelled as a worker's)";
}

// A cluster's rings are held (locked) by its supervisor and its workers, also after the
// supervisor's death; a ring whose creator and users are gone from this process's sight but that
// is held (a cluster in another pid namespace sharing /dev/shm: here this process holds the lock)
// is not taken for a stale one: a supervisor on its name refuses it, and takes it once the lock is
// gone. (Before 2026-12-07 such a ring was removed and made anew from under its cluster.) A
// helper a worker forks without exec, left running, does not hold them (it did, and every start
// on the rings' names was refused for as long as it lived: shm::KeepRingLocksAcrossFork).
TEST(ClusterSupervisor, AHeldRingIsALiveClustersWhoeverCanSeeIt) {
  const std::string ring = "test-held-" + std::to_string(::getpid());
  const std::string worker_ring = cluster::worker_ring_name(ring, 0);
  const std::string path = shm::Segment::object_path(ring);
  struct Cleanup {
    std::string ring, worker_ring;
    pid_t worker = 0, helper = 0;
    std::vector<int> fds;
    std::vector<pid_t> supervisors;  // (those not waited for yet: on a failure, ended here)
    ~Cleanup() {
      for (const pid_t p : supervisors) {
        ::kill(p, SIGKILL);
        (void)::waitpid(p, nullptr, 0);
      }
      if (worker > 0) ::kill(worker, SIGKILL);
      if (helper > 0) ::kill(helper, SIGKILL);
      for (int fd : fds) ::close(fd);
      (void)shm::Segment::remove(ring);
      (void)shm::Segment::remove(worker_ring);
      shm::WorkerBoard::remove_all(ring);
    }
  } cleanup{ring, worker_ring, 0, 0, {}, {}};
  // A cluster whose worker writes its pid into `out` once it runs. `deaf`: the worker blocks
  // SIGTERM (the signal a worker gets at its supervisor's death), so that it outlives its
  // supervisor until this test kills it, as one still draining does; and it forks a helper (no
  // exec) that waits for good and writes its own pid after the worker's.
  auto start = [&](int out, bool deaf) {
    const pid_t child = ::fork();
    if (child == 0) {
      cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
      o.ring_per_worker = true;
      ::_exit(cluster::run_supervisor(o, [out, deaf](const cluster::WorkerContext&) {
        if (deaf) {
          sigset_t term;
          sigemptyset(&term);
          sigaddset(&term, SIGTERM);
          ::sigprocmask(SIG_BLOCK, &term, nullptr);
        }
        const pid_t self = ::getpid();
        (void)!::write(out, &self, sizeof self);
        if (deaf) {
          // (The helper writes its own pid: once it runs, the fork handler has run in it.)
          if (::fork() == 0) {
            const pid_t me = ::getpid();
            (void)!::write(out, &me, sizeof me);
            for (;;) ::pause();
          }
        }
        ::pause();
        return 0;
      }));
    }
    return child;
  };
  // Held while the cluster runs, by its worker too once the supervisor is killed.
  int pids[2];
  ASSERT_EQ(::pipe(pids), 0);
  cleanup.fds = {pids[0], pids[1]};
  const pid_t first = start(pids[1], true);
  ASSERT_GE(first, 0);
  cleanup.supervisors.push_back(first);
  pollfd pf{pids[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pf, 1, 20000), 1) << "the first cluster's worker did not start";
  pid_t worker = 0;
  ASSERT_EQ(::read(pids[0], &worker, sizeof worker), static_cast<ssize_t>(sizeof worker));
  cleanup.worker = worker;
  pid_t helper = 0;
  ASSERT_EQ(::poll(&pf, 1, 20000), 1) << "the worker's helper did not start";
  ASSERT_EQ(::read(pids[0], &helper, sizeof helper), static_cast<ssize_t>(sizeof helper));
  ASSERT_GT(helper, 0);
  cleanup.helper = helper;
  const shm::ProcessIdentity worker_identity{worker, shm::process_start_time(worker)};
  ASSERT_NE(worker_identity.start_time, 0u);
  EXPECT_TRUE(shm::Segment::held(ring)) << "the shared ring, while its cluster runs";
  EXPECT_TRUE(shm::Segment::held(worker_ring)) << "the worker's ring, while its cluster runs";
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, 0), first);
  cleanup.supervisors.clear();
  EXPECT_TRUE(shm::Segment::held(ring)) << "the worker holds it after its supervisor's death";
  EXPECT_TRUE(shm::Segment::held(worker_ring));
  // The worker, orphaned, is this test's to end (it is no child of this process).
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (shm::liveness(worker_identity) != shm::Liveness::dead &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_EQ(shm::liveness(worker_identity), shm::Liveness::dead);
  cleanup.worker = 0;
  ASSERT_EQ(::kill(helper, 0), 0) << "the worker's helper still runs";
  EXPECT_FALSE(shm::Segment::held(ring)) << "nobody's once its cluster is gone (its worker's "
                                            "helper, forked without exec, holds nothing)";
  EXPECT_FALSE(shm::Segment::held(worker_ring));
  // Now this process holds its lock, as a live cluster it cannot see would: refused — also with
  // a program of this namespace on it (here this process, a writer and a reader of its own: not
  // the cluster's processes, whose slots say "worker-" or "bridge").
  const int held = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  cleanup.fds.push_back(held);
  ASSERT_EQ(::flock(held, LOCK_SH), 0);
  auto mapped = shm::Segment::attach(ring);
  ASSERT_TRUE(mapped) << mapped.error().message;
  std::optional<shm::RingWriter> own_writer;
  std::optional<shm::RingReader> own_reader;
  {
    auto w = shm::RingWriter::attach(mapped.value(), {"sidecar", -1});
    ASSERT_TRUE(w) << w.error().message;
    own_writer.emplace(std::move(w.value()));
    auto r = shm::RingReader::attach(mapped.value());
    ASSERT_TRUE(r) << r.error().message;
    own_reader.emplace(std::move(r.value()));
  }
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  char log_path[] = "/tmp/shmio-held-ring-XXXXXX";
  const int log = ::mkstemp(log_path);
  ASSERT_GE(log, 0);
  ::unlink(log_path);
  cleanup.fds.push_back(log);
  const pid_t refused = ::fork();
  ASSERT_GE(refused, 0);
  if (refused == 0) {
    ::dup2(log, 2);
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    o.ring_per_worker = true;
    o.on_start = [](int) { ::_exit(7); };  // (started: the ring taken, what this test guards)
    exit_with_a_paused_cluster(o);
  }
  ASSERT_EQ(::waitpid(refused, &status, 0), refused);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  std::string said(4096, '\0');
  said.resize(
      static_cast<std::size_t>(std::max<ssize_t>(0, ::pread(log, said.data(), said.size(), 0))));
  EXPECT_NE(said.find("belongs to a running cluster (its lock is held"), std::string::npos) << said;
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0) << "removed";
  EXPECT_EQ(after.st_ino, before.st_ino) << "made anew";
  // Once the lock is let go, the ring is a gone cluster's: replaced by the next supervisor.
  own_reader.reset();
  own_writer.reset();
  ::close(held);
  cleanup.fds.pop_back();  // (the log's)
  cleanup.fds.pop_back();  // (held's, closed)
  ::close(log);
  const pid_t again = start(pids[1], false);
  ASSERT_GE(again, 0);
  cleanup.supervisors.push_back(again);
  ASSERT_EQ(::poll(&pf, 1, 20000), 1) << "the second cluster's worker did not start";
  status = stop_when_ready(again, pids[0]);
  cleanup.supervisors.clear();
  cleanup.fds = {pids[1]};
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(shm::Segment::attach(ring, shm::AttachMode::read_only)) << "removed at its stop";
}

// A worker that does not stop within the drain's time is killed, and the stop says so: a line on
// stderr and exit status 1 (before 2026-12-05 it exited 0 without a word, as a clean stop; its
// stop handlers never finished).
TEST(ClusterSupervisor, AWorkerKilledAtTheDrainsDeadlineIsSaid) {
  const std::string ring = "test-stuck-drain-" + std::to_string(::getpid());
  char path[] = "/tmp/shmio-stuck-drain-XXXXXX";
  const int log = ::mkstemp(path);
  ASSERT_GE(log, 0);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(log, 2);
    const cluster::SupervisorOptions o = one_worker_supervisor(ring, 500ms);
    const int rc = cluster::run_supervisor(o, [&](const cluster::WorkerContext&) {
      sigset_t term;
      sigemptyset(&term);
      sigaddset(&term, SIGTERM);
      ::sigprocmask(SIG_BLOCK, &term, nullptr);  // (stuck: the drain's SIGTERM never taken)
      (void)!::write(ready[1], "r", 1);
      for (;;) ::pause();
      return 0;
    });
    ::_exit(rc);
  }
  ::close(ready[1]);
  const int status = stop_when_ready(child, ready[0]);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::string said(8192, '\0');
  said.resize(
      static_cast<std::size_t>(std::max<ssize_t>(0, ::pread(log, said.data(), said.size(), 0))));
  ::close(log);
  ::unlink(path);
  EXPECT_NE(said.find("did not stop within 500 ms of the drain: killed"), std::string::npos)
      << said;
  EXPECT_FALSE(shm::Segment::attach(ring, shm::AttachMode::read_only)) << "the ring was left";
  (void)shm::Segment::remove(ring);
}

// The supervisor says a worker's death with the start time the worker's slot names it by (its
// WORKER_DOWN's "start"), which workers and the fleet bridge match it by (before 2026-12-07 by
// the pid alone): the worker attaches a writer as a Node does, says its slot's identity, and
// dies when told.
TEST(ClusterSupervisor, AWorkersDeathIsSaidWithItsStartTime) {
  const std::string ring = "test-death-start-" + std::to_string(::getpid());
  int said[2], go[2];
  ASSERT_EQ(::pipe(said), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // (a test killed on a failure takes this one along)
    ::close(said[0]);
    ::close(go[1]);
    const cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    const int rc = cluster::run_supervisor(o, [&](const cluster::WorkerContext& ctx) {
      auto seg = shm::Segment::attach(ctx.ring);
      if (!seg) return 3;
      auto w = shm::RingWriter::attach(*seg, {"worker-0", -1});
      if (!w) return 4;
      const shm::ProcessIdentity me = shm::registry::owner_of(seg->producer_slot(w.value().id()));
      (void)!::write(said[1], &me, sizeof me);
      char c = 0;
      (void)!::read(go[0], &c, 1);  // (a restarted one: at the test's end, EOF)
      return 1;                     // (dies)
    });
    ::_exit(rc);
  }
  ::close(said[1]);
  ::close(go[0]);
  struct Stop {
    pid_t child;
    ~Stop() {
      if (::kill(child, SIGTERM) == 0) ::waitpid(child, nullptr, 0);
    }
  } stop{child};
  shm::ProcessIdentity worker{};
  ASSERT_EQ(::read(said[0], &worker, sizeof worker), static_cast<ssize_t>(sizeof worker));
  ASSERT_NE(worker.start_time, 0u);
  auto seg = shm::Segment::attach(ring);
  ASSERT_TRUE(seg) << seg.error().message;
  auto reader = shm::RingReader::attach(*seg, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  ASSERT_EQ(::write(go[1], "d", 1), 1);
  std::optional<boost::json::object> death;
  for (int i = 0; i < 100 && !death; ++i) {
    (void)reader.value().wait(100ms);
    reader.value().poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::worker_down))
        death = cluster::read_message(v.payload)->body;
    });
  }
  ::close(go[1]);
  ::close(said[0]);
  ASSERT_TRUE(death) << "no WORKER_DOWN within 10 s";
  EXPECT_EQ(death->at("pid").to_number<pid_t>(), worker.pid);
  EXPECT_EQ(death->at("start").to_number<std::uint64_t>(), worker.start_time);
  EXPECT_EQ(death->at("worker").to_number<int>(), 0);
}

// A program that gives its forked children their own Asio signal pipe itself (io_context::
// notify_fork in the before_fork and after_fork hooks, as Asio asks of a program that forks) keeps
// what it made: its io_context, run in the worker, takes the worker's SIGUSR1. (The supervisor
// renews only a pipe the child still shares with its parent: renewed here again, the program's
// new one was closed and its signal_set never fired; found by a review, 2026-12-05.)
TEST(ClusterSupervisor, AProgramThatGivesItsWorkersTheirOwnSignalPipeKeepsIt) {
  const std::string ring = "test-asio-fork-" + std::to_string(::getpid());
  int result[2];
  ASSERT_EQ(::pipe(result), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // (a test killed on a failure takes this one along)
    boost::asio::io_context io;
    boost::asio::signal_set usr1(io, SIGUSR1);
    cluster::SupervisorOptions o = one_worker_supervisor(ring, 5s);
    const pid_t program = ::getpid();
    o.before_fork = [&] { io.notify_fork(boost::asio::execution_context::fork_prepare); };
    o.after_fork = [&] {
      io.notify_fork(::getpid() == program ? boost::asio::execution_context::fork_parent
                                           : boost::asio::execution_context::fork_child);
    };
    const int rc = cluster::run_supervisor(o, [&](const cluster::WorkerContext&) {
      bool got = false;
      usr1.async_wait([&](const boost::system::error_code& ec, int) { got = !ec; });
      ::raise(SIGUSR1);
      const auto end = std::chrono::steady_clock::now() + 5s;
      while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(100ms);
      (void)!::write(result[1], got ? "y" : "n", 1);
      for (;;) ::pause();  // (SIGTERM at its default action ends it)
      return 0;
    });
    ::_exit(rc);
  }
  ::close(result[1]);
  char got = 0;
  // (Bounded: a worker that exits before it says is restarted, and would never say.)
  pollfd said{result[0], POLLIN, 0};
  if (::poll(&said, 1, 20'000) != 1 || ::read(result[0], &got, 1) != 1) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    (void)shm::Segment::remove(ring);
    FAIL() << "the worker never said whether its signal_set took its SIGUSR1";
  }
  ::close(result[0]);
  EXPECT_EQ(got, 'y') << "the worker's signal_set never took its SIGUSR1";
  EXPECT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(shm::Segment::attach(ring, shm::AttachMode::read_only)) << "the ring was left";
  (void)shm::Segment::remove(ring);
}

// A worker's own ring (--ring-per-worker: made for one producer) is refused to an emitter, at
// once and with where to emit instead: taken while its worker was down, the restarted worker was
// refused its ring and crash-looped for as long as the emitter held it (before 2026-12-03).
TEST(ClusterEmitter, AWorkersOwnRingIsRefused) {
  const std::string name = "test-emitter-own-" + std::to_string(::getpid());
  const std::string own = cluster::worker_ring_name(name, 1);
  (void)shm::Segment::remove(own);
  auto ring = shm::Segment::create(cluster::worker_ring_config(name, 1, 2, 1 << 20, false));
  ASSERT_TRUE(ring) << ring.error().message;
  try {
    cluster::Emitter em(own);
    ADD_FAILURE() << "attached to a worker's own ring";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("a worker's own ring"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ring->producer_slot(0).state.load(), shm::layout::kSlotFree) << "no slot taken";
  ASSERT_TRUE(shm::Segment::remove(own));
}

// A client recovers on worker 1, whose replay's last record is of an earlier ring than the one its
// offset named (worker 0's broadcast, after worker 1's it had), then drops again and recovers from
// that replayed record's offset: it gets what it missed since, and nothing twice.
TEST_P(ClusterRecoveryTest, RecoveringFromAReplayedRecordRepeatsNothing) {
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});  // (worker 1's ring)
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  std::string offset = offset_of_event(events(x.k)[0]);
  drop(x.k, 0);
  workers_[0]->server->of("/").emit("b", sio::Args{});  // (worker 0's ring)
  const Joined y = connect_with(1, auth(x.pid, offset));
  ASSERT_TRUE(drive([&] { return events(y.k).size() == 1; }));
  EXPECT_EQ(y.sid, x.sid);
  EXPECT_EQ(events(y.k)[0].substr(0, 5), R"(["b",)") << "the replay";
  offset = offset_of_event(events(y.k)[0]);
  drop(y.k, 1);
  workers_[1]->server->of("/").emit("c", sio::Args{});
  const Joined z = connect_with(0, auth(x.pid, offset));
  EXPECT_EQ(z.sid, x.sid);
  workers_[0]->server->of("/").emit("d", sio::Args{});
  // (a replay comes before anything live: once "d" is in, so is anything replayed)
  ASSERT_TRUE(drive([&] { return has(z.k, "d"); }));
  const auto got = events(z.k);
  ASSERT_EQ(got.size(), 2u) << got[0];
  EXPECT_EQ(got[0].substr(0, 5), R"(["c",)");
  EXPECT_EQ(got[1].substr(0, 5), R"(["d",)");
}

// The same, from a replayed record of a later ring than others the replay held (worker 0's "b"
// replayed before worker 1's "c"; the client names "c"): the earlier rings count as replayed to
// the replay's end, so "b" is not sent again.
TEST_P(ClusterRecoveryTest, RecoveringFromAReplayedRecordOfALaterRingRepeatsNoEarlierRing) {
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string first = offset_of_event(events(x.k)[0]);
  drop(x.k, 0);
  workers_[0]->server->of("/").emit("b", sio::Args{});
  workers_[1]->server->of("/").emit("c", sio::Args{});
  const Joined y = connect_with(1, auth(x.pid, first));
  EXPECT_EQ(y.sid, x.sid);
  ASSERT_TRUE(drive([&] { return events(y.k).size() == 2; }));
  EXPECT_EQ(events(y.k)[0].substr(0, 5), R"(["b",)");
  EXPECT_EQ(events(y.k)[1].substr(0, 5), R"(["c",)");
  const std::string second = offset_of_event(events(y.k)[1]);
  drop(y.k, 1);
  workers_[1]->server->of("/").emit("d", sio::Args{});
  const Joined z = connect_with(0, auth(x.pid, second));
  EXPECT_EQ(z.sid, x.sid);
  workers_[0]->server->of("/").emit("e", sio::Args{});
  ASSERT_TRUE(drive([&] { return has(z.k, "e"); }));
  const auto got = events(z.k);
  ASSERT_EQ(got.size(), 2u) << got[0];
  EXPECT_EQ(got[0].substr(0, 5), R"(["d",)");
  EXPECT_EQ(got[1].substr(0, 5), R"(["e",)");
}

// A socket closed for good (a server-side disconnect: not recoverable) leaves the session table.
// When a stopped process holds its slot at that moment, the worker tries the erase again until
// it is done (before, the erase failed without a word, and the entry — connected, of a live
// worker — stayed: recoverable once that worker died).
TEST_P(ClusterRecoveryTest, ASessionClosedForGoodLeavesTheTableOnceAStoppedHolderLetsGo) {
  const Joined x = connect_with(0, "");
  ASSERT_FALSE(x.pid.empty());
  auto store = shm::SessionStore::open(ring_, segment_->header().creation_time_ns);
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_EQ(store->count_entries(), 1u);
  // (The table is this test's: its one entry is in slot 0, the first handed out.)
  shmio::test::StoreObject object(ring_, store->slots());
  const pid_t holder = shmio::test::live_child();
  object.slot_zero_lock().store(shm::process_tag({holder, shm::process_start_time(holder)}));
  workers_[0]->server->of("/").socket(x.sid)->disconnect(true);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->client_count() == 0; }));
  object.slot_zero_lock().store(0);
  shmio::test::kill_child(holder);
  EXPECT_EQ(store->count_entries(), 1u) << "erased through a held lock";
  EXPECT_TRUE(drive([&] { return store->count_entries() == 0; })) << "never erased";
  EXPECT_EQ(workers_[0]->node->stats().sessions_not_forgotten, 0u);
}

// With a ring per worker, a worker started again names in its cut entries what it applied of the
// shared ring from where its reader attached, not from the ring's start: what came before was
// never its to deliver (an entry naming 0 would have a recovery from its offsets replay every
// record of the shared ring still there). (Its first quiet read of the shared ring sets the same
// position as its attach does, so this does not isolate the attach's: it passes without it.)
TEST_P(ClusterRecoveryTest, AWorkerStartedAgainNamesTheSharedRingFromWhereItsReaderStarts) {
  if (!GetParam()) GTEST_SKIP() << "cut logs are the ring-per-worker mode's";
  {
    // Something on the shared ring before the restart (a retired type, which workers skip).
    auto w = shm::RingWriter::attach(*segment_, {"stand-in", -1}).value();
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(say(w, cluster::MessageType::session, {}), shm::PublishStatus::ok);
  }
  const std::uint64_t shared_end = segment_->control().frontier.frontier.load();
  ASSERT_GT(shared_end, 0u);
  stop(*workers_[1]);
  workers_[1].reset();
  start(1);
  const Joined x = connect_with(1, "");
  workers_[0]->server->of("/").emit("a", sio::Args{});  // (worker 0's ring, delivered by worker 1)
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  auto log = shm::CutLog::open(ring_, segment_->header().creation_time_ns);
  ASSERT_TRUE(log) << log.error().message;
  const std::uint64_t next = log->next(1);
  ASSERT_GT(next, 0u) << "worker 1 took no entry";
  const auto entry = log->read(1, next - 1);
  ASSERT_TRUE(entry);
  ASSERT_EQ(entry->cut.size(), 3u);  // (rings 0 and 1, then the shared one)
  EXPECT_EQ(entry->cut[2], shared_end) << "the shared ring named from its start";
}

// A worker that stops while such an erase still waits tries it once more; one still held is left
// in the table, counted and said (before, it was dropped without a word).
TEST_P(ClusterRecoveryTest, AnEraseStillHeldWhenItsWorkerStopsIsCountedAndSaid) {
  const Joined x = connect_with(0, "");
  auto store = shm::SessionStore::open(ring_, segment_->header().creation_time_ns);
  ASSERT_TRUE(store) << store.error().message;
  shmio::test::StoreObject object(ring_, store->slots());
  const pid_t holder = shmio::test::live_child();
  object.slot_zero_lock().store(shm::process_tag({holder, shm::process_start_time(holder)}));
  workers_[0]->server->of("/").socket(x.sid)->disconnect(true);
  ASSERT_TRUE(drive([&] { return workers_[0]->server->client_count() == 0; }));
  testing::internal::CaptureStderr();
  workers_[0]->node->stop();
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_EQ(workers_[0]->node->stats().sessions_not_forgotten, 1u);
  EXPECT_NE(said.find("1 closed session(s) stay in the recovery table"), std::string::npos) << said;
  object.slot_zero_lock().store(0);
  shmio::test::kill_child(holder);
  EXPECT_EQ(store->count_entries(), 1u);
}

// With a ring per worker and cut logs of 16 entries (the least): an offset whose entry was
// overwritten since is refused — a fresh session, counted — never a replay from a wrong cut.
class ClusterSmallCutLogTest : public ClusterRecoveryTest {
 protected:
  void SetUp() override {
    cut_log_entries_ = 16;
    ClusterRecoveryTest::SetUp();
  }
};
TEST_P(ClusterSmallCutLogTest, AnOffsetWhoseEntryWasOverwrittenGetsAFreshSession) {
  const Joined x = connect_with(0, "");
  workers_[1]->server->of("/").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string offset = offset_of_event(events(x.k)[0]);
  // Worker 0 delivers from its own ring and worker 1's in turn: an entry each time, 40 in all.
  for (int i = 0; i < 20; ++i) {
    workers_[1]->server->of("/").emit("from-1", sio::Args{i});
    ASSERT_TRUE(drive([&] { return events(x.k).size() == 2u + 2 * i; }));
    workers_[0]->server->of("/").emit("from-0", sio::Args{i});
    ASSERT_TRUE(drive([&] { return events(x.k).size() == 3u + 2 * i; }));
  }
  drop(x.k, 0);
  const auto failures = workers_[1]->node->stats().recovery_failures;
  testing::internal::CaptureStderr();
  const Joined y = connect_with(1, auth(x.pid, offset));
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(y.sid, x.sid) << "a fresh session";
  EXPECT_EQ(workers_[1]->node->stats().recovery_failures, failures + 1);
  EXPECT_NE(said.find("session " + x.pid + " not recovered: its worker's cut log no longer holds"),
            std::string::npos)
      << said;
  // The latest offset is still in the log: a session saved since recovers from it.
  const Joined z = connect_with(0, "");
  workers_[1]->server->of("/").emit("b", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(z.k).size() == 1; }));
  const std::string recent = offset_of_event(events(z.k)[0]);
  drop(z.k, 0);
  workers_[1]->server->of("/").emit("c", sio::Args{});
  const Joined back = connect_with(1, auth(z.pid, recent));
  EXPECT_EQ(back.sid, z.sid) << "recovered";
  ASSERT_TRUE(drive([&] { return has(back.k, "c"); }));
  EXPECT_EQ(events(back.k).size(), 1u);
}
class ClusterCleanupTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    cleanup_ = true;
    ClusterAdapterTest::SetUp();
  }
};

// cleanup_empty_child_namespaces in a cluster: worker 0's dynamic namespace, removed once its
// socket leaves, drops out of its announcement; made again, it gets worker 1's broadcasts to the
// name, once — also after the removed one, which a socket the app kept held in memory meanwhile,
// is freed (its adapter must not take the new one's place in the worker's table with it).
TEST_P(ClusterCleanupTest, ARemovedNamespaceLeavesTheAnnouncementAndOneMadeAgainHearsTheOthers) {
  auto reader = shm::RingReader::attach(GetParam() ? worker_rings_[0] : *segment_,
                                        {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  // (Announced only while a fleet bridge holds a slot.)
  auto bridge = shm::RingWriter::attach(*segment_, {cluster::kBridgeLabel, -1});
  ASSERT_TRUE(bridge) << bridge.error().message;
  std::vector<sio::SocketPtr> kept;  // (worker 0's app keeps the sockets of "keep")
  for (int i = 0; i < 2; ++i)
    workers_[i]->server->of([](const std::string& n) { return n.rfind("/dyn-", 0) == 0; },
                            [&kept](sio::Namespace& n) {
                              n.on_connection([&kept](const sio::SocketPtr& s) {
                                if (s->handshake().auth.contains("keep")) kept.push_back(s);
                              });
                            });
  std::optional<bool> announced;  // (worker 0's last announcement has "/dyn-1")
  const auto read = [&] {
    worker0_announcements(reader.value(), [&](const boost::json::object& body) {
      bool has = false;
      for (const auto& n : body.at("nsps").as_array()) has = has || n.as_string() == "/dyn-1";
      announced = has;
    });
  };
  const auto join = [&](std::size_t k, const std::string& auth) {
    clients_[k].client->send_text("40/dyn-1," + auth);
    return drive([&] {
      for (const std::string& m : clients_[k].messages)
        if (m.rfind("40/dyn-1,{", 0) == 0) return true;
      return false;
    });
  };
  const auto heard = [&](std::size_t k, const std::string& packet) {
    return std::count(clients_[k].messages.begin(), clients_[k].messages.end(), packet);
  };
  const std::size_t a = open_session(0), b = open_session(1);
  ASSERT_TRUE(join(b, ""));
  ASSERT_TRUE(join(a, R"({"keep":1})"));
  ASSERT_TRUE(drive([&] {
    read();
    return announced == true;
  }));
  clients_[a].client->send_text("41/dyn-1,");
  ASSERT_TRUE(drive([&] {
    read();
    return announced == false;
  }));
  EXPECT_EQ(workers_[0]->server->namespaces_removed(), 1u);
  EXPECT_EQ(workers_[0]->server->namespaces_detached(), 1u);  // (the socket kept)
  clients_[a].messages.clear();
  ASSERT_TRUE(join(a, ""));
  kept.clear();
  const std::size_t c = open_session(0);  // (a client's close frees what no one holds)
  drop(c, 0);
  EXPECT_EQ(workers_[0]->server->namespaces_detached(), 0u);
  workers_[1]->server->of("/dyn-1").emit("m", sio::Args{1});
  ASSERT_TRUE(drive([&] { return heard(a, R"(42/dyn-1,["m",1])") == 1; }));
  workers_[1]->server->of("/dyn-1").emit("m", sio::Args{2});
  ASSERT_TRUE(drive([&] { return heard(a, R"(42/dyn-1,["m",2])") == 1; }));
  EXPECT_EQ(heard(a, R"(42/dyn-1,["m",1])"), 1);
  ASSERT_TRUE(drive([&] {
    read();
    return announced == true;
  }));
}
class ClusterCleanupRecoveryTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    cleanup_ = true;
    recovery_ = true;
    ClusterAdapterTest::SetUp();
  }
};

// A recovery into a dynamic namespace made again (the shared session table outlives the one
// removed) whose replay is refused — more than the session's queue takes — starts a fresh socket
// in the namespace; the namespace stays the worker's, and broadcasts to the name reach it. (Before
// 2026-12-04's review the refusal's abandon, with no CONNECT counted yet, removed the namespace
// just made, and the fresh socket was admitted into it, detached: no broadcast reached it.)
TEST_P(ClusterCleanupRecoveryTest, ARecoveryRefusedIntoANamespaceMadeAgainKeepsIt) {
  for (int i = 0; i < 2; ++i)
    workers_[i]->server->of([](const std::string& n) { return n.rfind("/dyn-", 0) == 0; },
                            [](sio::Namespace&) {});
  const auto has_dyn = [&] {
    const auto names = workers_[0]->server->namespace_names();
    return std::find(names.begin(), names.end(), "/dyn-1") != names.end();
  };
  // Worker 0's client joins /dyn-1 and gets one broadcast (its offset), then its connection drops.
  std::size_t a = open_session(0);
  clients_[a].client->send_text("40/dyn-1,");
  std::string pid;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[a].messages)
      if (m.rfind("40/dyn-1,{", 0) == 0)
        pid = boost::json::parse(m.substr(9)).at("pid").as_string().c_str();
    return !pid.empty();
  }));
  workers_[1]->server->of("/dyn-1").emit("m", sio::Args{0});
  std::string offset;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[a].messages)
      if (m.rfind("42/dyn-1,", 0) == 0) offset = offset_of_event(m.substr(9));
    return !offset.empty();
  }));
  drop(a, 0);
  ASSERT_TRUE(drive([&] { return !has_dyn(); }));
  // More missed than a session's queue takes (4096 packets).
  for (int i = 1; i <= 4200; ++i) workers_[1]->server->of("/dyn-1").emit("m", sio::Args{i});
  a = open_session(0);
  clients_[a].client->send_text("40/dyn-1," + auth(pid, offset));
  std::string sid;
  ASSERT_TRUE(drive([&] {
    for (const std::string& m : clients_[a].messages)
      if (m.rfind("40/dyn-1,{", 0) == 0)
        sid = boost::json::parse(m.substr(9)).at("sid").as_string().c_str();
    return !sid.empty();
  }));
  EXPECT_TRUE(has_dyn()) << "the namespace its socket is in was removed";
  workers_[1]->server->of("/dyn-1").emit("after", sio::Args{});
  EXPECT_TRUE(drive([&] {
    for (const std::string& m : clients_[a].messages)
      if (m.rfind("42/dyn-1,[\"after\"", 0) == 0) return true;
    return false;
  })) << "a broadcast to the name did not reach the fresh socket";
}
// Rebalancing: a fresh handshake steered to a less loaded worker whose hand-off fails (here its
// hand-off socket is gone: "no connection to it"; under load, its queue full or descriptors in
// flight past the user's limit) is served by the worker that accepted it, not closed. (Before
// 2026-12-04 its client saw the connection closed during its handshake: bench/e2e's run of
// 100,000 connections failed on one such.)
class ClusterRebalanceTest : public ClusterAdapterTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmio-handoff-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    handoff_dir_ = tmpl;
    ClusterAdapterTest::SetUp();
  }
  void TearDown() override {
    ClusterAdapterTest::TearDown();
    for (const char* f : {"/0", "/1"}) ::unlink((handoff_dir_ + f).c_str());
    ::rmdir(handoff_dir_.c_str());
  }
  // Clients connected to worker 0 until past worker 1's next LOAD (at least 20, for 1.5 s: the
  // margin, 8, well exceeded); how many.
  int connect_past_a_load() {
    const auto from = std::chrono::steady_clock::now();
    int clients = 0;
    while (clients < 20 || std::chrono::steady_clock::now() - from < 1500ms) {
      EXPECT_FALSE(connect(0).second.empty());
      ++clients;
    }
    return clients;
  }
};

TEST_P(ClusterRebalanceTest, AHandshakeWhoseHandOffFailsIsServedWhereItWasAccepted) {
  ASSERT_EQ(::unlink((handoff_dir_ + "/1").c_str()), 0);
  // Worker 0 takes clients until it steers one to worker 1 (once worker 1's count of 0 has
  // reached it, about a second after the start, and worker 0 has more than the margin, 8).
  const auto& stats = workers_[0]->node->stats();
  int clients = 0;
  while (stats.rebalance_steered == 0 && clients < 400) {
    const auto [k, sid] = connect(0);
    ASSERT_FALSE(sid.empty()) << "client " << clients << " was not connected";
    ++clients;
  }
  ASSERT_EQ(stats.rebalance_steered, 1u) << clients << " clients";
  EXPECT_EQ(stats.rebalance_kept, 1u);
  EXPECT_EQ(stats.handoffs_failed, 0u);
  // Served where it was accepted: not counted as taken over from another worker.
  EXPECT_EQ(workers_[0]->server->engine().stats().adopted, 0u);
  EXPECT_EQ(workers_[0]->server->client_count(), static_cast<std::size_t>(clients));
  EXPECT_EQ(workers_[1]->server->client_count(), 0u);
}
// Only a GET is a fresh handshake to steer: a CORS preflight (OPTIONS) or a HEAD on the engine's
// path, while the worker steers its handshakes, is answered where it came and not counted as
// steered (before 2026-12-05 each was handed over, counted, and added to the target's load).
TEST_P(ClusterRebalanceTest, OnlyAGetIsSteered) {
  ASSERT_EQ(::unlink((handoff_dir_ + "/1").c_str()), 0);  // (a steer is kept: served here)
  const auto& stats = workers_[0]->node->stats();
  int clients = 0;
  while (stats.rebalance_steered == 0 && clients < 400) {
    ASSERT_FALSE(connect(0).second.empty());
    ++clients;
  }
  ASSERT_EQ(stats.rebalance_steered, 1u) << clients << " clients";
  for (const char* method : {"OPTIONS", "HEAD"}) {
    SCOPED_TRACE(method);
    Client raw(workers_[0]->port);
    raw.send_raw(std::string(method) +
                 " /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: "
                 "http://a.example\r\nAccess-Control-Request-Method: GET\r\n\r\n");
    ASSERT_TRUE(drive([&] {
      raw.read_available();
      return raw.in().find("\r\n\r\n") != std::string::npos || raw.eof();
    }));
    EXPECT_EQ(raw.in().rfind("HTTP/1.1 ", 0), 0u) << raw.in();
  }
  EXPECT_EQ(stats.rebalance_steered, 1u) << "a request that is no handshake was steered";
  EXPECT_EQ(stats.rebalance_kept, 1u);
}
// A worker near its descriptor bound (NodeOptions::steer_room) says at once that it takes no
// steered handshakes: another worker, well over it by the margin, keeps its fresh handshakes. (Its
// count of 2 alone, said once a second, would draw them: ClusterRebalanceTest above.)
TEST_P(ClusterRebalanceTest, AWorkerNearItsDescriptorBoundIsNotSteeredTo) {
  const std::uint64_t bound = workers_[1]->server->engine().stats().descriptor_bound;
  if (bound < 64) GTEST_SKIP() << "no descriptor bound (RLIMIT_NOFILE)";
  stop(*workers_[1]);
  workers_[1].reset();
  steer_room_1_ = bound - 2;  // (full at 2 clients)
  start(1);
  connect(1);
  connect(1);
  const int clients = connect_past_a_load();
  EXPECT_EQ(workers_[0]->node->stats().rebalance_steered, 0u) << clients << " clients";
  EXPECT_EQ(workers_[1]->server->client_count(), 2u);
}
// The same by its descriptors rather than its clients: a worker whose last connection took a
// descriptor number near its bound (polling clients hold two or three connections each, and
// connections without a session count too) is not steered to, with one client (before 2026-12-05
// only its clients were counted; found by a review). Here the descriptors below it are the test
// process's own.
TEST_P(ClusterRebalanceTest, AWorkerNearItsBoundByDescriptorsIsNotSteeredTo) {
  const std::uint64_t bound = workers_[1]->server->engine().stats().descriptor_bound;
  if (bound < 2048) GTEST_SKIP() << "a descriptor bound too low for this test (RLIMIT_NOFILE)";
  stop(*workers_[1]);
  workers_[1].reset();
  steer_room_1_ = bound - 600;  // (full once a connection's descriptor is 600 or more)
  start(1);
  std::vector<int> held;  // (descriptors 0..~700 taken: worker 1's next accept gets one past them)
  for (int i = 0; i < 700; ++i) held.push_back(::dup(0));
  connect(1);
  for (int fd : held) ::close(fd);
  EXPECT_GE(workers_[1]->server->engine().stats().last_descriptor, 600u);
  EXPECT_EQ(workers_[1]->server->client_count(), 1u);
  const int clients = connect_past_a_load();
  EXPECT_EQ(workers_[0]->node->stats().rebalance_steered, 0u) << clients << " clients";
  EXPECT_EQ(workers_[1]->server->client_count(), 1u);
}
// A worker's Node (and its hand-off listener) destroyed by a handler, the io_context going on,
// while its waits have ended in the same turn: its rings' notifier readable (a broadcast from
// worker 1), a connection waiting on its hand-off listener, its once-a-second timers due. Their
// handlers run after it with no error code (stop()'s cancel is too late for a handler already
// queued) and must not touch it. Before 2026-12-05 the timers' handlers read the freed Node
// (ASan: heap-use-after-free in arm_load_timer's; the Redis bridge's tick did so in .ci/run).
// The ASan build's run of this test tells it; the others' run it for a crash.
TEST_P(ClusterRebalanceTest, ItsHandlersDueWhenANodeIsDestroyedDoNothing) {
  workers_[1]->server->of("/").emit("to-everyone", sio::Args{});
  const int c = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  ASSERT_GE(c, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string listener = handoff_dir_ + "/0";
  ASSERT_LT(listener.size(), sizeof a.sun_path);
  std::memcpy(a.sun_path, listener.c_str(), listener.size() + 1);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  // No turn runs meanwhile: every timer of worker 0's (1 s at most) passes its deadline (the
  // sleep is the condition staged, not a wait for another thread's step: nothing of worker 0's
  // runs until the io_context does again).
  std::this_thread::sleep_for(1100ms);
  bool destroyed = false;
  boost::asio::post(io_, [&] {
    workers_[0]->node->stop();
    workers_[0]->server->close();
    workers_[0].reset();
    destroyed = true;
  });
  // The post is queued before the reactor's next look: the handlers it finds ready come after.
  EXPECT_TRUE(drive([&] { return destroyed; }));
  io_.run_for(300ms);  // (what was queued behind it runs)
  ::close(c);
}
// A worker's Server destroyed while its Node goes on (the io_context running): the Node serves
// none from then on, as before start(), instead of reading the freed Server: for each broadcast
// read from the ring (the Server's options), at its load timer (its client count), in draining()
// (its descriptors), for a hand-off. Before 2026-12-05 it read it (ASan: heap-use-after-free;
// found by a review). The Node still reads the ring (no lap for the others), says the most a
// worker can have as its load (none is steered to it), and stops as ever.
TEST_P(ClusterRebalanceTest, ANodeWhoseServerIsDestroyedServesNone) {
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  bool destroyed = false;
  boost::asio::post(io_, [&] {
    workers_[0]->server->close();
    workers_[0]->server.reset();
    workers_[0]->node->draining();  // (an app's own shutdown, after its Server)
    destroyed = true;
  });
  EXPECT_TRUE(drive([&] { return destroyed; }));
  const auto received = workers_[0]->node->stats().broadcasts_received;
  workers_[1]->server->of("/").emit("after", sio::Args{});
  EXPECT_TRUE(drive([&] { return workers_[0]->node->stats().broadcasts_received > received; }));
  // Its load timer's rounds (once a second) go on saying the most, without its client count.
  std::vector<std::uint64_t> said;
  EXPECT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::load)) return;
      if (auto m = cluster::read_message(v.payload))
        if (m->body.at("worker").to_number<int>() == 0)
          said.push_back(m->body.at("clients").to_number<std::uint64_t>());
    });
    return said.size() >= 3;
  }));
  for (const auto n : said) EXPECT_EQ(n, std::numeric_limits<std::uint64_t>::max());
  workers_[0]->node->stop();
  workers_[0].reset();  // (TearDown stops the Servers it finds)
}
INSTANTIATE_TEST_SUITE_P(Rings, ClusterRebalanceTest, ::testing::Values(false),
                         [](const ::testing::TestParamInfo<bool>&) { return "SharedRing"; });

// Rebalancing with recovery asks a busy worker's clients to reconnect, to recover elsewhere —
// only those that can: a client sent no offset yet (nothing broadcast to it) reconnects without
// one and starts afresh (socket.io-client sends its pid with its last offset), so before
// 2026-12-04 such a client lost its id, rooms and data. Of 30 clients on worker 0, the 15 sent an
// offset are the ones asked.
class ClusterShedTest : public ClusterRebalanceTest {
 protected:
  void SetUp() override {
    recovery_ = true;
    ClusterRebalanceTest::SetUp();
  }
  // 30 clients on worker 0 (steered handshakes stay there: worker 1's hand-off socket gone).
  void connect_thirty() {
    ASSERT_EQ(::unlink((handoff_dir_ + "/1").c_str()), 0);
    for (int i = 0; i < 30; ++i) {
      joined_.push_back(connect(0));
      ASSERT_FALSE(joined_.back().second.empty());
    }
  }
  // The odd ones join "o" and are sent an event there: an offset on "/".
  void send_the_odd_an_offset() {
    sio::Namespace& nsp = workers_[0]->server->of("/");
    for (std::size_t i = 1; i < joined_.size(); i += 2) nsp.socket(joined_[i].second)->join("o");
    nsp.to("o").emit("x", sio::Args{});
    ASSERT_TRUE(drive([&] {
      for (std::size_t i = 1; i < joined_.size(); i += 2)
        if (!has(joined_[i].first, "x")) return false;
      return true;
    }));
  }
  bool closed(std::size_t i) { return clients_[joined_[i].first].client->eof(); }
  // The 7 odd clients 3, 7, ..., 27 are asked to reconnect, and no one else (the other 8 odd
  // ones, 1, 5, ..., 29, each kept back by the test's own reason).
  // Until `n` clients are shed and every one of first, first + step, ... is closed.
  void until_shed(std::uint64_t n, std::size_t first, std::size_t step) {
    const auto& stats = workers_[0]->node->stats();
    ASSERT_TRUE(drive([&] {
      if (stats.rebalance_shed < n) return false;
      for (std::size_t i = first; i < joined_.size(); i += step)
        if (!closed(i)) return false;
      return true;
    })) << stats.rebalance_shed
        << " shed";
  }
  void only_the_odd_but_every_fourth_are_asked() {
    ASSERT_NO_FATAL_FAILURE(until_shed(7, 3, 4));
    const auto& stats = workers_[0]->node->stats();
    // (Rebalancing runs once a second: two more rounds find no one else to ask.)
    const auto until = std::chrono::steady_clock::now() + 2500ms;
    drive([&] { return std::chrono::steady_clock::now() > until; });
    EXPECT_EQ(stats.rebalance_shed, 7u);
    for (std::size_t i = 0; i < joined_.size(); ++i) {
      if (i % 4 != 3) {
        EXPECT_FALSE(closed(i)) << "client " << i;
      }
    }
  }
  std::vector<std::pair<std::size_t, std::string>> joined_;  // (client index, sid)
};
TEST_P(ClusterShedTest, OnlyClientsSentAnOffsetAreAskedToReconnect) {
  ASSERT_NO_FATAL_FAILURE(connect_thirty());
  ASSERT_NO_FATAL_FAILURE(send_the_odd_an_offset());
  ASSERT_NO_FATAL_FAILURE(until_shed(15, 1, 2));
  EXPECT_EQ(workers_[0]->node->stats().rebalance_shed, 15u);
  for (std::size_t i = 0; i < joined_.size(); i += 2) EXPECT_FALSE(closed(i)) << "client " << i;
}
// ... and only if every namespace the client joined can recover: closing its connection closes
// them all, and one sent no offset yet starts afresh. Before 2026-12-05 only the "/" socket was
// asked (found by a review). Of 30 clients on worker 0, 15 are sent an offset on "/", and 8 of
// those also joined "/b", where nothing was sent: the other 7 are asked.
TEST_P(ClusterShedTest, OnlyClientsWhoseEveryNamespaceCanRecoverAreAskedToReconnect) {
  for (auto& w : workers_) w->server->of("/b");
  ASSERT_NO_FATAL_FAILURE(connect_thirty());
  const auto& joined = joined_;
  const auto in_b = [](std::size_t i) { return i % 4 == 1; };
  for (std::size_t i = 1; i < joined.size(); i += 2) {
    if (!in_b(i)) continue;
    auto& c = clients_[joined[i].first];
    c.client->send_text("40/b,");
    ASSERT_TRUE(drive([&] {
      return std::any_of(c.messages.begin(), c.messages.end(),
                         [](const std::string& m) { return m.rfind("40/b,{", 0) == 0; });
    }));
  }
  ASSERT_NO_FATAL_FAILURE(send_the_odd_an_offset());
  ASSERT_NO_FATAL_FAILURE(only_the_odd_but_every_fourth_are_asked());
}
// ... and only if its session is in the table: one whose rooms and data are over the table's
// slot (session_bytes, 512 here) could not be saved, and would come back to "unknown session"
// and a fresh one. Before 2026-12-06 such clients were asked too (a helper's review). Of the 15
// sent an offset, 8 hold 1 KB of data: the other 7 are asked.
TEST_P(ClusterShedTest, OnlyClientsWhoseSessionIsSavedAreAskedToReconnect) {
  ASSERT_NO_FATAL_FAILURE(connect_thirty());
  const auto& joined = joined_;
  const auto big = [](std::size_t i) { return i % 4 == 1; };
  const std::uint64_t not_saved = workers_[0]->node->stats().sessions_not_saved;
  for (std::size_t i = 1; i < joined.size(); i += 2)
    if (big(i))
      workers_[0]->server->of("/").socket(joined[i].second)->data() = std::string(1000, 'd');
  ASSERT_NO_FATAL_FAILURE(send_the_odd_an_offset());
  EXPECT_GE(workers_[0]->node->stats().sessions_not_saved, not_saved + 8);
  ASSERT_NO_FATAL_FAILURE(only_the_odd_but_every_fourth_are_asked());
}
// A recovered socket joins its own room, then its session's rooms, after its replay was read. A
// worker near its descriptor bound said so at once at a join (a LOAD record), and that publish
// drained the ring when the worker's reader was half a ring behind (keep_up): broadcasts to the
// session's rooms applied there reached no one — not in the replay, read before them, nor live,
// the socket in none of its rooms yet. The LOAD is posted since 2026-12-06.
TEST_P(ClusterShedTest, ABroadcastReadWhileARecoveredSocketJoinsItsRoomsReachesIt) {
  const std::uint64_t bound = workers_[1]->server->engine().stats().descriptor_bound;
  if (bound < 64) GTEST_SKIP() << "no descriptor bound (RLIMIT_NOFILE)";
  const Joined x = connect_with(0, "");
  ASSERT_TRUE(workers_[0]->server->of("/").socket(x.sid));
  workers_[0]->server->of("/").socket(x.sid)->join("r");
  workers_[0]->server->of("/").to("r").emit("a", sio::Args{});
  ASSERT_TRUE(drive([&] { return events(x.k).size() == 1; }));
  const std::string offset = offset_of_event(events(x.k)[0]);
  ASSERT_FALSE(offset.empty());
  drop(x.k, 0);
  stop(*workers_[1]);
  workers_[1].reset();
  steer_room_1_ = bound;  // (always near its bound: its first client says so)
  // (What worker 1 publishes from its start: a LOAD before the join, its one-second tick's on a
  // slow machine, would make the join publish none, and the test pass whatever the code.)
  auto watch = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(watch);
  start(1);
  // At the recovered socket's first join, another writer puts over half a ring of records behind
  // worker 1's reader, the last a broadcast to "r".
  sio::BroadcastOptions to_r;
  to_r.rooms = {"r"};
  const std::string frame = R"(42["late"])";
  std::vector<std::byte> late(cluster::broadcast_size("/", to_r, frame.size(), {}));
  cluster::write_broadcast(late, "/", to_r, cluster::broadcast_flags(to_r.flags), 0, frame, {});
  sio::BroadcastOptions to_nobody;
  to_nobody.rooms = {"nobody"};
  const std::string filler_frame = "42[\"x\",\"" + std::string(1000, 'p') + "\"]";
  std::vector<std::byte> filler(cluster::broadcast_size("/", to_nobody, filler_frame.size(), {}));
  cluster::write_broadcast(filler, "/", to_nobody, cluster::broadcast_flags(to_nobody.flags), 0,
                           filler_frame, {});
  // (The listener's state behind a pointer it owns: it stays on worker 1's adapter after the
  // test's body.)
  struct Fill {
    std::optional<shm::RingWriter> w;
    std::optional<shm::RingReader> watch;
    std::string sid;
    bool filled = false, loaded_before = false, ok = true;
  };
  auto fill = std::make_shared<Fill>();
  auto w = shm::RingWriter::attach(*segment_, {"stand-in", -1});
  ASSERT_TRUE(w);
  fill->w.emplace(std::move(w.value()));
  fill->watch.emplace(std::move(watch.value()));
  fill->sid = x.sid;
  const shm::Segment* ring = &*segment_;
  workers_[1]->server->of("/").adapter().on_room_event(
      [fill, ring, late, filler](sio::Adapter::RoomEvent e, const sio::Room& room,
                                 const sio::SocketId&) {
        if (e != sio::Adapter::RoomEvent::create_room || room != fill->sid || fill->filled) return;
        fill->filled = true;
        fill->watch->poll([&](const shm::RecordView& v) {
          const auto& slot = ring->producer_slot(v.producer);
          if (v.type == static_cast<std::uint16_t>(cluster::MessageType::load) &&
              std::string_view(slot.label, ::strnlen(slot.label, sizeof slot.label)) == "worker-1")
            fill->loaded_before = true;
        });
        const auto type = static_cast<std::uint16_t>(cluster::MessageType::broadcast);
        std::uint64_t first = 0, at = 0;
        for (int i = 0; fill->ok && at - first < ring->capacity() * 5 / 8; ++i) {
          fill->ok = fill->w->publish(type, filler, &at) == shm::PublishStatus::ok;
          if (i == 0) first = at;
        }
        fill->ok = fill->ok && fill->w->publish(type, late) == shm::PublishStatus::ok;
      });
  const Joined y = connect_with(1, auth(x.pid, offset));
  ASSERT_EQ(y.sid, x.sid) << "recovered";
  ASSERT_TRUE(fill->filled);
  ASSERT_TRUE(fill->ok) << "the stand-in's records";
  EXPECT_TRUE(drive([&] { return has(y.k, "late"); }))
      << "a broadcast to its room, read while it joined its rooms, did not reach it";
  if (fill->loaded_before)
    GTEST_SKIP() << "worker 1 said its load before the join (a slow start): the join published "
                    "none, and the test did not exercise the drain";
}

INSTANTIATE_TEST_SUITE_P(Rings, ClusterShedTest, ::testing::Values(false),
                         [](const ::testing::TestParamInfo<bool>&) { return "SharedRing"; });

INSTANTIATE_TEST_SUITE_P(Rings, ClusterCleanupRecoveryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });

INSTANTIATE_TEST_SUITE_P(Rings, ClusterCleanupTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });

INSTANTIATE_TEST_SUITE_P(Rings, ClusterSmallCutLogTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>&) { return "RingPerWorker"; });

INSTANTIATE_TEST_SUITE_P(Rings, ClusterRecoveryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });

INSTANTIATE_TEST_SUITE_P(Rings, ClusterAdapterTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });
