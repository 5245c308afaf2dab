// The cluster adapter (server/cluster) in one process: two workers' Nodes on one ring, each with
// its socketio::Server, driven by one io_context on the test's thread, and raw WebSocket clients.
// What socket.io's cluster adapter does across servers, checked here without the bench app or
// Node clients: broadcasts to rooms of another worker, fetchSockets over both, operations on a
// remote socket, serverSideEmit with acks, the count of servers, and a request that finds its
// other worker gone — each on one shared ring and with a ring per worker
// (NodeOptions::ring_per_worker); and, with a stand-in for worker 1 writing its rings, that a
// worker's death is applied only after everything it said before it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../server/ws_client.hpp"
#include "shmio/cluster/node.hpp"
#include "shmio/cluster/supervisor.hpp"
#include "shmio/cluster/wire.hpp"
#include "shmio/shm/board.hpp"
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

// The parameter: a ring per worker (the rings as the supervisor makes them) or one shared ring.
class ClusterAdapterTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    static int n = 0;
    ring_ = "test-adapter-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    (void)shm::Segment::remove(ring_);
    shm::RingConfig cfg;
    cfg.name = ring_;
    cfg.capacity = 1 << 20;
    auto seg = shm::Segment::create(cfg);
    ASSERT_TRUE(seg) << seg.error().message;
    segment_.emplace(std::move(seg.value()));
    if (GetParam())
      for (int i = 0; i < 2; ++i) {
        auto w = shm::Segment::create(cluster::worker_ring_config(ring_, i, 2, 1 << 20, false));
        ASSERT_TRUE(w) << w.error().message;
        worker_rings_.push_back(std::move(w.value()));
      }
    for (int i = 0; i < 2; ++i) start(i);
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
  }

  void start(int i) {
    auto w = std::make_unique<Worker>();
    cluster::NodeOptions no;
    no.ring = ring_;
    no.worker = i;
    no.workers = 2;
    no.rebalance = false;
    no.ring_per_worker = GetParam();
    w->node = std::make_unique<cluster::Node>(io_, no, w->options);
    w->server = std::make_unique<sio::Server>(io_, w->options);
    // Every socket joins the room of its worker ("w0", "w1") and "all".
    w->server->of("/").on_connection([i](const sio::SocketPtr& s) {
      s->join("w" + std::to_string(i));
      s->join("all");
    });
    w->node->start(*w->server);
    w->port = w->server->listen("127.0.0.1", 0);
    if (workers_.size() <= static_cast<std::size_t>(i)) workers_.resize(i + 1);
    workers_[i] = std::move(w);
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
        c.client->read_available();
        if (c.open)  // (past the HTTP upgrade's response)
          for (auto& f : c.client->frames()) c.messages.push_back(f.payload);
      }
    }
    return true;
  }

  // A WebSocket client of worker i, connected to "/": its index in clients_ and its socket id.
  std::pair<std::size_t, std::string> connect(int i) {
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
    c.send_text("40");
    std::string sid;
    EXPECT_TRUE(drive([&] {
      for (const std::string& m : clients_[k].messages)
        if (m.rfind("40{\"sid\":\"", 0) == 0) sid = m.substr(10, m.find('"', 10) - 10);
      return !sid.empty();
    }));
    clients_[k].messages.clear();
    return {k, sid};
  }
  // The events client k received ("42[...]" packets), in order.
  std::vector<std::string> events(std::size_t k) {
    std::vector<std::string> out;
    for (const std::string& m : clients_[k].messages)
      if (m.rfind("42", 0) == 0) out.push_back(m.substr(2));
    return out;
  }

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

TEST_P(ClusterAdapterTest, AWorkerStartedAgainTakesItsPlaceAndItsRing) {
  const auto a = connect(0);
  stop(*workers_[1]);
  workers_[1].reset();
  start(1);  // (with a ring per worker: the ring its predecessor wrote, taken over)
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

// A worker's death (the supervisor's WORKER_DOWN, on the shared ring) comes after everything that
// worker said: its answer to a request counts even when it is far behind in its ring. (With a
// ring per worker the two are on different rings: the dead worker's ring is read to its end
// first. Checked with a stand-in for worker 1 that writes its rings as it would: a hundred
// records, the answer after them — past what one batch of worker 0's reads takes — and then its
// death.)
TEST_P(ClusterAdapterTest, AWorkersDeathIsAppliedAfterEverythingItSaidBeforeIt) {
  stop(*workers_[1]);
  workers_[1].reset();
  auto fake_shared = shm::RingWriter::attach(*segment_, {"worker-1", -1});
  ASSERT_TRUE(fake_shared) << fake_shared.error().message;
  std::optional<shm::RingWriter> fake_own;
  if (GetParam()) {
    auto w = shm::RingWriter::attach(worker_rings_[1], {"worker-1", -1});
    ASSERT_TRUE(w) << w.error().message;
    fake_own.emplace(std::move(w.value()));
  }
  shm::RingWriter& says = fake_own ? *fake_own : fake_shared.value();
  // Worker 0's request reaches it (and the stand-in reads it from worker 0's ring).
  const shm::Segment& requests = GetParam() ? worker_rings_[0] : *segment_;
  auto reader = shm::RingReader::attach(requests, {"stand-in", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader) << reader.error().message;
  std::optional<std::string> error = "not called";
  std::vector<sio::Args> answers;
  workers_[0]->server->of("/").server_side_emit_with_ack(
      "ping", sio::Args{41}, 5s, [&](std::optional<std::string> e, std::vector<sio::Args> r) {
        error = std::move(e);
        answers = std::move(r);
      });
  std::uint64_t rid = 0, to = 0;
  reader.value().poll([&](const shm::RecordView& v) {
    if (v.type != static_cast<std::uint16_t>(cluster::MessageType::server_side_emit)) return;
    auto m = cluster::read_message(v.payload);
    ASSERT_TRUE(m);
    rid = m->body.at("requestId").to_number<std::uint64_t>();
  });
  ASSERT_NE(rid, 0u) << "worker 0's request was not in its ring";
  // Worker 0's identity on the wire is its shared-ring slot (in both modes): labelled worker-0.
  for (std::uint16_t i = 0; i < segment_->max_producers(); ++i)
    if (std::string(segment_->producer_slot(i).label) == "worker-0") to = i;
  auto publish = [](shm::RingWriter& w, cluster::MessageType t, const std::string& body) {
    return w.publish(static_cast<std::uint16_t>(t),
                     {reinterpret_cast<const std::byte*>(body.data()), body.size()});
  };
  for (int i = 0; i < 100; ++i)  // (ignored by workers: for the fleet bridge)
    ASSERT_EQ(publish(says, cluster::MessageType::namespaces,
                      cluster::write_message({{"worker", 1}, {"nsps", boost::json::array{}}})),
              shm::PublishStatus::ok);
  ASSERT_EQ(publish(says, cluster::MessageType::server_side_emit_response,
                    cluster::write_message(
                        {{"requestId", rid}, {"to", to}, {"args", boost::json::array{42}}})),
            shm::PublishStatus::ok);
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(supervisor) << supervisor.error().message;
  ASSERT_EQ(publish(supervisor.value(), cluster::MessageType::worker_down,
                    cluster::write_message({{"pid", ::getpid()}, {"worker", 1}})),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return error != std::optional<std::string>("not called"); }));
  EXPECT_FALSE(error) << *error;
  ASSERT_EQ(answers.size(), 1u) << "the answer was dropped with its worker";
  EXPECT_EQ(answers[0].values.at(0), 42);
}

INSTANTIATE_TEST_SUITE_P(Rings, ClusterAdapterTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RingPerWorker" : "SharedRing";
                         });
