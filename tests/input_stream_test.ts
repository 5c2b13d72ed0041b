import assert from "node:assert/strict";
import { BodyInput } from "../mod.ts";
import type { App } from "../mod.ts";
import { b, dec, harness } from "./_helpers.ts";

/** A body stream made of the given chunks; counts how many were pulled. */
function chunked(parts: string[]): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
} {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(b(parts[i++]));
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => i };
}

const text = (bytes: Uint8Array) => dec.decode(bytes);

Deno.test("input: read() with no size returns the whole rest of the body", async () => {
  const input = new BodyInput(chunked(["ab", "cd", "ef"]).stream);
  assert.equal(text(await input.read(1)), "a");
  assert.equal(text(await input.read()), "bcdef");
  assert.equal((await input.read()).length, 0);
  assert.equal((await input.read(10)).length, 0);
});

Deno.test("input: read(-1) and read(null) read to the end", async () => {
  assert.equal(
    text(await new BodyInput(chunked(["x", "y"]).stream).read(-1)),
    "xy",
  );
  assert.equal(
    text(await new BodyInput(chunked(["x", "y"]).stream).read(null)),
    "xy",
  );
});

Deno.test("input: read(n) returns exactly n bytes across chunks, never more", async () => {
  const input = new BodyInput(chunked(["abc", "de", "fghij", "k"]).stream);
  const sizes: string[] = [];
  for (;;) {
    const part = await input.read(4);
    if (part.length === 0) break;
    assert.ok(part.length <= 4);
    sizes.push(text(part));
  }
  assert.deepEqual(sizes, ["abcd", "efgh", "ijk"]);
});

Deno.test("input: read(0) returns an empty array without reading", async () => {
  const body = chunked(["abc"]);
  const input = new BodyInput(body.stream);
  assert.equal((await input.read(0)).length, 0);
  assert.equal(body.pulled(), 0);
});

Deno.test("input: an empty body answers an empty array at once", async () => {
  const input = new BodyInput(null);
  assert.equal((await input.read()).length, 0);
  assert.equal((await input.read(5)).length, 0);
  assert.equal((await input.readline()).length, 0);
  assert.deepEqual(await input.readlines(), []);
});

Deno.test("input: reads pull from the source only as far as asked", async () => {
  const body = chunked(["0123456789", "abcdefghij", "ABCDEFGHIJ", "!"]);
  const input = new BodyInput(body.stream);
  assert.equal(text(await input.read(5)), "01234");
  assert.equal(body.pulled(), 1);
  assert.equal(text(await input.read(10)), "56789abcde");
  assert.equal(body.pulled(), 2);
});

Deno.test("input: readline keeps the newline and honours size", async () => {
  const input = new BodyInput(
    chunked(["one\ntw", "o\nthree is long", "\nend"]).stream,
  );
  assert.equal(text(await input.readline()), "one\n");
  assert.equal(text(await input.readline()), "two\n");
  assert.equal(text(await input.readline(5)), "three");
  assert.equal(text(await input.readline()), " is long\n");
  assert.equal(text(await input.readline()), "end");
  assert.equal((await input.readline()).length, 0);
});

Deno.test("input: readlines(hint) stops after the line that passes the hint", async () => {
  const input = new BodyInput(chunked(["a\nbb\n", "ccc\ndddd\n"]).stream);
  const first = await input.readlines(3);
  assert.deepEqual(first.map(text), ["a\n", "bb\n"]);
  assert.deepEqual((await input.readlines()).map(text), ["ccc\n", "dddd\n"]);
});

Deno.test("input: for await yields lines", async () => {
  const input = new BodyInput(chunked(["x\ny", "\nz"]).stream);
  const lines: string[] = [];
  for await (const line of input) lines.push(text(line));
  assert.deepEqual(lines, ["x\n", "y\n", "z"]);
});

Deno.test("input: in-memory input from a Uint8Array", async () => {
  const input = new BodyInput(b("k=v\nrest"));
  assert.equal(text(await input.readline()), "k=v\n");
  assert.equal(text(await input.read()), "rest");
});

Deno.test("input: a bad size is a TypeError", async () => {
  const input = new BodyInput(b("x"));
  await assert.rejects(input.read("3" as unknown as number), TypeError);
});

Deno.test("gateway: wsgi.input streams a POST body through the app", async () => {
  const body = chunked(["line one\n", "line two\n", "tail"]);
  const app: App = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    const first = await input.readline();
    const next = await input.read(4);
    const rest = await input.read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [first, b("|"), next, b("|"), rest];
  };
  const { handler } = harness(app);
  const response = await handler(
    new Request("http://x/", { method: "POST", body: body.stream }),
  );
  assert.equal(await response.text(), "line one\n|line| two\ntail");
});

Deno.test("gateway: maxBodySize answers 413 for a declared Content-Length without calling the app", async () => {
  let called = false;
  const { handler } = harness(() => {
    called = true;
    return [];
  }, { maxBodySize: 4 });
  const response = await handler(
    new Request("http://x/", {
      method: "POST",
      body: "hello",
      headers: { "content-length": "5" },
    }),
  );
  assert.equal(response.status, 413);
  await response.body?.cancel();
  assert.equal(called, false);
});

Deno.test("gateway: maxBodySize stops a streamed body and answers 413", async () => {
  const body = chunked(["abc", "def", "ghi", "jkl"]);
  let got = "";
  let caught: unknown;
  const app: App = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    try {
      for (;;) {
        const part = await input.read(2);
        if (part.length === 0) break;
        got += text(part);
      }
    } catch (error) {
      caught = error;
      throw error;
    }
    startResponse("200 OK", []);
    return [];
  };
  const { handler, logs } = harness(app, { maxBodySize: 7 });
  const response = await handler(
    new Request("http://x/", { method: "POST", body: body.stream }),
  );
  assert.equal(response.status, 413);
  await response.body?.cancel();
  assert.ok(caught instanceof RangeError);
  assert.match((caught as Error).message, /maxBodySize \(7 bytes\)/);
  assert.ok(got.length <= 7, `the app saw ${got.length} bytes`);
  assert.ok(!got.includes("h"));
  assert.match(logs.join(""), /larger than maxBodySize, answered 413/);
  assert.ok(!logs.join("").includes("    at "), "no stack for a client error");
});

Deno.test("gateway: wsgi.errors writes go to the errors sink", async () => {
  const app: App = (environ, startResponse) => {
    const errors = environ["wsgi.errors"];
    errors.write("one\n");
    errors.writelines(["two", "\n"]);
    errors.flush();
    startResponse("204 No Content", []);
    return [];
  };
  const { handler, logs } = harness(app);
  const response = await handler("http://x/");
  assert.equal(response.status, 204);
  assert.equal(logs.join(""), "one\ntwo\n");
});
