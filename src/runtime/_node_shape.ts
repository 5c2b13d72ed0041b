// The parts of Node's API (which Bun and Deno also offer) that the CLI and
// the CGI gateway use, declared here so the sources need no @types/node.
// The modules come from process.getBuiltinModule(), not import(): no
// bundler (a Worker that imports mod.ts) or publish-time analysis sees a
// `node:` import, and they load only when called.

/** An event emitter, as far as it is used. */
export interface Emitter {
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

/** A Node readable stream, opaque but for what is used. */
export interface NodeReadable extends Emitter, AsyncIterable<Uint8Array> {
  destroy(): void;
}

/** A Node writable stream, as far as it is used. */
export interface NodeWritable extends Emitter {
  write(chunk: Uint8Array | string, callback: (error?: Error) => void): boolean;
}

/** `process`, as far as it is used. */
export interface NodeProcess extends Emitter {
  readonly pid: number;
  readonly platform: string;
  readonly argv: string[];
  readonly execArgv: string[];
  readonly execPath: string;
  readonly env: Record<string, string | undefined>;
  readonly versions: { node: string; bun?: string };
  readonly stdin: NodeReadable;
  readonly stdout: NodeWritable;
  cwd(): string;
  exit(code: number): never;
  /** In a node:cluster worker: a message to the primary. */
  send?(message: unknown): boolean;
  getBuiltinModule(id: string): unknown;
}

/** A child process from node:child_process or node:cluster. */
export interface NodeChild extends Emitter {
  readonly pid?: number;
  readonly stderr: NodeReadable | null;
  kill(signal: string): boolean;
}

/** node:cluster's Worker, as far as it is used. */
export interface NodeWorker extends Emitter {
  readonly process: NodeChild;
}

/** The node modules used, each as far as it is used. */
export interface NodeModules {
  fs: {
    existsSync(path: string): boolean;
    readFileSync(path: string): Uint8Array;
    openSync(path: string, flags: string): number;
    unlinkSync(path: string): void;
    chmodSync(path: string, mode: number): void;
    lstatSync(path: string): { isSocket(): boolean };
    writeSync(fd: number, data: Uint8Array | string, offset?: number): number;
  };
  stream: {
    Readable: { toWeb(stream: NodeReadable): ReadableStream<Uint8Array> };
  };
  childProcess: {
    spawn(
      command: string,
      args: string[],
      options: { stdio: string[]; env: Record<string, string | undefined> },
    ): NodeChild;
  };
  cluster: {
    setupPrimary(settings: { args: string[]; silent: boolean }): void;
    fork(env: Record<string, string>): NodeWorker;
  };
  net: {
    createServer(): Emitter & {
      listen(
        options: { host: string; port: number; exclusive: boolean },
        callback: () => void,
      ): void;
      address(): { port: number } | string | null;
      close(callback: () => void): void;
    };
  };
}

/** The running process (Node, Bun, or Deno's Node compatibility). */
export function nodeProcess(): NodeProcess {
  return (globalThis as unknown as { process: NodeProcess }).process;
}

const NAMES = {
  fs: "node:fs",
  stream: "node:stream",
  childProcess: "node:child_process",
  cluster: "node:cluster",
  net: "node:net",
} as const;

/** Loads the node modules named (Node >= 20.16, Bun and Deno have them). */
export function nodeModules<K extends keyof NodeModules>(
  ...names: K[]
): Promise<Pick<NodeModules, K>> {
  const out: Partial<NodeModules> = {};
  for (const name of names) {
    out[name] = nodeProcess().getBuiltinModule(NAMES[name]) as NodeModules[K];
  }
  return Promise.resolve(out as Pick<NodeModules, K>);
}
