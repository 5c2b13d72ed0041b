// Regression: an async app that awaited write() until the client had read
// everything, then returned a non-empty iterable, stalled the response
// forever (the stream's pull() settled without enqueueing, and a
// ReadableStream does not call pull() again on its own). Found by
// tests/hostile_apps_test.ts.
import assert from "node:assert/strict";
import type { AppIterable } from "../mod.ts";
import { b, dec, harness } from "./_helpers.ts";

function writeThenReturn(result: () => AppIterable) {
  let closes = 0;
  const { handler, logs } = harness(async (_environ, startResponse) => {
    await null;
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("a"));
    await write(b("b"));
    const out = result();
    (out as { close?: () => void }).close = () => void closes++;
    return out;
  });
  return { handler, logs, closes: () => closes };
}

for (
  const [name, result] of [
    ["an async generator", async function* () {
      await null;
      yield b("c");
    }],
    ["a sync generator", function* () {
      yield b("c");
    }],
    ["an array", () => [b("c")]],
  ] as const
) {
  Deno.test(`awaited write() then ${name}: the body completes`, async () => {
    const t = writeThenReturn(result as () => AppIterable);
    const response = await t.handler("/");
    const reader = response.body!.getReader();
    const parts: string[] = [];
    for (;;) {
      // One read at a time, so the app waits on each write's backpressure.
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(dec.decode(value));
    }
    assert.equal(parts.join(""), "abc");
    assert.equal(t.closes(), 1);
    assert.deepEqual(t.logs, []);
  });
}

Deno.test("awaited write() then an empty iterable: the body ends", async () => {
  const t = writeThenReturn(() => []);
  const response = await t.handler("/");
  assert.equal(await response.text(), "ab");
  assert.equal(t.closes(), 1);
});
