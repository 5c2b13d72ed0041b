import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import type { App, AppIterable, Closable } from "../../mod.ts";
import { b, dec, harness } from "../_util/helpers.ts";

/** Wraps chunks in an iterable whose close() calls are counted. */
function closable(
  body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): AppIterable & { closed: number } {
  const result = {
    closed: 0,
    close() {
      result.closed++;
    },
    [Symbol.iterator]: undefined as unknown,
    [Symbol.asyncIterator]: undefined as unknown,
  };
  if (Symbol.asyncIterator in body) {
    result[Symbol.asyncIterator] = () => body[Symbol.asyncIterator]();
  } else {
    result[Symbol.iterator] = () =>
      (body as Iterable<Uint8Array>)[Symbol.iterator]();
  }
  return result as unknown as AppIterable & { closed: number };
}

function ok(
  startResponse: Parameters<App>[1],
  headers: [string, string][] = [],
) {
  startResponse("200 OK", [["Content-Type", "text/plain"], ...headers]);
}

Deno.test("result: an array is sent whole, with its Content-Length", async () => {
  const result = closable([b("Hello "), b("world")]);
  const { handler } = harness((_e, sr) => (ok(sr), result));
  const response = await handler("http://x/");
  assert.equal(await response.text(), "Hello world");
  assert.equal(result.closed, 1);
});

Deno.test("result: an empty array sends an empty body", async () => {
  const { handler } = harness((_e, sr) => (ok(sr), []));
  const response = await handler("http://x/");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
});

Deno.test("result: a generator is streamed chunk by chunk", async () => {
  const { handler } = harness((_e, sr) => {
    ok(sr);
    return (function* () {
      yield b("a");
      yield b("");
      yield b("b");
      yield b("c");
    })();
  });
  const response = await handler("http://x/");
  const reader = response.body!.getReader();
  const chunks: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(dec.decode(value));
  }
  assert.deepEqual(chunks, ["a", "b", "c"]);
});

Deno.test("result: async generators and Promises of results work", async () => {
  const apps: App[] = [
    (_e, sr) => {
      ok(sr);
      return (async function* () {
        yield b("as");
        await Promise.resolve();
        yield b("ync");
      })();
    },
    async (_e, sr) => {
      await Promise.resolve();
      ok(sr);
      return [b("async"), b(" app")];
    },
    (_e, sr) => Promise.resolve().then(() => (ok(sr), [b("promise")])),
  ];
  const expected = ["async", "async app", "promise"];
  for (const [i, app] of apps.entries()) {
    const { handler } = harness(app);
    assert.equal(await (await handler("http://x/")).text(), expected[i]);
  }
});

Deno.test("result: start_response may be called lazily inside the generator", async () => {
  const { handler } = harness((_e, sr) =>
    (function* () {
      yield b("");
      sr("202 Accepted", [["X-Late", "yes"]]);
      yield b("late");
    })()
  );
  const response = await handler("http://x/");
  assert.equal(response.status, 202);
  assert.equal(response.headers.get("x-late"), "yes");
  assert.equal(await response.text(), "late");
});

Deno.test("result: an infinite generator is only pulled as the client reads", async () => {
  let produced = 0;
  let finalized = false;
  const { handler } = harness((_e, sr) => {
    ok(sr);
    return (function* () {
      try {
        for (;;) {
          produced++;
          yield b("x".repeat(1024));
        }
      } finally {
        finalized = true;
      }
    })();
  });
  const response = await handler("http://x/");
  const reader = response.body!.getReader();
  for (let i = 0; i < 3; i++) await reader.read();
  assert.ok(produced <= 5, `produced ${produced} chunks for 3 reads`);
  await reader.cancel();
  assert.equal(finalized, true, "the generator's finally block ran");
});

Deno.test("commit: nothing is committed before the first non-empty chunk", async () => {
  // yield b"" then raise must still give a clean 500 (wsgiref gets this wrong).
  const { handler, logs } = harness((_e, sr) => {
    ok(sr);
    return (function* () {
      yield b("");
      yield b("");
      throw new Error("secret detail");
    })();
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  const body = await response.text();
  assert.equal(body, "500 Internal Server Error\n");
  assert.ok(!body.includes("secret"));
  assert.match(logs.join(""), /secret detail/);
});

Deno.test("errors: an app that throws gets a 500 without the message, logged", async () => {
  const { handler, logs } = harness(() => {
    throw new Error("database password is hunter2");
  });
  const response = await handler("http://x/boom?q=1");
  assert.equal(response.status, 500);
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  const body = await response.text();
  assert.ok(!body.includes("hunter2"));
  const log = logs.join("");
  assert.match(log, /GET \/boom\?q=1/);
  assert.match(log, /hunter2/);
  assert.match(log, /at /, "the stack is logged");
});

Deno.test("errors: debug shows the error in the 500 body", async () => {
  const { handler } = harness(() => {
    throw new Error("visible in debug");
  }, { debug: true });
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  assert.match(await response.text(), /visible in debug/);
});

Deno.test("errors: a rejected Promise from an async app is a 500", async () => {
  const { handler, logs } = harness(async () => {
    await Promise.resolve();
    throw new TypeError("async failure");
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.match(logs.join(""), /async failure/);
});

Deno.test("errors: an error after the first chunk breaks the stream and is logged", async () => {
  const result = closable(
    (function* () {
      yield b("first");
      throw new Error("mid-stream");
    })(),
  );
  const { handler, logs } = harness((_e, sr) => (ok(sr), result));
  const response = await handler("http://x/");
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  assert.equal(dec.decode((await reader.read()).value), "first");
  await assert.rejects(reader.read(), /mid-stream/);
  assert.match(logs.join(""), /after the response started.*mid-stream/s);
  assert.equal(result.closed, 1);
});

Deno.test("errors: start_response never called is a 500", async () => {
  const result = closable([b("orphan")]);
  const { handler, logs } = harness(() => result);
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.match(logs.join(""), /never called startResponse\(\)/);
  assert.equal(result.closed, 1);
});

Deno.test("errors: the write of a request before its start_response throws", async () => {
  // The PEP's example gateway raises "write() before start_response()".
  const { Exchange } = await import("../../src/gateway/_exchange.ts");
  const exchange = new Exchange({
    environ: {} as never,
    errors: { write() {}, writelines() {}, flush() {} },
    debug: false,
    method: "GET",
    textLimit: -1,
  });
  assert.throws(() => exchange.write(b("x")), /call startResponse\(\) first/);
});

Deno.test("errors: string chunks and non-iterables are TypeErrors, then a 500", async () => {
  const bad: [string, App][] = [
    ["string chunk", (_e, sr) => (ok(sr), ["text" as unknown as Uint8Array])],
    ["number chunk", (_e, sr) => (ok(sr), [42 as unknown as Uint8Array])],
    [
      "Uint8Array result",
      (_e, sr) => (ok(sr), b("bytes") as unknown as AppIterable),
    ],
    [
      "undefined result",
      (_e, sr) => (ok(sr), undefined as unknown as AppIterable),
    ],
    ["string in generator", (_e, sr) => {
      ok(sr);
      return (function* () {
        yield "text" as unknown as Uint8Array;
      })();
    }],
  ];
  for (const [name, app] of bad) {
    const { handler, logs } = harness(app);
    const response = await handler("http://x/");
    assert.equal(response.status, 500, name);
    await response.body?.cancel();
    assert.match(logs.join(""), /TypeError/, name);
  }
});

Deno.test("errors: a bad chunk after streaming started breaks the stream", async () => {
  const { handler, logs } = harness((_e, sr) => {
    ok(sr);
    return (function* () {
      yield b("ok");
      yield "oops" as unknown as Uint8Array;
    })();
  });
  const response = await handler("http://x/");
  await assert.rejects(response.text());
  assert.match(logs.join(""), /body chunks must be Uint8Array/);
});

Deno.test("close: runs exactly once on every path", async () => {
  const paths: [
    string,
    (r: AppIterable & { closed: number }) => App,
    (res: Response) => Promise<unknown>,
  ][] = [
    ["end of a stream", (r) => (_e, sr) => (ok(sr), r), (res) => res.text()],
    [
      "error mid-stream",
      () => (_e, sr) => (ok(sr), failing),
      (res) => res.text().catch(() => {}),
    ],
    ["client cancel", (r) => (_e, sr) => (ok(sr), r), async (res) => {
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
    }],
    [
      "Content-Length reached",
      (r) => (_e, sr) => (ok(sr, [["Content-Length", "2"]]), r),
      (res) => res.text(),
    ],
    ["HEAD", (r) => (_e, sr) => (ok(sr), r), (res) => res.text()],
    ["bad status", (r) => (_e, sr) => {
      try {
        sr("bad", []);
      } catch { /* the app ignores it */ }
      return r;
    }, (res) => res.text()],
  ];
  let failing!: AppIterable & { closed: number };
  for (const [name, makeApp, consume] of paths) {
    const result = closable((function* () {
      yield b("ab");
      yield b("cd");
    })());
    failing = closable((function* () {
      yield b("ab");
      throw new Error("x");
    })());
    const { handler } = harness(makeApp(result));
    const request = new Request("http://x/", {
      method: name === "HEAD" ? "HEAD" : "GET",
    });
    await consume(await handler(request));
    const target = name === "error mid-stream" ? failing : result;
    assert.equal(target.closed, 1, name);
  }
});

Deno.test("close: a close() that throws is logged and changes nothing else", async () => {
  const result = {
    *[Symbol.iterator]() {
      yield b("fine");
    },
    close() {
      throw new Error("close failed");
    },
  };
  const { handler, logs } = harness((_e, sr) => (ok(sr), result));
  const response = await handler("http://x/");
  assert.equal(await response.text(), "fine");
  assert.match(logs.join(""), /close\(\) raised.*close failed/s);
});

Deno.test("close: an async close() is awaited and its rejection logged", async () => {
  let resolved = false;
  const result: AppIterable & Closable = {
    async *[Symbol.asyncIterator]() {
      yield b("x");
    },
    async close() {
      await Promise.resolve();
      resolved = true;
      throw new Error("async close failed");
    },
  };
  const logged = Promise.withResolvers<void>();
  const logs: string[] = [];
  const handler = toFetchHandler((_e, sr) => (ok(sr), result), {
    errors: (text) => {
      logs.push(text);
      if (text.includes("async close failed")) logged.resolve();
    },
  });
  assert.equal(await (await handler(new Request("http://x/"))).text(), "x");
  await logged.promise;
  assert.equal(resolved, true);
});

/** The chunks as an array (a known body) or as a generator (a stream). */
function arrayOrStream(
  chunks: Uint8Array[],
  streamed: boolean,
): AppIterable & { closed: number } {
  return closable(
    streamed
      ? (function* () {
        yield* chunks;
      })()
      : chunks,
  );
}

Deno.test("content-length: more bytes than declared are cut off and logged", async () => {
  for (const streamed of [false, true]) {
    const chunks = [b("12345"), b("67890")];
    const result = arrayOrStream(chunks, streamed);
    const { handler, logs } = harness((
      _e,
      sr,
    ) => (ok(sr, [["Content-Length", "7"]]), result));
    const response = await handler("http://x/");
    assert.equal(await response.text(), "1234567", `streamed: ${streamed}`);
    assert.match(logs.join(""), /too many bytes: Content-Length 7/);
    assert.equal(result.closed, 1);
  }
});

Deno.test("content-length: fewer bytes than declared break the stream and are logged", async () => {
  for (const streamed of [false, true]) {
    const chunks = [b("123")];
    const result = arrayOrStream(chunks, streamed);
    const { handler, logs } = harness((
      _e,
      sr,
    ) => (ok(sr, [["Content-Length", "10"]]), result));
    const response = await handler("http://x/");
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer(), /Content-Length is 10/);
    assert.match(logs.join(""), /too few bytes: Content-Length 10, sent 3/);
    assert.equal(result.closed, 1);
  }
});

Deno.test("content-length: an exact declared length streams untouched", async () => {
  const { handler, logs } = harness((_e, sr) => {
    ok(sr, [["Content-Length", "6"]]);
    return (function* () {
      yield b("abc");
      yield b("def");
    })();
  });
  const response = await handler("http://x/");
  assert.equal(response.headers.get("content-length"), "6");
  assert.equal(await response.text(), "abcdef");
  assert.equal(logs.length, 0);
});

Deno.test("HEAD: no body, the app's Content-Length kept, close() called", async () => {
  const result = closable((function* () {
    yield b("ignored body");
  })());
  const { handler } = harness((
    _e,
    sr,
  ) => (ok(sr, [["Content-Length", "12"]]), result));
  const response = await handler(new Request("http://x/", { method: "HEAD" }));
  assert.equal(response.body, null);
  assert.equal(response.headers.get("content-length"), "12");
  assert.equal(result.closed, 1);
});

Deno.test("HEAD: a known body without Content-Length reports the GET length", async () => {
  const { handler } = harness((_e, sr) => (ok(sr), [b("hello"), b("!")]));
  const response = await handler(new Request("http://x/", { method: "HEAD" }));
  assert.equal(response.body, null);
  assert.equal(response.headers.get("content-length"), "6");
});

Deno.test("HEAD: an endless body is not pumped", async () => {
  let produced = 0;
  const { handler } = harness((_e, sr) => {
    ok(sr);
    return (function* () {
      for (;;) {
        produced++;
        yield b("x");
      }
    })();
  });
  const response = await handler(new Request("http://x/", { method: "HEAD" }));
  // An empty stream, so the runtime announces no Content-Length: 0 either.
  assert.equal(await response.text(), "");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(produced, 1);
});

Deno.test("204, 205 and 304 are sent without a body", async () => {
  for (
    const status of ["204 No Content", "205 Reset Content", "304 Not Modified"]
  ) {
    const result = closable([b("should not be sent")]);
    const { handler } = harness((_e, sr) => {
      sr(status, status.startsWith("304") ? [["ETag", '"v1"']] : []);
      return result;
    });
    const response = await handler("http://x/");
    assert.equal(response.status, Number(status.slice(0, 3)));
    assert.equal(response.body, null);
    assert.equal(result.closed, 1);
  }
});

Deno.test("write: a sync app's writes come before its returned chunks", async () => {
  const { handler } = harness((_e, sr) => {
    const write = sr("200 OK", []);
    write(b("written "));
    write(b(""));
    write(b("first, "));
    return [b("then returned")];
  });
  const response = await handler("http://x/");
  assert.equal(await response.text(), "written first, then returned");
});

Deno.test("write: an async app's first write sends the headers before it returns", async () => {
  const release = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const { handler } = harness(async (_e, sr) => {
    const write = sr("200 OK", [["X-Stage", "early"]]);
    await write(b("first;"));
    await release.promise;
    await write(b("second;"));
    return {
      *[Symbol.iterator]() {
        yield b("third");
      },
      close: () => closed.resolve(),
    };
  });
  const response = await handler("http://x/");
  assert.equal(response.headers.get("x-stage"), "early");
  const reader = response.body!.getReader();
  assert.equal(dec.decode((await reader.read()).value), "first;");
  release.resolve();
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += dec.decode(value);
  }
  assert.equal(rest, "second;third");
  await closed.promise;
});

Deno.test("write: a non-Uint8Array write is a TypeError", async () => {
  let error: unknown;
  const { handler } = harness((_e, sr) => {
    const write = sr("200 OK", []);
    try {
      write("text" as unknown as Uint8Array);
    } catch (e) {
      error = e;
    }
    return [];
  });
  await (await handler("http://x/")).body?.cancel();
  assert.ok(error instanceof TypeError);
});

Deno.test("write: writing after the client went away throws", async () => {
  const wrote = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let late: unknown;
  const { handler } = harness(async (_e, sr) => {
    const write = sr("200 OK", []);
    await write(b("x"));
    wrote.resolve();
    await release.promise;
    try {
      await write(b("y"));
    } catch (error) {
      late = error;
    }
    return [];
  });
  const response = await handler("http://x/");
  await wrote.promise;
  await response.body!.cancel();
  release.resolve();
  // The app finishes on its own; wait for it through a microtask chain.
  for (let i = 0; i < 10 && late === undefined; i++) await Promise.resolve();
  assert.match(String(late), /client has gone away/);
});

Deno.test("file_wrapper: a Blob is handed to the Response as it is", async () => {
  const blob = new Blob(["file contents"]);
  const { handler } = harness((environ, sr) => {
    ok(sr);
    return environ["wsgi.file_wrapper"]!(blob);
  });
  const response = await handler("http://x/");
  assert.equal(await response.text(), "file contents");
});

Deno.test("a real Deno.serve: known bodies go out with Content-Length, streams chunked", async () => {
  const app: App = (environ, sr) => {
    ok(sr);
    switch (environ.PATH_INFO) {
      case "/array":
        return [b("Hello "), b("world")];
      case "/writes": {
        const write = sr("200 OK", [], new Error("switching headers"));
        write(b("written "));
        return [b("then returned")];
      }
      case "/blob":
        return environ["wsgi.file_wrapper"]!(new Blob(["file contents"]));
      default:
        return (function* () {
          yield b("stream");
          yield b("ed");
        })();
    }
  };
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, toFetchHandler(app));
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const expected: [string, string, string | null][] = [
      ["/array", "Hello world", "11"],
      ["/writes", "written then returned", "21"],
      ["/blob", "file contents", "13"],
      ["/stream", "streamed", null],
    ];
    for (const [path, body, length] of expected) {
      const response = await fetch(base + path);
      assert.equal(await response.text(), body, path);
      assert.equal(response.headers.get("content-length"), length, path);
      assert.equal(
        response.headers.get("transfer-encoding"),
        length === null ? "chunked" : null,
        path,
      );
    }
  } finally {
    controller.abort();
    await server.finished;
  }
});

Deno.test("a real Deno.serve: a client that disconnects mid-stream makes close() run", async () => {
  const closed = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  let produced = 0;
  const app: App = (_e, sr) => {
    ok(sr);
    return {
      *[Symbol.iterator]() {
        started.resolve();
        for (;;) {
          produced++;
          yield new Uint8Array(16 * 1024);
        }
      },
      close: () => closed.resolve(),
    };
  };
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, toFetchHandler(app, { errors: () => {} }));
  try {
    const client = new AbortController();
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      signal: client.signal,
    });
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 256 * 1024) {
      const { value } = await reader.read();
      received += value!.length;
    }
    await started.promise;
    client.abort();
    await reader.cancel().catch(() => {});
    await closed.promise;
    // Backpressure: the app produced about what was read, not megabytes.
    assert.ok(produced * 16 * 1024 < received + 8 * 1024 * 1024);
  } finally {
    controller.abort();
    await server.finished;
  }
});

Deno.test("write: a write past Content-Length is a RangeError and sends nothing of it", async () => {
  let error: unknown;
  const { handler } = harness((_e, sr) => {
    const write = sr("200 OK", [["Content-Length", "8"]]);
    write(b("123456"));
    try {
      write(b("78901"));
    } catch (e) {
      error = e;
    }
    write(b("78"));
    return [];
  });
  const response = await handler("http://x/");
  assert.equal(await response.text(), "12345678");
  assert.ok(error instanceof RangeError);
  assert.match(
    (error as Error).message,
    /Cannot write 5 bytes: Content-Length is 8 and 6 bytes were already written/,
  );
});

Deno.test("wsgi.errors: a partial line is flushed when the request ends", async () => {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args);
  try {
    const handler = toFetchHandler((environ, sr) => {
      environ["wsgi.errors"].write("no newline at the end");
      sr("200 OK", []);
      return [b("x")];
    });
    await (await handler(new Request("http://x/"))).text();
  } finally {
    console.error = original;
  }
  assert.deepEqual(printed, [["no newline at the end"]]);
});

Deno.test("environ: the scheme is the listener's, never the request URL's", async () => {
  const seen: Record<string, unknown>[] = [];
  const app: App = (environ, sr) => {
    seen.push({ ...environ });
    sr("204 No Content", []);
    return [];
  };
  const tls = toFetchHandler(app, { urlScheme: "https" });
  const plain = toFetchHandler(app);
  await tls(new Request("http://x/"));
  // A client on plain TCP that sends an https absolute-form target.
  await plain(new Request("https://x/"));
  assert.equal(seen[0].HTTPS, "on");
  assert.equal(seen[0]["wsgi.url_scheme"], "https");
  assert.equal(seen[0].SERVER_PORT, "443");
  assert.ok(!("HTTPS" in seen[1]));
  assert.equal(seen[1]["wsgi.url_scheme"], "http");
  assert.equal(seen[1].SERVER_PORT, "80");
  // Only Workers, whose platform builds the URL, are taken at their word.
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  await plain(new Request("https://x/"), {}, ctx);
  assert.equal(seen[2]["wsgi.url_scheme"], "https");
  assert.throws(
    // @ts-expect-error: not a scheme tsgi serves
    () => toFetchHandler(app, { urlScheme: "ftp" }),
    {
      name: "TypeError",
      message: /urlScheme "ftp": expected "http" or "https"/,
    },
  );
});

Deno.test("a real Deno.serve: dot segments resolve, backslashes stay, raw non-ASCII is refused", async () => {
  const seen: Record<string, string>[] = [];
  const app: App = (environ, sr) => {
    seen.push({
      PATH_INFO: environ.PATH_INFO,
      QUERY_STRING: environ.QUERY_STRING,
      REQUEST_URI: environ.REQUEST_URI,
    });
    sr("204 No Content", []);
    return [];
  };
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, toFetchHandler(app));
  try {
    const ask = async (target: string) => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      await conn.write(
        new TextEncoder().encode(
          `GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
        ),
      );
      return await new Response(conn.readable).text();
    };
    assert.match(
      await ask("/a/../b/./%2e%2E/c/%E2%82%AC?x=%E2%82%AC&y=%FF"),
      /^HTTP\/1\.1 204/,
    );
    assert.match(await ask("/echo/a\\..\\..\\admin"), /^HTTP\/1\.1 204/);
    // Raw UTF-8 in the target, which Deno passes on as one char per octet.
    assert.match(await ask("/c/\u20ac"), /^HTTP\/1\.1 400/);
    assert.match(await ask("/c?x=\u20ac"), /^HTTP\/1\.1 400/);
  } finally {
    controller.abort();
    await server.finished;
  }
  assert.deepEqual(seen, [{
    PATH_INFO: "/c/\u00e2\u0082\u00ac",
    QUERY_STRING: "x=%E2%82%AC&y=%FF",
    REQUEST_URI: "/c/%E2%82%AC?x=%E2%82%AC&y=%FF",
  }, {
    PATH_INFO: "/echo/a\\..\\..\\admin",
    QUERY_STRING: "",
    REQUEST_URI: "/echo/a\\..\\..\\admin",
  }]);
});

Deno.test("errors: common mistakes get a message with the way out", async () => {
  const cases: [string, App, RegExp][] = [
    [
      "a Response returned",
      () => new Response("hi") as unknown as Uint8Array[],
      /Cannot use a Response as the application's result: .*fromFetchHandler\(handler\)/,
    ],
    [
      "nothing returned",
      ((_e: unknown, sr: (s: string, h: [string, string][]) => void) => {
        sr("200 OK", []);
      }) as unknown as App,
      /Cannot use the application's result undefined: the app returned nothing; return .*\[body\]/,
    ],
    [
      "a Promise as a chunk",
      (_e, sr) => {
        sr("200 OK", []);
        return [Promise.resolve(b("x")) as unknown as Uint8Array];
      },
      /a Promise: body chunks must be Uint8Array; did you forget await\?/,
    ],
    [
      "a string written",
      (_e, sr) => {
        const write = sr("200 OK", []);
        write("text" as unknown as Uint8Array);
        return [];
      },
      /Cannot write "text": body chunks must be Uint8Array; encode text with new TextEncoder\(\)\.encode\(text\)/,
    ],
  ];
  for (const [name, app, message] of cases) {
    const { handler, logs } = harness(app);
    const response = await handler("http://x/");
    assert.equal(response.status, 500, name);
    await response.body?.cancel();
    assert.match(logs.join(""), message, name);
  }
  // serve({ fetch }) and toFetchHandler({ fetch }) point to fromFetchHandler.
  assert.throws(
    () => toFetchHandler({ fetch: () => new Response() } as unknown as App),
    {
      name: "TypeError",
      message:
        /Cannot serve an object with a fetch method: .*fromFetchHandler\(handler\.fetch\)/,
    },
  );
});
