// What a request may claim, and what the environ takes of it: the request
// target, the Host, the Content-Length and the method, each checked once
// here for every gateway (Deno, Bun, Node, Workers, CGI). Read with string
// scans: `new URL()` costs more than the whole rest of the gateway.

/** The path and query of a request target, as the environ takes them. */
export interface TargetParts {
  /** The path, still percent-encoded, starting with `/`. */
  path: string;
  /** The query without `?`; `""` when there is none. */
  query: string;
}

/** Where the server and the app are, as one request says. */
export interface RequestTarget extends TargetParts {
  /**
   * The authority an absolute URL carried (`host[:port]`); undefined for an
   * origin-form target (`/path?query`).
   */
  authority: string | undefined;
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

// A dot segment, plain or percent-encoded: rare, so one test finds it.
const DOT_SEGMENT = /\/(?:\.|%2e)/i;
// Anything a request target may not hold as it is (RFC 9112 §3.2): raw
// octets above 0x7F (runtimes hand them over as one char each), controls,
// space and DEL.
const NOT_TARGET = /[^\x21-\x7e]/;

/**
 * Reads a request target, or the serialized URL a runtime made of one
 * (`http://host/path?query`), into the parts the environ is built from.
 *
 * One rule on every runtime: the path keeps its bytes as sent (a backslash
 * is a backslash), dot segments are resolved as RFC 3986 §5.2.4 and the
 * WHATWG URL parser resolve them, a fragment is dropped, and a target with
 * a raw octet above 0x7F, a control or a space is refused: it has no one
 * meaning, and the runtimes that do not refuse it guess differently.
 *
 * @returns The parts, or undefined when the target is none of origin-form
 * (`/…`) or absolute-form (`http://…`, `https://…`).
 */
export function readTarget(url: string): RequestTarget | undefined {
  let authority: string | undefined;
  let start = 0;
  if (url.charCodeAt(0) !== 47) { // not "/": absolute-form
    const scheme = url.startsWith("http://")
      ? 7
      : url.startsWith("https://")
      ? 8
      : 0;
    if (scheme === 0) return undefined;
    start = scheme;
    while (start < url.length) {
      const c = url.charCodeAt(start);
      if (c === 47 || c === 63 || c === 35) break; // "/", "?", "#"
      start++;
    }
    authority = url.slice(scheme, start);
  }
  if (NOT_TARGET.test(url)) return undefined;
  let end = url.indexOf("#", start);
  if (end === -1) end = url.length;
  const q = url.indexOf("?", start);
  let path: string;
  let query = "";
  if (q === -1 || q > end) path = url.slice(start, end);
  else {
    path = url.slice(start, q);
    query = url.slice(q + 1, end);
  }
  if (path === "") path = "/";
  else if (DOT_SEGMENT.test(path)) path = removeDotSegments(path);
  return { authority, path, query };
}

// RFC 3986 reg-name characters (unreserved, sub-delims, "%" of
// pct-encoded), by char code. No "@", "/", "?", "#", ":" or space: a Host
// that held one could move what follows it into the path.
const REG_NAME = new Uint8Array(128);
for (
  const c
    of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%"
) REG_NAME[c.charCodeAt(0)] = 1;
const IP_LITERAL =
  /^\[(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*\]$|^\[v[0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+\]$/;

/**
 * Splits a Host header (or an absolute URL's authority) into the
 * `SERVER_NAME` and `SERVER_PORT` it names, checking it is RFC 9110's
 * `uri-host [":" port]`: an IP literal in brackets, or a name of
 * unreserved, sub-delim and percent-encoded characters, and a port of
 * digits up to 65535. An empty port is the scheme's default.
 *
 * @returns `[name, port]`, or undefined when the value is not a host: a
 * path, query, userinfo, space or non-numeric port could otherwise reach
 * the app as its own address.
 */
export function parseHost(
  host: string,
  defaultPort: string,
): [name: string, port: string] | undefined {
  let colon = host.lastIndexOf(":");
  let nameEnd = host.length;
  if (host.charCodeAt(0) === 91) { // "[": IP literal
    const close = host.indexOf("]");
    if (close === -1) return undefined;
    nameEnd = close + 1;
    if (nameEnd < host.length && host.charCodeAt(nameEnd) !== 58) {
      return undefined;
    }
    if (!IP_LITERAL.test(host.slice(0, nameEnd))) return undefined;
    colon = nameEnd < host.length ? nameEnd : -1;
  } else {
    if (colon !== -1) nameEnd = colon;
    if (nameEnd === 0) return undefined;
    for (let i = 0; i < nameEnd; i++) {
      const c = host.charCodeAt(i);
      if (c >= 128 || REG_NAME[c] === 0) return undefined;
    }
  }
  if (colon === -1) return [host, defaultPort];
  const port = host.slice(colon + 1);
  if (port === "") return [host.slice(0, colon), defaultPort];
  if (port.length > 5 || !/^[0-9]+$/.test(port) || Number(port) > 65535) {
    return undefined;
  }
  return [host.slice(0, colon), port];
}

/**
 * Reads a Content-Length header as the runtime hands it over. Runtimes
 * join a repeated header with ", ": identical values are one length (RFC
 * 9112 §6.3), differing ones are no length at all.
 *
 * @returns The length, -1 when there is no header, or NaN when the value
 * is not one non-negative integer (the request is to be refused with 400).
 */
export function readContentLength(value: string | null): number {
  if (value === null) return -1;
  if (/^[0-9]{1,15}$/.test(value)) return Number(value);
  let length = NaN;
  for (const part of value.split(",")) {
    const trimmed = part.trim();
    if (!/^[0-9]{1,15}$/.test(trimmed)) return NaN;
    const n = Number(trimmed);
    if (length === length && n !== length) return NaN; // differing values
    length = n;
  }
  return length;
}

// RFC 9110 §5.6.2 token, upper case only: see readMethod.
const UPPER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Z]+$/;

/**
 * Checks a request method. Methods are case-sensitive (RFC 9110 §9.1) and
 * the runtimes disagree about lower-case ones: Node's parser answers 400,
 * Bun closes the connection, Deno passes them on. tsgi refuses them
 * everywhere, so `REQUEST_METHOD` is always the method as sent, in upper
 * case. CONNECT asks for a tunnel, which a WSGI app cannot give.
 *
 * @returns undefined for a method the app may see; else the status that
 * refuses it: 400 for a method that is not an upper-case token, 501 for
 * CONNECT unless `allowConnect`.
 */
export function checkMethod(
  method: string,
  allowConnect: boolean,
): 400 | 501 | undefined {
  switch (method) {
    case "GET":
    case "HEAD":
    case "POST":
      return undefined;
    case "CONNECT":
      return allowConnect ? undefined : 501;
  }
  return UPPER_TOKEN.test(method) ? undefined : 400;
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
