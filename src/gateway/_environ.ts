// The environ of a Fetch request: a Proxy over a plain object. The cheap
// keys are set at once; the costly ones (request headers, the body, the
// peer address) are read from the Request the first time anything asks
// for them, and all of them at once when the keys are enumerated. To the
// app it behaves as the plain dict PEP 3333 asks for.

import { ReadableInputStream } from "./input_stream.ts";
import { LogErrorStream } from "./error_stream.ts";
import {
  decodePath,
  parseHost,
  readContentLength,
  readTarget,
} from "./_request_rules.ts";
import {
  isBunServer,
  isConnectionInfo,
  isWorkersCall,
  localOf,
  rawTargetOf,
  remoteOf,
  textLimitOf,
} from "./_runtime_args.ts";
import { wrapFile } from "./file_wrapper.ts";
import type { ExchangeContext } from "./_exchange.ts";
import type {
  Environ,
  ErrorStream,
  GatewayOptions,
  RemoteAddress,
} from "../types.ts";

/** The package version, reported in SERVER_SOFTWARE. */
export const VERSION = "0.1.0";

/** GatewayOptions with defaults applied, made once per handler. */
export interface GatewayConfig {
  scriptName: string;
  maxBodySize: number;
  debug: boolean;
  errors: ((text: string) => void) | undefined;
  multithread: boolean;
  multiprocess: boolean;
  runOnce: boolean;
  serverProtocol: string;
  remoteAddress: GatewayOptions["remoteAddress"];
  extraEnviron: Record<string, unknown> | undefined;
  urlScheme: "http" | "https" | undefined;
  allowConnect: boolean;
}

/** Applies defaults and checks the options. */
export function configure(options: GatewayOptions = {}): GatewayConfig {
  let scriptName = options.scriptName ?? "";
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (scriptName !== "" && !scriptName.startsWith("/")) {
    throw new TypeError(
      `Cannot mount at scriptName ${
        JSON.stringify(options.scriptName)
      }: it must start with "/"`,
    );
  }
  const maxBodySize = options.maxBodySize ?? Infinity;
  if (!(maxBodySize >= 0)) {
    throw new RangeError(
      `Cannot use maxBodySize ${maxBodySize}: expected a number of bytes >= 0`,
    );
  }
  const urlScheme = options.urlScheme;
  if (
    urlScheme !== undefined && urlScheme !== "http" && urlScheme !== "https"
  ) {
    throw new TypeError(
      `Cannot use urlScheme ${
        JSON.stringify(urlScheme)
      }: expected "http" or "https"`,
    );
  }
  return {
    scriptName,
    maxBodySize,
    urlScheme,
    allowConnect: options.allowConnect ?? false,
    debug: options.debug ?? false,
    errors: options.errors,
    multithread: options.multithread ?? true,
    multiprocess: options.multiprocess ?? false,
    runOnce: false,
    serverProtocol: options.serverProtocol ?? "HTTP/1.1",
    remoteAddress: options.remoteAddress,
    extraEnviron: options.extraEnviron,
  };
}

const WSGI_VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);
const SOFTWARE = `tsgi/${VERSION}`;

// Keys computed on demand, besides HTTP_*.
const LAZY_KEYS = [
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "REMOTE_ADDR",
  "REMOTE_PORT",
  "wsgi.input",
  "wsgi.errors",
  "tsgi.info",
  "tsgi.server",
  "tsgi.env",
  "tsgi.ctx",
] as const;

/** An environ under construction. */
export type Target = Record<string | symbol, unknown>;

/** `HTTP_X_FOO` → `x-foo`; undefined for keys no header name maps to. */
function headerNameOf(key: string): string | undefined {
  const suffix = key.slice(5);
  // Header names containing "_" are dropped, so "-" ↔ "_" is one-to-one,
  // but only for keys spelled the way the gateway spells them.
  if (
    suffix === "" || suffix.includes("-") || suffix.toUpperCase() !== suffix
  ) {
    return undefined;
  }
  const name = suffix.toLowerCase().replaceAll("_", "-");
  return name === "content-type" || name === "content-length"
    ? undefined
    : name;
}

// Header name → environ key; header names repeat across requests.
const httpKeys = new Map<string, string | null>();

/** `x-foo` → `HTTP_X_FOO`; undefined for names the environ leaves out. */
function httpKeyOf(name: string): string | undefined {
  let key = httpKeys.get(name);
  if (key === undefined) {
    // Underscored names could impersonate dashed ones (X_Auth → X-Auth).
    key = name.includes("_") || name === "content-type" ||
        name === "content-length"
      ? null
      : "HTTP_" + name.toUpperCase().replaceAll("-", "_");
    if (httpKeys.size < 1024) httpKeys.set(name, key);
  }
  return key ?? undefined;
}

// Shadows the traps once the environ is materialized (see #materialize).
const TRANSPARENT = Object.freeze({
  get: undefined,
  set: undefined,
  has: undefined,
  deleteProperty: undefined,
  ownKeys: undefined,
  getOwnPropertyDescriptor: undefined,
});

/** What one request is, as the gateway took it in: the Exchange's context. */
export class RequestState implements ExchangeContext {
  readonly request: Request;
  readonly args: readonly unknown[];
  readonly config: GatewayConfig;
  /** The checked method (see checkMethod), read once: on Deno a call out. */
  readonly method: string;
  readonly textLimit: number;
  /** Set by createEnviron. */
  environ!: Environ;
  #errors: ErrorStream | undefined;

  constructor(
    request: Request,
    args: readonly unknown[],
    config: GatewayConfig,
    method: string,
  ) {
    this.request = request;
    this.args = args;
    this.config = config;
    this.method = method;
    this.textLimit = textLimitOf(args);
  }

  /** The request's error stream (the one the app sees as wsgi.errors). */
  get errors(): ErrorStream {
    return this.#errors ??= new LogErrorStream(this.config.errors);
  }

  get debug(): boolean {
    return this.config.debug;
  }

  /** Passes on a partial line the app left in wsgi.errors. */
  finish(): void {
    this.#errors?.flush();
  }

  /** The peer's address: the deployer's function, else the runtime's. */
  remote(): RemoteAddress | undefined {
    const custom = this.config.remoteAddress;
    return custom === undefined
      ? remoteOf(this.request, this.args)
      : custom(this.request, this.args);
  }
}

/**
 * The Proxy handler behind the environ: reads a costly key from the
 * request the first time anything asks for it, and every key once the
 * environ is enumerated.
 */
class LazyKeys implements ProxyHandler<Target> {
  readonly #state: RequestState;
  #materialized = false;
  #deleted: Set<string> | undefined;

  constructor(state: RequestState) {
    this.#state = state;
  }

  /** Computes a lazy key; stores and returns its value, or undefined. */
  #resolve(target: Target, key: string): unknown {
    if (this.#deleted?.has(key)) return undefined;
    const state = this.#state;
    const { request, args } = state;
    let value: unknown;
    switch (key) {
      case "CONTENT_TYPE":
        value = request.headers.get("content-type") ?? undefined;
        break;
      case "CONTENT_LENGTH": {
        // Runtimes join a repeated header: "5, 5" is one length.
        const length = readContentLength(
          request.headers.get("content-length"),
        );
        value = length >= 0 ? String(length) : undefined;
        break;
      }
      case "REMOTE_ADDR":
        value = state.remote()?.address;
        break;
      case "REMOTE_PORT": {
        const port = state.remote()?.port;
        value = port === undefined ? undefined : String(port);
        break;
      }
      case "wsgi.input":
        value = new ReadableInputStream(
          request.body,
          state.config.maxBodySize,
        );
        break;
      case "wsgi.errors":
        value = state.errors;
        break;
      case "tsgi.info":
        value = isConnectionInfo(args[0]) ? args[0] : undefined;
        break;
      case "tsgi.server":
        value = isBunServer(args[0]) ? args[0] : undefined;
        break;
      case "tsgi.env":
        value = isWorkersCall(args) ? args[0] : undefined;
        break;
      case "tsgi.ctx":
        value = isWorkersCall(args) ? args[1] : undefined;
        break;
      default: {
        if (!key.startsWith("HTTP_")) return undefined;
        const name = headerNameOf(key);
        value = name === undefined
          ? undefined
          : request.headers.get(name) ?? undefined;
      }
    }
    if (value !== undefined) target[key] = value;
    return value;
  }

  /** Brings every lazy key into the target, for enumeration. */
  /** Brings every lazy key into the target (see inspectEnviron). */
  loadAll(target: Target): void {
    this.#materialize(target);
  }

  #materialize(target: Target): void {
    if (this.#materialized) return;
    for (const key of LAZY_KEYS) {
      if (!Object.hasOwn(target, key)) this.#resolve(target, key);
    }
    let cookie = false;
    // forEach, not for…of: Deno's Headers iterator sorts and combines the
    // whole list again at every step, forEach does it once.
    this.#state.request.headers.forEach((value, name) => {
      const key = httpKeyOf(name);
      if (key === undefined) return;
      // Headers iterate one entry per name, except Set-Cookie once per
      // field: join those as HTTP does.
      if (name === "set-cookie") {
        if (cookie) {
          if (target[key] !== undefined) target[key] += ", " + value;
          return;
        }
        cookie = true;
      }
      if (!Object.hasOwn(target, key) && !this.#deleted?.has(key)) {
        target[key] = value;
      }
    });
    this.#materialized = true;
    this.#deleted = undefined;
    // Every key is now on the target, where the traps would only forward:
    // without them, V8 goes to the target without calling back into JS.
    Object.assign(this, TRANSPARENT);
  }

  get(target: Target, key: string | symbol): unknown {
    const value = target[key];
    if (
      value !== undefined || this.#materialized || typeof key !== "string" ||
      Object.hasOwn(target, key)
    ) return value;
    return this.#resolve(target, key);
  }

  set(target: Target, key: string | symbol, value: unknown): boolean {
    target[key] = value;
    return true;
  }

  has(target: Target, key: string | symbol): boolean {
    if (key in target) return true;
    if (this.#materialized || typeof key !== "string") return false;
    return this.#resolve(target, key) !== undefined;
  }

  deleteProperty(target: Target, key: string | symbol): boolean {
    if (!this.#materialized && typeof key === "string") {
      (this.#deleted ??= new Set()).add(key);
    }
    return delete target[key];
  }

  ownKeys(target: Target): (string | symbol)[] {
    this.#materialize(target);
    return Reflect.ownKeys(target);
  }

  getOwnPropertyDescriptor(
    target: Target,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    if (
      !this.#materialized && typeof key === "string" &&
      !Object.hasOwn(target, key)
    ) this.#resolve(target, key);
    return Reflect.getOwnPropertyDescriptor(target, key);
  }
}

// console.log(environ) on Deno and Bun shows the Proxy's target as it is,
// without its traps, so keys not read yet would be missing; Node goes
// through the traps. Both look for these methods first.
const HANDLER = Symbol("tsgi.environKeys");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");
const DENO_INSPECT = Symbol.for("Deno.customInspect");

/**
 * Shows every key of the environ, lazy ones included, as a plain object.
 * Called with the target (Deno, Bun) or the Proxy (Node) as `this`, with
 * the runtime's own inspect function among its arguments.
 */
function inspectEnviron(this: Target, ...args: unknown[]): unknown {
  (this[HANDLER] as LazyKeys | undefined)?.loadAll(this);
  const shown: Record<string, unknown> = {};
  for (const key of Object.keys(this)) {
    // A value made on first read (tsgi.request on Node) is not made here.
    const own = Object.getOwnPropertyDescriptor(this, key);
    shown[key] = own === undefined || "value" in own ? this[key] : "[Getter]";
  }
  // Deno: (inspect, options); Node and Bun: (depth, options, inspect).
  const inspect = typeof args[0] === "function" ? args[0] : args[2];
  return typeof inspect === "function"
    ? inspect(shown, typeof args[0] === "function" ? args[1] : args[1])
    : shown;
}

// The last Host seen and what it gave: a server answers mostly one name.
let lastHost = "";
let lastPort = "";
let lastServer: readonly [name: string, port: string] | undefined;

/** SERVER_NAME and SERVER_PORT from a Host; undefined if it is not one. */
function serverOf(
  host: string,
  defaultPort: string,
): readonly [name: string, port: string] | undefined {
  if (host === lastHost && defaultPort === lastPort) return lastServer;
  const server = parseHost(host, defaultPort);
  if (server === undefined) return undefined;
  lastHost = host;
  lastPort = defaultPort;
  return lastServer = server;
}

/** What a request's target and Host give the environ, once checked. */
interface Checked {
  method: string;
  scriptName: string;
  pathInfo: string;
  query: string;
  requestUri: string;
  serverName: string;
  serverPort: string;
  https: boolean;
}

/**
 * Checks the request target and the Host (SPEC.md §3.8) and works out the
 * CGI values they give, or says which error answers the request instead:
 * 400 for a target or Host that is not one, 404 for a path outside the
 * mount prefix (the app is not there). Every gateway's environ starts here.
 *
 * @param rawTarget The request target as the client sent it.
 * @param hostHeader The Host header, repeated ones joined with ", ".
 * @param local `host:port` of the listener, if known.
 */
function check(
  config: GatewayConfig,
  method: string,
  rawTarget: string,
  hostHeader: string | null,
  local: string | undefined,
  https: boolean,
): Checked | 400 | 404 {
  const target = readTarget(rawTarget);
  if (target === undefined) return 400;
  // The Host header when there is one (two are joined, and ", " is no
  // host); else an absolute URL's authority, which a runtime builds from
  // the listener for HTTP/1.0 without Host.
  const authority = target.authority;
  const defaultPort = https ? "443" : "80";
  if (
    authority !== undefined && authority !== hostHeader &&
    parseHost(authority, defaultPort) === undefined
  ) return 400;
  const server = serverOf(
    hostHeader ?? authority ?? local ?? "localhost",
    defaultPort,
  );
  if (server === undefined) return 400;
  let pathInfo = decodePath(target.path);
  const scriptName = config.scriptName;
  if (scriptName !== "") {
    if (pathInfo !== scriptName && !pathInfo.startsWith(scriptName + "/")) {
      return 404;
    }
    pathInfo = pathInfo.slice(scriptName.length);
  }
  const query = target.query;
  return {
    method,
    scriptName,
    pathInfo,
    query,
    requestUri: query === "" ? target.path : target.path + "?" + query,
    serverName: server[0],
    serverPort: server[1],
    https,
  };
}

/**
 * The environ's standard keys for a request given as parts (tsgi's Node
 * server), or the error that answers it (see check).
 */
export function baseEnviron(
  config: GatewayConfig,
  method: string,
  rawTarget: string,
  hostHeader: string | null,
  local: string | undefined,
  https: boolean,
): Target | 400 | 404 {
  const c = check(config, method, rawTarget, hostHeader, local, https);
  return typeof c === "number"
    ? c
    : makeEnviron(config, c, undefined, undefined);
}

/**
 * The environ's standard keys in one literal, the Fetch gateway's among
 * them: an object that grows afterwards changes shape, which enumerating it
 * pays for.
 */
function makeEnviron(
  config: GatewayConfig,
  c: Checked,
  request: Request | undefined,
  state: RequestState | undefined,
): Target {
  const environ: Target = {
    REQUEST_METHOD: c.method,
    SCRIPT_NAME: c.scriptName,
    PATH_INFO: c.pathInfo,
    QUERY_STRING: c.query,
    SERVER_NAME: c.serverName,
    SERVER_PORT: c.serverPort,
    SERVER_PROTOCOL: config.serverProtocol,
    REQUEST_URI: c.requestUri,
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_SOFTWARE: SOFTWARE,
    "wsgi.version": WSGI_VERSION,
    "wsgi.url_scheme": c.https ? "https" : "http",
    "wsgi.multithread": config.multithread,
    "wsgi.multiprocess": config.multiprocess,
    "wsgi.run_once": config.runOnce,
    "wsgi.input_terminated": true,
    "wsgi.file_wrapper": wrapFile,
    "tsgi.request": request,
    "tsgi.runtime_args": state?.args,
    [HANDLER]: state === undefined ? undefined : new LazyKeys(state),
    [NODE_INSPECT]: inspectEnviron,
    [DENO_INSPECT]: inspectEnviron,
  };
  // Apache's SSL variable, which PEP 3333 asks servers to provide.
  if (c.https) environ.HTTPS = "on";
  return environ;
}

/**
 * Builds the environ of one Fetch request from the connection and the
 * request target, or says which error answers it instead (see
 * baseEnviron).
 *
 * The scheme is the listener's (`urlScheme`), never the URL's: on Deno an
 * absolute-form target or an HTTP/2 `:scheme` from the client would say
 * `https` over plain TCP. Only on Workers, where the platform itself builds
 * the URL, is its scheme taken.
 */
export function createEnviron(state: RequestState): Environ | 400 | 404 {
  const { request, config } = state;
  // A getter that builds a string on Deno: read it once.
  const url = request.url;
  const https = config.urlScheme === undefined
    ? isWorkersCall(state.args) && url.startsWith("https:")
    : config.urlScheme === "https";
  const c = check(
    config,
    state.method,
    rawTargetOf(state.args) ?? url,
    request.headers.get("host"),
    localOf(state.args),
    https,
  );
  if (typeof c === "number") return c;
  const environ = makeEnviron(config, c, request, state);
  if (config.extraEnviron !== undefined) {
    Object.assign(environ, config.extraEnviron);
  }
  return state.environ = new Proxy(
    environ,
    environ[HANDLER] as LazyKeys,
  ) as unknown as Environ;
}
