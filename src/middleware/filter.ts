/**
 * A streaming response filter: PEP 3333's post-processing middleware, which
 * changes a body as it streams.
 *
 * @module
 */

import { transformResponse, withoutLength } from "./_transform.ts";
import type { App, Environ, Header } from "../types.ts";

/**
 * Options of {@linkcode filter}.
 *
 * @example Upper-case every text response
 * ```ts
 * import type { FilterOptions } from "@tsgi/tsgi";
 * const options: FilterOptions = {
 *   headers: (_status, headers) =>
 *     headers.some(([n, v]) => n.toLowerCase() === "content-type" && v.startsWith("text/"))
 *       ? headers
 *       : null,
 *   transform: (chunk) => new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase()),
 * };
 * ```
 */
export interface FilterOptions {
  /**
   * Sees each response's status and headers before they are sent and
   * returns the headers to send, or `null` to leave this response (headers
   * and body) alone. Content-Length is taken care of: it is dropped when the
   * body is transformed and recomputed when the whole body is known.
   */
  headers?: (
    status: string,
    headers: Header[],
    environ: Environ,
  ) => Header[] | null;
  /**
   * Changes each chunk as it passes. It must not keep state across
   * requests; use `stream` for a transform that does.
   */
  transform?: (chunk: Uint8Array) => Uint8Array;
  /**
   * Makes a TransformStream for one response; the body flows through it as
   * it streams. Used instead of `transform` when both are given.
   */
  stream?: () => TransformStream<Uint8Array, Uint8Array>;
}

/**
 * Wraps an app so its responses are rewritten as they stream: headers
 * through `options.headers`, body chunks through `options.transform` or
 * the TransformStream `options.stream` makes.
 *
 * Chunks are transformed one at a time as the server pulls them, so a
 * streamed (even endless) body streams on; the app's `close()` runs once
 * however the request ends. Apps that call `write()` are filtered too.
 *
 * @param app The application whose responses are filtered.
 * @param options What to change.
 * @returns The filtering application.
 *
 * @example Replace a word in HTML pages
 * ```ts
 * import { filter } from "@tsgi/tsgi";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/html"], ["Content-Length", "13"]]);
 *   return [new TextEncoder().encode("<p>hello</p>\n")];
 * };
 * const shouting = filter(app, {
 *   transform: (chunk) => new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase()),
 * });
 * const response = await toFetchHandler(shouting)(new Request("http://localhost/"));
 * console.log(await response.text()); // "<P>HELLO</P>\n"
 * ```
 */
export function filter(app: App, options: FilterOptions): App {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot filter ${typeof app}: expected an application function`,
    );
  }
  const { headers: rewrite, transform, stream } = options;
  const changesBody = transform !== undefined || stream !== undefined;
  return transformResponse(app, (environ, status, headers) => {
    let sent = headers;
    if (rewrite !== undefined) {
      const changed = rewrite(status, headers.slice(), environ);
      if (changed === null) return undefined;
      sent = changed;
    }
    const restate = (later: string, laterHeaders: Header[]) => {
      const changed = rewrite?.(later, laterHeaders.slice(), environ) ??
        laterHeaders;
      return changesBody ? withoutLength(changed) : changed;
    };
    if (!changesBody) return { headers: sent, restate };
    return {
      headers: withoutLength(sent),
      map: transform,
      stream: stream?.(),
      restate,
    };
  });
}
