// Apps and helpers shared by the serve() tests on Deno (tests/serve/serve_test.ts),
// Bun (tests/bun/) and Node (tests/node/). Plain JavaScript, so Node 20 can
// load it beside the built package.
import assert from "node:assert/strict";
import net from "node:net";

const enc = new TextEncoder();

/** wsgiref's access log line, the date left open; groups: request line, status, size. */
export const LOG_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4} \d{2}:\d{2}:\d{2}\] "(.*)" (\d{3}) (\d+|-)$/;

/**
 * A promise with its resolve function.
 *
 * @returns {{ promise: Promise<void>, resolve: () => void }}
 */
export function latch() {
  /** @type {() => void} */
  let resolve = () => {};
  const promise = new Promise((r) => resolve = () => r(undefined));
  return { promise, resolve };
}

/**
 * An app whose response is in flight until the test says so: it sends
 * "first ", resolves `streaming`, waits for `gate`, then sends "second".
 * `closed` resolves when the server calls its close().
 */
export function inFlightApp() {
  const gate = latch();
  const streaming = latch();
  const closed = latch();
  /** @type {import("../../mod.ts").App} */
  const app = (_environ, startResponse) => {
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
  return { app, gate, streaming, closed };
}

/** An app with an endless body; `closed` resolves when close() runs. */
export function endlessApp() {
  const closed = latch();
  /** @type {import("../../mod.ts").App} */
  const app = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return {
      *[Symbol.iterator]() {
        for (;;) yield new Uint8Array(16384);
      },
      close: () => closed.resolve(),
    };
  };
  return { app, closed };
}

/**
 * Sends `text` on a new connection to 127.0.0.1:`port`; resolves with the
 * reply, or with the error's code (`"ECONNREFUSED"`, `"ECONNRESET"`).
 *
 * @param {number} port
 * @param {string} [text]
 * @returns {Promise<string>}
 */
export function raw(
  port,
  text = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    socket.on("connect", () => socket.write(text));
    socket.on("data", (data) => reply += data.toString("latin1"));
    socket.on("end", () => resolve(reply));
    socket.on("error", (error) => resolve(error.code ?? error.name));
  });
}

/**
 * The graceful shutdown every runtime must pass: with a response in flight,
 * `shutdown()` refuses new connections, lets the response finish (and its
 * close() run), then settles; the access log has the request's line.
 *
 * @param {typeof import("../../mod.ts").serve} serve The serve() under test.
 * @param {(url: string) => Promise<string>} get Fetches a whole body.
 * @returns {Promise<string>} What a new connection met during the drain.
 */
export async function checkGracefulShutdown(serve, get) {
  /** @type {string[]} */
  const lines = [];
  const { app, gate, streaming, closed } = inFlightApp();
  const server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
  });
  const body = get(server.url + "slow");
  await streaming.promise;
  const stopped = server.shutdown();
  assert.equal(server.shutdown(), stopped, "shutdown() is idempotent");
  const during = await raw(server.port);
  assert.doesNotMatch(during, /^HTTP\//, "served during shutdown");
  gate.resolve();
  assert.equal(await body, "first second");
  await closed.promise;
  await stopped;
  await server.finished;
  assert.equal(await raw(server.port), "ECONNREFUSED");
  assert.equal(lines.length, 1);
  assert.match(lines[0], LOG_LINE);
  assert.match(lines[0], /"GET \/slow HTTP\/1\.1" 200 12$/);
  return during;
}
