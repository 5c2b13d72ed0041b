/**
 * HTML forms: read an `application/x-www-form-urlencoded` body from
 * `wsgi.input` within a size limit, and the errors form readers throw with
 * the answer (400 or 413) that goes with each.
 *
 * @module
 */

import { BODY_TOO_LARGE } from "../gateway/_body_errors.ts";
import { concat } from "../gateway/_bytes.ts";
import type { AppIterable, Environ, StartResponse } from "../types.ts";

/**
 * Thrown when a form passes one of its limits; answer it 413 (see
 * {@linkcode answerFormError}).
 *
 * @example Tell which limit was passed
 * ```ts
 * import { FormLimitError } from "@tsgi/tsgi/form";
 * const error = new FormLimitError("maxFileSize", 1024, "the file \"a.bin\" is larger");
 * console.log(error.limit, error.status); // "maxFileSize" 413
 * ```
 */
export class FormLimitError extends RangeError {
  /** The option that set the limit, such as `"maxFileSize"`. */
  readonly limit: string;
  /** Its value. */
  readonly value: number;
  /** The HTTP status to answer with. */
  readonly status: 413 = 413;

  /**
   * Makes the error for a passed limit.
   *
   * @param limit The option's name.
   * @param value The option's value.
   * @param what What passed it, as a sentence fragment.
   */
  constructor(limit: string, value: number, what: string) {
    super(
      `Cannot read the form: ${what} than ${limit} (${value}); raise ${limit} to accept it`,
    );
    this.name = "FormLimitError";
    this.limit = limit;
    this.value = value;
  }
}

/**
 * Thrown when a form body is malformed; answer it 400 (see
 * {@linkcode answerFormError}).
 *
 * @example
 * ```ts
 * import { FormParseError } from "@tsgi/tsgi/form";
 * const error = new FormParseError("Cannot parse the form: the body ended inside a part");
 * console.log(error instanceof TypeError, error.status); // true 400
 * ```
 */
export class FormParseError extends TypeError {
  /** The HTTP status to answer with. */
  readonly status: 400 | 415;

  /**
   * Makes the error for a malformed form.
   *
   * @param message What is wrong, and how to fix it.
   * @param status 400, or 415 for a Content-Type the reader does not take.
   */
  constructor(message: string, status: 400 | 415 = 400) {
    super(message);
    this.name = "FormParseError";
    this.status = status;
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  413: "Content Too Large",
  415: "Unsupported Media Type",
};

/**
 * Answers an error a form reader threw: 413 for a {@linkcode FormLimitError}
 * or a body over the gateway's `maxBodySize`, 400 (or 415) for a
 * {@linkcode FormParseError}, with the message as a plain-text body.
 * Anything else is rethrown.
 *
 * @param error What was caught.
 * @param startResponse The app's `startResponse`.
 * @returns The body of the answer.
 *
 * @example Answer a form's errors
 * ```ts
 * import { answerFormError, readForm } from "@tsgi/tsgi/form";
 * import type { App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   let form: URLSearchParams;
 *   try {
 *     form = await readForm(environ, { maxSize: 4096 });
 *   } catch (error) {
 *     return answerFormError(error, startResponse);
 *   }
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode(`Hello ${form.get("name")}`)];
 * };
 * ```
 */
export function answerFormError(
  error: unknown,
  startResponse: StartResponse,
): AppIterable {
  let status: number;
  if (error instanceof FormLimitError || error instanceof FormParseError) {
    status = error.status;
  } else if (
    error instanceof RangeError &&
    (error as unknown as Record<symbol, unknown>)[BODY_TOO_LARGE] === true
  ) status = 413;
  else throw error;
  const body = new TextEncoder().encode(error.message + "\n");
  startResponse(`${status} ${REASONS[status]}`, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
}

/**
 * Options of {@linkcode readForm}.
 *
 * @example
 * ```ts
 * import type { ReadFormOptions } from "@tsgi/tsgi/form";
 * const options: ReadFormOptions = { maxSize: 64 * 1024 };
 * ```
 */
export interface ReadFormOptions {
  /**
   * The largest body read, in bytes; a longer one throws a
   * {@linkcode FormLimitError} as soon as it is seen to be longer.
   *
   * @default {1048576}
   */
  maxSize?: number;
}

/**
 * Reads an `application/x-www-form-urlencoded` request body from
 * `wsgi.input` as `URLSearchParams`.
 *
 * At most `maxSize` bytes (plus one read) are held: a `Content-Length` over
 * the limit is refused before reading, and a body that grows past it stops
 * being read. Another Content-Type throws a {@linkcode FormParseError}
 * with status 415; a body that is not UTF-8 one with status 400.
 *
 * @param environ The request's environ.
 * @param options The size limit.
 * @returns The form's fields.
 *
 * @example Read a posted form
 * ```ts
 * import { readForm } from "@tsgi/tsgi/form";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   const form = await readForm(environ);
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode(`Hello ${form.get("name")}`)];
 * };
 * const response = await toFetchHandler(app)(
 *   new Request("http://localhost/", { method: "POST", body: new URLSearchParams({ name: "Ada" }) }),
 * );
 * console.log(await response.text()); // "Hello Ada"
 * ```
 */
export async function readForm(
  environ: Environ,
  options: ReadFormOptions = {},
): Promise<URLSearchParams> {
  const maxSize = checkMaxSize(options.maxSize, "a form");
  const type = (environ.CONTENT_TYPE ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new FormParseError(
      `Cannot read the form: expected Content-Type application/x-www-form-urlencoded, got ${
        JSON.stringify(environ.CONTENT_TYPE ?? null)
      }`,
      415,
    );
  }
  const bytes = await readLimited(environ, maxSize);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FormParseError(
      "Cannot read the form: the body is not UTF-8; send it as the browser does (UTF-8, percent-encoded)",
    );
  }
  return new URLSearchParams(text);
}

/** The size limit given, or 1 MiB; a RangeError for one that is no size. */
function checkMaxSize(maxSize = 1024 * 1024, what: string): number {
  if (!(maxSize >= 0)) {
    throw new RangeError(
      `Cannot read ${what} with maxSize ${maxSize}: expected a number of bytes >= 0`,
    );
  }
  return maxSize;
}

/**
 * The whole request body, refused with a FormLimitError once it is seen to
 * be longer than `maxSize`: at most `maxSize` bytes and one read are held.
 */
async function readLimited(
  environ: Environ,
  maxSize: number,
): Promise<Uint8Array> {
  const declared = Number(environ.CONTENT_LENGTH ?? -1);
  if (declared > maxSize) {
    throw new FormLimitError(
      "maxSize",
      maxSize,
      `the body (Content-Length ${declared}) is larger`,
    );
  }
  const input = environ["wsgi.input"];
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = await input.read(Math.min(maxSize + 1 - size, 65536));
    if (chunk.length === 0) break;
    size += chunk.length;
    if (size > maxSize) {
      throw new FormLimitError("maxSize", maxSize, "the body is larger");
    }
    chunks.push(chunk);
    if (maxSize + 1 - size <= 0) break;
  }
  return concat(chunks, size);
}

/**
 * Options of {@linkcode readJson}.
 *
 * @example
 * ```ts
 * import type { ReadJsonOptions } from "@tsgi/tsgi/form";
 * const options: ReadJsonOptions = { maxSize: 64 * 1024 };
 * ```
 */
export interface ReadJsonOptions {
  /**
   * The largest body read, in bytes; a longer one throws a
   * {@linkcode FormLimitError} as soon as it is seen to be longer.
   *
   * @default {1048576}
   */
  maxSize?: number;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

/**
 * Reads a JSON request body from `wsgi.input`.
 *
 * The Content-Type must be `application/json` or `application/…+json`, or a
 * {@linkcode FormParseError} with status 415 is thrown; a body that is not
 * valid JSON throws one with status 400, and a body over `maxSize` a
 * {@linkcode FormLimitError} (413). {@linkcode answerFormError} answers all
 * three.
 *
 * @typeParam T What the app expects the JSON to be; not checked.
 * @param environ The request's environ.
 * @param options The size limit.
 * @returns The parsed value.
 *
 * @example Read a posted JSON object
 * ```ts
 * import { readJson } from "@tsgi/tsgi/form";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   const note = await readJson<{ title: string }>(environ);
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode(`Saved ${note.title}`)];
 * };
 * const response = await toFetchHandler(app)(
 *   new Request("http://localhost/", {
 *     method: "POST",
 *     headers: { "Content-Type": "application/json" },
 *     body: JSON.stringify({ title: "hello" }),
 *   }),
 * );
 * console.log(await response.text()); // "Saved hello"
 * ```
 */
export async function readJson<T = unknown>(
  environ: Environ,
  options: ReadJsonOptions = {},
): Promise<T> {
  const maxSize = checkMaxSize(options.maxSize, "JSON");
  const type = (environ.CONTENT_TYPE ?? "").split(";")[0].trim().toLowerCase();
  if (!JSON_TYPE.test(type)) {
    throw new FormParseError(
      `Cannot read the body as JSON: expected Content-Type application/json, got ${
        JSON.stringify(environ.CONTENT_TYPE ?? null)
      }`,
      415,
    );
  }
  const bytes = await readLimited(environ, maxSize);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new FormParseError(
      `Cannot read the body as JSON: ${(error as Error).message}`,
    );
  }
}
