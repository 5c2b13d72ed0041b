// One benchmark server, run on Deno or Bun:
//   deno run -A scripts/bench/server.ts KIND     bun scripts/bench/server.ts KIND
// It listens on 127.0.0.1 on a free port and prints `listening PORT`.
//
// KIND: raw | raw-floor | tsgi | tsgi-charset | tsgi-environ | naive |
// naive-environ | hono (hello world), raw-json | tsgi-json | hono-json (the
// JSON API of _shared_apps.mjs), download-raw | download-tsgi (1 GiB
// streamed), upload-raw | upload-tsgi (counts the body).
import type { App, Environ, StartResponse } from "../../mod.ts";
import { Hono } from "../../tools/node_modules/hono/dist/index.js";
import { floor, hello, helloCharset, helloEnviron, raw } from "./_apps.ts";
import { honoApi, honoHello, rawApi, tsgiApi } from "./_shared_apps.mjs";

type Handler = (
  request: Request,
  info?: unknown,
) => Response | Promise<Response>;

// TSGI_MOD points at another checkout's mod.ts (run.ts --baseline REF), so
// a change is measured against what it replaced in the same run.
const env = (globalThis as { process?: { env: Record<string, string> } })
  .process?.env ?? {};
const { Router, toFetchHandler } = await import(
  env.TSGI_MOD ?? "../../mod.ts"
) as typeof import("../../mod.ts");

const CHUNK = 65536;
/** Bytes in the streamed download: 1 GiB unless STREAM_BYTES says less. */
const STREAM_BYTES = Number(env.STREAM_BYTES ?? 2 ** 30);
const CHUNKS = Math.ceil(STREAM_BYTES / CHUNK);
const block = new Uint8Array(CHUNK).fill(120);

function* chunks(): Generator<Uint8Array> {
  for (let i = 0; i < CHUNKS; i++) yield block;
}

const download: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return chunks();
};

const upload: App = async (environ: Environ, startResponse: StartResponse) => {
  const input = environ["wsgi.input"];
  let total = 0;
  for (;;) {
    const chunk = await input.read(CHUNK);
    if (chunk.length === 0) break;
    total += chunk.length;
  }
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(`${total}\n`)];
};

function rawDownload(): Response {
  let sent = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < CHUNKS) controller.enqueue(block);
        else controller.close();
      },
    }, { highWaterMark: 0 }),
    { headers: { "content-type": "application/octet-stream" } },
  );
}

async function rawUpload(request: Request): Promise<Response> {
  let total = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
    }
  }
  return new Response(`${total}\n`, {
    headers: { "content-type": "text/plain" },
  });
}

/**
 * The naive gateway, for scale: every header copied into a plain
 * environ up front, `new URL`, an async handler. (Not a conforming one: no
 * checks, no streaming, no close().)
 */
function naive(app: App): Handler {
  return async (request) => {
    const url = new URL(request.url);
    const environ: Record<string, unknown> = {
      REQUEST_METHOD: request.method,
      SCRIPT_NAME: "",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      SERVER_NAME: url.hostname,
      SERVER_PORT: url.port || "80",
      SERVER_PROTOCOL: "HTTP/1.1",
      "wsgi.version": [1, 0],
      "wsgi.url_scheme": url.protocol.slice(0, -1),
      "wsgi.input": request.body,
      "wsgi.errors": console,
      "wsgi.multithread": true,
      "wsgi.multiprocess": false,
      "wsgi.run_once": false,
    };
    for (const [name, value] of request.headers) {
      const key = name.toUpperCase().replaceAll("-", "_");
      environ[
        key === "CONTENT_TYPE" || key === "CONTENT_LENGTH" ? key : "HTTP_" + key
      ] = value;
    }
    let status = "500 Internal Server Error";
    let headers: [string, string][] = [];
    const result = await app(environ as Environ, (s, h) => {
      status = s;
      headers = h;
      return () => Promise.resolve();
    });
    const parts = [...(result as Iterable<Uint8Array>)];
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) body.set(part, offset), offset += part.length;
    return new Response(body, {
      status: Number(status.slice(0, 3)),
      statusText: status.slice(4),
      headers,
    });
  };
}

const HANDLERS: Record<string, () => Handler> = {
  raw: () => raw,
  "raw-floor": () => floor,
  tsgi: () => toFetchHandler(hello),
  "tsgi-charset": () => toFetchHandler(helloCharset),
  "tsgi-environ": () => toFetchHandler(helloEnviron),
  naive: () => naive(hello),
  "naive-environ": () => naive(helloEnviron),
  hono: () => honoHello(Hono),
  "raw-json": () => rawApi,
  "tsgi-json": () => toFetchHandler(tsgiApi(Router)),
  "hono-json": () => honoApi(Hono),
  "download-raw": () => rawDownload,
  "download-tsgi": () => toFetchHandler(download),
  "upload-raw": () => rawUpload,
  "upload-tsgi": () => toFetchHandler(upload),
};

const runtime = globalThis as {
  Deno?: typeof Deno;
  Bun?: {
    argv: string[];
    serve(options: {
      hostname: string;
      port: number;
      fetch: Handler;
      maxRequestBodySize?: number;
    }): { port: number };
  };
};
const kind = runtime.Deno ? Deno.args[0] : runtime.Bun!.argv[2];
const make = HANDLERS[kind];
if (make === undefined) {
  console.error(
    `Cannot serve ${JSON.stringify(kind)}: expected one of ${
      Object.keys(HANDLERS).join(", ")
    }`,
  );
  throw new Error(`Unknown server kind ${JSON.stringify(kind)}`);
}
const handler = make();
if (runtime.Bun) {
  const server = runtime.Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: handler,
    maxRequestBodySize: 2 ** 31,
  });
  console.log(`listening ${server.port}`);
} else {
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, handler);
}

// Under `deno run --cpu-prof`, exit cleanly on SIGTERM so the profile is written.
if (runtime.Deno) Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
