/**
 * The CGI gateway: run a tsgi app as a CGI script under any web server
 * (PEP 333's `run_with_cgi`, wsgiref's `CGIHandler`).
 *
 * @module
 */

import { type CgiIo, type CgiOptions, runCgi } from "./_cgi.ts";
import type { App } from "../types.ts";

export type { CgiOptions } from "./_cgi.ts";

/**
 * Serves the one request a CGI host started this process for.
 *
 * The environ is the process environment as the host set it (RFC 3875):
 * request variables (`PATH_INFO`, `QUERY_STRING`, `HTTP_*`, …) become one
 * char per byte, PEP 3333's latin-1 rule, read from the raw environment
 * where the runtime allows it (on Linux: always on Node and Bun, with
 * `--allow-all` on Deno). Standard input is `wsgi.input`, cut at
 * `CONTENT_LENGTH`. `wsgi.run_once` and `wsgi.multiprocess` are true,
 * `wsgi.multithread` false. The response goes to standard output as a
 * `Status:` line, the headers and the body, written no faster than the host
 * reads it. An error before the response started gives a CGI 500 and a
 * line on standard error (`wsgi.errors`).
 *
 * On Deno the script needs `--allow-env`.
 *
 * @param app The application.
 * @param options `maxBodySize` (a larger CONTENT_LENGTH is answered 413),
 * `debug`, `errors` (where `wsgi.errors` goes; standard error by default)
 * and `extraEnviron`.
 * @returns A Promise that settles once the whole response is written.
 *
 * @example A CGI script
 * ```ts ignore
 * #!/usr/bin/env -S deno run --allow-env
 * import { runWithCgi, type App } from "@tsgi/tsgi";
 *
 * const app: App = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`You asked for ${environ.PATH_INFO}\n`)];
 * };
 * await runWithCgi(app);
 * ```
 */
export async function runWithCgi(
  app: App,
  options?: CgiOptions,
): Promise<void> {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot run ${typeof app} as a CGI script: expected an application function`,
    );
  }
  // Only the running runtime's file is loaded.
  const io: CgiIo = typeof (globalThis as { Deno?: unknown }).Deno === "object"
    ? (await import("./_deno.ts")).cgiIo()
    : await (await import("./_node.ts")).cgiIo();
  await runCgi(app, io, options);
}
