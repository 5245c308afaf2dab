// The Engine.IO echo example against the real engine.io-client (pinned in package.json):
// polling only, WebSocket only, and polling upgraded to WebSocket; text and binary; heartbeats;
// the HTTP errors of the protocol. Run by ctest: SHMIO_EIO_ECHO is the eio-echo binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startListening } from "./helpers.mjs";
import { Socket } from "engine.io-client";

const BIN = process.env.SHMIO_EIO_ECHO;
const servers = [];
let port; // default heartbeats (25 s / 20 s): timing-insensitive tests
let fastPort; // pings every 300 ms: the heartbeat test

async function start(args) {
  const { proc, port: p } = await startListening(BIN, ["--port", "0", ...args]);
  servers.push(proc);
  return p;
}

before(async () => {
  assert.ok(BIN, "SHMIO_EIO_ECHO must name the eio-echo binary");
  port = await start([]);
  fastPort = await start(["--ping-interval", "300", "--ping-timeout", "5000"]);
});

after(() => servers.forEach((s) => s.kill("SIGTERM")));

const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

const cases = [
  ["polling", { transports: ["polling"] }, "polling"],
  ["websocket", { transports: ["websocket"] }, "websocket"],
  ["polling upgraded to websocket", { transports: ["polling", "websocket"] }, "websocket"],
];

for (const [name, opts, finalTransport] of cases) {
  test(`echo over ${name}: text and binary`, async () => {
    const socket = new Socket(`ws://127.0.0.1:${port}`, opts);
    await withTimeout(once(socket, "open"), 5000, "open");
    if (finalTransport !== opts.transports[0]) {
      await withTimeout(once(socket, "upgrade"), 5000, "upgrade");
    }
    assert.equal(socket.transport.name, finalTransport);
    socket.send("hello €");
    assert.equal(await withTimeout(once(socket, "message"), 5000, "text echo"), "hello €");
    socket.send(Buffer.from([1, 2, 3, 255]));
    const bin = await withTimeout(once(socket, "message"), 5000, "binary echo");
    assert.deepEqual([...new Uint8Array(bin)], [1, 2, 3, 255]);
    const closed = once(socket, "close");
    socket.close();
    await closed;
  });
}

test("heartbeats keep an idle session alive (pingInterval 300 ms)", async () => {
  const socket = new Socket(`ws://127.0.0.1:${fastPort}`, { transports: ["polling"] });
  await withTimeout(once(socket, "open"), 5000, "open");
  let pings = 0;
  await withTimeout(
    new Promise((resolve) => socket.on("ping", () => ++pings === 3 && resolve())),
    5000,
    "three pings",
  );
  socket.send("still here");
  assert.equal(await withTimeout(once(socket, "message"), 5000, "echo"), "still here");
  socket.close();
});

test("protocol errors get HTTP 400 with the JSON code", async () => {
  const base = `http://127.0.0.1:${port}/engine.io/`;
  const check = async (query, status, code, message, method = "GET") => {
    const res = await fetch(base + query, { method });
    assert.equal(res.status, status, query);
    assert.deepEqual(await res.json(), { code, message });
  };
  await check("?EIO=3&transport=polling", 400, 5, "Unsupported protocol version");
  await check("?EIO=4&transport=carrier-pigeon", 400, 0, "Transport unknown");
  // The transport is looked at before the version (engine.io's order).
  await check("", 400, 0, "Transport unknown");
  await check("?EIO=3&transport=carrier-pigeon", 400, 0, "Transport unknown");
  await check("?transport=polling", 400, 5, "Unsupported protocol version");
  await check("?EIO=4&transport=polling&sid=unknown", 400, 1, "Session ID unknown");
  await check("?EIO=4&transport=polling", 400, 2, "Bad handshake method", "POST");
});

async function handshake() {
  const base = `http://127.0.0.1:${port}/engine.io/?EIO=4&transport=polling`;
  const open = await (await fetch(base)).text();
  return `${base}&sid=${JSON.parse(open.slice(1)).sid}`;
}

test("maxHttpBufferSize: a polling POST over 1e6 bytes gets 413", async () => {
  const url = await handshake();
  const res = await fetch(url, { method: "POST", body: "4" + "x".repeat(1_000_001) });
  assert.equal(res.status, 413);
});

test("maxHttpBufferSize: a WebSocket message over 1e6 bytes closes the connection", async () => {
  const socket = new Socket(`ws://127.0.0.1:${port}`, { transports: ["websocket"] });
  await withTimeout(once(socket, "open"), 5000, "open");
  const closed = once(socket, "close");
  socket.send("x".repeat(1_000_001));
  await withTimeout(closed, 5000, "close after an oversized message");
});

test("one GET at a time: a second concurrent GET gets 400 and closes the session", async () => {
  const url = await handshake();
  const first = fetch(url); // held: nothing to send yet
  const second = await fetch(url);
  assert.equal(second.status, 400);
  assert.equal(await second.text(), "", "a bare 400, as engine.io's polling transport answers");
  assert.equal(await (await first).text(), "1", "the held GET is answered with a close packet");
  const after = await fetch(url);
  assert.equal(after.status, 400, "the session is gone");
});

test("a polling POST may batch thousands of packets (the body size is the only bound)", async () => {
  const socket = new Socket(`ws://127.0.0.1:${port}`, { transports: ["polling"] });
  await withTimeout(once(socket, "open"), 5000, "open");
  const n = 3000;
  let got = 0;
  const all = new Promise((resolve) => socket.on("message", () => ++got === n && resolve()));
  for (let i = 0; i < n; ++i) socket.send(String(i)); // batched by the client into few POSTs
  await withTimeout(all, 15000, `${n} echoes (got ${got})`);
  socket.close();
});
