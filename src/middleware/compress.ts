/**
 * Response compression: brotli, gzip or deflate through the web-standard
 * CompressionStream, as the client's Accept-Encoding allows.
 *
 * @module
 */

import { headerValue, transformResponse, withoutLength } from "./_transform.ts";
import type { App, Header } from "../types.ts";

/**
 * A content coding {@linkcode compress} can produce. `"br"` only where the
 * runtime's CompressionStream has brotli (Deno and Bun, as `"brotli"`).
 */
export type Encoding = "br" | "gzip" | "deflate";

/**
 * Options of {@linkcode compress}.
 *
 * @example Only JSON, from 1 KiB, gzip only
 * ```ts
 * import type { CompressOptions } from "@tsgi/tsgi";
 * const options: CompressOptions = {
 *   types: ["application/json"],
 *   minSize: 1024,
 *   encodings: ["gzip"],
 * };
 * ```
 */
export interface CompressOptions {
  /**
   * The codings offered, most preferred first; the client's q-values win
   * over this order. `"br"` is left out where the runtime's
   * CompressionStream has no brotli (Node, at this writing).
   *
   * @default {["br", "gzip", "deflate"]}
   */
  encodings?: Encoding[];
  /**
   * Media types worth compressing: exact types (`"application/json"`),
   * prefixes ending in `/` or `/*` (`"text/*"`), or RegExps tested on the
   * type without parameters.
   *
   * @default {["text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml", /\+(json|xml)$/]}
   */
  types?: (string | RegExp)[];
  /**
   * Bodies known to be smaller than this many bytes (by Content-Length, or
   * because the app returned an array) are sent as they are. A streamed
   * body of unknown size is always compressed.
   *
   * @default {1024}
   */
  minSize?: number;
}

const DEFAULT_TYPES: (string | RegExp)[] = [
  "text/*",
  "application/json",
  "application/javascript",
  "application/xml",
  "image/svg+xml",
  /\+(json|xml)$/,
];

function typeMatcher(types: (string | RegExp)[]): (type: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const type of types) {
    if (type instanceof RegExp) patterns.push(type);
    else if (type.endsWith("/*")) prefixes.push(type.slice(0, -1));
    else if (type.endsWith("/")) prefixes.push(type);
    else exact.add(type.toLowerCase());
  }
  return (type) =>
    exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix)) ||
    patterns.some((pattern) => pattern.test(type));
}

/**
 * Picks a coding from an Accept-Encoding value (RFC 9110 §12.5.3): the
 * highest q-value above 0 among `offered`, ties going to the earlier one;
 * `*` stands for any coding not named. Undefined means identity.
 *
 * @param accept The Accept-Encoding header, or undefined when absent.
 * @param offered The codings available, most preferred first.
 * @returns The coding to use, or undefined for none.
 *
 * @example
 * ```ts
 * import { negotiateEncoding } from "@tsgi/tsgi";
 * console.log(negotiateEncoding("gzip;q=0.5, deflate", ["gzip", "deflate"])); // "deflate"
 * console.log(negotiateEncoding("identity", ["gzip"])); // undefined
 * ```
 */
export function negotiateEncoding(
  accept: string | undefined,
  offered: readonly Encoding[],
): Encoding | undefined {
  if (accept === undefined || accept.trim() === "") return undefined;
  const q = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [token, ...params] = part.split(";");
    const name = token.trim().toLowerCase();
    if (name === "") continue;
    let weight = 1;
    for (const param of params) {
      const [key, value] = param.split("=");
      if (key.trim().toLowerCase() === "q") {
        const parsed = Number(value?.trim());
        weight = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    q.set(name === "x-gzip" ? "gzip" : name, weight);
  }
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const coding of offered) {
    const weight = q.get(coding) ?? q.get("*") ?? 0;
    if (weight > bestQ) {
      best = coding;
      bestQ = weight;
    }
  }
  return best;
}

let brotliFormat: string | null | undefined;

/**
 * The CompressionStream format that makes brotli here, or null: tried once,
 * since no standard names it yet ("brotli" on Deno and Bun).
 */
function brotli(): string | null {
  if (brotliFormat === undefined) {
    brotliFormat = null;
    for (const format of ["brotli", "br"]) {
      try {
        new CompressionStream(format as CompressionFormat);
        brotliFormat = format;
        break;
      } catch {
        // Not this name.
      }
    }
  }
  return brotliFormat;
}

function addVary(headers: Header[]): Header[] {
  const index = headers.findIndex(([name]) => name.toLowerCase() === "vary");
  if (index === -1) return [...headers, ["Vary", "Accept-Encoding"]];
  const value = headers[index][1];
  const names = value.split(",").map((name) => name.trim().toLowerCase());
  if (names.includes("*") || names.includes("accept-encoding")) return headers;
  const out = headers.slice();
  out[index] = [headers[index][0], value + ", Accept-Encoding"];
  return out;
}

/** The headers of a response sent with `coding`. */
function encoded(headers: Header[], coding: Encoding): Header[] {
  const out = withoutLength(headers).filter(([name]) =>
    name.toLowerCase() !== "content-encoding"
  ).map(([name, value]): Header =>
    name.toLowerCase() === "etag" && value.startsWith('"')
      ? [name, "W/" + value]
      : [name, value]
  );
  out.push(["Content-Encoding", coding]);
  return out;
}

/**
 * Wraps an app so that its compressible responses are sent brotli-, gzip-
 * or deflate-encoded when the client accepts it, by the client's q-values,
 * ties going to the order of `encodings` (br, gzip, deflate).
 *
 * A response is compressed when its status may carry a body (not 204, 304
 * or 206), the request is not HEAD, its Content-Type is on the allowlist,
 * it has no Content-Encoding and no `Cache-Control: no-transform`, and its
 * size is not known to be under `minSize`. Compressed responses lose
 * Content-Length (the size changes), get `Content-Encoding`, and a strong
 * ETag becomes weak. Every compressible response, compressed or not, gets
 * `Vary: Accept-Encoding` so caches keep the variants apart.
 *
 * The body streams through a CompressionStream chunk by chunk as the
 * server pulls: a streamed body is never gathered, and the app's `close()`
 * runs once however the request ends. Deno's CompressionStream flushes
 * after every chunk, so each chunk reaches the client at once (server-sent
 * events stay live) but many tiny chunks compress poorly: an async body
 * should yield chunks of a few KiB. Chunks a sync iterable or an array
 * already holds are joined (up to 64 KiB) before they go in.
 *
 * @param app The application.
 * @param options Codings, types and the size threshold.
 * @returns The compressing application.
 *
 * @example Compress an app
 * ```ts
 * import { compress } from "@tsgi/tsgi";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("tsgi ".repeat(1000))];
 * };
 * const handler = toFetchHandler(compress(app));
 * const response = await handler(
 *   new Request("http://localhost/", { headers: { "Accept-Encoding": "gzip" } }),
 * );
 * console.log(response.headers.get("content-encoding")); // "gzip"
 * await response.body?.cancel();
 * ```
 */
export function compress(app: App, options: CompressOptions = {}): App {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot compress ${typeof app}: expected an application function`,
    );
  }
  const wanted = options.encodings ?? ["br", "gzip", "deflate"];
  for (const coding of wanted) {
    if (coding !== "gzip" && coding !== "deflate" && coding !== "br") {
      throw new TypeError(
        `Cannot compress with ${
          JSON.stringify(coding)
        }: expected "br", "gzip" or "deflate"`,
      );
    }
  }
  const offered = wanted.filter((coding) =>
    coding !== "br" || brotli() !== null
  );
  const minSize = options.minSize ?? 1024;
  if (!(minSize >= 0)) {
    throw new RangeError(
      `Cannot use minSize ${minSize}: expected a number of bytes >= 0`,
    );
  }
  const compressible = typeMatcher(options.types ?? DEFAULT_TYPES);
  return transformResponse(app, (environ, status, headers, length) => {
    const code = Number(status.slice(0, 3));
    if (code === 204 || code === 304 || code === 206 || code < 200) {
      return undefined;
    }
    const type = headerValue(headers, "content-type");
    if (
      type === undefined ||
      !compressible(type.split(";")[0].trim().toLowerCase())
    ) return undefined;
    if (headerValue(headers, "content-encoding") !== undefined) {
      return undefined;
    }
    const cacheControl = headerValue(headers, "cache-control");
    if (cacheControl !== undefined && /no-transform/i.test(cacheControl)) {
      return undefined;
    }
    const varied = addVary(headers);
    if (environ.REQUEST_METHOD === "HEAD") return { headers: varied };
    const declared = headerValue(varied, "content-length");
    const size = length !== -1
      ? length
      : declared === undefined
      ? -1
      : Number(declared);
    const coding = size !== -1 && size < minSize
      ? undefined
      : negotiateEncoding(
        environ.HTTP_ACCEPT_ENCODING as string | undefined,
        offered,
      );
    if (coding === undefined) return { headers: varied };
    return {
      headers: encoded(varied, coding),
      stream: new CompressionStream(
        (coding === "br" ? brotli() : coding) as CompressionFormat,
      ) as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
      restate: (_status, later) => encoded(addVary(later), coding),
    };
  });
}
