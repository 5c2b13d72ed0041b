// Starts the fixture server (fixture_server.ts) as a child process on Deno,
// Bun or Node and watches it from outside: open fds and RSS from /proc, the
// app's counters over HTTP.

import type { FixtureStats } from "./fixture_app.ts";

/** A runtime the fixture server runs on. */
export type Runtime = "deno" | "bun" | "node";

/** Every runtime, in the order reports list them. */
export const RUNTIMES: Runtime[] = ["deno", "bun", "node"];

const root = new URL("../../", import.meta.url).pathname;
const entry = `${root}scripts/reliability/fixture_server.ts`;
const bundle = `${root}.cache/reliability/fixture_server.mjs`;

/** The fixture server, running. */
export interface FixtureServer {
  runtime: Runtime;
  port: number;
  /** The server process (the runtime itself). */
  pid: number;
  url: string;
  stats(): Promise<FixtureStats & { heap: number }>;
  /** Settles once the app has counted `n` close() calls in all. */
  waitForCloses(n: number): Promise<void>;
  /** Open file descriptors of the server process. */
  fds(): number;
  /** Resident set size of the server process, in bytes. */
  rss(): number;
  /** Asks the server for full garbage collections, then reads RSS. */
  settledRss(): Promise<number>;
  stop(): Promise<void>;
}

async function buildForNode(): Promise<void> {
  await Deno.mkdir(`${root}.cache/reliability`, { recursive: true });
  const out = await new Deno.Command("esbuild", {
    args: [
      entry,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--log-level=warning",
      `--outfile=${bundle}`,
    ],
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot bundle the fixture for Node: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

function commandFor(runtime: Runtime, args: string[]): Deno.Command {
  const options = { stdout: "piped", stderr: "inherit" } as const;
  switch (runtime) {
    case "deno":
      return new Deno.Command("deno", {
        args: [
          "run",
          "--allow-net",
          "--allow-env",
          "--v8-flags=--expose-gc",
          entry,
          ...args,
        ],
        ...options,
      });
    case "bun":
      return new Deno.Command("bun", { args: [entry, ...args], ...options });
    case "node":
      return new Deno.Command("node", {
        args: ["--expose-gc", bundle, ...args],
        ...options,
      });
  }
}

/** Starts the fixture server and waits for its `listening` line. */
export async function startServer(
  runtime: Runtime,
  args: string[] = [],
): Promise<FixtureServer> {
  if (runtime === "node") await buildForNode();
  const child = commandFor(runtime, args).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let match: RegExpExecArray | null = null;
  while (match === null) {
    const { done, value } = await lines.read();
    if (done) throw new Error(`The ${runtime} fixture server exited early`);
    text += value;
    match = /listening (\d+) (\d+)\n/.exec(text);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })().catch(() => {});
  const port = Number(match[1]);
  const pid = Number(match[2]);
  const url = `http://127.0.0.1:${port}`;
  const rss = () => {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  };
  return {
    runtime,
    port,
    pid,
    url,
    async stats() {
      const response = await fetch(`${url}/__stats`);
      return await response.json();
    },
    async waitForCloses(n) {
      const response = await fetch(`${url}/__wait?closes=${n}`);
      await response.body?.cancel();
      if (!response.ok) throw new Error(`/__wait answered ${response.status}`);
    },
    fds: () => [...Deno.readDirSync(`/proc/${pid}/fd`)].length,
    rss,
    async settledRss() {
      await (await fetch(`${url}/__gc`)).text();
      return rss();
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  };
}

/** The value of `--name=value` among the script's arguments. */
export function flag(name: string, fallback: string): string {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
}

/** The runtimes `--runtimes=deno,bun,node` names; all by default. */
export function runtimesFlag(): Runtime[] {
  return flag("runtimes", RUNTIMES.join(",")).split(",") as Runtime[];
}

/** Bytes as MiB with one decimal, for reports. */
export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
