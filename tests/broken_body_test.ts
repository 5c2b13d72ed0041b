// Regression: a request body that breaks off (Content-Length larger than
// what the client sent, bad chunked framing, a hang-up mid-upload) made
// wsgi.input throw the runtime's error, which the gateway answered as the
// app's fault: a 500 and a stack trace in the log. It is the client's
// fault: 400, one log line.
import assert from "node:assert/strict";
import { harness } from "./_helpers.ts";

function brokenRequest(): Request {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new Uint8Array([97, 98, 99]));
      } else {
        controller.error(new TypeError("connection reset"));
      }
    },
  });
  return new Request("http://localhost/upload", {
    method: "POST",
    body,
    headers: { "content-length": "100" },
    duplex: "half",
  } as RequestInit);
}

Deno.test("a body that breaks off mid-read is a 400, not a 500", async () => {
  let closed = 0;
  const { handler, logs } = harness(async (environ, startResponse) => {
    await environ["wsgi.input"].read();
    startResponse("200 OK", []);
    return Object.assign([], { close: () => void closed++ });
  });
  const response = await handler(brokenRequest());
  assert.equal(response.status, 400);
  assert.equal(await response.text(), "400 Bad Request\n");
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^tsgi: bad request: Cannot read the request body/);
  assert.doesNotMatch(logs[0], /\n\s+at /, "no stack trace for a client error");
  assert.equal(closed, 0, "the app never returned, so nothing to close");
});

Deno.test("an app that catches the broken body keeps control", async () => {
  const { handler } = harness(async (environ, startResponse) => {
    let message = "";
    try {
      await environ["wsgi.input"].read();
    } catch (error) {
      message = (error as Error).message;
    }
    startResponse("422 Unprocessable", []);
    return [new TextEncoder().encode(message.slice(0, 30))];
  });
  const response = await handler(brokenRequest());
  assert.equal(response.status, 422);
  assert.equal(await response.text(), "Cannot read the request body: ");
});
