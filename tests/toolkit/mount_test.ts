// mount(): longest prefix, SCRIPT_NAME/PATH_INFO per PEP 3333, 404, close()
// and streaming. Every app runs under validator().
import assert from "node:assert/strict";
import { mount, Router, validator } from "../../mod.ts";
import type { App } from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  endless,
  gatedStream,
  readOneAndAbort,
  validated,
  withServer,
} from "../_util/serve.ts";

function echo(label: string): App {
  return (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [b(JSON.stringify([label, environ.SCRIPT_NAME, environ.PATH_INFO]))];
  };
}

function serve(app: App, scriptName = "") {
  return validated(app, { scriptName });
}

Deno.test("mount: SCRIPT_NAME and PATH_INFO exactly as PEP 3333 wants", async () => {
  const { get, logs } = serve(
    mount({ "/": echo("root"), "/app": echo("app") }),
  );
  assert.deepEqual((await get("/app")).json(), ["app", "/app", ""]);
  assert.deepEqual((await get("/app/")).json(), ["app", "/app", "/"]);
  assert.deepEqual((await get("/app/x/y")).json(), ["app", "/app", "/x/y"]);
  assert.deepEqual((await get("/")).json(), ["root", "", "/"]);
  assert.deepEqual((await get("/other")).json(), ["root", "", "/other"]);
  assert.deepEqual(logs, []);
});

Deno.test("mount: prefixes end on segment boundaries", async () => {
  const { get } = serve(mount({ "/app": echo("app") }));
  assert.equal((await get("/apple")).status, 404);
  assert.equal((await get("/ap")).status, 404);
  assert.equal((await get("/")).status, 404);
  assert.equal((await get("/app")).status, 200);
  const notFound = await get("/nothing");
  assert.equal(notFound.text, "404 Not Found\n");
});

Deno.test("mount: the longest prefix wins", async () => {
  const { get } = serve(mount({
    "/": echo("root"),
    "/api": echo("api"),
    "/api/v2": echo("v2"),
    "/api/v2/admin/": echo("admin"),
  }));
  assert.deepEqual((await get("/api/v1/x")).json(), ["api", "/api", "/v1/x"]);
  assert.deepEqual((await get("/api/v2")).json(), ["v2", "/api/v2", ""]);
  assert.deepEqual((await get("/api/v2/users")).json(), [
    "v2",
    "/api/v2",
    "/users",
  ]);
  assert.deepEqual((await get("/api/v2/admin/x")).json(), [
    "admin",
    "/api/v2/admin",
    "/x",
  ]);
  assert.deepEqual((await get("/api/v2x")).json(), ["api", "/api", "/v2x"]);
  assert.deepEqual((await get("/apiv2")).json(), ["root", "", "/apiv2"]);
});

Deno.test("mount: under a gateway scriptName and nested mounts, SCRIPT_NAME grows", async () => {
  const inner = mount({ "/b": echo("b") });
  const { get } = serve(mount({ "/a": inner }), "/site");
  assert.deepEqual((await get("/site/a/b/c")).json(), ["b", "/site/a/b", "/c"]);
  assert.deepEqual((await get("/site/a/b")).json(), ["b", "/site/a/b", ""]);
  assert.equal((await get("/site/a")).status, 404);
});

Deno.test("mount: UTF-8 and %-escaped prefixes match the latin-1 PATH_INFO", async () => {
  const { get } = serve(
    mount({ "/café": echo("cafe"), "/a%20b": echo("space") }),
  );
  assert.deepEqual((await get("/caf%C3%A9/menu")).json(), [
    "cafe",
    "/caf\u00c3\u00a9",
    "/menu",
  ]);
  assert.deepEqual((await get("/a%20b")).json(), ["space", "/a b", ""]);
});

Deno.test("mount: a router mounted beside other apps", async () => {
  const api = new Router().get("/users/:id", echo("user")).post(
    "/users",
    echo("create"),
  );
  const { get } = serve(mount([["/api", api.app], ["/", echo("site")]]));
  assert.deepEqual((await get("/api/users/7")).json(), [
    "user",
    "/api/users/7",
    "",
  ]);
  assert.equal((await get("/api/users/7", "DELETE")).status, 405);
  assert.deepEqual((await get("/index.html")).json(), [
    "site",
    "",
    "/index.html",
  ]);
});

Deno.test("mount: an empty PATH_INFO reaches only the root app", async () => {
  const root = mount({ "/": echo("root") });
  const inner = mount({ "/x": root });
  const { get } = serve(inner);
  assert.deepEqual((await get("/x")).json(), ["root", "/x", ""]);
  const { get: get404 } = serve(mount({ "/x": mount({ "/y": echo("y") }) }));
  assert.equal((await get404("/x")).status, 404);
});

Deno.test("mount: custom notFound", async () => {
  const { get } = serve(
    mount({ "/a": echo("a") }, { notFound: echo("custom") }),
  );
  assert.deepEqual((await get("/b")).json(), ["custom", "", "/b"]);
});

Deno.test("mount: refuses bad prefixes, duplicates and non-apps", () => {
  assert.throws(() => mount({ "api": echo("x") }), TypeError);
  assert.throws(() => mount({ "/a": "app" as unknown as App }), TypeError);
  assert.throws(() => mount([["/a", echo("1")], ["/a/", echo("2")]]), {
    message: /another app is mounted at the same prefix/,
  });
  assert.throws(() => mount([["", echo("1")], ["/", echo("2")]]), Error);
});

Deno.test("mount: streams without buffering and closes the mounted result", async () => {
  const { app, closes, expectStreamed } = gatedStream();
  const checked = validator(mount({ "/s": app }));
  const { handler } = harness(checked);
  await expectStreamed(await handler("/s/x"));
  await checked.allClosed();
  assert.equal(closes(), 1);
});

Deno.test("mount: a client abort through Deno.serve closes the mounted app", async () => {
  const { app, closed } = endless();
  const checked = validator(mount({ "/": echo("root"), "/live": app }));
  await withServer(checked, async (base) => {
    assert.match(await readOneAndAbort(`${base}/live/feed`), /^chunk 0/);
    await closed;
    await checked.allClosed();
  });
  checked.assertClosed();
});

Deno.test("mount: lookup cost follows the path's depth, not the number of apps", () => {
  // Not a timing test: count the Map lookups through a spy on the table.
  const apps: Record<string, App> = {};
  for (let i = 0; i < 1000; i++) apps[`/app${i}`] = echo(String(i));
  let lookups = 0;
  const get = Map.prototype.get;
  Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown) {
    lookups++;
    return get.call(this, key);
  };
  try {
    const app = mount(apps);
    const environ = { PATH_INFO: "/app999/a/b", SCRIPT_NAME: "" } as Parameters<
      App
    >[0];
    app(environ, () => () => Promise.resolve());
    assert.equal(environ.SCRIPT_NAME, "/app999");
  } finally {
    Map.prototype.get = get;
  }
  assert.ok(lookups <= 3, `${lookups} lookups for a 3-segment path`);
});
