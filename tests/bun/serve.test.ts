// serve() on Bun (Bun.serve), from the sources: `bun test tests/bun/`.
// Written with node:test, which bun test runs, so `deno check` can read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { type App, serve } from "../../mod.ts";
import {
  checkGracefulShutdown,
  endlessApp,
  LOG_LINE,
} from "../_util/serve_fixtures.mjs";

const enc = new TextEncoder();
const MiB = 1024 * 1024;

test("serve on Bun: runs on Bun.serve and keeps both Set-Cookie", async () => {
  assert.equal(typeof (globalThis as { Bun?: unknown }).Bun, "object");
  const app: App = (environ, startResponse) => {
    startResponse("200 OK", [
      ["Content-Type", "text/plain"],
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
    ]);
    return [
      enc.encode(
        `${environ.REMOTE_ADDR} ${environ["tsgi.server"] ? "bun" : "?"}`,
      ),
    ];
  };
  const lines: string[] = [];
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
  });
  assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
  const response = await fetch(server.url + "hi?x=1");
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(await response.text(), "127.0.0.1 bun");
  assert.equal(lines.length, 1);
  const match = LOG_LINE.exec(lines[0]);
  assert.ok(match, lines[0]);
  assert.deepEqual(match.slice(1), ["GET /hi?x=1 HTTP/1.1", "200", "13"]);
});

test("serve on Bun: a body over Bun's default 128 MiB limit streams through", async () => {
  const app: App = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    let bytes = 0;
    for (
      let piece = await input.read(1 << 20);
      piece.length;
      piece = await input.read(1 << 20)
    ) bytes += piece.length;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [enc.encode(String(bytes))];
  };
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  const total = 130 * MiB;
  const piece = new Uint8Array(MiB);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === total) return controller.close();
      sent += piece.length;
      controller.enqueue(piece);
    },
  });
  const response = await fetch(server.url, { method: "POST", body });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), String(total));
});

test("serve on Bun: shutdown() lets a request in flight finish and refuses new connections", async () => {
  const during = await checkGracefulShutdown(
    serve,
    async (url) => await (await fetch(url)).text(),
  );
  assert.equal(during, "ECONNREFUSED");
});

test("serve on Bun: a client that disconnects cancels the response and close() runs", async () => {
  const { app, closed } = endlessApp();
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  const socket = net.connect(server.port, "127.0.0.1", () => {
    socket.write("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  socket.once("data", () => socket.destroy());
  await closed.promise;
});

test("Bun: console.log(environ) shows every key, lazy ones included", async () => {
  const { toFetchHandler } = await import("../../mod.ts");
  let shown = "";
  const handler = toFetchHandler((environ, startResponse) => {
    const bun = (globalThis as unknown as {
      Bun: { inspect(value: unknown): string };
    }).Bun;
    shown = bun.inspect(environ);
    startResponse("204 No Content", []);
    return [];
  });
  await handler(
    new Request("http://x/a", { headers: { "user-agent": "probe/1" } }),
  );
  for (const key of ["HTTP_USER_AGENT", "'wsgi.input'"]) {
    assert.ok(shown.includes(`${key}:`), `${key} in ${shown}`);
  }
  assert.ok(!shown.includes("Symbol"), shown);
});

test("Bun: staticFiles serves a file whole, by range and as 304, through serve()", async () => {
  const { staticFiles } = await import("../../mod.ts");
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/tsgi_static_bun_");
  const body = new Uint8Array(1 << 20).map((_, i) => (i * 7) % 251);
  writeFileSync(`${dir}/file.bin`, body);
  const server = await serve(staticFiles(dir), {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  try {
    const whole = await fetch(`${server.url}file.bin`);
    assert.equal(whole.status, 200);
    const got = new Uint8Array(await whole.arrayBuffer());
    assert.equal(got.length, body.length);
    assert.ok(got.every((v, i) => v === body[i]));
    const etag = whole.headers.get("etag")!;
    const part = await fetch(`${server.url}file.bin`, {
      headers: { range: "bytes=1000-1009" },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(
      [...new Uint8Array(await part.arrayBuffer())],
      [...body.subarray(1000, 1010)],
    );
    const again = await fetch(`${server.url}file.bin`, {
      headers: { "if-none-match": etag },
    });
    assert.equal(again.status, 304);
    await again.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
