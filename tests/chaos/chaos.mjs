// The chaos suite (issue 11): a real cluster (`shmio --app bench --recovery`, workers on one
// shared port) and real socket.io-client clients — WebSocket-only, polling-only and
// polling-then-upgrade, all in one room, reconnecting — while publishers with acks stream
// numbered messages and random workers are SIGKILLed, SIGSTOPped and continued at random times
// (two deaths in a row, the same worker twice, a death while a fetchSockets or a publish is in
// flight, a stop long enough for clients to time out). Every (publisher, seq) each subscriber
// receives is checked:
//   * never twice, never out of order (per publisher; with a ring per worker, per publisher
//     connection: below, "the checks");
//   * nothing missing for a recovered client: a gap in what a subscriber received is allowed only
//     for messages whose publisher never got the ack (its worker died first), or across a
//     reconnect that was not recovered — and each of those must be explained: the client had
//     received nothing yet (no offset to recover from);
//   * at the end, when the chaos stops: every client connected, the cluster counts exactly as many
//     sockets as there are clients (fetchSockets from every worker), every fetchSockets issued
//     during the chaos has completed.
// Usage: node chaos.mjs [--seconds S] [--workers N] [--clients N] [--seed N] [--soak FILE]
//        (SHMIO_BIN: the shmio binary). Exit 0 when every assertion holds; a JSON summary on stdout.
// --soak FILE (scripts/soak.sh): a long run with mixed load — besides the checked stream, joins
// and leaves of other rooms, publishes to them, broadcasts with acks — and actions every 20-40 s
// on workers 1..N-1 only, so that worker 0 and the supervisor live the whole run: their RSS and
// descriptors, and every worker's ring lag, are sampled every 10 s into FILE (JSON lines).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import fs from "node:fs";
import http from "node:http";

const require = createRequire(new URL("../e2e/package.json", import.meta.url));
const { io: connect } = require("socket.io-client");

const args = process.argv.slice(2);
// A whole number in [min, max], or exit 2 naming the option: "10m" or "abc" read as NaN, and a
// run of NaN seconds checked nothing and passed (before 2026-12-06; a helper's review).
const opt = (name, def, min = 1, max = 1e9) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = i + 1 < args.length && /^[0-9]+$/.test(args[i + 1]) ? Number(args[i + 1]) : NaN;
  if (!(v >= min && v <= max)) {
    console.error(`chaos: --${name} must be a whole number in ${min}..${max} (got ${args[i + 1]})`);
    process.exit(2);
  }
  return v;
};
const SECONDS = opt("seconds", 20);
const WORKERS = opt("workers", 3, 1, 64);
const CLIENTS = opt("clients", 30, 1, 5000);
const PUBLISHERS = 2;
const RATE = opt("rate", 40); // messages per second per publisher
// --no-stop: SIGKILLs only, no SIGSTOP/SIGCONT.
const NO_STOP = args.includes("--no-stop");
// --kinds websocket,polling,upgrade (default: all three): the subscribers' transports.
const KINDS = (() => {
  const i = args.indexOf("--kinds");
  return i >= 0 && i + 1 < args.length ? args[i + 1].split(",") : ["websocket", "polling", "upgrade"];
})();
let seed = opt("seed", Date.now() % 100000, 0, 2147483647);
const SEED = seed;
// (Said first: a run that throws, hangs or is killed by ctest's timeout never reached the
// summary that said it, and could not be replayed; a review, 2026-12-06.)
console.error(`chaos: --seed ${SEED}`);
const SOAK = (() => {
  const i = args.indexOf("--soak");
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
})();
const BIN = process.env.SHMIO_BIN;
if (!BIN) {
  console.error("chaos: set SHMIO_BIN to the shmio binary");
  process.exit(2);
}

// A small deterministic generator: a failing run can be replayed with --seed.
function rand() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
const fail = (m) => {
  failures.push(m);
  if (failures.length <= 20) console.error(`chaos: FAIL ${m}`);
};

async function freePort() {
  const s = net.createServer();
  await new Promise((res) => s.listen(0, "127.0.0.1", res));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// --- the cluster
const port = await freePort();
const ring = `chaos-${process.pid}`;
const proc = spawn(BIN, ["--app", "bench", "--recovery", "--workers", String(WORKERS), "--port",
                         String(port), "--ring", ring, "--no-pin", "--ping-interval", "1000",
                         "--ping-timeout", "1500", "--log-sockets",
                         ...(process.env.CHAOS_SHMIO_ARGS ?? "").split(" ").filter(Boolean)]);
const workers = new Map(); // index -> pid
let log = "";
proc.stderr.on("data", (d) => (log += d));
let out = "";
const started = new Promise((resolve, reject) => {
  proc.stdout.on("data", (d) => {
    out += d;
    for (const m of out.matchAll(/shmio worker (\d+) \(pid (\d+)[^)]*\)[^\n]* listening/g))
      workers.set(Number(m[1]), Number(m[2]));
    out = out.slice(out.lastIndexOf("\n") + 1);
    if (workers.size === WORKERS) resolve();
  });
  proc.on("exit", (code) => reject(new Error(`cluster exited with ${code}: ${log}`)));
});
await started;
const stopped = new Set(); // pids SIGSTOPped now
const cleanup = () => {
  for (const pid of stopped) try { process.kill(pid, "SIGCONT"); } catch {}
  if (proc.exitCode === null) proc.kill("SIGTERM");
};
process.on("exit", cleanup);
// Interrupted (Ctrl-C, a timeout's SIGTERM): the cluster goes too (its ring is removed by it).
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

const url = `http://127.0.0.1:${port}`;
const common = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 1000,
                 randomizationFactor: 0.5, timeout: 3000, forceNew: true };
const kinds = [
  ["websocket", { transports: ["websocket"] }],
  ["polling", { transports: ["polling"] }],
  ["upgrade", {}],
].filter(([k]) => KINDS.includes(k));
if (kinds.length === 0) {
  console.error("chaos: --kinds names none of websocket, polling, upgrade");
  process.exit(2);
}

// --- subscribers: each keeps its log of events
const subs = [];
// Joins the room "r" for this session (sub.joinedId: the session whose join was acked), again
// after a join that was not acked while the same session is still connected.
function join(sub) {
  const s = sub.s, id = s.id;
  s.timeout(5000).emitWithAck("join", "r").then(() => {
    if (s.id === id) sub.joinedId = id;
    sub.joined = true;
  }, () => {
    if (s.connected && s.id === id) join(sub);
  });
}
for (let i = 0; i < CLIENTS; ++i) {
  const [kind, o] = kinds[i % kinds.length];
  const s = connect(url, { ...common, ...o });
  const sub = { i, kind, s, events: [], fresh: 0, recovered: 0, connects: 0, joined: false,
                joinedId: undefined, pid: undefined, offset: undefined };
  // What the client will try to recover with (socket.io-client's private fields, read before the
  // next connect replaces them).
  s.on("disconnect", () => {
    sub.pid = s._pid;
    sub.offset = s._lastOffset;
  });
  s.on("connect", () => {
    ++sub.connects;
    sub.events.push({ t: "connect", recovered: s.recovered, pid: sub.pid, offset: sub.offset,
                      id: s.id, prev: sub.lastId, at: Date.now() });
    sub.lastId = s.id;
    if (s.recovered) ++sub.recovered;
    else ++sub.fresh;
    // A fresh session joins the room again; a recovered one has its rooms back — those its
    // session had when it was saved, so one whose join was never acked (its worker died first)
    // joins too. A join not acked is tried again while this session lasts (a failed one was
    // left: the subscriber then stayed out of the room, and missed the final messages).
    if (!s.recovered || sub.joinedId !== s.id) join(sub);
  });
  s.on("msg", (m) => sub.events.push({ t: "msg", p: m.p, q: m.q, at: Date.now() }));
  if (process.env.CHAOS_DEBUG) {
    // Engine.IO-level trace: every message packet with its session, transport and poll number.
    let polls = 0;
    s.io.on("open", () => {
      const eng = s.io.engine;
      const watch = (tr) => tr.on("poll", () => ++polls);
      watch(eng.transport);
      sub.raw.push({ sid: eng.id, ev: "open", at: Date.now() });
      eng.on("upgrade", () => sub.raw.push({ sid: eng.id, ev: "upgrade", at: Date.now() }));
      eng.on("close", (reason, desc) => sub.raw.push({ sid: eng.id, ev: `close ${reason} ${desc?.message ?? desc?.description ?? ""}`, at: Date.now() }));
      eng.on("packet", (pk) => {
        if (pk.type === "message")
          sub.raw.push({ sid: eng.id, tr: eng.transport.name, poll: polls,
                         d: String(pk.data).slice(0, 80), at: Date.now() });
      });
    });
  }
  sub.raw = [];
  subs.push(sub);
}

// --- publishers (WebSocket), with acks
const pubs = [];
for (let p = 0; p < PUBLISHERS; ++p) {
  const s = connect(url, { ...common, transports: ["websocket"] });
  const pub = { p, s, next: 0, acked: new Set(), inflight: 0, log: [], epoch: 0, epochOf: new Map() };
  s.on("connect", () => {
    ++pub.epoch;
    pub.log.push({ t: "connect", at: Date.now(), next: pub.next });
  });
  // Every time a publish leaves the client (socket.io-client re-sends what it buffered while
  // disconnected): a message sent twice by the client is not the server's duplicate.
  pub.sent = new Map();
  s.onAnyOutgoing((ev, room, m) => {
    if (ev === "publish") {
      pub.sent.set(m.q, (pub.sent.get(m.q) ?? 0) + 1);
      pub.epochOf.set(m.q, pub.epoch);  // the connection (so the worker) it last left through
    }
  });
  s.on("disconnect", (r) => pub.log.push({ t: "disconnect", r, at: Date.now(), next: pub.next }));
  pubs.push(pub);
}

const until = async (cond, ms, what) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
};
await until(() => subs.every((x) => x.joined) && pubs.every((x) => x.s.connected), 20000,
            "every client connected and joined");

// --- fetchSockets in flight: each must complete (answers or the operator's timeout)
// A request fails only when its own client's connection (its worker) died first; one that
// times out (a request left waiting by a dead or stopped responder) fails the run.
const fetches = { issued: 0, completed: 0, requester_gone: 0, timed_out: 0 };
function fetchOnce(s) {
  if (!s.connected) return;
  ++fetches.issued;
  s.timeout(15000).emitWithAck("count").then(
    () => ++fetches.completed,
    (e) => (/disconnected/.test(e.message) ? ++fetches.requester_gone : ++fetches.timed_out));
}

// --- the load
let publishing = true;
const publishLoop = (pub) => (async () => {
  while (publishing) {
    if (pub.s.connected && pub.inflight < 50) {
      const q = pub.next++;
      ++pub.inflight;
      pub.s.timeout(10000).emitWithAck("publish", "r", { p: pub.p, q })
        .then(() => pub.acked.add(q), () => {})
        .finally(() => --pub.inflight);
    }
    await sleep(1000 / RATE);
  }
})();
const loops = pubs.map(publishLoop);

// --- soak mode: mixed load beside the checked stream, and samples every 10 s
const soakStats = { joins: 0, leaves: 0, room_publishes: 0, asks: 0, asks_answered: 0 };
let soakTimers = [];
const samples = [];
function procStat(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = Number(status.match(/VmRSS:\s+(\d+)/)[1]) * 1024;
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { rss, fds };
  } catch {
    return null;
  }
}
const metrics = () => new Promise((resolve) => {
  const req = http.get({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
    let b = "";
    res.on("data", (d) => (b += d));
    res.on("end", () => resolve(b));
  });
  req.setTimeout(2000, () => req.destroy());
  req.on("error", () => resolve(""));
});
async function sample(t0) {
  const lag = {};
  for (let k = 0; k < 4 * WORKERS && Object.keys(lag).length < WORKERS; ++k) {
    const m = (await metrics()).match(/^shmio_ring_lag_bytes\{worker="(\d+)"\} (\d+)/m);
    if (m) lag[m[1]] = Number(m[2]);
  }
  const w0 = procStat(workers.get(0)), sup = procStat(proc.pid);
  samples.push({ t: Math.round((Date.now() - t0) / 1000), worker0_pid: workers.get(0),
                 worker0_rss: w0?.rss, worker0_fds: w0?.fds, supervisor_rss: sup?.rss,
                 supervisor_fds: sup?.fds, lag });
  fs.appendFileSync(SOAK, JSON.stringify(samples[samples.length - 1]) + "\n");
}
if (SOAK) {
  fs.writeFileSync(SOAK, "");
  const t0 = Date.now();
  await sample(t0);
  soakTimers.push(setInterval(() => sample(t0), 10000));
  // Joins and leaves of other rooms, publishes to them, broadcasts with acks (not checked: load).
  soakTimers.push(setInterval(() => {
    const x = pick(subs);
    if (!x.s.connected) return;
    const room = `room-${Math.floor(rand() * 10)}`;
    if (rand() < 0.5) {
      ++soakStats.joins;
      x.s.emit("join", room);
    } else {
      ++soakStats.leaves;
      x.s.emit("leave", room);
    }
    const p = pick(pubs);
    if (p.s.connected) {
      ++soakStats.room_publishes;
      p.s.emit("publish", `room-${Math.floor(rand() * 10)}`, { other: true });
    }
  }, 50));
  soakTimers.push(setInterval(() => {
    const p = pick(pubs);
    if (!p.s.connected) return;
    ++soakStats.asks;
    p.s.timeout(5000).emitWithAck("ask-all", 1000).then(() => ++soakStats.asks_answered, () => {});
  }, 1000));
  for (const x of subs) x.s.on("question", (cb) => typeof cb === "function" && cb("here"));
}

// --- the chaos
const actions = { kill: 0, killTwice: 0, stop: 0, killDuringFetch: 0 };
// In soak mode worker 0 is left alone (its memory and descriptors over the whole run).
const live = () => [...workers.entries()].filter(([i, pid]) => !stopped.has(pid) && !(SOAK && i === 0));
async function restartOf(i, oldPid) {
  await until(() => workers.get(i) !== oldPid, 15000, `worker ${i} restarted`);
}
async function kill(i) {
  const pid = workers.get(i);
  process.kill(pid, "SIGKILL");
  await restartOf(i, pid);
}
const steps = [];
const end = Date.now() + SECONDS * 1000;
while (Date.now() < end) {
  await sleep(SOAK ? 20000 + rand() * 20000 : 300 + rand() * 1200);
  const choice = NO_STOP ? rand() * 0.7 : rand();
  if (live().length === 0) continue;
  const [i] = pick(live());
  steps.push({ at: Date.now(), choice: Math.round(choice * 100) / 100, worker: i, pid: workers.get(i) });
  try {
    if (choice < 0.35) {
      ++actions.kill;
      await kill(i);
    } else if (choice < 0.5) {
      ++actions.killTwice; // two deaths in a row (the same worker, or another one)
      await kill(i);
      await kill(rand() < 0.5 || live().length === 0 ? i : pick(live())[0]);
    } else if (choice < 0.7) {
      ++actions.killDuringFetch;
      for (const x of subs.slice(0, 5)) fetchOnce(x.s);
      await kill(i);
    } else {
      ++actions.stop; // long enough, sometimes, for its clients' heartbeats to time out
      const pid = workers.get(i);
      stopped.add(pid);
      process.kill(pid, "SIGSTOP");
      await sleep(200 + rand() * 3000);
      process.kill(pid, "SIGCONT");
      stopped.delete(pid);
    }
  } catch (e) {
    fail(`chaos step: ${e.message}`);
  }
  for (const x of subs.slice(5, 7)) fetchOnce(x.s);
}

// --- settle: stop publishing, wait for everyone to be connected and every ack to resolve
publishing = false;
soakTimers.forEach(clearInterval);
await Promise.all(loops);
try {
  await until(() => pubs.every((p) => p.inflight === 0), 20000, "publish acks");
  await until(() => subs.every((x) => x.s.connected && x.joinedId === x.s.id) &&
                    pubs.every((p) => p.s.connected), 30000,
              "every client connected (and in the room) after the chaos");
  await until(() => fetches.completed + fetches.requester_gone + fetches.timed_out === fetches.issued,
              20000, "every fetchSockets completed");
  if (fetches.timed_out > 0) fail(`${fetches.timed_out} fetchSockets requests timed out`);
} catch (e) {
  fail(e.message);
}
// A last message from each publisher, acked: once every subscriber has it, nothing is in flight.
for (const pub of pubs) {
  const q = pub.next++;
  try {
    await pub.s.timeout(10000).emitWithAck("publish", "r", { p: pub.p, q });
    pub.acked.add(q);
  } catch {
    fail(`publisher ${pub.p}: final publish not acked`);
  }
}
try {
  await until(() => subs.every((x) => pubs.every((pub) =>
    x.events.some((e) => e.t === "msg" && e.p === pub.p && e.q === pub.next - 1))), 20000,
  "every subscriber has the final messages");
} catch (e) {
  fail(e.message);
}

// --- the checks
// Per subscriber and publisher: no message twice; the acknowledged messages in publishing order;
// an acknowledged message missing only across a fresh (not recovered) session. A message whose
// publish was never acknowledged may be missing (its publisher's worker died first) or late: a
// publisher's packets still in a stopped worker's socket buffer are handled when it resumes,
// after the publisher gave up on that connection and went on through another worker.
// With a ring per worker (CHAOS_SHMIO_ARGS=--ring-per-worker) a publisher's messages sent through
// different connections went to different workers, so into different rings, which keep no common
// order (docs/ring-per-worker.md): each connection's messages are a stream of their own, checked
// as above (order, and gaps between two received messages of that stream); and an acknowledged
// message of an earlier stream never received at all is a loss unless a fresh session explains it.
const PER_WORKER_RINGS = (process.env.CHAOS_SHMIO_ARGS ?? "").includes("--ring-per-worker");
let delivered = 0, gapsExplained = 0, lateUnacked = 0, lateAcrossRings = 0;
for (const sub of subs) {
  for (const pub of pubs) {
    const stream = (q) => (PER_WORKER_RINGS ? pub.epochOf.get(q) ?? 0 : 0);
    const seen = new Set();
    const last = new Map(), lastIdx = new Map();  // per stream
    let highest = -1;
    for (let k = 0; k < sub.events.length; ++k) {
      const e = sub.events[k];
      if (e.t !== "msg" || e.p !== pub.p) continue;
      ++delivered;
      if (seen.has(e.q)) {
        if (process.env.CHAOS_DEBUG) console.error(`sent ${pub.p}/${e.q} ${pub.sent.get(e.q)} times`);
        fail(`subscriber ${sub.i} (${sub.kind}): message ${pub.p}/${e.q} received twice`);
        if (process.env.CHAOS_DEBUG && failures.length === 1) {
          const first = sub.events.findIndex((x) => x.t === "msg" && x.p === pub.p && x.q === e.q);
          console.error(`subscriber ${sub.i} ${sub.kind}: ` + sub.events.slice(Math.max(0, first - 3), k + 2)
            .map((x) => x.t === "msg" ? `${x.p}/${x.q}@${x.at % 100000}` : `CONNECT(recovered=${x.recovered},offset=${x.offset})@${x.at % 100000}`).join(" "));
          console.error(JSON.stringify(steps.filter((x) => Math.abs(x.at - e.at) < 5000)));
          const firstAt = sub.events[first].at;
          console.error(sub.raw.filter((x) => x.at >= firstAt - 3000 && x.at <= e.at + 300)
            .map((x) => JSON.stringify(x)).join("\n"));
          console.error(JSON.stringify(pub.log.filter((x) => Math.abs(x.at - e.at) < 5000)));
        }
        continue;
      }
      seen.add(e.q);
      const st = stream(e.q);
      const lastQ = last.get(st) ?? -1;
      if (!pub.acked.has(e.q)) {
        if (e.q < lastQ) ++lateUnacked;
        continue;
      }
      if (e.q < lastQ) {
        fail(`subscriber ${sub.i} (${sub.kind}): acked message ${pub.p}/${e.q} after ${lastQ}`);
        continue;
      }
      if (e.q < highest) ++lateAcrossRings;  // (after a later one of another stream)
      highest = Math.max(highest, e.q);
      const freshBetween = sub.events.slice((lastIdx.get(st) ?? -1) + 1, k)
        .some((x) => x.t === "connect" && !x.recovered);
      for (let q = lastQ + 1; q < e.q; ++q) {
        if (!pub.acked.has(q) || seen.has(q) || stream(q) !== st) continue;
        if (freshBetween) {
          ++gapsExplained;
          continue;
        }
        fail(`subscriber ${sub.i} (${sub.kind}): lost acked message ${pub.p}/${q} ` +
             `(received ${lastQ} then ${e.q}, recovered in between)`);
      }
      last.set(st, e.q);
      lastIdx.set(st, k);
    }
    if (!PER_WORKER_RINGS) continue;
    // An earlier stream's acknowledged messages after its last one received (a later stream's
    // came): lost unless a fresh session came after the subscriber's first message.
    const firstMsg = sub.events.findIndex((x) => x.t === "msg");
    const freshAfterFirst = firstMsg >= 0 &&
      sub.events.slice(firstMsg).some((x) => x.t === "connect" && !x.recovered);
    const lowest = Math.min(...seen);
    for (const q of pub.acked) {
      if (seen.has(q) || q > highest || q < lowest || firstMsg < 0) continue;  // (its span only)
      if (q < (last.get(stream(q)) ?? -1)) continue;  // (a gap of its stream: checked above)
      if (freshAfterFirst) {
        ++gapsExplained;
        continue;
      }
      fail(`subscriber ${sub.i} (${sub.kind}): lost acked message ${pub.p}/${q} (never received; ` +
           `messages of a later connection of its publisher came)`);
    }
  }
}
// Every fresh session of a client that had something to recover from (a pid and an offset) must
// be explained by the server's own line (--log-sockets): its socket was still connected on a live
// (stopped) worker, its range had left the ring, or its session table slot was held by a stopped
// worker. An unknown session is not an explanation.
const explainedFresh = { live_elsewhere: 0, range_gone: 0, no_offset: 0, slot_busy: 0 };
for (const sub of subs) {
  for (const e of sub.events.filter((x) => x.t === "connect" && !x.recovered).slice(1)) {
    if (!e.pid || !e.offset) {
      ++explainedFresh.no_offset;
      continue;
    }
    const line = log.split("\n").find((l) => (l.includes(`session ${e.pid} not recovered`) ||
                                               l.includes(`session at offset ${e.offset} not recovered`)));
    if (line && /still connected on a live worker/.test(line)) ++explainedFresh.live_elsewhere;
    // (with a ring per worker: the rings, or the cut log of the worker that delivered it)
    else if (line && /no longer in the ring|could not be read whole|range is no longer in the rings|names no broadcast still in its ring|cut log no longer holds/.test(line))
      ++explainedFresh.range_gone;
    // (its session table slot held by a worker stopped in the middle of writing it)
    else if (line && /held by a stopped worker/.test(line)) ++explainedFresh.slot_busy;
    else {
      fail(`subscriber ${sub.i} (${sub.kind}): a fresh session instead of recovering ${e.pid} at ${e.offset}: ${line ?? "no reason logged"}`);
      if (process.env.CHAOS_DEBUG)
        console.error(`  its earlier socket ${e.prev}:\n` + log.split("\n").filter((l) => e.prev && l.includes(e.prev) || l.includes("killed") || l.includes("restarting")).join("\n"));
    }
  }
}

// The cluster's count of sockets, asked of every worker in turn (new connections land on any).
const expected = subs.length + pubs.length;
// Clients may still be moving (rebalancing asks some to reconnect after the last kill): the
// counts are taken again, every 250 ms for up to 20 s, until one round through every worker
// (3 x workers fresh connections) agrees with the clients; a ghost or a missing socket that
// stays fails.
let counts = [];
const countEnd = Date.now() + 20000;
do {
  if (counts.length) await sleep(250);
  counts = [];
  for (let k = 0; k < 3 * WORKERS; ++k) {
    const c = connect(url, { ...common, reconnection: false, transports: ["websocket"] });
    try {
      await new Promise((res, rej) => { c.once("connect", res); c.once("connect_error", rej); });
      counts.push((await c.timeout(10000).emitWithAck("count")) - 1);
    } catch (e) {
      counts.push(`error: ${e.message}`);
    } finally {
      c.disconnect();
    }
  }
} while (counts.some((n) => n !== expected) && Date.now() < countEnd);
if (counts.some((n) => n !== expected)) {
  fail(`fetchSockets counted ${JSON.stringify(counts)} sockets; ${expected} clients are connected`);
  // Which ones: the cluster's list against the clients' own ids.
  const c = connect(url, { ...common, reconnection: false, transports: ["websocket"] });
  try {
    await new Promise((res, rej) => { c.once("connect", res); c.once("connect_error", rej); });
    const listed = await c.timeout(10000).emitWithAck("fetch");
    const mine = new Set([...subs, ...pubs].map((x) => x.s.id).concat([c.id]));
    for (const x of listed.filter((x) => !mine.has(x.id))) {
      const lines = log.split("\n").filter((l) => l.includes(x.id));
      fail(`a socket no client has: ${x.id} (rooms ${JSON.stringify(x.rooms)}); the server's lines:\n${lines.join("\n")}`);
    }
  } catch (e) {
    fail(`listing the sockets: ${e.message}`);
  } finally {
    c.disconnect();
  }
}

const summary = {
  seconds: SECONDS, workers: WORKERS, clients: CLIENTS, seed: SEED, actions,
  published: pubs.map((p) => p.next), acked: pubs.map((p) => p.acked.size), delivered,
  reconnects: subs.reduce((a, x) => a + x.connects - 1, 0),
  recovered: subs.reduce((a, x) => a + x.recovered, 0),
  fresh_after_first: subs.reduce((a, x) => a + x.fresh - 1, 0),
  soak: SOAK ? { ...soakStats, samples: samples.length, first: samples[0],
                 last: samples[samples.length - 1] } : undefined,
  gaps_explained: gapsExplained, late_unacked: lateUnacked, late_across_rings: lateAcrossRings, fresh_explained: explainedFresh,
  fetches, final_counts: counts, failures: failures.length, first_failures: failures.slice(0, 20),
};
console.log(JSON.stringify(summary));
if (process.env.CHAOS_DEBUG) fs.writeFileSync(`/tmp/chaos-server-${process.pid}.log`, log);
subs.forEach((x) => x.s.disconnect());
pubs.forEach((x) => x.s.disconnect());
cleanup();
process.exit(failures.length === 0 ? 0 : 1);
