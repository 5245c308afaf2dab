// A Node socket.io server on @socket.io/redis-adapter (classic createAdapter, or
// createShardedAdapter), the Node member of the mixed-fleet tests (fleet.test.mjs). It runs the
// events of shmio's bench app (server/examples/apps/bench.hpp) that those tests use, with the same
// names and answers.
//   node fleet_node_server.mjs REDIS_URL [KEY] [NAME] [classic|classic7|sharded] [SUBSCRIPTION_MODE]
// (classic7: @socket.io/redis-adapter 7.2.0, whose remoteJoin/remoteLeave/remoteDisconnect name
// one socket, events remote-join, remote-leave, remote-disconnect.)
//   -> prints "node listening on PORT"
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createAdapter7 } from "redis-adapter-7";
import { createClient } from "redis";

const [url, key = "socket.io", name = "node", mode = "classic", subscriptionMode = "dynamic"] =
  process.argv.slice(2);
const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const adapter = mode === "sharded"
  ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode })
  : (mode === "classic7" ? createAdapter7 : createAdapter)(pub, sub, { key, requestsTimeout: 3000 });
const io = new Server(http, { adapter });

io.on("ping-workers", (cb) => cb(name));
io.on("echo-workers", (arg, cb) => cb(arg));
io.on("connection", (s) => {
  s.on("whoami", (cb) => cb({ worker: name, id: s.id }));
  s.on("join", (room, cb) => { s.join(room); cb && cb({ worker: name }); });
  s.on("leave", (room, cb) => { s.leave(room); cb && cb({ worker: name }); });
  s.on("echo", (...a) => { const cb = a.pop(); cb(...a); });
  s.on("publish", (room, payload, cb) => {
    (room === null ? io : io.to(room)).emit("msg", payload);
    cb && cb();
  });
  s.on("publish-others", (room, payload, cb) => {
    (room === null ? s.broadcast : s.to(room)).emit("msg", payload);
    cb && cb();
  });
  s.on("publish-except", (room, payload, cb) => { io.except(room).emit("msg", payload); cb && cb(); });
  s.on("fetch", async (room, cb) => {
    const all = await (room ? io.in(room) : io).fetchSockets();
    cb(all.map((r) => ({ id: r.id, rooms: [...r.rooms], host: r.handshake.headers.host,
                         eio: r.handshake.query.EIO, data: r.data, time: typeof r.handshake.time,
                         xdomain: typeof r.handshake.xdomain })));
  });
  s.on("sockets-join", (room, to, cb) => { io.in(room).socketsJoin(to); cb && cb(); });
  s.on("sockets-leave", (room, from, cb) => { io.in(room).socketsLeave(from); cb && cb(); });
  s.on("disconnect-room", (room, cb) => { cb && cb(); io.in(room).disconnectSockets(); });
  // (The adapter's requestsTimeout bounds the wait: serverSideEmit takes no timeout of its own.)
  s.on("ping-workers", (_ms, cb) => {
    io.serverSideEmit("ping-workers", (err, workers) =>
      cb({ error: err ? String(err.message || err) : null, workers }));
  });
  s.on("echo-workers", (arg, _ms, cb) => {
    io.serverSideEmit("echo-workers", arg, (err, answers) =>
      cb({ error: err ? String(err.message || err) : null, answers }));
  });
  s.on("ask-all", (ms, cb) => {
    io.timeout(ms).emit("question", (err, responses) =>
      cb({ error: err ? String(err.message || err) : null, responses }));
  });
  const settled = (p, cb) => p.then(() => cb({ error: null }), (e) => cb({ error: e.message }));
  const settled2 = (p, cb) =>
    p.then((v) => cb({ error: null, ids: [...v].sort() }), (e) => cb({ error: e.message }));
  s.on("remote-join", (id, room, cb) => settled(io.of("/").adapter.remoteJoin(id, room), cb));
  s.on("remote-leave", (id, room, cb) => settled(io.of("/").adapter.remoteLeave(id, room), cb));
  s.on("remote-disconnect", (id, close, cb) =>
    settled(io.of("/").adapter.remoteDisconnect(id, close), cb));
  s.on("server-count", async (cb) => cb(await io.of("/").adapter.serverCount()));
  // (adapter 7.x's allSockets asks the other members with a SOCKETS request; 8.x counts locally
  // with fetchSockets.)
  s.on("all-sockets", (room, cb) => settled2((room ? io.in(room) : io).allSockets(), cb));
  s.on("all-rooms", async (cb) => cb([...(await io.of("/").adapter.allRooms())]));
});
http.listen(0, "127.0.0.1", () => console.log(`node listening on ${http.address().port}`));
process.on("SIGTERM", () => { io.close(); pub.quit().catch(() => {}); sub.quit().catch(() => {}); process.exit(0); });
