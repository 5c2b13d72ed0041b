// An app run as a CGI script (PEP 333's run_with_cgi). Point a CGI host at
// examples/cgi_app.cgi, or try it by hand:
//   REQUEST_METHOD=GET PATH_INFO=/hi QUERY_STRING=a=1 deno run --allow-env examples/cgi_app.ts
//
// Paths: /echo (POST: the body back), /fail (raises before responding),
// /big?mib=N (N MiB of a repeating pattern, streamed), anything else (the
// request as the app saw it).
import type { App } from "../mod.ts";

const encoder = new TextEncoder();

function* pattern(bytes: number): Generator<Uint8Array> {
  const block = new Uint8Array(64 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  for (let left = bytes; left > 0; left -= block.length) {
    yield left >= block.length ? block : block.subarray(0, left);
  }
}

/** Echoes what a CGI request looks like from inside. */
export const app: App = async (environ, startResponse) => {
  const path = environ.PATH_INFO;
  if (path === "/fail") throw new Error("the example app failed on purpose");
  if (path === "/big") {
    const mib = Number(/(?:^|&)mib=(\d+)/.exec(environ.QUERY_STRING)?.[1] ?? 1);
    startResponse("200 OK", [
      ["Content-Type", "application/octet-stream"],
      ["Content-Length", String(mib * 1024 * 1024)],
    ]);
    return pattern(mib * 1024 * 1024);
  }
  if (path === "/echo") {
    const body = await environ["wsgi.input"].read();
    startResponse("200 OK", [
      ["Content-Type", environ.CONTENT_TYPE ?? "application/octet-stream"],
      ["X-Body-Length", String(body.length)],
    ]);
    return [body];
  }
  const seen = {
    REQUEST_METHOD: environ.REQUEST_METHOD,
    SCRIPT_NAME: environ.SCRIPT_NAME,
    PATH_INFO: environ.PATH_INFO,
    QUERY_STRING: environ.QUERY_STRING,
    SERVER_PROTOCOL: environ.SERVER_PROTOCOL,
    HTTP_X_TEST: environ.HTTP_X_TEST,
    "wsgi.run_once": environ["wsgi.run_once"],
    "wsgi.multithread": environ["wsgi.multithread"],
    "wsgi.multiprocess": environ["wsgi.multiprocess"],
    "wsgi.url_scheme": environ["wsgi.url_scheme"],
  };
  startResponse("200 OK", [
    ["Content-Type", "application/json"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
  ]);
  return [encoder.encode(JSON.stringify(seen) + "\n")];
};

if (import.meta.main) {
  const { runWithCgi } = await import("../src/cgi/cgi.ts");
  await runWithCgi(app);
}
