// Reproductions, without tsgi, of what Deno.serve and Bun.serve do before
// (or after) a Fetch handler runs that a gateway cannot change. Each case
// prints what the runtime did; `--check` exits 1 when a runtime no longer
// behaves as recorded below, so an upgrade that fixes (or moves) a gap is
// noticed. Loopback only; every read ends by itself.
//
//   deno run -A scripts/repro/runtime_gaps.ts [--check]
//   bun scripts/repro/runtime_gaps.ts [--check]

import { connect } from "node:net";

interface Gap {
  name: string;
  /** What the runtime was seen to do, as `observe` reports it. */
  recorded: { deno: string; bun: string };
  request: string;
  observe(reply: string): string;
}

const encoder = new TextEncoder();

function handler(request: Request): Response | Promise<Response> {
  const path = new URL(request.url, "http://x").pathname;
  if (path === "/413") return new Response("too big\n", { status: 413 });
  if (path.startsWith("/echo-url")) return new Response(request.url);
  if (path === "/read") {
    return request.text().then(
      (text) => new Response(`read ${text.length}`),
      () => new Response("read failed", { status: 400 }),
    );
  }
  if (path === "/broken") {
    // A body that fails after its first chunk, as an app that raises does.
    let sent = false;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) controller.error(new Error("the app failed"));
          else controller.enqueue(encoder.encode("first-chunk;"));
          sent = true;
        },
      }),
    );
  }
  return new Response("ok\n");
}

const GAPS: Gap[] = [
  {
    name: "100 Continue before a response that never reads the body",
    recorded: { deno: "100 then 413", bun: "100 then 413" },
    request:
      "POST /413 HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n",
    observe: (reply) =>
      reply.startsWith("HTTP/1.1 100")
        ? "100 then " + (/\r\n\r\nHTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? "?")
        : (/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? "nothing"),
  },
  {
    name: "a broken body over HTTP/1.0 ends like a whole one",
    recorded: { deno: "clean close", bun: "reset" },
    request: "GET /broken HTTP/1.0\r\nHost: a\r\n\r\n",
    observe: (reply) => reply.endsWith("<reset>") ? "reset" : "clean close",
  },
  {
    name: "a chunked body ending 0\\n\\n (bare LF) never ends the read",
    recorded: { deno: "no answer", bun: "400" },
    request:
      "POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\n",
    observe: (reply) =>
      reply.endsWith("<no answer>")
        ? "no answer"
        : (/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? "nothing"),
  },
  {
    name: "backslashes in the target become slashes, dot segments resolved",
    recorded: { deno: "/a\\..\\b", bun: "/b" },
    request:
      "GET /echo-url/a\\..\\b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    observe: (reply) => pathOf(reply),
  },
  {
    name: "a raw octet that is not UTF-8 becomes U+FFFD",
    recorded: { deno: "400", bun: "/%EF%BF%BD" },
    request:
      "GET /echo-url/\xe9 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    observe: (reply) =>
      reply.startsWith("HTTP/1.1 200")
        ? pathOf(reply)
        : (/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? "nothing"),
  },
];

/** The path of the URL /echo-url answered with, after /echo-url, as sent. */
function pathOf(reply: string): string {
  const url = reply.slice(reply.indexOf("\r\n\r\n") + 4);
  // No URL parser here: it would change the very thing looked at.
  return url.replace(/^https?:\/\/[^/]*/, "").replace("/echo-url", "") || "/";
}

/**
 * Sends latin-1 text, reads until the server closes, resets, or is quiet
 * for `quiet` ms with the connection open (a server waiting for more).
 */
function ask(port: number, request: string, quiet = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    let timer = setTimeout(done, quiet, "<no answer>");
    function done(end: string) {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply + end);
    }
    socket.on("data", (data: Uint8Array) => {
      reply += String.fromCharCode(...data);
      clearTimeout(timer);
      timer = setTimeout(done, quiet, reply === "" ? "<no answer>" : "");
    });
    socket.on("error", () => done("<reset>"));
    socket.on("close", () => done(""));
    socket.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
  });
}

interface RuntimeGlobals {
  Deno?: {
    serve(
      options: { hostname: string; port: number; onListen(): void },
      handler: (request: Request) => Response | Promise<Response>,
    ): { addr: { port: number }; shutdown(): Promise<void> };
    exit(code: number): never;
    args: string[];
  };
  Bun?: {
    serve(options: {
      hostname: string;
      port: number;
      fetch: (request: Request) => Response | Promise<Response>;
    }): { port: number; stop(force: boolean): void };
  };
  process?: { argv: string[]; exit(code: number): never };
}

const g = globalThis as unknown as RuntimeGlobals;
const runtime = g.Bun ? "bun" : "deno";
let port: number;
let stop: () => unknown;
if (g.Bun) {
  const server = g.Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: handler,
  });
  port = server.port;
  stop = () => server.stop(true);
} else {
  const server = g.Deno!.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  port = server.addr.port;
  stop = () => server.shutdown();
}
const args = g.Deno?.args ?? g.process?.argv ?? [];
let changed = 0;
for (const gap of GAPS) {
  const seen = gap.observe(await ask(port, gap.request));
  const recorded = gap.recorded[runtime];
  const same = seen === recorded;
  if (!same) changed++;
  console.log(
    `${runtime} | ${gap.name} | ${seen}${
      same ? "" : ` (recorded: ${recorded})`
    }`,
  );
}
stop();
console.log(
  `runtime gaps ${runtime}: ${GAPS.length} cases, ${changed} changed since recorded`,
);
const exit = g.Deno?.exit ?? g.process!.exit;
exit(args.includes("--check") && changed > 0 ? 1 : 0);
