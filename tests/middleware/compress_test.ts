import assert from "node:assert/strict";
import {
  type App,
  compress,
  type CompressOptions,
  type Environ,
  negotiateEncoding,
  type StartResponse,
  toFetchHandler,
} from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  checked,
  endless,
  readFirstThenAbort,
  serving,
} from "../_util/middleware.ts";

const TEXT = "tsgi compresses text as it streams. ".repeat(200);

function textApp(
  headers: [string, string][] = [["Content-Type", "text/plain"]],
  status = "200 OK",
): App {
  return (_environ, startResponse) => {
    startResponse(status, headers);
    return [b(TEXT)];
  };
}

function compressed(app: App, options: CompressOptions = {}) {
  return harness(checked(compress(checked(app), options)));
}

function get(
  handler: (r: Request) => Promise<Response>,
  acceptEncoding?: string,
  method = "GET",
) {
  const headers: Record<string, string> = {};
  if (acceptEncoding !== undefined) headers["Accept-Encoding"] = acceptEncoding;
  return handler(new Request("http://localhost/", { method, headers }));
}

async function inflate(response: Response, coding: string): Promise<string> {
  const stream = response.body!.pipeThrough(
    new DecompressionStream(coding as CompressionFormat),
  );
  return await new Response(stream).text();
}

Deno.test("compress: gzip when accepted; no Content-Length; Vary added", async () => {
  const { handler } = compressed(textApp([
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(TEXT.length)],
  ]));
  const response = await get(handler, "gzip, deflate");
  assert.equal(response.headers.get("content-encoding"), "gzip");
  assert.equal(response.headers.get("vary"), "Accept-Encoding");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await inflate(response, "gzip"), TEXT);
});

Deno.test("compress: q-values choose the coding; identity and q=0 are honoured", async () => {
  const { handler } = compressed(textApp());
  const deflated = await get(handler, "gzip;q=0.4, deflate;q=0.9");
  assert.equal(deflated.headers.get("content-encoding"), "deflate");
  assert.equal(await inflate(deflated, "deflate"), TEXT);
  for (
    const accept of [undefined, "identity", "gzip;q=0, deflate;q=0, br;q=0"]
  ) {
    const plain = await get(handler, accept);
    assert.equal(plain.headers.get("content-encoding"), null, accept);
    assert.equal(plain.headers.get("vary"), "Accept-Encoding");
    assert.equal(await plain.text(), TEXT);
  }
  // Deno's CompressionStream has brotli, so br leads the offer.
  const star = await get(handler, "*;q=0.5");
  assert.equal(star.headers.get("content-encoding"), "br");
  await star.body!.cancel();
  const gzipped = await get(handler, "br;q=0.5, gzip");
  assert.equal(gzipped.headers.get("content-encoding"), "gzip");
  await gzipped.body!.cancel();
});

Deno.test("compress: brotli where CompressionStream has it, negotiated by q-value", async () => {
  const { handler } = compressed(textApp());
  const response = await get(handler, "gzip, deflate, br");
  assert.equal(response.headers.get("content-encoding"), "br");
  assert.equal(response.headers.get("vary"), "Accept-Encoding");
  const text = await new Response(
    response.body!.pipeThrough(
      new DecompressionStream("brotli" as CompressionFormat),
    ),
  ).text();
  assert.equal(text, TEXT);
  const only = compressed(textApp(), { encodings: ["gzip"] }).handler;
  const gz = await get(only, "br");
  assert.equal(gz.headers.get("content-encoding"), null);
  await gz.body!.cancel();
});

Deno.test("compress: negotiateEncoding follows RFC 9110", () => {
  const both = ["gzip", "deflate"] as const;
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    ["gzip", "gzip"],
    ["deflate, gzip", "gzip"],
    ["deflate;q=1, gzip;q=0.999", "deflate"],
    ["GZIP;Q=0.5", "gzip"],
    ["x-gzip", "gzip"],
    ["*", "gzip"],
    ["*;q=0, deflate", "deflate"],
    ["gzip;q=0, *", "deflate"],
    ["gzip;q=abc", undefined],
    ["identity;q=1, br", undefined],
  ];
  for (const [accept, want] of cases) {
    assert.equal(negotiateEncoding(accept, both), want, String(accept));
  }
  assert.equal(negotiateEncoding("deflate", ["gzip"]), undefined);
});

Deno.test("compress: small, unlisted, already-encoded and no-transform responses pass untouched", async () => {
  const small = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [b("tiny")];
  });
  const tiny = await get(small.handler, "gzip");
  assert.equal(tiny.headers.get("content-encoding"), null);
  assert.equal(await tiny.text(), "tiny");

  const declaredSmall = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"], [
      "Content-Length",
      "10",
    ]]);
    return (function* () {
      yield b("0123456789");
    })();
  });
  assert.equal(
    (await get(declaredSmall.handler, "gzip")).headers.get("content-encoding"),
    null,
  );

  for (
    const headers of [
      [["Content-Type", "image/png"]],
      [["Content-Type", "text/plain"], ["Content-Encoding", "br"]],
      [["Content-Type", "text/plain"], ["Cache-Control", "no-transform"]],
      [],
    ] as [string, string][][]
  ) {
    // validator() refuses a response without Content-Type (V18); compress
    // must still pass one on untouched, so that case runs without it.
    const { handler } = headers.length === 0
      ? harness(compress(textApp(headers)))
      : compressed(textApp(headers));
    const response = await get(handler, "gzip");
    assert.equal(
      response.headers.get("content-encoding"),
      headers.find(([n]) => n === "Content-Encoding")?.[1] ?? null,
    );
    assert.equal(response.headers.get("vary"), null);
    assert.equal(await response.text(), TEXT);
  }
  const lowered = compressed(textApp([["Content-Type", "application/json"]]), {
    minSize: 0,
    types: [/^application\/json$/],
    encodings: ["deflate"],
  });
  const json = await get(lowered.handler, "gzip, deflate");
  assert.equal(json.headers.get("content-encoding"), "deflate");
  await json.body!.cancel();
});

Deno.test("compress: HEAD, 204 and 304 are not compressed; a strong ETag turns weak", async () => {
  const { handler } = compressed(textApp([
    ["Content-Type", "text/html"],
    ["ETag", '"v1"'],
  ]));
  const head = await get(handler, "gzip", "HEAD");
  assert.equal(head.headers.get("content-encoding"), null);
  assert.equal(head.headers.get("vary"), "Accept-Encoding");
  assert.equal(await head.text(), "");
  const full = await get(handler, "gzip");
  assert.equal(full.headers.get("etag"), 'W/"v1"');
  await full.body!.cancel();
  for (const status of ["204 No Content", "304 Not Modified"]) {
    const empty = compressed((_environ, startResponse) => {
      startResponse(status, [["Content-Type", "text/plain"]]);
      return [];
    });
    const response = await get(empty.handler, "gzip");
    assert.equal(response.headers.get("content-encoding"), null);
    assert.equal(await response.text(), "");
  }
});

Deno.test("compress: a streamed body, a write() app and a lazy generator all compress", async () => {
  let closes = 0;
  const streamed = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/css"]]);
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 50; i++) yield b(`.c${i} { color: red }\n`);
      },
      close() {
        closes++;
      },
    };
  });
  const expected = Array.from(
    { length: 50 },
    (_, i) => `.c${i} { color: red }\n`,
  ).join("");
  assert.equal(
    await inflate(await get(streamed.handler, "gzip"), "gzip"),
    expected,
  );
  assert.equal(closes, 1);

  const writer = compressed(async (_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    for (let i = 0; i < 20; i++) {
      await write(b(TEXT.slice(i * 100, i * 100 + 100)));
    }
    return [b("!end")];
  });
  const written = await get(writer.handler, "gzip");
  assert.equal(written.headers.get("content-encoding"), "gzip");
  assert.equal(await inflate(written, "gzip"), TEXT.slice(0, 2000) + "!end");

  const lazy = compressed(
    function* (_environ: Environ, startResponse: StartResponse) {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield b(TEXT);
    } as unknown as App,
  );
  const response = await get(lazy.handler, "deflate");
  assert.equal(response.headers.get("content-encoding"), "deflate");
  assert.equal(await inflate(response, "deflate"), TEXT);
});

Deno.test("compress: an error in the body breaks the compressed stream and closes the app", async () => {
  let closes = 0;
  const { handler, logs } = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return {
      async *[Symbol.asyncIterator]() {
        yield b(TEXT);
        yield b(TEXT);
        throw new Error("disk gone");
      },
      close() {
        closes++;
      },
    };
  });
  const response = await get(handler, "gzip");
  await assert.rejects(inflate(response, "gzip"));
  assert.equal(closes, 1);
  assert.match(logs.join(""), /disk gone/);
});

Deno.test("compress: an endless body streams compressed and a client abort closes it once", async () => {
  const body = endless();
  await serving(
    toFetchHandler(checked(compress(checked(body.app)))),
    async (base) => {
      const { response, first } = await readFirstThenAbort(base, {
        headers: { "Accept-Encoding": "gzip" },
      });
      assert.equal(response.headers.get("content-encoding"), "gzip");
      assert.ok(first.length > 0, "compressed bytes arrive");
      await body.closed;
    },
  );
  assert.equal(body.closeCalls(), 1);
  assert.ok(body.chunksMade() < 1000, `made ${body.chunksMade()} chunks`);
});

Deno.test("compress: tiny chunks a sync iterable holds are joined before compressing", async () => {
  const rows = Array.from(
    { length: 3000 },
    (_, i) => `row ${i % 10}: same text\n`,
  );
  const { handler } = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/csv"]]);
    return (function* () {
      for (const row of rows) yield b(row);
    })();
  });
  const response = await get(handler, "gzip");
  const packed = await response.bytes();
  const plain = rows.join("");
  // One write per row would cost more than the rows themselves.
  assert.ok(packed.length * 10 < plain.length, `${packed.length} bytes`);
  const unpacked = new Response(
    new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip")),
  );
  assert.equal(await unpacked.text(), plain);
});

Deno.test("compress: an app that replaces its response by exc_info keeps a consistent encoding", async () => {
  const { handler } = compressed((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      try {
        throw new Error("render failed");
      } catch (error) {
        // Not a compressible type, but the body already goes through gzip.
        startResponse("500 Internal Server Error", [
          ["Content-Type", "application/octet-stream"],
          ["Content-Length", "5"],
        ], error);
        yield b("oops!");
      }
    })();
  });
  const response = await get(handler, "gzip");
  assert.equal(response.status, 500);
  assert.equal(response.headers.get("content-encoding"), "gzip");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await inflate(response, "gzip"), "oops!");
});
