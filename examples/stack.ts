// The middleware of a WSGI stack, composed: an access log, then error
// pages, then compression, in front of three apps mounted side by side in
// one process — a tsgi Router app, a load-balanced proxy to upstream
// servers, and a Hono app — served by serve().
//
//   deno run -A examples/stack.ts [port] [upstream-url ...]
//
// With no upstream given, a demo upstream is started on 127.0.0.1.
import {
  accessLog,
  type App,
  compress,
  errorPages,
  fromFetchHandler,
  mount,
  proxy,
  Router,
  type RoutingArgs,
  serve,
} from "../mod.ts";
import { Hono } from "./_hono.ts";

const encoder = new TextEncoder();

function text(body: string): App {
  return (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [encoder.encode(body)];
  };
}

/** The tsgi part: a Router with a few routes. */
export function routerApp(): App {
  const hello: App = (environ, startResponse) => {
    const [, { name }] = environ["wsgiorg.routing_args"] as RoutingArgs;
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [encoder.encode(`Hello, ${name}!\n`)];
  };
  // A streamed body: compress passes it on chunk by chunk, so each chunk
  // holds a batch of rows rather than one.
  const report: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/csv"]]);
    return (async function* () {
      yield encoder.encode("n,square\n");
      for (let batch = 0; batch < 2000; batch += 200) {
        let rows = "";
        for (let n = batch; n < batch + 200; n++) rows += `${n},${n * n}\n`;
        yield encoder.encode(rows);
      }
    })();
  };
  return new Router()
    .get("/", text("tsgi router: home\n"))
    .get("/hello/:name", hello)
    .get("/report.csv", report)
    .get("/boom", () => {
      throw new Error("this route always fails");
    })
    .app;
}

/** The Hono part, under /hono. */
export function honoApp(): (request: Request) => Response | Promise<Response> {
  const app = new Hono().basePath("/hono");
  app.get("/", (c) => c.text("hono: home\n"));
  app.get(
    "/json",
    (c) => c.json({ from: "hono", q: c.req.query("q") ?? null }),
  );
  return (request) => app.fetch(request);
}

/** Options of {@linkcode stack}. */
export interface StackOptions {
  /** Upstream base URLs for /proxy, balanced round-robin. */
  upstreams: string[];
  /** The Fetch handler mounted at /hono. */
  hono?: (request: Request) => Response | Promise<Response>;
  /** Where access-log lines go; wsgi.errors by default. */
  log?: (line: string) => void;
  /** Stack traces in error pages. */
  debug?: boolean;
  /** Extra apps to mount (for tests). */
  extra?: Record<string, App>;
}

/** logger → error pages → compression → mount(router, proxy, Hono). */
export function stack(options: StackOptions): App {
  const site = mount({
    "/": routerApp(),
    "/proxy": proxy(options.upstreams, { timeout: 10_000 }),
    "/hono": fromFetchHandler(options.hono ?? honoApp()),
    ...options.extra,
  });
  return accessLog(
    errorPages(compress(site), { debug: options.debug ?? false }),
    { format: "combined", sink: options.log && ((line) => options.log!(line)) },
  );
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  let upstreams = Deno.args.slice(1);
  if (upstreams.length === 0) {
    const demo = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) =>
        new Response(`demo upstream: ${new URL(request.url).pathname}\n`),
    );
    upstreams = [`http://127.0.0.1:${demo.addr.port}`];
  }
  await serve(stack({ upstreams, log: (line) => console.log(line) }), {
    port,
    accessLog: false,
  });
}
