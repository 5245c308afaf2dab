// The Socket.IO server against the real socket.io-client (pinned in package.json): the
// conformance app (namespaces, auth, acks both ways, binary, middleware errors, invalid namespace)
// and the bench app (rooms and broadcast operators). Run by ctest: SHMIO_BIN is the shmio binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io as connect } from "socket.io-client";
import net from "node:net";
import http from "node:http";
import { once, within, until, untilAsync, startListening } from "./helpers.mjs";

const BIN = process.env.SHMIO_BIN;
const servers = {};

async function start(app, key = app, extra = [], env = undefined) {
  const { proc, port } = await startListening(BIN, ["--app", app, "--port", "0", ...extra], env);
  servers[key] = { proc, url: `http://127.0.0.1:${port}` };
}

before(async () => {
  assert.ok(BIN, "SHMIO_BIN must name the shmio binary");
  // The protocol suite's configuration, but a pong timeout that survives a loaded machine.
  await start("conformance", "conformance", ["--ping-timeout", "5000"]);
  await start("bench");
  await start("bench", "rooms");  // its own server, so that "count" sees only that test's clients
  await start("chat");
  await start("bench", "acks");
  // Default heartbeats with a 1 s connectTimeout: only the connect timeout can end an idle client.
  await start("bench", "connect-timeout", ["--connect-timeout", "1000"]);
  // (A pong timeout of 2 s, as the protocol suites': with 300 ms the handshake, the CONNECT's
  // POST and its GET had to come within 600 ms of the session's open on a loaded machine.)
  await start("bench", "heartbeat", ["--ping-interval", "300", "--ping-timeout", "2000"]);
  // (An origin left in the environment: the command line's replace it.)
  await start("conformance", "origin",
              ["--allow-origin", "http://good.example", "--allow-origin", "HTTPS://Upper.Example:8443"],
              { SHMIO_ALLOW_ORIGIN: "http://staging.example" });
  // (An app that sets no CORS of its own: --allow-origin's origins get CORS headers. Here from
  // the environment, which takes several, separated by spaces or commas, since 2026-12-05.)
  await start("bench", "origin-bench", [],
              { SHMIO_ALLOW_ORIGIN: "http://good.example, http://other.example" });
  await start("conformance", "deflate", ["--per-message-deflate"]);
  await start("conformance", "attachments", ["--max-attachment-bytes", "1000"]);
  // A GET held 1.5 s (until the ping): requests pipelined behind it wait in the connection.
  await start("bench", "pipeline", ["--ping-interval", "1500"]);
});
after(() => Object.values(servers).forEach((s) => s.proc.kill("SIGTERM")));

const opened = [];
function client(app, nsp = "", opts = {}) {
  const s = connect(servers[app].url + nsp, { reconnection: false, forceNew: true, ...opts });
  opened.push(s);
  return s;
}
after(() => opened.forEach((s) => s.disconnect()));

for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
  test(`conformance over ${transports.join("+")}: auth, message-back, acks, binary`, async () => {
    const s = client("conformance", "", { transports, auth: { token: "abc" } });
    const [auth] = await within(once(s, "auth"), 5000, "auth event");
    assert.deepEqual(auth, { token: "abc" });
    assert.ok(s.connected && typeof s.id === "string");
    s.emit("message", 1, "2", { 3: [true] });
    assert.deepEqual(await within(once(s, "message-back"), 5000, "message-back"), [1, "2", { 3: [true] }]);
    const reply = await within(s.timeout(5000).emitWithAck("message-with-ack", "x", 42), 5000, "ack");
    assert.equal(reply, "x");
    s.emit("message", Buffer.from([1, 2, 3]), "after-binary");
    const [bin, after] = await within(once(s, "message-back"), 5000, "binary back");
    assert.deepEqual([...new Uint8Array(bin)], [1, 2, 3]);
    assert.equal(after, "after-binary");
    s.disconnect();
  });
}

// engine.io-client's forceBase64 (a WebSocket that cannot take binary frames): it sends binary
// as base64 text and asks for the same with b64=1; the binary round trip still holds.
test("forceBase64 over WebSocket: binary both ways as base64 text", async () => {
  const s = client("conformance", "", { transports: ["websocket"], forceBase64: true });
  await within(once(s, "auth"), 5000, "auth event");
  const frames = [];
  s.io.engine.transport.ws.addEventListener("message", (e) => frames.push(e.data));
  s.emit("message", Buffer.from([1, 2, 255]), "after-binary");
  const [bin, after] = await within(once(s, "message-back"), 5000, "binary back");
  assert.deepEqual([...new Uint8Array(bin)], [1, 2, 255]);
  assert.equal(after, "after-binary");
  assert.ok(frames.includes("b" + Buffer.from([1, 2, 255]).toString("base64")),
            `the attachment as base64 text: ${JSON.stringify(frames)}`);
  s.disconnect();
});

test("custom namespace, invalid namespace, middleware refusal with data", async () => {
  const custom = client("conformance", "/custom", { auth: { who: "me" } });
  const [auth] = await within(once(custom, "auth"), 5000, "custom auth");
  assert.deepEqual(auth, { who: "me" });
  const bad = client("conformance", "/random");
  const [err] = await within(once(bad, "connect_error"), 5000, "connect_error");
  assert.equal(err.message, "Invalid namespace");
  const refused = client("conformance", "/secure", { auth: { token: "nope" } });
  const [e2] = await within(once(refused, "connect_error"), 5000, "middleware error");
  assert.equal(e2.message, "unauthorized");
  assert.deepEqual(e2.data, { reason: "bad token" });
  const allowed = client("conformance", "/secure", { auth: { token: "ok" } });
  await within(once(allowed, "auth"), 5000, "secure auth");
});

test("server-side emitWithAck-style round trip: the client's ack reaches the server", async () => {
  // The conformance app answers message-with-ack; here the client acks an emit from the server.
  const s = client("bench");
  await within(once(s, "connect"), 5000, "connect");
  const echoed = await within(s.timeout(5000).emitWithAck("echo", { a: [1, 2] }, "b"), 5000, "echo");
  assert.deepEqual(echoed, { a: [1, 2] });
});

test("rooms and broadcast operators (bench app)", async () => {
  const a = client("rooms");
  const b = client("rooms");
  const c = client("rooms");
  await Promise.all([a, b, c].map((s) => within(once(s, "connect"), 5000, "connect")));
  for (const s of [a, b]) {
    const who = await s.timeout(5000).emitWithAck("join", "r1");
    assert.equal(who.worker, 0);
  }
  const got = { a: [], b: [], c: [] };
  for (const [k, s] of Object.entries({ a, b, c })) s.on("msg", (p) => got[k].push(p.seq));
  // to(room): a and b, not c.
  a.emit("publish", "r1", { seq: 1 });
  // socket.to(room): b only (excludes the sender).
  a.emit("publish-others", "r1", { seq: 2 });
  // io.emit: everyone.
  c.emit("publish", null, { seq: 3 });
  // socket.broadcast.emit: everyone but c.
  c.emit("publish-others", null, { seq: 4 });
  const count = await a.timeout(5000).emitWithAck("count");
  assert.equal(count, 3);
  // Each connection's packets are handled in order, and a broadcast is queued to its receivers
  // before the publisher's next answer: once each publisher (a, c) has had a round trip, every
  // publication is queued; once each receiver has had one after that, every one has arrived.
  const roundTrip = (xs) => Promise.all(xs.map((s) => s.timeout(5000).emitWithAck("echo", 0)));
  await roundTrip([a, c]);
  await roundTrip([a, b, c]);
  // Publications from different clients have no order between them; compare the sets.
  const sorted = (xs) => [...xs].sort((x, y) => x - y);
  assert.deepEqual(sorted(got.a), [1, 3, 4]);
  assert.deepEqual(sorted(got.b), [1, 2, 3, 4]);
  assert.deepEqual(sorted(got.c), [3]);
  // leave: no longer reached.
  await b.timeout(5000).emitWithAck("leave", "r1");
  a.emit("publish", "r1", { seq: 5 });
  await roundTrip([a]);
  await roundTrip([a, b]);
  assert.deepEqual(sorted(got.b), [1, 2, 3, 4]);
  assert.deepEqual(sorted(got.a), [1, 3, 4, 5]);
});

test("a client that never connects to a namespace is dropped after connectTimeout", async () => {
  // Engine.IO handshake only (no Socket.IO CONNECT); connectTimeout 1 s, heartbeats 25 s.
  const base = servers["connect-timeout"].url + "/socket.io/?EIO=4&transport=polling";
  // Timed from before the handshake: the server's timer starts when it opens the session.
  const started = Date.now();
  const open = await (await fetch(base)).text();
  const sid = JSON.parse(open.slice(1)).sid;
  let body = "";
  while (!body.split("\x1e").includes("1") && Date.now() - started < 10000) {
    const res = await fetch(`${base}&sid=${sid}`);
    body = res.status === 200 ? await res.text() : "1";
    // Answer the heartbeat (pingInterval 300 ms), so that only connectTimeout can end it.
    if (body.split("\x1e").includes("2")) await fetch(`${base}&sid=${sid}`, { method: "POST", body: "3" });
  }
  assert.ok(body.includes("1"), "the session is closed");
  assert.ok(Date.now() - started >= 900, "not before connectTimeout");
});

test("chat demo: serves the page and the client bundle; two clients exchange a message", async () => {
  const page = await fetch(servers.chat.url + "/");
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script src="\/socket.io\/socket.io.js"><\/script>/);
  const bundle = await fetch(servers.chat.url + "/socket.io/socket.io.js");
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get("content-type"), /javascript/);
  assert.match(await bundle.text(), /Socket\.IO v4\.8\.4/);
  const alice = client("chat");
  const bob = client("chat", "", { transports: ["polling"] });
  await Promise.all([alice, bob].map((s) => within(once(s, "connect"), 5000, "connect")));
  const heard = within(once(bob, "chat message"), 5000, "bob hears alice");
  const echoed = within(once(alice, "chat message"), 5000, "alice hears herself");
  alice.emit("chat message", "hello bob");
  // With connection state recovery on, a broadcast carries its offset as a last argument.
  const [msg, offset] = await heard;
  assert.equal(msg, "hello bob");
  assert.equal(typeof offset, "string");
  assert.deepEqual(await echoed, [msg, offset]);
});

test("connection state recovery: a dropped client gets its id back and every missed message in order", async () => {
  const alice = client("chat");
  const bob = client("chat", "", { reconnection: true, reconnectionDelay: 700, randomizationFactor: 0 });
  await Promise.all([alice, bob].map((s) => within(once(s, "connect"), 5000, "connect")));
  assert.equal(bob.recovered, false);
  const got = [];
  bob.on("chat message", (m) => got.push(m));
  // Bob needs an offset: one message while connected.
  alice.emit("chat message", "m0");
  await within(new Promise((r) => bob.once("chat message", r)), 5000, "m0");
  const id = bob.id;
  const dropped = once(bob, "disconnect");
  // The client drops its transport: "forced close" on its side; the server sees "transport close",
  // a reason that keeps the session for recovery.
  bob.io.engine.close();
  const [reason] = await within(dropped, 5000, "disconnect");
  assert.equal(reason, "forced close");
  for (const m of ["m1", "m2", "m3"]) alice.emit("chat message", m); // while Bob is away
  await within(alice.timeout(5000).emitWithAck("chat message", "m4"), 5000, "alice ack");
  const [] = await within(once(bob, "connect"), 10000, "reconnect");
  assert.equal(bob.recovered, true);
  assert.equal(bob.id, id);
  // The missed messages came before the CONNECT reply, so they were emitted before "connect".
  assert.deepEqual(got.slice(0, 5), ["m0", "m1", "m2", "m3", "m4"]);
});

test("connection state recovery fails cleanly for an unknown session or offset", async () => {
  const s = client("chat", "", { auth: { pid: "no-such-pid", offset: "no-such-offset" } });
  await within(once(s, "connect"), 5000, "connect");
  assert.equal(s.recovered, false);
});

for (const close of [false, true]) {
  test(`a server-side disconnect(${close}) reaches the client as "io server disconnect"`, async () => {
    const s = client("conformance", "", { transports: ["websocket"] });
    await within(once(s, "auth"), 5000, "auth");
    const gone = once(s, "disconnect");
    s.emit("disconnect-me", close);
    const [reason] = await within(gone, 5000, "disconnect");
    assert.equal(reason, "io server disconnect");
  });
}

test("volatile broadcasts are dropped for a client that cannot take them at once", async () => {
  const s = client("bench", "", { transports: ["websocket"] });
  await within(once(s, "connect"), 5000, "connect");
  let got = 0;
  s.on("v", () => ++got);
  await s.timeout(10000).emitWithAck("burst", 2000, false);
  await s.timeout(10000).emitWithAck("echo", 0); // everything before the ack has arrived
  assert.equal(got, 2000, "plain broadcasts all arrive");
  got = 0;
  await s.timeout(10000).emitWithAck("burst", 2000, true);
  await s.timeout(10000).emitWithAck("echo", 0);
  // (The burst is emitted in one turn: the first frame queued, the connection is not writable
  // until the turn's flush, and the rest are dropped. "< 2000" before 2026-12-06: one dropped of
  // 2000 passed; a review.)
  assert.ok(got <= 10, `volatile: ${got} of 2000 arrived (at most the first few, not all)`);
});

test("broadcast with acks: completes early when all answered, else at the timeout with what came", async () => {
  const [a, b, c] = ["a", "b", "c"].map(() => client("acks"));
  await Promise.all([a, b, c].map((s) => within(once(s, "connect"), 5000, "connect")));
  a.on("question", (ack) => ack("a"));
  b.on("question", (ack) => ack("b"));
  // c does not answer: the broadcast must end at its timeout with a's and b's answers.
  let t0 = Date.now();
  // (2 s: a's and b's answers must be in by then, on a machine that may be loaded.)
  let r = await within(a.timeout(10000).emitWithAck("ask-all", 2000), 10000, "ask-all");
  assert.equal(r.error, "operation has timed out");
  assert.deepEqual([...r.responses].sort(), ["a", "b"]);
  assert.ok(Date.now() - t0 >= 1950, "not before the timeout");
  // Now everyone answers: it completes as soon as the last ack is in, before the timeout (no
  // error: at the timeout it would have one; a wall-clock bound beside it could only flake).
  c.on("question", (ack) => ack("c"));
  r = await within(a.timeout(10000).emitWithAck("ask-all", 5000), 10000, "ask-all");
  assert.equal(r.error, null);
  assert.deepEqual([...r.responses].sort(), ["a", "b", "c"]);
});

test("except(room): everyone but the sockets in that room", async () => {
  const a = client("rooms");
  const b = client("rooms");
  await Promise.all([a, b].map((s) => within(once(s, "connect"), 5000, "connect")));
  await a.timeout(5000).emitWithAck("join", "quiet");
  const got = { a: 0, b: 0 };
  a.on("msg", () => ++got.a);
  b.on("msg", () => ++got.b);
  await a.timeout(5000).emitWithAck("publish-except", "quiet", { seq: 1 });
  await Promise.all([a, b].map((s) => s.timeout(5000).emitWithAck("echo", 0)));
  assert.deepEqual(got, { a: 0, b: 1 });
});

test("CORS: the origin is allowed, preflight answered", async () => {
  const base = servers.conformance.url + "/socket.io/?EIO=4&transport=polling";
  const res = await fetch(base, { headers: { Origin: "http://example.test" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*"); // (cors_origin "*", as cors sends it)
  const pre = await fetch(base, {
    method: "OPTIONS",
    headers: { Origin: "http://example.test", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type" },
  });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
  assert.equal(pre.headers.get("access-control-allow-headers"), "content-type");
});

// Raw polling helpers: handshake, then GET/POST on the session.
async function rawSession(server) {
  const base = servers[server].url + "/socket.io/?EIO=4&transport=polling";
  const open = await (await fetch(base)).text();
  const url = `${base}&sid=${JSON.parse(open.slice(1)).sid}`;
  return {
    get: async () => { const r = await fetch(url); return r.status === 200 ? r.text() : `HTTP ${r.status}`; },
    post: (body) => fetch(url, { method: "POST", body }),
  };
}
async function pollUntilClosed(s, answerPings) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const body = await s.get();
    const packets = body.split("\x1e");
    if (packets.includes("1") || body.startsWith("HTTP 400")) return true;
    if (answerPings && packets.includes("2")) await s.post("3");
  }
  return false;
}

test("an invalid Socket.IO packet closes the connection (parse error)", async () => {
  const s = await rawSession("rooms");
  await s.post("40");
  const connected = await s.get();
  assert.match(connected, /^40\{"sid":/);
  await s.post('42{"not":"an array"}');
  assert.ok(await pollUntilClosed(s, true), "closed after the invalid EVENT");
});

test("a packet's attachments over --max-attachment-bytes together close the connection; up to it they pass", async () => {
  for (const transports of [["websocket"], ["polling"]]) {
    const s = client("attachments", "", { transports });
    await within(once(s, "auth"), 5000, "auth event");
    // 1000 bytes in three buffers: at the bound, echoed whole.
    const parts = [Buffer.alloc(400, 1), Buffer.alloc(400, 2), Buffer.alloc(200, 3)];
    s.emit("message", ...parts);
    const back = await within(once(s, "message-back"), 5000, "message-back");
    assert.deepEqual(back.map((b) => b.byteLength), [400, 400, 200]);
    assert.equal(new Uint8Array(back[2])[0], 3);
    // One byte more (each buffer alone far under maxHttpBufferSize): the connection is closed.
    const closed = once(s, "disconnect");
    s.emit("message", Buffer.alloc(400), Buffer.alloc(400), Buffer.alloc(201));
    const [reason] = await within(closed, 5000, `disconnect over ${transports}`);
    assert.equal(reason, "transport close", transports.join());
  }
});

test("a packet of more than 10 attachments closes the connection, as socket.io's decoder; 10 pass", async () => {
  // (64 were taken before 2026-12-07: an app that forwarded such a packet, as the chat demo does,
  // sent socket.io-clients one their decoder refuses, and with recovery they reconnected into it.)
  const s = client("attachments", "", { transports: ["websocket"] });
  await within(once(s, "auth"), 5000, "auth event");
  s.emit("message", ...Array.from({ length: 10 }, (_, i) => Buffer.alloc(10, i)));
  const back = await within(once(s, "message-back"), 5000, "message-back");
  assert.equal(back.length, 10);
  assert.equal(new Uint8Array(back[9])[0], 9);
  const closed = once(s, "disconnect");
  s.emit("message", ...Array.from({ length: 11 }, (_, i) => Buffer.alloc(10, i)));
  const [reason] = await within(closed, 5000, "disconnect at 11 attachments");
  assert.equal(reason, "transport close");
});

// Raw TCP to one of the servers, and what it answers.
async function tcp(server, opts = {}) {
  const { port } = new URL(servers[server].url);
  const c = net.connect({ port: Number(port), host: "127.0.0.1", ...opts });
  await once(c, "connect");
  const conn = { c, got: "", closed: new Promise((res) => c.on("close", res)) };
  c.on("data", (d) => { conn.got += d.toString("latin1"); });
  c.on("error", (e) => { conn.error = e; });
  conn.write = (data) => new Promise((res) => c.write(data, res));
  return conn;
}
async function handshake(server) {
  const open = await (await fetch(servers[server].url + "/socket.io/?EIO=4&transport=polling")).text();
  return JSON.parse(open.slice(1)).sid;
}

test("after a Connection: close answer, a client that keeps its end open is closed within about 2 s", async () => {
  // (allowHalfOpen: the client does not end its side when the server's FIN comes.) A byte every
  // 200 ms: drained while the server waits; once it has closed, the next one gets a reset.
  const conn = await tcp("rooms", { allowHalfOpen: true });
  await conn.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n" +
    "Connection: close\r\n\r\n");
  await within(once(conn.c, "end"), 5000, "the answer and the server's FIN");
  assert.match(conn.got, /^HTTP\/1.1 200/);
  const t0 = Date.now();
  while (!conn.error && Date.now() - t0 < 10000) {
    if (!conn.c.destroyed) conn.c.write("x");
    await new Promise((res) => setTimeout(res, 200));
  }
  const waited = Date.now() - t0;
  assert.ok(conn.error, "the server never closed the connection (10 s)");
  assert.ok(waited < 6000, `closed after ${waited} ms (the bound is 2 s from the answer)`);
});

test("requests pipelined behind a held GET share one maxPayload between their bodies", async () => {
  const pipeline = async (sizes) => {
    const sid = await handshake("pipeline");
    const conn = await tcp("pipeline");
    // The GET is held until the ping (1.5 s); the POSTs (to no Engine.IO path) wait behind it.
    let req = `GET /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const n of sizes)
      req += `POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n` + "y".repeat(n);
    await conn.write(req);
    const answers = () => (conn.got.match(/HTTP\/1.1 \d+/g) || []).length;
    await within(Promise.race([conn.closed, until(() => answers() === 1 + sizes.length, 8000, "answers")]),
      8000, "the answers or the close");
    const n = answers();
    conn.c.destroy();
    return n;
  };
  // 900,000 bytes of bodies waiting (maxPayload 1,000,000): each answered after the GET.
  assert.equal(await pipeline([600000, 300000]), 3);
  // 1,200,000: the second is refused; with the GET's answer pending, by closing the connection.
  assert.equal(await pipeline([600000, 600000]), 0);
  // One after another, each answered before the next is sent: each has the whole maxPayload (a
  // request being answered does not count against the next: before the fix of the review, a
  // 900,000-byte POST left the next 100,000, and a 200,000-byte one got 413).
  const conn = await tcp("pipeline");
  for (const [i, n] of [900000, 200000, 999999].entries()) {
    await conn.write(`POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n` + "y".repeat(n));
    await until(() => (conn.got.match(/HTTP\/1.1 \d+/g) || []).length === i + 1, 5000, `answer ${i + 1}`);
  }
  assert.deepEqual(conn.got.match(/HTTP\/1.1 \d+/g), ["HTTP/1.1 404", "HTTP/1.1 404", "HTTP/1.1 404"]);
  conn.c.destroy();
});

test("a client that stops answering pings is closed (pingTimeout)", async () => {
  // (Timed from before the session's open, where the server's heartbeat starts: taken after the
  // CONNECT's POST and GET, a slow round trip shortened what the bound sees.)
  const started = Date.now();
  const s = await rawSession("heartbeat");
  await s.post("40");
  // (The CONNECT's answer, after the first ping where the POST came late on a loaded machine.)
  assert.match(await s.get(), /(^|\x1e)40/);
  assert.ok(await pollUntilClosed(s, false), "closed for the missing pong");
  assert.ok(Date.now() - started >= 2250, "not before pingInterval + pingTimeout");
});

test("allowRequest: a refused handshake gets 403 {code 4}; clients of the allowed origin connect", async () => {
  const url = `${servers.origin.url}/socket.io/?EIO=4&transport=polling`;
  // (The environment's origin too: the command line's replace it, as every option's do; before
  // 2026-12-04 both were allowed.)
  for (const headers of [{ origin: "http://evil.example" }, {}, { origin: "http://staging.example" }]) {
    const res = await fetch(url, { headers });
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.deepEqual(await res.json(), { code: 4, message: "Forbidden" });
  }
  const ok = await fetch(url, { headers: { origin: "http://good.example" } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /^0\{"sid":/);
  // With an app that sets no CORS of its own, the allowed origin's page is given CORS headers (its
  // polling answers were blocked by the browser before 2026-12-05); a refused one none.
  const bench = `${servers["origin-bench"].url}/socket.io/?EIO=4&transport=polling`;
  const good = await fetch(bench, { headers: { origin: "http://good.example" } });
  assert.equal(good.status, 200);
  assert.equal(good.headers.get("access-control-allow-origin"), "http://good.example");
  const other = await fetch(bench, { headers: { origin: "http://other.example" } });
  assert.equal(other.status, 200, "the environment's second origin");
  assert.equal(other.headers.get("access-control-allow-origin"), "http://other.example");
  const evil = await fetch(bench, { headers: { origin: "http://evil.example" } });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  // A page of the server's own origin sends no Origin on a polling GET: a browser says so in
  // Sec-Fetch-Site (refused before 2026-12-05: the chat page could not connect by polling). A
  // cross-site request without Origin (a "no-cors" GET) stays refused.
  const same = await fetch(url, { headers: { "sec-fetch-site": "same-origin" } });
  assert.equal(same.status, 200);
  const cross = await fetch(url, { headers: { "sec-fetch-site": "cross-site" } });
  assert.equal(cross.status, 403);
  // A page over plain http from an address that is not localhost (a LAN address) sends neither
  // Origin nor Sec-Fetch-Site on that GET: taken when its Host is an allowed plain-http origin's
  // host and port (refused before 2026-12-07); another Host, a cross-site one, or an https
  // origin's (a browser sends Sec-Fetch-Site there) refused.
  const withHost = (headers) => new Promise((resolve, reject) => {
    const u = new URL(url);
    http.get({ host: "127.0.0.1", port: u.port, path: u.pathname + u.search, headers }, (r) => {
      r.resume();
      r.on("end", () => resolve(r.statusCode));
    }).on("error", reject);
  });
  assert.equal(await withHost({ host: "good.example" }), 200);
  assert.equal(await withHost({ host: "GOOD.example:80" }), 200, "the default port written");
  assert.equal(await withHost({ host: "upper.example:8443" }), 403, "an https origin's");
  assert.equal(await withHost({ host: "evil.example" }), 403);
  assert.equal(await withHost({ host: "good.example", "sec-fetch-site": "cross-site" }), 403);
  // An origin given in upper case matches what a browser sends (lower case; since 2026-12-03).
  const upper = await fetch(url, { headers: { origin: "https://upper.example:8443" } });
  assert.equal(upper.status, 200);
  for (const transports of [["polling"], ["websocket"]]) {
    const good = client("origin", "", { transports, extraHeaders: { origin: "http://good.example" } });
    await within(once(good, "connect"), 5000, `allowed origin over ${transports}`);
    good.disconnect();
    const bad = client("origin", "", { transports, extraHeaders: { origin: "http://evil.example" } });
    const [err] = await within(once(bad, "connect_error"), 5000, `refused over ${transports}`);
    assert.ok(err instanceof Error);
    assert.equal(bad.connected, false);
  }
});

test("perMessageDeflate (opt-in): negotiated with the Node client, large messages travel compressed", async () => {
  const big = "shmio ".repeat(20000); // 120,000 characters, very compressible
  for (const [key, compressed] of [["deflate", true], ["conformance", false]]) {
    const s = client(key, "", { transports: ["websocket"] });
    await within(once(s, "auth"), 5000, "connect");
    const ws = s.io.engine.transport.ws;
    assert.equal(ws.extensions.includes("permessage-deflate"), compressed, ws.extensions);
    const before = ws._socket.bytesRead;
    s.emit("message", big);
    const [back] = await within(once(s, "message-back"), 5000, "message-back");
    assert.equal(back, big);
    const read = ws._socket.bytesRead - before;
    if (compressed) assert.ok(read < 10000, `compressed: ${read} bytes on the wire`);
    else assert.ok(read > big.length, `uncompressed: ${read} bytes on the wire`);
    s.disconnect();
  }
});

// ---- Bounds on connections that are not sessions (issue 11) -----------------------------------

async function metricsOf(port) {
  const res = await within(fetch(`http://127.0.0.1:${port}/metrics`), 5000, "GET /metrics");
  const body = await res.text();
  return (name) => Number(body.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, "m"))?.[1]);
}

test("a client opening connections without end: past the descriptor bound they are refused at once and counted; service resumes when they close", async () => {
  // 300 descriptors: the bound is 300 - 64 (ServerOptions::descriptor_reserve) = 236.
  const { proc, port } = await startListening("bash", ["-c", `ulimit -n 300 && exec ${BIN} --app bench --port 0`]);
  try {
    const { createConnection } = await import("node:net");
    const socks = [];
    let closedByServer = 0;
    for (let i = 0; i < 400; ++i) {
      const s = createConnection(port, "127.0.0.1");
      s.on("error", () => {});
      s.on("close", () => ++closedByServer);
      socks.push(s);
      await once(s, "connect");
    }
    // At most 236 descriptors for connections (fewer: the listener, epoll and the like use some):
    // at least 400 - 236 = 164 must be closed by the server. (Counting the held ones instead
    // would count closes still on their way as held.)
    const mustClose = socks.length - 236;
    await until(() => closedByServer >= mustClose, 5000,
                `at least ${mustClose} connections past the bound closed (${closedByServer})`);
    socks.forEach((s) => s.destroy());
    // The refused ones are counted; the idle ones held (each a descriptor) stayed below the bound.
    const m = await within((async () => {
      for (;;) {  // the first tries may still meet the bound while the closes are processed
        try {
          return await metricsOf(port);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })(), 10000, "metrics once descriptors are free");
    assert.equal(m("shmio_descriptor_bound"), 236);
    // The descriptors open, as the process's listing counts them (the scrape's connection and
    // the listing's own aside: within a few), once the closes of the connections just destroyed
    // are done: a scrape and a listing taken again until they agree (one look before
    // 2026-12-06, while the count still fell; a review).
    const { readdirSync } = await import("node:fs");
    let open = 0, listed = 0;
    await untilAsync(async () => {
      try {
        open = (await metricsOf(port))("shmio_open_descriptors");
      } catch {
        return false;  // (a scrape that met the bound: looked again)
      }
      listed = readdirSync(`/proc/${proc.pid}/fd`).length;
      return Math.abs(open - listed) <= 3;
    }, 10000, `shmio_open_descriptors as listed (last: ${open}, listed ${listed})`).catch((e) => {
      throw new Error(`${e.message}: shmio_open_descriptors ${open}, listed ${listed}`);
    });
    assert.ok(m("shmio_connections_refused_total") >= mustClose,
              `refused ${m("shmio_connections_refused_total")}`);
    const c = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false });
    await within(once(c, "connect"), 5000, "a client connects again");
    c.disconnect();
  } finally {
    proc.kill("SIGTERM");
  }
});

test("a connection that sends no request is closed after --first-request-timeout, and counted", async () => {
  const { proc, port } = await startListening(BIN, ["--app", "bench", "--port", "0", "--first-request-timeout", "300"]);
  try {
    const { createConnection } = await import("node:net");
    const t0 = Date.now(); // (before the connect: the server's timer starts at its accept)
    const s = createConnection(port, "127.0.0.1");
    s.on("error", () => {});
    await once(s, "connect");
    await within(once(s, "close"), 5000, "closed by the server");
    assert.ok(Date.now() - t0 >= 250, `closed after ${Date.now() - t0} ms`);
    const m = await metricsOf(port);
    assert.equal(m("shmio_request_timeouts_total"), 1);
  } finally {
    proc.kill("SIGTERM");
  }
});

test("bad numbers on shmio's command line are refused with exit code 2 and the flag's range", async () => {
  const { spawnSync } = await import("node:child_process");
  for (const [flag, value, range] of [
    ["--max-sessions", "0", "1..16777214"],
    ["--session-bytes", "100", "a multiple of 64 in 256..65536"],
    ["--cut-log-mb", "0", "1..65536"],
    ["--cut-log-mb", "65537", "1..65536"],
    ["--rebalance-rate", "x", "1..1000000"],
    ["--first-request-timeout", "3600001", "1..3600000 ms"],
    ["--ping-interval", "-5", "1..3600000 ms"],
    ["--max-attachment-bytes", "0", "1..4294967295"],
    ["--max-open-sessions", "4294967296", "0..4294967295"],
    ["--max-held-sends", "-1", "0..4294967295"],
  ]) {
    const r = spawnSync(BIN, ["--app", "bench", flag, value], { encoding: "utf8", timeout: 10000 });
    assert.equal(r.status, 2, `${flag} ${value}`);
    assert.match(r.stderr, new RegExp(`^shmio: ${flag} must be ${range.replace(/\./g, "\\.")}`));
  }
  // --help states each number flag's range in the flag's own entry (some left it out before
  // 2026-12-07: --port, --workers, --ring-mb, --max-sessions, --rebalance-rate, ...).
  const help = spawnSync(BIN, ["--help"], { encoding: "utf8", timeout: 10000 });
  assert.equal(help.status, 0, help.stderr);
  const entries = help.stdout.split(/\n(?=  --)/);
  for (const [flag, range] of [
    ["--port", "0..65535"], ["--first-request-timeout", "1..3600000"],
    ["--max-open-sessions", "0..4294967295"], ["--ping-interval", "1..3600000"],
    ["--ping-timeout", "1..3600000"], ["--connect-timeout", "1..3600000"],
    ["--watchdog-timeout", "2000..86400000"], ["--flush-budget", "4096..1073741824"],
    ["--read-budget", "4096..1073741824"], ["--max-attachment-bytes", "1..4294967295"],
    ["--max-json-depth", "1..1000"], ["--max-sessions", "1..16777214"],
    ["--session-bytes", "256..65536"], ["--cut-log-mb", "1..65536"],
    ["--rebalance-rate", "1..1000000"], ["--workers", "1..960"], ["--ring-mb", "1..65536"],
    ["--max-held-sends", "0..4294967295"],
  ]) {
    const entry = entries.find((e) => new RegExp(`^  (--[a-z-]+ [A-Z]+, )*${flag} `).test(e));
    assert.ok(entry, `--help has no entry for ${flag}`);
    assert.ok(entry.includes(range), `--help's ${flag} does not say ${range}: ${entry}`);
  }
  // In a cluster, what only --recovery (and a ring per worker) makes is refused without them,
  // before anything starts (taken and used for nothing before 2026-12-03).
  for (const [args, needs] of [[["--max-sessions", "5"], "--recovery"],
                               [["--session-bytes", "1024"], "--recovery"],
                               [["--cut-log-mb", "8", "--recovery"], "--recovery and --ring-per-worker"],
                               [["--max-held-sends", "10"], "--recovery with one shared ring"],
                               [["--max-held-sends", "10", "--recovery", "--ring-per-worker"],
                                "--recovery with one shared ring"]]) {
    const r = spawnSync(BIN, ["--app", "bench", "--port", "0", "--workers", "2", ...args],
                        { encoding: "utf8", timeout: 10000 });
    assert.equal(r.status, 2, `${args}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${args[0]} needs ${needs}`), `${args}: ${r.stderr}`);
  }
});
