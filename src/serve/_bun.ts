// serve() on Bun: Bun.serve. The shapes are declared here so the sources
// type-check without Bun's types.

import type { Listener, ListenOptions } from "./_adapter.ts";
import type { FetchHandler } from "../types.ts";

interface BunServer {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    reusePort: boolean;
    fetch: FetchHandler;
    maxRequestBodySize: number;
    development: boolean;
  }): BunServer;
}

/** Starts Bun.serve; it binds before returning. */
export function listen(options: ListenOptions): Promise<Listener> {
  const bun = (globalThis as unknown as { Bun: BunLike }).Bun;
  const server = bun.serve({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    fetch: options.handler(),
    // Bun refuses bodies over 128 MiB by default; the app reads the body as
    // a stream, and GatewayOptions.maxBodySize is where a limit belongs.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Errors are the gateway's to answer, never Bun's debug page.
    development: false,
  });
  let resolve!: () => void;
  const finished = new Promise<void>((r) => resolve = r);
  return Promise.resolve({
    hostname: server.hostname,
    port: server.port,
    finished,
    // Without `true`, stop() closes the listener and idle connections and
    // lets requests in flight finish; it settles when the last one closes.
    shutdown() {
      const stopped = server.stop();
      stopped.then(resolve, resolve);
      return stopped;
    },
  });
}
