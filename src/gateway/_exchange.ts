// One request/response exchange: runs the app, enforces start_response's
// rules, and turns what the app returns into a Fetch Response. Every
// gateway (Fetch, CGI) builds an environ and hands it to an Exchange.

import { parseStatus, show, type Status } from "./_response_rules.ts";
import { checkHeaders, isBodiless } from "./_response_rules.ts";
import { concat } from "./_bytes.ts";
import { BODY_BROKEN, BODY_TOO_LARGE } from "./_body_errors.ts";
import { describeError, isThenable } from "./_values.ts";
import { FileWrapper } from "./file_wrapper.ts";
import type {
  App,
  AppIterable,
  Environ,
  ErrorStream,
  Header,
  Write,
} from "../types.ts";

const RESOLVED: Promise<void> = Promise.resolve();
const encoder = new TextEncoder();
// A BOM stays in the text. Invalid bytes become U+FFFD, which is how a body
// that is not UTF-8 (or merely contains U+FFFD) is told apart: a fatal
// decoder would say so with an exception, at three times the cost on Deno.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
// Text bodies up to this size go out as strings, on Deno only: Deno copies
// a byte body into the Response and takes a string as it is, where Bun,
// workerd and undici take bytes as they are (undici encodes a string
// besides), so there the conversion would only cost. Measured, not
// assumed: see BENCHMARKS.md. The core's one look at the runtime it is on.
// layout-check: allowed until the adapter passes it
const TEXT_LIMIT = typeof (globalThis as { Deno?: unknown }).Deno === "object"
  ? 4096
  : -1;
const TEXTUAL = /^text\/|json|xml|javascript|utf-8/i;

type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;

/**
 * Set on a Response whose body is known whole and whose headers carry no
 * Content-Length: the body's length in bytes.
 */
export const KNOWN_LENGTH: unique symbol = Symbol.for("tsgi.knownLength");

/** The length KNOWN_LENGTH or the Content-Length header gives; -1 if none. */
export function knownLength(response: Response): number {
  const known = (response as unknown as Record<symbol, number | undefined>)[
    KNOWN_LENGTH
  ];
  if (known !== undefined) return known;
  const header = response.headers.get("content-length");
  return header === null ? -1 : Number(header);
}

/** What an Exchange needs from the gateway that made it. */
export interface ExchangeContext {
  readonly environ: Environ;
  /** Read only when something is logged, so it may be made lazily. */
  readonly errors: ErrorStream;
  readonly debug: boolean;
  readonly method: string;
  /** Called once when the request is over (flushes a held log line). */
  finish?(): void;
}

/**
 * The header list as a record when that says the same: the runtimes take
 * a record faster than a list of pairs (Deno runs each pair through the
 * iterator protocol). A name given twice, a name a record would move to
 * the front (one that is an array index) or one that names a prototype
 * slot keeps the list.
 */
function headersInit(list: Header[]): HeadersInit {
  const record: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    const first = name.charCodeAt(0);
    if (
      (first >= 48 && first <= 57) || name === "__proto__" ||
      Object.hasOwn(record, name)
    ) return list;
    record[name] = list[i][1];
  }
  return record;
}

/**
 * The body of a HEAD answer whose GET body has no known length: empty, but
 * a stream that yields once, so that no runtime takes it for a known empty
 * body and announces `Content-Length: 0` (Bun does for a null body and for
 * a stream that closes at once) where a GET would have streamed.
 */
function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(new Uint8Array(0));
      controller.close();
    },
  });
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  413: "Content Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
};

/** What {@linkcode errorResponse} answers with besides its status. */
export interface ErrorResponseOptions {
  /** The request was HEAD: the body is left out, its length kept. */
  head?: boolean;
  /** The error, shown in the body only when `debug` is on. */
  error?: unknown;
  /** Show `error` and its stack. */
  debug?: boolean;
}

/** Builds a plain-text error response that leaks nothing unless debugging. */
export function errorResponse(
  code: keyof typeof REASONS,
  options: ErrorResponseOptions = {},
): Response {
  const reason = REASONS[code];
  const { head = false, error, debug = false } = options;
  const text = debug && error !== undefined
    ? `${code} ${reason}\n\n${describeError(error)}\n`
    : `${code} ${reason}\n`;
  const body = encoder.encode(text);
  return new Response(head ? null : body, {
    status: code,
    statusText: reason,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.length),
    },
  });
}

/** The state machine of one call of an app. */
export class Exchange {
  readonly #ctx: ExchangeContext;
  readonly #head: boolean;

  // start_response
  #started = false;
  #status: Status | undefined;
  #headers: Header[] | undefined;
  #contentLength = -1;
  #headerError: unknown = undefined;

  // the body
  #written: Uint8Array[] | undefined;
  #writtenBytes = 0;
  #committed = false;
  #discard = false;
  #appDone = false;
  #ended = false;
  #cancelled = false;
  #sent = 0;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #result: AppIterable | undefined;
  #iterator: AnyIterator | undefined;
  #iteratorDone = false;
  #closed = false;
  #resolve: ((response: Response | Promise<Response>) => void) | undefined;
  // A pull waiting for an async app that committed by write(): true when
  // a write filled the read it was called for, false to pull again.
  #wake: ((filled: boolean) => void) | undefined;
  #drain: (() => void)[] | undefined;

  constructor(ctx: ExchangeContext) {
    this.#ctx = ctx;
    this.#head = ctx.method === "HEAD";
  }

  /** The start_response callable handed to the app. */
  readonly startResponse = (
    status: string,
    headers: Header[],
    excInfo?: unknown,
  ): Write => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: once anything is sent, the app's error must propagate.
      if (this.#committed) throw excInfo;
    } else if (this.#started) {
      throw new Error(
        `Cannot call start_response() a second time without exc_info: the status is already ${
          show(this.#statusLine)
        }`,
      );
    }
    // Stored before checking, so an app whose call threw can only recover
    // by calling again with exc_info (PEP 3333).
    this.#started = true;
    this.#statusLine = status;
    this.#headers = headers;
    this.#status = undefined;
    this.#headerError = undefined;
    try {
      this.#status = parseStatus(status);
      this.#contentLength = checkHeaders(headers);
    } catch (error) {
      this.#headerError = error;
      throw error;
    }
    return this.write;
  };

  #statusLine: unknown;

  /** The write callable start_response returns. */
  readonly write = (chunk: Uint8Array): Promise<void> => {
    if (!this.#started) {
      throw new Error("Cannot write(): call start_response() first");
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot write ${show(chunk)}: body chunks must be Uint8Array`,
      );
    }
    if (this.#cancelled) {
      throw new Error("Cannot write(): the client has gone away");
    }
    if (chunk.length === 0) return RESOLVED;
    const cl = this.#contentLength;
    if (cl >= 0 && !this.#discard) {
      const before = this.#committed ? this.#sent : this.#writtenBytes;
      if (before + chunk.length > cl) {
        throw new RangeError(
          `Cannot write ${chunk.length} bytes: Content-Length is ${cl} and ${before} bytes were already written`,
        );
      }
    }
    if (!this.#committed) {
      (this.#written ??= []).push(chunk);
      this.#writtenBytes += chunk.length;
      // An async app still running: the first write sends the headers.
      if (this.#resolve !== undefined) this.#resolve(this.#commit());
      return RESOLVED;
    }
    if (this.#discard) return RESOLVED;
    if (this.#ended) throw new Error("Cannot write(): the response has ended");
    this.#enqueue(chunk);
    this.#wake?.(true);
    const controller = this.#controller;
    if (controller === undefined || this.#ended) return RESOLVED;
    return (controller.desiredSize ?? 0) >= 0
      ? RESOLVED
      : new Promise((resolve) => (this.#drain ??= []).push(resolve));
  };

  /** Calls the app and answers with its Response. */
  run(app: App): Response | Promise<Response> {
    let result: AppIterable | Promise<AppIterable>;
    try {
      result = app(this.#ctx.environ, this.startResponse);
    } catch (error) {
      this.#appDone = true;
      return this.#fail(error, "the application raised")!;
    }
    if (!isThenable(result)) return this.#handle(result)!;
    return new Promise<Response>((resolve) => {
      this.#resolve = resolve;
      if (this.#written !== undefined && !this.#committed) {
        resolve(this.#commit());
      }
      (result as Promise<AppIterable>).then(
        (value) => {
          const response = this.#handle(value);
          if (response !== undefined) resolve(response);
        },
        (error) => {
          this.#appDone = true;
          const response = this.#fail(error, "the application raised");
          if (response !== undefined) resolve(response);
        },
      );
    });
  }

  #log(what: string, error?: unknown): void {
    const env = this.#ctx.environ;
    const where = `${env.REQUEST_METHOD} ${env.REQUEST_URI}`;
    try {
      this.#ctx.errors.write(
        error === undefined
          ? `tsgi: ${what} (${where})\n`
          : `tsgi: ${what} (${where}): ${describeError(error)}\n`,
      );
      this.#ctx.errors.flush();
    } catch {
      // A broken error stream must not take the response down with it.
    }
  }

  /** Takes the app's result; a Response unless one was already committed. */
  #handle(result: AppIterable): Response | Promise<Response> | undefined {
    this.#appDone = true;
    let iterator: AnyIterator | undefined;
    let invalid: TypeError | undefined;
    if (typeof result !== "object" || result === null) {
      invalid = new TypeError(
        `Cannot use the application's result ${
          show(result)
        }: expected an iterable of Uint8Array chunks`,
      );
    } else if (result instanceof Uint8Array) {
      invalid = new TypeError(
        `Cannot use a ${result.constructor.name} as the application's result: return [body], an iterable of chunks`,
      );
    } else {
      this.#result = result;
      if (Array.isArray(result)) {
        if (!this.#committed) return this.#fromArray(result);
      } else if (result instanceof FileWrapper && !this.#committed) {
        const fast = this.#fromFile(result);
        if (fast !== undefined) return fast;
      }
      const asyncFactory = (result as AsyncIterable<Uint8Array>)[
        Symbol.asyncIterator
      ];
      try {
        if (typeof asyncFactory === "function") {
          iterator = asyncFactory.call(result);
        } else {
          const factory = (result as Iterable<Uint8Array>)[Symbol.iterator];
          if (typeof factory === "function") iterator = factory.call(result);
        }
      } catch (error) {
        return this.#fail(error, "the application's result raised");
      }
      if (iterator === undefined || typeof iterator.next !== "function") {
        invalid = new TypeError(
          `Cannot use the application's result ${
            show(result)
          }: expected an iterable of Uint8Array chunks`,
        );
      }
    }
    if (invalid !== undefined) {
      return this.#fail(invalid, "the application returned no iterable");
    }
    this.#iterator = iterator;
    if (this.#committed) {
      // Headers went out with an earlier write(); the result continues it.
      if (this.#discard || this.#ended) this.#closeResult();
      else this.#wake?.(false);
      return undefined;
    }
    if (this.#written !== undefined) return this.#commit();
    return this.#pumpFirst();
  }

  /** Nothing sent yet; a failure becomes the response, else the stream errors. */
  #fail(error: unknown, what: string): Response | undefined {
    if (this.#committed) {
      this.#abort(error, what);
      return undefined;
    }
    this.#committed = true;
    this.#discard = true;
    const tooLarge = (error as Record<symbol, unknown>)?.[BODY_TOO_LARGE] ===
      true;
    const broken = (error as Record<symbol, unknown>)?.[BODY_BROKEN] === true;
    if (broken) this.#log(`bad request: ${(error as Error).message}`);
    else if (tooLarge) {
      this.#log("request body larger than maxBodySize, answered 413");
    } else this.#log(what, error);
    this.#closeResult();
    const head = this.#head;
    if (broken) return errorResponse(400, { head });
    if (tooLarge) return errorResponse(413, { head });
    return errorResponse(500, { head, error, debug: this.#ctx.debug });
  }

  /** Whether the stored status and headers can be sent; the error if not. */
  #headerProblem(): unknown {
    if (!this.#started) {
      return new Error(
        "Cannot send a response: the application never called start_response()",
      );
    }
    return this.#headerError;
  }

  #fromArray(chunks: unknown[]): Response {
    let total = this.#writtenBytes;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (!(chunk instanceof Uint8Array)) {
        return this.#fail(
          new TypeError(
            `Cannot send chunk ${i} of the result, ${
              show(chunk)
            }: body chunks must be Uint8Array`,
          ),
          "the application returned a bad chunk",
        )!;
      }
      total += chunk.length;
    }
    this.#iteratorDone = true;
    const parts = this.#written === undefined
      ? chunks as Uint8Array[]
      : [...this.#written, ...chunks as Uint8Array[]];
    return this.#finishKnown(parts, total);
  }

  /** The whole body is known and nothing is sent yet. */
  #finishKnown(parts: Uint8Array[], total: number): Response {
    const problem = this.#headerProblem();
    if (problem !== undefined) return this.#fail(problem, "bad response")!;
    this.#committed = true;
    this.#ended = true;
    const code = this.#status!.code;
    const cl = this.#contentLength;
    if (this.#head || isBodiless(code)) {
      this.#discard = true;
      this.#closeResult();
      if (this.#head && cl === -1 && !isBodiless(code)) {
        // Say what a GET would have sent (RFC 9110 §9.3.2).
        return this.#respond(null, [
          ...this.#headers!,
          ["content-length", String(total)],
        ]);
      }
      return this.#respond(
        null,
        isBodiless(code) ? this.#withoutLength() : undefined,
      );
    }
    if (cl >= 0 && total !== cl) {
      if (total < cl) {
        // The whole body is known and nothing is sent: a clean 500 is
        // better than headers that promise bytes that never come, which
        // only a reset could mark as broken and not every runtime resets.
        this.#committed = false;
        this.#ended = false;
        return this.#fail(
          new Error(
            `Cannot send the response: Content-Length is ${cl} but the application's body has ${total} bytes`,
          ),
          "too few bytes",
        )!;
      }
      this.#log(
        `too many bytes: Content-Length ${cl}, the application sent ${total}; the rest was dropped`,
      );
      const kept: Uint8Array[] = [];
      let room = cl;
      for (const part of parts) {
        if (room === 0) break;
        const piece = part.length > room ? part.subarray(0, room) : part;
        kept.push(piece);
        room -= piece.length;
      }
      parts = kept;
      total = cl;
    }
    const bytes = parts.length === 0
      ? null
      : parts.length === 1
      ? parts[0]
      : concat(parts, total);
    this.#closeResult();
    const response = this.#respond(
      bytes !== null && total <= TEXT_LIMIT ? this.#asText(bytes) : bytes,
    );
    // Deno, Bun and workerd send a byte body with its length themselves; a
    // second header would cost more than the rest of the exchange on Deno.
    // A server that sees only the Response (node:http, the access log)
    // finds the length here instead of reading the body to count it.
    if (this.#contentLength === -1) {
      (response as unknown as Record<symbol, number>)[KNOWN_LENGTH] = total;
    }
    return response;
  }

  /**
   * The headers without Content-Length, for a status that has no content
   * (RFC 9110 §8.6, §15.3.5): a runtime that passes the app's header on
   * would announce a body that never comes.
   */
  #withoutLength(): Header[] | undefined {
    if (this.#contentLength === -1) return undefined;
    return this.#headers!.filter(([name]) =>
      name.length !== 14 || name.toLowerCase() !== "content-length"
    );
  }

  /** The headers with the body's length added when the app gave none. */
  #withLength(length: number): Header[] | undefined {
    return this.#contentLength === -1
      ? [...this.#headers!, ["content-length", String(length)]]
      : undefined;
  }

  /** file_wrapper's fast path: the Blob or stream becomes the body as it is. */
  #fromFile(wrapper: FileWrapper): Response | undefined {
    if (this.#written !== undefined || this.#headerProblem() !== undefined) {
      return undefined;
    }
    const code = this.#status!.code;
    if (this.#head || isBodiless(code)) return undefined;
    const cl = this.#contentLength;
    const source = wrapper.source;
    if (source instanceof Blob) {
      if (cl > source.size) return undefined; // too few bytes: the slow path reports it
      wrapper.handOff();
      this.#committed = true;
      this.#ended = true;
      this.#iteratorDone = true;
      if (cl !== -1 && cl < source.size) {
        this.#log(
          `too many bytes: Content-Length ${cl}, the file has ${source.size}; the rest was dropped`,
        );
      }
      this.#closeResult();
      return cl === -1
        ? this.#respond(source, this.#withLength(source.size))
        : this.#respond(source.slice(0, cl));
    }
    if (source instanceof ReadableStream && cl === -1) {
      wrapper.handOff();
      this.#committed = true;
      this.#ended = true;
      this.#iteratorDone = true;
      this.#closeResult();
      return this.#respond(source);
    }
    return undefined;
  }

  /** Pulls until the first non-empty chunk, which sends the headers. */
  #pumpFirst(): Response | Promise<Response> {
    const iterator = this.#iterator!;
    if (this.#result !== undefined && Symbol.asyncIterator in this.#result) {
      return this.#pumpFirstAsync(iterator as AsyncIterator<Uint8Array>);
    }
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = (iterator as Iterator<Uint8Array>).next();
      } catch (error) {
        this.#iteratorDone = true;
        return this.#fail(error, "the application's iterable raised")!;
      }
      const response = this.#first(step);
      if (response !== undefined) return response;
    }
  }

  async #pumpFirstAsync(
    iterator: AsyncIterator<Uint8Array>,
  ): Promise<Response> {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (error) {
        this.#iteratorDone = true;
        return this.#fail(error, "the application's iterable raised")!;
      }
      const response = this.#first(step);
      if (response !== undefined) return response;
    }
  }

  /** One step before the headers are sent: a Response, or undefined to go on. */
  #first(step: IteratorResult<Uint8Array>): Response | undefined {
    if (step.done) {
      this.#iteratorDone = true;
      return this.#finishKnown(this.#written ?? [], this.#writtenBytes);
    }
    const chunk = step.value;
    if (!(chunk instanceof Uint8Array)) {
      return this.#fail(
        new TypeError(
          `Cannot send ${show(chunk)}: body chunks must be Uint8Array`,
        ),
        "the application yielded a bad chunk",
      );
    }
    if (chunk.length === 0) return undefined;
    (this.#written ??= []).push(chunk);
    this.#writtenBytes += chunk.length;
    return this.#commit();
  }

  /** Sends the headers with a streamed body that starts with what is held. */
  #commit(): Response {
    const problem = this.#headerProblem();
    if (problem !== undefined) return this.#fail(problem, "bad response")!;
    this.#committed = true;
    const held = this.#written ?? [];
    this.#written = undefined;
    if (this.#head || isBodiless(this.#status!.code)) {
      this.#discard = true;
      this.#closeResult();
      // A null body makes runtimes announce "Content-Length: 0"; for HEAD
      // of a body of unknown length an empty stream says nothing instead.
      const unknownLength = this.#head && this.#contentLength === -1 &&
        !isBodiless(this.#status!.code);
      return this.#respond(
        unknownLength ? emptyStream() : null,
        isBodiless(this.#status!.code) ? this.#withoutLength() : undefined,
      );
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        for (const chunk of held) {
          if (!this.#enqueue(chunk)) break;
        }
      },
      pull: () => this.#pull(),
      cancel: () => {
        this.#cancelled = true;
        this.#ended = true;
        this.#wake?.(false);
        // An app awaiting write() must get control back to return (its next
        // write() throws), or it would hang and never be closed. Resolved,
        // not rejected: an app need not await write() at all.
        this.#releaseWriters();
        this.#closeResult();
      },
    }, { highWaterMark: 0 });
    return this.#respond(stream);
  }

  /**
   * A small text body as a string, which Deno sends as it is where it
   * copies bytes first (see TEXT_LIMIT). Only valid UTF-8 is turned into a
   * string, so the bytes on the wire stay the app's, and only under the
   * app's own Content-Type, which keeps the runtime from adding
   * `text/plain`.
   */
  #asText(bytes: Uint8Array): Uint8Array | string {
    const headers = this.#headers!;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      if (name.length !== 12 || name.toLowerCase() !== "content-type") continue;
      if (!TEXTUAL.test(headers[i][1])) return bytes;
      const text = utf8.decode(bytes);
      return text.includes("\uFFFD") ? bytes : text;
    }
    return bytes;
  }

  #respond(body: BodyInit | Uint8Array | null, headers?: Header[]): Response {
    const status = this.#status!;
    try {
      // "200 OK" leaves statusText empty, as `new Response(body)` does: on
      // Deno that keeps the Response on its fast path, and every server
      // still sends "OK".
      const list = headersInit(headers ?? this.#headers!);
      return new Response(
        body as BodyInit | null,
        status.code === 200 && status.reason === "OK"
          ? { status: 200, headers: list }
          : { status: status.code, statusText: status.reason, headers: list },
      );
    } catch (error) {
      // The runtime refused something the checks let through.
      this.#discard = true;
      this.#log("the runtime refused the response", error);
      this.#closeResult();
      return errorResponse(500, {
        head: this.#head,
        error,
        debug: this.#ctx.debug,
      });
    }
  }

  /** Queues a chunk within Content-Length; false once the body is complete. */
  #enqueue(chunk: Uint8Array): boolean {
    const cl = this.#contentLength;
    if (cl >= 0 && this.#sent + chunk.length > cl) {
      const room = cl - this.#sent;
      if (room > 0) this.#controller!.enqueue(chunk.subarray(0, room));
      this.#sent = cl;
      this.#log(
        `too many bytes: Content-Length ${cl}; the rest of the body was dropped`,
      );
      this.#end();
      return false;
    }
    this.#controller!.enqueue(chunk);
    this.#sent += chunk.length;
    return true;
  }

  /** Settles the Promises of write() calls waiting for room. */
  #releaseWriters(): void {
    const drain = this.#drain;
    if (drain !== undefined) {
      this.#drain = undefined;
      for (const resolve of drain) resolve();
    }
  }

  #pull(): Promise<void> | void {
    this.#releaseWriters();
    if (this.#ended) return;
    const iterator = this.#iterator;
    if (iterator === undefined) {
      if (this.#appDone) return this.#end();
      // An async app that committed by write() is still running. A pull
      // that settles without enqueuing is not called again for the same
      // read (WHATWG Streams), so when woken by anything but a write, pull
      // again from here.
      return new Promise<boolean>((resolve) => {
        this.#wake = (filled) => {
          this.#wake = undefined;
          resolve(filled);
        };
      }).then((filled) => filled ? undefined : this.#pull());
    }
    if (this.#result !== undefined && Symbol.asyncIterator in this.#result) {
      return this.#pullAsync(iterator as AsyncIterator<Uint8Array>);
    }
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = (iterator as Iterator<Uint8Array>).next();
      } catch (error) {
        this.#iteratorDone = true;
        return this.#abort(error, "the application's iterable raised");
      }
      if (!this.#step(step)) return;
    }
  }

  async #pullAsync(iterator: AsyncIterator<Uint8Array>): Promise<void> {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (error) {
        this.#iteratorDone = true;
        return this.#abort(error, "the application's iterable raised");
      }
      if (this.#ended) return;
      if (!this.#step(step)) return;
    }
  }

  /** One step while streaming; true to pull again at once (empty chunk). */
  #step(step: IteratorResult<Uint8Array>): boolean {
    if (step.done) {
      this.#iteratorDone = true;
      this.#end();
      return false;
    }
    const chunk = step.value;
    if (!(chunk instanceof Uint8Array)) {
      this.#abort(
        new TypeError(
          `Cannot send ${show(chunk)}: body chunks must be Uint8Array`,
        ),
        "the application yielded a bad chunk",
      );
      return false;
    }
    if (chunk.length === 0) return true;
    this.#enqueue(chunk);
    return false;
  }

  /** The body is over: close the stream, or break it when it came up short. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const cl = this.#contentLength;
    if (cl >= 0 && this.#sent < cl) {
      this.#log(`too few bytes: Content-Length ${cl}, sent ${this.#sent}`);
      this.#controller!.error(
        new Error(
          `Cannot complete the response: Content-Length is ${cl} but the application sent ${this.#sent} bytes`,
        ),
      );
    } else {
      this.#controller!.close();
    }
    this.#releaseWriters();
    this.#closeResult();
  }

  /** An error after the headers went out: the stream errors. */
  #abort(error: unknown, what: string): void {
    if (this.#ended) {
      if (!this.#cancelled) this.#log(what, error);
      return this.#closeResult();
    }
    this.#ended = true;
    this.#log(`${what} after the response started`, error);
    this.#controller?.error(error);
    this.#wake?.(false);
    this.#releaseWriters();
    this.#closeResult();
  }

  /** Ends the app's iteration and calls its close(), exactly once. */
  #closeResult(): void {
    if (this.#closed) return;
    const result = this.#result;
    const iterator = this.#iterator;
    if (result === undefined && iterator === undefined) {
      // The app has not returned yet (write-based); closed when it does.
      if (!this.#appDone) return;
    }
    this.#closed = true;
    this.#ctx.finish?.();
    let pending: unknown;
    if (iterator !== undefined && !this.#iteratorDone) {
      this.#iteratorDone = true;
      try {
        pending = iterator.return?.();
      } catch (error) {
        this.#log("the application's iterable raised on return()", error);
      }
    }
    const close = () => {
      if (typeof result?.close !== "function") return;
      try {
        const done = result.close();
        if (isThenable(done)) {
          done.then(undefined, (error) => this.#log("close() raised", error));
        }
      } catch (error) {
        this.#log("close() raised", error);
      }
    };
    if (isThenable(pending)) {
      pending.then(close, (error) => {
        this.#log("the application's iterable raised on return()", error);
        close();
      });
    } else {
      close();
    }
  }
}
