/**
 * `serve()`: tsgi's `make_server`. One call starts a real HTTP server for a
 * tsgi app on Deno (`Deno.serve`), Bun (`Bun.serve`) or Node (`node:http`),
 * prints wsgiref's access log, and shuts down gracefully.
 *
 * @module
 */

import {
  type Adapter,
  type Listener,
  type PartsAccess,
  type TlsFiles,
  urlOf,
} from "./_adapter.ts";
import {
  accessLine,
  type AccessRecord,
  type AccessSink,
  peerOf,
  stderr,
  StderrLog,
  upgradePeers,
  withAccessLog,
} from "./_access_log.ts";

export type { AccessRecord, AccessSink };
import { type TimeoutReport, withDeadline, withSignal } from "./_deadline.ts";
import { type RequestLimits, withLimits } from "./_limits.ts";

export type { RequestLimits, TimeoutReport };
import { toFetchHandler } from "../gateway/to_fetch_handler.ts";
import {
  type PartsHandler,
  toPartsHandler,
} from "../gateway/_parts_handler.ts";
import type {
  App,
  FetchHandler,
  GatewayOptions,
  WebSocketRuntime,
} from "../types.ts";

export { denoWebSocket } from "./_deno_websocket.ts";

/**
 * Where a server listens.
 *
 * @example Print the address
 * ```ts
 * import type { ServerAddress } from "@tsgi/tsgi/serve";
 * const onListen = ({ url }: ServerAddress) => console.log(`Serving on ${url}`);
 * ```
 */
export interface ServerAddress {
  /** The bound address, such as `"127.0.0.1"`; `""` on a Unix socket. */
  readonly hostname: string;
  /** The bound port: the one the system chose when 0 was asked for. */
  readonly port: number;
  /** The Unix socket's path, when the server listens on one. */
  readonly path?: string;
  /**
   * The server's base URL, such as `"http://127.0.0.1:8000/"` or
   * `"https://…"` with a certificate; `"http+unix://%2Ftmp%2Fapp.sock/"`
   * on a Unix socket.
   */
  readonly url: string;
}

/**
 * A certificate and its private key, both PEM text (not file names).
 *
 * @example Read them from files
 * ```ts ignore
 * import type { TlsOptions } from "@tsgi/tsgi/serve";
 * const tls: TlsOptions = {
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 * };
 * ```
 */
export interface TlsOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/**
 * Options of {@linkcode serve}: where to listen, how to log, and the
 * {@linkcode GatewayOptions} handed to `toFetchHandler`.
 *
 * @example Every serve option
 * ```ts
 * import type { ServeOptions } from "@tsgi/tsgi/serve";
 * const options: ServeOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   signal: AbortSignal.timeout(60_000),
 *   onListen: ({ url }) => console.log(`Serving on ${url}`),
 *   accessLog: (line) => console.log(line),
 *   idleTimeout: 60,
 *   requestTimeout: 30,
 *   onRequestTimeout: (request) => console.warn(`Too slow: ${request.url}`),
 *   limits: { requestLine: 4094, fields: 100, fieldSize: 8190 },
 *   maxBodySize: 1024 * 1024,
 * };
 * ```
 */
export interface ServeOptions extends GatewayOptions {
  /**
   * The address to listen on; `"0.0.0.0"` or `"::"` for every interface.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port to listen on; 0 lets the system choose a free one.
   *
   * @default {8000}
   */
  port?: number;
  /**
   * A Unix domain socket to listen on instead of `hostname` and `port`.
   * The file is removed when the server closes.
   */
  path?: string;
  /**
   * Serve HTTPS with this certificate. Deno then also offers HTTP/2 (by
   * ALPN); Bun and Node serve HTTP/1.1 over TLS. The gateway's
   * `urlScheme` becomes `"https"`.
   */
  tls?: TlsOptions;
  /**
   * On Node, with `tls`: serve with `node:http2`, which offers HTTP/2 and
   * HTTP/1.1 by ALPN (`SERVER_PROTOCOL` `"HTTP/2"`), instead of
   * `node:https`. Deno always offers HTTP/2 with `tls`; Bun does not.
   *
   * @default {false}
   */
  http2?: boolean;
  /**
   * Seconds a keep-alive connection may stay idle: Bun's `idleTimeout`
   * (whose default, 10, cuts a quiet event stream; above 255 means never)
   * and Node's `keepAliveTimeout` (default 5). Deno has no such setting and
   * keeps idle connections until the client closes them.
   */
  idleTimeout?: number;
  /**
   * Seconds each request may take. When they pass, the request's signal
   * aborts (`environ["tsgi.signal"]`, also aborted when the client leaves),
   * a response not yet begun is answered 504, and a body still streaming
   * is cut (the connection is reset). Other requests are not affected.
   */
  requestTimeout?: number;
  /** Told of each request that ran past `requestTimeout`. */
  onRequestTimeout?: TimeoutReport;
  /**
   * gunicorn's request limits: a longer request line is answered 414, more
   * header fields or a larger one 431, before the app runs. The runtime's
   * own limits answer first where they are lower.
   */
  limits?: RequestLimits;
  /** Aborting it shuts the server down gracefully, as `shutdown()` does. */
  signal?: AbortSignal;
  /**
   * Called once the server listens. By default it prints
   * `Listening on <url>` to stderr.
   */
  onListen?: (address: ServerAddress) => void;
  /**
   * The access log: one line per request in wsgiref's format,
   * `127.0.0.1 - - [21/Nov/2026 20:48:03] "GET / HTTP/1.1" 200 11`
   * (the size is the body bytes sent, `-` for none). `true` writes it to
   * stderr, `false` turns it off, and a function receives each line
   * without its newline, and the {@linkcode AccessRecord} it was made
   * from (for JSON logs and metrics).
   *
   * @default {true}
   */
  accessLog?: boolean | AccessSink;
  /**
   * Let other processes listen on the same port (SO_REUSEPORT), so that
   * several processes share the connections; Deno and Bun, on Linux. On
   * Deno it needs `--unstable-net`. Node shares a port through
   * `node:cluster` instead and ignores it.
   *
   * @default {false}
   */
  reusePort?: boolean;
}

/**
 * A running server, returned by {@linkcode serve}. Where the runtime has
 * `await using` (Deno, Bun, Node 24 and later), it shuts the server down at
 * the end of the scope; elsewhere call `shutdown()`.
 *
 * @example Shut down at the end of a scope
 * ```ts ignore
 * import { serve } from "@tsgi/tsgi/serve";
 * import type { App } from "@tsgi/tsgi";
 * declare const app: App;
 * await using server = await serve(app, { port: 0 });
 * console.log(await (await fetch(server.url)).text());
 * ```
 */
export interface Server extends ServerAddress {
  /** Settles when the server has closed and every connection has ended. */
  readonly finished: Promise<void>;
  /**
   * Shuts down gracefully: new connections are refused at once, requests
   * in flight run to their end, then the server closes. Settles as
   * `finished` does; calling it again returns the same Promise.
   */
  shutdown(): Promise<void>;
  /**
   * Stops keeping connections alive: every response from now on carries
   * `Connection: close`, so clients leave on their own and a later
   * `shutdown()` finds no idle connection that a client is about to reuse.
   * For handing over to another process without a failed request.
   */
  drain(): void;
  /**
   * Closes every connection now, requests in flight included (after
   * `shutdown()`, when its grace period is over). Node and Bun; elsewhere
   * it does nothing, and exiting the process does it.
   */
  abort(): void;
  /**
   * Serves new connections with another certificate while open ones keep
   * theirs. Node only (`setSecureContext`); throws a TypeError on Deno and
   * Bun, whose servers cannot change certificate (start a new process).
   */
  updateTls(tls: TlsOptions): void;
  /** Calls `shutdown()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface RuntimeGlobals {
  Deno?: unknown;
  Bun?: unknown;
  process?: { versions?: { node?: string } };
  navigator?: { userAgent?: string };
}

/** The adapter for the running runtime, loaded on demand. */
function loadAdapter(): Promise<Adapter> {
  const g = globalThis as RuntimeGlobals;
  if (g.navigator?.userAgent === "Cloudflare-Workers") {
    throw new Error(
      "Cannot serve() on Cloudflare Workers: export { fetch: toFetchHandler(app) } as the default export instead",
    );
  }
  if (typeof g.Deno === "object") return import("./_deno.ts");
  if (typeof g.Bun === "object") return import("./_bun.ts");
  if (typeof g.process?.versions?.node === "string") {
    return import("./_node.ts");
  }
  throw new Error(
    "Cannot serve() on this runtime: expected Deno, Bun or Node; pass toFetchHandler(app) to its server instead",
  );
}

/** Says `Connection: close` on every response once `draining()`. */
function withDrain(
  handler: FetchHandler,
  draining: () => boolean,
): FetchHandler {
  const close = (response: Response): Response => {
    try {
      response.headers.set("connection", "close");
      return response;
    } catch {
      // Immutable headers (a Response from fetch()): a copy that has it.
      const headers = new Headers(response.headers);
      headers.set("connection", "close");
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    }
  };
  return function drainingHandler(request, ...args) {
    const result = handler(request, ...args);
    if (!draining()) return result;
    if (result instanceof Response) return close(result);
    // A WebSocket the runtime answers itself returns nothing.
    if (result === undefined) return result;
    return result.then((response) =>
      response === undefined ? response : close(response)
    );
  };
}

/**
 * Serves a tsgi application over HTTP: wsgiref's `make_server` and
 * `serve_forever` in one call, on Deno, Bun or Node.
 *
 * It listens on `127.0.0.1:8000` unless told otherwise, logs each request
 * to stderr in wsgiref's format, and returns once the server is listening.
 * On Node, the request body streams in and the response streams out with
 * backpressure, and a client that disconnects cancels the response, which
 * runs the app's `close()`.
 *
 * @param app The application.
 * @param options Where to listen, logging, and gateway options.
 * @returns The running server: its address, `finished`, and `shutdown()`.
 *
 * @example Serve hello world on an ephemeral port
 * ```ts
 * import { serve } from "@tsgi/tsgi/serve";
 * const server = await serve((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!\n")];
 * }, { port: 0, onListen: () => {}, accessLog: false });
 * console.log(await (await fetch(server.url)).text()); // "Hello world!\n"
 * await server.shutdown();
 * ```
 */
export async function serve(
  app: App,
  options: ServeOptions = {},
): Promise<Server> {
  const {
    hostname = "127.0.0.1",
    port = 8000,
    signal,
    onListen,
    accessLog = true,
    reusePort = false,
    path,
    tls,
    http2,
    idleTimeout,
    requestTimeout,
    onRequestTimeout,
    limits,
    ...rest
  } = options;
  const gateway: GatewayOptions = tls === undefined
    ? rest
    : { urlScheme: "https", ...rest };
  for (
    const [name, value] of [["idleTimeout", idleTimeout], [
      "requestTimeout",
      requestTimeout,
    ]] as const
  ) {
    if (value !== undefined && !(value > 0 && value < 2 ** 31 / 1000)) {
      throw new RangeError(
        `Cannot use ${name} ${value}: expected a number of seconds above 0`,
      );
    }
  }
  if (
    tls !== undefined &&
    (typeof tls?.cert !== "string" || typeof tls?.key !== "string")
  ) {
    throw new TypeError(
      "Cannot use tls: expected { cert, key } as PEM strings (read the files first)",
    );
  }
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw new TypeError(
      `Cannot listen on path ${JSON.stringify(path)}: expected a file path`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot listen on port ${port}: expected an integer from 0 to 65535`,
    );
  }
  if (typeof accessLog !== "boolean" && typeof accessLog !== "function") {
    throw new TypeError(
      `Cannot use accessLog ${typeof accessLog}: expected a boolean or a function`,
    );
  }
  const log = accessLog === true ? new StderrLog() : undefined;
  const sink = typeof accessLog === "function" ? accessLog : log?.line;
  // The adapter's upgrade, known once it is loaded; the app may pass its own.
  const runtime: { websocket?: WebSocketRuntime } = {};
  const upgrade: WebSocketRuntime = gateway.websocket ??
    ((request, args) => runtime.websocket?.(request, args));
  const websocket: WebSocketRuntime = sink === undefined
    ? upgrade
    : (request, args) => {
      upgradePeers.set(request, peerOf(request, args));
      return upgrade(request, args);
    };
  const handlers = new Map<string, FetchHandler>();
  let draining = false;
  const handler = (protocol = "HTTP/1.1"): FetchHandler => {
    let found = handlers.get(protocol);
    if (found === undefined) {
      const serverProtocol = gateway.serverProtocol ?? protocol;
      found = toFetchHandler(
        requestTimeout === undefined ? app : withSignal(app),
        { ...gateway, serverProtocol, websocket },
      );
      if (requestTimeout !== undefined) {
        found = withDeadline(found, requestTimeout, onRequestTimeout);
      }
      if (
        limits !== undefined &&
        (limits.requestLine || limits.fields || limits.fieldSize)
      ) {
        found = withLimits(found, limits);
      }
      if (sink !== undefined) {
        found = withAccessLog(found, sink, serverProtocol);
      }
      found = withDrain(found, () => draining);
      handlers.set(protocol, found);
    }
    return found;
  };
  // Node's server can skip the Fetch objects when no Fetch-level wrapper
  // (a deadline, request limits) has to see the Request.
  const fastPath = requestTimeout === undefined &&
    !(limits !== undefined &&
      (limits.requestLine || limits.fields || limits.fieldSize));
  const partsHandlers = new Map<string, PartsHandler>();
  const parts = (protocol: string): PartsHandler => {
    let found = partsHandlers.get(protocol);
    if (found === undefined) {
      const serverProtocol = gateway.serverProtocol ?? protocol;
      found = toPartsHandler(app, { ...gateway, serverProtocol });
      partsHandlers.set(protocol, found);
    }
    return found;
  };
  // Bad apps and options fail here, before anything listens.
  handler();
  const adapter = await loadAdapter();
  runtime.websocket = adapter.websocket;
  const listener: Listener = await adapter.listen({
    hostname,
    port,
    reusePort,
    handler,
    ...(path === undefined ? {} : { path }),
    ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
    ...(http2 === true ? { http2 } : {}),
    ...(idleTimeout === undefined ? {} : { idleTimeout }),
    ...(fastPath ? { parts } : {}),
    accessLog: sink === undefined ? undefined : (entry: PartsAccess) => {
      const protocol = gateway.serverProtocol ?? entry.protocol;
      const record: AccessRecord = {
        // Made only for a sink that reads it (the CLI's JSON log, metrics).
        get request() {
          return entry.request();
        },
        remoteAddr: entry.peer,
        target: entry.target,
        protocol,
        status: entry.status,
        bytes: entry.bytes,
        duration: Date.now() - entry.start,
        start: entry.start,
      };
      try {
        sink(
          accessLine(
            entry.peer,
            entry.method,
            entry.target,
            protocol,
            entry.status,
            entry.bytes,
          ),
          record,
        );
      } catch {
        // A failing log sink must not fail the request.
      }
    },
    draining: () => draining,
  });
  if (log !== undefined) listener.finished.then(log.flush);
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => stopping ??= listener.shutdown();
  const url = listener.path !== undefined
    ? `http+unix://${encodeURIComponent(listener.path)}/`
    : `${urlOf(listener.hostname, listener.port, tls ? "https" : "http")}/`;
  const server: Server = {
    hostname: listener.hostname,
    port: listener.port,
    ...(listener.path === undefined ? {} : { path: listener.path }),
    url,
    finished: listener.finished,
    shutdown,
    drain() {
      draining = true;
    },
    abort: () => listener.abort?.(),
    updateTls(files: TlsOptions) {
      if (listener.setTls === undefined) {
        throw new TypeError(
          tls === undefined
            ? "Cannot update the certificate of a server started without tls"
            : "Cannot update the certificate on this runtime: start a new server (the tsgi command rolls its workers on SIGHUP)",
        );
      }
      listener.setTls(files as TlsFiles);
    },
    [Symbol.asyncDispose]: shutdown,
  };
  if (signal !== undefined) {
    if (signal.aborted) shutdown();
    else {
      const onAbort = () => shutdown();
      signal.addEventListener("abort", onAbort, { once: true });
      listener.finished.then(() =>
        signal.removeEventListener("abort", onAbort)
      );
    }
  }
  (onListen ?? ((address) => stderr(`Listening on ${address.url}`)))({
    hostname: server.hostname,
    port: server.port,
    ...(server.path === undefined ? {} : { path: server.path }),
    url: server.url,
  });
  return server;
}
