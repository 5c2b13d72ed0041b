// The conformance cases: one list, run by run.ts against every runtime
// serving fixture.ts. A case is a request and what the response must be;
// where a request and an expectation cannot say it (streaming, memory,
// timing of close()), the case has a `run` function instead.
//
// Every request says `Accept-Encoding: identity`: workerd gzips text and
// JSON bodies for clients that accept gzip, and the cases are about the
// gateway's bytes, not the runtime's compression.

import { checksum, CHUNK_SIZE } from "./fixture.ts";
import {
  chunked,
  headers,
  raw,
  type RawRequest,
  type RawResponse,
  requestHead,
  treeRss,
} from "./_client.ts";

/** The runtimes the suite runs against. */
export type RuntimeId =
  | "deno"
  | "deno-serve"
  | "bun"
  | "node"
  | "workerd";

/** What a case gets to talk to one running server. */
export interface CaseContext {
  runtime: RuntimeId;
  port: number;
  /** The server process (for workerd, miniflare's Node process: workerd is its child). */
  pid: number;
  /** `http://127.0.0.1:<port>` */
  origin: string;
}

/** What the response to a declarative request must be. */
export interface Expectation {
  status: number;
  /** Header values (lowercased names); `null` = must be absent; array = every value. */
  headers?: Record<string, string | null | string[]>;
  /** The exact body. */
  body?: string;
  /** Fields the JSON body must have (deep equality per field). */
  json?: Record<string, unknown>;
  /** Whether the body arrived whole (false: the server broke it off). */
  complete?: boolean;
  /** Text the body must not contain. */
  hides?: string[];
}

/** One conformance case. */
export interface Case {
  name: string;
  /** Sent on a raw socket, exactly as written. */
  request?: RawRequest;
  expect?: Expectation;
  /** What a runtime named in `differences` answers instead of `expect`. */
  expectOn?: Partial<Record<RuntimeId, Expectation>>;
  /** For cases a request/expectation pair cannot express; returns a note. */
  run?: (ctx: CaseContext) => Promise<string | void>;
  /**
   * Runtimes that behave differently from the rest, and why. The case
   * still runs and must pass there (it is written to allow the difference);
   * the table marks the result `pass*` and prints the note.
   */
  differences?: Partial<Record<RuntimeId, string>>;
  /**
   * Runtimes that cannot meet the case at all, and why. The case still
   * runs there and is expected to fail (`known*` in the table); if it
   * passes, the table says `XPASS` so the exception can be dropped.
   */
  exceptions?: Partial<Record<RuntimeId, string>>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;

function fail(message: string): never {
  throw new Error(message);
}

function check(condition: boolean, message: string): void {
  if (!condition) fail(message);
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** Checks a raw response against an expectation; throws on the first mismatch. */
export function verify(response: RawResponse, expect: Expectation): void {
  const text = decoder.decode(response.body);
  check(
    response.status === expect.status,
    `status ${response.status}, expected ${expect.status} (body ${
      show(text.slice(0, 200))
    })`,
  );
  for (const [name, want] of Object.entries(expect.headers ?? {})) {
    const got = headers(response, name);
    if (want === null) {
      check(got.length === 0, `header ${name} is ${show(got)}, expected none`);
    } else if (Array.isArray(want)) {
      check(
        show(got) === show(want),
        `${name} is ${show(got)}, expected ${show(want)}`,
      );
    } else {
      check(got[0] === want, `${name} is ${show(got)}, expected ${show(want)}`);
    }
  }
  if (expect.body !== undefined) {
    check(
      text === expect.body,
      `body ${show(text.slice(0, 200))}, expected ${show(expect.body)}`,
    );
  }
  if (expect.complete !== undefined) {
    check(
      response.complete === expect.complete,
      expect.complete
        ? "body cut short"
        : `body arrived whole: ${show(text.slice(0, 200))}`,
    );
  }
  for (const secret of expect.hides ?? []) {
    check(
      !text.includes(secret),
      `body leaks ${show(secret)}: ${show(text.slice(0, 300))}`,
    );
  }
  if (expect.json !== undefined) {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      return fail(`body is not JSON: ${show(text.slice(0, 200))}`);
    }
    for (const [key, want] of Object.entries(expect.json)) {
      check(
        show(value[key]) === show(want),
        `${key} is ${show(value[key])}, expected ${show(want)}`,
      );
    }
  }
}

async function getJson(ctx: CaseContext, target: string): Promise<unknown> {
  const response = await fetch(ctx.origin + target, {
    headers: { "accept-encoding": "identity" },
  });
  return await response.json();
}

async function stats(
  ctx: CaseContext,
  id: string,
): Promise<{ produced: number; closed: number }> {
  const value = await getJson(ctx, `/stats?id=${id}`);
  if (value === null) fail(`the fixture never saw stream ${id}`);
  return value as { produced: number; closed: number };
}

/**
 * Polls `probe` until `done` holds. The pause between polls only spaces
 * them out: the result never depends on how long anything took, and the
 * bound on polls is a guard against a hang, not an assertion.
 */
async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  polls = 300,
): Promise<T> {
  for (let poll = 0;; poll++) {
    const value = await probe();
    if (done(value)) return value;
    if (poll >= polls) {
      fail(`gave up waiting for ${what}; last ${show(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let ids = 0;
function freshId(name: string): string {
  return `${name}-${Date.now().toString(36)}-${++ids}`;
}

// Body lines for the upload cases: empty lines, a line longer than any
// chunk, and a last line without "\n"; cut into chunks that split lines.
function uploadBody(): {
  bytes: Uint8Array;
  lengths: number[];
  pieces: Uint8Array[];
} {
  const lines = [
    "first line\n",
    "\n",
    "x".repeat(100_000) + "\n",
    "ünïcödé line\n",
    "\r\n",
    "no newline at the end",
  ].map((line) => encoder.encode(line));
  const bytes = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
  let offset = 0;
  for (const line of lines) {
    bytes.set(line, offset);
    offset += line.length;
  }
  const pieces: Uint8Array[] = [];
  const cuts = [3, 1, 7, 4096, 65_535, 1];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = cuts[i % cuts.length];
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return { bytes, lengths: lines.map((l) => l.length), pieces };
}

async function upload(
  ctx: CaseContext,
  target: string,
): Promise<{ lengths: number[]; checksum: number; sent: Uint8Array }> {
  const { bytes, pieces } = uploadBody();
  const body = chunked(pieces);
  const response = await raw(ctx.port, {
    method: "POST",
    target,
    headers: [["Transfer-Encoding", "chunked"], ["Content-Type", "text/plain"]],
    body,
  });
  verify(response, { status: 200, complete: true });
  return { ...JSON.parse(decoder.decode(response.body)), sent: bytes };
}

/** Checks downloaded bytes against the fixture's pattern from `offset`. */
function checkPattern(chunk: Uint8Array, offset: number): void {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== ((offset + i) % CHUNK_SIZE & 0xff)) {
      fail(
        `byte ${offset + i} is ${chunk[i]}, expected ${
          (offset + i) % CHUNK_SIZE & 0xff
        }`,
      );
    }
  }
}

/**
 * A response the server broke off: the client must see that it is not
 * whole. Either the head and a prefix of `prefix` arrived and the framing
 * is unfinished, or the connection was reset before the head.
 */
function brokenOff(response: RawResponse, prefix: string): void {
  const text = decoder.decode(response.body);
  if (response.reset) return;
  verify(response, { status: 200, complete: false });
  check(
    prefix.startsWith(text) || text.startsWith(prefix),
    `body ${show(text)}`,
  );
}

const BUN_RESET =
  "Bun resets the connection without sending the head when the body stream errors before its first flush, so the client sees a reset rather than a 200 with a cut body";
const WORKERD_CLEAN_END =
  "workerd drops Content-Length from a streamed body (sends it chunked) and, when the stream errors, ends the chunked body with its normal terminator: the client cannot tell the body is cut (cloudflare/workerd#6818); the gateway still logs the error to wsgi.errors";

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Every case, in the order the table prints them. */
export const cases: Case[] = [
  ...METHODS.map((method): Case => {
    const body = method === "GET" || method === "OPTIONS"
      ? ""
      : `${method} body`;
    return {
      name: `method ${method}`,
      request: {
        method,
        target: "/echo",
        headers: body ? [["Content-Length", String(body.length)]] : [],
        body: body ? [body] : [],
      },
      expect: { status: 200, json: { method, body } },
    };
  }),
  // PATH_INFO comes back in the fixture's 404 text ("no route <json>").
  ...([
    ["path %2F decoded", "/a%2Fb", "/a/b"],
    ["path UTF-8 octets", "/t%C3%A4st", "/t\u00c3\u00a4st"],
    ["path malformed %zz and %", "/x%zz/y%", "/x%zz/y%"],
    ["path dot segments resolved", "/x/../y/./z", "/y/z"],
  ] as const).map(([name, target, path]): Case => ({
    name,
    request: { target },
    expect: { status: 404, body: `no route ${JSON.stringify(path)}\n` },
  })),
  {
    name: "path raw UTF-8 bytes",
    // The UTF-8 octets of "ä" unencoded on the wire (the head is written
    // one octet per char): the runtimes' URL parsers percent-encode them,
    // and PATH_INFO decodes them back to one char per octet.
    request: { target: "/t\u00c3\u00a4st" },
    // RFC 9112 allows only ASCII in the target: tsgi refuses raw octets
    // above 0x7F (SPEC.md §3.8), as Node's parser does before it.
    expect: { status: 400 },
    expectOn: {
      bun: { status: 404, body: 'no route "/t\u00c3\u00a4st"\n' },
      workerd: { status: 404, body: 'no route "/t\u00c3\u00a4st"\n' },
    },
    differences: {
      bun:
        "Bun percent-encodes raw octets above 0x7F before the handler runs, so tsgi sees an ASCII target (SPEC.md §3.8)",
      workerd:
        "workerd (and Cloudflare's edge) percent-encode raw octets above 0x7F before the Worker runs",
    },
  },
  {
    name: "raw QUERY_STRING",
    request: { target: "/echo?a=1&b=%20+c&&d=%zz&e=%C3%A4" },
    expect: {
      status: 200,
      json: {
        query: "a=1&b=%20+c&&d=%zz&e=%C3%A4",
        uri: "/echo?a=1&b=%20+c&&d=%zz&e=%C3%A4",
      },
    },
  },
  {
    name: "request headers in",
    async run(ctx) {
      const response = await raw(ctx.port, {
        method: "POST",
        target: "/echo",
        headers: [
          ["X-Custom", "one"],
          ["X_Under", "dropped"],
          ["X-Multi", "1"],
          ["X-Multi", "2"],
          ["Content-Type", "text/x-test"],
          ["Content-Length", "4"],
        ],
        body: ["abcd"],
      });
      verify(response, {
        status: 200,
        json: { contentType: "text/x-test", contentLength: "4", body: "abcd" },
      });
      const { http } = JSON.parse(decoder.decode(response.body));
      check(
        http.HTTP_X_CUSTOM === "one",
        `HTTP_X_CUSTOM is ${show(http.HTTP_X_CUSTOM)}`,
      );
      check(
        http.HTTP_X_MULTI === "1, 2",
        `HTTP_X_MULTI is ${show(http.HTTP_X_MULTI)}`,
      );
      check(
        !("HTTP_X_UNDER" in http),
        `HTTP_X_UNDER is present: ${show(http.HTTP_X_UNDER)}`,
      );
      check(
        !("HTTP_CONTENT_TYPE" in http) && !("HTTP_CONTENT_LENGTH" in http),
        `CONTENT_* also as HTTP_*: ${show(Object.keys(http))}`,
      );
    },
  },
  {
    name: "SERVER_NAME, SERVER_PORT from Host",
    async run(ctx) {
      const response = await raw(ctx.port, {
        target: "/echo",
        headers: [["Host", "example.test:8123"]],
      });
      verify(response, {
        status: 200,
        json: {
          serverName: "example.test",
          serverPort: "8123",
          scheme: "http",
        },
      });
    },
  },
  {
    name: "REMOTE_ADDR",
    request: { target: "/echo" },
    expect: { status: 200, json: { remoteAddr: "127.0.0.1" } },
    differences: {
      workerd:
        "workerd has no socket address API: REMOTE_ADDR comes from CF-Connecting-IP, which miniflare's entry worker sets to the client address (Cloudflare's edge does the same in production)",
    },
  },
  {
    name: "two Set-Cookie out",
    request: { target: "/cookies" },
    expect: {
      status: 200,
      headers: { "set-cookie": ["a=1; Path=/", "b=2; Path=/; HttpOnly"] },
    },
  },
  {
    name: "latin-1 header value in",
    async run(ctx) {
      const response = await raw(ctx.port, {
        target: "/echo",
        headers: [["X-Latin1", "caf\u00e9"]], // the octet E9
      });
      verify(response, { status: 200 });
      const { http } = JSON.parse(decoder.decode(response.body));
      check(
        http.HTTP_X_LATIN1 === "caf\u00e9",
        `HTTP_X_LATIN1 is ${show(http.HTTP_X_LATIN1)}`,
      );
    },
    exceptions: {
      workerd:
        "workerd decodes request header octets as UTF-8, so a lone E9 becomes U+FFFD: the original octet is lost before the app sees it",
    },
  },
  {
    name: "latin-1 header value out",
    request: { target: "/latin1" },
    expect: { status: 200, headers: { "x-latin1": "caf\u00e9" } },
    exceptions: {
      workerd:
        "workerd writes header values as UTF-8: the latin-1 char U+00E9 leaves as the octets C3 A9 instead of E9 (the other runtimes send one octet per char, as the Fetch ByteString rule and PEP 3333 intend)",
    },
  },
  {
    name: "chunked upload, readline",
    async run(ctx) {
      const result = await upload(ctx, "/upload/readline");
      const { lengths } = uploadBody();
      check(
        show(result.lengths) === show(lengths),
        `line lengths ${show(result.lengths)}, expected ${show(lengths)}`,
      );
      check(result.checksum === checksum(result.sent), "checksum differs");
    },
  },
  {
    name: "chunked upload, read(1000)",
    async run(ctx) {
      const result = await upload(ctx, "/upload/read?n=1000");
      const total = result.sent.length;
      const want = Array.from(
        { length: Math.ceil(total / 1000) },
        (_, i) => Math.min(1000, total - i * 1000),
      );
      check(
        show(result.lengths) === show(want),
        `read sizes ${show(result.lengths)}`,
      );
      check(result.checksum === checksum(result.sent), "checksum differs");
    },
  },
  {
    name: "100 MiB download, bounded memory",
    async run(ctx) {
      const total = 100 * MiB;
      // Warm the path up first, so the baseline includes compiled code.
      await (await fetch(`${ctx.origin}/download?bytes=${4 * MiB}`, {
        headers: { "accept-encoding": "identity" },
      })).arrayBuffer();
      const baseline = await treeRss(ctx.pid);
      let peak = baseline;
      const response = await fetch(`${ctx.origin}/download?bytes=${total}`, {
        headers: { "accept-encoding": "identity" },
      });
      check(response.status === 200, `status ${response.status}`);
      let received = 0;
      let nextSample = 0;
      for await (const chunk of response.body!) {
        checkPattern(chunk, received);
        received += chunk.length;
        if (received >= nextSample) {
          peak = Math.max(peak, await treeRss(ctx.pid));
          nextSample += 8 * MiB;
        }
      }
      peak = Math.max(peak, await treeRss(ctx.pid));
      check(
        received === total,
        `received ${received} bytes, expected ${total}`,
      );
      const growth = (peak - baseline) / MiB;
      check(growth < 48, `server RSS grew by ${growth.toFixed(1)} MiB`);
      return `RSS +${growth.toFixed(1)} MiB`;
    },
    differences: {
      workerd:
        "measured as the RSS of miniflare's Node process plus its workerd child (/proc), as for the other runtimes' process trees; workerd offers no in-isolate memory API",
    },
  },
  {
    name: "slow reader (backpressure)",
    async run(ctx) {
      const id = freshId("slow");
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: ctx.port,
      });
      try {
        await conn.write(requestHead(ctx.port, { target: `/stream?id=${id}` }));
        const buffer = new Uint8Array(64 * 1024);
        let consumed = 0;
        const readUpTo = async (limit: number) => {
          while (consumed < limit) {
            const n = await conn.read(buffer);
            if (n === null) fail("the server closed the stream");
            consumed += n;
          }
        };
        await readUpTo(MiB);
        // Stop reading. A server without backpressure pulls the whole
        // 256 MiB from the generator; one with it stops once the socket
        // and its own small buffers are full.
        const bound = 32 * MiB;
        let last = -1;
        let same = 0;
        const stalled = await until(
          () => stats(ctx, id),
          (s) => {
            if (s.produced - consumed > bound) return true;
            same = s.produced === last ? same + 1 : 0;
            last = s.produced;
            return same >= 6;
          },
          "production to stop",
        );
        const ahead = stalled.produced - consumed;
        check(
          ahead <= bound,
          `produced ${(ahead / MiB).toFixed(1)} MiB ahead of the reader`,
        );
        // Reading again makes the generator produce again.
        await readUpTo(stalled.produced + 4 * MiB);
        const resumed = await stats(ctx, id);
        check(
          resumed.produced > stalled.produced,
          "the generator did not resume",
        );
        check(resumed.closed === 0, "close() ran while streaming");
        return `${(ahead / MiB).toFixed(1)} MiB ahead`;
      } finally {
        conn.close();
      }
    },
  },
  {
    name: "HEAD, known length",
    request: { method: "HEAD", target: "/sized", probe: true },
    expect: { status: 200, headers: { "content-length": "10" }, body: "" },
  },
  {
    name: "HEAD, streamed with Content-Length",
    request: { method: "HEAD", target: "/sized?stream=1", probe: true },
    expect: { status: 200, headers: { "content-length": "10" }, body: "" },
  },
  {
    name: "HEAD, streamed without Content-Length",
    // The gateway cannot know the length without running the body, so it
    // announces none; a runtime must not invent "content-length: 0".
    request: { method: "HEAD", target: "/download", probe: true },
    expect: { status: 200, headers: { "content-length": null }, body: "" },
  },
  {
    name: "204 without body",
    request: { target: "/status/204", probe: true },
    expect: { status: 204, headers: { "x-case": "204" }, body: "" },
  },
  {
    name: "304 without body",
    request: { target: "/status/304", probe: true },
    expect: { status: 304, headers: { etag: '"v1"' }, body: "" },
  },
  {
    name: "Content-Length too long, array",
    request: { target: "/cl/long" },
    expect: { status: 200, body: "01234", complete: true },
  },
  {
    name: "Content-Length too long, stream",
    request: { target: "/cl/long?stream=1" },
    expect: { status: 200, body: "01234", complete: true },
  },
  {
    // The whole body is known before anything is sent: a clean 500 rather
    // than headers promising bytes that never come.
    name: "Content-Length too short, array",
    request: { target: "/cl/short" },
    expect: { status: 500, body: "500 Internal Server Error\n" },
  },
  {
    name: "Content-Length too short, stream",
    async run(ctx) {
      const response = await raw(ctx.port, { target: "/cl/short?stream=1" });
      brokenOff(response, "01234");
    },
    differences: { bun: BUN_RESET },
    exceptions: { workerd: WORKERD_CLEAN_END },
  },
  {
    name: "app error before first chunk",
    request: { target: "/error/before" },
    expect: {
      status: 500,
      body: "500 Internal Server Error\n",
      hides: ["hunter2", "    at "],
    },
  },
  {
    name: "app error after first chunk",
    async run(ctx) {
      const response = await raw(ctx.port, { target: "/error/after" });
      brokenOff(response, "first chunk\n");
      verify(response, { status: response.status, hides: ["hunter2"] });
    },
    differences: { bun: BUN_RESET },
    exceptions: { workerd: WORKERD_CLEAN_END },
  },
  {
    name: "client abort -> close()",
    async run(ctx) {
      const id = freshId("abort");
      const controller = new AbortController();
      const response = await fetch(`${ctx.origin}/stream?id=${id}`, {
        headers: { "accept-encoding": "identity" },
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      const first = await reader.read();
      check(!first.done && first.value.length > 0, "no first chunk");
      controller.abort();
      await reader.closed.catch(() => {});
      const s = await until(
        () => stats(ctx, id),
        (s) => s.closed > 0,
        "close()",
        240,
      );
      check(s.closed === 1, `close() ran ${s.closed} times`);
      return `closed after ${(s.produced / MiB).toFixed(1)} MiB`;
    },
    exceptions: {
      workerd:
        "workerd does not cancel the body stream of a client that has gone (under miniflare, and workerd 1.20260426.1 run directly behaves the same): production stops where backpressure left it and close() is never called",
    },
  },
  {
    name: "maxBodySize, Content-Length -> 413",
    request: {
      method: "POST",
      target: "/limited",
      headers: [["Content-Length", String(2 * MiB)]],
      body: ["only the start"],
    },
    expect: { status: 413 },
  },
  {
    name: "maxBodySize, chunked -> 413",
    request: {
      method: "POST",
      target: "/limited",
      headers: [["Transfer-Encoding", "chunked"]],
      // 17 chunks of 64 KiB: just over the fixture's 1 MiB limit.
      body: chunked(
        Array.from({ length: 17 }, () => new Uint8Array(64 * 1024).fill(97)),
      ),
    },
    expect: { status: 413 },
  },
  {
    name: "under maxBodySize accepted",
    request: {
      method: "POST",
      target: "/limited",
      headers: [["Content-Length", String(MiB)]],
      body: [new Uint8Array(MiB).fill(98)],
    },
    expect: { status: 200, json: { length: MiB } },
  },
];
