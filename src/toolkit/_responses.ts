// The plain answers a dispatcher gives when nothing handles a request,
// shared by the router and mount().

import type { App, Header } from "../types.ts";

const encoder = new TextEncoder();

function plain(status: string, extra: Header[] = []): App {
  const body = encoder.encode(status + "\n");
  const headers: Header[] = [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ...extra,
  ];
  return (_environ, startResponse) => {
    // A copy per response: an outer middleware may edit the list.
    startResponse(status, headers.map(([n, v]) => [n, v]));
    return [body];
  };
}

/** 404 Not Found. */
export const notFound: App = plain("404 Not Found");

/** 405 Method Not Allowed, with the `Allow` header RFC 9110 §15.5.6 requires. */
export function methodNotAllowed(allow: string): App {
  return plain("405 Method Not Allowed", [["Allow", allow]]);
}

/** 204 for an OPTIONS request the routes do not handle themselves. */
export function options(allow: string): App {
  return (_environ, startResponse) => {
    startResponse("204 No Content", [["Allow", allow]]);
    return [];
  };
}
