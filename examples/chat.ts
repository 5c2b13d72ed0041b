// A chat room over WebSocket: one page, one app, on any runtime serve()
// runs on.
//   deno run --allow-net --allow-read examples/chat.ts [port]
//   bun examples/chat.ts            (port 8000)
// then open http://127.0.0.1:8000/ in two browser tabs.
import type { App, WebSocketLike } from "../mod.ts";
import { serve } from "../src/serve/serve.ts";

const encoder = new TextEncoder();

/** The largest chat message a member may send, in bytes. */
export const MAX_MESSAGE = 4096;

// A member whose connection cannot keep up is skipped rather than letting
// its queue grow without bound.
const SLOW_MEMBER = 1024 * 1024;

/**
 * The chat app: `/` answers the page, `/chat` takes a WebSocket (the member's
 * name from `?name=`) and relays each text message to every member.
 */
export function chatApp(page: string): App {
  const members = new Set<WebSocketLike>();
  const body = encoder.encode(page);
  const broadcast = (message: unknown) => {
    const text = JSON.stringify(message);
    for (const member of members) {
      if (member.readyState === 1 && member.bufferedAmount < SLOW_MEMBER) {
        member.send(text);
      }
    }
  };
  return (environ, startResponse) => {
    const upgrade = environ["tsgi.websocket"];
    if (environ.PATH_INFO === "/chat" && upgrade !== undefined) {
      const query = new URLSearchParams(environ.QUERY_STRING);
      const name = (query.get("name") ?? "guest").slice(0, 40);
      const socket = upgrade.accept({
        protocol: upgrade.protocols.includes("tsgi-chat")
          ? "tsgi-chat"
          : undefined,
        maxMessageSize: MAX_MESSAGE,
      });
      socket.onopen = () => {
        members.add(socket);
        broadcast({ system: `${name} joined` });
      };
      socket.onmessage = (event) => {
        if (typeof event.data === "string") {
          broadcast({ from: name, text: event.data });
        }
      };
      socket.onclose = () => {
        if (members.delete(socket)) broadcast({ system: `${name} left` });
      };
      return [];
    }
    if (environ.PATH_INFO === "/" && environ.REQUEST_METHOD === "GET") {
      startResponse("200 OK", [
        ["Content-Type", "text/html; charset=utf-8"],
        ["Content-Length", String(body.length)],
      ]);
      return [body];
    }
    const text = encoder.encode(
      environ.PATH_INFO === "/chat"
        ? "426 Upgrade Required: connect with a WebSocket\n"
        : "404 Not Found\n",
    );
    startResponse(
      environ.PATH_INFO === "/chat" ? "426 Upgrade Required" : "404 Not Found",
      [["Content-Type", "text/plain; charset=utf-8"]],
    );
    return [text];
  };
}

/** The page, read beside this module. */
export async function chatPage(): Promise<string> {
  const url = new URL("./chat.html", import.meta.url);
  return await (await fetch(url)).text();
}

if (import.meta.main) {
  const port = Number(
    (globalThis as { Deno?: { args: string[] } }).Deno?.args[0] ?? 8000,
  );
  await serve(chatApp(await chatPage()), { port });
}
