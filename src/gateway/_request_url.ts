// URL pieces the environ needs, taken from `request.url` with string scans:
// `new URL()` costs more than the whole rest of the gateway.

/** The parts of an absolute URL string the environ is built from. */
export interface UrlParts {
  https: boolean;
  /** `host[:port]` as the URL has it (IPv6 literals keep their brackets). */
  host: string;
  /** The path, still percent-encoded, starting with `/`. */
  path: string;
  /** The query without `?`; `""` when there is none. */
  query: string;
}

// Deno leaves raw non-ASCII in the query and dot segments in the path;
// Bun and workerd do not. Both are rare, so one test finds either.
const UNUSUAL = /[\u0080-\uffff]|\/(?:\.|%2e)/i;
const NON_ASCII = /[\u0080-\uffff]+/g;

function encodeNonAscii(text: string): string {
  return text.replace(NON_ASCII, (run) => {
    try {
      return encodeURIComponent(run);
    } catch {
      // A lone surrogate has no UTF-8 form; the URL parser would write U+FFFD.
      return encodeURIComponent(run.toWellFormed());
    }
  });
}

function isDot(segment: string): boolean {
  return segment === "." || segment.toLowerCase() === "%2e";
}

function isDotDot(segment: string): boolean {
  if (segment.length < 2 || segment.length > 6) return false;
  const lower = segment.toLowerCase();
  return lower === ".." || lower === ".%2e" || lower === "%2e." ||
    lower === "%2e%2e";
}

/** RFC 3986 §5.2.4 remove_dot_segments, with WHATWG's `%2e` spellings. */
function removeDotSegments(path: string): string {
  const input = path.split("/");
  const output: string[] = [];
  for (let i = 1; i < input.length; i++) {
    const segment = input[i];
    const last = i === input.length - 1;
    if (isDot(segment)) {
      if (last) output.push("");
    } else if (isDotDot(segment)) {
      output.pop();
      if (last) output.push("");
    } else {
      output.push(segment);
    }
  }
  return "/" + output.join("/");
}

/**
 * Makes a target the same on every runtime: non-ASCII percent-encoded as
 * UTF-8 and dot segments resolved, as the WHATWG URL parser does.
 */
function normalize(parts: UrlParts): UrlParts {
  let path = encodeNonAscii(parts.path);
  if (/\/(?:\.|%2e)/i.test(path)) path = removeDotSegments(path);
  return { ...parts, path, query: encodeNonAscii(parts.query) };
}

/** Splits a serialized absolute URL (as `Request.url` gives it). */
export function splitUrl(url: string): UrlParts {
  const parts = splitRaw(url);
  return UNUSUAL.test(url) ? normalize(parts) : parts;
}

function splitRaw(url: string): UrlParts {
  const https = url.charCodeAt(4) === 115; // "https:" vs "http:"
  const hostStart = https ? 8 : 7;
  let pathStart = url.indexOf("/", hostStart);
  if (pathStart === -1) pathStart = url.length;
  let end = url.indexOf("#", pathStart);
  if (end === -1) end = url.length;
  const q = url.indexOf("?", pathStart);
  const host = url.slice(hostStart, pathStart);
  if (q === -1 || q > end) {
    return { https, host, path: url.slice(pathStart, end) || "/", query: "" };
  }
  return {
    https,
    host,
    path: url.slice(pathStart, q) || "/",
    query: url.slice(q + 1, end),
  };
}

// RFC 3986 authority characters (unreserved, sub-delims, ":", "[", "]",
// "%"), by char code. "@" is left out: a Host never carries userinfo.
const AUTHORITY = new Uint8Array(128);
for (
  const c
    of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%"
) AUTHORITY[c.charCodeAt(0)] = 1;

/**
 * Whether a serialized URL is absolute: Bun hands over the bare target
 * (`/path`) when the request's Host is not a valid one.
 */
export function isAbsoluteUrl(url: string): boolean {
  return url.startsWith("http://") || url.startsWith("https://");
}

/**
 * Whether `host[:port]` (as splitUrl gives it) is a plausible authority.
 * Deno builds `Request.url` from the Host header as sent, so `Host: a b@c`
 * would otherwise reach the app as SERVER_NAME.
 */
export function isValidHost(host: string): boolean {
  if (host === "") return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 128 || AUTHORITY[c] === 0) return false;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 32;
  return c >= 97 && c <= 102 ? c - 87 : -1;
}

/**
 * Percent-decodes a path octet by octet, each decoded octet becoming one
 * char U+0000–U+00FF (PEP 3333's latin-1 rule). Malformed escapes stay as
 * they are, as wsgiref's `unquote` leaves them.
 */
export function decodePath(path: string): string {
  let i = path.indexOf("%");
  if (i === -1) return path;
  let out = "";
  let last = 0;
  while (i !== -1) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hi === -1 ? -1 : hexValue(path.charCodeAt(i + 2));
    if (lo === -1) {
      i = path.indexOf("%", i + 1);
      continue;
    }
    out += path.slice(last, i) + String.fromCharCode(hi * 16 + lo);
    last = i + 3;
    i = path.indexOf("%", last);
  }
  return out + path.slice(last);
}

/** Splits `host[:port]`, keeping IPv6 brackets on the name. */
export function splitHost(
  host: string,
  https: boolean,
): [name: string, port: string] {
  const colon = host.lastIndexOf(":");
  if (colon === -1 || host.indexOf("]", colon) !== -1) {
    return [host, https ? "443" : "80"];
  }
  return [host.slice(0, colon), host.slice(colon + 1)];
}
