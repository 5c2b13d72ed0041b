// The CLI's runtime on Bun: Node's, but workers are `bun` child processes
// sharing the port with SO_REUSEPORT (Bun has no cluster round-robin).

import process from "node:process";
import { spawn as spawnChild } from "node:child_process";
import { Readable } from "node:stream";
import { type CliHost, relayWorkerStderr } from "./_cli_host.ts";
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
    startWorker(args, env) {
      const child = spawnChild(process.execPath, [process.argv[1], ...args], {
        stdio: ["pipe", "inherit", "pipe"],
        env: { ...process.env, ...env },
      });
      return {
        pid: child.pid ?? -1,
        ready: relayWorkerStderr(
          Readable.toWeb(child.stderr!) as unknown as ReadableStream<
            Uint8Array
          >,
          host.writeErr,
        ),
        exited: new Promise((resolve) =>
          child.on(
            "exit",
            (code, signal) =>
              resolve(code ?? (signal === "SIGKILL" ? 137 : 143)),
          )
        ),
        kill(signal) {
          child.kill(signal);
        },
      };
    },
    watch: (args, env) => respawn(["--watch"], args, env),
  };
}
