// The typed environ: tests/toolkit/_typed_app.ts, written as an app author
// would, runs here and compiles under `tsc --strict` with no casts.
import assert from "node:assert/strict";
import { Router, toFetchHandler } from "../../mod.ts";
import { app, router, user } from "./_typed_app.ts";

Deno.test("typed environ: App<Env> passes where an App is expected and reads tsgi.env on a Workers-style call", async () => {
  let waited = 0;
  const handler = toFetchHandler(app);
  const response = await handler(
    new Request("http://localhost/?name=Bob&x=1", {
      headers: { "User-Agent": "xx", Cookie: "theme=dark; a=1" },
    }),
    { GREETING: "Hi" },
    { waitUntil: () => void waited++, passThroughOnException() {} },
  );
  assert.equal(await response.text(), "x 2   Hi Bob dark");
  assert.equal(waited, 1);
  const routed = toFetchHandler(new Router().get("/users/:id", user).app);
  assert.equal(
    await (await routed(new Request("http://localhost/users/7"))).text(),
    "user 7",
  );
  const files = toFetchHandler(router.app);
  assert.equal(
    await (await files(new Request("http://localhost/files/ada/a/b.txt")))
      .text(),
    "ada: a/b.txt",
  );
});

Deno.test({
  name: "typed environ: the app compiles under tsc --strict",
  ignore: !await Deno.stat(
    new URL("../../tools/node_modules/.bin/tsc", import.meta.url),
  ).then(() => true, () => false),
  async fn() {
    const root = new URL("../../", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command(
      `${root}tools/node_modules/.bin/tsc`,
      {
        args: [
          "--strict",
          "--noEmit",
          "--skipLibCheck",
          "--target",
          "es2022",
          // The sources as an ES module build sees them; the packed npm
          // package is checked under node16/nodenext in tests/integration.
          "--module",
          "esnext",
          "--moduleResolution",
          "bundler",
          "--allowImportingTsExtensions",
          "--lib",
          "esnext,dom,dom.iterable,dom.asynciterable",
          `${root}tests/toolkit/_typed_app.ts`,
        ],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    const out = new TextDecoder().decode(stdout) +
      new TextDecoder().decode(stderr);
    assert.equal(code, 0, out);
  },
});
