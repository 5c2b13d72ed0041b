// The npm package's `tsgi` command (package.json "bin"). Deno and Bun run
// src/cli/cli.ts directly; Node has no import.meta.main, so this file calls it.
//
// `bunx tsgi app.ts` starts this file under Node (its shebang), which
// cannot load TypeScript before 22.18; a command launched by Bun runs
// again under Bun, which serves the app with Bun.serve.
import { main } from "./cli.ts";
import {
  nodeModules,
  type NodeProcess,
  nodeProcess,
} from "../runtime/_node_shape.ts";

/** Runs this command under Bun and settles with its exit status. */
async function underBun(process: NodeProcess): Promise<number | undefined> {
  const { childProcess } = await nodeModules("childProcess");
  const child = childProcess.spawn("bun", process.argv.slice(1), {
    stdio: ["inherit", "inherit", "inherit"],
    env: process.env,
  });
  return await new Promise((resolve) => {
    child.once("spawn", () => {
      // The child is in this process group: a Ctrl-C reaches it too, and
      // it shuts down gracefully while this process waits for it.
      process.on("SIGINT", () => {});
      process.on("SIGTERM", () => child.kill("SIGTERM"));
    });
    child.once("error", () => resolve(undefined));
    child.once("exit", (code: number | null, signal: string | null) => {
      resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
    });
  });
}

function signalNumber(signal: string): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0;
}

const process = nodeProcess();
const launchedByBun = process.versions.bun === undefined &&
  /^bun\//.test(process.env.npm_config_user_agent ?? "");
// No `bun` on PATH: carry on under Node.
const status = (launchedByBun ? await underBun(process) : undefined) ??
  await main();
process.exit(status);
