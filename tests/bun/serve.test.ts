// serve() on Bun (Bun.serve), from the sources: `bun test tests/bun/`.
// Written with node:test, which bun test runs, so `deno check` can read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { type App, serve } from "../../mod.ts";

const enc = new TextEncoder();
const MiB = 1024 * 1024;
const LOG_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4} \d{2}:\d{2}:\d{2}\] "(.*)" (\d{3}) (\d+|-)$/;

function latch(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

/** One raw request on a new connection: the reply text, or the error code. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    socket.on("connect", () => socket.write(text));
    socket.on("data", (data) => reply += data.toString("latin1"));
    socket.on("end", () => resolve(reply));
    socket.on(
      "error",
      (error: Error & { code?: string }) => resolve(error.code ?? error.name),
    );
  });
}

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
  const lines: string[] = [];
  const gate = latch();
  const streaming = latch();
  const closed = latch();
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return {
      async *[Symbol.asyncIterator]() {
        yield enc.encode("first ");
        streaming.resolve();
        await gate.promise;
        yield enc.encode("second");
      },
      close: () => closed.resolve(),
    };
  };
  const server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
  });
  const response = await fetch(server.url + "slow");
  const text = response.text();
  await streaming.promise;
  const stopped = server.shutdown();
  assert.equal(server.shutdown(), stopped);
  assert.equal(
    await raw(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "ECONNREFUSED",
  );
  gate.resolve();
  assert.equal(await text, "first second");
  await closed.promise;
  await stopped;
  await server.finished;
  assert.equal(
    await raw(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "ECONNREFUSED",
  );
  assert.equal(lines.length, 1);
  assert.match(lines[0], LOG_LINE);
  assert.match(lines[0], /"GET \/slow HTTP\/1\.1" 200 12$/);
});

test("serve on Bun: a client that disconnects cancels the response and close() runs", async () => {
  const closed = latch();
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return {
      *[Symbol.iterator]() {
        for (;;) yield new Uint8Array(16384);
      },
      close: () => closed.resolve(),
    };
  };
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
