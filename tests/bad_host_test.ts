// Regression: Deno builds Request.url from the Host header as sent, so
// `Host: a b@c\d` reached the app as SERVER_NAME "a b@c\d"; Bun hands over
// a relative Request.url ("/environ") when the Host is invalid, which the
// gateway split into PATH_INFO "/". The gateway now answers 400 when the
// URL is not absolute or its authority holds characters no host has.
import assert from "node:assert/strict";
import { toFetchHandler } from "../mod.ts";

async function rawRequest(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  const chunks: Uint8Array[] = [];
  for await (const chunk of conn.readable) chunks.push(chunk);
  return new TextDecoder().decode(
    chunks.reduce((a, c) => new Uint8Array([...a, ...c]), new Uint8Array()),
  );
}

Deno.test("a Host with spaces, @ or \\ is a 400 and never reaches the app", async () => {
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler((environ, startResponse) => {
      seen.push(environ.SERVER_NAME);
      startResponse("200 OK", []);
      return [];
    }, { errors: () => {} }),
  );
  try {
    for (const host of ["a b", "user@evil", "a\\b", "x<y>"]) {
      const response = await rawRequest(
        server.addr.port,
        `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(response, /^HTTP\/1\.1 400 /, host);
    }
    const ok = await rawRequest(
      server.addr.port,
      "GET / HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n",
    );
    assert.match(ok, /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen, ["example.com"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("hosts that are valid authorities pass", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    startResponse("200 OK", []);
    return [new TextEncoder().encode(environ.SERVER_NAME)];
  });
  for (const url of ["http://[::1]:8000/", "https://xn--bcher-kva.example/"]) {
    const response = await handler(new Request(url));
    assert.equal(response.status, 200, url);
  }
});

Deno.test("a relative Request.url (Bun, after a bad Host) is a 400", async () => {
  let called = false;
  const handler = toFetchHandler((_environ, startResponse) => {
    called = true;
    startResponse("200 OK", []);
    return [];
  });
  // What Bun.serve passes for `GET /environ` with `Host: a b@c`.
  const request = {
    url: "/environ",
    method: "GET",
    headers: new Headers({ host: "a b@c" }),
    body: null,
  } as unknown as Request;
  const response = await handler(request);
  assert.equal(response.status, 400);
  assert.equal(called, false);
});
