// The fixture under Deno.serve on an ephemeral loopback port.
import { toFetchHandler } from "../../../mod.ts";
import { app, fixtureOptions } from "../fixture.ts";

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, toFetchHandler(app, fixtureOptions));
