// The CLI's runtime on Bun: Node's, but workers are `bun` child processes
// sharing the port with SO_REUSEPORT (Bun has no cluster round-robin).

import process from "node:process";
import type { CliHost } from "./_cli_host.ts";
import { nodeHost, respawn } from "./_cli_node.ts";

/** The CLI's host on Bun. */
export function bunHost(): CliHost {
  const host = nodeHost();
  return {
    ...host,
    async supervisorGone() {
      // A worker's stdin is a pipe from the supervisor: EOF when it dies.
      for await (const _ of process.stdin) {
        // The supervisor never writes; anything read is ignored.
      }
    },
    reusePort: true,
    startWorker: (args, env) => respawn([], args, env, true),
    watch: (args, env) =>
      respawn(["--watch", "--no-clear-screen"], args, env, false),
  };
}
