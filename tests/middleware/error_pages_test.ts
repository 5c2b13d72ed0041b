import assert from "node:assert/strict";
import { type App, errorPages, toFetchHandler } from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  checked,
  endless,
  readFirstThenAbort,
  serving,
} from "../_util/middleware.ts";

const failing: App = () => {
  throw new Error("database <down>");
};

function guarded(app: App, options = {}, gateway = {}) {
  return harness(checked(errorPages(checked(app), options)), gateway);
}

Deno.test("error pages: an error before the response becomes a 500 page without the stack", async () => {
  const { handler, logs } = guarded(failing);
  const response = await handler("/x");
  assert.equal(response.status, 500);
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  const text = await response.text();
  assert.equal(text, "500 Internal Server Error\n");
  assert.equal(response.headers.get("content-length"), String(text.length));
  const log = logs.join("");
  assert.match(log, /error page for GET \/x: Error: database <down>\n\s+at /);
  assert.doesNotMatch(
    log,
    /the application raised/,
    "the gateway saw no error",
  );
});

Deno.test("error pages: debug shows the stack, HTML-escaped when the client wants HTML", async () => {
  const { handler } = guarded(failing, { debug: true });
  const html = await handler(
    new Request("http://localhost/", { headers: { Accept: "text/html,*/*" } }),
  );
  assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
  const page = await html.text();
  assert.match(page, /<h1>Internal Server Error<\/h1>/);
  assert.match(page, /database &#60;down&#62;/);
  assert.match(page, /at failing/);
  const text = await (await handler("/")).text();
  assert.match(text, /^500 Internal Server Error\n\nError: database <down>\n/);
  const quiet = guarded(failing, { format: "html" });
  assert.doesNotMatch(await (await quiet.handler("/")).text(), /database/);
});

Deno.test("error pages: an iterable that raises before its first chunk is replaced via exc_info", async () => {
  let closes = 0;
  const { handler } = guarded((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return {
      *[Symbol.iterator]() {
        yield new Uint8Array(0);
        throw new RangeError("half way");
      },
      close() {
        closes++;
      },
    };
  });
  const response = await handler("/");
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "500 Internal Server Error\n");
  assert.equal(closes, 1);
});

Deno.test("error pages: an async app that rejects gets the page too", async () => {
  const { handler } = guarded(async () => {
    await Promise.resolve();
    throw new Error("later");
  });
  const response = await handler("/");
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "500 Internal Server Error\n");
});

Deno.test("error pages: an error after the body started is passed on and breaks the stream", async () => {
  let closes = 0;
  const { handler, logs } = guarded((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return {
      async *[Symbol.asyncIterator]() {
        yield b("partial");
        throw new Error("mid-stream");
      },
      close() {
        closes++;
      },
    };
  });
  const response = await handler("/");
  assert.equal(response.status, 200);
  await assert.rejects(response.text());
  assert.equal(closes, 1);
  assert.doesNotMatch(logs.join(""), /error page/);
  assert.match(logs.join(""), /mid-stream/);
});

Deno.test("error pages: x-wsgiorg.throw_errors makes the error propagate", async () => {
  const { handler, logs } = guarded(failing, {}, {
    extraEnviron: { "x-wsgiorg.throw_errors": true },
  });
  const response = await handler("/");
  assert.equal(response.status, 500);
  await response.text();
  assert.doesNotMatch(logs.join(""), /error page/);
  assert.match(logs.join(""), /the application raised/);
  // Called directly, the caller gets the error itself.
  assert.throws(
    () =>
      errorPages(failing)(
        { "x-wsgiorg.throw_errors": true } as never,
        () => () => Promise.resolve(),
      ),
    /database <down>/,
  );
});

Deno.test("error pages: a HEAD request gets the status without a body", async () => {
  const { handler } = guarded(failing);
  const response = await handler(
    new Request("http://localhost/", { method: "HEAD" }),
  );
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "");
});

Deno.test("error pages: a client abort mid-stream closes the app once", async () => {
  const body = endless();
  await serving(
    toFetchHandler(checked(errorPages(checked(body.app)))),
    async (base) => {
      const { first } = await readFirstThenAbort(base);
      assert.ok(first.length > 0);
      await body.closed;
    },
  );
  assert.equal(body.closeCalls(), 1);
});
