// The conformance cases must be able to fail. Each test serves the fixture
// in-process with Deno.serve, wrapped so the server breaks one promise the
// way a careless runtime or adapter would, and checks that the case meant
// to catch it fails there while it passes against the unbroken server.
import assert from "node:assert/strict";
import { toFetchHandler } from "../mod.ts";
import { app, fixtureOptions } from "./conformance/fixture.ts";
import {
  type Case,
  type CaseContext,
  cases,
  verify,
} from "./conformance/cases.ts";
import { headers, parseResponse, raw } from "./conformance/_client.ts";

type Wrap = (response: Response) => Response | Promise<Response>;

function byName(name: string): Case {
  const found = cases.find((c) => c.name === name);
  assert.ok(found, `no case ${JSON.stringify(name)}`);
  return found;
}

/** Runs one case against the fixture behind `wrap`; the error, if it failed. */
async function outcome(name: string, wrap?: Wrap): Promise<string | undefined> {
  const handler = toFetchHandler(app, { ...fixtureOptions, errors: () => {} });
  await using server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (request, info) => {
    const response = await handler(request, info);
    return wrap ? await wrap(response) : response;
  });
  const ctx: CaseContext = {
    runtime: "deno",
    port: server.addr.port,
    pid: Deno.pid,
    origin: `http://127.0.0.1:${server.addr.port}`,
  };
  const test = byName(name);
  try {
    if (test.run) await test.run(ctx);
    else verify(await raw(ctx.port, test.request!), test.expect!);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Rebuilds a response with new headers or body, keeping the rest. */
function rebuild(
  response: Response,
  body: BodyInit | null,
  headers: HeadersInit = response.headers,
): Response {
  return new Response(body, { status: response.status, headers });
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test("Set-Cookie case catches joined cookies", options, async () => {
  assert.equal(await outcome("two Set-Cookie out"), undefined);
  const joined: Wrap = (r) => {
    const headers = new Headers();
    for (const [name, value] of r.headers) headers.set(name, value);
    return rebuild(r, r.body, headers);
  };
  assert.match(
    (await outcome("two Set-Cookie out", joined)) ?? "",
    /set-cookie/,
  );
});

Deno.test(
  "memory case catches a server that buffers the body",
  options,
  async () => {
    const buffered: Wrap = async (r) => rebuild(r, await r.arrayBuffer());
    assert.match(
      (await outcome("100 MiB download, bounded memory", buffered)) ?? "",
      /RSS grew/,
    );
  },
);

Deno.test(
  "slow reader case catches a server that reads ahead",
  options,
  async () => {
    assert.equal(await outcome("slow reader (backpressure)"), undefined);
    // Pulls the app's body as fast as it can into an unbounded queue,
    // until the test is over.
    let over = false;
    const eager: Wrap = (r) =>
      rebuild(
        r,
        new ReadableStream<Uint8Array>({
          start(controller) {
            (async () => {
              for await (const chunk of r.body!) {
                if (over) break;
                controller.enqueue(chunk);
              }
            })().catch(() => {});
          },
        }),
      );
    assert.match(
      (await outcome("slow reader (backpressure)", eager)) ?? "",
      /ahead of the reader/,
    );
    over = true;
  },
);

Deno.test(
  "abort case catches a server that never cancels",
  options,
  async () => {
    assert.equal(await outcome("client abort -> close()"), undefined);
    // Forwards chunks but drops cancel(): the app's stream is never told.
    const deaf: Wrap = (r) => {
      const reader = r.body!.getReader();
      return rebuild(
        r,
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
        }, { highWaterMark: 0 }),
      );
    };
    assert.match(
      (await outcome("client abort -> close()", deaf)) ?? "",
      /close\(\)/,
    );
  },
);

Deno.test(
  "broken-response case catches a clean end after an error",
  options,
  async () => {
    assert.equal(await outcome("app error after first chunk"), undefined);
    // What workerd does: an erroring body ends as if it were whole.
    const clean: Wrap = (r) => {
      const reader = r.body!.getReader();
      return rebuild(
        r,
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              const { done, value } = await reader.read();
              if (done) controller.close();
              else controller.enqueue(value);
            } catch {
              controller.close();
            }
          },
        }),
      );
    };
    assert.match(
      (await outcome("app error after first chunk", clean)) ?? "",
      /arrived whole/,
    );
  },
);

Deno.test("the raw client tells a whole body from a cut one", () => {
  const parse = (text: string, head = false) =>
    parseResponse(new TextEncoder().encode(text), head);
  const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const whole = parse(chunkedHead + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  assert.equal(new TextDecoder().decode(whole.body), "abcde");
  assert.equal(whole.complete, true);
  // workerd's clean end and a real cut differ only in the terminator.
  assert.equal(parse(chunkedHead + "3\r\nabc\r\n").complete, false);
  assert.equal(parse(chunkedHead + "3\r\nab").complete, false);
  const sized = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  assert.equal(parse(sized + "01234").complete, false);
  assert.equal(parse(sized + "0123456789").complete, true);
  // HEAD keeps the length header and has no body to count.
  assert.equal(parse(sized, true).complete, true);
  const cookies = parse(
    "HTTP/1.1 204 No Content\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n",
  );
  assert.deepEqual(headers(cookies, "set-cookie"), ["a=1", "b=2"]);
});
