import assert from "node:assert/strict";
import type { App, Header } from "../mod.ts";
import { b, harness } from "./_helpers.ts";

/** Calls start_response with the given arguments; reports what it threw. */
async function tryStart(
  status: unknown,
  headers: unknown,
): Promise<{ error: unknown; status: number; body: string; logs: string[] }> {
  let error: unknown;
  const app: App = (_environ, startResponse) => {
    try {
      startResponse(status as string, headers as Header[]);
    } catch (e) {
      error = e;
      throw e;
    }
    return [b("ok")];
  };
  const { handler, logs } = harness(app);
  const response = await handler("http://x/");
  return { error, status: response.status, body: await response.text(), logs };
}

Deno.test("start_response: accepts a valid status and header list", async () => {
  const result = await tryStart("201 Created", [
    ["Content-Type", "text/plain"],
    [
      "X-Empty",
      "",
    ],
    ["X-Tab", "a\tb"],
    ["X-Latin", "caf\u00e9"],
  ]);
  assert.equal(result.error, undefined);
  assert.equal(result.status, 201);
  assert.equal(result.body, "ok");
});

Deno.test("start_response: a malformed status is a TypeError naming it, then a 500", async () => {
  for (
    const status of [
      "200OK",
      "2000 OK",
      "20 OK",
      "abc OK",
      " 200 OK",
      "200  OK",
      "200 OK ",
      "200 OK\t",
      "200 OK\r\n",
      "200 O\nK",
      "200 caf\u0100",
      "200\tOK",
      "",
      200,
      undefined,
    ]
  ) {
    const result = await tryStart(status, []);
    assert.ok(result.error instanceof TypeError, String(status));
    assert.match((result.error as Error).message, /^Cannot use status /);
    assert.equal(result.status, 500);
    assert.equal(result.body, "500 Internal Server Error\n");
    assert.match(result.logs.join(""), /Cannot use status/);
  }
});

Deno.test("start_response: a status outside 200-599 is a RangeError", async () => {
  for (
    const status of ["100 Continue", "103 Early Hints", "600 Nope", "999 X"]
  ) {
    const result = await tryStart(status, []);
    assert.ok(result.error instanceof RangeError, status);
    assert.equal(result.status, 500);
  }
});

Deno.test("start_response: an empty reason phrase is allowed", async () => {
  const result = await tryStart("200 ", []);
  assert.equal(result.error, undefined);
  assert.equal(result.status, 200);
});

Deno.test("start_response: bad header lists are TypeErrors naming the value", async () => {
  const cases: [unknown, RegExp][] = [
    [{ "Content-Type": "text/plain" }, /expected an array/],
    [[["Content-Type"]], /expected \[name, value\]/],
    [["Content-Type: text/plain"], /expected \[name, value\]/],
    [[["Bad Name", "x"]], /header name "Bad Name"/],
    [[["X-Colon:", "x"]], /header name "X-Colon:"/],
    [[["", "x"]], /header name ""/],
    [[["X-Caf\u00e9", "x"]], /expected an HTTP token/],
    [[["X-A", "a\r\nSet-Cookie: evil=1"]], /control characters/],
    [[["X-A", "a\nb"]], /control characters/],
    [[["X-A", "a\u0000b"]], /control characters/],
    [[["X-A", "a\u007fb"]], /control characters/],
    [[["X-A", "\u0100"]], /above U\+00FF/],
    [[["X-A", 1]], /expected a string/],
    [[["Content-Length", "abc"]], /Content-Length "abc"/],
    [[["Content-Length", "-1"]], /Content-Length "-1"/],
    [[["Content-Length", "3"], ["Content-Length", "4"]], /another says 3/],
  ];
  for (const [headers, message] of cases) {
    const result = await tryStart("200 OK", headers);
    assert.ok(result.error instanceof TypeError, JSON.stringify(headers));
    assert.match((result.error as Error).message, message);
    assert.equal(result.status, 500);
    assert.ok(!result.body.includes("evil"));
  }
});

Deno.test("start_response: hop-by-hop headers are refused", async () => {
  for (
    const name of [
      "Connection",
      "Keep-Alive",
      "Transfer-Encoding",
      "Upgrade",
      "TE",
      "Trailer",
      "Proxy-Authenticate",
      "proxy-authorization",
    ]
  ) {
    const result = await tryStart("200 OK", [[name, "x"]]);
    assert.ok(result.error instanceof TypeError, name);
    assert.match((result.error as Error).message, /hop-by-hop/);
    assert.equal(result.status, 500);
  }
});

Deno.test("start_response: it returns write", async () => {
  let write: unknown;
  const { handler } = harness((_environ, startResponse) => {
    write = startResponse("200 OK", []);
    return [];
  });
  await (await handler("http://x/")).body?.cancel();
  assert.equal(typeof write, "function");
});

Deno.test("start_response: a second call without exc_info throws", async () => {
  let second: unknown;
  const { handler, logs } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    try {
      startResponse("404 Not Found", []);
    } catch (error) {
      second = error;
    }
    return [b("body")];
  });
  const response = await handler("http://x/");
  assert.ok(second instanceof Error);
  assert.match((second as Error).message, /second time without exc_info/);
  // The first status stands.
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "body");
  assert.equal(logs.length, 0);
});

Deno.test("start_response: after a call that threw, only exc_info may call again", async () => {
  let second: unknown;
  const { handler } = harness((_environ, startResponse) => {
    try {
      startResponse("200 OK", [["X-Bad", "a\nb"]]);
    } catch {
      try {
        startResponse("200 OK", []);
      } catch (error) {
        second = error;
      }
    }
    return [b("x")];
  });
  const response = await handler("http://x/");
  assert.match((second as Error).message, /second time/);
  assert.equal(response.status, 500);
  await response.body?.cancel();
});

Deno.test("start_response: exc_info before anything is sent replaces status and headers", async () => {
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["X-First", "1"]]);
    try {
      throw new Error("boom");
    } catch (error) {
      startResponse("503 Service Unavailable", [["X-Second", "2"]], error);
    }
    return [b("sorry")];
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("x-first"), null);
  assert.equal(response.headers.get("x-second"), "2");
  assert.equal(await response.text(), "sorry");
});

Deno.test("start_response: exc_info fixes headers that failed the check", async () => {
  const { handler } = harness((_environ, startResponse) => {
    try {
      startResponse("200 OK", [["Connection", "close"]]);
    } catch (error) {
      startResponse("500 Oops", [["Content-Type", "text/plain"]], error);
    }
    return [b("fixed")];
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 500);
  assert.equal(response.statusText, "Oops");
  assert.equal(await response.text(), "fixed");
});

Deno.test("start_response: exc_info after the body started rethrows it", async () => {
  const boom = new Error("late failure");
  let rethrown: unknown;
  const { handler, logs } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    return (function* () {
      yield b("partial");
      try {
        startResponse("500 Oops", [], boom);
      } catch (error) {
        rethrown = error;
        throw error;
      }
    })();
  });
  const response = await handler("http://x/");
  assert.equal(response.status, 200);
  await assert.rejects(response.text());
  assert.equal(rethrown, boom);
  assert.match(logs.join(""), /late failure/);
});

Deno.test("start_response: repeated Set-Cookie headers all reach the client", async () => {
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", [
      ["Set-Cookie", "a=1; Path=/"],
      ["Set-Cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
      ["X-Multi", "x"],
      ["X-Multi", "y"],
    ]);
    return [];
  });
  const response = await handler("http://x/");
  assert.deepEqual(response.headers.getSetCookie(), [
    "a=1; Path=/",
    "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
  ]);
  assert.equal(response.headers.get("x-multi"), "x, y");
});

Deno.test("start_response: a null exc_info counts as none", async () => {
  let second: unknown;
  const { handler } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    try {
      startResponse("500 Oops", [], null);
    } catch (error) {
      second = error;
    }
    return [];
  });
  const response = await handler("http://x/");
  assert.match(String(second), /second time without exc_info/);
  assert.equal(response.status, 200);
});
