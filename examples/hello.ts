// PEP 3333's hello world, served by Deno:
//   deno run --allow-net examples/hello.ts [port]
import { type App, toFetchHandler } from "../mod.ts";

const greeting = new TextEncoder().encode("Hello world!\n");

/** The simplest tsgi application. */
export const app: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [greeting];
};

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  Deno.serve({ hostname: "127.0.0.1", port }, toFetchHandler(app));
}
