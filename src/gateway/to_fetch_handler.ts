/**
 * The gateway: a tsgi app as a Fetch handler for Deno, Bun, Workers and
 * tsgi's Node server.
 *
 * @module
 */

import {
  configure,
  createEnviron,
  type GatewayConfig,
  RequestState,
} from "./_environ.ts";
import { checkMethod, readContentLength } from "./_request_rules.ts";
import { show } from "./_response_rules.ts";
import { Exchange } from "./_exchange.ts";
import { errorResponse } from "./_response.ts";
import { LogErrorStream } from "./error_stream.ts";
import {
  runWithWebSocket,
  upgraderOf,
  websocketPossible,
} from "./_websocket.ts";
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
    const fetch = (app as { fetch?: unknown } | null)?.fetch;
    throw new TypeError(
      typeof fetch === "function"
        ? "Cannot serve an object with a fetch method: a tsgi app is a function (environ, startResponse); wrap a Fetch handler with fromFetchHandler(handler.fetch)"
        : `Cannot serve ${
          show(app)
        }: expected an application function (environ, startResponse)`,
    );
  }
  const config = configure(options);
  const limit = config.maxBodySize;
  const websocket = options?.websocket;
  const upgrades = websocketPossible(websocket);
  return function tsgiHandler(
    request: Request,
    ...runtimeArgs: unknown[]
  ): Response | Promise<Response> {
    // A getter that calls out on Deno: read once.
    const method = request.method;
    const head = method === "HEAD";
    const refused = checkMethod(method, config.allowConnect);
    if (refused !== undefined) {
      log(config, `refused method ${JSON.stringify(method)}`, refused, request);
      return errorResponse(refused, { head });
    }
    if ((method !== "GET" && !head) || limit !== Infinity) {
      // Checked before the app runs, so no app sees a length that is not
      // one number and no repeated header slips past maxBodySize.
      const length = readContentLength(request.headers.get("content-length"));
      if (length !== length) {
        log(config, "Content-Length is not one number", 400, request);
        return errorResponse(400, { head });
      }
      if (length > limit) {
        log(
          config,
          `request body of ${length} bytes is larger than maxBodySize (${limit})`,
          413,
          request,
        );
        return errorResponse(413, { head });
      }
    }
    const state = new RequestState(request, runtimeArgs, config, method);
    const environ = createEnviron(state);
    if (environ === 400 || environ === 404) {
      if (environ === 400) {
        const host = JSON.stringify(request.headers.get("host"));
        log(
          config,
          `the target or the Host ${host} is not valid`,
          400,
          request,
        );
      }
      return errorResponse(environ, { head });
    }
    if (upgrades && method === "GET") {
      const upgrader = upgraderOf(request, runtimeArgs, websocket);
      if (upgrader !== undefined) return runWithWebSocket(state, app, upgrader);
    }
    return new Exchange(state).run(app);
  };
}

/** Says on wsgi.errors' sink why a request was refused before the app ran. */
function log(
  config: GatewayConfig,
  why: string,
  status: number,
  request: Request,
): void {
  new LogErrorStream(config.errors).write(
    `tsgi: ${why}, answered ${status} (${request.method} ${
      JSON.stringify(request.url)
    })\n`,
  );
}
