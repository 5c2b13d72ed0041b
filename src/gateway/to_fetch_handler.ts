/**
 * The gateway: a tsgi app as a Fetch handler for Deno, Bun, Workers and
 * tsgi's Node server.
 *
 * @module
 */

import { configure, createEnviron, EnvironState } from "./_environ.ts";
import { errorResponse, Exchange } from "./_exchange.ts";
import { LogErrorStream } from "./error_stream.ts";
import type { App, FetchHandler, GatewayOptions } from "../types.ts";

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
        new LogErrorStream(config.errors).write(
          `tsgi: request body of ${length} bytes is larger than maxBodySize (${config.maxBodySize}), answered 413 (${request.method} ${request.url})\n`,
        );
        return errorResponse(
          413,
          "Content Too Large",
          undefined,
          false,
          request.method === "HEAD",
        );
      }
    }
    const state = new EnvironState(request, runtimeArgs, config);
    const refused = createEnviron(state);
    if (refused === 400 || refused === 404) {
      return errorResponse(
        refused,
        refused === 400 ? "Bad Request" : "Not Found",
        undefined,
        false,
        request.method === "HEAD",
      );
    }
    return new Exchange(state).run(app);
  };
}
