// Hostile requests over raw TCP against Deno.serve(toFetchHandler(app)):
// each gets a clean 4xx or the runtime's own rejection, the app never sees
// an inconsistent environ (the fixture checks every one), and the server
// keeps serving. The same cases run on Bun and Node with
// scripts/reliability/hostile_requests.ts.
import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import { createFixture } from "../../scripts/reliability/fixture_app.ts";
import {
  CASES,
  KNOWN_GAPS,
  MAX_BODY_SIZE,
  runCase,
  verdictOn,
} from "../../scripts/reliability/hostile_cases.ts";

Deno.test("hostile requests over raw TCP (Deno.serve)", async (t) => {
  const { app, stats } = createFixture();
  const logs: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app, {
      maxBodySize: MAX_BODY_SIZE,
      errors: (text) => logs.push(text),
    }),
  );
  const port = server.addr.port;
  const gaps: string[] = [];
  try {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const verdict = verdictOn("deno", c, await runCase(port, c));
        console.log(`${c.name}: ${verdict}`);
        if (verdict.startsWith("gap: ")) gaps.push(c.name);
        else assert.match(verdict, /^ok: /);
        // The server keeps serving after each one.
        const after = await fetch(`http://127.0.0.1:${port}/small`);
        assert.equal(await after.text(), "ok\n");
      });
    }
    assert.deepEqual(stats.samples, []);
    assert.equal(stats.violations, 0);
    // Gaps in Deno itself that the gateway cannot see (it only gets the
    // Request); a fix upstream, or a new gap, fails here.
    assert.deepEqual(gaps, Object.keys(KNOWN_GAPS.deno));
    // What a client did wrong is logged in one line; only the fixture's own
    // deliberate failures (an app error) carry a stack, as wsgiref's do.
    for (const line of logs) {
      if (!line.includes("fixture:")) assert.doesNotMatch(line, /\n\s+at /);
    }
  } finally {
    await server.shutdown();
  }
});
