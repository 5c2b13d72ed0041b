// The tsgi command's options: gunicorn's names, read from a config file,
// then TSGI_CMD_ARGS, then the command line, each overriding the one
// before, as gunicorn does.

/** Where to listen: a TCP address or a Unix socket. */
export type Bind =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

export const FORMATS = ["wsgiref", "common", "combined", "json"] as const;
export type LogFormat = typeof FORMATS[number];
export const LEVELS = [
  "debug",
  "info",
  "warning",
  "error",
  "critical",
] as const;
export type LogLevel = typeof LEVELS[number];

/** What the command asks for, every default filled in. */
export interface CliOptions {
  target: string;
  binds: Bind[];
  workers: number;
  accessLog: boolean;
  accessLogFormat: LogFormat;
  accessLogfile: string;
  errorLogfile: string;
  logLevel: LogLevel;
  maxBodySize: number | undefined;
  reload: boolean;
  certfile: string | undefined;
  keyfile: string | undefined;
  http2: boolean;
  timeout: number;
  gracefulTimeout: number;
  keepAlive: number | undefined;
  requestTimeout: number | undefined;
  maxRequests: number;
  maxRequestsJitter: number;
  metricsBind: Bind | undefined;
  limitRequestLine: number;
  limitRequestFields: number;
  limitRequestFieldSize: number;
  config: string | undefined;
  checkConfig: boolean;
  /** Unix sockets get mode 0o777 & ~umask; undefined leaves them be. */
  umask: number | undefined;
}

/** The settings one source (file, environment, command line) gave. */
type Settings = Partial<Omit<CliOptions, "binds">> & {
  binds?: string[];
  host?: string;
  port?: number;
  targets?: string[];
};

export type Parsed =
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

function integer(min: number, max: number) {
  return (text: string): number | undefined => {
    if (!/^\d+$/.test(text)) return undefined;
    const value = Number(text);
    return value >= min && value <= max ? value : undefined;
  };
}

function seconds(text: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return value < 2 ** 31 / 1000 ? value : undefined;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (text: string): T | undefined =>
    values.includes(text.toLowerCase() as T)
      ? text.toLowerCase() as T
      : undefined;
}

/** `0o007`, `0007`, `007` or gunicorn's decimal `0`. */
function octal(text: string): number | undefined {
  const digits = text.replace(/^0o/i, "");
  if (!/^[0-7]{1,4}$/.test(digits)) return undefined;
  return parseInt(digits, 8);
}

const text = (value: string): string | undefined =>
  value === "" ? undefined : value;

/**
 * `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT`, `:PORT` or `unix:PATH`;
 * `defaultPort` when none is given.
 */
export function parseBind(
  value: string,
  defaultPort: number,
): Bind | undefined {
  if (value.startsWith("unix:")) {
    const path = value.slice(5);
    return path === "" ? undefined : { kind: "unix", path };
  }
  let host: string;
  let port: string | undefined;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close === -1) return undefined;
    host = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    port = rest === "" ? undefined : rest.slice(1);
  } else if ((value.match(/:/g) ?? []).length > 1) {
    // A bare IPv6 address, as gunicorn takes it.
    host = value;
  } else {
    const colon = value.indexOf(":");
    host = colon === -1 ? value : value.slice(0, colon);
    port = colon === -1 ? undefined : value.slice(colon + 1);
  }
  if (host === "") host = "0.0.0.0";
  if (!/^[\w.:%-]+$/.test(host)) return undefined;
  const number = port === undefined ? defaultPort : integer(0, 65535)(port);
  return number === undefined ? undefined : { kind: "tcp", host, port: number };
}

/** `host:port`, `[v6]:port` or `unix:path`, as the log says it. */
export function bindText(bind: Bind): string {
  return bind.kind === "unix"
    ? `unix:${bind.path}`
    : `${bind.host.includes(":") ? `[${bind.host}]` : bind.host}:${bind.port}`;
}

interface Spec {
  /** The key in Settings. */
  key: keyof Settings;
  /** What the value must be, for the error message; none for a switch. */
  needs?: string;
  parse?: (text: string) => unknown;
  /** The value of a switch. */
  set?: unknown;
  /** Repeatable: each use adds to a list. */
  list?: boolean;
}

const BIND =
  "an address such as 127.0.0.1:8000, [::1]:8000 or unix:/tmp/app.sock";

/** Every option, by each of its spellings. */
const SPECS: Record<string, Spec> = {
  "-b": { key: "binds", needs: BIND, parse: text, list: true },
  "--bind": { key: "binds", needs: BIND, parse: text, list: true },
  "--host": {
    key: "host",
    needs: "an address, such as 127.0.0.1",
    parse: text,
  },
  "-p": {
    key: "port",
    needs: "a port from 0 to 65535",
    parse: integer(0, 65535),
  },
  "--port": {
    key: "port",
    needs: "a port from 0 to 65535",
    parse: integer(0, 65535),
  },
  "-w": {
    key: "workers",
    needs: "a number of processes from 1 to 1024",
    parse: integer(1, 1024),
  },
  "--workers": {
    key: "workers",
    needs: "a number of processes from 1 to 1024",
    parse: integer(1, 1024),
  },
  "-c": { key: "config", needs: "a file name", parse: text },
  "--config": { key: "config", needs: "a file name", parse: text },
  "--check-config": { key: "checkConfig", set: true },
  "-m": { key: "umask", needs: "an octal mode such as 0o007", parse: octal },
  "--umask": {
    key: "umask",
    needs: "an octal mode such as 0o007",
    parse: octal,
  },
  "--access-log": { key: "accessLog", set: true },
  "--no-access-log": { key: "accessLog", set: false },
  "--access-log-format": {
    key: "accessLogFormat",
    needs: `one of ${FORMATS.join(", ")}`,
    parse: oneOf(FORMATS),
  },
  "--access-logfile": {
    key: "accessLogfile",
    needs: "a file name, or - for stdout",
    parse: text,
  },
  "--error-logfile": {
    key: "errorLogfile",
    needs: "a file name, or - for stderr",
    parse: text,
  },
  "--log-file": {
    key: "errorLogfile",
    needs: "a file name, or - for stderr",
    parse: text,
  },
  "--log-level": {
    key: "logLevel",
    needs: `one of ${LEVELS.join(", ")}`,
    parse: oneOf(LEVELS),
  },
  "--max-body-size": {
    key: "maxBodySize",
    needs: "a number of bytes such as 1048576 or 10M",
    parse: parseSize,
  },
  "--reload": { key: "reload", set: true },
  "--certfile": { key: "certfile", needs: "a PEM file name", parse: text },
  "--keyfile": { key: "keyfile", needs: "a PEM file name", parse: text },
  "--http2": { key: "http2", set: true },
  "-t": { key: "timeout", needs: "a number of seconds", parse: seconds },
  "--timeout": { key: "timeout", needs: "a number of seconds", parse: seconds },
  "--graceful-timeout": {
    key: "gracefulTimeout",
    needs: "a number of seconds",
    parse: seconds,
  },
  "--keep-alive": {
    key: "keepAlive",
    needs: "a number of seconds",
    parse: seconds,
  },
  "--request-timeout": {
    key: "requestTimeout",
    needs: "a number of seconds",
    parse: seconds,
  },
  "--max-requests": {
    key: "maxRequests",
    needs: "a number of requests",
    parse: integer(0, 2 ** 31),
  },
  "--max-requests-jitter": {
    key: "maxRequestsJitter",
    needs: "a number of requests",
    parse: integer(0, 2 ** 31),
  },
  "--metrics-bind": { key: "metricsBind", needs: BIND, parse: text },
  "--limit-request-line": {
    key: "limitRequestLine",
    needs: "a number of bytes (0 for no limit)",
    parse: integer(0, 2 ** 31),
  },
  "--limit-request-fields": {
    key: "limitRequestFields",
    needs: "a number of header fields (0 for no limit)",
    parse: integer(0, 2 ** 31),
  },
  "--limit-request-field_size": {
    key: "limitRequestFieldSize",
    needs: "a number of bytes (0 for no limit)",
    parse: integer(0, 2 ** 31),
  },
  "--limit-request-field-size": {
    key: "limitRequestFieldSize",
    needs: "a number of bytes (0 for no limit)",
    parse: integer(0, 2 ** 31),
  },
};

/** A config file's key (`graceful_timeout`, `gracefulTimeout`) as a flag. */
function flagOfKey(key: string): string | undefined {
  const wanted = key.toLowerCase().replace(/[-_]/g, "");
  const aliases: Record<string, string> = {
    accesslog: "--access-logfile",
    errorlog: "--error-logfile",
    loglevel: "--log-level",
    keepalive: "--keep-alive",
    limitrequestfieldsize: "--limit-request-field_size",
  };
  if (aliases[wanted] !== undefined) return aliases[wanted];
  return Object.keys(SPECS).find((flag) =>
    flag.startsWith("--") && flag.slice(2).replace(/[-_]/g, "") === wanted
  );
}

class UsageError extends Error {}

/** Applies one option to `settings`; throws a UsageError. */
function applyOne(
  settings: Settings,
  flag: string,
  spec: Spec,
  value: string | undefined,
): void {
  let parsed: unknown = spec.set;
  if (spec.parse !== undefined) {
    parsed = value === undefined ? undefined : spec.parse(value);
    if (parsed === undefined) {
      throw new UsageError(
        `${flag} needs ${spec.needs}, got ${
          value === undefined ? "nothing" : JSON.stringify(value)
        }`,
      );
    }
  }
  const record = settings as Record<string, unknown>;
  if (spec.list) {
    record[spec.key] = [...(record[spec.key] as unknown[] ?? []), parsed];
  } else record[spec.key] = parsed;
}

/** Reads a command line into settings; help and version win at once. */
function fromArgs(
  args: readonly string[],
): Settings | { kind: "help" } | { kind: "version" } {
  const settings: Settings = {};
  const targets: string[] = [];
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
    const inline = arg.startsWith("--") && eq !== -1;
    const flag = inline ? arg.slice(0, eq) : arg;
    if (flag === "-h" || flag === "--help") return { kind: "help" };
    if (flag === "-v" || flag === "--version") return { kind: "version" };
    const spec = SPECS[flag];
    if (spec === undefined) throw new UsageError(`unknown option ${flag}`);
    const value = spec.parse === undefined
      ? undefined
      : inline
      ? arg.slice(eq + 1)
      : args[++i];
    applyOne(settings, flag, spec, value);
  }
  if (targets.length > 0) settings.targets = targets;
  return settings;
}

/** A config file's contents (an object of options) as settings. */
function fromObject(object: unknown, file: string): Settings {
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    throw new UsageError(
      `Cannot use config file ${file}: expected an object of options`,
    );
  }
  const settings: Settings = {};
  for (const [key, raw] of Object.entries(object)) {
    if (key === "app" || key === "wsgi_app" || key === "target") {
      settings.targets = [String(raw)];
      continue;
    }
    const flag = flagOfKey(key);
    if (flag === undefined) {
      throw new UsageError(`unknown setting "${key}" in ${file}`);
    }
    const spec = SPECS[flag];
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      if (spec.parse === undefined) {
        if (typeof value !== "boolean") {
          throw new UsageError(
            `setting "${key}" in ${file} needs true or false, got ${
              JSON.stringify(value)
            }`,
          );
        }
        // A switch set to false is its opposite (access_log: false).
        (settings as Record<string, unknown>)[spec.key] = value
          ? spec.set
          : !spec.set;
      } else applyOne(settings, `"${key}" in ${file}`, spec, String(value));
    }
  }
  return settings;
}

/** Splits TSGI_CMD_ARGS as a shell would: spaces, '…' and "…". */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let current = "";
  let last = -1;
  for (const match of line.matchAll(pattern)) {
    const piece = match[1]?.replace(/\\(.)/g, "$1") ?? match[2] ?? match[3];
    if (match.index === last) current += piece;
    else {
      if (last !== -1) out.push(current);
      current = piece;
    }
    last = match.index + match[0].length;
  }
  if (last !== -1) out.push(current);
  return out;
}

/** What parseOptions needs from its host. */
export interface OptionSources {
  args: readonly string[];
  env(name: string): string | undefined;
  /** Loads a config file: JSON, or a module whose exports are options. */
  loadConfig(path: string): Promise<unknown>;
}

/**
 * The effective options: config file, then TSGI_CMD_ARGS, then the
 * command line; never throws.
 */
export async function parseOptions(sources: OptionSources): Promise<Parsed> {
  try {
    const cli = fromArgs(sources.args);
    if ("kind" in cli) return cli;
    const envLine = sources.env("TSGI_CMD_ARGS");
    const fromEnv = envLine === undefined ? {} : fromArgs(splitArgs(envLine));
    if ("kind" in fromEnv) return fromEnv;
    const config = cli.config ?? fromEnv.config;
    let fromFile: Settings = {};
    if (config !== undefined) {
      let loaded: unknown;
      try {
        loaded = await sources.loadConfig(config);
      } catch (error) {
        return {
          kind: "error",
          message: `Cannot read config file ${config}: ${
            error instanceof Error ? error.message.split("\n")[0] : error
          }`,
        };
      }
      fromFile = fromObject(loaded, config);
    }
    // Lists are not merged: the source that names binds decides them all.
    const merged: Settings = { ...fromFile, ...fromEnv, ...cli };
    return resolve(merged, sources);
  } catch (error) {
    if (error instanceof UsageError) {
      return { kind: "error", message: error.message };
    }
    throw error;
  }
}

function resolve(settings: Settings, sources: OptionSources): Parsed {
  const targets = settings.targets ?? [];
  if (targets.length !== 1) {
    throw new UsageError(
      targets.length === 0
        ? "missing MODULE[:NAME], the app to serve"
        : `expected one MODULE[:NAME], got ${targets.length}: ${
          targets.join(" ")
        }`,
    );
  }
  // gunicorn: without a bind, $PORT means every interface on that port.
  const envPort = sources.env("PORT");
  const envHost = sources.env("HOST");
  let defaultPort = settings.port ?? 8000;
  if (settings.port === undefined && envPort !== undefined) {
    const port = integer(0, 65535)(envPort);
    if (port === undefined) {
      throw new UsageError(
        `$PORT needs a port from 0 to 65535, got ${JSON.stringify(envPort)}`,
      );
    }
    defaultPort = port;
  }
  const binds: Bind[] = [];
  for (const text of settings.binds ?? []) {
    const bind = parseBind(text, defaultPort);
    if (bind === undefined) {
      throw new UsageError(`--bind needs ${BIND}, got ${JSON.stringify(text)}`);
    }
    binds.push(bind);
  }
  if (binds.length === 0) {
    let host = settings.host ?? envHost ??
      (envPort !== undefined && settings.port === undefined
        ? "0.0.0.0"
        : "127.0.0.1");
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    binds.push({ kind: "tcp", host, port: defaultPort });
  }
  let metricsBind: Bind | undefined;
  if (settings.metricsBind !== undefined) {
    metricsBind = parseBind(settings.metricsBind as unknown as string, 9100);
    if (metricsBind === undefined) {
      throw new UsageError(
        `--metrics-bind needs ${BIND}, got ${
          JSON.stringify(settings.metricsBind)
        }`,
      );
    }
  }
  if ((settings.certfile === undefined) !== (settings.keyfile === undefined)) {
    throw new UsageError(
      "--certfile and --keyfile go together: give both, or neither",
    );
  }
  const options: CliOptions = {
    target: targets[0],
    binds,
    workers: settings.workers ?? 1,
    accessLog: settings.accessLog ?? true,
    accessLogFormat: settings.accessLogFormat ?? "wsgiref",
    accessLogfile: settings.accessLogfile ?? "-",
    errorLogfile: settings.errorLogfile ?? "-",
    logLevel: settings.logLevel ?? "info",
    maxBodySize: settings.maxBodySize,
    reload: settings.reload ?? false,
    certfile: settings.certfile,
    keyfile: settings.keyfile,
    http2: settings.http2 ?? false,
    timeout: settings.timeout ?? 30,
    gracefulTimeout: settings.gracefulTimeout ?? 30,
    keepAlive: settings.keepAlive,
    requestTimeout: settings.requestTimeout,
    maxRequests: settings.maxRequests ?? 0,
    maxRequestsJitter: settings.maxRequestsJitter ?? 0,
    metricsBind,
    limitRequestLine: settings.limitRequestLine ?? 0,
    limitRequestFields: settings.limitRequestFields ?? 0,
    limitRequestFieldSize: settings.limitRequestFieldSize ?? 0,
    config: settings.config,
    checkConfig: settings.checkConfig ?? false,
    umask: settings.umask,
  };
  if (options.reload && options.workers > 1) {
    throw new UsageError("--reload runs one process; leave out --workers");
  }
  return { kind: "run", options };
}
