// The npm package's `tsgi` command (package.json "bin"). Deno and Bun run
// src/cli/cli.ts directly; Node has no import.meta.main, so this file calls it.
import { main } from "./cli.ts";

const status = await main();
(globalThis as unknown as { process: { exit(code: number): never } }).process
  .exit(status);
