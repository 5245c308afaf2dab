// The socket.io server API of issue 12 item 4 with the real socket.io-client, against
// tests/e2e/api_app.cpp (ctest e2e_api: API_BIN).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { io as connect, Manager } from "socket.io-client";
import { once, within, until, untilAsync, startCluster } from "./helpers.mjs";

const BIN = process.env.API_BIN;
let proc, url, log = "";
const opened = [];
// Starts the api app with `args` and `env`: the process, and its URL once it says it listens
// (`onLog` gets its stderr).
async function startApp(args, env, onLog, what) {
  const p = spawn(BIN, args, { env: { ...process.env, ...env } });
  let err = "";
  p.stderr.on("data", (d) => { err += d; onLog(d); });
  const u = await within(new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on [^:]+:(\d+)/);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    p.on("exit", (code) => reject(new Error(`api app exited with ${code}: ${err}`)));
  }), 20000, what);
  return { p, u };
}
before(async () => {
  const started = await startApp(["--port", "0", "--log-sockets"], {}, (d) => (log += d),
                                 "api app start");
  proc = started.p;
  url = started.u;
});
after(() => {
  opened.forEach((s) => s.disconnect());
  if (proc.exitCode === null) proc.kill("SIGKILL");
});

test("--log-sockets logs the disconnect of a socket its connection handler sends away", async () => {
  // (The log's handlers were registered after the app's setup, so they ran after the app's
  // connection handler: a socket it disconnected there was logged connected, never disconnected;
  // before 2026-12-07, a bug hunt.)
  const s = connect(`${url}/dyn-bye`, { reconnection: false, forceNew: true, transports: ["websocket"] });
  opened.push(s);
  const [reason] = await within(once(s, "disconnect"), 5000, "sent away");
  assert.equal(reason, "io server disconnect");
  await until(() => /^socket disconnect \/dyn-bye \S+ server namespace disconnect$/m.test(log), 5000,
              `the disconnect's log line: ${log.split("\n").filter((l) => l.includes("dyn-bye")).join("\n")}`);
  const [, id] = log.match(/^socket disconnect \/dyn-bye (\S+) /m);
  assert.match(log, new RegExp(`^socket connect /dyn-bye ${id}$`, "m"));
});

// --log-sockets with --recovery in one process says each recovery refused, with its session and
// why, as a cluster's workers do (before 2026-12-07 one process said none).
test("--log-sockets says a refused recovery in one process", async () => {
  let said = "";
  const { p, u } = await startApp(["--port", "0", "--recovery", "--log-sockets"], {},
                                  (d) => (said += d), "api app with recovery");
  try {
    const s = connect(u, { reconnection: false, forceNew: true, transports: ["websocket"],
                           auth: { pid: "no-such-session", offset: "x" } });
    opened.push(s);
    await within(once(s, "connect"), 5000, "connected afresh");
    assert.equal(s.recovered, false);
    await until(() => /^shmio: session no-such-session not recovered: unknown session/m.test(said),
                5000, `the refusal's log line: ${said}`);
  } finally {
    p.kill("SIGKILL");
  }
});

function client(opts = {}) {
  const s = connect(url, { reconnection: false, forceNew: true, transports: ["websocket"], ...opts });
  opened.push(s);
  return s;
}
const ack = (s, ...args) => within(s.timeout(10000).emitWithAck(...args), 10000, `ack of ${args[0]}`);
// The /metrics text of the app at `base`.
const metricsOf = (base) => new Promise((resolve, reject) =>
  http.get(`${base}/metrics`, (res) => {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => resolve(body));
  }).on("error", reject));

test("on_any, prepend_any and off_any: order, then removal by id, then all", async () => {
  const s = client();
  s.emit("ping-1");
  assert.deepEqual(await ack(s, "any-order"), ["prepend_any ping-1", "on_any ping-1"]);
  await ack(s, "off-any", "first");
  await ack(s, "any-order"); // (clears what off-any itself logged)
  s.emit("ping-2");
  assert.deepEqual(await ack(s, "any-order"), ["prepend_any ping-2"]);
  await ack(s, "off-any", "all");
  await ack(s, "any-order");
  s.emit("ping-3");
  assert.deepEqual(await ack(s, "any-order"), []);
});

test("join of several rooms at once, and the adapter's room events", async () => {
  const s = client();
  await until(() => s.connected, 5000, "connected");
  await ack(s, "room-log"); // (drop what came before)
  const rooms = await ack(s, "join-many", "t-a", "t-b");
  assert.deepEqual(rooms.sort(), [s.id, "t-a", "t-b"].sort());
  assert.deepEqual(await ack(s, "room-log"),
                   ["create-room t-a", `join-room t-a ${s.id}`, "create-room t-b", `join-room t-b ${s.id}`]);
  const id = s.id;
  s.disconnect();
  const other = client();
  const events = [];
  await untilAsync(async () => {
    if (other.connected) events.push(...(await ack(other, "room-log")));
    return events.includes(`delete-room ${id}`);
  }, 5000, "the disconnected socket's rooms deleted");
  for (const e of [`leave-room t-a ${id}`, "delete-room t-a", `leave-room t-b ${id}`, "delete-room t-b",
                   `leave-room ${id} ${id}`, `delete-room ${id}`,
                   `create-room ${other.id}`, `join-room ${other.id} ${other.id}`])
    assert.ok(events.includes(e), `${e} in ${JSON.stringify(events)}`);
});

test("disconnecting: the handler still sees the rooms, with the reason", async () => {
  const s = client();
  await ack(s, "join-many", "t-x");
  const id = s.id;
  s.disconnect();
  const other = client();
  let last;
  await untilAsync(async () => {
    last = await ack(other, "last-disconnecting");
    return last.id === id;
  }, 5000, "disconnecting ran");
  assert.equal(last.reason, "client namespace disconnect");
  assert.deepEqual(last.rooms.sort(), [id, "t-x"].sort());
});

test("transport(): polling, then websocket after the upgrade", async () => {
  const s = client({ transports: ["polling", "websocket"], upgrade: false });
  assert.equal(await ack(s, "transport"), "polling");
  const w = client();
  assert.equal(await ack(w, "transport"), "websocket");
});

test("per socket: volatile_ sends what the connection can take now, compress(false), timeout", async () => {
  const s = client();
  const got = [];
  s.on("v", (i) => got.push(i));
  const sent = await ack(s, "volatile-burst");
  assert.equal(sent, 1, "one volatile packet per turn: the rest dropped");
  await until(() => got.length === 1, 5000, "the volatile packet");
  assert.deepEqual(got, [0]);
  const plain = new Promise((r) => s.once("c", r));
  assert.equal(await ack(s, "uncompressed"), true);
  assert.equal(await within(plain, 5000, "uncompressed event"), "plain");
  // timeout(ms).emit_with_ack: answered, then not answered in time.
  s.on("question", (q, cb) => cb(`answer to ${q}`));
  assert.deepEqual(await ack(s, "ask-back", 2000), { error: null, reply: ["answer to ?"] });
  const silent = client();
  silent.on("question", () => {}); // never answers
  assert.deepEqual(await ack(silent, "ask-back", 200), { error: "operation has timed out", reply: [] });
});

test("the namespace's operators and its local sockets; new_namespace for a dynamic namespace", async () => {
  const a = client(), b = client();
  const nl = [], nc = [];
  b.on("nl", (x) => nl.push(x));
  b.on("nc", (x) => nc.push(x));
  await until(() => a.connected && b.connected, 5000, "connected");
  const r = await ack(a, "ns-ops");
  assert.ok(r.sockets >= 2, JSON.stringify(r));
  assert.equal(r.local, r.sockets);
  assert.equal(r.compress, r.sockets);
  assert.ok(r.volatile >= 1 && r.volatile <= r.sockets);
  await until(() => nl.length === 1 && nc.length === 1, 5000, "local and compress(false) broadcasts");
  // timeout on the namespace: every socket must answer "nt"; one that does not makes it time out.
  b.on("nt", (cb) => cb("b"));
  const answered = await ack(a, "ns-timeout");
  assert.equal(answered.error, "operation has timed out", "a (and others) did not answer");
  // (b's answer is among what came: 2 s for it, 300 ms before 2026-12-06, when this was not
  // checked and a collector that kept nothing passed; a review.)
  assert.ok(answered.responses >= 1, JSON.stringify(answered));
  const dyn = connect(`${url}/dyn-1`, { reconnection: false, forceNew: true, transports: ["websocket"] });
  opened.push(dyn);
  await until(() => dyn.connected, 5000, "dynamic namespace");
  assert.ok((await ack(a, "namespaces")).includes("/dyn-1"));
});

test("socket.use: a refused event reaches no handler and the socket's error handlers; an asynchronous middleware changes the arguments", async () => {
  const s = client();
  let ran = 0;
  s.on("ran", () => ++ran);
  s.emit("forbidden");
  assert.deepEqual(await ack(s, "slow", 1), [1, "late"]);
  assert.deepEqual(await ack(s, "errors"), ["unauthorized event"]);
  assert.equal(ran, 0, "the refused event's handler did not run");
});

test("engine hooks: initial_headers on the handshake, headers on every response, connection_error", async () => {
  const open = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(open.status, 200);
  assert.equal(open.headers.get("set-cookie"), "shmio-test=1; Path=/");
  assert.equal(open.headers.get("x-api-app"), "GET");
  assert.equal(open.headers.get("x-bad"), null, "a value with a line break is not written");
  assert.equal(open.headers.get("injected"), null);
  const sid = JSON.parse((await open.text()).slice(1)).sid;
  const post = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "40" });
  assert.equal(post.headers.get("x-api-app"), "POST");
  assert.equal(post.headers.get("set-cookie"), null, "initial_headers: the handshake only");
  // A WebSocket handshake's 101 carries them too.
  const port = new URL(url).port;
  const upgraded = await within(new Promise((resolve, reject) => {
    const req = http.request({ port, path: "/socket.io/?EIO=4&transport=websocket", headers: {
      Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    req.on("upgrade", (res, socket) => { socket.destroy(); resolve(res.headers); });
    req.on("error", reject);
    req.end();
  }), 5000, "upgrade");
  assert.equal(upgraded["set-cookie"]?.[0], "shmio-test=1; Path=/");
  assert.equal(upgraded["x-api-app"], "GET");
  // Refused requests: the engine's code and message, with the request.
  assert.equal((await fetch(`${url}/socket.io/?EIO=4&transport=bogus`)).status, 400);
  assert.equal((await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=nope`)).status, 400);
  const s = client();
  const errs = await ack(s, "conn-errors");
  assert.deepEqual(errs.slice(-2), [
    { code: 0, message: "Transport unknown", method: "GET", query: "EIO=4&transport=bogus" },
    { code: 1, message: "Session ID unknown", method: "GET", query: "EIO=4&transport=polling&sid=nope" },
  ]);
});

test("on_any_outgoing: a socket's own emits and the broadcasts that reach it, binary ones decoded; off_any_outgoing", async () => {
  const a = client(), b = client();
  await until(() => a.connected && b.connected, 5000, "connected");
  const gotBin = new Promise((r) => b.once("o-bin", (n, buf) => r([n, buf])));
  assert.equal(await ack(a, "outgoing-trigger"), true);
  const [n, buf] = await within(gotBin, 5000, "the binary broadcast");
  assert.equal(n, 3);
  assert.deepEqual([...buf], [1, 2]);
  assert.deepEqual(await ack(a, "outgoing-log"), ["o-direct [1] 0", "o-all [2] 0", 'o-bin [3,{"_placeholder":true,"num":0}] 1']);
  assert.deepEqual(await ack(b, "outgoing-log"), ["o-all [2] 0", 'o-bin [3,{"_placeholder":true,"num":0}] 1']);
  await ack(a, "outgoing-off");
  await ack(a, "outgoing-trigger");
  assert.deepEqual(await ack(a, "outgoing-log"), []);
});

test("a client offering subprotocols (engine.io-client's protocols) connects over WebSocket", async () => {
  // (ws, the Node client's WebSocket, fails the handshake when the server answers none: it did
  // before 2026-12-04.)
  const s = client({ protocols: ["token.abc", "chat"] });
  await within(new Promise((r) => s.once("connect", r)), 5000, "connect with subprotocols");
  assert.equal(s.io.engine.transport.name, "websocket");
  assert.equal(s.io.engine.transport.ws.protocol, "token.abc");
});

test("socket.conn's upgrade: the handler runs when the client moves from polling to WebSocket", async () => {
  const s = client({ transports: ["polling", "websocket"] });
  const [transport] = await within(new Promise((r) => s.once("upgraded", (...x) => r(x))), 10000, "upgraded");
  assert.equal(transport, "websocket");
});

test("allow_request_async: a handshake waits for the app's answer; refused ones get 403 with its message and a connection_error", async () => {
  const denied = await fetch(`${url}/socket.io/?EIO=4&transport=polling&deny=1`);
  assert.equal(denied.status, 403);
  assert.deepEqual(await denied.json(), { code: 4, message: "denied by the app" }); // (engine.io writes the allowRequest's message)
  const port = new URL(url).port;
  const status = await within(new Promise((resolve, reject) => {
    const req = http.request({ port, path: "/socket.io/?EIO=4&transport=websocket&deny=1", headers: {
      Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    req.on("upgrade", (res, socket) => { socket.destroy(); resolve(101); });
    req.on("response", (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", reject);
    req.end();
  }), 5000, "refused upgrade");
  assert.equal(status, 403);
  const s = client({ transports: ["polling", "websocket"] }); // allowed (every client here was)
  const errs = await ack(s, "conn-errors");
  const mine = errs.filter((e) => e.query.includes("deny=1"));
  assert.deepEqual(mine.map((e) => [e.code, e.message]), [[4, "denied by the app"], [4, "denied by the app"]]);
});

test("/metrics: per-namespace series for the first 100 namespaces only, shmio_namespaces counts all", async () => {
  // 105 dynamic namespaces on one connection (socket.io-client multiplexes them).
  const m = new Manager(url, { reconnection: false, transports: ["websocket"] });
  const sockets = Array.from({ length: 105 }, (_, i) => m.socket(`/dyn-m${String(i).padStart(3, "0")}`));
  sockets.forEach((s) => { s.connect(); opened.push(s); });
  await until(() => sockets.every((s) => s.connected), 10000, "105 namespaces connected");
  const scrape = () => metricsOf(url);
  const text = await scrape();
  const series = text.split("\n").filter((l) => l.startsWith("shmio_namespace_sockets{"));
  assert.equal(series.length, 100, "one series per namespace, at most 100");
  const total = Number(text.match(/^shmio_namespaces\{[^}]*\} (\d+)/m)[1]);
  assert.ok(total >= 106, `shmio_namespaces ${total}: "/" and the 105 (and any others of earlier tests)`);
  // The first 100 by name: "/" sorts before every "/dyn-...".
  assert.ok(series.some((l) => l.includes('namespace="/"')));
  // A namespace made later that sorts before the last one shown does not take its place: a
  // counter's series that went away made the cluster's worker="all" total go down (before
  // 2026-12-04). The new one has no series while 100 are shown.
  const nsOf = (l) => l.match(/namespace="([^"]*)"/)[1];
  const lastShown = series.map(nsOf).sort().pop();
  const early = m.socket("/dyn-a");  // (the manager open: it connects at once, with no connect())
  opened.push(early);
  await until(() => early.connected, 5000, "/dyn-a connected");
  const again = await scrape();
  const after = again.split("\n").filter((l) => l.startsWith("shmio_namespace_sockets{")).map(nsOf);
  assert.equal(after.length, 100);
  assert.ok(after.includes(lastShown), `${lastShown} dropped for /dyn-a`);
  assert.ok(!after.includes("/dyn-a"));
  // --log-sockets: sockets of namespaces made after the setup (dynamic ones) are logged too.
  await until(() => /^socket connect \/dyn-m104 /m.test(log), 5000, "the dynamic namespace's log line");
  // The text exposition format: one HELP and one TYPE per family, and a family's samples together
  // (Prometheus refuses a scrape with a second TYPE line; each namespace wrote its own before).
  const lines = text.split("\n").filter((l) => l !== "");
  const typed = lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
  assert.equal(new Set(typed).size, typed.length, "a TYPE line twice");
  const helped = lines.filter((l) => l.startsWith("# HELP ")).map((l) => l.split(" ")[2]);
  assert.equal(new Set(helped).size, helped.length, "a HELP line twice");
  const family = (l) => l.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, "");
  const order = lines.filter((l) => !l.startsWith("#")).map(family);
  const runs = order.filter((f, i) => i === 0 || f !== order[i - 1]);
  assert.equal(new Set(runs).size, runs.length, `a family's samples apart: ${runs.join(" ")}`);
});

test("cleanup_empty_child_namespaces: a dynamic namespace goes with its last socket and is made again", async () => {
  const { p, u } = await startApp(["--port", "0"], { API_CLEANUP: "1" }, () => {},
                                  "api app (cleanup) start");
  try {
    const metric = (name) => new Promise((resolve, reject) =>
      http.get(`${u}/metrics`, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(Number(body.match(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m"))[1])));
      }).on("error", reject));
    const m = new Manager(u, { reconnection: false, transports: ["websocket"] });
    const main = m.socket("/");
    main.connect();
    await until(() => main.connected, 5000, "/ connected");
    const d = m.socket("/dyn-c");  // (the manager open: it connects at once)
    await until(() => d.connected, 5000, "/dyn-c connected");
    assert.equal(await metric("shmio_namespaces"), 2);
    // One namespace's series of a family (its first: this process has one).
    const ofDyn = (family) => new Promise((resolve, reject) =>
      http.get(`${u}/metrics`, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          const m = body.match(new RegExp(`^${family}\\{namespace="/dyn-c",[^}]*\\} (\\d+)`, "m"));
          resolve(m ? Number(m[1]) : undefined);
        });
      }).on("error", reject));
    const OUT = "shmio_namespace_messages_out_total";
    assert.equal(await ofDyn(OUT), 1, "its greeting");
    d.disconnect();
    await untilAsync(async () => (await metric("shmio_namespaces")) === 1, 5000, "/dyn-c removed");
    assert.equal(await metric("shmio_namespaces_removed_total"), 1);
    // Its counters stay, and count on when it is made again (before 2026-12-05 its series left
    // and came back from 0: in a cluster the worker="all" total went down).
    assert.equal(await ofDyn(OUT), 1, "kept while removed");
    assert.equal(await ofDyn("shmio_namespace_sockets"), 0);
    d.connect();
    await until(() => d.connected, 5000, "/dyn-c connected again");
    assert.equal(await metric("shmio_namespaces"), 2);
    assert.equal(await ofDyn(OUT), 2, "counted on");
    // Made again: the new-namespace handlers ran for it twice.
    assert.deepEqual((await ack(main, "namespaces")).filter((n) => n === "/dyn-c"), ["/dyn-c", "/dyn-c"]);
    d.disconnect();
    main.disconnect();
  } finally {
    p.kill("SIGKILL");
  }
});

test("/metrics with 100 namespaces shown, removed ones among them: a new live one takes a removed one's place", async () => {
  const { p, u } = await startApp(["--port", "0"], { API_CLEANUP: "1" }, () => {},
                                  "api app (cleanup) start");
  try {
    const scrape = () => metricsOf(u);
    const shown = async () => new Map((await scrape()).split("\n")
      .filter((l) => l.startsWith("shmio_namespace_sockets{"))
      .map((l) => [l.match(/namespace="([^"]*)"/)[1], Number(l.split(" ")[1])]));
    const m = new Manager(u, { reconnection: false, transports: ["websocket"] });
    const main = m.socket("/");
    main.connect();
    await until(() => main.connected, 5000, "/ connected");
    const dyn = Array.from({ length: 100 }, (_, i) => m.socket(`/dyn-q${String(i).padStart(3, "0")}`));
    await until(() => dyn.every((s) => s.connected), 10000, "100 namespaces connected");
    let seen = await shown();
    assert.equal(seen.size, 100);
    assert.equal(seen.get("/dyn-q000"), 1);
    assert.ok(!seen.has("/dyn-q099"), "the 101st by name is not shown");
    // All of them removed: the 99 shown stay, at 0 sockets, their counters kept.
    dyn.forEach((s) => s.disconnect());
    await untilAsync(async () => (await shown()).get("/dyn-q000") === 0, 5000, "the namespaces removed");
    seen = await shown();
    assert.equal(seen.size, 100);
    assert.equal(seen.get("/dyn-q098"), 0);
    // Scraping them did not make them again (it did, with their setup, before 2026-12-04).
    assert.equal(Number((await scrape()).match(/^shmio_namespaces\{[^}]*\} (\d+)/m)[1]), 1);
    // A live one made now is shown, in the place of the first removed one by name (removed ones
    // kept all 100 places for good before 2026-12-05).
    const z = m.socket("/dyn-z");
    await until(() => z.connected, 5000, "/dyn-z connected");
    seen = await shown();
    assert.equal(seen.size, 100);
    assert.equal(seen.get("/dyn-z"), 1, [...seen.keys()].join(" "));
    assert.ok(!seen.has("/dyn-q000"), "the first removed one by name left");
    assert.equal(seen.get("/dyn-q001"), 0);
    assert.equal(seen.get("/"), 1);
    z.disconnect();
    main.disconnect();
  } finally {
    p.kill("SIGKILL");
  }
});

test("/metrics: 100 namespaces of long names (256 bytes of quotes) stay within a board post", async () => {
  const { p, u } = await startApp(["--port", "0"], {}, () => {}, "api app start");
  try {
    const m = new Manager(u, { reconnection: false, transports: ["websocket"] });
    const main = m.socket("/");
    main.connect();
    await until(() => main.connected, 5000, "/ connected");
    // 256 bytes each (max_dynamic_namespace_bytes), 504 once escaped.
    const names = Array.from({ length: 100 }, (_, i) => `/dyn-${'"'.repeat(248)}${String(i).padStart(3, "0")}`);
    const sockets = names.map((n) => m.socket(n));
    await until(() => sockets.every((s) => s.connected), 10000, "100 namespaces connected");
    const text = await metricsOf(u);
    // What a worker posts on the board must fit its 256 KiB (one process posts nothing, but its
    // exposition is the same text); before 2026-12-04 all 100 were shown, 285 KB.
    assert.ok(Buffer.byteLength(text) < 256 * 1024, `${Buffer.byteLength(text)} bytes`);
    const rows = text.split("\n").filter((l) => l.startsWith('shmio_namespace_sockets{namespace="/dyn-'));
    assert.equal(rows.length, 32, "16 KiB of escaped names: 32 of 504 bytes (and '/')");
    assert.equal(Number(text.match(/^shmio_namespaces\{[^}]*\} (\d+)/m)[1]), 101);
    sockets.forEach((s) => s.disconnect());
    main.disconnect();
  } finally {
    p.kill("SIGKILL");
  }
});

// SHMIO_ALLOW_ORIGIN's origins replace those the program set, as --allow-origin's do (before
// 2026-12-06 they were added to them: both allowed).
test("SHMIO_ALLOW_ORIGIN replaces the origins the program allows", async () => {
  const { p, u } = await startApp(["--port", "0"], {
    API_ORIGIN_IN_CODE: "http://code.example", SHMIO_ALLOW_ORIGIN: "http://env.example" },
    () => {}, "api app with origins");
  try {
    const status = (origin) => within(new Promise((resolve, reject) => {
      http.get(`${u}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: origin } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on("error", reject);
    }), 5000, `handshake from ${origin}`);
    assert.equal(await status("http://env.example"), 200);
    assert.equal(await status("http://code.example"), 403);
  } finally {
    p.kill("SIGKILL");
  }
});

// (And one that throws what is not a std::exception: before 2026-12-05 it left serve() in one
// process, and a cluster restarted the worker every 5 s for good.)
test("a setup that throws: serve returns 1, in one process and in a cluster (no restart loop)", () => {
  for (const [how, said] of [["1", /setup failed: the database is down/],
                             ["int", /setup failed: it threw something that is not a std::exception/]]) {
    for (const args of [[], ["--workers", "2", "--no-pin"]]) {
      const r = spawnSync(BIN, ["--port", "0", ...args],
                          { encoding: "utf8", timeout: 20000, env: { ...process.env, API_SETUP_THROWS: how } });
      assert.equal(r.status, 1, `${how} ${args}: ${r.stderr}`);
      assert.match(r.stderr, said);
      assert.doesNotMatch(r.stderr, /restarting/);
    }
  }
});

test("options set in code out of their flags' bounds: serve returns 2 and says the bound", () => {
  // (Before: a cluster took session_bytes 1000 and ran with recovery off in every worker, exit 0;
  // a host of an unknown IPv6 scope threw out of serve(); "localhost" got 1, "cannot listen".)
  for (const [env, said] of [
    [{ API_SESSION_BYTES: "1000" }, /invalid options: --session-bytes must be a multiple of 64 in 256\.\.65536/],
    [{ API_SESSION_BYTES: "100000" }, /invalid options: --session-bytes must be a multiple of 64/],
    [{ API_HOST: "fe80::1%shmio-no-such-if" }, /invalid options: --host fe80::1%shmio-no-such-if: this host has no network interface/],
    [{ API_HOST: "localhost" }, /invalid options: --host must be an IPv4 or IPv6 address/],
  ]) {
    const r = spawnSync(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                        { encoding: "utf8", timeout: 20000, env: { ...process.env, ...env } });
    assert.equal(r.status, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, said);
    assert.doesNotMatch(r.stderr, /listening|worker 0/);
  }
});

// A cluster's option set by the program's code, run as one process: refused, said as the code's
// (until 2026-12-07 it was named as a flag, "--session-bytes needs a cluster", which the
// operator never gave; a review).
test("a cluster's option set in code, run as one process: said as the code's, exit 2", () => {
  const r = spawnSync(BIN, ["--port", "0"], { encoding: "utf8", timeout: 20000,
                                               env: { ...process.env, API_SESSION_BYTES: "1024" } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /the program's code sets --session-bytes's option, which needs a cluster/);
});

// One process whose on_stop does not return: a second stop signal ends it (before 2026-12-05 it
// was queued behind the blocked loop, and only SIGKILL worked).
test("one process: a second stop signal ends a drain held by an on_stop that does not return", async () => {
  const p = spawn(BIN, ["--port", "0"], { env: { ...process.env, API_STOP_BLOCKS: "30000" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => p.once("exit", (...x) => r(x)));
  try {
    await until(() => /listening/.test(out), 20000, "listening")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    p.kill("SIGTERM");
    await until(() => err.includes("on_stop blocks"), 10000, "on_stop called");
    // (A SIGHUP does not end it: a terminal's hang-up comes twice. Sent first, it is taken
    // before the SIGINT, a lower number, if both are pending: an end by SIGHUP would show.)
    p.kill("SIGHUP");
    p.kill("SIGINT");
    const [code, signal] = await within(exited, 5000, "exit at the second signal");
    assert.deepEqual([code, signal], [null, "SIGINT"]);
  } finally {
    p.kill("SIGKILL");
  }
});

// serve() called a second time by the same program, which sent its stderr elsewhere in between
// (a log file): the second run's lines (through the app's log hook, to shmio::stderr_fd()) and
// what the program writes after it go there. Before 2026-12-05 the second run wrote to the first
// run's stderr, and put it back over the program's redirect when it returned (found by a review).
test("serve() twice: the second run writes to the stderr the program has then", async () => {
  const file = path.join(os.tmpdir(), `shmio-api-twice-${process.pid}.log`);
  const p = spawn(BIN, ["--port", "0", "--workers", "1", "--no-pin"],
                  { env: { ...process.env, API_SLOW_LOG: "1", API_SERVE_TWICE: file } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const closed = new Promise((r) => p.once("close", (...x) => r(x)));
  const runs = () => (out.match(/listening/g) || []).length;
  try {
    await until(() => runs() === 1, 20000, "the first run listens")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    p.kill("SIGTERM");
    await until(() => runs() === 2, 20000, `the second run listens; stderr: ${err}`);
    p.kill("SIGTERM");
    const [code] = await within(closed, 20000, "exit");
    assert.equal(code, 0, err);
    const second = fs.readFileSync(file, "utf8");
    assert.equal((err.match(/api\[0\] setup of worker 0/g) || []).length, 1, err);
    assert.match(second, /api\[0\] setup of worker 0/);
    assert.match(second, /after the second run/);
    assert.doesNotMatch(err, /after the second run/);
  } finally {
    p.kill("SIGKILL");
    fs.rmSync(file, { force: true });
  }
});

// A supervisor SIGKILLed (the OOM killer) while its workers' drains are held (an on_stop that
// does not return, as a loop stuck in a handler): each worker ends by itself, the drain's timeout
// (10 s) after the supervisor's death, instead of outliving it with its share of the port (before
// 2026-12-05 they ran until their on_stop returned, here 120 s; found by a review).
// (Also where no pidfd can be opened, as on a kernel before 5.3: each worker looks at its
// parent's pid instead.)
for (const [how, env] of [["", {}], [" (no pidfd_open)", { API_NO_PIDFD: "1" }]])
test(`a cluster whose supervisor is SIGKILLed: workers whose drain is held end by themselves${how}`, async (t) => {
  const p = spawn(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                  { env: { ...process.env, API_STOP_BLOCKS: "120000", ...env } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const pids = () => [...out.matchAll(/shmio worker \d+ \(pid (\d+)/g)].map((x) => Number(x[1]));
  // Gone: no such process, or a zombie its new parent has not reaped yet.
  const gone = (pid) => {
    try {
      return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return true;
    }
  };
  try {
    if (env.API_NO_PIDFD) {
      await until(() => /pidfd_open (not )?refused/.test(out), 20000, "the filter tried");
      if (/pidfd_open not refused/.test(out)) {
        t.skip("no seccomp filter can be installed here");
        return;
      }
    }
    await until(() => pids().length === 2, 20000, "both workers listen")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    p.kill("SIGKILL");
    // (Their parent-death SIGTERM calls each on_stop, which blocks.)
    await until(() => (err.match(/on_stop blocks/g) || []).length === 2, 10000, "on_stop called");
    const killed = Date.now();
    await until(() => pids().every(gone), 25000, `the workers end by themselves; stderr: ${err}`);
    assert.ok(Date.now() - killed >= 5000, "not before the drain's timeout");
    // (Said on the stderr as it was, not through the worker's log thread, which _exit outruns.)
    assert.equal((err.match(/the supervisor is gone and this process did not stop within 10000 ms/g)
                  || []).length, 2, err);
  } finally {
    p.kill("SIGKILL");
    for (const pid of pids()) try { process.kill(pid, "SIGKILL"); } catch {}
  }
});

// A cluster's process group given a Ctrl-C (every process gets the SIGINT, then the supervisor
// sends each worker its SIGTERM): each worker's on_stop runs to its end (a worker does not take
// the second signal at its default action, as one process does), and the cluster exits 0.
test("a cluster's process group given SIGINT: each worker's on_stop runs to its end", async () => {
  const p = spawn(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                  { env: { ...process.env, API_STOP_BLOCKS: "500" }, detached: true });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  // ("close", not "exit": the pipes read to their end before the stderr is looked at.)
  const exited = new Promise((r) => p.once("close", (...x) => r(x)));
  try {
    await until(() => /worker 0 .*listening/.test(out) && /worker 1 .*listening/.test(out), 20000,
                "both workers listen")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    process.kill(-p.pid, "SIGINT");
    const [code] = await within(exited, 20000, "exit");
    assert.equal(code, 0, err + out);
    assert.match(err, /on_stop done in worker 0/);
    assert.match(err, /on_stop done in worker 1/);
  } finally {
    try { process.kill(-p.pid, "SIGKILL"); } catch {}
  }
});

// A log hook that throws: the line goes to stderr as without a hook, said once; the worker goes
// on (before 2026-12-05 the exception ended its log thread, std::terminate the worker, and its
// successor's first line the same: restarted over and over).
test("a log hook that throws: the line reaches stderr, said once, and nothing is restarted", async () => {
  const p = spawn(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                  { env: { ...process.env, API_LOG_THROWS: "setup of worker 1" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  try {
    await until(() => err.includes("api[0] setup of worker 0") &&
                      err.includes("[w1] setup of worker 1"), 20000, "both setups said")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    assert.match(err, /\[w1\] shmio: the log hook threw \(the log hook's own failure\)/);
  } finally {
    p.kill("SIGTERM");
  }
  const [code] = await within(new Promise((r) => p.once("exit", (...x) => r(x))), 30000, "exit");
  assert.equal(code, 0, err + out);
  assert.doesNotMatch(err + out, /restarting|killed by signal/);
  assert.equal(err.split("the log hook threw").length - 1, 1, err);
});

// Started with the stop signals blocked (as by a program with a sigwait thread, which exec'd it):
// the workers still drain on the supervisor's SIGTERM (before 2026-12-05 they kept the blocked
// mask, never saw it, and were killed at the drain's deadline: exit 1 after 10 s).
test("started with SIGTERM, SIGINT and SIGHUP blocked: a SIGTERM still drains the workers, exit 0", async () => {
  const block = "import os, signal, sys; " +
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}); " +
    "os.execv(sys.argv[1], sys.argv[1:])";
  const p = spawn("python3", ["-c", block, BIN, "--port", "0", "--workers", "2", "--no-pin"]);
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  try {
    await until(() => /worker 0 .*listening/.test(out) && /worker 1 .*listening/.test(out), 20000,
                "both workers listen")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
  } finally {
    p.kill("SIGTERM");
  }
  const [code] = await within(new Promise((r) => p.once("exit", (...x) => r(x))), 30000, "exit");
  assert.equal(code, 0, err + out);
  assert.doesNotMatch(err + out, /killed|deadline/);
});

// A program with an io_context of its own holding a signal_set, run on a thread of its own while
// it serves a cluster: each worker's signals come through a pipe of its own. (Asio keeps one per
// process; before 2026-12-05 the workers were forked with the program's, and a worker's drain
// SIGTERM, written into it, could be read by the program's thread or another worker: that worker
// never drained and was killed at the deadline.)
test("a program with a signal_set of its own: each worker's signals have a pipe of their own, and a SIGTERM drains", async () => {
  const p = spawn(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                  { env: { ...process.env, API_PROGRAM_SIGNALS: "1" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => p.once("close", (...x) => r(x)));
  try {
    await until(() => (out.match(/holds the program's signal pipe/g) || []).length === 2 &&
                      /worker 0 .*listening/.test(out) && /worker 1 .*listening/.test(out),
                20000, "both workers set up and listening")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    assert.match(out, /worker 0 holds the program's signal pipe: no/);
    assert.match(out, /worker 1 holds the program's signal pipe: no/);
  } finally {
    p.kill("SIGTERM");
  }
  const [code] = await within(exited, 30000, "exit");
  assert.equal(code, 0, err + out);
  assert.doesNotMatch(err + out, /killed|did not stop|got SIGUSR2/);
});

// No thread can be made (a cgroup's pids.max, as reached: a seccomp filter here) when serve()
// routes stderr to its log hook: the lines go to stderr as they are, said; the calling thread's
// signals are as they were (before 2026-12-05 every one stayed blocked: no SIGTERM stopped it)
// and so is its stderr (it was left a pipe nobody read).
test("no thread to route stderr: said, the lines go straight to stderr, and a SIGTERM stops it", async (t) => {
  const p = spawn(BIN, ["--port", "0"],
                  { env: { ...process.env, API_NO_THREADS: "1", API_LOG_THROWS: "never said" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => p.once("close", (...x) => r(x)));
  try {
    await until(() => /threads (not )?refused/.test(out), 20000, "the filter tried")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    if (/threads not refused/.test(out)) {
      t.skip("no seccomp filter can be installed here");
      return;
    }
    await until(() => /in setup: /.test(out) && /listening/.test(out), 20000, "set up and listening")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    assert.match(out, /in setup: SIGTERM not blocked, stderr as it was/);
    assert.match(err, /shmio: no thread to take this process's stderr lines \(.*\): they go to stderr as they are, not to the log hook/);
    assert.match(err, /^setup of worker 0$/m);
  } finally {
    p.kill("SIGTERM");
  }
  const [code] = await within(exited, 20000, "exit");
  assert.equal(code, 0, err + out);
});

// A log hook that takes a lock of its own (as a logging library does), slow: the supervisor
// forked while its log thread was inside the hook, holding that lock, and the child inherited it
// held by a thread it does not have: its first line waited for ever (found in review,
// 2026-12-03). Here the supervisor's "restarting" line is in the hook (400 ms) when it forks
// the killed worker's successor (100 ms later): the successor's setup line reaches the hook.
test("a log hook with a lock of its own: a restarted worker's lines reach it (no fork while it is held)", async () => {
  const p = spawn(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                  { env: { ...process.env, API_SLOW_LOG: "400" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const setups = () => err.split("api[1] setup of worker 1").length - 1;
  try {
    await until(() => setups() === 1 && err.includes("api[0] setup of worker 0"), 20000, "started");
    const pid = Number(out.match(/shmio worker 1 \(pid (\d+)/)[1]);
    // A worker does not keep the read end of the supervisor's log pipe (before 2026-12-05 each
    // did: a process writing into it never got EPIPE once the supervisor was gone).
    const pipe = fs.readlinkSync(`/proc/${p.pid}/fd/2`);
    assert.match(pipe, /^pipe:/);
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let target = "";
      try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      assert.notEqual(target, pipe, `worker 1's fd ${fd} is the supervisor's log pipe`);
    }
    process.kill(pid, "SIGKILL");
    await until(() => setups() === 2, 20000, "the successor's setup line through the hook")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}`); });
  } finally {
    p.kill("SIGTERM");
    await within(new Promise((r) => p.once("exit", r)), 30000, "exit");
  }
});

// A worker that dies of a signal (abort(): a failed assertion, std::terminate) has its last lines
// said, tagged as its others, the last one without its newline too: they were in the pipe to its
// stderr thread, which died with it, and were lost (before 2026-12-04; a helper's review). Three
// runs, each pinned to one CPU as a worker is (its stderr thread then on the same CPU as the
// dying thread: the lines were lost in nearly every run).
test("a worker killed by a signal has its last lines said", async () => {
  // (The fourth run with a log hook: the supervisor routes its own stderr too, and its worker
  // inherits the handler — taken for the worker's "before", it raised the signal for ever.)
  for (let run = 0; run < 4; ++run) {
    const hook = run === 3;
    const flag = path.join(os.tmpdir(), `shmio-abort-once-${process.pid}-${run}`);
    fs.rmSync(flag, { force: true });
    const p = spawn(BIN, ["--port", "0", "--workers", "1"],
                    { env: { ...process.env, API_ABORT_ONCE: flag, ...(hook ? { API_SLOW_LOG: "0" } : {}) } });
    let err = "", out = "";
    p.stderr.on("data", (d) => (err += d));
    p.stdout.on("data", (d) => (out += d));
    try {
      await until(() => /killed by signal 6/.test(err + out) && /listening/.test(err + out), 20000,
                  "the abort and the successor").catch((e) => {
        throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`);
      });
      // (With the hook, a line the thread had passed on is the hook's: "api[0] ...".)
      assert.match(err, hook ? /(\[w0\]|api\[0\]) worker 0 about to abort\n/
                             : /\[w0\] worker 0 about to abort\n/, `run ${run}: ${err}`);
      assert.match(err, /\[w0\] its last words\n/, `run ${run}: ${err}`);
    } finally {
      p.kill("SIGTERM");
      await within(new Promise((r) => p.once("exit", r)), 30000, "exit");
      fs.rmSync(flag, { force: true });
    }
  }
});

// The supervisor's own refusals with a log hook: its line reaches the hook once before the
// process exits (a port in use: lost in most runs, twice in some, before 2026-12-03; the process
// ended before its log thread had written it). Five runs, each must say it once.
test("a log hook hears a cluster's refusal to start (a port in use) once", async () => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  const port = blocker.address().port;
  try {
    for (let i = 0; i < 5; ++i) {
      const r = spawnSync(BIN, ["--port", String(port), "--workers", "1", "--no-pin"],
                          { env: { ...process.env, API_SLOW_LOG: "1" }, encoding: "utf8", timeout: 20000 });
      assert.equal(r.status, 1, r.stderr);
      const said = r.stderr.match(/api\[-1\] shmio: cannot listen on 127\.0\.0\.1:\d+: it is in use/g) ?? [];
      assert.equal(said.length, 1, `run ${i}: ${JSON.stringify(r.stderr)}`);
    }
  } finally {
    blocker.close();
  }
});

// A worker that cannot join its cluster at its first start (here: its ring notifier refused, a
// variable set wrong in the workers alone: API_BREAK_WORKERS) stops the cluster with why, as one
// that cannot listen does: it was taken for a crash and restarted for ever (before 2026-12-03).
test("a worker that cannot join its cluster at its first start stops the cluster (exit 1)", async () => {
  const r = spawnSync(BIN, ["--port", "0", "--workers", "2", "--no-pin"],
                      { env: { ...process.env, API_BREAK_WORKERS: "1" }, encoding: "utf8", timeout: 30000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /worker \d cannot join the cluster: .*SHMIO_RING_NOTIFIER is 'bogus'/);
  assert.match(r.stderr, /cannot start; stopping the cluster/);
  assert.doesNotMatch(r.stderr, /restarting/);
  // And a single process whose Server refuses its options (set in code: the Server's to check):
  // said through the log hook, exit 1 (the exception ended the process before 2026-12-03).
  const s = spawnSync(BIN, ["--port", "0"],
                      { env: { ...process.env, API_ID_PREFIX: "123456789", API_SLOW_LOG: "1" }, encoding: "utf8", timeout: 30000 });
  assert.equal(s.status, 1, s.stderr);
  assert.match(s.stderr, /api\[-1\] shmio: the server cannot start: .*id_prefix/);
});

// SIGUSR1 during a worker's start (its app's setup) and as it ends after its drain is said or
// ignored, not its default action: before 2026-12-07 the worker took it only once it listened
// (a log rotation's `pkill -USR1` during a slow setup killed it: "killed by signal 10;
// restarting") and gave it back at its default action as it ended ("killed by signal 10 during
// the drain"; a review).
test("SIGUSR1 during a worker's setup and as it ends does not kill it", async () => {
  const go = path.join(os.tmpdir(), `shmio-api-setup-go-${process.pid}`);
  fs.rmSync(go, { force: true });
  const p = spawn(BIN, ["--port", "0", "--workers", "1", "--no-pin"],
                  { env: { ...process.env, API_SETUP_WAITS: go, API_STOP_BLOCKS: "300" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => p.once("close", (...x) => r(x)));
  try {
    await until(() => /setup of worker 0 waits \(pid \d+\)/.test(err), 20000, "setup waits")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}`); });
    const worker = Number(err.match(/setup of worker 0 waits \(pid (\d+)\)/)[1]);
    process.kill(worker, "SIGUSR1");
    fs.writeFileSync(go, "");
    await until(() => /worker 0 .*listening/.test(out), 20000, "the worker listens")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    await until(() => /shmio\[w0\]: SIGUSR1 ignored/.test(err), 10000, "said once it runs");
    // As it ends: SIGUSR1 sent to it again and again from its drain (its on_stop holds it
    // 300 ms) until it is gone.
    p.kill("SIGTERM");
    await until(() => /on_stop/.test(err) || p.exitCode !== null, 10000, "the drain");
    for (const until = Date.now() + 15000; Date.now() < until && p.exitCode === null;) {
      try { process.kill(worker, "SIGUSR1"); } catch { break; }  // (gone)
      await new Promise((r) => setTimeout(r, 2));
    }
    const [code] = await within(exited, 20000, "exit");
    assert.equal(code, 0, err);
    assert.doesNotMatch(err, /killed by signal/);
    assert.doesNotMatch(err, /restarting/);
  } finally {
    fs.rmSync(go, { force: true });
    if (p.exitCode === null) p.kill("SIGKILL");
  }
});

// An app's own SIGUSR1 handler installed in its setup is the app's: it runs, shmio does not say
// the signal ignored (since 2026-12-07 shmio takes the signal before the setup; a review).
test("an app's SIGUSR1 handler installed in its setup runs, not shmio's", async () => {
  const p = spawn(BIN, ["--port", "0", "--workers", "1", "--no-pin"],
                  { env: { ...process.env, API_SETUP_SIGUSR1: "1" } });
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  try {
    await until(() => /worker 0 \(pid (\d+),.*listening/.test(out), 20000, "the worker listens")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}; stdout: ${out}`); });
    const worker = Number(out.match(/worker 0 \(pid (\d+),/)[1]);
    process.kill(worker, "SIGUSR1");
    await until(() => /the app's SIGUSR1 handler ran/.test(err), 10000, "the app's handler ran")
      .catch((e) => { throw new Error(`${e.message}; stderr: ${err}`); });
    assert.doesNotMatch(err, /SIGUSR1 ignored/);
  } finally {
    p.kill("SIGKILL");
  }
  // One process: the app's handler is still there when serve() returns (Asio's signal set, let go
  // of at the end, put the default action over it before).
  const { p: one, u } = await startApp(["--port", "0"], { API_SETUP_SIGUSR1: "1" }, () => {}, "one process");
  let said = "";
  one.stdout.on("data", (d) => (said += d));
  const exited = new Promise((r) => one.once("close", r));
  try {
    assert.equal((await fetch(`${u}/health`)).status, 200);
    one.kill("SIGTERM");
    await within(exited, 20000, "exit");
    assert.match(said, /SIGUSR1 after serve: the app's handler/);
  } finally {
    if (one.exitCode === null) one.kill("SIGKILL");
  }
});

test("an on_stop that throws: said on stderr, and the stop goes on (clients told, exit 0)", async () => {
  for (const args of [[], ["--workers", "2", "--no-pin"]]) {
    const p = spawn(BIN, ["--port", "0", ...args], { env: { ...process.env, API_STOP_THROWS: "1" } });
    let out = "", err = "";
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise((r) => p.once("exit", (...x) => r(x)));
    try {
      const port = await within(new Promise((resolve, reject) => {
        p.stdout.on("data", (d) => {
          out += d;
          const ports = [...out.matchAll(/listening on [^:]+:(\d+)/g)].map((m) => m[1]);
          if (ports.length === (args.length ? 2 : 1)) resolve(ports[0]);
        });
        p.on("exit", (code) => reject(new Error(`exited with ${code}: ${err}`)));
      }), 20000, `${args}: start`);
      const s = connect(`http://127.0.0.1:${port}`, { reconnection: false, forceNew: true, transports: ["websocket"] });
      opened.push(s);
      await until(() => s.connected, 5000, "connected");
      const gone = new Promise((r) => s.once("disconnect", r));
      p.kill("SIGTERM");
      assert.deepEqual(await within(exited, 15000, `${args}: exit`), [0, null], err);
      await within(gone, 5000, `${args}: the client disconnected`);
      const said = err.match(/on_stop failed: the last save could not be written/g) ?? [];
      assert.equal(said.length, args.length ? 2 : 1, `${args}: once per worker: ${err}`);
      assert.doesNotMatch(err, /restarting/);
    } finally {
      if (p.exitCode === null) p.kill("SIGKILL");
    }
  }
});

test("close(done): every client is disconnected and the callback runs", async () => {
  const s = client();
  await until(() => s.connected, 5000, "connected");
  const gone = new Promise((r) => s.once("disconnect", r));
  s.emit("close-server");
  await within(gone, 5000, "disconnect");
  await until(() => /close callback ran/.test(log), 5000, "the callback");
});


// A program that embeds serve() and goes on after it keeps its own signal handlers: serve() gives
// SIGINT, SIGTERM, SIGHUP and SIGPIPE back as it found them (before 2026-12-04 Asio's signal_set
// left SIGINT at its default and SIGPIPE stayed ignored), and its soft descriptor limit, which
// serve() raises while it runs (before 2026-12-06 left raised).
test("serve() gives the program's signal dispositions and descriptor limit back when it returns", async () => {
  const { p, u } = await startApp(["--port", "0"], { API_CHECK_SIGNALS: "1" }, () => {}, "start");
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const exited = new Promise((r) => p.once("exit", r));
  try {
    // (Its loop runs once it answers: its stop signals are taken by then; "listening" is said a
    // moment before, and a SIGTERM then met the default action.)
    assert.equal((await fetch(`${u}/health`)).status, 200);
    p.kill("SIGTERM");
    assert.equal(await within(exited, 20000, "exit"), 0);
  } finally {
    if (p.exitCode === null) p.kill("SIGKILL");
  }
  assert.match(out, /signals after serve: as the program left them/);
  assert.match(out, /descriptor limit after serve: as the program left it/);
});

// A worker killed while its app's middleware decides on a recovered socket (here one that never
// answers, as a look-up to a lost database) does not lose the session: the client's next attempt,
// on another worker, recovers it, with its id and what it missed. Before 2026-12-06 the worker had
// taken the entry out of the shared session table at the attempt, and with it gone the next
// attempt got a fresh session ("unknown session").
// (A cluster is stopped by its test; one whose start failed, by this, the ring with it.)
const clusters = [];
after(() => clusters.forEach((c) => c.proc.exitCode === null && c.proc.kill("SIGTERM")));
test("a worker killed while its middleware holds a recovered socket leaves the session for the next attempt", async () => {
  const c = await startCluster(BIN, null, 2, ["--recovery", "--log-sockets"], true, clusters,
                               { API_HOLD_RECOVERED: "1" });
  const sub = connect(`${c.url(0)}/held`, { forceNew: true, transports: ["websocket"],
                                            reconnectionDelay: 300, randomizationFactor: 0 });
  const pub = connect(`${c.url(0)}/held`, { forceNew: true, reconnection: false, transports: ["websocket"] });
  try {
    await until(() => sub.connected && pub.connected, 5000, "connected");
    const got = [];
    sub.on("shout", (m) => got.push(m));
    await ack(pub, "shout", "m0");
    await until(() => got.length === 1, 5000, "m0");
    const id = sub.id, pid = sub._pid;
    assert.ok(pid, "recovery on: the CONNECT answer has a pid");
    // Away; its next attempt goes to worker 1, whose middleware holds it.
    sub.io.uri = c.url(1);
    sub.auth = { hold: true };
    const dropped = new Promise((r) => sub.once("disconnect", r));
    sub.io.engine.close();
    await within(dropped, 5000, "disconnect");
    await ack(pub, "shout", "m1");  // missed while away
    await until(() => c.log.includes(`holding ${pid}`), 10000, `worker 1 holds it; stderr: ${c.log}`);
    // Worker 1 dies with it; the attempt after goes to worker 0, which holds nothing.
    sub.io.uri = c.url(0);
    sub.auth = {};
    process.kill(c.workers.get(1).pid, "SIGKILL");
    await until(() => sub.connected, 15000, `reconnected; stderr: ${c.log}`);
    assert.equal(sub.recovered, true,
                 c.log.split("\n").filter((l) => l.includes("not recovered")).join("\n"));
    assert.equal(sub.id, id);
    assert.deepEqual(got, ["m0", "m1"]);
  } finally {
    sub.disconnect();
    pub.disconnect();
    const exited = new Promise((r) => c.proc.once("exit", r));
    c.proc.kill("SIGTERM");  // (drained: the ring and its table removed)
    await within(exited, 15000, "the cluster's exit").catch(() => {
      c.proc.kill("SIGKILL");  // (its files then removed here)
      for (const f of fs.readdirSync("/dev/shm")) if (f.includes(c.ring)) fs.rmSync(`/dev/shm/${f}`, { force: true });
    });
  }
});
