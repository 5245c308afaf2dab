// The Engine.IO session state machine with a fake clock: heartbeats, upgrade, queue bound, closes.
#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "shmio/engineio/server.hpp"
#include "shmio/engineio/session.hpp"

namespace shmio::engineio {
namespace {

using namespace std::chrono_literals;

struct Fixture : ::testing::Test {
  TimePoint t0 = TimePoint{} + 1h;
  SessionOptions opts = [] {
    SessionOptions o;
    o.ping_interval = 300ms;  // the protocol test suite's configuration
    o.ping_timeout = 200ms;
    o.upgrade_timeout = 1000ms;
    o.max_queued_packets = 8;
    return o;
  }();
};

using EngineIoSession = Fixture;

TEST_F(EngineIoSession, HandshakeAdvertisesTheConfiguration) {
  Session polling("abc", TransportKind::polling, opts, t0);
  EXPECT_EQ(
      polling.handshake(),
      R"({"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})");
  Session ws("abc", TransportKind::websocket, opts, t0);
  EXPECT_EQ(
      ws.handshake(),
      R"({"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})");
}

TEST_F(EngineIoSession, ServerPingsEveryIntervalAndClosesWithoutPong) {
  Session s("a", TransportKind::websocket, opts, t0);
  EXPECT_EQ(s.next_deadline(), t0 + 300ms);
  s.on_timer(t0 + 299ms);
  EXPECT_FALSE(s.has_output());
  s.on_timer(t0 + 300ms);
  auto out = s.take_websocket_packets();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, PacketType::ping);
  EXPECT_EQ(s.next_deadline(), t0 + 500ms) << "the pong is due ping_timeout after the ping";
  s.receive(TransportKind::websocket, Packet::text(PacketType::pong), t0 + 450ms);
  EXPECT_EQ(s.next_deadline(), t0 + 750ms) << "next ping ping_interval after the pong";
  s.on_timer(t0 + 750ms);
  ASSERT_EQ(s.take_websocket_packets().size(), 1u);
  s.on_timer(t0 + 949ms);
  EXPECT_FALSE(s.closed());
  s.on_timer(t0 + 950ms);
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.close_reason(), CloseReason::ping_timeout);
  EXPECT_STREQ(to_string(s.close_reason()), "ping timeout");
  EXPECT_EQ(s.send(Packet::text(PacketType::message, "late")), Session::SendResult::closed);
}

TEST_F(EngineIoSession, MessagesComeOutInOrderAndCloseFromClientIsTransportClose) {
  Session s("a", TransportKind::polling, opts, t0);
  s.receive(TransportKind::polling, Packet::text(PacketType::message, "one"), t0);
  s.receive(TransportKind::polling, Packet::bytes("\x01"), t0);
  auto m = s.take_messages();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].data, "one");
  EXPECT_TRUE(m[1].binary);
  s.receive(TransportKind::polling, Packet::text(PacketType::close), t0);
  EXPECT_EQ(s.close_reason(), CloseReason::transport_close);
}

TEST_F(EngineIoSession, PollingPayloadsRespectTheSizeBoundButAlwaysCarryOnePacket) {
  Session s("a", TransportKind::polling, opts, t0);
  EXPECT_EQ(s.take_polling_payload(100), "") << "nothing queued: the GET is held";
  s.send(Packet::text(PacketType::message, std::string(60, 'x')));
  s.send(Packet::text(PacketType::message, std::string(60, 'y')));
  s.send(Packet::bytes("\x01\x02\x03"));
  const std::string first = s.take_polling_payload(100);
  EXPECT_EQ(first, "4" + std::string(60, 'x'));
  const std::string rest = s.take_polling_payload(1000);
  EXPECT_EQ(rest, "4" + std::string(60, 'y') + "\x1e" + "bAQID");
  Session big("b", TransportKind::polling, opts, t0);
  big.send(Packet::text(PacketType::message, std::string(500, 'z')));
  EXPECT_EQ(big.take_polling_payload(100).size(), 501u)
      << "a packet larger than the bound still goes";
}

TEST_F(EngineIoSession, AClientThatStopsReadingIsClosedAtTheQueueBound) {
  Session s("a", TransportKind::websocket, opts, t0);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(s.send(Packet::text(PacketType::message, "m")), Session::SendResult::queued);
  EXPECT_EQ(s.send(Packet::text(PacketType::message, "m")), Session::SendResult::overflow);
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.close_reason(), CloseReason::transport_error);
  EXPECT_FALSE(s.has_output()) << "a closed session holds no memory for the client";
}

TEST_F(EngineIoSession, UpgradeProbeNoopThenSwitch) {
  Session s("a", TransportKind::polling, opts, t0);
  s.send(Packet::text(PacketType::message, "before"));
  ASSERT_TRUE(s.begin_probe(t0));
  EXPECT_FALSE(s.begin_probe(t0)) << "one probe at a time";
  s.receive(TransportKind::websocket, Packet::text(PacketType::ping, "probe"), t0);
  auto probe = s.take_probe_packets();
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(encode_text(probe[0]), "3probe");
  EXPECT_TRUE(s.polling_needs_noop()) << "the pending GET must be released";
  s.noop_sent(t0);
  // The next noop after 100 ms, as the reference's check (not at once: a client polling on
  // without "3probe" spun in a loop of GETs answered "6").
  EXPECT_FALSE(s.polling_needs_noop());
  EXPECT_LE(s.next_deadline(), t0 + 100ms);
  s.on_timer(t0 + 99ms);
  EXPECT_FALSE(s.polling_needs_noop());
  s.on_timer(t0 + 100ms);
  EXPECT_TRUE(s.polling_needs_noop()) << "a GET held now is released";
  s.noop_sent(t0 + 100ms);
  // A repeated probe is answered again (the reference answers each), and the probe goes on; it
  // does not make a noop due before the interval is up (each one did before 2026-12-07).
  s.receive(TransportKind::websocket, Packet::text(PacketType::ping, "probe"), t0 + 105ms);
  probe = s.take_probe_packets();
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(encode_text(probe[0]), "3probe");
  EXPECT_TRUE(s.upgrading());
  EXPECT_FALSE(s.polling_needs_noop()) << "a repeated probe made a noop due within the interval";
  s.on_timer(t0 + 200ms);
  EXPECT_TRUE(s.polling_needs_noop()) << "the next at its interval";
  s.receive(TransportKind::websocket, Packet::text(PacketType::upgrade), t0 + 210ms);
  EXPECT_EQ(s.transport(), TransportKind::websocket);
  EXPECT_FALSE(s.upgrading());
  auto out = s.take_websocket_packets();
  ASSERT_EQ(out.size(), 1u) << "what was queued is flushed on the new transport";
  EXPECT_EQ(out[0].data, "before");
  // The old transport is ignored from now on.
  s.receive(TransportKind::polling, Packet::text(PacketType::message, "stale"), t0 + 20ms);
  EXPECT_TRUE(s.take_messages().empty());
  EXPECT_FALSE(s.begin_probe(t0)) << "no second upgrade";
  s.transport_closed(TransportKind::polling, false);
  EXPECT_FALSE(s.closed()) << "the discarded polling transport does not close the session";
}

// b64 on the WebSocket (engine.io-client's forceBase64): a binary message's frames go out as text
// frames "b" + base64, its text header as it is, all of it or none; a session whose b64 probe was
// abandoned and whose next probe asked nothing sends binary again. (The queue's bytes are the
// polling form's, which is the same for both.)
TEST_F(EngineIoSession, AWebSocketThatAskedBase64GetsBinaryAsBase64Text) {
  Session ws("a", TransportKind::websocket, opts, t0);
  ws.set_websocket_base64(true);
  const FrameRef head =
      Frame::make(Frame::Kind::text, "451-[\"x\",{\"_placeholder\":true,\"num\":0}]");
  const FrameRef bytes = Frame::make(Frame::Kind::binary, std::string("\x01\x02\xff", 3));
  const std::size_t before = ws.out().bytes();
  ASSERT_EQ(ws.send_message(head, std::span<const FrameRef>(&bytes, 1)),
            Session::SendResult::queued);
  ASSERT_EQ(ws.out().size(), 2u);
  EXPECT_EQ(ws.out()[0].payload(), head->payload());
  EXPECT_FALSE(ws.out()[1].binary());
  EXPECT_EQ(ws.out()[1].payload(), "bAQL/");
  EXPECT_EQ(ws.out().bytes() - before, head->polling_size() + bytes->polling_size());
  EXPECT_TRUE(bytes->binary()) << "the shared frame itself is left as it was";

  Session p("b", TransportKind::polling, opts, t0);
  ASSERT_TRUE(p.begin_probe(t0));
  p.set_websocket_base64(true);
  p.abandon_probe();
  ASSERT_TRUE(p.begin_probe(t0 + 1ms));
  p.set_websocket_base64(false);
  ASSERT_EQ(p.send(FrameRef(bytes)), Session::SendResult::queued);
  p.receive(TransportKind::websocket, Packet::text(PacketType::upgrade), t0 + 2ms);
  ASSERT_EQ(p.transport(), TransportKind::websocket);
  ASSERT_EQ(p.out().size(), 1u);
  EXPECT_TRUE(p.out()[0].binary()) << "its second probe asked for binary";
}

TEST_F(EngineIoSession, AnUnfinishedProbeTimesOutAndTheSessionStaysOnPolling) {
  Session s("a", TransportKind::polling, opts, t0);
  ASSERT_TRUE(s.begin_probe(t0));
  s.receive(TransportKind::websocket, Packet::text(PacketType::ping, "probe"), t0);
  s.on_timer(t0 + 1000ms);
  EXPECT_FALSE(s.upgrading());
  EXPECT_EQ(s.transport(), TransportKind::polling);
  s.receive(TransportKind::websocket, Packet::text(PacketType::upgrade), t0 + 1001ms);
  EXPECT_EQ(s.transport(), TransportKind::polling) << "too late";
  EXPECT_TRUE(s.begin_probe(t0 + 1002ms)) << "a new probe may start";
}

TEST_F(EngineIoSession, ProbeMisbehaviourOrLossAbandonsOnlyTheProbe) {
  Session s("a", TransportKind::polling, opts, t0);
  ASSERT_TRUE(s.begin_probe(t0));
  s.receive(TransportKind::websocket, Packet::text(PacketType::message, "x"), t0);  // not 2probe
  EXPECT_FALSE(s.upgrading());
  EXPECT_FALSE(s.closed());
  EXPECT_TRUE(s.take_messages().empty()) << "a probe's message is not the session's";
  ASSERT_TRUE(s.begin_probe(t0));
  s.transport_closed(TransportKind::websocket, true);
  EXPECT_FALSE(s.upgrading());
  EXPECT_FALSE(s.closed());
}

// A "5" without a "2probe" before it upgrades, as engine.io's Socket.maybeUpgrade takes it (the
// client skipped its own check of the WebSocket); before 2026-12-06 it dropped the probe.
TEST_F(EngineIoSession, AnUpgradeWithoutAProbeUpgrades) {
  Session s("a", TransportKind::polling, opts, t0);
  s.send(Packet::text(PacketType::message, "before"));
  ASSERT_TRUE(s.begin_probe(t0));
  s.receive(TransportKind::websocket, Packet::text(PacketType::upgrade), t0);
  EXPECT_EQ(s.transport(), TransportKind::websocket);
  EXPECT_FALSE(s.upgrading());
  EXPECT_TRUE(s.take_probe_packets().empty()) << "no 3probe: none was asked";
  auto out = s.take_websocket_packets();
  ASSERT_EQ(out.size(), 1u) << "what was queued goes on the new transport";
  EXPECT_EQ(out[0].data, "before");
}

TEST_F(EngineIoSession, LosingTheCurrentTransportClosesWithTheRightReason) {
  Session a("a", TransportKind::polling, opts, t0);
  a.transport_closed(TransportKind::polling, false);  // e.g. a GET cancelled by the client
  EXPECT_EQ(a.close_reason(), CloseReason::transport_close);
  Session b("b", TransportKind::websocket, opts, t0);
  b.transport_closed(TransportKind::websocket, true);
  EXPECT_EQ(b.close_reason(), CloseReason::transport_error);
  Session c("c", TransportKind::websocket, opts, t0);
  c.receive_garbage();
  EXPECT_EQ(c.close_reason(), CloseReason::parse_error);
  Session d("d", TransportKind::websocket, opts, t0);
  d.close(CloseReason::forced_close);
  d.close(CloseReason::ping_timeout);
  EXPECT_EQ(d.close_reason(), CloseReason::forced_close) << "the first reason sticks";
  EXPECT_EQ(d.next_deadline(), TimePoint::max()) << "no timers after close";
}

TEST_F(EngineIoSession, AClientPingBreaksTheHeartbeatDirection) {
  Session s("a", TransportKind::websocket, opts, t0);
  s.receive(TransportKind::websocket, Packet::text(PacketType::ping), t0 + 10ms);
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.close_reason(), CloseReason::transport_error);
}

TEST_F(EngineIoSession, APacketWhileAPongIsDueExtendsTheWaitOnce) {
  Session s("a", TransportKind::websocket, opts, t0);
  s.on_timer(t0 + 300ms);  // ping; pong due at 500 ms
  ASSERT_EQ(s.take_websocket_packets().size(), 1u);
  s.receive(TransportKind::websocket, Packet::text(PacketType::message, "x"), t0 + 450ms);
  EXPECT_EQ(s.next_deadline(), t0 + 650ms) << "extended to ping_timeout after that packet";
  s.receive(TransportKind::websocket, Packet::text(PacketType::message, "y"), t0 + 600ms);
  EXPECT_EQ(s.next_deadline(), t0 + 650ms) << "only once per ping";
  s.on_timer(t0 + 650ms);
  EXPECT_EQ(s.close_reason(), CloseReason::ping_timeout);

  Session r("b", TransportKind::websocket, opts, t0);
  r.on_timer(t0 + 300ms);
  ASSERT_EQ(r.take_websocket_packets().size(), 1u);
  r.receive(TransportKind::websocket, Packet::text(PacketType::message, "x"), t0 + 450ms);
  r.receive(TransportKind::websocket, Packet::text(PacketType::pong), t0 + 600ms);
  r.on_timer(t0 + 900ms);  // next ping
  ASSERT_EQ(r.take_websocket_packets().size(), 1u);
  r.receive(TransportKind::websocket, Packet::text(PacketType::message, "z"), t0 + 1000ms);
  EXPECT_EQ(r.next_deadline(), t0 + 1200ms) << "each new ping may be extended once again";
  EXPECT_FALSE(r.closed());
}

TEST_F(EngineIoSession, ABroadcastFrameIsSharedByEverySessionNotCopied) {
  auto frame = Frame::make(Frame::Kind::text, "42[\"news\",1]");
  auto bytes = Frame::make(Frame::Kind::binary, "\x01\x02\x03");
  Session a("a", TransportKind::websocket, opts, t0);
  Session b("b", TransportKind::polling, opts, t0);
  for (Session* s : {&a, &b}) {
    s->send(frame);
    s->send(Packet::shared(bytes));
  }
  EXPECT_EQ(frame->use_count(), 3u) << "one reference per queue, no copy";
  ASSERT_EQ(a.out().size(), 2u);
  EXPECT_EQ(&a.out()[0], frame.get()) << "the same buffer, not a copy";
  EXPECT_EQ(a.out()[0].wire(), std::string_view("\x81\x0c"
                                                "42[\"news\",1]",
                                                14))
      << "the WebSocket frame is built once, header and payload contiguous";
  EXPECT_EQ(a.out()[1].wire(), std::string_view("\x82\x03\x01\x02\x03", 5));
  auto ws = a.take_websocket_packets();
  ASSERT_EQ(ws.size(), 2u);
  EXPECT_EQ(ws[0].frame.get(), frame.get());
  EXPECT_EQ(ws[1].frame.get(), bytes.get());
  EXPECT_EQ(encode_text(ws[0]), "42[\"news\",1]");
  EXPECT_EQ(ws[0], Packet::text(PacketType::message, "2[\"news\",1]"));
  EXPECT_EQ(b.take_polling_payload(1000),
            "42[\"news\",1]\x1e"
            "bAQID");
  ws.clear();
  EXPECT_EQ(frame->use_count(), 1u) << "every queue let go of it";
}

TEST(FrameQueue, GrowsKeepsItsCapacityAndCountsPollingBytes) {
  FrameQueue q;
  auto f = Frame::make(Frame::Kind::text, "4hello");
  auto bin = Frame::make(Frame::Kind::binary, std::string(4, 'x'));  // "b" + 8 base64 chars
  EXPECT_FALSE(q.allocated()) << "an idle session's queue allocates nothing";
  q.push_back(f);
  q.push_front(bin);
  EXPECT_FALSE(q.allocated()) << "two frames fit in the queue itself";
  EXPECT_EQ(&q.front(), bin.get());
  EXPECT_EQ(&q[1], f.get());
  FrameQueue two = std::move(q);  // inline slots move with the queue
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(&two[0], bin.get());
  EXPECT_EQ(two.pop_front().get(), bin.get());
  EXPECT_EQ(two.pop_front().get(), f.get());
  EXPECT_EQ(f->use_count(), 1u);
  for (int i = 0; i < 20; ++i) q.push_back(i % 2 ? bin : f);
  EXPECT_EQ(q.size(), 20u);
  EXPECT_EQ(q.bytes(), 10u * 6 + 10u * 9);
  const std::size_t cap = q.capacity();
  q.clear();
  for (int i = 0; i < 20; ++i) q.push_back(f);
  EXPECT_EQ(q.capacity(), cap) << "steady state: no new slots";
  q.push_front(bin);
  EXPECT_EQ(&q.front(), bin.get());
  EXPECT_EQ(q.pop_front().get(), bin.get());
  EXPECT_EQ(&q[19], f.get());
  q.pop_front(19);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.bytes(), 6u);
  FrameQueue moved = std::move(q);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(moved.size(), 1u);
  EXPECT_TRUE(moved.allocated());
  for (int i = 0; i < 600; ++i) moved.push_back(f);
  while (!moved.empty()) moved.pop_front();
  EXPECT_FALSE(moved.allocated()) << "drained from a large size: back to the inline slots";
  moved.push_back(bin);
  EXPECT_EQ(&moved.front(), bin.get());
}

TEST(Frame, HeaderLengthForms) {
  // 7-bit, 16-bit and 64-bit payload lengths (RFC 6455 5.2).
  auto small = Frame::make(Frame::Kind::text, std::string(125, 'a'));
  EXPECT_EQ(small->wire().size(), 127u);
  auto mid = Frame::make(Frame::Kind::text, std::string(126, 'a'));
  EXPECT_EQ(mid->wire().substr(0, 4), std::string_view("\x81\x7e\x00\x7e", 4));
  auto big = Frame::make(Frame::Kind::binary, std::string(70000, 'a'));
  EXPECT_EQ(big->wire().substr(0, 10),
            std::string_view("\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  auto raw = Frame::make(Frame::Kind::raw, "xyz");
  EXPECT_EQ(raw->wire(), "xyz");
}

TEST_F(EngineIoSession, TheQueueIsAlsoBoundedInBytes) {
  SessionOptions o = opts;
  o.max_queued_packets = 1000;
  o.max_queued_bytes = 1000;
  Session s("a", TransportKind::websocket, o, t0);
  EXPECT_EQ(s.send(Packet::text(PacketType::message, std::string(600, 'x'))),
            Session::SendResult::queued);
  EXPECT_EQ(s.take_websocket_packets().size(), 1u) << "taking frees the budget";
  EXPECT_EQ(s.send(Packet::text(PacketType::message, std::string(600, 'x'))),
            Session::SendResult::queued);
  EXPECT_EQ(s.send(Packet::text(PacketType::message, std::string(600, 'y'))),
            Session::SendResult::queued)
      << "within the bound when it came (a session holds the bound and one message)";
  EXPECT_EQ(s.send(Packet::text(PacketType::message, "z")), Session::SendResult::overflow);
  EXPECT_EQ(s.close_reason(), CloseReason::transport_error);
  // One message larger than the bound is taken by a queue with nothing in it (an app that sends
  // large messages sends them; what the bound keeps from growing is a backlog). Before
  // 2026-12-04 it closed the session at once, every receiving session of such a broadcast.
  Session big("b", TransportKind::websocket, o, t0);
  EXPECT_EQ(big.send(Packet::text(PacketType::message, std::string(5000, 'x'))),
            Session::SendResult::queued);
  EXPECT_EQ(big.send(Packet::text(PacketType::message, "y")), Session::SendResult::overflow);
  // A binary message: its header, then an attachment larger than the bound (the attachment
  // found the header queued and was refused before 2026-12-04).
  Session bin("c", TransportKind::websocket, o, t0);
  EXPECT_EQ(bin.send(Packet::text(PacketType::message,
                                  "51-[\"file\",{\"_placeholder\":true,\"num\":0}]")),
            Session::SendResult::queued);
  EXPECT_EQ(bin.send(Packet::bytes(std::string(5000, 'b'))), Session::SendResult::queued);
}

// A message in several frames (a binary one's header and attachments) is admitted as one: the
// bounds are looked at once, before it; all of its frames are queued or none.
TEST_F(EngineIoSession, AMessageOfSeveralFramesIsAdmittedAsOne) {
  SessionOptions o = opts;
  o.max_queued_packets = 4;
  o.max_queued_bytes = 1000;
  const FrameRef head =
      Packet::text(PacketType::message,
                   "52-[\"f\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
          .to_frame();
  const std::vector<FrameRef> parts{Packet::bytes(std::string(5000, 'a')).to_frame(),
                                    Packet::bytes("b").to_frame()};
  Session s("a", TransportKind::websocket, o, t0);
  EXPECT_EQ(s.send_message(head, parts), Session::SendResult::queued) << "over the byte bound";
  EXPECT_EQ(s.out().size(), 3u);
  EXPECT_EQ(s.send(Packet::text(PacketType::message, "x")), Session::SendResult::overflow);
  // The last slot of the packet bound takes a whole message.
  Session t("b", TransportKind::websocket, o, t0);
  for (int i = 0; i < 3; ++i) t.send(Packet::text(PacketType::message, "x"));
  const std::vector<FrameRef> small{Packet::bytes("a").to_frame(), Packet::bytes("b").to_frame()};
  EXPECT_EQ(t.send_message(head, small), Session::SendResult::queued);
  EXPECT_EQ(t.out().size(), 6u);
  // Past it, none of a message is queued.
  Session u("c", TransportKind::websocket, o, t0);
  for (int i = 0; i < 4; ++i) u.send(Packet::text(PacketType::message, "x"));
  EXPECT_EQ(u.send_message(head, small), Session::SendResult::overflow);
  EXPECT_EQ(u.close_reason(), CloseReason::transport_error);
  EXPECT_EQ(u.send_message(head, small), Session::SendResult::closed);
}

TEST_F(EngineIoSession, AForcedCloseKeepsWhatIsQueuedForTheTransportToFlush) {
  Session s("a", TransportKind::websocket, opts, t0);
  s.send(Packet::text(PacketType::message, "41"));  // e.g. Socket.IO's DISCONNECT
  s.close(CloseReason::forced_close);
  EXPECT_TRUE(s.closed());
  auto last = s.take_websocket_packets();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].data, "41");
  EXPECT_EQ(s.send(Packet::text(PacketType::message, "late")), Session::SendResult::closed);
  Session t("b", TransportKind::websocket, opts, t0);
  t.send(Packet::text(PacketType::message, "x"));
  t.close(CloseReason::ping_timeout);
  EXPECT_TRUE(t.take_websocket_packets().empty()) << "other closes drop the queue";
}

TEST(EngineIoIds, RandomIdsAreBase64UrlAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = random_id();
    ASSERT_EQ(id.size(), 20u);
    for (char c : id)
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  // Socket.IO's ids take 15 characters (6 random bits each); more than 20 cannot be asked for.
  const std::string short_id = random_id(15);
  EXPECT_EQ(short_id.size(), 15u);
  for (char c : short_id)
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  EXPECT_NE(random_id(15), short_id);
  EXPECT_EQ(random_id(99).size(), 20u);
  EXPECT_EQ(random_id(0), "");
}

}  // namespace
}  // namespace shmio::engineio

TEST(HandshakeRequest, CompactStoreKeepsEverySectionInOrderWhateverTheBuildOrder) {
  shmio::engineio::HandshakeRequest r;
  EXPECT_TRUE(r.headers().empty());
  EXPECT_TRUE(r.query().empty());
  EXPECT_EQ(r.url(), "");
  EXPECT_EQ(r.address(), "");
  // Built out of order, as the cluster's hand-off may: each section stays whole.
  r.set_address("10.0.0.1");
  r.add_query("EIO", "4");
  r.add_header("host", "example.org");
  r.set_url("/socket.io/?EIO=4&x=%00y");
  r.add_query("x", std::string_view("\0y", 2));  // decoded bytes may be anything
  r.add_header("cookie", "");
  r.add_header("host", "second");
  r.set_url("/socket.io/?EIO=4&x=%00y&t=1");  // replaced, not appended
  r.shrink();
  using P = shmio::engineio::HandshakeRequest::Pair;
  const std::vector<P> headers(r.headers().begin(), r.headers().end());
  EXPECT_EQ(headers, (std::vector<P>{{"host", "example.org"}, {"cookie", ""}, {"host", "second"}}));
  const std::vector<P> query(r.query().begin(), r.query().end());
  EXPECT_EQ(query, (std::vector<P>{{"EIO", "4"}, {"x", std::string_view("\0y", 2)}}));
  EXPECT_EQ(r.headers().size(), 3u);
  EXPECT_EQ(r.query().size(), 2u);
  EXPECT_EQ(r.url(), "/socket.io/?EIO=4&x=%00y&t=1");
  EXPECT_EQ(r.address(), "10.0.0.1");
  EXPECT_EQ(r.headers().find("host"), std::optional<std::string_view>("example.org"))
      << "the first of repeated names";
  EXPECT_EQ(r.headers().find("cookie"), std::optional<std::string_view>(""));
  EXPECT_EQ(r.headers().find("Host"), std::nullopt) << "names are matched exactly";
  EXPECT_FALSE(r.headers() == r.query());
  // One buffer: the fields' bytes plus two one-byte (varint) lengths per short pair.
  const std::size_t strings = 4 + 11 + 6 + 0 + 4 + 6 + 3 + 1 + 1 + 2 + 28 + 8;
  EXPECT_LE(r.bytes(), sizeof(r) + strings + 5 * 2 + 1);
}

TEST(HandshakeRequest, LongFieldsTakeMultiByteLengths) {
  shmio::engineio::HandshakeRequest r;
  const std::string cookie(200'000, 'c');  // a length of three varint bytes
  const std::string agent(130, 'a');       // two bytes (just over 127)
  r.add_header("cookie", cookie);
  r.add_header(std::string(127, 'n'), agent);  // a name of one byte's largest length
  r.add_query("k", "");
  r.set_url("/");
  r.set_address("::1");
  using P = shmio::engineio::HandshakeRequest::Pair;
  const std::vector<P> headers(r.headers().begin(), r.headers().end());
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0], (P{"cookie", cookie}));
  EXPECT_EQ(headers[1].first, std::string(127, 'n'));
  EXPECT_EQ(headers[1].second, agent);
  const std::vector<P> query(r.query().begin(), r.query().end());
  EXPECT_EQ(query, (std::vector<P>{{"k", ""}}));
  EXPECT_EQ(r.url(), "/");
  EXPECT_EQ(r.address(), "::1");
}

TEST(LatencyHistogram, BucketsByUpperBoundWithTheRestAboveTheLast) {
  shmio::engineio::LatencyHistogram h;
  h.observe(50);       // <= 50 us: the first bucket
  h.observe(51);       // the second
  h.observe(-3);       // (a clock that went back) counts as 0
  h.observe(2000000);  // above the last bound (1 s)
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.counts.back(), 1u);
  EXPECT_EQ(h.count, 4u);
  EXPECT_EQ(h.sum_us, 50u + 51u + 2000000u);
}
