// WebSocket on Deno: Deno.upgradeWebSocket, whose socket already is a
// WHATWG WebSocket and whose response is the 101 to return. The shapes are
// declared here so the npm build type-checks without Deno's types.

import { limitMessageSize } from "../gateway/_websocket.ts";
import type { WebSocketLike, WebSocketRuntime } from "../types.ts";

interface DenoWebSocketApi {
  upgradeWebSocket(
    request: Request,
    options?: { protocol?: string; idleTimeout?: number },
  ): { socket: WebSocketLike; response: Response };
}

/** Seconds of silence after which a ping is sent; a missing pong closes. */
export const IDLE_TIMEOUT = 60;

/**
 * The WebSocket upgrade on Deno, for `toFetchHandler`'s `websocket` option
 * when the handler is given to `Deno.serve` directly (`serve()` sets it
 * itself).
 *
 * @param request The upgrade request.
 * @param _runtimeArgs Deno's handler info (unused).
 * @returns The function that upgrades the request, or undefined off Deno.
 *
 * @example Serve a WebSocket app with Deno.serve
 * ```ts ignore
 * import { toFetchHandler } from "@tsgi/tsgi";
 * import { denoWebSocket } from "@tsgi/tsgi/serve";
 * import type { App } from "@tsgi/tsgi";
 * declare const app: App;
 * Deno.serve(toFetchHandler(app, { websocket: denoWebSocket }));
 * ```
 */
export function denoWebSocket(
  request: Request,
  _runtimeArgs: readonly unknown[],
): ReturnType<WebSocketRuntime> {
  const deno = (globalThis as { Deno?: Partial<DenoWebSocketApi> }).Deno;
  if (typeof deno?.upgradeWebSocket !== "function") return undefined;
  const api = deno as DenoWebSocketApi;
  return ({ protocol, maxMessageSize }) => {
    const { socket, response } = api.upgradeWebSocket(request, {
      ...(protocol === undefined ? {} : { protocol }),
      idleTimeout: IDLE_TIMEOUT,
    });
    limitMessageSize(socket, maxMessageSize);
    return { socket, response };
  };
}
