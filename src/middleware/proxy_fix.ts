/**
 * Trusted-proxy middleware (werkzeug's ProxyFix): take the client's
 * address, scheme, host and prefix from the X-Forwarded-* headers that the
 * proxies in front of the app added.
 *
 * @module
 */

import type { App, Environ } from "../types.ts";

/**
 * How many proxies in front of the app set each header. 0 ignores the
 * header. Only that many values, counted from the right (the values the
 * trusted proxies appended), are believed: anything further left came from
 * the client and could be forged.
 *
 * @example One proxy that sets all headers
 * ```ts
 * import type { ProxyFixOptions } from "@tsgi/tsgi";
 * const options: ProxyFixOptions = { x_for: 1, x_proto: 1, x_host: 1, x_port: 1, x_prefix: 1 };
 * ```
 */
export interface ProxyFixOptions {
  /**
   * Trusted values of X-Forwarded-For, which sets `REMOTE_ADDR`.
   *
   * @default {1}
   */
  x_for?: number;
  /**
   * Trusted values of X-Forwarded-Proto, which sets `wsgi.url_scheme`.
   *
   * @default {1}
   */
  x_proto?: number;
  /**
   * Trusted values of X-Forwarded-Host, which sets `HTTP_HOST`,
   * `SERVER_NAME` and `SERVER_PORT`.
   *
   * @default {0}
   */
  x_host?: number;
  /**
   * Trusted values of X-Forwarded-Port, which sets `SERVER_PORT` (and the
   * port in `HTTP_HOST`).
   *
   * @default {0}
   */
  x_port?: number;
  /**
   * Trusted values of X-Forwarded-Prefix, which sets `SCRIPT_NAME`.
   *
   * @default {0}
   */
  x_prefix?: number;
}

/**
 * The environ values {@linkcode proxyFix} replaced, as they were, kept
 * under `environ["tsgi.proxy_fix.orig"]`.
 *
 * @example Read the proxy's own address
 * ```ts
 * import type { ProxyFixOriginal } from "@tsgi/tsgi";
 * import type { Environ } from "@tsgi/tsgi";
 * function nearestProxy(environ: Environ): string | undefined {
 *   return (environ["tsgi.proxy_fix.orig"] as ProxyFixOriginal).REMOTE_ADDR;
 * }
 * ```
 */
export interface ProxyFixOriginal {
  /** The peer that connected: the nearest proxy. */
  REMOTE_ADDR: string | undefined;
  /** The scheme the proxy used to reach the app. */
  "wsgi.url_scheme": string;
  /** The Host header the proxy sent. */
  HTTP_HOST: string | undefined;
  /** The server name before the rewrite. */
  SERVER_NAME: string;
  /** The server port before the rewrite. */
  SERVER_PORT: string;
  /** The mount prefix before the rewrite. */
  SCRIPT_NAME: string;
}

const KEYS = ["x_for", "x_proto", "x_host", "x_port", "x_prefix"] as const;

/** The value `trusted` hops from the right, or undefined when too few. */
function trustedValue(
  header: unknown,
  trusted: number,
): string | undefined {
  if (trusted === 0 || typeof header !== "string") return undefined;
  const values = header.split(",");
  if (values.length < trusted) return undefined;
  const value = values[values.length - trusted].trim();
  return value === "" ? undefined : value;
}

function splitHostPort(host: string): [name: string, port: string | undefined] {
  const colon = host.lastIndexOf(":");
  if (colon === -1 || host.indexOf("]", colon) !== -1) return [host, undefined];
  return [host.slice(0, colon), host.slice(colon + 1)];
}

/**
 * Wraps an app that runs behind `n` reverse proxies so it sees the
 * client's address, scheme, host and prefix instead of the last proxy's.
 *
 * Each `X-Forwarded-*` header is believed only for the number of hops
 * configured for it: with `x_for: 1`, the rightmost X-Forwarded-For value
 * (the one the trusted proxy appended) becomes `REMOTE_ADDR`, and a forged
 * value the client put in front is ignored. When a header has fewer values
 * than configured, it is ignored altogether. The values replaced are kept
 * in `environ["tsgi.proxy_fix.orig"]`.
 *
 * Use it only when the app is reachable through the proxies alone; anyone
 * who can reach the app directly can set these headers.
 *
 * @param app The application.
 * @param options Trusted hops per header.
 * @returns The application seeing the client's view.
 *
 * @example Behind one nginx that sets X-Forwarded-For and -Proto
 * ```ts
 * import { proxyFix } from "@tsgi/tsgi";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.REMOTE_ADDR} ${environ["wsgi.url_scheme"]}`)];
 * };
 * const handler = toFetchHandler(proxyFix(app, { x_for: 1, x_proto: 1 }));
 * const response = await handler(new Request("http://app.internal/", {
 *   headers: { "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https" },
 * }));
 * console.log(await response.text()); // "203.0.113.7 https"
 * ```
 */
export function proxyFix(app: App, options: ProxyFixOptions = {}): App {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot fix ${typeof app}: expected an application function`,
    );
  }
  const hops = {
    x_for: options.x_for ?? 1,
    x_proto: options.x_proto ?? 1,
    x_host: options.x_host ?? 0,
    x_port: options.x_port ?? 0,
    x_prefix: options.x_prefix ?? 0,
  };
  for (const key of KEYS) {
    const n = hops[key];
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(
        `Cannot trust ${n} hops for ${key}: expected an integer >= 0`,
      );
    }
  }
  return function fixed(environ: Environ, startResponse) {
    const orig: ProxyFixOriginal = {
      REMOTE_ADDR: environ.REMOTE_ADDR,
      "wsgi.url_scheme": environ["wsgi.url_scheme"],
      HTTP_HOST: environ.HTTP_HOST as string | undefined,
      SERVER_NAME: environ.SERVER_NAME,
      SERVER_PORT: environ.SERVER_PORT,
      SCRIPT_NAME: environ.SCRIPT_NAME,
    };
    environ["tsgi.proxy_fix.orig"] = orig;

    const forwardedFor = trustedValue(
      environ.HTTP_X_FORWARDED_FOR,
      hops.x_for,
    );
    if (forwardedFor !== undefined) environ.REMOTE_ADDR = forwardedFor;

    const proto = trustedValue(environ.HTTP_X_FORWARDED_PROTO, hops.x_proto)
      ?.toLowerCase();
    if (proto === "http" || proto === "https") {
      environ["wsgi.url_scheme"] = proto;
    }

    const host = trustedValue(environ.HTTP_X_FORWARDED_HOST, hops.x_host);
    if (host !== undefined) {
      environ.HTTP_HOST = host;
      const [name, port] = splitHostPort(host);
      environ.SERVER_NAME = name;
      environ.SERVER_PORT = port ??
        (environ["wsgi.url_scheme"] === "https" ? "443" : "80");
    }

    const port = trustedValue(environ.HTTP_X_FORWARDED_PORT, hops.x_port);
    if (port !== undefined && /^[0-9]{1,5}$/.test(port)) {
      const current = environ.HTTP_HOST as string | undefined;
      if (current !== undefined) {
        environ.HTTP_HOST = `${splitHostPort(current)[0]}:${port}`;
      }
      environ.SERVER_PORT = port;
    }

    const prefix = trustedValue(environ.HTTP_X_FORWARDED_PREFIX, hops.x_prefix);
    if (prefix !== undefined) {
      const trimmed = prefix.replace(/\/+$/, "");
      environ.SCRIPT_NAME = trimmed === "" || trimmed.startsWith("/")
        ? trimmed
        : "/" + trimmed;
    }
    return app(environ, startResponse);
  };
}
