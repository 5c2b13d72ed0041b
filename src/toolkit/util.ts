/**
 * wsgiref.util for tsgi: rebuild URLs from an environ, walk `PATH_INFO`,
 * build a complete environ for tests, and read native strings back as
 * UTF-8.
 *
 * @module
 */

import { HOP_BY_HOP } from "../gateway/_response_rules.ts";
import { VERSION } from "../gateway/_environ.ts";
import { nativeToBytes, utf8ToNative } from "../gateway/_latin1.ts";
import { origin, quote } from "./_url.ts";
import { LogErrorStream } from "../gateway/error_stream.ts";
import { wrapFile } from "../gateway/file_wrapper.ts";
import { ReadableInputStream } from "../gateway/input_stream.ts";
import type { Environ } from "../types.ts";

/**
 * The scheme of a request as CGI tells it: `"https"` when the `HTTPS`
 * variable is `on`, `yes` or `1` (any case), else `"http"`.
 *
 * @param environ The request environ (only `HTTPS` is read).
 * @returns `"http"` or `"https"`.
 *
 * @example A CGI environ under TLS
 * ```ts
 * import { guessScheme } from "@tsgi/tsgi";
 * console.log(guessScheme({ HTTPS: "on" })); // "https"
 * console.log(guessScheme({})); // "http"
 * ```
 */
export function guessScheme(
  environ: Readonly<Record<string, unknown>>,
): "http" | "https" {
  const https = environ.HTTPS;
  return typeof https === "string" &&
      ["on", "yes", "1"].includes(https.toLowerCase())
    ? "https"
    : "http";
}

/**
 * The URL of the application's root: scheme, host, and `SCRIPT_NAME`
 * percent-encoded (`/` when the app is at the server root).
 *
 * @param environ The request environ.
 * @returns An absolute URL such as `"http://example.com/app"`.
 *
 * @example
 * ```ts
 * import { applicationUri, setupTestingDefaults } from "@tsgi/tsgi";
 * const environ = setupTestingDefaults({ HTTP_HOST: "example.com", SCRIPT_NAME: "/caf\u00c3\u00a9" });
 * console.log(applicationUri(environ)); // "http://example.com/caf%C3%A9"
 * ```
 */
export function applicationUri(environ: Readonly<Environ>): string {
  return origin(environ) +
    quote(environ.SCRIPT_NAME || "/", "/", "SCRIPT_NAME");
}

/**
 * The full URL of the request, rebuilt from the environ (PEP 3333 URL
 * reconstruction): the application URI, `PATH_INFO` percent-encoded (with
 * `/;=,` left as they are), and the query string unless told otherwise.
 *
 * The octets of `SCRIPT_NAME` and `PATH_INFO` are encoded one by one, so
 * the path comes back as the client sent it, except for escapes that
 * needed none (`%41` comes back as `A`) and `%2F`, which decoding turned
 * into a `/` for good.
 *
 * @param environ The request environ.
 * @param includeQuery Whether to append `?` and `QUERY_STRING`; default true.
 * @returns An absolute URL.
 *
 * @example
 * ```ts
 * import { requestUri, setupTestingDefaults } from "@tsgi/tsgi";
 * const environ = setupTestingDefaults({
 *   HTTP_HOST: "example.com",
 *   SCRIPT_NAME: "/app",
 *   PATH_INFO: "/a b",
 *   QUERY_STRING: "q=1",
 * });
 * console.log(requestUri(environ)); // "http://example.com/app/a%20b?q=1"
 * console.log(requestUri(environ, false)); // "http://example.com/app/a%20b"
 * ```
 */
export function requestUri(
  environ: Readonly<Environ>,
  includeQuery: boolean = true,
): string {
  let url = applicationUri(environ);
  const path = quote(environ.PATH_INFO ?? "", "/;=,", "PATH_INFO");
  // applicationUri ends in "/" exactly when SCRIPT_NAME is empty.
  url += environ.SCRIPT_NAME ? path : path.slice(1);
  const query = environ.QUERY_STRING;
  if (includeQuery && query) url += "?" + query;
  return url;
}

// posixpath.normpath, which shiftPathInfo applies to SCRIPT_NAME as
// wsgiref does (two leading slashes survive, as POSIX allows).
function normpath(path: string): string {
  if (path === "") return ".";
  const slashes = !path.startsWith("/")
    ? 0
    : path.startsWith("//") && !path.startsWith("///")
    ? 2
    : 1;
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (
      part !== ".." || (slashes === 0 && parts.length === 0) ||
      parts.at(-1) === ".."
    ) {
      parts.push(part);
    } else if (parts.length > 0) {
      parts.pop();
    }
  }
  return "/".repeat(slashes) + parts.join("/") || ".";
}

/**
 * Moves the first segment of `PATH_INFO` onto `SCRIPT_NAME` and returns it,
 * as wsgiref's `shift_path_info` does: empty and `.` segments in the middle
 * are squeezed out and `SCRIPT_NAME` is normalised (`..` climbs).
 *
 * A trailing slash is kept as information: `PATH_INFO` `"/"` returns `""`
 * and `SCRIPT_NAME` gains the `/` (`"/app"` → `"/app/"`; at the root this
 * gives `"/"`, exactly as wsgiref does).
 *
 * @param environ The request environ; it is changed in place.
 * @returns The segment moved, `""` for a trailing slash, or `undefined`
 *   when `PATH_INFO` is empty (or only `/.`).
 *
 * @example Dispatch on the first segment
 * ```ts
 * import { setupTestingDefaults, shiftPathInfo } from "@tsgi/tsgi";
 * const environ = setupTestingDefaults({ PATH_INFO: "/users/7" });
 * console.log(shiftPathInfo(environ)); // "users"
 * console.log(environ.SCRIPT_NAME, environ.PATH_INFO); // "/users" "/7"
 * ```
 */
export function shiftPathInfo(environ: Environ): string | undefined {
  const pathInfo = environ.PATH_INFO ?? "";
  if (pathInfo === "") return undefined;
  const parts = pathInfo.split("/");
  const middle = parts.slice(1, -1).filter((p) => p !== "" && p !== ".");
  const rest = parts.length > 1
    ? [parts[0], ...middle, parts[parts.length - 1]]
    : parts;
  const name = rest[1] ?? "";
  rest.splice(1, 1);
  let scriptName = normpath((environ.SCRIPT_NAME ?? "") + "/" + name);
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (name === "" && !scriptName.endsWith("/")) scriptName += "/";
  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = rest.join("/");
  // "/." is not squeezed above (it is the last part); it names nothing.
  return name === "." ? undefined : name;
}

/**
 * Whether a header name is hop-by-hop (RFC 2616 §13.5.1, the list wsgiref
 * uses, plus `Trailer` and `Proxy-Connection`), in any case. Such headers
 * belong to the connection, and an application must not send them.
 *
 * @param name A header name.
 * @returns True for `Connection`, `Keep-Alive`, `Transfer-Encoding`, …
 *
 * @example
 * ```ts
 * import { isHopByHop } from "@tsgi/tsgi";
 * console.log(isHopByHop("Keep-Alive")); // true
 * console.log(isHopByHop("Content-Type")); // false
 * ```
 */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name.toLowerCase());
}

/** Options of {@linkcode setupTestingDefaults}. */
export interface TestingDefaultsOptions {
  /**
   * The request body, read through an in-memory `wsgi.input`. Sets
   * `CONTENT_LENGTH` unless the environ has one.
   */
  body?: Uint8Array | string;
  /** Receives what is written to `wsgi.errors`; by default `console.error`. */
  errors?: (text: string) => void;
}

/**
 * Fills in everything a valid environ needs, for tests (wsgiref's
 * `setup_testing_defaults`): keys already present are kept. The result
 * passes {@linkcode validator}.
 *
 * Defaults: `GET /` on `http://127.0.0.1`, `SERVER_PROTOCOL` `"HTTP/1.0"`
 * as wsgiref sets it (the gateway itself reports `"HTTP/1.1"` by default),
 * `SCRIPT_NAME` `""`
 * and `PATH_INFO` `"/"` (only when both are absent), an empty
 * `QUERY_STRING`, `SERVER_PORT` `"80"` or `"443"` by scheme (from
 * {@linkcode guessScheme}), an in-memory `wsgi.input` (the `body` option),
 * a `wsgi.errors` sending to `options.errors`, `wsgi.file_wrapper`, and
 * `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once` all false.
 *
 * @param environ The keys to start from; it is filled in place.
 * @param options The body and where errors go.
 * @returns The same object, now a complete environ.
 *
 * @example Test an app without a server
 * ```ts
 * import { setupTestingDefaults, type App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   const body = await environ["wsgi.input"].read();
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [body];
 * };
 * const environ = setupTestingDefaults({ REQUEST_METHOD: "POST" }, { body: "ping" });
 * let status = "";
 * const result = await app(environ, (s) => {
 *   status = s;
 *   return () => Promise.resolve();
 * });
 * console.log(status, environ.CONTENT_LENGTH); // "200 OK" "4"
 * ```
 */
export function setupTestingDefaults(
  environ: Record<string, unknown> = {},
  options: TestingDefaultsOptions = {},
): Environ {
  const env = environ;
  const set = (key: string, value: () => unknown) => {
    if (!(key in env)) env[key] = value();
  };
  set("SERVER_NAME", () => "127.0.0.1");
  set("SERVER_PROTOCOL", () => "HTTP/1.0");
  set("HTTP_HOST", () => env.SERVER_NAME);
  set("REQUEST_METHOD", () => "GET");
  if (!("SCRIPT_NAME" in env) && !("PATH_INFO" in env)) {
    env.SCRIPT_NAME = "";
    env.PATH_INFO = "/";
  }
  set("SCRIPT_NAME", () => "");
  set("PATH_INFO", () => "");
  set("QUERY_STRING", () => "");
  set("GATEWAY_INTERFACE", () => "CGI/1.1");
  set("SERVER_SOFTWARE", () => `tsgi/${VERSION}`);
  set("wsgi.version", () => [1, 0]);
  set("wsgi.run_once", () => false);
  set("wsgi.multithread", () => false);
  set("wsgi.multiprocess", () => false);
  set("wsgi.url_scheme", () => guessScheme(env));
  set("SERVER_PORT", () => env["wsgi.url_scheme"] === "https" ? "443" : "80");
  set("REQUEST_URI", () => {
    const raw = String(env.SCRIPT_NAME) + String(env.PATH_INFO);
    let path: string;
    try {
      path = quote(raw, "/;=,", "PATH_INFO");
    } catch {
      path = raw; // a test building a broken environ on purpose
    }
    return (path || "/") + (env.QUERY_STRING ? "?" + env.QUERY_STRING : "");
  });
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  if (body !== undefined) set("CONTENT_LENGTH", () => String(body.length));
  set("wsgi.input", () => new ReadableInputStream(body ?? new Uint8Array(0)));
  set("wsgi.input_terminated", () => true);
  set("wsgi.errors", () => new LogErrorStream(options.errors));
  set("wsgi.file_wrapper", () => wrapFile);
  return env as Environ;
}

/** Options of {@linkcode pathInfoUtf8}. */
export interface PathInfoUtf8Options {
  /**
   * Throw a TypeError when the octets are not valid UTF-8, instead of
   * replacing each bad sequence with U+FFFD.
   *
   * @default {false}
   */
  fatal?: boolean;
}

const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * `PATH_INFO` read back as the UTF-8 text the client almost always meant:
 * the environ carries the decoded octets one char each (latin-1), so
 * `"/caf\u00c3\u00a9"` becomes `"/café"`.
 *
 * Octets that are not UTF-8 (`%FF`) become U+FFFD, as a browser shows
 * them, so the result is always a string; pass `{ fatal: true }` to get a
 * TypeError instead (and answer 400, say).
 *
 * @param environ The request environ.
 * @param options `fatal: true` to refuse invalid UTF-8.
 * @returns The path as text.
 *
 * @example
 * ```ts
 * import { pathInfoUtf8, setupTestingDefaults } from "@tsgi/tsgi";
 * console.log(pathInfoUtf8(setupTestingDefaults({ PATH_INFO: "/caf\u00c3\u00a9" }))); // "/café"
 * console.log(pathInfoUtf8(setupTestingDefaults({ PATH_INFO: "/\u00ff" }))); // "/\ufffd"
 * ```
 */
export function pathInfoUtf8(
  environ: Readonly<Environ>,
  options: PathInfoUtf8Options = {},
): string {
  const path = environ.PATH_INFO ?? "";
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(path)) return path;
  const bytes = nativeToBytes(path, "PATH_INFO");
  if (!options.fatal) return lenient.decode(bytes);
  try {
    return strict.decode(bytes);
  } catch {
    throw new TypeError(
      `Cannot read PATH_INFO ${
        JSON.stringify(path)
      } as UTF-8: it holds invalid octets`,
    );
  }
}

/**
 * Text as a native string: its UTF-8 bytes, one char each, the form
 * `PATH_INFO` and header values take (`"é"` → `"\u00c3\u00a9"`).
 *
 * @param text Any string.
 * @returns The native string.
 *
 * @example Compare a UTF-8 name with PATH_INFO
 * ```ts
 * import { toNative } from "@tsgi/tsgi";
 * console.log(toNative("/café") === "/caf\u00c3\u00a9"); // true
 * ```
 */
export function toNative(text: string): string {
  return utf8ToNative(text);
}
