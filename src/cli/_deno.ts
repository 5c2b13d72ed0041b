// The CLI's runtime on Deno: workers are `deno run` child processes
// sharing the port with SO_REUSEPORT; --reload is `deno run --watch`.

import {
  type ChildProcess,
  type CliHost,
  MESSAGE_MARK,
  relayStderr,
  type Signal,
} from "./_host.ts";
import { deno, type DenoLike } from "../runtime/_deno_shape.ts";

const encoder = new TextEncoder();

const PERMISSIONS = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;

/**
 * The permission flags that give a child what this process holds. Deno
 * does not tell how a scoped grant was written, so only whole grants are
 * passed on, plus read access to the module being served.
 */
function permissionFlags(Deno: DenoLike, modulePath?: string): string[] {
  const granted = PERMISSIONS.filter((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  if (granted.length === PERMISSIONS.length) return ["--allow-all"];
  const flags = granted.map((name) => `--allow-${name}`);
  if (
    !granted.includes("read") && modulePath !== undefined &&
    Deno.permissions.querySync({ name: "read", path: modulePath }).state ===
      "granted"
  ) flags.push(`--allow-read=${modulePath}`);
  return [...flags, "--no-prompt"];
}

const SIGNALS: Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGQUIT",
  "SIGHUP",
  "SIGTTIN",
  "SIGTTOU",
];

/** The CLI's host on Deno. */
export function cliHost(): CliHost {
  const Deno = deno();
  const cli = new URL("./cli.ts", import.meta.url).href;
  const writeAll = (
    file: { writeSync(p: Uint8Array): number },
    text: string,
  ) => {
    const bytes = encoder.encode(text);
    for (let offset = 0; offset < bytes.length;) {
      offset += file.writeSync(bytes.subarray(offset));
    }
  };
  const spawn = (
    args: string[],
    env: Record<string, string>,
    worker: boolean,
  ): ChildProcess => {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      // A worker's stdin is a pipe from us: when we die it reads EOF.
      stdin: worker ? "piped" : "inherit",
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
    const { ready, nextExit, onMessage } = relayStderr(
      child.stderr,
      (text) => writeAll(Deno.stderr, text),
    );
    return {
      pid: child.pid,
      ready,
      nextExit,
      onMessage,
      exited: child.status.then((status) => status.code),
      kill(signal) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      },
    };
  };
  return {
    runtime: `deno ${Deno.version.deno}`,
    pid: Deno.pid,
    args: Deno.args,
    env: (name) => Deno.env.get(name),
    cwd: () => Deno.cwd(),
    exists(path) {
      try {
        Deno.statSync(path);
        return true;
      } catch (error) {
        return !(error instanceof Deno.errors.NotFound);
      }
    },
    writeOut: (text) => writeAll(Deno.stdout, text),
    writeErr: (text) => writeAll(Deno.stderr, text),
    onSignal(handler) {
      const listeners = SIGNALS.map((signal) => {
        const listener = () => handler(signal);
        Deno.addSignalListener(signal, listener);
        return [signal, listener] as const;
      });
      return () => {
        for (const [signal, listener] of listeners) {
          Deno.removeSignalListener(signal, listener);
        }
      };
    },
    send: (message) =>
      writeAll(Deno.stderr, MESSAGE_MARK + JSON.stringify(message) + "\n"),
    readText: (path) => new TextDecoder().decode(Deno.readFileSync(path)),
    chmod: (path, mode) => Deno.chmodSync(path, mode),
    isSocket(path) {
      try {
        return Deno.lstatSync(path).isSocket === true;
      } catch {
        return false;
      }
    },
    removeFile(path) {
      try {
        Deno.removeSync(path);
      } catch {
        // Not there.
      }
    },
    appender(path) {
      const file = Deno.openSync(path, {
        append: true,
        create: true,
        write: true,
      });
      return (text) => writeAll(file, text);
    },
    async supervisorGone() {
      const buffer = new Uint8Array(64);
      while (await Deno.stdin.read(buffer) !== null) {
        // The supervisor never writes; anything read is ignored.
      }
    },
    probePort(hostname, port) {
      const listener = Deno.listen({ hostname, port });
      const bound = listener.addr.port;
      listener.close();
      return Promise.resolve(bound);
    },
    isAddrInUse: (error) => error instanceof Deno.errors.AddrInUse,
    reusePort: true,
    startWorker: (args, env, modulePath) =>
      spawn(
        [
          "run",
          ...permissionFlags(Deno, modulePath),
          "--unstable-net",
          cli,
          ...args,
        ],
        env,
        true,
      ),
    watch: (args, env, modulePath) =>
      spawn(
        [
          "run",
          "--watch",
          "--no-clear-screen",
          ...permissionFlags(Deno, modulePath),
          cli,
          ...args,
        ],
        env,
        false,
      ),
    exit: (code) => Deno.exit(code),
  };
}
