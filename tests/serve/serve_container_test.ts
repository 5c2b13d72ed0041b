// serve()'s production options on Deno, in process: a Unix socket, TLS, a
// per-request deadline, drain(), request limits; and updateTls() on Node, in
// a Node process running the npm build.
import assert from "node:assert/strict";
import { certificate, run } from "../_util/tls.ts";
import { type App, serve } from "../../mod.ts";
import { b } from "../_util/helpers.ts";

const quiet = { onListen() {}, accessLog: false } as const;
const ROOT = new URL("../..", import.meta.url).pathname;
// The Node tests serve the npm build (scripts/build_npm.ts).
const npmBuilt = (() => {
  try {
    return Deno.statSync(`${ROOT}npm/mod.js`).isFile;
  } catch {
    return false;
  }
})();

const hello: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [b(`hello ${environ["wsgi.url_scheme"]}`)];
};

Deno.test("serve: path listens on a Unix socket and removes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsgi_serve_unix_" });
  const path = `${dir}/app.sock`;
  const server = await serve(hello, { ...quiet, path });
  assert.equal(server.path, path);
  assert.equal(server.url, `http+unix://${encodeURIComponent(path)}/`);
  const out = await run("curl", ["-sS", "--unix-socket", path, "http://x/"]);
  assert.equal(out.stdout, "hello http", out.stderr);
  await server.shutdown();
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("serve: tls serves HTTPS (HTTP/2 too) with wsgi.url_scheme https; updateTls is Node's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsgi_serve_tls_" });
  const files = await certificate(dir, "one");
  await using server = await serve(hello, {
    ...quiet,
    port: 0,
    tls: {
      cert: await Deno.readTextFile(files.cert),
      key: await Deno.readTextFile(files.key),
    },
  });
  assert.equal(server.url, `https://127.0.0.1:${server.port}/`);
  const out = await run("curl", [
    "-sS",
    "--http2",
    "-w",
    " %{http_version}",
    "--cacert",
    files.cert,
    `https://localhost:${server.port}/`,
  ]);
  assert.equal(out.stdout, "hello https 2", out.stderr);
  assert.throws(
    () => server.updateTls({ cert: "", key: "" }),
    /Cannot update the certificate on this runtime/,
  );
  await assert.rejects(
    serve(hello, {
      ...quiet,
      port: 0,
      tls: { cert: "x" } as unknown as { cert: string; key: string },
    }),
    TypeError,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("serve: requestTimeout aborts tsgi.signal and answers 504; others go on", async () => {
  const reasons: string[] = [];
  const timeouts: [string, boolean][] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const app: App = async (environ, startResponse) => {
    if (environ.PATH_INFO === "/hang") {
      const signal = environ["tsgi.signal"] as AbortSignal;
      await new Promise((resolve) =>
        signal.addEventListener("abort", resolve, { once: true })
      );
      reasons.push((signal.reason as Error).name);
      release();
      await new Promise(() => {});
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [b("quick")];
  };
  await using server = await serve(app, {
    ...quiet,
    port: 0,
    requestTimeout: 0.2,
    onRequestTimeout: (request, sent) =>
      timeouts.push([new URL(request.url).pathname, sent]),
  });
  const hung = fetch(server.url + "hang");
  assert.equal(await (await fetch(server.url)).text(), "quick");
  const response = await hung;
  assert.equal(response.status, 504);
  assert.equal(await response.text(), "504 Gateway Timeout\n");
  await released;
  assert.deepEqual(reasons, ["TimeoutError"]);
  assert.deepEqual(timeouts, [["/hang", false]]);
  await assert.rejects(
    serve(app, { ...quiet, port: 0, requestTimeout: -1 }),
    RangeError,
  );
  await assert.rejects(
    serve(app, { ...quiet, port: 0, idleTimeout: 0 }),
    RangeError,
  );
});

Deno.test("serve: drain() makes every response close its connection", async () => {
  await using server = await serve(hello, { ...quiet, port: 0 });
  const before = await fetch(server.url);
  await before.body?.cancel();
  assert.equal(before.headers.get("connection"), null);
  server.drain();
  const after = await fetch(server.url);
  assert.equal(await after.text(), "hello http");
  assert.equal(after.headers.get("connection"), "close");
});

Deno.test("serve: limits answer 414 and 431 before the app runs", async () => {
  let calls = 0;
  const app: App = (environ, startResponse) => {
    calls++;
    return hello(environ, startResponse);
  };
  await using server = await serve(app, {
    ...quiet,
    port: 0,
    // Deno's fetch() sends five fields of its own.
    limits: { requestLine: 64, fields: 8, fieldSize: 40 },
  });
  const status = async (url: string, headers: Record<string, string> = {}) => {
    const response = await fetch(url, { headers });
    await response.body?.cancel();
    return response.status;
  };
  assert.equal(await status(server.url + "a".repeat(30)), 200);
  assert.equal(await status(server.url + "a".repeat(60)), 414);
  assert.equal(await status(server.url, { "x-big": "b".repeat(40) }), 431);
  assert.equal(
    await status(server.url, { a: "1", b: "2", c: "3", d: "4" }),
    431,
  );
  assert.equal(calls, 1);
});

Deno.test({
  name:
    "serve on node: updateTls gives new connections the new certificate while an open one completes",
  ignore: !npmBuilt && Deno.env.get("TSGI_REQUIRE_ALL") !== "1",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsgi_serve_node_tls_" });
    const one = await certificate(dir, "one");
    const two = await certificate(dir, "two");
    const script = `${dir}/server.mjs`;
    await Deno.writeTextFile(
      script,
      `import { serve } from ${JSON.stringify(`${ROOT}npm/mod.js`)};
import { readFileSync } from "node:fs";
const read = (f) => readFileSync(f, "utf8");
let release;
const held = new Promise((r) => release = r);
const server = await serve(async (environ, start) => {
  if (environ.PATH_INFO === "/wait") {
    console.log("waiting");
    await held;
  }
  start("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(environ.PATH_INFO.slice(1) || "hello")];
}, { port: 0, accessLog: false, onListen: () => {},
  tls: { cert: read(${JSON.stringify(one.cert)}), key: read(${
        JSON.stringify(one.key)
      }) } });
console.log("port " + server.port);
process.stdin.on("data", (data) => {
  if (String(data).startsWith("swap")) {
    server.updateTls({ cert: read(${JSON.stringify(two.cert)}), key: read(${
        JSON.stringify(two.key)
      }) });
    console.log("swapped");
  } else { release(); }
});
process.stdin.on("end", () => server.shutdown());
`,
    );
    const child = new Deno.Command("node", {
      args: [script],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buffered = "";
    const next = async (prefix: string): Promise<string> => {
      for (;;) {
        const nl = buffered.indexOf("\n");
        if (nl !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.startsWith(prefix)) return line;
          continue;
        }
        const step = await lines.read();
        if (step.done) throw new Error(`node ended before "${prefix}"`);
        buffered += step.value;
      }
    };
    const writer = child.stdin.getWriter();
    const port = Number((await next("port ")).slice(5));
    const url = `https://localhost:${port}/`;
    const held = run("curl", ["-sS", "--cacert", one.cert, url + "wait"]);
    await next("waiting");
    await writer.write(b("swap\n"));
    await next("swapped");
    const fresh = await run("curl", ["-sS", "--cacert", two.cert, url]);
    assert.equal(fresh.stdout, "hello", fresh.stderr);
    const stale = await run("curl", ["-sS", "--cacert", one.cert, url]);
    assert.notEqual(stale.code, 0, "the old certificate is gone");
    await writer.write(b("release\n"));
    const done = await held;
    assert.equal(done.stdout, "wait", done.stderr);
    await writer.close();
    assert.equal((await child.status).code, 0);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "serve on node: http2 offers HTTP/2 and HTTP/1.1; streams, cuts, close() and shutdown hold",
  ignore: !npmBuilt && Deno.env.get("TSGI_REQUIRE_ALL") !== "1",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsgi_serve_node_h2_" });
    const files = await certificate(dir, "h2");
    const script = `${dir}/server.mjs`;
    await Deno.writeTextFile(
      script,
      `import { serve } from ${JSON.stringify(`${ROOT}npm/mod.js`)};
import { readFileSync } from "node:fs";
const read = (f) => readFileSync(f, "utf8");
const enc = new TextEncoder();
let release;
const held = new Promise((r) => release = r);
const chunk = new Uint8Array(65536).fill(97);
const server = await serve(async (environ, start) => {
  const path = environ.PATH_INFO;
  if (path === "/wait") {
    console.log("waiting");
    await held;
  }
  if (path === "/big") {
    start("200 OK", [["Content-Type", "application/octet-stream"]]);
    return (function* () { for (let i = 0; i < 128; i++) yield chunk; })();
  }
  if (path === "/endless") {
    start("200 OK", [["Content-Type", "text/plain"]]);
    let n = 0;
    return {
      [Symbol.asyncIterator]() { return this; },
      async next() { await new Promise((r) => setTimeout(r, 1)); return { done: false, value: chunk }; },
      close() { console.log("closed endless"); },
    };
  }
  if (path === "/stream") {
    start("200 OK", [["Content-Type", "text/plain"]]);
    const signal = environ["tsgi.signal"];
    return (async function* () {
      yield enc.encode("first");
      await new Promise((r) => signal.addEventListener("abort", r));
      console.log("aborted " + signal.reason.name);
      await new Promise(() => {});
    })();
  }
  start("200 OK", [["Content-Type", "text/plain"]]);
  return [enc.encode(environ.SERVER_PROTOCOL + " " + environ["wsgi.url_scheme"])];
}, { port: 0, accessLog: false, onListen: () => {}, http2: true, requestTimeout: 1,
  tls: { cert: read(${JSON.stringify(files.cert)}), key: read(${
        JSON.stringify(files.key)
      }) } });
console.log("port " + server.port);
process.stdin.on("data", (data) => {
  for (const line of String(data).split("\\n")) {
    if (line === "stop") server.shutdown().then(() => console.log("finished"));
    if (line === "release") release();
  }
});
`,
    );
    const child = new Deno.Command("node", {
      args: [script],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buffered = "";
    const seen: string[] = [];
    const next = async (prefix: string): Promise<string> => {
      for (;;) {
        const found = seen.find((line) => line.startsWith(prefix));
        if (found !== undefined) return found;
        const step = await reader.read();
        if (step.done) throw new Error(`node ended before "${prefix}"`);
        buffered += step.value;
        let nl;
        while ((nl = buffered.indexOf("\n")) !== -1) {
          seen.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      }
    };
    const writer = child.stdin.getWriter();
    const port = Number((await next("port ")).slice(5));
    const url = `https://localhost:${port}/`;
    const tls = ["-sS", "--cacert", files.cert];
    const h2 = await run("curl", [
      ...tls,
      "--http2",
      "-w",
      " %{http_version}",
      url,
    ]);
    assert.equal(h2.stdout, "HTTP/2 https 2", h2.stderr);
    const h1 = await run("curl", [
      ...tls,
      "--http1.1",
      "-w",
      " %{http_version}",
      url,
    ]);
    assert.equal(h1.stdout, "HTTP/1.1 https 1.1", h1.stderr);
    // 8 MiB with backpressure: every byte arrives.
    const big = await run("curl", [
      ...tls,
      "--http2",
      "-w",
      "%{size_download}",
      "-o",
      "/dev/null",
      url + "big",
    ]);
    assert.equal(big.stdout, String(128 * 65536), big.stderr);
    // Two streams on one connection: the deadline cuts one (RST_STREAM),
    // the other completes.
    const both = await run("curl", [
      ...tls,
      "--http2",
      "-Z",
      "-w",
      "%{url} %{size_download} %{exitcode} %{num_connects}\\n",
      "-o",
      "/dev/null",
      url + "stream",
      "-o",
      "/dev/null",
      url + "big",
    ]);
    const lines = both.stdout.trim().split("\n").sort();
    assert.equal(lines.length, 2, both.stdout);
    const [bigLine, streamLine] = lines.map((line) => line.split(" "));
    assert.deepEqual(bigLine.slice(0, 3), [
      url + "big",
      String(128 * 65536),
      "0",
    ]);
    assert.equal(streamLine[0], url + "stream");
    assert.equal(streamLine[1], "5");
    assert.notEqual(streamLine[2], "0", "the cut stream is an error");
    // One connection carried both.
    assert.equal(Number(bigLine[3]) + Number(streamLine[3]), 1, both.stdout);
    await next("aborted TimeoutError");
    // A client that leaves mid-stream: close() runs.
    const endless = new Deno.Command("curl", {
      args: [...tls, "--http2", url + "endless"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const body = endless.stdout.getReader();
    await body.read();
    await body.cancel();
    try {
      endless.kill("SIGKILL");
    } catch {
      // Gone already (its stdout closed).
    }
    await endless.status;
    await next("closed endless");
    // shutdown(): GOAWAY, and the stream in flight completes.
    const waiting = run("curl", [...tls, "--http2", url + "wait"]);
    await next("waiting");
    await writer.write(b("stop\n"));
    await writer.write(b("release\n"));
    const done = await waiting;
    assert.equal(done.stdout, "HTTP/2 https", done.stderr);
    await next("finished");
    await writer.close();
    assert.equal((await child.status).code, 0);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("serve: requestTimeout hands the gateway the request as sent (a backslash stays a backslash)", async () => {
  let seen = "";
  const app: App = (environ, startResponse) => {
    seen = environ.PATH_INFO;
    startResponse("204 No Content", []);
    return [];
  };
  const server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: false,
    requestTimeout: 30,
  });
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await conn.write(
      new TextEncoder().encode(
        "GET /echo/a\\..\\..\\admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
    );
    const reply = await new Response(conn.readable).text();
    assert.match(reply, /^HTTP\/1\.1 204/);
    assert.equal(seen, "/echo/a\\..\\..\\admin");
  } finally {
    await server.shutdown();
  }
});
