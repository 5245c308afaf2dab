// The chat demo in headless Chromium (Debian's chromium, driven by playwright-core): two pages
// exchange messages; a page whose connection drops gets what it missed when it comes back.
// Run by ctest: SHMIO_BIN is the shmio binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const BIN = process.env.SHMIO_BIN;
let server, url, browser;

before(async () => {
  assert.ok(BIN, "SHMIO_BIN must name the shmio binary");
  server = spawn(BIN, ["--app", "chat", "--port", "0"]);
  const port = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on [^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", (code) => reject(new Error(`shmio exited with ${code}`)));
  });
  url = `http://127.0.0.1:${port}/`;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

const items = (page) => page.locator("#messages > li").allTextContents();

async function say(page, text) {
  await page.fill("#input", text);
  await page.click("#form > button");
}

test("two pages chat through the server, and a dropped page recovers what it missed", async () => {
  const alice = await (await browser.newContext()).newPage();
  const bob = await (await browser.newContext()).newPage();
  for (const page of [alice, bob]) {
    await page.goto(url);
    await page.waitForFunction(() => socket.connected, null, { timeout: 10000 });
  }
  await say(alice, "hello from alice");
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
  await bob.screenshot({ path: process.env.SHMIO_SCREENSHOT ?? "/tmp/shmio-chat.png" });
});
