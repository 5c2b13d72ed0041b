// tsgi under `deno serve`: the module's default export is a fetch handler.
// With --parallel, Deno runs one copy per CPU core, all on one port:
//   deno serve --parallel --port 8000 examples/deno_serve.ts
// The same `export default { fetch }` is what Cloudflare Workers run.
import { toFetchHandler } from "../mod.ts";
import { app } from "./hello.ts";

export default {
  // Copies of the app run in several isolates at once under --parallel.
  fetch: toFetchHandler(app, { multiprocess: true }),
} satisfies Deno.ServeDefaultExport;
