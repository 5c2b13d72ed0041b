// The environ after enumeration: it has shed its Proxy traps (a fast path),
// so these check it still answers exactly as before and as a plain object.
import assert from "node:assert/strict";
import { toFetchHandler } from "../mod.ts";
import type { App, Environ } from "../mod.ts";

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
