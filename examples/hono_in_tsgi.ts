// A Hono app mounted in a tsgi site, beside a tsgi app, behind tsgi
// middleware (the access log):
//   deno run --allow-net examples/hono_in_tsgi.ts [port]
// GET /hello/ana is the tsgi Router; GET /hono/... is Hono.
import {
  accessLog,
  type App,
  fromFetchHandler,
  mount,
  Router,
  type RoutingArgs,
  serve,
} from "../mod.ts";
// `import { Hono } from "hono"` in an app; here, from the dev tools.
import { Hono } from "./_hono.ts";

const hello: App = (environ, startResponse) => {
  const [, { name }] = environ["wsgiorg.routing_args"] as RoutingArgs;
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [new TextEncoder().encode(`Hello, ${name}, from tsgi!\n`)];
};

// A mounted Fetch app sees the whole path, so Hono matches under /hono.
const hono = new Hono().basePath("/hono");
hono.get("/", (c) => c.text("Hello from Hono!\n"));
hono.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));

/** The site: the tsgi router at `/`, the Hono app at `/hono`. */
export const site: App = mount({
  "/": new Router().get("/hello/:name", hello).app,
  "/hono": fromFetchHandler(hono.fetch),
});

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  await serve(accessLog(site), { port, accessLog: false });
}
