import assert from "node:assert/strict";
import {
  type App,
  type Environ,
  proxyFix,
  type ProxyFixOptions,
  toFetchHandler,
} from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  allClosed,
  checked,
  endless,
  readFirstThenAbort,
  serving,
} from "../_util/middleware.ts";

const KEYS = [
  "REMOTE_ADDR",
  "wsgi.url_scheme",
  "HTTP_HOST",
  "SERVER_NAME",
  "SERVER_PORT",
  "SCRIPT_NAME",
  "PATH_INFO",
  "tsgi.proxy_fix.orig",
];

const echo: App = (environ: Environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [
    b(JSON.stringify(Object.fromEntries(KEYS.map((k) => [k, environ[k]])))),
  ];
};

async function seen(
  options: ProxyFixOptions | undefined,
  headers: Record<string, string>,
  url = "http://app.internal:8080/path",
): Promise<Record<string, unknown>> {
  const { handler } = harness(checked(proxyFix(checked(echo), options)), {
    remoteAddress: () => ({ address: "10.0.0.9", port: 4000 }),
  });
  const response = await handler(new Request(url, { headers }));
  return await response.json();
}

Deno.test("proxy fix: only the trusted rightmost X-Forwarded-For value is believed", async () => {
  const one = await seen({ x_for: 1 }, {
    "X-Forwarded-For": "6.6.6.6, 203.0.113.7",
  });
  assert.equal(one.REMOTE_ADDR, "203.0.113.7");
  assert.equal(
    (one["tsgi.proxy_fix.orig"] as Record<string, unknown>).REMOTE_ADDR,
    "10.0.0.9",
  );
  const two = await seen({ x_for: 2 }, {
    "X-Forwarded-For": "6.6.6.6, 198.51.100.1, 203.0.113.7",
  });
  assert.equal(two.REMOTE_ADDR, "198.51.100.1");
  const tooFew = await seen({ x_for: 2 }, { "X-Forwarded-For": "203.0.113.7" });
  assert.equal(
    tooFew.REMOTE_ADDR,
    "10.0.0.9",
    "fewer values than hops: ignored",
  );
  const off = await seen({ x_for: 0 }, { "X-Forwarded-For": "203.0.113.7" });
  assert.equal(off.REMOTE_ADDR, "10.0.0.9");
});

Deno.test("proxy fix: X-Forwarded-Proto sets the scheme; junk is ignored", async () => {
  assert.equal(
    (await seen({}, { "X-Forwarded-Proto": "http, HTTPS" }))["wsgi.url_scheme"],
    "https",
  );
  assert.equal(
    (await seen({}, { "X-Forwarded-Proto": "gopher" }))["wsgi.url_scheme"],
    "http",
  );
});

Deno.test("proxy fix: X-Forwarded-Host and -Port set host, name and port only when trusted", async () => {
  const ignored = await seen({}, { "X-Forwarded-Host": "evil.example" });
  assert.equal(ignored.SERVER_NAME, "app.internal", "x_host defaults to 0");
  const host = await seen({ x_host: 1, x_proto: 1 }, {
    "X-Forwarded-Host": "example.com",
    "X-Forwarded-Proto": "https",
  });
  assert.equal(host.HTTP_HOST, "example.com");
  assert.equal(host.SERVER_NAME, "example.com");
  assert.equal(host.SERVER_PORT, "443");
  const orig = host["tsgi.proxy_fix.orig"] as Record<string, unknown>;
  assert.equal(orig.SERVER_NAME, "app.internal");
  assert.equal(orig.SERVER_PORT, "8080");
  const ported = await seen({ x_host: 1, x_port: 1 }, {
    "X-Forwarded-Host": "[2001:db8::1]:8443",
    "X-Forwarded-Port": "9443",
  });
  assert.equal(ported.SERVER_NAME, "[2001:db8::1]");
  assert.equal(ported.SERVER_PORT, "9443");
  assert.equal(ported.HTTP_HOST, "[2001:db8::1]:9443");
  const badPort = await seen({ x_port: 1 }, { "X-Forwarded-Port": "http" });
  assert.equal(badPort.SERVER_PORT, "8080");
});

Deno.test("proxy fix: X-Forwarded-Prefix becomes SCRIPT_NAME", async () => {
  const prefixed = await seen({ x_prefix: 1 }, {
    "X-Forwarded-Prefix": "/shop/",
  });
  assert.equal(prefixed.SCRIPT_NAME, "/shop");
  assert.equal(prefixed.PATH_INFO, "/path");
  assert.equal(
    (prefixed["tsgi.proxy_fix.orig"] as Record<string, unknown>).SCRIPT_NAME,
    "",
  );
  assert.equal(
    (await seen({}, { "X-Forwarded-Prefix": "/x" })).SCRIPT_NAME,
    "",
  );
});

Deno.test("proxy fix: refuses a negative or fractional hop count", () => {
  assert.throws(() => proxyFix(echo, { x_for: -1 }), RangeError);
  assert.throws(() => proxyFix(echo, { x_host: 1.5 }), /x_host/);
});

Deno.test("proxy fix: behind a real server, streams and a client abort closes the app once", async () => {
  const body = endless();
  let addr: unknown;
  const app: App = (environ, startResponse) => {
    addr = [
      environ.REMOTE_ADDR,
      (environ["tsgi.proxy_fix.orig"] as Record<string, unknown>).REMOTE_ADDR,
    ];
    return body.app(environ, startResponse);
  };
  await serving(
    toFetchHandler(checked(proxyFix(checked(app)))),
    async (base) => {
      const { first } = await readFirstThenAbort(base, {
        headers: { "X-Forwarded-For": "203.0.113.7" },
      });
      assert.ok(first.length > 0);
      await body.closed;
    },
  );
  assert.deepEqual(addr, ["203.0.113.7", "127.0.0.1"]);
  assert.equal(body.closeCalls(), 1);
  await allClosed();
});
