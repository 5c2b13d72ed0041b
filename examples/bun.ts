// The hello app on Bun, with Bun's own server:
//   bun examples/bun.ts [port]
// (`serve()` from tsgi works on Bun too, as on Deno and Node.)
import { toFetchHandler } from "../mod.ts";
import { app } from "./hello.ts";

// Bun's types are not installed for Deno's type check: the slice used here.
declare const Bun: {
  argv: string[];
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request, server: unknown) => Response | Promise<Response>;
  }): { url: URL };
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(Bun.argv[2] ?? 8000),
  // Bun passes the server as the second argument; the gateway asks it for
  // the peer's address (REMOTE_ADDR).
  fetch: toFetchHandler(app),
});
console.log(`Listening on ${server.url}`);
