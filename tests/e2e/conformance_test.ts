// The conformance cases must be able to fail. Each test serves the fixture
// in-process with Deno.serve, wrapped so the server breaks one promise the
// way a careless runtime or adapter would, and checks that the case meant
// to catch it fails there while it passes against the unbroken server.
import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import { app, fixtureOptions } from "../conformance/fixture.ts";
import {
  type Case,
  type CaseContext,
  cases,
  verify,
} from "../conformance/cases.ts";
import { headers, parseResponse, raw } from "../conformance/_client.ts";

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

/**
 * A new stream that forwards `body` chunk by chunk on demand and never
 * passes cancel() on; with `endCleanly`, an error ends it as if whole.
 */
function relay(
  body: ReadableStream<Uint8Array>,
  endCleanly: boolean,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        if (!endCleanly) throw error;
        return controller.close();
      }
      if (step.done) controller.close();
      else controller.enqueue(step.value);
    },
  }, { highWaterMark: 0 });
}

/** A server fault, the case meant to catch it, and how that case fails. */
interface Fault {
  fault: string;
  case: string;
  /** Breaks the response; `signal` aborts when the test is over. */
  wrap: (
    response: Response,
    signal: AbortSignal,
  ) => Response | Promise<Response>;
  error: RegExp;
}

const faults: Fault[] = [
  {
    fault: "joins repeated Set-Cookie headers",
    case: "two Set-Cookie out",
    wrap(r) {
      const headers = new Headers();
      for (const [name, value] of r.headers) headers.set(name, value);
      return rebuild(r, r.body, headers);
    },
    error: /set-cookie/,
  },
  {
    fault: "buffers the whole body",
    case: "100 MiB download, bounded memory",
    wrap: async (r) => rebuild(r, await r.arrayBuffer()),
    error: /RSS grew/,
  },
  {
    fault: "reads the body ahead of the client",
    case: "slow reader (backpressure)",
    wrap: (r, signal) =>
      rebuild(
        r,
        new ReadableStream<Uint8Array>({
          start(controller) {
            (async () => {
              for await (const chunk of r.body!) {
                if (signal.aborted) break;
                controller.enqueue(chunk);
              }
            })().catch(() => {});
          },
        }),
      ),
    error: /ahead of the reader/,
  },
  {
    fault: "never passes cancel() on",
    case: "client abort -> close()",
    wrap: (r) => rebuild(r, relay(r.body!, false)),
    error: /close\(\)/,
  },
  {
    // What workerd does.
    fault: "ends an erroring body as if it were whole",
    case: "app error after first chunk",
    wrap: (r) => rebuild(r, relay(r.body!, true)),
    error: /arrived whole/,
  },
];

for (const fault of faults) {
  Deno.test({
    name: `"${fault.case}" fails on a server that ${fault.fault}`,
    // The servers are closed by `await using`; the cases' own fetches to a
    // deliberately broken server may still be settling as a test ends.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      assert.equal(await outcome(fault.case), undefined);
      const over = new AbortController();
      try {
        const error = await outcome(
          fault.case,
          (response) => fault.wrap(response, over.signal),
        );
        assert.match(error ?? "(it passed)", fault.error);
      } finally {
        over.abort();
      }
    },
  });
}

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

Deno.test("the pipelined probe sees a body sent after a 204", async () => {
  // A hand-written server that answers every request on a connection with a
  // 204 that wrongly carries 5 bytes, which no Fetch server can be made to do.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    let text = "";
    while ((text.match(/\r\n\r\n/g) ?? []).length < 2) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 204 No Content\r\nX-Case: 204\r\n\r\nstray" +
          "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
      ),
    );
    conn.close();
  })();
  const test = cases.find((c) => c.name === "204 without body")!;
  const response = await raw(listener.addr.port, test.request!);
  await serving;
  listener.close();
  assert.equal(new TextDecoder().decode(response.body), "stray");
  assert.throws(() => verify(response, test.expect!), /body "stray"/);
});
