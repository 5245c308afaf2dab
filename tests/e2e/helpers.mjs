// Small helpers shared by the end-to-end tests.
import { spawn } from "node:child_process";
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
export async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Waits until the asynchronous `cond()` holds, asking again every 50 ms.
export async function untilAsync(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
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
export function startListening(bin, args) {
  const proc = spawn(bin, args);
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
