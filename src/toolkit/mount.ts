/**
 * Several applications under path prefixes in one process (werkzeug's
 * DispatcherMiddleware, Paste's URLMap).
 *
 * @module
 */

import { show } from "../gateway/_response_rules.ts";
import { patternToNative } from "../gateway/_latin1.ts";
import { notFound } from "./_responses.ts";
import type { App } from "../types.ts";

/** Options of {@linkcode mount}. */
export interface MountOptions {
  /** Answers paths no prefix takes (when there is no root app); a plain 404 by default. */
  notFound?: App;
}

/**
 * Dispatches each request to the app mounted at the longest prefix of its
 * `PATH_INFO`, moving that prefix to `SCRIPT_NAME` as PEP 3333 wants:
 * with `/app` mounted, `/app` gives `SCRIPT_NAME` `"/app"` and `PATH_INFO`
 * `""`, `/app/` gives `PATH_INFO` `"/"`, `/app/x` gives `"/x"`, and
 * `/apple` is not taken (prefixes end on a segment boundary). An app at
 * `"/"` (or `""`) is the fallback and keeps `SCRIPT_NAME` as it was, never
 * adding a `"/"`. With no match and no root app, the answer is 404.
 *
 * Prefixes are written as text (UTF-8, `%XX` escapes allowed), a trailing
 * `/` ignored, and turned once into the octets-as-latin-1 form of
 * `PATH_INFO`. Finding the app costs one Map lookup per segment of the
 * path, however many apps are mounted. The chosen app's result is returned
 * as it is: nothing is buffered, and the server's `close()` reaches it.
 *
 * @param apps Prefix → app, as an object or `[prefix, app]` pairs.
 * @param options What to answer when nothing matches.
 * @returns The dispatching app.
 *
 * @example Two apps side by side
 * ```ts
 * import { mount, toFetchHandler, type App } from "@tsgi/tsgi";
 * const say = (text: string): App => (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${text}: ${environ.SCRIPT_NAME} ${environ.PATH_INFO}`)];
 * };
 * const handler = toFetchHandler(mount({ "/": say("site"), "/api": say("api") }));
 * const response = await handler(new Request("http://localhost/api/users"));
 * console.log(await response.text()); // "api: /api /users"
 * ```
 */
export function mount(
  apps: Record<string, App> | Iterable<readonly [string, App]>,
  options: MountOptions = {},
): App {
  const table = new Map<string, App>();
  let longest = 0;
  const entries = Symbol.iterator in apps
    ? apps as Iterable<readonly [string, App]>
    : Object.entries(apps);
  for (const [prefix, app] of entries) {
    if (
      typeof prefix !== "string" || (prefix !== "" && !prefix.startsWith("/"))
    ) {
      throw new TypeError(
        `Cannot mount at ${show(prefix)}: a prefix starts with "/"`,
      );
    }
    if (typeof app !== "function") {
      throw new TypeError(
        `Cannot mount ${show(app)} at ${
          show(prefix)
        }: expected an app function`,
      );
    }
    const key = patternToNative(
      prefix.endsWith("/") ? prefix.slice(0, -1) : prefix,
    );
    if (table.has(key)) {
      throw new Error(
        `Cannot mount at ${
          show(prefix)
        }: another app is mounted at the same prefix`,
      );
    }
    table.set(key, app);
    longest = Math.max(longest, key.length);
  }
  const fallback = options.notFound ?? notFound;
  return function mounted(environ, startResponse) {
    const path = environ.PATH_INFO ?? "";
    // Candidate prefixes, longest first: the whole path, then the path
    // before each "/", down to "" (the root app).
    let end = path.length;
    for (;;) {
      if (end <= longest) {
        const app = table.get(path.slice(0, end));
        if (app !== undefined) {
          if (end > 0) {
            environ.SCRIPT_NAME = (environ.SCRIPT_NAME ?? "") +
              path.slice(0, end);
            environ.PATH_INFO = path.slice(end);
          }
          return app(environ, startResponse);
        }
      }
      if (end === 0) break;
      end = path.lastIndexOf("/", end - 1);
      if (end === -1) {
        // A PATH_INFO without a leading "/" can still reach the root app.
        end = 0;
      }
    }
    return fallback(environ, startResponse);
  };
}
