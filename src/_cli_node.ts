// The CLI's runtime on Node: workers are node:cluster processes (the
// primary accepts and hands connections round-robin); --reload is
// `node --watch`. Bun shares this file except for workers (_cli_bun.ts).

import cluster from "node:cluster";
import { spawn as spawnChild } from "node:child_process";
import { existsSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import process from "node:process";
import { Readable } from "node:stream";
import { type ChildProcess, type CliHost, relayStderr } from "./_cli_host.ts";

function writeAll(fd: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0; offset < bytes.length;) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      // A non-blocking pipe that is full: try again.
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    }
  }
}

/**
 * Runs the runtime again on this script; its stderr is relayed. A worker's
 * stdin is a pipe from us, so it reads EOF when we die.
 */
export function respawn(
  runtimeArgs: string[],
  args: string[],
  env: Record<string, string>,
  worker: boolean,
): ChildProcess {
  const child = spawnChild(
    process.execPath,
    [...runtimeArgs, process.argv[1], ...args],
    {
      stdio: [worker ? "pipe" : "inherit", "inherit", "pipe"],
      env: { ...process.env, ...env },
    },
  );
  const { ready, done } = relayStderr(
    Readable.toWeb(child.stderr!) as unknown as ReadableStream<Uint8Array>,
    (text) => writeAll(2, text),
  );
  return {
    pid: child.pid ?? -1,
    ready,
    done,
    exited: new Promise((resolve) =>
      child.on(
        "exit",
        (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143)),
      )
    ),
    kill(signal) {
      child.kill(signal);
    },
  };
}

/** The CLI's host on Node (and, with _cli_bun.ts's changes, Bun). */
export function nodeHost(): CliHost {
  const runtime = typeof process.versions.bun === "string"
    ? `bun ${process.versions.bun}`
    : `node ${process.versions.node}`;
  return {
    runtime,
    pid: process.pid,
    args: process.argv.slice(2),
    env: (name) => process.env[name],
    cwd: () => process.cwd(),
    exists: (path) => existsSync(path),
    writeOut: (text) => writeAll(1, text),
    writeErr: (text) => writeAll(2, text),
    onSignal(handler) {
      const int = () => handler("SIGINT");
      const term = () => handler("SIGTERM");
      process.on("SIGINT", int);
      process.on("SIGTERM", term);
      return () => {
        process.off("SIGINT", int);
        process.off("SIGTERM", term);
      };
    },
    supervisorGone() {
      // A cluster worker's IPC channel closes when the primary dies.
      return new Promise((resolve) => process.once("disconnect", resolve));
    },
    probePort(hostname, port) {
      return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen({ host: hostname, port, exclusive: true }, () => {
          const address = server.address();
          const bound = typeof address === "object" && address !== null
            ? address.port
            : port;
          server.close(() => resolve(bound));
        });
      });
    },
    isAddrInUse: (error) =>
      (error as { code?: string } | null)?.code === "EADDRINUSE",
    reusePort: false,
    startWorker(args, env) {
      cluster.setupPrimary({ args, silent: false });
      const worker = cluster.fork(env);
      const exited = new Promise<number>((resolve) =>
        worker.once(
          "exit",
          (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143)),
        )
      );
      return {
        pid: worker.process.pid ?? -1,
        ready: new Promise((resolve) => worker.once("listening", resolve)),
        done: exited.then(() => {}),
        exited,
        kill(signal) {
          worker.process.kill(signal);
        },
      };
    },
    watch: (args, env) =>
      respawn(
        ["--watch", "--watch-preserve-output", ...process.execArgv],
        args,
        env,
        false,
      ),
    exit: (code) => process.exit(code),
  };
}
