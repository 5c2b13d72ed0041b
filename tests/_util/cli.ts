// Starting the tsgi CLI as a user runs it, on Deno (src/cli/cli.ts), Bun
// (src/cli/cli.ts) and Node (the npm build's bin), for tests/cli/.
import assert from "node:assert/strict";
import { LineReader } from "./process.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const APP = `${ROOT}tests/fixtures/cli_app.mjs`;
export const NPM_BIN = `${ROOT}npm/src/cli/_bin.js`;

export function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

// CI sets it: a runtime that is missing fails its tests instead of skipping.
export const REQUIRE_ALL = Deno.env.get("TSGI_REQUIRE_ALL") === "1";

export interface Runtime {
  name: string;
  command: string[];
  available: boolean;
}

export const RUNTIMES: Runtime[] = [
  {
    name: "deno",
    command: [Deno.execPath(), "run", "-A", `${ROOT}src/cli/cli.ts`],
    available: true,
  },
  {
    name: "bun",
    command: ["bun", `${ROOT}src/cli/cli.ts`],
    available: onPath("bun"),
  },
  {
    name: "node",
    command: ["node", NPM_BIN],
    available: onPath("node") && exists(NPM_BIN),
  },
];

/** A running `tsgi` process with its stderr read line by line. */
export class Cli {
  readonly child: Deno.ChildProcess;
  readonly stderr: LineReader;
  readonly stdout: Promise<string>;

  constructor(
    runtime: Runtime,
    args: string[],
    cwd = ROOT,
    env: Record<string, string> = {},
  ) {
    const [program, ...rest] = runtime.command;
    this.child = new Deno.Command(program, {
      args: [...rest, ...args],
      cwd,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stderr = new LineReader(this.child.stderr);
    this.stdout = new Response(this.child.stdout).text();
  }

  /** Waits for `pattern` on stderr; fails with everything seen if it exits first. */
  async expect(
    pattern: RegExp | string | ((line: string) => boolean),
  ): Promise<string> {
    // The bound only turns a hang into a failure; nothing waits for it.
    const line = await this.stderr.waitWithin(pattern, 60_000);
    if (line === "" || line === undefined) {
      throw new Error(
        `The CLI ${
          line === "" ? "ended" : "went on for a minute"
        } without printing ${pattern}; stderr:\n${this.stderr.text}`,
      );
    }
    return line;
  }

  /** The exit code, once the process and its output are done. */
  async exit(): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The bound only turns a hang into a failure; nothing waits for it.
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(
          new Error(
            `The CLI (or a process holding its stderr) did not end within a minute; stderr:\n${this.stderr.text}`,
          ),
        );
      }, 60_000);
    });
    try {
      const [status] = await Promise.race([
        Promise.all([this.child.status, this.stderr.done, this.stdout]),
        hung,
      ]);
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.child.kill(signal);
  }
}

/** A test of the CLI on one runtime: skipped where it is missing, unless CI. */
export function runtimeTest(
  runtime: Runtime,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name: `CLI on ${runtime.name}: ${name}`,
    ignore: !runtime.available && !REQUIRE_ALL,
    async fn(t) {
      assert.ok(
        runtime.available,
        `${runtime.command[0]} or its build is missing`,
      );
      await fn(t);
    },
  });
}

/** One request on a fresh TCP connection; the response head and body. */
export async function rawGet(port: number, path = "/"): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    ),
  );
  return await new Response(conn.readable).text();
}
