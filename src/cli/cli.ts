/**
 * The `tsgi` command: gunicorn for tsgi apps. It loads an app from a
 * module, serves it with {@linkcode serve}, optionally on several worker
 * processes, and shuts down gracefully on SIGINT/SIGTERM.
 *
 * ```sh
 * deno run -A jsr:@tsgi/tsgi/cli examples/hello.ts
 * npx tsgi --workers 2 ./app.js:app         # Node, from the npm package
 * bun node_modules/tsgi/esm/cli.js app.ts
 * ```
 *
 * @module
 */

import { serve, type Server } from "../serve/serve.ts";
import { urlOf } from "../serve/_adapter.ts";
import { VERSION } from "../gateway/_environ.ts";
import type { ChildProcess, CliHost } from "./_host.ts";
import { BOOT_LINE } from "./_host.ts";
import { accessLog } from "../middleware/access_log.ts";
import type { App } from "../types.ts";

const USAGE = `Usage: tsgi [options] MODULE[:NAME]

Serves the tsgi app that MODULE (a path, or an http:, https: or file: URL)
exports as NAME; without NAME, the export "app", else the default export.

Options:
  -b, --host HOST            address to listen on (default 127.0.0.1)
  -p, --port PORT            port to listen on, 0 for any free one (default 8000)
  -w, --workers N            worker processes sharing the port (default 1)
      --access-log           log each request to stderr (the default)
      --no-access-log        do not log requests
      --access-log-format F  wsgiref (default), common or combined
      --max-body-size BYTES  answer 413 to larger request bodies (e.g. 10M)
      --reload               restart when a source file changes (watch mode)
  -v, --version              print the version and exit
  -h, --help                 print this help and exit

SIGINT or SIGTERM shuts down gracefully (requests in flight finish); a
second one exits at once.
`;

const FORMATS = ["wsgiref", "common", "combined"] as const;
type LogFormat = typeof FORMATS[number];

/** What the command line asked for. */
interface CliOptions {
  target: string;
  host: string;
  port: number;
  workers: number;
  accessLog: boolean;
  accessLogFormat: LogFormat;
  maxBodySize: number | undefined;
  reload: boolean;
}

type Parsed =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "error"; message: string }
  | { kind: "run"; options: CliOptions };

const SIZE = /^(\d+)([kmg]i?b?|b)?$/i;

function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text);
  if (match === null) return undefined;
  const unit = (match[2] ?? "b")[0].toLowerCase();
  const factor = unit === "k"
    ? 1024
    : unit === "m"
    ? 1024 ** 2
    : unit === "g"
    ? 1024 ** 3
    : 1;
  return Number(match[1]) * factor;
}

function parseInteger(text: string, min: number, max: number) {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}

/** Parses the command line; never throws. */
function parseArgs(args: readonly string[]): Parsed {
  const options: Omit<CliOptions, "target"> = {
    host: "127.0.0.1",
    port: 8000,
    workers: 1,
    accessLog: true,
    accessLogFormat: "wsgiref",
    maxBodySize: undefined,
    reload: false,
  };
  const targets: string[] = [];
  const error = (message: string): Parsed => ({ kind: "error", message });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      targets.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      targets.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq !== -1 ? arg.slice(0, eq) : arg;
    const value = (): string | undefined =>
      eq !== -1 && arg.startsWith("--") ? arg.slice(eq + 1) : args[++i];
    let problem: string | undefined;
    /** The option's value parsed, or undefined with `problem` said. */
    const take = <T>(
      parse: (text: string) => T | undefined,
      needs: string,
    ): T | undefined => {
      const text = value();
      const parsed = text === undefined ? undefined : parse(text);
      if (parsed === undefined) {
        problem = `${flag} needs ${needs}, got ${
          text === undefined ? "nothing" : JSON.stringify(text)
        }`;
      }
      return parsed;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return { kind: "help" };
      case "-v":
      case "--version":
        return { kind: "version" };
      case "-b":
      case "--host":
      case "--bind": {
        const host = take(
          (text) => text === "" ? undefined : text,
          "an address, such as 127.0.0.1",
        );
        options.host = host?.startsWith("[") && host.endsWith("]")
          ? host.slice(1, -1)
          : host ?? options.host;
        break;
      }
      case "-p":
      case "--port":
        options.port = take(
          (text) => parseInteger(text, 0, 65535),
          "a port from 0 to 65535",
        ) ?? options.port;
        break;
      case "-w":
      case "--workers":
        options.workers = take(
          (text) => parseInteger(text, 1, 1024),
          "a number of processes from 1 to 1024",
        ) ?? options.workers;
        break;
      case "--access-log":
        options.accessLog = true;
        break;
      case "--no-access-log":
        options.accessLog = false;
        break;
      case "--access-log-format":
        options.accessLogFormat = take(
          (text) =>
            FORMATS.includes(text as LogFormat) ? text as LogFormat : undefined,
          `one of ${FORMATS.join(", ")}`,
        ) ?? options.accessLogFormat;
        break;
      case "--max-body-size":
        options.maxBodySize = take(
          parseSize,
          "a number of bytes such as 1048576 or 10M",
        ) ?? options.maxBodySize;
        break;
      case "--reload":
        options.reload = true;
        break;
      default:
        return error(`unknown option ${flag}`);
    }
    if (problem !== undefined) return error(problem);
  }
  if (targets.length !== 1) {
    return error(
      targets.length === 0
        ? "missing MODULE[:NAME], the app to serve"
        : `expected one MODULE[:NAME], got ${targets.length}: ${
          targets.join(" ")
        }`,
    );
  }
  if (options.reload && options.workers > 1) {
    return error("--reload runs one process; leave out --workers");
  }
  return { kind: "run", options: { ...options, target: targets[0] } };
}

/** The arguments that start a worker (or a watched copy) like this one. */
function argsFor(options: CliOptions, port: number): string[] {
  return [
    "--host",
    options.host,
    "--port",
    String(port),
    options.accessLog ? "--access-log" : "--no-access-log",
    "--access-log-format",
    options.accessLogFormat,
    ...(options.maxBodySize === undefined
      ? []
      : ["--max-body-size", String(options.maxBodySize)]),
    "--",
    options.target,
  ];
}

/**
 * `MODULE[:NAME]`: NAME is what follows the last colon when it is an
 * identifier, so URLs (`https://…`, `http://host:8000/app.ts`) and
 * Windows drives keep their colons.
 */
function splitTarget(target: string): { module: string; name?: string } {
  const colon = target.lastIndexOf(":");
  if (colon > 0) {
    const name = target.slice(colon + 1);
    if (
      /^[A-Za-z_$][\w$]*$/.test(name) &&
      !/^[A-Za-z]$/.test(target.slice(0, colon))
    ) {
      return { module: target.slice(0, colon), name };
    }
  }
  return { module: target };
}

function isUrl(specifier: string): boolean {
  return /^[A-Za-z][A-Za-z\d+.-]+:/.test(specifier);
}

function fileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n", 1)[0].trim();
}

/**
 * Imports a module by its URL. Each template starts with a literal
 * `scheme://`, which the publish-time analysis accepts as needing no
 * import-map rewriting; a bare `import(url)` it cannot follow. Other
 * schemes (jsr:, npm:, data:) are reached through a local module.
 */
function importUrl(url: string): Promise<Record<string, unknown>> {
  const href = new URL(url).href;
  const rest = href.slice(href.indexOf("://") + 3);
  if (href.startsWith("file://")) return import(`file://${rest}`);
  if (href.startsWith("https://")) return import(`https://${rest}`);
  if (href.startsWith("http://")) return import(`http://${rest}`);
  return Promise.reject(
    new TypeError(
      `Cannot import "${url}": expected a path or a file:, http: or https: URL; re-export the app from a local module instead`,
    ),
  );
}

/** Loads MODULE and finds the app in it; throws an Error with the one-line reason. */
async function loadApp(target: string, host: CliHost): Promise<App> {
  const { module, name } = splitTarget(target);
  let specifier = module;
  if (!isUrl(module)) {
    const path = module.startsWith("/") ? module : `${host.cwd()}/${module}`;
    if (!host.exists(path)) {
      throw new Error(`Cannot find module "${module}" (no file ${path})`);
    }
    specifier = fileUrl(path);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = await importUrl(specifier);
  } catch (error) {
    throw new Error(`Cannot load module "${module}": ${firstLine(error)}`);
  }
  const exported = Object.keys(namespace);
  const listing = exported.length === 0
    ? "it exports nothing"
    : `it exports ${exported.join(", ")}`;
  let key = name;
  if (key === undefined) {
    key = "app" in namespace ? "app" : "default" in namespace ? "default" : "";
    if (key === "") {
      throw new Error(
        `Cannot find an app in module "${module}": export it as "app" or as the default export (${listing})`,
      );
    }
  } else if (!(key in namespace)) {
    throw new Error(
      `Cannot find export "${key}" in module "${module}" (${listing})`,
    );
  }
  const value = namespace[key];
  if (typeof value === "function") return value as App;
  const what = key === "default" ? "the default export" : `export "${key}"`;
  if (
    typeof value === "object" && value !== null &&
    typeof (value as { fetch?: unknown }).fetch === "function"
  ) {
    throw new Error(
      `Cannot serve ${what} of "${module}": an object with fetch() is a Fetch handler, not a tsgi app; export the app function itself`,
    );
  }
  throw new Error(
    `Cannot serve ${what} of "${module}": expected an app function, got ${
      value === null ? "null" : typeof value
    }`,
  );
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** gunicorn's log prefix: `[2026-11-21 22:14:41 +0000] [1234] [INFO]`. */
function logger(host: CliHost): (level: string, message: string) => void {
  return (level, message) => {
    const d = new Date();
    const offset = -d.getTimezoneOffset();
    const zone = `${offset < 0 ? "-" : "+"}${
      pad(Math.floor(Math.abs(offset) / 60))
    }${pad(Math.abs(offset) % 60)}`;
    const stamp = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${
      pad(d.getDate())
    } ${pad(d.getHours())}:${pad(d.getMinutes())}:${
      pad(d.getSeconds())
    } ${zone}`;
    host.writeErr(`[${stamp}] [${host.pid}] [${level}] ${message}\n`);
  };
}

/** The running runtime's host; only its file is loaded. */
async function hostFor(): Promise<CliHost> {
  return typeof (globalThis as { Deno?: unknown }).Deno === "object"
    ? (await import("./_deno.ts")).cliHost()
    : await (await import("./_node.ts")).cliHost();
}

/** Serves in this process: the only one, or one worker of several. */
async function serveHere(
  host: CliHost,
  options: CliOptions,
  worker: boolean,
): Promise<number> {
  const log = logger(host);
  let app: App;
  try {
    app = await loadApp(options.target, host);
  } catch (error) {
    host.writeErr(`tsgi: error: ${firstLine(error)}\n`);
    return 1;
  }
  const workers = Number(host.env("TSGI_WORKERS") ?? "1");
  let server: Server;
  try {
    if (options.accessLog && options.accessLogFormat !== "wsgiref") {
      app = accessLog(app, {
        format: options.accessLogFormat,
        sink: (line) => host.writeErr(line + "\n"),
      });
    }
    server = await serve(app, {
      hostname: options.host,
      port: options.port,
      reusePort: worker && host.reusePort,
      multiprocess: workers > 1,
      maxBodySize: options.maxBodySize,
      // wsgiref's line is serve()'s own; Apache's come from the middleware.
      accessLog: options.accessLog && options.accessLogFormat === "wsgiref"
        ? (line: string) => host.writeErr(line + "\n")
        : false,
      onListen() {},
    });
  } catch (error) {
    const where = urlOf(options.host, options.port).slice(7);
    host.writeErr(
      host.isAddrInUse(error)
        ? `tsgi: error: Cannot listen on ${where}: the address is already in use\n`
        : `tsgi: error: Cannot listen on ${where}: ${firstLine(error)}\n`,
    );
    return 1;
  }
  if (!worker) {
    log(
      "INFO",
      `Listening at: ${urlOf(server.hostname, server.port)} (${host.pid})`,
    );
    log("INFO", `Using worker: ${host.runtime.split(" ")[0]}`);
  }
  log("INFO", `${BOOT_LINE}${host.pid}`);
  let signals = 0;
  const stopListening = host.onSignal((signal) => {
    // A worker leaves Ctrl-C to its supervisor, which sends SIGTERM.
    if (worker && signal === "SIGINT") return;
    if (++signals > 1) {
      log("WARNING", "Second signal: exiting without waiting");
      host.exit(1);
    }
    log("INFO", `Handling signal: ${signal === "SIGINT" ? "int" : "term"}`);
    server.shutdown();
  });
  if (worker) {
    host.supervisorGone().then(() => {
      if (signals++ === 0) server.shutdown();
    });
  }
  await server.finished;
  stopListening();
  log("INFO", `Worker exiting (pid: ${host.pid})`);
  return 0;
}

/** Runs N workers on one port and looks after them. */
async function supervise(
  host: CliHost,
  options: CliOptions,
  modulePath: string | undefined,
): Promise<number> {
  const log = logger(host);
  let port: number;
  try {
    port = await host.probePort(options.host, options.port);
  } catch (error) {
    const where = urlOf(options.host, options.port).slice(7);
    host.writeErr(
      host.isAddrInUse(error)
        ? `tsgi: error: Cannot listen on ${where}: the address is already in use\n`
        : `tsgi: error: Cannot listen on ${where}: ${firstLine(error)}\n`,
    );
    return 1;
  }
  // Said once the first worker listens: a module that fails to load then
  // prints its one error line and nothing else.
  const announce = () => {
    log("INFO", `Starting tsgi ${VERSION} (${host.runtime})`);
    log("INFO", `Listening at: ${urlOf(options.host, port)} (${host.pid})`);
    log(
      "INFO",
      `Using worker: ${host.runtime.split(" ")[0]} (${
        host.reusePort ? "processes sharing the port" : "node:cluster"
      })`,
    );
  };
  const env = { TSGI_WORKER: "1", TSGI_WORKERS: String(options.workers) };
  const args = argsFor(options, port);
  const children = new Set<ChildProcess>();
  let stopping = false;
  let signals = 0;
  // The exit status: non-zero when a worker could not be replaced, or
  // failed while shutting down. A worker replaced in time is no failure.
  let failed = 0;
  const stopListening = host.onSignal((signal) => {
    if (++signals > 1) {
      log("WARNING", "Second signal: killing the workers");
      for (const child of children) child.kill("SIGKILL");
      host.exit(1);
    }
    log("INFO", `Handling signal: ${signal === "SIGINT" ? "int" : "term"}`);
    stopping = true;
    for (const child of children) child.kill("SIGTERM");
  });
  const start = async (): Promise<number | undefined> => {
    const child = host.startWorker(args, env, modulePath);
    children.add(child);
    const early = await Promise.race([
      child.ready.then(() => undefined),
      child.exited,
    ]);
    if (early !== undefined) {
      children.delete(child);
      return early || 1;
    }
    child.exited.then(async (code) => {
      children.delete(child);
      if (stopping) {
        if (code !== 0) failed = code;
        return;
      }
      // A worker died on its own: boot another, as gunicorn does.
      log("WARNING", `Worker (pid: ${child.pid}) exited with code ${code}`);
      const again = await start();
      if (again !== undefined && !stopping) {
        log("ERROR", "A new worker failed to boot; shutting down");
        failed = again;
        stopping = true;
        for (const other of children) other.kill("SIGTERM");
      }
    });
    return undefined;
  };
  // One at a time: a module that fails to load says so once.
  for (let i = 0; i < options.workers && !stopping; i++) {
    const code = await start();
    if (i === 0 && code === undefined) announce();
    if (code !== undefined) {
      stopping = true;
      for (const child of children) child.kill("SIGTERM");
      await Promise.all([...children].map((child) => child.exited));
      stopListening();
      return code;
    }
  }
  while (children.size > 0) {
    await Promise.all([...children].map((child) => child.exited));
    // Children replaced while waiting are waited for on the next turn.
    await Promise.resolve();
  }
  stopListening();
  log("INFO", "Shutting down: Master");
  return failed;
}

/**
 * Runs the `tsgi` command with `args` and resolves with its exit status;
 * the process should exit with it. Usage errors give 2, failures to start
 * (module not found, export missing, port in use) give 1 and one line on
 * stderr, a graceful shutdown gives 0.
 *
 * @param args The arguments after the program name.
 * @returns The exit status.
 *
 * @example Print the help
 * ```ts ignore
 * import { main } from "@tsgi/tsgi/cli";
 * const status = await main(["--help"]);
 * ```
 */
export async function main(args?: readonly string[]): Promise<number> {
  const host = await hostFor();
  const parsed = parseArgs(args ?? host.args);
  switch (parsed.kind) {
    case "help":
      host.writeOut(USAGE);
      return 0;
    case "version":
      host.writeOut(`tsgi ${VERSION} (${host.runtime})\n`);
      return 0;
    case "error":
      host.writeErr(`tsgi: error: ${parsed.message} (see tsgi --help)\n`);
      return 2;
  }
  const options = parsed.options;
  const { module } = splitTarget(options.target);
  const modulePath = isUrl(module)
    ? undefined
    : module.startsWith("/")
    ? module
    : `${host.cwd()}/${module}`;
  if (options.reload) {
    const child = host.watch(argsFor(options, options.port), {}, modulePath);
    let signals = 0;
    const stop = host.onSignal(() => {
      if (++signals > 1) return child.kill("SIGKILL");
      child.kill("SIGTERM");
      // A watch-mode runner (Deno's, Bun's) outlives the script it runs:
      // once the server has shut down gracefully, end the runner too.
      child.nextExit().then(() => child.kill("SIGKILL"));
    });
    const code = await child.exited;
    stop();
    return signals > 0 ? 0 : code;
  }
  const worker = host.env("TSGI_WORKER") === "1";
  if (options.workers > 1 && !worker) {
    return await supervise(host, options, modulePath);
  }
  return await serveHere(host, options, worker);
}

if ((import.meta as { main?: boolean }).main) {
  const status = await main();
  (await hostFor()).exit(status);
}
