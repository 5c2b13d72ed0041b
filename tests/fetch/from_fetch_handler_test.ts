import assert from "node:assert/strict";
import { Hono } from "../../examples/_hono.ts";
import {
  type App,
  type Environ,
  environUrl,
  fromFetchHandler,
  mount,
  toFetchHandler,
} from "../../mod.ts";
import { b } from "../_util/helpers.ts";
import { allClosed, checked, serving } from "../_util/middleware.ts";

/** A Fetch handler that exercises what a round trip could lose. */
async function reference(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  if (path === "/plain") return new Response("plain text\n");
  if (path.startsWith("/status/")) {
    const status = Number(path.slice(8));
    const empty = status === 204 || status === 304;
    return new Response(empty ? null : `status ${status}`, {
      status,
      headers: { "x-status": String(status) },
    });
  }
  if (path === "/cookies") {
    const headers = new Headers({ "content-type": "text/plain" });
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    headers.append("vary", "Cookie");
    return new Response("cookies", { headers });
  }
  if (path === "/redirect") {
    // A Content-Type, which a redirect rarely has: the round trip runs
    // under validator(), which wants one on every status but 204 and 304.
    return new Response(null, {
      status: 302,
      headers: { location: "/plain", "content-type": "text/plain" },
    });
  }
  if (path === "/stream") {
    let i = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i === 5) return controller.close();
          controller.enqueue(b(`chunk ${i++}\n`));
        },
      }),
      { headers: { "content-type": "text/plain" } },
    );
  }
  const body = request.body === null
    ? null
    : new Uint8Array(await request.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    if (name.startsWith("x-") || name === "content-type") headers[name] = value;
  }
  return Response.json({
    method: request.method,
    path,
    search: url.search,
    headers,
    size: body?.length ?? null,
    sum: body?.reduce((a, c) => (a * 31 + c) >>> 0, 7) ?? null,
  }, { status: request.method === "POST" ? 201 : 200 });
}

const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);

const CASES: [string, RequestInit?][] = [
  ["/plain"],
  ["/plain", { method: "HEAD" }],
  ["/echo?x=1&y=%20z&x=2", { headers: { "X-A": "1", "X-B": "two, three" } }],
  ["/caf%C3%A9/a%20b;p=1"],
  ["/echo", {
    method: "POST",
    body: "hello",
    headers: { "Content-Type": "text/plain" },
  }],
  ["/echo", { method: "PUT", body: big }],
  ["/echo", {
    method: "POST",
    body: new Blob([big]).stream(),
    duplex: "half",
  } as RequestInit],
  ["/echo", { method: "DELETE" }],
  ["/echo", {
    method: "PATCH",
    body: '{"a":1}',
    headers: { "Content-Type": "application/json" },
  }],
  ["/echo", { method: "OPTIONS" }],
  ["/status/201"],
  ["/status/204"],
  ["/status/304"],
  ["/status/404"],
  ["/status/418"],
  ["/status/503"],
  ["/cookies"],
  ["/redirect"],
  ["/stream"],
];

function comparableHeaders(response: Response): [string, string][] {
  return [...response.headers].filter(([name]) => name !== "content-length");
}

Deno.test("fromFetchHandler: a round trip through tsgi answers like the handler itself", async () => {
  const roundTrip = toFetchHandler(checked(fromFetchHandler(reference)), {
    errors: (text) => assert.fail(text),
  });
  for (const [path, init] of CASES) {
    // Bodies are single-use: build the request twice.
    const make = () => {
      const copy = { ...init };
      if (copy.body instanceof ReadableStream) {
        copy.body = new Blob([big]).stream();
      }
      return new Request("http://localhost:8000" + path, copy);
    };
    const want = await reference(make());
    const got = await roundTrip(make());
    const what = `${init?.method ?? "GET"} ${path}`;
    assert.equal(got.status, want.status, what);
    assert.deepEqual(comparableHeaders(got), comparableHeaders(want), what);
    const [wantBody, gotBody] = await Promise.all([want.bytes(), got.bytes()]);
    if (init?.method === "HEAD") assert.equal(gotBody.length, 0, what);
    else assert.deepEqual(gotBody, wantBody, what);
  }
  await allClosed();
});

Deno.test("fromFetchHandler: the URL is rebuilt from SCRIPT_NAME, PATH_INFO and the query", () => {
  const environ = {
    "wsgi.url_scheme": "https",
    SERVER_NAME: "example.com",
    SERVER_PORT: "443",
    SCRIPT_NAME: "/app",
    PATH_INFO: "/caf\xc3\xa9/a b?#%",
    QUERY_STRING: "q=%20",
  } as unknown as Environ;
  assert.equal(
    environUrl(environ),
    "https://example.com/app/caf%C3%A9/a%20b%3F%23%25?q=%20",
  );
  environ.SERVER_PORT = "8443";
  environ.SCRIPT_NAME = "";
  environ.PATH_INFO = "";
  environ.QUERY_STRING = "";
  assert.equal(environUrl(environ), "https://example.com:8443/");
  environ.HTTP_HOST = "other:1";
  assert.equal(environUrl(environ), "https://other:1/");
});

Deno.test("fromFetchHandler: hop-by-hop headers are dropped both ways", async () => {
  let seen: Headers | undefined;
  const app = fromFetchHandler((request) => {
    seen = request.headers;
    return new Response("x", {
      headers: {
        "keep-alive": "timeout=5",
        "x-private": "1",
        connection: "x-private",
        "x-ok": "1",
      },
    });
  });
  const response = await toFetchHandler(checked(app))(
    new Request("http://localhost/", {
      headers: {
        "Connection": "x-secret",
        "X-Secret": "s",
        "Upgrade": "h2c",
        "X-Kept": "k",
      },
    }),
  );
  assert.equal(seen?.get("x-secret"), null);
  assert.equal(seen?.get("upgrade"), null);
  assert.equal(seen?.get("x-kept"), "k");
  assert.equal(response.headers.get("keep-alive"), null);
  assert.equal(response.headers.get("x-private"), null);
  assert.equal(response.headers.get("x-ok"), "1");
  await response.text();
  await allClosed();
});

Deno.test("fromFetchHandler: a client abort cancels the handler's body and aborts its signal", async () => {
  let cancelled!: () => void;
  const cancel = new Promise<void>((r) => (cancelled = r));
  let signal: AbortSignal | undefined;
  let pulls = 0;
  const app = fromFetchHandler((request) => {
    signal = request.signal;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(16 * 1024).fill(120));
        },
        cancel() {
          cancelled();
        },
      }, { highWaterMark: 0 }),
    );
  });
  await serving(toFetchHandler(checked(app)), async (base) => {
    const abort = new AbortController();
    const response = await fetch(base, { signal: abort.signal });
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value!.length > 0, "an endless body streams");
    abort.abort();
    await reader.cancel().catch(() => {});
    await cancel;
  });
  assert.equal(signal?.aborted, true);
  assert.ok(pulls < 1000, `${pulls} chunks pulled`);
  await allClosed();
});

Deno.test("fromFetchHandler: the handler gets the runtime's arguments", async () => {
  let args: unknown[] = [];
  const app = fromFetchHandler((_request: Request, ...rest: never[]) => {
    args = rest;
    return new Response("ok");
  });
  const info = { remoteAddr: { hostname: "127.0.0.1", port: 1 } };
  await (await toFetchHandler(app)(new Request("http://localhost/"), info))
    .text();
  assert.deepEqual(args, [info]);
});

const tsgiApp: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [
    b(`tsgi ${environ.SCRIPT_NAME}|${environ.PATH_INFO}|${environ.QUERY_STRING}`),
  ];
};

Deno.test("Hono mounts a tsgi app with app.mount()", async () => {
  const hono = new Hono();
  hono.get("/", (c) => c.text("hono root"));
  // Hono strips the prefix itself…
  hono.mount("/wsgi", toFetchHandler(checked(tsgiApp)));
  // …or leaves the path whole, and tsgi moves the prefix to SCRIPT_NAME.
  hono.mount(
    "/kept",
    toFetchHandler(checked(tsgiApp), { scriptName: "/kept" }),
    {
      replaceRequest: false,
    },
  );
  await serving((request) => hono.fetch(request), async (base) => {
    assert.equal(await (await fetch(base + "/")).text(), "hono root");
    assert.equal(
      await (await fetch(base + "/wsgi/a/b?x=1")).text(),
      "tsgi |/a/b|x=1",
    );
    assert.equal(
      await (await fetch(base + "/kept/a")).text(),
      "tsgi /kept|/a|",
    );
  });
  await allClosed();
});

Deno.test("tsgi mount() serves a Hono app beside a tsgi app via fromFetchHandler", async () => {
  const hono = new Hono().basePath("/hono");
  hono.get("/hi/:name", (c) => {
    c.header("Set-Cookie", "seen=1");
    c.header("Set-Cookie", "who=" + c.req.param("name"), { append: true });
    return c.json({ hello: c.req.param("name"), q: c.req.query("q") });
  });
  hono.post("/echo", async (c) => c.json(await c.req.json(), 201));
  const site = checked(mount({
    "/": checked(tsgiApp),
    "/hono": checked(fromFetchHandler((request) => hono.fetch(request))),
  }));
  await serving(toFetchHandler(site), async (base) => {
    const hi = await fetch(base + "/hono/hi/ana?q=1");
    assert.deepEqual(await hi.json(), { hello: "ana", q: "1" });
    assert.deepEqual(hi.headers.getSetCookie(), ["seen=1", "who=ana"]);
    const echoed = await fetch(base + "/hono/echo", {
      method: "POST",
      body: JSON.stringify({ n: [1, 2] }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(echoed.status, 201);
    assert.deepEqual(await echoed.json(), { n: [1, 2] });
    const missing = await fetch(base + "/hono/nope");
    assert.equal(missing.status, 404);
    await missing.text();
    assert.equal(await (await fetch(base + "/other")).text(), "tsgi |/other|");
  });
  await allClosed();
});
