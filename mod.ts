/**
 * tsgi: Python's WSGI (PEP 3333) for the Fetch-API runtimes.
 *
 * An application is `app(environ, startResponse)`; it calls
 * `startResponse(status, headers)` and returns an iterable of `Uint8Array`
 * chunks. {@linkcode toFetchHandler} turns it into a handler for
 * `Deno.serve`, `Bun.serve`, Cloudflare Workers and Node.
 *
 * @example Hello world on Deno
 * ```ts ignore
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 *
 * const app: App = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("Hello world!\n")];
 * };
 * Deno.serve(toFetchHandler(app));
 * ```
 *
 * @module
 */

export * from "./src/types.ts";
export { toFetchHandler } from "./src/gateway/to_fetch_handler.ts";
export { BodyInput, ReadableInputStream } from "./src/gateway/input_stream.ts";
export { LogErrorStream, LogStream } from "./src/gateway/error_stream.ts";
export { FileWrapper, wrapFile } from "./src/gateway/file_wrapper.ts";
export { type ValidatedApp, validator } from "./src/toolkit/validator.ts";
export {
  applicationUri,
  guessScheme,
  isHopByHop,
  pathInfoUtf8,
  type PathInfoUtf8Options,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
  type TestingDefaultsOptions,
  toNative,
} from "./src/toolkit/util.ts";
export { HeaderList, type HeaderParam } from "./src/toolkit/headers.ts";
export {
  type RouteApp,
  type RouteEnviron,
  type RouteMatch,
  type RouteParamNames,
  Router,
  type RouterOptions,
  type RoutingArgs,
} from "./src/toolkit/router.ts";
export { mount, type MountOptions } from "./src/toolkit/mount.ts";
export { denoWebSocket, serve } from "./src/serve/serve.ts";
export type {
  AccessRecord,
  AccessSink,
  RequestLimits,
  ServeOptions,
  Server,
  ServerAddress,
  TimeoutReport,
  TlsOptions,
} from "./src/serve/serve.ts";
export { type CgiOptions, runWithCgi } from "./src/cgi/cgi.ts";
export {
  accessLog,
  type AccessLogEntry,
  type AccessLogOptions,
  combinedLogFormat,
  commonLogFormat,
} from "./src/middleware/access_log.ts";
export {
  errorPages,
  type ErrorPagesOptions,
} from "./src/middleware/error_pages.ts";
export {
  compress,
  type CompressOptions,
  type Encoding,
  negotiateEncoding,
} from "./src/middleware/compress.ts";
export { filter, type FilterOptions } from "./src/middleware/filter.ts";
export { proxy, type ProxyOptions } from "./src/fetch/proxy.ts";
export {
  proxyFix,
  type ProxyFixOptions,
  type ProxyFixOriginal,
} from "./src/middleware/proxy_fix.ts";
export {
  type AnyFetchHandler,
  environUrl,
  fromFetchHandler,
} from "./src/fetch/from_fetch_handler.ts";
export {
  answerFormError,
  FormLimitError,
  FormParseError,
  readForm,
  type ReadFormOptions,
  readJson,
  type ReadJsonOptions,
} from "./src/toolkit/form.ts";
export {
  boundaryOf,
  type MultipartOptions,
  parseMultipart,
  type Part,
} from "./src/toolkit/multipart.ts";
export {
  type CookieAttributes,
  type Cookies,
  deleteCookie,
  getCookies,
  parseCookies,
  setCookie,
} from "./src/toolkit/cookies.ts";
export { query } from "./src/toolkit/query.ts";
export {
  type FileStat,
  staticFiles,
  type StaticFilesOptions,
  type StaticFileSystem,
} from "./src/toolkit/static_files.ts";
