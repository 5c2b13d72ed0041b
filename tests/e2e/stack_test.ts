// examples/stack.ts, served by serve() on loopback, each part requested.
import assert from "node:assert/strict";
import { serve } from "../../mod.ts";
import { stack } from "../../examples/stack.ts";
import { allClosed, checked, endless } from "../_util/middleware.ts";

Deno.test("stack: logger → error pages → compression → router, proxy and Hono, served by serve()", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      Response.json({
        path: new URL(request.url).pathname,
        prefix: request.headers.get("x-forwarded-prefix"),
      }),
  );
  const body = endless();
  const lines: string[] = [];
  let wanted = Infinity;
  let logged!: () => void;
  const allLogged = new Promise<void>((r) => (logged = r));
  const log = (line: string) => {
    lines.push(line);
    if (lines.length >= wanted) logged();
  };
  const errors: string[] = [];
  const server = await serve(
    checked(stack({
      upstreams: [`http://127.0.0.1:${upstream.addr.port}`],
      log,
      extra: { "/endless": checked(body.app) },
    })),
    {
      hostname: "127.0.0.1",
      port: 0,
      accessLog: false,
      onListen() {},
      errors: (text) => errors.push(text),
    },
  );
  const base = `http://127.0.0.1:${server.port}`;
  try {
    // The router app.
    const home = await fetch(base + "/");
    assert.equal(await home.text(), "tsgi router: home\n");
    assert.equal(
      await (await fetch(base + "/hello/w%C3%B6rld")).text(),
      "Hello, wörld!\n",
    );

    // Compression of a streamed body (fetch decodes it again).
    const csv = await fetch(base + "/report.csv", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(csv.headers.get("content-encoding"), "gzip");
    assert.equal(csv.headers.get("vary"), "Accept-Encoding");
    const rows = (await csv.text()).trimEnd().split("\n");
    assert.equal(rows.length, 2001);
    assert.equal(rows[2000], "1999,3996001");

    // Error pages.
    const boom = await fetch(base + "/boom");
    assert.equal(boom.status, 500);
    assert.equal(await boom.text(), "500 Internal Server Error\n");
    assert.match(errors.join(""), /this route always fails/);

    // The proxied upstream, under its mount point.
    const proxied = await fetch(base + "/proxy/items/1");
    assert.deepEqual(await proxied.json(), {
      path: "/items/1",
      prefix: "/proxy",
    });

    // The Hono app.
    const hono = await fetch(base + "/hono/json?q=x");
    assert.deepEqual(await hono.json(), { from: "hono", q: "x" });
    assert.equal(await (await fetch(base + "/hono")).text(), "hono: home\n");

    // A client that goes away mid-stream: close() reaches the app once.
    const abort = new AbortController();
    const endlessResponse = await fetch(base + "/endless", {
      signal: abort.signal,
      headers: { "Accept-Encoding": "gzip" },
    });
    const reader = endlessResponse.body!.getReader();
    assert.ok((await reader.read()).value!.length > 0);
    abort.abort();
    await reader.cancel().catch(() => {});
    await body.closed;
    assert.equal(body.closeCalls(), 1);

    // One combined-format line per request, written when each body ended.
    wanted = 8;
    if (lines.length >= wanted) logged();
    await allLogged;
    const statuses = lines.map((line) => line.split('" ')[1].split(" ")[0]);
    assert.deepEqual(statuses.sort(), [
      "200",
      "200",
      "200",
      "200",
      "200",
      "200",
      "200",
      "500",
    ]);
    assert.match(
      lines[0],
      /^127\.0\.0\.1 - - \[.+\] "GET \/ HTTP\/1\.1" 200 18 "-" "Deno\//,
    );
  } finally {
    await server.shutdown();
    await upstream.shutdown();
  }
  await allClosed();
});
