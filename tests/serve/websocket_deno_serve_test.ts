// A tsgi handler given to Deno.serve directly (without serve()) takes
// WebSocket upgrades when passed `websocket: denoWebSocket`; without it the
// app gets no tsgi.websocket and answers plain HTTP.
import assert from "node:assert/strict";
import { denoWebSocket, toFetchHandler } from "../../mod.ts";
import type { App } from "../../mod.ts";

const app: App = (environ, startResponse) => {
  const upgrade = environ["tsgi.websocket"];
  if (upgrade === undefined) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("plain\n")];
  }
  const socket = upgrade.accept();
  socket.onmessage = (event) => socket.send(`echo ${event.data}`);
  return [];
};

Deno.test("Deno.serve(toFetchHandler(app, { websocket: denoWebSocket })) echoes", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app, { websocket: denoWebSocket }),
  );
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
    socket.onopen = () => socket.send("hi");
    const data = await new Promise((resolve) => {
      socket.onmessage = (event) => resolve(event.data);
    });
    assert.equal(data, "echo hi");
    const closed = new Promise((resolve) => socket.onclose = resolve);
    socket.close();
    await closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("Deno.serve(toFetchHandler(app)) without it: the app answers HTTP", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(app),
  );
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
    const failed = await new Promise<boolean>((resolve) => {
      socket.onopen = () => resolve(false);
      socket.onerror = () => resolve(true);
    });
    assert.equal(failed, true);
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      headers: {
        upgrade: "websocket",
        connection: "upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(await response.text(), "plain\n");
  } finally {
    await server.shutdown();
  }
});
