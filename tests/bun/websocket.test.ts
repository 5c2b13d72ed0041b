// WebSocket on Bun through serve(): the bridge over Bun's ServerWebSocket,
// driven by Bun's WebSocket client. `bun test tests/bun/`.
// Written with node:test, which bun test runs, so `deno check` can read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type App, serve, type WebSocketLike } from "../../mod.ts";

interface Seen {
  socket?: WebSocketLike;
  listenerEvent?: Event;
  handlerEvent?: MessageEvent;
  closes: { code: number; reason: string; wasClean: boolean }[];
  readyStates: number[];
}

function appFor(seen: Seen): App {
  return (environ, startResponse) => {
    const upgrade = environ["tsgi.websocket"];
    if (upgrade === undefined) {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode("plain\n")];
    }
    const socket = upgrade.accept({ maxMessageSize: 1000 });
    seen.socket = socket;
    seen.readyStates.push(socket.readyState);
    socket.onopen = () => seen.readyStates.push(socket.readyState);
    if (environ.QUERY_STRING === "listen") {
      socket.addEventListener("message", (event) => {
        seen.listenerEvent = event;
      });
    }
    socket.onmessage = (event) => {
      seen.handlerEvent = event;
      socket.send(event.data);
    };
    socket.addEventListener("close", (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      seen.closes.push({ code, reason, wasClean });
    });
    return [];
  };
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(url);
    client.binaryType = "arraybuffer";
    client.onopen = () => resolve(client);
    client.onerror = () => reject(new Error(`Cannot connect to ${url}`));
  });
}

function next(client: WebSocket): Promise<unknown> {
  return new Promise((resolve) => {
    client.onmessage = (event) => resolve(event.data);
  });
}

function closed(client: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => client.onclose = resolve);
}

test("Bun bridge: events, readyState, close codes and 1009", async (t) => {
  const seen: Seen = { closes: [], readyStates: [] };
  const server = await serve(appFor(seen), {
    port: 0,
    onListen() {},
    accessLog: false,
  });
  t.after(() => server.shutdown());
  const base = server.url.replace("http", "ws");

  const client = await connect(base);
  assert.equal(
    await (async () => {
      const reply = next(client);
      client.send("héllo");
      return await reply;
    })(),
    "héllo",
  );
  // CONNECTING in accept(), OPEN by the open event.
  assert.deepEqual(seen.readyStates, [0, 1]);
  assert.ok(seen.handlerEvent instanceof MessageEvent);
  assert.equal(seen.handlerEvent.type, "message");
  assert.equal(seen.handlerEvent.target, seen.socket);
  const reply = next(client);
  client.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(
    new Uint8Array(await reply as ArrayBuffer),
    new Uint8Array([1, 2, 3]),
  );
  assert.equal(seen.socket!.bufferedAmount, 0);
  const done = closed(client);
  client.close(4005, "client-bye");
  assert.equal((await done).code, 4005);
  while (seen.closes.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen.closes, [{
    code: 4005,
    reason: "client-bye",
    wasClean: true,
  }]);

  // A listener gets a real MessageEvent; onmessage runs too.
  const listening = await connect(`${base}?listen`);
  const echoed = next(listening);
  listening.send("x");
  assert.equal(await echoed, "x");
  assert.ok(seen.listenerEvent instanceof MessageEvent);
  assert.equal((seen.listenerEvent as MessageEvent).data, "x");

  // Over maxMessageSize: closed with 1009, never delivered.
  seen.handlerEvent = undefined;
  const big = closed(listening);
  listening.send("y".repeat(1001));
  assert.equal((await big).code, 1009);
  assert.equal(seen.handlerEvent, undefined);

  // The app closes with a code and reason.
  const third = await connect(base);
  const gone = closed(third);
  seen.socket!.close(4006, "server-bye");
  const event = await gone;
  assert.equal(event.code, 4006);
  assert.equal(event.reason, "server-bye");
  assert.throws(() => seen.socket!.close(1001), /1000 or 3000-4999/);
});
