/**
 * `validator(app)`: wsgiref.validate with Rack::Lint's extras. It sits
 * between a server and an application and checks both: the environ the
 * server gives, and what the application does with it.
 *
 * Every failure throws an `Error`, `TypeError` or `RangeError` whose message
 * starts with a rule ID (`S42: …`), so a test or a log line says which rule
 * broke; `docs/pep3333_rules.md`, shipped in the package, states each rule. Things that are allowed but usually
 * a mistake are written to `wsgi.errors` as warnings.
 *
 * @module
 */

import { readLines } from "../gateway/_values.ts";
import {
  checkHeaders,
  HOP_BY_HOP,
  isBodiless,
  parseStatus,
  show,
} from "../gateway/_response_rules.ts";
import { FileWrapper } from "../gateway/file_wrapper.ts";
import type {
  App,
  AppIterable,
  Closable,
  Environ,
  ErrorStream,
  InputStream,
  StartResponse,
  WebSocketUpgrade,
  Write,
} from "../types.ts";

/**
 * A validated application: the app, plus a way to check that the server
 * called `close()` on every result it was given.
 *
 * @example Check close() after a request
 * ```ts
 * import { toFetchHandler } from "@tsgi/tsgi";
 * import { validator } from "@tsgi/tsgi";
 * const app = validator((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * });
 * await (await toFetchHandler(app)(new Request("http://localhost/"))).text();
 * app.assertClosed(); // throws "S62: …" if a result was never closed
 * ```
 */
export interface ValidatedApp extends App {
  /** How many results were returned to the server and not closed yet. */
  readonly openResults: number;
  /**
   * Throws an `Error` naming rule S62 and the requests whose results the
   * server has not closed. Call it once the responses are over.
   */
  assertClosed(): void;
  /** Settles once every result returned so far has been closed. */
  allClosed(): Promise<void>;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "CONNECT",
]);
// Any UTF-16 unit above U+00FF (a surrogate is one too).
const NOT_LATIN1 = /[\u0100-\uffff]/;

// The must-be-present keys, each with the rule that asks for it.
const REQUIRED: readonly [key: string, rule: string][] = [
  ["REQUEST_METHOD", "S4"],
  ["SERVER_NAME", "S10"],
  ["SERVER_PORT", "S10"],
  ["SERVER_PROTOCOL", "S11"],
  ["wsgi.version", "S19"],
  ["wsgi.url_scheme", "S20"],
  ["wsgi.input", "S21"],
  ["wsgi.errors", "S22"],
  ["wsgi.multithread", "S23"],
  ["wsgi.multiprocess", "S24"],
  ["wsgi.run_once", "S25"],
];

type ErrorClass =
  | ErrorConstructor
  | TypeErrorConstructor
  | RangeErrorConstructor;

function fail(rule: string, message: string, Class: ErrorClass = Error): never {
  throw new Class(`${rule}: ${message}`);
}

/** Re-throws an error from the shared checks with the rule's ID in front. */
function rethrow(rule: string, error: unknown): never {
  if (!(error instanceof Error)) throw error;
  const Class = error instanceof RangeError
    ? RangeError
    : error instanceof TypeError
    ? TypeError
    : Error;
  throw new Class(`${rule}: ${error.message}`, { cause: error });
}

/**
 * wsgiref.validate's check_content_type: a response says what its content
 * is, except a 204 or 304, which has none. wsgiref also refuses a
 * Content-Type on those two; HTTP allows it (a 304 may repeat the 200's
 * headers), so here it is only a warning.
 */
function checkContentType(
  code: number,
  headers: [string, string][],
  warn: (text: string) => void,
): void {
  const named = headers.some(([name]) => name.toLowerCase() === "content-type");
  if (code === 204 || code === 304) {
    if (named) {
      warn(`V18: a ${code} response carries no content but names its type`);
    }
  } else if (!named) {
    fail(
      "V18",
      `a ${code} response has no Content-Type header: add one (only a 204 or 304 may go without)`,
      TypeError,
    );
  }
}

function hasMethods(value: unknown, names: readonly (string | symbol)[]) {
  return typeof value === "object" && value !== null &&
    names.every((name) =>
      typeof (value as Record<string | symbol, unknown>)[name] === "function"
    );
}

/** Checks what the server hands the application (rules S3–S36). */
function checkEnviron(environ: unknown, warn: (text: string) => void): void {
  if (
    typeof environ !== "object" || environ === null || Array.isArray(environ)
  ) {
    fail(
      "S3",
      `environ is ${show(environ)}: expected a plain object`,
      TypeError,
    );
  }
  const proto = Object.getPrototypeOf(environ);
  if (proto !== Object.prototype && proto !== null) {
    fail(
      "S3",
      `environ is ${
        show(environ)
      }: expected a plain object, not a class instance`,
      TypeError,
    );
  }
  const env = environ as Record<string, unknown>;
  for (const [key, rule] of REQUIRED) {
    if (!(key in env)) fail(rule, `environ has no ${key}`);
  }
  for (const key of Object.keys(env)) {
    if (key.includes(".")) continue;
    const value = env[key];
    if (typeof value !== "string") {
      fail(
        "S16",
        `environ ${key} is ${show(value)}: CGI variables must be strings`,
        TypeError,
      );
    }
    if (NOT_LATIN1.test(value)) {
      fail(
        "S82",
        `environ ${key} is ${
          show(value)
        }: native strings hold only U+0000-U+00FF`,
        TypeError,
      );
    }
  }
  const method = env.REQUEST_METHOD as string;
  if (!METHOD.test(method)) {
    fail("S4", `REQUEST_METHOD ${show(method)} is not an HTTP method token`);
  }
  if (!KNOWN_METHODS.has(method)) {
    warn(`V10: unusual REQUEST_METHOD ${show(method)}`);
  }
  if (env.SERVER_NAME === "") fail("S10", "SERVER_NAME is empty");
  if (!/^[0-9]+$/.test(env.SERVER_PORT as string)) {
    fail(
      "S10",
      `SERVER_PORT ${show(env.SERVER_PORT)} is not a port number string`,
    );
  }
  if (!("QUERY_STRING" in env)) {
    warn('S7: environ has no QUERY_STRING; set it, even to ""');
  }
  if ("HTTP_CONTENT_TYPE" in env || "HTTP_CONTENT_LENGTH" in env) {
    fail(
      "S9",
      "environ has HTTP_CONTENT_TYPE or HTTP_CONTENT_LENGTH: they belong in CONTENT_TYPE and CONTENT_LENGTH only",
    );
  }
  const length = env.CONTENT_LENGTH;
  if (
    length !== undefined && length !== "" && !/^[0-9]+$/.test(length as string)
  ) {
    fail("S9", `CONTENT_LENGTH ${show(length)} is not a non-negative integer`);
  }
  const script = env.SCRIPT_NAME;
  const path = env.PATH_INFO;
  if (script === undefined && path === undefined) {
    fail("S6", "environ has neither SCRIPT_NAME nor PATH_INFO");
  }
  if (
    script !== undefined && script !== "" && !(script as string).startsWith("/")
  ) {
    fail("S85", `SCRIPT_NAME ${show(script)} must be "" or start with "/"`);
  }
  if (script === "/") {
    fail("S85", 'SCRIPT_NAME is "/": an app at the root has SCRIPT_NAME ""');
  }
  if (path !== undefined && path !== "" && !(path as string).startsWith("/")) {
    fail("S85", `PATH_INFO ${show(path)} must be "" or start with "/"`);
  }
  const version = env["wsgi.version"];
  if (
    !Array.isArray(version) || version.length !== 2 || version[0] !== 1 ||
    version[1] !== 0
  ) {
    fail("S19", `wsgi.version is ${show(version)}: expected [1, 0]`, TypeError);
  }
  const scheme = env["wsgi.url_scheme"];
  if (scheme !== "http" && scheme !== "https") {
    fail(
      "S20",
      `wsgi.url_scheme is ${show(scheme)}: expected "http" or "https"`,
    );
  }
  for (
    const key of ["wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"]
  ) {
    if (typeof env[key] !== "boolean") {
      fail("S23", `${key} is ${show(env[key])}: expected a boolean`, TypeError);
    }
  }
  if (
    !hasMethods(env["wsgi.input"], [
      "read",
      "readline",
      "readlines",
      Symbol.asyncIterator,
    ])
  ) {
    fail(
      "S27",
      `wsgi.input is ${
        show(env["wsgi.input"])
      }: expected read, readline, readlines and async iteration`,
      TypeError,
    );
  }
  if (!hasMethods(env["wsgi.errors"], ["write", "writelines", "flush"])) {
    fail(
      "S36",
      `wsgi.errors is ${
        show(env["wsgi.errors"])
      }: expected write, writelines and flush`,
      TypeError,
    );
  }
  const wrapper = env["wsgi.file_wrapper"];
  if (wrapper !== undefined && typeof wrapper !== "function") {
    fail(
      "S73",
      `wsgi.file_wrapper is ${show(wrapper)}: expected a function`,
      TypeError,
    );
  }
}

/** What the validator knows about one call of the application. */
class Call {
  readonly label: string;
  readonly head: boolean;
  readonly errors: ErrorStream;
  started = false;
  code = 0;
  contentLength = -1;
  bytes = 0;
  returned = false;
  closed = false;
  handedOff = false;
  /** The app took the request's WebSocket upgrade. */
  upgraded = false;
  #warnedHead = false;

  constructor(environ: Environ, errors: ErrorStream) {
    this.head = environ.REQUEST_METHOD === "HEAD";
    this.errors = errors;
    this.label = `${environ.REQUEST_METHOD} ${
      String(environ.SCRIPT_NAME ?? "") + String(environ.PATH_INFO ?? "")
    }`;
  }

  warn(text: string): void {
    try {
      this.errors.write(`tsgi validator: ${text} (${this.label})\n`);
      this.errors.flush();
    } catch {
      // The warning must not become the error.
    }
  }

  /** The server must not touch the result after close() (V27). */
  open(how: string): void {
    if (this.closed) {
      fail("V27", `the result of ${this.label} was ${how} after close()`);
    }
  }

  /** A body chunk, yielded or written. */
  chunk(chunk: unknown, how: string): void {
    if (!(chunk instanceof Uint8Array)) {
      fail(
        how === "write()" ? "S53" : "S65",
        `${how} got ${show(chunk)}: body chunks must be Uint8Array`,
        TypeError,
      );
    }
    if (chunk.length === 0) return;
    if (this.upgraded) {
      fail(
        "tsgi.websocket",
        `${how} produced body bytes after the WebSocket upgrade was accepted: return an empty iterable`,
      );
    }
    if (!this.started) {
      fail("A2", `${how} produced body bytes before startResponse()`);
    }
    if (isBodiless(this.code)) {
      fail(
        "E25",
        `${how} produced ${chunk.length} body bytes for status ${this.code}, which has no body`,
      );
    }
    if (this.head && !this.#warnedHead) {
      this.#warnedHead = true;
      this.warn(
        "E6: the application produced a body for HEAD; the server drops it",
      );
    }
    this.bytes += chunk.length;
    if (this.contentLength >= 0 && this.bytes > this.contentLength) {
      fail(
        how === "write()" ? "S57" : "S66",
        `${how} went past Content-Length ${this.contentLength}: ${this.bytes} bytes so far`,
      );
    }
  }

  /** The body is complete. */
  end(): void {
    if (!this.started && !this.upgraded) {
      fail("A2", "the result ended and startResponse() was never called");
    }
    if (
      this.contentLength >= 0 && this.bytes < this.contentLength &&
      !this.head && !isBodiless(this.code)
    ) {
      fail(
        "S67",
        `the body has ${this.bytes} bytes but Content-Length is ${this.contentLength}`,
      );
    }
  }
}

/** wsgi.input as the app sees it: checks both the app's reads and the server's answers. */
class CheckedInput implements InputStream {
  readonly #input: InputStream;
  readonly #limit: number;
  readonly #terminated: boolean;
  #read = 0;

  constructor(input: InputStream, environ: Environ) {
    this.#input = input;
    const length = environ.CONTENT_LENGTH;
    this.#limit = length === undefined || length === "" ? -1 : Number(length);
    this.#terminated = environ["wsgi.input_terminated"] === true;
  }

  #before(method: string, size: unknown): void {
    if (size !== undefined && size !== null && typeof size !== "number") {
      fail(
        "S27",
        `wsgi.input.${method}(${show(size)}): expected a number or nothing`,
        TypeError,
      );
    }
    // Without wsgi.input_terminated the body may be a bare socket: a read
    // after CONTENT_LENGTH bytes can block for ever (PEP 3333 note 1).
    if (
      !this.#terminated && this.#limit >= 0 && this.#read >= this.#limit &&
      size !== 0
    ) {
      fail(
        "S35",
        `wsgi.input.${method}() after all ${this.#limit} bytes of CONTENT_LENGTH were read`,
      );
    }
  }

  #after(method: string, chunk: unknown, size: unknown): Uint8Array {
    if (!(chunk instanceof Uint8Array)) {
      fail(
        "S27",
        `wsgi.input.${method}() returned ${show(chunk)}: expected a Uint8Array`,
        TypeError,
      );
    }
    if (typeof size === "number" && size >= 0 && chunk.length > size) {
      fail(
        "S27",
        `wsgi.input.${method}(${size}) returned ${chunk.length} bytes`,
      );
    }
    this.#read += chunk.length;
    if (this.#limit >= 0 && this.#read > this.#limit) {
      fail(
        "S28",
        `wsgi.input gave ${this.#read} bytes but CONTENT_LENGTH is ${this.#limit}`,
      );
    }
    return chunk;
  }

  async read(size?: number | null): Promise<Uint8Array> {
    this.#before("read", size);
    return this.#after("read", await this.#input.read(size), size);
  }

  async readline(size?: number | null): Promise<Uint8Array> {
    this.#before("readline", size);
    return this.#after("readline", await this.#input.readline(size), size);
  }

  async readlines(hint?: number | null): Promise<Uint8Array[]> {
    this.#before("readlines", hint);
    const lines = await this.#input.readlines(hint);
    if (!Array.isArray(lines)) {
      fail(
        "S27",
        `wsgi.input.readlines() returned ${show(lines)}: expected an array`,
        TypeError,
      );
    }
    for (const line of lines) this.#after("readlines", line, undefined);
    return lines;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    return readLines(this);
  }

  /** Applications must not close wsgi.input. */
  close(): never {
    fail(
      "S35",
      "the application called wsgi.input.close(); the stream belongs to the server",
    );
  }
}

/** wsgi.errors as the app sees it. */
class CheckedErrors implements ErrorStream {
  readonly #errors: ErrorStream;

  constructor(errors: ErrorStream) {
    this.#errors = errors;
  }

  write(text: string): void {
    if (typeof text !== "string") {
      fail(
        "S36",
        `wsgi.errors.write(${show(text)}): expected a string`,
        TypeError,
      );
    }
    this.#errors.write(text);
  }

  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  flush(): void {
    this.#errors.flush();
  }

  /** Applications must not close wsgi.errors. */
  close(): never {
    fail(
      "A11",
      "the application called wsgi.errors.close(); the stream belongs to the server",
    );
  }
}

/** Bookkeeping shared by the result wrappers: open results and GC reports. */
class Tracker {
  readonly open: Set<Call> = new Set();
  #waiters: (() => void)[] = [];
  readonly #registry: FinalizationRegistry<Call> = new FinalizationRegistry(
    (call) => {
      if (!call.closed) {
        call.warn(
          "S62: the result was garbage-collected and the server never called close()",
        );
      }
    },
  );

  track(call: Call, wrapper: object): void {
    this.open.add(call);
    this.#registry.register(wrapper, call, call);
  }

  close(call: Call): void {
    if (call.closed) {
      fail("S62", `close() was called twice on the result of ${call.label}`);
    }
    call.closed = true;
    this.open.delete(call);
    this.#registry.unregister(call);
    if (this.open.size === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  allClosed(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** The wrapper's close(): record it, then close what the app returned. */
function closer(
  result: AppIterable,
  call: Call,
  tracker: Tracker,
): () => void | Promise<void> {
  return () => {
    tracker.close(call);
    if (typeof result.close === "function") return result.close();
  };
}

function checkedSync(
  result: Iterable<Uint8Array> & AppIterable,
  call: Call,
  tracker: Tracker,
): Iterable<Uint8Array> & AppIterable {
  let iterator: Iterator<Uint8Array> | undefined;
  const wrapper = {
    [Symbol.iterator](): Iterator<Uint8Array> {
      call.open("iterated");
      iterator = result[Symbol.iterator]();
      return {
        next(): IteratorResult<Uint8Array> {
          call.open("iterated");
          const step = iterator!.next();
          if (step.done) call.end();
          else call.chunk(step.value, "the result");
          return step;
        },
        return(value?: unknown): IteratorResult<Uint8Array> {
          return iterator!.return?.(value) ?? { done: true, value: undefined };
        },
      };
    },
    close: closer(result, call, tracker),
  };
  tracker.track(call, wrapper);
  return wrapper;
}

function checkedAsync(
  result: AsyncIterable<Uint8Array> & AppIterable,
  call: Call,
  tracker: Tracker,
): AsyncIterable<Uint8Array> & AppIterable {
  const wrapper = {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      call.open("iterated");
      return checkedAsyncIterator(result[Symbol.asyncIterator](), call);
    },
    close: closer(result, call, tracker),
  };
  tracker.track(call, wrapper);
  return wrapper;
}

function checkedAsyncIterator(
  iterator: AsyncIterator<Uint8Array>,
  call: Call,
): AsyncIterator<Uint8Array> {
  return {
    async next(): Promise<IteratorResult<Uint8Array>> {
      call.open("iterated");
      const step = await iterator.next();
      if (step.done) call.end();
      else call.chunk(step.value, "the result");
      return step;
    },
    async return(value?: unknown): Promise<IteratorResult<Uint8Array>> {
      return await iterator.return?.(value) ?? { done: true, value: undefined };
    },
  };
}

/**
 * `tsgi.websocket` checked for its shape, and wrapped so the call knows
 * when the app took the upgrade (after which it returns an empty iterable
 * and never calls start_response).
 */
function checkedUpgrade(upgrade: unknown, call: Call): WebSocketUpgrade {
  const given = upgrade as Partial<WebSocketUpgrade> | null;
  if (
    typeof given !== "object" || given === null ||
    typeof given.accept !== "function" ||
    typeof given.respondWith !== "function" ||
    !Array.isArray(given.protocols)
  ) {
    fail(
      "tsgi.websocket",
      `environ["tsgi.websocket"] is ${
        show(upgrade)
      }: expected an object with protocols, accept() and respondWith()`,
      TypeError,
    );
  }
  const checked = given as WebSocketUpgrade;
  const take = () => {
    if (call.started) {
      fail(
        "tsgi.websocket",
        "the WebSocket upgrade was accepted after start_response()",
      );
    }
    if (call.upgraded) {
      fail("tsgi.websocket", "the WebSocket upgrade was accepted twice");
    }
    call.upgraded = true;
  };
  return {
    protocols: checked.protocols,
    accept(options) {
      take();
      return checked.accept(options);
    },
    respondWith(response) {
      take();
      checked.respondWith(response);
    },
  };
}

/**
 * An array result, checked at once (its whole body is known) and kept an
 * array, so the gateway still sends it with a Content-Length.
 */
function checkedArray(
  result: unknown[] & AppIterable,
  call: Call,
  tracker: Tracker,
): Uint8Array[] & AppIterable {
  for (const chunk of result) call.chunk(chunk, "the result");
  call.end();
  const copy = result.slice() as Uint8Array[] & AppIterable;
  Object.defineProperty(copy, "close", {
    value: closer(result, call, tracker),
  });
  const proxy = new Proxy(copy, {
    get(target, key, receiver) {
      if (call.closed && key !== "close" && key !== "then") {
        fail("V27", `the result of ${call.label} was used after close()`);
      }
      return Reflect.get(target, key, receiver);
    },
  });
  tracker.track(call, proxy);
  return proxy;
}

/**
 * A file_wrapper result stays a FileWrapper so the gateway's fast path
 * (the Blob or stream handed to the Response) still applies.
 */
class CheckedFileWrapper extends FileWrapper {
  readonly #inner: FileWrapper;
  readonly #call: Call;
  readonly #tracker: Tracker;

  constructor(inner: FileWrapper, call: Call, tracker: Tracker) {
    super(inner.source, inner.blockSize);
    this.#inner = inner;
    this.#call = call;
    this.#tracker = tracker;
    const source = inner.source;
    if (
      source instanceof Blob && call.contentLength >= 0 && !call.head &&
      !isBodiless(call.code)
    ) {
      if (source.size > call.contentLength) {
        fail(
          "S66",
          `the file has ${source.size} bytes but Content-Length is ${call.contentLength}`,
        );
      }
      if (source.size < call.contentLength) {
        fail(
          "S67",
          `the file has ${source.size} bytes but Content-Length is ${call.contentLength}`,
        );
      }
    }
    tracker.track(call, this);
  }

  override handOff(): Blob | ReadableStream<Uint8Array> | undefined {
    this.#call.open("used");
    const source = this.#inner.handOff();
    if (source !== undefined) this.#call.handedOff = true;
    return source;
  }

  override [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    this.#call.open("iterated");
    const iterator = checkedAsyncIterator(
      this.#inner[Symbol.asyncIterator](),
      this.#call,
    );
    return (async function* () {
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    })();
  }

  override close(): Promise<void> {
    this.#tracker.close(this.#call);
    return this.#inner.close();
  }
}

function checkResult(
  result: unknown,
  call: Call,
  tracker: Tracker,
): AppIterable {
  try {
    return checkResultShape(result, call, tracker);
  } catch (error) {
    // The server never gets this result, so it cannot close it: the
    // validator must, as any middleware that drops a result (S62).
    const close = (result as Partial<Closable> | null)?.close;
    if (typeof close === "function") {
      try {
        Promise.resolve(close.call(result)).catch(() => {});
      } catch {
        // The app's error is the one to report.
      }
    }
    throw error;
  }
}

function checkResultShape(
  result: unknown,
  call: Call,
  tracker: Tracker,
): AppIterable {
  call.returned = true;
  const notIterable = (): never =>
    fail(
      "A3",
      `the application returned ${
        show(result)
      }: expected an iterable of Uint8Array chunks`,
      TypeError,
    );
  if (typeof result !== "object" || result === null) notIterable();
  if (result instanceof Uint8Array) {
    fail(
      "A3",
      `the application returned ${show(result)} itself: return [body]`,
      TypeError,
    );
  }
  if (result instanceof FileWrapper) {
    return new CheckedFileWrapper(result, call, tracker);
  }
  if (Array.isArray(result)) {
    return checkedArray(result as unknown[] & AppIterable, call, tracker);
  }
  const r = result as Record<symbol, unknown>;
  if (typeof r[Symbol.asyncIterator] === "function") {
    return checkedAsync(result as AsyncIterable<Uint8Array>, call, tracker);
  }
  if (typeof r[Symbol.iterator] === "function") {
    return checkedSync(result as Iterable<Uint8Array>, call, tracker);
  }
  return notIterable();
}

/**
 * Wraps an application so every call checks the server's environ and the
 * application's behaviour against PEP 3333 as tsgi states it.
 *
 * The server side (checked when the app is called): a plain-object environ
 * with the required keys (S4, S10, S11, S19–S25), CGI values that are
 * strings of U+0000–U+00FF (S16, S82), `SERVER_PORT` a digit string (S10),
 * `wsgi.version` `[1, 0]` (S19), `wsgi.url_scheme` `http`/`https` (S20), no
 * `HTTP_CONTENT_TYPE`/`HTTP_CONTENT_LENGTH` (S9), `SCRIPT_NAME`/`PATH_INFO`
 * empty or starting with `/`, `SCRIPT_NAME` never `/` (S85), the stream
 * methods (S27, S36), and, as the app reads, that `wsgi.input` returns
 * `Uint8Array`s no longer than asked for (S27) and no more than
 * `CONTENT_LENGTH` bytes in all (S28).
 *
 * The application side: `start_response` called with 2 or 3 arguments
 * (S41), a valid status (S42), a well-formed header list with no control
 * characters and only latin-1 (S43), no hop-by-hop header (S47), no second
 * call without `excInfo` (S51); `write()` given only `Uint8Array`s (S53),
 * never after the app has returned (A10) or the response ended (S55);
 * chunks are `Uint8Array`s (S65), no body bytes before `start_response`
 * (A2), never more bytes than `Content-Length` (S57, S66) nor fewer (S67,
 * except HEAD and 204/205/304), no body at all for 204/205/304 (E25), a
 * result that is an iterable and not a bare `Uint8Array` (A3), not read
 * after `close()` (V27); the app neither closes `wsgi.input` (S35) nor
 * reads it past `CONTENT_LENGTH` when `wsgi.input_terminated` is not set
 * (S35), and writes only strings to `wsgi.errors` (S36).
 *
 * Whether the server calls `close()` (S62) is checked two ways: calling
 * `close()` twice throws; a result that is garbage-collected unclosed is
 * reported on `wsgi.errors` (best effort: a FinalizationRegistry may never
 * run); and, deterministically, {@linkcode ValidatedApp.assertClosed} and
 * {@linkcode ValidatedApp.allClosed} tell a test whether every result was
 * closed.
 *
 * Warnings (written to `wsgi.errors`): no `QUERY_STRING` (S7), an unusual
 * method (V10), a body produced for HEAD (E6, which the server drops).
 *
 * Array and `wsgi.file_wrapper` results keep their type, so the gateway
 * answers exactly as it would without the validator. Checking every CGI
 * variable reads all of the gateway's lazy environ keys on each request:
 * a tool for development and tests, not for production traffic.
 *
 * @param app The application to check.
 * @returns The checked application, with {@linkcode ValidatedApp.assertClosed}.
 *
 * @example Catch a bad status line
 * ```ts
 * import { toFetchHandler } from "@tsgi/tsgi";
 * import { validator } from "@tsgi/tsgi";
 * const logs: string[] = [];
 * const handler = toFetchHandler(
 *   validator((_environ, startResponse) => {
 *     startResponse("200OK", []);
 *     return [];
 *   }),
 *   { errors: (text) => logs.push(text) },
 * );
 * const response = await handler(new Request("http://localhost/"));
 * console.log(response.status); // 500
 * console.log(logs.join("").includes("S42: ")); // true
 * ```
 */
export function validator(app: App): ValidatedApp {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot validate ${show(app)}: expected an application function`,
    );
  }
  const tracker = new Tracker();
  function validated(
    this: unknown,
    ...args: unknown[]
  ): AppIterable | Promise<AppIterable> {
    if (args.length !== 2) {
      fail(
        "S1",
        `the application was called with ${args.length} arguments: expected (environ, startResponse)`,
        TypeError,
      );
    }
    const [environ, startResponse] = args as [Environ, StartResponse];
    const original = (environ as Partial<Environ>)?.["wsgi.errors"];
    const warnTo = typeof original?.write === "function" ? original : undefined;
    checkEnviron(environ, (text) => {
      warnTo?.write(`tsgi validator: ${text}\n`);
    });
    if (typeof startResponse !== "function") {
      fail(
        "S41",
        `start_response is ${show(startResponse)}: expected a function`,
        TypeError,
      );
    }
    const call = new Call(environ, original!);
    const upgrade = environ["tsgi.websocket"];
    if (upgrade !== undefined) {
      environ["tsgi.websocket"] = checkedUpgrade(upgrade, call);
    }
    environ["wsgi.input"] = new CheckedInput(environ["wsgi.input"], environ);
    environ["wsgi.errors"] = new CheckedErrors(original!);

    const write = (...chunks: unknown[]): Promise<void> => {
      if (chunks.length !== 1) {
        fail(
          "S53",
          `write() takes one chunk, got ${chunks.length} arguments`,
          TypeError,
        );
      }
      if (call.closed) {
        fail("S55", "write() was called after the response ended");
      }
      if (call.returned) {
        fail(
          "A10",
          "write() was called after the application returned its result",
        );
      }
      call.chunk(chunks[0], "write()");
      return inner(chunks[0] as Uint8Array);
    };
    let inner: Write;

    const checkedStartResponse = (...srArgs: unknown[]): Write => {
      if (srArgs.length !== 2 && srArgs.length !== 3) {
        fail(
          "S41",
          `startResponse() was called with ${srArgs.length} arguments: expected (status, headers, excInfo?)`,
          TypeError,
        );
      }
      const [status, headers, excInfo] = srArgs;
      if (call.upgraded) {
        fail(
          "tsgi.websocket",
          "start_response() was called after the WebSocket upgrade was accepted: the gateway answers it",
        );
      }
      if (call.started && excInfo === undefined) {
        fail(
          "S51",
          "startResponse() was called a second time without excInfo",
        );
      }
      call.started = true;
      call.code = 0;
      let code: number;
      try {
        code = parseStatus(status).code;
      } catch (error) {
        rethrow("S42", error);
      }
      if (Array.isArray(headers)) {
        for (const header of headers) {
          const name = Array.isArray(header) ? header[0] : undefined;
          if (typeof name !== "string") continue;
          const lower = name.toLowerCase();
          if (HOP_BY_HOP.has(lower)) {
            fail(
              "S47",
              `header ${show(name)} is hop-by-hop: only the server may send it`,
              TypeError,
            );
          }
          if (lower === "status") {
            fail(
              "S43",
              'header "Status" is not a response header: the status goes in the first argument',
              TypeError,
            );
          }
        }
      }
      let contentLength: number;
      try {
        contentLength = checkHeaders(headers);
      } catch (error) {
        rethrow("S43", error);
      }
      checkContentType(
        code,
        headers as [string, string][],
        (text) => call.warn(text),
      );
      inner = srArgs.length === 2
        ? startResponse(status as string, headers as [string, string][])
        : startResponse(
          status as string,
          headers as [string, string][],
          excInfo,
        );
      call.code = code;
      call.contentLength = contentLength;
      return write;
    };

    const result = app(environ, checkedStartResponse);
    if (typeof (result as Promise<AppIterable>)?.then === "function") {
      return (result as Promise<AppIterable>).then((value) =>
        checkResult(value, call, tracker)
      );
    }
    return checkResult(result, call, tracker);
  }
  return Object.defineProperties(validated, {
    openResults: { get: () => tracker.open.size },
    assertClosed: {
      value(): void {
        if (tracker.open.size === 0) return;
        const labels = [...tracker.open].map((call) => call.label);
        fail(
          "S62",
          `close() was never called on ${labels.length} result(s): ${
            labels.join(", ")
          }`,
        );
      },
    },
    allClosed: { value: () => tracker.allClosed() },
  }) as unknown as ValidatedApp;
}
