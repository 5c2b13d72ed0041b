// Router: trie matching, routing_args, SCRIPT_NAME/PATH_INFO, 404/405,
// UTF-8 patterns, close() and streaming. Every app runs under validator().
import assert from "node:assert/strict";
import { Router, validator } from "../../mod.ts";
import type { App, RoutingArgs, ValidatedApp } from "../../mod.ts";
import { type Arbitrary, fc } from "../_util/fast_check.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  endless,
  gatedStream,
  readOneAndAbort,
  validated,
  withServer,
} from "../_util/serve.ts";

/** An app that answers with what it was given. */
function echo(label: string): App {
  return (environ, startResponse) => {
    const body = JSON.stringify({
      label,
      script: environ.SCRIPT_NAME,
      path: environ.PATH_INFO,
      args: environ["wsgiorg.routing_args"],
    });
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [b(body)];
  };
}

interface Echo {
  label: string;
  script: string;
  path: string;
  args: RoutingArgs;
}

/** Serves the router under validator() in-process; `json()` is an Echo. */
function serve(router: Router) {
  const served = validated(router.app);
  return {
    ...served,
    get: async (url: string, method?: string) => {
      const got = await served.get(url, method);
      return { ...got, json: () => got.json<Echo>() };
    },
  };
}

Deno.test("router: static, parameter and wildcard routes set routing_args", async () => {
  const router = new Router()
    .get("/", echo("root"))
    .get("/users", echo("users"))
    .get("/users/:id", echo("user"))
    .get("/users/:id/posts/:post", echo("post"))
    .get("/files/*", echo("files"))
    .get("/named/*rest", echo("named"));
  const { get, logs } = serve(router);
  assert.deepEqual((await get("/")).json(), {
    label: "root",
    script: "",
    path: "/",
    args: [[], {}],
  });
  assert.deepEqual((await get("/users")).json(), {
    label: "users",
    script: "/users",
    path: "",
    args: [[], {}],
  });
  assert.deepEqual((await get("/users/7")).json().args, [[], { id: "7" }]);
  assert.deepEqual((await get("/users/7/posts/9")).json(), {
    label: "post",
    script: "/users/7/posts/9",
    path: "",
    args: [[], { id: "7", post: "9" }],
  });
  assert.deepEqual((await get("/files/css/site.css")).json(), {
    label: "files",
    script: "/files",
    path: "/css/site.css",
    args: [["css/site.css"], {}],
  });
  assert.deepEqual((await get("/files")).json().args, [[""], {}]);
  assert.deepEqual((await get("/files/")).json().path, "/");
  assert.deepEqual((await get("/named/a/b")).json().args, [[], {
    rest: "a/b",
  }]);
  assert.deepEqual(logs, []);
});

Deno.test("router: static beats parameter beats wildcard, with fallback", async () => {
  const router = new Router()
    .get("/users/new", echo("new"))
    .get("/users/:id", echo("id"))
    .get("/users/:id/edit", echo("edit"))
    .get("/users/*", echo("wild"))
    .delete("/users/:id", echo("delete"));
  const { get } = serve(router);
  assert.equal((await get("/users/new")).json().label, "new");
  assert.equal((await get("/users/42")).json().label, "id");
  // The static branch "new" has no "edit" child: fall back to ":id".
  assert.deepEqual((await get("/users/new/edit")).json().args, [[], {
    id: "new",
  }]);
  assert.equal((await get("/users/a/b/c")).json().label, "wild");
  // DELETE has no static "new" route: the parameter route takes it.
  assert.deepEqual((await get("/users/new", "DELETE")).json().args, [[], {
    id: "new",
  }]);
});

Deno.test("router: a failed parameter branch leaves no capture behind", () => {
  const a = echo("a");
  const router = new Router().get("/a/:x/b", a).get("/a/*", a).get("/p/:x/q", a)
    .get("/p/:y/:z", a);
  assert.deepEqual(router.match("GET", "/a/1/c")?.positional, ["1/c"]);
  assert.deepEqual(router.match("GET", "/a/1/c")?.named, {});
  assert.deepEqual(router.match("GET", "/p/1/r")?.named, { y: "1", z: "r" });
});

Deno.test("router: 404 when nothing matches", async () => {
  const { get } = serve(
    new Router().get("/a", echo("a")).get("/b/:x", echo("b")),
  );
  for (const path of ["/", "/c", "/a/", "/b", "/b/", "/b//", "/A"]) {
    const { response, text } = await get(path);
    assert.equal(response.status, 404, path);
    assert.equal(text, "404 Not Found\n");
  }
});

Deno.test("router: 405 with Allow; OPTIONS 204; HEAD uses GET", async () => {
  const router = new Router()
    .get("/item/:id", echo("get"))
    .put("/item/:id", echo("put"))
    .add(["POST", "PATCH"], "/item/:id", echo("post"));
  const { get } = serve(router);
  const del = await get("/item/1", "DELETE");
  assert.equal(del.response.status, 405);
  assert.equal(
    del.response.headers.get("allow"),
    "GET, HEAD, OPTIONS, PATCH, POST, PUT",
  );
  const options = await get("/item/1", "OPTIONS");
  assert.equal(options.response.status, 204);
  assert.equal(
    options.response.headers.get("allow"),
    "GET, HEAD, OPTIONS, PATCH, POST, PUT",
  );
  const head = await get("/item/1", "HEAD");
  assert.equal(head.response.status, 200);
  assert.equal(head.text, "");
  assert.equal((await get("/item/1", "PATCH")).json().label, "post");
  // An explicit OPTIONS or any-method route wins.
  const own = serve(new Router().all("/x", echo("all")));
  assert.equal((await own.get("/x", "OPTIONS")).json().label, "all");
  assert.equal((await own.get("/x", "BREW")).json().label, "all");
});

Deno.test("router: UTF-8 and %-escaped patterns match the latin-1 PATH_INFO", async () => {
  const router = new Router()
    .get("/café/:name", echo("utf8"))
    .get("/a%20b", echo("escaped"))
    .get("/日本/*rest", echo("cjk"));
  const { get } = serve(router);
  const cafe = (await get("/caf%C3%A9/%E6%97%A5")).json();
  assert.equal(cafe.label, "utf8");
  // SCRIPT_NAME stays native (octets as latin-1); the argument is text.
  assert.equal(cafe.script, "/caf\u00c3\u00a9/\u00e6\u0097\u00a5");
  assert.deepEqual(cafe.args, [[], { name: "日" }]);
  assert.equal((await get("/a%20b")).json().label, "escaped");
  assert.equal((await get("/a b")).json().label, "escaped");
  assert.deepEqual((await get("/%E6%97%A5%E6%9C%AC/x/%C3%A9")).json().args, [
    [],
    { rest: "x/é" },
  ]);
  // Invalid UTF-8 in a parameter is shown as U+FFFD; the path keeps the octet.
  const bad = (await get("/caf%C3%A9/%FF")).json();
  assert.deepEqual(bad.args, [[], { name: "\ufffd" }]);
  assert.equal(bad.script.endsWith("\u00ff"), true);
});

Deno.test("router: mount moves the prefix to SCRIPT_NAME on segment boundaries", async () => {
  const router = new Router()
    .mount("/api", echo("api"))
    .mount("/api/v2/", echo("v2"))
    .get("/api/health", echo("health"));
  const { get } = serve(router);
  assert.deepEqual((await get("/api")).json(), {
    label: "api",
    script: "/api",
    path: "",
    args: [[], {}],
  });
  assert.equal((await get("/api/")).json().path, "/");
  assert.deepEqual(
    [
      (await get("/api/users/1")).json().script,
      (await get("/api/users/1")).json().path,
    ],
    ["/api", "/users/1"],
  );
  assert.deepEqual((await get("/api/v2/x")).json().label, "v2");
  assert.deepEqual((await get("/api/v2/x")).json().path, "/x");
  assert.equal((await get("/api/health")).json().label, "health");
  // A method the route does not take falls through to the mount.
  assert.equal((await get("/api/health", "POST")).json().label, "api");
  assert.equal((await get("/apix")).response.status, 404);
});

Deno.test("router: nested routers compose SCRIPT_NAME and routing_args", async () => {
  const inner = new Router().get("/posts/:post", echo("post"));
  const outer = new Router().mount("/users/:user", inner.app);
  const { get } = serve(outer);
  assert.deepEqual((await get("/users/ann/posts/3")).json(), {
    label: "post",
    script: "/users/ann/posts/3",
    path: "",
    args: [[], { user: "ann", post: "3" }],
  });
});

Deno.test("router: routing_args add to those an outer dispatcher set", async () => {
  const router = new Router().get("/x/*", echo("x"));
  const outer: App = (environ, startResponse) => {
    environ["wsgiorg.routing_args"] = [["outer"], { site: "a" }];
    return router.app(environ, startResponse);
  };
  const checked = validator(outer);
  const { handler } = harness(checked);
  const json = JSON.parse(await (await handler("/x/tail")).text()) as Echo;
  assert.deepEqual(json.args, [["outer", "tail"], { site: "a" }]);
});

Deno.test("router: consumePath false leaves the path, except for mounts", async () => {
  const router = new Router({ consumePath: false })
    .get("/users/:id", echo("user"))
    .mount("/sub", echo("sub"));
  const { get } = serve(router);
  const user = (await get("/users/1")).json();
  assert.deepEqual([user.script, user.path], ["", "/users/1"]);
  const sub = (await get("/sub/x")).json();
  assert.deepEqual([sub.script, sub.path], ["/sub", "/x"]);
});

Deno.test("router: an empty PATH_INFO and a custom notFound", async () => {
  const router = new Router({ notFound: echo("custom 404") })
    .get("", echo("empty"))
    .get("/", echo("slash"));
  const inner = new Router().mount("/app", router.app);
  const { get } = serve(inner);
  assert.equal((await get("/app")).json().label, "empty");
  assert.equal((await get("/app/")).json().label, "slash");
  assert.equal((await get("/app/nothing")).json().label, "custom 404");
});

Deno.test("router: refuses bad patterns and duplicates", () => {
  const app = echo("x");
  const bad: [string, string][] = [
    ["GET", "users"],
    ["GET", "/a/*/b"],
    ["GET", "/a/:"],
    ["GET", "/a/:1x"],
    ["GET", "/a/:id/:id"],
    ["GET", "/a/*bad-name"],
    ["G T", "/a"],
  ];
  for (const [method, pattern] of bad) {
    assert.throws(
      () => new Router().add(method, pattern, app),
      TypeError,
      pattern,
    );
  }
  assert.throws(() => new Router().mount("/a/*", app), TypeError);
  assert.throws(
    () => new Router().get("/a", "app" as unknown as App),
    TypeError,
  );
  const router = new Router().get("/a/:id", app);
  assert.throws(() => router.get("/a/:other", app), {
    message: /Cannot add GET "\/a\/:other": that route is already defined/,
  });
  router.post("/a/:id", app); // another method is fine
  router.mount("/m", app);
  assert.throws(() => router.mount("/m/", app), /already defined/);
});

Deno.test("router: match() finds routes without calling them", () => {
  const app = echo("x");
  const router = new Router().get("/a/:id", app).mount("/m", app);
  assert.deepEqual(router.match("GET", "/a/1"), {
    app,
    positional: [],
    named: { id: "1" },
    consumed: 4,
    mount: false,
  });
  assert.equal(router.match("POST", "/a/1"), undefined);
  assert.equal(router.match("GET", "/m/x")?.consumed, 2);
  assert.equal(router.match("GET", "/m/x")?.mount, true);
});

Deno.test("router: 1,000 routes all match their own paths", () => {
  const router = new Router();
  const apps: App[] = [];
  for (let i = 0; i < 1000; i++) {
    const app = echo(String(i));
    apps.push(app);
    router.get(`/r${i}/items/:id/v${i % 7}`, app);
  }
  for (let i = 0; i < 1000; i++) {
    const found = router.match("GET", `/r${i}/items/x${i}/v${i % 7}`);
    assert.equal(found?.app, apps[i]);
    assert.deepEqual(found?.named, { id: `x${i}` });
  }
  assert.equal(router.match("GET", "/r1/items/x/v0"), undefined);
});

Deno.test("router: static segments sharing a prefix, and what falls back to a parameter", () => {
  const router = new Router();
  const names = ["res", "res1", "res11", "ras", "r"];
  const apps = names.map((name) => echo(name));
  names.forEach((name, i) => router.get(`/${name}`, apps[i]));
  router.get("/res1/:id", echo("res1 id")).get("/:any", echo("any"));
  names.forEach((name, i) => {
    assert.equal(router.match("GET", `/${name}`)?.app, apps[i], name);
  });
  // Past the end of a key, short of one, off its chars, or below the lowest
  // branch char: each takes the parameter.
  for (const path of ["/res111", "/re", "/res2", "/rex", "/A", "/res1x"]) {
    assert.deepEqual(router.match("GET", path)?.named, {
      any: path.slice(1),
    }, path);
  }
  assert.deepEqual(router.match("GET", "/res1/7")?.named, { id: "7" });
  assert.equal(router.match("GET", "/res11/7"), undefined);
});

Deno.test("router: a static route shadows a parameter; trailing and empty segments count", () => {
  const a = echo("a");
  const router = new Router()
    .get("/users/new", a)
    .get("/users/:id", a)
    .get("/users/:id/", a)
    .get("/a//b", a);
  assert.deepEqual(router.match("GET", "/users/new")?.named, {});
  assert.deepEqual(router.match("GET", "/users/newer")?.named, { id: "newer" });
  assert.deepEqual(router.match("GET", "/users/ne")?.named, { id: "ne" });
  // "/users/new/" is no static route: the parameter takes "new".
  const slash = router.match("GET", "/users/new/");
  assert.deepEqual([slash?.named, slash?.consumed], [{ id: "new" }, 10]);
  assert.equal(router.match("GET", "/users//"), undefined);
  assert.equal(router.match("GET", "/a//b")?.app, a);
  assert.equal(router.match("GET", "/a/b"), undefined);
});

Deno.test("router: parameters under one prefix, with static tails sharing a prefix", () => {
  const router = new Router()
    .get("/p/:a/x", echo("x"))
    .get("/p/:a/xy", echo("xy"))
    .get("/p/:a/:b", echo("b"));
  assert.deepEqual(router.match("GET", "/p/1/x")?.named, { a: "1" });
  assert.deepEqual(router.match("GET", "/p/1/xy")?.named, { a: "1" });
  assert.deepEqual(router.match("GET", "/p/1/xz")?.named, { a: "1", b: "xz" });
  assert.deepEqual(router.match("GET", "/p/1/xyz")?.named, {
    a: "1",
    b: "xyz",
  });
});

Deno.test("router: non-ASCII captures are decoded, however far a static key matched first", () => {
  const router = new Router()
    .get("/café", echo("static"))
    .get("/:name", echo("param"))
    .get("/f/:id/*rest", echo("tail"));
  // "caf\xc3" matches the start of the static key "caf\xc3\xa9", then "\xa8"
  // does not: the parameter must still see (and decode) the whole segment.
  assert.deepEqual(router.match("GET", "/caf\xc3\xa8")?.named, {
    name: "cafè",
  });
  assert.deepEqual(router.match("GET", "/caf\xc3\xa9")?.named, {});
  // The static key matched to its end, then an ASCII char: the non-ASCII
  // chars were all seen by the walk, which must remember them.
  assert.deepEqual(router.match("GET", "/caf\xc3\xa9x")?.named, {
    name: "caféx",
  });
  // ASCII parameters, a non-ASCII tail.
  assert.deepEqual(router.match("GET", "/f/1/\xc3\xa9/x")?.named, {
    id: "1",
    rest: "é/x",
  });
});

Deno.test("router: an escaped / in a static pattern never takes a path's segments", () => {
  const router = new Router()
    .get("/a%2Fb/:id", echo("escaped"))
    .get("/a/:x/:id", echo("plain"));
  assert.deepEqual(router.match("GET", "/a/b/1")?.named, { x: "b", id: "1" });
});

Deno.test("router: routes added after matching are found", () => {
  const router = new Router().get("/a/:id", echo("id"));
  assert.deepEqual(router.match("GET", "/a/b")?.named, { id: "b" });
  const late = echo("late");
  router.get("/a/b", late).get("/a/bc/:x", late);
  assert.equal(router.match("GET", "/a/b")?.app, late);
  assert.deepEqual(router.match("GET", "/a/bc/1")?.named, { x: "1" });
  assert.deepEqual(router.match("GET", "/a/bd")?.named, { id: "bd" });
});

// A reference for the matching rules, written as plainly as possible: route
// lists filtered segment by segment instead of a trie. Random routes and
// paths must get the same answer from both.
interface RefRoute {
  method: string;
  /** Segments: a native static, ":name", or a last "*" / "*name". */
  parts: string[];
  mount: boolean;
  app: App;
}

function refMatch(routes: RefRoute[], method: string, path: string) {
  const segments = path === "" ? [] : path.slice(1).split("/");
  const pick = (list: RefRoute[]) =>
    list.find((r) => r.method === method) ??
      (method === "HEAD" ? list.find((r) => r.method === "GET") : undefined) ??
      list.find((r) => r.method === "*");
  const isWild = (r: RefRoute) => r.parts.at(-1)?.startsWith("*") ?? false;
  const go = (
    depth: number,
    candidates: RefRoute[],
    captures: string[],
  ): { route: RefRoute; captures: string[]; consumed: number } | undefined => {
    const pos = segments.slice(0, depth).reduce((n, s) => n + 1 + s.length, 0);
    if (depth === segments.length) {
      const route = pick(
        candidates.filter((r) =>
          !r.mount && !isWild(r) && r.parts.length === depth
        ),
      );
      const consumed = path.endsWith("/") ? path.length - 1 : path.length;
      if (route !== undefined) return { route, captures, consumed };
    } else {
      const segment = segments[depth];
      const statics = candidates.filter((r) =>
        r.parts.length > depth && r.parts[depth] === segment &&
        !/^[:*]/.test(segment)
      );
      const found = go(depth + 1, statics, captures);
      if (found !== undefined) return found;
      if (segment !== "") {
        const params = candidates.filter((r) =>
          r.parts[depth]?.startsWith(":")
        );
        const found = go(depth + 1, params, [...captures, segment]);
        if (found !== undefined) return found;
      }
    }
    const tail = pick(
      candidates.filter((r) => isWild(r) && r.parts.length === depth + 1),
    );
    if (tail !== undefined) {
      const rest = depth === segments.length ? "" : path.slice(pos + 1);
      return { route: tail, captures: [...captures, rest], consumed: pos };
    }
    const mount = candidates.find((r) => r.mount && r.parts.length === depth);
    if (mount !== undefined) return { route: mount, captures, consumed: pos };
    return undefined;
  };
  const found = go(0, routes, []);
  if (found === undefined) return undefined;
  const positional: string[] = [];
  const named: Record<string, string> = {};
  const names = found.route.parts.filter((p) => /^[:*]/.test(p));
  names.forEach((name, i) => {
    const bytes = Uint8Array.from(found.captures[i], (c) => c.charCodeAt(0));
    const value = new TextDecoder().decode(bytes);
    if (name === "*") positional.push(value);
    else named[name.slice(1)] = value;
  });
  return {
    app: found.route.app,
    positional,
    named,
    consumed: found.consumed,
    mount: found.route.mount,
  };
}

Deno.test("router: random routes and paths match as the plain reference does", () => {
  // Static segments overlap in prefixes; "é" is the pattern for the native
  // "\xc3\xa9", and paths also hold "\xc3\xa8", which shares its first char.
  const staticPart = fc.constantFrom("a", "ab", "abc", "b", "", "é");
  const part = fc.oneof(staticPart, fc.constant(":p"));
  const routeArb: Arbitrary<
    { method: string; parts: string[]; tail: string; mount: boolean }
  > = fc.record({
    method: fc.constantFrom("GET", "POST", "HEAD", "*"),
    parts: fc.array(part, { maxLength: 3 }),
    tail: fc.constantFrom("", "", "*", "*rest"),
    mount: fc.boolean(),
  });
  const pathArb = fc.oneof(
    fc.constant(""),
    fc.array(
      fc.constantFrom(
        "a",
        "ab",
        "abc",
        "abd",
        "b",
        "",
        "x",
        "\xc3\xa9",
        "\xc3\xa8",
      ),
      { minLength: 1, maxLength: 5 },
    ).map((segments) => "/" + segments.join("/")),
  );
  const native = (p: string) => p === "é" ? "\xc3\xa9" : p;
  fc.assert(
    fc.property(
      fc.array(routeArb, { maxLength: 12 }),
      fc.array(
        fc.tuple(fc.constantFrom("GET", "HEAD", "POST", "BREW"), pathArb),
        {
          minLength: 1,
          maxLength: 8,
        },
      ),
      (specs, requests) => {
        const router = new Router();
        const reference: RefRoute[] = [];
        for (const spec of specs) {
          // Each parameter its own name: ":p0", ":p1", ...
          let parts = spec.parts.map((p, i) => p === ":p" ? `:p${i}` : p);
          const app = echo(JSON.stringify(spec));
          if (spec.mount) {
            const prefix = "/" + parts.join("/");
            // mount() drops one trailing "/".
            const kept = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
            parts = kept === "" ? [] : kept.slice(1).split("/");
            try {
              router.mount(prefix, app);
            } catch {
              continue; // already mounted there
            }
            reference.push({
              method: "*",
              parts: parts.map(native),
              mount: true,
              app,
            });
            continue;
          }
          if (spec.tail !== "") parts = [...parts, spec.tail];
          const pattern = parts.length === 0 ? "" : "/" + parts.join("/");
          try {
            router.add(spec.method, pattern, app);
          } catch {
            continue; // a duplicate
          }
          reference.push({
            method: spec.method,
            parts: parts.map(native),
            mount: false,
            app,
          });
        }
        for (const [method, path] of requests) {
          assert.deepEqual(
            router.match(method, path),
            refMatch(reference, method, path),
            `${method} ${JSON.stringify(path)}`,
          );
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("router: streams without buffering", async () => {
  const { app, closes, expectStreamed } = gatedStream();
  const checked = validator(new Router().get("/s", app).app);
  const { handler } = harness(checked);
  await expectStreamed(await handler("/s"));
  await checked.allClosed();
  assert.equal(closes(), 1);
});

Deno.test("router: close() is honoured for routes, 404 and 405", async () => {
  let closes = 0;
  const closing: App = (_e, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return Object.assign([b("x")], { close: () => void closes++ });
  };
  const { get, checked } = serve(new Router().get("/c", closing));
  await get("/c");
  assert.equal(closes, 1);
  assert.equal((await get("/nope")).response.status, 404);
  assert.equal((await get("/c", "POST")).response.status, 405);
  assert.equal(checked.openResults, 0);
});

Deno.test("router: a client abort through Deno.serve closes the routed app", async () => {
  const { app, closed } = endless();
  const checked: ValidatedApp = validator(
    new Router().get("/stream/:n", app).app,
  );
  await withServer(checked, async (base) => {
    assert.match(await readOneAndAbort(`${base}/stream/1`), /^chunk 0/);
    await closed;
    await checked.allClosed();
  });
  checked.assertClosed();
});
