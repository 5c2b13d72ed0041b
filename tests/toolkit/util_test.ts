// util.ts (wsgiref.util) and wsgi.file_wrapper.
import assert from "node:assert/strict";
import {
  applicationUri,
  FileWrapper,
  guessScheme,
  isHopByHop,
  pathInfoUtf8,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
  toNative,
  validator,
  wrapFile,
} from "../../mod.ts";
import type { App, Environ, FileLike } from "../../mod.ts";
import { b, dec, harness } from "../_util/helpers.ts";
import { readOneAndAbort, withServer } from "../_util/serve.ts";

// Expected values produced by CPython 3.11 wsgiref.util on the same input.
const SHIFTS: [string, string, string | null, string, string][] = [
  ["", "/", "", "/", ""],
  ["", "/x", "x", "/x", ""],
  ["/", "", null, "/", ""],
  ["/a", "/x/y", "x", "/a/x", "/y"],
  ["/a", "/x/", "x", "/a/x", "/"],
  ["/a/b", "/x", "x", "/a/b/x", ""],
  ["/a/b", "/", "", "/a/b/", ""],
  ["/a/b", "/./x/", "x", "/a/b/x", "/"],
  ["/a/b", "/../x/", "..", "/a", "/x/"],
  ["/a", "/../b", "..", "", "/b"],
  ["/a", "/.", null, "/a", ""],
  ["/a", "/./", "", "/a/", ""],
  ["/a/b", "//x", "x", "/a/b/x", ""],
  ["/a/b", "///x", "x", "/a/b/x", ""],
  ["/a/b", "/x//y", "x", "/a/b/x", "/y"],
  ["", "/.", null, "", ""],
  ["", "//", "", "/", ""],
  ["/a", "/x/../y", "x", "/a/x", "/../y"],
  ["", "/..", "..", "", ""],
  ["/a/b", "/..", "..", "/a", ""],
  ["", "/caf\u00c3\u00a9/z", "caf\u00c3\u00a9", "/caf\u00c3\u00a9", "/z"],
  ["/a", "", null, "/a", ""],
];

Deno.test("util: shiftPathInfo matches wsgiref.util.shift_path_info", () => {
  for (const [sn, pi, part, snOut, piOut] of SHIFTS) {
    const environ = setupTestingDefaults({ SCRIPT_NAME: sn, PATH_INFO: pi });
    const got = shiftPathInfo(environ);
    const label = `${JSON.stringify(sn)} + ${JSON.stringify(pi)}`;
    assert.equal(got, part ?? undefined, label);
    assert.equal(environ.SCRIPT_NAME, snOut, label);
    assert.equal(environ.PATH_INFO, piOut, label);
  }
});

Deno.test("util: shiftPathInfo walks a whole path, then returns undefined", () => {
  const environ = setupTestingDefaults({ PATH_INFO: "/a/b/c" });
  const seen: (string | undefined)[] = [];
  for (let i = 0; i < 4; i++) seen.push(shiftPathInfo(environ));
  assert.deepEqual(seen, ["a", "b", "c", undefined]);
  assert.equal(environ.SCRIPT_NAME, "/a/b/c");
  assert.equal(environ.PATH_INFO, "");
});

// [environ keys, applicationUri, requestUri, requestUri without query], from wsgiref.
const URIS: [Record<string, string>, string, string, string][] = [
  [{}, "http://127.0.0.1/", "http://127.0.0.1/", "http://127.0.0.1/"],
  [
    { SCRIPT_NAME: "/spammity/spam" },
    "http://127.0.0.1/spammity/spam",
    "http://127.0.0.1/spammity/spam",
    "http://127.0.0.1/spammity/spam",
  ],
  [
    { SCRIPT_NAME: "/spammity/sp\u00e4m" },
    "http://127.0.0.1/spammity/sp%E4m",
    "http://127.0.0.1/spammity/sp%E4m",
    "http://127.0.0.1/spammity/sp%E4m",
  ],
  [
    { HTTP_HOST: "spam.example.com:8080" },
    "http://spam.example.com:8080/",
    "http://spam.example.com:8080/",
    "http://spam.example.com:8080/",
  ],
  [
    { SERVER_NAME: "spam.example.com" },
    "http://spam.example.com/",
    "http://spam.example.com/",
    "http://spam.example.com/",
  ],
  [
    { SERVER_PORT: "8080" },
    "http://127.0.0.1:8080/",
    "http://127.0.0.1:8080/",
    "http://127.0.0.1:8080/",
  ],
  [
    { HTTPS: "on", SERVER_PORT: "443" },
    "https://127.0.0.1/",
    "https://127.0.0.1/",
    "https://127.0.0.1/",
  ],
  [
    { HTTPS: "on", SERVER_PORT: "8443" },
    "https://127.0.0.1:8443/",
    "https://127.0.0.1:8443/",
    "https://127.0.0.1:8443/",
  ],
  [
    { PATH_INFO: "/spam" },
    "http://127.0.0.1/",
    "http://127.0.0.1/spam",
    "http://127.0.0.1/spam",
  ],
  [
    { SCRIPT_NAME: "/spammity", PATH_INFO: "/spam" },
    "http://127.0.0.1/spammity",
    "http://127.0.0.1/spammity/spam",
    "http://127.0.0.1/spammity/spam",
  ],
  [
    { SCRIPT_NAME: "/spammity", PATH_INFO: "/sp\u00e4m" },
    "http://127.0.0.1/spammity",
    "http://127.0.0.1/spammity/sp%E4m",
    "http://127.0.0.1/spammity/sp%E4m",
  ],
  [
    { SCRIPT_NAME: "/spammity", PATH_INFO: "/spam;cookie=1234,5678" },
    "http://127.0.0.1/spammity",
    "http://127.0.0.1/spammity/spam;cookie=1234,5678",
    "http://127.0.0.1/spammity/spam;cookie=1234,5678",
  ],
  [
    { SCRIPT_NAME: "/spammity", PATH_INFO: "/spam", QUERY_STRING: "say=ni" },
    "http://127.0.0.1/spammity",
    "http://127.0.0.1/spammity/spam?say=ni",
    "http://127.0.0.1/spammity/spam",
  ],
  [
    {
      SCRIPT_NAME: "/spammity",
      PATH_INFO: "/spam ham?%/#x",
      QUERY_STRING: "a=%20",
    },
    "http://127.0.0.1/spammity",
    "http://127.0.0.1/spammity/spam%20ham%3F%25/%23x?a=%20",
    "http://127.0.0.1/spammity/spam%20ham%3F%25/%23x",
  ],
  [
    { PATH_INFO: "" },
    "http://127.0.0.1/",
    "http://127.0.0.1/",
    "http://127.0.0.1/",
  ],
  [
    { SCRIPT_NAME: "/a", PATH_INFO: "" },
    "http://127.0.0.1/a",
    "http://127.0.0.1/a",
    "http://127.0.0.1/a",
  ],
  [
    { PATH_INFO: "/~user/a_b.c-d!$&'()*+:@" },
    "http://127.0.0.1/",
    "http://127.0.0.1/~user/a_b.c-d%21%24%26%27%28%29%2A%2B%3A%40",
    "http://127.0.0.1/~user/a_b.c-d%21%24%26%27%28%29%2A%2B%3A%40",
  ],
];

Deno.test("util: applicationUri and requestUri match wsgiref.util", () => {
  for (const [keys, app, request, noQuery] of URIS) {
    const environ = setupTestingDefaults({ ...keys });
    // wsgiref's defaults add HTTP_HOST; drop it to test the SERVER_NAME path.
    if (!("HTTP_HOST" in keys)) delete environ.HTTP_HOST;
    const label = JSON.stringify(keys);
    assert.equal(applicationUri(environ), app, label);
    assert.equal(requestUri(environ), request, label);
    assert.equal(requestUri(environ, false), noQuery, label);
  }
});

Deno.test("util: requestUri rebuilds the URL the gateway was given", async () => {
  const urls = [
    "http://localhost/",
    "http://localhost:8080/caf%C3%A9/x%20y?q=%FF&r",
    "https://example.com/a;b=c,d/~e?",
    "http://127.0.0.1:9/%E2%9C%93",
    "http://localhost/app/sub/",
  ];
  for (const url of urls) {
    let seen = "";
    const { handler } = harness((environ, startResponse) => {
      seen = requestUri(environ);
      startResponse("200 OK", []);
      return [];
    }, {
      scriptName: url.includes("/app/") ? "/app" : "",
      urlScheme: url.startsWith("https:") ? "https" : "http",
    });
    await (await handler(new Request(url))).text();
    // A bare trailing "?" is not part of the rebuilt URL (the query is empty).
    assert.equal(seen, url.replace(/\?$/, ""));
  }
});

Deno.test("util: URL helpers refuse code points above U+00FF", () => {
  const environ = setupTestingDefaults({ PATH_INFO: "/\u0100" });
  assert.throws(() => requestUri(environ), {
    name: "TypeError",
    message: /U\+0100/,
  });
  assert.throws(
    () => applicationUri(setupTestingDefaults({ SCRIPT_NAME: "/\u{1f600}" })),
    TypeError,
  );
});

Deno.test("util: guessScheme reads HTTPS like wsgiref, in any case", () => {
  for (const value of ["on", "yes", "1", "ON", "Yes"]) {
    assert.equal(guessScheme({ HTTPS: value }), "https", value);
  }
  for (const value of ["off", "no", "0", "", undefined, 1]) {
    assert.equal(guessScheme({ HTTPS: value }), "http", String(value));
  }
});

Deno.test("util: isHopByHop knows RFC 2616's list in any case", () => {
  for (
    const name of [
      "Connection",
      "keep-alive",
      "Proxy-Authenticate",
      "proxy-authorization",
      "TE",
      "Trailers",
      "Trailer",
      "Transfer-Encoding",
      "UPGRADE",
    ]
  ) {
    assert.equal(isHopByHop(name), true, name);
  }
  for (
    const name of [
      "Content-Type",
      "Content-Length",
      "Set-Cookie",
      "X-Connection",
    ]
  ) {
    assert.equal(isHopByHop(name), false, name);
  }
});

Deno.test("util: pathInfoUtf8 decodes the latin-1 octets as UTF-8", () => {
  const read = (pi: string, fatal?: boolean) =>
    pathInfoUtf8(setupTestingDefaults({ PATH_INFO: pi }), { fatal });
  assert.equal(read("/caf\u00c3\u00a9"), "/café");
  assert.equal(read("/\u00e2\u009c\u0093"), "/\u2713");
  assert.equal(read("/plain"), "/plain");
  // Invalid UTF-8: U+FFFD by default, a TypeError when fatal.
  assert.equal(read("/\u00ff/\u00c3"), "/\ufffd/\ufffd");
  assert.throws(() => read("/\u00ff", true), {
    name: "TypeError",
    message: /as UTF-8/,
  });
  assert.equal(read("/caf\u00c3\u00a9", true), "/café");
  assert.throws(() => read("/\u0100"), TypeError);
});

Deno.test("util: pathInfoUtf8 reads what the gateway decoded", async () => {
  let seen = "";
  const { handler } = harness((environ, startResponse) => {
    seen = pathInfoUtf8(environ);
    startResponse("200 OK", []);
    return [];
  });
  await (await handler("/%E6%97%A5%E6%9C%AC/caf%C3%A9")).text();
  assert.equal(seen, "/日本/café");
});

Deno.test("util: toNative is the inverse of pathInfoUtf8", () => {
  for (const text of ["/", "/café", "/日本", "/\u{1f600}"]) {
    const native = toNative(text);
    assert.ok([...native].every((c) => c.charCodeAt(0) <= 0xff));
    assert.equal(
      pathInfoUtf8(setupTestingDefaults({ PATH_INFO: native })),
      text,
    );
  }
});

Deno.test("util: setupTestingDefaults builds an environ the validator accepts", async () => {
  const logs: string[] = [];
  const environ = setupTestingDefaults(
    { REQUEST_METHOD: "POST", PATH_INFO: "/echo" },
    { body: "héllo", errors: (text) => logs.push(text) },
  );
  assert.equal(environ.REQUEST_METHOD, "POST");
  assert.equal(environ.SCRIPT_NAME, "");
  assert.equal(environ.PATH_INFO, "/echo");
  assert.equal(environ.CONTENT_LENGTH, "6");
  assert.equal(environ.SERVER_PORT, "80");
  assert.equal(environ.REQUEST_URI, "/echo");
  assert.deepEqual(environ["wsgi.version"], [1, 0]);
  const app = validator(async (env, startResponse) => {
    const body = await env["wsgi.input"].read();
    env["wsgi.errors"].write("read it\n");
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [body];
  });
  let status = "";
  const result = await app(environ, (s) => {
    status = s;
    return () => Promise.resolve();
  });
  const chunks = [...result as Iterable<Uint8Array>];
  await result.close?.();
  assert.equal(status, "200 OK");
  assert.equal(dec.decode(chunks[0]), "héllo");
  assert.deepEqual(logs, ["read it\n"]);
  app.assertClosed();
});

Deno.test("util: setupTestingDefaults keeps given keys and follows HTTPS", () => {
  const environ = setupTestingDefaults({ HTTPS: "on", QUERY_STRING: "a=1" });
  assert.equal(environ["wsgi.url_scheme"], "https");
  assert.equal(environ.SERVER_PORT, "443");
  assert.equal(environ.PATH_INFO, "/");
  assert.equal(environ.QUERY_STRING, "a=1");
  assert.equal(environ.REQUEST_URI, "/?a=1");
  const given = setupTestingDefaults({ SCRIPT_NAME: "/app" });
  assert.equal(
    given.PATH_INFO,
    "",
    "PATH_INFO is not invented when SCRIPT_NAME is given",
  );
  const kept: Record<string, unknown> = { SERVER_NAME: "example.org" };
  assert.equal(setupTestingDefaults(kept), kept, "filled in place");
  assert.equal(kept.HTTP_HOST, "example.org");
});

Deno.test("util: setupTestingDefaults gives an empty input when there is no body", async () => {
  const environ = setupTestingDefaults();
  assert.equal(environ.CONTENT_LENGTH, undefined);
  assert.equal((await environ["wsgi.input"].read()).length, 0);
});

// ------------------------------------------------------ wsgi.file_wrapper

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of iterable) out.push(dec.decode(chunk));
  return out;
}

Deno.test("file_wrapper: a Blob iterates in blockSize chunks", async () => {
  assert.deepEqual(await collect(new FileWrapper(new Blob(["abcdefg"]), 3)), [
    "abc",
    "def",
    "g",
  ]);
});

Deno.test("file_wrapper: a ReadableStream iterates as it comes", async () => {
  const stream = new Blob(["stream body"]).stream();
  assert.equal(
    (await collect(new FileWrapper(stream))).join(""),
    "stream body",
  );
});

Deno.test("file_wrapper: the file-like fallback reads read(blockSize) until empty", async () => {
  const data = b("0123456789");
  let at = 5; // starts at the file's current position (PEP 3333)
  const sizes: number[] = [];
  const file = {
    read(size: number) {
      sizes.push(size);
      return data.subarray(at, at += size);
    },
  };
  assert.deepEqual(await collect(new FileWrapper(file, 2)), ["56", "78", "9"]);
  assert.deepEqual(sizes, [2, 2, 2, 2]);
  // An async read works too.
  let n = 0;
  const asyncFile = {
    read: () => Promise.resolve(n++ < 2 ? b("x") : new Uint8Array(0)),
  };
  assert.deepEqual(await collect(new FileWrapper(asyncFile)), ["x", "x"]);
});

Deno.test("file_wrapper: refuses what is not a file", () => {
  for (const bad of [null, "text", 3, {}, b("bytes")]) {
    assert.throws(() => wrapFile(bad as unknown as FileLike), TypeError);
  }
});

Deno.test("file_wrapper: close() calls the file's close once and stops a stream", async () => {
  let closes = 0;
  const wrapper = new FileWrapper({
    read: () => new Uint8Array(0),
    close: () => void closes++,
  });
  await wrapper.close();
  await wrapper.close();
  assert.equal(closes, 1);

  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull: (c) => c.enqueue(b("x")),
    cancel: () => void (cancelled = true),
  });
  const streamWrapper = new FileWrapper(stream);
  const it = streamWrapper[Symbol.asyncIterator]();
  await it.next();
  await streamWrapper.close();
  assert.equal(cancelled, true);

  // A handed-off stream belongs to the Response: close() leaves it alone.
  const handed = new Blob(["kept"]).stream();
  const handedWrapper = new FileWrapper(handed);
  assert.equal(handedWrapper.handOff(), handed);
  await handedWrapper.close();
  assert.equal(await new Response(handed).text(), "kept");

  // A Blob has nothing to release; iteration stops after close().
  const blobWrapper = new FileWrapper(new Blob(["abc"]), 1);
  const blobIt = blobWrapper[Symbol.asyncIterator]();
  assert.equal(dec.decode((await blobIt.next()).value!), "a");
  await blobWrapper.close();
  assert.equal((await blobIt.next()).done, true);
});

/** A FileWrapper whose JS iteration is forbidden: only the fast path may send it. */
function fastOnly(source: FileLike): FileWrapper {
  const wrapper = new FileWrapper(source);
  Object.defineProperty(wrapper, Symbol.asyncIterator, {
    value: () => {
      throw new Error("the body was copied through JavaScript");
    },
  });
  return wrapper;
}

Deno.test("file_wrapper: the gateway hands a Blob straight to the Response", async () => {
  const blob = new Blob(["blob body"], { type: "text/plain" });
  const checked = validator((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return fastOnly(blob);
  });
  const { handler, logs } = harness(checked);
  const response = await handler("/");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "blob body");
  assert.deepEqual(logs, []);
  await checked.allClosed();
});

Deno.test("file_wrapper: a Blob larger than Content-Length is cut, not copied", async () => {
  const { handler, logs } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Length", "4"]]);
    return fastOnly(new Blob(["blob body"]));
  });
  const response = await handler("/");
  assert.equal(await response.text(), "blob");
  assert.match(logs.join(""), /too many bytes/);
});

Deno.test("file_wrapper: the gateway hands a ReadableStream over as the body itself", async () => {
  const stream = new Blob(["streamed"]).stream();
  let closed = 0;
  const checked = validator((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    const wrapper = environ["wsgi.file_wrapper"]!(stream);
    const close = wrapper.close!.bind(wrapper);
    return Object.assign(wrapper, { close: () => (closed++, close()) });
  });
  const { handler } = harness(checked);
  const response = await handler("/");
  // The Fetch spec keeps a ReadableStream body as the same object.
  assert.equal(response.body, stream);
  assert.equal(await response.text(), "streamed");
  await checked.allClosed();
  assert.equal(closed, 1);
});

Deno.test("file_wrapper: a file-like source streams through the gateway and is closed", async () => {
  const data = b("file-like body");
  let at = 0;
  let closes = 0;
  const checked = validator((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return environ["wsgi.file_wrapper"]!({
      read: (n: number) => data.subarray(at, at += n),
      close: () => void closes++,
    }, 4);
  });
  const { handler } = harness(checked);
  assert.equal(await (await handler("/")).text(), "file-like body");
  await checked.allClosed();
  assert.equal(closes, 1);
});

Deno.test("file_wrapper: HEAD reads nothing and still closes", async () => {
  let reads = 0;
  let closes = 0;
  const app: App = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"], [
      "Content-Length",
      "3",
    ]]);
    return environ["wsgi.file_wrapper"]!({
      read: () => (reads++, b("abc")),
      close: () => void closes++,
    });
  };
  const { handler } = harness(app);
  const response = await handler(
    new Request("http://localhost/", { method: "HEAD" }),
  );
  assert.equal(response.headers.get("content-length"), "3");
  assert.equal(await response.text(), "");
  assert.equal(closes, 1);
  assert.ok(
    reads <= 1,
    "at most the first chunk is pulled to commit the headers",
  );
});

Deno.test("file_wrapper: a client abort through Deno.serve closes a file-like source", async () => {
  let closed!: () => void;
  const done = new Promise<void>((resolve) => closed = resolve);
  const checked = validator((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return environ["wsgi.file_wrapper"]!({
      read: (n: number) => new Uint8Array(n).fill(120),
      close: () => closed(),
    }, 1024);
  });
  await withServer(checked, async (base) => {
    assert.match(await readOneAndAbort(`${base}/`), /^x+$/);
    await done;
    await checked.allClosed();
  });
});

Deno.test("file_wrapper: the environ's wrapper is wrapFile", () => {
  const environ: Environ = setupTestingDefaults();
  assert.equal(environ["wsgi.file_wrapper"], wrapFile);
  assert.ok(wrapFile(new Blob([])) instanceof FileWrapper);
});

Deno.test("util: setupTestingDefaults says HTTP/1.0, as wsgiref does", () => {
  const environ = setupTestingDefaults({});
  assert.equal(environ.SERVER_PROTOCOL, "HTTP/1.0");
  assert.equal(
    setupTestingDefaults({ SERVER_PROTOCOL: "HTTP/1.1" }).SERVER_PROTOCOL,
    "HTTP/1.1",
  );
});
