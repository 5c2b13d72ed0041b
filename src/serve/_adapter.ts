// The contract between serve() and its runtime adapters, one small file
// per runtime (_deno.ts, _bun.ts, _node.ts), each
// exporting `listen`. serve() loads only the one the runtime needs.

import type { FetchHandler } from "../types.ts";

/** What serve() asks an adapter for. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes (SO_REUSEPORT), where supported. */
  reusePort?: boolean;
  /**
   * The handler for requests in `protocol` (`"HTTP/1.1"`); the same function
   * for the same protocol. Adapters that cannot tell the protocol pass none.
   */
  handler(protocol?: string): FetchHandler;
}

/** A listening server, as an adapter reports it. */
export interface Listener {
  /** The bound address. */
  hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Settles when the server has closed and every connection has ended. */
  finished: Promise<void>;
  /**
   * Stops accepting connections, lets requests in flight finish, then
   * settles as `finished` does. Called at most once.
   */
  shutdown(): Promise<void>;
}

/** An adapter module. */
export interface Adapter {
  listen(options: ListenOptions): Promise<Listener>;
}

/** `http://host:port` for a listening address, an IPv6 host in brackets. */
export function urlOf(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}
