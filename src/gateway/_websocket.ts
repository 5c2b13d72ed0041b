// WebSocket upgrades: `environ["tsgi.websocket"]`, offered when the request
// asks for a WebSocket and the runtime can take it. The runtime part comes
// from GatewayOptions.websocket (set by serve() on Deno, Bun and Node) or,
// where the platform has it, `WebSocketPair` (Workers). The app accepts and
// returns an empty iterable; the exchange then ends like any other (the
// result's close() runs) and the handler answers with the runtime's 101.

import { Exchange } from "./_exchange.ts";
import { describeError, isThenable } from "./_values.ts";
import type { RequestState } from "./_environ.ts";
import type {
  App,
  AppIterable,
  StartResponse,
  WebSocketAccepted,
  WebSocketAcceptOptions,
  WebSocketLike,
  WebSocketRuntime,
  WebSocketUpgrade,
} from "../types.ts";

/** The default largest message a peer may send: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE: number = 16 * 1024 * 1024;

type Upgrader = (
  options: { protocol?: string; maxMessageSize: number },
) => WebSocketAccepted;

const WEBSOCKET_TOKEN = /(?:^|,)\s*websocket\s*(?:,|$)/i;
const UPGRADE_TOKEN = /(?:^|,)\s*upgrade\s*(?:,|$)/i;

/** Whether the request is a WebSocket opening handshake (RFC 6455 §4.2.1). */
export function isWebSocketRequest(request: Request): boolean {
  const headers = request.headers;
  const upgrade = headers.get("upgrade");
  if (upgrade === null || !WEBSOCKET_TOKEN.test(upgrade)) return false;
  const connection = headers.get("connection");
  return connection !== null && UPGRADE_TOKEN.test(connection) &&
    headers.get("sec-websocket-key") !== null &&
    headers.get("sec-websocket-version") === "13";
}

/** The subprotocols a client offered, in its order. */
function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (header === null) return [];
  return header.split(",").map((token) => token.trim()).filter((token) =>
    token !== ""
  );
}

interface WorkersSocket extends WebSocketLike {
  accept(): void;
}

type WebSocketPairClass = new () => { 0: WorkersSocket; 1: WorkersSocket };

/** The upgrader of a platform with `WebSocketPair` (Workers), if any. */
function pairUpgrader(): Upgrader | undefined {
  const Pair = (globalThis as { WebSocketPair?: WebSocketPairClass })
    .WebSocketPair;
  if (typeof Pair !== "function") return undefined;
  return ({ protocol, maxMessageSize }) => {
    const pair = new Pair();
    const client = pair[0];
    const server = pair[1];
    // workerd answers a peer's close frame without its code; echoing it
    // is what RFC 6455 asks for (§5.5.1) and what the other runtimes do.
    server.addEventListener("close", (event) => {
      try {
        const { code, reason } = event as CloseEvent;
        server.close(code === 1005 || code === 1006 ? 1000 : code, reason);
      } catch {
        // Already answered.
      }
    });
    limitMessageSize(server, maxMessageSize);
    // Queued bytes are not reported here; the contract has the member.
    if (server.bufferedAmount === undefined) {
      Object.defineProperty(server, "bufferedAmount", { value: 0 });
    }
    const response = new Response(null, {
      status: 101,
      headers: protocol === undefined
        ? undefined
        : { "sec-websocket-protocol": protocol },
      webSocket: client,
    } as ResponseInit);
    // The server side is accepted (and opens) once the app has returned and
    // set its handlers, as on the other runtimes; workerd announces no
    // `open` for it, so the gateway does.
    const ready = () => {
      server.accept();
      server.dispatchEvent(new Event("open"));
    };
    return { socket: server, response, ready };
  };
}

/** Whether this gateway may ever offer an upgrade. */
export function websocketPossible(runtime: WebSocketRuntime | undefined) {
  return runtime !== undefined ||
    typeof (globalThis as { WebSocketPair?: unknown }).WebSocketPair ===
      "function";
}

/** The upgrader for this request, or undefined when none can take it. */
export function upgraderOf(
  request: Request,
  args: readonly unknown[],
  runtime: WebSocketRuntime | undefined,
): Upgrader | undefined {
  if (!isWebSocketRequest(request)) return undefined;
  return runtime === undefined ? pairUpgrader() : runtime(request, args);
}

/** UTF-8 length of a string, without encoding it when it cannot matter. */
function byteSize(data: unknown): number {
  if (typeof data === "string") {
    if (data.length * 3 <= 65536) return data.length;
    return new TextEncoder().encode(data).byteLength;
  }
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    return data.byteLength;
  }
  return (data as { size?: number })?.size ?? 0;
}

/**
 * Closes the socket with 1009 when a message is larger than `max`, for
 * runtimes whose socket takes no limit itself. The listener is added
 * before the app's, so the app never sees the message.
 */
export function limitMessageSize(socket: WebSocketLike, max: number): void {
  if (max === Infinity) return;
  socket.addEventListener("message", (event) => {
    const size = byteSize((event as MessageEvent).data);
    // Short strings are counted in UTF-16 units, a lower bound that only
    // matters above 64 KiB, where they are measured.
    if (size > max) {
      event.stopImmediatePropagation();
      try {
        socket.close(1009, "Message too big");
      } catch {
        // Already closing.
      }
    }
  });
}

function checkOptions(
  options: WebSocketAcceptOptions | undefined,
  offered: readonly string[],
): { protocol?: string; maxMessageSize: number } {
  const protocol = options?.protocol;
  const max = options?.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (protocol !== undefined && !offered.includes(protocol)) {
    throw new RangeError(
      `Cannot accept subprotocol ${
        JSON.stringify(protocol)
      }: the client offered ${
        offered.length === 0 ? "none" : JSON.stringify(offered.join(", "))
      }`,
    );
  }
  if (!(max > 0)) {
    throw new RangeError(
      `Cannot use maxMessageSize ${max}: expected a positive number of bytes`,
    );
  }
  return protocol === undefined
    ? { maxMessageSize: max }
    : { protocol, maxMessageSize: max };
}

/** Writes what went wrong to wsgi.errors. */
function logError(state: RequestState, what: string, error: unknown): void {
  try {
    state.errors.write(
      `tsgi: ${what} (${state.environ.REQUEST_METHOD} ${state.environ.REQUEST_URI}): ${
        describeError(error)
      }\n`,
    );
    state.errors.flush();
  } catch {
    // A broken error stream must not take the server down.
  }
}

/**
 * Closes with 1011 (Internal Error) once the socket is open; where the
 * socket allows only the codes the WHATWG API does, with 1000.
 */
function closeWhenOpen(socket: WebSocketLike): void {
  const close = () => {
    try {
      socket.close(1011, "Internal Error");
    } catch {
      try {
        socket.close(1000, "Internal Error");
      } catch {
        // Closing already.
      }
    }
  };
  if (socket.readyState === 1) close();
  else if (socket.readyState === 0) {
    socket.addEventListener("open", close, { once: true });
  }
}

function closeQuietly(state: RequestState, result: unknown): void {
  const close = (result as { close?: () => unknown } | null)?.close;
  if (typeof close !== "function") return;
  const report = (error: unknown) => logError(state, "close() raised", error);
  try {
    const done = close.call(result);
    if (isThenable(done)) done.then(undefined, report);
  } catch (error) {
    report(error);
  }
}

/**
 * Runs an app that may accept a WebSocket: as any exchange until it calls
 * `accept()`; after that its result is closed and the runtime's upgrade
 * answer is returned.
 */
export function runWithWebSocket(
  state: RequestState,
  app: App,
  upgrader: Upgrader,
): Response | Promise<Response> {
  const offered = offeredProtocols(state.request);
  let accepted:
    | {
      socket?: WebSocketLike;
      response: Response | undefined;
      ready?: () => void;
    }
    | undefined;
  let started = false;
  const upgrade: WebSocketUpgrade = {
    protocols: offered,
    accept(options?: WebSocketAcceptOptions): WebSocketLike {
      if (accepted !== undefined) {
        throw new Error("Cannot accept() a WebSocket twice");
      }
      if (started) {
        throw new Error(
          "Cannot accept() a WebSocket after start_response(): the response is already an HTTP one",
        );
      }
      const checked = checkOptions(options, offered);
      // Read now: Deno's connection info refuses to tell the peer once the
      // request is upgraded, and the app may ask from its handlers.
      void state.environ.REMOTE_ADDR;
      void state.environ.REMOTE_PORT;
      const { socket, response, ready } = upgrader(checked);
      accepted = { socket, response, ready };
      // Deno's server side reports "" whatever was agreed.
      const protocol = checked.protocol ?? "";
      if (socket.protocol !== protocol) {
        Object.defineProperty(socket, "protocol", { value: protocol });
      }
      // Binary messages arrive as ArrayBuffers on every runtime.
      if (socket.binaryType !== "arraybuffer") {
        socket.binaryType = "arraybuffer";
      }
      return socket;
    },
    respondWith(response: Response | undefined): void {
      if (accepted !== undefined) {
        throw new Error("Cannot answer a WebSocket upgrade twice");
      }
      if (started) {
        throw new Error(
          "Cannot answer the upgrade after start_response(): the response is already an HTTP one",
        );
      }
      accepted = { response };
    },
  };
  (state.environ as Record<string, unknown>)["tsgi.websocket"] = upgrade;
  let result: AppIterable | undefined;
  let answered = false;
  let lateStart = false;
  const answer = (sr: StartResponse): AppIterable => {
    answered = true;
    // The exchange gets a well-formed empty answer, which is replaced by
    // the upgrade below; the app's own result is closed there.
    sr("200 OK", []);
    return [];
  };
  // After accept() the upgrade goes ahead whatever the app does next, as it
  // must where the runtime has already committed to it (Bun, Node): an app
  // that then fails gets its error logged and the socket closed.
  const abandon = (error: unknown, sr: StartResponse): AppIterable => {
    logError(
      state,
      "the application failed after accepting a WebSocket",
      error,
    );
    const socket = accepted?.socket;
    if (socket !== undefined) closeWhenOpen(socket);
    return answer(sr);
  };
  const settle = (value: AppIterable, sr: StartResponse): AppIterable => {
    if (accepted === undefined) return value;
    result = value;
    if (lateStart) {
      return abandon(
        new Error("start_response() was called after accept()"),
        sr,
      );
    }
    return answer(sr);
  };
  const wrapped: App = (environ, startResponse) => {
    const tracked: StartResponse = (status, headers, excInfo) => {
      if (accepted !== undefined) {
        lateStart = true;
        throw new Error(
          "Cannot call start_response() after accept(): return an empty iterable and the gateway answers the WebSocket upgrade",
        );
      }
      started = true;
      return startResponse(status, headers, excInfo);
    };
    let value: AppIterable | Promise<AppIterable>;
    try {
      value = app(environ, tracked);
    } catch (error) {
      if (accepted === undefined) throw error;
      return abandon(error, startResponse);
    }
    return isThenable(value)
      ? value.then(
        (resolved) => settle(resolved, startResponse),
        (error) => {
          if (accepted === undefined) throw error;
          return abandon(error, startResponse);
        },
      )
      : settle(value, startResponse);
  };
  const finish = (response: Response): Response => {
    if (accepted === undefined || !answered) return response;
    if (result !== undefined) closeQuietly(state, result);
    accepted.ready?.();
    // Undefined where the runtime answers the upgrade itself (Bun, Node):
    // the handler then returns nothing, which is Bun's contract.
    return accepted.response as Response;
  };
  const response = new Exchange(state).run(wrapped);
  return isThenable(response) ? response.then(finish) : finish(response);
}
