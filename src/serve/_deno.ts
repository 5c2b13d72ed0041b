// serve() on Deno: Deno.serve. The shapes are declared here rather than
// taken from Deno's global types so the npm build type-checks without them.

import type { Listener, ListenOptions } from "./_adapter.ts";
import type { FetchHandler } from "../types.ts";

export { denoWebSocket as websocket } from "./_deno_websocket.ts";

interface DenoHttpServer {
  readonly addr: { hostname?: string; port?: number; path?: string };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

interface DenoLike {
  serve(
    options: {
      hostname?: string;
      port?: number;
      path?: string;
      cert?: string;
      key?: string;
      reusePort?: boolean;
      onListen: () => void;
    },
    handler: FetchHandler,
  ): DenoHttpServer;
}

/**
 * On a Unix socket Deno's request URL is `http+unix://host/…`, which is no
 * URL a gateway serves: it gets the plain scheme back.
 */
function unix(handler: FetchHandler): FetchHandler {
  return (request, ...args) => {
    const url = request.url;
    const plus = url.indexOf("+unix:");
    return handler(
      plus === -1
        ? request
        // Not `new Request(url, request)`: reading request.signal makes
        // Deno warn about its legacy abort-on-success behaviour.
        : new Request(url.slice(0, plus) + url.slice(plus + 5), {
          method: request.method,
          headers: request.headers,
          body: request.body,
          duplex: "half",
        } as RequestInit),
      ...args,
    );
  };
}

/** Starts Deno.serve; it binds before returning. */
export function listen(options: ListenOptions): Promise<Listener> {
  const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
  const where = options.path === undefined
    ? { hostname: options.hostname, port: options.port }
    : { path: options.path };
  // Deno.serve offers no idle timeout for keep-alive connections: they stay
  // until the client closes them or the server shuts down.
  const server = deno.serve({
    ...where,
    // With a certificate Deno offers HTTP/2 and HTTP/1.1 by ALPN.
    ...(options.tls === undefined
      ? {}
      : { cert: options.tls.cert, key: options.tls.key }),
    // Only when asked: Deno wants --unstable-net for it.
    ...(options.reusePort ? { reusePort: true } : {}),
    // serve() reports the address itself, the same way on every runtime.
    onListen() {},
  }, options.path === undefined ? options.handler() : unix(options.handler()));
  const addr = server.addr;
  return Promise.resolve({
    hostname: addr.hostname ?? "",
    port: addr.port ?? 0,
    ...(addr.path === undefined ? {} : { path: addr.path }),
    finished: server.finished,
    // Deno's shutdown closes the listener, lets requests in flight finish
    // and closes idle keep-alive connections; it removes a Unix socket.
    shutdown: () => server.shutdown(),
  });
}
