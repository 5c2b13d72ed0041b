// The app every reliability test and script serves: small, streamed and
// upload routes, counters for close() and produced chunks, and a check of
// the environ on every call that counts anything inconsistent.
//
//   GET  /small                      "ok\n"
//   GET  /stream?n=N&size=S          N chunks of S bytes (N=0: endless)
//   POST /upload                     reads the body, answers its length
//   GET  /environ…                   the CGI keys as JSON
//   GET  /fail-after-first?async=1   one chunk, then the result throws
//                                    (a sync generator; an async one with
//                                    async=1)
//   GET  /short-length               Content-Length 10, then only 3 bytes
//   GET  /no-content                 204 with an app-set Content-Length
//   GET  /not-modified               304 with an app-set Content-Length
//   GET  /__stats                    the counters as JSON

import type { App, Environ } from "../../mod.ts";

/** What the fixture counts. */
export interface FixtureStats {
  /** App calls, not counting /__stats. */
  requests: number;
  /** /stream responses started. */
  streams: number;
  /** close() calls on /stream results. */
  closes: number;
  /** Chunks the /stream generators produced. */
  produced: number;
  /** Bytes read from upload bodies. */
  uploaded: number;
  /** Environ checks that failed. */
  violations: number;
  /** The first few failures, for the report. */
  samples: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Any UTF-16 unit above U+00FF: not a native string.
const NOT_LATIN1 = /[\u0100-\uffff]/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// RFC 3986 host: an IP-literal in brackets, or a reg-name / IPv4address
// (unreserved, sub-delims but not the "," that joins repeated headers, and
// percent-escapes). Never "/", "?", "#", "@", "\\" or whitespace.
const HOST_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]+)$/;

/**
 * Checks an environ against SPEC.md; returns what is wrong, or [].
 * Reads every key, so lazy ones are computed too.
 *
 * @param expectedScheme The listener's scheme: every fixture server is
 * plain HTTP, so "https" anywhere is a client's claim believed.
 */
export function environProblems(
  environ: Environ,
  expectedScheme: "http" | "https" = "http",
): string[] {
  const problems: string[] = [];
  const bad = (what: string) => problems.push(what);
  const str = (key: string) => {
    const v = environ[key];
    if (typeof v !== "string") bad(`${key} is ${typeof v}`);
    return typeof v === "string" ? v : "";
  };
  const method = str("REQUEST_METHOD");
  if (!TOKEN.test(method)) bad("REQUEST_METHOD not a token");
  // SPEC.md: lowercase methods reach the app upper-cased, on every runtime.
  if (/[a-z]/.test(method)) bad(`REQUEST_METHOD ${JSON.stringify(method)}`);
  if (method === "CONNECT") bad("CONNECT reached the app");
  if (str("SCRIPT_NAME") !== "") bad("SCRIPT_NAME not empty");
  const path = str("PATH_INFO");
  if (!path.startsWith("/")) bad(`PATH_INFO ${JSON.stringify(path)}`);
  const query = str("QUERY_STRING");
  if (/[\s#]/.test(query)) bad(`QUERY_STRING ${JSON.stringify(query)}`);
  const uri = str("REQUEST_URI");
  if (!uri.startsWith("/") || /[\s#]/.test(uri)) {
    bad(`REQUEST_URI ${JSON.stringify(uri)}`);
  }
  const name = str("SERVER_NAME");
  if (!HOST_NAME.test(name)) bad(`SERVER_NAME ${JSON.stringify(name)}`);
  const port = str("SERVER_PORT");
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    bad(`SERVER_PORT ${JSON.stringify(port)}`);
  }
  str("SERVER_PROTOCOL");
  if (environ.CONTENT_LENGTH !== undefined) {
    const length = str("CONTENT_LENGTH");
    if (!/^[0-9]+$/.test(length)) {
      bad(`CONTENT_LENGTH ${JSON.stringify(length)}`);
    }
  }
  const host = environ.HTTP_HOST;
  // Two Host headers joined into one value (RFC 9112 §3.2 wants a 400).
  if (typeof host === "string" && host.includes(",")) {
    bad(`HTTP_HOST ${JSON.stringify(host)}`);
  }
  const version = environ["wsgi.version"];
  if (version?.[0] !== 1 || version?.[1] !== 0) bad("wsgi.version");
  const scheme = environ["wsgi.url_scheme"];
  if (scheme !== "http" && scheme !== "https") bad("wsgi.url_scheme");
  // The scheme comes from the listener, never from the client's claim.
  if (scheme !== expectedScheme) {
    bad(
      `wsgi.url_scheme ${
        JSON.stringify(scheme)
      } on an ${expectedScheme} listener`,
    );
  }
  if (expectedScheme === "http" && environ.HTTPS !== undefined) {
    bad(`HTTPS ${JSON.stringify(environ.HTTPS)} on a plain listener`);
  }
  if (typeof environ["wsgi.input"]?.read !== "function") bad("wsgi.input");
  if (typeof environ["wsgi.errors"]?.write !== "function") bad("wsgi.errors");
  const request = environ["tsgi.request"];
  for (const key of Object.keys(environ)) {
    const value = environ[key];
    if (/^[A-Z_]+$/.test(key) && typeof value !== "string") {
      bad(`${key} is ${typeof value}`);
      continue;
    }
    if (typeof value === "string" && NOT_LATIN1.test(value)) {
      bad(`${key} has code points above U+00FF`);
    }
    if (!key.startsWith("HTTP_")) continue;
    if (!/^HTTP_[A-Z0-9_]+$/.test(key)) bad(`odd key ${JSON.stringify(key)}`);
    if (key === "HTTP_CONTENT_TYPE" || key === "HTTP_CONTENT_LENGTH") {
      bad(`${key} present`);
    }
    if (!FIELD_VALUE.test(value as string)) bad(`${key} has control chars`);
    // Each HTTP_* key must come from a real dashed header, never from an
    // underscored one spoofing it (X_Forwarded_For → HTTP_X_FORWARDED_FOR).
    const header = key.slice(5).toLowerCase().replaceAll("_", "-");
    if (request !== undefined && !request.headers.has(header)) {
      bad(`${key} without a ${header} header`);
    }
  }
  const remote = environ.REMOTE_ADDR;
  if (remote !== undefined && !/^[0-9a-fA-F.:]+$/.test(String(remote))) {
    bad(`REMOTE_ADDR ${JSON.stringify(remote)}`);
  }
  return problems;
}

const encoder = new TextEncoder();
const OK = encoder.encode("ok\n");
const TEXT: [string, string] = ["Content-Type", "text/plain"];

/**
 * Builds the fixture app and its counters.
 *
 * @param heap Reports the JS heap in use, for /__stats.
 */
export function createFixture(
  heap: () => number = () => 0,
): { app: App; stats: FixtureStats } {
  const stats: FixtureStats = {
    requests: 0,
    streams: 0,
    closes: 0,
    produced: 0,
    uploaded: 0,
    violations: 0,
    samples: [],
  };
  const chunks = new Map<number, Uint8Array>();

  const app: App = (environ, startResponse) => {
    const path = environ.PATH_INFO;
    if (path === "/__stats") {
      startResponse("200 OK", [["Content-Type", "application/json"]]);
      return [encoder.encode(JSON.stringify({ ...stats, heap: heap() }))];
    }
    stats.requests++;
    const problems = environProblems(environ);
    if (problems.length > 0) {
      stats.violations++;
      if (stats.samples.length < 10) {
        stats.samples.push(`${environ.REQUEST_URI}: ${problems.join("; ")}`);
      }
    }
    if (path === "/small") {
      startResponse("200 OK", [TEXT]);
      return [OK];
    }
    if (path === "/stream") {
      const params = new URLSearchParams(environ.QUERY_STRING);
      const n = Number(params.get("n") ?? 16);
      const size = Math.min(Number(params.get("size") ?? 1024), 1 << 20);
      let chunk = chunks.get(size);
      if (chunk === undefined) {
        chunk = new Uint8Array(size).fill(120);
        chunks.set(size, chunk);
      }
      const body = chunk;
      stats.streams++;
      startResponse("200 OK", [TEXT]);
      const result = (function* () {
        for (let i = 0; n === 0 || i < n; i++) {
          stats.produced++;
          yield body;
        }
      })();
      return Object.assign(result, { close: () => void stats.closes++ });
    }
    if (path === "/upload") {
      return (async () => {
        let total = 0;
        const input = environ["wsgi.input"];
        for (
          let part = await input.read(65536);
          part.length > 0;
          part = await input.read(65536)
        ) total += part.length;
        stats.uploaded += total;
        startResponse("200 OK", [TEXT]);
        return [encoder.encode(`${total}\n`)];
      })();
    }
    if (path.startsWith("/environ")) {
      const shown: Record<string, unknown> = {};
      for (const key of Object.keys(environ)) {
        if (typeof environ[key] === "string") shown[key] = environ[key];
      }
      startResponse("200 OK", [["Content-Type", "application/json"]]);
      return [encoder.encode(JSON.stringify(shown))];
    }
    if (path === "/fail-after-first") {
      startResponse("200 OK", [TEXT]);
      const failure = () => new Error("fixture: failed after the first chunk");
      if (environ.QUERY_STRING === "async=1") {
        return (async function* () {
          yield encoder.encode("first-chunk;");
          await Promise.resolve();
          throw failure();
        })();
      }
      return (function* () {
        yield encoder.encode("first-chunk;");
        throw failure();
      })();
    }
    if (path === "/short-length") {
      startResponse("200 OK", [TEXT, ["Content-Length", "10"]]);
      // A generator, so the gateway cannot count the body before sending
      // the headers.
      return (function* () {
        yield encoder.encode("abc");
      })();
    }
    if (path === "/no-content" || path === "/not-modified") {
      const status = path === "/no-content"
        ? "204 No Content"
        : "304 Not Modified";
      startResponse(status, [["Content-Length", "5"]]);
      return [];
    }
    startResponse("404 Not Found", [TEXT]);
    return [encoder.encode("not found\n")];
  };
  return { app, stats };
}
