// serve() from the built npm package on Node (node:http): real servers on
// 127.0.0.1, port 0, and node:http / node:net clients.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";

// The package is built by scripts/build_npm.ts; importing it by URL keeps
// `deno check tests/` from looking for npm/ before it exists.
const { serve } = await import(
  new URL("../../npm/mod.js", import.meta.url).href
);

import {
  checkGracefulShutdown,
  endlessApp,
  latch,
  LOG_LINE,
  raw,
} from "../_util/serve_fixtures.mjs";

const enc = new TextEncoder();
const MiB = 1024 * 1024;

/** A server with its log lines collected, stopped after the test. */
async function start(t, app, options = {}) {
  const lines = [];
  const server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => lines.push(line),
    ...options,
  });
  t.after(() => server.shutdown());
  return { server, lines };
}

/** GET/POST with node:http; resolves with status, headers and the body. */
function request(url, options = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("latin1"),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const hello = (environ, startResponse) => {
  startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1; Path=/"],
    ["Set-Cookie", "b=2; Path=/"],
  ]);
  return [
    enc.encode(
      `${environ.REMOTE_ADDR} ${environ.REMOTE_PORT} ${environ.SERVER_PROTOCOL} ${environ.SERVER_NAME}:${environ.SERVER_PORT}`,
    ),
  ];
};

test("serve on Node: peer address, protocol and both Set-Cookie", async (t) => {
  const { server } = await start(t, hello);
  assert.equal(server.hostname, "127.0.0.1");
  assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
  const agent = new http.Agent({ keepAlive: false });
  const response = await request(server.url, { agent });
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers["set-cookie"], [
    "a=1; Path=/",
    "b=2; Path=/",
  ]);
  assert.match(
    response.body,
    new RegExp(
      `^127\\.0\\.0\\.1 \\d+ HTTP/1\\.1 127\\.0\\.0\\.1:${server.port}$`,
    ),
  );
  assert.equal(
    response.headers["content-length"],
    String(response.body.length),
  );

  const old = await raw(server.port, "GET / HTTP/1.0\r\n\r\n");
  assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(old, / HTTP\/1\.0 127\.0\.0\.1:\d+$/);
});

test("serve on Node: wsgiref's access log line with the bytes sent", async (t) => {
  const app = (environ, startResponse) => {
    if (environ.PATH_INFO === "/stream") {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield enc.encode("abc");
        yield enc.encode("defg");
      })();
    }
    return hello(environ, startResponse);
  };
  const { server, lines } = await start(t, app);
  await request(server.url + "a%20b?q=1");
  assert.equal((await request(server.url + "stream")).body, "abcdefg");
  await request(server.url, { method: "HEAD" });
  await raw(server.port, "GET /old HTTP/1.0\r\n\r\n");
  const fields = lines.map((line) => {
    const match = LOG_LINE.exec(line);
    assert.ok(match, `not wsgiref's format: ${line}`);
    return match.slice(1);
  });
  assert.equal(fields.length, 4);
  assert.deepEqual(fields[0].slice(0, 2), ["GET /a%20b?q=1 HTTP/1.1", "200"]);
  assert.match(fields[0][2], /^\d+$/);
  assert.deepEqual(fields.slice(1), [
    ["GET /stream HTTP/1.1", "200", "7"],
    ["HEAD / HTTP/1.1", "200", "-"],
    ["GET /old HTTP/1.0", "200", fields[3][2]],
  ]);
});

test("serve on Node: a 64 MiB download streams with backpressure", async (t) => {
  const chunk = new Uint8Array(65536);
  let produced = 0;
  const total = 64 * MiB;
  const app = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return (function* () {
      for (let i = 0; i < total / chunk.length; i++) {
        chunk[0] = i & 0xff;
        produced += chunk.length;
        yield chunk.slice();
      }
    })();
  };
  const { server, lines } = await start(t, app);
  let received = 0;
  let ahead = 0;
  await new Promise((resolve, reject) => {
    http.get(server.url + "big", (res) => {
      assert.equal(res.headers["transfer-encoding"], "chunked");
      res.on("data", (data) => {
        received += data.length;
        ahead = Math.max(ahead, produced - received);
      });
      res.on("end", resolve);
      res.on("error", reject);
    }).on("error", reject);
  });
  assert.equal(received, total);
  // Without backpressure the generator would run the whole 64 MiB ahead of
  // the client; with it, only what socket buffers hold.
  assert.ok(ahead < 24 * MiB, `the app ran ${ahead} bytes ahead`);
  assert.match(lines[0], /"GET \/big HTTP\/1\.1" 200 67108864$/);
});

test("serve on Node: a 16 MiB chunked upload streams into wsgi.input", async (t) => {
  const app = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    let bytes = 0;
    let sum = 0;
    let plain = true;
    for (
      let piece = await input.read(50000);
      piece.length;
      piece = await input.read(50000)
    ) {
      assert.ok(piece.length <= 50000);
      plain &&= Object.getPrototypeOf(piece) === Uint8Array.prototype;
      bytes += piece.length;
      for (let i = 0; i < piece.length; i += 4096) sum = (sum + piece[i]) >>> 0;
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [enc.encode(`${bytes} ${sum} ${plain}`)];
  };
  const { server } = await start(t, app);
  const total = 16 * MiB;
  let expected = 0;
  const response = await new Promise((resolve, reject) => {
    const req = http.request(server.url + "up", { method: "POST" }, (res) => {
      let body = "";
      res.on("data", (data) => body += data);
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    let sent = 0;
    const piece = Buffer.alloc(100000);
    const write = () => {
      while (sent < total) {
        const size = Math.min(piece.length, total - sent);
        for (let i = 0; i < size; i++) piece[i] = (sent + i) & 0xff;
        for (let i = 0; i < size; i++) {
          if ((sent + i) % 50000 % 4096 === 0) {
            expected = (expected + piece[i]) >>> 0;
          }
        }
        sent += size;
        if (!req.write(piece.subarray(0, size))) {
          return req.once("drain", write);
        }
      }
      req.end();
    };
    write();
  });
  assert.equal(response, `${total} ${expected} true`);
});

test("serve on Node: a client that disconnects cancels the response and close() runs", async (t) => {
  const { app, closed } = endlessApp();
  const { server, lines } = await start(t, app);
  const req = http.get(server.url + "forever", (res) => {
    res.once("data", () => req.destroy());
  });
  req.on("error", () => {});
  await closed.promise;
  await server.shutdown();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /"GET \/forever HTTP\/1\.1" 200 \d+$/);
});

test("serve on Node: a disconnect before the response aborts the request signal", async (t) => {
  const closed = latch();
  const app = async (environ, startResponse) => {
    const signal = environ["tsgi.request"].signal;
    if (!signal.aborted) {
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return {
      *[Symbol.iterator]() {
        yield enc.encode("too late");
      },
      close: () => closed.resolve(),
    };
  };
  const { server } = await start(t, app);
  const socket = net.connect(server.port, "127.0.0.1", () => {
    socket.write(
      "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n",
      () => socket.destroy(),
    );
  });
  await closed.promise;
});

test("serve on Node: an error after the first chunk cuts the connection", async (t) => {
  const app = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield enc.encode("partial");
      throw new Error("boom");
    })();
  };
  const { server } = await start(t, app, { errors: () => {} });
  const complete = await new Promise((resolve) => {
    http.get(server.url, (res) => {
      res.on("data", () => {});
      res.on("error", () => {});
      res.on("close", () => resolve(res.complete));
    }).on("error", () => resolve(false));
  });
  assert.equal(complete, false);
});

test("serve on Node: a body complete to its Content-Length survives a later error", async (t) => {
  const closed = latch();
  const app = (_environ, startResponse) => {
    startResponse("200 OK", [
      ["Content-Type", "text/plain"],
      ["Content-Length", "11"],
    ]);
    return {
      *[Symbol.iterator]() {
        yield enc.encode("hello ");
        yield enc.encode("world");
        throw new Error("after the last byte");
      },
      close: () => closed.resolve(),
    };
  };
  const logs = [];
  const { server } = await start(t, app, { errors: (text) => logs.push(text) });
  const response = await request(server.url);
  assert.equal(response.body, "hello world");
  assert.equal(response.headers["content-length"], "11");
  await closed.promise;
  assert.match(logs.join(""), /after the last byte/);
});

test("serve on Node: bad requests get 400 and gateway options apply", async (t) => {
  const { server } = await start(t, hello, { maxBodySize: 10 });
  const reply = await raw(
    server.port,
    "GET / HTTP/1.1\r\nHost: evil/path\r\nConnection: close\r\n\r\n",
  );
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
  const big = await request(server.url, { method: "POST" }, "x".repeat(100));
  assert.equal(big.status, 413);
});

test("serve on Node: shutdown() lets a request in flight finish and refuses new connections", async () => {
  // A keep-alive client: shutdown must not wait for it to hang up.
  const agent = new http.Agent({ keepAlive: true });
  const during = await checkGracefulShutdown(
    serve,
    (url) =>
      new Promise((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          let text = "";
          res.on("data", (data) => text += data);
          res.on("end", () => resolve(text));
        }).on("error", reject);
      }),
  );
  assert.equal(during, "ECONNREFUSED");
  agent.destroy();
});

test("serve on Node: Symbol.asyncDispose shuts down", async () => {
  const server = await serve(hello, {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  await server[Symbol.asyncDispose]();
  await server.finished;
  assert.equal(
    await raw(server.port, "GET / HTTP/1.1\r\n\r\n"),
    "ECONNREFUSED",
  );
});

test("node: staticFiles serves a file whole, by range and as 304, through serve()", async () => {
  const { staticFiles } = await import(
    new URL("../../npm/mod.js", import.meta.url).href
  );
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/tsgi_static_node_");
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
    const etag = whole.headers.get("etag");
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
