import assert from "node:assert/strict";
import {
  type App,
  type Environ,
  type GatewayOptions,
  toFetchHandler,
} from "../../mod.ts";

/** Runs one request and returns the environ the app saw. */
async function environFor(
  request: Request | string,
  options: GatewayOptions = {},
  ...runtimeArgs: unknown[]
): Promise<Environ> {
  let seen: Environ | undefined;
  const app: App = (environ, startResponse) => {
    seen = environ;
    startResponse("200 OK", []);
    return [];
  };
  const req = typeof request === "string" ? new Request(request) : request;
  await toFetchHandler(app, options)(req, ...runtimeArgs);
  return seen!;
}

Deno.test("environ: CGI basics for a plain GET", async () => {
  const env = await environFor("http://example.com/hello?x=1&y=%20");
  assert.equal(env.REQUEST_METHOD, "GET");
  assert.equal(env.SCRIPT_NAME, "");
  assert.equal(env.PATH_INFO, "/hello");
  assert.equal(env.QUERY_STRING, "x=1&y=%20");
  assert.equal(env.SERVER_NAME, "example.com");
  assert.equal(env.SERVER_PORT, "80");
  assert.equal(env.SERVER_PROTOCOL, "HTTP/1.1");
  assert.equal(env.REQUEST_URI, "/hello?x=1&y=%20");
  assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
  assert.match(env.SERVER_SOFTWARE, /^tsgi\/\d+\.\d+\.\d+$/);
  assert.deepEqual(env["wsgi.version"], [1, 0]);
  assert.equal(env["wsgi.url_scheme"], "http");
  assert.equal(env["wsgi.multithread"], true);
  assert.equal(env["wsgi.multiprocess"], false);
  assert.equal(env["wsgi.run_once"], false);
  assert.equal(env["wsgi.input_terminated"], true);
  assert.equal(typeof env["wsgi.file_wrapper"], "function");
  assert.ok(env["tsgi.request"] instanceof Request);
});

Deno.test("environ: QUERY_STRING is present and empty without a query", async () => {
  const env = await environFor("http://x/");
  assert.equal(env.QUERY_STRING, "");
  assert.ok("QUERY_STRING" in env);
  assert.equal(env.PATH_INFO, "/");
});

Deno.test("environ: SERVER_PORT is a string that defaults by scheme", async () => {
  const tls = { urlScheme: "https" } as const;
  assert.equal((await environFor("http://x/", tls)).SERVER_PORT, "443");
  assert.equal(
    (await environFor("http://x/", tls))["wsgi.url_scheme"],
    "https",
  );
  const custom = await environFor("http://x:8123/");
  assert.equal(custom.SERVER_PORT, "8123");
  assert.equal(custom.SERVER_NAME, "x");
  const v6 = await environFor("http://[::1]:9000/");
  assert.equal(v6.SERVER_NAME, "[::1]");
  assert.equal(v6.SERVER_PORT, "9000");
});

Deno.test("environ: PATH_INFO is percent-decoded octet by octet (latin-1)", async () => {
  assert.equal(
    (await environFor("http://x/t%C3%A4st")).PATH_INFO,
    "/t\u00c3\u00a4st",
  );
  // Non-ASCII in the URL arrives percent-encoded by the URL parser.
  assert.equal(
    (await environFor("http://x/täst")).PATH_INFO,
    "/t\u00c3\u00a4st",
  );
  const slash = await environFor("http://x/a%2Fb?q=%2F");
  assert.equal(slash.PATH_INFO, "/a/b");
  assert.equal(slash.REQUEST_URI, "/a%2Fb?q=%2F");
  assert.equal(slash.QUERY_STRING, "q=%2F");
});

Deno.test("environ: malformed escapes never throw and stay as they are", async () => {
  for (
    const [path, expected] of [
      ["/%zz", "/%zz"],
      ["/a%", "/a%"],
      ["/a%4", "/a%4"],
      ["/%%41", "/%A"],
      ["/%E0%A4%A", "/\u00e0\u00a4%A"],
      ["/%00", "/\u0000"],
    ]
  ) {
    assert.equal((await environFor("http://x" + path)).PATH_INFO, expected);
  }
});

Deno.test("environ: every CGI value is a native string of U+0000-U+00FF", async () => {
  const env = await environFor(
    new Request("http://x/%FF%C3%A9?%FF", {
      method: "POST",
      body: "x",
      headers: { "x-latin": "caf\u00e9", "content-type": "text/plain" },
    }),
    {},
    { remoteAddr: { hostname: "10.0.0.1", port: 4242 } },
  );
  for (const [key, value] of Object.entries(env)) {
    if (/^[A-Z_]+$/.test(key)) {
      assert.equal(typeof value, "string", key);
      assert.ok(
        [...(value as string)].every((c) => c.charCodeAt(0) <= 0xff),
        key,
      );
    }
  }
  assert.equal(env.HTTP_X_LATIN, "caf\u00e9");
});

Deno.test("environ: scriptName mounts the app under a prefix", async () => {
  const cases: [string, string, string][] = [
    ["/app", "/app", ""],
    ["/app/", "/app", "/"],
    ["/app/x/y", "/app", "/x/y"],
  ];
  for (const [path, script, info] of cases) {
    const env = await environFor("http://x" + path, { scriptName: "/app/" });
    assert.equal(env.SCRIPT_NAME, script, path);
    assert.equal(env.PATH_INFO, info, path);
  }
  // Outside the prefix the app is not there at all.
  for (const path of ["/apple", "/other", "/"]) {
    const response = await toFetchHandler(() => {
      throw new Error("must not be called");
    }, { scriptName: "/app" })(new Request("http://x" + path));
    assert.equal(response.status, 404, path);
    await response.body?.cancel();
  }
  assert.throws(() => toFetchHandler(() => [], { scriptName: "app" }), {
    name: "TypeError",
    message: /scriptName "app"/,
  });
});

Deno.test("environ: CONTENT_TYPE and CONTENT_LENGTH appear only under those names", async () => {
  const env = await environFor(
    new Request("http://x/", {
      method: "POST",
      body: "hello",
      // On the wire the client sends it; an in-process Request needs it set.
      headers: { "content-type": "text/plain", "content-length": "5" },
    }),
  );
  assert.equal(env.CONTENT_TYPE, "text/plain");
  assert.equal(env.CONTENT_LENGTH, "5");
  assert.equal(env.HTTP_CONTENT_TYPE, undefined);
  assert.equal(env.HTTP_CONTENT_LENGTH, undefined);
  assert.ok(!("HTTP_CONTENT_TYPE" in env));
  const keys = Object.keys(env);
  assert.ok(keys.includes("CONTENT_TYPE") && keys.includes("CONTENT_LENGTH"));
  assert.ok(!keys.includes("HTTP_CONTENT_TYPE"));
  assert.ok(!keys.includes("HTTP_CONTENT_LENGTH"));
});

Deno.test("environ: a GET without a body has no CONTENT_* keys", async () => {
  const env = await environFor("http://x/");
  assert.ok(!("CONTENT_TYPE" in env));
  assert.ok(!("CONTENT_LENGTH" in env));
  assert.ok(!Object.keys(env).includes("CONTENT_LENGTH"));
});

Deno.test("environ: HTTP_* for every header, repeats joined with a comma", async () => {
  const headers = new Headers();
  headers.append("accept", "text/html");
  headers.append("accept", "application/json");
  headers.append("x-request-id", "abc");
  headers.append("user-agent", "tests");
  const env = await environFor(new Request("http://x/", { headers }));
  assert.equal(env.HTTP_ACCEPT, "text/html, application/json");
  assert.equal(env.HTTP_X_REQUEST_ID, "abc");
  assert.equal(env.HTTP_USER_AGENT, "tests");
  assert.equal(env.HTTP_HOST, undefined); // a Request built in-process has no Host
  const httpKeys = Object.keys(env).filter((k) => k.startsWith("HTTP_")).sort();
  assert.deepEqual(httpKeys, [
    "HTTP_ACCEPT",
    "HTTP_USER_AGENT",
    "HTTP_X_REQUEST_ID",
  ]);
});

Deno.test("environ: header names with underscores are dropped, not impersonated", async () => {
  const env = await environFor(
    new Request("http://x/", {
      headers: { "x_auth_user": "mallory", "x-real": "1" },
    }),
  );
  assert.equal(env.HTTP_X_AUTH_USER, undefined);
  assert.ok(!("HTTP_X_AUTH_USER" in env));
  assert.ok(!Object.keys(env).includes("HTTP_X_AUTH_USER"));
  assert.equal(env.HTTP_X_REAL, "1");
  const both = await environFor(
    new Request("http://x/", {
      headers: { "x_auth_user": "mallory", "x-auth-user": "alice" },
    }),
  );
  assert.equal(both.HTTP_X_AUTH_USER, "alice");
  assert.equal({ ...both }.HTTP_X_AUTH_USER, "alice");
});

Deno.test("environ: keys no header spelling maps to are absent", async () => {
  const env = await environFor(
    new Request("http://x/", { headers: { "x-a": "1" } }),
  );
  assert.equal(env["HTTP_X-A"], undefined);
  assert.equal(env.HTTP_x_a, undefined);
  assert.equal(env.HTTP_, undefined);
  assert.equal(env.HTTP_X_A, "1");
});

Deno.test("environ: behaves as a plain object (in, keys, spread, set, delete)", async () => {
  const env = await environFor(
    new Request("http://x/p", {
      headers: { "x-one": "1", "x-two": "2", "x-three": "3" },
    }),
  );
  assert.ok("HTTP_X_ONE" in env);
  assert.ok(Object.hasOwn(env, "HTTP_X_TWO"));
  assert.ok(!("HTTP_X_FOUR" in env));
  // A header deleted before enumeration stays deleted afterwards.
  delete env.HTTP_X_THREE;
  assert.equal(env.HTTP_X_THREE, undefined);
  assert.ok(!("HTTP_X_THREE" in env));
  env.HTTP_X_ONE = "changed";
  env["myapp.user"] = "alice";
  const copy = { ...env };
  assert.equal(copy.HTTP_X_ONE, "changed");
  assert.equal(copy.HTTP_X_TWO, "2");
  assert.ok(!("HTTP_X_THREE" in copy));
  assert.equal(copy["myapp.user"], "alice");
  assert.equal(copy.PATH_INFO, "/p");
  assert.ok("wsgi.input" in copy && "wsgi.errors" in copy);
  assert.deepEqual(Object.keys(copy).sort(), Object.keys(env).sort());
  assert.deepEqual(Object.entries(env).length, Object.keys(env).length);
  // After enumeration, changes still behave.
  delete env.HTTP_X_TWO;
  assert.ok(!Object.keys(env).includes("HTTP_X_TWO"));
  env.HTTP_X_NEW = "n";
  assert.ok(Object.keys(env).includes("HTTP_X_NEW"));
  const json = JSON.parse(
    JSON.stringify(env, (k, v) => (k === "tsgi.request" ? undefined : v)),
  );
  assert.equal(json.HTTP_X_NEW, "n");
});

Deno.test("environ: extraEnviron adds keys to every request", async () => {
  const env = await environFor("http://x/", {
    extraEnviron: { "myserver.name": "front" },
  });
  assert.equal(env["myserver.name"], "front");
  assert.ok(Object.keys(env).includes("myserver.name"));
});

Deno.test("environ: REMOTE_ADDR and tsgi.info from Deno's handler info", async () => {
  const info = {
    remoteAddr: { hostname: "127.0.0.9", port: 5555, transport: "tcp" },
  };
  const env = await environFor("http://x/", {}, info);
  assert.equal(env.REMOTE_ADDR, "127.0.0.9");
  assert.equal(env.REMOTE_PORT, "5555");
  assert.equal(env["tsgi.info"], info);
  assert.deepEqual(env["tsgi.runtime_args"], [info]);
  assert.equal(env["tsgi.server"], undefined);
});

Deno.test("environ: REMOTE_ADDR and tsgi.server from Bun's server.requestIP", async () => {
  const server = {
    requestIP: (_request: Request) => ({
      address: "::1",
      port: 6000,
      family: "IPv6",
    }),
  };
  const env = await environFor("http://x/", {}, server);
  assert.equal(env.REMOTE_ADDR, "::1");
  assert.equal(env.REMOTE_PORT, "6000");
  assert.equal(env["tsgi.server"], server);
});

Deno.test("environ: CF-Connecting-IP is trusted only under Workers' (request, env, ctx)", async () => {
  const request = () =>
    new Request("http://x/", {
      headers: { "cf-connecting-ip": "203.0.113.7" },
    });
  const bindings = { GREETING: "hi" };
  const ctx = {
    waitUntil(_p: Promise<unknown>) {},
    passThroughOnException() {},
  };
  const worker = await environFor(request(), {}, bindings, ctx);
  assert.equal(worker.REMOTE_ADDR, "203.0.113.7");
  assert.equal(worker.REMOTE_PORT, undefined);
  assert.equal(worker["tsgi.env"], bindings);
  assert.equal(worker["tsgi.ctx"], ctx);
  const spoofed = await environFor(request());
  assert.equal(spoofed.REMOTE_ADDR, undefined);
  assert.ok(!("REMOTE_ADDR" in spoofed));
  assert.ok(!Object.keys(spoofed).includes("REMOTE_ADDR"));
});

Deno.test("environ: the remoteAddress option overrides detection", async () => {
  const env = await environFor("http://x/", {
    remoteAddress: () => ({ address: "192.0.2.1", port: 1 }),
  }, { remoteAddr: { hostname: "127.0.0.1", port: 2 } });
  assert.equal(env.REMOTE_ADDR, "192.0.2.1");
  assert.equal(env.REMOTE_PORT, "1");
});

Deno.test("environ: a new environ for every call", async () => {
  const seen: Environ[] = [];
  const handler = toFetchHandler((environ, startResponse) => {
    seen.push(environ);
    environ["myapp.mark"] = seen.length;
    startResponse("200 OK", []);
    return [];
  });
  await handler(new Request("http://x/a"));
  await handler(new Request("http://x/b"));
  assert.notEqual(seen[0], seen[1]);
  assert.equal(seen[1]["myapp.mark"], 2);
  assert.equal(seen[0].PATH_INFO, "/a");
});

// The environ after enumeration: it has shed its Proxy traps (a fast path),
// so these check it still answers exactly as before and as a plain object.
/** Runs `probe` inside the app, on the live environ, and returns its result. */
async function probe<T>(
  request: Request,
  look: (environ: Environ) => T,
): Promise<T> {
  let result: T | undefined;
  const app: App = (environ, startResponse) => {
    result = look(environ);
    startResponse("200 OK", []);
    return [];
  };
  await toFetchHandler(app)(request);
  return result!;
}

function withCookies(): Request {
  const headers = new Headers();
  headers.append("set-cookie", "a=1");
  headers.append("set-cookie", "b=2");
  headers.append("x-one", "1");
  return new Request("http://x/p", { headers });
}

Deno.test("environ materialized: repeated Set-Cookie joins the same by lookup and by enumeration", async () => {
  const looked = await probe(withCookies(), (env) => env.HTTP_SET_COOKIE);
  const listed = await probe(
    withCookies(),
    (env) => ({ ...env }).HTTP_SET_COOKIE,
  );
  assert.equal(looked, "a=1, b=2");
  assert.equal(listed, "a=1, b=2");
});

Deno.test("environ materialized: for…in, in, descriptors and writes after enumeration", async () => {
  const seen = await probe(withCookies(), (env) => {
    const keys: string[] = [];
    for (const key in env) keys.push(key);
    const before = {
      keys,
      hasOne: "HTTP_X_ONE" in env,
      hasMissing: "HTTP_X_MISSING" in env,
      missing: env.HTTP_X_MISSING,
      descriptor: Object.getOwnPropertyDescriptor(env, "HTTP_X_ONE"),
    };
    env.HTTP_X_ONE = "changed";
    const plain = env as Record<string, unknown>;
    delete plain.PATH_INFO;
    env["app.key"] = 1;
    return {
      ...before,
      changed: env.HTTP_X_ONE,
      pathGone: !("PATH_INFO" in plain) && plain.PATH_INFO === undefined,
      added: Object.keys(env).includes("app.key"),
      keysAgain: Object.keys(env).length,
    };
  });
  assert.ok(seen.keys.includes("HTTP_X_ONE"));
  assert.ok(seen.keys.includes("HTTP_SET_COOKIE"));
  assert.ok(seen.keys.includes("wsgi.input"));
  assert.equal(new Set(seen.keys).size, seen.keys.length);
  assert.equal(seen.hasOne, true);
  assert.equal(seen.hasMissing, false);
  assert.equal(seen.missing, undefined);
  assert.deepEqual(seen.descriptor, {
    value: "1",
    writable: true,
    enumerable: true,
    configurable: true,
  });
  assert.equal(seen.changed, "changed");
  assert.equal(seen.pathGone, true);
  assert.equal(seen.added, true);
  assert.equal(seen.keysAgain, seen.keys.length); // one deleted, one added
});

Deno.test("environ materialized: one request's enumeration leaves the next lazy and whole", async () => {
  let calls = 0;
  const app: App = (environ, startResponse) => {
    calls++;
    if (calls === 1) Object.keys(environ);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode(String(environ.HTTP_X_ONE))];
  };
  const handler = toFetchHandler(app);
  const first = await handler(withCookies());
  const second = await handler(
    new Request("http://x/", { headers: { "x-one": "second" } }),
  );
  assert.equal(await first.text(), "1");
  assert.equal(await second.text(), "second");
});

// Regression: Deno builds Request.url from the Host header as sent, so
// `Host: a b@c\d` reached the app as SERVER_NAME "a b@c\d"; Bun hands over
// a relative Request.url ("/environ") when the Host is invalid, which the
// gateway split into PATH_INFO "/". The gateway now answers 400 when the
// URL is not absolute or its authority holds characters no host has.
async function rawRequest(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  const chunks: Uint8Array[] = [];
  for await (const chunk of conn.readable) chunks.push(chunk);
  return new TextDecoder().decode(
    chunks.reduce((a, c) => new Uint8Array([...a, ...c]), new Uint8Array()),
  );
}

Deno.test("environ: a Host with spaces, @ or \\ is a 400 and never reaches the app", async () => {
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler((environ, startResponse) => {
      seen.push(environ.SERVER_NAME);
      startResponse("200 OK", []);
      return [];
    }, { errors: () => {} }),
  );
  try {
    for (const host of ["a b", "user@evil", "a\\b", "x<y>"]) {
      const response = await rawRequest(
        server.addr.port,
        `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(response, /^HTTP\/1\.1 400 /, host);
    }
    const ok = await rawRequest(
      server.addr.port,
      "GET / HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n",
    );
    assert.match(ok, /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen, ["example.com"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("environ: hosts that are valid authorities pass", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    startResponse("200 OK", []);
    return [new TextEncoder().encode(environ.SERVER_NAME)];
  });
  for (const url of ["http://[::1]:8000/", "https://xn--bcher-kva.example/"]) {
    const response = await handler(new Request(url));
    assert.equal(response.status, 200, url);
  }
});

Deno.test("environ: a relative Request.url (Bun, after a bad Host) is a 400", async () => {
  let called = false;
  const handler = toFetchHandler((_environ, startResponse) => {
    called = true;
    startResponse("200 OK", []);
    return [];
  });
  // What Bun.serve passes for `GET /environ` with `Host: a b@c`.
  const request = {
    url: "/environ",
    method: "GET",
    headers: new Headers({ host: "a b@c" }),
    body: null,
  } as unknown as Request;
  const response = await handler(request);
  assert.equal(response.status, 400);
  assert.equal(called, false);
});

Deno.test("environ: console.log shows every key, lazy ones included, and spreading still copies only the keys", async () => {
  let shown = "";
  let copy: Record<string, unknown> = {};
  const handler = toFetchHandler((environ, startResponse) => {
    // Nothing read yet: the headers, wsgi.input and REMOTE_ADDR are lazy.
    shown = Deno.inspect(environ);
    copy = { ...environ };
    startResponse("204 No Content", []);
    return [];
  });
  await handler(
    new Request("http://x/a", { headers: { "user-agent": "probe/1" } }),
    { remoteAddr: { hostname: "192.0.2.7", port: 4000 } },
  );
  for (const key of ["HTTP_USER_AGENT", "wsgi.input", "REMOTE_ADDR"]) {
    assert.match(shown, new RegExp(`"?${key.replace(".", "\\.")}"?:`), key);
  }
  assert.match(shown, /probe\/1/);
  assert.doesNotMatch(shown, /Symbol|LazyKeys/);
  assert.equal(copy.HTTP_USER_AGENT, "probe/1");
  assert.ok(Object.keys(copy).every((key) => typeof key === "string"));
});
