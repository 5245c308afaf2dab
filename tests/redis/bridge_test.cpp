// The fleet bridge (redis/bridge.hpp) in one process, against a real redis-server and a real ring:
// what a producer writes into the ring reaches Redis as the Node adapter publishes it (classic and
// sharded), what another member publishes reaches the ring flagged as from the fleet (and its own
// messages do not), malformed messages are counted, Redis absent counts what was not published.
// (The whole host with workers and Node servers: tests/e2e/fleet.test.mjs. This one also runs
// under ASan/UBSan.)
#include "shmio/redis/bridge.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../shm/test_support.hpp"
#include "redis_server.hpp"
#include "shmio/cluster/emitter.hpp"
#include "shmio/cluster/redis_wire.hpp"
#include "shmio/cluster/wire.hpp"
#include "shmio/redis/client.hpp"
#include "shmio/shm/board.hpp"
#include "shmio/shm/inspect.hpp"
#include "shmio/shm/process.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"

using namespace std::chrono_literals;
namespace redis = shmio::redis;
namespace shm = shmio::shm;
namespace cluster = shmio::cluster;
namespace fleet = shmio::cluster::fleet;
namespace sio = shmio::socketio;
namespace json = boost::json;
using shmio::test::free_port;
using shmio::test::RedisServer;

namespace {

struct Message {
  std::string kind, channel, payload;
  std::chrono::steady_clock::time_point at;  // when it was received
};

class Bridge : public ::testing::Test {
 protected:
  void SetUp() override {
    ring_ = "bridge-test-" + std::to_string(::getpid()) + "-" + std::to_string(++seq_);
    segment_.emplace(shmio::test::make_ring(ring_));  // 1 MiB
  }
  void TearDown() override {
    for (auto& c : clients_) c->stop();
    bridge_.reset();
    io_.poll();
    segment_.reset();
    (void)shm::Segment::remove(ring_);
    shm::WorkerBoard::remove_all(ring_);  // (the bridge posts its figures beside the ring)
  }
  bool drive(const std::function<bool()>& done, std::chrono::seconds bound = 10s) {
    return shmio::test::run_until(io_, done, bound);
  }
  redis::Bridge& start_bridge(const std::string& url,
                              redis::FleetMode mode = redis::FleetMode::classic,
                              redis::ShardedSubscription sub = redis::ShardedSubscription::dynamic,
                              std::size_t max_pending = 10000,
                              std::chrono::milliseconds request_timeout = 2s,
                              std::chrono::milliseconds resubscribe_after = 60s) {
    redis::BridgeOptions o;
    o.ring = ring_;
    o.workers = workers_;
    o.url = url;
    o.mode = mode;
    o.subscription = sub;
    o.uid = "bridgeT";
    o.request_timeout = request_timeout;
    o.max_pending_requests = max_pending;
    o.resubscribe_after = resubscribe_after;
    o.max_hold = max_hold_;
    bridge_ = std::make_unique<redis::Bridge>(io_, o);
    bridge_->start();
    return *bridge_;
  }
  std::shared_ptr<redis::Client> client(const std::string& url) {
    redis::ClientOptions o;
    o.url = url;
    o.backoff_min = 20ms;
    o.on_message = [this](const std::string& kind, const std::string&, const std::string& channel,
                          std::string payload) {
      got_.push_back({kind, channel, std::move(payload), std::chrono::steady_clock::now()});
    };
    auto c = redis::Client::create(io_, o);
    c->start();
    clients_.push_back(c);
    return c;
  }
  // A sharded bridge (static subscriptions, a 10 s request timeout) with a member subscribed,
  // and a worker's fetchSockets (request id `rid`) as the member got it; `reader` reads the ring
  // from before the request.
  struct ShardedFetch {
    std::shared_ptr<redis::Client> pub;
    std::optional<shm::RingReader> reader;
    std::optional<shm::RingWriter> worker;
    std::optional<fleet::ClusterMessage> asked;
  };
  void ask_sharded_fetch(RedisServer& server, std::uint64_t rid, ShardedFetch& f) {
    auto member = client(server.url());
    member->ssubscribe("socket.io#/#");
    f.pub = client(server.url());
    start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::static_,
                 10000, 10s);
    ASSERT_TRUE(bridge_subscribed(*f.pub, true, 2));
    auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
    ASSERT_TRUE(reader);
    f.reader.emplace(std::move(reader.value()));
    auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
    ASSERT_TRUE(worker);
    f.worker.emplace(std::move(worker.value()));
    ASSERT_EQ(ask_fetch(*f.worker, rid, {}), shm::PublishStatus::ok);
    ASSERT_TRUE(drive([&] {
      for (const auto& m : got_)
        if (auto c = fleet::decode_cluster_message(m.payload);
            c && m.channel == "socket.io#/#" && c->type == cluster::MessageType::fetch_sockets)
          f.asked = c;
      return f.asked.has_value();
    }));
  }
  // Subscribers on the channels a Redis member counts: the bridge's subscriptions are in place
  // once PUBSUB NUMSUB (or SHARDNUMSUB) of the request (main) channel says 1 (`members` with
  // other subscribers of the test's).
  // The bridge (classic) on `server`, and a subscriber to every broadcast channel of "/" whose
  // messages land in got_; `cmd` for commands. Started once the bridge is subscribed.
  struct Watched {
    std::shared_ptr<redis::Client> sub, cmd;
  };
  Watched bridge_with_a_broadcast_watcher(const RedisServer& server) {
    Watched w{client(server.url()), nullptr};
    w.sub->psubscribe("socket.io#/#*");
    w.cmd = client(server.url());
    start_bridge(server.url());
    return w;
  }
  // `[0,0,...]`'s inside: kMaxJsonValues + 10 zeros (an answer no decoder here takes).
  static std::string too_many_zeros() {
    std::string z;
    for (std::size_t i = 0; i < fleet::kMaxJsonValues + 10; ++i) z += i ? ",0" : "0";
    return z;
  }
  // Drives until `reader` has read the bridge's fetchSockets answer to the worker's request `rid`.
  bool fetch_answered(shm::RingReader& reader, std::uint64_t rid) {
    bool answered = false;
    return drive([&] {
      reader.poll([&](const shm::RecordView& v) {
        if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
          return;
        auto m = cluster::read_message(v.payload);
        if (m && m->body.at("requestId").to_number<std::uint64_t>() == rid) answered = true;
      });
      return answered;
    });
  }
  bool bridge_subscribed(redis::Client& cmd, bool sharded = false, long long members = 1) {
    return drive([&] {
      return subscribers(cmd, sharded ? "SHARDNUMSUB" : "NUMSUB",
                         sharded ? "socket.io#/#" : "socket.io-request#/#") == members;
    });
  }
  // PUBSUB NUMSUB or SHARDNUMSUB (`which`) of one channel: its subscribers (-1: no answer in 2 s).
  // (The answer's place shared with its callback: one that comes after the 2 s, or the client's
  // "stopped" at its end, must not write into this returned frame.)
  long long subscribers(redis::Client& cmd, const char* which, const std::string& channel) {
    auto n = std::make_shared<std::optional<long long>>();
    cmd.command({"PUBSUB", which, channel}, [n](const redis::Reply& r) {
      *n = r.elements.size() == 2 ? r.elements[1].integer : -1;
    });
    drive([&] { return n->has_value(); }, 2s);
    return n->value_or(-1);
  }
  // The integer a command answers (-1: no answer, or another kind).
  long long integer_of(redis::Client& cmd, std::vector<std::string> args) {
    auto n = std::make_shared<std::optional<long long>>();
    cmd.command(std::move(args), [n](const redis::Reply& r) {
      *n = r.type == redis::Reply::Type::integer ? r.integer : -1;
    });
    drive([&] { return n->has_value(); }, 2s);
    return n->value_or(-1);
  }
  // Worker `w`'s NAMESPACES record (its namespaces, and its rooms if `rooms` is an object, or
  // "telling" if `telling`), as a worker announces them, into the ring.
  // A worker's message `body` of type `t` into the ring, as Node::Impl::publish writes it.
  static shm::PublishStatus put(shm::RingWriter& worker, cluster::MessageType t,
                                const json::object& body) {
    const std::string said = cluster::write_message(body);
    return worker.publish(static_cast<std::uint16_t>(t),
                          {reinterpret_cast<const std::byte*>(said.data()), said.size()});
  }  // A plain broadcast of `worker`'s, "marker": the bridge reads the ring in order and publishes
  // on one connection, so what it published for the records before it comes before it.
  static shm::PublishStatus put_marker(shm::RingWriter& worker) {
    const std::string frame = R"(42["marker"])";
    std::vector<std::byte> bytes(cluster::broadcast_size("/", {}, frame.size(), {}));
    cluster::write_broadcast(bytes, "/", {}, 0, 0, frame, {});
    return worker.publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), bytes);
  }
  // Whether the marker came on the fleet's channel.
  bool marker_came() const {
    for (const auto& m : got_)
      if (m.channel == "socket.io#/#" && m.payload.find("marker") != std::string::npos) return true;
    return false;
  }

  // Worker 0's names in part `part` of `parts` of one announcement (announce_namespaces).
  static shm::PublishStatus say_names_part(shm::RingWriter& worker, json::array nsps,
                                           std::uint64_t part, std::uint64_t parts) {
    return put(worker, cluster::MessageType::namespaces,
               {{"worker", 0}, {"nsps", std::move(nsps)}, {"part", part}, {"parts", parts}});
  }
  // Subscribers of namespace `nsp`'s request channel (classic mode): 1 while the bridge has it.
  long long request_subscribers(redis::Client& pub, const std::string& nsp) {
    return subscribers(pub, "NUMSUB", "socket.io-request#" + nsp + "#");
  }
  static shm::PublishStatus say_namespaces(shm::RingWriter& worker, json::array nsps,
                                           json::value rooms = nullptr, int w = 0,
                                           bool telling = false) {
    json::object body{{"worker", w}, {"nsps", std::move(nsps)}};
    if (rooms.is_object()) body["rooms"] = std::move(rooms);
    if (telling) body["telling"] = true;
    return put(worker, cluster::MessageType::namespaces, body);
  }
  // A fleet of one Node member (subscribed to the request channel: it answers only what the test
  // publishes for it) and the bridge with `request_timeout`; a reader of the ring and worker 0's
  // writer, for a worker's requests to the fleet (ask_fetch, ask_broadcast_with_acks).
  struct OneMemberFleet {
    std::shared_ptr<redis::Client> member, pub;  // (pub: commands; a subscriber takes none)
    std::optional<shm::RingReader> reader;
    std::optional<shm::RingWriter> worker;
  };
  void fleet_of_one_member(RedisServer& server, std::chrono::milliseconds request_timeout,
                           OneMemberFleet& f) {
    f.member = client(server.url());
    f.member->subscribe("socket.io-request#/#");
    f.pub = client(server.url());
    start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic,
                 10000, request_timeout);
    // The bridge counts the answers to expect by NUMSUB of the request channel, less itself.
    ASSERT_TRUE(bridge_subscribed(*f.pub, false, 2));
    auto r = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
    ASSERT_TRUE(r);
    f.reader.emplace(std::move(r.value()));
    auto w = shm::RingWriter::attach(*segment_, {"worker-0", -1});
    ASSERT_TRUE(w);
    f.worker.emplace(std::move(w.value()));
  }
  // A Node member listening for the bridge's answers and broadcasts (its response channel, the
  // namespace's), beside a worker that is alive and never answers, and a reader of the ring.
  void member_beside_a_silent_worker(RedisServer& server, OneMemberFleet& f,
                                     std::chrono::milliseconds request_timeout = 2s) {
    f.pub = client(server.url());
    f.member = client(server.url());
    f.member->subscribe("socket.io-response#/#");
    f.member->subscribe("socket.io#/#");
    auto w = shm::RingWriter::attach(*segment_, {"worker-0", -1});
    ASSERT_TRUE(w);
    f.worker.emplace(std::move(w.value()));
    auto r = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
    ASSERT_TRUE(r);
    f.reader.emplace(std::move(r.value()));
    start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic,
                 10000, request_timeout);
    ASSERT_TRUE(bridge_subscribed(*f.pub));
    ASSERT_TRUE(drive([&] { return subscribers(*f.pub, "NUMSUB", "socket.io-response#/#") == 2; }));
  }
  // More than the ring (1 MiB) from `worker`, 400 records of 4 KB: a reader that does not run
  // meanwhile (the bridge) is lapped.
  static void lap_the_ring(shm::RingWriter& worker) {
    const std::string filler =
        cluster::write_message({{"worker", 0}, {"clients", 0}, {"pad", std::string(4000, 'x')}});
    for (int i = 0; i < 400; ++i)
      ASSERT_EQ(worker.publish(static_cast<std::uint16_t>(cluster::MessageType::load),
                               {reinterpret_cast<const std::byte*>(filler.data()), filler.size()}),
                shm::PublishStatus::ok);
  }
  // The member's broadcast with acks `r`, published to the bridge: its ack id in the ring and the
  // bridge's slot (the `to` of the workers' answers), once `f.reader` has read it.
  struct RingAsk {
    std::uint64_t ack_id = 0;
    std::uint16_t bridge = 0;
  };
  std::optional<RingAsk> ask_broadcast(OneMemberFleet& f, const fleet::ClassicRequest& r) {
    f.pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
    std::optional<RingAsk> asked;
    const bool read = drive([&] {
      f.reader->poll([&](const shm::RecordView& v) {
        if (v.type != static_cast<std::uint16_t>(cluster::MessageType::broadcast)) return;
        if (const auto b = cluster::read_broadcast(v.payload); b && b->ack_id != 0)
          asked = RingAsk{b->ack_id, v.producer};
      });
      return asked.has_value();
    });
    return read ? asked : std::nullopt;
  }
  // A member's broadcast with acks `name` (timeout `timeout_ms`) asked beside a silent worker
  // (member_beside_a_silent_worker), got_ emptied first: the request, and where it is in the ring.
  struct AskedBesideASilentWorker {
    fleet::ClassicRequest request;
    RingAsk ring;
  };
  void ask_beside_a_silent_worker(RedisServer& server, OneMemberFleet& f, const char* name,
                                  std::uint32_t timeout_ms, AskedBesideASilentWorker& out) {
    ASSERT_NO_FATAL_FAILURE(member_beside_a_silent_worker(server, f));
    out.request = broadcast_with_acks(name, timeout_ms);
    got_.clear();
    const auto asked = ask_broadcast(f, out.request);
    ASSERT_TRUE(asked) << "the member's broadcast not in the ring";
    out.ring = *asked;
  }
  // The bridge's (`bridge`) next check of the workers' answers, read by `reader`.
  std::optional<cluster::ChecksSaid> bridge_check(shm::RingReader& reader, std::uint16_t bridge) {
    std::optional<cluster::ChecksSaid> check;
    const bool read = drive([&] {
      reader.poll([&](const shm::RecordView& v) {
        if (v.type == static_cast<std::uint16_t>(cluster::MessageType::answers_check) &&
            v.producer == bridge)
          check = cluster::read_answers_check(cluster::read_message(v.payload)->body);
      });
      return check.has_value();
    });
    return read ? check : std::nullopt;
  }
  // The host's count the member was told for its request `id`, once told.
  std::optional<std::uint64_t> count_told(const std::string& id) {
    std::optional<std::uint64_t> count;
    const bool told = drive([&] {
      for (const auto& m : got_)
        if (auto a = fleet::decode_classic_response(m.payload);
            a && a->request_id == id && a->fields.contains("clientCount"))
          count = a->fields.at("clientCount").to_number<std::uint64_t>();
      return count.has_value();
    });
    return told ? count : std::nullopt;
  }
  // A member's broadcast of "ask" with acks (ack id 7), its requester's timeout `timeout_ms`.
  static fleet::ClassicRequest broadcast_with_acks(std::string id, std::uint32_t timeout_ms) {
    fleet::ClassicRequest r;
    r.type = fleet::ClassicRequestType::broadcast;
    r.uid = "nodeA";
    r.request_id = std::move(id);
    r.opts.flags.timeout_ms = timeout_ms;
    r.packet.type = sio::PacketType::event;
    r.packet.nsp = "/";
    r.packet.data = json::array{"ask"};
    r.packet.id = 7;
    return r;
  }
  // Worker 0's fetchSockets request `rid` with `opts`, into the ring.
  static shm::PublishStatus ask_fetch(shm::RingWriter& worker, std::uint64_t rid,
                                      const sio::BroadcastOptions& opts) {
    const std::string ask = cluster::write_message(
        {{"requestId", rid}, {"nsp", "/"}, {"opts", cluster::options_to_json(opts)}});
    return worker.publish(static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets),
                          {reinterpret_cast<const std::byte*>(ask.data()), ask.size()});
  }

  // Worker 0's serverSideEmit of "q" with an ack (request `rid`) into the ring, then the ring
  // read (by `reader`) until the bridge's count of the fleet's answers and one answer said lost
  // have come: false if not within `wait`.
  struct EmitOutcome {
    std::optional<std::uint64_t> count;
    bool lost = false;
  };
  bool ask_server_side_emit(shm::RingWriter& worker, shm::RingReader& reader, std::uint64_t rid,
                            EmitOutcome& out, std::chrono::seconds wait = 10s) {
    if (put(worker, cluster::MessageType::server_side_emit,
            {{"nsp", "/"}, {"event", "q"}, {"args", json::array{}}, {"requestId", rid}}) !=
        shm::PublishStatus::ok)
      return false;
    return drive(
        [&] {
          reader.poll([&](const shm::RecordView& v) {
            const auto t = static_cast<cluster::MessageType>(v.type);
            auto m = cluster::read_message(v.payload);
            if (!m || !m->body.contains("requestId") ||
                m->body.at("requestId").to_number<std::uint64_t>() != rid)
              return;
            if (t == cluster::MessageType::broadcast_client_count)
              out.count = m->body.at("clientCount").to_number<std::uint64_t>();
            if (t == cluster::MessageType::server_side_emit_response && m->body.contains("lost"))
              out.lost = true;
          });
          return out.count.has_value() && out.lost;
        },
        wait);
  }

  // Worker 0's broadcast of "q" with acks (ack id `ack_id`) with `opts`, into the ring.
  static shm::PublishStatus ask_broadcast_with_acks(shm::RingWriter& worker, std::uint64_t ack_id,
                                                    const sio::BroadcastOptions& opts) {
    const std::string frame = "42" + std::to_string(ack_id) + "[\"q\"]";
    std::vector<std::byte> bytes(cluster::broadcast_size("/", opts, frame.size(), {}));
    cluster::write_broadcast(bytes, "/", opts, cluster::kFlagAck, ack_id, frame, {});
    return worker.publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), bytes);
  }
  // The bridge's request of type `t` to the fleet (the member sees it on the request channel),
  // nullopt if none came within 10 s.
  std::optional<fleet::ClassicRequest> fleet_request(fleet::ClassicRequestType t) {
    std::optional<fleet::ClassicRequest> request;
    drive([&] {
      for (const auto& m : got_)
        if (auto r = fleet::decode_classic_request(m.payload);
            r && m.channel == "socket.io-request#/#" && r->type == t)
          request = r;
      return request.has_value();
    });
    return request;
  }

  // The next BROADCAST record in the ring (a reader attached before it was written).
  std::optional<cluster::BroadcastView> next_broadcast(shm::RingReader& r, std::string& bytes) {
    std::optional<cluster::BroadcastView> out;
    drive(
        [&] {
          r.poll([&](const shm::RecordView& v) {
            if (out || v.type != static_cast<std::uint16_t>(cluster::MessageType::broadcast))
              return;
            bytes.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
            out = cluster::read_broadcast(
                {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
          });
          return out.has_value();
        },
        5s);
    return out;
  }

  int workers_ = 1;  // (the cluster's, as the bridge is told)
  std::chrono::milliseconds max_hold_{1000};
  static inline int seq_ = 0;
  boost::asio::io_context io_;
  std::string ring_;
  std::optional<shm::Segment> segment_;
  std::unique_ptr<redis::Bridge> bridge_;
  std::vector<std::shared_ptr<redis::Client>> clients_;
  std::vector<Message> got_;
};

}  // namespace

TEST_F(Bridge, RingBroadcastsArePublishedAsTheClassicAdapterPublishes) {
  RedisServer server(free_port());
  server.start();
  const Watched w = bridge_with_a_broadcast_watcher(server);
  ASSERT_TRUE(bridge_subscribed(*w.cmd));
  // A producer on the ring (as a worker's adapter or shmio-emit): to a room, with binary.
  cluster::Emitter em(ring_);
  sio::Args args(json::array{json::object{{"k", 1}}, sio::placeholder(0)},
                 {std::make_shared<const std::string>(std::string("\x01\x02\x00\xff", 4))});
  ASSERT_TRUE(em.of("/").to("r1").emit("news", std::move(args)));
  ASSERT_TRUE(drive([&] { return !got_.empty(); }));
  EXPECT_EQ(got_[0].channel, "socket.io#/#r1#");  // one room: the room's channel
  std::string why;
  auto b = fleet::decode_classic_broadcast(got_[0].payload, &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->uid, "bridgeT");
  EXPECT_EQ(b->packet.type, sio::PacketType::binary_event);
  EXPECT_EQ(b->packet.data->as_array()[0], json::value("news"));
  EXPECT_EQ(b->packet.data->as_array()[1], (json::value(json::object{{"k", 1}})));
  ASSERT_EQ(b->packet.attachments.size(), 1u);
  EXPECT_EQ(*b->packet.attachments[0], std::string("\x01\x02\x00\xff", 4));
  EXPECT_EQ(b->opts.rooms, (std::set<sio::Room>{"r1"}));
  // To everyone: the namespace's channel.
  ASSERT_TRUE(em.of("/").emit("all", sio::Args{json::value(2)}));
  ASSERT_TRUE(drive([&] { return got_.size() == 2; }));
  EXPECT_EQ(got_[1].channel, "socket.io#/#");
  // (Counted when Redis answers the PUBLISH.)
  EXPECT_TRUE(drive([&] { return bridge_->stats().published == 2u; }));
}

// A broadcast beyond a client's bounds (65 binaries; data nested 40 deep), which the workers
// deliver, reaches the fleet too: the bridge read the workers' frames back with a client's bounds
// (64 attachments, depth 32), and dropped such a broadcast without a word (before 2026-12-04).
TEST_F(Bridge, BroadcastsBeyondAClientsBoundsArePublished) {
  RedisServer server(free_port());
  server.start();
  const Watched w = bridge_with_a_broadcast_watcher(server);
  ASSERT_TRUE(bridge_subscribed(*w.cmd));
  cluster::Emitter em(ring_);
  json::array many;
  std::vector<sio::Binary> bins;
  for (int i = 0; i < 65; ++i) {
    many.push_back(sio::placeholder(static_cast<std::size_t>(i)));
    bins.push_back(std::make_shared<const std::string>(1, static_cast<char>(i)));
  }
  ASSERT_TRUE(em.of("/").emit("many", sio::Args(json::array{many}, std::move(bins))));
  json::value deep = 1;
  for (int i = 0; i < 40; ++i) deep = json::array{deep};
  ASSERT_TRUE(em.of("/").emit("deep", sio::Args(json::array{deep})));
  ASSERT_TRUE(drive([&] { return got_.size() == 2; })) << got_.size() << " published";
  std::string why;
  auto a = fleet::decode_classic_broadcast(got_[0].payload, &why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->packet.attachments.size(), 65u);
  EXPECT_EQ(*a->packet.attachments[64], std::string(1, '\x40'));
  auto d = fleet::decode_classic_broadcast(got_[1].payload, &why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->packet.data->as_array().at(1), deep);
  EXPECT_EQ(bridge_->stats().unsent, 0u);
}

// A broadcast whose placeholders name one attachment over and over (a client may send such a
// packet, and an app relay it) is not published: the fleet would get the attachment as many times
// (here 2,000 x 16 KiB, 32 MB, from a 76 KB record), over the ring's largest record; counted
// unsent, and the bridge goes on (before 2026-12-06 it built such messages whatever their size,
// gigabytes from a 1 MB packet; a review). A broadcast after it is published.
TEST_F(Bridge, ABroadcastWhosePlaceholdersMultiplyItsBinaryDataIsNotPublished) {
  RedisServer server(free_port());
  server.start();
  const Watched w = bridge_with_a_broadcast_watcher(server);
  ASSERT_TRUE(bridge_subscribed(*w.cmd));
  cluster::Emitter em(ring_);
  json::array same;
  for (int i = 0; i < 2000; ++i) same.push_back(sio::placeholder(0));
  ASSERT_TRUE(em.of("/").emit(
      "big", sio::Args(json::array{same},
                       {std::make_shared<const std::string>(std::string(16 << 10, 'b'))})))
      << em.last_error();
  ASSERT_TRUE(em.of("/").emit("after", sio::Args{json::value(1)}));
  ASSERT_TRUE(drive([&] { return !got_.empty(); }));
  std::string why;
  auto b = fleet::decode_classic_broadcast(got_[0].payload, &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->packet.data->as_array()[0], json::value("after"));
  EXPECT_EQ(got_.size(), 1u);
  EXPECT_EQ(bridge_->stats().unsent, 1u);
  EXPECT_TRUE(drive([&] { return bridge_->stats().published == 1u; }));
  // The same with acks (a worker's, its requester waiting a minute): not published either, and
  // the worker told at once that the fleet has no clients for it (before, the day the bound came,
  // it waited out its minute; a review).
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  sio::BroadcastOptions minute;
  minute.flags.timeout_ms = 60000;
  std::string frame = "451-7[\"big\"";
  for (int i = 0; i < 2000; ++i) frame += R"(,{"_placeholder":true,"num":0})";
  frame += "]";
  const std::vector<sio::Binary> att{std::make_shared<const std::string>(16 << 10, 'b')};
  std::vector<std::byte> bytes(cluster::broadcast_size("/", minute, frame.size(), att));
  cluster::write_broadcast(bytes, "/", minute, cluster::kFlagAck, 7, frame, att);
  ASSERT_EQ(worker->publish(static_cast<std::uint16_t>(cluster::MessageType::broadcast), bytes),
            shm::PublishStatus::ok);
  std::optional<std::uint64_t> count;
  ASSERT_TRUE(drive(
      [&] {
        reader->poll([&](const shm::RecordView& v) {
          auto m = cluster::read_message(v.payload);
          if (static_cast<cluster::MessageType>(v.type) ==
                  cluster::MessageType::broadcast_client_count &&
              m && m->body.contains("requestId") &&
              m->body.at("requestId").to_number<std::uint64_t>() == 7)
            count = m->body.at("clientCount").to_number<std::uint64_t>();
        });
        return count.has_value();
      },
      10s))
      << "the worker's count within 10 s (its own timeout: 60 s)";
  EXPECT_EQ(*count, 0u);
  EXPECT_EQ(bridge_->stats().unsent, 2u);
  EXPECT_EQ(got_.size(), 1u) << "published";
}

TEST_F(Bridge, FleetBroadcastsAreWrittenIntoTheRingOnceAndOwnOnesNot) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  sio::Packet p;
  p.type = sio::PacketType::event;
  p.nsp = "/";
  p.data = json::array{"news", json::object{{"from", "node"}}};
  sio::BroadcastOptions opts;
  opts.except.insert("muted");
  // Its own uid: ignored. Then another member's, then a marker of that member: Redis delivers
  // the three in order on the bridge's one subscriber connection, so once the marker is in the
  // ring, whatever the first one did is in it too.
  sio::Packet marker = p;
  marker.data = json::array{"marker"};
  pub->command({"PUBLISH", "socket.io#/#", fleet::encode_classic_broadcast("bridgeT", p, opts)});
  pub->command({"PUBLISH", "socket.io#/#", fleet::encode_classic_broadcast("nodeA", p, opts)});
  pub->command({"PUBLISH", "socket.io#/#", fleet::encode_classic_broadcast("nodeA", marker, {})});
  // Every broadcast record until the marker's (frames copied out of the ring).
  std::deque<std::string> records;  // (stable: the views point into them)
  std::vector<cluster::BroadcastView> got;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::broadcast)) return;
      records.emplace_back(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
      auto b = cluster::read_broadcast(
          {reinterpret_cast<const std::byte*>(records.back().data()), records.back().size()});
      if (b) got.push_back(*b);
    });
    return !got.empty() && got.back().frame == R"(42["marker"])";
  }));
  ASSERT_EQ(got.size(), 2u) << "nodeA's broadcast, then the marker: the bridge's own not written";
  const cluster::BroadcastView& b = got[0];
  EXPECT_NE(b.flags & cluster::kFlagFromFleet, 0);  // never published back
  EXPECT_EQ(b.nsp, "/");
  EXPECT_EQ(b.frame, R"(42["news",{"from":"node"}])");
  ASSERT_EQ(b.except.size(), 1u);
  EXPECT_EQ(b.except[0], "muted");
  EXPECT_EQ(bridge_->stats().received, 2u);
  // And the bridge does not publish what it wrote (read back from the ring: skipped). (Counted
  // when Redis answers, in order: once a worker's broadcast after them is counted, so would they.)
  cluster::Emitter em(ring_);
  ASSERT_TRUE(em.of("/").emit("own", sio::Args{json::value(1)}));
  ASSERT_TRUE(drive([&] { return bridge_->stats().published >= 1; }));
  EXPECT_EQ(bridge_->stats().published, 1u) << "the fleet's broadcasts published back";
}

// A member's broadcast with acks, written into the ring under an ack id of the bridge's: a bridge
// started again does not hand out its predecessor's ids (sockets may still hold acks of them, up
// to the asker's timeout; from 1 in every bridge before 2026-12-05). And its clients' acks are
// waited for in the workers as long as the bridge relays them: none said, the request timeout;
// 2^32 - 1 ms (49 days), 10 minutes (before 2026-12-05 both went as they were, and a client that
// never answered held its entry for good).
TEST_F(Bridge, ABridgeStartedAgainDoesNotReuseItsPredecessorsAckIds) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  std::vector<std::uint64_t> ids;
  for (int run = 0; run < 2; ++run) {
    start_bridge(server.url());
    ASSERT_TRUE(bridge_subscribed(*pub));
    fleet::ClassicRequest r;
    r.type = fleet::ClassicRequestType::broadcast;
    r.uid = "nodeA";
    r.request_id = "req" + std::to_string(run);
    r.packet.type = sio::PacketType::event;
    r.packet.nsp = "/";
    r.packet.data = json::array{"ask"};
    r.packet.id = 7;
    if (run == 1) r.opts.flags.timeout_ms = std::numeric_limits<std::uint32_t>::max();
    pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
    std::string record;
    ASSERT_TRUE(drive([&] {
      reader->poll([&](const shm::RecordView& v) {
        if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast))
          record.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
      });
      return !record.empty();
    }));
    const auto b =
        cluster::read_broadcast({reinterpret_cast<const std::byte*>(record.data()), record.size()});
    ASSERT_TRUE(b);
    ASSERT_NE(b->flags & cluster::kFlagAck, 0);
    const std::uint64_t stride = cluster::ack_id_stride(workers_);
    EXPECT_EQ(b->ack_id % stride, stride - 1) << "never a worker's";
    EXPECT_LE(b->ack_id, sio::kMaxAckId);
    EXPECT_EQ(b->timeout_ms, run == 0 ? 2000u : 600000u);
    ids.push_back(b->ack_id);
    bridge_.reset();
    io_.poll();
  }
  EXPECT_NE(ids[0], ids[1]);
}

// A Node member's serverSideEmit with a numeric event name (io.serverSideEmit(42)) reaches the
// workers under its name as Node keys its handlers, String(42); refused as "no event" before
// 2026-12-05.
TEST_F(Bridge, AServerSideEmitWithANumericNameIsWrittenUnderItsText) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::server_side_emit;
  r.uid = "nodeA";
  r.data = json::array{42, "x"};
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  std::optional<json::object> body;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::server_side_emit))
        body = cluster::read_message(v.payload)->body;
    });
    return body.has_value();
  }));
  EXPECT_EQ(body->at("event"), "42");
  EXPECT_EQ(body->at("args"), json::array{"x"});
  EXPECT_EQ(bridge_->stats().bad_messages, 0u);
}

// The flow control counts every record the fleet makes the bridge write, not broadcasts only: a
// member's flood of serverSideEmits (600 of 4 KB through the 1 MiB ring) waits for a worker
// behind instead of lapping it (before 2026-12-05 it was not held, and the worker, lapped, would
// have disconnected its clients; found by a review).
TEST_F(Bridge, AFloodOfServerSideEmitsWaitsForAWorkerBehindToo) {
  max_hold_ = 10s;
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  auto slow = shm::RingReader::attach(*segment_, {"worker-0", -1, shm::StartAt::latest});
  ASSERT_TRUE(slow);
  constexpr std::int64_t kFlood = 600;
  for (std::int64_t i = 0; i < kFlood; ++i) {
    fleet::ClassicRequest r;
    r.type = fleet::ClassicRequestType::server_side_emit;
    r.uid = "nodeA";
    r.data = json::array{"sync", i, std::string(4000, 's')};
    pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  }
  ASSERT_TRUE(drive([&] { return bridge_->stats().holds >= 1; }))
      << "requests in " << bridge_->stats().requests_in;
  std::vector<std::int64_t> seen;
  ASSERT_TRUE(drive([&] {
    slow->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::server_side_emit)) return;
      if (auto m = cluster::read_message(v.payload))
        seen.push_back(m->body.at("args").as_array().at(0).as_int64());
    });
    return seen.size() >= static_cast<std::size_t>(kFlood);
  })) << seen.size();
  EXPECT_EQ(slow->total_loss().records, 0u) << "lapped";
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kFlood));
  for (std::int64_t i = 0; i < kFlood; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(bridge_->stats().hold_timeouts, 0u);
}

// Flow control, Redis -> ring: a member's flood of broadcasts, more than the ring holds, while a
// worker's reader has not read yet: the bridge stops reading Redis before that reader is lapped,
// and goes on as it reads (the reader loses nothing). A reader that does not move for max_hold is
// passed over: the rest comes in, and it is not waited for again while it stays where it is.
TEST_F(Bridge, AFleetFloodWaitsForAWorkerBehindInsteadOfLappingIt) {
  max_hold_ = 10s;
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  auto slow = shm::RingReader::attach(*segment_, {"worker-0", -1, shm::StartAt::latest});
  ASSERT_TRUE(slow);
  // 600 broadcasts of 4 KB: 2.4 MB through a 1 MiB ring.
  constexpr std::uint64_t kFlood = 600;
  auto flood = [&](int from, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      sio::Packet p;
      p.type = sio::PacketType::event;
      p.nsp = "/";
      p.data = json::array{"flood", from + static_cast<std::int64_t>(i), std::string(4000, 'f')};
      pub->command({"PUBLISH", "socket.io#/#", fleet::encode_classic_broadcast("nodeA", p, {})});
    }
  };
  // Every broadcast `r` reads now, by its first number.
  auto read_all = [](shm::RingReader& r, std::vector<std::int64_t>& seen) {
    r.poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::broadcast)) return;
      auto b = cluster::read_broadcast(v.payload);
      if (!b) return;
      const std::string frame(b->frame);
      const std::size_t at = frame.find(',');
      seen.push_back(std::stoll(frame.substr(at + 1)));
    });
  };
  flood(0, kFlood);
  ASSERT_TRUE(drive([&] { return bridge_->stats().holds >= 1; }))
      << "received " << bridge_->stats().received;
  EXPECT_LT(bridge_->stats().received, kFlood);
  std::vector<std::int64_t> seen;
  ASSERT_TRUE(drive([&] {
    read_all(*slow, seen);
    return seen.size() >= kFlood;
  })) << seen.size();
  EXPECT_EQ(slow->total_loss().records, 0u) << "lapped";
  ASSERT_EQ(seen.size(), kFlood);
  for (std::uint64_t i = 0; i < kFlood; ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(bridge_->stats().received, kFlood);
  EXPECT_EQ(bridge_->stats().hold_timeouts, 0u);

  // A reader that never reads, with a short max_hold: passed over once, then not waited for
  // while it stays where it is (160 broadcasts, about 670 KB: a hold; then 30 more, within the
  // ring, looked at four times: no more).
  bridge_.reset();
  // (The old bridge's subscription gone first: NUMSUB could count it for the new one's.)
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-request#/#") == 0; }));
  max_hold_ = 200ms;
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  auto stuck = shm::RingReader::attach(*segment_, {"worker-1", -1, shm::StartAt::latest});
  ASSERT_TRUE(stuck);
  seen.clear();
  flood(1000, 160);
  ASSERT_TRUE(drive([&] {
    read_all(*slow, seen);  // (the other worker reads as it comes)
    return bridge_->stats().received == 160;
  })) << bridge_->stats().received;
  EXPECT_EQ(bridge_->stats().hold_timeouts, 1u);
  EXPECT_GE(bridge_->stats().held_ms, 200u);
  flood(2000, 30);
  ASSERT_TRUE(drive([&] {
    read_all(*slow, seen);
    return bridge_->stats().received == 190 && seen.size() == 190;
  })) << bridge_->stats().received;
  EXPECT_EQ(bridge_->stats().hold_timeouts, 1u) << "a reader passed over was waited for again";
  EXPECT_EQ(slow->total_loss().records, 0u);
  (void)stuck->poll([](const shm::RecordView&) {});
  EXPECT_EQ(stuck->total_loss().records, 0u) << "not lapped: within the ring";
  const std::string text = bridge_->metrics_text();
  EXPECT_NE(text.find("shmio_redis_hold_timeouts_total{worker=\"bridge\"} 1"), std::string::npos);
}

TEST_F(Bridge, RequestsOverTheBoundAreRefusedAndCounted) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  // A live worker that never answers: each fleet request waits for it until the timeout.
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic, 2);
  ASSERT_TRUE(bridge_subscribed(*pub));
  for (int i = 0; i < 5; ++i) {
    fleet::ClassicRequest r;
    r.type = fleet::ClassicRequestType::all_rooms;
    r.uid = "nodeA";
    r.request_id = "req" + std::to_string(i);
    pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  }
  // Two wait for the worker; the other three are refused, and said in the metrics.
  ASSERT_TRUE(drive([&] { return bridge_->stats().requests_refused == 3; }));
  EXPECT_EQ(bridge_->stats().requests_in, 2u);
  EXPECT_NE(bridge_->metrics_text().find("shmio_redis_requests_refused_total{worker=\"bridge\"} 3"),
            std::string::npos);
}

// A member's allRooms (and adapter 7.x's allSockets) with a worker here that never answers: the
// host's answer is published before the member's own timeout (the bridge's request_timeout,
// Node's requestsTimeout, 5 s by default, as here), at four fifths of it as for fetchSockets.
// (Before 2026-12-04 at the whole timeout: after the member had given up, "timeout reached while
// waiting for allRooms response".)
TEST_F(Bridge, AMembersRequestIsAnsweredBeforeItsOwnTimeoutWhileAWorkerIsSilent) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto member = client(server.url());
  member->subscribe("socket.io-response#/#");
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});  // alive, never answers
  ASSERT_TRUE(worker);
  // (5 s: the answer due at 4 s, 0.9 s before the member's timeout. With 2 s, 0.3 s was left for
  // two hops through Redis and the timer's lateness, under ASan too.)
  start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic, 10000,
               5s);
  ASSERT_TRUE(bridge_subscribed(*pub));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-response#/#") == 2; }));
  for (const auto type :
       {fleet::ClassicRequestType::all_rooms, fleet::ClassicRequestType::sockets}) {
    got_.clear();
    fleet::ClassicRequest r;
    r.type = type;
    r.uid = "nodeA";
    r.request_id = "slow" + std::to_string(static_cast<int>(type));
    const auto asked = std::chrono::steady_clock::now();
    pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
    ASSERT_TRUE(drive([&] {
      for (const auto& m : got_)
        if (auto a = fleet::decode_classic_response(m.payload); a && a->request_id == r.request_id)
          return true;
      return false;
    }));
    const auto took = std::chrono::steady_clock::now() - asked;
    EXPECT_GE(took, 3s) << static_cast<int>(type) << ": did not wait for the silent worker";
    EXPECT_LT(took, 4900ms) << static_cast<int>(type) << ": not before the member's 5 s";
  }
}

// A worker lapped over the bridge's request for a member (its LAPPED names a range holding the
// request's position: it never read it) is not waited for: the member's fetchSockets is answered
// at once, not at four fifths of its 60 s. A LAPPED whose range does not hold it, or that names
// a ring the cluster does not have (counted as bad messages), changes nothing. Before
// 2026-12-07 the bridge waited for the lapped worker until the deadline.
TEST_F(Bridge, AWorkerLappedOverAMembersRequestIsNotWaitedFor) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto member = client(server.url());
  member->subscribe("socket.io-response#/#");
  member->subscribe("socket.io#/#");
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});  // alive, never answers
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic, 10000,
               60s);
  ASSERT_TRUE(bridge_subscribed(*pub));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-response#/#") == 2; }));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io#/#") == 1; }));
  got_.clear();
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::sockets;
  r.uid = "nodeA";
  r.request_id = "lapped";
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  std::optional<std::uint64_t> at;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets))
        at = v.position;
    });
    return at.has_value();
  }));
  const auto answered = [&] {
    for (const auto& m : got_)
      if (auto a = fleet::decode_classic_response(m.payload); a && a->request_id == "lapped")
        return true;
    return false;
  };
  const std::uint64_t bad = bridge_->stats().bad_messages;
  ASSERT_EQ(put(*worker, cluster::MessageType::lapped, {{"ring", -1}, {"from", 0}, {"to", *at}}),
            shm::PublishStatus::ok);
  ASSERT_EQ(put(*worker, cluster::MessageType::lapped, {{"ring", 5}, {"from", 0}, {"to", *at + 1}}),
            shm::PublishStatus::ok);
  ASSERT_EQ(put(*worker, cluster::MessageType::lapped, {{"ring", 0}, {"from", 0}, {"to", *at + 1}}),
            shm::PublishStatus::ok);  // (one shared ring: it has no worker ring 0)
  // Then a broadcast of the worker's, a marker: the bridge reads the ring in order and publishes
  // on one connection, so an answer the LAPPEDs made would come before it.
  ASSERT_EQ(put_marker(*worker), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return marker_came(); }));
  EXPECT_EQ(bridge_->stats().bad_messages, bad + 2);
  EXPECT_FALSE(answered()) << "answered after a lap that missed the request";
  ASSERT_EQ(
      put(*worker, cluster::MessageType::lapped, {{"ring", -1}, {"from", *at}, {"to", *at + 1}}),
      shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return answered(); })) << "waited for the lapped worker";
}

// A worker's death said with its start time ends the bridge's wait for that process only: one
// of the same pid and another start time (the pid taken again since) is still waited for, and
// the member is not answered before it (or the deadline); with the worker's own start time, at
// once. (By the pid alone before 2026-12-07.) The worker here is this process: the deaths name
// its pid.
TEST_F(Bridge, ADeathSaidWithItsStartTimeIsNotTakenForAnotherProcessOfItsPid) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto member = client(server.url());
  member->subscribe("socket.io-response#/#");
  member->subscribe("socket.io#/#");
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});  // alive, never answers
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(worker && supervisor);
  const std::uint64_t start = shm::process_start_time(::getpid());
  ASSERT_NE(start, 0u);
  start_bridge(server.url(), redis::FleetMode::classic, redis::ShardedSubscription::dynamic, 10000,
               60s);
  ASSERT_TRUE(bridge_subscribed(*pub));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-response#/#") == 2; }));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io#/#") == 1; }));
  got_.clear();
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::sockets;
  r.uid = "nodeA";
  r.request_id = "death";
  const std::uint64_t asked = bridge_->stats().requests_in;
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  ASSERT_TRUE(drive([&] { return bridge_->stats().requests_in > asked; }));
  const auto answered = [&] {
    for (const auto& m : got_)
      if (auto a = fleet::decode_classic_response(m.payload); a && a->request_id == "death")
        return true;
    return false;
  };
  ASSERT_EQ(put(*supervisor, cluster::MessageType::worker_down,
                {{"pid", ::getpid()}, {"worker", 0}, {"start", start + 1}}),
            shm::PublishStatus::ok);
  // A marker after it (the bridge reads the ring in order and publishes on one connection).
  ASSERT_EQ(put_marker(*worker), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return marker_came(); }));
  EXPECT_FALSE(answered()) << "another process of that pid taken for the dead worker";
  ASSERT_EQ(put(*supervisor, cluster::MessageType::worker_down,
                {{"pid", ::getpid()}, {"worker", 0}, {"start", start}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return answered(); })) << "waited for the dead worker";
}

// The bridge lapped by the ring says what it lost (LAPPED, the shared ring's range [from, to)),
// so that the workers' requests in it do not wait for it (ClusterAdapterTest.
// ARequestALappedWorkerNeverReadCompletesWithoutItsAnswer for a worker).
TEST_F(Bridge, ALappedBridgeSaysWhatItLost) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  const std::uint64_t first = reader->position();
  // More than the ring (1 MiB) written while the bridge does not run.
  ASSERT_NO_FATAL_FAILURE(lap_the_ring(*worker));
  // (What its reader skipped, once it has read on: its slot's count.)
  const auto skipped = [&] {
    std::uint64_t n = 0;
    for (const auto& row : shm::inspect::readers(*segment_))
      if (row.label == "bridge") n += row.lost_bytes;
    return n;
  };
  std::uint64_t said_lost = 0, first_from = ~0ULL;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::lapped)) return;
      const json::object said = cluster::read_message(v.payload)->body;
      EXPECT_EQ(said.at("ring"), -1);
      const auto from = said.at("from").to_number<std::uint64_t>();
      first_from = std::min(first_from, from);
      said_lost += said.at("to").to_number<std::uint64_t>() - from;
    });
    return said_lost != 0 && said_lost >= skipped();
  })) << "no LAPPED from the lapped bridge, or less than it skipped";
  EXPECT_LE(first, first_from);
  // What its reader skipped, byte for byte: no less (requests it never read would wait for it),
  // no more (requests it read would stop waiting for its answers).
  EXPECT_GT(skipped(), (1u << 20) / 2);
  EXPECT_EQ(said_lost, skipped());
}

// A lapped bridge asks the workers which answers to the fleet's requests they still owe
// (ANSWERS_CHECK, as a lapped worker does): a worker's answer lost to the lap, with its reply
// saying it owes nothing more, ends the request's wait for it, and the member is answered at
// once, not at four fifths of its 60 s. Before 2026-12-07 it waited until then.
TEST_F(Bridge, ALappedBridgeAsksWhichAnswersItLost) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(member_beside_a_silent_worker(server, f, 60s));
  auto& pub = f.pub;
  auto& worker = f.worker;
  auto& reader = f.reader;
  got_.clear();
  // Two requests of the member: its sockets (the worker answers, and the lap takes the answer),
  // and a serverSideEmit with an ack the worker still owes.
  fleet::ClassicRequest r;
  r.type = fleet::ClassicRequestType::sockets;
  r.uid = "nodeA";
  r.request_id = "lost-answer";
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  fleet::ClassicRequest e;
  e.type = fleet::ClassicRequestType::server_side_emit;
  e.uid = "nodeA";
  e.request_id = "still-owed";
  e.data = json::array{"hold"};
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(e)});
  std::optional<std::uint64_t> rid, owed_rid;
  std::uint16_t bridge_slot = 0;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      if (t != cluster::MessageType::fetch_sockets && t != cluster::MessageType::server_side_emit)
        return;
      (t == cluster::MessageType::fetch_sockets ? rid : owed_rid) =
          cluster::read_message(v.payload)->body.at("requestId").to_number<std::uint64_t>();
      bridge_slot = v.producer;
    });
    return rid && owed_rid;
  }));
  const auto answered = [&](const char* id) {
    for (const auto& m : got_)
      if (auto a = fleet::decode_classic_response(m.payload); a && a->request_id == id) return true;
    return false;
  };
  // The worker's answer, then more than the ring (1 MiB) while the bridge does not run.
  ASSERT_EQ(put(*worker, cluster::MessageType::fetch_sockets_response,
                {{"requestId", *rid},
                 {"to", bridge_slot},
                 {"part", 0},
                 {"parts", 1},
                 {"sockets", json::array{}}}),
            shm::PublishStatus::ok);
  ASSERT_NO_FATAL_FAILURE(lap_the_ring(*worker));
  const auto check = bridge_check(*reader, bridge_slot);
  ASSERT_TRUE(check) << "the lapped bridge did not ask";
  EXPECT_EQ(check->requests, (std::vector<std::uint64_t>{*rid, *owed_rid})) << "oldest first";
  EXPECT_EQ(bridge_->stats().answer_checks, 1u);
  EXPECT_FALSE(answered("lost-answer"));
  ASSERT_EQ(put(*worker, cluster::MessageType::answers_owed,
                {{"to", bridge_slot},
                 {"check", check->check},
                 {"owed", json::array{json::object{{"requestId", *owed_rid}}}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return answered("lost-answer"); })) << "waited for the answer it lost";
  EXPECT_EQ(bridge_->stats().answers_found_lost, 1u);
  // The one still owed waits for the worker's answer, and has it (ended, it would not: the
  // bridge's entry gone, the answer is dropped).
  ASSERT_EQ(put(*worker, cluster::MessageType::server_side_emit_response,
                {{"requestId", *owed_rid}, {"to", bridge_slot}, {"args", json::array{"late"}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return answered("still-owed"); }));
}

// The same for a member's broadcast with acks whose worker count the lap took: the worker's reply
// says it still owes acks and says its count (3 clients), which the bridge takes, and the member
// is told the host's count at once, not at four fifths of its 60 s; an ack relayed before the
// reply is among those 3.
TEST_F(Bridge, ALappedBridgeTakesALostCountFromTheReply) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  AskedBesideASilentWorker asked;
  ASSERT_NO_FATAL_FAILURE(ask_beside_a_silent_worker(server, f, "count-lost", 60000, asked));
  const fleet::ClassicRequest& r = asked.request;
  const std::uint64_t ack_id = asked.ring.ack_id;
  const std::uint16_t bridge_slot = asked.ring.bridge;
  ASSERT_EQ(put(*f.worker, cluster::MessageType::broadcast_client_count,
                {{"requestId", ack_id}, {"to", bridge_slot}, {"clientCount", 3}}),
            shm::PublishStatus::ok);
  ASSERT_NO_FATAL_FAILURE(lap_the_ring(*f.worker));
  // One of its clients' acks, after the lap: relayed, and among the 3 of the count the reply says
  // (not one more).
  ASSERT_EQ(put(*f.worker, cluster::MessageType::broadcast_ack,
                {{"requestId", ack_id}, {"to", bridge_slot}, {"args", json::array{"one"}}}),
            shm::PublishStatus::ok);
  const auto check = bridge_check(*f.reader, bridge_slot);
  ASSERT_TRUE(check) << "the lapped bridge did not ask";
  ASSERT_EQ(check->requests, std::vector<std::uint64_t>{ack_id});
  ASSERT_EQ(put(*f.worker, cluster::MessageType::answers_owed,
                {{"to", bridge_slot},
                 {"check", check->check},
                 {"owed",
                  json::array{json::object{{"requestId", ack_id}, {"clients", 3}, {"given", 0}}}}}),
            shm::PublishStatus::ok);
  const auto count = count_told(r.request_id);
  ASSERT_TRUE(count) << "the count said in the reply not taken";
  EXPECT_EQ(*count, 3u);
  EXPECT_EQ(bridge_->stats().answers_found_lost, 0u);
}

// Acks relayed from a worker whose count never came (lost to a lap: a worker says its count before
// any ack) are in the count sent when the bridge gives up on it: the member is never told fewer
// clients than the acks it gets (here 0 with one ack relayed, before 2026-12-07).
TEST_F(Bridge, AcksRelayedFromAWorkerWithoutItsCountAreCounted) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  AskedBesideASilentWorker asked;
  ASSERT_NO_FATAL_FAILURE(ask_beside_a_silent_worker(server, f, "acks-uncounted", 3000, asked));
  const fleet::ClassicRequest& r = asked.request;
  const std::uint64_t ack_id = asked.ring.ack_id;
  const std::uint16_t bridge_slot = asked.ring.bridge;
  ASSERT_EQ(put(*f.worker, cluster::MessageType::broadcast_ack,
                {{"requestId", ack_id}, {"to", bridge_slot}, {"args", json::array{"early"}}}),
            shm::PublishStatus::ok);
  const auto count = count_told(r.request_id);
  ASSERT_TRUE(count);
  // (The ack went out at once, the count at four fifths of the 3 s, on one connection.)
  bool relayed = false;
  for (const auto& m : got_)
    if (auto a = fleet::decode_classic_response(m.payload);
        a && a->request_id == r.request_id && a->fields.contains("packet"))
      relayed = true;
  EXPECT_TRUE(relayed);
  EXPECT_EQ(*count, 1u) << "an ack relayed beyond the count";
}

// The same in sharded mode, whose members (socket.io-adapter's ClusterAdapter) wait a fixed 5 s
// for a fetchSockets that says no timeout, whatever the bridge's request timeout (here 10 s):
// answered at four fifths of 5 s (before 2026-12-07 at four fifths of the request timeout, 8 s,
// after the member had given up; found by a bug hunt).
TEST_F(Bridge, AShardedMembersFetchIsAnsweredBeforeItsFiveSecondsWhileAWorkerIsSilent) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto member = client(server.url());
  member->ssubscribe("socket.io#/#nodeA#");
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});  // alive, never answers
  ASSERT_TRUE(worker);
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::static_, 10000,
               10s);
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#") == 1; }));
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#nodeA#") == 1; }));
  fleet::ClusterMessage ask;
  ask.type = cluster::MessageType::fetch_sockets;
  ask.uid = "nodeA";
  ask.nsp = "/";
  ask.data = json::object{{"requestId", "slowS"},
                          {"opts", json::object{{"rooms", json::array{}},
                                                {"except", json::array{}},
                                                {"flags", json::object{}}}}};
  got_.clear();
  const auto asked = std::chrono::steady_clock::now();
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(ask)});
  ASSERT_TRUE(drive(
      [&] {
        for (const auto& m : got_)
          if (auto c = fleet::decode_cluster_message(m.payload);
              c && c->type == cluster::MessageType::fetch_sockets_response)
            return true;
        return false;
      },
      12s));
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_GE(took, 3s) << "did not wait for the silent worker";
  EXPECT_LT(took, 4900ms) << "not before the member's 5 s";
}

// A member's broadcast with acks while a worker is alive and silent (stuck, or lapped past the
// record): the host's count is published by four fifths of the requester's timeout, while it
// still waits, not at its end (before 2026-12-05 it came as the requester gave up, and its
// emitWithAck failed with every client's ack in). That worker's acks are not relayed after it:
// the count has no room for them.
TEST_F(Bridge, AMembersBroadcastWithAcksIsCountedBeforeItsTimeoutWhileAWorkerIsSilent) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(member_beside_a_silent_worker(server, f));
  auto& pub = f.pub;
  auto& worker = f.worker;
  auto& reader = f.reader;
  const fleet::ClassicRequest r = broadcast_with_acks("acks-while-silent", 4000);
  got_.clear();
  const auto asked = std::chrono::steady_clock::now();
  pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
  std::optional<std::uint64_t> count;
  ASSERT_TRUE(drive([&] {
    for (const auto& m : got_)
      if (auto a = fleet::decode_classic_response(m.payload);
          a && a->request_id == r.request_id && a->fields.contains("clientCount"))
        count = a->fields.at("clientCount").to_number<std::uint64_t>();
    return count.has_value();
  }));
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(*count, 0u);
  EXPECT_GE(took, 2500ms) << "did not wait for the silent worker";
  EXPECT_LT(took, 3900ms) << "not before the requester's 4 s";
  // The silent worker answers now, one ack, then a plain broadcast (a marker: the bridge reads
  // both in order, and publishes on one connection).
  std::string record;
  std::uint16_t bridge = 0;
  reader->poll([&](const shm::RecordView& v) {
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::broadcast) && record.empty()) {
      record.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
      bridge = v.producer;
    }
  });
  const auto b =
      cluster::read_broadcast({reinterpret_cast<const std::byte*>(record.data()), record.size()});
  ASSERT_TRUE(b) << "the member's broadcast in the ring";
  ASSERT_EQ(put(*worker, cluster::MessageType::broadcast_ack,
                {{"requestId", b->ack_id}, {"to", bridge}, {"args", json::array{"late"}}}),
            shm::PublishStatus::ok);
  ASSERT_EQ(put_marker(*worker), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return marker_came(); }));
  bool relayed = false;
  for (const auto& m : got_)
    if (auto a = fleet::decode_classic_response(m.payload);
        a && a->request_id == r.request_id && a->fields.contains("packet"))
      relayed = true;
  EXPECT_FALSE(relayed) << "an ack of a worker the count left out was relayed";
}

// Each member's broadcast with acks is counted at its own time (four fifths of its requester's
// timeout, a worker silent), not at the bridge's next 100 ms tick: six requests asked 17 ms apart
// each get their count within 60 ms of its time. With the tick alone, one of them (due within
// 17 ms after a tick) waited 83 ms or more, and a count due at 4/5 of a timeout under 500 ms could
// come after its requester gave up (before 2026-12-06).
TEST_F(Bridge, EachCountIsSentAtItsOwnTimeNotAtTheNextTick) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(member_beside_a_silent_worker(server, f));
  auto& pub = f.pub;
  constexpr int kRequests = 6;
  constexpr auto kTimeout = 1000ms;
  const auto count_by = kTimeout * 4 / 5;
  // How late the latest of a round's counts came after its time. (Up to three rounds, the best
  // kept: a loaded machine may stall the test's own loop in one; with the tick alone every round
  // has one at least 83 ms late.)
  auto round = [&](int k) {
    got_.clear();
    std::vector<std::chrono::steady_clock::time_point> asked;
    const std::string prefix = "at-its-time-" + std::to_string(k) + "-";
    for (int i = 0; i < kRequests; ++i) {
      const fleet::ClassicRequest r = broadcast_with_acks(
          prefix + std::to_string(i), static_cast<std::uint32_t>(kTimeout.count()));
      asked.push_back(std::chrono::steady_clock::now());
      pub->command({"PUBLISH", "socket.io-request#/#", fleet::encode_classic_request(r)});
      io_.run_for(17ms);  // (the spacing under test: the requests' times fall between the ticks)
    }
    std::map<int, std::chrono::steady_clock::time_point> counted;
    EXPECT_TRUE(drive([&] {
      for (const auto& m : got_)
        if (auto a = fleet::decode_classic_response(m.payload);
            a && a->fields.contains("clientCount") && a->request_id.rfind(prefix, 0) == 0)
          counted.emplace(std::stoi(a->request_id.substr(prefix.size())), m.at);
      return counted.size() == kRequests;
    }));
    auto latest = std::chrono::steady_clock::duration::min();
    for (int i = 0; i < kRequests; ++i) {
      if (counted.count(i) == 0) return std::chrono::steady_clock::duration::max();
      EXPECT_GE(counted[i], asked[i] + count_by) << "request " << i << " counted before its time";
      latest = std::max(latest, counted[i] - (asked[i] + count_by));
    }
    return latest;
  };
  auto best = std::chrono::steady_clock::duration::max();
  for (int k = 0; k < 3 && best >= 60ms; ++k) best = std::min(best, round(k));
  EXPECT_LT(best, 60ms) << "a count came "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(best).count()
                        << " ms after its time in the best of three rounds";
}

// A worker's fetchSockets that the fleet answers with more than the ring holds (2 MB of sockets, a
// 1 MiB ring): the bridge writes whole parts up to a quarter of the ring and leaves the rest out.
// (Before, it wrote all of them at once and lapped the ring's readers — a lapped worker
// disconnects its clients.)
TEST_F(Bridge, AFleetAnswerToFetchSocketsIsBoundedByTheRing) {
  RedisServer server(free_port());
  server.start();
  // (The fleet's 2 MB answer must come within the request timeout, under ASan too: 10 s.)
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 10s, f));
  auto& pub = f.pub;
  auto& reader = f.reader;
  ASSERT_EQ(ask_fetch(*f.worker, 77, {}), shm::PublishStatus::ok);
  // The bridge's REMOTE_FETCH, answered with 2,000 sockets of about 1 KB each.
  const auto request = fleet_request(fleet::ClassicRequestType::remote_fetch);
  ASSERT_TRUE(request);
  json::array sockets;
  for (int i = 0; i < 2000; ++i)
    sockets.push_back(json::object{{"id", "s" + std::to_string(i)},
                                   {"handshake", json::object{{"pad", std::string(1000, 'x')}}},
                                   {"rooms", json::array{}},
                                   {"data", nullptr}});
  pub->command({"PUBLISH", "socket.io-response#/#",
                fleet::encode_fetch_response(request->request_id, std::move(sockets))});
  // Its parts in the ring: as many as the first says, a quarter of the ring at most, none lost.
  std::size_t parts = 0, announced = 0, bytes = 0, in_parts = 0;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->body.at("requestId").to_number<std::uint64_t>(), 77u);
      EXPECT_EQ(m->body.at("part").to_number<std::size_t>(), parts);
      if (parts == 0) announced = m->body.at("parts").to_number<std::size_t>();
      in_parts += m->body.at("sockets").as_array().size();
      bytes += v.payload.size();
      ++parts;
    });
    return announced > 0 && parts == announced;
  }));
  EXPECT_GT(in_parts, 100u);
  EXPECT_LT(in_parts, 2000u) << "what is over the bound is left out";
  EXPECT_LE(bytes, segment_->capacity() / 4 + parts * 256);
  EXPECT_EQ(reader->total_loss().records, 0u) << "the reader was not lapped";
}

// The fleet's sockets are bounded as they come, not held until every member has answered: a
// member's 2 MB answer (a 1 MiB ring: a quarter is 256 KB), while another member is still to
// answer, has what is past the bound left out at once (counted), and the worker's answer then
// holds at most that quarter. Before 2026-12-07 every member's whole answer was held until the
// last (hundreds of MB for members with 100k sockets each, per request) and cut at the end (a
// review).
TEST_F(Bridge, AFleetsFetchAnswersAreNotHeldPastTheRingsBound) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 10s, f));
  auto silent = client(server.url());  // (a second member, which answers late)
  silent->subscribe("socket.io-request#/#");
  ASSERT_TRUE(bridge_subscribed(*f.pub, false, 3)) << "the bridge and both members";
  got_.clear();
  ASSERT_EQ(ask_fetch(*f.worker, 81, {}), shm::PublishStatus::ok);
  const auto request = fleet_request(fleet::ClassicRequestType::remote_fetch);
  ASSERT_TRUE(request);
  json::array sockets;
  for (int i = 0; i < 2000; ++i)
    sockets.push_back(json::object{{"id", "s" + std::to_string(i)},
                                   {"handshake", json::object{{"pad", std::string(1000, 'x')}}},
                                   {"rooms", json::array{}},
                                   {"data", nullptr}});
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_fetch_response(request->request_id, std::move(sockets))});
  ASSERT_TRUE(drive([&] { return bridge_->stats().fetch_sockets_left_out > 0; }, 5s))
      << "nothing left out while the second member is still to answer";
  const std::uint64_t as_they_came = bridge_->stats().fetch_sockets_left_out;
  EXPECT_GT(as_they_came, 1000u);
  bool early = false;
  f.reader->poll([&](const shm::RecordView& v) {
    if (v.type == static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
      early = true;
  });
  EXPECT_FALSE(early) << "the worker answered before the second member";
  // The second member's answer (none of its own): the worker's answer, within the bound.
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_fetch_response(request->request_id, json::array{})});
  std::size_t parts = 0, announced = 0, in_parts = 0, bytes = 0;
  ASSERT_TRUE(drive([&] {
    f.reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      if (parts == 0) announced = m->body.at("parts").to_number<std::size_t>();
      in_parts += m->body.at("sockets").as_array().size();
      bytes += v.payload.size();
      ++parts;
    });
    return announced > 0 && parts == announced;
  }));
  EXPECT_GT(in_parts, 100u);
  EXPECT_EQ(in_parts + bridge_->stats().fetch_sockets_left_out, 2000u) << "each counted once";
  EXPECT_LE(bytes, segment_->capacity() / 4 + parts * 256);
}

// A member's answer to a fetch that the bridge cannot read (past kMaxJsonValues: about 100k
// sockets) is still that member's answer: counted (its sockets left out, a bad message), so the
// worker's answer comes at once, not at its deadline. Before 2026-12-07 it was not counted, and
// the worker waited its 4 s for an answer that had come (a review).
TEST_F(Bridge, AnUnreadableFetchAnswerStillCountsAsTheMembersAnswer) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 20s, f));
  sio::BroadcastOptions opts;
  opts.flags.timeout_ms = 10000;  // (the bridge waits 8 s for the fleet)
  ASSERT_EQ(ask_fetch(*f.worker, 82, opts), shm::PublishStatus::ok);
  const auto request = fleet_request(fleet::ClassicRequestType::remote_fetch);
  ASSERT_TRUE(request);
  const std::string answer =
      R"({"requestId":")" + request->request_id + R"(","sockets":[)" + too_many_zeros() + "]}";
  const auto sent = std::chrono::steady_clock::now();
  f.pub->command({"PUBLISH", "socket.io-response#/#", answer});
  ASSERT_TRUE(fetch_answered(*f.reader, 82));
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_LT(took, 6s) << "the answer waited for the bridge's 8 s deadline";
  EXPECT_GE(bridge_->stats().bad_messages, 1u);
  EXPECT_EQ(bridge_->stats().request_timeouts, 0u);
}

// A worker's fetchSockets relayed to the fleet waits for the fleet's answers within its
// requester's timeout (flags.timeout: four fifths of it, so that the answer comes while the
// requester still waits), not the bridge's longer request timeout: with a member that never
// answers, the bridge's answer to the worker comes then.
TEST_F(Bridge, AWorkersFetchSocketsIsRelayedForItsOperatorsTimeout) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;  // (its member never answers)
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 20s, f));
  auto& reader = f.reader;
  sio::BroadcastOptions opts;
  opts.flags.timeout_ms = 300;
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(ask_fetch(*f.worker, 78, opts), shm::PublishStatus::ok);
  bool answered = false;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        return;
      auto m = cluster::read_message(v.payload);
      if (m && m->body.at("requestId").to_number<std::uint64_t>() == 78u) answered = true;
    });
    return answered;
  }));
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_GE(took, 200ms) << "it waited for the silent member";
  EXPECT_LT(took, 5s) << "within the requester's 300 ms, not the bridge's 20 s request timeout";
}

// A worker's serverSideEmit with an ack to a fleet of two members, one of which never answers (a
// Node server without a handler for the event): the other's answer reaches the worker at once,
// and at the bridge's deadline the count says one more answer, said lost, so the worker's callback
// has the answer with "operation has timed out", as the Node adapter's has them with its timeout
// error. (Before 2026-12-03 the answers were held until every member had answered: the worker's
// own timeout, counted from before the bridge's, came first and got none of them.)
TEST_F(Bridge, AServerSideEmitAnswerReachesTheWorkerAtOnceWhileAMemberIsSilent) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 4s, f));  // (long for a loaded machine)
  auto silent = client(server.url());  // (after: the fleet of one counts 2 subscribers first)
  silent->subscribe("socket.io-request#/#");
  ASSERT_TRUE(bridge_subscribed(*f.pub, false, 3)) << "the bridge and both members";
  got_.clear();
  const std::string ask = cluster::write_message(
      {{"nsp", "/"}, {"event", "q"}, {"args", json::array{1}}, {"requestId", 55}});
  ASSERT_EQ(f.worker->publish(static_cast<std::uint16_t>(cluster::MessageType::server_side_emit),
                              {reinterpret_cast<const std::byte*>(ask.data()), ask.size()}),
            shm::PublishStatus::ok);
  const auto request = fleet_request(fleet::ClassicRequestType::server_side_emit);
  ASSERT_TRUE(request);
  const auto seen = std::chrono::steady_clock::now();
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_server_side_emit_response(request->request_id, "pong")});
  std::vector<std::string> answers;  // each answer's args, and "lost" for a lost one
  std::optional<std::uint64_t> count;
  std::optional<std::chrono::steady_clock::time_point> answered_at;
  auto read = [&] {
    f.reader->poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      auto m = cluster::read_message(v.payload);
      if (!m || !m->body.contains("requestId") ||
          m->body.at("requestId").to_number<std::uint64_t>() != 55u)
        return;
      if (t == cluster::MessageType::server_side_emit_response) {
        answers.push_back(m->body.contains("lost") ? std::string("lost")
                                                   : json::serialize(m->body.at("args")));
        if (!answered_at) answered_at = std::chrono::steady_clock::now();
      }
      if (t == cluster::MessageType::broadcast_client_count)
        count = m->body.at("clientCount").to_number<std::uint64_t>();
    });
  };
  ASSERT_TRUE(drive([&] {
    read();
    return answered_at.has_value();
  }));
  EXPECT_LT(*answered_at - seen, 2500ms) << "held until the deadline";
  EXPECT_FALSE(count) << "counted before the silent member's deadline";
  ASSERT_TRUE(drive([&] {
    read();
    return count.has_value() && answers.size() == 2;
  }));
  EXPECT_EQ(*count, 2u);
  EXPECT_EQ(answers, (std::vector<std::string>{R"(["pong"])", "lost"}));
}

// A lapped worker's check of its requests' answers (ANSWERS_CHECK, docs/cluster.md) is answered
// by the bridge as by a worker (ANSWERS_OWED): a request it relayed to the fleet and still waits
// on is owed, with the answers relayed so far; once it is finished (its count sent), not owed; a
// request it never had, not owed. A check without its id or list is refused, counted.
TEST_F(Bridge, ALappedWorkersCheckIsAnsweredWithWhatTheBridgeStillOwes) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 4s, f));  // (long for a loaded machine)
  auto silent = client(server.url());  // (after: the fleet of one counts 2 subscribers first)
  silent->subscribe("socket.io-request#/#");
  ASSERT_TRUE(bridge_subscribed(*f.pub, false, 3)) << "the bridge and both members";
  got_.clear();
  auto put = [&](cluster::MessageType t, const json::object& body) {
    const std::string m = cluster::write_message(body);
    return f.worker->publish(static_cast<std::uint16_t>(t),
                             {reinterpret_cast<const std::byte*>(m.data()), m.size()});
  };
  ASSERT_EQ(put(cluster::MessageType::server_side_emit,
                {{"nsp", "/"}, {"event", "q"}, {"args", json::array{1}}, {"requestId", 55}}),
            shm::PublishStatus::ok);
  const auto request = fleet_request(fleet::ClassicRequestType::server_side_emit);
  ASSERT_TRUE(request);
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_server_side_emit_response(request->request_id, "pong")});
  bool answered = false, counted = false;
  std::map<std::uint64_t, json::array> owed;  // (by check id)
  auto read = [&] {
    f.reader->poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      auto m = cluster::read_message(v.payload);
      if (!m) return;
      if (t == cluster::MessageType::server_side_emit_response) answered = true;
      if (t == cluster::MessageType::broadcast_client_count) counted = true;
      if (t == cluster::MessageType::answers_owed &&
          m->body.at("to").to_number<std::uint64_t>() == f.worker->id())
        owed[m->body.at("check").to_number<std::uint64_t>()] = m->body.at("owed").as_array();
    });
  };
  ASSERT_TRUE(drive([&] {
    read();
    return answered;
  }));
  ASSERT_FALSE(counted);
  ASSERT_EQ(put(cluster::MessageType::answers_check, {{"check", 7}, {"requests", {55, 56}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    read();
    return owed.count(7) != 0;
  }));
  ASSERT_EQ(owed[7].size(), 1u) << json::serialize(owed[7]);
  EXPECT_EQ(owed[7][0].at("requestId").to_number<std::uint64_t>(), 55u);
  EXPECT_EQ(owed[7][0].at("given").to_number<std::uint64_t>(), 1u);
  EXPECT_FALSE(owed[7][0].as_object().contains("clients"));
  // The silent member's deadline: the count is sent, and nothing is owed any more.
  ASSERT_TRUE(drive([&] {
    read();
    return counted;
  }));
  ASSERT_EQ(put(cluster::MessageType::answers_check, {{"check", 8}, {"requests", {55}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    read();
    return owed.count(8) != 0;
  }));
  EXPECT_TRUE(owed[8].empty()) << json::serialize(owed[8]);
  const std::uint64_t bad = bridge_->stats().bad_messages;
  ASSERT_EQ(put(cluster::MessageType::answers_check, {{"requests", {55}}}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    read();
    return bridge_->stats().bad_messages > bad;
  }));
  EXPECT_EQ(owed.size(), 2u);
}

// A fleet member's answer too large for a ring record (a client's ack of a worker's broadcast, a
// server-side emit's answer) is said lost to the worker that asked (as a worker says its own), so
// that its request completes at once instead of at its timeout.
TEST_F(Bridge, AFleetAnswerTooLargeForTheRingIsSaidLost) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 10s, f));
  // Worker 0's broadcast with acks (ack id 7), then its server-side emit with an ack (request 8).
  ASSERT_EQ(ask_broadcast_with_acks(*f.worker, 7, {}), shm::PublishStatus::ok);
  const std::string emit = cluster::write_message(
      {{"requestId", 8}, {"nsp", "/"}, {"event", "e"}, {"args", json::array{}}});
  ASSERT_EQ(f.worker->publish(static_cast<std::uint16_t>(cluster::MessageType::server_side_emit),
                              {reinterpret_cast<const std::byte*>(emit.data()), emit.size()}),
            shm::PublishStatus::ok);
  // The bridge's two requests to the fleet; the member answers each with 2 MB (the ring: 1 MiB).
  const auto broadcast = fleet_request(fleet::ClassicRequestType::broadcast);
  const auto server_side = fleet_request(fleet::ClassicRequestType::server_side_emit);
  ASSERT_TRUE(broadcast && server_side);
  const std::string big(2 << 20, 'x');
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_broadcast_ack_response(broadcast->request_id, sio::Args{big})});
  f.pub->command({"PUBLISH", "socket.io-response#/#",
                  fleet::encode_client_count_response(broadcast->request_id, 1)});
  f.pub->command(
      {"PUBLISH", "socket.io-response#/#",
       fleet::encode_server_side_emit_response(server_side->request_id, json::value(big))});
  // In the ring, for worker 0: each answer said lost, none published.
  std::vector<std::pair<std::uint64_t, cluster::MessageType>> lost;
  std::size_t answers = 0;
  testing::internal::CaptureStderr();
  const bool both = drive([&] {
    f.reader->poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      if (t != cluster::MessageType::broadcast_ack &&
          t != cluster::MessageType::server_side_emit_response)
        return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      if (m->body.contains("lost"))
        lost.emplace_back(m->body.at("requestId").to_number<std::uint64_t>(), t);
      else
        ++answers;
    });
    return lost.size() == 2;
  });
  const std::string said = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(both) << lost.size() << " said lost";
  EXPECT_EQ(answers, 0u);
  EXPECT_EQ(lost[0], std::make_pair(std::uint64_t{7}, cluster::MessageType::broadcast_ack));
  EXPECT_EQ(lost[1],
            std::make_pair(std::uint64_t{8}, cluster::MessageType::server_side_emit_response));
  EXPECT_NE(said.find("could not be written into the ring: said lost"), std::string::npos) << said;
}

// A worker's broadcast with acks to a fleet Redis counts as one member: once that member's count
// is told, a second member's count (one Redis did not count: subscribed after the PUBSUB count)
// is told too, before its ack, so that the worker's collector waits for both members' acks
// (before 2026-12-07 the second's ack was relayed uncounted and could end the worker's wait in
// place of the first's; a review).
TEST_F(Bridge, AnUncountedMembersCountIsToldBeforeItsAcks) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 10s, f));
  sio::BroadcastOptions opts;
  opts.flags.timeout_ms = 5000;
  ASSERT_EQ(ask_broadcast_with_acks(*f.worker, 31, opts), shm::PublishStatus::ok);
  const auto request = fleet_request(fleet::ClassicRequestType::broadcast);
  ASSERT_TRUE(request);
  // The bridge's records for the worker, in order: "c<count>" and "a<ack>".
  std::vector<std::string> seen;
  const auto read_until = [&](std::size_t n) {
    return drive([&] {
      f.reader->poll([&](const shm::RecordView& v) {
        const auto t = static_cast<cluster::MessageType>(v.type);
        auto m = cluster::read_message(v.payload);
        if (!m || m->body.at("requestId").to_number<std::uint64_t>() != 31u) return;
        if (t == cluster::MessageType::broadcast_client_count)
          seen.push_back("c" +
                         std::to_string(m->body.at("clientCount").to_number<std::uint64_t>()));
        if (t == cluster::MessageType::broadcast_ack)
          seen.push_back("a" + json::serialize(m->body.at("args")));
      });
      return seen.size() >= n;
    });
  };
  const auto publish = [&](const std::string& m) {
    f.pub->command({"PUBLISH", "socket.io-response#/#", m});
  };
  publish(fleet::encode_client_count_response(request->request_id, 1));  // the counted member
  ASSERT_TRUE(read_until(1));
  publish(fleet::encode_client_count_response(request->request_id, 2));  // one not counted
  publish(fleet::encode_broadcast_ack_response(request->request_id, sio::Args{"late"}));
  publish(fleet::encode_broadcast_ack_response(request->request_id, sio::Args{"first"}));
  ASSERT_TRUE(read_until(4));
  EXPECT_EQ(seen, (std::vector<std::string>{"c1", "c2", R"(a["late"])", R"(a["first"])"}));
}

// A worker's broadcast with acks relayed to the fleet: the fleet's acks are relayed while its
// requester waits and not after its timeout (the worker's timer started before its publish, so
// before the bridge's: it no longer waits), whether the member's count came (the count goes at
// once, the acks are relayed until the timeout) or not (the count goes at the timeout). Before
// 2026-12-03 acks were relayed for a margin past it, when the worker's timer started only after
// its own delivery.
TEST_F(Bridge, AFleetAckIsRelayedUntilTheRequestersTimeoutAndNotAfter) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;  // (its member answers only what the test publishes for it)
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 10s, f));
  // The ring's records for the worker from the bridge: counts, acks, and fleet broadcasts (the
  // test's marker).
  std::size_t counts = 0, acks = 0, markers = 0;
  auto read = [&] {
    f.reader->poll([&](const shm::RecordView& v) {
      const auto t = static_cast<cluster::MessageType>(v.type);
      if (t == cluster::MessageType::broadcast_client_count) ++counts;
      if (t == cluster::MessageType::broadcast_ack) ++acks;
      if (t == cluster::MessageType::broadcast &&
          std::string_view(reinterpret_cast<const char*>(v.payload.data()), v.payload.size())
                  .find("marker") != std::string_view::npos)
        ++markers;
    });
  };
  // Everything the bridge got before a fleet broadcast published now has been read (Redis hands
  // the bridge both in order on its one subscriber connection).
  auto read_up_to_a_marker = [&] {
    const std::size_t before = markers;
    sio::Packet m;
    m.type = sio::PacketType::event;
    m.nsp = "/";
    m.data = json::array{"marker"};
    f.pub->command({"PUBLISH", "socket.io#/#", fleet::encode_classic_broadcast("nodeA", m, {})});
    return drive([&] {
      read();
      return markers > before;
    });
  };
  enum Case { member_counts, member_never_counts };
  for (const Case c : {member_counts, member_never_counts}) {
    SCOPED_TRACE(c == member_counts ? "the member counts" : "the member never counts");
    counts = acks = 0;
    sio::BroadcastOptions opts;
    opts.flags.timeout_ms = 3000;  // (the "in time" ack's two Redis hops on a loaded machine)
    got_.clear();
    ASSERT_EQ(ask_broadcast_with_acks(*f.worker, 7 + c, opts), shm::PublishStatus::ok);
    const auto request = fleet_request(fleet::ClassicRequestType::broadcast);
    ASSERT_TRUE(request);
    const auto seen = std::chrono::steady_clock::now();  // (after the bridge read the broadcast)
    const auto ack = [&](const std::string& value) {
      f.pub->command({"PUBLISH", "socket.io-response#/#",
                      fleet::encode_broadcast_ack_response(request->request_id, sio::Args{value})});
    };
    if (c == member_counts)
      f.pub->command({"PUBLISH", "socket.io-response#/#",
                      fleet::encode_client_count_response(request->request_id, 2)});
    ack("in time");
    ASSERT_TRUE(drive([&] {
      read();
      return acks == 1;
    })) << "an ack while the requester waits was not relayed";
    if (c == member_counts)
      EXPECT_EQ(counts, 1u) << "the member's count was not relayed at once";
    else
      EXPECT_EQ(counts, 0u) << "the count went before the requester's timeout";
    ASSERT_TRUE(drive([&] {
      read();
      return counts == 1 && std::chrono::steady_clock::now() > seen + 3100ms;
    })) << "no count";
    ack("too late");
    ASSERT_TRUE(read_up_to_a_marker());
    EXPECT_EQ(acks, 1u) << "an ack past the requester's timeout was relayed";
  }
}

// Answers on the shared response channel to requests that are not the bridge's (another member's)
// are dropped unread, as Node's adapter drops them: until 2026-12-07 each was parsed, and one of a
// member with some 80,000 sockets (past kMaxJsonValues) was counted as a bad message on every
// host, as was one cut short. One of the bridge's own still is parsed (the last, counted).
TEST_F(Bridge, AnswersToOtherMembersRequestsAreNotParsed) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  const auto before = bridge_->stats().bad_messages;
  std::string huge = R"({"requestId":"other1","sockets":[)";
  for (std::size_t i = 0; i <= fleet::kMaxJsonValues; ++i) huge += i == 0 ? "0" : ",0";
  huge += "]}";
  pub->command({"PUBLISH", "socket.io-response#/#", huge});
  pub->command({"PUBLISH", "socket.io-response#/#", R"({"requestId":"other2","sockets":[)"});
  pub->command({"PUBLISH", "socket.io-response#/#", "[]"});  // (no request id: parsed, refused)
  ASSERT_TRUE(drive([&] { return bridge_->stats().bad_messages > before; }));
  EXPECT_EQ(bridge_->stats().bad_messages, before + 1) << "another member's answer was parsed";
}

TEST_F(Bridge, MalformedMessagesAreRefusedAndCounted) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));
  pub->command({"PUBLISH", "socket.io#/#", std::string("\xc1\x00", 2)});
  pub->command({"PUBLISH", "socket.io#/#", std::string("\x93\xa1x\x01\x80", 5)});
  pub->command({"PUBLISH", "socket.io-request#/#", "{not json"});
  pub->command({"PUBLISH", "socket.io-request#/#", R"({"type":42,"uid":"x"})"});
  pub->command({"PUBLISH", "socket.io-response#/#", "[]"});
  // (A disconnect without opts nor a socket id: read as every socket before 2026-12-03, it
  // disconnected every client of the host.)
  pub->command({"PUBLISH", "socket.io-request#/#", R"({"type":4,"uid":"x","close":true})"});
  ASSERT_TRUE(drive([&] { return bridge_->stats().bad_messages == 6; }));
  EXPECT_EQ(bridge_->stats().received, 0u);
  EXPECT_EQ(bridge_->stats().requests_in, 0u);
  const std::string text = bridge_->metrics_text();
  EXPECT_NE(text.find("shmio_redis_bad_messages_total{worker=\"bridge\"} 6"), std::string::npos);
}

// Subscriptions Redis refuses (an ACL user without channels) are asked again after
// resubscribe_after: once the ACL allows them, the bridge hears the fleet (before 2026-12-03 a
// refused one was dropped for good). Its lines never show the password.
TEST_F(Bridge, RefusedSubscriptionsAreAskedAgain) {
  RedisServer server(free_port());
  server.start();
  auto admin = client(server.url());
  auto call = [&](std::vector<std::string> args) {
    auto got = std::make_shared<std::optional<redis::Reply>>();
    admin->command(std::move(args), [got](const redis::Reply& r) { *got = r; });
    drive([&] { return got->has_value(); }, 5s);
    return *got ? (*got)->str : std::string("no answer");
  };
  ASSERT_EQ(call({"ACL", "SETUSER", "deaf", "on", ">s3cret", "~*", "resetchannels", "+@all"}),
            "OK");
  ::testing::internal::CaptureStderr();
  start_bridge("redis://deaf:s3cret@" + server.url().substr(8), redis::FleetMode::classic,
               redis::ShardedSubscription::dynamic, 10000, 2s, 300ms);
  ASSERT_TRUE(drive([&] {
    return bridge_->metrics_text().find(
               "shmio_redis_subscriptions_refused_total{worker=\"bridge\"} "
               "0") == std::string::npos &&
           bridge_->metrics_text().find("shmio_redis_subscriptions_refused_total") !=
               std::string::npos;
  }));
  ASSERT_EQ(call({"ACL", "SETUSER", "deaf", "allchannels"}), "OK");
  EXPECT_TRUE(bridge_subscribed(*admin)) << "not subscribed once allowed";
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("refused"), std::string::npos) << said;
  EXPECT_EQ(said.find("s3cret"), std::string::npos) << said;
  EXPECT_NE(said.find("redis://deaf:***@"), std::string::npos) << said;
}

// An ACL user without PUBSUB: the fleet's count is never learnt. A worker's requests then end at
// the request timeout with what came (a serverSideEmit's answers said missing: a count of one,
// that one lost; a broadcast's count sent) — not at once as if no member listened, nor at a
// broadcast's own ack timeout of a minute (its slot of the bound held till then) — and the
// refusal is said once, the password hidden.
TEST_F(Bridge, AFleetCountRefusedEndsRequestsAtTheRequestTimeout) {
  RedisServer server(free_port());
  server.start();
  auto admin = client(server.url());
  std::optional<redis::Reply> set;
  admin->command(
      {"ACL", "SETUSER", "uncounted", "on", ">pw", "~*", "allchannels", "+@all", "-pubsub"},
      [&](const redis::Reply& r) { set = r; });
  ASSERT_TRUE(drive([&] { return set.has_value(); }, 5s));
  ASSERT_EQ(set->str, "OK");
  ::testing::internal::CaptureStderr();
  start_bridge("redis://uncounted:pw@" + server.url().substr(8), redis::FleetMode::classic,
               redis::ShardedSubscription::dynamic, 10000, 1s);
  ASSERT_TRUE(bridge_subscribed(*admin));
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  sio::BroadcastOptions minute;
  minute.flags.timeout_ms = 60000;
  ASSERT_EQ(ask_broadcast_with_acks(*worker, 7, minute), shm::PublishStatus::ok);
  const std::string ask = cluster::write_message(
      {{"nsp", "/"}, {"event", "q"}, {"args", json::array{}}, {"requestId", 9}});
  ASSERT_EQ(worker->publish(static_cast<std::uint16_t>(cluster::MessageType::server_side_emit),
                            {reinterpret_cast<const std::byte*>(ask.data()), ask.size()}),
            shm::PublishStatus::ok);
  std::optional<std::uint64_t> count7, count9;
  bool lost9 = false;
  const bool ended = drive(
      [&] {
        reader->poll([&](const shm::RecordView& v) {
          const auto t = static_cast<cluster::MessageType>(v.type);
          auto m = cluster::read_message(v.payload);
          if (!m || !m->body.contains("requestId")) return;
          const auto rid = m->body.at("requestId").to_number<std::uint64_t>();
          if (t == cluster::MessageType::broadcast_client_count && (rid == 7 || rid == 9))
            (rid == 7 ? count7 : count9) = m->body.at("clientCount").to_number<std::uint64_t>();
          if (t == cluster::MessageType::server_side_emit_response && rid == 9 &&
              m->body.contains("lost"))
            lost9 = true;
        });
        return count7 && count9 && lost9;
      },
      10s);
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ended) << "the broadcast's count within 10 s (its own timeout: 60 s)";
  EXPECT_EQ(*count7, 0u) << "no member answered";
  EXPECT_EQ(*count9, 1u) << "the fleet's answers said missing (one, lost)";
  std::size_t lines = 0;
  for (auto at = said.find("did not count the fleet"); at != std::string::npos;
       at = said.find("did not count the fleet", at + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << said;
  EXPECT_EQ(said.find(":pw@"), std::string::npos) << said;
}

// A worker's request whose PUBLISH Redis refuses (an ACL user without PUBLISH) reached no member:
// the worker is answered at once (a serverSideEmit's answer said lost) and it is counted unsent,
// not sent. Before 2026-12-06 nothing saw the refusal: the worker waited out the request timeout
// (10 s here) and the request was counted published (a helper's review).
TEST_F(Bridge, AWorkersRequestRedisRefusesIsAnsweredAtOnceAndCountedUnsent) {
  RedisServer server(free_port());
  server.start();
  auto admin = client(server.url());
  std::optional<redis::Reply> set;
  admin->command({"ACL", "SETUSER", "mute", "on", ">pw", "~*", "allchannels", "+@all", "-publish"},
                 [&](const redis::Reply& r) { set = r; });
  ASSERT_TRUE(drive([&] { return set.has_value(); }, 5s));
  ASSERT_EQ(set->str, "OK");
  auto member = client(server.url());  // (a member that never answers: counted, so waited for)
  member->subscribe("socket.io-request#/#");
  ::testing::internal::CaptureStderr();
  start_bridge("redis://mute:pw@" + server.url().substr(8), redis::FleetMode::classic,
               redis::ShardedSubscription::dynamic, 10000, 10s);
  const bool both = bridge_subscribed(*admin, false, 2);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  bool answered = false;
  std::chrono::steady_clock::time_point asked;
  if (both && reader && worker) {
    const std::string ask = cluster::write_message(
        {{"nsp", "/"}, {"event", "q"}, {"args", json::array{}}, {"requestId", 9}});
    asked = std::chrono::steady_clock::now();
    ASSERT_EQ(worker->publish(static_cast<std::uint16_t>(cluster::MessageType::server_side_emit),
                              {reinterpret_cast<const std::byte*>(ask.data()), ask.size()}),
              shm::PublishStatus::ok);
    answered = drive(
        [&] {
          bool lost = false;
          reader->poll([&](const shm::RecordView& v) {
            auto m = cluster::read_message(v.payload);
            if (m &&
                v.type ==
                    static_cast<std::uint16_t>(cluster::MessageType::server_side_emit_response) &&
                m->body.contains("requestId") &&
                m->body.at("requestId").to_number<std::uint64_t>() == 9u &&
                m->body.contains("lost"))
              lost = true;
          });
          return lost;
        },
        8s);
  }
  const auto took = std::chrono::steady_clock::now() - asked;
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(both) << "the bridge and the member subscribed";
  ASSERT_TRUE(reader && worker);
  ASSERT_TRUE(answered) << "said lost before the request timeout (10 s)";
  EXPECT_LT(took, 5s);
  EXPECT_EQ(bridge_->stats().requests_out, 0u);
  EXPECT_GE(bridge_->stats().unsent, 1u);
  EXPECT_NE(said.find("a worker's request to the fleet not published"), std::string::npos) << said;
}

// The fleet is counted (PUBSUB NUMSUB of the request channel) less the bridge only where Redis
// counts the bridge: with its subscriber link down (Redis closed it; here killed, and kept from
// coming back by maxclients), a worker's serverSideEmit to a fleet of one member waits for that
// member and says its answer lost at the deadline. (Before 2026-12-04 one was always taken off:
// the request ended at once, with no answer and no error.)
TEST_F(Bridge, WithItsSubscriberLinkDownTheFleetIsCountedWithoutTheBridge) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;  // (its member never answers)
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 1s, f));
  auto call = [&](std::vector<std::string> args) {
    std::optional<redis::Reply> out;
    f.pub->command(std::move(args), [&](const redis::Reply& r) { out = r; });
    EXPECT_TRUE(drive([&] { return out.has_value(); }, 5s));
    return out.value_or(redis::Reply{});
  };
  // The bridge's subscriber: the one connection with a pattern (the member has none).
  const std::string list = call({"CLIENT", "LIST"}).str;
  std::string id;
  std::size_t clients = 0;
  for (std::size_t at = 0; at < list.size();) {
    std::size_t end = list.find('\n', at);
    if (end == std::string::npos) end = list.size();
    const std::string line = list.substr(at, end - at);
    at = end + 1;
    if (line.empty()) continue;
    ++clients;
    if (line.find(" psub=1 ") != std::string::npos) id = line.substr(3, line.find(' ') - 3);
  }
  ASSERT_FALSE(id.empty()) << list;
  ASSERT_EQ(call({"CLIENT", "KILL", "ID", id}).integer, 1);
  ASSERT_EQ(call({"CONFIG", "SET", "maxclients", std::to_string(clients - 1)}).str, "OK");
  ASSERT_TRUE(drive([&] {
    return bridge_->metrics_text().find("shmio_redis_connected{worker=\"bridge\"} 0") !=
           std::string::npos;
  }));
  EmitOutcome got;
  const bool ended = ask_server_side_emit(*f.worker, *f.reader, 9, got);
  EXPECT_EQ(call({"CONFIG", "SET", "maxclients", "10000"}).str, "OK");
  ASSERT_TRUE(ended) << "count " << (got.count ? std::to_string(*got.count) : "none") << ", lost "
                     << got.lost;
  EXPECT_EQ(*got.count, 1u) << "the member's answer, said lost";
}

TEST_F(Bridge, RedisUnreachableCountsWhatWasNotPublished) {
  const std::string dead = "redis://127.0.0.1:" + std::to_string(free_port());
  start_bridge(dead);
  cluster::Emitter em(ring_);
  ASSERT_TRUE(em.of("/").emit("lost", sio::Args{json::value(1)}));
  // The ring is read once Redis answers, or 3 s after the start without it.
  ASSERT_TRUE(drive([&] { return bridge_->stats().unsent >= 1; }, 10s));
  EXPECT_EQ(bridge_->stats().published, 0u);
  // A worker's serverSideEmit with an ack meanwhile: told at once that the fleet's answers are
  // missing (a count of one, that one lost: "operation has timed out" for its callback), not
  // that it had every answer (a count of 0, before 2026-12-03).
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  EmitOutcome got;
  ASSERT_TRUE(ask_server_side_emit(*worker, *reader, 9, got));
  EXPECT_EQ(*got.count, 1u);
  EXPECT_NE(bridge_->metrics_text().find("shmio_redis_connected{worker=\"bridge\"} 0"),
            std::string::npos);
}

TEST_F(Bridge, ShardedBroadcastsBothWays) {
  RedisServer server(free_port());
  server.start();
  auto sub = client(server.url());
  sub->ssubscribe("socket.io#/#");
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::static_);
  // (the bridge and the test's subscriber)
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#") == 2; }));
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  // Out: the ClusterAdapter envelope on the main channel (static mode: rooms too).
  cluster::Emitter em(ring_);
  ASSERT_TRUE(em.of("/").to("r1").emit("news", sio::Args{json::value("x")}));
  ASSERT_TRUE(drive([&] { return !got_.empty(); }));
  EXPECT_EQ(got_[0].kind, "smessage");
  std::string why;
  auto m = fleet::decode_cluster_message(got_[0].payload, &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->type, cluster::MessageType::broadcast);
  EXPECT_EQ(m->uid, "bridgeT");
  // In: another member's broadcast, into the ring.
  fleet::ClusterMessage in;
  in.type = cluster::MessageType::broadcast;
  in.uid = "nodeB";
  in.nsp = "/";
  in.data = json::object{
      {"packet", json::object{{"type", 2}, {"data", json::array{"hi", 1}}, {"nsp", "/"}}},
      {"opts", json::object{{"rooms", json::array{}}, {"except", json::array{}}}}};
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(in)});
  std::string bytes;
  std::optional<cluster::BroadcastView> b;
  // (the first broadcast in the ring is the emitter's own; then the fleet's)
  for (int i = 0; i < 2 && !(b && (b->flags & cluster::kFlagFromFleet) != 0); ++i)
    b = next_broadcast(reader.value(), bytes);
  ASSERT_TRUE(b);
  EXPECT_NE(b->flags & cluster::kFlagFromFleet, 0);
  EXPECT_EQ(b->frame, R"(42["hi",1])");
  // A serverSideEmit answer on the bridge's own response channel (what Node's ClusterAdapter
  // sends), for no request of its own: read and dropped, the bridge reading on (a broadcast after
  // it arrives). (Its packet used to be copied from memory the insertion beside it had just
  // freed: found with valgrind in review. ASan does not see that read — it happens inside
  // libboost_json, which is not instrumented —; `valgrind ./tests/redis_bridge_tests
  // --gtest_filter=*ShardedBroadcastsBothWays*` reports invalid reads without the fix, none
  // with it.)
  // (As JSON text, the envelope Node's ClusterAdapter may send; type 10:
  // SERVER_SIDE_EMIT_RESPONSE.)
  pub->command({"SPUBLISH", "socket.io#/#bridgeT#",
                R"({"type":10,"uid":"nodeB","nsp":"/","data":{"packet":["hello",{"a":[1,2,3]}],)"
                R"("requestId":"zz"}})"});
  const auto before = bridge_->stats().received;
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(in)});
  ASSERT_TRUE(drive([&] { return bridge_->stats().received == before + 1; }));
  // A disconnect without options (the Node adapter fails on one): refused, not "every socket".
  fleet::ClusterMessage d;
  d.type = cluster::MessageType::disconnect_sockets;
  d.uid = "nodeB";
  d.nsp = "/";
  d.data = json::object{{"close", true}};
  const auto bad_before = bridge_->stats().bad_messages;
  const auto requests_before = bridge_->stats().requests_in;
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(d)});
  ASSERT_TRUE(drive([&] { return bridge_->stats().bad_messages == bad_before + 1; }));
  EXPECT_EQ(bridge_->stats().requests_in, requests_before);
  // A join of rooms named by a number and a string (socket.io's rooms are either): both, the
  // number by its decimal string, as the classic path reads it (the number was left out).
  fleet::ClusterMessage j;
  j.type = cluster::MessageType::sockets_join;
  j.uid = "nodeB";
  j.nsp = "/";
  j.data = json::object{{"opts", json::object{{"rooms", json::array{}}, {"except", json::array{}}}},
                        {"rooms", json::array{7, "a"}}};
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(j)});
  std::optional<json::value> joined;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::sockets_join)) return;
      if (auto jm = cluster::read_message(v.payload); jm && jm->body.contains("rooms"))
        joined = jm->body.at("rooms");
    });
    return joined.has_value();
  }));
  EXPECT_EQ(json::serialize(*joined), R"(["7","a"])");
  // A join or leave naming more rooms than a request may (fleet::kMaxRoomsPerRequest, the ring's
  // bound on names): refused and counted, nothing relayed to the workers.
  json::array many;
  for (std::size_t i = 0; i <= fleet::kMaxRoomsPerRequest; ++i) many.emplace_back(i);
  for (auto type : {cluster::MessageType::sockets_join, cluster::MessageType::sockets_leave}) {
    fleet::ClusterMessage big = j;
    big.type = type;
    big.data.as_object()["rooms"] = many;
    const auto bad = bridge_->stats().bad_messages;
    const auto requests = bridge_->stats().requests_in;
    pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(big)});
    ASSERT_TRUE(drive([&] { return bridge_->stats().bad_messages == bad + 1; }));
    EXPECT_EQ(bridge_->stats().requests_in, requests);
  }
}

// A namespace whose name has a glob character (a dynamic namespace a client can create: "/a*")
// is subscribed by a pattern that matches its own channels only: it subscribed to every
// namespace starting "/a" before 2026-12-04, each of their broadcasts then refused and counted as
// a bad message. A broadcast of another namespace on a channel the pattern matches all the same
// ("/" and "/#x") is dropped without being counted, as Node's adapter drops it.
TEST_F(Bridge, ANamespaceNamedWithAGlobCharacterHearsOnlyItsOwnChannels) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url());
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  ASSERT_EQ(say_namespaces(*worker, {"/", "/a*"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return integer_of(*pub, {"PUBSUB", "NUMPAT"}) == 2; }));
  // A broadcast of namespace `nsp` published on `channel`: how many subscribers it reaches (the
  // bridge's patterns among them).
  const auto reached = [&](const std::string& channel, const std::string& nsp) {
    sio::Packet p;
    p.type = sio::PacketType::event;
    p.nsp = nsp;
    p.data = json::array{"hi"};
    return integer_of(*pub, {"PUBLISH", channel, fleet::encode_classic_broadcast("nodeB", p, {})});
  };
  EXPECT_EQ(reached("socket.io#/abc#", "/abc"), 0) << "another namespace's channel";
  EXPECT_EQ(reached("socket.io#/#x#", "/#x"), 1) << "\"/\"'s pattern matches \"/#x\"'s channel";
  EXPECT_EQ(reached("socket.io#/a*#", "/a*"), 1) << "its own";
  // (In order on the bridge's connection: once the last is in, the one before was seen.)
  ASSERT_TRUE(drive([&] { return bridge_->stats().received == 1; }));
  EXPECT_EQ(bridge_->stats().bad_messages, 0u);
}

// A namespace no worker has any more (cleanup_empty_child_namespaces removed it) is unsubscribed:
// dynamic namespaces coming and going do not grow the bridge's subscriptions for good (before
// 2026-12-04 every name a worker ever said stayed subscribed). One that another worker still has
// stays; one said again is subscribed again. Classic channels and sharded ones.
TEST_F(Bridge, ANamespaceNoWorkerHasAnyMoreIsUnsubscribed) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  workers_ = 2;
  for (const bool sharded : {false, true}) {
    SCOPED_TRACE(sharded ? "sharded" : "classic");
    start_bridge(server.url(), sharded ? redis::FleetMode::sharded : redis::FleetMode::classic,
                 redis::ShardedSubscription::static_);
    auto w0 = shm::RingWriter::attach(*segment_, {"worker-0", -1});
    auto w1 = shm::RingWriter::attach(*segment_, {"worker-1", -1});
    ASSERT_TRUE(w0 && w1);
    // Subscribers of /dyn-1's channel (the request channel, or the sharded main one), and the
    // patterns (classic: one per namespace).
    const auto dyn = [&] {
      return sharded ? subscribers(*pub, "SHARDNUMSUB", "socket.io#/dyn-1#")
                     : subscribers(*pub, "NUMSUB", "socket.io-request#/dyn-1#");
    };
    const auto patterns = [&] { return integer_of(*pub, {"PUBSUB", "NUMPAT"}); };
    const auto say = [&](shm::RingWriter& w, int i, json::array nsps) {
      ASSERT_EQ(say_namespaces(w, std::move(nsps), nullptr, i), shm::PublishStatus::ok);
    };
    say(*w0, 0, {"/", "/dyn-1"});
    say(*w1, 1, {"/", "/dyn-1"});
    ASSERT_TRUE(drive([&] { return dyn() == 1; }));
    if (!sharded) {
      EXPECT_EQ(patterns(), 2);
    }
    say(*w0, 0, {"/"});  // (worker 1 still has it)
    say(*w1, 1, {"/", "/dyn-1", "/dyn-2"});
    ASSERT_TRUE(drive([&] {
      return sharded ? subscribers(*pub, "SHARDNUMSUB", "socket.io#/dyn-2#") == 1 : patterns() == 3;
    }));
    EXPECT_EQ(dyn(), 1);
    say(*w1, 1, {"/", "/dyn-2"});
    ASSERT_TRUE(drive([&] { return dyn() == 0; }));
    if (!sharded) {
      EXPECT_EQ(patterns(), 2);
      EXPECT_EQ(subscribers(*pub, "NUMSUB", "socket.io-response#/dyn-1#"), 0);
      EXPECT_EQ(subscribers(*pub, "NUMSUB", "socket.io-response#/dyn-1#bridgeT#"), 0);
      EXPECT_EQ(subscribers(*pub, "NUMSUB", "socket.io-request#/#"), 1);
    } else {
      EXPECT_EQ(subscribers(*pub, "SHARDNUMSUB", "socket.io#/#"), 1);
    }
    say(*w0, 0, {"/", "/dyn-1"});
    ASSERT_TRUE(drive([&] { return dyn() == 1; }));
    bridge_.reset();
    io_.poll();
  }
}

// A worker's names said in parts (more than half a ring record of them) are taken together at
// the last part: the names of every part subscribed, those of none unsubscribed; a part out of
// order (one lost to a lap) is not taken; a worker that left names out ("nsps_incomplete": it
// tells the first of its names in their order) keeps those after the last told. (Before
// 2026-12-06 the names came in one record, past the largest of which none was published.)
TEST_F(Bridge, NamesSaidInPartsAreTakenTogetherAtTheLast) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  workers_ = 2;
  start_bridge(server.url(), redis::FleetMode::classic);
  auto w0 = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  auto w1 = shm::RingWriter::attach(*segment_, {"worker-1", -1});
  ASSERT_TRUE(w0 && w1);
  const auto subscribed = [&](const std::string& nsp) { return request_subscribers(*pub, nsp); };
  const auto say_part = [&](json::array nsps, std::uint64_t part, std::uint64_t parts) {
    ASSERT_EQ(say_names_part(*w0, std::move(nsps), part, parts), shm::PublishStatus::ok);
  };
  ASSERT_EQ(say_namespaces(*w0, {"/", "/old"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("/old") == 1; }));
  say_part({"/", "/a"}, 0, 3);
  say_part({"/b"}, 1, 3);
  say_part({"/c"}, 2, 3);
  ASSERT_TRUE(drive([&] { return subscribed("/a") == 1 && subscribed("/c") == 1; }));
  EXPECT_EQ(subscribed("/b"), 1);
  ASSERT_TRUE(drive([&] { return subscribed("/old") == 0; })) << "said in no part";
  // A part out of order (its part 0 lost) takes nothing: the parts after it neither, until a
  // part 0 starts again.
  say_part({"/x"}, 1, 2);
  say_part({"/", "/a", "/b", "/c", "/d"}, 0, 2);
  say_part({"/e"}, 1, 2);
  ASSERT_TRUE(drive([&] { return subscribed("/d") == 1 && subscribed("/e") == 1; }));
  EXPECT_EQ(subscribed("/x"), 0);
  EXPECT_EQ(subscribed("/a"), 1);
  // Names left out (over the worker's bound: "nsps_incomplete", in two parts here): the worker
  // told the first of its names in their order, so those it held after the last told ("/d",
  // "/e") are kept, and those before it not told ("/a") let go. (Worker 1's announcement after
  // it: the bridge has read that far.)
  say_part({"/", "/b"}, 0, 2);
  json::object partial{{"worker", 0},
                       {"nsps", json::array{"/c"}},
                       {"part", 1},
                       {"parts", 2},
                       {"nsps_incomplete", true}};
  ASSERT_EQ(put(*w0, cluster::MessageType::namespaces, partial), shm::PublishStatus::ok);
  ASSERT_EQ(say_namespaces(*w1, {"/", "/one"}, nullptr, 1), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("/one") == 1 && subscribed("/a") == 0; }));
  EXPECT_EQ(subscribed("/b"), 1);
  EXPECT_EQ(subscribed("/c"), 1);
  EXPECT_EQ(subscribed("/d"), 1);
  EXPECT_EQ(subscribed("/e"), 1);
  // A complete announcement then lets go of the rest.
  ASSERT_EQ(say_namespaces(*w0, {"/", "/c"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("/b") == 0 && subscribed("/e") == 0; }));
  EXPECT_EQ(subscribed("/c"), 1);
}

// A worker that dies in the middle of an announcement in parts leaves nothing gathered: its
// successor's parts start again (before 2026-12-06 the successor's part 1 continued the dead
// one's part 0, and the names of both were taken; a review). Worker 1's announcement after it
// shows the bridge has read that far.
TEST_F(Bridge, AWorkersDeathDropsWhatItSaidInPartsUnfinished) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  workers_ = 2;
  start_bridge(server.url(), redis::FleetMode::classic);
  auto w0 = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  auto w1 = shm::RingWriter::attach(*segment_, {"worker-1", -1});
  auto supervisor = shm::RingWriter::attach(*segment_, {"supervisor", -1});
  ASSERT_TRUE(w0 && w1 && supervisor);
  const auto subscribed = [&](const std::string& nsp) { return request_subscribers(*pub, nsp); };
  const auto part = [&](json::array nsps, std::uint64_t i) {
    ASSERT_EQ(say_names_part(*w0, std::move(nsps), i, 2), shm::PublishStatus::ok);
  };
  part({"/", "/dead"}, 0);
  // (Its pid the writer's, this process's: the parts begun by that process are dropped.)
  ASSERT_EQ(
      put(*supervisor, cluster::MessageType::worker_down, {{"pid", ::getpid()}, {"worker", 0}}),
      shm::PublishStatus::ok);
  part({"/successor"}, 1);  // (its part 0 lost: nothing to continue)
  ASSERT_EQ(say_namespaces(*w1, {"/", "/one"}, nullptr, 1), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("/one") == 1; }));
  EXPECT_EQ(subscribed("/dead"), 0);
  EXPECT_EQ(subscribed("/successor"), 0);
}

// A namespace said without a worker index the bridge knows (an older writer) stays subscribed
// whatever the workers say later; one no worker has while the bridge still waits for the fleet's
// answers to a request in it (on its response channels) is unsubscribed once the request ends,
// not before (found in review, 2026-12-04: its answers went unheard).
TEST_F(Bridge, ANamespaceIsKeptWhileUnknownWritersOrRequestsNeedIt) {
  RedisServer server(free_port());
  server.start();
  OneMemberFleet f;
  ASSERT_NO_FATAL_FAILURE(fleet_of_one_member(server, 20s, f));
  auto silent = client(server.url());  // (a member of /dyn-9 that never answers)
  silent->subscribe("socket.io-request#/dyn-9#");
  // No worker index: pinned.
  const std::string said = cluster::write_message({{"nsps", json::array{"/", "/old"}}});
  ASSERT_EQ(f.worker->publish(static_cast<std::uint16_t>(cluster::MessageType::namespaces),
                              {reinterpret_cast<const std::byte*>(said.data()), said.size()}),
            shm::PublishStatus::ok);
  ASSERT_EQ(say_namespaces(*f.worker, {"/", "/old", "/dyn-9"}), shm::PublishStatus::ok);
  ASSERT_TRUE(
      drive([&] { return subscribers(*f.pub, "NUMSUB", "socket.io-request#/dyn-9#") == 2; }));
  // A fetch in /dyn-9 for 1.5 s, the silent member counted: the bridge waits on its channels.
  sio::BroadcastOptions opts;
  opts.flags.timeout_ms = 1500;
  const std::string ask = cluster::write_message(
      {{"requestId", 91}, {"nsp", "/dyn-9"}, {"opts", cluster::options_to_json(opts)}});
  ASSERT_EQ(f.worker->publish(static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets),
                              {reinterpret_cast<const std::byte*>(ask.data()), ask.size()}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    for (const auto& m : got_)
      if (m.channel == "socket.io-request#/dyn-9#") return true;
    return false;
  })) << "the request relayed to the fleet";
  ASSERT_EQ(say_namespaces(*f.worker, {"/"}), shm::PublishStatus::ok);
  bool answered = false;
  const auto read = [&] {
    f.reader->poll([&](const shm::RecordView& v) {
      if (v.type == static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        answered = true;
    });
  };
  // Until the answer: still subscribed to its own response channel.
  while (!answered) {
    read();
    if (!answered) {
      ASSERT_EQ(subscribers(*f.pub, "NUMSUB", "socket.io-response#/dyn-9#bridgeT#"), 1);
    }
  }
  ASSERT_TRUE(drive(
      [&] { return subscribers(*f.pub, "NUMSUB", "socket.io-response#/dyn-9#bridgeT#") == 0; }));
  EXPECT_EQ(subscribers(*f.pub, "NUMSUB", "socket.io-request#/dyn-9#"), 1);  // (the member)
  EXPECT_EQ(subscribers(*f.pub, "NUMSUB", "socket.io-request#/old#"), 1) << "pinned";
}

// A sharded Node member's broadcast in a namespace other than "/": its packet has no nsp (Node's
// ClusterAdapter publishes it before socket.io's adapter sets one; receivers read the
// envelope's). It reaches the ring in the envelope's namespace (one with acks takes the same
// path). (Before 2026-12-03 it was read as "/" and refused: nothing outside "/" came in.)
TEST_F(Bridge, ShardedBroadcastsInOtherNamespacesComeIn) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::static_);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  // Worker 0 has "/" and "/chat": the bridge subscribes to both namespaces' channels.
  ASSERT_EQ(say_namespaces(*worker, {"/", "/chat"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "SHARDNUMSUB", "socket.io#/chat#") == 1; }));
  fleet::ClusterMessage in;
  in.type = cluster::MessageType::broadcast;
  in.uid = "nodeB";
  in.nsp = "/chat";
  in.data =
      json::object{{"packet", json::object{{"type", 2}, {"data", json::array{"hi", 1}}}},
                   {"opts", json::object{{"rooms", json::array{}}, {"except", json::array{}}}}};
  pub->command({"SPUBLISH", "socket.io#/chat#", fleet::encode_cluster_message(in)});
  std::string bytes;
  std::optional<cluster::BroadcastView> b;
  for (int i = 0; i < 4 && !(b && (b->flags & cluster::kFlagFromFleet) != 0); ++i)
    b = next_broadcast(reader.value(), bytes);
  ASSERT_TRUE(b) << "bad messages: " << bridge_->stats().bad_messages;
  EXPECT_NE(b->flags & cluster::kFlagFromFleet, 0);
  EXPECT_EQ(b->nsp, "/chat");
  EXPECT_EQ(b->frame, R"(42/chat,["hi",1])");
  EXPECT_EQ(bridge_->stats().bad_messages, 0u);
}

// A sharded member's answer to fetchSockets with binary in a socket's data (MessagePack, as the
// Node adapter sends it then): the worker gets the bytes as a classic member's JSON carries
// them, {"type":"Buffer","data":[...]}, not the placeholders (before 2026-12-03).
TEST_F(Bridge, AShardedFetchAnswersBinaryDataAsBuffers) {
  RedisServer server(free_port());
  server.start();
  ShardedFetch f;
  ASSERT_NO_FATAL_FAILURE(ask_sharded_fetch(server, 78, f));
  auto& pub = f.pub;
  auto& reader = f.reader;
  auto& asked = f.asked;
  fleet::ClusterMessage answer;
  answer.type = cluster::MessageType::fetch_sockets_response;
  answer.uid = "nodeB";
  answer.nsp = "/";
  answer.data = json::object{
      {"requestId", asked->data.as_object().at("requestId")},
      {"sockets",
       json::array{json::object{
           {"id", "s1"},
           {"handshake", json::object{}},
           {"rooms", json::array{"s1"}},
           {"data", json::object{{"avatar", json::object{{"_placeholder", true}, {"num", 0}}}}}}}}};
  answer.attachments.push_back(std::make_shared<const std::string>(std::string("\x01\x02\xFF", 3)));
  pub->command({"SPUBLISH", "socket.io#/#bridgeT#", fleet::encode_cluster_message(answer)});
  std::optional<json::value> data;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      const auto& sockets = m->body.at("sockets").as_array();
      if (!sockets.empty()) data = sockets[0].as_object().at("data");
    });
    return data.has_value();
  }));
  EXPECT_EQ(json::serialize(*data), R"({"avatar":{"type":"Buffer","data":[1,2,255]}})");
}

// The same as Bridge.AnUnreadableFetchAnswerStillCountsAsTheMembersAnswer in sharded mode: a
// member's answer past kMaxJsonValues on the bridge's own response channel is said, and counted
// as that member's answer, so the worker's fetch ends at once with what could be read (before
// 2026-12-07 only the classic bridge counted it: the worker waited for the 10 s deadline).
TEST_F(Bridge, AnUnreadableShardedFetchAnswerStillCountsAsTheMembersAnswer) {
  RedisServer server(free_port());
  server.start();
  ShardedFetch f;
  ASSERT_NO_FATAL_FAILURE(ask_sharded_fetch(server, 83, f));
  const std::string id(f.asked->data.as_object().at("requestId").as_string());
  const std::string answer =
      R"({"type":)" +
      std::to_string(static_cast<int>(cluster::MessageType::fetch_sockets_response)) +
      R"(,"data":{"requestId":")" + id + R"(","sockets":[)" + too_many_zeros() +
      R"(]},"uid":"nodeB","nsp":"/"})";
  const auto sent = std::chrono::steady_clock::now();
  f.pub->command({"SPUBLISH", "socket.io#/#bridgeT#", answer});
  ASSERT_TRUE(fetch_answered(*f.reader, 83));
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_LT(took, 6s) << "the answer waited for the bridge's 10 s deadline";
  EXPECT_GE(bridge_->stats().bad_messages, 1u);
  EXPECT_EQ(bridge_->stats().request_timeouts, 0u);
}

// A fleet member's fetchSockets answer is bounded before its binary data is expanded into Node's
// Buffers (a JSON value a byte): a socket whose Buffers would not fit a part of the answer — here
// one 16 KiB attachment named 200 times, 3.2 MB of Buffers, about 50 MB of JSON values — is left
// out at once, said and counted as a bad message, and the others are answered (before 2026-12-05
// it was expanded first, then left out: a few such references in one answer made the bridge hold
// gigabytes; found by a review).
TEST_F(Bridge, AFetchAnswersBuffersAreBoundedBeforeTheyAreExpanded) {
  RedisServer server(free_port());
  server.start();
  ShardedFetch f;
  ASSERT_NO_FATAL_FAILURE(ask_sharded_fetch(server, 79, f));
  auto& pub = f.pub;
  auto& reader = f.reader;
  auto& asked = f.asked;
  const auto socket = [](const std::string& id, json::value data) {
    return json::object{{"id", id},
                        {"handshake", json::object{}},
                        {"rooms", json::array{id}},
                        {"data", std::move(data)}};
  };
  const json::object small{{"_placeholder", true}, {"num", 0}};
  json::array many;
  for (int i = 0; i < 200; ++i) many.push_back(json::object{{"_placeholder", true}, {"num", 1}});
  fleet::ClusterMessage answer;
  answer.type = cluster::MessageType::fetch_sockets_response;
  answer.uid = "nodeB";
  answer.nsp = "/";
  answer.data = json::object{
      {"requestId", asked->data.as_object().at("requestId")},
      {"sockets", json::array{socket("s1", small), socket("s2", many), socket("s3", small)}}};
  answer.attachments.push_back(std::make_shared<const std::string>(std::string("\x01\x02", 2)));
  answer.attachments.push_back(std::make_shared<const std::string>(std::string(16 << 10, 'x')));
  const auto bad_before = bridge_->stats().bad_messages;
  ::testing::internal::CaptureStderr();
  pub->command({"SPUBLISH", "socket.io#/#bridgeT#", fleet::encode_cluster_message(answer)});
  std::vector<std::string> ids;
  bool answered = false;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      if (v.type != static_cast<std::uint16_t>(cluster::MessageType::fetch_sockets_response))
        return;
      auto m = cluster::read_message(v.payload);
      ASSERT_TRUE(m);
      for (const auto& s : m->body.at("sockets").as_array())
        ids.emplace_back(s.as_object().at("id").as_string());
      answered = true;
    });
    return answered;
  }));
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ids, (std::vector<std::string>{"s1", "s3"}));
  EXPECT_EQ(bridge_->stats().bad_messages, bad_before + 1);
  EXPECT_NE(said.find("1 of a fleet member's sockets left out"), std::string::npos) << said;
}

// A worker saying its rooms again (every worker does when one starts) keeps the subscriptions of
// the rooms it still has: only those it no longer has are dropped (before 2026-12-03 each was
// dropped and made again, a window where a member's broadcast to the room reached no one here).
// Counted by Redis itself (INFO commandstats).
TEST_F(Bridge, RoomsSaidAgainKeepTheirSubscriptions) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::dynamic);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto say = [&](json::array rooms) {
    return say_namespaces(*worker, {"/"}, json::object{{"/", std::move(rooms)}});
  };
  auto subscribed = [&](const std::string& room) {
    return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#" + room + "#");
  };
  auto calls = [&](const std::string& command) {
    auto n = std::make_shared<std::optional<long long>>();
    pub->command({"INFO", "commandstats"}, [n, command](const redis::Reply& r) {
      const std::string key = "cmdstat_" + command + ":calls=";
      const std::size_t at = r.str.find(key);
      *n = at == std::string::npos ? 0 : std::stoll(r.str.substr(at + key.size()));
    });
    drive([&] { return n->has_value(); }, 2s);
    return n->value_or(-1);
  };
  ASSERT_EQ(say({"a", "b"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("a") == 1 && subscribed("b") == 1; }));
  ASSERT_EQ(say({"a", "b", "c"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("c") == 1; }));
  EXPECT_EQ(calls("sunsubscribe"), 0) << "a room still held was dropped and made again";
  ASSERT_EQ(say({"a"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("b") == 0 && subscribed("c") == 0; }));
  EXPECT_EQ(subscribed("a"), 1);
  // A room named as the bridge's uid has the channel of the bridge's own responses; its end
  // leaves that channel subscribed (before 2026-12-05 it was unsubscribed, and the bridge heard
  // no member's answer to its workers' requests until it restarted; found by a review).
  ASSERT_EQ(subscribed("bridgeT"), 1) << "its response channel";
  ASSERT_EQ(say({"a", "bridgeT"}), shm::PublishStatus::ok);
  ASSERT_EQ(say({}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("a") == 0; }));
  EXPECT_EQ(subscribed("bridgeT"), 1) << "the bridge's response channel was unsubscribed";
}

// Sharded, dynamic: room "b" of "/" and the namespace "/#b" share a channel, `socket.io#/#b#`
// (as in Node). A member's broadcast of either namespace on it comes in, and the end of one leaves
// the channel to the other (before 2026-12-06 one route per channel: the later holder's alone,
// the other's broadcasts refused as "another namespace", and the namespace's end unsubscribed the
// room's channel; a review).
TEST_F(Bridge, ARoomAndANamespaceOfOneChannelEachGetTheirBroadcasts) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::dynamic);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  const std::string shared = "socket.io#/#b#";
  ASSERT_EQ(say_namespaces(*worker, {"/", "/#b"}, json::object{{"/", json::array{"b"}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] {
    return subscribers(*pub, "SHARDNUMSUB", shared) == 1 &&
           subscribers(*pub, "SHARDNUMSUB", "socket.io#/#b#bridgeT#") == 1;
  }));
  auto broadcast_of = [](const std::string& nsp, const std::string& word) {
    fleet::ClusterMessage in;
    in.type = cluster::MessageType::broadcast;
    in.uid = "nodeB";
    in.nsp = nsp;
    in.data = json::object{
        {"packet", json::object{{"type", 2}, {"data", json::array{word}}, {"nsp", nsp}}},
        {"opts", json::object{{"rooms", nsp == "/" ? json::array{"b"} : json::array{}},
                              {"except", json::array{}}}}};
    return fleet::encode_cluster_message(in);
  };
  auto comes_in = [&](const std::string& nsp, const std::string& word) {
    pub->command({"SPUBLISH", shared, broadcast_of(nsp, word)});
    std::string bytes;
    auto b = next_broadcast(*reader, bytes);
    return b && std::string(b->nsp) == nsp && b->frame.find(word) != std::string_view::npos;
  };
  EXPECT_TRUE(comes_in("/", "to-the-room"));
  EXPECT_TRUE(comes_in("/#b", "to-the-namespace"));
  // The namespace goes (no worker has it): its own response channel is let go, the shared one
  // kept for the room.
  ASSERT_EQ(say_namespaces(*worker, {"/"}, json::object{{"/", json::array{"b"}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(
      drive([&] { return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#b#bridgeT#") == 0; }));
  EXPECT_EQ(subscribers(*pub, "SHARDNUMSUB", shared), 1) << "the room's channel let go";
  EXPECT_TRUE(comes_in("/", "still-to-the-room"));
  // The room goes too: the channel is let go.
  ASSERT_EQ(say_namespaces(*worker, {"/"}, json::object{{"/", json::array{}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "SHARDNUMSUB", shared) == 0; }));
}

// Sharded, dynamic: a worker's announcement of a namespace made says "telling" instead of its
// rooms (it says each as it changes): the bridge keeps their channels and asks nothing. A bridge
// lapped by the ring (a ROOM_CHANGED may be lost) asks every worker for its rooms again.
TEST_F(Bridge, RoomsAreKeptThroughANamespaceMadeAndAskedAgainAfterALap) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::dynamic);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  auto subscribed = [&](const std::string& channel) {
    return subscribers(*pub, "SHARDNUMSUB", channel);
  };
  // The NAMESPACES_REQUESTs the bridge wrote since the last look.
  auto asks = [&] {
    int n = 0;
    reader->poll([&](const shm::RecordView& v) {
      n += v.type == static_cast<std::uint16_t>(cluster::MessageType::namespaces_request);
    });
    return n;
  };
  ASSERT_EQ(say_namespaces(*worker, {"/"}, json::object{{"/", json::array{"a"}}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("socket.io#/#a#") == 1; }));
  (void)asks();
  ASSERT_EQ(say_namespaces(*worker, {"/", "/t"}, nullptr, 0, /*telling=*/true),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("socket.io#/t#") == 1; }));
  EXPECT_EQ(subscribed("socket.io#/#a#"), 1) << "a room's channel dropped";
  EXPECT_EQ(asks(), 0) << "a worker that tells its rooms was asked for them";
  // Lapped: more than the ring (1 MiB) written while the bridge does not run.
  ASSERT_NO_FATAL_FAILURE(lap_the_ring(*worker));
  int asked = 0;
  ASSERT_TRUE(drive([&] {
    asked += asks();
    return asked >= 1;
  })) << "not asked again after a lap";
}

// A worker's rooms said in parts (AWorkersManyRoomsAreToldInParts in cluster_adapter_tests): the
// bridge takes them together once the last part has come, so that a room said again in a later
// part keeps its channel and one in no part loses it only then.
TEST_F(Bridge, RoomsSaidInPartsAreTakenTogether) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::dynamic);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto subscribed = [&](const std::string& room) {
    return subscribers(*pub, "SHARDNUMSUB", "socket.io#/#" + room + "#");
  };
  auto part = [&](std::uint64_t i, std::uint64_t n, json::array rooms) {
    json::object body{
        {"worker", 0}, {"rooms", json::object{{"/", std::move(rooms)}}}, {"part", i}, {"parts", n}};
    if (i == 0) body["nsps"] = json::array{"/"};
    return put(*worker, cluster::MessageType::namespaces, body);
  };
  ASSERT_EQ(part(0, 2, {"a"}), shm::PublishStatus::ok);
  ASSERT_EQ(part(1, 2, {"b"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("a") == 1 && subscribed("b") == 1; }));
  // Said again: "b" and "d" first, then "c"; "a" in neither. (Each part taken alone, as a whole
  // list, the last would drop "b" and "d".)
  ASSERT_EQ(part(0, 2, {"b", "d"}), shm::PublishStatus::ok);
  ASSERT_EQ(part(1, 2, {"c"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("c") == 1 && subscribed("a") == 0; }));
  EXPECT_EQ(subscribed("b"), 1);
  EXPECT_EQ(subscribed("d"), 1);
  // A part out of order (the one before it lost) drops what was gathered: nothing changes. (A
  // room made after them, said as it is made, shows they were read.)
  ASSERT_EQ(part(0, 3, {"e"}), shm::PublishStatus::ok);
  ASSERT_EQ(part(2, 3, {"f"}), shm::PublishStatus::ok);
  ASSERT_EQ(put(*worker, cluster::MessageType::room_changed,
                {{"worker", 0}, {"nsp", "/"}, {"room", "g"}, {"created", true}}),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("g") == 1; }));
  EXPECT_EQ(subscribed("e"), 0);
  EXPECT_EQ(subscribed("f"), 0);
  for (const char* kept : {"b", "c", "d"}) EXPECT_EQ(subscribed(kept), 1) << kept;
  // Rooms said with "incomplete" (the worker's were over its bound): added, nothing let go.
  json::object last{{"worker", 0},
                    {"nsps", json::array{"/"}},
                    {"rooms", json::object{{"/", json::array{"h"}}}},
                    {"incomplete", true}};
  ASSERT_EQ(put(*worker, cluster::MessageType::namespaces, last), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribed("h") == 1; }));
  for (const char* kept : {"b", "c", "d", "g"}) EXPECT_EQ(subscribed(kept), 1) << kept;
}

// Classic mode too: a namespace a worker made while the bridge was lapped (its announcement
// lost) is subscribed once the bridge, lapped, asks the workers again (before 2026-12-04 only the
// sharded dynamic modes asked: the namespace's channels stayed missing until that worker next
// made or removed a namespace or restarted).
TEST_F(Bridge, ANamespaceAnnouncedDuringALapIsLearnedInClassicMode) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::classic);
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  ASSERT_EQ(say_namespaces(*worker, {"/"}), shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-request#/#") == 1; }));
  // "/t" announced, then more than the ring (1 MiB) written, while the bridge does not run.
  ASSERT_EQ(say_namespaces(*worker, {"/", "/t"}, nullptr, 0, /*telling=*/true),
            shm::PublishStatus::ok);
  ASSERT_NO_FATAL_FAILURE(lap_the_ring(*worker));
  bool asked = false;
  ASSERT_TRUE(drive([&] {
    reader->poll([&](const shm::RecordView& v) {
      asked |= v.type == static_cast<std::uint16_t>(cluster::MessageType::namespaces_request);
    });
    return asked;
  })) << "not asked again after a lap";
  // The worker answers as Node::Impl does: its namespaces again.
  ASSERT_EQ(say_namespaces(*worker, {"/", "/t"}, nullptr, 0, /*telling=*/true),
            shm::PublishStatus::ok);
  ASSERT_TRUE(drive([&] { return subscribers(*pub, "NUMSUB", "socket.io-request#/t#") == 1; }));
}

TEST_F(Bridge, ShardedSubscriptionsComeBackAfterRedisRestarts) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  start_bridge(server.url(), redis::FleetMode::sharded, redis::ShardedSubscription::static_);
  ASSERT_TRUE(bridge_subscribed(*pub, true));
  // Redis dies and comes back on the same port: the bridge reconnects and subscribes again
  // by itself (SSUBSCRIBE, like every subscription).
  server.stop();
  ASSERT_TRUE(drive([&] { return !pub->connected(); }));
  server.start();
  ASSERT_TRUE(bridge_subscribed(*pub, true)) << "the bridge's SSUBSCRIBE after the restart";
  auto reader = shm::RingReader::attach(*segment_, {"test", -1, shm::StartAt::latest});
  ASSERT_TRUE(reader);
  fleet::ClusterMessage in;
  in.type = cluster::MessageType::broadcast;
  in.uid = "nodeB";
  in.nsp = "/";
  in.data = json::object{
      {"packet", json::object{{"type", 2}, {"data", json::array{"back", 1}}, {"nsp", "/"}}},
      {"opts", json::object{{"rooms", json::array{}}, {"except", json::array{}}}}};
  pub->command({"SPUBLISH", "socket.io#/#", fleet::encode_cluster_message(in)});
  std::string bytes;
  auto b = next_broadcast(reader.value(), bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->frame, R"(42["back",1])");
  EXPECT_GE(bridge_->stats().received, 1u);
}

// A Bridge destroyed by a handler (the io_context going on) while its own waits have ended in
// the same turn, its tick due and the rings' notifier readable: their handlers run after it with
// no error code (stop()'s cancel is too late for a handler already queued) and must not touch
// it. Before 2026-12-05 they read the freed Bridge (ASan: heap-use-after-free in arm_tick's
// handler, seen once in .ci/run after a bridge_.reset() in a test). The ASan build's run of this
// test tells it; the others' run it for a crash.
TEST_F(Bridge, ItsHandlersDueWhenItIsDestroyedDoNothing) {
  RedisServer server(free_port());
  server.start();
  auto pub = client(server.url());
  auto worker = shm::RingWriter::attach(*segment_, {"worker-0", -1});
  ASSERT_TRUE(worker);
  start_bridge(server.url());
  ASSERT_TRUE(bridge_subscribed(*pub));  // (connected: it reads the rings)
  ASSERT_EQ(say_namespaces(*worker, json::array{"/"}), shm::PublishStatus::ok);
  // No turn runs meanwhile: its 100 ms tick's deadline passes and the notifier's thread makes
  // its descriptor readable (the sleep is the condition staged, not a wait for another thread's
  // step: nothing is read until the io_context runs again).
  std::this_thread::sleep_for(250ms);
  bool destroyed = false;
  boost::asio::post(io_, [&] {
    bridge_.reset();
    destroyed = true;
  });
  // The post is queued before the reactor's next look: the handlers it finds ready come after.
  ASSERT_TRUE(drive([&] { return destroyed; }));
  io_.run_for(300ms);  // (what was queued behind it runs)
}
