import assert from "node:assert/strict";
import { type App, ReadableInputStream, toFetchHandler } from "../../mod.ts";
import { b, dec, harness } from "../_util/helpers.ts";

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
  const input = new ReadableInputStream(chunked(["ab", "cd", "ef"]).stream);
  assert.equal(text(await input.read(1)), "a");
  assert.equal(text(await input.read()), "bcdef");
  assert.equal((await input.read()).length, 0);
  assert.equal((await input.read(10)).length, 0);
});

Deno.test("input: read(-1) and read(null) read to the end", async () => {
  assert.equal(
    text(await new ReadableInputStream(chunked(["x", "y"]).stream).read(-1)),
    "xy",
  );
  assert.equal(
    text(await new ReadableInputStream(chunked(["x", "y"]).stream).read(null)),
    "xy",
  );
});

Deno.test("input: read(n) returns exactly n bytes across chunks, never more", async () => {
  const input = new ReadableInputStream(
    chunked(["abc", "de", "fghij", "k"]).stream,
  );
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
  const input = new ReadableInputStream(body.stream);
  assert.equal((await input.read(0)).length, 0);
  assert.equal(body.pulled(), 0);
});

Deno.test("input: an empty body answers an empty array at once", async () => {
  const input = new ReadableInputStream(null);
  assert.equal((await input.read()).length, 0);
  assert.equal((await input.read(5)).length, 0);
  assert.equal((await input.readline()).length, 0);
  assert.deepEqual(await input.readlines(), []);
});

Deno.test("input: reads pull from the source only as far as asked", async () => {
  const body = chunked(["0123456789", "abcdefghij", "ABCDEFGHIJ", "!"]);
  const input = new ReadableInputStream(body.stream);
  assert.equal(text(await input.read(5)), "01234");
  assert.equal(body.pulled(), 1);
  assert.equal(text(await input.read(10)), "56789abcde");
  assert.equal(body.pulled(), 2);
});

Deno.test("input: readline keeps the newline and honours size", async () => {
  const input = new ReadableInputStream(
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
  const input = new ReadableInputStream(
    chunked(["a\nbb\n", "ccc\ndddd\n"]).stream,
  );
  const first = await input.readlines(3);
  assert.deepEqual(first.map(text), ["a\n", "bb\n"]);
  assert.deepEqual((await input.readlines()).map(text), ["ccc\n", "dddd\n"]);
});

Deno.test("input: for await yields lines", async () => {
  const input = new ReadableInputStream(chunked(["x\ny", "\nz"]).stream);
  const lines: string[] = [];
  for await (const line of input) lines.push(text(line));
  assert.deepEqual(lines, ["x\n", "y\n", "z"]);
});

Deno.test("input: in-memory input from a Uint8Array", async () => {
  const input = new ReadableInputStream(b("k=v\nrest"));
  assert.equal(text(await input.readline()), "k=v\n");
  assert.equal(text(await input.read()), "rest");
});

Deno.test("input: a bad size is a TypeError", async () => {
  const input = new ReadableInputStream(b("x"));
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

Deno.test("input: read1 answers what has arrived without waiting for more", async () => {
  let release!: () => void;
  const later = new Promise<void>((r) => (release = r));
  const source = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(b("abcdef"));
      await later;
      controller.enqueue(b("gh"));
      controller.close();
    },
  });
  const input = new ReadableInputStream(source);
  assert.deepEqual(await input.read1(4), b("abcd"));
  assert.deepEqual(await input.read1(100), b("ef"), "held bytes, no wait");
  const pending = input.read1(100);
  release();
  assert.deepEqual(await pending, b("gh"));
  assert.deepEqual(await input.read1(100), new Uint8Array(0));
  assert.deepEqual(await input.read1(0), new Uint8Array(0));
});

// wsgi.input's semantics hold whatever kind of stream the body is: a plain
// stream of chunks (Bun's bodies, user streams), a byte stream that enqueues
// chunks, and a byte stream that writes into the reader's buffer (Deno's
// network bodies) — the last two are read through a BYOB reader, exactly
// `size` bytes at a time, without joining chunks.
type Kind = "default" | "bytes-enqueue" | "bytes-respond";
const KINDS: Kind[] = ["default", "bytes-enqueue", "bytes-respond"];

/**
 * A body of the given chunks as a stream of `kind`; counts the bytes the
 * source gave up. A responding source writes at most the view it is offered,
 * keeping the rest of its chunk for the next pull, as a socket would.
 */
function source(
  kind: Kind,
  parts: (string | Uint8Array)[],
  end: "close" | "error" = "close",
): { stream: ReadableStream<Uint8Array>; given: () => number } {
  const chunks = parts.map((p) => typeof p === "string" ? b(p) : p);
  let i = 0;
  let given = 0;
  const finish = (controller: ReadableStreamController<Uint8Array>) => {
    if (end === "close") controller.close();
    else controller.error(new TypeError("connection reset"));
  };
  if (kind === "default") {
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === chunks.length) return finish(controller);
        given += chunks[i].length;
        controller.enqueue(chunks[i++]);
      },
    }, { highWaterMark: 0 });
    return { stream, given: () => given };
  }
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller: ReadableByteStreamController) {
      if (i === chunks.length) {
        finish(controller);
        // A pending BYOB read must be answered after close.
        if (end === "close") controller.byobRequest?.respond(0);
        return;
      }
      const request = controller.byobRequest;
      if (kind === "bytes-respond" && request?.view) {
        const view = new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        );
        const chunk = chunks[i];
        const n = Math.min(view.length, chunk.length);
        view.set(chunk.subarray(0, n));
        if (n === chunk.length) i++;
        else chunks[i] = chunk.subarray(n);
        given += n;
        request.respond(n);
      } else {
        given += chunks[i].length;
        controller.enqueue(chunks[i++].slice());
      }
    },
  }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
  return { stream, given: () => given };
}

for (const kind of KINDS) {
  Deno.test(`input (${kind}): read(n) is exactly n across chunks, short only at the end`, async () => {
    const input = new ReadableInputStream(
      source(kind, ["abc", "de", "fghij", "k"]).stream,
    );
    const got: string[] = [];
    for (;;) {
      const part = await input.read(4);
      if (part.length === 0) break;
      got.push(text(part));
    }
    assert.deepEqual(got, ["abcd", "efgh", "ijk"]);
    assert.equal((await input.read(4)).length, 0);
  });

  Deno.test(`input (${kind}): a size larger than the body returns the whole body`, async () => {
    for (const size of [1000, 200_000]) {
      const input = new ReadableInputStream(source(kind, ["ab", "cd"]).stream);
      const all = await input.read(size);
      assert.equal(text(all), "abcd");
      assert.ok(
        all.buffer.byteLength < 1000,
        `a short read keeps ${all.buffer.byteLength} bytes alive`,
      );
      assert.equal((await input.read(size)).length, 0);
      assert.equal((await input.read()).length, 0);
    }
  });

  Deno.test(`input (${kind}): read(65536) is exact over chunks that don't line up`, async () => {
    const body = new Uint8Array(5 * 65524 + 7).map((_, i) => (i * 13) % 256);
    const parts: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += 65524) {
      parts.push(body.subarray(at, at + 65524));
    }
    const input = new ReadableInputStream(source(kind, parts).stream);
    const lengths: number[] = [];
    let at = 0;
    for (;;) {
      const part = await input.read(65536);
      if (part.length === 0) break;
      lengths.push(part.length);
      assert.deepEqual(part, body.subarray(at, at + part.length));
      at += part.length;
    }
    assert.deepEqual(lengths, [65536, 65536, 65536, 65536, 65524 + 7 - 4 * 12]);
  });

  Deno.test(`input (${kind}): read() with no size returns the rest after a partial read`, async () => {
    const input = new ReadableInputStream(
      source(kind, ["ab", "cd", "ef"]).stream,
    );
    assert.equal(text(await input.read(3)), "abc");
    assert.equal(text(await input.read()), "def");
    assert.equal((await input.read()).length, 0);
  });

  Deno.test(`input (${kind}): readline across chunks mixes with read(n)`, async () => {
    const input = new ReadableInputStream(
      source(kind, ["one\ntw", "o\nthr", "ee\nfour", "\n", "tail"]).stream,
    );
    assert.equal(text(await input.readline()), "one\n");
    assert.equal(text(await input.read(2)), "tw");
    assert.equal(text(await input.readline()), "o\n");
    assert.equal(text(await input.read(4)), "thre");
    assert.equal(text(await input.readline()), "e\n");
    assert.equal(text(await input.readline(2)), "fo");
    assert.equal(text(await input.readline()), "ur\n");
    assert.equal(text(await input.read1(100)), "tail");
    assert.equal((await input.readline()).length, 0);
  });

  Deno.test(`input (${kind}): arrays handed out stay intact as reading goes on`, async () => {
    const body = new Uint8Array(300_000).map((_, i) => i % 251);
    const parts: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += 70_000) {
      parts.push(body.subarray(at, at + 70_000));
    }
    const input = new ReadableInputStream(source(kind, parts).stream);
    const got: Uint8Array[] = [];
    const sizes = [65536, 10, 100_000, 1, 65536];
    for (let i = 0;; i++) {
      const part = i % 3 === 2
        ? await input.readline()
        : await input.read(sizes[i % sizes.length]);
      if (part.length === 0) break;
      got.push(part);
    }
    const joined = new Uint8Array(body.length);
    let at = 0;
    for (const part of got) {
      joined.set(part, at);
      at += part.length;
    }
    assert.equal(at, body.length);
    assert.deepEqual(joined, body);
  });

  Deno.test(`input (${kind}): reading pulls no further than asked, plus one chunk`, async () => {
    const body = source(kind, ["0123456789", "abcdefghij", "ABCDEFGHIJ"]);
    const input = new ReadableInputStream(body.stream);
    assert.equal(text(await input.read(5)), "01234");
    assert.ok(body.given() <= 10, `${body.given()} bytes pulled for 5`);
    assert.equal(text(await input.read(10)), "56789abcde");
    assert.ok(body.given() <= 20, `${body.given()} bytes pulled for 15`);
  });

  Deno.test(`input (${kind}): maxBodySize stops reading with a RangeError`, async () => {
    for (const size of [4, 100_000]) {
      const input = new ReadableInputStream(
        source(kind, ["abc", "def", "ghi"]).stream,
        7,
      );
      await assert.rejects(
        async () => {
          for (;;) if ((await input.read(size)).length === 0) break;
        },
        (error: Error) =>
          error instanceof RangeError &&
          /maxBodySize \(7 bytes\)/.test(error.message),
      );
    }
  });

  Deno.test(`input (${kind}): a body that breaks off is an Error naming the bytes read`, async () => {
    for (const size of [100, 100_000]) {
      const input = new ReadableInputStream(
        source(kind, ["abc", "de"], "error").stream,
      );
      await assert.rejects(
        () => input.read(size),
        /Cannot read the request body: it ended early or was malformed after 5 bytes/,
      );
    }
  });

  Deno.test(`input (${kind}): small chunks don't pin big buffers`, async () => {
    const input = new ReadableInputStream(
      source(kind, ["a\n", "bc", "\n", "d"]).stream,
    );
    const lines = [await input.readline(), await input.readline()];
    assert.deepEqual(lines.map(text), ["a\n", "bc\n"]);
    for (const line of lines) {
      assert.ok(
        line.buffer.byteLength <= 1024,
        `a ${line.length}-byte line holds a ${line.buffer.byteLength}-byte buffer`,
      );
    }
    assert.equal(text(await input.read()), "d");
  });
}

Deno.test("input: an upload to Deno.serve reads back byte for byte", async () => {
  const body = new Uint8Array(3 * 65536 + 12_345).map((_, i) => (i * 7) % 256);
  const app: App = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    const sizes = [65536, 1000, 65536, 1, 100_000];
    const got: Uint8Array[] = [];
    let total = 0;
    for (let i = 0;; i++) {
      const part = await input.read(sizes[i % sizes.length]);
      if (part.length === 0) break;
      if (total + part.length < body.length) {
        assert.equal(part.length, sizes[i % sizes.length], "a short read");
      }
      got.push(part);
      total += part.length;
    }
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return got;
  };
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app),
  );
  for (const chunked of [false, true]) {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      method: "POST",
      // A stream body goes out chunked; bytes go with a Content-Length.
      body: chunked ? new Blob([body]).stream() : body,
    });
    assert.equal(response.status, 200);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
  }
});

Deno.test("input: the former names BodyInput and LogStream still work", async () => {
  const { BodyInput, LogErrorStream, LogStream } = await import("../../mod.ts");
  assert.equal(BodyInput, ReadableInputStream);
  assert.equal(LogStream, LogErrorStream);
  const input = new BodyInput(new Response("ab").body);
  assert.ok(input instanceof ReadableInputStream);
  assert.deepEqual(await input.read(), new TextEncoder().encode("ab"));
});
