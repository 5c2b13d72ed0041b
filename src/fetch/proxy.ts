/**
 * A reverse proxy app: forwards requests to upstream servers, round-robin,
 * streaming both ways.
 *
 * @module
 */

import {
  encodePath,
  hasBody,
  OutgoingBody,
  requestHeaders,
  respond,
  ResponseBody,
  responseHeaders,
  statusLine,
} from "./_fetch.ts";
import type { App, AppIterable, Environ, StartResponse } from "../types.ts";

/**
 * Options of {@linkcode proxy}.
 *
 * @example A 5-second timeout
 * ```ts
 * import type { ProxyOptions } from "@tsgi/tsgi";
 * const options: ProxyOptions = { timeout: 5000 };
 * ```
 */
export interface ProxyOptions {
  /**
   * Milliseconds to wait for an upstream's response headers before
   * answering 504 Gateway Timeout. The body then streams without a limit.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Add X-Forwarded-For, -Proto, -Host and (when mounted) -Prefix.
   *
   * @default {true}
   */
  forwardedHeaders?: boolean;
}

const encoder = new TextEncoder();

/**
 * Whether a body labelled gzip or deflate arrived still encoded. The Fetch
 * standard has the client decode them whatever it asked for (undici, Bun);
 * Deno decodes only codings it advertised. Upstreams are asked for
 * identity, so this matters only for one that ignores that; the first
 * bytes tell: a gzip member starts 1f 8b, a zlib stream 78 xx.
 */
function stillEncoded(coding: string, first: Uint8Array | undefined): boolean {
  if (first === undefined || first.length < 2) return true;
  if (coding === "gzip" || coding === "x-gzip") {
    return first[0] === 0x1f && first[1] === 0x8b;
  }
  return first[0] === 0x78 && ((first[0] << 8) | first[1]) % 31 === 0;
}

function isConnectError(error: unknown): boolean {
  const cause = (error as { cause?: unknown })?.cause;
  const text = `${String(error)} ${String(cause)} ${
    (cause as { code?: string })?.code ?? ""
  }`;
  return /connect|refused|ECONNREFUSED|ECONNRESET before/i.test(text);
}

/** An error and its causes on one line: fetch hides the reason in `cause`. */
function causeChain(error: unknown): string {
  let text = String(error);
  let cause = (error as { cause?: unknown })?.cause;
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    text += `: ${cause instanceof Error ? cause.message : String(cause)}`;
    cause = (cause as { cause?: unknown })?.cause;
  }
  return text;
}

function gatewayError(
  environ: Environ,
  startResponse: StartResponse,
  status: string,
  why: string,
  error?: unknown,
): AppIterable {
  const errors = environ["wsgi.errors"];
  try {
    errors?.write(
      `tsgi: proxy: ${why} (${environ.REQUEST_METHOD} ${
        environ.REQUEST_URI ?? environ.PATH_INFO
      })${error === undefined ? "" : `: ${causeChain(error)}`}\n`,
    );
    errors?.flush();
  } catch {
    // The answer matters more than the log.
  }
  const body = encoder.encode(status + "\n");
  startResponse(status, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
}

function checkUpstream(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `Cannot proxy to ${JSON.stringify(url)}: expected an absolute URL`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(
      `Cannot proxy to ${JSON.stringify(url)}: expected http: or https:`,
    );
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw new TypeError(
      `Cannot proxy to ${
        JSON.stringify(url)
      }: an upstream has no query or fragment`,
    );
  }
  return parsed;
}

/**
 * A tsgi app that forwards each request to an upstream server and streams
 * its answer back: a reverse proxy and load balancer in one process.
 *
 * Requests go to the upstreams in turn (round-robin). The path under the
 * app's mount point (`PATH_INFO`) is appended to the upstream's path, with
 * the query as it came; the mount point goes up as `X-Forwarded-Prefix`,
 * the client's address, scheme and host as `X-Forwarded-For`, `-Proto` and
 * `-Host`. Hop-by-hop headers (and any named in Connection) are dropped in
 * both directions. The request body streams from `wsgi.input` as the
 * upstream reads it; the response body streams back chunk by chunk, and a
 * client that goes away cancels the upstream request.
 *
 * An upstream that refuses the connection is skipped for the next one, as
 * long as none of the request body has been read (Deno's fetch reads a
 * request body as it connects, so in practice only requests without a
 * body are retried). When every upstream fails the answer is 502 Bad
 * Gateway; when the response headers take longer than `timeout`, 504
 * Gateway Timeout. Upstreams are asked for an identity body, because a
 * Fetch client decodes gzip by itself; put `compress` in front to compress.
 *
 * @param upstreams One base URL or several (`http://10.0.0.2:8080/api`).
 * @param options Timeout and forwarding headers.
 * @returns The proxy application.
 *
 * @example Balance over two backends under /api
 * ```ts ignore
 * import { proxy } from "@tsgi/tsgi";
 * import { toFetchHandler } from "@tsgi/tsgi";
 * const api = proxy(["http://127.0.0.1:9001", "http://127.0.0.1:9002"], { timeout: 10_000 });
 * Deno.serve(toFetchHandler(api, { scriptName: "/api" }));
 * ```
 */
export function proxy(
  upstreams: string | readonly string[],
  options: ProxyOptions = {},
): App {
  const list = (typeof upstreams === "string" ? [upstreams] : [...upstreams])
    .map(checkUpstream);
  if (list.length === 0) {
    throw new TypeError("Cannot proxy to no upstream: give at least one URL");
  }
  const timeout = options.timeout ?? 30_000;
  if (!(timeout > 0)) {
    throw new RangeError(
      `Cannot use timeout ${timeout}: expected milliseconds > 0`,
    );
  }
  const forwarded = options.forwardedHeaders ?? true;
  let turn = 0;

  return async function proxied(environ, startResponse) {
    const headers = requestHeaders(environ);
    headers.delete("host");
    headers.set("accept-encoding", "identity");
    if (forwarded) {
      const remote = environ.REMOTE_ADDR;
      if (remote !== undefined) {
        const prior = headers.get("x-forwarded-for");
        headers.set(
          "x-forwarded-for",
          prior === null ? remote : `${prior}, ${remote}`,
        );
      }
      headers.set("x-forwarded-proto", environ["wsgi.url_scheme"]);
      const host = environ.HTTP_HOST as string | undefined;
      if (host !== undefined) headers.set("x-forwarded-host", host);
      if (environ.SCRIPT_NAME) {
        headers.set("x-forwarded-prefix", encodePath(environ.SCRIPT_NAME));
      }
    }
    const path = encodePath(environ.PATH_INFO ?? "");
    const query = environ.QUERY_STRING ? "?" + environ.QUERY_STRING : "";
    const body = hasBody(environ)
      ? new OutgoingBody(environ["wsgi.input"])
      : undefined;

    const first = turn;
    turn = (turn + 1) % list.length;
    let failure: unknown;
    for (let i = 0; i < list.length; i++) {
      const base = list[(first + i) % list.length];
      const prefix = base.pathname.endsWith("/")
        ? base.pathname.slice(0, -1)
        : base.pathname;
      const url = `${base.origin}${prefix + path || "/"}${query}`;
      const abort = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, timeout);
      let response: Response;
      try {
        response = await fetch(url, {
          method: environ.REQUEST_METHOD,
          headers,
          body: body?.stream(),
          duplex: "half",
          redirect: "manual",
          signal: abort.signal,
        } as RequestInit);
      } catch (error) {
        clearTimeout(timer);
        if (timedOut) {
          return gatewayError(
            environ,
            startResponse,
            "504 Gateway Timeout",
            `${base.origin} sent no response within ${timeout} ms`,
          );
        }
        failure = error;
        if (isConnectError(error) && !body?.pulled) continue;
        break;
      }
      const onClose = (complete: boolean) => {
        if (!complete) abort.abort();
      };
      let sent = responseHeaders(response.headers);
      const coding = response.headers.get("content-encoding")?.trim()
        .toLowerCase();
      if (
        response.body !== null &&
        (coding === "gzip" || coding === "x-gzip" || coding === "deflate")
      ) {
        // Peek (still within the timeout) to learn whether fetch decoded it.
        const reader = response.body.getReader();
        let first: Uint8Array | undefined;
        try {
          const step = await reader.read();
          first = step.done ? undefined : step.value;
        } catch (error) {
          clearTimeout(timer);
          return gatewayError(
            environ,
            startResponse,
            timedOut ? "504 Gateway Timeout" : "502 Bad Gateway",
            "the upstream body failed at once",
            error,
          );
        }
        clearTimeout(timer);
        if (!stillEncoded(coding, first)) {
          sent = sent.filter(([name]) =>
            name !== "content-encoding" && name !== "content-length"
          );
        }
        startResponse(statusLine(response), sent);
        return new ResponseBody(reader, onClose, first);
      }
      clearTimeout(timer);
      return respond(response, startResponse, onClose, sent);
    }
    return gatewayError(
      environ,
      startResponse,
      "502 Bad Gateway",
      "no upstream answered",
      failure,
    );
  };
}
