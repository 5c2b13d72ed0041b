/**
 * The other way round from `toFetchHandler`: any Fetch handler (a Hono
 * app's `fetch`, an itty-router, a Deno std file server) as a tsgi app.
 *
 * @module
 */

import {
  encodePath,
  hasBody,
  OutgoingBody,
  requestHeaders,
  respond,
} from "./_fetch.ts";
import { origin } from "../toolkit/_url.ts";
import type {
  App,
  AppIterable,
  Environ,
  StartResponse,
  WebSocketUpgrade,
} from "../types.ts";

/** A Fetch handler as {@linkcode fromFetchHandler} takes it. */
export type AnyFetchHandler = (
  request: Request,
  ...args: never[]
) => Response | Promise<Response>;

/**
 * The URL of the request an environ describes, as a Fetch handler is given
 * it: scheme, `HTTP_HOST` (or `SERVER_NAME:SERVER_PORT`), `SCRIPT_NAME` +
 * `PATH_INFO` percent-encoded again, and `QUERY_STRING`.
 *
 * It is {@linkcode requestUri} with one difference: every RFC 3986 path
 * character (`:@!$&'()*+,;=` and `/`) stays as it is, where wsgiref's
 * `request_uri` escapes all but `/;=,`, so a Fetch router sees the path the
 * client sent. Both take the origin the same way.
 *
 * @param environ The request environ.
 * @returns The absolute URL.
 *
 * @example
 * ```ts
 * import { environUrl } from "@tsgi/tsgi";
 * import type { Environ } from "@tsgi/tsgi";
 * const environ = {
 *   "wsgi.url_scheme": "http", HTTP_HOST: "localhost:8000",
 *   SCRIPT_NAME: "/app", PATH_INFO: "/caf\xe9", QUERY_STRING: "x=1",
 * } as unknown as Environ;
 * console.log(environUrl(environ)); // "http://localhost:8000/app/caf%E9?x=1"
 * ```
 */
export function environUrl(environ: Environ): string {
  const path = encodePath(
    (environ.SCRIPT_NAME ?? "") + (environ.PATH_INFO ?? ""),
  );
  const query = environ.QUERY_STRING;
  return `${origin(environ)}${path.startsWith("/") ? path : "/" + path}${
    query ? "?" + query : ""
  }`;
}

/**
 * Turns a Fetch handler into a tsgi app, so a Hono (or any Fetch-API) app
 * can be mounted beside tsgi apps and wrapped in tsgi middleware.
 *
 * Each call builds a Request from the environ: the URL from
 * {@linkcode environUrl}, the `HTTP_*` and `CONTENT_*` variables as headers
 * (hop-by-hop ones left out), and `wsgi.input` as a streamed body read only
 * as the handler reads it. The handler is called with the runtime arguments
 * the gateway received (`environ["tsgi.runtime_args"]`), so a Hono app's
 * `c.env` and Deno's connection info still work. Its Response is answered
 * through start_response, Set-Cookie headers kept apart and hop-by-hop
 * headers dropped, and its body streams chunk by chunk; `close()` cancels
 * the body and aborts the Request's signal, which is how a client that went
 * away reaches the handler.
 *
 * A handler mounted under a prefix sees the full path (`SCRIPT_NAME` +
 * `PATH_INFO`) as Fetch apps expect; Hono's `app.basePath()` or
 * `app.route()` match it.
 *
 * @param handler The Fetch handler.
 * @returns The tsgi application.
 *
 * @example Serve a Fetch handler through tsgi middleware
 * ```ts
 * import { fromFetchHandler } from "@tsgi/tsgi";
 * import { toFetchHandler } from "@tsgi/tsgi";
 * const app = fromFetchHandler((request) =>
 *   new Response(`you asked for ${new URL(request.url).pathname}`)
 * );
 * const response = await toFetchHandler(app)(new Request("http://localhost/hi"));
 * console.log(await response.text()); // "you asked for /hi"
 * ```
 */
export function fromFetchHandler(handler: AnyFetchHandler): App {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot adapt ${typeof handler}: expected a Fetch handler function`,
    );
  }
  const call = handler as (
    request: Request,
    ...args: unknown[]
  ) => Response | Promise<Response>;
  return function fetchApp(environ, startResponse) {
    const upgrade = environ["tsgi.websocket"];
    const original = environ["tsgi.request"];
    if (upgrade !== undefined && original instanceof Request) {
      return upgradeThrough(call, original, environ, startResponse, upgrade);
    }
    const abort = new AbortController();
    const method = environ.REQUEST_METHOD;
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers: requestHeaders(environ),
      signal: abort.signal,
    };
    if (hasBody(environ)) {
      init.body = new OutgoingBody(environ["wsgi.input"]).stream();
      init.duplex = "half";
    }
    const request = new Request(environUrl(environ), init);
    const args = (environ["tsgi.runtime_args"] as unknown[] | undefined) ?? [];
    const answer = (response: Response): AppIterable => {
      if (!(response instanceof Response)) {
        throw new TypeError(
          `Cannot use ${typeof response} from the Fetch handler: expected a Response`,
        );
      }
      return respond(response, startResponse, (complete) => {
        if (!complete) abort.abort();
      });
    };
    const response = call(request, ...args);
    return response instanceof Promise
      ? response.then(answer)
      : answer(response);
  };
}

/**
 * A WebSocket upgrade request goes to the handler as the runtime gave it
 * (a rebuilt Request would lose Upgrade and Connection, which are
 * hop-by-hop): a handler that upgrades with the runtime's own API (Hono's
 * `upgradeWebSocket`) answers 101, which the gateway returns as it is.
 */
function upgradeThrough(
  call: (request: Request, ...args: unknown[]) => Response | Promise<Response>,
  request: Request,
  environ: Environ,
  startResponse: StartResponse,
  upgrade: WebSocketUpgrade,
): AppIterable | Promise<AppIterable> {
  const args = (environ["tsgi.runtime_args"] as unknown[] | undefined) ?? [];
  const answer = (response: Response | undefined): AppIterable => {
    if (response === undefined || response.status === 101) {
      upgrade.respondWith(response);
      return [];
    }
    if (!(response instanceof Response)) {
      throw new TypeError(
        `Cannot use ${typeof response} from the Fetch handler: expected a Response`,
      );
    }
    return respond(response, startResponse, () => {});
  };
  const response = call(request, ...args);
  return response instanceof Promise ? response.then(answer) : answer(response);
}
