// The fixture app (fixture_app.ts) served with serve() on whichever runtime
// runs this file: `deno run -A`, `bun`, or `node` on the esbuild bundle
// (see _server.ts). `--max-body=N` sets maxBodySize (default 1024, what the
// hostile cases expect). Prints one line, `listening <port> <pid>`, on stdout once
// the server accepts connections, then serves until killed.
//
// Besides the fixture's routes it answers GET /__gc (full collections, when
// the runtime was started with them exposed) and GET /__wait?closes=N, which
// settles once N close() calls have been counted: drivers wait on that
// event instead of polling or sleeping.

import { serve } from "../../src/serve/serve.ts";
import type { App } from "../../mod.ts";
import { createFixture } from "./fixture_app.ts";
import { MAX_BODY_SIZE } from "./hostile_cases.ts";

const memory = globalThis as {
  process?: { memoryUsage(): { heapUsed: number } };
  Deno?: { memoryUsage(): { heapUsed: number } };
};
const { app: fixture, stats } = createFixture(() =>
  (memory.Deno ?? memory.process)!.memoryUsage().heapUsed
);
const waiters: { closes: number; resolve: () => void }[] = [];

// close() runs in the gateway; check waiters after each one.
const counted = stats as { closes: number };
let closes = 0;
Object.defineProperty(counted, "closes", {
  enumerable: true,
  get: () => closes,
  set(value: number) {
    closes = value;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (closes >= waiters[i].closes) waiters.splice(i, 1)[0].resolve();
    }
  },
});

const encoder = new TextEncoder();

// Full collections before memory is measured, so RSS shows what is held,
// not what the collector has not got round to yet.
const gc = (globalThis as { gc?: () => void }).gc ??
  ((globalThis as { Bun?: { gc(force: boolean): void } }).Bun
    ? () =>
      (globalThis as unknown as { Bun: { gc(f: boolean): void } }).Bun.gc(true)
    : undefined);

const app: App = (environ, startResponse) => {
  if (environ.PATH_INFO === "/__gc") {
    for (let i = 0; i < 3; i++) gc?.();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [encoder.encode(gc === undefined ? "no gc\n" : "collected\n")];
  }
  if (environ.PATH_INFO !== "/__wait") return fixture(environ, startResponse);
  const want = Number(new URLSearchParams(environ.QUERY_STRING).get("closes"));
  return new Promise<Uint8Array[]>((resolve) => {
    const answer = () => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      resolve([encoder.encode(`${closes}\n`)]);
    };
    if (closes >= want) answer();
    else waiters.push({ closes: want, resolve: answer });
  });
};

const g = globalThis as {
  Deno?: { args: string[]; pid: number };
  process?: { argv: string[]; pid: number };
};
const args = g.Deno?.args ?? g.process?.argv.slice(2) ?? [];
const maxBody = args.find((a) => a.startsWith("--max-body="));

const server = await serve(app, {
  hostname: "127.0.0.1",
  port: 0,
  maxBodySize: maxBody === undefined
    ? MAX_BODY_SIZE
    : Number(maxBody.slice(11)),
  accessLog: false,
  onListen: () => {},
});
console.log(`listening ${server.port} ${g.process?.pid ?? g.Deno?.pid}`);
