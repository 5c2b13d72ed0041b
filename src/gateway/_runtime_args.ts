// What a runtime hands a Fetch handler besides the Request, recognised by
// shape so the core needs no runtime's types: Deno's handler info, Bun's
// server, Workers' env and ctx, and the info tsgi's own Node server passes.

import type { RemoteAddress } from "../types.ts";

/** Deno's `ServeHandlerInfo`, and the info tsgi's Node server passes. */
export interface ConnectionInfo {
  remoteAddr?: { hostname?: string; port?: number };
  /**
   * The request target exactly as the client sent it, where the server
   * knows it (tsgi's Node server): read instead of `request.url`, which the
   * URL parser has already changed.
   */
  target?: string;
  /** The address the connection came in on, where the server knows it. */
  localAddr?: { hostname: string; port: number };
}

/** Bun's `Server`, as far as the gateway uses it. */
export interface BunServerLike {
  requestIP(request: Request): { address: string; port: number } | null;
  readonly hostname?: string;
  readonly port?: number;
}

/** Workers' `ExecutionContext`, as far as the gateway uses it. */
export interface WorkersCtxLike {
  waitUntil(promise: Promise<unknown>): void;
}

/** Whether the first argument is Deno's (or tsgi's Node server's) info. */
export function isConnectionInfo(value: unknown): value is ConnectionInfo {
  return typeof value === "object" && value !== null && "remoteAddr" in value;
}

/** Whether the first argument is Bun's server. */
export function isBunServer(value: unknown): value is BunServerLike {
  return typeof value === "object" && value !== null &&
    typeof (value as BunServerLike).requestIP === "function";
}

/** Whether the arguments are Workers' `(env, ctx)`. */
export function isWorkersCall(args: readonly unknown[]): boolean {
  const ctx = args[1];
  return typeof ctx === "object" && ctx !== null &&
    typeof (ctx as WorkersCtxLike).waitUntil === "function";
}

/** The peer's address, where the runtime reveals it. */
export function remoteOf(
  request: Request,
  args: readonly unknown[],
): RemoteAddress | undefined {
  const first = args[0];
  if (isConnectionInfo(first)) {
    const addr = first.remoteAddr;
    return addr?.hostname === undefined
      ? undefined
      : { address: addr.hostname, port: addr.port };
  }
  if (isBunServer(first)) {
    const ip = first.requestIP(request);
    return ip === null ? undefined : ip;
  }
  // Only on Workers does the platform itself set CF-Connecting-IP, so only
  // there is it trusted.
  if (isWorkersCall(args)) {
    const ip = request.headers.get("cf-connecting-ip");
    return ip === null ? undefined : { address: ip };
  }
  return undefined;
}

/**
 * `host:port` of the listener, for a request that names no host (HTTP/1.0
 * without Host); undefined when the runtime does not say.
 */
export function localOf(args: readonly unknown[]): string | undefined {
  const first = args[0];
  let hostname: string | undefined;
  let port: number | undefined;
  if (isConnectionInfo(first)) {
    hostname = first.localAddr?.hostname;
    port = first.localAddr?.port;
  } else if (isBunServer(first)) {
    hostname = first.hostname;
    port = first.port;
  }
  if (hostname === undefined || port === undefined) return undefined;
  return (hostname.includes(":") ? `[${hostname}]` : hostname) + ":" + port;
}

/** The raw request target, where the server passed it on. */
export function rawTargetOf(args: readonly unknown[]): string | undefined {
  const first = args[0];
  return isConnectionInfo(first) ? first.target : undefined;
}

/**
 * The largest whole body to hand the runtime as a string: Deno copies a
 * byte body into its Response and takes a string as it is, where Bun,
 * workerd and undici take bytes as they are (undici encodes a string
 * besides). Measured, not assumed: see BENCHMARKS.md. Deno's handler info
 * is told from the one tsgi's Node server passes by its `completed`.
 */
export function textLimitOf(args: readonly unknown[]): number {
  const first = args[0];
  return isConnectionInfo(first) && "completed" in first ? 4096 : -1;
}
