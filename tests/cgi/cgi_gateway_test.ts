// The CGI gateway in-process, with the process I/O replaced: environ
// rules (latin-1, raw bytes), stdin bounded by CONTENT_LENGTH, the output
// format, and the error paths. tests/cgi/cgi_test.ts runs it under lighttpd.
import assert from "node:assert/strict";
import { type CgiIo, readCgiVariables, runCgi } from "../../src/cgi/_cgi.ts";
import type { App, Environ } from "../../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface FakeIo extends CgiIo {
  out(): string;
  err: string[];
  stdinRead: () => number;
}

function fakeIo(
  env: Record<string, string>,
  options: {
    stdin?: Uint8Array;
    raw?: Map<string, Uint8Array>;
    unreadable?: string[];
    failWrites?: boolean;
  } = {},
): FakeIo {
  const chunks: Uint8Array[] = [];
  const err: string[] = [];
  let read = 0;
  return {
    env: () => env,
    rawEnv: () => options.raw,
    unreadable: (names) =>
      names.filter((name) => options.unreadable?.includes(name)),
    stdin: () => {
      const data = options.stdin ?? new Uint8Array();
      let offset = 0;
      return new ReadableStream({
        pull(controller) {
          if (offset >= data.length) return controller.close();
          const piece = data.subarray(offset, offset + 3);
          offset += piece.length;
          read += piece.length;
          controller.enqueue(piece);
        },
      }, { highWaterMark: 0 });
    },
    write(chunk) {
      if (options.failWrites) return Promise.reject(new Error("EPIPE"));
      chunks.push(chunk.slice());
      return Promise.resolve();
    },
    error: (text) => void err.push(text),
    finish: () => Promise.resolve(),
    out: () => chunks.map((c) => dec.decode(c)).join(""),
    err,
    stdinRead: () => read,
  };
}

const echoEnviron: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"], ["X-A", "1"]]);
  const keys = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "SERVER_PROTOCOL",
    "wsgi.url_scheme",
    "wsgi.run_once",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.input_terminated",
  ];
  return [enc.encode(JSON.stringify(keys.map((k) => environ[k])))];
};

Deno.test("CGI: the response is a Status line, headers, a blank line and the body", async () => {
  const io = fakeIo({
    REQUEST_METHOD: "GET",
    SCRIPT_NAME: "/app.cgi",
    PATH_INFO: "/a b",
    QUERY_STRING: "x=1",
    HTTPS: "on",
  });
  await runCgi(echoEnviron, io);
  assert.equal(
    io.out(),
    // The gateway states the length of a body it knows whole.
    "Status: 200 OK\r\ncontent-length: 92\r\ncontent-type: text/plain\r\nx-a: 1\r\n\r\n" +
      JSON.stringify([
        "GET",
        "/app.cgi",
        "/a b",
        "x=1",
        // Rebuilt when the host gives no REQUEST_URI.
        "/app.cgi/a%20b?x=1",
        "HTTP/1.0",
        "https",
        true,
        false,
        true,
        true,
      ]),
  );
});

Deno.test("CGI: request variables become one char per byte", () => {
  const raw = new Map([
    ["PATH_INFO", new Uint8Array([0x2f, 0xc3, 0xa9])], // "/é" in UTF-8
    ["HTTP_X_RAW", new Uint8Array([0xff])], // not UTF-8: the runtime lost it
    ["SERVER_NAME", enc.encode("hôte")],
  ]);
  const vars = readCgiVariables(
    {
      PATH_INFO: "/é",
      QUERY_STRING: "q=é", // no raw bytes: re-encoded from the text
      SERVER_NAME: "hôte",
      HTTP_CHANGED: "new", // raw differs or is missing: the text wins
    },
    raw,
    new Set(["HTTP_X_RAW"]),
  );
  assert.deepEqual(vars, {
    PATH_INFO: "/\u00c3\u00a9",
    QUERY_STRING: "q=\u00c3\u00a9",
    SERVER_NAME: "hôte", // not a request variable: left as text
    HTTP_CHANGED: "new",
    HTTP_X_RAW: "\u00ff",
  });
});

Deno.test("CGI: wsgi.input stops at CONTENT_LENGTH", async () => {
  let body: Uint8Array | undefined;
  const app: App = async (environ, startResponse) => {
    body = await environ["wsgi.input"].read();
    startResponse("200 OK", []);
    return [];
  };
  const io = fakeIo(
    { REQUEST_METHOD: "POST", CONTENT_LENGTH: "5" },
    { stdin: enc.encode("hello, and more that is not the body") },
  );
  await runCgi(app, io);
  assert.equal(dec.decode(body), "hello");
  assert.ok(io.stdinRead() <= 6, `read ${io.stdinRead()} bytes of stdin`);
});

Deno.test("CGI: without CONTENT_LENGTH, stdin is never opened", async () => {
  let body: Uint8Array | undefined;
  const app: App = async (environ, startResponse) => {
    body = await environ["wsgi.input"].read();
    startResponse("200 OK", []);
    return [];
  };
  const io = fakeIo({ REQUEST_METHOD: "POST" }, { stdin: enc.encode("x") });
  await runCgi(app, io);
  assert.equal(body?.length, 0);
  assert.equal(io.stdinRead(), 0);
});

Deno.test("CGI: stdin shorter than CONTENT_LENGTH makes the read fail", async () => {
  const io = fakeIo(
    { REQUEST_METHOD: "POST", CONTENT_LENGTH: "10", PATH_INFO: "/p" },
    { stdin: enc.encode("short") },
  );
  await runCgi(async (environ, startResponse) => {
    await environ["wsgi.input"].read();
    startResponse("200 OK", []);
    return [];
  }, io);
  // A body that breaks off is the client's fault: the core answers 400.
  assert.match(io.out(), /^Status: 400 Bad Request\r\n/);
  assert.match(
    io.err.join(""),
    /Cannot read the request body: it ended early .*after 5 bytes \(POST \/p\)/,
  );
});

Deno.test("CGI: an app error gives a 500 and a log line on stderr", async () => {
  const io = fakeIo({ REQUEST_METHOD: "GET", PATH_INFO: "/boom" });
  await runCgi(() => {
    throw new Error("kaboom");
  }, io);
  assert.equal(
    io.out(),
    "Status: 500 Internal Server Error\r\ncontent-length: 26\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n500 Internal Server Error\n",
  );
  assert.match(
    io.err.join(""),
    /^tsgi: the application raised \(GET \/boom\): Error: kaboom/,
  );
});

Deno.test("CGI: maxBodySize answers 413 without calling the app", async () => {
  let called = false;
  const io = fakeIo({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "11" });
  await runCgi(
    () => {
      called = true;
      return [];
    },
    io,
    { maxBodySize: 10 },
  );
  assert.equal(called, false);
  assert.match(io.out(), /^Status: 413 Content Too Large\r\n/);
});

Deno.test("CGI: a CONTENT_LENGTH that is not a number is a 400", async () => {
  const io = fakeIo({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "-1" });
  await runCgi(echoEnviron, io);
  assert.match(io.out(), /^Status: 400 Bad Request\r\n/);
  assert.match(io.err.join(""), /bad CONTENT_LENGTH "-1"/);
});

Deno.test("CGI: a request variable the runtime cannot decode is a 400, not a wrong path", async () => {
  const io = fakeIo({ REQUEST_METHOD: "GET" }, { unreadable: ["PATH_INFO"] });
  await runCgi(echoEnviron, io);
  assert.match(io.out(), /^Status: 400 Bad Request\r\n/);
  assert.match(io.err.join(""), /cannot read PATH_INFO: not valid UTF-8/);
});

Deno.test("CGI: HEAD sends the headers only", async () => {
  const io = fakeIo({ REQUEST_METHOD: "HEAD" });
  await runCgi(echoEnviron, io);
  assert.match(io.out(), /\r\n\r\n$/);
});

Deno.test("CGI: repeated Set-Cookie headers stay separate", async () => {
  const io = fakeIo({ REQUEST_METHOD: "GET" });
  await runCgi((_environ, startResponse) => {
    startResponse("201 Created", [["Set-Cookie", "a=1"], [
      "Set-Cookie",
      "b=2",
    ]]);
    return [];
  }, io);
  assert.match(
    io.out(),
    /^Status: 201 Created\r\ncontent-length: 0\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n\r\n$/,
  );
});

Deno.test("CGI: when stdout fails, the app's close() still runs", async () => {
  let closed = 0;
  const io = fakeIo({ REQUEST_METHOD: "GET" }, { failWrites: true });
  await runCgi((_environ, startResponse) => {
    startResponse("200 OK", []);
    return {
      *[Symbol.iterator]() {
        yield enc.encode("a");
        yield enc.encode("b");
      },
      close() {
        closed++;
      },
    };
  }, io);
  assert.equal(closed, 1);
  assert.match(
    io.err.join(""),
    /cannot write the response \(GET \): Error: EPIPE/,
  );
});

Deno.test("CGI: extraEnviron and errors options", async () => {
  const lines: string[] = [];
  let seen: Environ | undefined;
  const io = fakeIo({ REQUEST_METHOD: "GET" });
  await runCgi(
    (environ, startResponse) => {
      seen = environ;
      environ["wsgi.errors"].write("from the app\n");
      startResponse("200 OK", []);
      return [];
    },
    io,
    { extraEnviron: { "my.key": 7 }, errors: (text) => lines.push(text) },
  );
  assert.equal(seen?.["my.key"], 7);
  assert.deepEqual(lines, ["from the app\n"]);
  assert.deepEqual(io.err, []);
});
