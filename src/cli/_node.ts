// The CLI's runtime on Node: workers are node:cluster processes (the
// primary accepts and hands connections round-robin); --reload is
// `node --watch`. Bun shares this file but for its workers (SO_REUSEPORT).

import {
  type ChildProcess,
  type CliHost,
  MESSAGE_MARK,
  relayStderr,
  type Signal,
  type WorkerMessage,
} from "./_host.ts";
import {
  type NodeChild,
  nodeModules,
  nodeProcess,
} from "../runtime/_node_shape.ts";

const encoder = new TextEncoder();

/** The exit code of a child that ended with `code` or by `signal`. */
function exitCode(code: number | null, signal: string | null): number {
  return code ?? (signal === "SIGKILL" ? 137 : signal === "SIGINT" ? 130 : 143);
}

function exitOf(child: NodeChild): Promise<number> {
  return new Promise((resolve) =>
    child.once(
      "exit",
      (code: number | null, signal: string | null) =>
        resolve(exitCode(code, signal)),
    )
  );
}

const SIGNALS: Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGQUIT",
  "SIGHUP",
  "SIGTTIN",
  "SIGTTOU",
];

/** The CLI's host on Node; `bun` adapts it for Bun. */
export async function cliHost(): Promise<CliHost> {
  const process = nodeProcess();
  const { fs, stream, childProcess, cluster, net } = await nodeModules(
    "fs",
    "stream",
    "childProcess",
    "cluster",
    "net",
  );
  const writeAll = (fd: number, text: string) => {
    const bytes = encoder.encode(text);
    for (let offset = 0; offset < bytes.length;) {
      try {
        offset += fs.writeSync(fd, bytes.subarray(offset));
      } catch (error) {
        // A non-blocking pipe that is full: try again.
        if ((error as { code?: string }).code !== "EAGAIN") throw error;
      }
    }
  };
  /**
   * Runs the runtime again on this script; its stderr is relayed. A
   * worker's stdin is a pipe from us, so it reads EOF when we die.
   */
  const respawn = (
    runtimeArgs: string[],
    args: string[],
    env: Record<string, string>,
    worker: boolean,
  ): ChildProcess => {
    const child = childProcess.spawn(
      process.execPath,
      [...runtimeArgs, process.argv[1], ...args],
      {
        stdio: [worker ? "pipe" : "inherit", "inherit", "pipe"],
        env: { ...process.env, ...env },
      },
    );
    const { ready, nextExit, onMessage } = relayStderr(
      stream.Readable.toWeb(child.stderr!),
      (text) => writeAll(2, text),
    );
    return {
      pid: child.pid ?? -1,
      ready,
      nextExit,
      onMessage,
      exited: exitOf(child),
      kill(signal) {
        child.kill(signal);
      },
    };
  };
  const bun = process.versions.bun;
  return {
    runtime: bun === undefined ? `node ${process.versions.node}` : `bun ${bun}`,
    pid: process.pid,
    args: process.argv.slice(2),
    env: (name) => process.env[name],
    cwd: () => process.cwd(),
    exists: (path) => fs.existsSync(path),
    writeOut: (text) => writeAll(1, text),
    writeErr: (text) => writeAll(2, text),
    onSignal(handler) {
      const listeners = SIGNALS.map((signal) => {
        const listener = () => handler(signal);
        process.on(signal, listener);
        return [signal, listener] as const;
      });
      return () => {
        for (const [signal, listener] of listeners) {
          process.off(signal, listener);
        }
      };
    },
    send(message) {
      // A node:cluster worker has an IPC channel; a Bun worker its stderr.
      if (bun === undefined && typeof process.send === "function") {
        process.send(message);
      } else writeAll(2, MESSAGE_MARK + JSON.stringify(message) + "\n");
    },
    readText: (path) => new TextDecoder().decode(fs.readFileSync(path)),
    chmod: (path, mode) => fs.chmodSync(path, mode),
    isSocket(path) {
      try {
        return fs.lstatSync(path).isSocket();
      } catch {
        return false;
      }
    },
    removeFile(path) {
      try {
        fs.unlinkSync(path);
      } catch {
        // Not there.
      }
    },
    appender(path) {
      const fd = fs.openSync(path, "a");
      return (text) => writeAll(fd, text);
    },
    async supervisorGone() {
      if (bun === undefined) {
        // A cluster worker's IPC channel closes when the primary dies.
        return await new Promise((resolve) =>
          process.once("disconnect", resolve)
        );
      }
      // A Bun worker's stdin is a pipe from the supervisor.
      for await (const _ of process.stdin) {
        // The supervisor never writes; anything read is ignored.
      }
    },
    probePort(hostname, port) {
      return new Promise((resolve, reject) => {
        const server = net.createServer();
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
    // Bun has SO_REUSEPORT but no cluster round-robin; Node the reverse.
    reusePort: bun !== undefined,
    startWorker(args, env) {
      if (bun !== undefined) return respawn([], args, env, true);
      cluster.setupPrimary({ args, silent: false });
      const worker = cluster.fork(env);
      const exited = exitOf(worker.process);
      const handlers: ((message: WorkerMessage) => void)[] = [];
      let up!: () => void;
      const ready = new Promise<void>((resolve) => up = resolve);
      worker.on("message", (message: WorkerMessage) => {
        if (message?.t === "up") up();
        for (const handler of handlers) handler(message);
      });
      return {
        pid: worker.process.pid ?? -1,
        ready,
        onMessage: (handler) => handlers.push(handler),
        nextExit: () => exited.then(() => {}),
        exited,
        kill(signal) {
          worker.process.kill(signal);
        },
      };
    },
    watch: (args, env) =>
      respawn(
        bun === undefined
          ? ["--watch", "--watch-preserve-output", ...process.execArgv]
          : ["--watch", "--no-clear-screen"],
        args,
        env,
        false,
      ),
    exit: (code) => process.exit(code),
  };
}
