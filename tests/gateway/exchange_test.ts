import assert from "node:assert/strict";
import type { App, AppIterable, Header } from "../../mod.ts";
import { b, dec, harness } from "../_util/helpers.ts";
import { connect } from "node:net";
import { withServer } from "../_util/serve.ts";

/** Calls start_response with the given arguments; reports what it threw. */
async function tryStart(
  status: unknown,
  headers: unknown,
): Promise<{ error: unknown; status: number; body: string; logs: string[] }> {
  let error: unknown;
  const app: App = (_environ, startResponse) => {
    try {
      startResponse(status as string, headers as Header[]);
    } catch (e) {
      error = e;
      throw e;
    }
    return [b("ok")];
  };
  const { handler, logs } = harness(app);
  const response = await handler("http://x/");
  return { error, status: response.status, body: await response.text(), logs };
}

Deno.test("start_response: accepts a valid status and header list", async () => {
  const result = await tryStart("201 Created", [
    ["Content-Type", "text/plain"],
    [
      "X-Empty",
      "",
    ],
    ["X-Tab", "a\tb"],
    ["X-Latin", "caf\u00e9"],
  ]);
  assert.equal(result.error, undefined);
  assert.equal(result.status, 201);
  assert.equal(result.body, "ok");
});

Deno.test("start_response: a malformed status is a TypeError naming it, then a 500", async () => {
  for (
    const status of [
      "200OK",
      "2000 OK",
      "20 OK",
      "abc OK",
      " 200 OK",
      "200  OK",
      "200 OK ",
      "200 OK\t",
      "200 OK\r\n",
      "200 O\nK",
      "200 caf\u0100",
      "200\tOK",
      "",
      200,
      undefined,
    ]
  ) {
    const result = await tryStart(status, []);
    assert.ok(result.error instanceof TypeError, String(status));
    assert.match((result.error as Error).message, /^Cannot use status /);
    assert.equal(result.status, 500);
    assert.equal(result.body, "500 Internal Server Error\n");
    assert.match(result.logs.join(""), /Cannot use status/);
  }
});

Deno.test("start_response: a status outside 200-599 is a RangeError", async () => {
  for (
    const status of ["100 Continue", "103 Early Hints", "600 Nope", "999 X"]
  ) {
    const result = await tryStart(status, []);
    assert.ok(result.error instanceof RangeError, status);
    assert.equal(result.status, 500);
  }
});

Deno.test("start_response: an empty reason phrase is allowed", async () => {
  const result = await tryStart("200 ", []);
  assert.equal(result.error, undefined);
  assert.equal(result.status, 200);
});

Deno.test("start_response: bad header lists are TypeErrors naming the value", async () => {
  const cases: [unknown, RegExp][] = [
    [{ "Content-Type": "text/plain" }, /expected an array/],
    [[["Content-Type"]], /expected \[name, value\]/],
    [["Content-Type: text/plain"], /expected \[name, value\]/],
    [[["Bad Name", "x"]], /header name "Bad Name"/],
    [[["X-Colon:", "x"]], /header name "X-Colon:"/],
    [[["", "x"]], /header name ""/],
    [[["X-Caf\u00e9", "x"]], /expected an HTTP token/],
    [[["X-A", "a\r\nSet-Cookie: evil=1"]], /control characters/],
    [[["X-A", "a\nb"]], /control characters/],
    [[["X-A", "a\u0000b"]], /control characters/],
    [[["X-A", "a\u007fb"]], /control characters/],
    [[["X-A", "\u0100"]], /above U\+00FF/],
    [[["X-A", 1]], /expected a string/],
    [[["Content-Length", "abc"]], /Content-Length "abc"/],
    [[["Content-Length", "-1"]], /Content-Length "-1"/],
    [[["Content-Length", "3"], ["Content-Length", "4"]], /another says 3/],
  ];
  for (const [headers, message] of cases) {
    const result = await tryStart("200 OK", headers);
    assert.ok(result.error instanceof TypeError, JSON.stringify(headers));
    assert.match((result.error as Error).message, message);
    assert.equal(result.status, 500);
    assert.ok(!result.body.includes("evil"));
  }
});

Deno.test("start_response: hop-by-hop headers are refused", async () => {
  for (
    const name of [
      "Connection",
      "Keep-Alive",
      "Transfer-Encoding",
      "Upgrade",
      "TE",
      "Trailer",
      "Proxy-Authenticate",
      "proxy-authorization",
    ]
  ) {
    const result = await tryStart("200 OK", [[name, "x"]]);
    assert.ok(result.error instanceof TypeError, name);
    assert.match((result.error as Error).message, /hop-by-hop/);
    assert.equal(result.status, 500);
  }
});

Deno.test("start_response: it returns write", async () => {
  let write: unknown;
  const { handler } = harness((_environ, startResponse) => {
    write = startResponse("200 OK", []);
    return [];
  });
  await (await handler("http://x/")).body?.cancel();
  assert.equal(typeof write, "function");
});

Deno.test("start_response: a second call without exc_info throws", async () => {
  let second: unknown;
  const { handler, logs } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    try {
      startResponse("404 Not Found", []);
    } catch (error) {
      second = error;
    }
    return [b("body")];
  });
  const response = await handler("http://x/");
  assert.ok(second instanceof Error);
  assert.match((second as Error).message, /second time without excInfo/);
  // The first status stands.
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "body");
  assert.equal(logs.length, 0);
});

Deno.test("start_response: after a call that threw, only exc_info may call again", async () => {
  let second: unknown;
  const { handler } = harness((_environ, startResponse) => {
    try {
      startResponse("200 OK", [["X-Bad", "a\nb"]]);
    } catch {
      try {
        startResponse("200 OK", []);
      } catch (error) {
        second = error;
      }
    }
    return [b("x")];
  });
  const response = await handler("http://x/");
  assert.match((second as Error).message, /second time/);
  assert.equal(response.status, 500);
  await response.body?.cancel();
});

Deno.test("start_response: exc_info before anything is sent replaces status and headers", async () => {
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["X-First", "1"]]);
    try {
      throw new Error("boom");
    } catch (error) {
      startResponse("503 Service Unavailable", [["X-Second", "2"]], error);
    }
    return [b("sorry")];
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("x-first"), null);
  assert.equal(response.headers.get("x-second"), "2");
  assert.equal(await response.text(), "sorry");
});

Deno.test("start_response: exc_info fixes headers that failed the check", async () => {
  const { handler } = harness((_environ, startResponse) => {
    try {
      startResponse("200 OK", [["Connection", "close"]]);
    } catch (error) {
      startResponse("500 Oops", [["Content-Type", "text/plain"]], error);
    }
    return [b("fixed")];
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  assert.equal(response.statusText, "Oops");
  assert.equal(await response.text(), "fixed");
});

Deno.test("start_response: exc_info after the body started rethrows it", async () => {
  const boom = new Error("late failure");
  let rethrown: unknown;
  const { handler, logs } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    return (function* () {
      yield b("partial");
      try {
        startResponse("500 Oops", [], boom);
      } catch (error) {
        rethrown = error;
        throw error;
      }
    })();
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 200);
  await assert.rejects(response.text());
  assert.equal(rethrown, boom);
  assert.match(logs.join(""), /late failure/);
});

Deno.test("start_response: repeated Set-Cookie headers all reach the client", async () => {
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", [
      ["Set-Cookie", "a=1; Path=/"],
      ["Set-Cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
      ["X-Multi", "x"],
      ["X-Multi", "y"],
    ]);
    return [];
  });
  const response = await handler("http://x/");
  assert.deepEqual(response.headers.getSetCookie(), [
    "a=1; Path=/",
    "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
  ]);
  assert.equal(response.headers.get("x-multi"), "x, y");
});

Deno.test("start_response: a null exc_info counts as none", async () => {
  let second: unknown;
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    try {
      startResponse("500 Oops", [], null);
    } catch (error) {
      second = error;
    }
    return [];
  });
  const response = await handler("http://x/");
  assert.match(String(second), /second time without excInfo/);
  assert.equal(response.status, 200);
});

// Regression: an async app that commits by write() and then returns an
// async iterable used to stall (the waiting pull settled without
// enqueuing, and a stream does not pull again while a read waits).
Deno.test("exchange: write() then an async iterable result streams to the end", async () => {
  const app: App = async (_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    for (let i = 0; i < 5; i++) await write(b(`${i}`));
    return {
      async *[Symbol.asyncIterator]() {
        yield b("!end");
      },
    };
  };
  const { handler } = harness(app);
  const response = await handler("/");
  assert.equal(await response.text(), "01234!end");
});

// Regression: an app awaiting write() for room when the client went away
// waited forever: the Promise settled only when the stream pulled again,
// and a cancelled stream never does. The app never returned, so its
// result was never closed. Found by tests/e2e/hostile_apps_test.ts (through
// validator, whose write() adds the microtask that exposed it).
Deno.test("exchange: write() waiting for room settles when the client hangs up", async () => {
  let closed = 0;
  let error = "";
  const returned = Promise.withResolvers<void>();
  const { handler } = harness(async (_environ, startResponse) => {
    await null;
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("a"));
    try {
      await write(b("b")); // waits for room: the client reads one chunk only
      await write(b("c")); // the client is gone: throws
    } catch (e) {
      error = (e as Error).message;
    }
    returned.resolve();
    return Object.assign([], { close: () => void closed++ });
  });
  const response = await handler("/");
  const reader = response.body!.getReader();
  assert.deepEqual((await reader.read()).value, b("a"));
  await reader.cancel();
  await returned.promise;
  assert.equal(error, "Cannot write(): the client has gone away");
  assert.equal(closed, 1);
});

// Regression: an async app that awaited write() until the client had read
// everything, then returned a non-empty iterable, stalled the response
// forever (the stream's pull() settled without enqueueing, and a
// ReadableStream does not call pull() again on its own). Found by
// tests/e2e/hostile_apps_test.ts.
function writeThenReturn(result: () => AppIterable) {
  let closes = 0;
  const { handler, logs } = harness(async (_environ, startResponse) => {
    await null;
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("a"));
    await write(b("b"));
    const out = result();
    (out as { close?: () => void }).close = () => void closes++;
    return out;
  });
  return { handler, logs, closes: () => closes };
}

for (
  const [name, result] of [
    ["an async generator", async function* () {
      await null;
      yield b("c");
    }],
    ["a sync generator", function* () {
      yield b("c");
    }],
    ["an array", () => [b("c")]],
  ] as const
) {
  Deno.test(`exchange: awaited write() then ${name}: the body completes`, async () => {
    const t = writeThenReturn(result as () => AppIterable);
    const response = await t.handler("/");
    const reader = response.body!.getReader();
    const parts: string[] = [];
    for (;;) {
      // One read at a time, so the app waits on each write's backpressure.
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(dec.decode(value));
    }
    assert.equal(parts.join(""), "abc");
    assert.equal(t.closes(), 1);
    assert.deepEqual(t.logs, []);
  });
}

Deno.test("exchange: awaited write() then an empty iterable: the body ends", async () => {
  const t = writeThenReturn(() => []);
  const response = await t.handler("/");
  assert.equal(await response.text(), "ab");
  assert.equal(t.closes(), 1);
});

// Regression: a request body that breaks off (Content-Length larger than
// what the client sent, bad chunked framing, a hang-up mid-upload) made
// wsgi.input throw the runtime's error, which the gateway answered as the
// app's fault: a 500 and a stack trace in the log. It is the client's
// fault: 400, one log line.
function brokenRequest(): Request {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new Uint8Array([97, 98, 99]));
      } else {
        controller.error(new TypeError("connection reset"));
      }
    },
  });
  return new Request("http://localhost/upload", {
    method: "POST",
    body,
    headers: { "content-length": "100" },
    duplex: "half",
  } as RequestInit);
}

Deno.test("exchange: a body that breaks off mid-read is a 400, not a 500", async () => {
  let closed = 0;
  const { handler, logs } = harness(async (environ, startResponse) => {
    await environ["wsgi.input"].read();
    startResponse("200 OK", []);
    return Object.assign([], { close: () => void closed++ });
  });
  const response = await handler(brokenRequest());
  assert.equal(response.status, 400);
  assert.equal(await response.text(), "400 Bad Request\n");
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^tsgi: bad request: Cannot read the request body/);
  assert.doesNotMatch(logs[0], /\n\s+at /, "no stack trace for a client error");
  assert.equal(closed, 0, "the app never returned, so nothing to close");
});

Deno.test("exchange: an app that catches the broken body keeps control", async () => {
  const { handler } = harness(async (environ, startResponse) => {
    let message = "";
    try {
      await environ["wsgi.input"].read();
    } catch (error) {
      message = (error as Error).message;
    }
    startResponse("422 Unprocessable", []);
    return [new TextEncoder().encode(message.slice(0, 30))];
  });
  const response = await handler(brokenRequest());
  assert.equal(response.status, 422);
  assert.equal(await response.text(), "Cannot read the request body: ");
});

// The gateway's fast paths must be invisible: the bytes, headers and status
// the app gave reach the client exactly, whichever path built the Response
// (a text body sent as a string, "200 OK" left to the runtime's reason
// phrase, the header list handed over as a record).
const enc = new TextEncoder();

const BODIES: [string, Uint8Array][] = [
  ["ASCII", enc.encode("Hello world!\n")],
  ["one byte", enc.encode("x")],
  ["UTF-8", enc.encode("Grüße, 世界 🌍\n")],
  ["a BOM first", Uint8Array.of(0xef, 0xbb, 0xbf, 0x68, 0x69)],
  ["invalid UTF-8", Uint8Array.of(0x68, 0xff, 0xfe, 0x80, 0x69)],
  ["an encoded surrogate", Uint8Array.of(0xed, 0xa0, 0x80)],
  ["a NUL", Uint8Array.of(0x61, 0x00, 0x62)],
  ["latin-1", Uint8Array.of(0x63, 0x61, 0x66, 0xe9)],
  ["ASCII past the loop limit", enc.encode("a".repeat(1000) + "\n")],
  ["UTF-8 past the loop limit", enc.encode("ü".repeat(700))],
  ["text past the string limit", enc.encode("b".repeat(70_000))],
];
const TYPES: (string | null)[] = [
  "text/plain; charset=utf-8",
  "application/json",
  "image/png",
  null,
];

function bodyApp(body: Uint8Array, type: string | null): App {
  return (_environ, startResponse) => {
    startResponse("200 OK", type === null ? [] : [["Content-Type", type]]);
    return [body];
  };
}

Deno.test("exchange fast paths: every body reaches the Response byte for byte", async () => {
  for (const [what, body] of BODIES) {
    for (const type of TYPES) {
      const { handler, logs } = harness(bodyApp(body, type));
      const response = await handler("http://x/");
      const label = `${what} as ${type}`;
      assert.deepEqual(
        new Uint8Array(await response.arrayBuffer()),
        body,
        label,
      );
      // A string body must not bring its own text/plain along.
      assert.equal(response.headers.get("content-type"), type, label);
      assert.deepEqual(logs, [], label);
    }
  }
});

/** One raw HTTP/1.1 exchange: the head as text, the body as bytes. */
async function rawGet(
  base: string,
): Promise<{ head: string; body: Uint8Array }> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const chunks: Uint8Array[] = [];
  socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    socket.on("end", resolve);
    socket.on("error", reject);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`,
  );
  await ended;
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  let split = 0;
  while (
    !(all[split] === 13 && all[split + 1] === 10 && all[split + 2] === 13 &&
      all[split + 3] === 10)
  ) split++;
  return {
    head: new TextDecoder("latin1").decode(all.subarray(0, split)),
    body: all.subarray(split + 4),
  };
}

Deno.test("exchange fast paths: on the wire, the body and its Content-Length are the app's", async () => {
  for (const [what, body] of BODIES) {
    for (const type of ["text/plain; charset=utf-8", null]) {
      await withServer(bodyApp(body, type), async (base) => {
        const { head, body: got } = await rawGet(base);
        const label = `${what} as ${type}`;
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/, label);
        assert.match(
          head,
          new RegExp(`\r\ncontent-length: ${body.length}(\r\n|$)`, "i"),
          label,
        );
        const types = head.match(/\r\ncontent-type: [^\r]*/gi) ?? [];
        assert.deepEqual(
          types.map((line) => line.slice(line.indexOf(":") + 2)),
          type === null ? [] : [type],
          label,
        );
        assert.deepEqual(got, body, label);
      });
    }
  }
});

Deno.test("exchange fast paths: 200 OK leaves statusText to the runtime, other reasons are kept", async () => {
  const statuses = ["200 OK", "200 Fine", "201 Created", "404 Not Here"];
  for (const status of statuses) {
    const { handler } = harness((_environ, startResponse) => {
      startResponse(status, [["Content-Type", "text/plain"]]);
      return [enc.encode(status)];
    });
    const response = await handler("http://x/");
    assert.equal(
      `${response.status} ${response.statusText || "OK"}`,
      status,
    );
    assert.equal(response.statusText === "", status === "200 OK");
  }
});

Deno.test("exchange fast paths: headers passed as a record say what the list said", async () => {
  const lists: Header[][] = [
    [["Content-Type", "text/plain"], ["X-A", "1"]],
    [["Content-Type", "text/plain"], ["X-A", "2"]],
    [["Content-Type", "text/plain"]],
    [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]],
    [["x-a", "1"], ["Content-Type", "text/plain"]],
    [["X-A", "1"], ["x-a", "2"], ["Content-Type", "text/plain"]],
    [["Content-Type", "text/plain"], ["9-Lives", "yes"], ["1", "one"]],
    [["__proto__", "p"], ["constructor", "c"], ["toString", "t"]],
  ];
  let pick = 0;
  const { handler } = harness((_environ, startResponse) => {
    // A fresh copy each time, as an app's literal would be.
    startResponse("200 OK", lists[pick].map(([n, v]) => [n, v]));
    return [enc.encode("ok")];
  });
  // Repeated names, array-index names and prototype names keep the list;
  // each list three times in a row, then all of them interleaved, twice.
  const order = [...lists.keys()].flatMap((i) => [i, i, i]);
  order.push(...lists.keys());
  for (const i of [...order, ...order]) {
    pick = i;
    const response = await handler("http://x/");
    assert.deepEqual(
      [...response.headers],
      [...new Headers(lists[i])],
      `list ${i}`,
    );
    assert.deepEqual(
      response.headers.getSetCookie(),
      i === 3 ? ["a=1", "b=2"] : [],
    );
    // What a middleware does to one Response must not reach the next.
    response.headers.set("x-a", "changed");
    response.headers.append("x-extra", "1");
    await response.body?.cancel();
  }
});

Deno.test("commit: a sync app's first non-empty write() commits, so an error after it breaks the body off", async () => {
  const { handler, logs } = harness((_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    write(b("partial;"));
    throw new Error("after the write");
  });
  const response = await handler("http://x/");
  // wsgiref sends 200 and the written bytes, then logs the error.
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  assert.equal(dec.decode((await reader.read()).value!), "partial;");
  await assert.rejects(reader.read(), /after the write/);
  assert.match(logs.join(""), /the application raised.*after the write/s);
});

Deno.test("commit: excInfo after a sync app's write() re-raises, and no error page follows the bytes", async () => {
  let reraised: unknown;
  const { handler, logs } = harness((_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    write(b("partial;"));
    const failure = new Error("the app's own error");
    try {
      startResponse("500 Oops", [["Content-Type", "text/plain"]], failure);
    } catch (error) {
      reraised = error;
      throw error;
    }
    return [b("unreachable")];
  });
  const response = await handler("http://x/");
  assert.equal((reraised as Error).message, "the app's own error");
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  assert.equal(dec.decode((await reader.read()).value!), "partial;");
  await assert.rejects(reader.read(), /the app's own error/);
  assert.match(logs.join(""), /the app's own error/);
});

Deno.test("commit: a sync app that writes and returns normally still sends its length", async () => {
  const { handler } = harness((_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    write(b("a"));
    write(b("b"));
    return [b("c")];
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "abc");
  assert.equal(
    (response as unknown as Record<symbol, number>)[
      Symbol.for("tsgi.knownLength")
    ],
    3,
  );
});
