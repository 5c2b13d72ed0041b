// The gateway for a server that parses HTTP itself (tsgi's Node server):
// the request arrives as its parts (method, raw target, raw header list),
// the environ is a plain object built from them in one pass, and the
// Exchange answers through the server's own sink. No Fetch object is made
// unless the app asks for one (`tsgi.request`). The same request rules,
// environ base and Exchange as toFetchHandler's.

import {
  baseEnviron,
  configure,
  type GatewayConfig,
  type Target,
} from "./_environ.ts";
import { checkMethod, readContentLength } from "./_request_rules.ts";
import { Exchange, type ResponseSink } from "./_exchange.ts";
import { ReadableInputStream } from "./input_stream.ts";
import { LogErrorStream } from "./error_stream.ts";
import type {
  App,
  Environ,
  ErrorStream,
  GatewayOptions,
  RemoteAddress,
} from "../types.ts";

/** A request as a server's own parser took it apart. */
export interface RequestParts {
  /** The method as sent. */
  readonly method: string;
  /** The request target exactly as sent. */
  readonly target: string;
  /**
   * Header names and values alternating, as received (node:http's
   * `rawHeaders`): names in any case, a repeated header repeated.
   */
  readonly rawHeaders: readonly string[];
  /** The peer's address, if known. */
  readonly remote: RemoteAddress | undefined;
  /** `host:port` of the listener, for a request with no Host. */
  readonly local: string | undefined;
  /** The server's connection info: `tsgi.info`, and `tsgi.runtime_args[0]`. */
  readonly info: unknown;
  /** The body as a stream, or null for none; called at most once. */
  body(): ReadableStream<Uint8Array> | null;
  /**
   * The request as a Fetch Request, made only when something asks for it
   * (`tsgi.request`, the `remoteAddress` option); the same one each call.
   */
  request(): Request;
}

/** Handles one request: the sink's answer. */
export type PartsHandler = <R>(
  parts: RequestParts,
  sink: ResponseSink<R>,
) => R | Promise<R>;

/** The context an Exchange runs in, for a request given as its parts. */
class PartsState {
  readonly config: GatewayConfig;
  readonly method: string;
  readonly textLimit = -1;
  environ!: Environ;
  #errors: ErrorStream | undefined;

  constructor(config: GatewayConfig, method: string) {
    this.config = config;
    this.method = method;
  }

  get errors(): ErrorStream {
    return this.#errors ??= new LogErrorStream(this.config.errors);
  }

  get debug(): boolean {
    return this.config.debug;
  }

  finish(): void {
    this.#errors?.flush();
  }
}

// Raw header name → environ key (null: left out); names repeat across
// requests in the same spelling.
const keys = new Map<string, string | null>();

function keyOf(name: string): string | null {
  let key = keys.get(name);
  if (key === undefined) {
    const lower = name.toLowerCase();
    // Underscored names could impersonate dashed ones (X_Auth → X-Auth).
    key = lower.includes("_")
      ? null
      : lower === "content-type"
      ? "CONTENT_TYPE"
      : lower === "content-length"
      ? "CONTENT_LENGTH"
      : "HTTP_" + lower.toUpperCase().replaceAll("-", "_");
    if (keys.size < 1024) keys.set(name, key);
  }
  return key;
}

/**
 * Makes the handler a server calls with each request's parts and its sink.
 *
 * @param app The application.
 * @param options Gateway options, as toFetchHandler's.
 * @returns The handler.
 */
export function toPartsHandler(
  app: App,
  options?: GatewayOptions,
): PartsHandler {
  if (typeof app !== "function") {
    throw new TypeError(
      `Cannot serve ${typeof app}: expected an application function`,
    );
  }
  const config = configure(options);
  const limit = config.maxBodySize;
  const https = config.urlScheme === "https";
  return function tsgiPartsHandler<R>(
    parts: RequestParts,
    sink: ResponseSink<R>,
  ): R | Promise<R> {
    const method = parts.method;
    const head = method === "HEAD";
    const refused = checkMethod(method, config.allowConnect);
    if (refused !== undefined) {
      log(config, `refused method ${JSON.stringify(method)}`, refused, parts);
      return sink.error(refused, { head });
    }
    const raw = parts.rawHeaders;
    // Every header in one pass: a plain object, which apps read and
    // enumerate at full speed.
    const headers: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) {
      const key = keyOf(raw[i]);
      if (key === null) continue;
      const value = raw[i + 1];
      const before = headers[key];
      headers[key] = before === undefined ? value : before + ", " + value;
    }
    const lengthHeader = headers.CONTENT_LENGTH;
    // A repeated header is joined: "5, 5" is one length.
    const length = lengthHeader === undefined
      ? -1
      : readContentLength(lengthHeader);
    if ((method !== "GET" && !head) || limit !== Infinity) {
      // Checked before the app runs, so no app sees a length that is not
      // one number and no repeated header slips past maxBodySize.
      if (length !== length) {
        log(config, "Content-Length is not one number", 400, parts);
        return sink.error(400, { head });
      }
      if (length > limit) {
        log(
          config,
          `request body of ${length} bytes is larger than maxBodySize (${limit})`,
          413,
          parts,
        );
        return sink.error(413, { head });
      }
    }
    const host = headers.HTTP_HOST;
    const environ = baseEnviron(
      config,
      method,
      parts.target,
      host ?? null,
      parts.local,
      https,
    );
    if (typeof environ === "number") {
      if (environ === 400) {
        log(
          config,
          `the target or the Host ${JSON.stringify(host ?? null)} is not valid`,
          400,
          parts,
        );
      }
      return sink.error(environ, { head });
    }
    const state = new PartsState(config, method);
    Object.assign(environ, headers);
    if (lengthHeader !== undefined) {
      if (length >= 0) environ.CONTENT_LENGTH = String(length);
      else delete environ.CONTENT_LENGTH;
    }
    const remote = config.remoteAddress === undefined
      ? parts.remote
      : config.remoteAddress(parts.request(), [parts.info]);
    if (remote !== undefined) {
      environ.REMOTE_ADDR = remote.address;
      if (remote.port !== undefined) environ.REMOTE_PORT = String(remote.port);
    }
    environ["wsgi.input"] = new ReadableInputStream(parts.body(), limit);
    environ["wsgi.errors"] = state.errors;
    environ["tsgi.info"] = parts.info;
    environ["tsgi.runtime_args"] = [parts.info];
    environ[PARTS] = parts;
    Object.defineProperty(environ, "tsgi.request", LAZY_REQUEST);
    if (config.extraEnviron !== undefined) {
      Object.assign(environ, config.extraEnviron);
    }
    state.environ = environ as unknown as Environ;
    return new Exchange(state, sink).run(app);
  };
}

// Where the environ keeps its parts, for the accessor below.
const PARTS = Symbol("tsgi.parts");

/** Replaces the accessor with a plain value. */
function settle(environ: Target, value: unknown): void {
  Object.defineProperty(environ, "tsgi.request", {
    configurable: true,
    enumerable: true,
    writable: true,
    value,
  });
}

// `tsgi.request` makes the Fetch Request on first read, then holds it;
// enumerating the environ does not make it. One descriptor for every
// environ, so that they all keep one shape.
const LAZY_REQUEST: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: Target): Request {
    const request = (this[PARTS] as RequestParts).request();
    settle(this, request);
    return request;
  },
  set(this: Target, value: unknown): void {
    settle(this, value);
  },
};

/** Says on wsgi.errors' sink why a request was refused before the app ran. */
function log(
  config: GatewayConfig,
  why: string,
  status: number,
  parts: RequestParts,
): void {
  new LogErrorStream(config.errors).write(
    `tsgi: ${why}, answered ${status} (${parts.method} ${
      JSON.stringify(parts.target)
    })\n`,
  );
}
