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

async function buildForNode(
  from = entry,
  to = bundle,
): Promise<void> {
  await Deno.mkdir(`${root}.cache/reliability`, { recursive: true });
  const out = await new Deno.Command("esbuild", {
    args: [
      from,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--log-level=warning",
      `--outfile=${to}`,
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

/** The tsgi CLI serving the fixture with workers, as a user runs it. */
export interface CliServer {
  runtime: Runtime;
  port: number;
  url: string;
  /** The "fixture violation:" lines the workers wrote to stderr so far. */
  violations(): string[];
  stop(): Promise<void>;
}

const cliApp = `${root}scripts/reliability/fixture_cli_app.ts`;
const cliBin = `${root}.cache/reliability/tsgi_bin.mjs`;
const cliAppBundle = `${root}.cache/reliability/fixture_cli_app.mjs`;

/**
 * Starts `tsgi -w WORKERS` (src/cli/cli.ts; on Node an esbuild bundle of the
 * npm bin) serving fixture_cli_app.ts with maxBodySize `maxBodySize`, and
 * waits until every worker has booted and the port accepts connections.
 */
export async function startCli(
  runtime: Runtime,
  workers = 2,
  maxBodySize = 1024,
): Promise<CliServer> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const args = [
    "--workers",
    String(workers),
    "--port",
    String(port),
    "--max-body-size",
    String(maxBodySize),
    "--no-access-log",
  ];
  let command: Deno.Command;
  const options = { stdin: "null", stdout: "null", stderr: "piped" } as const;
  if (runtime === "node") {
    await buildForNode(`${root}src/cli/_bin.ts`, cliBin);
    await buildForNode(cliApp, cliAppBundle);
    command = new Deno.Command("node", {
      args: [cliBin, ...args, cliAppBundle],
      ...options,
    });
  } else {
    command = new Deno.Command(runtime, {
      args: runtime === "deno"
        ? ["run", "-A", `${root}src/cli/cli.ts`, ...args, cliApp]
        : [`${root}src/cli/cli.ts`, ...args, cliApp],
      ...options,
    });
  }
  const child = command.spawn();
  const lines: string[] = [];
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let partial = "";
  let booted = 0;
  let onBoot = () => {};
  const allBooted = new Promise<void>((resolve, reject) => {
    onBoot = () => {
      if (++booted === workers) resolve();
    };
    child.status.then(() =>
      reject(new Error(`The ${runtime} CLI exited: ${lines.join("\n")}`))
    );
  });
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      partial += value;
      const split = partial.split("\n");
      partial = split.pop()!;
      for (const line of split) {
        lines.push(line);
        if (line.includes("Booting worker")) onBoot();
      }
    }
  })().catch(() => {});
  await allBooted;
  // Booted is not yet listening: wait for the port, bounded.
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (i === 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  return {
    runtime,
    port,
    url: `http://127.0.0.1:${port}`,
    violations: () => lines.filter((l) => l.includes("fixture violation:")),
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
