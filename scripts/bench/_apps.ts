// The apps and raw handlers every benchmark measures, defined once so the
// wrk run, the in-process benches and the profiles measure the same thing.
import type { App } from "../../mod.ts";

/** The body of every hello world. */
export const TEXT = "Hello world!\n";
/** TEXT as the bytes an app returns. */
export const GREETING: Uint8Array<ArrayBuffer> = new TextEncoder().encode(TEXT);
/** The body of a 404. */
export const NOT_FOUND: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "Not found\n",
);

/**
 * PEP 3333's own hello world (`simple_app`: "200 OK", `Content-type:
 * text/plain`) with another Content-Type, routed on PATH_INFO so the
 * environ must be real.
 */
export function helloApp(contentType: string): App {
  return (environ, startResponse) => {
    if (environ.PATH_INFO !== "/") {
      startResponse("404 Not Found", [["Content-type", "text/plain"]]);
      return [NOT_FOUND];
    }
    startResponse("200 OK", [["Content-type", contentType]]);
    return [GREETING];
  };
}

/** PEP 3333's `simple_app`. */
export const hello: App = helloApp("text/plain");

/**
 * The same with a charset, which Deno's static Response path does not
 * know: what an app with any other Content-Type pays.
 */
export const helloCharset: App = helloApp("text/plain; charset=utf-8");

/** Reads a header and enumerates the environ: every lazy key is built. */
export const helloEnviron: App = (environ, startResponse) => {
  let keys = 0;
  for (const _ in environ) keys++;
  const agent = String(environ.HTTP_USER_AGENT ?? "-");
  startResponse("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["X-Keys", String(keys)],
    ["X-Agent-Length", String(agent.length)],
  ]);
  return [GREETING];
};

/** Raw hello world: a handler that takes no Request at all. */
export const raw = (): Response => new Response(TEXT);

/**
 * The least any gateway does: read the request line and answer with the
 * app's status, header and bytes. What tsgi adds is measured from here.
 */
export function floor(request: Request): Response {
  if (request.method === "" || !request.url.endsWith("/")) {
    return new Response(NOT_FOUND, { status: 404 });
  }
  return new Response(GREETING, {
    status: 200,
    headers: { "Content-type": "text/plain" },
  });
}
