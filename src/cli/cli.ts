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

import {
  type AccessRecord,
  serve,
  type Server,
  type TlsOptions,
} from "../serve/serve.ts";
import { VERSION } from "../gateway/_environ.ts";
import type { ChildProcess, CliHost, Signal } from "./_host.ts";
import { BOOT_LINE } from "./_host.ts";
import { accessLog } from "../middleware/access_log.ts";
import {
  type Bind,
  bindText,
  type CliOptions,
  LEVELS,
  type LogLevel,
  parseOptions,
} from "./_options.ts";
import {
  type MetricsData,
  SupervisorMetrics,
  WorkerMetrics,
} from "./_metrics.ts";
import type { App, Environ, StartResponse } from "../types.ts";

const USAGE = `Usage: tsgi [options] MODULE[:NAME]

Serves the tsgi app that MODULE (a path, or an http:, https: or file: URL) exports as NAME; without
NAME, the export "app", else the default export. Options are gunicorn's;
they are read from a config file (-c), then $TSGI_CMD_ARGS, then the
command line, each overriding the one before.

Options:
  -b, --bind ADDRESS         HOST, HOST:PORT, [V6]:PORT or unix:PATH; repeat
                             to listen on several (default 127.0.0.1:8000,
                             or 0.0.0.0:$PORT when $PORT is set)
      --host HOST            the host of the default bind ($HOST)
  -p, --port PORT            the port of a bind that names none ($PORT)
  -w, --workers N            worker processes (default 1)
  -c, --config FILE          a JSON file, or a module exporting the options
      --check-config         print the effective options and exit
  -m, --umask MODE           Unix sockets get mode 0777 & ~MODE (octal)
      --certfile FILE        serve HTTPS with this certificate (PEM)
      --keyfile FILE         ... and this private key (PEM)
      --http2                with TLS on Node: HTTP/2 too (Deno always offers it)
  -t, --timeout S            kill and replace a worker silent for S seconds
                             (default 30; with a supervisor)
      --graceful-timeout S   how long a graceful stop may take (default 30)
      --keep-alive S         seconds an idle connection is kept
      --request-timeout S    per-request deadline: 504, or the stream cut
      --max-requests N       replace a worker after N requests (0: never)
      --max-requests-jitter J  ... plus a random 0..J
      --access-log           log each request (the default)
      --no-access-log        do not log requests
      --access-log-format F  wsgiref (default), common, combined or json
      --access-logfile FILE  where access lines go (default -, stderr)
      --error-logfile FILE   where other lines go (default -, stderr)
      --log-level LEVEL      debug, info (default), warning, error, critical
      --metrics-bind ADDRESS serve Prometheus metrics at /metrics there
      --limit-request-line N          414 above N bytes of request line
      --limit-request-fields N        431 above N header fields
      --limit-request-field_size N    431 above N bytes in one header field
      --max-body-size BYTES  answer 413 to larger request bodies (e.g. 10M)
      --reload               restart when a source file changes (watch mode)
  -v, --version              print the version and exit
  -h, --help                 print this help and exit

Signals: TERM stops gracefully, INT and QUIT at once, HUP replaces the
workers (reading the certificate again), TTIN adds a worker, TTOU removes
one. The same signal twice within a second (as a process group delivers
it) counts once.
`;

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

type Log = (level: string, message: string) => void;

/**
 * gunicorn's log prefix, `[2026-11-21 22:14:41 +0000] [1234] [INFO]`, to
 * the error log; lines below the log level are dropped.
 */
function logger(
  host: CliHost,
  level: LogLevel = "info",
  write: (text: string) => void = host.writeErr,
): Log {
  const least = LEVELS.indexOf(level);
  return (lineLevel, message) => {
    if (LEVELS.indexOf(lineLevel.toLowerCase() as LogLevel) < least) return;
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
    write(`[${stamp}] [${host.pid}] [${lineLevel}] ${message}\n`);
  };
}

/** Where `-` (stdout or stderr) or a file name sends text. */
function destination(
  host: CliHost,
  name: string,
  dash: (text: string) => void,
): (text: string) => void {
  return name === "-" ? dash : host.appender(name);
}

/** The running runtime's host; only its file is loaded. */
async function hostFor(): Promise<CliHost> {
  return typeof (globalThis as { Deno?: unknown }).Deno === "object"
    ? (await import("./_deno.ts")).cliHost()
    : await (await import("./_node.ts")).cliHost();
}

/** Deno's missing permission, said with the flags that grant it. */
function explain(error: unknown): string {
  const line = firstLine(error);
  if ((error as { name?: string } | null)?.name !== "NotCapable") return line;
  return `${line}: run deno with -A, or --allow-net --allow-read --allow-env (and --allow-run for workers, --allow-write for log files and Unix sockets)`;
}

/** A JSON access line: every value escaped, so no header can forge a field. */
function jsonLine(record: AccessRecord, pid: number): string {
  const headers = record.request.headers;
  const query = record.target.indexOf("?");
  return JSON.stringify({
    time: new Date(record.start).toISOString(),
    remote_addr: record.remoteAddr,
    method: record.request.method,
    path: query === -1 ? record.target : record.target.slice(0, query),
    query: query === -1 ? "" : record.target.slice(query + 1),
    protocol: record.protocol,
    status: record.status,
    bytes: record.bytes,
    duration_ms: record.duration,
    host: headers.get("host"),
    referer: headers.get("referer"),
    user_agent: headers.get("user-agent"),
    pid,
  });
}

/** An app that counts the requests it is working on (for /metrics). */
function counting(app: App, metrics: MetricsData): App {
  return (environ: Environ, startResponse: StartResponse) => {
    metrics.inFlight++;
    let done = false;
    const end = () => {
      if (!done) {
        done = true;
        metrics.inFlight--;
      }
    };
    let result;
    try {
      result = app(environ, startResponse);
    } catch (error) {
      end();
      throw error;
    }
    const wrap = (body: unknown) => {
      const iterable = body as
        & Partial<Iterable<Uint8Array>>
        & Partial<AsyncIterable<Uint8Array>>
        & { close?: () => unknown };
      // The gateway calls close() exactly once, when the response is over.
      return {
        [Symbol.iterator]: iterable[Symbol.iterator]?.bind(iterable),
        [Symbol.asyncIterator]: iterable[Symbol.asyncIterator]?.bind(iterable),
        close() {
          end();
          return iterable.close?.();
        },
      } as unknown as Iterable<Uint8Array>;
    };
    if (result instanceof Promise) {
      return result.then(wrap, (error) => {
        end();
        throw error;
      });
    }
    return wrap(result);
  };
}

/** The certificate files, read now (again on each worker's start). */
function readTls(
  host: CliHost,
  options: CliOptions,
): TlsOptions | undefined {
  if (options.certfile === undefined || options.keyfile === undefined) {
    return undefined;
  }
  const read = (flag: string, path: string) => {
    try {
      return host.readText(path);
    } catch (error) {
      throw new Error(`Cannot read ${flag} ${path}: ${explain(error)}`);
    }
  };
  return {
    cert: read("--certfile", options.certfile),
    key: read("--keyfile", options.keyfile),
  };
}

/** A stopping worker closes its listener after this long without a request… */
const QUIET_MS = 50;
/** …or after this long at most. */
const SETTLE_MS = 1000;

/** A worker has at least this many seconds to boot. */
const BOOT_S = 60;

/** The same signal again within this many ms is the process group's echo. */
const ECHO_MS = 1000;

/** Calls `handler` once per signal, ignoring echoes of the last one. */
function onSignals(host: CliHost, handler: (signal: Signal) => void) {
  let last: Signal | undefined;
  let at = 0;
  return host.onSignal((signal) => {
    const now = Date.now();
    if (signal === last && now - at < ECHO_MS) return;
    last = signal;
    at = now;
    handler(signal);
  });
}

/** Serves in this process: the only one, or one worker of several. */
async function serveHere(
  host: CliHost,
  options: CliOptions,
  worker: boolean,
): Promise<number> {
  const log = logger(
    host,
    options.logLevel,
    destination(host, options.errorLogfile, host.writeErr),
  );
  const fail = (message: string) => {
    host.writeErr(`tsgi: error: ${message}\n`);
    return 1;
  };
  let app: App;
  let tls: TlsOptions | undefined;
  let writeAccess: (text: string) => void;
  try {
    app = await loadApp(options.target, host);
    tls = readTls(host, options);
    writeAccess = destination(host, options.accessLogfile, host.writeErr);
  } catch (error) {
    return fail(explain(error));
  }
  const workers = Number(host.env("TSGI_WORKERS") ?? "1");
  const supervised = worker && host.env("TSGI_SUPERVISED") === "1";
  const metrics = supervised && host.env("TSGI_METRICS") === "1"
    ? new WorkerMetrics()
    : undefined;
  let sendTimer: ReturnType<typeof setTimeout> | undefined;
  const sendMetrics = () => {
    if (sendTimer !== undefined) clearTimeout(sendTimer);
    sendTimer = undefined;
    host.send({ t: "metrics", data: metrics!.data });
  };
  const metricsChanged = () => {
    // At most ten messages a second, however busy the worker.
    sendTimer ??= setTimeout(sendMetrics, 100);
  };
  // Its share of requests, gunicorn's way: N plus a random 0..J.
  let share = options.maxRequests === 0 || !supervised
    ? Infinity
    : options.maxRequests +
      Math.floor(Math.random() * (options.maxRequestsJitter + 1));
  if (options.accessLog && options.accessLogFormat !== "wsgiref") {
    if (options.accessLogFormat !== "json") {
      app = accessLog(app, {
        format: options.accessLogFormat,
        sink: (line) => writeAccess(line + "\n"),
      });
    }
  }
  if (metrics !== undefined) app = counting(app, metrics.data);
  // When a request last came: a stopping worker waits for a quiet moment.
  let lastRequest = 0;
  if (supervised) {
    const inner = app;
    app = (environ, startResponse) => {
      lastRequest = Date.now();
      if (--share === 0) {
        // It serves on until its replacement listens (then SIGTERM).
        log("INFO", "Autorestarting worker after current request.");
        host.send({ t: "retire" });
      }
      return inner(environ, startResponse);
    };
  }
  const sink = !options.accessLog
    ? undefined
    : options.accessLogFormat === "wsgiref"
    ? (line: string) => writeAccess(line + "\n")
    : options.accessLogFormat === "json"
    ? (_line: string, record: AccessRecord) =>
      writeAccess(jsonLine(record, host.pid) + "\n")
    : undefined;
  const accessSink = metrics === undefined
    ? sink
    : (line: string, record: AccessRecord) => {
      metrics.record(
        record.request.method,
        record.status,
        record.bytes,
        record.duration,
      );
      metricsChanged();
      sink?.(line, record);
    };
  const servers: Server[] = [];
  if (!worker) removeStaleSockets(host, options.binds);
  for (const bind of options.binds) {
    try {
      servers.push(
        await serve(app, {
          ...(bind.kind === "unix"
            ? { path: bind.path }
            : { hostname: bind.host, port: bind.port }),
          reusePort: worker && host.reusePort && bind.kind === "tcp",
          multiprocess: workers > 1,
          maxBodySize: options.maxBodySize,
          ...(tls === undefined ? {} : { tls, http2: options.http2 }),
          ...(options.keepAlive === undefined
            ? {}
            : { idleTimeout: options.keepAlive }),
          ...(options.requestTimeout === undefined ? {} : {
            requestTimeout: options.requestTimeout,
            onRequestTimeout(request: Request, sent: boolean) {
              if (metrics !== undefined) {
                metrics.data.requestTimeouts++;
                metricsChanged();
              }
              log(
                "WARNING",
                `Request timeout: ${request.method} ${
                  new URL(request.url).pathname
                } ${sent ? "(response cut)" : "(504)"}`,
              );
            },
          }),
          limits: {
            requestLine: options.limitRequestLine,
            fields: options.limitRequestFields,
            fieldSize: options.limitRequestFieldSize,
          },
          accessLog: accessSink ?? false,
          onListen() {},
        }),
      );
    } catch (error) {
      for (const server of servers) server.abort();
      return fail(
        host.isAddrInUse(error)
          ? `Cannot listen on ${bindText(bind)}: the address is already in use`
          : `Cannot listen on ${bindText(bind)}: ${explain(error)}`,
      );
    }
  }
  const scheme = tls === undefined ? "http" : "https";
  if (!worker) applyUmask(host, options);
  if (!worker) {
    log("INFO", `Starting tsgi ${VERSION} (${host.runtime})`);
    for (const server of servers) {
      log("INFO", `Listening at: ${addressOf(server, scheme)} (${host.pid})`);
    }
    log("INFO", `Using worker: ${host.runtime.split(" ")[0]}`);
  }
  let stopping = false;
  const finished = Promise.all(servers.map((server) => server.finished));
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (supervised) {
      // Handing over: clients are told to leave (Connection: close) and
      // reconnect, mostly to the other workers; the listener closes once
      // no request has come for a moment (or after a second), so that
      // hardly any connection is accepted here and then closed unread.
      for (const server of servers) server.drain();
      const began = Date.now();
      const settle = setInterval(() => {
        const now = Date.now();
        if (now - lastRequest < QUIET_MS && now - began < SETTLE_MS) return;
        clearInterval(settle);
        for (const server of servers) server.shutdown();
        log("INFO", `Stopped accepting connections (pid: ${host.pid})`);
      }, 10);
    } else for (const server of servers) server.shutdown();
    const grace = setTimeout(() => {
      log(
        "WARNING",
        `Graceful timeout (${options.gracefulTimeout} s): closing the requests still in flight`,
      );
      for (const server of servers) server.abort();
      exitNow(0);
    }, options.gracefulTimeout * 1000);
    finished.then(() => clearTimeout(grace));
  };
  const exitNow = (code: number): never => {
    if (metrics !== undefined) sendMetrics();
    log("INFO", `Worker exiting (pid: ${host.pid})`);
    return host.exit(code);
  };
  const stopListening = onSignals(host, (signal) => {
    switch (signal) {
      case "SIGTERM":
        if (stopping) {
          log("WARNING", "Second signal: exiting without waiting");
          return host.exit(1);
        }
        log("INFO", "Handling signal: term");
        return stop();
      case "SIGINT":
      case "SIGQUIT":
        // A worker leaves Ctrl-C to its supervisor, which sends QUIT.
        if (worker && signal === "SIGINT") return;
        log("INFO", `Handling signal: ${signal.slice(3).toLowerCase()}`);
        for (const server of servers) server.abort();
        return exitNow(0);
      case "SIGHUP": {
        if (worker) return;
        log("INFO", "Handling signal: hup");
        if (tls === undefined) return;
        try {
          const fresh = readTls(host, options)!;
          for (const server of servers) server.updateTls(fresh);
          log("INFO", "Reloaded the certificate for new connections");
        } catch (error) {
          log("ERROR", `Cannot reload the certificate: ${firstLine(error)}`);
        }
        return;
      }
      default:
        if (!worker) {
          log(
            "WARNING",
            `Ignoring ${signal}: one process has no workers to add or remove (use --workers)`,
          );
        }
    }
  });
  log("INFO", `${BOOT_LINE}${host.pid}`);
  if (worker) host.send({ t: "up" });
  let beat: ReturnType<typeof setInterval> | undefined;
  if (supervised) {
    // Four beats per --timeout: a blocked event loop misses them all.
    const every = Math.max(50, Math.min(1000, options.timeout * 250));
    beat = setInterval(() => host.send({ t: "beat" }), every);
  }
  if (worker) {
    host.supervisorGone().then(() => stop());
  }
  await finished;
  if (beat !== undefined) clearInterval(beat);
  stopListening();
  if (metrics !== undefined) sendMetrics();
  log("INFO", `Worker exiting (pid: ${host.pid})`);
  return 0;
}

/**
 * A Unix socket left by a server that did not remove it would make the
 * bind fail; as gunicorn, remove it (a socket, never another file).
 */
function removeStaleSockets(host: CliHost, binds: readonly Bind[]): void {
  for (const bind of binds) {
    if (bind.kind === "unix" && host.isSocket(bind.path)) {
      host.removeFile(bind.path);
    }
  }
}

/** --umask: the Unix sockets' mode, once they exist. */
function applyUmask(host: CliHost, options: CliOptions): void {
  if (options.umask === undefined) return;
  for (const bind of options.binds) {
    if (bind.kind === "unix") host.chmod(bind.path, 0o777 & ~options.umask);
  }
}

/** `http://127.0.0.1:8000` or `unix:/tmp/app.sock`, as the log says it. */
function addressOf(
  server: { hostname: string; port: number; path?: string },
  scheme: string,
): string {
  if (server.path !== undefined) return `unix:${server.path}`;
  const host = server.hostname.includes(":")
    ? `[${server.hostname}]`
    : server.hostname;
  return `${scheme}://${host}:${server.port}`;
}

/** Serves the supervisor's /metrics. */
function metricsApp(metrics: SupervisorMetrics, workers: () => number): App {
  return (environ, startResponse) => {
    if (environ.PATH_INFO !== "/metrics") {
      startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode("Not Found: try /metrics\n")];
    }
    startResponse("200 OK", [[
      "Content-Type",
      "text/plain; version=0.0.4; charset=utf-8",
    ]]);
    return [new TextEncoder().encode(metrics.render(workers()))];
  };
}

/** Runs workers on shared listeners and looks after them. */
async function supervise(
  host: CliHost,
  options: CliOptions,
  modulePath: string | undefined,
): Promise<number> {
  const log = logger(
    host,
    options.logLevel,
    destination(host, options.errorLogfile, host.writeErr),
  );
  if (host.reusePort && options.binds.some((bind) => bind.kind === "unix")) {
    host.writeErr(
      `tsgi: error: Cannot share a Unix socket between workers on ${
        host.runtime.split(" ")[0]
      }: serve it from one process (no --workers or --max-requests), or use Node\n`,
    );
    return 1;
  }
  removeStaleSockets(host, options.binds);
  // Port 0 becomes a real port here, so that every worker binds the same.
  const binds: Bind[] = [];
  for (const bind of options.binds) {
    if (bind.kind === "unix") {
      binds.push(bind);
      continue;
    }
    try {
      binds.push({ ...bind, port: await host.probePort(bind.host, bind.port) });
    } catch (error) {
      host.writeErr(
        host.isAddrInUse(error)
          ? `tsgi: error: Cannot listen on ${
            bindText(bind)
          }: the address is already in use\n`
          : `tsgi: error: Cannot listen on ${bindText(bind)}: ${
            explain(error)
          }\n`,
      );
      return 1;
    }
  }
  try {
    // A certificate that cannot be read is said once, here.
    readTls(host, options);
  } catch (error) {
    host.writeErr(`tsgi: error: ${firstLine(error)}\n`);
    return 1;
  }
  const metrics = new SupervisorMetrics();
  const scheme = options.certfile === undefined ? "http" : "https";
  const announce = () => {
    log("INFO", `Starting tsgi ${VERSION} (${host.runtime})`);
    for (const bind of binds) {
      log(
        "INFO",
        `Listening at: ${
          bind.kind === "unix"
            ? `unix:${bind.path}`
            : addressOf({ hostname: bind.host, port: bind.port }, scheme)
        } (${host.pid})`,
      );
    }
    log(
      "INFO",
      `Using worker: ${host.runtime.split(" ")[0]} (${
        host.reusePort ? "processes sharing the port" : "node:cluster"
      })`,
    );
  };
  let target = options.workers;
  const workerEnv = () => ({
    TSGI_WORKER: "1",
    TSGI_SUPERVISED: "1",
    TSGI_WORKERS: String(target),
    TSGI_METRICS: options.metricsBind === undefined ? "0" : "1",
    TSGI_OPTIONS: JSON.stringify({ ...options, binds, config: undefined }),
  });
  const args = ["--", options.target];
  const children = new Set<ChildProcess>();
  /** Workers on their way out (recycled, removed): not replaced. */
  const leaving = new Set<ChildProcess>();
  let stopping = false;
  // The exit status: non-zero when a worker could not be replaced, or
  // failed while shutting down. A worker replaced in time is no failure.
  let failed = 0;
  /** Workers sent SIGTERM. */
  const stopped = new Set<ChildProcess>();
  /** Workers killed for not stopping in time: their status is no failure. */
  const killed = new Set<ChildProcess>();
  /** Workers that listen: a signal before that would find no handler. */
  const ready = new WeakSet<ChildProcess>();
  /** Kills a worker still booting: it serves nothing yet. */
  const killBooting = (child: ChildProcess): boolean => {
    if (ready.has(child)) return false;
    killed.add(child);
    child.kill("SIGKILL");
    return true;
  };
  const retire = (child: ChildProcess) => {
    leaving.add(child);
    if (stopped.has(child)) return;
    stopped.add(child);
    if (killBooting(child)) return;
    child.kill("SIGTERM");
    // The worker closes what is left itself when its graceful timeout is
    // over; one that cannot (a blocked event loop) is killed a second later.
    const timer = setTimeout(() => {
      killed.add(child);
      child.kill("SIGKILL");
    }, (options.gracefulTimeout + 1) * 1000);
    child.exited.then(() => {
      clearTimeout(timer);
      stopped.delete(child);
    });
  };
  const stopAll = (signal: "SIGTERM" | "SIGQUIT") => {
    stopping = true;
    for (const child of children) {
      if (signal === "SIGTERM") retire(child);
      else if (!killBooting(child)) child.kill("SIGQUIT");
    }
  };
  /** Starts a worker; undefined once it listens, else its exit code. */
  const start = async (): Promise<number | undefined> => {
    const child = host.startWorker(args, workerEnv(), modulePath);
    children.add(child);
    child.ready.then(() => ready.add(child));
    let lastBeat = Date.now();
    let timedOut = false;
    child.onMessage((message) => {
      switch (message.t) {
        case "beat":
          lastBeat = Date.now();
          break;
        case "metrics":
          metrics.update(child.pid, message.data as MetricsData);
          break;
        case "retire":
          // The replacement first, so the port never lacks a worker.
          if (stopping || leaving.has(child)) break;
          leaving.add(child);
          start().then((code) => {
            if (code === undefined) retire(child);
            // No replacement: the old worker goes on serving.
            else leaving.delete(child);
          });
          break;
      }
    });
    // A worker that never comes up (a module that hangs as it loads) is
    // killed too; loading may take a while (Deno compiles TypeScript).
    let bootTimer: ReturnType<typeof setTimeout> | undefined;
    const early = await Promise.race([
      child.ready.then(() => undefined),
      child.exited,
      new Promise<number>((resolve) => {
        bootTimer = setTimeout(() => {
          log("CRITICAL", `WORKER TIMEOUT (pid:${child.pid}) while booting`);
          child.kill("SIGKILL");
          resolve(1);
        }, Math.max(options.timeout, BOOT_S) * 1000);
      }),
    ]);
    clearTimeout(bootTimer);
    if (early !== undefined) {
      children.delete(child);
      return early || 1;
    }
    lastBeat = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastBeat <= options.timeout * 1000 || timedOut) return;
      timedOut = true;
      metrics.workerTimeouts++;
      log("CRITICAL", `WORKER TIMEOUT (pid:${child.pid})`);
      child.kill("SIGKILL");
    }, Math.max(50, Math.min(1000, options.timeout * 250)));
    child.exited.then(async (code) => {
      clearInterval(watchdog);
      children.delete(child);
      metrics.exited(child.pid);
      const left = leaving.delete(child);
      if (stopping) {
        if (code !== 0 && !timedOut && !killed.has(child)) failed = code;
        return;
      }
      if (left) {
        metrics.restarts++;
        // Recycled or removed: its replacement, if any, is already up.
        return;
      }
      if (!timedOut) {
        log("WARNING", `Worker (pid: ${child.pid}) exited with code ${code}`);
      }
      // A worker died on its own: boot another, as gunicorn does.
      metrics.restarts++;
      const again = await start();
      if (again !== undefined && !stopping) {
        log("ERROR", "A new worker failed to boot; shutting down");
        failed = again;
        stopAll("SIGTERM");
      }
    });
    return undefined;
  };
  const stopListening = onSignals(host, (signal) => {
    switch (signal) {
      case "SIGTERM":
        if (stopping) {
          log("WARNING", "Second signal: killing the workers");
          for (const child of children) child.kill("SIGKILL");
          return host.exit(1);
        }
        log("INFO", "Handling signal: term");
        return stopAll("SIGTERM");
      case "SIGINT":
      case "SIGQUIT":
        log("INFO", `Handling signal: ${signal.slice(3).toLowerCase()}`);
        return stopAll("SIGQUIT");
      case "SIGHUP": {
        if (stopping) return;
        log("INFO", "Handling signal: hup");
        // gunicorn's reload: new workers (which read the certificate and
        // the app again), then the old ones stop gracefully.
        const old = [...children].filter((child) => !leaving.has(child));
        for (const child of old) leaving.add(child);
        (async () => {
          for (const child of old) {
            const code = await start();
            if (code !== undefined) {
              log("ERROR", "A new worker failed to boot; keeping the old one");
              leaving.delete(child);
              continue;
            }
            retire(child);
          }
        })();
        return;
      }
      case "SIGTTIN":
        if (stopping) return;
        target++;
        log("INFO", `Handling signal: ttin (now ${target} workers)`);
        start();
        return;
      case "SIGTTOU": {
        if (stopping || target <= 1) return;
        target--;
        log("INFO", `Handling signal: ttou (now ${target} workers)`);
        const oldest = [...children].find((child) => !leaving.has(child));
        if (oldest !== undefined) retire(oldest);
        return;
      }
    }
  });
  let metricsServer: Server | undefined;
  // One at a time: a module that fails to load says so once.
  for (let i = 0; i < options.workers && !stopping; i++) {
    const code = await start();
    // node:cluster's primary made the Unix sockets for the first worker.
    if (i === 0 && code === undefined) applyUmask(host, options);
    if (i === 0 && code === undefined) announce();
    // Stopped while booting: the loop below waits for the rest.
    if (code !== undefined && stopping) break;
    if (code !== undefined) {
      stopAll("SIGTERM");
      await Promise.all([...children].map((child) => child.exited));
      stopListening();
      return code;
    }
  }
  if (options.metricsBind !== undefined && !stopping) {
    const bind = options.metricsBind;
    try {
      metricsServer = await serve(
        metricsApp(metrics, () => children.size),
        {
          ...(bind.kind === "unix"
            ? { path: bind.path }
            : { hostname: bind.host, port: bind.port }),
          accessLog: false,
          onListen() {},
        },
      );
      log(
        "INFO",
        `Metrics at: ${addressOf(metricsServer, "http")}/metrics`,
      );
    } catch (error) {
      log(
        "ERROR",
        `Cannot serve metrics on ${bindText(bind)}: ${explain(error)}`,
      );
    }
  }
  while (children.size > 0) {
    await Promise.all([...children].map((child) => child.exited));
    // Children replaced while waiting are waited for on the next turn.
    await Promise.resolve();
  }
  stopListening();
  // node:cluster's primary held the Unix sockets; nothing removes them.
  for (const bind of binds) {
    if (bind.kind === "unix") host.removeFile(bind.path);
  }
  if (metricsServer !== undefined) {
    metricsServer.abort();
    await metricsServer.shutdown();
  }
  log("INFO", "Shutting down: Master");
  return failed;
}

/**
 * Runs the `tsgi` command with `args` and resolves with its exit status;
 * the process should exit with it. Usage errors give 2, failures to start
 * (module not found, export missing, port in use, a missing Deno
 * permission) give 1 and one line on stderr, a shutdown gives 0.
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
  try {
    return await run(host, args ?? host.args);
  } catch (error) {
    host.writeErr(`tsgi: error: ${explain(error)}\n`);
    return 1;
  }
}

/** The options as --check-config prints them. */
function printable(options: CliOptions): Record<string, unknown> {
  const { binds, metricsBind, ...rest } = options;
  return {
    ...rest,
    binds: binds.map(bindText),
    metricsBind: metricsBind === undefined ? undefined : bindText(metricsBind),
  };
}

async function run(host: CliHost, args: readonly string[]): Promise<number> {
  // A worker (or a watched copy) takes the effective options of the
  // process that started it as they are.
  const inherited = host.env("TSGI_OPTIONS");
  const parsed = inherited !== undefined
    ? {
      kind: "run" as const,
      options: JSON.parse(inherited) as CliOptions,
    }
    : await parseOptions({
      args,
      env: (name) => host.env(name),
      loadConfig: (path) => loadConfig(host, path),
    });
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
  if (options.checkConfig) {
    host.writeOut(JSON.stringify(printable(options), null, 2) + "\n");
    return 0;
  }
  const { module } = splitTarget(options.target);
  const modulePath = isUrl(module)
    ? undefined
    : module.startsWith("/")
    ? module
    : `${host.cwd()}/${module}`;
  if (options.reload) {
    const child = host.watch(
      ["--", options.target],
      { TSGI_OPTIONS: JSON.stringify({ ...options, reload: false }) },
      modulePath,
    );
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
  const supervised = options.workers > 1 || options.maxRequests > 0 ||
    options.metricsBind !== undefined || options.certfile !== undefined;
  // Deno and Bun share a port between workers, never a Unix socket: one
  // process serves it (and reloads no certificate on SIGHUP).
  const unixAlone = host.reusePort &&
    options.binds.some((bind) => bind.kind === "unix") &&
    options.workers === 1 && options.maxRequests === 0;
  if (!worker && supervised && !unixAlone) {
    return await supervise(host, options, modulePath);
  }
  return await serveHere(host, options, worker);
}

/** A config file: JSON, or a module whose default export (or exports) are the options. */
async function loadConfig(host: CliHost, path: string): Promise<unknown> {
  const full = path.startsWith("/") ? path : `${host.cwd()}/${path}`;
  if (path.endsWith(".json")) return JSON.parse(host.readText(full));
  const namespace = await importUrl(fileUrl(full));
  return namespace.default ?? { ...namespace };
}

if ((import.meta as { main?: boolean }).main) {
  const status = await main();
  (await hostFor()).exit(status);
}
