// gunicorn's request limits in front of the gateway: a request line longer
// than allowed is answered 414, too many header fields or one too large
// 431, before the app runs. Each runtime also has limits of its own, which
// answer first when they are lower (see docs/runtimes.md).

import type { FetchHandler } from "../types.ts";

/**
 * gunicorn's request limits; 0 turns one off.
 *
 * @example gunicorn's defaults
 * ```ts
 * import type { RequestLimits } from "@tsgi/tsgi/serve";
 * const limits: RequestLimits = {
 *   requestLine: 4094,
 *   fields: 100,
 *   fieldSize: 8190,
 * };
 * ```
 */
export interface RequestLimits {
  /** Bytes of the request line: method, target, version. */
  requestLine?: number;
  /** Header fields. */
  fields?: number;
  /** Bytes of one header field, `name: value`. */
  fieldSize?: number;
}

const encoder = new TextEncoder();

function refuse(status: 414 | 431, reason: string): Response {
  return new Response(encoder.encode(`${status} ${reason}\n`), {
    status,
    statusText: reason,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "connection": "close",
    },
  });
}

/** The target as sent: tsgi's Node info has it; elsewhere the URL's. */
function targetOf(request: Request, info: unknown): string {
  const target = (info as { target?: unknown } | undefined)?.target;
  if (typeof target === "string") return target;
  const url = request.url;
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash === -1 ? "/" : url.slice(slash);
}

/** Wraps `handler` so requests over the limits are refused. */
export function withLimits(
  handler: FetchHandler,
  limits: RequestLimits,
): FetchHandler {
  const line = limits.requestLine ?? 0;
  const fields = limits.fields ?? 0;
  const size = limits.fieldSize ?? 0;
  return function limitedHandler(request, ...args) {
    if (
      line > 0 &&
      // "GET /path HTTP/1.1": the method, the target, two spaces, 8 bytes.
      request.method.length + targetOf(request, args[0]).length + 10 > line
    ) {
      return refuse(414, "URI Too Long");
    }
    if (fields > 0 || size > 0) {
      let count = 0;
      for (const [name, value] of request.headers) {
        // Headers joins repeated fields (but Set-Cookie) with ", ".
        const values = name === "set-cookie" ? [value] : value.split(", ");
        count += values.length;
        if (fields > 0 && count > fields) {
          return refuse(431, "Request Header Fields Too Large");
        }
        if (
          size > 0 &&
          values.some((one) => name.length + 2 + one.length > size)
        ) {
          return refuse(431, "Request Header Fields Too Large");
        }
      }
    }
    return handler(request, ...args);
  };
}
