import assert from "node:assert/strict";
import { type App, filter, toFetchHandler } from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  allClosed,
  checked,
  endless,
  readFirstThenAbort,
  serving,
} from "../_util/middleware.ts";

const upper = (chunk: Uint8Array) =>
  b(new TextDecoder().decode(chunk).toUpperCase());

function html(body: string[], length = true): App {
  return (_environ, startResponse) => {
    const total = body.reduce((n, part) => n + b(part).length, 0);
    startResponse("200 OK", [
      ["Content-Type", "text/html"],
      ...(length
        ? [["Content-Length", String(total)] as [string, string]]
        : []),
    ]);
    return body.map(b);
  };
}

Deno.test("filter: chunks are transformed and a known body gets its new Content-Length", async () => {
  const app = checked(filter(checked(html(["<p>hi</p>", "<p>ok</p>"])), {
    transform: (chunk) => b(new TextDecoder().decode(chunk) + "\n"),
  }));
  await serving(toFetchHandler(app), async (base) => {
    const response = await fetch(base);
    assert.equal(response.headers.get("content-length"), "20");
    assert.equal(await response.text(), "<p>hi</p>\n<p>ok</p>\n");
  });
  await allClosed();
});

Deno.test("filter: a streamed body loses Content-Length and is transformed as it streams", async () => {
  let closes = 0;
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"], [
      "Content-Length",
      "6",
    ]]);
    return {
      async *[Symbol.asyncIterator]() {
        yield b("abc");
        yield b("def");
      },
      close() {
        closes++;
      },
    };
  };
  const { handler } = harness(
    checked(filter(checked(app), { transform: upper })),
  );
  const response = await handler("/");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await response.text(), "ABCDEF");
  assert.equal(closes, 1);
  await allClosed();
});

Deno.test("filter: headers() rewrites headers, or returns null to leave a response alone", async () => {
  const { handler } = harness(
    checked(filter(checked(html(["<b>x</b>"])), {
      headers: (status, headers) => {
        assert.equal(status, "200 OK");
        const type = headers.find(([n]) => n === "Content-Type")?.[1];
        return type === "text/html"
          ? [...headers, ["X-Filtered", "yes"]]
          : null;
      },
      transform: upper,
    })),
  );
  const response = await handler("/");
  assert.equal(response.headers.get("x-filtered"), "yes");
  assert.equal(await response.text(), "<B>X</B>");

  const json = harness(
    checked(filter(
      checked((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Type", "application/json"]]);
        return [b('{"a":1}')];
      }),
      { headers: () => null, transform: upper },
    )),
  );
  const untouched = await json.handler("/");
  assert.equal(untouched.headers.get("x-filtered"), null);
  assert.equal(await untouched.text(), '{"a":1}');

  const headersOnly = harness(
    checked(filter(checked(html(["abc"])), {
      headers: (_status, headers) => [...headers, ["X-Only", "1"]],
    })),
  );
  const kept = await headersOnly.handler("/");
  assert.equal(kept.headers.get("content-length"), "3");
  assert.equal(await kept.text(), "abc");
});

Deno.test("filter: a TransformStream per response, with state across chunks", async () => {
  // Counts lines across chunk boundaries: state that a chunk function cannot keep.
  const numbered = () => {
    let line = 1;
    let atStart = true;
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        let out = "";
        for (const c of new TextDecoder().decode(chunk)) {
          if (atStart) out += `${line++}: `;
          out += c;
          atStart = c === "\n";
        }
        controller.enqueue(b(out));
      },
      flush(controller) {
        controller.enqueue(b(`(${line - 1} lines)\n`));
      },
    });
  };
  const { handler } = harness(
    checked(
      filter(checked(html(["a\nb", "b\nc\n"], false)), { stream: numbered }),
    ),
  );
  assert.equal(
    await (await handler("/")).text(),
    "1: a\n2: bb\n3: c\n(3 lines)\n",
  );
  // A second request gets a fresh stream.
  assert.equal(
    await (await handler("/")).text(),
    "1: a\n2: bb\n3: c\n(3 lines)\n",
  );
  await allClosed();
});

Deno.test("filter: write() apps and generator apps that start late are filtered", async () => {
  const writer: App = async (_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    await write(b("one "));
    await write(b("two "));
    return [b("three")];
  };
  const { handler } = harness(
    checked(filter(checked(writer), { transform: upper })),
  );
  assert.equal(await (await handler("/")).text(), "ONE TWO THREE");
  const streamed = harness(
    checked(filter(checked(writer), { stream: () => new TransformStream() })),
  );
  assert.equal(await (await streamed.handler("/")).text(), "one two three");

  const lazy: App = (_environ, startResponse) =>
    (function* () {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield b("late");
    })();
  const late = harness(checked(filter(checked(lazy), { transform: upper })));
  assert.equal(await (await late.handler("/")).text(), "LATE");
  await allClosed();
});

Deno.test("filter: an endless body streams through and a client abort closes it once", async () => {
  for (
    const options of [{ transform: upper }, {
      stream: () => new TransformStream<Uint8Array, Uint8Array>(),
    }]
  ) {
    const body = endless();
    await serving(
      toFetchHandler(checked(filter(checked(body.app), options))),
      async (base) => {
        const { first } = await readFirstThenAbort(base);
        assert.ok(first.length > 0);
        assert.match(
          new TextDecoder().decode(first.subarray(0, 8)),
          /^[A-Za-z]+$/,
        );
        await body.closed;
      },
    );
    assert.equal(body.closeCalls(), 1);
    await allClosed();
  }
});

Deno.test("filter: a response replaced by exc_info is filtered the same way", async () => {
  const { handler } = harness(
    checked(filter(
      checked((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return (function* () {
          try {
            throw new Error("render failed");
          } catch (error) {
            startResponse("503 Service Unavailable", [
              ["Content-Type", "text/plain"],
              ["Content-Length", "5"],
            ], error);
            yield b("later");
          }
        })();
      }),
      {
        headers: (_status, headers) => [...headers, ["X-Filtered", "1"]],
        transform: (chunk) => b(new TextDecoder().decode(chunk) + "!"),
      },
    )),
  );
  const response = await handler("/");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("x-filtered"), "1");
  assert.equal(await response.text(), "later!");
});
