/**
 * The query string as `URLSearchParams`.
 *
 * @module
 */

import type { Environ } from "../types.ts";

const NON_ASCII = /[\x80-\xff]/;
const NON_ASCII_ALL = /[\x80-\xff]/g;

/**
 * Reads `QUERY_STRING` with `URLSearchParams` semantics: `+` is a space,
 * percent-escapes decode as UTF-8, a name may repeat.
 *
 * `QUERY_STRING` is the raw query, still percent-encoded, as a native
 * string (one char per octet). The octets a client sent unencoded above
 * 0x7F are re-encoded first, so UTF-8 sent raw decodes as it was meant.
 *
 * @param environ The request's environ.
 * @returns A fresh `URLSearchParams`; changing it changes nothing else.
 *
 * @example Greet `?name=Bob&x=1` as "Bob"
 * ```ts
 * import { query } from "@tsgi/tsgi/query";
 * import type { App } from "@tsgi/tsgi";
 * const app: App = (environ, startResponse) => {
 *   const name = query(environ).get("name") ?? "world";
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode(`Hello ${name}!\n`)];
 * };
 * ```
 */
export function query(environ: Environ): URLSearchParams {
  const raw = environ.QUERY_STRING ?? "";
  return new URLSearchParams(
    NON_ASCII.test(raw)
      ? raw.replace(
        NON_ASCII_ALL,
        (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
      )
      : raw,
  );
}
