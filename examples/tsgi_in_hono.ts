// A tsgi app mounted in a Hono app, served by Deno.serve:
//   deno run --allow-net examples/tsgi_in_hono.ts [port]
// GET / is Hono; GET /wsgi/... is the tsgi app, with SCRIPT_NAME "/wsgi".
import { type App, toFetchHandler } from "../mod.ts";
// `import { Hono } from "hono"` in an app; here, from the dev tools.
import { Hono } from "./_hono.ts";

/** A tsgi app that shows where it was mounted. */
export const wsgiApp: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  const { SCRIPT_NAME, PATH_INFO, QUERY_STRING } = environ;
  return [
    new TextEncoder().encode(
      JSON.stringify({ SCRIPT_NAME, PATH_INFO, QUERY_STRING }) + "\n",
    ),
  ];
};

const app = new Hono();
app.get("/", (c) => c.text("Hello from Hono!\n"));
// replaceRequest: false keeps the whole path, and the gateway moves the
// prefix into SCRIPT_NAME, as a WSGI app expects when mounted.
app.mount("/wsgi", toFetchHandler(wsgiApp, { scriptName: "/wsgi" }), {
  replaceRequest: false,
});

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  Deno.serve({ hostname: "127.0.0.1", port }, app.fetch);
}
