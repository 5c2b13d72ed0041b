// The contract between serve() and its runtime adapters, one small file
// per runtime (_deno.ts, _bun.ts, _node.ts), each
// exporting `listen`. serve() loads only the one the runtime needs.

import type { FetchHandler, WebSocketRuntime } from "../types.ts";
import type { PartsHandler } from "../gateway/_parts_handler.ts";

/** A certificate chain and its private key, both PEM. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** What serve() asks an adapter for. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** A Unix domain socket to listen on instead of hostname and port. */
  path?: string;
  /** Serve HTTPS (and HTTP/2 where the runtime negotiates it). */
  tls?: TlsFiles;
  /** Node: offer HTTP/2 (node:http2, HTTP/1.1 as fallback) with `tls`. */
  http2?: boolean;
  /** Seconds an idle keep-alive connection is kept, where settable. */
  idleTimeout?: number;
  /** Share the port with other processes (SO_REUSEPORT), where supported. */
  reusePort?: boolean;
  /**
   * The handler for requests in `protocol` (`"HTTP/1.1"`); the same function
   * for the same protocol. Adapters that cannot tell the protocol pass none.
   */
  handler(protocol?: string): FetchHandler;
  /**
   * The same app for a server that parses HTTP itself and writes the
   * response its own way (node:http): no Fetch objects in between. Offered
   * only when no Fetch-level wrapper (a deadline, request limits) must see
   * the Request. Its access log is the adapter's to write, to `accessLog`.
   */
  parts?(protocol: string): PartsHandler;
  /** Writes the access log of one exchange that went through `parts`. */
  accessLog?: (entry: PartsAccess) => void;
  /** Whether finished responses should close their connection (drain). */
  draining?: () => boolean;
}

/** One exchange that went through `parts`, for the access log. */
export interface PartsAccess {
  peer: string;
  method: string;
  target: string;
  protocol: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** When the request came, in milliseconds since the epoch. */
  start: number;
  /** The Fetch Request, made on demand (only a record that needs it). */
  request(): Request;
}

/** A listening server, as an adapter reports it. */
export interface Listener {
  /** The bound address ("" for a Unix socket). */
  hostname: string;
  /** The bound port (the real one when 0 was asked for; 0 for a Unix socket). */
  port: number;
  /** The Unix socket path, when listening on one. */
  path?: string;
  /** Settles when the server has closed and every connection has ended. */
  finished: Promise<void>;
  /**
   * Stops accepting connections, lets requests in flight finish, then
   * settles as `finished` does. Called at most once.
   */
  shutdown(): Promise<void>;
  /**
   * Closes every connection at once, requests in flight included; after
   * `shutdown()`, when its grace period is over.
   */
  abort?(): void;
  /**
   * Serves new connections with another certificate; open ones keep
   * theirs. Absent where the runtime cannot.
   */
  setTls?(tls: TlsFiles): void;
}

/** An adapter module. */
export interface Adapter {
  listen(options: ListenOptions): Promise<Listener>;
  /** How this runtime upgrades a request to a WebSocket. */
  websocket?: WebSocketRuntime;
}

/** `http://host:port` for a listening address, an IPv6 host in brackets. */
export function urlOf(hostname: string, port: number, scheme = "http"): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${scheme}://${host}:${port}`;
}
