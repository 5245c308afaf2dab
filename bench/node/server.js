// The bench app (docs/benchmarks.md, "The app every server runs") on Node socket.io, as the
// end-to-end benchmark's peers run it:
//   node server.js --port P                          one process
//   node server.js --port P --workers N              N workers with @socket.io/cluster-adapter;
//                                                     websocket-only load: Node's cluster
//                                                     round-robin on one shared port
//   node server.js --port P --workers N --sticky     the same behind @socket.io/sticky (polling)
//   node server.js --port P [--workers N] --redis URL
//                                                    every process a member of a Redis fleet
//                                                    (@socket.io/redis-adapter, classic: each
//                                                    worker subscribes), for bench/e2e --only-fleet
// Configured as socket.io's documentation recommends for production: bufferutil and
// utf-8-validate installed (ws uses them), perMessageDeflate off (the default), no HTTP
// long-polling upgrade dance for websocket-only clients (clients choose the transport).
"use strict";
const cluster = require("node:cluster");
const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter, setupPrimary } = require("@socket.io/cluster-adapter");
const { setupMaster, setupWorker } = require("@socket.io/sticky");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt("--port", "3000"));
const workers = Number(opt("--workers", "0"));
const sticky = args.includes("--sticky");
const redisUrl = opt("--redis", "");

function app(io, worker) {
  io.on("connection", (socket) => {
    const who = () => ({ worker, pid: process.pid });
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(who());
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      if (typeof ack === "function") ack(who());
    });
    socket.on("whoami", (ack) => typeof ack === "function" && ack({ ...who(), id: socket.id }));
    socket.on("echo", (...a) => {
      const ack = a.pop();
      if (typeof ack === "function") ack(...a);
    });
    // (Acknowledged when asked, as shmio's bench app does: the load generator never asks.)
    socket.on("publish", (room, payload, ack) => {
      (room ? io.to(room) : io).emit("msg", payload);
      if (typeof ack === "function") ack();
    });
    socket.on("publish-others", (room, payload, ack) => {
      (room ? socket.to(room) : socket.broadcast).emit("msg", payload);
      if (typeof ack === "function") ack();
    });
    socket.on("count", async (ack) => {
      const all = await io.fetchSockets();
      if (typeof ack === "function") ack(all.length);
    });
  });
}

if (workers > 0 && cluster.isPrimary) {
  if (sticky) {
    const server = http.createServer();
    setupMaster(server, { loadBalancingMethod: "least-connection" });
    server.listen(port, "127.0.0.1");
  }
  if (!redisUrl) setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" });
  for (let i = 0; i < workers; ++i) cluster.fork({ SHMIO_BENCH_WORKER: String(i) });
  cluster.on("exit", (w) => console.error(`worker ${w.process.pid} died`));
  // (With --redis each worker says when it listens: after its Redis clients connected.)
  if (!redisUrl)
    console.log(`node cluster (${workers} workers${sticky ? ", sticky" : ""}) listening on 127.0.0.1:${port}`);
} else {
  const worker = Number(process.env.SHMIO_BENCH_WORKER ?? 0);
  const server = http.createServer();
  const io = new Server(server, { perMessageDeflate: false });
  if (redisUrl) {
    const { createAdapter: redisAdapter } = require("@socket.io/redis-adapter");
    const { createClient } = require("redis");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    io.adapter(redisAdapter(pub, sub));
    Promise.all([pub.connect(), sub.connect()]).then(() => start(io, server, worker));
  } else {
    if (workers > 0) io.adapter(createAdapter());
    start(io, server, worker);
  }
}

function start(io, server, worker) {
  app(io, worker);
  if (workers > 0 && sticky) {
    setupWorker(io);
  } else {
    server.listen(port, "127.0.0.1");
  }
  if (workers === 0) console.log(`node (one process) listening on 127.0.0.1:${port}`);
  else if (redisUrl) console.log(`node worker ${worker} (redis) listening on 127.0.0.1:${port}`);
}
