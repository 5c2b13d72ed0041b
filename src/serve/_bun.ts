// serve() on Bun: Bun.serve. The shapes are declared here so the sources
// type-check without Bun's types.

import type { Listener, ListenOptions } from "./_adapter.ts";
import type { FetchHandler } from "../types.ts";
import { bunHandlers } from "./_bun_websocket.ts";

export { websocket } from "./_bun_websocket.ts";

interface BunServer {
  readonly hostname?: string;
  readonly port?: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

interface BunLike {
  serve(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    tls?: { cert: string; key: string };
    idleTimeout?: number;
    reusePort?: boolean;
    fetch: FetchHandler;
    maxRequestBodySize: number;
    development: boolean;
    websocket: ReturnType<typeof bunHandlers>;
  }): BunServer;
}

// Bun refuses an idleTimeout above this many seconds.
const MAX_IDLE = 255;

/** Starts Bun.serve; it binds before returning. */
export function listen(options: ListenOptions): Promise<Listener> {
  const bun = (globalThis as unknown as { Bun: BunLike }).Bun;
  const idle = options.idleTimeout;
  const websocket = bunHandlers();
  const server = bun.serve({
    ...(options.path === undefined
      ? {
        hostname: options.hostname,
        port: options.port,
        reusePort: options.reusePort ?? false,
      }
      : { unix: options.path }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    // Bun's own default is 10 s, which cuts a quiet event stream; 0 is
    // "never".
    ...(idle === undefined ? {} : {
      idleTimeout: idle > MAX_IDLE ? 0 : Math.ceil(idle),
    }),
    fetch: options.handler(),
    // Bun refuses bodies over 128 MiB by default; the app reads the body as
    // a stream, and GatewayOptions.maxBodySize is where a limit belongs.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Errors are the gateway's to answer, never Bun's debug page.
    development: false,
    websocket,
  });
  let resolve!: () => void;
  const finished = new Promise<void>((r) => resolve = r);
  return Promise.resolve({
    hostname: server.hostname ?? "",
    port: server.port ?? 0,
    ...(options.path === undefined ? {} : { path: options.path }),
    finished,
    // Without `true`, stop() closes the listener and idle connections and
    // lets requests in flight finish; it settles when the last one closes.
    // Bun removes a Unix socket file itself.
    shutdown() {
      const stopped = server.stop();
      websocket.goingAway();
      stopped.then(resolve, resolve);
      return stopped;
    },
    abort() {
      server.stop(true).catch(() => {});
    },
  });
}
