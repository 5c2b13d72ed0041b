// Rebuilding a request's URL from an environ, shared by wsgiref's
// requestUri (util.ts) and the URL a Fetch handler is given
// (from_fetch_handler.ts, proxy.ts): one origin rule and one encoder, so
// the two differ only in which path characters they leave as they are.

import { nativeToBytes } from "../gateway/_latin1.ts";
import type { Environ } from "../types.ts";

const HEX = "0123456789ABCDEF";
// RFC 3986 unreserved characters, which quote() never escapes.
const UNRESERVED = /[A-Za-z0-9_.\-~]/;

/** RFC 3986 path characters (pchar and "/") beyond the unreserved ones. */
export const PATH_SAFE = "!$&'()*+,;=:@/";

/**
 * Percent-encodes a native string octet by octet (Python's `quote(s, safe,
 * encoding="latin-1")`): PATH_INFO "/caf\u00c3\u00a9" becomes "/caf%C3%A9",
 * the UTF-8 the client sent. A char above U+00FF is no octet: with `what`
 * it is a TypeError naming that variable, without it is sent as UTF-8.
 */
export function quote(text: string, safe: string, what?: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const c = text.charCodeAt(i);
    if (c < 0x80 && (UNRESERVED.test(ch) || safe.includes(ch))) {
      out += ch;
    } else if (c <= 0xff) {
      out += "%" + HEX[c >> 4] + HEX[c & 15];
    } else if (what !== undefined) {
      nativeToBytes(text, what); // throws the TypeError that names the char
    } else {
      const code = text.codePointAt(i)!;
      if (code > 0xffff) i++;
      out += encodeURIComponent(String.fromCodePoint(code));
    }
  }
  return out;
}

/** `scheme://host[:port]`, as PEP 3333's URL reconstruction has it. */
export function origin(environ: Readonly<Environ>): string {
  const scheme = environ["wsgi.url_scheme"] ?? "http";
  const host = environ.HTTP_HOST;
  if (typeof host === "string" && host !== "") return `${scheme}://${host}`;
  const port = environ.SERVER_PORT;
  const usual = scheme === "https" ? "443" : "80";
  return port === usual || port === undefined || port === ""
    ? `${scheme}://${environ.SERVER_NAME}`
    : `${scheme}://${environ.SERVER_NAME}:${port}`;
}
