// The access log of serve(): wsgiref's simple_server line, which is
// BaseHTTPRequestHandler.log_request's format,
//   127.0.0.1 - - [21/Nov/2026 20:48:03] "GET / HTTP/1.1" 200 11
// written once the body has been sent (or when its length is known).

import { knownLength } from "../gateway/_response.ts";
import type { FetchHandler } from "../types.ts";

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

let cachedSecond = -1;
let cachedDate = "";

function pad(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** `21/Nov/2026 20:48:03` in local time, as wsgiref; formatted once a second. */
export function logDate(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    cachedDate = `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${
      String(d.getFullYear()).padStart(4, "0")
    } ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    cachedSecond = second;
  }
  return cachedDate;
}

/**
 * The default sink: lines go to stderr together, in one write per turn of
 * the event loop rather than a console call per request (which costs more
 * than the rest of the exchange on Deno); `flush()` writes what is held.
 */
export class StderrLog {
  readonly #write: (text: string) => void;
  #text = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(write: (text: string) => void = stderr) {
    this.#write = write;
  }

  /** Queues one line. */
  readonly line = (line: string): void => {
    this.#text += line + "\n";
    this.#timer ??= setTimeout(this.flush, 0);
  };

  /** Writes the queued lines now. */
  readonly flush = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#text === "") return;
    const text = this.#text;
    this.#text = "";
    try {
      this.#write(text);
    } catch {
      // A closed stderr must not take the server down.
    }
  };
}

/** Writes text that ends with a newline to stderr. */
export function stderr(text: string): void {
  console.error("%s", text.endsWith("\n") ? text.slice(0, -1) : text);
}

interface PeerInfoLike {
  remoteAddr?: { hostname?: string };
}
interface BunServerLike {
  requestIP(request: Request): { address: string } | null;
}

/**
 * Peers read before a WebSocket upgrade: Deno's info refuses to tell the
 * address once the request is upgraded.
 */
export const upgradePeers: WeakMap<Request, string> = new WeakMap();

/** The peer's address from Deno's (or tsgi's Node) info, or Bun's server. */
export function peerOf(request: Request, args: readonly unknown[]): string {
  const first = args[0] as PeerInfoLike & Partial<BunServerLike> | undefined;
  if (first?.remoteAddr?.hostname !== undefined) {
    return first.remoteAddr.hostname;
  }
  if (typeof first?.requestIP === "function") {
    return first.requestIP(request)?.address ?? "-";
  }
  return "-";
}

/**
 * One line of the log: `peer - - [date] "METHOD target protocol" status
 * bytes`, with `-` for a body of no bytes.
 */
export function accessLine(
  peer: string,
  method: string,
  target: string,
  protocol: string,
  status: number,
  bytes: number,
): string {
  return `${peer} - - [${logDate()}] "${method} ${target} ${protocol}" ${status} ${
    bytes === 0 ? "-" : bytes
  }`;
}

/** The request target as sent: the URL from its path on. */
function targetOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash === -1 ? "/" : url.slice(slash);
}

/** A body stream that reports how many bytes passed once it is over. */
function counted(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    done(bytes);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        end();
        controller.error(error);
        return;
      }
      if (step.done) {
        end();
        controller.close();
        return;
      }
      bytes += step.value.byteLength;
      controller.enqueue(step.value);
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * One exchange as the access log saw it: what the second argument of an
 * `accessLog` function receives.
 *
 * @example A JSON access log
 * ```ts
 * import type { AccessRecord } from "@tsgi/tsgi/serve";
 * const json = (_line: string, record: AccessRecord) =>
 *   console.log(JSON.stringify({
 *     method: record.request.method,
 *     target: record.target,
 *     status: record.status,
 *     ms: record.duration,
 *   }));
 * ```
 */
export interface AccessRecord {
  /** The request as the server received it. */
  readonly request: Request;
  /** The peer's address, `"-"` when unknown. */
  readonly remoteAddr: string;
  /** The request target as sent: path and query. */
  readonly target: string;
  /** `"HTTP/1.1"`, `"HTTP/2"`, … */
  readonly protocol: string;
  /** The response status sent. */
  readonly status: number;
  /** Body bytes sent. */
  readonly bytes: number;
  /** Milliseconds from the request to the end of the response. */
  readonly duration: number;
  /** When the request came, in milliseconds since the epoch. */
  readonly start: number;
}

/**
 * Receives each access log line and its record.
 *
 * @example Count the 5xx answers
 * ```ts
 * import type { AccessSink } from "@tsgi/tsgi/serve";
 * let errors = 0;
 * const sink: AccessSink = (_line, record) => {
 *   if (record.status >= 500) errors++;
 * };
 * ```
 */
export type AccessSink = (line: string, record: AccessRecord) => void;

/**
 * Wraps a handler so each exchange writes one log line to `sink`. A body
 * whose length the headers give (the gateway states it for every body it
 * knows whole) is not touched: reading `Response.body` would cost the
 * runtimes their fast path for in-memory bodies. Streamed bodies are
 * counted as they pass, and logged when they end.
 */
export function withAccessLog(
  handler: FetchHandler,
  sink: AccessSink,
  protocol: string,
): FetchHandler {
  const log = (
    request: Request,
    args: readonly unknown[],
    status: number,
    bytes: string,
    start: number,
  ) => {
    try {
      const remoteAddr = upgradePeers.get(request) ?? peerOf(request, args);
      const target = targetOf(request.url);
      const now = Date.now();
      sink(
        `${remoteAddr} - - [${
          logDate(now)
        }] "${request.method} ${target} ${protocol}" ${status} ${bytes}`,
        {
          request,
          remoteAddr,
          target,
          protocol,
          status,
          bytes: bytes === "-" ? 0 : Number(bytes),
          duration: now - start,
          start,
        },
      );
    } catch {
      // A failing log sink must not fail the request.
    }
  };
  // A WebSocket upgrade the runtime answers itself (Bun, tsgi's Node
  // server): the handler returns nothing, which must stay nothing.
  const upgraded = (
    request: Request,
    args: readonly unknown[],
    nothing: undefined,
    start: number,
  ): Response => {
    log(request, args, 101, "-", start);
    return nothing as unknown as Response;
  };
  const finish = (
    request: Request,
    args: readonly unknown[],
    response: Response,
    start: number,
  ): Response => {
    const status = response.status;
    if (
      request.method === "HEAD" || status === 204 || status === 304 ||
      status === 101
    ) {
      log(request, args, status, "-", start);
      return response;
    }
    const length = knownLength(response);
    if (length !== -1) {
      log(
        request,
        args,
        status,
        length === 0 ? "-" : `${length}`,
        start,
      );
      return response;
    }
    const body = response.body;
    if (body === null) {
      log(request, args, status, "-", start);
      return response;
    }
    return new Response(
      counted(
        body,
        (bytes) =>
          log(request, args, status, bytes === 0 ? "-" : `${bytes}`, start),
      ),
      {
        status,
        statusText: response.statusText,
        headers: response.headers,
      },
    );
  };
  return function loggedHandler(
    request: Request,
    ...args: unknown[]
  ): Response | Promise<Response> {
    const start = Date.now();
    const result = handler(request, ...args);
    return result instanceof Response
      ? finish(request, args, result, start)
      : result === undefined
      ? upgraded(request, args, result, start)
      : result.then((response) =>
        response === undefined
          ? upgraded(request, args, response, start)
          : finish(request, args, response, start)
      );
  };
}
