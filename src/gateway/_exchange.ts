// One request/response exchange: runs the app, enforces start_response's
// rules, and hands what the app returns to a sink: by default one that
// builds a Fetch Response, or a server's own (tsgi's Node server writes to
// node:http). Every gateway (Fetch, CGI, Node) builds an environ and hands
// it to an Exchange.
//
// Two small state machines carry it, each with named phases: where the
// response is (what the client has been told) and where the app's result
// is (whether it still has to be closed).

import {
  checkHeaders,
  isBodiless,
  parseStatus,
  show,
  type Status,
} from "./_response_rules.ts";
import { concat } from "./_bytes.ts";
import { BODY_BROKEN, BODY_TOO_LARGE } from "./_body_errors.ts";
import { describeError, isThenable } from "./_values.ts";
import { FileWrapper } from "./file_wrapper.ts";
import {
  type ErrorResponseOptions,
  type ErrorStatus,
  fetchSink,
  withoutLength,
} from "./_response.ts";
import type {
  App,
  AppIterable,
  Environ,
  ErrorStream,
  Header,
  Write,
} from "../types.ts";

const RESOLVED: Promise<void> = Promise.resolve();
// What a step that produced no answer returns: a sink's answer may itself
// be undefined (a server that writes the response is done with nothing).
const NONE: unique symbol = Symbol("none");

type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;
type Step = IteratorResult<Uint8Array>;

/**
 * Where the body of a streamed response goes: the subset of a
 * `ReadableStreamDefaultController` the exchange uses. `desiredSize` below
 * 0 means the client is behind: `write()` then waits for the next pull.
 */
export interface BodyChannel {
  enqueue(chunk: Uint8Array): void;
  close(): void;
  error(error: unknown): void;
  readonly desiredSize: number | null;
}

/**
 * A streamed body, pulled by its sink: `start` once with the channel (it
 * may enqueue what the app already wrote), then `pull` whenever the client
 * is ready for more (it enqueues at least one chunk, closes or errors
 * before a Promise it returns settles), `cancel` if the client goes away.
 * The shape of an underlying source of a ReadableStream of highWaterMark 0.
 */
export interface BodySource {
  start(channel: BodyChannel): void;
  pull(): void | Promise<void>;
  cancel(): void;
}

/**
 * What an exchange answers with, in the form its server takes: a Fetch
 * Response (the default, see `fetchSink`) or writes of the server's own.
 * The status and headers are checked; each call is the whole answer, made
 * once per exchange, except that `error` answers when another call threw
 * (the runtime refused what the checks let through).
 */
export interface ResponseSink<R> {
  /**
   * No body follows (HEAD, 204, 304). `unknownLength`: a HEAD whose GET
   * body has no known length, which must say nothing of a length.
   */
  empty(status: Status, headers: Header[], unknownLength: boolean): R;
  /**
   * The whole body (null for none). `length` is its length when the
   * headers do not give one, which the sink states; -1 when they do.
   */
  whole(
    status: Status,
    headers: Header[],
    body: Uint8Array | null,
    length: number,
  ): R;
  /** What `wsgi.file_wrapper` handed over, sent as it is. */
  file(
    status: Status,
    headers: Header[],
    body: Blob | ReadableStream<Uint8Array>,
  ): R;
  /** A body streamed from `source`, pulled with backpressure. */
  stream(status: Status, headers: Header[], source: BodySource): R;
  /** An answer of the gateway's own: a plain-text error. */
  error(status: ErrorStatus, options: ErrorResponseOptions): R;
}

/** What an Exchange needs from the gateway that made it. */
export interface ExchangeContext {
  readonly environ: Environ;
  /** Read only when something is logged, so it may be made lazily. */
  readonly errors: ErrorStream;
  readonly debug: boolean;
  readonly method: string;
  /**
   * Whole bodies up to this many bytes go out as strings when they are
   * UTF-8 text: the runtime sends a string as it is and copies bytes
   * (Deno). -1 for runtimes that take bytes as they are.
   */
  readonly textLimit: number;
  /** Called once when the request is over (flushes a held log line). */
  finish?(): void;
}

/**
 * Where the response is: what the client has been told.
 *
 * ```
 * pending ─► held ─► streaming ─► ended
 *    │                   └──────► cancelled
 *    ├─► streaming
 *    ├─► ended       (a whole body, sent with its length)
 *    └─► discarding  (HEAD, 204/304, or an error answer)
 * ```
 *
 * - `pending`: nothing is final. `startResponse` may be called again with
 *   `excInfo`, and an error becomes the answer (500, 400, 413).
 * - `held`: a synchronous app wrote. The status and headers are final (PEP
 *   3333's commit: `excInfo` now re-raises, an error breaks the body off)
 *   but the Response is made when the app returns, so a body known whole by
 *   then still goes out with its length.
 * - `streaming`: the Response is out with a stream the chunks go to.
 * - `discarding`: the answer is out and has no body; what the app still
 *   writes or yields is dropped.
 * - `ended`: the body is complete, or broken off after an error; `write()`
 *   throws.
 * - `cancelled`: the client went away; `write()` throws.
 */
type Phase =
  | "pending"
  | "held"
  | "streaming"
  | "discarding"
  | "ended"
  | "cancelled";

/**
 * Where the app's result is: `running` (the app has not returned),
 * `iterating` (an iterator is live: it is ended with `return()` before
 * `close()`), `exhausted` (nothing more to pull), `closed` (`close()` ran).
 */
type ResultPhase = "running" | "iterating" | "exhausted" | "closed";

/**
 * The state machine of one call of an app; `R` is what it answers with,
 * a Response unless the gateway gave it another sink.
 */
export class Exchange<R = Response> {
  readonly #ctx: ExchangeContext;
  readonly #sink: ResponseSink<R>;
  readonly #head: boolean;
  #phase: Phase = "pending";
  #resultPhase: ResultPhase = "running";

  // What start_response was given: kept as given even when it was refused,
  // so that only a call with excInfo can replace it (PEP 3333).
  #started = false;
  #statusLine: unknown;
  #status: Status | undefined;
  #headers: Header[] | undefined;
  #contentLength = -1;
  #headerError: unknown = undefined;

  // The body.
  #held: Uint8Array[] | undefined;
  #heldBytes = 0;
  #sent = 0;
  #controller: BodyChannel | undefined;
  #result: AppIterable | undefined;
  #iterator: AnyIterator | undefined;
  // Settles run()'s Promise while an async app is still running.
  #resolve: ((response: R) => void) | undefined;
  // A pull waiting for an async app that committed by write(): true when
  // a write filled the read it was called for, false to pull again.
  #wake: ((filled: boolean) => void) | undefined;
  #drain: (() => void)[] | undefined;
  // The error that breaks the body off once the chunks before it are read.
  #brokenBy: unknown;

  constructor(ctx: ExchangeContext, sink?: ResponseSink<R>) {
    this.#ctx = ctx;
    this.#sink = sink ??
      fetchSink(ctx.textLimit) as unknown as ResponseSink<R>;
    this.#head = ctx.method === "HEAD";
  }

  /** The start_response callable handed to the app. */
  readonly startResponse = (
    status: string,
    headers: Header[],
    excInfo?: unknown,
  ): Write => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: once the status is final, the app's error must propagate.
      if (this.#phase !== "pending") throw excInfo;
    } else if (this.#started) {
      throw new Error(
        `Cannot call startResponse() a second time without excInfo: the status is already ${
          show(this.#statusLine)
        }`,
      );
    }
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

  /** The write callable startResponse returns. */
  readonly write = (chunk: Uint8Array): Promise<void> => {
    if (!this.#started) {
      throw new Error("Cannot write(): call startResponse() first");
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(`Cannot write ${notAChunk(chunk)}`);
    }
    switch (this.#phase) {
      case "cancelled":
        throw new Error("Cannot write(): the client has gone away");
      case "ended":
        throw new Error("Cannot write(): the response has ended");
      case "discarding":
        return RESOLVED;
    }
    if (chunk.length === 0) return RESOLVED;
    const cl = this.#contentLength;
    if (cl >= 0) {
      const before = this.#phase === "streaming" ? this.#sent : this.#heldBytes;
      if (before + chunk.length > cl) {
        throw new RangeError(
          `Cannot write ${chunk.length} bytes: Content-Length is ${cl} and ${before} bytes were already written`,
        );
      }
    }
    if (this.#phase !== "streaming") {
      this.#hold(chunk);
      // The first non-empty write commits the status and headers (PEP
      // 3333); an async app still running has them sent at once.
      if (this.#phase === "pending" && this.#headerError === undefined) {
        this.#phase = "held";
        this.#resolve?.(this.#openStream());
      }
      return RESOLVED;
    }
    this.#enqueue(chunk);
    this.#wake?.(true);
    const controller = this.#controller!;
    if (this.#phase !== "streaming") return RESOLVED;
    return (controller.desiredSize ?? 0) >= 0
      ? RESOLVED
      : new Promise((resolve) => (this.#drain ??= []).push(resolve));
  };

  /** Calls the app and answers with what the sink makes of its response. */
  run(app: App): R | Promise<R> {
    let result: AppIterable | Promise<AppIterable>;
    try {
      result = app(this.#ctx.environ, this.startResponse);
    } catch (error) {
      // A synchronous app: nothing can be out yet, only held.
      return this.#failBefore(error, "the application raised");
    }
    if (!isThenable(result)) return this.#answer(result);
    return new Promise<R>((resolve) => {
      this.#resolve = resolve;
      if (this.#phase === "held") resolve(this.#openStream());
      (result as Promise<AppIterable>).then(
        (value) => {
          if (this.#isOut()) this.#continue(value);
          else this.#settle(this.#answer(value));
        },
        (error) => {
          if (!this.#isOut()) {
            return this.#settle(
              this.#failBefore(error, "the application raised"),
            );
          }
          this.#resultPhase = "exhausted";
          this.#breakOff(error, "the application raised");
        },
      );
    });
  }

  /** Whether a Response is out: run() has nothing more to answer. */
  #isOut(): boolean {
    return this.#phase !== "pending" && this.#phase !== "held";
  }

  /** Hands run()'s Promise its answer. */
  #settle(response: R | Promise<R>): void {
    const resolve = this.#resolve!;
    if (isThenable(response)) response.then(resolve);
    else resolve(response);
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

  /**
   * The app raised while no Response is out: before the status is final
   * the error is the answer; once it is (`held`), what was written goes out
   * and the body breaks off, as wsgiref sends it.
   */
  #failBefore(error: unknown, what: string): R {
    this.#resultPhase = "exhausted";
    if (this.#phase === "pending") return this.#errorAnswer(error, what);
    const response = this.#openStream();
    this.#breakOff(error, what);
    return response;
  }

  /** Why a returned value is not an iterable of chunks, if it is not. */
  #unusable(result: unknown): TypeError | undefined {
    if (result === undefined) {
      return new TypeError(
        "Cannot use the application's result undefined: the app returned nothing; return an iterable of Uint8Array chunks, such as [body]",
      );
    }
    if (typeof result !== "object" || result === null) {
      return new TypeError(
        `Cannot use the application's result ${
          show(result)
        }: expected an iterable of Uint8Array chunks`,
      );
    }
    if (result instanceof Response) {
      return new TypeError(
        "Cannot use a Response as the application's result: a tsgi app calls startResponse() and returns Uint8Array chunks; to serve a Fetch handler, wrap it with fromFetchHandler(handler)",
      );
    }
    if (result instanceof Uint8Array) {
      return new TypeError(
        `Cannot use a ${result.constructor.name} as the application's result: return [body], an iterable of chunks`,
      );
    }
    return undefined;
  }

  /** Starts iterating the result; the error that prevents it, if any. */
  #iterate(result: AppIterable): unknown {
    let iterator: AnyIterator | undefined;
    try {
      const asyncFactory = (result as AsyncIterable<Uint8Array>)[
        Symbol.asyncIterator
      ];
      if (typeof asyncFactory === "function") {
        iterator = asyncFactory.call(result);
      } else {
        const factory = (result as Iterable<Uint8Array>)[Symbol.iterator];
        if (typeof factory === "function") iterator = factory.call(result);
      }
    } catch (error) {
      return error;
    }
    if (iterator === undefined || typeof iterator.next !== "function") {
      return new TypeError(
        `Cannot use the application's result ${
          show(result)
        }: expected an iterable of Uint8Array chunks`,
      );
    }
    this.#iterator = iterator;
    this.#resultPhase = "iterating";
    return undefined;
  }

  /** The app returned and no Response is out: the answer. */
  #answer(result: AppIterable): R | Promise<R> {
    this.#resultPhase = "exhausted";
    const unusable = this.#unusable(result);
    if (unusable !== undefined) {
      return this.#failBefore(unusable, "the application returned no iterable");
    }
    this.#result = result;
    if (Array.isArray(result)) return this.#fromArray(result);
    if (result instanceof FileWrapper && this.#phase === "pending") {
      const fast = this.#fromFile(result);
      if (fast !== NONE) return fast;
    }
    const error = this.#iterate(result);
    if (error !== undefined) {
      return this.#failBefore(error, "the application's result raised");
    }
    return this.#phase === "pending" ? this.#pumpFirst() : this.#openStream();
  }

  /**
   * An async app returned after its write() sent the headers: the result
   * continues the body, or is closed when the response is already over.
   */
  #continue(result: AppIterable): void {
    this.#resultPhase = "exhausted";
    const unusable = this.#unusable(result);
    if (unusable !== undefined) {
      return this.#breakOff(unusable, "the application returned no iterable");
    }
    this.#result = result;
    const error = this.#iterate(result);
    if (error !== undefined) {
      return this.#breakOff(error, "the application's result raised");
    }
    if (this.#phase === "streaming") this.#wake?.(false);
    else this.#closeResult();
  }

  /** Answers with an error of the gateway's own; nothing was final yet. */
  #errorAnswer(error: unknown, what: string): R {
    this.#phase = "discarding";
    const marks = error as Record<symbol, unknown> | null | undefined;
    const head = this.#head;
    const sink = this.#sink;
    let response: R;
    if (marks?.[BODY_BROKEN] === true) {
      this.#log(`bad request: ${(error as Error).message}`);
      response = sink.error(400, { head });
    } else if (marks?.[BODY_TOO_LARGE] === true) {
      this.#log("request body larger than maxBodySize, answered 413");
      response = sink.error(413, { head });
    } else {
      this.#log(what, error);
      response = sink.error(500, { head, error, debug: this.#ctx.debug });
    }
    this.#closeResult();
    return response;
  }

  /** Why the status and headers cannot be sent, if they cannot. */
  #headerProblem(): unknown {
    if (!this.#started) {
      return new Error(
        "Cannot send a response: the application never called startResponse()",
      );
    }
    return this.#headerError;
  }

  #hold(chunk: Uint8Array): void {
    (this.#held ??= []).push(chunk);
    this.#heldBytes += chunk.length;
  }

  #fromArray(chunks: unknown[]): R {
    let total = this.#heldBytes;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (!(chunk instanceof Uint8Array)) {
        return this.#failBefore(
          new TypeError(
            `Cannot send chunk ${i} of the result, ${notAChunk(chunk)}`,
          ),
          "the application returned a bad chunk",
        );
      }
      total += chunk.length;
    }
    const parts = this.#held === undefined
      ? chunks as Uint8Array[]
      : [...this.#held, ...chunks as Uint8Array[]];
    return this.#sendWhole(parts, total);
  }

  /** The whole body is known and no Response is out yet. */
  #sendWhole(parts: Uint8Array[], total: number): R {
    const problem = this.#headerProblem();
    if (problem !== undefined) {
      return this.#errorAnswer(problem, "bad response");
    }
    const code = this.#status!.code;
    const cl = this.#contentLength;
    if (this.#head || isBodiless(code)) {
      this.#phase = "discarding";
      this.#closeResult();
      if (this.#head && cl === -1 && !isBodiless(code)) {
        // Say what a GET would have sent (RFC 9110 §9.3.2).
        return this.#respond("empty", [
          ...this.#headers!,
          ["content-length", String(total)],
        ]);
      }
      return this.#respond(
        "empty",
        isBodiless(code) && cl !== -1
          ? withoutLength(this.#headers!)
          : this.#headers!,
      );
    }
    if (cl >= 0 && total < cl) {
      // Nothing is sent: a clean 500 is better than headers that promise
      // bytes that never come, which only a reset could mark as broken and
      // not every runtime resets.
      this.#phase = "pending";
      return this.#errorAnswer(
        new Error(
          `Cannot send the response: Content-Length is ${cl} but the application's body has ${total} bytes`,
        ),
        "too few bytes",
      );
    }
    this.#phase = "ended";
    if (cl >= 0 && total > cl) {
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
    // The sink states the length when the app's headers do not.
    return this.#respond(
      "whole",
      this.#headers!,
      bytes,
      cl === -1 ? total : -1,
    );
  }

  /** file_wrapper's fast path: the Blob or stream becomes the body as it is. */
  #fromFile(wrapper: FileWrapper): R | typeof NONE {
    if (this.#headerProblem() !== undefined) return NONE;
    const code = this.#status!.code;
    if (this.#head || isBodiless(code)) return NONE;
    const cl = this.#contentLength;
    const source = wrapper.source;
    if (source instanceof Blob) {
      if (cl > source.size) return NONE; // too few bytes: the slow path reports it
      wrapper.handOff();
      this.#phase = "ended";
      if (cl !== -1 && cl < source.size) {
        this.#log(
          `too many bytes: Content-Length ${cl}, the file has ${source.size}; the rest was dropped`,
        );
      }
      this.#closeResult();
      return cl === -1
        ? this.#respond("file", [
          ...this.#headers!,
          ["content-length", String(source.size)],
        ], source)
        : this.#respond("file", this.#headers!, source.slice(0, cl));
    }
    if (source instanceof ReadableStream && cl === -1) {
      wrapper.handOff();
      this.#phase = "ended";
      this.#closeResult();
      return this.#respond("file", this.#headers!, source);
    }
    return NONE;
  }

  /**
   * Pulls until the first non-empty chunk, which sends the headers. One
   * loop for sync and async iterators: an async step is awaited by going
   * round again from its `then`.
   */
  #pumpFirst(): R | Promise<R> {
    const iterator = this.#iterator!;
    for (;;) {
      let step: Step | Promise<Step>;
      try {
        step = iterator.next();
      } catch (error) {
        return this.#failBefore(error, "the application's iterable raised");
      }
      if (isThenable(step)) {
        return step.then(
          (value) => {
            const response = this.#first(value);
            return response === NONE ? this.#pumpFirst() : response;
          },
          (error) =>
            this.#failBefore(error, "the application's iterable raised"),
        );
      }
      const response = this.#first(step);
      if (response !== NONE) return response;
    }
  }

  /** One step before the headers are sent: the answer, or NONE to go on. */
  #first(step: Step): R | typeof NONE {
    if (step.done) {
      this.#resultPhase = "exhausted";
      return this.#sendWhole(this.#held ?? [], this.#heldBytes);
    }
    const chunk = step.value;
    if (!(chunk instanceof Uint8Array)) {
      return this.#failBefore(
        new TypeError(`Cannot send ${notAChunk(chunk)}`),
        "the application yielded a bad chunk",
      );
    }
    if (chunk.length === 0) return NONE;
    this.#hold(chunk);
    return this.#openStream();
  }

  /** Sends the headers with a streamed body that starts with what is held. */
  #openStream(): R {
    const problem = this.#headerProblem();
    if (problem !== undefined) {
      this.#phase = "pending";
      return this.#errorAnswer(problem, "bad response");
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    const code = this.#status!.code;
    if (this.#head || isBodiless(code)) {
      this.#phase = "discarding";
      this.#closeResult();
      // For HEAD of a body of unknown length, an empty stream that says
      // nothing of its length (see emptyStream).
      const unknownLength = this.#head && this.#contentLength === -1 &&
        !isBodiless(code);
      return this.#respond(
        "empty",
        isBodiless(code) && this.#contentLength !== -1
          ? withoutLength(this.#headers!)
          : this.#headers!,
        null,
        -1,
        unknownLength,
      );
    }
    this.#phase = "streaming";
    return this.#respond("stream", this.#headers!, {
      start: (controller) => {
        this.#controller = controller;
        for (const chunk of held) {
          if (!this.#enqueue(chunk)) break;
        }
      },
      pull: () => this.#pull(),
      cancel: () => {
        if (this.#phase === "streaming") this.#phase = "cancelled";
        this.#wake?.(false);
        // An app awaiting write() must get control back to return (its next
        // write() throws), or it would hang and never be closed. Resolved,
        // not rejected: an app need not await write() at all.
        this.#releaseWriters();
        this.#closeResult();
      },
    });
  }

  /** Hands the answer to the sink; a 500 if the runtime refuses it. */
  #respond(
    kind: "empty" | "whole" | "file" | "stream",
    headers: Header[],
    body: Uint8Array | Blob | ReadableStream<Uint8Array> | BodySource | null =
      null,
    length = -1,
    unknownLength = false,
  ): R {
    const status = this.#status!;
    const sink = this.#sink;
    try {
      switch (kind) {
        case "empty":
          return sink.empty(status, headers, unknownLength);
        case "whole":
          return sink.whole(status, headers, body as Uint8Array, length);
        case "file":
          return sink.file(
            status,
            headers,
            body as Blob | ReadableStream<Uint8Array>,
          );
        default:
          return sink.stream(status, headers, body as BodySource);
      }
    } catch (error) {
      // The runtime refused something the checks let through.
      this.#phase = "discarding";
      this.#log("the runtime refused the response", error);
      this.#closeResult();
      return sink.error(500, {
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
    if (this.#brokenBy !== undefined) {
      return this.#controller!.error(this.#brokenBy);
    }
    if (this.#phase !== "streaming") return;
    const iterator = this.#iterator;
    if (iterator === undefined) {
      if (this.#resultPhase !== "running") return this.#end();
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
    for (;;) {
      let step: Step | Promise<Step>;
      try {
        step = iterator.next();
      } catch (error) {
        this.#resultPhase = "exhausted";
        return this.#breakOff(error, "the application's iterable raised");
      }
      if (isThenable(step)) {
        return step.then(
          (value) => {
            if (this.#phase === "streaming" && this.#step(value)) {
              return this.#pull();
            }
          },
          (error) => {
            this.#resultPhase = "exhausted";
            this.#breakOff(error, "the application's iterable raised");
          },
        );
      }
      if (!this.#step(step)) return;
    }
  }

  /** One step while streaming; true to pull again at once (empty chunk). */
  #step(step: Step): boolean {
    if (step.done) {
      this.#resultPhase = "exhausted";
      this.#end();
      return false;
    }
    const chunk = step.value;
    if (!(chunk instanceof Uint8Array)) {
      this.#breakOff(
        new TypeError(`Cannot send ${notAChunk(chunk)}`),
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
    if (this.#phase !== "streaming") return;
    this.#phase = "ended";
    const cl = this.#contentLength;
    if (cl >= 0 && this.#sent < cl) {
      this.#log(`too few bytes: Content-Length ${cl}, sent ${this.#sent}`);
      this.#error(
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

  /**
   * Errors the body stream, after the chunks already queued are read: an
   * error discards a stream's queue, and what was written must reach the
   * client before the break.
   */
  #error(error: unknown): void {
    const controller = this.#controller!;
    if ((controller.desiredSize ?? 0) < 0) this.#brokenBy = error;
    else controller.error(error);
  }

  /** An error after the status went out: the body breaks off. */
  #breakOff(error: unknown, what: string): void {
    if (this.#phase !== "streaming") {
      if (this.#phase !== "cancelled") this.#log(what, error);
      return this.#closeResult();
    }
    this.#phase = "ended";
    this.#log(`${what} after the response started`, error);
    this.#error(error);
    this.#wake?.(false);
    this.#releaseWriters();
    this.#closeResult();
  }

  /**
   * Ends the app's iteration and calls its close(), exactly once. While the
   * app is still running (an async app that wrote) it waits: #continue closes
   * the result the app returns once the response is over.
   */
  #closeResult(): void {
    const was = this.#resultPhase;
    if (was === "closed" || was === "running") return;
    this.#resultPhase = "closed";
    this.#ctx.finish?.();
    const result = this.#result;
    let pending: unknown;
    if (was === "iterating") {
      try {
        pending = this.#iterator!.return?.();
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

/** The rest of the message for a body chunk that is not a Uint8Array. */
function notAChunk(chunk: unknown): string {
  if (isThenable(chunk)) {
    return "a Promise: body chunks must be Uint8Array; did you forget await?";
  }
  if (typeof chunk === "string") {
    return `${
      show(chunk)
    }: body chunks must be Uint8Array; encode text with new TextEncoder().encode(text)`;
  }
  return `${show(chunk)}: body chunks must be Uint8Array`;
}
