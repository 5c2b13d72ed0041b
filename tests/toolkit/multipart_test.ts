// The streaming multipart/form-data parser: bodies
// serialized by the runtime's own FormData, hand-written edge cases, and a
// property test over bytes full of CR, LF, dashes and boundary fragments,
// each read in pieces of many sizes.
import assert from "node:assert/strict";
import { ReadableInputStream as BodyInput } from "../../mod.ts";
import { boundaryOf, parseMultipart } from "../../src/toolkit/multipart.ts";
import { FormLimitError, FormParseError } from "../../src/toolkit/form.ts";
import { fc } from "../_util/fast_check.ts";

const enc = new TextEncoder();

interface Parsed {
  name: string;
  filename?: string;
  contentType: string;
  data: Uint8Array;
}

/** Parses `body`, fed to wsgi.input in chunks of `feed` bytes. */
async function parse(
  body: Uint8Array,
  contentType: string,
  chunkSize = 64 * 1024,
  feed = body.length || 1,
): Promise<Parsed[]> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < body.length; i += feed) {
        controller.enqueue(body.slice(i, i + feed));
      }
      controller.close();
    },
  });
  const parts: Parsed[] = [];
  for await (
    const part of parseMultipart(new BodyInput(stream), contentType, {
      chunkSize,
    })
  ) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of part.body) {
      assert.ok(
        chunk.length <= chunkSize,
        `a chunk of ${chunk.length} bytes, over the read size ${chunkSize}`,
      );
      chunks.push(chunk);
    }
    const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    const { name, filename, contentType } = part;
    parts.push({ name, filename, contentType, data });
  }
  return parts;
}

/** A body serialized by the runtime's FormData, as a browser would. */
async function formBody(form: FormData) {
  const request = new Request("http://x/", { method: "POST", body: form });
  return {
    body: new Uint8Array(await request.arrayBuffer()),
    contentType: request.headers.get("content-type")!,
  };
}

function manual(boundary: string, parts: [string, Uint8Array][]) {
  const chunks: Uint8Array[] = [];
  for (const [name, data] of parts) {
    chunks.push(enc.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ));
    chunks.push(data, enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

Deno.test("multipart: fields and files from the runtime's FormData, in any piece size", async () => {
  const file = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256);
  const form = new FormData();
  form.append("title", "grüße\r\nline two");
  form.append("empty", new File([], "empty.txt", { type: "text/plain" }));
  form.append("data", new File([file], "daten ü.bin", { type: "image/png" }));
  const { body, contentType } = await formBody(form);
  for (
    const [chunkSize, feed] of [[80, 1], [81, 7], [4096, 1000], [
      65536,
      body.length,
    ]]
  ) {
    const parts = await parse(body, contentType, chunkSize, feed);
    assert.deepEqual(parts.map((p) => [p.name, p.filename, p.contentType]), [
      ["title", undefined, "text/plain"],
      ["empty", "empty.txt", "text/plain"],
      ["data", "daten ü.bin", "image/png"],
    ]);
    assert.equal(new TextDecoder().decode(parts[0].data), "grüße\r\nline two");
    assert.equal(parts[1].data.length, 0);
    assert.deepEqual(parts[2].data, file);
  }
});

Deno.test("multipart: delimiter look-alikes inside a part are data", async () => {
  const boundary = "XyZ";
  const tricky = enc.encode(
    "\r\n--XyZ-\r\n--XyZx\r\n--XyZ --\r\nX--XyZ\r\n\r\r\n\r\n\r--XyZ\n--XyZ\r",
  );
  const { body, contentType } = manual(boundary, [["a", tricky], [
    "b",
    enc.encode("\r"),
  ]]);
  for (const chunkSize of [80, 100, 1000]) {
    const parts = await parse(body, contentType, chunkSize, 3);
    assert.deepEqual(parts.map((p) => p.data), [tricky, enc.encode("\r")]);
  }
});

Deno.test("multipart: an unread part is skipped; a preamble and an epilogue are ignored", async () => {
  const { body } = manual("b", [["a", enc.encode("skip me")], [
    "c",
    enc.encode("keep"),
  ]]);
  const framed = new Uint8Array([
    ...enc.encode("preamble\r\n"),
    ...body,
    ...enc.encode("epilogue"),
  ]);
  const input = new BodyInput(framed);
  const seen: string[] = [];
  for await (
    const part of parseMultipart(
      input,
      'multipart/form-data; charset=utf-8; boundary="b"',
    )
  ) {
    if (part.name === "c") {
      for await (const chunk of part.body) {
        seen.push(new TextDecoder().decode(chunk));
      }
    }
  }
  assert.deepEqual(seen, ["keep"]);
});

Deno.test("multipart: malformed bodies and content types are FormParseErrors (TypeErrors), limits FormLimitErrors", async () => {
  const { body, contentType } = manual("b", [["a", enc.encode("data")]]);
  const cut = body.subarray(0, body.length - 10);
  await assert.rejects(parse(cut, contentType), {
    name: "FormParseError",
    message: "Cannot parse the form: the body ended inside a part",
  });
  await assert.rejects(parse(enc.encode("no delimiter here"), contentType), {
    name: "FormParseError",
    message: "Cannot parse the form: the body has no multipart delimiter",
  });
  await assert.rejects(
    parse(
      enc.encode("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"),
      contentType,
    ),
    /lacks "Content-Disposition: form-data; name=…"/,
  );
  const huge = enc.encode(`--b\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
  await assert.rejects(parse(huge, contentType), {
    name: "FormLimitError",
    limit: "maxHeaderSize",
    message:
      "Cannot read the form: part 1's headers are longer than maxHeaderSize (16384); raise maxHeaderSize to accept it",
  });
  assert.throws(() => boundaryOf("application/json"), {
    name: "FormParseError",
    status: 415,
    message:
      'Cannot parse the form: expected multipart/form-data with a boundary of 1 to 70 characters, got "application/json"',
  });
  assert.throws(() => boundaryOf(undefined), /got null/);
  await assert.rejects(parse(body, contentType, 79), RangeError);
  const two = manual("b", [["a", enc.encode("1")], ["c", enc.encode("2")]]);
  const parts = parseMultipart(new BodyInput(two.body), two.contentType, {
    maxParts: 1,
  });
  await assert.rejects(
    (async () => {
      for await (const _ of parts) { /* skip */ }
    })(),
    {
      name: "FormLimitError",
      limit: "maxParts",
      message:
        "Cannot read the form: the form has more parts than maxParts (1); raise maxParts to accept it",
    },
  );
});

Deno.test("multipart: any bytes survive, whatever the piece and feed sizes", async () => {
  const boundary = "----tsgi-7Qx";
  // Bytes drawn mostly from the ones a parser could trip over; without
  // LFs, lines outgrow the piece size and pieces end in CRs.
  const tricky = fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.boolean())
    .chain(([noise, lf]) =>
      fc.array(
        fc.oneof(
          fc.constantFrom(13, 45, 32, ...(lf ? [10] : [])),
          fc.constantFrom(...enc.encode(boundary)),
          fc.constantFrom(0, ...noise),
        ),
        { maxLength: 600, size: "max" },
      ).map((bytes) => Uint8Array.from(bytes))
    );
  await fc.assert(
    fc.asyncProperty(
      fc.array(tricky, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 80, max: 300 }),
      fc.integer({ min: 1, max: 500 }),
      async (datas, chunkSize, feed) => {
        const { body, contentType } = manual(
          boundary,
          datas.map((data, i) => [`f${i}`, data]),
        );
        const parts = await parse(body, contentType, chunkSize, feed);
        assert.deepEqual(parts.map((p) => p.data), datas);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("multipart: a possible delimiter held back at the end of a read is looked at again with the next, and no chunk outgrows a read", async () => {
  const boundary = "----tsgi-7Qx";
  const delimiter = enc.encode(`\r\n--${boundary}`);
  // Where the first part's data starts in the body `manual` builds.
  const start = manual(boundary, [["f0", new Uint8Array()]]).body.length -
    `\r\n--${boundary}--\r\n`.length;
  /** Data whose bytes `held` end exactly at the read boundary `end`. */
  const endingAt = (end: number, held: Uint8Array, rest: Uint8Array) =>
    Uint8Array.from([
      ...new Uint8Array(end - start - held.length).fill(120),
      ...held,
      ...rest,
    ]);
  // Bytes as text: only CR, LF, "-" and NUL occur.
  const bytes = (text: string) => enc.encode(text);
  const cases: [string, Uint8Array[], number, number][] = [
    // Found by the property test below: a read ends inside "\r\n--" at the
    // start of the data, and the next read holds no delimiter.
    [
      "found: an empty part, then data starting \\r\\n----",
      [
        new Uint8Array(),
        bytes(
          "\r\n----\r-\0---\0-\r\r\r\0--\r\r\0--\r\r\r\r\0\0\r\0-\0-\r\r----\r-" +
            "\r\0---\0--\r\r-\0\r\0\0\r\r\r\r\r\0\r\0-\r\r-\r-\0--\0\0\0----",
        ),
      ],
      80,
      165,
    ],
    [
      "found: data starting \\r\\n-\\r----",
      [
        bytes(
          "\r\n-\r----\0\0\0\r-\r\0\0\0-\0\0\r\0\r-\0\0\0-\0\r\0\r\0\r\0\0\0\0\0" +
            "\r\r---\0\0-\0\r\r\0\r\r-\0\r\r-\0-\r\r--\0\0-\r\0\0\0-\r\0\r\0\r-\r\0\0\0\0",
        ),
      ],
      80,
      123,
    ],
    [
      "a read ending one byte short of a whole delimiter",
      [
        endingAt(
          240,
          delimiter.subarray(0, delimiter.length - 1),
          new Uint8Array(200).fill(45),
        ),
      ],
      80,
      80,
    ],
    [
      "a read ending in a delimiter, its two dashes and padding that turn out to be data",
      [
        endingAt(
          240,
          Uint8Array.from([
            ...delimiter,
            45,
            45,
            ...new Uint8Array(40).fill(32),
          ]),
          Uint8Array.from([120, 13, 10, ...new Uint8Array(150).fill(13)]),
        ),
      ],
      80,
      80,
    ],
    [
      "a read ending in a lone CR, the next without one",
      [
        endingAt(160, Uint8Array.of(13), new Uint8Array(100).fill(10)),
      ],
      80,
      80,
    ],
  ];
  for (const [name, datas, chunkSize, feed] of cases) {
    const { body, contentType } = manual(
      boundary,
      datas.map((data, i) => [`f${i}`, data]),
    );
    const parts = await parse(body, contentType, chunkSize, feed);
    assert.deepEqual(parts.map((p) => p.data), datas, name);
  }
});

Deno.test("multipart: filename* (RFC 8187) wins over filename; %22, %0D, %0A in quoted names decode", async () => {
  const body = enc.encode(
    "--b\r\n" +
      `Content-Disposition: form-data; name="a%22b%0D%0Ac"; filename="fallback.txt"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt\r\n\r\n` +
      "x\r\n--b\r\n" +
      `Content-Disposition: form-data; name=plain; filename*=iso-8859-1'en'caf%E9.txt\r\n\r\n` +
      "y\r\n--b\r\n" +
      `Content-Disposition: form-data; name="q\\"uote"; filename*=bogus\r\n\r\n` +
      "z\r\n--b--\r\n",
  );
  const parts = await parse(body, "multipart/form-data; boundary=b");
  assert.deepEqual(parts.map((p) => [p.name, p.filename]), [
    ['a"b\r\nc', "naïve €.txt"],
    ["plain", "café.txt"],
    ['q"uote', undefined],
  ]);
});

Deno.test("multipart: maxFieldSize and maxFileSize name the limit; text() reads a field", async () => {
  const form = new FormData();
  form.append("note", "x".repeat(100));
  form.append("file", new File([new Uint8Array(5000)], "big.bin"));
  const { body, contentType } = await formBody(form);
  const run = async (options: Record<string, number>) => {
    const out: string[] = [];
    for await (
      const part of parseMultipart(new BodyInput(body), contentType, options)
    ) {
      out.push(part.filename === undefined ? await part.text() : "file");
    }
    return out;
  };
  assert.deepEqual(await run({}), ["x".repeat(100), "file"]);
  await assert.rejects(run({ maxFieldSize: 99 }), {
    name: "FormLimitError",
    limit: "maxFieldSize",
    value: 99,
    status: 413,
    message:
      'Cannot read the form: the field "note" is larger than maxFieldSize (99); raise maxFieldSize to accept it',
  });
  await assert.rejects(run({ maxFileSize: 4999, chunkSize: 1000 }), {
    name: "FormLimitError",
    limit: "maxFileSize",
    message:
      'Cannot read the form: the file "big.bin" is larger than maxFileSize (4999); raise maxFileSize to accept it',
  });
  assert.deepEqual(await run({ maxFileSize: 5000, maxFieldSize: 100 }), [
    "x".repeat(100),
    "file",
  ]);
  assert.ok(FormLimitError.prototype instanceof RangeError);
  assert.ok(FormParseError.prototype instanceof TypeError);
});

Deno.test("multipart: through the gateway, parseMultipart(environ) and answerFormError give 200, 413 and 400", async () => {
  const { toFetchHandler } = await import("../../mod.ts");
  const { answerFormError } = await import("../../src/toolkit/form.ts");
  let closed = 0;
  const handler = toFetchHandler(async (environ, startResponse) => {
    const names: string[] = [];
    try {
      for await (
        const part of parseMultipart(environ, { maxFileSize: 1000 })
      ) names.push(`${part.name}:${(await part.bytes()).length}`);
    } catch (error) {
      const body = answerFormError(error, startResponse);
      return Object.assign(body, { close: () => void closed++ });
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [enc.encode(names.join(","))];
  });
  const post = (form: FormData | string, type?: string) =>
    handler(
      new Request("http://x/", {
        method: "POST",
        body: form,
        headers: type ? { "Content-Type": type } : {},
      }),
    );
  const ok = new FormData();
  ok.append("a", "1");
  ok.append("f", new File([new Uint8Array(1000)], "f.bin"));
  let response = await post(ok);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "a:1,f:1000");
  const big = new FormData();
  big.append("f", new File([new Uint8Array(1001)], "f.bin"));
  response = await post(big);
  assert.equal(response.status, 413);
  assert.match(await response.text(), /maxFileSize \(1000\)/);
  response = await post(
    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ncut",
    "multipart/form-data; boundary=b",
  );
  assert.equal(response.status, 400);
  assert.equal(
    await response.text(),
    "Cannot parse the form: the body ended inside a part\n",
  );
  assert.equal(closed, 2);
});
