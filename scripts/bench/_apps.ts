// The apps and raw handlers every benchmark measures, defined once so the
// wrk run, the in-process benches and the profiles measure the same thing.

export {
  GREETING,
  hello,
  helloApp,
  helloCharset,
  helloEnviron,
  NOT_FOUND,
  TEXT,
} from "./_shared_apps.mjs";
import { GREETING, NOT_FOUND, TEXT } from "./_shared_apps.mjs";

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
