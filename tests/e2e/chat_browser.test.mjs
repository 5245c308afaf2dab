// The chat demo in headless Chromium (Debian's chromium, driven by playwright-core): two pages
// exchange messages; a page whose connection drops gets what it missed when it comes back. Then
// the same as a cluster: pages on different workers, and pages on one shared port (the README's
// main job). Run by ctest: SHMIO_BIN is the shmio binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const BIN = process.env.SHMIO_BIN;
const servers = [];
let url, browser;

// Starts shmio with `args`; resolves with the ports it listens on once `count` of them listen.
function start(args, count = 1) {
  const server = spawn(BIN, ["--app", "chat", ...args]);
  servers.push(server);
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const ports = [...out.matchAll(/listening on [^:]+:(\d+)/g)].map((m) => Number(m[1]));
      if (ports.length === count) resolve(ports.sort());
    });
    server.on("exit", (code) => reject(new Error(`shmio exited with ${code}`)));
  });
}

before(async () => {
  assert.ok(BIN, "SHMIO_BIN must name the shmio binary");
  const [port] = await start(["--port", "0"]);
  url = `http://127.0.0.1:${port}/`;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  servers.forEach((s) => s.kill("SIGTERM"));
});

const items = (page) => page.locator("#messages > li").allTextContents();

async function say(page, text) {
  await page.fill("#input", text);
  await page.click("#form > button");
}

async function chatAndRecover(aliceUrl, bobUrl, screenshot) {
  const alice = await (await browser.newContext()).newPage();
  const bob = await (await browser.newContext()).newPage();
  for (const [page, at] of [[alice, aliceUrl], [bob, bobUrl]]) {
    await page.goto(at);
    await page.waitForFunction(() => socket.connected, null, { timeout: 10000 });
  }
  // Bob answers once Alice's message is on both pages: the two pages may be on different workers
  // and still on polling (a client buffers what it sends while it upgrades), so two messages sent
  // at nearly the same time by two clients have no order the test could expect.
  await say(alice, "hello from alice");
  for (const page of [alice, bob])
    await page.waitForFunction(() => document.querySelectorAll("#messages > li").length === 1, null,
                               { timeout: 10000 });
  await say(bob, "hi alice");
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll("#messages > li").length === 2, null,
                               { timeout: 10000 });
    assert.deepEqual(await items(page), ["hello from alice", "hi alice"]);
  }
  // Bob's connection drops; Alice talks meanwhile; Bob reconnects and recovers.
  const bobId = await bob.evaluate(() => socket.id);
  await bob.evaluate(() => socket.io.engine.close());
  await bob.waitForFunction(() => !socket.connected, null, { timeout: 10000 });
  await say(alice, "while you were away 1");
  await say(alice, "while you were away 2");
  await bob.waitForFunction(() => socket.connected && socket.recovered, null, { timeout: 15000 });
  assert.equal(await bob.evaluate(() => socket.id), bobId);
  await bob.waitForFunction(() => document.querySelectorAll("#messages > li").length === 4, null,
                            { timeout: 10000 });
  assert.deepEqual(await items(bob), [
    "hello from alice", "hi alice", "while you were away 1", "while you were away 2",
  ]);
  if (screenshot) await bob.screenshot({ path: process.env.SHMIO_SCREENSHOT ?? "/tmp/shmio-chat.png" });
}

test("two pages chat through the server, and a dropped page recovers what it missed", async () => {
  await chatAndRecover(url, url, true);
});

test("cluster: pages on different workers chat, and a dropped page recovers on its worker", async () => {
  // Port-per-worker: worker i on P+i, so the two pages are on different workers for sure.
  let ports;
  for (let attempt = 0; !ports && attempt < 5; ++attempt) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    ports = await Promise.race([
      start(["--workers", "2", "--port-per-worker", "--port", String(base), "--ring", `browser-${base}`], 2),
      new Promise((r) => setTimeout(() => r(null), 10000)),
    ]).catch(() => null);
  }
  assert.ok(ports, "the cluster did not start");
  await chatAndRecover(`http://127.0.0.1:${ports[0]}/`, `http://127.0.0.1:${ports[1]}/`, false);
});

test("cluster on one shared port (the README's main job): pages chat whichever worker they land on", async () => {
  const ports = await start(["--workers", "2", "--port", "0", "--ring", `browser-shared-${process.pid}`], 2);
  assert.equal(ports[0], ports[1]);
  await chatAndRecover(`http://127.0.0.1:${ports[0]}/`, `http://127.0.0.1:${ports[0]}/`, false);
});
