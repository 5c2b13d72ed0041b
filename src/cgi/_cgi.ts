// The CGI gateway without the runtime: builds the environ from the process
// environment a CGI host set (RFC 3875), runs the app through the same
// Exchange as the Fetch gateway, and writes the Response it answers as CGI
// output. The per-runtime files (_deno.ts, _node.ts) supply the I/O.

import { Exchange } from "../gateway/_exchange.ts";
import { errorResponse, KNOWN_LENGTH } from "../gateway/_response.ts";
import { VERSION } from "../gateway/_environ.ts";
import { ReadableInputStream } from "../gateway/input_stream.ts";
import { LogErrorStream } from "../gateway/error_stream.ts";
import { wrapFile } from "../gateway/file_wrapper.ts";
import { bytesToNative, utf8ToNative } from "../gateway/_latin1.ts";
import { statusLine } from "../fetch/_fetch.ts";
import { guessScheme } from "../toolkit/util.ts";
import { checkMethod, readContentLength } from "../gateway/_request_rules.ts";
import type { App, Environ, GatewayOptions } from "../types.ts";

/** The process-level I/O a CGI script needs, one implementation per runtime. */
export interface CgiIo {
  /** The environment as the runtime decodes it (UTF-8). */
  env(): Record<string, string>;
  /**
   * The environment's raw bytes, when the runtime may read them
   * (`/proc/self/environ` on Linux); undefined otherwise.
   */
  rawEnv(): Map<string, Uint8Array> | undefined;
  /** Names of request variables present but not readable as text. */
  unreadable(names: readonly string[]): string[];
  /** Standard input as a stream, opened on first call. */
  stdin(): ReadableStream<Uint8Array>;
  /** Writes all of `chunk` to standard output; settles when it may write more. */
  write(chunk: Uint8Array): Promise<void>;
  /** Writes text to standard error at once. */
  error(text: string): void;
  /** Flushes standard output and lets go of standard input. */
  finish(): Promise<void>;
}

/**
 * Options of {@linkcode runWithCgi}: the gateway options that make sense for
 * a process that serves one request.
 */
export type CgiOptions = Pick<
  GatewayOptions,
  "maxBodySize" | "debug" | "errors" | "extraEnviron" | "allowConnect"
>;

// wsgiref.handlers._needs_transcode: the variables that carry request
// bytes. Their values become one char per byte (PEP 3333's latin-1 rule);
// the rest (PATH, SERVER_SOFTWARE, …) stay the text the runtime decoded.
const REQUEST_VARS: ReadonlySet<string> = new Set([
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "REQUEST_METHOD",
  "AUTH_TYPE",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "HTTPS",
  "REMOTE_USER",
  "REMOTE_IDENT",
  "REQUEST_URI",
]);

/** Whether a variable's value is request bytes (wsgiref's rule, plus REQUEST_URI). */
export function needsTranscode(name: string): boolean {
  return REQUEST_VARS.has(name) || name.startsWith("HTTP_") ||
    name.startsWith("SSL_") ||
    (name.startsWith("REDIRECT_") && needsTranscode(name.slice(9)));
}

const utf8 = new TextDecoder();

/**
 * The CGI variables as PEP 3333 wants them. Raw bytes are used for a
 * variable when they still match what the runtime reports (the script may
 * have changed its environment since it started), or when the runtime
 * could not decode it (`undecodable`); otherwise the runtime's text is taken
 * back to its UTF-8 bytes, which is exact unless the host passed bytes that
 * are not UTF-8.
 */
export function readCgiVariables(
  env: Record<string, string>,
  raw: Map<string, Uint8Array> | undefined,
  undecodable: ReadonlySet<string> = new Set(),
): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, text] of Object.entries(env)) {
    if (!needsTranscode(name)) {
      vars[name] = text;
      continue;
    }
    const bytes = raw?.get(name);
    vars[name] = bytes !== undefined && utf8.decode(bytes) === text
      ? bytesToNative(bytes)
      : utf8ToNative(text);
  }
  for (const name of undecodable) {
    const bytes = raw?.get(name);
    if (bytes !== undefined) {
      vars[name] = needsTranscode(name)
        ? bytesToNative(bytes)
        : utf8.decode(bytes);
    }
  }
  return vars;
}

/** Splits the bytes of `/proc/self/environ` (NUL-terminated `NAME=value`). */
export function parseEnvironBlock(block: Uint8Array): Map<string, Uint8Array> {
  const vars = new Map<string, Uint8Array>();
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf(0, start);
    if (end === -1) end = block.length;
    const eq = block.indexOf(61, start); // "="
    if (eq !== -1 && eq < end) {
      vars.set(
        utf8.decode(block.subarray(start, eq)),
        block.subarray(eq + 1, end),
      );
    }
    start = end + 1;
  }
  return vars;
}

/** Percent-encodes a latin-1 path for REQUEST_URI, as a client would send it. */
function quotePath(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // RFC 3986 pchar plus "/": unreserved, sub-delims, ":" and "@".
    out += (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x30 && c <= 0x39) || "-._~!$&'()*+,;=:@/".includes(path[i])
      ? path[i]
      : "%" + c.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * At most `length` bytes of the stream `open` gives, opened on the first
 * read; `release()` lets go of the source whether or not it was read.
 */
export function boundedStream(
  open: () => ReadableStream<Uint8Array>,
  length: number,
): { stream: ReadableStream<Uint8Array>; release(): Promise<void> } {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let left = length;
  const release = async () => {
    await reader?.cancel().catch(() => {});
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= open().getReader();
      const { done, value } = await reader.read();
      if (done) {
        // The host promised CONTENT_LENGTH bytes (RFC 3875 §4.2).
        controller.error(
          new Error(
            `Cannot read the request body: standard input ended ${left} bytes short of CONTENT_LENGTH ${length}`,
          ),
        );
        return;
      }
      const piece = value.length > left ? value.subarray(0, left) : value;
      left -= piece.length;
      if (piece.length > 0) controller.enqueue(piece);
      if (left === 0) {
        controller.close();
        await release();
      }
    },
    cancel: release,
  }, { highWaterMark: 0 });
  return { stream, release };
}

/** Builds the environ of the one request a CGI script serves. */
export function createCgiEnviron(
  vars: Record<string, string>,
  input: ReadableInputStream,
  errors: LogErrorStream,
  options: CgiOptions,
): Environ {
  const environ: Record<string, unknown> = { ...vars };
  environ.REQUEST_METHOD ||= "GET";
  environ.SCRIPT_NAME ??= "";
  environ.PATH_INFO ??= "";
  environ.QUERY_STRING ??= "";
  environ.SERVER_PROTOCOL ??= "HTTP/1.0";
  environ.GATEWAY_INTERFACE ??= "CGI/1.1";
  environ.SERVER_SOFTWARE ??= `tsgi/${VERSION}`;
  environ.SERVER_NAME ??= "localhost";
  environ.SERVER_PORT ??= "80";
  if (environ.REQUEST_URI === undefined) {
    const query = vars.QUERY_STRING ?? "";
    environ.REQUEST_URI =
      quotePath((vars.SCRIPT_NAME ?? "") + (vars.PATH_INFO ?? "")) +
      (query === "" ? "" : "?" + query);
  }
  // An empty CONTENT_TYPE/CONTENT_LENGTH means "none" (RFC 3875 §4.1.2-3).
  if (environ.CONTENT_TYPE === "") delete environ.CONTENT_TYPE;
  if (environ.CONTENT_LENGTH === "") delete environ.CONTENT_LENGTH;
  Object.assign(environ, {
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": guessScheme(vars),
    "wsgi.input": input,
    "wsgi.errors": errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": true,
    "wsgi.run_once": true,
    "wsgi.input_terminated": true,
    "wsgi.file_wrapper": wrapFile,
  }, options.extraEnviron);
  return environ as Environ;
}

const CRLF = "\r\n";

/** The CGI response head: a `Status:` line, the headers, a blank line. */
export function cgiHead(response: Response): Uint8Array {
  let head = `Status: ${statusLine(response)}${CRLF}`;
  let headers = response.headers;
  const known = (response as unknown as Record<symbol, number | undefined>)[
    KNOWN_LENGTH
  ];
  if (known !== undefined) {
    // The gateway left a known body's length to the server: that is us.
    headers = new Headers(headers);
    headers.set("content-length", `${known}`);
  }
  // Set-Cookie comes once per cookie, every other name once. (forEach:
  // Deno's Headers iterator sorts the list again at every step.)
  headers.forEach((value, name) => {
    head += `${name}: ${value}${CRLF}`;
  });
  head += CRLF;
  // Header text is latin-1 by the time it gets here (checkHeaderValue).
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) bytes[i] = head.charCodeAt(i);
  return bytes;
}

/** Runs `app` for the request described by the process, writing through `io`. */
export async function runCgi(
  app: App,
  io: CgiIo,
  options: CgiOptions = {},
): Promise<void> {
  const errors = new LogErrorStream(
    options.errors ?? ((text) => io.error(text)),
  );
  let stdin: ReturnType<typeof boundedStream> | undefined;
  let where = "CGI request";
  let head = false;
  let response: Response;
  try {
    const env = io.env();
    const raw = io.rawEnv();
    // Variables the runtime has but cannot decode (Deno: not UTF-8).
    const undecodable = new Set(io.unreadable(
      [...raw?.keys() ?? REQUEST_VARS].filter((name) => !(name in env)),
    ));
    const vars = readCgiVariables(env, raw, undecodable);
    // An empty CONTENT_LENGTH is no body (RFC 3875 §4.1.2).
    const length = vars.CONTENT_LENGTH === undefined ||
        vars.CONTENT_LENGTH === ""
      ? 0
      : readContentLength(vars.CONTENT_LENGTH);
    const maxBodySize = options.maxBodySize ?? Infinity;
    if (Number.isSafeInteger(length) && length > 0) {
      stdin = boundedStream(() => io.stdin(), length);
    }
    const input = new ReadableInputStream(stdin?.stream ?? null, maxBodySize);
    const environ = createCgiEnviron(vars, input, errors, options);
    head = environ.REQUEST_METHOD === "HEAD";
    const refusedMethod = checkMethod(
      environ.REQUEST_METHOD,
      options.allowConnect ?? false,
    );
    where = `${environ.REQUEST_METHOD} ${environ.REQUEST_URI}`;
    const bad = [...undecodable].filter((name) =>
      REQUEST_VARS.has(name) && vars[name] === undefined
    );
    if (bad.length > 0) {
      errors.write(
        `tsgi: cannot read ${
          bad.join(", ")
        }: not valid UTF-8 and the raw environment is not readable (on Deno it takes --allow-all) (${where})\n`,
      );
      response = errorResponse(400, { head });
    } else if (refusedMethod !== undefined) {
      errors.write(
        `tsgi: refused method ${
          JSON.stringify(environ.REQUEST_METHOD)
        }, answered ${refusedMethod} (${where})\n`,
      );
      response = errorResponse(refusedMethod, { head });
    } else if (length !== length) {
      errors.write(
        `tsgi: bad CONTENT_LENGTH ${
          JSON.stringify(vars.CONTENT_LENGTH)
        } (${where})\n`,
      );
      response = errorResponse(400, { head });
    } else if (length > maxBodySize) {
      response = errorResponse(413, { head });
    } else {
      response = await new Exchange({
        environ,
        errors,
        debug: options.debug ?? false,
        method: environ.REQUEST_METHOD,
        // CGI output is written as bytes: a string would only be encoded.
        textLimit: -1,
      }).run(app);
    }
  } catch (error) {
    // The gateway itself failed (no --allow-env on Deno, …).
    errors.write(`tsgi: cannot serve the CGI request (${where}): ${error}\n`);
    response = errorResponse(500, {
      head,
      error,
      debug: options.debug ?? false,
    });
  }
  const reader = response.body?.getReader();
  try {
    await io.write(cgiHead(response));
    while (reader !== undefined) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        // The Exchange logged why the body broke; the host sees it end short.
        break;
      }
      if (chunk.done) break;
      await io.write(chunk.value);
    }
  } catch (error) {
    // Standard output is gone (the host hung up): stop the app's iteration
    // so its close() runs, and say so.
    await reader?.cancel(error).catch(() => {});
    errors.write(`tsgi: cannot write the response (${where}): ${error}\n`);
  } finally {
    await stdin?.release();
    errors.flush();
    await io.finish();
  }
}
