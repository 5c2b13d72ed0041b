// Regression: an async app that commits by write() and then returns an
// async iterable used to stall (the waiting pull settled without
// enqueuing, and a stream does not pull again while a read waits).
import assert from "node:assert/strict";
import type { App } from "../mod.ts";
import { b, harness } from "./_helpers.ts";

Deno.test("gateway: write() then an async iterable result streams to the end", async () => {
  const app: App = async (_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    for (let i = 0; i < 5; i++) await write(b(`${i}`));
    return {
      async *[Symbol.asyncIterator]() {
        yield b("!end");
      },
    };
  };
  const { handler } = harness(app);
  const response = await handler("/");
  assert.equal(await response.text(), "01234!end");
});
