// The machinery shared by middleware that change a response body (filter,
// compress): decide per response from its status and headers, send the
// changed headers, and pass the body through a chunk function or a
// TransformStream as it streams.

import { isThenable } from "../gateway/_values.ts";
import { mapBody, Source, StreamedBody } from "./_body.ts";
import type {
  App,
  AppIterable,
  Environ,
  Header,
  StartResponse,
  Write,
} from "../types.ts";

/** How one response is changed. */
export interface Plan {
  /** The headers to send instead of the app's. */
  headers: Header[];
  /** The status line to send; the app's when absent. */
  status?: string;
  /** Changes each chunk as it passes. */
  map?: (chunk: Uint8Array) => Uint8Array;
  /** A last chunk after the app's last (with `map`). */
  tail?: () => Uint8Array | undefined;
  /** The body goes through this stream instead (then `map` is unused). */
  stream?: TransformStream<Uint8Array, Uint8Array>;
  /**
   * The headers for a later start_response (with exc_info) while the body
   * still goes through this plan's transform; the app's when absent.
   */
  restate?: (status: string, headers: Header[]) => Header[];
}

/**
 * Decides how a response is changed; `undefined` to pass it on untouched.
 * `length` is the body's size when known before it is sent (an array
 * result, or a Content-Length), else -1.
 */
export type Planner = (
  environ: Environ,
  status: string,
  headers: Header[],
  length: number,
) => Plan | undefined;

/** Drops Content-Length: a changed body has another size. */
export function withoutLength(headers: Header[]): Header[] {
  return headers.filter(([name]) => name.toLowerCase() !== "content-length");
}

/** The value of a header, case-insensitively, or undefined. */
export function headerValue(
  headers: readonly Header[],
  name: string,
): string | undefined {
  for (const [key, value] of headers) {
    if (key.length === name.length && key.toLowerCase() === name) return value;
  }
  return undefined;
}

function arrayLength(result: AppIterable): number {
  if (!Array.isArray(result)) return -1;
  let total = 0;
  for (const chunk of result) {
    if (!(chunk instanceof Uint8Array)) return -1;
    total += chunk.length;
  }
  return total;
}

/** One response passing through a transforming middleware. */
class Exchange {
  readonly #environ: Environ;
  readonly #outer: StartResponse;
  readonly #planner: Planner;
  #status: string | undefined;
  #headers: Header[] | undefined;
  #plan: Plan | undefined;
  #started = false;
  #outerWrite: Write | undefined;
  #streamed: StreamedBody | undefined;

  constructor(environ: Environ, outer: StartResponse, planner: Planner) {
    this.#environ = environ;
    this.#outer = outer;
    this.#planner = planner;
  }

  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (excInfo === undefined && this.#status !== undefined) {
      throw new Error(
        `Cannot call startResponse() a second time without excInfo: the status is already ${
          JSON.stringify(this.#status)
        }`,
      );
    }
    this.#status = status;
    this.#headers = headers;
    if (this.#started) {
      // The outer server decides: it rethrows once anything was sent. The
      // body already goes through this response's transform, so the new
      // headers must describe that same transform.
      const restate = this.#plan?.restate;
      this.#outerWrite = this.#outer(
        status,
        restate === undefined ? headers : restate(status, headers),
        excInfo,
      );
    }
    return this.write;
  };

  readonly write: Write = (chunk) => {
    this.#start(-1);
    const plan = this.#plan;
    if (plan?.stream !== undefined) {
      return this.#streamed!.write(chunk, this.#outerWrite!);
    }
    return this.#outerWrite!(plan?.map === undefined ? chunk : plan.map(chunk));
  };

  #start(length: number): void {
    if (this.#started) return;
    if (this.#status === undefined) {
      throw new Error("Cannot write(): call startResponse() first");
    }
    this.#started = true;
    const plan = this.#planner(
      this.#environ,
      this.#status,
      this.#headers!,
      length,
    );
    this.#plan = plan;
    if (plan?.stream !== undefined) {
      this.#streamed = new StreamedBody(plan.stream);
    }
    this.#outerWrite = this.#outer(
      plan?.status ?? this.#status,
      plan?.headers ?? this.#headers!,
    );
  }

  /** The body to hand on, once the plan is known. */
  #body(source: Source, peeked: boolean): AppIterable {
    const plan = this.#plan;
    const result = source.result;
    if (plan === undefined) return peeked ? mapBody(source, {}) : result;
    if (this.#streamed !== undefined) {
      this.#streamed.attach(source);
      return this.#streamed;
    }
    if (Array.isArray(result) && !peeked && arrayLength(result) !== -1) {
      // The whole body is here: keep it an array so the server sends it
      // with its new Content-Length.
      const map = plan.map;
      const chunks = map === undefined ? result.slice() : result.map(map);
      const last = plan.tail?.();
      if (last !== undefined) chunks.push(last);
      return Object.assign(chunks, { close: () => source.close() });
    }
    return mapBody(source, { map: plan.map, tail: plan.tail });
  }

  wrap(result: AppIterable): AppIterable {
    if (this.#status !== undefined) {
      this.#start(arrayLength(result));
      return this.#body(new Source(result), false);
    }
    // A generator app calls start_response on its first step: decide then.
    const source = new Source(result);
    let body: AppIterable | undefined;
    const next = async () => {
      if (body === undefined) {
        const step = await source.next();
        source.unshift(step);
        if (this.#status === undefined) return step;
        this.#start(-1);
        body = this.#body(source, true);
      }
      const iterator = body as unknown as
        | AsyncIterator<Uint8Array>
        | Iterator<Uint8Array>;
      return await iterator.next();
    };
    return {
      [Symbol.asyncIterator]() {
        return { next };
      },
      close: () => body?.close?.() ?? source.close(),
    } as AppIterable;
  }
}

/**
 * A middleware that changes responses as `planner` decides: the shared
 * core of `filter` and `compress`.
 */
export function transformResponse(app: App, planner: Planner): App {
  return function transformed(environ, startResponse) {
    const exchange = new Exchange(environ, startResponse, planner);
    const result = app(environ, exchange.startResponse);
    if (isThenable(result)) {
      return (result as Promise<AppIterable>).then((value) =>
        exchange.wrap(value)
      );
    }
    return exchange.wrap(result);
  };
}
