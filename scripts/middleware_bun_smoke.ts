// The middleware under Bun: a stack (access log → error pages → compress →
// proxy fix → mount of a streamed app, a proxy, a Fetch handler, a failing
// app, a filter) served by Bun.serve on 127.0.0.1, with a Bun upstream, and
// a client abort. Run by scripts/ci/30_middleware_bun.sh:
//   bun run scripts/middleware_bun_smoke.ts
import assert from "node:assert/strict";
import {
  accessLog,
  type App,
  compress,
  errorPages,
  filter,
  fromFetchHandler,
  mount,
  proxy,
  proxyFix,
  toFetchHandler,
} from "../mod.ts";

interface BunServer {
  port: number;
  stop(closeActive?: boolean): void;
}
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request, server: unknown) => Response | Promise<Response>;
  }): BunServer;
  version: string;
};

const enc = new TextEncoder();
let closed!: () => void;
const endlessClosed = new Promise<void>((r) => (closed = r));
let closeCalls = 0;

const streamed: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return (async function* () {
    for (let i = 0; i < 100; i++) yield enc.encode(`line ${i}\n`.repeat(50));
  })();
};
const endless: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) yield new Uint8Array(16 * 1024).fill(120);
    },
    close() {
      closeCalls++;
      closed();
    },
  };
};

const upstream = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request) =>
    Response.json({
      path: new URL(request.url).pathname,
      forwardedFor: request.headers.get("x-forwarded-for"),
    }),
});
const lines: string[] = [];
const site = mount({
  "/": streamed,
  "/endless": endless,
  "/proxy": proxy(`http://127.0.0.1:${upstream.port}`),
  "/fetch": fromFetchHandler((request) =>
    new Response(`fetch saw ${new URL(request.url).pathname}`)
  ),
  "/boom": () => {
    throw new Error("boom");
  },
  "/upper": filter((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [enc.encode("abc")];
  }, {
    transform: (c) => enc.encode(new TextDecoder().decode(c).toUpperCase()),
  }),
});
const app = accessLog(errorPages(compress(proxyFix(site))), {
  sink: (line) => lines.push(line),
});
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: toFetchHandler(app, { errors: () => {} }),
});
const base = `http://127.0.0.1:${server.port}`;
let checks = 0;
try {
  const root = await fetch(base + "/", {
    headers: { "accept-encoding": "gzip" },
  });
  assert.equal(root.headers.get("content-encoding"), "gzip");
  assert.equal((await root.text()).split("\n").length - 1, 5000);
  checks++;
  const proxied = await (await fetch(base + "/proxy/x")).json();
  assert.deepEqual(proxied, { path: "/x", forwardedFor: "127.0.0.1" });
  checks++;
  assert.equal(
    await (await fetch(base + "/fetch/y")).text(),
    "fetch saw /fetch/y",
  );
  checks++;
  const boom = await fetch(base + "/boom");
  assert.equal(boom.status, 500);
  assert.equal(await boom.text(), "500 Internal Server Error\n");
  checks++;
  assert.equal(await (await fetch(base + "/upper")).text(), "ABC");
  checks++;
  const abort = new AbortController();
  const response = await fetch(base + "/endless", { signal: abort.signal });
  const reader = response.body!.getReader();
  assert.ok((await reader.read()).value!.length > 0);
  abort.abort();
  await reader.cancel().catch(() => {});
  await endlessClosed;
  assert.equal(closeCalls, 1);
  checks++;
  assert.ok(lines.length >= 5, lines.join("\n"));
  checks++;
} finally {
  server.stop(true);
  upstream.stop(true);
}
console.log(`middleware on Bun ${Bun.version}: ${checks} checks passed`);
