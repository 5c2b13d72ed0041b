// Building the Fetch Response an exchange answers with: the status and
// header list as the runtimes take them fastest, the gateway's own error
// answers, and the one mark a Response carries for the servers that read
// it (KNOWN_LENGTH, SPEC.md §10).

import { describeError } from "./_values.ts";
import type { Header } from "../types.ts";

const encoder = new TextEncoder();
// A BOM stays in the text. Invalid bytes become U+FFFD, which is how a body
// that is not UTF-8 (or merely contains U+FFFD) is told apart: a fatal
// decoder would say so with an exception, at three times the cost on Deno.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const TEXTUAL = /^text\/|json|xml|javascript|utf-8/i;

/**
 * Set on a Response whose body is known whole and whose headers carry no
 * Content-Length: the body's length in bytes. Deno, Bun and workerd send a
 * byte body with its length themselves; a server that sees only the
 * Response (tsgi's Node server, the CGI gateway, the access log) reads it
 * here instead of counting the body. `Symbol.for`, so a second copy of tsgi
 * in one process agrees.
 */
export const KNOWN_LENGTH: unique symbol = Symbol.for("tsgi.knownLength");

/** The length KNOWN_LENGTH or the Content-Length header gives; -1 if none. */
export function knownLength(response: Response): number {
  const known = (response as unknown as Record<symbol, number | undefined>)[
    KNOWN_LENGTH
  ];
  if (known !== undefined) return known;
  const header = response.headers.get("content-length");
  return header === null ? -1 : Number(header);
}

/** Marks a Response with the length of its whole body. */
export function markKnownLength(response: Response, length: number): void {
  (response as unknown as Record<symbol, number>)[KNOWN_LENGTH] = length;
}

/**
 * The header list as a record when that says the same: the runtimes take
 * a record faster than a list of pairs (Deno runs each pair through the
 * iterator protocol). A name given twice, a name a record would move to
 * the front (one that is an array index) or one that names a prototype
 * slot keeps the list.
 */
export function headersInit(list: Header[]): HeadersInit {
  const record: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    const first = name.charCodeAt(0);
    if (
      (first >= 48 && first <= 57) || name === "__proto__" ||
      Object.hasOwn(record, name)
    ) return list;
    record[name] = list[i][1];
  }
  return record;
}

/** The header list without Content-Length. */
export function withoutLength(list: Header[]): Header[] {
  return list.filter(([name]) =>
    name.length !== 14 || name.toLowerCase() !== "content-length"
  );
}

/**
 * The body of a HEAD answer whose GET body has no known length: empty, but
 * a stream that yields once, so that no runtime takes it for a known empty
 * body and announces `Content-Length: 0` (Bun does for a null body and for
 * a stream that closes at once) where a GET would have streamed.
 */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(new Uint8Array(0));
      controller.close();
    },
  });
}

/**
 * A small text body as a string, for a runtime that sends a string as it is
 * and copies bytes first (Deno: see BENCHMARKS.md). Only valid UTF-8 is
 * turned into a string, so the bytes on the wire stay the app's, and only
 * under the app's own text-like Content-Type, which keeps the runtime from
 * adding `text/plain`.
 */
export function textBody(
  bytes: Uint8Array,
  headers: Header[],
): Uint8Array | string {
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    if (name.length !== 12 || name.toLowerCase() !== "content-type") continue;
    if (!TEXTUAL.test(headers[i][1])) return bytes;
    const text = utf8.decode(bytes);
    return text.includes("\uFFFD") ? bytes : text;
  }
  return bytes;
}

const REASONS = {
  400: "Bad Request",
  404: "Not Found",
  413: "Content Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
} as const;

/** A status the gateway answers with by itself. */
export type ErrorStatus = keyof typeof REASONS;

/** What {@linkcode errorResponse} answers with besides its status. */
export interface ErrorResponseOptions {
  /** The request was HEAD: the body is left out, its length kept. */
  head?: boolean;
  /** The error, shown in the body only when `debug` is on. */
  error?: unknown;
  /** Show `error` and its stack. */
  debug?: boolean;
}

/** Builds a plain-text error response that leaks nothing unless debugging. */
export function errorResponse(
  status: ErrorStatus,
  options: ErrorResponseOptions = {},
): Response {
  const reason = REASONS[status];
  const { head = false, error, debug = false } = options;
  const text = debug && error !== undefined
    ? `${status} ${reason}\n\n${describeError(error)}\n`
    : `${status} ${reason}\n`;
  const body = encoder.encode(text);
  return new Response(head ? null : body, {
    status,
    statusText: reason,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.length),
    },
  });
}
