// WebSocket on Node: node:http's `upgrade` event, with the framing done by
// the `ws` package (an optional peer dependency, loaded on the first
// WebSocket request). A ws socket already has the WHATWG interface
// (addEventListener, onmessage, binaryType, bufferedAmount); this module
// adds the handshake, keep-alive pings, and `open` once the app returned.

import type {
  WebSocketAccepted,
  WebSocketLike,
  WebSocketRuntime,
} from "../types.ts";

/** The raw connection node:http hands to an `upgrade` listener. */
export interface NodeDuplex {
  readonly readable: boolean;
  readonly writable: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
  once(event: "drain" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** A ws socket, as far as this module drives it. */
interface WsSocket extends WebSocketLike {
  ping(): void;
  terminate(): void;
  emit(event: "open"): boolean;
  on(event: "pong" | "message", listener: () => void): unknown;
  once(event: "close", listener: () => void): unknown;
}

interface WsServer {
  handleUpgrade(
    req: unknown,
    socket: NodeDuplex,
    head: Uint8Array,
    callback: (ws: WsSocket) => void,
  ): void;
}

interface WsModule {
  WebSocketServer: new (options: {
    noServer: true;
    clientTracking: false;
    perMessageDeflate: false;
    maxPayload: number;
    handleProtocols: (protocols: Set<string>, req: object) => string | false;
  }) => WsServer;
}

// Held in a variable so bundlers leave it alone: ws is optional.
const WS: string = "ws";

/** Seconds between pings to a silent peer; a missing pong ends it. */
const IDLE_TIMEOUT = 60;

let loading: Promise<WsModule | undefined> | undefined;
let missingReported = false;

/**
 * Loads ws once; undefined, with one line on stderr, when it is not
 * installed.
 */
export function loadWs(): Promise<WsModule | undefined> {
  return loading ??= Promise.resolve().then(() => {
    // require(), not import(): ws is a CommonJS package, and a bare
    // import() of it would be a dynamic import the publish-time analysis
    // cannot follow (and that a bundler would try to pull in).
    const { process } = globalThis as unknown as {
      process: { getBuiltinModule(id: string): unknown; cwd(): string };
    };
    const { createRequire } = process.getBuiltinModule("node:module") as {
      createRequire(from: string): (id: string) => unknown;
    };
    // Resolved from the app's directory first, then from tsgi's own.
    for (const from of [`${process.cwd()}/`, import.meta.url]) {
      try {
        const module = createRequire(from)(WS) as
          & Partial<WsModule>
          & { default?: WsModule };
        return (module.WebSocketServer ? module : module.default) as WsModule;
      } catch {
        // Not installed there.
      }
    }
    if (!missingReported) {
      missingReported = true;
      console.error(
        "tsgi: WebSocket requests on Node need the ws package (npm install ws); answering them as plain HTTP",
      );
    }
    return undefined;
  });
}

const servers = new Map<number, WsServer>();
const chosen = new WeakMap<object, string>();

function serverFor(ws: WsModule, maxPayload: number): WsServer {
  let server = servers.get(maxPayload);
  if (server === undefined) {
    server = new ws.WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload,
      handleProtocols: (_offered, req) => chosen.get(req) ?? false,
    });
    servers.set(maxPayload, server);
  }
  return server;
}

/** Pings a silent peer every IDLE_TIMEOUT seconds; no pong, no socket. */
function keepAlive(socket: WsSocket): void {
  let alive = true;
  const timer = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    try {
      socket.ping();
    } catch {
      // Closing already.
    }
  }, IDLE_TIMEOUT * 1000);
  (timer as unknown as { unref?: () => void }).unref?.();
  const heard = () => alive = true;
  socket.on("pong", heard);
  socket.on("message", heard);
  socket.once("close", () => clearInterval(timer));
}

/** One upgrade request's link between node:http and the gateway. */
export class NodeUpgrade {
  readonly #ws: WsModule;
  readonly #req: object;
  readonly #duplex: NodeDuplex;
  readonly #head: Uint8Array;
  socket: WsSocket | undefined;

  constructor(ws: WsModule, req: object, duplex: NodeDuplex, head: Uint8Array) {
    this.#ws = ws;
    this.#req = req;
    this.#duplex = duplex;
    this.#head = head;
  }

  /** The upgrader the gateway calls from `accept()`. */
  readonly upgrade = (
    options: { protocol?: string; maxMessageSize: number },
  ): WebSocketAccepted => {
    if (options.protocol !== undefined) {
      chosen.set(this.#req, options.protocol);
    }
    serverFor(this.#ws, options.maxMessageSize).handleUpgrade(
      this.#req,
      this.#duplex,
      this.#head,
      (socket) => this.socket = socket,
    );
    const socket = this.socket;
    if (socket === undefined) {
      throw new Error(
        "Cannot accept the WebSocket: the client closed the connection",
      );
    }
    // Nothing is read until the app has returned and set its handlers.
    this.#duplex.pause();
    socket.binaryType = "arraybuffer";
    keepAlive(socket);
    return { socket, response: undefined };
  };

  /** The server is shutting down: closes with 1001 (Going Away). */
  goingAway(): void {
    try {
      this.socket?.close(1001, "Going Away");
    } catch {
      this.socket?.terminate();
    }
  }

  /** The app has returned: the socket is announced open and read. */
  opened(): void {
    this.socket!.emit("open");
    this.#duplex.resume();
  }
}

/** The upgrade on tsgi's Node server: the upgrader its info carries. */
export const websocket: WebSocketRuntime = (_request, args) => {
  const upgrader = (args[0] as { websocket?: unknown } | undefined)
    ?.websocket;
  return typeof upgrader === "function"
    ? upgrader as NodeUpgrade["upgrade"]
    : undefined;
};
