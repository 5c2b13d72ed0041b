// serve() on Deno: real servers on 127.0.0.1, port 0.
import assert from "node:assert/strict";
import { type App, serve } from "../../mod.ts";
import { logDate, StderrLog } from "../../src/serve/_access_log.ts";
import { b, dec } from "../_util/helpers.ts";
import {
  checkGracefulShutdown,
  endlessApp,
  LOG_LINE,
} from "../_util/serve_fixtures.mjs";

const quiet = { onListen() {}, accessLog: false } as const;

/** Sends one raw HTTP/1.1 request on a new connection: the reply, or the error's name. */
async function rawRequest(port: number, path = "/"): Promise<string> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    return (error as Error).name;
  }
  try {
    await conn.write(
      b(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    let reply = "";
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      reply += dec.decode(buffer.subarray(0, n));
    }
    return reply === "" ? "closed without a reply" : reply;
  } catch (error) {
    return (error as Error).name;
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

const hello: App = (environ, startResponse) => {
  startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1; Path=/"],
    ["Set-Cookie", "b=2; Path=/"],
  ]);
  return [b(`Hello ${environ.REMOTE_ADDR} ${environ.SERVER_PROTOCOL}\n`)];
};

Deno.test("serve: listens on 127.0.0.1 with an ephemeral port and keeps both Set-Cookie", async () => {
  let announced: unknown;
  await using server = await serve(hello, {
    port: 0,
    accessLog: false,
    onListen: (address) => announced = address,
  });
  assert.equal(server.hostname, "127.0.0.1");
  assert.ok(server.port > 0);
  assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
  assert.deepEqual(announced, {
    hostname: "127.0.0.1",
    port: server.port,
    url: server.url,
  });
  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers.getSetCookie(), [
    "a=1; Path=/",
    "b=2; Path=/",
  ]);
  assert.equal(await response.text(), "Hello 127.0.0.1 HTTP/1.1\n");
});

Deno.test("serve: writes wsgiref's access log line with the bytes sent", async () => {
  const lines: string[] = [];
  const app: App = (environ, startResponse) => {
    if (environ.PATH_INFO === "/stream") {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield b("abc");
        yield b("defg");
      })();
    }
    if (environ.PATH_INFO === "/missing") {
      startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
      return [b("no\n")];
    }
    return hello(environ, startResponse);
  };
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
  });
  await (await fetch(server.url + "hello?x=1&y=%20")).text();
  assert.equal(await (await fetch(server.url + "stream")).text(), "abcdefg");
  await (await fetch(server.url + "missing")).text();
  await (await fetch(server.url, { method: "HEAD" })).text();
  assert.equal(lines.length, 4);
  const fields = lines.map((line) => {
    const match = LOG_LINE.exec(line);
    assert.ok(match, `not wsgiref's format: ${line}`);
    return match.slice(1);
  });
  assert.deepEqual(fields, [
    ["GET /hello?x=1&y=%20 HTTP/1.1", "200", "25"],
    ["GET /stream HTTP/1.1", "200", "7"],
    ["GET /missing HTTP/1.1", "404", "3"],
    ["HEAD / HTTP/1.1", "200", "-"],
  ]);
});

Deno.test("serve: shutdown() lets a request in flight finish and refuses new connections", async () => {
  // Deno closes its listener a moment after shutdown(): a connection made
  // in between is reset rather than refused, but never served.
  const during = await checkGracefulShutdown(
    serve,
    async (url) => await (await fetch(url)).text(),
  );
  assert.match(during, /^(ECONNREFUSED|ECONNRESET|)$/);
});

Deno.test("serve: a client that disconnects cancels the response and close() runs", async () => {
  const lines: string[] = [];
  const { app, closed } = endlessApp();
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
  });
  const abort = new AbortController();
  const response = await fetch(server.url + "forever", {
    signal: abort.signal,
  });
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).done, false);
  abort.abort();
  await reader.read().catch(() => {});
  await closed.promise;
  await server.shutdown();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /"GET \/forever HTTP\/1\.1" 200 \d+$/);
});

Deno.test("serve: aborting the signal shuts the server down", async () => {
  const abort = new AbortController();
  const server = await serve(hello, {
    ...quiet,
    port: 0,
    signal: abort.signal,
  });
  assert.equal((await fetch(server.url)).status, 200);
  abort.abort();
  await server.finished;
  assert.equal(await rawRequest(server.port), "ConnectionRefused");

  const early = await serve(hello, {
    ...quiet,
    port: 0,
    signal: AbortSignal.abort(),
  });
  await early.finished;
  assert.equal(await rawRequest(early.port), "ConnectionRefused");
});

Deno.test("serve: await using shuts the server down at the end of the scope", async () => {
  let port: number;
  {
    await using server = await serve(hello, { ...quiet, port: 0 });
    port = server.port;
    assert.equal((await fetch(server.url)).status, 200);
  }
  assert.equal(await rawRequest(port), "ConnectionRefused");
});

Deno.test("serve: refuses bad options before listening", async () => {
  await assert.rejects(
    serve(hello, { ...quiet, port: 70000 }),
    new RangeError(
      "Cannot listen on port 70000: expected an integer from 0 to 65535",
    ),
  );
  await assert.rejects(
    serve(hello, {
      ...quiet,
      port: 0,
      accessLog: "yes" as unknown as boolean,
    }),
    TypeError,
  );
  await assert.rejects(
    serve("app" as unknown as App, { ...quiet, port: 0 }),
    TypeError,
  );
  await using first = await serve(hello, { ...quiet, port: 0 });
  await assert.rejects(
    serve(hello, { ...quiet, port: first.port }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("serve: by default announces itself and logs each request to stderr", async () => {
  const script = `
    import { serve } from ${
    JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
  };
    const server = await serve((_e, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode("hi")];
    }, { port: 0 });
    await (await fetch(server.url + "x")).text();
    await server.shutdown();
    console.log(server.url);
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, dec.decode(output.stderr));
  const url = dec.decode(output.stdout).trim();
  const lines = dec.decode(output.stderr).trimEnd().split("\n");
  assert.equal(lines.length, 2);
  assert.equal(lines[0], `Listening on ${url}`);
  assert.match(lines[1], LOG_LINE);
  assert.match(lines[1], /"GET \/x HTTP\/1\.1" 200 2$/);
});

Deno.test("serve: the log date is wsgiref's, in local time", () => {
  const when = new Date(2026, 10, 21, 20, 48, 3, 250).getTime();
  assert.equal(logDate(when), "21/Nov/2026 20:48:03");
  assert.equal(logDate(when + 500), "21/Nov/2026 20:48:03");
  assert.equal(logDate(when + 1000), "21/Nov/2026 20:48:04");
  assert.equal(
    logDate(new Date(2027, 0, 2, 3, 4, 5).getTime()),
    "02/Jan/2027 03:04:05",
  );
});

Deno.test("serve: the default log writes the lines of one event-loop turn at once", () => {
  const writes: string[] = [];
  const log = new StderrLog((text) => writes.push(text));
  log.line("one");
  log.line("two");
  assert.deepEqual(writes, [], "nothing is written per line");
  log.flush();
  assert.deepEqual(writes, ["one\ntwo\n"]);
  log.flush();
  assert.equal(writes.length, 1, "an empty flush writes nothing");
});

Deno.test("deno serve --parallel runs examples/deno_serve.ts", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--parallel",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      new URL("../../examples/deno_serve.ts", import.meta.url).pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  // Deno announces the address on stderr (stdout in older releases).
  const seen: string[] = [];
  let announce!: (url: string) => void;
  const listening = new Promise<string>((resolve) => announce = resolve);
  const watch = async (stream: ReadableStream<Uint8Array>) => {
    let text = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const match = /Listening on (http:\/\/\S+?\/)/.exec(text);
      if (match) announce(match[1]);
    }
    seen.push(text);
  };
  const drained = Promise.all([watch(child.stdout), watch(child.stderr)]);
  const status = child.status.then((s) => {
    announce("");
    return s;
  });
  try {
    const url = await listening;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, seen.join(""));
    for (let i = 0; i < 4; i++) {
      const response = await fetch(url, { client });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "Hello world!\n");
    }
  } finally {
    client.close();
    // deno serve --parallel (2.9.6) sometimes never exits on SIGTERM.
    child.kill("SIGKILL");
    await status;
    await drained;
  }
  assert.match(seen.join(""), /with \d+ threads/);
});
