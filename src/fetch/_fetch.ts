// Between the environ and the Fetch API, for the middleware that hand a
// request on to a Fetch handler or an upstream server (fromFetchHandler,
// proxy): headers, path and body out; status, headers and body back.

import { HOP_BY_HOP } from "../gateway/_response_rules.ts";
import { PATH_SAFE, quote } from "../toolkit/_url.ts";
import type {
  AppIterable,
  Environ,
  Header,
  InputStream,
  StartResponse,
} from "../types.ts";

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a Teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The status line of a Response: its own reason, or the standard one. */
export function statusLine(response: Response): string {
  const reason = response.statusText || REASONS[response.status] || "Unknown";
  return `${response.status} ${reason}`;
}

/** The hop-by-hop names of a message: the fixed ones and those in Connection. */
function hopNames(connection: string | null | undefined): Set<string> {
  const names = new Set(HOP_BY_HOP);
  if (connection) {
    for (const name of connection.split(",")) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed !== "") names.add(trimmed);
    }
  }
  return names;
}

/** The request headers of an environ, without hop-by-hop ones. */
export function requestHeaders(environ: Environ): Headers {
  const headers = new Headers();
  const hop = hopNames(environ.HTTP_CONNECTION as string | undefined);
  for (const key of Object.keys(environ)) {
    if (!key.startsWith("HTTP_")) continue;
    const value = environ[key];
    if (typeof value !== "string") continue;
    const name = key.slice(5).toLowerCase().replaceAll("_", "-");
    if (hop.has(name)) continue;
    try {
      headers.append(name, value);
    } catch {
      // A value a middleware set that Fetch cannot carry is dropped.
    }
  }
  if (environ.CONTENT_TYPE) headers.set("content-type", environ.CONTENT_TYPE);
  if (environ.CONTENT_LENGTH) {
    headers.set("content-length", environ.CONTENT_LENGTH);
  }
  return headers;
}

/** Response headers as a tsgi header list, without hop-by-hop ones. */
export function responseHeaders(headers: Headers): Header[] {
  const hop = hopNames(headers.get("connection"));
  const out: Header[] = [];
  // Each Set-Cookie comes on its own. (forEach: Deno's Headers iterator
  // sorts the list again at every step.)
  headers.forEach((value, name) => {
    if (!hop.has(name)) out.push([name, value]);
  });
  return out;
}

/** Percent-encodes a latin-1 path (one char per octet) for a URL. */
export function encodePath(path: string): string {
  return quote(path, PATH_SAFE);
}

/** Whether the request carries a body to hand on. */
export function hasBody(environ: Environ): boolean {
  const method = environ.REQUEST_METHOD;
  if (method === "GET" || method === "HEAD") return false;
  const length = environ.CONTENT_LENGTH;
  if (length !== undefined && length !== "") return Number(length) > 0;
  if (environ.HTTP_TRANSFER_ENCODING !== undefined) return true;
  // A Fetch request (in-process, HTTP/2) can stream a body with neither.
  const request = environ["tsgi.request"];
  return request instanceof Request && request.body !== null;
}

/**
 * `wsgi.input` as ReadableStreams read only as they are pulled; a new
 * stream per attempt, so an unread body can be sent again.
 */
export class OutgoingBody {
  /** Set once anything has been read from `wsgi.input`. */
  pulled = false;
  readonly #input: InputStream;
  readonly #chunkSize: number;

  constructor(input: InputStream, chunkSize = 64 * 1024) {
    this.#input = input;
    this.#chunkSize = chunkSize;
  }

  stream(): ReadableStream<Uint8Array> {
    const input = this.#input as InputStream & {
      read1?(size: number): Promise<Uint8Array>;
    };
    // read1 (tsgi's ReadableInputStream) relays bytes as they come; plain PEP 3333
    // read(n) waits for n of them, so a trickling body moves in n-byte steps.
    const read = typeof input.read1 === "function"
      ? (n: number) => input.read1!(n)
      : (n: number) => input.read(n);
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        this.pulled = true;
        const chunk = await read(this.#chunkSize);
        if (chunk.length === 0) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }
}

/**
 * A Response body as an app result: chunks as they arrive, and close()
 * cancels the body (and runs `onClose`) once.
 */
export class ResponseBody implements AsyncIterableIterator<Uint8Array> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #onClose: ((complete: boolean) => void) | undefined;
  #done = false;
  #closed = false;

  #first: Uint8Array | undefined;

  constructor(
    body: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>,
    onClose?: (complete: boolean) => void,
    first?: Uint8Array,
  ) {
    this.#reader = body instanceof ReadableStream ? body.getReader() : body;
    this.#onClose = onClose;
    this.#first = first;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.#closed) return { done: true, value: undefined };
    const first = this.#first;
    if (first !== undefined) {
      this.#first = undefined;
      return { done: false, value: first };
    }
    const step = await this.#reader.read();
    if (step.done) {
      this.#done = true;
      return { done: true, value: undefined };
    }
    return step;
  }

  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    return Promise.resolve({ done: true, value: undefined });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#done) this.#reader.cancel().catch(() => {});
    this.#onClose?.(this.#done);
  }
}

/** Answers with a Fetch Response through start_response. */
export function respond(
  response: Response,
  startResponse: StartResponse,
  onClose?: (complete: boolean) => void,
  headers: Header[] = responseHeaders(response.headers),
): AppIterable {
  try {
    startResponse(statusLine(response), headers);
  } catch (error) {
    response.body?.cancel().catch(() => {});
    onClose?.(false);
    throw error;
  }
  if (response.body === null) {
    onClose?.(true);
    return [];
  }
  return new ResponseBody(response.body, onClose);
}
