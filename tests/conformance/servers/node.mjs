// The fixture under Node, served by tsgi's own serve() from the npm build
// (not the sources): `node node.mjs <npm-dir> <fixture.mjs>`. The fixture
// module is fixture.ts with its types stripped (it imports no tsgi code).
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, fixturePath] = process.argv.slice(2);
const manifest = JSON.parse(
  readFileSync(path.join(npmDir, "package.json"), "utf8"),
);

/** The file the package's exports map gives for `subpath` under `import`. */
function entry(subpath) {
  const target = manifest.exports?.[subpath];
  const file = typeof target === "string"
    ? target
    : target?.import?.default ?? target?.import ?? target?.default;
  return typeof file === "string"
    ? pathToFileURL(path.join(npmDir, file)).href
    : undefined;
}

const serveModule = entry("./serve") ?? entry(".");
const { serve } = await import(serveModule);
if (typeof serve !== "function") {
  throw new TypeError(`Cannot find serve() in ${serveModule}`);
}
const { app, fixtureOptions } = await import(pathToFileURL(fixturePath).href);
const server = await serve(app, {
  ...fixtureOptions,
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
});
process.on("SIGTERM", () => server.shutdown().then(() => process.exit(0)));
