// Small helpers shared by the end-to-end tests.
import { spawn } from "node:child_process";
import net from "node:net";
import WebSocket from "ws";

// Resolves with the arguments of the next `event` (as an array).
export const once = (emitter, event) =>
  new Promise((resolve) => emitter.once(event, (...a) => resolve(a)));

// Rejects with "timed out: <what>" if `promise` is not settled within `ms`.
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

// Waits until `cond()` holds, checking every 10 ms (for counts that change asynchronously).
// (Timed by the monotonic clock, not Date.now(): the wall clock may be stepped under a test. On
// 2026-12-05 an e2e_cluster test failed on a 5 s wait of this helper after 1.04 s of its own
// time by node's measure, which a step of the wall clock would explain; not proven.)
export async function until(cond, ms, what) {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Waits until the asynchronous `cond()` holds, asking again every 50 ms.
export async function untilAsync(cond, ms, what) {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A raw WebSocket (`ws`, no Engine.IO client) whose incoming frames are queued from the moment it
// is created (the server may write several frames at once, and `ws` then delivers them in one
// tick): text frames as strings, binary frames as Buffers. next() takes the oldest, waiting up to
// `wait` ms for one. Unless `autoPong` is false, each Engine.IO ping ("2") is answered at once and
// not queued: tests that are not about the heartbeat need not care for it.
export function rawWebSocket(url, { autoPong = true, wait = 5000 } = {}) {
  const ws = new WebSocket(url);
  const frames = [];
  let waiters = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const c = { ws, frames, status: null, error: null, closeCode: null };
  ws.on("upgrade", (res) => (c.status = res.statusCode));
  ws.on("message", (data, isBinary) => {
    if (autoPong && !isBinary && data.toString() === "2") return ws.send("3");
    frames.push(isBinary ? Buffer.from(data) : data.toString());
    wake();
  });
  ws.on("error", (e) => (c.error = e));
  c.closed = new Promise((resolve) =>
    ws.on("close", (code) => {
      c.closeCode = code;
      wake();
      resolve(code);
    }),
  );
  c.next = (what = "a frame") =>
    within(
      (async () => {
        while (frames.length === 0) {
          if (c.closeCode !== null) throw new Error(`closed (${c.closeCode}) while waiting for ${what}`);
          await new Promise((r) => waiters.push(r));
        }
        return frames.shift();
      })(),
      wait,
      what,
    );
  // Settles with true once open, or with false if it closed first.
  c.opened = new Promise((resolve) => {
    ws.on("open", () => resolve(true));
    ws.on("close", () => resolve(false));
  });
  c.send = (data) => ws.send(data);
  c.waitClosed = (what = "the server closes the WebSocket") => within(c.closed, wait, what);
  return c;
}

// Starts `bin args` and resolves with { proc, port, lines } once it prints "listening on H:P":
// `lines` collects every line it writes to stdout and stderr (the servers' logs), as they come.
export function startListening(bin, args, env = undefined) {
  const proc = spawn(bin, args, env ? { env: { ...process.env, ...env } } : undefined);
  const lines = [];
  return new Promise((resolve, reject) => {
    for (const stream of [proc.stdout, proc.stderr]) {
      let rest = "";
      stream.on("data", (d) => {
        const parts = (rest + d).split("\n");
        rest = parts.pop();
        for (const line of parts) {
          lines.push(line);
          const m = line.match(/listening on [^:]+:(\d+)/);
          if (m) resolve({ proc, port: Number(m[1]), lines });
        }
      });
    }
    proc.on("exit", (code) => reject(new Error(`${bin} ${args.join(" ")} exited with ${code}`)));
  });
}

// Starts `bin --port 0 --no-pin args` (env added to the environment) and resolves with
// { proc, log, out, port, url } once `lines` workers printed "listening on H:P" on stdout (log:
// its stderr so far). `procs` (an array) gets the process, for the test's cleanup.
export async function startWorkers(bin, args, lines, procs, env = {}) {
  const proc = spawn(bin, ["--port", "0", "--no-pin", ...args], { env: { ...process.env, ...env } });
  procs.push(proc);
  const h = { proc, log: "", out: "" };
  proc.stderr.on("data", (d) => (h.log += d));
  await within(new Promise((resolve, reject) => {
    proc.stdout.on("data", (d) => {
      h.out += d;
      const ports = [...h.out.matchAll(/listening on [^:]+:(\d+)/g)].map((m) => Number(m[1]));
      if (ports.length >= lines) {
        h.port = ports[0];
        resolve();
      }
    });
    proc.on("exit", (code) => reject(new Error(`${bin} exited with ${code}: ${h.log}`)));
  }), 20000, `${bin} start`);
  h.url = `http://127.0.0.1:${h.port}`;
  return h;
}

// n consecutive free ports (checked by binding them), for --port-per-worker.
export async function freePorts(n) {
  for (let attempt = 0; attempt < 50; ++attempt) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const servers = [];
    try {
      for (let i = 0; i < n; ++i) {
        const s = net.createServer();
        await new Promise((res, rej) => s.once("error", rej).listen(base + i, "127.0.0.1", res));
        servers.push(s);
      }
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error("no free ports");
}

// Starts `BIN --app APP --workers n` on a ring of its own (--port-per-worker unless told not to:
// worker i on the i-th of n free ports); resolves once every worker listens, with { proc, ring,
// workers: Map(index -> {pid, port}), log (its stderr so far), url(i) }. `registry` (an array)
// gets it, for the test's cleanup.
// (perWorker "fixed": every worker on one free port given by --port, none picked. app null: no
// --app, for a program of its own on shmio::serve; env added to the environment.)
export async function startCluster(bin, app, n, extra = [], perWorker = true, registry = [], env = {}) {
  const fixed = perWorker === "fixed";
  if (fixed) perWorker = false;
  const base = perWorker ? await freePorts(n) : fixed ? await freePorts(1) : 0;
  const ring = `test-${process.pid}-${registry.length}-${Math.floor(Math.random() * 1e6)}`;
  const proc = spawn(bin, [...(app === null ? [] : ["--app", app]), "--workers", String(n),
                           "--port", String(base), "--ring", ring,
                           ...(perWorker ? ["--port-per-worker"] : []), "--no-pin", ...extra],
                     { env: { ...process.env, ...env } });
  const c = { proc, ring, workers: new Map(), log: "" };
  registry.push(c);
  proc.stderr.on("data", (d) => (c.log += d));
  await within(new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      for (const m of out.matchAll(/shmio worker (\d+) \(pid (\d+)[^)]*\) \([^)]*\) listening on [^:]+:(\d+)/g))
        c.workers.set(Number(m[1]), { pid: Number(m[2]), port: Number(m[3]) });
      if (c.workers.size === n) resolve();
    });
    proc.on("exit", (code) => reject(new Error(`cluster exited with ${code}: ${c.log}`)));
  }), 20000, "cluster start");
  c.url = (i) => `http://127.0.0.1:${c.workers.get(i).port}`;
  return c;
}
