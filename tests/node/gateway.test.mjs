// The built npm package (npm/, from scripts/build_npm.ts) under Node: the
// gateway in-process, and the package's exports map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
// The package is built by scripts/build_npm.ts; importing it by URL keeps
// `deno check tests/` from looking for npm/ before it exists.
const npm = new URL("../../npm/", import.meta.url);
const {
  ReadableInputStream,
  FileWrapper,
  LogErrorStream,
  serve,
  toFetchHandler,
  wrapFile,
} = await import(new URL("mod.js", npm).href);

const enc = new TextEncoder();

test("npm: package.json has no dependencies (ws an optional peer) and every export resolves", async () => {
  const pkg = JSON.parse(await readFile(new URL("package.json", npm), "utf8"));
  assert.equal(pkg.name, "tsgi");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.dependencies, undefined);
  // WebSocket on Node loads ws when a WebSocket request arrives.
  assert.deepEqual(Object.keys(pkg.peerDependencies), ["ws"]);
  assert.deepEqual(pkg.peerDependenciesMeta, { ws: { optional: true } });
  // require() of ES modules without a flag: 20.19 and 22.12.
  assert.equal(pkg.engines.node, "^20.19.0 || >=22.12.0");
  const deno = JSON.parse(
    await readFile(new URL("../../deno.json", import.meta.url), "utf8"),
  );
  assert.equal(pkg.version, deno.version);
  assert.deepEqual(
    Object.keys(pkg.exports).filter((key) => key !== "./package.json"),
    Object.keys(deno.exports),
  );
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (key === "./package.json") continue;
    await readFile(new URL(target.types, npm)); // the .d.ts is there
    assert.equal(target.default, target.import, key); // require() takes it
    const module = await import(new URL(target.import, npm).href);
    assert.equal(typeof module, "object", key);
  }
  const declarations = await readFile(
    new URL("src/serve/serve.d.ts", npm),
    "utf8",
  );
  assert.doesNotMatch(declarations, /from "\.[^"]*\.ts"/);
  assert.match(declarations, /export declare function serve\(/);
});

test("npm: exports the public API", () => {
  for (
    const value of [
      toFetchHandler,
      serve,
      ReadableInputStream,
      LogErrorStream,
      wrapFile,
    ]
  ) {
    assert.equal(typeof value, "function");
  }
  assert.equal(typeof FileWrapper, "function");
});

test("npm: the gateway answers hello world in-process", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [
      enc.encode(
        `${environ.REQUEST_METHOD} ${environ.PATH_INFO} ${environ.QUERY_STRING}`,
      ),
    ];
  });
  const response = await handler(new Request("http://localhost/a%20b?x=1"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain");
  // The length rides on the Response for servers that see only it (the
  // runtimes that take a byte body set the header themselves).
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(response[Symbol.for("tsgi.knownLength")], 12);
  assert.equal(await response.text(), "GET /a b x=1");
});

test("npm: wsgi.input reads a streamed body with readline and read", async () => {
  const handler = toFetchHandler(async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    const line = await input.readline();
    const rest = await input.read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [line, enc.encode("|"), rest];
  });
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(enc.encode("first li"));
      controller.enqueue(enc.encode("ne\nsecond"));
      controller.close();
    },
  });
  const response = await handler(
    new Request("http://localhost/", { method: "POST", body, duplex: "half" }),
  );
  assert.equal(await response.text(), "first line\n|second");
});

test("npm: an app that raises gets a 500 and a log line, and close() runs", async () => {
  const logs = [];
  let closed = 0;
  const handler = toFetchHandler((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return {
      [Symbol.iterator]() {
        throw new Error("boom");
      },
      close() {
        closed++;
      },
    };
  }, { errors: (text) => logs.push(text) });
  const response = await handler(new Request("http://localhost/x"));
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "500 Internal Server Error\n");
  assert.equal(closed, 1);
  assert.match(logs.join(""), /boom/);
});

test("npm: a generator streams and a string chunk is refused", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/bad") return ["text"];
    return (function* () {
      yield enc.encode("a");
      yield enc.encode("b");
    })();
  }, { errors: () => {} });
  assert.equal(await (await handler(new Request("http://x/"))).text(), "ab");
  assert.equal((await handler(new Request("http://x/bad"))).status, 500);
});

test("npm: the rules validator() cites ship in the package", async () => {
  const rules = await readFile(new URL("docs/pep3333_rules.md", npm), "utf8");
  assert.match(rules, /^- \*\*S42\*\*: /m);
  assert.match(rules, /^- \*\*V18\*\*: /m);
});

test("npm: console.log(environ) shows every key on Node, lazy ones included", async () => {
  const { inspect } = await import("node:util");
  let shown = "";
  const handler = toFetchHandler((environ, startResponse) => {
    shown = inspect(environ);
    startResponse("204 No Content", []);
    return [];
  });
  await handler(
    new Request("http://x/a", { headers: { "user-agent": "probe/1" } }),
    { remoteAddr: { hostname: "192.0.2.7", port: 4000 } },
  );
  for (const key of ["HTTP_USER_AGENT", "'wsgi.input'", "REMOTE_ADDR"]) {
    assert.ok(shown.includes(`${key}:`), `${key} in ${shown}`);
  }
  assert.ok(!shown.includes("Symbol"), shown);
});
