// Serves one bundled ES-module Worker under workerd, through miniflare, on a
// loopback port, and prints "listening <port>" once it accepts requests.
//   node workerd.mjs <bundle.js> [bindings-json]
// SIGTERM, or the end of a piped stdin (the parent gone), disposes of workerd.
import { createRequire } from "node:module";
import { fstatSync } from "node:fs";
import path from "node:path";
import process from "node:process";

// miniflare is a dev tool pinned in tools/, not a dependency of the project.
const require = createRequire(new URL("../../../tools/", import.meta.url));
const { Miniflare } = require("miniflare");

const [scriptPath, bindingsJson] = process.argv.slice(2);
if (scriptPath === undefined) {
  console.error("usage: node workerd.mjs <bundle.js> [bindings-json]");
  process.exit(2);
}
const mf = new Miniflare({
  modules: true,
  scriptPath: path.resolve(scriptPath),
  // Module names are paths relative to this root; workerd refuses "..".
  modulesRoot: path.dirname(path.resolve(scriptPath)),
  compatibilityDate: "2026-04-01",
  bindings: bindingsJson ? JSON.parse(bindingsJson) : {},
  host: "127.0.0.1",
  port: 0,
  // workerd's own stdout/stderr (console.log in the Worker) go to ours.
  handleRuntimeStdio(stdout, stderr) {
    stdout.pipe(process.stdout);
    stderr.pipe(process.stderr);
  },
});
const url = await mf.ready;
console.log(`listening ${url.port}`);

let disposing = false;
async function stop() {
  if (disposing) return;
  disposing = true;
  await mf.dispose();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// A parent that holds our stdin as a pipe and dies takes workerd with it.
if (fstatSync(0).isFIFO()) {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
