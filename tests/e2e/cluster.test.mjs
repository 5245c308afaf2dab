// The cluster (issue #4) with real processes and the real socket.io-client: a supervisor and its
// workers joined by the ring. Most tests use --port-per-worker so that each client lands on a
// known worker; the polling tests use one shared port (SO_REUSEPORT) where requests land on any
// worker and must be handed to their session's owner. Run by ctest: SHMIO_BIN and SHMIO_EMIT.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { io as connect } from "socket.io-client";
import { once, within, until, untilAsync, startCluster, freePorts } from "./helpers.mjs";

const BIN = process.env.SHMIO_BIN;
const EMIT = process.env.SHMIO_EMIT;
const INSPECT = process.env.SHMIO_INSPECT;
const clusters = [];
const opened = [];
after(() => {
  opened.forEach((s) => s.disconnect());
  clusters.forEach((c) => c.proc.exitCode === null && c.proc.kill("SIGTERM"));
});


// `shmio --workers n` (helpers.mjs), registered for the cleanup.
const cluster = (app, n, extra = [], perWorker = true) =>
  startCluster(BIN, app, n, extra, perWorker, clusters);

function client(url, opts = {}) {
  const s = connect(url, { reconnection: false, forceNew: true, transports: ["websocket"], ...opts });
  opened.push(s);
  return s;
}
const ack = (s, ...args) => within(s.timeout(10000).emitWithAck(...args), 10000, `ack of ${args[0]}`);
function collect(s, event) {
  const got = [];
  s.on(event, (...a) => got.push(a));
  return got;
}

// (Also with a ring per worker: each worker writes its own ring and reads all of them.)
const PER_WORKER = ["--ring-per-worker", "--ring-mb", "4"];
const MODES = [["", []], [" (a ring per worker)", PER_WORKER]];
// The rings a worker reads, by its /metrics: the shared one, plus one per worker in that mode.
async function assertRings(port, expected) {
  const m = (await request(port, "GET", "/metrics")).body;
  assert.match(m, new RegExp(`^shmio_rings\\{worker="\\d+"\\} ${expected}$`, "m"), `${expected} rings`);
}
for (const [mode, extra] of [["", []], [" (a ring per worker)", PER_WORKER]])
test(`clients on different workers: broadcasts, rooms, operators and requests across the ring${mode}`, async () => {
  const c = await cluster("bench", 2, extra);
  const a = client(c.url(0)), b = client(c.url(1)), b2 = client(c.url(1));
  await Promise.all([a, b, b2].map((s) => within(once(s, "connect"), 5000, "connect")));
  assert.equal((await ack(a, "whoami")).worker, 0);
  assert.equal((await ack(b, "whoami")).worker, 1);
  const [ga, gb, gb2] = [a, b, b2].map((s) => collect(s, "msg"));

  // io.emit from worker 0 reaches worker 1's clients (and its own).
  a.emit("publish", null, { n: 1 });
  await until(() => ga.length === 1 && gb.length === 1 && gb2.length === 1, 5000, "io.emit");

  // to(room): a room joined on worker 1 is reached from worker 0.
  await ack(b, "join", "r1");
  a.emit("publish", "r1", { n: 2 });
  await until(() => gb.length === 2, 5000, "to(room)");
  // publish-others (socket.to / broadcast) excludes the sender, wherever the others are.
  b.emit("publish-others", null, { n: 3 });
  await until(() => ga.length === 2 && gb2.length === 2, 5000, "broadcast");
  // except(room) across workers.
  await ack(a, "publish-except", "r1", { n: 4 });
  await until(() => ga.length === 3 && gb2.length === 3, 5000, "except");
  await ack(a, "echo", 0);
  await ack(b, "echo", 0); // worker 1 has read the ring past the except broadcast
  assert.deepEqual(gb.map(([m]) => m.n), [1, 2], "b is in r1: excluded from except(r1), not the sender");
  assert.deepEqual(ga.map(([m]) => m.n), [1, 3, 4]);

  // fetchSockets sees the rooms joined on the other worker; count is cluster-wide.
  const inR1 = await ack(a, "fetch", "r1");
  assert.deepEqual(inR1.map((s) => s.id), [b.id]);
  assert.ok(inR1[0].rooms.includes("r1"));
  assert.equal(await ack(a, "count"), 3);
  assert.equal(await ack(a, "server-count"), 2);

  // socketsJoin from worker 0 makes worker 1's sockets join; then a broadcast to that room.
  await ack(a, "sockets-join", "r1", "r2");
  const inR2 = await ack(a, "fetch", "r2");
  assert.deepEqual(inR2.map((s) => s.id), [b.id]);

  // serverSideEmit with acks: worker 1 answers worker 0.
  const pong = await ack(a, "ping-workers", 5000);
  assert.deepEqual(pong, { error: null, workers: [1] });

  // Broadcast with acks across workers: every client answers, wherever it is.
  for (const [s, name] of [[a, "a"], [b, "b"], [b2, "b2"]]) s.on("question", (cb) => cb(name));
  const asked = await ack(a, "ask-all", 5000);
  assert.equal(asked.error, null);
  assert.deepEqual(asked.responses.sort(), ["a", "b", "b2"]);

  // A room left on worker 1 is left for broadcasts from worker 0 too.
  await ack(b2, "join", "r3");
  await ack(b2, "leave", "r3");
  await ack(a, "publish-except", "nobody", { n: 5 }); // a marker everyone gets
  a.emit("publish", "r3", { n: 6 });
  await ack(a, "publish-except", "nobody", { n: 7 });
  await until(() => gb2.length === 5, 5000, "markers");
  assert.deepEqual(gb2.slice(-2).map(([m]) => m.n), [5, 7], "b2 left r3: no message 6");

  // disconnectSockets across workers.
  const gone = once(b, "disconnect");
  await ack(a, "disconnect-room", "r2");
  assert.equal((await within(gone, 5000, "remote disconnect"))[0], "io server disconnect");
  assert.ok(b2.connected);
});

for (const [mode, extra] of [["", []], [" (a ring per worker: emitters write the shared ring)", PER_WORKER]])
test(`shmio-emit reaches clients on every worker, and rooms through them${mode}`, async () => {
  const c = await cluster("bench", 2, extra);
  const a = client(c.url(0)), b = client(c.url(1));
  await Promise.all([a, b].map((s) => within(once(s, "connect"), 5000, "connect")));
  await ack(b, "join", "news");
  const [ga, gb] = [a, b].map((s) => collect(s, "hello"));
  const run = (...args) => new Promise((resolve) => execFile(EMIT, ["--ring", c.ring, ...args],
                                                             (err, stdout, stderr) => resolve({ err, stderr })));
  let r = await run("--event", "hello", '{"to":"all"}', "2");
  assert.equal(r.err, null, r.stderr);
  await until(() => ga.length === 1 && gb.length === 1, 5000, "emit to all");
  assert.deepEqual(ga[0], [{ to: "all" }, 2]);
  r = await run("--room", "news", "--event", "hello", '"news only"');
  assert.equal(r.err, null, r.stderr);
  await until(() => gb.length === 2, 5000, "emit to room");
  r = await run("--room", "news", "--join", "vip");
  assert.equal(r.err, null, r.stderr);
  const vip = async () => (await ack(a, "fetch", "vip")).map((s) => s.id);
  if (extra.length === 0) {
    // One ring: one order — the emitter's join is in it before worker 0's request.
    assert.deepEqual(await vip(), [b.id]);
  } else {
    // A ring per worker: the emitter's join (the shared ring) and worker 0's request (its own
    // ring) have no common order (docs/ring-per-worker.md, "Order"); worker 1 may answer the
    // request before it applies the join, so the join is waited for.
    await untilAsync(async () => (await vip()).join() === b.id, 5000, "the emitter's join");
  }
  await ack(a, "echo", 0);
  assert.equal(ga.length, 1, "a is not in news");
  // A lone surrogate escape (a string cut inside an emoji) reads as U+FFFD, as the server reads a
  // client's JSON (shmio-emit refused it before 2026-12-05).
  r = await run("--room", "news", "--event", "hello", '"\\ud83d cut"');
  assert.equal(r.err, null, r.stderr);
  await until(() => gb.length === 3, 5000, "the lone surrogate's emit");
  assert.deepEqual(gb[2], ["\ufffd cut"]);
  // JSON nested 100 deep is JSON (the parser's default of 32 refused it as "not JSON" before
  // 2026-12-06); past 1,000 levels it is refused, saying so.
  r = await run("--room", "news", "--event", "hello", "[".repeat(100) + "]".repeat(100));
  assert.equal(r.err, null, r.stderr);
  await until(() => gb.length === 4, 5000, "the deep emit");
  r = await run("--event", "hello", "[".repeat(1001) + "]".repeat(1001));
  assert.equal(r.err?.code, 2);
  assert.match(r.stderr, /nested deeper than 1000 levels/);
  // Bad input: a clear error and exit status, nothing sent.
  r = await run("--event", "hello", "{not json");
  assert.equal(r.err.code, 2);
  r = await new Promise((resolve) => execFile(EMIT, ["--ring", "no-such-ring", "--event", "x"],
                                              (err, _o, stderr) => resolve({ err, stderr })));
  assert.equal(r.err.code, 3);
  assert.match(r.stderr, /cannot attach ring/);
  // Found in review (2026-12-03): each of these was taken (exit 0). A value that is the next
  // option, an action twice, a port that is not one, --close without --disconnect; a name that is
  // not UTF-8 (every client's WebSocket failed on the frame: all of them disconnected).
  for (const [args, message] of [
    [["--room", "--join", "x"], /--room needs a value \(got --join\)/],
    [["--join", "a", "--join", "b"], /--join given twice/],
    [["--nsp", "/admin", "--nsp", "/", "--event", "x"], /--nsp given twice/],
    [["--close", "--event", "x"], /--close goes with --disconnect/],
    [["--room", "r", "--event", "x", "--room", "s"], /options go before --event NAME/],
    // (2026-12-05: an empty value — `--nsp "$NSP"` with NSP unset reached every client of "/".)
    [["--nsp", "", "--event", "x"], /--nsp must not be empty/],
    [["--room", "", "--event", "x"], /--room must not be empty/],
    [["--join", ""], /--join must not be empty/],
    // (2026-12-05: past what a record's names hold.)
    [["--leave", "r".repeat(65536)], /a room to join or leave over 65535 bytes/]]) {
    r = await run(...args);
    assert.equal(r.err?.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // (And, 2026-12-03: a port with a sign, an empty --redis — taken for no --redis, the ring's
  // mode —, a SHMIO_PORT that is no port.)
  for (const [args, env, message] of [
    [["--port", "abc"], {}, /--port must be a port number/],
    [["--port", "+1"], {}, /--port must be a port number/],
    [["--redis", ""], {}, /--redis must not be empty/],
    [[], { SHMIO_PORT: "abc" }, /SHMIO_PORT must be a port number/],
    // (2026-12-05: set but empty, refused as shmio refuses it; taken for unset before.)
    [[], { SHMIO_RING: "", SHMIO_PORT: "abc" }, /SHMIO_RING is empty/],
    [[], { SHMIO_PORT: "" }, /SHMIO_PORT is empty/],
    // (2026-12-05: a name that is no ring's said as such, and which variable gave it; exit 3,
    // "cannot attach ring", before.)
    [["--ring", "a/b"], {}, /--ring: /],
    [[], { SHMIO_RING: "a/b" }, /SHMIO_RING: /]]) {
    r = await new Promise((resolve) => execFile(EMIT, [...args, "--event", "x"], { env: { ...process.env, ...env } },
                                                (err, _o, stderr) => resolve({ err, stderr })));
    assert.equal(r.err?.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  for (const bad of ["--event $'n\\xffews' '\"x\"'", "--room $'r\\xff' --event x", "--join $'\\xc3'"]) {
    r = await new Promise((resolve) => execFile("bash", ["-c", `"$0" --ring ${c.ring} ${bad}`, EMIT],
                                                (err, _o, stderr) => resolve({ err, stderr })));
    assert.equal(r.err?.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /is not UTF-8/);
  }
  await ack(a, "echo", 0);
  assert.equal(a.connected && b.connected, true, "nothing sent that closed them");
});

// Found in review (2026-12-03): a cluster killed without its drain leaves its ring; shmio-emit
// wrote into it and said it had (exit 0), reaching no one. Now: refused, exit 3, saying why.
test("shmio-emit into the ring of a cluster that is not running: refused (exit 3)", async () => {
  const c = await cluster("bench", 1, [], false);
  const exited = once(c.proc, "exit");
  c.proc.kill("SIGKILL");  // (its worker follows: it is told of its parent's death)
  await exited;
  await until(() => !existsSync(`/proc/${c.workers.get(0).pid}`), 10000, "the worker gone");
  try {
    assert.equal(existsSync(`/dev/shm/shmio.${c.ring}`), true, "the ring was left");
    const r = await new Promise((resolve) => execFile(EMIT, ["--ring", c.ring, "--event", "x"],
                                                      (err, _o, stderr) => resolve({ err, stderr })));
    assert.equal(r.err?.code, 3, r.stderr);
    assert.match(r.stderr, /the cluster that made ring '.*' is not running \(its creator, pid \d+, is gone/);
  } finally {
    for (const f of readdirSync("/dev/shm")) if (f.includes(c.ring)) unlinkSync(`/dev/shm/${f}`);
  }
});

// Raw Engine.IO over HTTP with a fresh TCP connection per request (agent: false): on one shared
// port each request lands on any worker.
function request(port, method, path, body, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent,
                               headers: body ? { "content-type": "text/plain" } : {} }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

async function metricSum(port, name, tries = 12) {
  // Each request reaches one worker (SO_REUSEPORT): ask several times, keep each worker's value.
  const per = new Map();
  for (let i = 0; i < tries; ++i) {
    const { body } = await request(port, "GET", "/metrics");
    for (const m of body.matchAll(new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\d+)$`, "gm")))
      per.set(m[1], Number(m[2]));
  }
  return [...per.values()].reduce((x, y) => x + y, 0);
}

for (const [mode, extra] of MODES)
test(`polling on one shared port: requests reach their session's worker (fresh and keep-alive connections)${mode}`, async () => {
  const c = await cluster("bench", 2, extra, false);
  const port = c.workers.get(0).port;
  await assertRings(port, extra.length ? 3 : 1);
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (const agent of [false, keepAlive]) {
    const open = await request(port, "GET", "/socket.io/?EIO=4&transport=polling", null, agent);
    assert.equal(open.status, 200);
    const { sid } = JSON.parse(open.body.slice(1));
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    assert.equal((await request(port, "POST", q, "40", agent)).body, "ok");
    const connected = await request(port, "GET", q, null, agent);
    assert.match(connected.body, /^40\{"sid":"/);
    // 20 round trips, each POST and GET on its own connection (or the keep-alive one).
    for (let i = 0; i < 20; ++i) {
      assert.equal((await request(port, "POST", q, `42${i}["whoami"]`, agent)).body, "ok");
      const r = await request(port, "GET", q, null, agent);
      assert.match(r.body, new RegExp(`^43${i}\\[\\{"worker":\\d,"pid":\\d+,"id":"`), `round ${i}: ${r.body}`);
    }
    assert.equal((await request(port, "POST", q, "1", agent)).body, "ok"); // close the session
  }
  keepAlive.destroy();
  // With 80+ fresh connections spread by the kernel, some landed on the other worker.
  assert.ok(await metricSum(port, "shmio_handed_off_total") > 0, "no request was handed over");
  // (Each worker's figures reach the others' /metrics within a second: asked until they agree.)
  await untilAsync(async () => await metricSum(port, "shmio_adopted_total") ===
                   await metricSum(port, "shmio_handed_off_total"), 5000,
                   "every connection handed over taken over by its owner (shmio_adopted_total)");

  // The real client, polling only, several at once.
  const clients = Array.from({ length: 6 }, () => client(`http://127.0.0.1:${port}`, { transports: ["polling"] }));
  await Promise.all(clients.map((s) => within(once(s, "connect"), 10000, "polling connect")));
  const got = clients.map((s) => collect(s, "msg"));
  for (let i = 0; i < 5; ++i) clients[i % clients.length].emit("publish", null, { i });
  await until(() => got.every((g) => g.length === 5), 10000, "polling broadcasts");
  for (const g of got) assert.deepEqual(g.map(([m]) => m.i).sort(), [0, 1, 2, 3, 4]);
  assert.equal(await ack(clients[0], "count"), 6);
});

// A POST whose Content-Length is over maxHttpBufferSize (1 MB): its header and first bytes only,
// on a connection of its own; resolves with the answer's status line.
function oversizedPost(port, path) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () =>
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n` +
              `Content-Length: 2000000\r\n\r\n` + "x".repeat(1000)));
    let got = "";
    s.on("data", (d) => {
      got += d;
      if (got.includes("\r\n")) { s.destroy(); resolve(got.slice(0, got.indexOf("\r\n"))); }
    });
    s.on("error", reject);
    s.on("close", () => resolve(got));
  });
}

test("an oversized POST closes its session (413) whichever worker's connection it lands on", async () => {
  const c = await cluster("bench", 2, [], false);
  const port = c.workers.get(0).port;
  const before = await metricSum(port, "shmio_handed_off_total");
  // The kernel spreads fresh connections over both workers: in 12 tries some POSTs land on the
  // session's own worker and some on the other (before 2026-12-04 the other answered 413 and
  // the session stayed open until its ping timeout).
  for (let i = 0; i < 12; ++i) {
    const open = await request(port, "GET", "/socket.io/?EIO=4&transport=polling");
    const { sid } = JSON.parse(open.body.slice(1));
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    assert.match(await oversizedPost(port, q), /^HTTP\/1\.1 413 /, `try ${i}`);
    // The session is gone: a GET for it is refused at once (it would wait for a ping if open).
    const r = await within(request(port, "GET", q), 5000, `try ${i}: the GET after the 413`);
    assert.equal(r.status, 400, `try ${i}: ${r.body}`);
    assert.match(r.body, /"code":1/, `try ${i}`);
  }
  assert.ok(await metricSum(port, "shmio_handed_off_total") > before, "no request was handed over");
});

for (const [mode, extra] of MODES)
test(`connection state recovery across workers: away on worker 0, back on worker 1, nothing missed${mode}`, async () => {
  const c = await cluster("chat", 2, [...extra, "--log-sockets"]);
  const alice = client(c.url(1));
  const bob = client(c.url(0), { reconnection: true, reconnectionDelay: 300, randomizationFactor: 0 });
  await Promise.all([alice, bob].map((s) => within(once(s, "connect"), 5000, "connect")));
  const got = [];
  bob.on("chat message", (m) => got.push(m));
  alice.emit("chat message", "m0");
  await until(() => got.length === 1, 5000, "m0");
  const id = bob.id;
  // Bob drops; his next connection goes to worker 1.
  bob.io.uri = c.url(1);
  const dropped = once(bob, "disconnect");
  bob.io.engine.close();
  await within(dropped, 5000, "disconnect");
  for (const m of ["m1", "m2", "m3"]) alice.emit("chat message", m);
  await ack(alice, "chat message", "m4");
  await within(once(bob, "connect"), 10000, "reconnect");
  assert.equal(bob.recovered, true);
  assert.equal(bob.id, id);
  assert.deepEqual(got.slice(0, 5), ["m0", "m1", "m2", "m3", "m4"]);

  // What an operator sees of it (shm-inspect, read-only): the session table of the shared ring
  // with both clients' entries, and with a ring per worker the workers' cut logs.
  // (Asserted in the test's own promise: a throw in execFile's callback was not the test's, and
  // the file waited for ctest's timeout; a review.)
  const inspect = (name, what) => new Promise((resolve, reject) =>
    execFile(INSPECT, ["--name", name, "--json", what], (err, stdout, stderr) => {
      if (err) reject(new Error(`shm-inspect ${what}: ${err.message}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    }));
  const { sessions } = await inspect(c.ring, "sessions");
  assert.ok(sessions.entries >= 2 && sessions.handed_out >= sessions.entries, JSON.stringify(sessions));
  assert.equal(sessions.slots, 131072);
  const logs = (await inspect(c.ring, "cuts")).cuts;
  if (extra.length === 0) {
    assert.equal(logs, null, "no cut logs on one shared ring");
  } else {
    assert.equal(logs.logs, 2);
    assert.equal(logs.columns, 3);
    assert.ok(logs.per_worker.some((l) => l.next > 0 && l.last && l.last.cut.length === 3),
      JSON.stringify(logs));
    assert.equal((await inspect(`${c.ring}.w0`, "sessions")).sessions, null, "a worker's ring has none");
  }

  // An offset the ring no longer has (or never had): a clean fresh session, never a partial one.
  const stale = client(c.url(0), { auth: { pid: "nope", offset: "0000000000000000" } });
  await within(once(stale, "connect"), 5000, "connect");
  assert.equal(stale.recovered, false);
  if (extra.length === 0) return;
  // With a ring per worker the offset names the delivering worker, the entry of its cut log, the
  // ring and the position (32 digits): a client's own, altered in each part, is refused cleanly.
  const offset = bob._lastOffset;
  assert.match(offset, /^[0-9a-f]{32}$/, "a worker's offset");
  const bad = [["ff" + offset.slice(2), "no such worker", /malformed offset/],
               [offset.slice(0, 2) + "ffffffffffff" + offset.slice(14), "an entry never written",
                /cut log no longer holds the offset's entry/],
               [offset.slice(0, 14) + "ff" + offset.slice(16), "no such ring", /malformed offset/],
               [offset.slice(0, 16) + "0".repeat(16), "a position not the record's",
                /the offset names no broadcast still in its ring/],
               [offset.slice(0, 16) + (BigInt("0x" + offset.slice(16)) + 8n).toString(16).padStart(16, "0"),
                "a position inside the record", /the offset names no broadcast still in its ring/]];
  for (const [off, what, why] of bad) {
    const s = client(c.url(0), { reconnection: true, reconnectionDelay: 100, randomizationFactor: 0 });
    await within(once(s, "connect"), 5000, "connect");
    const seen = collect(s, "chat message");
    await ack(alice, "chat message", what);  // an offset and a saved session for s
    await until(() => seen.length === 1, 5000, "a message");
    s._lastOffset = off;
    const pid = s._pid;
    const dropped = once(s, "disconnect");
    s.io.engine.close();
    await within(dropped, 5000, "disconnect");
    await within(once(s, "connect"), 10000, "reconnect");
    assert.equal(s.recovered, false, what);
    await until(() => why.test(c.log.split("\n").filter((l) => l.includes(pid) || l.includes(off)).join("\n")),
                5000, `the reason for ${what}`);
    s.disconnect();
  }
  // The workers' cut logs live beside the ring and go with it.
  const cuts = () => readdirSync("/dev/shm").filter((f) => f.startsWith(`shmio-cuts.${c.ring}.`));
  assert.equal(cuts().length, 1, "one cut log object");
  c.proc.kill("SIGTERM");
  assert.equal((await within(once(c.proc, "exit"), 15000, "supervisor exits"))[0], 0);
  assert.deepEqual(cuts(), [], "removed with the ring");
});

for (const [mode, extra] of MODES)
test(`SIGKILL a worker under load: restarted, others lose nothing, its clients recover, requests do not stall${mode}`, async () => {
  const c = await cluster("chat", 2, extra);
  const sender = client(c.url(0));
  const steady = client(c.url(0));
  const victim = client(c.url(1), { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500,
                                   randomizationFactor: 0 });
  await Promise.all([sender, steady, victim].map((s) => within(once(s, "connect"), 5000, "connect")));
  const gotSteady = collect(steady, "chat message");
  const gotVictim = collect(victim, "chat message");
  const victimId = victim.id;
  let seq = 0;
  const send = () => sender.emit("chat message", seq++);
  for (let i = 0; i < 50; ++i) send();
  await until(() => gotVictim.length === 50, 5000, "first messages");
  const oldPid = c.workers.get(1).pid;
  const restarted = new Promise((resolve) => {
    let out = "";
    c.proc.stdout.on("data", (d) => {
      out += d;
      if (/shmio worker 1 \(pid \d+/.test(out)) resolve();
    });
  });
  process.kill(oldPid, "SIGKILL");
  const pump = setInterval(() => { for (let i = 0; i < 10; ++i) send(); }, 20);
  try {  // (cleared whatever happens: left running, a failed wait held the file to ctest's timeout)
    await within(restarted, 10000, "worker 1 restarted");
    await within(once(victim, "connect"), 15000, "victim reconnects");
  } finally {
    clearInterval(pump);
  }
  await ack(sender, "chat message", seq++);
  assert.equal(victim.recovered, true, "the victim's session was recovered");
  assert.equal(victim.id, victimId);
  await until(() => gotVictim.length === seq && gotSteady.length === seq, 10000, "all messages");
  assert.deepEqual(gotSteady.map(([m]) => m), Array.from({ length: seq }, (_, i) => i), "steady lost nothing");
  assert.deepEqual(gotVictim.map(([m]) => m), Array.from({ length: seq }, (_, i) => i), "victim got all, in order");
  assert.match(c.log, /worker 1 \(pid \d+\) killed by signal 9; restarting/);
});


// The watchdog: a worker whose event loop has not turned for --watchdog-timeout (here a stopped
// process: its board post ages) is killed, said, and restarted; its port serves again. (Added
// 2026-12-05: such a worker kept its share of new connections and nothing ended it.)
test("--watchdog-timeout: a worker whose loop does not turn is killed and restarted", async () => {
  const c = await cluster("chat", 2, ["--watchdog-timeout", "2000"]);
  const stuck = c.workers.get(1).pid;
  let out = "";
  c.proc.stdout.on("data", (d) => (out += d));
  // Posted at least once (it posts every second from its loop), then stopped.
  await untilAsync(async () => (await fetch(`${c.url(0)}/metrics`)).text().then((t) => t.includes('worker="1"')),
                   5000, "worker 1 posted");
  process.kill(stuck, "SIGSTOP");
  await until(() => /shmio worker 1 \(pid \d+/.test(out), 15000, "worker 1 restarted");
  assert.match(c.log, new RegExp(`worker 1 \\(pid ${stuck}\\) has not turned its event loop for \\d+ ms`));
  assert.match(c.log, new RegExp(`worker 1 \\(pid ${stuck}\\) killed by signal 9; restarting`));
  const s = client(`http://127.0.0.1:${c.workers.get(1).port}`);
  await within(once(s, "connect"), 5000, "worker 1's port serves again");
  assert.doesNotMatch(c.log, /worker 0 \(pid \d+\) has not turned/, "the other was left alone");
});

// SIGUSR1 and SIGUSR2 (a log rotation's habitual `kill -USR1`) are said and ignored by the
// supervisor and by a worker: the cluster goes on serving, nothing restarted. Until 2026-12-07
// either process ended at the signal's default action, without its drain.
test("SIGUSR1 and SIGUSR2 are said and ignored by the supervisor and the workers", async () => {
  const c = await cluster("chat", 2);
  process.kill(c.proc.pid, "SIGUSR1");
  process.kill(c.workers.get(1).pid, "SIGUSR2");
  await until(() => /shmio: SIGUSR1 ignored/.test(c.log) && /shmio\[w1\]: SIGUSR2 ignored/.test(c.log),
              10000, "both said");
  const s = client(c.url(1));
  await within(once(s, "connect"), 5000, "worker 1 still serves");
  assert.doesNotMatch(c.log, /killed by signal|restarting/);
});

// A fixed --port stays the cluster's while every worker is down at once: the supervisor holds it
// bound (not listening), so that no other program can bind it before the workers are back (then
// they could not listen there again). Before 2026-12-05 only a picked port (--port 0) was held.
test("a fixed --port stays the cluster's while every worker is down at once", async () => {
  const c = await cluster("chat", 2, [], "fixed");
  const port = c.workers.get(0).port;
  const pids = [c.workers.get(0).pid, c.workers.get(1).pid];
  let out = "";
  c.proc.stdout.on("data", (d) => (out += d));
  const back = () => [...out.matchAll(/shmio worker \d+ \(pid (\d+)/g)].length >= 2;
  // The supervisor stopped while the workers are down (SIGSTOP): it cannot start them again, so
  // the window is the test's, not the 100 ms of its restart backoff (a loaded machine could miss
  // that, and a bind refused once the workers were back proved nothing of the supervisor; before
  // 2026-12-06; a review).
  process.kill(c.proc.pid, "SIGSTOP");
  try {
    pids.forEach((pid) => process.kill(pid, "SIGKILL"));
    const gone = (pid) => { try { return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1][0] === "Z"; } catch { return true; } };
    await until(() => pids.every(gone), 5000, "both workers dead");
    // Every bind without SO_REUSEPORT, on any address, is refused.
    for (let tries = 0; tries < 5; ++tries)
      for (const host of ["127.0.0.1", "0.0.0.0"]) {
        const s = net.createServer();
        const err = await new Promise((res) => { s.once("error", res).listen(port, host, () => res(null)); });
        if (err === null) await new Promise((r) => s.close(r));
        assert.equal(err?.code, "EADDRINUSE", `bound ${host}:${port} while the workers were down (try ${tries})`);
      }
  } finally {
    process.kill(c.proc.pid, "SIGCONT");
  }
  await until(back, 10000, "both workers back");
  const s = client(`http://127.0.0.1:${port}`);
  await within(once(s, "connect"), 5000, "a client of the restarted workers");
});

// The same for --port-per-worker: each worker's port is held while that worker is down (until
// 2026-12-07 its worker listened without SO_REUSEPORT and nothing held it: another program could
// take it during the restart backoff, and the worker was then restarted every 5 s).
test("--port-per-worker: a dead worker's port stays the cluster's", async () => {
  const c = await cluster("bench", 2);
  const port = c.workers.get(1).port;
  assert.equal(port, c.workers.get(0).port + 1);
  const pid = c.workers.get(1).pid;
  let out = "";
  c.proc.stdout.on("data", (d) => (out += d));
  process.kill(c.proc.pid, "SIGSTOP");  // (the window is the test's: see above)
  try {
    process.kill(pid, "SIGKILL");
    const gone = () => { try { return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1][0] === "Z"; } catch { return true; } };
    await until(gone, 5000, "worker 1 dead");
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const s = net.createServer();
      const err = await new Promise((res) => { s.once("error", res).listen(port, host, () => res(null)); });
      if (err === null) await new Promise((r) => s.close(r));
      assert.equal(err?.code, "EADDRINUSE", `bound ${host}:${port} while its worker was down`);
    }
  } finally {
    process.kill(c.proc.pid, "SIGCONT");
  }
  await until(() => /shmio worker 1 \(pid \d+/.test(out), 10000, "worker 1 back");
  const s = client(`http://127.0.0.1:${port}`);
  await within(once(s, "connect"), 5000, "a client of the restarted worker");
  assert.equal((await ack(s, "whoami")).worker, 1);
});

// Waits for a worker's counter in /metrics to reach `min` (asking again every 50 ms).
async function metricAtLeast(port, name, min, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const body = (await request(port, "GET", "/metrics")).body;
    const m = body.match(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "m"));
    if (m && Number(m[1]) >= min) return Number(m[1]);
    if (Date.now() > end) throw new Error(`timed out: ${name} >= ${min}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Resolves when the supervisor's worker i listens again (after a death), with its new pid and port.
function restarted(c, i) {
  return new Promise((resolve) => {
    let out = "";
    const on = (d) => {
      out += d;
      const m = out.match(new RegExp(`shmio worker ${i} \\(pid (\\d+)[^)]*\\) \\([^)]*\\) listening on [^:]+:(\\d+)`));
      if (m) {
        c.proc.stdout.off("data", on);
        c.workers.set(i, { pid: Number(m[1]), port: Number(m[2]) });
        resolve();
      }
    };
    c.proc.stdout.on("data", on);
  });
}

for (const [mode, extra] of MODES)
test(`recovery survives successive deaths: worker 1 dies, then worker 0; every client recovers on the restarted worker with its id, rooms and every message${mode}`, async () => {
  const c = await cluster("bench", 2, ["--recovery", "--log-sockets", ...extra]);
  const why = () => c.log.split("\n").filter((l) => l.includes("not recovered")).join("\n");
  const reconnecting = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200,
                         randomizationFactor: 0 };
  const a = client(c.url(0), reconnecting);
  const b = client(c.url(1), reconnecting);
  await Promise.all([a, b].map((s) => within(once(s, "connect"), 5000, "connect")));
  await Promise.all([a, b].map((s) => ack(s, "join", "r")));
  const ids = [a.id, b.id];
  const got = [collect(a, "msg"), collect(b, "msg")];
  let seq = 0;
  const publishVia = async (s, n) => {
    for (let i = 0; i < n; ++i) s.emit("publish", "r", seq++);
    await ack(s, "echo");  // the worker has handled them (a client's packets are in order)
  };
  const restartOf = (i) => restarted(c, i);
  await publishVia(a, 5);
  // Both have them (an offset to recover from) before anything dies.
  await until(() => got.every((g) => g.length === seq), 5000, "the first messages");

  // First death: worker 1. B comes back on worker 0 (and is recovered there: a live socket of
  // worker 0 now, whose session worker 0 saved in the shared table); then worker 1 restarts.
  b.io.uri = c.url(0);
  let back = restartOf(1);
  process.kill(c.workers.get(1).pid, "SIGKILL");
  await within(once(b, "disconnect"), 5000, "b disconnected");
  await publishVia(a, 5);  // missed by b
  await within(once(b, "connect"), 10000, "b reconnects on worker 0");
  assert.equal(b.recovered, true, `first death: b recovered on worker 0 ${why()}`);
  await within(back, 10000, "worker 1 restarted");

  // Second death: worker 0, which holds both clients now. Both come back on the restarted
  // worker 1, which finds their sessions in the shared table (nothing asked of a peer).
  const pub = client(c.url(1));
  await within(once(pub, "connect"), 5000, "publisher connects");
  await until(() => got.every((g) => g.length === seq), 5000, "b's replay");
  a.io.uri = c.url(1);
  b.io.uri = c.url(1);
  const downs = [a, b].map((s) => once(s, "disconnect"));
  back = restartOf(0);
  process.kill(c.workers.get(0).pid, "SIGKILL");
  await within(Promise.all(downs), 5000, "a and b disconnected");
  await publishVia(pub, 5);  // missed by both
  await within(Promise.all([a, b].map((s) => s.connected ? Promise.resolve() : once(s, "connect"))),
               10000, "a and b reconnect on worker 1");
  assert.equal(a.recovered, true, `second death: a recovered on the restarted worker 1 ${why()}`);
  assert.equal(b.recovered, true, `second death: b recovered again ${why()}`);
  assert.deepEqual([a.id, b.id], ids, "same ids");
  await publishVia(pub, 5);  // the rooms came back: these reach them too
  const want = Array.from({ length: seq }, (_, i) => i);
  await until(() => got.every((g) => g.length >= seq), 10000, "every message");
  assert.deepEqual(got[0].map(([m]) => m), want, "a: every message, in order, once");
  assert.deepEqual(got[1].map(([m]) => m), want, "b: every message, in order, once");
  await within(back, 10000, "worker 0 restarted");
});

for (const [mode, extra] of MODES)
test(`socket.data set after the last room change survives a SIGKILL of its worker${mode}`, async () => {
  const c = await cluster("bench", 2, ["--recovery", "--log-sockets", ...extra]);
  const s = client(c.url(1), { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200,
                               randomizationFactor: 0 });
  await within(once(s, "connect"), 5000, "connect");
  await ack(s, "join", "r");
  const got = collect(s, "msg");
  const pub = client(c.url(0));
  await within(once(pub, "connect"), 5000, "publisher connects");
  await ack(pub, "publish", "r", "before");  // an offset to recover from
  await until(() => got.length === 1, 5000, "the first message");
  await ack(s, "set-data", { name: "ada", n: 1 });  // no room change after this
  await ack(s, "set-data", { name: "ada", n: 2 });
  s.io.uri = c.url(0);
  const back = restarted(c, 1);
  const down = once(s, "disconnect");
  process.kill(c.workers.get(1).pid, "SIGKILL");
  await within(down, 5000, "disconnected");
  if (!s.connected) await within(once(s, "connect"), 10000, "reconnects on worker 0");
  assert.equal(s.recovered, true, c.log.split("\n").filter((l) => l.includes("not recovered")).join("\n"));
  assert.deepEqual(await ack(s, "get-data"), { name: "ada", n: 2 });
  await within(back, 10000, "worker 1 restarted");
});

for (const [mode, extra] of MODES)
test(`a restarted worker serves at once with a peer stopped, and recovers a session saved before it started${mode}`, async () => {
  const c = await cluster("bench", 3, ["--recovery", ...extra]);
  const y = client(c.url(1), { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200,
                               randomizationFactor: 0 });
  await within(once(y, "connect"), 5000, "connect");
  await ack(y, "join", "r");
  const id = y.id;
  const got = collect(y, "msg");
  y.emit("publish", "r", "first");  // recovery needs an offset: one broadcast received
  await until(() => got.length === 1, 5000, "the first message");
  const stopped = c.workers.get(0).pid;
  process.kill(stopped, "SIGSTOP");
  try {
    const back = restarted(c, 2);
    process.kill(c.workers.get(2).pid, "SIGKILL");
    // Nothing to wait for: it reads the sessions of others from shared memory when it needs them.
    await within(back, 5000, "worker 2 restarted and listening");
  } finally {
    process.kill(stopped, "SIGCONT");
  }
  // y's session reached worker 2 only through the shared table (y joined before worker 2
  // started, and y's worker is killed before y reconnects there).
  const pub = client(c.url(2));
  await within(once(pub, "connect"), 5000, "publisher connects");
  y.io.uri = c.url(2);
  const down = once(y, "disconnect");
  process.kill(c.workers.get(1).pid, "SIGKILL");
  await within(down, 5000, "y disconnected");
  pub.emit("publish", "r", "missed");
  await ack(pub, "echo");
  if (!y.connected) await within(once(y, "connect"), 10000, "y reconnects on worker 2");
  assert.equal(y.recovered, true);
  assert.equal(y.id, id);
  await until(() => got.length === 2, 5000, "the missed message");
  assert.deepEqual(got.map(([m]) => m), ["first", "missed"]);
});

for (const [mode, extra] of [["", []], [" (a ring per worker: worker 1's own ring)", ["--ring-per-worker"]]])
test(`fetchSockets answers larger than the ring's largest record arrive in parts${mode}`, async () => {
  // A 1 MiB ring: records of at most 128 KiB. 100 sockets with 1.5 KB of headers each on worker 1
  // describe themselves in about 190 KB: over a record, under the answer's bound (half the ring,
  // shared by the two workers that write into it: 256 KiB; docs/cluster.md).
  const c = await cluster("bench", 2, [...extra, "--ring-mb", "1"]);
  await assertRings(c.workers.get(0).port, extra.length ? 3 : 1);
  const many = Array.from({ length: 100 }, () =>
    client(c.url(1), { extraHeaders: { "x-pad": "p".repeat(1500) } }));
  const asker = client(c.url(0));
  await Promise.all([...many, asker].map((s) => within(once(s, "connect"), 10000, "connect")));
  const all = await ack(asker, "fetch");
  assert.equal(all.length, 101, "every socket of both workers");
  assert.deepEqual(new Set(all.map((s) => s.id)), new Set([...many, asker].map((s) => s.id)));
  many.forEach((s) => s.disconnect());
});

test("at the --max-sessions bound a session is not saved: that client starts afresh, the others recover", async () => {
  // 64 entries (the least): the publisher's session and 63 subscribers' fit, the 64th subscriber's
  // does not (every entry is a connected socket of a live worker: none may be reused).
  const c = await cluster("bench", 2, ["--recovery", "--max-sessions", "64", "--log-sockets"]);
  const reconnecting = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200,
                         randomizationFactor: 0 };
  const pub = client(c.url(1));
  await within(once(pub, "connect"), 5000, "publisher connects");
  await ack(pub, "join", "p");  // (its session saved: at the latest when its rooms change)
  const subs = [];
  for (let i = 0; i < 64; ++i) {  // one after the other: the last finds the table full
    const s = client(c.url(0), reconnecting);
    await within(once(s, "connect"), 5000, "connect");
    await ack(s, "join", "r");
    subs.push(s);
  }
  const got = subs.map((s) => collect(s, "msg"));
  pub.emit("publish", "r", "m0");
  await until(() => got.every((g) => g.length === 1), 5000, "m0");
  await metricAtLeast(c.workers.get(0).port, "shmio_sessions_not_saved_total", 1, 5000);
  const last = subs[63]._pid;
  await until(() => c.log.includes(`session ${last} not saved for recovery: no free slot`), 5000,
              "the reason in the log");
  subs.forEach((s) => (s.io.uri = c.url(1)));
  const downs = subs.map((s) => once(s, "disconnect"));
  process.kill(c.workers.get(0).pid, "SIGKILL");
  await within(Promise.all(downs), 5000, "disconnects");
  await ack(pub, "publish", "r", "m1");
  await within(Promise.all(subs.map((s) => s.connected ? Promise.resolve() : once(s, "connect"))),
               10000, "reconnects on worker 1");
  assert.deepEqual(subs.map((s) => s.recovered),
                   Array.from({ length: 64 }, (_, i) => i < 63), "all but the last recovered");
  await until(() => c.log.includes(`session ${last} not recovered: unknown session`), 5000,
              "the refusal's reason in the log");
  await until(() => got.slice(0, 63).every((g) => g.length === 2), 5000, "m1 replayed");
  assert.deepEqual(got[0].map(([m]) => m), ["m0", "m1"]);
  subs.forEach((s) => s.disconnect());
});

for (const [mode, extra] of MODES)
test(`no ghost sockets: WebSocket and polling clients close, a worker is killed, fetchSockets then counts exactly the connected clients${mode}`, async () => {
  // The sequence in which issue 11 saw one socket too many (twice in ten runs before its fixes;
  // not seen since in 35 runs of a script doing it): one shared port, so polling requests are
  // handed to their session's worker, closes included.
  for (const victim of [0, 1]) {
    const c = await cluster("bench", 2, extra, false);
    const url = c.url(0);  // every worker listens on it
    await assertRings(c.workers.get(0).port, extra.length ? 3 : 1);
    const first = Array.from({ length: 15 }, (_, i) =>
      client(url, { transports: i < 3 ? ["websocket"] : ["polling"] }));
    await Promise.all(first.map((s) => within(once(s, "connect"), 5000, "connect")));
    await Promise.all(first.map((s) => ack(s, "join", "r")));
    await ack(first[0], "publish", "r", "hello");
    first.forEach((s) => s.disconnect());
    // Every close has reached its worker: the cluster counts none of them.
    const counted = async () => {
      const probe = client(url);
      await within(once(probe, "connect"), 5000, "probe");
      const n = await ack(probe, "count");
      probe.disconnect();
      return n - 1;
    };
    await untilAsync(async () => (await counted()) === 0, 10000, "the closed clients gone");
    const back = restarted(c, victim);
    process.kill(c.workers.get(victim).pid, "SIGKILL");
    await within(back, 10000, "restarted");
    const fresh = [];
    const seen = new Set();
    while (seen.size < 2 && fresh.length < 40) {
      const s = client(url);
      await within(once(s, "connect"), 5000, "connect");
      seen.add((await ack(s, "whoami")).worker);
      fresh.push(s);
    }
    assert.equal(await ack(fresh[0], "count"), fresh.length, "fetchSockets counts the connected clients");
    fresh.forEach((s) => s.disconnect());
  }
});

for (const [mode, extra] of MODES)
test(`a client that never answers broadcast acks holds at most 1024 of them: past that the oldest is dropped (its broadcast times out without it)${mode}`, async () => {
  const c = await cluster("bench", 2, extra);
  await assertRings(c.workers.get(0).port, extra.length ? 3 : 1);
  const holder = client(c.url(1));
  const asker = client(c.url(0));
  await Promise.all([holder, asker].map((s) => within(once(s, "connect"), 5000, "connect")));
  const held = [];
  holder.on("question", (cb) => held.push(cb));
  asker.on("question", (cb) => cb("asker"));
  const N = 1030;
  const asks = [];
  // (Each broadcast's own timeout, 12 s, past the 10 s the questions may take to reach the
  // holder on a loaded machine: 4 s before 2026-12-06, and a slow delivery timed out the newest
  // too; a review.)
  for (let i = 0; i < N; ++i) asks.push(asker.timeout(40000).emitWithAck("ask-all", 12000));
  await until(() => held.length === N, 10000, "every question at the holder");
  held.forEach((cb) => cb("holder"));  // all at once, oldest first
  const results = await within(Promise.all(asks), 30000, "every broadcast completes");
  const answered = results.map((r) => r.responses.includes("holder"));
  assert.deepEqual(answered.slice(0, N - 1024), Array(N - 1024).fill(false),
                   "the oldest acks were dropped: their answers are not taken");
  assert.deepEqual(answered.slice(N - 1024), Array(1024).fill(true), "the 1024 newest are");
  // (The asker's own answers to those are gone too: it got all 1030 questions in one turn, before
  // it could answer any, so its socket was past the bound as well.)
  assert.ok(results.slice(0, N - 1024).every((r) => r.error === "operation has timed out"),
            "a broadcast whose ack was dropped ends at its timeout");
  assert.ok(results.slice(N - 1024).every((r) => r.error === null));
});

for (const [mode, extra] of MODES)
test(`rebalancing: after a restart, clients of the busy worker move to the restarted one without losing or repeating a message${mode}`, async () => {
  const c = await cluster("bench", 2, ["--recovery", "--log-sockets", ...extra], false);  // one port, hand-off
  const why = () => c.log.split("\n").filter((l) => l.includes("not recovered")).join("\n");
  const url = c.url(0);
  const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
                 randomizationFactor: 0.5 };
  const subs = Array.from({ length: 60 }, () => client(url, opts));
  await Promise.all(subs.map((s) => within(once(s, "connect"), 10000, "connect")));
  await Promise.all(subs.map((s) => ack(s, "join", "r")));
  const got = subs.map((s) => collect(s, "msg"));
  const fresh = subs.map(() => 0);  // reconnects that were not recovered
  subs.forEach((s, i) => s.on("connect", () => s.recovered || ++fresh[i]));
  const pub = client(url, opts);
  await within(once(pub, "connect"), 5000, "publisher");
  // Where the clients are (a client asked to reconnect meanwhile is left out of this count).
  const where = async () => {
    const n = [0, 0];
    for (const s of subs) {
      if (!s.connected) continue;
      const w = await s.timeout(5000).emitWithAck("whoami").catch(() => null);
      if (w) ++n[w.worker];
    }
    return n;
  };
  let seq = 0;
  let publishing = true;
  const acked = new Set();  // (the messages the server took: each must reach every subscriber)
  const stream = (async () => {
    while (publishing) {
      if (pub.connected) {
        const n = seq++;
        await pub.timeout(10000).emitWithAck("publish", "r", n).then(() => acked.add(n), () => {});
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Everyone has a message (an offset to recover from) before anything dies.
  await until(() => got.every((g) => g.length > 0), 10000, "the first messages");
  let split, before, t0;
  try {
    const back = restarted(c, 1);
    process.kill(c.workers.get(1).pid, "SIGKILL");
    await within(back, 10000, "worker 1 restarted");
    // Everyone reconnected (most on worker 0, which was alone for a moment), then balanced.
    await until(() => subs.every((s) => s.connected), 10000, "reconnected");
    t0 = Date.now();
    split = await where();
    before = [...split];
    // Balanced: within the margin (max(8, 10%) of a worker's count), every client counted.
    while (Math.abs(split[0] - split[1]) > 14 || split[0] + split[1] < subs.length) {
      if (Date.now() - t0 > 30000) throw new Error(`not rebalanced: ${split} (was ${before})`);
      await new Promise((r) => setTimeout(r, 250));
      split = await where();
    }
  } finally {
    publishing = false;
    await stream;
  }
  // Rebalancing did it: the busy worker steered handshakes or asked clients to move. (Clients
  // that reconnect by themselves can spread over the shared port alone: the split above would
  // then pass without either; the test did not look before 2026-12-06, a review.)
  const total = async (name) => Number((await request(c.workers.get(0).port, "GET", "/metrics")).body
    .match(new RegExp(`^${name}\\{worker="all"\\} (\\d+)$`, "m"))?.[1] ?? NaN);
  const moved = (await total("shmio_rebalance_shed_total")) + (await total("shmio_rebalance_steered_total"));
  // (Only where the split needed it: clients that came back evenly by themselves need no move.)
  if (Math.abs(before[0] - before[1]) > 14)
    assert.ok(moved > 0, `rebalancing shed or steered no one (split ${before} -> ${split})`);
  const last = seq++;
  await ack(pub, "publish", "r", last);
  await until(() => got.every((g) => g.some(([m]) => m === last)), 10000, "the last message")
    .catch((e) => {
      const missing = subs.map((s, i) => ({ i, connected: s.connected, recovered: s.recovered,
                                             fresh: fresh[i], tail: got[i].slice(-3).map(([m]) => m) }))
        .filter((x) => !got[x.i].some(([m]) => m === last));
      throw new Error(`${e.message}; recoveries refused: ${why() || "none"}; ${JSON.stringify(missing)} last ${last}\n${c.log.slice(-3000)}`);
    });
  assert.deepEqual(fresh, subs.map(() => 0), `every reconnect recovered; refused: ${why()}`);
  for (const [i, g] of got.entries()) {
    const ms = g.map(([m]) => m);
    assert.deepEqual(ms, [...new Set(ms)], "nothing twice");
    assert.deepEqual(ms, [...ms].sort((x, y) => x - y), "in order");
    // Nothing lost: every message the server took after the subscriber's first reached it (the
    // test claimed this before 2026-12-06 without checking it; a review).
    const have = new Set(ms);
    const lost = [...acked].filter((n) => n > ms[0] && !have.has(n));
    assert.deepEqual(lost, [], `subscriber ${i} lost messages the server took`);
  }
  console.log(`rebalanced ${before} -> ${split} in ${Date.now() - t0} ms`);
});

// With a ring per worker (no recovery in that mode: the bench app), worker 0's own ring laps
// worker 1's reader.
// `said` resolves once the server has taken the message (and written it into the ring).
for (const [mode, extra, app, event, say, said] of [
  ["", [], "chat", "chat message", (s, m) => s.emit("chat message", m),
   (s, m) => ack(s, "chat message", m)],
  [" (a ring per worker: worker 0's own ring)", ["--ring-per-worker"], "bench", "msg",
   (s, m) => s.emit("publish", null, m), (s, m) => (s.emit("publish", null, m), ack(s, "whoami"))]])
test(`a lapped worker disconnects its clients (they reconnect${extra.length ? "" : "; recovery fails cleanly"}), counts and logs it${mode}`, async () => {
  const c = await cluster(app, 2, [...extra, "--ring-mb", "1"]);
  await assertRings(c.workers.get(0).port, extra.length ? 3 : 1);
  const sender = client(c.url(0));
  const victim = client(c.url(1), { reconnection: true, reconnectionDelay: 200, randomizationFactor: 0 });
  await Promise.all([sender, victim].map((s) => within(once(s, "connect"), 5000, "connect")));
  const got = collect(victim, event);
  say(sender, "before");
  await until(() => got.length === 1, 5000, "first message");
  process.kill(c.workers.get(1).pid, "SIGSTOP");
  // 200 messages of 10 KB: twice the 1 MiB ring while worker 1 cannot read.
  const pad = "x".repeat(10000);
  for (let i = 0; i < 199; ++i) say(sender, pad);
  await said(sender, pad);
  const dropped = once(victim, "disconnect");
  process.kill(c.workers.get(1).pid, "SIGCONT");
  await within(dropped, 10000, "the lapped worker's client is disconnected");
  await within(once(victim, "connect"), 10000, "reconnect");
  // (Without recovery, the bench app's case, the client's flag stays unset.)
  assert.equal(victim.recovered, extra.length ? undefined : false,
               "the missed range is gone: a fresh session, not a partial replay");
  assert.match(c.log, /shmio\[w1\]: lapped by the ring: \d+ records lost; 1 clients disconnected/);
  const metrics = (await request(c.workers.get(1).port, "GET", "/metrics")).body;
  assert.match(metrics, /^shmio_ring_laps_total\{worker="1"\} [1-9]/m);
  assert.match(metrics, /^shmio_lap_disconnects_total\{worker="1"\} 1$/m);
  // After the lap worker 1 reads on: a new message reaches its client again.
  const after = collect(victim, event);
  say(sender, "after");
  await until(() => after.some(([m]) => m === "after"), 5000, "a message after the lap");
});

for (const [mode, extra] of [["", []], [" (a ring per worker)", PER_WORKER]])
test(`a request waiting for a worker that dies completes at once with the live workers' answers${mode}`, async () => {
  const c = await cluster("bench", 3, extra);
  const a = client(c.url(0));
  await within(once(a, "connect"), 5000, "connect");
  process.kill(c.workers.get(2).pid, "SIGSTOP"); // it cannot answer
  // Worker 0 has published the request once its count of ring records written goes up.
  const published = async () =>
    Number((await request(c.workers.get(0).port, "GET", "/metrics")).body
      .match(/^shmio_ring_messages_published_total\{worker="0"\} (\d+)$/m)[1]);
  const before = await published();
  const t0 = Date.now();
  const pending = ack(a, "ping-workers", 20000);
  // (No LOAD records move the count here: with a port per worker there is no rebalancing.)
  await untilAsync(async () => (await published()) !== before, 10000, "the request published");
  process.kill(c.workers.get(2).pid, "SIGKILL");
  const r = await pending;
  const took = Date.now() - t0;
  assert.deepEqual(r, { error: null, workers: [1] });
  assert.ok(took < 5000, `took ${took} ms: waited for the timeout`);
});

for (const [mode, extra] of MODES)
test(`a broadcast with acks whose worker dies owing its clients' answers ends in "operation has timed out" at once${mode}`, async () => {
  // socket.io's: the dead server's answers never come, its timer fires. Before 2026-12-04 shmio
  // completed it without an error and with fewer answers than clients reached.
  const c = await cluster("bench", 3, extra);
  const a = client(c.url(0)), x = client(c.url(2));
  await Promise.all([a, x].map((s) => within(once(s, "connect"), 5000, "connect")));
  a.on("question", (cb) => cb("a"));  // (x never answers)
  process.kill(c.workers.get(2).pid, "SIGSTOP"); // it cannot count its client
  const published = async () =>
    Number((await request(c.workers.get(0).port, "GET", "/metrics")).body
      .match(/^shmio_ring_messages_published_total\{worker="0"\} (\d+)$/m)[1]);
  const before = await published();
  const t0 = Date.now();
  const pending = within(a.timeout(30000).emitWithAck("ask-all", 20000), 30000, "ask-all");
  // (No LOAD records move the count here: with a port per worker there is no rebalancing.)
  await untilAsync(async () => (await published()) !== before, 10000, "the request published");
  process.kill(c.workers.get(2).pid, "SIGKILL");
  const r = await pending;
  const took = Date.now() - t0;
  assert.deepEqual(r, { error: "operation has timed out", responses: ["a"] });
  assert.ok(took < 5000, `took ${took} ms: waited for the timeout`);
});

// An idle cluster's workers look alive to an operator: their reader and producer slots'
// heartbeats stay fresh (a worker waits for the ring through a notifier, not RingReader::wait,
// and its writer refreshed its own every 256 commits: before 2026-12-06 an idle worker's ages
// grew without end and it looked hung in shm-inspect; a review).
test("an idle cluster's workers show fresh heartbeats in shm-inspect", async () => {
  const c = await cluster("bench", 2);
  const look = (what) => new Promise((resolve, reject) =>
    execFile(INSPECT, ["--name", c.ring, "--json", what], (err, stdout, stderr) => {
      if (err) reject(new Error(`shm-inspect ${what}: ${err.message}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    }));
  await new Promise((r) => setTimeout(r, 4000));  // idle: the interval under test, not a wait
  const slots = [...(await look("readers")).readers, ...(await look("producers")).producers]
    .filter((s) => s.alive && /^worker-/.test(s.label));
  assert.ok(slots.length >= 4, `each worker's reader and writer: ${JSON.stringify(slots)}`);
  for (const s of slots)
    assert.ok(s.heartbeat_age_ms !== null && s.heartbeat_age_ms < 2500,
      `${s.label} (slot ${s.slot}): ${s.heartbeat_age_ms} ms`);
});

test("a ring per worker: each worker writes its own ring, a SIGKILLed worker's successor takes it over mid-load, the rings go with the cluster; bad combinations refused", async () => {
  const c = await cluster("bench", 2, PER_WORKER);
  const shm = (name) => `/dev/shm/shmio.${name}`;
  assert.ok(existsSync(shm(`${c.ring}.w0`)) && existsSync(shm(`${c.ring}.w1`)), "a ring per worker");
  const metric = async (i, name) =>
    Number((await request(c.workers.get(i).port, "GET", "/metrics")).body
      .match(new RegExp(`^${name}\\{worker="${i}"\\} (\\d+)$`, "m"))[1]);
  assert.equal(await metric(0, "shmio_rings"), 3, "the shared ring and both workers'");
  // The workers' records go to their own rings: the shared one holds none of theirs.
  const inspect = (name) => new Promise((resolve, reject) =>
    execFile(INSPECT, ["--name", name, "--json", "stat"], (err, stdout, stderr) => {
      if (err) reject(new Error(`shm-inspect stat: ${err.message}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    }));
  const a = client(c.url(0)), b = client(c.url(1));
  await Promise.all([a, b].map((s) => within(once(s, "connect"), 5000, "connect")));
  const [ga, gb] = [a, b].map((s) => collect(s, "msg"));
  for (let n = 0; n < 20; ++n) (n % 2 ? b : a).emit("publish", null, { n });
  await until(() => ga.length === 20 && gb.length === 20, 5000, "both ways");
  const [shared, w0, w1] = await Promise.all([c.ring, `${c.ring}.w0`, `${c.ring}.w1`].map(inspect));
  assert.equal(shared.tail, 0, "nothing on the shared ring from the workers");
  assert.equal(w0.exclusive_producer && w0.fenced_commits && w1.exclusive_producer, true);
  assert.ok(w0.records_held >= 10 && w1.records_held >= 10, `${w0.records_held} / ${w1.records_held}`);

  // Worker 1 is SIGKILLed while it publishes: its successor takes its ring over (the ring pads
  // what it left in flight) and what it says reaches worker 0, whose reader went on reading.
  const restarted = new Promise((resolve) => {
    let out = "";
    c.proc.stdout.on("data", (d) => {
      out += d;
      if (/shmio worker 1 \(pid \d+/.test(out)) resolve();
    });
  });
  const pump = setInterval(() => { if (b.connected) for (let i = 0; i < 20; ++i) b.emit("publish", null, { n: -1 }); }, 5);
  try {  // (cleared whatever happens, as above)
    await until(() => ga.length > 100, 5000, "worker 1 publishing");
    process.kill(c.workers.get(1).pid, "SIGKILL");
    await within(restarted, 10000, "worker 1 restarted");
  } finally {
    clearInterval(pump);
  }
  await until(() => c.workers.get(1).pid !== undefined, 1000, "its pid");
  const b2 = client(c.url(1));
  await within(once(b2, "connect"), 5000, "connect to the successor");
  const [ga2, gb2] = [a, b2].map((s) => collect(s, "msg"));
  b2.emit("publish", null, { n: "from the successor" });
  a.emit("publish", null, { n: "to the successor" });
  await until(() => ga2.length === 2 && gb2.length === 2, 5000, "through the successor's ring");
  assert.deepEqual(ga2.map(([m]) => m.n).sort(), ["from the successor", "to the successor"]);
  assert.equal((await ack(b2, "whoami")).worker, 1);
  assert.equal(await ack(a, "server-count"), 2);
  assert.match(c.log, /worker 1 \(pid \d+\) killed by signal 9; restarting/);
  assert.doesNotMatch(c.log, /cannot (write|attach)/);

  // The supervisor removes every ring at the end.
  c.proc.kill("SIGTERM");
  assert.equal((await within(once(c.proc, "exit"), 15000, "supervisor exits"))[0], 0);
  for (const name of [c.ring, `${c.ring}.w0`, `${c.ring}.w1`]) assert.equal(existsSync(shm(name)), false, name);

  // What it cannot do: a clear error, exit status 2, before anything is created.
  for (const [args, why] of [
    [["--app", "bench", "--workers", "129"], /--ring-per-worker takes at most 128 workers/],
    [["--app", "bench", "--workers", "128", "--redis", "redis://127.0.0.1:1"],
     /--ring-per-worker takes at most 127 workers with --redis|no fleet bridge/],
    [["--app", "bench"], /--ring-per-worker needs a cluster/]]) {
    const p = spawn(BIN, ["--port", "0", "--ring-per-worker", ...args]);
    clusters.push({ proc: p });  // (stopped at the end if it ran: what this refusal guards against)
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const [code] = await within(once(p, "exit"), 5000, "refused");
    assert.equal(code, 2, err);
    assert.match(err, why);
  }

  // A cluster killed with its rings left: the next one of that name, with fewer workers, replaces
  // the rings it uses and removes the one it does not.
  const d = await cluster("bench", 3, PER_WORKER);
  process.kill(d.proc.pid, "SIGKILL");
  await within(once(d.proc, "exit"), 5000, "killed");
  assert.ok(existsSync(shm(`${d.ring}.w2`)), "left behind");
  const e = spawn(BIN, ["--app", "bench", "--workers", "2", "--port", "0", "--ring", d.ring, "--no-pin", ...PER_WORKER]);
  clusters.push({ proc: e });
  let log = "";
  e.stderr.on("data", (x) => (log += x));
  await within(new Promise((resolve) => e.stdout.on("data", (x) => /listening/.test(String(x)) && resolve())),
               10000, "a cluster on stale rings");
  assert.match(log, new RegExp(`removing stale ring ${d.ring}\\.w2 \\(left by an earlier cluster\\)`));
  assert.equal(existsSync(shm(`${d.ring}.w2`)), false);
  e.kill("SIGTERM");
  assert.equal((await within(once(e, "exit"), 10000, "exit"))[0], 0);
  for (const name of [d.ring, `${d.ring}.w0`, `${d.ring}.w1`]) assert.equal(existsSync(shm(name)), false, name);
});

test("supervisor: refuses a live cluster's ring, replaces a stale one, drains and removes the ring", async () => {
  const c = await cluster("bench", 2);
  const second = spawn(BIN, ["--app", "bench", "--workers", "1", "--port", "0", "--ring", c.ring]);
  clusters.push({ proc: second });  // (stopped at the end if it ran: what this refusal guards against)
  let err = "";
  second.stderr.on("data", (d) => (err += d));
  const [code] = await within(once(second, "exit"), 5000, "second cluster exits");
  assert.equal(code, 1);
  assert.match(err, /belongs to a running cluster/);

  // Drain: clients see the server go, the ring is removed, the supervisor exits 0.
  const s = client(c.url(0));
  await within(once(s, "connect"), 5000, "connect");
  const gone = once(s, "disconnect");
  c.proc.kill("SIGTERM");
  const [exitCode] = await within(once(c.proc, "exit"), 15000, "supervisor exits");
  assert.equal(exitCode, 0);
  await within(gone, 5000, "client disconnected");
  assert.equal(existsSync(`/dev/shm/shmio.${c.ring}`), false);

  // A crashed supervisor leaves its ring: the next one on that name replaces it.
  const d = await cluster("bench", 1);
  process.kill(d.proc.pid, "SIGKILL");
  await within(once(d.proc, "exit"), 5000, "killed");
  assert.equal(existsSync(`/dev/shm/shmio.${d.ring}`), true);
  const again = spawn(BIN, ["--app", "bench", "--workers", "1", "--port", "0", "--ring", d.ring, "--no-pin"]);
  clusters.push({ proc: again });
  let log = "";
  again.stderr.on("data", (x) => (log += x));
  await within(new Promise((resolve) => again.stdout.on("data", (x) => /listening/.test(String(x)) && resolve())),
               10000, "restart on a stale ring");
  assert.match(log, /removing stale ring/);
  again.kill("SIGTERM");
  await within(once(again, "exit"), 10000, "exit");
});

// A ring that is no cluster's (a program of its own made it: here ring-demo) outlives its creator
// while a reader is on it: a cluster started with --ring NAME refuses it rather than remove it
// from under that reader (before 2026-12-06 it was "stale": removed, and made anew), and takes it
// once the reader is gone.
test("--ring NAME: a ring that is no cluster's, its creator gone and a reader on it, is not taken from the reader", async () => {
  const ring = `test-${process.pid}-demo-${Math.floor(Math.random() * 1e9)}`;
  const run = (bin, args) => new Promise((resolve) =>
    execFile(bin, args, { timeout: 20000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr })));
  assert.equal((await run(process.env.SHMIO_RING_DEMO, ["create", "--name", ring])).code, 0);
  const reader = spawn(process.env.SHMIO_RING_DEMO,
                       ["consume", "--name", ring, "--count", "1", "--timeout-ms", "60000"]);
  try {
    await untilAsync(async () => {
      const r = await run(INSPECT, ["--name", ring, "--json", "readers"]);
      return r.code === 0 && JSON.parse(r.stdout).readers.some((x) => x.pid === reader.pid);
    }, 10000, "the reader attached");
    const refused = await run(BIN, ["--app", "bench", "--workers", "1", "--port", "0", "--ring", ring,
                                    "--no-pin"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`ring ${ring} is in use \\(by pid ${reader.pid};`));
    assert.equal(existsSync(`/dev/shm/shmio.${ring}`), true);
  } finally {
    reader.kill("SIGKILL");
  }
  await within(once(reader, "exit"), 5000, "reader gone");
  const again = spawn(BIN, ["--app", "bench", "--workers", "1", "--port", "0", "--ring", ring, "--no-pin"]);
  clusters.push({ proc: again });
  let log = "";
  again.stderr.on("data", (x) => (log += x));
  await within(new Promise((resolve) => again.stdout.on("data", (x) => /listening/.test(String(x)) && resolve())),
               10000, "started on the ring once its reader was gone");
  assert.match(log, /removing stale ring/);
  again.kill("SIGTERM");
  await within(once(again, "exit"), 10000, "exit");
});

// Found in review (2026-12-01): each of these left the cluster restarting for ever, dead, or its
// files behind.
test("supervisor: a port it cannot listen on stops it (exit 1); bad --host refused; SIGPIPE, SIGHUP and a SIGTERM during ring creation leave no files; a long ring name", async () => {
  const files = (ring) => [`/dev/shm/shmio.${ring}`].filter((f) => existsSync(f));
  const ringName = () => `test-${process.pid}-sup-${Math.floor(Math.random() * 1e9)}`;
  const run = (args, opts = {}) => {
    const p = spawn(BIN, ["--app", "bench", "--no-pin", ...args], opts);
    clusters.push({ proc: p });
    p.log = "";
    p.stderr?.on("data", (d) => (p.log += d));
    return p;
  };
  // A port held by another program: the supervisor says so and stops before it starts any worker
  // (before the port was checked, every worker's first start failed to listen, and the cluster
  // stopped at that).
  const held = await freePorts(1);
  const blocker = net.createServer().listen(held, "127.0.0.1");
  await once(blocker, "listening");
  let ring = ringName();
  const stuck = run(["--workers", "2", "--port", String(held), "--ring", ring]);
  const [stuckCode] = await within(once(stuck, "exit"), 20000, "a cluster that cannot listen exits");
  blocker.close();
  assert.equal(stuckCode, 1, stuck.log);
  assert.match(stuck.log, /cannot listen on 127\.0\.0\.1:\d+: it is in use/);
  assert.deepEqual(files(ring), []);
  // Recovery tables larger than /dev/shm has (a 1 TiB session table): the start stops, said,
  // nothing left (before 2026-12-06 each worker said it had no table and ran without recovery).
  ring = ringName();
  const huge = run(["--workers", "2", "--port", "0", "--ring", ring, "--recovery",
                    "--max-sessions", "16777214", "--session-bytes", "65536"]);
  const [hugeCode] = await within(once(huge, "exit"), 20000, "tables that do not fit");
  assert.equal(hugeCode, 1, huge.log);
  assert.match(huge.log, /cannot start: connection state recovery's tables cannot be made: the session table: .*lower them/);
  assert.doesNotMatch(huge.log, /shmio worker/);
  assert.deepEqual(files(ring), []);
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.includes(ring)), [], "no table left");
  // Cut logs that --cut-log-mb cannot hold at their least (16 entries a worker: 90 workers need
  // 2 MiB): refused, said, nothing left (before 2026-12-07 they were made past the bound, unsaid).
  ring = ringName();
  const small = run(["--workers", "90", "--port", "0", "--ring", ring, "--recovery",
                     "--ring-per-worker", "--ring-mb", "1", "--cut-log-mb", "1"]);
  const [smallCode] = await within(once(small, "exit"), 60000, "cut logs past their bound");
  assert.equal(smallCode, 1, small.log);
  assert.match(small.log, /cannot start: connection state recovery's tables cannot be made: the cut logs: 90 workers' cut logs need at least 2 MiB \(16 entries each\), more than the 1048576 bytes allowed .*\(raise --cut-log-mb, or run fewer workers\)/);
  assert.doesNotMatch(small.log, /shmio worker/);
  assert.deepEqual(files(ring), []);
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.includes(ring)), [], "no table left");
  // A second cluster on a running cluster's port, under another ring: its workers would have
  // listened beside the first's (SO_REUSEPORT), the port's clients split between two clusters
  // without a word. Refused; the first goes on serving.
  const first = await startCluster(BIN, "bench", 2, [], false, clusters);
  const port = first.workers.get(0).port;
  ring = ringName();
  const second = run(["--workers", "2", "--port", String(port), "--ring", ring]);
  const [secondCode] = await within(once(second, "exit"), 20000, "the second cluster exits");
  assert.equal(secondCode, 1, second.log);
  assert.match(second.log, /cannot listen on 127\.0\.0\.1:\d+: it is in use \(another cluster/);
  assert.doesNotMatch(second.log, /shmio worker/);
  assert.deepEqual(files(ring), []);
  const health = await new Promise((resolve, reject) =>
    http.get(`http://127.0.0.1:${port}/health`, (r) => {
      let b = "";
      r.on("data", (d) => (b += d)).on("end", () => resolve(JSON.parse(b)));
    }).on("error", reject));
  assert.equal(health.workers, 2, "the first cluster still serves");
  first.proc.kill("SIGTERM");
  await within(once(first.proc, "exit"), 15000, "the first cluster exits");
  // A host that is no address: refused at parse.
  const bad = run(["--workers", "2", "--port", "0", "--host", "999.1.1.1"]);
  const [badCode] = await within(once(bad, "exit"), 5000, "bad --host");
  assert.equal(badCode, 2);
  assert.match(bad.log, /--host must be an IPv4 or IPv6 address/);
  // An IPv6 scope naming no interface of this host: refused at parse too (before: accepted, and
  // every worker's first start failed at bind with EINVAL).
  const noIf = run(["--workers", "2", "--port", "0", "--host", "fe80::1%shmio-no-such-if"]);
  const [noIfCode] = await within(once(noIf, "exit"), 5000, "--host with an unknown interface");
  assert.equal(noIfCode, 2, noIf.log);
  assert.match(noIf.log, /--host fe80::1%shmio-no-such-if: this host has no network interface "shmio-no-such-if"/);
  // A scope by number naming no interface (0, or one this host lacks), and one on an address that
  // is not link-local (which the listener dropped): refused at parse too (before 2026-12-07 the
  // first two failed every worker's bind, exit 1; the last was taken and ignored).
  for (const [host, why] of [["fe80::1%0", /this host has no network interface "0"/],
                             ["fe80::1%4000000000", /this host has no network interface "4000000000"/],
                             ["::1%lo", /a scope \(%interface\) belongs to a link-local address/]]) {
    const p = run(["--workers", "2", "--port", "0", "--host", host]);
    const [code] = await within(once(p, "exit"), 5000, `--host ${host}`);
    assert.equal(code, 2, p.log);
    assert.match(p.log, why);
  }
  // Its log pipe closed under it, then a worker killed (the supervisor writes "restarting") and a
  // SIGTERM: it drains and removes its ring (before: killed by SIGPIPE, its files left).
  ring = ringName();
  const piped = run(["--workers", "2", "--port", "0", "--ring", ring]);
  let pipedOut = "";
  piped.stdout.on("data", (d) => (pipedOut += d));
  const started = () => [...pipedOut.matchAll(/shmio worker \d+ \(pid (\d+)/g)].map((x) => Number(x[1]));
  await until(() => started().length === 2, 20000, "piped cluster up");
  piped.stderr.destroy();
  process.kill(started()[0], "SIGKILL");
  // Restarted: its "restarting" line was written into the closed pipe before the new worker ran.
  await until(() => started().length === 3, 10000, "the killed worker restarted");
  piped.kill("SIGHUP");  // a hang-up drains as SIGTERM does
  const [pipedCode, pipedSignal] = await within(once(piped, "exit"), 15000, "piped cluster exits");
  assert.equal(pipedSignal, null, "killed by a signal");
  assert.equal(pipedCode, 0);
  assert.deepEqual(files(ring), []);
  // A SIGTERM while its ring is being created (512 MiB: every page touched) drains once the
  // workers are up, and leaves no file.
  ring = ringName();
  const early = run(["--workers", "1", "--port", "0", "--ring", ring, "--ring-mb", "512"]);
  await until(() => existsSync(`/dev/shm/shmio.${ring}`), 10000, "ring being created");
  early.kill("SIGTERM");
  const [earlyCode, earlySignal] = await within(once(early, "exit"), 60000, "exits after a SIGTERM at creation");
  assert.equal(earlySignal, null, "killed by the SIGTERM");
  assert.equal(earlyCode, 0, early.log);
  assert.deepEqual(files(ring), []);
  // A ring name long enough that the workers' hand-off addresses would be cut to the same one:
  // both workers listen (before: worker 0 failed to bind, restarted for ever).
  const long = `test-${process.pid}-${"x".repeat(100)}`;
  const c = await startCluster(BIN, "bench", 2, ["--ring", long], false, clusters);
  assert.equal(c.workers.size, 2);
  c.proc.kill("SIGTERM");
  await within(once(c.proc, "exit"), 15000, "exit");
});

// Found in review (2026-12-02): started under nohup, a hang-up still drained the cluster (the
// supervisor blocked SIGHUP whatever its disposition, and Linux queues a blocked signal even when
// it is ignored). A SIGHUP, then a worker killed: the supervisor, not draining, restarts it (it
// took the SIGHUP first before: signals pending are taken lowest number first). And (2026-12-05)
// the same for SIGINT: a shell script's background job starts with SIGINT ignored, so that a
// Ctrl-C meant for the script leaves it; the supervisor and its workers drained on it.
for (const [how, sig, launch] of [
  ["under nohup", "SIGHUP", (args) => spawn("nohup", [BIN, ...args])],
  ["with SIGINT ignored", "SIGINT", (args) => spawn("sh", ["-c", `trap "" INT; exec "$0" "$@"`, BIN, ...args])]]) {
  test(`supervisor: started ${how}, a ${sig} leaves it and its workers running`, async () => {
    const ring = `test-${process.pid}-ignored-${sig}`;
    const p = launch(["--app", "bench", "--no-pin", "--workers", "2", "--port", "0", "--ring", ring]);
    clusters.push({ proc: p });
    let out = "", log = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (log += d));
    const started = () => [...out.matchAll(/shmio worker \d+ \(pid (\d+)/g)].map((x) => Number(x[1]));
    await until(() => started().length === 2, 20000, "cluster up");
    const [first, second] = started();
    p.kill(sig);
    process.kill(first, sig);  // (ignored there too: the workers inherit it)
    process.kill(second, "SIGKILL");
    await until(() => started().length === 3, 10000, `the killed worker restarted; log: ${log}`);
    assert.doesNotMatch(log, /draining/);
    assert.equal(process.kill(first, 0), true, `the worker that got a ${sig} still runs`);
    p.kill("SIGTERM");
    // ("close", not "exit": its log read to the end before it is looked at.)
    const [code, signal] = await within(once(p, "close"), 15000, "exits on SIGTERM");
    assert.deepEqual([code, signal], [0, null], log);
    assert.match(log, /draining 2 workers/);
    assert.equal(existsSync(`/dev/shm/shmio.${ring}`), false);
  });
}

// Found in review (2026-12-02): `--redis ""` ran without the bridge and without a word; a --ring
// too long for its workers' rings (NAME.wI) was refused naming NAME.w0, not the flag; and a
// cluster without --recovery made (and allocated, 64 MiB) the recovery session table.
test("options: --redis \"\" refused; a --ring too long for --ring-per-worker named with its bound; no session table without --recovery", async () => {
  const refused = (args, env = {}) => new Promise((resolve) =>
    execFile(BIN, ["--app", "bench", "--no-pin", "--port", "0", ...args], { env: { ...process.env, ...env }, timeout: 15000 },
             (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr })));
  for (const [args, env] of [[["--workers", "2", "--redis", ""], {}], [["--workers", "2"], { SHMIO_REDIS: "" }]]) {
    const r = await refused(args, env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--redis must not be empty/);
  }
  // A flag's value that looks like -h is the flag's, not a --help (2026-12-06: the launcher
  // printed the help and exited 0): here the run goes on to the refusal of --redis "".
  {
    const r = await refused(["--workers", "2", "--ring", "-h", "--redis", ""]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--redis must not be empty/);
  }
  // A bad SHMIO_RING_NOTIFIER is refused before the cluster starts (2026-12-06: each worker
  // refused it once started, the cluster stopped, exit 1).
  {
    const r = await refused(["--workers", "2"], { SHMIO_RING_NOTIFIER: "bogus" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /SHMIO_RING_NOTIFIER is 'bogus': thread, io_uring or unset/);
    assert.doesNotMatch(r.stderr, /workers/);
  }
  // --help whose text cannot be written (a full disk): 1, not 0, for shmio and shmio-emit (before
  // 2026-12-05).
  for (const bin of [BIN, EMIT]) {
    const full = openSync("/dev/full", "w");
    const code = await new Promise((resolve) => {
      const p = spawn(bin, ["--help"], { stdio: ["ignore", full, "ignore"] });
      p.on("exit", resolve);
    });
    closeSync(full);
    assert.equal(code, 1, bin);
  }
  // --chat-dir given to another app than the chat (taken, and it did nothing, before 2026-12-05).
  {
    const r = await refused(["--chat-dir", "/tmp"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--chat-dir is the chat app's/);
  }
  // An --allow-origin no browser sends (2026-12-03: each was taken, and every handshake got 403).
  for (const [args, env, why] of [
    [["--allow-origin", ""], {}, /--allow-origin must not be empty/],
    [[], { SHMIO_ALLOW_ORIGIN: "" }, /SHMIO_ALLOW_ORIGIN: --allow-origin must not be empty/],
    [["--allow-origin", "*"], {}, /every origin is allowed without the flag/],
    [["--allow-origin", "https://example.com/"], {}, /no path and no trailing slash/],
    [["--allow-origin", "example.com"], {}, /not an origin \(scheme:\/\/host\[:port\]/]]) {
    const r = await refused(args, env);
    assert.equal(r.code, 2, `${args} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  const long = `test-${process.pid}-`.padEnd(199, "x");
  const r = await refused(["--workers", "2", "--ring", long, "--ring-per-worker"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--ring test-.*: with --ring-per-worker and 2 workers at most 197 characters/);
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.includes(long)), []);
  // 197 is taken (its workers' rings are 200 characters).
  const ring = long.slice(0, 197);
  const c = await cluster("bench", 2, [...PER_WORKER, "--ring", ring], true);
  assert.equal(c.workers.size, 2);
  assert.equal(existsSync(`/dev/shm/shmio.${ring}.w1`), true);
  const tables = (kind) => readdirSync("/dev/shm").filter((f) => f.startsWith(`shmio-${kind}.${ring}.`));
  assert.equal(tables("board").length, 1, "the workers' board is made");
  assert.deepEqual(tables("sessions"), [], "no session table without --recovery");
  c.proc.kill("SIGTERM");
  await within(once(c.proc, "exit"), 15000, "exit");
});

test("supervisor: a ring of another layout version whose creator still runs, or one being created, is left alone", async () => {
  // Another shmio build's ring: the magic number, layout version 99, and as its creator this test
  // process (pid + start time, at the offsets every version keeps).
  const ring = `other-version-${process.pid}`;
  const path = `/dev/shm/shmio.${ring}`;
  const header = Buffer.alloc(4096);
  header.write("SHMIORNG", 0, "latin1");
  header.writeUInt32LE(99, 8);
  header.writeInt32LE(process.pid, 32);
  const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
  const startTime = BigInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]); // field 22
  header.writeBigUInt64LE(startTime, 40);
  writeFileSync(path, header);
  await refusedAndLeftAlone(ring, path,
    /cannot be used by this build \(.*layout version 99.*\) and belongs to a running process/);
  // A ring whose header is not written yet, a moment old: being created by someone; left alone.
  writeFileSync(path, Buffer.alloc(4096));
  await refusedAndLeftAlone(ring, path, /is being created by another process/);
});

// A supervisor started on `ring` exits 1 saying `message`, and the ring's object is still there.
async function refusedAndLeftAlone(ring, path, message) {
  let proc;
  try {
    proc = spawn(BIN, ["--app", "bench", "--workers", "1", "--port", "0", "--ring", ring]);
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const [code] = await within(once(proc, "exit"), 5000, "the supervisor exits");
    assert.equal(code, 1);
    assert.match(err, message);
    assert.equal(existsSync(path), true, "the ring is still there");
  } finally {
    if (proc && proc.exitCode === null) {  // (it went on: a failure; do not leave it running)
      proc.kill("SIGKILL");
      await once(proc, "exit");
    }
    if (existsSync(path)) unlinkSync(path);
  }
}

test("a ring removed, corrupted, truncated or replaced under a running cluster: the supervisor says so and stops cleanly, no crash loop", async () => {
  // (With a ring per worker: worker 1's ring; every ring goes at the end. Truncated: before, the
  // supervisor read the header through its mapping first, SIGBUS, and left every ring behind.
  // Replaced: the other file stays, this cluster's own tables go — before, they were left.)
  for (const [harm, perWorker] of [["removed", false], ["corrupted", false], ["removed", true],
                                   ["corrupted", true], ["truncated", false], ["truncated", true],
                                   ["replaced by another file", false]]) {
    const c = await cluster("bench", 2, [...(perWorker ? PER_WORKER : []), "--recovery"]);
    const path = `/dev/shm/shmio.${c.ring}${perWorker ? ".w1" : ""}`;
    const s = client(c.url(0));
    await within(once(s, "connect"), 5000, "connect");
    const tables = () => readdirSync("/dev/shm").filter((f) =>
      f.match(/^shmio-(?:sessions|board|cuts)\.(.*)\.[0-9a-f]{16}$/)?.[1] === c.ring);
    assert.ok(tables().length >= 2, `the cluster's tables: ${tables()}`);
    const exited = once(c.proc, "exit");
    if (harm === "removed") {
      unlinkSync(path);
    } else if (harm === "truncated") {
      truncateSync(path, 0);  // (its header gone too: read through a mapping, SIGBUS)
    } else if (harm === "replaced by another file") {
      writeFileSync(`${path}.tmp`, "another program's file");
      renameSync(`${path}.tmp`, path);  // (in one step: never seen missing)
    } else {
      const fd = openSync(path, "r+");
      writeSync(fd, Buffer.alloc(8), 0, 8, 0);  // the magic
      closeSync(fd);
    }
    const [code] = await within(exited, 15000, `the supervisor stops (ring ${harm})`);
    assert.equal(code, 1);
    assert.match(c.log, new RegExp(`ring ${path} was ${harm}[^\\n]* under the running cluster: stopping cleanly`));
    assert.doesNotMatch(c.log, /restarting/, "no worker restarted (no crash loop)");
    const replaced = harm === "replaced by another file";
    for (const left of [path, `/dev/shm/shmio.${c.ring}`, `/dev/shm/shmio.${c.ring}.w0`])
      if (!(replaced && left === path))
        assert.equal(existsSync(left), false, `nothing left in /dev/shm (${left})`);
    assert.deepEqual(tables(), [], "the cluster's tables removed");
    if (replaced) {
      assert.equal(readFileSync(path, "utf8"), "another program's file", "the other file left alone");
      unlinkSync(path);
    }
  }
});

// The hand-off directory removed under a running cluster (an operator's rm, a cleaner of /tmp):
// its workers' sockets went with it, so nothing could be handed between workers and a restarted
// worker could not start (it was restarted every 5 s for good, before 2026-12-03). Said, and
// the cluster stops cleanly, as for a ring.
test("the hand-off directory removed under a running cluster: said, and it stops cleanly, no crash loop", async () => {
  const c = await cluster("bench", 2, [], false);  // (one port: connections handed off)
  const s = client(c.url(0));
  await within(once(s, "connect"), 5000, "connect");
  const base = (process.env.TMPDIR?.startsWith("/") ? process.env.TMPDIR : "/tmp").replace(/\/+$/, "") || "/";
  // (The newest of its pid's: one an earlier supervisor of that pid left may be there still.)
  const mine = readdirSync(base).filter((f) => f.startsWith(`shmio-handoff.${c.proc.pid}-`))
    .map((f) => [statSync(`${base}/${f}`).mtimeMs, f]).sort((a, b) => a[0] - b[0]);
  assert.ok(mine.length >= 1, `the cluster's hand-off directory in ${base}`);
  const exited = once(c.proc, "exit");
  rmSync(`${base}/${mine[mine.length - 1][1]}`, { recursive: true, force: true });
  const [code] = await within(exited, 15000, "the supervisor stops (hand-off directory removed)");
  assert.equal(code, 1);
  assert.match(c.log, /the hand-off directory \S+ was removed or replaced under the running cluster: stopping cleanly/);
  assert.doesNotMatch(c.log, /restarting/, "no worker restarted (no crash loop)");
  assert.equal(existsSync(`/dev/shm/shmio.${c.ring}`), false, "its ring removed");
});

for (const [mode, extra] of MODES)
test(`/metrics on any worker speaks for the cluster: every worker's series, totals, per-namespace figures; /health lists every worker${mode}`, async () => {
  const c = await cluster("bench", 2, extra);
  await assertRings(c.workers.get(0).port, extra.length ? 3 : 1);
  // Three clients on worker 1, one on worker 0; two of worker 1's join a room.
  const on1 = [client(c.url(1)), client(c.url(1)), client(c.url(1))];
  const on0 = client(c.url(0));
  await Promise.all([...on1, on0].map((s) => within(once(s, "connect"), 5000, "connect")));
  await Promise.all(on1.slice(0, 2).map((s) => ack(s, "join", "r")));
  const got = collect(on1[0], "msg");
  await ack(on0, "publish", "r", "hello");  // two deliveries on worker 1
  await until(() => got.length === 1, 5000, "delivered");
  const series = (m, s) => {  // the value of one series (name and labels as written)
    const line = m.split("\n").find((l) => l.startsWith(s + " "));
    return line === undefined ? undefined : Number(line.slice(s.length + 1));
  };
  // Worker 1 posts on the board once a second: asked of worker 0 until its post has them.
  let m = "";
  await untilAsync(async () => {
    m = (await request(c.workers.get(0).port, "GET", "/metrics")).body;
    return series(m, 'shmio_namespace_sockets{namespace="/",worker="1"}') === 3 &&
           series(m, 'shmio_namespace_messages_out_total{namespace="/",worker="1"}') >= 2;
  }, 5000, "worker 1's figures in worker 0's /metrics");
  assert.equal(series(m, 'shmio_namespace_sockets{namespace="/",worker="0"}'), 1);
  assert.equal(series(m, 'shmio_namespace_sockets{namespace="/",worker="all"}'), 4);
  assert.equal(series(m, 'shmio_namespace_rooms{namespace="/",worker="1"}'), 1);
  assert.equal(series(m, 'shmio_connections{worker="all"}'),
               series(m, 'shmio_connections{worker="0"}') + series(m, 'shmio_connections{worker="1"}'));
  for (const w of ["0", "1", "all"]) {
    assert.notEqual(series(m, `shmio_ring_lag_bytes{worker="${w}"}`), undefined, w);
    assert.ok(series(m, `shmio_turn_seconds_bucket{worker="${w}",le="+Inf"}`) >= 0, w);
    assert.notEqual(series(m, `shmio_slow_consumer_disconnects_total{worker="${w}"}`), undefined, w);
    assert.notEqual(series(m, `shmio_namespace_volatile_dropped_total{namespace="/",worker="${w}"}`),
                    undefined, w);
  }
  assert.ok(series(m, 'shmio_turn_seconds_count{worker="1"}') >= 1, "worker 1 had turns with output");
  // A valid exposition: each family's HELP and TYPE once.
  const types = m.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
  assert.equal(new Set(types).size, types.length, "a TYPE line twice");
  const h = JSON.parse((await request(c.workers.get(0).port, "GET", "/health")).body);
  assert.deepEqual(h.cluster.map((w) => [w.worker, w.alive]), [[0, true], [1, true]]);
  assert.equal(h.cluster[1].pid, c.workers.get(1).pid);
  // A dead worker's series leave the cluster's answer, but not its counts: a worker="all" counter
  // never goes down (Prometheus would read a reset), neither while the worker is dead nor once
  // its successor posts from zero.
  const OUT = 'shmio_namespace_messages_out_total{namespace="/",worker=';
  const total = series(m, `${OUT}"all"}`);
  assert.equal(total, series(m, `${OUT}"0"}`) + series(m, `${OUT}"1"}`));
  const oldPid = c.workers.get(1).pid;
  const back = restarted(c, 1);
  // (The supervisor stopped while worker 1 is dead: it is a zombie, dead to the board, and not
  // restarted until the supervisor goes on. Restarted at once, its successor's first post could
  // come between the wait below and the scrape after it.)
  process.kill(c.proc.pid, "SIGSTOP");
  try {
    process.kill(oldPid, "SIGKILL");
    await untilAsync(async () => {
      const hh = JSON.parse((await request(c.workers.get(0).port, "GET", "/health")).body);
      return hh.cluster.length === 2 && hh.cluster[1].alive === false;
    }, 5000, "worker 1 dead in /health");
    m = (await request(c.workers.get(0).port, "GET", "/metrics")).body;
  } finally {
    process.kill(c.proc.pid, "SIGCONT");
  }
  assert.equal(series(m, 'shmio_namespace_sockets{namespace="/",worker="1"}'), undefined);
  assert.equal(series(m, `${OUT}"1"}`), undefined);
  assert.ok(series(m, `${OUT}"all"}`) >= total, `while dead: ${series(m, `${OUT}"all"}`)} < ${total}`);
  await within(back, 10000, "worker 1 restarted");
  await untilAsync(async () => {  // (the successor's first post, a second after its start at most)
    const hh = JSON.parse((await request(c.workers.get(0).port, "GET", "/health")).body);
    return hh.cluster[1].alive && hh.cluster[1].pid !== oldPid;
  }, 5000, "worker 1's successor on the board");
  m = (await request(c.workers.get(0).port, "GET", "/metrics")).body;
  assert.equal(series(m, `${OUT}"1"}`), 0, "the successor counts from zero");
  assert.ok(series(m, `${OUT}"all"}`) >= total, `after the restart: ${series(m, `${OUT}"all"}`)} < ${total}`);
  on0.disconnect();
  on1.forEach((s) => s.disconnect());
});

for (const [mode, extra] of MODES)
test(`GET /health and /metrics on every worker${mode}`, async () => {
  const c = await cluster("bench", 2, extra);
  for (const i of [0, 1]) {
    const h = JSON.parse((await request(c.workers.get(i).port, "GET", "/health")).body);
    assert.equal(h.status, "ok");
    assert.equal(h.worker, i);
    assert.equal(h.workers, 2);
    assert.equal(h.accepting, true);
    const m = (await request(c.workers.get(i).port, "GET", "/metrics")).body;
    for (const name of ["shmio_connections", "shmio_packets_in_total", "shmio_bytes_out_total",
                        "shmio_broadcasts_published_total", "shmio_ring_lag_bytes", "shmio_ring_laps_total",
                        "shmio_ring_lost_records_total", "shmio_ring_abandoned_claims_total",
                        "shmio_ring_notifier_io_uring", "shmio_rings"])
      assert.match(m, new RegExp(`^${name}(\\{[^}]*\\})? \\d+$`, "m"), name);
    assert.match(m, new RegExp(`^shmio_rings\\{worker="${i}"\\} ${extra.length ? 3 : 1}$`, "m"),
                 extra.length ? "the shared ring and one per worker" : "one shared ring");
    assert.match(m, new RegExp(`shmio_connections\\{worker="${i}"\\}`));
  }
});
