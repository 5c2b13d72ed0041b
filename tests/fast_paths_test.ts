// The gateway's fast paths must be invisible: the bytes, headers and status
// the app gave reach the client exactly, whichever path built the Response
// (a text body sent as a string, "200 OK" left to the runtime's reason
// phrase, the header list handed over as a record).
import assert from "node:assert/strict";
import { connect } from "node:net";
import type { App, Header } from "../mod.ts";
import { harness } from "./_helpers.ts";
import { withServer } from "./_serve.ts";

const enc = new TextEncoder();

const BODIES: [string, Uint8Array][] = [
  ["ASCII", enc.encode("Hello world!\n")],
  ["one byte", enc.encode("x")],
  ["UTF-8", enc.encode("Grüße, 世界 🌍\n")],
  ["a BOM first", Uint8Array.of(0xef, 0xbb, 0xbf, 0x68, 0x69)],
  ["invalid UTF-8", Uint8Array.of(0x68, 0xff, 0xfe, 0x80, 0x69)],
  ["an encoded surrogate", Uint8Array.of(0xed, 0xa0, 0x80)],
  ["a NUL", Uint8Array.of(0x61, 0x00, 0x62)],
  ["latin-1", Uint8Array.of(0x63, 0x61, 0x66, 0xe9)],
  ["ASCII past the loop limit", enc.encode("a".repeat(1000) + "\n")],
  ["UTF-8 past the loop limit", enc.encode("ü".repeat(700))],
  ["text past the string limit", enc.encode("b".repeat(70_000))],
];
const TYPES: (string | null)[] = [
  "text/plain; charset=utf-8",
  "application/json",
  "image/png",
  null,
];

function bodyApp(body: Uint8Array, type: string | null): App {
  return (_environ, startResponse) => {
    startResponse("200 OK", type === null ? [] : [["Content-Type", type]]);
    return [body];
  };
}

Deno.test("fast paths: every body reaches the Response byte for byte", async () => {
  for (const [what, body] of BODIES) {
    for (const type of TYPES) {
      const { handler, logs } = harness(bodyApp(body, type));
      const response = await handler("http://x/");
      const label = `${what} as ${type}`;
      assert.deepEqual(
        new Uint8Array(await response.arrayBuffer()),
        body,
        label,
      );
      // A string body must not bring its own text/plain along.
      assert.equal(response.headers.get("content-type"), type, label);
      assert.deepEqual(logs, [], label);
    }
  }
});

/** One raw HTTP/1.1 exchange: the head as text, the body as bytes. */
async function rawGet(
  base: string,
): Promise<{ head: string; body: Uint8Array }> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const chunks: Uint8Array[] = [];
  socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    socket.on("end", resolve);
    socket.on("error", reject);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`,
  );
  await ended;
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  let split = 0;
  while (
    !(all[split] === 13 && all[split + 1] === 10 && all[split + 2] === 13 &&
      all[split + 3] === 10)
  ) split++;
  return {
    head: new TextDecoder("latin1").decode(all.subarray(0, split)),
    body: all.subarray(split + 4),
  };
}

Deno.test("fast paths: on the wire, the body and its Content-Length are the app's", async () => {
  for (const [what, body] of BODIES) {
    for (const type of ["text/plain; charset=utf-8", null]) {
      await withServer(bodyApp(body, type), async (base) => {
        const { head, body: got } = await rawGet(base);
        const label = `${what} as ${type}`;
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/, label);
        assert.match(
          head,
          new RegExp(`\r\ncontent-length: ${body.length}(\r\n|$)`, "i"),
          label,
        );
        const types = head.match(/\r\ncontent-type: [^\r]*/gi) ?? [];
        assert.deepEqual(
          types.map((line) => line.slice(line.indexOf(":") + 2)),
          type === null ? [] : [type],
          label,
        );
        assert.deepEqual(got, body, label);
      });
    }
  }
});

Deno.test("fast paths: 200 OK leaves statusText to the runtime, other reasons are kept", async () => {
  const statuses = ["200 OK", "200 Fine", "201 Created", "404 Not Here"];
  for (const status of statuses) {
    const { handler } = harness((_environ, startResponse) => {
      startResponse(status, [["Content-Type", "text/plain"]]);
      return [enc.encode(status)];
    });
    const response = await handler("http://x/");
    assert.equal(
      `${response.status} ${response.statusText || "OK"}`,
      status,
    );
    assert.equal(response.statusText === "", status === "200 OK");
  }
});

Deno.test("fast paths: headers passed as a record say what the list said", async () => {
  const lists: Header[][] = [
    [["Content-Type", "text/plain"], ["X-A", "1"]],
    [["Content-Type", "text/plain"], ["X-A", "2"]],
    [["Content-Type", "text/plain"]],
    [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]],
    [["x-a", "1"], ["Content-Type", "text/plain"]],
    [["X-A", "1"], ["x-a", "2"], ["Content-Type", "text/plain"]],
    [["Content-Type", "text/plain"], ["9-Lives", "yes"], ["1", "one"]],
    [["__proto__", "p"], ["constructor", "c"], ["toString", "t"]],
  ];
  let pick = 0;
  const { handler } = harness((_environ, startResponse) => {
    // A fresh copy each time, as an app's literal would be.
    startResponse("200 OK", lists[pick].map(([n, v]) => [n, v]));
    return [enc.encode("ok")];
  });
  // Repeated names, array-index names and prototype names keep the list;
  // each list three times in a row, then all of them interleaved, twice.
  const order = [...lists.keys()].flatMap((i) => [i, i, i]);
  order.push(...lists.keys());
  for (const i of [...order, ...order]) {
    pick = i;
    const response = await handler("http://x/");
    assert.deepEqual(
      [...response.headers],
      [...new Headers(lists[i])],
      `list ${i}`,
    );
    assert.deepEqual(
      response.headers.getSetCookie(),
      i === 3 ? ["a=1", "b=2"] : [],
    );
    // What a middleware does to one Response must not reach the next.
    response.headers.set("x-a", "changed");
    response.headers.append("x-extra", "1");
    await response.body?.cancel();
  }
});
