// WebSocket upgrades through the toolkit, on Deno with serve(): Router and
// mount route them like any request, and a Hono app whose route upgrades
// with Hono's own upgradeWebSocket (hono/deno), mounted through
// fromFetchHandler, echoes.
import assert from "node:assert/strict";
import { fromFetchHandler, mount, Router } from "../../mod.ts";
import type { App } from "../../mod.ts";
import { serve } from "../../src/serve/serve.ts";
import { Hono } from "../../tools/node_modules/hono/dist/index.js";
import { upgradeWebSocket } from "../../tools/node_modules/hono/dist/adapter/deno/websocket.js";

const echo: App = (environ, startResponse) => {
  const upgrade = environ["tsgi.websocket"];
  if (upgrade === undefined) {
    startResponse("426 Upgrade Required", [["Content-Type", "text/plain"]]);
    return [];
  }
  const socket = upgrade.accept();
  const where = `${environ.SCRIPT_NAME}|${environ.PATH_INFO}`;
  // Environ keys read after the upgrade still answer.
  socket.onmessage = (event) =>
    socket.send(`${where}: ${event.data} from ${environ.REMOTE_ADDR}`);
  return [];
};

interface HonoWsContext {
  send(data: string): void;
}

// deno-lint-ignore no-explicit-any
const hono: any = new Hono();
hono.get(
  "/hono/ws",
  upgradeWebSocket(() => ({
    onMessage(event: MessageEvent, ws: HonoWsContext) {
      ws.send(`hono: ${event.data}`);
    },
  })),
);
hono.get("/hono/plain", (c: { text(t: string): Response }) => c.text("hono"));

const app = mount({
  "/api": new Router().get("/chat/:room", echo).app,
  "/hono": fromFetchHandler((request: Request) => hono.fetch(request)),
});

function roundTrip(url: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => socket.send(message);
    socket.onmessage = (event) => {
      resolve(String(event.data));
      socket.close();
    };
    socket.onerror = () => reject(new Error(`Cannot talk to ${url}`));
  });
}

Deno.test("WebSocket through Router, mount and fromFetchHandler", async (t) => {
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  const ws = server.url.replace("http", "ws");
  await t.step("Router under mount routes the upgrade", async () => {
    assert.equal(
      await roundTrip(`${ws}api/chat/lobby`, "hi"),
      "/api/chat/lobby|: hi from 127.0.0.1",
    );
  });
  await t.step("the same route answers a plain GET with HTTP", async () => {
    const response = await fetch(`${server.url}api/chat/lobby`);
    await response.body?.cancel();
    assert.equal(response.status, 426);
  });
  await t.step(
    "a Hono WebSocket route mounted through fromFetchHandler echoes",
    async () => {
      assert.equal(await roundTrip(`${ws}hono/ws`, "hello"), "hono: hello");
      const response = await fetch(`${server.url}hono/plain`);
      assert.equal(await response.text(), "hono");
    },
  );
});
