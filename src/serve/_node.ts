// serve() on Node: node:http bridged to the Fetch API. The request body
// streams in and the response streams out, each with backpressure; a client
// that goes away cancels the response body, which runs the app's close().
// node:http's shapes are declared here, so the sources need no @types/node.

import type { Listener, ListenOptions } from "./_adapter.ts";
import {
  errorResponse,
  type ErrorResponseOptions,
  type ErrorStatus,
  KNOWN_LENGTH,
  knownLength,
} from "../gateway/_response.ts";
import { isThenable } from "../gateway/_values.ts";
import type {
  BodyChannel,
  BodySource,
  ResponseSink,
} from "../gateway/_exchange.ts";
import type { Status } from "../gateway/_response_rules.ts";
import type { RequestParts } from "../gateway/_parts_handler.ts";
import type { Header, RemoteAddress } from "../types.ts";
import { loadWs, type NodeDuplex, NodeUpgrade } from "./_node_websocket.ts";

export { websocket } from "./_node_websocket.ts";

interface NodeSocket {
  /** A TLS socket: the protocol ALPN chose (`"h2"`, `"http/1.1"`, false). */
  readonly alpnProtocol?: string | false;
  destroy?(): unknown;
  once?(event: "close", listener: () => void): unknown;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** Node >= 16.17: closes with a TCP RST instead of a FIN. */
  resetAndDestroy?(): unknown;
}

interface IncomingMessage {
  readonly method?: string;
  readonly url?: string;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  readonly headers: Record<string, string | string[] | undefined>;
  readonly socket: NodeSocket;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

interface ServerResponse {
  shouldKeepAlive: boolean;
  /** node:http2's compatibility response: its stream. */
  readonly stream?: { close(code: number): unknown };
  readonly socket: NodeSocket | null;
  writeContinue(): void;
  readonly writableFinished: boolean;
  readonly headersSent: boolean;
  writeHead(
    status: number,
    reason: string | undefined,
    headers: string[],
  ): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  once(event: "drain", listener: () => void): unknown;
  off(event: "drain", listener: () => void): unknown;
  on(event: "close", listener: () => void): unknown;
  destroy(): unknown;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

interface NodeServer {
  listen(port: number, hostname: string, callback: () => void): unknown;
  listen(path: string, callback: () => void): unknown;
  keepAliveTimeout: number;
  closeAllConnections?(): void;
  closeIdleConnections?(): void;
  /** node:https only: the certificate for new connections. */
  setSecureContext?(options: { cert: string; key: string }): void;
  /** node:http2: the idle timeout of sessions. */
  setTimeout?(ms: number): unknown;
  on(
    event: "upgrade",
    listener: (
      req: IncomingMessage,
      socket: NodeDuplex,
      head: Uint8Array,
    ) => void,
  ): unknown;
  on(event: "checkContinue", listener: RequestListener): unknown;
  on(event: "session", listener: (session: NodeSession) => void): unknown;
  on(
    event: "secureConnection",
    listener: (socket: NodeSocket) => void,
  ): unknown;
  address(): { address: string; port: number } | string | null;
  close(): unknown;
  once(event: "close", listener: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

interface NodeHttp {
  createServer(listener: RequestListener): NodeServer;
  readonly STATUS_CODES: Record<number, string | undefined>;
}

interface NodeHttps {
  createServer(
    options: { cert: string; key: string },
    listener: RequestListener,
  ): NodeServer;
}

/** node:http2's session, as far as it is used. */
interface NodeSession {
  close(): unknown;
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
}

interface NodeHttp2 {
  createSecureServer(
    options: { cert: string; key: string; allowHTTP1: boolean },
    listener: RequestListener,
  ): NodeServer;
}

interface NodeFs {
  unlinkSync(path: string): void;
}

// RST_STREAM's INTERNAL_ERROR: a stream cut short, the connection spared.
const H2_INTERNAL_ERROR = 2;

// Headers HTTP/2 forbids (RFC 9113 §8.2.2); node:http2 throws on them.
const H2_FORBIDDEN = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** Whether a response is node:http2's (an HTTP/2 stream). */
function isH2(res: ServerResponse): boolean {
  return res.stream !== undefined;
}

// Not import("node:http"): a bundler (a Worker that imports mod.ts) or the
// publish-time analysis would see it. Loaded only when serve() runs on Node.
function builtin<T>(id: string): T {
  const { process } = globalThis as unknown as {
    process: { getBuiltinModule(id: string): unknown };
  };
  return process.getBuiltinModule(id) as T;
}

// How much of the request body may wait in memory before the socket is
// paused: the app reads it as a stream.
const BODY_BUFFER = 65536;

const encoder = new TextEncoder();

/**
 * The request body as a stream that pauses the socket while it is full.
 * `expectsContinue`: the client waits for `100 Continue`, sent when the app
 * first reads, so that a request refused unread (413) never gets one.
 */
function bodyOf(
  req: IncomingMessage,
  res: ServerResponse,
  expectsContinue: boolean,
): ReadableStream<Uint8Array> {
  let over = false;
  let waiting = expectsContinue;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk) => {
        if (over) return;
        // A plain view, not the Buffer: apps get Uint8Array semantics.
        controller.enqueue(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => {
        if (over) return;
        over = true;
        controller.close();
      });
      const fail = (error: Error) => {
        if (over) return;
        over = true;
        controller.error(error);
      };
      req.on("error", fail);
      req.on("close", () =>
        fail(
          new Error(
            "Cannot read the request body: the client closed the connection before it ended",
          ),
        ));
    },
    pull() {
      if (waiting) {
        waiting = false;
        res.writeContinue();
      }
      req.resume();
    },
    cancel() {
      // The app is done with the body; the rest is read and dropped so the
      // connection stays usable.
      over = true;
      req.resume();
    },
  }, {
    // A buffer makes the stream pull at once; a client waiting for 100
    // Continue has sent nothing to buffer, and the first pull must be the
    // app's first read.
    highWaterMark: expectsContinue ? 0 : BODY_BUFFER,
    size: (chunk) => chunk.byteLength,
  });
}

/**
 * A Request whose `signal` aborts when the client goes away, as on Deno and
 * Bun. The AbortController is made only when someone asks for the signal:
 * passing one to the constructor costs Node 20 about a third of an
 * exchange, and most apps never look.
 */
class NodeRequest extends Request {
  #controller: AbortController | undefined;
  #gone: Error | undefined;

  override get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#gone !== undefined) this.#controller.abort(this.#gone);
    }
    return this.#controller.signal;
  }

  /** The client closed the connection before the response ended. */
  disconnect(reason: Error): void {
    this.#gone = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * The Fetch Request for a node:http request, or undefined when the Fetch
 * API refuses it. Its URL is the listener's address with the target's
 * path: the gateway reads the target and the Host as the client sent them
 * from the info object (see `listen`), never from this URL, which the URL
 * parser has changed (backslashes, dot segments).
 */
function requestOf(
  req: IncomingMessage,
  res: ServerResponse,
  base: string,
  expectsContinue: boolean,
): NodeRequest | undefined {
  const target = req.url ?? "";
  const method = req.method ?? "GET";
  const raw = req.rawHeaders;
  const headers = new Headers();
  try {
    for (let i = 0; i < raw.length; i += 2) {
      // HTTP/2's pseudo-headers (:method, :path, …) are not fields.
      if (raw[i].charCodeAt(0) === 58) {
        if (raw[i] === ":authority" && req.headers.host === undefined) {
          headers.append("host", raw[i + 1]);
        }
      } else headers.append(raw[i], raw[i + 1]);
    }
    const bodyless = method === "GET" || method === "HEAD" ||
      (req.headers["transfer-encoding"] === undefined &&
        (req.headers["content-length"] ?? "0") === "0");
    return new NodeRequest(base + (target.startsWith("/") ? target : "/"), {
      method,
      headers,
      body: bodyless ? null : bodyOf(req, res, expectsContinue),
      duplex: "half",
    } as RequestInit);
  } catch {
    // A URL, method or header the Fetch API refuses (TRACE, …).
    return undefined;
  }
}

/** What a request is as the gateway takes it: node:http's own parse. */
class NodeParts implements RequestParts {
  readonly method: string;
  readonly target: string;
  readonly rawHeaders: readonly string[];
  readonly remote: RemoteAddress | undefined;
  readonly local: string | undefined;
  readonly info: unknown;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #expectsContinue: boolean;
  readonly #base: string;
  readonly #conn: NodeConnection;
  #body: ReadableStream<Uint8Array> | null | undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
    base: string,
    conn: NodeConnection,
  ) {
    this.#req = req;
    this.#res = res;
    this.#expectsContinue = expectsContinue;
    this.#base = base;
    this.#conn = conn;
    this.method = req.method ?? "GET";
    this.target = req.url ?? "";
    this.rawHeaders = req.rawHeaders;
    const socket = req.socket;
    const address = socket.remoteAddress;
    this.remote = address === undefined
      ? undefined
      : { address, port: socket.remotePort };
    const localAddress = socket.localAddress;
    this.local = localAddress === undefined
      ? undefined
      : (localAddress.includes(":") ? `[${localAddress}]` : localAddress) +
        ":" + socket.localPort;
    this.info = {
      remoteAddr: {
        hostname: address,
        port: socket.remotePort,
        transport: "tcp",
      },
      localAddr: localAddress === undefined
        ? undefined
        : { hostname: localAddress, port: socket.localPort },
      target: req.url,
    };
  }

  body(): ReadableStream<Uint8Array> | null {
    if (this.#body !== undefined) return this.#body;
    const req = this.#req;
    const method = this.method;
    const bodyless = method === "GET" || method === "HEAD" ||
      (req.headers["transfer-encoding"] === undefined &&
        (req.headers["content-length"] ?? "0") === "0");
    return this.#body = bodyless
      ? null
      : bodyOf(req, this.#res, this.#expectsContinue);
  }

  /**
   * The Fetch Request, on demand. Its URL is the listener's address with
   * the target's path; the gateway read the target and the Host as the
   * client sent them, never from this URL, which the URL parser changes
   * (backslashes, dot segments). Its body is wsgi.input's stream: reading
   * either consumes both, as with a Fetch server.
   */
  request(): Request {
    const conn = this.#conn;
    if (conn.request !== undefined) return conn.request;
    const raw = this.rawHeaders;
    const headers = new Headers();
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    const body = this.body();
    const target = this.target;
    const request = new NodeRequest(
      this.#base + (target.startsWith("/") ? target : "/"),
      {
        method: this.method,
        headers,
        body: body === null || body.locked ? null : body,
        duplex: "half",
      } as RequestInit,
    );
    if (conn.gone !== undefined) request.disconnect(conn.gone);
    return conn.request = request;
  }
}

/** Closes the connection with a reset where Node can, else a FIN. */
function reset(res: ServerResponse): void {
  // The body broke after the status went out (the app raised, or sent less
  // than its Content-Length): reset the connection so the client cannot
  // take the part it got for the whole. A FIN would do that for a chunked
  // or known-length body, but ends a close-delimited one (HTTP/1.0) as if
  // it were complete.
  const socket = res.socket;
  // On HTTP/2, only this stream is reset; the connection carries others.
  if (res.stream !== undefined) res.stream.close(H2_INTERNAL_ERROR);
  else if (typeof socket?.resetAndDestroy === "function") {
    socket.resetAndDestroy();
  } else res.destroy();
}

/** One request's state between node:http and the exchange. */
class NodeConnection {
  /** Why the client is gone, once it is. */
  gone: Error | undefined;
  request: NodeRequest | undefined;
  body: NodeBody | undefined;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  wake: (() => void) | undefined;
  /** The access log's line of this exchange, when the adapter writes it. */
  log: ((status: number, bytes: number) => void) | undefined;

  /** The client went away before the response ended. */
  disconnect(): void {
    const reason = new Error("The client closed the connection");
    this.gone = reason;
    this.request?.disconnect(reason);
    this.body?.cancel();
    this.wake?.();
    this.reader?.cancel(reason).catch(() => {});
  }
}

/** The Content-Length the (checked) headers give; -1 if none. */
function lengthOf(headers: Header[]): number {
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      return Number(headers[i][1]);
    }
  }
  return -1;
}

/** The header list as node:http's flat `[name, value, …]`. */
function flat(headers: Header[], length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i++) {
    out.push(headers[i][0], headers[i][1]);
  }
  if (length !== -1) out.push("content-length", `${length}`);
  return out;
}

/**
 * A streamed body's way to node:http: each chunk the exchange enqueues is
 * written at once; once node:http's buffer is full, the exchange is not
 * pulled again (and an app's write() waits) until it drains.
 */
class NodeBody implements BodyChannel {
  readonly #res: ServerResponse;
  readonly #source: BodySource;
  readonly #status: number;
  readonly #conn: NodeConnection;
  readonly #length: number;
  #blocked = false;
  #done = false;
  // Every byte the headers promise is out: the rest is the app's business.
  #complete = false;
  #sent = 0;
  #moved = false;

  constructor(
    res: ServerResponse,
    source: BodySource,
    status: number,
    conn: NodeConnection,
    length: number,
  ) {
    this.#res = res;
    this.#source = source;
    this.#status = status;
    this.#conn = conn;
    this.#length = length;
  }

  get desiredSize(): number {
    return this.#blocked ? -1 : 0;
  }

  enqueue(chunk: Uint8Array): void {
    if (this.#done) return;
    this.#moved = true;
    if (this.#complete) return;
    this.#sent += chunk.byteLength;
    if (this.#sent === this.#length) {
      // The last byte the headers promise: end() sends it (with the
      // headers, when it is also the first chunk). The result is still
      // pulled to its end, and an error it raises then is only logged.
      this.#complete = true;
      this.#res.end(chunk);
    } else if (!this.#res.write(chunk)) this.#blocked = true;
  }

  close(): void {
    if (this.#finish() && !this.#complete) this.#res.end();
  }

  error(_error: unknown): void {
    if (this.#finish() && !this.#complete) reset(this.#res);
  }

  /** The client is gone: the exchange stops and closes the app's result. */
  cancel(): void {
    if (this.#finish()) this.#source.cancel();
  }

  /** Marks the body over, once; false if it already was. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#res.off("drain", this.#drained);
    this.#conn.log?.(this.#status, this.#sent);
    return true;
  }

  /** Starts the body: what the app already wrote, then pulls. */
  run(): void {
    this.#source.start(this);
    this.#next();
  }

  readonly #drained = (): void => {
    this.#blocked = false;
    this.#next();
  };

  readonly #next = (): void => {
    for (;;) {
      if (this.#done) return;
      if (this.#blocked) {
        this.#res.once("drain", this.#drained);
        return;
      }
      this.#moved = false;
      let pulled: void | Promise<void>;
      try {
        pulled = this.#source.pull();
      } catch (error) {
        return this.error(error);
      }
      if (isThenable(pulled)) {
        pulled.then(this.#next, (error) => this.error(error));
        return;
      }
      // A pull that settled without a chunk is not repeated (as a stream
      // would not): the exchange pulls again by itself when it has one.
      if (!this.#moved) return;
    }
  };
}

/** The exchange's answer, written to node:http. */
class NodeSink implements ResponseSink<void> {
  readonly #res: ServerResponse;
  readonly #conn: NodeConnection;
  readonly #closing: boolean;

  constructor(res: ServerResponse, conn: NodeConnection, closing: boolean) {
    this.#res = res;
    this.#conn = conn;
    this.#closing = closing;
  }

  /** Writes the status line and headers; false if the client is gone. */
  #start(status: Status, headers: string[]): boolean {
    if (this.#conn.gone !== undefined) return false;
    const res = this.#res;
    // While shutting down, no connection is kept for another request.
    if (this.#closing) res.shouldKeepAlive = false;
    res.writeHead(status.code, status.reason || undefined, headers);
    return true;
  }

  empty(status: Status, headers: Header[], _unknownLength: boolean): void {
    // node:http adds no length to an answer to HEAD, or to a 204 or 304.
    if (!this.#start(status, flat(headers, -1))) return;
    this.#res.end();
    this.#conn.log?.(status.code, 0);
  }

  whole(
    status: Status,
    headers: Header[],
    body: Uint8Array | null,
    length: number,
  ): void {
    if (!this.#start(status, flat(headers, length))) return;
    // One write with the headers.
    if (body === null) this.#res.end();
    else this.#res.end(body);
    this.#conn.log?.(status.code, body === null ? 0 : body.byteLength);
  }

  file(
    status: Status,
    headers: Header[],
    body: Blob | ReadableStream<Uint8Array>,
  ): void {
    const stream = body instanceof Blob ? body.stream() : body;
    if (!this.#start(status, flat(headers, -1))) {
      stream.cancel().catch(() => {});
      return;
    }
    pump(stream, lengthOf(headers), this.#res, this.#conn, status.code);
  }

  stream(status: Status, headers: Header[], source: BodySource): void {
    const conn = this.#conn;
    const body = new NodeBody(
      this.#res,
      source,
      status.code,
      conn,
      lengthOf(headers),
    );
    if (!this.#start(status, flat(headers, -1))) {
      // The client left while the app ran: nothing is written, and the
      // exchange closes the app's result.
      body.cancel();
      source.start(body);
      return;
    }
    conn.body = body;
    body.run();
  }

  error(status: ErrorStatus, options: ErrorResponseOptions): void {
    send(
      errorResponse(status, options),
      this.#res,
      this.#conn,
      this.#closing,
    );
  }
}

/** Answers with a short plain-text error. */
function plain(res: ServerResponse, status: number, reason: string): void {
  const body = encoder.encode(`${status} ${reason}\n`);
  res.writeHead(status, isH2(res) ? undefined : reason, [
    "content-type",
    "text/plain; charset=utf-8",
    "content-length",
    String(body.length),
  ]);
  res.end(body);
}

function headersOf(response: Response): string[] {
  const flat: string[] = [];
  let cookies = false;
  for (const [name, value] of response.headers) {
    // Some Headers implementations join Set-Cookie when iterated.
    if (name === "set-cookie") cookies = true;
    else flat.push(name, value);
  }
  if (cookies) {
    for (const cookie of response.headers.getSetCookie()) {
      flat.push("set-cookie", cookie);
    }
  }
  return flat;
}

/**
 * Writes a body to node:http with backpressure, and reads the stream to its
 * end after the last byte the headers promise (which runs the app's
 * close()). `status` is for the access log.
 */
async function pump(
  body: ReadableStream<Uint8Array>,
  length: number,
  res: ServerResponse,
  conn: NodeConnection,
  status: number,
): Promise<void> {
  const reader = body.getReader();
  conn.reader = reader;
  let sent = 0;
  try {
    for (;;) {
      const step = await reader.read();
      if (conn.gone !== undefined) return;
      if (step.done) break;
      sent += step.value.byteLength;
      if (sent === length) {
        // The last byte the headers promise: end() sends it with the
        // headers in one write when it is also the first chunk. The stream
        // is still read to its end, which is what runs the app's close().
        res.end(step.value);
        break;
      }
      if (!res.write(step.value)) {
        await new Promise<void>((resolve) => {
          conn.wake = resolve;
          res.once("drain", resolve);
        });
        conn.wake = undefined;
        if (conn.gone !== undefined) return;
      }
    }
    if (sent !== length) res.end();
  } catch {
    if (conn.gone === undefined) reset(res);
    return;
  } finally {
    conn.log?.(status, sent);
  }
  // The whole body is sent; what follows is the app's own business (an
  // error raised after the last byte is the gateway's to log).
  try {
    while (!(await reader.read()).done);
  } catch {
    // Logged by the gateway to wsgi.errors.
  }
}

/** Sends a Fetch Response (the Fetch path's, and the gateway's own errors). */
function send(
  response: Response,
  res: ServerResponse,
  conn: NodeConnection,
  closing: boolean,
): void {
  if (conn.gone !== undefined) {
    response.body?.cancel().catch(() => {});
    return;
  }
  // While shutting down, no connection is kept for another request.
  if (closing) res.shouldKeepAlive = false;
  try {
    let headers = headersOf(response);
    const h2 = isH2(res);
    if (h2) {
      headers = headers.filter((_, i, all) =>
        i % 2 === 0 ? !H2_FORBIDDEN.has(all[i]) : !H2_FORBIDDEN.has(all[i - 1])
      );
    }
    const known = (response as unknown as Record<symbol, number | undefined>)[
      KNOWN_LENGTH
    ];
    // The gateway knows this body's length but left it to the runtime.
    if (known !== undefined) headers.push("content-length", `${known}`);
    res.writeHead(
      response.status,
      // HTTP/2 has no reason phrase.
      h2 ? undefined : response.statusText || undefined,
      headers,
    );
  } catch {
    response.body?.cancel().catch(() => {});
    plain(res, 500, "Internal Server Error");
    return;
  }
  const body = response.body;
  if (body === null) {
    res.end();
    conn.log?.(response.status, 0);
  } else pump(body, knownLength(response), res, conn, response.status);
}

/** Where the upgrader rides on the info object the handler gets. */
const UPGRADER = "websocket";

function isWebSocket(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return typeof upgrade === "string" && /\bwebsocket\b/i.test(upgrade);
}

function plainResponse(status: number, reason: string): Response {
  return new Response(`${status} ${reason}\n`, {
    status,
    statusText: reason,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * Sends an HTTP answer on a connection node:http has handed over (an
 * upgrade it did not take), then closes it: the body is streamed, its end
 * marked by Content-Length when known, else by the close.
 */
async function writeRaw(
  duplex: NodeDuplex,
  response: Response,
  head: boolean,
  reasons: Record<number, string | undefined>,
): Promise<void> {
  const reason = response.statusText || reasons[response.status] || "Unknown";
  const lines = [`HTTP/1.1 ${response.status} ${reason}`];
  const flat = headersOf(response);
  const known = (response as unknown as Record<symbol, number | undefined>)[
    KNOWN_LENGTH
  ];
  if (known !== undefined) flat.push("content-length", `${known}`);
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== "connection") lines.push(`${flat[i]}: ${flat[i + 1]}`);
  }
  lines.push("connection: close");
  duplex.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
  const body = response.body;
  if (body === null || head) {
    body?.cancel().catch(() => {});
    duplex.end();
    return;
  }
  let gone = false;
  duplex.once("close", () => gone = true);
  const reader = body.getReader();
  try {
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      if (gone) {
        await reader.cancel();
        return;
      }
      if (!duplex.write(step.value)) {
        await new Promise<void>((resolve) => {
          duplex.once("drain", resolve);
          duplex.once("close", resolve);
        });
      }
    }
    duplex.end();
  } catch {
    duplex.destroy();
  }
}

/** Starts a node:http server; settles once it is listening. */
export async function listen(options: ListenOptions): Promise<Listener> {
  const tls = options.tls;
  // Always loaded: its status phrases answer a refused upgrade.
  const http = builtin<NodeHttp>("node:http");
  const h2 = tls !== undefined && options.http2 === true;
  const https = tls === undefined || h2
    ? undefined
    : builtin<NodeHttps>("node:https");
  const http2 = h2 ? builtin<NodeHttp2>("node:http2") : undefined;
  // node:http2's server has no closeIdleConnections(): its HTTP/2 sessions
  // and its HTTP/1.1 connections (with the requests each has in flight)
  // are tracked here.
  const sessions = new Set<NodeSession>();
  const h1Sockets = new Map<NodeSocket, number>();
  const closeIdle = () => {
    if (!h2) return server.closeIdleConnections?.();
    for (const [socket, active] of h1Sockets) {
      if (active === 0) socket.destroy?.();
    }
  };
  let closing = false;
  let base = "";
  // node:http straight to the environ and back, when serve() offers it
  // (no Fetch-level wrapper such as a deadline needs the Request).
  const parts = options.parts;
  const accessLog = options.accessLog;
  const onParts = (
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
    conn: NodeConnection,
  ): void => {
    const protocol = "HTTP/" + req.httpVersion;
    const method = req.method ?? "GET";
    const start = Date.now();
    if (accessLog !== undefined) {
      conn.log = (status, bytes) =>
        accessLog({
          peer: req.socket.remoteAddress ?? "-",
          method,
          target: req.url ?? "",
          protocol,
          status,
          bytes: method === "HEAD" || status === 204 || status === 304
            ? 0
            : bytes,
          start,
          request: () => requestParts.request(),
        });
    }
    const requestParts = new NodeParts(req, res, expectsContinue, base, conn);
    const sink = new NodeSink(
      res,
      conn,
      closing || options.draining?.() === true,
    );
    try {
      const done = parts!(protocol)(requestParts, sink);
      if (isThenable(done)) {
        done.then(undefined, () => {
          if (conn.gone === undefined) plain(res, 500, "Internal Server Error");
        });
      }
    } catch {
      // The exchange answers the app's errors itself: this is node:http
      // refusing what it was given.
      if (conn.gone === undefined && !res.headersSent) {
        plain(res, 500, "Internal Server Error");
      }
    }
  };
  const onRequest = (
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
  ): void => {
    const conn = new NodeConnection();
    const tracked = h2 && !isH2(res) ? req.socket : undefined;
    if (tracked !== undefined) {
      h1Sockets.set(tracked, (h1Sockets.get(tracked) ?? 0) + 1);
    }
    res.on("close", () => {
      if (tracked !== undefined && h1Sockets.has(tracked)) {
        h1Sockets.set(tracked, h1Sockets.get(tracked)! - 1);
      }
      if (!res.writableFinished) conn.disconnect();
      // A connection whose response ended after shutdown() began is idle
      // now; node:http would otherwise keep it open until its client left.
      if (closing) closeIdle();
    });
    // llhttp ends a request line at a bare LF and calls what it got
    // HTTP/0.9, so "GET /a\nX-Evil: 1 HTTP/1.1" would smuggle a header in.
    // No client speaks 0.9 any more: refuse it.
    if (
      parts !== undefined && !isH2(res) && !req.httpVersion.startsWith("0.")
    ) {
      return onParts(req, res, expectsContinue, conn);
    }
    const request = conn.request = req.httpVersion.startsWith("0.")
      ? undefined
      : requestOf(req, res, base, expectsContinue);
    if (request === undefined) {
      res.shouldKeepAlive = false;
      plain(res, 400, "Bad Request");
      return;
    }
    const socket = req.socket;
    const info = {
      remoteAddr: {
        hostname: socket.remoteAddress,
        port: socket.remotePort,
        transport: "tcp",
      },
      localAddr: socket.localAddress === undefined
        ? undefined
        : { hostname: socket.localAddress, port: socket.localPort },
      target: req.url,
    };
    let response: Response | Promise<Response>;
    try {
      response = options.handler(
        req.httpVersion === "2.0" ? "HTTP/2" : "HTTP/" + req.httpVersion,
      )(request, info);
    } catch {
      plain(res, 500, "Internal Server Error");
      return;
    }
    if (isThenable(response)) {
      response.then(
        (value) => send(value, res, conn, closing),
        () => {
          if (conn.gone === undefined) {
            plain(res, 500, "Internal Server Error");
          }
        },
      );
    } else {
      send(response, res, conn, closing);
    }
  };
  // Open sockets, closed with 1001 by shutdown(): node:http's close() does
  // not know connections it handed over.
  const sockets = new Set<NodeUpgrade>();
  const onUpgrade = async (
    req: IncomingMessage,
    duplex: NodeDuplex,
    head: Uint8Array,
  ): Promise<void> => {
    duplex.on("error", () => {});
    if (closing) {
      duplex.destroy();
      return;
    }
    const ws = isWebSocket(req) ? await loadWs() : undefined;
    const upgrade = ws === undefined
      ? undefined
      : new NodeUpgrade(ws, req, duplex, head);
    let request: Request | undefined;
    try {
      const target = req.url ?? "";
      const headers = new Headers();
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        headers.append(raw[i], raw[i + 1]);
      }
      // An upgrade request with a body is not one tsgi takes.
      if (
        req.headers["transfer-encoding"] === undefined &&
        (req.headers["content-length"] ?? "0") === "0" &&
        !req.httpVersion.startsWith("0.")
      ) {
        request = new Request(base + (target.startsWith("/") ? target : "/"), {
          method: req.method ?? "GET",
          headers,
        });
      }
    } catch {
      // A URL, method or header the Fetch API refuses.
    }
    if (request === undefined) {
      writeRaw(
        duplex,
        plainResponse(400, "Bad Request"),
        false,
        http.STATUS_CODES,
      );
      return;
    }
    const info = {
      remoteAddr: {
        hostname: duplex.remoteAddress,
        port: duplex.remotePort,
        transport: "tcp",
      },
      localAddr: duplex.localAddress === undefined
        ? undefined
        : { hostname: duplex.localAddress, port: duplex.localPort },
      target: req.url,
      [UPGRADER]: upgrade?.upgrade,
    };
    let response: Response | undefined;
    try {
      response = await options.handler("HTTP/" + req.httpVersion)(
        request,
        info,
      );
    } catch {
      response = plainResponse(500, "Internal Server Error");
    }
    if (upgrade?.socket !== undefined) {
      sockets.add(upgrade);
      upgrade.socket.addEventListener("close", () => sockets.delete(upgrade));
      if (response === undefined) upgrade.opened();
      else {
        // The app accepted, then failed: the 101 is already out.
        response.body?.cancel().catch(() => {});
        upgrade.socket.terminate();
      }
      return;
    }
    writeRaw(
      duplex,
      response ?? plainResponse(500, "Internal Server Error"),
      request.method === "HEAD",
      http.STATUS_CODES,
    );
  };
  const listener: RequestListener = (req, res) => onRequest(req, res, false);
  const server = http2 !== undefined
    ? http2.createSecureServer(
      { cert: tls!.cert, key: tls!.key, allowHTTP1: true },
      listener,
    )
    : https === undefined
    ? http.createServer(listener)
    : https.createServer({ cert: tls!.cert, key: tls!.key }, listener);
  if (h2) {
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
      // A session that starts after shutdown() began ends with its streams.
      if (closing) session.close();
    });
    server.on("secureConnection", (socket) => {
      if (socket.alpnProtocol === "h2") return;
      h1Sockets.set(socket, 0);
      socket.once?.("close", () => h1Sockets.delete(socket));
    });
  }
  if (options.idleTimeout !== undefined) {
    if (h2) server.setTimeout?.(options.idleTimeout * 1000);
    else server.keepAliveTimeout = options.idleTimeout * 1000;
  }
  server.on("upgrade", onUpgrade);
  // Without this listener node:http sends 100 Continue before the app runs,
  // even to a request the gateway refuses unread.
  server.on("checkContinue", (req, res) => onRequest(req, res, true));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listening = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.path === undefined) {
      server.listen(options.port, options.hostname, listening);
    } else server.listen(options.path, listening);
  });
  const address = server.address();
  const bound = typeof address === "object" && address !== null
    ? address
    : { address: "", port: 0 };
  const scheme = tls === undefined ? "http://" : "https://";
  base = options.path !== undefined ? scheme + "localhost" : scheme +
    (bound.address.includes(":") ? `[${bound.address}]` : bound.address) +
    ":" + bound.port;
  const path = options.path;
  const finished = new Promise<void>((resolve) =>
    server.once("close", resolve)
  );
  const env = (globalThis as {
    process?: { env?: Record<string, string | undefined> };
  }).process?.env;
  // A node:cluster worker's socket belongs to the primary and the other
  // workers: it stays.
  if (path !== undefined && env?.NODE_UNIQUE_ID === undefined) {
    // node:net leaves the socket file behind; the next listen() would fail.
    const fs = builtin<NodeFs>("node:fs");
    finished.then(() => {
      try {
        fs.unlinkSync(path);
      } catch {
        // Already gone.
      }
    });
  }
  return {
    hostname: bound.address,
    port: bound.port,
    ...(path === undefined ? {} : { path }),
    finished,
    abort() {
      server.closeAllConnections?.();
      for (const session of sessions) session.destroy();
      for (const socket of h1Sockets.keys()) socket.destroy?.();
    },
    ...(server.setSecureContext === undefined ? {} : {
      setTls(files: { cert: string; key: string }) {
        server.setSecureContext!({ cert: files.cert, key: files.key });
      },
    }),
    shutdown() {
      closing = true;
      // close() stops listening and, since Node 19, drops idle keep-alive
      // connections; connections with a request in flight are closed as
      // their responses end (see the "close" listener above).
      server.close();
      // HTTP/2: GOAWAY; the streams in flight run to their end.
      for (const session of sessions) session.close();
      closeIdle();
      for (const upgrade of sockets) upgrade.goingAway();
      return finished;
    },
  };
}
