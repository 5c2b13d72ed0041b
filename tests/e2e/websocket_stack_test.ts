// A WebSocket app inside the middleware stack, on Deno with serve(): the
// access log writes one 101 line when the socket closes, compress and
// errorPages leave the upgrade alone, validator() accepts the upgrade and
// refuses start_response() after accept().
import assert from "node:assert/strict";
import { accessLog, compress, errorPages, validator } from "../../mod.ts";
import type { App } from "../../mod.ts";
import { serve } from "../../src/serve/serve.ts";

const echo: App = (environ, startResponse) => {
  const upgrade = environ["tsgi.websocket"];
  if (upgrade === undefined) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("plain ".repeat(200))];
  }
  const socket = upgrade.accept();
  socket.onmessage = (event) => socket.send(event.data);
  if (environ.PATH_INFO === "/rude") startResponse("200 OK", []);
  return [];
};

function roundTrip(url: string, message: string): Promise<CloseEvent> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => socket.send(message);
    socket.onmessage = (event) => {
      assert.equal(event.data, message);
      socket.close(1000);
    };
    socket.onclose = resolve;
    socket.onerror = () => reject(new Error(`Cannot talk to ${url}`));
  });
}

Deno.test("WebSocket through accessLog, errorPages, compress and validator", async (t) => {
  const lines: string[] = [];
  let logged!: () => void;
  const firstLine = new Promise<void>((resolve) => logged = resolve);
  const errors: string[] = [];
  const serveLines: string[] = [];
  const app = accessLog(errorPages(compress(validator(echo))), {
    sink: (line) => {
      lines.push(line);
      logged();
    },
  });
  await using server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: (line) => serveLines.push(line),
    errors: (text) => errors.push(text),
  });
  const ws = server.url.replace("http", "ws");
  await t.step("the socket echoes and the access log has its 101", async () => {
    const event = await roundTrip(`${ws}chat`, "hello");
    assert.equal(event.code, 1000);
    await firstLine;
    assert.equal(lines.length, 1);
    assert.match(lines[0], /"GET \/chat HTTP\/1\.1" 101 /);
    // serve()'s own log has the 101 from when the upgrade was answered.
    assert.match(serveLines[0], /"GET \/chat HTTP\/1\.1" 101 -$/);
    assert.deepEqual(errors, []);
  });
  await t.step("a plain GET is still compressed", async () => {
    const response = await fetch(server.url, {
      headers: { "accept-encoding": "gzip" },
    });
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(await response.text(), "plain ".repeat(200));
  });
  await t.step(
    "start_response() after accept() is refused and logged",
    async () => {
      await new Promise<void>((resolve) => {
        const socket = new WebSocket(`${ws}rude`);
        socket.onerror = () => resolve();
        socket.onclose = () => resolve();
      });
      assert.ok(
        errors.some((text) => /start_response\(\) .*after/.test(text)),
        errors.join(""),
      );
    },
  );
});
