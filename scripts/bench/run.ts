// The HTTP benchmark: starts every server pinned to one core, drives each
// with wrk pinned to the other, in interleaved rounds, and prints one table
// of medians and the ratios against the targets (BENCHMARKS.md): hello
// world, a JSON API and an app that enumerates the environ, on Deno, Bun
// and Node (the npm build, which this script rebuilds first), beside the
// raw runtime, Hono, srvx and the Python WSGI servers.
//
//   deno task bench [--quick] [--rounds N] [--duration S] [--only a,b]
//                   [--no-python] [--no-stream] [--stream-bytes N]
//                   [--baseline REF] [--json FILE]
//
// --only takes server names as the progress lines print them: "tsgi deno",
// "tsgi-json node", "upload-raw bun", "download-tsgi@main deno" (with
// --baseline main). --no-node leaves Node out.
//
// Run it through `deno task bench` (scripts/bench/bench.sh), which installs
// wrk and the Python servers when they are missing.

import { API_PATH, userJson } from "./_shared_apps.mjs";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const SERVER_CORE = "0";
const CLIENT_CORE = "1";
const CONNECTIONS = 50;
const TICK_US = 1e6 / 100; // USER_HZ: /proc times are in 1/100 s
const GREETING = "Hello world!\n";

interface Options {
  quick: boolean;
  rounds: number;
  duration: number;
  only: string[] | undefined;
  python: boolean;
  stream: boolean;
  streamBytes: number;
  json: string | undefined;
  baseline: string | undefined;
  node: boolean;
}

function parseArgs(args: string[]): Options {
  const quick = args.includes("--quick");
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const only = value("--only");
  return {
    quick,
    rounds: Number(value("--rounds") ?? (quick ? 1 : 3)),
    duration: Number(value("--duration") ?? (quick ? 1 : 5)),
    only: only === undefined ? undefined : only.split(","),
    python: !args.includes("--no-python"),
    stream: !args.includes("--no-stream"),
    streamBytes: Number(value("--stream-bytes") ?? (quick ? 2 ** 26 : 2 ** 30)),
    json: value("--json"),
    baseline: value("--baseline"),
    node: !args.includes("--no-node"),
  };
}

// ---------------------------------------------------------------- processes

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = `${dir}/${name}`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Every pid in the tree under `root`, root included. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(pid);
    } catch {
      // exited meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...children.get(out[i]) ?? []);
  return out;
}

/** User + system CPU of a process tree, in µs. */
function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited meanwhile
    }
  }
  return ticks * TICK_US;
}

/** Resident memory of a process tree, in bytes. */
function rssBytes(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb * 1024;
}

/** Calls `onLine` for each line of a stream, to its end. */
async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  if (rest !== "") onLine(rest);
}

type Runtime = "deno" | "bun" | "node";

/** The JSON API's kinds answer API_PATH, and only with browser headers. */
const JSON_API: Pick<ServerSpec, "path" | "headers"> = {
  path: API_PATH,
  headers: [9],
};

interface ServerSpec {
  name: string;
  group: Runtime | "python";
  /** The path wrk asks for: "/" (hello world) or the JSON API's. */
  path?: string;
  /** The request header counts to measure with; both unless set. */
  headers?: readonly (1 | 9)[];
  /** The command, run pinned to the server core. */
  cmd: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Fixed port (Python servers); ours print `listening PORT`. */
  port?: number;
  /** The log line that says the server is ready to take requests. */
  ready?: RegExp;
}

class Server {
  readonly spec: ServerSpec;
  #child: Deno.ChildProcess;
  #log: string[] = [];
  port = 0;
  pids: number[] = [];

  constructor(spec: ServerSpec) {
    this.spec = spec;
    this.#child = new Deno.Command("taskset", {
      args: ["-c", SERVER_CORE, ...spec.cmd],
      cwd: spec.cwd,
      env: spec.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /** Resolves once the server says it listens; rejects if it exits first. */
  async started(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const onLine = (line: string) => {
      if (this.#log.length < 200) this.#log.push(line);
      const listening = /^listening (\d+)$/.exec(line);
      if (listening !== null) {
        this.port = Number(listening[1]);
        resolve();
      } else if (this.spec.ready?.test(line)) {
        this.port = this.spec.port!;
        resolve();
      }
    };
    const exited = Promise.all([
      eachLine(this.#child.stdout, onLine),
      eachLine(this.#child.stderr, onLine),
      this.#child.status,
    ]).then(() => {
      throw new Error(
        `Cannot start ${this.spec.name}: it exited\n${this.#log.join("\n")}`,
      );
    });
    exited.catch(() => {}); // reported through the race below, if first
    await Promise.race([promise, exited]);
    this.pids = processTree(this.#child.pid);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.spec.path ?? "/"}`;
  }

  /** Refreshes the worker list (a pre-fork master may have replaced one). */
  refresh(): void {
    this.pids = processTree(this.#child.pid);
  }

  async stop(): Promise<void> {
    const pids = processTree(this.#child.pid);
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timeout = new Promise((resolve) => setTimeout(resolve, 3000));
    await Promise.race([this.#child.status, timeout]);
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: result.code,
    out: dec.decode(result.stdout),
    err: dec.decode(result.stderr),
  };
}

// -------------------------------------------------------------- the servers

async function serverSpecs(options: Options): Promise<ServerSpec[]> {
  const specs: ServerSpec[] = [];
  const deno = Deno.execPath();
  const bun = which("bun");
  const script = `${HERE}server.ts`;
  const kinds = [
    "raw",
    "raw-floor",
    "tsgi",
    "tsgi-charset",
    "tsgi-environ",
    "naive",
    "naive-environ",
    "hono",
    "raw-json",
    "tsgi-json",
    "hono-json",
  ];
  const base = options.baseline === undefined
    ? undefined
    : await checkout(options.baseline);
  const runtimes: [Runtime, string[]][] = [[
    "deno",
    [deno, "run", "--allow-net", "--allow-env", "--allow-read", script],
  ]];
  if (bun !== undefined) runtimes.push(["bun", [bun, script]]);
  else console.error("bench: bun not found; skipping the Bun servers");
  for (const [runtime, cmd] of runtimes) {
    for (const kind of kinds) {
      const api = kind.endsWith("-json") ? JSON_API : {};
      specs.push({
        name: `${kind} ${runtime}`,
        group: runtime,
        cmd: [...cmd, kind],
        ...api,
      });
      if (base !== undefined && kind.startsWith("tsgi")) {
        specs.push({
          name: `${kind}@${options.baseline} ${runtime}`,
          group: runtime,
          cmd: [...cmd, kind],
          env: { TSGI_MOD: `${base}/mod.ts` },
          ...api,
        });
      }
    }
  }
  if (options.node) {
    for (const kind of NODE_KINDS) {
      const api = kind.endsWith("-json") ? JSON_API : {};
      const cmd = ["node", `${HERE}node_server.mjs`, kind];
      specs.push({ name: `${kind} node`, group: "node", cmd, ...api });
      if (base !== undefined && kind.startsWith("tsgi")) {
        specs.push({
          name: `${kind}@${options.baseline} node`,
          group: "node",
          cmd,
          env: { TSGI_NPM: `${base}/npm` },
          ...api,
        });
      }
    }
  }
  if (options.python) {
    const python = "/usr/bin/python3";
    const cwd = HERE;
    specs.push({
      name: "wsgiref",
      group: "python",
      cmd: [python, "hello_wsgi.py"],
      cwd,
    });
    // name, the command given its bind address, the line that says ready.
    const prefork: [string, (bind: string) => string[], RegExp][] = [
      ["gunicorn sync ×2", (bind) => [
        ...["gunicorn", "-w", "2", "-k", "sync", "-b", bind, "hello_wsgi:app"],
      ], /Booting worker/],
      ["gunicorn gthread ×2×4", (bind) => [
        ...["gunicorn", "-w", "2", "-k", "gthread", "--threads", "4"],
        ...["-b", bind, "hello_wsgi:app"],
      ], /Booting worker/],
      ["uWSGI --http-socket ×2", (bind) => [
        ...["uwsgi", "--plugin", "python3", "--http-socket", bind],
        ...["--wsgi-file", "hello_wsgi.py", "--callable", "app", "--master"],
        ...["--processes", "2", "--die-on-term", "--disable-logging"],
      ], /spawned uWSGI worker 2/],
      ["waitress", (bind) => [
        ...["waitress-serve", `--listen=${bind}`, "hello_wsgi:app"],
      ], /Serving on/],
    ];
    for (const [name, cmd, ready] of prefork) {
      const port = freePort();
      specs.push({
        name,
        group: "python",
        cmd: cmd(`127.0.0.1:${port}`),
        cwd,
        port,
        ready,
      });
    }
  }
  return options.only === undefined
    ? specs
    : specs.filter((s) => options.only!.includes(s.name));
}

/** node_server.mjs's kinds, but the streams. */
const NODE_KINDS = [
  "raw",
  "tsgi",
  "tsgi-environ",
  "naive",
  "naive-environ",
  "hono",
  "srvx",
  "raw-json",
  "tsgi-json",
  "hono-json",
  "srvx-json",
];

const npmBuilt = new Map<string, Promise<void>>();

/**
 * Builds `root`/npm/, which the Node servers serve tsgi from (the
 * checkout's own, or that of a --baseline checkout); once per run.
 */
function buildNpm(root = ROOT): Promise<void> {
  let built = npmBuilt.get(root);
  if (built === undefined) npmBuilt.set(root, built = build(root));
  return built;
}

async function build(root: string): Promise<void> {
  const built = await run(Deno.execPath(), [
    "run",
    "--allow-all",
    `${root}/scripts/build_npm.ts`,
  ]);
  if (built.code !== 0) {
    throw new Error(`Cannot build ${root}/npm for Node:\n${built.err}`);
  }
}

/**
 * Extracts a git revision, to serve its gateway and build its npm
 * package; returns the directory.
 */
async function checkout(ref: string): Promise<string> {
  const dir = `${ROOT}.cache/bench-base/${ref.replaceAll("/", "_")}`;
  await Deno.mkdir(dir, { recursive: true });
  // The whole tree (1.6 MB): the npm build reads files here and there.
  const archive = await run("sh", [
    "-c",
    `git -C '${ROOT}' archive '${ref}' | tar -x -C '${dir}' && ` +
    `mkdir -p '${dir}/tools' && ` +
    `ln -sfn '${ROOT}tools/node_modules' '${dir}/tools/node_modules'`,
  ]);
  if (archive.code !== 0) {
    throw new Error(`Cannot check out ${ref}: ${archive.err}`);
  }
  return dir;
}

/**
 * The server answers hello world, or the JSON API's user (pre-fork workers
 * may lag the log line).
 */
async function checkHello(server: Server): Promise<void> {
  const agent = "bench";
  const expected = server.spec.path === API_PATH
    ? JSON.stringify(userJson("42", "1", agent))
    : GREETING;
  let lastError: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const response = await fetch(server.url, {
        headers: { "user-agent": agent },
      });
      const text = await response.text();
      if (response.status === 200 && text === expected) return;
      throw new Error(
        `status ${response.status}, body ${JSON.stringify(text)}`,
      );
    } catch (error) {
      lastError = error;
      // A worker still booting refuses the connection: retry shortly.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(
    `${server.spec.name} does not answer hello world: ${lastError}`,
  );
}

// -------------------------------------------------------------------- wrk

interface Sample {
  rps: number;
  p99Ms: number;
  cpuUs: number;
  requests: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us"
    ? n / 1000
    : unit === "ms"
    ? n
    : unit === "s"
    ? n * 1000
    : n * 60000;
}

async function wrk(
  server: Server,
  headers: 1 | 9,
  seconds: number,
): Promise<Sample> {
  server.refresh();
  const args = [
    "-c",
    CLIENT_CORE,
    "wrk",
    "-t1",
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    "--latency",
  ];
  if (headers === 9) args.push("-s", `${HERE}browser_headers.lua`);
  args.push(server.url);
  const before = cpuMicros(server.pids);
  const { code, out, err } = await run("taskset", args);
  const cpu = cpuMicros(server.pids) - before;
  if (code !== 0) throw new Error(`wrk failed on ${server.spec.name}: ${err}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(out);
  const errors = non2xx +
    (socket === null
      ? 0
      : Number(socket[1]) + Number(socket[3]) + Number(socket[4]));
  return {
    rps,
    p99Ms: p99 === null ? NaN : toMs(p99[1], p99[2]),
    cpuUs: requests > 0 ? cpu / requests : NaN,
    requests,
    errors,
  };
}

// --------------------------------------------------------------- streaming

interface StreamSample {
  mibps: number;
  cpuMsPerGiB: number;
  rssGrowth: number;
}

/** Runs `transfer` while sampling the server's RSS; growth over `baseline`. */
async function withRss(
  server: Server,
  baseline: number,
  transfer: () => Promise<{ bytes: number; seconds: number }>,
): Promise<StreamSample> {
  server.refresh();
  let peak = rssBytes(server.pids);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(server.pids));
  }, 20);
  const before = cpuMicros(server.pids);
  try {
    const { bytes, seconds } = await transfer();
    const cpu = cpuMicros(server.pids) - before;
    peak = Math.max(peak, rssBytes(server.pids));
    return {
      mibps: bytes / 2 ** 20 / seconds,
      cpuMsPerGiB: cpu / 1000 / (bytes / 2 ** 30),
      rssGrowth: peak - baseline,
    };
  } finally {
    clearInterval(timer);
  }
}

async function download(server: Server, bytes: number) {
  const { code, out, err } = await run("taskset", [
    "-c",
    CLIENT_CORE,
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{size_download} %{time_total}",
    server.url,
  ]);
  const [size, seconds] = out.split(" ").map(Number);
  if (code !== 0 || size !== bytes) {
    throw new Error(
      `download from ${server.spec.name} got ${size} of ${bytes} bytes: ${err}`,
    );
  }
  return { bytes, seconds };
}

/** A sparse file of `bytes` zeros to upload (read from the page cache). */
function uploadFile(bytes: number): string {
  const path = `${ROOT}.cache/upload-${bytes}.bin`;
  Deno.mkdirSync(`${ROOT}.cache`, { recursive: true });
  Deno.writeFileSync(path, new Uint8Array(0));
  Deno.truncateSync(path, bytes);
  return path;
}

// With a Content-Length, as browsers and most clients send a known body:
// chunked framing would make Deno deliver 65,524 + 12 byte pieces, and every
// read(65536) would have to join two of them.
async function upload(server: Server, bytes: number) {
  const { code, out, err } = await run("taskset", [
    "-c",
    CLIENT_CORE,
    "curl",
    "-sS",
    "-T",
    uploadFile(bytes),
    "-X",
    "POST",
    "-H",
    "Expect:",
    "-H",
    "Content-Type: application/octet-stream",
    "-w",
    " %{time_total}",
    server.url,
  ]);
  const [count, seconds] = out.trim().split(/\s+/).map(Number);
  if (code !== 0 || count !== bytes) {
    throw new Error(
      `upload to ${server.spec.name} counted ${out.trim()} of ${bytes} bytes: ${err}`,
    );
  }
  return { bytes, seconds };
}

// ------------------------------------------------------------------- table

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n: number, digits = 0) =>
  Number.isNaN(n) ? "–" : n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
const ratio = (n: number) => Number.isNaN(n) ? "–" : `${n.toFixed(2)}×`;

// ------------------------------------------------------------------- main

async function main(): Promise<void> {
  if (Deno.args.includes("--help")) {
    const text = await Deno.readTextFile(new URL(import.meta.url));
    console.log(
      text.slice(0, text.indexOf("\n\n")).replace(/^\/\/ ?/gm, ""),
    );
    return;
  }
  const options = parseArgs(Deno.args);
  if (which("wrk") === undefined) {
    throw new Error(
      "Cannot benchmark: wrk is not installed (run `deno task bench`)",
    );
  }
  const specs = await serverSpecs(options);
  const servers: Server[] = [];
  const stopAll = () => Promise.all(servers.map((s) => s.stop()));
  Deno.addSignalListener("SIGINT", () => {
    stopAll().finally(() => Deno.exit(130));
  });

  const results = new Map<string, Sample[]>(); // "name|headers"
  const streams = new Map<string, StreamSample[]>();
  try {
    if (specs.some((spec) => spec.group === "node")) await buildNpm();
    for (const spec of specs) {
      if (spec.env?.TSGI_NPM !== undefined) {
        await buildNpm(spec.env.TSGI_NPM.slice(0, -"/npm".length));
      }
    }
    for (const spec of specs) {
      const server = new Server(spec);
      servers.push(server);
      await server.started();
      await checkHello(server);
      // Warm the JIT and the worker pools before anything is measured.
      await wrk(server, 9, 1);
      console.error(`bench: ${spec.name} ready on ${server.port}`);
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const headers of [1, 9] as const) {
        for (const server of servers) {
          if (!(server.spec.headers ?? [1, 9]).includes(headers)) continue;
          const sample = await wrk(server, headers, options.duration);
          const key = `${server.spec.name}|${headers}`;
          (results.get(key) ?? results.set(key, []).get(key)!).push(sample);
          console.error(
            `bench: round ${round} ${server.spec.name} ${headers}h: ${
              fmt(sample.rps)
            } req/s, ` +
              `${fmt(sample.cpuUs, 1)} µs/req${
                sample.errors ? `, ${sample.errors} errors` : ""
              }`,
          );
        }
      }
    }
  } finally {
    await stopAll();
    servers.length = 0;
  }

  if (options.stream) {
    const base = options.baseline === undefined
      ? undefined
      : await checkout(options.baseline);
    const runtimes: [string, string[]][] = [[
      "deno",
      [
        Deno.execPath(),
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        `${HERE}server.ts`,
      ],
    ]];
    const bun = which("bun");
    if (bun !== undefined) runtimes.push(["bun", [bun, `${HERE}server.ts`]]);
    if (options.node) {
      runtimes.push(["node", ["node", `${HERE}node_server.mjs`]]);
    }
    const cases: {
      name: string;
      server: Server;
      baseline: number;
      up: boolean;
    }[] = [];
    try {
      for (const [runtime, cmd] of runtimes) {
        for (const direction of ["download", "upload"]) {
          // [name, kind, checkout]: the gateway of --baseline REF as well.
          const variants: [string, string, string | undefined][] = [
            [`${direction}-raw`, `${direction}-raw`, undefined],
            [`${direction}-tsgi`, `${direction}-tsgi`, undefined],
          ];
          if (base !== undefined) {
            variants.push([
              `${direction}-tsgi@${options.baseline}`,
              `${direction}-tsgi`,
              base,
            ]);
          }
          for (const [label, kind, baseDir] of variants) {
            const name = `${label} ${runtime}`;
            if (options.only !== undefined && !options.only.includes(name)) {
              continue;
            }
            const env: Record<string, string> = {
              STREAM_BYTES: String(options.streamBytes),
            };
            if (runtime === "node") await buildNpm(baseDir);
            if (baseDir !== undefined) {
              if (runtime === "node") env.TSGI_NPM = `${baseDir}/npm`;
              else env.TSGI_MOD = `${baseDir}/mod.ts`;
            }
            const server = new Server({
              name,
              group: runtime as Runtime,
              cmd: [...cmd, kind],
              env,
            });
            servers.push(server);
            await server.started();
            cases.push({
              name,
              server,
              baseline: rssBytes(server.pids),
              up: direction === "upload",
            });
          }
        }
      }
      for (let round = 1; round <= options.rounds; round++) {
        for (const c of cases) {
          const sample = await withRss(
            c.server,
            c.baseline,
            () =>
              c.up
                ? upload(c.server, options.streamBytes)
                : download(c.server, options.streamBytes),
          );
          (streams.get(c.name) ?? streams.set(c.name, []).get(c.name)!).push(
            sample,
          );
          console.error(
            `bench: round ${round} ${c.name}: ${fmt(sample.mibps)} MiB/s, ` +
              `RSS +${fmt(sample.rssGrowth / 2 ** 20, 1)} MiB`,
          );
        }
      }
    } finally {
      await stopAll();
    }
  }

  printTable(options, specs, results, streams);
  if (options.json !== undefined) {
    await Deno.writeTextFile(
      options.json,
      JSON.stringify(
        {
          options,
          hello: Object.fromEntries(results),
          streams: Object.fromEntries(streams),
        },
        null,
        2,
      ),
    );
  }
}

function printTable(
  options: Options,
  specs: ServerSpec[],
  results: Map<string, Sample[]>,
  streams: Map<string, StreamSample[]>,
): void {
  const rows: string[][] = [];
  const med = (key: string, pick: (s: Sample) => number) =>
    median((results.get(key) ?? []).map(pick));
  /** Median over rounds of a/b: rounds ran side by side, so pair them. */
  const paired = (a: string, b: string, pick: (s: Sample) => number) => {
    const x = results.get(a) ?? [];
    const y = results.get(b) ?? [];
    return median(
      x.map((s, i) => y[i] === undefined ? NaN : pick(s) / pick(y[i])),
    );
  };
  // The JSON API's rows are measured against the raw API on the same runtime.
  const rawOf = (spec: ServerSpec) =>
    spec.group === "python"
      ? undefined
      : spec.path === API_PATH
      ? `raw-json ${spec.group}`
      : `raw ${spec.group}`;

  for (const headers of [1, 9]) {
    for (const spec of specs) {
      const key = `${spec.name}|${headers}`;
      if (!results.has(key)) continue;
      const raw = rawOf(spec);
      const errors = (results.get(key) ?? []).reduce((n, s) => n + s.errors, 0);
      rows.push([
        spec.name + (errors ? ` (${errors} errors)` : ""),
        String(headers),
        fmt(med(key, (s) => s.rps)),
        fmt(med(key, (s) => s.p99Ms), 2),
        fmt(med(key, (s) => s.cpuUs), 1),
        "",
        raw === undefined || raw === spec.name
          ? ""
          : `${ratio(paired(key, `${raw}|${headers}`, (s) => s.rps))} req/s, ` +
            `${
              ratio(paired(key, `${raw}|${headers}`, (s) => s.cpuUs))
            } CPU vs raw`,
        "",
      ]);
    }
  }

  const streamRatio = (
    a: string,
    b: string,
    pick: (s: StreamSample) => number,
  ) => {
    const x = streams.get(a) ?? [];
    const y = streams.get(b) ?? [];
    return median(
      x.map((s, i) => y[i] === undefined ? NaN : pick(s) / pick(y[i])),
    );
  };
  const maxGrowth = (name: string) =>
    Math.max(...(streams.get(name) ?? []).map((s) => s.rssGrowth));
  const streamLabel = fmt(options.streamBytes / 2 ** 20) + " MiB";
  for (const [name, samples] of streams) {
    const [kind, runtime] = name.split(" ");
    const tsgi = kind.includes("-tsgi");
    const target = kind.startsWith("download") ? 0.95 : 0.90;
    const raw = name.replace(/tsgi(@\S+)?/, "raw");
    const r = tsgi ? streamRatio(name, raw, (s) => s.mibps) : NaN;
    // CPU per GiB is the steadier figure: a 1 GiB transfer lasts < 1 s.
    const cpu = tsgi ? streamRatio(name, raw, (s) => s.cpuMsPerGiB) : NaN;
    const growth = maxGrowth(name);
    rows.push([
      `${kind.replace("-", " ")} ${runtime} (${streamLabel})`,
      "",
      fmt(median(samples.map((s) => s.mibps))) + " MiB/s",
      "",
      fmt(median(samples.map((s) => s.cpuMsPerGiB))) + " ms/GiB",
      fmt(growth / 2 ** 20, 1) + " MiB",
      tsgi ? `${ratio(r)} MiB/s, ${ratio(cpu)} CPU vs raw` : "",
      (tsgi ? `≥ ${target.toFixed(2)}× ${r >= target ? "✓" : "✗"}; ` : "") +
      `RSS ≤ 64 MiB ${growth <= 64 * 2 ** 20 ? "✓" : "✗"}`,
    ]);
  }

  const target = (label: string, value: number, min: number, max = false) => {
    if (Number.isNaN(value)) return;
    const met = max ? value <= min : value >= min;
    rows.push([
      label,
      "",
      "",
      "",
      "",
      "",
      ratio(value),
      // A ratio printed for scale has no target.
      min === 0
        ? ""
        : `${max ? "≤" : "≥"} ${min.toFixed(2)}× ${met ? "✓" : "✗"}`,
    ]);
  };
  const pair = (
    label: string,
    a: string,
    b: string,
    min: number,
    cpuMax?: number,
  ) => {
    target(`${label}, req/s`, paired(a, b, (s) => s.rps), min);
    if (cpuMax !== undefined) {
      target(`${label}, CPU/req`, paired(a, b, (s) => s.cpuUs), cpuMax, true);
    }
  };
  const RUNTIMES = ["deno", "bun", "node"];
  // Hello world against the raw runtime, then against the least any
  // gateway does (Deno and Bun only: Node's raw handler is its floor).
  for (const base of ["raw", "raw-floor"]) {
    for (const runtime of RUNTIMES) {
      for (const headers of [1, 9]) {
        pair(
          `tsgi / ${base} ${runtime}, ${headers} header(s)`,
          `tsgi ${runtime}|${headers}`,
          `${base} ${runtime}|${headers}`,
          0.9,
          runtime === "node" ? undefined : 1.15,
        );
      }
    }
  }
  for (const runtime of RUNTIMES) {
    for (const headers of [1, 9]) {
      pair(
        `tsgi / Hono on ${runtime}, ${headers} header(s)`,
        `tsgi ${runtime}|${headers}`,
        `hono ${runtime}|${headers}`,
        1,
      );
    }
  }
  // The JSON API: ahead of Hono, by 1.3× on Node, where Hono pays for
  // Fetch objects tsgi does without; and of srvx.
  for (const runtime of RUNTIMES) {
    const a = `tsgi-json ${runtime}|9`;
    pair(
      `JSON API: tsgi / Hono on ${runtime}`,
      a,
      `hono-json ${runtime}|9`,
      runtime === "node" ? 1.3 : 1,
      runtime === "node" ? undefined : 1,
    );
    pair(`JSON API: tsgi / raw on ${runtime}`, a, `raw-json ${runtime}|9`, 0);
  }
  pair(
    "JSON API: tsgi / srvx on node",
    "tsgi-json node|9",
    "srvx-json node|9",
    1,
  );
  // Enumerating the environ costs no more than copying every header first.
  for (const runtime of RUNTIMES) {
    for (const headers of [1, 9]) {
      const a = `tsgi-environ ${runtime}|${headers}`;
      const b = `naive-environ ${runtime}|${headers}`;
      target(
        `enumeration: tsgi / naive on ${runtime}, ${headers} header(s), CPU/req`,
        paired(a, b, (s) => s.cpuUs),
        1,
        true,
      );
    }
  }
  const python = specs.filter((s) => s.group === "python");
  for (const headers of [1, 9]) {
    let best: ServerSpec | undefined;
    for (const spec of python) {
      if (
        best === undefined ||
        med(`${spec.name}|${headers}`, (s) => s.rps) >
          med(`${best.name}|${headers}`, (s) => s.rps)
      ) {
        best = spec;
      }
    }
    if (best === undefined) continue;
    for (const runtime of RUNTIMES) {
      target(
        `tsgi ${runtime} / best Python (${best.name}), ${headers} header(s)`,
        med(`tsgi ${runtime}|${headers}`, (s) => s.rps) /
          med(`${best.name}|${headers}`, (s) => s.rps),
        8,
      );
    }
  }

  const head = [
    "Benchmark",
    "Hdrs",
    "req/s · MiB/s",
    "p99 ms",
    "server CPU µs/req",
    "RSS growth",
    "Ratio",
    "Target",
  ];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(
    `\nMedians of ${options.rounds} interleaved round(s); wrk -t1 -c${CONNECTIONS} -d${options.duration}s ` +
      `pinned to CPU ${CLIENT_CORE}, each server pinned to CPU ${SERVER_CORE}.\n`,
  );
  console.log(line(head));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const row of rows) console.log(line(row));
}

await main();
