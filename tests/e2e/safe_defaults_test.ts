// Safe defaults, one test each: loopback unless told otherwise, no error
// details to clients unless `debug`, no header injection, forwarded headers
// never trusted for REMOTE_ADDR, limits documented.
import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import type { App } from "../../mod.ts";
import { serve } from "../../src/serve/serve.ts";
import { sendRaw } from "../../scripts/reliability/hostile_cases.ts";

const SECRET = "db-password=hunter2";

const crash: App = () => {
  throw new Error(`Cannot connect with ${SECRET}`);
};

const quiet = { accessLog: false, onListen: () => {}, errors: () => {} };

Deno.test("serve() binds loopback unless told otherwise", async () => {
  const server = await serve(crash, { port: 0, ...quiet });
  try {
    assert.equal(server.hostname, "127.0.0.1");
    // Not reachable on this machine's other addresses.
    const external = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    );
    if (external !== undefined) {
      await assert.rejects(
        Deno.connect({ hostname: external.address, port: server.port }),
        Deno.errors.ConnectionRefused,
      );
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("no error message or stack trace reaches the client", async () => {
  const server = await serve(crash, { port: 0, ...quiet });
  try {
    const result = await sendRaw(
      server.port,
      "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert.equal(result.status, 500);
    const body = result.text.slice(result.text.indexOf("\r\n\r\n") + 4);
    assert.equal(body, "500 Internal Server Error\n");
    assert.doesNotMatch(result.text, /hunter2|Error:|\bat /);
  } finally {
    await server.shutdown();
  }
});

Deno.test("error details are shown only with debug: true", async () => {
  const logs: string[] = [];
  const quietHandler = toFetchHandler(crash, { errors: (t) => logs.push(t) });
  const text = await (await quietHandler(new Request("http://x/"))).text();
  assert.equal(text, "500 Internal Server Error\n");
  assert.match(logs.join(""), /hunter2/, "the operator still sees it");

  const debugHandler = toFetchHandler(crash, { debug: true, errors: () => {} });
  const shown = await (await debugHandler(new Request("http://x/"))).text();
  assert.match(shown, /hunter2/);
  assert.match(shown, /\bat /);
});

Deno.test("an error after the response started never reaches the wire", async () => {
  const server = await serve((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield new TextEncoder().encode("partial ");
      throw new Error(SECRET);
    })();
  }, { port: 0, ...quiet });
  try {
    const result = await sendRaw(
      server.port,
      "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    // Either the headers and "partial " went out before the error, or the
    // runtime dropped the connection at once (Deno when both land in one
    // tick): never the error itself.
    assert.ok(result.status === 200 || result.status === 0, result.text);
    assert.doesNotMatch(result.text, /hunter2|Error/);
    // Chunked framing never completes: the client can tell it was cut.
    assert.doesNotMatch(result.text, /\r\n0\r\n\r\n$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("header injection is impossible: CR/LF from the app is a 500", async () => {
  const attempts: [string, [string, string][]][] = [
    ["200 OK", [["X-A", "1\r\nSet-Cookie: evil=1"]]],
    ["200 OK", [["X-A", "1\nSet-Cookie: evil=1"]]],
    ["200 OK", [["X-A", "1\rSet-Cookie: evil=1"]]],
    ["200 OK", [["X-A\r\nSet-Cookie: evil", "1"]]],
    ["200 OK\r\nSet-Cookie: evil=1", []],
    ["302 Found", [["Location", "/next\r\n\r\n<script>evil()</script>"]]],
  ];
  let call = 0;
  const server = await serve((_environ, startResponse) => {
    const [status, headers] = attempts[call++];
    startResponse(status, headers);
    return [new TextEncoder().encode("body")];
  }, { port: 0, ...quiet });
  try {
    for (const [status, headers] of attempts) {
      const result = await sendRaw(
        server.port,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      );
      const what = JSON.stringify([status, headers]);
      assert.equal(result.status, 500, what);
      assert.doesNotMatch(result.text, /evil/i, what);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("REMOTE_ADDR never comes from forwarded headers by default", async () => {
  let seen: unknown;
  const handler = toFetchHandler((environ, startResponse) => {
    seen = environ.REMOTE_ADDR;
    startResponse("204 No Content", []);
    return [];
  });
  const spoofed = () =>
    new Request("http://x/", {
      headers: {
        "X-Forwarded-For": "6.6.6.6",
        "CF-Connecting-IP": "6.6.6.7",
        "X-Real-IP": "6.6.6.8",
        "Forwarded": "for=6.6.6.9",
      },
    });
  // Deno's handler info: the socket's peer, whatever the headers say.
  await handler(spoofed(), { remoteAddr: { hostname: "10.0.0.1", port: 5 } });
  assert.equal(seen, "10.0.0.1");
  // No runtime information (Node's http without serve(), a test): none.
  await handler(spoofed());
  assert.equal(seen, undefined);
  // CF-Connecting-IP counts only on Workers (fetch(request, env, ctx)),
  // where the platform sets it and strips any client copy.
  await handler(spoofed(), {}, { waitUntil() {} });
  assert.equal(seen, "6.6.6.7");
});

Deno.test("trusting a proxy is an explicit option", async () => {
  let seen: unknown;
  const handler = toFetchHandler((environ, startResponse) => {
    seen = environ.REMOTE_ADDR;
    startResponse("204 No Content", []);
    return [];
  }, {
    // What a deployment behind one trusted proxy writes.
    remoteAddress: (request) => {
      const last = request.headers.get("x-forwarded-for")?.split(",").at(-1);
      return last === undefined ? undefined : { address: last.trim() };
    },
  });
  await handler(
    new Request("http://x/", {
      headers: { "X-Forwarded-For": "1.1.1.1, 2.2.2.2" },
    }),
  );
  assert.equal(seen, "2.2.2.2");
});

Deno.test("limits are documented: maxBodySize and its default", async () => {
  const source = await Deno.readTextFile(
    new URL("../../src/types.ts", import.meta.url),
  );
  // The JSDoc block right before the option, as `deno doc` shows it.
  const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*maxBodySize\?:/.exec(source)
    ?.[1];
  assert.ok(doc !== undefined, "maxBodySize has a doc comment");
  assert.match(doc, /413/, "says what happens past it");
  assert.match(doc, /@default/, "states its default");
});
