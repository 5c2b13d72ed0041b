// The environ of a Fetch request: a Proxy over a plain object. The cheap
// keys are set at once; the costly ones (request headers, the body, the
// peer address) are read from the Request the first time anything asks
// for them, and all of them at once when the keys are enumerated. To the
// app it behaves as the plain dict PEP 3333 asks for.

import { ReadableInputStream } from "./input_stream.ts";
import { LogErrorStream } from "./error_stream.ts";
import {
  decodePath,
  isAbsoluteUrl,
  isValidHost,
  splitHost,
  splitUrl,
} from "./_request_url.ts";
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
  return {
    scriptName,
    maxBodySize,
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

type Target = Record<string | symbol, unknown>;

interface DenoInfoLike {
  remoteAddr?: { hostname?: string; port?: number };
}
interface BunServerLike {
  requestIP(request: Request): { address: string; port: number } | null;
}
interface WorkersCtxLike {
  waitUntil(promise: Promise<unknown>): void;
}

function isDenoInfo(value: unknown): value is DenoInfoLike {
  return typeof value === "object" && value !== null && "remoteAddr" in value;
}
function isBunServer(value: unknown): value is BunServerLike {
  return typeof value === "object" && value !== null &&
    typeof (value as BunServerLike).requestIP === "function";
}
function isWorkersCtx(value: unknown): value is WorkersCtxLike {
  return typeof value === "object" && value !== null &&
    typeof (value as WorkersCtxLike).waitUntil === "function";
}

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

/**
 * Per-request state: the Proxy handler that consults it, and the context
 * an Exchange runs in.
 */
export class EnvironState implements ProxyHandler<Target>, ExchangeContext {
  readonly request: Request;
  readonly args: readonly unknown[];
  readonly config: GatewayConfig;
  /** Set by createEnviron. */
  environ!: Environ;
  #materialized = false;
  #deleted: Set<string> | undefined;
  #errors: ErrorStream | undefined;

  constructor(
    request: Request,
    args: readonly unknown[],
    config: GatewayConfig,
  ) {
    this.request = request;
    this.args = args;
    this.config = config;
  }

  /** The request's error stream (the one the app sees as wsgi.errors). */
  get errors(): ErrorStream {
    return this.#errors ??= new LogErrorStream(this.config.errors);
  }

  get debug(): boolean {
    return this.config.debug;
  }

  /** Set by createEnviron, which reads it once: on Deno it is a call out. */
  method = "";

  /** Passes on a partial line the app left in wsgi.errors. */
  finish(): void {
    this.#errors?.flush();
  }

  #remote(): RemoteAddress | undefined {
    const custom = this.config.remoteAddress;
    if (custom !== undefined) return custom(this.request, this.args);
    const first = this.args[0];
    if (isDenoInfo(first)) {
      const addr = first.remoteAddr;
      return addr?.hostname === undefined
        ? undefined
        : { address: addr.hostname, port: addr.port };
    }
    if (isBunServer(first)) {
      const ip = first.requestIP(this.request);
      return ip === null ? undefined : ip;
    }
    // Workers are called as fetch(request, env, ctx); only there does the
    // platform itself set CF-Connecting-IP, so only there is it trusted.
    if (isWorkersCtx(this.args[1])) {
      const ip = this.request.headers.get("cf-connecting-ip");
      return ip === null ? undefined : { address: ip };
    }
    return undefined;
  }

  /** Computes a lazy key; stores and returns its value, or undefined. */
  #resolve(target: Target, key: string): unknown {
    if (this.#deleted?.has(key)) return undefined;
    let value: unknown;
    switch (key) {
      case "CONTENT_TYPE":
        value = this.request.headers.get("content-type") ?? undefined;
        break;
      case "CONTENT_LENGTH":
        value = this.request.headers.get("content-length") ?? undefined;
        break;
      case "REMOTE_ADDR":
        value = this.#remote()?.address;
        break;
      case "REMOTE_PORT": {
        const port = this.#remote()?.port;
        value = port === undefined ? undefined : String(port);
        break;
      }
      case "wsgi.input":
        value = new ReadableInputStream(
          this.request.body,
          this.config.maxBodySize,
        );
        break;
      case "wsgi.errors":
        value = this.errors;
        break;
      case "tsgi.info":
        value = isDenoInfo(this.args[0]) ? this.args[0] : undefined;
        break;
      case "tsgi.server":
        value = isBunServer(this.args[0]) ? this.args[0] : undefined;
        break;
      case "tsgi.env":
        value = isWorkersCtx(this.args[1]) ? this.args[0] : undefined;
        break;
      case "tsgi.ctx":
        value = isWorkersCtx(this.args[1]) ? this.args[1] : undefined;
        break;
      default: {
        if (!key.startsWith("HTTP_")) return undefined;
        const name = headerNameOf(key);
        value = name === undefined
          ? undefined
          : this.request.headers.get(name) ?? undefined;
      }
    }
    if (value !== undefined) target[key] = value;
    return value;
  }

  /** Brings every lazy key into the target, for enumeration. */
  #materialize(target: Target): void {
    if (this.#materialized) return;
    for (const key of LAZY_KEYS) {
      if (!Object.hasOwn(target, key)) this.#resolve(target, key);
    }
    let cookie = false;
    // forEach, not for…of: Deno's Headers iterator sorts and combines the
    // whole list again at every step, forEach does it once.
    this.request.headers.forEach((value, name) => {
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

// The last Host seen and what it gave: a server answers mostly one name.
let lastHost = "";
let lastHttps = false;
let lastServer: readonly [name: string, port: string] | undefined;

/** SERVER_NAME and SERVER_PORT from a Host; undefined if it is not one. */
function serverOf(
  host: string,
  https: boolean,
): readonly [name: string, port: string] | undefined {
  if (host === lastHost && https === lastHttps && lastServer !== undefined) {
    return lastServer;
  }
  if (!isValidHost(host)) return undefined;
  lastHost = host;
  lastHttps = https;
  return lastServer = splitHost(host, https);
}

/**
 * Builds the environ of one request, or says which error answers it
 * instead: 400 for a target without a plausible host, 404 for a path
 * outside the configured mount prefix (the app is not there).
 */
export function createEnviron(state: EnvironState): Environ | 400 | 404 {
  const { request, config } = state;
  // A getter that builds a string on Deno: read it once.
  const href = request.url;
  if (!isAbsoluteUrl(href)) return 400;
  const url = splitUrl(href);
  const server = serverOf(url.host, url.https);
  if (server === undefined) return 400;
  const [serverName, serverPort] = server;
  let pathInfo = decodePath(url.path);
  const scriptName = config.scriptName;
  if (scriptName !== "") {
    if (pathInfo !== scriptName && !pathInfo.startsWith(scriptName + "/")) {
      return 404;
    }
    pathInfo = pathInfo.slice(scriptName.length);
  }
  const target: Target = {
    REQUEST_METHOD: state.method = request.method,
    SCRIPT_NAME: scriptName,
    PATH_INFO: pathInfo,
    QUERY_STRING: url.query,
    SERVER_NAME: serverName,
    SERVER_PORT: serverPort,
    SERVER_PROTOCOL: config.serverProtocol,
    REQUEST_URI: url.query === "" ? url.path : url.path + "?" + url.query,
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_SOFTWARE: SOFTWARE,
    "wsgi.version": WSGI_VERSION,
    "wsgi.url_scheme": url.https ? "https" : "http",
    "wsgi.multithread": config.multithread,
    "wsgi.multiprocess": config.multiprocess,
    "wsgi.run_once": config.runOnce,
    "wsgi.input_terminated": true,
    "wsgi.file_wrapper": wrapFile,
    "tsgi.request": request,
    "tsgi.runtime_args": state.args,
  };
  // Apache's SSL variable, which PEP 3333 asks servers to provide.
  if (url.https) target.HTTPS = "on";
  if (config.extraEnviron !== undefined) {
    Object.assign(target, config.extraEnviron);
  }
  return state.environ = new Proxy(target, state) as unknown as Environ;
}
