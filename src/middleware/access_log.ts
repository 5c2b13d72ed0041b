/**
 * Access logging in the Common and Combined Log Formats.
 *
 * @module
 */

import { callApp, mapBody, Source } from "./_body.ts";
import { headerValue } from "./_transform.ts";
import type {
  App,
  AppIterable,
  Environ,
  ErrorStream,
  StartResponse,
} from "../types.ts";

/**
 * One finished request, as {@linkcode accessLog} hands it to a format.
 *
 * @example A custom format
 * ```ts
 * import type { AccessLogEntry } from "@tsgi/tsgi";
 * const json = (entry: AccessLogEntry): string =>
 *   JSON.stringify({ status: entry.status, bytes: entry.bytes, ms: entry.duration });
 * ```
 */
export interface AccessLogEntry {
  /** `REMOTE_ADDR`, when known. */
  remoteAddr: string | undefined;
  /** `REMOTE_USER`, when an auth layer set it. */
  remoteUser: string | undefined;
  /** When the request arrived. */
  time: Date;
  /** The request method. */
  method: string;
  /** The request target as the client sent it (path and query). */
  uri: string;
  /** `SERVER_PROTOCOL`. */
  protocol: string;
  /** The status code sent; 500 when the app failed before responding. */
  status: number;
  /** Body bytes actually sent. */
  bytes: number;
  /** The Referer header, when sent. */
  referer: string | undefined;
  /** The User-Agent header, when sent. */
  userAgent: string | undefined;
  /** Milliseconds from the call of the app to the end of the body. */
  duration: number;
  /** False when the body did not reach its end (client gone, app failure). */
  complete: boolean;
  /** The request environ. */
  environ: Environ;
}

/**
 * Options of {@linkcode accessLog}.
 *
 * @example Combined format to the console
 * ```ts
 * import type { AccessLogOptions } from "@tsgi/tsgi";
 * const options: AccessLogOptions = { format: "combined", sink: (line) => console.log(line) };
 * ```
 */
export interface AccessLogOptions {
  /**
   * `"common"` (NCSA Common Log Format), `"combined"` (with Referer and
   * User-Agent), or a function making the line.
   *
   * @default {"common"}
   */
  format?: "common" | "combined" | ((entry: AccessLogEntry) => string);
  /**
   * Receives each line, without a newline. By default lines go to the
   * request's `wsgi.errors`, or to `console.log` when it has none.
   */
  sink?: (line: string, environ: Environ) => void;
}

/** `[10/Oct/2000:13:55:36 +0000]`, in UTC. */
function clf(time: Date): string {
  // "Tue, 10 Oct 2000 13:55:36 GMT": the day is always two digits.
  const [, day, month, year, clock] = time.toUTCString().split(" ");
  return `[${day}/${month}/${year}:${clock} +0000]`;
}

// As Apache's mod_log_config escapes: quotes, backslashes and anything not
// printable, so a client cannot forge a line.
function quote(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\\"\x00-\x1f\x7f-\xff]/g,
    (c) =>
      c === "\\" || c === '"'
        ? "\\" + c
        : "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"),
  );
}

function field(text: string | undefined): string {
  return text === undefined || text === "" ? "-" : quote(text);
}

/**
 * Formats an entry in the Common Log Format:
 * `host ident user [time] "request" status bytes`.
 *
 * @param entry The finished request.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import { type AccessLogEntry, commonLogFormat } from "@tsgi/tsgi";
 * import type { Environ } from "@tsgi/tsgi";
 * const entry: AccessLogEntry = {
 *   remoteAddr: "127.0.0.1", remoteUser: undefined, time: new Date(Date.UTC(2026, 10, 21, 22, 9, 47)),
 *   method: "GET", uri: "/", protocol: "HTTP/1.1", status: 200, bytes: 13,
 *   referer: undefined, userAgent: "curl/8.5.0", duration: 1.2, complete: true,
 *   environ: {} as Environ,
 * };
 * console.log(commonLogFormat(entry));
 * // 127.0.0.1 - - [21/Nov/2026:22:09:47 +0000] "GET / HTTP/1.1" 200 13
 * ```
 */
export function commonLogFormat(entry: AccessLogEntry): string {
  return `${field(entry.remoteAddr)} - ${field(entry.remoteUser)} ${
    clf(entry.time)
  } "${
    quote(`${entry.method} ${entry.uri} ${entry.protocol}`)
  }" ${entry.status} ${entry.bytes === 0 ? "-" : entry.bytes}`;
}

/**
 * Formats an entry in the Combined Log Format: the Common one followed by
 * the quoted Referer and User-Agent.
 *
 * @param entry The finished request.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import { type AccessLogEntry, combinedLogFormat } from "@tsgi/tsgi";
 * import type { Environ } from "@tsgi/tsgi";
 * const entry: AccessLogEntry = {
 *   remoteAddr: "127.0.0.1", remoteUser: undefined, time: new Date(Date.UTC(2026, 10, 21, 22, 9, 47)),
 *   method: "GET", uri: "/", protocol: "HTTP/1.1", status: 200, bytes: 13,
 *   referer: undefined, userAgent: "curl/8.5.0", duration: 1.2, complete: true,
 *   environ: {} as Environ,
 * };
 * console.log(combinedLogFormat(entry));
 * // 127.0.0.1 - - [21/Nov/2026:22:09:47 +0000] "GET / HTTP/1.1" 200 13 "-" "curl/8.5.0"
 * ```
 */
export function combinedLogFormat(entry: AccessLogEntry): string {
  return `${commonLogFormat(entry)} "${field(entry.referer)}" "${
    field(entry.userAgent)
  }"`;
}

function requestUri(environ: Environ): string {
  if (typeof environ.REQUEST_URI === "string") return environ.REQUEST_URI;
  const path = (environ.SCRIPT_NAME ?? "") + (environ.PATH_INFO ?? "");
  return environ.QUERY_STRING ? `${path}?${environ.QUERY_STRING}` : path;
}

function defaultSink(line: string, environ: Environ): void {
  const errors = environ["wsgi.errors"] as ErrorStream | undefined;
  if (errors === undefined) return console.log(line);
  errors.write(line + "\n");
  errors.flush();
}

/**
 * Wraps an app so that every request is logged once its body has ended:
 * sent to its end, cut short by the client, or broken by an error.
 *
 * The line records the status the app sent and the body bytes that
 * actually went out, counted as the chunks pass (a Content-Length the app
 * overstated does not count; a HEAD or 304 sends none). The app's result
 * is passed on chunk by chunk, never gathered, and its `close()` is called
 * exactly once.
 *
 * @param app The application.
 * @param options The format and where lines go.
 * @returns The logging application.
 *
 * @example Log to the console in Combined format
 * ```ts
 * import { accessLog } from "@tsgi/tsgi";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hello\n")];
 * };
 * const lines: string[] = [];
 * const handler = toFetchHandler(
 *   accessLog(app, { format: "combined", sink: (line) => lines.push(line) }),
 * );
 * await (await handler(new Request("http://localhost/"))).text();
 * console.log(lines[0]); // - - - [21/Nov/2026:22:09:47 +0000] "GET / HTTP/1.1" 200 6 "-" "-"
 * ```
 */
export function accessLog(app: App, options: AccessLogOptions = {}): App {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot log ${typeof app}: expected an application function`,
    );
  }
  const format = options.format ?? "common";
  const render = format === "common"
    ? commonLogFormat
    : format === "combined"
    ? combinedLogFormat
    : format;
  if (typeof render !== "function") {
    throw new TypeError(
      `Cannot log in format ${
        JSON.stringify(format)
      }: expected "common", "combined" or a function`,
    );
  }
  const sink = options.sink ?? defaultSink;

  return function logged(environ, startResponse) {
    const time = new Date();
    // Read now: inner apps may change the environ, and some runtimes stop
    // answering (Deno's remoteAddr) once the request is over.
    const request = {
      remoteAddr: environ.REMOTE_ADDR,
      method: environ.REQUEST_METHOD,
      uri: requestUri(environ),
      protocol: environ.SERVER_PROTOCOL,
      referer: environ.HTTP_REFERER as string | undefined,
      userAgent: environ.HTTP_USER_AGENT as string | undefined,
    };
    const start = performance.now();
    let status = 0;
    let declared = -1;
    let bytes = 0;
    let failed = false;
    let done = false;
    // An accepted WebSocket is logged as 101 when it closes, so the line's
    // duration is the socket's lifetime.
    let socketOpen = false;
    const upgrade = environ["tsgi.websocket"];
    if (upgrade !== undefined) {
      environ["tsgi.websocket"] = {
        protocols: upgrade.protocols,
        accept(options) {
          const socket = upgrade.accept(options);
          status = 101;
          socketOpen = true;
          socket.addEventListener("close", () => {
            socketOpen = false;
            log(true);
          });
          return socket;
        },
        respondWith(response) {
          upgrade.respondWith(response);
          status = 101;
        },
      };
    }

    const log = (complete: boolean) => {
      if (done || socketOpen) return;
      done = true;
      const bodiless = request.method === "HEAD" || status === 204 ||
        status === 304;
      let sent = bodiless ? 0 : bytes;
      if (declared !== -1 && sent > declared) sent = declared;
      try {
        const entry: AccessLogEntry = {
          ...request,
          // An auth layer inside sets it while the app runs.
          remoteUser: environ.REMOTE_USER as string | undefined,
          time,
          status: failed || status === 0 ? 500 : status,
          bytes: failed ? 0 : sent,
          duration: performance.now() - start,
          complete,
          environ,
        };
        sink(render(entry), environ);
      } catch (error) {
        // A broken log must not break the response.
        environ["wsgi.errors"]?.write(
          `tsgi: the access log failed: ${String(error)}\n`,
        );
      }
    };

    const counting: StartResponse = (line, headers, excInfo) => {
      const write = startResponse(line, headers, excInfo);
      status = Number(line.slice(0, 3));
      const length = headerValue(headers, "content-length");
      declared = length === undefined ? -1 : Number(length);
      return (chunk) => {
        const sending = write(chunk);
        bytes += chunk.length;
        return sending;
      };
    };

    const fail = (error: unknown): never => {
      failed = bytes === 0;
      log(false);
      throw error;
    };

    const wrap = (result: AppIterable): AppIterable => {
      let source: Source;
      try {
        source = new Source(result);
      } catch (error) {
        return fail(error);
      }
      if (
        Array.isArray(result) &&
        result.every((chunk) => chunk instanceof Uint8Array)
      ) {
        for (const chunk of result) bytes += chunk.length;
        const close = () => {
          try {
            return source.close();
          } finally {
            log(true);
          }
        };
        return Object.assign(result.slice(), { close });
      }
      return mapBody(source, {
        map(chunk) {
          bytes += chunk.length;
          return chunk;
        },
        error(error, sent) {
          failed = !sent && bytes === 0;
          throw error;
        },
        end: log,
      });
    };

    return callApp(app, environ, counting, wrap, fail);
  };
}
