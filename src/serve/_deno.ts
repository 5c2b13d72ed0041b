// serve() on Deno: Deno.serve. The shapes are declared here rather than
// taken from Deno's global types so the npm build type-checks without them.

import type { Listener, ListenOptions } from "./_adapter.ts";
import type { FetchHandler } from "../types.ts";

interface DenoHttpServer {
  readonly addr: { hostname: string; port: number };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

interface DenoLike {
  serve(
    options: {
      hostname: string;
      port: number;
      reusePort?: boolean;
      onListen: () => void;
    },
    handler: FetchHandler,
  ): DenoHttpServer;
}

/** Starts Deno.serve; it binds before returning. */
export function listen(options: ListenOptions): Promise<Listener> {
  const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
  const server = deno.serve({
    hostname: options.hostname,
    port: options.port,
    // Only when asked: Deno wants --unstable-net for it.
    ...(options.reusePort ? { reusePort: true } : {}),
    // serve() reports the address itself, the same way on every runtime.
    onListen() {},
  }, options.handler());
  return Promise.resolve({
    hostname: server.addr.hostname,
    port: server.addr.port,
    finished: server.finished,
    // Deno's shutdown closes the listener, lets requests in flight finish
    // and closes idle keep-alive connections.
    shutdown: () => server.shutdown(),
  });
}
