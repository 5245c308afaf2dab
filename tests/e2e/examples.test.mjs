// The example apps as programs of their own (server/examples/{chat,bench,conformance}.cpp, on
// shmio's public API only), with the real socket.io-client: each started on a free port, as one
// process and (the chat) as a 2-worker cluster. Run by ctest (e2e_examples): CHAT_BIN, BENCH_BIN,
// CONFORMANCE_BIN. (`shmio --app ...` runs the same apps: the other e2e suites.)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { io as connect } from "socket.io-client";
import { within, until, startWorkers } from "./helpers.mjs";

const procs = [];
const opened = [];
after(() => {
  opened.forEach((s) => s.disconnect());
  procs.forEach((p) => p.exitCode === null && p.kill("SIGKILL"));
});

// Starts `bin` with `args`; resolves once `lines` workers listen.
const start = (bin, args = [], lines = 1) => startWorkers(bin, args, lines, procs);

function client(url, opts = {}) {
  const s = connect(url, { reconnection: false, forceNew: true, ...opts });
  opened.push(s);
  return s;
}
const ack = (s, ...args) => within(s.timeout(10000).emitWithAck(...args), 10000, `ack of ${args[0]}`);
const stop = async (h) => {
  h.proc.kill("SIGTERM");
  await within(new Promise((r) => (h.proc.exitCode !== null ? r() : h.proc.on("exit", r))),
               15000, "exit after SIGTERM");
};

test("shmio-chat: the page, the client bundle, a message to everyone, on 2 workers", async () => {
  const h = await start(process.env.CHAT_BIN, ["--workers", "2"], 2);
  const page = await fetch(`${h.url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /chat message/);
  const bundle = await fetch(`${h.url}/socket.io/socket.io.js`);
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get("content-type"), /javascript/);
  const a = client(h.url), b = client(h.url, { transports: ["polling"] });
  const got = [];
  b.on("chat message", (m) => got.push(m));
  await until(() => a.connected && b.connected, 10000, "both connected");
  assert.ok(a.recovered === false, "recovery is on: a fresh session says recovered = false");
  await ack(a, "chat message", "hello");
  await until(() => got.length === 1, 5000, "the message to everyone");
  assert.equal(got[0], "hello");
  // A message with nothing in it sends nothing, and its acknowledgement is answered all the same
  // (it was left waiting before 2026-12-06).
  await ack(a, "chat message");
  await ack(a, "chat message", "after");
  await until(() => got.length === 2, 5000, "the next message");
  assert.equal(got[1], "after");
  await stop(h);
});

// shmio-chat run with `args` until it exits: its status and what it wrote.
async function chatExit(args) {
  const proc = spawn(process.env.CHAT_BIN, args);
  procs.push(proc);
  let out = "", err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const code = await within(new Promise((r) => proc.on("exit", r)), 10000, "exit");
  return { code, out, err };
}

test("shmio-chat: an unknown option is refused", async () => {
  const { code, err } = await chatExit(["--port", "0", "--colour", "blue"]);
  assert.equal(code, 2);
  assert.match(err, /--colour/);
});

test("shmio-chat: --chat-dir followed by another option is refused (needs a value)", async () => {
  const { code, err } = await chatExit(["--port", "0", "--chat-dir", "--recovery"]);
  assert.equal(code, 2, err);
  assert.match(err, /--chat-dir needs a value \(got --recovery\)/);
});

test("shmio-chat: an empty --chat-dir is refused as such", async () => {
  const { code, err } = await chatExit(["--port", "0", "--chat-dir", ""]);
  assert.equal(code, 2, err);
  assert.match(err, /--chat-dir must not be empty/);
});

// A flag's value that looks like -h is the flag's: "--chat-dir -h" names a directory (with no
// index.html: exit 1, said), not a --help (it printed the help and exited 0 before 2026-12-06).
test("shmio-chat: --chat-dir -h names a directory, not the help", async () => {
  const { code, out, err } = await chatExit(["--port", "0", "--chat-dir", "-h"]);
  assert.equal(code, 1, err);
  assert.doesNotMatch(out, /usage:/);
  assert.match(err, /-h/);
});

test("shmio-bench-app: the bench app's events", async () => {
  const h = await start(process.env.BENCH_BIN);
  const a = client(h.url), b = client(h.url);
  const me = await ack(a, "whoami");
  assert.equal(me.worker, 0);
  assert.equal(me.id, a.id);
  assert.deepEqual(await ack(a, "echo", { one: 1 }, "two"), { one: 1 });  // (the first value)
  await ack(b, "join", "room-1");
  const got = [];
  b.on("msg", (m) => got.push(m));
  await ack(a, "publish", "room-1", { n: 7 });
  await until(() => got.length === 1, 5000, "the room's broadcast");
  assert.deepEqual(got[0], { n: 7 });
  assert.equal(await ack(a, "count"), 2);
  await stop(h);
});

test("shmio-conformance: the protocol suite's settings and namespaces", async () => {
  const h = await start(process.env.CONFORMANCE_BIN);
  const s = client(h.url, { auth: { hello: "world" } });
  const auth = await within(new Promise((r) => s.on("auth", r)), 5000, "auth event");
  assert.deepEqual(auth, { hello: "world" });
  const open = await (await fetch(`${h.url}/socket.io/?EIO=4&transport=polling`)).text();
  const hs = JSON.parse(open.slice(1));
  assert.equal(hs.pingInterval, 300);
  assert.equal(hs.pingTimeout, 200);
  assert.equal(hs.maxPayload, 1000000);
  const refused = client(`${h.url}/secure`);
  const err = await within(new Promise((r) => refused.on("connect_error", r)), 5000, "refusal");
  assert.equal(err.message, "unauthorized");
  const admitted = client(`${h.url}/secure`, { auth: { token: "ok" } });
  await until(() => admitted.connected, 5000, "/secure with the token");
  await stop(h);
});
