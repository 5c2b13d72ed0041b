// Property-based fuzzing of broken applications through the gateway.
//
// fast-check draws an app's whole behaviour (status strings, header lists,
// start_response orders, write() interleavings, chunk types, throw points,
// sync/async generators, Promises, close() that throws or rejects, clients
// that hang up) and the oracle below checks what SPEC.md promises for every
// one of them: the handler always answers, the answer is either the app's
// well-formed response or a 500 (413 never here) / an aborted stream,
// nothing unhandled escapes, and close() runs exactly once.
//
// The second test puts `validator` between the gateway and each app as an
// oracle of the PEP's rules: a rule about the server's side (the environ,
// start_response, close()) must never fire, whatever the app does.
//
// TSGI_FUZZ_RUNS sets the number of runs (CI: 10,000; `deno task stress`:
// 100,000); TSGI_FUZZ_SEED replays a failing seed.

import assert from "node:assert/strict";
import { toFetchHandler, validator } from "../../mod.ts";
import type { App, AppIterable, Header, ValidatedApp } from "../../mod.ts";
import { type Arbitrary, fc } from "../_util/fast_check.ts";

const RUNS = Number(Deno.env.get("TSGI_FUZZ_RUNS") ?? 10_000);
const SEED = Deno.env.get("TSGI_FUZZ_SEED");

// --- what an app may do ----------------------------------------------------

type Chunk = Uint8Array | string | number | null;
type HeaderList = unknown;

interface Call {
  status: unknown;
  headers: HeaderList;
  excInfo: boolean;
  /** The app catches what this call throws and carries on. */
  swallow: boolean;
}

type ResultKind =
  | "array"
  | "sync-generator"
  | "async-generator"
  | "iterable-with-close"
  | "not-iterable"
  | "uint8array"
  | "string";

type CloseKind = "none" | "ok" | "throws" | "rejects";

interface Plan {
  method: "GET" | "HEAD";
  async: boolean;
  throwBeforeStart: boolean;
  /** start_response during iteration instead of before returning. */
  startLate: boolean;
  calls: Call[];
  /** Content-Length the app declares, relative to what it sends. */
  contentLength: "none" | "exact" | "short" | "long";
  writes: Chunk[];
  awaitWrites: boolean;
  throwAfterWrites: boolean;
  result: ResultKind;
  chunks: Chunk[];
  /** The iteration throws when asked for this chunk (-1: never). */
  throwAt: number;
  close: CloseKind;
  /** The client cancels after reading this many chunks (-1: reads all). */
  cancelAfter: number;
  /** A header value the app sends with CR/LF in it (header injection). */
  injection: boolean;
}

const VALID_STATUSES = [
  "200 OK",
  "201 Created",
  "204 No Content",
  "304 Not Modified",
  "404 Not Found",
  "418 I'm a teapot",
  "500 Oops",
  "599 Edge",
  "200 ",
];
const BAD_STATUSES = [
  "200",
  "200OK",
  " 200 OK",
  "99 Low",
  "100 Continue",
  "600 High",
  "200 OK\r\nX-Injected: 1",
  "200 Caf\u0100",
  "abc def",
  "",
];

const status = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALID_STATUSES) },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_STATUSES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(200, null, undefined, ["200 OK"]) },
);

const goodHeader: Arbitrary<Header> = fc.oneof(
  fc.constantFrom<Header>(
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1; Path=/"],
    ["Set-Cookie", "b=2"],
    ["X-Trace", "abc\tdef"],
    ["Cache-Control", "no-store"],
    ["X-Latin1", "caf\u00e9"],
  ),
  fc.tuple(
    fc.stringMatching(/^X-[A-Za-z0-9]{1,8}$/),
    fc.stringMatching(/^[ -~]{0,16}$/),
  ),
);
const badHeader: Arbitrary<unknown> = fc.constantFrom<unknown>(
  ["Connection", "close"],
  ["Transfer-Encoding", "chunked"],
  ["Bad Name", "x"],
  ["X-Colon:", "x"],
  ["", "x"],
  ["X-Split", "a\r\nSet-Cookie: evil=1"],
  ["X-Lf", "a\nb"],
  ["X-Nul", "a\0b"],
  ["X-Wide", "\u20ac"],
  ["X-Num", 5],
  ["Content-Length", "-1"],
  ["Content-Length", "1e3"],
  ["X-Short"],
  "X-Not-A-Pair",
  null,
);
const headers: Arbitrary<HeaderList> = fc.oneof(
  { weight: 8, arbitrary: fc.array(goodHeader, { maxLength: 5 }) },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.array(goodHeader, { maxLength: 3 }),
      badHeader,
    ).map(([good, bad]) => [...good, bad]),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, "X: y", {}) },
);

const call: Arbitrary<Call> = fc.record({
  status,
  headers,
  excInfo: fc.boolean(),
  swallow: fc.boolean(),
});

const chunk: Arbitrary<Chunk> = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }) },
  { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Chunk>("text", 42, null, "" as string),
  },
);

const plan: Arbitrary<Plan> = fc.record({
  method: fc.constantFrom("GET", "HEAD"),
  async: fc.boolean(),
  throwBeforeStart: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
  startLate: fc.boolean(),
  calls: fc.oneof(
    { weight: 6, arbitrary: fc.array(call, { minLength: 1, maxLength: 1 }) },
    { weight: 3, arbitrary: fc.array(call, { minLength: 0, maxLength: 3 }) },
  ),
  contentLength: fc.constantFrom("none", "none", "exact", "short", "long"),
  writes: fc.array(chunk, { maxLength: 3 }),
  awaitWrites: fc.boolean(),
  throwAfterWrites: fc.boolean(),
  result: fc.constantFrom<ResultKind>(
    "array",
    "array",
    "sync-generator",
    "sync-generator",
    "async-generator",
    "async-generator",
    "iterable-with-close",
    "not-iterable",
    "uint8array",
    "string",
  ),
  chunks: fc.array(chunk, { maxLength: 6 }),
  throwAt: fc.integer({ min: -4, max: 5 }).map((n) => n < 0 ? -1 : n),
  close: fc.constantFrom<CloseKind>("none", "ok", "ok", "throws", "rejects"),
  cancelAfter: fc.integer({ min: -3, max: 3 }).map((n) => n < 0 ? -1 : n),
  injection: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
});

// A third of the runs are well-behaved apps, whose responses must come out
// whole; the rest break something.
const wellBehaved: Arbitrary<Plan> = fc.tuple(
  plan,
  fc.constantFrom(...VALID_STATUSES),
  fc.array(goodHeader, { maxLength: 4 }),
  fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 5 }),
).map(([p, s, h, chunks]) => ({
  ...p,
  throwBeforeStart: false,
  injection: false,
  calls: [{ status: s, headers: h, excInfo: false, swallow: false }],
  contentLength: p.contentLength === "exact" ? "exact" : "none",
  writes: p.writes.filter((w) => w instanceof Uint8Array),
  throwAfterWrites: false,
  result: p.result === "iterable-with-close" || p.result === "not-iterable" ||
      p.result === "uint8array" || p.result === "string"
    ? "sync-generator"
    : p.result,
  chunks,
  throwAt: -1,
  close: p.close === "none" ? "none" : "ok",
}));
const anyPlan: Arbitrary<Plan> = fc.oneof(
  { weight: 2, arbitrary: plan },
  { weight: 1, arbitrary: wellBehaved },
);

// --- the app a plan describes ----------------------------------------------

class Planned extends Error {
  constructor(where: string) {
    super(`planned failure ${where}`);
  }
}

interface Trace {
  /** close() calls on the result. */
  closes: number;
  /** The app handed the gateway a result that has close(). */
  closable: boolean;
  closed: PromiseWithResolvers<void>;
  /** Settles when the app has returned or thrown. */
  returned: PromiseWithResolvers<void>;
  /** Calls whose arguments the gateway accepted (status, headers). */
  accepted: { status: string; headers: Header[] } | undefined;
  /** Bytes passed to write() and yielded, in order, Uint8Array only. */
  sent: Uint8Array[];
}

function totalOf(plan: Plan): number {
  let n = 0;
  // A late start_response leaves the app nothing to write() with.
  for (const c of [...plan.startLate ? [] : plan.writes, ...plan.chunks]) {
    if (c instanceof Uint8Array) n += c.length;
  }
  return n;
}

function withLength(plan: Plan, list: HeaderList): HeaderList {
  if (!Array.isArray(list)) return list;
  const out = [...list];
  if (plan.injection) out.push(["X-Injected", "ok\r\nSet-Cookie: evil=1"]);
  const total = totalOf(plan);
  const cl = plan.contentLength === "exact"
    ? total
    : plan.contentLength === "short"
    ? Math.max(0, total - 3)
    : plan.contentLength === "long"
    ? total + 5
    : -1;
  if (cl >= 0) out.push(["Content-Length", String(cl)]);
  return out;
}

function isValidStatus(s: unknown): s is string {
  return typeof s === "string" &&
    /^([2-5][0-9]{2}) [\t\x20-\x7e\x80-\xff]*$/.test(s);
}

function makeApp(plan: Plan, trace: Trace): App {
  let write: ((chunk: Uint8Array) => Promise<void>) | undefined;

  // Runs the start_response calls; rethrows unless the app swallows.
  const start = (startResponse: Parameters<App>[1]) => {
    for (const c of plan.calls) {
      const list = withLength(plan, c.headers);
      try {
        write = startResponse(
          c.status as string,
          list as Header[],
          c.excInfo ? new Planned("exc_info") : undefined,
        );
        trace.accepted = {
          status: c.status as string,
          headers: list as Header[],
        };
      } catch (error) {
        if (!c.swallow) throw error;
      }
    }
  };

  const doWrites = async (awaiting: boolean) => {
    if (write === undefined) return;
    for (const w of plan.writes) {
      const p = write(w as Uint8Array);
      if (w instanceof Uint8Array) trace.sent.push(w);
      if (awaiting) await p;
    }
  };
  const doWritesSync = () => {
    if (write === undefined) return;
    for (const w of plan.writes) {
      void write(w as Uint8Array);
      if (w instanceof Uint8Array) trace.sent.push(w);
    }
  };

  const closeFn = () => {
    trace.closes++;
    trace.closed.resolve();
    if (plan.close === "throws") throw new Planned("in close()");
    if (plan.close === "rejects") {
      return Promise.reject(new Planned("in async close()"));
    }
  };

  const result = (startResponse: Parameters<App>[1]): AppIterable => {
    const late = plan.startLate;
    const chunks = plan.chunks;
    const yielded = (c: Chunk) => {
      if (c instanceof Uint8Array) trace.sent.push(c);
      return c as Uint8Array;
    };
    let out: AppIterable;
    switch (plan.result) {
      case "not-iterable":
        out = { close: undefined } as unknown as AppIterable;
        break;
      case "uint8array":
        return new Uint8Array([1, 2]) as unknown as AppIterable;
      case "string":
        return "body" as unknown as AppIterable;
      case "array":
        if (late) start(startResponse);
        if (plan.throwAt >= 0 && plan.throwAt < chunks.length) {
          throw new Planned("building the array");
        }
        chunks.forEach(yielded);
        out = [...chunks] as Uint8Array[];
        break;
      case "sync-generator":
        out = (function* () {
          if (late) start(startResponse);
          for (let i = 0; i < chunks.length; i++) {
            if (i === plan.throwAt) throw new Planned(`at chunk ${i}`);
            yield yielded(chunks[i]);
          }
        })();
        break;
      case "async-generator":
        out = (async function* () {
          await null;
          if (late) start(startResponse);
          for (let i = 0; i < chunks.length; i++) {
            if (i === plan.throwAt) throw new Planned(`at chunk ${i}`);
            await null;
            yield yielded(chunks[i]);
          }
        })();
        break;
      case "iterable-with-close": {
        let i = 0;
        out = {
          [Symbol.iterator]() {
            return {
              next() {
                if (i === 0 && late) start(startResponse);
                if (i === plan.throwAt) throw new Planned(`at chunk ${i}`);
                if (i >= chunks.length) return { done: true, value: undefined };
                return { done: false, value: yielded(chunks[i++]) };
              },
            };
          },
        } as AppIterable;
        break;
      }
    }
    if (plan.close !== "none" || plan.result === "iterable-with-close") {
      (out as { close?: () => unknown }).close = closeFn;
      trace.closable = true;
    }
    return out;
  };

  const settle = <T>(run: () => T): T => {
    try {
      const out = run();
      if (out instanceof Promise) {
        out.then(trace.returned.resolve, trace.returned.resolve);
      } else trace.returned.resolve();
      return out;
    } catch (error) {
      trace.returned.resolve();
      throw error;
    }
  };
  const body = bodyOf(plan, trace, start, doWrites, doWritesSync, result);
  return (environ, startResponse) => settle(() => body(environ, startResponse));
}

function bodyOf(
  plan: Plan,
  _trace: Trace,
  start: (startResponse: Parameters<App>[1]) => void,
  doWrites: (awaiting: boolean) => Promise<void>,
  doWritesSync: () => void,
  result: (startResponse: Parameters<App>[1]) => AppIterable,
): App {
  if (plan.async) {
    return async (_environ, startResponse) => {
      await null;
      if (plan.throwBeforeStart) throw new Planned("before start_response");
      if (!plan.startLate) start(startResponse);
      await doWrites(plan.awaitWrites);
      if (plan.throwAfterWrites && plan.writes.length > 0) {
        throw new Planned("after write()");
      }
      return result(startResponse);
    };
  }
  return (_environ, startResponse) => {
    if (plan.throwBeforeStart) throw new Planned("before start_response");
    if (!plan.startLate) start(startResponse);
    doWritesSync();
    if (plan.throwAfterWrites && plan.writes.length > 0) {
      throw new Planned("after write()");
    }
    return result(startResponse);
  };
}

// Set while the validator is the oracle: it also holds the app to E25 (no
// body at all for 204/205/304), which the bare gateway only enforces by
// dropping the body, and to V18 (a Content-Type but on 204 and 304).
let strict = false;

/** A plan with nothing wrong in it: the app's response must come out whole. */
function isClean(plan: Plan): boolean {
  if (
    strict && /^(204|205|304) /.test(String(plan.calls[0]?.status)) &&
    totalOf(plan) > 0
  ) return false;
  if (
    plan.throwBeforeStart || plan.injection || plan.calls.length !== 1 ||
    plan.calls[0].excInfo || plan.contentLength === "short" ||
    plan.contentLength === "long" ||
    (plan.throwAfterWrites && plan.writes.length > 0) ||
    plan.close !== "none" && plan.close !== "ok" ||
    plan.result === "not-iterable" || plan.result === "uint8array" ||
    plan.result === "string" || plan.result === "iterable-with-close"
  ) return false;
  const c = plan.calls[0];
  if (!isValidStatus(c.status) || !Array.isArray(c.headers)) return false;
  if (!c.headers.every((h) => goodHeaderValue(h))) return false;
  // The validator also wants a Content-Type on all but 204 and 304 (V18).
  if (
    strict && !/^(204|304) /.test(String(c.status)) &&
    !c.headers.some((h) => (h as Header)[0].toLowerCase() === "content-type")
  ) return false;
  if (plan.throwAt >= 0 && plan.throwAt < plan.chunks.length) return false;
  return [...plan.startLate ? [] : plan.writes, ...plan.chunks].every((x) =>
    x instanceof Uint8Array
  );
}

function goodHeaderValue(h: unknown): boolean {
  return Array.isArray(h) && h.length === 2 &&
    typeof h[0] === "string" && /^[A-Za-z0-9-]+$/.test(h[0]) &&
    !/^(connection|transfer-encoding)$/i.test(h[0]) &&
    typeof h[1] === "string" && !/[^\t\x20-\x7e\x80-\xff]/.test(h[1]) &&
    (h[0].toLowerCase() !== "content-length" || /^[0-9]+$/.test(h[1]));
}

// --- the oracle --------------------------------------------------------------

const ERROR_500 = "500 Internal Server Error\n";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function isPrefix(prefix: Uint8Array, whole: Uint8Array): boolean {
  if (prefix.length > whole.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (prefix[i] !== whole[i]) return false;
  }
  return true;
}

/** Reads the body as the plan's client would: all of it, or cancels early. */
async function readBody(
  response: Response,
  cancelAfter: number,
): Promise<{ bytes: Uint8Array; aborted: boolean; cancelled: boolean }> {
  const parts: Uint8Array[] = [];
  if (response.body === null) {
    return { bytes: new Uint8Array(0), aborted: false, cancelled: false };
  }
  const reader = response.body.getReader();
  try {
    for (let n = 0;; n++) {
      if (n === cancelAfter) {
        await reader.cancel();
        return { bytes: concat(parts), aborted: false, cancelled: true };
      }
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } catch {
    return { bytes: concat(parts), aborted: true, cancelled: false };
  }
  return { bytes: concat(parts), aborted: false, cancelled: false };
}

function expectHeaders(response: Response, list: Header[]): void {
  const byName = new Map<string, string[]>();
  for (const [name, value] of list) {
    const key = name.toLowerCase();
    if (key === "content-length") continue;
    byName.set(key, [...byName.get(key) ?? [], value]);
  }
  for (const [name, values] of byName) {
    if (name === "set-cookie") {
      assert.deepEqual(response.headers.getSetCookie(), values);
    } else {
      // Fetch joins repeated fields with ", " and trims outer whitespace.
      assert.equal(
        response.headers.get(name),
        values.map((v) => v.trim()).join(", "),
        `header ${name}`,
      );
    }
  }
  assert.equal(response.headers.get("x-injected"), null);
}

// Validator rules about the server's side: the environ and wsgi.input /
// wsgi.errors it provides (S1–S34, S36–S40), start_response (S41), close()
// (S62). Any other rule is the app's fault and may fire here.
function isServerRule(rule: number): boolean {
  return (rule >= 1 && rule <= 40 && rule !== 35) || rule === 41 ||
    rule === 62;
}

/** Runs one plan through the gateway and checks it; names the outcome. */
async function check(plan: Plan, validate: boolean): Promise<string> {
  const trace: Trace = {
    closes: 0,
    closable: false,
    closed: Promise.withResolvers(),
    returned: Promise.withResolvers(),
    accepted: undefined,
    sent: [],
  };
  const logs: string[] = [];
  const app = makeApp(plan, trace);
  const validated: ValidatedApp | undefined = validate
    ? validator(app)
    : undefined;
  const handler = toFetchHandler(validated ?? app, {
    errors: (text) => logs.push(text),
  });
  const request = new Request("http://localhost/fuzz", {
    method: plan.method,
  });

  // 1. The handler always answers: no throw, no rejection.
  stage = "waiting for the Response";
  const response = await handler(request);
  stage = "reading the body";
  assert.ok(response instanceof Response);

  const body = await readBody(response, plan.cancelAfter);
  const text = new TextDecoder().decode(body.bytes);
  const head = plan.method === "HEAD";

  if (
    response.status === 500 &&
    response.statusText === "Internal Server Error" &&
    (head
      ? text === ""
      : body.cancelled
      ? ERROR_500.startsWith(text)
      : text === ERROR_500)
  ) {
    // 2a. A 500 from the gateway: the app did something wrong, it is logged,
    // and the client learns nothing about it.
    assert.ok(!isClean(plan), "a clean app got a 500");
    assert.ok(logs.some((l) => l.startsWith("tsgi: ")), "500 without a log");
    assert.ok(!text.includes("Planned"), "error details leaked");
    assert.equal(response.headers.get("x-injected"), null);
  } else {
    // 2b. The app's own response: exactly what it last set, headers intact.
    const accepted = trace.accepted;
    assert.ok(accepted !== undefined, `status ${response.status} from nowhere`);
    assert.ok(isValidStatus(accepted.status));
    // "200 OK" is the one status left to the runtime's own reason phrase.
    const line = `${response.status} ${response.statusText}`;
    assert.equal(
      line === "200 " && accepted.status === "200 OK" ? "200 OK" : line,
      accepted.status,
    );
    assert.ok(
      accepted.headers.every(goodHeaderValue),
      "bad headers were sent",
    );
    expectHeaders(response, accepted.headers);
    const code = response.status;
    const whole = concat(trace.sent);
    const cl = accepted.headers.find(([n]) =>
      n.toLowerCase() === "content-length"
    )?.[1];
    if (head || code === 204 || code === 304) {
      // No content; an empty stream stands in for HEAD of unknown length.
      assert.equal(body.bytes.length, 0, "a body where none is allowed");
    } else {
      assert.ok(isPrefix(body.bytes, whole), "body is not what the app sent");
      if (cl !== undefined) {
        assert.ok(body.bytes.length <= Number(cl), "more than Content-Length");
        if (!body.aborted && !body.cancelled) {
          assert.equal(body.bytes.length, Number(cl), "short body not broken");
        }
      }
      if (isClean(plan) && !body.cancelled) {
        assert.ok(!body.aborted, "a clean app's stream was aborted");
        assert.deepEqual(body.bytes, whole);
      }
    }
    if (isClean(plan)) {
      // The validator's warnings (a body for HEAD, E6) are not failures.
      assert.deepEqual(
        logs.filter((l) => !l.startsWith("tsgi validator:")),
        [],
      );
    }
  }
  for (const line of logs) {
    const rule = /\bS(\d+): /.exec(line)?.[1];
    assert.ok(
      rule === undefined || !isServerRule(Number(rule)),
      `the validator caught the gateway: ${line}`,
    );
  }

  // 3. The app always gets control back and finishes (a write() waiting
  // for room is released when the response ends).
  stage = "waiting for the app to return";
  await trace.returned.promise;
  stage = "waiting for close()";
  // 4. close() exactly once, whenever the app handed over something closable.
  if (trace.closable) {
    const timer = Promise.withResolvers<void>();
    const id = setTimeout(
      () => timer.reject(new Error("close() never ran")),
      5000,
    );
    try {
      await Promise.race([trace.closed.promise, timer.promise]);
    } finally {
      clearTimeout(id);
    }
    assert.equal(trace.closes, 1);
  } else {
    assert.equal(trace.closes, 0);
  }
  if (validated !== undefined) {
    // S62, checked by the validator: every result it saw was closed.
    await validated.allClosed();
    validated.assertClosed();
  }
  traces.push(trace);
  const clean = isClean(plan) ? "clean" : "broken";
  if (
    response.statusText === "Internal Server Error" && response.status === 500
  ) {
    return `${clean} app: 500`;
  }
  if (body.cancelled) return `${clean} app: client hung up`;
  if (body.aborted) return `${clean} app: aborted stream`;
  return `${clean} app: its own response`;
}

const traces: Trace[] = [];
let stage = "";

/** Fails a run that never settles (a hang) instead of stalling the test. */
async function withDeadline<T>(run: Promise<T>): Promise<T> {
  const timer = Promise.withResolvers<never>();
  const id = setTimeout(
    () => timer.reject(new Error(`the exchange hung (${stage})`)),
    5000,
  );
  try {
    return await Promise.race([run, timer.promise]);
  } finally {
    clearTimeout(id);
  }
}

async function fuzz(validate: boolean): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const tally: Record<string, number> = {};
  traces.length = 0;
  strict = validate;
  try {
    await fc.assert(
      fc.asyncProperty(anyPlan, async (p) => {
        const outcome = await withDeadline(check(p, validate));
        tally[outcome] = (tally[outcome] ?? 0) + 1;
      }),
      {
        numRuns: RUNS,
        seed: SEED === undefined ? undefined : Number(SEED),
        endOnFailure: true,
      },
    );
    // One macrotask turn, so late close() rejections surface before judging.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(unhandled, [], "unhandled rejections");
  for (const t of traces) assert.ok(t.closes <= 1, "close() ran twice");
  const summary = Object.entries(tally).sort().map(([k, n]) => `${k} ${n}`);
  console.log(
    `hostile apps${validate ? " (validator)" : ""}: ${RUNS} runs (${
      summary.join(", ")
    }); crashes 0, unhandled rejections 0, close() twice 0`,
  );
}

Deno.test(`hostile apps: ${RUNS} random apps through the gateway`, () =>
  fuzz(false));

Deno.test(
  `hostile apps: ${RUNS} random apps through validator and the gateway`,
  () => fuzz(true),
);
