// The fixture under Bun.serve on an ephemeral loopback port.
import { toFetchHandler } from "../../../mod.ts";
import { app, fixtureOptions } from "../fixture.ts";

declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request, server: unknown) => Response | Promise<Response>;
  }): { port: number };
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: toFetchHandler(app, fixtureOptions),
});
console.log(`listening ${server.port}`);
