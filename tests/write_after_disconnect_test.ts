// Regression: an app awaiting write() for room when the client went away
// waited forever: the Promise settled only when the stream pulled again,
// and a cancelled stream never does. The app never returned, so its
// result was never closed. Found by tests/hostile_apps_test.ts (through
// validator, whose write() adds the microtask that exposed it).
import assert from "node:assert/strict";
import { b, harness } from "./_helpers.ts";

Deno.test("write() waiting for room settles when the client hangs up", async () => {
  let closed = 0;
  let error = "";
  const returned = Promise.withResolvers<void>();
  const { handler } = harness(async (_environ, startResponse) => {
    await null;
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("a"));
    try {
      await write(b("b")); // waits for room: the client reads one chunk only
      await write(b("c")); // the client is gone: throws
    } catch (e) {
      error = (e as Error).message;
    }
    returned.resolve();
    return Object.assign([], { close: () => void closed++ });
  });
  const response = await handler("/");
  const reader = response.body!.getReader();
  assert.deepEqual((await reader.read()).value, b("a"));
  await reader.cancel();
  await returned.promise;
  assert.equal(error, "Cannot write(): the client has gone away");
  assert.equal(closed, 1);
});
