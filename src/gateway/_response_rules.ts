// Validation of what an application hands to start_response, shared by the
// gateway, the validator and the headers helper so all three agree.

import type { Header } from "../types.ts";

/**
 * Hop-by-hop header names (RFC 2616 §13.5.1, as wsgiref lists them, plus the
 * real `trailer` spelling and `proxy-connection`), lower-case.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: TAB, SP, VCHAR and obs-text (U+0080–U+00FF); nothing else.
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// Reason phrase: the same alphabet as a field value (RFC 9112 §4).
// The reason may be empty ("200 "), but neither starts nor ends with white
// space: PEP 3333 wants one space between code and reason, none around.
const STATUS =
  /^([1-9][0-9]{2}) ((?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)$/;

/** A parsed, checked status line. */
export interface Status {
  code: number;
  reason: string;
}

const statusCache = new Map<string, Status>();

/** Statuses whose responses never carry content (RFC 9110 §6.4.1). */
export function isBodiless(code: number): boolean {
  return code === 204 || code === 205 || code === 304;
}

/** Show a value in an error message without letting it break the line. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) {
    return `a ${value.constructor.name} of ${value.length} bytes`;
  }
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object"
    ? `an object (${value.constructor?.name ?? "null prototype"})`
    : `${typeof value} ${String(value)}`;
}

/**
 * Parses `"NNN Reason"`; throws a TypeError or RangeError naming the value.
 * Status strings are nearly always literals, so checked ones are remembered.
 */
export function parseStatus(status: unknown): Status {
  if (typeof status !== "string") {
    throw new TypeError(
      `Cannot use status ${show(status)}: expected a string like "200 OK"`,
    );
  }
  const cached = statusCache.get(status);
  if (cached !== undefined) return cached;
  const match = STATUS.exec(status);
  if (match === null) {
    throw new TypeError(
      `Cannot use status ${
        show(status)
      }: expected three digits, one space and a reason phrase of printable latin-1`,
    );
  }
  const code = Number(match[1]);
  if (code < 200 || code > 599) {
    throw new RangeError(
      `Cannot use status ${
        show(status)
      }: a final response status must be 200-599`,
    );
  }
  const parsed = { code, reason: match[2] };
  if (statusCache.size < 1024) statusCache.set(status, parsed);
  return parsed;
}

// Checked names, keyed by the spelling the app used; the value is the
// lower-case name. Header names repeat across requests, values do not.
const nameCache = new Map<string, string>();

/** Checks one header name; returns it in lower case. */
export function checkHeaderName(name: unknown): string {
  if (typeof name === "string") {
    const known = nameCache.get(name);
    if (known !== undefined) return known;
  }
  if (typeof name !== "string" || !TOKEN.test(name)) {
    throw new TypeError(
      `Cannot use header name ${show(name)}: expected an HTTP token`,
    );
  }
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower)) {
    throw new TypeError(
      `Cannot use header ${
        show(name)
      }: hop-by-hop headers belong to the server (PEP 3333)`,
    );
  }
  if (nameCache.size < 4096) nameCache.set(name, lower);
  return lower;
}

// Values found good; most (Content-Type, Cache-Control) repeat verbatim.
const valueCache = new Set<string>();

/** Checks one header value; throws a TypeError naming the header. */
export function checkHeaderValue(name: string, value: unknown): void {
  if (typeof value === "string" && valueCache.has(value)) return;
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot use header ${show(name)} value ${show(value)}: expected a string`,
    );
  }
  if (BAD_VALUE.test(value)) {
    throw new TypeError(
      `Cannot use header ${show(name)} value ${
        show(value)
      }: control characters and code points above U+00FF are not allowed`,
    );
  }
  if (value.length <= 64 && valueCache.size < 4096) valueCache.add(value);
}

/**
 * Checks a header list and finds its Content-Length.
 *
 * @returns the declared Content-Length, or -1 when there is none.
 */
export function checkHeaders(headers: unknown): number {
  if (!Array.isArray(headers)) {
    throw new TypeError(
      `Cannot use headers ${show(headers)}: expected an array of [name, value]`,
    );
  }
  let contentLength = -1;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i] as Header;
    if (!Array.isArray(header) || header.length !== 2) {
      throw new TypeError(
        `Cannot use header ${
          show(header)
        } at index ${i}: expected [name, value]`,
      );
    }
    const lower = checkHeaderName(header[0]);
    checkHeaderValue(header[0], header[1]);
    if (lower === "content-length") {
      const value = header[1];
      if (!/^[0-9]{1,15}$/.test(value)) {
        throw new TypeError(
          `Cannot use Content-Length ${
            show(value)
          }: expected a non-negative integer`,
        );
      }
      const n = Number(value);
      if (contentLength !== -1 && contentLength !== n) {
        throw new TypeError(
          `Cannot use Content-Length ${
            show(value)
          }: another says ${contentLength}`,
        );
      }
      contentLength = n;
    }
  }
  return contentLength;
}
