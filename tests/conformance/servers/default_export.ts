// The fixture as `export default { fetch }`: served by `deno serve`, and
// bundled by esbuild into the module workerd runs.
import { toFetchHandler } from "../../../mod.ts";
import { app, fixtureOptions } from "../fixture.ts";

export default { fetch: toFetchHandler(app, fixtureOptions) };
