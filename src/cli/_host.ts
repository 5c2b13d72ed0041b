// What the CLI needs from the runtime it runs on; one implementation per
// runtime (_deno.ts, _node.ts, which Bun shares), chosen in cli.ts.

/** The signals the CLI handles, as gunicorn does. */
export type Signal =
  | "SIGINT"
  | "SIGTERM"
  | "SIGQUIT"
  | "SIGHUP"
  | "SIGTTIN"
  | "SIGTTOU";

/** What a worker tells its supervisor. */
export type WorkerMessage =
  /** Listening. */
  | { t: "up" }
  /** Alive: its event loop turns. */
  | { t: "beat" }
  /** Served its share of requests: replace it. */
  | { t: "retire" }
  /** Its counters so far, for /metrics. */
  | { t: "metrics"; data: unknown };

/** A child process the CLI started: a worker, or itself under watch mode. */
export interface ChildProcess {
  readonly pid: number;
  /** Settles when the child is serving (for workers: listening). */
  readonly ready: Promise<void>;
  /** Calls `handler` with each message the worker sends. */
  onMessage(handler: (message: WorkerMessage) => void): void;
  /** Settles with the exit code (128 + n for a signal). */
  readonly exited: Promise<number>;
  /**
   * Settles at the next exit line the CLI in the child prints, or once the
   * child has exited: a watch-mode runner outlives the script it runs.
   */
  nextExit(): Promise<void>;
  kill(signal: "SIGTERM" | "SIGKILL" | "SIGQUIT"): void;
}

/** The runtime, as the CLI sees it. */
export interface CliHost {
  /** `deno 2.9.6`, `bun 1.4.5`, `node 20.20.2`. */
  readonly runtime: string;
  readonly pid: number;
  /** The command-line arguments after the script. */
  readonly args: readonly string[];
  env(name: string): string | undefined;
  /** The current directory, for resolving module paths. */
  cwd(): string;
  /** Whether a local file exists (for a clear "not found"). */
  exists(path: string): boolean;
  writeOut(text: string): void;
  writeErr(text: string): void;
  /** Calls `handler` on each Signal; returns a function that stops. */
  onSignal(handler: (signal: Signal) => void): () => void;
  /** A worker's message to its supervisor. */
  send(message: WorkerMessage): void;
  /** A file's text (a certificate, a JSON config). */
  readText(path: string): string;
  /** Removes a file if it is there (a Unix socket left behind). */
  removeFile(path: string): void;
  /** Sets a file's mode (a Unix socket's, for --umask). */
  chmod(path: string, mode: number): void;
  /** Whether `path` is a Unix socket (a stale one is removed before binding). */
  isSocket(path: string): boolean;
  /** A function that appends text to a file, created if missing. */
  appender(path: string): (text: string) => void;
  /** Settles when the supervisor of this worker is gone. */
  supervisorGone(): Promise<void>;
  /**
   * Binds `hostname:port` and closes again: throws the runtime's "address
   * in use" error, and returns the port (a free one when 0 was asked for).
   */
  probePort(hostname: string, port: number): Promise<number>;
  /** Whether an error says the address is in use. */
  isAddrInUse(error: unknown): boolean;
  /** Whether the runtime's server can share a port between processes. */
  readonly reusePort: boolean;
  /**
   * Starts one more worker running `args` (this CLI's arguments) with
   * `env` added; ready once it listens. `modulePath` is the local module
   * served, which the child must be allowed to read.
   */
  startWorker(
    args: string[],
    env: Record<string, string>,
    modulePath?: string,
  ): ChildProcess;
  /** Runs this CLI again with `args` under the runtime's watch mode. */
  watch(
    args: string[],
    env: Record<string, string>,
    modulePath?: string,
  ): ChildProcess;
  exit(code: number): never;
}

/** How a worker's message travels on its stderr: this, JSON, a newline. */
export const MESSAGE_MARK = "\u001etsgi:";

/** The marker line a worker prints once it listens. */
export const BOOT_LINE = "Booting worker with pid: ";
/** The marker line a worker prints once it has stopped serving. */
export const EXIT_LINE = "Worker exiting (pid: ";

/** Turns a stream of text into lines, calling `line` for each. */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  line: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) !== -1) {
      line(pending.slice(0, nl + 1));
      pending = pending.slice(nl + 1);
    }
  }
  pending += decoder.decode();
  if (pending !== "") line(pending);
}

/**
 * Relays a child CLI's stderr to ours line by line (lines from several
 * children never mix); `ready` settles at its boot line, `nextExit()` at
 * the next exit line or the end of the stream.
 */
export function relayStderr(
  stream: ReadableStream<Uint8Array>,
  write: (text: string) => void,
): {
  ready: Promise<void>;
  nextExit(): Promise<void>;
  onMessage(handler: (message: WorkerMessage) => void): void;
} {
  let booted!: () => void;
  const ready = new Promise<void>((resolve) => booted = resolve);
  const handlers: ((message: WorkerMessage) => void)[] = [];
  let ended = false;
  let waiting: (() => void)[] = [];
  const wake = () => {
    for (const resolve of waiting) resolve();
    waiting = [];
  };
  forEachLine(stream, (text) => {
    if (text.startsWith(MESSAGE_MARK)) {
      let message: WorkerMessage;
      try {
        message = JSON.parse(text.slice(MESSAGE_MARK.length));
      } catch {
        return;
      }
      if (message.t === "up") booted();
      for (const handler of handlers) handler(message);
      return;
    }
    write(text);
    if (text.includes(BOOT_LINE)) booted();
    // A watched script prints one at every restart: only the next counts.
    if (text.includes(EXIT_LINE)) wake();
  }).catch(() => {}).finally(() => {
    ended = true;
    wake();
  });
  return {
    ready,
    onMessage: (handler) => handlers.push(handler),
    nextExit: () =>
      ended
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiting.push(resolve)),
  };
}
