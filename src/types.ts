/**
 * The tsgi contract: PEP 3333 for TypeScript.
 *
 * Every type an application, a server or a middleware needs to speak tsgi.
 * SPEC.md is the prose version of this file; the two state the same rules.
 *
 * @module
 */

/**
 * One response header: a `[name, value]` pair of native strings.
 *
 * Names are HTTP tokens without a trailing colon; values hold no control
 * character other than TAB and only code points U+0000–U+00FF (PEP 3333's
 * latin-1 rule). A list may name a header more than once (`Set-Cookie`).
 *
 * @example A header list
 * ```ts
 * import type { Header } from "@tsgi/tsgi";
 * const headers: Header[] = [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"]];
 * ```
 */
export type Header = [name: string, value: string];

/**
 * The `wsgi.input` stream: the request body, read asynchronously.
 *
 * PEP 3333's `read`, `readline`, `readlines` and iteration, each returning a
 * Promise because a Fetch body arrives asynchronously. Reads never return
 * more bytes than asked for, and an empty or spent body answers an empty
 * `Uint8Array` at once. Iterating with `for await` yields lines.
 *
 * @example Read a body in 64 KiB pieces
 * ```ts
 * import type { InputStream } from "@tsgi/tsgi";
 * async function count(input: InputStream): Promise<number> {
 *   let total = 0;
 *   for (let chunk = await input.read(65536); chunk.length; chunk = await input.read(65536)) {
 *     total += chunk.length;
 *   }
 *   return total;
 * }
 * ```
 */
export interface InputStream extends AsyncIterable<Uint8Array> {
  /** Reads at most `size` bytes; with no size (or a negative one), the rest of the body. */
  read(size?: number | null): Promise<Uint8Array>;
  /** Reads up to and including the next `\n`, or at most `size` bytes. */
  readline(size?: number | null): Promise<Uint8Array>;
  /** Reads the remaining lines; stops after the line that brings the total past `hint`. */
  readlines(hint?: number | null): Promise<Uint8Array[]>;
}

/**
 * The `wsgi.errors` stream: a text stream for the application's log output.
 *
 * @example Log a line
 * ```ts
 * import type { ErrorStream } from "@tsgi/tsgi";
 * function warn(errors: ErrorStream, message: string): void {
 *   errors.write(message + "\n");
 *   errors.flush();
 * }
 * ```
 */
export interface ErrorStream {
  /** Writes text; `\n` ends a line. */
  write(text: string): void;
  /** Writes each string of `lines` as `write` would. */
  writelines(lines: Iterable<string>): void;
  /** Passes on any text still held back; may do nothing. */
  flush(): void;
}

/**
 * The `environ` of one request: CGI variables, `wsgi.*` keys, and
 * extension keys, as a plain mutable object.
 *
 * CGI values are native strings (code points U+0000–U+00FF). Keys the
 * request does not have are absent, not empty. See SPEC.md, "environ".
 *
 * @example Read the method and a header
 * ```ts
 * import type { Environ } from "@tsgi/tsgi";
 * function describe(environ: Environ): string {
 *   return `${environ.REQUEST_METHOD} from ${environ.HTTP_USER_AGENT ?? "unknown"}`;
 * }
 * ```
 */
export interface Environ<Env = unknown> {
  /** The request method, never empty: `"GET"`, `"POST"`, … */
  REQUEST_METHOD: string;
  /** The mount prefix of the application; `""` at the server root. */
  SCRIPT_NAME: string;
  /** The rest of the path, percent-decoded, one char per octet (latin-1). */
  PATH_INFO: string;
  /** The raw query string after `?`, without the `?`; always present. */
  QUERY_STRING: string;
  /** The request `Content-Type`, when the request has one. */
  CONTENT_TYPE?: string;
  /** The request `Content-Length`, when the request has one. */
  CONTENT_LENGTH?: string;
  /** The host name the request was addressed to. */
  SERVER_NAME: string;
  /** The port, as a string; defaults by scheme (`"80"`, `"443"`). */
  SERVER_PORT: string;
  /** The protocol, such as `"HTTP/1.1"`. */
  SERVER_PROTOCOL: string;
  /** The request target as received: path and query, still percent-encoded. */
  REQUEST_URI: string;
  /** The peer's address, when the runtime tells it. */
  REMOTE_ADDR?: string;
  /** The peer's port, when the runtime tells it. */
  REMOTE_PORT?: string;
  /** Always `"CGI/1.1"`. */
  GATEWAY_INTERFACE: string;
  /** The server's name and version, such as `"tsgi/0.1.0"`. */
  SERVER_SOFTWARE: string;
  /** Always `[1, 0]`. */
  "wsgi.version": readonly [1, 0];
  /** `"http"` or `"https"`. */
  "wsgi.url_scheme": "http" | "https";
  /** The request body. */
  "wsgi.input": InputStream;
  /** The error log stream. */
  "wsgi.errors": ErrorStream;
  /** True when the application may be called again before a call returns. */
  "wsgi.multithread": boolean;
  /** True when copies of the application may run in other processes. */
  "wsgi.multiprocess": boolean;
  /** True only when the server expects to call the application once (CGI). */
  "wsgi.run_once": boolean;
  /** True: `wsgi.input` ends where the body ends, so reading to the end is safe. */
  "wsgi.input_terminated"?: boolean;
  /** Wraps a file-like source so the server may send it its own way. */
  "wsgi.file_wrapper"?: FileWrapperFactory;
  /** The original Fetch `Request` (tsgi extension). */
  "tsgi.request"?: Request;
  /** The extra arguments the runtime passed to the fetch handler (tsgi extension). */
  "tsgi.runtime_args"?: readonly unknown[];
  /** On Workers, the bindings (`env`); type them with `App<Env>`. */
  "tsgi.env"?: Env;
  /** On Workers, the execution context (`ctx`). */
  "tsgi.ctx"?: WorkersContext;
  /** The values a router took from the path (the wsgiorg routing_args specification). */
  "wsgiorg.routing_args"?: [
    positional: string[],
    named: Record<string, string>,
  ];
  /**
   * Present only on a WebSocket upgrade request the server can take: the
   * app calls its `accept()` and returns an empty iterable without calling
   * `startResponse` (tsgi extension; see SPEC.md, WebSocket).
   */
  "tsgi.websocket"?: WebSocketUpgrade;
  /** A request header, such as `HTTP_USER_AGENT`; absent when not sent. */
  [key: `HTTP_${string}`]: string | undefined;
  /** Any other key a server or middleware adds. */
  [key: string]: unknown;
}

/**
 * The part of a Workers `ExecutionContext` tsgi apps use, found as
 * `environ["tsgi.ctx"]`.
 *
 * @example Defer work past the response
 * ```ts
 * import type { WorkersContext } from "@tsgi/tsgi";
 * function later(ctx: WorkersContext, work: Promise<unknown>): void {
 *   ctx.waitUntil(work);
 * }
 * ```
 */
export interface WorkersContext {
  /** Keeps the Worker alive until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void;
  /** Lets the request go on to the origin if the Worker throws. */
  passThroughOnException?(): void;
}

/**
 * The environ of an {@linkcode App} declared with the bindings type `Env`:
 * `tsgi.env` and `tsgi.ctx` are present, as they are on Workers.
 *
 * @example
 * ```ts
 * import type { EnvironOf } from "@tsgi/tsgi";
 * function greeting(environ: EnvironOf<{ GREETING: string }>): string {
 *   return environ["tsgi.env"].GREETING;
 * }
 * ```
 */
export type EnvironOf<Env> = unknown extends Env ? Environ
  : Environ<Env> & { "tsgi.env": Env; "tsgi.ctx": WorkersContext };

/**
 * The write callable returned by `start_response`: PEP 3333's imperative
 * body API, kept for legacy apps.
 *
 * Bytes are sent, or queued for sending, before it returns. The Promise it
 * returns settles when the queue has room again; awaiting it is optional
 * and gives backpressure.
 *
 * @example Write a chunk
 * ```ts
 * import type { Write } from "@tsgi/tsgi";
 * async function hello(write: Write): Promise<void> {
 *   await write(new TextEncoder().encode("hello"));
 * }
 * ```
 */
export type Write = (chunk: Uint8Array) => Promise<void>;

/**
 * `start_response(status, headers, excInfo?)`: records the status line and
 * headers of the response and returns {@linkcode Write}.
 *
 * Nothing is sent from inside it. A second call throws unless `excInfo` is
 * given; with `excInfo`, the stored status and headers are replaced while
 * nothing has been sent yet, and `excInfo` is rethrown once something has.
 *
 * @example Start a plain-text response
 * ```ts
 * import type { StartResponse } from "@tsgi/tsgi";
 * function ok(startResponse: StartResponse): void {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 * }
 * ```
 */
export type StartResponse = (
  status: string,
  headers: Header[],
  excInfo?: unknown,
) => Write;

/**
 * Anything whose `close()` the server must call when the request ends.
 *
 * @example A result with a close hook
 * ```ts
 * import type { Closable } from "@tsgi/tsgi";
 * const result: Iterable<Uint8Array> & Closable = {
 *   *[Symbol.iterator]() { yield new Uint8Array([104, 105]); },
 *   close() { console.log("request over"); },
 * };
 * ```
 */
export interface Closable {
  /** Releases what the result holds; called exactly once by the server. */
  close?(): void | Promise<void>;
}

/**
 * What an application returns: an iterable or async iterable of
 * `Uint8Array` chunks (an array, a generator, an async generator, …),
 * optionally with `close()`.
 *
 * @example A generator result
 * ```ts
 * import type { AppIterable } from "@tsgi/tsgi";
 * function* body(): Generator<Uint8Array> {
 *   yield new TextEncoder().encode("chunk");
 * }
 * const result: AppIterable = body();
 * ```
 */
export type AppIterable =
  & (Iterable<Uint8Array> | AsyncIterable<Uint8Array>)
  & Closable;

/**
 * A tsgi application: `app(environ, startResponse)`, returning its body as
 * an {@linkcode AppIterable} or a Promise of one.
 *
 * @typeParam Env The type of the Workers bindings, `environ["tsgi.env"]`.
 *   Given, the app's environ has `tsgi.env` and `tsgi.ctx` (a promise the
 *   app makes: they are there when it runs on Workers).
 *
 * @example Hello world
 * ```ts
 * import type { App } from "@tsgi/tsgi";
 * const app: App = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!\n")];
 * };
 * ```
 *
 * @example Typed Workers bindings
 * ```ts
 * import type { App } from "@tsgi/tsgi";
 * const app: App<{ GREETING: string }> = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(environ["tsgi.env"].GREETING)];
 * };
 * ```
 */
// The default is `any`, not `unknown`, so that an App<Env> still passes
// where an App is expected (toFetchHandler, middleware): `any` meets any
// Env. The environ of a plain App is still the plain Environ.
// deno-lint-ignore no-explicit-any
export type App<Env = any> = {
  // A method, for its bivariant parameters, on the same account.
  app(
    environ: EnvironOf<Env>,
    startResponse: StartResponse,
  ): AppIterable | Promise<AppIterable>;
}["app"];

/**
 * A source `wsgi.file_wrapper` can hand to the Response directly.
 *
 * `read` is the PEP's file-like fallback: anything with an async or sync
 * `read(size)` that returns an empty chunk at the end.
 *
 * @example The sources
 * ```ts
 * import type { FileLike } from "@tsgi/tsgi";
 * const fromBlob: FileLike = new Blob(["hi"]);
 * ```
 */
export type FileLike =
  | Blob
  | ReadableStream<Uint8Array>
  | {
    read(size: number): Uint8Array | Promise<Uint8Array>;
    close?(): void | Promise<void>;
  };

/**
 * The type of `environ["wsgi.file_wrapper"]`.
 *
 * @example Send a Blob
 * ```ts
 * import type { App } from "@tsgi/tsgi";
 * const app: App = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return environ["wsgi.file_wrapper"]!(new Blob(["hello"]));
 * };
 * ```
 */
export type FileWrapperFactory = (
  file: FileLike,
  blockSize?: number,
) => AppIterable;

/**
 * A Fetch handler as Deno, Bun, Workers and tsgi's Node server call it.
 *
 * It answers with a `Response` directly when the application finished
 * synchronously, and with a Promise of one otherwise; `await` takes both.
 *
 * @example Serve with Deno
 * ```ts ignore
 * import { toFetchHandler } from "@tsgi/tsgi";
 * import type { FetchHandler } from "@tsgi/tsgi";
 * declare const app: import("@tsgi/tsgi").App;
 * const handler: FetchHandler = toFetchHandler(app);
 * Deno.serve(handler);
 * ```
 */
export type FetchHandler = (
  request: Request,
  ...runtimeArgs: unknown[]
) => Response | Promise<Response>;

/**
 * The peer address a runtime reports for a request.
 *
 * @example
 * ```ts
 * import type { RemoteAddress } from "@tsgi/tsgi";
 * const peer: RemoteAddress = { address: "127.0.0.1", port: 50312 };
 * ```
 */
export interface RemoteAddress {
  /** The peer's IP address. */
  address: string;
  /** The peer's port, when known. */
  port?: number;
}

/**
 * Options of {@linkcode toFetchHandler}.
 *
 * @example All options
 * ```ts
 * import type { GatewayOptions } from "@tsgi/tsgi";
 * const options: GatewayOptions = {
 *   scriptName: "/app",
 *   maxBodySize: 10 * 1024 * 1024,
 *   debug: false,
 *   errors: (text) => console.error(text.trimEnd()),
 *   extraEnviron: { "myserver.name": "front" },
 * };
 * ```
 */
export interface GatewayOptions {
  /**
   * The mount prefix given to the app as `SCRIPT_NAME`. When the path starts
   * with it (at a segment boundary) it is moved out of `PATH_INFO`.
   *
   * @default {""}
   */
  scriptName?: string;
  /**
   * The largest request body, in bytes, the app may read. A larger declared
   * `Content-Length` is answered 413 without calling the app; a longer
   * streamed body makes `wsgi.input` throw, which becomes a 413 when nothing
   * has been sent.
   *
   * @default {Infinity}
   */
  maxBodySize?: number;
  /**
   * Show the error and its stack in 500 responses. Never turn on in production.
   *
   * @default {false}
   */
  debug?: boolean;
  /**
   * Where `wsgi.errors` text goes, one call per write. By default, complete
   * lines go to `console.error`.
   */
  errors?: (text: string) => void;
  /**
   * `wsgi.multithread`: whether the app may be entered again while a call is
   * still running. True for an event loop serving concurrent requests.
   *
   * @default {true}
   */
  multithread?: boolean;
  /**
   * `wsgi.multiprocess`.
   *
   * @default {false}
   */
  multiprocess?: boolean;
  /**
   * `SERVER_PROTOCOL`, which the Fetch API does not reveal.
   *
   * @default {"HTTP/1.1"}
   */
  serverProtocol?: string;
  /**
   * Finds the peer's address from the runtime's arguments. By default Deno's
   * handler info, Bun's `server.requestIP`, tsgi's Node server and Workers'
   * `CF-Connecting-IP` header are recognised.
   */
  remoteAddress?: (
    request: Request,
    runtimeArgs: readonly unknown[],
  ) => RemoteAddress | undefined;
  /** Keys added to every environ (PEP 3333 "Application Configuration"). */
  extraEnviron?: Record<string, unknown>;
  /**
   * `wsgi.url_scheme`: the scheme of the listener the requests come in on.
   * It is never taken from the request, where a client over plain TCP can
   * claim `https` (an absolute-form target, HTTP/2's `:scheme`). `serve()`
   * sets it from its own listener; pass `"https"` when handing the handler
   * to a TLS server yourself (`Deno.serve({ cert, key }, …)`), or use
   * `proxyFix` behind a proxy you trust. By default `"http"`, except on
   * Workers, where the platform builds the URL and its scheme is taken.
   *
   * @default {"http"}
   */
  urlScheme?: "http" | "https";
  /**
   * Let CONNECT requests reach the app. A WSGI app cannot open a tunnel, so
   * by default they are answered 501 without calling it.
   *
   * @default {false}
   */
  allowConnect?: boolean;
  /**
   * How the runtime takes a WebSocket upgrade: given the request and the
   * runtime's arguments, the function that accepts it, or undefined when
   * this request cannot be upgraded here. `serve()` sets it on Deno, Bun
   * and Node; on Workers `WebSocketPair` is used without it. Pass
   * `denoWebSocket` from `@tsgi/tsgi/serve` when handing the handler to
   * `Deno.serve` yourself.
   */
  websocket?: WebSocketRuntime;
}

/**
 * Options of {@linkcode WebSocketUpgrade.accept}.
 *
 * @example Accept the "chat" subprotocol, messages up to 64 KiB
 * ```ts
 * import type { WebSocketAcceptOptions } from "@tsgi/tsgi";
 * const options: WebSocketAcceptOptions = {
 *   protocol: "chat",
 *   maxMessageSize: 65536,
 * };
 * ```
 */
export interface WebSocketAcceptOptions {
  /**
   * The subprotocol to answer with; it must be one the client offered (see
   * {@linkcode WebSocketUpgrade.protocols}).
   */
  protocol?: string;
  /**
   * The largest message, in bytes, the peer may send; a larger one closes
   * the socket with 1009 (Message Too Big).
   *
   * @default {16777216}
   */
  maxMessageSize?: number;
}

/**
 * The `close` event of a {@linkcode WebSocketLike}: the WHATWG `CloseEvent`'s
 * members, declared here so that the types need no DOM library (Node's
 * types have no `CloseEvent`).
 *
 * @example Log why a socket closed
 * ```ts
 * import type { WebSocketCloseEvent } from "@tsgi/tsgi";
 * const onclose = (event: WebSocketCloseEvent) =>
 *   console.log(`closed ${event.code} ${event.reason}`);
 * ```
 */
export interface WebSocketCloseEvent extends Event {
  /** The close code: 1000 normal, 1001 going away, 1006 the peer vanished, … */
  readonly code: number;
  /** The reason the closing side gave, or `""`. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
}

/**
 * A WebSocket as the app sees it: the WHATWG `WebSocket` interface, on the
 * server side of the connection. On Deno and Workers it is the runtime's
 * own object; on Bun and Node an object with the same members.
 *
 * @example Echo every message
 * ```ts
 * import type { WebSocketLike } from "@tsgi/tsgi";
 * function echo(socket: WebSocketLike): void {
 *   socket.onmessage = (event) => socket.send(event.data);
 * }
 * ```
 */
export interface WebSocketLike extends EventTarget {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The subprotocol agreed on, or `""`. */
  readonly protocol: string;
  /** The extensions agreed on, or `""`. */
  readonly extensions?: string;
  /** How binary messages arrive: `"arraybuffer"` (the default here) or `"blob"`. */
  binaryType: string;
  /** Bytes queued by `send()` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Sends a text (string) or binary message. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  /** Starts the closing handshake with `code` (1000, 3000-4999) and `reason`. */
  close(code?: number, reason?: string): void;
  /** Called once the socket is open. */
  onopen: ((event: Event) => void) | null;
  /** Called for each message; `event.data` is a string or an ArrayBuffer. */
  onmessage: ((event: MessageEvent) => void) | null;
  /** Called once when the socket is closed, however it ended. */
  onclose: ((event: WebSocketCloseEvent) => void) | null;
  /** Called when the connection failed; `close` follows. */
  onerror: ((event: Event) => void) | null;
}

/**
 * `environ["tsgi.websocket"]`: a WebSocket upgrade the app may accept.
 *
 * @example A WebSocket echo app that answers plain HTTP otherwise
 * ```ts
 * import type { App } from "@tsgi/tsgi";
 * const app: App = (environ, startResponse) => {
 *   const upgrade = environ["tsgi.websocket"];
 *   if (upgrade === undefined) {
 *     startResponse("426 Upgrade Required", [["Content-Type", "text/plain"]]);
 *     return [];
 *   }
 *   const socket = upgrade.accept();
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return [];
 * };
 * ```
 */
export interface WebSocketUpgrade {
  /** The subprotocols the client offered, in its order. */
  readonly protocols: readonly string[];
  /**
   * Accepts the upgrade: the gateway answers `101 Switching Protocols` once
   * the app returns (an empty iterable, without calling `start_response`).
   * Callable once.
   *
   * @param options The subprotocol and the largest message.
   * @returns The server side of the WebSocket; it opens after the app returns.
   */
  accept(options?: WebSocketAcceptOptions): WebSocketLike;
  /**
   * Hands the gateway an upgrade answered with the runtime's own API (what
   * `fromFetchHandler` does for a mounted Fetch handler that upgraded the
   * request itself): the gateway returns `response` once the app returns
   * an empty iterable without calling `start_response`. Callable once,
   * instead of `accept()`.
   *
   * @param response The handler's 101 Response (Deno, Workers), or
   *   undefined where the runtime answered the upgrade itself (Bun).
   */
  respondWith(response: Response | undefined): void;
}

/**
 * What a runtime's upgrade gives the gateway: the socket, and the Response
 * to answer with (`undefined` where the runtime answers the upgrade itself,
 * as Bun and tsgi's Node server do).
 *
 * @example Deno's upgrade has this shape
 * ```ts
 * import type { WebSocketAccepted } from "@tsgi/tsgi";
 * function isOpen(accepted: WebSocketAccepted): boolean {
 *   return accepted.socket.readyState === 1;
 * }
 * ```
 */
export interface WebSocketAccepted {
  /** The server side of the WebSocket. */
  socket: WebSocketLike;
  /** The 101 answer, or undefined when the runtime sends it itself. */
  response: Response | undefined;
  /**
   * Called once the app has returned and the answer is handed over: a
   * socket the runtime opened during `accept()` (Bun) holds its events
   * until then, so handlers set after `accept()` miss none.
   */
  ready?: () => void;
}

/**
 * {@linkcode GatewayOptions.websocket}: for one request, the function that
 * upgrades it, or undefined when the runtime cannot.
 *
 * @example A runtime that never upgrades
 * ```ts
 * import type { WebSocketRuntime } from "@tsgi/tsgi";
 * const none: WebSocketRuntime = () => undefined;
 * ```
 */
export type WebSocketRuntime = (
  request: Request,
  runtimeArgs: readonly unknown[],
) =>
  | ((
    options: { protocol?: string; maxMessageSize: number },
  ) => WebSocketAccepted)
  | undefined;
