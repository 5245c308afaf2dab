// Small helpers shared by the end-to-end tests.

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
