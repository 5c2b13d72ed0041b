// WebSocket on Node from the built npm package: serve() with ws installed
// (as an application would: npm/node_modules/ws) echoes and passes close
// codes, driven by ws's client; without ws, a WebSocket request is answered
// as plain HTTP and one line on stderr names `npm install ws`.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const npm = path.join(root, "npm");
const tools = path.join(root, "tools/node_modules/ws");
const WebSocket = createRequire(import.meta.url)(tools);

const app = (environ, startResponse) => {
  const upgrade = environ["tsgi.websocket"];
  if (upgrade === undefined) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("plain HTTP\n")];
  }
  const socket = upgrade.accept({ protocol: upgrade.protocols[0] });
  socket.onmessage = (event) => {
    if (event.data === "bye") socket.close(4003, "server-bye");
    else socket.send(event.data);
  };
  return [];
};

function raw(port, lines) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(lines.join("\r\n") + "\r\n\r\n");
    });
    let text = "";
    socket.on("data", (chunk) => text += chunk);
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

const UPGRADE = [
  "GET / HTTP/1.1",
  "Host: 127.0.0.1",
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
];

test("with ws installed: echo, subprotocol and close codes", async (t) => {
  const link = path.join(npm, "node_modules/ws");
  if (!existsSync(link)) {
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(tools, link);
  }
  const { serve } = await import(
    new URL("../../npm/mod.js", import.meta.url).href
  );
  const server = await serve(app, { port: 0, onListen() {}, accessLog: false });
  t.after(() => server.shutdown());
  const url = `ws://127.0.0.1:${server.port}/`;
  const client = new WebSocket(url, ["chat"]);
  await new Promise((resolve, reject) => {
    client.on("open", resolve);
    client.on("error", reject);
  });
  assert.equal(client.protocol, "chat");
  const echo = (data, binary) =>
    new Promise((resolve) => {
      client.once(
        "message",
        (message, isBinary) => resolve([message, isBinary]),
      );
      client.send(data, { binary });
    });
  const [text, textBinary] = await echo("héllo", false);
  assert.equal(text.toString(), "héllo");
  assert.equal(textBinary, false);
  const bytes = Buffer.alloc(1024 * 1024, 7);
  const [back, backBinary] = await echo(bytes, true);
  assert.equal(backBinary, true);
  assert.ok(bytes.equals(back));
  const closed = new Promise((resolve) =>
    client.on("close", (code, reason) => resolve([code, reason.toString()]))
  );
  client.send("bye");
  assert.deepEqual(await closed, [4003, "server-bye"]);
});

test("without ws: plain HTTP and one line naming npm install ws", async () => {
  // A copy of the package with no node_modules anywhere above it.
  const dir = mkdtempSync(path.join(tmpdir(), "tsgi-npm-"));
  try {
    cpSync(npm, dir, {
      recursive: true,
      filter: (source) => !source.includes("node_modules"),
    });
    const child = spawn(process.execPath, [
      "--input-type=module",
      "-e",
      `const { serve } = await import(${
        JSON.stringify(path.join(dir, "mod.js"))
      });
       const app = ${app.toString()};
       await serve(app, { port: 0, accessLog: false,
         onListen: ({ port }) => console.log("listening " + port) });`,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => stderr += chunk);
    const port = await new Promise((resolve) => {
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const match = /listening (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
    });
    try {
      const first = await raw(port, UPGRADE);
      assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(first, /plain HTTP\n$/);
      await raw(port, UPGRADE);
      const lines = stderr.split("\n").filter((line) =>
        line.includes("npm install ws")
      );
      assert.equal(lines.length, 1, stderr);
    } finally {
      child.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
