// The hello app as a default export, for `deno serve`: one process, and with
// --parallel one isolate per CPU core sharing the port.
//   deno serve --parallel --allow-net --port 8000 examples/serve_default.ts
import { toFetchHandler } from "../mod.ts";
import { app } from "./hello.ts";

export default { fetch: toFetchHandler(app) } satisfies Deno.ServeDefaultExport;
