/**
 * The gateway: a tsgi app as a Fetch handler for Deno, Bun, Workers and
 * tsgi's Node server.
 *
 * @module
 */

import { configure, createEnviron, EnvironState } from "./_environ.ts";
import { errorResponse, Exchange } from "./_exchange.ts";
import { hasValidHost } from "./_path.ts";
import type { App, FetchHandler, GatewayOptions } from "./types.ts";

/**
 * Turns a tsgi application into a Fetch handler.
 *
 * The handler builds the environ from the Request (lazily: headers are read
 * only when the app asks for them), calls the app, and answers with the
 * Response the app described. A result whose body is fully known (an array)
 * is sent with its Content-Length and no stream; anything else is streamed,
 * pulling the next chunk only when the client is ready for it, and the
 * result's `close()` runs exactly once however the request ends.
 *
 * @param app The application.
 * @param options Gateway options.
 * @returns A handler for `Deno.serve`, `Bun.serve`, `export default { fetch }`.
 *
 * @example Hello world
 * ```ts
 * import { toFetchHandler } from "@tsgi/tsgi";
 * const handler = toFetchHandler((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!\n")];
 * });
 * const response = await handler(new Request("http://localhost/"));
 * console.log(await response.text()); // "Hello world!\n"
 * ```
 */
export function toFetchHandler(
  app: App,
  options?: GatewayOptions,
): FetchHandler {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot serve ${typeof app}: expected an application function`,
    );
  }
  const config = configure(options);
  const limited = config.maxBodySize !== Infinity;
  return function tsgiHandler(
    request: Request,
    ...runtimeArgs: unknown[]
  ): Response | Promise<Response> {
    if (limited) {
      const length = request.headers.get("content-length");
      if (length !== null && Number(length) > config.maxBodySize) {
        return errorResponse(
          413,
          "Content Too Large",
          undefined,
          false,
          request.method === "HEAD",
        );
      }
    }
    if (!hasValidHost(request.url)) {
      return errorResponse(
        400,
        "Bad Request",
        undefined,
        false,
        request.method === "HEAD",
      );
    }
    const state = new EnvironState(request, runtimeArgs, config);
    const environ = createEnviron(state);
    return new Exchange({
      environ,
      errors: state.errors,
      debug: config.debug,
      method: request.method,
    }).run(app);
  };
}
