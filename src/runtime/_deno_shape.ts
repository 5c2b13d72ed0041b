// The parts of the Deno namespace the CLI and the CGI gateway use, declared
// here so the sources type-check without Deno's types (the npm build
// checks against the web platform only).

/** Deno.ChildProcess, as far as it is used. */
export interface DenoChild {
  readonly pid: number;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<{ code: number }>;
  kill(signal: string): void;
}

/** Deno, as far as it is used. */
export interface DenoLike {
  readonly pid: number;
  readonly args: readonly string[];
  readonly version: { deno: string };
  readonly build: { os: string };
  readonly env: {
    get(name: string): string | undefined;
    toObject(): Record<string, string>;
  };
  readonly errors: {
    NotFound: new () => Error;
    AddrInUse: new () => Error;
    InvalidData: new () => Error;
  };
  readonly permissions: {
    querySync(descriptor: { name: string; path?: string }): { state: string };
  };
  readonly stdin: {
    readonly readable: ReadableStream<Uint8Array>;
    read(buffer: Uint8Array): Promise<number | null>;
  };
  readonly stdout: {
    write(data: Uint8Array): Promise<number>;
    writeSync(data: Uint8Array): number;
  };
  readonly stderr: { writeSync(data: Uint8Array): number };
  execPath(): string;
  cwd(): string;
  statSync(path: string): unknown;
  readFileSync(path: string): Uint8Array;
  removeSync(path: string): void;
  chmodSync(path: string, mode: number): void;
  lstatSync(path: string): { isSocket: boolean | null };
  openSync(
    path: string,
    options: { append: boolean; create: boolean; write: boolean },
  ): { writeSync(data: Uint8Array): number };
  listen(options: { hostname: string; port: number }): {
    readonly addr: { port: number };
    close(): void;
  };
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  exit(code: number): never;
  Command: new (program: string, options: {
    args: string[];
    env: Record<string, string>;
    stdin: "piped" | "inherit";
    stdout: "inherit";
    stderr: "piped";
  }) => { spawn(): DenoChild };
}

/** The running Deno. */
export function deno(): DenoLike {
  return (globalThis as unknown as { Deno: DenoLike }).Deno;
}
