// The gateway's side of WebSocket with a stand-in runtime: when
// tsgi.websocket is offered, what accept() checks, when the result's
// close() runs, and what an app that breaks the rules gets.
import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import type {
  App,
  AppIterable,
  WebSocketAccepted,
  WebSocketRuntime,
} from "../../mod.ts";

const UPGRADE = {
  upgrade: "websocket",
  connection: "keep-alive, Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
  "sec-websocket-protocol": "a, b",
};

/** A runtime whose upgrades are recorded; its 101 is a 200 marked "upgraded". */
function fakeRuntime() {
  const calls: { protocol?: string; maxMessageSize: number }[] = [];
  let readied = 0;
  const runtime: WebSocketRuntime = () => (options) => {
    calls.push(options);
    const socket = new EventTarget() as unknown as WebSocketAccepted["socket"];
    Object.assign(socket, {
      readyState: 0,
      protocol: "",
      binaryType: "blob",
      bufferedAmount: 0,
      send() {},
      close() {},
    });
    return {
      socket,
      response: new Response("upgraded"),
      ready: () => readied++,
    };
  };
  return { runtime, calls, readied: () => readied };
}

function closable(log: string[]): AppIterable {
  return {
    [Symbol.iterator]: () => [][Symbol.iterator](),
    close: () => {
      log.push("close");
    },
  };
}

const quiet = { errors: () => {} };

Deno.test("tsgi.websocket is offered only on a WebSocket handshake the runtime takes", async () => {
  const seen: unknown[] = [];
  const app: App = (environ, startResponse) => {
    seen.push(environ["tsgi.websocket"]);
    startResponse("200 OK", []);
    return [];
  };
  const { runtime } = fakeRuntime();
  const handler = toFetchHandler(app, { ...quiet, websocket: runtime });
  const url = "http://localhost/";
  await handler(new Request(url, { headers: UPGRADE }));
  await handler(new Request(url));
  const { "sec-websocket-version": _, ...noVersion } = UPGRADE;
  await handler(new Request(url, { headers: noVersion }));
  await handler(new Request(url, { method: "POST", headers: UPGRADE }));
  await toFetchHandler(app, quiet)(new Request(url, { headers: UPGRADE }));
  await toFetchHandler(app, { ...quiet, websocket: () => undefined })(
    new Request(url, { headers: UPGRADE }),
  );
  assert.equal(typeof seen[0], "object");
  assert.deepEqual(seen.slice(1), [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("accept(): the runtime's answer, the result closed once, then ready()", async () => {
  const { runtime, calls, readied } = fakeRuntime();
  const log: string[] = [];
  let offered: readonly string[] = [];
  const app: App = async (environ) => {
    const upgrade = environ["tsgi.websocket"]!;
    offered = upgrade.protocols;
    await Promise.resolve();
    const socket = upgrade.accept({ protocol: "b", maxMessageSize: 10 });
    assert.equal(socket.protocol, "b");
    assert.equal(socket.binaryType, "arraybuffer");
    assert.throws(() => upgrade.accept(), /twice/);
    return closable(log);
  };
  const handler = toFetchHandler(app, { ...quiet, websocket: runtime });
  const response = await handler(
    new Request("http://localhost/", { headers: UPGRADE }),
  );
  assert.equal(await response.text(), "upgraded");
  assert.deepEqual(offered, ["a", "b"]);
  assert.deepEqual(calls, [{ protocol: "b", maxMessageSize: 10 }]);
  assert.deepEqual(log, ["close"]);
  assert.equal(readied(), 1);
});

Deno.test("accept() checks its options", async () => {
  const { runtime } = fakeRuntime();
  const errors: unknown[] = [];
  const app: App = (environ, startResponse) => {
    const upgrade = environ["tsgi.websocket"]!;
    for (const options of [{ protocol: "c" }, { maxMessageSize: 0 }]) {
      try {
        upgrade.accept(options);
      } catch (error) {
        errors.push(error);
      }
    }
    startResponse("400 Bad Request", [["Content-Type", "text/plain"]]);
    return [];
  };
  const response = await toFetchHandler(app, { ...quiet, websocket: runtime })(
    new Request("http://localhost/", { headers: UPGRADE }),
  );
  // Nothing accepted: the app's own HTTP answer goes out.
  assert.equal(response.status, 400);
  assert.equal(errors.length, 2);
  assert.ok(errors.every((error) => error instanceof RangeError));
  assert.match(String(errors[0]), /subprotocol "c": the client offered "a, b"/);
});

Deno.test("after accept(), start_response() throws and a raising app is logged; the upgrade still goes ahead", async () => {
  for (const misbehave of ["start", "raise"]) {
    const { runtime } = fakeRuntime();
    const logged: string[] = [];
    const log: string[] = [];
    let thrown: unknown;
    const app: App = (environ, startResponse) => {
      environ["tsgi.websocket"]!.accept();
      if (misbehave === "raise") throw new Error("boom");
      try {
        startResponse("200 OK", []);
      } catch (error) {
        thrown = error;
      }
      return closable(log);
    };
    const response = await toFetchHandler(app, {
      errors: (text) => logged.push(text),
      websocket: runtime,
    })(new Request("http://localhost/", { headers: UPGRADE }));
    assert.equal(await response.text(), "upgraded");
    if (misbehave === "start") {
      assert.match(String(thrown), /start_response\(\) after accept\(\)/);
      assert.deepEqual(log, ["close"]);
    }
    assert.equal(logged.length, 1, logged.join(""));
    assert.match(logged[0], /failed after accepting a WebSocket/);
  }
});

Deno.test("accept() after start_response() throws: the HTTP answer stands", async () => {
  const { runtime, calls } = fakeRuntime();
  let thrown: unknown;
  const app: App = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    try {
      environ["tsgi.websocket"]!.accept();
    } catch (error) {
      thrown = error;
    }
    return [new TextEncoder().encode("http")];
  };
  const response = await toFetchHandler(app, { ...quiet, websocket: runtime })(
    new Request("http://localhost/", { headers: UPGRADE }),
  );
  assert.equal(await response.text(), "http");
  assert.match(String(thrown), /after start_response\(\)/);
  assert.deepEqual(calls, []);
});
