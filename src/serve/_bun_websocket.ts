// WebSocket on Bun: server.upgrade() inside the fetch handler, with the
// `websocket` handlers serve() installs in Bun.serve feeding the app's
// socket (a BridgedWebSocket carried as the connection's data).

import { BridgedWebSocket, type Peer } from "./_websocket_bridge.ts";
import type { WebSocketRuntime } from "../types.ts";

interface BunUpgradeServer {
  upgrade(
    request: Request,
    options: { data: BridgedWebSocket; headers?: Record<string, string> },
  ): boolean;
}

/** Bun's ServerWebSocket, as far as the handlers use it. */
interface BunSocket extends Peer {
  readonly data: BridgedWebSocket;
}

/** Seconds of silence after which Bun pings; a missing pong closes. */
const IDLE_TIMEOUT = 60;

/**
 * The largest message Bun itself buffers; each socket's own limit
 * (`maxMessageSize`) is checked by the bridge below it.
 */
const MAX_PAYLOAD = 64 * 1024 * 1024;

/** The upgrade on Bun, for a server started with {@linkcode handlers}. */
export const websocket: WebSocketRuntime = (request, args) => {
  const server = args[0] as Partial<BunUpgradeServer> | undefined;
  if (typeof server?.upgrade !== "function") return undefined;
  const bun = server as BunUpgradeServer;
  return ({ protocol, maxMessageSize }) => {
    const socket = new BridgedWebSocket(protocol ?? "", maxMessageSize);
    const upgraded = bun.upgrade(request, {
      data: socket,
      headers: protocol === undefined
        ? undefined
        : { "Sec-WebSocket-Protocol": protocol },
    });
    if (!upgraded) {
      throw new Error(
        "Cannot accept the WebSocket: Bun refused the upgrade request",
      );
    }
    // Bun answers the upgrade itself once the handler returns nothing, and
    // may open the socket inside upgrade(): its events wait for ready().
    return { socket, response: undefined, ready: () => socket.release() };
  };
};

/**
 * The `websocket` option of one Bun.serve, and the sockets open on it, which
 * `goingAway()` closes with 1001 when the server shuts down (Bun's stop()
 * would otherwise wait for their clients to leave).
 */
export function bunHandlers(): {
  maxPayloadLength: number;
  idleTimeout: number;
  sendPings: boolean;
  open(ws: BunSocket): void;
  message(ws: BunSocket, message: string | Uint8Array): void;
  close(ws: BunSocket, code: number, reason: string): void;
  goingAway(): void;
} {
  const open = new Set<BunSocket>();
  return {
    maxPayloadLength: MAX_PAYLOAD,
    idleTimeout: IDLE_TIMEOUT,
    sendPings: true,
    open(ws) {
      open.add(ws);
      ws.data.opened(ws);
    },
    message(ws, message) {
      ws.data.received(message);
    },
    close(ws, code, reason) {
      open.delete(ws);
      ws.data.closed(code, reason);
    },
    goingAway() {
      for (const ws of open) ws.close(1001, "Going Away");
    },
  };
}
