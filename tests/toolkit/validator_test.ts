// validator(): every rule has a test that breaks it, and well-behaved apps
// pass through the real gateway unchanged.
import assert from "node:assert/strict";
import {
  type App,
  type AppIterable,
  type Environ,
  type Header,
  type InputStream,
  LogErrorStream,
  ReadableInputStream,
  type StartResponse,
  toFetchHandler,
  wrapFile,
} from "../../mod.ts";
import { validator } from "../../src/toolkit/validator.ts";
import { b, dec, harness } from "../_util/helpers.ts";
import { endless, readOneAndAbort, withServer } from "../_util/serve.ts";

/** assert.throws matcher: the message starts with the rule ID. */
function rule(id: string, name = "Error"): { name: string; message: RegExp } {
  return { name, message: new RegExp(`^${id}: `) };
}

/** A complete, valid environ built by hand (no gateway involved). */
function makeEnviron(
  overrides: Record<string, unknown> = {},
  body: Uint8Array = new Uint8Array(0),
): { environ: Environ; logs: string[] } {
  const logs: string[] = [];
  const environ = {
    REQUEST_METHOD: "GET",
    SCRIPT_NAME: "",
    PATH_INFO: "/",
    QUERY_STRING: "",
    SERVER_NAME: "localhost",
    SERVER_PORT: "80",
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_URI: "/",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_SOFTWARE: "test",
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": "http",
    "wsgi.input": new ReadableInputStream(body),
    "wsgi.errors": new LogErrorStream((text) => logs.push(text)),
    "wsgi.multithread": true,
    "wsgi.multiprocess": false,
    "wsgi.run_once": false,
    "wsgi.input_terminated": true,
    ...overrides,
  } as unknown as Environ;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete (environ as Record<string, unknown>)[key];
  }
  return { environ, logs };
}

/** A start_response that records its calls, as a minimal server would. */
function recorder(): {
  startResponse: StartResponse;
  calls: unknown[][];
  written: Uint8Array[];
} {
  const calls: unknown[][] = [];
  const written: Uint8Array[] = [];
  const startResponse = (...args: unknown[]) => {
    calls.push(args);
    return (chunk: Uint8Array) => {
      written.push(chunk);
      return Promise.resolve();
    };
  };
  return { startResponse: startResponse as StartResponse, calls, written };
}

const ok: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [b("ok")];
};

/** Calls `app` under the validator with a hand-made environ. */
function call(
  app: App,
  overrides: Record<string, unknown> = {},
  body?: Uint8Array,
) {
  const { environ, logs } = makeEnviron(overrides, body);
  const rec = recorder();
  const checked = validator(app);
  const result = checked(environ, rec.startResponse);
  return { result, logs, checked, ...rec };
}

/** Drains a sync or async result as a server would, then closes it. */
async function drain(result: AppIterable | Promise<AppIterable>) {
  const r = await result;
  const chunks: Uint8Array[] = [];
  try {
    if (Symbol.asyncIterator in r) {
      for await (const chunk of r as AsyncIterable<Uint8Array>) {
        chunks.push(chunk);
      }
    } else {
      for (const chunk of r as Iterable<Uint8Array>) chunks.push(chunk);
    }
  } finally {
    await r.close?.();
  }
  return chunks;
}

// ---------------------------------------------------------------- environ

Deno.test("validator: a valid hand-made environ passes", async () => {
  const { result, logs, checked, calls } = call(ok);
  assert.deepEqual((await drain(result)).map((c) => dec.decode(c)), ["ok"]);
  assert.equal(calls.length, 1);
  assert.deepEqual(logs, []);
  checked.assertClosed();
});

Deno.test("validator: S3 environ must be a plain object", () => {
  const checked = validator(ok);
  const rec = recorder();
  assert.throws(
    () => checked(null as unknown as Environ, rec.startResponse),
    rule("S3", "TypeError"),
  );
  const { environ } = makeEnviron();
  class Env {}
  const instance = Object.assign(new Env(), environ) as unknown as Environ;
  assert.throws(
    () => checked(instance, rec.startResponse),
    rule("S3", "TypeError"),
  );
});

Deno.test("validator: every required key is checked with its rule", () => {
  const required: [string, string][] = [
    ["REQUEST_METHOD", "S4"],
    ["SERVER_NAME", "S10"],
    ["SERVER_PORT", "S10"],
    ["SERVER_PROTOCOL", "S11"],
    ["wsgi.version", "S19"],
    ["wsgi.url_scheme", "S20"],
    ["wsgi.input", "S21"],
    ["wsgi.errors", "S22"],
    ["wsgi.multithread", "S23"],
    ["wsgi.multiprocess", "S24"],
    ["wsgi.run_once", "S25"],
  ];
  for (const [key, id] of required) {
    assert.throws(() => call(ok, { [key]: undefined }), rule(id), key);
  }
});

Deno.test("validator: S16 CGI values must be strings, SERVER_PORT too", () => {
  assert.throws(() => call(ok, { SERVER_PORT: 80 }), rule("S16", "TypeError"));
  assert.throws(
    () => call(ok, { HTTP_X_COUNT: 3 }),
    rule("S16", "TypeError"),
  );
  assert.throws(() => call(ok, { SERVER_PORT: "http" }), rule("S10"));
  assert.throws(() => call(ok, { SERVER_NAME: "" }), rule("S10"));
  // Extension keys (with a dot) may hold anything.
  call(ok, { "myserver.count": 3 });
});

Deno.test("validator: S82 native strings hold only U+0000-U+00FF", () => {
  assert.throws(
    () => call(ok, { PATH_INFO: "/caf\u00e9\u0100" }),
    rule("S82", "TypeError"),
  );
  assert.throws(
    () => call(ok, { HTTP_X_EMOJI: "\u{1f600}" }),
    rule("S82", "TypeError"),
  );
  call(ok, { PATH_INFO: "/caf\u00c3\u00a9" }); // UTF-8 bytes as latin-1: fine
});

Deno.test("validator: S4 REQUEST_METHOD is a token; V10 warns on odd ones", () => {
  assert.throws(() => call(ok, { REQUEST_METHOD: "" }), rule("S4"));
  assert.throws(() => call(ok, { REQUEST_METHOD: "G T" }), rule("S4"));
  const { logs } = call(ok, { REQUEST_METHOD: "PROPFIND" });
  assert.match(logs.join(""), /V10: unusual REQUEST_METHOD "PROPFIND"/);
});

Deno.test("validator: S7 warns when QUERY_STRING is absent", () => {
  const { logs } = call(ok, { QUERY_STRING: undefined });
  assert.match(logs.join(""), /S7: environ has no QUERY_STRING/);
  assert.deepEqual(call(ok).logs, []);
});

Deno.test("validator: S9 no HTTP_CONTENT_*; CONTENT_LENGTH is digits", () => {
  assert.throws(
    () => call(ok, { HTTP_CONTENT_TYPE: "text/plain" }),
    rule("S9"),
  );
  assert.throws(() => call(ok, { HTTP_CONTENT_LENGTH: "3" }), rule("S9"));
  assert.throws(() => call(ok, { CONTENT_LENGTH: "-1" }), rule("S9"));
  assert.throws(() => call(ok, { CONTENT_LENGTH: "3x" }), rule("S9"));
  call(ok, { CONTENT_LENGTH: "" });
  call(ok, { CONTENT_LENGTH: "0" });
});

Deno.test("validator: S85/S6 SCRIPT_NAME and PATH_INFO shapes", () => {
  assert.throws(() => call(ok, { SCRIPT_NAME: "/" }), rule("S85"));
  assert.throws(() => call(ok, { SCRIPT_NAME: "app" }), rule("S85"));
  assert.throws(() => call(ok, { PATH_INFO: "x" }), rule("S85"));
  assert.throws(
    () => call(ok, { SCRIPT_NAME: undefined, PATH_INFO: undefined }),
    rule("S6"),
  );
  call(ok, { SCRIPT_NAME: "/app", PATH_INFO: "" });
  call(ok, { SCRIPT_NAME: undefined, PATH_INFO: "/" });
});

Deno.test("validator: S19 wsgi.version [1, 0]; S20 url_scheme", () => {
  assert.throws(
    () => call(ok, { "wsgi.version": [1, 1] }),
    rule("S19", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.version": [2, 0] }),
    rule("S19", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.version": [1, 0, 0] }),
    rule("S19", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.version": "1.0" }),
    rule("S19", "TypeError"),
  );
  assert.throws(() => call(ok, { "wsgi.url_scheme": "ftp" }), rule("S20"));
  call(ok, { "wsgi.url_scheme": "https", SERVER_PORT: "443" });
});

Deno.test("validator: S23 flags are booleans; S27/S36/S73 stream shapes", () => {
  assert.throws(
    () => call(ok, { "wsgi.multithread": 1 }),
    rule("S23", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.input": { read() {}, readline() {} } }),
    rule("S27", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.errors": { write() {}, writelines() {} } }),
    rule("S36", "TypeError"),
  );
  assert.throws(
    () => call(ok, { "wsgi.file_wrapper": "yes" }),
    rule("S73", "TypeError"),
  );
});

Deno.test("validator: S1 two arguments; S41 start_response is a function", () => {
  const checked = validator(ok);
  const { environ } = makeEnviron();
  const rec = recorder();
  const three = checked as unknown as (...args: unknown[]) => unknown;
  assert.throws(
    () => three(environ, rec.startResponse, {}),
    rule("S1", "TypeError"),
  );
  assert.throws(
    () => three(environ, "start_response"),
    rule("S41", "TypeError"),
  );
});

// ------------------------------------------------------------ wsgi.input

/** An input stream that misbehaves in one chosen way. */
function badInput(kind: "string" | "long" | "overflow"): InputStream {
  const good = new ReadableInputStream(b("abcdef"));
  return {
    read(size) {
      if (kind === "string") {
        return Promise.resolve("abc" as unknown as Uint8Array);
      }
      if (kind === "long") return Promise.resolve(b("abc"));
      return good.read(size);
    },
    readline: (size) => good.readline(size),
    readlines: (hint) => good.readlines(hint),
    [Symbol.asyncIterator]: () => good[Symbol.asyncIterator](),
  };
}

function reader(read: (input: InputStream) => Promise<unknown>): App {
  return async (environ, startResponse) => {
    await read(environ["wsgi.input"]);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  };
}

Deno.test("validator: S27 the server's input returns Uint8Arrays no longer than asked", async () => {
  await assert.rejects(
    call(reader((i) => i.read(10)), { "wsgi.input": badInput("string") })
      .result as Promise<AppIterable>,
    rule("S27", "TypeError"),
  );
  await assert.rejects(
    call(reader((i) => i.read(2)), { "wsgi.input": badInput("long") })
      .result as Promise<AppIterable>,
    rule("S27"),
  );
});

Deno.test("validator: S28 the server's input stops at CONTENT_LENGTH", async () => {
  await assert.rejects(
    call(reader((i) => i.read()), {
      "wsgi.input": badInput("overflow"),
      CONTENT_LENGTH: "3",
    }).result as Promise<AppIterable>,
    rule("S28"),
  );
  // Exactly CONTENT_LENGTH bytes is fine.
  await drain(
    call(reader((i) => i.read()), { CONTENT_LENGTH: "6" }, b("abcdef"))
      .result,
  );
});

Deno.test("validator: S35 no read past CONTENT_LENGTH without input_terminated", async () => {
  const loop = reader(async (input) => {
    while ((await input.read(4)).length > 0) { /* read to the end */ }
  });
  await assert.rejects(
    call(
      loop,
      { CONTENT_LENGTH: "6", "wsgi.input_terminated": undefined },
      b("abcdef"),
    ).result as Promise<AppIterable>,
    rule("S35"),
  );
  // With wsgi.input_terminated, reading until an empty chunk is the norm.
  await drain(
    call(loop, { CONTENT_LENGTH: "6" }, b("abcdef")).result,
  );
  // Reading exactly CONTENT_LENGTH bytes is fine without it.
  await drain(
    call(
      reader((input) => input.read(6)),
      { CONTENT_LENGTH: "6", "wsgi.input_terminated": undefined },
      b("abcdef"),
    ).result,
  );
});

Deno.test("validator: S35 the app must not close wsgi.input; A11 nor wsgi.errors", () => {
  assert.throws(
    () =>
      call((environ) => {
        (environ["wsgi.input"] as unknown as { close(): void }).close();
        return [];
      }),
    rule("S35"),
  );
  assert.throws(
    () =>
      call((environ) => {
        (environ["wsgi.errors"] as unknown as { close(): void }).close();
        return [];
      }),
    rule("A11"),
  );
});

Deno.test("validator: S36 wsgi.errors takes strings only", () => {
  assert.throws(
    () =>
      call((environ) => {
        environ["wsgi.errors"].write(b("bytes") as unknown as string);
        return [];
      }),
    rule("S36", "TypeError"),
  );
  const { logs } = call((environ, startResponse) => {
    environ["wsgi.errors"].writelines(["a\n", "b\n"]);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  });
  assert.deepEqual(logs, ["a\n", "b\n"]);
});

Deno.test("validator: input reads and for-await pass through unchanged", async () => {
  const seen: string[] = [];
  const app: App = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    seen.push(dec.decode(await input.readline()));
    seen.push(dec.decode(await input.read(2)));
    for await (const line of input) seen.push(dec.decode(line));
    seen.push(String((await input.readlines()).length));
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  };
  await drain(call(app, { CONTENT_LENGTH: "9" }, b("ab\ncdef\ng")).result);
  assert.deepEqual(seen, ["ab\n", "cd", "ef\n", "g", "0"]);
});

// -------------------------------------------------------- start_response

function starts(status: unknown, headers: unknown, ...rest: unknown[]): App {
  return (_environ, startResponse) => {
    (startResponse as (...args: unknown[]) => unknown)(
      status,
      headers,
      ...rest,
    );
    return [];
  };
}

Deno.test("validator: S42 status line", () => {
  assert.throws(() => call(starts("200OK", [])), rule("S42", "TypeError"));
  assert.throws(() => call(starts(200, [])), rule("S42", "TypeError"));
  assert.throws(() => call(starts("200 OK\r\n", [])), rule("S42", "TypeError"));
  assert.throws(() => call(starts(" 200 OK", [])), rule("S42", "TypeError"));
  assert.throws(() => call(starts("200 \u0100", [])), rule("S42", "TypeError"));
  assert.throws(
    () => call(starts("100 Continue", [])),
    rule("S42", "RangeError"),
  );
  call(starts("200 OK", [["Content-Type", "text/plain"]]));
  call(starts("404 Not Found", [["Content-Type", "text/plain"]]));
});

Deno.test("validator: S43 header list shape, names and values", () => {
  const bad: unknown[] = [
    "Content-Type: text/plain",
    { "Content-Type": "text/plain" },
    [["Content-Type"]],
    [["Content-Type", "text/plain", "x"]],
    [["Bad Name", "x"]],
    [["X-Colon:", "x"]],
    [["X-Inject", "a\r\nSet-Cookie: b"]],
    [["X-Nul", "a\0"]],
    [["X-Del", "a\x7f"]],
    [["X-Wide", "\u0100"]],
    [["X-Num", 3]],
    [["Content-Length", "ten"]],
    [["Status", "200 OK"]],
  ];
  for (const headers of bad) {
    assert.throws(
      () => call(starts("200 OK", headers)),
      rule("S43", "TypeError"),
    );
  }
  call(
    starts("200 OK", [
      ["Content-Type", "text/plain"],
      ["X-Tab", "a\tb"],
      ["X-Latin", "caf\u00e9"],
    ]),
  );
});

Deno.test("validator: S47 hop-by-hop headers are refused", () => {
  for (
    const name of [
      "Connection",
      "keep-alive",
      "Transfer-Encoding",
      "Upgrade",
      "TE",
      "Trailer",
    ]
  ) {
    assert.throws(
      () => call(starts("200 OK", [[name, "x"]])),
      rule("S47", "TypeError"),
      name,
    );
  }
});

Deno.test("validator: S41 start_response takes 2 or 3 arguments", () => {
  const one: App = (_e, startResponse) => {
    (startResponse as (...a: unknown[]) => unknown)("200 OK");
    return [];
  };
  assert.throws(() => call(one), rule("S41", "TypeError"));
  assert.throws(
    () => call(starts("200 OK", [], undefined, "extra")),
    rule("S41", "TypeError"),
  );
});

Deno.test("validator: S51 a second start_response needs exc_info", () => {
  const twice: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    startResponse("500 Oops", [["Content-Type", "text/plain"]]);
    return [];
  };
  assert.throws(() => call(twice), rule("S51"));
  // Even when the first call was refused.
  const retry: App = (_e, startResponse) => {
    try {
      startResponse("200OK", [["Content-Type", "text/plain"]]);
    } catch { /* the app tries again, wrongly without exc_info */ }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  };
  assert.throws(() => call(retry), rule("S51"));
  // With exc_info the app may change its mind.
  const changed: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    startResponse(
      "500 Oops",
      [["Content-Type", "text/plain"]],
      new Error("boom"),
    );
    return [];
  };
  const { calls } = call(changed);
  assert.equal(calls.length, 2);
  assert.equal(calls[1][0], "500 Oops");
});

// ----------------------------------------------------------------- write

Deno.test("validator: S53 write() takes one Uint8Array", () => {
  const str: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]])(
      "text" as unknown as Uint8Array,
    );
    return [];
  };
  assert.throws(() => call(str), rule("S53", "TypeError"));
  const two: App = (_e, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]) as (
      ...a: unknown[]
    ) => unknown;
    write(b("a"), b("b"));
    return [];
  };
  assert.throws(() => call(two), rule("S53", "TypeError"));
});

Deno.test("validator: A10 no write() after the app returned; S55 after the end", async () => {
  let write: ((chunk: Uint8Array) => Promise<void>) | undefined;
  const inside: App = (_e, startResponse) => {
    write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      write!(b("from inside"));
      yield b("x");
    })();
  };
  const { result } = call(inside);
  assert.throws(() => [...(result as Iterable<Uint8Array>)], rule("A10"));
  await (result as AppIterable).close?.();
  assert.throws(() => write!(b("late")), rule("S55"));
});

Deno.test("validator: S57 write() past Content-Length", () => {
  const app: App = (_e, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"], [
      "Content-Length",
      "3",
    ]]);
    write(b("ab"));
    write(b("cd"));
    return [];
  };
  assert.throws(() => call(app), rule("S57"));
});

Deno.test("validator: write() chunks reach the server's write", async () => {
  const app: App = (_e, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"], [
      "Content-Length",
      "4",
    ]]);
    write(b("ab"));
    write(b("cd"));
    return [];
  };
  const { result, written } = call(app);
  await drain(result);
  assert.deepEqual(written.map((c) => dec.decode(c)), ["ab", "cd"]);
});

// ---------------------------------------------------------------- result

Deno.test("validator: A3 the result is an iterable, not bytes", () => {
  for (const value of [null, undefined, 3, "text", b("bytes"), {}]) {
    assert.throws(
      () =>
        call((_e, startResponse) => {
          startResponse("200 OK", [["Content-Type", "text/plain"]]);
          return value as unknown as AppIterable;
        }),
      rule("A3", "TypeError"),
      String(value),
    );
  }
});

Deno.test("validator: S65 chunks are Uint8Array (sync, async and array)", async () => {
  const gen: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield "text" as unknown as Uint8Array;
    })();
  };
  assert.throws(
    () => [...(call(gen).result as Iterable<Uint8Array>)],
    rule("S65", "TypeError"),
  );
  const agen: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield [1, 2] as unknown as Uint8Array;
    })();
  };
  await assert.rejects(drain(call(agen).result), rule("S65", "TypeError"));
  const arr: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new ArrayBuffer(2) as unknown as Uint8Array];
  };
  assert.throws(() => call(arr), rule("S65", "TypeError"));
});

Deno.test("validator: A2 no body before start_response; lazy start is fine", async () => {
  const early: App = () =>
    (function* () {
      yield b("x");
    })();
  assert.throws(
    () => [...(call(early).result as Iterable<Uint8Array>)],
    { message: /^A2: the result produced body bytes before startResponse\(\)/ },
  );
  const never: App = () => [];
  assert.throws(() => call(never), {
    message: /^A2: the result ended and startResponse\(\) was never called/,
  });
  const lazy: App = (_e, startResponse) =>
    (function* () {
      yield new Uint8Array(0);
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield b("late start");
    })();
  assert.equal((await drain(call(lazy).result)).length, 2);
});

Deno.test("validator: S66/S67 Content-Length against the bytes produced", async () => {
  const apps = (body: string[], length: number) => {
    const headers: Header[] = [
      ["Content-Type", "text/plain"],
      ["Content-Length", String(length)],
    ];
    return {
      array: ((_e, sr) => {
        sr("200 OK", headers);
        return body.map(b);
      }) as App,
      gen: ((_e, sr) => {
        sr("200 OK", headers);
        return body.map(b)[Symbol.iterator]();
      }) as App,
      async: ((_e, sr) => {
        sr("200 OK", headers);
        return (async function* () {
          yield* body.map(b);
        })();
      }) as App,
    };
  };
  const long = apps(["abc", "def"], 4);
  assert.throws(() => call(long.array), rule("S66"));
  assert.throws(
    () => [...(call(long.gen).result as Iterable<Uint8Array>)],
    rule("S66"),
  );
  await assert.rejects(drain(call(long.async).result), rule("S66"));
  const short = apps(["abc"], 4);
  assert.throws(() => call(short.array), rule("S67"));
  assert.throws(
    () => [...(call(short.gen).result as Iterable<Uint8Array>)],
    rule("S67"),
  );
  await assert.rejects(drain(call(short.async).result), rule("S67"));
  const exact = apps(["ab", "cd"], 4);
  await drain(call(exact.array).result);
  await drain(call(exact.gen).result);
  await drain(call(exact.async).result);
});

Deno.test("validator: E25 no body for 204/304; HEAD body only warns (E6)", async () => {
  const body = (status: string, headers: Header[] = []): App => (_e, sr) => {
    sr(status, headers);
    return [b("body")];
  };
  assert.throws(() => call(body("204 No Content")), rule("E25"));
  assert.throws(() => call(body("304 Not Modified")), rule("E25"));
  const { logs, result } = call(
    body("200 OK", [["Content-Type", "text/plain"]]),
    { REQUEST_METHOD: "HEAD" },
  );
  await drain(result);
  assert.match(logs.join(""), /E6: the application produced a body for HEAD/);
  // HEAD and 304 may declare a Content-Length without sending it.
  const declared = (status: string): App => (_e, sr) => {
    sr(status, [
      ...(status.startsWith("304") ? [] : [["Content-Type", "text/plain"]]),
      ["Content-Length", "100"],
    ] as Header[]);
    return [];
  };
  await drain(call(declared("200 OK"), { REQUEST_METHOD: "HEAD" }).result);
  await drain(call(declared("304 Not Modified")).result);
});

Deno.test("validator: V27 no iteration after close (sync, async, array)", async () => {
  const gen: App = (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield b("a");
      yield b("b");
    })();
  };
  const sync = call(gen).result as Iterable<Uint8Array> & AppIterable;
  const it = sync[Symbol.iterator]();
  it.next();
  await sync.close?.();
  assert.throws(() => it.next(), rule("V27"));
  assert.throws(() => sync[Symbol.iterator](), rule("V27"));

  const agen: App = (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield b("a");
    })();
  };
  const asyncResult = call(agen).result as
    & AsyncIterable<Uint8Array>
    & AppIterable;
  const ait = asyncResult[Symbol.asyncIterator]();
  await asyncResult.close?.();
  await assert.rejects(ait.next(), rule("V27"));

  const array = call(ok).result as Uint8Array[] & AppIterable;
  assert.equal(array.length, 1);
  await array.close?.();
  assert.throws(() => array[0], rule("V27"));
});

Deno.test("validator: S62 close() once, forwarded to the app's close", async () => {
  let closes = 0;
  const app: App = (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return Object.assign([b("x")], { close: () => void closes++ });
  };
  const { result, checked } = call(app);
  assert.equal(checked.openResults, 1);
  await (result as AppIterable).close?.();
  assert.equal(closes, 1);
  assert.equal(checked.openResults, 0);
  assert.throws(() => (result as AppIterable).close?.(), rule("S62"));
  assert.equal(closes, 1);
});

Deno.test("validator: S62 assertClosed() names results the server never closed", async () => {
  const checked = validator(ok);
  const { environ } = makeEnviron({ PATH_INFO: "/leak" });
  const result = checked(environ, recorder().startResponse) as AppIterable;
  assert.throws(() => checked.assertClosed(), rule("S62"));
  assert.throws(() => checked.assertClosed(), /GET \/leak/);
  let settled = false;
  const all = checked.allClosed().then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false);
  await result.close?.();
  await all;
  assert.equal(settled, true);
  checked.assertClosed();
});

Deno.test("validator: S62 an unclosed result is reported when garbage-collected", async () => {
  // FinalizationRegistry needs a real collection: run in a child with gc().
  const script = `
    import { validator } from ${
    JSON.stringify(
      new URL("../../src/toolkit/validator.ts", import.meta.url).href,
    )
  };
    import { ReadableInputStream } from ${
    JSON.stringify(
      new URL("../../src/gateway/input_stream.ts", import.meta.url).href,
    )
  };
    const logs = [];
    const errors = { write: (t) => { logs.push(t); if (t.includes("S62")) { console.log(t.trim()); Deno.exit(0); } }, writelines() {}, flush() {} };
    const app = validator((_e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return [new Uint8Array(1)]; });
    (() => {
      app({ REQUEST_METHOD: "GET", SCRIPT_NAME: "", PATH_INFO: "/gc", QUERY_STRING: "",
        SERVER_NAME: "x", SERVER_PORT: "80", SERVER_PROTOCOL: "HTTP/1.1",
        "wsgi.version": [1, 0], "wsgi.url_scheme": "http", "wsgi.input": new ReadableInputStream(new Uint8Array(0)),
        "wsgi.errors": errors, "wsgi.multithread": false, "wsgi.multiprocess": false, "wsgi.run_once": false },
        () => () => Promise.resolve());
    })();
    // Finalizers run in a later task after a full collection.
    for (let i = 0; i < 200; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 0)); }
    console.log("no report"); Deno.exit(1);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(b(script));
  await writer.close();
  const out = await child.output();
  const text = dec.decode(out.stdout);
  assert.equal(out.code, 0, text + dec.decode(out.stderr));
  assert.match(text, /S62: the result was garbage-collected.*GET \/gc/);
});

// ------------------------------------------------- through the real gateway

async function snapshot(response: Response) {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body: dec.decode(await response.arrayBuffer()),
  };
}

const wellBehaved: Record<string, App> = {
  array: ok,
  generator: (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "6"]]);
    return (function* () {
      yield b("abc");
      yield new Uint8Array(0);
      yield b("def");
    })();
  },
  async: async (_e, sr) => {
    await Promise.resolve();
    sr("201 Created", [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"], [
      "Set-Cookie",
      "b=2",
    ]]);
    return (async function* () {
      yield b("async ");
      yield b("body");
    })();
  },
  write: async (_e, sr) => {
    const write = sr("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("written "));
    return [b("then returned")];
  },
  echo: async (environ, sr) => {
    const body = await environ["wsgi.input"].read();
    sr("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [body];
  },
  blob: (environ, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "4"]]);
    return environ["wsgi.file_wrapper"]!(new Blob(["blob"]));
  },
  stream: (environ, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return environ["wsgi.file_wrapper"]!(new Blob(["stream"]).stream());
  },
  fileLike: (environ, sr) => {
    const data = b("file-like");
    let at = 0;
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return environ["wsgi.file_wrapper"]!({
      read: (n) => data.subarray(at, at += n),
    }, 4);
  },
  notModified: (_e, sr) => {
    sr("304 Not Modified", [["ETag", '"x"']]);
    return [];
  },
  lazy: (_e, sr) =>
    (function* () {
      sr("200 OK", [["Content-Type", "text/plain"]]);
      yield b("lazy");
    })(),
};

for (const [name, app] of Object.entries(wellBehaved)) {
  for (const method of ["GET", "HEAD", "POST"]) {
    Deno.test(`validator: well-behaved ${name} app, ${method}, answers as without it`, async () => {
      const request = () =>
        new Request("http://localhost/x?y=1", {
          method,
          body: method === "POST" ? "posted" : undefined,
        });
      const plain = harness(app);
      const checked = validator(app);
      const wrapped = harness(checked);
      const expected = await snapshot(await plain.handler(request()));
      const actual = await snapshot(await wrapped.handler(request()));
      assert.deepEqual(actual, expected);
      await checked.allClosed();
      checked.assertClosed();
      // The only addition allowed: HEAD bodies are reported as a warning.
      const extra = wrapped.logs.filter((line) => !plain.logs.includes(line));
      for (const line of extra) {
        assert.equal(method, "HEAD", line);
        assert.match(line, /^tsgi validator: E6: /);
      }
      assert.equal(wrapped.logs.length - extra.length, plain.logs.length);
    });
  }
}

Deno.test("validator: a gateway 500 names the broken rule", async () => {
  const { handler, logs } = harness(
    validator(starts("200 OK", [["Connection", "close"]])),
  );
  const response = await handler("/");
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.match(logs.join(""), /S47: header "Connection" is hop-by-hop/);
});

Deno.test("validator: a gateway stream error names S67 for a short body", async () => {
  const checked = validator((_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "10"]]);
    return (function* () {
      yield b("short");
    })();
  });
  const { handler, logs } = harness(checked);
  const response = await handler("/");
  await assert.rejects(response.text());
  await checked.allClosed();
  assert.match(
    logs.join(""),
    /S67: the body has 5 bytes but Content-Length is 10/,
  );
});

Deno.test("validator: the gateway's environ passes the server-side checks", async () => {
  const checked = validator(ok);
  const { handler, logs } = harness(checked, { scriptName: "/app" });
  for (const path of ["/app", "/app/", "/app/caf%C3%A9?q=%FF"]) {
    const response = await handler(
      new Request(`http://localhost${path}`, {
        headers: { "X-Test": "caf\u00e9", "Content-Type": "text/plain" },
      }),
    );
    assert.equal(response.status, 200, path);
    await response.text();
  }
  assert.deepEqual(logs, []);
  checked.assertClosed();
});

Deno.test("validator: a client abort through Deno.serve still closes the result", async () => {
  const { app, closed } = endless();
  const checked = validator(app);
  await withServer(checked, async (base) => {
    assert.match(await readOneAndAbort(`${base}/`), /^chunk 0/);
    await closed;
    await checked.allClosed();
  });
  checked.assertClosed();
});

Deno.test("validator: refuses a non-function app", () => {
  assert.throws(
    () => validator("app" as unknown as App),
    { name: "TypeError", message: /Cannot validate "app"/ },
  );
});

Deno.test("validator: wrapFile results keep the fast path type", () => {
  const { result } = call((_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "2"]]);
    return wrapFile(new Blob(["hi"]));
  });
  assert.equal((result as { source?: unknown }).source instanceof Blob, true);
  assert.throws(
    () =>
      call((_e, sr) => {
        sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "3"]]);
        return wrapFile(new Blob(["hi"]));
      }),
    rule("S67"),
  );
});

// Regression: when validator() rejected what an app returned (a body before
// start_response, A2; a non-iterable, A3), it threw without closing the
// result. The gateway never received the result, so nobody called its
// close(): a leak of whatever it held (S62). Found by
// tests/e2e/hostile_apps_test.ts.
function closable<T extends object>(value: T, counter: { n: number }): T {
  return Object.assign(value, { close: () => void counter.n++ });
}

const cases: [string, (counter: { n: number }) => App][] = [
  [
    "a body before start_response (A2)",
    (c) => () => closable([new Uint8Array([1])], c),
  ],
  ["the same from an async app", (c) => async () => {
    await null;
    return closable([new Uint8Array([1])], c);
  }],
  [
    "a result that is not iterable (A3)",
    (c) => () => closable({}, c) as unknown as ReturnType<App>,
  ],
];

for (const [name, make] of cases) {
  Deno.test(`validator: closes a result it rejects: ${name}`, async () => {
    const counter = { n: 0 };
    const logs: string[] = [];
    const app = validator(make(counter));
    const handler = toFetchHandler(app, { errors: (t) => logs.push(t) });
    const response = await handler(new Request("http://localhost/"));
    assert.equal(response.status, 500);
    await response.body?.cancel();
    assert.match(logs.join(""), /\bA[23]: /);
    assert.equal(counter.n, 1);
  });
}

Deno.test("validator: V18 a response names its Content-Type, but a 204 or 304", async () => {
  assert.throws(
    () => call(starts("200 OK", [["Content-Length", "0"]])),
    rule("V18", "TypeError"),
  );
  assert.throws(
    () => call(starts("404 Not Found", [])),
    rule("V18", "TypeError"),
  );
  call(starts("200 OK", [["content-type", "text/plain"]]));
  await drain(call(starts("204 No Content", [])).result);
  await drain(call(starts("304 Not Modified", [])).result);
  // wsgiref refuses a type on 204/304; HTTP allows it, so it only warns.
  const { logs, result } = call(
    starts("304 Not Modified", [["Content-Type", "text/html"]]),
  );
  await drain(result);
  assert.match(logs.join(""), /V18: a 304 response carries no content/);
});
