// readForm: urlencoded bodies from wsgi.input within a limit, and the
// answers answerFormError gives.
import assert from "node:assert/strict";
import {
  type Environ,
  ReadableInputStream as BodyInput,
  toFetchHandler,
} from "../../mod.ts";
import {
  answerFormError,
  FormLimitError,
  FormParseError,
  readForm,
  readJson,
} from "../../src/toolkit/form.ts";

const enc = new TextEncoder();

function environOf(
  body: Uint8Array | ReadableStream<Uint8Array>,
  type = "application/x-www-form-urlencoded",
  length?: number,
): Environ {
  return {
    CONTENT_TYPE: type,
    ...(length === undefined ? {} : { CONTENT_LENGTH: String(length) }),
    "wsgi.input": new BodyInput(body),
  } as unknown as Environ;
}

Deno.test("form: readForm decodes + and UTF-8 escapes, repeated names, and an empty body", async () => {
  const form = await readForm(
    environOf(enc.encode("name=Ada+Lovelace&tag=a&tag=b&city=Z%C3%BCrich")),
  );
  assert.equal(form.get("name"), "Ada Lovelace");
  assert.deepEqual(form.getAll("tag"), ["a", "b"]);
  assert.equal(form.get("city"), "Zürich");
  assert.equal(
    [...await readForm(environOf(new Uint8Array(0)))].length,
    0,
  );
  const withCharset = await readForm(
    environOf(
      enc.encode("a=1"),
      "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    ),
  );
  assert.equal(withCharset.get("a"), "1");
});

Deno.test("form: a body over maxSize stops being read: by Content-Length before reading, by count while streaming", async () => {
  await assert.rejects(
    readForm(environOf(enc.encode("a=12345"), undefined, 7), { maxSize: 6 }),
    {
      name: "FormLimitError",
      limit: "maxSize",
      message:
        "Cannot read the form: the body (Content-Length 7) is larger than maxSize (6); raise maxSize to accept it",
    },
  );
  // An endless body: the reader must give up after maxSize + 1 bytes.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 1000;
      controller.enqueue(new Uint8Array(1000).fill(97));
    },
  });
  await assert.rejects(
    readForm(environOf(endless), { maxSize: 4096 }),
    FormLimitError,
  );
  assert.ok(pulled <= 5000 + 65536, `pulled ${pulled}`);
  assert.equal(
    (await readForm(environOf(enc.encode("a=1234")), { maxSize: 6 })).get("a"),
    "1234",
  );
});

Deno.test("form: another Content-Type is 415, bytes that are not UTF-8 are 400", async () => {
  await assert.rejects(
    readForm(environOf(enc.encode("{}"), "application/json")),
    {
      name: "FormParseError",
      status: 415,
      message:
        'Cannot read the form: expected Content-Type application/x-www-form-urlencoded, got "application/json"',
    },
  );
  await assert.rejects(readForm(environOf(Uint8Array.of(0x61, 0x3d, 0xff))), {
    name: "FormParseError",
    status: 400,
  });
});

Deno.test("form: answerFormError answers 413, 415, 400 and the gateway's maxBodySize error; rethrows others", async () => {
  const handler = toFetchHandler(async (environ, startResponse) => {
    try {
      const form = await readForm(environ, { maxSize: 10 });
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [enc.encode(form.get("a") ?? "")];
    } catch (error) {
      return answerFormError(error, startResponse);
    }
  }, { maxBodySize: 8 });
  const post = (body: string, type = "application/x-www-form-urlencoded") =>
    handler(
      new Request("http://x/", {
        method: "POST",
        body,
        headers: { "Content-Type": type },
      }),
    );
  let response = await post("a=hello");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "hello");
  response = await post("a=1", "text/plain");
  assert.equal(response.status, 415);
  assert.match(await response.text(), /expected Content-Type/);
  // Over the gateway's maxBodySize (8) but under maxSize (10), streamed.
  const streamed = new Request("http://x/", {
    method: "POST",
    body: new Blob(["a=123456789"]).stream(),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  response = await handler(streamed);
  assert.equal(response.status, 413);
  assert.match(await response.text(), /maxBodySize/);
  assert.throws(
    () => answerFormError(new Error("boom"), () => () => Promise.resolve()),
    /boom/,
  );
  assert.throws(
    () =>
      answerFormError(
        new TypeError("not a form error"),
        () => () => Promise.resolve(),
      ),
    TypeError,
  );
  assert.equal(new FormParseError("x").status, 400);
});

Deno.test("form: readJson parses application/json and +json, refuses other types, bad JSON and bodies over maxSize", async () => {
  const body = enc.encode('{"title":"caf\u00e9","n":1}');
  assert.deepEqual(await readJson(environOf(body, "application/json")), {
    title: "caf\u00e9",
    n: 1,
  });
  assert.deepEqual(
    await readJson(
      environOf(enc.encode("[1]"), "application/vnd.api+json; charset=utf-8"),
    ),
    [1],
  );
  await assert.rejects(readJson(environOf(body, "text/plain")), {
    name: "FormParseError",
    message: /expected Content-Type application\/json, got "text\/plain"/,
  });
  const bad = await readJson(environOf(enc.encode("{oops"), "application/json"))
    .catch((error) => error);
  assert.ok(bad instanceof FormParseError);
  assert.equal(bad.status, 400);
  assert.match(bad.message, /^Cannot read the body as JSON: /);
  await assert.rejects(
    readJson(environOf(body, "application/json", body.length), { maxSize: 4 }),
    (error: unknown) => error instanceof FormLimitError && error.status === 413,
  );
  // answerFormError turns each into its status.
  const app = async (environ: Environ, startResponse: never) => {
    try {
      await readJson(environ);
    } catch (error) {
      return answerFormError(error, startResponse);
    }
    return [];
  };
  const handler = toFetchHandler(app as never);
  const response = await handler(
    new Request("http://x/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{oops",
    }),
  );
  assert.equal(response.status, 400);
  assert.match(await response.text(), /Cannot read the body as JSON/);
});
