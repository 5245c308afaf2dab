// The Socket.IO v5 protocol at the wire level, against the conformance app: Engine.IO packets
// written by hand over a raw WebSocket (`ws`) or raw polling requests (fetch), no Socket.IO
// client in between. The conformance app's timings (pingInterval 300 ms, connectTimeout 1000 ms),
// but 2 s to answer a ping (its 200 ms would let a scheduling delay on a loaded machine close a
// session whose test answers every ping), and --log-sockets tells why the server saw each socket
// go. Run by ctest: SHMIO_BIN is the shmio binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { within, until, rawWebSocket, startListening } from "./helpers.mjs";

const BIN = process.env.SHMIO_BIN ?? new URL("../../build/server/shmio", import.meta.url).pathname;
const PING_INTERVAL = 300;
const PING_TIMEOUT = 2000;
const CONNECT_TIMEOUT = 1000;
const WAIT = 5000; // the bound on anything that should happen at once

let server; // { proc, port, lines }: lines include the --log-sockets lines (stderr)
// The same app with a heartbeat that cannot expire during a test (60 s): for the polling tests
// that hold no GET between their requests, where the fast heartbeat's ping could not be answered
// and a loaded machine (ctest -j2 beside a build) would time the session out mid-test.
let calm;

before(async () => {
  server = await startListening(BIN, ["--app", "conformance", "--port", "0", "--log-sockets",
                                      "--ping-timeout", String(PING_TIMEOUT)]);
  calm = await startListening(BIN, ["--app", "conformance", "--port", "0", "--log-sockets",
                                    "--ping-interval", "60000", "--ping-timeout", "60000"]);
});

after(() => {
  server?.proc.kill("SIGTERM");
  calm?.proc.kill("SIGTERM");
});

// Waits for the server's "socket disconnect NSP ID REASON" line and checks the reason.
async function disconnectedWith(nsp, id, reason, srv = server) {
  const mine = () => srv.lines.find((l) => l.startsWith(`socket disconnect ${nsp} ${id} `));
  await until(() => mine(), WAIT, `"socket disconnect ${nsp} ${id}" in the server's log`);
  assert.equal(mine(), `socket disconnect ${nsp} ${id} ${reason}`);
}

function openWs(opts) {
  return rawWebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`, {
    wait: WAIT,
    ...opts,
  });
}

// An Engine.IO session over WebSocket, its open packet read.
async function openSession(opts) {
  const c = openWs(opts);
  const open = await c.next("Engine.IO open packet");
  assert.equal(typeof open, "string");
  assert.equal(open[0], "0", open);
  c.eio = JSON.parse(open.slice(1));
  return c;
}

// Sends a CONNECT for `nsp` (with `auth` when given) and reads the reply and the app's "auth"
// event; returns the socket id.
async function join(c, nsp = "/", auth) {
  const prefix = nsp === "/" ? "" : `${nsp},`;
  c.send(`40${prefix}${auth === undefined ? "" : JSON.stringify(auth)}`);
  const reply = await c.next(`CONNECT reply for ${nsp}`);
  assert.ok(reply.startsWith(`40${prefix}{`), reply);
  const data = JSON.parse(reply.slice(2 + prefix.length));
  assert.deepEqual(Object.keys(data), ["sid"], `the CONNECT reply's keys: ${reply}`);
  assert.equal(typeof data.sid, "string");
  const greeting = await c.next(`auth event on ${nsp}`);
  assert.equal(greeting, `42${prefix}${JSON.stringify(["auth", auth ?? {}])}`);
  return data.sid;
}

// A Socket.IO packet with binary attachments in an Engine.IO message:
// "4<type><count>-[<ack id>]<JSON>", split.
function splitBinaryHeader(frame, type) {
  const m = frame.match(new RegExp(`^4${type}(\\d+)-(\\d*)(\\[.*)$`));
  assert.ok(m, `a binary packet of type ${type}: ${frame}`);
  return { attachments: Number(m[1]), id: m[2], data: JSON.parse(m[3]) };
}

const ph = (num) => ({ _placeholder: true, num });

// ---- CONNECT ------------------------------------------------------------------------------------

test("CONNECT to the main namespace: the reply carries the socket id, then the app's auth event", async () => {
  const c = await openSession();
  assert.deepEqual(c.eio.upgrades, []);
  assert.equal(c.eio.pingInterval, PING_INTERVAL);
  assert.equal(c.eio.pingTimeout, PING_TIMEOUT);
  const id = await join(c); // 40 -> 40{"sid":...} then 42["auth",{}]
  await until(() => server.lines.includes(`socket connect / ${id}`), WAIT, "connect logged");
  c.ws.close();
  await c.waitClosed("close");
});

test("CONNECT to the main namespace with a payload: the auth event echoes it", async () => {
  const c = await openSession();
  await join(c, "/", { token: "123" });
  c.ws.close();
});

test("CONNECT to a custom namespace, without and with a payload", async () => {
  const c = await openSession();
  const id = await join(c, "/custom"); // 40/custom, -> 40/custom,{"sid":...} then 42/custom,["auth",{}]
  await until(() => server.lines.includes(`socket connect /custom ${id}`), WAIT, "connect logged");
  const d = await openSession();
  await join(d, "/custom", { token: "abc" });
  c.ws.close();
  d.ws.close();
});

test("CONNECT to an unknown namespace gets a CONNECT_ERROR", async () => {
  const c = await openSession();
  c.send("40/random");
  assert.equal(await c.next("CONNECT_ERROR"), '44/random,{"message":"Invalid namespace"}');
  c.ws.close();
});

test("an invalid packet instead of a CONNECT closes the connection", async () => {
  const c = await openSession();
  c.send("4abc");
  await c.waitClosed();
});

test("without a CONNECT within connectTimeout the server closes the connection", async () => {
  const started = Date.now();
  const c = await openSession(); // pings answered: only the connect timeout can end it
  await within(c.closed, CONNECT_TIMEOUT + WAIT, "closed after connectTimeout");
  assert.ok(Date.now() - started >= CONNECT_TIMEOUT - 50, "not before connectTimeout");
  // Nothing but pings came, and perhaps the Engine.IO close packet.
  assert.deepEqual(c.frames.filter((f) => f !== "1"), [], "no Socket.IO packet came");
});

// ---- DISCONNECT ---------------------------------------------------------------------------------

test("a client DISCONNECT leaves the namespace but keeps the connection", async () => {
  const c = await openSession({ autoPong: false });
  const id = await join(c);
  c.send("41");
  assert.equal(await c.next("the next ping"), "2");
  c.send("3");
  await disconnectedWith("/", id, "client namespace disconnect");
  // Still usable: the namespace can be joined again.
  const again = await join(c);
  assert.notEqual(again, id);
  c.ws.close();
  await c.waitClosed("close");
});

test("a DISCONNECT from a custom namespace leaves the main namespace working", async () => {
  const c = await openSession();
  await join(c);
  const custom = await join(c, "/custom");
  c.send("41/custom,");
  await disconnectedWith("/custom", custom, "client namespace disconnect");
  c.send('42["message","still here"]');
  assert.equal(await c.next("message-back"), '42["message-back","still here"]');
  c.ws.close();
});

// ---- EVENT, ACK, binary -------------------------------------------------------------------------

test("an EVENT comes back as message-back with the same arguments", async () => {
  const c = await openSession();
  await join(c);
  c.send('42["message",1,"2",{"3":[true]}]');
  const back = await c.next("message-back");
  assert.ok(back.startsWith("42["), back);
  assert.deepEqual(JSON.parse(back.slice(2)), ["message-back", 1, "2", { 3: [true] }]);
  c.ws.close();
});

test("a BINARY_EVENT comes back with its attachments, in order", async () => {
  const c = await openSession();
  await join(c);
  c.send(`452-${JSON.stringify(["message", ph(0), ph(1)])}`);
  c.send(Buffer.from([1, 2, 3]));
  c.send(Buffer.from([4, 5, 6]));
  const head = splitBinaryHeader(await c.next("BINARY_EVENT"), 5);
  assert.equal(head.attachments, 2);
  assert.equal(head.id, "");
  assert.deepEqual(head.data, ["message-back", ph(0), ph(1)]);
  const first = await c.next("first attachment");
  const second = await c.next("second attachment");
  assert.ok(Buffer.isBuffer(first) && Buffer.isBuffer(second), "binary frames");
  assert.deepEqual([...first], [1, 2, 3]);
  assert.deepEqual([...second], [4, 5, 6]);
  c.ws.close();
});

test("an EVENT with an ack id is answered by an ACK with the same id", async () => {
  const c = await openSession();
  await join(c);
  c.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  const ack = await c.next("ACK");
  assert.ok(ack.startsWith("43456["), ack);
  assert.deepEqual(JSON.parse(ack.slice(5)), [1, "2", { 3: [false] }]);
  c.ws.close();
});

test("a BINARY_EVENT with an ack id is answered by a BINARY_ACK with the attachments", async () => {
  const c = await openSession();
  await join(c);
  c.send(`452-789${JSON.stringify(["message-with-ack", ph(0), ph(1)])}`);
  c.send(Buffer.from([1, 2, 3]));
  c.send(Buffer.from([4, 5, 6]));
  const head = splitBinaryHeader(await c.next("BINARY_ACK"), 6);
  assert.equal(head.attachments, 2);
  assert.equal(head.id, "789");
  assert.deepEqual(head.data, [ph(0), ph(1)]);
  assert.deepEqual([...(await c.next("first attachment"))], [1, 2, 3]);
  assert.deepEqual([...(await c.next("second attachment"))], [4, 5, 6]);
  c.ws.close();
});

for (const packet of ["4abc", "42{}", '42abc["message"]']) {
  test(`an invalid packet (${packet}) closes the connection`, async () => {
    const c = await openSession();
    await join(c);
    c.send(packet);
    await c.waitClosed();
  });
}

// ---- Disconnect reasons, as the server sees them ------------------------------------------------

test('reason "parse error": an undecodable packet', async () => {
  const c = await openSession();
  const id = await join(c);
  c.send("42{}");
  await c.waitClosed();
  await disconnectedWith("/", id, "parse error");
});

// A packet valid but not now: socket.io 4.8 closes the connection at once where it can (a
// WebSocket, or polling with a GET held) and its sockets hear "forced close"; where the close must
// wait (polling without a GET), "forced server close" (before 2026-12-05: always the latter).
test('reason "forced close": a packet for a namespace not joined', async () => {
  const c = await openSession();
  const id = await join(c);
  c.send('42/custom,["x"]');
  await c.waitClosed();
  await disconnectedWith("/", id, "forced close");
});

test('reason "forced close": a second CONNECT for the same namespace', async () => {
  const c = await openSession();
  const id = await join(c);
  c.send("40");
  await c.waitClosed();
  await disconnectedWith("/", id, "forced close");
});

test('reason "forced server close": by polling, a second CONNECT while no GET is held', async () => {
  const { post, id } = await pollingSocket();
  await post("40");  // (no GET is held meanwhile: the close waits for the next)
  await disconnectedWith("/", id, "forced server close", calm);
});

test('reason "client namespace disconnect": the client sends a DISCONNECT', async () => {
  const c = await openSession();
  const id = await join(c);
  c.send("41");
  await disconnectedWith("/", id, "client namespace disconnect");
  c.ws.close();
});

test('reason "transport close": the client closes the WebSocket', async () => {
  const c = await openSession();
  const id = await join(c);
  c.ws.close();
  await disconnectedWith("/", id, "transport close");
});

test('reason "ping timeout": the client does not answer a ping', async () => {
  const started = Date.now();
  const c = await openSession({ autoPong: false });
  const id = await join(c);
  assert.equal(await c.next("ping"), "2");
  await c.waitClosed();
  assert.ok(Date.now() - started >= PING_INTERVAL + PING_TIMEOUT - 50, "not before the pong was due");
  await disconnectedWith("/", id, "ping timeout");
});

test('reason "server namespace disconnect": the server disconnects the socket; the client gets a DISCONNECT', async () => {
  const c = await openSession();
  const id = await join(c);
  c.send('42["disconnect-me",false]');
  assert.equal(await c.next("DISCONNECT"), "41");
  await disconnectedWith("/", id, "server namespace disconnect");
  c.ws.close();
});

// ---- Polling ------------------------------------------------------------------------------------

// A polling session connected to "/" (its CONNECT reply and greeting read): post / get / id.
async function pollingSocket(srv = calm) {
  const base = `http://127.0.0.1:${srv.port}/socket.io/?EIO=4&transport=polling`;
  const open = await (await within(fetch(base), WAIT, "handshake")).text();
  assert.equal(open[0], "0");
  const url = `${base}&sid=${JSON.parse(open.slice(1)).sid}`;
  const post = async (body) => {
    const res = await within(fetch(url, { method: "POST", body }), WAIT, `POST ${body}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
  };
  const get = async () => {
    const res = await within(fetch(url), WAIT, "GET");
    return { status: res.status, body: await res.text() };
  };
  // Reads packets until `count` others than pings came (each ping answered).
  const receive = async (count) => {
    const got = [];
    while (got.length < count) {
      const { status, body } = await get();
      assert.equal(status, 200, body);
      for (const p of body.split("\x1e")) {
        if (p === "2") await post("3");
        else got.push(p);
      }
    }
    return got;
  };
  await post("40");
  const [reply, greeting] = await receive(2);
  assert.ok(reply.startsWith("40{"), reply);
  const id = JSON.parse(reply.slice(2)).sid;
  assert.equal(greeting, '42["auth",{}]');
  return { post, get, id, sid: new URL(url).searchParams.get("sid"), port: srv.port };
}

// An upgrade of a polling socket to WebSocket up to its probe's answer: the client (as
// engine.io-client does) has had the noop on its GET and stopped polling; its "5" is next.
async function probeAnswered(s) {
  const held = s.get();
  const c = rawWebSocket(`ws://127.0.0.1:${s.port}/socket.io/?EIO=4&transport=websocket&sid=${s.sid}`,
                         { wait: WAIT });
  assert.ok(await c.opened, "the probe's WebSocket opened");
  c.send("2probe");
  assert.equal(await c.next("pong probe"), "3probe");
  assert.deepEqual(await held, { status: 200, body: "6" }, "the noop that pauses polling");
  return c;
}

// The close packet comes in a response of its own, after the one with what was queued (as
// engine.io writes it once its buffer has drained): socket.io-client handles a response's packets
// a microtask later, so a close in the same response would close its socket before they arrive.
test("polling: a client disconnected while it holds no GET still gets the DISCONNECT, then the close", async () => {
  const { post, get, id } = await pollingSocket();
  await post('42["disconnect-me",true]'); // no GET is held meanwhile
  const { status, body } = await get();
  assert.equal(status, 200, body);
  const first = body.split("\x1e").filter((p) => p !== "2");
  assert.ok(first.includes("41"), `the DISCONNECT in ${JSON.stringify(body)}`);
  assert.ok(!first.includes("1"), `no close packet beside it: ${JSON.stringify(body)}`);
  const next = await get();
  assert.equal(next.status, 200, next.body);
  assert.equal(next.body, "1", "the next GET gets the close packet");
  assert.equal((await get()).status, 400);
  await disconnectedWith("/", id, "server namespace disconnect", calm);
});

test("polling: a client disconnected while it holds a GET gets the DISCONNECT in it, the close in the next", async () => {
  const { post, get, id } = await pollingSocket();
  const held = get(); // held by the server: nothing is queued
  await post('42["disconnect-me",true]');
  const { status, body } = await held;
  assert.equal(status, 200, body);
  const first = body.split("\x1e").filter((p) => p !== "2");
  assert.ok(first.includes("41"), `the DISCONNECT in ${JSON.stringify(body)}`);
  assert.ok(!first.includes("1"), `no close packet beside it: ${JSON.stringify(body)}`);
  const next = await get();
  assert.equal(next.body, "1", "the next GET gets the close packet");
  assert.equal((await get()).status, 400);
  await disconnectedWith("/", id, "server namespace disconnect", calm);
});

// Disconnected by the server after its probe was answered and before its "5": the client polls no
// more, so what was queued (the DISCONNECT) goes on the new WebSocket once the "5" comes, then
// the close frame (no close packet: engine.io closes a WebSocket without one; until 2026-12-07 a
// "1" came first), as engine.io flushes a closing socket's buffer on the transport it upgrades
// to and closes that.
// Before 2026-12-05 the probe was closed at once: the client saw "transport close" and
// reconnected, where the app had disconnected it.
test("upgrade: a client disconnected between its probe's answer and its 5 gets the DISCONNECT on the WebSocket", async () => {
  const s = await pollingSocket();
  const c = await probeAnswered(s);
  await s.post('42["disconnect-me",true]'); // answered once the app's handler has run
  c.send("5");
  assert.equal(await c.next("the DISCONNECT on the WebSocket"), "41");
  await c.waitClosed();
  assert.deepEqual(c.frames, [], "nothing between the DISCONNECT and the close frame");
  await disconnectedWith("/", s.id, "server namespace disconnect", calm);
  assert.equal((await s.get()).status, 400, "the session is gone");
});

// The same window, but the client polls again instead: the DISCONNECT in that GET, the close in
// the next, the probe closed with the session.
test("upgrade: a client disconnected in that window that polls again gets the DISCONNECT by polling", async () => {
  const s = await pollingSocket();
  const c = await probeAnswered(s);
  await s.post('42["disconnect-me",true]');
  const first = await s.get();
  assert.equal(first.status, 200, first.body);
  assert.ok(first.body.split("\x1e").includes("41"), `the DISCONNECT in ${JSON.stringify(first.body)}`);
  assert.equal((await s.get()).body, "1", "the next GET gets the close packet");
  await c.waitClosed("the probe closed with the session");
  await disconnectedWith("/", s.id, "server namespace disconnect", calm);
});

test("polling: past 64 KiB queued, a session closed while no GET is held is not kept (400)", async () => {
  const { post, get, id } = await pollingSocket();
  await post(`42${JSON.stringify(["message", "x".repeat(70 * 1024)])}`); // message-back queued
  await post('42["disconnect-me",true]'); // no GET is held meanwhile
  const { status } = await get();
  assert.equal(status, 400, "the last payload was over the bound: forgotten, not kept");
  await disconnectedWith("/", id, "server namespace disconnect", calm);
});
