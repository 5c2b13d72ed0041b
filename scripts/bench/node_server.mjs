// One benchmark server on Node (which runs no TypeScript, hence JavaScript):
//   node scripts/bench/node_server.mjs KIND
// It listens on 127.0.0.1 on a free port and prints `listening PORT`. tsgi
// comes from the npm build (`deno run -A scripts/build_npm.ts` writes npm/;
// TSGI_NPM points at another build, for --baseline), Hono,
// @hono/node-server and srvx from tools/node_modules.
//
// KIND: raw | tsgi | tsgi-environ | naive | naive-environ | hono | srvx
// (hello world), raw-json | tsgi-json | hono-json | srvx-json (the JSON API
// of _shared_apps.mjs), download-raw | download-tsgi | upload-raw |
// upload-tsgi (STREAM_BYTES streamed each way).
import { createServer } from "node:http";
import process from "node:process";
import {
  GREETING,
  hello,
  helloEnviron,
  honoApi,
  honoHello,
  NOT_FOUND,
  rawApi,
  TEXT,
  tsgiApi,
  userJson,
} from "./_shared_apps.mjs";

const here = new URL(".", import.meta.url);
const tools = new URL("../../tools/node_modules/", here);
const npm = process.env.TSGI_NPM === undefined
  ? new URL("../../npm/", here)
  : new URL(`file://${process.env.TSGI_NPM.replace(/\/?$/, "/")}`);

const say = (port) => console.log(`listening ${port}`);
const CHUNK = 65536;
const STREAM_BYTES = Number(process.env.STREAM_BYTES ?? 2 ** 30);
const CHUNKS = Math.ceil(STREAM_BYTES / CHUNK);
const block = new Uint8Array(CHUNK).fill(120);

/** A raw node:http server; `handle(req, res)`. */
function rawServer(handle) {
  const server = createServer(handle);
  server.listen(0, "127.0.0.1", () => say(server.address().port));
}

async function tsgi(app) {
  const { serve } = await import(new URL("mod.js", npm).href);
  const server = await serve(app, {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    accessLog: false,
  });
  say(server.port);
}

async function hono(fetch) {
  const { serve } = await import(
    new URL("@hono/node-server/dist/index.mjs", tools).href
  );
  serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info) => say(info.port));
}

async function srvx(fetch) {
  const { serve } = await import(
    new URL("srvx/dist/adapters/node.mjs", tools).href
  );
  const server = serve({ fetch, port: 0, hostname: "127.0.0.1", silent: true });
  await server.ready();
  say(new URL(server.url).port);
}

async function Hono() {
  return (await import(new URL("hono/dist/index.js", tools).href)).Hono;
}

/**
 * The naive gateway on Node, for scale: every header copied into a plain
 * environ up front, the body collected, no checks, no streaming, no
 * close() (as server.ts's naive Fetch gateway).
 */
function naive(app) {
  rawServer(async (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const host = req.headers.host ?? "";
    const colon = host.lastIndexOf(":");
    const environ = {
      REQUEST_METHOD: req.method,
      SCRIPT_NAME: "",
      PATH_INFO: decodeURIComponent(q === -1 ? url : url.slice(0, q)),
      QUERY_STRING: q === -1 ? "" : url.slice(q + 1),
      SERVER_NAME: colon === -1 ? host : host.slice(0, colon),
      SERVER_PORT: colon === -1 ? "80" : host.slice(colon + 1),
      SERVER_PROTOCOL: "HTTP/" + req.httpVersion,
      "wsgi.version": [1, 0],
      "wsgi.url_scheme": "http",
      "wsgi.input": req,
      "wsgi.errors": console,
      "wsgi.multithread": true,
      "wsgi.multiprocess": false,
      "wsgi.run_once": false,
    };
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i].toUpperCase().replaceAll("-", "_");
      environ[
        key === "CONTENT_TYPE" || key === "CONTENT_LENGTH" ? key : "HTTP_" + key
      ] = raw[i + 1];
    }
    let status = "500 Internal Server Error";
    let headers = [];
    const result = await app(environ, (s, h) => {
      status = s;
      headers = h;
      return () => Promise.resolve();
    });
    const parts = [...result];
    const body = Buffer.concat(parts);
    const flat = [];
    for (const [name, value] of headers) flat.push(name, value);
    flat.push("content-length", String(body.length));
    res.writeHead(Number(status.slice(0, 3)), status.slice(4), flat);
    res.end(body);
  });
}

function* chunks() {
  for (let i = 0; i < CHUNKS; i++) yield block;
}

const download = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return chunks();
};

const upload = async (environ, startResponse) => {
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

const KINDS = {
  raw: () =>
    rawServer((_req, res) => {
      res.writeHead(200, {
        "content-type": "text/plain",
        "content-length": GREETING.length,
      });
      res.end(GREETING);
    }),
  "raw-json": () =>
    rawServer((req, res) => {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q === -1 ? url : url.slice(0, q);
      if (!path.startsWith("/users/")) {
        res.writeHead(404, { "content-length": NOT_FOUND.length });
        res.end(NOT_FOUND);
        return;
      }
      const x = new URLSearchParams(q === -1 ? "" : url.slice(q + 1)).get("x");
      const body = JSON.stringify(
        userJson(path.slice(7), x, req.headers["user-agent"] ?? null),
      );
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    }),
  tsgi: () => tsgi(hello),
  "tsgi-environ": () => tsgi(helloEnviron),
  "tsgi-json": async () =>
    tsgi(tsgiApi((await import(new URL("mod.js", npm).href)).Router)),
  naive: () => naive(hello),
  "naive-environ": () => naive(helloEnviron),
  hono: async () => hono(honoHello(await Hono())),
  "hono-json": async () => hono(honoApi(await Hono())),
  srvx: () => srvx(() => new Response(TEXT)),
  "srvx-json": () => srvx(rawApi),
  "download-raw": () =>
    rawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const more = () => {
        while (sent < CHUNKS) {
          sent++;
          if (!res.write(block)) return void res.once("drain", more);
        }
        res.end();
      };
      more();
    }),
  "download-tsgi": () => tsgi(download),
  "upload-raw": () =>
    rawServer((req, res) => {
      let total = 0;
      req.on("data", (chunk) => total += chunk.length);
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`${total}\n`);
      });
    }),
  "upload-tsgi": () => tsgi(upload),
};

const kind = process.argv[2];
if (!(kind in KINDS)) {
  throw new Error(
    `Cannot serve ${JSON.stringify(kind)}: expected one of ${
      Object.keys(KINDS).join(", ")
    }`,
  );
}
await KINDS[kind]();
// Under `node --cpu-prof`, exit cleanly on SIGTERM so the profile is written.
process.on("SIGTERM", () => process.exit(0));
