// An upstream Bun bug pinned down (scripts/repro/bun_pipelining.ts): two
// pipelined requests while the first is pending in an async handler. The
// test asserts today's BROKEN behaviour, so that a Bun upgrade that changes
// it fails here loudly: then update RELIABILITY.md and the hostile suite.
// `bun test tests/bun/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipelined } from "../../scripts/repro/bun_pipelining.ts";

test("Bun answers pipelined requests to a synchronous handler", async () => {
  const result = await pipelined(false);
  assert.deepEqual(result.handled, ["/first", "/second"]);
  assert.match(result.text, /\/first\n[\s\S]*\/second\n$/);
});

test("Bun drops pipelined requests while an async handler is pending (upstream bug)", async () => {
  const result = await pipelined(true);
  const changed =
    "Bun's pipelining changed: update RELIABILITY.md, the hostile suite and this test";
  // The first handler runs; the second request never reaches the handler.
  assert.deepEqual(result.handled, ["/first"], changed);
  // Neither answer is sent, and the connection is closed, not left hanging.
  assert.equal(result.text, "", changed);
  assert.equal(result.ended, "close", changed);
});
