/**
 * `serve()`: tsgi's `make_server`. One call starts a real HTTP server for a
 * tsgi app on Deno (`Deno.serve`), Bun (`Bun.serve`) or Node (`node:http`),
 * prints wsgiref's access log, and shuts down gracefully.
 *
 * @module
 */

import { type Adapter, type Listener, urlOf } from "./_adapter.ts";
import {
  peerOf,
  stderr,
  StderrLog,
  upgradePeers,
  withAccessLog,
} from "./_access_log.ts";
import { toFetchHandler } from "../gateway/to_fetch_handler.ts";
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
  /** The bound address, such as `"127.0.0.1"`. */
  readonly hostname: string;
  /** The bound port: the one the system chose when 0 was asked for. */
  readonly port: number;
  /** The server's base URL, such as `"http://127.0.0.1:8000/"`. */
  readonly url: string;
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
   * without its newline.
   *
   * @default {true}
   */
  accessLog?: boolean | ((line: string) => void);
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
    ...gateway
  } = options;
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
  const handler = (protocol = "HTTP/1.1"): FetchHandler => {
    let found = handlers.get(protocol);
    if (found === undefined) {
      const serverProtocol = gateway.serverProtocol ?? protocol;
      found = toFetchHandler(app, { ...gateway, serverProtocol, websocket });
      if (sink !== undefined) {
        found = withAccessLog(found, sink, serverProtocol);
      }
      handlers.set(protocol, found);
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
  });
  if (log !== undefined) listener.finished.then(log.flush);
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => stopping ??= listener.shutdown();
  const server: Server = {
    hostname: listener.hostname,
    port: listener.port,
    url: `${urlOf(listener.hostname, listener.port)}/`,
    finished: listener.finished,
    shutdown,
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
    url: server.url,
  });
  return server;
}
