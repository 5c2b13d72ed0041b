import assert from "node:assert/strict";
import { BodyInput } from "../mod.ts";
import { b } from "./_helpers.ts";

Deno.test("input: read1 answers what has arrived without waiting for more", async () => {
  let release!: () => void;
  const later = new Promise<void>((r) => (release = r));
  const source = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(b("abcdef"));
      await later;
      controller.enqueue(b("gh"));
      controller.close();
    },
  });
  const input = new BodyInput(source);
  assert.deepEqual(await input.read1(4), b("abcd"));
  assert.deepEqual(await input.read1(100), b("ef"), "held bytes, no wait");
  const pending = input.read1(100);
  release();
  assert.deepEqual(await pending, b("gh"));
  assert.deepEqual(await input.read1(100), new Uint8Array(0));
  assert.deepEqual(await input.read1(0), new Uint8Array(0));
});
