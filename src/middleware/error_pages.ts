/**
 * Error pages: an application's failure, before its response has started,
 * becomes a clean 500 page.
 *
 * @module
 */

import { callApp, mapBody, Source } from "./_body.ts";
import { describeError } from "../gateway/_values.ts";
import { FileWrapper } from "../gateway/file_wrapper.ts";
import type {
  App,
  AppIterable,
  Environ,
  ErrorStream,
  StartResponse,
} from "../types.ts";

/**
 * Options of {@linkcode errorPages}.
 *
 * @example Show stacks while developing
 * ```ts
 * import type { ErrorPagesOptions } from "@tsgi/tsgi";
 * const options: ErrorPagesOptions = { debug: true, format: "text" };
 * ```
 */
export interface ErrorPagesOptions {
  /**
   * Put the error and its stack in the page. Never turn on in production.
   *
   * @default {false}
   */
  debug?: boolean;
  /**
   * `"html"`, `"text"`, or `"auto"`: HTML when the client's Accept names
   * `text/html`, plain text otherwise.
   *
   * @default {"auto"}
   */
  format?: "html" | "text" | "auto";
}

const encoder = new TextEncoder();

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&#${c.charCodeAt(0)};`,
  );
}

// Header values must stay latin-1; the page body is UTF-8 anyway.
function page(
  environ: Environ,
  error: unknown,
  options: ErrorPagesOptions,
): { type: string; body: Uint8Array } {
  const format = options.format ?? "auto";
  const html = format === "html" ||
    (format === "auto" &&
      /text\/html/i.test(String(environ.HTTP_ACCEPT ?? "")));
  const detail = options.debug ? describeError(error) : undefined;
  if (!html) {
    const text = detail === undefined
      ? "500 Internal Server Error\n"
      : `500 Internal Server Error\n\n${detail}\n`;
    return { type: "text/plain; charset=utf-8", body: encoder.encode(text) };
  }
  const pre = detail === undefined ? "" : `<pre>${escapeHtml(detail)}</pre>\n`;
  return {
    type: "text/html; charset=utf-8",
    body: encoder.encode(
      `<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>500 Internal Server Error</title></head>\n<body>\n<h1>Internal Server Error</h1>\n<p>The server could not complete the request.</p>\n${pre}</body>\n</html>\n`,
    ),
  };
}

function log(environ: Environ, error: unknown): void {
  const errors = environ["wsgi.errors"] as ErrorStream | undefined;
  const line = `tsgi: error page for ${environ.REQUEST_METHOD} ${
    environ.REQUEST_URI ?? environ.PATH_INFO
  }: ${describeError(error)}\n`;
  try {
    if (errors === undefined) console.error(line.trimEnd());
    else {
      errors.write(line);
      errors.flush();
    }
  } catch {
    // The page matters more than the log line.
  }
}

/**
 * Wraps an app so that an error it raises before its response has started
 * is answered with a 500 page instead of whatever the server would do.
 *
 * The error and its stack go to `wsgi.errors`, and into the page only with
 * `debug: true`. When the request's environ has
 * `x-wsgiorg.throw_errors` set (a debugger or test runner up the stack
 * wants the error), it is thrown on instead. An error after the body has
 * started cannot become a page: it is passed on, and the server breaks the
 * stream so the client sees an incomplete response. A page replacing a
 * response the app had already started uses start_response's `exc_info`,
 * as PEP 3333 prescribes; the app's `close()` runs once in every case.
 *
 * @param app The application.
 * @param options Debug mode and page format.
 * @returns The guarded application.
 *
 * @example A failing app answered with a page
 * ```ts
 * import { errorPages } from "@tsgi/tsgi";
 * import { toFetchHandler } from "@tsgi/tsgi";
 * const handler = toFetchHandler(errorPages(() => {
 *   throw new Error("database down");
 * }), { errors: () => {} });
 * const response = await handler(new Request("http://localhost/"));
 * console.log(response.status, await response.text()); // 500 "500 Internal Server Error\n"
 * ```
 */
export function errorPages(app: App, options: ErrorPagesOptions = {}): App {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot guard ${typeof app}: expected an application function`,
    );
  }
  return function guarded(environ, startResponse) {
    let started = false;
    const tracking: StartResponse = (status, headers, excInfo) => {
      const write = startResponse(status, headers, excInfo);
      started = true;
      return write;
    };

    /** The page's chunks; throws the error when it cannot be a page. */
    const recover = (error: unknown): Uint8Array[] => {
      if (environ["x-wsgiorg.throw_errors"]) throw error;
      const { type, body } = page(environ, error, options);
      const headers: [string, string][] = [
        ["Content-Type", type],
        ["Content-Length", String(body.length)],
      ];
      // Throws the app's error again when the response has been sent.
      if (started) {
        startResponse("500 Internal Server Error", headers, error);
      } else startResponse("500 Internal Server Error", headers);
      log(environ, error);
      return [body];
    };

    const wrap = (result: AppIterable): AppIterable => {
      let source: Source;
      try {
        source = new Source(result);
      } catch (error) {
        return recover(error);
      }
      // Nothing left to fail before it is sent, or (a file) the server's
      // zero-copy path is worth more than a page for a read error.
      if (Array.isArray(result) || result instanceof FileWrapper) return result;
      return mapBody(source, {
        error(error, sent) {
          if (sent) throw error;
          return recover(error);
        },
      });
    };

    return callApp(app, environ, tracking, wrap, recover);
  };
}
